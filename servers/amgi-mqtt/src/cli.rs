//! [`MqttCommand`]: `run mqtt`, serving an application on an MQTT 5 broker.

use amgi_server::{ServeArgs, ServeContext, ServeError, ServerCommand};
use clap::{Args, FromArgMatches};
use futures_util::future::BoxFuture;

use crate::{MqttConfig, Protocol, Qos, Server, Tls, topic_filter};

/// The arguments of `run mqtt`.
#[derive(Debug, Args)]
struct MqttArgs {
    /// Topics to consume [default: every channel of the application; a template whose
    /// placeholders are whole `/`-separated levels is consumed through a `+` filter].
    #[arg(value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// The broker's host.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// The broker's port.
    #[arg(long, value_name = "PORT", default_value_t = 1883)]
    port: u16,
    /// The client id: keep it the same across restarts, it names the persistent session that
    /// holds what was not acknowledged yet.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Share the messages with the other servers of group G (`$share/G/<topic>`).
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// Quality of service: 0 (at most once), 1 (at least once) or 2 (the broker's
    /// exactly-once handshake; the application may still see a message twice after a crash).
    #[arg(long, value_name = "0|1|2", default_value = "1")]
    qos: Qos,
    /// MQTT version: 5 (the default) or 3.1.1 (no headers: a message.send with headers fails).
    #[arg(
        long,
        visible_alias = "mqtt-version",
        value_name = "5|3.1.1",
        default_value = "5"
    )]
    protocol: Protocol,
    /// Connect over TLS (rustls), trusting the system's certificate authorities unless
    /// --ca-file is given.
    #[arg(long)]
    tls: bool,
    /// Trust only the certificates of this PEM file (implies --tls).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<std::path::PathBuf>,
    /// Username to connect with.
    #[arg(long, value_name = "U", requires = "password_env")]
    username: Option<String>,
    /// Name of the environment variable holding the password (never given on the command
    /// line, never logged).
    #[arg(long, value_name = "VAR", requires = "username")]
    password_env: Option<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `run mqtt [ADDRESS…] --host H --port P --client-id ID [--group G] [--qos 0|1|2]
/// [--protocol 5|3.1.1] [--tls]
/// [--ca-file PATH] [--username U --password-env VAR] [--batch-size N] [--max-deliveries N]
/// [--lanes N] [--drain-timeout SECS]`: serves an application on an MQTT 5 broker, QoS 1 (at least once)
/// unless told otherwise, until shutdown.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_mqtt::MqttCommand;
/// use amgi_server::ServerCommand;
///
/// let args = MqttCommand.command().get_matches_from(["mqtt", "orders/created", "--client-id", "orders-1"]);
/// MqttCommand.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MqttCommand;

impl ServerCommand for MqttCommand {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn command(&self) -> clap::Command {
        MqttArgs::augment_args(clap::Command::new(self.name())).about(
            "Serve on an MQTT 5 broker (QoS 1 by default, persistent session), at least once, \
             until Ctrl-C or SIGTERM",
        )
    }

    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let args = MqttArgs::from_arg_matches(&args)
                .map_err(|error| ServeError::config(error.to_string()))?;
            let config = config(&args, &cx)?;
            let handle = Server::new(cx.app, config).start().await?;
            cx.shutdown.await;
            handle.shutdown().await.map_err(Into::into)
        })
    }
}

