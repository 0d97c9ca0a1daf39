//! Multiplexing: statements run directly on a `Database` share a few
//! pipelined connections instead of taking an exclusive pooled connection
//! each.
//!
//! tokio-postgres pipelines the requests of concurrent callers of one
//! `Client` into shared writes; on a small machine that nearly doubles
//! throughput over one exclusive connection per call (DESIGN §7b). Each
//! shared connection has its own connection task (no single aggregator).
//! The shared connections are objects of the pool itself, held for as long
//! as they are shared, so `max_connections` bounds every server session.
//!
//! Routing: a call claims the connection with the fewest requests in
//! flight, in one atomic step, skipping one that is stuck (requests in
//! flight and no answer for several times its usual latency); the set grows
//! when every connection is deeper than `multiplex_depth`. A request counts
//! until the server answers it, also when its caller has left.
//!
//! A shared connection carries no session state and is never sent a cancel
//! request, which would hit whichever caller's statement runs at that
//! moment: a call that times out abandons its response, and the server's
//! `statement_timeout` (set on these connections to the smaller of it and
//! `command_timeout`) bounds the statement. A connection that breaks fails
//! its in-flight calls with a retryable error and is replaced on the next
//! call; nothing is sent again behind a caller's back.
//!
//! Opening: one caller opens at a time, bounded by the call's deadline and
//! `connect_timeout`. Callers with nothing to use wait for its outcome; a
//! failed open wakes them all, and they try again after a pause that grows
//! with each failure, so no one spins while the server is away and the
//! first attempt after it is back succeeds.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use deadpool::managed::Timeouts;
use tokio::time::Instant;

use crate::call::{Stmt, guarded};
use crate::config::DatabaseConfig;
use crate::conn::{Lease, SharedLease};
use crate::connection::{PgConnection, now_micros};
use crate::error::{ConnectTarget, Error, Result};
use crate::pool::{Object, Pool, pool_error};

/// A connection with requests in flight is stuck when it has not answered
/// for this many times its usual latency...
const STUCK_FACTOR: u64 = 8;
/// ... and never sooner than this.
const STUCK_FLOOR: Duration = Duration::from_millis(1);
/// An extra shared connection idle this long is given back.
const IDLE_EXTRA: Duration = Duration::from_secs(60);
/// The first pause after a failed open; it doubles up to the maximum.
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_millis(250);
/// How long a retired shared connection may take to answer what is in
/// flight on it before it is closed anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

pub(crate) struct Mux {
    pool: Pool,
    /// What the server must enforce on shared connections, and what the
    /// pool's connections start with.
    statement_timeout: Option<Duration>,
    pool_statement_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    target: ConnectTarget,
    max: usize,
    depth: usize,
    /// A shared connection that has served this many is retired, as an
    /// exclusive one is recycled.
    max_queries: u64,
    conns: RwLock<Vec<Object>>,
    /// An open is under way.
    opening: AtomicBool,
    /// Signalled when an open ends, either way.
    opened: tokio::sync::Notify,
    /// Opens failed since the last success.
    failures: AtomicU32,
    closed: AtomicBool,
}

impl std::fmt::Debug for Mux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("max", &self.max)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// What a look at the connections found.
enum Pick {
    /// A slot on this connection is claimed.
    Claimed(PgConnection),
    /// Every connection is too deep or stuck; this one is the least busy.
    /// The best connection is full; `true` when it is stuck (it has not
    /// answered for many times its usual latency) rather than just busy.
    Saturated(PgConnection, bool),
    /// No usable connection.
    Empty,
}

/// Clears `opening` and wakes the waiters however the open ends, the
/// opener's future dropped included.
struct Opening<'m>(&'m Mux);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.opening.store(false, Ordering::Release);
        self.0.opened.notify_waiters();
    }
}

