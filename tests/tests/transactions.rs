//! Transactions, savepoints, timeouts and cancel safety against a real server.

use std::time::{Duration, Instant};

use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, IsolationLevel, SharedPool, TransactionOptions};

async fn with_table(test: &TestDatabase) {
    test.execute(
        "CREATE TABLE {{tables.items}} (id int PRIMARY KEY, note text)",
        &[],
    )
    .await
    .unwrap();
}

async fn count(db: &Database) -> i64 {
    db.fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
        .await
        .unwrap()
}

/// Connections of this database other than the asking one that are inside a
/// transaction or running a statement.
async fn busy_backends(observer: &Database) -> i64 {
    observer
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')",
            &[],
        )
        .await
        .unwrap()
}

/// Polls until no other backend is busy, for at most `limit`.
async fn wait_idle(observer: &Database, limit: Duration) -> i64 {
    let start = Instant::now();
    loop {
        let busy = busy_backends(observer).await;
        if busy == 0 || start.elapsed() > limit {
            return busy;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a statement on `client` runs outside any transaction block:
/// `now()` (transaction start) equals `statement_timestamp()` only for a
/// statement that began its own transaction. The simple protocol is needed;
/// with the extended one the two timestamps differ even outside a block.
async fn runs_outside_a_transaction(client: &pgdbm::tokio_postgres::Client) -> bool {
    let messages = client
        .simple_query("SELECT now() = statement_timestamp()")
        .await
        .unwrap();
    messages.iter().any(|m| match m {
        pgdbm::tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0) == Some("t"),
        _ => false,
    })
}

/// A second pool on the same database, to look from outside.
async fn observer(test: &TestDatabase) -> Database {
    let config = test.config().clone().with_pool_size(1, 1);
    SharedPool::connect(config)
        .await
        .unwrap()
        .database(test.schema())
        .unwrap()
}

#[tokio::test]
async fn commit_persists_and_rollback_discards() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;

    let tx = test.transaction().await.unwrap();
    tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
        .await
        .unwrap();
    assert_eq!(tx.depth(), 1);
    tx.commit().await.unwrap();
    assert_eq!(count(&test).await, 1);

    let tx = test.transaction().await.unwrap();
    tx.execute("INSERT INTO {{tables.items}} VALUES (2, 'b')", &[])
        .await
        .unwrap();
    let inside: i64 = tx
        .fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(inside, 2);
    tx.rollback().await.unwrap();
    assert_eq!(count(&test).await, 1);
}

#[tokio::test]
async fn drop_without_commit_rolls_back_seen_from_another_connection() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 2))
        .await
        .unwrap();
    with_table(&test).await;
    let outside = observer(&test).await;
    {
        let tx = test.transaction().await.unwrap();
        tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
            .await
            .unwrap();
    }
    assert_eq!(count(&outside).await, 0);
    assert_eq!(wait_idle(&outside, Duration::from_secs(2)).await, 0);

    // On an acquired connection the rollback is sent at drop time too: the
    // row lock is released while the connection is still held.
    let mut conn = test.acquire().await.unwrap();
    {
        let tx = conn.transaction().await.unwrap();
        tx.execute("INSERT INTO {{tables.items}} VALUES (5, 'x')", &[])
            .await
            .unwrap();
    }
    assert_eq!(wait_idle(&outside, Duration::from_secs(2)).await, 0);
    outside
        .execute("INSERT INTO {{tables.items}} VALUES (5, 'y')", &[])
        .await
        .unwrap();
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn closure_commits_on_ok_and_rolls_back_on_err() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;

    let id: i32 = test
        .transaction_with(async |tx| {
            tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
                .await?;
            Ok::<_, Error>(1)
        })
        .await
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(count(&test).await, 1);

    #[derive(Debug)]
    enum AppError {
        Db(Error),
        Refused(&'static str),
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Db(e)
        }
    }
    let result: Result<(), AppError> = test
        .transaction_with(async |tx| {
            tx.execute("INSERT INTO {{tables.items}} VALUES (2, 'b')", &[])
                .await?;
            Err(AppError::Refused("no"))
        })
        .await;
    assert!(matches!(result, Err(AppError::Refused("no"))));
    assert_eq!(count(&test).await, 1);

    let result: Result<(), AppError> = test
        .transaction_with(async |tx| {
            tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'dup')", &[])
                .await?;
            Ok(())
        })
        .await;
    assert!(matches!(
        result,
        Err(AppError::Db(Error::UniqueViolation(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closure_rolls_back_on_panic() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;
    let db = test.db().clone();
    let task = tokio::spawn(async move {
        db.transaction_with(async |tx| {
            tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
                .await?;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        })
        .await
    });
    assert!(task.await.unwrap_err().is_panic());
    let outside = observer(&test).await;
    assert_eq!(wait_idle(&outside, Duration::from_secs(2)).await, 0);
    assert_eq!(count(&test).await, 0);
}

#[tokio::test]
async fn three_level_savepoints_with_the_middle_rolled_back() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;
    let mut outer = test.transaction().await.unwrap();
    outer
        .execute("INSERT INTO {{tables.items}} VALUES (1, 'outer')", &[])
        .await
        .unwrap();
    {
        let mut middle = outer.transaction().await.unwrap();
        assert_eq!(middle.depth(), 2);
        middle
            .execute("INSERT INTO {{tables.items}} VALUES (2, 'middle')", &[])
            .await
            .unwrap();
        let inner = middle.transaction().await.unwrap();
        assert_eq!(inner.depth(), 3);
        inner
            .execute("INSERT INTO {{tables.items}} VALUES (3, 'inner')", &[])
            .await
            .unwrap();
        inner.commit().await.unwrap();
        let seen: i64 = middle
            .fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
            .await
            .unwrap();
        assert_eq!(seen, 3);
        middle.rollback().await.unwrap();
    }
    {
        // A dropped savepoint rolls back too and leaves the outer usable.
        let dropped = outer.transaction().await.unwrap();
        dropped
            .execute("INSERT INTO {{tables.items}} VALUES (4, 'dropped')", &[])
            .await
            .unwrap();
    }
    outer
        .execute(
            "INSERT INTO {{tables.items}} VALUES (5, 'outer again')",
            &[],
        )
        .await
        .unwrap();
    outer.commit().await.unwrap();
    let ids: Vec<i32> = test
        .fetch_all("SELECT id FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1, 5]);
}

#[tokio::test]
async fn unique_violation_in_a_savepoint_then_outer_commits() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;
    let mut tx = test.transaction().await.unwrap();
    tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
        .await
        .unwrap();
    let result: Result<u64, Error> = tx
        .transaction_with(async |sp| {
            sp.execute("INSERT INTO {{tables.items}} VALUES (1, 'again')", &[])
                .await
        })
        .await;
    match result {
        Err(Error::UniqueViolation(e)) => {
            assert_eq!(e.constraint(), Some("items_pkey"));
            assert!(e.sql().unwrap().contains("INSERT INTO \"items\""));
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    tx.execute("INSERT INTO {{tables.items}} VALUES (2, 'b')", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&test).await, 2);
}

#[tokio::test]
async fn isolation_options_reach_the_server() {
    let test = TestDatabase::new().await.unwrap();
    let opts = TransactionOptions::new()
        .isolation(IsolationLevel::Serializable)
        .read_only(true)
        .deferrable(true);
    let tx = test.transaction_opts(opts).await.unwrap();
    let level: String = tx
        .fetch_value("SELECT current_setting('transaction_isolation')", &[])
        .await
        .unwrap();
    let read_only: String = tx
        .fetch_value("SELECT current_setting('transaction_read_only')", &[])
        .await
        .unwrap();
    assert_eq!(level, "serializable");
    assert_eq!(read_only, "on");
    let refused = tx.execute("CREATE TABLE nope (id int)", &[]).await;
    assert_eq!(refused.unwrap_err().sqlstate(), Some("25006"));
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_helper_reruns_serialization_failures() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(2, 4))
        .await
        .unwrap();
    test.execute(
        "CREATE TABLE {{tables.counter}} (id int PRIMARY KEY, n int)",
        &[],
    )
    .await
    .unwrap();
    test.execute("INSERT INTO {{tables.counter}} VALUES (1, 0)", &[])
        .await
        .unwrap();
    let opts = TransactionOptions::new().isolation(IsolationLevel::Serializable);
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let db = test.db().clone();
        let attempts = attempts.clone();
        tasks.push(tokio::spawn(async move {
            db.transaction_retry(opts, 50, async |tx| {
                attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let n: i32 = tx
                    .fetch_value("SELECT n FROM {{tables.counter}} WHERE id = 1", &[])
                    .await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.execute(
                    "UPDATE {{tables.counter}} SET n = $1 WHERE id = 1",
                    &[&(n + 1)],
                )
                .await
            })
            .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let n: i32 = test
        .fetch_value("SELECT n FROM {{tables.counter}} WHERE id = 1", &[])
        .await
        .unwrap();
    // Every increment landed exactly once, and some had to be retried.
    assert_eq!(n, 4);
    assert!(attempts.load(std::sync::atomic::Ordering::Relaxed) > 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_task_mid_query_leaves_every_connection_idle() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 3))
        .await
        .unwrap();
    with_table(&test).await;
    let outside = observer(&test).await;
    let db = test.db().clone();
    let task = tokio::spawn(async move {
        let tx = db.transaction().await.unwrap();
        tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
            .await
            .unwrap();
        tx.execute("SELECT pg_sleep(30)", &[]).await.unwrap();
        tx.commit().await.unwrap();
    });
    // Let the sleep start on the server.
    let start = Instant::now();
    while busy_backends(&outside).await == 0 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    assert_eq!(wait_idle(&outside, Duration::from_secs(3)).await, 0);
    assert_eq!(count(&outside).await, 0);
    // Every pooled connection is idle and outside a transaction (the
    // shared ones are the pool's too, but never hold a transaction).
    let shared = test.pool_stats().await.unwrap().shared_connections;
    let mut held = Vec::new();
    for _ in 0..3 - shared {
        let conn = test.acquire().await.unwrap();
        assert!(
            runs_outside_a_transaction(conn.client()).await,
            "a pooled connection was inside a transaction"
        );
        held.push(conn);
    }
}

#[tokio::test]
async fn client_timeout_cancels_the_statement_on_the_server() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 2))
        .await
        .unwrap();
    let outside = observer(&test).await;
    let quick = test.with_timeout(Some(Duration::from_millis(100)));
    let start = Instant::now();
    let err = quick.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    match &err {
        Error::Timeout(t) => {
            assert_eq!(t.after, Duration::from_millis(100));
            assert_eq!(err.sql(), Some("SELECT pg_sleep(10)"));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(wait_idle(&outside, Duration::from_millis(500)).await, 0);

    // Inside a transaction the timeout cancels too, and the transaction can
    // be rolled back and the connection reused.
    let tx = quick.transaction().await.unwrap();
    let err = tx.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)));
    tx.rollback().await.unwrap();
    assert_eq!(wait_idle(&outside, Duration::from_millis(500)).await, 0);
    let one: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn pool_of_one_is_reusable_after_a_dropped_transaction_future() {
    let test = TestDatabase::with_config(|c| {
        c.with_pool_size(1, 1)
            .with_acquire_timeout(Some(Duration::from_secs(2)))
    })
    .await
    .unwrap();
    with_table(&test).await;
    let dropped = tokio::time::timeout(Duration::from_millis(100), async {
        let tx = test.transaction().await.unwrap();
        tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'a')", &[])
            .await
            .unwrap();
        tx.execute("SELECT pg_sleep(10)", &[]).await.unwrap();
        tx.commit().await.unwrap();
    })
    .await;
    assert!(dropped.is_err());
    let start = Instant::now();
    {
        let conn = test.acquire().await.unwrap();
        assert!(runs_outside_a_transaction(conn.client()).await);
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(count(&test).await, 0);

    // A future dropped mid-query on an acquired connection: the next call on
    // that same connection cancels the leftover and works.
    let conn = test.acquire().await.unwrap();
    let _ = tokio::time::timeout(
        Duration::from_millis(50),
        conn.execute("SELECT pg_sleep(10)", &[]),
    )
    .await;
    let start = Instant::now();
    let two: i32 = conn.fetch_value("SELECT 2", &[]).await.unwrap();
    assert_eq!(two, 2);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn execute_many_inside_a_transaction_follows_it() {
    let test = TestDatabase::new().await.unwrap();
    with_table(&test).await;
    let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 2]> = vec![[&1i32, &"a"], [&2i32, &"b"]];
    let tx = test.transaction().await.unwrap();
    let n = tx
        .execute_many("INSERT INTO {{tables.items}} VALUES ($1, $2)", &rows)
        .await
        .unwrap();
    assert_eq!(n, 2);
    tx.rollback().await.unwrap();
    assert_eq!(count(&test).await, 0);
}
