//! Binary COPY: bulk loads into a table (`COPY .. FROM STDIN`) and streamed
//! exports of a query (`COPY (..) TO STDOUT`), both in PostgreSQL's binary
//! format.
//!
//! Binary COPY carries no types: the client must encode each value as the
//! column's type, so the types come from the server. They are cached per
//! pool and table, and a cached entry is checked against the catalog in the
//! same round trip as the COPY's start (see [`start_copy`]). Rows are
//! encoded as the caller's iterator or stream yields them, never collected.
//!
//! A COPY runs like any other call, through the call guard: the connection
//! is settled first, a COPY cut off (timeout, dropped future) is cancelled
//! and drained by the connection's recovery, and the call's timeout
//! applies; only while the server has not yet accepted or refused a COPY is
//! a cut-off connection given up (see [`start_copy_in`]). Inside a transaction a
//! COPY FROM runs under a savepoint of its own, so a failed COPY leaves the
//! transaction usable.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::future::{join, try_join};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio_postgres::CopyInSink;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Row, SimpleQueryMessage, Statement};

use crate::call::{Fragile, Session, Stmt, control, guarded, internal_statement, record_rows};
use crate::conn::Lease;
use crate::connection::{PgConnection, RollbackGuard, rollback_sql, savepoint_name};
use crate::error::{DriverError, Error, Result};
use crate::executor::Executor;
use crate::table::{FromRow, Table, resolve};
use crate::{ident, lex};

mod columns;
mod encode;
mod record;

pub(crate) use columns::ColumnCache;
use columns::{CATALOG_COLUMNS, Described, Fingerprint};
use encode::{HEADER, RowEncoder, RowError, TRAILER};
pub use record::CopyRecord;

/// `LOCK TABLE` in the mode a COPY FROM takes anyway (and with the
/// privilege it needs anyway), so that taking it first blocks nothing more.
fn lock_sql(table: &str) -> String {
    format!("LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
}

/// Opens what a COPY at transaction depth `depth` runs in, with `table`
/// locked until it ends: a savepoint inside a transaction, so that a failed
/// COPY leaves the transaction usable, else a transaction of its own. Tells
/// whether the transaction reads the catalog as last committed (see
/// [`start_copy`]).
///
/// The lock is why the scope exists: from before the table is described or
/// its cached description checked until the COPY ends, no `ALTER TABLE` can
/// change a column's type under it (binary COPY would then write a value as
/// the old type). A missing table is reported here, by the server, before
/// any COPY is sent.
///
/// As for a nested transaction, the depth is recorded before anything is
/// sent and the returned guard owes the rollback to `depth` if the COPY is
/// dropped before [`close_scope`] disarms it.
async fn open_scope<'c>(
    conn: &'c Lease<'_>,
    depth: u32,
    table: &str,
    timeout: Option<Duration>,
) -> Result<(RollbackGuard<'c>, bool)> {
    let open = if depth == 0 {
        "BEGIN".to_owned()
    } else {
        format!("SAVEPOINT {}", savepoint_name(depth + 1))
    };
    // The lock, the isolation level and the access mode ride along in the
    // same round trip.
    let sql = format!(
        "{open}; {}; SELECT pg_catalog.current_setting('transaction_isolation'), \
         pg_catalog.current_setting('transaction_read_only')",
        lock_sql(table)
    );
    let guard = RollbackGuard::new(conn, depth);
    conn.set_tx_depth(depth + 1);
    let answer = guarded(conn, Stmt::internal(&sql, timeout, None), None, async {
        conn.client()
            .simple_query(&sql)
            .await
            .map_err(|e| Error::from_driver(e, Some(&sql)))
    })
    .await;
    match answer {
        Ok(messages) => {
            let setting = |i| {
                messages.iter().find_map(|m| match m {
                    SimpleQueryMessage::Row(row) => row.get(i),
                    _ => None,
                })
            };
            if setting(1) != Some("on") {
                return Ok((guard, fresh_catalog_reads(setting(0))));
            }
            // The lock is allowed in a read-only transaction, the COPY is
            // not, and the server would refuse it before copy mode (see
            // `start_copy_in`): refuse it here, as the server words it.
            let _ = close_scope(conn, guard, depth, timeout, false).await;
            Err(Error::database(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot execute COPY FROM in a read-only transaction",
                &format!("COPY {table} FROM STDIN"),
            ))
        }
        Err(e) => {
            // The server refused it. In a transaction that had already
            // failed, the savepoint was never made; otherwise the lock was
            // refused (a missing table, a lock timeout) inside the scope,
            // which is rolled back. After a timeout or a lost connection the
            // state is unknown and the guard leaves the rollback owed.
            let Some(db) = e.database_error() else {
                return Err(e);
            };
            if depth == 0 || db.code() != SqlState::IN_FAILED_SQL_TRANSACTION.code() {
                let _ = close_scope(conn, guard, depth, timeout, false).await;
            } else {
                conn.set_tx_depth(depth);
                guard.disarm();
            }
            Err(e.schema_missing_as_table())
        }
    }
}

