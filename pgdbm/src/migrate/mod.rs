//! Migrations: SQL files applied in version order to the manager's schema,
//! recorded in a tracking table the Python library shares.
//!
//! Each migration runs in a transaction of its own with its tracking row,
//! under a transaction-scoped advisory lock keyed by (schema, module), so
//! that many processes migrating one schema apply each file once, tenants'
//! schemas migrate in parallel, and the lock works through PgBouncer in
//! transaction mode. A file marked `-- pgdbm:no-transaction` runs statement
//! by statement outside a transaction, under the session form of the same
//! lock, and is recorded only after it succeeds.

mod error;
mod source;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

pub use error::{ChecksumError, MigrationError, MigrationLockError, MigrationSourceError};
pub use source::Migration;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::{self, Executor, batch_rendered};
use crate::ident;

/// The Python library's tracking table name.
const DEFAULT_TABLE: &str = "schema_migrations";

/// A set of migrations for one module, from a directory or compiled in.
///
/// Files are `NNN_name.sql`, `VNNN__name.sql` or `YYYYMMDDHHMMSS_name.sql`,
/// applied in the order of their number (so `10_` runs after `2_`);
/// `{{tables.name}}` and `{{schema}}` expand to the manager's schema, which
/// is created before the first migration. The module name defaults to the
/// schema's name (`default` without a schema): several modules can share a
/// schema, and one module's set installs into any number of schemas.
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// let db = pgdbm::Database::connect(pgdbm::DatabaseConfig::from_env()?).await?;
/// let users = db.with_schema("users")?;
/// let migrator = pgdbm::Migrator::from_dir("migrations/users")?;
/// for applied in users.migrate(&migrator).await? {
///     println!("applied {} in {:?}", applied.filename, applied.took);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations: Vec<Migration>,
    module: Option<String>,
    table: String,
    lock_timeout: Duration,
}

/// A migration applied by [`Database::migrate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its version.
    pub version: u64,
    /// Its file name.
    pub filename: String,
    /// How long its statements took.
    pub took: Duration,
}

/// A row of the tracking table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRecord {
    /// The migration file's name.
    pub filename: String,
    /// Its checksum when it was applied.
    pub checksum: String,
    /// The module it belongs to; `None` for rows that belong to every module
    /// (written by old versions of the Python library).
    pub module: Option<String>,
    /// When it was applied (server time, no time zone, as Python writes it).
    pub applied_at: SystemTime,
    /// The database user that applied it.
    pub applied_by: Option<String>,
    /// How long it took, in milliseconds.
    pub execution_time_ms: Option<i32>,
}

/// Where a module's migrations stand; see [`Migrator::status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Applied, with the file unchanged.
    pub applied: Vec<MigrationRecord>,
    /// Files not applied yet, in the order they would run.
    pub pending: Vec<String>,
    /// Applied, but the file has changed since.
    pub modified: Vec<String>,
    /// Applied, but no longer among the files.
    pub missing: Vec<String>,
}

impl MigrationStatus {
    /// Whether every file is applied unchanged and none is missing.
    ///
    /// ```
    /// assert!(pgdbm::MigrationStatus::default().is_up_to_date());
    /// ```
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.modified.is_empty() && self.missing.is_empty()
    }
}

impl Migrator {
    /// The migrations in `dir`: every `.sql` file (hidden ones aside); other
    /// files are ignored. Unparseable names, duplicate versions, empty files
    /// and files that commit on their own are errors naming the file.
    ///
    /// ```no_run
    /// let migrator = pgdbm::Migrator::from_dir("migrations")?;
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrator> {
        Self::new(source::collect(source::read_dir(dir.as_ref())?)?)
    }

    /// The migrations among `files` (name, SQL), as [`from_dir`] would read
    /// them; [`embed_migrations!`](crate::embed_migrations) builds on it.
    ///
    /// [`from_dir`]: Migrator::from_dir
    ///
    /// ```
    /// let migrator = pgdbm::Migrator::from_files([
    ///     ("10_third.sql", "ALTER TABLE {{tables.t}} ADD COLUMN c int;"),
    ///     ("2_second.sql", "ALTER TABLE {{tables.t}} ADD COLUMN b int;"),
    ///     ("1_first.sql", "CREATE TABLE {{tables.t}} (a int);"),
    /// ])?;
    /// let versions: Vec<u64> = migrator.migrations().iter().map(|m| m.version()).collect();
    /// assert_eq!(versions, [1, 2, 10]);
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn from_files<I, N, S>(files: I) -> Result<Migrator>
    where
        I: IntoIterator<Item = (N, S)>,
        N: Into<String>,
        S: Into<Cow<'static, str>>,
    {
        Self::new(source::collect(
            files.into_iter().map(|(n, s)| (n.into(), s.into())),
        )?)
    }

