//! Server configuration: topics, librdkafka properties passed through, and the settings that
//! are the server's own (batching, concurrency, retries, dead letters, timeouts).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use amgi_core::lifespan::LifespanOptions;
use rdkafka::ClientConfig;

use crate::Error;

/// Prefix of properties that apply to the consumer only (`consumer.fetch.min.bytes=1`).
pub const CONSUMER_PREFIX: &str = "consumer.";
/// Prefix of properties that apply to the producer only (`producer.linger.ms=20`).
pub const PRODUCER_PREFIX: &str = "producer.";

/// librdkafka properties that only consumers understand; given without a prefix they are not
/// passed to the producer (which would log a warning for each).
const CONSUMER_ONLY: &[&str] = &[
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.queue.backoff.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
];

/// librdkafka properties that only producers understand.
const PRODUCER_ONLY: &[&str] = &[
    "transactional.id",
    "transaction.timeout.ms",
    "enable.idempotence",
    "enable.gapless.guarantee",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.ms",
    "linger.ms",
    "message.send.max.retries",
    "retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "compression.codec",
    "compression.type",
    "compression.level",
    "batch.num.messages",
    "batch.size",
    "delivery.report.only.error",
    "sticky.partitioning.linger.ms",
    "request.required.acks",
    "acks",
    "request.timeout.ms",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "partitioner",
];

/// Where a consumer group starts reading a partition it has no committed offset for
/// (librdkafka's `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AutoOffsetReset {
    /// From the oldest message still stored (the server's default, so that messages published
    /// before a new group first joins are not skipped).
    #[default]
    Earliest,
    /// From the next message published (Kafka's own default).
    Latest,
    /// Fail: the consumer reports an error for the partition.
    Error,
}

impl AutoOffsetReset {
    /// The property value librdkafka expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for AutoOffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often, and how fast, a nacked message is delivered again before it is dead-lettered.
///
/// The `n`-th redelivery waits `initial_backoff * multiplier^(n-1)`, capped at `max_backoff`.
///
/// ```
/// use std::time::Duration;
/// use amgi_kafka::RetryPolicy;
///
/// let policy = RetryPolicy::new(5).backoff(Duration::from_millis(100), Duration::from_secs(2));
/// assert_eq!(policy.max_attempts, 5);
/// assert_eq!(policy.delay_before(2), Duration::from_millis(100));
/// assert_eq!(policy.delay_before(3), Duration::from_millis(200));
/// assert_eq!(policy.delay_before(10), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Deliveries of one message at most, the first included (default 3). `1` means no retry.
    pub max_attempts: u32,
    /// Wait before the first redelivery (default 200 ms).
    pub initial_backoff: Duration,
    /// Longest wait between deliveries (default 10 s).
    pub max_backoff: Duration,
    /// Factor applied to the wait after each redelivery (default 2).
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// The default backoff with `max_attempts` deliveries at most.
    pub fn new(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// Sets the first and the longest wait.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets the factor applied to the wait after each redelivery.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// How long to wait before delivery number `attempt` (2 for the first redelivery).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(2)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exponent);
        let max = self.max_backoff.as_secs_f64();
        let delay = (self.initial_backoff.as_secs_f64() * factor).min(max);
        if delay.is_finite() {
            Duration::from_secs_f64(delay.max(0.0))
        } else {
            self.max_backoff
        }
    }
}

/// Where a message goes when it was nacked [`RetryPolicy::max_attempts`] times.
///
/// ```
/// use amgi_kafka::DeadLetter;
///
/// assert_eq!(DeadLetter::default().topic_for("orders").as_deref(), Some("orders.dlq"));
/// assert_eq!(DeadLetter::suffix("-failed").topic_for("orders").as_deref(), Some("orders-failed"));
/// assert_eq!(DeadLetter::topic("all.dlq").topic_for("orders").as_deref(), Some("all.dlq"));
/// assert_eq!(DeadLetter::Disabled.topic_for("orders"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetter {
    /// `<topic><suffix>`; the default suffix is `.dlq`
    /// ([`amgi_core::dead_letter::default_address`]).
    Suffix(Cow<'static, str>),
    /// One topic for every source topic.
    Topic(String),
    /// No dead-letter topic: the message is logged at `error` level and skipped (committed).
    Disabled,
}

impl Default for DeadLetter {
    fn default() -> Self {
        Self::Suffix(Cow::Borrowed(".dlq"))
    }
}

impl DeadLetter {
    /// `<topic><suffix>`.
    pub fn suffix(suffix: impl Into<Cow<'static, str>>) -> Self {
        Self::Suffix(suffix.into())
    }

    /// One topic for every source topic.
    pub fn topic(topic: impl Into<String>) -> Self {
        Self::Topic(topic.into())
    }

    /// The dead-letter topic of `topic`, or `None` when dead-lettering is disabled.
    pub fn topic_for(&self, topic: &str) -> Option<String> {
        match self {
            Self::Suffix(suffix) => Some(format!("{topic}{suffix}")),
            Self::Topic(name) => Some(name.clone()),
            Self::Disabled => None,
        }
    }
}