/// After a COPY in the scope [`open_scope`] opened at `depth` was
/// abandoned: back to the scope's start, with `table` locked again (a
/// rollback releases the locks taken in it).
fn relock_sql(depth: u32, table: &str) -> String {
    if depth == 0 {
        format!("ROLLBACK; BEGIN; {}", lock_sql(table))
    } else {
        format!(
            "ROLLBACK TO SAVEPOINT {}; {}",
            savepoint_name(depth + 1),
            lock_sql(table)
        )
    }
}

/// Whether a transaction at `isolation` takes a new snapshot for each
/// statement, so that a query of the catalog sees the table as a COPY
/// started next will (read uncommitted is read committed in PostgreSQL).
/// Under repeatable read and serializable the catalog is read as of the
/// transaction's snapshot, while the COPY sees the table as last committed.
fn fresh_catalog_reads(isolation: Option<&str>) -> bool {
    matches!(isolation, Some("read committed" | "read uncommitted"))
}

/// Ends the COPY's scope: commits its transaction or releases its
/// savepoint (`ok`), or rolls it back. On failure the guard leaves the
/// rollback owed.
async fn close_scope(
    conn: &Lease<'_>,
    guard: RollbackGuard<'_>,
    depth: u32,
    timeout: Option<Duration>,
    ok: bool,
) -> Result<()> {
    // A refused COMMIT ends the transaction anyway; a refused savepoint
    // command leaves the savepoint for the rollback owed.
    let (sql, refused) = match (ok, depth) {
        (true, 0) => ("COMMIT".to_owned(), 0),
        (true, _) => (
            format!("RELEASE SAVEPOINT {}", savepoint_name(depth + 1)),
            depth + 1,
        ),
        (false, _) => (rollback_sql(depth), depth + 1),
    };
    control(conn, sql, timeout, depth, refused).await?;
    guard.disarm();
    Ok(())
}

/// `names` as a quoted, comma-separated column list.
fn column_list<'n>(names: impl IntoIterator<Item = &'n str>) -> String {
    let mut out = String::new();
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        ident::quote_into(&mut out, name);
    }
    out
}

/// Where a COPY FROM writes.
#[derive(Debug)]
struct Target {
    /// `"schema"."table"`, or `"table"` without a schema.
    table: String,
    /// Column names, exactly as stored; empty: every column of the table.
    columns: Vec<String>,
}

impl Target {
    /// The table named by `table` (see [`ident::parse_qualified`]; without a
    /// schema, the manager's) and the exact column names `columns`.
    fn parse(table: &str, columns: &[&str], schema: Option<&str>) -> Result<Target> {
        let (own_schema, name) = ident::parse_qualified(table)?;
        let schema = own_schema.as_deref().or(schema);
        let columns = columns
            .iter()
            .map(|c| ident::validate("column", c).map(|()| (*c).to_owned()))
            .collect::<Result<Vec<_>>>()?;
        // The server would refuse the COPY before copy mode, which costs the
        // connection (see `start_copy_in`): refuse it here instead.
        if let Some(twice) = columns
            .iter()
            .enumerate()
            .find_map(|(i, c)| columns[..i].contains(c).then_some(c))
        {
            return Err(Error::identifier("column", twice, "is named twice"));
        }
        Ok(Target {
            table: ident::qualified(schema, &name),
            columns,
        })
    }

    /// The COPY as far as it is known before the server describes the
    /// table (the column list, when given), for errors.
    fn label(&self) -> String {
        if self.columns.is_empty() {
            self.copy_sql(None::<[&str; 0]>)
        } else {
            self.copy_sql(Some(self.columns.iter().map(String::as_str)))
        }
    }

    /// `COPY .. FROM STDIN` into `columns`, or into the table's default
    /// column list when `None`.
    fn copy_sql<'n>(&self, columns: Option<impl IntoIterator<Item = &'n str>>) -> String {
        match columns {
            Some(names) => format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                self.table,
                column_list(names)
            ),
            None => format!("COPY {} FROM STDIN (FORMAT binary)", self.table),
        }
    }
}

/// One row for a COPY FROM.
trait CopyRow {
    /// Appends the row to `out`, its values encoded as `types` (one per
    /// column); `plan` holds the model's columns to take, in order (records
    /// ignore it).
    fn encode(&self, plan: &[usize], types: &[Type], out: &mut BytesMut) -> Result<(), RowError>;
}

