//! The built `pgdbm` binary against a real server: each test gets a fresh
//! database (`TestDatabase`) and a project directory with its pgdbm.toml
//! and migrations, and runs the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use pgdbm::DatabaseConfig;
use pgdbm::testing::{TestDatabase, server_config};
use serde_json::Value;

/// A URL a separate process can use for `config`'s server, on `database`.
fn url(config: &DatabaseConfig, database: &str) -> String {
    let mut auth = encode(&config.user);
    if let Some(password) = &config.password {
        auth.push(':');
        auth.push_str(&encode(password));
    }
    if config.host.starts_with('/') {
        // A unix socket directory goes in a parameter.
        format!(
            "postgres://{auth}@localhost:{}/{database}?host={}",
            config.port,
            encode(&config.host)
        )
    } else if config.host.contains(':') {
        format!(
            "postgres://{auth}@[{}]:{}/{database}",
            config.host, config.port
        )
    } else {
        format!(
            "postgres://{auth}@{}:{}/{database}",
            config.host, config.port
        )
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A project directory, removed afterwards.
struct Project(PathBuf);

impl Project {
    fn new() -> Project {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pgdbm-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Project(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, file: &str, text: &str) -> &Project {
        let path = self.0.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Runs the binary here, with none of the caller's pgdbm variables.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pgdbm"));
        command.args(args).current_dir(&self.0);
        for key in ["DATABASE_URL", "PGDBM_CONFIG", "PGDBM_ENV", "NO_COLOR"] {
            command.env_remove(key);
        }
        command.envs(env.iter().copied());
        Run(command.output().expect("the pgdbm binary runs"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A finished run of the binary.
struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().expect("exited, not killed")
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts exit code `code` and returns stderr.
    fn fails(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }

    fn json(&self) -> Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
    }
}

/// A fresh database and its URL.
async fn fresh() -> (TestDatabase, String) {
    let test = TestDatabase::new().await.expect("a test database");
    let url = url(test.config(), test.name());
    (test, url)
}

/// A project with two modules, `billing` depending on `users` (written
/// first, so the file order alone would be wrong), each in its own schema.
fn two_modules(url: &str) -> Project {
    let p = Project::new();
    p.write(
        "pgdbm.toml",
        &format!(
            r#"
[project]
name = "shop"

[environments.dev]
url = "{url}"

[modules.billing]
migrations_path = "billing/migrations"
schema = "billing"
mode = "library"
depends_on = ["users"]

[modules.users]
migrations_path = "users/migrations"
schema = "users"
"#
        ),
    )
    .write(
        "users/migrations/001_users.sql",
        "CREATE TABLE {{tables.users}} (id bigserial PRIMARY KEY, email text NOT NULL);\n",
    )
    .write(
        "users/migrations/002_names.sql",
        "ALTER TABLE {{tables.users}} ADD COLUMN name text;\n",
    )
    // Fails unless users ran first: it references the users schema's table.
    .write(
        "billing/migrations/001_invoices.sql",
        "CREATE TABLE {{tables.invoices}} (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users.users (id));\n",
    );
    p
}

async fn tracked(db: &TestDatabase, schema: &str) -> Vec<(String, String)> {
    db.fetch_all(
        &format!("SELECT module_name, filename FROM \"{schema}\".schema_migrations ORDER BY id"),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0usize), r.get(1usize)))
    .collect()
}

#[tokio::test]
async fn two_modules_with_depends_on_go_into_two_schemas_in_order() {
    let (db, url) = fresh().await;
    let p = two_modules(&url);
    let out = p.run(&["migrate", "apply"]).ok();
    let users = out.find("module users").expect("users reported");
    let billing = out.find("module billing").expect("billing reported");
    assert!(users < billing, "{out}");
    // A progress line per migration.
    for file in ["001_users.sql", "002_names.sql", "001_invoices.sql"] {
        assert!(out.contains(&format!("applied {file}")), "{out}");
    }
    assert!(out.contains("3 migrations applied"), "{out}");
    assert_eq!(
        tracked(&db, "users").await,
        [
            ("users".into(), "001_users.sql".into()),
            ("users".into(), "002_names.sql".into())
        ]
    );
    assert_eq!(
        tracked(&db, "billing").await,
        [("billing".into(), "001_invoices.sql".into())]
    );
    let again = p.run(&["migrate", "apply"]).ok();
    assert!(again.contains("0 migrations applied"), "{again}");

    // --module applies what the module depends on first.
    let (_db2, url2) = fresh().await;
    let p2 = two_modules(&url2);
    let out = p2.run(&["migrate", "apply", "--module", "billing"]).ok();
    assert!(
        out.find("module users") < out.find("module billing"),
        "{out}"
    );

    let history = p.run(&["migrate", "history", "-n", "1"]).ok();
    assert!(
        history.contains("002_names.sql") && !history.contains("001_users.sql"),
        "{history}"
    );
    let tables = p.run(&["tables"]).ok();
    assert!(
        tables.contains("invoices") && tables.contains("users"),
        "{tables}"
    );
    let schemas = p.run(&["schema", "list"]).ok();
    let billing_line = schemas.lines().find(|l| l.starts_with("billing")).unwrap();
    assert!(billing_line.ends_with("billing"), "{schemas}");
}

#[tokio::test]
async fn status_shows_a_changed_file_and_apply_refuses_it() {
    let (_db, url) = fresh().await;
    let p = two_modules(&url);
    p.run(&["migrate", "apply"]).ok();
    p.write(
        "users/migrations/002_names.sql",
        "ALTER TABLE {{tables.users}} ADD COLUMN full_name text;\n",
    )
    .write("users/migrations/003_more.sql", "SELECT 1;\n");

    let status = p.run(&["--json", "migrate", "status"]).json();
    let users = &status["modules"][0];
    assert_eq!(users["module"], "users");
    assert_eq!(users["modified"], serde_json::json!(["002_names.sql"]));
    assert_eq!(users["pending"], serde_json::json!(["003_more.sql"]));
    assert_eq!(users["up_to_date"], false);
    assert_eq!(status["modules"][1]["up_to_date"], true);

    let human = p.run(&["migrate", "status"]);
    let text = human.ok();
    let line = text.lines().find(|l| l.contains("002_names.sql")).unwrap();
    assert!(line.contains("changed since applied"), "{text}");
    assert!(human.stderr().contains("warning:"), "{}", human.stderr());

    let err = p.run(&["migrate", "apply"]).fails(1);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("002_names.sql") && err.contains("caused by"),
        "{err}"
    );
    let err = p.run(&["migrate", "dry-run"]).fails(1);
    assert!(err.contains("002_names.sql"), "{err}");
}

#[tokio::test]
async fn create_writes_the_next_number_without_connecting() {
    let p = two_modules("postgres://postgres@127.0.0.1:1/nowhere");
    let out = p
        .run(&["migrate", "create", "add_email_index", "-m", "users"])
        .ok();
    assert!(out.contains("003_add_email_index.sql"), "{out}");
    assert!(
        p.path()
            .join("users/migrations/003_add_email_index.sql")
            .is_file()
    );
    let json = p
        .run(&[
            "--json",
            "migrate",
            "create",
            "add_totals",
            "--module",
            "billing",
        ])
        .json();
    assert!(
        json["path"]
            .as_str()
            .unwrap()
            .ends_with("002_add_totals.sql"),
        "{json}"
    );

    // Two modules: which one must be said.
    let err = p.run(&["migrate", "create", "x"]).fails(2);
    assert!(
        err.contains("--module") && err.contains("users, billing"),
        "{err}"
    );

    // Without a config: ./migrations, wide numbers kept.
    let simple = Project::new();
    simple.write("migrations/0009_old.sql", "SELECT 1;\n");
    let out = simple.run(&["migrate", "create", "next"]).ok();
    assert!(out.contains("0010_next.sql"), "{out}");
}

#[tokio::test]
async fn invalid_names_are_rejected_before_connecting() {
    // Port 1: anything that tried to connect would report a connection error.
    let p = Project::new();
    let unreachable = |db: &str| format!("postgres://postgres@127.0.0.1:1/{db}");
    let bad_db = unreachable("bad-name");
    let env = [("DATABASE_URL", bad_db.as_str())];
    for command in [&["db", "create"][..], &["db", "drop", "--yes"]] {
        let err = p.run_with(command, &env).fails(1);
        assert!(err.contains("invalid database name"), "{err}");
        assert!(!err.contains("connect"), "{err}");
    }
    let good = unreachable("fine");
    let env = [("DATABASE_URL", good.as_str())];
    let err = p.run_with(&["schema", "create", "bad;name"], &env).fails(2);
    assert!(err.contains("not an identifier"), "{err}");
    let err = p
        .run_with(&["schema", "drop", "Robert'); DROP"], &env)
        .fails(2);
    assert!(err.contains("not an identifier"), "{err}");
    let err = p.run_with(&["schema", "drop"], &env).fails(2);
    assert!(err.contains("name the schema"), "{err}");
    let err = p.run_with(&["tables", "--schema", "a b"], &env).fails(2);
    assert!(err.contains("not an identifier"), "{err}");
    let err = p
        .run_with(&["migrate", "create", "add-users"], &env)
        .fails(2);
    assert!(err.contains("not a migration name"), "{err}");
    assert!(!p.path().join("migrations").exists());
    // The same URL with a valid name does try to connect, and says so.
    let err = p.run_with(&["schema", "create", "ok"], &env).fails(1);
    assert!(
        err.contains("could not connect to 127.0.0.1:1/fine"),
        "{err}"
    );
}

#[tokio::test]
async fn db_create_and_drop_round_trip() {
    let server = server_config().unwrap();
    let admin = pgdbm::Database::connect(server.clone()).await.unwrap();
    let name = format!("pgdbm_cli_db_{}", std::process::id());
    let exists = async |name: &str| -> bool {
        admin
            .fetch_value(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                &[&name],
            )
            .await
            .unwrap()
    };
    let p = Project::new();
    p.write(
        "pgdbm.toml",
        &format!("[environments.dev]\nurl = \"{}\"\n", url(&server, &name)),
    );
    let created = p.run(&["--json", "db", "create"]).json();
    assert_eq!(
        created,
        serde_json::json!({ "database": name, "created": true })
    );
    assert!(exists(&name).await);
    let again = p.run(&["db", "create"]).ok();
    assert!(again.contains("already exists"), "{again}");

    // A session on it: drop refuses without --force.
    let holder = pgdbm::Database::connect(server.clone().with_database(&name).with_pool_size(1, 1))
        .await
        .unwrap();
    let err = p.run(&["db", "drop", "--yes"]).fails(1);
    assert!(err.contains("--force"), "{err}");
    assert!(exists(&name).await);
    // Without a terminal, --yes is required.
    let err = p.run(&["db", "drop", "--force"]).fails(2);
    assert!(err.contains("--yes"), "{err}");
    let dropped = p.run(&["--json", "db", "drop", "--force", "--yes"]).json();
    assert_eq!(dropped["dropped"], true);
    assert!(!exists(&name).await);
    drop(holder);
    let gone = p.run(&["db", "drop", "--yes"]).ok();
    assert!(gone.contains("does not exist"), "{gone}");
}

#[tokio::test]
async fn json_output_parses() {
    let (_db, url) = fresh().await;
    let p = two_modules(&url);
    let dry = p.run(&["--json", "migrate", "dry-run"]).json();
    assert_eq!(
        dry["modules"][0]["pending"],
        serde_json::json!(["001_users.sql", "002_names.sql"])
    );
    let applied = p.run(&["--json", "migrate", "apply"]).json();
    assert_eq!(applied["applied"], 3);
    assert_eq!(applied["modules"][1]["schema"], "billing");
    assert_eq!(
        applied["modules"][1]["applied"][0]["filename"],
        "001_invoices.sql"
    );
    let status = p.run(&["--json", "migrate", "status"]).json();
    assert_eq!(status["modules"][0]["applied"].as_array().unwrap().len(), 2);
    let history = p.run(&["--json", "migrate", "history"]).json();
    assert_eq!(history.as_array().unwrap().len(), 3);
    let tables = p.run(&["--json", "tables", "--schema", "billing"]).json();
    let names: Vec<&str> = tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"invoices"), "{tables}");
    assert!(tables[0]["total_bytes"].as_i64().unwrap() > 0);
    let schemas = p.run(&["--json", "schema", "list"]).json();
    let users = schemas
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schema"] == "users")
        .unwrap();
    assert_eq!(users["modules"], serde_json::json!(["users"]));
    assert_eq!(users["tables"], 2);
    let activity = p.run(&["--json", "activity"]).json();
    assert!(activity.is_array());
    let created = p.run(&["--json", "schema", "create", "reports"]).json();
    assert_eq!(created["created"], true);
    let dropped = p.run(&["--json", "schema", "drop", "reports"]).json();
    assert_eq!(dropped["dropped"], true);
}

