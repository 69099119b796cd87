//! Kafka events (MSK and self-managed): each topic-partition in offset order, keys, values and
//! headers decoded, and the nack policies `fail`, `log` and `dead-letter`.

mod support;

use std::sync::{Arc, Mutex};

use amgi_core::{Binding, EventFuture, MessageSend, SendError};
use amgi_lambda::testing::{KafkaEventBuilder, KafkaRecord};
use amgi_lambda::{
    InvocationErrorKind, KafkaOnNack, LambdaConfig, LambdaServer, MessageSender, SendRouter,
};
use serde_json::Value;
use support::Recorder;

#[tokio::test]
async fn records_are_decoded_and_handled_in_offset_order_per_partition() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    // Out of order in the event: handled by offset.
    let event = KafkaEventBuilder::new()
        .record(KafkaRecord::new("orders", 0, 11).key("k").value("second"))
        .record(
            KafkaRecord::new("orders", 0, 10)
                .key("k")
                .value("first")
                .header("trace-id", "t-1")
                .header("raw", [0u8, 200, 255]),
        )
        .build();
    assert_eq!(server.invoke(event).await.unwrap(), Value::Null);
    assert_eq!(app.payloads(), ["first", "second"]);
    let seen = app.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.address, "orders");
    assert_eq!(seen.headers.get(b"trace-id").unwrap(), "t-1");
    assert_eq!(&seen.headers.get(b"raw").unwrap()[..], [0, 200, 255]);
    let Some(Binding::Kafka(binding)) = seen.binding else {
        panic!("no Kafka binding");
    };
    assert_eq!(binding.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(binding.partition, Some(0));
    assert_eq!(binding.offset, Some(10));
    assert_eq!(binding.timestamp, Some(1_700_000_000_000));
}

#[tokio::test]
async fn a_nack_fails_the_invocation_by_default_and_stops_its_partition() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    let event = KafkaEventBuilder::new()
        .self_managed()
        .record(KafkaRecord::new("orders", 0, 1).value("one"))
        .record(KafkaRecord::new("orders", 0, 2).value("nack two"))
        .record(KafkaRecord::new("orders", 0, 3).value("three"))
        .record(KafkaRecord::new("orders", 1, 7).value("other partition"))
        .build();
    let error = server.invoke(event).await.unwrap_err();
    let InvocationErrorKind::KafkaNacked(nacks) = error.kind() else {
        panic!("{error}");
    };
    assert_eq!(nacks.len(), 1);
    assert_eq!((nacks[0].partition, nacks[0].offset), (0, 2));
    let mut payloads = app.payloads();
    payloads.sort();
    // "three" comes after the nack in its partition: not handled (Lambda retries the batch).
    assert_eq!(payloads, ["nack two", "one", "other partition"]);
}

#[tokio::test]
async fn under_log_a_nack_is_dropped_and_the_partition_goes_on_in_order() {
    let app = Recorder::default();
    let config = LambdaConfig::new().kafka_on_nack(KafkaOnNack::Log);
    let server = LambdaServer::new(app.clone())
        .config(config)
        .start()
        .await
        .unwrap();
    let event = KafkaEventBuilder::new()
        .record(KafkaRecord::new("orders", 0, 1).value("one"))
        .record(KafkaRecord::new("orders", 0, 2).value("nack two"))
        .record(KafkaRecord::new("orders", 0, 3).value("three"))
        .build();
    assert_eq!(server.invoke(event).await.unwrap(), Value::Null);
    assert_eq!(app.payloads(), ["one", "nack two", "three"]);
}

/// Keeps what it is given.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<MessageSend>>>);

impl MessageSender for Keep {
    fn send(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        self.0.lock().unwrap().push(message);
        EventFuture::ready(Ok(()))
    }
}

#[tokio::test]
async fn under_dead_letter_a_nack_goes_to_the_topic_dlq_through_the_router() {
    let app = Recorder::default();
    let kept = Keep::default();
    let server = LambdaServer::new(app.clone())
        .config(LambdaConfig::new().kafka_on_nack(KafkaOnNack::DeadLetter))
        .with_sender(SendRouter::new().route("*.dlq", kept.clone()))
        .start()
        .await
        .unwrap();
    let event = KafkaEventBuilder::new()
        .record(
            KafkaRecord::new("orders", 3, 41)
                .key("k")
                .value("nack me")
                .header("trace-id", "t"),
        )
        .record(KafkaRecord::new("orders", 3, 42).value("after"))
        .build();
    assert_eq!(server.invoke(event).await.unwrap(), Value::Null);
    assert_eq!(app.payloads(), ["nack me", "after"]);
    let kept = kept.0.lock().unwrap();
    assert_eq!(kept.len(), 1);
    let letter = &kept[0];
    assert_eq!(&*letter.address, "orders.dlq");
    assert_eq!(letter.payload.as_deref(), Some(&b"nack me"[..]));
    assert_eq!(letter.headers.get(b"trace-id").unwrap(), "t");
    assert_eq!(
        letter.headers.get(b"amgi-dead-letter-reason").unwrap(),
        "refused nack me"
    );
    assert_eq!(
        letter.headers.get(b"amgi-dead-letter-partition").unwrap(),
        "3"
    );
    assert_eq!(
        letter.headers.get(b"amgi-dead-letter-offset").unwrap(),
        "41"
    );
}

#[tokio::test]
async fn under_dead_letter_without_a_route_the_invocation_fails_naming_the_router() {
    let server = LambdaServer::new(Recorder::default())
        .config(LambdaConfig::new().kafka_on_nack(KafkaOnNack::DeadLetter))
        .start()
        .await
        .unwrap();
    let event = KafkaEventBuilder::new()
        .record(KafkaRecord::new("orders", 0, 1).value("nack"))
        .build();
    let error = server.invoke(event).await.unwrap_err();
    assert!(matches!(
        error.kind(),
        InvocationErrorKind::DeadLetter { .. }
    ));
    assert!(error.to_string().contains("SendRouter::route"), "{error}");
}
