CREATE TABLE {{tables.invoices}} (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES {{tables.orders}} (id),
    number TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    due_at TIMESTAMPTZ
);

CREATE TABLE {{tables.invoice_lines}} (
    invoice_id BIGINT NOT NULL REFERENCES {{tables.invoices}} (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    description TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);

CREATE INDEX invoices_order_idx ON {{tables.invoices}} (order_id);
