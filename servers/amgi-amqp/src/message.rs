//! AMQP messages ↔ AMGI messages: the headers table ↔ [`Headers`], the basic properties ↔
//! [`AmqpBinding`].
//!
//! Header values of type long string or byte array arrive as their bytes; a field array
//! arrives as one header per element, in order (so repeated headers sent by this server, which
//! travel as a field array, arrive as they were sent); every other type is rendered as text:
//! integers and floats in decimal, booleans as `true`/`false`, a timestamp as its seconds, a
//! decimal as `value×10^-scale` in decimal, a nested table as `{name=value,…}`, void as an
//! empty value. Headers go out as long strings (a repeated name as a field array of them); a
//! name that is not UTF-8 is sent lossily converted. AMQP tables are unordered: headers arrive
//! sorted by name, repeats in order — unless the publisher listed the order: headers sent by this
//! server in an order other than sorted carry [`HEADER_ORDER`], the names in order, and arrive in
//! that order.

use amgi_core::batch::IncomingMessage;
use amgi_core::{AmqpBinding, Binding, Bindings, Headers};
use bytes::Bytes;
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};

/// The header in which quorum queues count a message's earlier deliveries.
pub(crate) const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";

/// The header listing the names of the other headers in their order (a field array of long
/// strings), when that order is not sorted by name: AMQP tables are unordered.
pub const HEADER_ORDER: &str = "amgi-header-order";

/// Delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

/// An AMGI message from `delivery` (its payload taken, not copied) and the number of earlier
/// deliveries the broker reports (quorum queues' `x-delivery-count`; 1 for a message
/// `redelivered` without it; 0 otherwise).
pub(crate) fn incoming(delivery: &mut Delivery) -> (IncomingMessage, u32) {
    let properties = &delivery.properties;
    let mut earlier = u32::from(delivery.redelivered);
    let headers = properties
        .headers()
        .as_ref()
        .map_or_else(Headers::new, headers_of);
    if let Some(count) = (properties.headers().as_ref())
        .and_then(|table| table.inner().get(DELIVERY_COUNT_HEADER))
        .and_then(integer)
    {
        earlier = u32::try_from(count).unwrap_or(u32::MAX);
    }
    let mut binding = AmqpBinding::default();
    binding.exchange = Some(delivery.exchange.to_string());
    binding.routing_key = Some(delivery.routing_key.to_string());
    binding.correlation_id = properties
        .correlation_id()
        .as_ref()
        .map(ToString::to_string);
    binding.reply_to = properties.reply_to().as_ref().map(ToString::to_string);
    binding.priority = *properties.priority();
    binding.expiration = (properties.expiration().as_ref()).and_then(|ms| ms.as_str().parse().ok());
    binding.message_id = properties.message_id().as_ref().map(ToString::to_string);
    binding.content_type = properties.content_type().as_ref().map(ToString::to_string);
    binding.delivery_mode = *properties.delivery_mode();
    let data = std::mem::take(&mut delivery.data);
    let payload = (!data.is_empty()).then(|| Bytes::from(data));
    let message = IncomingMessage::new(headers, payload, Some(Binding::from(binding)));
    (message, earlier)
}

/// The headers of `table`: in the order of its [`HEADER_ORDER`] header if it has one, else
/// sorted by name.
pub(crate) fn headers_of(table: &FieldTable) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in table.inner() {
        if name.as_str() != HEADER_ORDER {
            append(&mut headers, name.as_str(), value);
        }
    }
    let Some(AMQPValue::FieldArray(order)) = table.inner().get(HEADER_ORDER) else {
        return headers;
    };
    let mut left: Vec<Option<(Bytes, Bytes)>> = headers.into_vec().into_iter().map(Some).collect();
    let mut ordered = Headers::with_capacity(left.len());
    for name in order.as_slice() {
        let name = bytes_of(name);
        let next = left
            .iter_mut()
            .find(|header| header.as_ref().is_some_and(|(n, _)| *n == name));
        if let Some((name, value)) = next.and_then(Option::take) {
            ordered.append(name, value);
        }
    }
    for (name, value) in left.into_iter().flatten() {
        ordered.append(name, value);
    }
    ordered
}

