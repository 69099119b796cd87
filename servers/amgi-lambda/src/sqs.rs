//! SQS event-source mapping: an invocation's records become batches, their outcomes a partial
//! batch response.
//!
//! Records are grouped by queue (the last part of `eventSourceARN`). A standard queue's
//! records are one concurrent batch; a `.fifo` queue's records are one **ordered** batch per
//! `MessageGroupId`, in the order of the event, and once a record of a group fails every later
//! record of that group is reported failed without being handled ([`Outcome::Skipped`]).
//! `batchItemFailures` names every record that was nacked, left unanswered, skipped, or whose
//! body does not match its `md5OfBody` (such a record is logged and never handled).

use amgi_core::batch::{IncomingMessage, Outcome};
use amgi_core::{Binding, Headers, MessageScope, SqsBinding};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use futures_util::future::join_all;
use md5::{Digest, Md5};

use crate::error::{InvocationError, InvocationErrorKind};
use crate::server::Core;

/// The queue name of an SQS ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`), or the text itself.
pub(crate) fn queue_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Whether the body of `record` matches its `md5OfBody` (a record without one matches).
pub(crate) fn body_matches(record: &SqsMessage) -> bool {
    let Some(expected) = record.md5_of_body.as_deref() else {
        return true;
    };
    let digest = Md5::digest(record.body.as_deref().unwrap_or_default().as_bytes());
    format!("{digest:x}").eq_ignore_ascii_case(expected.trim())
}

/// The message the application sees: the body as payload, the message attributes as headers
/// (String and Number as their text, Binary as their bytes; sorted by name), and the
/// [`SqsBinding`].
pub(crate) fn incoming(record: &SqsMessage) -> IncomingMessage {
    let mut names: Vec<&String> = record.message_attributes.keys().collect();
    names.sort();
    let mut headers = Headers::with_capacity(names.len());
    for name in names {
        let attribute = &record.message_attributes[name];
        if let Some(text) = &attribute.string_value {
            headers.append(Bytes::from(name.clone()), Bytes::from(text.clone()));
        } else if let Some(binary) = &attribute.binary_value {
            headers.append(Bytes::from(name.clone()), Bytes::from(binary.0.clone()));
        }
    }
    let attribute = |name: &str| record.attributes.get(name);
    let mut binding = SqsBinding::default();
    binding.message_group_id = attribute("MessageGroupId").cloned();
    binding.message_deduplication_id = attribute("MessageDeduplicationId").cloned();
    binding.receive_count = attribute("ApproximateReceiveCount").and_then(|c| c.parse().ok());
    binding.sent_timestamp = attribute("SentTimestamp").and_then(|t| t.parse().ok());
    binding.message_id.clone_from(&record.message_id);
    let payload = record.body.clone().map(Bytes::from);
    IncomingMessage::new(headers, payload, Some(Binding::Sqs(binding)))
}

/// One batch to dispatch: the indices of its records in the event.
struct Batch {
    address: String,
    ordered: bool,
    records: Vec<usize>,
}

/// Handles an SQS event: every record is handled or reported failed.
pub(crate) async fn handle(
    core: &Core,
    event: &SqsEvent,
) -> Result<SqsBatchResponse, InvocationError> {
    let records = &event.records;
    let mut failed = vec![false; records.len()];
    let mut batches: Vec<Batch> = Vec::new();
    // One batch per queue (per message group in a FIFO queue); records keep their event order.
    for (index, record) in records.iter().enumerate() {
        let queue = queue_name(record.event_source_arn.as_deref().unwrap_or_default());
        let address = core.config.address_of_queue(queue);
        // SQS requires the lower-case suffix on FIFO queue names.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        let fifo = queue.ends_with(".fifo");
        let group = if fifo {
            record.attributes.get("MessageGroupId").map(String::as_str)
        } else {
            None
        };
        let batch = batches.iter().position(|batch| {
            batch.address == address
                && batch.ordered == fifo
                && (!fifo || group_of(records, batch) == group)
        });
        let batch = if let Some(batch) = batch {
            &mut batches[batch]
        } else {
            batches.push(Batch {
                address: address.to_owned(),
                ordered: fifo,
                records: Vec::new(),
            });
            batches.last_mut().expect("just pushed")
        };
        batch.records.push(index);
    }
    let mut runs = Vec::with_capacity(batches.len());
    for batch in &mut batches {
        // A record whose body does not match its MD5 is never handled; in a FIFO group, nor
        // is anything after it.
        let mut cut = batch.records.len();
        for (position, &index) in batch.records.iter().enumerate() {
            let record = &records[index];
            if !body_matches(record) {
                tracing::error!(
                    message_id = record.message_id.as_deref().unwrap_or("?"),
                    address = %batch.address,
                    "SQS record body does not match its md5OfBody: not handled, reported failed"
                );
                failed[index] = true;
                if batch.ordered {
                    cut = position;
                    break;
                }
            }
        }
        if batch.ordered {
            for &index in &batch.records[cut..] {
                failed[index] = true;
            }
            batch.records.truncate(cut);
        } else {
            batch.records.retain(|&index| !failed[index]);
        }
        let messages = batch
            .records
            .iter()
            .map(|&i| incoming(&records[i]))
            .collect();
        let scope = MessageScope::new(batch.address.as_str()).ordered(batch.ordered);
        runs.push(core.dispatcher.dispatch(scope, messages));
    }
    let reports = join_all(runs).await;
    for (batch, report) in batches.iter().zip(reports) {
        for (&index, outcome) in batch.records.iter().zip(&report.outcomes) {
            match outcome {
                Outcome::Acked => {}
                Outcome::Nacked { reason, .. } => {
                    tracing::warn!(
                        message_id = records[index].message_id.as_deref().unwrap_or("?"),
                        address = %batch.address,
                        %reason,
                        "SQS record nacked: reported in batchItemFailures"
                    );
                    failed[index] = true;
                }
                Outcome::Skipped => failed[index] = true,
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    for (record, _) in records.iter().zip(&failed).filter(|(_, failed)| **failed) {
        let Some(id) = &record.message_id else {
            let arn = record.event_source_arn.as_deref().unwrap_or_default();
            return Err(InvocationError::new(
                InvocationErrorKind::MissingMessageId {
                    queue: queue_name(arn).to_owned(),
                },
            ));
        };
        let mut failure = BatchItemFailure::default();
        failure.item_identifier.clone_from(id);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// The message group of a FIFO batch (that of its first record).
fn group_of<'a>(records: &'a [SqsMessage], batch: &Batch) -> Option<&'a str> {
    batch
        .records
        .first()
        .and_then(|&i| records[i].attributes.get("MessageGroupId"))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_name_is_the_last_part_of_the_arn() {
        assert_eq!(
            queue_name("arn:aws:sqs:us-east-1:123456789012:orders.fifo"),
            "orders.fifo"
        );
        assert_eq!(queue_name("orders"), "orders");
    }

    #[test]
    fn md5_of_body_is_checked() {
        let mut record = SqsMessage::default();
        record.body = Some("Hello from SQS!".into());
        record.md5_of_body = Some("b0ea1c2a5ac3e6ec6bd9ce1c82a5f0c4".into());
        assert!(!body_matches(&record));
        record.md5_of_body = Some(format!("{:x}", Md5::digest(b"Hello from SQS!")));
        assert!(body_matches(&record));
        record.md5_of_body = None;
        assert!(body_matches(&record));
    }
}
