//! A throwaway PostgreSQL cluster for bench/test_setup.sh, the same one
//! pgdbm's tests start when no URL is set (`pgdbm::testing::TestCluster`):
//! prints its URL, then serves until standard input closes.

use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = pgdbm::testing::TestCluster::start()?;
    let c = cluster.config();
    let password = c
        .password
        .as_deref()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    println!(
        "postgres://{}{password}@{}:{}/{}?sslmode=disable",
        c.user, c.host, c.port, c.database
    );
    // Until the script closes our standard input (or exits).
    std::io::stdin().read_to_end(&mut Vec::new())?;
    drop(cluster);
    Ok(())
}
