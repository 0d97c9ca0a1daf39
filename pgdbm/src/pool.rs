//! The connection pool: deadpool's core with our own manager, so each pooled
//! connection carries its bounded statement cache and the state that cancel
//! safety needs (calls in flight, open transaction, broken).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use crate::config::{DatabaseConfig, SslMode};
use crate::copy::ColumnCache;
use crate::database::Database;
use crate::error::{ConnectTarget, Error, Result};
use crate::ident;
use crate::statement_cache::StatementCache;
use crate::template::TemplateCache;

const NO_DEBT: u32 = u32::MAX;

/// Sends the cancel request on `socket`, then waits (at most `limit`) for
/// the server to close it, which it does after signalling the backend.
async fn cancel_on<S>(token: &tokio_postgres::CancelToken, mut socket: S, limit: Duration) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1];
    token.cancel_query_raw(&mut socket, NoTls).await.is_ok()
        && tokio::time::timeout(limit, socket.read(&mut buf))
            .await
            .is_ok()
}

/// The server address cancel requests are sent to.
enum CancelAddr {
    Tcp(String, u16),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
    Unknown,
}

impl CancelAddr {
    fn of(pg: &tokio_postgres::Config) -> Self {
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        match pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => CancelAddr::Tcp(host.clone(), port),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(dir)) => {
                CancelAddr::Unix(dir.join(format!(".s.PGSQL.{port}")))
            }
            _ => CancelAddr::Unknown,
        }
    }
}

/// The name of the savepoint that opens transaction depth `depth` (> 1).
pub(crate) fn savepoint_name(depth: u32) -> String {
    ident::quote(&format!("pgdbm_savepoint_{depth}"))
}

/// SQL that brings the server from a deeper transaction back to `depth`
/// (0: no transaction).
pub(crate) fn rollback_sql(depth: u32) -> String {
    if depth == 0 {
        "ROLLBACK".to_owned()
    } else {
        let name = savepoint_name(depth + 1);
        format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
    }
}

/// Work that opened a transaction level owes, if it is dropped before it
/// ends, a rollback back to `depth`. The debt is only recorded on drop:
/// recorded up front, the work's own statements would pay it (every call
/// settles the connection first) and end the transaction under it.
pub(crate) struct RollbackGuard<'a> {
    conn: &'a PgConnection,
    depth: u32,
    armed: bool,
}

impl<'a> RollbackGuard<'a> {
    pub(crate) fn new(conn: &'a PgConnection, depth: u32) -> Self {
        RollbackGuard {
            conn,
            depth,
            armed: true,
        }
    }

    /// The work ended (committed or rolled back): nothing is owed.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.owe_rollback_to(self.depth);
        }
    }
}

