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
    /// A new connection could not be opened.
    #[error("could not connect: {0}")]
    Connect(Box<DriverError>),
    /// The connection broke while a call was using it. Retryable: the
    /// statement may or may not have been applied.
    #[error("connection lost: {0}")]
    ConnectionClosed(Box<DriverError>),
    /// A parameter could not be encoded for its placeholder (wrong Rust type
    /// for the server's type, or the wrong number of parameters).
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
    /// A built statement names a table without the manager's schema; it
    /// was not sent.
    #[error("{0}")]
    UnqualifiedTable(Box<UnqualifiedTableError>),
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
    /// failures, deadlocks, lost connections, pool timeouts and server
    /// shutdowns.
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
            other => other.sqlstate().is_some_and(is_connection_class),
        }
    }

    /// The server's error, for every variant that carries one.
    ///
    /// ```
    /// assert!(pgdbm::Error::PoolClosed.database_error().is_none());
    /// ```
    pub fn database_error(&self) -> Option<&DatabaseError> {
        match self {
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
            | Error::Database(e) => Some(e),
            _ => None,
        }
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
            Error::NotFound(sql) | Error::TooManyRows(sql) => Some(sql),
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

    pub(crate) fn row_mapping(
        column: impl Into<String>,
        expected: &'static str,
        found: impl Into<String>,
    ) -> Self {
        Error::RowMapping(Box::new(RowMappingError {
            column: column.into(),
            expected,
            found: found.into(),
        }))
    }

    /// Maps an error that happened while opening a connection.
    pub(crate) fn connect(err: tokio_postgres::Error) -> Self {
        if err.as_db_error().is_some() {
            Self::from_driver(err, None)
        } else {
            Error::Connect(Box::new(DriverError::new(err, None)))
        }
    }

    /// Maps a driver error, attaching the SQL that was running.
    pub(crate) fn from_driver(err: tokio_postgres::Error, sql: Option<&str>) -> Self {
        let Some(db) = err.as_db_error() else {
            let closed = err.is_closed();
            let driver = Box::new(DriverError::new(err, sql));
            return if closed {
                Error::ConnectionClosed(driver)
            } else if driver.message.starts_with("error serializing parameter")
                || driver.message.contains("parameters but")
            {
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
        let e = Box::new(DatabaseError {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            schema: db.schema().map(str::to_owned),
            table: db.table().map(str::to_owned),
            column: db.column().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            context: db.where_().map(str::to_owned),
            sql: sql.map(str::to_owned),
        });
        let code = db.code();
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
        } else {
            Error::Database(e)
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
    sql: Option<String>,
}

impl DatabaseError {
    /// The server's CONTEXT line (for a failed COPY, the line that failed:
    /// `COPY t, line 701`).
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }
    /// The SQLSTATE code, for example `"23505"`.
    pub fn code(&self) -> &str {
        &self.code
    }
    /// The server's primary message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The server's DETAIL line.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
    /// The server's HINT line.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// The schema of the object the error is about.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
    /// The table the error is about.
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
    /// The column the error is about.
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }
    /// The constraint that was violated.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    /// The SQL that was sent (templates already expanded).
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
        Ok(())
    }
}

/// A client-side error of the driver (I/O, protocol, parameter encoding).
#[derive(Debug)]
pub struct DriverError {
    message: String,
    sql: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DriverError {
    fn new(err: tokio_postgres::Error, sql: Option<&str>) -> Self {
        DriverError {
            message: with_causes(&err),
            sql: sql.map(str::to_owned),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn message_only(message: impl Into<String>) -> Self {
        DriverError {
            message: message.into(),
            sql: None,
            source: None,
        }
    }

    /// What went wrong, with the driver's causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The SQL that was running, if any.
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

/// Details of [`Error::Timeout`].
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

/// Details of [`Error::InvalidIdentifier`].
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
#[derive(Debug, Clone)]
pub struct RowMappingError {
    /// The column, by name (or index when it has none).
    pub column: String,
    /// The Rust type that was asked for.
    pub expected: &'static str,
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

    #[test]
    fn result_stays_small() {
        assert!(std::mem::size_of::<Result<()>>() <= 24);
    }

    #[test]
    fn retryable_classes() {
        assert!(is_connection_class("08006"));
        assert!(is_connection_class("57P01"));
        assert!(!is_connection_class("23505"));
    }
}
