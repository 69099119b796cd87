//! `run kafka [TOPIC…] --group-id GROUP`: the [`KafkaCommand`] a framework registers to serve an
//! application on Kafka from its command line.
//!
//! The options build a [`KafkaConfig`]: librdkafka properties are passed through with
//! `-X key=value` (as `kcat` does), and the server's own settings (batch size, retries, lanes,
//! …) have options of their own. Without topics, the application's channels choose them: each
//! exact address is a topic, and each address template (`orders.{region}`) a regex
//! subscription. Errors come back as [`ServeError`]s whose source is the [`Error`], with a hint
//! naming the option to fix.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use amgi_server::{
    ServeArgs, ServeContext, ServeError, ServeErrorKind, ServerCommand, Subscription,
};
use clap::{Args, FromArgMatches, ValueEnum};

use crate::{AutoOffsetReset, Error, ErrorKind, KafkaConfig, Server};

/// Where librdkafka's properties are documented, for the hint of a rejected `-X`.
const PROPERTIES_URL: &str =
    "https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md";

/// `run kafka`: serves the application on Kafka with [`Server`], as an
/// [`amgi_server::ServerCommand`] named `"kafka"`.
///
/// ```
/// use amgi_kafka::KafkaCommand;
/// use amgi_server::ServerCommand;
///
/// let command = KafkaCommand.command();
/// assert_eq!(command.get_name(), "kafka");
/// assert!(command.clone().try_get_matches_from(["kafka", "--group-id", "billing"]).is_ok());
/// assert!(command.try_get_matches_from(["kafka", "orders"]).is_err(), "--group-id is required");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaCommand;

/// Options of `run kafka`.
#[derive(Debug, Args)]
#[command(
    about = "Serve on Kafka (any Kafka-protocol broker) with amgi-kafka",
    after_help = "Example: app run kafka orders refunds --group-id billing \
                  --bootstrap-servers broker:9092 -X security.protocol=SASL_SSL"
)]
struct KafkaArgs {
    /// Topics to consume [default: every channel of the application: its exact addresses, and
    /// a regex subscription for each address template]. Each must have a channel.
    #[arg(value_name = "TOPIC")]
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
    /// The options every server offers: `--batch-size` (of one partition) [default: 100],
    /// `--max-deliveries` (then `<topic>.dlq`) [default: 5], `--lanes` (keyed by the record
    /// key) [default: off], `--drain-timeout` [default: 30].
    #[command(flatten)]
    serve: ServeArgs,
    /// Batches handled at the same time, across partitions [default: 16].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
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

/// The topics of a subscription: exact addresses as they are, templates as regular
/// expressions (librdkafka subscribes to a pattern when the topic starts with `^`).
fn topics(subscription: Subscription) -> Vec<String> {
    let mut topics = subscription.exact;
    topics.extend(
        subscription
            .templates
            .iter()
            .map(amgi_server::ChannelAddress::regex),
    );
    topics
}

impl KafkaArgs {
    /// The server configuration for `topics`: `-X` properties first, then the named options
    /// over them.
    fn config(self, topics: Vec<String>) -> Result<KafkaConfig, Error> {
        let mut config = KafkaConfig::new(topics);
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
        config.batch_size = self.serve.batch_size(config.batch_size);
        if let Some(batches) = self.concurrency {
            config.concurrency = batches;
        }
        config.retry = self.serve.retry(config.retry);
        if self.serve.lanes.is_some() {
            config.lanes = self.serve.lanes;
        }
        config.deadlines = self.serve.deadlines(config.deadlines);
        if let Some(seconds) = self.connect_timeout {
            config.connect_timeout = Duration::from_secs(seconds);
        }
        Ok(config)
    }
}

impl ServerCommand for KafkaCommand {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn command(&self) -> clap::Command {
        KafkaArgs::augment_args(clap::Command::new(self.name()))
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> Pin<Box<dyn Future<Output = Result<(), ServeError>> + Send + 'static>> {
        Box::pin(async move {
            let args = KafkaArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let subscription = cx.channels.resolve(&args.topics)?;
            let config = args.config(topics(subscription)).map_err(serve_error)?;
            config.validate().map_err(serve_error)?;
            tracing::info!(
                server = "kafka",
                topics = ?config.topics,
                group = config.group_id().unwrap_or_default(),
                bootstrap_servers = config.bootstrap_servers(),
                "serving; Ctrl-C to stop"
            );
            Server::with_config(cx.app, config)
                .run_until(cx.shutdown)
                .await
                .map_err(serve_error)
        })
    }
}

/// `error` as a [`ServeError`], with a hint naming the option that fixes it.
fn serve_error(error: Error) -> ServeError {
    let kind = match error.kind() {
        ErrorKind::Config => ServeErrorKind::Config,
        ErrorKind::Unreachable => ServeErrorKind::Unreachable,
        ErrorKind::Startup => ServeErrorKind::Startup,
        ErrorKind::Shutdown => ServeErrorKind::Shutdown,
        _ => ServeErrorKind::Server,
    };
    ServeError::new(kind, explain(error))
}

/// `error`, with a hint naming the option that fixes it when there is one.
fn explain(error: Error) -> Error {
    let fix = match error.kind() {
        // A malformed `-X` already says how to write it (see `KafkaArgs::config`).
        ErrorKind::Config if error.detail().contains("-X key=value") => return error,
        ErrorKind::Config if error.detail().contains("property") => {
            // librdkafka's "No such configuration property" and "Invalid value for property".
            format!("check the -X properties: librdkafka's are listed at {PROPERTIES_URL}")
        }
        ErrorKind::Config => "check the options of `run kafka` (see --help)".to_owned(),
        ErrorKind::Unreachable => "is a broker running there? Start one, or pass the address \
                                   of yours with --bootstrap-servers HOST:PORT"
            .to_owned(),
        _ => return error,
    };
    hint(error, &fix)
}

/// `error` with `fix` appended to its detail; the original stays as the source.
fn hint(error: Error, fix: &str) -> Error {
    Error::new(error.kind(), format!("{}; {fix}", error.detail())).with_source(error)
}

#[cfg(test)]
mod tests {
    use amgi_server::{AddressPart, AppChannels, ChannelAddress};

