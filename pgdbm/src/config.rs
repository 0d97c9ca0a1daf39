//! Connection and pool configuration.
//!
//! [`DatabaseConfig`] mirrors the Python pgdbm `DatabaseConfig`: the same
//! fields with the same defaults, built from a URL, from the environment, or
//! field by field. [`DatabaseConfig::validate`] rejects values that would
//! only fail later (at connect time, or silently on the server), naming the
//! field at fault.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, Result};

/// The longest schema name PostgreSQL keeps without truncating (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Whether and how to use TLS, with libpq's names.
///
/// What each mode checks (as libpq): `Require` encrypts without checking
/// the server's certificate, unless
/// [`ssl_root_cert`](DatabaseConfig::ssl_root_cert) is given, in which
/// case it checks the chain as `VerifyCa` does; `VerifyCa` checks that the
/// certificate chains up to a trusted root (`ssl_root_cert`, else the
/// platform's store) but not which host it names; `VerifyFull` checks the
/// chain and the host name. `Prefer` and `Allow` encrypt when they can and
/// fall back to plain text, so they protect against nothing but a passive
/// listener: use `VerifyFull` over any network you do not trust.
///
/// ```
/// use pgdbm::SslMode;
///
/// assert_eq!("verify-full".parse::<SslMode>()?, SslMode::VerifyFull);
/// assert_eq!("allow".parse::<SslMode>()?, SslMode::Allow);
/// assert_eq!(SslMode::default(), SslMode::Prefer);
/// assert!("sometimes".parse::<SslMode>().is_err());
/// # Ok::<(), pgdbm::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Plain text first; TLS only when the server refuses a plain
    /// connection (its `pg_hba.conf` has only `hostssl` lines for us).
    Allow,
    /// TLS when the server offers it, plain text when it does not or when
    /// the TLS handshake fails.
    #[default]
    Prefer,
    /// Always TLS; the certificate is checked only against an
    /// `ssl_root_cert` given.
    Require,
    /// Always TLS, and the certificate must chain up to a trusted root.
    VerifyCa,
    /// Like `VerifyCa`, and the certificate must also name the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq name of the mode, as accepted by `sslmode=`.
    ///
    /// ```
    /// assert_eq!(pgdbm::SslMode::VerifyCa.as_str(), "verify-ca");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    /// Parses a libpq `sslmode`, in any case.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "disable" => Ok(SslMode::Disable),
            "allow" => Ok(SslMode::Allow),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            _ => Err(Error::config(
                "ssl_mode",
                format!(
                    "unknown ssl mode {s:?}; expected one of disable, allow, prefer, require, verify-ca, verify-full"
                ),
            )),
        }
    }
}

/// Everything needed to open and pool connections.
///
/// Fields are public; start from [`Default`], [`from_url`](Self::from_url)
/// or [`from_env`](Self::from_env) and adjust. The `with_*` methods chain.
/// Call [`validate`](Self::validate) after changing fields by hand (opening
/// a database does so too).
///
/// `Debug` output never shows the password or the TLS key password.
///
/// ```
/// use std::time::Duration;
/// use pgdbm::DatabaseConfig;
///
/// let config = DatabaseConfig::from_url("postgres://app:secret@db.internal:5433/shop")?
///     .with_schema("billing")
///     .with_pool_size(2, 8)
///     .with_command_timeout(Some(Duration::from_secs(5)));
/// config.validate()?;
/// assert_eq!(config.port, 5433);
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), pgdbm::Error>(())
/// ```
#[derive(Clone)]
pub struct DatabaseConfig {
    /// Server host name or IP address, or the directory of the server's unix
    /// socket when it starts with `/`. Default `"localhost"`.
    pub host: String,
    /// Server port. Default `5432`.
    pub port: u16,
    /// Database name. Default `"postgres"`.
    pub database: String,
    /// Role to connect as. Default `"postgres"`.
    pub user: String,
    /// Password, if the server asks for one. Default `None`.
    pub password: Option<String>,
    /// Reported to the server as `application_name` (visible in
    /// `pg_stat_activity`). Default `None`.
    pub application_name: Option<String>,
    /// How long opening one connection may take. Default 10 s; `None` waits
    /// for as long as the operating system does.
    pub connect_timeout: Option<Duration>,

    /// Schema this configuration's tables live in, used exactly as written:
    /// it is quoted, never case-folded. Default `None` (the server's
    /// `search_path` decides).
    pub schema: Option<String>,

    /// Connections the pool keeps open even when idle. They are opened
    /// before `connect` returns, and a background task opens them again
    /// when the pool falls below (after a server restart, or backends
    /// terminated), within about a second of the server being back.
    /// Default `10`.
    pub min_connections: usize,
    /// Most server sessions the pool opens at once, counting both kinds:
    /// the exclusive connections of `acquire()`, transactions, streams and
    /// COPY, and the shared ones multiplexing runs `Database` statements
    /// on (see [`multiplex_connections`](Self::multiplex_connections)),
    /// which are held out of the same pool. Shared connections take at most
    /// `max_connections - 1`, so exclusive work always has one to wait for.
    /// A [`Listener`](crate::Listener) opens a dedicated session of its own
    /// outside this bound. Default `20`.
    pub max_connections: usize,
    /// A connection is closed and replaced after serving this many queries,
    /// which bounds server-side memory growth per backend: an exclusive
    /// connection when it is next checked out, a shared one as soon as it
    /// reaches the count (once the requests in flight on it are answered).
    /// Default `50_000`.
    pub max_queries: u64,
    /// A connection idle in the pool for this long is closed by a background
    /// task, down to `min_connections`. Default 300 s; `None` keeps idle
    /// connections forever.
    pub max_inactive_connection_lifetime: Option<Duration>,

    /// Client-side limit on each call; when it passes the call fails with
    /// [`Error::Timeout`] and the statement is cancelled. Default 60 s;
    /// `None` waits forever. When `statement_timeout` is no longer than this
    /// (as by default), the server ends a statement first
    /// ([`Error::QueryCanceled`]) and no client timer is armed per call;
    /// `Database::with_timeout` always arms one.
    pub command_timeout: Option<Duration>,
    /// How long a caller waits for a free pooled connection before
    /// [`Error::PoolTimeout`]. Default 30 s; `None` waits forever.
    pub acquire_timeout: Option<Duration>,

    /// Server-side `statement_timeout`, sent as a startup option of every
    /// connection, shared ones included. Default 60 s; `None` disables it
    /// (sends `0`, overriding a role's or database's own setting).
    pub statement_timeout: Option<Duration>,
    /// Server-side `idle_in_transaction_session_timeout`, sent as a
    /// startup option of every connection. Default 60 s; `None` disables it.
    pub idle_in_transaction_session_timeout: Option<Duration>,
    /// Server-side `lock_timeout`, sent as a startup option of every
    /// connection. Default 5 s; `None` disables it.
    pub lock_timeout: Option<Duration>,

    /// Further server settings sent when connecting (as `-c key=value`
    /// startup options). They are sent after the three timeouts above, so an
    /// entry here for the same setting wins. Default empty.
    pub server_settings: BTreeMap<String, String>,
    /// SQL run, in order, on every new connection (shared ones included)
    /// before it is first handed out. A command that fails fails that
    /// connection with the server's error, which names the command and the
    /// server; it is not retried. Default empty.
    pub init_commands: Vec<String>,

    /// Insist on TLS, as Python pgdbm's `ssl_enabled`: with no
    /// [`ssl_mode`](Self::ssl_mode) it means [`SslMode::VerifyFull`].
    /// Default `false`.
    pub ssl_enabled: bool,
    /// How to use TLS (`sslmode`). Default `None`: [`SslMode::Prefer`], or
    /// [`SslMode::VerifyFull`] when `ssl_enabled` is set; see
    /// [`effective_ssl_mode`](Self::effective_ssl_mode). Ignored for a Unix
    /// socket, where the server never offers TLS (as in libpq).
    pub ssl_mode: Option<SslMode>,
    /// PEM file of the CA certificate(s) the server's certificate must
    /// chain up to (`sslrootcert`). Default `None`: the platform's trusted
    /// roots; `"system"` means the same, as in libpq.
    #[doc(alias = "ssl_ca_file")]
    pub ssl_root_cert: Option<PathBuf>,
    /// PEM file of the client certificate, for servers that ask for one
    /// (`sslcert`; with [`ssl_key`](Self::ssl_key)). Default `None`.
    #[doc(alias = "ssl_cert_file")]
    pub ssl_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key (`sslkey`):
    /// PKCS#8, RSA or EC, or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`)
    /// opened with [`ssl_key_password`](Self::ssl_key_password). Default
    /// `None`.
    #[doc(alias = "ssl_key_file")]
    pub ssl_key: Option<PathBuf>,
    /// Password of an encrypted client key (`sslpassword`). Default `None`.
    pub ssl_key_password: Option<String>,

