//! PostgreSQL for Rust services: one shared pool, a schema per module or
//! tenant, a typed query builder and raw SQL with `{{tables.name}}`
//! templates, transactions, COPY and test databases.
//!
//! pgdbm is the Rust counterpart of the Python library of the same name. A
//! [`Database`] manager owns a pool or borrows a [`SharedPool`], and puts its
//! schema into every table reference of the statements it runs.
//!
//! # Typed tables and queries
//!
//! `#[derive(Table)]` gives a struct its table's metadata, one typed column
//! constant per field and the row mapping; the builders start from a
//! `Database`, a [`Conn`] or a [`Transaction`]:
//!
//! ```no_run
//! use pgdbm::{Database, DatabaseConfig, Table};
//!
//! #[derive(Table, Debug, Clone, PartialEq)]
//! #[pgdbm(table = "users")]
//! struct User {
//!     #[pgdbm(primary_key, generated)] // filled by the database, skipped on insert
//!     id: i64,
//!     email: String,
//!     name: Option<String>,
//!     is_active: bool,
//! }
//!
//! # async fn f() -> pgdbm::Result<()> {
//! let config = DatabaseConfig::from_url("postgres://localhost/app")?.with_schema("accounts");
//! let db = Database::connect(config).await?;
//!
//! let alice = db
//!     .insert(&User { id: 0, email: "a@x.io".into(), name: None, is_active: true })
//!     .returning::<User>()
//!     .one()
//!     .await?;
//! let active: Vec<User> = db
//!     .select::<User>()
//!     .filter(User::IS_ACTIVE.eq(true).and(User::EMAIL.like("%@x.io")))
//!     .order_by(User::ID.desc())
//!     .limit(50)
//!     .all()
//!     .await?;
//! db.update::<User>().set(User::NAME, Some("Alice".to_owned())).filter(User::ID.eq(alice.id)).await?;
//! let found: Option<User> = db.find::<User>(&alice.id).await?;
//! # Ok(()) }
//! ```
//!
//! Column constants are typed: `User::EMAIL.eq(5)` does not compile, and the
//! compiler says the column holds `String` (see [`ColumnValue`]).
//!
//! # Raw SQL with templates
//!
//! ```no_run
//! # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
//! db.execute(
//!     "CREATE TABLE IF NOT EXISTS {{tables.users}} (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE)",
//!     &[],
//! ).await?;
//! let id: i64 = db
//!     .execute_returning_id("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@x.io"])
//!     .await?;
//! let email: String = db
//!     .fetch_value("SELECT email FROM {{tables.users}} WHERE id = $1", &[&id])
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Templates: `{{tables.users}}` becomes `"accounts"."users"` and
//! `{{schema}}` becomes `"accounts"`. Unlike the Python library, the table is
//! quoted too; an unquoted name folds to lower case as PostgreSQL would fold
//! it, and `{{tables."MixedCase"}}` keeps its case.
//!
//! Every error is a [`pgdbm::Error`](Error): server errors are classified by
//! SQLSTATE (unique violation, foreign key, ...) and carry the failing SQL.
//!
//! # Cargo features
//!
//! All off by default. Without a feature, columns of `bool`, the integers,
//! `f32`/`f64`, `String`, `Vec<u8>`, json ([`Json`], `serde_json::Value`,
//! `#[pgdbm(json)]` fields), arrays of these and `Option` of any of them
//! work; so does any type implementing tokio-postgres' [`ToSql`] and
//! `FromSql`.
//!
//! | Feature | Adds |
//! |---|---|
//! | `chrono` | chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime` and `DateTime<Tz>` columns |
//! | `time` | time's `Date`, `Time`, `PrimitiveDateTime` and `OffsetDateTime` columns |
//! | `uuid` | `uuid::Uuid` columns |
//! | `decimal` | `rust_decimal::Decimal` for `numeric` columns |
//! | `testing` | `pgdbm::testing`: throwaway clusters (`initdb`/`pg_ctl`) and test databases, for tests only |
//!
//! A field of one of these types without its feature is a compile error
//! that names the feature to enable. The minimum supported Rust version is
//! 1.88.

