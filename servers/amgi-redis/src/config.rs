//! [`RedisConfig`]: where to connect, which streams, which group, and the common policies.

use std::fmt;
use std::time::Duration;

use amgi_server::{DEFAULT_MAX_DELIVERIES, DeadLetterPolicy, Deadlines, RetryPolicy};

/// Messages in one batch unless [`RedisConfig::batch_size`] says otherwise (the `COUNT` of each
/// `XREADGROUP`).
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// How long one `XREADGROUP` blocks for new entries unless [`RedisConfig::block`] says
/// otherwise.
pub const DEFAULT_BLOCK: Duration = Duration::from_secs(2);

/// How long connecting to Redis may take unless [`RedisConfig::connect_timeout`] says
/// otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long an entry stays pending on another consumer before this one claims it
/// (`XAUTOCLAIM`), unless [`RedisConfig::claim_idle`] says otherwise.
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_mins(1);

/// Where a consumer group that does not exist yet starts reading (`XGROUP CREATE … MKSTREAM`).
/// A group that exists keeps its position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartFrom {
    /// Every entry of the stream (`0`).
    #[default]
    Earliest,
    /// Only entries added after the group was created (`$`).
    Latest,
}

impl StartFrom {
    /// The id `XGROUP CREATE` is given.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Earliest => "0",
            Self::Latest => "$",
        }
    }
}

/// The configuration of a [`Server`](crate::Server): a consuming builder.
///
/// ```no_run
/// use amgi_redis::{RedisConfig, StartFrom};
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379", "billing")
///     .stream("orders")
///     .consumer("billing-1")
///     .start(StartFrom::Latest)
///     .batch_size(32)
///     .max_deliveries(3);
/// ```
///
/// Its `Debug` output shows the URL with any password redacted.
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    /// Stream keys, or in Pub/Sub mode channels (`SUBSCRIBE`).
    pub(crate) streams: Vec<String>,
    /// Pub/Sub mode only: channel patterns (`PSUBSCRIBE`).
    pub(crate) patterns: Vec<String>,
    pub(crate) pubsub: bool,
    pub(crate) claim_idle: Option<Duration>,
    pub(crate) lanes: Option<usize>,
    pub(crate) start: StartFrom,
    pub(crate) batch_size: usize,
    pub(crate) block: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) dead_letter: DeadLetterPolicy,
    pub(crate) deadlines: Deadlines,
}

