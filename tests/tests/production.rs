//! The production side of the configuration against a real server:
//! server-side timeouts and settings on both kinds of connection, init
//! commands, retries while a server comes up, no retries for a wrong
//! password, recycling, the pool healing itself, named prepared statements,
//! and `max_connections` as a bound on every server session.
//!
//! Each test runs on a database of its own (`TestDatabase`), so counting
//! its backends in `pg_stat_activity` sees only its own pool; a look from
//! outside goes through a separate manager on the maintenance database.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgdbm::testing::{TestCluster, TestDatabase, server_config};
use pgdbm::{Database, Error};

/// A manager on the maintenance database, for looks that must not go
/// through the pool under test.
async fn admin() -> Database {
    let config = server_config()
        .unwrap()
        .with_pool_size(1, 2)
        .with_multiplexing(false);
    Database::connect(config).await.unwrap()
}

/// Sessions of `database` in `pg_stat_activity`, seen from `admin`.
async fn backends(admin: &Database, database: &str) -> i64 {
    admin
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
            &[&database],
        )
        .await
        .unwrap()
}

/// Polls `check` until it holds or `limit` passes; whether it held.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Server settings, timeouts and init commands

async fn settings_of(
    show: impl AsyncFn(&str) -> String,
) -> (String, String, String, String, String) {
    (
        show("SHOW statement_timeout").await,
        show("SHOW lock_timeout").await,
        show("SHOW idle_in_transaction_session_timeout").await,
        show("SHOW work_mem").await,
        show("SELECT current_setting('pgdbm_test.marker')").await,
    )
}

#[tokio::test]
async fn timeouts_settings_and_init_commands_reach_both_kinds_of_connection() {
    let test = TestDatabase::with_config(|c| {
        let mut c = c
            .with_pool_size(1, 4)
            .with_server_setting("work_mem", "8MB")
            .with_init_command("SET pgdbm_test.marker = 'init ran'");
        c.statement_timeout = Some(Duration::from_secs(45));
        c.lock_timeout = Some(Duration::from_secs(3));
        c.idle_in_transaction_session_timeout = Some(Duration::from_secs(20));
        c
    })
    .await
    .unwrap();
    let expected = (
        "45s".to_owned(),
        "3s".to_owned(),
        "20s".to_owned(),
        "8MB".to_owned(),
        "init ran".to_owned(),
    );

    // Straight on the manager: a multiplexed, shared connection.
    let shared = settings_of(async |sql| test.fetch_value(sql, &[]).await.unwrap()).await;
    assert!(
        test.pool_stats().await.unwrap().shared_connections > 0,
        "the statements did not run on a shared connection"
    );
    assert_eq!(shared, expected, "shared connection");

    let conn = test.acquire().await.unwrap();
    let exclusive = settings_of(async |sql| conn.fetch_value(sql, &[]).await.unwrap()).await;
    assert_eq!(exclusive, expected, "exclusive connection");
}

#[tokio::test]
async fn a_timeout_set_to_none_is_disabled_on_the_server() {
    let test = TestDatabase::with_config(|c| {
        let mut c = c.with_pool_size(1, 4);
        // A role's own setting must not come back in through `None`.
        c.statement_timeout = None;
        c.lock_timeout = None;
        c.idle_in_transaction_session_timeout = None;
        c.command_timeout = None;
        c
    })
    .await
    .unwrap();
    let shared: String = test.fetch_value("SHOW lock_timeout", &[]).await.unwrap();
    assert_eq!(shared, "0");
    let conn = test.acquire().await.unwrap();
    for setting in [
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
    ] {
        let value: String = conn
            .fetch_value(&format!("SHOW {setting}"), &[])
            .await
            .unwrap();
        assert_eq!(value, "0", "{setting}");
    }
}

