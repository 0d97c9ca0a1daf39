//! A connection checked out of the pool, and the clean-up that keeps a
//! dropped future from leaking an open transaction or a running query into
//! the next user's hands.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::connection::{Answer, PgConnection, SESSION_DISCARD};
use crate::pool::Object;
use crate::template::TemplateCache;

/// A pooled connection on loan. Dropping it returns the connection to the
/// pool; a dirty one (a call cut off mid-flight, a transaction left open,
/// session state changed) is first handed to a task that waits for its
/// recovery, rolls back and resets, and is discarded if any of that fails.
pub(crate) struct PooledConn {
    obj: Option<Object>,
}

impl PooledConn {
    pub(crate) fn new(obj: Object) -> Self {
        PooledConn { obj: Some(obj) }
    }
}

impl Deref for PooledConn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        // `obj` is only taken in `drop`.
        self.obj
            .as_deref()
            .expect("pooled connection used after drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        let Some(obj) = self.obj.take() else { return };
        obj.mark_idle();
        if !obj.is_dirty() || !obj.is_usable() {
            // Clean, or on its way out: recycling discards a broken one.
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if !obj.recover().await {
                        obj.mark_broken();
                    }
                    drop(obj);
                });
            }
            Err(_) => obj.mark_broken(),
        }
    }
}

/// `SharedLease::sent` before the statement is sent.
const UNSENT: u64 = 0;
/// `SharedLease::sent` once the server answered.
const ANSWERED: u64 = u64::MAX;

/// One statement's claim on a multiplexed connection. The claim lasts until
/// the server answers: a caller that leaves before that leaves the claim to
/// a task that waits for the answer, so routing never mistakes a busy
/// connection for an idle one.
pub(crate) struct SharedLease {
    conn: PgConnection,
    /// `UNSENT`, `ANSWERED`, or the `now_micros()` it was sent at.
    sent: AtomicU64,
    /// When the call must be over, if getting the lease took a while: the
    /// server's `statement_timeout` alone would then let the call as a
    /// whole run past `command_timeout`.
    deadline: Option<tokio::time::Instant>,
}

impl SharedLease {
    /// A lease on `conn`, whose slot the caller has claimed.
    pub(crate) fn claimed(conn: PgConnection, deadline: Option<tokio::time::Instant>) -> Self {
        SharedLease {
            conn,
            sent: AtomicU64::new(UNSENT),
            deadline,
        }
    }
}

impl Drop for SharedLease {
    fn drop(&mut self) {
        match *self.sent.get_mut() {
            ANSWERED => {}
            UNSENT => self.conn.release(Answer::Unused),
            sent => {
                // Answers come in request order: an empty query sent now is
                // answered right after the abandoned statement.
                let conn = self.conn.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        conn.leave_unanswered();
                        runtime.spawn(async move {
                            let _ = conn.client().simple_query("").await;
                            conn.answered_left();
                            conn.release(Answer::Late(sent));
                        });
                    }
                    Err(_) => conn.release(Answer::Late(sent)),
                }
            }
        }
    }
}

/// A connection for one call: owned for the call's duration (a manager's
/// call), borrowed from a [`Conn`] or transaction that holds one, or a
/// claim on a multiplexed one.
// Lives on the stack for one call; boxing the owned side would cost an
// allocation per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lease<'a> {
    Owned(PooledConn),
    Borrowed(&'a PgConnection),
    Shared(SharedLease),
}

impl Deref for Lease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Lease::Owned(conn) => conn,
            Lease::Borrowed(conn) => conn,
            Lease::Shared(lease) => &lease.conn,
        }
    }
}

