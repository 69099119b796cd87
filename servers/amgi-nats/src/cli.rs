//! [`NatsCommand`]: `run nats`, serving an application on NATS.

use amgi_server::{ServeArgs, ServeContext, ServeError, ServerCommand};
use clap::{Args, FromArgMatches};
use futures_util::future::BoxFuture;

use crate::config::Auth;
use crate::{NatsConfig, Server, subject_filter};

/// The arguments of `run nats`.
#[derive(Debug, Args)]
struct NatsArgs {
    /// Subjects to consume [default: every channel of the application; a template whose
    /// placeholders are whole `.`-separated tokens is consumed through a `*` wildcard].
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// The NATS server URL (`nats://H:P`, `tls://H:P`; several separated by commas).
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Core NATS: share the messages with the other servers of queue group G.
    #[arg(long, value_name = "G", conflicts_with = "stream")]
    group: Option<String>,
    /// JetStream: consume this stream (at least once) through the durable consumer --durable.
    #[arg(long, value_name = "S", requires = "durable")]
    stream: Option<String>,
    /// JetStream: the durable pull consumer's name (created when missing).
    #[arg(long, value_name = "D", requires = "stream")]
    durable: Option<String>,
    /// A credentials file (JWT and `NKey` seed).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "token_env"])]
    creds: Option<std::path::PathBuf>,
    /// The user to connect as (the password comes from --password-env).
    #[arg(
        long,
        value_name = "U",
        requires = "password_env",
        conflicts_with = "token_env"
    )]
    user: Option<String>,
    /// Name of the environment variable holding the password (never on the command line,
    /// never logged).
    #[arg(long, value_name = "VAR", requires = "user")]
    password_env: Option<String>,
    /// Name of the environment variable holding a token (never logged).
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// Trust only the CA certificates of this PEM file (for tls:// URLs).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run nats [ADDRESS…] --url nats://H:P [--group G] [--stream S --durable D] [--creds FILE]
/// [--user U --password-env VAR] [--token-env VAR] [--ca-file PATH] [--batch-size N]
/// [--max-deliveries N] [--lanes N] [--drain-timeout SECS]`: serves an application on core
/// NATS (at most once) or, with `--stream` and `--durable`, on a JetStream durable pull consumer
/// (at least once), until shutdown.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_nats::NatsCommand;
/// use amgi_server::ServerCommand;
///
/// let args = NatsCommand.command().get_matches_from(["nats", "orders.created", "--group", "billing"]);
/// NatsCommand.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsCommand;

impl ServerCommand for NatsCommand {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn command(&self) -> clap::Command {
        NatsArgs::augment_args(clap::Command::new(self.name())).about(
            "Serve on NATS: core NATS (at most once), or a JetStream durable pull consumer with \
             --stream and --durable (at least once), until Ctrl-C or SIGTERM",
        )
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let args = NatsArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let config = config(&args, &cx)?;
            let handle = Server::new(cx.app, config).start().await?;
            cx.shutdown.await;
            handle.shutdown().await.map_err(Into::into)
        })
    }
}

fn env_secret(option: &str, variable: &str) -> Result<String, ServeError> {
    std::env::var(variable).map_err(|_| {
        ServeError::config(format!(
            "{option} {variable}: the environment variable is not set (or not UTF-8)"
        ))
    })
}

