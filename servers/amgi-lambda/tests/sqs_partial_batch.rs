//! SQS standard queues: one concurrent batch per queue, a partial batch response naming the
//! nacked records and those whose body does not match `md5OfBody` (never handled).

mod support;

use amgi_core::Binding;
use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
use amgi_lambda::{LambdaConfig, LambdaServer};
use serde_json::json;
use support::{Recorder, failures};

const ORDERS: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

#[tokio::test]
async fn nacked_records_are_the_batch_item_failures() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(ORDERS)
        .record(SqsRecord::new("m-1", "one"))
        .record(SqsRecord::new("m-2", "nack two"))
        .record(SqsRecord::new("m-3", "three"))
        .build();
    let response = server.invoke(event).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
    );
    // A standard queue is not ordered: the record after the nack is handled too.
    assert_eq!(app.payloads(), ["one", "nack two", "three"]);
}

#[tokio::test]
async fn an_all_acked_invocation_answers_an_empty_list() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(ORDERS)
        .record(SqsRecord::new("m-1", "one"))
        .build();
    let response = server.invoke(event).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn a_body_that_does_not_match_its_md5_is_reported_failed_and_not_handled() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(ORDERS)
        .record(SqsRecord::new("m-1", "one"))
        .record(SqsRecord::new("m-2", "two").md5_of_body("00000000000000000000000000000000"))
        .record(SqsRecord::new("m-3", "three"))
        .build();
    let response = server.invoke(event).await.unwrap();
    assert_eq!(failures(&response), ["m-2"]);
    assert_eq!(app.payloads(), ["one", "three"]);
}

#[tokio::test]
async fn attributes_become_headers_and_the_sqs_binding() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(ORDERS)
        .record(
            SqsRecord::new("m-1", "one")
                .attribute("trace-id", "t-1")
                .binary_attribute("raw", &[0, 159, 255])
                .receive_count(3),
        )
        .build();
    server.invoke(event).await.unwrap();
    let seen = app.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.address, "orders");
    assert_eq!(seen.headers.get(b"trace-id").unwrap(), "t-1");
    assert_eq!(&seen.headers.get(b"raw").unwrap()[..], [0, 159, 255]);
    let Some(Binding::Sqs(binding)) = seen.binding else {
        panic!("no SQS binding: {:?}", seen.binding);
    };
    assert_eq!(binding.message_id.as_deref(), Some("m-1"));
    assert_eq!(binding.receive_count, Some(3));
    assert_eq!(binding.sent_timestamp, Some(1_700_000_000_000));
    assert_eq!(binding.message_group_id, None);
}

#[tokio::test]
async fn queues_map_onto_addresses() {
    let app = Recorder::default();
    let config = LambdaConfig::new()
        .sqs_addresses("user.created=user-created,user.created=user-created.fifo")
        .unwrap();
    let server = LambdaServer::new(app.clone())
        .config(config)
        .start()
        .await
        .unwrap();
    let event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:123456789012:user-created")
        .record(SqsRecord::new("m-1", "one"))
        .record(SqsRecord::new("m-2", "two").queue("arn:aws:sqs:us-east-1:1:unmapped"))
        .build();
    server.invoke(event).await.unwrap();
    let mut addresses: Vec<String> = app
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.address.clone())
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["unmapped", "user.created"]);
}

#[tokio::test]
async fn an_event_of_another_source_fails_the_invocation() {
    let server = LambdaServer::new(Recorder::default())
        .start()
        .await
        .unwrap();
    let error = server
        .invoke(json!({"Records": [{"eventSource": "aws:s3"}]}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("aws:s3"), "{error}");
}
