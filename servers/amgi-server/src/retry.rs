//! [`RetryPolicy`]: how often, and how fast, a nacked message is delivered again, and what a
//! nack's [`NackRetry`] asks for.

use std::borrow::Cow;
use std::time::Duration;

use amgi_core::NackRetry;
use amgi_core::batch::Outcome;

/// Default number of deliveries of one message, the first included, before it is dead-lettered.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// How often, and how fast, a nacked message is delivered again before it is dead-lettered.
///
/// The `n`-th redelivery waits `initial_backoff * multiplier^(n-1)`, capped at `max_backoff`.
/// The same concept and the same name (`max_deliveries`, `--max-deliveries`) on every server.
///
/// ```
/// use std::time::Duration;
/// use amgi_server::RetryPolicy;
///
/// let policy = RetryPolicy::new(5).backoff(Duration::from_millis(100), Duration::from_secs(2));
/// assert_eq!(policy.max_deliveries, 5);
/// assert_eq!(policy.delay_before(2), Duration::from_millis(100));
/// assert_eq!(policy.delay_before(3), Duration::from_millis(200));
/// assert_eq!(policy.delay_before(10), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Deliveries of one message at most, the first included (default
    /// [`DEFAULT_MAX_DELIVERIES`]; 0 counts as 1). `1` means no redelivery.
    pub max_deliveries: u32,
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
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
        }
    }
}

/// What to do with a nacked message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Deliver it again after this delay.
    Redeliver(Duration),
    /// Give up: move it to its dead-letter address.
    DeadLetter,
}

/// What a server does with one message once its batch ended: the per-message settlement every
/// server applies to a [`BatchReport`](amgi_core::batch::BatchReport)'s outcomes, whatever its
/// broker calls ack and nack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Acked: remove it from the broker (ack it, let its offset be committed).
    Ack,
    /// Deliver it again after `delay`. `counted` is `false` for a message
    /// [skipped](Outcome::Skipped) behind a nack of its ordered batch: that delivery does not
    /// count against [`RetryPolicy::max_deliveries`].
    Redeliver {
        /// How long to wait first.
        delay: Duration,
        /// Whether this delivery counts.
        counted: bool,
    },
    /// Move it to its dead-letter address, with this reason.
    DeadLetter(Cow<'static, str>),
}

impl RetryPolicy {
    /// How to settle a message whose batch reported `outcome`, after `deliveries` deliveries
    /// (the one just made included): acked → [`Settlement::Ack`]; skipped → redelivered at once,
    /// uncounted; nacked → [`decide`](Self::decide).
    ///
    /// ```
    /// use std::time::Duration;
    /// use amgi_core::NackRetry;
    /// use amgi_core::batch::Outcome;
    /// use amgi_server::{RetryPolicy, Settlement};
    ///
    /// let policy = RetryPolicy::new(2).backoff(Duration::from_secs(1), Duration::from_secs(1));
    /// assert_eq!(policy.settle(Outcome::Acked, 1), Settlement::Ack);
    /// assert_eq!(
    ///     policy.settle(Outcome::Skipped, 1),
    ///     Settlement::Redeliver { delay: Duration::ZERO, counted: false }
    /// );
    /// assert_eq!(
    ///     policy.settle(Outcome::nacked("busy"), 1),
    ///     Settlement::Redeliver { delay: Duration::from_secs(1), counted: true }
    /// );
    /// assert_eq!(policy.settle(Outcome::nacked("busy"), 2), Settlement::DeadLetter("busy".into()));
    /// let never = Outcome::Nacked { reason: "not JSON".into(), retry: NackRetry::Never };
    /// assert_eq!(policy.settle(never, 1), Settlement::DeadLetter("not JSON".into()));
    /// ```
    pub fn settle(&self, outcome: Outcome, deliveries: u32) -> Settlement {
        match outcome {
            Outcome::Acked => Settlement::Ack,
            Outcome::Skipped => Settlement::Redeliver {
                delay: Duration::ZERO,
                counted: false,
            },
            Outcome::Nacked { reason, retry } => match self.decide(deliveries, retry) {
                RetryDecision::Redeliver(delay) => Settlement::Redeliver {
                    delay,
                    counted: true,
                },
                RetryDecision::DeadLetter => Settlement::DeadLetter(reason),
            },
        }
    }