/// One server connection owned by the pool.
pub(crate) struct PgConnection {
    client: Client,
    cache: StatementCache,
    /// Calls whose future was dropped before the server answered: the
    /// connection may still be running their statement.
    abandoned: AtomicBool,
    /// Transaction nesting depth opened through pgdbm (0 = none).
    tx_depth: AtomicU32,
    /// The transaction depth the server must be brought back to, owed by a
    /// transaction or batch that was dropped while it could not clean up
    /// itself (`NO_DEBT`: nothing owed). Paid before the next call or before
    /// the connection goes back to the pool.
    owed_depth: AtomicU32,
    /// Set when the connection cannot be trusted any more; it is discarded
    /// instead of going back to the pool.
    broken: AtomicBool,
    queries: AtomicU64,
    /// Raw SQL changed session state (SET, LISTEN, temporary tables, a raw
    /// BEGIN): reset the session before anyone else gets the connection.
    session_dirty: AtomicBool,
    /// A multiplexed connection: many callers' statements are pipelined on
    /// it, so nothing may ever cancel "its" statement.
    shared: bool,
    /// Where cancel requests go (the server this connection reached).
    cancel_addr: Arc<CancelAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgConnection {
    /// Connects, starts the connection task and runs `init_commands`.
    pub(crate) async fn open(
        pg: &tokio_postgres::Config,
        init_commands: &[String],
        statement_cache_size: usize,
        shared: bool,
    ) -> Result<PgConnection> {
        let (client, connection) = pg
            .connect(NoTls)
            .await
            .map_err(|e| Error::connect_to(e, &ConnectTarget::of(pg)))?;
        let task = tokio::spawn(async move {
            // The connection's error surfaces to callers through the client.
            let _ = connection.await;
        });
        let conn = PgConnection {
            client,
            cache: StatementCache::new(statement_cache_size),
            abandoned: AtomicBool::new(false),
            tx_depth: AtomicU32::new(0),
            owed_depth: AtomicU32::new(NO_DEBT),
            broken: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            session_dirty: AtomicBool::new(false),
            shared,
            cancel_addr: Arc::new(CancelAddr::of(pg)),
            task,
        };
        for sql in init_commands {
            conn.client
                .batch_execute(sql)
                .await
                .map_err(|e| Error::from_driver(e, Some(sql)))?;
        }
        Ok(conn)
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.shared
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn tx_depth(&self) -> u32 {
        self.tx_depth.load(Ordering::Acquire)
    }

    pub(crate) fn set_tx_depth(&self, depth: u32) {
        self.tx_depth.store(depth, Ordering::Release);
    }

    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    pub(crate) fn mark_abandoned(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// Records that, should the current work be abandoned, the server must
    /// be brought back to transaction depth `depth`.
    pub(crate) fn owe_rollback_to(&self, depth: u32) {
        self.owed_depth.fetch_min(depth, Ordering::AcqRel);
    }

    pub(crate) fn mark_session_dirty(&self) {
        self.session_dirty.store(true, Ordering::Release);
    }

    /// Raw SQL may have changed session state (see `session_dirty`).
    pub(crate) fn is_session_dirty(&self) -> bool {
        self.session_dirty.load(Ordering::Acquire)
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    fn needs_settling(&self) -> bool {
        self.is_abandoned() || self.owed_depth.load(Ordering::Acquire) != NO_DEBT
    }

    /// Whether handing this connection to someone else needs clean-up first.
    pub(crate) fn is_dirty(&self) -> bool {
        self.needs_settling() || self.tx_depth() > 0 || self.session_dirty.load(Ordering::Acquire)
    }

    pub(crate) fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && !self.client.is_closed()
    }

    /// A prepared statement for `sql`, from the cache or the server.
    pub(crate) async fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.cache.get(sql) {
            return Ok(statement);
        }
        let statement = self
            .client
            .prepare(sql)
            .await
            .map_err(|e| Error::from_driver(e, Some(sql)))?;
        self.cache.insert(sql, statement.clone());
        Ok(statement)
    }

    pub(crate) fn forget_statement(&self, sql: &str) {
        self.cache.remove(sql);
    }

    pub(crate) fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    pub(crate) fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Before a new call: if an earlier call on this connection was abandoned
    /// mid-flight, cancel whatever it left running and wait for its answer,
    /// so the new call neither waits behind it nor receives its cancel; then
    /// run the clean-up a dropped transaction owes.
    pub(crate) async fn settle(&self) -> Result<()> {
        if self.broken.load(Ordering::Acquire) {
            return Err(Error::ConnectionClosed(Box::new(
                crate::error::DriverError::message_only(
                    "this connection was broken by an earlier failure",
                ),
            )));
        }
        if !self.needs_settling() || self.clean().await {
            return Ok(());
        }
        self.mark_broken();
        Err(Error::ConnectionClosed(Box::new(
            crate::error::DriverError::message_only(
                "an abandoned call left this connection in a state that could not be cleaned up",
            ),
        )))
    }

    async fn clean(&self) -> bool {
        if self.abandoned.swap(false, Ordering::AcqRel) && !self.cancel_and_drain().await {
            return false;
        }
        let owed = self.owed_depth.swap(NO_DEBT, Ordering::AcqRel);
        if owed != NO_DEBT && owed < self.tx_depth() {
            if self
                .client
                .batch_execute(&rollback_sql(owed))
                .await
                .is_err()
            {
                return false;
            }
            self.set_tx_depth(owed);
        }
        true
    }

    /// Sends a cancel request and waits until the server has acted on it.
    ///
    /// The driver's `cancel_query` returns once the request is written, but
    /// the server signals the backend a moment later, so the cancel could
    /// land on a statement sent after it. The postmaster closes the cancel
    /// connection only after signalling, so wait for that close.
    async fn cancel(&self) -> bool {
        let token = self.client.cancel_token();
        let limit = Duration::from_secs(5);
        match &*self.cancel_addr {
            CancelAddr::Tcp(host, port) => {
                let connect = tokio::net::TcpStream::connect((host.as_str(), *port));
                match tokio::time::timeout(limit, connect).await {
                    Ok(Ok(socket)) => cancel_on(&token, socket, limit).await,
                    _ => false,
                }
            }
            #[cfg(unix)]
            CancelAddr::Unix(path) => {
                let connect = tokio::net::UnixStream::connect(path);
                match tokio::time::timeout(limit, connect).await {
                    Ok(Ok(socket)) => cancel_on(&token, socket, limit).await,
                    _ => false,
                }
            }
            CancelAddr::Unknown => token.cancel_query(NoTls).await.is_ok(),
        }
    }

    /// Cancels the backend's current statement and waits until every earlier
    /// request on this connection has been answered. Returns whether the
    /// connection is fit for reuse.
    pub(crate) async fn cancel_and_drain(&self) -> bool {
        if !self.cancel().await {
            return false;
        }
        // Responses come back in request order, so an empty query returns
        // only after the abandoned statement has finished. PostgreSQL ignores
        // a cancel that arrives while the backend waits for a command; one
        // that lands on this empty query is harmless.
        match self.client.simple_query("").await {
            Ok(_) => true,
            Err(e) => e.code() == Some(&SqlState::QUERY_CANCELED),
        }
    }

    /// Brings a dirty connection back to idle: cancel and drain abandoned
    /// work, run owed clean-up, roll back an open transaction. Returns
    /// whether that worked.
    pub(crate) async fn recover(&self) -> bool {
        if !self.clean().await {
            return false;
        }
        if self.tx_depth() > 0 {
            if self.client.batch_execute("ROLLBACK").await.is_err() {
                return false;
            }
            self.set_tx_depth(0);
        }
        if self.session_dirty.swap(false, Ordering::AcqRel) {
            // What a fresh session would have, short of DISCARD ALL, which
            // would also drop the prepared statements our cache holds.
            let reset = "ROLLBACK; RESET ALL; UNLISTEN *; CLOSE ALL; DISCARD TEMP; \
                         SELECT pg_advisory_unlock_all()";
            if self.client.batch_execute(reset).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn backend_facts(&self) -> Result<(i32, String)> {
        let sql = "SELECT pg_backend_pid(), current_setting('server_version')";
        let row = self
            .client
            .query_one(sql, &[])
            .await
            .map_err(|e| Error::from_driver(e, Some(sql)))?;
        Ok((row.get(0), row.get(1)))
    }
}

/// Opens and recycles connections for deadpool.
pub(crate) struct ConnManager {
    pg: tokio_postgres::Config,
    init_commands: Vec<String>,
    statement_cache_size: usize,
    max_queries: u64,
    max_inactive: Option<Duration>,
}

impl managed::Manager for ConnManager {
    type Type = PgConnection;
    type Error = Error;

    async fn create(&self) -> Result<PgConnection> {
        PgConnection::open(
            &self.pg,
            &self.init_commands,
            self.statement_cache_size,
            false,
        )
        .await
    }

    async fn recycle(&self, conn: &mut PgConnection, metrics: &Metrics) -> RecycleResult<Error> {
        // No ping: a broken connection shows itself through errors and
        // `is_closed`, and a round trip per checkout would halve throughput.
        if !conn.is_usable() || conn.is_dirty() {
            return Err(RecycleError::message("connection is closed or not clean"));
        }
        if conn.queries.load(Ordering::Relaxed) >= self.max_queries {
            return Err(RecycleError::message("connection reached max_queries"));
        }
        if self
            .max_inactive
            .is_some_and(|limit| metrics.last_used() > limit)
        {
            return Err(RecycleError::message("connection was idle too long"));
        }
        Ok(())
    }
}

pub(crate) type Pool = managed::Pool<ConnManager>;
pub(crate) type Object = managed::Object<ConnManager>;

pub(crate) struct PoolShared {
    pool: Pool,
    mux: Option<crate::mux::Mux>,
    config: DatabaseConfig,
    templates: Mutex<HashMap<Option<Arc<str>>, Arc<TemplateCache>>>,
    /// COPY targets' columns, for every schema's managers.
    copy_columns: Arc<ColumnCache>,
}

/// A connection pool that several [`Database`] managers share, each with its
/// own schema.
///
/// Cloning is cheap and every clone is the same pool. A `Database` made from
/// a shared pool borrows it: [`Database::close`] on it does nothing, and the
/// pool closes when [`SharedPool::close`] is called.
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// use pgdbm::{DatabaseConfig, SharedPool};
/// let pool = SharedPool::connect(DatabaseConfig::from_url("postgres://localhost/app")?).await?;
/// let users = pool.database(Some("users"))?;
/// let billing = pool.database(Some("billing"))?;
/// users.create_schema().await?;
/// billing.create_schema().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedPool {
    pub(crate) inner: Arc<PoolShared>,
}

impl std::fmt::Debug for SharedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPool")
            .field("database", &self.inner.config.database)
            .field("status", &self.inner.pool.status())
            .finish()
    }
}

impl SharedPool {
    /// Validates `config`, builds the pool and opens `min_connections`
    /// connections before returning (retrying the first with backoff).
    ///
    /// The pool leaves `search_path` alone: managers made from it qualify
    /// every table through templates and builders.
    #[doc(alias = "create_shared_pool")]
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let pool = pgdbm::SharedPool::connect(pgdbm::DatabaseConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: DatabaseConfig) -> Result<SharedPool> {
        Self::open(config, None).await
    }

