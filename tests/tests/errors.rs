//! Errors that say what to do, against a real server: refused credentials
//! and unknown databases are final and name where pgdbm connected;
//! unreachable servers are retried and say how often; blank SQL and empty
//! batches send nothing; parameters over PostgreSQL's limits fail alone,
//! before anything is sent, while other callers on the same multiplexed
//! connection carry on.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use pgdbm::testing::{TestDatabase, server_config};
use pgdbm::{Database, DatabaseConfig, Error, Table, ToSql};

/// The error of a call that must fail.
#[track_caller]
fn expect_err<T: Debug>(result: pgdbm::Result<T>) -> Error {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(e) => e,
    }
}

/// The server's configuration with retries slow enough that a retried
/// error would show in the time `connect` takes.
fn slow_retries() -> DatabaseConfig {
    let mut config = server_config().unwrap();
    config.retry_attempts = 3;
    config.retry_delay = Duration::from_secs(2);
    config
}

/// Connects with `config` (retries every 2 s) and returns the error, having
/// checked that it is final: not retryable, returned without a retry, and
/// naming where the connection went.
async fn final_connect_error(config: DatabaseConfig) -> Error {
    let started = Instant::now();
    let err = expect_err(Database::connect(config.clone()).await);
    let took = started.elapsed();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(
        took < Duration::from_secs(1),
        "took {took:?}: it was retried"
    );
    let message = err.to_string();
    let place = format!("{}:{}", config.host, config.port);
    let database = format!("(database \"{}\")", config.database);
    assert!(message.contains(&place), "{message} should name {place}");
    assert!(
        message.contains(&database),
        "{message} should name {database}"
    );
    err
}

// 1. Refused credentials and unknown databases.

#[tokio::test]
async fn a_role_that_does_not_exist_is_an_authentication_error_and_not_retried() {
    let err = final_connect_error(slow_retries().with_user("pgdbm_no_such_role")).await;
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
    // Under trust authentication the server refuses the role with 28000.
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
    assert!(err.to_string().contains("pgdbm_no_such_role"), "{err}");
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_its_own_error_and_not_retried() {
    let err = final_connect_error(slow_retries().with_database("pgdbm_no_such_database")).await;
    assert!(matches!(err, Error::UnknownDatabase(_)), "{err:?}");
    assert_eq!(err.sqlstate(), Some("3D000"), "{err}");
}

/// A server that asks every client for a cleartext password: enough of the
/// protocol for the driver to find it has none to give.
fn password_asking_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A plain thread: the test's runtime may be single-threaded, and the
    // server outlives the test harmlessly.
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            // The startup message: its length (itself included), then the rest.
            let mut len = [0; 4];
            if socket.read_exact(&mut len).is_err() {
                continue;
            }
            let mut startup = vec![0; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
            let _ = socket.read_exact(&mut startup);
            // AuthenticationCleartextPassword.
            let _ = socket.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
            let _ = socket.read(&mut [0; 64]);
        }
    });
    port
}

#[tokio::test]
async fn a_password_the_server_asks_for_and_the_config_lacks_is_not_retried() {
    let port = password_asking_server();
    let config = slow_retries()
        .with_host("127.0.0.1")
        .with_port(port)
        .with_ssl_mode(pgdbm::SslMode::Disable);
    let err = final_connect_error(config).await;
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
    assert!(err.to_string().contains("password"), "{err}");
}

// 2. An unreachable server.

#[tokio::test]
async fn a_refused_port_is_retried_and_the_error_says_where_and_how_often() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = server_config()
        .unwrap()
        .with_host("127.0.0.1")
        .with_port(port);
    config.retry_attempts = 2;
    config.retry_delay = Duration::from_millis(50);
    config.retry_backoff = 2.0;
    let started = Instant::now();
    let err = expect_err(Database::connect(config.clone()).await);
    let took = started.elapsed();
    let Error::Connect(e) = &err else {
        panic!("expected Error::Connect, got {err:?}");
    };
    assert_eq!(
        (e.host(), e.port(), e.database(), e.attempts()),
        ("127.0.0.1", port, config.database.as_str(), 3)
    );
    let message = err.to_string();
    let expected = format!(
        "could not connect to 127.0.0.1:{port} (database \"{}\") after 3 attempts: ",
        config.database
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("refused"), "{message}");
    assert!(err.is_retryable());
    // Two sleeps, 50 ms and 100 ms: it was retried.
    assert!(took >= Duration::from_millis(150), "took {took:?}");
}

// 3. Blank SQL sends nothing and reads as no rows.

#[tokio::test]
async fn blank_sql_is_no_rows() {
    let test = TestDatabase::new().await.unwrap();
    let blank = "  -- nothing";
    assert_eq!(
        test.fetch_value::<Option<i64>>(blank, &[]).await.unwrap(),
        None
    );
    let err = expect_err(test.fetch_value::<i64>(blank, &[]).await);
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(test.execute(blank, &[]).await.unwrap(), 0);
    assert!(test.fetch_all(blank, &[]).await.unwrap().is_empty());
    assert!(test.fetch_one(blank, &[]).await.unwrap().is_none());
    let none: [[&(dyn ToSql + Sync); 1]; 2] = [[&1i32], [&2i32]];
    assert_eq!(test.execute_many(blank, &none).await.unwrap(), 0);
}

