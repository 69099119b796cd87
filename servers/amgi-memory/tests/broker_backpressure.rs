//! Queues are bounded: publishing waits while a queue is full, and memory stays bounded.

mod support;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amgi_core::{MessageSend, SendErrorKind};
use amgi_memory::{Broker, BrokerConfig, PublishErrorKind, Server};
use support::{Event, Scripted, Verdict, poll_once, start_server, stop_server, within};

#[tokio::test]
async fn publish_waits_while_the_queue_is_full_and_resumes_after_an_ack() {
    let broker = Broker::new(BrokerConfig::new().capacity(2));
    let (app, mut events, gate) = Scripted::gated();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("jobs")
                .batch_size(1),
        )
        .await;
    for payload in ["1", "2"] {
        within(
            "publish",
            broker.publish(MessageSend::new("jobs").payload(payload)),
        )
        .await
        .unwrap();
    }
    // "1" is in flight, held by the gate; "2" waits. Both count against the capacity.
    assert_eq!(events.batch().await.payloads(), ["1"]);
    assert_eq!(broker.in_flight("jobs"), 1);
    assert_eq!(broker.depth("jobs"), 1);

    let mut third = pin!(broker.publish(MessageSend::new("jobs").payload("3")));
    assert!(poll_once(third.as_mut()).await.is_pending());
    assert!(poll_once(third.as_mut()).await.is_pending());
    assert_eq!(broker.depth("jobs") + broker.in_flight("jobs"), 2);

    // Acking "1" frees its slot.
    gate.add_permits(1);
    within("the waiting publish", third).await.unwrap();
    assert_eq!(events.batch().await.payloads(), ["2"]);
    assert!(broker.depth("jobs") + broker.in_flight("jobs") <= 2);

    gate.add_permits(2);
    assert_eq!(events.batch().await.payloads(), ["3"]);
    stop_server(server).await;
    assert_eq!(broker.depth("jobs"), 0);
}

#[tokio::test]
async fn try_publish_reports_a_full_queue_and_hands_the_message_back() {
    let broker = Broker::new(BrokerConfig::new().capacity(1));
    broker
        .try_publish(MessageSend::new("jobs").payload("a"))
        .unwrap();
    let error = broker
        .try_publish(MessageSend::new("jobs").payload("b"))
        .unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Full);
    assert!(error.is_retryable());
    assert_eq!(error.address(), "jobs");
    assert_eq!(error.into_message().payload.as_deref(), Some(&b"b"[..]));
    assert_eq!(broker.depth("jobs"), 1);
    // Other queues have their own room.
    broker.try_publish(MessageSend::new("other")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depth_never_exceeds_capacity_under_load() {
    const CAPACITY: usize = 3;
    const MESSAGES: usize = 200;
    let broker = Broker::new(BrokerConfig::new().capacity(CAPACITY));
    let over = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let (app, _events) = Scripted::new({
        let broker = broker.clone();
        let over = Arc::clone(&over);
        let acked = Arc::clone(&acked);
        move |_| {
            // Each count is read under its own lock, so their sum may be off by a concurrent
            // batch; each on its own must stay within the capacity.
            if broker.depth("load") > CAPACITY || broker.in_flight("load") > CAPACITY {
                over.fetch_add(1, Ordering::SeqCst);
            }
            acked.fetch_add(1, Ordering::SeqCst);
            Verdict::Ack
        }
    });
    let server = start_server(
        Server::new(app, broker.clone())
            .address("load")
            .batch_size(2)
            .concurrency(2),
    )
    .await;
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move {
                for _ in 0..MESSAGES / 4 {
                    broker.publish(MessageSend::new("load")).await.unwrap();
                    assert!(broker.depth("load") <= CAPACITY);
                }
            })
        })
        .collect();
    for producer in producers {
        within("producers", producer).await.unwrap();
    }
    stop_server(server).await;
    // Shutdown does not drain: whatever was not yet taken is still waiting.
    assert_eq!(
        acked.load(Ordering::SeqCst) + broker.depth("load"),
        MESSAGES
    );
    assert_eq!(over.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn nacked_messages_go_back_without_needing_room() {
    // With a capacity of 1 a requeue that asked for a new slot would wait forever.
    let broker = Broker::new(BrokerConfig::new().capacity(1));
    let deliveries = Arc::new(AtomicUsize::new(0));
    let (app, mut events) = Scripted::new({
        let deliveries = Arc::clone(&deliveries);
        move |_| {
            if deliveries.fetch_add(1, Ordering::SeqCst) == 0 {
                Verdict::Nack("once")
            } else {
                Verdict::Ack
            }
        }
    });
    let server = start_server(Server::new(app, broker.clone()).address("jobs")).await;
    broker.try_publish(MessageSend::new("jobs")).unwrap();
    events.startup().await;
    events.batch().await;
    events.batch().await;
    stop_server(server).await;
    assert_eq!(deliveries.load(Ordering::SeqCst), 2);
    broker.try_publish(MessageSend::new("jobs")).unwrap();
}

#[tokio::test]
async fn close_wakes_waiting_publishers_and_refuses_new_ones() {
    let broker = Broker::new(BrokerConfig::new().capacity(1));
    broker
        .try_publish(MessageSend::new("jobs").payload("kept"))
        .unwrap();
    let mut waiting = pin!(broker.publish(MessageSend::new("jobs").payload("late")));
    assert!(poll_once(waiting.as_mut()).await.is_pending());

    broker.close();
    let error = within("the waiting publish", waiting).await.unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Closed);
    assert!(!error.is_retryable());
    assert_eq!(error.into_message().payload.as_deref(), Some(&b"late"[..]));

    let error = within("publish", broker.publish(MessageSend::new("jobs")))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Closed);
    let error = broker.try_publish(MessageSend::new("new")).unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Closed);
    // What was in the broker stays there.
    assert_eq!(broker.depth("jobs"), 1);
    assert_eq!(broker.depth("new"), 0);
}

