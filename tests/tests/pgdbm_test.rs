//! `#[pgdbm::test]` with schema isolation: each test in a fresh, migrated
//! schema, the set applied once per process, nothing left behind by a
//! passing test and everything kept by a failing one.

use pgdbm::Database;
use pgdbm::testing::TestContext;

const SET: &str = "migrations/python";

/// 50 tests that each write their own row and must see only it.
macro_rules! isolated {
    ($($name:ident = $n:literal),* $(,)?) => {$(
        #[pgdbm::test(migrations = "migrations/python")]
        async fn $name(db: Database) {
            db.execute("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&format!("{}@example.com", $n)])
                .await
                .unwrap();
            let emails: Vec<String> = db
                .fetch_all("SELECT email FROM {{tables.users}}", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(emails, [format!("{}@example.com", $n)]);
        }
    )*};
}

isolated!(
    iso_00 = 0,
    iso_01 = 1,
    iso_02 = 2,
    iso_03 = 3,
    iso_04 = 4,
    iso_05 = 5,
    iso_06 = 6,
    iso_07 = 7,
    iso_08 = 8,
    iso_09 = 9,
    iso_10 = 10,
    iso_11 = 11,
    iso_12 = 12,
    iso_13 = 13,
    iso_14 = 14,
    iso_15 = 15,
    iso_16 = 16,
    iso_17 = 17,
    iso_18 = 18,
    iso_19 = 19,
    iso_20 = 20,
    iso_21 = 21,
    iso_22 = 22,
    iso_23 = 23,
    iso_24 = 24,
    iso_25 = 25,
    iso_26 = 26,
    iso_27 = 27,
    iso_28 = 28,
    iso_29 = 29,
    iso_30 = 30,
    iso_31 = 31,
    iso_32 = 32,
    iso_33 = 33,
    iso_34 = 34,
    iso_35 = 35,
    iso_36 = 36,
    iso_37 = 37,
    iso_38 = 38,
    iso_39 = 39,
    iso_40 = 40,
    iso_41 = 41,
    iso_42 = 42,
    iso_43 = 43,
    iso_44 = 44,
    iso_45 = 45,
    iso_46 = 46,
    iso_47 = 47,
    iso_48 = 48,
    iso_49 = 49,
);

/// The 50 at once, each on a thread of its own (the test harness runs only
/// as many at a time as the machine has cores), in a child process of this
/// binary running only this test: the set must be applied once there, and
/// once the child has exited no schema of its may be left (the schemas
/// passing tests give back for reuse are dropped at exit).
#[test]
fn fifty_at_once_apply_the_set_once_and_leave_nothing() {
    const CHILD: &str = "PGDBM_TEST_FIFTY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let tests: [fn(); 50] = [
            iso_00, iso_01, iso_02, iso_03, iso_04, iso_05, iso_06, iso_07, iso_08, iso_09, iso_10,
            iso_11, iso_12, iso_13, iso_14, iso_15, iso_16, iso_17, iso_18, iso_19, iso_20, iso_21,
            iso_22, iso_23, iso_24, iso_25, iso_26, iso_27, iso_28, iso_29, iso_30, iso_31, iso_32,
            iso_33, iso_34, iso_35, iso_36, iso_37, iso_38, iso_39, iso_40, iso_41, iso_42, iso_43,
            iso_44, iso_45, iso_46, iso_47, iso_48, iso_49,
        ];
        let threads: Vec<_> = tests.into_iter().map(std::thread::spawn).collect();
        for t in threads {
            t.join().expect("each isolated test passes");
        }
        // Every schema test in the child uses one set: applied once, however
        // many tests (and threads) ran.
        assert_eq!(pgdbm::testing::migration_runs(), 1);
        // The schemas given back are still there until the process exits.
        assert!(!leftover_schemas("t_iso_%").is_empty());
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "fifty_at_once_apply_the_set_once_and_leave_nothing",
        ])
        .args(["--test-threads", "1", "--nocapture"])
        .env(CHILD, "1");
    if std::env::var_os("PGDBM_TEST_URL").is_none() && std::env::var_os("DATABASE_URL").is_none() {
        // This process's throwaway cluster, not one of the child's own.
        let c = pgdbm::testing::server_config().unwrap();
        let url = format!("postgres://{}@{}:{}/{}", c.user, c.host, c.port, c.database);
        child.env("PGDBM_TEST_URL", url);
    }
    let child = child.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the child's 50 tests pass");
    let left = schemas_of(pid, "t_iso_%");
    assert_eq!(left, Vec::<String>::new(), "passing tests leave no schema");
}

