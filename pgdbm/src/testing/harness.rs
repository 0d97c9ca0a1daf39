//! What `#[pgdbm::test]` runs: each test gets a fresh schema (or database)
//! with the migrations applied, built from a set applied once per process.
//!
//! Schema isolation (the default) applies the migration set for real once,
//! into the first test's schema, and builds every later test's schema by
//! replaying the expanded statements and tracking rows in one round trip:
//! no `CREATE DATABASE` (whose cluster-wide lock serialises parallel tests)
//! and no `search_path`, since pgdbm puts the schema into every statement.
//! Database isolation clones a template database, migrated once and keyed
//! by the set's checksums, with `CREATE DATABASE .. TEMPLATE`.
//!
//! A passing test leaves nothing behind; a failing one keeps its schema or
//! database and prints where it is. `PGDBM_KEEP_TEST_DB=1` keeps all.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::OnceCell;

use super::recycle::Recycler;
use super::{admin_execute, server_config, unique_name};
use crate::config::DatabaseConfig;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::batch_rendered;
use crate::ident;
use crate::migrate::{Migrator, Replay};

/// How a `#[pgdbm::test]` is isolated from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// A fresh schema in the test server's database (the default).
    #[default]
    Schema,
    /// A fresh database, cloned from a migrated template.
    Database,
}

/// What a `#[pgdbm::test]` may ask for besides its [`Database`]: where its
/// data lives, to open more pools or print it.
///
/// ```no_run
/// #[pgdbm::test]
/// async fn sees_its_own_schema(db: pgdbm::Database, ctx: pgdbm::testing::TestContext) {
///     assert_eq!(db.schema(), ctx.schema());
///     let second = pgdbm::Database::connect(ctx.config().clone()).await.unwrap();
///     second.close().await;
/// }
/// ```
#[derive(Debug, Clone)]
pub struct TestContext {
    name: &'static str,
    config: DatabaseConfig,
    template: Option<String>,
}

impl TestContext {
    /// The test's name (its module path and function).
    ///
    /// ```no_run
    /// # fn f(ctx: pgdbm::testing::TestContext) { println!("{}", ctx.name()); }
    /// ```
    pub fn name(&self) -> &str {
        self.name
    }

    /// The test's schema (`None` with database isolation).
    ///
    /// ```no_run
    /// # fn f(ctx: pgdbm::testing::TestContext) { println!("{:?}", ctx.schema()); }
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.config.schema.as_deref()
    }

    /// The database the test runs in.
    ///
    /// ```no_run
    /// # fn f(ctx: pgdbm::testing::TestContext) { println!("{}", ctx.database()); }
    /// ```
    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The template database the test's database was cloned from (database
    /// isolation with migrations only).
    ///
    /// ```no_run
    /// # fn f(ctx: pgdbm::testing::TestContext) { println!("{:?}", ctx.template()); }
    /// ```
    pub fn template(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// The configuration of the test's manager (server, database, schema).
    ///
    /// ```no_run
    /// # fn f(ctx: pgdbm::testing::TestContext) { println!("{}:{}", ctx.config().host, ctx.config().port); }
    /// ```
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }
}

/// A test as `#[pgdbm::test]` describes it. Not for direct use.
#[doc(hidden)]
pub struct TestSpec {
    pub name: &'static str,
    /// Identifies the migration set across runs (crate and directory), so
    /// that a changed set replaces only its own template.
    pub set: &'static str,
    pub migrator: Option<fn() -> Result<Migrator>>,
    pub fixtures: &'static [(&'static str, &'static str)],
    pub isolation: Isolation,
}

/// What a test function may return: `()` or a `Result` whose error fails it.
#[doc(hidden)]
pub trait TestOutcome {
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: std::fmt::Debug> TestOutcome for std::result::Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// How many times this process applied a migration set for tests (once
/// per set and isolation kind; every other test's state is a copy).
///
/// ```no_run
/// println!("{} migration runs", pgdbm::testing::migration_runs());
/// ```
pub fn migration_runs() -> u64 {
    RUNS.load(Ordering::Relaxed)
}

static RUNS: AtomicU64 = AtomicU64::new(0);

/// Runs one `#[pgdbm::test]`. Not for direct use.
#[doc(hidden)]
pub fn run_test<F, Fut>(spec: TestSpec, body: F)
where
    F: FnOnce(Database, TestContext) -> Fut,
    Fut: Future<Output: TestOutcome>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the test");
    let prepared = runtime.block_on(prepare(&spec));
    let place = match prepared {
        Ok(place) => place,
        Err(e) => panic!("pgdbm::test {}: setting up failed: {e}", spec.name),
    };
    let db = place.db.clone();
    let ctx = TestContext {
        name: spec.name,
        config: place.config.clone(),
        template: place.template.clone(),
    };
    let outcome = runtime.block_on(AssertUnwindSafe(body(db, ctx)).catch_unwind());
    let failure = match outcome {
        Ok(result) => result.failure().map(Err),
        Err(panic) => Some(Ok(panic)),
    };
    let keep_all = std::env::var_os("PGDBM_KEEP_TEST_DB").is_some_and(|v| v != "0");
    runtime.block_on(place.finish(failure.is_some() || keep_all, spec.name));
    drop(runtime);
    match failure {
        None => {}
        Some(Ok(panic)) => std::panic::resume_unwind(panic),
        Some(Err(message)) => panic!("pgdbm::test {} returned an error: {message}", spec.name),
    }
}

