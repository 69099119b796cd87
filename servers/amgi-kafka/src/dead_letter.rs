//! Dead letters: the headers a message carries when it is moved to its dead-letter topic.
//!
//! A message nacked on its last allowed delivery (`max_deliveries` of the
//! [`RetryPolicy`](crate::RetryPolicy)), or nacked with
//! [`NackRetry::Never`](amgi_core::NackRetry::Never), is produced to its dead-letter topic
//! (by default `<topic>.dlq`, [`DeadLetterPolicy`](crate::DeadLetterPolicy)) with its original
//! key, payload and headers, plus:
//!
//! | header | value |
//! |---|---|
//! | [`REASON_HEADER`] (`amgi-dead-letter-reason`) | the last nack reason |
//! | [`DELIVERIES_HEADER`] (`amgi-dead-letter-deliveries`) | how many times it was delivered, decimal |
//! | [`ADDRESS_HEADER`] (`amgi-dead-letter-address`) | the topic it was consumed from |
//! | [`PARTITION_HEADER`] (`amgi-dead-letter-partition`) | its partition there, decimal |
//! | [`OFFSET_HEADER`] (`amgi-dead-letter-offset`) | its offset there, decimal |
//!
//! The first three are shared by every AMGI server ([`amgi_server::dead_letter_headers`]); the
//! last two are Kafka's own. Headers of these names already on the message (a dead letter
//! dead-lettered again) are replaced. Only once the dead letter is acknowledged by the broker is
//! the original offset committed (but see [permanent failures](crate#dead-letters-that-cannot-be-produced)).

use amgi_core::Headers;
pub use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use amgi_server::{DeadLetterOrigin, dead_letter_headers};

/// The partition the message was consumed from (decimal).
pub const PARTITION_HEADER: &str = "amgi-dead-letter-partition";

/// The offset the message had in its partition (decimal).
pub const OFFSET_HEADER: &str = "amgi-dead-letter-offset";

/// The headers of the dead letter of a message with `original` headers, consumed from
/// `partition` at `offset`.
pub(crate) fn headers(
    original: &Headers,
    origin: DeadLetterOrigin<'_>,
    partition: i32,
    offset: i64,
) -> Headers {
    dead_letter_headers(
        original,
        origin,
        &[
            (PARTITION_HEADER, partition.to_string()),
            (OFFSET_HEADER, offset.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_origin_and_keeps_original_headers() {
        let original = Headers::new()
            .with("correlation-id", "c-1")
            .with(REASON_HEADER, "an older reason")
            .with(OFFSET_HEADER, "7");
        let origin = DeadLetterOrigin {
            reason: "invalid JSON at line 1",
            deliveries: 3,
            address: "orders",
        };
        let headers = headers(&original, origin, 2, 41);
        let text = |name: &str| {
            let values: Vec<_> = headers
                .get_all(name.as_bytes())
                .map(|v| String::from_utf8(v.to_vec()).unwrap())
                .collect();
            values
        };
        assert_eq!(text("correlation-id"), ["c-1"]);
        assert_eq!(text(REASON_HEADER), ["invalid JSON at line 1"]);
        assert_eq!(text(DELIVERIES_HEADER), ["3"]);
        assert_eq!(text(ADDRESS_HEADER), ["orders"]);
        assert_eq!(text(PARTITION_HEADER), ["2"]);
        assert_eq!(text(OFFSET_HEADER), ["41"]);
        assert_eq!(headers.len(), 6);
    }
}
