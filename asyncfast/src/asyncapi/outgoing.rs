//! Outgoing messages: [`DescribeMessage`] (derived with `#[derive(Message)]`), what a handler's
//! return type sends ([`DescribeOutcome`]), and the list a handler declares ([`Sends`]).
//!
//! Every outgoing message type yields a channel named after the message, a message of the same
//! name and a `send<Name>` operation.

use amgi_core::MessageSend;

use super::doc::OperationDoc;
use crate::outcome::Outcome;

/// The documentation of a message type, as `#[derive(Message)]` writes it: name, address
/// template, doc comment, and the fields (headers, payload, bindings, address placeholders).
///
/// ```
/// use asyncfast::asyncapi::DescribeMessage;
/// use asyncfast::prelude::*;
///
/// /// An order was processed.
/// #[derive(Message)]
/// #[message(address = "order.{id}.processed")]
/// struct OrderProcessed {
///     id: u64,
///     #[payload]
///     total: u64,
/// }
///
/// assert_eq!(OrderProcessed::NAME, "OrderProcessed");
/// assert_eq!(OrderProcessed::ADDRESS, "order.{id}.processed");
/// assert_eq!(OrderProcessed::DOCUMENTATION, Some("An order was processed."));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a documented message",
    note = "derive it: `#[derive(asyncfast::Message)]` implements \
            `asyncfast::asyncapi::DescribeMessage`"
)]
pub trait DescribeMessage {
    /// The message's name: its channel, message and `send<Name>` operation are named after it.
    const NAME: &'static str;
    /// The address template.
    const ADDRESS: &'static str;
    /// The doc comment: its first paragraph becomes the `summary`, the whole the `description`.
    const DOCUMENTATION: Option<&'static str> = None;

    /// Writes the message's headers, payload, bindings and address parameters.
    fn describe(doc: &mut OperationDoc<'_>);
}

/// One outgoing message type, as collected by [`Sends`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutgoingMessage {
    /// Tells two message types apart (two types may share a `NAME`).
    pub(crate) type_name: &'static str,
    pub(crate) name: &'static str,
    pub(crate) address: &'static str,
    pub(crate) documentation: Option<&'static str>,
    pub(crate) describe: fn(&mut OperationDoc<'_>),
}

/// The messages a handler sends: collected from its return type ([`DescribeOutcome`]) and from
/// `#[channel(…, sends = [A, B])]` (messages sent through a
/// [`MessageSender`](crate::MessageSender)).
///
/// ```
/// use asyncfast::asyncapi::Sends;
/// use asyncfast::ChannelMeta;
/// use asyncfast::prelude::*;
///
/// #[derive(Message)]
/// #[message(address = "audit")]
/// struct Audited {}
///
/// fn sends(sends: &mut Sends<'_>) {
///     sends.message::<Audited>();
/// }
///
/// static META: ChannelMeta = ChannelMeta::new("orders", "on_order").sends(sends);
/// ```
pub struct Sends<'a> {
    messages: &'a mut Vec<OutgoingMessage>,
    reply: Option<OutgoingReply>,
}

/// The reply a handler answers requests with ([`Reply<T>`](crate::Reply)): how to document its
/// payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutgoingReply {
    pub(crate) describe: fn(&mut OperationDoc<'_>),
}

/// Documents `T` as a JSON reply payload.
fn describe_reply<T: schemars::JsonSchema + 'static>(doc: &mut OperationDoc<'_>) {
    let payload = super::schema::sent_payload::<T>(doc.generator());
    doc.payload(payload);
}

impl std::fmt::Debug for Sends<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.messages.iter().map(|m| m.name))
            .finish()
    }
}

impl<'a> Sends<'a> {
    pub(crate) fn new(messages: &'a mut Vec<OutgoingMessage>) -> Self {
        Self {
            messages,
            reply: None,
        }
    }

    /// The handler answers requests with a `T` ([`Reply<T>`](crate::Reply)): its receive
    /// operation gets a `reply` object.
    pub fn reply<T: schemars::JsonSchema + 'static>(&mut self) {
        self.reply = Some(OutgoingReply {
            describe: describe_reply::<T>,
        });
    }

    /// The reply recorded by [`reply`](Self::reply), if any.
    pub(crate) fn take_reply(&mut self) -> Option<OutgoingReply> {
        self.reply.take()
    }

    /// Adds message type `M`; a type added twice is documented once.
    pub fn message<M: DescribeMessage>(&mut self) {
        let type_name = std::any::type_name::<M>();
        if self.messages.iter().any(|m| m.type_name == type_name) {
            return;
        }
        self.messages.push(OutgoingMessage {
            type_name,
            name: M::NAME,
            address: M::ADDRESS,
            documentation: M::DOCUMENTATION,
            describe: M::describe,
        });
    }
}

/// What a handler's return type sends, for the document: the messages of
/// `#[derive(Message)]` types, `Option`s, `Vec`s and `Result`s of them; nothing for `()`,
/// [`Outcome`] and raw [`MessageSend`]s.
///
/// `#[channel]` requires it of the return type. For a return type of your own (a hand-written
/// [`Message`](crate::Message) or [`IntoOutcome`](crate::IntoOutcome)), implement it; the
/// default method documents nothing:
///
/// ```
/// use asyncfast::asyncapi::DescribeOutcome;
///
/// struct Raw;
/// impl DescribeOutcome for Raw {}
/// ```
#[diagnostic::on_unimplemented(
    message = "the messages a handler returning `{Self}` sends cannot be documented",
    note = "derive `Message` for message types; for a return type of your own, implement \
            `asyncfast::asyncapi::DescribeOutcome` (an empty `impl` documents nothing)"
)]
pub trait DescribeOutcome {
    /// Adds the messages a value of this type may send.
    fn describe_outcome(sends: &mut Sends<'_>) {
        let _ = sends;
    }
}

impl DescribeOutcome for () {}

impl DescribeOutcome for Outcome {}

impl DescribeOutcome for MessageSend {}

impl DescribeOutcome for Option<MessageSend> {}

impl DescribeOutcome for Vec<MessageSend> {}

impl<M: DescribeMessage> DescribeOutcome for M {
    fn describe_outcome(sends: &mut Sends<'_>) {
        sends.message::<M>();
    }
}

impl<M: DescribeMessage> DescribeOutcome for Option<M> {
    fn describe_outcome(sends: &mut Sends<'_>) {
        sends.message::<M>();
    }
}

impl<M: DescribeMessage> DescribeOutcome for Vec<M> {
    fn describe_outcome(sends: &mut Sends<'_>) {
        sends.message::<M>();
    }
}

impl<T: DescribeOutcome, E> DescribeOutcome for Result<T, E> {
    fn describe_outcome(sends: &mut Sends<'_>) {
        T::describe_outcome(sends);
    }
}
