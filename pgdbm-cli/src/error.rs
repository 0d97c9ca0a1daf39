//! The CLI's error: a message, whether it is a usage error (exit 2) or a
//! failure (exit 1), and the error that caused it, whose chain is printed.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, for the user: printed on stderr with its cause chain.
#[derive(Debug)]
pub struct CliError {
    message: String,
    usage: bool,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// The result of a command.
pub type Result<T> = std::result::Result<T, CliError>;

impl CliError {
    /// A failure: exit code 1.
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            usage: false,
            source: None,
        }
    }

    /// A command line that cannot work whatever the server says: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            usage: true,
            ..CliError::failure(message)
        }
    }

    /// Attaches the error that caused this one.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        if self.usage { 2 } else { 1 }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CliError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Wraps a library error with what the CLI was doing when it happened.
pub trait Context<T> {
    /// On error, a failure saying `what`, caused by the original error.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: StdError + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| CliError::failure(what()).with_source(e))
    }
}
