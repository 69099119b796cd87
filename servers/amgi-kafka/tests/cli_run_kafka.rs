//! `run kafka` through [`KafkaCommand`]: with no topics, the application's channels choose them,
//! an address template becoming a regex subscription; and the lifespan scope carries the
//! server's publisher.

mod common;

use std::sync::Arc;
use std::time::Duration;

use amgi_core::extension::ServerPublisher;
use amgi_core::{
    Application, ApplicationError, BoxApplication, MessageSend, ReceiveEvent, Receiver, Scope,
    SendEvent, SharedSender,
};
use amgi_kafka::KafkaCommand;
use amgi_server::{AddressPart, AppChannels, ChannelAddress, ServeContext, ServerCommand};
use common::{BOOTSTRAP, Out, Recorder, bounded, create_topic, produce, read, unique};
use rdkafka::Message as _;
use tokio::sync::oneshot;

/// The application's one channel: `<prefix>.{region}`.
fn template_channel(prefix: &str) -> AppChannels {
    let owned = format!("{prefix}.");
    AppChannels::new(
        vec![ChannelAddress::new(
            format!("{prefix}.{{region}}"),
            vec![
                AddressPart::Literal(owned.clone()),
                AddressPart::Placeholder("region".into()),
            ],
        )],
        move |address| {
            address
                .strip_prefix(&owned)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(['.', '/']))
        },
    )
}

/// Serves `app` with `run kafka <args>` until the returned sender is used or dropped.
fn serve(
    app: BoxApplication,
    channels: AppChannels,
    args: &[&str],
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), amgi_server::ServeError>>,
) {
    let command = KafkaCommand;
    let mut command_line = vec![
        "kafka",
        "--bootstrap-servers",
        BOOTSTRAP,
        "-X",
        "session.timeout.ms=2000",
        "-X",
        "heartbeat.interval.ms=500",
    ];
    command_line.extend_from_slice(args);
    let matches = command
        .command()
        .try_get_matches_from(command_line)
        .expect("arguments");
    let (stop, stopped) = oneshot::channel::<()>();
    let cx = ServeContext {
        app,
        channels,
        shutdown: Box::pin(async move {
            let _ = stopped.await;
        }),
    };
    (stop, tokio::spawn(command.serve(matches, cx)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_topics_a_template_channel_is_a_regex_subscription() {
    bounded(async {
        let prefix = unique("t");
        let topic = format!("{prefix}.eu");
        // A regex subscription sees the topics of the metadata it has: create it first.
        create_topic(&topic, 1).await;
        let app = Recorder::acking();
        let group = unique("cli-regex-group");
        let (stop, served) = serve(
            BoxApplication::new(Arc::clone(&app)),
            template_channel(&prefix),
            &["--group-id", &group],
        );
        produce(&topic, [Out::text("hello")]).await;
        app.wait_for("the message of the template's topic", |seen| {
            seen.iter().any(|s| s.topic == topic && s.text() == "hello")
        })
        .await;
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), served)
            .await
            .expect("stops")
            .unwrap()
            .expect("served without error");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_no_channel_takes_is_refused_naming_the_channels() {
    bounded(async {
        let prefix = unique("t");
        let (_stop, served) = serve(
            BoxApplication::new(Recorder::acking()),
            template_channel(&prefix),
            &["refunds", "--group-id", "g"],
        );
        let error = served.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), amgi_server::ServeErrorKind::Config);
        assert!(
            error
                .to_string()
                .contains(&format!("`{prefix}.{{region}}`")),
            "{error}"
        );
    })
    .await;
}

/// Publishes `hello` to `topic` from lifespan startup, through the server's publisher.
struct PublishAtStartup {
    topic: String,
}

impl Application for PublishAtStartup {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Lifespan(scope) = scope else {
            return Ok(());
        };
        loop {
            match receive.receive().await? {
                ReceiveEvent::LifespanStartup => {
                    let publisher = scope
                        .extensions
                        .get::<ServerPublisher>()
                        .expect("the server's publisher")
                        .0
                        .clone();
                    publisher
                        .publish(MessageSend::new(self.topic.as_str()).payload("hello"))
                        .await?;
                    send.send(SendEvent::LifespanStartupComplete).await?;
                }
                ReceiveEvent::LifespanShutdown => {
                    send.send(SendEvent::LifespanShutdownComplete).await?;
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifespan_scope_carries_the_servers_publisher() {
    bounded(async {
        let prefix = unique("t");
        let consumed = format!("{prefix}.eu");
        create_topic(&consumed, 1).await;
        let published = unique("published");
        create_topic(&published, 1).await;
        let app = PublishAtStartup {
            topic: published.clone(),
        };
        let group = unique("cli-publisher-group");
        let (stop, served) = serve(
            BoxApplication::new(app),
            template_channel(&prefix),
            &[&consumed, "--group-id", &group],
        );
        let messages = read(&published, 1).await;
        assert_eq!(messages[0].payload(), Some(&b"hello"[..]));
        stop.send(()).unwrap();
        served.await.unwrap().expect("served without error");
    })
    .await;
}
