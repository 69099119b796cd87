//! [`Header<T>`]: one message header, named after the parameter.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use super::{BoxError, FromMessage, ParamRole, ParamSpec};
use crate::MessageContext;
use crate::asyncapi::{HeaderDoc, OperationDoc};

/// One header of the message, parsed into `T`.
///
/// The header's name is the parameter's name with `_` replaced by `-` (`correlation_id` reads
/// `correlation-id`, whatever the type is called or imported as: `H<String>` after
/// `use asyncfast::Header as H` reads the same header), compared case-sensitively; `#[header(alias = "Idempotency-Key")]` names it
/// explicitly. `Header<Option<T>>` accepts a message without the header, and
/// `#[header(default = expr)]` gives a value to use instead. Values are parsed from UTF-8 text
/// with `FromStr` (see [`HeaderValue`]); `Header<Bytes>` takes the raw bytes.
///
/// ```
/// use asyncfast::prelude::*;
///
/// #[channel("order.placed")]
/// async fn on_order(
///     correlation_id: Header<String>,
///     #[header(alias = "Idempotency-Key")] key: Header<Option<String>>,
///     #[header(default = 1)] attempt: Header<u32>,
/// ) {
///     println!("{} {:?} {}", *correlation_id, *key, *attempt);
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Header<T>(pub T);

impl<T> Header<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Header<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Header<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Why a header value could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderValueError {
    /// The header is absent.
    #[error("it is missing")]
    Missing,
    /// The value is not UTF-8.
    #[error("it is not valid UTF-8: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    /// `FromStr` rejected the value.
    #[error("{0}")]
    Parse(BoxError),
}

/// A type a header value parses into (and, for `#[derive(Message)]`, renders from).
///
/// Implemented for `String`, `Arc<str>`, `Box<str>`, `Bytes` (raw), `bool`, `char`, the integer
/// and float types, `NonZero*`, IP and socket addresses, and `Option<T>` of those. For a type of
/// your own that implements `FromStr` and `Display`, use [`header_value!`](crate::header_value)
/// (the AsyncAPI document then shows the header as a string; implement the trait by hand and
/// override [`schema`](Self::schema) to say more):
///
/// ```
/// #[derive(Debug)]
/// struct TenantId(u32);
/// impl std::str::FromStr for TenantId {
///     type Err = std::num::ParseIntError;
///     fn from_str(s: &str) -> Result<Self, Self::Err> { s.parse().map(TenantId) }
/// }
/// impl std::fmt::Display for TenantId {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.fmt(f) }
/// }
/// asyncfast::header_value!(TenantId);
/// ```
pub trait HeaderValue: Sized + Send + 'static {
    /// Parses the header's value; `None` when the message has no such header.
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError>;

    /// Renders the value; `None` leaves the header out.
    fn to_header(&self) -> Option<Bytes>;

    /// Whether a message must carry the header (`false` for `Option<T>`).
    const REQUIRED: bool = true;

    /// The JSON Schema of the value, for the AsyncAPI document. The default is a string.
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        let _ = generator;
        crate::asyncapi::__private::string_schema()
    }
}

/// Parses UTF-8 `value` with `FromStr`, for [`HeaderValue`] implementations.
pub fn parse_header<T>(value: Option<&Bytes>) -> Result<T, HeaderValueError>
where
    T: FromStr,
    T::Err: Into<BoxError>,
{
    let value = value.ok_or(HeaderValueError::Missing)?;
    let text = std::str::from_utf8(value)?;
    text.parse()
        .map_err(|e: T::Err| HeaderValueError::Parse(e.into()))
}

/// Implements [`HeaderValue`] for types that implement `FromStr` and `Display`.
///
/// ```
/// # #[derive(Debug)] struct Region(String);
/// # impl std::str::FromStr for Region { type Err = std::convert::Infallible;
/// #     fn from_str(s: &str) -> Result<Self, Self::Err> { Ok(Region(s.into())) } }
/// # impl std::fmt::Display for Region {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
/// asyncfast::header_value!(Region);
/// ```
#[macro_export]
macro_rules! header_value {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::extract::HeaderValue for $ty {
            fn from_header(
                value: ::std::option::Option<&$crate::__private::Bytes>,
            ) -> ::std::result::Result<Self, $crate::extract::HeaderValueError> {
                $crate::__private::parse_header(value)
            }

            fn to_header(&self) -> ::std::option::Option<$crate::__private::Bytes> {
                ::std::option::Option::Some($crate::__private::Bytes::from(
                    ::std::string::ToString::to_string(self),
                ))
            }
        }
    )*};
}

/// [`header_value!`] for types that also implement `JsonSchema`: the document shows their schema.
macro_rules! header_value_with_schema {
    ($($ty:ty),* $(,)?) => {$(
        impl HeaderValue for $ty {
            fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
                parse_header(value)
            }

            fn to_header(&self) -> Option<Bytes> {
                Some(Bytes::from(self.to_string()))
            }

            fn schema(generator: &mut SchemaGenerator) -> Schema {
                generator.subschema_for::<$ty>()
            }
        }
    )*};
}

header_value_with_schema!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
);

impl HeaderValue for String {
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
        let value = value.ok_or(HeaderValueError::Missing)?;
        Ok(std::str::from_utf8(value)?.to_owned())
    }

    fn to_header(&self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self.as_bytes()))
    }

    fn schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

