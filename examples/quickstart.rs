//! The quickstart: connect, create a table in the module's schema, write and
//! read it back with templated SQL.
//!
//! Runs against `DATABASE_URL` when it is set; otherwise it starts a
//! throwaway PostgreSQL cluster from the local binaries (through
//! `pgdbm::testing`, which a real service would not use) and stops it at exit.

use pgdbm::{Database, Error};

#[tokio::main]
async fn main() -> pgdbm::Result<()> {
    let config = pgdbm::testing::server_config()?.with_schema("quickstart");
    let db = Database::connect(config).await?;

    db.execute(
        "CREATE TABLE IF NOT EXISTS {{tables.users}} (
             id bigserial PRIMARY KEY,
             email text NOT NULL UNIQUE,
             name text NOT NULL
         )",
        &[],
    )
    .await?;
    db.execute("TRUNCATE {{tables.users}}", &[]).await?;

    let id: i64 = db
        .execute_returning_id(
            "INSERT INTO {{tables.users}} (email, name) VALUES ($1, $2)",
            &[&"alice@example.com", &"Alice"],
        )
        .await?;
    println!("inserted Alice with id {id}");

    let people = [("bob@example.com", "Bob"), ("carol@example.com", "Carol")];
    let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 2]> =
        people.iter().map(|(e, n)| [e as _, n as _]).collect();
    let added = db
        .execute_many(
            "INSERT INTO {{tables.users}} (email, name) VALUES ($1, $2)",
            &rows,
        )
        .await?;
    println!("inserted {added} more with execute_many");

    match db
        .execute(
            "INSERT INTO {{tables.users}} (email, name) VALUES ($1, $2)",
            &[&"alice@example.com", &"Alice again"],
        )
        .await
    {
        Err(Error::UniqueViolation(e)) => {
            println!("duplicate refused by constraint {:?}", e.constraint())
        }
        other => println!("unexpected: {other:?}"),
    }

    let count: i64 = db
        .fetch_value("SELECT count(*) FROM {{tables.users}}", &[])
        .await?;
    println!("{count} users in {}", db.render("{{tables.users}}")?);
    for row in db
        .fetch_all(
            "SELECT id, email, name FROM {{tables.users}} ORDER BY id",
            &[],
        )
        .await?
    {
        let (id, email, name): (i64, String, String) = (
            row.try_get("id")?,
            row.try_get("email")?,
            row.try_get("name")?,
        );
        println!("  {id}: {name} <{email}>");
    }

    let stats = db.pool_stats().await?;
    println!(
        "pool: {} open, {} in use, PostgreSQL {}",
        stats.size,
        stats.used,
        stats.server_version.as_deref().unwrap_or("?")
    );
    db.close().await;
    Ok(())
}
