//! One server connection and the state that keeps it trustworthy: the
//! transaction depth pgdbm opened, what an abandoned call left behind, the
//! session state raw SQL changed, and the counters multiplexing routes by.
//!
//! The rule this module enforces: a connection's clean-up belongs to the
//! connection, never to a caller's future. A call cut off mid-flight (its
//! future dropped, or its deadline passed) hands the connection a recovery
//! task: cancel the running statement, wait until the server confirms the
//! cancel, drain the statement's answer, pay any rollback owed. The task is
//! spawned, so whatever the callers drop, it runs to the end; and every
//! later call on the connection waits for it first. A cancel can therefore
//! never land on a statement sent after it.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use crate::call::{Stmt, guarded};
use crate::conn::Lease;
use crate::error::{ConnectTarget, DriverError, Error, Result};
use crate::ident;
use crate::statement_cache::StatementCache;
use crate::tls::Tls;

/// `owed_depth` when nothing is owed.
const NO_DEBT: u32 = u32::MAX;

/// How long a recovery may take before the connection is given up.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// How long the server may take to confirm a cancel request.
const CANCEL_LIMIT: Duration = Duration::from_secs(5);

/// What raw SQL did to the session (`ConnInner::session`).
pub(crate) const SESSION_CLEAN: u8 = 0;
/// Settings, LISTEN, temporary objects, advisory locks: reset before reuse.
pub(crate) const SESSION_RESET: u8 = 1;
/// State no reset can undo or that pgdbm cannot know (a user `PREPARE`, the
/// raw client taken): the connection is discarded instead of reused.
pub(crate) const SESSION_DISCARD: u8 = 2;

/// Everything a fresh session would not have, short of `DISCARD ALL`,
/// which would also drop the prepared statements the cache holds. `RESET
/// ALL` leaves the role and the session authorization alone, hence the
/// explicit lines for them.
const RESET_SESSION: &str = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; \
     RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES";

/// Microseconds on a process-wide monotonic clock.
pub(crate) fn now_micros() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The name of the savepoint that opens transaction depth `depth` (> 1).
pub(crate) fn savepoint_name(depth: u32) -> String {
    ident::quote(&format!("pgdbm_savepoint_{depth}"))
}

/// SQL that brings the server from a deeper transaction back to `depth`
/// (0: no transaction).
pub(crate) fn rollback_sql(depth: u32) -> String {
    if depth == 0 {
        "ROLLBACK".to_owned()
    } else {
        let name = savepoint_name(depth + 1);
        format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
    }
}

/// Work that opened a transaction level owes, if it is dropped before it
/// ends, a rollback back to `depth`. The debt is only recorded on drop:
/// recorded up front, the work's own statements would pay it (every call
/// settles the connection first) and end the transaction under it.
pub(crate) struct RollbackGuard<'a> {
    conn: &'a PgConnection,
    depth: u32,
    armed: bool,
}

impl<'a> RollbackGuard<'a> {
    pub(crate) fn new(conn: &'a PgConnection, depth: u32) -> Self {
        RollbackGuard {
            conn,
            depth,
            armed: true,
        }
    }

    /// The work ended (committed or rolled back): nothing is owed.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.owe_rollback_to(self.depth);
        }
    }
}

/// The server address cancel requests are sent to.
enum CancelAddr {
    Tcp(String, u16),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
    Unknown,
}

impl CancelAddr {
    fn of(pg: &tokio_postgres::Config) -> Self {
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        match pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => CancelAddr::Tcp(host.clone(), port),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(dir)) => {
                CancelAddr::Unix(dir.join(format!(".s.PGSQL.{port}")))
            }
            _ => CancelAddr::Unknown,
        }
    }
}

/// Sends the cancel request on `socket`, then waits for the server to close
/// it, which the postmaster does only after signalling the backend.
async fn cancel_on<S>(token: &tokio_postgres::CancelToken, mut socket: S) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    token.cancel_query_raw(&mut socket, NoTls).await.is_ok() && closed_by_server(&mut socket).await
}

