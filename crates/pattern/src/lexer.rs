//! The lexer: pattern text → tokens with byte spans, following the token rules of
//! `STIXPattern.g4` (longest match; keywords are upper case; `true`/`false` lower case).

use crate::MAX_DIAGNOSTICS;
use crate::ast::{BinaryForm, Literal};
use crate::diagnostic::{Code, Diagnostic, Span, shorten};
use crate::time::{self, Timestamp};

/// Keywords of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

impl Kw {
    pub(crate) fn from_word(w: &str) -> Option<Kw> {
        Some(match w {
            "AND" => Kw::And,
            "OR" => Kw::Or,
            "NOT" => Kw::Not,
            "FOLLOWEDBY" => Kw::FollowedBy,
            "LIKE" => Kw::Like,
            "MATCHES" => Kw::Matches,
            "ISSUPERSET" => Kw::IsSuperset,
            "ISSUBSET" => Kw::IsSubset,
            "EXISTS" => Kw::Exists,
            "LAST" => Kw::Last,
            "IN" => Kw::In,
            "START" => Kw::Start,
            "STOP" => Kw::Stop,
            "SECONDS" => Kw::Seconds,
            "WITHIN" => Kw::Within,
            "REPEATS" => Kw::Repeats,
            "TIMES" => Kw::Times,
            _ => return None,
        })
    }
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    /// `=` / `==`.
    Eq,
    /// `!=` / `<>`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Kw(Kw),
    /// An identifier; `hyphen` when it contains `-` (allowed for object types only).
    Ident {
        text: String,
        hyphen: bool,
    },
    /// An integer literal (sign included); `None` when it overflows i64.
    Int(Option<i64>),
    /// A float literal (sign included).
    Float(f64),
    /// A quoted string, unescaped.
    Str(String),
    /// Any other literal (bool, hex, base64, timestamp).
    Lit(Literal),
    /// A character the grammar has no use for (already reported).
    Invalid,
    Eof,
}

impl Tok {
    /// How the token is named in messages.
    pub(crate) fn describe(&self, text: &str) -> String {
        match self {
            Tok::Eof => "the end of the pattern".to_owned(),
            Tok::Str(_) => format!("the string {}", shorten(text)),
            _ => format!("`{}`", shorten(text)),
        }
    }
}

/// A token with its span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{0085}'
            | '\u{00a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// Splits `src` into tokens (always ending with `Eof`), reporting lexical errors. Stops at the
/// error after [`MAX_DIAGNOSTICS`] (the pattern is invalid anyway): the flag returned says so.
pub(crate) fn lex(src: &str, diags: &mut Vec<Diagnostic>) -> (Vec<Token>, bool) {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        out: Vec::new(),
        diags,
        errors: 0,
        stopped: false,
    };
    lx.run();
    (lx.out, lx.stopped)
}

struct Lexer<'a, 'd> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    out: Vec<Token>,
    diags: &'d mut Vec<Diagnostic>,
    /// Errors found, reported or not.
    errors: usize,
    /// An error was found with [`MAX_DIAGNOSTICS`] already reported: lexing stops.
    stopped: bool,
}

impl Lexer<'_, '_> {
    fn peek(&self, off: usize) -> Option<u8> {
        self.b.get(self.pos + off).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn err(&mut self, start: usize, end: usize, msg: String) {
        self.errors += 1;
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.stopped = true;
            return;
        }
        self.diags
            .push(Diagnostic::error(Code::Syntax, Span::new(start, end), msg));
    }