impl Mux {
    /// Shares at most `max` of `pool`'s connections.
    pub(crate) fn new(pool: Pool, config: &DatabaseConfig, max: usize) -> Mux {
        // The server bounds statements here; the client never cancels.
        let statement_timeout = match (config.statement_timeout, config.command_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Mux {
            pool,
            statement_timeout,
            pool_statement_timeout: config.statement_timeout,
            connect_timeout: config.connect_timeout,
            target: ConnectTarget::from_config(config),
            max,
            depth: config.multiplex_depth,
            max_queries: config.max_queries,
            conns: RwLock::new(Vec::new()),
            opening: AtomicBool::new(false),
            opened: tokio::sync::Notify::new(),
            failures: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Opens the first shared connection, so the first call does not pay
    /// for it.
    pub(crate) async fn warm_up(&self, limit: Option<Duration>) -> Result<()> {
        drop(self.lease(limit, None).await?);
        Ok(())
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let conns = std::mem::take(&mut *self.conns.write().unwrap_or_else(|e| e.into_inner()));
        retire(conns);
    }

    /// (shared connections, requests in flight on them)
    pub(crate) fn stats(&self) -> (usize, usize) {
        let conns = self.conns.read().unwrap_or_else(|e| e.into_inner());
        let in_flight = conns.iter().map(|c| c.in_flight()).sum();
        (conns.len(), in_flight)
    }

    /// Claims the least busy usable connection unless every one is
    /// saturated and the set may still grow. The second value says that
    /// some connection should be dropped (broken, or an idle extra).
    fn pick(&self) -> (Pick, bool) {
        let conns = self.conns.read().unwrap_or_else(|e| e.into_inner());
        let now = now_micros();
        let floor = STUCK_FLOOR.as_micros() as u64;
        let idle_after = IDLE_EXTRA.as_micros() as u64;
        loop {
            let mut best: Option<(&Object, usize, usize, bool)> = None;
            let mut prune = false;
            for conn in conns.iter() {
                if !self.keeps(conn) {
                    prune = true;
                    continue;
                }
                let in_flight = conn.in_flight();
                let quiet_for = conn.quiet_for(now);
                if in_flight == 0 && quiet_for > idle_after && conns.len() > 1 {
                    prune = true;
                }
                // Slow to answer for its usual latency, or holding a request
                // its caller gave up on (whose latency is no guide: it may
                // be the long statement that made the caller leave).
                let stuck = in_flight > 0
                    && (conn.has_unanswered_left()
                        || quiet_for > (conn.latency() * STUCK_FACTOR).max(floor));
                let score = in_flight + if stuck { 1 << 20 } else { 0 };
                if best.is_none_or(|(_, _, s, _)| score < s) {
                    best = Some((conn, in_flight, score, stuck || in_flight >= self.depth));
                }
            }
            return match best {
                None => (Pick::Empty, prune),
                Some((conn, seen, _, saturated)) if !saturated || conns.len() >= self.max => {
                    if !conn.try_claim(seen) {
                        // Another caller claimed it meanwhile: look again.
                        continue;
                    }
                    (Pick::Claimed(PgConnection::clone(conn)), prune)
                }
                Some((conn, in_flight, ..)) => {
                    let stuck = in_flight < self.depth;
                    (Pick::Saturated(PgConnection::clone(conn), stuck), prune)
                }
            };
        }
    }

    /// Whether `conn` may take more requests: not broken, and short of
    /// `max_queries`.
    fn keeps(&self, conn: &PgConnection) -> bool {
        conn.is_usable() && conn.queries() < self.max_queries
    }

    /// Gives back broken connections, those past `max_queries`, and idle
    /// extras. Also run by the pool's keeper, so a connection the server
    /// closed does not count as open until the next call.
    pub(crate) fn prune(&self) {
        let now = now_micros();
        let idle_after = IDLE_EXTRA.as_micros() as u64;
        let mut gone = Vec::new();
        {
            let mut conns = self.conns.write().unwrap_or_else(|e| e.into_inner());
            // Keep one idle connection even when everything is idle.
            let mut kept_idle = false;
            for conn in std::mem::take(&mut *conns) {
                if !conn.is_usable() {
                    // Lost, not retired: dropped as it is, and the pool
                    // counts it as such.
                    conn.mark_broken();
                    continue;
                }
                let idle = conn.in_flight() == 0 && conn.quiet_for(now) > idle_after;
                let keep = self.keeps(&conn) && (!idle || !std::mem::replace(&mut kept_idle, true));
                if keep {
                    conns.push(conn);
                } else {
                    gone.push(conn);
                }
            }
        }
        retire(gone);
    }

    /// A shared connection for one statement; waits at most `limit` for
    /// one to be opened. When it had to wait, the lease carries the
    /// deadline of the whole call, `call_limit` from now.
    pub(crate) async fn lease(
        &self,
        limit: Option<Duration>,
        call_limit: Option<Duration>,
    ) -> Result<SharedLease> {
        let mut deadline: Option<Option<Instant>> = None;
        let mut call_deadline = None;
        let mut pause = RETRY_FIRST;
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::PoolClosed);
            }
            let (pick, prune) = self.pick();
            if prune {
                self.prune();
            }
            // A stuck connection is no fallback: a call queued on it waits
            // for whatever holds it up. Only a busy one is worth joining
            // while another is being opened.
            let (best, stuck) = match pick {
                Pick::Claimed(conn) => return Ok(SharedLease::claimed(conn, call_deadline)),
                Pick::Saturated(conn, false) => (Some(conn), None),
                Pick::Saturated(conn, true) => (None, Some(conn)),
                Pick::Empty => (None, None),
            };
            let deadline = *deadline.get_or_insert_with(|| {
                let now = Instant::now();
                call_deadline = call_limit.map(|l| now + l);
                limit.map(|l| now + l)
            });
            if !self.opening.swap(true, Ordering::AcqRel) {
                let opening = Opening(self);
                // With any connection to fall back on, never queue for the pool.
                let opened = self.open(deadline, best.is_some() || stuck.is_some()).await;
                drop(opening);
                return match (opened, best.or(stuck)) {
                    (Ok(conn), _) | (Err(_), Some(conn)) => {
                        conn.claim();
                        Ok(SharedLease::claimed(conn, call_deadline))
                    }
                    (Err(e), None) => Err(e),
                };
            }
            if let Some(conn) = best {
                // Someone is opening another; use what is there meanwhile.
                conn.claim();
                return Ok(SharedLease::claimed(conn, call_deadline));
            }
            // Nothing to use: wait for the opener's outcome.
            let notified = self.opened.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.opening.load(Ordering::Acquire) {
                match deadline {
                    Some(at) => {
                        if tokio::time::timeout_at(at, notified).await.is_err() {
                            return Err(self.timed_out(limit));
                        }
                    }
                    None => notified.await,
                }
            }
            if self.failures.load(Ordering::Acquire) > 0 {
                // The server is away: try again later, not all at once.
                let wake = Instant::now() + pause;
                if deadline.is_some_and(|at| at <= wake) {
                    return Err(self.timed_out(limit));
                }
                tokio::time::sleep_until(wake).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }

    fn timed_out(&self, limit: Option<Duration>) -> Error {
        Error::PoolTimeout(limit.unwrap_or_default())
    }

    /// Takes a connection from the pool and makes it shared: at once when
    /// there is already one to use (`have_one`), else waiting for the pool
    /// until `deadline`.
    async fn open(&self, deadline: Option<Instant>, have_one: bool) -> Result<PgConnection> {
        let remaining = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let wait = if have_one {
            Some(Duration::ZERO)
        } else {
            remaining
        };
        let create = match (self.connect_timeout, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeouts = Timeouts {
            wait,
            create,
            recycle: Some(Duration::from_secs(5)),
        };
        let opened = async {
            let obj = self
                .pool
                .timeout_get(&timeouts)
                .await
                .map_err(|e| pool_error(e, wait.unwrap_or_default(), &self.target))?;
            if self.statement_timeout != self.pool_statement_timeout {
                let ms = self.statement_timeout.map_or(0, |d| d.as_millis());
                let sql = format!("SET statement_timeout = {ms}");
                let conn = PgConnection::clone(&obj);
                let lease = Lease::Borrowed(&conn);
                let set = guarded(&lease, Stmt::internal(&sql, create, None), None, async {
                    conn.client()
                        .batch_execute(&sql)
                        .await
                        .map_err(|e| Error::from_driver(e, Some(&sql)))
                });
                if let Err(e) = set.await {
                    // Its session is neither shared nor the pool's.
                    obj.mark_broken();
                    return Err(e);
                }
            }
            Ok(obj)
        };
        match opened.await {
            Ok(obj) => {
                self.failures.store(0, Ordering::Release);
                let conn = PgConnection::clone(&obj);
                self.conns
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(obj);
                Ok(conn)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }
}

/// Gives shared connections back to the pool, which closes them: they may
/// carry the shared `statement_timeout`. One with requests still in flight
/// is given back once they are answered, so the pool cannot open its
/// replacement while its session still counts against `max_connections`.
fn retire(conns: Vec<Object>) {
    for conn in conns {
        conn.retire();
        if conn.in_flight() == 0 {
            continue;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            continue;
        };
        runtime.spawn(async move {
            let until = Instant::now() + DRAIN_LIMIT;
            while conn.in_flight() > 0 && !conn.client().is_closed() && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            drop(conn);
        });
    }
}