/// Everything a [`Server`](crate::Server) needs besides the application.
///
/// librdkafka properties (`bootstrap.servers`, `group.id`, `security.protocol`,
/// `sasl.mechanism`, `ssl.ca.location`, …) are kept as strings in
/// [`properties`](Self::properties) and passed through, so SASL and TLS work without this
/// crate knowing their keys. A key without a prefix goes to both the consumer and the producer
/// (except well-known consumer-only or producer-only keys, which go to their client only);
/// `consumer.<key>` and `producer.<key>` go to one client only.
///
/// A command line maps straight onto it:
///
/// ```
/// use amgi_kafka::KafkaConfig;
///
/// // run kafka orders --group-id billing --bootstrap-servers broker:9092 -X linger.ms=5
/// let mut config = KafkaConfig::new(["orders"])
///     .set("group.id", "billing")
///     .set("bootstrap.servers", "broker:9092");
/// for pair in ["linger.ms=5"] {
///     config = config.set_pair(pair)?;
/// }
/// assert_eq!(config.group_id(), Some("billing"));
/// assert_eq!(config.bootstrap_servers(), "broker:9092");
/// config.validate()?;
/// # Ok::<(), amgi_kafka::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KafkaConfig {
    /// Topics to consume; each is the `address` of its batches.
    pub topics: Vec<String>,
    /// librdkafka properties, passed through (see the type's documentation for prefixes).
    pub properties: BTreeMap<String, String>,
    /// Most messages in one batch (one application call); default 100.
    pub batch_size: usize,
    /// Most batches handled at the same time, across partitions; default 16. Each partition is
    /// handled in order whatever this is.
    pub concurrency: usize,
    /// Most messages fetched for one partition and waiting for the application (default 2048;
    /// never less than the batch size). Past it the server takes nothing more from librdkafka
    /// until the partition catches up, and pauses a partition that stays behind for long, so
    /// that the others go on.
    pub max_buffered: usize,
    /// Redeliveries of nacked messages.
    pub retry: RetryPolicy,
    /// Where messages go after their last nack.
    pub dead_letter: DeadLetter,
    /// How often acked offsets are committed while running (default 5 s). They are also
    /// committed when partitions are revoked and on shutdown.
    pub commit_interval: Duration,
    /// How long the broker may take to answer the first metadata request (default 10 s).
    pub connect_timeout: Duration,
    /// How long the consumer may take to receive its first partition assignment (default 60 s).
    pub join_timeout: Duration,
    /// How long shutdown and rebalances wait for batches in progress (default 30 s).
    pub drain_timeout: Duration,
    /// How long the consumer may take to leave its group and close (default 10 s).
    pub close_timeout: Duration,
    /// Deadlines for the application's lifespan answers.
    pub lifespan: LifespanOptions,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            properties: BTreeMap::new(),
            batch_size: 100,
            concurrency: 16,
            max_buffered: 2048,
            retry: RetryPolicy::default(),
            dead_letter: DeadLetter::default(),
            commit_interval: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_mins(1),
            drain_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(10),
            lifespan: LifespanOptions::default(),
        }
    }
}

/// The bootstrap servers used when none are configured.
pub const DEFAULT_BOOTSTRAP_SERVERS: &str = "localhost:9092";

