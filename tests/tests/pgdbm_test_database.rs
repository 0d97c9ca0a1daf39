//! `#[pgdbm::test(isolation = "database")]`: a database per test, cloned
//! from a template migrated once and keyed by the set's checksums.

use std::sync::atomic::{AtomicU32, Ordering};

use pgdbm::testing::{Isolation, TestContext, TestSpec, run_test};
use pgdbm::{Database, Migrator};

#[pgdbm::test(
    migrations = "migrations/plain",
    isolation = "database",
    fixtures("fixtures/two_users.sql")
)]
async fn a_database_of_its_own(db: Database, ctx: TestContext) {
    assert_eq!(db.schema(), None);
    let current: String = db
        .fetch_value("SELECT current_database()::text", &[])
        .await
        .unwrap();
    assert_eq!(current, ctx.database());
    assert!(ctx.template().is_some_and(|t| t.starts_with("pgdbm_tpl_")));
    let n: i64 = db
        .fetch_value("SELECT count(*) FROM users", &[])
        .await
        .unwrap();
    assert_eq!(n, 2, "migrated template, then the fixture");
}

/// Which version of the changing set `changing` builds.
static VERSION: AtomicU32 = AtomicU32::new(1);

fn changing() -> pgdbm::Result<Migrator> {
    let v = VERSION.load(Ordering::SeqCst);
    Migrator::from_files([(
        "001_t.sql".to_owned(),
        format!("CREATE TABLE t (id int); COMMENT ON TABLE t IS 'version {v}';"),
    )])
}

/// Runs one test on the changing set; returns its template and database.
fn run_changing() -> (String, String) {
    let seen = std::sync::Mutex::new(None);
    run_test(
        TestSpec {
            name: "pgdbm_test_database::changing",
            set: "pgdbm-tests:changing",
            migrator: Some(changing),
            fixtures: &[],
            isolation: Isolation::Database,
        },
        |db, ctx| {
            let seen = &seen;
            async move {
                let comment: String = db
                    .fetch_value("SELECT obj_description('t'::regclass)", &[])
                    .await
                    .unwrap();
                assert_eq!(
                    comment,
                    format!("version {}", VERSION.load(Ordering::SeqCst))
                );
                *seen.lock().unwrap() = Some((
                    ctx.template().unwrap().to_owned(),
                    ctx.database().to_owned(),
                ));
            }
        },
    );
    seen.into_inner().unwrap().unwrap()
}

fn databases() -> Vec<String> {
    pgdbm_tests::on_server(async |db| {
        db.fetch_all("SELECT datname::text FROM pg_database", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    })
}

#[test]
fn a_changed_migration_makes_a_new_template_and_drops_the_old() {
    let (first, db1) = run_changing();
    let (again, db2) = run_changing();
    assert_eq!(first, again, "an unchanged set reuses its template");
    VERSION.store(2, Ordering::SeqCst);
    let (second, db3) = run_changing();
    assert_ne!(first, second, "a changed file makes a new template");
    let all = databases();
    assert!(all.contains(&second));
    assert!(!all.contains(&first), "the set's stale template is dropped");
    for clone in [db1, db2, db3] {
        assert!(!all.contains(&clone), "passing tests drop their database");
    }
}