/// The server's configuration from the arguments and the application's channels.
fn config(args: &NatsArgs, cx: &ServeContext) -> Result<NatsConfig, ServeError> {
    let subscription = cx.channels.resolve(&args.addresses)?;
    let mut subjects = subscription.exact;
    if let Some(wildcard) = subjects.iter().find(|subject| subject.contains(['*', '>'])) {
        return Err(ServeError::config(format!(
            "`{wildcard}` contains a NATS wildcard: name a channel's address instead"
        )));
    }
    for template in &subscription.templates {
        subjects.push(subject_filter(template)?);
    }
    let mut config = NatsConfig::new(&args.url).subjects(subjects);
    if let Some(group) = &args.group {
        config = config.group(group);
    }
    if let (Some(stream), Some(durable)) = (&args.stream, &args.durable) {
        config = config.jetstream(stream, durable);
    }
    if let Some(path) = &args.creds {
        config = config.auth(Auth::CredsFile(path.clone()));
    }
    if let (Some(user), Some(variable)) = (&args.user, &args.password_env) {
        let password = env_secret("--password-env", variable)?;
        config = config.auth(Auth::UserPassword {
            user: user.clone(),
            password,
        });
    }
    if let Some(variable) = &args.token_env {
        config = config.auth(Auth::Token(env_secret("--token-env", variable)?));
    }
    if let Some(path) = &args.ca_file {
        config = config.ca_file(path);
    }
    let defaults = NatsConfig::new("");
    config = config
        .batch_size(args.serve.batch_size(defaults.batch_size))
        .retry(args.serve.retry(defaults.retry))
        .deadlines(args.serve.deadlines(defaults.deadlines));
    if let Some(lanes) = args.serve.lanes {
        config = config.lanes(lanes);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use amgi_core::BoxApplication;
    use amgi_server::{AddressPart, AppChannels, ChannelAddress, ServeErrorKind};

    use super::*;

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

    fn parse(args: &[&str]) -> Result<NatsArgs, clap::Error> {
        let matches = NatsCommand
            .command()
            .try_get_matches_from(std::iter::once("nats").chain(args.iter().copied()))?;
        Ok(NatsArgs::from_arg_matches(&matches).unwrap())
    }

    fn orders() -> ChannelAddress {
        ChannelAddress::new(
            "orders.{region}",
            vec![
                AddressPart::Literal("orders.".into()),
                AddressPart::Placeholder("region".into()),
            ],
        )
    }

    #[test]
    fn templates_become_star_subjects_and_flags_reach_the_config() {
        let exact = ChannelAddress::new("a.b", vec![AddressPart::Literal("a.b".into())]);
        let args = parse(&["--group", "g", "--batch-size", "4", "--url", "nats://h:1"]).unwrap();
        let config = config(&args, &context(vec![exact, orders()])).unwrap();
        assert_eq!(config.subjects, ["a.b", "orders.*"]);
        assert_eq!(config.group.as_deref(), Some("g"));
        assert_eq!(config.batch_size, 4);
        assert_eq!(config.url, "nats://h:1");
        assert!(config.jetstream.is_none());
        let args = parse(&["--stream", "S", "--durable", "D", "--max-deliveries", "2"]).unwrap();
        let durable = super::config(&args, &context(vec![orders()])).unwrap();
        let jetstream = durable.jetstream.unwrap();
        assert_eq!(
            (jetstream.stream.as_str(), jetstream.durable.as_str()),
            ("S", "D")
        );
        assert_eq!(durable.retry.max_deliveries, 2);
    }

    #[test]
    fn a_partial_token_template_is_a_config_error_naming_it() {
        let partial = ChannelAddress::new(
            "orders-{region}",
            vec![
                AddressPart::Literal("orders-".into()),
                AddressPart::Placeholder("region".into()),
            ],
        );
        let error = config(&parse(&[]).unwrap(), &context(vec![partial])).unwrap_err();
        assert_eq!(error.kind(), ServeErrorKind::Config);
        assert!(error.to_string().contains("orders-{region}"), "{error}");
    }

    #[test]
    fn stream_and_durable_go_together_and_group_is_core_only() {
        assert!(parse(&["--stream", "S"]).is_err());
        assert!(parse(&["--durable", "D"]).is_err());
        assert!(parse(&["--stream", "S", "--durable", "D", "--group", "g"]).is_err());
        let error = parse(&["--user", "u"]).unwrap_err();
        assert!(error.to_string().contains("--password-env"), "{error}");
    }

    #[test]
    fn secrets_come_from_environment_variables() {
        let args = parse(&["--token-env", "AMGI_NATS_TEST_SURELY_UNSET_VARIABLE"]).unwrap();
        let error = config(&args, &context(vec![orders()])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("AMGI_NATS_TEST_SURELY_UNSET_VARIABLE"),
            "{error}"
        );
    }
}
