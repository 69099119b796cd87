//! What a server crate implements so the conformance suite can drive it.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::{Binding, Bindings, BoxApplication, MessageSend};

/// An error from the server under test.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A boxed future, as harness methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a server does with a message that was nacked (or left unanswered).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NackPolicy {
    /// How many times a message is delivered at most before the server gives up on it.
    pub max_deliveries: u32,
    /// Where a message goes when the server gives up, given the address it came from; `None`
    /// when the server drops it after logging (the suite then checks only the redeliveries).
    pub dead_letter_address: Option<fn(&str) -> String>,
}

impl NackPolicy {
    /// Redeliver up to `max_deliveries` times, then dead-letter to
    /// [`dead_letter::default_address`](crate::dead_letter::default_address).
    pub fn redeliver_then_dead_letter(max_deliveries: u32) -> Self {
        Self {
            max_deliveries,
            dead_letter_address: Some(crate::dead_letter::default_address),
        }
    }
}

/// A server started by [`Harness::start`].
pub trait RunningServer: Send {
    /// Graceful shutdown: stop taking batches, let in-flight batches finish, run lifespan
    /// shutdown, and resolve when the server has stopped.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>>;
}

/// The bridge between the conformance suite and one server implementation.
///
/// Implement it in the server crate's tests and call
/// [`run_all`](crate::conformance::run_all) (or the single checks) from a `#[tokio::test]`.
pub trait Harness: Send + Sync {
    /// A fresh address for one check, unique within the test run, ready to be consumed and
    /// published to (create the topic or queue here if the broker needs it). `purpose` is a
    /// short word such as `"ack"` to make failures readable.
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>>;

    /// Starts a server running `app` that consumes `addresses` (and, when the nack policy has
    /// one, nothing else). Resolves once lifespan startup completed and the server consumes, or
    /// with an error that includes the application's message when startup failed.
    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>>;

    /// Publishes `message` from outside the application, as another producer would.
    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>>;

    /// What the server does with nacked messages.
    fn nack_policy(&self) -> NackPolicy;

    /// The binding to put on a `message.send` in the round-trip check.
    fn round_trip_binding(&self) -> Option<Binding> {
        None
    }

    /// Checks the binding a round-tripped message arrived with against the bindings it was sent
    /// with. The default accepts anything.
    fn check_round_trip_binding(
        &self,
        sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        let _ = (sent, received);
        Ok(())
    }

    /// How long any one wait may take before the check fails (default 15 s).
    fn timeout(&self) -> Duration {
        Duration::from_secs(15)
    }
}