    /// Builds the pool; `search_path` is set as a startup option of every
    /// connection (an owned pool with a schema).
    pub(crate) async fn open(config: DatabaseConfig, search_path: Option<&str>) -> Result<Self> {
        config.validate()?;
        if matches!(
            config.ssl_mode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        ) {
            return Err(Error::config(
                "ssl_mode",
                format!(
                    "sslmode={} is not supported yet; use disable or prefer",
                    config.ssl_mode.as_str()
                ),
            ));
        }
        let manager = ConnManager {
            pg: config.pg_config(search_path),
            init_commands: config.init_commands.clone(),
            statement_cache_size: config.statement_cache_size,
            max_queries: config.max_queries,
            max_inactive: config.max_inactive_connection_lifetime,
        };
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(config.acquire_timeout)
            .create_timeout(config.connect_timeout)
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::config("max_connections", e.to_string()))?;
        let mux = config
            .multiplex
            .then(|| crate::mux::Mux::new(&config, search_path));
        let shared = SharedPool {
            inner: Arc::new(PoolShared {
                pool,
                mux,
                config,
                templates: Mutex::new(HashMap::new()),
                copy_columns: Arc::default(),
            }),
        };
        shared.warm_up().await?;
        Ok(shared)
    }

    /// Opens `min_connections` eagerly; the first with retry and backoff so
    /// a server that is still starting does not fail the service. Errors
    /// that retrying cannot mend (refused credentials, an unknown database)
    /// return at once; the last connect error says how many times it tried.
    async fn warm_up(&self) -> Result<()> {
        let config = &self.inner.config;
        let mut delay = config.retry_delay;
        let mut attempt = 0;
        let first = loop {
            match self.get().await {
                Ok(conn) => break conn,
                Err(e) if e.is_retryable() && attempt < config.retry_attempts => {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    delay = delay
                        .mul_f64(config.retry_backoff)
                        .min(config.retry_max_delay);
                }
                Err(e) => return Err(e.with_attempts(attempt + 1)),
            }
        };
        let rest = config.min_connections.saturating_sub(1);
        let more = futures_util::future::try_join_all((0..rest).map(|_| self.get())).await?;
        drop(first);
        drop(more);
        if let Some(mux) = &self.inner.mux {
            mux.warm_up().await?;
        }
        Ok(())
    }

