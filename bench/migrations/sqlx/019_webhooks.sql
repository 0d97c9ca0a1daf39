CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true
);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    status_code INTEGER,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_organization_idx ON webhooks (organization_id) WHERE active;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, attempted_at DESC);