    fn run(&mut self) {
        while self.pos < self.b.len() && !self.stopped {
            let start = self.pos;
            let Some(c) = self.src[self.pos..].chars().next() else {
                break;
            };
            if is_ws(c) {
                self.pos += c.len_utf8();
                continue;
            }
            match c {
                '/' if self.peek(1) == Some(b'*') => match self.src[self.pos + 2..].find("*/") {
                    Some(i) => self.pos += 2 + i + 2,
                    None => {
                        self.pos = self.b.len();
                        self.err(
                            start,
                            start + 2,
                            "this comment is never closed: add `*/`".to_owned(),
                        );
                    }
                },
                '/' if self.peek(1) == Some(b'/') => {
                    while self.pos < self.b.len() && !matches!(self.b[self.pos], b'\r' | b'\n') {
                        self.pos += 1;
                    }
                }
                '/' => {
                    // `/…/` is how other languages write regexes: one error for the whole.
                    let end = self.src[start + 1..]
                        .find('/')
                        .map_or(start + 1, |i| start + 1 + i + 1);
                    self.pos = end;
                    self.err(
                        start,
                        end,
                        "regular expressions are written as quoted strings ('…', with \\\\ for each backslash), not /…/"
                            .to_owned(),
                    );
                    self.push(Tok::Invalid, start);
                }
                '[' => self.single(Tok::LBrack),
                ']' => self.single(Tok::RBrack),
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                ':' => self.single(Tok::Colon),
                ',' => self.single(Tok::Comma),
                '*' => self.single(Tok::Star),
                '=' => {
                    self.pos += if self.peek(1) == Some(b'=') { 2 } else { 1 };
                    self.push(Tok::Eq, start);
                }
                '!' if self.peek(1) == Some(b'=') => {
                    self.pos += 2;
                    self.push(Tok::Ne, start);
                }
                '<' => {
                    let (tok, n) = match self.peek(1) {
                        Some(b'=') => (Tok::Le, 2),
                        Some(b'>') => (Tok::Ne, 2),
                        _ => (Tok::Lt, 1),
                    };
                    self.pos += n;
                    self.push(tok, start);
                }
                '>' => {
                    let (tok, n) = match self.peek(1) {
                        Some(b'=') => (Tok::Ge, 2),
                        _ => (Tok::Gt, 1),
                    };
                    self.pos += n;
                    self.push(tok, start);
                }
                '\'' => self.string(),
                '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(),
                '.' => self.single(Tok::Dot),
                '+' | '-' if self.starts_number(1) => self.number(),
                '0'..='9' => self.number(),
                'h' | 'b' | 't' if self.peek(1) == Some(b'\'') => self.prefixed_literal(c),
                'a'..='z' | 'A'..='Z' | '_' => self.word(),
                _ => {
                    self.pos += c.len_utf8();
                    let msg = match c {
                        '"' => {
                            "strings in STIX patterns are quoted with single quotes ('…'), not `\"`"
                                .to_owned()
                        }
                        '-' | '+' => {
                            format!("unexpected `{c}`: a sign must be followed by a number")
                        }
                        _ => format!("unexpected character `{}`", c.escape_debug()),
                    };
                    self.err(start, self.pos, msg);
                    self.push(Tok::Invalid, start);
                }
            }
        }
        let end = self.b.len();
        self.out.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
    }

    fn single(&mut self, tok: Tok) {
        let start = self.pos;
        self.pos += 1;
        self.push(tok, start);
    }

