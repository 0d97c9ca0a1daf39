//! `Database`, the manager: a pool (owned or borrowed) plus a schema.

use std::sync::Arc;
use std::time::Duration;

use crate::config::DatabaseConfig;
use crate::conn::{Conn, Lease, PooledConn};
use crate::error::Result;
use crate::ident;
use crate::pool::{PoolStats, SharedPool};
use crate::template::TemplateCache;

/// The client-side deadline of a call. When the server's statement_timeout
/// is no longer than command_timeout, the server ends a statement first and
/// a client timer on every call would only cost time (about 4 % of a point
/// select's client work, measured with callgrind).
fn client_deadline(config: &DatabaseConfig) -> Option<Duration> {
    match (config.statement_timeout, config.command_timeout) {
        (Some(server), Some(client)) if server <= client => None,
        (_, client) => client,
    }
}

/// How long a multiplexed call may wait for a connection to be opened: no
/// longer than one open may take, and never past the command's deadline.
fn open_limit(config: &DatabaseConfig) -> Option<Duration> {
    match (config.connect_timeout, config.command_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct DbShared {
    pool: SharedPool,
    templates: Arc<TemplateCache>,
    owns_pool: bool,
    timeout: Option<Duration>,
    timeout_override: bool,
    /// How long a call may wait for a shared connection to be opened.
    open_limit: Option<Duration>,
}

/// The database manager: runs queries on a pooled connection with the
/// manager's schema put into every `{{tables.name}}` and `{{schema}}`.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`, meant to be shared by
/// every task of a service. It either owns its pool
/// ([`connect`](Database::connect)) or borrows a [`SharedPool`]
/// ([`from_pool`](Database::from_pool)); only an owner closes the pool.
///
/// ```no_run
/// use pgdbm::{Database, DatabaseConfig};
/// # async fn f() -> pgdbm::Result<()> {
/// let db = Database::connect(DatabaseConfig::from_url("postgres://localhost/app")?.with_schema("accounts")).await?;
/// db.execute("CREATE TABLE IF NOT EXISTS {{tables.users}} (id bigserial PRIMARY KEY, email text UNIQUE)", &[]).await?;
/// let id: i64 = db.execute_returning_id("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@x.io"]).await?;
/// let n: i64 = db.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await?;
/// db.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Database {
    inner: Arc<DbShared>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("schema", &self.schema())
            .field("owns_pool", &self.inner.owns_pool)
            .field("pool", &self.inner.pool)
            .finish()
    }
}

impl Database {
    /// Validates `config`, opens an owned pool with `min_connections`
    /// connections, and creates the schema if it is missing.
    ///
    /// With a schema, every connection starts with `search_path` set to the
    /// schema and `public`, so raw SQL without templates finds its tables
    /// (templates and builders never rely on it).
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let db = pgdbm::Database::connect(pgdbm::DatabaseConfig::from_env()?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: DatabaseConfig) -> Result<Database> {
        let schema = config.schema.clone();
        if let Some(s) = &schema {
            ident::validate("schema", s)?;
        }
        let search_path = schema
            .as_deref()
            .map(|s| format!("{}, public", ident::quote(s)));
        let pool = SharedPool::open(config, search_path.as_deref()).await?;
        let db = Database::with_pool(pool, schema.as_deref(), true)?;
        if schema.is_some() {
            if let Err(e) = db.create_schema().await {
                db.close().await;
                return Err(e);
            }
        }
        Ok(db)
    }

    /// A manager borrowing `pool`, for `schema` (`None`: no qualification,
    /// and `public` for [`table_exists`](Database::table_exists)).
    ///
    /// [`close`](Database::close) on it does nothing; the pool's owner
    /// closes it. The schema is not created: call
    /// [`create_schema`](Database::create_schema).
    ///
    /// ```no_run
    /// # async fn f(pool: pgdbm::SharedPool) -> pgdbm::Result<()> {
    /// let billing = pgdbm::Database::from_pool(&pool, Some("billing"))?;
    /// # Ok(()) }
    /// ```
    pub fn from_pool(pool: &SharedPool, schema: Option<&str>) -> Result<Database> {
        Database::with_pool(pool.clone(), schema, false)
    }

