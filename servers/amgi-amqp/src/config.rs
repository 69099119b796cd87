//! [`AmqpConfig`]: the broker URL, the queues and their bindings, batches, retries and dead
//! letters.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use amgi_server::{DEFAULT_MAX_DELIVERIES, DeadLetterPolicy, Deadlines, RetryPolicy};

/// Messages of one queue handed to the application at once at most, by default.
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// How long connecting may take before the broker counts as unreachable, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The broker's URL, `amqp://USER:PASS@HOST:PORT/VHOST` (or `amqps://` for TLS), whose
/// `Display` and `Debug` hide the password: it is never logged, nor put in an error.
///
/// ```
/// use amgi_amqp::AmqpUrl;
///
/// let url = AmqpUrl::new("amqp://app:s3cret@rabbit:5672/%2f");
/// assert_eq!(url.to_string(), "amqp://app:***@rabbit:5672/%2f");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl(String);

impl AmqpUrl {
    /// The URL `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password, for the client only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    /// Whether the URL asks for TLS (`amqps://`).
    pub fn is_tls(&self) -> bool {
        self.0.starts_with("amqps://")
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
            return url.clone();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else {
            return url.clone();
        };
        match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.clone(),
        }
    }
}

impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AmqpUrl({})", self.redacted())
    }
}

/// How a header exchange binding matches: every listed header, or any of them (`x-match`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeadersMatch {
    /// Every header must match (`x-match: all`).
    #[default]
    All,
    /// One matching header is enough (`x-match: any`).
    Any,
}

impl HeadersMatch {
    /// The value of `x-match`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Any => "any",
        }
    }
}

/// A binding of each consumed queue to an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueBinding {
    /// To `exchange` with `routing_key` (direct and topic exchanges).
    RoutingKey {
        /// The exchange, which must exist.
        exchange: String,
        /// The routing key (a pattern for a topic exchange).
        routing_key: String,
    },
    /// To the headers exchange `exchange`, matching `headers` as `matching` says.
    Headers {
        /// The headers exchange, which must exist.
        exchange: String,
        /// Header names and the values they must have.
        headers: Vec<(String, String)>,
        /// All of them, or any.
        matching: HeadersMatch,
    },
}

/// Where a message goes once it is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetters {
    /// The server publishes it (confirmed) to a queue of the policy (`<queue>.dlq` by default,
    /// declared durable) with the dead-letter reason headers, then acks the original.
    Queue(DeadLetterPolicy),
    /// The server rejects it (`basic.nack`, `requeue=false`) and the queue's own
    /// `x-dead-letter-exchange` routes it (RabbitMQ adds its `x-death` header; the reason is
    /// logged). Queues found to have a dead-letter exchange when declared get this anyway.
    Broker,
}

/// The configuration of the AMQP server: a consuming builder.
///
/// ```no_run
/// use amgi_amqp::{AmqpConfig, AmqpUrl};
///
/// let config = AmqpConfig::new(AmqpUrl::new("amqp://guest:guest@127.0.0.1:5672/%2f"))
///     .queues(["orders"])
///     .bind("amq.topic", "orders.#")
///     .batch_size(32);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AmqpConfig {
    /// The broker.
    pub url: AmqpUrl,
    /// The queues to consume.
    pub queues: Vec<String>,
    /// Bindings of every consumed queue.
    pub bindings: Vec<QueueBinding>,
    /// Declare missing queues (durable); `false`: they must exist.
    pub declare: bool,
    /// Messages of one queue handed to the application at once at most.
    pub batch_size: usize,
    /// Deliveries and backoff.
    pub retry: RetryPolicy,
    /// Where dead letters go.
    pub dead_letters: DeadLetters,
    /// Drain and close deadlines.
    pub deadlines: Deadlines,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// With `amqps://`: trust only the certificate authorities of this PEM file, instead of
    /// the system's.
    pub ca_file: Option<PathBuf>,
}

