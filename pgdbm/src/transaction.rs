//! Transactions and savepoints, with the same query API as the manager.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio_postgres::error::SqlState;

use std::borrow::Cow;

use crate::call::control;
use crate::conn::{Conn, Lease, PooledConn};
use crate::connection::{
    PgConnection, RollbackGuard, SESSION_DISCARD, rollback_sql, savepoint_name,
};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::template::TemplateCache;

/// The isolation level of a transaction.
///
/// ```
/// let opts = pgdbm::TransactionOptions::new().isolation(pgdbm::IsolationLevel::Serializable);
/// assert_eq!(opts.begin_sql(), "BEGIN ISOLATION LEVEL SERIALIZABLE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL treats it as READ COMMITTED).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How a top-level transaction begins: isolation level, read-only,
/// deferrable. Savepoints inherit their transaction's mode.
///
/// ```
/// use pgdbm::{IsolationLevel, TransactionOptions};
/// let opts = TransactionOptions::new()
///     .isolation(IsolationLevel::Serializable)
///     .read_only(true)
///     .deferrable(true);
/// assert_eq!(opts.begin_sql(), "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE");
/// assert_eq!(TransactionOptions::new().begin_sql(), "BEGIN");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
    deferrable: bool,
}

impl TransactionOptions {
    /// The server's defaults.
    ///
    /// ```
    /// let opts = pgdbm::TransactionOptions::new();
    /// assert_eq!(opts, pgdbm::TransactionOptions::default());
    /// assert_eq!(opts.begin_sql(), "BEGIN");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the isolation level.
    ///
    /// ```
    /// use pgdbm::{IsolationLevel, TransactionOptions};
    /// let opts = TransactionOptions::new().isolation(IsolationLevel::RepeatableRead);
    /// assert_eq!(opts.begin_sql(), "BEGIN ISOLATION LEVEL REPEATABLE READ");
    /// ```
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY` when true.
    ///
    /// ```
    /// let opts = pgdbm::TransactionOptions::new().read_only(true);
    /// assert_eq!(opts.begin_sql(), "BEGIN READ ONLY");
    /// assert_eq!(opts.read_only(false).begin_sql(), "BEGIN");
    /// ```
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// `DEFERRABLE` when true (only meaningful with SERIALIZABLE READ ONLY).
    ///
    /// ```
    /// use pgdbm::{IsolationLevel, TransactionOptions};
    /// // A long report that waits for a safe snapshot instead of risking a serialization failure.
    /// let report = TransactionOptions::new()
    ///     .isolation(IsolationLevel::Serializable)
    ///     .read_only(true)
    ///     .deferrable(true);
    /// assert_eq!(report.begin_sql(), "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE");
    /// ```
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = deferrable;
        self
    }

    /// The `BEGIN` statement these options produce.
    ///
    /// ```
    /// use pgdbm::{IsolationLevel, TransactionOptions};
    /// let opts = TransactionOptions::new().isolation(IsolationLevel::ReadCommitted).read_only(true);
    /// assert_eq!(opts.begin_sql(), "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY");
    /// ```
    pub fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        if let Some(level) = self.isolation {
            sql.push_str(" ISOLATION LEVEL ");
            sql.push_str(level.sql());
        }
        if self.read_only {
            sql.push_str(" READ ONLY");
        }
        if self.deferrable {
            sql.push_str(" DEFERRABLE");
        }
        sql
    }
}

