//! Migrations: one module's set compiled in and installed into several
//! tenant schemas from one shared pool, another module from a directory at
//! run time, then status, dry run and history.
//!
//! Runs against `DATABASE_URL` when it is set; otherwise it starts a
//! throwaway PostgreSQL cluster from the local binaries.

use pgdbm::{Database, Migrator, SharedPool};

#[tokio::main]
async fn main() -> pgdbm::Result<()> {
    let pool = SharedPool::connect(pgdbm::testing::server_config()?).await?;

    // Compiled in: the files travel with the binary.
    let users = pgdbm::embed_migrations!("migrations/users")?;
    for tenant in ["tenant_acme", "tenant_globex"] {
        let db = Database::from_pool(&pool, Some(tenant))?;
        for applied in db.migrate(&users).await? {
            println!(
                "{tenant}: applied {} in {:?}",
                applied.filename, applied.took
            );
        }
        // Running it again does nothing: every file is recorded.
        assert!(db.migrate(&users).await?.is_empty());
    }

    // Read at run time, as a second module sharing one tenant's schema.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/billing");
    let billing = Migrator::from_dir(dir)?.module("billing");
    let acme = Database::from_pool(&pool, Some("tenant_acme"))?;
    let pending: Vec<_> = billing
        .dry_run(&acme)
        .await?
        .iter()
        .map(|m| m.filename().to_owned())
        .collect();
    println!("billing would apply {pending:?}");
    acme.migrate(&billing).await?;

    let status = users.status(&acme).await?;
    println!(
        "users module: {} applied, up to date: {}",
        status.applied.len(),
        status.is_up_to_date()
    );
    for record in billing.history(&acme, 5).await? {
        println!(
            "history: {} (module {:?}) by {:?}",
            record.filename, record.module, record.applied_by
        );
    }
    pool.close().await;
    Ok(())
}
