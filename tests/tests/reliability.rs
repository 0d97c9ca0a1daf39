//! Reliability under failure: server restarts, killed backends, cancelled
//! and abandoned calls, against private clusters (`TestCluster`) that these
//! tests may restart without disturbing any other test.
//!
//! Its own binary, so that its load does not skew the timing of other tests.
//! Spawned tasks never panic: they record what went wrong in [`Problems`],
//! and each test asserts at the end that nothing did, showing the first
//! cases. Every call is bounded, so a hang fails as "hung", never hangs.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pgdbm::testing::TestCluster;
use pgdbm::tokio_postgres::{self, NoTls};
use pgdbm::{Database, DatabaseConfig, Error, Transaction};

/// The client-side limit of every call in these tests.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How far past its deadline a call may return: scheduling on 2 shared cores.
const SLACK: Duration = Duration::from_millis(500);
/// A call started once the server is healthy again must be done within this.
const RECOVERED_CALL: Duration = Duration::from_secs(1);
/// How long the pool may take to finish its clean-up tasks at a test's end.
const CLEANUP: Duration = Duration::from_secs(2);
const TASKS: i64 = 16;

// ---------------------------------------------------------------------------
// Fixture

/// A private cluster, a manager on it, and a way to look from outside that
/// does not go through the code under test.
struct Fixture {
    cluster: Arc<TestCluster>,
    db: Database,
}

impl Fixture {
    async fn new(adjust: impl FnOnce(DatabaseConfig) -> DatabaseConfig + Send + 'static) -> Self {
        let cluster = tokio::task::spawn_blocking(TestCluster::start)
            .await
            .unwrap()
            .unwrap();
        let config = adjust(
            cluster
                .config()
                .with_command_timeout(Some(COMMAND_TIMEOUT))
                .with_acquire_timeout(Some(COMMAND_TIMEOUT)),
        );
        let db = Database::connect(config).await.unwrap();
        let fixture = Fixture {
            cluster: Arc::new(cluster),
            db,
        };
        fixture
            .admin()
            .await
            .batch_execute("CREATE TABLE ledger (id bigint PRIMARY KEY)")
            .await
            .unwrap();
        fixture
    }

