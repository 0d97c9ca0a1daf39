//! What `#[derive(Table)]` and `#[derive(FromRow)]` implement: table
//! metadata, typed column handles and row decoding.

use std::any::type_name;
use std::marker::PhantomData;

use tokio_postgres::types::{FromSql, FromSqlOwned, ToSql};

use crate::error::{Error, Result};

/// One stored column of a [`Table`].
///
/// ```
/// let id = pgdbm::ColumnDef::new("id").primary_key().generated();
/// assert!(id.primary_key && id.generated && !id.json);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnDef {
    /// The column's name in SQL, exactly as it is stored.
    pub name: &'static str,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Filled by the database (identity, default, trigger): left out of
    /// inserts, read back through `returning`.
    pub generated: bool,
    /// Stored as json/jsonb through serde.
    pub json: bool,
    /// The SQL type given with `#[pgdbm(sql_type = "...")]`, if any.
    pub sql_type: Option<&'static str>,
    /// The SQL type the derive read from the field's Rust type (`bigint`
    /// for `i64`, `jsonb` for a json field), for `CREATE TABLE` from the
    /// struct; `None` for a type it does not know (an alias, a type of your
    /// own). [`sql_type`](ColumnDef::sql_type) overrides it.
    pub inferred_type: Option<&'static str>,
    /// The field is an `Option`: the column may be NULL.
    pub nullable: bool,
}

impl ColumnDef {
    /// A plain column.
    ///
    /// ```
    /// use pgdbm::ColumnDef;
    /// let email = ColumnDef::new("email");
    /// assert_eq!(email.name, "email");
    /// assert!(!email.primary_key && !email.generated && !email.json);
    /// assert_eq!(email.sql_type, None);
    /// ```
    pub const fn new(name: &'static str) -> Self {
        ColumnDef {
            name,
            primary_key: false,
            generated: false,
            json: false,
            sql_type: None,
            inferred_type: None,
            nullable: false,
        }
    }
    /// Marks it as part of the primary key.
    ///
    /// ```
    /// // A composite key: both columns are marked.
    /// const KEY: [pgdbm::ColumnDef; 2] = [
    ///     pgdbm::ColumnDef::new("org").primary_key(),
    ///     pgdbm::ColumnDef::new("member").primary_key(),
    /// ];
    /// assert!(KEY.iter().all(|c| c.primary_key && !c.generated));
    /// ```
    pub const fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self
    }
    /// Marks it as filled by the database.
    ///
    /// ```
    /// let created_at = pgdbm::ColumnDef::new("created_at").generated();
    /// assert!(created_at.generated && !created_at.primary_key);
    /// ```
    pub const fn generated(mut self) -> Self {
        self.generated = true;
        self
    }
    /// Marks it as stored through serde as json.
    ///
    /// ```
    /// let prefs = pgdbm::ColumnDef::new("prefs").json().sql_type("jsonb");
    /// assert!(prefs.json);
    /// assert_eq!(prefs.sql_type, Some("jsonb"));
    /// ```
    pub const fn json(mut self) -> Self {
        self.json = true;
        self
    }
    /// Records its SQL type.
    ///
    /// ```
    /// let price = pgdbm::ColumnDef::new("price").sql_type("numeric(12, 2)");
    /// assert_eq!(price.sql_type, Some("numeric(12, 2)"));
    /// ```
    pub const fn sql_type(mut self, sql_type: &'static str) -> Self {
        self.sql_type = Some(sql_type);
        self
    }
    /// Records the SQL type read from the Rust type.
    ///
    /// ```
    /// let id = pgdbm::ColumnDef::new("id").inferred_type("bigint");
    /// assert_eq!(id.inferred_type, Some("bigint"));
    /// ```
    pub const fn inferred_type(mut self, sql_type: &'static str) -> Self {
        self.inferred_type = Some(sql_type);
        self
    }
    /// Marks it as nullable (an `Option` field).
    ///
    /// ```
    /// let name = pgdbm::ColumnDef::new("name").nullable();
    /// assert!(name.nullable);
    /// ```
    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }
}

