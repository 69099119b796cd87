//! The `asyncapi` subcommand: write the document (JSON or YAML, AsyncAPI 3.0.0 or 3.1.0) and
//! check it against a committed one.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::contract::{self, ChangeKind};
use super::{AsyncApiError, SpecVersion};
use crate::{AsyncFast, Error};

/// Options of `asyncapi`.
#[derive(Debug, Args)]
pub(crate) struct AsyncApiArgs {
    /// Write the document to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The format [default: yaml when FILE ends in .yaml or .yml, else json].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The AsyncAPI version to write: 3.0.0 or 3.1.0.
    #[arg(long, value_name = "VERSION", default_value = "3.0.0")]
    spec_version: SpecVersion,
    /// Print JSON on one line.
    #[arg(long)]
    compact: bool,
    /// Compare the document with the committed FILE (JSON or YAML): list every change, and
    /// fail on a breaking one.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// JSON, indented (or one line with `--compact`).
    Json,
    /// YAML.
    Yaml,
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

fn render(document: &Value, format: Format, compact: bool) -> Result<String, AsyncApiError> {
    let serialize = |format: &'static str, source: crate::extract::BoxError| {
        AsyncApiError::Serialize { format, source }
    };
    match format {
        Format::Json => {
            let mut text = if compact {
                serde_json::to_string(document)
            } else {
                serde_json::to_string_pretty(document)
            }
            .map_err(|e| serialize("JSON", e.into()))?;
            text.push('\n');
            Ok(text)
        }
        Format::Yaml => serde_norway::to_string(document).map_err(|e| serialize("YAML", e.into())),
    }
}

/// Reads a committed document, JSON or YAML.
pub(crate) fn read(path: &Path) -> Result<Value, AsyncApiError> {
    let text = std::fs::read_to_string(path).map_err(|source| AsyncApiError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed = if is_yaml(path) {
        serde_norway::from_str(&text).map_err(Into::into)
    } else {
        serde_json::from_str(&text).map_err(Into::into)
    };
    parsed.map_err(|source| AsyncApiError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Runs `asyncapi`.
pub(crate) fn run(app: &AsyncFast, args: &AsyncApiArgs) -> Result<(), Error> {
    app.validate()?;
    let document = app.asyncapi_for(args.spec_version);
    let format = args.format.unwrap_or_else(|| {
        if args.output.as_deref().is_some_and(is_yaml) {
            Format::Yaml
        } else {
            Format::Json
        }
    });
    if let Some(path) = &args.output {
        let text = render(&document, format, args.compact)?;
        std::fs::write(path, text).map_err(|source| AsyncApiError::Write {
            path: path.clone(),
            source,
        })?;
    } else if args.check.is_none() {
        let text = render(&document, format, args.compact)?;
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|source| AsyncApiError::Write {
                path: PathBuf::from("-"),
                source,
            })?;
    }
    if let Some(committed) = &args.check {
        check(committed, &document)?;
    }
    Ok(())
}

/// Compares `document` with the committed one, printing every change.
fn check(committed: &Path, document: &Value) -> Result<(), AsyncApiError> {
    let old = read(committed)?;
    let changes = contract::compare(&old, document);
    let breaking = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Breaking)
        .count();
    if changes.is_empty() {
        println!("asyncapi --check {}: no changes", committed.display());
    } else {
        println!(
            "asyncapi --check {}: {breaking} breaking, {} additive change(s)",
            committed.display(),
            changes.len() - breaking
        );
        for change in &changes {
            println!("  {change}");
        }
    }
    if breaking > 0 {
        return Err(AsyncApiError::Breaking {
            path: committed.to_owned(),
            count: breaking,
        });
    }
    Ok(())
}
