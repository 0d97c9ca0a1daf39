//! The one error type of the crate, and the mapping of driver errors into it.
//!
//! Every path (queries, transactions, COPY, acquiring a connection) returns
//! [`Error`]; the driver's own error type never appears in the public API.
//! Server errors are classified by SQLSTATE into variants a caller can match on.

use std::fmt;
use std::time::Duration;

use tokio_postgres::error::SqlState;

/// `Result` with [`Error`] as the default error type.
///
/// ```
/// fn parse_port(s: &str) -> pgdbm::Result<u16> {
///     s.parse().map_err(|_| pgdbm::Error::config("port", "not a number"))
/// }
/// assert!(parse_port("x").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The server's error inside an [`Error`] (by reference or by mutable
/// reference, as `$error` is): the one list of the variants that carry one.
macro_rules! server_error {
    ($error:expr) => {
        match $error {
            Error::UniqueViolation(e)
            | Error::ForeignKeyViolation(e)
            | Error::NotNullViolation(e)
            | Error::CheckViolation(e)
            | Error::SerializationFailure(e)
            | Error::Deadlock(e)
            | Error::QueryCanceled(e)
            | Error::LockTimeout(e)
            | Error::UndefinedTable(e)
            | Error::UndefinedColumn(e)
            | Error::Syntax(e)
            | Error::Authentication(e)
            | Error::UnknownDatabase(e)
            | Error::Database(e) => Some(e),
            _ => None,
        }
    };
}

/// Everything that can go wrong in pgdbm.
///
/// The enum is flat so that callers match the cases they handle and pass the
/// rest on; payloads are boxed so that `Result<T>` stays two words.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// match db.execute("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@b"]).await {
///     Ok(_) => {}
///     Err(pgdbm::Error::UniqueViolation(e)) => println!("taken: {:?}", e.constraint()),
///     Err(e) if e.is_retryable() => println!("try again: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A unique constraint was violated (SQLSTATE 23505).
    #[error("unique violation: {0}")]
    UniqueViolation(Box<DatabaseError>),
    /// A foreign key constraint was violated (SQLSTATE 23503).
    #[error("foreign key violation: {0}")]
    ForeignKeyViolation(Box<DatabaseError>),
    /// A NOT NULL constraint was violated (SQLSTATE 23502).
    #[error("not-null violation: {0}")]
    NotNullViolation(Box<DatabaseError>),
    /// A CHECK constraint was violated (SQLSTATE 23514).
    #[error("check violation: {0}")]
    CheckViolation(Box<DatabaseError>),
    /// A serializable transaction could not be serialized (SQLSTATE 40001). Retryable.
    #[error("serialization failure: {0}")]
    SerializationFailure(Box<DatabaseError>),
    /// The server detected a deadlock (SQLSTATE 40P01). Retryable.
    #[error("deadlock detected: {0}")]
    Deadlock(Box<DatabaseError>),
    /// The server cancelled the statement: `statement_timeout` or a cancel
    /// request (SQLSTATE 57014).
    #[error("statement cancelled by the server: {0}")]
    QueryCanceled(Box<DatabaseError>),
    /// A lock could not be taken within `lock_timeout` (SQLSTATE 55P03).
    #[error("lock timeout: {0}")]
    LockTimeout(Box<DatabaseError>),
    /// The statement names a table that does not exist (SQLSTATE 42P01).
    #[error("undefined table: {0}")]
    UndefinedTable(Box<DatabaseError>),
    /// The statement names a column that does not exist (SQLSTATE 42703).
    #[error("undefined column: {0}")]
    UndefinedColumn(Box<DatabaseError>),
    /// The statement is not valid SQL (SQLSTATE 42601).
    #[error("syntax error: {0}")]
    Syntax(Box<DatabaseError>),
    /// Any other error reported by the server.
    #[error("database error: {0}")]
    Database(Box<DatabaseError>),

    /// The call did not finish within its timeout; the server-side statement
    /// was cancelled where that is safe.
    #[error("{0}")]
    Timeout(Box<TimeoutError>),
    /// No pooled connection became free within `acquire_timeout`.
    #[error("timed out after {0:?} waiting for a pooled connection (pool exhausted)")]
    PoolTimeout(Duration),
    /// The pool was closed with [`Database::close`](crate::Database::close).
    #[error("the connection pool is closed")]
    PoolClosed,
    /// A new connection could not be opened: the server could not be
    /// reached, or the connection broke during startup. Names where pgdbm
    /// tried and how many times. Retryable.
    #[error("{0}")]
    Connect(Box<ConnectError>),
    /// The server refused the credentials: a wrong password (SQLSTATE
    /// 28P01), a role that does not exist or is not allowed in by
    /// `pg_hba.conf` (28000), or a password the server asked for and the
    /// configuration lacks. Not retryable: trying again cannot help.
    #[error("authentication failed: {0}")]
    Authentication(Box<DatabaseError>),
    /// The database named in the configuration does not exist (SQLSTATE
    /// 3D000). Not retryable.
    #[error("unknown database: {0}")]
    UnknownDatabase(Box<DatabaseError>),
    /// TLS could not be set up: a certificate or key file is missing,
    /// unreadable or invalid, the key password is wrong, the server's
    /// certificate was refused (unknown issuer, host name mismatch,
    /// expired), or the server does not offer TLS where the ssl mode
    /// requires it. [`TlsError::failure`] says which. Not retryable.
    #[error("{0}")]
    Tls(Box<TlsError>),
    /// The connection broke while a call was using it. Retryable: the
    /// statement may or may not have been applied.
    #[error("connection lost: {0}")]
    ConnectionClosed(Box<DriverError>),
    /// A parameter could not be encoded for its placeholder (wrong Rust type
    /// for the server's type, the wrong number of parameters, more than
    /// 65,535 of them, or one value over PostgreSQL's 1 GiB limit). Nothing
    /// of the statement's execution was sent; [`DriverError::parameter`]
    /// names the parameter where there is one.
    #[error("invalid query parameter: {0}")]
    Parameter(Box<DriverError>),
    /// Another client-side error of the driver.
    #[error("driver error: {0}")]
    Driver(Box<DriverError>),

    /// The configuration is invalid; names the field.
    #[error("{0}")]
    Config(Box<ConfigError>),
    /// A schema, table or column name is not a valid identifier.
    #[error("{0}")]
    InvalidIdentifier(Box<IdentifierError>),
    /// A `{{...}}` template could not be expanded.
    #[error("{0}")]
    Template(Box<TemplateError>),

    /// `COMMIT` was answered with `ROLLBACK`: a statement in the transaction
    /// had failed (and its error was not passed on), so the server rolled
    /// the whole transaction back. Carries the SQL sent. Not retryable as
    /// such: the work must be redone from the start of the transaction.
    #[error("{0} did not commit: the transaction had failed and was rolled back")]
    RolledBack(Box<str>),
    /// A query that must return a row returned none.
    #[error("query returned no rows: {0}")]
    NotFound(Box<str>),
    /// A query that must return exactly one row returned several.
    #[error("query returned more than one row: {0}")]
    TooManyRows(Box<str>),
    /// A column could not be read as the requested Rust type.
    #[error("{0}")]
    RowMapping(Box<RowMappingError>),
    /// Raw SQL that would change session state was sent where statements
    /// do not own their connection (a multiplexed `Database`); it was not
    /// sent. The error says where to run it instead.
    #[error("{0}")]
    SessionState(Box<SessionStateError>),
    /// No statement of this name was added with
    /// [`Database::add_prepared_statement`](crate::Database::add_prepared_statement)
    /// for the manager's schema; carries the name. Nothing was sent.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.prepared("no_such_statement") {
    ///     Err(pgdbm::Error::UnknownStatement(name)) => assert_eq!(&*name, "no_such_statement"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    #[error("no prepared statement named {0:?}: add it first with add_prepared_statement")]
    UnknownStatement(Box<str>),
    /// A built statement names a table without the manager's schema; it
    /// was not sent.
    #[error("{0}")]
    UnqualifiedTable(Box<UnqualifiedTableError>),

    /// A migration file cannot be used: its name, its content (no statement,
    /// or a `COMMIT` of its own), a duplicate version, or reading it.
    #[error("{0}")]
    MigrationSource(Box<crate::migrate::MigrationSourceError>),
    /// A statement of a migration failed; names the file, the statement and
    /// the line, with the database error as its source.
    #[error("{0}")]
    Migration(Box<crate::migrate::MigrationError>),
    /// An applied migration's file changed since it ran; nothing was applied.
    #[error("{0}")]
    MigrationChecksum(Box<crate::migrate::ChecksumError>),
    /// Another migrator held the lock of the schema and module too long.
    #[error("{0}")]
    MigrationLock(Box<crate::migrate::MigrationLockError>),
}

