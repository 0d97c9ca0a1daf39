//! The one query path. `Database`, `Conn` and `Transaction` each say only how
//! to get a connection for a call, which schema and timeout apply and what
//! happens to SQL that changes the session; every query method is written
//! once here and forwarded by `query_methods!`, so callers need no trait
//! import. Every statement then goes through the call guard (`call`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio_postgres::Statement;
use tokio_postgres::types::{FromSqlOwned, ToSql, Type};

use crate::call::{self, Session, Stmt, guarded, prepared};
use crate::conn::Lease;
use crate::error::{Error, Result};
use crate::params::{Bounded, check_count};
use crate::row::{ColumnIndex, Row, read_column};
use crate::template::TemplateCache;
use crate::{ident, lex};

/// Query parameters, as tokio-postgres takes them: one reference per
/// `$n`, in order.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let params: pgdbm::Params<'_> = &[&"a@x.io", &true];
/// db.execute("UPDATE {{tables.users}} SET is_active = $2 WHERE email = $1", params).await?;
/// # Ok(()) }
/// ```
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How many statements `execute_many` keeps in flight on one connection.
const PIPELINE_DEPTH: usize = 256;

/// What a query-capable type provides; everything else is built on it.
pub(crate) trait Executor: Sync {
    /// A connection of its own for one call (or the held one).
    fn lease(&self) -> impl Future<Output = Result<Lease<'_>>> + Send;
    /// A connection for one self-contained statement: a shared,
    /// multiplexed one where the executor multiplexes.
    fn lease_shared(&self) -> impl Future<Output = Result<Lease<'_>>> + Send {
        self.lease()
    }
    /// What happens to raw SQL that would change the session.
    fn session(&self) -> Session;
    /// The template cache of the manager's schema.
    fn templates(&self) -> &TemplateCache;
    /// The client-side limit for one call.
    fn call_timeout(&self) -> Option<Duration>;
    /// `sql` as this executor sends it.
    fn stmt<'s>(&'s self, sql: &'s str) -> Stmt<'s> {
        Stmt {
            sql,
            timeout: self.call_timeout(),
            session: self.session(),
            schema: self.templates().schema(),
            metrics: Some(self.templates().metrics()),
        }
    }
}

/// `params` as the driver takes them, each refusing to encode past
/// PostgreSQL's limit on a value (see `params`).
fn bounded<'a>(params: &'a [&'a (dyn ToSql + Sync)]) -> impl ExactSizeIterator<Item = Bounded<'a>> {
    params.iter().map(|p| Bounded(*p))
}

pub(crate) async fn execute<E: Executor>(ex: &E, sql: &str, params: Params<'_>) -> Result<u64> {
    let sql = ex.templates().render(sql)?;
    execute_rendered(ex, &sql, params).await
}

/// Rows affected by already rendered SQL (0 for a blank statement).
pub(crate) async fn execute_rendered<E: Executor>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
) -> Result<u64> {
    if lex::is_blank(sql) {
        return Ok(0);
    }
    check_count(params.len(), sql)?;
    let lease = ex.lease_shared().await?;
    let client = lease.client();
    let stmt = ex.stmt(sql);
    call::run(&lease, stmt, |st| async move {
        let n = client.execute_raw(&st, bounded(params)).await?;
        call::record_rows(stmt.metrics, n);
        Ok(n)
    })
    .await
}

/// Runs already rendered SQL, which may hold several statements, with the
/// simple protocol on the executor's own connection: for DDL scripts such
/// as migrations, which take no parameters and need no cached plan.
pub(crate) async fn batch_rendered<E: Executor>(ex: &E, sql: &str) -> Result<()> {
    if lex::is_blank(sql) {
        return Ok(());
    }
    let lease = ex.lease().await?;
    let stmt = ex.stmt(sql);
    call::guarded(&lease, stmt, None, async {
        stmt.session.check(&lease, sql)?;
        lease
            .client()
            .batch_execute(sql)
            .await
            .map_err(|e| Error::from_driver(e, Some(sql)))
    })
    .await
}

/// Rows of already rendered SQL, with the statement (for its column
/// types); `None` for a blank one.
pub(crate) async fn query_rendered<E: Executor>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<(Statement, Vec<tokio_postgres::Row>)>> {
    if lex::is_blank(sql) {
        return Ok(None);
    }
    check_count(params.len(), sql)?;
    let lease = ex.lease_shared().await?;
    let client = lease.client();
    let stmt = ex.stmt(sql);
    let result = call::run(&lease, stmt, |st| async move {
        let rows: Vec<_> = client
            .query_raw(&st, bounded(params))
            .await?
            .try_collect()
            .await?;
        call::record_rows(stmt.metrics, rows.len() as u64);
        Ok((st, rows))
    })
    .await?;
    Ok(Some(result))
}

pub(crate) async fn fetch_all<E: Executor>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>> {
    let sql = ex.templates().render(sql)?;
    let rows = query_rendered(ex, &sql, params)
        .await?
        .map(|(_, rows)| rows);
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(Row::from)
        .collect())
}

