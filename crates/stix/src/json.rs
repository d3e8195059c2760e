//! Strict JSON: what STIX documents are parsed with.
//!
//! On top of `serde_json` (whose recursion limit of 128 stays on), the parser rejects duplicate
//! object keys, which `serde_json::Value` would silently collapse to the last one. `serde_json`
//! itself rejects NaN/Infinity, invalid UTF-8, lone surrogates and trailing characters. Every
//! error carries the line and column (1-based; columns count bytes) where it was found.
//!
//! [`locate`] finds where a JSON pointer points inside raw bytes, so a finding about a parsed
//! value can be reported at a line and column of the file.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON syntax error (or a rejected construct) at a position of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct JsonError {
    /// What is wrong, without the position.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in bytes (0 when the error is at the end of the input before any byte).
    pub column: usize,
}

impl JsonError {
    /// A `serde_json` error as a position and the message without serde's " at line … column …".
    pub fn from_serde(err: &serde_json::Error) -> JsonError {
        let full = err.to_string();
        // serde_json appends " at line L column C"; keep only the message.
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        JsonError {
            message,
            line: err.line(),
            column: err.column(),
        }
    }

    /// The same error moved to a document in which the parsed bytes started at `line`:`column`.
    pub fn shifted(mut self, line: usize, column: usize) -> JsonError {
        if self.line <= 1 {
            self.column = column + self.column.saturating_sub(1);
            self.line = line;
        } else {
            self.line += line - 1;
        }
        self
    }
}

/// Parses one JSON document strictly (see the module documentation).
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed
        .deserialize(&mut de)
        .map_err(|e| JsonError::from_serde(&e))?;
    de.end().map_err(|e| JsonError::from_serde(&e))?;
    Ok(value)
}

/// Parses one JSON document from a string strictly.
pub fn parse_str(s: &str) -> Result<Value, JsonError> {
    parse(s.as_bytes())
}

/// A `DeserializeSeed` that builds a `Value` and rejects duplicate keys: what [`parse`] uses,
/// for callers that deserialize values one by one out of a larger document (streaming).
#[derive(Debug, Clone, Copy)]
pub struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(StrictSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(StrictSeed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// 1-based line and byte column of `offset` in `bytes`.
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    let col = match memchr::memrchr(b'\n', before) {
        Some(nl) => offset - nl,
        None => offset + 1,
    };
    (line, col)
}

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`) onto `out`.
pub fn push_pointer_segment(out: &mut String, segment: &str) {
    out.push('/');
    for c in segment.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// The byte offset in `bytes` (a well-formed JSON document) of the value a JSON pointer
/// (RFC 6901) designates, or `None` if it cannot be found. For a missing property, callers
/// pass the pointer of the enclosing object.
pub fn locate(bytes: &[u8], pointer: &str) -> Option<usize> {
    let mut pos = skip_ws(bytes, 0);
    if pointer.is_empty() {
        return Some(pos);
    }
    let segments = pointer.strip_prefix('/')?.split('/');
    for raw in segments {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match bytes.get(pos)? {
            b'{' => {
                pos = skip_ws(bytes, pos + 1);
                loop {
                    if bytes.get(pos)? == &b'}' {
                        return None;
                    }
                    let key_end = skip_string(bytes, pos)?;
                    let key: String = serde_json::from_slice(&bytes[pos..key_end]).ok()?;
                    pos = skip_ws(bytes, key_end);
                    if bytes.get(pos)? != &b':' {
                        return None;
                    }
                    pos = skip_ws(bytes, pos + 1);
                    if key == segment {
                        break;
                    }
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    if bytes.get(pos)? == &b',' {
                        pos = skip_ws(bytes, pos + 1);
                    }
                }
            }
            b'[' => {
                let index: usize = segment.parse().ok()?;
                pos = skip_ws(bytes, pos + 1);
                for _ in 0..index {
                    if bytes.get(pos)? == &b']' {
                        return None;
                    }
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    if bytes.get(pos)? == &b',' {
                        pos = skip_ws(bytes, pos + 1);
                    }
                }
                if bytes.get(pos)? == &b']' {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(pos)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// End (exclusive) of the string starting at `pos` (which must be `"`).
fn skip_string(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos)? != &b'"' {
        return None;
    }
    let mut i = pos + 1;
    loop {
        let j = memchr::memchr2(b'"', b'\\', &bytes[i..])? + i;
        if bytes[j] == b'"' {
            return Some(j + 1);
        }
        i = j + 2;
        if i > bytes.len() {
            return None;
        }
    }
}

/// End (exclusive) of the value starting at `pos`, without recursion.
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = pos;
    loop {
        match *bytes.get(i)? {
            b'"' => i = skip_string(bytes, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ => i += 1,
        }
        if depth == 0 {
            // A scalar ends at a delimiter.
            if bytes[pos] != b'{' && bytes[pos] != b'[' && bytes[pos] != b'"' {
                while let Some(c) = bytes.get(i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    i += 1;
                }
            }
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rejects_duplicate_keys_with_position() {
        let err = parse(b"{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
        assert!(err.message.contains("duplicate key \"a\""), "{err}");
        assert_eq!(err.line, 3);
        // Nested objects too.
        assert!(parse(br#"{"x": {"b": 1, "b": 1}}"#).is_err());
        // Same key in sibling objects is fine.
        assert!(parse(br#"[{"b": 1}, {"b": 1}]"#).is_ok());
    }

    #[test]
    fn rejects_non_json() {
        for bad in [
            &b"NaN"[..],
            b"{\"a\": NaN}",
            b"{\"a\": Infinity}",
            b"{\"a\": \"\xff\"}",
            b"\"\\ud800\"",
            b"{} x",
            b"{\"a\": 1,}",
            b"",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(100_000);
        let err = parse(deep.as_bytes()).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
    }

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a": [1, -2, 3.5, 1e300, true, null, "é\n"], "b": {"c": {}}}"#;
        assert_eq!(
            parse_str(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn locates_pointers() {
        let text = "{\n  \"a\": [10, {\"b/c\": \"x\"}],\n  \"d\": 1\n}";
        let at = |p: &str| line_col(text.as_bytes(), locate(text.as_bytes(), p).unwrap());
        assert_eq!(at(""), (1, 1));
        assert_eq!(at("/a"), (2, 8));
        assert_eq!(at("/a/0"), (2, 9));
        assert_eq!(at("/a/1/b~1c"), (2, 21));
        assert_eq!(at("/d"), (3, 8));
        assert_eq!(locate(text.as_bytes(), "/zz"), None);
        assert_eq!(locate(text.as_bytes(), "/a/7"), None);
    }
}
