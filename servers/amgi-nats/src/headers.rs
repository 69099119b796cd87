//! Headers ↔ NATS headers, with the order kept and an encoding for values NATS cannot carry.
//!
//! NATS headers are text lines (`Name: value`), and async-nats keeps them in a map: the values
//! of one name stay in order, but the order *between* names is lost, a value is trimmed of
//! surrounding whitespace and cannot hold a line break, and a value must be UTF-8. So:
//!
//! - A value that is not UTF-8, holds `\r` or `\n`, or starts or ends with whitespace is sent
//!   as its standard base64 (with padding), and the header [`BINARY_VALUES_HEADER`]
//!   (`Amgi-Binary-Values`) lists the positions (0-based, in the order the headers were sent,
//!   comma-separated) of the values so encoded.
//! - When the headers have more than one distinct name, the header [`HEADER_ORDER_HEADER`]
//!   (`Amgi-Header-Order`) lists the names in the order sent, separated by spaces (a NATS
//!   header name holds no space), one entry per header.
//!
//! On receipt both are removed, the order is rebuilt and the listed values decoded; a NATS
//! header that is not in the order list follows, sorted by name. Clients that know nothing of
//! the encoding see text headers unchanged. Header *names* must be printable ASCII without `:`.

use amgi_core::{Headers, SendError, SendErrorKind};
use async_nats::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

/// The header listing which values are base64-encoded bytes: `Amgi-Binary-Values`, with a value
/// such as `1` or `0,3`. Reserved: a header of that name is refused on send.
pub const BINARY_VALUES_HEADER: &str = "Amgi-Binary-Values";

/// The header listing the header names in the order they were sent, separated by spaces:
/// `Amgi-Header-Order`. Reserved: a header of that name is refused on send.
pub const HEADER_ORDER_HEADER: &str = "Amgi-Header-Order";

fn send_error(detail: String) -> SendError {
    SendError::new(SendErrorKind::Transport).with_detail(detail)
}

/// Whether a NATS header can carry `value` as it is.
fn is_plain_text(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    let clean = !text.contains(['\r', '\n']) && text.trim() == text;
    clean.then_some(text)
}

/// Headers as a NATS header map (`None` when there are none): see the [module](self).
pub(crate) fn to_nats(headers: &Headers) -> Result<Option<HeaderMap>, SendError> {
    if headers.is_empty() {
        return Ok(None);
    }
    let mut map = HeaderMap::new();
    let mut binary: Vec<usize> = Vec::new();
    let mut order: Vec<&str> = Vec::with_capacity(headers.len());
    for (index, (name, value)) in headers.iter().enumerate() {
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|name| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            })
            .ok_or_else(|| {
                send_error(format!(
                    "the header name `{}` cannot be a NATS header name (printable ASCII \
                     without `:` or spaces)",
                    String::from_utf8_lossy(name).escape_debug()
                ))
            })?;
        if name.eq_ignore_ascii_case(BINARY_VALUES_HEADER)
            || name.eq_ignore_ascii_case(HEADER_ORDER_HEADER)
        {
            return Err(send_error(format!(
                "the header name `{name}` is reserved by amgi-nats for its header encoding"
            )));
        }
        let value = if let Some(text) = is_plain_text(value) {
            text.to_owned()
        } else {
            binary.push(index);
            STANDARD.encode(value)
        };
        // Validated above: a valid name; the value is text without line breaks.
        map.append(name, value);
        order.push(name);
    }
    if !binary.is_empty() {
        let list: Vec<String> = binary.iter().map(ToString::to_string).collect();
        map.insert(BINARY_VALUES_HEADER, list.join(","));
    }
    if order.iter().any(|name| *name != order[0]) {
        map.insert(HEADER_ORDER_HEADER, order.join(" "));
    }
    Ok(Some(map))
}

