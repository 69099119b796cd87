//! [`Payload<T>`]: the message payload, JSON-decoded or raw.

use std::any::{Any, TypeId};
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::{FromMessage, ParamRole, ParamSpec};
use crate::MessageContext;
use crate::asyncapi::OperationDoc;

/// The payload of the message.
///
/// * `Payload<T>` for any `T: DeserializeOwned + JsonSchema` decodes JSON with `serde_json`.
/// * `Payload<Bytes>` and `Payload<String>` take the payload as is (a `String` must be UTF-8).
/// * `Payload<Option<T>>` (any of the above inside) accepts a message without a payload.
///
/// A payload that does not decode nacks the message with the path of the offending field and
/// serde's error, e.g. ``invalid payload at `tags[1]`: invalid type: integer `3`, expected a
/// string at line 1 column 44``. A handler takes at most one `Payload`.
///
/// ```
/// use asyncfast::prelude::*;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct UserCreated { id: u64, email: String }
///
/// #[channel("user.created")]
/// async fn on_user(user: Payload<UserCreated>) {
///     println!("{} <{}>", user.id, user.email);
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Payload<T>(pub T);

impl<T> Payload<T> {
    /// The decoded payload.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Payload<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Payload<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The message has no payload, and the handler does not take `Payload<Option<T>>`.
#[derive(Debug, thiserror::Error)]
#[error("the message has no payload")]
#[non_exhaustive]
pub struct MissingPayload;

/// The payload did not decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPayload {
    /// Not valid JSON for the target type; `path` is where decoding stopped (`.` for the root).
    #[error("invalid payload{}: {source}", at(path))]
    Json {
        /// The field path, such as `tags[1]`.
        path: String,
        /// serde's error, with line and column.
        source: serde_json::Error,
    },
    /// `Payload<String>` of bytes that are not UTF-8.
    #[error("payload is not valid UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
}

fn at(path: &str) -> String {
    // `.` is the root; `?` a map entry whose key was not read yet.
    if path == "." || path == "?" {
        String::new()
    } else {
        format!(" at `{path}`")
    }
}

/// Why [`Payload<T>`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadRejection {
    /// No payload.
    #[error(transparent)]
    Missing(#[from] MissingPayload),
    /// A payload that does not decode.
    #[error(transparent)]
    Invalid(#[from] InvalidPayload),
}

impl InvalidPayload {
    /// The path of the offending field, for JSON errors.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Json { path, .. } => Some(path),
            Self::Utf8(_) => None,
        }
    }
}

impl<T> FromMessage for Payload<T>
where
    T: DeserializeOwned + JsonSchema + Send + 'static,
{
    type Rejection = PayloadRejection;

    /// The payload: `#[channel]` rejects a second one.
    const ROLE: ParamRole = ParamRole::Payload;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(decode(ctx.payload()).map(Payload))
    }

    /// The payload's schema (`T`'s, a `$ref` for named types) and content type:
    /// `application/json`, or `application/octet-stream` for `Bytes` and `text/plain` for
    /// `String`.
    fn document(_spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
        let payload = crate::asyncapi::__private::received_payload::<T>(doc);
        doc.payload(payload);
    }
}

/// Decodes a payload into `T`: raw for `Bytes` and `String` (and their `Option`s), JSON otherwise.
pub(crate) fn decode<T: DeserializeOwned + 'static>(
    payload: Option<&Bytes>,
) -> Result<T, PayloadRejection> {
    if let Some(raw) = decode_raw::<T>(payload) {
        return raw;
    }
    let Some(bytes) = payload else {
        // `Option<T>` decodes `null` as `None`; every other type needs a payload.
        return serde_json::from_slice(b"null").map_err(|_| MissingPayload.into());
    };
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        // Decode again, tracking the path, only when the fast path failed.
        Err(_) => Err(json_error::<T>(bytes).into()),
    }
}

fn json_error<T: DeserializeOwned>(bytes: &[u8]) -> InvalidPayload {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(error) => InvalidPayload::Json {
            path: error.path().to_string(),
            source: error.into_inner(),
        },
        // `from_slice` also rejects trailing characters, which `deserialize` leaves unread.
        Ok(_) => InvalidPayload::Json {
            path: ".".to_owned(),
            source: deserializer
                .end()
                .err()
                .unwrap_or_else(|| serde::de::Error::custom("invalid payload")),
        },
    }
}

/// Moves `value` into a `T` known to be the same type as `S`.
fn cast<S: 'static, T: 'static>(value: S) -> Option<T> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

fn raw_string(bytes: &Bytes) -> Result<String, PayloadRejection> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|e| InvalidPayload::from(e).into())
}

/// The raw forms; `None` when `T` is decoded as JSON. The type tests are resolved at compile time.
fn decode_raw<T: 'static>(payload: Option<&Bytes>) -> Option<Result<T, PayloadRejection>> {
    let id = TypeId::of::<T>();
    let result = if id == TypeId::of::<Bytes>() {
        payload
            .cloned()
            .ok_or_else(|| MissingPayload.into())
            .map(cast::<Bytes, T>)
    } else if id == TypeId::of::<String>() {
        payload
            .ok_or_else(|| MissingPayload.into())
            .and_then(raw_string)
            .map(cast::<String, T>)
    } else if id == TypeId::of::<Option<Bytes>>() {
        Ok(cast::<Option<Bytes>, T>(payload.cloned()))
    } else if id == TypeId::of::<Option<String>>() {
        payload
            .map(raw_string)
            .transpose()
            .map(cast::<Option<String>, T>)
    } else {
        return None;
    };
    // `cast` cannot fail here: `T` was just compared with the source type.
    Some(result.map(|value| value.expect("type checked above")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct User {
        id: u64,
        tags: Vec<String>,
    }

    #[test]
    fn raw_and_json() {
        let bytes = Bytes::from_static(br#"{"id":1,"tags":["a"]}"#);
        assert_eq!(decode::<Bytes>(Some(&bytes)).unwrap(), bytes);
        assert_eq!(
            decode::<String>(Some(&bytes)).unwrap(),
            r#"{"id":1,"tags":["a"]}"#
        );
        let user: User = decode(Some(&bytes)).unwrap();
        assert_eq!(user.tags, ["a"]);
        assert_eq!(decode::<Option<User>>(None).unwrap(), None);
        assert_eq!(decode::<Option<String>>(None).unwrap(), None);
        assert!(matches!(
            decode::<User>(None),
            Err(PayloadRejection::Missing(_))
        ));
    }

    #[test]
    fn json_errors_name_the_field() {
        let bytes = Bytes::from_static(br#"{"id":1,"tags":["a",3]}"#);
        let error = decode::<User>(Some(&bytes)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid payload at `tags[1]`: invalid type: integer `3`, expected a string at line 1 \
             column 21"
        );
        let error =
            decode::<User>(Some(&Bytes::from_static(b"{\"id\":1,\"tags\":[]} x"))).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid payload: trailing characters"),
            "{error}"
        );
        let error = decode::<String>(Some(&Bytes::from_static(b"\xff"))).unwrap_err();
        assert!(error.to_string().starts_with("payload is not valid UTF-8"));
    }
}
