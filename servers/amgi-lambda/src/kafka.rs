//! Kafka event-source mapping (Amazon MSK and self-managed Kafka): each topic-partition's
//! records are one **ordered** batch, in offset order; the topic is the address.
//!
//! Keys and values are base64-decoded; headers (a list of maps of name → array of byte values)
//! become the message's headers in order. A nack does what [`KafkaOnNack`] says: fail the
//! invocation (Lambda retries the whole batch), log it, or send the record to `<topic>.dlq`
//! through the send router. Under `log` and `dead-letter` the records after a nacked one (left
//! [`Outcome::Skipped`] by the ordered batch) are dispatched again, in order, so every record
//! of the partition is handled.

use amgi_core::batch::{IncomingMessage, Outcome, Publisher};
use amgi_core::{Binding, Headers, KafkaBinding, MessageScope, MessageSend};
use amgi_server::{DeadLetterOrigin, dead_letter_headers};
use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::future::join_all;

use crate::KafkaOnNack;
use crate::error::{InvocationError, InvocationErrorKind, KafkaNack};
use crate::server::Core;

/// The `eventSource` of an Amazon MSK event.
pub const MSK_EVENT_SOURCE: &str = "aws:kafka";
/// The `eventSource` of a self-managed Kafka event.
pub const SELF_MANAGED_EVENT_SOURCE: &str = "SelfManagedKafka";

/// Header naming the partition of a dead-lettered record.
pub const PARTITION_HEADER: &str = "amgi-dead-letter-partition";
/// Header naming the offset of a dead-lettered record.
pub const OFFSET_HEADER: &str = "amgi-dead-letter-offset";

/// Base64 text as bytes; text that is not base64 is taken as it is (and logged).
fn decode(text: &str, what: &str) -> Bytes {
    match STANDARD.decode(text) {
        Ok(bytes) => Bytes::from(bytes),
        Err(error) => {
            tracing::warn!(%error, "Kafka record {what} is not base64: taken as it is");
            Bytes::copy_from_slice(text.as_bytes())
        }
    }
}

/// The message the application sees.
#[allow(clippy::cast_sign_loss)] // header bytes arrive as signed bytes (-128..=127)
pub(crate) fn incoming(record: &KafkaRecord) -> IncomingMessage {
    let mut headers = Headers::new();
    for map in &record.headers {
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        for name in names {
            let value: Vec<u8> = map[name].iter().map(|&b| b as u8).collect();
            headers.append(Bytes::from(name.clone()), Bytes::from(value));
        }
    }
    let mut binding = KafkaBinding::default()
        .offset(record.offset)
        .timestamp(record.timestamp.0.timestamp_millis());
    binding.partition = i32::try_from(record.partition).ok();
    binding.key = record.key.as_deref().map(|key| decode(key, "key"));
    let payload = record.value.as_deref().map(|value| decode(value, "value"));
    IncomingMessage::new(headers, payload, Some(Binding::Kafka(binding)))
}

/// Handles a Kafka event: every partition in offset order, the partitions concurrently.
pub(crate) async fn handle(core: &Core, event: &KafkaEvent) -> Result<(), InvocationError> {
    let mut keys: Vec<&String> = event.records.keys().collect();
    keys.sort();
    let runs = keys.into_iter().map(|key| {
        let mut records: Vec<&KafkaRecord> = event.records[key].iter().collect();
        records.sort_by_key(|record| (record.partition, record.offset));
        let topic = records
            .first()
            .and_then(|record| record.topic.clone())
            .unwrap_or_else(|| key.rsplit_once('-').map_or(key.as_str(), |(t, _)| t).into());
        partition(core, topic, records)
    });
    let mut nacks = Vec::new();
    for result in join_all(runs).await {
        match result {
            Ok(mut found) => nacks.append(&mut found),
            Err(error) => return Err(error),
        }
    }
    if nacks.is_empty() {
        Ok(())
    } else {
        Err(InvocationError::new(InvocationErrorKind::KafkaNacked(
            nacks,
        )))
    }
}

/// One topic-partition: its nacks under [`KafkaOnNack::Fail`] (it stops at the first).
async fn partition(
    core: &Core,
    topic: String,
    records: Vec<&KafkaRecord>,
) -> Result<Vec<KafkaNack>, InvocationError> {
    let messages: Vec<IncomingMessage> = records.iter().map(|record| incoming(record)).collect();
    let policy = core.config.kafka_nack_policy();
    let mut start = 0;
    while start < messages.len() {
        let scope = MessageScope::new(topic.as_str()).ordered(true);
        let report = core
            .dispatcher
            .dispatch(scope, messages[start..].to_vec())
            .await;
        let mut next = messages.len();
        for (position, outcome) in report.outcomes.iter().enumerate() {
            let index = start + position;
            let record = records[index];
            match outcome {
                Outcome::Acked => {}
                Outcome::Skipped => {
                    next = index;
                    break;
                }
                Outcome::Nacked { reason, .. } => {
                    let nack = KafkaNack {
                        topic: topic.clone(),
                        partition: record.partition,
                        offset: record.offset,
                        reason: reason.to_string(),
                    };
                    match policy {
                        KafkaOnNack::Fail => {
                            tracing::warn!(
                                topic, partition = nack.partition, offset = nack.offset, %reason,
                                "Kafka record nacked: the invocation fails and Lambda retries the batch"
                            );
                            return Ok(vec![nack]);
                        }
                        KafkaOnNack::Log => tracing::warn!(
                            topic, partition = nack.partition, offset = nack.offset, %reason,
                            "Kafka record nacked: logged and dropped (AMGI_KAFKA_ON_NACK=log)"
                        ),
                        KafkaOnNack::DeadLetter => {
                            dead_letter(core, &nack, &messages[index]).await?;
                        }
                    }
                }
            }
        }
        start = next;
    }
    Ok(Vec::new())
}

/// Sends a nacked record to its dead-letter address through the send router.
async fn dead_letter(
    core: &Core,
    nack: &KafkaNack,
    message: &IncomingMessage,
) -> Result<(), InvocationError> {
    let Some(address) = core.config.dead_letter_policy().address_for(&nack.topic) else {
        tracing::error!(
            topic = nack.topic,
            partition = nack.partition,
            offset = nack.offset,
            reason = nack.reason,
            "Kafka record nacked, dead letters disabled: dropped"
        );
        return Ok(());
    };
    let origin = DeadLetterOrigin {
        reason: &nack.reason,
        deliveries: 1,
        address: &nack.topic,
    };
    let extra = [
        (PARTITION_HEADER, nack.partition.to_string()),
        (OFFSET_HEADER, nack.offset.to_string()),
    ];
    let mut send = MessageSend::new(address.as_str());
    send.headers = dead_letter_headers(&message.headers, origin, &extra);
    send.payload.clone_from(&message.payload);
    if let Some(Binding::Kafka(KafkaBinding { key: Some(key), .. })) = &message.binding {
        send.bindings.insert(KafkaBinding::with_key(key.clone()));
    }
    core.router.publish(send).await.map_err(|error| {
        InvocationError::new(InvocationErrorKind::DeadLetter {
            record: format!("{}-{}@{}", nack.topic, nack.partition, nack.offset),
            address: address.clone(),
            error,
        })
    })?;
    tracing::warn!(
        topic = nack.topic,
        partition = nack.partition,
        offset = nack.offset,
        reason = nack.reason,
        dead_letter = address,
        "Kafka record nacked: dead-lettered"
    );
    Ok(())
}
