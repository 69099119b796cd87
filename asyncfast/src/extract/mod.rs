//! Extractors: the typed parameters of a handler.
//!
//! Every handler parameter implements [`FromMessage`]. The framework ships the extractors
//! below; any type of yours that implements the trait is an extractor too (a *dependency*), and
//! [`Dep<T>`] shares one value per message between all parameters and dependencies that ask for
//! it.
//!
//! | extractor | reads |
//! | --- | --- |
//! | [`Payload<T>`] | the payload, JSON-decoded (raw for `Bytes` and `String`) |
//! | [`Header<T>`] | one header, named after the parameter |
//! | [`Param<T>`] | one `{placeholder}` of the channel address |
//! | [`State<T>`] | shared application state |
//! | [`MessageSender`](crate::MessageSender) | a handle for publishing messages |
//! | [`KafkaKey`], [`MqttQos`], [`SqsMessageGroupId`], … | protocol bindings |
//! | [`Dep<T>`] | any extractor, computed once per message |
//!
//! Each extractor also documents itself: [`FromMessage::document`] writes its part of the
//! AsyncAPI document (a header, the payload, a channel parameter, a binding) into an
//! [`OperationDoc`]; the document of a handler is the fold of its parameters' contributions.

use std::error::Error as StdError;
use std::future::Future;

use crate::asyncapi::OperationDoc;
use crate::context::MessageContext;

mod bindings;
mod dependency;
mod header;
mod message_sender;
mod param;
mod payload;
pub(crate) mod spec;
mod state;

pub use crate::context::Prepared;
pub use bindings::{
    AmqpCorrelationId, AmqpExchange, AmqpMessageId, AmqpPriority, AmqpReplyTo, AmqpRoutingKey,
    BindingRejection, KafkaKey, KafkaOffset, KafkaPartition, MissingBinding, MqttContentType,
    MqttCorrelationData, MqttMessageExpiry, MqttQos, MqttResponseTopic, MqttRetain, MqttTopic,
    NatsReply, NatsSubject, RedisStream, RedisStreamId, SqsMessageDeduplicationId,
    SqsMessageGroupId, SqsMessageId, SqsReceiveCount, SqsSentTimestamp,
};
pub(crate) use bindings::{binding_version, document_message_binding};
pub use dependency::Dep;
pub use header::{
    Header, HeaderRejection, HeaderValue, HeaderValueError, InvalidHeader, MissingHeader,
    parse_header,
};
pub use param::{InvalidParam, MissingParam, Param, ParamRejection};
/// The probe of `Param<T>` value schemas, for `__private`.
pub(crate) mod param_probe {
    pub use super::param::{
        ParamProbe, ParamViaBytes, ParamViaDisplay, ParamViaJsonSchema, ParamViaOther,
    };
}
pub use payload::{InvalidPayload, MissingPayload, Payload, PayloadRejection};
pub use spec::{DefaultFn, DocumentFn, ParamRole, ParamSpec, PrepareFn, SchemaFn};
pub use state::{MissingState, State};

