//! The connection: rumqttc's event loop, driven by one task, and the `PUBACK`s of consumed
//! messages, sent in the order the messages arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::Binding;
use amgi_core::batch::IncomingMessage;
use amgi_server::{DeadLetterPolicy, OffsetTracker};
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop};
use tokio::sync::{mpsc, oneshot};

use crate::MqttError;
use crate::error::MqttErrorKind;
use crate::publisher::Waiters;
use crate::{binding, headers};

/// How long the event loop waits before reconnecting after the connection dropped.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A message taken from the broker, not yet acknowledged.
#[derive(Debug)]
pub(crate) struct Received {
    /// Its place in the order of arrival, for [`Acker`].
    pub(crate) seq: i64,
    /// The message as the application gets it.
    pub(crate) message: IncomingMessage,
    /// Deliveries that count (nacks, not skips).
    pub(crate) deliveries: u32,
}

/// Messages of one topic that arrived together, in order.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) topic: String,
    pub(crate) messages: Vec<Received>,
}

/// Sends `PUBACK`s in the order the messages arrived (MQTT requires it), each once its
/// message was acked or dead-lettered and every earlier one was too.
#[derive(Debug)]
pub(crate) struct Acker {
    inner: Mutex<AckerInner>,
    out: mpsc::UnboundedSender<Option<Publish>>,
}

#[derive(Debug, Default)]
struct AckerInner {
    tracker: OffsetTracker,
    held: std::collections::VecDeque<(i64, Publish)>,
}

impl Acker {
    /// An acker, and the task that hands its `PUBACK`s to `client`, in order. The task ends
    /// after [`Acker::close`], once every `PUBACK` before it was handed over.
    pub(crate) fn start(client: AsyncClient) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (out, mut acks) = mpsc::unbounded_channel::<Option<Publish>>();
        let task = tokio::spawn(async move {
            while let Some(Some(publish)) = acks.recv().await {
                if client.ack(&publish).await.is_err() {
                    return;
                }
            }
        });
        let acker = Self {
            inner: Mutex::new(AckerInner::default()),
            out,
        };
        (Arc::new(acker), task)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AckerInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `publish`, arrived as number `seq` (ascending).
    fn track(&self, seq: i64, publish: Publish) {
        let mut inner = self.lock();
        if inner.tracker.track(seq) {
            inner.held.push_back((seq, publish));
        }
    }

    /// Message `seq` is finished: `PUBACK` it and every finished one before it.
    pub(crate) fn complete(&self, seq: i64) {
        let mut inner = self.lock();
        let Some(position) = inner.tracker.complete(seq) else {
            return;
        };
        while inner.held.front().is_some_and(|&(held, _)| held < position) {
            if let Some((_, publish)) = inner.held.pop_front() {
                let _ = self.out.send(Some(publish));
            }
        }
    }

    /// No more `PUBACK`s: the task ends after handing over those before.
    pub(crate) fn close(&self) {
        let _ = self.out.send(None);
    }
}

/// Connects: polls `eventloop` until the broker's `CONNACK`, within `timeout`.
pub(crate) async fn connect(
    eventloop: &mut EventLoop,
    address: &str,
    timeout: Duration,
) -> Result<(), MqttError> {
    let unreachable = |detail: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        MqttError::new(
            MqttErrorKind::Unreachable,
            format!(
                "no MQTT broker answered on {address} ({detail}); check --host and --port, or \
                 start one (`mosquitto -d`)"
            ),
            source,
        )
    };
    let connected = tokio::time::timeout(timeout, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = eventloop.poll().await? {
                return Ok::<(), ConnectionError>(());
            }
        }
    })
    .await;
    match connected {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(unreachable(error.to_string(), Some(Box::new(error)))),
        Err(_) => Err(unreachable(format!("nothing within {timeout:?}"), None)),
    }
}

/// The filters to subscribe to, with `qos`.
pub(crate) fn filters(topics: &[String], qos: QoS) -> Vec<Filter> {
    topics
        .iter()
        .map(|topic| Filter::new(topic.clone(), qos))
        .collect()
}

/// Drives the event loop: pairs publishes with their `PUBACK`s, groups consumed messages into
/// batches, and subscribes again on a reconnect that lost the session.
pub(crate) struct Driver {
    pub(crate) eventloop: EventLoop,
    pub(crate) client: AsyncClient,
    pub(crate) filters: Vec<Filter>,
    pub(crate) waiters: Arc<Waiters>,
    pub(crate) acker: Arc<Acker>,
    pub(crate) batches: mpsc::UnboundedSender<Batch>,
    pub(crate) batch_size: usize,
    pub(crate) dead_letter: DeadLetterPolicy,
    /// Topics subscribed to by name (no wildcard): consumed even when they are dead-letter
    /// topics.
    pub(crate) exact: std::collections::HashSet<String>,
    pub(crate) subscribed: Option<oneshot::Sender<Result<(), MqttError>>>,
    pub(crate) closing: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) next_seq: i64,
}

