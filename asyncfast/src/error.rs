//! The framework's errors: building, starting and running an application.

use crate::extract::{BoxError, PrepareError};
use crate::router::RouteError;

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A handler that cannot run because a parameter's [`prepare`](crate::extract::FromMessage::prepare)
/// failed (typically missing state).
#[derive(Debug, thiserror::Error)]
#[error("handler `{handler}` cannot run: {source}")]
#[non_exhaustive]
pub struct HandlerNotReady {
    /// The handler's name.
    pub handler: &'static str,
    /// Why.
    pub source: PrepareError,
}

/// Why lifespan startup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The routes are invalid.
    #[error("invalid channels: {}", join(.0))]
    Routes(Vec<RouteError>),
    /// A startup hook failed.
    #[error("startup hook failed: {0}")]
    Hook(BoxError),
    /// Handlers that cannot run.
    #[error("{}", join(.0))]
    Handlers(Vec<HandlerNotReady>),
}

/// An error of [`AsyncFast::run`](crate::AsyncFast::run) or
/// [`AsyncFast::validate`](crate::AsyncFast::validate).
///
/// Its `Debug` form is its message, so that `main() -> Result<(), asyncfast::Error>` ends with a
/// readable line (`Error: application startup failed: …`) rather than a struct dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Channels with malformed or overlapping addresses.
    #[error("invalid channels: {}", join(.0))]
    Routes(Vec<RouteError>),
    /// The application failed to start.
    #[error(transparent)]
    Lifespan(#[from] amgi_core::LifespanError),
    /// The server failed: its configuration (the message names the option to fix), its broker,
    /// the application's startup, or shutdown. [`kind()`](amgi_server::ServeError::kind) says
    /// which; [`get_ref()`](amgi_server::ServeError::get_ref) is the server's own error (downcast
    /// it, for example to `amgi_kafka::Error`), whose message this error shows.
    #[error(transparent)]
    Server(#[from] amgi_server::ServeError),
    /// `run NAME` names a server this binary does not have (the message says which cargo
    /// feature adds it).
    #[error("{0}")]
    UnknownServer(String),
    /// The command line could not be parsed.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// Writing the AsyncAPI document failed.
    #[error("cannot write the AsyncAPI document: {0}")]
    Io(#[from] std::io::Error),
    /// Serializing the AsyncAPI document failed.
    #[error("cannot serialize the AsyncAPI document: {0}")]
    Json(#[from] serde_json::Error),
    /// The `asyncapi` command failed: writing or reading a document, or breaking changes found
    /// by `--check`.
    #[error(transparent)]
    AsyncApi(#[from] crate::asyncapi::AsyncApiError),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    /// Whether the error comes from the application's definition (fix the code) rather than
    /// from running it.
    pub fn is_definition_error(&self) -> bool {
        matches!(self, Self::Routes(_))
    }
}

impl From<BoxError> for StartupError {
    fn from(error: BoxError) -> Self {
        Self::Hook(error)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_is_the_message_for_main() {
        let error = super::Error::from(amgi_core::LifespanError::StartupFailed {
            message: "no database".into(),
        });
        assert_eq!(
            format!("{error:?}"),
            "application startup failed: no database"
        );
    }
}