// 4. An empty batch sends nothing.

/// A table that is never created: any statement sent for it fails.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "never_created")]
struct Ghost {
    #[pgdbm(primary_key, generated)]
    id: i64,
    label: String,
}

#[tokio::test]
async fn insert_many_of_nothing_is_zero_rows_and_sends_nothing() {
    let test = TestDatabase::new().await.unwrap();
    let none: &[Ghost] = &[];
    assert_eq!(test.insert_many(none).await.unwrap(), 0);
    let tx = test.transaction().await.unwrap();
    assert_eq!(tx.insert_many(none).await.unwrap(), 0);
    // Nothing failed in the transaction, so it still works.
    assert_eq!(tx.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    tx.rollback().await.unwrap();
    // The same call with a row does reach the server (and fails there).
    let one = [Ghost {
        id: 0,
        label: "boo".into(),
    }];
    let err = expect_err(test.insert_many(&one).await);
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
}

// 5. execute_many can run on a spawned task (a future that is not `Send`
// would not compile here).

#[tokio::test]
async fn execute_many_can_be_spawned() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE t (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    let db = test.db().clone();
    let inserted = tokio::spawn(async move {
        let ids: Vec<i32> = (0..50).collect();
        let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 1]> = ids.iter().map(|i| [i as _]).collect();
        db.execute_many("INSERT INTO t (id) VALUES ($1)", &rows)
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(inserted, 50);
    let count: i64 = test
        .fetch_value("SELECT count(*) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(count, 50);
}

// 6. Parameters over PostgreSQL's limits.

/// A manager whose statements all share one multiplexed connection.
async fn one_shared_connection() -> TestDatabase {
    TestDatabase::with_config(|mut c| {
        c.multiplex = true;
        c.multiplex_connections = 1;
        c
    })
    .await
    .unwrap()
}

/// An error's message cut to a readable length: these statements carry
/// 65,536 placeholders or a 1 GiB value.
fn short(err: &Error) -> String {
    err.to_string().chars().take(400).collect()
}

/// Runs `bad` among four other callers on the same shared connection, two
/// sent before it and two while it is being sent; returns `bad`'s error
/// after checking that every other caller got its answer and that the
/// connection still serves.
async fn fails_alone<F>(db: &Database, bad: F) -> Error
where
    F: std::future::Future<Output = pgdbm::Result<i64>>,
{
    let others = futures_util::future::join_all((0..4i64).map(|i| async move {
        tokio::time::sleep(Duration::from_millis(100 * i as u64)).await;
        db.fetch_value::<i64>("SELECT $1::int8 FROM pg_sleep(0.3)", &[&i])
            .await
    }));
    let (bad, others) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            bad.await
        },
        others
    );
    for (i, answer) in others.into_iter().enumerate() {
        match answer {
            Ok(n) => assert_eq!(n, i as i64),
            Err(e) => panic!("caller {i} failed: {}", short(&e)),
        }
    }
    assert_eq!(
        db.fetch_value::<i64>("SELECT 7::int8", &[]).await.unwrap(),
        7
    );
    match bad {
        Ok(n) => panic!("expected an error, got Ok({n})"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn more_than_65535_parameters_fail_before_anything_is_sent() {
    let test = one_shared_connection().await;
    let n = 65_536;
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}::int4")).collect();
    let sql = format!(
        "SELECT cardinality(ARRAY[{}])::int8",
        placeholders.join(", ")
    );
    let values = vec![1i32; n];
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();

    let err = fails_alone(&test, test.fetch_value::<i64>(&sql, &params)).await;
    let Error::Parameter(e) = &err else {
        panic!("expected Error::Parameter, got {}", short(&err));
    };
    let message = e.message();
    assert!(message.starts_with("65536 parameters"), "{message}");
    assert!(message.contains("65535"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_value_over_1_gib_fails_before_anything_is_sent() {
    let test = one_shared_connection().await;
    // PostgreSQL's limit for one value is 1 GiB - 1 byte; this is 2 over.
    let huge = "x".repeat((1 << 30) + 1);

    let err = fails_alone(
        &test,
        test.fetch_value::<i64>(
            "SELECT 0::int8 WHERE $1::int8 = 0 OR length($2) = 0",
            &[&0i64, &huge],
        ),
    )
    .await;
    drop(huge);
    let Error::Parameter(e) = &err else {
        panic!("expected Error::Parameter, got {}", short(&err));
    };
    assert_eq!(e.parameter(), Some(1), "{}", short(&err));
    let message = e.message();
    assert!(message.starts_with("parameter $2: "), "{message}");
    assert!(message.contains("1073741825 bytes"), "{message}");
    assert!(message.contains("1073741823"), "{message}");
    assert!(!err.is_retryable());
}
