//! Regression tests for issue 19 ("one call guard"): each test pins one way
//! the call path of commit 6c5b490 could hang, leak session state, cancel
//! the wrong statement or report a commit that did not happen.
//!
//! Every test body runs under [`bounded`], so a hang fails the test instead
//! of stalling CI.

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{Database, DatabaseConfig, Error, SharedPool, ToSql};
use tokio::net::{TcpListener, TcpStream};

/// The longest any test here may run before it counts as hung.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Runs a test body, failing it if it does not finish within [`TEST_LIMIT`].
async fn bounded<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .expect("the test hung")
}

/// The error of a call that must fail.
#[track_caller]
fn expect_err<T: Debug>(what: &str, result: pgdbm::Result<T>) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected an error, got Ok({value:?})"),
        Err(e) => e,
    }
}

/// A manager on a pool of its own that reaches the real server directly
/// (never through a [`Gate`]), to look at `test` from outside.
async fn observer(test: &TestDatabase) -> Database {
    let mut config = pgdbm::testing::server_config().unwrap();
    config.database = test.name().to_owned();
    let config = config.with_pool_size(1, 1).with_multiplexing(false);
    SharedPool::connect(config)
        .await
        .unwrap()
        .database(test.schema())
        .unwrap()
}

/// Backends of the observed database, other than the asking one, that sit
/// inside a transaction between statements.
async fn idle_in_transaction(observer: &Database) -> i64 {
    observer
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE state LIKE 'idle in transaction%' \
               AND datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
}

/// Advisory locks held by other backends of the observed database.
async fn advisory_locks(observer: &Database) -> i64 {
    observer
        .fetch_value(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND d.datname = current_database() \
               AND l.pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
}

/// A process-wide unique suffix for names that live outside one test
/// database (roles are cluster-wide).
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A small xorshift generator: the races below need delays spread over a
/// range, not quality randomness, and a dependency for that is not worth it.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        // xorshift never leaves zero.
        Jitter(seed | 1)
    }

    /// A duration in `0..max_micros` microseconds.
    fn micros(&mut self, max_micros: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % max_micros)
    }
}

// 2. Opening a shared connection has no time limit.

