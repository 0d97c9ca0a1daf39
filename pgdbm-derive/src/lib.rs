//! Procedural macros for [`pgdbm`](https://docs.rs/pgdbm).
//!
//! Use them through the `pgdbm` crate, which re-exports them; generated code
//! refers to the runtime only through `::pgdbm::__private` and `::core`.
//!
//! The crate reads an input in four steps: `attr` and `ast` parse it into a
//! model that borrows the input (so every error points at the user's
//! tokens), `valid` checks the rules across fields, and `expand_table` /
//! `expand_from_row` generate code from a valid model. Every error found is
//! reported at once; on errors, `fallback` adds stub impls so the real errors
//! are not buried under follow-on ones.

#![warn(missing_docs)]

mod ast;
mod attr;
mod ctxt;
mod dummy;
mod embed;
mod enum_model;
mod expand_enum;
mod expand_from_row;
mod expand_table;
mod fallback;
mod naming;
mod ops;
mod sql_type;
mod test_attr;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, LitStr, parse_macro_input};

/// Derives `pgdbm::Table` and `pgdbm::FromRow` for a struct with named
/// fields, plus one typed column constant per column.
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize, Debug)] pub struct Prefs { dark: bool }
/// #[derive(pgdbm::Table)]
/// #[pgdbm(table = "users")]
/// pub struct User {
///     #[pgdbm(primary_key, generated)]
///     pub id: i64,
///     pub email: String,
///     #[pgdbm(column = "full_name")]
///     pub name: Option<String>,
///     #[pgdbm(json)]
///     pub prefs: Prefs,
///     #[pgdbm(skip)]
///     pub cache: Vec<u8>,
/// }
/// ```
///
/// Struct attribute:
/// - `table = "..."`: the table's name, exactly as stored. Default: the
///   struct's name in snake_case, not pluralised (`OrderLine` →
///   `order_line`). There is no `schema`: the `Database` a query runs on
///   supplies it.
///
/// Field attributes:
/// - `column = "..."`: the column's name; default: the field's name.
/// - `primary_key`: part of the primary key. Several fields make a
///   composite key; `Table::Key` is then the tuple of their types, in field
///   order (`pgdbm::NoPrimaryKey` without a key, so `find` does not compile).
/// - `generated`: filled by the database; left out of inserts whatever the
///   field's type, read back through `returning`.
/// - `json`: stored as json/jsonb through serde (`Json<T>`); an `Option<T>`
///   field stores `None` as SQL NULL.
/// - `sql_type = "..."`: the column's SQL type, recorded in `ColumnDef`.
///   Without it, `CREATE TABLE` from the struct reads the type from the
///   field's Rust type (`ColumnDef::inferred_type`).
/// - `belongs_to = Parent`: the field is a foreign key to `Parent`'s
///   single-column primary key (its type, or an `Option` of it);
///   implements `pgdbm::BelongsTo<Parent>`, for `db.load_belongs_to`. One
///   per parent type.
/// - `skip`: not a column; decoding fills it with `Default::default()`.
///   It cannot be combined with any other key.
///
/// Generated, for the struct above:
/// - `impl Table for User`, with `COLUMN_DEFS` in field order (skipped
///   fields left out) and `type Key = i64`;
/// - `impl FromRow for User`, reading the columns by name;
/// - `impl User { pub const ID: Column<User, i64>; pub const EMAIL: ..;
///   pub const NAME: Column<User, String, Option<String>>; pub const PREFS:
///   Column<User, Json<Prefs>> }`: each constant is named after the field
///   in upper case, has the field's visibility, and compares against the
///   type inside an `Option`. These inherent constants can shadow the
///   trait's (a field named `table` gives `User::TABLE`);
///   `<User as pgdbm::Table>::TABLE` always names the trait's.
///
/// Every field type must implement tokio-postgres' `ToSql` and `FromSql`
/// (`serde`'s `Serialize` and `DeserializeOwned` for a `json` field); any
/// other type is a compile error at the field. Tuple structs, unit structs,
/// enums, unions and generic structs are rejected, and so are unknown or
/// repeated keys and two fields mapped to one column.
#[proc_macro_derive(Table, attributes(pgdbm))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_table::derive(&input)
        .unwrap_or_else(|error| fallback::table(&input, error))
        .into()
}