    fn starts_number(&self, off: usize) -> bool {
        match self.peek(off) {
            Some(d) if d.is_ascii_digit() => true,
            Some(b'.') => self.peek(off + 1).is_some_and(|d| d.is_ascii_digit()),
            _ => false,
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        if matches!(self.peek(0), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let int_start = self.pos;
        // Longest match between IntLiteral (`0` | `[1-9][0-9]*`) and FloatLiteral
        // (`[0-9]*.[0-9]+`).
        let mut p = self.pos;
        while self.b.get(p).is_some_and(u8::is_ascii_digit) {
            p += 1;
        }
        let is_float =
            self.b.get(p) == Some(&b'.') && self.b.get(p + 1).is_some_and(u8::is_ascii_digit);
        if is_float {
            p += 1;
            while self.b.get(p).is_some_and(u8::is_ascii_digit) {
                p += 1;
            }
            self.pos = p;
            let text = &self.src[start..p];
            // The text is `[+-]?[0-9]*.[0-9]+`, which f64 parsing accepts.
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => self.push(Tok::Float(v), start),
                _ => {
                    self.err(
                        start,
                        p,
                        format!("the number {} is too large", shorten(text)),
                    );
                    self.push(Tok::Invalid, start);
                }
            }
        } else {
            // `0` alone is an integer; `0123` lexes as `0` then `123` (as ANTLR does).
            if self.b.get(int_start) == Some(&b'0') {
                p = int_start + 1;
            }
            self.pos = p;
            let text = &self.src[start..p];
            let v = text.parse::<i64>().ok();
            if v.is_none() {
                self.err(
                    start,
                    p,
                    format!(
                        "the integer {} is too large (the limit is 64-bit integers)",
                        shorten(text)
                    ),
                );
            }
            self.push(Tok::Int(v), start);
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        let mut hyphen = false;
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.pos += 1;
            } else if c == b'-' {
                hyphen = true;
                self.pos += 1;
            } else {
                break;
            }
        }
        let text = &self.src[start..self.pos];
        let tok = if hyphen {
            Tok::Ident {
                text: text.to_owned(),
                hyphen,
            }
        } else if let Some(kw) = Kw::from_word(text) {
            Tok::Kw(kw)
        } else if text == "true" {
            Tok::Lit(Literal::Bool(true))
        } else if text == "false" {
            Tok::Lit(Literal::Bool(false))
        } else {
            Tok::Ident {
                text: text.to_owned(),
                hyphen,
            }
        };
        self.push(tok, start);
    }