    fn new(migrations: Vec<Migration>) -> Result<Migrator> {
        Ok(Migrator {
            migrations,
            module: None,
            table: DEFAULT_TABLE.to_owned(),
            lock_timeout: Duration::from_secs(60),
        })
    }

    /// Names the module these migrations belong to (default: the manager's
    /// schema, or `default` without one), so that several sets share a
    /// schema's tracking table.
    ///
    /// ```
    /// let m = pgdbm::Migrator::from_files([("1_a.sql", "SELECT 1;")])?.module("billing");
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn module(mut self, name: impl Into<String>) -> Self {
        self.module = Some(name.into());
        self
    }

    /// Uses `name` as the tracking table instead of `schema_migrations`.
    /// Any valid identifier works (it is always quoted); the Python library
    /// needs a lowercase one.
    ///
    /// ```
    /// let m = pgdbm::Migrator::from_files([("1_a.sql", "SELECT 1;")])?.table("app_migrations")?;
    /// assert!(pgdbm::Migrator::from_files([("1_a.sql", "SELECT 1;")])?.table("").is_err());
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn table(mut self, name: &str) -> Result<Self> {
        ident::validate("table", name)?;
        self.table = name.to_owned();
        Ok(self)
    }

    /// How long to wait for another migrator of the same schema and module
    /// before [`Error::MigrationLock`] (default 60 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let m = pgdbm::Migrator::from_files([("1_a.sql", "SELECT 1;")])?.lock_timeout(Duration::from_secs(5));
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn lock_timeout(mut self, limit: Duration) -> Self {
        self.lock_timeout = limit;
        self
    }

    /// The migrations, in the order they run.
    ///
    /// ```
    /// let m = pgdbm::Migrator::from_files([("1_a.sql", "SELECT 1;")])?;
    /// assert_eq!(m.migrations()[0].filename(), "1_a.sql");
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Writes the next migration file of `dir` (created if missing) and
    /// returns its path: one more than the highest version, numbered as
    /// wide as the existing files. `name` must be letters, digits and `_`.
    ///
    /// ```no_run
    /// let path = pgdbm::Migrator::create("migrations", "add_orders")?;
    /// println!("edit {}", path.display());
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn create(dir: impl AsRef<Path>, name: &str) -> Result<PathBuf> {
        source::create(dir.as_ref(), name)
    }