/// A caller's record: one value per column, in column order.
struct Record<R>(R);

impl<R: CopyRecord> CopyRow for Record<R> {
    fn encode(&self, _: &[usize], types: &[Type], out: &mut BytesMut) -> Result<(), RowError> {
        let record = &self.0;
        let mut row = RowEncoder::start(out, types, record.width())?;
        for column in 0..types.len() {
            row.value(column, record.value(column))?;
        }
        Ok(())
    }
}

/// A model, owned or borrowed.
struct Model<B, T>(B, PhantomData<fn() -> T>);

impl<B: Borrow<T>, T: Table> CopyRow for Model<B, T> {
    fn encode(&self, plan: &[usize], types: &[Type], out: &mut BytesMut) -> Result<(), RowError> {
        let model = self.0.borrow();
        let mut row = RowEncoder::start(out, types, plan.len())?;
        for (column, &field) in plan.iter().enumerate() {
            row.value(column, model.value(field).as_sql())?;
        }
        Ok(())
    }
}

// The row sources below are named types rather than `map` adapters with
// closures: a closure over the rows' lifetimes inside the COPY future makes
// the compiler fail to prove that future `Send` (a known limitation with
// higher-ranked lifetimes), and COPY futures must be spawnable.

/// Records from an iterator.
struct Records<I>(I);

// Nothing is pinned structurally: the iterator is only used by `&mut`.
impl<I> Unpin for Records<I> {}

// No bound on the records here: an associated type that needs one (tied to
// the records' lifetimes) could again defeat the `Send` proof.
impl<I: Iterator> Stream for Records<I> {
    type Item = Record<I::Item>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().0.next().map(Record))
    }
}

/// Models from an iterator (borrowed) or a stream (owned, boxed so that
/// any stream can be polled).
enum Models<I, S, T> {
    Iter(I, PhantomData<fn() -> T>),
    Stream(Pin<Box<S>>),
}

// Nothing is pinned structurally: the iterator is only used by `&mut`, the
// stream is pinned in its box.
impl<I, S, T> Unpin for Models<I, S, T> {}

impl<I: Iterator, S: Stream<Item = T>, T> Stream for Models<I, S, T> {
    type Item = Model<Either<I::Item, T>, T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = match self.get_mut() {
            Models::Iter(rows, _) => rows.next().map(Either::Left),
            Models::Stream(rows) => ready!(rows.as_mut().poll_next(cx)).map(Either::Right),
        };
        Poll::Ready(next.map(|row| Model(row, PhantomData)))
    }
}

/// A borrowed or an owned model.
enum Either<B, T> {
    Left(B),
    Right(T),
}

impl<B: Borrow<T>, T> Borrow<T> for Either<B, T> {
    fn borrow(&self) -> &T {
        match self {
            Either::Left(row) => row.borrow(),
            Either::Right(row) => row,
        }
    }
}

/// The error for row `index` (counted from 0 in input order), naming the
/// column whose value could not be encoded.
fn row_error(err: RowError, index: u64, columns: &[String]) -> Error {
    let message = match err {
        RowError::Width(n) => format!(
            "row {index}: {n} values for {} columns ({})",
            columns.len(),
            column_list(columns.iter().map(String::as_str))
        ),
        RowError::Value { column, cause } => match columns.get(column) {
            Some(name) => format!("row {index}, column {name:?}: {cause}"),
            None => format!("row {index}: {cause}"),
        },
    };
    Error::Parameter(Box::new(DriverError::message_only(message)))
}

/// Prepares `sql` without caching it: its description is the point, and
/// must be as fresh as the table. Errors are reported against `copy_sql`,
/// the statement the caller asked for.
async fn describe(conn: &PgConnection, sql: &str, copy_sql: &str) -> Result<Statement> {
    conn.client()
        .prepare(sql)
        .await
        .map_err(|e| Error::from_driver(e, Some(copy_sql)))
}

/// How long to wait for a connection that a refused COPY has doomed to
/// close (one round trip, normally).
const DOOMED_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Starts `COPY .. FROM STDIN` (the statement cached like any other).
///
/// If the server refuses the COPY before entering copy mode (no INSERT
/// privilege, a generated column in the list, a read-only transaction, a
/// lock timeout), tokio-postgres' `copy_in` leaves one `ReadyForQuery` more
/// than it expects on the connection (it sends a `Sync` with the COPY and
/// another with the `CopyFail`; rust-postgres issue #789), and the driver
/// then drops the connection as out of sync. Nothing can absorb that
/// message through the driver's API, so the connection is marked broken
/// and its end awaited, so that later calls on it fail as closed instead
/// of reading answers meant for others. The common causes never get here:
/// the scope's `LOCK TABLE` (see [`open_scope`]) reports a missing table, a
/// lock timeout, a read-only transaction and most missing privileges
/// first, [`Target::parse`] a column named twice, and [`start_copy`] a
/// generated column in the list. What is left: a role that may update but
/// not insert, and a COPY on a connection whose raw SQL opened a
/// transaction pgdbm does not know of.
async fn start_copy_in(conn: &PgConnection, sql: &str, fragile: &Fragile) -> Result<CopySink> {
    let statement = internal_statement(conn, sql).await?;
    fragile.set(true);
    match conn.client().copy_in(&statement).await {
        Ok(sink) => {
            // In copy mode: dropping the sink sends CopyFail, which ends the
            // COPY, and a cancel brings the connection back in step.
            fragile.set(false);
            Ok(sink)
        }
        Err(e) => Err(copy_refused(conn, e, sql, fragile).await),
    }
}

