//! The connection pool: deadpool's core with our own manager, so each pooled
//! connection carries its bounded statement cache and the state that cancel
//! safety needs (see `connection`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult, Timeouts};

use crate::config::DatabaseConfig;
use crate::connection::{Observe, PgConnection};
use crate::copy::ColumnCache;
use crate::database::Database;
use crate::error::{ConnectTarget, Error, Result};
use crate::ident;
use crate::prepared::PoolStatements;
use crate::template::TemplateCache;
use crate::tls::Tls;

/// What happened to a pool's connections since it was built, for
/// [`PoolStats`].
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    opened: AtomicU64,
    recycled: AtomicU64,
    /// Connections found broken or closed by the server.
    lost: AtomicU64,
    /// Lost connections not yet replaced by a new one.
    unreplaced: AtomicU64,
    reconnected: AtomicU64,
    connect_retries: AtomicU64,
    waits: AtomicU64,
    timeouts: AtomicU64,
}

impl PoolCounters {
    pub(crate) fn recycled(&self) {
        self.recycled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lost(&self) {
        self.lost.fetch_add(1, Ordering::Relaxed);
        self.unreplaced.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection given back for good: recycled when pgdbm retired it,
    /// lost when it broke.
    fn discarded(&self, conn: &PgConnection) {
        if conn.is_retired() {
            self.recycled();
        } else {
            self.lost();
        }
    }

    fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        let replaced = self
            .unreplaced
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if replaced {
            self.reconnected.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Backoff between connection attempts, from the `retry_*` settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    attempts: u32,
    delay: Duration,
    backoff: f64,
    max: Duration,
}

impl Retry {
    fn from_config(config: &DatabaseConfig) -> Self {
        Retry {
            attempts: config.retry_attempts,
            delay: config.retry_delay,
            backoff: config.retry_backoff,
            max: config.retry_max_delay,
        }
    }

    /// The pause before retry `n` (from 1): `delay * backoff^(n-1)`, capped
    /// at `max`, plus up to a quarter more at random, so clients that lost
    /// the server together do not all come back in the same instant. At
    /// the cap the random quarter is taken off instead: never longer than
    /// `max`, and never shorter than the schedule below it.
    fn pause(&self, n: u32) -> Duration {
        let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let max = self.max.as_secs_f64();
        let capped = (self.delay.as_secs_f64() * self.backoff.powi(exponent)).min(max);
        let spread = capped * 0.25 * unit_random();
        let pause = if capped < max {
            (capped + spread).min(max)
        } else {
            capped - spread
        };
        Duration::from_secs_f64(pause)
    }
}

/// A number in `[0, 1)`, different on every call; std's hasher keys are
/// random per process and step on each `RandomState`, which is all jitter
/// needs (no dependency on a random number crate).
fn unit_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::connection::now_micros());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether another attempt at opening a connection may succeed. Refused
/// credentials, an unknown database, TLS and configuration problems stay
/// wrong until someone changes them; a failed init command is the
/// configuration's SQL failing. A server at its connection limit (53300)
/// frees slots as other clients leave.
fn retry_helps(err: &Error) -> bool {
    matches!(err, Error::Connect(_) | Error::ConnectionClosed(_))
        || (err.is_retryable() && err.database_error().is_some())
        || err.sqlstate() == Some("53300")
}

tokio::task_local! {
    /// Set while the pool's own background task opens connections: it
    /// tries again on its next round, so each open is a single attempt.
    static BACKGROUND: ();
}

/// Opens and recycles connections for deadpool.
pub(crate) struct ConnManager {
    pg: tokio_postgres::Config,
    /// Built once per pool: files read, key decrypted, rustls configured.
    tls: Tls,
    init_commands: Vec<String>,
    statement_cache_size: usize,
    max_queries: u64,
    max_inactive: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: Retry,
    target: ConnectTarget,
    counters: Arc<PoolCounters>,
    /// Named statements of every schema, prepared on each new connection.
    statements: Arc<PoolStatements>,
    /// Handed to every connection, for its spans and slow-query log.
    observe: Arc<Observe>,
}

impl ConnManager {
    /// One attempt: connect, init commands, named statements.
    async fn open_once(&self) -> Result<PgConnection> {
        let conn = PgConnection::open(
            &self.pg,
            &self.tls,
            &self.init_commands,
            self.statement_cache_size,
            self.connect_timeout,
        )
        .await?;
        for sql in self.statements.snapshot() {
            match crate::call::prepare_ahead(&conn, &sql, self.connect_timeout).await {
                Ok(()) => {}
                Err(e @ (Error::ConnectionClosed(_) | Error::Timeout(_))) => return Err(e),
                // Its table may not exist yet (statements are often added
                // before migrations run): the first use prepares it again
                // and reports the error to its caller.
                Err(e) => tracing::debug!(
                    target: "pgdbm",
                    error = %e,
                    sql = &*sql,
                    "named statement not prepared on a new connection"
                ),
            }
        }
        conn.set_observe(Arc::clone(&self.observe));
        conn.reset_queries();
        Ok(conn)
    }
}

impl managed::Manager for ConnManager {
    type Type = PgConnection;
    type Error = Error;

    async fn create(&self) -> Result<PgConnection> {
        let retries = if BACKGROUND.try_with(|_| ()).is_ok() {
            0
        } else {
            self.retry.attempts
        };
        let mut attempt = 1;
        loop {
            // Boxed: opening a connection is rare, and its future (the
            // driver's whole connect and startup) would otherwise sit
            // inside every checkout's future, making each call's future
            // kilobytes larger.
            match Box::pin(self.open_once()).await {
                Ok(conn) => {
                    self.counters.opened();
                    return Ok(conn);
                }
                Err(e) if attempt <= retries && retry_helps(&e) => {
                    let pause = self.retry.pause(attempt);
                    self.counters
                        .connect_retries
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        target: "pgdbm",
                        attempt,
                        server.address = self.target.host(),
                        server.port = self.target.port(),
                        db.namespace = self.target.database(),
                        attempts = retries + 1,
                        retry_in_ms = pause.as_millis() as u64,
                        error = %e,
                        "opening a connection failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.with_attempts(attempt)),
            }
        }
    }

    async fn recycle(&self, conn: &mut PgConnection, _: &Metrics) -> RecycleResult<Error> {
        // No ping: a broken connection shows itself through errors and
        // `is_closed`, and a round trip per checkout would halve throughput.
        // A shared connection is given back only when it is retired, and
        // then marked broken.
        if !conn.is_usable() {
            self.counters.discarded(conn);
            return Err(RecycleError::message("connection is closed"));
        }
        if conn.is_dirty() {
            self.counters.lost();
            return Err(RecycleError::message("connection is not clean"));
        }
        if conn.queries() >= self.max_queries {
            self.counters.recycled();
            return Err(RecycleError::message("connection reached max_queries"));
        }
        if self
            .max_inactive
            .is_some_and(|limit| conn.idle_for() > limit)
        {
            self.counters.recycled();
            return Err(RecycleError::message("connection was idle too long"));
        }
        Ok(())
    }
}

/// The per-schema caches of a pool, least recently opened evicted first.
/// Opening a manager is rare next to queries (which hold their schema's
/// cache already), so eviction may scan.
#[derive(Default)]
struct SchemaCaches {
    map: HashMap<Option<Arc<str>>, (Arc<TemplateCache>, u64)>,
    tick: u64,
}

impl SchemaCaches {
    fn get_or_insert(
        &mut self,
        key: Option<Arc<str>>,
        bound: usize,
        make: impl FnOnce(Option<Arc<str>>) -> Arc<TemplateCache>,
    ) -> Arc<TemplateCache> {
        self.tick += 1;
        if let Some((cache, used)) = self.map.get_mut(&key) {
            *used = self.tick;
            return Arc::clone(cache);
        }
        while self.map.len() >= bound {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.map.remove(&oldest);
        }
        let cache = make(key.clone());
        self.map.insert(key, (Arc::clone(&cache), self.tick));
        cache
    }
}

pub(crate) type Pool = managed::Pool<ConnManager>;
pub(crate) type Object = managed::Object<ConnManager>;

pub(crate) struct PoolShared {
    pool: Pool,
    mux: Option<crate::mux::Mux>,
    config: DatabaseConfig,
    templates: Mutex<SchemaCaches>,
    /// COPY targets' columns, for every schema's managers.
    copy_columns: Arc<ColumnCache>,
    counters: Arc<PoolCounters>,
    statements: Arc<PoolStatements>,
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
        let counters = Arc::new(PoolCounters::default());
        let statements = Arc::new(PoolStatements::default());
        let manager = ConnManager {
            pg: config.pg_config(search_path),
            tls: Tls::from_config(&config)?,
            init_commands: config.init_commands.clone(),
            statement_cache_size: config.statement_cache_size,
            max_queries: config.max_queries,
            max_inactive: config.max_inactive_connection_lifetime,
            connect_timeout: config.connect_timeout,
            retry: Retry::from_config(&config),
            target: ConnectTarget::from_config(&config),
            counters: Arc::clone(&counters),
            statements: Arc::clone(&statements),
            observe: Arc::new(Observe {
                host: config.host.clone(),
                port: config.port,
                database: config.database.clone(),
                slow: config.slow_query_threshold,
            }),
        };
        // No create timeout: each attempt is bounded by connect_timeout
        // inside the manager, and a bound on the whole would cut the
        // retries short.
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(config.acquire_timeout)
            .create_timeout(None)
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::config("max_connections", e.to_string()))?;
        // The shared set never holds the pool's last connection.
        let shared = config
            .multiplex_connections
            .min(config.max_connections.saturating_sub(1));
        let mux = (config.multiplex && shared > 0)
            .then(|| crate::mux::Mux::new(pool.clone(), &config, shared));
        let shared = SharedPool {
            inner: Arc::new(PoolShared {
                pool,
                mux,
                config,
                templates: Mutex::new(SchemaCaches::default()),
                copy_columns: Arc::default(),
                counters,
                statements,
            }),
        };
        shared.warm_up().await?;
        spawn_keeper(&shared.inner);
        Ok(shared)
    }

    /// Opens `min_connections` eagerly (at least one, so a wrong address or
    /// password shows now, not at the first query). Opening retries with
    /// backoff, so a server that is still starting does not fail the
    /// service; errors that retrying cannot mend return at once.
    async fn warm_up(&self) -> Result<()> {
        let config = &self.inner.config;
        let first = self.get().await?;
        let rest = config.min_connections.saturating_sub(1);
        let more = futures_util::future::try_join_all((0..rest).map(|_| self.get())).await?;
        drop(first);
        drop(more);
        if let Some(mux) = &self.inner.mux {
            mux.warm_up(config.connect_timeout).await?;
        }
        Ok(())
    }

    /// The multiplexed connections, when multiplexing is on.
    pub(crate) fn mux(&self) -> Option<&crate::mux::Mux> {
        self.inner.mux.as_ref()
    }

    /// A connection from the pool, mapped into pgdbm's errors.
    pub(crate) async fn get(&self) -> Result<Object> {
        let inner = &*self.inner;
        let status = inner.pool.status();
        if status.available == 0 && status.size >= status.max_size {
            // Nothing idle and no room to open one: this caller waits.
            inner.counters.waits.fetch_add(1, Ordering::Relaxed);
        }
        inner.pool.get().await.map_err(|e| {
            let config = &inner.config;
            let e = pool_error(
                e,
                config.acquire_timeout.unwrap_or_default(),
                &ConnectTarget::from_config(config),
            );
            if let Error::PoolTimeout(_) = e {
                inner.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            e
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
        let mut caches = self
            .inner
            .templates
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key: Option<Arc<str>> = schema.map(Arc::from);
        Ok(
            caches.get_or_insert(key, self.inner.config.schema_cache_size, |key| {
                Arc::new(TemplateCache::for_pool(
                    key,
                    Arc::clone(&self.inner.copy_columns),
                    Arc::clone(&self.inner.statements),
                ))
            }),
        )
    }

    pub(crate) fn config(&self) -> &DatabaseConfig {
        &self.inner.config
    }

    /// Closes the pool: idle connections are closed now, connections in use
    /// when they are returned, and every later call gets
    /// [`Error::PoolClosed`]. Calling it again does nothing.
    ///
    /// Async like [`Database::close`](crate::Database::close), so that the two
    /// read alike (and closing may wait for connections in a later version
    /// without breaking callers); today it completes at once.
    ///
    /// ```no_run
    /// # async fn f(pool: pgdbm::SharedPool) {
    /// pool.close().await;
    /// assert!(pool.is_closed());
    /// # }
    /// ```
    pub async fn close(&self) {
        self.close_now();
    }

    /// [`close`](Self::close), for `Drop` impls that cannot await.
    pub(crate) fn close_now(&self) {
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
        let inner = &*self.inner;
        let config = &inner.config;
        let status = inner.pool.status();
        let closed = self.is_closed();
        let counters = &inner.counters;
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut stats = PoolStats {
            status: if closed {
                PoolStatus::Closed
            } else {
                PoolStatus::Open
            },
            min_size: config.min_connections,
            max_size: config.max_connections,
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
            opened: count(&counters.opened),
            recycled: count(&counters.recycled),
            lost: count(&counters.lost),
            reconnected: count(&counters.reconnected),
            connect_retries: count(&counters.connect_retries),
            waits: count(&counters.waits),
            timeouts: count(&counters.timeouts),
            copy_describes: inner.copy_columns.describes(),
            cached_schemas: inner
                .templates
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map
                .len(),
        };
        if let Some(mux) = &inner.mux {
            (stats.shared_connections, stats.shared_in_flight) = mux.stats();
            stats.used = stats.used.saturating_sub(stats.shared_connections);
        }
        if !closed {
            // An idle connection or a new one, never a wait: a snapshot
            // must not queue behind the load it is meant to show.
            let timeouts = Timeouts {
                wait: Some(Duration::ZERO),
                create: config.connect_timeout,
                recycle: Some(Duration::from_secs(5)),
            };
            if let Ok(conn) = BACKGROUND
                .scope((), inner.pool.timeout_get(&timeouts))
                .await
            {
                if let Ok((pid, version)) = conn.backend_facts(config.connect_timeout).await {
                    stats.server_pid = Some(pid);
                    stats.server_version = Some(version);
                }
            }
        }
        Ok(stats)
    }
}

/// How often the keeper looks at the pool: often enough that a pool below
/// `min_connections` heals within about a second, and an idle connection
/// outlives its limit by at most half of it.
fn keeper_period(config: &DatabaseConfig) -> Duration {
    const PERIOD: Duration = Duration::from_secs(1);
    match config.max_inactive_connection_lifetime {
        Some(limit) => (limit / 2).clamp(Duration::from_millis(50), PERIOD),
        None => PERIOD,
    }
}

/// Starts the pool's keeper: a task that closes connections idle past
/// `max_inactive_connection_lifetime` (down to `min_connections`) and
/// broken idle ones, and opens connections until the pool has
/// `min_connections` again (after a restart of the server, say). It holds
/// the pool weakly and ends once the pool is closed or dropped.
fn spawn_keeper(inner: &Arc<PoolShared>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<PoolShared> = Arc::downgrade(inner);
    let period = keeper_period(&inner.config);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(pool) = weak.upgrade() else { return };
            if pool.pool.is_closed() {
                return;
            }
            if let Some(mux) = &pool.mux {
                mux.prune();
            }
            pool.reap();
            pool.refill().await;
        }
    });
}

impl PoolShared {
    /// Closes idle connections that are broken, and those idle too long
    /// beyond `min_connections`.
    fn reap(&self) {
        let limit = self.config.max_inactive_connection_lifetime;
        let mut spare = self
            .pool
            .status()
            .size
            .saturating_sub(self.config.min_connections);
        let counters = &self.counters;
        let removed = self.pool.retain(|conn, _| {
            if !conn.is_usable() {
                counters.discarded(conn);
                return false;
            }
            if spare > 0 && limit.is_some_and(|limit| conn.idle_for() > limit) {
                spare -= 1;
                counters.recycled();
                return false;
            }
            true
        });
        drop(removed);
    }