#![warn(missing_docs)]
// With the MSRV at 1.88, clippy suggests let chains for nested `if let`s.
// Ten sites (call.rs, database.rs, copy/, lex.rs, testing/) predate that;
// they are rewritten with the modules' next changes, then this goes.
#![allow(clippy::collapsible_if)]

mod call;
mod config;
mod conn;
mod connection;
mod copy;
mod database;
mod ddl;
mod enums;
mod error;
mod executor;
mod fasthash;
mod generic;
mod ident;
mod inspect;
mod lex;
mod listen;
mod metrics;
mod migrate;
mod mux;
mod params;
mod pool;
mod prepared;
mod query;
mod row;
mod row_de;
mod statement_cache;
mod table;
mod template;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod transaction;

pub use config::{DatabaseConfig, SslMode};
pub use conn::Conn;
pub use copy::{CopyOutStream, CopyRecord};
pub use database::Database;
pub use ddl::create_table_sql;
pub use enums::Enum;
pub use error::{
    ConfigError, ConnectError, DatabaseError, DriverError, Error, IdentifierError, Result,
    RowMappingError, SessionStateError, TemplateError, TimeoutError, TlsError, TlsFailure,
    UnqualifiedTableError,
};
pub use executor::{Params, RowStream};
pub use generic::Executor;
#[doc(hidden)]
pub use generic::Handle;
pub use inspect::{Activity, TableInfo};
pub use listen::{Listener, Notification};
pub use metrics::{HealthReport, Metrics};
pub use migrate::{
    AppliedMigration, ChecksumError, Migration, MigrationError, MigrationLockError,
    MigrationRecord, MigrationSourceError, MigrationStatus, Migrator,
};
/// Derives [`Enum`](trait@Enum), `ToSql` and `FromSql` for a fieldless enum; see the trait.
pub use pgdbm_derive::Enum;
/// Derives [`FromRow`](trait@FromRow) for a struct with named fields.
pub use pgdbm_derive::FromRow;
/// Derives [`Table`](trait@Table) (and [`FromRow`](trait@FromRow)) for a struct with named fields.
pub use pgdbm_derive::Table;
/// Compiles a directory's migration files into the program: a
/// `Result<`[`Migrator`]`>`, as [`Migrator::from_dir`] would read them.
///
/// Paths are relative to the crate's `Cargo.toml`. Each file is included
/// with `include_str!`, so cargo rebuilds when one changes or is removed;
/// for an *added* file to be noticed, a build script needs
/// `println!("cargo:rerun-if-changed=migrations");` (stable Rust lets no
/// macro watch a directory).
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let migrator = pgdbm::embed_migrations!("../tests/migrations/python")?;
/// db.migrate(&migrator).await?;
/// # Ok(()) }
/// ```
pub use pgdbm_derive::embed_migrations;
/// Runs an `async fn(db: Database)` as a test in a fresh, migrated schema
/// (or database) of the test server (needs the `testing` feature, in the
/// `[dev-dependencies]` entry of pgdbm): see `pgdbm::testing` for the
/// isolation and the options.
///
/// ```no_run
/// #[pgdbm::test(migrations = "../tests/migrations/python")]
/// async fn starts_empty(db: pgdbm::Database) {
///     let n: i64 = db.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await.unwrap();
///     assert_eq!(n, 0);
/// }
/// ```
#[cfg(feature = "testing")]
pub use pgdbm_derive::test;
pub use pool::{PoolStats, PoolStatus, SharedPool};
pub use prepared::Prepared;
pub use query::{
    BelongsTo, ColumnNames, ColumnValue, Columns, CountAll, Cursor, Delete, Expr, Insert,
    InsertReturning, OnConflict, OrderBy, Page, RelationKey, Select, Update, count_all,
};
pub use row::{ColumnIndex, Row};
pub use row_de::Serde;
pub use table::{Column, ColumnDef, FromRow, NoPrimaryKey, Param, RowSource, Table};
pub use transaction::{IsolationLevel, Transaction, TransactionOptions};