impl Error {
    /// Builds an [`Error::Config`] naming `field`.
    ///
    /// ```
    /// let e = pgdbm::Error::config("max_connections", "must be at least 1");
    /// assert_eq!(e.to_string(), "invalid configuration: max_connections: must be at least 1");
    /// ```
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config(Box::new(ConfigError {
            field: field.into(),
            message: message.into(),
        }))
    }

    /// Whether trying the same work again may succeed: serialization
    /// failures, deadlocks, lost connections, unreachable servers, pool
    /// timeouts and server shutdowns. Refused credentials and unknown
    /// databases are not: they stay wrong until someone changes them.
    ///
    /// ```
    /// assert!(pgdbm::Error::PoolTimeout(std::time::Duration::from_secs(1)).is_retryable());
    /// assert!(!pgdbm::Error::PoolClosed.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::SerializationFailure(_)
            | Error::Deadlock(_)
            | Error::ConnectionClosed(_)
            | Error::Connect(_)
            | Error::PoolTimeout(_) => true,
            Error::Authentication(_)
            | Error::UnknownDatabase(_)
            | Error::Tls(_)
            | Error::RolledBack(_) => false,
            other => other.sqlstate().is_some_and(is_connection_class),
        }
    }

    /// The server's error, for every variant that carries one.
    ///
    /// ```
    /// assert!(pgdbm::Error::PoolClosed.database_error().is_none());
    /// ```
    pub fn database_error(&self) -> Option<&DatabaseError> {
        server_error!(self)
    }

    /// The five-character SQLSTATE of a server error.
    ///
    /// ```
    /// assert_eq!(pgdbm::Error::PoolClosed.sqlstate(), None);
    /// ```
    pub fn sqlstate(&self) -> Option<&str> {
        self.database_error().map(DatabaseError::code)
    }

    /// The constraint a server error names, if any.
    ///
    /// ```
    /// assert_eq!(pgdbm::Error::PoolClosed.constraint(), None);
    /// ```
    pub fn constraint(&self) -> Option<&str> {
        self.database_error().and_then(DatabaseError::constraint)
    }

    /// The SQL that failed, where the error is tied to a statement.
    ///
    /// ```
    /// assert_eq!(pgdbm::Error::NotFound("SELECT 1 WHERE false".into()).sql(), Some("SELECT 1 WHERE false"));
    /// ```
    pub fn sql(&self) -> Option<&str> {
        match self {
            Error::NotFound(sql) | Error::TooManyRows(sql) | Error::RolledBack(sql) => Some(sql),
            Error::Timeout(t) => t.sql.as_deref(),
            Error::ConnectionClosed(e) | Error::Parameter(e) | Error::Driver(e) => e.sql.as_deref(),
            other => other.database_error().and_then(|e| e.sql.as_deref()),
        }
    }

    pub(crate) fn timeout(after: Duration, sql: Option<&str>) -> Self {
        Error::Timeout(Box::new(TimeoutError {
            after,
            sql: sql.map(str::to_owned),
        }))
    }

    pub(crate) fn template(position: usize, message: impl Into<String>) -> Self {
        Error::Template(Box::new(TemplateError {
            position,
            message: message.into(),
        }))
    }

    pub(crate) fn identifier(
        kind: &'static str,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidIdentifier(Box::new(IdentifierError {
            kind,
            name: name.into(),
            reason: reason.into(),
        }))
    }

    /// `expected` is a `std::any::type_name`, shown without its paths.
    pub(crate) fn row_mapping(
        column: impl Into<String>,
        expected: &'static str,
        found: impl Into<String>,
    ) -> Self {
        Error::RowMapping(Box::new(RowMappingError {
            column: column.into(),
            expected: short_type_name(expected),
            found: found.into(),
        }))
    }

    /// Maps an error that happened while opening a connection to `target`
    /// (one attempt; see [`with_attempts`](Self::with_attempts)). Refused
    /// credentials and an unknown database get their own variants, with
    /// the target in their message.
    pub(crate) fn connect_to(err: tokio_postgres::Error, target: &ConnectTarget) -> Self {
        Self::connect_attempt(err, Some(target))
    }

    fn connect_attempt(err: tokio_postgres::Error, target: Option<&ConnectTarget>) -> Self {
        if let Some(db) = err.as_db_error() {
            let mut e = DatabaseError::of(db, None);
            e.target = target.cloned();
            return Self::classify(Box::new(e));
        }
        let message = with_causes(&err);
        // The driver's own check, before any server error: the server asked
        // for a password and the configuration has none. As final as a
        // wrong one, so it must not be retried like an unreachable server.
        if message.ends_with("password missing") {
            let mut db = DatabaseError::synthetic(
                SqlState::INVALID_PASSWORD,
                "the server asked for a password and the configuration has none",
            );
            db.target = target.cloned();
            return Error::Authentication(Box::new(db));
        }
        Error::Connect(Box::new(ConnectError {
            target: target.cloned(),
            attempts: 1,
            message,
            source: Some(Box::new(err)),
        }))
    }

    pub(crate) fn tls(
        failure: TlsFailure,
        file: Option<&std::path::Path>,
        message: impl Into<String>,
    ) -> Self {
        Error::Tls(Box::new(TlsError {
            failure,
            file: file.map(std::path::Path::to_path_buf),
            message: message.into(),
        }))
    }

    /// A connection to `target` that failed without a driver error (a
    /// timeout, a failed start-up hook).
    pub(crate) fn connect_failed(target: &ConnectTarget, message: impl Into<String>) -> Self {
        Error::Connect(Box::new(ConnectError {
            target: Some(target.clone()),
            attempts: 1,
            message: message.into(),
            source: None,
        }))
    }

    /// Marks a server error as the failure of `init_commands[index]` on a
    /// new connection to `target`; other errors are returned unchanged.
    pub(crate) fn in_init_command(mut self, index: usize, target: &ConnectTarget) -> Self {
        if let Some(db) = self.database_error_mut() {
            db.init_command = Some(index);
            db.target = Some(target.clone());
        }
        self
    }

    fn database_error_mut(&mut self) -> Option<&mut DatabaseError> {
        server_error!(self)
    }

    /// Records how many times the connection was tried, for the message of
    /// an [`Error::Connect`]; other errors are returned unchanged.
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        if let Error::Connect(e) = &mut self {
            e.attempts = attempts;
        }
        self
    }

    /// The error a `COMMIT` gets when the server answers it with the tag
    /// `ROLLBACK`.
    pub(crate) fn rolled_back(sql: &str) -> Self {
        Error::RolledBack(sql.into())
    }

    /// A parameter pgdbm refuses before sending anything.
    pub(crate) fn parameter(index: Option<usize>, message: String, sql: &str) -> Self {
        Error::Parameter(Box::new(DriverError {
            message,
            sql: Some(sql.to_owned()),
            parameter: index,
            source: None,
        }))
    }

    /// Maps a driver error, attaching the SQL that was running.
    pub(crate) fn from_driver(err: tokio_postgres::Error, sql: Option<&str>) -> Self {
        let Some(db) = err.as_db_error() else {
            if let Some(index) = serialized_parameter(&err) {
                return Error::Parameter(Box::new(DriverError::serializing(err, index, sql)));
            }
            let closed = err.is_closed();
            let driver = Box::new(DriverError::new(err, sql));
            return if closed {
                Error::ConnectionClosed(driver)
            } else if driver.message.contains("parameters but") {
                Error::Parameter(driver)
            } else if driver
                .message
                .starts_with("error communicating with the server")
                || driver.message.starts_with("unexpected EOF")
            {
                Error::ConnectionClosed(driver)
            } else {
                Error::Driver(driver)
            };
        };
        Self::classify(Box::new(DatabaseError::of(db, sql)))
    }

    /// The variant for a server error, by SQLSTATE.
    fn classify(e: Box<DatabaseError>) -> Self {
        let code = &SqlState::from_code(&e.code);
        if *code == SqlState::UNIQUE_VIOLATION {
            Error::UniqueViolation(e)
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            Error::ForeignKeyViolation(e)
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            Error::NotNullViolation(e)
        } else if *code == SqlState::CHECK_VIOLATION {
            Error::CheckViolation(e)
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE {
            Error::SerializationFailure(e)
        } else if *code == SqlState::T_R_DEADLOCK_DETECTED {
            Error::Deadlock(e)
        } else if *code == SqlState::QUERY_CANCELED {
            Error::QueryCanceled(e)
        } else if *code == SqlState::LOCK_NOT_AVAILABLE {
            Error::LockTimeout(e)
        } else if *code == SqlState::UNDEFINED_TABLE {
            Error::UndefinedTable(e)
        } else if *code == SqlState::UNDEFINED_COLUMN {
            Error::UndefinedColumn(e)
        } else if *code == SqlState::SYNTAX_ERROR {
            Error::Syntax(e)
        } else if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            Error::Authentication(e)
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            Error::UnknownDatabase(e)
        } else {
            Error::Database(e)
        }
    }
}

