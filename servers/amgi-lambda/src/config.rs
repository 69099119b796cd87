//! [`LambdaConfig`]: how invocations map onto the application, read from the environment by
//! [`LambdaConfig::from_env`] or built by hand.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use amgi_server::{DeadLetterPolicy, ServeError};

/// `AMGI_SQS_ADDRESSES`: `address=queue` pairs, comma-separated.
pub const SQS_ADDRESSES_ENV: &str = "AMGI_SQS_ADDRESSES";
/// `AMGI_KAFKA_ON_NACK`: `fail`, `log` or `dead-letter`.
pub const KAFKA_ON_NACK_ENV: &str = "AMGI_KAFKA_ON_NACK";

/// What a nacked Kafka record does to its invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KafkaOnNack {
    /// The invocation fails, so Lambda retries the whole batch (at least once; the records that
    /// were acked are handled again).
    #[default]
    Fail,
    /// The nack is logged (`warn`) and the record is dropped; the partition goes on.
    Log,
    /// The record is sent to `<topic>.dlq` through the send router, with the dead-letter
    /// headers; the invocation fails if that send fails.
    DeadLetter,
}

impl FromStr for KafkaOnNack {
    type Err = ServeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "fail" => Ok(Self::Fail),
            "log" => Ok(Self::Log),
            "dead-letter" => Ok(Self::DeadLetter),
            other => Err(ServeError::config(format!(
                "{KAFKA_ON_NACK_ENV}=`{other}`: expected `fail`, `log` or `dead-letter`"
            ))),
        }
    }
}

impl fmt::Display for KafkaOnNack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fail => "fail",
            Self::Log => "log",
            Self::DeadLetter => "dead-letter",
        })
    }
}

/// The configuration of the Lambda server.
///
/// ```
/// use amgi_lambda::{KafkaOnNack, LambdaConfig};
///
/// let config = LambdaConfig::new()
///     .sqs_address("user-created.fifo", "user.created")
///     .kafka_on_nack(KafkaOnNack::Log);
/// assert_eq!(config.address_of_queue("user-created.fifo"), "user.created");
/// assert_eq!(config.address_of_queue("orders"), "orders");
/// ```
#[derive(Debug, Clone, Default)]
pub struct LambdaConfig {
    queues: HashMap<String, String>,
    kafka_on_nack: KafkaOnNack,
    dead_letter: DeadLetterPolicy,
}

impl LambdaConfig {
    /// No queue mapping, Kafka nacks fail the invocation, dead letters to `<topic>.dlq`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The configuration from `AMGI_SQS_ADDRESSES` (`address=queue,…`, e.g.
    /// `user.created=user-created,user.created=user-created.fifo`) and `AMGI_KAFKA_ON_NACK`
    /// (`fail`, the default, `log` or `dead-letter`).
    ///
    /// ```no_run
    /// let config = amgi_lambda::LambdaConfig::from_env()?;
    /// # Ok::<(), amgi_server::ServeError>(())
    /// ```
    pub fn from_env() -> Result<Self, ServeError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut config = Self::new();
        if let Some(pairs) = var(SQS_ADDRESSES_ENV) {
            config = config.sqs_addresses(&pairs)?;
        }
        if let Some(policy) = var(KAFKA_ON_NACK_ENV) {
            config = config.kafka_on_nack(policy.trim().parse()?);
        }
        Ok(config)
    }

    /// Messages of the SQS queue named `queue` go to `address` (a queue without a mapping goes
    /// to the address of its own name).
    ///
    /// ```
    /// let config = amgi_lambda::LambdaConfig::new().sqs_address("user-created", "user.created");
    /// assert_eq!(config.address_of_queue("user-created"), "user.created");
    /// ```
    #[must_use]
    pub fn sqs_address(mut self, queue: impl Into<String>, address: impl Into<String>) -> Self {
        self.queues.insert(queue.into(), address.into());
        self
    }

    /// Adds the `address=queue` pairs of `pairs`, comma-separated (the format of
    /// `AMGI_SQS_ADDRESSES`).
    ///
    /// ```
    /// let config = amgi_lambda::LambdaConfig::new()
    ///     .sqs_addresses("user.created=user-created, user.created=user-created.fifo")?;
    /// assert_eq!(config.address_of_queue("user-created.fifo"), "user.created");
    /// # Ok::<(), amgi_server::ServeError>(())
    /// ```
    pub fn sqs_addresses(mut self, pairs: &str) -> Result<Self, ServeError> {
        for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((address, queue)) = pair.split_once('=') else {
                return Err(ServeError::config(format!(
                    "{SQS_ADDRESSES_ENV}: `{pair}` is not `address=queue`"
                )));
            };
            let (address, queue) = (address.trim(), queue.trim());
            if address.is_empty() || queue.is_empty() {
                return Err(ServeError::config(format!(
                    "{SQS_ADDRESSES_ENV}: `{pair}` has an empty address or queue name"
                )));
            }
            self.queues.insert(queue.to_owned(), address.to_owned());
        }
        Ok(self)
    }

    /// What a nacked Kafka record does (see [`KafkaOnNack`]).
    ///
    /// ```
    /// let config = amgi_lambda::LambdaConfig::new().kafka_on_nack(amgi_lambda::KafkaOnNack::DeadLetter);
    /// ```
    #[must_use]
    pub fn kafka_on_nack(mut self, policy: KafkaOnNack) -> Self {
        self.kafka_on_nack = policy;
        self
    }

    /// Where [`KafkaOnNack::DeadLetter`] sends a record (`<topic>.dlq` by default).
    ///
    /// ```
    /// let config = amgi_lambda::LambdaConfig::new()
    ///     .dead_letter(amgi_server::DeadLetterPolicy::address("all.dlq"));
    /// ```
    #[must_use]
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letter = policy;
        self
    }

    /// The address of the messages of the queue named `queue`.
    pub fn address_of_queue<'a>(&'a self, queue: &'a str) -> &'a str {
        self.queues.get(queue).map_or(queue, String::as_str)
    }

    /// The Kafka nack policy.
    pub fn kafka_nack_policy(&self) -> KafkaOnNack {
        self.kafka_on_nack
    }

    /// The dead-letter policy of [`KafkaOnNack::DeadLetter`].
    pub fn dead_letter_policy(&self) -> &DeadLetterPolicy {
        &self.dead_letter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_queue_pairs_are_parsed_and_bad_ones_named() {
        let config = LambdaConfig::new()
            .sqs_addresses(" user.created=user-created , orders=orders.fifo,")
            .unwrap();
        assert_eq!(config.address_of_queue("user-created"), "user.created");
        assert_eq!(config.address_of_queue("orders.fifo"), "orders");
        assert_eq!(config.address_of_queue("other"), "other");
        let error = LambdaConfig::new().sqs_addresses("orders").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`orders` is not `address=queue`"),
            "{error}"
        );
        let error = LambdaConfig::new().sqs_addresses("=q").unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
    }

    #[test]
    fn kafka_nack_policies_parse_and_print_alike() {
        for policy in [KafkaOnNack::Fail, KafkaOnNack::Log, KafkaOnNack::DeadLetter] {
            assert_eq!(policy.to_string().parse::<KafkaOnNack>().unwrap(), policy);
        }
        let error = "retry".parse::<KafkaOnNack>().unwrap_err();
        assert!(error.to_string().contains(KAFKA_ON_NACK_ENV), "{error}");
    }
}
