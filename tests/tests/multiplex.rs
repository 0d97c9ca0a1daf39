//! Multiplexed statements: many tasks pipelined over a few shared
//! connections, against a real server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, SharedPool};

async fn mux_db(connections: usize) -> TestDatabase {
    TestDatabase::with_config(move |mut c| {
        c.multiplex_connections = connections;
        c.with_pool_size(1, 4)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_gets_exactly_its_own_row() {
    let test = mux_db(2).await;
    test.execute(
        "CREATE TABLE {{tables.kv}} (k int PRIMARY KEY, v text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    test.execute(
        "INSERT INTO {{tables.kv}} SELECT g, 'v' || g FROM generate_series(0, 9999) g",
        &[],
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for task in 0..64 {
        let db = test.db().clone();
        tasks.push(tokio::spawn(async move {
            let mut checked = 0;
            for k in (task..10_000).step_by(64) {
                let v: String = db
                    .fetch_value("SELECT v FROM {{tables.kv}} WHERE k = $1", &[&k])
                    .await
                    .unwrap();
                assert_eq!(v, format!("v{k}"));
                checked += 1;
            }
            checked
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 10_000);
    let stats = test.pool_stats().await.unwrap();
    assert!(
        stats.shared_connections >= 1 && stats.shared_connections <= 2,
        "{stats:?}"
    );
    assert_eq!(stats.shared_in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_callers_error_fails_that_call_only() {
    let test = mux_db(1).await;
    test.execute("CREATE TABLE {{tables.u}} (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    test.execute("INSERT INTO {{tables.u}} VALUES (500)", &[])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for id in 0..1000i32 {
        let db = test.db().clone();
        tasks.push(tokio::spawn(async move {
            (
                id,
                db.execute("INSERT INTO {{tables.u}} VALUES ($1)", &[&id])
                    .await,
            )
        }));
    }
    for task in tasks {
        let (id, result) = task.await.unwrap();
        if id == 500 {
            assert!(
                matches!(result, Err(Error::UniqueViolation(_))),
                "{result:?}"
            );
        } else {
            assert_eq!(result.unwrap(), 1, "row {id}");
        }
    }
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM {{tables.u}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 1000);
}

#[tokio::test]
async fn session_state_statements_are_refused_but_not_in_comments_or_literals() {
    let test = mux_db(1).await;
    for sql in [
        "SET work_mem = '64MB'",
        "set search_path = public",
        "RESET ALL",
        "DISCARD ALL",
        "LISTEN chan",
        "UNLISTEN *",
        "PREPARE p AS SELECT 1",
        "DEALLOCATE p",
        "BEGIN",
        "START TRANSACTION",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT s",
        "CREATE TEMP TABLE t (a int)",
        "CREATE TEMPORARY TABLE t (a int)",
        "-- leading comment\n  /* and another */ SET x = 1",
    ] {
        match test.execute(sql, &[]).await {
            Err(Error::SessionState(e)) => {
                assert!(!e.advice.is_empty());
                let text = Error::SessionState(e).to_string();
                assert!(
                    text.contains("acquire()")
                        || text.contains("transaction()")
                        || text.contains("server_settings"),
                    "{text}"
                );
            }
            other => panic!("{sql}: expected SessionState, got {other:?}"),
        }
        assert!(matches!(
            test.fetch_all(sql, &[]).await,
            Err(Error::SessionState(_))
        ));
    }
    // The same words in comments and literals are fine.
    let v: String = test
        .fetch_value("/* SET x = 1 */ SELECT 'BEGIN; SET x = 1'", &[])
        .await
        .unwrap();
    assert_eq!(v, "BEGIN; SET x = 1");
    test.execute("-- LISTEN chan\nSELECT 1", &[]).await.unwrap();
    test.execute("CREATE TABLE {{tables.t}} (a int)", &[])
        .await
        .unwrap();
    // Where session state belongs, it works.
    let conn = test.acquire().await.unwrap();
    conn.execute("SET work_mem = '64MB'", &[]).await.unwrap();
}

#[tokio::test]
async fn multiplexing_off_gives_the_plain_pool() {
    let test = TestDatabase::with_config(|c| c.with_multiplexing(false))
        .await
        .unwrap();
    // Session state is refused as with multiplexing on: the statement
    // would land on some pooled connection and stay there (DESIGN §14).
    let e = test
        .execute("SET work_mem = '64MB'", &[])
        .await
        .unwrap_err();
    assert!(matches!(e, pgdbm::Error::SessionState(_)), "{e:?}");
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.shared_connections, 0);
    let one: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_shared_connection_fails_its_calls_retryably_and_is_replaced() {
    let test = mux_db(1).await;
    test.execute(
        "CREATE TABLE {{tables.log}} (task int, seq int, PRIMARY KEY (task, seq))",
        &[],
    )
    .await
    .unwrap();
    let observer = SharedPool::connect(test.config().clone().with_multiplexing(false))
        .await
        .unwrap()
        .database(test.schema())
        .unwrap();
    let shared_pid: i32 = test
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..16i32 {
        let db = test.db().clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            let mut seq = 0i32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seq += 1;
                match db
                    .execute(
                        "INSERT INTO {{tables.log}} (task, seq) VALUES ($1, $2)",
                        &[&task, &seq],
                    )
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert!(e.is_retryable(), "not retryable: {e:?}");
                        failed += 1;
                    }
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A slow statement on the one shared connection: the inserts queue
    // behind it, so calls are surely in flight when the backend dies.
    let sleeper = {
        let db = test.db().clone();
        tokio::spawn(async move { db.execute("SELECT pg_sleep(5)", &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed: bool = observer
        .fetch_value("SELECT pg_terminate_backend($1)", &[&shared_pid])
        .await
        .unwrap();
    assert!(killed);
    let slept = sleeper.await.unwrap();
    assert!(
        matches!(&slept, Err(e) if e.is_retryable()),
        "the in-flight call must fail retryably: {slept:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed += f;
    }
    assert!(failed >= 1, "some in-flight calls must have failed");
    assert!(ok > 16, "calls after the kill must succeed ({ok} ok)");
    // No statement was applied twice, and every success is in the table.
    let rows: i64 = observer
        .fetch_value("SELECT count(*) FROM {{tables.log}}", &[])
        .await
        .unwrap();
    assert!(rows >= i64::from(ok), "{rows} rows for {ok} successes");
    assert!(rows <= i64::from(ok + failed));
    let new_pid: i32 = test
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_ne!(new_pid, shared_pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_callers_route_around_a_slow_one() {
    let test = mux_db(4).await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    let slow = {
        let db = test.db().clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                db.execute("SELECT pg_sleep(0.2)", &[]).await.unwrap();
            }
        })
    };
    let mut fast = Vec::new();
    for _ in 0..15 {
        let db = test.db().clone();
        fast.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let _: i32 = db.fetch_value("SELECT 1", &[]).await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in fast {
        all.extend(task.await.unwrap());
    }
    slow.await.unwrap();
    // The set grew past one connection to route around the slow caller.
    assert!(test.pool_stats().await.unwrap().shared_connections >= 2);
    all.sort();
    let p99 = all[all.len() * 99 / 100];
    assert!(all.len() > 1000, "only {} fast calls", all.len());
    assert!(
        p99 < Duration::from_millis(50),
        "p99 {p99:?} over {} calls",
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_shared_call_sends_no_cancel() {
    let test = mux_db(1).await;
    let observer = SharedPool::connect(test.config().clone().with_multiplexing(false))
        .await
        .unwrap()
        .database(None)
        .unwrap();
    let slow = {
        let db: Database = test.db().clone();
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_millis(100),
                db.execute("SELECT pg_sleep(0.4)", &[]),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Pipelined behind the slow statement on the only shared connection.
    let next = {
        let db: Database = test.db().clone();
        tokio::spawn(async move {
            db.fetch_value::<i32>("SELECT 42 FROM pg_sleep(0.05)", &[])
                .await
        })
    };
    assert!(
        slow.await.unwrap().is_err(),
        "the caller gave up after 100 ms"
    );
    // The abandoned statement was not cancelled: it still runs, and so
    // does the caller queued behind it.
    let running: i64 = observer
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(0.4)'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(running, 1);
    assert_eq!(next.await.unwrap().unwrap(), 42);
}

#[tokio::test]
async fn a_shared_call_past_command_timeout_is_a_timeout_error() {
    let test =
        TestDatabase::with_config(|c| c.with_command_timeout(Some(Duration::from_millis(150))))
            .await
            .unwrap();
    let started = Instant::now();
    let err = test.execute("SELECT pg_sleep(2)", &[]).await.unwrap_err();
    // The client deadline and the server's statement_timeout coincide on a
    // shared connection; either way the caller learns within the limit.
    assert!(
        matches!(err, Error::Timeout(_) | Error::QueryCanceled(_)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let one: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}
