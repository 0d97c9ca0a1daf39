//! `pgdbm migrate apply|status|create|dry-run|history`: each module's
//! migrations in its own schema, modules in dependency order.

use std::collections::HashSet;
use std::time::Instant;

use pgdbm::{Database, Migrator, SharedPool};
use serde_json::{Value, json};

use super::{connect, timestamp};
use crate::args::{Migrate, ModuleArg};
use crate::config::{Module, Settings};
use crate::error::{CliError, Context, Result};
use crate::output::{Out, Paint, millis};

/// Runs a `migrate` subcommand.
pub async fn run(command: Migrate, settings: &Settings, out: &Out) -> Result<()> {
    match command {
        Migrate::Create { name, module, path } => create(settings, &name, module, path, out),
        Migrate::Apply(only) => {
            let modules = select(settings, &only, true)?;
            with_pool(settings, |pool| apply(pool, settings, &modules, out)).await
        }
        Migrate::Status(only) => {
            let modules = select(settings, &only, false)?;
            with_pool(settings, |pool| status(pool, settings, &modules, out)).await
        }
        Migrate::DryRun(only) => {
            let modules = select(settings, &only, false)?;
            with_pool(settings, |pool| dry_run(pool, settings, &modules, out)).await
        }
        Migrate::History { module, limit } => {
            let modules = select(settings, &module, false)?;
            with_pool(settings, |pool| {
                history(pool, settings, &modules, limit, out)
            })
            .await
        }
    }
}

/// Runs `f` on a pool, closing it afterwards whatever `f` returns.
async fn with_pool<F, Fut>(settings: &Settings, f: F) -> Result<()>
where
    F: FnOnce(SharedPool) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let pool = connect(settings.database()?).await?;
    let result = f(pool.clone()).await;
    pool.close().await;
    result
}

/// The modules a command works on: all of them, or `--module` alone (with
/// the modules it depends on, before it, when `with_dependencies`).
fn select(settings: &Settings, only: &ModuleArg, with_dependencies: bool) -> Result<Vec<Module>> {
    let Some(name) = &only.module else {
        return Ok(settings.modules.clone());
    };
    let chosen = settings.module(name)?;
    if !with_dependencies {
        return Ok(vec![chosen.clone()]);
    }
    let mut wanted: HashSet<&str> = HashSet::from([name.as_str()]);
    let mut stack = vec![chosen];
    while let Some(m) = stack.pop() {
        for dep in &m.depends_on {
            if wanted.insert(dep) {
                stack.push(settings.module(dep)?);
            }
        }
    }
    // `settings.modules` is already in dependency order.
    Ok(settings
        .modules
        .iter()
        .filter(|m| m.name.as_deref().is_some_and(|n| wanted.contains(n)))
        .cloned()
        .collect())
}

/// The module's migrations, named and tracked as configured.
fn migrator(settings: &Settings, module: &Module) -> Result<Migrator> {
    if !module.dir.is_dir() {
        return Err(CliError::failure(format!(
            "the migrations directory of module {:?} does not exist: {}",
            module.label(),
            module.dir.display()
        )));
    }
    let migrator = Migrator::from_dir(&module.dir).context(|| {
        format!(
            "could not read the migrations of module {:?} in {}",
            module.label(),
            module.dir.display()
        )
    })?;
    configure(settings, module, migrator)
}

fn configure(settings: &Settings, module: &Module, mut migrator: Migrator) -> Result<Migrator> {
    if let Some(name) = &module.name {
        migrator = migrator.module(name);
    }
    if let Some(table) = &settings.migrations_table {
        migrator = migrator
            .table(table)
            .context(|| "invalid [database] migrations_table".to_owned())?;
    }
    Ok(migrator)
}

/// The manager for the module's schema. The pool was opened without a
/// schema, so nothing is created until a migration runs.
fn database(pool: &SharedPool, module: &Module) -> Result<Database> {
    pool.database(Some(&module.schema))
        .context(|| format!("invalid schema for module {:?}", module.label()))
}

/// The file names `migrator` would apply to `db`; on failure, `what` says
/// what it means for the module.
async fn pending(
    migrator: &Migrator,
    db: &Database,
    module: &Module,
    what: &str,
) -> Result<Vec<String>> {
    Ok(migrator
        .dry_run(db)
        .await
        .context(failed(module, what))?
        .into_iter()
        .map(|m| m.filename().to_owned())
        .collect())
}

