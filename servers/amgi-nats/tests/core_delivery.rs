//! Core NATS: wildcard subjects, batches of what arrived together, queue groups sharing the
//! messages, at most once.

mod common;

use std::collections::HashSet;

use amgi_core::Binding;
use amgi_core::BoxApplication;
use amgi_nats::{NatsConfig, Server};
use common::app::{Action, TestApp};
use common::{WAIT, unique};

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_subscription_delivers_every_message_with_its_subject() {
    let client = common::connect().await;
    let prefix = unique("core");
    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(common::URL).subjects([format!("{prefix}.*")]);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    for i in 0..50 {
        let region = if i % 2 == 0 { "eu" } else { "us" };
        client
            .publish(format!("{prefix}.{region}"), format!("{i}").into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let mut seen = HashSet::new();
    while seen.len() < 50 {
        let (address, message) = tokio::time::timeout(WAIT, received.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of 50 messages arrived", seen.len()))
            .unwrap();
        let Some(Binding::Nats(binding)) = &message.binding else {
            panic!("no NATS binding")
        };
        assert_eq!(binding.subject.as_deref(), Some(address.as_str()));
        assert!(address.starts_with(&prefix), "{address}");
        seen.insert(message.payload.unwrap());
    }
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
