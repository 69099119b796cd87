//! Graceful shutdown while a handler runs: the server stops taking batches, lets the handler
//! finish and its message be acked, runs lifespan shutdown only then, and leaves the messages it
//! did not take in the broker.

use std::sync::Arc;
use std::time::Duration;

use amgi_core::MessageSend;
use asyncfast::amgi::StateMap;
use asyncfast::prelude::*;
use integration_tests::{Events, within};
use tokio::sync::Semaphore;

/// Lets a handler finish, one permit per message.
struct Gate {
    permits: Semaphore,
}

#[channel("jobs")]
async fn on_job(name: Payload<String>, gate: State<Gate>, events: State<Events>) {
    events.report(format!("started {}", *name));
    gate.permits
        .acquire()
        .await
        .expect("the gate stays open")
        .forget();
    events.report(format!("finished {}", *name));
}

#[tokio::test]
async fn shutdown_waits_for_the_handler_in_flight_then_runs_lifespan_shutdown() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let gate = Arc::new(Gate {
        permits: Semaphore::new(0),
    });
    let app = AsyncFast::empty()
        .state(events)
        .state_arc(Arc::clone(&gate))
        .on_shutdown(|state: StateMap| async move {
            let events = state.get::<Events>().expect("registered");
            events.report("lifespan shutdown");
            Ok::<(), std::io::Error>(())
        })
        .channel(handler!(on_job));
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .address("jobs")
            .start(),
    )
    .await
    .unwrap();

    within(
        "publish",
        broker.publish(MessageSend::new("jobs").payload("a")),
    )
    .await
    .unwrap();
    assert_eq!(log.next().await, "started a");
    // Queued behind `a` (batches of an address run one at a time).
    within(
        "publish",
        broker.publish(MessageSend::new("jobs").payload("b")),
    )
    .await
    .unwrap();
    assert_eq!(broker.in_flight("jobs"), 1);
    assert_eq!(broker.depth("jobs"), 1);

    let mut shutdown = tokio::spawn(server.shutdown());
    // While `a` runs, shutdown does not complete and lifespan shutdown does not run. (A bounded
    // check that something does not happen; the test's own runtime runs the shutdown task
    // meanwhile, so the server is stopping by the end of it.)
    assert_eq!(log.next_within(Duration::from_millis(200)).await, None);
    assert!(
        !shutdown.is_finished(),
        "shutdown did not wait for the handler"
    );

    gate.permits.add_permits(1);
    assert_eq!(log.next().await, "finished a");
    assert_eq!(log.next().await, "lifespan shutdown");
    within("graceful shutdown", &mut shutdown)
        .await
        .expect("the shutdown task")
        .expect("a clean shutdown");

    // `a` was acked; `b` was never taken and waits for the next server.
    assert_eq!(broker.in_flight("jobs"), 0);
    assert_eq!(broker.depth("jobs"), 1);
    assert!(broker.dead_letters("jobs").is_empty());
    assert_eq!(
        log.next_within(Duration::from_millis(50)).await,
        None,
        "`b` never started"
    );
}

#[tokio::test]
async fn run_until_shuts_down_gracefully_when_its_signal_fires_mid_handler() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let gate = Arc::new(Gate {
        permits: Semaphore::new(0),
    });
    let app = AsyncFast::empty()
        .state(events)
        .state_arc(Arc::clone(&gate))
        .channel(handler!(on_job));
    within(
        "publish",
        broker.publish(MessageSend::new("jobs").payload("a")),
    )
    .await
    .unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = app.serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()));
    let serve = tokio::spawn(app.run_with_args_until(["app", "run"], || async {
        let _ = stopped.await;
    }));
    assert_eq!(log.next().await, "started a");
    stop.send(()).unwrap();
    // The server is stopping (the runtime runs the serving task while this waits), and waits.
    assert_eq!(log.next_within(Duration::from_millis(100)).await, None);
    assert!(
        !serve.is_finished(),
        "shutdown did not wait for the handler"
    );
    gate.permits.add_permits(1);
    assert_eq!(log.next().await, "finished a");
    within("graceful shutdown", serve)
        .await
        .expect("the serving task")
        .expect("a clean shutdown");
    assert_eq!(broker.depth("jobs"), 0);
    assert_eq!(broker.in_flight("jobs"), 0);
}
