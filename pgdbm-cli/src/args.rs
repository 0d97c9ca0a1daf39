//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// pgdbm: PostgreSQL migrations across modules and schemas, databases and
/// introspection, configured by the Python library's pgdbm.toml.
#[derive(Debug, Parser)]
#[command(name = "pgdbm", version, propagate_version = true)]
pub struct Cli {
    /// The configuration file [default: ./pgdbm.toml if it exists, else
    /// DATABASE_URL and ./migrations].
    #[arg(short, long, global = true, env = "PGDBM_CONFIG")]
    pub config: Option<PathBuf>,
    /// The environment of pgdbm.toml to use.
    #[arg(short, long, global = true, env = "PGDBM_ENV", default_value = "dev")]
    pub env: String,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, inspect and create migrations.
    #[command(subcommand)]
    Migrate(Migrate),
    /// Create or drop the database the URL names.
    #[command(subcommand)]
    Db(Db),
    /// Create, drop and list schemas.
    #[command(subcommand)]
    Schema(Schema),
    /// The tables of the configured schemas, with their sizes.
    Tables {
        /// Only this schema (repeatable) [default: the environment's schema
        /// and every module's].
        #[arg(short, long)]
        schema: Vec<String>,
    },
    /// What the database's other sessions are running, and who blocks whom.
    Activity,
    /// Write files for a new project.
    #[command(subcommand)]
    Generate(Generate),
}

/// `pgdbm migrate ...`
#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Apply the pending migrations of every module, in dependency order.
    Apply(ModuleArg),
    /// Applied, pending, changed and missing migrations of each module.
    Status(ModuleArg),
    /// Write the next numbered migration file.
    Create {
        /// The migration's name: letters, digits and `_`.
        #[arg(value_parser = migration_name)]
        name: String,
        /// The module whose migrations directory gets the file (needed when
        /// pgdbm.toml has more than one).
        #[arg(short, long)]
        module: Option<String>,
        /// Write into this directory instead.
        #[arg(short, long)]
        path: Option<PathBuf>,
    },
    /// The migrations `apply` would run now, writing nothing.
    DryRun(ModuleArg),
    /// The migrations applied last, newest first.
    History {
        #[command(flatten)]
        module: ModuleArg,
        /// How many per module.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
}

/// Restricts a migration command to one module.
#[derive(Debug, Args)]
pub struct ModuleArg {
    /// Only this module (and, for `apply`, the modules it depends on).
    #[arg(short, long)]
    pub module: Option<String>,
}

/// `pgdbm db ...`
#[derive(Debug, Subcommand)]
pub enum Db {
    /// Create the database the URL names (nothing to do if it exists).
    Create,
    /// Drop the database the URL names.
    Drop {
        /// Terminate the other sessions on it first.
        #[arg(long)]
        force: bool,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(short, long)]
        yes: bool,
    },
}

/// `pgdbm schema ...`
#[derive(Debug, Subcommand)]
pub enum Schema {
    /// Create a schema (nothing to do if it exists).
    Create(SchemaName),
    /// Drop a schema (named, or a module's: never the default).
    Drop {
        #[command(flatten)]
        name: SchemaName,
        /// Drop the objects in it too.
        #[arg(long)]
        cascade: bool,
    },
    /// The schemas of the database, with their table counts and modules.
    List,
}

/// Which schema: a name, a module's, or the environment's.
#[derive(Debug, Args)]
pub struct SchemaName {
    /// The schema [default: the module's, else the environment's].
    #[arg(value_parser = identifier)]
    pub name: Option<String>,
    /// The schema of this module of pgdbm.toml.
    #[arg(short, long, conflicts_with = "name")]
    pub module: Option<String>,
}

/// `pgdbm generate ...`
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Write a pgdbm.toml, the same file the Python CLI writes.
    Config {
        /// The project's name (databases are NAME_dev and NAME_test).
        #[arg(short, long, default_value = "pgdbm_project", value_parser = identifier)]
        name: String,
        /// Where to write it.
        #[arg(short, long, default_value = "pgdbm.toml")]
        output: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// A schema or database name, as the Python CLI accepts them: a letter or
/// `_`, then letters, digits and `_`, at most 63 bytes. Checked before
/// anything connects, so a bad name never reaches the server.
pub fn identifier(name: &str) -> Result<String, String> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not an identifier: it must start with a letter or `_`, hold only letters, digits and `_`, and be at most 63 bytes"
        ))
    }
}

/// A migration name, as `Migrator::create` accepts it; checked here too so
/// that a bad one is a usage error (exit 2).
fn migration_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not a migration name: letters, digits and `_`, not starting with `_`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(identifier("users_2").is_ok());
        assert!(identifier("_x").is_ok());
        for bad in ["", "2x", "a-b", "a b", "a;drop", "é", &"a".repeat(64)] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
        assert!(migration_name("2fa_setup").is_ok());
        assert!(migration_name("add-users").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