impl Error {
    /// A server error pgdbm reports on the server's behalf, for a statement
    /// it did not send because the server would refuse it.
    pub(crate) fn database(code: SqlState, message: &str, sql: &str) -> Error {
        let mut e = DatabaseError::synthetic(code, message);
        e.sql = Some(sql.to_owned());
        Error::Database(Box::new(e))
    }

    /// A missing schema, named in a table reference, as the missing table
    /// PostgreSQL reports for a query of that name (`LOCK TABLE` says
    /// 3F000 where `SELECT` and `COPY` say 42P01); the message is kept.
    pub(crate) fn schema_missing_as_table(self) -> Error {
        match self {
            Error::Database(mut e) if e.code == SqlState::INVALID_SCHEMA_NAME.code() => {
                e.code = SqlState::UNDEFINED_TABLE.code().to_owned();
                Error::UndefinedTable(e)
            }
            other => other,
        }
    }
}

/// An error's message followed by its causes': the driver's Display says
/// only "error serializing parameter 0" and keeps the why in its source.
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// The index of the parameter a driver error failed to encode: the
/// driver's only sign of it is its message, "error serializing parameter 3".
fn serialized_parameter(err: &tokio_postgres::Error) -> Option<usize> {
    parameter_index(&err.to_string())
}

/// A type name as a user writes it: `core::option::Option<alloc::string::String>`
/// becomes `Option<String>`, each path cut to its last segment.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            continue;
        }
        push_last_segment(&mut out, &full[segment_start..i]);
        out.push(c);
        segment_start = i + c.len_utf8();
    }
    push_last_segment(&mut out, &full[segment_start..]);
    out
}