/// A transaction, or a savepoint inside one, with every query method of
/// [`Database`] (templates expand with the manager's schema).
///
/// [`commit`](Transaction::commit) and [`rollback`](Transaction::rollback)
/// consume it. Dropped without either, it rolls back: at once when nothing is
/// running on the connection, otherwise (its future was dropped mid-query)
/// after the running statement is cancelled, before the connection is used
/// again or returned to the pool. A connection that cannot be cleaned up is
/// discarded, never returned with a transaction open.
///
/// [`transaction`](Transaction::transaction) opens a savepoint (a generated,
/// quoted name); rolling it back or dropping it leaves the outer transaction
/// usable.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let mut tx = db.transaction().await?;
/// tx.execute("INSERT INTO {{tables.accounts}} (id, balance) VALUES (1, 100)", &[]).await?;
/// {
///     let inner = tx.transaction().await?;
///     let r = inner.execute("INSERT INTO {{tables.accounts}} (id, balance) VALUES (1, 0)", &[]).await;
///     assert!(matches!(r, Err(pgdbm::Error::UniqueViolation(_))));
///     inner.rollback().await?; // the outer transaction carries on
/// }
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Transaction<'a> {
    conn: Lease<'a>,
    templates: Arc<TemplateCache>,
    timeout: Option<Duration>,
    depth: u32,
    finished: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("depth", &self.depth)
            .field("schema", &self.templates.schema())
            .finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    /// Opens depth `depth` on `conn`: `BEGIN ..` at depth 1, a savepoint
    /// deeper. The depth and the debt are recorded before the statement is
    /// sent, so a future dropped at any point still rolls back.
    async fn begin(
        conn: Lease<'a>,
        templates: Arc<TemplateCache>,
        timeout: Option<Duration>,
        depth: u32,
        options: TransactionOptions,
    ) -> Result<Transaction<'a>> {
        conn.settle().await?;
        let sql = if depth == 1 {
            options.begin_sql()
        } else {
            format!("SAVEPOINT {}", savepoint_name(depth))
        };
        let guard = RollbackGuard::new(&conn, depth - 1);
        conn.set_tx_depth(depth);
        // On failure the guard records the rollback as owed; it runs before
        // the connection is used again.
        control(&conn, sql, timeout, depth, depth - 1).await?;
        guard.disarm();
        Ok(Transaction {
            conn,
            templates,
            timeout,
            depth,
            finished: false,
        })
    }

    /// Opens a savepoint inside this transaction.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut tx = db.transaction().await?;
    /// let savepoint = tx.transaction().await?;
    /// savepoint.commit().await?; // RELEASE SAVEPOINT
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction(&mut self) -> Result<Transaction<'_>> {
        Transaction::begin(
            Lease::Borrowed(&self.conn),
            self.templates.clone(),
            self.timeout,
            self.depth + 1,
            TransactionOptions::default(),
        )
        .await
    }

    /// Runs `f` in a savepoint: released on `Ok`, rolled back on `Err` (the
    /// error comes back unchanged) and on panic.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut tx = db.transaction().await?;
    /// let n = tx.transaction_with(async |sp| sp.execute("DELETE FROM {{tables.t}}", &[]).await).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Transaction<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = self.transaction().await?;
        run_in(tx, f).await
    }

    /// Commits (or, for a savepoint, releases it).
    ///
    /// A transaction that an error aborted cannot commit: PostgreSQL rolls
    /// it back and answers COMMIT as if it had worked. Here that is
    /// [`Error::RolledBack`], never `Ok`: after a statement of the
    /// transaction failed (an error the caller went past), the COMMIT goes
    /// with a probe in the same round trip that tells whether the
    /// transaction is still alive. Releasing a savepoint in an aborted
    /// transaction is the server's error.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let tx = db.transaction().await?;
    /// let _ = tx.execute("SELECT 1/0", &[]).await; // error ignored
    /// assert!(matches!(tx.commit().await, Err(pgdbm::Error::RolledBack(_))));
    /// # Ok(()) }
    /// ```
    pub async fn commit(mut self) -> Result<()> {
        let depth = self.depth;
        if depth > 1 {
            let sql = format!("RELEASE SAVEPOINT {}", savepoint_name(depth));
            // Refused, the savepoint is still there for the rollback owed.
            return self.finish(sql, depth).await;
        }
        if !self.conn.tx_may_have_failed() {
            // Refused (a deferred constraint), the server ended it anyway.
            return self.finish("COMMIT", 0).await;
        }
        // The probe fails in an aborted transaction, and then the COMMIT
        // behind it in the same query string is never run.
        match self.finish("SELECT 1; COMMIT", 1).await {
            Err(e) if e.sqlstate() == Some(SqlState::IN_FAILED_SQL_TRANSACTION.code()) => {
                self.finish("ROLLBACK", 0).await?;
                Err(Error::rolled_back("COMMIT"))
            }
            other => other,
        }
    }

    /// Rolls back (or, for a savepoint, rolls back to it and releases it).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let tx = db.transaction().await?;
    /// tx.rollback().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<()> {
        let sql = rollback_sql(self.depth - 1);
        let depth = self.depth;
        self.finish(sql, depth).await
    }

    /// Ends this level with `sql`; the depth becomes the outer one, or
    /// `refused` if the server refused it (then `Drop` still owes the
    /// rollback).
    async fn finish(&mut self, sql: impl Into<Cow<'static, str>>, refused: u32) -> Result<()> {
        let result = control(&self.conn, sql, self.timeout, self.depth - 1, refused).await;
        self.finished = result.is_ok();
        result
    }

    /// The underlying `tokio_postgres::Client` (Python's `tx.connection`).
    ///
    /// Once it is taken, pgdbm cannot know the session's state: the
    /// connection is closed when it is released instead of going back to
    /// the pool.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let tx = db.transaction().await?;
    /// let client: &pgdbm::tokio_postgres::Client = tx.client();
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &tokio_postgres::Client {
        // What is done through it cannot be known: the connection is
        // discarded instead of going back to the pool.
        self.conn.note_session(SESSION_DISCARD);
        self.conn.client()
    }

    /// 1 for a transaction, 2 and more for savepoints inside it.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut tx = db.transaction().await?;
    /// assert_eq!(tx.depth(), 1);
    /// assert_eq!(tx.transaction().await?.depth(), 2);
    /// # Ok(()) }
    /// ```
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let target = self.depth - 1;
        let conn: &PgConnection = &self.conn;
        // Nothing running: send the rollback now, without waiting for its
        // answer, so locks are released at once; it runs before anything
        // sent later on this connection.
        if !conn.is_abandoned()
            && conn.tx_depth() == self.depth
            && queue(conn, &rollback_sql(target))
        {
            conn.set_tx_depth(target);
            return;
        }
        // A statement is still running (or the state is unclear): the
        // rollback is owed, paid after a cancel before the next use, or by
        // the pool's clean-up task for a connection this value owned.
        conn.owe_rollback_to(target);
    }
}

