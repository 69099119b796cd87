//! Assembling the document: one fold over the application's channels, then over the messages
//! they send.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::doc::{BindingMap, OperationDoc, OperationParts, object_schema};
use super::outgoing::{OutgoingMessage, Sends};
use super::schema::{self, COMPONENTS_SCHEMAS};
use super::{SpecVersion, pascal_case};
use crate::AsyncFast;
use crate::handler::ChannelMeta;

/// Used when neither the application nor its channels' package give a title.
const DEFAULT_TITLE: &str = "AsyncFast application";
/// Used when neither the application nor its channels' package give a version.
const DEFAULT_VERSION: &str = "0.1.0";

/// The headers of every reply: the request's correlation id, and the reason of an error reply.
fn reply_headers() -> Value {
    json!({
        "type": "object",
        "properties": {
            crate::reply::CORRELATION_ID_HEADER: {
                "type": "string",
                "description": "The request's correlation id.",
            },
            crate::reply::REPLY_ERROR_HEADER: {
                "type": "string",
                "description": "Set on an error reply (which has no payload): why the request failed.",
            },
        },
    })
}

/// The document of `app`.
pub(crate) fn build(app: &AsyncFast, version: SpecVersion) -> Value {
    let mut generator = schema::generator();
    let mut builder = Builder::default();
    let mut outgoing = Vec::new();
    for meta in app.channels().filter(|meta| !meta.is_hidden()) {
        let mut doc = OperationDoc::new(&mut generator, meta.address());
        for spec in meta.param_specs() {
            if let Some(document) = spec.document_fn() {
                document(spec, &mut doc);
            }
        }
        let parts = doc.finish();
        let mut reply = None;
        if let Some(sends) = meta.sends_fn() {
            let mut sends_to = Sends::new(&mut outgoing);
            sends(&mut sends_to);
            reply = sends_to.take_reply();
        }
        let reply = reply.map(|reply| {
            let mut doc = OperationDoc::new(&mut generator, meta.address());
            (reply.describe)(&mut doc);
            doc.finish()
        });
        builder.receive(meta, parts, reply);
    }
    for message in &outgoing {
        let mut doc = OperationDoc::new(&mut generator, message.address);
        (message.describe)(&mut doc);
        builder.send(message, doc.finish());
    }
    let definitions = generator
        .take_definitions(true)
        .into_iter()
        .map(|(name, schema)| (name, object_schema(schema)))
        .collect();
    builder.finish(app, version, definitions)
}

/// Keys already used in one map of the document; a key taken twice gets a number (`Name2`, …),
/// in the order things are added, so that nothing is overwritten and the result is stable.
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Names {
    fn claim(&mut self, base: &str) -> String {
        let base = sanitize(base);
        let mut name = base.clone();
        let mut n = 2;
        while self.0.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.0.insert(name.clone());
        name
    }
}

/// Keys of components are made of letters, digits, `.`, `-` and `_`.
fn sanitize(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "_".to_owned()
    } else {
        name
    }
}

/// A message, waiting for its headers schema to be named.
struct MessageEntry {
    key: String,
    object: Map<String, Value>,
    headers: Option<Value>,
}

#[derive(Default)]
struct Builder {
    channels: Map<String, Value>,
    operations: Map<String, Value>,
    messages: Vec<MessageEntry>,
    channel_names: Names,
    message_names: Names,
    operation_names: Names,
}

/// The first paragraph of a doc comment on one line, and the whole text when it says more.
fn summary_and_description(text: &str) -> (String, Option<String>) {
    let text = text.trim();
    let first = text.split("\n\n").next().unwrap_or_default();
    let summary = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let description = (first.len() < text.len()).then(|| text.to_owned());
    (summary, description)
}

fn insert_docs(object: &mut Map<String, Value>, text: Option<&str>) {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return;
    };
    let (summary, description) = summary_and_description(text);
    object.insert("summary".to_owned(), summary.into());
    if let Some(description) = description {
        object.insert("description".to_owned(), description.into());
    }
}

fn bindings_value(bindings: BindingMap) -> Option<Value> {
    (!bindings.is_empty()).then(|| {
        bindings
            .into_iter()
            .map(|(protocol, fields)| (protocol, Value::Object(fields)))
            .collect::<Map<_, _>>()
            .into()
    })
}

fn reference(path: &str) -> Value {
    json!({ "$ref": path })
}

