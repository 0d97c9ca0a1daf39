//! One module per command group; this one dispatches and holds what they
//! share: opening the pool and naming where it points.

mod db;
mod generate;
mod inspect;
mod migrate;
mod schema;

use std::time::{SystemTime, UNIX_EPOCH};

use pgdbm::{DatabaseConfig, SharedPool};

use crate::args::{Cli, Command};
use crate::config::Settings;
use crate::error::{Context, Result};
use crate::output::Out;

/// Runs the parsed command line.
pub async fn run(cli: Cli, out: &Out) -> Result<()> {
    let settings = || Settings::load(cli.config.as_deref(), &cli.env);
    match cli.command {
        // Writes a file for a project that may have no configuration yet.
        Command::Generate(command) => generate::run(command, out),
        Command::Migrate(command) => migrate::run(command, &settings()?, out).await,
        Command::Db(command) => db::run(command, &settings()?, out).await,
        Command::Schema(command) => schema::run(command, &settings()?, out).await,
        Command::Tables { schema } => inspect::tables(&settings()?, &schema, out).await,
        Command::Activity => inspect::activity(&settings()?, out).await,
    }
}

/// Opens a small pool on `config`'s database.
async fn connect(config: DatabaseConfig) -> Result<SharedPool> {
    let target = target(&config);
    SharedPool::connect(config)
        .await
        .context(|| format!("could not connect to {target}"))
}

/// `host:port/database`, to say where a command went (never the password).
fn target(config: &DatabaseConfig) -> String {
    format!("{}:{}/{}", config.host, config.port, config.database)
}

/// `"name"`: the name is an identifier checked by [`crate::args::identifier`]
/// (letters, digits, `_`), so quoting cannot be escaped; quoted all the same
/// so that upper case is kept, as the Python CLI does.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A UTC time as `YYYY-MM-DD HH:MM:SS`, for tables and JSON alike.
fn timestamp(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days: no date crate for one format.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56 UTC
        assert_eq!(timestamp(t), "2024-02-29 12:34:56");
        assert_eq!(quoted("Ab"), "\"Ab\"");
    }
}