    /// The multiplexed connections, when multiplexing is on.
    pub(crate) fn mux(&self) -> Option<&crate::mux::Mux> {
        self.inner.mux.as_ref()
    }

    /// A connection from the pool, mapped into pgdbm's errors.
    pub(crate) async fn get(&self) -> Result<Object> {
        self.inner.pool.get().await.map_err(|e| match e {
            managed::PoolError::Timeout(managed::TimeoutType::Wait) => {
                Error::PoolTimeout(self.inner.config.acquire_timeout.unwrap_or_default())
            }
            managed::PoolError::Timeout(_) => Error::connect_failed(
                &ConnectTarget::from_config(&self.inner.config),
                "timed out opening a connection",
            ),
            managed::PoolError::Closed => Error::PoolClosed,
            managed::PoolError::Backend(e) => e,
            managed::PoolError::PostCreateHook(e) => Error::connect_failed(
                &ConnectTarget::from_config(&self.inner.config),
                e.to_string(),
            ),
            managed::PoolError::NoRuntimeSpecified => Error::config("runtime", "no runtime"),
        })
    }

    /// A manager on this pool for `schema` (`None`: no qualification, and
    /// `public` for [`Database::table_exists`]).
    ///
    /// ```no_run
    /// # async fn f(pool: pgdbm::SharedPool) -> pgdbm::Result<()> {
    /// let db = pool.database(Some("tenant_42"))?;
    /// # Ok(()) }
    /// ```
    pub fn database(&self, schema: Option<&str>) -> Result<Database> {
        Database::from_pool(self, schema)
    }