fn push_last_segment(out: &mut String, path: &str) {
    out.push_str(path.rsplit("::").next().unwrap_or(path));
}

fn parameter_index(message: &str) -> Option<usize> {
    message
        .strip_prefix("error serializing parameter ")?
        .parse()
        .ok()
}

/// Connection exceptions (class 08) and server shutdowns (57P01..57P03).
fn is_connection_class(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// An error reported by the PostgreSQL server, with the SQL that caused it.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) {
/// if let Err(e) = db.execute("SELECT * FROM missing", &[]).await {
///     let server = e.database_error().unwrap();
///     assert_eq!(server.code(), "42P01");
///     assert_eq!(server.sql(), Some("SELECT * FROM missing"));
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseError {
    code: String,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    column: Option<String>,
    constraint: Option<String>,
    context: Option<String>,
    /// 1-based character position of the error in `sql`.
    position: Option<u32>,
    sql: Option<String>,
    /// Where pgdbm was connecting, for errors of the connection's startup.
    target: Option<ConnectTarget>,
    /// The index of the `init_commands` entry that failed.
    init_command: Option<usize>,
}

impl DatabaseError {
    fn of(db: &tokio_postgres::error::DbError, sql: Option<&str>) -> Self {
        DatabaseError {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            schema: db.schema().map(str::to_owned),
            table: db.table().map(str::to_owned),
            column: db.column().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            context: db.where_().map(str::to_owned),
            position: match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(at)) => Some(*at),
                _ => None,
            },
            sql: sql.map(str::to_owned),
            target: None,
            init_command: None,
        }
    }

    /// An error pgdbm reports in the server's terms without the server
    /// having sent it.
    fn synthetic(code: SqlState, message: &str) -> Self {
        DatabaseError {
            code: code.code().to_owned(),
            message: message.to_owned(),
            detail: None,
            hint: None,
            schema: None,
            table: None,
            column: None,
            constraint: None,
            context: None,
            position: None,
            sql: None,
            target: None,
            init_command: None,
        }
    }

    /// Where in the SQL the server located the error: a 1-based character
    /// (not byte) position, as PostgreSQL's `POSITION` field gives it.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) {
    /// let err = db.execute("SELECT nope FROM {{tables.users}}", &[]).await.unwrap_err();
    /// assert!(err.database_error().and_then(|e| e.position()).is_some());
    /// # }
    /// ```
    pub fn position(&self) -> Option<u32> {
        self.position
    }

    /// The server's CONTEXT line (for a failed COPY, the line that failed:
    /// `COPY t, line 701`).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
    /// # async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {
    /// match db.copy_in(&users).await {
    ///     Err(pgdbm::Error::UniqueViolation(e)) => eprintln!("{:?}", e.context()), // Some("COPY users, line 701")
    ///     Err(e) => return Err(e),
    ///     Ok(n) => println!("{n} rows loaded"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }
    /// The SQLSTATE code, for example `"23505"`.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("UPDATE {{tables.users}} SET email = $1", &[&"a".repeat(300)]).await {
    ///     // string_data_right_truncation: longer than the column's varchar(n)
    ///     Err(pgdbm::Error::Database(e)) if e.code() == "22001" => eprintln!("email too long"),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn code(&self) -> &str {
        &self.code
    }
    /// The server's primary message.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@x.io"]).await {
    ///     // "duplicate key value violates unique constraint \"users_email_key\""
    ///     Err(pgdbm::Error::UniqueViolation(e)) => eprintln!("{}", e.message()),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The server's DETAIL line.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@x.io"]).await {
    ///     // Some("Key (email)=(a@x.io) already exists.")
    ///     Err(pgdbm::Error::UniqueViolation(e)) => eprintln!("{:?}", e.detail()),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
    /// The server's HINT line.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.fetch_all("SELECT emial FROM {{tables.users}}", &[]).await {
    ///     // Some("Perhaps you meant to reference the column \"users.email\".")
    ///     Err(pgdbm::Error::UndefinedColumn(e)) => eprintln!("{}; hint: {:?}", e.message(), e.hint()),
    ///     Err(e) => return Err(e),
    ///     Ok(rows) => println!("{} rows", rows.len()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// The schema of the object the error is about.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.users}} (email) VALUES (NULL)", &[]).await {
    ///     Err(pgdbm::Error::NotNullViolation(e)) => assert_eq!(e.schema(), db.schema()),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
    /// The table the error is about.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.users}} (email) VALUES (NULL)", &[]).await {
    ///     Err(pgdbm::Error::NotNullViolation(e)) => assert_eq!(e.table(), Some("users")),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
    /// The column the error is about.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.users}} (email) VALUES (NULL)", &[]).await {
    ///     Err(pgdbm::Error::NotNullViolation(e)) => assert_eq!(e.column(), Some("email")),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }
    /// The constraint that was violated.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("INSERT INTO {{tables.posts}} (user_id, title) VALUES ($1, 'hi')", &[&404i64]).await {
    ///     Err(pgdbm::Error::ForeignKeyViolation(e)) => assert_eq!(e.constraint(), Some("posts_user_id_fkey")),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    /// The SQL that was sent (templates already expanded).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let app = db.with_schema("app")?;
    /// match app.execute("DELETE FROM {{tables.users}} WERE id = 1", &[]).await {
    ///     Err(pgdbm::Error::Syntax(e)) => assert_eq!(e.sql(), Some(r#"DELETE FROM "app"."users" WERE id = 1"#)),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sql(&self) -> Option<&str> {
        self.sql.as_deref()
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {}", self.message, self.code)?;
        if let Some(c) = &self.constraint {
            write!(f, ", constraint \"{c}\"")?;
        }
        f.write_str(")")?;
        if let Some(d) = &self.detail {
            write!(f, "; {d}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "; context: {c}")?;
        }
        if let Some(sql) = &self.sql {
            write!(f, "; query: {sql}")?;
        }
        match (&self.target, self.init_command) {
            (Some(target), Some(i)) => write!(
                f,
                "; init_commands[{i}] failed on a new connection to {target}"
            )?,
            (Some(target), None) => write!(f, "; connecting to {target}")?,
            (None, Some(i)) => write!(f, "; init_commands[{i}] failed on a new connection")?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// A client-side error of the driver (I/O, protocol, parameter encoding).
///
/// It comes with [`Error::ConnectionClosed`], [`Error::Parameter`] and
/// [`Error::Driver`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// match db.execute("UPDATE {{tables.users}} SET age = $1 WHERE id = $2", &[&41i32, &"seven"]).await {
///     Err(pgdbm::Error::Parameter(e)) => assert_eq!(e.parameter(), Some(1)),
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DriverError {
    message: String,
    sql: Option<String>,
    /// The parameter at fault (from 0), for parameter errors.
    parameter: Option<usize>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DriverError {
    fn new(err: tokio_postgres::Error, sql: Option<&str>) -> Self {
        DriverError {
            message: with_causes(&err),
            sql: sql.map(str::to_owned),
            parameter: None,
            source: Some(Box::new(err)),
        }
    }

    /// Parameter `index` could not be encoded: the message names it as the
    /// caller wrote it (`$1` for index 0) and says why, without the
    /// driver's "error serializing" preamble.
    fn serializing(err: tokio_postgres::Error, index: usize, sql: Option<&str>) -> Self {
        let why = std::error::Error::source(&err)
            .map(with_causes)
            .unwrap_or_else(|| "it could not be encoded".to_owned());
        DriverError {
            message: format!("parameter ${}: {why}", index + 1),
            sql: sql.map(str::to_owned),
            parameter: Some(index),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn message_only(message: impl Into<String>) -> Self {
        DriverError {
            message: message.into(),
            sql: None,
            parameter: None,
            source: None,
        }
    }

    /// The parameter at fault, by index from 0 (`Some(0)` is `$1`), when
    /// the error is about one parameter.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("UPDATE {{tables.users}} SET age = $1", &[&"forty"]).await {
    ///     Err(pgdbm::Error::Parameter(e)) => assert_eq!(e.parameter(), Some(0)),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn parameter(&self) -> Option<usize> {
        self.parameter
    }

    /// What went wrong, with the driver's causes.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("UPDATE {{tables.users}} SET age = $1", &[&"forty"]).await {
    ///     // "parameter $1: cannot convert between the Rust type `&str` and the Postgres type `int4`"
    ///     Err(pgdbm::Error::Parameter(e)) => eprintln!("{}", e.message()),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The SQL that was running, if any.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.execute("UPDATE {{tables.counters}} SET n = n + 1", &[]).await {
    ///     // The statement may or may not have been applied.
    ///     Err(pgdbm::Error::ConnectionClosed(e)) => eprintln!("lost the connection during {:?}", e.sql()),
    ///     Err(e) => return Err(e),
    ///     Ok(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sql(&self) -> Option<&str> {
        self.sql.as_deref()
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(sql) = &self.sql {
            write!(f, "; query: {sql}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Where pgdbm tried to connect: the first host of the configuration, its
/// port and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectTarget {
    host: String,
    port: u16,
    database: String,
    /// `host` is the directory of a Unix socket.
    socket: bool,
}

impl ConnectTarget {
    /// The target of a driver configuration, with the driver's defaults
    /// (port 5432, the database named like the user) where it sets none.
    pub(crate) fn of(pg: &tokio_postgres::Config) -> Self {
        use tokio_postgres::config::Host;
        let (host, socket) = match pg.get_hosts().first() {
            Some(Host::Tcp(host)) => (host.clone(), false),
            #[cfg(unix)]
            Some(Host::Unix(dir)) => (dir.display().to_string(), true),
            None => ("localhost".to_owned(), false),
        };
        ConnectTarget {
            host,
            port: pg.get_ports().first().copied().unwrap_or(5432),
            database: pg
                .get_dbname()
                .or_else(|| pg.get_user())
                .unwrap_or_default()
                .to_owned(),
            socket,
        }
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    /// The target of a pgdbm configuration.
    pub(crate) fn from_config(config: &crate::DatabaseConfig) -> Self {
        Self::of(&config.pg_config(None))
    }
}

impl fmt::Display for ConnectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.socket {
            // As psql names it, so the path can be checked as written.
            write!(f, "socket \"{}/.s.PGSQL.{}\"", self.host, self.port)?;
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        write!(f, " (database \"{}\")", self.database)
    }
}

/// Details of [`Error::Connect`]: where pgdbm tried, how often, and why it
/// failed.
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// let config = pgdbm::DatabaseConfig::from_url("postgres://localhost:1/app")?;
/// match pgdbm::Database::connect(config).await {
///     // could not connect to localhost:1 (database "app") after 4 attempts: error connecting to server: Connection refused (os error 111)
///     Err(pgdbm::Error::Connect(e)) => eprintln!("{e}"),
///     Err(e) => return Err(e),
///     Ok(db) => db.close().await,
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConnectError {
    target: Option<ConnectTarget>,
    attempts: u32,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConnectError {
    /// The host tried: a name, an address, or a Unix socket's directory
    /// (empty only where pgdbm did not know it).
    ///
    /// ```no_run
    /// # async fn f(config: pgdbm::DatabaseConfig) -> pgdbm::Result<()> {
    /// if let Err(pgdbm::Error::Connect(e)) = pgdbm::Database::connect(config).await {
    ///     eprintln!("is the server at {}:{} up?", e.host(), e.port());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn host(&self) -> &str {
        self.target.as_ref().map_or("", |t| &t.host)
    }

    /// The port tried (0 only where pgdbm did not know it).
    ///
    /// ```no_run
    /// # async fn f(config: pgdbm::DatabaseConfig) -> pgdbm::Result<()> {
    /// if let Err(pgdbm::Error::Connect(e)) = pgdbm::Database::connect(config).await {
    ///     assert_ne!(e.port(), 0);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn port(&self) -> u16 {
        self.target.as_ref().map_or(0, |t| t.port)
    }

    /// The database the connection was for.
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let config = pgdbm::DatabaseConfig::from_url("postgres://localhost:1/app")?;
    /// if let Err(pgdbm::Error::Connect(e)) = pgdbm::Database::connect(config).await {
    ///     assert_eq!(e.database(), "app");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn database(&self) -> &str {
        self.target.as_ref().map_or("", |t| &t.database)
    }

    /// How many times the connection was tried: `retry_attempts + 1` when
    /// it never came up (fewer when a shared connection's open ran into
    /// its call's deadline first).
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let mut config = pgdbm::DatabaseConfig::from_url("postgres://localhost:1/app")?;
    /// config.retry_attempts = 2;
    /// if let Err(pgdbm::Error::Connect(e)) = pgdbm::Database::connect(config).await {
    ///     assert_eq!(e.attempts(), 3);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the last attempt failed, with the driver's causes.
    ///
    /// ```no_run
    /// # async fn f() -> pgdbm::Result<()> {
    /// let config = pgdbm::DatabaseConfig::from_url("postgres://localhost:1/app")?;
    /// if let Err(pgdbm::Error::Connect(e)) = pgdbm::Database::connect(config).await {
    ///     eprintln!("{}", e.message()); // "error connecting to server: Connection refused (os error 111)"
    /// }
    /// # Ok(()) }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not connect")?;
        if let Some(target) = &self.target {
            write!(f, " to {target}")?;
        }
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            " after {} attempt{plural}: {}",
            self.attempts, self.message
        )
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Details of [`Error::Timeout`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let quick = db.with_timeout(Some(std::time::Duration::from_secs(2)));
/// match quick.fetch_all("SELECT * FROM {{tables.reports}}", &[]).await {
///     Err(pgdbm::Error::Timeout(t)) => eprintln!("gave up after {:?}: {:?}", t.after, t.sql),
///     Err(e) => return Err(e),
///     Ok(rows) => println!("{} rows", rows.len()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TimeoutError {
    /// How long the call was allowed to take.
    pub after: Duration,
    /// The statement that timed out.
    pub sql: Option<String>,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query timed out after {:?}", self.after)?;
        if let Some(sql) = &self.sql {
            write!(f, "; query: {sql}")?;
        }
        Ok(())
    }
}

/// Details of [`Error::Config`].
///
/// ```
/// use pgdbm::{DatabaseConfig, Error};
///
/// match DatabaseConfig::default().with_pool_size(5, 2).validate() {
///     Err(Error::Config(e)) => {
///         assert_eq!(e.field, "min_connections");
///         assert_eq!(e.message, "is 5 but max_connections is 2");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The configuration field (or URL part) at fault.
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.field, self.message)
    }
}

