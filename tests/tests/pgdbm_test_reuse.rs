//! `#[pgdbm::test]` reuses a passing test's schema, emptied, for the next
//! test of the same set: the tests here run one after another (each
//! `#[test]` calls the harness in sequence, on a set of its own so that no
//! other test takes its schemas) and tell a reused schema by its oid.
//! Function bodies name the schema (`post_count` in the set), so a reused
//! schema keeps its name.

use std::sync::Mutex;

use pgdbm::Database;
use pgdbm::testing::{Isolation, TestContext, TestSpec, run_test};

fn spec(name: &'static str, set: &'static str) -> TestSpec {
    TestSpec {
        name,
        set,
        migrator: Some(|| pgdbm::embed_migrations!("migrations/python")),
        fixtures: &[],
        isolation: Isolation::Schema,
    }
}

async fn schema_oid(db: &Database) -> u32 {
    db.fetch_value(
        "SELECT oid FROM pg_namespace WHERE nspname = $1",
        &[&db.schema().unwrap()],
    )
    .await
    .unwrap()
}

async fn count(db: &Database, table: &str) -> i64 {
    db.fetch_value(&format!("SELECT count(*) FROM {{{{tables.{table}}}}}"), &[])
        .await
        .unwrap()
}

/// Whether the schema named `name` exists.
fn exists(name: &str) -> bool {
    pgdbm_tests::on_server(async |db| {
        db.fetch_value(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&name],
        )
        .await
        .unwrap()
    })
}

#[test]
fn a_passing_tests_schema_is_emptied_and_reused() {
    const SET: &str = "pgdbm-tests:reuse";
    static FIRST: Mutex<Option<(u32, String)>> = Mutex::new(None);
    run_test(
        spec("reuse::first", SET),
        |db, ctx: TestContext| async move {
            let user: i32 = db
                .fetch_value(
                    "INSERT INTO {{tables.users}} (email) VALUES ('a@example.com') RETURNING id",
                    &[],
                )
                .await
                .unwrap();
            db.execute(
                "INSERT INTO {{tables.posts}} (user_id, body) VALUES ($1, 'hello')",
                &[&user],
            )
            .await
            .unwrap();
            let oid = schema_oid(&db).await;
            *FIRST.lock().unwrap() = Some((oid, ctx.schema().unwrap().to_owned()));
        },
    );
    let (first_oid, first_name) = FIRST.lock().unwrap().clone().unwrap();
    let first = first_name.clone();
    run_test(spec("reuse::second", SET), |db, ctx| async move {
        assert_eq!(schema_oid(&db).await, first_oid, "the first schema, reused");
        assert_eq!(ctx.schema().unwrap(), first, "under its name");
        assert_eq!(count(&db, "users").await, 0, "emptied");
        assert_eq!(count(&db, "posts").await, 0, "emptied");
        let id: i32 = db
            .fetch_value(
                "INSERT INTO {{tables.users}} (email) VALUES ('b@example.com') RETURNING id",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(id, 1, "sequences restart");
        // The tracking rows stay: the schema is up to date for the set.
        let set = pgdbm::embed_migrations!("migrations/python").unwrap();
        assert!(set.status(&db).await.unwrap().is_up_to_date());
        let n: i64 = db
            .fetch_value("SELECT {{schema}}.post_count()", &[])
            .await
            .unwrap();
        assert_eq!(n, 0, "functions still there");
    });

    // A test that changes the structure gives nothing back: its schema is
    // dropped, and the next test builds a fresh one.
    static CHANGED: Mutex<Option<(u32, String)>> = Mutex::new(None);
    run_test(spec("reuse::changes", SET), |db, ctx| async move {
        assert_eq!(schema_oid(&db).await, first_oid, "reused once more");
        db.execute("ALTER TABLE {{tables.users}} ADD COLUMN extra int", &[])
            .await
            .unwrap();
        *CHANGED.lock().unwrap() = Some((first_oid, ctx.schema().unwrap().to_owned()));
    });
    let (changed_oid, changed_name) = CHANGED.lock().unwrap().clone().unwrap();
    assert!(!exists(&changed_name), "a changed schema is dropped");
    run_test(spec("reuse::after_change", SET), |db, _| async move {
        assert_ne!(schema_oid(&db).await, changed_oid, "a fresh schema");
        let columns: i64 = db
            .fetch_value(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users'",
                &[&db.schema().unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(columns, 3, "the set's columns, not the changed ones");
    });
}

/// A set whose migrations insert rows is never reused: emptying its tables
/// would lose them.
#[test]
fn a_set_with_rows_of_its_own_is_not_reused() {
    static FIRST: Mutex<Option<u32>> = Mutex::new(None);
    let seeded = |name| TestSpec {
        name,
        set: "pgdbm-tests:seeded",
        migrator: Some(|| pgdbm::embed_migrations!("migrations/seeded")),
        fixtures: &[],
        isolation: Isolation::Schema,
    };
    run_test(seeded("seeded::first"), |db, _| async move {
        assert_eq!(count(&db, "colours").await, 2);
        db.execute("DELETE FROM {{tables.colours}}", &[])
            .await
            .unwrap();
        *FIRST.lock().unwrap() = Some(schema_oid(&db).await);
    });
    let first = FIRST.lock().unwrap().unwrap();
    run_test(seeded("seeded::second"), |db, _| async move {
        assert_ne!(schema_oid(&db).await, first, "a schema of its own");
        assert_eq!(count(&db, "colours").await, 2, "the migration's rows");
    });
}

/// Rows that reference each other in a cycle are emptied too (no DELETE
/// order can do it; the harness truncates them).
#[test]
fn rows_in_a_reference_cycle_are_emptied() {
    static FIRST: Mutex<Option<u32>> = Mutex::new(None);
    let cycle = |name| TestSpec {
        name,
        set: "pgdbm-tests:cycle",
        migrator: Some(|| pgdbm::embed_migrations!("migrations/cycle")),
        fixtures: &[],
        isolation: Isolation::Schema,
    };
    run_test(cycle("cycle::first"), |db, _| async move {
        for sql in [
            "INSERT INTO {{tables.a}} (id) VALUES (1)",
            "INSERT INTO {{tables.b}} (id, a_id) VALUES (1, 1)",
            "UPDATE {{tables.a}} SET b_id = 1",
        ] {
            db.execute(sql, &[]).await.unwrap();
        }
        *FIRST.lock().unwrap() = Some(schema_oid(&db).await);
    });
    let first = FIRST.lock().unwrap().unwrap();
    run_test(cycle("cycle::second"), |db, _| async move {
        assert_eq!(schema_oid(&db).await, first, "reused");
        assert_eq!(count(&db, "a").await, 0);
        assert_eq!(count(&db, "b").await, 0);
    });
}
