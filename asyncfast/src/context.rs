//! [`MessageContext`]: what extractors read a message from.

use std::any::{Any, TypeId};
use std::ops::Range;
use std::sync::Arc;

use amgi_core::{Binding, Headers, MessageId, MessageReceive, SharedSender};
use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::extract::{FromMessage, ParamSpec};
use crate::handler::ChannelMeta;
use crate::router::Template;
use crate::sender::MessageSender;

/// A value prepared once per batch for one parameter (see [`FromMessage::prepare`]).
pub type Prepared = Arc<dyn Any + Send + Sync>;

/// What every message of one batch shares: computed once per batch, borrowed by each message.
pub(crate) struct BatchContext<'a> {
    pub(crate) address: &'a Arc<str>,
    pub(crate) template: &'a Template,
    pub(crate) captures: &'a [Range<usize>],
    pub(crate) state: &'a amgi_core::StateMap,
    pub(crate) sender: &'a SharedSender,
    pub(crate) prepared: &'a [Option<Prepared>],
    pub(crate) ordered: bool,
    pub(crate) meta: &'static ChannelMeta,
}

type Cleanup = fn(Prepared, bool) -> BoxFuture<'static, ()>;

struct CacheEntry {
    type_id: TypeId,
    value: Prepared,
    cleanup: Cleanup,
}

/// One message being handled, as extractors see it.
///
/// Extractors receive `&mut MessageContext` in [`FromMessage::from_message`]; a dependency (an
/// extractor of your own) can read the message through the accessors below or run other
/// extractors with [`MessageContext::extract`].
///
/// ```
/// use asyncfast::extract::{FromMessage, ParamSpec};
/// use asyncfast::MessageContext;
///
/// /// The tenant a message belongs to, from the `tenant` header (or `"public"`).
/// struct Tenant(String);
///
/// impl FromMessage for Tenant {
///     type Rejection = std::convert::Infallible;
///
///     async fn from_message(
///         ctx: &mut MessageContext<'_>,
///         _spec: &'static ParamSpec,
///     ) -> Result<Self, Self::Rejection> {
///         let tenant = ctx.header("tenant").and_then(|v| std::str::from_utf8(v).ok());
///         Ok(Tenant(tenant.unwrap_or("public").to_owned()))
///     }
/// }
/// ```
pub struct MessageContext<'a> {
    message: &'a MessageReceive,
    batch: &'a BatchContext<'a>,
    cache: Vec<CacheEntry>,
}

impl<'a> MessageContext<'a> {
    pub(crate) fn new(batch: &'a BatchContext<'a>, message: &'a MessageReceive) -> Self {
        Self {
            message,
            batch,
            cache: Vec::new(),
        }
    }

    /// The message id, as the server gave it.
    pub fn id(&self) -> MessageId {
        self.message.id
    }

    /// The address the message arrived on.
    pub fn address(&self) -> &str {
        self.batch.address
    }

    /// The name of the handler handling the message.
    pub fn handler_name(&self) -> &'static str {
        self.batch.meta.name()
    }

    /// The channel the message was routed to.
    pub fn channel(&self) -> &'static ChannelMeta {
        self.batch.meta
    }

    /// All headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.message.headers
    }

    /// The first header called `name` (case-sensitive).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.message.headers.get(name.as_bytes())
    }

    /// The payload, if the message has one.
    pub fn payload(&self) -> Option<&Bytes> {
        self.message.payload.as_ref()
    }

    /// The protocol binding, if the server provided one.
    pub fn binding(&self) -> Option<&Binding> {
        self.message.binding.as_ref()
    }

    /// The value of address placeholder `name` (`{name}` in the channel's template).
    pub fn param(&self, name: &str) -> Option<&str> {
        let index = self.batch.template.placeholder_index(name)?;
        self.param_at(index)
    }

    /// The value of the placeholder at `index` (0-based, in template order).
    pub fn param_at(&self, index: usize) -> Option<&str> {
        self.batch
            .captures
            .get(index)
            .map(|range| &self.batch.address[range.clone()])
    }

    /// Whether the batch is handled in order (one message at a time).
    pub fn ordered(&self) -> bool {
        self.batch.ordered
    }

    /// The state shared with lifespan startup.
    ///
    /// Looking a value up takes a read lock; handlers should prefer the
    /// [`State`](crate::extract::State) extractor, which looks its value up once per batch.
    pub fn state(&self) -> &amgi_core::StateMap {
        self.batch.state
    }

    /// A sender for publishing from inside an extractor.
    pub fn sender(&self) -> MessageSender {
        MessageSender::new(Arc::clone(self.batch.sender))
    }

    /// The value [`FromMessage::prepare`] returned for `spec` in this batch, if any.
    pub fn prepared(&self, spec: &ParamSpec) -> Option<&Prepared> {
        self.batch.prepared.get(spec.index())?.as_ref()
    }

    /// Runs extractor `T` with `spec`, as a handler parameter described by `spec` would.
    pub async fn extract<T: FromMessage>(
        &mut self,
        spec: &'static ParamSpec,
    ) -> Result<T, T::Rejection> {
        T::from_message(self, spec).await
    }

    pub(crate) fn cached<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let id = TypeId::of::<T>();
        let entry = self.cache.iter().find(|e| e.type_id == id)?;
        Arc::clone(&entry.value).downcast::<T>().ok()
    }

    pub(crate) fn cache<T: Send + Sync + 'static>(&mut self, value: Arc<T>, cleanup: Cleanup) {
        self.cache.push(CacheEntry {
            type_id: TypeId::of::<T>(),
            value,
            cleanup,
        });
    }

    pub(crate) fn has_dependencies(&self) -> bool {
        !self.cache.is_empty()
    }

    /// Runs the cleanup hooks of cached dependencies, last resolved first.
    pub(crate) async fn cleanup(&mut self, succeeded: bool) {
        while let Some(entry) = self.cache.pop() {
            (entry.cleanup)(entry.value, succeeded).await;
        }
    }
}

impl std::fmt::Debug for MessageContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageContext")
            .field("id", &self.message.id)
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}
