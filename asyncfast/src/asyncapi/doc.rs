//! [`OperationDoc`]: what extractors and messages write into the AsyncAPI document.
//!
//! The document of one operation (a handler's `receive…`, or a message's `send…`) is folded from
//! the contributions of its parts: each handler parameter's [`FromMessage::document`], or the
//! fields of a `#[derive(Message)]` type. A part adds a header, the payload, a channel parameter
//! or a protocol binding; schemas come from the document's one [`SchemaGenerator`], so that
//! every named type ends up once under `#/components/schemas/`.
//!
//! [`FromMessage::document`]: crate::extract::FromMessage::document

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::router::Part;

/// One header of a message: its name, schema, whether it is required, description and default.
///
/// ```
/// use asyncfast::asyncapi::HeaderDoc;
///
/// let header = HeaderDoc::new("correlation-id", schemars::json_schema!({"type": "string"}))
///     .description("Correlates the reply with its request.");
/// assert!(header.is_required());
/// ```
#[derive(Debug, Clone)]
pub struct HeaderDoc {
    name: String,
    schema: Schema,
    required: bool,
    description: Option<String>,
    default: Option<Value>,
}

impl HeaderDoc {
    /// A required header called `name` whose value follows `schema`.
    pub fn new(name: impl Into<String>, schema: Schema) -> Self {
        Self {
            name: name.into(),
            schema,
            required: true,
            description: None,
            default: None,
        }
    }

    /// Sets whether a message must carry the header (by default it must).
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the value used when the header is missing.
    #[must_use]
    pub fn default_value(mut self, default: Value) -> Self {
        self.default = Some(default);
        self
    }

    /// The header's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the header is required.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The header's schema, with its description and default.
    fn into_property(self) -> (String, Value, bool) {
        let mut schema = self.schema;
        if let Some(description) = self.description {
            schema.insert("description".to_owned(), description.into());
        }
        if let Some(default) = self.default {
            schema.insert("default".to_owned(), default);
        }
        (self.name, schema.to_value(), self.required)
    }
}

/// The payload of a message: its schema and content type.
///
/// ```
/// use asyncfast::asyncapi::PayloadDoc;
///
/// let payload = PayloadDoc::new(schemars::json_schema!({"type": "string"})).content_type("text/plain");
/// ```
#[derive(Debug, Clone)]
pub struct PayloadDoc {
    schema: Schema,
    content_type: Option<String>,
}

impl PayloadDoc {
    /// A payload following `schema`, encoded as JSON.
    pub fn new(schema: Schema) -> Self {
        Self {
            schema,
            content_type: Some(JSON.to_owned()),
        }
    }

    /// Sets the content type (`application/json` by default).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// `application/json`.
pub(crate) const JSON: &str = "application/json";
/// Raw bytes.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
/// UTF-8 text.
pub(crate) const TEXT: &str = "text/plain";

/// One `{placeholder}` of a channel address: its description and the schema of its value.
///
/// AsyncAPI 3 parameters are strings; the schema of the Rust type is kept under the extension
/// `x-schema`, and the values of an enumeration become the parameter's `enum`.
///
/// ```
/// use asyncfast::asyncapi::ParameterDoc;
///
/// let region = ParameterDoc::new().description("The region of the order.");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParameterDoc {
    description: Option<String>,
    schema: Option<Schema>,
}

impl ParameterDoc {
    /// A parameter with no description and no schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the schema of the value.
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }
}

/// Binding objects by protocol (`kafka` → `{"key": …}`).
pub(crate) type BindingMap = BTreeMap<String, Map<String, Value>>;