/// One operation's keys and texts.
struct Entry<'a> {
    action: &'static str,
    address: &'a str,
    channel_key: String,
    message_key: String,
    operation_key: String,
    channel_description: Option<&'a str>,
    operation_docs: Option<&'a str>,
    message_docs: Option<&'a str>,
}

impl Builder {
    /// The channel, message and `receive…` operation of one handler, and the `reply` of that
    /// operation when the handler answers requests.
    fn receive(
        &mut self,
        meta: &ChannelMeta,
        parts: OperationParts,
        reply: Option<OperationParts>,
    ) {
        let channel_key = self.channel_names.claim(&pascal_case(meta.name()));
        let message_key = self.message_names.claim(&format!("{channel_key}Message"));
        let operation_key = self.operation_names.claim(&format!("receive{channel_key}"));
        self.add(
            Entry {
                action: "receive",
                address: meta.address(),
                channel_key: channel_key.clone(),
                message_key,
                operation_key: operation_key.clone(),
                channel_description: meta.description_text(),
                operation_docs: meta.description_text(),
                message_docs: None,
            },
            parts,
        );
        if let Some(reply) = reply {
            self.reply(&channel_key, &operation_key, reply);
        }
    }

    /// The reply of operation `operation_key`: a channel without an address (the requester
    /// names it in the request's `reply-to` header) holding the reply message.
    fn reply(&mut self, channel_key: &str, operation_key: &str, parts: OperationParts) {
        let reply_channel = self.channel_names.claim(&format!("{channel_key}Reply"));
        let reply_message = self.message_names.claim(&format!("{channel_key}Reply"));
        let mut message = Map::new();
        if let Some((payload, content_type)) = parts.payload {
            message.insert("payload".to_owned(), payload);
            if let Some(content_type) = content_type {
                message.insert("contentType".to_owned(), content_type.into());
            }
        }
        message.insert(
            "summary".to_owned(),
            "The answer, sent to the request's reply address with its correlation id.".into(),
        );
        self.messages.push(MessageEntry {
            key: reply_message.clone(),
            object: message,
            headers: Some(reply_headers()),
        });
        let channel_ref = format!("#/channels/{reply_channel}");
        self.channels.insert(
            reply_channel.clone(),
            json!({
                "address": null,
                "description": "The reply address the requester names in its `reply-to` header.",
                "messages": {
                    &reply_message: reference(&format!("#/components/messages/{reply_message}")),
                },
            }),
        );
        if let Some(Value::Object(operation)) = self.operations.get_mut(operation_key) {
            operation.insert(
                "reply".to_owned(),
                json!({
                    "address": { "location": "$message.header#/reply-to" },
                    "channel": reference(&channel_ref),
                    "messages": [reference(&format!("{channel_ref}/messages/{reply_message}"))],
                }),
            );
        }
    }

    /// The channel, message and `send…` operation of one outgoing message type.
    fn send(&mut self, message: &OutgoingMessage, parts: OperationParts) {
        let channel_key = self.channel_names.claim(message.name);
        let message_key = self.message_names.claim(message.name);
        let operation_key = self.operation_names.claim(&format!("send{message_key}"));
        let summary = message
            .documentation
            .map(|text| summary_and_description(text).0);
        self.add(
            Entry {
                action: "send",
                address: message.address,
                channel_key,
                message_key,
                operation_key,
                channel_description: None,
                operation_docs: summary.as_deref(),
                message_docs: message.documentation,
            },
            parts,
        );
    }

