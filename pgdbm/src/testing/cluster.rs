//! Throwaway PostgreSQL clusters: the one shared by tests and examples that
//! were given no server URL, and private ones ([`TestCluster`]) for tests
//! that restart their server.
//!
//! The shared cluster lives for exactly as long as the process that started
//! it. Rust never drops statics, so cleanup is delegated to a small
//! "guardian" shell process that waits for end-of-file on a pipe only we hold
//! the write end of: whenever and however this process exits, the kernel
//! closes that pipe and the guardian stops the server and deletes its
//! directory. A `TestCluster` closes its pipe when dropped, and waits.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::DatabaseConfig;
use crate::error::{Error, Result};

/// Where a running server is; enough for the caller to build a connection config.
pub(crate) struct ClusterAddr {
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl ClusterAddr {
    /// A configuration for the cluster's `postgres` database, otherwise the defaults.
    pub(crate) fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            database: "postgres".to_owned(),
            ..DatabaseConfig::default()
        }
    }
}

const HOST: &str = "127.0.0.1";
const SUPERUSER: &str = "postgres";
const OS_USER: &str = "postgres";
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// A port can be grabbed by someone else between our probe and the server's bind.
const START_ATTEMPTS: u32 = 3;
const LOG_TAIL_LINES: usize = 30;

/// A server this process started, with everything needed to control it.
struct Server {
    addr: ClusterAddr,
    bins: PgBins,
    dir: ClusterDir,
    runner: Runner,
    guardian: Guardian,
}

/// The clean-up process. It waits for end-of-file on a pipe only we hold
/// the write end of, then stops the server and deletes its directory.
struct Guardian {
    // Never written to. Its closing (by `finish`, or by the kernel when this
    // process dies) is what tells the guardian to clean up.
    pipe: Option<ChildStdin>,
    child: Child,
}

impl Guardian {
    /// Lets the guardian clean up now and waits until it has, so the server
    /// is gone and its port and directory are free when this returns.
    fn finish(&mut self) {
        drop(self.pipe.take());
        let _ = self.child.wait();
    }
}

static CLUSTER: OnceLock<Result<Server, String>> = OnceLock::new();

/// Starts (once per process) a throwaway cluster and returns its address, or the error text.
pub(crate) fn ephemeral() -> Result<&'static ClusterAddr, String> {
    // `get_or_init` blocks concurrent first callers until the one running the
    // initializer is done, so racing test threads share a single cluster.
    // The static is never dropped, so its guardian only runs at process exit.
    match CLUSTER.get_or_init(|| Server::launch(&Setup::default())) {
        Ok(server) => Ok(&server.addr),
        Err(e) => Err(e.clone()),
    }
}

/// What a cluster gets on top of `initdb`'s defaults, before it first starts.
#[derive(Default)]
struct Setup<'a> {
    /// Appended to `postgresql.conf`.
    settings: &'a [(&'a str, &'a str)],
    /// Written into the data directory, readable by the server only.
    files: &'a [(&'a str, &'a [u8])],
}

impl Server {
    fn launch(setup: &Setup<'_>) -> Result<Server, String> {
        let bins = find_binaries(
            env::var_os("PGDBM_PG_BIN"),
            env::var_os("PATH"),
            Path::new(DEBIAN_PG_ROOT),
        )?;
        let runner = Runner::for_current_user()?;
        let dir = create_cluster_dir(&runner)?;
        // The guardian goes up before anything that can leave state behind, so
        // every later failure (or a crash) is cleaned up by simply dropping it.
        let guardian = match spawn_guardian(&bins, &dir, &runner) {
            Ok(guardian) => guardian,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir.root);
                return Err(e);
            }
        };
        let mut server = Server {
            addr: ClusterAddr {
                host: HOST.to_owned(),
                port: 0,
                user: SUPERUSER.to_owned(),
            },
            bins,
            dir,
            runner,
            guardian,
        };
        match server.init_and_start(setup) {
            Ok(port) => {
                server.addr.port = port;
                Ok(server)
            }
            Err(e) => {
                server.guardian.finish();
                Err(e)
            }
        }
    }

    fn init_and_start(&self, setup: &Setup<'_>) -> Result<u16, String> {
        init_data_dir(&self.bins, &self.dir, &self.runner)?;
        prepare_data_dir(setup, &self.dir, &self.runner)?;
        let port = start_server(&self.bins, &self.dir, &self.runner)?;
        wait_for_tcp(port)?;
        Ok(port)
    }

    /// Runs `pg_ctl start` or `restart` on the port the server was first
    /// given, so configurations built from `addr` keep working, and returns
    /// once clients can connect over TCP.
    fn come_up(&self, action: PgCtlUp) -> Result<(), String> {
        pg_ctl_up(&self.bins, &self.dir, &self.runner, self.addr.port, action)
            .map_err(|e| format!("{e}\n{}", self.log_excerpt()))?;
        wait_for_tcp(self.addr.port)
    }

    fn stop(&self) -> Result<(), String> {
        pg_ctl_stop(&self.bins, &self.dir, &self.runner, "fast")
            .map_err(|e| format!("{e}\n{}", self.log_excerpt()))
    }

    fn log_excerpt(&self) -> String {
        log_excerpt(&self.dir.log)
    }
}

