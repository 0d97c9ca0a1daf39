//! Schemas that passing tests give back, emptied, for later tests of the
//! same migration set.
//!
//! Building a test's schema means running the set's DDL, and for a set of
//! thirty tables the server spends most of a test's set-up on it (creating
//! the relations and their catalog rows, then dropping them). A passing
//! test's schema already has that structure: when the structure is still
//! the set's (a catalog digest says so) the harness empties its tables,
//! restarts its sequences and keeps it, and the next test of the set runs
//! in it, under its name (a rename would break function bodies, which hold
//! the schema's name as text). So the DDL runs about once per test thread
//! rather than once per test.
//!
//! What a test could have changed beyond its rows shows in the digest
//! (tables, columns and their types, constraints, indexes, functions,
//! triggers, types), and such a schema is dropped instead. A set whose
//! migrations insert rows of their own is never recycled: emptying would
//! lose them. The tracking table keeps its rows.
//!
//! Free schemas are dropped when the process exits (an `atexit` hook), so a
//! passing run still leaves nothing behind.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use super::admin_execute;
use crate::config::DatabaseConfig;
use crate::database::Database;
use crate::error::Result;
use crate::ident;
use crate::migrate::Migrator;

/// The structure of the schema whose oid `{ns}` stands for, as one md5 that
/// is the same for every schema built from one set: names, kinds, columns
/// and types by name, never by oid or schema-qualified text.
const DIGEST: &str = "SELECT md5(coalesce(string_agg(item, ' ' ORDER BY item), '')) FROM (
    SELECT format('c %s %s', relname, relkind) FROM pg_class WHERE relnamespace = {ns}
    UNION ALL
    SELECT format('a %s %s %s %s %s', c.relname, a.attname, t.typname, a.attnotnull, a.atthasdef)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
    WHERE c.relnamespace = {ns} AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('k %s %s', conname, contype) FROM pg_constraint WHERE connamespace = {ns}
    UNION ALL
    SELECT format('f %s %s', proname, pronargs) FROM pg_proc WHERE pronamespace = {ns}
    UNION ALL
    SELECT format('g %s %s', c.relname, g.tgname)
    FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
    WHERE c.relnamespace = {ns} AND NOT g.tgisinternal
    UNION ALL
    SELECT format('t %s', typname) FROM pg_type WHERE typnamespace = {ns}
) AS items (item)";

/// The dollar-quote tag of the clean-up block; names containing it (or any
/// `$`) are not recycled.
const TAG: &str = "$pgdbm_recycle$";

/// A migration set's recycling: the digest of its freshly built schema and
/// the schemas given back.
#[derive(Debug)]
pub(super) struct Recycler {
    /// `None`: the set's migrations insert rows, so schemas are not reused.
    digest: Option<String>,
    tracking: String,
    free: Mutex<Vec<String>>,
}

