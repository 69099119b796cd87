//! `run memory`: its arguments, and serving a raw application through [`ServerCommand`].

mod support;

use std::time::Duration;

use amgi_core::extension::ServerPublisher;
use amgi_core::{
    Application, ApplicationError, BoxApplication, MessageSend, ReceiveEvent, Receiver, Scope,
    SendEvent, SharedSender,
};
use amgi_memory::{Broker, MemoryCommand};
use amgi_server::{
    AddressPart, AppChannels, ChannelAddress, ServeContext, ServeErrorKind, ServerCommand,
};
use support::within;
use tokio::sync::{mpsc, oneshot};

#[test]
fn arguments_parse_with_defaults_and_overrides() {
    let command = MemoryCommand::new();
    assert_eq!(command.name(), "memory");
    let matches = command
        .command()
        .try_get_matches_from([
            "memory",
            "orders",
            "payments",
            "--batch-size",
            "8",
            "--max-deliveries",
            "2",
            "--concurrency",
            "3",
            "--drain-timeout",
            "7",
            "--lanes",
            "4",
        ])
        .unwrap();
    let addresses: Vec<_> = matches.get_many::<String>("addresses").unwrap().collect();
    assert_eq!(addresses, ["orders", "payments"]);
    assert_eq!(matches.get_one::<usize>("batch_size"), Some(&8));
    assert_eq!(matches.get_one::<u32>("max_deliveries"), Some(&2));
    assert_eq!(matches.get_one::<usize>("concurrency"), Some(&3));
    assert_eq!(matches.get_one::<u64>("drain_timeout"), Some(&7));
    assert_eq!(matches.get_one::<usize>("lanes"), Some(&4));

    // The common options not given keep the server's own defaults.
    let defaults = command.command().try_get_matches_from(["memory"]).unwrap();
    assert!(defaults.get_many::<String>("addresses").is_none());
    assert_eq!(defaults.get_one::<u32>("max_deliveries"), None);
    assert_eq!(defaults.get_one::<u64>("drain_timeout"), None);
    assert_eq!(defaults.get_one::<usize>("lanes"), None);
    assert_eq!(
        defaults.get_one::<usize>("concurrency"),
        Some(&amgi_memory::DEFAULT_BATCH_CONCURRENCY)
    );

    let error = command
        .command()
        .try_get_matches_from(["memory", "--batch-size", "many"])
        .unwrap_err();
    assert!(error.to_string().contains("--batch-size"), "{error}");
    let error = command
        .command()
        .try_get_matches_from(["memory", "--lanes", "0"])
        .unwrap_err();
    assert!(error.to_string().contains("--lanes"), "{error}");
}

#[test]
fn help_lists_the_common_options_and_the_servers_own() {
    let help = MemoryCommand::new()
        .command()
        .render_long_help()
        .to_string();
    for option in [
        "--batch-size <N>",
        "--max-deliveries <N>",
        "--lanes <N>",
        "--drain-timeout <SECS>",
        "--concurrency <N>",
        "amgi-lane-key",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    // What `app run --help` lists next to the server's name.
    let about = MemoryCommand::new()
        .command()
        .get_about()
        .map(ToString::to_string);
    assert!(
        about
            .as_deref()
            .is_some_and(|a| a.starts_with("Serve on the embedded in-memory broker")),
        "{about:?}"
    );
}

/// Publishes `hello` to `greetings` from lifespan startup through the [`ServerPublisher`], and
/// reports every message it acks as `address: payload`.
struct Greeter(mpsc::UnboundedSender<String>);

impl Application for Greeter {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        match scope {
            Scope::Lifespan(scope) => loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        let ServerPublisher(publisher) = scope
                            .extensions
                            .get::<ServerPublisher>()
                            .expect("the server publisher")
                            .clone();
                        publisher
                            .publish(MessageSend::new("greetings").payload("hello"))
                            .await?;
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            },
            Scope::Message(scope) => {
                while let Ok(ReceiveEvent::Message(message)) = receive.receive().await {
                    send.send(SendEvent::ack(message.id)).await?;
                    let payload = message.payload.unwrap_or_default();
                    let payload = String::from_utf8_lossy(&payload);
                    let _ = self.0.send(format!("{}: {payload}", scope.address));
                }
                Ok(())
            }
            other => Err(ApplicationError::unsupported_scope(other.kind())),
        }
    }
}

fn channels() -> AppChannels {
    let exact = ChannelAddress::new("greetings", vec![AddressPart::Literal("greetings".into())]);
    let template = ChannelAddress::new(
        "orders.{region}",
        vec![
            AddressPart::Literal("orders.".into()),
            AddressPart::Placeholder("region".into()),
        ],
    );
    AppChannels::new(vec![exact, template], |address| {
        address == "greetings"
            || address
                .strip_prefix("orders.")
                .is_some_and(|region| !region.is_empty() && !region.contains(['.', '/']))
    })
}

#[tokio::test]
async fn serve_consumes_the_channels_until_shutdown() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("orders.eu").payload("early"))
        .unwrap();
    let (seen, mut acked) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let command = MemoryCommand::with_broker(broker.clone());
    let args = command
        .command()
        .get_matches_from(["memory", "--batch-size", "4"]);
    let cx = ServeContext {
        app: BoxApplication::new(Greeter(seen)),
        channels: channels(),
        shutdown: Box::pin(async {
            let _ = stopped.await;
        }),
    };
    let serving = tokio::spawn(command.serve(args, cx));

    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(within("a message", acked.recv()).await.unwrap());
    }
    got.sort();
    assert_eq!(got, ["greetings: hello", "orders.eu: early"]);
    // An address created later that matches the template is consumed; a dead-letter address
    // is not, nor an address without a channel.
    for address in ["orders.us.dlq", "invoices", "orders.us"] {
        broker
            .try_publish(MessageSend::new(address).payload("late"))
            .unwrap();
    }
    assert_eq!(
        within("a message", acked.recv()).await.as_deref(),
        Some("orders.us: late")
    );
    stop.send(()).unwrap();
    within("serve", serving).await.unwrap().unwrap();
    assert_eq!(broker.depth("orders.us.dlq"), 1);
    assert_eq!(broker.depth("invoices"), 1);
    assert!(acked.try_recv().is_err());
}

#[tokio::test]
async fn serve_maps_errors_to_kinds() {
    let command = MemoryCommand::new();
    let (seen, _acked) = mpsc::unbounded_channel();
    let args = command.command().get_matches_from(["memory", "invoices"]);
    let cx = ServeContext {
        app: BoxApplication::new(Greeter(seen)),
        channels: channels(),
        shutdown: Box::pin(std::future::pending()),
    };
    let error = tokio::time::timeout(Duration::from_secs(10), command.serve(args, cx))
        .await
        .expect("serve returns")
        .unwrap_err();
    assert_eq!(error.kind(), ServeErrorKind::Config);
    assert!(error.to_string().contains("`invoices`"), "{error}");
}

#[test]
fn server_errors_keep_their_kind() {
    let startup = amgi_memory::ServerError::Startup(amgi_core::LifespanError::StartupFailed {
        message: "no database".into(),
    });
    let error = amgi_server::ServeError::from(startup);
    assert_eq!(error.kind(), ServeErrorKind::Startup);
    assert!(error.to_string().contains("no database"), "{error}");
}
