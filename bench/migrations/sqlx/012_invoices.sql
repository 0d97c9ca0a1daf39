CREATE TABLE invoices (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    number TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    due_at TIMESTAMPTZ
);

CREATE TABLE invoice_lines (
    invoice_id BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    description TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);

CREATE INDEX invoices_order_idx ON invoices (order_id);
