//! [`Param<T>`]: one `{placeholder}` of the channel's address template.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use bytes::Bytes;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::{BoxError, FromMessage, ParamRole, ParamSpec};
use crate::MessageContext;
use crate::asyncapi::__private::{Probe, ViaBytes as _};
use crate::asyncapi::{OperationDoc, ParameterDoc};

/// The value of the address placeholder named like the parameter, parsed with `FromStr`.
///
/// In the AsyncAPI document the placeholder becomes a channel parameter with the parameter's doc
/// comment as its description, `T`'s schema (when `T` implements `JsonSchema`; a string
/// otherwise) under `x-schema`, and `T`'s values as `enum` when it is an enumeration.
///
/// In `#[channel("orders.{region}.created")]`, `region: Param<String>` receives `eu` for a message
/// on `orders.eu.created` (whatever the type is called or imported as). `#[channel]` checks at
/// compile time that every placeholder has a `Param` and every `Param` a placeholder.
///
/// ```
/// use asyncfast::prelude::*;
///
/// #[channel("sensors/{id}/temperature")]
/// async fn on_temperature(id: Param<u32>, reading: Payload<f64>) {
///     println!("sensor {}: {}", *id, *reading);
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Param<T>(pub T);

impl<T> Param<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Param<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Param<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The channel's address has no placeholder of the parameter's name.
#[derive(Debug, thiserror::Error)]
#[error("the address has no placeholder `{{{name}}}`")]
#[non_exhaustive]
pub struct MissingParam {
    /// The placeholder's name.
    pub name: &'static str,
}

/// The placeholder's value does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value `{value}` for address placeholder `{{{name}}}`: {source}")]
#[non_exhaustive]
pub struct InvalidParam {
    /// The placeholder's name.
    pub name: &'static str,
    /// The value found in the address.
    pub value: String,
    /// The parse error.
    pub source: BoxError,
}

/// Why [`Param<T>`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParamRejection {
    /// No such placeholder.
    #[error(transparent)]
    Missing(#[from] MissingParam),
    /// The value does not parse.
    #[error(transparent)]
    Invalid(#[from] InvalidParam),
}

impl<T> FromMessage for Param<T>
where
    T: FromStr + Send,
    T::Err: Into<BoxError>,
{
    type Rejection = ParamRejection;

    /// The address placeholder named after the parameter.
    const ROLE: ParamRole = ParamRole::Placeholder;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        let name = spec.name();
        let value = match spec.placeholder_index() {
            Some(index) => ctx.param_at(index),
            None => ctx.param(name),
        };
        let result = match value {
            None => Err(MissingParam { name }.into()),
            Some(value) => value.parse().map(Param).map_err(|e: T::Err| {
                InvalidParam {
                    name,
                    value: value.to_owned(),
                    source: e.into(),
                }
                .into()
            }),
        };
        std::future::ready(result)
    }

    fn document(spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
        let mut parameter = ParameterDoc::new();
        if let Some(description) = spec.description_text() {
            parameter = parameter.description(description);
        }
        if let Some(schema) = spec
            .value_schema_fn()
            .and_then(|schema| schema(doc.generator()))
        {
            parameter = parameter.schema(schema);
        }
        doc.parameter(spec.name(), parameter);
    }
}

/// Picks, at compile time, the schema of the value of a `Param<T>` parameter, by autoref: raw
/// bytes first, then `T`'s `JsonSchema`, then a string; `None` for parameters of any other type.
/// Only macro output uses it, on each parameter's concrete type:
/// `(&&&&ParamProbe::<P>::new()).param_schema(generator)`.
pub struct ParamProbe<P: ?Sized>(PhantomData<P>);

impl<P: ?Sized> ParamProbe<P> {
    /// A probe for parameter type `P`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// `Param<Bytes>` and `Param<Vec<u8>>`: a binary string.
pub trait ParamViaBytes {
    /// The schema.
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl ParamViaBytes for &&&ParamProbe<Param<Bytes>> {
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema> {
        Some((&&&Probe::<Bytes>::new()).value_schema(generator))
    }
}

impl ParamViaBytes for &&&ParamProbe<Param<Vec<u8>>> {
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema> {
        Some((&&&Probe::<Vec<u8>>::new()).value_schema(generator))
    }
}

/// `Param<T>` for `T: JsonSchema`: `T`'s schema.
pub trait ParamViaJsonSchema {
    /// The schema.
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<T: JsonSchema> ParamViaJsonSchema for &&ParamProbe<Param<T>> {
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(generator.subschema_for::<T>())
    }
}

/// Any other `Param<T>`: a string.
pub trait ParamViaDisplay {
    /// The schema.
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<T> ParamViaDisplay for &ParamProbe<Param<T>> {
    fn param_schema(&self, _generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(crate::asyncapi::__private::string_schema())
    }
}

/// A parameter that is not a `Param<T>`: no value schema.
pub trait ParamViaOther {
    /// No schema.
    fn param_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<P: ?Sized> ParamViaOther for ParamProbe<P> {
    fn param_schema(&self, _generator: &mut SchemaGenerator) -> Option<Schema> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the probe's autoref is the point
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    enum Region {
        Eu,
        Us,
    }

    struct Opaque;

    #[test]
    fn probes_the_parameter_type() {
        let generator = &mut SchemaGenerator::default();
        let schema = |schema: Option<Schema>| schema.map(|s| s.as_value().clone());
        let bytes = schema((&&&&ParamProbe::<Param<Bytes>>::new()).param_schema(generator));
        assert_eq!(bytes.unwrap()["format"], "binary");
        let number = schema((&&&&ParamProbe::<Param<u32>>::new()).param_schema(generator));
        assert_eq!(number.unwrap()["type"], "integer");
        let text = schema((&&&&ParamProbe::<Param<Opaque>>::new()).param_schema(generator));
        assert_eq!(text.unwrap()["type"], "string");
        assert!(
            (&&&&ParamProbe::<Param<Region>>::new())
                .param_schema(generator)
                .is_some()
        );
        assert!(
            (&&&&ParamProbe::<super::super::Header<String>>::new())
                .param_schema(generator)
                .is_none()
        );
    }
}
