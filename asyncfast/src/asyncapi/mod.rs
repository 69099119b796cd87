//! The AsyncAPI 3.0 document of an application (minimal for now: `info` and `channels`).
//!
//! Channels are keyed by the `PascalCase` of the handler's name (`handle_user_created` →
//! `HandleUserCreated`) and carry the address, description and placeholders as parameters.

use serde_json::{Map, Value, json};

use crate::AsyncFast;
use crate::router::{Part, parse};

/// The AsyncAPI version written.
pub const ASYNCAPI_VERSION: &str = "3.0.0";

/// `handle_user_created` → `HandleUserCreated`.
///
/// ```
/// assert_eq!(asyncfast::asyncapi::pascal_case("handle_user_created"), "HandleUserCreated");
/// assert_eq!(asyncfast::asyncapi::pascal_case("order-v2.done"), "OrderV2Done");
/// ```
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The document for `app`.
///
/// ```
/// use asyncfast::prelude::*;
///
/// /// Greets users.
/// #[channel("user.created")]
/// async fn handle_user_created(email: Payload<String>) {}
///
/// let doc = asyncfast::asyncapi::document(&AsyncFast::empty().title("Users").channel(handler!(handle_user_created)));
/// assert_eq!(doc["asyncapi"], "3.0.0");
/// assert_eq!(doc["channels"]["HandleUserCreated"]["address"], "user.created");
/// assert_eq!(doc["channels"]["HandleUserCreated"]["description"], "Greets users.");
/// ```
pub fn document(app: &AsyncFast) -> Value {
    let mut info = Map::new();
    info.insert("title".into(), app.info.title.clone().into());
    info.insert("version".into(), app.info.version.clone().into());
    if let Some(description) = &app.info.description {
        info.insert("description".into(), description.clone().into());
    }
    let mut channels = Map::new();
    for meta in app.channels() {
        let mut channel = Map::new();
        channel.insert("address".into(), meta.address().into());
        if let Some(description) = meta.description_text() {
            channel.insert("description".into(), description.into());
        }
        if let Ok(template) = parse(meta.address()) {
            let parameters: Map<String, Value> = template
                .parts()
                .into_iter()
                .filter_map(|part| match part {
                    Part::Placeholder(name) => Some((name.to_owned(), json!({}))),
                    Part::Literal(_) => None,
                })
                .collect();
            if !parameters.is_empty() {
                channel.insert("parameters".into(), parameters.into());
            }
        }
        channels.insert(pascal_case(meta.name()), channel.into());
    }
    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": info,
        "channels": channels,
    })
}