/// A private throwaway PostgreSQL cluster, for tests that restart, stop or
/// otherwise mistreat their server.
///
/// Unlike the server behind [`server_config`](super::server_config), it is
/// always a new cluster of its own, started from the local PostgreSQL
/// binaries (`initdb`, `pg_ctl`; `PGDBM_PG_BIN`, else `PATH`, else
/// `/usr/lib/postgresql/*/bin`), even when `PGDBM_TEST_URL` names a server:
/// a test that restarts it must not take down the server other tests share.
/// As root, the server runs as the `postgres` OS user.
///
/// Dropping it stops the server and deletes its directory, and waits until
/// both are done. A guardian process does the same if this process dies
/// first, so a crashed test leaves no postmaster behind.
///
/// The control methods block the calling thread (they wait for `pg_ctl`):
/// from async code, share the cluster in an [`Arc`](std::sync::Arc) and call
/// them through `tokio::task::spawn_blocking`. Calls from several threads are
/// taken one at a time.
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// use std::sync::Arc;
/// use pgdbm::testing::TestCluster;
///
/// let cluster = Arc::new(TestCluster::start()?);
/// let db = pgdbm::Database::connect(cluster.config()).await?;
/// let handle = Arc::clone(&cluster);
/// let back = tokio::task::spawn_blocking(move || handle.restart()).await.unwrap()?;
/// let one: i32 = db.fetch_value("SELECT 1", &[]).await?;
/// println!("back after {:?}", back.elapsed());
/// # Ok(()) }
/// ```
pub struct TestCluster {
    server: Server,
    // Serializes `pg_ctl` runs: two at once on one data directory fail.
    control: Mutex<()>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("port", &self.server.addr.port)
            .field("dir", &self.server.dir.root)
            .finish_non_exhaustive()
    }
}

/// Cluster failures are the local installation's problem, reported as a
/// configuration error that says what went wrong and shows the server log.
fn cluster_error(message: String) -> Error {
    Error::config("TestCluster", message)
}

impl TestCluster {
    /// Creates and starts a new cluster (`initdb`, then `pg_ctl start` on a
    /// free port of 127.0.0.1); it accepts connections when this returns.
    ///
    /// ```no_run
    /// # fn f() -> pgdbm::Result<()> {
    /// let cluster = pgdbm::testing::TestCluster::start()?;
    /// println!("private server on port {}", cluster.config().port);
    /// # Ok(()) }
    /// ```
    pub fn start() -> Result<TestCluster> {
        Self::start_with(&[], &[])
    }

    /// Like [`start`](Self::start), with server settings appended to
    /// `postgresql.conf` and files written into the data directory (owned
    /// by the server, mode 0600) before the server first starts: a TLS
    /// server's certificate and key, a `pg_hba.conf` that replaces
    /// `initdb`'s. They stay for restarts. File names are relative to the
    /// data directory, as the server reads `ssl_cert_file` and the like.
    /// The settings the cluster passes on its command line (port,
    /// `listen_addresses`, `max_connections`, `fsync` and the like) win
    /// over these.
    ///
    /// ```no_run
    /// # fn f(cert_pem: &str, key_pem: &str) -> pgdbm::Result<()> {
    /// let cluster = pgdbm::testing::TestCluster::start_with(
    ///     &[("ssl", "on"), ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")],
    ///     &[("server.crt", cert_pem.as_bytes()), ("server.key", key_pem.as_bytes())],
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn start_with(settings: &[(&str, &str)], files: &[(&str, &[u8])]) -> Result<TestCluster> {
        Ok(TestCluster {
            server: Server::launch(&Setup { settings, files }).map_err(cluster_error)?,
            control: Mutex::new(()),
        })
    }

