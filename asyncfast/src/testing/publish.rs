//! Builders for test publishes.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use amgi_core::batch::IncomingMessage;
use amgi_core::{Binding, MessageScope};
use bytes::Bytes;
use serde::Serialize;

use super::{BatchOutcome, PublishOutcome, TestClient};

/// One message to publish in a test: headers, payload, binding.
///
/// ```
/// use asyncfast::testing::TestMessage;
///
/// let message = TestMessage::new()
///     .header("correlation-id", "c-1")
///     .json(&serde_json::json!({"id": 1}));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TestMessage {
    message: IncomingMessage,
}

impl TestMessage {
    /// A message with no headers, payload or binding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header.
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.message.headers.append(name, value);
        self
    }

    /// Sets the payload to `value` as JSON.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize.
    pub fn json(self, value: &impl Serialize) -> Self {
        let json = serde_json::to_vec(value).expect("the test payload serializes to JSON");
        self.payload(json)
    }

    /// Sets the raw payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.message.payload = Some(payload.into());
        self
    }

    /// Sets the protocol binding.
    pub fn binding(mut self, binding: impl Into<Binding>) -> Self {
        self.message.binding = Some(binding.into());
        self
    }

    pub(crate) fn into_incoming(self) -> IncomingMessage {
        self.message
    }
}

/// A publish of one message; `.await` it to get a [`PublishOutcome`].
#[derive(Debug)]
#[must_use = "a publish does nothing until awaited"]
pub struct Publish<'c> {
    client: &'c TestClient,
    address: String,
    message: TestMessage,
}

impl<'c> Publish<'c> {
    pub(crate) fn new(client: &'c TestClient, address: String) -> Self {
        Self {
            client,
            address,
            message: TestMessage::new(),
        }
    }

    /// Appends a header.
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.message = self.message.header(name, value);
        self
    }

    /// Sets the payload to `value` as JSON.
    pub fn json(mut self, value: &impl Serialize) -> Self {
        self.message = self.message.json(value);
        self
    }

    /// Sets the raw payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.message = self.message.payload(payload);
        self
    }

    /// Sets the protocol binding.
    pub fn binding(mut self, binding: impl Into<Binding>) -> Self {
        self.message = self.message.binding(binding);
        self
    }
}

impl<'c> IntoFuture for Publish<'c> {
    type Output = PublishOutcome;
    type IntoFuture = Pin<Box<dyn Future<Output = PublishOutcome> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let scope = MessageScope::new(self.address);
            let (mut report, sent) = self
                .client
                .dispatch(scope, vec![self.message.into_incoming()])
                .await;
            let outcome = report.outcomes.pop().expect("one outcome per message");
            PublishOutcome::new(outcome, sent)
        })
    }
}

/// A publish of several messages as one batch; `.await` it to get a [`BatchOutcome`].
#[derive(Debug)]
#[must_use = "a publish does nothing until awaited"]
pub struct PublishBatch<'c> {
    client: &'c TestClient,
    address: String,
    messages: Vec<TestMessage>,
    ordered: bool,
}

impl<'c> PublishBatch<'c> {
    pub(crate) fn new(client: &'c TestClient, address: String) -> Self {
        Self {
            client,
            address,
            messages: Vec::new(),
            ordered: false,
        }
    }

    /// Adds a message.
    pub fn message(mut self, message: TestMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Adds messages.
    pub fn messages(mut self, messages: impl IntoIterator<Item = TestMessage>) -> Self {
        self.messages.extend(messages);
        self
    }

    /// Marks the batch as ordered (one Kafka partition, one SQS FIFO group).
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }
}

impl<'c> IntoFuture for PublishBatch<'c> {
    type Output = BatchOutcome;
    type IntoFuture = Pin<Box<dyn Future<Output = BatchOutcome> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let scope = MessageScope::new(self.address).ordered(self.ordered);
            let messages = self
                .messages
                .into_iter()
                .map(TestMessage::into_incoming)
                .collect();
            let (report, sent) = self.client.dispatch(scope, messages).await;
            BatchOutcome::new(report.outcomes, sent)
        })
    }
}
