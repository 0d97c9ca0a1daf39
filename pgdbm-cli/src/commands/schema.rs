//! `pgdbm schema create|drop|list`.

use serde_json::{Value, json};

use super::{connect, quoted};
use crate::args::{Schema, SchemaName, identifier};
use crate::config::Settings;
use crate::error::{CliError, Context, Result};
use crate::output::{Out, Paint};

/// Runs a `schema` subcommand.
pub async fn run(command: Schema, settings: &Settings, out: &Out) -> Result<()> {
    match command {
        Schema::Create(name) => create(settings, &resolve(settings, &name)?, out).await,
        Schema::Drop { name, cascade } => {
            // Never by default: dropping the environment's schema (often
            // `public`) must be asked for by name.
            if name.name.is_none() && name.module.is_none() {
                return Err(CliError::usage(
                    "name the schema to drop (or its module with --module)",
                ));
            }
            drop(settings, &resolve(settings, &name)?, cascade, out).await
        }
        Schema::List => list(settings, out).await,
    }
}

/// The schema named, the module's, or the environment's; checked as an
/// identifier before anything connects.
fn resolve(settings: &Settings, name: &SchemaName) -> Result<String> {
    let schema = match (&name.name, &name.module) {
        (Some(name), _) => name.clone(),
        (None, Some(module)) => settings.module(module)?.schema.clone(),
        (None, None) => settings.schema().to_owned(),
    };
    identifier(&schema).map_err(|why| CliError::usage(format!("invalid schema name: {why}")))
}

const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)";

async fn create(settings: &Settings, schema: &str, out: &Out) -> Result<()> {
    let pool = connect(settings.database()?).await?;
    let result = async {
        let db = pool.database(None).context(|| "database".to_owned())?;
        let existed: bool = db
            .fetch_value(EXISTS, &[&schema])
            .await
            .context(|| format!("could not look up schema {schema:?}"))?;
        db.execute(
            &format!("CREATE SCHEMA IF NOT EXISTS {}", quoted(schema)),
            &[],
        )
        .await
        .context(|| format!("could not create schema {schema:?}"))?;
        Ok(existed)
    }
    .await;
    pool.close().await;
    let existed = result?;
    out.line(if existed {
        format!("schema {schema} already exists")
    } else {
        format!("{} schema {schema}", out.paint(Paint::Green, "created"))
    });
    out.json(&json!({ "schema": schema, "created": !existed }));
    Ok(())
}

async fn drop(settings: &Settings, schema: &str, cascade: bool, out: &Out) -> Result<()> {
    let pool = connect(settings.database()?).await?;
    let result = async {
        let db = pool.database(None).context(|| "database".to_owned())?;
        let exists: bool = db
            .fetch_value(EXISTS, &[&schema])
            .await
            .context(|| format!("could not look up schema {schema:?}"))?;
        if exists {
            let sql = format!(
                "DROP SCHEMA {}{}",
                quoted(schema),
                if cascade { " CASCADE" } else { "" }
            );
            db.execute(&sql, &[]).await.context(|| {
                format!("could not drop schema {schema:?} (--cascade drops what it contains)")
            })?;
        }
        Ok(exists)
    }
    .await;
    pool.close().await;
    let dropped = result?;
    out.line(if dropped {
        format!("{} schema {schema}", out.paint(Paint::Green, "dropped"))
    } else {
        format!("schema {schema} does not exist")
    });
    out.json(&json!({ "schema": schema, "dropped": dropped }));
    Ok(())
}

async fn list(settings: &Settings, out: &Out) -> Result<()> {
    let pool = connect(settings.database()?).await?;
    let result = async {
        let db = pool.database(None).context(|| "database".to_owned())?;
        db.fetch_all(
            "SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), \
             (SELECT count(*) FROM pg_catalog.pg_class c \
              WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')) \
             FROM pg_catalog.pg_namespace n \
             WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
             ORDER BY 1",
            &[],
        )
        .await
        .context(|| "could not list the schemas".to_owned())
    }
    .await;
    pool.close().await;
    let mut rows = Vec::new();
    let mut report = Vec::new();
    for row in result? {
        let name: String = row.try_get(0usize).context(|| "schema row".to_owned())?;
        let owner: String = row.try_get(1usize).context(|| "schema row".to_owned())?;
        let tables: i64 = row.try_get(2usize).context(|| "schema row".to_owned())?;
        let modules: Vec<&str> = settings
            .modules
            .iter()
            .filter(|m| m.name.is_some() && m.schema == name)
            .map(|m| m.label())
            .collect();
        rows.push(vec![
            name.clone(),
            owner.clone(),
            tables.to_string(),
            modules.join(", "),
        ]);
        report
            .push(json!({ "schema": name, "owner": owner, "tables": tables, "modules": modules }));
    }
    out.table(&["SCHEMA", "OWNER", "TABLES", "MODULES"], &rows);
    out.json(&Value::Array(report));
    Ok(())
}
