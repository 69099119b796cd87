//! Server configuration: topics, librdkafka properties passed through, and the settings that
//! are the server's own (batching, concurrency, retries, dead letters, timeouts).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use amgi_core::lifespan::LifespanOptions;
use amgi_server::{DeadLetterPolicy, Deadlines, RetryPolicy};
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
    /// Topics to consume; each is the `address` of its batches. A topic that starts with `^` is
    /// a regular expression (librdkafka's regex subscription): every matching topic is
    /// consumed, including ones created later (seen at librdkafka's next metadata refresh,
    /// `topic.metadata.refresh.interval.ms`). A pattern that also matches dead-letter topics
    /// consumes them too: the default `.dlq` suffix never matches a template's pattern, whose
    /// placeholders exclude `.`.
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
    /// Keyed lanes: `Some(n)` runs up to `n` messages of one fetched batch of a partition at
    /// once, never two with the same record key (records without a key are independent), each
    /// as a one-message ordered batch with its own retries. `None` (the default) handles each
    /// partition strictly in order. See [Keyed lanes](crate#keyed-lanes).
    pub lanes: Option<usize>,
    /// Redeliveries of nacked messages (default [`RetryPolicy::default`]: 5 deliveries).
    pub retry: RetryPolicy,
    /// Where messages go after their last nack (default `<topic>.dlq`).
    pub dead_letter: DeadLetterPolicy,
    /// How often acked offsets are committed while running (default 5 s). They are also
    /// committed when partitions are revoked and on shutdown.
    pub commit_interval: Duration,
    /// How long the broker may take to answer the first metadata request (default 10 s).
    pub connect_timeout: Duration,
    /// How often a `warn` line says that the consumer still waits for its first partition
    /// assignment (default 60 s). The server never gives up waiting: a consumer that crashed
    /// may hold the partitions until its session times out.
    pub join_timeout: Duration,
    /// How long shutdown and rebalances wait for batches in progress ([`Deadlines::drain`],
    /// default 30 s), and how long the consumer may take to leave its group and close and the
    /// producer to flush ([`Deadlines::close`], default 10 s).
    pub deadlines: Deadlines,
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
            lanes: None,
            retry: RetryPolicy::default(),
            dead_letter: DeadLetterPolicy::default(),
            commit_interval: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_mins(1),
            deadlines: Deadlines::default(),
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
        if self.lanes == Some(0) {
            return Err(Error::config("lanes must be at least 1"));
        }
        for key in ["enable.auto.commit", "consumer.enable.auto.commit"] {
            if self.properties.get(key).is_some_and(|v| v != "false") {
                return Err(Error::config(format!(
                    "`{key}` must stay false: amgi-kafka commits offsets itself, only up to acked messages"
                )));
            }
        }
        for topic in self.topics.iter().filter(|t| !is_pattern(t)) {
            if let Some(dead) = self.dead_letter.address_for(topic)
                && &dead == topic
            {
                return Err(Error::config(format!(
                    "topic `{topic}` would be its own dead-letter topic"
                )));
            }
        }
        Ok(())
    }

    /// The topics given by name (not as a `^` regular expression).
    pub(crate) fn exact_topics(&self) -> impl Iterator<Item = &str> {
        self.topics
            .iter()
            .map(String::as_str)
            .filter(|t| !is_pattern(t))
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

/// Whether a topic of [`KafkaConfig::topics`] is a regular expression (librdkafka's rule).
pub(crate) fn is_pattern(topic: &str) -> bool {
    topic.starts_with('^')
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
        looping.dead_letter = DeadLetterPolicy::address("orders");
        assert!(looping.validate().is_err());
        let mut zero = valid();
        zero.batch_size = 0;
        assert!(zero.validate().is_err());
        let mut lanes = valid();
        lanes.lanes = Some(0);
        assert!(lanes.validate().unwrap_err().detail().contains("lanes"));
        let mut pattern = KafkaConfig::new([r"^orders\..*"]).set("group.id", "g");
        pattern.dead_letter = DeadLetterPolicy::address(r"^orders\..*");
        assert!(pattern.validate().is_ok(), "a pattern is not a topic");
    }

    #[test]
    fn group_id_may_be_prefixed() {
        let config = KafkaConfig::new(["t"]).set("consumer.group.id", "g");
        assert_eq!(config.group_id(), Some("g"));
        assert!(config.validate().is_ok());
    }
}
