//! [`ParamSpec`]: what a handler's signature says about one parameter, and [`ParamRole`]: what
//! an extractor reads through it.

use std::any::Any;

use super::{PrepareContext, PrepareError, Prepared};
use crate::asyncapi::OperationDoc;

/// A header default, as `#[header(default = …)]` produces it.
pub type DefaultFn = fn() -> Box<dyn Any + Send>;

/// A prepare hook, as stored in a [`ParamSpec`].
pub type PrepareFn =
    fn(&'static ParamSpec, &PrepareContext<'_>) -> Result<Option<Prepared>, PrepareError>;

/// A documentation hook (an extractor's [`FromMessage::document`](super::FromMessage::document)),
/// as stored in a [`ParamSpec`].
pub type DocumentFn = fn(&'static ParamSpec, &mut OperationDoc<'_>);

/// The JSON Schema of a parameter's value type (the `T` of `Param<T>`), as stored in a
/// [`ParamSpec`]; `None` for parameters whose type has no such value.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> Option<schemars::Schema>;

/// What an extractor reads through its parameter's name and attributes
/// ([`FromMessage::ROLE`](super::FromMessage::ROLE)).
///
/// `#[channel]` passes every parameter's name, placeholder position and `#[header(…)]` options
/// into its [`ParamSpec`] whatever its type; the role of the type says which of them it uses, and
/// `#[channel]` checks at compile time that those make sense: a [`Header`](Self::Header) has a
/// name (or an alias), a [`Placeholder`](Self::Placeholder) a placeholder of its name in the
/// address, a handler at most one [`Payload`](Self::Payload), and only headers take
/// `#[header(…)]`.
///
/// ```
/// use asyncfast::extract::{FromMessage, ParamRole, ParamSpec};
/// use asyncfast::MessageContext;
///
/// /// A header, kept as text whatever it holds.
/// struct RawHeader(Option<String>);
///
/// impl FromMessage for RawHeader {
///     type Rejection = std::convert::Infallible;
///
///     // Named after the parameter, and takes `#[header(alias = "…")]`.
///     const ROLE: ParamRole = ParamRole::Header;
///
///     async fn from_message(
///         ctx: &mut MessageContext<'_>,
///         spec: &'static ParamSpec,
///     ) -> Result<Self, Self::Rejection> {
///         let value = ctx.header(spec.header()).map(|v| String::from_utf8_lossy(v).into_owned());
///         Ok(RawHeader(value))
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ParamRole {
    /// Reads nothing named by the parameter (state, senders, bindings, dependencies).
    #[default]
    Other,
    /// Reads the header named after the parameter ([`ParamSpec::header`]): the parameter needs a
    /// plain name or `#[header(alias = "…")]`, and may take `#[header(…)]`.
    Header,
    /// Reads the address placeholder named after the parameter
    /// ([`ParamSpec::placeholder_index`]): the address must have it.
    Placeholder,
    /// Reads the payload: a handler takes at most one.
    Payload,
}

/// What the handler's signature says about one parameter, computed at compile time.
///
/// `#[channel]` writes one `static` `ParamSpec` per parameter, with everything the signature says
/// about it whatever its type: its name, the header name derived from it (`correlation_id` reads
/// `correlation-id`), the position of the address placeholder of the same name, and the options
/// of `#[header(…)]`. Each extractor reads the part it needs (see [`ParamRole`]).
///
/// ```
/// use asyncfast::extract::ParamSpec;
///
/// static SPEC: ParamSpec = ParamSpec::new("correlation_id", 1).header_name("correlation-id");
/// assert_eq!(SPEC.header(), "correlation-id");
/// assert_eq!(SPEC.name(), "correlation_id");
///
/// static ALIASED: ParamSpec = ParamSpec::new("key", 2).alias("Idempotency-Key");
/// assert_eq!(ALIASED.header(), "Idempotency-Key");
/// ```
#[derive(Debug)]
pub struct ParamSpec {
    name: &'static str,
    index: usize,
    header: &'static str,
    alias: Option<&'static str>,
    placeholder: Option<usize>,
    default: Option<DefaultFn>,
    prepare: Option<PrepareFn>,
    document: Option<DocumentFn>,
    description: Option<&'static str>,
    value_schema: Option<SchemaFn>,
}

impl ParamSpec {
    /// A parameter called `name` at position `index`; its header name is `name`.
    pub const fn new(name: &'static str, index: usize) -> Self {
        Self {
            name,
            index,
            header: name,
            alias: None,
            placeholder: None,
            default: None,
            prepare: None,
            document: None,
            description: None,
            value_schema: None,
        }
    }

    /// A spec for extractors run by hand (no name, no header), as in
    /// [`MessageContext::extract`](crate::MessageContext::extract).
    pub const ANONYMOUS: Self = Self::new("", usize::MAX);

    /// Sets the header name derived from the parameter's name (`#[channel]` passes the name
    /// without leading `_` and with `_` replaced by `-`). An [`alias`](Self::alias) wins over it.
    #[must_use]
    pub const fn header_name(mut self, header: &'static str) -> Self {
        self.header = header;
        self
    }