/// A parameter value taken from a row: borrowed from the field, or owned
/// when the field needs a wrapper to be sent (json fields).
///
/// ```
/// use pgdbm::{Param, Table};
/// # #[derive(serde::Serialize, serde::Deserialize, Debug)] struct Prefs { dark: bool }
/// #[derive(Table)]
/// struct User { #[pgdbm(primary_key)] id: i64, email: String, #[pgdbm(json)] prefs: Prefs }
///
/// let user = User { id: 7, email: "a@x.io".into(), prefs: Prefs { dark: true } };
/// assert!(matches!(user.value(1), Param::Ref(_))); // `email` is sent as it is
/// assert!(matches!(user.value(2), Param::Owned(_))); // `prefs` is wrapped in `Json`
/// ```
pub enum Param<'a> {
    /// A field that is sent as it is.
    Ref(&'a (dyn ToSql + Sync)),
    /// A wrapped field.
    Owned(Box<dyn ToSql + Sync + Send + 'a>),
}

impl std::fmt::Debug for Param<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Param::Ref(_) => "Param::Ref",
            Param::Owned(_) => "Param::Owned",
        })
    }
}

impl Param<'_> {
    /// The value as tokio-postgres takes it.
    ///
    /// ```no_run
    /// use pgdbm::{Param, Table};
    /// # #[derive(Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
    /// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
    /// // Every stored column of `user`, as parameters of a raw statement.
    /// let values: Vec<Param<'_>> = (0..User::COLUMN_DEFS.len()).map(|i| user.value(i)).collect();
    /// let params: Vec<&(dyn pgdbm::ToSql + Sync)> = values.iter().map(Param::as_sql).collect();
    /// db.execute("INSERT INTO {{tables.users_archive}} (id, email) VALUES ($1, $2)", &params).await?;
    /// # Ok(()) }
    /// ```
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Ref(value) => *value,
            Param::Owned(value) => &**value,
        }
    }
}

/// A struct that maps to one table. Implemented by `#[derive(Table)]`.
///
/// The manager owns the schema: a `Table` names only its table, and every
/// statement built for it is qualified with the schema of the `Database` it
/// runs on.
///
/// ```
/// use pgdbm::Table;
///
/// #[derive(Table, Debug)]
/// #[pgdbm(table = "users")]
/// struct User {
///     #[pgdbm(primary_key, generated)]
///     id: i64,
///     email: String,
/// }
///
/// assert_eq!(User::TABLE, "users");
/// assert_eq!(User::COLUMN_DEFS.len(), 2);
/// assert_eq!(User::EMAIL.name(), "email");
/// ```
pub trait Table: FromRow + Send + Sync + 'static {
    /// The table's name in SQL, exactly as stored.
    const TABLE: &'static str;
    /// The stored columns, in field order (skipped fields left out).
    const COLUMN_DEFS: &'static [ColumnDef];
    /// The primary key: the key field's type, or a tuple for a composite
    /// key; [`NoPrimaryKey`] when the table has none.
    type Key: Send + Sync;

    /// The value of column `index` (an index into [`COLUMN_DEFS`](Table::COLUMN_DEFS)).
    fn value(&self, index: usize) -> Param<'_>;

    /// Pushes the key's values, in key column order.
    fn key_values<'a>(key: &'a Self::Key, out: &mut Vec<Param<'a>>);

    /// The SQL type of column `index` when it is only known at run time: a
    /// [`pgdbm::Enum`](crate::Enum) field's type, qualified with the
    /// manager's schema. Generated; used by `create_table_sql`.
    #[doc(hidden)]
    fn __runtime_sql_type(index: usize, schema: Option<&str>) -> Option<String> {
        let _ = (index, schema);
        None
    }

    /// `CREATE TABLE IF NOT EXISTS` for this table in `schema`, from the
    /// struct: see [`create_table_sql`](crate::create_table_sql).
    ///
    /// ```
    /// use pgdbm::Table;
    /// #[derive(Table)]
    /// #[pgdbm(table = "users")]
    /// struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String> }
    ///
    /// let sql = User::create_table_sql(Some("app"))?;
    /// assert!(sql.starts_with(r#"CREATE TABLE IF NOT EXISTS "app"."users" ("#));
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    fn create_table_sql(schema: Option<&str>) -> Result<String>
    where
        Self: Sized,
    {
        crate::ddl::create_table_sql::<Self>(schema)
    }
}

