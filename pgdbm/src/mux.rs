//! Multiplexing: statements run directly on a `Database` share a few
//! pipelined connections instead of taking an exclusive pooled connection
//! each.
//!
//! tokio-postgres pipelines the requests of concurrent callers of one
//! `Client` into shared writes; on a small machine that nearly doubles
//! throughput over one exclusive connection per call (DESIGN §7b). Each
//! shared connection has its own connection task (no single aggregator), a
//! call picks the one with the fewest requests in flight, skipping one that
//! has made no progress lately (stuck behind a slow statement), and the set
//! grows when every connection is deeper than `multiplex_depth`.
//!
//! A shared connection carries no session state and is never sent a cancel
//! request, which would hit whichever caller's statement runs at that
//! moment: a call that times out abandons its response, and the server's
//! `statement_timeout` (set on these connections to the smaller of it and
//! `command_timeout`) bounds the statement. A connection that breaks fails
//! its in-flight calls with a retryable error and is replaced on the next
//! call; nothing is sent again behind a caller's back.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::config::DatabaseConfig;
use crate::error::{Error, Result};
use crate::pool::PgConnection;

/// A connection with requests in flight that has answered none for this
/// long is treated as stuck behind a slow statement.
const STUCK_AFTER: Duration = Duration::from_millis(2);
/// An extra shared connection idle this long is closed.
const IDLE_EXTRA: Duration = Duration::from_secs(60);

pub(crate) struct SharedConn {
    conn: PgConnection,
    in_flight: AtomicUsize,
    /// Microseconds since the mux's clock of the last answered request.
    last_progress: AtomicU64,
}

pub(crate) struct Mux {
    pg: tokio_postgres::Config,
    init_commands: Vec<String>,
    statement_cache_size: usize,
    max: usize,
    depth: usize,
    conns: RwLock<Vec<Arc<SharedConn>>>,
    opening: tokio::sync::Mutex<()>,
    clock: Instant,
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

impl Mux {
    pub(crate) fn new(config: &DatabaseConfig, search_path: Option<&str>) -> Mux {
        let mut shared = config.clone();
        // The server bounds statements here; the client never cancels.
        shared.statement_timeout = match (config.statement_timeout, config.command_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Mux {
            pg: shared.pg_config(search_path),
            init_commands: config.init_commands.clone(),
            statement_cache_size: config.statement_cache_size,
            max: config.multiplex_connections,
            depth: config.multiplex_depth,
            conns: RwLock::new(Vec::new()),
            opening: tokio::sync::Mutex::new(()),
            clock: Instant::now(),
            closed: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    /// Opens the first shared connection, so the first call does not pay
    /// for it.
    pub(crate) async fn warm_up(&self) -> Result<()> {
        drop(self.lease().await?);
        Ok(())
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.conns
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// (shared connections, requests in flight on them)
    pub(crate) fn stats(&self) -> (usize, usize) {
        let conns = self.conns.read().unwrap_or_else(|e| e.into_inner());
        let in_flight = conns
            .iter()
            .map(|c| c.in_flight.load(Ordering::Relaxed))
            .sum();
        (conns.len(), in_flight)
    }

    /// The least busy usable connection (and whether it is saturated: too
    /// deep, or stuck), the number of connections, and whether some
    /// connection should be dropped (broken, or an idle extra).
    fn pick(&self) -> (Option<(Arc<SharedConn>, bool)>, usize, bool) {
        let conns = self.conns.read().unwrap_or_else(|e| e.into_inner());
        let now = self.now();
        let stuck_after = STUCK_AFTER.as_micros() as u64;
        let idle_after = IDLE_EXTRA.as_micros() as u64;
        let mut best: Option<(&Arc<SharedConn>, usize, bool)> = None;
        let mut prune = false;
        for conn in conns.iter() {
            if !conn.conn.is_usable() {
                prune = true;
                continue;
            }
            let in_flight = conn.in_flight.load(Ordering::Relaxed);
            let quiet_for = now.saturating_sub(conn.last_progress.load(Ordering::Relaxed));
            if in_flight == 0 && quiet_for > idle_after && conns.len() > 1 {
                prune = true;
            }
            let stuck = in_flight > 0 && quiet_for > stuck_after;
            let score = in_flight + if stuck { 1 << 20 } else { 0 };
            if best.is_none_or(|(_, s, _)| score < s) {
                best = Some((conn, score, stuck || in_flight >= self.depth));
            }
        }
        (
            best.map(|(c, _, saturated)| (c.clone(), saturated)),
            conns.len(),
            prune,
        )
    }

    fn prune(&self) {
        let now = self.now();
        let idle_after = IDLE_EXTRA.as_micros() as u64;
        let mut conns = self.conns.write().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| c.conn.is_usable());
        if conns.len() > 1 {
            let mut keep_idle_one = false;
            conns.retain(|c| {
                let idle = c.in_flight.load(Ordering::Relaxed) == 0
                    && now.saturating_sub(c.last_progress.load(Ordering::Relaxed)) > idle_after;
                if !idle {
                    return true;
                }
                // Keep one connection even when everything is idle.
                let keep = !keep_idle_one;
                keep_idle_one = true;
                keep
            });
        }
    }

    fn lend(&self, conn: Arc<SharedConn>) -> SharedLease<'_> {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        SharedLease { conn, mux: self }
    }

    /// A shared connection for one statement.
    pub(crate) async fn lease(&self) -> Result<SharedLease<'_>> {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::PoolClosed);
            }
            let (best, count, prune) = self.pick();
            if prune {
                self.prune();
            }
            let best = match best {
                Some((conn, saturated)) if !saturated || count >= self.max => {
                    return Ok(self.lend(conn));
                }
                Some((conn, _)) => Some(conn),
                None => None,
            };
            // Open another; one opener at a time, the others keep using
            // what is there.
            let guard = match (self.opening.try_lock(), &best) {
                (Ok(guard), _) => guard,
                (Err(_), Some(conn)) => return Ok(self.lend(conn.clone())),
                (Err(_), None) => {
                    drop(self.opening.lock().await);
                    continue;
                }
            };
            match PgConnection::open(
                &self.pg,
                &self.init_commands,
                self.statement_cache_size,
                true,
            )
            .await
            {
                Ok(conn) => {
                    let conn = Arc::new(SharedConn {
                        conn,
                        in_flight: AtomicUsize::new(0),
                        last_progress: AtomicU64::new(self.now()),
                    });
                    self.conns
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(conn.clone());
                    drop(guard);
                    return Ok(self.lend(conn));
                }
                Err(e) => {
                    drop(guard);
                    return match best {
                        Some(conn) => Ok(self.lend(conn)),
                        None => Err(e),
                    };
                }
            }
        }
    }
}

/// One statement's share of a multiplexed connection.
pub(crate) struct SharedLease<'m> {
    conn: Arc<SharedConn>,
    mux: &'m Mux,
}

impl Deref for SharedLease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn.conn
    }
}

impl Drop for SharedLease<'_> {
    fn drop(&mut self) {
        self.conn
            .last_progress
            .store(self.mux.now(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