#[pgdbm::test(migrations = "migrations/python", fixtures("fixtures/two_users.sql"))]
async fn fixtures_run_after_the_migrations(db: Database, ctx: TestContext) {
    assert_eq!(db.schema(), ctx.schema());
    assert!(
        ctx.name().ends_with("fixtures_run_after_the_migrations"),
        "{}",
        ctx.name()
    );
    let n: i64 = db
        .fetch_value("SELECT count(*) FROM {{tables.users}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // The tracking rows are there too: the schema is up to date for the set.
    let set = pgdbm::Migrator::from_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/",
        "migrations/python"
    ))
    .unwrap();
    assert!(set.status(&db).await.unwrap().is_up_to_date());
    let _ = SET;
}

#[pgdbm::test]
async fn without_migrations_the_schema_is_empty(db: Database) -> pgdbm::Result<()> {
    let n: i64 = db
        .fetch_value(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&db.schema().unwrap()],
        )
        .await?;
    assert_eq!(n, 0);
    Ok(())
}

// What `#[pgdbm::test]` expands to, called here rather than registered: as
// tests of their own they would fail the run.
fn spec(name: &'static str) -> pgdbm::testing::TestSpec {
    pgdbm::testing::TestSpec {
        name,
        // A set of their own, so that they never run in a schema another
        // test gave back (whose name is that test's).
        set: "pgdbm-tests:kept",
        migrator: Some(|| pgdbm::embed_migrations!("migrations/python")),
        fixtures: &[],
        isolation: pgdbm::testing::Isolation::Schema,
    }
}

fn kept_when_failing() {
    pgdbm::testing::run_test(spec("pgdbm_test::kept_when_failing"), |db, _| async move {
        db.execute(
            "INSERT INTO {{tables.users}} (email) VALUES ('kept@example.com')",
            &[],
        )
        .await
        .unwrap();
        let failing = true;
        assert!(!failing, "this test fails on purpose");
    })
}

fn kept_when_returning_an_error() {
    pgdbm::testing::run_test(
        spec("pgdbm_test::kept_when_returning_an_error"),
        |_, _| async { Err::<(), _>("on purpose") },
    )
}

/// A failing test keeps its schema, with its rows, for inspection; the
/// failure itself is passed on.
#[test]
fn a_failing_test_keeps_its_schema() {
    for (test, pattern) in [
        (kept_when_failing as fn(), "t_kept_when_failing_%"),
        (
            kept_when_returning_an_error,
            "t_kept_when_returning_an_error_%",
        ),
    ] {
        let result = std::panic::catch_unwind(test);
        assert!(result.is_err(), "the failure reaches the test harness");
        let kept = leftover_schemas(pattern);
        assert_eq!(kept.len(), 1, "{kept:?}");
        if pattern.starts_with("t_kept_when_failing") {
            let rows = pgdbm_tests::on_server(async |db| {
                let n: i64 = db
                    .fetch_value(&format!("SELECT count(*) FROM \"{}\".users", kept[0]), &[])
                    .await
                    .unwrap();
                n
            });
            assert_eq!(rows, 1, "the failing test's rows are there to inspect");
        }
        drop_schemas(&kept);
    }
}

/// Schemas of this process's tests matching `pattern`.
fn leftover_schemas(pattern: &str) -> Vec<String> {
    schemas_of(std::process::id(), pattern)
}

/// Schemas of process `pid`'s tests matching `pattern` (names hold the pid).
fn schemas_of(pid: u32, pattern: &str) -> Vec<String> {
    let pid = format!("%\\_{pid}\\_%");
    pgdbm_tests::on_server(async |db| {
        db.fetch_all(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 AND nspname LIKE $2",
            &[&pattern, &pid],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    })
}

fn drop_schemas(names: &[String]) {
    pgdbm_tests::on_server(async |db| {
        for name in names {
            db.execute(&format!("DROP SCHEMA \"{name}\" CASCADE"), &[])
                .await
                .unwrap();
        }
    })
}
