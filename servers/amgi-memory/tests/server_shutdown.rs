//! Lifespan around the batches, failing startup, and graceful shutdown.

mod support;

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::{LifespanError, MessageSend};
use amgi_memory::{Broker, Server, ServerError};
use support::{Event, Scripted, poll_once, publish_payloads, start_server, stop_server, within};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;

// On a paused clock the runtime advances time only when every task waits, so `next_if_any`
// returning `None` means "nothing more happens", not "nothing happened yet".
#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_the_batch_in_flight() {
    let broker = Broker::default();
    let (app, mut events, gate) = Scripted::gated();
    let server = start_server(Server::new(app, broker.clone()).address("jobs")).await;
    broker
        .try_publish(MessageSend::new("jobs").payload("slow"))
        .unwrap();
    events.startup().await;
    assert_eq!(events.batch().await.payloads(), ["slow"]);

    let mut shutdown = pin!(server.shutdown());
    assert!(poll_once(shutdown.as_mut()).await.is_pending());
    // Everything is idle and shutdown has not finished: it waits for the gated batch, and
    // lifespan shutdown has not started.
    assert!(events.next_if_any().await.is_none());
    assert!(poll_once(shutdown.as_mut()).await.is_pending());
    assert_eq!(broker.in_flight("jobs"), 1);

    gate.add_permits(1);
    within("shutdown", shutdown).await.unwrap();
    assert!(matches!(events.next().await, Event::Shutdown));
    // The batch was applied before shutdown returned.
    assert_eq!(broker.in_flight("jobs"), 0);
    assert_eq!(broker.depth("jobs"), 0);
}

#[tokio::test(start_paused = true)]
async fn messages_not_taken_stay_in_the_broker_for_the_next_server() {
    let broker = Broker::default();
    publish_payloads(&broker, "jobs", ["1", "2", "3"]);
    let (app, mut events, gate) = Scripted::gated();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("jobs")
                .batch_size(1),
        )
        .await;
    assert_eq!(events.batch().await.payloads(), ["1"]);
    let mut shutdown = pin!(server.shutdown());
    assert!(poll_once(shutdown.as_mut()).await.is_pending());
    gate.add_permits(1);
    within("shutdown", shutdown).await.unwrap();
    assert!(matches!(events.next().await, Event::Shutdown));
    assert_eq!(broker.depth("jobs"), 2);
    assert_eq!(broker.in_flight("jobs"), 0);

    let (app, mut events) = Scripted::acking();
    let server = events
        .start(Server::new(app, broker.clone()).address("jobs"))
        .await;
    assert_eq!(events.batch().await.payloads(), ["2", "3"]);
    stop_server(server).await;
    assert_eq!(broker.depth("jobs"), 0);
}

#[tokio::test]
async fn lifespan_startup_comes_before_the_first_batch_and_shutdown_after_the_last() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("jobs").payload("early"))
        .unwrap();
    let (app, mut events) = Scripted::acking();
    let server = start_server(Server::new(app, broker.clone()).address("jobs")).await;
    assert!(matches!(events.next().await, Event::Startup));
    assert_eq!(events.batch().await.payloads(), ["early"]);
    stop_server(server).await;
    assert!(matches!(events.next().await, Event::Shutdown));
    assert!(events.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn failing_startup_stops_the_server_before_any_batch() {
    let broker = Broker::default();
    broker.try_publish(MessageSend::new("jobs")).unwrap();
    let (app, mut events) = Scripted::acking();
    let error = within(
        "start",
        Server::new(app.fail_startup("database unreachable"), broker.clone())
            .address("jobs")
            .start(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &error,
            ServerError::Startup(LifespanError::StartupFailed { message })
                if message == "database unreachable"
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("database unreachable"),
        "{error}"
    );
    assert!(matches!(events.next().await, Event::Startup));
    assert!(events.next_if_any().await.is_none());
    assert_eq!(broker.depth("jobs"), 1);
}

#[tokio::test]
async fn run_until_shuts_down_when_the_signal_fires() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("jobs").payload("x"))
        .unwrap();
    let (app, mut events) = Scripted::acking();
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(
        Server::new(app, broker.clone())
            .address("jobs")
            .run_until(async {
                let _ = stopped.await;
            }),
    );
    events.startup().await;
    assert_eq!(events.batch().await.payloads(), ["x"]);
    stop.send(()).unwrap();
    within("run_until", run).await.unwrap().unwrap();
    assert!(matches!(events.next().await, Event::Shutdown));
    assert_eq!(broker.depth("jobs") + broker.in_flight("jobs"), 0);
}

#[test]
fn a_batch_dropped_with_its_runtime_goes_back_to_the_queue() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("jobs").payload("kept"))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let handle = runtime.block_on(async {
        let (app, mut events) = Scripted::acking();
        let handle =
            start_server(Server::new(app.gate(Arc::clone(&gate)), broker.clone()).address("jobs"))
                .await;
        events.startup().await;
        events.batch().await;
        handle
    });
    assert_eq!(broker.in_flight("jobs"), 1);
    assert_eq!(broker.depth("jobs"), 0);

    // The consumer task is dropped mid-batch, without shutdown.
    drop(runtime);
    drop(handle);
    assert_eq!(broker.in_flight("jobs"), 0);
    assert_eq!(broker.depth("jobs"), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_a_batch_that_outlives_the_drain_timeout() {
    const DRAIN: Duration = Duration::from_secs(5);
    let broker = Broker::default();
    // The gate never opens: the handler never finishes.
    let (app, mut events, _gate) = Scripted::gated();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("jobs")
                .drain_timeout(DRAIN),
        )
        .await;
    broker
        .try_publish(MessageSend::new("jobs").payload("stuck"))
        .unwrap();
    assert_eq!(events.batch().await.payloads(), ["stuck"]);

    let started = Instant::now();
    within("shutdown", server.shutdown()).await.unwrap();
    assert!(started.elapsed() >= DRAIN, "the batch got its drain time");
    assert!(started.elapsed() < support::WAIT);
    assert!(matches!(events.next().await, Event::Shutdown));
    // The aborted batch went back to the queue, its delivery not applied.
    assert_eq!(broker.depth("jobs"), 1);
    assert_eq!(broker.in_flight("jobs"), 0);
}
