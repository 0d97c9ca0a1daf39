CREATE TABLE {{tables.users}} (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE
);