fn failed(module: &Module, what: &str) -> impl FnOnce() -> String {
    let text = format!(
        "module {:?} (schema {:?}): {what}",
        module.label(),
        module.schema
    );
    move || text
}

async fn apply(pool: SharedPool, settings: &Settings, modules: &[Module], out: &Out) -> Result<()> {
    let mut report = Vec::new();
    let mut total = 0;
    for module in modules {
        let db = database(&pool, module)?;
        let migrator = migrator(settings, module)?;
        let pending = pending(&migrator, &db, module, "nothing applied").await?;
        out.line(format!(
            "{} {} (schema {}): {}",
            out.paint(Paint::Bold, "module"),
            out.paint(Paint::Bold, module.label()),
            module.schema,
            match pending.len() {
                0 => "up to date".to_owned(),
                1 => "1 migration to apply".to_owned(),
                n => format!("{n} migrations to apply"),
            }
        ));
        let mut applied = Vec::new();
        for filename in &pending {
            // One file per run, so that each gets its line as it finishes
            // rather than all at the end of a long run: the set up to this
            // file, whose earlier files are applied already.
            let upto = migrator
                .migrations()
                .iter()
                .position(|m| m.filename() == filename)
                .map_or(0, |i| i + 1);
            let step = Migrator::from_files(
                migrator.migrations()[..upto]
                    .iter()
                    .map(|m| (m.filename().to_owned(), m.sql().to_owned())),
            )
            .context(failed(module, "could not read the migrations"))?;
            let step = configure(settings, module, step)?;
            if out.is_terminal() {
                out.partial(format!("  applying {filename} ... "));
            }
            let started = Instant::now();
            let done = db.migrate(&step).await;
            if out.is_terminal() {
                out.line(match &done {
                    Ok(_) => out.paint(Paint::Green, &format!("done ({})", elapsed(started))),
                    Err(_) => out.paint(Paint::Red, "failed"),
                });
            }
            let done = done.context(failed(module, &format!("migration {filename} failed")))?;
            for m in done {
                if !out.is_terminal() {
                    out.line(format!(
                        "  {} {} ({})",
                        out.paint(Paint::Green, "applied"),
                        m.filename,
                        millis(m.took.as_secs_f64() * 1000.0)
                    ));
                }
                applied.push(json!({
                    "version": m.version,
                    "filename": m.filename,
                    "took_ms": m.took.as_secs_f64() * 1000.0,
                }));
            }
        }
        total += applied.len();
        report.push(json!({
            "module": module.name,
            "schema": module.schema,
            "applied": applied,
        }));
    }
    out.line(format!(
        "{} migration{} applied",
        total,
        if total == 1 { "" } else { "s" }
    ));
    out.json(&json!({ "applied": total, "modules": report }));
    Ok(())
}

fn elapsed(started: Instant) -> String {
    millis(started.elapsed().as_secs_f64() * 1000.0)
}

async fn status(
    pool: SharedPool,
    settings: &Settings,
    modules: &[Module],
    out: &Out,
) -> Result<()> {
    let mut report = Vec::new();
    let mut rows = Vec::new();
    let (mut changed, mut missing) = (false, false);
    for module in modules {
        let db = database(&pool, module)?;
        let migrator = migrator(settings, module)?;
        let status = migrator
            .status(&db)
            .await
            .context(failed(module, "could not read the migration status"))?;
        changed |= !status.modified.is_empty();
        missing |= !status.missing.is_empty();
        for m in migrator.migrations() {
            let file = m.filename();
            let (state, at) = if let Some(r) = status.applied.iter().find(|r| r.filename == file) {
                (out.paint(Paint::Green, "applied"), timestamp(r.applied_at))
            } else if status.modified.iter().any(|f| f == file) {
                (
                    out.paint(Paint::Red, "changed since applied"),
                    String::new(),
                )
            } else {
                (out.paint(Paint::Yellow, "pending"), String::new())
            };
            rows.push(vec![
                module.label().to_owned(),
                module.schema.clone(),
                file.to_owned(),
                state,
                at,
            ]);
        }
        for file in &status.missing {
            rows.push(vec![
                module.label().to_owned(),
                module.schema.clone(),
                file.clone(),
                out.paint(Paint::Red, "applied, file missing"),
                String::new(),
            ]);
        }
        let applied: Vec<Value> = status
            .applied
            .iter()
            .map(|r| {
                json!({
                    "filename": r.filename,
                    "checksum": r.checksum,
                    "applied_at": timestamp(r.applied_at),
                    "applied_by": r.applied_by,
                    "execution_time_ms": r.execution_time_ms,
                })
            })
            .collect();
        report.push(json!({
            "module": module.name,
            "schema": module.schema,
            "up_to_date": status.is_up_to_date(),
            "applied": applied,
            "pending": status.pending,
            "modified": status.modified,
            "missing": status.missing,
        }));
    }
    if rows.is_empty() {
        out.line("no migration files");
    } else {
        out.table(
            &["MODULE", "SCHEMA", "MIGRATION", "STATE", "APPLIED AT (UTC)"],
            &rows,
        );
    }
    if changed && !out.json {
        out.warn("applied migrations changed since: `migrate apply` refuses to run until they are restored");
    }
    if missing && !out.json {
        out.warn("the files of some applied migrations are missing");
    }
    out.json(&json!({ "modules": report }));
    Ok(())
}

