//! Publishing with a QoS and waiting for the broker's answer: `PUBACK` for QoS 1, `PUBCOMP`
//! for QoS 2 (QoS 0 has none: it completes once handed to the event loop).
//!
//! rumqttc 0.25 assigns packet ids inside its event loop and reports them as
//! `Outgoing::Publish(pkid)`, in the order the publish requests were queued. [`Waiters`] keeps
//! one waiter per queued QoS 1 or 2 publish in that order, pairs it with its packet id when the
//! event loop reports it, and completes it on the `PUBACK` (or `PUBCOMP`, or a failed `PUBREC`)
//! of that id.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::batch::Publisher;
use amgi_core::{EventFuture, Headers, MessageSend, SendError, SendErrorKind};
use bytes::Bytes;
use tokio::sync::oneshot;

use crate::binding::Outbound;
use crate::client::Client;
use crate::headers::user_properties;
use crate::{Protocol, Qos};

/// How long a publish may wait for the broker's answer (a broker that is down makes it wait).
const PUBACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the broker answered to a publish: nothing, or the reason it refused it.
type Answer = Result<(), String>;

/// Publishes waiting for their packet id or their `PUBACK`.
#[derive(Debug, Default)]
pub(crate) struct Waiters(Mutex<WaitersInner>);

#[derive(Debug, Default)]
struct WaitersInner {
    /// Queued publishes not yet given a packet id, in request order.
    queued: VecDeque<oneshot::Sender<Answer>>,
    /// Publishes sent, by packet id.
    sent: HashMap<u16, oneshot::Sender<Answer>>,
    /// A publish whose packet id was still in use: sent once that id is acked.
    collided: Option<(u16, oneshot::Sender<Answer>)>,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, WaitersInner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The event loop sent a publish with `pkid` (a first send, or a resend after a reconnect).
    pub(crate) fn sent(&self, pkid: u16) {
        let mut inner = self.lock();
        if pkid == 0 || inner.sent.contains_key(&pkid) {
            return; // QoS 0, or a resend of a publish already paired
        }
        let waiter = match inner.collided.take() {
            Some((collided, waiter)) if collided == pkid => Some(waiter),
            other => {
                inner.collided = other;
                inner.queued.pop_front()
            }
        };
        if let Some(waiter) = waiter {
            inner.sent.insert(pkid, waiter);
        }
    }

    /// The event loop holds the next publish back until `pkid` is acked.
    pub(crate) fn collided(&self, pkid: u16) {
        let mut inner = self.lock();
        if let Some(waiter) = inner.queued.pop_front() {
            inner.collided = Some((pkid, waiter));
        }
    }

    /// The broker answered the publish `pkid`: its `PUBACK` (QoS 1), its `PUBCOMP` (QoS 2),
    /// or a `PUBREC` that refused it.
    pub(crate) fn answer(&self, pkid: u16, answer: Answer) {
        let waiter = self.lock().sent.remove(&pkid);
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }
}

/// Publishes and waits for the broker's answer: the server's [`Publisher`], used for
/// `message.send`, the lifespan's `ServerPublisher` and dead letters.
pub(crate) struct MqttPublisher {
    client: Client,
    waiters: Arc<Waiters>,
    /// The QoS of a `message.send` without an MQTT binding.
    default_qos: Qos,
    /// Held while queuing a publish, so that waiters are queued in request order.
    order: tokio::sync::Mutex<()>,
}

impl MqttPublisher {
    pub(crate) fn new(client: Client, waiters: Arc<Waiters>, default_qos: Qos) -> Self {
        Self {
            client,
            waiters,
            default_qos,
            order: tokio::sync::Mutex::new(()),
        }
    }

    /// Publishes `payload` to `topic` with `headers` as user properties, in order, as
    /// `outbound` says, and waits until the broker acked it (QoS 1 and 2).
    pub(crate) async fn publish_to(
        &self,
        topic: &str,
        headers: &Headers,
        payload: Bytes,
        outbound: Outbound,
    ) -> Result<(), SendError> {
        let Outbound {
            qos,
            retain,
            mut properties,
        } = outbound;
        if self.client.protocol() == Protocol::V311 && !headers.is_empty() {
            return Err(
                SendError::new(SendErrorKind::Transport).with_detail(format!(
                    "publishing to `{topic}`: MQTT 3.1.1 has no user properties, so a message with \
                 headers cannot be sent; connect with MQTT 5 (the default), or send no headers"
                )),
            );
        }
        properties.user_properties = user_properties(headers)?;
        let closed = |error: crate::client::ConnectionError| {
            SendError::new(SendErrorKind::Closed)
                .with_detail(format!("publishing to `{topic}`: {error}"))
        };
        if qos == Qos::AtMostOnce {
            return self
                .client
                .publish(topic, qos, retain, payload, properties)
                .await
                .map_err(closed);
        }
        let (answer_tx, answer) = oneshot::channel();
        {
            let _order = self.order.lock().await;
            self.waiters.lock().queued.push_back(answer_tx);
            let queued = self
                .client
                .publish(topic, qos, retain, payload, properties)
                .await;
            if let Err(error) = queued {
                self.waiters.lock().queued.pop_back();
                return Err(closed(error));
            }
        }
        match tokio::time::timeout(PUBACK_TIMEOUT, answer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(reason))) => Err(SendError::new(SendErrorKind::Transport).with_detail(
                format!("the broker refused a publish to `{topic}`: {reason}"),
            )),
            Ok(Err(_)) => Err(SendError::new(SendErrorKind::Closed)
                .with_detail(format!("the connection closed before `{topic}` was acked"))),
            Err(_) => Err(
                SendError::new(SendErrorKind::Transport).with_detail(format!(
                    "no PUBACK for a publish to `{topic}` within {PUBACK_TIMEOUT:?}"
                )),
            ),
        }
    }
}

impl Publisher for MqttPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            let outbound = Outbound::of(&message.bindings, self.default_qos);
            let payload = message.payload.unwrap_or_default();
            self.publish_to(&message.address, &message.headers, payload, outbound)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_pair_packet_ids_in_order_and_ignore_resends() {
        let waiters = Waiters::default();
        let (first_tx, mut first) = oneshot::channel();
        let (second_tx, mut second) = oneshot::channel();
        waiters.lock().queued.extend([first_tx, second_tx]);
        waiters.sent(7);
        waiters.sent(7); // resent after a reconnect
        waiters.sent(8);
        waiters.answer(8, Ok(()));
        assert_eq!(second.try_recv().unwrap(), Ok(()));
        assert!(first.try_recv().is_err());
        waiters.answer(7, Ok(()));
        assert_eq!(first.try_recv().unwrap(), Ok(()));
    }
}
