//! Medians over rounds, and the markdown tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::measure::Sample;
use crate::micro::Micro;
use crate::workload::{StackId, Workload};

/// A cell: workload, concurrency (0 for a bulk load), stack.
pub type Key = (Workload, usize, StackId);

/// What happened in a cell over all rounds.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// One sample per round.
    Samples(Vec<Sample>),
    /// Not run, and why.
    Skipped(String),
}

/// Every cell's outcome.
#[derive(Debug, Default)]
pub struct Results {
    /// Keyed by cell.
    pub cells: BTreeMap<Key, Outcome>,
}

/// Medians of a cell's samples.
#[derive(Debug, Clone)]
pub struct Summary {
    /// ops/s (rows/s for a bulk load).
    pub ops: f64,
    /// (max − min) / median of ops/s over the rounds, in %.
    pub spread: f64,
    /// Median latency, µs (bulk: load time).
    pub p50_us: Option<f64>,
    /// 99th percentile latency, µs.
    pub p99_us: Option<f64>,
    /// Client CPU per operation (per row for a bulk load), µs.
    pub cpu_us: f64,
    /// Mean latency, µs, where percentiles are unknown (pgbench).
    pub mean_us: Option<f64>,
    /// The most of the machine other programs used in any round, %.
    pub foreign: Option<f64>,
    /// Failed operations over all rounds.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

impl Results {
    /// Adds one round's sample for `key`.
    pub fn add(&mut self, key: Key, sample: Sample) {
        match self
            .cells
            .entry(key)
            .or_insert_with(|| Outcome::Samples(Vec::new()))
        {
            Outcome::Samples(samples) => samples.push(sample),
            Outcome::Skipped(_) => {}
        }
    }

    /// Records that `key` is not run.
    pub fn skip(&mut self, key: Key, why: &str) {
        self.cells.insert(key, Outcome::Skipped(why.to_owned()));
    }

    /// `key`'s ops/s and CPU per op as ratios to raw's in the same cell:
    /// the median over rounds of the ratio within each round (the two ran
    /// seconds apart, so slow drifts of the machine cancel), or the ratio
    /// of the medians when the rounds do not pair up.
    pub fn ratios(&self, key: &Key) -> (Option<f64>, Option<f64>) {
        let raw_key = (key.0, key.1, StackId::Raw);
        let (Some(Outcome::Samples(ours)), Some(Outcome::Samples(raw))) =
            (self.cells.get(key), self.cells.get(&raw_key))
        else {
            return (None, None);
        };
        if ours.len() != raw.len() || ours.is_empty() {
            let (Some(a), Some(b)) = (self.summary(key), self.summary(&raw_key)) else {
                return (None, None);
            };
            let ops = (b.ops > 0.0).then(|| a.ops / b.ops);
            let cpu = (b.cpu_us > 0.0 && a.cpu_us.is_finite()).then(|| a.cpu_us / b.cpu_us);
            return (ops, cpu);
        }
        let pairs = || ours.iter().zip(raw.iter());
        let ops = median(
            pairs()
                .filter(|(_, r)| r.ops > 0)
                .map(|(o, r)| o.ops_per_sec() / r.ops_per_sec())
                .collect(),
        );
        let cpu = median(
            pairs()
                .map(|(o, r)| o.cpu_us_per_op() / r.cpu_us_per_op())
                .collect(),
        );
        (ops, cpu)
    }