/// A TCP front for the real server. While open it forwards every
/// connection; once [`silence`](Gate::silence)d it accepts new ones and
/// never sends a byte, as a server that hangs after accept would.
struct Gate {
    addr: SocketAddr,
    silent: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    async fn open(target: (String, u16)) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let flag = silent.clone();
        let task = tokio::spawn(async move {
            // Silent sockets are kept here, so the client sees neither data
            // nor a close.
            let mut held = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if flag.load(Ordering::Acquire) {
                    held.push(client);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Gate { addr, silent, task }
    }

    fn silence(&self) {
        self.silent.store(true, Ordering::Release);
    }

    /// `config` pointed at this gate.
    fn route(&self, mut config: DatabaseConfig) -> DatabaseConfig {
        config.host = self.addr.ip().to_string();
        config.port = self.addr.port();
        config
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The real server's address, as the tests' configuration names it.
fn server_addr() -> (String, u16) {
    let config = pgdbm::testing::server_config().unwrap();
    (config.host, config.port)
}

/// Short limits for the silent-server tests; no retries, so the bound a
/// call must meet does not depend on the retry policy.
const SILENT_LIMIT: Duration = Duration::from_millis(800);

fn silent_limits(config: DatabaseConfig, multiplex: bool) -> DatabaseConfig {
    let mut config = config
        .with_multiplexing(multiplex)
        .with_pool_size(1, 1)
        .with_command_timeout(Some(SILENT_LIMIT));
    config.connect_timeout = Some(SILENT_LIMIT);
    config.retry_attempts = 0;
    config.multiplex_connections = 1;
    config
}

/// Connects through a gate, then silences it and kills the backend `db`
/// uses, so the next call must open a connection against a server that
/// never answers. That call must fail within its limits instead of hanging.
async fn call_after_the_server_goes_silent(multiplex: bool) {
    let gate = Gate::open(server_addr()).await;
    let test = TestDatabase::with_config(|c| silent_limits(gate.route(c), multiplex))
        .await
        .unwrap();
    let outside = observer(&test).await;
    let pid: i32 = test
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    gate.silence();
    let killed: bool = outside
        .fetch_value("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(killed);
    // Let the client notice the close, so the next call has to open anew
    // rather than fail on the dead connection.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A first call may still fail fast on the dead connection; the one
    // after it must open. Each must end within the command timeout (plus
    // slack for scheduling on a busy machine).
    let bound = SILENT_LIMIT + Duration::from_millis(700);
    for attempt in 0..2 {
        let started = Instant::now();
        let result = tokio::time::timeout(
            bound + Duration::from_secs(5),
            test.fetch_value::<i32>("SELECT 1", &[]),
        )
        .await;
        let elapsed = started.elapsed();
        let result = result.unwrap_or_else(|_| {
            panic!("multiplex={multiplex}: call {attempt} hung against a silent server")
        });
        assert!(
            result.is_err(),
            "multiplex={multiplex}: call {attempt} reached a silent server: {result:?}"
        );
        assert!(
            elapsed <= bound,
            "multiplex={multiplex}: call {attempt} took {elapsed:?}, limit {SILENT_LIMIT:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_call_against_a_silent_server_ends_within_command_timeout() {
    bounded(call_after_the_server_goes_silent(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusive_call_against_a_silent_server_ends_within_its_limits() {
    bounded(call_after_the_server_goes_silent(false)).await;
}

/// `Database::connect` straight at a server that never answers fails within
/// the connect timeout, in both pool modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_silent_server_fails_within_connect_timeout() {
    bounded(async {
        let gate = Gate::open(server_addr()).await;
        gate.silence();
        for multiplex in [true, false] {
            let config = silent_limits(
                gate.route(pgdbm::testing::server_config().unwrap()),
                multiplex,
            );
            let started = Instant::now();
            let result = tokio::time::timeout(Duration::from_secs(10), Database::connect(config))
                .await
                .unwrap_or_else(|_| panic!("multiplex={multiplex}: connect hung"));
            let elapsed = started.elapsed();
            expect_err("connect to a silent server", result);
            assert!(
                elapsed <= SILENT_LIMIT + Duration::from_millis(700),
                "multiplex={multiplex}: connect took {elapsed:?}"
            );
        }
    })
    .await;
}

// 3. A cancel can hit a later caller's statement.

/// The statement nobody cancels: it sleeps long enough for a stray cancel
/// to land on it, and returns its marker.
const MARKER_SQL: &str = "SELECT $1::bigint FROM pg_sleep(0.005)";

/// Rounds per cancel test: today about 3 % of rounds fail, so 400 rounds
/// fail with near certainty, and they run in a few seconds.
const CANCEL_ROUNDS: i64 = 400;

/// Asserts the marker call of `round` came back with its marker; above all,
/// that no cancel meant for an earlier call reached it.
#[track_caller]
fn assert_marker(round: i64, result: pgdbm::Result<i64>) {
    match result {
        Ok(v) => assert_eq!(v, round, "round {round}: someone else's answer"),
        Err(e @ Error::QueryCanceled(_)) => {
            panic!("round {round}: a statement nobody cancelled was cancelled: {e}")
        }
        Err(e) => panic!("round {round}: marker failed: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_a_conn_never_reaches_a_later_statement() {
    bounded(async {
        let test = TestDatabase::new().await.unwrap();
        let conn = test.acquire().await.unwrap();
        let mut jitter = Jitter::new();
        for round in 0..CANCEL_ROUNDS {
            // Abandoned mid-statement: the next call owes a cancel.
            let _ = tokio::time::timeout(
                jitter.micros(3000),
                conn.execute("SELECT pg_sleep(0.01)", &[]),
            )
            .await;
            // Abandoned while that cancel is on its way.
            let _ = tokio::time::timeout(jitter.micros(3000), conn.execute("SELECT 1", &[])).await;
            assert_marker(round, conn.fetch_value(MARKER_SQL, &[&round]).await);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_abandoned_by_its_caller_never_reaches_the_next_user_of_the_pool() {
    bounded(async {
        // One connection, not multiplexed: every call below uses it.
        let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1).with_multiplexing(false))
            .await
            .unwrap();
        let mut jitter = Jitter::new();
        for round in 0..CANCEL_ROUNDS {
            // The client timeout fires inside the call, which then cancels
            // from within the caller's future; the outer timeout drops
            // that future while the cancel is under way.
            let inner = Duration::from_micros(500) + jitter.micros(2000);
            let quick = test.with_timeout(Some(inner));
            let _ = tokio::time::timeout(
                inner + jitter.micros(2000),
                quick.execute("SELECT pg_sleep(0.01)", &[]),
            )
            .await;
            assert_marker(round, test.fetch_value(MARKER_SQL, &[&round]).await);
        }
    })
    .await;
}

// 4. An abandoned shared call makes its connection look idle.

/// A quick shared call, timed, while `SELECT pg_sleep(3)` occupies a shared
/// connection (`abandon`: its caller gave up after 50 ms; otherwise it is
/// still awaited). The quick call must not queue behind the sleep.
async fn quick_call_beside_a_sleep(abandon: bool) {
    let test = TestDatabase::with_config(|mut c| {
        c.multiplex_connections = 2;
        c.with_pool_size(1, 4)
    })
    .await
    .unwrap();
    // Give the warm connection a history of fast answers, against which a
    // three-second silence stands out.
    for _ in 0..20 {
        let _: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    }
    let sleeper = {
        let db = test.db().clone();
        tokio::spawn(async move {
            let sleep = db.execute("SELECT pg_sleep(3)", &[]);
            if abandon {
                let _ = tokio::time::timeout(Duration::from_millis(50), sleep).await;
            } else {
                let _ = sleep.await;
            }
        })
    };
    // Long enough past the abandonment for any sensible "stuck" rule (a
    // multiple of the usual latency, with a floor) to see the silence
    // before the quick call is routed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let one: i32 = test.fetch_value("SELECT 1", &[]).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(one, 1);
    assert!(
        elapsed < Duration::from_secs(1),
        "abandon={abandon}: SELECT 1 waited {elapsed:?} behind the sleep"
    );
    sleeper.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_call_is_not_routed_behind_an_abandoned_sleep() {
    bounded(quick_call_beside_a_sleep(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_call_is_not_routed_behind_a_running_sleep() {
    bounded(quick_call_beside_a_sleep(false)).await;
}

// 5. Session state never reaches pooled or shared connections.

/// Session-state statements, each with whether it is a plain SELECT (so it
/// is also valid SQL for `copy_out_query` and inside an INSERT .. SELECT for
/// `execute_returning_id`).
const SESSION_SQL: &[(&str, bool)] = &[
    ("BEGIN", false),
    ("SET work_mem = '2MB'", false),
    ("LISTEN hardening_chan", false),
    ("PREPARE hardening_p AS SELECT 1", false),
    ("CREATE TEMP TABLE hardening_tmp (a int)", false),
    ("SELECT pg_advisory_lock(1)", true),
    ("SELECT set_config('work_mem', '1MB', false)", true),
];

/// Sends `sql` through every query method of `db`, returning the methods
/// whose call was not refused with `Error::SessionState`, with what they
/// returned.
async fn methods_that_let_through(db: &Database, sql: &str, select: bool) -> Vec<String> {
    let no_params: [[&(dyn ToSql + Sync); 0]; 1] = [[]];
    let mut calls: Vec<(&str, pgdbm::Result<()>)> = vec![
        ("execute", db.execute(sql, &[]).await.map(drop)),
        ("fetch_all", db.fetch_all(sql, &[]).await.map(drop)),
        ("fetch_one", db.fetch_one(sql, &[]).await.map(drop)),
        (
            "fetch_value",
            db.fetch_value::<Option<String>>(sql, &[]).await.map(drop),
        ),
        ("fetch_as", db.fetch_as::<()>(sql, &[]).await.map(drop)),
        (
            "fetch_all_as",
            db.fetch_all_as::<()>(sql, &[]).await.map(drop),
        ),
        ("fetch_stream", db.fetch_stream(sql, &[]).await.map(drop)),
        (
            "execute_many",
            db.execute_many(sql, &no_params).await.map(drop),
        ),
    ];
    if select {
        calls.push((
            "copy_out_query",
            match db.copy_out_query::<()>(sql).await {
                Ok(stream) => stream.try_collect::<Vec<()>>().await.map(drop),
                Err(e) => Err(e),
            },
        ));
        // The session function inside a statement that returns an id.
        let insert = format!("INSERT INTO {{{{tables.ids}}}} (id) SELECT 1 FROM ({sql}) s");
        calls.push((
            "execute_returning_id",
            db.execute_returning_id::<i32>(&insert, &[]).await.map(drop),
        ));
    }
    calls
        .into_iter()
        .filter(|(_, r)| !matches!(r, Err(Error::SessionState(_))))
        .map(|(method, r)| format!("{method}({sql}) -> {r:?}"))
        .collect()
}

/// Sends every session statement through every method of `db` (built on
/// `test`'s pool) and asserts each was refused and none left a transaction
/// or an advisory lock behind on any connection.
async fn assert_session_state_refused(test: &TestDatabase, db: &Database, label: &str) {
    test.execute("CREATE TABLE IF NOT EXISTS {{tables.ids}} (id int)", &[])
        .await
        .unwrap();
    let outside = observer(test).await;
    let mut leaks = Vec::new();
    for (sql, select) in SESSION_SQL {
        leaks.extend(methods_that_let_through(db, sql, *select).await);
    }
    // Give queued statements and connection returns a moment to settle
    // before looking from outside.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let open = idle_in_transaction(&outside).await;
    let locks = advisory_locks(&outside).await;
    assert!(
        leaks.is_empty() && open == 0 && locks == 0,
        "{label}: {open} backends idle in transaction, {locks} advisory locks held; \
         calls not refused:\n{}",
        leaks.join("\n")
    );
}

/// A database for the session-state tests. A leaked `pg_advisory_lock(1)`
/// makes every later attempt on another connection wait for the lock, so
/// the lock timeout is short: today's failing run should not take minutes.
async fn session_test(multiplex: bool) -> TestDatabase {
    TestDatabase::with_config(|mut c| {
        c.lock_timeout = Some(Duration::from_millis(200));
        c.with_multiplexing(multiplex)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_is_refused_on_a_multiplexed_database() {
    bounded(async {
        let test = session_test(true).await;
        assert_session_state_refused(&test, test.db(), "multiplexed").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_is_refused_on_a_plain_pool() {
    bounded(async {
        let test = session_test(false).await;
        assert_session_state_refused(&test, test.db(), "multiplex off").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_is_refused_on_a_database_with_its_own_timeout() {
    bounded(async {
        let test = session_test(true).await;
        let db = test.with_timeout(Some(Duration::from_secs(10)));
        assert_session_state_refused(&test, &db, "db.with_timeout(..)").await;
    })
    .await;
}

/// The simplest leak, on its own so its failure is unmistakable: a BEGIN
/// through a plain pool must not hand a connection with an open
/// transaction back to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_begin_on_a_plain_pool_leaves_no_open_transaction_behind() {
    bounded(async {
        let test = session_test(false).await;
        let outside = observer(&test).await;
        let result = test.execute("BEGIN", &[]).await;
        let open = idle_in_transaction(&outside).await;
        assert_eq!(open, 0, "BEGIN ({result:?}) left a transaction open");
        assert!(matches!(result, Err(Error::SessionState(_))), "{result:?}");
    })
    .await;
}

/// A database whose pool holds a single exclusive connection, so whatever
/// a `Conn` leaves on it is what the next caller gets.
async fn single_connection() -> TestDatabase {
    TestDatabase::with_config(|c| c.with_pool_size(1, 1).with_multiplexing(false))
        .await
        .unwrap()
}

/// A uniquely named role for one test. Roles are cluster-wide, so it is
/// dropped with [`drop_role`](Role::drop_role) once the test's pool is
/// closed and before anything is asserted (a `Drop` impl could not await).
struct Role {
    name: String,
}

impl Role {
    async fn create(admin: &Database) -> Role {
        let name = format!("pgdbm_hardening_{}", unique_suffix());
        admin
            .execute(&format!("CREATE ROLE \"{name}\""), &[])
            .await
            .unwrap();
        Role { name }
    }

    async fn drop_role(self, admin: &Database) {
        admin
            .execute(&format!("DROP ROLE \"{}\"", self.name), &[])
            .await
            .unwrap();
    }
}

/// Runs `sql` (naming the role through `{role}`) on a `Conn`, returns the
/// connection to the pool, and asks the next user who it is.
async fn identity_after(sql: &str) -> (String, String) {
    let test = single_connection().await;
    let outside = observer(&test).await;
    let role = Role::create(&outside).await;
    let conn = test.acquire().await.unwrap();
    conn.execute(&sql.replace("{role}", &format!("\"{}\"", role.name)), &[])
        .await
        .unwrap();
    let inside: String = conn
        .fetch_value("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(inside, role.name, "{sql} took effect on the Conn");
    drop(conn);
    let next: pgdbm::Result<(String, String)> = async {
        let row = test
            .fetch_one("SELECT current_user::text, session_user::text", &[])
            .await?
            .expect("one row");
        Ok((row.get(0), row.get(1)))
    }
    .await;
    test.close().await;
    role.drop_role(&outside).await;
    next.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_role_on_a_conn_does_not_survive_its_return_to_the_pool() {
    bounded(async {
        let login = pgdbm::testing::server_config().unwrap().user;
        let (current, session) = identity_after("SET ROLE {role}").await;
        assert_eq!((current, session), (login.clone(), login));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_session_authorization_on_a_conn_does_not_survive_its_return_to_the_pool() {
    bounded(async {
        let login = pgdbm::testing::server_config().unwrap().user;
        let (current, session) = identity_after("SET SESSION AUTHORIZATION {role}").await;
        assert_eq!((current, session), (login.clone(), login));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_prepared_statement_does_not_reach_the_next_user_of_the_pool() {
    bounded(async {
        let test = single_connection().await;
        let conn = test.acquire().await.unwrap();
        conn.execute("PREPARE p AS SELECT 1", &[]).await.unwrap();
        drop(conn);
        // The library's own cached statements are listed too, under
        // generated names; only the user's `p` matters.
        let seen: i64 = test
            .fetch_value(
                "SELECT count(*) FROM pg_prepared_statements WHERE name = 'p'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(seen, 0, "the next user sees the previous user's PREPARE");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_set_in_a_committed_transaction_does_not_reach_the_next_user() {
    bounded(async {
        let test = single_connection().await;
        let before: String = test.fetch_value("SHOW work_mem", &[]).await.unwrap();
        assert_ne!(before, "3MB", "the test needs a setting that differs");
        let tx = test.transaction().await.unwrap();
        // Not SET LOCAL: PostgreSQL keeps a plain SET past COMMIT.
        tx.execute("SET work_mem = '3MB'", &[]).await.unwrap();
        tx.commit().await.unwrap();
        let after: String = test.fetch_value("SHOW work_mem", &[]).await.unwrap();
        assert_eq!(after, before);
    })
    .await;
}

// 7. commit() and transaction_with return Ok when nothing was committed.

async fn items_table(test: &TestDatabase) {
    test.execute("CREATE TABLE {{tables.items}} (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
}

async fn item_ids(test: &TestDatabase) -> Vec<i32> {
    test.fetch_all_as::<(i32,)>("SELECT id FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|(id,)| id)
        .collect()
}

const INSERT_ITEM: &str = "INSERT INTO {{tables.items}} VALUES ($1)";

/// A statement that fails and aborts the transaction it runs in.
const FAILING_SQL: &str = "SELECT 1/0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_after_a_swallowed_error_is_an_error() {
    bounded(async {
        let test = TestDatabase::new().await.unwrap();
        items_table(&test).await;
        let tx = test.transaction().await.unwrap();
        tx.execute(INSERT_ITEM, &[&1i32]).await.unwrap();
        expect_err("division by zero", tx.execute(FAILING_SQL, &[]).await);
        // The server answers COMMIT with ROLLBACK here; the intended error
        // is `Error::RolledBack`, asserted loosely until it exists.
        expect_err("commit of an aborted transaction", tx.commit().await);
        assert_eq!(item_ids(&test).await, Vec::<i32>::new());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_with_after_a_swallowed_error_is_an_error() {
    bounded(async {
        let test = TestDatabase::new().await.unwrap();
        items_table(&test).await;
        let result = test
            .transaction_with(async |tx| {
                tx.execute(INSERT_ITEM, &[&1i32]).await?;
                let _ = tx.execute(FAILING_SQL, &[]).await;
                Ok::<_, Error>(())
            })
            .await;
        // Intended: `Error::RolledBack`.
        expect_err("transaction_with whose transaction aborted", result);
        assert_eq!(item_ids(&test).await, Vec::<i32>::new());
    })
    .await;
}

/// A savepoint whose work failed cannot be released as if it had
/// succeeded: its release is an error, its rows are gone, and the outer
/// transaction, as after any savepoint rollback, carries on and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_savepoint_after_a_swallowed_error_is_an_error() {
    bounded(async {
        let test = TestDatabase::new().await.unwrap();
        items_table(&test).await;
        let mut tx = test.transaction().await.unwrap();
        tx.execute(INSERT_ITEM, &[&1i32]).await.unwrap();
        {
            let savepoint = tx.transaction().await.unwrap();
            savepoint.execute(INSERT_ITEM, &[&2i32]).await.unwrap();
            expect_err(
                "division by zero",
                savepoint.execute(FAILING_SQL, &[]).await,
            );
            expect_err("release of an aborted savepoint", savepoint.commit().await);
        }
        let released = tx
            .transaction_with(async |savepoint| {
                savepoint.execute(INSERT_ITEM, &[&3i32]).await?;
                let _ = savepoint.execute(FAILING_SQL, &[]).await;
                Ok::<_, Error>(())
            })
            .await;
        expect_err("transaction_with on an aborted savepoint", released);
        tx.execute(INSERT_ITEM, &[&4i32]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(item_ids(&test).await, [1, 4]);
    })
    .await;
}

// 8. Stale plans stick inside transactions.

const SELECT_ALL: &str = "SELECT * FROM {{tables.items}}";

/// Adds a column to the items table from outside the test's pool, which
/// changes the result type of `SELECT *` under any plan cached for it.
async fn widen_items(outside: &Database, column: &str) {
    outside
        .execute(
            &format!("ALTER TABLE {{{{tables.items}}}} ADD COLUMN {column} int"),
            &[],
        )
        .await
        .unwrap();
}

/// Whether `e` is the server's "cached plan must not change result type".
fn is_stale_plan(e: &Error) -> bool {
    e.sqlstate() == Some("0A000") && e.to_string().contains("cached plan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_inside_transactions_fails_at_most_once() {
    bounded(async {
        // One connection, so every transaction reuses its statement cache.
        let test = single_connection().await;
        items_table(&test).await;
        let outside = observer(&test).await;
        let select_in_tx = async || -> pgdbm::Result<usize> {
            let tx = test.transaction().await?;
            let rows = tx.fetch_all(SELECT_ALL, &[]).await;
            match rows {
                Ok(rows) => {
                    tx.commit().await?;
                    Ok(rows.first().map_or(0, |r| r.len()))
                }
                Err(e) => {
                    tx.rollback().await?;
                    Err(e)
                }
            }
        };
        select_in_tx().await.unwrap();
        widen_items(&outside, "b").await;
        // The first use after the change may fail, and only that way.
        if let Err(e) = select_in_tx().await {
            assert!(is_stale_plan(&e), "{e:?}");
        }
        test.execute(INSERT_ITEM, &[&1i32]).await.unwrap();
        assert_eq!(
            select_in_tx().await.expect("the stale plan stuck"),
            2,
            "the plan sees the new column"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_outside_a_transaction_is_retried() {
    bounded(async {
        let test = single_connection().await;
        items_table(&test).await;
        let outside = observer(&test).await;
        test.execute(INSERT_ITEM, &[&1i32]).await.unwrap();
        assert_eq!(test.fetch_all(SELECT_ALL, &[]).await.unwrap()[0].len(), 1);
        widen_items(&outside, "b").await;
        let rows = test.fetch_all(SELECT_ALL, &[]).await.unwrap();
        assert_eq!(rows[0].len(), 2);
    })
    .await;
}
