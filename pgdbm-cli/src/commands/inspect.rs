//! `pgdbm tables` and `pgdbm activity`: the library's introspection, printed.

use serde_json::{Value, json};

use super::connect;
use crate::args::identifier;
use crate::config::Settings;
use crate::error::{CliError, Context, Result};
use crate::output::{Out, size};

/// The tables of `only`, or of the environment's schema and every module's.
pub async fn tables(settings: &Settings, only: &[String], out: &Out) -> Result<()> {
    let mut schemas: Vec<String> = Vec::new();
    let wanted = if only.is_empty() {
        std::iter::once(settings.schema().to_owned())
            .chain(settings.modules.iter().map(|m| m.schema.clone()))
            .collect()
    } else {
        only.to_vec()
    };
    for s in wanted {
        identifier(&s).map_err(|why| CliError::usage(format!("invalid schema name: {why}")))?;
        if !schemas.contains(&s) {
            schemas.push(s);
        }
    }
    let pool = connect(settings.database()?).await?;
    let result = async {
        let mut all = Vec::new();
        for schema in &schemas {
            let db = pool
                .database(Some(schema))
                .context(|| format!("schema {schema:?}"))?;
            all.extend(
                db.tables()
                    .await
                    .context(|| format!("could not list the tables of schema {schema:?}"))?,
            );
        }
        Ok::<_, CliError>(all)
    }
    .await;
    pool.close().await;
    let tables = result?;
    let rows: Vec<Vec<String>> = tables
        .iter()
        .map(|t| {
            vec![
                t.schema.clone(),
                t.name.clone(),
                // -1: never analysed.
                if t.rows_estimate < 0 {
                    "?".to_owned()
                } else {
                    t.rows_estimate.to_string()
                },
                size(t.total_bytes),
                size(t.index_bytes),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.line(format!("no tables in {}", schemas.join(", ")));
    } else {
        out.table(
            &["SCHEMA", "TABLE", "ROWS (EST.)", "TOTAL", "INDEXES"],
            &rows,
        );
    }
    out.json(&Value::Array(
        tables
            .iter()
            .map(|t| {
                json!({
                    "schema": t.schema,
                    "name": t.name,
                    "rows_estimate": t.rows_estimate,
                    "total_bytes": t.total_bytes,
                    "index_bytes": t.index_bytes,
                })
            })
            .collect(),
    ));
    Ok(())
}

/// The database's other sessions: what runs, for how long, who blocks whom.
pub async fn activity(settings: &Settings, out: &Out) -> Result<()> {
    let pool = connect(settings.database()?).await?;
    let result = async {
        let db = pool.database(None).context(|| "database".to_owned())?;
        db.activity()
            .await
            .context(|| "could not read pg_stat_activity".to_owned())
    }
    .await;
    pool.close().await;
    let sessions = result?;
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|a| {
            vec![
                a.pid.to_string(),
                a.state.clone().unwrap_or_default(),
                a.running_for
                    .map(|d| crate::output::millis(d.as_secs_f64() * 1000.0))
                    .unwrap_or_default(),
                a.wait_event_type.clone().unwrap_or_default(),
                a.blocked_by
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                a.application_name.clone(),
                one_line(&a.query, 60),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.line("no other sessions");
    } else {
        out.table(
            &[
                "PID",
                "STATE",
                "FOR",
                "WAITS ON",
                "BLOCKED BY",
                "APPLICATION",
                "QUERY",
            ],
            &rows,
        );
    }
    out.json(&Value::Array(
        sessions
            .iter()
            .map(|a| {
                json!({
                    "pid": a.pid,
                    "state": a.state,
                    "running_for_ms": a.running_for.map(|d| d.as_secs_f64() * 1000.0),
                    "wait_event_type": a.wait_event_type,
                    "blocked_by": a.blocked_by,
                    "application_name": a.application_name,
                    "query": a.query,
                })
            })
            .collect(),
    ));
    Ok(())
}

/// `text` on one line, cut at `max` characters, for a table cell.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}
