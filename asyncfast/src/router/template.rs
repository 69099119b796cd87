//! Address templates such as `orders.{region}.created`: parsing, matching and overlap checks.
//!
//! This file is the one implementation of the template grammar. The router compiles templates
//! with it when an application starts, and `asyncfast-macros` includes the same file
//! (`#[path = "../../asyncfast/src/router/template.rs"]`) to reject malformed templates at
//! compile time. It therefore depends on `std` only. The test vectors at the end run in both
//! crates.
//!
//! # Grammar
//!
//! An address is split into *segments* by the separators `.` and `/`. A segment is literal text,
//! optionally ending with one placeholder `{name}`, where `name` is a Rust identifier naming the
//! handler's `Param<T>` parameter. A placeholder matches one or more characters other than a
//! separator. So `orders.{region}`, `sensors/{id}/temperature` and `tenant-{tenant}.events` are
//! templates, and `{a}{b}` or `{id}-suffix` are not: a placeholder must end its segment, which
//! keeps matching linear and overlap checks exact.

// Parts of this file are used only by the router, others only by the macros.
#![allow(dead_code)]

use std::fmt;
use std::ops::Range;

/// Characters that separate address segments.
pub(crate) const SEPARATORS: [u8; 2] = [b'.', b'/'];

fn is_separator(byte: u8) -> bool {
    SEPARATORS.contains(&byte)
}

/// One segment of a parsed template: literal prefix, optional placeholder, separator after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    prefix: Range<usize>,
    placeholder: Option<Range<usize>>,
    separator: Option<u8>,
}

/// A parsed address template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// A piece of a template, in order: literal text (separators included) or a placeholder name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// Text that appears as is.
    Literal(&'a str),
    /// A placeholder, by name.
    Placeholder(&'a str),
}

/// What is wrong with a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateErrorKind {
    /// The template is the empty string.
    Empty,
    /// A `{` has no matching `}`.
    Unclosed,
    /// A `}` has no matching `{`.
    UnmatchedClose,
    /// `{}`.
    EmptyPlaceholder,
    /// The text between braces is not an identifier.
    InvalidName(String),
    /// The same placeholder name appears twice.
    Duplicate(String),
    /// A placeholder is followed by something other than a separator or the end.
    NotAtSegmentEnd(String),
}

/// A malformed template: what is wrong and the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    /// What is wrong.
    pub(crate) kind: TemplateErrorKind,
    /// Byte offset in the template.
    pub(crate) offset: usize,
}

