//! JetStream: an abrupt stop loses nothing (a restarted server with the same durable gets what
//! was not acked), "in progress" acks keep a slow handler's message from being redelivered,
//! and `message.send` to a subject of the stream completes on the stream's ack.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use amgi_core::{Binding, BoxApplication, MessageSend};
use amgi_nats::{NatsConfig, Server};
use common::app::{Action, TestApp};
use common::{TestStream, WAIT, unique};
use futures_util::StreamExt;

fn config(stream: &TestStream, subject: &str, durable: &str) -> NatsConfig {
    NatsConfig::new(common::URL)
        .subjects([subject.to_owned()])
        .jetstream(&stream.name, durable)
        .ack_wait(Duration::from_secs(1))
        .batch_size(8)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abrupt_stop_then_a_restart_loses_nothing() {
    const COUNT: usize = 30;
    let client = common::connect().await;
    let subject = format!("amgi.js.{}", unique("restart"));
    let stream = TestStream::create(&client, "RESTART", std::slice::from_ref(&subject)).await;
    let durable = unique("durable");
    for i in 0..COUNT {
        stream.publish(&subject, None, format!("{i}")).await;
    }
    // The first server acks the first ten messages, then hangs on the rest; it is then dropped
    // without shutdown.
    let (app, mut first_seen) = TestApp::new(|_, message| {
        let n: usize = std::str::from_utf8(message.payload.as_deref().unwrap_or_default())
            .unwrap()
            .parse()
            .unwrap();
        if n < 10 { Action::Ack } else { Action::Hang }
    });
    let first = Server::new(
        BoxApplication::new(app),
        config(&stream, &subject, &durable),
    )
    .start()
    .await
    .unwrap();
    for _ in 0..11 {
        tokio::time::timeout(WAIT, first_seen.recv())
            .await
            .expect("the first server got too few messages")
            .unwrap();
    }
    drop(first);

    let (app, mut seen) = TestApp::new(|_, _| Action::Ack);
    let second = Server::new(
        BoxApplication::new(app),
        config(&stream, &subject, &durable),
    )
    .start()
    .await
    .unwrap();
    // Every message not acked comes back (those acked in a batch cut short by the stop may come
    // back too: a batch is settled when it ends, at least once).
    let mut payloads = HashSet::new();
    while (10..COUNT).any(|n| !payloads.contains(&n)) {
        let (_, message) = tokio::time::timeout(WAIT, seen.recv())
            .await
            .unwrap_or_else(|_| panic!("missing after the restart: {payloads:?}"))
            .unwrap();
        let n: usize = std::str::from_utf8(&message.payload.unwrap())
            .unwrap()
            .parse()
            .unwrap();
        payloads.insert(n);
    }
    tokio::time::timeout(WAIT, second.shutdown())
        .await
        .unwrap()
        .unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .context
        .get_stream(&stream.name)
        .await
        .unwrap()
        .get_consumer(&durable)
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_progress_acks_keep_a_slow_handler_from_a_redelivery() {
    let client = common::connect().await;
    let subject = format!("amgi.js.{}", unique("slow"));
    let stream = TestStream::create(&client, "SLOW", std::slice::from_ref(&subject)).await;
    // Ack wait 1 s, the handler takes 2.5 s.
    let (app, mut seen) = TestApp::new(|_, _| Action::DelayThenAck(Duration::from_millis(2500)));
    let handle = Server::new(
        BoxApplication::new(app),
        config(&stream, &subject, &unique("durable")),
    )
    .start()
    .await
    .unwrap();
    stream.publish(&subject, None, "slow").await;
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    // Past the handler's end plus more than an ack wait: no second delivery.
    let again = tokio::time::timeout(Duration::from_secs(4), seen.recv()).await;
    assert!(again.is_err(), "the slow message was delivered again");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_to_a_subject_of_the_stream_is_stored_with_its_headers() {
    let client = common::connect().await;
    let subject = format!("amgi.js.{}", unique("send"));
    let out = format!("{subject}.out");
    let mut out_subscription = common::subscribe(&client, &out).await;
    let stream = TestStream::create(&client, "SEND", &[subject.clone(), out.clone()]).await;
    let headers = amgi_core::Headers::new()
        .with("b", "1")
        .with("a", bytes::Bytes::from_static(&[0xff, 0]))
        .with("b", "2");
    let reply = MessageSend::new(out.clone())
        .headers(headers)
        .payload("echo");
    let (app, mut seen) = TestApp::new(move |_, _| Action::SendThenAck(reply.clone()));
    let handle = Server::new(
        BoxApplication::new(app),
        config(&stream, &subject, &unique("durable")),
    )
    .start()
    .await
    .unwrap();
    stream.publish(&subject, None, "in").await;
    let (_, message) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    let Some(Binding::Nats(binding)) = message.binding else {
        panic!("no NATS binding")
    };
    assert_eq!(binding.subject.as_deref(), Some(subject.as_str()));
    assert_eq!(
        binding.reply, None,
        "a JetStream message's reply subject is its ack subject"
    );
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    // The send completed on the stream's ack, so the stored message is there.
    let info = stream
        .context
        .get_stream(&stream.name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .clone();
    assert_eq!(info.messages, 2, "the message in and the one sent");
    let sent = tokio::time::timeout(WAIT, out_subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&sent.payload[..], b"echo");
    let headers = sent.headers.unwrap();
    let b: Vec<_> = headers
        .get_all("b")
        .map(|v| v.as_str().to_owned())
        .collect();
    assert_eq!(b, ["1", "2"]);
    assert_eq!(headers.get("Amgi-Header-Order").unwrap().as_str(), "b a b");
    assert_eq!(headers.get("a").unwrap().as_str(), "/wA=");
    assert_eq!(headers.get("Amgi-Binary-Values").unwrap().as_str(), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_delivered_too_often_without_settlement_is_dead_lettered_unhandled() {
    let client = common::connect().await;
    let subject = format!("amgi.js.{}", unique("crashy"));
    let dlq = format!("{subject}.dlq");
    let mut dead_letters = common::subscribe(&client, &dlq).await;
    let stream = TestStream::create(&client, "CRASHY", std::slice::from_ref(&subject)).await;
    let durable = unique("durable");
    let one_delivery =
        || config(&stream, &subject, &durable).retry(amgi_server::RetryPolicy::new(1));
    stream.publish(&subject, None, "poison").await;
    // The first server never settles it, and stops abruptly.
    let (app, mut first_seen) = TestApp::new(|_, _| Action::Hang);
    let first = Server::new(BoxApplication::new(app), one_delivery())
        .start()
        .await
        .unwrap();
    tokio::time::timeout(WAIT, first_seen.recv())
        .await
        .unwrap()
        .unwrap();
    drop(first);
    // Its second delivery (after the ack wait) exceeds max_deliveries = 1: dead-lettered
    // without reaching the application.
    let (app, mut seen) = TestApp::new(|_, _| Action::Ack);
    let second = Server::new(BoxApplication::new(app), one_delivery())
        .start()
        .await
        .unwrap();
    let dead = tokio::time::timeout(WAIT, dead_letters.next())
        .await
        .expect("no dead letter within 10 s")
        .unwrap();
    assert_eq!(&dead.payload[..], b"poison");
    let reason = dead.headers.unwrap();
    let reason = reason.get(amgi_core::dead_letter::REASON_HEADER).unwrap();
    assert!(
        reason.as_str().contains("without being settled"),
        "{reason}"
    );
    tokio::time::timeout(WAIT, second.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(
        seen.try_recv().is_err(),
        "the application saw the message again"
    );
}
