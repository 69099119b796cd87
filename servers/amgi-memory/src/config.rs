//! [`BrokerConfig`]: how much each queue holds, how long an application's send waits for room,
//! and where dead letters go.

use std::borrow::Cow;
use std::time::Duration;

use amgi_server::DeadLetterPolicy;
use tokio::sync::Semaphore;

/// Default number of messages one queue holds, waiting and in flight together.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Default longest wait of an application's `message.send` for room in a full queue.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Settings of a [`Broker`](crate::Broker).
///
/// Every address (queue) gets the same capacity. Dead letters go where
/// [`BrokerConfig::dead_letter`] says (by default `<address>.dlq`); dead-letter addresses are
/// skipped by [`Server::all_addresses`](crate::Server::all_addresses).
///
/// ```
/// use std::time::Duration;
/// use amgi_memory::{Broker, BrokerConfig};
///
/// let config = BrokerConfig::default()
///     .capacity(16)
///     .send_timeout(Duration::from_millis(250))
///     .dead_letter_suffix(".failed");
/// let broker = Broker::new(config);
/// assert_eq!(broker.config().capacity, 16);
/// assert_eq!(broker.dead_letter_address("orders").as_deref(), Some("orders.failed"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BrokerConfig {
    /// How many messages one queue holds at most, counting messages waiting and messages
    /// delivered but not yet acked or dead-lettered (default [`DEFAULT_CAPACITY`]). Dead-letter
    /// queues may hold more: dead-lettering never waits and never drops (see
    /// [`Broker`](crate::Broker)).
    ///
    /// [`Broker::new`](crate::Broker::new) raises 0 to 1 (a queue that holds nothing would make
    /// every publisher wait forever) and lowers values above [`Semaphore::MAX_PERMITS`] to it.
    pub capacity: usize,
    /// How long `message.send` from an application (the broker's
    /// [`Publisher`](amgi_core::batch::Publisher)) waits for room in a full queue before it fails
    /// with a retryable error (default [`DEFAULT_SEND_TIMEOUT`]). Bounded so that a handler
    /// publishing to a queue full of in-flight messages, its own batch among them, cannot wait
    /// forever: its message is nacked and redelivered instead. [`Broker::publish`](crate::Broker::publish)
    /// waits without a bound.
    pub send_timeout: Duration,
    /// Where dead letters go (default [`DeadLetterPolicy::default`]: `<address>.dlq`).
    pub dead_letter: DeadLetterPolicy,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            dead_letter: DeadLetterPolicy::default(),
        }
    }
}

impl BrokerConfig {
    /// The default configuration: queues of [`DEFAULT_CAPACITY`] messages, sends waiting
    /// [`DEFAULT_SEND_TIMEOUT`] at most, dead letters at `<address>.dlq`.
    ///
    /// ```
    /// let config = amgi_memory::BrokerConfig::new();
    /// assert_eq!(config.capacity, amgi_memory::DEFAULT_CAPACITY);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many messages one queue holds, waiting and in flight together.
    ///
    /// ```
    /// let config = amgi_memory::BrokerConfig::new().capacity(8);
    /// assert_eq!(config.capacity, 8);
    /// ```
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets how long an application's `message.send` waits for room in a full queue.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = amgi_memory::BrokerConfig::new().send_timeout(Duration::from_secs(5));
    /// assert_eq!(config.send_timeout, Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Sets where dead letters go.
    ///
    /// ```
    /// use amgi_memory::{Broker, BrokerConfig, DeadLetterPolicy};
    /// let broker = Broker::new(BrokerConfig::new().dead_letter(DeadLetterPolicy::address("failed")));
    /// assert_eq!(broker.dead_letter_address("orders").as_deref(), Some("failed"));
    /// ```
    #[must_use]
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letter = policy;
        self
    }

    /// Shortcut for [`DeadLetterPolicy::suffix`]: dead letters of `orders` go to
    /// `orders<suffix>`; an empty suffix means the default `.dlq`.
    ///
    /// ```
    /// use amgi_memory::{Broker, BrokerConfig};
    /// let broker = Broker::new(BrokerConfig::new().dead_letter_suffix(".failed"));
    /// assert_eq!(broker.dead_letter_address("orders").as_deref(), Some("orders.failed"));
    /// ```
    #[must_use]
    pub fn dead_letter_suffix(self, suffix: impl Into<Cow<'static, str>>) -> Self {
        self.dead_letter(DeadLetterPolicy::suffix(suffix))
    }

    /// The configuration with its values brought into range, as the broker uses it.
    pub(crate) fn normalized(mut self) -> Self {
        self.capacity = self.capacity.clamp(1, Semaphore::MAX_PERMITS);
        self
    }
}
