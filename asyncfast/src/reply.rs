//! Answering requests: a handler returning [`Reply<T>`] answers the message it handles.
//!
//! The reply goes to the request's reply address, paired with it by its correlation id, in the
//! form the request's protocol uses:
//!
//! | request carries | the reply goes to | paired by |
//! | --- | --- | --- |
//! | an MQTT 5 response topic (`MqttBinding::response_topic`) | that topic | the MQTT correlation data, and the `correlation-id` header if the request had one |
//! | a NATS reply subject (`NatsBinding::reply`) | that subject (a NATS inbox) | the subject itself |
//! | an AMQP `reply-to` property (`AmqpBinding::reply_to`) | that queue (direct reply-to included) | the AMQP `correlation_id` property |
//! | a `reply-to` header (Kafka, Redis, SQS, memory, and AsyncFast's own requests on any broker) | that address | the `correlation-id` header |
//!
//! A request without a reply address is acked and the reply dropped (a debug log line says so).
//! When the handler fails (`Err(e)` from a `Result<Reply<T>, E>`), the requester gets an *error
//! reply*: no payload, the header [`REPLY_ERROR_HEADER`] holding the reason, so it can tell a
//! failure from an answer; the request is acked, since it was answered. A failing request
//! without a reply address is nacked like any other message.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use asyncfast::prelude::*;
//! use asyncfast::testing::TestClient;
//! use asyncfast::Reply;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Multiply { x: i64, y: i64 }
//!
//! #[channel("multiply")]
//! async fn multiply(args: Payload<Multiply>) -> Result<Reply<i64>, String> {
//!     args.x.checked_mul(args.y).map(Reply).ok_or_else(|| "overflow".to_owned())
//! }
//!
//! let client = TestClient::new(AsyncFast::empty().channel(handler!(multiply))).await;
//! let outcome = client
//!     .publish("multiply")
//!     .header("reply-to", "client.replies")
//!     .header("correlation-id", "req-1")
//!     .json(&serde_json::json!({"x": 6, "y": 7}))
//!     .await;
//! let reply = outcome.assert_acked().assert_sent_json("client.replies", &serde_json::json!(42));
//! assert_eq!(reply.headers.get(b"correlation-id").unwrap(), "req-1");
//! # });
//! ```

use amgi_core::{AmqpBinding, Binding, Headers, MessageReceive, MessageSend, MqttBinding};
use bytes::Bytes;

use crate::asyncapi::{DescribeOutcome, Sends};
use crate::outcome::{IntoOutcome, Nack, NackKind, Outcome};

/// The header naming the address a reply goes to, when the protocol has no native one.
pub const REPLY_TO_HEADER: &str = "reply-to";
/// The header pairing a reply with its request.
pub const CORRELATION_ID_HEADER: &str = "correlation-id";
/// The header of an error reply: the reason the handler failed. An error reply has no payload.
pub const REPLY_ERROR_HEADER: &str = "amgi-reply-error";

/// The answer to a request: a handler returning `Reply<T>` (or `Result<Reply<T>, E>`) sends `T`,
/// as JSON, to the request's reply address. See the [module documentation](self).
///
/// In the AsyncAPI document, the handler's receive operation gets a `reply` object whose message
/// has `T`'s schema and whose address is read from the request's `reply-to` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reply<T>(pub T);

/// A handler's answer before it is addressed: the encoded value, or the reason it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyBody {
    answer: Result<Bytes, Nack>,
}

impl ReplyBody {
    /// An answer whose payload is `payload` (JSON).
    pub fn answer(payload: impl Into<Bytes>) -> Self {
        Self {
            answer: Ok(payload.into()),
        }
    }

    /// An error reply for a handler that failed with `nack`.
    pub fn error(nack: Nack) -> Self {
        Self { answer: Err(nack) }
    }

    /// The encoded answer, or the failure.
    pub fn as_result(&self) -> Result<&Bytes, &Nack> {
        self.answer.as_ref()
    }
}

impl<T: serde::Serialize> IntoOutcome for Reply<T> {
    fn into_outcome(self) -> Outcome {
        match serde_json::to_vec(&self.0) {
            Ok(payload) => Outcome::Reply(ReplyBody::answer(payload)),
            Err(error) => Outcome::nack(
                NackKind::Encode,
                format!("cannot encode the reply as JSON: {error}"),
            ),
        }
    }

    fn error_outcome(nack: Nack) -> Outcome {
        Outcome::Reply(ReplyBody::error(nack))
    }
}

impl<T: schemars::JsonSchema + 'static> DescribeOutcome for Reply<T> {
    fn describe_outcome(sends: &mut Sends<'_>) {
        sends.reply::<T>();
    }
}

