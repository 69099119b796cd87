//! The mapping between AMGI messages and SQS messages: payload ↔ body, headers ↔ message
//! attributes, [`SqsBinding`] ↔ system attributes.

use std::collections::HashMap;

use amgi_core::batch::IncomingMessage;
use amgi_core::{Binding, Headers, SqsBinding};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

/// The message attribute that says how the body holds the payload when it is not the payload's
/// text: `base64` (a payload that is not valid SQS text), `none` (no payload), `empty` (an
/// empty payload; SQS bodies cannot be empty).
pub const PAYLOAD_ATTRIBUTE: &str = "amgi-payload";

/// The message attribute (Binary) that holds every header, in order, when they cannot be
/// message attributes one by one: a repeated name, a name SQS refuses, an empty value, or more
/// than SQS's 10 attributes.
pub const HEADERS_ATTRIBUTE: &str = "amgi-headers";

/// Most message attributes of one SQS message.
const MAX_ATTRIBUTES: usize = 10;

/// The body written for a message whose payload is none or empty.
const PLACEHOLDER_BODY: &str = "-";

/// An outbound message in SQS terms.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) body: String,
    pub(crate) attributes: HashMap<String, MessageAttributeValue>,
}

impl Encoded {
    /// Bytes counted against SQS's size limit: body, attribute names, types and values.
    pub(crate) fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.data_type().len()
                    + value.string_value().map_or(0, str::len)
                    + value.binary_value().map_or(0, |b| b.as_ref().len())
            })
            .sum();
        self.body.len() + attributes
    }
}

/// Whether SQS accepts `text` as a body or a String attribute: #x9, #xA, #xD, #x20 to #xD7FF,
/// #xE000 to #xFFFD, #x10000 to #x10FFFF.
fn is_sqs_text(text: &str) -> bool {
    text.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    })
}

/// Whether SQS accepts `name` as a message attribute name (and it is not one of ours).
fn is_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
        && name != PAYLOAD_ATTRIBUTE
        && name != HEADERS_ATTRIBUTE
}

fn string_attribute(value: impl Into<String>) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("the data type is set")
}

fn binary_attribute(value: impl Into<Vec<u8>>) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("Binary")
        .binary_value(Blob::new(value))
        .build()
        .expect("the data type is set")
}

/// A header value as an attribute: String when it is SQS text, Binary otherwise.
fn value_attribute(value: &Bytes) -> MessageAttributeValue {
    match std::str::from_utf8(value) {
        Ok(text) if is_sqs_text(text) => string_attribute(text),
        _ => binary_attribute(value.to_vec()),
    }
}

/// Every header in order: for each, the name's and the value's length (u32, big endian) and
/// bytes.
fn pack_headers(headers: &Headers) -> Vec<u8> {
    let mut packed = Vec::new();
    for (name, value) in headers {
        for part in [name, value] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            packed.extend_from_slice(&len.to_be_bytes());
            packed.extend_from_slice(part);
        }
    }
    packed
}

/// The headers [`pack_headers`] wrote, or `None` when `packed` is not such a list.
fn unpack_headers(mut packed: &[u8]) -> Option<Headers> {
    let mut headers = Headers::new();
    let take = |packed: &mut &[u8]| -> Option<Bytes> {
        let (len, rest) = packed.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        let part = rest.get(..len)?;
        *packed = &rest[len..];
        Some(Bytes::copy_from_slice(part))
    };
    while !packed.is_empty() {
        let name = take(&mut packed)?;
        let value = take(&mut packed)?;
        headers.append(name, value);
    }
    Some(headers)
}

/// `headers` and `payload` as an SQS body and message attributes.
pub(crate) fn encode(headers: &Headers, payload: Option<&Bytes>) -> Encoded {
    let mut attributes = HashMap::new();
    let body = match payload {
        None => {
            attributes.insert(PAYLOAD_ATTRIBUTE.to_owned(), string_attribute("none"));
            PLACEHOLDER_BODY.to_owned()
        }
        Some(payload) if payload.is_empty() => {
            attributes.insert(PAYLOAD_ATTRIBUTE.to_owned(), string_attribute("empty"));
            PLACEHOLDER_BODY.to_owned()
        }
        Some(payload) => match std::str::from_utf8(payload) {
            Ok(text) if is_sqs_text(text) => text.to_owned(),
            _ => {
                attributes.insert(PAYLOAD_ATTRIBUTE.to_owned(), string_attribute("base64"));
                BASE64.encode(payload)
            }
        },
    };
    let one_by_one = headers.len() + attributes.len() <= MAX_ATTRIBUTES
        && headers.iter().enumerate().all(|(i, (name, value))| {
            !value.is_empty()
                && std::str::from_utf8(name).is_ok_and(is_attribute_name)
                && !headers.as_slice()[..i].iter().any(|(seen, _)| seen == name)
        });
    if one_by_one {
        for (name, value) in headers {
            let name = String::from_utf8_lossy(name).into_owned();
            attributes.insert(name, value_attribute(value));
        }
    } else if !headers.is_empty() {
        attributes.insert(
            HEADERS_ATTRIBUTE.to_owned(),
            binary_attribute(pack_headers(headers)),
        );
    }
    Encoded { body, attributes }
}