#[tokio::test]
async fn a_failing_init_command_fails_the_connection_and_names_itself() {
    let mut config = server_config()
        .unwrap()
        .with_init_command("SET pgdbm_test.first = 'ok'")
        .with_init_command("SELEC 1");
    config.retry_attempts = 5;
    config.retry_delay = Duration::from_secs(1);
    let start = Instant::now();
    let err = Database::connect(config).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Syntax(_)), "{err:?}");
    assert!(message.contains("init_commands[1]"), "{message}");
    assert!(message.contains("SELEC 1"), "{message}");
    // The configuration's SQL is wrong: trying again cannot help.
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Retries

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// After `delay`, listens on `port` and forwards every connection to the
/// test server, as a server that finishes starting would appear.
fn late_proxy(port: u16, delay: Duration, server: (String, u16)) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    })
}

/// Retry events of the `pgdbm` target, caught on this thread.
#[derive(Clone, Default)]
struct RetryEvents(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        if event.metadata().target() == "pgdbm" {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

// Current-thread runtime: the subscriber set for this thread sees every
// event of the connect.
#[tokio::test(flavor = "current_thread")]
async fn connecting_retries_until_the_server_listens() {
    use tracing_subscriber::layer::SubscriberExt;
    let events = RetryEvents::default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));

    let real = server_config().unwrap();
    let port = free_port();
    let proxy = late_proxy(port, Duration::from_secs(2), (real.host.clone(), real.port));
    let mut config = real.with_host("127.0.0.1").with_port(port);
    config.retry_attempts = 8;
    config.retry_delay = Duration::from_millis(200);
    config.retry_backoff = 1.5;
    config.retry_max_delay = Duration::from_secs(1);

    let start = Instant::now();
    let db = Database::connect(config).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let one: i32 = db.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    let stats = db.pool_stats().await.unwrap();
    assert!(stats.connect_retries >= 1, "{stats:?}");

    let events = events.0.lock().unwrap().clone();
    let retries: Vec<_> = events.iter().filter(|e| e.contains("retrying")).collect();
    assert!(!retries.is_empty(), "no retry event: {events:?}");
    assert!(
        retries[0].contains(&format!("server.port={port}")) && retries[0].contains("attempt=1"),
        "{}",
        retries[0]
    );
    db.close().await;
    proxy.abort();
}

const PASSWORD_HBA: &str = "\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 password
";

#[tokio::test]
async fn a_wrong_password_fails_at_once_without_retrying() {
    let cluster = tokio::task::spawn_blocking(|| {
        TestCluster::start_with(&[], &[("pg_hba.conf", PASSWORD_HBA.as_bytes())])
    })
    .await
    .unwrap()
    .unwrap();
    let superuser = Database::connect(cluster.config().with_multiplexing(false))
        .await
        .unwrap();
    superuser
        .execute("CREATE ROLE app LOGIN PASSWORD 'right one'", &[])
        .await
        .unwrap();
    superuser.close().await;

    let as_app = |password: &str| {
        let mut config = cluster
            .config()
            .with_user("app")
            .with_password(password)
            .with_multiplexing(false);
        config.retry_attempts = 5;
        config.retry_delay = Duration::from_secs(1);
        config
    };
    // Warm the server's own caches, so the timing below is the client's.
    let right = Database::connect(as_app("right one")).await.unwrap();
    right.close().await;

    let start = Instant::now();
    let err = Database::connect(as_app("wrong")).await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
    assert!(took < Duration::from_millis(100), "took {took:?}");
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// Recycling and healing

async fn pids(run: impl AsyncFn() -> i32, n: usize) -> Vec<i32> {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        pids.push(run().await);
    }
    pids
}

