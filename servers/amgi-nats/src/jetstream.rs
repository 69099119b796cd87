//! JetStream: a durable pull consumer per subject filter, at least once. Ack → `+ACK`; nack →
//! `-NAK` with the retry delay; the last delivery or a nack that asks for no retry → the dead
//! letter on `<subject>.dlq`, then `+TERM`. "In progress" acks extend the ack wait while a
//! handler runs.

use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, IncomingMessage};
use amgi_core::extension::NackRetrySupport;
use amgi_core::{Application, Headers, MessageScope, StateMap};
use amgi_server::{
    DeadLetterOrigin, LANE_KEY_HEADER, Settlement, StopSignal, dead_letter_headers, run_in_lanes,
};
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::{AckKind, Acker};
use async_nats::jetstream::stream::Stream;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use crate::publisher::NatsPublisher;
use crate::{NatsConfig, NatsError, NatsErrorKind, headers, message};

/// The dead-letter header naming the message's sequence number in its stream.
pub const STREAM_SEQUENCE_HEADER: &str = "amgi-dead-letter-stream-sequence";

/// Heartbeat of a pull: a missed one means the connection or the consumer is gone.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a pull request waits on the server.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// Wait before creating the pull again after it failed.
const RETRY_PULL: Duration = Duration::from_secs(1);

/// The durable name of the consumer of `filter`: the configured name when there is one filter,
/// `<durable>-<filter>` (characters a name cannot hold as `_`) for each of several, since NATS
/// 2.9 consumers have one filter subject.
pub(crate) fn durable_name(durable: &str, filter: &str, filters: usize) -> String {
    if filters <= 1 {
        return durable.to_owned();
    }
    let filter: String = filter
        .chars()
        .map(|c| match c {
            '*' => 'S',
            '>' => 'G',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => c,
            _ => '_',
        })
        .collect();
    format!("{durable}-{filter}")
}

/// Gets the durable consumer, or creates it: explicit acks, the configured ack wait, no
/// delivery limit on the server (this server dead-letters after its own `max_deliveries`).
pub(crate) async fn consumer(
    stream: &Stream,
    name: &str,
    filter: &str,
    config: &NatsConfig,
    ack_wait: Duration,
) -> Result<PullConsumer, NatsError> {
    let consumer_config = pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject: filter.to_owned(),
        ack_policy: AckPolicy::Explicit,
        ack_wait,
        max_deliver: -1,
        max_ack_pending: i64::try_from(config.batch_size * 4)
            .unwrap_or(i64::MAX)
            .max(1000),
        ..Default::default()
    };
    stream
        .get_or_create_consumer(name, consumer_config)
        .await
        .map_err(|error| {
            NatsError::new(
                NatsErrorKind::Subscribe,
                format!(
                    "cannot get or create the JetStream consumer `{name}` (filter `{filter}`) on \
                     stream `{}`: {error}",
                    stream.cached_info().config.name
                ),
                Some(Box::new(error)),
            )
        })
}

/// One delivered message until it is settled.
struct Pending {
    acker: Acker,
    subject: String,
    /// JetStream's delivery count, this delivery included.
    delivered: u32,
    stream_sequence: u64,
    message: Option<IncomingMessage>,
    /// The headers and payload as received, for a dead letter.
    original: (Headers, Option<Bytes>),
}

/// The fetch loop of one pull consumer.
pub(crate) struct JetStreamConsumer<A> {
    pub(crate) dispatcher: Arc<BatchDispatcher<A>>,
    pub(crate) consumer: PullConsumer,
    pub(crate) publisher: Arc<NatsPublisher>,
    pub(crate) config: Arc<NatsConfig>,
    pub(crate) state: StateMap,
    pub(crate) stop: Arc<StopSignal>,
}

impl<A: Application> JetStreamConsumer<A> {
    fn name(&self) -> &str {
        self.consumer.cached_info().name.as_str()
    }

