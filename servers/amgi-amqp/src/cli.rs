//! [`AmqpCommand`]: `run amqp`, serving an application on an AMQP 0-9-1 broker.

use amgi_server::{ServeArgs, ServeContext, ServeError, ServerCommand};
use clap::{Args, FromArgMatches, ValueEnum};
use futures_util::future::BoxFuture;

use crate::{AmqpConfig, AmqpUrl, DeadLetters, HeadersMatch, Server};

/// `--match`: how a `--bind-headers` binding matches.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum Match {
    /// Every listed header must match.
    #[default]
    All,
    /// One matching header is enough.
    Any,
}

/// The arguments of `run amqp`.
#[derive(Debug, Args)]
struct AmqpArgs {
    /// Queues to consume [default: every channel of the application, each a queue of that
    /// name; a channel whose address is a template cannot be a queue: name the queue and bind
    /// it with --bind].
    #[arg(value_name = "QUEUE")]
    addresses: Vec<String>,
    /// The broker: amqp://USER:PASS@HOST:PORT/VHOST (amqps:// for TLS). The password is never
    /// logged [default: `amqp://guest:***@127.0.0.1:5672/%2f`].
    #[arg(
        long,
        value_name = "URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_default_value = true
    )]
    url: String,
    /// With an amqps:// URL, trust only the certificate authorities of this PEM file.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<std::path::PathBuf>,
    /// Bind each queue to EXCHANGE with routing key KEY (repeatable).
    #[arg(long, value_name = "EXCHANGE:KEY")]
    bind: Vec<String>,
    /// Bind each queue to the headers exchange EXCHANGE matching NAME=VALUE,… (repeatable).
    #[arg(long, num_args = 2, value_names = ["EXCHANGE", "NAME=VALUE,…"])]
    bind_headers: Vec<String>,
    /// How --bind-headers bindings match: all the headers, or any of them.
    #[arg(long = "match", value_enum, default_value_t = Match::All)]
    matching: Match,
    /// The queues must exist: do not declare them.
    #[arg(long)]
    no_declare: bool,
    /// Reject dead letters (requeue=false) to the queue's own x-dead-letter-exchange instead
    /// of publishing them to <queue>.dlq.
    #[arg(long)]
    broker_dead_letters: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run amqp [QUEUE…] --url amqp://USER:PASS@H:P/VHOST [--bind EXCHANGE:KEY]…
/// [--ca-file PATH] [--bind-headers EXCHANGE NAME=VALUE,…]… [--match all|any] [--no-declare]
/// [--broker-dead-letters] [--batch-size N] [--max-deliveries N] [--drain-timeout SECS]`:
/// serves an application on an AMQP 0-9-1 broker (RabbitMQ), at least once, until shutdown.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_amqp::AmqpCommand;
/// use amgi_server::ServerCommand;
///
/// let args = AmqpCommand.command().get_matches_from(["amqp", "orders", "--bind", "amq.topic:orders.#"]);
/// AmqpCommand.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AmqpCommand;

impl ServerCommand for AmqpCommand {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn command(&self) -> clap::Command {
        AmqpArgs::augment_args(clap::Command::new(self.name())).about(
            "Serve on an AMQP 0-9-1 broker (RabbitMQ), manual acks, at least once, until \
             Ctrl-C or SIGTERM",
        )
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let args = AmqpArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let config = config(&args, &cx)?;
            let handle = Server::new(cx.app, config).start().await?;
            cx.shutdown.await;
            handle.shutdown().await.map_err(Into::into)
        })
    }
}