impl TemplateError {
    /// A line suggesting the fix, shown as `help:` by the macros.
    pub(crate) fn help(&self) -> String {
        match &self.kind {
            TemplateErrorKind::Empty => {
                "give the address the messages arrive on, such as `\"user.created\"`".to_owned()
            }
            TemplateErrorKind::Unclosed => {
                "close the placeholder with `}`, as in `\"orders.{region}\"`".to_owned()
            }
            TemplateErrorKind::UnmatchedClose => {
                "placeholders are written `{name}`; remove the stray `}`".to_owned()
            }
            TemplateErrorKind::EmptyPlaceholder => {
                "name the placeholder after the `Param<T>` parameter it binds, as in `{id}`"
                    .to_owned()
            }
            TemplateErrorKind::InvalidName(_) => {
                "a placeholder name is a Rust identifier naming a `Param<T>` parameter".to_owned()
            }
            TemplateErrorKind::Duplicate(name) => {
                format!("each placeholder binds one parameter; rename one of the `{{{name}}}`")
            }
            TemplateErrorKind::NotAtSegmentEnd(name) => format!(
                "a placeholder ends its segment: follow `{{{name}}}` with `.` or `/`, or end the \
                 address there"
            ),
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TemplateErrorKind::Empty => f.write_str("the address is empty"),
            TemplateErrorKind::Unclosed => {
                write!(
                    f,
                    "unclosed placeholder: `{{` at byte {} has no `}}`",
                    self.offset
                )
            }
            TemplateErrorKind::UnmatchedClose => {
                write!(f, "unmatched `}}` at byte {}", self.offset)
            }
            TemplateErrorKind::EmptyPlaceholder => {
                write!(f, "empty placeholder `{{}}` at byte {}", self.offset)
            }
            TemplateErrorKind::InvalidName(name) => {
                write!(
                    f,
                    "invalid placeholder name `{name}` at byte {}",
                    self.offset
                )
            }
            TemplateErrorKind::Duplicate(name) => {
                write!(f, "placeholder `{{{name}}}` appears twice")
            }
            TemplateErrorKind::NotAtSegmentEnd(name) => write!(
                f,
                "placeholder `{{{name}}}` is followed by text at byte {}",
                self.offset
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && name != "_"
}

/// Parses `source`.
pub(crate) fn parse(source: &str) -> Result<Template, TemplateError> {
    let error = |kind, offset| Err(TemplateError { kind, offset });
    if source.is_empty() {
        return error(TemplateErrorKind::Empty, 0);
    }
    let bytes = source.as_bytes();
    let mut segments = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut placeholder: Option<Range<usize>> = None;
    let mut prefix_end = None;
    while i < bytes.len() {
        let byte = bytes[i];
        if let Some(open) = &placeholder
            && !is_separator(byte)
        {
            let name = source[open.clone()].to_owned();
            return error(TemplateErrorKind::NotAtSegmentEnd(name), i);
        }
        match byte {
            b'{' => {
                let Some(len) = source[i + 1..].find('}') else {
                    return error(TemplateErrorKind::Unclosed, i);
                };
                let name = &source[i + 1..i + 1 + len];
                if name.is_empty() {
                    return error(TemplateErrorKind::EmptyPlaceholder, i);
                }
                if !is_identifier(name) {
                    return error(TemplateErrorKind::InvalidName(name.to_owned()), i + 1);
                }
                if names.contains(&name) {
                    return error(TemplateErrorKind::Duplicate(name.to_owned()), i);
                }
                names.push(name);
                prefix_end = Some(i);
                placeholder = Some(i + 1..i + 1 + len);
                i += len + 2;
                continue;
            }
            b'}' => return error(TemplateErrorKind::UnmatchedClose, i),
            _ if is_separator(byte) => {
                segments.push(Segment {
                    prefix: start..prefix_end.take().unwrap_or(i),
                    placeholder: placeholder.take(),
                    separator: Some(byte),
                });
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    segments.push(Segment {
        prefix: start..prefix_end.unwrap_or(bytes.len()),
        placeholder,
        separator: None,
    });
    Ok(Template {
        source: source.to_owned(),
        segments,
    })
}

impl Template {
    /// The template as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template has no placeholder (it matches exactly one address).
    pub(crate) fn is_exact(&self) -> bool {
        self.segments.iter().all(|s| s.placeholder.is_none())
    }

    /// The placeholder names, in order.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments
            .iter()
            .filter_map(|s| s.placeholder.clone().map(|r| &self.source[r]))
    }

    /// The position of placeholder `name` among the placeholders.
    pub(crate) fn placeholder_index(&self, name: &str) -> Option<usize> {
        self.placeholders().position(|p| p == name)
    }

    /// The template as literal pieces and placeholders, in order; adjacent literals are merged.
    pub(crate) fn parts(&self) -> Vec<Part<'_>> {
        let mut parts = Vec::new();
        let mut literal_start = 0;
        for segment in &self.segments {
            if let Some(name) = &segment.placeholder {
                // The literal runs up to the `{`, which is one byte before the name.
                let literal_end = name.start - 1;
                if literal_end > literal_start {
                    parts.push(Part::Literal(&self.source[literal_start..literal_end]));
                }
                parts.push(Part::Placeholder(&self.source[name.clone()]));
                literal_start = name.end + 1;
            }
        }
        if literal_start < self.source.len() {
            parts.push(Part::Literal(&self.source[literal_start..]));
        }
        parts
    }

    /// Matches `address`, pushing the byte range of each placeholder's value onto `captures`.
    ///
    /// On a mismatch `captures` is left as it was.
    pub(crate) fn matches(&self, address: &str, captures: &mut Vec<Range<usize>>) -> bool {
        let before = captures.len();
        let matched = self.match_into(address.as_bytes(), captures);
        if !matched {
            captures.truncate(before);
        }
        matched
    }

    fn match_into(&self, address: &[u8], captures: &mut Vec<Range<usize>>) -> bool {
        let source = self.source.as_bytes();
        let mut at = 0;
        for segment in &self.segments {
            let prefix = &source[segment.prefix.clone()];
            if !address[at..].starts_with(prefix) {
                return false;
            }
            at += prefix.len();
            if segment.placeholder.is_some() {
                let len = address[at..]
                    .iter()
                    .position(|&b| is_separator(b))
                    .unwrap_or(address.len() - at);
                if len == 0 {
                    return false;
                }
                captures.push(at..at + len);
                at += len;
            }
            match segment.separator {
                Some(separator) => {
                    if address.get(at) != Some(&separator) {
                        return false;
                    }
                    at += 1;
                }
                None => return at == address.len(),
            }
        }
        false
    }

    /// An address both templates match, if there is one.
    pub(crate) fn overlap(&self, other: &Self) -> Option<String> {
        if self.segments.len() != other.segments.len() {
            return None;
        }
        let mut example = String::new();
        for (a, b) in self.segments.iter().zip(&other.segments) {
            if a.separator != b.separator {
                return None;
            }
            example.push_str(&Self::segment_overlap(self, a, other, b)?);
            if let Some(separator) = a.separator {
                example.push(char::from(separator));
            }
        }
        Some(example)
    }

    /// A segment value both segments match, if there is one.
    fn segment_overlap(ta: &Self, a: &Segment, tb: &Self, b: &Segment) -> Option<String> {
        let pa = &ta.source[a.prefix.clone()];
        let pb = &tb.source[b.prefix.clone()];
        match (a.placeholder.is_some(), b.placeholder.is_some()) {
            (false, false) => (pa == pb).then(|| pa.to_owned()),
            (true, false) => (pb.len() > pa.len() && pb.starts_with(pa)).then(|| pb.to_owned()),
            (false, true) => (pa.len() > pb.len() && pa.starts_with(pb)).then(|| pa.to_owned()),
            (true, true) => {
                let (long, short) = if pa.len() >= pb.len() {
                    (pa, pb)
                } else {
                    (pb, pa)
                };
                long.starts_with(short).then(|| format!("{long}x"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How a template is expected to parse: its placeholders, or the error it gives.
    enum Expect {
        Ok(&'static [&'static str]),
        Err(TemplateErrorKind, usize),
    }

    fn invalid(name: &str) -> TemplateErrorKind {
        TemplateErrorKind::InvalidName(name.to_owned())
    }

    /// The one table of parse vectors, shared by the router and the macros.
    fn parse_vectors() -> Vec<(&'static str, Expect)> {
        use Expect::{Err, Ok};
        use TemplateErrorKind as K;
        vec![
            ("user.created", Ok(&[])),
            ("orders.{region}", Ok(&["region"])),
            ("orders.{region}.{id}.created", Ok(&["region", "id"])),
            ("sensors/{id}/temperature", Ok(&["id"])),
            ("tenant-{tenant}.events", Ok(&["tenant"])),
            ("{all}", Ok(&["all"])),
            ("a..b", Ok(&[])),
            ("", Err(K::Empty, 0)),
            ("orders.{region", Err(K::Unclosed, 7)),
            ("orders.region}", Err(K::UnmatchedClose, 13)),
            ("orders.{}", Err(K::EmptyPlaceholder, 7)),
            ("orders.{1st}", Err(invalid("1st"), 8)),
            ("orders.{re gion}", Err(invalid("re gion"), 8)),
            ("orders.{_}", Err(invalid("_"), 8)),
            ("orders.{{id}}", Err(invalid("{id"), 8)),
            ("a.{id}.{id}", Err(K::Duplicate("id".into()), 7)),
            ("a.{id}-x", Err(K::NotAtSegmentEnd("id".into()), 6)),
            ("{a}{b}", Err(K::NotAtSegmentEnd("a".into()), 3)),
        ]
    }

    #[test]
    fn parse_table() {
        for (source, expect) in parse_vectors() {
            match (parse(source), expect) {
                (Ok(template), Expect::Ok(names)) => {
                    assert_eq!(
                        template.placeholders().collect::<Vec<_>>(),
                        names,
                        "{source}"
                    );
                    assert_eq!(template.is_exact(), names.is_empty(), "{source}");
                }
                (Err(error), Expect::Err(kind, offset)) => {
                    assert_eq!(
                        (error.kind.clone(), error.offset),
                        (kind, offset),
                        "{source}"
                    );
                    assert!(!error.help().is_empty());
                }
                (Ok(_), Expect::Err(kind, _)) => panic!("`{source}` parsed, expected {kind:?}"),
                (Err(error), Expect::Ok(_)) => panic!("`{source}` failed: {error}"),
            }
        }
    }

    #[test]
    fn match_table() {
        let vectors: &[(&str, &str, Option<&[&str]>)] = &[
            ("user.created", "user.created", Some(&[])),
            ("user.created", "user.created.x", None),
            ("orders.{region}", "orders.eu", Some(&["eu"])),
            ("orders.{region}", "orders.", None),
            ("orders.{region}", "orders.eu.x", None),
            ("orders.{region}.{id}", "orders.eu.42", Some(&["eu", "42"])),
            ("sensors/{id}/t", "sensors/s-1/t", Some(&["s-1"])),
            ("sensors/{id}/t", "sensors/s-1.t", None),
            ("tenant-{t}.events", "tenant-acme.events", Some(&["acme"])),
            ("tenant-{t}.events", "tenant-.events", None),
            ("tenant-{t}.events", "other-acme.events", None),
        ];
        for (template, address, expected) in vectors {
            let template = parse(template).unwrap();
            let mut captures = Vec::new();
            let matched = template.matches(address, &mut captures);
            let values: Vec<_> = captures.iter().map(|r| &address[r.clone()]).collect();
            match expected {
                Some(values_expected) => {
                    assert!(matched, "{address}");
                    assert_eq!(&values, values_expected, "{address}");
                }
                None => assert!(!matched && captures.is_empty(), "{address}"),
            }
        }
    }

    #[test]
    fn overlap_table() {
        let vectors: &[(&str, &str, Option<&str>)] = &[
            ("orders.{a}", "orders.{b}", Some("orders.x")),
            ("orders.{a}", "orders.{a}.x", None),
            ("orders.{a}", "{b}.eu", Some("orders.eu")),
            ("eu-{a}.x", "{b}.x", Some("eu-x.x")),
            ("eu-{a}.x", "us-{b}.x", None),
            ("a.{x}", "a/{x}", None),
            ("a.{x}", "a.b", Some("a.b")),
        ];
        for (a, b, expected) in vectors {
            let (ta, tb) = (parse(a).unwrap(), parse(b).unwrap());
            let found = ta.overlap(&tb);
            assert_eq!(found.as_deref(), *expected, "{a} / {b}");
            if let Some(example) = found {
                assert!(ta.matches(&example, &mut Vec::new()), "{example}");
                assert!(tb.matches(&example, &mut Vec::new()), "{example}");
            }
        }
    }

    #[test]
    fn parts_round_trip() {
        let template = parse("orders.{region}.{id}/done").unwrap();
        assert_eq!(
            template.parts(),
            [
                Part::Literal("orders."),
                Part::Placeholder("region"),
                Part::Literal("."),
                Part::Placeholder("id"),
                Part::Literal("/done"),
            ]
        );
        assert_eq!(template.placeholder_index("id"), Some(1));
    }
}