/// The longest run of equal neighbours.
fn longest_run(pids: &[i32]) -> usize {
    pids.chunk_by(|a, b| a == b)
        .map(<[i32]>::len)
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn max_queries_replaces_an_exclusive_connection() {
    let test = TestDatabase::with_config(|c| {
        let mut c = c
            .with_pool_size(1, 1)
            .with_multiplexing(false)
            .with_init_command("SET pgdbm_test.setup = 'done'");
        c.max_queries = 5;
        c
    })
    .await
    .unwrap();
    // Prepared on every later connection: setup, which max_queries must
    // not count, as it does not count the init command.
    test.add_prepared_statement("setup", "SELECT 2").unwrap();
    let pids = pids(
        async || {
            test.fetch_value("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
        },
        12,
    )
    .await;
    assert!(pids[..5].iter().all(|p| *p == pids[0]), "{pids:?}");
    assert_ne!(pids[5], pids[4], "{pids:?}");
    assert!(pids[5..10].iter().all(|p| *p == pids[5]), "{pids:?}");
    assert_ne!(pids[10], pids[9], "{pids:?}");
    assert!(test.pool_stats().await.unwrap().recycled >= 2);
}

#[tokio::test]
async fn max_queries_replaces_a_shared_connection() {
    let test = TestDatabase::with_config(|c| {
        let mut c = c.with_pool_size(1, 4);
        c.max_queries = 5;
        c
    })
    .await
    .unwrap();
    let pids = pids(
        async || {
            test.fetch_value("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
        },
        16,
    )
    .await;
    assert!(test.pool_stats().await.unwrap().shared_connections > 0);
    assert!(longest_run(&pids) <= 5, "{pids:?}");
    let distinct: HashSet<_> = pids.iter().collect();
    assert!(distinct.len() >= 3, "{pids:?}");
}

#[tokio::test]
async fn idle_connections_shrink_to_the_minimum() {
    let test = TestDatabase::with_config(|c| {
        let mut c = c.with_pool_size(1, 4).with_multiplexing(false);
        c.max_inactive_connection_lifetime = Some(Duration::from_millis(500));
        c
    })
    .await
    .unwrap();
    let admin = admin().await;
    let held = futures_util::future::try_join_all((0..4).map(|_| test.acquire()))
        .await
        .unwrap();
    assert_eq!(backends(&admin, test.name()).await, 4);
    drop(held);
    assert_eq!(test.pool_stats().await.unwrap().size, 4);

    // Nobody calls: the pool's own task closes them.
    let shrunk = eventually(Duration::from_secs(5), async || {
        test.pool_stats().await.unwrap().size == 1
    })
    .await;
    assert!(shrunk, "{:?}", test.pool_stats().await.unwrap());
    let gone = eventually(Duration::from_secs(5), async || {
        backends(&admin, test.name()).await == 1
    })
    .await;
    assert!(
        gone,
        "{} backends left",
        backends(&admin, test.name()).await
    );
    assert!(test.pool_stats().await.unwrap().recycled >= 3);
    // And never below the minimum.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(backends(&admin, test.name()).await, 1);
}

#[tokio::test]
async fn the_pool_refills_to_its_minimum_after_every_backend_is_killed() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(3, 6))
        .await
        .unwrap();
    let admin = admin().await;
    assert!(backends(&admin, test.name()).await >= 3);
    let killed: i64 = admin
        .fetch_value(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            &[&test.name()],
        )
        .await
        .unwrap();
    assert!(killed >= 3, "{killed}");
    assert!(
        eventually(Duration::from_secs(3), async || {
            backends(&admin, test.name()).await == 0
        })
        .await
    );

    // No call is made: the pool notices and reconnects by itself.
    let refilled = eventually(Duration::from_secs(5), async || {
        backends(&admin, test.name()).await >= 3
    })
    .await;
    assert!(refilled, "{:?}", test.pool_stats().await.unwrap());
    let stats = test.pool_stats().await.unwrap();
    assert!(stats.lost >= 3, "{stats:?}");
    assert!(stats.reconnected >= 3, "{stats:?}");
    // And the next calls, shared and exclusive, work first time.
    let one: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    let conn = test.acquire().await.unwrap();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn the_pool_heals_after_the_server_goes_away_and_comes_back() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(TestCluster::start)
            .await
            .unwrap()
            .unwrap(),
    );
    let mut config = cluster
        .config()
        .with_pool_size(3, 6)
        .with_application_name("pgdbm_heal");
    config.retry_delay = Duration::from_millis(50);
    let db = Database::connect(config).await.unwrap();
    let handle = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || {
        handle.stop().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        handle.resume().unwrap();
    })
    .await
    .unwrap();

    let admin = Database::connect(cluster.config().with_multiplexing(false))
        .await
        .unwrap();
    let ours = async || -> i64 {
        admin
            .fetch_value(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgdbm_heal'",
                &[],
            )
            .await
            .unwrap()
    };
    // Nobody calls: the pool notices and reconnects by itself.
    let healed = eventually(Duration::from_secs(5), async || ours().await >= 3).await;
    assert!(healed, "{:?}", db.pool_stats().await.unwrap());
    let one: i32 = db.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    assert!(db.pool_stats().await.unwrap().reconnected >= 3);
    db.close().await;
    admin.close().await;
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_the_last_manager_closes_the_pool_despite_its_background_task() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1))
        .await
        .unwrap();
    let admin = admin().await;
    let mut config = test.config().clone();
    config.min_connections = 3;
    config.max_connections = 4;
    let db = Database::connect(config).await.unwrap();
    assert!(backends(&admin, test.name()).await >= 4);
    drop(db);
    // The keeper holds the pool weakly: with no manager left, the pool and
    // its connections go.
    let gone = eventually(Duration::from_secs(5), async || {
        backends(&admin, test.name()).await == 1
    })
    .await;
    assert!(
        gone,
        "{} backends left",
        backends(&admin, test.name()).await
    );
}