    /// The cluster's data directory, where [`start_with`](Self::start_with)
    /// wrote its files.
    ///
    /// ```no_run
    /// # fn f(cluster: pgdbm::testing::TestCluster) {
    /// assert!(cluster.data_dir().join("postgresql.conf").exists());
    /// # }
    /// ```
    pub fn data_dir(&self) -> &Path {
        &self.server.dir.data
    }

    /// A configuration for the cluster's `postgres` database, with the same
    /// small pools as [`server_config`](super::server_config).
    ///
    /// ```no_run
    /// # async fn f(cluster: pgdbm::testing::TestCluster) -> pgdbm::Result<()> {
    /// let db = pgdbm::Database::connect(cluster.config().with_multiplexing(false)).await?;
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> DatabaseConfig {
        super::small_pools(self.server.addr.config())
    }

    /// Restarts the server the way an operator would (`pg_ctl restart -m
    /// fast`: sessions are terminated, in-flight statements fail) and
    /// returns the moment it accepts connections again, taken after it
    /// does. The port stays the same.
    ///
    /// ```no_run
    /// # fn f(cluster: pgdbm::testing::TestCluster) -> pgdbm::Result<()> {
    /// let back = cluster.restart()?;
    /// assert!(back <= std::time::Instant::now());
    /// # Ok(()) }
    /// ```
    pub fn restart(&self) -> Result<Instant> {
        let _one_at_a_time = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        self.server
            .come_up(PgCtlUp::Restart)
            .map_err(cluster_error)?;
        Ok(Instant::now())
    }

    /// Takes the server down (`pg_ctl stop -m fast`) and keeps it down until
    /// [`resume`](Self::resume); meanwhile connecting fails.
    ///
    /// ```no_run
    /// # fn f(cluster: pgdbm::testing::TestCluster) -> pgdbm::Result<()> {
    /// cluster.stop()?;
    /// cluster.resume()?;
    /// # Ok(()) }
    /// ```
    pub fn stop(&self) -> Result<()> {
        let _one_at_a_time = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        self.server.stop().map_err(cluster_error)
    }

    /// Starts a server taken down by [`stop`](Self::stop) again, on the same
    /// port, and returns the moment it accepts connections, taken after it
    /// does.
    ///
    /// ```no_run
    /// # fn f(cluster: pgdbm::testing::TestCluster) -> pgdbm::Result<()> {
    /// cluster.stop()?;
    /// let back = cluster.resume()?;
    /// # Ok(()) }
    /// ```
    pub fn resume(&self) -> Result<Instant> {
        let _one_at_a_time = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        self.server.come_up(PgCtlUp::Start).map_err(cluster_error)?;
        Ok(Instant::now())
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // The guardian's own clean-up (stop, then delete) is the one place
        // that logic lives; here it just runs now instead of at exit.
        self.server.guardian.finish();
    }
}

// ---------------------------------------------------------------------------
// Locating the server binaries

struct PgBins {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

fn no_binaries_message() -> String {
    "no PostgreSQL server for tests: set PGDBM_TEST_URL (or DATABASE_URL) to a server's URL, \
     or install the PostgreSQL server binaries (initdb, pg_ctl), e.g. `apt-get install postgresql`"
        .to_owned()
}

/// Explicit configuration wins, then PATH, then Debian/Ubuntu's versioned
/// layout, which keeps the server binaries off PATH.
fn find_binaries(
    pg_bin_env: Option<OsString>,
    path_env: Option<OsString>,
    versioned_root: &Path,
) -> Result<PgBins, String> {
    if let Some(dir) = pg_bin_env.filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        // A set-but-wrong override is a mistake worth reporting rather than
        // silently falling back to some other installation.
        return bins_in(&dir).ok_or_else(|| {
            format!(
                "PGDBM_PG_BIN={} does not contain executable initdb and pg_ctl",
                dir.display()
            )
        });
    }
    if let Some(path) = path_env.as_deref() {
        if let (Some(initdb), Some(pg_ctl)) = (which("initdb", path), which("pg_ctl", path)) {
            return Ok(PgBins { initdb, pg_ctl });
        }
    }
    newest_versioned_bin_dir(versioned_root)
        .and_then(|dir| bins_in(&dir))
        .ok_or_else(no_binaries_message)
}

