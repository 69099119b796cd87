//! The connection: rumqttc's event loop, driven by one task, and the `PUBACK`s of consumed
//! messages, sent in the order the messages arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::Binding;
use amgi_core::batch::IncomingMessage;
use amgi_server::{DeadLetterPolicy, OffsetTracker};
use tokio::sync::{mpsc, oneshot};

use crate::client::{Client, ConnectionError, Delivery, EventLoop, Happening, Incoming};
use crate::error::MqttErrorKind;
use crate::publisher::Waiters;
use crate::{MqttError, Qos};

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
    out: mpsc::UnboundedSender<Option<Delivery>>,
}

#[derive(Debug, Default)]
struct AckerInner {
    tracker: OffsetTracker,
    held: std::collections::VecDeque<(i64, Delivery)>,
}

impl Acker {
    /// An acker, and the task that hands its `PUBACK`s to `client`, in order. The task ends
    /// after [`Acker::close`], once every `PUBACK` before it was handed over.
    pub(crate) fn start(client: Client) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (out, mut acks) = mpsc::unbounded_channel::<Option<Delivery>>();
        let task = tokio::spawn(async move {
            while let Some(Some(delivery)) = acks.recv().await {
                if client.ack(&delivery).await.is_err() {
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

    /// Records `delivery`, arrived as number `seq` (ascending).
    fn track(&self, seq: i64, delivery: Delivery) {
        let mut inner = self.lock();
        if inner.tracker.track(seq) {
            inner.held.push_back((seq, delivery));
        }
    }

    /// Message `seq` is finished: `PUBACK` it and every finished one before it.
    pub(crate) fn complete(&self, seq: i64) {
        let mut inner = self.lock();
        let Some(position) = inner.tracker.complete(seq) else {
            return;
        };
        while inner.held.front().is_some_and(|&(held, _)| held < position) {
            if let Some((_, delivery)) = inner.held.pop_front() {
                let _ = self.out.send(Some(delivery));
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
    tls: bool,
) -> Result<(), MqttError> {
    let unreachable = |detail: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        let tls = if tls {
            "; with TLS, check that the broker listens with TLS there, that --ca-file holds the \
             authority that signed its certificate, and that the certificate names the host"
        } else {
            ""
        };
        MqttError::new(
            MqttErrorKind::Unreachable,
            format!(
                "no MQTT broker answered on {address} ({detail}); check --host and --port, or \
                 start one (`mosquitto -d`){tls}"
            ),
            source,
        )
    };
    let connected = tokio::time::timeout(timeout, async {
        loop {
            if let Happening::ConnAck { .. } = eventloop.poll().await? {
                return Ok::<(), ConnectionError>(());
            }
        }
    })
    .await;
    match connected {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if refused_credentials(&*error) => Err(MqttError::new(
            MqttErrorKind::Unreachable,
            format!(
                "the MQTT broker on {address} refused the credentials ({error}); check \
                 --username and the password in the variable named by --password-env"
            ),
            Some(error),
        )),
        Ok(Err(error)) => Err(unreachable(error.to_string(), Some(error))),
        Err(_) => Err(unreachable(format!("nothing within {timeout:?}"), None)),
    }
}

/// Whether the broker's `CONNACK` refused the client's username or password (MQTT 5
/// `NotAuthorized` / `BadUserNamePassword`, MQTT 3.1.1 `NotAuthorized` / `BadUserNamePassword`).
fn refused_credentials(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as V5;
    if let Some(rumqttc::v5::ConnectionError::ConnectionRefused(code)) = error.downcast_ref() {
        return matches!(code, V5::NotAuthorized | V5::BadUserNamePassword);
    }
    if let Some(rumqttc::ConnectionError::ConnectionRefused(code)) = error.downcast_ref() {
        return matches!(
            code,
            rumqttc::ConnectReturnCode::NotAuthorized
                | rumqttc::ConnectReturnCode::BadUserNamePassword
        );
    }
    false
}

/// Drives the event loop: pairs publishes with their `PUBACK`s, groups consumed messages into
/// batches, and subscribes again on a reconnect that lost the session.
pub(crate) struct Driver {
    pub(crate) eventloop: EventLoop,
    pub(crate) client: Client,
    pub(crate) filters: Vec<String>,
    pub(crate) qos: Qos,
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
                let Some(event) = self.eventloop.buffered() else {
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
    fn handle(&mut self, event: Happening, fetched: &mut Vec<(String, Received)>) -> bool {
        match event {
            Happening::Publish(incoming) => self.received(*incoming, fetched),
            Happening::PubAck(pkid, answer) | Happening::PubComp(pkid, answer) => {
                self.waiters.answer(pkid, answer);
            }
            // Only a refusal completes a QoS 2 publish at PUBREC.
            Happening::PubRec(pkid, Err(refused)) => self.waiters.answer(pkid, Err(refused)),
            Happening::SubAck(answers) => self.subscribed(&answers),
            Happening::ConnAck { session_present } => {
                if !session_present && !self.filters.is_empty() {
                    tracing::warn!("the broker lost the session: subscribing again");
                    if let Err(error) = self.client.try_subscribe(&self.filters, self.qos) {
                        tracing::error!(%error, "subscribing again failed");
                    }
                }
            }
            Happening::Disconnect(reason) => {
                tracing::warn!(reason, "the broker disconnected");
            }
            Happening::Sent(pkid) => self.waiters.sent(pkid),
            Happening::Collided(pkid) => self.waiters.collided(pkid),
            Happening::Closed => return true,
            Happening::PubRec(_, Ok(())) | Happening::Other => {}
        }
        false
    }

    /// The broker answered a subscription.
    fn subscribed(&mut self, answers: &[Result<(), String>]) {
        let refused: Vec<_> = answers
            .iter()
            .zip(&self.filters)
            .filter_map(|(answer, filter)| {
                answer
                    .as_ref()
                    .err()
                    .map(|reason| format!("`{filter}` ({reason})"))
            })
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

    /// A message arrived: track it for its `PUBACK`, and add it to what was fetched.
    fn received(&mut self, incoming: Incoming, fetched: &mut Vec<(String, Received)>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let Incoming {
            topic,
            payload,
            headers,
            binding,
            delivery,
        } = incoming;
        let payload = (!payload.is_empty()).then_some(payload);
        let message = IncomingMessage::new(headers, payload, Some(Binding::Mqtt(binding)));
        self.acker.track(seq, delivery);
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