/// The [`Table::Key`] of a table without a `#[pgdbm(primary_key)]` field.
///
/// It has no values, so `find` on such a table does not compile: the error
/// reads "expected `&NoPrimaryKey`". (`update_row` and `delete_row` take the
/// row itself; on such a table they return [`Error::Config`] before anything
/// is sent.)
///
/// ```compile_fail
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// #[derive(pgdbm::Table)]
/// struct Event { kind: String }
/// let e = db.find::<Event>(&1).await?; // expected `&NoPrimaryKey`, found `&{integer}`
/// # Ok(()) }
/// ```
///
/// ```
/// #[derive(pgdbm::Table)]
/// struct Event { kind: String }
/// let no_key: fn(&<Event as pgdbm::Table>::Key) -> pgdbm::NoPrimaryKey = |key| match *key {};
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoPrimaryKey {}

/// A type a row decodes into. Implemented by `#[derive(Table)]`,
/// `#[derive(FromRow)]`, and for tuples (read by position).
///
/// Decoding is in two steps so that names are resolved and types checked
/// once per statement, not once per row.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// #[derive(pgdbm::FromRow)]
/// struct Count { table_name: String, n: i64 }
/// let counts: Vec<Count> = db.fetch_all_as("SELECT 'users' AS table_name, count(*) AS n FROM {{tables.users}}", &[]).await?;
/// let pairs: Vec<(String, i64)> = db.fetch_all_as("SELECT email, id FROM {{tables.users}}", &[]).await?;
/// # Ok(()) }
/// ```
pub trait FromRow: Sized + Send {
    /// The column names read, in field order; `None` reads by position.
    const NAMES: Option<&'static [&'static str]>;

    /// Checks that the columns at `indices` (one per field) can be read
    /// into the fields.
    fn check(columns: &[tokio_postgres::Column], indices: &[usize]) -> Result<()>;

    /// Decodes a row whose columns were checked.
    fn decode<R: RowSource>(row: &R, indices: &[usize]) -> Result<Self>;
}

/// Where decoded values come from: a query row or a binary COPY row.
/// Sealed.
///
/// [`FromRow::decode`] is generic over it, so one derived type reads both:
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use futures_util::TryStreamExt;
/// let queried: Vec<User> = db.select::<User>().all().await?; // query rows
/// let copied: Vec<User> = db.copy_out::<User>().await?.try_collect().await?; // binary COPY rows
/// assert_eq!(queried.len(), copied.len());
/// # Ok(()) }
/// ```
pub trait RowSource: sealed::Sealed {
    #[doc(hidden)]
    fn read<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T>;

    /// The query row, for decoders that need column names and types
    /// (serde); `None` for a COPY row.
    #[doc(hidden)]
    fn as_query_row(&self) -> Option<&tokio_postgres::Row> {
        None
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for tokio_postgres::Row {}
    impl Sealed for tokio_postgres::binary_copy::BinaryCopyOutRow {}
}

impl RowSource for tokio_postgres::Row {
    fn read<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T> {
        crate::row::read_column(self, index)
    }