fn bins_in(dir: &Path) -> Option<PgBins> {
    let initdb = dir.join("initdb");
    let pg_ctl = dir.join("pg_ctl");
    (is_executable(&initdb) && is_executable(&pg_ctl)).then_some(PgBins { initdb, pg_ctl })
}

fn which(name: &str, path: &OsStr) -> Option<PathBuf> {
    env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn newest_versioned_bin_dir(root: &Path) -> Option<PathBuf> {
    let complete: Vec<String> = fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| bins_in(&root.join(name).join("bin")).is_some())
        .collect();
    let names: Vec<&str> = complete.iter().map(String::as_str).collect();
    newest_version(&names).map(|name| root.join(name).join("bin"))
}

/// Compares numerically, component by component, so "9.6" < "15" < "16".
fn newest_version<'a>(names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|name| version_key(name).map(|key| (key, *name)))
        .max()
        .map(|(_, name)| name)
}

fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

// ---------------------------------------------------------------------------
// Who runs the server

/// PostgreSQL refuses to run as root, so when we are root everything that
/// touches the cluster runs as the `postgres` OS user instead.
struct Runner {
    ids: Option<(u32, u32)>,
}

impl Runner {
    fn for_current_user() -> Result<Self, String> {
        if effective_uid()? != 0 {
            return Ok(Runner { ids: None });
        }
        let passwd = fs::read_to_string("/etc/passwd")
            .map_err(|e| format!("running as root, but could not read /etc/passwd: {e}"))?;
        let ids = passwd_ids(&passwd, OS_USER).ok_or_else(|| {
            format!(
                "running as root, and PostgreSQL refuses to run as root, but there is no \
                 `{OS_USER}` user to run the test cluster as; create one, run the tests as a \
                 non-root user, or set PGDBM_TEST_URL (or DATABASE_URL) to a server's URL"
            )
        })?;
        Ok(Runner { ids: Some(ids) })
    }

    fn command(&self, program: impl AsRef<OsStr>, dir: &ClusterDir) -> Command {
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null())
            // Our own working directory may be unreadable for the `postgres` user.
            .current_dir(&dir.root)
            // Our own process group gets the terminal's Ctrl-C; the server must
            // not die from it uncleanly (the guardian stops it instead).
            .process_group(0);
        if let Some((uid, gid)) = self.ids {
            cmd.uid(uid).gid(gid).env("HOME", &dir.root);
        }
        cmd
    }

    fn take_ownership(&self, path: &Path) -> Result<(), String> {
        match self.ids {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("could not chown {} to {OS_USER}: {e}", path.display())),
            None => Ok(()),
        }
    }
}

fn effective_uid() -> Result<u32, String> {
    if let Some(uid) = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status_euid(&status))
    {
        return Ok(uid);
    }
    // No procfs (e.g. macOS): ask id(1), which prints the effective uid.
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("could not determine the current user (running `id -u`): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .map_err(|e| format!("could not parse `id -u` output {:?}: {e}", text.trim()))
}

/// The `Uid:` line lists real, effective, saved and filesystem uids.
fn status_euid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
}

/// Parses `name:password:UID:GID:...` lines.
fn passwd_ids(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

// ---------------------------------------------------------------------------
// The cluster directory

struct ClusterDir {
    root: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    log: PathBuf,
}

fn create_cluster_dir(runner: &Runner) -> Result<ClusterDir, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // The system temp dir rather than a home directory: when we are root, the
    // `postgres` user must be able to reach it, and /root is closed to it.
    let root = env::temp_dir().join(format!("pgdbm-cluster-{}-{nanos}", std::process::id()));
    let dir = ClusterDir {
        data: root.join("data"),
        socket: root.join("socket"),
        log: root.join("log"),
        root,
    };
    // `create`, not `create_all`: an existing directory would be someone else's.
    create_private_dir(&dir.root)?;
    let owned = runner
        .take_ownership(&dir.root)
        .and_then(|()| create_private_dir(&dir.socket))
        .and_then(|()| runner.take_ownership(&dir.socket));
    if let Err(e) = owned {
        let _ = fs::remove_dir_all(&dir.root);
        return Err(e);
    }
    Ok(dir)
}