    /// Pulls and handles batches until the server stops; a pull that fails (connection lost,
    /// consumer deleted) is logged and made again.
    pub(crate) async fn run(self) {
        let mut failing = false;
        loop {
            let pulling = self
                .consumer
                .stream()
                .max_messages_per_batch(self.config.batch_size)
                .heartbeat(HEARTBEAT)
                .expires(PULL_EXPIRES)
                .messages();
            let mut messages = match self.stop.run_until_stopped(pulling).await {
                None => return,
                Some(Ok(messages)) => messages,
                Some(Err(error)) => {
                    if !failing {
                        tracing::warn!(consumer = self.name(), %error,
                            "cannot pull from JetStream: trying again");
                    }
                    failing = true;
                    if self
                        .stop
                        .run_until_stopped(tokio::time::sleep(RETRY_PULL))
                        .await
                        .is_none()
                    {
                        return;
                    }
                    continue;
                }
            };
            if failing {
                tracing::info!(consumer = self.name(), "pulling from JetStream again");
                failing = false;
            }
            loop {
                let Some(next) = self.stop.run_until_stopped(messages.next()).await else {
                    return;
                };
                let first = match next {
                    None => break,
                    Some(Err(error)) => {
                        // A missed heartbeat while NATS is away; the pull goes on after a
                        // reconnect.
                        if !failing {
                            tracing::warn!(consumer = self.name(), %error,
                                "JetStream pull interrupted: waiting for it to resume");
                        }
                        failing = true;
                        continue;
                    }
                    Some(Ok(message)) => message,
                };
                if failing {
                    tracing::info!(consumer = self.name(), "JetStream pull resumed");
                    failing = false;
                }
                let mut received = vec![first];
                while received.len() < self.config.batch_size {
                    match messages.next().now_or_never() {
                        Some(Some(Ok(message))) => received.push(message),
                        _ => break,
                    }
                }
                self.deliver(received).await;
            }
        }
    }

    /// Settles what needs no delivery (dead letters seen by a wildcard, messages delivered too
    /// often already), then hands the rest over, one batch per run of one subject.
    async fn deliver(&self, received: Vec<async_nats::jetstream::Message>) {
        let mut pending: Vec<Pending> = Vec::with_capacity(received.len());
        for message in received {
            let (delivered, stream_sequence) = message.info().map_or((1, 0), |info| {
                (
                    u32::try_from(info.delivered).unwrap_or(1),
                    info.stream_sequence,
                )
            });
            let (message, acker) = message.split();
            let subject = message.subject.to_string();
            let wildcard = self.consumer.cached_info().config.filter_subject != subject;
            if wildcard && self.config.dead_letter.is_dead_letter_address(&subject) {
                tracing::debug!(%subject, "a dead letter matched the consumer's filter: acked");
                ack(&acker, AckKind::Ack).await;
                continue;
            }
            let incoming = message::incoming(message, false);
            let original = (incoming.headers.clone(), incoming.payload.clone());
            let entry = Pending {
                acker,
                subject,
                delivered,
                stream_sequence,
                message: Some(incoming),
                original,
            };
            if delivered > self.config.retry.max_deliveries.max(1) {
                let reason = format!(
                    "delivered {} times without being settled (the server stopped each time)",
                    delivered - 1
                );
                self.dead_letter(entry, &reason).await;
                continue;
            }
            pending.push(entry);
        }
        let mut pending = pending.into_iter().peekable();
        while let Some(first) = pending.next() {
            let subject = first.subject.clone();
            let mut run = vec![first];
            while let Some(next) = pending.next_if(|next| next.subject == subject) {
                run.push(next);
            }
            match self.config.lanes {
                None => self.handle(&subject, run).await,
                Some(lanes) => {
                    run_in_lanes(
                        run,
                        lanes,
                        |entry: &Pending| {
                            let message = entry.message.as_ref()?;
                            message.headers.get(LANE_KEY_HEADER.as_bytes()).cloned()
                        },
                        |entry| self.handle(&subject, vec![entry]),
                        |()| {},
                    )
                    .await;
                }
            }
        }
    }