    /// The default backoff with `max_deliveries` deliveries at most.
    ///
    /// ```
    /// assert_eq!(amgi_server::RetryPolicy::new(2).max_deliveries, 2);
    /// ```
    pub fn new(max_deliveries: u32) -> Self {
        Self {
            max_deliveries,
            ..Self::default()
        }
    }

    /// Sets the first and the longest wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = amgi_server::RetryPolicy::default()
    ///     .backoff(Duration::ZERO, Duration::ZERO);
    /// assert_eq!(policy.delay_before(2), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets the factor applied to the wait after each redelivery (values below 1 count as 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = amgi_server::RetryPolicy::default().multiplier(1.0);
    /// assert_eq!(policy.delay_before(2), policy.delay_before(5));
    /// ```
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the number of deliveries at most.
    ///
    /// ```
    /// assert_eq!(amgi_server::RetryPolicy::default().max_deliveries(7).max_deliveries, 7);
    /// ```
    #[must_use]
    pub fn max_deliveries(mut self, max_deliveries: u32) -> Self {
        self.max_deliveries = max_deliveries;
        self
    }

    /// How long to wait before delivery number `delivery` (2 for the first redelivery).
    pub fn delay_before(&self, delivery: u32) -> Duration {
        let exponent = i32::try_from(delivery.saturating_sub(2)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exponent);
        let max = self.max_backoff.as_secs_f64();
        let delay = (self.initial_backoff.as_secs_f64() * factor).min(max);
        if delay.is_finite() {
            Duration::from_secs_f64(delay.max(0.0))
        } else {
            self.max_backoff
        }
    }

    /// What to do with a message nacked with `retry` after it was delivered `deliveries` times:
    /// a [`NackRetry::Never`] nack and a nack on the last allowed delivery are dead-lettered;
    /// otherwise the message is delivered again after the policy's backoff, or after the delay a
    /// [`NackRetry::After`] nack asked for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use amgi_core::NackRetry;
    /// use amgi_server::{RetryDecision, RetryPolicy};
    ///
    /// let policy = RetryPolicy::new(3);
    /// assert_eq!(policy.decide(1, NackRetry::Policy), RetryDecision::Redeliver(policy.delay_before(2)));
    /// assert_eq!(policy.decide(3, NackRetry::Policy), RetryDecision::DeadLetter);
    /// assert_eq!(policy.decide(1, NackRetry::Never), RetryDecision::DeadLetter);
    /// let later = NackRetry::After(Duration::from_secs(9));
    /// assert_eq!(policy.decide(2, later), RetryDecision::Redeliver(Duration::from_secs(9)));
    /// assert_eq!(policy.decide(3, later), RetryDecision::DeadLetter);
    /// ```
    pub fn decide(&self, deliveries: u32, retry: NackRetry) -> RetryDecision {
        if retry.is_never() || deliveries >= self.max_deliveries.max(1) {
            return RetryDecision::DeadLetter;
        }
        match retry {
            NackRetry::After(delay) => RetryDecision::Redeliver(delay),
            _ => RetryDecision::Redeliver(self.delay_before(deliveries.saturating_add(1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_max_deliveries_counts_as_one() {
        let policy = RetryPolicy::new(0);
        assert_eq!(
            policy.decide(1, NackRetry::Policy),
            RetryDecision::DeadLetter
        );
    }

    #[test]
    fn huge_exponents_stay_at_the_cap() {
        let policy = RetryPolicy::default().multiplier(1e300);
        assert_eq!(policy.delay_before(u32::MAX), policy.max_backoff);
    }
}
