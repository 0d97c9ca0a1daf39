-- Users of the fixture module.
CREATE TABLE {{tables.users}} (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    note TEXT DEFAULT 'semi;colon'
);
