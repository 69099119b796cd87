//! [`RedisCommand`]: `run redis`, serving an application on Redis Streams (or Pub/Sub).

use std::time::Duration;

use amgi_server::{
    AddressPart, ChannelAddress, ServeArgs, ServeContext, ServeError, ServerCommand,
};
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
    /// channels are refused in streams mode: streams have no patterns). With --pubsub: the
    /// channels to subscribe to, templated ones through PSUBSCRIBE.
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// The Redis to connect to: redis://[USER][:PASSWORD@]HOST:PORT[/DB], or rediss:// for TLS.
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    url: String,
    /// The consumer group (created on each stream when missing); required unless --pubsub.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// The consumer name within the group; keep it stable so that a restart re-reads its
    /// pending entries [default: the host name].
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// Where a group created now starts reading.
    #[arg(long, value_enum, default_value = "earliest")]
    start: Start,
    /// Claim entries pending on another consumer for longer than SECS (XAUTOCLAIM), such as
    /// those of a consumer that died; 0 never claims.
    #[arg(long, value_name = "SECS", default_value_t = crate::DEFAULT_CLAIM_IDLE.as_secs())]
    claim_idle: u64,
    /// Pub/Sub instead of Streams: SUBSCRIBE/PSUBSCRIBE, payload only, at most once (a
    /// message published while nothing is subscribed, or nacked, is lost).
    #[arg(long)]
    pubsub: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run redis [ADDRESS…] --group G [--url URL] [--consumer NAME] [--start earliest|latest]
/// [--claim-idle SECS] [--pubsub] [--batch-size N] [--max-deliveries N] [--lanes N]
/// [--drain-timeout SECS]`: serves an application on Redis Streams (or with `--pubsub`, Redis
/// Pub/Sub) until shutdown.
///
/// In streams mode each address is a stream key, and templated channels (`orders.{region}`)
/// are refused: Redis Streams have no patterns, so name the streams. With `--pubsub` each
/// address is a channel, and a templated channel is subscribed to as a pattern
/// (`orders.{region}` → `PSUBSCRIBE orders.*`); the framework then matches each channel
/// against the application's templates.
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
            "Serve on Redis Streams with a consumer group, at least once (or on Pub/Sub with \
             --pubsub, at most once), until Ctrl-C or SIGTERM",
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
    let subscription = cx.channels.resolve(&args.addresses)?;
    let mut config = if args.pubsub {
        let mut config = RedisConfig::new(&args.url, args.group.clone().unwrap_or_default())
            .pubsub(true)
            .streams(subscription.exact);
        for template in &subscription.templates {
            config = config.pattern(glob(template));
        }
        config
    } else {
        if let Some(template) = subscription.templates.first() {
            return Err(ServeError::config(format!(
                "Redis Streams have no patterns: name the streams of the templated channel `{}` \
                 (run redis STREAM… --group …), or use Pub/Sub (--pubsub, at most once)",
                template.template()
            )));
        }
        let Some(group) = &args.group else {
            return Err(ServeError::config(
                "no consumer group: set --group (or --pubsub for Pub/Sub, which needs none)",
            ));
        };
        RedisConfig::new(&args.url, group).streams(subscription.exact)
    };
    let start = match args.start {
        Start::Earliest => StartFrom::Earliest,
        Start::Latest => StartFrom::Latest,
    };
    let claim_idle = (args.claim_idle > 0).then(|| Duration::from_secs(args.claim_idle));
    config = config
        .start(start)
        .claim_idle(claim_idle)
        .lanes(args.serve.lanes)
        .batch_size(args.serve.batch_size(crate::DEFAULT_BATCH_SIZE));
    if let Some(consumer) = &args.consumer {
        config = config.consumer(consumer);
    }
    let retry = args.serve.retry(config.retry);
    let deadlines = args.serve.deadlines(config.deadlines);
    Ok(config.retry(retry).deadlines(deadlines))
}

/// The `PSUBSCRIBE` pattern of a templated channel: its literal parts with Redis's glob
/// characters escaped, each placeholder a `*`.
fn glob(channel: &ChannelAddress) -> String {
    let mut pattern = String::new();
    for part in channel.parts() {
        match part {
            AddressPart::Literal(text) => {
                for character in text.chars() {
                    if matches!(character, '*' | '?' | '[' | ']' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(character);
                }
            }
            // A placeholder, or a part of a kind newer than this server: anything.
            _ => pattern.push('*'),
        }
    }
    pattern
}

#[cfg(test)]
mod tests {
    use amgi_server::{AddressPart, ChannelAddress};

    use super::glob;

    #[test]
    fn templates_become_globs_with_their_literals_escaped() {
        let template = ChannelAddress::new(
            "orders.{region}.*",
            vec![
                AddressPart::Literal("orders.".into()),
                AddressPart::Placeholder("region".into()),
                AddressPart::Literal(".*".into()),
            ],
        );
        assert_eq!(glob(&template), "orders.*.\\*");
    }
}