async fn dry_run(
    pool: SharedPool,
    settings: &Settings,
    modules: &[Module],
    out: &Out,
) -> Result<()> {
    let mut report = Vec::new();
    let mut rows = Vec::new();
    for module in modules {
        let db = database(&pool, module)?;
        let migrator = migrator(settings, module)?;
        let pending = pending(&migrator, &db, module, "could not work out what would run").await?;
        for file in &pending {
            rows.push(vec![
                module.label().to_owned(),
                module.schema.clone(),
                file.clone(),
            ]);
        }
        report.push(json!({ "module": module.name, "schema": module.schema, "pending": pending }));
    }
    if rows.is_empty() {
        out.line("nothing to apply");
    } else {
        out.table(&["MODULE", "SCHEMA", "WOULD APPLY"], &rows);
    }
    out.json(&json!({ "modules": report }));
    Ok(())
}

async fn history(
    pool: SharedPool,
    settings: &Settings,
    modules: &[Module],
    limit: usize,
    out: &Out,
) -> Result<()> {
    let mut report = Vec::new();
    let mut rows = Vec::new();
    for module in modules {
        let db = database(&pool, module)?;
        let migrator = migrator(settings, module)?;
        let records = migrator
            .history(&db, limit)
            .await
            .context(failed(module, "could not read the migration history"))?;
        for r in &records {
            rows.push(vec![
                module.label().to_owned(),
                module.schema.clone(),
                r.filename.clone(),
                timestamp(r.applied_at),
                r.applied_by.clone().unwrap_or_default(),
                r.execution_time_ms
                    .map(|ms| millis(ms.into()))
                    .unwrap_or_default(),
            ]);
            report.push(json!({
                "module": module.name,
                "schema": module.schema,
                "filename": r.filename,
                "applied_at": timestamp(r.applied_at),
                "applied_by": r.applied_by,
                "execution_time_ms": r.execution_time_ms,
            }));
        }
    }
    if rows.is_empty() {
        out.line("no migrations applied");
    } else {
        out.table(
            &[
                "MODULE",
                "SCHEMA",
                "MIGRATION",
                "APPLIED AT (UTC)",
                "BY",
                "TOOK",
            ],
            &rows,
        );
    }
    out.json(&Value::Array(report));
    Ok(())
}

/// Writes the next file of `--path`, of `--module`'s directory, or of the
/// only module's. Connects to nothing.
fn create(
    settings: &Settings,
    name: &str,
    module: Option<String>,
    path: Option<std::path::PathBuf>,
    out: &Out,
) -> Result<()> {
    let dir = match (path, module) {
        (Some(path), _) => path,
        (None, Some(module)) => settings.module(&module)?.dir.clone(),
        (None, None) => match settings.modules.as_slice() {
            [only] => only.dir.clone(),
            many => {
                let names: Vec<&str> = many.iter().map(Module::label).collect();
                return Err(CliError::usage(format!(
                    "{} modules are configured ({}): choose one with --module",
                    many.len(),
                    names.join(", ")
                )));
            }
        },
    };
    let file = Migrator::create(&dir, name)
        .context(|| format!("could not create a migration in {}", dir.display()))?;
    out.line(format!(
        "{} {}",
        out.paint(Paint::Green, "created"),
        file.display()
    ));
    out.json(&json!({ "path": file.display().to_string() }));
    Ok(())
}