fn create_private_dir(path: &Path) -> Result<(), String> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("could not create {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Guardian, initdb, start

/// Runs as the cluster's owner so it can both stop the server and delete
/// everything the server created.
fn spawn_guardian(bins: &PgBins, dir: &ClusterDir, runner: &Runner) -> Result<Guardian, String> {
    // Paths travel as positional parameters so no quoting is needed. Hangups
    // and interrupts are ignored: only end-of-file on stdin means "clean up".
    const SCRIPT: &str = "trap '' HUP INT; cat >/dev/null; \
                          \"$1\" -D \"$2\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$3\"";
    let mut cmd = runner.command("sh", dir);
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg("pgdbm-cluster-guardian")
        .arg(&bins.pg_ctl)
        .arg(&dir.data)
        .arg(&dir.root)
        .stdin(Stdio::piped())
        // Inheriting our stdout/stderr would keep a reader of them (say,
        // `cargo test | tee`) waiting until the guardian is done.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start the cluster guardian (sh): {e}"))?;
    // Dropping `child` would neither wait for nor kill it; only the pipe
    // matters. It is kept so that `Guardian::finish` can wait for it.
    let pipe = child
        .stdin
        .take()
        .ok_or_else(|| "cluster guardian has no stdin pipe".to_owned())?;
    Ok(Guardian {
        pipe: Some(pipe),
        child,
    })
}

fn init_data_dir(bins: &PgBins, dir: &ClusterDir, runner: &Runner) -> Result<(), String> {
    let mut cmd = runner.command(&bins.initdb, dir);
    cmd.arg("-D")
        .arg(&dir.data)
        .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8"])
        // The caller's locale may be missing or clash with UTF8; C always works
        // and gives tests a deterministic collation.
        .arg("--locale=C")
        .arg("--no-sync");
    run_ok(&mut cmd, "initdb")
}

/// Writes `setup`'s files and settings into a fresh data directory.
fn prepare_data_dir(setup: &Setup<'_>, dir: &ClusterDir, runner: &Runner) -> Result<(), String> {
    use std::io::Write;
    for (name, contents) in setup.files {
        if name.is_empty() || name.contains('/') || *name == ".." || *name == "." {
            return Err(format!(
                "cluster file {name:?} must be a plain file name inside the data directory"
            ));
        }
        let path = dir.data.join(name);
        // Replacing `pg_hba.conf` must not keep initdb's mode or owner;
        // a key file must be private to the server or it refuses it.
        let _ = fs::remove_file(&path);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(contents))
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        runner.take_ownership(&path)?;
    }
    if setup.settings.is_empty() {
        return Ok(());
    }
    let mut lines = String::from("\n# added by TestCluster::start_with\n");
    for (name, value) in setup.settings {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(format!("{name:?} is not a server setting name"));
        }
        lines.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
    }
    let conf = dir.data.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut file| file.write_all(lines.as_bytes()))
        .map_err(|e| format!("could not append to {}: {e}", conf.display()))
}

fn start_server(bins: &PgBins, dir: &ClusterDir, runner: &Runner) -> Result<u16, String> {
    let mut last_error = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        match pg_ctl_up(bins, dir, runner, port, PgCtlUp::Start) {
            Ok(()) => return Ok(port),
            Err(e) => {
                // A start that timed out may have left a live postmaster that
                // would make the next attempt fail with "already running".
                let _ = pg_ctl_stop(bins, dir, runner, "immediate");
                last_error = e;
            }
        }
    }
    Err(format!(
        "could not start the test PostgreSQL server ({START_ATTEMPTS} attempts): {last_error}\n{}",
        log_excerpt(&dir.log)
    ))
}

/// The two `pg_ctl` actions that leave a running server behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PgCtlUp {
    Start,
    /// Stops with `-m fast` first: sessions are terminated, not waited for,
    /// as an operator's restart would.
    Restart,
}

