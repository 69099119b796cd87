//! The contract check: what changed between a committed AsyncAPI document and a new one, and
//! whether the change breaks the other side.
//!
//! [`compare`] walks both documents (following `$ref`s into `#/components/…`) and lists every
//! [`Change`] in plain words. These are **breaking**:
//!
//! * a channel, operation or message that was removed (or a message removed from its channel),
//!   a channel whose address changed, an operation whose action or channel changed;
//! * a payload field or header that was removed or renamed, a payload that was removed, a
//!   content type that changed;
//! * a new required payload field or header, or one that became required;
//! * a narrowed type: a type no longer accepted (`string` → `integer`), enum values removed, a
//!   value that was free and is now an enumeration, a variant of a union (`oneOf`/`anyOf`, such
//!   as `null` of an `Option`) no longer accepted.
//!
//! Everything else that changed is **additive** (new channels, operations, messages, optional
//! fields and headers; widened types; new enum values and variants; fields no longer required)
//! and passes. Descriptions, `info` and `servers` are not compared.
//!
//! The same rules apply to what the application receives and what it sends, so a committed
//! document stays usable by both producers and consumers.
//!
//! ```
//! use asyncfast::asyncapi::contract::{compare, ChangeKind};
//! use serde_json::json;
//!
//! let old = json!({"components": {"messages": {"M": {"payload": {
//!     "type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]
//! }}}}});
//! let new = json!({"components": {"messages": {"M": {"payload": {
//!     "type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]
//! }}}}});
//! let changes = compare(&old, &new);
//! assert_eq!(changes[0].kind, ChangeKind::Breaking);
//! assert_eq!(
//!     changes[0].description,
//!     "message `M`: payload field `id` narrowed from type string to integer"
//! );
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// Whether a change breaks the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Code built against the old document may fail with the new one.
    Breaking,
    /// The new document only adds or relaxes.
    Additive,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Breaking => "breaking",
            Self::Additive => "additive",
        })
    }
}

/// One difference between two documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Breaking or additive.
    pub kind: ChangeKind,
    /// What changed, in plain words (``message `M`: header `x` was removed``).
    pub description: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.description)
    }
}

/// Whether any of `changes` is breaking.
///
/// ```
/// assert!(!asyncfast::asyncapi::contract::is_breaking(&[]));
/// ```
pub fn is_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.kind == ChangeKind::Breaking)
}

/// The changes from the `old` (committed) document to the `new` (generated) one: breaking ones
/// first, each group in document order.
///
/// ```
/// use serde_json::json;
///
/// let old = json!({"channels": {"OnHello": {"address": "hello"}}});
/// let new = json!({"channels": {}});
/// let changes = asyncfast::asyncapi::contract::compare(&old, &new);
/// assert_eq!(changes[0].to_string(), "breaking: channel `OnHello` (address `hello`) was removed");
/// ```
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let mut diff = Diff {
        old,
        new,
        changes: Vec::new(),
        stack: Vec::new(),
    };
    diff.channels();
    diff.operations();
    diff.messages();
    let mut changes = diff.changes;
    changes.sort_by_key(|c| c.kind);
    changes
}

/// What part of a message (or channel) a schema describes, for the wording of changes.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Payload(&'a str),
    Headers(&'a str),
    KafkaKey(&'a str),
    Parameter(&'a str, &'a str),
}

/// Where in a schema: the subject and the path of fields below it.
#[derive(Clone)]
struct At<'a> {
    subject: Subject<'a>,
    path: Vec<String>,
}

