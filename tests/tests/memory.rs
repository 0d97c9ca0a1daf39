//! Peak memory of streaming reads and COPY, in a test binary of its own:
//! a process's peak RSS counts every test running in it, so nothing else
//! may run beside these. The tests in this file run one after another.

use futures_util::TryStreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{FromRow, Table};

/// One test at a time: they measure the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Resets the peak-RSS mark to the current RSS and returns the current RSS.
fn reset_peak() -> u64 {
    // Writing 5 to clear_refs resets VmHWM (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    status_kib("VmRSS:")
}

fn peak_growth_mib(baseline_kib: u64) -> u64 {
    status_kib("VmHWM:").saturating_sub(baseline_kib) / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stream_of_100k_wide_rows_stays_bounded() {
    let _serial = SERIAL.lock().await;
    let test = TestDatabase::new().await.unwrap();
    let conn = test.acquire().await.unwrap();
    let baseline = reset_peak();
    // 100,000 rows of 1 KiB: about 100 MiB if it were buffered.
    let mut rows = conn
        .fetch_stream(
            "SELECT g, repeat('x', 1024) AS pad FROM generate_series(1, 100000) g",
            &[],
        )
        .await
        .unwrap();
    let (mut n, mut bytes) = (0u64, 0usize);
    while let Some(row) = rows.try_next().await.unwrap() {
        let pad: &str = row.get("pad");
        bytes += pad.len();
        n += 1;
    }
    assert_eq!(n, 100_000);
    assert_eq!(bytes, 100_000 * 1024);
    let growth = peak_growth_mib(baseline);
    assert!(growth < 40, "peak RSS grew by {growth} MiB while streaming");
}

#[derive(Table, Debug)]
#[pgdbm(table = "events")]
struct Event {
    #[pgdbm(primary_key)]
    id: i64,
    kind: String,
    payload: String,
}

#[derive(FromRow)]
struct EventId {
    id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_a_million_rows_in_and_out_with_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let test = TestDatabase::new().await.unwrap();
    test.execute(
        "CREATE UNLOGGED TABLE {{tables.events}} (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let baseline = reset_peak();
    // Generated lazily: about 100 MiB of payload, never held at once.
    let rows = futures_util::stream::iter((0..1_000_000i64).map(|id| Event {
        id,
        kind: if id % 2 == 0 { "even" } else { "odd" }.to_owned(),
        payload: "p".repeat(100),
    }));
    let written = test.copy_in_stream(rows).await.unwrap();
    assert_eq!(written, 1_000_000);
    let growth_in = peak_growth_mib(baseline);
    assert!(
        growth_in < 100,
        "peak RSS grew by {growth_in} MiB during COPY in"
    );

    let baseline = reset_peak();
    let mut out = test
        .copy_out_query::<EventId>("SELECT id FROM {{tables.events}}")
        .await
        .unwrap();
    let (mut n, mut sum) = (0u64, 0i64);
    while let Some(row) = out.try_next().await.unwrap() {
        n += 1;
        sum += row.id;
    }
    assert_eq!(n, 1_000_000);
    assert_eq!(sum, (0..1_000_000i64).sum::<i64>());
    let growth_out = peak_growth_mib(baseline);
    assert!(
        growth_out < 100,
        "peak RSS grew by {growth_out} MiB during COPY out"
    );
}
