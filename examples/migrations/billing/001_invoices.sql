CREATE TABLE {{tables.invoices}} (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    cents bigint NOT NULL CHECK (cents >= 0)
);