impl AmqpConfig {
    /// A configuration for the broker at `url`, consuming nothing yet.
    ///
    /// ```no_run
    /// let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1:5672"));
    /// ```
    pub fn new(url: AmqpUrl) -> Self {
        Self {
            url,
            queues: Vec::new(),
            bindings: Vec::new(),
            declare: true,
            batch_size: DEFAULT_BATCH_SIZE,
            retry: RetryPolicy::new(DEFAULT_MAX_DELIVERIES),
            dead_letters: DeadLetters::Queue(DeadLetterPolicy::default()),
            deadlines: Deadlines::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ca_file: None,
        }
    }

    /// The queues to consume.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.queues(["orders", "payments"]);
    /// ```
    #[must_use]
    pub fn queues<I: IntoIterator<Item = S>, S: Into<String>>(mut self, queues: I) -> Self {
        self.queues = queues.into_iter().map(Into::into).collect();
        self
    }

    /// Binds every consumed queue to `exchange` with `routing_key`.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.bind("amq.topic", "orders.*.created");
    /// ```
    #[must_use]
    pub fn bind(mut self, exchange: impl Into<String>, routing_key: impl Into<String>) -> Self {
        self.bindings.push(QueueBinding::RoutingKey {
            exchange: exchange.into(),
            routing_key: routing_key.into(),
        });
        self
    }

    /// Binds every consumed queue to the headers exchange `exchange`, matching `headers`.
    ///
    /// ```no_run
    /// use amgi_amqp::HeadersMatch;
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.bind_headers("amq.headers", [("region", "eu")], HeadersMatch::All);
    /// ```
    #[must_use]
    pub fn bind_headers<I, N, V>(
        mut self,
        exchange: impl Into<String>,
        headers: I,
        matching: HeadersMatch,
    ) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        self.bindings.push(QueueBinding::Headers {
            exchange: exchange.into(),
            headers: (headers.into_iter())
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            matching,
        });
        self
    }

    /// Whether to declare missing queues (durable); with `false` a missing queue is an error.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.declare(false);
    /// ```
    #[must_use]
    pub fn declare(mut self, declare: bool) -> Self {
        self.declare = declare;
        self
    }

    /// Messages of one queue handed to the application at once at most (at least 1). The
    /// prefetch (`basic.qos`) is the batch size.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.batch_size(64);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Deliveries and backoff.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.retry(amgi_server::RetryPolicy::new(3));
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where dead letters go.
    ///
    /// ```no_run
    /// use amgi_amqp::DeadLetters;
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.dead_letters(DeadLetters::Broker);
    /// ```
    #[must_use]
    pub fn dead_letters(mut self, dead_letters: DeadLetters) -> Self {
        self.dead_letters = dead_letters;
        self
    }

    /// Drain and close deadlines.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.deadlines(amgi_server::Deadlines::default());
    /// ```
    #[must_use]
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// How long connecting may take before the broker counts as unreachable.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqp://127.0.0.1"));
    /// let config = config.connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// With an `amqps://` URL, trusts only the certificate authorities of the PEM file at
    /// `path` (a private CA) instead of the system's.
    ///
    /// ```no_run
    /// # let config = amgi_amqp::AmqpConfig::new(amgi_amqp::AmqpUrl::new("amqps://rabbit:5671"));
    /// let config = config.ca_file("/etc/rabbitmq/ca.pem");
    /// ```
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The dead-letter queue of `queue`, when the server publishes dead letters.
    pub(crate) fn dead_letter_queue(&self, queue: &str) -> Option<String> {
        match &self.dead_letters {
            DeadLetters::Queue(policy) if !policy.is_dead_letter_address(queue) => {
                policy.address_for(queue)
            }
            DeadLetters::Queue(_) | DeadLetters::Broker => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_redacted_and_urls_without_one_are_kept() {
        let url = AmqpUrl::new("amqps://u:p%40ss@h:5671/v");
        assert_eq!(url.to_string(), "amqps://u:***@h:5671/v");
        assert!(url.is_tls());
        assert_eq!(
            AmqpUrl::new("amqp://h:5672/%2f").to_string(),
            "amqp://h:5672/%2f"
        );
        assert_eq!(AmqpUrl::new("amqp://u@h").to_string(), "amqp://u@h");
    }
}