// ---------------------------------------------------------------------------
// Named prepared statements

#[tokio::test]
async fn a_named_statement_is_prepared_on_connections_opened_after_it_was_added() {
    let test = TestDatabase::with_config(|c| {
        c.with_schema("named_stmts")
            .with_pool_size(1, 2)
            .with_multiplexing(false)
    })
    .await
    .unwrap();
    test.execute("CREATE TABLE {{tables.items}} (id bigint PRIMARY KEY)", &[])
        .await
        .unwrap();
    test.execute(
        "INSERT INTO {{tables.items}} SELECT generate_series(1, 10)",
        &[],
    )
    .await
    .unwrap();
    // Held: the next checkout must open a new connection.
    let before = test.acquire().await.unwrap();

    test.add_prepared_statement(
        "items_above",
        "SELECT count(*) FROM {{tables.items}} WHERE id > $1",
    )
    .unwrap();
    let sql = test.prepared("items_above").unwrap().sql().to_owned();
    assert!(sql.contains("\"named_stmts\".\"items\""), "{sql}");

    let after = test.acquire().await.unwrap();
    async fn pid(c: &pgdbm::Conn) -> i32 {
        c.fetch_value("SELECT pg_backend_pid()", &[]).await.unwrap()
    }
    async fn prepared_here(c: &pgdbm::Conn, sql: &str) -> i64 {
        c.fetch_value(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[&sql],
        )
        .await
        .unwrap()
    }
    assert_ne!(pid(&before).await, pid(&after).await);
    // Prepared when the connection opened, before anyone ran it.
    assert_eq!(prepared_here(&after, &sql).await, 1);
    assert_eq!(prepared_here(&before, &sql).await, 0);

    let n: i64 = after
        .prepared("items_above")
        .unwrap()
        .fetch_value(&[&4i64])
        .await
        .unwrap();
    assert_eq!(n, 6);
    // The older connection prepares it on first use.
    let n: i64 = before
        .prepared("items_above")
        .unwrap()
        .fetch_value(&[&8i64])
        .await
        .unwrap();
    assert_eq!(n, 2);
    drop((before, after));
    let rows = test
        .prepared("items_above")
        .unwrap()
        .fetch_all(&[&0i64])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    // Names belong to a schema.
    match test.prepared("no_such_statement") {
        Err(Error::UnknownStatement(name)) => assert_eq!(&*name, "no_such_statement"),
        other => panic!("{other:?}"),
    }
    let other = test.with_schema("other_schema").unwrap();
    assert!(matches!(
        other.prepared("items_above"),
        Err(Error::UnknownStatement(_))
    ));
}

