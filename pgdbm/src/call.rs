//! The one call guard. Every statement pgdbm sends, raw, typed, bulk, COPY,
//! stream or transaction control, goes through [`guarded`]: it waits until
//! the connection is settled, marks the call in flight, applies the call's
//! deadline, hands a call that is cut off (deadline passed, future dropped)
//! to the connection's recovery, counts the query and records what the
//! outcome means for the connection. [`run`] adds what every prepared
//! statement needs on top: the session check, the statement cache, and the
//! retry of a stale plan.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio_postgres::Statement;
use tokio_postgres::error::SqlState;
use tracing::Instrument;
use tracing::field::Empty;

use crate::conn::Lease;
use crate::connection::{
    ConnInner, Detached, PgConnection, SESSION_CLEAN, SESSION_DISCARD, SESSION_RESET, now_micros,
};
use crate::error::{Error, Result};
use crate::lex;
use crate::metrics::Counters;

/// What an executor does with SQL that would change the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    /// A `Database`: its statements do not own their connection, so such
    /// SQL is refused before it is sent.
    Refuse,
    /// A `Conn` or a transaction: allowed, and the connection is reset (or
    /// discarded) before anyone else gets it.
    Track,
    /// pgdbm's own statements, which never change the session.
    Internal,
}

impl Session {
    /// Applies the verdict of `sql` (one of the `SESSION_*` values).
    fn apply(self, conn: &ConnInner, sql: &str, verdict: u8) -> Result<()> {
        if verdict == SESSION_CLEAN {
            return Ok(());
        }
        match self {
            Session::Refuse => lex::refuse_session_state(sql),
            Session::Track => {
                conn.note_session(verdict);
                Ok(())
            }
            Session::Internal => Ok(()),
        }
    }

    /// Checks SQL that is not prepared through the statement cache.
    pub(crate) fn check(self, conn: &ConnInner, sql: &str) -> Result<()> {
        if self == Session::Internal {
            return Ok(());
        }
        self.apply(conn, sql, verdict(sql))
    }
}

/// What `sql` does to the session, as one of the `SESSION_*` values.
fn verdict(sql: &str) -> u8 {
    match lex::session_statement(sql) {
        None => SESSION_CLEAN,
        Some(found) if found.discard => SESSION_DISCARD,
        Some(_) => SESSION_RESET,
    }
}

/// One statement as an executor sends it: the SQL (already expanded), the
/// client-side deadline and the session rule.
#[derive(Clone, Copy)]
pub(crate) struct Stmt<'s> {
    pub(crate) sql: &'s str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) session: Session,
    /// The manager's schema, for the span.
    pub(crate) schema: Option<&'s str>,
    /// The manager's counters; `None` for pgdbm's own statements.
    pub(crate) metrics: Option<&'s Counters>,
}

impl<'s> Stmt<'s> {
    /// pgdbm's own SQL, for the span of the manager's `schema`.
    pub(crate) fn internal(
        sql: &'s str,
        timeout: Option<Duration>,
        schema: Option<&'s str>,
    ) -> Self {
        Stmt {
            sql,
            timeout,
            session: Session::Internal,
            schema,
            metrics: None,
        }
    }
}

/// The span of one statement, after OpenTelemetry's database conventions.
/// Parameter values are never recorded. Without a subscriber that wants
/// it this is `Span::none()`, and nothing below is computed.
fn span(lease: &Lease<'_>, sql: &str, schema: Option<&str>) -> tracing::Span {
    // Checked first: with tracing's `log` feature on (another crate may
    // turn it on), a disabled span would still be offered to `log` at
    // every poll.
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return tracing::Span::none();
    }
    let span = tracing::debug_span!(
        target: "pgdbm",
        "db.query",
        db.system.name = "postgresql",
        db.namespace = Empty,
        db.query.text = sql,
        db.operation.name = Empty,
        server.address = Empty,
        server.port = Empty,
        db.response.status_code = Empty,
        db.response.returned_rows = Empty,
        pgdbm.multiplexed = lease.is_shared(),
        pgdbm.settle_wait_us = Empty,
    );
    if !span.is_disabled() {
        if let Some(observe) = lease.observe() {
            span.record("server.address", observe.host.as_str());
            span.record("server.port", observe.port);
            let namespace = match schema {
                // The convention's `{database}|{schema}`.
                Some(schema) => format!("{}|{schema}", observe.database),
                None => observe.database.clone(),
            };
            span.record("db.namespace", namespace.as_str());
        }
        if let Some(word) = lex::tokens(sql).find(|t| t.kind == lex::TokenKind::Word) {
            span.record("db.operation.name", word.text.to_ascii_uppercase().as_str());
        }
    }
    span
}

/// Records the rows a statement returned or affected on the current span
/// and in the manager's counters.
pub(crate) fn record_rows(metrics: Option<&Counters>, rows: u64) {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        tracing::Span::current().record("db.response.returned_rows", rows);
    }
    if let Some(metrics) = metrics {
        metrics.rows(rows);
    }
}

