//! Pub/Sub mode: `SUBSCRIBE` to channels and `PSUBSCRIBE` to patterns, each message's payload
//! handed to the application as it is, at most once; resubscribes after Redis went away.

use std::sync::Arc;

use amgi_core::batch::{BatchDispatcher, IncomingMessage};
use amgi_core::{Application, Headers, MessageScope, RedisBinding, StateMap};
use amgi_server::StopSignal;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use redis::Msg;

use crate::RedisConfig;
use crate::connection::Outage;

/// The subscription loop of Pub/Sub mode.
pub(crate) struct Subscriber<A> {
    pub(crate) dispatcher: Arc<BatchDispatcher<A>>,
    pub(crate) client: redis::Client,
    pub(crate) config: Arc<RedisConfig>,
    pub(crate) state: StateMap,
    pub(crate) stop: Arc<StopSignal>,
    pub(crate) url: String,
}

impl<A: Application> Subscriber<A> {
    /// Subscribes, then hands the messages to the application (up to a batch size of those
    /// already received at once, one batch per run of messages of the same channel) until the
    /// server stops. When the connection drops it subscribes again: what was published
    /// meanwhile is lost (Pub/Sub keeps nothing).
    pub(crate) async fn run(self) {
        let mut outage = Outage::new("Pub/Sub subscription".to_owned(), self.url.clone());
        loop {
            let subscribing = self.stop.run_until_stopped(self.subscribe()).await;
            let mut messages = match subscribing {
                None => return,
                Some(Ok(pubsub)) => {
                    outage.succeeded();
                    pubsub.into_on_message()
                }
                Some(Err(error)) => {
                    if outage.failed(error.to_string(), &self.stop).await {
                        continue;
                    }
                    return;
                }
            };
            loop {
                let Some(next) = self.stop.run_until_stopped(messages.next()).await else {
                    return;
                };
                let Some(first) = next else {
                    break; // the connection is gone
                };
                let mut received = vec![first];
                while received.len() < self.config.batch_size {
                    match messages.next().now_or_never() {
                        Some(Some(message)) => received.push(message),
                        _ => break,
                    }
                }
                self.dispatch(received).await;
            }
            if !outage
                .failed("the subscription connection closed".to_owned(), &self.stop)
                .await
            {
                return;
            }
        }
    }

    /// A connection subscribed to every channel and pattern of the configuration.
    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let connecting = self.client.get_async_pubsub();
        let mut pubsub = match tokio::time::timeout(self.config.connect_timeout, connecting).await {
            Ok(connected) => connected?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connecting for Pub/Sub timed out",
                )
                .into());
            }
        };
        if !self.config.streams.is_empty() {
            pubsub.subscribe(&self.config.streams).await?;
        }
        if !self.config.patterns.is_empty() {
            pubsub.psubscribe(&self.config.patterns).await?;
        }
        Ok(pubsub)
    }

    /// Dispatches `received`, one batch per run of messages of one channel. Outcomes settle
    /// nothing: a nack is logged, and the message is gone.
    async fn dispatch(&self, received: Vec<Msg>) {
        let mut received = received.into_iter().peekable();
        while let Some(first) = received.next() {
            let channel = first.get_channel_name().to_owned();
            let mut batch = vec![message(&first)];
            while let Some(next) = received.next_if(|next| next.get_channel_name() == channel) {
                batch.push(message(&next));
            }
            let scope = MessageScope::new(channel.as_str()).with_state(self.state.clone());
            let report = self.dispatcher.dispatch(scope, batch).await;
            for outcome in &report.outcomes {
                if let Some(reason) = outcome.nack_reason() {
                    tracing::warn!(%channel, reason,
                        "message nacked: Pub/Sub is at most once, it is not redelivered");
                }
            }
        }
    }
}

/// The message of a Pub/Sub delivery: its payload, no headers, the channel in the binding.
fn message(delivery: &Msg) -> IncomingMessage {
    let binding = RedisBinding::default().stream(delivery.get_channel_name());
    IncomingMessage::new(
        Headers::new(),
        Some(Bytes::copy_from_slice(delivery.get_payload_bytes())),
        Some(binding.into()),
    )
}
