//! `pgdbm generate config`: the pgdbm.toml the Python CLI writes, byte for
//! byte, so a project started with either CLI reads the same in both.

use std::path::Path;

use serde_json::json;

use crate::args::Generate;
use crate::error::{CliError, Context, Result};
use crate::output::{Out, Paint};

/// Runs a `generate` subcommand.
pub fn run(command: Generate, out: &Out) -> Result<()> {
    match command {
        Generate::Config {
            name,
            output,
            force,
        } => config(&name, &output, force, out),
    }
}

fn config(name: &str, path: &Path, force: bool, out: &Out) -> Result<()> {
    if path.exists() && !force {
        return Err(CliError::failure(format!(
            "{} already exists (--force overwrites it)",
            path.display()
        )));
    }
    std::fs::write(path, config_text(name))
        .context(|| format!("could not write {}", path.display()))?;
    out.line(format!(
        "{} configuration at {}",
        out.paint(Paint::Green, "generated"),
        path.display()
    ));
    out.line("next: edit it for your databases, then `pgdbm db create` and `pgdbm migrate apply`");
    out.json(&json!({ "path": path.display().to_string() }));
    Ok(())
}

/// The Python CLI's template (pgdbm 0.5, `generate config --name NAME`).
pub fn config_text(name: &str) -> String {
    format!(
        r#"# pgdbm configuration file
# Generated with pgdbm generate config

[project]
name = "{name}"
default_env = "dev"

[database]
migrations_table = "schema_migrations"

# Environment configurations
[environments.dev]
host = "localhost"
port = 5432
database = "{name}_dev"
user = "postgres"
# password = "secret"  # Can also use ${{DB_PASSWORD}} for env var
schema = "public"

[environments.test]
host = "localhost"
port = 5432
database = "{name}_test"
user = "postgres"
schema = "test"

[environments.prod]
# Use environment variable for production
url = "${{DATABASE_URL}}"
schema = "production"
ssl_enabled = true
ssl_mode = "require"

# Module configurations (if using multi-module setup)
# [modules.users]
# migrations_path = "src/users/migrations"
# schema = "users"
# mode = "dual"  # standalone | library | dual
# depends_on = []

# [modules.billing]
# migrations_path = "src/billing/migrations"
# schema = "billing"
# mode = "library"
# depends_on = ["users"]

# Shared connection pool configuration (for integrated mode)
# [shared_pool]
# min_connections = 10
# max_connections = 100
# modules = ["users", "billing"]
"#
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_text_as_the_python_cli() {
        // Written by `pgdbm generate config --name shop` of Python pgdbm 0.5.
        let python = include_str!("../../tests/fixtures/python-generated.toml");
        assert_eq!(super::config_text("shop"), python);
    }
}