    /// A fresh raw driver connection: it survives nothing, so every look
    /// opens its own, and a restart cannot leave it stale.
    async fn admin(&self) -> tokio_postgres::Client {
        let config = self.cluster.config();
        let (client, connection) = tokio_postgres::Config::new()
            .host(&config.host)
            .port(config.port)
            .user(&config.user)
            .dbname(&config.database)
            .connect_timeout(Duration::from_secs(5))
            .connect(NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// `pg_ctl restart -m fast` off the async threads; the moment it is back.
    async fn restart(&self) -> Instant {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || cluster.restart())
            .await
            .unwrap()
            .unwrap()
    }

    /// No session of the test database may be left inside a transaction
    /// once the pool has had [`CLEANUP`] to roll back what was abandoned.
    /// Judged by `state`: `query` keeps the last statement's text. Recorded
    /// with the test's other problems, so one failure shows them all.
    async fn check_open_transactions(&self, problems: &Problems) {
        let admin = self.admin().await;
        let start = Instant::now();
        loop {
            let rows = admin
                .query(
                    "SELECT pid, state, query FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND state IN ('idle in transaction', 'idle in transaction (aborted)')",
                    &[],
                )
                .await
                .unwrap();
            if rows.is_empty() {
                return;
            }
            if start.elapsed() > CLEANUP {
                for row in rows {
                    let (pid, state, query): (i32, String, String) =
                        (row.get(0), row.get(1), row.get(2));
                    problems.push(format!(
                        "backend {pid} is still {state} {CLEANUP:?} after the test (last: {query})"
                    ));
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs a whole test body under a bound, so a hang the per-call bounds miss
/// still fails, with a message that says so.
async fn bounded_test(limit: Duration, body: impl Future<Output = ()>) {
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("the test did not finish within {limit:?}: something hangs");
    }
}

// ---------------------------------------------------------------------------
// Recording

/// What went wrong in spawned tasks, kept for one assertion at the end.
#[derive(Default)]
struct Problems(Mutex<Vec<String>>);

impl Problems {
    fn push(&self, problem: String) {
        self.0.lock().unwrap().push(problem);
    }

    /// Panics listing the first problems and the last one (often a
    /// summary, such as too few calls).
    fn assert_none(&self, what: &str) {
        let problems = self.0.lock().unwrap();
        if let Some(last) = problems.last() {
            let first: Vec<&str> = problems.iter().take(12).map(String::as_str).collect();
            panic!(
                "{what}: {} problems, the first ones:\n{}\n...\nthe last one:\n{last}",
                problems.len(),
                first.join("\n")
            );
        }
    }
}

/// What one bounded call did.
enum Outcome<T> {
    Done(pgdbm::Result<T>),
    /// Still running at its deadline plus [`SLACK`]; dropped there.
    Hung,
}

/// Runs `call`, `calls` statements long, giving up at its deadline plus slack.
async fn bounded<T>(calls: u32, call: impl Future<Output = pgdbm::Result<T>>) -> Outcome<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT * calls + SLACK, call).await {
        Ok(result) => Outcome::Done(result),
        Err(_) => Outcome::Hung,
    }
}

/// How a call misbehaved.
enum Bad {
    /// Still running past its deadline plus slack.
    Hung(String),
    /// Returned what it should not have: another caller's value, say.
    Wrong(String),
    /// Failed; while the server is being hurt, retryable failures are fine.
    Failed { retryable: bool, what: String },
}

impl Bad {
    fn failed(what: &str, e: &Error) -> Bad {
        Bad::Failed {
            retryable: e.is_retryable(),
            what: format!("{what} failed: {e:?}"),
        }
    }

    fn context(self, context: &str) -> Bad {
        match self {
            Bad::Hung(what) => Bad::Hung(format!("{context}: {what}")),
            Bad::Wrong(what) => Bad::Wrong(format!("{context}: {what}")),
            Bad::Failed { retryable, what } => Bad::Failed {
                retryable,
                what: format!("{context}: {what}"),
            },
        }
    }

    /// Whether it may happen while the server is restarted or its backends
    /// killed: a failure, when `retryable_only`, a retryable one.
    fn excused_while_hurt(&self, retryable_only: bool) -> bool {
        match self {
            Bad::Failed { retryable, .. } => *retryable || !retryable_only,
            Bad::Hung(_) | Bad::Wrong(_) => false,
        }
    }
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Hung(what) => write!(f, "{what} hung past its deadline"),
            Bad::Wrong(what) | Bad::Failed { what, .. } => f.write_str(what),
        }
    }
}

/// A call's start, duration and what it did, for judging afterwards
/// against when the server was healthy.
struct Timed {
    started: Instant,
    took: Duration,
    problem: Option<Bad>,
}

/// Judges timed calls. Before `healthy`, calls may only fail (retryably,
/// when `retryable_only`); every call started at or after it must succeed
/// within [`RECOVERED_CALL`], and every task must have made one.
fn judge(calls: &[Timed], healthy: Instant, retryable_only: bool, problems: &Problems) {
    let mut after = 0;
    for call in calls {
        if call.started < healthy {
            if let Some(bad) = call
                .problem
                .as_ref()
                .filter(|bad| !bad.excused_while_hurt(retryable_only))
            {
                problems.push(format!("before recovery: {bad}"));
            }
            continue;
        }
        after += 1;
        let since = call.started - healthy;
        if let Some(bad) = &call.problem {
            problems.push(format!("started {since:?} after recovery: {bad}"));
        } else if call.took >= RECOVERED_CALL {
            problems.push(format!(
                "started {since:?} after recovery, took {:?}",
                call.took
            ));
        }
    }
    if after < TASKS {
        problems.push(format!("only {after} calls started after recovery"));
    }
}

/// The marker a call must get back, or why it did not.
fn marker_problem(marker: i64, outcome: Outcome<i64>) -> Option<Bad> {
    match outcome {
        Outcome::Done(Ok(got)) if got == marker => None,
        Outcome::Done(Ok(got)) => Some(Bad::Wrong(format!(
            "marker {marker} got another caller's {got}"
        ))),
        Outcome::Done(Err(e)) => Some(Bad::failed(&format!("marker {marker}"), &e)),
        Outcome::Hung => Some(Bad::Hung(format!("marker {marker}"))),
    }
}

/// Unique markers, so a value handed to the wrong caller is noticed.
struct Markers(AtomicI64);

impl Markers {
    fn new() -> Self {
        Markers(AtomicI64::new(1))
    }

