//! The command line of [`AsyncFast::run`]: `run [SERVER [OPTIONS]]` and `asyncapi`.
//!
//! Each server offers its own `run <name>` subcommand through
//! [`amgi_server::ServerCommand`]; the framework only registers the commands of the servers its
//! cargo features enable (and those given to [`AsyncFast::serve_on`]), hands the chosen one the
//! application and its channels, and waits. It knows no server's options.

use std::ffi::OsString;
use std::sync::Arc;

use amgi_core::{BoxApplication, DynApplication};
use amgi_server::{AddressPart, AppChannels, ChannelAddress, ServeContext, ServerCommand};
use clap::{ArgMatches, Args, FromArgMatches};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::asyncapi::cli::AsyncApiArgs;
use crate::router::Part;
use crate::{AsyncFast, Error};

/// The server `run` uses when no server is named (outside AWS Lambda).
const DEFAULT_SERVER: &str = "memory";

/// The server `run` uses when no server is named, inside AWS Lambda.
const LAMBDA_SERVER: &str = "lambda";

/// The variable the Lambda runtime sets: `run` alone picks [`LAMBDA_SERVER`] when it is set.
const LAMBDA_RUNTIME_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// The server `run` uses when none is named: `lambda` inside AWS Lambda (`in_lambda`: the
/// variable `AWS_LAMBDA_RUNTIME_API` is set) when the binary has that server, else
/// [`DEFAULT_SERVER`].
fn default_server(servers: &[Arc<dyn ServerCommand>], in_lambda: bool) -> &'static str {
    if in_lambda && servers.iter().any(|server| server.name() == LAMBDA_SERVER) {
        LAMBDA_SERVER
    } else {
        DEFAULT_SERVER
    }
}

/// Servers a cargo feature of asyncfast registers, with the feature's name: `run kafka` in a
/// binary built without the `kafka` feature says which feature to enable.
const FEATURE_SERVERS: &[&str] = &[
    "memory", "kafka", "mqtt", "redis", "sqs", "amqp", "nats", "lambda", "http",
];

/// The server commands the enabled cargo features register: one line per server.
#[allow(clippy::vec_init_then_push)] // a `vec![]` cannot hold `#[cfg]` elements
pub(crate) fn builtin_servers() -> Vec<Arc<dyn ServerCommand>> {
    // One push per enabled feature; with none, the list stays empty.
    #[allow(unused_mut)]
    let mut servers: Vec<Arc<dyn ServerCommand>> = Vec::new();
    #[cfg(feature = "memory")]
    servers.push(Arc::new(amgi_memory::MemoryCommand::new()));
    #[cfg(feature = "kafka")]
    servers.push(Arc::new(amgi_kafka::KafkaCommand));
    #[cfg(feature = "redis")]
    servers.push(Arc::new(amgi_redis::RedisCommand));
    #[cfg(feature = "mqtt")]
    servers.push(Arc::new(amgi_mqtt::MqttCommand));
    #[cfg(feature = "sqs")]
    servers.push(Arc::new(amgi_sqs::SqsCommand));
    #[cfg(feature = "nats")]
    servers.push(Arc::new(amgi_nats::NatsCommand));
    #[cfg(feature = "amqp")]
    servers.push(Arc::new(amgi_amqp::AmqpCommand));
    #[cfg(feature = "lambda")]
    servers.push(Arc::new(amgi_lambda::LambdaCommand));
    servers
}

