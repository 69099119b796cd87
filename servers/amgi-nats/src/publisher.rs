//! `message.send`, the lifespan publisher and the native requester: core NATS publishes, a
//! JetStream publish (its ack awaited) for a subject of the consumed stream, and requests on
//! NATS inboxes.

use std::time::Duration;

use amgi_core::batch::Publisher;
use amgi_core::extension::{REQUEST_TIMED_OUT, Reply, Requester};
use amgi_core::{EventFuture, MessageSend, SendError, SendErrorKind};
use async_nats::client::RequestErrorKind;
use async_nats::{Client, HeaderMap};
use bytes::Bytes;

use crate::config::subject_matches;
use crate::headers;

/// Publishes `message.send`s: to JetStream (awaiting the stream's ack) when the subject is one
/// of `stream_subjects`, on core NATS otherwise.
pub(crate) struct NatsPublisher {
    pub(crate) client: Client,
    pub(crate) jetstream: Option<async_nats::jetstream::Context>,
    /// The subjects of the consumed stream (empty in core mode).
    pub(crate) stream_subjects: Vec<String>,
}

impl NatsPublisher {
    fn in_stream(&self, subject: &str) -> bool {
        self.stream_subjects
            .iter()
            .any(|filter| subject_matches(filter, subject))
    }

    /// Publishes one message; a JetStream publish completes on the stream's ack.
    pub(crate) async fn send(
        &self,
        subject: &str,
        headers: Option<HeaderMap>,
        payload: Bytes,
        reply: Option<String>,
    ) -> Result<(), SendError> {
        if let Some(jetstream) = self.jetstream.as_ref().filter(|_| self.in_stream(subject)) {
            let subject = subject.to_owned();
            let ack = match headers {
                Some(headers) => {
                    jetstream
                        .publish_with_headers(subject, headers, payload)
                        .await
                }
                None => jetstream.publish(subject, payload).await,
            }
            .map_err(SendError::transport)?;
            ack.await.map_err(SendError::transport)?;
            return Ok(());
        }
        let subject = subject.to_owned();
        match (headers, reply) {
            (None, None) => self.client.publish(subject, payload).await,
            (Some(headers), None) => {
                self.client
                    .publish_with_headers(subject, headers, payload)
                    .await
            }
            (None, Some(reply)) => {
                self.client
                    .publish_with_reply(subject, reply, payload)
                    .await
            }
            (Some(headers), Some(reply)) => {
                self.client
                    .publish_with_reply_and_headers(subject, reply, headers, payload)
                    .await
            }
        }
        .map_err(SendError::transport)
    }
}

impl Publisher for NatsPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            let headers = headers::to_nats(&message.headers)?;
            let reply = message
                .bindings
                .nats()
                .and_then(|binding| binding.reply.clone());
            let payload = message.payload.unwrap_or_default();
            self.send(&message.address, headers, payload, reply).await
        })
    }
}

/// Requests on NATS inboxes (`Client::send_request`): the reply comes to a subscription of
/// this connection, so the application needs no reply address of its own.
pub(crate) struct NatsRequester(pub(crate) Client);

impl Requester for NatsRequester {
    fn request(
        &self,
        message: MessageSend,
        timeout: Duration,
    ) -> EventFuture<'_, Result<Reply, SendError>> {
        EventFuture::boxed(async move {
            let mut request = async_nats::Request::new()
                .payload(message.payload.unwrap_or_default())
                .timeout(Some(timeout));
            if let Some(headers) = headers::to_nats(&message.headers)? {
                request = request.headers(headers);
            }
            let subject = message.address.to_string();
            let reply = self
                .0
                .send_request(subject.clone(), request)
                .await
                .map_err(|error| match error.kind() {
                    RequestErrorKind::TimedOut => SendError::new(SendErrorKind::Transport)
                        .with_detail(format!(
                            "{REQUEST_TIMED_OUT} after {timeout:?}: no reply on NATS subject \
                             `{subject}`"
                        )),
                    RequestErrorKind::NoResponders => SendError::new(SendErrorKind::Transport)
                        .with_detail(format!(
                            "no responders: nothing subscribes to the NATS subject `{subject}` \
                             (is the server that answers it running?)"
                        )),
                    _ => SendError::transport(error),
                })?;
            let payload = (!reply.payload.is_empty()).then_some(reply.payload);
            Ok(Reply::new(
                headers::from_nats(reply.headers.as_ref()),
                payload,
            ))
        })
    }
}