/// The error of a COPY that did not enter copy mode; the connection is
/// given up when the server refused it (see [`start_copy_in`]).
async fn copy_refused(
    conn: &PgConnection,
    e: tokio_postgres::Error,
    sql: &str,
    fragile: &Fragile,
) -> Error {
    if e.as_db_error().is_some() {
        give_up(conn, fragile).await;
    }
    fragile.set(false);
    Error::from_driver(e, Some(sql))
}

/// Gives up a connection that is, or may be, one answer out of step: marks
/// it broken and waits (boundedly) for the driver to drop it, which it does
/// when the extra answer arrives, so that a call made on it afterwards
/// fails as closed rather than reading an answer meant for another request.
async fn give_up(conn: &PgConnection, fragile: &Fragile) {
    fragile.doom();
    conn.mark_broken();
    let closed = tokio::time::timeout(DOOMED_CLOSE_WAIT, async {
        while !conn.client().is_closed() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let _ = closed.await;
}

/// The driver's end of a COPY FROM in copy mode. Dropped unfinished, it
/// sends CopyFail.
type CopySink = CopyInSink<Bytes>;

/// A started COPY FROM: the sink, and the COPY's statement, columns and
/// types.
struct Started {
    sink: CopySink,
    described: Arc<Described>,
}

/// How a COPY may use the pool's [`ColumnCache`].
struct CacheUse<'a> {
    cache: &'a ColumnCache,
    /// The COPY as requested: the cache key.
    key: &'a str,
    /// The table is locked for the COPY and a query of the catalog sees it
    /// as the COPY will (a snapshot per statement).
    trusted: bool,
    /// The depth the COPY's scope (see [`open_scope`]) was opened at.
    scope: Option<u32>,
}

/// Starts the COPY with the target's columns and types: cached ones,
/// confirmed fresh, or described by the server.
///
/// Binary COPY carries no types, and a description taken before an
/// `ALTER TABLE` would make a value be written as another type, silently
/// when both have the same width. So a cached description is used only if
/// the catalog still lists the same columns and types (its
/// [`Fingerprint`]). That check costs no round trip of its own: the catalog
/// query (which never fails) is sent just ahead of the COPY, in one
/// pipeline, and read before any row is written. The scope's lock (see
/// [`open_scope`]) keeps the table as the catalog showed it until the COPY
/// ends. If the table changed since it was cached, the started COPY is
/// abandoned (dropping the sink sends CopyFail, so nothing is written), the
/// scope rolled back to its start and the table locked again, and the table
/// is described afresh.
///
/// A cached COPY naming a column that was dropped or renamed since is
/// refused before copy mode and costs its connection, as any refused COPY
/// does (see [`start_copy_in`]); the entry is dropped, so the next COPY
/// describes the table and gets the server's error without that cost. A
/// COPY without a column list is cached without one, so a changed table
/// only fails the catalog check.
async fn start_copy(
    conn: &Lease<'_>,
    target: &Target,
    cache: &CacheUse<'_>,
    fragile: &Fragile,
) -> Result<Started> {
    if cache.trusted {
        if let Some(described) = cache.cache.get(cache.key) {
            match start_cached(conn, target, &described, fragile).await {
                Ok(Some(sink)) => return Ok(Started { sink, described }),
                Ok(None) => {
                    cache.cache.remove(cache.key);
                    if let Some(depth) = cache.scope {
                        // Inside the COPY's own call and timer.
                        let relock = relock_sql(depth, &target.table);
                        conn.client()
                            .batch_execute(&relock)
                            .await
                            .map_err(|e| Error::from_driver(e, Some(&relock)))?;
                    }
                }
                Err(e) => {
                    cache.cache.remove(cache.key);
                    return Err(e);
                }
            }
        }
    }
    let described = describe_target(conn, target, cache.cache).await?;
    // The server would refuse the COPY before copy mode, which costs the
    // connection (see `start_copy_in`). Only where the catalog is read as
    // the COPY sees the table: an older snapshot could miss a new column.
    if cache.trusted {
        if let Some(column) = target
            .columns
            .iter()
            .find(|c| !described.fingerprint.lists(c))
        {
            return Err(Error::identifier(
                "column",
                column,
                "is a generated or system column, which COPY cannot write",
            ));
        }
    }
    let sink = start_copy_in(conn, &described.sql, fragile).await?;
    let described = Arc::new(described);
    if cache.trusted {
        cache.cache.insert(cache.key, Arc::clone(&described));
    }
    Ok(Started { sink, described })
}

/// Starts the cached COPY with the catalog query ahead of it; `None` (and
/// the COPY abandoned) if the catalog no longer matches `described`.
async fn start_cached(
    conn: &PgConnection,
    target: &Target,
    described: &Described,
    fragile: &Fragile,
) -> Result<Option<CopySink>> {
    // Prepared once per connection, both in one round trip.
    let (catalog, copy) = try_join(
        internal_statement(conn, CATALOG_COLUMNS),
        internal_statement(conn, &described.sql),
    )
    .await?;
    fragile.set(true);
    let client = conn.client();
    let table = target.table.as_str();
    // Polled in this order, so sent in this order, in one pipeline; the
    // scope's lock keeps the table as the catalog shows it.
    let (current, started) = join(client.query(&catalog, &[&table]), client.copy_in(&copy)).await;
    let sink = match started {
        Ok(sink) => sink,
        Err(e) => return Err(copy_refused(conn, e, &described.sql, fragile).await),
    };
    fragile.set(false);
    // On an error the sink is dropped: the COPY fails and writes nothing.
    let current = current.map_err(|e| Error::from_driver(e, Some(CATALOG_COLUMNS)))?;
    if described.fingerprint.matches(&current) {
        return Ok(Some(sink));
    }
    drop(sink);
    Ok(None)
}

/// The fingerprint in an answer to [`CATALOG_COLUMNS`].
fn fingerprint(rows: std::result::Result<Vec<Row>, tokio_postgres::Error>) -> Result<Fingerprint> {
    let rows = rows.map_err(|e| Error::from_driver(e, Some(CATALOG_COLUMNS)))?;
    Fingerprint::read(&rows).ok_or_else(|| {
        Error::Parameter(Box::new(DriverError::message_only(
            "unexpected catalog columns for a COPY",
        )))
    })
}

/// Describes `target`: its columns (the insertable ones when none are
/// named), their types, and the catalog's fingerprint of the table.
///
/// The types come from preparing `SELECT <columns> FROM <table> LIMIT 0`
/// (never executed, so no SELECT privilege is needed), which reports a
/// missing table or column as the server's error. It cannot share a
/// pipeline with the COPY: if it failed, the COPY behind it would be
/// refused before copy mode (see [`start_copy_in`]), and its type look-ups
/// for custom types would wait behind the COPY. The fingerprint is read in
/// the same round trip (before it, without a column list, for the names);
/// the scope's lock keeps both true until the COPY ends.
async fn describe_target(
    conn: &PgConnection,
    target: &Target,
    cache: &ColumnCache,
) -> Result<Described> {
    cache.count_describe();
    let catalog = internal_statement(conn, CATALOG_COLUMNS).await?;
    let client = conn.client();
    let table = target.table.as_str();
    let named = !target.columns.is_empty();
    // Without a column list the names come from the catalog first.
    let before = if named {
        None
    } else {
        Some(fingerprint(client.query(&catalog, &[&table]).await)?)
    };
    let columns = match &before {
        Some(fingerprint) => fingerprint.names(),
        None => target.columns.clone(),
    };
    // Without a list, the COPY writes exactly the columns the fingerprint
    // lists, and a cached one survives a renamed or dropped column (the
    // check then fails in copy mode instead of the server refusing it).
    let sql = if named {
        target.copy_sql(Some(columns.iter().map(String::as_str)))
    } else {
        target.copy_sql(None::<[&str; 0]>)
    };
    let describe_sql = format!(
        "SELECT {} FROM {} LIMIT 0",
        column_list(columns.iter().map(String::as_str)),
        target.table
    );
    let (statement, fingerprint) = match before {
        Some(before) => (client.prepare(&describe_sql).await, Ok(before)),
        None => {
            let (statement, current) = join(
                client.prepare(&describe_sql),
                client.query(&catalog, &[&table]),
            )
            .await;
            (statement, fingerprint(current))
        }
    };
    // The description's error first: a missing table or column.
    let statement = statement.map_err(|e| Error::from_driver(e, Some(&sql)))?;
    let types = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    Ok(Described {
        sql,
        columns,
        types,
        fingerprint: fingerprint?,
    })
}

/// Writes `rows` into `target` with binary COPY on a connection of `ex`;
/// returns the number of rows copied.
async fn copy_rows<E, S>(ex: &E, target: Target, plan: &[usize], rows: S) -> Result<u64>
where
    E: Executor,
    S: Stream,
    S::Item: CopyRow,
{
    let conn = ex.lease().await?;
    let timeout = ex.call_timeout();
    conn.settle().await?;
    let depth = conn.tx_depth();
    // Raw SQL may have opened a transaction pgdbm does not know of (or
    // changed search_path): a BEGIN or COMMIT of ours would then end the
    // caller's, so the COPY runs bare there, described afresh, its column
    // types as of one round trip before it.
    let scoped = depth > 0 || !conn.is_session_dirty();
    let (scope, trusted) = if scoped {
        let (guard, fresh) = open_scope(&conn, depth, &target.table, timeout).await?;
        (Some(guard), fresh)
    } else {
        (None, false)
    };
    let fragile = Fragile::default();
    let label = target.label();
    let cache = CacheUse {
        cache: ex.templates().copy_columns(),
        key: &label,
        trusted,
        scope: scope.is_some().then_some(depth),
    };
    let stmt = Stmt {
        metrics: Some(ex.templates().metrics()),
        ..Stmt::internal(&label, timeout, ex.templates().schema())
    };
    let result = guarded(&conn, stmt, Some(&fragile), async {
        let started = start_copy(&conn, &target, &cache, &fragile).await?;
        let copied = write_rows(started, plan, rows).await?;
        record_rows(stmt.metrics, copied);
        Ok(copied)
    })
    .await;
    // On a connection out of step nothing more is sent; the scope's
    // rollback stays owed and the connection is discarded.
    if let Some(guard) = scope {
        if !fragile.doomed() {
            let closed = close_scope(&conn, guard, depth, timeout, result.is_ok()).await;
            return result.and_then(|n| closed.map(|()| n));
        }
    }
    result
}

/// How much encoded data is gathered before it is sent: large enough that
/// sending costs little per row, small enough to keep memory flat.
const SEND_AT: usize = 64 * 1024;

/// Writes every row into a started COPY and finishes it. Returning early
/// drops the sink, which makes the driver send CopyFail: the server ends
/// the COPY with an error and nothing is written.
async fn write_rows<S>(started: Started, plan: &[usize], rows: S) -> Result<u64>
where
    S: Stream,
    S::Item: CopyRow,
{
    let Started { sink, described } = started;
    let Described {
        sql,
        columns,
        types,
        ..
    } = &*described;
    let mut sink = pin!(sink);
    let mut rows = pin!(rows);
    let sent = |e| Error::from_driver(e, Some(sql));
    let mut buf = BytesMut::with_capacity(SEND_AT + SEND_AT / 4);
    buf.put_slice(HEADER);
    let mut index = 0u64;
    loop {
        let Some(row) = rows.next().await else { break };
        let encoded = row.encode(plan, types, &mut buf);
        // Not held across the send below (see the `encode` module).
        drop(row);
        encoded.map_err(|e| row_error(e, index, columns))?;
        index += 1;
        if buf.len() >= SEND_AT {
            sink.send(buf.split().freeze()).await.map_err(sent)?;
        }
    }
    buf.put_i16(TRAILER);
    sink.send(buf.freeze()).await.map_err(sent)?;
    sink.as_mut().finish().await.map_err(sent)
}

/// `copy_records_to_table`: records in column order into `table`.
pub(crate) async fn copy_records_to_table<E, I, R>(
    ex: &E,
    table: &str,
    columns: &[&str],
    records: I,
) -> Result<u64>
where
    E: Executor,
    I: IntoIterator<Item = R>,
    R: CopyRecord,
{
    let target = Target::parse(table, columns, ex.templates().schema())?;
    copy_rows(ex, target, &[], Records(records.into_iter())).await
}

/// The table and the insertable (not generated) columns of `T`, with their
/// indices into `T::COLUMN_DEFS`.
fn model_target<T: Table>(schema: Option<&str>) -> Result<(Target, Vec<usize>)> {
    let plan: Vec<usize> = T::COLUMN_DEFS
        .iter()
        .enumerate()
        .filter(|(_, def)| !def.generated)
        .map(|(i, _)| i)
        .collect();
    if plan.is_empty() {
        // An empty list would mean "every column" to the COPY.
        return Err(Error::Parameter(Box::new(DriverError::message_only(
            format!(
                "table {:?} has no columns to copy into (every column is generated)",
                T::TABLE
            ),
        ))));
    }
    let target = Target {
        table: ident::qualified(schema, T::TABLE),
        columns: plan
            .iter()
            .map(|&i| T::COLUMN_DEFS[i].name.to_owned())
            .collect(),
    };
    Ok((target, plan))
}

/// `copy_in::<T>`: borrowed models.
pub(crate) async fn copy_in<'r, E, T, I>(ex: &E, rows: I) -> Result<u64>
where
    E: Executor,
    T: Table,
    I: IntoIterator<Item = &'r T>,
{
    let (target, plan) = model_target::<T>(ex.templates().schema())?;
    let rows: Models<_, futures_util::stream::Empty<T>, T> =
        Models::Iter(rows.into_iter(), PhantomData);
    copy_rows(ex, target, &plan, rows).await
}

/// `copy_in_stream::<T, S>`: owned models from a stream.
pub(crate) async fn copy_in_stream<E, T, S>(ex: &E, rows: S) -> Result<u64>
where
    E: Executor,
    T: Table,
    S: Stream<Item = T>,
{
    let (target, plan) = model_target::<T>(ex.templates().schema())?;
    let rows: Models<std::iter::Empty<&T>, S, T> = Models::Stream(Box::pin(rows));
    copy_rows(ex, target, &plan, rows).await
}

/// `sql` without trailing `;`, comments and whitespace, to be wrapped in
/// `COPY (..)`.
fn statement_text(sql: &str) -> &str {
    let end = lex::tokens(sql)
        .filter(|t| !t.is_punct(";"))
        .last()
        .map_or(0, |t| t.end());
    &sql[..end]
}

/// `COPY (select) TO STDOUT`; the query sits on lines of its own so that a
/// `--` comment in it cannot swallow the closing parenthesis.
fn copy_out_sql(select: &str) -> String {
    format!("COPY (\n{select}\n) TO STDOUT (FORMAT binary)")
}

/// `copy_out_query::<T>`: a templated query's rows through binary COPY.
pub(crate) async fn copy_out_query<'a, E, T>(
    ex: &'a E,
    select_sql: &str,
) -> Result<CopyOutStream<'a, T>>
where
    E: Executor,
    T: FromRow,
{
    let rendered = ex.templates().render(select_sql)?;
    let select = statement_text(&rendered).to_owned();
    let conn = ex.lease().await?;
    start_copy_out(
        conn,
        select,
        ex.call_timeout(),
        ex.session(),
        ex.templates().schema(),
    )
    .await
}