    /// Dispatches one batch, sending "in progress" acks while it runs, then settles each
    /// message.
    async fn handle(&self, subject: &str, mut run: Vec<Pending>) {
        let scope = MessageScope::new(subject)
            .with_state(self.state.clone())
            .with_extension(NackRetrySupport);
        let messages = run
            .iter_mut()
            .map(|entry| entry.message.take().unwrap_or_default())
            .collect();
        let ack_wait = self.consumer.cached_info().config.ack_wait;
        let every = (ack_wait / 3).max(Duration::from_millis(50));
        let dispatch = self.dispatcher.dispatch(scope, messages);
        tokio::pin!(dispatch);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let report = loop {
            tokio::select! {
                report = &mut dispatch => break report,
                _ = ticker.tick(), if !self.stop.is_set() => {
                    // Once the server stops, no more: what is still in hand then is delivered
                    // again after the ack wait.
                    tracing::debug!(subject, messages = run.len(), "in progress: extending the ack wait");
                    for entry in &run {
                        ack(&entry.acker, AckKind::Progress).await;
                    }
                }
            }
        };
        for (entry, outcome) in run.into_iter().zip(report.outcomes) {
            match self.config.retry.settle(outcome, entry.delivered) {
                Settlement::Ack => ack(&entry.acker, AckKind::Ack).await,
                Settlement::Redeliver { delay, .. } => {
                    let delay = (!delay.is_zero()).then_some(delay);
                    ack(&entry.acker, AckKind::Nak(delay)).await;
                }
                Settlement::DeadLetter(reason) => self.dead_letter(entry, &reason).await,
            }
        }
    }

    /// Publishes the dead letter (with the dead-letter headers and the stream sequence), then
    /// terminates the message. A dead letter NATS refuses leaves it to be delivered again.
    async fn dead_letter(&self, entry: Pending, reason: &str) {
        let subject = entry.subject.as_str();
        let Some(to) = self.config.dead_letter.address_for(subject) else {
            tracing::error!(subject, reason, "dead-lettering is disabled: dropped");
            ack(&entry.acker, AckKind::Term).await;
            return;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries: entry.delivered,
            address: subject,
        };
        let extra = [(STREAM_SEQUENCE_HEADER, entry.stream_sequence.to_string())];
        let (original, payload) = entry.original;
        let headers = dead_letter_headers(&original, origin, &extra);
        let sent = match headers::to_nats(&headers) {
            Ok(headers) => {
                self.publisher
                    .send(&to, headers, payload.unwrap_or_default(), None)
                    .await
            }
            Err(error) => Err(error),
        };
        match sent {
            Ok(()) => {
                tracing::warn!(subject, dead_letter_subject = %to, reason, "message dead-lettered");
                ack(&entry.acker, AckKind::Term).await;
            }
            Err(error) => {
                tracing::error!(subject, dead_letter_subject = %to, %error,
                    "dead letter not published: the message will be delivered again");
                ack(
                    &entry.acker,
                    AckKind::Nak(Some(self.config.retry.max_backoff)),
                )
                .await;
            }
        }
    }
}

/// Sends an acknowledgement of `kind`; a failure is logged (the message is delivered again
/// after the ack wait).
async fn ack(acker: &Acker, kind: AckKind) {
    if let Err(error) = acker.ack_with(kind).await {
        tracing::warn!(%error, ?kind, "acknowledgement not sent: the message may be delivered again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_filters_get_one_durable_each() {
        assert_eq!(durable_name("billing", "orders.*", 1), "billing");
        assert_eq!(durable_name("billing", "orders.*", 2), "billing-orders_S");
        assert_eq!(durable_name("b", "a.>", 2), "b-a_G");
    }
}
