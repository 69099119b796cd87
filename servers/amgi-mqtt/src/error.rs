//! [`MqttError`]: why the MQTT server could not start, serve or stop.

use std::fmt;

use amgi_server::{ServeError, ServeErrorKind};

/// What went wrong, to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MqttErrorKind {
    /// The configuration is wrong (the message says what to change).
    Config,
    /// The broker could not be reached or refused the connection.
    Unreachable,
    /// The broker refused a subscription.
    Subscribe,
    /// The application's lifespan startup failed.
    Startup,
    /// The application's lifespan shutdown failed.
    Shutdown,
}

impl fmt::Display for MqttErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "configuration error",
            Self::Unreachable => "broker unreachable",
            Self::Subscribe => "subscription refused",
            Self::Startup => "startup failed",
            Self::Shutdown => "shutdown failed",
        })
    }
}

/// An error of the MQTT server: a [kind](MqttErrorKind), a message, and the cause.
///
/// ```
/// use amgi_mqtt::{MqttError, MqttErrorKind};
///
/// let error = MqttError::config("--port must be a number");
/// assert_eq!(error.kind(), MqttErrorKind::Config);
/// assert!(!error.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MqttError {
    kind: MqttErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl MqttError {
    /// An error of `kind` with `message` and an optional cause.
    pub fn new(
        kind: MqttErrorKind,
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source,
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(MqttErrorKind::Config, message, None)
    }

    /// The kind.
    pub fn kind(&self) -> MqttErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed (the broker was down).
    pub fn is_retryable(&self) -> bool {
        self.kind == MqttErrorKind::Unreachable
    }
}

impl From<MqttError> for ServeError {
    fn from(error: MqttError) -> Self {
        let kind = match error.kind {
            MqttErrorKind::Config => ServeErrorKind::Config,
            MqttErrorKind::Unreachable => ServeErrorKind::Unreachable,
            MqttErrorKind::Subscribe => ServeErrorKind::Server,
            MqttErrorKind::Startup => ServeErrorKind::Startup,
            MqttErrorKind::Shutdown => ServeErrorKind::Shutdown,
        };
        ServeError::new(kind, error)
    }
}
