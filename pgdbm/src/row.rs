//! Rows returned by queries, read by column name or index with typed errors.

use std::any::type_name;

use tokio_postgres::types::{FromSql, WasNull};

use crate::error::{Error, Result};

/// One row of a result, Python's `dict` record.
///
/// Columns are read by name or index: [`try_get`](Row::try_get) returns a
/// typed [`Error::RowMapping`] naming the column, the Rust type asked for and
/// the SQL type found; [`get`](Row::get) panics with that message.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// if let Some(row) = db.fetch_one("SELECT 1::int4 AS n, 'a'::text AS s", &[]).await? {
///     let n: i32 = row.try_get("n")?;
///     let s: String = row.get(1);
///     assert_eq!(row.column_names().collect::<Vec<_>>(), ["n", "s"]);
/// }
/// # Ok(()) }
/// ```
pub struct Row {
    inner: tokio_postgres::Row,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("columns", &self.column_names().collect::<Vec<_>>())
            .finish()
    }
}

impl From<tokio_postgres::Row> for Row {
    fn from(inner: tokio_postgres::Row) -> Self {
        Row { inner }
    }
}

impl Row {
    /// Reads a column, by index or name.
    ///
    /// # Panics
    /// When the column does not exist or cannot be read as `T`; use
    /// [`try_get`](Row::try_get) to get the error instead.
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) { let email: String = row.get("email"); }
    /// ```
    #[track_caller]
    pub fn get<'a, T: FromSql<'a>>(&'a self, column: impl ColumnIndex) -> T {
        match self.try_get(column) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// Reads a column, by index or name, as `T`.
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) -> pgdbm::Result<()> {
    /// let email: Option<String> = row.try_get("email")?;
    /// # Ok(()) }
    /// ```
    pub fn try_get<'a, T: FromSql<'a>>(&'a self, column: impl ColumnIndex) -> Result<T> {
        let columns = self.inner.columns();
        let Some(index) = column.position(columns) else {
            return Err(Error::row_mapping(
                column.describe(),
                type_name::<T>(),
                format!("no such column (the row has {})", columns.len()),
            ));
        };
        read_column(&self.inner, index)
    }

    /// The number of columns.
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) { assert!(row.len() > 0); }
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the row has no columns (`SELECT FROM t`).
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) { assert!(!row.is_empty()); }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The column names, in order.
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) { for name in row.column_names() { println!("{name}"); } }
    /// ```
    pub fn column_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.inner.columns().iter().map(|c| c.name())
    }

    /// The driver's row, for what this type does not wrap.
    ///
    /// ```no_run
    /// # fn f(row: pgdbm::Row) { let raw: &pgdbm::tokio_postgres::Row = row.as_driver_row(); }
    /// ```
    pub fn as_driver_row(&self) -> &tokio_postgres::Row {
        &self.inner
    }
}

/// Reads column `index` as `T`, checking the SQL type first so that a
/// mismatch names both types instead of the driver's generic message.
pub(crate) fn read_column<'a, T: FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T> {
    let column = &row.columns()[index];
    if !T::accepts(column.type_()) {
        return Err(Error::row_mapping(
            column.name(),
            type_name::<T>(),
            format!("SQL type {}", column.type_()),
        ));
    }
    row.try_get(index).map_err(|e| {
        let was_null = std::error::Error::source(&e).is_some_and(|s| s.is::<WasNull>());
        let found = if was_null {
            "NULL (use Option<T> for nullable columns)".to_owned()
        } else {
            format!(
                "SQL type {} that failed to decode: {}",
                column.type_(),
                crate::error::with_causes(&e)
            )
        };
        Error::row_mapping(column.name(), type_name::<T>(), found)
    })
}

/// A column position: an index (`usize`) or a name (`&str`, `String`).
///
/// Sealed: implemented only by pgdbm.
///
/// ```no_run
/// # fn f(row: pgdbm::Row) { let a: i32 = row.get(0); let b: i32 = row.get("n"); }
/// ```
pub trait ColumnIndex: sealed::Sealed + Send + Sync {
    #[doc(hidden)]
    fn position(&self, columns: &[tokio_postgres::Column]) -> Option<usize>;
    #[doc(hidden)]
    fn describe(&self) -> String;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
    impl Sealed for String {}
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[tokio_postgres::Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        format!("#{self}")
    }
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[tokio_postgres::Column]) -> Option<usize> {
        columns.iter().position(|c| c.name() == *self)
    }
    fn describe(&self) -> String {
        (*self).to_owned()
    }
}

impl ColumnIndex for String {
    fn position(&self, columns: &[tokio_postgres::Column]) -> Option<usize> {
        self.as_str().position(columns)
    }
    fn describe(&self) -> String {
        self.clone()
    }
}
