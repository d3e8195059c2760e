//! STIX Patterning: lexer, parser with byte spans, semantic validation, inspection and an
//! evaluator with the semantics of the OASIS reference matcher (STIX 2.1, and STIX 2.0 when
//! asked).
//!
//! - [`parse`] never fails and never panics: it returns the tree (when the text follows the
//!   grammar) and every problem as a [`Diagnostic`] with a byte span and a sentence an analyst
//!   understands. [`check`] returns only the diagnostics.
//! - [`Pattern`] prints (`Display`) to a canonical pattern string that parses back to the same
//!   tree; [`Pattern::inspect`] lists its comparisons, qualifiers and observation operators as
//!   typed data (what the compiled matcher and the exports build on).
//! - [`eval::Observations`] holds observed data (STIX 2.1 observed-data + SCOs, or STIX 2.0
//!   embedded objects); [`eval::evaluate`] finds a binding of the pattern's observation
//!   expressions to distinct observations, with a bounded search.
//!
//! What it must never do: perform I/O, panic on any input, or run a regular expression in
//! super-linear time (`MATCHES` uses a linear-time engine; backreferences and look-around are
//! refused at validation). It does not depend on the STIX object model crate: that crate calls
//! [`check`].

mod ast;
mod diagnostic;
pub mod eval;
mod inspect;
mod lexer;
pub mod net;
mod parser;
mod print;
pub mod regex;
mod sco;
pub mod time;
mod validate;

pub use ast::*;
pub use diagnostic::{
    Code, Diagnostic, LineIndex, QUOTE_CHARS, RENDER_CHARS, Severity, Span, line_col,
};
pub use inspect::{ComparisonInfo, Inspection, QualifierInfo};
pub use parser::{MAX_DEPTH, MAX_OPERATORS};
pub use sco::{NON_SCO_TYPES_V21, PROCESS_PROPERTIES, is_non_sco_type};

use std::fmt;
use std::str::FromStr;

/// Which STIX version's pattern grammar to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StixVersion {
    /// STIX 2.0: no `EXISTS`; `START`/`STOP` take plain strings (timestamp literals accepted
    /// too); no duplicate-qualifier check; `objects` embedded in observed-data.
    V20,
    /// STIX 2.1 (the default).
    #[default]
    V21,
}

impl FromStr for StixVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "2.0" => Ok(StixVersion::V20),
            "2.1" => Ok(StixVersion::V21),
            _ => Err(format!("unknown STIX version `{s}` (expected 2.0 or 2.1)")),
        }
    }
}

impl fmt::Display for StixVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StixVersion::V20 => "2.0",
            StixVersion::V21 => "2.1",
        })
    }
}

/// The result of [`parse`].
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The tree, present whenever the text follows the grammar (even if semantic checks found
    /// errors, so that tools can still inspect it).
    pub pattern: Option<Pattern>,
    /// Every problem found, errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether the pattern is valid: it parsed and no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        self.pattern.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// The longest pattern accepted, in bytes (256 KiB). Real indicators stay far below it: the
/// operator limit ([`MAX_OPERATORS`]) already bounds an `OR` chain of hashes to a few tens of
/// kilobytes, and 256 KiB still holds an `IN` list of about 3,500 SHA-256 values. A longer
/// pattern is refused with one [`Code::Limit`] error, before it is read.
pub const MAX_PATTERN_BYTES: usize = 256 * 1024;

/// At most this many problems are reported per pattern. When a pattern has more, the list ends
/// with one [`Code::Limit`] note (an error if any problem left out is an error); the lexer and
/// parser stop at the limit instead of reading on, so the work is bounded too.
pub const MAX_DIAGNOSTICS: usize = 20;

/// Parses and validates a pattern. Never panics; the work is linear in the pattern's length,
/// which is at most [`MAX_PATTERN_BYTES`], and at most [`MAX_DIAGNOSTICS`] problems (plus one
/// closing note) are reported.
pub fn parse(src: &str, version: StixVersion) -> Parsed {
    if src.len() > MAX_PATTERN_BYTES {
        return Parsed {
            pattern: None,
            diagnostics: vec![Diagnostic::error(
                Code::Limit,
                Span::new(0, 0),
                format!(
                    "the pattern is {} bytes long, longer than the limit of {MAX_PATTERN_BYTES} \
                     bytes (256 KiB)",
                    src.len()
                ),
            )],
        };
    }
    let mut diagnostics = Vec::new();
    let (tokens, stopped) = lexer::lex(src, &mut diagnostics);
    if stopped {
        let note = stopped_note(&diagnostics);
        diagnostics.push(note);
        return Parsed {
            pattern: None,
            diagnostics,
        };
    }
    let mut p = parser::Parser::new(src, tokens, version);
    p.diags = diagnostics;
    let pattern = p.parse_pattern();
    let stopped = p.stopped;
    let mut diagnostics = p.diags;
    let mut left_out = validate::LeftOut::default();
    if let Some(pat) = &pattern {
        left_out = validate::validate(pat, version, &mut diagnostics);
        if let Some(d) = leading_text(src) {
            if diagnostics.len() < MAX_DIAGNOSTICS {
                diagnostics.push(d);
            } else {
                left_out.problems += 1;
                left_out.errors += 1;
            }
        }
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    if stopped {
        let note = stopped_note(&diagnostics);
        diagnostics.push(note);
    } else if left_out.problems > 0 {
        let span = diagnostics.last().map_or(Span::default(), |d| d.span);
        let message = if left_out.errors > 0 {
            format!(
                "… and {} more problems, {} of them errors, not listed: only the first \
                 {MAX_DIAGNOSTICS} are reported",
                left_out.problems, left_out.errors
            )
        } else {
            format!(
                "… and {} more warnings not listed: only the first {MAX_DIAGNOSTICS} are \
                 reported",
                left_out.problems
            )
        };
        diagnostics.push(if left_out.errors > 0 {
            Diagnostic::error(Code::Limit, span, message)
        } else {
            Diagnostic::warning(Code::Limit, span, message)
        });
    }
    Parsed {
        pattern,
        diagnostics,
    }
}

/// The OASIS validator's bracket rule: after any `(` and white space, a pattern's first
/// character is `[`. The grammar skips comments, so `/* c */ [file:name = 'a']` parses (and is
/// evaluated), but the validator refuses it, and so does [`check`].
fn leading_text(src: &str) -> Option<Diagnostic> {
    // Python's str.isspace(), which the reference applies: Unicode white space and the
    // separators U+001C..U+001F.
    let space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    let (at, c) = src.char_indices().find(|&(_, c)| c != '(' && !space(c))?;
    (c != '[').then(|| {
        Diagnostic::error(
            Code::Syntax,
            Span::new(at, at + c.len_utf8()),
            "a pattern must begin with its first `[` (after any `(`): comments before it are \
             not accepted"
                .to_owned(),
        )
    })
}

/// The note that ends the list when reading stopped at [`MAX_DIAGNOSTICS`] errors.
fn stopped_note(diagnostics: &[Diagnostic]) -> Diagnostic {
    let span = diagnostics.last().map_or(Span::default(), |d| d.span);
    Diagnostic::error(
        Code::Limit,
        span,
        format!(
            "… reading stopped after {MAX_DIAGNOSTICS} errors: the rest of the pattern was not \
             checked"
        ),
    )
}

/// The diagnostics of a pattern (empty, or warnings only, when it is valid). This is what STIX
/// validation calls for `indicator.pattern` when `pattern_type` is `stix`.
pub fn check(src: &str, version: StixVersion) -> Vec<Diagnostic> {
    parse(src, version).diagnostics
}