/// The value of a received attribute: a String's or Number's text, a Binary's bytes.
fn attribute_value(value: &MessageAttributeValue) -> Bytes {
    if let Some(binary) = value.binary_value() {
        return Bytes::copy_from_slice(binary.as_ref());
    }
    Bytes::from(value.string_value().unwrap_or_default().to_owned())
}

/// A received SQS message as the application sees it.
pub(crate) fn decode(message: &Message) -> IncomingMessage {
    let attributes = message.message_attributes();
    let attribute = |name: &str| attributes.and_then(|attributes| attributes.get(name));
    let body = message.body().unwrap_or_default();
    let encoding = attribute(PAYLOAD_ATTRIBUTE).and_then(MessageAttributeValue::string_value);
    let payload = match encoding {
        Some("none") => None,
        Some("empty") => Some(Bytes::new()),
        Some("base64") => match BASE64.decode(body) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(_) => Some(Bytes::from(body.to_owned())),
        },
        _ => Some(Bytes::from(body.to_owned())),
    };
    let mut headers = attribute(HEADERS_ATTRIBUTE)
        .and_then(MessageAttributeValue::binary_value)
        .and_then(|packed| unpack_headers(packed.as_ref()))
        .unwrap_or_default();
    let mut others: Vec<_> = attributes
        .into_iter()
        .flatten()
        .filter(|(name, _)| *name != PAYLOAD_ATTRIBUTE && *name != HEADERS_ATTRIBUTE)
        .collect();
    others.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in others {
        headers.append(name.clone(), attribute_value(value));
    }
    IncomingMessage::new(headers, payload, Some(Binding::Sqs(binding(message))))
}

/// The system attributes of a received message as its binding.
pub(crate) fn binding(message: &Message) -> SqsBinding {
    let system = message.attributes();
    let get =
        |name: MessageSystemAttributeName| system.and_then(|system| system.get(&name)).cloned();
    let mut binding = SqsBinding::default();
    binding.message_group_id = get(MessageSystemAttributeName::MessageGroupId);
    binding.message_deduplication_id = get(MessageSystemAttributeName::MessageDeduplicationId);
    binding.receive_count = get(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|count| count.parse().ok());
    binding.message_id = message.message_id().map(str::to_owned);
    binding.sent_timestamp =
        get(MessageSystemAttributeName::SentTimestamp).and_then(|millis| millis.parse().ok());
    binding
}

/// How many times SQS has delivered `message` (at least 1).
pub(crate) fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|system| system.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(headers: &Headers, payload: Option<&Bytes>) -> IncomingMessage {
        let encoded = encode(headers, payload);
        let message = Message::builder()
            .body(encoded.body)
            .set_message_attributes(Some(encoded.attributes))
            .build();
        decode(&message)
    }

    #[test]
    fn text_payload_is_the_body_and_headers_are_attributes() {
        let headers = Headers::new()
            .with("a", "1")
            .with("b", Bytes::from_static(&[0, 255]));
        let encoded = encode(&headers, Some(&Bytes::from_static(b"hello")));
        assert_eq!(encoded.body, "hello");
        assert_eq!(encoded.attributes["a"].data_type(), "String");
        assert_eq!(encoded.attributes["b"].data_type(), "Binary");
        let decoded = round_trip(&headers, Some(&Bytes::from_static(b"hello")));
        assert_eq!(decoded.headers, headers);
        assert_eq!(decoded.payload.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn binary_none_and_empty_payloads_survive() {
        let binary = Bytes::from_static(&[0, 1, 2, 254, 255]);
        for payload in [Some(binary), Some(Bytes::new()), None] {
            let decoded = round_trip(&Headers::new(), payload.as_ref());
            assert_eq!(decoded.payload, payload);
        }
    }

    #[test]
    fn repeated_headers_keep_their_order() {
        let headers = Headers::new()
            .with("x-repeated", "first")
            .with("x-binary", Bytes::from_static(&[0, 159, 255]))
            .with("x-repeated", "second");
        let encoded = encode(&headers, Some(&Bytes::from_static(b"p")));
        assert!(encoded.attributes.contains_key(HEADERS_ATTRIBUTE));
        assert_eq!(round_trip(&headers, None).headers, headers);
    }

    #[test]
    fn invalid_names_and_too_many_headers_are_packed() {
        let odd = Headers::new().with("has space", "v");
        assert_eq!(round_trip(&odd, None).headers, odd);
        let many: Headers = (0..12).map(|i| (format!("h{i:02}"), "v")).collect();
        assert_eq!(round_trip(&many, None).headers, many);
    }

    #[test]
    fn number_attributes_arrive_as_text() {
        let number = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value("42")
            .build()
            .unwrap();
        let message = Message::builder()
            .body("x")
            .message_attributes("n", number)
            .build();
        assert_eq!(decode(&message).headers.get(b"n").unwrap(), "42");
    }
}