/// What went wrong in an [`Error::Tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// A certificate or key file is missing, unreadable or not usable PEM
    /// (or the platform store holds no roots).
    File,
    /// The client key is encrypted and `ssl_key_password` is missing or
    /// wrong.
    KeyPassword,
    /// The server's certificate was not issued by a trusted CA.
    UnknownIssuer,
    /// The server's certificate does not name the host connected to
    /// (`verify-full`).
    HostName,
    /// The server's certificate has expired or is not valid yet.
    Expired,
    /// The server does not offer TLS and the ssl mode requires it.
    NotOffered,
    /// The handshake failed otherwise (the server refused the client
    /// certificate, no common protocol version, ...).
    Handshake,
}

/// Details of [`Error::Tls`].
///
/// ```no_run
/// # async fn f() -> pgdbm::Result<()> {
/// use pgdbm::{Database, DatabaseConfig, Error, TlsFailure};
///
/// let config = DatabaseConfig::from_url("postgres://db.internal/app?sslmode=verify-full")?;
/// match Database::connect(config).await {
///     Err(Error::Tls(e)) if e.failure() == TlsFailure::HostName => eprintln!("{e}"),
///     Err(e) => return Err(e),
///     Ok(db) => db.close().await,
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TlsError {
    failure: TlsFailure,
    file: Option<std::path::PathBuf>,
    message: String,
}

