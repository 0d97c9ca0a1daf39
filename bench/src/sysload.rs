//! How much of the machine something other than this benchmark and the
//! PostgreSQL server used during a cell (a compile in another terminal, say),
//! so contaminated cells can be re-run and shown.
//!
//! Linux only: reads `/proc/stat` and `/proc/<pid>/stat`. Elsewhere every
//! reading is zero and nothing is flagged.

use std::time::{Duration, Instant};

use crate::measure::cpu_time;

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    /// Busy time of the whole machine.
    busy: Duration,
    /// CPU time of every process named `postgres`.
    server: Duration,
    /// This process and its waited-for children.
    ours: Duration,
}

fn ticks_per_sec() -> f64 {
    // SAFETY: `sysconf` has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn ticks(n: u64) -> Duration {
    Duration::from_secs_f64(n as f64 / ticks_per_sec())
}

fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return Duration::ZERO;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy = [0usize, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| f.get(i))
        .sum();
    ticks(busy)
}

/// The fields after the command name in `/proc/<pid>/stat`.
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    // state (not a number, kept as 0) ppid pgrp session tty tpgid flags
    // minflt cminflt majflt cmajflt utime stime ...
    Some(
        stat[close + 1..]
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect(),
    )
}

/// The PostgreSQL postmaster serving the backend with process id
/// `backend_pid`, if it runs on this machine (its parent).
pub fn postmaster_of(backend_pid: i32) -> Option<u32> {
    let ppid = *stat_fields(&backend_pid.to_string())?.get(1)?;
    u32::try_from(ppid).ok().filter(|&p| p > 1)
}

/// CPU time of the postmaster `server` and its children (the backends and
/// helper processes alive now).
fn server_cpu(server: Option<u32>) -> Duration {
    let Some(server) = server else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Some(f) = stat_fields(&name) else {
            continue;
        };
        let field = |i: usize| f.get(i).copied().unwrap_or(0);
        if name.parse::<u64>().ok() != Some(u64::from(server)) && field(1) != u64::from(server) {
            continue;
        }
        total += field(11) + field(12);
    }
    ticks(total)
}

/// The counters now; `server` is the postmaster whose processes count as
/// part of the benchmark.
pub fn snapshot(server: Option<u32>) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        busy: machine_busy(),
        server: server_cpu(server),
        ours: cpu_time(libc::RUSAGE_SELF) + cpu_time(libc::RUSAGE_CHILDREN),
    }
}

/// The share of the machine (0–100 % of all cores) used between `before`
/// and `after` by anything but this process, its children and PostgreSQL.
pub fn foreign_percent(before: &Snapshot, after: &Snapshot) -> f64 {
    let wall = after.at.duration_since(before.at).as_secs_f64();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if wall <= 0.0 {
        return 0.0;
    }
    let busy = after.busy.saturating_sub(before.busy).as_secs_f64();
    let known = after.server.saturating_sub(before.server).as_secs_f64()
        + after.ours.saturating_sub(before.ours).as_secs_f64();
    ((busy - known).max(0.0) / (wall * cores) * 100.0).min(100.0)
}

/// The 1-minute load average, if known.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