    fn next(&self) -> i64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------
// The ledger: commits neither lost, phantom nor doubled

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// `commit()` returned `Ok`: the row must be there.
    Committed,
    /// COMMIT was never sent, or the server refused it: the row must not be.
    NotCommitted,
    /// The answer to COMMIT was lost (connection gone, caller gone).
    Unknown,
}

/// How far a ledger write got (whether COMMIT was sent), readable after
/// its future was dropped.
#[derive(Default)]
struct Stage(AtomicBool);

impl Stage {
    fn commit_sent(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The fate of a write from its outcome; `None` for a dropped future.
    fn fate(&self, outcome: Option<&pgdbm::Result<()>>) -> Fate {
        if self.commit_sent() {
            commit_fate(outcome)
        } else {
            Fate::NotCommitted
        }
    }
}

/// The fate of a transaction whose COMMIT was sent, from what `commit()`
/// returned (`None`: nothing, it was dropped or hung). An error of the
/// server's own is a definite no; a lost connection or a lost caller
/// leaves it open.
fn commit_fate(outcome: Option<&pgdbm::Result<()>>) -> Fate {
    match outcome {
        Some(Ok(())) => Fate::Committed,
        Some(Err(e))
            if e.sqlstate()
                .is_some_and(|code| !code.starts_with("08") && !code.starts_with("57P")) =>
        {
            Fate::NotCommitted
        }
        _ => Fate::Unknown,
    }
}

/// Inserts `id` in the transaction `begin` opens and commits it, first
/// sleeping a little when `pause` so that a drop can land mid-statement.
async fn ledger_write<'a>(
    begin: impl Future<Output = pgdbm::Result<Transaction<'a>>>,
    id: i64,
    pause: bool,
    stage: &Stage,
) -> pgdbm::Result<()> {
    let tx = begin.await?;
    tx.execute("INSERT INTO ledger (id) VALUES ($1)", &[&id])
        .await?;
    if pause {
        tx.execute("SELECT pg_sleep(0.005)", &[]).await?;
    }
    stage.0.store(true, Ordering::Relaxed);
    tx.commit().await
}

#[derive(Default)]
struct Ledger(Mutex<Vec<(i64, Fate)>>);

impl Ledger {
    fn record(&self, id: i64, fate: Fate) {
        self.0.lock().unwrap().push((id, fate));
    }

