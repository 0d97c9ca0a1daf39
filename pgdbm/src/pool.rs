//! The connection pool: deadpool's core with our own manager, so each pooled
//! connection carries its bounded statement cache and the state that cancel
//! safety needs (see `connection`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};

use crate::config::DatabaseConfig;
use crate::connection::{Observe, PgConnection};
use crate::copy::ColumnCache;
use crate::database::Database;
use crate::error::{ConnectTarget, Error, Result};
use crate::ident;
use crate::template::TemplateCache;
use crate::tls::Tls;

/// Opens and recycles connections for deadpool.
pub(crate) struct ConnManager {
    pg: tokio_postgres::Config,
    /// Built once per pool: files read, key decrypted, rustls configured.
    tls: Tls,
    init_commands: Vec<String>,
    statement_cache_size: usize,
    max_queries: u64,
    max_inactive: Option<Duration>,
    /// Handed to every connection, for its spans and slow-query log.
    observe: Arc<Observe>,
}

impl managed::Manager for ConnManager {
    type Type = PgConnection;
    type Error = Error;

    async fn create(&self) -> Result<PgConnection> {
        // Boxed: opening a connection is rare, and its future (the driver's
        // whole connect and startup) would otherwise sit inside every
        // checkout's future, making each call's future kilobytes larger.
        let conn = Box::pin(PgConnection::open(
            &self.pg,
            &self.tls,
            &self.init_commands,
            self.statement_cache_size,
        ))
        .await?;
        conn.set_observe(Arc::clone(&self.observe));
        Ok(conn)
    }

    async fn recycle(&self, conn: &mut PgConnection, metrics: &Metrics) -> RecycleResult<Error> {
        // No ping: a broken connection shows itself through errors and
        // `is_closed`, and a round trip per checkout would halve throughput.
        // A shared connection is given back only when it is retired, and
        // then marked broken.
        if !conn.is_usable() || conn.is_dirty() {
            return Err(RecycleError::message("connection is closed or not clean"));
        }
        if conn.queries() >= self.max_queries {
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
        let manager = ConnManager {
            pg: config.pg_config(search_path),
            tls: Tls::from_config(&config)?,
            init_commands: config.init_commands.clone(),
            statement_cache_size: config.statement_cache_size,
            max_queries: config.max_queries,
            max_inactive: config.max_inactive_connection_lifetime,
            observe: Arc::new(Observe {
                host: config.host.clone(),
                port: config.port,
                database: config.database.clone(),
                slow: config.slow_query_threshold,
            }),
        };
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(config.acquire_timeout)
            .create_timeout(config.connect_timeout)
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
        let config = &self.inner.config;
        self.inner.pool.get().await.map_err(|e| {
            pool_error(
                e,
                config.acquire_timeout.unwrap_or_default(),
                &ConnectTarget::from_config(config),
            )
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
            stats.used = stats.used.saturating_sub(stats.shared_connections);
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
    /// How many times a COPY FROM asked the server to describe its table
    /// (a first COPY, or a cached description found stale). For tests of
    /// the column cache; not part of the stable API.
    #[doc(hidden)]
    pub copy_describes: u64,
}