/// The query builder, for [`Database::run`] and [`Database::table_ref`].
pub use sea_query;
/// The driver, for [`Conn::client`] and its types.
pub use tokio_postgres;
/// json/jsonb values through serde.
pub use tokio_postgres::types::Json;
/// Encodes a Rust value as a query parameter (re-exported from tokio-postgres).
pub use tokio_postgres::types::ToSql;

/// Builds a parameter slice from values of different types.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let n = db.execute("UPDATE {{tables.users}} SET name = $1 WHERE id = $2", pgdbm::params!["Ann", 7i64]).await?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$(&$value as &(dyn $crate::ToSql + Sync)),*][..]
    };
}

/// The lexer and template expansion, for the fuzz targets in `fuzz/`; not
/// part of the API.
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod __fuzz {
    /// One token: its kind's name, byte range and parenthesis depth.
    pub type Token = (&'static str, std::ops::Range<usize>, u32);

    /// The tokens of `sql`, as the lexer reads them.
    pub fn tokens(sql: &str) -> Vec<Token> {
        crate::lex::tokens(sql)
            .map(|t| (kind_name(t.kind), t.start..t.end(), t.depth))
            .collect()
    }

    fn kind_name(kind: crate::lex::TokenKind) -> &'static str {
        use crate::lex::TokenKind::*;
        match kind {
            Word => "word",
            QuotedIdent => "quoted identifier",
            String => "string",
            Number => "number",
            Param => "parameter",
            Punct => "punctuation",
            Operator => "operator",
            Other => "other",
        }
    }

    /// Whether `sql` holds no statement.
    pub fn is_blank(sql: &str) -> bool {
        crate::lex::is_blank(sql)
    }

    /// The session-state use found in `sql`: statement, advice, discard.
    pub fn session_statement(sql: &str) -> Option<(std::string::String, &'static str, bool)> {
        crate::lex::session_statement(sql).map(|u| (u.statement, u.advice, u.discard))
    }

    /// The end of `VALUES` and the arity of a one-row `INSERT`.
    pub fn single_row_insert(sql: &str) -> Option<(usize, usize)> {
        crate::lex::single_row_insert(sql)
    }

    /// `sql` with a `RETURNING "column"` clause added.
    pub fn append_returning(sql: &str, column: &str) -> std::string::String {
        crate::lex::append_returning(sql, column)
    }

    /// Whether `sql` has a top-level RETURNING clause.
    pub fn has_top_level_returning(sql: &str) -> bool {
        crate::lex::has_top_level_returning(sql)
    }

    /// `sql` expanded for `schema`, validated as a manager validates it.
    pub fn expand(sql: &str, schema: Option<&str>) -> crate::Result<std::string::String> {
        if let Some(schema) = schema {
            crate::ident::validate("schema", schema)?;
        }
        let cache = crate::template::TemplateCache::for_pool(
            schema.map(std::sync::Arc::from),
            std::sync::Arc::default(),
            std::sync::Arc::default(),
        );
        Ok(cache.render(sql)?.to_string())
    }
}

