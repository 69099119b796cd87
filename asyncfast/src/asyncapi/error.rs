//! [`AsyncApiError`]: what can go wrong writing or checking a document.

use std::path::PathBuf;

use crate::extract::BoxError;

/// Why the `asyncapi` command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsyncApiError {
    /// The document could not be written.
    #[error("cannot write the AsyncAPI document to `{}`: {source}", path.display())]
    Write {
        /// The file (`-` for standard output).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The committed document could not be read.
    #[error("cannot read the committed AsyncAPI document `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The committed document is neither JSON nor YAML.
    #[error("`{}` is not an AsyncAPI document in JSON or YAML: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The YAML parser's error (YAML is a superset of JSON).
        source: BoxError,
    },
    /// The document could not be serialized.
    #[error("cannot serialize the AsyncAPI document as {format}: {source}")]
    Serialize {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The serializer's error.
        source: BoxError,
    },
    /// The generated document breaks the committed one.
    #[error(
        "{count} breaking change(s) to the AsyncAPI document `{}` (listed above); if they are \
         intended, regenerate it with `asyncapi --output {}`",
        path.display(),
        path.display()
    )]
    Breaking {
        /// The committed document.
        path: PathBuf,
        /// How many breaking changes.
        count: usize,
    },
}

impl AsyncApiError {
    /// Whether the error is the contract check finding breaking changes (as opposed to an I/O
    /// or format problem).
    pub fn is_breaking(&self) -> bool {
        matches!(self, Self::Breaking { .. })
    }
}
