-- A set whose migration inserts rows of its own: emptying a test's schema
-- would lose them, so the harness never reuses this set's schemas.
CREATE TABLE {{tables.colours}} (name TEXT PRIMARY KEY);
INSERT INTO {{tables.colours}} (name) VALUES ('red'), ('green');
