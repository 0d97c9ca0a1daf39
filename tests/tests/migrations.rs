//! Migrations against a real server: ordering, tracking compatible with the
//! Python library, checksums, locking under concurrency, failures.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, Migrator};

/// The fixture set that `pgdbm==0.5.0` applied to produce [`PYTHON_ROWS`].
const FIXTURE: &str = "migrations/python";

/// (filename, checksum) as pgdbm 0.5.0 recorded them for [`FIXTURE`]
/// (`AsyncMigrationManager(db, "tests/migrations/python")`, schema
/// `py_fixture`, module defaulting to the schema).
const PYTHON_ROWS: [(&str, &str); 3] = [
    (
        "001_create_users.sql",
        "233695c2417aa95fdbb6f6f288787c97c573ae850c383b6663a4138d6edd33e4",
    ),
    (
        "002_create_posts.sql",
        "c3888da3d900b5d82b10df67adb4ebc28358d541355e4c076dea16780d4ba1fe",
    ),
    (
        "003_index_posts.sql",
        "d9dd3b6a8717eda34da35a8deb690f2208a8a7811cda7a42282f00c70c29c0be",
    ),
];

/// The Python library's tracking table DDL, verbatim (`ensure_migrations_table`).
const PYTHON_DDL: &str = "
    CREATE TABLE IF NOT EXISTS py_fixture.schema_migrations (
        id SERIAL PRIMARY KEY,
        filename VARCHAR(255) NOT NULL,
        checksum VARCHAR(64) NOT NULL,
        module_name VARCHAR(100),
        applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        applied_by VARCHAR(100) DEFAULT CURRENT_USER,
        execution_time_ms INTEGER,
        UNIQUE(filename, module_name)
    );
    CREATE INDEX IF NOT EXISTS idx_schema_migrations_module
    ON py_fixture.schema_migrations(module_name, filename)";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// A fresh, empty directory under the system's temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pgdbm-migrate-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

async fn tables(db: &Database, schema: &str) -> Vec<String> {
    db.fetch_all(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
        &[&schema],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn applies_in_numeric_order_once_and_records_like_python() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("app").unwrap();
    let migrator = Migrator::from_files([
        (
            "10_third.sql",
            "ALTER TABLE {{tables.t}} ADD COLUMN c int GENERATED ALWAYS AS (b * 2) STORED;",
        ),
        ("2_second.sql", "ALTER TABLE {{tables.t}} ADD COLUMN b int;"),
        ("1_first.sql", "CREATE TABLE {{tables.t}} (a int);"),
    ])
    .unwrap();

    let applied = db.migrate(&migrator).await.unwrap();
    let order: Vec<_> = applied.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(order, ["1_first.sql", "2_second.sql", "10_third.sql"]);
    assert!(
        db.migrate(&migrator).await.unwrap().is_empty(),
        "a re-run is a no-op"
    );

    let rows = db
        .fetch_all(
            "SELECT filename, checksum, module_name, applied_by, execution_time_ms \
             FROM app.schema_migrations ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (row, m) in rows.iter().zip(migrator.migrations()) {
        assert_eq!(row.get::<String>(0), m.filename());
        assert_eq!(row.get::<String>(1), m.checksum());
        assert_eq!(
            row.get::<Option<String>>(2).as_deref(),
            Some("app"),
            "module = schema"
        );
        assert_eq!(row.get::<Option<String>>(3).as_deref(), Some("postgres"));
        assert!(row.get::<Option<i32>>(4).unwrap() >= 1);
    }
    let status = migrator.status(&db).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
    assert_eq!(status.applied.len(), 3);
    let history = migrator.history(&db, 2).await.unwrap();
    let newest: Vec<_> = history.iter().map(|r| r.filename.as_str()).collect();
    assert_eq!(newest, ["10_third.sql", "2_second.sql"]);
}

#[tokio::test]
async fn status_and_dry_run_on_a_fresh_database_create_nothing() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("fresh").unwrap();
    let migrator = Migrator::from_dir(fixture_dir()).unwrap();

    let status = migrator.status(&db).await.unwrap();
    assert_eq!(status.pending.len(), 3);
    assert!(status.applied.is_empty() && status.modified.is_empty() && status.missing.is_empty());
    let would: Vec<_> = migrator
        .dry_run(&db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.filename().to_owned())
        .collect();
    assert_eq!(would, status.pending);

    let schemas: i64 = db
        .fetch_value(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'fresh'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        schemas, 0,
        "neither the schema nor the tracking table was created"
    );
}

