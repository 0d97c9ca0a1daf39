//! Command-line options (no parser crate: a handful of flags).

use std::time::Duration;

use crate::workload::{StackId, Workload};

/// What one run measures and for how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workloads to run, in order.
    pub workloads: Vec<Workload>,
    /// Task counts for the timed workloads (W1, W2, W4, W5); `None`: the
    /// defaults of [`Options::concurrency_for`].
    pub concurrency: Option<Vec<usize>>,
    /// Stacks to compare (ratios are taken against raw; without it they
    /// are left out).
    pub stacks: Vec<StackId>,
    /// Connections in every stack's pool (min = max, opened before timing).
    pub pool_size: usize,
    /// Un-timed time before each timed cell.
    pub warmup: Duration,
    /// Timed time of each cell.
    pub duration: Duration,
    /// Times each cell is run (interleaved across stacks); medians reported.
    pub rounds: usize,
    /// Rows loaded by each W3 operation.
    pub bulk_rows: usize,
    /// pgdbm-mux's `multiplex_connections` (also raw-pipelined's client
    /// count); `None`: pgdbm's default.
    pub mux_connections: Option<usize>,
    /// pgdbm-mux's `multiplex_depth`; `None`: pgdbm's default.
    pub mux_depth: Option<usize>,
    /// Whether to run the CPU-only micro-benchmarks.
    pub micro: bool,
    /// `--quick` was given.
    pub quick: bool,
}

const USAGE: &str = "\
usage: cargo run --release -p pgdbm-bench -- [options]

  --quick                 short cells (0.2 s warm-up, 0.5 s timed), 1 round, short micro-benchmarks: a smoke test
  --only W1,W5            workloads: W1 W2 W3a W3b W4 W5 micro (W3a runs W3a and W3a-multi; W3a-only, W3a-multi one)
  --concurrency 1,16      task counts for W1 W2 W4 W5 (default 1,16, and 64 for W1 and W5)
  --stacks raw,sqlx       stacks: raw pgdbm-raw pgdbm-typed pgdbm-mux sqlx sqlx-noping pgbench (default all)
  --pool N                connections per stack's pool (default 16, at least the largest concurrency you want unqueued)
  --warmup SECS           un-timed seconds before each cell (default 0.3)
  --duration SECS         timed seconds per cell (default 1)
  --rounds N              interleaved repetitions per cell, medians reported (default 5)
  --rows N                rows per W3 load (default 100000)
  --mux-connections N     pgdbm-mux's multiplex_connections and raw-pipelined's clients (default: pgdbm's)
  --mux-depth N           pgdbm-mux's multiplex_depth (default: pgdbm's)
";

fn parse_list<T>(value: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse)
        .collect()
}

fn parse_secs(flag: &str, value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{flag}: not a number of seconds: {value}"))?;
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{flag}: out of range: {value}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_count(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: expected a positive integer, got {value}")),
    }
}

impl Options {
    /// Parses `args` (without the program name). `Err` carries the message
    /// to print; `--help` returns the usage text as an error.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut opts = Options {
            workloads: Workload::ALL.to_vec(),
            concurrency: None,
            stacks: StackId::ALL.to_vec(),
            pool_size: 16,
            warmup: Duration::from_millis(300),
            duration: Duration::from_secs(1),
            rounds: 5,
            bulk_rows: 100_000,
            mux_connections: None,
            mux_depth: None,
            micro: true,
            quick: false,
        };
        let mut timing_given = false;
        let mut rounds_given = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = || -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Err(USAGE.to_owned()),
                "--quick" => opts.quick = true,
                "--only" => {
                    let names = value()?;
                    let mut workloads = Vec::new();
                    opts.micro = false;
                    for name in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        if name.eq_ignore_ascii_case("micro") {
                            opts.micro = true;
                        } else if name.eq_ignore_ascii_case("W3a") {
                            workloads.extend([Workload::W3a, Workload::W3aMulti]);
                        } else {
                            workloads.push(Workload::parse(name)?);
                        }
                    }
                    opts.workloads = workloads;
                }
                "--concurrency" => {
                    let mut list = parse_list(&value()?, |s| parse_count("--concurrency", s))?;
                    list.dedup();
                    opts.concurrency = Some(list);
                }
                "--stacks" => opts.stacks = parse_list(&value()?, StackId::parse)?,
                "--pool" => opts.pool_size = parse_count("--pool", &value()?)?,
                "--warmup" => {
                    opts.warmup = parse_secs("--warmup", &value()?)?;
                    timing_given = true;
                }
                "--duration" => {
                    opts.duration = parse_secs("--duration", &value()?)?;
                    timing_given = true;
                }
                "--rounds" => {
                    opts.rounds = parse_count("--rounds", &value()?)?;
                    rounds_given = true;
                }
                "--rows" => opts.bulk_rows = parse_count("--rows", &value()?)?,
                "--mux-connections" => {
                    opts.mux_connections = Some(parse_count("--mux-connections", &value()?)?)
                }
                "--mux-depth" => opts.mux_depth = Some(parse_count("--mux-depth", &value()?)?),
                other => return Err(format!("unknown option {other}\n\n{USAGE}")),
            }
        }
        if opts.quick {
            if !rounds_given {
                opts.rounds = 1;
            }
            if !timing_given {
                opts.warmup = Duration::from_millis(200);
                opts.duration = Duration::from_millis(500);
            }
        }
        Ok(opts)
    }

    /// Task counts for `workload`: as given, else 1 and 16, plus 64 for W1
    /// and W5 (issue 15's multiplexing targets); none for a bulk load.
    pub fn concurrency_for(&self, workload: Workload) -> Vec<usize> {
        if workload.is_bulk() {
            return vec![0];
        }
        match &self.concurrency {
            Some(list) => list.clone(),
            None if matches!(workload, Workload::W1 | Workload::W5) => vec![1, 16, 64],
            None => vec![1, 16],
        }
    }

    /// The flags as given, for the report header.
    pub fn describe(&self) -> String {
        let knob = |n: Option<usize>| n.map_or("pgdbm's default".to_owned(), |n| n.to_string());
        format!(
            "warm-up {:.1} s + {:.1} s timed per cell, {} round(s) interleaved (medians), pool {} per stack, {} rows per W3 load, \
             pgdbm-mux connections {} and depth {}",
            self.warmup.as_secs_f64(),
            self.duration.as_secs_f64(),
            self.rounds,
            self.pool_size,
            self.bulk_rows,
            knob(self.mux_connections),
            knob(self.mux_depth)
        )
    }
}
