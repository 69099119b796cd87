//! Attribute keywords, and helpers shared by the macros.

use proc_macro2::Span;
use syn::{Attribute, Expr, Lit, Meta, Path};

/// `#[channel(…, name = "…")]`.
pub(crate) const NAME: &str = "name";
/// `#[channel(…, description = "…")]`.
pub(crate) const DESCRIPTION: &str = "description";
/// `crate = path`, on `#[channel]` and `#[message]`.
pub(crate) const CRATE: &str = "crate";
/// `#[channel(…, sends = [A, B])]`: the messages the handler sends through a `MessageSender`.
pub(crate) const SENDS: &str = "sends";
/// The options of `#[channel]` after the address.
pub(crate) const CHANNEL_OPTIONS: &[&str] = &[NAME, DESCRIPTION, SENDS, CRATE];

/// `#[header(…)]`, on handler parameters and message fields.
pub(crate) const HEADER: &str = "header";
/// `#[header(alias = "…")]`.
pub(crate) const ALIAS: &str = "alias";
/// `#[header(default = expr)]`.
pub(crate) const DEFAULT: &str = "default";
/// The options of `#[header]` on a handler parameter (`description` is [`DESCRIPTION`]).
pub(crate) const HEADER_OPTIONS: &[&str] = &[ALIAS, DEFAULT, DESCRIPTION];

/// `#[message(…)]` on a message struct.
pub(crate) const MESSAGE: &str = "message";
/// `#[message(address = "…")]`.
pub(crate) const ADDRESS: &str = "address";
/// The options of `#[message]`.
pub(crate) const MESSAGE_OPTIONS: &[&str] = &[ADDRESS, NAME, CRATE];
/// `#[payload]` on a message field.
pub(crate) const PAYLOAD: &str = "payload";
/// `#[binding(kind)]` on a message field.
pub(crate) const BINDING: &str = "binding";
/// The binding fields `#[binding(…)]` accepts; each is a setter in
/// `asyncfast::__private::binding_fields`.
pub(crate) const BINDING_FIELDS: &[&str] = &[
    "kafka_key",
    "kafka_partition",
    "mqtt_qos",
    "mqtt_retain",
    "mqtt_content_type",
    "mqtt_response_topic",
    "mqtt_correlation_data",
    "mqtt_message_expiry",
    "sqs_message_group_id",
    "sqs_deduplication_id",
    "sqs_delay_seconds",
    "amqp_routing_key",
    "amqp_priority",
    "amqp_correlation_id",
    "amqp_reply_to",
    "amqp_expiration",
    "amqp_message_id",
    "amqp_delivery_mode",
    "nats_reply",
    "redis_stream_id",
    "redis_maxlen",
];

/// The binding fields whose value's schema goes in the AsyncAPI message binding object: the
/// protocol and the field of its message binding object.
pub(crate) fn documented_binding(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "kafka_key" => Some(("kafka", "key")),
        "mqtt_correlation_data" => Some(("mqtt", "correlationData")),
        "mqtt_response_topic" => Some(("mqtt", "responseTopic")),
        _ => None,
    }
}

/// Collects errors, keeping every one (as `serde_derive`'s `Ctxt` does).
#[derive(Default)]
pub(crate) struct Errors {
    error: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Lists options: `` `a`, `b` or `c` ``.
pub(crate) fn one_of(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The error for an option key not in `options` inside `#[{attribute}(…)]`.
pub(crate) fn unknown_option(
    meta: &syn::meta::ParseNestedMeta,
    attribute: &str,
    options: &[&str],
) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    meta.error(format!(
        "unknown `#[{attribute}]` option `{key}`\n\n= help: the options are {}",
        one_of(options)
    ))
}

/// The default path of the library.
pub(crate) fn default_crate() -> Path {
    syn::parse_quote!(::asyncfast)
}

/// Whether `tokens` contain the keyword `impl` (an `impl Trait` type cannot be named).
pub(crate) fn contains_impl(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}

/// `Some("text")` or `None`, as tokens.
pub(crate) fn option_str(text: Option<&str>) -> proc_macro2::TokenStream {
    text.map_or_else(
        || quote::quote!(::std::option::Option::None),
        |text| quote::quote!(::std::option::Option::Some(#text)),
    )
}

/// An expression with the schema of value type `ty` (raw bytes, its `JsonSchema`, or a string),
/// drawn from `generator` (an expression of type `&mut SchemaGenerator`).
pub(crate) fn value_schema(
    krate: &Path,
    ty: &syn::Type,
    generator: &proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    quote::quote! {{
        #[allow(unused_imports)]
        use #krate::asyncapi::__private::{ViaBytes as _, ViaDisplay as _, ViaJsonSchema as _};
        (&&&#krate::asyncapi::__private::Probe::<#ty>::new()).value_schema(#generator)
    }}
}

/// The text of the `///` comments among `attrs`.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `tokens` with every span set to `span`, so that a type error in generated code is reported on
/// the user's tokens rather than on the attribute.
pub(crate) fn respan(tokens: proc_macro2::TokenStream, span: Span) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                token = TokenTree::Group(new);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// The name a parameter is known by: its identifier without leading underscores.
pub(crate) fn plain_name(name: &str) -> &str {
    name.trim_start_matches('_')
}

/// The header name for a parameter or field called `name`: `_` becomes `-`.
pub(crate) fn header_name(name: &str) -> String {
    plain_name(name).replace('_', "-")
}

/// A template error as a compile error on `span`, with a `help:` line.
pub(crate) fn template_error(
    span: Span,
    address: &str,
    error: &crate::template::TemplateError,
) -> syn::Error {
    syn::Error::new(
        span,
        format!(
            "malformed address `{address}`: {error}\n\n= help: {}",
            error.help()
        ),
    )
}
