//! `pgdbm.toml`, in the Python library's layout, and what the CLI makes of
//! it: the chosen environment's connection and schema, and the modules in
//! the order their migrations run.
//!
//! ```toml
//! [database]
//! migrations_table = "schema_migrations"
//!
//! [environments.dev]
//! url = "${DATABASE_URL}"        # or host / port / database / user / password
//! schema = "public"
//!
//! [modules.users]
//! migrations_path = "src/users/migrations"
//! schema = "users"
//! depends_on = []
//! ```
//!
//! Keys the Rust CLI does not use (`[project]`, `[shared_pool]`, a module's
//! `mode`) are accepted and ignored, as the Python CLI ignores unknown ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgdbm::DatabaseConfig;
use serde::Deserialize;

use crate::error::{CliError, Context, Result};

/// The file looked for when `--config` is not given.
pub const DEFAULT_FILE: &str = "pgdbm.toml";

/// The `[database]` table.
#[derive(Debug, Default, Deserialize)]
struct RawDatabase {
    migrations_table: Option<String>,
}

/// One `[environments.NAME]` table, with the Python CLI's keys.
#[derive(Debug, Default, Deserialize)]
struct RawEnvironment {
    url: Option<String>,
    connection_string: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    user: Option<String>,
    password: Option<String>,
    schema: Option<String>,
    #[serde(default)]
    ssl_enabled: bool,
    ssl_mode: Option<String>,
    ssl_ca_file: Option<PathBuf>,
    ssl_cert_file: Option<PathBuf>,
    ssl_key_file: Option<PathBuf>,
}

/// One `[modules.NAME]` table.
#[derive(Debug, Deserialize)]
struct RawModule {
    migrations_path: PathBuf,
    schema: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
}

/// A set of migrations and the schema it goes into.
#[derive(Debug, Clone)]
pub struct Module {
    /// The module's name in pgdbm.toml; `None` without a config file, where
    /// the library's default (the schema's name, as in Python) applies.
    pub name: Option<String>,
    /// Its migrations directory.
    pub dir: PathBuf,
    /// The schema it is applied to: its own, else the environment's.
    pub schema: String,
    /// The modules it depends on.
    pub depends_on: Vec<String>,
}

impl Module {
    /// How the module is shown: its name, or its schema without one.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.schema)
    }
}

/// What the CLI was configured with: a file (or none) and an environment.
#[derive(Debug)]
pub struct Settings {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// The environment's name.
    pub env: String,
    environment: Option<RawEnvironment>,
    /// The file's other environments, to name when `env` is not one.
    other_environments: Vec<String>,
    /// The tracking table's name.
    pub migrations_table: Option<String>,
    /// The modules in dependency order (one, `./migrations`, without a file).
    pub modules: Vec<Module>,
}

