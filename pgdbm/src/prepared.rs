//! Named prepared statements: SQL registered once under a name, expanded
//! for the manager's schema, prepared on every new connection of the pool
//! before it is handed out, and run by name.
//!
//! A named statement lives in the connection's statement cache like any
//! other, keyed by its text, so running it by name and running the same
//! text directly share one server-side statement, and a connection opened
//! before the name was added prepares it on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio_postgres::types::FromSqlOwned;

use crate::error::{Error, Result};
use crate::executor::{Executor, Params, execute_rendered, query_rendered, value_at};
use crate::query::Target;
use crate::row::Row;

/// Every named statement of a pool, of every schema: what a new connection
/// prepares.
#[derive(Debug, Default)]
pub(crate) struct PoolStatements {
    sql: RwLock<Vec<Arc<str>>>,
}

impl PoolStatements {
    fn add(&self, sql: &Arc<str>) {
        let mut all = self.sql.write().unwrap_or_else(|e| e.into_inner());
        if !all.iter().any(|s| s == sql) {
            all.push(Arc::clone(sql));
        }
    }

    /// The statements to prepare on a new connection.
    pub(crate) fn snapshot(&self) -> Vec<Arc<str>> {
        self.sql.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One schema's named statements.
#[derive(Debug, Default)]
pub(crate) struct NamedStatements {
    by_name: RwLock<HashMap<Box<str>, Arc<str>>>,
    pool: Arc<PoolStatements>,
}

impl NamedStatements {
    pub(crate) fn new(pool: Arc<PoolStatements>) -> Self {
        NamedStatements {
            by_name: RwLock::default(),
            pool,
        }
    }

    /// Registers (or replaces) `name` with SQL already expanded.
    pub(crate) fn add(&self, name: &str, sql: Arc<str>) {
        self.pool.add(&sql);
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.into(), sql);
    }

    pub(crate) fn get(&self, name: &str) -> Result<Arc<str>> {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownStatement(name.into()))
    }
}

/// A named prepared statement, ready to run on the executor it came from
/// (a [`Database`](crate::Database), a [`Conn`](crate::Conn) or a
/// [`Transaction`](crate::Transaction)), from their `prepared` method.
///
/// It runs through the same path as the executor's other methods (its
/// connection, deadline, session rule and error mapping); only the text
/// comes from the registry, so no template is expanded per call.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// db.add_prepared_statement("user_by_email", "SELECT id FROM {{tables.users}} WHERE email = $1")?;
/// let by_email = db.prepared("user_by_email")?;
/// let id: Option<i64> = by_email.fetch_value(&[&"a@x.io"]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Prepared<'e> {
    target: Target<'e>,
    name: Arc<str>,
    sql: Arc<str>,
}

impl std::fmt::Debug for Prepared<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

impl<'e> Prepared<'e> {
    pub(crate) fn lookup(target: Target<'e>, name: &str) -> Result<Self> {
        let sql = target.templates().named().get(name)?;
        Ok(Prepared {
            target,
            name: name.into(),
            sql,
        })
    }

    /// The name it was added under.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// assert_eq!(db.prepared("user_by_email")?.name(), "user_by_email");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL, as expanded for the manager's schema.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// println!("{}", db.prepared("user_by_email")?.sql());
    /// # Ok(()) }
    /// ```
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs it and returns the number of rows affected.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.add_prepared_statement("deactivate", "UPDATE {{tables.users}} SET active = false WHERE id = $1")?;
    /// let n = db.prepared("deactivate")?.execute(&[&7i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute(&self, params: Params<'_>) -> Result<u64> {
        execute_rendered(&self.target, &self.sql, params).await
    }

    /// Runs it and returns every row.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.add_prepared_statement("active", "SELECT id, email FROM {{tables.users}} WHERE active")?;
    /// let rows = db.prepared("active")?.fetch_all(&[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_all(&self, params: Params<'_>) -> Result<Vec<Row>> {
        let rows = query_rendered(&self.target, &self.sql, params).await?;
        Ok(rows
            .map(|(_, rows)| rows.into_iter().map(Row::from).collect())
            .unwrap_or_default())
    }

    /// Runs it and returns the first row, if any.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.add_prepared_statement("user", "SELECT * FROM {{tables.users}} WHERE id = $1")?;
    /// let row = db.prepared("user")?.fetch_one(&[&7i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_one(&self, params: Params<'_>) -> Result<Option<Row>> {
        let rows = query_rendered(&self.target, &self.sql, params).await?;
        Ok(rows.and_then(|(_, rows)| rows.into_iter().next().map(Row::from)))
    }

    /// Runs it and returns the first column of the first row; with no row,
    /// `Option<T>` gives `Ok(None)` and other types
    /// [`Error::NotFound`].
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.add_prepared_statement("count", "SELECT count(*) FROM {{tables.users}}")?;
    /// let n: i64 = db.prepared("count")?.fetch_value(&[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_value<T: FromSqlOwned>(&self, params: Params<'_>) -> Result<T> {
        value_at(&self.target, &self.sql, params, 0usize).await
    }
}
