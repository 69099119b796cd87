//! [`RedisConfig`]: where to connect, which streams, which group, and the common policies.

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
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) streams: Vec<String>,
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
    use super::redact;

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