pub(crate) async fn fetch_one<E: Executor>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>> {
    let sql = ex.templates().render(sql)?;
    let rows = query_rendered(ex, &sql, params)
        .await?
        .map(|(_, rows)| rows);
    Ok(rows.and_then(|rows| rows.into_iter().next()).map(Row::from))
}

pub(crate) async fn fetch_value_at<E: Executor, T: FromSqlOwned>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
    column: impl ColumnIndex,
) -> Result<T> {
    let sql = ex.templates().render(sql)?;
    value_at(ex, &sql, params, column).await
}

/// One column of the first row of an already rendered statement. No row
/// (or no statement) reads as NULL, so `Option<T>` gets `None` and any
/// other type a NotFound error.
pub(crate) async fn value_at<E: Executor, T: FromSqlOwned>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
    column: impl ColumnIndex,
) -> Result<T> {
    let not_found = || Error::NotFound(sql.into());
    let Some((statement, rows)) = query_rendered(ex, sql, params).await? else {
        return T::from_sql_null(&Type::VOID).map_err(|_| not_found());
    };
    let columns = statement.columns();
    let Some(index) = column.position(columns) else {
        return Err(Error::row_mapping(
            column.describe(),
            std::any::type_name::<T>(),
            format!("no such column (the result has {})", columns.len()),
        ));
    };
    match rows.first() {
        Some(row) => read_column(row, index),
        None => T::from_sql_null(columns[index].type_()).map_err(|_| not_found()),
    }
}

pub(crate) async fn execute_returning_id<E: Executor, T: FromSqlOwned>(
    ex: &E,
    sql: &str,
    params: Params<'_>,
) -> Result<T> {
    // Checked after expansion, so a table named "returning" cannot fool it.
    let sql = ex.templates().render(sql)?;
    if lex::has_top_level_returning(&sql) {
        value_at(ex, &sql, params, 0).await
    } else {
        value_at(ex, &lex::append_returning(&sql, "id"), params, 0).await
    }
}

/// Sends every row's statement pipelined on one connection, inside a
/// transaction unless one is already open, so the batch applies all or
/// nothing (asyncpg's `executemany` does the same).
pub(crate) async fn execute_many_dyn<'p, E, I>(ex: &E, sql: &str, rows: I) -> Result<u64>
where
    E: Executor,
    I: Iterator<Item = &'p [&'p (dyn ToSql + Sync)]> + Send,
{
    let sql = ex.templates().render(sql)?;
    if lex::is_blank(&sql) {
        return Ok(0);
    }
    let lease = ex.lease().await?;
    let stmt = ex.stmt(&sql);
    // Refused before the batch's transaction is opened.
    stmt.session.check(&lease, &sql)?;
    atomically(&lease, stmt.timeout, async {
        guarded(&lease, stmt, None, async {
            match lex::single_row_insert(&sql) {
                Some((head, arity)) => insert_rows(&lease, &sql[..head], arity, rows).await,
                None => pipelined(&lease, stmt, rows).await,
            }
        })
        .await
    })
    .await
}

/// One statement per row, up to [`PIPELINE_DEPTH`] in flight.
async fn pipelined<'p, I>(lease: &Lease<'_>, stmt: Stmt<'_>, rows: I) -> Result<u64>
where
    I: Iterator<Item = &'p [&'p (dyn ToSql + Sync)]> + Send,
{
    let statement = prepared(lease, stmt).await?;
    let client = lease.client();
    let mut total = 0;
    let mut in_flight = futures_util::stream::FuturesOrdered::new();
    let mut rows = rows;
    loop {
        while in_flight.len() < PIPELINE_DEPTH {
            let Some(params) = rows.next() else { break };
            check_count(params.len(), stmt.sql)?;
            in_flight.push_back(client.execute_raw(&statement, bounded(params)));
        }
        let Some(done) = in_flight.next().await else {
            return Ok(total);
        };
        total += done.map_err(|e| Error::from_driver(e, Some(stmt.sql)))?;
    }
}

/// Rows per statement when a single-row INSERT is rewritten; measured on a
/// 2-core machine, 100 rows per statement with a few statements in flight
/// is several times faster than one statement per row (DESIGN §12).
const ROWS_PER_INSERT: usize = 100;
/// Multi-row statements in flight at once.
const INSERTS_IN_FLIGHT: usize = 8;