impl PgCtlUp {
    fn name(self) -> &'static str {
        match self {
            PgCtlUp::Start => "start",
            PgCtlUp::Restart => "restart",
        }
    }
}

fn pg_ctl_up(
    bins: &PgBins,
    dir: &ClusterDir,
    runner: &Runner,
    port: u16,
    action: PgCtlUp,
) -> Result<(), String> {
    let mut cmd = runner.command(&bins.pg_ctl, dir);
    cmd.args(pg_ctl_up_args(dir, port, action));
    run_ok(
        &mut cmd,
        &format!("pg_ctl {} on port {port}", action.name()),
    )
}

/// Both actions pass the full server options, so a restart never depends on
/// what `postmaster.opts` remembered.
fn pg_ctl_up_args(dir: &ClusterDir, port: u16, action: PgCtlUp) -> Vec<OsString> {
    // pg_ctl hands these to a shell, hence the quoting of the path.
    let server_options = format!(
        "-p {port} -k {} -c listen_addresses={HOST} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB",
        sh_quote(&dir.socket.to_string_lossy())
    );
    let mut args: Vec<OsString> = vec![
        "-D".into(),
        dir.data.clone().into(),
        "-l".into(),
        dir.log.clone().into(),
        "-w".into(),
        "-t".into(),
        "60".into(),
        "-o".into(),
        server_options.into(),
    ];
    if action == PgCtlUp::Restart {
        args.extend(["-m".into(), "fast".into()]);
    }
    args.push(action.name().into());
    args
}

/// `mode` is pg_ctl's shutdown mode: `fast` ends sessions and checkpoints,
/// `immediate` just kills everything (enough for a directory about to go).
fn pg_ctl_stop(bins: &PgBins, dir: &ClusterDir, runner: &Runner, mode: &str) -> Result<(), String> {
    let mut cmd = runner.command(&bins.pg_ctl, dir);
    cmd.arg("-D")
        .arg(&dir.data)
        .args(["-m", mode, "-w", "stop"]);
    run_ok(&mut cmd, "pg_ctl stop")
}

/// Runs `cmd` to completion; a failure's text names `what` and quotes its stderr.
fn run_ok(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {what} ({:?}): {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The OS hands out an unused port for port 0; it stays free once we let go
/// of it unless someone else grabs it first, which the caller retries for.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("could not find a free port on {HOST}: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("could not read the probed port: {e}"))
}

/// `pg_ctl -w` may judge readiness over the Unix socket; clients use TCP.
fn wait_for_tcp(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "the test PostgreSQL server started but does not accept TCP connections on {addr}: {e}"
                ));
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn log_excerpt(log: &Path) -> String {
    format!("--- last lines of {} ---\n{}", log.display(), log_tail(log))
}

fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(log unreadable: {e})"),
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_share_one_cluster() {
        let ports: Vec<u16> = (0..8)
            .map(|_| {
                thread::spawn(|| {
                    (0..2)
                        .map(|_| ephemeral().unwrap().port)
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect();
        assert_eq!(ports.len(), 16);
        assert!(ports.iter().all(|&p| p == ports[0]), "{ports:?}");

        let addr = ephemeral().unwrap();
        assert_eq!(addr.host, "127.0.0.1");
        assert_eq!(addr.user, "postgres");
    }

    #[test]
    fn accepts_tcp_connections() {
        let addr = ephemeral().unwrap();
        TcpStream::connect((addr.host.as_str(), addr.port)).unwrap();
    }

    #[test]
    fn psql_runs_a_query() {
        let addr = ephemeral().unwrap();
        let out = Command::new("psql")
            .args([
                "-h",
                &addr.host,
                "-p",
                &addr.port.to_string(),
                "-U",
                &addr.user,
            ])
            .args(["-c", "select 1", "-tA"])
            .env_remove("PGPASSWORD")
            .env_remove("PGDATABASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    }

    #[test]
    fn newest_version_is_numeric() {
        assert_eq!(newest_version(&["9.6", "16", "15"]), Some("16"));
        assert_eq!(newest_version(&["15", "9.6"]), Some("15"));
        assert_eq!(newest_version(&["10", "9.6", "common"]), Some("10"));
        assert_eq!(newest_version(&["common"]), None);
    }

    #[test]
    fn passwd_lookup() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgresql:x:7:7::/:/bin/sh\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(passwd_ids(passwd, "postgres"), Some((101, 104)));
        assert_eq!(passwd_ids(passwd, "root"), Some((0, 0)));
        assert_eq!(passwd_ids(passwd, "nobody"), None);
    }

    #[test]
    fn status_uid_line() {
        let status = "Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(status_euid(status), Some(0));
    }

    #[test]
    fn missing_binaries_error_explains_alternatives() {
        let nowhere = env::temp_dir().join("pgdbm-cluster-test-no-such-dir");
        let err = find_binaries(None, Some(nowhere.clone().into_os_string()), &nowhere)
            .err()
            .unwrap();
        assert!(err.contains("PGDBM_TEST_URL"), "{err}");
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("initdb"), "{err}");

        let err = find_binaries(Some(nowhere.clone().into_os_string()), None, &nowhere)
            .err()
            .unwrap();
        assert!(err.contains("PGDBM_PG_BIN"), "{err}");
    }

    #[test]
    fn finds_debian_layout_binaries() {
        let nowhere = env::temp_dir().join("pgdbm-cluster-test-no-such-dir");
        if !Path::new(DEBIAN_PG_ROOT).is_dir() {
            return;
        }
        let bins = find_binaries(
            None,
            Some(nowhere.into_os_string()),
            Path::new(DEBIAN_PG_ROOT),
        )
        .map_err(|e| e.to_string())
        .unwrap();
        assert!(bins.initdb.starts_with(DEBIAN_PG_ROOT) && bins.initdb.ends_with("bin/initdb"));
        assert!(bins.pg_ctl.starts_with(DEBIAN_PG_ROOT) && bins.pg_ctl.ends_with("bin/pg_ctl"));
    }

    fn accepts_tcp(port: u16) -> bool {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    }

    #[test]
    fn private_clusters_restart_stop_resume_and_vanish_on_drop() {
        let shared = ephemeral().unwrap().port;
        let cluster = TestCluster::start().unwrap();
        let other = TestCluster::start().unwrap();
        let port = cluster.config().port;
        assert!(port != shared && port != other.config().port);
        assert_eq!(cluster.config().database, "postgres");
        assert_eq!(cluster.config().max_connections, 10);
        drop(other);

        let before = Instant::now();
        let back = cluster.restart().unwrap();
        assert!(back >= before && accepts_tcp(port));
        cluster.stop().unwrap();
        assert!(!accepts_tcp(port));
        // Stopping twice is pg_ctl's error, reported with the log.
        assert!(cluster.stop().is_err());
        let back = cluster.resume().unwrap();
        assert!(back <= Instant::now() && accepts_tcp(port));

        let root = cluster.server.dir.root.clone();
        assert!(root.join("data").is_dir());
        drop(cluster);
        assert!(!root.exists(), "{} is left behind", root.display());
        assert!(!accepts_tcp(port));
    }

    #[test]
    fn restart_keeps_the_port_and_stops_fast() {
        let dir = ClusterDir {
            root: PathBuf::from("/tmp/c"),
            data: PathBuf::from("/tmp/c/data"),
            socket: PathBuf::from("/tmp/c/so'ck"),
            log: PathBuf::from("/tmp/c/log"),
        };
        let text = |action| -> Vec<String> {
            pg_ctl_up_args(&dir, 5433, action)
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect()
        };
        let start = text(PgCtlUp::Start);
        let restart = text(PgCtlUp::Restart);
        assert_eq!(start.last().unwrap(), "start");
        assert_eq!(restart.last().unwrap(), "restart");
        assert!(!start.contains(&"fast".to_owned()));
        assert!(restart.windows(2).any(|w| w == ["-m", "fast"]));
        // Same options either way: a restart comes back where it was.
        assert_eq!(start[..start.len() - 1], restart[..start.len() - 1]);
        let options = &start[start.iter().position(|a| a == "-o").unwrap() + 1];
        assert!(
            options.starts_with("-p 5433 -k '/tmp/c/so'\\''ck' "),
            "{options}"
        );
        assert!(options.contains("listen_addresses=127.0.0.1"), "{options}");
    }

    #[test]
    fn quoting_for_pg_ctl_options() {
        assert_eq!(sh_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
