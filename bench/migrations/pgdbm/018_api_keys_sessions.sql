CREATE TABLE {{tables.api_keys}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    created_by BIGINT REFERENCES {{tables.users}} (id) ON DELETE SET NULL,
    prefix TEXT NOT NULL UNIQUE,
    hash BYTEA NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE {{tables.sessions}} (
    id UUID PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES {{tables.users}} (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX api_keys_organization_idx ON {{tables.api_keys}} (organization_id);
CREATE INDEX sessions_user_idx ON {{tables.sessions}} (user_id);
CREATE INDEX sessions_expires_idx ON {{tables.sessions}} (expires_at);