    fn with_pool(pool: SharedPool, schema: Option<&str>, owns_pool: bool) -> Result<Database> {
        let templates = pool.templates(schema)?;
        let timeout = client_deadline(pool.config());
        let open_limit = open_limit(pool.config());
        Ok(Database {
            inner: Arc::new(DbShared {
                pool,
                templates,
                owns_pool,
                timeout,
                timeout_override: false,
                open_limit,
            }),
        })
    }

    /// The same pool with another schema. The result borrows the pool: its
    /// [`close`](Database::close) does nothing.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let reports = db.with_schema("reports")?;
    /// assert_eq!(reports.schema(), Some("reports"));
    /// # Ok(()) }
    /// ```
    pub fn with_schema(&self, schema: &str) -> Result<Database> {
        Database::with_pool(self.inner.pool.clone(), Some(schema), false)
    }

    /// The same manager with another client-side limit per call; when it
    /// fires, the statement is cancelled on the server and the call returns
    /// [`Error::Timeout`](crate::Error::Timeout). `None` waits forever.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let quick = db.with_timeout(Some(std::time::Duration::from_millis(100)));
    /// quick.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, limit: Option<Duration>) -> Database {
        Database {
            inner: Arc::new(DbShared {
                pool: self.inner.pool.clone(),
                templates: self.inner.templates.clone(),
                owns_pool: false,
                timeout: limit,
                timeout_override: true,
                open_limit: self.inner.open_limit,
            }),
        }
    }

    /// The schema templates expand to.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) { println!("{:?}", db.schema()); }
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.inner.templates.schema()
    }

    /// The shared connections this manager's statements use: none when
    /// multiplexing is off, or for a manager with its own per-call timeout
    /// (a timeout is enforced with a cancel, which only an exclusive
    /// connection can take).
    fn multiplexer(&self) -> Option<&crate::mux::Mux> {
        if self.inner.timeout_override {
            None
        } else {
            self.inner.pool.mux()
        }
    }

    pub(crate) fn template_cache(&self) -> Arc<TemplateCache> {
        self.inner.templates.clone()
    }

    /// The pool this manager runs on.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) { let other = db.pool().database(Some("other")); }
    /// ```
    pub fn pool(&self) -> &SharedPool {
        &self.inner.pool
    }

    /// Creates the manager's schema if it is missing (a no-op without one).
    ///
    /// ```no_run
    /// # async fn f(pool: pgdbm::SharedPool) -> pgdbm::Result<()> {
    /// pool.database(Some("billing"))?.create_schema().await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_schema(&self) -> Result<()> {
        if self.schema().is_some() {
            // Through the template, so the name is quoted exactly once: a
            // schema containing `{{` must not be expanded again.
            self.execute("CREATE SCHEMA IF NOT EXISTS {{schema}}", &[])
                .await?;
        }
        Ok(())
    }

    /// An exclusive pooled connection with the same API, for session state
    /// and the raw client.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let conn = db.acquire().await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire(&self) -> Result<Conn> {
        let conn = PooledConn::new(self.inner.pool.get().await?);
        Ok(Conn {
            conn,
            templates: self.inner.templates.clone(),
            timeout: self.inner.timeout,
        })
    }

    /// Closes an owned pool (Python's `disconnect`): idle connections now,
    /// busy ones when returned. Idempotent; later calls return
    /// [`Error::PoolClosed`](crate::Error::PoolClosed). On a borrowed pool it
    /// does nothing.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) {
    /// db.close().await;
    /// db.close().await; // fine
    /// # }
    /// ```
    #[doc(alias = "disconnect")]
    pub async fn close(&self) {
        if self.inner.owns_pool {
            self.inner.pool.close_now();
        }
    }

    /// Whether this manager owns its pool.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) { if db.owns_pool() { /* close it at shutdown */ } }
    /// ```
    pub fn owns_pool(&self) -> bool {
        self.inner.owns_pool
    }

    /// What this schema's statements did: counts, rows, time, errors by
    /// class (see [`Metrics`](crate::Metrics)).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let m = db.metrics();
    /// println!("{} statements, {} failed", m.statements, m.errors());
    /// # Ok(()) }
    /// ```
    pub fn metrics(&self) -> crate::Metrics {
        self.inner.templates.metrics().snapshot()
    }

    /// Sets this schema's counters back to zero.
    ///
    /// ```no_run
    /// # fn f(db: pgdbm::Database) {
    /// db.reset_metrics();
    /// assert_eq!(db.metrics().statements, 0);
    /// # }
    /// ```
    pub fn reset_metrics(&self) {
        self.inner.templates.metrics().reset();
    }

    /// Checks the server within `limit`: one round trip on a connection of
    /// the pool, with the facts an operator asks first. A server that cannot
    /// be reached in time is [`Error::Timeout`](crate::Error::Timeout) or the
    /// connection error, never a hang.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let health = db.health_check(std::time::Duration::from_secs(2)).await?;
    /// println!("{} in {:?}, replica: {}", health.server_version, health.latency, health.is_replica);
    /// # Ok(()) }
    /// ```
    pub async fn health_check(&self, limit: Duration) -> Result<crate::HealthReport> {
        let checked = async {
            let started = std::time::Instant::now();
            let conn = self.with_timeout(Some(limit));
            let row = conn
                .fetch_one(
                    "SELECT current_setting('server_version'), pg_is_in_recovery(), \
                     pg_database_size(current_database())",
                    &[],
                )
                .await?
                .ok_or_else(|| crate::Error::NotFound("health check".into()))?;
            let latency = started.elapsed();
            Ok(crate::HealthReport {
                latency,
                server_version: row.try_get(0usize)?,
                is_replica: row.try_get(1usize)?,
                database_size: row.try_get::<i64>(2usize)?.max(0) as u64,
                pool: self.pool_stats().await?,
            })
        };
        match tokio::time::timeout(limit, checked).await {
            Ok(report) => report,
            Err(_) => Err(crate::Error::timeout(limit, Some("health check"))),
        }
    }

    /// Registers a named prepared statement for this manager's schema
    /// (Python's `add_prepared_statement`): `sql` is expanded now, with
    /// this manager's schema, and prepared on every connection the pool
    /// opens from now on before it is handed out; a connection opened
    /// earlier prepares it on first use. Run it by name with
    /// [`prepared`](Self::prepared), here or on a [`Conn`] or transaction
    /// of the same schema. Adding a name again replaces its SQL.
    ///
    /// Nothing is sent now, so a statement may be added before the tables
    /// it uses exist; an error in it is reported when it runs. Session
    /// rules still apply: a `SET` added here is refused when run on a
    /// `Database`.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.add_prepared_statement("user_by_email", "SELECT * FROM {{tables.users}} WHERE email = $1")?;
    /// let row = db.prepared("user_by_email")?.fetch_one(&[&"a@x.io"]).await?;
    /// # Ok(()) }
    /// ```
    pub fn add_prepared_statement(&self, name: &str, sql: &str) -> Result<()> {
        let sql: Arc<str> = match self.inner.templates.render(sql)? {
            crate::template::Rendered::Plain(sql) => sql.into(),
            crate::template::Rendered::Expanded(sql) => sql,
        };
        self.inner.templates.named().add(name, sql);
        Ok(())
    }

    /// A snapshot of the pool and the server behind it.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let stats = db.pool_stats().await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "get_pool_stats")]
    pub async fn pool_stats(&self) -> Result<PoolStats> {
        self.inner.pool.stats(self.schema()).await
    }
}

impl crate::executor::Executor for Database {
    async fn lease(&self) -> Result<Lease<'_>> {
        Ok(Lease::Owned(PooledConn::new(self.inner.pool.get().await?)))
    }

    async fn lease_shared(&self) -> Result<Lease<'_>> {
        match self.multiplexer() {
            Some(mux) => {
                let config = self.inner.pool.config();
                let lease = mux.lease(self.inner.open_limit, config.command_timeout);
                Ok(Lease::Shared(lease.await?))
            }
            None => self.lease().await,
        }
    }

    fn session(&self) -> crate::call::Session {
        // Each statement may land on another connection, multiplexed or
        // not: session state has no place here.
        crate::call::Session::Refuse
    }

    fn templates(&self) -> &TemplateCache {
        &self.inner.templates
    }

    fn call_timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }
}

crate::executor::query_methods!(Database, "let x = &db;");