/// An integer field's value.
fn integer(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::ShortShortInt(v) => i64::from(*v),
        AMQPValue::ShortShortUInt(v) => i64::from(*v),
        AMQPValue::ShortInt(v) => i64::from(*v),
        AMQPValue::ShortUInt(v) => i64::from(*v),
        AMQPValue::LongInt(v) => i64::from(*v),
        AMQPValue::LongUInt(v) => i64::from(*v),
        AMQPValue::LongLongInt(v) => *v,
        _ => return None,
    })
}

/// Appends `value` under `name`: a field array as one header per element.
fn append(headers: &mut Headers, name: &str, value: &AMQPValue) {
    match value {
        AMQPValue::FieldArray(array) => {
            for element in array.as_slice() {
                headers.append(name.to_owned(), bytes_of(element));
            }
        }
        other => headers.append(name.to_owned(), bytes_of(other)),
    }
}

/// A header value's bytes: long strings and byte arrays as they are, the rest as text.
fn bytes_of(value: &AMQPValue) -> Bytes {
    match value {
        AMQPValue::LongString(text) => Bytes::copy_from_slice(text.as_bytes()),
        AMQPValue::ByteArray(bytes) => Bytes::copy_from_slice(bytes.as_slice()),
        other => Bytes::from(text_of(other)),
    }
}

