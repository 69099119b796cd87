//! SQS FIFO queues: one ordered batch per message group; after a failure in a group, every
//! later record of that group is reported failed without being handled.

mod support;

use amgi_core::Binding;
use amgi_lambda::LambdaServer;
use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
use support::{Recorder, failures};

const FIFO: &str = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";

#[tokio::test]
async fn a_nack_fails_the_rest_of_its_group_unhandled_and_other_groups_go_on() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(FIFO)
        .record(SqsRecord::new("a-1", "a1").group("a"))
        .record(SqsRecord::new("b-1", "b1").group("b"))
        .record(SqsRecord::new("a-2", "nack a2").group("a"))
        .record(SqsRecord::new("b-2", "b2").group("b"))
        .record(SqsRecord::new("a-3", "a3").group("a"))
        .record(SqsRecord::new("a-4", "a4").group("a"))
        .build();
    let response = server.invoke(event).await.unwrap();
    assert_eq!(failures(&response), ["a-2", "a-3", "a-4"]);
    let mut payloads = app.payloads();
    payloads.sort();
    assert_eq!(
        payloads,
        ["a1", "b1", "b2", "nack a2"],
        "a3 and a4 were handled"
    );
}

#[tokio::test]
async fn each_group_is_handled_in_event_order_as_an_ordered_batch() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let mut builder = SqsEventBuilder::new(FIFO);
    for i in 0..5 {
        builder = builder.record(
            SqsRecord::new(format!("m-{i}"), format!("g{i}"))
                .group("g")
                .deduplication_id(format!("d-{i}")),
        );
    }
    let response = server.invoke(builder.build()).await.unwrap();
    assert!(failures(&response).is_empty());
    assert_eq!(app.payloads(), ["g0", "g1", "g2", "g3", "g4"]);
    let seen = app.seen.lock().unwrap()[1].clone();
    let Some(Binding::Sqs(binding)) = seen.binding else {
        panic!("no SQS binding");
    };
    assert_eq!(binding.message_group_id.as_deref(), Some("g"));
    assert_eq!(binding.message_deduplication_id.as_deref(), Some("d-1"));
}

#[tokio::test]
async fn an_md5_mismatch_fails_its_group_from_there_on_unhandled() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = SqsEventBuilder::new(FIFO)
        .record(SqsRecord::new("a-1", "a1").group("a"))
        .record(
            SqsRecord::new("a-2", "a2")
                .group("a")
                .md5_of_body("ffffffffffffffffffffffffffffffff"),
        )
        .record(SqsRecord::new("a-3", "a3").group("a"))
        .record(SqsRecord::new("b-1", "b1").group("b"))
        .build();
    let response = server.invoke(event).await.unwrap();
    assert_eq!(failures(&response), ["a-2", "a-3"]);
    let mut payloads = app.payloads();
    payloads.sort();
    assert_eq!(payloads, ["a1", "b1"]);
}
