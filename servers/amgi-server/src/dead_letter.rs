//! [`DeadLetterPolicy`]: where a message goes after its last nack, and the headers it carries
//! there ([`dead_letter_headers`]).

use std::borrow::Cow;

use amgi_core::Headers;
use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use bytes::Bytes;

/// The default suffix of dead-letter addresses: `orders` dead-letters to `orders.dlq`
/// ([`amgi_core::dead_letter::default_address`]).
pub const DEFAULT_DEAD_LETTER_SUFFIX: &str = ".dlq";

/// Where a message goes when it is dead-lettered.
///
/// ```
/// use amgi_server::DeadLetterPolicy;
///
/// assert_eq!(DeadLetterPolicy::default().address_for("orders").as_deref(), Some("orders.dlq"));
/// assert_eq!(DeadLetterPolicy::suffix("-failed").address_for("orders").as_deref(), Some("orders-failed"));
/// assert_eq!(DeadLetterPolicy::address("all.dlq").address_for("orders").as_deref(), Some("all.dlq"));
/// assert_eq!(DeadLetterPolicy::Disabled.address_for("orders"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterPolicy {
    /// `<address><suffix>`; the default suffix is [`DEFAULT_DEAD_LETTER_SUFFIX`]. An empty
    /// suffix counts as the default (an address cannot be its own dead-letter address).
    Suffix(Cow<'static, str>),
    /// One address for every source address.
    Address(String),
    /// No dead-letter address: the message is logged at `error` level with its reason and
    /// dropped. Only for data that may be lost.
    Disabled,
}

impl Default for DeadLetterPolicy {
    fn default() -> Self {
        Self::Suffix(Cow::Borrowed(DEFAULT_DEAD_LETTER_SUFFIX))
    }
}

impl DeadLetterPolicy {
    /// `<address><suffix>`.
    pub fn suffix(suffix: impl Into<Cow<'static, str>>) -> Self {
        Self::Suffix(suffix.into())
    }

    /// One address for every source address.
    pub fn address(address: impl Into<String>) -> Self {
        Self::Address(address.into())
    }

    /// The dead-letter address of `address`, or `None` when dead-lettering is disabled.
    pub fn address_for(&self, address: &str) -> Option<String> {
        match self {
            Self::Suffix(suffix) => {
                let suffix = if suffix.is_empty() {
                    DEFAULT_DEAD_LETTER_SUFFIX
                } else {
                    suffix
                };
                let mut name = String::with_capacity(address.len() + suffix.len());
                name.push_str(address);
                name.push_str(suffix);
                Some(name)
            }
            Self::Address(name) => Some(name.clone()),
            Self::Disabled => None,
        }
    }

    /// Whether `address` is a dead-letter address under this policy (servers that consume every
    /// address skip them).
    ///
    /// ```
    /// use amgi_server::DeadLetterPolicy;
    /// assert!(DeadLetterPolicy::default().is_dead_letter_address("orders.dlq"));
    /// assert!(!DeadLetterPolicy::default().is_dead_letter_address("orders"));
    /// ```
    pub fn is_dead_letter_address(&self, address: &str) -> bool {
        match self {
            Self::Suffix(suffix) if suffix.is_empty() => {
                address.ends_with(DEFAULT_DEAD_LETTER_SUFFIX)
            }
            Self::Suffix(suffix) => address.ends_with(&**suffix),
            Self::Address(name) => name == address,
            Self::Disabled => false,
        }
    }
}

/// Why and from where a message is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterOrigin<'a> {
    /// The last nack reason.
    pub reason: &'a str,
    /// How many times the message was delivered.
    pub deliveries: u32,
    /// The address it was consumed from.
    pub address: &'a str,
}

/// The headers of the dead letter of a message with `original` headers: the original headers in
/// order (minus any dead-letter headers of an earlier dead-lettering, and minus headers named in
/// `extra`), then the three [`amgi_core::dead_letter`] headers, then `extra` (a server's own,
/// such as Kafka's partition and offset).
///
/// ```
/// use amgi_core::Headers;
/// use amgi_server::{DeadLetterOrigin, dead_letter_headers};
///
/// let original = Headers::new().with("correlation-id", "c-1");
/// let origin = DeadLetterOrigin { reason: "bad JSON", deliveries: 3, address: "orders" };
/// let headers = dead_letter_headers(&original, origin, &[("amgi-dead-letter-offset", "41".into())]);
/// assert_eq!(headers.get(b"correlation-id").unwrap(), "c-1");
/// assert_eq!(headers.get(b"amgi-dead-letter-reason").unwrap(), "bad JSON");
/// assert_eq!(headers.get(b"amgi-dead-letter-deliveries").unwrap(), "3");
/// assert_eq!(headers.get(b"amgi-dead-letter-address").unwrap(), "orders");
/// assert_eq!(headers.get(b"amgi-dead-letter-offset").unwrap(), "41");
/// ```
pub fn dead_letter_headers(
    original: &Headers,
    origin: DeadLetterOrigin<'_>,
    extra: &[(&'static str, String)],
) -> Headers {
    const OURS: [&str; 3] = [REASON_HEADER, DELIVERIES_HEADER, ADDRESS_HEADER];
    let ours = |name: &[u8]| {
        OURS.iter().any(|n| n.as_bytes() == name) || extra.iter().any(|(n, _)| n.as_bytes() == name)
    };
    let mut headers = Headers::with_capacity(original.len() + OURS.len() + extra.len());
    for (name, value) in original {
        if !ours(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.append(
        Bytes::from_static(REASON_HEADER.as_bytes()),
        Bytes::copy_from_slice(origin.reason.as_bytes()),
    );
    headers.append(
        Bytes::from_static(DELIVERIES_HEADER.as_bytes()),
        Bytes::from(origin.deliveries.to_string()),
    );
    headers.append(
        Bytes::from_static(ADDRESS_HEADER.as_bytes()),
        Bytes::copy_from_slice(origin.address.as_bytes()),
    );
    for (name, value) in extra {
        headers.append(
            Bytes::from_static(name.as_bytes()),
            Bytes::from(value.clone()),
        );
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_dead_letter_headers_are_replaced() {
        let original = Headers::new()
            .with(REASON_HEADER, "older")
            .with("trace", "t-1");
        let origin = DeadLetterOrigin {
            reason: "newer",
            deliveries: 1,
            address: "orders.dlq",
        };
        let headers = dead_letter_headers(&original, origin, &[]);
        assert_eq!(headers.get_all(REASON_HEADER.as_bytes()).count(), 1);
        assert_eq!(headers.get(REASON_HEADER.as_bytes()).unwrap(), "newer");
        assert_eq!(headers.len(), 4);
    }

    #[test]
    fn empty_suffix_is_the_default() {
        let policy = DeadLetterPolicy::suffix("");
        assert_eq!(policy.address_for("a").as_deref(), Some("a.dlq"));
        assert!(policy.is_dead_letter_address("a.dlq"));
    }
}