#[tokio::test]
async fn a_named_statement_still_obeys_the_session_rule() {
    let test = TestDatabase::new().await.unwrap();
    test.add_prepared_statement("set_it", "SET work_mem = '64MB'")
        .unwrap();
    let err = test
        .prepared("set_it")
        .unwrap()
        .execute(&[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionState(_)), "{err:?}");
    // On an acquired connection it is allowed.
    let conn = test.acquire().await.unwrap();
    conn.prepared("set_it").unwrap().execute(&[]).await.unwrap();
}

// ---------------------------------------------------------------------------
// max_connections and the pool's numbers

/// Runs `tasks` tasks of mixed work (shared statements, transactions,
/// acquired connections) on `db` for `length`, sampling its backends; the
/// most seen at once.
async fn most_backends_under_load(db: &TestDatabase, tasks: usize, length: Duration) -> i64 {
    let admin = admin().await;
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..tasks {
        let db: Database = (**db).clone();
        let stop = Arc::clone(&stop);
        let failures = Arc::clone(&failures);
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match i % 3 {
                    0 => db.execute("SELECT pg_sleep(0.002)", &[]).await.is_ok(),
                    1 => async {
                        let tx = db.transaction().await?;
                        tx.execute("SELECT pg_sleep(0.002)", &[]).await?;
                        tx.commit().await
                    }
                    .await
                    .is_ok(),
                    _ => async {
                        let conn = db.acquire().await?;
                        conn.fetch_value::<i32>("SELECT 1", &[]).await
                    }
                    .await
                    .is_ok(),
                };
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let start = Instant::now();
    let mut most = 0;
    while start.elapsed() < length {
        most = most.max(backends(&admin, db.name()).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "calls failed under load"
    );
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_bounds_every_server_session() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 4))
        .await
        .unwrap();
    let most = most_backends_under_load(&test, 64, Duration::from_secs(3)).await;
    assert!(most <= 4, "{most} backends for max_connections = 4");
    // The load did need more than one: the bound was what held it.
    assert!(most >= 3, "only {most} backends under load");

    let stats = test.pool_stats().await.unwrap();
    assert!(stats.size <= 4, "{stats:?}");
    assert!(stats.max_size == 4 && stats.min_size == 1, "{stats:?}");
    assert!(
        stats.waits > 0,
        "64 tasks on 4 connections never waited: {stats:?}"
    );
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert_eq!(stats.database, test.name());
    assert!(
        stats.server_pid.is_some() && stats.server_version.is_some(),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_one_opens_one_session() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1))
        .await
        .unwrap();
    let most = most_backends_under_load(&test, 16, Duration::from_secs(1)).await;
    assert_eq!(most, 1);
}

#[tokio::test]
async fn pool_stats_describe_the_pool_and_the_server() {
    let test = TestDatabase::with_config(|c| c.with_schema("stats_schema").with_pool_size(2, 5))
        .await
        .unwrap();
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.status, pgdbm::PoolStatus::Open);
    assert_eq!((stats.min_size, stats.max_size), (2, 5));
    assert!(stats.size >= 2, "{stats:?}");
    assert_eq!(
        stats.free + stats.used + stats.shared_connections,
        stats.size,
        "{stats:?}"
    );
    assert_eq!(stats.schema.as_deref(), Some("stats_schema"));
    assert!(stats.opened >= 2, "{stats:?}");
    assert_eq!((stats.lost, stats.reconnected), (0, 0), "{stats:?}");
    let pid = stats.server_pid.unwrap();
    let admin = admin().await;
    let in_database: Option<String> = admin
        .fetch_value(
            "SELECT datname::text FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .unwrap();
    assert_eq!(in_database.as_deref(), Some(test.name()));
    let version: String = test.fetch_value("SHOW server_version", &[]).await.unwrap();
    assert_eq!(stats.server_version.as_deref(), Some(version.as_str()));

    test.close().await;
    let closed = test.pool_stats().await.unwrap();
    assert_eq!(closed.status, pgdbm::PoolStatus::Closed);
    assert_eq!(closed.server_pid, None);
}