    /// Scans a quoted body starting at the quote at `self.pos`; returns the raw body range and
    /// the unescaped value, or reports an error.
    fn quoted(&mut self, opener_start: usize) -> Option<(usize, usize, String)> {
        let quote = self.pos;
        self.pos += 1;
        let body_start = self.pos;
        let mut value = String::new();
        loop {
            let Some(c) = self.src[self.pos..].chars().next() else {
                self.err(
                    opener_start,
                    self.b.len(),
                    "this string is never closed: add a closing `'`".to_owned(),
                );
                return None;
            };
            match c {
                '\'' => {
                    let body_end = self.pos;
                    self.pos += 1;
                    let _ = quote;
                    return Some((body_start, body_end, value));
                }
                '\\' => match self.peek(1) {
                    Some(b'\'') => {
                        value.push('\'');
                        self.pos += 2;
                    }
                    Some(b'\\') => {
                        value.push('\\');
                        self.pos += 2;
                    }
                    _ => {
                        let next = self.src[self.pos + 1..].chars().next();
                        let shown = next.map(|n| format!("\\{n}")).unwrap_or("\\".to_owned());
                        let end = self.pos + 1 + next.map_or(0, char::len_utf8);
                        self.err(
                            self.pos,
                            end,
                            format!(
                                "`{shown}` is not allowed in a string: only \\' and \\\\ are \
                                 escapes (write \\\\ for a backslash, so a regex `\\d` is \
                                 written '\\\\d')"
                            ),
                        );
                        // Keep going to find the end of the string.
                        value.push('\\');
                        self.pos += 1;
                    }
                },
                _ => {
                    value.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        let before = self.errors;
        match self.quoted(start) {
            Some((_, _, value)) if self.errors == before => self.push(Tok::Str(value), start),
            _ => self.push(Tok::Invalid, start),
        }
    }

    fn prefixed_literal(&mut self, prefix: char) {
        let start = self.pos;
        self.pos += 1;
        let before = self.errors;
        let Some((bs, be, _)) = self.quoted(start) else {
            self.push(Tok::Invalid, start);
            return;
        };
        if self.errors != before {
            self.push(Tok::Invalid, start);
            return;
        }
        let body = &self.src[bs..be];
        let lit = match prefix {
            'h' => decode_hex(body).map(|bytes| Literal::Binary {
                bytes,
                form: BinaryForm::Hex,
            }),
            'b' => decode_base64(body).map(|bytes| Literal::Binary {
                bytes,
                form: BinaryForm::Base64,
            }),
            _ => {
                if time::grammar_form_ok(body) {
                    Some(Literal::Timestamp(Timestamp::from_lexed(body)))
                } else {
                    None
                }
            }
        };
        match lit {
            Some(l) => self.push(Tok::Lit(l), start),
            None => {
                let msg = match prefix {
                    'h' => format!(
                        "h'{}' is not a hex literal: it needs an even number of hex digits (0-9, a-f)",
                        shorten(body)
                    ),
                    'b' => format!(
                        "b'{}' is not a base64 literal: it needs groups of 4 characters from \
                         A-Z a-z 0-9 + /, padded with `=`",
                        shorten(body)
                    ),
                    _ => format!(
                        "t'{}' is not a timestamp: write t'YYYY-MM-DDTHH:MM:SSZ' (optionally \
                         with a fraction of a second, upper-case T and Z, UTC), month 01-12, \
                         day 01-31, hour 00-23, minute 00-59, second 00-60",
                        shorten(body)
                    ),
                };
                self.err(start, self.pos, msg);
                self.push(Tok::Invalid, start);
            }
        }
    }
}

/// Decodes hex digits (even count), as the grammar's `HexLiteral` requires.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// Decodes padded standard base64, as the grammar's `BinaryLiteral` requires (non-empty,
/// length a multiple of 4, `=` only as final padding).
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let n = b.len() / 4;
    for (i, q) in b.chunks(4).enumerate() {
        let last = i + 1 == n;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for (j, &c) in q.iter().enumerate() {
            let v = if j >= 4 - pad { 0 } else { val(c)? };
            acc = (acc << 6) | v;
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn toks(s: &str) -> (Vec<Tok>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let t = lex(s, &mut d).0.into_iter().map(|t| t.tok).collect();
        (t, d)
    }

    #[test]
    fn numbers_follow_longest_match() {
        let (t, d) = toks("1 -4 +5 1.5 -.5 0123");
        assert!(d.is_empty());
        assert_eq!(
            t,
            vec![
                Tok::Int(Some(1)),
                Tok::Int(Some(-4)),
                Tok::Int(Some(5)),
                Tok::Float(1.5),
                Tok::Float(-0.5),
                Tok::Int(Some(0)),
                Tok::Int(Some(123)),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_unescape_only_quote_and_backslash() {
        let (t, d) = toks(r"'a\'b\\c'");
        assert!(d.is_empty());
        assert_eq!(t[0], Tok::Str(r"a'b\c".to_owned()));
        let (_, d) = toks(r"'a\d'");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("only \\' and \\\\"),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn prefixed_literals() {
        let (t, d) = toks("h'ffd8' b'YWxpY2U=' t'2024-01-01T00:00:00Z' h''");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            t[0],
            Tok::Lit(Literal::Binary {
                bytes: vec![0xff, 0xd8],
                form: BinaryForm::Hex
            })
        );
        assert_eq!(
            t[1],
            Tok::Lit(Literal::Binary {
                bytes: b"alice".to_vec(),
                form: BinaryForm::Base64
            })
        );
        assert!(matches!(t[2], Tok::Lit(Literal::Timestamp(_))));
        for bad in [
            "h'f'",
            "b'===='",
            "b''",
            "t'2024-13-01T00:00:00Z'",
            "b'YW=x'",
        ] {
            let (_, d) = toks(bad);
            assert_eq!(d.len(), 1, "{bad}");
        }
    }

    #[test]
    fn keywords_are_case_sensitive() {
        let (t, _) = toks("AND within true TRUE x-y");
        assert_eq!(t[0], Tok::Kw(Kw::And));
        assert!(matches!(&t[1], Tok::Ident { text, .. } if text == "within"));
        assert_eq!(t[2], Tok::Lit(Literal::Bool(true)));
        assert!(matches!(&t[3], Tok::Ident { .. }));
        assert!(matches!(&t[4], Tok::Ident { hyphen: true, .. }));
    }

    #[test]
    fn comments_and_unicode_whitespace_are_skipped() {
        let (t, d) = toks("[\u{3000}a /* x */ // y\n]");
        assert!(d.is_empty());
        assert_eq!(t.len(), 4);
    }
}