impl At<'_> {
    fn child(&self, segment: impl Into<String>) -> Self {
        let mut path = self.path.clone();
        path.push(segment.into());
        Self {
            subject: self.subject,
            path,
        }
    }

    fn path_text(&self) -> String {
        let mut text = String::new();
        for segment in &self.path {
            if !text.is_empty() && segment != "[]" {
                text.push('.');
            }
            text.push_str(segment);
        }
        text
    }

    /// Whether the path names a header (the first level below the headers object).
    fn is_header(&self) -> bool {
        matches!(self.subject, Subject::Headers(_)) && self.path.len() == 1
    }

    /// `message `M`: payload field `a.b``, `message `M`: header `x``, ….
    fn describe(&self) -> String {
        let path = self.path_text();
        match self.subject {
            Subject::Payload(message) if path.is_empty() => format!("message `{message}`: payload"),
            Subject::Payload(message) => format!("message `{message}`: payload field `{path}`"),
            Subject::Headers(message) if path.is_empty() => format!("message `{message}`: headers"),
            Subject::Headers(message) if self.path.len() == 1 => {
                format!("message `{message}`: header `{path}`")
            }
            Subject::Headers(message) => format!("message `{message}`: header field `{path}`"),
            Subject::KafkaKey(message) if path.is_empty() => {
                format!("message `{message}`: Kafka key")
            }
            Subject::KafkaKey(message) => format!("message `{message}`: Kafka key field `{path}`"),
            Subject::Parameter(channel, name) if path.is_empty() => {
                format!("channel `{channel}`: parameter `{name}`")
            }
            Subject::Parameter(channel, name) => {
                format!("channel `{channel}`: parameter `{name}` field `{path}`")
            }
        }
    }

    /// `field` or `header`, for "new required …".
    fn noun(&self) -> &'static str {
        if self.is_header() { "header" } else { "field" }
    }
}

struct Diff<'d> {
    old: &'d Value,
    new: &'d Value,
    changes: Vec<Change>,
    /// `$ref` pairs being compared, to stop on recursive types.
    stack: Vec<(String, String)>,
}

fn object<'v>(value: &'v Value, pointer: &str) -> Option<&'v Map<String, Value>> {
    value.pointer(pointer).and_then(Value::as_object)
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// The types a schema allows, `None` for any.
fn types(schema: &Value) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a type of the old schema is still accepted by `new` types (`integer` ⊂ `number`).
fn covered(old: &str, new: &BTreeSet<String>) -> bool {
    new.contains(old) || (old == "integer" && new.contains("number"))
}

fn join_types(types: &BTreeSet<String>) -> String {
    types.iter().cloned().collect::<Vec<_>>().join(" or ")
}

/// The values a schema is restricted to (`enum`, or `const`), `None` for no restriction.
fn values(schema: &Value) -> Option<Vec<Value>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(values.clone());
    }
    schema.get("const").map(|value| vec![value.clone()])
}

fn join_values(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| {
            format!(
                "`{}`",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The alternatives of a union schema, or the schema itself.
fn variants(schema: &Value) -> Vec<&Value> {
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            return variants.iter().collect();
        }
    }
    vec![schema]
}

/// A short name for a union variant: its type name, tag, values or type.
fn variant_name(variant: &Value, index: usize) -> String {
    if let Some(reference) = text(variant, "$ref") {
        return format!("`{}`", reference.rsplit('/').next().unwrap_or(reference));
    }
    if let Some(values) = values(variant) {
        return join_values(&values.iter().collect::<Vec<_>>());
    }
    if let Some(properties) = variant.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if let Some(value) = property.get("const") {
                return format!("`{name}` = {}", join_values(&[value]));
            }
        }
        if properties.len() == 1 {
            let name = properties.keys().next().map_or("", String::as_str);
            return format!("`{name}`");
        }
    }
    if let Some(types) = types(variant) {
        return join_types(&types);
    }
    format!("#{}", index + 1)
}

fn properties(schema: &Value) -> BTreeMap<&str, &Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn required(schema: &Value) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