/// The same over TLS: the token negotiates TLS as its connection did. The
/// driver takes the stream by value (the connector wants it `'static`), so
/// it gets a duplicate of the socket and the original waits for the close.
async fn cancel_over_tls(
    token: &tokio_postgres::CancelToken,
    socket: tokio::net::TcpStream,
    connector: &tokio_postgres_rustls::MakeRustlsConnect,
    host: &str,
) -> bool {
    use tokio_postgres::tls::MakeTlsConnect;
    let duplicate = socket
        .into_std()
        .and_then(|std| Ok((std.try_clone()?, std)))
        .and_then(|(copy, std)| {
            Ok((
                tokio::net::TcpStream::from_std(copy)?,
                tokio::net::TcpStream::from_std(std)?,
            ))
        });
    let Ok((for_driver, mut watched)) = duplicate else {
        return false;
    };
    let Ok(tls) =
        MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(&mut connector.clone(), host);
    token.cancel_query_raw(for_driver, tls).await.is_ok() && closed_by_server(&mut watched).await
}

/// Reads until the server closes the socket. Over TLS records may come
/// first, so one byte read is not yet the close.
async fn closed_by_server<S>(socket: &mut S) -> bool
where
    S: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) => return true,
            Ok(_) => {}
            // A reset after the request is still the server closing.
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// How a claimed slot on a shared connection ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    /// The server answered, at the second `now_micros()`, a request sent
    /// at the first.
    Measured(u64, u64),
    /// The server answered a request its caller had abandoned; how long it
    /// took says nothing about the connection's usual latency.
    Late(u64),
    /// Nothing was sent.
    Unused,
}

/// Transaction control whose caller left before the server answered: the
/// recovery finishes it and moves the depth as its outcome says.
pub(crate) struct Detached {
    pub(crate) work: Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>,
    /// The depth once the server accepted it...
    pub(crate) ok: u32,
    /// ... and once it refused it.
    pub(crate) refused: u32,
}

/// What spans and the slow-query log say about a pool's connections.
#[derive(Debug)]
pub(crate) struct Observe {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    /// `slow_query_threshold`.
    pub(crate) slow: Option<Duration>,
}

/// A connection, shared between its owner (the pool, a transaction, the
/// multiplexer) and the recovery task that may outlive a caller.
#[derive(Clone)]
pub(crate) struct PgConnection(Arc<ConnInner>);

impl Deref for PgConnection {
    type Target = ConnInner;

    fn deref(&self) -> &ConnInner {
        &self.0
    }
}

