//! Timing a cell: tasks in a loop for a fixed time, latencies, and the
//! process's CPU time over the timed window.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::stacks::Stacks;
use crate::sysload;
use crate::workload::{StackId, Workload};

/// CPU time (user + system) of this process (`libc::RUSAGE_SELF`) or of its
/// waited-for children (`libc::RUSAGE_CHILDREN`).
pub fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given, which is
    // plain old data and valid when zeroed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One measurement of one cell in one round.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Operations completed in the timed window (rows, for a bulk load).
    pub ops: u64,
    /// The timed window.
    pub elapsed: Duration,
    /// Client CPU (user + system) spent in the window.
    pub cpu: Duration,
    /// Median latency of one operation (a bulk load: the load's time).
    pub p50: Option<Duration>,
    /// 99th percentile latency.
    pub p99: Option<Duration>,
    /// Operations that failed (not counted in `ops`).
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Mean latency, where only that is known (pgbench).
    pub mean: Option<Duration>,
    /// Share of the machine (% of all cores) that other programs used
    /// during the window; `None` where it cannot be told apart.
    pub foreign: Option<f64>,
}

impl Sample {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Client CPU per operation, in µs.
    pub fn cpu_us_per_op(&self) -> f64 {
        if self.ops == 0 {
            return f64::NAN;
        }
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// What one task saw.
struct TaskLog {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `workload` through `stack` with `concurrency` tasks: `warmup`
/// untimed, then `duration` timed. Operations completing in the timed
/// window count; CPU is the whole process's over that window.
pub async fn timed_cell(
    stacks: &Arc<Stacks>,
    stack: StackId,
    workload: Workload,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    seed: u64,
) -> Sample {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let stacks = Arc::clone(stacks);
            let phase = Arc::clone(&phase);
            tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ ((i as u64 + 1) << 32));
                let mut log = TaskLog {
                    latencies: Vec::with_capacity(1 << 14),
                    errors: 0,
                    first_error: None,
                };
                loop {
                    if phase.load(Ordering::Relaxed) == STOP {
                        break;
                    }
                    let start = Instant::now();
                    let result = stacks.op(stack, workload, &mut rng).await;
                    let took = start.elapsed();
                    let in_window = phase.load(Ordering::Relaxed) == MEASURE;
                    match result {
                        Ok(()) if in_window => log.latencies.push(took.as_nanos() as u64),
                        Ok(()) => {}
                        Err(e) => {
                            log.errors += 1;
                            if log.first_error.is_none() {
                                log.first_error = Some(e.to_string());
                            }
                            // A persistent failure should not spin.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                log
            })
        })
        .collect();

    tokio::time::sleep(warmup).await;
    let snap0 = sysload::snapshot(stacks.postmaster);
    let cpu0 = cpu_time(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    phase.store(STOP, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let cpu = cpu_time(libc::RUSAGE_SELF).saturating_sub(cpu0);
    let snap1 = sysload::snapshot(stacks.postmaster);

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(log) => {
                latencies.extend(log.latencies);
                errors += log.errors;
                first_error = first_error.or(log.first_error);
            }
            Err(e) => {
                errors += 1;
                first_error = first_error.or(Some(format!("task failed: {e}")));
            }
        }
    }
    latencies.sort_unstable();
    Sample {
        ops: latencies.len() as u64,
        elapsed,
        cpu,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
        first_error,
        mean: None,
        foreign: Some(sysload::foreign_percent(&snap0, &snap1)),
    }
}

/// The `q` quantile of sorted nanosecond latencies.
pub fn percentile(sorted_ns: &[u64], q: f64) -> Option<Duration> {
    if sorted_ns.is_empty() {
        return None;
    }
    let rank = ((sorted_ns.len() as f64 * q).ceil() as usize).clamp(1, sorted_ns.len());
    Some(Duration::from_nanos(sorted_ns[rank - 1]))
}

/// One bulk load through `stack`, timed with its CPU.
pub async fn bulk_cell(stacks: &Stacks, stack: StackId, workload: Workload) -> Sample {
    let snap0 = sysload::snapshot(stacks.postmaster);
    let cpu0 = cpu_time(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    let result = stacks.bulk(stack, workload).await;
    let elapsed = t0.elapsed();
    let cpu = cpu_time(libc::RUSAGE_SELF).saturating_sub(cpu0);
    let foreign = Some(sysload::foreign_percent(
        &snap0,
        &sysload::snapshot(stacks.postmaster),
    ));
    match result {
        Ok(rows) => Sample {
            ops: rows,
            elapsed,
            cpu,
            p50: Some(elapsed),
            p99: None,
            errors: 0,
            first_error: None,
            mean: None,
            foreign,
        },
        Err(e) => Sample {
            ops: 0,
            elapsed,
            cpu,
            p50: None,
            p99: None,
            errors: 1,
            first_error: Some(e.to_string()),
            mean: None,
            foreign,
        },
    }
}
