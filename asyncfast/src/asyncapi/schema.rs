//! Schemas: the document's generator, payload schemas, and the schema of a value type that may
//! or may not implement `JsonSchema`.

use std::any::TypeId;
use std::marker::PhantomData;

use bytes::Bytes;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::doc::{JSON, OCTET_STREAM, PayloadDoc, TEXT};

/// Where named schemas go, and how `$ref`s point at them.
pub(crate) const COMPONENTS_SCHEMAS: &str = "#/components/schemas/";

/// The generator of one document: JSON Schema draft 7 (the base of AsyncAPI schemas),
/// definitions under `#/components/schemas/`, schemas describing what the application
/// *accepts* (serde's deserialize contract).
pub(crate) fn generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator()
}

/// Raw bytes.
pub(crate) fn binary() -> Schema {
    json_schema!({"type": "string", "format": "binary"})
}

/// Text.
pub(crate) fn string() -> Schema {
    json_schema!({"type": "string"})
}

/// The payload of a handler taking `Payload<T>`: `Bytes` and `String` (and their `Option`s) raw,
/// anything else JSON.
pub(crate) fn received_payload<T: JsonSchema + 'static>(
    generator: &mut SchemaGenerator,
) -> PayloadDoc {
    let id = TypeId::of::<T>();
    if id == TypeId::of::<Bytes>() || id == TypeId::of::<Option<Bytes>>() {
        PayloadDoc::new(binary()).content_type(OCTET_STREAM)
    } else if id == TypeId::of::<String>() || id == TypeId::of::<Option<String>>() {
        PayloadDoc::new(string()).content_type(TEXT)
    } else {
        PayloadDoc::new(generator.subschema_for::<T>()).content_type(JSON)
    }
}

/// The payload of a `#[payload]` field: `Bytes`, `Vec<u8>` and `String` raw, anything else JSON
/// (as `encode_payload` sends them).
pub(crate) fn sent_payload<T: JsonSchema + 'static>(generator: &mut SchemaGenerator) -> PayloadDoc {
    let id = TypeId::of::<T>();
    if id == TypeId::of::<Bytes>() || id == TypeId::of::<Vec<u8>>() {
        PayloadDoc::new(binary()).content_type(OCTET_STREAM)
    } else if id == TypeId::of::<String>() {
        PayloadDoc::new(string()).content_type(TEXT)
    } else {
        PayloadDoc::new(generator.subschema_for::<T>()).content_type(JSON)
    }
}

/// Picks the schema of a value type at compile time, by autoref: raw bytes first, then the
/// type's `JsonSchema`, then a string (any `FromStr`/`Display` type is text). Only macro output
/// uses it, on concrete types: `(&&&Probe::<T>::new()).value_schema(generator)`.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Raw bytes: a binary string.
pub trait ViaBytes {
    /// The schema.
    fn value_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl ViaBytes for &&Probe<Bytes> {
    fn value_schema(&self, _generator: &mut SchemaGenerator) -> Schema {
        binary()
    }
}

impl ViaBytes for &&Probe<Vec<u8>> {
    fn value_schema(&self, _generator: &mut SchemaGenerator) -> Schema {
        binary()
    }
}

/// A type with a `JsonSchema`: its schema.
pub trait ViaJsonSchema {
    /// The schema.
    fn value_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: ?Sized + JsonSchema> ViaJsonSchema for &Probe<T> {
    fn value_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Any other type: a string.
pub trait ViaDisplay {
    /// The schema.
    fn value_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: ?Sized> ViaDisplay for Probe<T> {
    fn value_schema(&self, _generator: &mut SchemaGenerator) -> Schema {
        string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    enum Region {
        Eu,
        Us,
    }

    struct Opaque;

    #[test]
    // The borrows choose the implementation (autoref), which clippy cannot see.
    #[allow(clippy::needless_borrow)]
    fn probes_pick_the_most_specific_schema() {
        let mut generator = generator();
        let g = &mut generator;
        assert_eq!((&&&Probe::<Bytes>::new()).value_schema(g), binary());
        assert_eq!(
            (&&&Probe::<u8>::new()).value_schema(g),
            json_schema!({"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255})
        );
        assert_eq!((&&&Probe::<Opaque>::new()).value_schema(g), string());
        assert_eq!(
            (&&&Probe::<Region>::new()).value_schema(g),
            json_schema!({"$ref": "#/components/schemas/Region"})
        );
        assert!(generator.definitions().contains_key("Region"));
    }

    #[test]
    fn raw_payloads() {
        let mut generator = generator();
        let doc = received_payload::<Bytes>(&mut generator);
        assert!(format!("{doc:?}").contains(OCTET_STREAM));
        let doc = sent_payload::<Vec<u8>>(&mut generator);
        assert!(format!("{doc:?}").contains(OCTET_STREAM));
        let doc = received_payload::<Vec<u8>>(&mut generator);
        assert!(format!("{doc:?}").contains(JSON));
    }
}