    /// Opens connections until the pool holds `min_connections`, one
    /// attempt each; the next round tries again.
    async fn refill(&self) {
        let min = self.config.min_connections;
        let timeouts = Timeouts {
            // Never queue behind callers: a pool with every connection in
            // use is not below its minimum.
            wait: Some(Duration::ZERO),
            create: self.config.connect_timeout,
            recycle: Some(Duration::from_secs(5)),
        };
        // Held until the pool is big enough: taking an idle connection
        // makes the next checkout open a new one.
        let mut held = Vec::new();
        while self.pool.status().size < min && held.len() < self.config.max_connections {
            match BACKGROUND.scope((), self.pool.timeout_get(&timeouts)).await {
                Ok(conn) => held.push(conn),
                Err(e) => {
                    tracing::debug!(target: "pgdbm", error = %e, "could not refill the pool");
                    break;
                }
            }
        }
    }
}

/// A pool error as pgdbm's; `waited` is how long a caller waited for a
/// free connection, `target` the server it was opening one to.
pub(crate) fn pool_error(
    e: managed::PoolError<Error>,
    waited: Duration,
    target: &ConnectTarget,
) -> Error {
    match e {
        managed::PoolError::Timeout(managed::TimeoutType::Wait) => Error::PoolTimeout(waited),
        managed::PoolError::Timeout(_) => {
            Error::connect_failed(target, "timed out opening a connection")
        }
        managed::PoolError::Closed => Error::PoolClosed,
        managed::PoolError::Backend(e) => e,
        managed::PoolError::PostCreateHook(e) => Error::connect_failed(target, e.to_string()),
        managed::PoolError::NoRuntimeSpecified => Error::config("runtime", "no runtime"),
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
/// The server facts come from an idle connection (or a new one), never by
/// waiting for one: they are `None` on a closed pool (the Python library
/// raises there instead), and when every connection is busy or the server
/// cannot be reached. The counters count from the pool's creation.
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
    /// Open connections handed out for exclusive use (the shared ones are
    /// counted in `size` and `shared_connections`).
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
    /// Open multiplexed connections, taken from the pool (0 with
    /// multiplexing off).
    pub shared_connections: usize,
    /// Requests in flight on the multiplexed connections.
    pub shared_in_flight: usize,
    /// Connections opened since the pool was built.
    pub opened: u64,
    /// Connections closed by policy and replaced on demand: after
    /// `max_queries`, idle past `max_inactive_connection_lifetime`, or a
    /// shared connection given back.
    pub recycled: u64,
    /// Connections found broken or closed by the server (a restart,
    /// `pg_terminate_backend`, a network failure).
    pub lost: u64,
    /// Connections opened to replace lost ones.
    pub reconnected: u64,
    /// Failed connection attempts that were retried.
    pub connect_retries: u64,
    /// Checkouts that found every connection busy and the pool full, and
    /// had to wait.
    pub waits: u64,
    /// Checkouts that gave up after `acquire_timeout`
    /// ([`Error::PoolTimeout`](crate::Error::PoolTimeout)).
    pub timeouts: u64,
    /// How many times a COPY FROM asked the server to describe its table
    /// (a first COPY, or a cached description found stale). For tests of
    /// the column cache; not part of the stable API.
    #[doc(hidden)]
    pub copy_describes: u64,
    /// Schemas whose caches the pool holds: at most `schema_cache_size`.
    pub cached_schemas: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_pauses_grow_stay_under_the_cap_and_vary() {
        let retry = Retry {
            attempts: 10,
            delay: Duration::from_millis(100),
            backoff: 2.0,
            max: Duration::from_secs(1),
        };
        let ms = |n| retry.pause(n).as_secs_f64() * 1000.0;
        for _ in 0..100 {
            assert!((100.0..=125.0).contains(&ms(1)), "{}", ms(1));
            assert!((200.0..=250.0).contains(&ms(2)), "{}", ms(2));
            assert!((800.0..=1000.0).contains(&ms(4)), "{}", ms(4));
            // Capped: at most the cap, still spread below it.
            assert!((750.0..=1000.0).contains(&ms(5)), "{}", ms(5));
            assert!((750.0..=1000.0).contains(&ms(60)), "{}", ms(60));
        }
        let distinct: std::collections::HashSet<_> = (0..20).map(|_| retry.pause(1)).collect();
        assert!(distinct.len() > 1, "no jitter");
    }
}
