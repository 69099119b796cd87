//! The command line of [`AsyncFast::run`]: `run` (the default; `run kafka …` with the `kafka`
//! feature) and `asyncapi`.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

use crate::{AsyncFast, Error};

#[cfg(feature = "kafka")]
mod kafka;

#[derive(Debug, Parser)]
#[command(about = "An AsyncFast application", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the application: on the embedded in-memory broker (the default), or on a server
    /// named after `run` (`run kafka TOPIC… --group-id GROUP`, with the `kafka` feature).
    Run(RunArgs),
    /// Print the AsyncAPI document (JSON or YAML), or check it against a committed one.
    Asyncapi(crate::asyncapi::cli::AsyncApiArgs),
}

/// Options of `run`. Those written here are the embedded broker's; a server subcommand
/// (`run kafka …`) has its own, and the two cannot be mixed.
#[derive(Debug, Default, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct RunArgs {
    /// The server to run on instead of the embedded broker.
    #[cfg(feature = "kafka")]
    #[command(subcommand)]
    server: Option<RunServer>,
    /// Consume only this address (repeat for more); by default every address.
    #[arg(long = "address", value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// Largest number of messages in one batch.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Deliveries after which a nacked message is dead-lettered.
    #[arg(long, value_name = "N")]
    max_deliveries: Option<u32>,
}