impl RedisConfig {
    /// Consumes with group `group` on the Redis at `url` (`redis://[:PASSWORD@]HOST:PORT[/DB]`),
    /// as a consumer named after the host (see [`default_consumer`]).
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1:6379/0", "billing");
    /// ```
    pub fn new(url: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            group: group.into(),
            consumer: default_consumer(),
            streams: Vec::new(),
            patterns: Vec::new(),
            pubsub: false,
            claim_idle: Some(DEFAULT_CLAIM_IDLE),
            lanes: None,
            start: StartFrom::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            block: DEFAULT_BLOCK,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::new(DEFAULT_MAX_DELIVERIES),
            dead_letter: DeadLetterPolicy::default(),
            deadlines: Deadlines::default(),
        }
    }

    /// Consumes stream `key` too.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").stream("orders");
    /// ```
    #[must_use]
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.streams.push(key.into());
        self
    }

    /// Consumes each of `keys` too.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").streams(["a", "b"]);
    /// ```
    #[must_use]
    pub fn streams(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.streams.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Pub/Sub mode: each address is a channel (`SUBSCRIBE`), each [pattern](Self::pattern) a
    /// `PSUBSCRIBE`; a message's payload is the whole message (no headers), delivery is **at
    /// most once** (nothing is redelivered, a nack is logged and dropped), and `message.send`
    /// is `PUBLISH`. The group and consumer are not used.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "")
    ///     .pubsub(true)
    ///     .stream("alerts")
    ///     .pattern("orders.*");
    /// ```
    #[must_use]
    pub fn pubsub(mut self, pubsub: bool) -> Self {
        self.pubsub = pubsub;
        self
    }

    /// Pub/Sub mode only: subscribes to channels matching the glob-style `pattern`
    /// (`PSUBSCRIBE`); each message's address is the channel it was published to. Refused in
    /// streams mode.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "")
    ///     .pubsub(true)
    ///     .pattern("orders.*");
    /// ```
    #[must_use]
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.patterns.push(pattern.into());
        self
    }

    /// Claims entries pending on any consumer of the group for longer than `idle`
    /// (`XAUTOCLAIM`), such as those of a consumer that died and never came back; `None` never
    /// claims. Default: [`DEFAULT_CLAIM_IDLE`]. Keep it well above the time a batch takes,
    /// retries included, or entries in hand are claimed and handled twice.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g")
    ///     .claim_idle(Some(Duration::from_secs(30)));
    /// ```
    #[must_use]
    pub fn claim_idle(mut self, idle: Option<Duration>) -> Self {
        self.claim_idle = idle;
        self
    }

    /// Keyed lanes: up to `lanes` entries of one batch at once, never two with the same
    /// [`amgi-lane-key`](amgi_server::LANE_KEY_HEADER) header value, in order per key; each
    /// entry is then a batch of its own. `None` (the default) handles a batch in order.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").lanes(Some(8));
    /// ```
    #[must_use]
    pub fn lanes(mut self, lanes: Option<usize>) -> Self {
        self.lanes = lanes.map(|lanes| lanes.max(1));
        self
    }

    /// The consumer name within the group. Keep it stable across restarts: a restarted
    /// consumer re-reads its own pending entries first.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").consumer("worker-1");
    /// ```
    #[must_use]
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = name.into();
        self
    }

    /// Where a group created by the server starts ([`StartFrom::Earliest`] by default).
    ///
    /// ```no_run
    /// use amgi_redis::{RedisConfig, StartFrom};
    /// let config = RedisConfig::new("redis://127.0.0.1", "g").start(StartFrom::Latest);
    /// ```
    #[must_use]
    pub fn start(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }

    /// Entries read at once from one stream (the `COUNT` of `XREADGROUP`), and so in flight at
    /// once per stream at most; at least 1.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").batch_size(64);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// How long one `XREADGROUP` waits for new entries (its `BLOCK`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g")
    ///     .block(Duration::from_millis(500));
    /// ```
    #[must_use]
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// How long connecting may take before the server fails as unreachable.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g")
    ///     .connect_timeout(Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Deliveries and backoff of nacked entries.
    ///
    /// ```no_run
    /// use amgi_server::RetryPolicy;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").retry(RetryPolicy::new(3));
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Deliveries of one entry at most, the first included, before it is dead-lettered.
    ///
    /// ```no_run
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").max_deliveries(3);
    /// ```
    #[must_use]
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.retry = self.retry.max_deliveries(deliveries);
        self
    }

    /// Where dead letters go (`<stream>.dlq` by default).
    ///
    /// ```no_run
    /// use amgi_server::DeadLetterPolicy;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g")
    ///     .dead_letter(DeadLetterPolicy::address("failed"));
    /// ```
    #[must_use]
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letter = policy;
        self
    }

    /// How long shutdown may take ([`Deadlines::drain`] for the batches in hand).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use amgi_server::Deadlines;
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g")
    ///     .deadlines(Deadlines::default().drain(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// The URL with any password replaced by `***`, fit for logs and error messages.
    ///
    /// ```
    /// let config = amgi_redis::RedisConfig::new("redis://:hunter2@db:6379/1", "g");
    /// assert_eq!(config.redacted_url(), "redis://:***@db:6379/1");
    /// ```
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .field("streams", &self.streams)
            .field("patterns", &self.patterns)
            .field("pubsub", &self.pubsub)
            .field("claim_idle", &self.claim_idle)
            .field("lanes", &self.lanes)
            .field("start", &self.start)
            .field("batch_size", &self.batch_size)
            .field("block", &self.block)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("dead_letter", &self.dead_letter)
            .field("deadlines", &self.deadlines)
            .finish()
    }
}

/// `url` with the password of its user info (between `:` and `@`) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    let user = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => user_info.to_owned(),
    };
    format!("{scheme}://{user}{}", &rest[at..])
}

/// The consumer name used unless one is given: the host name (`HOSTNAME`, then
/// `/etc/hostname`), or `amgi` when neither is known.
///
/// ```
/// assert!(!amgi_redis::default_consumer().is_empty());
/// ```
pub fn default_consumer() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "amgi".to_owned())
}

#[cfg(test)]
mod tests {
    use super::{RedisConfig, redact};

    #[test]
    fn debug_output_never_shows_the_password() {
        let config = RedisConfig::new("rediss://user:hunter2@db:6380/1", "g");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("rediss://user:***@db:6380/1"), "{debug}");
    }

    #[test]
    fn passwords_are_redacted_and_the_rest_kept() {
        for (url, redacted) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:pw@h:1/2", "redis://:***@h:1/2"),
            ("redis://user:p@ss@h", "redis://user:***@h"),
            ("rediss://user@h/0", "rediss://user@h/0"),
            ("redis://h/a@b", "redis://h/a@b"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), redacted, "{url}");
        }
    }
}