impl TlsError {
    /// Which kind of failure this is. The files are read when the pool is
    /// built, before any connection is opened:
    ///
    /// ```
    /// use std::path::Path;
    /// use pgdbm::{Database, DatabaseConfig, Error, TlsFailure};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> pgdbm::Result<()> {
    /// let url = "postgres://localhost/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem";
    /// match Database::connect(DatabaseConfig::from_url(url)?).await {
    ///     Err(Error::Tls(e)) => {
    ///         assert_eq!(e.failure(), TlsFailure::File);
    ///         assert_eq!(e.file(), Some(Path::new("/nonexistent/ca.pem")));
    ///         assert!(e.message().contains("cannot read ssl_root_cert"), "{e}");
    ///     }
    ///     other => panic!("expected Error::Tls, got {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn failure(&self) -> TlsFailure {
        self.failure
    }

    /// The file at fault, for [`TlsFailure::File`] and
    /// [`TlsFailure::KeyPassword`].
    ///
    /// ```no_run
    /// # async fn f(config: pgdbm::DatabaseConfig) {
    /// if let Err(pgdbm::Error::Tls(e)) = pgdbm::Database::connect(config).await {
    ///     if let Some(file) = e.file() {
    ///         eprintln!("check {}", file.display());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// What happened and what to do, in words (also the `Display` text,
    /// after "TLS: ").
    ///
    /// ```no_run
    /// # async fn f(config: pgdbm::DatabaseConfig) {
    /// if let Err(pgdbm::Error::Tls(e)) = pgdbm::Database::connect(config).await {
    ///     assert!(e.to_string().ends_with(e.message()));
    /// }
    /// # }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}", self.message)
    }
}

