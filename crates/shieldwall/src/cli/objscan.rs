//! One pass over an indicator file's object for the fields the compiler needs, without serde:
//! the reading thread's fast path (`scan`'s indicator files, one object at a time).
//!
//! It takes only objects written plainly — no backslash anywhere (so no escape to decode), valid
//! UTF-8, strings without control characters, numbers, `true`/`false`/`null`, arrays and
//! objects nested at most [`MAX_DEPTH`] deep — and within them only the indicator fields of the
//! expected JSON types, each once. Anything else is left to the general reader
//! ([`super::latest::read_indicator`]: serde, then the strict `Value` reader), so that whatever
//! this pass takes, it reads as that reader does (held by the tests below, among them a property
//! test over generated objects).

/// How deep arrays and objects may nest inside an object this pass takes (serde's limit is
/// 128; deeper objects are left to the general reader).
pub(crate) const MAX_DEPTH: usize = 32;

/// The fields of one object, borrowed from its bytes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) ty: Option<&'a str>,
    pub(crate) id: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    pub(crate) pattern: Option<&'a str>,
    pub(crate) pattern_type: Option<&'a str>,
    pub(crate) valid_from: Option<&'a str>,
    pub(crate) valid_until: Option<&'a str>,
    pub(crate) created: Option<&'a str>,
    pub(crate) modified: Option<&'a str>,
    pub(crate) revoked: Option<bool>,
    /// The bytes inside `object_marking_refs`' brackets: strings only ([`Fields::markings`]).
    pub(crate) marking_refs: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// The strings of `object_marking_refs`.
    pub(crate) fn markings(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        // Checked to be strings without escapes, separated by commas and white space: the
        // contents are every second piece between quotes.
        self.marking_refs
            .unwrap_or("")
            .split('"')
            .skip(1)
            .step_by(2)
    }
}