/// After a call: the error's SQLSTATE on its span, and the slow-query
/// warning.
fn observe_end<T>(
    lease: &Lease<'_>,
    span: &tracing::Span,
    sql: &str,
    schema: Option<&str>,
    took: Duration,
    result: &Result<T>,
) {
    if let (Err(e), false) = (result, span.is_disabled()) {
        if let Some(code) = e.sqlstate() {
            span.record("db.response.status_code", code);
        }
    }
    if let Some(limit) = lease.observe().and_then(|o| o.slow) {
        if took >= limit {
            tracing::warn!(
                target: "pgdbm::slow_query",
                sql,
                duration_ms = took.as_millis() as u64,
                schema = schema.unwrap_or(""),
                failed = result.is_err(),
                "slow query"
            );
        }
    }
}

/// How a cut-off call leaves its connection. Set by work that passes
/// through a moment where a cancel cannot bring the connection back in
/// step (a COPY the server has not yet accepted or refused; see
/// `copy::start_copy_in`).
#[derive(Debug, Default)]
pub(crate) struct Fragile {
    now: AtomicBool,
    doomed: AtomicBool,
}

impl Fragile {
    /// Whether a cut-off now must discard the connection.
    pub(crate) fn set(&self, fragile: bool) {
        self.now.store(fragile, Ordering::Release);
    }

    /// The connection is out of step: nothing more is sent on it.
    pub(crate) fn doom(&self) {
        self.doomed.store(true, Ordering::Release);
    }

    pub(crate) fn doomed(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }
}

/// A call in flight on `lease`. Dropped before [`finish`](Flight::finish),
/// the call was cut off: an exclusive connection goes to its recovery task
/// (cancel, confirm, drain), a shared one keeps the call's slot until the
/// server has answered it.
pub(crate) struct Flight<'a> {
    lease: &'a Lease<'a>,
    fragile: Option<&'a Fragile>,
    done: bool,
}

impl<'a> Flight<'a> {
    /// `at`: `now_micros()` as the request leaves.
    pub(crate) fn start(lease: &'a Lease<'a>, fragile: Option<&'a Fragile>, at: u64) -> Self {
        lease.sent(at);
        Flight {
            lease,
            fragile,
            done: false,
        }
    }

    /// The server answered, at `now_micros()` `at`.
    pub(crate) fn finish(mut self, at: u64) {
        self.done = true;
        self.lease.answered(at);
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.done {
            let discard = self.fragile.is_some_and(|f| f.now.load(Ordering::Acquire));
            self.lease.cut_off(discard);
        }
    }
}

/// Runs `work` (requests on `lease`) as one call: see the module docs.
/// The deadline covers the wait for the connection to settle too, so no
/// call waits past it.
pub(crate) async fn guarded<T>(
    lease: &Lease<'_>,
    stmt: Stmt<'_>,
    fragile: Option<&Fragile>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = span(lease, stmt.sql, stmt.schema);
    // Two clock reads a call, shared by the routing latency, the metrics
    // and the slow-query log.
    let start = now_micros();
    let ended = AtomicU64::new(0);
    let call = async {
        lease.settle().await?;
        if !span.is_disabled() {
            let waited = now_micros().saturating_sub(start);
            span.record("pgdbm.settle_wait_us", waited);
        }
        // Dropped unfinished with this future when the deadline passes.
        let flight = Flight::start(lease, fragile, start);
        let result = work.await;
        if let Err(e) = &result {
            lease.note_error(e);
        }
        let end = now_micros();
        ended.store(end, Ordering::Relaxed);
        flight.finish(end);
        result
    };
    let limit = lease.limit(stmt.timeout);
    let result = within(limit, stmt.sql, std::pin::pin!(call))
        .instrument(span.clone())
        .await;
    lease.count_query();
    let end = match ended.load(Ordering::Relaxed) {
        0 => now_micros(),
        end => end,
    };
    let took = Duration::from_micros(end.saturating_sub(start));
    if let Some(metrics) = stmt.metrics {
        metrics.statement(took, lease.is_shared(), result.as_ref().err());
    }
    observe_end(lease, &span, stmt.sql, stmt.schema, took, &result);
    result
}

/// `work`, or `Error::Timeout` once `limit` has passed (the caller then
/// drops `work`). One await of `work` whether or not there is a limit, and
/// `work` pinned where the caller keeps it, so the call's future holds it
/// once; the timer is only set up for a limit.
async fn within<T>(
    limit: Option<Duration>,
    sql: &str,
    mut work: Pin<&mut impl Future<Output = Result<T>>>,
) -> Result<T> {
    let mut timer = limit.map(|limit| (limit, Box::pin(tokio::time::sleep(limit))));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = work.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        if let Some((limit, sleep)) = timer.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Error::timeout(*limit, Some(sql))));
            }
        }
        Poll::Pending
    })
    .await
}

/// The server no longer accepts a cached plan: DDL changed the result type
/// of a statement (`RevalidateCachedQuery`), or the statement is gone.
fn is_stale_plan(err: &tokio_postgres::Error) -> bool {
    match err.as_db_error() {
        Some(db) if *db.code() == SqlState::FEATURE_NOT_SUPPORTED => {
            db.routine() == Some("RevalidateCachedQuery")
        }
        Some(db) => *db.code() == SqlState::INVALID_SQL_STATEMENT_NAME,
        None => false,
    }
}

