//! Errors that stop a conversion, and diagnostics that do not.

use std::fmt;

/// A problem that makes the whole input unusable.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MispError {
    /// The bytes are not JSON.
    #[error("{what}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Which input (a file name, `input`).
        what: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// Valid JSON, but not any MISP shape we know (event, REST response, collection, feed).
    #[error("{what}: not MISP JSON: {message}")]
    NotMisp {
        /// Which input.
        what: String,
        /// Why it was not recognised.
        message: String,
    },
    /// A MISP feed whose manifest or files do not fit together.
    #[error("MISP feed: {0}")]
    Feed(String),
    /// STIX input to the MISP exporter that cannot be exported.
    #[error("STIX input: {0}")]
    Stix(String),
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something was converted approximately (e.g. to a custom `x-misp-*` object).
    Warning,
    /// Something was left out of the output.
    Error,
}

/// A problem with one part of the input that did not stop the conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub level: Level,
    /// Where: a JSON pointer into the input (`/response/0/Event/Attribute/3`), prefixed by the
    /// input name when there are several.
    pub path: String,
    /// What happened, in one sentence.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.path, self.message)
    }
}

/// Parses untrusted MISP JSON strictly (`stix::json`: a duplicate key is refused, not collapsed
/// to its last value), an error being [`MispError::Json`] with its position.
pub(crate) fn parse_json(what: &str, bytes: &[u8]) -> Result<serde_json::Value, MispError> {
    stix::json::parse(bytes).map_err(|e| MispError::Json {
        what: what.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    })
}
