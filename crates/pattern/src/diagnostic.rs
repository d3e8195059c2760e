//! Diagnostics: every problem found in a pattern, as data with a byte span.

use std::fmt;

/// A half-open byte range `start..end` into the pattern text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end.max(start)).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The byte range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// 1-based line and column (in characters) of the span start within `src`.
    pub fn line_col(self, src: &str) -> (usize, usize) {
        line_col(src, self.start as usize)
    }
}

/// 1-based line and column (counted in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let mut line = 1;
    let mut col = 1;
    for (i, c) in src.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// Line and column of many offsets of one text, without rescanning the text for each: line
/// starts are found once, and a look-up after the previous one (in the same line) counts only the
/// characters between the two. Diagnostics are reported in source order, so locating all of them
/// costs one pass over the text.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset of the first byte of each line (the first is 0).
    starts: Vec<usize>,
    /// The last look-up: (offset, line index, column).
    last: Option<(usize, usize, usize)>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the line starts of `src` (one pass).
    pub fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            src,
            starts,
            last: None,
        }
    }

    /// 1-based line and column (counted in characters) of byte `offset`, as [`line_col`].
    pub fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        // Inside a character counts that character, as [`line_col`] does.
        while !self.src.is_char_boundary(offset) {
            offset += 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let (from, col) = match self.last {
            Some((o, l, c)) if l == line && o <= offset => (o, c),
            _ => (self.starts[line], 1),
        };
        let col = col + self.src[from..offset].chars().count();
        self.last = Some((offset, line, col));
        (line + 1, col)
    }
}

/// At most this many characters of a value a message quotes (longer values are cut with `…`),
/// so that a message stays short whatever the input.
pub const QUOTE_CHARS: usize = 40;

/// `s` as a message quotes it: at most [`QUOTE_CHARS`] characters.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(QUOTE_CHARS) {
        Some(_) => {
            let cut: String = s.chars().take(QUOTE_CHARS - 3).collect();
            format!("{cut}…")
        }
        None => s.to_owned(),
    }
}

/// How serious a diagnostic is. Only errors make a pattern invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Probably a mistake, but the pattern is valid.
    Warning,
    /// The pattern is invalid.
    Error,
}

/// What kind of problem a diagnostic reports. Stable identifiers for machines (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The text does not follow the STIX pattern grammar (including malformed literals).
    Syntax,
    /// A construct the grammar has only in another STIX version (`EXISTS` in 2.0, string
    /// START/STOP in 2.1).
    VersionMismatch,
    /// The same qualifier type applied twice to one `[...]` observation expression.
    DuplicateQualifier,
    /// A hash value that does not fit its algorithm (`file:hashes.'SHA-256' = 'f00'`).
    InvalidHash,
    /// `REPEATS 0 TIMES`, `WITHIN 0 SECONDS`: counts and durations must be positive.
    NonPositiveQualifier,
    /// A `MATCHES` regex that a linear-time engine cannot run (backreference, look-around).
    UnsupportedRegex,
    /// A `MATCHES` regex that does not compile.
    InvalidRegex,
    /// An `IN (...)` set mixing literal types (other than integers with floats).
    MixedSet,
    /// A timestamp that matches the grammar but names no real instant (`t'2024-02-30T…'`).
    ImpossibleTimestamp,
    /// An `ISSUBSET`/`ISSUPERSET` operand that is not an IP address or CIDR block.
    InvalidCidr,
    /// A property path that the STIX 2.1 specification does not define for a standard SCO type.
    UnknownProperty,
    /// Something legal but probably not what was meant (duplicate qualifier on a
    /// parenthesised group, `START` not before `STOP`, …).
    Suspicious,
    /// A limit of this implementation: the pattern is longer than [`crate::MAX_PATTERN_BYTES`],
    /// or it has more problems than [`crate::MAX_DIAGNOSTICS`] (the note that ends the list).
    Limit,
}