    /// The template cache for `schema`, shared by every manager using it.
    pub(crate) fn templates(&self, schema: Option<&str>) -> Result<Arc<TemplateCache>> {
        if let Some(s) = schema {
            ident::validate("schema", s)?;
        }
        let mut map = self
            .inner
            .templates
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key: Option<Arc<str>> = schema.map(Arc::from);
        Ok(map
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(TemplateCache::for_pool(
                    key,
                    Arc::clone(&self.inner.copy_columns),
                ))
            })
            .clone())
    }

    pub(crate) fn config(&self) -> &DatabaseConfig {
        &self.inner.config
    }

    /// Closes the pool: idle connections are closed now, connections in use
    /// when they are returned, and every later call gets
    /// [`Error::PoolClosed`]. Calling it again does nothing.
    ///
    /// ```no_run
    /// # async fn f(pool: pgdbm::SharedPool) {
    /// pool.close();
    /// assert!(pool.is_closed());
    /// # }
    /// ```
    pub fn close(&self) {
        self.inner.pool.close();
        if let Some(mux) = &self.inner.mux {
            mux.close();
        }
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```no_run
    /// # fn f(pool: pgdbm::SharedPool) { let open = !pool.is_closed(); }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }

    pub(crate) async fn stats(&self, schema: Option<&str>) -> Result<PoolStats> {
        let config = &self.inner.config;
        let status = self.inner.pool.status();
        let closed = self.is_closed();
        let mut stats = PoolStats {
            status: if closed {
                PoolStatus::Closed
            } else {
                PoolStatus::Open
            },
            min_size: config.min_connections,
            max_size: status.max_size,
            size: status.size,
            free: status.available,
            used: status.size.saturating_sub(status.available),
            waiting: status.waiting,
            database: config.database.clone(),
            schema: schema.map(str::to_owned),
            server_pid: None,
            server_version: None,
            shared_connections: 0,
            shared_in_flight: 0,
            copy_describes: self.inner.copy_columns.describes(),
        };
        if let Some(mux) = &self.inner.mux {
            (stats.shared_connections, stats.shared_in_flight) = mux.stats();
        }
        if !closed {
            let conn = self.get().await?;
            let (pid, version) = conn.backend_facts().await?;
            stats.server_pid = Some(pid);
            stats.server_version = Some(version);
        }
        Ok(stats)
    }
}

/// Whether a pool is open.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use pgdbm::PoolStatus;
/// assert_eq!(db.pool_stats().await?.status, PoolStatus::Open);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolStatus {
    /// Serving connections.
    Open,
    /// Closed by [`Database::close`] or [`SharedPool::close`].
    Closed,
}

/// A snapshot of a pool, from [`Database::pool_stats`].
///
/// On a closed pool the counts are still reported and the server facts are
/// `None` (the Python library raises there instead).
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let stats = db.pool_stats().await?;
/// println!("{} of {} connections in use", stats.used, stats.max_size);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Open or closed.
    pub status: PoolStatus,
    /// `min_connections` from the configuration.
    pub min_size: usize,
    /// `max_connections`.
    pub max_size: usize,
    /// Connections currently open.
    pub size: usize,
    /// Open connections that are idle in the pool.
    pub free: usize,
    /// Open connections handed out.
    pub used: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// The database name.
    pub database: String,
    /// The manager's schema.
    pub schema: Option<String>,
    /// Backend process id of one pooled connection.
    pub server_pid: Option<i32>,
    /// The server's `server_version`.
    pub server_version: Option<String>,
    /// Open multiplexed connections (0 with multiplexing off).
    pub shared_connections: usize,
    /// Requests in flight on the multiplexed connections.
    pub shared_in_flight: usize,
    /// How many times a COPY FROM asked the server to describe its table
    /// (a first COPY, or a cached description found stale). For tests of
    /// the column cache; not part of the stable API.
    #[doc(hidden)]
    pub copy_describes: u64,
}
