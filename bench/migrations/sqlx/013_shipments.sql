CREATE TABLE shipments (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (id),
    carrier TEXT,
    tracking_no TEXT,
    shipped_at TIMESTAMPTZ
);

CREATE INDEX shipments_order_idx ON shipments (order_id);
CREATE INDEX shipments_warehouse_idx ON shipments (warehouse_id);
CREATE UNIQUE INDEX shipments_tracking_idx ON shipments (carrier, tracking_no) WHERE tracking_no IS NOT NULL;
