//! [`MemoryCommand`]: `run memory`, serving an application on the embedded broker.

use amgi_server::{ServeArgs, ServeContext, ServeError, ServeErrorKind, ServerCommand};
use clap::{Args, FromArgMatches};
use futures_util::future::BoxFuture;

use crate::{Broker, DEFAULT_BATCH_CONCURRENCY, Server, ServerError};

/// The arguments of `run memory`: addresses, the options every server offers ([`ServeArgs`]),
/// and `--concurrency`.
#[derive(Debug, Args)]
struct MemoryArgs {
    /// Addresses to consume (default: every channel of the application; a templated channel
    /// consumes every address it matches, also those created later).
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Batches of one address in flight at once (1 keeps order).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_CONCURRENCY)]
    concurrency: usize,
}

/// `run memory [ADDRESS…] [--batch-size N] [--max-deliveries N] [--lanes N]
/// [--drain-timeout SECS] [--concurrency N]`: serves an application on an embedded [`Broker`]
/// until shutdown.
///
/// The common options ([`ServeArgs`]) not given keep the [`Server`]'s defaults; `--lanes N`
/// turns on [keyed lanes](Server::lanes).
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
        // After `augment_args`, which would set the arguments struct's doc comment instead.
        MemoryArgs::augment_args(clap::Command::new(self.name())).about(
            "Serve on the embedded in-memory broker (the default of `run`), at least once, until \
             Ctrl-C or SIGTERM",
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
                .concurrency(args.concurrency);
            server = with_common_options(server, &args.serve);
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
            tracing::info!(addresses = ?subscription.exact, ?templates, batch_size = args.serve.batch_size,
                max_deliveries = args.serve.max_deliveries, lanes = args.serve.lanes,
                "serving on the embedded in-memory broker");
            cx.shutdown.await;
            handle.shutdown().await.map_err(Into::into)
        })
    }
}

/// `server` with the options every server offers applied; those not given keep its defaults.
fn with_common_options<A: amgi_core::Application>(
    mut server: Server<A>,
    args: &ServeArgs,
) -> Server<A> {
    if let Some(size) = args.batch_size {
        server = server.batch_size(size);
    }
    if let Some(deliveries) = args.max_deliveries {
        server = server.max_deliveries(deliveries);
    }
    if let Some(lanes) = args.lanes {
        server = server.lanes(lanes);
    }
    if let Some(drain) = args.drain_timeout() {
        server = server.drain_timeout(drain);
    }
    server
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