impl Recycler {
    /// Surveys `db`'s schema, just migrated for real: its digest, and
    /// whether any table but the tracking table has rows.
    pub(super) async fn survey(db: &Database, migrator: &Migrator) -> Result<Self> {
        let tracking = migrator.tracking_table();
        let schema = db.schema().unwrap_or_default().to_owned();
        let ns = "(SELECT oid FROM pg_namespace WHERE nspname = $1)";
        let digest: String = db
            .fetch_value(&DIGEST.replace("{ns}", ns), &[&schema])
            .await?;
        let tables: Vec<String> = db
            .fetch_all(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> $2",
                &[&schema, &tracking],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut seeded = false;
        for table in tables {
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM {})",
                ident::qualified(Some(&schema), &table)
            );
            seeded |= db.fetch_value::<bool>(&sql, &[]).await?;
        }
        Ok(Self {
            digest: (!seeded && recyclable(&schema) && recyclable(tracking)).then_some(digest),
            tracking: tracking.to_owned(),
            free: Mutex::default(),
        })
    }

    /// A schema an earlier test gave back, already built and empty, if
    /// there is one.
    pub(super) fn take(&self) -> Option<String> {
        let free = self.lock().pop()?;
        forget(&free);
        Some(free)
    }

    /// Empties a passing test's schema and keeps it for the next test, if
    /// its structure is still the set's; `false` when it must be dropped.
    pub(super) async fn give_back(&self, db: &Database, admin: &DatabaseConfig) -> bool {
        let (Some(digest), Some(schema)) = (&self.digest, db.schema()) else {
            return false;
        };
        if !cfg!(unix) || !recyclable(schema) {
            return false;
        }
        let sql = clean_up(schema, &self.tracking, digest);
        if db.execute(&sql, &[]).await.is_err() {
            return false;
        }
        remember(schema, admin);
        self.lock().push(schema.to_owned());
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One round trip that checks the digest (raising if it differs), empties
/// every table but the tracking table, and restarts every sequence used
/// since, except the tracking table's own.
fn clean_up(schema: &str, tracking: &str, digest: &str) -> String {
    let digest_sql = DIGEST.replace("{ns}", "ns");
    let schema = ident::literal(schema);
    let tracking = ident::literal(tracking);
    let digest = ident::literal(digest);
    format!(
        "DO {TAG}
DECLARE
    ns oid := (SELECT oid FROM pg_namespace WHERE nspname = {schema});
    keep oid := (SELECT oid FROM pg_class WHERE relnamespace = ns AND relname = {tracking});
    rel oid;
    used boolean;
    deleted boolean;
    blocked boolean;
BEGIN
    -- A lock the test left behind fails the clean-up, and the schema is dropped.
    PERFORM set_config('lock_timeout', '5s', true);
    IF ({digest_sql}) <> {digest} THEN
        RAISE EXCEPTION 'pgdbm: the test changed its schema''s structure';
    END IF;
    -- DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new
    -- files for each table and index it reaches (CASCADE reaches most), which
    -- cost more than the rest of a test's set-up. A row still referenced
    -- waits for a later pass; passes end when one finds every table empty,
    -- and a cycle of references that no DELETE can break is truncated.
    FOR pass IN 1..100 LOOP
        deleted := false;
        blocked := false;
        FOR rel IN SELECT oid FROM pg_class WHERE relnamespace = ns AND relkind IN ('r', 'p') AND oid IS DISTINCT FROM keep LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', rel::regclass) INTO used;
            CONTINUE WHEN NOT used;
            BEGIN
                EXECUTE format('DELETE FROM %s', rel::regclass);
                deleted := true;
            EXCEPTION WHEN foreign_key_violation THEN
                blocked := true;
            END;
        END LOOP;
        EXIT WHEN NOT deleted AND NOT blocked;
        IF NOT deleted OR pass = 100 THEN
            FOR rel IN SELECT oid FROM pg_class WHERE relnamespace = ns AND relkind IN ('r', 'p') AND oid IS DISTINCT FROM keep LOOP
                EXECUTE format('TRUNCATE %s CASCADE', rel::regclass);
            END LOOP;
            EXIT;
        END IF;
    END LOOP;
    FOR rel IN
        SELECT s.seqrelid FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        WHERE c.relnamespace = ns AND pg_sequence_last_value(s.seqrelid) IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = s.seqrelid AND d.refobjid = keep)
    LOOP
        PERFORM setval(rel, (SELECT seqstart FROM pg_sequence WHERE seqrelid = rel), false);
    END LOOP;
END {TAG}"
    )
}

/// Whether `name` can go into the clean-up block's dollar quotes.
fn recyclable(name: &str) -> bool {
    !name.contains('$')
}

/// Every free schema of the process, with the server to drop it on at exit.
static FREE: LazyLock<Mutex<HashMap<String, DatabaseConfig>>> = LazyLock::new(Default::default);

fn remember(schema: &str, admin: &DatabaseConfig) {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(register_exit_hook);
    FREE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(schema.to_owned(), admin.clone());
}

fn forget(schema: &str) {
    FREE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(schema);
}

#[cfg(unix)]
fn register_exit_hook() {
    // SAFETY: `atexit` only records the function pointer; `drop_free_schemas`
    // catches every panic, so none unwinds into C.
    unsafe {
        libc::atexit(drop_free_schemas);
    }
}

#[cfg(not(unix))]
fn register_exit_hook() {}

/// At exit: drops the free schemas. The work runs on a thread of its own,
/// because by now the exiting thread's thread-locals (the runtime's among
/// them) are gone.
#[cfg(unix)]
extern "C" fn drop_free_schemas() {
    let _ = std::panic::catch_unwind(|| {
        let free = std::mem::take(&mut *FREE.lock().unwrap_or_else(PoisonError::into_inner));
        let mut by_server: HashMap<String, (DatabaseConfig, Vec<String>)> = HashMap::new();
        for (schema, admin) in free {
            let key = format!("{}:{}/{}", admin.host, admin.port, admin.database);
            by_server
                .entry(key)
                .or_insert_with(|| (admin, Vec::new()))
                .1
                .push(ident::quote(&schema));
        }
        if by_server.is_empty() {
            return;
        }
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                for (admin, schemas) in by_server.into_values() {
                    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", schemas.join(", "));
                    let drop = admin_execute(&admin, &sql);
                    match tokio::time::timeout(Duration::from_secs(30), drop).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => eprintln!("pgdbm::test: could not drop free schemas: {e}"),
                        Err(_) => eprintln!("pgdbm::test: dropping free schemas timed out"),
                    }
                }
            });
            std::io::Result::Ok(())
        });
        let _ = worker.join();
    });
}
