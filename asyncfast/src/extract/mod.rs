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

use std::any::Any;
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
mod state;

pub(crate) use bindings::KAFKA_BINDING_VERSION;
pub use crate::context::Prepared;
pub use bindings::{
    AmqpRoutingKey, BindingRejection, KafkaKey, KafkaOffset, KafkaPartition, MissingBinding,
    MqttQos, MqttRetain, NatsReply, NatsSubject, RedisStreamId, SqsMessageGroupId, SqsReceiveCount,
};
pub use dependency::Dep;
pub use header::{
    Header, HeaderRejection, HeaderValue, HeaderValueError, InvalidHeader, MissingHeader,
    parse_header,
};
pub use param::{InvalidParam, MissingParam, Param, ParamRejection};
pub use payload::{InvalidPayload, MissingPayload, Payload, PayloadRejection};
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

    /// Runs after the handler returned, for values shared through [`Dep`], before the message is
    /// acked or nacked. `succeeded` tells whether the message is going to be acked. The default
    /// does nothing (the value is then dropped).
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
    pub(crate) state: &'a amgi_core::State,
    pub(crate) app_state: &'a amgi_core::State,
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

/// A header default, as `#[header(default = …)]` produces it.
pub type DefaultFn = fn() -> Box<dyn Any + Send>;

/// A prepare hook, as stored in a [`ParamSpec`].
pub type PrepareFn =
    fn(&'static ParamSpec, &PrepareContext<'_>) -> Result<Option<Prepared>, PrepareError>;

/// A documentation hook (an extractor's [`FromMessage::document`]), as stored in a [`ParamSpec`].
pub type DocumentFn = fn(&'static ParamSpec, &mut OperationDoc<'_>);

/// The JSON Schema of a parameter's value type (the `T` of `Param<T>`), as stored in a
/// [`ParamSpec`].
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// What the handler's signature says about one parameter, computed at compile time.
///
/// `#[channel]` writes one `static` `ParamSpec` per parameter; extractors read the part they need
/// (a header's name, a placeholder's position, a default).
///
/// ```
/// use asyncfast::extract::ParamSpec;
///
/// static SPEC: ParamSpec = ParamSpec::new("correlation_id", 1).header_name("correlation-id");
/// assert_eq!(SPEC.header(), "correlation-id");
/// assert_eq!(SPEC.name(), "correlation_id");
/// ```
#[derive(Debug)]
pub struct ParamSpec {
    name: &'static str,
    index: usize,
    header: &'static str,
    placeholder: Option<usize>,
    default: Option<DefaultFn>,
    prepare: Option<PrepareFn>,
    document: Option<DocumentFn>,
    description: Option<&'static str>,
    value_schema: Option<SchemaFn>,
}

impl ParamSpec {
    /// A parameter called `name` at position `index`; its header name is `name`.
    pub const fn new(name: &'static str, index: usize) -> Self {
        Self {
            name,
            index,
            header: name,
            placeholder: None,
            default: None,
            prepare: None,
            document: None,
            description: None,
            value_schema: None,
        }
    }

    /// A spec for extractors run by hand (no name, no header), as in
    /// [`MessageContext::extract`].
    pub const ANONYMOUS: Self = Self::new("", usize::MAX);

    /// Sets the header name (`_` replaced by `-`, or the `alias`).
    #[must_use]
    pub const fn header_name(mut self, header: &'static str) -> Self {
        self.header = header;
        self
    }

    /// Sets the position of the `{placeholder}` of the same name in the address template.
    #[must_use]
    pub const fn placeholder(mut self, index: usize) -> Self {
        self.placeholder = Some(index);
        self
    }

    /// Sets the default used when the header is missing.
    #[must_use]
    pub const fn default_value(mut self, default: DefaultFn) -> Self {
        self.default = Some(default);
        self
    }

    /// Sets the prepare hook (the extractor's [`FromMessage::prepare`]).
    #[must_use]
    pub const fn prepare_with(mut self, prepare: PrepareFn) -> Self {
        self.prepare = Some(prepare);
        self
    }

    /// Sets the documentation hook (the extractor's [`FromMessage::document`]).
    #[must_use]
    pub const fn document_with(mut self, document: DocumentFn) -> Self {
        self.document = Some(document);
        self
    }

    /// Sets the description (the parameter's doc comment, or `#[header(description = "…")]`).
    #[must_use]
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// Sets the JSON Schema of the value type (for `Param<T>`, the schema of `T`).
    #[must_use]
    pub const fn value_schema(mut self, schema: SchemaFn) -> Self {
        self.value_schema = Some(schema);
        self
    }

    /// The parameter's name as written.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The parameter's position.
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The header the parameter reads.
    pub const fn header(&self) -> &'static str {
        self.header
    }

    /// The position of its placeholder in the address template, if it has one.
    pub const fn placeholder_index(&self) -> Option<usize> {
        self.placeholder
    }

    /// The default for a missing header, if one was given.
    pub fn default_fn(&self) -> Option<DefaultFn> {
        self.default
    }

    pub(crate) fn prepare_fn(&self) -> Option<PrepareFn> {
        self.prepare
    }

    /// The documentation hook, if one was set.
    pub fn document_fn(&self) -> Option<DocumentFn> {
        self.document
    }

    /// The description, if one was given.
    pub const fn description_text(&self) -> Option<&'static str> {
        self.description
    }

    /// The schema of the value type, if one was set.
    pub fn value_schema_fn(&self) -> Option<SchemaFn> {
        self.value_schema
    }
}
