//! The details of the migration variants of [`Error`](crate::Error).

use std::fmt;
use std::time::Duration;

use crate::Error;

/// Details of [`Error::MigrationSource`]: a migration file that cannot be
/// used (its name, its content, or reading it).
///
/// ```
/// match pgdbm::Migrator::from_files([("users.sql", "CREATE TABLE u ();")]) {
///     Err(pgdbm::Error::MigrationSource(e)) => assert_eq!(e.file, "users.sql"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct MigrationSourceError {
    /// The file (or directory) at fault.
    pub file: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for MigrationSourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "migration {}: {}", self.file, self.message)
    }
}

/// Details of [`Error::Migration`]: a statement of a migration failed. The
/// migration left nothing behind (unless it runs outside a transaction);
/// those applied before it in the same run stay applied.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database, migrator: pgdbm::Migrator) -> pgdbm::Result<()> {
/// match db.migrate(&migrator).await {
///     Err(pgdbm::Error::Migration(e)) => {
///         eprintln!("{} failed at line {}: {}", e.file, e.line, e.error);
///     }
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MigrationError {
    /// The migration file.
    pub file: String,
    /// Which statement of the file failed, counting from 1.
    pub statement: usize,
    /// The line of the file where the failing statement starts, or where
    /// the server located the error within it.
    pub line: usize,
    /// Why it failed: the database error, or a template that did not expand.
    pub error: Error,
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} failed at statement {} (line {}): {}",
            self.file, self.statement, self.line, self.error
        )
    }
}

impl std::error::Error for MigrationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Details of [`Error::MigrationChecksum`]: an applied migration's file has
/// changed since it ran. Nothing was applied; restore the file, or add a
/// new migration for the change.
#[derive(Debug, Clone)]
pub struct ChecksumError {
    /// The migration file.
    pub file: String,
    /// The module the migration belongs to.
    pub module: String,
    /// The checksum recorded when it was applied.
    pub applied: String,
    /// The checksum of the file now.
    pub current: String,
}

impl fmt::Display for ChecksumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} of module {} changed after it was applied (checksum {} then, {} now)",
            self.file, self.module, self.applied, self.current
        )
    }
}

/// Details of [`Error::MigrationLock`]: another migrator held the lock of
/// this schema and module for longer than the migrator's lock timeout.
#[derive(Debug, Clone)]
pub struct MigrationLockError {
    /// The schema being migrated (`None`: no schema).
    pub schema: Option<String>,
    /// The module being migrated.
    pub module: String,
    /// How long this migrator waited.
    pub waited: Duration,
}

impl fmt::Display for MigrationLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "another migrator held the migration lock of module {} in schema {} for more than {:?}",
            self.module,
            self.schema.as_deref().unwrap_or("(none)"),
            self.waited
        )
    }
}
