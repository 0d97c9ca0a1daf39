CREATE TABLE {{tables.notes}} (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES {{tables.users}} (id),
    body TEXT NOT NULL
);
