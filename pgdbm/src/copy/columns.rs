//! What the server said about each COPY target (the columns copied, their
//! types, and the catalog's view of the table then), shared by every
//! connection of a pool.
//!
//! Binary COPY carries no types, so a value encoded as a column's old type
//! after an `ALTER TABLE` would be read as the new one; for a type of the
//! same width (int4 and float4) silently. A cached description is therefore
//! only used after the catalog confirms it, in the same round trip as the
//! COPY's start (see `start_copy`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::fasthash::FastMap;

/// The table's insertable columns (as a COPY without a column list writes
/// them: not dropped, not generated), with their types, in table order.
/// Takes the quoted, qualified name; never fails: a missing table has no
/// rows, and the catalog needs no privilege on the table.
pub(super) const CATALOG_COLUMNS: &str = "SELECT a.attname::text, a.atttypid \
     FROM pg_catalog.pg_attribute a \
     WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 \
     AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum";

/// Entries kept before one is dropped to make room: a program copies into
/// a handful of tables per schema, so this only bounds one that generates
/// table names.
const CAPACITY: usize = 256;

/// `(attname, atttypid)` of a table's insertable columns, from
/// [`CATALOG_COLUMNS`]. Compared as a whole rather than against the
/// described types: a domain column is described as its base type.
#[derive(Debug, Clone)]
pub(super) struct Fingerprint(Vec<(String, u32)>);

impl Fingerprint {
    /// Reads [`CATALOG_COLUMNS`] rows; `None` if a row is not of its shape.
    pub(super) fn read(rows: &[Row]) -> Option<Self> {
        rows.iter()
            .map(|row| Some((row.try_get::<_, String>(0).ok()?, row.try_get(1).ok()?)))
            .collect::<Option<Vec<_>>>()
            .map(Fingerprint)
    }

    /// Whether `rows` show the same columns and types, without copying them.
    pub(super) fn matches(&self, rows: &[Row]) -> bool {
        rows.len() == self.0.len()
            && rows.iter().zip(&self.0).all(|(row, (name, oid))| {
                row.try_get::<_, &str>(0).is_ok_and(|n| n == name)
                    && row.try_get::<_, u32>(1).is_ok_and(|o| o == *oid)
            })
    }

    /// The column names, in table order.
    pub(super) fn names(&self) -> Vec<String> {
        self.0.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Whether a COPY may write column `name` (it is listed).
    pub(super) fn lists(&self, name: &str) -> bool {
        self.0.iter().any(|(listed, _)| listed == name)
    }
}

/// A COPY target as the server described it.
#[derive(Debug)]
pub(super) struct Described {
    /// The `COPY .. FROM STDIN` sent (with the column list, when one was
    /// asked for).
    pub(super) sql: String,
    /// The columns copied, in the records' order.
    pub(super) columns: Vec<String>,
    /// Their types, as the server describes them.
    pub(super) types: Vec<Type>,
    /// The catalog's view of the table when `types` were described.
    pub(super) fingerprint: Fingerprint,
}

/// Descriptions of COPY targets, keyed by the COPY as requested (the
/// quoted, qualified table and the column list asked for), so two schemas
/// never share an entry. One per pool.
#[derive(Default)]
pub(crate) struct ColumnCache {
    entries: Mutex<FastMap<Box<str>, Arc<Described>>>,
    /// Descriptions asked of the server, cached or not.
    describes: AtomicU64,
}

impl std::fmt::Debug for ColumnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnCache")
            .field("entries", &self.len())
            .field("describes", &self.describes())
            .finish()
    }
}

impl ColumnCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, FastMap<Box<str>, Arc<Described>>> {
        // Entries are inserted and removed whole, so a panic elsewhere while
        // the lock was held leaves nothing half-done.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self, key: &str) -> Option<Arc<Described>> {
        self.lock().get(key).cloned()
    }

    pub(super) fn insert(&self, key: &str, entry: Arc<Described>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            // Any entry will do: a dropped one costs one description.
            if let Some(old) = entries.keys().next().cloned() {
                entries.remove(&old);
            }
        }
        entries.insert(key.into(), entry);
    }

    pub(super) fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(super) fn count_describe(&self) {
        self.describes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times a COPY described its target (a miss, or a cached
    /// entry found stale).
    pub(crate) fn describes(&self) -> u64 {
        self.describes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Arc<Described> {
        Arc::new(Described {
            sql: format!("COPY t{n}"),
            columns: vec!["a".into()],
            types: vec![Type::INT4],
            fingerprint: Fingerprint(vec![("a".into(), Type::INT4.oid())]),
        })
    }

    #[test]
    fn bounded_and_keyed_by_the_whole_request() {
        let cache = ColumnCache::default();
        cache.insert("COPY \"a\".\"t\"", entry(1));
        cache.insert("COPY \"b\".\"t\"", entry(2));
        assert_eq!(cache.get("COPY \"a\".\"t\"").unwrap().sql, "COPY t1");
        assert_eq!(cache.get("COPY \"b\".\"t\"").unwrap().sql, "COPY t2");
        cache.remove("COPY \"a\".\"t\"");
        assert!(cache.get("COPY \"a\".\"t\"").is_none());
        for n in 0..CAPACITY * 2 {
            cache.insert(&format!("k{n}"), entry(n));
            assert!(cache.len() <= CAPACITY);
        }
        // The newest entry is always kept; replacing one does not evict.
        let last = format!("k{}", CAPACITY * 2 - 1);
        assert!(cache.get(&last).is_some());
        cache.insert(&last, entry(0));
        assert_eq!(cache.len(), CAPACITY);
        assert_eq!(cache.get(&last).unwrap().sql, "COPY t0");
    }
}