/// Sends a simple-protocol statement without waiting for its answer.
///
/// The driver writes a request into its connection's queue on the first
/// poll of the call; the answer is discarded when the future is dropped.
/// Returns false if the request could not be queued.
fn queue(conn: &PgConnection, sql: &str) -> bool {
    let mut call = pin!(conn.client().batch_execute(sql));
    let mut cx = Context::from_waker(Waker::noop());
    match call.as_mut().poll(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(result) => result.is_ok(),
    }
}

impl Executor for Transaction<'_> {
    async fn lease(&self) -> Result<Lease<'_>> {
        Ok(Lease::Borrowed(&self.conn))
    }

    fn templates(&self) -> &TemplateCache {
        &self.templates
    }

    fn call_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn session(&self) -> crate::call::Session {
        crate::call::Session::Track
    }
}

crate::executor::query_methods!(Transaction<'_>, "let x = db.transaction().await?;");

/// Commit on `Ok`, roll back on `Err`; a panic drops `tx`, which rolls back.
async fn run_in<T, E, F>(mut tx: Transaction<'_>, f: F) -> Result<T, E>
where
    F: AsyncFnOnce(&mut Transaction<'_>) -> Result<T, E>,
    E: From<Error>,
{
    match f(&mut tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The caller's error matters more than a failed rollback, and
            // the drop of `tx` still owes the rollback in that case.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

impl Database {
    /// Begins a transaction on a pooled connection.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let tx = db.transaction().await?;
    /// tx.execute("UPDATE {{tables.accounts}} SET balance = balance - 10 WHERE id = 1", &[]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction(&self) -> Result<Transaction<'static>> {
        self.transaction_opts(TransactionOptions::default()).await
    }

    /// Begins a transaction with an isolation level, read-only or
    /// deferrable mode.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// use pgdbm::{IsolationLevel, TransactionOptions};
    /// let tx = db.transaction_opts(TransactionOptions::new().isolation(IsolationLevel::Serializable)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_opts(
        &self,
        options: TransactionOptions,
    ) -> Result<Transaction<'static>> {
        let conn = PooledConn::new(self.pool().get().await?);
        Transaction::begin(
            Lease::Owned(conn),
            self.template_cache(),
            self.call_timeout(),
            1,
            options,
        )
        .await
    }

    /// Runs `f` in a transaction: committed on `Ok`, rolled back on `Err`
    /// (the error comes back unchanged) and on panic.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let id: i64 = db.transaction_with(async |tx| {
    ///     let id: i64 = tx.execute_returning_id("INSERT INTO {{tables.orders}} (total) VALUES (10)", &[]).await?;
    ///     tx.execute("UPDATE {{tables.stock}} SET n = n - 1", &[]).await?;
    ///     Ok::<_, pgdbm::Error>(id)
    /// }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Transaction<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = self.transaction().await?;
        run_in(tx, f).await
    }

    /// Runs `f` in a transaction with `options`, again from the start when it
    /// fails with a serialization failure or a deadlock, at most `attempts`
    /// times in all. Other errors come back at once.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// use pgdbm::{IsolationLevel, TransactionOptions};
    /// let opts = TransactionOptions::new().isolation(IsolationLevel::Serializable);
    /// db.transaction_retry(opts, 5, async |tx| {
    ///     let n: i64 = tx.fetch_value("SELECT count(*) FROM {{tables.seats}}", &[]).await?;
    ///     tx.execute("INSERT INTO {{tables.seats}} (n) VALUES ($1)", &[&n]).await
    /// }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// `f` is cloned for each attempt (an `AsyncFnOnce + Clone` rather than
    /// an `AsyncFnMut`, whose futures the compiler cannot yet prove `Send`
    /// for `tokio::spawn`); closures capturing references or `Arc`s are
    /// `Clone`.
    pub async fn transaction_retry<T, F>(
        &self,
        options: TransactionOptions,
        attempts: u32,
        f: F,
    ) -> Result<T>
    where
        F: AsyncFnOnce(&mut Transaction<'_>) -> Result<T> + Clone,
    {
        let mut attempt = 1;
        loop {
            let tx = self.transaction_opts(options).await?;
            match run_in(tx, f.clone()).await {
                Err(Error::SerializationFailure(_) | Error::Deadlock(_)) if attempt < attempts => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl Conn {
    /// Begins a transaction on this connection; the connection cannot be
    /// used directly until it ends.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut conn = db.acquire().await?;
    /// let tx = conn.transaction().await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.transaction_opts(TransactionOptions::default()).await
    }

    /// Begins a transaction with options on this connection.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut conn = db.acquire().await?;
    /// let tx = conn.transaction_opts(pgdbm::TransactionOptions::new().read_only(true)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_opts(
        &mut self,
        options: TransactionOptions,
    ) -> Result<Transaction<'_>> {
        Transaction::begin(
            Lease::Borrowed(&self.conn),
            self.templates.clone(),
            self.timeout,
            1,
            options,
        )
        .await
    }

    /// Runs `f` in a transaction on this connection: committed on `Ok`,
    /// rolled back on `Err` and on panic.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let mut conn = db.acquire().await?;
    /// conn.transaction_with(async |tx| tx.execute("DELETE FROM {{tables.t}}", &[]).await).await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Transaction<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = self.transaction().await?;
        run_in(tx, f).await
    }
}