/// A header value rendered as text.
fn text_of(value: &AMQPValue) -> String {
    match value {
        AMQPValue::Boolean(v) => v.to_string(),
        AMQPValue::Float(v) => v.to_string(),
        AMQPValue::Double(v) => v.to_string(),
        AMQPValue::DecimalValue(v) => format!("{}e-{}", v.value, v.scale),
        AMQPValue::ShortString(v) => v.to_string(),
        AMQPValue::LongString(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        AMQPValue::ByteArray(v) => String::from_utf8_lossy(v.as_slice()).into_owned(),
        AMQPValue::Timestamp(v) => v.to_string(),
        AMQPValue::FieldArray(array) => {
            let items: Vec<String> = array.as_slice().iter().map(text_of).collect();
            format!("[{}]", items.join(","))
        }
        AMQPValue::FieldTable(table) => {
            let items: Vec<String> = (table.inner().iter())
                .map(|(name, value)| format!("{name}={}", text_of(value)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        AMQPValue::Void => String::new(),
        other => integer(other).map_or_else(String::new, |v| v.to_string()),
    }
}

/// The headers table of `headers`: long strings, a repeated name as a field array.
pub(crate) fn field_table(headers: &Headers) -> FieldTable {
    let mut table = FieldTable::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    for (name, _) in headers {
        if seen.contains(&name.as_ref()) {
            continue;
        }
        seen.push(name);
        let key = ShortString::from(String::from_utf8_lossy(name).into_owned());
        let mut values = headers.get_all(name);
        let first = values.next().map_or(AMQPValue::Void, long_string);
        let rest: Vec<AMQPValue> = values.map(long_string).collect();
        let value = if rest.is_empty() {
            first
        } else {
            AMQPValue::FieldArray(FieldArray::from(
                std::iter::once(first).chain(rest).collect::<Vec<_>>(),
            ))
        };
        table.insert(key, value);
    }
    let names: Vec<&[u8]> = headers.iter().map(|(name, _)| name.as_ref()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if names != sorted {
        let names = names
            .into_iter()
            .map(|name| long_string(&Bytes::copy_from_slice(name)));
        let order = AMQPValue::FieldArray(FieldArray::from(names.collect::<Vec<_>>()));
        table.insert(HEADER_ORDER.into(), order);
    }
    table
}

fn long_string(value: &Bytes) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.to_vec()))
}

/// Where and how to publish a `message.send`: the exchange (default: `""`), the routing key
/// (default: the address) and the basic properties of its [`AmqpBinding`] (persistent unless it
/// says otherwise).
pub(crate) struct Outbound {
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) properties: BasicProperties,
}

impl Outbound {
    /// How to publish a message to `address` with `headers` and `bindings`.
    pub(crate) fn of(address: &str, headers: &Headers, bindings: &Bindings) -> Self {
        let amqp = bindings.amqp();
        let mut properties = BasicProperties::default().with_delivery_mode(
            amqp.and_then(|binding| binding.delivery_mode)
                .unwrap_or(PERSISTENT),
        );
        if !headers.is_empty() {
            properties = properties.with_headers(field_table(headers));
        }
        let Some(amqp) = amqp else {
            return Self {
                exchange: String::new(),
                routing_key: address.to_owned(),
                properties,
            };
        };
        let text = |value: &str| ShortString::from(value.to_owned());
        if let Some(id) = &amqp.correlation_id {
            properties = properties.with_correlation_id(text(id));
        }
        if let Some(reply_to) = &amqp.reply_to {
            properties = properties.with_reply_to(text(reply_to));
        }
        if let Some(priority) = amqp.priority {
            properties = properties.with_priority(priority);
        }
        if let Some(expiration) = amqp.expiration {
            properties = properties.with_expiration(text(&expiration.to_string()));
        }
        if let Some(id) = &amqp.message_id {
            properties = properties.with_message_id(text(id));
        }
        if let Some(content_type) = &amqp.content_type {
            properties = properties.with_content_type(text(content_type));
        }
        Self {
            exchange: amqp.exchange.clone().unwrap_or_default(),
            routing_key: (amqp.routing_key.clone()).unwrap_or_else(|| address.to_owned()),
            properties,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_travel_as_a_field_array_and_come_back_in_order() {
        let headers = Headers::new()
            .with("tag", "a")
            .with("id", &b"\xff\x00"[..])
            .with("tag", "b");
        let back = headers_of(&field_table(&headers));
        assert_eq!(back, headers);
        let sorted = Headers::new().with("a", "1").with("b", "2");
        assert!(!field_table(&sorted).inner().contains_key(HEADER_ORDER));
    }

    #[test]
    fn other_field_types_are_rendered_as_text() {
        assert_eq!(bytes_of(&AMQPValue::LongLongInt(-3)), "-3");
        assert_eq!(bytes_of(&AMQPValue::Boolean(true)), "true");
        assert_eq!(bytes_of(&AMQPValue::Void), "");
        let mut table = FieldTable::default();
        table.insert("a".into(), AMQPValue::LongUInt(1));
        assert_eq!(bytes_of(&AMQPValue::FieldTable(table)), "{a=1}");
    }

    #[test]
    fn the_binding_names_exchange_routing_key_and_properties() {
        let mut amqp = AmqpBinding::default();
        amqp.exchange = Some("amq.topic".into());
        amqp.correlation_id = Some("c-1".into());
        amqp.expiration = Some(60_000);
        let mut bindings = Bindings::new();
        bindings.insert(amqp);
        let out = Outbound::of("orders.created", &Headers::new(), &bindings);
        assert_eq!(out.exchange, "amq.topic");
        assert_eq!(out.routing_key, "orders.created");
        assert_eq!(
            out.properties.correlation_id().as_ref().unwrap().as_str(),
            "c-1"
        );
        assert_eq!(
            out.properties.expiration().as_ref().unwrap().as_str(),
            "60000"
        );
        assert_eq!(*out.properties.delivery_mode(), Some(PERSISTENT));
        let plain = Outbound::of("q", &Headers::new(), &Bindings::new());
        assert_eq!(
            (plain.exchange.as_str(), plain.routing_key.as_str()),
            ("", "q")
        );
    }
}
