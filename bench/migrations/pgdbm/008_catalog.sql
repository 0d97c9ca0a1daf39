CREATE TABLE {{tables.categories}} (
    id SERIAL PRIMARY KEY,
    parent_id INTEGER REFERENCES {{tables.categories}} (id) ON DELETE CASCADE,
    name TEXT NOT NULL
);

CREATE TABLE {{tables.products}} (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES {{tables.organizations}} (id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    UNIQUE (organization_id, sku)
);

CREATE TABLE {{tables.product_categories}} (
    product_id BIGINT NOT NULL REFERENCES {{tables.products}} (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES {{tables.categories}} (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);

CREATE INDEX categories_parent_idx ON {{tables.categories}} (parent_id);
CREATE INDEX product_categories_category_idx ON {{tables.product_categories}} (category_id);
