//! The workloads and the stacks they run through.

use std::fmt;

/// One workload of DESIGN §12 / issue 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Point select by primary key into a struct (10,000-row table).
    W1,
    /// 1,000 rows into structs.
    W2,
    /// 100,000-row insert in one transaction, each stack's bulk-insert API;
    /// raw sends one prepared INSERT per row, pipelined (the floor the
    /// issue names).
    W3a,
    /// The same rows, with raw sending what pgdbm's `execute_many` sends
    /// since it rewrites a single-row INSERT: 100-row INSERTs, 8 in flight.
    W3aMulti,
    /// 100,000 rows by binary COPY.
    W3b,
    /// BEGIN, INSERT .. RETURNING id, UPDATE, COMMIT.
    W4,
    /// `SELECT 1`.
    W5,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 7] = [
        Workload::W1,
        Workload::W2,
        Workload::W3a,
        Workload::W3aMulti,
        Workload::W3b,
        Workload::W4,
        Workload::W5,
    ];

    /// Parses a workload name as given to `--only`.
    pub fn parse(name: &str) -> Result<Workload, String> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "W1" => Workload::W1,
            "W2" => Workload::W2,
            "W3A-ONLY" | "W3A-PIPE" => Workload::W3a,
            "W3A-MULTI" => Workload::W3aMulti,
            "W3B" => Workload::W3b,
            "W4" => Workload::W4,
            "W5" => Workload::W5,
            _ => {
                return Err(format!(
                    "unknown workload {name} (W1 W2 W3a W3a-pipe W3a-multi W3b W4 W5 micro)"
                ));
            }
        })
    }

    /// Whether the workload is a bulk load (one operation = one load of
    /// many rows), not a timed loop of small operations.
    pub fn is_bulk(self) -> bool {
        matches!(self, Workload::W3a | Workload::W3aMulti | Workload::W3b)
    }

    /// A short description for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Workload::W1 => "point select by primary key into a struct",
            Workload::W2 => "1,000 rows into structs",
            Workload::W3a => {
                "bulk insert in one transaction: raw = one prepared INSERT per row, 256 in flight; \
                 pgdbm-raw = execute_many; pgdbm-typed = insert_many; sqlx = QueryBuilder::push_values, 13,107 rows per statement"
            }
            Workload::W3aMulti => {
                "the same, raw = prepared 100-row INSERTs, 8 in flight (what execute_many sends for a simple INSERT)"
            }
            Workload::W3b => "bulk insert by binary COPY",
            Workload::W4 => "transaction: BEGIN, INSERT RETURNING id, UPDATE, COMMIT",
            Workload::W5 => "SELECT 1",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3a => "W3a",
            Workload::W3aMulti => "W3a-multi",
            Workload::W3b => "W3b",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
        })
    }
}

/// A client stack under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StackId {
    /// tokio-postgres + deadpool-postgres (`RecyclingMethod::Fast`,
    /// `prepare_cached`): the floor.
    Raw,
    /// pgdbm's `Database` with raw templated SQL.
    PgdbmRaw,
    /// pgdbm's typed builder on a `#[derive(Table)]` struct.
    PgdbmTyped,
    /// pgdbm's `Database` with raw templated SQL and multiplexing on (its
    /// default): statements pipelined over a few shared connections.
    PgdbmMux,
    /// Bare tokio-postgres clients shared by every task (as many as
    /// pgdbm-mux's default connection cap, picked round-robin), statements
    /// prepared once: what pipelining alone gives, the ceiling for
    /// pgdbm-mux.
    RawPipelined,
    /// sqlx with its default pool (pings each connection on acquire).
    Sqlx,
    /// sqlx with `test_before_acquire(false)`.
    SqlxNoPing,
    /// libpq's `pgbench -M prepared`, the C reference.
    Pgbench,
}

impl StackId {
    /// Every stack, in report order.
    pub const ALL: [StackId; 8] = [
        StackId::Raw,
        StackId::PgdbmRaw,
        StackId::PgdbmTyped,
        StackId::PgdbmMux,
        StackId::RawPipelined,
        StackId::Sqlx,
        StackId::SqlxNoPing,
        StackId::Pgbench,
    ];

    /// Parses a stack name as given to `--stacks`.
    pub fn parse(name: &str) -> Result<StackId, String> {
        StackId::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!("unknown stack {name} (raw pgdbm-raw pgdbm-typed pgdbm-mux raw-pipelined sqlx sqlx-noping pgbench)")
            })
    }

    /// The stack's name in flags and reports.
    pub fn name(self) -> &'static str {
        match self {
            StackId::Raw => "raw",
            StackId::PgdbmRaw => "pgdbm-raw",
            StackId::PgdbmTyped => "pgdbm-typed",
            StackId::PgdbmMux => "pgdbm-mux",
            StackId::RawPipelined => "raw-pipelined",
            StackId::Sqlx => "sqlx",
            StackId::SqlxNoPing => "sqlx-noping",
            StackId::Pgbench => "pgbench",
        }
    }

    /// Whether this stack has an implementation of `workload` (`Err` with
    /// the reason shown in the report when not).
    pub fn supports(self, workload: Workload) -> Result<(), &'static str> {
        use StackId::*;
        use Workload::*;
        match (self, workload) {
            (Raw, _) => Ok(()),
            (PgdbmTyped, W5) => Err("n/a: no table"),
            (PgdbmRaw | PgdbmTyped, _) => Ok(()),
            (PgdbmMux, W1 | W2 | W5) => Ok(()),
            (PgdbmMux, W4) => Err("n/a: transactions take an exclusive connection, as pgdbm-raw"),
            (PgdbmMux, _) => {
                Err("n/a: batches and COPY take an exclusive connection, as pgdbm-raw")
            }
            (RawPipelined, W1 | W2 | W5) => Ok(()),
            (RawPipelined, _) => Err("n/a: the pipelining reference runs single statements only"),
            (Sqlx, W3aMulti) => Err("n/a: sqlx's multi-row form is in W3a"),
            (Sqlx, W3b) => Err("skipped: sqlx COPY takes hand-encoded binary"),
            (SqlxNoPing, W3a | W3aMulti | W3b) => Err("n/a: one acquire per load, same as sqlx"),
            (Sqlx | SqlxNoPing, _) => Ok(()),
            (Pgbench, W1 | W5) => Ok(()),
            (Pgbench, _) => Err("n/a: the C reference runs W1 and W5 only"),
        }
    }
}

impl fmt::Display for StackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
