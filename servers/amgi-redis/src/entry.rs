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
    /// The message the application receives for entry `id` of `stream` (of fields `fields`).
    pub(crate) fn message(stream: &str, id: &str, fields: Vec<(Bytes, Bytes)>) -> IncomingMessage {
        let mut headers = Headers::with_capacity(fields.len());
        let mut payload = None;
        for (name, value) in fields {
            if payload.is_none() && name == PAYLOAD_FIELD.as_bytes() {
                payload = Some(value);
            } else {
                headers.append(name, value);
            }
        }
        let binding = RedisBinding::default().stream_id(id).stream(stream);
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

/// The fields of the one entry of an `XRANGE stream id id` reply, `None` when the entry is
/// not in the stream (deleted or trimmed).
pub(crate) fn parse_range_reply(reply: Value) -> Result<Option<Vec<(Bytes, Bytes)>>, String> {
    match reply {
        Value::Nil => Ok(None),
        Value::Array(entries) => match entries.into_iter().next() {
            Some(entry) => Ok(parse_entry(entry)?.fields),
            None => Ok(None),
        },
        other => Err(format!("expected an array of entries, got {other:?}")),
    }
}

/// The reply of `XAUTOCLAIM`: the cursor to continue from (`0-0` when the scan is complete)
/// and the entries claimed. (The ids of deleted entries, its third part, Redis already removed
/// from the pending list.)
pub(crate) fn parse_autoclaim_reply(reply: Value) -> Result<(String, Vec<Entry>), String> {
    let Value::Array(parts) = reply else {
        return Err(format!(
            "expected [cursor, entries, deleted], got {reply:?}"
        ));
    };
    let mut parts = parts.into_iter();
    let cursor = match parts.next() {
        Some(value) => String::from_utf8_lossy(&bytes(value)?).into_owned(),
        None => return Err("an empty XAUTOCLAIM reply".to_owned()),
    };
    let entries = match parts.next() {
        Some(Value::Array(entries)) => entries
            .into_iter()
            .map(parse_entry)
            .collect::<Result<_, _>>()?,
        None | Some(Value::Nil) => Vec::new(),
        Some(other) => return Err(format!("expected claimed entries, got {other:?}")),
    };
    Ok((cursor, entries))
}

/// The reply of `XPENDING key group start end count [consumer]`: each entry's id and how many
/// times it was delivered (Redis's count, which survives restarts of the consumer).
pub(crate) fn parse_pending_counts(reply: Value) -> Result<Vec<(String, u64)>, String> {
    let Value::Array(rows) = reply else {
        return Err(format!(
            "expected an array of pending entries, got {reply:?}"
        ));
    };
    rows.into_iter()
        .map(|row| match row {
            Value::Array(row) if row.len() == 4 => {
                let mut row = row.into_iter();
                let id = row.next().map(bytes).transpose()?.unwrap_or_default();
                match row.nth(2) {
                    Some(Value::Int(count)) => Ok((
                        String::from_utf8_lossy(&id).into_owned(),
                        u64::try_from(count).unwrap_or(0),
                    )),
                    other => Err(format!("expected a delivery count, got {other:?}")),
                }
            }
            other => Err(format!(
                "expected [id, consumer, idle, count], got {other:?}"
            )),
        })
        .collect()
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
        let message = Entry::message("orders", "1-0", fields);
        assert_eq!(message.payload.as_deref(), Some(&b"body"[..]));
        let names: Vec<_> = message.headers.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["b", "a"]);
        let Some(Binding::Redis(binding)) = message.binding else {
            panic!("no Redis binding")
        };
        assert_eq!(binding.stream_id.as_deref(), Some("1-0"));
        assert_eq!(binding.stream.as_deref(), Some("orders"));
    }

    #[test]
    fn autoclaim_and_pending_replies_parse() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![Value::Array(vec![
                bulk("5-0"),
                Value::Array(vec![bulk("payload"), bulk("x")]),
            ])]),
            Value::Array(vec![]),
        ]);
        let (cursor, entries) = parse_autoclaim_reply(reply).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(entries[0].id, "5-0");
        let pending = Value::Array(vec![Value::Array(vec![
            bulk("5-0"),
            bulk("c1"),
            Value::Int(1200),
            Value::Int(3),
        ])]);
        assert_eq!(
            parse_pending_counts(pending).unwrap(),
            [("5-0".to_owned(), 3)]
        );
        assert!(parse_pending_counts(Value::Int(1)).is_err());
        let range = Value::Array(vec![Value::Array(vec![
            bulk("5-0"),
            Value::Array(vec![bulk("payload"), bulk("x")]),
        ])]);
        assert_eq!(
            parse_range_reply(range).unwrap(),
            Some(vec![("payload".into(), "x".into())])
        );
        assert_eq!(parse_range_reply(Value::Array(vec![])).unwrap(), None);
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