/// Details of [`Error::InvalidIdentifier`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// match db.with_schema("") {
///     Err(pgdbm::Error::InvalidIdentifier(e)) => {
///         assert_eq!((e.kind, e.name.as_str()), ("schema", ""));
///         eprintln!("{}", e.reason); // "must not be empty"
///     }
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IdentifierError {
    /// What the name was for: `"schema"`, `"table"` or `"column"`.
    pub kind: &'static str,
    /// The rejected name.
    pub name: String,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} name {:?}: {}",
            self.kind, self.name, self.reason
        )
    }
}

/// Details of [`Error::Template`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// match db.execute("DELETE FROM {{tables.users WHERE id = 1", &[]).await {
///     Err(pgdbm::Error::Template(e)) => {
///         assert_eq!(e.position, 12); // where the `{{` is
///         eprintln!("{}", e.message); // "`{{` is not closed by `}}`"
///     }
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TemplateError {
    /// Byte offset in the query text where the problem starts.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template error at byte {}: {}",
            self.position, self.message
        )
    }
}

/// Details of [`Error::SessionState`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// // On a Database with multiplexing on:
/// match db.execute("SET statement_timeout = '5s'", &[]).await {
///     Err(pgdbm::Error::SessionState(e)) => eprintln!("{} refused: {}", e.statement, e.advice),
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SessionStateError {
    /// The statement's keyword, as written (`SET`, `BEGIN`, `CREATE TEMP`).
    pub statement: String,
    /// Where to run it instead.
    pub advice: &'static str,
}

impl fmt::Display for SessionStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} changes session state, but statements on a multiplexed Database share connections with other callers; {}",
            self.statement, self.advice
        )
    }
}

/// Details of [`Error::UnqualifiedTable`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use pgdbm::sea_query::Query;
/// let app = db.with_schema("app")?;
/// let stmt = Query::delete().from_table("users").to_owned(); // not app.table_ref::<User>()
/// match app.run(&stmt).await {
///     Err(pgdbm::Error::UnqualifiedTable(e)) => assert_eq!((e.table.as_str(), e.schema.as_str()), ("users", "app")),
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct UnqualifiedTableError {
    /// The table named without the schema.
    pub table: String,
    /// The manager's schema it should have carried.
    pub schema: String,
}