#[tokio::test]
async fn two_modules_share_a_schema_and_one_set_installs_into_many_schemas() {
    let test = TestDatabase::new().await.unwrap();
    let shared = test.with_schema("shared").unwrap();
    let users = Migrator::from_files([("1_init.sql", "CREATE TABLE {{tables.users}} (id int);")])
        .unwrap()
        .module("users");
    let orders = Migrator::from_files([("1_init.sql", "CREATE TABLE {{tables.orders}} (id int);")])
        .unwrap()
        .module("orders");
    assert_eq!(shared.migrate(&users).await.unwrap().len(), 1);
    assert_eq!(
        shared.migrate(&orders).await.unwrap().len(),
        1,
        "same file name, other module"
    );
    assert_eq!(
        tables(&shared, "shared").await,
        ["orders", "schema_migrations", "users"]
    );

    let set = Migrator::from_dir(fixture_dir()).unwrap();
    for schema in ["tenant_one", "Tenant Two"] {
        let db = test.with_schema(schema).unwrap();
        assert_eq!(db.migrate(&set).await.unwrap().len(), 3, "{schema}");
        assert_eq!(
            tables(&db, schema).await,
            ["posts", "schema_migrations", "users"]
        );
        let count: i64 = db
            .fetch_value("SELECT {{schema}}.post_count()", &[])
            .await
            .unwrap();
        assert_eq!(count, 0);
    }
}

