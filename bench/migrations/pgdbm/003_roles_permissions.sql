CREATE TABLE {{tables.roles}} (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE {{tables.permissions}} (
    id SERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    description TEXT
);

CREATE TABLE {{tables.role_permissions}} (
    role_id INTEGER NOT NULL REFERENCES {{tables.roles}} (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES {{tables.permissions}} (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE INDEX role_permissions_permission_idx ON {{tables.role_permissions}} (permission_id);
