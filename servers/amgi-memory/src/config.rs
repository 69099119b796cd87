//! [`BrokerConfig`]: how much each queue holds and where dead letters go.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Default number of messages one queue holds, waiting and in flight together.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Default suffix of dead-letter addresses: `orders` dead-letters to `orders.dlq`, as
/// [`amgi_core::dead_letter::default_address`] names it.
pub const DEFAULT_DEAD_LETTER_SUFFIX: &str = ".dlq";

/// Settings of a [`Broker`](crate::Broker).
///
/// Every address (queue) gets the same capacity. An address's dead-letter address is the address
/// followed by [`BrokerConfig::dead_letter_suffix`]; addresses ending with the suffix are
/// dead-letter addresses, which [`Server::all_addresses`](crate::Server::all_addresses) skips.
///
/// ```
/// use amgi_memory::{Broker, BrokerConfig};
///
/// let config = BrokerConfig::default().capacity(16).dead_letter_suffix(".failed");
/// assert_eq!(config.dead_letter_address("orders"), "orders.failed");
/// let broker = Broker::new(config);
/// assert_eq!(broker.config().capacity, 16);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BrokerConfig {
    /// How many messages one queue holds at most, counting messages waiting and messages
    /// delivered but not yet acked or dead-lettered (default [`DEFAULT_CAPACITY`]).
    ///
    /// [`Broker::new`](crate::Broker::new) raises 0 to 1 (a queue that holds nothing would make
    /// every publisher wait forever) and lowers values above [`Semaphore::MAX_PERMITS`] to it.
    pub capacity: usize,
    /// Appended to an address to name its dead-letter address (default
    /// [`DEFAULT_DEAD_LETTER_SUFFIX`]). An empty suffix would make every address its own
    /// dead-letter address, so the default is used instead.
    pub dead_letter_suffix: Arc<str>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            dead_letter_suffix: Arc::from(DEFAULT_DEAD_LETTER_SUFFIX),
        }
    }
}

impl BrokerConfig {
    /// The default configuration: queues of [`DEFAULT_CAPACITY`] messages, dead letters at
    /// `<address>.dlq`.
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

    /// Sets the suffix that names dead-letter addresses; an empty suffix keeps the default.
    ///
    /// ```
    /// let config = amgi_memory::BrokerConfig::new().dead_letter_suffix(".failed");
    /// assert_eq!(config.dead_letter_address("orders"), "orders.failed");
    /// assert!(config.is_dead_letter_address("orders.failed"));
    /// ```
    #[must_use]
    pub fn dead_letter_suffix(mut self, suffix: impl Into<Arc<str>>) -> Self {
        self.dead_letter_suffix = suffix.into();
        self
    }

    /// The dead-letter address of `address`.
    ///
    /// ```
    /// let config = amgi_memory::BrokerConfig::new();
    /// assert_eq!(config.dead_letter_address("orders"), "orders.dlq");
    /// ```
    pub fn dead_letter_address(&self, address: &str) -> String {
        let suffix = self.effective_suffix();
        let mut name = String::with_capacity(address.len() + suffix.len());
        name.push_str(address);
        name.push_str(suffix);
        name
    }

    /// Whether `address` is a dead-letter address (it ends with the dead-letter suffix).
    ///
    /// ```
    /// let config = amgi_memory::BrokerConfig::new();
    /// assert!(config.is_dead_letter_address("orders.dlq"));
    /// assert!(!config.is_dead_letter_address("orders"));
    /// ```
    pub fn is_dead_letter_address(&self, address: &str) -> bool {
        address.ends_with(self.effective_suffix())
    }

    /// The configuration with its values brought into range, as the broker uses it.
    pub(crate) fn normalized(mut self) -> Self {
        self.capacity = self.capacity.clamp(1, Semaphore::MAX_PERMITS);
        if self.dead_letter_suffix.is_empty() {
            self.dead_letter_suffix = Arc::from(DEFAULT_DEAD_LETTER_SUFFIX);
        }
        self
    }

    fn effective_suffix(&self) -> &str {
        if self.dead_letter_suffix.is_empty() {
            DEFAULT_DEAD_LETTER_SUFFIX
        } else {
            &self.dead_letter_suffix
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_suffix_matches_the_interface() {
        let config = BrokerConfig::default();
        for address in ["orders", "a.b.c", ""] {
            assert_eq!(
                config.dead_letter_address(address),
                amgi_core::dead_letter::default_address(address)
            );
        }
    }

    #[test]
    fn empty_suffix_falls_back_to_default() {
        let config = BrokerConfig::new().dead_letter_suffix("");
        assert_eq!(config.dead_letter_address("orders"), "orders.dlq");
        assert!(config.is_dead_letter_address("orders.dlq"));
        assert!(!config.is_dead_letter_address("orders"));
        let normalized = config.normalized();
        assert_eq!(&*normalized.dead_letter_suffix, DEFAULT_DEAD_LETTER_SUFFIX);
    }

    #[test]
    fn capacity_is_clamped() {
        assert_eq!(BrokerConfig::new().capacity(0).normalized().capacity, 1);
        assert_eq!(
            BrokerConfig::new()
                .capacity(usize::MAX)
                .normalized()
                .capacity,
            Semaphore::MAX_PERMITS
        );
        assert_eq!(BrokerConfig::new().capacity(7).normalized().capacity, 7);
    }
}