#[tokio::test]
async fn a_changed_file_is_refused_but_a_line_ending_change_is_not() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("sums").unwrap();
    let dir = temp_dir("sums");
    write(&dir, "001_a.sql", "CREATE TABLE {{tables.a}} (id int);\n");
    db.migrate(&Migrator::from_dir(&dir).unwrap())
        .await
        .unwrap();

    write(
        &dir,
        "001_a.sql",
        "CREATE TABLE {{tables.a}} (id int);\r\n\r\n",
    );
    write(&dir, "002_b.sql", "CREATE TABLE {{tables.b}} (id int);");
    let applied = db
        .migrate(&Migrator::from_dir(&dir).unwrap())
        .await
        .unwrap();
    assert_eq!(applied.len(), 1, "CRLF alone is no change; 002 applies");

    write(
        &dir,
        "001_a.sql",
        "CREATE TABLE {{tables.a}} (id bigint);\n",
    );
    write(&dir, "003_c.sql", "CREATE TABLE {{tables.c}} (id int);");
    let migrator = Migrator::from_dir(&dir).unwrap();
    match db.migrate(&migrator).await {
        Err(Error::MigrationChecksum(e)) => {
            assert_eq!(e.file, "001_a.sql");
            assert_eq!(e.module, "sums");
            assert_ne!(e.applied, e.current);
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(
        !tables(&db, "sums").await.contains(&"c".to_owned()),
        "nothing applied"
    );
    let status = migrator.status(&db).await.unwrap();
    assert_eq!(status.modified, ["001_a.sql"]);
    assert_eq!(status.pending, ["003_c.sql"]);

    std::fs::remove_file(dir.join("002_b.sql")).unwrap();
    write(&dir, "001_a.sql", "CREATE TABLE {{tables.a}} (id int);\n");
    let status = Migrator::from_dir(&dir).unwrap().status(&db).await.unwrap();
    assert_eq!(
        status.missing,
        ["002_b.sql"],
        "an applied file gone is reported"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_and_names_the_file_statement_and_line() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("fails").unwrap();
    let migrator = Migrator::from_files([
        ("1_ok.sql", "CREATE TABLE {{tables.ok}} (id int);"),
        (
            "2_bad.sql",
            "CREATE TABLE {{tables.half}} (id int);\n\nINSERT INTO {{tables.half}}\n  VALUES (nope);",
        ),
        ("3_after.sql", "CREATE TABLE {{tables.after}} (id int);"),
    ])
    .unwrap();
    match db.migrate(&migrator).await {
        Err(Error::Migration(e)) => {
            assert_eq!(
                (e.file.as_str(), e.statement, e.line),
                ("2_bad.sql", 2, 4),
                "{e}"
            );
            assert!(
                matches!(e.error, Error::UndefinedColumn(_)),
                "{:?}",
                e.error
            );
            assert!(std::error::Error::source(&*e).is_some());
        }
        other => panic!("expected a migration error, got {other:?}"),
    }
    assert_eq!(tables(&db, "fails").await, ["ok", "schema_migrations"]);
    let status = migrator.status(&db).await.unwrap();
    assert_eq!(status.pending, ["2_bad.sql", "3_after.sql"]);
}

#[tokio::test]
async fn a_file_that_commits_on_its_own_is_refused_before_it_runs() {
    let err = Migrator::from_files([(
        "1_sneaky.sql",
        "CREATE TABLE {{tables.a}} (id int);\nCOMMIT;\nDROP TABLE {{tables.a}};",
    )])
    .unwrap_err();
    match err {
        Error::MigrationSource(e) => {
            assert_eq!(e.file, "1_sneaky.sql");
            assert!(e.message.contains("line 2"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    for bad in [("001_a.sql", "1_b.sql"), ("a.sql", "1_ok.sql")] {
        let err = Migrator::from_files([(bad.0, "SELECT 1;"), (bad.1, "SELECT 1;")]).unwrap_err();
        assert!(matches!(err, Error::MigrationSource(_)), "{err}");
    }
    let err = Migrator::from_files([("1_empty.sql", "  -- nothing\n")]).unwrap_err();
    assert!(err.to_string().contains("1_empty.sql"), "{err}");
}

#[tokio::test]
async fn a_no_transaction_file_creates_an_index_concurrently() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("concurrently").unwrap();
    let migrator = Migrator::from_files([
        ("1_table.sql", "CREATE TABLE {{tables.items}} (id int, sku text);"),
        (
            "2_index.sql",
            "-- pgdbm:no-transaction\nCREATE INDEX CONCURRENTLY items_sku ON {{tables.items}} (sku);\n\
             CREATE INDEX CONCURRENTLY items_id ON {{tables.items}} (id);",
        ),
    ])
    .unwrap();
    assert!(migrator.migrations()[1].no_transaction());
    assert_eq!(db.migrate(&migrator).await.unwrap().len(), 2);
    let indexes: i64 = db
        .fetch_value(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'concurrently' AND indexname LIKE 'items_%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(indexes, 2);
    assert!(migrator.status(&db).await.unwrap().is_up_to_date());
    // The session lock was released: another migrator does not wait for it.
    let again = migrator.clone().lock_timeout(Duration::from_millis(200));
    assert!(db.migrate(&again).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_held_lock_is_waited_for_within_the_timeout() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("locked").unwrap();
    let migrator = Migrator::from_files([("1_a.sql", "CREATE TABLE {{tables.a}} (id int);")])
        .unwrap()
        .lock_timeout(Duration::from_millis(300));
    // The tracking table exists, so only the migration lock is contended.
    db.migrate(
        &Migrator::from_files([("0_base.sql", "SELECT 1;")])
            .unwrap()
            .module("locked"),
    )
    .await
    .unwrap();
    let holder = db.transaction().await.unwrap();
    holder
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('pgdbm_migration_locked'), hashtext('locked'))",
            &[],
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    match db.migrate(&migrator).await {
        Err(Error::MigrationLock(e)) => {
            assert_eq!(
                (e.module.as_str(), e.schema.as_deref()),
                ("locked", Some("locked"))
            );
        }
        other => panic!("expected a lock error, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    holder.rollback().await.unwrap();
    assert_eq!(db.migrate(&migrator).await.unwrap().len(), 1);
}

#[tokio::test]
async fn eight_migrators_with_their_own_pools_apply_each_file_once() {
    let test = TestDatabase::new().await.unwrap();
    let config = test.config().clone().with_schema("race");
    let migrator = Arc::new(
        Migrator::from_files((1..=6).map(|i| {
            (
                format!("{i:03}_step.sql"),
                format!("CREATE TABLE {{{{tables.step_{i}}}}} (id int); INSERT INTO {{{{tables.log}}}} VALUES ({i});"),
            )
        }))
        .unwrap(),
    );
    // The log table comes first, from a module of its own.
    let base = Database::connect(config.clone()).await.unwrap();
    base.migrate(
        &Migrator::from_files([("0_log.sql", "CREATE TABLE {{tables.log}} (step int);")])
            .unwrap()
            .module("base"),
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (config, migrator) = (config.clone(), migrator.clone());
        tasks.push(tokio::spawn(async move {
            let db = Database::connect(config).await.unwrap();
            let n = db.migrate(&migrator).await.unwrap().len();
            db.close().await;
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 6, "each file applied by exactly one migrator");
    let logged: Vec<i32> = base
        .fetch_all("SELECT step FROM {{tables.log}} ORDER BY step", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logged, [1, 2, 3, 4, 5, 6]);
    base.close().await;
}

#[tokio::test]
async fn fifty_schemas_migrate_concurrently_from_one_pool() {
    let test = TestDatabase::new().await.unwrap();
    let migrator = Arc::new(Migrator::from_dir(fixture_dir()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let db = test.with_schema(&format!("tenant_{i}")).unwrap();
        let migrator = migrator.clone();
        tasks.push(tokio::spawn(async move {
            db.migrate(&migrator).await.map(|a| a.len())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 3);
    }
    let schemas: i64 = test
        .fetch_value(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'posts' AND table_schema LIKE 'tenant\\_%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(schemas, 50);
}

#[tokio::test]
async fn a_schema_migrated_by_python_is_recognised_and_rust_rows_match_python() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("py_fixture").unwrap();
    db.create_schema().await.unwrap();
    let conn = db.acquire().await.unwrap();
    for statement in PYTHON_DDL.split(';') {
        conn.execute(statement, &[]).await.unwrap();
    }
    for (file, sum) in PYTHON_ROWS {
        conn.execute(
            "INSERT INTO py_fixture.schema_migrations (filename, checksum, module_name, execution_time_ms) \
             VALUES ($1, $2, 'py_fixture', 7)",
            &[&file, &sum],
        )
        .await
        .unwrap();
    }
    let set = Migrator::from_dir(fixture_dir()).unwrap();
    let status = set.status(&db).await.unwrap();
    assert_eq!(status.applied.len(), 3, "{status:?}");
    assert!(status.is_up_to_date(), "{status:?}");
    assert!(db.migrate(&set).await.unwrap().is_empty());
    drop(conn);

    // Rust computes the checksums Python wrote, CRLF file included, so the
    // rows Rust writes satisfy Python's reader (which compares them).
    let sums: Vec<_> = set
        .migrations()
        .iter()
        .map(|m| (m.filename(), m.checksum()))
        .collect();
    assert_eq!(sums, PYTHON_ROWS);
    let other = test.with_schema("rust_written").unwrap();
    other.migrate(&set).await.unwrap();
    let written: Vec<(String, String)> = other
        .fetch_all(
            "SELECT filename, checksum FROM {{tables.schema_migrations}} \
             WHERE module_name = $1 OR module_name IS NULL ORDER BY filename",
            &[&"rust_written"],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<_> = PYTHON_ROWS
        .iter()
        .map(|(f, s)| (f.to_string(), s.to_string()))
        .collect();
    assert_eq!(written, expected);
}

#[tokio::test]
async fn rows_of_no_module_count_for_every_module() {
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("legacy").unwrap();
    let set = Migrator::from_files([
        ("1_a.sql", "CREATE TABLE {{tables.a}} (id int);"),
        ("2_b.sql", "CREATE TABLE {{tables.b}} (id int);"),
    ])
    .unwrap()
    .module("anything");
    // Create the tracking table by migrating another module, then record
    // 1_a.sql with a NULL module, as old Python versions did.
    db.migrate(
        &Migrator::from_files([("1_x.sql", "SELECT 1;")])
            .unwrap()
            .module("other"),
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO {{tables.schema_migrations}} (filename, checksum) VALUES ($1, $2)",
        &[&"1_a.sql", &set.migrations()[0].checksum()],
    )
    .await
    .unwrap();
    let applied = db.migrate(&set).await.unwrap();
    let files: Vec<_> = applied.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(files, ["2_b.sql"]);
}

#[tokio::test]
async fn embedded_migrations_match_the_directory() {
    let embedded = pgdbm::embed_migrations!("migrations/python").unwrap();
    let read = Migrator::from_dir(fixture_dir()).unwrap();
    let sums = |m: &Migrator| {
        m.migrations()
            .iter()
            .map(|m| (m.filename().to_owned(), m.checksum().to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sums(&embedded), sums(&read));
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("embedded").unwrap();
    assert_eq!(db.migrate(&embedded).await.unwrap().len(), 3);
}

#[test]
fn create_writes_the_next_number() {
    let dir = temp_dir("create");
    let first = Migrator::create(&dir, "init").unwrap();
    assert_eq!(first.file_name().unwrap(), "001_init.sql");
    write(&dir, "0009_wide.sql", "SELECT 1;");
    let next = Migrator::create(&dir, "add_orders").unwrap();
    assert_eq!(next.file_name().unwrap(), "0010_add_orders.sql");
    for bad in ["", "has space", "semi;colon", "../escape", "_leading"] {
        assert!(Migrator::create(&dir, bad).is_err(), "{bad:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With `PGDBM_PYTHON` naming a Python that has `pgdbm==0.5.0` (`.ci/run`
/// makes one), the Python library reads a schema Rust migrated as fully
/// applied: same tracking rows, same checksums, nothing left to do.
#[tokio::test]
async fn the_python_library_reads_the_rows_rust_writes() {
    let Some(python) = std::env::var_os("PGDBM_PYTHON") else {
        eprintln!("PGDBM_PYTHON is not set: the cross-check with the Python library did not run");
        return;
    };
    let test = TestDatabase::new().await.unwrap();
    let db = test.with_schema("rust_rows").unwrap();
    db.migrate(&Migrator::from_dir(fixture_dir()).unwrap())
        .await
        .unwrap();
    let c = test.config();
    let url = format!(
        "postgresql://{}{}@{}:{}/{}",
        c.user,
        c.password
            .as_deref()
            .map(|p| format!(":{p}"))
            .unwrap_or_default(),
        c.host,
        c.port,
        c.database
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/read_rust_rows.py");
    // Blocking is fine: nothing else runs on this test's runtime meanwhile.
    let out = std::process::Command::new(python)
        .arg(script)
        .args([url.as_str(), "rust_rows"])
        .arg(fixture_dir())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(report.contains("status=up_to_date"), "{report}");
}
