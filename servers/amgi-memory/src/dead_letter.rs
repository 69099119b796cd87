//! Dead letters: messages the broker gave up on, and how they are marked.

use std::borrow::Cow;

use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use amgi_core::{Bindings, Headers};
use bytes::Bytes;

use crate::queue::Stored;

/// A message on a dead-letter address, as [`Broker::dead_letters`](crate::Broker::dead_letters)
/// returns it.
///
/// `headers`, `payload` and `bindings` are exactly what a consumer of the dead-letter address
/// receives: the original headers followed by the three
/// [`amgi_core::dead_letter`] headers. `reason`, `deliveries` and `address` are read from those
/// headers for convenience.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The address the message was consumed from ([`ADDRESS_HEADER`]); the address asked about
    /// when the header is missing (a message published to the dead-letter address directly).
    pub address: String,
    /// The last nack reason ([`REASON_HEADER`]); empty when the header is missing.
    pub reason: String,
    /// How many times the message was delivered before it was dead-lettered
    /// ([`DELIVERIES_HEADER`]); 0 when the header is missing or not a number.
    pub deliveries: u32,
    /// The headers, dead-letter headers included.
    pub headers: Headers,
    /// The payload.
    pub payload: Option<Bytes>,
    /// The bindings the message was published with.
    pub bindings: Bindings,
}

impl DeadLetter {
    pub(crate) fn from_stored(message: &Stored, address: &str) -> Self {
        let text = |name: &str| {
            message
                .headers
                .get(name.as_bytes())
                .map(|value| String::from_utf8_lossy(value).into_owned())
        };
        Self {
            address: text(ADDRESS_HEADER).unwrap_or_else(|| address.to_owned()),
            reason: text(REASON_HEADER).unwrap_or_default(),
            deliveries: text(DELIVERIES_HEADER)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0),
            headers: message.headers.clone(),
            payload: message.payload.clone(),
            bindings: message.bindings.clone(),
        }
    }
}

fn is_dead_letter_header(name: &[u8]) -> bool {
    [REASON_HEADER, DELIVERIES_HEADER, ADDRESS_HEADER]
        .iter()
        .any(|header| header.as_bytes() == name)
}

/// Turns a message consumed from `address` into a dead letter: its headers keep their order, any
/// dead-letter headers from an earlier dead-lettering are replaced by the new ones, and its
/// delivery count starts again on the dead-letter queue.
pub(crate) fn mark(message: Stored, address: &str, reason: Cow<'static, str>) -> Stored {
    let mut pairs = message.headers.into_vec();
    pairs.retain(|(name, _)| !is_dead_letter_header(name));
    let reason = match reason {
        Cow::Borrowed(reason) => Bytes::from_static(reason.as_bytes()),
        Cow::Owned(reason) => Bytes::from(reason),
    };
    pairs.push((Bytes::from_static(REASON_HEADER.as_bytes()), reason));
    pairs.push((
        Bytes::from_static(DELIVERIES_HEADER.as_bytes()),
        Bytes::from(message.deliveries.to_string()),
    ));
    pairs.push((
        Bytes::from_static(ADDRESS_HEADER.as_bytes()),
        Bytes::copy_from_slice(address.as_bytes()),
    ));
    Stored {
        headers: Headers::from(pairs),
        payload: message.payload,
        bindings: message.bindings,
        deliveries: 0,
    }
}

#[cfg(test)]
mod tests {
    use amgi_core::MessageSend;

    use super::*;

    #[test]
    fn marking_adds_headers_once_and_keeps_the_rest() {
        let mut message = Stored::new(
            MessageSend::new("orders")
                .headers(Headers::new().with("trace", "t-1"))
                .payload("p"),
        );
        message.deliveries = 3;
        let once = mark(message, "orders", Cow::Borrowed("bad"));
        let mut once = once;
        once.deliveries = 1;
        let twice = mark(once, "orders.dlq", Cow::Owned("worse".to_owned()));

        let letter = DeadLetter::from_stored(&twice, "ignored");
        assert_eq!(letter.address, "orders.dlq");
        assert_eq!(letter.reason, "worse");
        assert_eq!(letter.deliveries, 1);
        assert_eq!(letter.headers.len(), 4);
        assert_eq!(letter.headers.get(b"trace").unwrap(), "t-1");
        assert_eq!(letter.headers.get_all(REASON_HEADER.as_bytes()).count(), 1);
        assert_eq!(letter.payload.as_deref(), Some(&b"p"[..]));
    }

    #[test]
    fn message_without_headers_reads_with_defaults() {
        let message = Stored::new(MessageSend::new("orders.dlq").payload("x"));
        let letter = DeadLetter::from_stored(&message, "orders");
        assert_eq!(letter.address, "orders");
        assert_eq!(letter.reason, "");
        assert_eq!(letter.deliveries, 0);
    }
}
