//! `pgdbm db create|drop`: the database the URL names, from a maintenance
//! database of the same server.

use std::io::{BufRead, IsTerminal, Write};

use pgdbm::DatabaseConfig;
use serde_json::json;

use super::{connect, quoted, target};
use crate::args::{Db, identifier};
use crate::config::Settings;
use crate::error::{CliError, Context, Result};
use crate::output::{Out, Paint};

/// Runs a `db` subcommand.
pub async fn run(command: Db, settings: &Settings, out: &Out) -> Result<()> {
    let config = settings.database()?;
    // Checked before connecting: the name is written into DDL.
    let name = identifier(&config.database).map_err(|why| {
        CliError::failure(format!(
            "invalid database name in the configured URL: {why}"
        ))
    })?;
    match command {
        Db::Create => create(config, &name, out).await,
        Db::Drop { force, yes } => {
            if !yes {
                confirm(&config, &name)?;
            }
            drop(config, &name, force, out).await
        }
    }
}

/// The same server's maintenance database (`template1` when the target is
/// `postgres` itself).
fn admin(config: &DatabaseConfig, name: &str) -> DatabaseConfig {
    let maintenance = if name == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    config.clone().with_database(maintenance)
}

async fn create(config: DatabaseConfig, name: &str, out: &Out) -> Result<()> {
    let pool = connect(admin(&config, name)).await?;
    let result = async {
        let db = pool
            .database(None)
            .context(|| "maintenance database".to_owned())?;
        let exists: bool = db
            .fetch_value(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)",
                &[&name],
            )
            .await
            .context(|| format!("could not look up database {name:?}"))?;
        if !exists {
            db.execute(&format!("CREATE DATABASE {}", quoted(name)), &[])
                .await
                .context(|| format!("could not create database {name:?}"))?;
        }
        Ok(exists)
    }
    .await;
    pool.close().await;
    let existed = result?;
    out.line(if existed {
        format!("database {name} already exists on {}", target(&config))
    } else {
        format!(
            "{} database {name} on {}",
            out.paint(Paint::Green, "created"),
            target(&config)
        )
    });
    out.json(&json!({ "database": name, "created": !existed }));
    Ok(())
}

async fn drop(config: DatabaseConfig, name: &str, force: bool, out: &Out) -> Result<()> {
    let pool = connect(admin(&config, name)).await?;
    let result = async {
        let db = pool.database(None).context(|| "maintenance database".to_owned())?;
        let exists: bool = db
            .fetch_value("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)", &[&name])
            .await
            .context(|| format!("could not look up database {name:?}"))?;
        if !exists {
            return Ok(false);
        }
        if !force {
            // The server would refuse too; saying how many and what to do
            // is clearer than its "being accessed by other users".
            let sessions: i64 = db
                .fetch_value("SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = $1", &[&name])
                .await
                .context(|| format!("could not count the sessions on {name:?}"))?;
            if sessions > 0 {
                return Err(CliError::failure(format!(
                    "database {name} has {sessions} other session{} connected: not dropped (--force terminates them)",
                    if sessions == 1 { "" } else { "s" }
                )));
            }
        }
        // WITH (FORCE) (PostgreSQL 13+) terminates the sessions and drops in
        // one step, so none can connect in between.
        let sql = format!(
            "DROP DATABASE {}{}",
            quoted(name),
            if force { " WITH (FORCE)" } else { "" }
        );
        db.execute(&sql, &[])
            .await
            .context(|| format!("could not drop database {name:?}"))?;
        Ok(true)
    }
    .await;
    pool.close().await;
    let dropped = result?;
    out.line(if dropped {
        format!(
            "{} database {name} on {}",
            out.paint(Paint::Green, "dropped"),
            target(&config)
        )
    } else {
        format!("database {name} does not exist on {}", target(&config))
    });
    out.json(&json!({ "database": name, "dropped": dropped }));
    Ok(())
}

/// Asks on the terminal; without one, `--yes` is required, so a script
/// never drops a database by accident.
fn confirm(config: &DatabaseConfig, name: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to drop database {name} without --yes (stdin is not a terminal)"
        )));
    }
    eprint!(
        "Drop database {name} on {}? This cannot be undone. [y/N] ",
        target(config)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context(|| "could not read the answer".to_owned())?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::failure("not dropped"))
    }
}
