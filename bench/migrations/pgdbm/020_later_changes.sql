-- What a living schema accumulates: columns, constraints and indexes added later.
ALTER TABLE {{tables.users}} ADD COLUMN last_login_at TIMESTAMPTZ;
ALTER TABLE {{tables.users}} ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
ALTER TABLE {{tables.orders}} ADD COLUMN invoice_id BIGINT REFERENCES {{tables.invoices}} (id);
ALTER TABLE {{tables.orders}} ADD CONSTRAINT orders_status_check
    CHECK (status IN ('new', 'paid', 'shipped', 'cancelled'));
ALTER TABLE {{tables.products}} ADD COLUMN discontinued BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX users_last_login_idx ON {{tables.users}} (last_login_at);
CREATE INDEX orders_invoice_idx ON {{tables.orders}} (invoice_id);
CREATE INDEX products_active_idx ON {{tables.products}} (organization_id) WHERE NOT discontinued;
