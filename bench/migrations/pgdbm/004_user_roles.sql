CREATE TABLE {{tables.user_roles}} (
    user_id BIGINT NOT NULL REFERENCES {{tables.users}} (id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES {{tables.roles}} (id),
    granted_by BIGINT REFERENCES {{tables.users}} (id) ON DELETE SET NULL,
    granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);

CREATE INDEX user_roles_role_idx ON {{tables.user_roles}} (role_id);