impl HeaderValue for Box<str> {
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
        String::from_header(value).map(String::into_boxed_str)
    }

    fn to_header(&self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl HeaderValue for Arc<str> {
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
        let value = value.ok_or(HeaderValueError::Missing)?;
        Ok(Arc::from(std::str::from_utf8(value)?))
    }

    fn to_header(&self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl HeaderValue for Bytes {
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
        value.cloned().ok_or(HeaderValueError::Missing)
    }

    fn to_header(&self) -> Option<Bytes> {
        Some(self.clone())
    }
}

impl<T: HeaderValue> HeaderValue for Option<T> {
    fn from_header(value: Option<&Bytes>) -> Result<Self, HeaderValueError> {
        value.map(|v| T::from_header(Some(v))).transpose()
    }

    fn to_header(&self) -> Option<Bytes> {
        self.as_ref().and_then(T::to_header)
    }

    const REQUIRED: bool = false;

    fn schema(generator: &mut SchemaGenerator) -> Schema {
        T::schema(generator)
    }
}

/// A required header is absent.
#[derive(Debug, thiserror::Error)]
#[error("missing header `{name}`")]
#[non_exhaustive]
pub struct MissingHeader {
    /// The header's name.
    pub name: &'static str,
}

/// A header's value could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid header `{name}`: {source}")]
#[non_exhaustive]
pub struct InvalidHeader {
    /// The header's name.
    pub name: &'static str,
    /// What was wrong with the value.
    pub source: HeaderValueError,
}

/// Why [`Header<T>`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderRejection {
    /// The header is absent.
    #[error(transparent)]
    Missing(#[from] MissingHeader),
    /// The value does not parse.
    #[error(transparent)]
    Invalid(#[from] InvalidHeader),
}

impl<T: HeaderValue> FromMessage for Header<T> {
    type Rejection = HeaderRejection;

    /// The header named after the parameter, or by `#[header(alias = "…")]`.
    const ROLE: ParamRole = ParamRole::Header;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(extract(ctx.header(spec.header()), spec).map(Header))
    }

    /// The header, with its schema, whether it is required (not for `Option`s and headers with
    /// a default), its description and default.
    fn document(spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
        let header = header_doc::<T>(spec, doc.generator());
        doc.header(header);
    }
}

/// What `Header<T>` with `spec` documents.
pub(crate) fn header_doc<T: HeaderValue>(
    spec: &'static ParamSpec,
    generator: &mut SchemaGenerator,
) -> HeaderDoc {
    let schema = T::schema(generator);
    let default = spec
        .default_fn()
        .and_then(|default| default().downcast::<T>().ok())
        .and_then(|value| value.to_header())
        .map(|bytes| default_value(&schema, &bytes));
    let mut header =
        HeaderDoc::new(spec.header(), schema).required(T::REQUIRED && default.is_none());
    if let Some(description) = spec.description_text() {
        header = header.description(description);
    }
    if let Some(default) = default {
        header = header.default_value(default);
    }
    header
}

/// A rendered default as JSON: a number or boolean when the schema says so, text otherwise.
fn default_value(schema: &Schema, bytes: &Bytes) -> Value {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let is_string = schema.get("type").is_none_or(|t| {
        t == "string" || t.as_array().is_some_and(|a| a.contains(&"string".into()))
    });
    if is_string {
        return Value::String(text);
    }
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean())
        .unwrap_or(Value::String(text))
}

fn extract<T: HeaderValue>(
    value: Option<&Bytes>,
    spec: &'static ParamSpec,
) -> Result<T, HeaderRejection> {
    let name = spec.header();
    if value.is_none()
        && let Some(default) = spec.default_fn()
        && let Ok(value) = default().downcast::<T>()
    {
        return Ok(*value);
    }
    T::from_header(value).map_err(|source| match source {
        HeaderValueError::Missing => MissingHeader { name }.into(),
        source => InvalidHeader { name, source }.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPEC: ParamSpec = ParamSpec::new("retry_count", 0).header_name("retry-count");

    fn default_three() -> Box<dyn std::any::Any + Send> {
        Box::new(3_u32)
    }

    static DEFAULTED: ParamSpec = ParamSpec::new("n", 0).default_value(default_three);

    #[test]
    fn parses_and_rejects() {
        let five = Bytes::from_static(b"5");
        assert_eq!(extract::<u32>(Some(&five), &SPEC).unwrap(), 5);
        assert_eq!(extract::<Option<u32>>(None, &SPEC).unwrap(), None);
        assert_eq!(
            extract::<u32>(None, &SPEC).unwrap_err().to_string(),
            "missing header `retry-count`"
        );
        assert_eq!(
            extract::<u32>(Some(&Bytes::from_static(b"x")), &SPEC)
                .unwrap_err()
                .to_string(),
            "invalid header `retry-count`: invalid digit found in string"
        );
        assert!(
            extract::<String>(Some(&Bytes::from_static(b"\xff")), &SPEC)
                .unwrap_err()
                .to_string()
                .starts_with("invalid header `retry-count`: it is not valid UTF-8")
        );
        assert_eq!(extract::<u32>(None, &DEFAULTED).unwrap(), 3);
        assert_eq!(extract::<u32>(Some(&five), &DEFAULTED).unwrap(), 5);
    }
}
