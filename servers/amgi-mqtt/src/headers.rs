//! Headers ↔ MQTT 5 user properties, in order, repeats kept, with an encoding for values that
//! are not UTF-8.
//!
//! User properties are UTF-8 string pairs. A header value that is not UTF-8 is sent as its
//! standard base64 (with padding), and one more user property, [`BINARY_VALUES_PROPERTY`],
//! lists the positions (0-based, among the user properties, comma-separated) of the values so
//! encoded. On receipt that property is removed and the values it names are decoded back;
//! every other value arrives as it was sent, so clients that know nothing of the encoding see
//! text headers unchanged. Header *names* must be UTF-8.

use amgi_core::{Headers, SendError, SendErrorKind};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

/// The user property listing which values are base64-encoded bytes: `amgi-binary-values`,
/// with a value such as `1` or `0,3`. Reserved: a header of that name is refused on send.
pub const BINARY_VALUES_PROPERTY: &str = "amgi-binary-values";

/// Headers as user properties: in order, repeats kept; a value that is not UTF-8 becomes
/// base64, listed under [`BINARY_VALUES_PROPERTY`] (appended last).
pub(crate) fn user_properties(headers: &Headers) -> Result<Vec<(String, String)>, SendError> {
    let mut properties = Vec::with_capacity(headers.len());
    let mut binary: Vec<usize> = Vec::new();
    for (index, (name, value)) in headers.iter().enumerate() {
        let name = std::str::from_utf8(name).map_err(|_| {
            SendError::new(SendErrorKind::Transport).with_detail(format!(
                "the name of header `{}` is not UTF-8: MQTT user property names are text",
                String::from_utf8_lossy(name)
            ))
        })?;
        if name == BINARY_VALUES_PROPERTY {
            return Err(SendError::new(SendErrorKind::Transport).with_detail(format!(
                "the header name `{BINARY_VALUES_PROPERTY}` is reserved by amgi-mqtt for values \
                 that are not UTF-8"
            )));
        }
        let value = if let Ok(text) = std::str::from_utf8(value) {
            text.to_owned()
        } else {
            binary.push(index);
            STANDARD.encode(value)
        };
        properties.push((name.to_owned(), value));
    }
    if !binary.is_empty() {
        let list: Vec<String> = binary.iter().map(ToString::to_string).collect();
        properties.push((BINARY_VALUES_PROPERTY.to_owned(), list.join(",")));
    }
    Ok(properties)
}

/// User properties as headers, in order, repeats kept: [`BINARY_VALUES_PROPERTY`] is removed
/// and the values it lists are decoded from base64 (a value that is not valid base64 is kept
/// as it arrived). The strings become the headers' bytes without copying.
pub(crate) fn headers(user_properties: Vec<(String, String)>) -> Headers {
    let binary: Vec<usize> = user_properties
        .iter()
        .filter(|(name, _)| name == BINARY_VALUES_PROPERTY)
        .flat_map(|(_, list)| list.split(',').filter_map(|n| n.trim().parse().ok()))
        .collect();
    user_properties
        .into_iter()
        .enumerate()
        .filter(|(_, (name, _))| name != BINARY_VALUES_PROPERTY)
        .map(|(index, (name, value))| {
            let decoded = (!binary.is_empty() && binary.contains(&index))
                .then(|| STANDARD.decode(&value).ok())
                .flatten();
            let value = decoded.map_or_else(|| Bytes::from(value), Bytes::from);
            (Bytes::from(name), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn text_headers_round_trip_in_order_with_repeats() {
        let headers = Headers::new().with("a", "1").with("b", "2").with("a", "3");
        let properties = user_properties(&headers).unwrap();
        assert_eq!(properties, owned(&[("a", "1"), ("b", "2"), ("a", "3")]));
        assert_eq!(super::headers(properties), headers);
    }

    #[test]
    fn values_that_are_not_utf8_travel_as_listed_base64() {
        let headers = Headers::new()
            .with("x-repeated", "first")
            .with("x-binary", Bytes::from_static(&[0, 159, 255]))
            .with("x-repeated", "second");
        let properties = user_properties(&headers).unwrap();
        assert_eq!(
            properties,
            owned(&[
                ("x-repeated", "first"),
                ("x-binary", "AJ//"),
                ("x-repeated", "second"),
                (BINARY_VALUES_PROPERTY, "1"),
            ])
        );
        assert_eq!(super::headers(properties), headers);
    }

    #[test]
    fn a_text_value_that_looks_like_base64_stays_text() {
        let properties = owned(&[("a", "AJ//"), (BINARY_VALUES_PROPERTY, "1")]);
        let headers = super::headers(properties);
        assert_eq!(headers, Headers::new().with("a", "AJ//"));
    }

    #[test]
    fn a_listed_value_that_is_not_base64_is_kept() {
        let properties = owned(&[("a", "not base64!"), (BINARY_VALUES_PROPERTY, "0")]);
        assert_eq!(
            super::headers(properties),
            Headers::new().with("a", "not base64!")
        );
    }

    #[test]
    fn a_name_that_is_not_utf8_and_the_reserved_name_are_refused() {
        let headers = Headers::new().with(Bytes::from_static(&[0xff]), "v");
        let error = user_properties(&headers).unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        let headers = Headers::new().with(BINARY_VALUES_PROPERTY, "0");
        let error = user_properties(&headers).unwrap_err();
        assert!(error.to_string().contains("reserved"), "{error}");
    }
}
