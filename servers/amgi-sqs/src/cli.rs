//! [`SqsCommand`]: `run sqs`, serving an application on Amazon SQS.

use std::time::Duration;

use amgi_server::{ServeArgs, ServeContext, ServeError, ServerCommand};
use clap::{Args, FromArgMatches};
use futures_util::future::BoxFuture;

use crate::config::{QueueMapping, is_valid_queue_name};
use crate::{Server, SqsConfig};

/// The arguments of `run sqs`.
#[derive(Debug, Args)]
struct SqsArgs {
    /// Addresses to consume, each `ADDRESS=QUEUE` (a queue name or URL) or a plain `QUEUE`
    /// (address and queue alike) [default: every channel of the application, each as the queue
    /// of its name].
    #[arg(value_name = "ADDRESS[=QUEUE]")]
    queues: Vec<String>,
    /// The SQS endpoint (e.g. `http://127.0.0.1:4566` for moto) [default: AWS's own].
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// The AWS region [default: from the standard chain: `AWS_REGION`, the profile].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Seconds one `ReceiveMessage` long-polls, 0 to 20.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    wait_time: u64,
    /// The visibility timeout asked for on receive [default: the queue's own].
    #[arg(long, value_name = "SECS")]
    visibility_timeout: Option<u64>,
    /// Sends messages of ADDRESS to QUEUE (a name or URL) without consuming it; repeatable.
    /// Other addresses are sent to the queue of their own name.
    #[arg(long = "route", value_name = "ADDRESS=QUEUE")]
    routes: Vec<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run sqs [ADDRESS[=QUEUE]…] [--endpoint-url URL] [--region R] [--wait-time SECS]
/// [--visibility-timeout SECS] [--route ADDRESS=QUEUE…] [--batch-size N] [--max-deliveries N] [--lanes N]
/// [--drain-timeout SECS]`: serves an application on Amazon SQS until shutdown.
///
/// Credentials come from the standard AWS chain (environment, profile, SSO, instance or task
/// role) and are never logged. `--batch-size` is the messages of one receive (1 to 10);
/// `--lanes` the batches of one queue handled at once. SQS names allow no dots: a channel
/// `user.created` needs a mapping, `user.created=user-created`. Templated channels are refused:
/// SQS has no patterns.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_server::ServerCommand;
/// use amgi_sqs::SqsCommand;
///
/// let command = SqsCommand;
/// let args = command
///     .command()
///     .get_matches_from(["sqs", "user.created=user-created", "--endpoint-url", "http://127.0.0.1:4566"]);
/// command.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SqsCommand;

impl ServerCommand for SqsCommand {
    fn name(&self) -> &'static str {
        "sqs"
    }

    fn command(&self) -> clap::Command {
        SqsArgs::augment_args(clap::Command::new(self.name()))
            .about("Serve on Amazon SQS (long polling, at least once), until Ctrl-C or SIGTERM")
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let args = SqsArgs::from_arg_matches(&args)
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
fn config(args: &SqsArgs, cx: &ServeContext) -> Result<SqsConfig, ServeError> {
    let given: Vec<QueueMapping> = args.queues.iter().map(|q| QueueMapping::parse(q)).collect();
    let addresses: Vec<String> = given.iter().map(|m| m.address.clone()).collect();
    let subscription = cx.channels.resolve(&addresses)?;
    if let Some(template) = subscription.templates.first() {
        return Err(ServeError::config(format!(
            "SQS has no patterns: name the queues of the templated channel `{}` \
             (run sqs ADDRESS=QUEUE…)",
            template.template()
        )));
    }
    let mappings = if given.is_empty() {
        subscription
            .exact
            .iter()
            .map(|address| QueueMapping::parse(address))
            .collect()
    } else {
        given
    };
    for mapping in &mappings {
        if mapping.address == mapping.queue && !is_valid_queue_name(&mapping.queue) {
            let fix = mapping.address.replace(['.', '/'], "-");
            return Err(ServeError::config(format!(
                "the address `{address}` is not a valid SQS queue name (letters, digits, `-` and \
                 `_`; no dots): map it to a queue, e.g. `run sqs {address}={fix}`",
                address = mapping.address
            )));
        }
    }
    let mut config = SqsConfig::new()
        .wait_time(Duration::from_secs(args.wait_time))
        .batch_size(args.serve.batch_size(crate::DEFAULT_BATCH_SIZE))
        .in_flight(args.serve.lanes.unwrap_or(crate::DEFAULT_IN_FLIGHT));
    config.queues = mappings;
    for route in &args.routes {
        let Some((address, queue)) = route.split_once('=') else {
            return Err(ServeError::config(format!(
                "--route {route}: expected ADDRESS=QUEUE, e.g. --route user.created=user-created"
            )));
        };
        config = config.route(address, queue);
    }
    if let Some(url) = &args.endpoint_url {
        config = config.endpoint_url(url);
    }
    if let Some(region) = &args.region {
        config = config.region(region);
    }
    if let Some(secs) = args.visibility_timeout {
        config = config.visibility_timeout(Duration::from_secs(secs));
    }
    let retry = args.serve.retry(config.retry);
    let deadlines = args.serve.deadlines(config.deadlines);
    Ok(config.retry(retry).deadlines(deadlines))
}
