//! Extensions of the specification that a server may support, advertised in
//! [`MessageScope::extensions`](crate::MessageScope::extensions) by a marker type.
//!
//! An application checks for the marker before relying on the extension; a server that does not
//! insert it ignores the extension's fields (for `nack.retry`: every nack is retried as the
//! server's policy says).
//!
//! ```
//! use amgi_core::MessageScope;
//! use amgi_core::extension::NackRetrySupport;
//!
//! let scope = MessageScope::new("orders").with_extension(NackRetrySupport);
//! assert!(scope.extensions.get::<NackRetrySupport>().is_some());
//! ```

/// `nack.retry`: the server honours [`MessageNack::retry`](crate::MessageNack::retry) — it
/// dead-letters a [`NackRetry::Never`](crate::NackRetry::Never) nack at once and redelivers a
/// [`NackRetry::After`](crate::NackRetry::After) nack after the given delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NackRetrySupport;

/// `lifespan.publisher`: in the [lifespan scope](crate::LifespanScope)'s extensions, where the
/// application may publish outside any batch (from an HTTP handler, a startup hook, a background
/// task) for as long as the server runs. Messages go where `message.send` would send them.
#[derive(Clone)]
pub struct ServerPublisher(pub std::sync::Arc<dyn crate::batch::Publisher>);

impl std::fmt::Debug for ServerPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerPublisher")
    }
}
