CREATE TABLE {{tables.webhooks}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true
);

CREATE TABLE {{tables.webhook_deliveries}} (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES {{tables.webhooks}} (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    status_code INTEGER,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_organization_idx ON {{tables.webhooks}} (organization_id) WHERE active;
CREATE INDEX webhook_deliveries_webhook_idx ON {{tables.webhook_deliveries}} (webhook_id, attempted_at DESC);
