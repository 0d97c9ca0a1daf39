//! Foundation tests of pgdbm against a real PostgreSQL server: pool modes,
//! closing, schemas and templates, the query API, error classification,
//! cancel safety, the statement cache and pool statistics.
//!
//! Every test opens its own throwaway database through `TestDatabase`.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{Conn, Database, DatabaseConfig, Error, PoolStatus, Row, SharedPool, ToSql};

/// A schema name that would inject SQL if it were ever pasted unquoted.
const HOSTILE: &str = "Mixed Case\"; DROP TABLE x; --";

/// `name` as PostgreSQL quotes an identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The error of a call that must fail.
#[track_caller]
fn expect_err<T: Debug>(result: pgdbm::Result<T>) -> Error {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(e) => e,
    }
}

async fn schema_exists(db: &Database, schema: &str) -> bool {
    db.fetch_value(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[&schema],
    )
    .await
    .unwrap()
}

/// Whether `public.x` (the injection sentinel) exists.
async fn sentinel_exists(db: &Database) -> bool {
    db.fetch_value("SELECT to_regclass('public.x') IS NOT NULL", &[])
        .await
        .unwrap()
}

/// A manager on its own small pool, to watch `test` from a connection that is
/// none of the test's.
async fn monitor(test: &TestDatabase) -> Database {
    let pool = SharedPool::connect(test.config().clone().with_pool_size(1, 1))
        .await
        .unwrap();
    pool.database(None).unwrap()
}

/// Statements still running on this test database (other than on the
/// connection asking).
async fn active_queries(db: &Database) -> i64 {
    db.fetch_value(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state = 'active' AND backend_type = 'client backend'",
        &[],
    )
    .await
    .unwrap()
}

/// Polls for up to two seconds until no other statement is active.
async fn wait_until_idle(db: &Database) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let n = active_queries(db).await;
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn current_schemas(conn: &Conn) -> Vec<String> {
    conn.fetch_value("SELECT current_schemas(false)::text[]", &[])
        .await
        .unwrap()
}

// 1. Both pool modes.

#[tokio::test]
async fn own_pool_creates_schema_and_sets_search_path() {
    let test = TestDatabase::with_config(|c| c.with_schema("own"))
        .await
        .unwrap();
    assert!(test.owns_pool());
    assert_eq!(test.schema(), Some("own"));
    assert!(
        schema_exists(&test, "own").await,
        "connect creates the schema"
    );

    test.execute(
        "CREATE TABLE {{tables.items}} (id int PRIMARY KEY, name text)",
        &[],
    )
    .await
    .unwrap();
    test.execute(
        "INSERT INTO {{tables.items}} VALUES (1, 'one'), (2, 'two')",
        &[],
    )
    .await
    .unwrap();
    assert!(test.table_exists("own.items").await.unwrap());
    assert!(!test.table_exists("public.items").await.unwrap());

    let conn = test.acquire().await.unwrap();
    let path: String = conn.fetch_value("SHOW search_path", &[]).await.unwrap();
    assert!(
        path.contains("own") && path.contains("public"),
        "search_path = {path}"
    );
    assert_eq!(current_schemas(&conn).await, ["own", "public"]);
    // Raw SQL without templates finds the table through search_path.
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM items", &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // And a table created unqualified lands in the manager's schema.
    conn.execute("CREATE TABLE unqualified (id int)", &[])
        .await
        .unwrap();
    drop(conn);
    assert!(test.table_exists("own.unqualified").await.unwrap());
}

#[tokio::test]
async fn shared_pool_managers_borrow_the_pool() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let a = Database::from_pool(&pool, Some("a")).unwrap();
    let b = pool.database(Some("b")).unwrap();
    assert!(!a.owns_pool() && !b.owns_pool());
    assert_eq!((a.schema(), b.schema()), (Some("a"), Some("b")));
    // Borrowed managers do not create their schema.
    assert!(!schema_exists(&a, "a").await);
    a.create_schema().await.unwrap();
    b.create_schema().await.unwrap();
    assert!(schema_exists(&a, "a").await && schema_exists(&b, "b").await);

    a.execute("CREATE TABLE {{tables.t}} (v text)", &[])
        .await
        .unwrap();
    a.execute("INSERT INTO {{tables.t}} VALUES ('from a')", &[])
        .await
        .unwrap();
    let v: String = b
        .fetch_value("SELECT v FROM \"a\".\"t\"", &[])
        .await
        .unwrap();
    assert_eq!(v, "from a", "both managers reach the same database");

    // The shared pool leaves search_path alone: no schema of a manager in it.
    let conn = a.acquire().await.unwrap();
    let schemas = current_schemas(&conn).await;
    assert!(!schemas.iter().any(|s| s == "a" || s == "b"), "{schemas:?}");
    drop(conn);
    pool.close().await;
}

// 2. close().

#[tokio::test]
async fn close_is_idempotent_and_later_calls_fail() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("SELECT 1", &[]).await.unwrap();
    test.close().await;
    test.close().await;
    assert!(test.pool().is_closed());
    assert!(matches!(
        expect_err(test.execute("SELECT 1", &[]).await),
        Error::PoolClosed
    ));
    assert!(matches!(
        expect_err(test.fetch_value::<i32>("SELECT 1", &[]).await),
        Error::PoolClosed
    ));
    assert!(matches!(
        expect_err(test.acquire().await),
        Error::PoolClosed
    ));
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.status, PoolStatus::Closed);
    assert_eq!(stats.server_pid, None);
    assert_eq!(stats.server_version, None);
}

#[tokio::test]
async fn close_on_a_borrowed_manager_does_nothing() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let a = pool.database(Some("a")).unwrap();
    a.close().await;
    a.close().await;
    assert!(!pool.is_closed());
    let b = pool.database(None).unwrap();
    let n: i32 = b.fetch_value("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(n, 42);
    let n: i32 = a.fetch_value("SELECT 7", &[]).await.unwrap();
    assert_eq!(n, 7);

    // Managers derived from the owner borrow too.
    test.with_schema("other").unwrap().close().await;
    test.with_timeout(Some(Duration::from_secs(5)))
        .close()
        .await;
    assert!(!test.pool().is_closed());
    test.execute("SELECT 1", &[]).await.unwrap();

    // The owner of the shared pool closes it for every manager.
    pool.close().await;
    assert!(matches!(
        expect_err(b.execute("SELECT 1", &[]).await),
        Error::PoolClosed
    ));
    let stats = b.pool_stats().await.unwrap();
    assert_eq!(stats.status, PoolStatus::Closed);
    assert_eq!(stats.server_pid, None);
}

// 3. Two schemas, same table name.