    /// How many times opening a connection is retried after a failure that
    /// may pass (an unreachable server, one still starting up or shutting
    /// down, a connection lost during start-up): for the first connection,
    /// the pool growing, a lost connection replaced, a shared one opened.
    /// Refused credentials ([`Error::Authentication`]), an unknown database
    /// ([`Error::UnknownDatabase`]), TLS and configuration errors fail at
    /// once. Each retry is a WARN event on the `tracing` target `pgdbm`,
    /// and the last error says where it tried and how often
    /// ([`ConnectError`](crate::ConnectError)). Default `3`.
    pub retry_attempts: u32,
    /// Wait before the first retry; the waits get up to a quarter longer
    /// at random, so clients that lost a server together do not all come
    /// back in the same instant. Default 1 s.
    pub retry_delay: Duration,
    /// Each further wait is the previous one times this factor. Default `2.0`.
    pub retry_backoff: f64,
    /// Upper bound of any single wait between retries. Default 30 s.
    pub retry_max_delay: Duration,

    /// Prepared statements cached per connection; the least recently used
    /// is evicted beyond this. Default `1000`.
    pub statement_cache_size: usize,

    /// Schemas whose caches (expanded templates, built statements, up to
    /// 4,096 each) a pool keeps; beyond this the least recently opened
    /// schema's are dropped, and rebuilt when a manager for it is made
    /// again. Bounds a pool's memory however many tenants it serves.
    /// Default `1000`.
    pub schema_cache_size: usize,

    /// Run statements issued directly on a `Database` over a few shared,
    /// pipelined connections instead of one exclusive pooled connection per
    /// call. `acquire()`, transactions, streams, COPY, batches and calls with
    /// their own timeout keep exclusive connections. Default `true`.
    pub multiplex: bool,
    /// The most shared connections multiplexing opens. Default: this
    /// machine's cores, at least 2 and at most 8.
    ///
    /// Each shared connection is one server backend, and one backend runs on
    /// one server core; past that, more connections only split the pipeline
    /// into shallower batches. Measured on a 2-core machine with the server
    /// beside the client, 2 connections beat 4 by a quarter at 16 tasks, and
    /// beat 1 where the statement costs the server more than the round trip.
    /// Raise it for a server with many more cores than the client.
    ///
    /// Shared connections are taken from the pool and count against
    /// `max_connections`, and they never take the pool's last connection:
    /// at most `max_connections - 1` are shared, so `acquire()` and
    /// transactions always have one to wait for. With `max_connections`
    /// of 1 nothing is multiplexed.
    pub multiplex_connections: usize,
    /// Requests in flight on every shared connection before another is
    /// opened. Default `8`.
    pub multiplex_depth: usize,
    /// Statements slower than this are logged at WARN (target
    /// `pgdbm::slow_query`) with their SQL, duration and schema, as the
    /// Python library's `MonitoredAsyncDatabaseManager` does. Default 1 s;
    /// `None` disables it.
    pub slow_query_threshold: Option<Duration>,
}

/// Multiplexing's default connection cap: the client's cores, clamped.
///
/// The server's core count is what bounds useful backends, but the server
/// does not report it; the client's is a fair stand-in when both are sized
/// alike, and the clamp keeps a tiny or huge client reasonable.
fn default_multiplex_connections() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            host: "localhost".to_owned(),
            port: 5432,
            database: "postgres".to_owned(),
            user: "postgres".to_owned(),
            password: None,
            application_name: None,
            connect_timeout: Some(Duration::from_secs(10)),
            schema: None,
            min_connections: 10,
            max_connections: 20,
            max_queries: 50_000,
            max_inactive_connection_lifetime: Some(Duration::from_secs(300)),
            command_timeout: Some(Duration::from_secs(60)),
            acquire_timeout: Some(Duration::from_secs(30)),
            statement_timeout: Some(Duration::from_secs(60)),
            idle_in_transaction_session_timeout: Some(Duration::from_secs(60)),
            lock_timeout: Some(Duration::from_secs(5)),
            server_settings: BTreeMap::new(),
            init_commands: Vec::new(),
            ssl_enabled: false,
            ssl_mode: None,
            ssl_root_cert: None,
            ssl_cert: None,
            ssl_key: None,
            ssl_key_password: None,
            retry_attempts: 3,
            retry_delay: Duration::from_secs(1),
            retry_backoff: 2.0,
            retry_max_delay: Duration::from_secs(30),
            statement_cache_size: 1000,
            schema_cache_size: 1000,
            multiplex: true,
            multiplex_connections: default_multiplex_connections(),
            multiplex_depth: 8,
            slow_query_threshold: Some(Duration::from_secs(1)),
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Configs end up in logs and panic messages; secrets must not.
        let redact = |secret: &Option<String>| secret.as_ref().map(|_| "***");
        f.debug_struct("DatabaseConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("schema", &self.schema)
            .field("min_connections", &self.min_connections)
            .field("max_connections", &self.max_connections)
            .field("max_queries", &self.max_queries)
            .field(
                "max_inactive_connection_lifetime",
                &self.max_inactive_connection_lifetime,
            )
            .field("command_timeout", &self.command_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field(
                "idle_in_transaction_session_timeout",
                &self.idle_in_transaction_session_timeout,
            )
            .field("lock_timeout", &self.lock_timeout)
            .field("server_settings", &self.server_settings)
            .field("init_commands", &self.init_commands)
            .field("ssl_enabled", &self.ssl_enabled)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_key_password", &redact(&self.ssl_key_password))
            .field("retry_attempts", &self.retry_attempts)
            .field("retry_delay", &self.retry_delay)
            .field("retry_backoff", &self.retry_backoff)
            .field("retry_max_delay", &self.retry_max_delay)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("schema_cache_size", &self.schema_cache_size)
            .field("multiplex", &self.multiplex)
            .field("multiplex_connections", &self.multiplex_connections)
            .field("multiplex_depth", &self.multiplex_depth)
            .field("slow_query_threshold", &self.slow_query_threshold)
            .finish()
    }
}

impl DatabaseConfig {
    /// Parses a `postgres://` or `postgresql://` URL:
    /// `postgres://user:password@host:port/dbname?param=value&...`.
    ///
    /// Every part is optional; missing parts keep their defaults. User,
    /// password, host, database and parameter values are percent-decoded
    /// (`%40` is `@`); `+` stays a plus sign, as in libpq. A password may
    /// contain a raw `@` (the last `@` ends the user part), but a raw `/` or
    /// `?` in it must be written `%2F` / `%3F`. IPv6 addresses go in
    /// brackets: `postgres://[::1]:5433/db`.
    ///
    /// Parameters: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
    /// `sslpassword`, `application_name`, `connect_timeout` (whole seconds;
    /// `0` means no timeout, as in libpq), `host` (for example a unix socket
    /// directory), `port`, `user`, `password`, `dbname`, `options` (a libpq
    /// options string of `-c key=value` / `--key=value` entries, which go
    /// into [`server_settings`](Self::server_settings)) and `schema` (a pgdbm
    /// extension). Any other parameter is an error naming it.
    ///
    /// The result is [validated](Self::validate). Error messages never
    /// repeat the password.
    ///
    /// ```
    /// use pgdbm::{DatabaseConfig, SslMode};
    ///
    /// let config = DatabaseConfig::from_url(
    ///     "postgresql://app:p%40ss@[::1]:5433/shop?sslmode=require&schema=Billing&options=-c%20work_mem%3D64MB",
    /// )?;
    /// assert_eq!(config.user, "app");
    /// assert_eq!(config.password.as_deref(), Some("p@ss"));
    /// assert_eq!(config.host, "::1");
    /// assert_eq!(config.port, 5433);
    /// assert_eq!(config.database, "shop");
    /// assert_eq!(config.ssl_mode, Some(SslMode::Require));
    /// assert_eq!(config.schema.as_deref(), Some("Billing"));
    /// assert_eq!(config.server_settings["work_mem"], "64MB");
    ///
    /// assert!(DatabaseConfig::from_url("mysql://localhost/db").is_err());
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = strip_scheme(url).ok_or_else(|| {
            // The URL itself is not echoed: it may carry a password.
            Error::config(
                "url",
                "expected a URL starting with postgres:// or postgresql://",
            )
        })?;