    use super::*;

    fn parse(args: &[&str]) -> KafkaArgs {
        let matches = KafkaCommand
            .command()
            .try_get_matches_from(std::iter::once("kafka").chain(args.iter().copied()))
            .unwrap();
        KafkaArgs::from_arg_matches(&matches).unwrap()
    }

    /// Channels `user.created` and `orders.{region}`.
    fn channels() -> AppChannels {
        AppChannels::new(
            vec![
                ChannelAddress::new(
                    "user.created",
                    vec![AddressPart::Literal("user.created".into())],
                ),
                ChannelAddress::new(
                    "orders.{region}",
                    vec![
                        AddressPart::Literal("orders.".into()),
                        AddressPart::Placeholder("region".into()),
                    ],
                ),
            ],
            |address| {
                address == "user.created"
                    || address
                        .strip_prefix("orders.")
                        .is_some_and(|r| !r.is_empty() && !r.contains(['.', '/']))
            },
        )
    }

    #[test]
    fn options_build_the_server_configuration() {
        let args = parse(&[
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
            "--max-deliveries",
            "7",
            "--lanes",
            "32",
            "--drain-timeout",
            "4",
            "--connect-timeout",
            "3",
        ]);
        assert_eq!(args.topics, ["orders", "refunds"]);
        let config = args.config(vec!["orders".into()]).unwrap();
        assert_eq!(config.topics, ["orders"]);
        assert_eq!(config.group_id(), Some("billing"));
        assert_eq!(config.bootstrap_servers(), "b1:9092,b2:9092");
        assert_eq!(config.properties["linger.ms"], "5");
        assert_eq!(config.properties["consumer.fetch.min.bytes"], "1");
        assert_eq!(config.properties["auto.offset.reset"], "latest");
        assert_eq!(config.batch_size, 10);
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.retry.max_deliveries, 7);
        assert_eq!(config.lanes, Some(32));
        assert_eq!(config.deadlines.drain, Duration::from_secs(4));
        assert_eq!(config.connect_timeout, Duration::from_secs(3));
        config.validate().unwrap();
    }

