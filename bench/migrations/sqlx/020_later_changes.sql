-- What a living schema accumulates: columns, constraints and indexes added later.
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
ALTER TABLE orders ADD COLUMN invoice_id BIGINT REFERENCES invoices (id);
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('new', 'paid', 'shipped', 'cancelled'));
ALTER TABLE products ADD COLUMN discontinued BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX users_last_login_idx ON users (last_login_at);
CREATE INDEX orders_invoice_idx ON orders (invoice_id);
CREATE INDEX products_active_idx ON products (organization_id) WHERE NOT discontinued;
