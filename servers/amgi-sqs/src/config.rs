//! [`SqsConfig`]: which queues, which endpoint, how long to poll, how often to deliver.

use std::fmt;
use std::time::Duration;

use amgi_server::{Deadlines, RetryPolicy};

use crate::Error;

/// Default long-poll wait of one `ReceiveMessage` (the SQS maximum).
pub const DEFAULT_WAIT_TIME: Duration = Duration::from_secs(20);

/// Default (and largest) number of messages of one `ReceiveMessage`, i.e. of one batch.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// Default number of batches of one queue handled at once.
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// Default time an ack or a send waits for others to share its `DeleteMessageBatch` or
/// `SendMessageBatch` call.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

/// Default suffix of the dead-letter queue the server creates when a queue has no
/// `RedrivePolicy`: `orders` dead-letters to `orders-dlq` (`orders.fifo` to `orders-dlq.fifo`).
pub const DEFAULT_DEAD_LETTER_SUFFIX: &str = "-dlq";

/// Default bound of the calls made at start (`GetQueueUrl`, `GetQueueAttributes`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One address and the queue it is consumed from and sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMapping {
    /// The application's address (`user.created`).
    pub address: String,
    /// A queue name (`user-created`, `orders.fifo`) or a queue URL.
    pub queue: String,
}

impl QueueMapping {
    /// Parses `ADDRESS=QUEUE` (a queue name or URL), or a plain `QUEUE` naming both.
    ///
    /// ```
    /// use amgi_sqs::QueueMapping;
    ///
    /// let mapping = QueueMapping::parse("user.created=user-created");
    /// assert_eq!((mapping.address.as_str(), mapping.queue.as_str()), ("user.created", "user-created"));
    /// let plain = QueueMapping::parse("orders");
    /// assert_eq!((plain.address.as_str(), plain.queue.as_str()), ("orders", "orders"));
    /// ```
    pub fn parse(text: &str) -> Self {
        match text.split_once('=') {
            Some((address, queue)) => Self {
                address: address.to_owned(),
                queue: queue.to_owned(),
            },
            None => Self {
                address: text.to_owned(),
                queue: text.to_owned(),
            },
        }
    }
}

/// Whether the queue `name` is a FIFO queue's (SQS names are case-sensitive: only `.fifo`).
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub(crate) fn is_fifo_name(name: &str) -> bool {
    name.ends_with(".fifo")
}

/// Whether `queue` is a queue URL rather than a name.
pub(crate) fn is_url(queue: &str) -> bool {
    queue.starts_with("http://") || queue.starts_with("https://")
}

/// Whether `name` is a valid SQS queue name: 1 to 80 characters, letters, digits, `-` and `_`,
/// with an optional `.fifo` suffix.
///
/// ```
/// use amgi_sqs::is_valid_queue_name;
///
/// assert!(is_valid_queue_name("user-created"));
/// assert!(is_valid_queue_name("orders.fifo"));
/// assert!(!is_valid_queue_name("user.created"));
/// ```
pub fn is_valid_queue_name(name: &str) -> bool {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    !stem.is_empty()
        && name.len() <= 80
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What an SQS server consumes and how.
///
/// ```no_run
/// use std::time::Duration;
/// use amgi_sqs::SqsConfig;
///
/// let config = SqsConfig::new()
///     .queue("orders")
///     .map("user.created", "user-created")
///     .endpoint_url("http://127.0.0.1:4566")
///     .region("us-east-1")
///     .wait_time(Duration::from_secs(1))
///     .max_deliveries(3);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SqsConfig {
    /// Addresses consumed, and their queues (messages sent to them go there too).
    pub queues: Vec<QueueMapping>,
    /// Addresses only sent to, and their queues. An address in neither list is sent to the
    /// queue of its own name.
    pub routes: Vec<QueueMapping>,
    /// The endpoint (`http://127.0.0.1:4566` for moto or `LocalStack`); `None`: AWS's own.
    pub endpoint_url: Option<String>,
    /// The region; `None`: from the standard chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// A client built by the program (custom credentials, interceptors); it replaces the one
    /// built from the standard AWS chain, `endpoint_url` and `region`.
    pub client: Option<aws_sdk_sqs::Client>,
    /// Long-poll wait of one `ReceiveMessage`, 0 to 20 s (default [`DEFAULT_WAIT_TIME`]).
    pub wait_time: Duration,
    /// The visibility timeout asked for on receive; `None`: the queue's own.
    pub visibility_timeout: Option<Duration>,
    /// Messages of one `ReceiveMessage`, 1 to 10 (default [`DEFAULT_BATCH_SIZE`]).
    pub batch_size: usize,
    /// Batches of one queue handled at once (default [`DEFAULT_IN_FLIGHT`]).
    pub in_flight: usize,
    /// Deliveries and backoff; with a `RedrivePolicy` on the queue, its `maxReceiveCount`
    /// rules instead of `max_deliveries`.
    pub retry: RetryPolicy,
    /// Suffix of the dead-letter queue of a queue without `RedrivePolicy`.
    pub dead_letter_suffix: String,
    /// How long acks and sends wait for others to share a batch call.
    pub linger: Duration,
    /// Drain and close deadlines of a graceful shutdown.
    pub deadlines: Deadlines,
    /// Bound of each call made at start.
    pub connect_timeout: Duration,
}