/// `copy_out::<T>`: every column of `T`'s table in this schema.
pub(crate) async fn copy_out<'a, E, T>(ex: &'a E) -> Result<CopyOutStream<'a, T>>
where
    E: Executor,
    T: Table,
{
    let select = format!(
        "SELECT {} FROM {}",
        column_list(T::COLUMN_DEFS.iter().map(|c| c.name)),
        ident::qualified(ex.templates().schema(), T::TABLE)
    );
    let conn = ex.lease().await?;
    start_copy_out(
        conn,
        select,
        ex.call_timeout(),
        Session::Internal,
        ex.templates().schema(),
    )
    .await
}

async fn start_copy_out<'a, T: FromRow>(
    conn: Lease<'a>,
    select: String,
    timeout: Option<Duration>,
    session: Session,
    schema: Option<&str>,
) -> Result<CopyOutStream<'a, T>> {
    session.check(&conn, &select)?;
    let sql = copy_out_sql(&select);
    let started = guarded(&conn, Stmt::internal(&sql, timeout, schema), None, async {
        // Described first, so that a row type that does not fit `T` is
        // refused before the server starts sending rows.
        let described = describe(&conn, &select, &sql).await?;
        if !described.params().is_empty() {
            return Err(Error::Parameter(Box::new(DriverError::message_only(
                format!(
                    "COPY takes no bind parameters, and the query has {}; \
                 use fetch_stream for a query with parameters",
                    described.params().len()
                ),
            ))));
        }
        let columns = described.columns();
        let indices = resolve::<T>(columns)?;
        T::check(columns, &indices)?;
        let types: Vec<Type> = columns.iter().map(|c| c.type_().clone()).collect();
        let names: Vec<String> = columns.iter().map(|c| c.name().to_owned()).collect();
        let statement = internal_statement(&conn, &sql).await?;
        let raw = conn
            .client()
            .copy_out(&statement)
            .await
            .map_err(|e| Error::from_driver(e, Some(&sql)))?;
        Ok((BinaryCopyOutStream::new(raw, &types), indices, names))
    })
    .await;
    let (inner, indices, names) = started?;
    Ok(CopyOutStream {
        inner: Box::pin(inner),
        indices,
        names,
        state: State::Streaming,
        row: 0,
        conn,
        sql,
        _marker: PhantomData,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Rows are still coming.
    Streaming,
    /// The server ended the COPY (all rows, or its error).
    Done,
    /// A row could not be read while the server was still sending; the
    /// rest is cancelled before the connection is used again.
    Failed,
}

/// Rows of a binary `COPY (query) TO STDOUT`, decoded into `T` as they
/// arrive; from `copy_out` and `copy_out_query`.
///
/// Holds its connection until the last row. Each item is a row or the error
/// that ended the stream (the server's, or a row that could not be decoded,
/// naming the column and the row's index); after an error the stream ends.
/// Dropping it early cancels the rest of the COPY on the server before the
/// connection is used again.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use futures_util::TryStreamExt;
/// let mut rows = db
///     .copy_out_query::<(i64, String)>("SELECT id, email FROM {{tables.users}}")
///     .await?;
/// while let Some((id, email)) = rows.try_next().await? {
///     println!("{id}: {email}");
/// }
/// # Ok(()) }
/// ```
pub struct CopyOutStream<'a, T> {
    inner: Pin<Box<BinaryCopyOutStream>>,
    indices: Vec<usize>,
    names: Vec<String>,
    state: State,
    row: u64,
    conn: Lease<'a>,
    /// The COPY sent, for errors.
    sql: String,
    _marker: PhantomData<fn() -> T>,
}

