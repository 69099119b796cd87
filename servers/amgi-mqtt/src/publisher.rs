//! Publishing with QoS 1 and waiting for the broker's `PUBACK`.
//!
//! rumqttc 0.25 assigns packet ids inside its event loop and reports them as
//! `Outgoing::Publish(pkid)`, in the order the publish requests were queued. [`Waiters`] keeps
//! one waiter per queued publish in that order, pairs it with its packet id when the event loop
//! reports it, and completes it on the `PUBACK` of that id.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::batch::Publisher;
use amgi_core::{Binding, EventFuture, Headers, MessageSend, SendError, SendErrorKind};
use bytes::Bytes;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{PubAck, PubAckReason, PublishProperties};
use tokio::sync::oneshot;

/// How long a publish may wait for its `PUBACK` (a broker that is down makes it wait).
const PUBACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the broker answered to a publish.
type Answer = Result<(), PubAckReason>;

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

    /// The broker acked `ack.pkid`.
    pub(crate) fn acked(&self, ack: &PubAck) {
        let waiter = self.lock().sent.remove(&ack.pkid);
        if let Some(waiter) = waiter {
            let answer = match ack.reason {
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers => Ok(()),
                reason => Err(reason),
            };
            let _ = waiter.send(answer);
        }
    }
}

/// Publishes with QoS 1 and waits for the `PUBACK`: the server's [`Publisher`], used for
/// `message.send`, the lifespan's `ServerPublisher` and dead letters.
pub(crate) struct MqttPublisher {
    client: AsyncClient,
    waiters: Arc<Waiters>,
    /// Held while queuing a publish, so that waiters are queued in request order.
    order: tokio::sync::Mutex<()>,
}

impl MqttPublisher {
    pub(crate) fn new(client: AsyncClient, waiters: Arc<Waiters>) -> Self {
        Self {
            client,
            waiters,
            order: tokio::sync::Mutex::new(()),
        }
    }

    /// Publishes `payload` to `topic` with `headers` as user properties, in order, and waits
    /// until the broker acked it.
    pub(crate) async fn publish_to(
        &self,
        topic: &str,
        headers: &Headers,
        payload: Bytes,
        retain: bool,
    ) -> Result<(), SendError> {
        let properties = PublishProperties {
            user_properties: user_properties(headers)?,
            ..PublishProperties::default()
        };
        let (answer_tx, answer) = oneshot::channel();
        {
            let _order = self.order.lock().await;
            self.waiters.lock().queued.push_back(answer_tx);
            let queued = self
                .client
                .publish_with_properties(topic, QoS::AtLeastOnce, retain, payload, properties)
                .await;
            if let Err(error) = queued {
                self.waiters.lock().queued.pop_back();
                return Err(SendError::new(SendErrorKind::Closed)
                    .with_detail(format!("publishing to `{topic}`: {error}")));
            }
        }
        match tokio::time::timeout(PUBACK_TIMEOUT, answer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(reason))) => Err(SendError::new(SendErrorKind::Transport).with_detail(
                format!("the broker refused a publish to `{topic}`: {reason:?}"),
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
            let retain = message.bindings.iter().any(|binding| match binding {
                Binding::Mqtt(mqtt) => mqtt.retain,
                _ => false,
            });
            let payload = message.payload.unwrap_or_default();
            self.publish_to(&message.address, &message.headers, payload, retain)
                .await
        })
    }
}

/// Headers as MQTT 5 user properties: in order, repeats kept; both name and value must be
/// UTF-8.
pub(crate) fn user_properties(headers: &Headers) -> Result<Vec<(String, String)>, SendError> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = |bytes: &Bytes, what: &str| {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    SendError::new(SendErrorKind::Transport).with_detail(format!(
                        "the {what} of header `{}` is not UTF-8: MQTT user properties are text",
                        String::from_utf8_lossy(name)
                    ))
                })
            };
            Ok((text(name, "name")?, text(value, "value")?))
        })
        .collect()
}

/// User properties as headers, in order, repeats kept.
pub(crate) fn headers(properties: Option<&PublishProperties>) -> Headers {
    properties
        .map(|properties| {
            properties
                .user_properties
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_user_properties_round_trip_in_order_with_repeats() {
        let headers = Headers::new().with("a", "1").with("b", "2").with("a", "3");
        let properties = PublishProperties {
            user_properties: user_properties(&headers).unwrap(),
            ..PublishProperties::default()
        };
        assert_eq!(
            properties.user_properties,
            [("a", "1"), ("b", "2"), ("a", "3")].map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(super::headers(Some(&properties)), headers);
    }

    #[test]
    fn a_header_that_is_not_utf8_is_refused_by_name() {
        let headers = Headers::new().with("bin", Bytes::from_static(&[0xff]));
        let error = user_properties(&headers).unwrap_err();
        assert!(error.to_string().contains("`bin`"), "{error}");
    }

    #[test]
    fn waiters_pair_packet_ids_in_order_and_ignore_resends() {
        let waiters = Waiters::default();
        let (first_tx, mut first) = oneshot::channel();
        let (second_tx, mut second) = oneshot::channel();
        waiters.lock().queued.extend([first_tx, second_tx]);
        waiters.sent(7);
        waiters.sent(7); // resent after a reconnect
        waiters.sent(8);
        waiters.acked(&PubAck::new(8, None));
        assert_eq!(second.try_recv().unwrap(), Ok(()));
        assert!(first.try_recv().is_err());
        waiters.acked(&PubAck::new(7, None));
        assert_eq!(first.try_recv().unwrap(), Ok(()));
    }
}
