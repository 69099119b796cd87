//! [`Param<T>`]: one `{placeholder}` of the channel's address template.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use super::{BoxError, FromMessage, ParamSpec};
use crate::MessageContext;
use crate::asyncapi::{OperationDoc, ParameterDoc};

/// The value of the address placeholder named like the parameter, parsed with `FromStr`.
///
/// In the AsyncAPI document the placeholder becomes a channel parameter with the parameter's doc
/// comment as its description, `T`'s schema (when `T` implements `JsonSchema`; a string
/// otherwise) under `x-schema`, and `T`'s values as `enum` when it is an enumeration.
///
/// In `#[channel("orders.{region}.created")]`, `region: Param<String>` receives `eu` for a message
/// on `orders.eu.created`. The macro checks at compile time that every placeholder has a
/// parameter and every `Param` a placeholder.
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
        if let Some(schema) = spec.value_schema_fn() {
            parameter = parameter.schema(schema(doc.generator()));
        }
        doc.parameter(spec.name(), parameter);
    }
}
