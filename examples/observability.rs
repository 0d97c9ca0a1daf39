//! Observability: every statement's `tracing` span printed by
//! tracing-subscriber, a slow-query warning, the metrics and a health
//! check.
//!
//! Runs against `DATABASE_URL` when it is set; otherwise it starts a
//! throwaway PostgreSQL cluster from the local binaries (through
//! `pgdbm::testing`, which a real service would not use).
//!
//! `RUST_LOG`-style filtering is left out to keep the example short: spans
//! are DEBUG on target `pgdbm`, slow queries WARN on `pgdbm::slow_query`.

use std::time::Duration;

use pgdbm::Database;
use tracing_subscriber::fmt::format::FmtSpan;

#[tokio::main]
async fn main() -> pgdbm::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        // One line when each statement's span closes, with its fields and
        // how long it took.
        .with_span_events(FmtSpan::CLOSE)
        .init();

    let mut config = pgdbm::testing::server_config()?.with_schema("observed");
    config.slow_query_threshold = Some(Duration::from_millis(50));
    let db = Database::connect(config).await?;

    db.execute(
        "CREATE TABLE IF NOT EXISTS {{tables.events}} (id bigserial PRIMARY KEY, kind text NOT NULL)",
        &[],
    )
    .await?;
    db.execute(
        "INSERT INTO {{tables.events}} (kind) VALUES ($1)",
        &[&"signup"],
    )
    .await?;
    let n: i64 = db
        .fetch_value("SELECT count(*) FROM {{tables.events}}", &[])
        .await?;
    println!("{n} events");
    // A failed statement: its span carries the SQLSTATE.
    let _ = db.execute("SELECT 1 / 0", &[]).await;
    // Slower than the threshold: one WARN on pgdbm::slow_query.
    db.execute("SELECT pg_sleep(0.1)", &[]).await?;

    let m = db.metrics();
    println!(
        "{} statements, {} rows, {} failed, mean {:?}, max {:?}",
        m.statements,
        m.rows,
        m.errors(),
        m.mean_time(),
        m.max_time
    );
    let health = db.health_check(Duration::from_secs(2)).await?;
    println!(
        "PostgreSQL {} in {:?}, replica: {}, {} bytes",
        health.server_version, health.latency, health.is_replica, health.database_size
    );
    db.close().await;
    Ok(())
}