/// The part of the document that one operation's parameters (or one message's fields) describe:
/// the message's headers, payload and bindings, the channel's parameters, and the operation's
/// and channel's bindings.
///
/// Extractors receive it in [`FromMessage::document`](crate::extract::FromMessage::document):
///
/// ```
/// use asyncfast::asyncapi::{OperationDoc, PayloadDoc};
/// use asyncfast::extract::{FromMessage, ParamSpec};
/// use asyncfast::MessageContext;
///
/// /// The payload, as a list of lines.
/// struct Lines(Vec<String>);
///
/// impl FromMessage for Lines {
///     type Rejection = std::convert::Infallible;
///
///     async fn from_message(
///         ctx: &mut MessageContext<'_>,
///         _spec: &'static ParamSpec,
///     ) -> Result<Self, Self::Rejection> {
///         let text = ctx.payload().map(|p| String::from_utf8_lossy(p).into_owned());
///         Ok(Lines(text.unwrap_or_default().lines().map(str::to_owned).collect()))
///     }
///
///     fn document(_spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
///         let schema = doc.schema_for::<String>();
///         doc.payload(PayloadDoc::new(schema).content_type("text/plain"));
///     }
/// }
/// ```
pub struct OperationDoc<'g> {
    generator: &'g mut SchemaGenerator,
    address: &'g str,
    headers: Vec<HeaderDoc>,
    payload: Option<PayloadDoc>,
    parameters: BTreeMap<String, ParameterDoc>,
    message_bindings: BindingMap,
    operation_bindings: BindingMap,
    channel_bindings: BindingMap,
}

impl std::fmt::Debug for OperationDoc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationDoc")
            .field("address", &self.address)
            .field("headers", &self.headers)
            .field("payload", &self.payload)
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}

/// What an [`OperationDoc`] collected, with every schema transformed for the document.
pub(crate) struct OperationParts {
    /// The headers as one object schema, if there are any.
    pub(crate) headers: Option<Value>,
    pub(crate) payload: Option<(Value, Option<String>)>,
    pub(crate) parameters: Map<String, Value>,
    pub(crate) message_bindings: BindingMap,
    pub(crate) operation_bindings: BindingMap,
    pub(crate) channel_bindings: BindingMap,
}

impl<'g> OperationDoc<'g> {
    /// An empty description of an operation on `address`, drawing schemas from `generator`.
    pub(crate) fn new(generator: &'g mut SchemaGenerator, address: &'g str) -> Self {
        Self {
            generator,
            address,
            headers: Vec::new(),
            payload: None,
            parameters: BTreeMap::new(),
            message_bindings: BindingMap::new(),
            operation_bindings: BindingMap::new(),
            channel_bindings: BindingMap::new(),
        }
    }

    /// The document's schema generator: named types become `$ref`s to
    /// `#/components/schemas/…`.
    pub fn generator(&mut self) -> &mut SchemaGenerator {
        self.generator
    }

    /// The schema of `T`: a `$ref` into `#/components/schemas/` for named types, inline for
    /// primitives.
    pub fn schema_for<T: ?Sized + JsonSchema>(&mut self) -> Schema {
        self.generator.subschema_for::<T>()
    }

    /// The channel's address (template).
    pub fn address(&self) -> &str {
        self.address
    }

    /// Adds a header. A header documented twice (two parameters reading it) is kept once,
    /// required if either requires it.
    pub fn header(&mut self, header: HeaderDoc) {
        if let Some(existing) = self.headers.iter_mut().find(|h| h.name == header.name) {
            existing.required |= header.required;
            if existing.description.is_none() {
                existing.description = header.description;
            }
            if existing.default.is_none() {
                existing.default = header.default;
            }
        } else {
            self.headers.push(header);
        }
    }

    /// Sets the payload; the first payload documented wins (a handler takes one).
    pub fn payload(&mut self, payload: PayloadDoc) {
        if self.payload.is_none() {
            self.payload = Some(payload);
        }
    }

    /// Documents the address placeholder `name`.
    pub fn parameter(&mut self, name: impl Into<String>, parameter: ParameterDoc) {
        let existing = self.parameters.entry(name.into()).or_default();
        if existing.description.is_none() {
            existing.description = parameter.description;
        }
        if existing.schema.is_none() {
            existing.schema = parameter.schema;
        }
    }

    /// Sets `field` of the message binding of `protocol` (such as `kafka` → `key`).
    pub fn message_binding(&mut self, protocol: &str, field: &str, value: Value) {
        insert_binding(&mut self.message_bindings, protocol, field, value);
    }

