//! Username and password: a private Mosquitto that refuses anonymous clients admits the server
//! with the right password, and refuses it, with a clear error, with a wrong one.

mod support;

use amgi_core::BoxApplication;
use amgi_mqtt::{MqttErrorKind, Server};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use support::private_broker::PrivateBroker;
use support::{Recorder, WAIT, config_on, next, unique};

const USER: &str = "billing";
const PASSWORD: &str = "s3cret-pa55";

#[tokio::test(flavor = "multi_thread")]
async fn the_right_password_is_admitted_and_consumes() {
    let broker = PrivateBroker::start_with_password(USER, PASSWORD).await;
    let topic = unique("amgi/credentials");
    let (app, mut got) = Recorder::new();
    let config =
        config_on(broker.port, &unique("amgi-creds"), &[&topic]).credentials(USER, PASSWORD);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();

    let mut options = MqttOptions::new(unique("outside-creds"), "127.0.0.1", broker.port);
    options.set_credentials(USER, PASSWORD);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let (acked_tx, mut acked) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::PubAck(_)) = event {
                let _ = acked_tx.send(());
            }
        }
    });
    client
        .publish(topic.as_str(), QoS::AtLeastOnce, false, "authenticated")
        .await
        .unwrap();
    tokio::time::timeout(WAIT, acked.recv())
        .await
        .expect("no PUBACK within 10 s");
    assert_eq!(next(&mut got).await.payload, "authenticated");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_without_showing_it() {
    let broker = PrivateBroker::start_with_password(USER, PASSWORD).await;
    let (app, _got) = Recorder::new();
    let config =
        config_on(broker.port, &unique("amgi-creds-bad"), &["a"]).credentials(USER, "not-it-4521");
    let error = tokio::time::timeout(WAIT, Server::new(BoxApplication::new(app), config).start())
        .await
        .expect("start did not fail within 10 s")
        .unwrap_err();
    assert_eq!(error.kind(), MqttErrorKind::Unreachable);
    let text = format!("{error} {error:?}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", broker.port)),
        "{text}"
    );
    assert!(!text.contains("not-it-4521"), "the password leaked: {text}");
}