#[tokio::test]
async fn shared_pool_serves_two_schemas_with_the_same_table() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let a = pool.database(Some("tenant_a")).unwrap();
    let b = pool.database(Some("tenant_b")).unwrap();
    for (db, rows) in [(&a, vec!["a1", "a2"]), (&b, vec!["b1"])] {
        db.create_schema().await.unwrap();
        db.execute(
            "CREATE TABLE {{tables.items}} (id serial PRIMARY KEY, name text)",
            &[],
        )
        .await
        .unwrap();
        for name in rows {
            db.execute("INSERT INTO {{tables.items}} (name) VALUES ($1)", &[&name])
                .await
                .unwrap();
        }
    }
    let names = |rows: Vec<Row>| -> Vec<String> { rows.iter().map(|r| r.get("name")).collect() };
    let q = "SELECT name FROM {{tables.items}} ORDER BY id";
    assert_eq!(names(a.fetch_all(q, &[]).await.unwrap()), ["a1", "a2"]);
    assert_eq!(names(b.fetch_all(q, &[]).await.unwrap()), ["b1"]);

    let b2 = a.with_schema("tenant_b").unwrap();
    assert_eq!(b2.schema(), Some("tenant_b"));
    assert!(!b2.owns_pool());
    assert_eq!(names(b2.fetch_all(q, &[]).await.unwrap()), ["b1"]);
    assert_eq!(
        b2.render(q).unwrap(),
        "SELECT name FROM \"tenant_b\".\"items\" ORDER BY id"
    );
    pool.close().await;
}

// 4. A hostile schema name.