    /// The medians of `key`, if it ran.
    pub fn summary(&self, key: &Key) -> Option<Summary> {
        let Some(Outcome::Samples(samples)) = self.cells.get(key) else {
            return None;
        };
        if samples.is_empty() {
            return None;
        }
        let ops: Vec<f64> = samples.iter().map(Sample::ops_per_sec).collect();
        let ops_median = median(ops.clone()).unwrap_or(0.0);
        let (lo, hi) = ops
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let us = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1e6);
        Some(Summary {
            ops: ops_median,
            spread: if ops_median > 0.0 {
                (hi - lo) / ops_median * 100.0
            } else {
                0.0
            },
            p50_us: median(samples.iter().filter_map(|s| us(s.p50)).collect()),
            p99_us: median(samples.iter().filter_map(|s| us(s.p99)).collect()),
            cpu_us: median(samples.iter().map(Sample::cpu_us_per_op).collect()).unwrap_or(f64::NAN),
            mean_us: median(samples.iter().filter_map(|s| us(s.mean)).collect()),
            foreign: samples.iter().filter_map(|s| s.foreign).reduce(f64::max),
            errors: samples.iter().map(|s| s.errors).sum(),
            first_error: samples.iter().find_map(|s| s.first_error.clone()),
        })
    }
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if v >= 10_000.0 => format!("{:.1} ms", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn conc_label(workload: Workload, conc: usize) -> String {
    if workload.is_bulk() {
        "1 conn".to_owned()
    } else {
        conc.to_string()
    }
}

/// The rows of the report: every (workload, concurrency) that has a cell.
fn row_keys(results: &Results) -> Vec<(Workload, usize)> {
    let mut keys: Vec<(Workload, usize)> = results.cells.keys().map(|(w, c, _)| (*w, *c)).collect();
    keys.dedup();
    keys
}

/// Renders the whole report.
pub fn render(results: &Results, stacks: &[StackId], micro: &[Micro]) -> String {
    let mut out = String::new();
    let rows = row_keys(results);

    // Table 1: throughput and ratio to raw.
    let _ = writeln!(
        out,
        "### Throughput (ops/s; W3 rows: rows/s) and ratio to raw\n\n\
         Medians over rounds; a ratio is the median over rounds of the ratio to raw in the same round.\n"
    );
    let mut header = "| workload | conc |".to_owned();
    let mut rule = "|---|---:|".to_owned();
    for s in stacks {
        let _ = write!(header, " {s} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &(w, c) in &rows {
        let raw = results.summary(&(w, c, StackId::Raw));
        let _ = write!(out, "| {w} | {} |", conc_label(w, c));
        for &s in stacks {
            let cell = match results.cells.get(&(w, c, s)) {
                None => "".to_owned(),
                Some(Outcome::Skipped(why)) => {
                    let cells = notes.entry(why.clone()).or_default();
                    let cell = format!("{s} {w}");
                    if !cells.contains(&cell) {
                        cells.push(cell);
                    }
                    let short = why.split(':').next().unwrap_or("n/a");
                    short.to_owned()
                }
                Some(Outcome::Samples(_)) => match results.summary(&(w, c, s)) {
                    Some(sum) if sum.errors > 0 && sum.ops == 0.0 => "error".to_owned(),
                    Some(sum) => {
                        let ratio = results
                            .ratios(&(w, c, s))
                            .0
                            .filter(|_| raw.is_some())
                            .map(|r| format!(" ({r:.2}×)"))
                            .unwrap_or_default();
                        let flag = if sum.errors > 0 { " ⚠" } else { "" };
                        format!("{}{ratio}{flag}", thousands(sum.ops))
                    }
                    None => "—".to_owned(),
                },
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push('\n');
        for (why, cells) in &notes {
            let _ = writeln!(out, "- {}: {why}", cells.join(", "));
        }
    }

    // Table 2: latency and CPU.
    let _ = writeln!(
        out,
        "\n### Latency and client CPU\n\n\
         Medians over rounds; vs raw = median over rounds of the same-round ratio. \
         spread = (max − min) / median of ops/s over the rounds. \
         W3 rows: p50 = time of one load, CPU per row. others' CPU = the most of the machine \
         (% of all cores) that programs other than this one, pgbench and PostgreSQL used \
         during any round of the cell.\n"
    );
    let _ = writeln!(
        out,
        "| workload | conc | stack | ops/s | vs raw | spread | p50 µs | p99 µs | CPU µs/op | CPU vs raw | others' CPU |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut behind = Vec::new();
    for &(w, c) in &rows {
        let raw = results.summary(&(w, c, StackId::Raw));
        for &s in stacks {
            let Some(sum) = results.summary(&(w, c, s)) else {
                continue;
            };
            let (ops_ratio, cpu_ratio) = results.ratios(&(w, c, s));
            let ratio = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or("—".into());
            let cpu = if sum.cpu_us.is_finite() {
                if sum.cpu_us < 10.0 {
                    format!("{:.2}", sum.cpu_us)
                } else {
                    format!("{:.1}", sum.cpu_us)
                }
            } else {
                "—".to_owned()
            };
            let errors = if sum.errors > 0 {
                format!(
                    " ⚠ {} errors: {}",
                    sum.errors,
                    sum.first_error.as_deref().unwrap_or("")
                )
            } else {
                String::new()
            };
            let p50 = match (sum.p50_us, sum.mean_us) {
                (None, Some(mean)) => format!("mean {}", fmt_us(Some(mean))),
                (p50, _) => fmt_us(p50),
            };
            let foreign = sum
                .foreign
                .map(|f| format!("{f:.0}%"))
                .unwrap_or_else(|| "—".to_owned());
            let _ = writeln!(
                out,
                "| {w} | {} | {s} | {}{errors} | {} | {:.1}% | {p50} | {} | {cpu} | {} | {foreign} |",
                conc_label(w, c),
                thousands(sum.ops),
                ratio(ops_ratio),
                sum.spread,
                fmt_us(sum.p99_us),
                ratio(cpu_ratio),
            );
            if matches!(s, StackId::PgdbmRaw | StackId::PgdbmTyped) {
                let slow = ops_ratio.is_some_and(|r| r < 0.97);
                let costly = cpu_ratio.is_some_and(|r| r > 1.10);
                if slow || costly {
                    behind.push(format!(
                        "- {w} conc {} {s}: ops/s {} of raw, CPU/op {} of raw (spread {:.1}%, raw's {:.1}%)",
                        conc_label(w, c),
                        ratio(ops_ratio),
                        ratio(cpu_ratio),
                        sum.spread,
                        raw.as_ref().map(|r| r.spread).unwrap_or(0.0),
                    ));
                }
            }
        }
    }

    if !micro.is_empty() {
        let _ = writeln!(
            out,
            "\n### CPU-only micro-benchmarks (no server round trip)\n"
        );
        let _ = writeln!(out, "| what | ns |");
        let _ = writeln!(out, "|---|---:|");
        for m in micro {
            let _ = writeln!(out, "| {} | {:.0} per {} |", m.name, m.ns, m.unit);
        }
    }

    let mut mux = Vec::new();
    for &(w, c) in &rows {
        if !matches!(w, Workload::W1 | Workload::W5) {
            continue;
        }
        let (Some(m), Some(raw)) = (
            results.summary(&(w, c, StackId::PgdbmMux)),
            results.summary(&(w, c, StackId::Raw)),
        ) else {
            continue;
        };
        if raw.ops <= 0.0 {
            continue;
        }
        let (ops_ratio, cpu_ratio) = results.ratios(&(w, c, StackId::PgdbmMux));
        let ratio = ops_ratio.unwrap_or(m.ops / raw.ops);
        let target = match c {
            1 => Some(0.97),
            16 => Some(1.7),
            _ => None,
        };
        let verdict = match target {
            Some(t) if ratio >= t => format!("target ≥ {t:.2}×: met"),
            Some(t) => format!("target ≥ {t:.2}×: **missed**"),
            None => "no target".to_owned(),
        };
        let cpu = cpu_ratio
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "—".to_owned());
        // Against the bare pipelined clients: what the layer itself costs.
        let ceiling = match (
            results.ratios(&(w, c, StackId::RawPipelined)).0,
            results.summary(&(w, c, StackId::RawPipelined)),
        ) {
            (Some(p), _) if p > 0.0 => format!(
                "; raw-pipelined {p:.2}× raw, so pgdbm-mux = {:.2}× of it",
                ratio / p
            ),
            (_, Some(p)) if p.ops > 0.0 => {
                format!("; pgdbm-mux = {:.2}× of raw-pipelined", m.ops / p.ops)
            }
            _ => String::new(),
        };
        mux.push(format!(
            "- {w} conc {c}: pgdbm-mux {} ops/s = {ratio:.2}× raw ({verdict}){ceiling}; CPU/op {cpu} of raw; p99 {} vs raw {} µs",
            thousands(m.ops),
            fmt_us(m.p99_us),
            fmt_us(raw.p99_us),
        ));
    }
    if !mux.is_empty() {
        let _ = writeln!(out, "\n### pgdbm-mux against issue 15's targets\n");
        for line in mux {
            let _ = writeln!(out, "{line}");
        }
    }

    let _ = writeln!(
        out,
        "\n### pgdbm (pooled: pgdbm-raw, pgdbm-typed) behind raw (ops/s below 0.97× or CPU/op above 1.10×)\n"
    );
    if behind.is_empty() {
        let _ = writeln!(out, "none");
    } else {
        for line in behind {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
