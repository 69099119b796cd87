//! What the tests against moto share: a client (static test credentials, counting its calls),
//! unique queue names, and sending and receiving from outside the server.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amgi_server::{Deadlines, RetryPolicy};
use amgi_sqs::SqsConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};

pub mod app;

/// The moto the tests use.
pub const ENDPOINT: &str = "http://127.0.0.1:4566";

/// How to start it.
pub const START: &str =
    "scripts/brokers-up (moto[server]==5.2.5: moto_server -H 127.0.0.1 -p 4566)";

/// A bound on every wait.
pub const WAIT: Duration = Duration::from_secs(15);

/// Counts the SQS calls of a client by operation (`DeleteMessageBatch`, …).
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<HashMap<String, usize>>>);

impl Calls {
    pub fn get(&self, operation: &str) -> usize {
        self.0.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A client of moto, counting its calls into `calls`.
pub fn client_with(calls: &Calls) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(ENDPOINT)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .interceptor(calls.clone())
        .build();
    Client::from_conf(config)
}

/// A client of moto.
pub fn client() -> Client {
    client_with(&Calls::default())
}

/// Fails (never skips) when moto is not there, naming the command that starts it.
pub async fn require_moto() -> Client {
    let client = client();
    let listed = tokio::time::timeout(Duration::from_secs(5), client.list_queues().send()).await;
    match listed {
        Ok(Ok(_)) => client,
        Ok(Err(error)) => panic!(
            "no SQS (moto) on {ENDPOINT} ({}); start it with {START}",
            aws_sdk_sqs::error::DisplayErrorContext(error)
        ),
        Err(elapsed) => panic!("no SQS (moto) on {ENDPOINT} ({elapsed}); start it with {START}"),
    }
}

/// A queue name no other test (of this run or an earlier one) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Creates the queue `name` with `attributes`, returning its URL.
pub async fn create_queue(name: &str, attributes: &[(QueueAttributeName, &str)]) -> String {
    let mut create = client().create_queue().queue_name(name);
    if std::path::Path::new(name)
        .extension()
        .is_some_and(|e| e == "fifo")
    {
        create = create.attributes(QueueAttributeName::FifoQueue, "true");
    }
    for (attribute, value) in attributes {
        create = create.attributes(attribute.clone(), *value);
    }
    let output = create.send().await.expect("CreateQueue");
    output.queue_url().unwrap().to_owned()
}

/// Sends `body` to the queue at `url` as another producer would.
pub async fn send(url: &str, body: &str) {
    client()
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage");
}

/// Sends `body` to the FIFO queue at `url` in `group`.
pub async fn send_fifo(url: &str, group: &str, body: &str) {
    client()
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(unique("dedup"))
        .send()
        .await
        .expect("SendMessage");
}

/// Receives what the queue at `url` holds now (short poll of `wait` seconds, at most 10).
pub async fn receive(url: &str, wait: i32) -> Vec<Message> {
    client()
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default()
}

/// The URL of the queue `name`, if it exists.
pub async fn queue_url(name: &str) -> Option<String> {
    client()
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.queue_url().map(str::to_owned))
}

/// How many messages of the queue are in flight (received, not deleted, not yet visible again).
pub async fn in_flight(url: &str) -> usize {
    let output = client()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    output
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// How many messages the queue holds, visible or not.
pub async fn depth(url: &str) -> usize {
    let output = client()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes");
    let attributes = output.attributes().unwrap();
    let count = |name: QueueAttributeName| -> usize {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        + count(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
}

/// A message attribute's text.
pub fn attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()?
        .get(name)?
        .string_value()
        .map(str::to_owned)
}

/// A configuration for tests: moto, short polls, fast retries.
pub fn config(calls: &Calls) -> SqsConfig {
    SqsConfig::new()
        .client(client_with(calls))
        .endpoint_url(ENDPOINT)
        .wait_time(Duration::from_secs(1))
        .retry(RetryPolicy::new(3).backoff(Duration::ZERO, Duration::ZERO))
        .deadlines(Deadlines::default().drain(Duration::from_secs(5)))
}

/// Polls `check` every 100 ms until it holds, failing after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The next item, or a failed test after [`WAIT`].
pub async fn next<T>(receiver: &mut tokio::sync::mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, receiver.recv())
        .await
        .expect("nothing within the wait")
        .expect("channel closed")
}