/// Installs a `tracing` fmt subscriber (filter from `RUST_LOG`, default `info`) unless the
/// application installed one, so that nacks, dead letters and the serving line are visible.
fn install_default_subscriber() {
    use tracing_subscriber::EnvFilter;
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Fails only if another subscriber was set meanwhile, which then stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

impl AsyncFast {
    /// Serves on `server` when the command line says `run`: adds a server command (its
    /// `run <name>` subcommand), or replaces the one of the same name. For example, serve on an
    /// embedded broker the program also publishes into:
    ///
    /// ```no_run
    /// # #[cfg(feature = "memory")]
    /// # async fn f() -> Result<(), asyncfast::Error> {
    /// let broker = amgi_memory::Broker::default();
    /// asyncfast::AsyncFast::new()
    ///     .serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()))
    ///     .run()
    ///     .await
    /// # }
    /// ```
    #[must_use]
    pub fn serve_on(mut self, server: impl ServerCommand) -> Self {
        let name = server.name();
        self.servers.retain(|known| known.name() != name);
        self.servers.push(Arc::new(server));
        self
    }

    /// The names of the servers `run` can serve on.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty();
    /// # #[cfg(feature = "memory")]
    /// assert!(app.server_names().any(|name| name == "memory"));
    /// ```
    pub fn server_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.servers.iter().map(|server| server.name())
    }

    /// Runs the command line: `run` serves the application until SIGINT or SIGTERM (a second
    /// one exits at once), then shuts down gracefully — on the embedded broker by default (the
    /// `memory` feature), or on the server named after it: `run kafka [TOPIC…] --group-id G` with
    /// the `kafka` feature (`app run --help` lists the servers, `app run kafka --help` their
    /// options); inside AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set), `run` alone serves the
    /// function's invocations when the `lambda` feature is on. `asyncapi` prints the AsyncAPI
    /// document. Unless the application installed a
    /// `tracing` subscriber, `run` installs one (filter from `RUST_LOG`, default `info`).
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
        self.command_line(args, || amgi_server::shutdown_signal().boxed())
            .await
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
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
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
        S: Future<Output = ()> + Send + 'static,
    {
        let stop = || {
            // Installed now, before the server starts.
            let interrupted = amgi_server::shutdown_signal();
            let signal = signal();
            async move {
                tokio::select! {
                    () = interrupted => {}
                    () = signal => tracing::info!("stop signal, shutting down"),
                }
            }
            .boxed()
        };
        self.command_line(args, stop).await
    }

    /// The command line, with `run` serving until `signal()` completes.
    async fn command_line<I, T>(
        self,
        args: I,
        signal: impl FnOnce() -> BoxFuture<'static, ()>,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = self.cli().get_matches_from(args);
        match matches.subcommand() {
            Some(("asyncapi", args)) => {
                let args = AsyncApiArgs::from_arg_matches(args).map_err(Error::Cli)?;
                crate::asyncapi::cli::run(&self, &args)
            }
            Some(("run", args)) => self.run_command(args, signal).await,
            _ => self.run_command(&ArgMatches::default(), signal).await,
        }
    }

    /// `app [run [SERVER …] | asyncapi …]`.
    fn cli(&self) -> clap::Command {
        let servers = if self.servers.is_empty() {
            "none: enable a server feature of asyncfast, such as `memory` or `kafka`".to_owned()
        } else {
            self.server_names().collect::<Vec<_>>().join(", ")
        };
        let mut run = clap::Command::new("run")
            .about(format!(
                "Serve the application on a server (default: `{DEFAULT_SERVER}`, the embedded \
                 broker; `{LAMBDA_SERVER}` when {LAMBDA_RUNTIME_ENV} is set and this binary has \
                 it). Servers in this binary: {servers}"
            ))
            .allow_external_subcommands(true);
        for server in &self.servers {
            run = run.subcommand(server.command());
        }
        let asyncapi = AsyncApiArgs::augment_args(clap::Command::new("asyncapi")).about(
            "Print the AsyncAPI document (JSON or YAML), or check it against a committed one",
        );
        clap::Command::new("app")
            .about("An AsyncFast application")
            .subcommand(run)
            .subcommand(asyncapi)
    }

    /// `run`, `run SERVER …`.
    async fn run_command(
        self,
        args: &ArgMatches,
        signal: impl FnOnce() -> BoxFuture<'static, ()>,
    ) -> Result<(), Error> {
        let (name, server_args) = if let Some((name, server_args)) = args.subcommand() {
            (name.to_owned(), Some(server_args.clone()))
        } else {
            let in_lambda = std::env::var_os(LAMBDA_RUNTIME_ENV).is_some();
            (default_server(&self.servers, in_lambda).to_owned(), None)
        };
        let Some(server) = self.servers.iter().find(|s| s.name() == name).cloned() else {
            return Err(Error::UnknownServer(self.unknown_server(&name)));
        };
        let server_args = match server_args {
            Some(args) => args,
            // `run` alone: the default server with its default options.
            None => server
                .command()
                .try_get_matches_from([name.as_str()])
                .map_err(Error::Cli)?,
        };
        self.validate()?;
        install_default_subscriber();
        let app = Arc::new(self);
        let channels = app.app_channels();
        let context = ServeContext {
            app: BoxApplication::from_arc(Arc::clone(&app) as Arc<dyn DynApplication>),
            channels,
            shutdown: signal(),
        };
        server
            .serve(server_args, context)
            .await
            .map_err(Error::Server)
    }

    /// Why `run NAME` cannot serve.
    fn unknown_server(&self, name: &str) -> String {
        let available = if self.servers.is_empty() {
            "this binary has no server".to_owned()
        } else {
            format!(
                "this binary has: {}",
                self.server_names().collect::<Vec<_>>().join(", ")
            )
        };
        if FEATURE_SERVERS.contains(&name) {
            format!(
                "`run {name}` needs the `{name}` feature of asyncfast: add it to asyncfast's \
                 entry in Cargo.toml (`asyncfast = {{ version = \"…\", features = [\"{name}\"] }}`) \
                 and rebuild; {available}"
            )
        } else {
            format!("no server named `{name}`; {available}")
        }
    }

    /// The channels as servers see them: templates split into parts, and the router to match.
    fn app_channels(self: &Arc<Self>) -> AppChannels {
        let channels = self
            .router
            .routes()
            .iter()
            .map(|route| {
                let parts = route
                    .template
                    .parts()
                    .into_iter()
                    .map(|part| match part {
                        Part::Literal(text) => AddressPart::Literal(text.to_owned()),
                        Part::Placeholder(name) => AddressPart::Placeholder(name.to_owned()),
                    })
                    .collect();
                ChannelAddress::new(route.template.as_str(), parts)
            })
            .collect();
        let app = Arc::clone(self);
        AppChannels::new(channels, move |address| {
            app.router.resolve(address, &mut Vec::new()).is_some()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use amgi_server::{ServeContext, ServeError, ServerCommand};
    use futures_util::future::BoxFuture;

    use super::{DEFAULT_SERVER, LAMBDA_SERVER, default_server};
    use crate::AsyncFast;

    /// A server command that only has a name.
    struct Named(&'static str);

    impl ServerCommand for Named {
        fn name(&self) -> &'static str {
            self.0
        }

        fn command(&self) -> clap::Command {
            clap::Command::new(self.0)
        }

        fn serve(
            &self,
            _: clap::ArgMatches,
            _: ServeContext,
        ) -> BoxFuture<'static, Result<(), ServeError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[test]
    fn run_alone_picks_lambda_inside_aws_lambda_when_the_binary_has_it() {
        let with_lambda: Vec<Arc<dyn ServerCommand>> =
            vec![Arc::new(Named("memory")), Arc::new(Named("lambda"))];
        let without: Vec<Arc<dyn ServerCommand>> = vec![Arc::new(Named("memory"))];
        assert_eq!(default_server(&with_lambda, true), LAMBDA_SERVER);
        assert_eq!(default_server(&with_lambda, false), DEFAULT_SERVER);
        assert_eq!(default_server(&without, true), DEFAULT_SERVER);
    }

    #[test]
    fn a_server_whose_feature_is_off_names_the_feature() {
        let mut app = AsyncFast::empty();
        app.servers.retain(|server| server.name() != "kafka");
        let message = app.unknown_server("kafka");
        assert!(
            message.starts_with("`run kafka` needs the `kafka` feature of asyncfast"),
            "{message}"
        );
        app.servers.clear();
        assert!(
            app.unknown_server("kafka")
                .ends_with("this binary has no server"),
            "{}",
            app.unknown_server("kafka")
        );
        assert!(
            app.unknown_server("pigeon")
                .starts_with("no server named `pigeon`")
        );
    }
}