    /// Sets `field` of the operation binding of `protocol` (such as `kafka` → `groupId`).
    pub fn operation_binding(&mut self, protocol: &str, field: &str, value: Value) {
        insert_binding(&mut self.operation_bindings, protocol, field, value);
    }

    /// Sets `field` of the channel binding of `protocol` (such as `kafka` → `topic`).
    pub fn channel_binding(&mut self, protocol: &str, field: &str, value: Value) {
        insert_binding(&mut self.channel_bindings, protocol, field, value);
    }

    /// Applies the generator's transforms (JSON Schema draft 7, as AsyncAPI schemas are).
    fn finish_schema(&mut self, mut schema: Schema) -> Value {
        for transform in self.generator.transforms_mut() {
            transform.transform(&mut schema);
        }
        object_schema(schema.to_value())
    }

    /// The collected parts; every placeholder of the address gets a parameter, documented or
    /// not.
    pub(crate) fn finish(mut self) -> OperationParts {
        let headers = std::mem::take(&mut self.headers);
        let headers = (!headers.is_empty()).then(|| {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for header in headers {
                let (name, schema, is_required) = header.into_property();
                if is_required {
                    required.push(Value::String(name.clone()));
                }
                properties.insert(name, schema);
            }
            let mut object = Map::new();
            object.insert("type".to_owned(), "object".into());
            object.insert("properties".to_owned(), properties.into());
            if !required.is_empty() {
                object.insert("required".to_owned(), required.into());
            }
            self.finish_schema(Schema::from(object))
        });
        let payload = self.payload.take().map(|payload| {
            let content_type = payload.content_type;
            (self.finish_schema(payload.schema), content_type)
        });
        if let Ok(template) = crate::router::parse(self.address) {
            for part in template.parts() {
                if let Part::Placeholder(name) = part {
                    self.parameters.entry(name.to_owned()).or_default();
                }
            }
        }
        let mut parameters = Map::new();
        for (name, parameter) in std::mem::take(&mut self.parameters) {
            let mut object = Map::new();
            if let Some(description) = parameter.description {
                object.insert("description".to_owned(), description.into());
            }
            if let Some(schema) = parameter.schema {
                let schema = self.finish_schema(schema);
                if let Some(values) = string_enum(self.generator, &schema) {
                    object.insert("enum".to_owned(), values.into());
                }
                object.insert("x-schema".to_owned(), schema);
            }
            parameters.insert(name, object.into());
        }
        OperationParts {
            headers,
            payload,
            parameters,
            message_bindings: self.message_bindings,
            operation_bindings: self.operation_bindings,
            channel_bindings: self.channel_bindings,
        }
    }
}

fn insert_binding(bindings: &mut BindingMap, protocol: &str, field: &str, value: Value) {
    bindings
        .entry(protocol.to_owned())
        .or_default()
        .insert(field.to_owned(), value);
}

/// The values of a string enumeration (following one `$ref`), for a parameter's `enum`.
fn string_enum(generator: &SchemaGenerator, schema: &Value) -> Option<Vec<Value>> {
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next()?;
            generator.definitions().get(name)?
        }
        None => schema,
    };
    let values = resolved
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| {
            // `oneOf` of `const`s, as schemars writes enums whose variants have doc comments.
            resolved
                .get("oneOf")?
                .as_array()?
                .iter()
                .map(|variant| {
                    variant.get("const").cloned().or_else(|| {
                        let values = variant.get("enum")?.as_array()?;
                        (values.len() == 1).then(|| values[0].clone())
                    })
                })
                .collect()
        })?;
    values.iter().all(Value::is_string).then_some(values)
}

/// A schema as an object: AsyncAPI wants payloads, headers and components to be objects, where
/// JSON Schema also allows `true` (anything, as for `serde_json::Value`) and `false` (nothing).
pub(crate) fn object_schema(schema: Value) -> Value {
    match schema {
        Value::Bool(true) => Value::Object(Map::new()),
        Value::Bool(false) => serde_json::json!({"not": {}}),
        other => other,
    }
}