/// `INSERT .. VALUES ($1..$n)` for many rows: the same statement carrying
/// up to [`ROWS_PER_INSERT`] rows, a few in flight at once.
// A loop over named futures rather than stream adapters with closures: a
// closure over the rows' lifetimes keeps the compiler from proving the
// future `Send`, and `execute_many` must be spawnable.
async fn insert_rows<'p, I>(lease: &Lease<'_>, head: &str, arity: usize, rows: I) -> Result<u64>
where
    I: Iterator<Item = &'p [&'p (dyn ToSql + Sync)]> + Send,
{
    let per_statement = ROWS_PER_INSERT.min(u16::MAX as usize / arity).max(1);
    let mut rows = rows.enumerate();
    let mut in_flight = futures_util::stream::FuturesOrdered::new();
    let mut total = 0;
    loop {
        while in_flight.len() < INSERTS_IN_FLIGHT {
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(per_statement * arity);
            for (index, row) in rows.by_ref().take(per_statement) {
                if row.len() != arity {
                    return Err(Error::Parameter(Box::new(
                        crate::error::DriverError::message_only(format!(
                            "row {index} has {} values for {arity} placeholders",
                            row.len()
                        )),
                    )));
                }
                params.extend_from_slice(row);
            }
            if params.is_empty() {
                break;
            }
            in_flight.push_back(insert_chunk(lease, head, arity, params));
        }
        let Some(done) = in_flight.next().await else {
            return Ok(total);
        };
        total += done?;
    }
}

/// One multi-row INSERT of `params` (whole rows of `arity` values).
async fn insert_chunk(
    lease: &Lease<'_>,
    head: &str,
    arity: usize,
    params: Vec<&(dyn ToSql + Sync)>,
) -> Result<u64> {
    let sql = multi_row_sql(head, arity, params.len() / arity);
    // A plain INSERT of placeholders: nothing for the session check.
    let statement = prepared(lease, Stmt::internal(&sql, None, None)).await?;
    lease
        .client()
        .execute_raw(&statement, bounded(&params))
        .await
        .map_err(|e| Error::from_driver(e, Some(&sql)))
}

/// `head ($1, .., $n), ($n+1, ..), ..` for `rows` rows.
fn multi_row_sql(head: &str, arity: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(head.len() + rows * arity * 6);
    sql.push_str(head);
    for row in 0..rows {
        sql.push_str(if row == 0 { " (" } else { ", (" });
        for col in 0..arity {
            if col > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * arity + col + 1);
        }
        sql.push(')');
    }
    sql
}

/// Runs `work` (statements on `lease`) inside a transaction unless one is
/// already open there, so a multi-statement write applies all or nothing.
pub(crate) async fn atomically<T>(
    lease: &Lease<'_>,
    timeout: Option<Duration>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    lease.settle().await?;
    if lease.tx_depth() > 0 {
        return work.await;
    }
    // The depth is set before BEGIN is sent, so that a drop at any point
    // rolls back.
    let guard = crate::connection::RollbackGuard::new(lease, 0);
    lease.set_tx_depth(1);
    call::control(lease, "BEGIN", timeout, 1, 0).await?;
    let outcome = work.await;
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    // Either way the server leaves the transaction.
    call::control(lease, end, timeout, 0, 0).await?;
    guard.disarm();
    outcome
}

pub(crate) async fn fetch_stream<'a, E: Executor>(
    ex: &'a E,
    sql: &str,
    params: Params<'_>,
) -> Result<RowStream<'a>> {
    // Owned by the stream (for its errors), so the caller's text may go.
    let sql = ex.templates().render(sql)?.into_shared();
    let lease = ex.lease().await?;
    let inner = start_stream(&lease, ex.stmt(&sql), params).await?;
    Ok(RowStream::new(inner, lease, sql))
}

/// Starts streaming an already rendered statement on `lease`: the guard
/// covers the call until the server starts answering; the stream covers
/// the rest.
pub(crate) async fn start_stream(
    lease: &Lease<'_>,
    stmt: Stmt<'_>,
    params: Params<'_>,
) -> Result<tokio_postgres::RowStream> {
    check_count(params.len(), stmt.sql)?;
    let client = lease.client();
    call::run(lease, stmt, |st| async move {
        client.query_raw(&st, bounded(params)).await
    })
    .await
}

/// Rows streamed from the server as they arrive, from `fetch_stream`.
///
/// Holds its connection until the last row; rows are not buffered beyond
/// what the driver's channel holds. Dropping it early cancels the rest of the
/// statement on the server before the connection is used again.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use futures_util::TryStreamExt;
/// let mut rows = db.fetch_stream("SELECT g FROM generate_series(1, 1000000) g", &[]).await?;
/// while let Some(row) = rows.try_next().await? {
///     let g: i32 = row.get(0);
/// }
/// # Ok(()) }
/// ```
pub struct RowStream<'a> {
    inner: Pin<Box<tokio_postgres::RowStream>>,
    ended: bool,
    conn: Lease<'a>,
    sql: std::sync::Arc<str>,
}

impl<'a> RowStream<'a> {
    pub(crate) fn new(
        inner: tokio_postgres::RowStream,
        conn: Lease<'a>,
        sql: std::sync::Arc<str>,
    ) -> Self {
        RowStream {
            inner: Box::pin(inner),
            ended: false,
            conn,
            sql,
        }
    }
}

impl Stream for RowStream<'_> {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(row))) => Poll::Ready(Some(Ok(Row::from(row)))),
            Poll::Ready(Some(Err(e))) => {
                this.ended = true;
                let err = Error::from_driver(e, Some(&this.sql));
                this.conn.note_error(&err);
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for RowStream<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.cut_off(false);
        }
    }
}