    /// Applies the pending migrations; see [`Database::migrate`].
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database, migrator: pgdbm::Migrator) -> pgdbm::Result<()> {
    /// let applied = migrator.run(&db).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, db: &Database) -> Result<Vec<AppliedMigration>> {
        let target = Target::new(self, db);
        let records = self.records(db, &target).await?;
        let pending = self.pending(&target, &records)?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        target.ensure_table(db).await?;
        let mut applied = Vec::new();
        for migration in pending {
            let done = if migration.no_transaction() {
                target.apply_outside(db, self, migration).await?
            } else {
                target.apply_in_transaction(db, self, migration).await?
            };
            applied.extend(done);
        }
        Ok(applied)
    }

    /// The migrations [`run`](Migrator::run) would apply now, writing
    /// nothing (not even the tracking table). An applied file that changed
    /// is [`Error::MigrationChecksum`], as it would be for `run`.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database, migrator: pgdbm::Migrator) -> pgdbm::Result<()> {
    /// for m in migrator.dry_run(&db).await? {
    ///     println!("would apply {}", m.filename());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn dry_run(&self, db: &Database) -> Result<Vec<&Migration>> {
        let target = Target::new(self, db);
        let records = self.records(db, &target).await?;
        self.pending(&target, &records)
    }

    /// Applied, pending, modified and missing migrations of this module.
    /// Works on a database that has never been migrated, and writes nothing.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database, migrator: pgdbm::Migrator) -> pgdbm::Result<()> {
    /// let status = migrator.status(&db).await?;
    /// if !status.is_up_to_date() {
    ///     println!("pending: {:?}, changed: {:?}", status.pending, status.modified);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn status(&self, db: &Database) -> Result<MigrationStatus> {
        let target = Target::new(self, db);
        let records = self.records(db, &target).await?;
        let mut status = MigrationStatus::default();
        for record in &records {
            match self.find(&record.filename) {
                None => status.missing.push(record.filename.clone()),
                Some(m) if m.checksum() != record.checksum => {
                    status.modified.push(record.filename.clone())
                }
                Some(_) => status.applied.push(record.clone()),
            }
        }
        status.pending = self
            .migrations
            .iter()
            .filter(|m| !records.iter().any(|r| r.filename == m.filename()))
            .map(|m| m.filename().to_owned())
            .collect();
        Ok(status)
    }

    /// The last `limit` migrations applied for this module, newest first.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database, migrator: pgdbm::Migrator) -> pgdbm::Result<()> {
    /// for record in migrator.history(&db, 10).await? {
    ///     println!("{} by {:?}", record.filename, record.applied_by);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self, db: &Database, limit: usize) -> Result<Vec<MigrationRecord>> {
        let target = Target::new(self, db);
        let mut records = self.records(db, &target).await?;
        records.reverse();
        records.truncate(limit);
        Ok(records)
    }

    /// The tracking table's name (in the manager's schema): the test
    /// harness keeps its rows when it empties a test's schema for reuse.
    #[cfg(feature = "testing")]
    pub(crate) fn tracking_table(&self) -> &str {
        &self.table
    }

    /// What [`run`](Migrator::run) would do in `db`'s fresh, empty schema,
    /// as scripts to send: the schema, the tracking table, every migration's
    /// statements expanded for the schema and their tracking rows, in as few
    /// round trips as the files allow (each statement of a
    /// `no-transaction` file alone). The test harness builds each test's
    /// schema with it once the set has been applied for real.
    #[cfg(feature = "testing")]
    pub(crate) fn replay(&self, db: &Database) -> Result<Vec<Replay>> {
        let target = Target::new(self, db);
        let mut steps = Vec::new();
        let mut batch = target.setup_ddl();
        for m in &self.migrations {
            for (statement, _) in m.statements() {
                let sql = db.templates().expand_once(statement)?;
                if m.no_transaction() {
                    steps.push(Replay::Batch(std::mem::take(&mut batch)));
                    steps.push(Replay::Single(sql.into_owned()));
                } else {
                    batch.push_str(&sql);
                    batch.push_str(";\n");
                }
            }
            batch.push_str(&format!(
                "INSERT INTO {} (filename, checksum, module_name, execution_time_ms) VALUES ({}, {}, {}, 1);\n",
                target.table,
                ident::literal(m.filename()),
                ident::literal(m.checksum()),
                ident::literal(&target.module),
            ));
        }
        steps.push(Replay::Batch(batch));
        steps.retain(|s| !matches!(s, Replay::Batch(b) if b.is_empty()));
        Ok(steps)
    }

    fn find(&self, filename: &str) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.filename() == filename)
    }

    /// The tracking rows of this module (and those of no module), oldest
    /// first; none when the table does not exist yet.
    async fn records(&self, db: &Database, target: &Target) -> Result<Vec<MigrationRecord>> {
        let exists: bool = db
            .fetch_value("SELECT to_regclass($1) IS NOT NULL", &[&target.table])
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT filename, checksum, module_name, applied_at, applied_by, execution_time_ms \
             FROM {} WHERE module_name = $1 OR module_name IS NULL ORDER BY applied_at, id",
            target.table
        );
        let rows = db.fetch_all(&sql, &[&target.module]).await?;
        let records = rows
            .iter()
            .map(|row| {
                Ok(MigrationRecord {
                    filename: row.try_get(0)?,
                    checksum: row.try_get(1)?,
                    module: row.try_get(2)?,
                    applied_at: row.try_get(3)?,
                    applied_by: row.try_get(4)?,
                    execution_time_ms: row.try_get(5)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(records)
    }

    /// The migrations not in `records`, after checking that none of those
    /// applied has changed.
    fn pending(&self, target: &Target, records: &[MigrationRecord]) -> Result<Vec<&Migration>> {
        let mut pending = Vec::new();
        for m in &self.migrations {
            match records.iter().find(|r| r.filename == m.filename()) {
                Some(record) => target.check(m, &record.checksum)?,
                None => pending.push(m),
            }
        }
        Ok(pending)
    }
}

impl Database {
    /// Applies `migrator`'s pending migrations to this manager's schema, in
    /// version order, and returns them with their times (nothing when all
    /// are applied). Each runs in its own transaction with its tracking
    /// row; a failure is [`Error::Migration`] and leaves the earlier ones of
    /// the run applied. An applied file that changed is
    /// [`Error::MigrationChecksum`] before anything runs.
    ///
    /// Migrations run with this manager's timeouts: for a long one, migrate
    /// through `db.with_timeout(None)`, and raise the server's in the file with
    /// `SET LOCAL statement_timeout = 0`.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let migrator = pgdbm::Migrator::from_dir("migrations")?;
    /// db.migrate(&migrator).await?;
    /// db.migrate(&migrator).await?; // nothing left to do
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self, migrator: &Migrator) -> Result<Vec<AppliedMigration>> {
        migrator.run(self).await
    }
}

/// One (schema, module) being migrated, with its SQL.
struct Target {
    schema: Option<String>,
    module: String,
    /// The tracking table, quoted and qualified.
    table: String,
    /// The tracking table's own name.
    table_name: String,
    /// The second lock key: the schema, or empty.
    lock_schema: String,
}

impl Target {
    fn new(migrator: &Migrator, db: &Database) -> Target {
        let schema = db.schema().map(str::to_owned);
        let module = migrator
            .module
            .clone()
            .or_else(|| schema.clone())
            .unwrap_or_else(|| "default".to_owned());
        Target {
            table: ident::qualified(schema.as_deref(), &migrator.table),
            table_name: migrator.table.clone(),
            lock_schema: schema.clone().unwrap_or_default(),
            schema,
            module,
        }
    }

    fn check(&self, m: &Migration, applied: &str) -> Result<()> {
        if m.checksum() == applied {
            return Ok(());
        }
        Err(Error::MigrationChecksum(Box::new(ChecksumError {
            file: m.filename().to_owned(),
            module: self.module.clone(),
            applied: applied.to_owned(),
            current: m.checksum().to_owned(),
        })))
    }

    /// Creates the schema and the tracking table (with the Python library's
    /// columns and index) unless they exist, under a lock of the schema so
    /// that concurrent migrators do not race on the catalog.
    async fn ensure_table(&self, db: &Database) -> Result<()> {
        let tx = db.transaction().await?;
        self.lock(&tx, "pgdbm_schema_setup", &self.lock_schema, Duration::MAX)
            .await?;
        batch_rendered(&tx, &self.setup_ddl()).await?;
        tx.commit().await
    }

    /// The schema (if any) and the tracking table, as DDL.
    fn setup_ddl(&self) -> String {
        let mut ddl = String::new();
        if let Some(schema) = &self.schema {
            ddl.push_str(&format!(
                "CREATE SCHEMA IF NOT EXISTS {};\n",
                ident::quote(schema)
            ));
        }
        ddl.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                id SERIAL PRIMARY KEY,
                filename VARCHAR(255) NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                module_name VARCHAR(100),
                applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                applied_by VARCHAR(100) DEFAULT CURRENT_USER,
                execution_time_ms INTEGER,
                UNIQUE(filename, module_name)
            );
            CREATE INDEX IF NOT EXISTS {index} ON {table} (module_name, filename);\n",
            table = self.table,
            index = ident::quote(&format!("idx_{}_module", self.table_name)),
        ));
        ddl
    }

    /// Takes the transaction-scoped advisory lock (`hashtext(a)`,
    /// `hashtext(b)`) waiting at most `limit`, with the transaction's own
    /// lock timeout restored for the statements that follow.
    async fn lock<E: Executor>(&self, tx: &E, a: &str, b: &str, limit: Duration) -> Result<()> {
        let ms = if limit == Duration::MAX {
            "0".to_owned()
        } else {
            format!("{}ms", limit.as_millis().max(1))
        };
        let previous: String = value(tx, "SELECT current_setting('lock_timeout')", &[]).await?;
        value::<_, String>(tx, "SELECT set_config('lock_timeout', $1, true)", &[&ms]).await?;
        let locked = value::<_, String>(
            tx,
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))::text",
            &[&a, &b],
        )
        .await;
        match locked {
            Ok(_) => {}
            Err(Error::LockTimeout(_) | Error::Timeout(_)) => {
                return Err(self.lock_error(limit));
            }
            Err(e) => return Err(e),
        }
        value::<_, String>(
            tx,
            "SELECT set_config('lock_timeout', $1, true)",
            &[&previous],
        )
        .await?;
        Ok(())
    }

    fn lock_error(&self, waited: Duration) -> Error {
        Error::MigrationLock(Box::new(MigrationLockError {
            schema: self.schema.clone(),
            module: self.module.clone(),
            waited,
        }))
    }

    fn lock_key(&self) -> String {
        format!("pgdbm_migration_{}", self.module)
    }

    /// The checksum recorded for `m`, if it is applied.
    async fn applied<E: Executor>(&self, ex: &E, m: &Migration) -> Result<Option<String>> {
        let sql = format!(
            "SELECT checksum FROM {} WHERE filename = $1 AND (module_name = $2 OR module_name IS NULL)",
            self.table
        );
        value(ex, &sql, &[&m.filename(), &self.module]).await
    }

    async fn record<E: Executor>(&self, ex: &E, m: &Migration, took: Duration) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (filename, checksum, module_name, execution_time_ms) VALUES ($1, $2, $3, $4)",
            self.table
        );
        // At least 1 ms, as Python records it.
        let ms = i32::try_from(took.as_millis()).unwrap_or(i32::MAX).max(1);
        executor::execute(ex, &sql, &[&m.filename(), &m.checksum(), &self.module, &ms])
            .await
            .map(drop)
    }

    async fn apply_in_transaction(
        &self,
        db: &Database,
        migrator: &Migrator,
        m: &Migration,
    ) -> Result<Option<AppliedMigration>> {
        let tx = db.transaction().await?;
        self.lock(
            &tx,
            &self.lock_key(),
            &self.lock_schema,
            migrator.lock_timeout,
        )
        .await?;
        // Another migrator may have applied it while this one waited.
        if let Some(applied) = self.applied(&tx, m).await? {
            tx.rollback().await?;
            self.check(m, &applied)?;
            return Ok(None);
        }
        let took = run_statements(&tx, m).await?;
        self.record(&tx, m, took).await?;
        tx.commit().await?;
        Ok(Some(applied(m, took)))
    }

    /// A `no-transaction` file: statement by statement on a connection of
    /// its own (so each runs in autocommit, as `CREATE INDEX CONCURRENTLY`
    /// needs), under the session advisory lock, polled so that the wait is
    /// bounded without changing the session's lock timeout. The connection
    /// is reset before it is reused, which releases the lock on any path.
    async fn apply_outside(
        &self,
        db: &Database,
        migrator: &Migrator,
        m: &Migration,
    ) -> Result<Option<AppliedMigration>> {
        let conn = db.acquire().await?;
        let started = Instant::now();
        let key = self.lock_key();
        loop {
            let got: bool = conn
                .fetch_value(
                    "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                    &[&key, &self.lock_schema],
                )
                .await?;
            if got {
                break;
            }
            if started.elapsed() >= migrator.lock_timeout {
                return Err(self.lock_error(migrator.lock_timeout));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if let Some(applied) = self.applied(&conn, m).await? {
            self.check(m, &applied)?;
            return Ok(None);
        }
        let took = run_statements(&conn, m).await?;
        self.record(&conn, m, took).await?;
        conn.execute(
            "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
            &[&key, &self.lock_schema],
        )
        .await?;
        Ok(Some(applied(m, took)))
    }
}

/// One script of [`Migrator::replay`].
#[cfg(feature = "testing")]
pub(crate) enum Replay {
    /// Statements sent together (one implicit transaction).
    Batch(String),
    /// A statement that must run alone, outside a transaction.
    Single(String),
}

fn applied(m: &Migration, took: Duration) -> AppliedMigration {
    AppliedMigration {
        version: m.version(),
        filename: m.filename().to_owned(),
        took,
    }
}

/// Runs each statement of `m`, templates expanded for the executor's
/// schema; a failure names the statement and its line.
async fn run_statements<E: Executor>(ex: &E, m: &Migration) -> Result<Duration> {
    let start = Instant::now();
    for (index, (statement, line)) in m.statements().enumerate() {
        let fail = |error: Error, sql: &str| {
            // The server's position is in characters of the expanded text.
            let within = error
                .database_error()
                .and_then(|e| e.position())
                .and_then(|at| sql.char_indices().nth(at.saturating_sub(1) as usize))
                .map_or(0, |(byte, _)| source::line_of(sql, byte) - 1);
            Error::Migration(Box::new(MigrationError {
                file: m.filename().to_owned(),
                statement: index + 1,
                line: line + within,
                error,
            }))
        };
        let sql = ex
            .templates()
            .expand_once(statement)
            .map_err(|e| fail(e, statement))?;
        batch_rendered(ex, &sql).await.map_err(|e| fail(e, &sql))?;
    }
    Ok(start.elapsed())
}

/// The first column of the first row (`Option<T>`: `None` without a row).
async fn value<E: Executor, T: tokio_postgres::types::FromSqlOwned>(
    ex: &E,
    sql: &str,
    params: crate::Params<'_>,
) -> Result<T> {
    executor::fetch_value_at(ex, sql, params, 0).await
}