impl fmt::Debug for SqsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsConfig")
            .field("queues", &self.queues)
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("client", &self.client.as_ref().map(|_| "custom"))
            .field("wait_time", &self.wait_time)
            .field("visibility_timeout", &self.visibility_timeout)
            .field("batch_size", &self.batch_size)
            .field("in_flight", &self.in_flight)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for SqsConfig {
    fn default() -> Self {
        Self {
            queues: Vec::new(),
            routes: Vec::new(),
            endpoint_url: None,
            region: None,
            client: None,
            wait_time: DEFAULT_WAIT_TIME,
            visibility_timeout: None,
            batch_size: DEFAULT_BATCH_SIZE,
            in_flight: DEFAULT_IN_FLIGHT,
            retry: RetryPolicy::default(),
            dead_letter_suffix: DEFAULT_DEAD_LETTER_SUFFIX.to_owned(),
            linger: DEFAULT_LINGER,
            deadlines: Deadlines::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl SqsConfig {
    /// A configuration without queues, with the defaults.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().queue("orders");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes the queue `name` as the address `name`.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().queue("orders").queue("payments.fifo");
    /// ```
    #[must_use]
    pub fn queue(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.map(name.clone(), name)
    }

    /// Consumes `queue` (a name or a URL) as `address`; messages sent to `address` go there.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().map("user.created", "user-created");
    /// ```
    #[must_use]
    pub fn map(mut self, address: impl Into<String>, queue: impl Into<String>) -> Self {
        self.queues.push(QueueMapping {
            address: address.into(),
            queue: queue.into(),
        });
        self
    }

    /// Sends messages of `address` to `queue` (a name or a URL) without consuming it.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().queue("orders").route("user.created", "user-created");
    /// ```
    #[must_use]
    pub fn route(mut self, address: impl Into<String>, queue: impl Into<String>) -> Self {
        self.routes.push(QueueMapping {
            address: address.into(),
            queue: queue.into(),
        });
        self
    }

    /// Sets the endpoint (moto, `LocalStack`, a VPC endpoint).
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().endpoint_url("http://127.0.0.1:4566");
    /// ```
    #[must_use]
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets the region.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().region("eu-west-1");
    /// ```
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Uses `client` instead of one built from the standard AWS chain.
    ///
    /// ```no_run
    /// # fn f(client: aws_sdk_sqs::Client) {
    /// let config = amgi_sqs::SqsConfig::new().client(client);
    /// # }
    /// ```
    #[must_use]
    pub fn client(mut self, client: aws_sdk_sqs::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets the long-poll wait (0 to 20 s, whole seconds).
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().wait_time(std::time::Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait;
        self
    }

    /// Asks for this visibility timeout on every receive (whole seconds).
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().visibility_timeout(std::time::Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout);
        self
    }

    /// Sets the messages of one receive, 1 to 10.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().batch_size(5);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Sets the batches of one queue handled at once.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().in_flight(8);
    /// ```
    #[must_use]
    pub fn in_flight(mut self, batches: usize) -> Self {
        self.in_flight = batches;
        self
    }

    /// Sets the retry policy.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let retry = amgi_server::RetryPolicy::new(3).backoff(Duration::from_secs(1), Duration::from_secs(60));
    /// let config = amgi_sqs::SqsConfig::new().retry(retry);
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the deliveries of one message at most, the first included.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().max_deliveries(3);
    /// ```
    #[must_use]
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.retry = self.retry.max_deliveries(deliveries);
        self
    }

    /// Sets the suffix of the dead-letter queues the server creates.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().dead_letter_suffix("-failed");
    /// ```
    #[must_use]
    pub fn dead_letter_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.dead_letter_suffix = suffix.into();
        self
    }

    /// Sets how long an ack or a send waits for others to share its batch call.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().linger(std::time::Duration::from_millis(5));
    /// ```
    #[must_use]
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets the shutdown deadlines.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_sqs::SqsConfig::new()
    ///     .deadlines(amgi_server::Deadlines::default().drain(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Sets the bound of each call made at start.
    ///
    /// ```no_run
    /// let config = amgi_sqs::SqsConfig::new().connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Where the calls go, for messages: the endpoint URL, or AWS's own endpoint.
    pub(crate) fn describe_endpoint(&self) -> String {
        match (&self.endpoint_url, &self.region) {
            (Some(url), _) => url.clone(),
            (None, Some(region)) => format!("the AWS endpoint of region {region}"),
            (None, None) => "the AWS endpoint of the configured region".to_owned(),
        }
    }

    /// Checks what the server cannot work with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.queues.is_empty() {
            return Err(Error::config(
                "no queue to consume: name one (run sqs ADDRESS[=QUEUE]…)",
            ));
        }
        if !(1..=10).contains(&self.batch_size) {
            return Err(Error::config(format!(
                "--batch-size {} is out of range: SQS receives 1 to 10 messages at a time",
                self.batch_size
            )));
        }
        if self.wait_time > Duration::from_secs(20) {
            return Err(Error::config(format!(
                "--wait-time {} is out of range: SQS long-polls 0 to 20 seconds",
                self.wait_time.as_secs()
            )));
        }
        if self
            .visibility_timeout
            .is_some_and(|t| t.as_secs() > 43_200)
        {
            return Err(Error::config(
                "--visibility-timeout is out of range: 0 to 43200 seconds (12 hours)",
            ));
        }
        if self.in_flight == 0 {
            return Err(Error::config("in_flight must be at least 1"));
        }
        for mapping in self.queues.iter().chain(&self.routes) {
            if !is_url(&mapping.queue) && !is_valid_queue_name(&mapping.queue) {
                let fix = mapping.queue.replace(['.', '/', '{', '}'], "-");
                return Err(Error::config(format!(
                    "`{}` is not a valid SQS queue name (letters, digits, `-` and `_`, up to 80, \
                     optionally ending in `.fifo`): map the address to a queue, e.g. `{}={fix}`",
                    mapping.queue, mapping.address
                )));
            }
        }
        Ok(())
    }
}
