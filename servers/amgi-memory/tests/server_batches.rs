//! What one batch is: its size, its scope, its messages.

mod support;

use amgi_core::{Binding, Headers, KafkaBinding, MessageSend, MqttBinding, StateMap};
use amgi_memory::{Broker, Server};
use support::{Scripted, publish_payloads, start_server, stop_server};

#[tokio::test]
async fn batch_size_is_respected() {
    let broker = Broker::default();
    publish_payloads(&broker, "jobs", 0..10);
    let (app, mut events) = Scripted::acking();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("jobs")
                .batch_size(4),
        )
        .await;
    let mut sizes = Vec::new();
    let mut payloads = Vec::new();
    for _ in 0..3 {
        let batch = events.batch().await;
        sizes.push(batch.messages.len());
        payloads.extend(batch.payloads());
        // Every batch but the last says more messages follow, until its last message.
        let flags: Vec<_> = batch.messages.iter().map(|m| m.more_messages).collect();
        let last = flags.len() - 1;
        assert!(flags[..last].iter().all(|more| *more) && !flags[last]);
    }
    assert_eq!(sizes, [4, 4, 2]);
    let expected: Vec<_> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    stop_server(server).await;
}

#[tokio::test]
async fn one_batch_at_a_time_is_ordered() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::acking();
    let server = start_server(Server::new(app, broker.clone()).address("jobs")).await;
    broker.try_publish(MessageSend::new("jobs")).unwrap();
    events.startup().await;
    let batch = events.batch().await;
    assert!(batch.ordered);
    assert_eq!(batch.address, "jobs");
    stop_server(server).await;
}

#[tokio::test]
async fn concurrency_runs_batches_of_one_address_side_by_side_unordered() {
    let broker = Broker::default();
    publish_payloads(&broker, "jobs", ["1", "2", "3"]);
    let (app, mut events, gate) = Scripted::gated();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("jobs")
                .batch_size(1)
                .concurrency(2),
        )
        .await;
    // Two batches are in flight at once while the gate holds both.
    let first = events.batch().await;
    let second = events.batch().await;
    assert!(!first.ordered && !second.ordered);
    let mut taken = [first.payloads(), second.payloads()].concat();
    taken.sort();
    assert_eq!(taken, ["1", "2"]);
    assert_eq!(broker.in_flight("jobs"), 2);
    assert_eq!(broker.depth("jobs"), 1);

    gate.add_permits(3);
    assert_eq!(events.batch().await.payloads(), ["3"]);
    stop_server(server).await;
    assert_eq!(broker.depth("jobs") + broker.in_flight("jobs"), 0);
}

#[tokio::test]
async fn state_filled_at_startup_reaches_every_batch() {
    let broker = Broker::default();
    let state = StateMap::new();
    state.insert(String::from("from the server"));
    let (app, mut events) = Scripted::acking();
    let server = start_server(
        Server::new(app.on_startup(|state| state.insert(42_u32)), broker.clone())
            .address("jobs")
            .state(state.clone()),
    )
    .await;
    broker.try_publish(MessageSend::new("jobs")).unwrap();
    events.startup().await;
    let batch = events.batch().await;
    assert_eq!(batch.state.get::<u32>().as_deref(), Some(&42));
    assert_eq!(
        batch.state.get::<String>().as_deref().map(String::as_str),
        Some("from the server")
    );
    // The very same state the caller passed.
    assert_eq!(state.get::<u32>().as_deref(), Some(&42));
    stop_server(server).await;
}

#[tokio::test]
async fn headers_payload_and_first_binding_are_delivered() {
    let broker = Broker::default();
    let headers = Headers::new().with("a", "1").with("b", "2").with("a", "3");
    broker
        .try_publish(
            MessageSend::new("jobs")
                .headers(headers.clone())
                .payload(&b"\x00\xffbinary"[..])
                .binding(KafkaBinding::with_key("k-1").partition(2))
                .binding(MqttBinding::new(1, true)),
        )
        .unwrap();
    broker.try_publish(MessageSend::new("jobs")).unwrap();
    let (app, mut events) = Scripted::acking();
    let server = events
        .start(Server::new(app, broker.clone()).address("jobs"))
        .await;
    let batch = events.batch().await;
    let full = &batch.messages[0];
    assert_eq!(full.headers, headers);
    assert_eq!(full.payload.as_deref(), Some(&b"\x00\xffbinary"[..]));
    assert_eq!(
        full.binding,
        Some(Binding::Kafka(KafkaBinding::with_key("k-1").partition(2)))
    );
    let empty = &batch.messages[1];
    assert!(empty.headers.is_empty());
    assert_eq!(empty.payload, None);
    assert_eq!(empty.binding, None);
    assert_ne!(full.id, empty.id);
    stop_server(server).await;
}
