//! What service authors ask the server while something is wrong: tables and
//! their sizes, what is running, who blocks whom, and a query's plan (the
//! Python library's `SchemaManager` and `DatabaseDebugger`). Each runs as an
//! ordinary statement of the manager, so it is traced, timed and counted.

use std::time::Duration;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Params;

/// A table of the manager's schema, from [`Database::tables`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// for t in db.tables().await? {
///     println!("{}.{}: {} bytes, ~{} rows", t.schema, t.name, t.total_bytes, t.rows_estimate);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableInfo {
    /// The schema it is in.
    pub schema: String,
    /// The table's name, exactly as stored.
    pub name: String,
    /// The planner's row estimate (`reltuples`; -1 before the first ANALYZE).
    pub rows_estimate: i64,
    /// Heap, indexes and TOAST together.
    pub total_bytes: i64,
    /// The indexes alone.
    pub index_bytes: i64,
}

/// A backend of the manager's database, from [`Database::activity`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// for a in db.activity().await? {
///     println!("{} {:?} {:?}: {}", a.pid, a.state, a.running_for, a.query);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Activity {
    /// The backend's process id.
    pub pid: i32,
    /// `active`, `idle`, `idle in transaction`, ...
    pub state: Option<String>,
    /// The current (or, when idle, the last) statement's text.
    pub query: String,
    /// How long the current statement has run (or since the last began).
    pub running_for: Option<Duration>,
    /// What it waits on (`Lock`, `ClientRead`, ...).
    pub wait_event_type: Option<String>,
    /// The client's `application_name`.
    pub application_name: String,
    /// The backends holding the locks it waits for.
    pub blocked_by: Vec<i32>,
}

impl Database {
    /// The tables of this manager's schema (`public` without one), largest
    /// first.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let tables = db.tables().await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "analyze_table_sizes")]
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let schema = self.schema().unwrap_or("public");
        let sql = "SELECT n.nspname, c.relname, c.reltuples::bigint, \
                   pg_catalog.pg_total_relation_size(c.oid), pg_catalog.pg_indexes_size(c.oid) \
                   FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') \
                   ORDER BY 4 DESC, 2";
        let rows = self.fetch_all(sql, &[&schema]).await?;
        rows.iter()
            .map(|row| {
                Ok(TableInfo {
                    schema: row.try_get(0usize)?,
                    name: row.try_get(1usize)?,
                    rows_estimate: row.try_get(2usize)?,
                    total_bytes: row.try_get(3usize)?,
                    index_bytes: row.try_get(4usize)?,
                })
            })
            .collect()
    }

    /// Every other client backend of this manager's database: what it
    /// runs, for how long, and which backends block it.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let stuck: Vec<_> = db.activity().await?.into_iter().filter(|a| !a.blocked_by.is_empty()).collect();
    /// # Ok(()) }
    /// ```
    #[doc(alias = "find_blocking_queries")]
    pub async fn activity(&self) -> Result<Vec<Activity>> {
        let sql = "SELECT pid, state, query, \
                   (extract(epoch FROM now() - query_start) * 1000000)::bigint, \
                   wait_event_type, application_name, pg_catalog.pg_blocking_pids(pid) \
                   FROM pg_catalog.pg_stat_activity \
                   WHERE datname = current_database() AND backend_type = 'client backend' \
                   AND pid <> pg_backend_pid() ORDER BY query_start NULLS LAST";
        let rows = self.fetch_all(sql, &[]).await?;
        rows.iter()
            .map(|row| {
                let micros: Option<i64> = row.try_get(3usize)?;
                Ok(Activity {
                    pid: row.try_get(0usize)?,
                    state: row.try_get(1usize)?,
                    query: row.try_get::<Option<String>>(2usize)?.unwrap_or_default(),
                    running_for: micros.map(|us| Duration::from_micros(us.max(0) as u64)),
                    wait_event_type: row.try_get(4usize)?,
                    application_name: row.try_get(5usize)?,
                    blocked_by: row.try_get(6usize)?,
                })
            })
            .collect()
    }

    /// Backends whose current statement has run longer than `threshold`.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let slow = db.long_running(std::time::Duration::from_secs(300)).await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "find_long_running_queries")]
    pub async fn long_running(&self, threshold: Duration) -> Result<Vec<Activity>> {
        Ok(self
            .activity()
            .await?
            .into_iter()
            .filter(|a| a.state.as_deref() == Some("active"))
            .filter(|a| a.running_for.is_some_and(|d| d >= threshold))
            .collect())
    }

    /// The plan of a templated statement, as PostgreSQL's `EXPLAIN (FORMAT
    /// JSON)` gives it (the statement is planned, not run).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let plan = db.explain("SELECT * FROM {{tables.users}} WHERE id = $1", &[&7i64]).await?;
    /// println!("{}", plan[0]["Plan"]["Node Type"]);
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self, sql: &str, params: Params<'_>) -> Result<serde_json::Value> {
        let rendered = self.render(sql)?;
        if crate::lex::is_blank(&rendered) {
            return Err(Error::NotFound("nothing to explain".into()));
        }
        // Already expanded: sent as it is, never rendered a second time.
        let explained = format!("EXPLAIN (FORMAT JSON) {rendered}");
        let (_, rows) = crate::executor::query_rendered(self, &explained, params)
            .await?
            .ok_or_else(|| Error::NotFound(explained.as_str().into()))?;
        let row = rows
            .first()
            .ok_or_else(|| Error::NotFound(explained.as_str().into()))?;
        crate::row::read_column(row, 0)
    }
}