impl std::fmt::Debug for RowStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("sql", &&*self.sql)
            .finish()
    }
}

pub(crate) async fn table_exists<E: Executor>(ex: &E, name: &str) -> Result<bool> {
    let (schema, table) = ident::parse_qualified(name)?;
    let schema = schema
        .as_deref()
        .or(ex.templates().schema())
        .unwrap_or("public");
    // Parameters, not string building: the names never become SQL text.
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relname = $2 \
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))";
    let lease = ex.lease_shared().await?;
    let client = lease.client();
    let params: [&(dyn ToSql + Sync); 2] = [&schema, &table];
    let params = &params[..];
    let stmt = Stmt {
        session: Session::Internal,
        ..ex.stmt(sql)
    };
    call::run(&lease, stmt, |st| async move {
        client.query_one(&st, params).await.map(|row| row.get(0))
    })
    .await
}

/// Generates the query methods of a query-capable type as inherent methods
/// forwarding to the one implementation above. `$setup` is the doc examples'
/// line that makes `x` from a `Database` named `db`.
macro_rules! query_methods {
    ($ty:ty, $setup:literal) => {
        impl $ty {
            #[doc = "Runs a statement and returns the number of rows it affected."]
            #[doc = ""]
            #[doc = "`{{tables.name}}` and `{{schema}}` templates are expanded first. An empty or"]
            #[doc = "comment-only statement affects nothing and returns 0."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n = x.execute(\"UPDATE {{tables.users}} SET active = $1\", &[&true]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn execute(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<u64> {
                $crate::executor::execute(self, sql, params).await
            }

            #[doc = "Runs a statement and returns its `id` column (Python's `execute_and_return_id`)."]
            #[doc = ""]
            #[doc = "Appends `RETURNING \"id\"` unless the statement already has a top-level"]
            #[doc = "`RETURNING` (found by lexing, so string literals, quoted identifiers and"]
            #[doc = "comments that contain the word do not count)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let id: i64 = x.execute_returning_id(\"INSERT INTO {{tables.users}} (email) VALUES ($1)\", &[&\"a@b\"]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "execute_and_return_id")]
            pub async fn execute_returning_id<T: $crate::__private::FromSqlOwned>(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<T> {
                $crate::executor::execute_returning_id(self, sql, params).await
            }

            #[doc = "The first column of the first row (Python's `fetch_value`/`fetch_val`)."]
            #[doc = ""]
            #[doc = "With no row, `Option<T>` gives `Ok(None)` and other types [`Error::NotFound`](crate::Error::NotFound)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n: i64 = x.fetch_value(\"SELECT count(*) FROM {{tables.users}}\", &[]).await?;"]
            #[doc = "let name: Option<String> = x.fetch_value(\"SELECT name FROM {{tables.users}} WHERE id = $1\", &[&7i64]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "fetch_val")]
            pub async fn fetch_value<T: $crate::__private::FromSqlOwned>(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<T> {
                $crate::executor::fetch_value_at(self, sql, params, 0usize).await
            }

            #[doc = "One column of the first row, by index or name (Python's `fetch_value(column=..)`)."]
            #[doc = ""]
            #[doc = "A column that does not exist is [`Error::RowMapping`](crate::Error::RowMapping)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let email: String = x.fetch_value_at(\"SELECT id, email FROM {{tables.users}}\", &[], \"email\").await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn fetch_value_at<T: $crate::__private::FromSqlOwned>(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
                column: impl $crate::ColumnIndex,
            ) -> $crate::Result<T> {
                $crate::executor::fetch_value_at(self, sql, params, column).await
            }

            #[doc = "The first row, or `None` (Python's `fetch_one`; further rows are ignored)."]
            #[doc = ""]
            #[doc = "No row is `Ok(None)`, as in Python, not an error; the builders' `one()` is the strict form"]
            #[doc = "(`Error::NotFound` for none, `Error::TooManyRows` for several) and `optional()` the lenient one."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "if let Some(row) = x.fetch_one(\"SELECT * FROM {{tables.users}} WHERE id = $1\", &[&1i64]).await? {"]
            #[doc = "    let email: String = row.get(\"email\");"]
            #[doc = "}"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn fetch_one(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<Option<$crate::Row>> {
                $crate::executor::fetch_one(self, sql, params).await
            }

            #[doc = "Every row of the result."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let rows = x.fetch_all(\"SELECT * FROM {{tables.users}} ORDER BY id\", &[]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn fetch_all(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<Vec<$crate::Row>> {
                $crate::executor::fetch_all(self, sql, params).await
            }

            #[doc = "The rows of the result as a stream, read from the server as they are consumed."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = "use futures_util::TryStreamExt;"]
            #[doc = $setup]
            #[doc = "let mut rows = x.fetch_stream(\"SELECT * FROM {{tables.events}}\", &[]).await?;"]
            #[doc = "while let Some(row) = rows.try_next().await? { /* .. */ }"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn fetch_stream(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<$crate::RowStream<'_>> {
                $crate::executor::fetch_stream(self, sql, params).await
            }

            #[doc = "Runs one statement once per row of parameters (Python's `executemany`)."]
            #[doc = ""]
            #[doc = "The statement is prepared once and the rows are pipelined on one connection,"]
            #[doc = "not a round trip each. Outside a transaction the batch runs in its own, so"]
            #[doc = "it applies all rows or none. Returns the total rows affected."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let people = [(\"a@x\", 30i32), (\"b@x\", 41)];"]
            #[doc = "let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 2]> = people.iter().map(|(e, a)| [e as _, a as _]).collect();"]
            #[doc = "x.execute_many(\"INSERT INTO {{tables.users}} (email, age) VALUES ($1, $2)\", &rows).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "executemany")]
            pub async fn execute_many<'p, P>(&self, sql: &str, rows: &'p [P]) -> $crate::Result<u64>
            where
                P: AsRef<[&'p (dyn $crate::ToSql + Sync)]> + Sync,
            {
                $crate::executor::execute_many_dyn(self, sql, rows.iter().map(|r| r.as_ref())).await
            }

            #[doc = "Whether a table (or view) exists: `\"t\"` in this schema (or `public` without"]
            #[doc = "one), or `\"s.t\"`; quoted names keep their case. Names are sent as parameters."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "assert!(x.table_exists(\"pg_catalog.pg_class\").await?);"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn table_exists(&self, name: &str) -> $crate::Result<bool> {
                $crate::executor::table_exists(self, name).await
            }

            #[doc = "A typed `SELECT` from table `T` in this schema; see [`Select`](crate::Select)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let users: Vec<User> = x.select::<User>().filter(User::EMAIL.eq(\"a@b\")).all().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn select<T: $crate::Table>(&self) -> $crate::Select<'_, T> {
                $crate::Select::new($crate::query::Target::from(self))
            }

            #[doc = "The row of `T` with primary key `key` (a tuple for a composite key), or `None`."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let user: Option<User> = x.find::<User>(&7).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn find<T: $crate::Table>(&self, key: &T::Key) -> $crate::Result<Option<T>> {
                $crate::query::find::<T>($crate::query::Target::from(self), key).await
            }

            #[doc = "A typed `INSERT` of `row` (generated columns left to the database); see [`Insert`](crate::Insert)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let saved: User = x.insert(&User { id: 0, email: \"a@b\".into() }).returning::<User>().one().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn insert<'e, T: $crate::Table>(&'e self, row: &'e T) -> $crate::Insert<'e, T> {
                $crate::Insert::new($crate::query::Target::from(self), std::slice::from_ref(row))
            }

            #[doc = "A typed multi-row `INSERT`, chunked under the 65,535-parameter limit; several chunks run in one transaction."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n = x.insert_many(&users).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn insert_many<'e, T: $crate::Table>(&'e self, rows: &'e [T]) -> $crate::Insert<'e, T> {
                $crate::Insert::new($crate::query::Target::from(self), rows)
            }

            #[doc = "A typed `UPDATE` of table `T`; see [`Update`](crate::Update)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n = x.update::<User>().set(User::EMAIL, \"new@b\").filter(User::ID.eq(7)).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn update<T: $crate::Table>(&self) -> $crate::Update<'_, T> {
                $crate::Update::new($crate::query::Target::from(self))
            }

            #[doc = "Writes every non-key, non-generated column of `row`, matched by its primary key; returns rows updated."]
            #[doc = ""]
            #[doc = "Named for what it takes, a row (SeaORM's `ActiveModel::update`); `update::<T>()` is the"]
            #[doc = "builder for many rows (SeaORM's `update_many`), so the two never share a name."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "x.update_row(&user).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn update_row<T: $crate::Table>(&self, row: &T) -> $crate::Result<u64> {
                $crate::query::update_row($crate::query::Target::from(self), row).await
            }

            #[doc = "A typed `DELETE` from table `T`; see [`Delete`](crate::Delete)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n = x.delete::<User>().filter(User::ID.eq(7)).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn delete<T: $crate::Table>(&self) -> $crate::Delete<'_, T> {
                $crate::Delete::new($crate::query::Target::from(self))
            }

            #[doc = "Deletes the row with `row`'s primary key; returns rows deleted."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "x.delete_row(&user).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn delete_row<T: $crate::Table>(&self, row: &T) -> $crate::Result<u64> {
                $crate::query::delete_row($crate::query::Target::from(self), row).await
            }

            #[doc = "Creates `T`'s table in this schema if it does not exist, from the struct: see"]
            #[doc = "[`create_table_sql`](crate::create_table_sql) for the types, keys and defaults."]
            #[doc = "Meant for tests and prototypes; migrations own production schemas."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "x.create_table::<User>().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn create_table<T: $crate::Table>(&self) -> $crate::Result<()> {
                $crate::ddl::create_table::<T>($crate::query::Target::from(self)).await
            }

            #[doc = "Creates enum `E`'s PostgreSQL type in this schema (`\"schema\".\"type_name\"`, so each tenant"]
            #[doc = "has its own) unless a type of that name is there already; nothing for a `#[pgdbm(text)]`"]
            #[doc = "enum. An existing type is left as it is: add labels with a migration"]
            #[doc = "(`ALTER TYPE .. ADD VALUE`). Safe inside a transaction and from two services at once."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Enum, Debug)] enum Status { Pending, Paid }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "x.create_enum::<Status>().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn create_enum<E: $crate::Enum>(&self) -> $crate::Result<()> {
                $crate::enums::create_enum::<E>($crate::query::Target::from(self)).await
            }

            #[doc = "belongs_to without N+1: the `C` rows whose primary key is `key(parent)` for some parent,"]
            #[doc = "in one query (`WHERE \"schema\".\"c\".\"id\" = ANY($1)`, the distinct keys as one array),"]
            #[doc = "by key. `C` needs a single-column primary key (with a composite key this does not compile:"]
            #[doc = "use [`load_many`](Self::load_many) on one column); no parents, no query."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key, generated)] id: i64, name: String }"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key, generated)] id: i64, customer_id: i64 }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let invoices: Vec<Invoice> = x.select::<Invoice>().all().await?;"]
            #[doc = "let customers = x.load_related::<Customer, _, _>(&invoices, |i| i.customer_id).await?;"]
            #[doc = "for invoice in &invoices {"]
            #[doc = "    let customer: Option<&Customer> = customers.get(&invoice.customer_id);"]
            #[doc = "}"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn load_related<C, P, K>(
                &self,
                parents: &[P],
                key: impl Fn(&P) -> K,
            ) -> $crate::Result<std::collections::HashMap<K, C>>
            where
                C: $crate::Table<Key = K>,
                K: $crate::RelationKey,
            {
                let keys = $crate::query::keys_of(parents, key);
                $crate::query::load_related::<C, K>($crate::query::Target::from(self), keys).await
            }

            #[doc = "[`load_related`](Self::load_related) through a `#[pgdbm(belongs_to = C)]` field: the `C` rows"]
            #[doc = "`children` point at, by key, in one query. NULL foreign keys are skipped."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key, generated)] id: i64, name: String }"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key, generated)] id: i64, #[pgdbm(belongs_to = Customer)] customer_id: i64 }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let invoices: Vec<Invoice> = x.select::<Invoice>().all().await?;"]
            #[doc = "let customers = x.load_belongs_to::<Customer, _>(&invoices).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn load_belongs_to<C, P>(
                &self,
                children: &[P],
            ) -> $crate::Result<std::collections::HashMap<C::Key, C>>
            where
                C: $crate::Table,
                C::Key: $crate::RelationKey,
                P: $crate::BelongsTo<C>,
            {
                let keys = $crate::query::foreign_keys_of::<P, C>(children);
                $crate::query::load_related::<C, C::Key>($crate::query::Target::from(self), keys).await
            }

            #[doc = "has_many without N+1: the `C` rows whose `column` is `key(parent)` for some parent, in"]
            #[doc = "one query (`= ANY($1)`), grouped by that key, each group in `C`'s primary key order."]
            #[doc = "A parent without children has no entry."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key, generated)] id: i64, name: String }"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key, generated)] id: i64, customer_id: i64 }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let customers: Vec<Customer> = x.select::<Customer>().all().await?;"]
            #[doc = "let invoices = x.load_many(&customers, |c| c.id, Invoice::CUSTOMER_ID).await?;"]
            #[doc = "for customer in &customers {"]
            #[doc = "    let theirs: &[Invoice] = invoices.get(&customer.id).map_or(&[], Vec::as_slice);"]
            #[doc = "}"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn load_many<C, P, K, F>(
                &self,
                parents: &[P],
                key: impl Fn(&P) -> K,
                column: $crate::Column<C, K, F>,
            ) -> $crate::Result<std::collections::HashMap<K, Vec<C>>>
            where
                C: $crate::Table,
                K: $crate::RelationKey,
            {
                let keys = $crate::query::keys_of(parents, key);
                $crate::query::load_many($crate::query::Target::from(self), keys, column).await
            }

            #[doc = "Runs a hand-built sea-query statement; returns rows affected."]
            #[doc = ""]
            #[doc = "Tables the audit can see (FROM, INTO, UPDATE, DELETE FROM, JOIN tables) must carry"]
            #[doc = "this manager's schema (use [`table_ref`](Self::table_ref)), else"]
            #[doc = "[`Error::UnqualifiedTable`](crate::Error::UnqualifiedTable) and nothing is sent. The audit"]
            #[doc = "does not see subqueries in WHERE or column qualifiers: for strict enforcement pin"]
            #[doc = "`search_path` to `pg_catalog` in `server_settings`."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = "use pgdbm::sea_query::{Query, Expr, ExprTrait};"]
            #[doc = $setup]
            #[doc = "let stmt = Query::delete().from_table(x.table_ref::<User>()).and_where(Expr::col(\"id\").lt(10)).to_owned();"]
            #[doc = "x.run(&stmt).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn run<S>(&self, statement: &S) -> $crate::Result<u64>
            where
                S: $crate::sea_query::QueryStatementWriter + $crate::sea_query::audit::AuditTrait + Sync,
            {
                $crate::query::run_statement($crate::query::Target::from(self), statement).await
            }

            #[doc = "A sea-query table reference to `T` qualified with this schema."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64 }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let users = x.table_ref::<User>();"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn table_ref<T: $crate::Table>(&self) -> $crate::sea_query::TableRef {
                use $crate::executor::Executor as _;
                $crate::query::table_ref::<T>(self.templates().schema())
            }

            #[doc = "The first row of a raw templated query as `R` (Python's `fetch_as_model`), or `None`."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::FromRow)] struct Stat { name: String, n: i64 }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let s: Option<Stat> = x.fetch_as(\"SELECT 'users' AS name, count(*) AS n FROM {{tables.users}}\", &[]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "fetch_as_model")]
            pub async fn fetch_as<R: $crate::FromRow>(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<Option<R>> {
                $crate::query::fetch_as($crate::query::Target::from(self), sql, params).await
            }

            #[doc = "Every row of a raw templated query as `R` (Python's `fetch_all_as_model`)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let pairs: Vec<(i64, String)> = x.fetch_all_as(\"SELECT id, email FROM {{tables.users}}\", &[]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "fetch_all_as_model")]
            pub async fn fetch_all_as<R: $crate::FromRow>(
                &self,
                sql: &str,
                params: $crate::Params<'_>,
            ) -> $crate::Result<Vec<R>> {
                $crate::query::fetch_all_as($crate::query::Target::from(self), sql, params).await
            }

            #[doc = "The SQL a template expands to here (Python's `prepare_query`)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "println!(\"{}\", x.render(\"SELECT * FROM {{tables.users}}\")?);"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            #[doc(alias = "prepare_query")]
            pub fn render(&self, sql: &str) -> $crate::Result<String> {
                use $crate::executor::Executor as _;
                Ok(self.templates().render(sql)?.to_string())
            }

            #[doc = "Bulk-loads records into `table` with binary `COPY .. FROM STDIN` (Python's `copy_records_to_table`)."]
            #[doc = ""]
            #[doc = "`table` is `\"t\"` (in this manager's schema) or `\"s.t\"`, read as PostgreSQL reads a name"]
            #[doc = "(unquoted folds to lower case, `\"Quoted\"` keeps its case); `columns` are exact names,"]
            #[doc = "always quoted; an empty list means every column of the table but the generated ones."]
            #[doc = "Each record holds one value per column, in column order: a tuple of values, an array"]
            #[doc = "or a `Vec` of `&(dyn ToSql + Sync)`, a `Vec` of boxed values, a reference to any of"]
            #[doc = "these, or a type of your own (see [`CopyRecord`](crate::CopyRecord)). Records are"]
            #[doc = "encoded as the iterator yields them, never collected. Returns the number of rows copied."]
            #[doc = ""]
            #[doc = "Column types come from the server: the first COPY into a table describes it (one round"]
            #[doc = "trip), and the pool caches the description. Later COPYs check it against the catalog"]
            #[doc = "in the same round trip as the COPY's start, and every COPY first locks its table in"]
            #[doc = "the mode the COPY takes anyway (`ROW EXCLUSIVE`), so an `ALTER TABLE` is never missed: a"]
            #[doc = "changed table is described again before any record is written. (Each COPY describes"]
            #[doc = "its table inside a `REPEATABLE READ` or `SERIALIZABLE` transaction, where the catalog"]
            #[doc = "is read as of the transaction's snapshot, and on a connection whose session state raw"]
            #[doc = "SQL changed, which could have opened such a transaction or changed `search_path`.)"]
            #[doc = ""]
            #[doc = "The COPY is all or nothing: a bad record fails it and nothing is written. A value of"]
            #[doc = "the wrong Rust type, or a record of the wrong width, is"]
            #[doc = "[`Error::Parameter`](crate::Error::Parameter) naming the record's index (from 0) and"]
            #[doc = "the column; a missing table or column and constraint violations are the usual typed"]
            #[doc = "errors. Inside a transaction the COPY runs under a savepoint of its own, so a failed"]
            #[doc = "COPY leaves the transaction usable; outside one, in a transaction of its own."]
            #[doc = ""]
            #[doc = "A missing table, a lock or statement timeout while waiting for the table, a missing"]
            #[doc = "privilege, a read-only transaction, a column named twice and a generated column named"]
            #[doc = "in `columns` are found before the COPY is sent. One exception remains, from a"]
            #[doc = "tokio-postgres bug (rust-postgres#789): a COPY the server still refuses before it starts"]
            #[doc = "(a role that may update the table but not insert into it, a column named in `columns`"]
            #[doc = "dropped or renamed since an earlier COPY described it, a COPY on a `Conn` whose raw SQL"]
            #[doc = "opened a transaction) costs its connection. The error is still the server's and the pool replaces the"]
            #[doc = "connection, but a transaction or [`Conn`](crate::Conn) it ran on is lost: later calls"]
            #[doc = "on it fail with [`Error::ConnectionClosed`](crate::Error::ConnectionClosed) (after a"]
            #[doc = "timeout the server may still have started the COPY, and then the connection lives on)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let people = vec![(1i64, \"a@x\".to_string()), (2, \"b@x\".to_string())];"]
            #[doc = "let n = x.copy_records_to_table(\"users\", &[\"id\", \"email\"], &people).await?;"]
            #[doc = "assert_eq!(n, 2);"]
            #[doc = "// Values of different types chosen at run time, as references."]
            #[doc = "let (id, email) = (3i64, \"c@x\");"]
            #[doc = "let row: [&(dyn pgdbm::ToSql + Sync); 2] = [&id, &email];"]
            #[doc = "x.copy_records_to_table(\"users\", &[\"id\", \"email\"], [row]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn copy_records_to_table<I, R>(
                &self,
                table: &str,
                columns: &[&str],
                records: I,
            ) -> $crate::Result<u64>
            where
                I: IntoIterator<Item = R>,
                R: $crate::CopyRecord,
            {
                $crate::copy::copy_records_to_table(self, table, columns, records).await
            }

            #[doc = "Bulk-loads models into `T`'s table in this schema with binary COPY; returns the rows copied."]
            #[doc = ""]
            #[doc = "Every column of `T` except the `generated` ones is written. Same behaviour as"]
            #[doc = "[`copy_records_to_table`](Self::copy_records_to_table): streamed, all or nothing,"]
            #[doc = "under a savepoint inside a transaction."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let n = x.copy_in(&users).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn copy_in<'r, T: $crate::Table>(
                &self,
                rows: impl IntoIterator<Item = &'r T>,
            ) -> $crate::Result<u64> {
                $crate::copy::copy_in(self, rows).await
            }

            #[doc = "Bulk-loads owned models from a stream into `T`'s table, as [`copy_in`](Self::copy_in) does."]
            #[doc = ""]
            #[doc = "Rows are written as the stream yields them, so a load never sits in memory whole."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = $setup]
            #[doc = "let users = futures_util::stream::iter((0..1_000).map(|i| User { id: 0, email: format!(\"u{i}@x\") }));"]
            #[doc = "let n = x.copy_in_stream(users).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn copy_in_stream<T, S>(&self, rows: S) -> $crate::Result<u64>
            where
                T: $crate::Table,
                S: futures_util::Stream<Item = T> + Send,
            {
                $crate::copy::copy_in_stream(self, rows).await
            }

            #[doc = "Streams the rows of a query with binary `COPY (query) TO STDOUT`, decoded into `R`."]
            #[doc = ""]
            #[doc = "Templates are expanded; trailing `;` are dropped. COPY takes no bind parameters, so"]
            #[doc = "this takes none: use [`fetch_stream`](Self::fetch_stream) for a parameterized query."]
            #[doc = "Columns are matched (by name for a struct, by position for a tuple) and"]
            #[doc = "type-checked once, before the first row. Inside a transaction an error aborts the"]
            #[doc = "transaction, as for any query. See [`CopyOutStream`](crate::CopyOutStream)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = "use futures_util::TryStreamExt;"]
            #[doc = $setup]
            #[doc = "let ids: Vec<(i64,)> = x.copy_out_query::<(i64,)>(\"SELECT id FROM {{tables.users}}\").await?.try_collect().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn copy_out_query<R: $crate::FromRow>(
                &self,
                select_sql: &str,
            ) -> $crate::Result<$crate::CopyOutStream<'_, R>> {
                $crate::copy::copy_out_query(self, select_sql).await
            }

            #[doc = "Streams every row of `T`'s table in this schema with binary COPY."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# #[derive(pgdbm::Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = "use futures_util::TryStreamExt;"]
            #[doc = $setup]
            #[doc = "let users: Vec<User> = x.copy_out::<User>().await?.try_collect().await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub async fn copy_out<T: $crate::Table>(
                &self,
            ) -> $crate::Result<$crate::CopyOutStream<'_, T>> {
                $crate::copy::copy_out(self).await
            }

            #[doc = "The named prepared statement `name` of this schema, to run by name (see"]
            #[doc = "[`Database::add_prepared_statement`](crate::Database::add_prepared_statement))."]
            #[doc = ""]
            #[doc = "A name never added for this schema is [`Error::UnknownStatement`](crate::Error::UnknownStatement)."]
            #[doc = ""]
            #[doc = "```no_run"]
            #[doc = "# async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {"]
            #[doc = "db.add_prepared_statement(\"user_email\", \"SELECT email FROM {{tables.users}} WHERE id = $1\")?;"]
            #[doc = $setup]
            #[doc = "let email: Option<String> = x.prepared(\"user_email\")?.fetch_value(&[&7i64]).await?;"]
            #[doc = "# Ok(()) }"]
            #[doc = "```"]
            pub fn prepared(&self, name: &str) -> $crate::Result<$crate::Prepared<'_>> {
                $crate::Prepared::lookup(self.into(), name)
            }
        }
    };
}
pub(crate) use query_methods;
