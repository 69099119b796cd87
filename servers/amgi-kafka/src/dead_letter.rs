//! Dead letters: the headers a message carries when it is moved to its dead-letter topic.
//!
//! A message nacked [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts) times is
//! produced to its dead-letter topic (by default `<topic>.dlq`) with its original key, payload
//! and headers, plus:
//!
//! | header | value |
//! |---|---|
//! | [`REASON_HEADER`] (`amgi-dead-letter-reason`) | the last nack reason |
//! | [`DELIVERIES_HEADER`] (`amgi-dead-letter-deliveries`) | how many times it was delivered, decimal |
//! | [`ADDRESS_HEADER`] (`amgi-dead-letter-address`) | the topic it was consumed from |
//! | [`PARTITION_HEADER`] (`amgi-dead-letter-partition`) | its partition there, decimal |
//! | [`OFFSET_HEADER`] (`amgi-dead-letter-offset`) | its offset there, decimal |
//!
//! The first three names are shared by every AMGI server ([`amgi_core::dead_letter`]). Headers
//! of these names already on the message (a dead letter dead-lettered again) are replaced.
//! Only once the dead letter is acknowledged by the broker is the original offset committed.

use amgi_core::Headers;
pub use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use bytes::Bytes;

/// The partition the message was consumed from (decimal).
pub const PARTITION_HEADER: &str = "amgi-dead-letter-partition";

/// The offset the message had in its partition (decimal).
pub const OFFSET_HEADER: &str = "amgi-dead-letter-offset";

const ALL: [&str; 5] = [
    REASON_HEADER,
    DELIVERIES_HEADER,
    ADDRESS_HEADER,
    PARTITION_HEADER,
    OFFSET_HEADER,
];

/// Where a dead letter came from and why.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) reason: &'a str,
    pub(crate) deliveries: u32,
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

/// The headers of the dead letter of a message with `original` headers.
pub(crate) fn headers(original: &Headers, origin: Origin<'_>) -> Headers {
    let mut headers = Headers::with_capacity(original.len() + ALL.len());
    for (name, value) in original {
        if !ALL.iter().any(|n| n.as_bytes() == name.as_ref()) {
            headers.append(name.clone(), value.clone());
        }
    }
    let values = [
        origin.reason.to_owned(),
        origin.deliveries.to_string(),
        origin.topic.to_owned(),
        origin.partition.to_string(),
        origin.offset.to_string(),
    ];
    for (name, value) in ALL.into_iter().zip(values) {
        headers.append(Bytes::from_static(name.as_bytes()), value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_origin_and_keeps_original_headers() {
        let original = Headers::new()
            .with("correlation-id", "c-1")
            .with(REASON_HEADER, "an older reason");
        let headers = headers(
            &original,
            Origin {
                reason: "invalid JSON at line 1",
                deliveries: 3,
                topic: "orders",
                partition: 2,
                offset: 41,
            },
        );
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