    /// Sets the header name given by `#[header(alias = "…")]`.
    #[must_use]
    pub const fn alias(mut self, alias: &'static str) -> Self {
        self.alias = Some(alias);
        self
    }

    /// Sets the position of the `{placeholder}` of the same name in the address template.
    #[must_use]
    pub const fn placeholder(mut self, index: usize) -> Self {
        self.placeholder = Some(index);
        self
    }

    /// Sets the default used when the header is missing.
    #[must_use]
    pub const fn default_value(mut self, default: DefaultFn) -> Self {
        self.default = Some(default);
        self
    }

    /// Sets the prepare hook (the extractor's
    /// [`FromMessage::prepare`](super::FromMessage::prepare)).
    #[must_use]
    pub const fn prepare_with(mut self, prepare: PrepareFn) -> Self {
        self.prepare = Some(prepare);
        self
    }

    /// Sets the documentation hook (the extractor's
    /// [`FromMessage::document`](super::FromMessage::document)).
    #[must_use]
    pub const fn document_with(mut self, document: DocumentFn) -> Self {
        self.document = Some(document);
        self
    }

    /// Sets the description (the parameter's doc comment, or `#[header(description = "…")]`).
    #[must_use]
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// Sets the JSON Schema of the value type (for `Param<T>`, the schema of `T`).
    #[must_use]
    pub const fn value_schema(mut self, schema: SchemaFn) -> Self {
        self.value_schema = Some(schema);
        self
    }

    /// The parameter's name as written.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The parameter's position.
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The header the parameter reads: the [`alias`](Self::alias) if one was given, the header
    /// name derived from the parameter's name otherwise.
    pub const fn header(&self) -> &'static str {
        match self.alias {
            Some(alias) => alias,
            None => self.header,
        }
    }

    /// The alias given by `#[header(alias = "…")]`, if any.
    pub const fn alias_name(&self) -> Option<&'static str> {
        self.alias
    }

    /// The position of its placeholder in the address template, if it has one.
    pub const fn placeholder_index(&self) -> Option<usize> {
        self.placeholder
    }

    /// The default for a missing header, if one was given.
    pub fn default_fn(&self) -> Option<DefaultFn> {
        self.default
    }

    pub(crate) fn prepare_fn(&self) -> Option<PrepareFn> {
        self.prepare
    }

    /// The documentation hook, if one was set.
    pub fn document_fn(&self) -> Option<DocumentFn> {
        self.document
    }

    /// The description, if one was given.
    pub const fn description_text(&self) -> Option<&'static str> {
        self.description
    }

    /// The schema of the value type, if one was set.
    pub fn value_schema_fn(&self) -> Option<SchemaFn> {
        self.value_schema
    }
}

/// A header name derived from a parameter name at compile time: leading `_` dropped, every other
/// `_` replaced by `-`. `N` is at least the name's length. Only macro output uses it:
///
/// ```
/// use asyncfast::__private::KebabName;
///
/// const NAME: KebabName<{ "_correlation_id".len() }> = KebabName::new("_correlation_id");
/// assert_eq!(NAME.as_str(), "correlation-id");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct KebabName<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> KebabName<N> {
    /// Converts `name`.
    ///
    /// # Panics
    ///
    /// If `name` is longer than `N` (a compile error in a `const`).
    pub const fn new(name: &str) -> Self {
        let source = name.as_bytes();
        assert!(source.len() <= N, "KebabName: the name is longer than N");
        let mut start = 0;
        while start < source.len() && source[start] == b'_' {
            start += 1;
        }
        let mut bytes = [0; N];
        let mut i = start;
        while i < source.len() {
            bytes[i - start] = if source[i] == b'_' { b'-' } else { source[i] };
            i += 1;
        }
        Self {
            bytes,
            len: source.len() - start,
        }
    }

    /// The header name.
    ///
    /// # Panics
    ///
    /// Never: only ASCII `_` is replaced, by ASCII `-`, so the bytes stay UTF-8.
    pub const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(name) => name,
            Err(_) => panic!("KebabName: not UTF-8"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_names() {
        const PLAIN: KebabName<14> = KebabName::new("correlation_id");
        const LEADING: KebabName<6> = KebabName::new("__a_b_");
        const UNICODE: KebabName<{ "größe_x".len() }> = KebabName::new("größe_x");
        assert_eq!(PLAIN.as_str(), "correlation-id");
        assert_eq!(LEADING.as_str(), "a-b-");
        assert_eq!(UNICODE.as_str(), "größe-x");
    }

    #[test]
    fn alias_wins_over_the_derived_name() {
        static BOTH: ParamSpec = ParamSpec::new("key", 0)
            .header_name("key")
            .alias("Idempotency-Key");
        assert_eq!(BOTH.header(), "Idempotency-Key");
        assert_eq!(BOTH.alias_name(), Some("Idempotency-Key"));
    }
}