        // As in RFC 3986 (and Python's urllib), the authority ends at the
        // first '/' or '?'; inside it, the last '@' ends the user part so
        // that an unencoded '@' in a password still works.
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };

        let mut config = DatabaseConfig::default();

        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            let user = percent_decode(user, "user")?;
            if !user.is_empty() {
                config.user = user;
            }
            if let Some(password) = password {
                let password = percent_decode(password, "password")?;
                if !password.is_empty() {
                    config.password = Some(password);
                }
            }
        }

        let (host, port) = split_host_port(hostport)?;
        let host = percent_decode(host, "host")?;
        if !host.is_empty() {
            config.set_url_host(host)?;
        }
        if let Some(port) = port.filter(|p| !p.is_empty()) {
            config.port = parse_port(port)?;
        }

        let database = percent_decode(path.strip_prefix('/').unwrap_or(path), "database")?;
        if !database.is_empty() {
            config.database = database;
        }

        for pair in query.unwrap_or("").split('&') {
            if pair.is_empty() {
                continue;
            }
            let (raw_key, raw_value) = pair.split_once('=').ok_or_else(|| {
                Error::config("url", "query parameters must be written key=value")
            })?;
            let key = percent_decode(raw_key, "url")?;
            let value = percent_decode(raw_value, &key)?;
            config.apply_url_param(&key, value)?;
        }

        config.validate()?;
        Ok(config)
    }

    fn set_url_host(&mut self, host: String) -> Result<()> {
        if host.contains(',') {
            return Err(Error::config("host", "multiple hosts are not supported"));
        }
        self.host = host;
        Ok(())
    }

    fn apply_url_param(&mut self, key: &str, value: String) -> Result<()> {
        match key {
            "sslmode" => self.ssl_mode = Some(value.parse()?),
            "sslrootcert" => self.ssl_root_cert = Some(PathBuf::from(value)),
            "sslcert" => self.ssl_cert = Some(PathBuf::from(value)),
            "sslkey" => self.ssl_key = Some(PathBuf::from(value)),
            "sslpassword" => self.ssl_key_password = Some(value),
            "application_name" => self.application_name = Some(value),
            "connect_timeout" => {
                let seconds: u64 = value.trim().parse().map_err(|_| {
                    Error::config(
                        "connect_timeout",
                        format!("expected whole seconds, got {value:?}"),
                    )
                })?;
                // libpq reads 0 as "no timeout"; keep that meaning.
                self.connect_timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
            }
            "host" => self.set_url_host(value)?,
            "port" => self.port = parse_port(&value)?,
            "user" => self.user = value,
            "password" => self.password = Some(value),
            "dbname" => self.database = value,
            "options" => {
                for (name, setting) in parse_options(&value)? {
                    self.server_settings.insert(name, setting);
                }
            }
            "schema" => self.schema = Some(value),
            other => {
                return Err(Error::config(
                    other,
                    "unknown connection parameter in the URL",
                ));
            }
        }
        Ok(())
    }

    /// Reads the configuration from the environment.
    ///
    /// When `DATABASE_URL` is set it is parsed with
    /// [`from_url`](Self::from_url) and nothing else is read. Otherwise the
    /// defaults are overridden by the libpq variables `PGHOST`, `PGPORT`,
    /// `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, `PGSSLROOTCERT`,
    /// `PGSSLCERT`, `PGSSLKEY` and `PGAPPNAME`.
    /// A variable set to the empty string counts as unset.
    /// The result is [validated](Self::validate).
    ///
    /// ```
    /// match pgdbm::DatabaseConfig::from_env() {
    ///     Ok(config) => println!("connecting to {}:{}", config.host, config.port),
    ///     Err(e) => eprintln!("bad database environment: {e}"),
    /// }
    /// ```
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        // A variable set to "" (common in container env files) means unset.
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(url) = get("DATABASE_URL") {
            return Self::from_url(&url);
        }
        let mut config = DatabaseConfig::default();
        if let Some(host) = get("PGHOST") {
            config.host = host;
        }
        if let Some(port) = get("PGPORT") {
            config.port = port.trim().parse().map_err(|_| {
                Error::config(
                    "port",
                    format!("PGPORT must be a number between 1 and 65535, got {port:?}"),
                )
            })?;
        }
        if let Some(database) = get("PGDATABASE") {
            config.database = database;
        }
        if let Some(user) = get("PGUSER") {
            config.user = user;
        }
        if let Some(password) = get("PGPASSWORD") {
            config.password = Some(password);
        }
        if let Some(mode) = get("PGSSLMODE") {
            config.ssl_mode = Some(mode.parse()?);
        }
        if let Some(path) = get("PGSSLROOTCERT") {
            config.ssl_root_cert = Some(PathBuf::from(path));
        }
        if let Some(path) = get("PGSSLCERT") {
            config.ssl_cert = Some(PathBuf::from(path));
        }
        if let Some(path) = get("PGSSLKEY") {
            config.ssl_key = Some(PathBuf::from(path));
        }
        if let Some(name) = get("PGAPPNAME") {
            config.application_name = Some(name);
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets the schema, used exactly as written (never case-folded).
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_schema("Tenant_A");
    /// assert_eq!(config.schema.as_deref(), Some("Tenant_A"));
    /// ```
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the smallest and largest number of pooled connections.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_pool_size(1, 4);
    /// assert_eq!((config.min_connections, config.max_connections), (1, 4));
    /// ```
    pub fn with_pool_size(mut self, min: usize, max: usize) -> Self {
        self.min_connections = min;
        self.max_connections = max;
        self
    }

    /// Sets the host name, IP address or unix socket directory.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_host("/var/run/postgresql");
    /// assert_eq!(config.host, "/var/run/postgresql");
    /// ```
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets the server port.
    ///
    /// ```
    /// assert_eq!(pgdbm::DatabaseConfig::default().with_port(6432).port, 6432);
    /// ```
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the role to connect as.
    ///
    /// ```
    /// assert_eq!(pgdbm::DatabaseConfig::default().with_user("app").user, "app");
    /// ```
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Sets the password.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_password("s3cret");
    /// assert_eq!(config.password.as_deref(), Some("s3cret"));
    /// ```
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Sets the database name.
    ///
    /// ```
    /// assert_eq!(pgdbm::DatabaseConfig::default().with_database("shop").database, "shop");
    /// ```
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Sets the `application_name` reported to the server.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_application_name("billing-worker");
    /// assert_eq!(config.application_name.as_deref(), Some("billing-worker"));
    /// ```
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Sets the TLS mode.
    ///
    /// ```
    /// use pgdbm::{DatabaseConfig, SslMode};
    /// let config = DatabaseConfig::default().with_ssl_mode(SslMode::Disable);
    /// assert_eq!(config.ssl_mode, Some(SslMode::Disable));
    /// ```
    pub fn with_ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets the PEM file of the CA certificate(s) the server's certificate
    /// must chain up to.
    ///
    /// ```
    /// use pgdbm::{DatabaseConfig, SslMode};
    /// let config = DatabaseConfig::default()
    ///     .with_ssl_mode(SslMode::VerifyFull)
    ///     .with_ssl_root_cert("/etc/ssl/rds-global-bundle.pem");
    /// assert!(config.ssl_root_cert.is_some());
    /// ```
    pub fn with_ssl_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_root_cert = Some(path.into());
        self
    }

    /// Sets the client certificate and key (PEM files) for servers that
    /// ask for one, and the key's password when it is encrypted.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_ssl_client_cert(
    ///     "/etc/app/client.crt",
    ///     "/etc/app/client.key",
    ///     Some("key password"),
    /// );
    /// assert_eq!(config.ssl_key_password.as_deref(), Some("key password"));
    /// ```
    pub fn with_ssl_client_cert(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        key_password: Option<&str>,
    ) -> Self {
        self.ssl_cert = Some(cert.into());
        self.ssl_key = Some(key.into());
        self.ssl_key_password = key_password.map(str::to_owned);
        self
    }

    /// The TLS mode connections use: [`ssl_mode`](Self::ssl_mode) when set,
    /// else [`SslMode::VerifyFull`] with `ssl_enabled` and
    /// [`SslMode::Prefer`] without.
    ///
    /// ```
    /// use pgdbm::{DatabaseConfig, SslMode};
    /// let mut config = DatabaseConfig::default();
    /// assert_eq!(config.effective_ssl_mode(), SslMode::Prefer);
    /// config.ssl_enabled = true;
    /// assert_eq!(config.effective_ssl_mode(), SslMode::VerifyFull);
    /// config.ssl_mode = Some(SslMode::Require);
    /// assert_eq!(config.effective_ssl_mode(), SslMode::Require);
    /// ```
    pub fn effective_ssl_mode(&self) -> SslMode {
        match (self.ssl_mode, self.ssl_enabled) {
            (Some(mode), _) => mode,
            (None, true) => SslMode::VerifyFull,
            (None, false) => SslMode::Prefer,
        }
    }

    /// Sets the client-side limit on each call; `None` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = pgdbm::DatabaseConfig::default().with_command_timeout(Some(Duration::from_secs(5)));
    /// assert_eq!(config.command_timeout, Some(Duration::from_secs(5)));
    /// ```
    pub fn with_command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets how long a caller waits for a pooled connection; `None` waits
    /// forever.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_acquire_timeout(None);
    /// assert_eq!(config.acquire_timeout, None);
    /// ```
    pub fn with_acquire_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Adds (or replaces) a server setting sent when connecting.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_server_setting("work_mem", "64MB");
    /// assert_eq!(config.server_settings["work_mem"], "64MB");
    /// ```
    pub fn with_server_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.server_settings.insert(key.into(), value.into());
        self
    }

    /// Adds SQL to run on every new connection, after the ones already added.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_init_command("SET TIME ZONE 'UTC'");
    /// assert_eq!(config.init_commands, ["SET TIME ZONE 'UTC'"]);
    /// ```
    pub fn with_init_command(mut self, sql: impl Into<String>) -> Self {
        self.init_commands.push(sql.into());
        self
    }

    /// Turns multiplexing of `Database`-level statements on or off.
    ///
    /// ```
    /// let config = pgdbm::DatabaseConfig::default().with_multiplexing(false);
    /// assert!(!config.multiplex);
    /// ```
    pub fn with_multiplexing(mut self, on: bool) -> Self {
        self.multiplex = on;
        self
    }

    /// Checks the configuration, returning [`Error::Config`] naming the
    /// first field at fault.
    ///
    /// Rejected: an empty pool or `min_connections > max_connections`;
    /// `max_queries` or `statement_cache_size` of zero; an empty, NUL-bearing
    /// or over-long (more than 63 bytes) schema; `ssl_enabled` with an ssl
    /// mode that may connect in plain text; `ssl_cert` without `ssl_key`
    /// or the reverse; an empty host, user or
    /// database, or a NUL in them, the password or `application_name`; port
    /// 0; zero timeouts (use `None` to disable one); durations longer than
    /// `i32::MAX` milliseconds (about 24.8 days, PostgreSQL's limit);
    /// server-side timeouts below one millisecond (PostgreSQL would read
    /// them as "off"); a `retry_backoff` below 1.0 or not finite;
    /// `retry_delay > retry_max_delay`; and server settings whose name is
    /// empty or has characters other than `[A-Za-z0-9_.]`, or whose value
    /// contains NUL.
    ///
    /// ```
    /// use pgdbm::{DatabaseConfig, Error};
    ///
    /// assert!(DatabaseConfig::default().validate().is_ok());
    /// match DatabaseConfig::default().with_pool_size(5, 2).validate() {
    ///     Err(Error::Config(e)) => assert_eq!(e.field, "min_connections"),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.max_connections == 0 {
            return Err(Error::config("max_connections", "must be at least 1"));
        }
        if self.min_connections > self.max_connections {
            return Err(Error::config(
                "min_connections",
                format!(
                    "is {} but max_connections is {}",
                    self.min_connections, self.max_connections
                ),
            ));
        }
        if self.max_queries == 0 {
            return Err(Error::config("max_queries", "must be at least 1"));
        }
        if self.statement_cache_size == 0 {
            return Err(Error::config("statement_cache_size", "must be at least 1"));
        }
        if self.schema_cache_size == 0 {
            return Err(Error::config("schema_cache_size", "must be at least 1"));
        }
        if self.multiplex && self.multiplex_connections == 0 {
            return Err(Error::config("multiplex_connections", "must be at least 1"));
        }
        if self.multiplex && self.multiplex_depth == 0 {
            return Err(Error::config("multiplex_depth", "must be at least 1"));
        }

        if let Some(schema) = &self.schema {
            if schema.is_empty() {
                return Err(Error::config("schema", "must not be empty"));
            }
            if schema.len() > MAX_IDENTIFIER_BYTES {
                return Err(Error::config(
                    "schema",
                    format!(
                        "is {} bytes long; PostgreSQL names are at most {MAX_IDENTIFIER_BYTES} bytes",
                        schema.len()
                    ),
                ));
            }
            if schema.contains('\0') {
                return Err(Error::config("schema", "must not contain NUL"));
            }
        }

        for (field, value) in [
            ("host", &self.host),
            ("user", &self.user),
            ("database", &self.database),
        ] {
            if value.is_empty() {
                return Err(Error::config(field, "must not be empty"));
            }
            if value.contains('\0') {
                return Err(Error::config(field, "must not contain NUL"));
            }
        }
        // NUL cannot travel in the startup packet; say so here rather than
        // as an obscure driver error at connect time.
        if self.password.as_deref().is_some_and(|p| p.contains('\0')) {
            return Err(Error::config("password", "must not contain NUL"));
        }
        if self
            .application_name
            .as_deref()
            .is_some_and(|n| n.contains('\0'))
        {
            return Err(Error::config("application_name", "must not contain NUL"));
        }
        if self.port == 0 {
            return Err(Error::config("port", "must be between 1 and 65535"));
        }
        if self.ssl_enabled
            && matches!(
                self.ssl_mode,
                Some(SslMode::Disable | SslMode::Allow | SslMode::Prefer)
            )
        {
            return Err(Error::config(
                "ssl_mode",
                format!(
                    "ssl_enabled insists on TLS, but ssl_mode {} may connect in plain text; \
                     use require, verify-ca or verify-full",
                    self.effective_ssl_mode()
                ),
            ));
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            let missing = if self.ssl_cert.is_some() {
                "ssl_key"
            } else {
                "ssl_cert"
            };
            return Err(Error::config(
                missing,
                "a client certificate needs its key: set ssl_cert and ssl_key together",
            ));
        }

        for (field, value) in [
            ("connect_timeout", self.connect_timeout),
            (
                "max_inactive_connection_lifetime",
                self.max_inactive_connection_lifetime,
            ),
            ("command_timeout", self.command_timeout),
            ("acquire_timeout", self.acquire_timeout),
        ] {
            if let Some(d) = value {
                check_duration(field, d, Duration::from_nanos(1))?;
            }
        }
        for (field, value) in [
            ("statement_timeout", self.statement_timeout),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_session_timeout,
            ),
            ("lock_timeout", self.lock_timeout),
        ] {
            if let Some(d) = value {
                // Sent in whole milliseconds, and 0 means "disabled" to the
                // server: anything shorter would silently turn it off.
                check_duration(field, d, Duration::from_millis(1))?;
            }
        }

        check_duration("retry_delay", self.retry_delay, Duration::ZERO)?;
        check_duration("retry_max_delay", self.retry_max_delay, Duration::ZERO)?;
        if !self.retry_backoff.is_finite() || self.retry_backoff < 1.0 {
            return Err(Error::config(
                "retry_backoff",
                format!("must be a finite number >= 1.0, got {}", self.retry_backoff),
            ));
        }
        if self.retry_delay > self.retry_max_delay {
            return Err(Error::config(
                "retry_delay",
                format!(
                    "{:?} is longer than retry_max_delay ({:?})",
                    self.retry_delay, self.retry_max_delay
                ),
            ));
        }

        for (key, value) in &self.server_settings {
            check_setting_name(key).map_err(|m| Error::config("server_settings", m))?;
            if value.contains('\0') {
                return Err(Error::config(
                    "server_settings",
                    format!("the value of {key:?} must not contain NUL"),
                ));
            }
        }
        Ok(())
    }

    /// The driver configuration for one connection.
    ///
    /// `search_path` must already be SQL (quoted identifiers, commas); it is
    /// sent verbatim as the `search_path` setting, after every other
    /// setting so that it wins. The driver knows only disable, prefer and
    /// require: the verify modes are `Require` to it (the rustls verifier
    /// does the checking), `Allow` starts as `Disable` (`tls::Tls::connect`
    /// upgrades it), and a Unix socket is always `Disable`.
    pub(crate) fn pg_config(&self, search_path: Option<&str>) -> tokio_postgres::Config {
        use tokio_postgres::config::SslMode as DriverSslMode;

        let mut config = tokio_postgres::Config::new();
        if self.host.starts_with('/') {
            #[cfg(unix)]
            config.host_path(&self.host);
            #[cfg(not(unix))]
            config.host(&self.host);
        } else {
            config.host(&self.host);
        }
        config.port(self.port);
        config.dbname(&self.database);
        config.user(&self.user);
        if let Some(password) = &self.password {
            config.password(password.as_bytes());
        }
        if let Some(name) = &self.application_name {
            config.application_name(name);
        }
        if let Some(timeout) = self.connect_timeout {
            config.connect_timeout(timeout);
        }
        config.ssl_mode(match self.effective_ssl_mode() {
            _ if self.host.starts_with('/') => DriverSslMode::Disable,
            SslMode::Disable | SslMode::Allow => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });

        let mut settings: Vec<(&str, String)> = Vec::new();
        for (name, value) in [
            ("statement_timeout", self.statement_timeout),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_session_timeout,
            ),
            ("lock_timeout", self.lock_timeout),
        ] {
            // `None` is "off", not "whatever the server says": a role's own
            // `ALTER ROLE .. SET statement_timeout` must not come back in.
            let ms = value.map_or(0, |d| d.as_millis());
            settings.push((name, ms.to_string()));
        }
        for (name, value) in &self.server_settings {
            settings.push((name, value.clone()));
        }
        if let Some(path) = search_path {
            settings.push(("search_path", path.to_owned()));
        }
        if !settings.is_empty() {
            let options: Vec<String> = settings
                .iter()
                .map(|(name, value)| format!("-c {}", escape_option(&format!("{name}={value}"))))
                .collect();
            config.options(options.join(" "));
        }
        config
    }
}

