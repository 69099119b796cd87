//! Scopes: what an application is told about each call.

use std::sync::Arc;

use crate::{AmgiInfo, Extensions, StateMap};

/// The scope of one application call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Scope {
    /// A batch of messages from one address (`scope["type"] == "message"`).
    Message(MessageScope),
    /// The server's lifetime (`scope["type"] == "lifespan"`).
    Lifespan(LifespanScope),
}

impl Scope {
    /// The scope type as the specification spells it: `"message"` or `"lifespan"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Lifespan(_) => "lifespan",
        }
    }
}

/// The scope of one batch of messages.
///
/// A server calls the application once per batch; every message of the batch comes from
/// [`MessageScope::address`]. When [`MessageScope::ordered`] is `true` (one Kafka partition, one
/// SQS FIFO group) the application must finish handling each message before it starts the next.
///
/// ```
/// use amgi_core::MessageScope;
///
/// let scope = MessageScope::new("user.created");
/// assert_eq!(&*scope.address, "user.created");
/// assert!(!scope.ordered);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct MessageScope {
    /// Address of every message in the batch, for example the Kafka topic.
    pub address: Arc<str>,
    /// Versions of the specification the server speaks.
    pub amgi: AmgiInfo,
    /// Whether the batch must be handled in order.
    pub ordered: bool,
    /// State shared with the lifespan scope.
    pub state: StateMap,
    /// Server-specific extras.
    pub extensions: Extensions,
}

impl MessageScope {
    /// A scope for `address` with default versions, unordered, empty state and extensions.
    pub fn new(address: impl Into<Arc<str>>) -> Self {
        Self {
            address: address.into(),
            amgi: AmgiInfo::default(),
            ordered: false,
            state: StateMap::new(),
            extensions: Extensions::new(),
        }
    }

    /// Marks the batch as ordered (or not).
    #[must_use]
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Uses `state` as the shared state.
    #[must_use]
    pub fn with_state(mut self, state: StateMap) -> Self {
        self.state = state;
        self
    }

    /// Uses `extensions`.
    #[must_use]
    pub fn with_extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// Adds one extension, such as
    /// [`NackRetrySupport`](crate::extension::NackRetrySupport).
    #[must_use]
    pub fn with_extension<T: Send + Sync + 'static>(mut self, extension: T) -> Self {
        self.extensions.insert(extension);
        self
    }
}

/// The scope of the lifespan call, which lasts as long as the server runs.
///
/// ```
/// use amgi_core::{LifespanScope, StateMap};
///
/// let state = StateMap::new();
/// let scope = LifespanScope::new(state.clone());
/// scope.state.insert(1_u8);
/// assert!(state.contains::<u8>());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct LifespanScope {
    /// Versions of the specification the server speaks.
    pub amgi: AmgiInfo,
    /// State the application may fill during startup; every message scope shares it.
    pub state: StateMap,
    /// Server-specific extras, such as the server's
    /// [`ServerPublisher`](crate::extension::ServerPublisher).
    pub extensions: Extensions,
}

impl LifespanScope {
    /// A lifespan scope sharing `state`, with no extensions.
    pub fn new(state: StateMap) -> Self {
        Self {
            amgi: AmgiInfo::default(),
            state,
            extensions: Extensions::new(),
        }
    }

    /// Adds one extension.
    #[must_use]
    pub fn with_extension<T: Send + Sync + 'static>(mut self, extension: T) -> Self {
        self.extensions.insert(extension);
        self
    }
}