impl Lease<'_> {
    /// A claim on a multiplexed connection.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Lease::Shared(_))
    }

    /// `timeout`, shortened to what is left of the call's deadline where
    /// getting the lease took part of it.
    pub(crate) fn limit(&self, timeout: Option<Duration>) -> Option<Duration> {
        let Lease::Shared(SharedLease {
            deadline: Some(at), ..
        }) = self
        else {
            return timeout;
        };
        let left = at.saturating_duration_since(tokio::time::Instant::now());
        Some(timeout.map_or(left, |t| t.min(left)))
    }

    /// Waits until the connection may take a new call. A shared connection
    /// never needs to: nothing on it is ever cancelled.
    pub(crate) async fn settle(&self) -> crate::Result<()> {
        match self {
            Lease::Shared(_) => Ok(()),
            other => other.deref().settle().await,
        }
    }

    /// A request is about to be sent (`at`: `now_micros()`).
    pub(crate) fn sent(&self, at: u64) {
        if let Lease::Shared(lease) = self {
            let previous = lease.sent.swap(at.max(1), Ordering::AcqRel);
            if previous == ANSWERED {
                lease.conn.claim();
            }
        }
    }

    /// The server answered the request (`at`: `now_micros()`).
    pub(crate) fn answered(&self, at: u64) {
        if let Lease::Shared(lease) = self {
            match lease.sent.swap(ANSWERED, Ordering::AcqRel) {
                ANSWERED => {}
                UNSENT => lease.conn.release(Answer::Unused),
                sent => lease.conn.release(Answer::Measured(sent, at)),
            }
        }
    }

    /// The call was cut off before the server answered. An exclusive
    /// connection goes to its recovery (discarded with `discard`); a shared
    /// one is never cancelled, and its claim waits for the answer.
    pub(crate) fn cut_off(&self, discard: bool) {
        match self {
            Lease::Shared(_) => {}
            other => {
                // The cancel aborts the transaction the call ran in.
                other.note_tx_failure();
                other.abandon(discard);
            }
        }
    }

    /// What an error that ended a call means for its connection.
    pub(crate) fn note_error(&self, err: &crate::Error) {
        match err {
            crate::Error::ConnectionClosed(_) => self.mark_broken(),
            // The server aborts the transaction the statement ran in.
            err if err.database_error().is_some() => self.note_tx_failure(),
            _ => {}
        }
    }
}

/// One pooled connection held exclusively, from
/// [`Database::acquire`](crate::Database::acquire).
///
/// It has the same query methods as [`Database`](crate::Database), with the
/// same schema, and gives access to the raw `tokio_postgres::Client` for what
/// pgdbm does not wrap. Session state (`SET`, `LISTEN`, temporary tables)
/// belongs here, not on `Database`, whose calls may each land on a different
/// connection. Dropping it returns the connection to the pool.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let conn = db.acquire().await?;
/// conn.execute("SET work_mem = '64MB'", &[]).await?;
/// let n: i64 = conn.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await?;
/// # Ok(()) }
/// ```
pub struct Conn {
    pub(crate) conn: PooledConn,
    pub(crate) templates: Arc<TemplateCache>,
    pub(crate) timeout: Option<Duration>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("schema", &self.templates.schema())
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// The underlying `tokio_postgres::Client` (Python's `connection`).
    ///
    /// Calls made through it bypass templates and pgdbm's error mapping,
    /// and pgdbm cannot know what they did to the session: once the client
    /// is taken, the connection is closed when this `Conn` is dropped
    /// instead of going back to the pool.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let conn = db.acquire().await?;
    /// let rows = conn.client().simple_query("SELECT 1").await;
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &tokio_postgres::Client {
        // What is done through it cannot be known: the connection is
        // discarded instead of going back to the pool.
        self.conn.note_session(SESSION_DISCARD);
        self.conn.client()
    }

    /// The schema this connection's templates expand to.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let conn = db.acquire().await?;
    /// assert_eq!(conn.schema(), db.schema());
    /// # Ok(()) }
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.templates.schema()
    }

    /// How many prepared statements this connection keeps cached.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let conn = db.acquire().await?;
    /// conn.fetch_all("SELECT 1", &[]).await?;
    /// assert!(conn.cached_statements() >= 1);
    /// # Ok(()) }
    /// ```
    pub fn cached_statements(&self) -> usize {
        self.conn.cached_statements()
    }
}

impl crate::executor::Executor for Conn {
    async fn lease(&self) -> crate::Result<Lease<'_>> {
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

crate::executor::query_methods!(Conn, "let x = db.acquire().await?;");
