//! Test support: a server to test against and throwaway databases on it.
//!
//! Compiled only with the `testing` cargo feature, so a production build
//! carries no `initdb`/`pg_ctl` code: enable it where tests need it,
//! `pgdbm = { version = "0.1", features = ["testing"] }` under
//! `[dev-dependencies]`.
//!
//! The server is the one `PGDBM_TEST_URL` (or else `DATABASE_URL`) names;
//! without either, a throwaway cluster is started from the local PostgreSQL
//! binaries (`initdb`, `pg_ctl`, on `PATH` or under
//! `/usr/lib/postgresql/*/bin`), shared by the whole test process and stopped
//! when it exits. [`TestDatabase`] creates a uniquely named database on it and
//! drops it afterwards, also when the test panics, so tests run in parallel
//! without sharing state. Tests that restart or stop their server get a
//! private cluster of their own from [`TestCluster`].
//!
//! ```no_run
//! # async fn f() -> pgdbm::Result<()> {
//! let test = pgdbm::testing::TestDatabase::new().await?;
//! test.execute("CREATE TABLE t (id int)", &[]).await?;
//! # Ok(()) }
//! ```

mod cluster;
mod harness;
mod recycle;

pub use cluster::TestCluster;
pub use harness::{Isolation, TestContext, migration_runs};
#[doc(hidden)]
pub use harness::{TestOutcome, TestSpec, run_test};

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::DatabaseConfig;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::ident;

/// The configuration of the server tests run against (its maintenance
/// database), starting the throwaway cluster if no URL is set.
///
/// Pool sizes are kept small (`min_connections` 1, `max_connections` 10) so
/// that many tests in parallel stay within the server's connection limit.
///
/// ```no_run
/// # fn f() -> pgdbm::Result<()> {
/// let config = pgdbm::testing::server_config()?;
/// println!("testing against {}:{}", config.host, config.port);
/// # Ok(()) }
/// ```
pub fn server_config() -> Result<DatabaseConfig> {
    let url = ["PGDBM_TEST_URL", "DATABASE_URL"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()));
    let config = match url {
        Some(url) => DatabaseConfig::from_url(&url)?,
        None => cluster::ephemeral()
            .map_err(|e| Error::config("PGDBM_TEST_URL", e))?
            .config(),
    };
    Ok(small_pools(config))
}

/// Test pools stay small so that many tests in parallel stay within the
/// server's connection limit, and retry connecting quickly.
fn small_pools(mut config: DatabaseConfig) -> DatabaseConfig {
    config.min_connections = 1;
    config.max_connections = 10;
    config.retry_delay = Duration::from_millis(100);
    config
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "pgdbm_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

async fn admin_execute(admin: &DatabaseConfig, sql: &str) -> Result<()> {
    // The server's own TLS settings apply, so a test URL with
    // `sslmode=require` works here too.
    let pg = admin.pg_config(None);
    let (client, task) = crate::tls::Tls::from_config(admin)?
        .connect(&pg)
        .await
        .map_err(|e| Error::connect_to(e, &crate::error::ConnectTarget::of(&pg)))?;
    let result = client
        .batch_execute(sql)
        .await
        .map_err(|e| Error::from_driver(e, Some(sql)));
    drop(client);
    let _ = task.await;
    result
}

/// A uniquely named database that exists for the life of this value, with a
/// [`Database`] on it (`Deref` gives the manager's methods).
///
/// Dropping it closes the pool and drops the database (`WITH (FORCE)`), from
/// a thread of its own so that it also works while a test panics inside a
/// single-threaded runtime.
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// use pgdbm::testing::TestDatabase;
/// let test = TestDatabase::with_config(|c| c.with_schema("billing")).await?;
/// assert_eq!(test.schema(), Some("billing"));
/// # Ok(()) }
/// ```
pub struct TestDatabase {
    db: Database,
    name: String,
    config: DatabaseConfig,
    admin: DatabaseConfig,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// A fresh database with the default test configuration.
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let test = pgdbm::testing::TestDatabase::new().await?;
    /// # Ok(()) }
    /// ```
    pub async fn new() -> Result<TestDatabase> {
        Self::with_config(|c| c).await
    }

    /// A fresh database; `adjust` changes the configuration its manager is
    /// opened with (schema, pool sizes, timeouts). The database name is set
    /// afterwards.
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let test = pgdbm::testing::TestDatabase::with_config(|c| c.with_pool_size(1, 1)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_config(
        adjust: impl FnOnce(DatabaseConfig) -> DatabaseConfig,
    ) -> Result<TestDatabase> {
        let admin = server_config()?;
        let name = unique_name();
        admin_execute(&admin, &format!("CREATE DATABASE {}", ident::quote(&name))).await?;
        let mut config = adjust(admin.clone());
        config.database = name.clone();
        let guard = DropDatabase {
            admin: admin.clone(),
            name: name.clone(),
        };
        let db = Database::connect(config.clone()).await?;
        std::mem::forget(guard);
        Ok(TestDatabase {
            db,
            name,
            config,
            admin,
        })
    }

    /// The manager on this database.
    ///
    /// ```no_run
    /// # async fn f(test: pgdbm::testing::TestDatabase) { let db: pgdbm::Database = test.db().clone(); }
    /// ```
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The configuration the manager was opened with (this database's name
    /// included), to open more pools on it.
    ///
    /// ```no_run
    /// # async fn f(test: pgdbm::testing::TestDatabase) -> pgdbm::Result<()> {
    /// let pool = pgdbm::SharedPool::connect(test.config().clone()).await?;
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// The database's name.
    ///
    /// ```no_run
    /// # async fn f(test: pgdbm::testing::TestDatabase) { assert!(test.name().starts_with("pgdbm_test_")); }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Deref for TestDatabase {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.db.pool().close_now();
        drop(DropDatabase {
            admin: self.admin.clone(),
            name: std::mem::take(&mut self.name),
        });
    }
}

/// Drops a database when dropped; also guards `with_config` between
/// `CREATE DATABASE` and a successful connect.
struct DropDatabase {
    admin: DatabaseConfig,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident::quote(&self.name)
        );
        // A runtime of its own: the test's runtime may be single-threaded
        // and busy unwinding this very drop.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                if let Err(e) = runtime.block_on(admin_execute(&admin, &sql)) {
                    eprintln!("pgdbm: could not drop test database: {e}");
                }
            }
        });
        let _ = dropper.join();
    }
}
