//! Stream entries ⇄ AMGI messages: the field `payload` is the payload, every other field a
//! header, in entry order; the entry id goes in the [`RedisBinding`].

use amgi_core::batch::IncomingMessage;
use amgi_core::{Headers, RedisBinding, SendError, SendErrorKind};
use bytes::Bytes;
use redis::Value;

/// The entry field that holds a message's payload; every other field is a header.
pub const PAYLOAD_FIELD: &str = "payload";

/// One entry of an `XREADGROUP` reply. `fields` is `None` for an entry that was deleted
/// (`XDEL`, `XTRIM`) while pending: Redis still lists its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) fields: Option<Vec<(Bytes, Bytes)>>,
}

impl Entry {
    /// The message the application receives for this entry (of fields `fields`).
    pub(crate) fn message(id: &str, fields: Vec<(Bytes, Bytes)>) -> IncomingMessage {
        let mut headers = Headers::with_capacity(fields.len());
        let mut payload = None;
        for (name, value) in fields {
            if payload.is_none() && name == PAYLOAD_FIELD.as_bytes() {
                payload = Some(value);
            } else {
                headers.append(name, value);
            }
        }
        let mut binding = RedisBinding::default();
        binding.stream_id = Some(id.to_owned());
        IncomingMessage::new(headers, payload, Some(binding.into()))
    }
}

/// The fields `XADD` writes for a message: `payload` first (when there is one), then the
/// headers in order. Redis needs at least one field, so a message with neither payload nor
/// headers is written with an empty `payload`.
pub(crate) fn fields(headers: &Headers, payload: Option<&Bytes>) -> Vec<(Bytes, Bytes)> {
    let mut fields = Vec::with_capacity(headers.len() + 1);
    if payload.is_some() || headers.is_empty() {
        let payload = payload.cloned().unwrap_or_default();
        fields.push((Bytes::from_static(PAYLOAD_FIELD.as_bytes()), payload));
    }
    fields.extend(headers.iter().cloned());
    fields
}

/// Refuses a `message.send` with a header named `payload`: it would read back as the payload.
pub(crate) fn check_headers(headers: &Headers) -> Result<(), SendError> {
    if headers.contains(PAYLOAD_FIELD.as_bytes()) {
        return Err(SendError::new(SendErrorKind::Transport).with_detail(
            "a header named `payload` cannot be sent on Redis Streams: the field `payload` holds \
             the payload",
        ));
    }
    Ok(())
}

/// The entries of an `XREADGROUP` reply for one stream (`Nil` when the block timed out).
pub(crate) fn parse_read_reply(reply: Value) -> Result<Vec<Entry>, String> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => Ok(pair.remove(1)),
                other => Err(format!("expected [stream, entries], got {other:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        other => return Err(format!("expected an array of streams, got {other:?}")),
    };
    let mut entries = Vec::new();
    for stream in streams {
        let Value::Array(stream) = stream else {
            return Err(format!("expected an array of entries, got {stream:?}"));
        };
        for entry in stream {
            entries.push(parse_entry(entry)?);
        }
    }
    Ok(entries)
}

fn parse_entry(entry: Value) -> Result<Entry, String> {
    let Value::Array(parts) = entry else {
        return Err(format!("expected [id, fields], got {entry:?}"));
    };
    let mut parts = parts.into_iter();
    let id = match parts.next() {
        Some(Value::BulkString(id)) => String::from_utf8_lossy(&id).into_owned(),
        Some(Value::SimpleString(id)) => id,
        other => return Err(format!("expected an entry id, got {other:?}")),
    };
    let fields = match parts.next() {
        None | Some(Value::Nil) => None,
        Some(Value::Array(values)) => {
            let mut fields = Vec::with_capacity(values.len() / 2);
            let mut values = values.into_iter();
            while let (Some(name), Some(value)) = (values.next(), values.next()) {
                fields.push((bytes(name)?, bytes(value)?));
            }
            Some(fields)
        }
        Some(Value::Map(pairs)) => Some(
            pairs
                .into_iter()
                .map(|(name, value)| Ok((bytes(name)?, bytes(value)?)))
                .collect::<Result<_, String>>()?,
        ),
        Some(other) => return Err(format!("expected entry fields, got {other:?}")),
    };
    Ok(Entry { id, fields })
}

fn bytes(value: Value) -> Result<Bytes, String> {
    match value {
        Value::BulkString(bytes) => Ok(bytes.into()),
        Value::SimpleString(text) => Ok(text.into()),
        other => Err(format!("expected a field, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use amgi_core::Binding;

    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn payload_is_the_payload_field_and_the_rest_are_headers_in_order() {
        let fields = vec![
            ("b".into(), "2".into()),
            ("payload".into(), "body".into()),
            ("a".into(), "1".into()),
        ];
        let message = Entry::message("1-0", fields);
        assert_eq!(message.payload.as_deref(), Some(&b"body"[..]));
        let names: Vec<_> = message.headers.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["b", "a"]);
        let Some(Binding::Redis(binding)) = message.binding else {
            panic!("no Redis binding")
        };
        assert_eq!(binding.stream_id.as_deref(), Some("1-0"));
    }

    #[test]
    fn fields_put_the_payload_first_and_never_write_nothing() {
        let headers = Headers::new().with("h", "v");
        let written = fields(&headers, Some(&Bytes::from("p")));
        assert_eq!(written[0], ("payload".into(), "p".into()));
        assert_eq!(written[1], ("h".into(), "v".into()));
        assert_eq!(fields(&headers, None), [("h".into(), "v".into())]);
        assert_eq!(
            fields(&Headers::new(), None),
            [("payload".into(), Bytes::new())]
        );
        assert!(check_headers(&Headers::new().with("payload", "x")).is_err());
    }

    #[test]
    fn replies_parse_including_deleted_entries_and_timeouts() {
        assert_eq!(parse_read_reply(Value::Nil).unwrap(), []);
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("orders"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("payload"), bulk("x")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let entries = parse_read_reply(reply).unwrap();
        assert_eq!(entries[0].id, "1-0");
        assert_eq!(
            entries[0].fields,
            Some(vec![("payload".into(), "x".into())])
        );
        assert_eq!(
            entries[1],
            Entry {
                id: "2-0".into(),
                fields: None
            }
        );
        assert!(parse_read_reply(Value::Int(3)).is_err());
    }
}