/// The server's configuration from the arguments and the application's channels.
fn config(args: &AmqpArgs, cx: &ServeContext) -> Result<AmqpConfig, ServeError> {
    let subscription = cx.channels.resolve(&args.addresses)?;
    if let Some(template) = subscription.templates.first() {
        return Err(ServeError::config(format!(
            "`{}` is an address template and AMQP queues have exact names: name a queue \
             (`run amqp QUEUE`) and bind it to the addresses with --bind EXCHANGE:KEY \
             (a topic exchange's `*` matches one placeholder)",
            template.template()
        )));
    }
    if args.serve.lanes.is_some_and(|lanes| lanes > 1) {
        return Err(ServeError::config(
            "--lanes is not supported by the AMQP server yet: run more servers on the queue instead",
        ));
    }
    let mut config = AmqpConfig::new(AmqpUrl::new(&args.url))
        .queues(subscription.exact)
        .declare(!args.no_declare);
    for bind in &args.bind {
        let (exchange, key) = bind
            .split_once(':')
            .ok_or_else(|| ServeError::config(format!("--bind {bind}: expected EXCHANGE:KEY")))?;
        config = config.bind(exchange, key);
    }
    let matching = match args.matching {
        Match::All => HeadersMatch::All,
        Match::Any => HeadersMatch::Any,
    };
    for pair in args.bind_headers.chunks(2) {
        let [exchange, headers] = pair else { continue };
        let headers = (headers.split(','))
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                pair.split_once('=').ok_or_else(|| {
                    ServeError::config(format!(
                        "--bind-headers {exchange} {headers}: expected NAME=VALUE,…"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        config = config.bind_headers(exchange, headers, matching);
    }
    if let Some(path) = &args.ca_file {
        config = config.ca_file(path);
    }
    if args.broker_dead_letters {
        config = config.dead_letters(DeadLetters::Broker);
    }
    let defaults = AmqpConfig::new(AmqpUrl::new(""));
    Ok(config
        .batch_size(args.serve.batch_size(defaults.batch_size))
        .retry(args.serve.retry(defaults.retry))
        .deadlines(args.serve.deadlines(defaults.deadlines)))
}

#[cfg(test)]
mod tests {
    use amgi_core::BoxApplication;
    use amgi_server::{AddressPart, AppChannels, ChannelAddress, ServeErrorKind};

    use super::*;
    use crate::QueueBinding;

    struct Nothing;
    impl amgi_core::Application for Nothing {
        async fn call(
            &self,
            scope: amgi_core::Scope,
            _receive: &mut dyn amgi_core::Receiver,
            _send: amgi_core::SharedSender,
        ) -> Result<(), amgi_core::ApplicationError> {
            Err(amgi_core::ApplicationError::unsupported_scope(scope.kind()))
        }
    }

    fn context(channels: Vec<ChannelAddress>) -> ServeContext {
        ServeContext {
            app: BoxApplication::new(Nothing),
            channels: AppChannels::new(channels, |_| true),
            shutdown: Box::pin(async {}),
        }
    }

    fn parse(args: &[&str]) -> AmqpArgs {
        let matches = AmqpCommand
            .command()
            .try_get_matches_from(std::iter::once("amqp").chain(args.iter().copied()))
            .unwrap();
        AmqpArgs::from_arg_matches(&matches).unwrap()
    }

    fn exact(address: &str) -> ChannelAddress {
        ChannelAddress::new(address, vec![AddressPart::Literal(address.into())])
    }

    #[test]
    fn bindings_and_flags_reach_the_config() {
        let args = parse(&[
            "orders",
            "--url",
            "amqp://u:secret@h:5672/v",
            "--bind",
            "amq.topic:orders.#",
            "--bind-headers",
            "amq.headers",
            "region=eu,kind=new",
            "--match",
            "any",
            "--no-declare",
            "--batch-size",
            "4",
        ]);
        let config = config(&args, &context(vec![exact("orders")])).unwrap();
        assert_eq!(config.queues, ["orders"]);
        assert!(!config.declare);
        assert_eq!(config.batch_size, 4);
        assert_eq!(
            config.bindings[0],
            QueueBinding::RoutingKey {
                exchange: "amq.topic".into(),
                routing_key: "orders.#".into()
            }
        );
        assert_eq!(
            config.bindings[1],
            QueueBinding::Headers {
                exchange: "amq.headers".into(),
                headers: vec![
                    ("region".into(), "eu".into()),
                    ("kind".into(), "new".into())
                ],
                matching: HeadersMatch::Any,
            }
        );
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn a_template_channel_is_a_config_error_naming_it() {
        let orders = ChannelAddress::new(
            "orders.{region}",
            vec![
                AddressPart::Literal("orders.".into()),
                AddressPart::Placeholder("region".into()),
            ],
        );
        let error = config(&parse(&[]), &context(vec![orders])).unwrap_err();
        assert_eq!(error.kind(), ServeErrorKind::Config);
        assert!(error.to_string().contains("orders.{region}"), "{error}");
        assert!(error.to_string().contains("--bind"), "{error}");
    }

    #[test]
    fn a_bind_without_a_key_is_a_config_error() {
        let args = parse(&["orders", "--bind", "amq.topic"]);
        let error = config(&args, &context(vec![exact("orders")])).unwrap_err();
        assert!(error.to_string().contains("EXCHANGE:KEY"), "{error}");
    }
}
