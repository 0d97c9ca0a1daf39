//! A connection checked out of the pool, and the clean-up that keeps a
//! dropped future from leaking an open transaction or a running query into
//! the next user's hands.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::pool::{Object, PgConnection};
use crate::template::TemplateCache;

/// Recovery of a dirty connection must not hold it forever.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// A pooled connection on loan. Dropping it returns the connection to the
/// pool; a dirty one (a call abandoned mid-flight, a transaction left open)
/// is first handed to a task that cancels, drains and rolls back, and is
/// discarded if any of that fails.
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
        if !obj.is_dirty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let clean = tokio::time::timeout(RECOVERY_LIMIT, obj.recover())
                        .await
                        .unwrap_or(false);
                    if !clean {
                        obj.mark_broken();
                    }
                    // Back to the pool; recycling discards it if broken.
                    drop(obj);
                });
            }
            // No runtime to clean up on: never hand it out again.
            Err(_) => obj.mark_broken(),
        }
    }
}

/// A connection for one call: owned for the call's duration (a manager's
/// call), or borrowed from a [`Conn`] or transaction that holds one.
// Lives on the stack for one call; boxing the owned side would cost an
// allocation per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lease<'a> {
    Owned(PooledConn),
    Borrowed(&'a PgConnection),
    Shared(crate::mux::SharedLease<'a>),
}

impl Deref for Lease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Lease::Owned(conn) => conn,
            Lease::Borrowed(conn) => conn,
            Lease::Shared(conn) => conn,
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
    /// Calls made through it bypass templates and pgdbm's error mapping.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let conn = db.acquire().await?;
    /// let rows = conn.client().simple_query("SELECT 1").await;
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &tokio_postgres::Client {
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

    fn check_session(&self, sql: &str) -> crate::Result<()> {
        if crate::lex::session_statement(sql).is_some() {
            self.conn.mark_session_dirty();
        }
        Ok(())
    }
}

crate::executor::query_methods!(Conn, "let x = db.acquire().await?;");