#[tokio::test]
async fn hostile_schema_as_own_pool() {
    let test = TestDatabase::with_config(|c| c.with_schema(HOSTILE))
        .await
        .unwrap();
    assert!(schema_exists(&test, HOSTILE).await);
    test.execute("CREATE TABLE public.x (id int)", &[])
        .await
        .unwrap();

    // Connect again after dropping the schema: connect creates it anew.
    test.execute("DROP SCHEMA {{schema}} CASCADE", &[])
        .await
        .unwrap();
    assert!(!schema_exists(&test, HOSTILE).await);
    let db = Database::connect(test.config().clone()).await.unwrap();
    assert!(schema_exists(&db, HOSTILE).await);
    assert!(sentinel_exists(&db).await);

    assert_eq!(
        db.render("SELECT * FROM {{tables.t}}").unwrap(),
        format!("SELECT * FROM {}.\"t\"", quote(HOSTILE))
    );
    db.execute("CREATE TABLE {{tables.t}} (id int, v text)", &[])
        .await
        .unwrap();
    db.execute("INSERT INTO {{tables.t}} VALUES (1, 'one')", &[])
        .await
        .unwrap();
    let v: String = db
        .fetch_value("SELECT v FROM {{tables.t}} WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(v, "one");
    db.execute(
        "CREATE TABLE {{tables.ids}} (id bigserial PRIMARY KEY, v text)",
        &[],
    )
    .await
    .unwrap();
    let id: i64 = db
        .execute_returning_id("INSERT INTO {{tables.ids}} (v) VALUES ('a')", &[])
        .await
        .unwrap();
    assert_eq!(id, 1);
    assert!(db.table_exists("t").await.unwrap());
    assert!(
        db.table_exists(&format!("{}.t", quote(HOSTILE)))
            .await
            .unwrap()
    );

    // The startup search_path survives the name.
    let conn = db.acquire().await.unwrap();
    assert_eq!(current_schemas(&conn).await, [HOSTILE, "public"]);
    let path: String = conn.fetch_value("SHOW search_path", &[]).await.unwrap();
    assert!(path.contains("Mixed Case"), "search_path = {path}");
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    conn.execute("CREATE TABLE plain (id int)", &[])
        .await
        .unwrap();
    conn.execute("INSERT INTO plain VALUES (5)", &[])
        .await
        .unwrap();
    drop(conn);
    assert!(db.table_exists("plain").await.unwrap());
    let n: i32 = db
        .fetch_value("SELECT id FROM {{tables.plain}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 5);

    assert!(sentinel_exists(&db).await);
    db.close().await;
}

#[tokio::test]
async fn hostile_schema_on_a_shared_pool() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE public.x (id int)", &[])
        .await
        .unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let db = pool.database(Some(HOSTILE)).unwrap();
    db.create_schema().await.unwrap();
    db.create_schema().await.unwrap();
    assert!(schema_exists(&db, HOSTILE).await);
    db.execute("CREATE TABLE {{tables.x}} (v text)", &[])
        .await
        .unwrap();
    db.execute("INSERT INTO {{tables.x}} VALUES ('inside')", &[])
        .await
        .unwrap();
    let v: String = db
        .fetch_value("SELECT v FROM {{tables.x}}", &[])
        .await
        .unwrap();
    assert_eq!(v, "inside");
    assert!(db.table_exists("x").await.unwrap());
    let public_rows: i64 = db
        .fetch_value("SELECT count(*) FROM public.x", &[])
        .await
        .unwrap();
    assert_eq!(public_rows, 0, "the sentinel is untouched");
    assert!(sentinel_exists(&db).await);

    // A schema whose name holds the word RETURNING between doubled quotes:
    // after expansion it is part of one quoted identifier.
    let tricky = pool.database(Some("x\" RETURNING \"y")).unwrap();
    tricky.create_schema().await.unwrap();
    tricky
        .execute(
            "CREATE TABLE {{tables.items}} (id bigserial PRIMARY KEY, v text)",
            &[],
        )
        .await
        .unwrap();
    for expected in 1..=2i64 {
        let id: i64 = tricky
            .execute_returning_id("INSERT INTO {{tables.items}} (v) VALUES ('v')", &[])
            .await
            .unwrap();
        assert_eq!(id, expected);
    }
    pool.close().await;
}

#[tokio::test]
async fn schema_names_with_braces_are_plain_identifiers() {
    // Valid identifiers (not empty, at most 63 bytes, no NUL) that happen to
    // contain template braces. Templates quote them like any other name;
    // creating the schema must work as well.
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let mut failures = Vec::new();
    for schema in ["tenant{{", "a{{b}}", "{{schema}}"] {
        let db = pool.database(Some(schema)).unwrap();
        assert_eq!(
            db.render("SELECT * FROM {{tables.t}}").unwrap(),
            format!("SELECT * FROM {}.\"t\"", quote(schema))
        );
        match db.create_schema().await {
            Ok(()) if schema_exists(&db, schema).await => {}
            Ok(()) => failures.push(format!("create_schema() for {schema:?} created nothing")),
            Err(e) => failures.push(format!("create_schema() for {schema:?}: {e:?}")),
        }
    }
    pool.close().await;

    // And as an own pool, where connect creates the schema.
    if let Err(e) = Database::connect(test.config().clone().with_schema("own{{")).await {
        failures.push(format!("Database::connect with schema \"own{{{{\": {e:?}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// 5. execute.

#[tokio::test]
async fn execute_returns_rows_affected_and_blank_queries_do_nothing() {
    let test = TestDatabase::new().await.unwrap();
    assert_eq!(
        test.execute("CREATE TABLE t (id int, v int)", &[])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        test.execute(
            "INSERT INTO t SELECT g, g % 2 FROM generate_series(1, 7) g",
            &[]
        )
        .await
        .unwrap(),
        7
    );
    assert_eq!(
        test.execute("UPDATE t SET v = 9 WHERE v = $1", &[&1i32])
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        test.execute("DELETE FROM t WHERE id > 5", &[])
            .await
            .unwrap(),
        2
    );

    assert_eq!(test.execute("", &[]).await.unwrap(), 0);
    assert_eq!(test.execute("   \n\t", &[]).await.unwrap(), 0);
    assert_eq!(test.execute("-- nothing here", &[]).await.unwrap(), 0);
    assert_eq!(
        test.execute("/* a comment */ ; -- and another", &[])
            .await
            .unwrap(),
        0
    );
    assert!(test.fetch_all("", &[]).await.unwrap().is_empty());
    assert!(test.fetch_all("-- x", &[]).await.unwrap().is_empty());
    assert!(test.fetch_one("", &[]).await.unwrap().is_none());
}

// 6. execute_returning_id.

#[tokio::test]
async fn execute_returning_id_appends_returning_only_when_needed() {
    let test = TestDatabase::with_config(|c| c.with_schema("ids"))
        .await
        .unwrap();
    test.execute(
        "CREATE TABLE {{tables.items}} (id bigserial PRIMARY KEY, name text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let id_of = |name: &'static str| {
        let db = test.db().clone();
        async move {
            db.fetch_value::<i64>("SELECT id FROM {{tables.items}} WHERE name = $1", &[&name])
                .await
                .unwrap()
        }
    };

    let cases: [(&str, &str); 12] = [
        (
            "plain",
            "INSERT INTO {{tables.items}} (name) VALUES ('plain')",
        ),
        (
            "own returning",
            "INSERT INTO {{tables.items}} (name) VALUES ('own returning') RETURNING id",
        ),
        (
            "x returning y",
            "INSERT INTO {{tables.items}} (name) VALUES ('x returning y')",
        ),
        (
            "block comment",
            "INSERT INTO {{tables.items}} (name) /* returning */ VALUES ('block comment')",
        ),
        (
            "line comment",
            "INSERT INTO {{tables.items}} (name)\n-- returning\nVALUES ('line comment')",
        ),
        (
            "trailing comment",
            "INSERT INTO {{tables.items}} (name) VALUES ('trailing comment')\n-- returning\n",
        ),
        (
            "semicolon",
            "INSERT INTO {{tables.items}} (name) VALUES ('semicolon');",
        ),
        (
            "end comment",
            "INSERT INTO {{tables.items}} (name) VALUES ('end comment') -- returning",
        ),
        (
            "dollar returning",
            "INSERT INTO {{tables.items}} (name) VALUES ($$dollar returning$$)",
        ),
        (
            "it's returning",
            "INSERT INTO {{tables.items}} (name) VALUES (E'it\\'s returning')",
        ),
        (
            "from cte",
            "WITH src AS (SELECT 'from cte' AS name) INSERT INTO {{tables.items}} (name) SELECT name FROM src",
        ),
        (
            "quoted column",
            "INSERT INTO {{tables.items}} (\"name\") VALUES ('quoted column') ;  ",
        ),
    ];
    let mut seen = Vec::new();
    for (name, sql) in cases {
        let id: i64 = test
            .execute_returning_id(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql:?}: {e}"));
        assert_eq!(id, id_of(name).await, "{sql:?}");
        seen.push(id);
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), cases.len(), "ids {seen:?}");

    // With parameters, and a RETURNING of a different column count.
    let id: i64 = test
        .execute_returning_id(
            "INSERT INTO {{tables.items}} (name) VALUES ($1)",
            &[&"param"],
        )
        .await
        .unwrap();
    assert_eq!(id, id_of("param").await);

    // A table named `returning`.
    test.execute(
        "CREATE TABLE {{tables.returning}} (id bigserial PRIMARY KEY, v text)",
        &[],
    )
    .await
    .unwrap();
    let first: i64 = test
        .execute_returning_id("INSERT INTO {{tables.returning}} (v) VALUES ('a')", &[])
        .await
        .unwrap();
    let second: i64 = test
        .execute_returning_id("INSERT INTO {{tables.returning}} (v) VALUES ('b')", &[])
        .await
        .unwrap();
    let expected: Vec<i64> = test
        .fetch_all("SELECT id FROM {{tables.returning}} ORDER BY v", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(vec![first, second], expected);
}

// 7. fetch_value / fetch_value_at.

#[tokio::test]
async fn fetch_value_by_index_name_and_its_errors() {
    let test = TestDatabase::new().await.unwrap();
    let q = "SELECT 1::int4 AS a, 'two'::text AS b, NULL::int4 AS c";
    assert_eq!(test.fetch_value::<i32>(q, &[]).await.unwrap(), 1);
    assert_eq!(
        test.fetch_value_at::<String>(q, &[], 1).await.unwrap(),
        "two"
    );
    assert_eq!(
        test.fetch_value_at::<String>(q, &[], "b").await.unwrap(),
        "two"
    );
    assert_eq!(
        test.fetch_value_at::<String>(q, &[], "b".to_owned())
            .await
            .unwrap(),
        "two"
    );
    assert_eq!(
        test.fetch_value_at::<Option<i32>>(q, &[], "c")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        test.fetch_value::<i64>("SELECT $1::int8 * 2", &[&21i64])
            .await
            .unwrap(),
        42
    );

    // No row.
    let none = "SELECT 1::int4 WHERE false";
    assert_eq!(
        test.fetch_value::<Option<i32>>(none, &[]).await.unwrap(),
        None
    );
    match expect_err(test.fetch_value::<i32>(none, &[]).await) {
        Error::NotFound(sql) => assert_eq!(&*sql, none),
        other => panic!("expected NotFound, got {other:?}"),
    }

    // Out of range and unknown columns.
    match expect_err(test.fetch_value_at::<i32>(q, &[], 5).await) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "#5");
            assert_eq!(e.expected, "i32");
            assert!(e.found.contains("no such column"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    match expect_err(test.fetch_value_at::<i32>(q, &[], "nope").await) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "nope");
            assert_eq!(e.expected, "i32");
            assert!(e.found.contains("no such column"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }

    // Wrong type.
    match expect_err(test.fetch_value_at::<i32>(q, &[], "b").await) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "b");
            assert_eq!(e.expected, "i32");
            assert!(e.found.contains("text"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }

    // NULL into a non-Option.
    match expect_err(test.fetch_value_at::<i32>(q, &[], 2).await) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "c");
            assert!(e.found.contains("NULL"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
}

// 8. fetch_one, fetch_all, Row.

#[tokio::test]
async fn fetch_one_fetch_all_and_rows() {
    let test = TestDatabase::new().await.unwrap();
    let q = "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 3) g ORDER BY g";
    let first = test.fetch_one(q, &[]).await.unwrap().expect("a row");
    assert_eq!(first.get::<i32>("n"), 1, "the first of several rows");
    assert_eq!(first.get::<String>(1), "row 1");
    assert_eq!(first.column_names().collect::<Vec<_>>(), ["n", "label"]);
    assert_eq!(first.len(), 2);
    assert!(!first.is_empty());
    assert!(
        test.fetch_one("SELECT 1 WHERE false", &[])
            .await
            .unwrap()
            .is_none()
    );

    let rows = test.fetch_all(q, &[]).await.unwrap();
    assert_eq!(rows.len(), 3);
    let labels: Vec<String> = rows.iter().map(|r| r.get("label")).collect();
    assert_eq!(labels, ["row 1", "row 2", "row 3"]);
    let ns: Vec<i32> = rows.iter().map(|r| r.try_get(0).unwrap()).collect();
    assert_eq!(ns, [1, 2, 3]);
    assert!(
        test.fetch_all("SELECT 1 WHERE false", &[])
            .await
            .unwrap()
            .is_empty()
    );

    let row = &rows[2];
    assert_eq!(row.try_get::<String>("label").unwrap(), "row 3");
    assert_eq!(row.try_get::<Option<i32>>("n").unwrap(), Some(3));
    match expect_err(row.try_get::<i32>("missing")) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "missing");
            assert!(e.found.contains("no such column"));
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    match expect_err(row.try_get::<i32>(9)) {
        Error::RowMapping(e) => assert_eq!(e.column, "#9"),
        other => panic!("expected RowMapping, got {other:?}"),
    }
    match expect_err(row.try_get::<i64>("label")) {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "label");
            assert_eq!(e.expected, "i64");
            assert!(e.found.contains("text"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| row.get::<i32>("nope")));
    assert!(panic.is_err(), "Row::get panics on a missing column");
}

// 9. execute_many.

#[tokio::test]
async fn execute_many_is_pipelined_and_all_or_nothing() {
    let test = TestDatabase::new().await.unwrap();
    test.execute(
        "CREATE TABLE t (id int PRIMARY KEY, label text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let data: Vec<(i32, String)> = (0..10_000).map(|i| (i, format!("label {i}"))).collect();
    let rows: Vec<[&(dyn ToSql + Sync); 2]> = data.iter().map(|(i, l)| [i as _, l as _]).collect();
    let started = Instant::now();
    let n = test
        .execute_many("INSERT INTO t (id, label) VALUES ($1, $2)", &rows)
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(n, 10_000);
    let count = |db: &Database| {
        let db = db.clone();
        async move {
            db.fetch_value::<i64>("SELECT count(*) FROM t", &[])
                .await
                .unwrap()
        }
    };
    assert_eq!(count(&test).await, 10_000);
    let sum: i64 = test
        .fetch_value("SELECT sum(id)::int8 FROM t", &[])
        .await
        .unwrap();
    assert_eq!(sum, (0..10_000i64).sum::<i64>());
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // Row 5000 repeats an id of the batch: nothing is inserted.
    let ids: Vec<i32> = (20_000..30_000)
        .map(|i| if i == 25_000 { 20_000 } else { i })
        .collect();
    let rows: Vec<[&(dyn ToSql + Sync); 2]> = ids.iter().map(|i| [i as _, &"dup" as _]).collect();
    let e = expect_err(
        test.execute_many("INSERT INTO t (id, label) VALUES ($1, $2)", &rows)
            .await,
    );
    assert!(matches!(e, Error::UniqueViolation(_)), "{e:?}");
    assert_eq!(e.constraint(), Some("t_pkey"));
    assert_eq!(count(&test).await, 10_000, "the failed batch left no row");

    // On an acquired connection, both outcomes, and the connection stays usable.
    let conn = test.acquire().await.unwrap();
    let e = expect_err(
        conn.execute_many("INSERT INTO t (id, label) VALUES ($1, $2)", &rows)
            .await,
    );
    assert!(matches!(e, Error::UniqueViolation(_)), "{e:?}");
    let more: Vec<i32> = (50_000..51_000).collect();
    let rows: Vec<[&(dyn ToSql + Sync); 1]> = more.iter().map(|i| [i as _]).collect();
    assert_eq!(
        conn.execute_many("INSERT INTO t (id, label) VALUES ($1, 'conn')", &rows)
            .await
            .unwrap(),
        1_000
    );
    // No transaction left open: SAVEPOINT needs one, and another
    // connection already sees the rows.
    let e = expect_err(conn.execute("SAVEPOINT s", &[]).await);
    assert_eq!(e.sqlstate(), Some("25P01"), "{e:?}");
    assert_eq!(count(&test).await, 11_000);
    drop(conn);
    // A row with the wrong number of parameters: a typed error, nothing applied.
    let good = 60_000i32;
    let one: [&(dyn ToSql + Sync); 1] = [&good];
    let none: [&(dyn ToSql + Sync); 0] = [];
    let bad_rows: Vec<&[&(dyn ToSql + Sync)]> = vec![&one, &none, &one];
    let e = expect_err(
        test.execute_many("INSERT INTO t (id, label) VALUES ($1, 'bad')", &bad_rows)
            .await,
    );
    assert!(matches!(e, Error::Parameter(_)), "{e:?}");
    assert_eq!(count(&test).await, 11_000);
    let empty: Vec<[&(dyn ToSql + Sync); 1]> = Vec::new();
    assert_eq!(
        test.execute_many("INSERT INTO t (id, label) VALUES ($1, 'none')", &empty)
            .await
            .unwrap(),
        0
    );
}

// 10. fetch_stream.

/// A result whose rows come slowly, each wider than the server's send buffer
/// so that it is flushed as soon as it is produced.
const SLOW_ROWS: &str = "SELECT g, repeat('x', 10000) FROM generate_series(1, 1000) g \
                         WHERE pg_sleep(0.01) IS NOT NULL";

#[tokio::test]
async fn fetch_stream_counts_a_large_result() {
    let test = TestDatabase::new().await.unwrap();
    let stream = test
        .fetch_stream("SELECT g FROM generate_series(1, 100000) g", &[])
        .await
        .unwrap();
    let (count, sum) = stream
        .try_fold((0u64, 0i64), |(n, s), row| async move {
            Ok((n + 1, s + i64::from(row.get::<i32>(0))))
        })
        .await
        .unwrap();
    assert_eq!(count, 100_000);
    assert_eq!(sum, 100_000 * 100_001 / 2);
}

#[tokio::test]
async fn dropped_stream_leaves_its_connection_clean() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1))
        .await
        .unwrap();
    let conn = test.acquire().await.unwrap();
    {
        // Rows wider than the server's send buffer arrive one by one, 10 ms
        // apart: the rest of the statement would run for about 10 s more.
        let mut rows = conn.fetch_stream(SLOW_ROWS, &[]).await.unwrap();
        for expected in 1..=10 {
            let row = rows.try_next().await.unwrap().expect("a row");
            assert_eq!(row.get::<i32>(0), expected);
        }
    }
    let started = Instant::now();
    let n: i32 = conn.fetch_value("SELECT 42", &[]).await.unwrap();
    assert_eq!(n, 42);
    let rows: Vec<i32> = conn
        .fetch_all("SELECT g FROM generate_series(1, 3) g", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, [1, 2, 3]);
    let again: Vec<Row> = conn
        .fetch_stream("SELECT g FROM generate_series(1, 5) g", &[])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(again.len(), 5);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the abandoned statement was waited for, not cancelled: {:?}",
        started.elapsed()
    );
    let watch = monitor(&test).await;
    assert_eq!(wait_until_idle(&watch).await, 0);
    drop(conn);

    // The same from the manager (pool of one): the connection goes back clean.
    {
        let mut rows = test.fetch_stream(SLOW_ROWS, &[]).await.unwrap();
        for _ in 0..10 {
            rows.try_next().await.unwrap().expect("a row");
        }
    }
    let started = Instant::now();
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM generate_series(1, 7)", &[])
        .await
        .unwrap();
    assert_eq!(n, 7);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(wait_until_idle(&watch).await, 0);
    watch.pool().close().await;
    // A blank streamed query yields nothing.
    let none: Vec<Row> = test
        .fetch_stream("", &[])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}

// 11. table_exists.

#[tokio::test]
async fn table_exists_resolves_names() {
    let test = TestDatabase::with_config(|c| c.with_schema("app"))
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE {{tables.t}} (id int)",
        "CREATE VIEW {{tables.v}} AS SELECT 1 AS one",
        "CREATE TABLE public.pt (id int)",
        "CREATE SCHEMA other",
        "CREATE TABLE other.ot (id int)",
        "CREATE SCHEMA \"Mixed\"",
        "CREATE TABLE \"Mixed\".\"T\" (id int)",
    ] {
        test.execute(sql, &[]).await.unwrap();
    }
    assert!(test.table_exists("t").await.unwrap());
    assert!(test.table_exists("T").await.unwrap(), "unquoted folds");
    assert!(test.table_exists("v").await.unwrap(), "a view counts");
    assert!(
        !test.table_exists("pt").await.unwrap(),
        "not in this schema"
    );
    assert!(test.table_exists("public.pt").await.unwrap());
    assert!(test.table_exists("app.t").await.unwrap());
    assert!(test.table_exists("other.ot").await.unwrap());
    assert!(test.table_exists("\"Mixed\".\"T\"").await.unwrap());
    assert!(
        !test.table_exists("Mixed.T").await.unwrap(),
        "folds to mixed.t"
    );
    assert!(!test.table_exists("\"Mixed\".\"t\"").await.unwrap());
    assert!(!test.table_exists("missing").await.unwrap());
    assert!(!test.table_exists("nope.t").await.unwrap());
    assert!(test.table_exists("pg_catalog.pg_class").await.unwrap());

    let public = test.pool().database(None).unwrap();
    assert!(
        public.table_exists("pt").await.unwrap(),
        "no schema: public"
    );
    assert!(!public.table_exists("t").await.unwrap());

    let e = expect_err(test.table_exists("a.b.c").await);
    assert!(matches!(e, Error::InvalidIdentifier(_)), "{e:?}");
}

// 12. Templates.

#[tokio::test]
async fn templates_render_and_errors_send_nothing() {
    let test = TestDatabase::with_config(|c| c.with_schema("tpl"))
        .await
        .unwrap();
    assert_eq!(
        test.render("SELECT * FROM {{tables.users}}").unwrap(),
        "SELECT * FROM \"tpl\".\"users\""
    );
    assert_eq!(test.render("{{schema}}").unwrap(), "\"tpl\"");
    assert_eq!(
        test.render("SELECT 1").unwrap(),
        "SELECT 1",
        "no placeholder"
    );
    let plain = test.pool().database(None).unwrap();
    assert_eq!(
        plain.render("SELECT * FROM {{tables.users}}").unwrap(),
        "SELECT * FROM \"users\""
    );
    assert_eq!(plain.render("x{{schema}}y").unwrap(), "xy");

    let template_error = |e: Error| match e {
        Error::Template(t) => (t.position, t.message),
        other => panic!("expected a template error, got {other:?}"),
    };

    let unknown = "CREATE TABLE {{tables.t1}} (v text DEFAULT '{{oops}}')";
    let (pos, msg) = template_error(expect_err(test.execute(unknown, &[]).await));
    assert_eq!(pos, unknown.find("{{oops").unwrap(), "{msg}");

    let unclosed = "CREATE TABLE {{tables.t2}} (id int) -- {{tables.t3";
    let (pos, msg) = template_error(expect_err(test.execute(unclosed, &[]).await));
    assert_eq!(pos, unclosed.rfind("{{").unwrap(), "{msg}");

    let unclosed_first = "CREATE TABLE {{tables.t4 (id int)";
    let (pos, _) = template_error(expect_err(test.execute(unclosed_first, &[]).await));
    assert_eq!(pos, 13);

    let long = "a".repeat(64);
    let too_long = format!("CREATE TABLE {{{{tables.{long}}}}} (id int)");
    let (pos, msg) = template_error(expect_err(test.execute(&too_long, &[]).await));
    assert_eq!(pos, 13, "{msg}");

    let bad_ident = "CREATE TABLE {{tables.1abc}} (id int)";
    let (pos, _) = template_error(expect_err(test.execute(bad_ident, &[]).await));
    assert_eq!(pos, 13);

    // The same errors through every entry point.
    assert!(matches!(
        expect_err(test.fetch_all(unknown, &[]).await),
        Error::Template(_)
    ));
    assert!(matches!(
        expect_err(test.render(unclosed)),
        Error::Template(_)
    ));
    assert!(matches!(
        expect_err(test.execute_returning_id::<i64>(unknown, &[]).await),
        Error::Template(_)
    ));

    // Nothing reached the server.
    for name in ["t1", "t2", "t3", "t4", "1abc"] {
        assert!(
            !test
                .table_exists(&format!("tpl.{}", quote(name)))
                .await
                .unwrap(),
            "{name}"
        );
    }
    let tables: i64 = test
        .fetch_value(
            "SELECT count(*) FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tpl'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tables, 0);

    // A 63-byte name is fine.
    let max = "b".repeat(63);
    test.execute(&format!("CREATE TABLE {{{{tables.{max}}}}} (id int)"), &[])
        .await
        .unwrap();
    assert!(test.table_exists(&max).await.unwrap());
}

// 13. SQLSTATE classification.

#[tokio::test]
async fn constraint_and_statement_errors_are_classified() {
    let test = TestDatabase::with_config(|c| c.with_schema("errs"))
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE {{tables.parent}} (id int PRIMARY KEY, \
         email text NOT NULL CONSTRAINT parent_email_key UNIQUE, \
         n int CONSTRAINT n_positive CHECK (n > 0))",
        "CREATE TABLE {{tables.child}} (id int PRIMARY KEY, \
         parent_id int CONSTRAINT child_parent_fk REFERENCES {{tables.parent}} (id))",
        "INSERT INTO {{tables.parent}} VALUES (1, 'a@x', 1)",
    ] {
        test.execute(sql, &[]).await.unwrap();
    }

    let dup = "INSERT INTO {{tables.parent}} VALUES ($1, $2, 1)";
    let e = expect_err(test.execute(dup, &[&2i32, &"a@x"]).await);
    assert!(matches!(e, Error::UniqueViolation(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("23505"));
    assert_eq!(e.constraint(), Some("parent_email_key"));
    assert_eq!(
        e.sql(),
        Some("INSERT INTO \"errs\".\"parent\" VALUES ($1, $2, 1)")
    );
    let server = e.database_error().unwrap();
    assert_eq!(server.table(), Some("parent"));
    assert_eq!(server.schema(), Some("errs"));
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("parent_email_key"), "{e}");

    let e = expect_err(
        test.execute("INSERT INTO {{tables.child}} VALUES (1, 99)", &[])
            .await,
    );
    assert!(matches!(e, Error::ForeignKeyViolation(_)), "{e:?}");
    assert_eq!(e.constraint(), Some("child_parent_fk"));
    assert_eq!(e.sqlstate(), Some("23503"));

    let e = expect_err(
        test.execute("INSERT INTO {{tables.parent}} VALUES (3, NULL, 1)", &[])
            .await,
    );
    assert!(matches!(e, Error::NotNullViolation(_)), "{e:?}");
    assert_eq!(e.database_error().unwrap().column(), Some("email"));

    let e = expect_err(
        test.execute("INSERT INTO {{tables.parent}} VALUES (4, 'b@x', -1)", &[])
            .await,
    );
    assert!(matches!(e, Error::CheckViolation(_)), "{e:?}");
    assert_eq!(e.constraint(), Some("n_positive"));

    let e = expect_err(
        test.fetch_all("SELECT * FROM {{tables.missing}}", &[])
            .await,
    );
    assert!(matches!(e, Error::UndefinedTable(_)), "{e:?}");
    assert_eq!(e.sql(), Some("SELECT * FROM \"errs\".\"missing\""));

    let e = expect_err(
        test.fetch_all("SELECT nope FROM {{tables.parent}}", &[])
            .await,
    );
    assert!(matches!(e, Error::UndefinedColumn(_)), "{e:?}");

    let e = expect_err(test.execute("SELEC 1", &[]).await);
    assert!(matches!(e, Error::Syntax(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("42601"));
    assert_eq!(e.sql(), Some("SELEC 1"));

    let e = expect_err(test.execute("SELECT 1/0", &[]).await);
    assert!(matches!(e, Error::Database(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("22012"));

    // Nothing above left its mark.
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM {{tables.parent}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn query_canceled_and_lock_timeout() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE t (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    test.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();

    let conn = test.acquire().await.unwrap();
    conn.execute("SET statement_timeout = '50ms'", &[])
        .await
        .unwrap();
    let e = expect_err(conn.execute("SELECT pg_sleep(1)", &[]).await);
    assert!(matches!(e, Error::QueryCanceled(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("57014"));
    conn.execute("RESET statement_timeout", &[]).await.unwrap();
    assert_eq!(conn.fetch_value::<i32>("SELECT 3", &[]).await.unwrap(), 3);

    let a = conn;
    let b = test.acquire().await.unwrap();
    a.execute("BEGIN", &[]).await.unwrap();
    a.execute("LOCK TABLE t", &[]).await.unwrap();
    b.execute("SET lock_timeout = '50ms'", &[]).await.unwrap();
    let started = Instant::now();
    let e = expect_err(b.fetch_all("SELECT * FROM t FOR UPDATE", &[]).await);
    assert!(matches!(e, Error::LockTimeout(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("55P03"));
    assert!(started.elapsed() < Duration::from_secs(3));
    b.execute("BEGIN", &[]).await.unwrap();
    let e = expect_err(b.execute("LOCK TABLE t", &[]).await);
    assert!(matches!(e, Error::LockTimeout(_)), "{e:?}");
    b.execute("ROLLBACK", &[]).await.unwrap();
    a.execute("ROLLBACK", &[]).await.unwrap();
    b.execute("RESET lock_timeout", &[]).await.unwrap();
    assert_eq!(
        b.fetch_all("SELECT * FROM t FOR UPDATE", &[])
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn serialization_failure_is_retryable() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL)", &[])
        .await
        .unwrap();
    test.execute("INSERT INTO acc VALUES (1, 100), (2, 100)", &[])
        .await
        .unwrap();
    let a = test.acquire().await.unwrap();
    let b = test.acquire().await.unwrap();
    for conn in [&a, &b] {
        conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE", &[])
            .await
            .unwrap();
        let sum: i64 = conn
            .fetch_value("SELECT sum(v) FROM acc", &[])
            .await
            .unwrap();
        assert_eq!(sum, 200);
    }
    // Each withdraws 150 believing the total allows it: write skew.
    let mut outcomes = Vec::new();
    outcomes.push(
        a.execute("UPDATE acc SET v = v - 150 WHERE id = 1", &[])
            .await,
    );
    outcomes.push(
        b.execute("UPDATE acc SET v = v - 150 WHERE id = 2", &[])
            .await,
    );
    let a_ok = outcomes[0].is_ok();
    let b_ok = outcomes[1].is_ok();
    if a_ok {
        outcomes.push(a.execute("COMMIT", &[]).await);
    }
    if b_ok {
        outcomes.push(b.execute("COMMIT", &[]).await);
    }
    for conn in [&a, &b] {
        // Ends a failed transaction; harmless (a warning) after a commit.
        conn.execute("ROLLBACK", &[]).await.unwrap();
    }
    let failures: Vec<&Error> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failures.len(), 1, "{outcomes:?}");
    let e = failures[0];
    assert!(matches!(e, Error::SerializationFailure(_)), "{e:?}");
    assert_eq!(e.sqlstate(), Some("40001"));
    assert!(e.is_retryable());
    let sum: i64 = test
        .fetch_value("SELECT sum(v) FROM acc", &[])
        .await
        .unwrap();
    assert_eq!(sum, 50, "exactly one withdrawal applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_is_detected_and_retryable() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE d (id int PRIMARY KEY, v int)", &[])
        .await
        .unwrap();
    test.execute("INSERT INTO d VALUES (1, 0), (2, 0)", &[])
        .await
        .unwrap();
    let a = test.acquire().await.unwrap();
    let b = test.acquire().await.unwrap();
    for conn in [&a, &b] {
        // Faster detection where allowed (superuser); the default 1 s works too.
        let _ = conn.execute("SET deadlock_timeout = '100ms'", &[]).await;
        conn.execute("BEGIN", &[]).await.unwrap();
    }
    a.execute("UPDATE d SET v = 1 WHERE id = 1", &[])
        .await
        .unwrap();
    b.execute("UPDATE d SET v = 2 WHERE id = 2", &[])
        .await
        .unwrap();
    let started = Instant::now();
    let (ra, rb) = tokio::join!(
        a.execute("UPDATE d SET v = 1 WHERE id = 2", &[]),
        b.execute("UPDATE d SET v = 2 WHERE id = 1", &[]),
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    let (winner, loser) = match (&ra, &rb) {
        (Ok(_), Err(e)) => (&a, e),
        (Err(e), Ok(_)) => (&b, e),
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(matches!(loser, Error::Deadlock(_)), "{loser:?}");
    assert_eq!(loser.sqlstate(), Some("40P01"));
    assert!(loser.is_retryable());
    winner.execute("COMMIT", &[]).await.unwrap();
    for conn in [&a, &b] {
        conn.execute("ROLLBACK", &[]).await.unwrap();
        let _ = conn.execute("RESET deadlock_timeout", &[]).await;
    }
    let vs: Vec<i32> = test
        .fetch_all("SELECT v FROM d ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(vs == [1, 1] || vs == [2, 2], "{vs:?}");
}

// 14. Pool exhaustion and parameter errors.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_times_out_then_recovers() {
    // Without multiplexing every Database call needs a pooled connection.
    let test = TestDatabase::with_config(|c| {
        c.with_multiplexing(false)
            .with_pool_size(1, 1)
            .with_acquire_timeout(Some(Duration::from_millis(200)))
    })
    .await
    .unwrap();
    let held = test.acquire().await.unwrap();
    let started = Instant::now();
    let e = expect_err(test.execute("SELECT 1", &[]).await);
    let waited = started.elapsed();
    match e {
        Error::PoolTimeout(after) => assert_eq!(after, Duration::from_millis(200)),
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    assert!(matches!(
        expect_err(test.acquire().await),
        Error::PoolTimeout(_)
    ));
    drop(held);
    assert_eq!(test.fetch_value::<i32>("SELECT 5", &[]).await.unwrap(), 5);
}

#[tokio::test]
async fn parameter_errors_are_typed() {
    let test = TestDatabase::new().await.unwrap();
    let e = expect_err(test.execute("SELECT $1::text", &[&1i32]).await);
    assert!(matches!(e, Error::Parameter(_)), "{e:?}");
    assert_eq!(e.sql(), Some("SELECT $1::text"));
    let e = expect_err(test.fetch_all("SELECT $1::int4, $2::int4", &[&1i32]).await);
    assert!(matches!(e, Error::Parameter(_)), "{e:?}");
    let e = expect_err(test.execute("SELECT 1", &[&1i32]).await);
    assert!(matches!(e, Error::Parameter(_)), "{e:?}");
    // The connection is fine afterwards.
    assert_eq!(
        test.fetch_value::<String>("SELECT $1::text", &[&"ok"])
            .await
            .unwrap(),
        "ok"
    );
}

// 15. Statement cache.

#[tokio::test]
async fn statement_cache_is_bounded() {
    let test = TestDatabase::with_config(|mut c| {
        c.statement_cache_size = 2;
        c.with_pool_size(1, 1)
    })
    .await
    .unwrap();
    let conn = test.acquire().await.unwrap();
    for i in 0..5i32 {
        let sql = format!("SELECT {i}::int4 + $1");
        let n: i32 = conn.fetch_value(&sql, &[&1i32]).await.unwrap();
        assert_eq!(n, i + 1);
        assert!(
            conn.cached_statements() <= 2,
            "{}",
            conn.cached_statements()
        );
    }
    assert!(conn.cached_statements() >= 1);
    let prepared: i64 = conn
        .fetch_value("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert!(
        prepared <= 3,
        "{prepared} statements prepared on the server"
    );
    assert!(conn.cached_statements() <= 2);
    // Evicted statements prepare again and still work.
    let n: i32 = conn
        .fetch_value("SELECT 0::int4 + $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn cached_statement_replans_after_ddl() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1))
        .await
        .unwrap();
    test.execute("CREATE TABLE t (id int)", &[]).await.unwrap();
    test.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    let conn = test.acquire().await.unwrap();
    let before = conn.fetch_all("SELECT * FROM t", &[]).await.unwrap();
    assert_eq!(before[0].column_names().collect::<Vec<_>>(), ["id"]);
    let cached = conn.cached_statements();
    conn.execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 7", &[])
        .await
        .unwrap();
    let after = conn.fetch_all("SELECT * FROM t", &[]).await.unwrap();
    assert_eq!(after[0].column_names().collect::<Vec<_>>(), ["id", "extra"]);
    assert_eq!(after[0].get::<i32>("extra"), 7);
    assert_eq!(conn.cached_statements(), cached + 1, "replaced, not added");
    drop(conn);

    // The same through the manager (pool of one: the same connection).
    test.execute("ALTER TABLE t ADD COLUMN more text DEFAULT 'm'", &[])
        .await
        .unwrap();
    let row = test
        .fetch_one("SELECT * FROM t", &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.len(), 3);
    assert_eq!(row.get::<String>("more"), "m");
}

// 16. Configuration errors.

#[tokio::test]
async fn invalid_configurations_are_refused_at_connect() {
    let test = TestDatabase::new().await.unwrap();
    let base = test.config().clone();

    let config = DatabaseConfig {
        max_connections: 0,
        ..base.clone()
    };
    match expect_err(Database::connect(config).await) {
        Error::Config(e) => assert_eq!(e.field, "max_connections"),
        other => panic!("expected Config, got {other:?}"),
    }

    let url = format!(
        "postgres://{}@{}:{}/{}?sslmode=require",
        base.user,
        base.host,
        base.port,
        test.name()
    );
    // require never falls back to plain text: against a server without
    // TLS (the throwaway cluster) it fails, against one with TLS (a
    // system server given by URL) every connection is encrypted.
    let config = DatabaseConfig::from_url(&url).unwrap();
    match Database::connect(config.clone()).await {
        Err(Error::Tls(e)) => {
            assert_eq!(e.failure(), pgdbm::TlsFailure::NotOffered, "{e}");
            assert!(e.message().contains("does not offer TLS"), "{e}");
            assert!(matches!(
                expect_err(SharedPool::connect(config).await),
                Error::Tls(_)
            ));
        }
        Ok(db) => {
            let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
            assert!(db.fetch_value::<bool>(sql, &[]).await.unwrap());
            assert!(
                db.acquire()
                    .await
                    .unwrap()
                    .fetch_value::<bool>(sql, &[])
                    .await
                    .unwrap()
            );
            db.close().await;
        }
        Err(other) => panic!("expected Tls, got {other:?}"),
    }

    for schema in [String::new(), "s".repeat(64)] {
        let e = expect_err(Database::connect(base.clone().with_schema(schema.clone())).await);
        assert!(
            matches!(e, Error::Config(_) | Error::InvalidIdentifier(_)),
            "{schema:?}: {e:?}"
        );
        let e = expect_err(test.pool().database(Some(&schema)));
        assert!(matches!(e, Error::InvalidIdentifier(_)), "{e:?}");
        let e = expect_err(test.with_schema(&schema));
        assert!(matches!(e, Error::InvalidIdentifier(_)), "{e:?}");
    }
    // A 63-byte schema is fine.
    let db = Database::connect(base.with_schema("s".repeat(63)))
        .await
        .unwrap();
    assert!(schema_exists(&db, &"s".repeat(63)).await);
    db.close().await;
}

// 17. Cancel safety.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_future_is_cancelled_on_the_server() {
    // Exclusive connections are cancelled; a multiplexed one never is (its
    // statement is bounded by statement_timeout), see tests/multiplex.rs.
    let test = TestDatabase::with_config(|c| c.with_multiplexing(false).with_pool_size(1, 1))
        .await
        .unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        test.execute("SELECT pg_sleep(5)", &[]),
    )
    .await;
    assert!(dropped.is_err(), "the sleep cannot finish in 50 ms");

    let started = Instant::now();
    let n: i32 = test.fetch_value("SELECT 11", &[]).await.unwrap();
    assert_eq!(n, 11);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "next call took {:?}",
        started.elapsed()
    );
    let watch = monitor(&test).await;
    assert_eq!(
        wait_until_idle(&watch).await,
        0,
        "the sleep is still running"
    );

    // Without a next call: the connection is cleaned as soon as it is dropped.
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        test.execute("SELECT pg_sleep(5)", &[]),
    )
    .await;
    assert!(dropped.is_err());
    assert_eq!(
        wait_until_idle(&watch).await,
        0,
        "the sleep is still running"
    );
    let started = Instant::now();
    assert_eq!(test.fetch_value::<i32>("SELECT 12", &[]).await.unwrap(), 12);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    watch.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_cancels_the_statement() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 2))
        .await
        .unwrap();
    let quick = test.with_timeout(Some(Duration::from_millis(100)));
    let started = Instant::now();
    let e = expect_err(quick.execute("SELECT pg_sleep(10)", &[]).await);
    let took = started.elapsed();
    match &e {
        Error::Timeout(t) => {
            assert_eq!(t.after, Duration::from_millis(100));
            assert_eq!(t.sql.as_deref(), Some("SELECT pg_sleep(10)"));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let watch = monitor(&test).await;
    assert_eq!(
        wait_until_idle(&watch).await,
        0,
        "the sleep is still running"
    );
    // The timed-out manager still answers quick queries.
    assert_eq!(quick.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);

    // The same on an acquired connection, which stays usable.
    let conn = quick.acquire().await.unwrap();
    let e = expect_err(conn.execute("SELECT pg_sleep(10)", &[]).await);
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert_eq!(conn.fetch_value::<i32>("SELECT 2", &[]).await.unwrap(), 2);
    assert_eq!(
        wait_until_idle(&watch).await,
        0,
        "the sleep is still running"
    );
    drop(conn);
    watch.pool().close().await;
}

// 18. pool_stats and params!.

#[tokio::test]
async fn pool_stats_describe_the_pool_and_server() {
    let test = TestDatabase::with_config(|c| c.with_schema("stats").with_pool_size(2, 5))
        .await
        .unwrap();
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.status, PoolStatus::Open);
    assert_eq!(stats.min_size, 2);
    assert_eq!(stats.max_size, 5);
    assert!(stats.size >= 2 && stats.size <= 5, "size {}", stats.size);
    assert_eq!(
        stats.free + stats.used + stats.shared_connections,
        stats.size
    );
    assert_eq!(stats.used, 0, "nothing checked out");
    assert_eq!(stats.waiting, 0);
    assert_eq!(stats.database, test.name());
    assert_eq!(stats.schema.as_deref(), Some("stats"));
    let pid = stats.server_pid.expect("a backend pid");
    assert!(pid > 0);
    let version = stats.server_version.clone().expect("a server version");
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
    let live: i64 = test
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND datname = current_database()",
            &[&pid],
        )
        .await
        .unwrap();
    assert_eq!(live, 1, "server_pid names a backend of this database");
    let server_version: String = test.fetch_value("SHOW server_version", &[]).await.unwrap();
    assert_eq!(version, server_version);

    let held = test.acquire().await.unwrap();
    let busy = test.pool_stats().await.unwrap();
    assert!(busy.used >= 1, "{busy:?}");
    assert_eq!(busy.free + busy.used + busy.shared_connections, busy.size);
    drop(held);

    let other = test.pool().database(Some("elsewhere")).unwrap();
    assert_eq!(
        other.pool_stats().await.unwrap().schema.as_deref(),
        Some("elsewhere")
    );
    assert_eq!(
        test.pool()
            .database(None)
            .unwrap()
            .pool_stats()
            .await
            .unwrap()
            .schema,
        None
    );
}

#[tokio::test]
async fn params_macro_mixes_types() {
    let test = TestDatabase::new().await.unwrap();
    let row = test
        .fetch_one(
            "SELECT $1::text AS s, $2::int8 AS n, $3::bool AS b, $4::float8 AS f, $5::int4 AS o",
            pgdbm::params!["Ann", 7i64, true, 1.5f64, None::<i32>],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String>("s"), "Ann");
    assert_eq!(row.get::<i64>("n"), 7);
    assert!(row.get::<bool>("b"));
    assert_eq!(row.get::<f64>("f"), 1.5);
    assert_eq!(row.get::<Option<i32>>("o"), None);

    test.execute("CREATE TABLE p (name text, age int4)", &[])
        .await
        .unwrap();
    let name = String::from("Bo");
    let n = test
        .execute(
            "INSERT INTO p VALUES ($1, $2)",
            pgdbm::params![name, 41i32,],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let age: i32 = test
        .fetch_value("SELECT age FROM p WHERE name = $1", pgdbm::params!["Bo"])
        .await
        .unwrap();
    assert_eq!(age, 41);
    assert_eq!(
        test.fetch_value::<i64>("SELECT 3::int8", pgdbm::params![])
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn execute_many_multi_row_rewrite_keeps_every_value_in_place() {
    let test = TestDatabase::new().await.unwrap();
    test.execute(
        "CREATE TABLE {{tables.pairs}} (a int PRIMARY KEY, b text NOT NULL, c bool)",
        &[],
    )
    .await
    .unwrap();
    // 250 rows: two full 100-row statements and one of 50.
    let data: Vec<(i32, String, Option<bool>)> = (0..250)
        .map(|i| (i, format!("v{i}"), (i % 3 != 0).then_some(i % 2 == 0)))
        .collect();
    let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 3]> = data
        .iter()
        .map(|(a, b, c)| [a as _, b as _, c as _])
        .collect();
    let n = test
        .execute_many(
            "INSERT INTO {{tables.pairs}} (a, b, c) VALUES ($1, $2, $3)",
            &rows,
        )
        .await
        .unwrap();
    assert_eq!(n, 250);
    let matching: i64 = test
        .fetch_value(
            "SELECT count(*) FROM {{tables.pairs}} WHERE b = 'v' || a
               AND c IS NOT DISTINCT FROM (CASE WHEN a % 3 = 0 THEN NULL ELSE a % 2 = 0 END)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(matching, 250);

    // A statement that cannot be rewritten is pipelined as it is.
    let updates: Vec<[&(dyn pgdbm::ToSql + Sync); 2]> =
        data.iter().map(|(a, b, _)| [b as _, a as _]).collect();
    let n = test
        .execute_many(
            "INSERT INTO {{tables.pairs}} (a, b) VALUES ($2, $1) ON CONFLICT (a) DO UPDATE SET b = excluded.b || '!'",
            &updates,
        )
        .await
        .unwrap();
    assert_eq!(n, 250);
    let bangs: i64 = test
        .fetch_value(
            "SELECT count(*) FROM {{tables.pairs}} WHERE b LIKE '%!'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(bangs, 250);
}
