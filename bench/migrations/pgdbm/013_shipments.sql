CREATE TABLE {{tables.shipments}} (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES {{tables.orders}} (id),
    warehouse_id INTEGER NOT NULL REFERENCES {{tables.warehouses}} (id),
    carrier TEXT,
    tracking_no TEXT,
    shipped_at TIMESTAMPTZ
);

CREATE INDEX shipments_order_idx ON {{tables.shipments}} (order_id);
CREATE INDEX shipments_warehouse_idx ON {{tables.shipments}} (warehouse_id);
CREATE UNIQUE INDEX shipments_tracking_idx ON {{tables.shipments}} (carrier, tracking_no) WHERE tracking_no IS NOT NULL;