impl Settings {
    /// Reads `explicit` (from `--config` / `PGDBM_CONFIG`), which must
    /// exist, or else `./pgdbm.toml` if there is one. Without a file the
    /// settings are `DATABASE_URL` and `./migrations`.
    pub fn load(explicit: Option<&Path>, env: &str) -> Result<Settings> {
        let path = match explicit {
            Some(path) if !path.is_file() => {
                return Err(CliError::failure(format!(
                    "configuration file not found: {} (given by --config or PGDBM_CONFIG)",
                    path.display()
                )));
            }
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .context(|| format!("could not read {}", path.display()))?;
                Self::parse(&text, &path, env)
            }
            None => Ok(Settings::without_file(env)),
        }
    }

    fn without_file(env: &str) -> Settings {
        let schema = std::env::var("DATABASE_URL")
            .ok()
            .and_then(|url| DatabaseConfig::from_url(&url).ok())
            .and_then(|c| c.schema)
            .unwrap_or_else(|| "public".to_owned());
        Settings {
            file: None,
            env: env.to_owned(),
            environment: None,
            other_environments: Vec::new(),
            migrations_table: None,
            modules: vec![Module {
                name: None,
                dir: PathBuf::from("migrations"),
                schema,
                depends_on: Vec::new(),
            }],
        }
    }

    /// Parses a config file's text; `path` names it in errors and anchors
    /// relative migration paths.
    pub fn parse(text: &str, path: &Path, env: &str) -> Result<Settings> {
        let invalid = |e: toml::de::Error| {
            CliError::failure(format!("invalid configuration file {}", path.display()))
                .with_source(e)
        };
        // A table, not a struct, so modules keep the order of the file (as
        // a Python dict does) for modules that do not depend on each other.
        let doc: toml::Table = toml::from_str(text).map_err(invalid)?;
        let section = |key: &str| doc.get(key).cloned();
        let database: RawDatabase = match section("database") {
            Some(v) => v.try_into().map_err(invalid)?,
            None => RawDatabase::default(),
        };
        let mut environments = table(section("environments"), "environments", path)?;
        let environment = match environments.remove(env) {
            Some(v) => Some(v.try_into::<RawEnvironment>().map_err(|e| {
                CliError::failure(format!(
                    "invalid [environments.{env}] in {}",
                    path.display()
                ))
                .with_source(e)
            })?),
            None => None,
        };
        // An unknown environment is reported when a command needs the
        // connection: `migrate create` works without one.
        let other_environments = environments.keys().cloned().collect();
        let env_schema = environment
            .as_ref()
            .and_then(|e| e.schema.clone())
            .unwrap_or_else(|| "public".to_owned());
        // Paths are relative to the file, which is the working directory in
        // the Python CLI's usual case (`./pgdbm.toml`).
        let base = path.parent().unwrap_or(Path::new(""));
        let mut modules = Vec::new();
        for (name, value) in table(section("modules"), "modules", path)? {
            let raw: RawModule = value.try_into().map_err(|e| {
                CliError::failure(format!("invalid [modules.{name}] in {}", path.display()))
                    .with_source(e)
            })?;
            modules.push(Module {
                name: Some(name),
                dir: base.join(raw.migrations_path),
                schema: raw.schema.unwrap_or_else(|| env_schema.clone()),
                depends_on: raw.depends_on,
            });
        }
        if modules.is_empty() {
            // A file with environments only: one set in ./migrations, as
            // without a file.
            modules.push(Module {
                name: None,
                dir: base.join("migrations"),
                schema: env_schema,
                depends_on: Vec::new(),
            });
        }
        Ok(Settings {
            file: Some(path.to_owned()),
            env: env.to_owned(),
            environment,
            other_environments,
            migrations_table: database.migrations_table,
            modules: dependency_order(modules)?,
        })
    }

    /// The connection for the environment (or `DATABASE_URL`), without a
    /// schema. Nothing connects yet.
    pub fn database(&self) -> Result<DatabaseConfig> {
        let mut config = match &self.environment {
            Some(env) => self.environment_config(env)?,
            None if !self.other_environments.is_empty() => {
                return Err(CliError::failure(format!(
                    "unknown environment {:?}: {} defines {} (choose one with --env or PGDBM_ENV)",
                    self.env,
                    self.file
                        .as_deref()
                        .unwrap_or(Path::new(DEFAULT_FILE))
                        .display(),
                    self.other_environments.join(", ")
                )));
            }
            None => {
                let url = std::env::var("DATABASE_URL").map_err(|_| match &self.file {
                    Some(file) => CliError::failure(format!(
                        "{} has no [environments] and DATABASE_URL is not set",
                        file.display()
                    )),
                    None => CliError::failure(format!(
                        "no {DEFAULT_FILE} here and DATABASE_URL is not set: set one, or pass --config"
                    )),
                })?;
                DatabaseConfig::from_url(&url).context(|| "invalid DATABASE_URL".to_owned())?
            }
        };
        // Schemas are given per command (`Database::from_pool`), so that
        // opening the pool never creates one as a side effect.
        config.schema = None;
        // The CLI runs a command or two at a time, and a migration may run
        // for long: no pool to speak of, no shared connections, and no
        // client-side time limits.
        config = config.with_pool_size(1, 2).with_multiplexing(false);
        config.statement_timeout = None;
        config.command_timeout = None;
        // Someone is waiting at a prompt: one quick retry (a server still
        // starting), not a service's patient backoff of several seconds.
        config.retry_attempts = 1;
        config.retry_delay = std::time::Duration::from_millis(300);
        if config.application_name.is_none() {
            config.application_name = Some("pgdbm-cli".to_owned());
        }
        Ok(config)
    }

    /// The environment's schema (`public` unless set).
    pub fn schema(&self) -> &str {
        match &self.environment {
            Some(env) => env.schema.as_deref().unwrap_or("public"),
            // Without an environment the only module carries the schema.
            None => self
                .modules
                .iter()
                .find(|m| m.name.is_none())
                .map_or("public", |m| m.schema.as_str()),
        }
    }

    /// The module called `name`.
    pub fn module(&self, name: &str) -> Result<&Module> {
        self.modules
            .iter()
            .find(|m| m.name.as_deref() == Some(name))
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .modules
                    .iter()
                    .filter_map(|m| m.name.as_deref())
                    .collect();
                if known.is_empty() {
                    CliError::failure(format!(
                        "unknown module {name:?}: no modules are configured"
                    ))
                } else {
                    CliError::failure(format!(
                        "unknown module {name:?}: configured are {}",
                        known.join(", ")
                    ))
                }
            })
    }

    fn environment_config(&self, env: &RawEnvironment) -> Result<DatabaseConfig> {
        let field = |key: &str| format!("[environments.{}] {key}", self.env);
        let url = match (&env.url, &env.connection_string) {
            (Some(url), _) => Some(expand(url, &field("url"))?),
            (None, Some(url)) => Some(expand(url, &field("connection_string"))?),
            (None, None) => None,
        };
        let mut config = match url {
            Some(url) => {
                DatabaseConfig::from_url(&url).context(|| format!("invalid {}", field("url")))?
            }
            None => {
                let (Some(host), Some(database)) = (&env.host, &env.database) else {
                    return Err(CliError::failure(format!(
                        "[environments.{}] needs url (or connection_string), or host and database",
                        self.env
                    )));
                };
                let mut config = DatabaseConfig::default()
                    .with_host(expand(host, &field("host"))?)
                    .with_database(expand(database, &field("database"))?);
                if let Some(port) = env.port {
                    config = config.with_port(port);
                }
                if let Some(user) = &env.user {
                    config = config.with_user(expand(user, &field("user"))?);
                }
                if let Some(password) = &env.password {
                    config = config.with_password(expand(password, &field("password"))?);
                }
                config
            }
        };
        config.ssl_enabled |= env.ssl_enabled;
        if let Some(mode) = &env.ssl_mode {
            config.ssl_mode = Some(mode.parse().context(|| field("ssl_mode"))?);
        }
        if let Some(ca) = &env.ssl_ca_file {
            config.ssl_root_cert = Some(ca.clone());
        }
        if let Some(cert) = &env.ssl_cert_file {
            config.ssl_cert = Some(cert.clone());
        }
        if let Some(key) = &env.ssl_key_file {
            config.ssl_key = Some(key.clone());
        }
        config
            .validate()
            .context(|| format!("invalid [environments.{}]", self.env))?;
        Ok(config)
    }
}