/// Where one test runs, and how to clean it up.
struct Place {
    db: Database,
    config: DatabaseConfig,
    admin: DatabaseConfig,
    isolation: Isolation,
    template: Option<String>,
    /// Where a passing test's schema goes back for reuse (schema isolation
    /// with migrations).
    recycler: Option<Arc<Recycler>>,
}

impl Place {
    /// Drops the schema or database, or says where it was kept.
    async fn finish(self, keep: bool, name: &str) {
        let (what, sql) = match self.isolation {
            Isolation::Schema => {
                let schema = ident::quote(self.config.schema.as_deref().unwrap_or_default());
                (
                    format!("schema {schema} in database {}", self.config.database),
                    format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                )
            }
            Isolation::Database => {
                let database = ident::quote(&self.config.database);
                (
                    format!("database {database}"),
                    format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
                )
            }
        };
        let dropped = if keep {
            eprintln!("pgdbm::test {name}: kept {what} for inspection");
            Ok(())
        } else if self.isolation == Isolation::Schema {
            let recycled = match &self.recycler {
                Some(recycler) => recycler.give_back(&self.db, &self.admin).await,
                None => false,
            };
            // On the test's own pool: no connection more than the test had
            // (unless the test closed it).
            if recycled || self.db.execute(&sql, &[]).await.is_ok() {
                Ok(())
            } else {
                admin_execute(&self.admin, &sql).await
            }
        } else {
            self.db.close().await;
            admin_execute(&self.admin, &sql).await
        };
        self.db.close().await;
        if let Err(e) = dropped {
            eprintln!("pgdbm::test {name}: could not drop {what}: {e}");
        }
    }
}

async fn prepare(spec: &TestSpec) -> Result<Place> {
    let admin = server_config()?;
    let migrator = spec.migrator.map(|make| make()).transpose()?;
    let place = match spec.isolation {
        Isolation::Schema => schema_place(spec, admin, migrator.as_ref()).await?,
        Isolation::Database => database_place(spec, admin, migrator.as_ref()).await?,
    };
    for (file, sql) in spec.fixtures {
        run_fixture(&place.db, file, sql).await?;
    }
    Ok(place)
}

async fn run_fixture(db: &Database, file: &str, sql: &str) -> Result<()> {
    let conn = db.acquire().await?;
    let sql = conn.render(sql)?;
    batch_rendered(&conn, &sql)
        .await
        .map_err(|e| Error::config("fixtures", format!("{file}: {e}")))
}

/// A migration set, applied once per process: the key is its checksums
/// (and module and isolation), so a changed file makes a new one.
fn set_key(spec: &TestSpec, migrator: &Migrator) -> String {
    let mut key = format!("{:?}\u{0}{}", spec.isolation, spec.set);
    for m in migrator.migrations() {
        key.push('\u{0}');
        key.push_str(m.checksum());
    }
    key
}

type Once<T> = Arc<OnceCell<std::result::Result<T, String>>>;

/// The cell of `key` in `cells`, made on first use.
fn cell<T>(cells: &Mutex<HashMap<String, Once<T>>>, key: String) -> Once<T> {
    cells
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone()
}

/// By set: whether its first test has applied it, and the schemas passing
/// tests gave back.
static APPLIED: LazyLock<Mutex<HashMap<String, Once<Arc<Recycler>>>>> =
    LazyLock::new(Default::default);

async fn schema_place(
    spec: &TestSpec,
    admin: DatabaseConfig,
    migrator: Option<&Migrator>,
) -> Result<Place> {
    let once = migrator.map(|m| cell(&APPLIED, set_key(spec, m)));
    // Once the set is applied, a schema an earlier test gave back is taken
    // as it is: no statement at all. It keeps its name, because function
    // bodies hold the schema's name as text and a rename would break them.
    let applied = once.as_ref().and_then(|o| o.get()?.as_ref().ok().cloned());
    let reused = applied.as_ref().and_then(|recycler| recycler.take());
    let schema = reused.clone().unwrap_or_else(|| short_name(spec.name));
    let config = admin.clone().with_schema(&schema);
    let db = Database::connect(config.clone()).await?;
    let mut place = Place {
        db,
        config,
        admin,
        isolation: Isolation::Schema,
        template: None,
        recycler: None,
    };
    let (Some(migrator), Some(once)) = (migrator, once) else {
        return Ok(place);
    };
    if reused.is_some() {
        place.recycler = applied;
        return Ok(place);
    }
    // The first test of the set applies it for real, into its own schema:
    // that is the one migration run, with every check `migrate` makes.
    let mut applied_here = false;
    let first = once
        .get_or_init(|| async {
            applied_here = true;
            RUNS.fetch_add(1, Ordering::Relaxed);
            let surveyed = match place.db.migrate(migrator).await {
                Ok(_) => Recycler::survey(&place.db, migrator).await,
                Err(e) => Err(e),
            };
            surveyed.map(Arc::new).map_err(|e| e.to_string())
        })
        .await;
    let recycler = match first {
        Ok(recycler) => recycler.clone(),
        Err(e) => return Err(Error::config("migrations", e.clone())),
    };
    if !applied_here {
        let conn = place.db.acquire().await?;
        for step in migrator.replay(&place.db)? {
            let (Replay::Batch(sql) | Replay::Single(sql)) = step;
            batch_rendered(&conn, &sql).await?;
        }
    }
    place.recycler = Some(recycler);
    Ok(place)
}

