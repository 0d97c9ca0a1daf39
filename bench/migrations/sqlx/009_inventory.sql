CREATE TABLE warehouses (
    id SERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    UNIQUE (organization_id, code)
);

CREATE TABLE inventory (
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_id, product_id)
);

CREATE INDEX inventory_product_idx ON inventory (product_id);
