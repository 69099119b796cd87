//! [`DeadLetter`]: a message the broker gave up on, as [`Broker::dead_letters`](crate::Broker::dead_letters) reads it.

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