impl Code {
    /// The stable identifier used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::VersionMismatch => "version-mismatch",
            Code::DuplicateQualifier => "duplicate-qualifier",
            Code::InvalidHash => "invalid-hash",
            Code::NonPositiveQualifier => "non-positive-qualifier",
            Code::UnsupportedRegex => "unsupported-regex",
            Code::InvalidRegex => "invalid-regex",
            Code::MixedSet => "mixed-set",
            Code::ImpossibleTimestamp => "impossible-timestamp",
            Code::InvalidCidr => "invalid-cidr",
            Code::UnknownProperty => "unknown-property",
            Code::Suspicious => "suspicious",
            Code::Limit => "limit",
        }
    }

    /// Whether the OASIS reference *validator* (stix2-patterns) rejects patterns with this
    /// problem. The others are problems the reference *matcher* only discovers while
    /// evaluating (or never); we report them up front. Used to map our verdicts onto the
    /// reference's `parse_error` / `matcher_error` outcomes.
    pub fn rejected_by_reference_validator(self) -> bool {
        matches!(
            self,
            Code::Syntax | Code::VersionMismatch | Code::DuplicateQualifier | Code::InvalidHash
        )
    }
}

/// One problem in a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem.
    pub code: Code,
    /// Where in the pattern.
    pub span: Span,
    /// A sentence an analyst understands.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            span,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            span,
            message: message.into(),
        }
    }

    /// Whether this makes the pattern invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic the way the CLI prints it: a headline with line:column, the
    /// pattern line, and a caret line under the span. A line longer than [`RENDER_CHARS`]
    /// characters is shown as a window around the span, so that the rendering stays short.
    pub fn render(&self, src: &str) -> String {
        let (line_no, col_no) = self.span.line_col(src);
        let line_text = src.lines().nth(line_no - 1).unwrap_or("");
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // Width of the caret run in characters, at least one.
        let start = self.span.start as usize;
        let end = (self.span.end as usize).min(src.len());
        let width = src
            .get(start..end)
            .map(|s| s.lines().next().unwrap_or("").chars().count())
            .unwrap_or(0)
            .max(1);
        let (shown, col, width) = window(line_text, col_no, width);
        let pad: String = shown
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{kind}[{code}] at {line_no}:{col_no}: {msg}\n  {shown}\n  {pad}{carets}",
            code = self.code.as_str(),
            msg = self.message,
            carets = "^".repeat(width)
        )
    }
}

/// Lines longer than this many characters are rendered as a window around the span.
pub const RENDER_CHARS: usize = 160;

/// The part of `line` to show for a span at character column `col` (1-based) that is `width`
/// characters wide: the whole line when it is short, else about [`RENDER_CHARS`] characters
/// around the span with `…` where it was cut. Returns the text, the span's column in it and the
/// caret width within it.
fn window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    let len = line.chars().count();
    if len <= RENDER_CHARS {
        return (line.to_owned(), col, width);
    }
    let context = RENDER_CHARS / 4;
    let first = col.saturating_sub(1).saturating_sub(context);
    let width = width.min(RENDER_CHARS - 2 * context);
    let last = (col - 1 + width + context).min(len);
    let mut shown = String::new();
    let mut col_in = col - first;
    if first > 0 {
        shown.push('…');
        col_in += 1;
    }
    shown.extend(line.chars().skip(first).take(last - first));
    if last < len {
        shown.push('…');
    }
    (shown, col_in, width)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{kind}[{}] at byte {}: {}",
            self.code.as_str(),
            self.span.start,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("abc", 2), (1, 3));
        assert_eq!(line_col("é[x", 2), (1, 2));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
    }

    #[test]
    fn render_puts_caret_under_span() {
        let d = Diagnostic::error(Code::Syntax, Span::new(5, 7), "bad");
        let r = d.render("[a:b MATCHES x]");
        assert!(r.starts_with("error[syntax] at 1:6: bad"), "{r}");
        assert!(r.ends_with("\n       ^^"), "{r:?}");
    }
}