/// The server's configuration from the arguments and the application's channels.
fn config(args: &MqttArgs, cx: &ServeContext) -> Result<MqttConfig, ServeError> {
    let subscription = cx.channels.resolve(&args.addresses)?;
    let mut topics = subscription.exact;
    if let Some(wildcard) = topics.iter().find(|topic| topic.contains(['+', '#'])) {
        return Err(ServeError::config(format!(
            "`{wildcard}` contains an MQTT wildcard: name a channel's address instead"
        )));
    }
    for template in &subscription.templates {
        topics.push(topic_filter(template)?);
    }
    let mut config = MqttConfig::new(&args.host, args.port, &args.client_id)
        .topics(topics)
        .qos(args.qos)
        .protocol(args.protocol);
    match (&args.ca_file, args.tls) {
        (Some(path), _) => config = config.tls(Tls::CaFile(path.clone())),
        (None, true) => config = config.tls(Tls::SystemRoots),
        (None, false) => {}
    }
    if let Some(group) = &args.group {
        config = config.group(group);
    }
    if let (Some(username), Some(variable)) = (&args.username, &args.password_env) {
        let password = std::env::var(variable).map_err(|_| {
            ServeError::config(format!(
                "--password-env {variable}: the environment variable is not set (or not UTF-8)"
            ))
        })?;
        config = config.credentials(username, password);
    }
    let defaults = MqttConfig::new("", 0, "");
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

    fn parse(args: &[&str]) -> MqttArgs {
        let matches = MqttCommand
            .command()
            .try_get_matches_from(std::iter::once("mqtt").chain(args.iter().copied()))
            .unwrap();
        MqttArgs::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn templates_become_plus_filters_and_groups_share_them() {
        let sensors = ChannelAddress::new(
            "sensors/{id}/temp",
            vec![
                AddressPart::Literal("sensors/".into()),
                AddressPart::Placeholder("id".into()),
                AddressPart::Literal("/temp".into()),
            ],
        );
        let exact = ChannelAddress::new("a/b", vec![AddressPart::Literal("a/b".into())]);
        let args = parse(&["--client-id", "c", "--group", "g", "--batch-size", "4"]);
        let config = config(&args, &context(vec![exact, sensors])).unwrap();
        assert_eq!(
            config.subscription_filters(),
            ["$share/g/a/b", "$share/g/sensors/+/temp"]
        );
        assert_eq!(config.batch_size, 4);
    }

    #[test]
    fn a_dotted_template_is_a_config_error_naming_it() {
        let orders = ChannelAddress::new(
            "orders.{region}",
            vec![
                AddressPart::Literal("orders.".into()),
                AddressPart::Placeholder("region".into()),
            ],
        );
        let args = parse(&["--client-id", "c"]);
        let error = config(&args, &context(vec![orders])).unwrap_err();
        assert_eq!(error.kind(), ServeErrorKind::Config);
        assert!(error.to_string().contains("orders.{region}"), "{error}");
    }

    #[test]
    fn the_client_id_is_required_and_a_username_needs_a_password_variable() {
        let command = MqttCommand.command();
        assert!(command.clone().try_get_matches_from(["mqtt"]).is_err());
        let error = command
            .try_get_matches_from(["mqtt", "--client-id", "c", "--username", "u"])
            .unwrap_err();
        assert!(error.to_string().contains("--password-env"), "{error}");
    }

    fn exact_again() -> ChannelAddress {
        ChannelAddress::new("a", vec![AddressPart::Literal("a".into())])
    }

    #[test]
    fn qos_protocol_and_tls_flags_reach_the_config() {
        let exact = ChannelAddress::new("a", vec![AddressPart::Literal("a".into())]);
        let args = parse(&["--client-id", "c", "--qos", "2", "--ca-file", "/ca.pem"]);
        let exactly_once = config(&args, &context(vec![exact.clone()])).unwrap();
        assert_eq!(exactly_once.qos, Qos::ExactlyOnce);
        assert_eq!(exactly_once.tls, Some(Tls::CaFile("/ca.pem".into())));
        let args = parse(&["--client-id", "c", "--tls", "--qos", "0"]);
        let at_most_once = config(&args, &context(vec![exact])).unwrap();
        assert_eq!(at_most_once.qos, Qos::AtMostOnce);
        assert_eq!(at_most_once.tls, Some(Tls::SystemRoots));
        assert_eq!(at_most_once.protocol, Protocol::V5);
        let args = parse(&["--client-id", "c", "--mqtt-version", "3"]);
        let v311 = config(&args, &context(vec![exact_again()])).unwrap();
        assert_eq!(v311.protocol, Protocol::V311);
        let error = MqttCommand
            .command()
            .try_get_matches_from(["mqtt", "--client-id", "c", "--qos", "3"])
            .unwrap_err();
        assert!(error.to_string().contains("0, 1 or 2"), "{error}");
    }

    #[test]
    fn the_password_comes_from_the_environment_variable() {
        let args = parse(&[
            "--client-id",
            "c",
            "--username",
            "u",
            "--password-env",
            "AMGI_MQTT_TEST_SURELY_UNSET_VARIABLE",
        ]);
        let exact = ChannelAddress::new("a", vec![AddressPart::Literal("a".into())]);
        let error = config(&args, &context(vec![exact])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("AMGI_MQTT_TEST_SURELY_UNSET_VARIABLE"),
            "{error}"
        );
    }
}
