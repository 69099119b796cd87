//! [`ServeError`]: why a server could not serve, as a kind plus the server's own error.

use std::fmt;

/// What kind of failure stopped a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeErrorKind {
    /// The configuration or the command line is wrong (the message names the option to fix).
    Config,
    /// The broker could not be reached.
    Unreachable,
    /// The application's lifespan startup failed.
    Startup,
    /// The server failed while running.
    Server,
    /// Shutting down failed (lifespan shutdown, a deadline passed).
    Shutdown,
}

impl fmt::Display for ServeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "configuration error",
            Self::Unreachable => "broker unreachable",
            Self::Startup => "startup failed",
            Self::Server => "server failed",
            Self::Shutdown => "shutdown failed",
        })
    }
}

/// Why a server could not serve: a [kind](ServeErrorKind) to match on, and the server's own
/// error inside, reached with [`get_ref`](Self::get_ref) (to downcast it). It is transparent:
/// its message is the server error's message and its [`source`](std::error::Error::source) is
/// the server error's source, so that a chain of causes prints each message once.
///
/// ```
/// use amgi_server::{ServeError, ServeErrorKind};
///
/// let error = ServeError::config("--batch-size must be at least 1");
/// assert_eq!(error.kind(), ServeErrorKind::Config);
/// assert_eq!(error.to_string(), "--batch-size must be at least 1");
/// ```
#[derive(Debug)]
pub struct ServeError {
    kind: ServeErrorKind,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl ServeError {
    /// An error of `kind` caused by `source` (the server's own error type).
    pub fn new(
        kind: ServeErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: source.into(),
        }
    }

    /// A configuration error with `message`.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ServeErrorKind::Config, message.into())
    }

    /// The kind.
    pub fn kind(&self) -> ServeErrorKind {
        self.kind
    }

    /// The server's own error, to downcast to it.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}
