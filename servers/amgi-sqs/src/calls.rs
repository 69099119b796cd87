//! The batch calls: `DeleteMessageBatch` (acks) and `SendMessageBatch` (sends, dead letters),
//! made by [`Batcher`](crate::batcher::Batcher)s, and `ChangeMessageVisibilityBatch` (nacks,
//! skips, extensions).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry,
};
use futures_util::future::BoxFuture;

use crate::batcher::Flush;
use crate::client::Sqs;
use crate::message::Encoded;

/// Most bytes of one `SendMessageBatch` (the sum of its messages).
const MAX_SEND_BYTES: usize = 256 * 1024;

/// One result per entry id (`0`, `1`, …): `Ok` unless the answer lists the id as failed, or
/// the call failed as a whole.
fn results(
    count: usize,
    answer: Result<Vec<BatchResultErrorEntry>, String>,
) -> Vec<Result<(), String>> {
    match answer {
        Err(error) => vec![Err(error); count],
        Ok(failed) => {
            let mut results = vec![Ok(()); count];
            for entry in failed {
                if let Some(slot) = entry
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| results.get_mut(i))
                {
                    *slot = Err(format!(
                        "{}: {}",
                        entry.code(),
                        entry.message().unwrap_or("refused")
                    ));
                }
            }
            results
        }
    }
}

/// Acks: `DeleteMessageBatch` of receipt handles.
pub(crate) struct Deletes(pub(crate) Arc<Sqs>);

impl Flush for Deletes {
    type Item = String;

    fn flush(
        &self,
        queue: Arc<str>,
        items: Vec<String>,
    ) -> BoxFuture<'static, Vec<Result<(), String>>> {
        let sqs = Arc::clone(&self.0);
        Box::pin(async move {
            let entries = items
                .into_iter()
                .enumerate()
                .map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect::<Vec<_>>();
            let count = entries.len();
            let answer = sqs
                .client
                .delete_message_batch()
                .queue_url(&*queue)
                .set_entries(Some(entries))
                .send()
                .await
                .map(|output| output.failed().to_vec())
                .map_err(|error| DisplayErrorContext(error).to_string());
            results(count, answer)
        })
    }
}

/// A message to send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) encoded: Encoded,
    pub(crate) group_id: Option<String>,
    pub(crate) deduplication_id: Option<String>,
    pub(crate) delay_seconds: Option<u32>,
}

/// Sends and dead letters: `SendMessageBatch`.
pub(crate) struct Sends(pub(crate) Arc<Sqs>);

impl Flush for Sends {
    type Item = Outgoing;

    fn max_bytes(&self) -> usize {
        MAX_SEND_BYTES
    }

    fn size(&self, item: &Outgoing) -> usize {
        item.encoded.size()
    }

    fn flush(
        &self,
        queue: Arc<str>,
        items: Vec<Outgoing>,
    ) -> BoxFuture<'static, Vec<Result<(), String>>> {
        let sqs = Arc::clone(&self.0);
        Box::pin(async move {
            let entries = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(item.encoded.body)
                        .set_message_attributes(
                            (!item.encoded.attributes.is_empty())
                                .then_some(item.encoded.attributes),
                        )
                        .set_message_group_id(item.group_id)
                        .set_message_deduplication_id(item.deduplication_id)
                        .set_delay_seconds(
                            item.delay_seconds
                                .map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
                        )
                        .build()
                        .expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let count = entries.len();
            let answer = sqs
                .client
                .send_message_batch()
                .queue_url(&*queue)
                .set_entries(Some(entries))
                .send()
                .await
                .map(|output| output.failed().to_vec())
                .map_err(|error| DisplayErrorContext(error).to_string());
            results(count, answer)
        })
    }
}

/// Whole seconds of `duration`, rounded up (a delay is never shorter than asked), within SQS's
/// 0 to 43200.
pub(crate) fn whole_seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.min(43_200)).unwrap_or(43_200)
}

/// `ChangeMessageVisibilityBatch` of `(receipt handle, seconds)` pairs, 10 per call; failures
/// are logged (the message then comes back when its current timeout ends).
pub(crate) async fn change_visibility(sqs: &Sqs, queue: &str, changes: &[(String, i32)]) {
    for chunk in changes.chunks(crate::batcher::MAX_ENTRIES) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, (receipt, seconds))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(*seconds)
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect::<Vec<_>>();
        let answer = sqs
            .client
            .change_message_visibility_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await;
        match answer {
            Ok(output) if output.failed().is_empty() => {}
            Ok(output) => tracing::warn!(queue, failed = ?output.failed(),
                "ChangeMessageVisibility refused for some messages"),
            Err(error) => tracing::warn!(queue, error = %DisplayErrorContext(error),
                "ChangeMessageVisibilityBatch failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds_within_range() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(200)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(100_000)), 43_200);
    }
}
