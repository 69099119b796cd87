//! Core NATS: subscriptions (in a queue group when one is set), messages handed to the
//! application as they arrived, at most once.

use std::sync::Arc;

use amgi_core::batch::{BatchDispatcher, IncomingMessage};
use amgi_core::{Application, MessageScope, StateMap};
use amgi_server::{LANE_KEY_HEADER, StopSignal, run_in_lanes};
use futures_util::stream::SelectAll;
use futures_util::{FutureExt, StreamExt};

use crate::NatsConfig;
use crate::message::incoming;

/// The subscription loop of core NATS.
pub(crate) struct CoreConsumer<A> {
    pub(crate) dispatcher: Arc<BatchDispatcher<A>>,
    pub(crate) subscriptions: SelectAll<async_nats::Subscriber>,
    pub(crate) config: Arc<NatsConfig>,
    pub(crate) state: StateMap,
    pub(crate) stop: Arc<StopSignal>,
}

impl<A: Application> CoreConsumer<A> {
    /// Hands what arrives to the application until the server stops: the messages that arrived
    /// together (up to a batch size), one batch per run of messages of one subject. async-nats
    /// subscribes again after a reconnect; what was published meanwhile is lost.
    pub(crate) async fn run(mut self) {
        loop {
            let Some(next) = self.stop.run_until_stopped(self.subscriptions.next()).await else {
                return;
            };
            let Some(first) = next else {
                tracing::warn!("the NATS subscriptions ended (connection closed)");
                return;
            };
            let mut received = vec![first];
            while received.len() < self.config.batch_size {
                match self.subscriptions.next().now_or_never() {
                    Some(Some(message)) => received.push(message),
                    _ => break,
                }
            }
            self.dispatch(received).await;
        }
    }

    async fn dispatch(&self, received: Vec<async_nats::Message>) {
        let mut received = received.into_iter().peekable();
        while let Some(first) = received.next() {
            let subject = first.subject.clone();
            let mut batch = vec![incoming(first, true)];
            while let Some(next) = received.next_if(|next| next.subject == subject) {
                batch.push(incoming(next, true));
            }
            match self.config.lanes {
                None => self.handle(&subject, batch).await,
                Some(lanes) => {
                    run_in_lanes(
                        batch,
                        lanes,
                        |message: &IncomingMessage| {
                            message.headers.get(LANE_KEY_HEADER.as_bytes()).cloned()
                        },
                        |message| self.handle(&subject, vec![message]),
                        |()| {},
                    )
                    .await;
                }
            }
        }
    }

    /// Dispatches one batch. Outcomes settle nothing: a nack is logged, and the message is
    /// gone.
    async fn handle(&self, subject: &str, batch: Vec<IncomingMessage>) {
        let scope = MessageScope::new(subject).with_state(self.state.clone());
        let report = self.dispatcher.dispatch(scope, batch).await;
        for outcome in &report.outcomes {
            if let Some(reason) = outcome.nack_reason() {
                tracing::warn!(
                    subject,
                    reason,
                    "message nacked: core NATS is at most once, it is not redelivered"
                );
            }
        }
    }
}
