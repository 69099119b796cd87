//! Errors at start: SQS down (the error names the endpoint), an unknown queue (it names the
//! queue and the endpoint).

mod common;

use std::time::Duration;

use amgi_sqs::{ErrorKind, Server, SqsConfig};
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use common::Calls;
use common::app::{Action, TestApp};

#[tokio::test]
async fn sqs_down_is_an_unreachable_error_naming_the_endpoint() {
    let endpoint = "http://127.0.0.1:1";
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    let (app, _) = TestApp::new(|_, _| Action::Ack);
    let config = SqsConfig::new()
        .client(aws_sdk_sqs::Client::from_conf(config))
        .endpoint_url(endpoint)
        .queue("orders");
    let started = tokio::time::timeout(common::WAIT, Server::new(app, config).start()).await;
    let error = started.expect("fails in time").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(message.contains(endpoint), "{message}");
    assert!(message.contains("--endpoint-url"), "{message}");
}

#[tokio::test]
async fn an_unknown_queue_is_named_with_the_endpoint() {
    common::require_moto().await;
    let name = common::unique("missing");
    let (app, _) = TestApp::new(|_, _| Action::Ack);
    let config = common::config(&Calls::default())
        .queue(&name)
        .connect_timeout(Duration::from_secs(5));
    let error = Server::new(app, config).start().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::QueueNotFound);
    let message = error.to_string();
    assert!(message.contains(&name), "{message}");
    assert!(message.contains(common::ENDPOINT), "{message}");
}