#[tokio::test]
async fn a_missing_config_file_is_a_clear_error() {
    let p = Project::new();
    let err = p
        .run(&["--config", "nowhere/pgdbm.toml", "migrate", "status"])
        .fails(1);
    assert!(
        err.contains("configuration file not found: nowhere/pgdbm.toml"),
        "{err}"
    );
    let err = p
        .run_with(&["migrate", "status"], &[("PGDBM_CONFIG", "/no/such.toml")])
        .fails(1);
    assert!(
        err.contains("configuration file not found: /no/such.toml"),
        "{err}"
    );
    // No file and no DATABASE_URL.
    let err = p.run(&["migrate", "status"]).fails(1);
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[tokio::test]
async fn an_unknown_environment_is_a_clear_error() {
    let p = two_modules("postgres://postgres@127.0.0.1:1/nowhere");
    let err = p.run(&["--env", "staging", "migrate", "status"]).fails(1);
    assert!(
        err.contains("unknown environment \"staging\"") && err.contains("dev"),
        "{err}"
    );
    let err = p
        .run_with(&["migrate", "apply"], &[("PGDBM_ENV", "qa")])
        .fails(1);
    assert!(err.contains("unknown environment \"qa\""), "{err}");
}

#[tokio::test]
async fn cycles_and_unknown_dependencies_name_the_modules() {
    let p = Project::new();
    p.write(
        "pgdbm.toml",
        "[modules.a]\nmigrations_path = \"a\"\ndepends_on = [\"b\"]\n[modules.b]\nmigrations_path = \"b\"\ndepends_on = [\"a\"]\n",
    );
    let err = p.run(&["migrate", "status"]).fails(1);
    assert!(err.contains("a -> b -> a"), "{err}");
    p.write(
        "pgdbm.toml",
        "[modules.a]\nmigrations_path = \"a\"\ndepends_on = [\"ghost\"]\n",
    );
    let err = p.run(&["migrate", "status"]).fails(1);
    assert!(err.contains("\"a\" depends on \"ghost\""), "{err}");
}

/// `pgdbm generate config --name shop` of the Python library (0.5), as it
/// wrote it.
const PYTHON_CONFIG: &str = include_str!("fixtures/python-generated.toml");

#[tokio::test]
async fn reads_a_config_written_by_the_python_cli() {
    let (db, _) = fresh().await;
    let server = db.config();
    // The user's edit: the test environment pointed at this server; every
    // other line (project, prod's ${DATABASE_URL} and ssl, comments) stays.
    let mut text = PYTHON_CONFIG.replace(
        "host = \"localhost\"\nport = 5432\ndatabase = \"shop_test\"\nuser = \"postgres\"\n",
        &format!(
            "host = \"{}\"\nport = {}\ndatabase = \"{}\"\nuser = \"{}\"\n",
            server.host,
            server.port,
            db.name(),
            server.user
        ),
    );
    assert_ne!(
        text, PYTHON_CONFIG,
        "the fixture's test environment changed"
    );
    if let Some(password) = &server.password {
        text = text.replace(
            "schema = \"test\"",
            &format!("password = \"{password}\"\nschema = \"test\""),
        );
    }
    let p = Project::new();
    p.write("pgdbm.toml", &text).write(
        "migrations/001_items.sql",
        "CREATE TABLE {{tables.items}} (id int);\n",
    );
    let out = p.run(&["--env", "test", "migrate", "apply"]).ok();
    assert!(out.contains("1 migration applied"), "{out}");
    // The environment's schema, and Python's module name for it.
    assert_eq!(
        tracked(&db, "test").await,
        [("test".into(), "001_items.sql".into())]
    );

    // prod: url = "${DATABASE_URL}", which is unset here.
    let err = p.run(&["-e", "prod", "migrate", "status"]).fails(1);
    assert!(
        err.contains("${DATABASE_URL}") && err.contains("not set"),
        "{err}"
    );
    // dev points at localhost:5432/shop_dev as generated; the file is read
    // all the same (`migrate create` needs no connection).
    let out = p.run(&["migrate", "create", "second"]).ok();
    assert!(out.contains("002_second.sql"), "{out}");
}

#[tokio::test]
async fn generate_config_writes_the_python_cli_file() {
    let p = Project::new();
    p.run(&["generate", "config", "--name", "shop"]).ok();
    let written = std::fs::read_to_string(p.path().join("pgdbm.toml")).unwrap();
    assert_eq!(written, PYTHON_CONFIG);
    let err = p.run(&["generate", "config"]).fails(1);
    assert!(err.contains("--force"), "{err}");
    p.run(&["generate", "config", "--force"]).ok();
    let err = p.run(&["generate", "config", "--name", "my-app"]).fails(2);
    assert!(err.contains("not an identifier"), "{err}");
}

#[tokio::test]
async fn without_a_config_file_database_url_and_migrations() {
    let (db, url) = fresh().await;
    let p = Project::new();
    p.write(
        "migrations/001_t.sql",
        "CREATE TABLE {{tables.t}} (id int);\n",
    );
    let env = [("DATABASE_URL", url.as_str())];
    let out = p.run_with(&["migrate", "apply"], &env).ok();
    assert!(out.contains("applied 001_t.sql"), "{out}");
    // Into public, under the module name Python's simple mode uses.
    assert_eq!(
        tracked(&db, "public").await,
        [("public".into(), "001_t.sql".into())]
    );
    let status = p.run_with(&["--json", "migrate", "status"], &env).json();
    assert_eq!(status["modules"][0]["up_to_date"], true);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let p = Project::new();
    assert_eq!(p.run(&["migrate", "frobnicate"]).code(), 2);
    assert_eq!(p.run(&[]).code(), 2);
    assert!(p.run(&["--help"]).ok().contains("migrate"));
    assert!(p.run(&["--version"]).ok().starts_with("pgdbm "));
}
