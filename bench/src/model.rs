//! The tables the workloads run on, as Rust types and as SQL.

/// A row of `users` (W1, W2): five columns. One struct serves pgdbm's
/// derive and sqlx's, so both decode into exactly the same type.
#[derive(pgdbm::Table, sqlx::FromRow, Debug, Clone, PartialEq)]
#[pgdbm(table = "users")]
pub struct User {
    /// Primary key, filled by the database.
    #[pgdbm(primary_key, generated)]
    pub id: i64,
    /// `user{n}@example.com`.
    pub email: String,
    /// `User {n}`.
    pub name: String,
    /// `n % 90`.
    pub age: i32,
    /// `n % 3 <> 0`.
    pub active: bool,
}

impl User {
    /// Decodes a tokio-postgres row of `id, email, name, age, active` by
    /// position, as a hand-written raw client would.
    pub fn from_raw(row: &tokio_postgres::Row) -> User {
        User {
            id: row.get(0),
            email: row.get(1),
            name: row.get(2),
            age: row.get(3),
            active: row.get(4),
        }
    }

    /// The same from a pgdbm [`Row`](pgdbm::Row), by position.
    pub fn from_pgdbm(row: &pgdbm::Row) -> User {
        User {
            id: row.get(0),
            email: row.get(1),
            name: row.get(2),
            age: row.get(3),
            active: row.get(4),
        }
    }

    /// The same from a pgdbm [`Row`](pgdbm::Row), by column name.
    pub fn from_pgdbm_by_name(row: &pgdbm::Row) -> User {
        User {
            id: row.get("id"),
            email: row.get("email"),
            name: row.get("name"),
            age: row.get("age"),
            active: row.get("active"),
        }
    }
}

/// A row of `orders` (W4).
#[derive(pgdbm::Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "orders")]
pub struct Order {
    /// Primary key, filled by the database.
    #[pgdbm(primary_key, generated)]
    pub id: i64,
    /// A user id.
    pub user_id: i64,
    /// An amount.
    pub total: i64,
    /// `new`, then `paid`.
    pub status: String,
}

/// What W4's typed INSERT reads back.
#[derive(pgdbm::FromRow, Debug, Clone, Copy, PartialEq)]
pub struct OrderId {
    /// The generated key.
    pub id: i64,
}

/// A row of `items` (W3): five columns of five types.
#[derive(pgdbm::Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "items")]
pub struct Item {
    /// Primary key, filled by the database.
    #[pgdbm(primary_key, generated)]
    pub id: i64,
    /// bigint.
    pub a: i64,
    /// integer.
    pub b: i32,
    /// text.
    pub c: String,
    /// double precision.
    pub d: f64,
    /// boolean.
    pub e: bool,
}

/// `n` rows for W3, the same every run.
pub fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| Item {
            id: 0,
            a: i as i64,
            b: (i % 1000) as i32,
            c: format!("item-{i:08}"),
            d: i as f64 * 0.5,
            e: i % 2 == 0,
        })
        .collect()
}

/// Rows in `users`.
pub const USERS: i64 = 10_000;

/// Schema, tables and data, as pgdbm templates.
pub const SCHEMA_SQL: &[&str] = &[
    "CREATE TABLE {{tables.users}} (id bigserial PRIMARY KEY, email text NOT NULL, \
     name text NOT NULL, age int4 NOT NULL, active bool NOT NULL)",
    "INSERT INTO {{tables.users}} (email, name, age, active) \
     SELECT 'user' || g || '@example.com', 'User ' || g, g % 90, g % 3 <> 0 \
     FROM generate_series(1, 10000) AS g",
    "CREATE TABLE {{tables.orders}} (id bigserial PRIMARY KEY, user_id int8 NOT NULL, \
     total int8 NOT NULL, status text NOT NULL)",
    "CREATE TABLE {{tables.items}} (id bigserial PRIMARY KEY, a int8 NOT NULL, b int4 NOT NULL, \
     c text NOT NULL, d float8 NOT NULL, e bool NOT NULL)",
    "ANALYZE {{tables.users}}",
];

/// W1's statement.
pub const W1_SQL: &str = "SELECT id, email, name, age, active FROM {{tables.users}} WHERE id = $1";
/// W2's statement (`$2` = 1,000).
pub const W2_SQL: &str =
    "SELECT id, email, name, age, active FROM {{tables.users}} WHERE id > $1 ORDER BY id LIMIT $2";
/// W2's row count.
pub const W2_ROWS: i64 = 1000;
/// W3's per-row INSERT.
pub const ITEM_INSERT_SQL: &str =
    "INSERT INTO {{tables.items}} (a, b, c, d, e) VALUES ($1, $2, $3, $4, $5)";
/// W3b's COPY.
pub const ITEM_COPY_SQL: &str = "COPY {{tables.items}} (a, b, c, d, e) FROM STDIN (FORMAT binary)";
/// W4's INSERT.
pub const ORDER_INSERT_SQL: &str =
    "INSERT INTO {{tables.orders}} (user_id, total, status) VALUES ($1, $2, $3) RETURNING id";
/// W4's UPDATE.
pub const ORDER_UPDATE_SQL: &str = "UPDATE {{tables.orders}} SET status = $1 WHERE id = $2";
/// W5's statement.
pub const W5_SQL: &str = "SELECT 1";

/// Columns per W3 row.
pub const ITEM_COLUMNS: usize = 5;
/// Rows per sqlx multi-row INSERT: as many as fit under PostgreSQL's 65,535
/// parameters, as pgdbm's `insert_many` chunks.
pub const ROWS_PER_STATEMENT: usize = 65_535 / ITEM_COLUMNS;
/// Rows per raw multi-row INSERT in W3a-multi, as pgdbm's `execute_many`.
pub const RAW_ROWS_PER_INSERT: usize = 100;
/// Raw multi-row INSERTs in flight in W3a-multi, as pgdbm's `execute_many`.
pub const RAW_INSERTS_IN_FLIGHT: usize = 8;

/// `INSERT INTO <table> (a, b, c, d, e) VALUES ($1, ..), ..` for `rows` rows.
pub fn multi_row_insert(table: &str, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} (a, b, c, d, e) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let p = r * ITEM_COLUMNS;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5
        ));
    }
    sql
}
