//! [`RedisCommand`]: `run redis`, serving an application on Redis Streams.

use amgi_server::{ServeArgs, ServeContext, ServeError, ServerCommand};
use clap::{Args, FromArgMatches, ValueEnum};
use futures_util::future::BoxFuture;

use crate::{RedisConfig, Server, StartFrom};

/// Where a new group starts, as `--start` spells it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Start {
    /// Every entry of the stream (`0`).
    Earliest,
    /// Only entries added from now on (`$`).
    Latest,
}

/// The arguments of `run redis`.
#[derive(Debug, Args)]
struct RedisArgs {
    /// Streams to consume, by exact key (default: every channel of the application; templated
    /// channels are refused: streams have no patterns).
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// The Redis to connect to: redis://[:PASSWORD@]HOST:PORT[/DB].
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    url: String,
    /// The consumer group (created on each stream when missing).
    #[arg(long, value_name = "GROUP")]
    group: String,
    /// The consumer name within the group; keep it stable so that a restart re-reads its
    /// pending entries [default: the host name].
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// Where a group created now starts reading.
    #[arg(long, value_enum, default_value = "earliest")]
    start: Start,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run redis [ADDRESS…] --group G [--url URL] [--consumer NAME] [--start earliest|latest]
/// [--batch-size N] [--max-deliveries N] [--drain-timeout SECS]`: serves an application on
/// Redis Streams until shutdown.
///
/// Each address is a stream key. `--lanes` is not supported yet and is refused as a
/// configuration error, as are templated channels (`orders.{region}`): Redis Streams have no
/// patterns, so name the streams.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_redis::RedisCommand;
/// use amgi_server::ServerCommand;
///
/// let command = RedisCommand;
/// let args = command.command().get_matches_from(["redis", "orders", "--group", "billing"]);
/// command.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisCommand;

impl ServerCommand for RedisCommand {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn command(&self) -> clap::Command {
        RedisArgs::augment_args(clap::Command::new(self.name())).about(
            "Serve on Redis Streams with a consumer group, at least once, until Ctrl-C or SIGTERM",
        )
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let args = RedisArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let config = config(&args, &cx)?;
            Server::new(cx.app, config)
                .run_until(cx.shutdown)
                .await
                .map_err(Into::into)
        })
    }
}

/// The server's configuration from the command line and the application's channels.
fn config(args: &RedisArgs, cx: &ServeContext) -> Result<RedisConfig, ServeError> {
    if args.serve.lanes.is_some() {
        return Err(ServeError::config(
            "--lanes is not supported by the Redis server yet: leave it out (each stream is \
             consumed one batch at a time, in order)",
        ));
    }
    let subscription = cx.channels.resolve(&args.addresses)?;
    if let Some(template) = subscription.templates.first() {
        return Err(ServeError::config(format!(
            "Redis Streams have no patterns: name the streams of the templated channel `{}` \
             (run redis STREAM… --group …)",
            template.template()
        )));
    }
    let start = match args.start {
        Start::Earliest => StartFrom::Earliest,
        Start::Latest => StartFrom::Latest,
    };
    let mut config = RedisConfig::new(&args.url, &args.group)
        .streams(subscription.exact)
        .start(start)
        .batch_size(args.serve.batch_size(crate::DEFAULT_BATCH_SIZE));
    if let Some(consumer) = &args.consumer {
        config = config.consumer(consumer);
    }
    let retry = args.serve.retry(config.retry);
    let deadlines = args.serve.deadlines(config.deadlines);
    Ok(config.retry(retry).deadlines(deadlines))
}