pub(crate) struct ConnInner {
    client: Client,
    cache: StatementCache,
    /// Transaction nesting depth opened through pgdbm (0 = none).
    tx_depth: AtomicU32,
    /// A statement failed, or was cut off, inside the current transaction:
    /// the server may have aborted it, so COMMIT must check (see
    /// `Transaction::commit`).
    tx_failed: AtomicBool,
    /// The transaction depth the server must be brought back to, owed by a
    /// transaction or batch that was dropped while it could not clean up
    /// itself (`NO_DEBT`: nothing owed).
    owed_depth: AtomicU32,
    /// A call was cut off mid-flight: the server may still be running it.
    abandoned: AtomicBool,
    /// Transaction control left for the recovery to finish.
    detached: Mutex<Option<Detached>>,
    has_detached: AtomicBool,
    /// A recovery task is running (mirrors `recovery`, for the hot path).
    recovering: AtomicBool,
    /// Done-signal of the running recovery task.
    recovery: Mutex<Option<watch::Receiver<bool>>>,
    /// Set when the connection cannot be trusted any more; it is discarded
    /// instead of going back to the pool.
    broken: AtomicBool,
    queries: AtomicU64,
    /// `now_micros()` when the connection last went back to the pool (or
    /// was opened): what `max_inactive_connection_lifetime` measures.
    idle_since: AtomicU64,
    /// Given up on purpose (a shared connection retired, or recycled by
    /// policy), as opposed to found broken.
    retired: AtomicBool,
    /// One of the `SESSION_*` values.
    session: AtomicU8,
    /// Requests in flight on a shared connection, counted until the server
    /// answers them (not until their callers leave).
    in_flight: AtomicUsize,
    /// Of those, requests whose caller left before the answer: what holds
    /// the connection up may run for long, so it takes no new calls while
    /// another connection can be had.
    left_unanswered: AtomicUsize,
    /// `now_micros()` of the last answer, or of the moment the connection
    /// went from idle to busy.
    last_progress: AtomicU64,
    /// Smoothed answer latency in microseconds (shared connections).
    latency: AtomicU64,
    cancel_addr: CancelAddr,
    /// Set once by the pool that opened the connection.
    observe: OnceLock<Arc<Observe>>,
    /// The pool's TLS connector, for cancel requests; `None` with
    /// `sslmode=disable`.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnInner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgConnection {
    /// Connects with the pool's TLS mode, starts the connection task and
    /// runs `init_commands`. The connect and start-up, and then each
    /// command, are bounded by `timeout` (`connect_timeout`; the driver's
    /// own covers only the socket). One attempt: the pool's manager retries.
    pub(crate) async fn open(
        pg: &tokio_postgres::Config,
        tls: &Tls,
        init_commands: &[String],
        statement_cache_size: usize,
        timeout: Option<Duration>,
    ) -> Result<PgConnection> {
        let target = ConnectTarget::of(pg);
        let connect = async {
            tls.connect(pg).await.map_err(|e| {
                crate::tls::connect_error(&e, &target.to_string())
                    .unwrap_or_else(|| Error::connect_to(e, &target))
            })
        };
        let (client, task) = match timeout {
            Some(limit) => tokio::time::timeout(limit, connect)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::connect_failed(
                        &target,
                        format!("timed out after {limit:?} (connect_timeout)"),
                    ))
                })?,
            None => connect.await?,
        };
        let conn = PgConnection(Arc::new(ConnInner {
            client,
            cache: StatementCache::new(statement_cache_size),
            tx_depth: AtomicU32::new(0),
            tx_failed: AtomicBool::new(false),
            owed_depth: AtomicU32::new(NO_DEBT),
            abandoned: AtomicBool::new(false),
            detached: Mutex::new(None),
            has_detached: AtomicBool::new(false),
            recovering: AtomicBool::new(false),
            recovery: Mutex::new(None),
            broken: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            idle_since: AtomicU64::new(now_micros()),
            retired: AtomicBool::new(false),
            session: AtomicU8::new(SESSION_CLEAN),
            in_flight: AtomicUsize::new(0),
            left_unanswered: AtomicUsize::new(0),
            last_progress: AtomicU64::new(now_micros()),
            latency: AtomicU64::new(0),
            cancel_addr: CancelAddr::of(pg),
            observe: OnceLock::new(),
            tls: tls.connector().cloned(),
            task,
        }));
        let lease = Lease::Borrowed(&conn);
        for (i, sql) in init_commands.iter().enumerate() {
            // Simple protocol: an init command may hold several statements.
            let run = conn.client.batch_execute(sql);
            let ran = guarded(&lease, Stmt::internal(sql, timeout, None), None, async {
                run.await.map_err(|e| Error::from_driver(e, Some(sql)))
            });
            ran.await.map_err(|e| e.in_init_command(i, &target))?;
        }
        Ok(conn)
    }

    /// A call on this exclusive connection was cut off mid-flight: hand the
    /// connection to its recovery task. With `discard`, the connection is
    /// out of step with the driver and only waits to be dropped.
    pub(crate) fn abandon(&self, discard: bool) {
        if discard {
            self.mark_broken();
        }
        self.abandoned.store(true, Ordering::Release);
        self.start_recovery();
    }

    /// Transaction control was cut off: the recovery runs it to its end,
    /// so the depth pgdbm records stays the server's.
    pub(crate) fn detach(&self, control: Detached) {
        *self.detached.lock().unwrap_or_else(|e| e.into_inner()) = Some(control);
        self.has_detached.store(true, Ordering::Release);
        self.start_recovery();
    }

    /// Spawns the recovery task unless one is running (it picks up work
    /// that arrives while it runs).
    fn start_recovery(&self) {
        let mut slot = self.recovery.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to clean up on: never hand it out again.
            self.mark_broken();
            return;
        };
        let (done, wait) = watch::channel(false);
        *slot = Some(wait);
        self.recovering.store(true, Ordering::Release);
        drop(slot);
        let conn = self.clone();
        runtime.spawn(async move {
            loop {
                let clean = tokio::time::timeout(RECOVERY_LIMIT, conn.clean_once())
                    .await
                    .unwrap_or(false);
                if !clean {
                    conn.mark_broken();
                }
                let mut slot = conn.recovery.lock().unwrap_or_else(|e| e.into_inner());
                if clean && conn.needs_settling() {
                    // Owed while this round ran (a transaction dropped
                    // behind the call that was cut off).
                    continue;
                }
                *slot = None;
                conn.recovering.store(false, Ordering::Release);
                drop(slot);
                let _ = done.send(true);
                return;
            }
        });
    }

    /// Before a call: waits until any recovery has finished, and runs the
    /// clean-up still owed. Dropping the returned future abandons nothing:
    /// the recovery goes on in its own task.
    pub(crate) async fn settle(&self) -> Result<()> {
        loop {
            if self.is_broken() {
                return Err(broken_error());
            }
            if !self.recovering.load(Ordering::Acquire) && !self.needs_settling() {
                return Ok(());
            }
            let wait = self
                .recovery
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match wait {
                Some(mut wait) => {
                    let told = wait.wait_for(|done| *done).await.is_ok();
                    if !told {
                        // The task ended without saying so (its runtime
                        // shut down): nothing is known of the connection.
                        self.mark_broken();
                    }
                }
                None if self.needs_settling() => self.start_recovery(),
                None => {}
            }
        }
    }

    /// One round of recovery: finish cut-off transaction control, cancel
    /// and drain a cut-off call, pay a rollback owed. Whether the connection
    /// is fit for reuse.
    async fn clean_once(&self) -> bool {
        if self.is_broken() {
            return false;
        }
        self.has_detached.store(false, Ordering::Release);
        let detached = self
            .detached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(control) = detached {
            match control.work.await {
                Ok(()) => self.set_tx_depth(control.ok),
                Err(e) if e.as_db_error().is_some() => self.set_tx_depth(control.refused),
                Err(_) => return false,
            }
        }
        if self.abandoned.swap(false, Ordering::AcqRel) && !self.cancel_and_drain().await {
            return false;
        }
        let owed = self.owed_depth.swap(NO_DEBT, Ordering::AcqRel);
        if owed != NO_DEBT && owed < self.tx_depth() {
            if self
                .client
                .batch_execute(&rollback_sql(owed))
                .await
                .is_err()
            {
                return false;
            }
            self.set_tx_depth(owed);
        }
        true
    }

    /// Brings a connection that goes back to the pool to idle: waits for
    /// its recovery, rolls back an open transaction, resets the session.
    /// Whether it may be reused.
    pub(crate) async fn recover(&self) -> bool {
        if self.settle().await.is_err() {
            return false;
        }
        if self.tx_depth() > 0 {
            if self.client.batch_execute("ROLLBACK").await.is_err() {
                return false;
            }
            self.set_tx_depth(0);
        }
        match self.session.swap(SESSION_CLEAN, Ordering::AcqRel) {
            SESSION_CLEAN => true,
            SESSION_RESET => self.client.batch_execute(RESET_SESSION).await.is_ok(),
            _ => false,
        }
    }
}

