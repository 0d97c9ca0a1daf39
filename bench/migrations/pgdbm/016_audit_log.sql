CREATE TABLE {{tables.audit_log}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    actor_id BIGINT REFERENCES {{tables.users}} (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target TEXT,
    details JSONB NOT NULL DEFAULT '{}',
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_organization_at_idx ON {{tables.audit_log}} (organization_id, at DESC);
CREATE INDEX audit_log_actor_idx ON {{tables.audit_log}} (actor_id);
CREATE INDEX audit_log_details_idx ON {{tables.audit_log}} USING gin (details);