/// A boxed error, as carried by rejections that wrap a parse error.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A handler parameter: a value taken from the message being handled.
///
/// `from_message` runs once per message for each parameter, in parameter order. If it fails,
/// the handler does not run and the message is nacked with the rejection's text, which says what
/// was wrong (which header, which payload field).
///
/// `prepare` runs once per batch (and once at startup, to check the application): extractors that
/// need shared state look it up there, so a missing value fails the application's start instead
/// of its first message.
///
/// ```
/// use asyncfast::extract::{FromMessage, ParamSpec};
/// use asyncfast::MessageContext;
///
/// /// The size of the payload in bytes.
/// struct PayloadSize(usize);
///
/// impl FromMessage for PayloadSize {
///     type Rejection = std::convert::Infallible;
///
///     async fn from_message(
///         ctx: &mut MessageContext<'_>,
///         _spec: &'static ParamSpec,
///     ) -> Result<Self, Self::Rejection> {
///         Ok(PayloadSize(ctx.payload().map_or(0, |p| p.len())))
///     }
/// }
/// ```
///
/// An extractor of your own can document itself too: implement [`document`](Self::document)
/// to add what it reads to the AsyncAPI document (here, a header):
///
/// ```
/// use asyncfast::asyncapi::{HeaderDoc, OperationDoc};
/// use asyncfast::extract::{FromMessage, ParamSpec};
/// use asyncfast::MessageContext;
///
/// /// The tenant of the message, from the `tenant` header.
/// struct Tenant(String);
///
/// impl FromMessage for Tenant {
///     type Rejection = std::convert::Infallible;
///
///     async fn from_message(
///         ctx: &mut MessageContext<'_>,
///         _spec: &'static ParamSpec,
///     ) -> Result<Self, Self::Rejection> {
///         let tenant = ctx.header("tenant").map(|v| String::from_utf8_lossy(v).into_owned());
///         Ok(Tenant(tenant.unwrap_or_default()))
///     }
///
///     fn document(_spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
///         let schema = doc.schema_for::<String>();
///         doc.header(HeaderDoc::new("tenant", schema).required(false).description("The tenant."));
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an AsyncFast extractor",
    label = "this handler parameter cannot be taken from a message",
    note = "every handler parameter must implement `asyncfast::extract::FromMessage`, such as \
            `Payload<T>`, `Header<T>`, `Param<T>`, `State<T>` or `MessageSender`",
    note = "see the list of extractors at https://docs.rs/asyncfast/latest/asyncfast/extract/"
)]
pub trait FromMessage: Sized + Send {
    /// Why extraction failed; its `Display` text becomes the nack reason.
    type Rejection: StdError + Send + Sync + 'static;

    /// What the extractor reads through its parameter's name and `#[header(…)]` options, for the
    /// compile-time checks of `#[channel]` (see [`ParamRole`]). The default,
    /// [`ParamRole::Other`], reads none of them.
    const ROLE: ParamRole = ParamRole::Other;

    /// Extracts the value from the message.
    fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;

    /// Looks up, once per batch, what every message of the batch needs; the result is available
    /// to `from_message` as [`MessageContext::prepared`]. An error here fails application startup
    /// (and nacks the batch if it happens later).
    fn prepare(
        spec: &'static ParamSpec,
        cx: &PrepareContext<'_>,
    ) -> Result<Option<Prepared>, PrepareError> {
        let _ = (spec, cx);
        Ok(None)
    }

    /// Runs after the handler returned and the messages it returned were published, for values
    /// shared through [`Dep`], before the message is acked or nacked. `succeeded` tells the final
    /// outcome: whether the message is going to be acked (a failed publish is a nack). The
    /// default does nothing (the value is then dropped).
    fn cleanup(value: std::sync::Arc<Self>, succeeded: bool) -> impl Future<Output = ()> + Send
    where
        Self: Sync + 'static,
    {
        let _ = succeeded;
        async move { drop(value) }
    }

    /// Writes what this parameter reads into the AsyncAPI document of its handler: a header, the
    /// payload, a channel parameter, a protocol binding. Runs when the document is generated,
    /// never per message. The default documents nothing (state, senders, values computed from
    /// others).
    fn document(spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
        let _ = (spec, doc);
    }
}

/// Where [`FromMessage::prepare`] looks values up.
#[derive(Debug, Clone, Copy)]
pub struct PrepareContext<'a> {
    pub(crate) state: &'a amgi_core::StateMap,
    pub(crate) app_state: &'a amgi_core::StateMap,
}

impl PrepareContext<'_> {
    /// The value of type `T` in the server's state, or registered with
    /// [`AsyncFast::state`](crate::AsyncFast::state).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<std::sync::Arc<T>> {
        self.state.get::<T>().or_else(|| self.app_state.get::<T>())
    }
}

/// Why [`FromMessage::prepare`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// A state value was never provided.
    #[error(transparent)]
    MissingState(#[from] MissingState),
    /// Any other failure.
    #[error(transparent)]
    Other(BoxError),
}