/// By set: its template database, made (or found) once per process.
static TEMPLATES: LazyLock<Mutex<HashMap<String, Once<String>>>> = LazyLock::new(Default::default);

async fn database_place(
    spec: &TestSpec,
    admin: DatabaseConfig,
    migrator: Option<&Migrator>,
) -> Result<Place> {
    let name = unique_name();
    let template = match migrator {
        Some(migrator) => {
            let once = cell(&TEMPLATES, set_key(spec, migrator));
            let template = once
                .get_or_init(|| async {
                    template(spec, &admin, migrator)
                        .await
                        .map_err(|e| e.to_string())
                })
                .await;
            Some(
                template
                    .clone()
                    .map_err(|e| Error::config("migrations", e))?,
            )
        }
        None => None,
    };
    let create = match &template {
        Some(t) => format!(
            "CREATE DATABASE {} TEMPLATE {}",
            ident::quote(&name),
            ident::quote(t)
        ),
        None => format!("CREATE DATABASE {}", ident::quote(&name)),
    };
    // A clone fails while anyone is connected to the template (55006):
    // another process may be finishing it, so try for a while.
    let mut attempt = 0;
    loop {
        match admin_execute(&admin, &create).await {
            Ok(()) => break,
            Err(e) if attempt < 50 && e.sqlstate() == Some("55006") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
    let mut config = admin.clone();
    config.database = name;
    let db = Database::connect(config.clone()).await?;
    Ok(Place {
        db,
        config,
        admin,
        isolation: Isolation::Database,
        template,
        recycler: None,
    })
}

/// The template database of a set: `pgdbm_tpl_<set>_<checksums>`, migrated
/// under a server-wide lock so that parallel test processes make it once,
/// published by a rename so that a half-made one is never cloned, and the
/// set's older templates dropped.
async fn template(spec: &TestSpec, admin: &DatabaseConfig, migrator: &Migrator) -> Result<String> {
    let key = set_key(spec, migrator);
    let set = format!("pgdbm_tpl_{:08x}", fnv(spec.set.as_bytes()) as u32);
    let name = format!("{set}_{:016x}", fnv(key.as_bytes()));
    let lock_db = Database::connect(admin.clone().with_pool_size(1, 1)).await?;
    let conn = lock_db.acquire().await?;
    conn.execute(
        "SELECT pg_advisory_lock(hashtext('pgdbm_test_templates'))",
        &[],
    )
    .await?;
    let exists: bool = conn
        .fetch_value(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await?;
    if !exists {
        let building = format!("{name}_new");
        admin_execute(
            admin,
            &format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident::quote(&building)
            ),
        )
        .await?;
        admin_execute(
            admin,
            &format!("CREATE DATABASE {}", ident::quote(&building)),
        )
        .await?;
        let mut config = admin.clone().with_pool_size(1, 1);
        config.database = building.clone();
        let db = Database::connect(config).await?;
        RUNS.fetch_add(1, Ordering::Relaxed);
        let migrated = db.migrate(migrator).await;
        db.close().await;
        migrated?;
        // Sessions of the closed pool may still be ending on the server.
        admin_execute(
            admin,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}' AND pid <> pg_backend_pid()"
            ),
        )
        .await?;
        admin_execute(
            admin,
            &format!(
                "ALTER DATABASE {} RENAME TO {}",
                ident::quote(&building),
                ident::quote(&name)
            ),
        )
        .await?;
        let stale: Vec<String> = conn
            .fetch_all(
                "SELECT datname::text FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
                &[&format!("{set}\\_%"), &name],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for old in stale {
            // In use by a process still on the old set: it stays, and goes
            // next time.
            let _ = admin_execute(
                admin,
                &format!("DROP DATABASE IF EXISTS {}", ident::quote(&old)),
            )
            .await;
        }
    }
    conn.execute(
        "SELECT pg_advisory_unlock(hashtext('pgdbm_test_templates'))",
        &[],
    )
    .await?;
    drop(conn);
    lock_db.close().await;
    Ok(name)
}

/// 64-bit FNV-1a: a stable name for a set across runs and processes.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A schema name for the test: its function name, shortened, and a
/// unique suffix, within PostgreSQL's 63 bytes.
fn short_name(test: &str) -> String {
    let function = test.rsplit("::").next().unwrap_or(test);
    let mut short: String = function
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect();
    short.make_ascii_lowercase();
    let unique = unique_name();
    let suffix = unique.trim_start_matches("pgdbm_test_");
    format!("t_{short}_{suffix}")
}