// On a paused clock `next_if_any` returning `None` means the runtime went idle.
#[tokio::test(start_paused = true)]
async fn message_send_from_the_application_waits_for_room() {
    // Longer than the idle check below: the send is still waiting when room comes.
    let broker = Broker::new(
        BrokerConfig::new()
            .capacity(1)
            .send_timeout(Duration::from_mins(1)),
    );
    broker
        .try_publish(MessageSend::new("out").payload("blocker"))
        .unwrap();
    let (app, mut events) =
        Scripted::new(|_| Verdict::Forward(MessageSend::new("out").payload("forwarded")));
    let server = start_server(Server::new(app, broker.clone()).address("in")).await;
    broker.try_publish(MessageSend::new("in")).unwrap();
    events.startup().await;
    events.batch().await;
    // The application's `message.send` waits for room in "out" (up to the send timeout), so its
    // batch stays in flight.
    assert!(events.next_if_any().await.is_none());
    assert_eq!(broker.in_flight("in"), 1);
    assert_eq!(broker.depth("out"), 1);

    let (out_app, mut out_events) = Scripted::acking();
    let out_server = out_events
        .start(Server::new(out_app, broker.clone()).address("out"))
        .await;
    assert_eq!(out_events.batch().await.payloads(), ["blocker"]);
    assert_eq!(out_events.batch().await.payloads(), ["forwarded"]);
    stop_server(server).await;
    stop_server(out_server).await;
    assert!(matches!(events.try_next(), Some(Event::Shutdown)));
    assert_eq!(broker.depth("in") + broker.in_flight("in"), 0);
}

#[tokio::test]
async fn message_send_to_a_closed_broker_fails_as_closed() {
    let broker = Broker::default();
    broker.try_publish(MessageSend::new("in")).unwrap();
    broker.close();
    let (app, mut events) = Scripted::new(|_| Verdict::Forward(MessageSend::new("out")));
    let server = events
        .start(Server::new(app, broker.clone()).address("in"))
        .await;
    events.batch().await;
    match events.next().await {
        Event::SendFailed(kind) => assert_eq!(kind, SendErrorKind::Closed),
        other => panic!("expected a failed send, got {other:?}"),
    }
    stop_server(server).await;
    // Closing stops publishing, not consuming: the message was still delivered and acked.
    assert_eq!(broker.depth("in"), 0);
    assert_eq!(broker.depth("out"), 0);
}