/// Items generated code and macros refer to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::enums::{
        BoxError, Enum, EnumProbe, ViaEnum, ViaOther, accepts as enum_accepts,
        from_sql as enum_from_sql, to_sql as enum_to_sql, to_sql_checked as enum_to_sql_checked,
    };
    pub use crate::error::{Error, Result};
    pub use crate::query::BelongsTo;
    pub use crate::table::{
        Column, ColumnDef, FromRow, NoPrimaryKey, Param, RowSource, Table, check_column,
    };
    pub use bytes::BytesMut;
    pub use core::default::Default;
    pub use core::option::Option;
    pub use std::boxed::Box;
    pub use std::string::String;
    pub use std::vec::Vec;
    pub use tokio_postgres::Column as PgColumn;
    pub use tokio_postgres::types::{FromSql, FromSqlOwned, Json, ToSql};
    pub use tokio_postgres::types::{IsNull, Type as PgType};

    /// Asserts at compile time that a field type can be a column.
    pub const fn assert_column_type<T: ColumnType>() {}
    /// Asserts at compile time that a `json` field type goes through serde.
    pub const fn assert_json_type<T: serde::Serialize + serde::de::DeserializeOwned>() {}

    /// A type that can be stored in a PostgreSQL column.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a column: it must implement tokio-postgres' `ToSql` and `FromSql`",
        label = "unsupported column type",
        note = "store serde types with `#[pgdbm(json)]`, or leave the field out with `#[pgdbm(skip)]`"
    )]
    pub trait ColumnType {}
    impl<T: ToSql + FromSqlOwned + Send + Sync> ColumnType for T {}

    // One assertion per cargo feature that adds column types, which the
    // derive uses instead of `assert_column_type` for a field whose type is
    // named like one of that feature's types (`Uuid`, `NaiveDate`,
    // `Decimal`, ...): the same bounds, a message naming the feature. (The
    // attribute takes only literals, so each is written out.)
    macro_rules! feature_column_type {
        ($assert:ident, $trait:ident, $types:literal, #[$message:meta]) => {
            #[doc = concat!("Asserts at compile time that a field of ", $types, " can be a column.")]
            pub const fn $assert<T: $trait>() {}

            #[doc = concat!("A column type of ", $types, ", behind a cargo feature.")]
            #[$message]
            pub trait $trait {}
            impl<T: ToSql + FromSqlOwned + Send + Sync> $trait for T {}
        };
    }

    feature_column_type!(
        assert_uuid_column,
        UuidColumn,
        "`uuid::Uuid`",
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is a column type only with pgdbm's `uuid` feature",
            label = "needs pgdbm's `uuid` feature",
            note = "enable it in Cargo.toml: `pgdbm = {{ version = \"0.1\", features = [\"uuid\"] }}`",
            note = "the `uuid` feature supports `uuid::Uuid`; any other type must implement tokio-postgres' `ToSql` and `FromSql`"
        )]
    );

    feature_column_type!(
        assert_chrono_column,
        ChronoColumn,
        "chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime` and `DateTime`",
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is a column type only with pgdbm's `chrono` feature",
            label = "needs pgdbm's `chrono` feature",
            note = "enable it in Cargo.toml: `pgdbm = {{ version = \"0.1\", features = [\"chrono\"] }}`",
            note = "the `chrono` feature supports chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime` and `DateTime`; any other type must implement tokio-postgres' `ToSql` and `FromSql`"
        )]
    );

    feature_column_type!(
        assert_time_column,
        TimeColumn,
        "time's `Date`, `Time`, `PrimitiveDateTime` and `OffsetDateTime`",
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is a column type only with pgdbm's `time` feature",
            label = "needs pgdbm's `time` feature",
            note = "enable it in Cargo.toml: `pgdbm = {{ version = \"0.1\", features = [\"time\"] }}`",
            note = "the `time` feature supports time's `Date`, `Time`, `PrimitiveDateTime` and `OffsetDateTime`; any other type must implement tokio-postgres' `ToSql` and `FromSql`"
        )]
    );

    feature_column_type!(
        assert_decimal_column,
        DecimalColumn,
        "`rust_decimal::Decimal`",
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is a column type only with pgdbm's `decimal` feature",
            label = "needs pgdbm's `decimal` feature",
            note = "enable it in Cargo.toml: `pgdbm = {{ version = \"0.1\", features = [\"decimal\"] }}`",
            note = "the `decimal` feature supports `rust_decimal::Decimal`; any other type must implement tokio-postgres' `ToSql` and `FromSql`"
        )]
    );
}