fn broken_error() -> Error {
    Error::ConnectionClosed(Box::new(DriverError::message_only(
        "this connection was given up after an earlier failure",
    )))
}

impl ConnInner {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn set_observe(&self, observe: Arc<Observe>) {
        let _ = self.observe.set(observe);
    }

    pub(crate) fn observe(&self) -> Option<&Observe> {
        self.observe.get().map(|o| &**o)
    }

    pub(crate) fn tx_depth(&self) -> u32 {
        self.tx_depth.load(Ordering::Acquire)
    }

    pub(crate) fn set_tx_depth(&self, depth: u32) {
        if depth == 0 {
            self.tx_failed.store(false, Ordering::Release);
        }
        self.tx_depth.store(depth, Ordering::Release);
    }

    /// A statement inside the current transaction failed or was cut off.
    pub(crate) fn note_tx_failure(&self) {
        if self.tx_depth() > 0 {
            self.tx_failed.store(true, Ordering::Release);
        }
    }

    pub(crate) fn tx_may_have_failed(&self) -> bool {
        self.tx_failed.load(Ordering::Acquire)
    }

    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Gives the connection up on purpose: it is closed, not reused, and
    /// counted as recycled rather than lost.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.mark_broken();
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// The connection goes back to the pool now.
    pub(crate) fn mark_idle(&self) {
        self.idle_since.store(now_micros(), Ordering::Relaxed);
    }