fn strip_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    (scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql"))
        .then_some(rest)
}

/// Splits `host[:port]` or `[ipv6][:port]`; the port is returned raw.
fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>)> {
    if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| Error::config("host", "IPv6 address is missing its closing ']'"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(Error::config(
                    "host",
                    "expected ':port' after a bracketed IPv6 address",
                )),
            },
        };
    }
    if hostport.matches(':').count() > 1 {
        return Err(Error::config(
            "host",
            "IPv6 addresses must be enclosed in brackets, as in [::1]:5432",
        ));
    }
    Ok(match hostport.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    })
}

fn parse_port(port: &str) -> Result<u16> {
    // The value is not echoed: with a malformed URL it may be part of a
    // password.
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::config(
            "port",
            "must be a number between 1 and 65535",
        )),
    }
}

/// Decodes `%XX` escapes. Errors name `field` and the byte offset but never
/// repeat the input, which may be a password.
fn percent_decode(input: &str, field: &str) -> Result<String> {
    if !input.contains('%') {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
            match (high, low) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                }
                _ => {
                    return Err(Error::config(
                        field,
                        format!(
                            "invalid percent-encoding at byte {i}; '%' must be followed by two hex digits"
                        ),
                    ));
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::config(field, "percent-decoded value is not valid UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whitespace as the server's `pg_split_opts` sees it (C `isspace`).
fn is_option_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Escapes one entry of a libpq `options` string. The server splits the
/// string on whitespace and takes the character after a backslash
/// literally, so both need a backslash to arrive unchanged.
fn escape_option(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len());
    for c in entry.chars() {
        if c == '\\' || is_option_space(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a libpq `options` string into words the way the server does.
fn split_options(options: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let escaped = chars.next().ok_or_else(|| {
                Error::config("options", "ends with a backslash that escapes nothing")
            })?;
            current.push(escaped);
            in_word = true;
        } else if is_option_space(c) {
            if in_word {
                words.push(std::mem::take(&mut current));
                in_word = false;
            }
        } else {
            current.push(c);
            in_word = true;
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Parses the `-c key=value`, `-ckey=value` and `--key=value` entries of a
/// libpq `options` string. Like the server, dashes in the name become
/// underscores.
fn parse_options(options: &str) -> Result<Vec<(String, String)>> {
    let mut words = split_options(options)?.into_iter();
    let mut settings = Vec::new();
    while let Some(word) = words.next() {
        let assignment = if word == "-c" {
            words
                .next()
                .ok_or_else(|| Error::config("options", "'-c' must be followed by key=value"))?
        } else if let Some(rest) = word.strip_prefix("--") {
            rest.to_owned()
        } else if let Some(rest) = word.strip_prefix("-c") {
            rest.to_owned()
        } else {
            return Err(Error::config(
                "options",
                format!(
                    "unsupported entry {word:?}; only -c key=value and --key=value are understood"
                ),
            ));
        };
        let (name, value) = assignment.split_once('=').ok_or_else(|| {
            Error::config("options", format!("expected key=value, got {assignment:?}"))
        })?;
        let name = name.replace('-', "_");
        check_setting_name(&name).map_err(|m| Error::config("options", m))?;
        settings.push((name, value.to_owned()));
    }
    Ok(settings)
}

/// Setting names go unescaped into the options string and are compared by
/// the server as identifiers, so only plain names (and `ext.name`) pass.
fn check_setting_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a setting name must not be empty".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!(
            "setting name {name:?} may only contain A-Z, a-z, 0-9, '_' and '.'"
        ));
    }
    Ok(())
}

/// Zero is never a meaningful timeout here (`None` disables one), and
/// PostgreSQL stores durations in milliseconds as a 32-bit integer.
fn check_duration(field: &str, value: Duration, min: Duration) -> Result<()> {
    let max_millis = i32::MAX as u128;
    if value < min {
        let message = if min == Duration::from_millis(1) {
            "must be at least 1ms (use None to disable it)"
        } else {
            "must be greater than zero (use None to disable it)"
        };
        return Err(Error::config(field, message));
    }
    if value.as_millis() > max_millis {
        return Err(Error::config(
            field,
            format!("{value:?} is longer than {max_millis} milliseconds (about 24.8 days)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::{Host, SslMode as DriverSslMode};

    /// The field of the config error `result` must be.
    fn err_field<T>(result: Result<T>) -> String {
        match result {
            Err(Error::Config(c)) => c.field,
            Err(other) => panic!("expected a config error, got {other:?}"),
            Ok(_) => panic!("expected a config error, got Ok"),
        }
    }

    fn err_text<T>(result: Result<T>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error, got Ok"),
        }
    }

    fn url(s: &str) -> DatabaseConfig {
        match DatabaseConfig::from_url(s) {
            Ok(c) => c,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn multiplexing_defaults_follow_the_cores() {
        let c = DatabaseConfig::default();
        assert!(c.multiplex);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(c.multiplex_connections, cores.clamp(2, 8));
        assert_eq!(c.multiplex_depth, 8);
    }

    #[test]
    fn defaults_match_python_pgdbm() {
        let c = DatabaseConfig::default();
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 5432);
        assert_eq!(c.database, "postgres");
        assert_eq!(c.user, "postgres");
        assert_eq!(c.password, None);
        assert_eq!(c.application_name, None);
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(c.schema, None);
        assert_eq!(c.min_connections, 10);
        assert_eq!(c.max_connections, 20);
        assert_eq!(c.max_queries, 50_000);
        assert_eq!(
            c.max_inactive_connection_lifetime,
            Some(Duration::from_secs(300))
        );
        assert_eq!(c.command_timeout, Some(Duration::from_secs(60)));
        assert_eq!(c.acquire_timeout, Some(Duration::from_secs(30)));
        assert_eq!(c.statement_timeout, Some(Duration::from_millis(60_000)));
        assert_eq!(
            c.idle_in_transaction_session_timeout,
            Some(Duration::from_millis(60_000))
        );
        assert_eq!(c.lock_timeout, Some(Duration::from_millis(5_000)));
        assert!(c.server_settings.is_empty());
        assert!(c.init_commands.is_empty());
        assert_eq!(c.ssl_mode, None);
        assert!(!c.ssl_enabled);
        assert_eq!(c.effective_ssl_mode(), SslMode::Prefer);
        assert_eq!(c.ssl_root_cert, None);
        assert_eq!(c.ssl_cert, None);
        assert_eq!(c.ssl_key, None);
        assert_eq!(c.ssl_key_password, None);
        assert_eq!(c.retry_attempts, 3);
        assert_eq!(c.retry_delay, Duration::from_secs(1));
        assert_eq!(c.retry_backoff, 2.0);
        assert_eq!(c.retry_max_delay, Duration::from_secs(30));
        assert_eq!(c.statement_cache_size, 1000);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn ssl_mode_names_round_trip() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.as_str().parse::<SslMode>().ok(), Some(mode));
            assert_eq!(mode.to_string(), mode.as_str());
        }
        assert_eq!("REQUIRE".parse::<SslMode>().ok(), Some(SslMode::Require));
        let text = err_text("sometimes".parse::<SslMode>());
        assert!(text.contains("ssl_mode"), "{text}");
        assert!(text.contains("\"sometimes\""), "{text}");
        assert!(text.contains("verify-full"), "{text}");
        assert_eq!(err_field("sometimes".parse::<SslMode>()), "ssl_mode");
    }

    #[test]
    fn ssl_enabled_means_verify_full_unless_a_mode_says_otherwise() {
        let enabled = DatabaseConfig {
            ssl_enabled: true,
            ..DatabaseConfig::default()
        };
        assert_eq!(enabled.effective_ssl_mode(), SslMode::VerifyFull);
        assert!(enabled.validate().is_ok());
        let require = enabled.clone().with_ssl_mode(SslMode::Require);
        assert_eq!(require.effective_ssl_mode(), SslMode::Require);
        assert!(require.validate().is_ok());
        for weak in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
            let result = enabled.clone().with_ssl_mode(weak).validate();
            assert!(err_text(result).contains("ssl_enabled insists on TLS"));
            assert_eq!(
                err_field(enabled.clone().with_ssl_mode(weak).validate()),
                "ssl_mode"
            );
        }
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let mut c = DatabaseConfig {
            ssl_cert: Some(PathBuf::from("/c.crt")),
            ..DatabaseConfig::default()
        };
        assert_eq!(err_field(c.validate()), "ssl_key");
        c.ssl_key = Some(PathBuf::from("/c.key"));
        assert!(c.validate().is_ok());
        c.ssl_cert = None;
        assert_eq!(err_field(c.validate()), "ssl_cert");
    }

    #[test]
    fn from_url_full() {
        let c = url("postgres://app:secret@db.example.com:6543/shop");
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert_eq!(c.host, "db.example.com");
        assert_eq!(c.port, 6543);
        assert_eq!(c.database, "shop");
        // Everything not in the URL keeps its default.
        assert_eq!(c.max_connections, 20);
        assert_eq!(c.ssl_mode, None);
        assert_eq!(c.schema, None);
    }

    #[test]
    fn from_url_postgresql_scheme() {
        let c = url("postgresql://bob@10.0.0.7/inventory");
        assert_eq!(c.user, "bob");
        assert_eq!(c.password, None);
        assert_eq!(c.host, "10.0.0.7");
        assert_eq!(c.port, 5432);
        assert_eq!(c.database, "inventory");
    }

    #[test]
    fn from_url_percent_encoded_parts() {
        let c = url("postgres://us%65r:p%40ss%3Aw%3Ard%2F%3F@my%2Dhost/my%20db");
        assert_eq!(c.user, "user");
        assert_eq!(c.password.as_deref(), Some("p@ss:w:rd/?"));
        assert_eq!(c.host, "my-host");
        assert_eq!(c.database, "my db");
        // '+' is not a space in libpq URLs.
        assert_eq!(url("postgres://u:a+b@h/d").password.as_deref(), Some("a+b"));
        // Only the first ':' separates user from password.
        assert_eq!(url("postgres://u:a:b@h/d").password.as_deref(), Some("a:b"));
    }

    #[test]
    fn from_url_raw_at_signs_in_password() {
        let c = url("postgres://user:p@ss@w@rd@db.internal:5433/app");
        assert_eq!(c.user, "user");
        assert_eq!(c.password.as_deref(), Some("p@ss@w@rd"));
        assert_eq!(c.host, "db.internal");
        assert_eq!(c.port, 5433);
        assert_eq!(c.database, "app");
    }

    #[test]
    fn from_url_ipv6() {
        let c = url("postgres://u:pw@[::1]:5433/db");
        assert_eq!(c.host, "::1");
        assert_eq!(c.port, 5433);
        let c = url("postgres://[2001:db8::2]/db");
        assert_eq!(c.host, "2001:db8::2");
        assert_eq!(c.port, 5432);
        assert_eq!(url("postgres://[fe80::1%25eth0]:1/d").host, "fe80::1%eth0");
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://::1/db")),
            "host"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://[::1/db")),
            "host"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://[::1]x/db")),
            "host"
        );
    }

    #[test]
    fn from_url_missing_parts_keep_defaults() {
        let c = url("postgres://");
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.database.as_str(),
                c.user.as_str()
            ),
            ("localhost", 5432, "postgres", "postgres")
        );
        assert_eq!(c.password, None);

        let c = url("postgres:///only_db");
        assert_eq!(
            (c.host.as_str(), c.database.as_str()),
            ("localhost", "only_db")
        );

        let c = url("postgresql://somehost");
        assert_eq!(
            (c.host.as_str(), c.database.as_str()),
            ("somehost", "postgres")
        );

        let c = url("postgres://:6000/");
        assert_eq!((c.host.as_str(), c.port), ("localhost", 6000));

        let c = url("postgres://h:/d");
        assert_eq!(c.port, 5432);

        let c = url("postgres://:pw@h");
        assert_eq!(
            (c.user.as_str(), c.password.as_deref()),
            ("postgres", Some("pw"))
        );

        let c = url("postgres://u:@h");
        assert_eq!((c.user.as_str(), c.password.as_deref()), ("u", None));

        let c = url("postgres://h?application_name=x");
        assert_eq!(c.host, "h");
        assert_eq!(c.application_name.as_deref(), Some("x"));
    }

    #[test]
    fn from_url_every_query_param() {
        let c = url(concat!(
            "postgres://ignored:ignored@ignored:1/ignored?",
            "sslmode=verify-full",
            "&sslrootcert=%2Fetc%2Fssl%2Froot.crt",
            "&sslcert=/etc/ssl/client.crt",
            "&sslkey=/etc/ssl/client.key",
            "&sslpassword=k%26y",
            "&application_name=billing%20worker",
            "&connect_timeout=7",
            "&host=%2Fvar%2Frun%2Fpostgresql",
            "&port=6432",
            "&user=svc",
            "&password=pw%3D1",
            "&dbname=ledger",
            "&options=-c%20work_mem%3D64MB%20--jit%3Doff",
            "&schema=Tenant%20A",
        ));
        assert_eq!(c.ssl_mode, Some(SslMode::VerifyFull));
        assert_eq!(c.ssl_root_cert, Some(PathBuf::from("/etc/ssl/root.crt")));
        assert_eq!(c.ssl_cert, Some(PathBuf::from("/etc/ssl/client.crt")));
        assert_eq!(c.ssl_key, Some(PathBuf::from("/etc/ssl/client.key")));
        assert_eq!(c.ssl_key_password.as_deref(), Some("k&y"));
        assert_eq!(c.application_name.as_deref(), Some("billing worker"));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(c.host, "/var/run/postgresql");
        assert_eq!(c.port, 6432);
        assert_eq!(c.user, "svc");
        assert_eq!(c.password.as_deref(), Some("pw=1"));
        assert_eq!(c.database, "ledger");
        assert_eq!(c.server_settings.len(), 2);
        assert_eq!(c.server_settings["work_mem"], "64MB");
        assert_eq!(c.server_settings["jit"], "off");
        // Taken exactly as written: no case folding.
        assert_eq!(c.schema.as_deref(), Some("Tenant A"));
    }

    #[test]
    fn from_url_connect_timeout_zero_means_none() {
        assert_eq!(url("postgres://h?connect_timeout=0").connect_timeout, None);
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h?connect_timeout=1.5")),
            "connect_timeout"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h?connect_timeout=-1")),
            "connect_timeout"
        );
    }

    #[test]
    fn from_url_ssl_modes() {
        assert_eq!(
            url("postgres://h?sslmode=verify-full").ssl_mode,
            Some(SslMode::VerifyFull)
        );
        assert_eq!(
            url("postgres://h?sslmode=verify-ca").ssl_mode,
            Some(SslMode::VerifyCa)
        );
        assert_eq!(
            url("postgres://h?sslmode=require").ssl_mode,
            Some(SslMode::Require)
        );
        assert_eq!(
            url("postgres://h?sslmode=disable").ssl_mode,
            Some(SslMode::Disable)
        );
        assert_eq!(
            url("postgres://h?sslmode=allow").ssl_mode,
            Some(SslMode::Allow)
        );
        let result = DatabaseConfig::from_url("postgres://h?sslmode=bogus");
        assert!(err_text(DatabaseConfig::from_url("postgres://h?sslmode=bogus")).contains("bogus"));
        assert_eq!(err_field(result), "ssl_mode");
    }

    #[test]
    fn from_url_unknown_param_is_named() {
        assert_eq!(
            err_field(DatabaseConfig::from_url(
                "postgres://h/d?sslmode=disable&frobnicate=1"
            )),
            "frobnicate"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h/d?novalue")),
            "url"
        );
    }

    #[test]
    fn from_url_bad_scheme() {
        for bad in [
            "mysql://u:hunter2@h/d",
            "http://h/d",
            "postgres:/h/d",
            "u:hunter2@h/d",
            "",
        ] {
            let result = DatabaseConfig::from_url(bad);
            assert!(!err_text(DatabaseConfig::from_url(bad)).contains("hunter2"));
            assert_eq!(err_field(result), "url", "{bad}");
        }
        // The scheme is case-insensitive, as in RFC 3986.
        assert_eq!(url("PostgreSQL://h").host, "h");
    }

    #[test]
    fn from_url_bad_port() {
        for bad in [
            "postgres://h:abc/d",
            "postgres://h:0/d",
            "postgres://h:70000/d",
            "postgres://h/d?port=x",
        ] {
            assert_eq!(err_field(DatabaseConfig::from_url(bad)), "port", "{bad}");
        }
    }

    #[test]
    fn from_url_errors_never_show_the_password() {
        // An unencoded '/' cuts the authority short, so the password's head
        // lands where the port goes.
        let text = err_text(DatabaseConfig::from_url(
            "postgres://user:hunter2/x@host/db",
        ));
        assert!(text.contains("port"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");

        let result = DatabaseConfig::from_url("postgres://user:hun%zzter2@host/db");
        let text = err_text(DatabaseConfig::from_url(
            "postgres://user:hun%zzter2@host/db",
        ));
        assert!(!text.contains("hun"), "{text}");
        assert_eq!(err_field(result), "password");
    }

    #[test]
    fn from_url_invalid_percent_escapes() {
        for (bad, field) in [
            ("postgres://u%4@h/d", "user"),
            ("postgres://u@h%/d", "host"),
            ("postgres://u@h/d%g0", "database"),
            ("postgres://u@h/d?application_name=%", "application_name"),
            ("postgres://u@h/d?sch%ZZema=x", "url"),
            ("postgres://u:%ff@h/d", "password"),
        ] {
            assert_eq!(err_field(DatabaseConfig::from_url(bad)), field, "{bad}");
        }
        assert_eq!(
            percent_decode("%e2%82%AC%40", "x").ok().as_deref(),
            Some("€@")
        );
    }

    #[test]
    fn from_url_multiple_hosts_are_refused() {
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://a,b/d")),
            "host"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres:///d?host=a,b")),
            "host"
        );
    }

    #[test]
    fn from_url_is_validated() {
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h/d?schema=")),
            "schema"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h/d?user=")),
            "user"
        );
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h/%00")),
            "database"
        );
    }

    #[test]
    fn options_parsing() {
        let parsed = parse_options(
            r"-c statement_timeout=5s  -cwork_mem=64MB --search-path=a\ b,\\c -c  geqo=off",
        );
        let expected = vec![
            ("statement_timeout".to_owned(), "5s".to_owned()),
            ("work_mem".to_owned(), "64MB".to_owned()),
            ("search_path".to_owned(), r"a b,\c".to_owned()),
            ("geqo".to_owned(), "off".to_owned()),
        ];
        assert_eq!(parsed.ok(), Some(expected));
        assert_eq!(parse_options("   ").ok(), Some(Vec::new()));
        assert_eq!(
            parse_options("-c application_name=a\\ \\ b\\\tc").ok(),
            Some(vec![("application_name".to_owned(), "a  b\tc".to_owned())])
        );
        assert_eq!(
            parse_options("-c app.setting=").ok(),
            Some(vec![("app.setting".to_owned(), String::new())])
        );
    }

    #[test]
    fn options_errors_name_options() {
        for bad in [
            "-x foo=bar",
            "plain=word",
            "-c",
            "-c work_mem",
            "--=x",
            "-c bad;name=1",
            r"-c a=b\",
        ] {
            assert_eq!(err_field(parse_options(bad)), "options", "{bad:?}");
        }
        assert_eq!(
            err_field(DatabaseConfig::from_url("postgres://h/d?options=-Xfoo")),
            "options"
        );
    }

    #[test]
    fn from_env_prefers_database_url() {
        let env = |name: &str| match name {
            "DATABASE_URL" => Some("postgres://u:pw@urlhost:6000/urldb".to_owned()),
            "PGHOST" => Some("pghost".to_owned()),
            "PGDATABASE" => Some("pgdb".to_owned()),
            _ => None,
        };
        let c = DatabaseConfig::from_lookup(env)
            .ok()
            .map(|c| (c.host, c.port, c.database, c.user, c.password));
        assert_eq!(
            c,
            Some((
                "urlhost".to_owned(),
                6000,
                "urldb".to_owned(),
                "u".to_owned(),
                Some("pw".to_owned())
            ))
        );
    }

    #[test]
    fn from_env_pg_variables() {
        let env = |name: &str| {
            let value = match name {
                "DATABASE_URL" => "",
                "PGHOST" => "/tmp/sockets",
                "PGPORT" => "5499",
                "PGDATABASE" => "envdb",
                "PGUSER" => "envuser",
                "PGPASSWORD" => "envpw",
                "PGSSLMODE" => "require",
                "PGSSLROOTCERT" => "/etc/ca.pem",
                "PGSSLCERT" => "/etc/client.crt",
                "PGSSLKEY" => "/etc/client.key",
                "PGAPPNAME" => "envapp",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let c = match DatabaseConfig::from_lookup(env) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.host, "/tmp/sockets");
        assert_eq!(c.port, 5499);
        assert_eq!(c.database, "envdb");
        assert_eq!(c.user, "envuser");
        assert_eq!(c.password.as_deref(), Some("envpw"));
        assert_eq!(c.ssl_mode, Some(SslMode::Require));
        assert_eq!(c.ssl_root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.ssl_cert, Some(PathBuf::from("/etc/client.crt")));
        assert_eq!(c.ssl_key, Some(PathBuf::from("/etc/client.key")));
        assert_eq!(c.application_name.as_deref(), Some("envapp"));

        let none = DatabaseConfig::from_lookup(|_| None)
            .ok()
            .map(|c| (c.host, c.port));
        assert_eq!(none, Some(("localhost".to_owned(), 5432)));

        let bad_port = |name: &str| (name == "PGPORT").then(|| "fifty".to_owned());
        assert_eq!(err_field(DatabaseConfig::from_lookup(bad_port)), "port");
        let bad_ssl = |name: &str| (name == "PGSSLMODE").then(|| "maybe".to_owned());
        assert_eq!(err_field(DatabaseConfig::from_lookup(bad_ssl)), "ssl_mode");
        let bad_url = |name: &str| (name == "DATABASE_URL").then(|| "mysql://x".to_owned());
        assert_eq!(err_field(DatabaseConfig::from_lookup(bad_url)), "url");
    }

    #[test]
    fn setters_chain() {
        let c = DatabaseConfig::default()
            .with_schema("S")
            .with_pool_size(1, 3)
            .with_password("pw")
            .with_database("db")
            .with_host("h")
            .with_port(1)
            .with_user("u")
            .with_application_name("a")
            .with_ssl_mode(SslMode::Disable)
            .with_command_timeout(None)
            .with_acquire_timeout(Some(Duration::from_secs(2)))
            .with_server_setting("jit", "off")
            .with_init_command("SELECT 1")
            .with_init_command("SELECT 2");
        assert_eq!(c.schema.as_deref(), Some("S"));
        assert_eq!((c.min_connections, c.max_connections), (1, 3));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.database, "db");
        assert_eq!((c.host.as_str(), c.port, c.user.as_str()), ("h", 1, "u"));
        assert_eq!(c.application_name.as_deref(), Some("a"));
        assert_eq!(c.ssl_mode, Some(SslMode::Disable));
        assert_eq!(c.command_timeout, None);
        assert_eq!(c.acquire_timeout, Some(Duration::from_secs(2)));
        assert_eq!(
            c.server_settings.get("jit").map(String::as_str),
            Some("off")
        );
        assert_eq!(c.init_commands, ["SELECT 1", "SELECT 2"]);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validate_rejections_name_their_field() {
        type Mutation = fn(&mut DatabaseConfig);
        let too_long = Duration::from_millis(i32::MAX as u64 + 1);
        let cases: Vec<(Mutation, &str)> = vec![
            (|c| c.max_connections = 0, "max_connections"),
            (|c| c.min_connections = 21, "min_connections"),
            (|c| c.max_queries = 0, "max_queries"),
            (|c| c.statement_cache_size = 0, "statement_cache_size"),
            (|c| c.schema = Some(String::new()), "schema"),
            (|c| c.schema = Some("s".repeat(64)), "schema"),
            (|c| c.schema = Some("a\0b".to_owned()), "schema"),
            (|c| c.host = String::new(), "host"),
            (|c| c.host = "h\0".to_owned(), "host"),
            (|c| c.user = String::new(), "user"),
            (|c| c.user = "\0".to_owned(), "user"),
            (|c| c.database = String::new(), "database"),
            (|c| c.database = "d\0b".to_owned(), "database"),
            (|c| c.password = Some("p\0w".to_owned()), "password"),
            (
                |c| c.application_name = Some("\0".to_owned()),
                "application_name",
            ),
            (|c| c.port = 0, "port"),
            (
                |c| c.connect_timeout = Some(Duration::ZERO),
                "connect_timeout",
            ),
            (
                |c| c.max_inactive_connection_lifetime = Some(Duration::ZERO),
                "max_inactive_connection_lifetime",
            ),
            (
                |c| c.command_timeout = Some(Duration::ZERO),
                "command_timeout",
            ),
            (
                |c| c.acquire_timeout = Some(Duration::ZERO),
                "acquire_timeout",
            ),
            (
                |c| c.statement_timeout = Some(Duration::ZERO),
                "statement_timeout",
            ),
            (
                |c| c.statement_timeout = Some(Duration::from_micros(999)),
                "statement_timeout",
            ),
            (
                |c| c.idle_in_transaction_session_timeout = Some(Duration::ZERO),
                "idle_in_transaction_session_timeout",
            ),
            (|c| c.lock_timeout = Some(Duration::ZERO), "lock_timeout"),
            (|c| c.retry_backoff = 0.5, "retry_backoff"),
            (|c| c.retry_backoff = f64::NAN, "retry_backoff"),
            (|c| c.retry_backoff = f64::INFINITY, "retry_backoff"),
            (|c| c.retry_delay = Duration::from_secs(31), "retry_delay"),
            (
                |c| {
                    c.server_settings.insert(String::new(), "x".to_owned());
                },
                "server_settings",
            ),
            (
                |c| {
                    c.server_settings
                        .insert("work mem".to_owned(), "x".to_owned());
                },
                "server_settings",
            ),
            (
                |c| {
                    c.server_settings.insert("a=b".to_owned(), "x".to_owned());
                },
                "server_settings",
            ),
            (
                |c| {
                    c.server_settings
                        .insert("jit".to_owned(), "o\0ff".to_owned());
                },
                "server_settings",
            ),
        ];
        for (i, (mutate, field)) in cases.into_iter().enumerate() {
            let mut c = DatabaseConfig::default();
            mutate(&mut c);
            assert_eq!(err_field(c.validate()), field, "case {i}");
        }

        // Durations too long for PostgreSQL's 32-bit milliseconds.
        for field in [
            "connect_timeout",
            "max_inactive_connection_lifetime",
            "command_timeout",
            "acquire_timeout",
            "statement_timeout",
            "idle_in_transaction_session_timeout",
            "lock_timeout",
        ] {
            let mut c = DatabaseConfig::default();
            let slot = match field {
                "connect_timeout" => &mut c.connect_timeout,
                "max_inactive_connection_lifetime" => &mut c.max_inactive_connection_lifetime,
                "command_timeout" => &mut c.command_timeout,
                "acquire_timeout" => &mut c.acquire_timeout,
                "statement_timeout" => &mut c.statement_timeout,
                "idle_in_transaction_session_timeout" => &mut c.idle_in_transaction_session_timeout,
                _ => &mut c.lock_timeout,
            };
            *slot = Some(too_long);
            assert_eq!(err_field(c.validate()), field);
        }
        // The largest value PostgreSQL accepts is fine.
        let ok = DatabaseConfig {
            statement_timeout: Some(Duration::from_millis(i32::MAX as u64)),
            command_timeout: Some(Duration::from_millis(i32::MAX as u64)),
            ..DatabaseConfig::default()
        };
        assert!(ok.validate().is_ok());
        let c = DatabaseConfig {
            retry_max_delay: too_long,
            ..DatabaseConfig::default()
        };
        assert_eq!(err_field(c.validate()), "retry_max_delay");
    }

    #[test]
    fn validate_accepts_edge_values() {
        let mut c = DatabaseConfig::default().with_pool_size(0, 1);
        c.schema = Some("s".repeat(63));
        c.connect_timeout = None;
        c.command_timeout = None;
        c.acquire_timeout = None;
        c.statement_timeout = None;
        c.lock_timeout = Some(Duration::from_millis(1));
        c.idle_in_transaction_session_timeout = None;
        c.max_inactive_connection_lifetime = None;
        c.retry_backoff = 1.0;
        c.retry_delay = Duration::ZERO;
        c.retry_attempts = 0;
        c.server_settings
            .insert("my_ext.Setting_2".to_owned(), "a b\\c'\";".to_owned());
        assert!(c.validate().is_ok(), "{:?}", c.validate().err());
    }

    #[test]
    fn debug_hides_secrets() {
        let mut c = url("postgres://app:Sup3rS3cret@h/d?sslpassword=KeyPa55");
        let shown = format!("{c:?}");
        assert!(!shown.contains("Sup3rS3cret"), "{shown}");
        assert!(!shown.contains("KeyPa55"), "{shown}");
        assert!(shown.contains(r#"password: Some("***")"#), "{shown}");
        assert!(
            shown.contains(r#"ssl_key_password: Some("***")"#),
            "{shown}"
        );
        assert!(shown.contains(r#"host: "h""#), "{shown}");
        assert!(shown.contains("statement_cache_size: 1000"), "{shown}");
        c.password = None;
        c.ssl_key_password = None;
        let shown = format!("{c:#?}");
        assert!(shown.contains("password: None"), "{shown}");
        assert!(shown.contains("ssl_key_password: None"), "{shown}");
    }

    #[test]
    fn escape_option_round_trips() {
        let hostile = r#""Mixed Case""; DROP TABLE x; --", public"#;
        let escaped = escape_option(&format!("search_path={hostile}"));
        assert_eq!(
            escaped,
            r#"search_path="Mixed\ Case"";\ DROP\ TABLE\ x;\ --",\ public"#
        );
        for value in [
            hostile,
            r"C:\path with\ spaces\\",
            "tab\tnew\nline  double",
            "'quoted' \"dq\" ;semi; \\ ",
            "",
        ] {
            let options = format!("-c {}", escape_option(&format!("k={value}")));
            assert_eq!(
                parse_options(&options).ok(),
                Some(vec![("k".to_owned(), value.to_owned())]),
                "{options}"
            );
        }
        assert_eq!(escape_option(r"a\b c"), r"a\\b\ c");
    }

    #[test]
    fn pg_config_carries_connection_fields() {
        let c = url(
            "postgres://app:pw@db.internal:6543/shop?application_name=svc&connect_timeout=3&sslmode=disable",
        );
        let pg = c.pg_config(None);
        assert_eq!(pg.get_hosts(), [Host::Tcp("db.internal".to_owned())]);
        assert_eq!(pg.get_ports(), [6543]);
        assert_eq!(pg.get_dbname(), Some("shop"));
        assert_eq!(pg.get_user(), Some("app"));
        assert_eq!(pg.get_password(), Some(&b"pw"[..]));
        assert_eq!(pg.get_application_name(), Some("svc"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(pg.get_ssl_mode(), DriverSslMode::Disable);
        assert_eq!(
            pg.get_options(),
            Some(
                "-c statement_timeout=60000 -c idle_in_transaction_session_timeout=60000 -c lock_timeout=5000"
            )
        );

        for (mode, expected) in [
            (SslMode::Allow, DriverSslMode::Disable),
            (SslMode::Prefer, DriverSslMode::Prefer),
            (SslMode::Require, DriverSslMode::Require),
            (SslMode::VerifyCa, DriverSslMode::Require),
            (SslMode::VerifyFull, DriverSslMode::Require),
        ] {
            let pg = DatabaseConfig::default()
                .with_ssl_mode(mode)
                .pg_config(None);
            assert_eq!(pg.get_ssl_mode(), expected);
            // The server never offers TLS on a Unix socket; libpq ignores
            // sslmode there, and so do we.
            let pg = DatabaseConfig::default()
                .with_ssl_mode(mode)
                .with_host("/run/postgresql")
                .pg_config(None);
            assert_eq!(pg.get_ssl_mode(), DriverSslMode::Disable);
        }

        let bare = DatabaseConfig {
            statement_timeout: None,
            idle_in_transaction_session_timeout: None,
            lock_timeout: None,
            connect_timeout: None,
            ..DatabaseConfig::default()
        };
        let pg = bare.pg_config(None);
        // Disabled timeouts are sent as 0, so a role's setting cannot
        // bring one back.
        assert_eq!(
            pg.get_options(),
            Some(
                "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0 \
                 -c lock_timeout=0"
            )
        );
        assert_eq!(pg.get_password(), None);
        assert_eq!(pg.get_application_name(), None);
        assert_eq!(pg.get_connect_timeout(), None);
    }

    #[cfg(unix)]
    #[test]
    fn pg_config_unix_socket_host() {
        let pg = DatabaseConfig::default()
            .with_host("/var/run/postgresql")
            .pg_config(None);
        assert_eq!(
            pg.get_hosts(),
            [Host::Unix(PathBuf::from("/var/run/postgresql"))]
        );
    }

    #[test]
    fn pg_config_options_survive_the_server_split() {
        let search_path = r#""Mixed Case""; DROP TABLE x; --", public"#;
        let mut c = DatabaseConfig::default()
            .with_server_setting("application.tag", r"back\slash and space")
            .with_server_setting("statement_timeout", "1s");
        c.lock_timeout = Some(Duration::from_millis(1500));
        let pg = c.pg_config(Some(search_path));
        let options = pg.get_options().unwrap_or_default();
        let parsed = parse_options(options).ok();
        assert_eq!(
            parsed,
            Some(vec![
                ("statement_timeout".to_owned(), "60000".to_owned()),
                (
                    "idle_in_transaction_session_timeout".to_owned(),
                    "60000".to_owned()
                ),
                ("lock_timeout".to_owned(), "1500".to_owned()),
                (
                    "application.tag".to_owned(),
                    r"back\slash and space".to_owned()
                ),
                // Later entries win on the server, so the explicit setting
                // overrides the field.
                ("statement_timeout".to_owned(), "1s".to_owned()),
                ("search_path".to_owned(), search_path.to_owned()),
            ]),
            "{options}"
        );
    }
}