impl KafkaConfig {
    /// A configuration consuming `topics` with every default.
    pub fn new<I, T>(topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self {
            topics: topics.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Sets librdkafka property `key` (see the type's documentation for prefixes).
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Sets a property given as `key=value`, as a `-X key=value` command-line option does.
    ///
    /// ```
    /// let config = amgi_kafka::KafkaConfig::new(["t"]).set_pair("security.protocol=SASL_SSL")?;
    /// assert_eq!(config.properties["security.protocol"], "SASL_SSL");
    /// assert!(amgi_kafka::KafkaConfig::new(["t"]).set_pair("no-equals-sign").is_err());
    /// # Ok::<(), amgi_kafka::Error>(())
    /// ```
    pub fn set_pair(self, pair: &str) -> Result<Self, Error> {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(self.set(key.trim(), value.trim())),
            _ => Err(Error::config(format!(
                "property `{pair}` is not of the form key=value"
            ))),
        }
    }

    /// The consumer group id (property `group.id`), if set.
    pub fn group_id(&self) -> Option<&str> {
        self.lookup("group.id")
    }

    /// The bootstrap servers (property `bootstrap.servers`), or [`DEFAULT_BOOTSTRAP_SERVERS`].
    pub fn bootstrap_servers(&self) -> &str {
        self.lookup("bootstrap.servers")
            .unwrap_or(DEFAULT_BOOTSTRAP_SERVERS)
    }

    fn lookup(&self, key: &str) -> Option<&str> {
        self.properties
            .get(key)
            .or_else(|| self.properties.get(&format!("{CONSUMER_PREFIX}{key}")))
            .map(String::as_str)
    }

    /// Checks what can be checked without a broker: topics, group id, sizes, reserved
    /// properties and dead-letter loops. librdkafka checks the properties when the server
    /// starts.
    pub fn validate(&self) -> Result<(), Error> {
        if self.topics.is_empty() {
            return Err(Error::config("no topic to consume"));
        }
        if let Some(empty) = self.topics.iter().position(|t| t.trim().is_empty()) {
            return Err(Error::config(format!("topic #{} is empty", empty + 1)));
        }
        if self.group_id().is_none_or(|g| g.trim().is_empty()) {
            return Err(Error::config(
                "no consumer group id: set `group.id` (Server::group_id)",
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch size must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(Error::config("concurrency must be at least 1"));
        }

        if self.retry.max_attempts == 0 {
            return Err(Error::config("retry max_attempts must be at least 1"));
        }
        for key in ["enable.auto.commit", "consumer.enable.auto.commit"] {
            if self.properties.get(key).is_some_and(|v| v != "false") {
                return Err(Error::config(format!(
                    "`{key}` must stay false: amgi-kafka commits offsets itself, only up to acked messages"
                )));
            }
        }
        for topic in &self.topics {
            if let Some(dead) = self.dead_letter.topic_for(topic)
                && &dead == topic
            {
                return Err(Error::config(format!(
                    "topic `{topic}` would be its own dead-letter topic"
                )));
            }
        }
        Ok(())
    }

    /// The librdkafka configuration of the consumer.
    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", DEFAULT_BOOTSTRAP_SERVERS)
            .set("auto.offset.reset", AutoOffsetReset::default().as_str())
            .set("enable.partition.eof", "false");
        self.apply(&mut config, CONSUMER_PREFIX, PRODUCER_PREFIX, PRODUCER_ONLY);
        // Offsets are committed by the server, never automatically.
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        config
    }

    /// The librdkafka configuration of the producer (`message.send` and dead letters).
    pub(crate) fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", DEFAULT_BOOTSTRAP_SERVERS)
            .set("enable.idempotence", "true");
        self.apply(&mut config, PRODUCER_PREFIX, CONSUMER_PREFIX, CONSUMER_ONLY);
        config
    }

    fn apply(&self, config: &mut ClientConfig, own: &str, other: &str, other_only: &[&str]) {
        // Unprefixed keys first, so that a prefixed key overrides its unprefixed form.
        for (key, value) in &self.properties {
            if !key.starts_with(own) && !key.starts_with(other) && !other_only.contains(&&**key) {
                config.set(key, value);
            }
        }
        for (key, value) in &self.properties {
            if let Some(key) = key.strip_prefix(own) {
                config.set(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> KafkaConfig {
        KafkaConfig::new(["orders"]).set("group.id", "g")
    }

    #[test]
    fn properties_are_split_between_clients() {
        let config = valid()
            .set("security.protocol", "SASL_SSL")
            .set("linger.ms", "7")
            .set("session.timeout.ms", "6000")
            .set("producer.client.id", "p")
            .set("consumer.client.id", "c")
            .set("client.id", "both");
        let consumer = config.consumer_config();
        let producer = config.producer_config();
        assert_eq!(consumer.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(producer.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(consumer.get("linger.ms"), None);
        assert_eq!(producer.get("linger.ms"), Some("7"));
        assert_eq!(consumer.get("session.timeout.ms"), Some("6000"));
        assert_eq!(producer.get("session.timeout.ms"), None);
        assert_eq!(producer.get("group.id"), None);
        assert_eq!(consumer.get("client.id"), Some("c"));
        assert_eq!(producer.get("client.id"), Some("p"));
    }

    #[test]
    fn server_managed_defaults() {
        let consumer = valid().consumer_config();
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(consumer.get("bootstrap.servers"), Some("localhost:9092"));
        let producer = valid().set("enable.idempotence", "false").producer_config();
        assert_eq!(producer.get("enable.idempotence"), Some("false"));
        assert_eq!(
            valid().producer_config().get("enable.idempotence"),
            Some("true")
        );
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(valid().validate().is_ok());
        let error = KafkaConfig::new(["t"]).validate().unwrap_err();
        assert!(error.detail().contains("group.id"), "{error}");
        let error = KafkaConfig::new(Vec::<String>::new())
            .validate()
            .unwrap_err();
        assert!(error.detail().contains("no topic"), "{error}");
        let error = valid()
            .set("enable.auto.commit", "true")
            .validate()
            .unwrap_err();
        assert!(error.detail().contains("enable.auto.commit"), "{error}");
        let mut looping = valid();
        looping.dead_letter = DeadLetter::topic("orders");
        assert!(looping.validate().is_err());
        let mut zero = valid();
        zero.batch_size = 0;
        assert!(zero.validate().is_err());
    }

    #[test]
    fn group_id_may_be_prefixed() {
        let config = KafkaConfig::new(["t"]).set("consumer.group.id", "g");
        assert_eq!(config.group_id(), Some("g"));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::new(10)
            .backoff(Duration::from_millis(10), Duration::from_millis(35))
            .multiplier(2.0);
        let delays: Vec<_> = (2..=5).map(|a| policy.delay_before(a)).collect();
        assert_eq!(delays, [10, 20, 35, 35].map(Duration::from_millis).to_vec());
        assert_eq!(
            RetryPolicy::new(u32::MAX).delay_before(u32::MAX),
            Duration::from_secs(10)
        );
    }
}
