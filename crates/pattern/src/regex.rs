//! `MATCHES` and `LIKE` on a linear-time regex engine (regex-automata's meta engine, no
//! backtracking), with size limits.
//!
//! The STIX specification frames `MATCHES` in PCRE terms. Constructs that only a backtracking
//! engine can run (backreferences, look-around, atomic groups, possessive quantifiers,
//! conditionals) are refused with a precise message: patterns come from other organisations,
//! and a backtracking engine lets one of them stall a sensor (ReDoS).

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use unicode_normalization::UnicodeNormalization;

/// Size limit of a compiled regex (NFA), in bytes.
pub const REGEX_SIZE_LIMIT: usize = 4 << 20;
/// Nesting limit of a regex.
pub const REGEX_NEST_LIMIT: u32 = 100;

/// Why a `MATCHES` regex cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegexProblem {
    /// A PCRE construct a linear-time engine cannot run; the message names it.
    Unsupported(String),
    /// The regex does not compile; the message says why.
    Invalid(String),
}

/// Finds constructs that need backtracking, by a scan that follows escapes and classes.
pub fn unsupported_construct(re: &str) -> Option<String> {
    let b: Vec<char> = re.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' {
            let n = b.get(i + 1).copied();
            if !in_class {
                match n {
                    Some('1'..='9') => {
                        return Some(format!(
                            "the backreference `\\{}` needs a backtracking regex engine; \
                             Shieldwall runs MATCHES in linear time and does not support \
                             backreferences",
                            n.unwrap_or('1')
                        ));
                    }
                    Some('g') | Some('k') if matches!(b.get(i + 2), Some('<' | '{' | '\'')) => {
                        return Some(
                            "named backreferences (\\k<name>, \\g<name>) need a backtracking \
                             regex engine; Shieldwall runs MATCHES in linear time and does not \
                             support them"
                                .to_owned(),
                        );
                    }
                    _ => {}
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                // `[]…]` and `[^]…]`: a leading `]` is literal.
                if b.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&']') {
                    i += 1;
                }
            }
            '(' if b.get(i + 1) == Some(&'?') => {
                let rest: String = b[i + 2..].iter().take(3).collect();
                let what = if rest.starts_with('=') || rest.starts_with('!') {
                    Some("look-ahead `(?=…)` / `(?!…)`")
                } else if rest.starts_with("<=") || rest.starts_with("<!") {
                    Some("look-behind `(?<=…)` / `(?<!…)`")
                } else if rest.starts_with("P=") {
                    Some("the named backreference `(?P=name)`")
                } else if rest.starts_with('>') {
                    Some("the atomic group `(?>…)`")
                } else if rest.starts_with('(') {
                    Some("the conditional `(?(…)…)`")
                } else {
                    None
                };
                if let Some(what) = what {
                    return Some(format!(
                        "{what} needs a backtracking regex engine; Shieldwall runs MATCHES in \
                         linear time and does not support it"
                    ));
                }
            }
            '*' | '+' | '?' | '}' if b.get(i + 1) == Some(&'+') => {
                return Some(format!(
                    "the possessive quantifier `{c}+` needs a backtracking regex engine; \
                     Shieldwall runs MATCHES in linear time and does not support it"
                ));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Checks a `MATCHES` operand without building the automaton (fast, for validation): refused
/// constructs, then the regex syntax (with the nesting limit). Size limits are enforced when
/// [`compile_matches`] builds it.
pub fn check_matches(re: &str) -> Result<(), RegexProblem> {
    if let Some(msg) = unsupported_construct(re) {
        return Err(RegexProblem::Unsupported(msg));
    }
    let nfc: String = re.nfc().collect();
    regex_syntax::ParserBuilder::new()
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .parse(&translate(&nfc))
        .map(|_| ())
        .map_err(|e| {
            let full = e.to_string();
            let last = full.lines().last().unwrap_or("").trim();
            let last = last.strip_prefix("error:").unwrap_or(last).trim();
            RegexProblem::Invalid(format!("the regular expression does not compile: {last}"))
        })
}

/// Rewrites the few PCRE/Python spellings the engine reads differently, as [`check_matches`]
/// and [`compile_matches`] do after NFC normalisation: `\\Z` → `\\z`; `$` (outside a class)
/// also matches before a final newline, as in PCRE and Python; a `{` that does not begin a
/// repetition (`{n}`, `{n,}`, `{n,m}`) is a literal brace, as in PCRE and Python. Exported for
/// callers that build their own automaton over many `MATCHES` regexes (one regex set) and must
/// read each regex exactly as the evaluator does.
pub fn translate(re: &str) -> String {
    let chars: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('Z') => out.push_str("\\z"),
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                // `[^]…]` and `[]…]`: a leading `]` is literal.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push(']');
                    i += 1;
                }
            }
            '$' => out.push_str("(?:$|\\n\\z)"),
            '{' if !is_repetition(&chars[i..]) => out.push_str("\\{"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Whether `s` (starting at `{`) begins a counted repetition `{n}`, `{n,}` or `{n,m}`.
fn is_repetition(s: &[char]) -> bool {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if s.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    s.get(i) == Some(&'}')
}

fn builder(unicode: bool) -> meta::Builder {
    let mut b = meta::Builder::new();
    b.configure(
        meta::Config::new()
            .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
            .dfa_size_limit(Some(REGEX_SIZE_LIMIT))
            .hybrid_cache_capacity(2 << 20)
            .utf8_empty(unicode),
    )
    .syntax(
        syntax::Config::new()
            .unicode(unicode)
            .utf8(unicode)
            .nest_limit(REGEX_NEST_LIMIT),
    );
    b
}

/// A compiled `MATCHES` regex: a text form for strings and, when every character of the
/// regex is below U+0100, a byte form for binary values (the reference matcher's rule).
#[derive(Debug, Clone)]
pub struct CompiledRegex {
    /// Searches NFC-normalised text.
    pub text: Regex,
    /// Searches raw bytes; each regex character U+0000–U+00FF stands for that byte.
    pub bytes: Option<Regex>,
}

/// Compiles a `MATCHES` operand (NFC-normalised first).
pub fn compile_matches(re: &str) -> Result<CompiledRegex, RegexProblem> {
    if let Some(msg) = unsupported_construct(re) {
        return Err(RegexProblem::Unsupported(msg));
    }
    let nfc: String = re.nfc().collect();
    let text = builder(true)
        .build(&translate(&nfc))
        .map_err(|e| RegexProblem::Invalid(describe_build_error(&e)))?;
    let bytes = if nfc.chars().all(|c| (c as u32) < 256) {
        // Each char below 256 stands for one byte: write non-ASCII ones as `\xHH`, which the
        // engine reads as a byte when Unicode mode is off.
        let mut s = String::with_capacity(nfc.len());
        for c in translate(&nfc).chars() {
            if c.is_ascii() {
                s.push(c);
            } else {
                s.push_str(&format!("\\x{:02X}", c as u32));
            }
        }
        builder(false).build(&s).ok()
    } else {
        None
    };
    Ok(CompiledRegex { text, bytes })
}

fn describe_build_error(e: &regex_automata::meta::BuildError) -> String {
    if let Some(se) = e.syntax_error() {
        // The syntax error's Display spans several lines with a caret; keep the last line.
        let full = se.to_string();
        let last = full.lines().last().unwrap_or("").trim();
        let last = last.strip_prefix("error:").unwrap_or(last).trim();
        return format!("the regular expression does not compile: {last}");
    }
    if e.size_limit().is_some() {
        return format!(
            "the regular expression is too large (the compiled form exceeds {} MiB)",
            REGEX_SIZE_LIMIT >> 20
        );
    }
    format!("the regular expression does not compile: {e}")
}

/// A compiled `LIKE` operand: `%` = any run of characters, `_` = one character, anchored at
/// both ends, compared after NFC normalisation.
#[derive(Debug, Clone)]
pub struct CompiledLike {
    /// The matcher.
    pub regex: Regex,
    /// Whether every character is below U+0100 (binary values are then compared as UTF-8
    /// text, as the reference matcher does; otherwise binary values never match).
    pub binary_ok: bool,
}

/// Compiles a `LIKE` operand.
pub fn compile_like(pat: &str) -> Result<CompiledLike, RegexProblem> {
    let nfc: String = pat.nfc().collect();
    let mut re = String::from("(?s)\\A");
    let mut buf = [0u8; 4];
    for c in nfc.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            _ => re.push_str(&regex_syntax::escape(c.encode_utf8(&mut buf))),
        }
    }
    re.push_str("\\z");
    let regex = builder(true)
        .build(&re)
        .map_err(|e| RegexProblem::Invalid(describe_build_error(&e)))?;
    Ok(CompiledLike {
        regex,
        binary_ok: nfc.chars().all(|c| (c as u32) < 256),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backtracking_constructs_are_refused() {
        for re in [
            r"(a)\1",
            r"(?=x)",
            r"(?!x)",
            r"(?<=x)a",
            r"(?<!x)a",
            r"(?P<n>a)(?P=n)",
            r"(?>a)",
            r"a++",
            r"\k<n>",
        ] {
            assert!(
                matches!(compile_matches(re), Err(RegexProblem::Unsupported(_))),
                "{re}"
            );
        }
        for re in [
            r"[a\]]",
            r"\\1",
            r"(?i)abc",
            r"(?P<n>a)",
            r"a+?",
            r"\d+\.exe$",
        ] {
            assert!(compile_matches(re).is_ok(), "{re}");
        }
    }

    #[test]
    fn invalid_regex_has_a_message() {
        let Err(RegexProblem::Invalid(m)) = compile_matches("a(") else {
            panic!("expected invalid")
        };
        assert!(m.contains("does not compile"), "{m}");
    }

    #[test]
    fn bytes_form_matches_latin1_bytes() {
        let r = compile_matches(r"\xd4\xc3").unwrap();
        assert!(r.bytes.as_ref().unwrap().is_match(&[0u8, 0xd4, 0xc3][..]));
        let r = compile_matches("é").unwrap();
        assert!(r.bytes.as_ref().unwrap().is_match(&[0xe9u8][..]));
        assert!(compile_matches("ă").unwrap().bytes.is_none());
    }

    #[test]
    fn like_is_anchored_with_wildcards() {
        let l = compile_like("he%o_").unwrap();
        assert!(l.regex.is_match("hello!"));
        assert!(!l.regex.is_match("xhello!"));
        assert!(compile_like("a.b").unwrap().regex.is_match("a.b"));
        assert!(!compile_like("a.b").unwrap().regex.is_match("axb"));
        assert!(compile_like("%").unwrap().regex.is_match("multi\nline"));
    }

    #[test]
    fn dollar_and_braces_read_as_in_pcre() {
        // `$` also matches before a final newline (PCRE and Python), not before others.
        let r = compile_matches(r"\.exe$").unwrap();
        assert!(r.text.is_match("a.exe\n"));
        assert!(r.text.is_match("a.exe"));
        assert!(!r.text.is_match("a.exe\nb"));
        assert!(r.bytes.as_ref().unwrap().is_match(&b"a.exe\n"[..]));
        assert!(compile_matches("[$]").unwrap().text.is_match("$"));
        assert!(compile_matches(r"\$").unwrap().text.is_match("a$b"));
        assert!(compile_matches("(?m)^a$").unwrap().text.is_match("a\nb"));
        // A brace that does not begin a repetition is literal.
        assert!(compile_matches("a{").unwrap().text.is_match("xa{"));
        assert!(compile_matches("a{x}").unwrap().text.is_match("a{x}"));
        assert!(compile_matches("^a{2}$").unwrap().text.is_match("aa"));
        assert!(compile_matches("^a{1,}$").unwrap().text.is_match("aaa"));
        assert!(check_matches("a{").is_ok());
    }
}