    #[test]
    fn defaults_are_the_servers() {
        let config = parse(&["--group-id", "g"])
            .config(vec!["orders".into()])
            .unwrap();
        let defaults = KafkaConfig::default();
        assert_eq!(config.bootstrap_servers(), "localhost:9092");
        assert_eq!(config.batch_size, defaults.batch_size);
        assert_eq!(config.retry, defaults.retry);
        assert_eq!(config.lanes, None);
        assert_eq!(config.concurrency, defaults.concurrency);
        assert_eq!(config.deadlines, defaults.deadlines);
        assert_eq!(config.properties.len(), 1, "{:?}", config.properties);
    }

    #[test]
    fn help_lists_the_common_options() {
        let help = KafkaCommand.command().render_long_help().to_string();
        for option in [
            "--batch-size <N>",
            "--max-deliveries <N>",
            "--lanes <N>",
            "--drain-timeout <SECS>",
            "--concurrency <N>",
        ] {
            assert!(help.contains(option), "{option} missing from:\n{help}");
        }
    }

    #[test]
    fn the_group_is_required_and_topics_are_not() {
        assert!(
            KafkaCommand
                .command()
                .try_get_matches_from(["kafka", "orders"])
                .is_err()
        );
        assert!(parse(&["--group-id", "g"]).topics.is_empty());
    }

    #[test]
    fn without_topics_the_channels_choose_them() {
        let subscription = channels().resolve(&[]).unwrap();
        assert_eq!(
            topics(subscription),
            ["user.created", r"^orders\.[^./]+$"],
            "exact addresses, then one regex subscription per template"
        );
        let given = channels()
            .resolve(&["orders.eu".into(), "user.created".into()])
            .unwrap();
        assert_eq!(topics(given), ["orders.eu", "user.created"]);
    }

    #[test]
    fn a_topic_without_a_channel_is_a_config_error_listing_the_channels() {
        let error = channels().resolve(&["refunds".into()]).unwrap_err();
        assert_eq!(error.kind(), ServeErrorKind::Config);
        let message = error.to_string();
        assert!(message.contains("`refunds`"), "{message}");
        assert!(
            message.contains("`user.created`, `orders.{region}`"),
            "{message}"
        );
    }

    #[test]
    fn a_malformed_property_names_the_fix() {
        let error = parse(&["orders", "--group-id", "g", "-X", "linger.ms"])
            .config(vec!["orders".into()])
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.detail().contains("`linger.ms`"), "{error}");
        assert!(error.detail().contains("-X key=value"), "{error}");
    }

    #[test]
    fn errors_map_to_serve_errors_with_hints_naming_the_option() {
        let unreachable = serve_error(Error::new(ErrorKind::Unreachable, "no answer"));
        assert_eq!(unreachable.kind(), ServeErrorKind::Unreachable);
        let source = unreachable.get_ref().downcast_ref::<Error>().unwrap();
        assert_eq!(source.kind(), ErrorKind::Unreachable);
        assert!(source.detail().starts_with("no answer; "), "{source}");
        assert!(
            unreachable.to_string().contains("--bootstrap-servers"),
            "{unreachable}"
        );
        let property = serve_error(Error::config(
            "invalid consumer configuration: No such configuration property: \"nope\"",
        ));
        assert_eq!(property.kind(), ServeErrorKind::Config);
        assert!(property.to_string().contains(PROPERTIES_URL), "{property}");
        let startup = serve_error(Error::new(ErrorKind::Startup, "no database"));
        assert_eq!(startup.kind(), ServeErrorKind::Startup);
        assert_eq!(
            startup.to_string(),
            "application startup failed: no database"
        );
        let consumer = serve_error(Error::new(ErrorKind::Consumer, "fatal"));
        assert_eq!(consumer.kind(), ServeErrorKind::Server);
    }
}
