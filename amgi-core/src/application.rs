//! The [`Application`] trait and its boxed form.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{ApplicationError, Receiver, Scope, SharedSender};

/// An AMGI application: called once per batch of messages, and once for the lifespan.
///
/// Calls take `&self` and may run concurrently for different batches. The application receives
/// events from `receive` and answers through `send`; in a message scope it must ack or nack every
/// message it receives. Messages left unanswered when the call returns are treated as nacked
/// ("not acknowledged"). An application that does not handle a scope type returns
/// [`ApplicationError::unsupported_scope`].
///
/// A minimal application that acks every message:
///
/// ```
/// use amgi_core::{Application, ApplicationError, Receiver, ReceiveEvent, Scope, SendEvent, SharedSender};
///
/// struct AckAll;
///
/// impl Application for AckAll {
///     async fn call(
///         &self,
///         scope: Scope,
///         receive: &mut dyn Receiver,
///         send: SharedSender,
///     ) -> Result<(), ApplicationError> {
///         let Scope::Message(_) = scope else {
///             return Err(ApplicationError::unsupported_scope(scope.kind()));
///         };
///         loop {
///             let ReceiveEvent::Message(message) = receive.receive().await? else {
///                 continue;
///             };
///             send.send(SendEvent::ack(message.id)).await?;
///             if !message.more_messages {
///                 return Ok(());
///             }
///         }
///     }
/// }
/// ```
pub trait Application: Send + Sync + 'static {
    /// Handles one scope.
    fn call<'a>(
        &'a self,
        scope: Scope,
        receive: &'a mut dyn Receiver,
        send: SharedSender,
    ) -> impl Future<Output = Result<(), ApplicationError>> + Send + 'a;
}

/// A boxed future returned by [`DynApplication::call_boxed`].
pub type BoxApplicationFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), ApplicationError>> + Send + 'a>>;

/// The object-safe form of [`Application`], implemented for every application.
pub trait DynApplication: Send + Sync + 'static {
    /// Same as [`Application::call`], with the future boxed.
    fn call_boxed<'a>(
        &'a self,
        scope: Scope,
        receive: &'a mut dyn Receiver,
        send: SharedSender,
    ) -> BoxApplicationFuture<'a>;
}

impl<A: Application> DynApplication for A {
    fn call_boxed<'a>(
        &'a self,
        scope: Scope,
        receive: &'a mut dyn Receiver,
        send: SharedSender,
    ) -> BoxApplicationFuture<'a> {
        Box::pin(self.call(scope, receive, send))
    }
}

/// Any application behind a pointer, for servers and tools that take `dyn` applications.
///
/// It costs one allocation per call (the boxed future).
///
/// ```
/// # use amgi_core::{Application, ApplicationError, Receiver, Scope, SharedSender};
/// # struct Nothing;
/// # impl Application for Nothing {
/// #     async fn call(&self, scope: Scope, _: &mut dyn Receiver, _: SharedSender) -> Result<(), ApplicationError> {
/// #         Err(ApplicationError::unsupported_scope(scope.kind()))
/// #     }
/// # }
/// use amgi_core::BoxApplication;
/// let app: BoxApplication = BoxApplication::new(Nothing);
/// let again = app.clone();
/// ```
#[derive(Clone)]
pub struct BoxApplication {
    inner: Arc<dyn DynApplication>,
}

impl BoxApplication {
    /// Boxes `app`.
    pub fn new(app: impl Application) -> Self {
        Self {
            inner: Arc::new(app),
        }
    }

    /// Wraps an already shared application.
    pub fn from_arc(app: Arc<dyn DynApplication>) -> Self {
        Self { inner: app }
    }
}

impl std::fmt::Debug for BoxApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxApplication")
    }
}

impl Application for BoxApplication {
    fn call<'a>(
        &'a self,
        scope: Scope,
        receive: &'a mut dyn Receiver,
        send: SharedSender,
    ) -> impl Future<Output = Result<(), ApplicationError>> + Send + 'a {
        self.inner.call_boxed(scope, receive, send)
    }
}

impl<T: Application> Application for Arc<T> {
    fn call<'a>(
        &'a self,
        scope: Scope,
        receive: &'a mut dyn Receiver,
        send: SharedSender,
    ) -> impl Future<Output = Result<(), ApplicationError>> + Send + 'a {
        (**self).call(scope, receive, send)
    }
}
