//! `run kafka TOPIC… --group-id GROUP`: serving the application on Kafka with `amgi-kafka`
//! (the `kafka` feature).
//!
//! The options build an [`amgi_kafka::KafkaConfig`]: librdkafka properties are passed through
//! with `-X key=value` (as `kcat` does), and the server's own settings (batch size, retries, …)
//! have options of their own. Errors come back as [`Error::Kafka`] with a hint naming the
//! option to fix.

use std::time::Duration;

use amgi_kafka::{AutoOffsetReset, ErrorKind, KafkaConfig};
use clap::{Args, ValueEnum};

use crate::{AsyncFast, Error};

/// Where librdkafka's properties are documented, for the hint of a rejected `-X`.
const PROPERTIES_URL: &str =
    "https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md";

/// Options of `run kafka`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example: app run kafka orders refunds --group-id billing \
                  --bootstrap-servers broker:9092 -X security.protocol=SASL_SSL"
)]
pub(super) struct KafkaArgs {
    /// Topics to consume; a message's topic is the address its channel is chosen by.
    #[arg(value_name = "TOPIC", required = true)]
    topics: Vec<String>,
    /// Consumer group (librdkafka's `group.id`).
    #[arg(long, value_name = "GROUP")]
    group_id: String,
    /// Brokers to connect to first, comma-separated [default: localhost:9092].
    #[arg(long, value_name = "HOST:PORT[,HOST:PORT…]")]
    bootstrap_servers: Option<String>,
    /// A librdkafka property, `key=value` (repeat for more). It goes to the consumer and the
    /// producer; prefix the key with `consumer.` or `producer.` to set it on one only.
    /// `--group-id`, `--bootstrap-servers` and `--auto-offset-reset` win over `-X`.
    #[arg(short = 'X', long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Where a new group starts reading a partition [default: earliest].
    #[arg(long, value_enum, value_name = "WHERE")]
    auto_offset_reset: Option<OffsetReset>,
    /// Largest number of messages of one partition in one batch [default: 100].
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Batches handled at the same time, across partitions [default: 16].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Deliveries of a nacked message before it goes to its dead-letter topic
    /// (`<topic>.dlq`) [default: 3].
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Seconds the brokers may take to answer the first metadata request [default: 10].
    #[arg(long, value_name = "SECONDS")]
    connect_timeout: Option<u64>,
}

/// `--auto-offset-reset`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum OffsetReset {
    /// From the oldest message still stored.
    Earliest,
    /// From the next message published.
    Latest,
    /// Fail: the consumer reports an error for the partition.
    Error,
}

impl From<OffsetReset> for AutoOffsetReset {
    fn from(reset: OffsetReset) -> Self {
        match reset {
            OffsetReset::Earliest => Self::Earliest,
            OffsetReset::Latest => Self::Latest,
            OffsetReset::Error => Self::Error,
        }
    }
}

impl KafkaArgs {
    /// The server configuration: `-X` properties first, then the named options over them.
    fn config(self) -> Result<KafkaConfig, amgi_kafka::Error> {
        let mut config = KafkaConfig::new(self.topics);
        for pair in &self.properties {
            config = config.set_pair(pair).map_err(|error| {
                hint(
                    error,
                    "write each property as -X key=value, for example -X session.timeout.ms=6000",
                )
            })?;
        }
        config = config.set("group.id", self.group_id);
        if let Some(servers) = self.bootstrap_servers {
            config = config.set("bootstrap.servers", servers);
        }
        if let Some(reset) = self.auto_offset_reset {
            config = config.set("auto.offset.reset", AutoOffsetReset::from(reset).as_str());
        }
        if let Some(size) = self.batch_size {
            config.batch_size = size;
        }
        if let Some(batches) = self.concurrency {
            config.concurrency = batches;
        }
        if let Some(attempts) = self.max_attempts {
            config.retry.max_attempts = attempts;
        }
        if let Some(seconds) = self.connect_timeout {
            config.connect_timeout = Duration::from_secs(seconds);
        }
        Ok(config)
    }
}

impl AsyncFast {
    /// `run kafka`: serves on `amgi_kafka::Server::with_config` until `signal()` completes,
    /// then shuts down gracefully.
    pub(super) async fn serve_kafka<S: Future<Output = ()>>(
        self,
        args: KafkaArgs,
        signal: impl FnOnce() -> S,
    ) -> Result<(), Error> {
        self.validate()?;
        #[cfg(feature = "memory")]
        if self.broker.is_some() {
            tracing::warn!(
                "`run kafka` does not use the embedded broker given to `AsyncFast::broker`: \
                 messages published into it are not handled"
            );
        }
        let config = args.config()?;
        tracing::info!(
            topics = ?config.topics,
            group = config.group_id().unwrap_or_default(),
            bootstrap_servers = config.bootstrap_servers(),
            "serving on Kafka; Ctrl-C to stop"
        );
        amgi_kafka::Server::with_config(self, config)
            .run_until(signal())
            .await
            .map_err(|error| Error::Kafka(explain(error)))
    }
}

