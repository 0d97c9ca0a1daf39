//! libpq's `pgbench -M prepared` as the C reference for W1 and W5.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::measure::{Sample, cpu_time};
use crate::setup::Server;
use crate::workload::Workload;

/// Where pgbench is, if anywhere.
pub fn find() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("pgbench"))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("bin/pgbench"))
            .collect();
        // Newest first.
        versions.sort();
        versions.reverse();
        candidates.extend(versions);
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// pgbench's `--version` line.
pub fn version(pgbench: &Path) -> String {
    Command::new(pgbench)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "pgbench (version unknown)".to_owned())
}

/// The script for `workload` with tables qualified as in `users_table`.
fn script(workload: Workload, users_table: &str) -> Option<String> {
    match workload {
        Workload::W1 => Some(format!(
            "\\set id random(1, 10000)\nSELECT id, email, name, age, active FROM {users_table} WHERE id = :id;\n"
        )),
        Workload::W5 => Some("SELECT 1;\n".to_owned()),
        _ => None,
    }
}

/// Runs pgbench for `workload` with `clients` connections for `duration`
/// (rounded to whole seconds, at least 1) on database `dbname`.
///
/// ops/s is pgbench's tps without connection time; CPU is pgbench's own
/// user + system time (`RUSAGE_CHILDREN`) per transaction. Only the mean
/// latency is reported: pgbench's per-transaction log reads a per-thread
/// clock lazily, so with several clients per thread most entries say 0 µs.
pub fn run(
    pgbench: &Path,
    server: &Server,
    dbname: &str,
    users_table: &str,
    workload: Workload,
    clients: usize,
    duration: Duration,
) -> Sample {
    match run_inner(
        pgbench,
        server,
        dbname,
        users_table,
        workload,
        clients,
        duration,
    ) {
        Ok(sample) => sample,
        Err(e) => Sample {
            ops: 0,
            elapsed: duration,
            cpu: Duration::ZERO,
            p50: None,
            p99: None,
            errors: 1,
            first_error: Some(e),
            mean: None,
            foreign: None,
        },
    }
}

fn run_inner(
    pgbench: &Path,
    server: &Server,
    dbname: &str,
    users_table: &str,
    workload: Workload,
    clients: usize,
    duration: Duration,
) -> Result<Sample, String> {
    let script = script(workload, users_table).ok_or("no pgbench script")?;
    let dir = std::env::temp_dir().join(format!(
        "pgdbm-bench-{}-{workload}-{clients}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = (|| {
        let script_path = dir.join("script.sql");
        std::fs::write(&script_path, script).map_err(|e| e.to_string())?;
        let secs = duration.as_secs_f64().round().max(1.0) as u64;
        let threads = clients.min(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        let admin = &server.admin;
        let mut cmd = Command::new(pgbench);
        cmd.arg("-n")
            .args(["-M", "prepared"])
            .args(["-c", &clients.to_string()])
            .args(["-j", &threads.to_string()])
            .args(["-T", &secs.to_string()])
            .arg("-f")
            .arg(&script_path)
            .args(["-h", &admin.host])
            .args(["-p", &admin.port.to_string()])
            .args(["-U", &admin.user])
            .arg(dbname)
            .current_dir(&dir);
        if let Some(password) = &admin.password {
            cmd.env("PGPASSWORD", password);
        }
        let cpu0 = cpu_time(libc::RUSAGE_CHILDREN);
        let t0 = Instant::now();
        let output = cmd.output().map_err(|e| format!("pgbench: {e}"))?;
        let wall = t0.elapsed();
        let cpu = cpu_time(libc::RUSAGE_CHILDREN).saturating_sub(cpu0);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "pgbench failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let field = |prefix: &str| -> Option<f64> {
            stdout.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(prefix)?;
                rest.split_whitespace().next()?.parse().ok()
            })
        };
        let transactions = field("number of transactions actually processed:")
            .ok_or_else(|| format!("no transaction count in pgbench output:\n{stdout}"))?;
        let failed = field("number of failed transactions:").unwrap_or(0.0);
        let tps = field("tps =").ok_or_else(|| format!("no tps in pgbench output:\n{stdout}"))?;
        let mean = field("latency average =").map(|ms| Duration::from_secs_f64(ms / 1000.0));
        let elapsed = if tps > 0.0 {
            Duration::from_secs_f64(transactions / tps)
        } else {
            wall
        };
        Ok(Sample {
            ops: transactions as u64,
            elapsed,
            cpu,
            p50: None,
            p99: None,
            errors: failed as u64,
            first_error: (failed > 0.0).then(|| format!("{failed} failed transactions")),
            mean,
            // The server's backends for pgbench exit inside the window, so
            // their CPU cannot be told from other programs'.
            foreign: None,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