impl Diff<'_> {
    fn breaking(&mut self, description: String) {
        self.changes.push(Change {
            kind: ChangeKind::Breaking,
            description,
        });
    }

    fn additive(&mut self, description: String) {
        self.changes.push(Change {
            kind: ChangeKind::Additive,
            description,
        });
    }

    fn channels(&mut self) {
        let (old, new) = (self.old, self.new);
        let empty = Map::new();
        let old_channels = object(old, "/channels").unwrap_or(&empty);
        let new_channels = object(new, "/channels").unwrap_or(&empty);
        for (key, old_channel) in old_channels {
            let address = text(old_channel, "address").unwrap_or_default();
            let Some(new_channel) = new_channels.get(key) else {
                self.breaking(format!("channel `{key}` (address `{address}`) was removed"));
                continue;
            };
            let new_address = text(new_channel, "address").unwrap_or_default();
            if address != new_address {
                self.breaking(format!(
                    "channel `{key}` moved from address `{address}` to `{new_address}`"
                ));
            }
            let old_messages = object(old_channel, "/messages").unwrap_or(&empty);
            let new_messages = object(new_channel, "/messages").unwrap_or(&empty);
            for message in old_messages.keys() {
                if !new_messages.contains_key(message) {
                    self.breaking(format!(
                        "channel `{key}`: message `{message}` was removed from the channel"
                    ));
                }
            }
            for message in new_messages.keys() {
                if !old_messages.contains_key(message) {
                    self.additive(format!("channel `{key}`: new message `{message}`"));
                }
            }
            let old_parameters = object(old_channel, "/parameters").unwrap_or(&empty);
            let new_parameters = object(new_channel, "/parameters").unwrap_or(&empty);
            for (name, old_parameter) in old_parameters {
                let Some(new_parameter) = new_parameters.get(name) else {
                    continue; // the address changed, which is reported above
                };
                let at = At {
                    subject: Subject::Parameter(key, name),
                    path: Vec::new(),
                };
                self.parameter(&at, old_parameter, new_parameter);
            }
        }
        for (key, channel) in new_channels {
            if !old_channels.contains_key(key) {
                let address = text(channel, "address").unwrap_or_default();
                self.additive(format!("new channel `{key}` (address `{address}`)"));
            }
        }
    }

    fn parameter(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        if let (Some(old), Some(new)) = (old.get("x-schema"), new.get("x-schema")) {
            self.schema(at, old, new);
        } else {
            // Without schemas, compare the enumerations AsyncAPI itself has.
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("description");
                }
                v
            };
            self.schema(at, &strip(old), &strip(new));
        }
    }

    fn operations(&mut self) {
        let (old, new) = (self.old, self.new);
        let empty = Map::new();
        let old_operations = object(old, "/operations").unwrap_or(&empty);
        let new_operations = object(new, "/operations").unwrap_or(&empty);
        for (key, old_operation) in old_operations {
            let action = text(old_operation, "action").unwrap_or_default();
            let Some(new_operation) = new_operations.get(key) else {
                self.breaking(format!("operation `{key}` ({action}) was removed"));
                continue;
            };
            let new_action = text(new_operation, "action").unwrap_or_default();
            if action != new_action {
                self.breaking(format!(
                    "operation `{key}` changed action from {action} to {new_action}"
                ));
            }
            let channel = old_operation
                .pointer("/channel/$ref")
                .and_then(Value::as_str);
            let new_channel = new_operation
                .pointer("/channel/$ref")
                .and_then(Value::as_str);
            if channel != new_channel {
                self.breaking(format!(
                    "operation `{key}` moved from channel `{}` to `{}`",
                    channel
                        .unwrap_or_default()
                        .trim_start_matches("#/channels/"),
                    new_channel
                        .unwrap_or_default()
                        .trim_start_matches("#/channels/")
                ));
            }
        }
        for (key, operation) in new_operations {
            if !old_operations.contains_key(key) {
                let action = text(operation, "action").unwrap_or_default();
                self.additive(format!("new operation `{key}` ({action})"));
            }
        }
    }

    fn messages(&mut self) {
        let (old, new) = (self.old, self.new);
        let empty = Map::new();
        let old_messages = object(old, "/components/messages").unwrap_or(&empty);
        let new_messages = object(new, "/components/messages").unwrap_or(&empty);
        for (key, old_message) in old_messages {
            match new_messages.get(key) {
                None => self.breaking(format!("message `{key}` was removed")),
                Some(new_message) => self.message(key, old_message, new_message),
            }
        }
        for key in new_messages.keys() {
            if !old_messages.contains_key(key) {
                self.additive(format!("new message `{key}`"));
            }
        }
    }

    fn message(&mut self, key: &str, old: &Value, new: &Value) {
        if let (Some(a), Some(b)) = (text(old, "contentType"), text(new, "contentType"))
            && a != b
        {
            self.breaking(format!(
                "message `{key}`: content type changed from `{a}` to `{b}`"
            ));
        }
        match (old.get("payload"), new.get("payload")) {
            (Some(_), None) => self.breaking(format!("message `{key}`: the payload was removed")),
            (None, Some(_)) => self.additive(format!("message `{key}`: now has a payload")),
            (Some(a), Some(b)) => {
                let at = At {
                    subject: Subject::Payload(key),
                    path: Vec::new(),
                };
                self.schema(&at, a, b);
            }
            (None, None) => {}
        }
        // No headers: an object without properties.
        let no_headers = serde_json::json!({"type": "object", "properties": {}});
        let at = At {
            subject: Subject::Headers(key),
            path: Vec::new(),
        };
        self.schema(
            &at,
            old.get("headers").unwrap_or(&no_headers),
            new.get("headers").unwrap_or(&no_headers),
        );
        match (
            old.pointer("/bindings/kafka/key"),
            new.pointer("/bindings/kafka/key"),
        ) {
            (Some(_), None) => self.breaking(format!("message `{key}`: the Kafka key was removed")),
            (None, Some(_)) => self.additive(format!("message `{key}`: now has a Kafka key")),
            (Some(a), Some(b)) => {
                let at = At {
                    subject: Subject::KafkaKey(key),
                    path: Vec::new(),
                };
                self.schema(&at, a, b);
            }
            (None, None) => {}
        }
    }

    /// `schema`, following `$ref`s within `document` and single-element `allOf`s (which draft 7
    /// uses to give a `$ref` a description).
    fn resolve<'v>(document: &'v Value, mut schema: &'v Value) -> (&'v Value, Option<String>) {
        let mut reference = None;
        for _ in 0..32 {
            if let Some(r) = text(schema, "$ref") {
                let Some(target) = r.strip_prefix('#').and_then(|p| document.pointer(p)) else {
                    break;
                };
                reference = Some(r.to_owned());
                schema = target;
            } else if let Some([single]) = schema
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && schema.get("properties").is_none()
                && schema.get("type").is_none()
            {
                schema = single;
            } else {
                break;
            }
        }
        (schema, reference)
    }

    /// How many breaking changes comparing `old` with `new` at `at` would report.
    fn breaking_count(&self, at: &At<'_>, old: &Value, new: &Value) -> usize {
        let mut scratch = Diff {
            old: self.old,
            new: self.new,
            changes: Vec::new(),
            stack: self.stack.clone(),
        };
        scratch.schema(at, old, new);
        scratch
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Breaking)
            .count()
    }

    fn schema(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        let (old, old_ref) = Self::resolve(self.old, old);
        let (new, new_ref) = Self::resolve(self.new, new);
        let pair = (old_ref.unwrap_or_default(), new_ref.unwrap_or_default());
        let recursive = !(pair.0.is_empty() && pair.1.is_empty());
        if recursive {
            if self.stack.contains(&pair) {
                return;
            }
            self.stack.push(pair);
        }
        self.schema_resolved(at, old, new);
        if recursive {
            self.stack.pop();
        }
    }

    fn schema_resolved(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        let old_variants = variants(old);
        let new_variants = variants(new);
        if old_variants.len() > 1 || new_variants.len() > 1 {
            self.union(at, &old_variants, &new_variants);
            return;
        }
        self.types(at, old, new);
        self.values(at, old, new);
        self.properties(at, old, new);
        if let (Some(a), Some(b)) = (old.get("items"), new.get("items"))
            && a.is_object()
            && b.is_object()
        {
            self.schema(&at.child("[]"), a, b);
        }
        if let (Some(a), Some(b)) = (
            old.get("additionalProperties"),
            new.get("additionalProperties"),
        ) && a.is_object()
            && b.is_object()
        {
            self.schema(&at.child("*"), a, b);
        }
    }

    fn union(&mut self, at: &At<'_>, old: &[&Value], new: &[&Value]) {
        let mut matched = vec![false; new.len()];
        for (i, old_variant) in old.iter().enumerate() {
            let found = new.iter().enumerate().find(|(j, new_variant)| {
                !matched[*j] && self.breaking_count(at, old_variant, new_variant) == 0
            });
            match found {
                Some((j, new_variant)) => {
                    matched[j] = true;
                    self.schema(at, old_variant, new_variant);
                }
                None => self.breaking(format!(
                    "{} no longer accepts the variant {}",
                    at.describe(),
                    variant_name(old_variant, i)
                )),
            }
        }
        for (j, new_variant) in new.iter().enumerate() {
            if !matched[j] {
                self.additive(format!(
                    "{} also accepts the variant {}",
                    at.describe(),
                    variant_name(new_variant, j)
                ));
            }
        }
    }

    fn types(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        match (types(old), types(new)) {
            (Some(old_types), Some(new_types)) => {
                if old_types.iter().any(|t| !covered(t, &new_types)) {
                    self.breaking(format!(
                        "{} narrowed from type {} to {}",
                        at.describe(),
                        join_types(&old_types),
                        join_types(&new_types)
                    ));
                } else if new_types.iter().any(|t| !covered(t, &old_types)) {
                    self.additive(format!(
                        "{} widened from type {} to {}",
                        at.describe(),
                        join_types(&old_types),
                        join_types(&new_types)
                    ));
                }
            }
            (None, Some(new_types)) => self.breaking(format!(
                "{} narrowed from any type to {}",
                at.describe(),
                join_types(&new_types)
            )),
            (Some(old_types), None) => self.additive(format!(
                "{} widened from type {} to any type",
                at.describe(),
                join_types(&old_types)
            )),
            (None, None) => {}
        }
    }

    fn values(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        match (values(old), values(new)) {
            (Some(old_values), Some(new_values)) => {
                let removed: Vec<&Value> = old_values
                    .iter()
                    .filter(|v| !new_values.contains(v))
                    .collect();
                let added: Vec<&Value> = new_values
                    .iter()
                    .filter(|v| !old_values.contains(v))
                    .collect();
                if !removed.is_empty() {
                    self.breaking(format!(
                        "{} no longer accepts the value(s) {}",
                        at.describe(),
                        join_values(&removed)
                    ));
                }
                if !added.is_empty() {
                    self.additive(format!(
                        "{} accepts the new value(s) {}",
                        at.describe(),
                        join_values(&added)
                    ));
                }
            }
            (None, Some(new_values)) => self.breaking(format!(
                "{} is now restricted to the value(s) {}",
                at.describe(),
                join_values(&new_values.iter().collect::<Vec<_>>())
            )),
            (Some(_), None) => self.additive(format!(
                "{} is no longer restricted to a list of values",
                at.describe()
            )),
            (None, None) => {}
        }
    }

    fn properties(&mut self, at: &At<'_>, old: &Value, new: &Value) {
        let old_properties = properties(old);
        let new_properties = properties(new);
        let old_required = required(old);
        let new_required = required(new);
        let mut removed: Vec<&str> = old_properties
            .keys()
            .filter(|k| !new_properties.contains_key(*k))
            .copied()
            .collect();
        let mut added: Vec<&str> = new_properties
            .keys()
            .filter(|k| !old_properties.contains_key(*k))
            .copied()
            .collect();
        // A field removed and one added with the same schema: a rename.
        removed.retain(|name| {
            let schema = old_properties[name];
            let Some(position) = added.iter().position(|a| new_properties[a] == schema) else {
                return true;
            };
            let renamed = added.remove(position);
            let child = at.child(*name);
            self.breaking(format!("{} was renamed to `{renamed}`", child.describe()));
            false
        });
        for name in removed {
            self.breaking(format!("{} was removed", at.child(name).describe()));
        }
        for name in added {
            let child = at.child(name);
            if new_required.contains(name) {
                self.breaking(format!(
                    "new required {}: {}",
                    child.noun(),
                    child.describe()
                ));
            } else {
                self.additive(format!(
                    "new optional {}: {}",
                    child.noun(),
                    child.describe()
                ));
            }
        }
        for (name, old_property) in &old_properties {
            let Some(new_property) = new_properties.get(name) else {
                continue;
            };
            let child = at.child(*name);
            match (old_required.contains(name), new_required.contains(name)) {
                (false, true) => self.breaking(format!("{} is now required", child.describe())),
                (true, false) => {
                    self.additive(format!("{} is no longer required", child.describe()));
                }
                _ => {}
            }
            self.schema(&child, old_property, new_property);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A document with one receive channel `OnOrder` on `orders.{region}`, message `OnOrderMessage`
    /// with headers (`correlation-id` required, `attempt` optional) and an `Order` payload.
    fn base() -> Value {
        json!({
            "asyncapi": "3.0.0",
            "info": {"title": "Orders", "version": "1.0.0"},
            "channels": {
                "OnOrder": {
                    "address": "orders.{region}",
                    "messages": {"OnOrderMessage": {"$ref": "#/components/messages/OnOrderMessage"}},
                    "parameters": {"region": {"enum": ["eu", "us"], "x-schema": {"$ref": "#/components/schemas/Region"}}}
                }
            },
            "operations": {
                "receiveOnOrder": {"action": "receive", "channel": {"$ref": "#/channels/OnOrder"}}
            },
            "components": {
                "messages": {
                    "OnOrderMessage": {
                        "contentType": "application/json",
                        "headers": {"$ref": "#/components/schemas/OnOrderMessageHeaders"},
                        "payload": {"$ref": "#/components/schemas/Order"}
                    }
                },
                "schemas": {
                    "OnOrderMessageHeaders": {
                        "type": "object",
                        "properties": {
                            "correlation-id": {"type": "string"},
                            "attempt": {"type": "integer"}
                        },
                        "required": ["correlation-id"]
                    },
                    "Order": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "note": {"type": ["string", "null"]},
                            "status": {"$ref": "#/components/schemas/Status"},
                            "address": {"$ref": "#/components/schemas/Address"},
                            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}
                        },
                        "required": ["id", "status", "address", "lines"]
                    },
                    "Status": {"type": "string", "enum": ["new", "paid", "shipped"]},
                    "Address": {
                        "type": "object",
                        "properties": {"street": {"type": "string"}, "town": {"type": "string"}},
                        "required": ["street", "town"]
                    },
                    "Line": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                        "required": ["sku", "quantity"]
                    },
                    "Region": {"type": "string", "enum": ["eu", "us"]}
                }
            }
        })
    }

    fn edit(f: impl FnOnce(&mut Value)) -> Value {
        let mut doc = base();
        f(&mut doc);
        doc
    }

    fn at<'v>(doc: &'v mut Value, pointer: &str) -> &'v mut Value {
        doc.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("no {pointer}"))
    }

    fn obj<'v>(doc: &'v mut Value, pointer: &str) -> &'v mut Map<String, Value> {
        at(doc, pointer).as_object_mut().unwrap()
    }

    fn breaking(new: &Value) -> Vec<String> {
        compare(&base(), new)
            .into_iter()
            .filter(|c| c.kind == ChangeKind::Breaking)
            .map(|c| c.description)
            .collect()
    }

    #[track_caller]
    fn assert_breaking(new: &Value, expected: &[&str]) {
        assert_eq!(
            breaking(new),
            expected,
            "all changes: {:#?}",
            compare(&base(), new)
        );
    }

    #[test]
    fn identical_documents_have_no_changes() {
        assert_eq!(compare(&base(), &base()), []);
    }

    #[test]
    fn removed_channel() {
        let new = edit(|d| {
            obj(d, "/channels").remove("OnOrder");
        });
        assert_breaking(
            &new,
            &["channel `OnOrder` (address `orders.{region}`) was removed"],
        );
    }

    #[test]
    fn moved_channel() {
        let new = edit(|d| *at(d, "/channels/OnOrder/address") = json!("orders.{region}.v2"));
        assert_breaking(
            &new,
            &["channel `OnOrder` moved from address `orders.{region}` to `orders.{region}.v2`"],
        );
    }

    #[test]
    fn removed_operation() {
        let new = edit(|d| {
            obj(d, "/operations").remove("receiveOnOrder");
        });
        assert_breaking(&new, &["operation `receiveOnOrder` (receive) was removed"]);
    }

    #[test]
    fn removed_message() {
        let new = edit(|d| {
            obj(d, "/components/messages").remove("OnOrderMessage");
            obj(d, "/channels/OnOrder/messages").remove("OnOrderMessage");
        });
        assert_breaking(
            &new,
            &[
                "channel `OnOrder`: message `OnOrderMessage` was removed from the channel",
                "message `OnOrderMessage` was removed",
            ],
        );
    }

    #[test]
    fn removed_payload_field() {
        let new = edit(|d| {
            obj(d, "/components/schemas/Order/properties").remove("note");
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: payload field `note` was removed"],
        );
    }

    #[test]
    fn removed_nested_field_behind_refs() {
        let new = edit(|d| {
            obj(d, "/components/schemas/Line/properties").remove("quantity");
            *at(d, "/components/schemas/Line/required") = json!(["sku"]);
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: payload field `lines[].quantity` was removed"],
        );
    }

    #[test]
    fn renamed_payload_field() {
        let new = edit(|d| {
            let properties = obj(d, "/components/schemas/Address/properties");
            let town = properties.remove("town").unwrap();
            properties.insert("city".into(), town);
            *at(d, "/components/schemas/Address/required") = json!(["street", "city"]);
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: payload field `address.town` was renamed to `city`"],
        );
    }

    #[test]
    fn removed_header() {
        let new = edit(|d| {
            obj(d, "/components/schemas/OnOrderMessageHeaders/properties").remove("attempt");
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: header `attempt` was removed"],
        );
    }

    #[test]
    fn renamed_header() {
        let new = edit(|d| {
            let headers = obj(d, "/components/schemas/OnOrderMessageHeaders/properties");
            let id = headers.remove("correlation-id").unwrap();
            headers.insert("x-correlation-id".into(), id);
            *at(d, "/components/schemas/OnOrderMessageHeaders/required") =
                json!(["x-correlation-id"]);
        });
        assert_breaking(
            &new,
            &[
                "message `OnOrderMessage`: header `correlation-id` was renamed to `x-correlation-id`",
            ],
        );
    }

    #[test]
    fn new_required_field() {
        let new = edit(|d| {
            obj(d, "/components/schemas/Address/properties")
                .insert("postcode".into(), json!({"type": "string"}));
            *at(d, "/components/schemas/Address/required") = json!(["street", "town", "postcode"]);
        });
        assert_breaking(
            &new,
            &["new required field: message `OnOrderMessage`: payload field `address.postcode`"],
        );
    }

    #[test]
    fn new_required_header() {
        let new = edit(|d| {
            obj(d, "/components/schemas/OnOrderMessageHeaders/properties")
                .insert("tenant".into(), json!({"type": "string"}));
            *at(d, "/components/schemas/OnOrderMessageHeaders/required") =
                json!(["correlation-id", "tenant"]);
        });
        assert_breaking(
            &new,
            &["new required header: message `OnOrderMessage`: header `tenant`"],
        );
    }

    #[test]
    fn headers_where_there_were_none() {
        let old = edit(|d| {
            obj(d, "/components/messages/OnOrderMessage").remove("headers");
        });
        let changes = compare(&old, &base());
        assert!(is_breaking(&changes), "{changes:#?}");
        assert_eq!(
            changes[0].description,
            "new required header: message `OnOrderMessage`: header `correlation-id`"
        );
    }

    #[test]
    fn field_that_became_required() {
        let new = edit(|d| {
            *at(d, "/components/schemas/Order/required") =
                json!(["id", "note", "status", "address", "lines"]);
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: payload field `note` is now required"],
        );
    }

    #[test]
    fn narrowed_type() {
        let new = edit(|d| {
            *at(d, "/components/schemas/Order/properties/id") = json!({"type": "integer"});
        });
        assert_breaking(
            &new,
            &["message `OnOrderMessage`: payload field `id` narrowed from type string to integer"],
        );
        let new = edit(|d| {
            *at(d, "/components/schemas/Order/properties/note") = json!({"type": "string"});
        });
        assert_breaking(
            &new,
            &[
                "message `OnOrderMessage`: payload field `note` narrowed from type null or string to string",
            ],
        );
    }

    #[test]
    fn enum_values_removed() {
        let new = edit(|d| {
            *at(d, "/components/schemas/Status/enum") = json!(["new", "paid"]);
        });
        assert_breaking(
            &new,
            &[
                "message `OnOrderMessage`: payload field `status` no longer accepts the value(s) `shipped`",
            ],
        );
    }

    #[test]
    fn parameter_values_removed() {
        let new = edit(|d| {
            *at(d, "/components/schemas/Region/enum") = json!(["eu"]);
        });
        assert_breaking(
            &new,
            &["channel `OnOrder`: parameter `region` no longer accepts the value(s) `us`"],
        );
    }

    #[test]
    fn union_variant_removed() {
        let old = edit(|d| {
            *at(d, "/components/schemas/Order/properties/address") = json!({
                "anyOf": [{"$ref": "#/components/schemas/Address"}, {"type": "null"}]
            });
        });
        let changes = compare(&old, &base());
        assert_eq!(
            changes,
            [Change {
                kind: ChangeKind::Breaking,
                description: "message `OnOrderMessage`: payload field `address` no longer \
                              accepts the variant null"
                    .to_owned()
            }]
        );
        // And back: accepting `null` as well is additive.
        let changes = compare(&base(), &old);
        assert!(!is_breaking(&changes), "{changes:#?}");
    }

    #[test]
    fn content_type_and_payload() {
        let new = edit(|d| {
            *at(d, "/components/messages/OnOrderMessage/contentType") = json!("text/plain");
            obj(d, "/components/messages/OnOrderMessage").remove("payload");
        });
        assert_breaking(
            &new,
            &[
                "message `OnOrderMessage`: content type changed from `application/json` to \
                 `text/plain`",
                "message `OnOrderMessage`: the payload was removed",
            ],
        );
    }

    #[test]
    fn additive_changes_pass_and_are_listed() {
        let new = edit(|d| {
            obj(d, "/channels").insert(
                "OrderShipped".into(),
                json!({"address": "orders.shipped", "messages": {"OrderShipped": {"$ref": "#/components/messages/OrderShipped"}}}),
            );
            obj(d, "/operations").insert(
                "sendOrderShipped".into(),
                json!({"action": "send", "channel": {"$ref": "#/channels/OrderShipped"}}),
            );
            obj(d, "/components/messages").insert("OrderShipped".into(), json!({}));
            obj(d, "/components/schemas/Order/properties")
                .insert("coupon".into(), json!({"type": "string"}));
            obj(d, "/components/schemas/OnOrderMessageHeaders/properties")
                .insert("tenant".into(), json!({"type": "string"}));
            *at(d, "/components/schemas/Line/properties/quantity") = json!({"type": "number"});
            *at(d, "/components/schemas/Status/enum") = json!(["new", "paid", "shipped", "lost"]);
            *at(d, "/components/schemas/Order/required") = json!(["id", "status", "lines"]);
        });
        let changes = compare(&base(), &new);
        assert!(!is_breaking(&changes), "{changes:#?}");
        let described: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            described,
            [
                "additive: new channel `OrderShipped` (address `orders.shipped`)",
                "additive: new operation `sendOrderShipped` (send)",
                "additive: new optional field: message `OnOrderMessage`: payload field `coupon`",
                "additive: message `OnOrderMessage`: payload field `address` is no longer required",
                "additive: message `OnOrderMessage`: payload field `lines[].quantity` widened from \
                 type integer to number",
                "additive: message `OnOrderMessage`: payload field `status` accepts the new \
                 value(s) `lost`",
                "additive: new optional header: message `OnOrderMessage`: header `tenant`",
                "additive: new message `OrderShipped`",
            ]
        );
    }

    #[test]
    fn recursive_schemas_terminate() {
        let tree = json!({
            "components": {"messages": {"M": {"payload": {"$ref": "#/components/schemas/Node"}}},
            "schemas": {"Node": {"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            }}}}
        });
        assert_eq!(compare(&tree, &tree), []);
    }
}