    fn as_query_row(&self) -> Option<&tokio_postgres::Row> {
        Some(self)
    }
}

impl RowSource for tokio_postgres::binary_copy::BinaryCopyOutRow {
    fn read<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T> {
        self.try_get(index)
            .map_err(|e| Error::row_mapping(format!("#{index}"), type_name::<T>(), e.to_string()))
    }
}

/// Checks that column `index` can be read as `T`; used by generated code.
#[doc(hidden)]
pub fn check_column<T: for<'a> FromSql<'a>>(
    columns: &[tokio_postgres::Column],
    index: usize,
) -> Result<()> {
    let column = &columns[index];
    if T::accepts(column.type_()) {
        Ok(())
    } else {
        Err(Error::row_mapping(
            column.name(),
            type_name::<T>(),
            format!("SQL type {}", column.type_()),
        ))
    }
}

/// The indices of `names` among `columns`, or a mapping error naming the
/// first missing one.
pub(crate) fn resolve<R: FromRow>(columns: &[tokio_postgres::Column]) -> Result<Vec<usize>> {
    match R::NAMES {
        Some(names) => names
            .iter()
            .map(|name| {
                columns
                    .iter()
                    .position(|c| c.name() == *name)
                    .ok_or_else(|| {
                        Error::row_mapping(*name, type_name::<R>(), "no such column in the result")
                    })
            })
            .collect(),
        None => Ok((0..columns.len()).collect()),
    }
}

/// Reads nothing: for statements run for their effect.
impl FromRow for () {
    const NAMES: Option<&'static [&'static str]> = Some(&[]);
    fn check(_: &[tokio_postgres::Column], _: &[usize]) -> Result<()> {
        Ok(())
    }
    fn decode<S: RowSource>(_: &S, _: &[usize]) -> Result<Self> {
        Ok(())
    }
}

macro_rules! tuple_from_row {
    ($($name:ident : $index:tt),+) => {
        impl<$($name: FromSqlOwned + Send),+> FromRow for ($($name,)+) {
            const NAMES: Option<&'static [&'static str]> = None;

            fn check(columns: &[tokio_postgres::Column], indices: &[usize]) -> Result<()> {
                let arity = [$($index),+].len();
                if indices.len() != arity {
                    return Err(Error::row_mapping(
                        format!("#{}", indices.len().min(arity)),
                        type_name::<Self>(),
                        format!("{} columns in the result", indices.len()),
                    ));
                }
                $(check_column::<$name>(columns, indices[$index])?;)+
                Ok(())
            }

            fn decode<R: RowSource>(row: &R, indices: &[usize]) -> Result<Self> {
                Ok(($(row.read::<$name>(indices[$index])?,)+))
            }
        }
    };
}

tuple_from_row!(A: 0);
tuple_from_row!(A: 0, B: 1);
tuple_from_row!(A: 0, B: 1, C: 2);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4, F: 5);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7);

/// A typed handle on one column of table `T` holding values of type `V`
/// (for a nullable column, `V` is the type inside the `Option`); `F` is the
/// field's own type (`Option<V>` for a nullable column), what selecting the
/// column reads.
///
/// `#[derive(Table)]` generates one per field as an associated constant in
/// upper case: `User::EMAIL: Column<User, String>`. Comparisons take
/// any value `V` converts from (bounded by [`ColumnValue`](crate::ColumnValue)), so `User::EMAIL.eq("a@b")` compiles and `User::EMAIL.eq(5)` does
/// not; the value is bound as exactly `V`.
///
/// ```
/// # use pgdbm::Table;
/// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64, email: String, age: Option<i32> }
/// let adults = User::AGE.ge(18).and(User::EMAIL.like("%@example.com"));
/// let by_age = User::AGE.desc();
/// ```
pub struct Column<T, V, F = V> {
    name: &'static str,
    _marker: ColumnMarker<T, V, F>,
}

/// Ties a column to its table and types without owning any of them.
type ColumnMarker<T, V, F> = PhantomData<fn() -> (T, V, F)>;

impl<T, V, F> Clone for Column<T, V, F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, V, F> Copy for Column<T, V, F> {}

impl<T, V, F> std::fmt::Debug for Column<T, V, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

impl<T, V, F> Column<T, V, F> {
    /// A handle on the column named `name` (used by generated code).
    ///
    /// ```
    /// use pgdbm::{Column, Table};
    /// # #[derive(Table)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// // What `#[derive(Table)]` generates for the `email` field:
    /// const EMAIL: Column<User, String> = Column::new("email");
    /// assert_eq!(EMAIL.name(), User::EMAIL.name());
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _marker: PhantomData,
        }
    }

    /// The column's SQL name.
    ///
    /// ```
    /// # use pgdbm::Table;
    /// #[derive(Table)]
    /// struct User { #[pgdbm(primary_key)] id: i64, #[pgdbm(column = "full_name")] name: String }
    ///
    /// assert_eq!(User::ID.name(), "id");
    /// assert_eq!(User::NAME.name(), "full_name");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}