impl<T> CopyOutStream<'_, T> {
    /// Names the column and the row of a decoding error (the driver's copy
    /// rows know columns only by position).
    fn locate(&self, mut err: Error, row: u64) -> Error {
        if let Error::RowMapping(e) = &mut err {
            if let Some(name) = e
                .column
                .strip_prefix('#')
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| self.names.get(i))
            {
                e.column = name.clone();
            }
            e.found = format!("{} (row {row})", e.found);
        }
        err
    }
}

impl<T: FromRow> Stream for CopyOutStream<'_, T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = &mut *self;
        if this.state != State::Streaming {
            return Poll::Ready(None);
        }
        match ready!(this.inner.as_mut().poll_next(cx)) {
            Some(Ok(row)) => {
                let index = this.row;
                this.row += 1;
                match T::decode(&row, &this.indices) {
                    Ok(value) => Poll::Ready(Some(Ok(value))),
                    Err(e) => {
                        this.state = State::Failed;
                        Poll::Ready(Some(Err(this.locate(e, index))))
                    }
                }
            }
            Some(Err(e)) => {
                // A server error or a lost connection ended the COPY; a
                // malformed row did not.
                let ended = e.as_db_error().is_some() || e.is_closed();
                this.state = if ended { State::Done } else { State::Failed };
                let err = Error::from_driver(e, Some(&this.sql));
                this.conn.note_error(&err);
                Poll::Ready(Some(Err(err)))
            }
            None => {
                this.state = State::Done;
                Poll::Ready(None)
            }
        }
    }
}

