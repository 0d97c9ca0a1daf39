//! Counters of what a manager ran: cheap atomics bumped by the call guard,
//! read as a [`Metrics`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::Error;

/// The live counters of one schema on one pool (every manager of that
/// schema shares them, with their connections and transactions).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    statements: AtomicU64,
    multiplexed: AtomicU64,
    rows: AtomicU64,
    total_us: AtomicU64,
    max_us: AtomicU64,
    database_errors: AtomicU64,
    timeouts: AtomicU64,
    connection_errors: AtomicU64,
    other_errors: AtomicU64,
}

impl Counters {
    /// One statement that took `took`, on a shared connection or not.
    pub(crate) fn statement(&self, took: Duration, multiplexed: bool, error: Option<&Error>) {
        let us = took.as_micros() as u64;
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        if multiplexed {
            self.multiplexed.fetch_add(1, Ordering::Relaxed);
        }
        let Some(error) = error else { return };
        let class = match error {
            Error::Timeout(_) => &self.timeouts,
            Error::Connect(_) | Error::ConnectionClosed(_) | Error::PoolTimeout(_) => {
                &self.connection_errors
            }
            e if e.database_error().is_some() => &self.database_errors,
            _ => &self.other_errors,
        };
        class.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rows(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            statements: get(&self.statements),
            multiplexed: get(&self.multiplexed),
            rows: get(&self.rows),
            total_time: Duration::from_micros(get(&self.total_us)),
            max_time: Duration::from_micros(get(&self.max_us)),
            database_errors: get(&self.database_errors),
            timeouts: get(&self.timeouts),
            connection_errors: get(&self.connection_errors),
            other_errors: get(&self.other_errors),
        }
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.statements,
            &self.multiplexed,
            &self.rows,
            &self.total_us,
            &self.max_us,
            &self.database_errors,
            &self.timeouts,
            &self.connection_errors,
            &self.other_errors,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// What a manager's statements did since the pool opened (or the last
/// [`reset_metrics`](crate::Database::reset_metrics)), from
/// [`Database::metrics`](crate::Database::metrics).
///
/// Counted per schema on a pool: every manager, connection and transaction
/// of that schema adds to the same counters. Statements are the ones the
/// caller sent (raw, typed, bulk, COPY, streams); pgdbm's own transaction
/// control is not counted. Pool waits and reconnects are in
/// [`PoolStats`](crate::PoolStats).
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// db.fetch_value::<i64>("SELECT 1", &[]).await?;
/// let m = db.metrics();
/// assert!(m.statements >= 1);
/// println!("mean {:?}, max {:?}", m.mean_time(), m.max_time);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Statements run, failed ones included.
    pub statements: u64,
    /// Of those, the ones run on a multiplexed connection.
    pub multiplexed: u64,
    /// Rows returned or affected.
    pub rows: u64,
    /// Time in statements, from the wait for the connection to settle to
    /// the answer.
    pub total_time: Duration,
    /// The slowest statement.
    pub max_time: Duration,
    /// Statements the server refused (constraint violations, syntax, ...).
    pub database_errors: u64,
    /// Statements cut off by their deadline.
    pub timeouts: u64,
    /// Statements that lost their connection.
    pub connection_errors: u64,
    /// Other failures (parameters, row mapping, session state, ...).
    pub other_errors: u64,
}

impl Metrics {
    /// Every failure, whatever its class.
    ///
    /// ```
    /// let m = pgdbm::Metrics::default();
    /// assert_eq!(m.errors(), 0);
    /// ```
    pub fn errors(&self) -> u64 {
        self.database_errors + self.timeouts + self.connection_errors + self.other_errors
    }

    /// The mean time per statement (zero before the first).
    ///
    /// ```
    /// assert_eq!(pgdbm::Metrics::default().mean_time(), std::time::Duration::ZERO);
    /// ```
    pub fn mean_time(&self) -> Duration {
        match self.statements {
            0 => Duration::ZERO,
            n => Duration::from_nanos((self.total_time.as_nanos() / u128::from(n)) as u64),
        }
    }
}

/// What [`Database::health_check`](crate::Database::health_check) found.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let report = db.health_check(std::time::Duration::from_secs(1)).await?;
/// assert!(report.database_size > 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HealthReport {
    /// The check's round trip, connection checkout included.
    pub latency: Duration,
    /// The server's `server_version`.
    pub server_version: String,
    /// Whether the server is a standby (`pg_is_in_recovery()`).
    pub is_replica: bool,
    /// The database's size in bytes.
    pub database_size: u64,
    /// The pool at the time of the check.
    pub pool: crate::PoolStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_add_up() {
        let c = Counters::default();
        c.statement(Duration::from_millis(3), true, None);
        c.statement(
            Duration::from_millis(5),
            false,
            Some(&Error::timeout(Duration::from_millis(5), None)),
        );
        c.statement(Duration::from_millis(1), false, Some(&Error::PoolClosed));
        c.rows(7);
        let m = c.snapshot();
        assert_eq!((m.statements, m.multiplexed, m.rows), (3, 1, 7));
        assert_eq!((m.timeouts, m.other_errors, m.errors()), (1, 1, 2));
        assert_eq!(m.max_time, Duration::from_millis(5));
        assert_eq!(m.mean_time(), Duration::from_millis(3));
        c.reset();
        assert_eq!(c.snapshot(), Metrics::default());
    }
}
