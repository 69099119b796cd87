//! TLS: a private Mosquitto with a TLS listener and a certificate generated for the test
//! (rcgen); the server connects with `--ca-file` semantics ([`Tls::CaFile`]) and consumes.

mod support;

use amgi_core::BoxApplication;
use amgi_mqtt::{MqttErrorKind, Server, Tls};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use support::private_broker::PrivateBroker;
use support::{Recorder, WAIT, config_on, next, unique};

#[tokio::test(flavor = "multi_thread")]
async fn the_server_consumes_over_tls_trusting_a_ca_file() {
    let broker = PrivateBroker::start(true).await;
    let ca = broker.tls_files().ca;
    let topic = unique("amgi/tls");
    let (app, mut got) = Recorder::new();
    let config =
        config_on(broker.port, &unique("amgi-tls"), &[&topic]).tls(Tls::CaFile(ca.clone()));
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();

    // An outside client over TLS too, trusting the same file.
    let mut options = MqttOptions::new(unique("outside-tls"), "127.0.0.1", broker.port);
    let tls = Tls::CaFile(ca).client_config().unwrap();
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(tls),
    ));
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
        .publish(topic.as_str(), QoS::AtLeastOnce, false, "over tls")
        .await
        .unwrap();
    tokio::time::timeout(WAIT, acked.recv())
        .await
        .expect("no PUBACK over TLS within 10 s");
    assert_eq!(next(&mut got).await.payload, "over tls");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_broker_whose_certificate_is_not_trusted_is_unreachable() {
    let broker = PrivateBroker::start(true).await;
    // Trust a certificate other than the broker's.
    let other = std::env::temp_dir().join(unique("amgi-other-ca"));
    std::fs::create_dir_all(&other).unwrap();
    let files = support::private_broker::TlsFiles::generate(&other);
    let (app, _got) = Recorder::new();
    let config = config_on(broker.port, &unique("amgi-tls-bad"), &["a"]).tls(Tls::CaFile(files.ca));
    let error = tokio::time::timeout(WAIT, Server::new(BoxApplication::new(app), config).start())
        .await
        .expect("start did not fail within 10 s")
        .unwrap_err();
    assert_eq!(error.kind(), MqttErrorKind::Unreachable);
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{}", broker.port)),
        "{error}"
    );
    std::fs::remove_dir_all(other).unwrap();
}