/// Where a reply to `request` goes, and how it is paired with it: the reply's address, the
/// headers and the binding it carries. `None` when the request has no reply address.
fn reply_route(request: &MessageReceive) -> Option<MessageSend> {
    let correlation = request.headers.get(CORRELATION_ID_HEADER.as_bytes());
    let mut headers = Headers::new();
    if let Some(correlation) = correlation {
        headers.append(CORRELATION_ID_HEADER, correlation.clone());
    }
    let native = match &request.binding {
        Some(Binding::Mqtt(mqtt)) => mqtt.response_topic.as_ref().map(|topic| {
            let mut binding = MqttBinding::new(mqtt.qos, false);
            binding.correlation_data.clone_from(&mqtt.correlation_data);
            (topic.clone(), Some(Binding::Mqtt(binding)))
        }),
        Some(Binding::Nats(nats)) => nats.reply.as_ref().map(|reply| (reply.clone(), None)),
        Some(Binding::Amqp(amqp)) => amqp.reply_to.as_ref().map(|reply_to| {
            let mut binding = AmqpBinding::default();
            binding.correlation_id.clone_from(&amqp.correlation_id);
            (reply_to.clone(), Some(Binding::from(binding)))
        }),
        _ => None,
    };
    let (address, binding) = if let Some(route) = native {
        route
    } else {
        let address = request.headers.get(REPLY_TO_HEADER.as_bytes())?;
        (std::str::from_utf8(address).ok()?.to_owned(), None)
    };
    if address.is_empty() {
        return None;
    }
    let mut reply = MessageSend::new(address).headers(headers);
    if let Some(binding) = binding {
        reply.bindings.insert(binding);
    }
    Some(reply)
}

/// The outcome of a handler that answered `request` with `body`: the reply to publish before
/// the ack; an ack alone when the request has no reply address; the handler's nack when it
/// failed and there is no one to tell.
pub(crate) fn address_reply(request: &MessageReceive, address: &str, body: ReplyBody) -> Outcome {
    let Some(mut reply) = reply_route(request) else {
        return match body.answer {
            Ok(_) => {
                tracing::debug!(
                    address,
                    id = %request.id,
                    "the request has no reply address: reply dropped"
                );
                Outcome::ack()
            }
            Err(nack) => Outcome::Nack(nack),
        };
    };
    match body.answer {
        Ok(payload) => reply.payload = Some(payload),
        Err(nack) => {
            tracing::warn!(
                address,
                id = %request.id,
                reason = nack.reason(),
                "request failed: sending an error reply"
            );
            reply
                .headers
                .append(REPLY_ERROR_HEADER, Bytes::from(nack.reason().to_owned()));
        }
    }
    Outcome::Ack(vec![reply])
}

#[cfg(test)]
mod tests {
    use amgi_core::{MessageId, NatsBinding};

    use super::*;

    fn request(headers: Headers, binding: Option<Binding>) -> MessageReceive {
        let mut message = MessageReceive::new(MessageId::new(1));
        message.headers = headers;
        message.binding = binding;
        message
    }

    #[test]
    fn header_reply_to_with_correlation_id() {
        let headers = Headers::new()
            .with("reply-to", "client.replies")
            .with("correlation-id", "c-1");
        let outcome = address_reply(
            &request(headers, None),
            "rpc",
            ReplyBody::answer(&b"42"[..]),
        );
        let sent = &outcome.outgoing()[0];
        assert_eq!(&*sent.address, "client.replies");
        assert_eq!(sent.headers.get(b"correlation-id").unwrap(), "c-1");
        assert_eq!(sent.payload.as_deref(), Some(&b"42"[..]));
    }

    #[test]
    fn native_reply_addresses_win_over_headers() {
        let headers = Headers::new().with("reply-to", "ignored");
        let mqtt = MqttBinding::new(1, false)
            .response_topic("replies/7")
            .correlation_data(&b"\x01"[..]);
        let outcome = address_reply(
            &request(headers, Some(Binding::Mqtt(mqtt))),
            "rpc",
            ReplyBody::answer(&b"1"[..]),
        );
        let sent = &outcome.outgoing()[0];
        assert_eq!(&*sent.address, "replies/7");
        let binding = sent.bindings.mqtt().unwrap();
        assert_eq!(binding.correlation_data.as_deref(), Some(&b"\x01"[..]));

        let mut nats = NatsBinding::default();
        nats.reply = Some("_INBOX.abc".into());
        let outcome = address_reply(
            &request(Headers::new(), Some(Binding::Nats(nats))),
            "rpc",
            ReplyBody::answer(&b"1"[..]),
        );
        assert_eq!(&*outcome.outgoing()[0].address, "_INBOX.abc");

        let mut amqp = AmqpBinding::default();
        amqp.reply_to = Some("amq.rabbitmq.reply-to.g1".into());
        amqp.correlation_id = Some("c-9".into());
        let outcome = address_reply(
            &request(Headers::new(), Some(Binding::from(amqp))),
            "rpc",
            ReplyBody::answer(&b"1"[..]),
        );
        let sent = &outcome.outgoing()[0];
        assert_eq!(&*sent.address, "amq.rabbitmq.reply-to.g1");
        assert_eq!(
            sent.bindings.amqp().unwrap().correlation_id.as_deref(),
            Some("c-9")
        );
    }

    #[test]
    fn errors_reply_with_the_reason_or_nack_without_a_reply_address() {
        let headers = Headers::new().with("reply-to", "client.replies");
        let outcome = address_reply(
            &request(headers, None),
            "rpc",
            ReplyBody::error(Nack::error("overflow")),
        );
        let sent = &outcome.outgoing()[0];
        assert_eq!(sent.headers.get(b"amgi-reply-error").unwrap(), "overflow");
        assert!(sent.payload.is_none());

        let outcome = address_reply(
            &request(Headers::new(), None),
            "rpc",
            ReplyBody::error(Nack::error("overflow")),
        );
        assert_eq!(outcome.nack_reason(), Some("overflow"));
        let outcome = address_reply(
            &request(Headers::new(), None),
            "rpc",
            ReplyBody::answer(&b"1"[..]),
        );
        assert!(outcome.is_ack() && outcome.outgoing().is_empty());
    }
}
