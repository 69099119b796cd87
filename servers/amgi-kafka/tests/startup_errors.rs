//! Start-up failures are clear errors, quickly: no broker, a bad property, no group id.

mod common;

use std::time::{Duration, Instant};

use amgi_kafka::{ErrorKind, Server};
use common::Recorder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_within_the_connect_timeout() {
    // Nothing listens on port 1 of the loopback interface.
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        Server::new(Recorder::acking(), ["t"])
            .bootstrap_servers("127.0.0.1:1")
            .group_id("g")
            .connect_timeout(Duration::from_secs(2))
            .start(),
    )
    .await
    .expect("start gives up on its own");
    let error = result.expect_err("no broker");
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_property_librdkafka_rejects_is_a_config_error() {
    let error = Server::new(Recorder::acking(), ["t"])
        .group_id("g")
        .set("no.such.property", "1")
        .start()
        .await
        .expect_err("bad property");
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("no.such.property"), "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_group_id_is_a_config_error() {
    let error = Server::new(Recorder::acking(), ["t"])
        .start()
        .await
        .expect_err("no group id");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("group.id"), "{error}");
}