/// The fields of `raw` (one JSON object), or `None` when it is not written plainly or a field
/// is not of the expected type or given twice: the general reader then reads it.
pub(crate) fn scan(raw: &[u8]) -> Option<Fields<'_>> {
    if memchr::memchr(b'\\', raw).is_some() {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    let mut s = Scanner {
        b: raw,
        t: text,
        i: 0,
    };
    let mut f = Fields::default();
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            let key = s.string()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let slot = match key {
                "type" => Some(&mut f.ty),
                "id" => Some(&mut f.id),
                "name" => Some(&mut f.name),
                "pattern" => Some(&mut f.pattern),
                "pattern_type" => Some(&mut f.pattern_type),
                "valid_from" => Some(&mut f.valid_from),
                "valid_until" => Some(&mut f.valid_until),
                "created" => Some(&mut f.created),
                "modified" => Some(&mut f.modified),
                _ => None,
            };
            match (slot, key) {
                (Some(slot), _) => {
                    if slot.is_some() || s.peek() != Some(b'"') {
                        return None;
                    }
                    *slot = Some(s.string()?);
                }
                (None, "revoked") => {
                    if f.revoked.is_some() {
                        return None;
                    }
                    f.revoked = Some(match s.word()? {
                        "true" => true,
                        "false" => false,
                        _ => return None,
                    });
                }
                (None, "object_marking_refs") => {
                    if f.marking_refs.is_some() {
                        return None;
                    }
                    f.marking_refs = Some(s.strings()?);
                }
                // Read by the general reader only.
                (None, "granular_markings") => return None,
                (None, _) => s.value(0)?,
            }
            s.ws();
            match s.peek()? {
                b',' => {
                    s.i += 1;
                    s.ws();
                }
                b'}' => {
                    s.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    s.ws();
    (s.i == s.b.len()).then_some(f)
}

struct Scanner<'a> {
    b: &'a [u8],
    t: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// JSON white space.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string without escapes or control characters; its content.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = memchr::memchr(b'"', &self.b[start..])?;
        let body = &self.b[start..start + len];
        if body.iter().any(|&c| c < 0x20) {
            return None;
        }
        self.i = start + len + 1;
        // Quotes are ASCII: the cut is on character boundaries of the UTF-8 text.
        self.t.get(start..start + len)
    }

    /// `[` strings `]`: the text between the brackets.
    fn strings(&mut self) -> Option<&'a str> {
        self.eat(b'[')?;
        let start = self.i;
        self.ws();
        if self.peek()? != b']' {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                self.string()?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b']' => break,
                    _ => return None,
                }
            }
        }
        let inner = self.t.get(start..self.i)?;
        self.i += 1;
        Some(inner)
    }

    /// A run of letters (`true`, `false`, `null`).
    fn word(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_lowercase()) {
            self.i += 1;
        }
        self.t.get(start..self.i)
    }

    /// A JSON number, as the grammar has it.
    fn number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let start = s.i;
            while s.peek().is_some_and(|c| c.is_ascii_digit()) {
                s.i += 1;
            }
            s.i > start
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(())
    }

    /// Any value, checked and skipped.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'-' | b'0'..=b'9' => self.number(),
            b't' | b'f' | b'n' => matches!(self.word()?, "true" | "false" | "null").then_some(()),
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let close = if open == b'[' { b']' } else { b'}' };
                self.i += 1;
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_fields_of_a_plain_object() {
        let raw = r#"{"type": "indicator", "spec_version": "2.1", "id": "indicator--1",
            "confidence": -1.5e+3, "labels": ["a", {"b": [null, true, false, 0]}],
            "revoked": false, "object_marking_refs": ["m--1" , "m--2"], "pattern": "[x]",
            "name": "café"}"#;
        let f = scan(raw.as_bytes()).unwrap();
        assert_eq!(f.ty, Some("indicator"));
        assert_eq!(f.id, Some("indicator--1"));
        assert_eq!(f.name, Some("café"));
        assert_eq!(f.revoked, Some(false));
        assert_eq!(f.markings().collect::<Vec<_>>(), ["m--1", "m--2"]);
        assert_eq!(scan(b"{}").unwrap().ty, None);
        assert_eq!(
            scan(br#"{"object_marking_refs": []}"#)
                .unwrap()
                .markings()
                .count(),
            0
        );
    }

    #[test]
    fn leaves_everything_else_to_the_general_reader() {
        for raw in [
            // escapes, control characters, invalid UTF-8
            &br#"{"type": "indic\u0061tor"}"#[..],
            br#"{"name": "a\"b"}"#,
            b"{\"name\": \"a\tb\"}",
            b"{\"name\": \"\xff\"}",
            // duplicates of a field read, other types
            br#"{"id": "a", "id": "a"}"#,
            br#"{"revoked": true, "revoked": true}"#,
            br#"{"name": null}"#,
            br#"{"revoked": "yes"}"#,
            br#"{"revoked": null}"#,
            br#"{"object_marking_refs": ["a", 1]}"#,
            br#"{"object_marking_refs": "a"}"#,
            br#"{"granular_markings": []}"#,
            // not JSON
            br#"{"a": 01}"#,
            br#"{"a": 1.}"#,
            br#"{"a": .5}"#,
            br#"{"a": +1}"#,
            br#"{"a": 1e}"#,
            br#"{"a": tru}"#,
            br#"{"a": [1,]}"#,
            br#"{"a": 1,}"#,
            br#"{"a" 1}"#,
            br#"{"a": 1} x"#,
            br#"{"a": {"b"}}"#,
            br#"["a"]"#,
            br#""a""#,
            b"",
        ] {
            assert!(scan(raw).is_none(), "{}", String::from_utf8_lossy(raw));
        }
        let deep = format!(
            "{{\"a\": {}{}}}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(scan(deep.as_bytes()).is_none());
        let ok = format!(
            "{{\"a\": {}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(scan(ok.as_bytes()).is_some());
    }
}