impl Driver {
    /// Runs until the connection is closed on purpose.
    pub(crate) async fn run(mut self) {
        use std::sync::atomic::Ordering;
        loop {
            let event = match self.eventloop.poll().await {
                Ok(event) => event,
                Err(_) if self.closing.load(Ordering::Acquire) => return,
                Err(error) => {
                    tracing::warn!(%error, "MQTT connection lost: reconnecting");
                    tokio::time::sleep(RECONNECT_DELAY).await;
                    continue;
                }
            };
            let mut fetched = Vec::new();
            if self.handle(event, &mut fetched) {
                return;
            }
            // Publishes already read from the network form batches with this one.
            while !fetched.is_empty() {
                let Some(event) = self.eventloop.state.events.pop_front() else {
                    break;
                };
                if self.handle(event, &mut fetched) {
                    return;
                }
            }
            self.send_batches(fetched);
        }
    }

    /// Handles one event; `true` once the connection is closed.
    fn handle(&mut self, event: Event, fetched: &mut Vec<(String, Received)>) -> bool {
        match event {
            Event::Incoming(Packet::Publish(publish)) => self.received(publish, fetched),
            Event::Incoming(Packet::PubAck(ack)) => self.waiters.acked(&ack),
            Event::Incoming(Packet::PubRec(rec)) => self.waiters.received(&rec),
            Event::Incoming(Packet::PubComp(comp)) => self.waiters.completed(&comp),
            Event::Incoming(Packet::SubAck(suback)) => {
                let refused: Vec<_> = suback
                    .return_codes
                    .iter()
                    .zip(&self.filters)
                    .filter(|(code, _)| !matches!(code, SubscribeReasonCode::Success(_)))
                    .map(|(code, filter)| format!("`{}` ({code:?})", filter.path))
                    .collect();
                let answer = if refused.is_empty() {
                    Ok(())
                } else {
                    Err(MqttError::new(
                        MqttErrorKind::Subscribe,
                        format!(
                            "the broker refused the subscriptions {}",
                            refused.join(", ")
                        ),
                        None,
                    ))
                };
                match self.subscribed.take() {
                    Some(subscribed) => {
                        let _ = subscribed.send(answer);
                    }
                    None => {
                        if let Err(error) = answer {
                            tracing::error!(%error, "subscribing again failed");
                        }
                    }
                }
            }
            Event::Incoming(Packet::ConnAck(connack))
                if !connack.session_present && !self.filters.is_empty() =>
            {
                tracing::warn!("the broker lost the session: subscribing again");
                let filters = self.filters.clone();
                if let Err(error) = self.client.try_subscribe_many(filters) {
                    tracing::error!(%error, "subscribing again failed");
                }
            }
            Event::Incoming(Packet::Disconnect(disconnect)) => {
                tracing::warn!(reason = ?disconnect.reason_code, "the broker disconnected");
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => self.waiters.sent(pkid),
            Event::Outgoing(Outgoing::AwaitAck(pkid)) => self.waiters.collided(pkid),
            Event::Outgoing(Outgoing::Disconnect) => return true,
            _ => {}
        }
        false
    }

    /// A message arrived: track it for its `PUBACK`, and add it to what was fetched.
    fn received(&mut self, publish: Publish, fetched: &mut Vec<(String, Received)>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let topic = String::from_utf8_lossy(&publish.topic).into_owned();
        let payload = (!publish.payload.is_empty()).then(|| publish.payload.clone());
        let binding = Binding::Mqtt(binding::inbound(&publish, &topic));
        let headers = publish
            .properties
            .as_ref()
            .map(|properties| headers::headers(&properties.user_properties))
            .unwrap_or_default();
        let message = IncomingMessage::new(headers, payload, Some(binding));
        self.acker.track(seq, publish);
        // A dead letter matched by a `+` filter is not for this server: acknowledge it.
        if self.dead_letter.is_dead_letter_address(&topic) && !self.exact.contains(&topic) {
            tracing::debug!(topic, "dead letter received: not consumed");
            self.acker.complete(seq);
            return;
        }
        let received = Received {
            seq,
            message,
            deliveries: 0,
        };
        fetched.push((topic, received));
    }

    /// Groups `fetched` into batches, one topic each, in order, `batch_size` at most.
    fn send_batches(&self, fetched: Vec<(String, Received)>) {
        let mut batches: Vec<Batch> = Vec::new();
        for (topic, received) in fetched {
            let open = batches
                .iter_mut()
                .rev()
                .find(|batch| batch.topic == topic)
                .filter(|batch| batch.messages.len() < self.batch_size);
            match open {
                Some(batch) => batch.messages.push(received),
                None => batches.push(Batch {
                    topic,
                    messages: vec![received],
                }),
            }
        }
        for batch in batches {
            if self.batches.send(batch).is_err() {
                return; // stopping: left unacknowledged, delivered again
            }
        }
    }
}