/// A top-level table of the file (empty when absent).
fn table(value: Option<toml::Value>, key: &str, path: &Path) -> Result<toml::Table> {
    match value {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t),
        Some(_) => Err(CliError::failure(format!(
            "invalid configuration file {}: [{key}] must be a table",
            path.display()
        ))),
    }
}

/// `text` with every `${VAR}` replaced by the variable's value. An unset
/// variable is an error naming it and `field` (the Python CLI silently
/// reads it as empty, which then fails far from the cause).
pub fn expand(text: &str, field: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(CliError::failure(format!(
                "{field}: unterminated ${{ (write ${{VAR}})"
            )));
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            CliError::failure(format!(
                "{field} uses ${{{name}}}, but the environment variable {name} is not set"
            ))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `modules` ordered so that each comes after those it depends on, file
/// order kept otherwise. An unknown dependency or a cycle is an error
/// naming the modules involved.
fn dependency_order(modules: Vec<Module>) -> Result<Vec<Module>> {
    let index: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.name.as_deref().map(|n| (n, i)))
        .collect();
    for m in &modules {
        for dep in &m.depends_on {
            if !index.contains_key(dep.as_str()) {
                return Err(CliError::failure(format!(
                    "module {:?} depends on {dep:?}, which is not a module of the configuration",
                    m.label()
                )));
            }
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        i: usize,
        modules: &[Module],
        index: &HashMap<&str, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<()> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<&str> =
                    path[from..].iter().map(|&p| modules[p].label()).collect();
                cycle.push(modules[i].label());
                return Err(CliError::failure(format!(
                    "modules depend on each other in a cycle: {}",
                    cycle.join(" -> ")
                )));
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for dep in &modules[i].depends_on {
            visit(index[dep.as_str()], modules, index, marks, path, order)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; modules.len()];
    let mut order = Vec::with_capacity(modules.len());
    for i in 0..modules.len() {
        visit(i, &modules, &index, &mut marks, &mut Vec::new(), &mut order)?;
    }
    let mut slots: Vec<Option<Module>> = modules.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        Settings::parse(text, Path::new("/p/pgdbm.toml"), "dev")
    }

    fn names(s: &Settings) -> Vec<&str> {
        s.modules.iter().map(Module::label).collect()
    }

    #[test]
    fn modules_follow_their_dependencies() {
        let s = parse(
            r#"
            [environments.dev]
            url = "postgres://localhost/app"
            schema = "app"
            [modules.billing]
            migrations_path = "billing"
            schema = "billing"
            depends_on = ["users"]
            [modules.users]
            migrations_path = "users"
            [modules.audit]
            migrations_path = "audit"
            "#,
        )
        .unwrap();
        assert_eq!(names(&s), ["users", "billing", "audit"]);
        assert_eq!(s.modules[0].schema, "app");
        assert_eq!(s.modules[1].schema, "billing");
        assert_eq!(s.modules[1].dir, Path::new("/p/billing"));
    }

    #[test]
    fn cycles_and_unknown_dependencies_are_named() {
        let e = parse(
            r#"
            [modules.a]
            migrations_path = "a"
            depends_on = ["b"]
            [modules.b]
            migrations_path = "b"
            depends_on = ["a"]
            "#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "modules depend on each other in a cycle: a -> b -> a"
        );
        let e = parse("[modules.a]\nmigrations_path = \"a\"\ndepends_on = [\"zz\"]\n").unwrap_err();
        assert!(e.to_string().contains("\"a\" depends on \"zz\""), "{e}");
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let e = Settings::parse(
            "[environments.dev]\nurl = \"postgres://h/d\"\n[environments.prod]\nurl = \"postgres://h/d\"\n",
            Path::new("pgdbm.toml"),
            "staging",
        )
        .unwrap()
        .database()
        .unwrap_err();
        assert!(e.to_string().contains("\"staging\""), "{e}");
        assert!(e.to_string().contains("dev, prod"), "{e}");
    }

    #[test]
    fn components_and_expansion() {
        // SAFETY of the test: the variable name is unique to this test.
        unsafe { std::env::set_var("PGDBM_CLI_TEST_PW", "s3cret") };
        let s = parse(
            r#"
            [environments.dev]
            host = "db.internal"
            port = 5433
            database = "shop"
            user = "app"
            password = "${PGDBM_CLI_TEST_PW}"
            "#,
        )
        .unwrap();
        let c = s.database().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.database.as_str()),
            ("db.internal", 5433, "shop")
        );
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert_eq!(s.schema(), "public");
        let e = expand("${PGDBM_CLI_SURELY_UNSET}", "url").unwrap_err();
        assert!(e.to_string().contains("PGDBM_CLI_SURELY_UNSET"), "{e}");
        assert_eq!(expand("a$b", "url").unwrap(), "a$b");
    }
}