/// `error`, with a hint naming the option that fixes it when there is one.
fn explain(error: amgi_kafka::Error) -> amgi_kafka::Error {
    let fix = match error.kind() {
        ErrorKind::Config if error.detail().contains("property") => {
            // librdkafka's "No such configuration property" and "Invalid value for property".
            format!("check the -X properties: librdkafka's are listed at {PROPERTIES_URL}")
        }
        ErrorKind::Config => "check the options of `run kafka` (see --help)".to_owned(),
        ErrorKind::Unreachable => "is a broker running there? Start one, or pass the address \
                                   of yours with --bootstrap-servers HOST:PORT"
            .to_owned(),
        ErrorKind::GroupJoin => "check that the topics exist, and that the group has no more \
                                 members than the topics have partitions"
            .to_owned(),
        _ => return error,
    };
    hint(error, &fix)
}

/// `error` with `fix` appended to its detail; the original stays as the source.
fn hint(error: amgi_kafka::Error, fix: &str) -> amgi_kafka::Error {
    amgi_kafka::Error::new(error.kind(), format!("{}; {fix}", error.detail())).with_source(error)
}

/// The guide page `docs/guide/kafka.md`, compiled as doc tests (its code needs a broker to run,
/// so it is `no_run`).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide/kafka.md")]
mod guide {}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `run kafka` alone, as the command line parses it.
    #[derive(Debug, Parser)]
    struct Kafka {
        #[command(flatten)]
        args: KafkaArgs,
    }

    fn parse(args: &[&str]) -> KafkaArgs {
        Kafka::try_parse_from(std::iter::once("kafka").chain(args.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn options_build_the_server_configuration() {
        let config = parse(&[
            "orders",
            "refunds",
            "--group-id",
            "billing",
            "--bootstrap-servers",
            "b1:9092,b2:9092",
            "-X",
            "linger.ms=5",
            "--property",
            "consumer.fetch.min.bytes=1",
            "-X",
            "group.id=ignored",
            "--auto-offset-reset",
            "latest",
            "--batch-size",
            "10",
            "--concurrency",
            "2",
            "--max-attempts",
            "7",
            "--connect-timeout",
            "3",
        ])
        .config()
        .unwrap();
        assert_eq!(config.topics, ["orders", "refunds"]);
        assert_eq!(config.group_id(), Some("billing"));
        assert_eq!(config.bootstrap_servers(), "b1:9092,b2:9092");
        assert_eq!(config.properties["linger.ms"], "5");
        assert_eq!(config.properties["consumer.fetch.min.bytes"], "1");
        assert_eq!(config.properties["auto.offset.reset"], "latest");
        assert_eq!(config.batch_size, 10);
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.retry.max_attempts, 7);
        assert_eq!(config.connect_timeout, Duration::from_secs(3));
        config.validate().unwrap();
    }

    #[test]
    fn defaults_are_the_servers() {
        let config = parse(&["orders", "--group-id", "g"]).config().unwrap();
        let defaults = KafkaConfig::default();
        assert_eq!(config.bootstrap_servers(), "localhost:9092");
        assert_eq!(config.batch_size, defaults.batch_size);
        assert_eq!(config.retry.max_attempts, defaults.retry.max_attempts);
        assert_eq!(config.properties.len(), 1, "{:?}", config.properties);
    }

    #[test]
    fn topics_and_group_are_required() {
        assert!(Kafka::try_parse_from(["kafka", "--group-id", "g"]).is_err());
        assert!(Kafka::try_parse_from(["kafka", "orders"]).is_err());
    }

    #[test]
    fn a_malformed_property_names_the_fix() {
        let error = parse(&["orders", "--group-id", "g", "-X", "linger.ms"])
            .config()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.detail().contains("`linger.ms`"), "{error}");
        assert!(error.detail().contains("-X key=value"), "{error}");
    }

    #[test]
    fn hints_name_the_option() {
        let unreachable = explain(amgi_kafka::Error::new(ErrorKind::Unreachable, "no answer"));
        assert_eq!(unreachable.kind(), ErrorKind::Unreachable);
        assert!(
            unreachable.detail().starts_with("no answer; "),
            "{unreachable}"
        );
        assert!(
            unreachable.detail().contains("--bootstrap-servers"),
            "{unreachable}"
        );
        let property = explain(amgi_kafka::Error::config(
            "invalid consumer configuration: No such configuration property: \"nope\"",
        ));
        assert!(property.detail().contains(PROPERTIES_URL), "{property}");
        let startup = explain(amgi_kafka::Error::new(ErrorKind::Startup, "no database"));
        assert_eq!(startup.detail(), "no database");
    }
}