/// The prepared statement for `stmt`, its session rule applied.
pub(crate) async fn prepared(conn: &ConnInner, stmt: Stmt<'_>) -> Result<Statement> {
    let check = || {
        let verdict = if stmt.session == Session::Internal {
            SESSION_CLEAN
        } else {
            verdict(stmt.sql)
        };
        stmt.session.apply(conn, stmt.sql, verdict)?;
        Ok(verdict)
    };
    let (statement, verdict) = conn.statement(stmt.sql, check).await?;
    stmt.session.apply(conn, stmt.sql, verdict)?;
    Ok(statement)
}

/// Prepares `sql` ahead of its first use on a connection nobody holds yet
/// (a named statement on a new connection). It is cached with its own
/// session verdict, so a `Database` that later runs it still refuses SQL
/// that would change the session.
pub(crate) async fn prepare_ahead(
    conn: &PgConnection,
    sql: &str,
    timeout: Option<Duration>,
) -> Result<()> {
    let lease = Lease::Borrowed(conn);
    guarded(&lease, Stmt::internal(sql, timeout, None), None, async {
        conn.statement(sql, || Ok(verdict(sql))).await.map(drop)
    })
    .await
}

/// The prepared statement for SQL of pgdbm's own.
pub(crate) async fn internal_statement(conn: &ConnInner, sql: &str) -> Result<Statement> {
    prepared(conn, Stmt::internal(sql, None, None)).await
}

/// Runs one prepared statement on `lease` through the guard: cached
/// prepare (session rule applied), `op` on it, and one retry on a stale
/// plan where no transaction would be left half done. A stale plan is
/// forgotten in any case, so the next use prepares it afresh.
pub(crate) async fn run<T, F, Fut>(lease: &Lease<'_>, stmt: Stmt<'_>, op: F) -> Result<T>
where
    F: Fn(Statement) -> Fut,
    Fut: Future<Output = Result<T, tokio_postgres::Error>>,
{
    let sql = stmt.sql;
    guarded(lease, stmt, None, async {
        let statement = prepared(lease, stmt).await?;
        match op(statement).await {
            Err(e) if is_stale_plan(&e) => {
                lease.forget_statement(sql);
                if lease.tx_depth() > 0 {
                    return Err(Error::from_driver(e, Some(sql)));
                }
                // Boxed: rare, and inline it would double the call's future.
                return Box::pin(async {
                    let statement = prepared(lease, stmt).await?;
                    op(statement)
                        .await
                        .map_err(|e| Error::from_driver(e, Some(sql)))
                })
                .await;
            }
            other => other,
        }
        .map_err(|e| Error::from_driver(e, Some(sql)))
    })
    .await
}

/// Transaction control of pgdbm's own (BEGIN, COMMIT, savepoints) through
/// the guard's bookkeeping, but never cut off: a caller that leaves (or
/// whose deadline passes) before the answer leaves the command to the
/// connection's recovery, which runs it to its end. Either way its outcome
/// moves the transaction depth to `ok`, or to `refused` when the server
/// refused it, so pgdbm's depth is always the server's and a rollback owed
/// afterwards names a savepoint that exists.
pub(crate) async fn control(
    lease: &Lease<'_>,
    sql: impl Into<Cow<'static, str>>,
    timeout: Option<Duration>,
    ok: u32,
    refused: u32,
) -> Result<()> {
    let sql: Cow<'static, str> = sql.into();
    let span = span(lease, &sql, None);
    let start = now_micros();
    let call = async {
        lease.settle().await?;
        let conn = PgConnection::clone(lease);
        let text = sql.clone();
        let control = Control {
            detached: Some(Detached {
                work: Box::pin(async move { conn.client().batch_execute(&text).await }),
                ok,
                refused,
            }),
            conn: PgConnection::clone(lease),
        };
        let result = control.await.map_err(|e| Error::from_driver(e, Some(&sql)));
        if let Err(e) = &result {
            lease.note_error(e);
        }
        result
    };
    let result = within(timeout, &sql, std::pin::pin!(call))
        .instrument(span.clone())
        .await;
    lease.count_query();
    let took = Duration::from_micros(now_micros().saturating_sub(start));
    observe_end(lease, &span, &sql, None, took, &result);
    result
}

/// A transaction-control command in flight; see [`control`].
struct Control {
    /// `None` once answered.
    detached: Option<Detached>,
    conn: PgConnection,
}

impl Future for Control {
    type Output = Result<(), tokio_postgres::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(control) = this.detached.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let result = ready!(control.work.as_mut().poll(cx));
        let depth = match &result {
            Ok(()) => control.ok,
            Err(e) if e.as_db_error().is_some() => control.refused,
            Err(_) => {
                this.conn.mark_broken();
                control.refused
            }
        };
        this.conn.set_tx_depth(depth);
        this.detached = None;
        Poll::Ready(result)
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        if let Some(control) = self.detached.take() {
            self.conn.detach(control);
        }
    }
}
