//! The command line of [`AsyncFast::run`]: `run` (the default) and `asyncapi`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{AsyncFast, Error};

#[derive(Debug, Parser)]
#[command(about = "An AsyncFast application", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the application on the embedded in-memory broker (the default).
    Run(RunArgs),
    /// Print the AsyncAPI document as JSON.
    Asyncapi(AsyncApiArgs),
}

/// Options of `run`.
#[derive(Debug, Default, Args)]
struct RunArgs {
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

#[derive(Debug, Args)]
struct AsyncApiArgs {
    /// Write the document to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print on one line.
    #[arg(long)]
    compact: bool,
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("interrupted, shutting down"),
        () = terminate => tracing::info!("terminated, shutting down"),
    }
}

impl AsyncFast {
    /// Runs the command line: `run` (default) serves the application on the embedded broker
    /// until SIGINT or SIGTERM, then shuts down gracefully (batches in flight finish);
    /// `asyncapi` prints the AsyncAPI document.
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
        let cli = Cli::parse_from(args);
        match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
            Command::Run(args) => self.serve(args).await,
            Command::Asyncapi(args) => self.print_asyncapi(&args),
        }
    }

    fn print_asyncapi(&self, args: &AsyncApiArgs) -> Result<(), Error> {
        self.validate()?;
        let document = crate::asyncapi::document(self);
        let mut text = if args.compact {
            serde_json::to_string(&document)?
        } else {
            serde_json::to_string_pretty(&document)?
        };
        text.push('\n');
        if let Some(path) = &args.output {
            std::fs::write(path, text)?;
        } else {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
        Ok(())
    }

    #[cfg(feature = "memory")]
    async fn serve(self, args: RunArgs) -> Result<(), Error> {
        self.validate()?;
        let mut server = amgi_memory::Server::new(self, amgi_memory::Broker::default());
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
        server.run_until(shutdown_signal()).await?;
        Ok(())
    }

    #[cfg(not(feature = "memory"))]
    async fn serve(self, _args: RunArgs) -> Result<(), Error> {
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
