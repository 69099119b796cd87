//! [`MemoryCommand`]: `run memory`, serving an application on the embedded broker.

use std::time::Duration;

use amgi_server::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_DELIVERIES, ServeContext, ServeError, ServeErrorKind,
    ServerCommand,
};
use clap::{Args, FromArgMatches};
use futures_util::future::BoxFuture;

use crate::{Broker, DEFAULT_BATCH_CONCURRENCY, DEFAULT_BATCH_SIZE, Server, ServerError};

/// The arguments of `run memory`.
#[derive(Debug, Args)]
struct MemoryArgs {
    /// Addresses to consume (default: every channel of the application; a templated channel
    /// consumes every address it matches, also those created later).
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// Largest number of messages in one batch.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Deliveries of one message at most, the first included, before it is dead-lettered.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DELIVERIES)]
    max_deliveries: u32,
    /// Batches of one address in flight at once (1 keeps order).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_CONCURRENCY)]
    concurrency: usize,
    /// Seconds batches in flight get to finish on shutdown.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_DRAIN_TIMEOUT.as_secs())]
    drain_timeout: u64,
}

/// `run memory [ADDRESS…] [--batch-size N] [--max-deliveries N] [--concurrency N]
/// [--drain-timeout SECS]`: serves an application on an embedded [`Broker`] until shutdown.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_memory::{Broker, MemoryCommand};
/// use amgi_server::ServerCommand;
///
/// let broker = Broker::default();
/// let command = MemoryCommand::with_broker(broker.clone());
/// let args = command.command().get_matches_from(["memory", "--batch-size", "16"]);
/// command.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryCommand {
    broker: Broker,
}

impl MemoryCommand {
    /// Serves on a fresh broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves on `broker`, so that the process can publish into it.
    pub fn with_broker(broker: Broker) -> Self {
        Self { broker }
    }
}

impl ServerCommand for MemoryCommand {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn command(&self) -> clap::Command {
        MemoryArgs::augment_args(
            clap::Command::new(self.name()).about("Serve on the embedded in-memory broker"),
        )
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let args = MemoryArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let subscription = cx.channels.resolve(&args.addresses)?;
            let mut server = Server::new(cx.app, broker)
                .addresses(subscription.exact.iter().cloned())
                .batch_size(args.batch_size)
                .max_deliveries(args.max_deliveries)
                .concurrency(args.concurrency)
                .drain_timeout(Duration::from_secs(args.drain_timeout));
            let templates: Vec<_> = subscription
                .templates
                .iter()
                .map(amgi_server::ChannelAddress::template)
                .collect();
            if !templates.is_empty() {
                let channels = cx.channels.clone();
                server = server.addresses_matching(move |address| channels.matches(address));
            }
            let handle = server.start().await?;
            tracing::info!(addresses = ?subscription.exact, ?templates, batch_size = args.batch_size,
                max_deliveries = args.max_deliveries, "serving on the embedded in-memory broker");
            cx.shutdown.await;
            handle.shutdown().await.map_err(Into::into)
        })
    }
}

/// A server error as `run memory` reports it: startup, shutdown or server failure.
impl From<ServerError> for ServeError {
    fn from(error: ServerError) -> Self {
        let kind = match &error {
            ServerError::Startup(_) => ServeErrorKind::Startup,
            ServerError::Shutdown(_) => ServeErrorKind::Shutdown,
            _ => ServeErrorKind::Server,
        };
        ServeError::new(kind, error)
    }
}