/// Derives `pgdbm::FromRow` for a struct with named fields, so query
/// results decode into it by column name.
///
/// ```
/// #[derive(pgdbm::FromRow)]
/// struct Count {
///     table_name: String,
///     #[pgdbm(column = "n")]
///     count: i64,
///     #[pgdbm(skip)]
///     note: String,
/// }
/// ```
///
/// Field attributes: `column = "..."` (the column read; default: the field's
/// name), `json` (decoded through serde from json/jsonb) and `skip` (not
/// read; filled with `Default::default()`). The table keys (`table`,
/// `primary_key`, `generated`, `sql_type`) are rejected with an error that
/// says to derive `Table` instead: `#[derive(Table)]` implements `FromRow`
/// too, so a struct never derives both.
#[proc_macro_derive(FromRow, attributes(pgdbm))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_from_row::derive(&input)
        .unwrap_or_else(|error| fallback::from_row(&input, error))
        .into()
}

/// Derives `pgdbm::Enum`, tokio-postgres' `ToSql` and `FromSql` for a
/// fieldless enum: a PostgreSQL enum type (created per schema with
/// `db.create_enum::<E>()`) or, with `#[pgdbm(text)]`, a text column.
///
/// ```
/// #[derive(pgdbm::Enum, Debug, Clone, Copy, PartialEq)]
/// #[pgdbm(rename_all = "snake_case")]
/// enum OrderStatus {
///     Pending,
///     PaidInFull,
///     #[pgdbm(rename = "void")]
///     Cancelled,
/// }
/// ```
///
/// Enum attributes: `type_name = ".."` (default: the enum's name in
/// snake_case, `order_status`), `rename_all = ".."` (`lowercase`,
/// `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`,
/// `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`; default:
/// the variant names as written) and `text`. Variant attribute:
/// `rename = ".."`. Variants with fields, generic enums, empty enums,
/// two variants with one label and labels over 63 bytes are compile errors.
/// The enum must implement `Debug`, which tokio-postgres' `ToSql` requires.
#[proc_macro_derive(Enum, attributes(pgdbm))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_enum::derive(&input)
        .unwrap_or_else(|error| fallback::enum_(&input, error))
        .into()
}

/// Compiles the migration files of a directory (relative to the crate's
/// `Cargo.toml`) into the program, as a `pgdbm::Result<pgdbm::Migrator>`
/// that [`Migrator::from_dir`] would have read at run time.
///
/// Each file is included with `include_str!`, so cargo rebuilds when one
/// changes or is removed. Stable Rust lets no macro watch a directory, so
/// for a file *added* to be noticed without touching the code, add a build
/// script with `println!("cargo:rerun-if-changed=migrations");`.
///
/// ```ignore
/// let migrator = pgdbm::embed_migrations!("migrations")?;
/// db.migrate(&migrator).await?;
/// ```
///
/// [`Migrator::from_dir`]: https://docs.rs/pgdbm/latest/pgdbm/struct.Migrator.html#method.from_dir
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let dir = parse_macro_input!(input as LitStr);
    embed::expand(&dir)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs an `async fn(db: pgdbm::Database)` as a test, in a fresh schema (or
/// database) of the test server with the migrations applied; see
/// `pgdbm::testing` for the server and the isolation.
///
/// ```ignore
/// #[pgdbm::test(migrations = "migrations", fixtures("tests/users.sql"))]
/// async fn finds_users(db: pgdbm::Database) {
///     let n: i64 = db.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await.unwrap();
///     assert_eq!(n, 2);
/// }
/// ```
///
/// Options: `migrations = "dir"` (embedded at compile time, relative to
/// `Cargo.toml`) or `migrator = expr` (a `pgdbm::Result<pgdbm::Migrator>`);
/// `fixtures("a.sql", ..)`, templated SQL run in order after the
/// migrations; `isolation = "schema"` (the default) or `"database"`. The
/// function may take a second argument, `pgdbm::testing::TestContext`, and
/// may return `()` or a `Result` whose `Err` fails the test.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