/// A NATS header map as headers: see the [module](self).
pub(crate) fn from_nats(map: Option<&HeaderMap>) -> Headers {
    let Some(map) = map else {
        return Headers::new();
    };
    let mut values: Vec<(&str, std::collections::VecDeque<&str>)> = map
        .iter()
        .map(|(name, values)| {
            let name: &str = name.as_ref();
            (name, values.iter().map(AsRef::as_ref).collect())
        })
        .filter(|(name, _)| *name != BINARY_VALUES_HEADER && *name != HEADER_ORDER_HEADER)
        .collect();
    values.sort_by(|a, b| a.0.cmp(b.0));
    let mut sequence: Vec<(&str, &str)> = Vec::with_capacity(map.len());
    if let Some(order) = map.get(HEADER_ORDER_HEADER) {
        for name in order.as_str().split(' ').filter(|name| !name.is_empty()) {
            let next = values
                .iter_mut()
                .find(|(known, _)| *known == name)
                .and_then(|(_, queue)| queue.pop_front());
            if let Some(value) = next {
                sequence.push((name, value));
            }
        }
    }
    for (name, queue) in &mut values {
        sequence.extend(queue.drain(..).map(|value| (*name, value)));
    }
    let binary: Vec<usize> = map
        .get(BINARY_VALUES_HEADER)
        .map(|list| {
            list.as_str()
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    sequence
        .into_iter()
        .enumerate()
        .map(|(index, (name, value))| {
            let decoded = binary
                .contains(&index)
                .then(|| STANDARD.decode(value).ok())
                .flatten();
            let value =
                decoded.map_or_else(|| Bytes::copy_from_slice(value.as_bytes()), Bytes::from);
            (Bytes::copy_from_slice(name.as_bytes()), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(headers: &Headers) -> Headers {
        from_nats(to_nats(headers).unwrap().as_ref())
    }

    #[test]
    fn order_and_repeats_survive_the_map() {
        let headers = Headers::new()
            .with("b", "1")
            .with("a", "2")
            .with("b", "3")
            .with("c", "4");
        let map = to_nats(&headers).unwrap().unwrap();
        assert_eq!(map.get(HEADER_ORDER_HEADER).unwrap().as_str(), "b a b c");
        assert_eq!(round_trip(&headers), headers);
    }

    #[test]
    fn one_name_needs_no_order_header() {
        let headers = Headers::new().with("a", "1").with("a", "2");
        let map = to_nats(&headers).unwrap().unwrap();
        assert!(map.get(HEADER_ORDER_HEADER).is_none());
        assert_eq!(round_trip(&headers), headers);
        assert_eq!(to_nats(&Headers::new()).unwrap(), None);
    }

    #[test]
    fn values_nats_cannot_carry_travel_as_listed_base64() {
        let headers = Headers::new()
            .with("x-text", "plain")
            .with("x-binary", Bytes::from_static(&[0, 159, 255]))
            .with("x-lines", "a\r\nb")
            .with("x-padded", " padded ");
        let map = to_nats(&headers).unwrap().unwrap();
        assert_eq!(map.get("x-binary").unwrap().as_str(), "AJ//");
        assert_eq!(map.get(BINARY_VALUES_HEADER).unwrap().as_str(), "1,2,3");
        assert_eq!(round_trip(&headers), headers);
    }

    #[test]
    fn foreign_headers_arrive_sorted_by_name_and_unlisted_values_stay_text() {
        let mut map = HeaderMap::new();
        map.insert("z", "1");
        map.insert("a", "AJ//");
        assert_eq!(
            from_nats(Some(&map)),
            Headers::new().with("a", "AJ//").with("z", "1")
        );
    }

    #[test]
    fn bad_and_reserved_names_are_refused() {
        for name in ["a:b", "a b", "", "é"] {
            let error = to_nats(&Headers::new().with(name, "v")).unwrap_err();
            assert!(error.to_string().contains("NATS header name"), "{error}");
        }
        let error = to_nats(&Headers::new().with("amgi-header-order", "v")).unwrap_err();
        assert!(error.to_string().contains("reserved"), "{error}");
    }
}