    /// How long it has been in the pool unused (meaningful while idle).
    pub(crate) fn idle_for(&self) -> Duration {
        let since = self.idle_since.load(Ordering::Relaxed);
        Duration::from_micros(now_micros().saturating_sub(since))
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire) || self.recovering.load(Ordering::Acquire)
    }

    /// Records that, should the current work be abandoned, the server must
    /// be brought back to transaction depth `depth`.
    pub(crate) fn owe_rollback_to(&self, depth: u32) {
        self.owed_depth.fetch_min(depth, Ordering::AcqRel);
    }

    /// Raw SQL changed the session (`SESSION_RESET` or `SESSION_DISCARD`).
    pub(crate) fn note_session(&self, state: u8) {
        self.session.fetch_max(state, Ordering::AcqRel);
    }

    /// Raw SQL may have changed session state.
    pub(crate) fn is_session_dirty(&self) -> bool {
        self.session.load(Ordering::Acquire) != SESSION_CLEAN
    }

    fn needs_settling(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
            || self.has_detached.load(Ordering::Acquire)
            || self.owed_depth.load(Ordering::Acquire) != NO_DEBT
    }

    /// Whether handing this connection to someone else needs clean-up first.
    pub(crate) fn is_dirty(&self) -> bool {
        self.needs_settling()
            || self.recovering.load(Ordering::Acquire)
            || self.tx_depth() > 0
            || self.is_session_dirty()
    }

    pub(crate) fn is_usable(&self) -> bool {
        !self.is_broken() && !self.client.is_closed()
    }

    /// A prepared statement for `sql` and its session verdict (see
    /// `call::Verdict`), from the cache or the server. `check` runs on a
    /// miss, before anything is sent.
    pub(crate) async fn statement(
        &self,
        sql: &str,
        check: impl FnOnce() -> Result<u8>,
    ) -> Result<(Statement, u8)> {
        if let Some(hit) = self.cache.get(sql) {
            return Ok(hit);
        }
        let verdict = check()?;
        let statement = self
            .client
            .prepare(sql)
            .await
            .map_err(|e| Error::from_driver(e, Some(sql)))?;
        self.cache.insert(sql, statement.clone(), verdict);
        Ok((statement, verdict))
    }

    pub(crate) fn forget_statement(&self, sql: &str) {
        self.cache.remove(sql);
    }

    pub(crate) fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    pub(crate) fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Forgets the statements of the connection's setup (init commands,
    /// named statements): `max_queries`
    /// counts its users' work, and a setup of that many statements must
    /// not retire every connection as it opens.
    pub(crate) fn reset_queries(&self) {
        self.queries.store(0, Ordering::Relaxed);
    }

    /// Requests in flight (shared connections).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Claims a slot if the count is still `seen`: choosing a connection and
    /// claiming it is one step, so two callers never both take the last
    /// idle one on a stale count.
    pub(crate) fn try_claim(&self, seen: usize) -> bool {
        let claimed = self
            .in_flight
            .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if claimed && seen == 0 {
            // Busy from now: "no answer for a while" counts from here.
            self.last_progress.store(now_micros(), Ordering::Release);
        }
        claimed
    }

    /// Claims a slot whatever the count.
    pub(crate) fn claim(&self) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.last_progress.store(now_micros(), Ordering::Release);
        }
    }

    /// Gives back a claimed slot.
    pub(crate) fn release(&self, answer: Answer) {
        let answered = match answer {
            Answer::Measured(sent, at) => Some((sent, at)),
            Answer::Late(sent) => Some((sent, now_micros())),
            Answer::Unused => None,
        };
        if let Some((sent, now)) = answered {
            if let Answer::Measured(..) = answer {
                let took = now.saturating_sub(sent);
                // An exponential average over about eight answers.
                let old = self.latency.load(Ordering::Relaxed);
                let new = if old == 0 { took } else { (old * 7 + took) / 8 };
                self.latency.store(new, Ordering::Relaxed);
            }
            self.last_progress.store(now, Ordering::Release);
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// A caller left a request unanswered; see `left_unanswered`. Undone by
    /// [`answered_left`](Self::answered_left).
    pub(crate) fn leave_unanswered(&self) {
        self.left_unanswered.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn answered_left(&self) {
        self.left_unanswered.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a request a caller left is still unanswered.
    pub(crate) fn has_unanswered_left(&self) -> bool {
        self.left_unanswered.load(Ordering::Acquire) > 0
    }

    /// Microseconds since the connection last answered (or became busy).
    pub(crate) fn quiet_for(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_progress.load(Ordering::Acquire))
    }

    /// The smoothed answer latency in microseconds.
    pub(crate) fn latency(&self) -> u64 {
        self.latency.load(Ordering::Relaxed)
    }

    /// Sends a cancel request and waits until the server has acted on it.
    ///
    /// The driver's `cancel_query` returns once the request is written, but
    /// the server signals the backend a moment later, so the cancel could
    /// land on a statement sent after it. The postmaster closes the cancel
    /// connection only after signalling, so wait for that close.
    async fn cancel(&self) -> bool {
        let token = self.client.cancel_token();
        let confirmed = async {
            match &self.cancel_addr {
                CancelAddr::Tcp(host, port) => {
                    match tokio::net::TcpStream::connect((host.as_str(), *port)).await {
                        Ok(socket) => match &self.tls {
                            Some(connector) => {
                                cancel_over_tls(&token, socket, connector, host).await
                            }
                            None => cancel_on(&token, socket).await,
                        },
                        Err(_) => false,
                    }
                }
                #[cfg(unix)]
                CancelAddr::Unix(path) => match tokio::net::UnixStream::connect(path).await {
                    Ok(socket) => cancel_on(&token, socket).await,
                    Err(_) => false,
                },
                CancelAddr::Unknown => token.cancel_query(NoTls).await.is_ok(),
            }
        };
        tokio::time::timeout(CANCEL_LIMIT, confirmed)
            .await
            .unwrap_or(false)
    }

    /// Cancels the backend's current statement and waits until every earlier
    /// request on this connection has been answered. Returns whether the
    /// connection is fit for reuse.
    async fn cancel_and_drain(&self) -> bool {
        if !self.cancel().await {
            return false;
        }
        // Responses come back in request order, so an empty query returns
        // only after the abandoned statement has finished. PostgreSQL ignores
        // a cancel that arrives while the backend waits for a command; one
        // that lands on this empty query is harmless.
        match self.client.simple_query("").await {
            Ok(_) => true,
            Err(e) => e.code() == Some(&SqlState::QUERY_CANCELED),
        }
    }
}

impl PgConnection {
    /// The backend's pid and the server's version, through the call guard.
    pub(crate) async fn backend_facts(&self, timeout: Option<Duration>) -> Result<(i32, String)> {
        let sql = "SELECT pg_backend_pid(), current_setting('server_version')";
        let lease = Lease::Borrowed(self);
        let row = crate::call::run(
            &lease,
            Stmt::internal(sql, timeout, None),
            |st| async move { self.client.query_one(&st, &[]).await },
        )
        .await?;
        Ok((row.get(0), row.get(1)))
    }
}
