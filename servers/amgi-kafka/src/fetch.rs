//! Batches as fetched: the messages of one partition from one poll round, copied out of
//! librdkafka into a single buffer.
//!
//! Copying every payload, key and header into one buffer per batch (instead of several
//! allocations per message) and handing out `Bytes` slices of it keeps the allocator out of the
//! hot path: the consumer thread allocates, the partition task frees, and cross-thread frees of
//! many small blocks were the largest cost of the server. A redelivery rebuilds its messages from
//! the same buffer, so nothing is cloned up front for retries.

use std::ops::Range;

use amgi_core::batch::IncomingMessage;
use amgi_core::{Headers, KafkaBinding};
use bytes::Bytes;
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};

/// One message of a [`FetchedBatch`]: its position and where its parts are in the buffer.
#[derive(Debug, Clone)]
struct Record {
    offset: i64,
    timestamp: Option<i64>,
    payload: Option<Range<usize>>,
    key: Option<Range<usize>>,
    /// Indexes into [`FetchedBatch::headers`].
    headers: Range<usize>,
}

/// Messages of one partition, in offset order.
#[derive(Debug, Clone)]
pub(crate) struct FetchedBatch {
    partition: i32,
    data: Bytes,
    records: Vec<Record>,
    /// Name and value of every header of every message.
    headers: Vec<(Range<usize>, Range<usize>)>,
}

/// Appends `bytes` to `data` and returns where they are.
fn append(data: &mut Vec<u8>, bytes: &[u8]) -> Range<usize> {
    let start = data.len();
    data.extend_from_slice(bytes);
    start..data.len()
}

impl FetchedBatch {
    /// Copies `messages` (all of partition `partition`) out of librdkafka.
    pub(crate) fn copy<'a, 'c: 'a>(
        partition: i32,
        messages: impl ExactSizeIterator<Item = &'a BorrowedMessage<'c>> + Clone,
    ) -> Self {
        let size: usize = messages
            .clone()
            .map(|m| m.payload_len() + m.key_len())
            .sum();
        let mut data = Vec::with_capacity(size + 64 * messages.len());
        let mut records = Vec::with_capacity(messages.len());
        let mut headers = Vec::new();
        for message in messages {
            let first_header = headers.len();
            if let Some(kafka) = message.headers() {
                for header in kafka.iter() {
                    let name = append(&mut data, header.key.as_bytes());
                    let value = append(&mut data, header.value.unwrap_or_default());
                    headers.push((name, value));
                }
            }
            records.push(Record {
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
                payload: message.payload().map(|p| append(&mut data, p)),
                key: message.key().map(|k| append(&mut data, k)),
                headers: first_header..headers.len(),
            });
        }
        Self {
            partition,
            data: Bytes::from(data),
            records,
            headers,
        }
    }

    /// Number of messages.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The offset of message `index`.
    pub(crate) fn offset(&self, index: usize) -> i64 {
        self.records[index].offset
    }

    /// The payload of message `index`.
    pub(crate) fn payload(&self, index: usize) -> Option<&[u8]> {
        self.records[index].payload.clone().map(|r| &self.data[r])
    }

    /// The key of message `index`.
    pub(crate) fn key(&self, index: usize) -> Option<&[u8]> {
        self.records[index].key.clone().map(|r| &self.data[r])
    }

    /// The headers of message `index`, in order.
    pub(crate) fn headers(&self, index: usize) -> Headers {
        let spans = &self.headers[self.records[index].headers.clone()];
        let mut headers = Headers::with_capacity(spans.len());
        for (name, value) in spans {
            headers.append(
                self.data.slice(name.clone()),
                self.data.slice(value.clone()),
            );
        }
        headers
    }

    /// Message `index` as the application receives it.
    pub(crate) fn message(&self, index: usize) -> IncomingMessage {
        let record = &self.records[index];
        let mut binding = KafkaBinding::default()
            .partition(self.partition)
            .offset(record.offset);
        binding.key = record.key.clone().map(|r| self.data.slice(r));
        binding.timestamp = record.timestamp;
        IncomingMessage::new(
            self.headers(index),
            record.payload.clone().map(|r| self.data.slice(r)),
            Some(binding.into()),
        )
    }
}

#[cfg(test)]
impl FetchedBatch {
    /// A batch built without librdkafka: `(offset, payload)` pairs, each with header
    /// `n: <offset>` and key `k<offset>`.
    pub(crate) fn fake(partition: i32, messages: &[(i64, &str)]) -> Self {
        let mut data = Vec::new();
        let mut records = Vec::new();
        let mut headers = Vec::new();
        for &(offset, payload) in messages {
            let first = headers.len();
            let name = append(&mut data, b"n");
            let value = append(&mut data, offset.to_string().as_bytes());
            headers.push((name, value));
            records.push(Record {
                offset,
                timestamp: Some(1000 + offset),
                payload: Some(append(&mut data, payload.as_bytes())),
                key: Some(append(&mut data, format!("k{offset}").as_bytes())),
                headers: first..headers.len(),
            });
        }
        Self {
            partition,
            data: Bytes::from(data),
            records,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use amgi_core::Binding;

    use super::*;

    #[test]
    fn messages_are_rebuilt_from_the_shared_buffer() {
        let batch = FetchedBatch::fake(3, &[(7, "seven"), (9, "nine")]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.offset(1), 9);
        assert_eq!(batch.payload(0), Some(&b"seven"[..]));
        assert_eq!(batch.key(1), Some(&b"k9"[..]));
        let message = batch.message(1);
        assert_eq!(message.payload.as_deref(), Some(&b"nine"[..]));
        assert_eq!(message.headers.get(b"n").map(|v| &v[..]), Some(&b"9"[..]));
        let Some(Binding::Kafka(binding)) = message.binding else {
            panic!("a Kafka binding");
        };
        assert_eq!(binding.partition, Some(3));
        assert_eq!(binding.offset, Some(9));
        assert_eq!(binding.key.as_deref(), Some(&b"k9"[..]));
        assert_eq!(binding.timestamp, Some(1009));
        // Building a message twice (a redelivery) gives the same message.
        assert_eq!(batch.message(0), batch.message(0));
    }
}