impl<T> Drop for CopyOutStream<'_, T> {
    fn drop(&mut self) {
        if self.state != State::Done {
            self.conn.cut_off(false);
        }
    }
}

impl<T> std::fmt::Debug for CopyOutStream<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOutStream")
            .field("sql", &self.sql)
            .field("rows_read", &self.row)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_sql_is_quoted_and_qualified() {
        let t = Target::parse("Items", &["id", "Full Name"], Some("app")).unwrap();
        assert_eq!(t.table, "\"app\".\"items\"");
        assert_eq!(
            t.label(),
            "COPY \"app\".\"items\" (\"id\", \"Full Name\") FROM STDIN (FORMAT binary)"
        );
        let t = Target::parse("other.\"T\"", &[], Some("app")).unwrap();
        assert_eq!(t.label(), "COPY \"other\".\"T\" FROM STDIN (FORMAT binary)");
        let t = Target::parse("t", &["a\"b"], None).unwrap();
        assert_eq!(
            t.copy_sql(Some(["a\"b"])),
            "COPY \"t\" (\"a\"\"b\") FROM STDIN (FORMAT binary)"
        );
    }

    #[test]
    fn target_rejects_bad_names() {
        for (table, columns) in [("a.b.c", &["x"][..]), ("t", &[""][..]), ("t", &["a\0"][..])] {
            assert!(matches!(
                Target::parse(table, columns, None),
                Err(Error::InvalidIdentifier(_))
            ));
        }
    }

    #[test]
    fn statement_text_drops_trailing_semicolons_and_comments() {
        assert_eq!(statement_text("SELECT 1;  "), "SELECT 1");
        assert_eq!(statement_text("SELECT ';' ;; -- done"), "SELECT ';'");
        assert_eq!(statement_text("SELECT 1 -- c"), "SELECT 1");
        assert_eq!(statement_text("  "), "");
        assert_eq!(
            copy_out_sql("SELECT 1 -- c"),
            "COPY (\nSELECT 1 -- c\n) TO STDOUT (FORMAT binary)"
        );
    }
}