/// The servers `run` can serve on besides the embedded broker, one subcommand each.
#[cfg(feature = "kafka")]
#[derive(Debug, Subcommand)]
enum RunServer {
    /// Serve on Kafka (any Kafka-protocol broker) with amgi-kafka: consume TOPICs in consumer
    /// group GROUP, at least once per message, until Ctrl-C or SIGTERM.
    Kafka(kafka::KafkaArgs),
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
///
/// On Unix the handlers are installed when this is called, not when the future is first polled:
/// a signal that arrives while the server is still starting is then not lost, and does not kill
/// the process. Call it inside the runtime.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn recv(signal: std::io::Result<Signal>) {
            match signal {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
        let interrupt = recv(signal(SignalKind::interrupt()));
        let terminate = recv(signal(SignalKind::terminate()));
        async move {
            tokio::select! {
                () = interrupt => tracing::info!("interrupted, shutting down"),
                () = terminate => tracing::info!("terminated, shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("interrupted, shutting down");
    }
}

impl AsyncFast {
    /// Runs the command line: `run` (default) serves the application on the embedded broker (a
    /// new one, or the one given to [`broker`](Self::broker)) until SIGINT or SIGTERM, then shuts
    /// down gracefully (batches in flight finish); with the `kafka` feature,
    /// `run kafka TOPIC… --group-id GROUP [-X key=value]…` serves on Kafka instead (`app run kafka
    /// --help` lists the options); `asyncapi` prints the AsyncAPI document.
    ///
    /// ```no_run
    /// #[tokio::main]
    /// async fn main() -> Result<(), asyncfast::Error> {
    ///     asyncfast::AsyncFast::new().run().await
    /// }
    /// ```
    pub async fn run(self) -> Result<(), Error> {
        self.run_with_args(std::env::args_os()).await
    }

    /// [`run`](Self::run) with explicit arguments (the first is the program name). Invalid
    /// arguments and `--help` print and exit the process, as command lines do.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// asyncfast::AsyncFast::new().run_with_args(["app", "asyncapi", "--compact"]).await
    /// # }
    /// ```
    pub async fn run_with_args<I, T>(self, args: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        self.command_line(args, shutdown_signal).await
    }

    /// [`run`](Self::run), where `run` also stops, gracefully, when `signal` completes (as well
    /// as on SIGINT or SIGTERM): for programs that serve only for a while, such as examples and
    /// demos. The other commands ignore `signal`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// let an_hour = tokio::time::sleep(std::time::Duration::from_secs(3600));
    /// asyncfast::AsyncFast::new().run_until(an_hour).await
    /// # }
    /// ```
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), Error> {
        self.run_with_args_until(std::env::args_os(), || signal)
            .await
    }

    /// [`run_with_args`](Self::run_with_args) and [`run_until`](Self::run_until) together:
    /// explicit arguments, and `run` also stops, gracefully, when the future that `signal`
    /// returns completes (as well as on SIGINT or SIGTERM). `signal` is called once `run` is
    /// about to serve, and not at all for the other commands. For tests and demos that serve
    /// only for a while, on any server:
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let app = asyncfast::AsyncFast::new();
    /// let serving = tokio::spawn(app.run_with_args_until(["app", "run"], || async {
    ///     let _ = stopped.await;
    /// }));
    /// // … publish, wait until the handlers saw it …
    /// let _ = stop.send(());
    /// serving.await.expect("not cancelled")?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_with_args_until<I, T, F, S>(self, args: I, signal: F) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
        F: FnOnce() -> S,
        S: Future<Output = ()>,
    {
        let stop = || {
            // Installed now, before the server starts.
            let interrupted = shutdown_signal();
            let signal = signal();
            async move {
                tokio::select! {
                    () = interrupted => {}
                    () = signal => tracing::info!("stop signal, shutting down"),
                }
            }
        };
        self.command_line(args, stop).await
    }

    /// The command line, with `run` serving until `signal()` completes.
    async fn command_line<I, T, S>(self, args: I, signal: impl FnOnce() -> S) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
        S: Future<Output = ()>,
    {
        let cli = Cli::parse_from(args);
        match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
            Command::Run(args) => self.serve(args, signal).await,
            Command::Asyncapi(args) => crate::asyncapi::cli::run(&self, &args),
        }
    }

    /// `run`: on the server named by its subcommand, or else on the embedded broker.
    async fn serve<S: Future<Output = ()>>(
        self,
        args: RunArgs,
        signal: impl FnOnce() -> S,
    ) -> Result<(), Error> {
        #[cfg(feature = "kafka")]
        if let Some(RunServer::Kafka(kafka)) = args.server {
            return self.serve_kafka(kafka, signal).await;
        }
        self.serve_memory(args, signal()).await
    }

    #[cfg(feature = "memory")]
    async fn serve_memory(
        mut self,
        args: RunArgs,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.validate()?;
        let broker = self.broker.take().unwrap_or_default();
        let mut server = amgi_memory::Server::new(self, broker);
        server = if args.addresses.is_empty() {
            server.all_addresses()
        } else {
            server.addresses(args.addresses)
        };
        if let Some(size) = args.batch_size {
            server = server.batch_size(size);
        }
        if let Some(max) = args.max_deliveries {
            server = server.max_deliveries(max);
        }
        tracing::info!("serving on the embedded in-memory broker; Ctrl-C to stop");
        server.run_until(signal).await?;
        Ok(())
    }

    #[cfg(not(feature = "memory"))]
    #[allow(clippy::unused_async)] // the signature of the `memory` version
    async fn serve_memory(
        self,
        _args: RunArgs,
        _signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.validate()?;
        Err(Error::NoServer)
    }

    /// Serves the application on `broker` (the embedded in-memory broker) until SIGINT or
    /// SIGTERM; publish into `broker` from elsewhere in the process.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// let broker = amgi_memory::Broker::default();
    /// asyncfast::AsyncFast::new().run_on(broker.clone()).await
    /// # }
    /// ```
    #[cfg(feature = "memory")]
    pub async fn run_on(self, broker: amgi_memory::Broker) -> Result<(), Error> {
        self.run_on_until(broker, shutdown_signal()).await
    }

    /// Serves the application on `broker` until `signal` completes, then shuts down gracefully.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// let broker = amgi_memory::Broker::default();
    /// let stop = tokio::time::sleep(std::time::Duration::from_secs(1));
    /// asyncfast::AsyncFast::new().run_on_until(broker, stop).await
    /// # }
    /// ```
    #[cfg(feature = "memory")]
    pub async fn run_on_until(
        self,
        broker: amgi_memory::Broker,
        signal: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        self.validate()?;
        amgi_memory::Server::new(self, broker)
            .all_addresses()
            .run_until(signal)
            .await?;
        Ok(())
    }
}
