-- Two tables that reference each other: rows in such a cycle cannot be
-- deleted one table at a time, so emptying a reused schema truncates them.
CREATE TABLE {{tables.a}} (id INT PRIMARY KEY, b_id INT);
CREATE TABLE {{tables.b}} (id INT PRIMARY KEY, a_id INT NOT NULL REFERENCES {{tables.a}} (id));
ALTER TABLE {{tables.a}} ADD FOREIGN KEY (b_id) REFERENCES {{tables.b}} (id);