    /// Every committed id is there once, no refused or unsent one is, and
    /// nothing is there that nobody wrote.
    async fn verify(&self, fixture: &Fixture, problems: &Problems) {
        let admin = fixture.admin().await;
        let rows = admin.query("SELECT id FROM ledger", &[]).await.unwrap();
        let present: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let unique: HashSet<i64> = present.iter().copied().collect();
        if unique.len() != present.len() {
            problems.push(format!(
                "ledger: {} rows but {} distinct ids",
                present.len(),
                unique.len()
            ));
        }
        let entries = self.0.lock().unwrap();
        let mut written = HashSet::new();
        let mut committed = 0;
        for &(id, fate) in entries.iter() {
            written.insert(id);
            match (fate, unique.contains(&id)) {
                (Fate::Committed, false) => problems.push(format!("ledger: commit of {id} lost")),
                (Fate::NotCommitted, true) => {
                    problems.push(format!("ledger: {id} is there though never committed"));
                }
                (Fate::Committed, true) => committed += 1,
                _ => {}
            }
        }
        for id in unique.difference(&written) {
            problems.push(format!("ledger: {id} is there but nobody wrote it"));
        }
        if committed == 0 {
            problems.push("ledger: no write committed at all".to_owned());
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Restart under load

/// 16 tasks loop marker selects through a restart; calls started after the
/// server is back must all succeed, quickly, with their own marker.
async fn restart_under_load(multiplex: bool) {
    let fixture = Fixture::new(move |c| c.with_multiplexing(multiplex)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let markers = Arc::new(Markers::new());
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (db, stop, markers) = (fixture.db.clone(), stop.clone(), markers.clone());
        tasks.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let marker = markers.next();
                let started = Instant::now();
                let outcome =
                    bounded(1, db.fetch_value::<i64>("SELECT $1::bigint", &[&marker])).await;
                calls.push(Timed {
                    started,
                    took: started.elapsed(),
                    problem: marker_problem(marker, outcome),
                });
            }
            calls
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let back = fixture.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = Vec::new();
    for task in tasks {
        calls.extend(task.await.unwrap());
    }
    let problems = Problems::default();
    judge(&calls, back, false, &problems);
    fixture.check_open_transactions(&problems).await;
    problems.assert_none(&format!(
        "restart with multiplex={multiplex}, {} calls",
        calls.len()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load_multiplexed() {
    bounded_test(Duration::from_secs(25), restart_under_load(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load_exclusive() {
    bounded_test(Duration::from_secs(25), restart_under_load(false)).await;
}

// ---------------------------------------------------------------------------
// 2. Backends terminated every 200 ms under load

const KILL_EVERY: Duration = Duration::from_millis(200);
const KILLING_FOR: Duration = Duration::from_secs(3);

/// One unit of the mixed load: a point select on the multiplexed path, a
/// ledger transaction, or two selects on an acquired connection.
async fn mixed_op(db: &Database, kind: i64, markers: &Markers, ledger: &Ledger) -> Option<Bad> {
    match kind {
        0 => {
            let marker = markers.next();
            marker_problem(
                marker,
                bounded(1, db.fetch_value::<i64>("SELECT $1::bigint", &[&marker])).await,
            )
        }
        1 => {
            let id = markers.next();
            let stage = Stage::default();
            let outcome = bounded(3, ledger_write(db.transaction(), id, false, &stage)).await;
            let (fate, problem) = match outcome {
                Outcome::Done(result) => (
                    stage.fate(Some(&result)),
                    result
                        .err()
                        .map(|e| Bad::failed(&format!("transaction {id}"), &e)),
                ),
                Outcome::Hung => (
                    stage.fate(None),
                    Some(Bad::Hung(format!("transaction {id}"))),
                ),
            };
            ledger.record(id, fate);
            problem
        }
        _ => {
            let (first, second) = (markers.next(), markers.next());
            let outcome = bounded(3, async {
                let conn = db.acquire().await?;
                let a: i64 = conn.fetch_value("SELECT $1::bigint", &[&first]).await?;
                let b: i64 = conn.fetch_value("SELECT $1::bigint", &[&second]).await?;
                Ok((a, b))
            })
            .await;
            match outcome {
                Outcome::Done(Ok((a, b))) => marker_problem(first, Outcome::Done(Ok(a)))
                    .or_else(|| marker_problem(second, Outcome::Done(Ok(b)))),
                Outcome::Done(Err(e)) => marker_problem(second, Outcome::Done(Err(e))),
                Outcome::Hung => marker_problem(second, Outcome::Hung),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_every_200ms_under_load() {
    bounded_test(Duration::from_secs(30), async {
        let fixture = Fixture::new(|c| c).await;
        let stop = Arc::new(AtomicBool::new(false));
        let markers = Arc::new(Markers::new());
        let ledger = Arc::new(Ledger::default());
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (db, stop) = (fixture.db.clone(), stop.clone());
            let (markers, ledger) = (markers.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                let mut ops = Vec::new();
                let mut kind = task;
                while !stop.load(Ordering::Relaxed) {
                    kind += 1;
                    let started = Instant::now();
                    let problem = mixed_op(&db, kind % 3, &markers, &ledger).await;
                    ops.push(Timed {
                        started,
                        took: started.elapsed(),
                        problem,
                    });
                }
                ops
            }));
        }

        let killer = fixture.admin().await;
        let mut killed = 0;
        let killing = Instant::now();
        while killing.elapsed() < KILLING_FOR {
            tokio::time::sleep(KILL_EVERY).await;
            killed += killer
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
                       AND datname = current_database()",
                    &[],
                )
                .await
                .unwrap()
                .len();
        }
        let healthy = Instant::now() + RECOVERED_CALL;
        tokio::time::sleep(RECOVERED_CALL + Duration::from_millis(1000)).await;
        stop.store(true, Ordering::Relaxed);

        let problems = Problems::default();
        let mut ops = Vec::new();
        for task in tasks {
            ops.extend(task.await.unwrap());
        }
        judge(&ops, healthy, true, &problems);
        ledger.verify(&fixture, &problems).await;
        if killed < 10 {
            problems.push(format!("the killer found only {killed} backends"));
        }
        fixture.check_open_transactions(&problems).await;
        problems.assert_none(&format!("{} ops, {killed} backends killed", ops.len()));
    })
    .await;
}

// ---------------------------------------------------------------------------
// 3. 1,000 random cancellations

const ROUNDS: u32 = 1000;

/// xorshift64*: deterministic, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    /// 0 to 5 ms, in microseconds.
    fn wait(&mut self) -> Duration {
        Duration::from_micros(self.below(5001))
    }
}

/// A marker select that sleeps 5 ms, so that a late cancel has a statement
/// to hit.
const SLOW_MARKER: &str = "SELECT $1::bigint FROM pg_sleep(0.005)";
const LONG_STREAM: &str = "SELECT g FROM generate_series(1, 100000) g";

/// The call a cancellation round interrupts, on the pool or the `Conn`.
#[derive(Clone, Copy, Debug)]
enum Cancel {
    /// A client timeout: `Database::timeout` on the pool, a dropped future on
    /// the `Conn`.
    Timeout,
    /// A spawned task aborted mid-call.
    Abort,
    /// A transaction dropped mid-statement.
    Transaction,
    /// A savepoint dropped mid-statement, the outer transaction used on.
    Savepoint,
    /// A stream dropped after its first row.
    Stream,
}

const CANCELS: [Cancel; 5] = [
    Cancel::Timeout,
    Cancel::Abort,
    Cancel::Transaction,
    Cancel::Savepoint,
    Cancel::Stream,
];

/// An interrupted call may fail (with the timeout, or the cancel it got),
/// or finish in time; it may never return someone else's value.
fn interrupted_problem(marker: i64, outcome: Option<pgdbm::Result<i64>>) -> Option<Bad> {
    match outcome {
        None | Some(Err(Error::Timeout(_) | Error::QueryCanceled(_))) => None,
        Some(result) => marker_problem(marker, Outcome::Done(result)),
    }
}

/// A transaction dropped after `wait`, recorded in the ledger.
async fn dropped_transaction<'a>(
    begin: impl Future<Output = pgdbm::Result<Transaction<'a>>>,
    wait: Duration,
    id: i64,
    ledger: &Ledger,
) -> Option<Bad> {
    let stage = Stage::default();
    let outcome = tokio::time::timeout(wait, ledger_write(begin, id, true, &stage))
        .await
        .ok();
    ledger.record(id, stage.fate(outcome.as_ref()));
    match outcome {
        Some(Err(e)) => Some(Bad::failed(&format!("uninterrupted transaction {id}"), &e)),
        _ => None,
    }
}

/// A savepoint dropped after `wait`; the outer transaction must then run a
/// marker select and commit, both never cancelled.
async fn dropped_savepoint(
    mut tx: Transaction<'_>,
    wait: Duration,
    markers: &Markers,
    ledger: &Ledger,
) -> Option<Bad> {
    let (outer, inner, marker) = (markers.next(), markers.next(), markers.next());
    if let Err(e) = tx
        .execute("INSERT INTO ledger (id) VALUES ($1)", &[&outer])
        .await
    {
        ledger.record(outer, Fate::NotCommitted);
        return Some(Bad::failed("outer insert before a savepoint", &e));
    }
    let stage = Stage::default();
    let released = tokio::time::timeout(wait, ledger_write(tx.transaction(), inner, true, &stage))
        .await
        .ok();
    let selected = bounded(1, tx.fetch_value::<i64>(SLOW_MARKER, &[&marker])).await;
    let problem = marker_problem(marker, selected)
        .map(|bad| bad.context("the outer transaction after a dropped savepoint"));
    let committed = bounded(1, tx.commit()).await;
    let outer_fate = commit_fate(match &committed {
        Outcome::Done(result) => Some(result),
        Outcome::Hung => None,
    });
    ledger.record(outer, outer_fate);
    // The inner row follows the outer one once released, and is gone if the
    // savepoint was rolled back before its RELEASE.
    let inner_fate = match (&released, stage.commit_sent()) {
        (_, false) => Fate::NotCommitted,
        (Some(Ok(())), true) => outer_fate,
        _ => Fate::Unknown,
    };
    ledger.record(inner, inner_fate);
    problem.or(match committed {
        Outcome::Done(Err(e)) => Some(Bad::failed("commit after a dropped savepoint", &e)),
        Outcome::Hung => Some(Bad::Hung("commit after a dropped savepoint".to_owned())),
        Outcome::Done(Ok(())) => None,
    })
}

/// Reads one row of a long stream and drops it.
async fn dropped_stream(
    stream: impl Future<Output = pgdbm::Result<pgdbm::RowStream<'_>>>,
) -> Option<Bad> {
    let first = async {
        let mut rows = stream.await?;
        let row = rows.next().await.transpose()?;
        Ok(row
            .map(|r| i64::from(r.get::<i32>(0usize)))
            .unwrap_or_default())
    };
    marker_problem(1, bounded(1, first).await)
}

/// What the two loops of cancellation rounds share.
struct Cancellations<'a> {
    db: &'a Database,
    markers: &'a Markers,
    ledger: &'a Ledger,
    problems: &'a Problems,
}

impl Cancellations<'_> {
    /// `rounds` rounds, each interrupting one call at random after 0 to 5 ms
    /// and then running a never-cancelled marker select on the same place:
    /// on one `Conn` from `acquire()` when `on_conn`, else on the pool.
    async fn run(&self, on_conn: bool, seed: u64, rounds: u32) {
        let (db, markers, ledger) = (self.db, self.markers, self.ledger);
        let mut rng = Rng(seed);
        let mut conn = if on_conn {
            Some(db.acquire().await.unwrap())
        } else {
            None
        };
        for round in 0..rounds {
            let cancel = CANCELS[rng.below(CANCELS.len() as u64) as usize];
            let shared = rng.below(3) == 0;
            let wait = rng.wait();
            let marker = markers.next();
            // Bound to a name: the futures below outlive a statement.
            let params: pgdbm::Params<'_> = &[&marker];
            let problem = match (cancel, conn.as_mut()) {
                (Cancel::Timeout, None) if shared => {
                    // An abandoned multiplexed call: never cancelled, just left.
                    let call = db.fetch_value(SLOW_MARKER, params);
                    interrupted_problem(marker, tokio::time::timeout(wait, call).await.ok())
                }
                (Cancel::Timeout, None) => interrupted_problem(
                    marker,
                    Some(
                        db.with_timeout(Some(wait))
                            .fetch_value(SLOW_MARKER, params)
                            .await,
                    ),
                ),
                (Cancel::Timeout, Some(conn)) => {
                    let call = conn.fetch_value(SLOW_MARKER, params);
                    interrupted_problem(marker, tokio::time::timeout(wait, call).await.ok())
                }
                (Cancel::Abort, _) => {
                    // On the `Conn`, the task owns it and drops it when aborted.
                    let held = conn.take();
                    let pool = db.clone();
                    let task = tokio::spawn(async move {
                        let conn = match held {
                            Some(conn) => conn,
                            None => pool.acquire().await?,
                        };
                        conn.fetch_value::<i64>(SLOW_MARKER, &[&marker]).await
                    });
                    tokio::time::sleep(wait).await;
                    task.abort();
                    if on_conn {
                        conn = Some(db.acquire().await.unwrap());
                    }
                    interrupted_problem(marker, task.await.ok())
                }
                (Cancel::Transaction, None) => {
                    dropped_transaction(db.transaction(), wait, marker, ledger).await
                }
                (Cancel::Transaction, Some(conn)) => {
                    dropped_transaction(conn.transaction(), wait, marker, ledger).await
                }
                (Cancel::Savepoint, None) => match db.transaction().await {
                    Ok(tx) => dropped_savepoint(tx, wait, markers, ledger).await,
                    Err(e) => Some(Bad::failed("BEGIN", &e)),
                },
                (Cancel::Savepoint, Some(conn)) => match conn.transaction().await {
                    Ok(tx) => dropped_savepoint(tx, wait, markers, ledger).await,
                    Err(e) => Some(Bad::failed("BEGIN", &e)),
                },
                (Cancel::Stream, None) => dropped_stream(db.fetch_stream(LONG_STREAM, &[])).await,
                (Cancel::Stream, Some(conn)) => {
                    dropped_stream(conn.fetch_stream(LONG_STREAM, &[])).await
                }
            };
            // The never-cancelled select, where the interrupted call ran.
            let marker = markers.next();
            let params: pgdbm::Params<'_> = &[&marker];
            let (place, selected) = match (conn.as_ref(), rng.below(3)) {
                (Some(conn), _) => (
                    "Conn",
                    bounded(1, conn.fetch_value(SLOW_MARKER, params)).await,
                ),
                (None, 0) => (
                    "shared path",
                    bounded(1, db.fetch_value(SLOW_MARKER, params)).await,
                ),
                (None, 1) => (
                    "pool, acquired",
                    bounded(1, async {
                        db.acquire().await?.fetch_value(SLOW_MARKER, params).await
                    })
                    .await,
                ),
                (None, _) => (
                    "pool, own timeout",
                    bounded(
                        1,
                        db.with_timeout(Some(COMMAND_TIMEOUT))
                            .fetch_value(SLOW_MARKER, params),
                    )
                    .await,
                ),
            };
            let selected = marker_problem(marker, selected);
            // A `Conn` whose connection broke stays broken: take a fresh one,
            // so that one failure is reported once, not in every later round.
            if on_conn && selected.is_some() {
                conn = Some(db.acquire().await.unwrap());
            }
            for bad in [problem, selected].into_iter().flatten() {
                self.problems.push(format!(
                    "round {round} ({cancel:?}, then a select on the {place}, {wait:?}): {bad}"
                ));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_random_cancellations_never_hit_another_statement() {
    bounded_test(Duration::from_secs(45), async {
        // Two exclusive connections for two loops (a third is the shared
        // one): each connection goes from one loop's cancelled call to the
        // other's next statement at once.
        let fixture = Fixture::new(|c| c.with_pool_size(1, 3)).await;
        let (markers, ledger, problems) = (Markers::new(), Ledger::default(), Problems::default());
        let cancellations = Cancellations {
            db: &fixture.db,
            markers: &markers,
            ledger: &ledger,
            problems: &problems,
        };
        let seed = 0x5EED_0019_u64;
        // Boxed: four of these futures overflow a debug build's stack.
        tokio::join!(
            Box::pin(cancellations.run(true, seed, ROUNDS / 4)),
            Box::pin(cancellations.run(false, seed + 1, ROUNDS / 4)),
            Box::pin(cancellations.run(false, seed + 2, ROUNDS / 4)),
            Box::pin(cancellations.run(false, seed + 3, ROUNDS / 4)),
        );
        ledger.verify(&fixture, &problems).await;
        fixture.check_open_transactions(&problems).await;
        problems.assert_none(&format!("{ROUNDS} rounds, seeds {seed:#x} to +3"));
    })
    .await;
}

// ---------------------------------------------------------------------------
// An abandoned shared call keeps its place

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_shared_call_still_counts_as_in_flight() {
    bounded_test(Duration::from_secs(20), async {
        let fixture = Fixture::new(|c| {
            let mut c = c.with_multiplexing(true);
            c.multiplex_connections = 2;
            c
        })
        .await;
        let db = &fixture.db;
        // Open the shared connections before the slow call takes one.
        let warm: Vec<_> = (0..4)
            .map(|n: i64| {
                let db = db.clone();
                tokio::spawn(async move { db.fetch_value::<i64>("SELECT $1::bigint", &[&n]).await })
            })
            .collect();
        for task in warm {
            task.await.unwrap().unwrap();
        }
        let abandoned = tokio::time::timeout(
            Duration::from_millis(50),
            db.execute("SELECT pg_sleep(1.8)", &[]),
        )
        .await;
        assert!(abandoned.is_err(), "the caller gave up after 50 ms");
        let problems = Problems::default();
        let stats = db.pool_stats().await.unwrap();
        if stats.shared_in_flight == 0 {
            problems.push(format!(
                "the abandoned call, still running on the server, is not counted: {stats:?}"
            ));
        }
        // Calls made now must not queue behind the sleep, which runs on (it
        // is shorter than `COMMAND_TIMEOUT`, so the server does not end it).
        for marker in 0..8i64 {
            let started = Instant::now();
            let outcome = bounded(1, db.fetch_value::<i64>("SELECT $1::bigint", &[&marker])).await;
            let took = started.elapsed();
            if let Some(bad) = marker_problem(marker, outcome) {
                problems.push(format!("{bad}"));
            } else if took >= RECOVERED_CALL {
                problems.push(format!(
                    "marker {marker} waited {took:?} behind the abandoned call"
                ));
            }
        }
        fixture.check_open_transactions(&problems).await;
        problems.assert_none("calls after an abandoned shared call");
    })
    .await;
}
