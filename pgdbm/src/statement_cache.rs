//! A bounded cache of prepared statements, one per connection.
//!
//! deadpool-postgres' cache never evicts: with many schemas the same query
//! text exists once per schema, and a program that formats SQL dynamically
//! would grow it without limit. This one keeps at most `capacity` statements
//! and evicts the least recently used.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::Statement;

use crate::fasthash::FastMap;

struct Entry {
    statement: Statement,
    /// The session verdict of the SQL (`call::Verdict`), decided once when
    /// the statement was prepared, so a hit needs no lexing.
    verdict: u8,
    last_used: AtomicU64,
}

pub(crate) struct StatementCache {
    capacity: usize,
    clock: AtomicU64,
    /// Read-locked on the hot path: a hit only bumps an atomic, so callers
    /// on other threads never wait behind it, not even when the thread that
    /// holds it is preempted (on a busy small machine that stall would last
    /// a scheduler time slice and show in every in-flight call's latency).
    entries: RwLock<FastMap<Box<str>, Entry>>,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> Self {
        StatementCache {
            capacity: capacity.max(1),
            clock: AtomicU64::new(0),
            entries: RwLock::new(FastMap::default()),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The cached statement for `sql` and its verdict, marking it recently
    /// used.
    pub(crate) fn get(&self, sql: &str) -> Option<(Statement, u8)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(sql)?;
        entry.last_used.store(self.tick(), Ordering::Relaxed);
        Some((entry.statement.clone(), entry.verdict))
    }

    /// Stores a freshly prepared statement, evicting the least recently used
    /// one when full. Eviction scans the map, which is only paid on a miss
    /// (a round trip to the server anyway).
    pub(crate) fn insert(&self, sql: &str, statement: Statement, verdict: u8) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(sql) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(key) = oldest {
                // Dropping the last `Statement` handle makes tokio-postgres
                // close it on the server.
                entries.remove(&key);
            }
        }
        let entry = Entry {
            statement,
            verdict,
            last_used: AtomicU64::new(self.tick()),
        };
        entries.insert(sql.into(), entry);
    }

    /// Forgets `sql`, after the server said its plan is stale.
    pub(crate) fn remove(&self, sql: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sql);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