    fn add(&mut self, entry: Entry<'_>, parts: OperationParts) {
        let Entry {
            action,
            address,
            channel_key,
            message_key,
            operation_key,
            channel_description,
            operation_docs,
            message_docs,
        } = entry;

        let mut channel = Map::new();
        channel.insert("address".to_owned(), address.into());
        channel.insert(
            "messages".to_owned(),
            json!({ &message_key: reference(&format!("#/components/messages/{message_key}")) }),
        );
        if !parts.parameters.is_empty() {
            channel.insert("parameters".to_owned(), parts.parameters.into());
        }
        if let Some(description) = channel_description {
            channel.insert("description".to_owned(), description.into());
        }
        if let Some(bindings) = bindings_value(parts.channel_bindings) {
            channel.insert("bindings".to_owned(), bindings);
        }

        let mut message = Map::new();
        if let Some((payload, content_type)) = parts.payload {
            message.insert("payload".to_owned(), payload);
            if let Some(content_type) = content_type {
                message.insert("contentType".to_owned(), content_type.into());
            }
        }
        if let Some(bindings) = bindings_value(parts.message_bindings) {
            message.insert("bindings".to_owned(), bindings);
        }
        insert_docs(&mut message, message_docs);

        let channel_ref = format!("#/channels/{channel_key}");
        let mut operation = Map::new();
        operation.insert("action".to_owned(), action.into());
        operation.insert("channel".to_owned(), reference(&channel_ref));
        operation.insert(
            "messages".to_owned(),
            json!([reference(&format!("{channel_ref}/messages/{message_key}"))]),
        );
        insert_docs(&mut operation, operation_docs);
        if let Some(bindings) = bindings_value(parts.operation_bindings) {
            operation.insert("bindings".to_owned(), bindings);
        }

        self.messages.push(MessageEntry {
            key: message_key,
            object: message,
            headers: parts.headers,
        });
        self.channels.insert(channel_key, channel.into());
        self.operations.insert(operation_key, operation.into());
    }

    /// The document: names the headers schemas (after every type's schema, so that types keep
    /// their names) and fills in `info`.
    fn finish(
        self,
        app: &AsyncFast,
        version: SpecVersion,
        mut schemas: Map<String, Value>,
    ) -> Value {
        let mut schema_names = Names(schemas.keys().cloned().collect());
        let mut messages = Map::new();
        for entry in self.messages {
            let mut object = entry.object;
            if let Some(headers) = entry.headers {
                let name = schema_names.claim(&format!("{}Headers", entry.key));
                object.insert(
                    "headers".to_owned(),
                    reference(&format!("{COMPONENTS_SCHEMAS}{name}")),
                );
                schemas.insert(name, headers);
            }
            messages.insert(entry.key, object.into());
        }
        let mut components = Map::new();
        components.insert("messages".to_owned(), messages.into());
        if !schemas.is_empty() {
            components.insert("schemas".to_owned(), schemas.into());
        }

        let mut document = Map::new();
        document.insert("asyncapi".to_owned(), version.as_str().into());
        document.insert("info".to_owned(), info(app));
        let servers: Map<String, Value> = app
            .info
            .servers
            .iter()
            .map(|(name, server)| (name.clone(), server.to_value()))
            .collect();
        if !servers.is_empty() {
            document.insert("servers".to_owned(), servers.into());
        }
        document.insert("channels".to_owned(), self.channels.into());
        document.insert("operations".to_owned(), self.operations.into());
        document.insert("components".to_owned(), components.into());
        document.into()
    }
}

/// `info`: what the application sets, else the package of its first channel, else defaults.
fn info(app: &AsyncFast) -> Value {
    let package = app
        .channels()
        .map(ChannelMeta::package_info)
        .find(|package| !package.name.is_empty())
        .unwrap_or_default();
    let or = |set: &Option<String>, package: &str, default: &str| {
        set.clone().unwrap_or_else(|| {
            if package.is_empty() {
                default.to_owned()
            } else {
                package.to_owned()
            }
        })
    };
    let mut info = Map::new();
    info.insert(
        "title".to_owned(),
        or(&app.info.title, package.name, DEFAULT_TITLE).into(),
    );
    info.insert(
        "version".to_owned(),
        or(&app.info.version, package.version, DEFAULT_VERSION).into(),
    );
    let description = or(&app.info.description, package.description, "");
    if !description.is_empty() {
        info.insert("description".to_owned(), description.into());
    }
    info.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_overwrite() {
        let mut names = Names::default();
        assert_eq!(names.claim("Order"), "Order");
        assert_eq!(names.claim("Order"), "Order2");
        assert_eq!(names.claim("Order"), "Order3");
        assert_eq!(names.claim("Order Placed!"), "Order_Placed_");
    }

    #[test]
    fn summaries_are_first_paragraphs() {
        assert_eq!(
            summary_and_description("Greets users."),
            ("Greets users.".to_owned(), None)
        );
        assert_eq!(
            summary_and_description("Greets\nusers.\n\nThen waits."),
            (
                "Greets users.".to_owned(),
                Some("Greets\nusers.\n\nThen waits.".to_owned())
            )
        );
    }
}