impl fmt::Display for UnqualifiedTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the statement names table {:?} without the schema {:?}; nothing was sent (use db.table_ref::<T>() for table references)",
            self.table, self.schema
        )
    }
}

/// Details of [`Error::RowMapping`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// match db.fetch_value::<String>("SELECT count(*) AS n FROM {{tables.users}}", &[]).await {
///     Err(pgdbm::Error::RowMapping(e)) => {
///         assert_eq!((e.column.as_str(), e.expected.as_str()), ("n", "String"));
///         eprintln!("{}", e.found); // "SQL type int8"
///     }
///     Err(e) => return Err(e),
///     Ok(_) => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RowMappingError {
    /// The column, by name (or index when it has none).
    pub column: String,
    /// The Rust type that was asked for, as written in code (`Option<String>`,
    /// not `core::option::Option<alloc::string::String>`).
    pub expected: String,
    /// The SQL type found, or what else was found (`NULL`, no such column).
    pub found: String,
}

impl fmt::Display for RowMappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read column {:?} as {}: found {}",
            self.column, self.expected, self.found
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16, database: &str) -> ConnectTarget {
        ConnectTarget {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            socket: false,
        }
    }

    #[test]
    fn result_stays_small() {
        // Three words: `Box<str>` (the SQL of NotFound, TooManyRows,
        // RolledBack) is two, plus the tag.
        assert!(std::mem::size_of::<Result<()>>() <= 24);
    }

    #[test]
    fn a_target_is_read_from_the_driver_config() {
        let mut pg = tokio_postgres::Config::new();
        pg.host("db.internal").port(6543).dbname("shop").user("app");
        assert_eq!(ConnectTarget::of(&pg), tcp("db.internal", 6543, "shop"));

        // The driver's defaults: port 5432 and a database named like the user.
        let mut pg = tokio_postgres::Config::new();
        pg.host("10.0.0.7").user("app");
        assert_eq!(ConnectTarget::of(&pg), tcp("10.0.0.7", 5432, "app"));
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_target_is_named_as_psql_names_it() {
        let mut pg = tokio_postgres::Config::new();
        pg.host_path("/run/postgresql").port(5433).dbname("app");
        assert_eq!(
            ConnectTarget::of(&pg).to_string(),
            r#"socket "/run/postgresql/.s.PGSQL.5433" (database "app")"#
        );
    }

    #[test]
    fn a_connect_error_says_where_and_how_often() {
        let target = tcp("127.0.0.1", 5433, "app");
        let err = Error::connect_failed(&target, "timed out opening a connection");
        assert_eq!(
            err.to_string(),
            r#"could not connect to 127.0.0.1:5433 (database "app") after 1 attempt: timed out opening a connection"#
        );
        let err = err.with_attempts(4);
        assert!(
            err.to_string().starts_with(
                r#"could not connect to 127.0.0.1:5433 (database "app") after 4 attempts: "#
            ),
            "{err}"
        );
        let Error::Connect(e) = &err else {
            panic!("expected Error::Connect, got {err:?}");
        };
        assert_eq!(
            (e.host(), e.port(), e.database(), e.attempts()),
            ("127.0.0.1", 5433, "app", 4)
        );
        assert!(err.is_retryable());

        let v6 = Error::connect_failed(&tcp("::1", 5432, "app"), "refused");
        assert!(v6.to_string().contains("[::1]:5432"), "{v6}");
    }

    #[test]
    fn attempts_are_recorded_only_on_connect_errors() {
        let err = Error::PoolClosed.with_attempts(3);
        assert!(matches!(err, Error::PoolClosed), "{err:?}");
    }

    #[test]
    fn refused_credentials_and_unknown_databases_are_final() {
        for (code, auth) in [
            (SqlState::INVALID_PASSWORD, true),
            (SqlState::INVALID_AUTHORIZATION_SPECIFICATION, true),
            (SqlState::INVALID_CATALOG_NAME, false),
        ] {
            let mut db = DatabaseError::synthetic(code, "refused");
            db.target = Some(tcp("127.0.0.1", 5432, "app"));
            let err = Error::classify(Box::new(db));
            if auth {
                assert!(matches!(err, Error::Authentication(_)), "{err:?}");
            } else {
                assert!(matches!(err, Error::UnknownDatabase(_)), "{err:?}");
            }
            assert!(!err.is_retryable(), "{err:?}");
            assert!(
                err.to_string()
                    .ends_with(r#"; connecting to 127.0.0.1:5432 (database "app")"#),
                "{err}"
            );
        }
    }

    #[test]
    fn a_commit_that_rolled_back_is_final_and_names_its_sql() {
        let err = Error::rolled_back("COMMIT");
        assert_eq!(
            err.to_string(),
            "COMMIT did not commit: the transaction had failed and was rolled back"
        );
        assert_eq!(err.sql(), Some("COMMIT"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn the_parameter_index_is_read_from_the_drivers_message() {
        assert_eq!(parameter_index("error serializing parameter 3"), Some(3));
        assert_eq!(parameter_index("error serializing parameter x"), None);
        assert_eq!(parameter_index("error connecting to server"), None);
    }

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("core::option::Option<alloc::vec::Vec<(i32, alloc::string::String)>>"),
            "Option<Vec<(i32, String)>>"
        );
        assert_eq!(short_type_name("&str"), "&str");
    }

    #[test]
    fn retryable_classes() {
        assert!(is_connection_class("08006"));
        assert!(is_connection_class("57P01"));
        assert!(!is_connection_class("23505"));
    }
}
