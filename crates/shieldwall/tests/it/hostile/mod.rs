//! Shared by `validate_cli` and `bounded_validation`: indicators whose patterns are the worst
//! shapes for a pattern parser (unbalanced `{`, `(`, `[`, long `AND` chains, giant literals,
//! long `IN` lists of bad hashes, bad escapes, deep regexes), some over the pattern length limit
//! and some just under it.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use serde_json::{Value, json};

/// `unit` repeated (joined by `sep`) until the text is about `size` bytes, between `head` and
/// `tail`.
pub fn fill(head: &str, unit: &str, sep: &str, tail: &str, size: usize) -> String {
    let mut s = String::with_capacity(size + unit.len() + tail.len());
    s.push_str(head);
    let mut first = true;
    while s.len() + unit.len() + sep.len() + tail.len() <= size {
        if !first {
            s.push_str(sep);
        }
        s.push_str(unit);
        first = false;
    }
    s.push_str(tail);
    s
}

/// The shapes, each about `size` bytes: (name, pattern).
pub fn shapes(size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("braces", "{".repeat(size)),
        ("braces and newlines", "{\n".repeat(size / 2)),
        ("parentheses", "(".repeat(size)),
        ("brackets", "[".repeat(size)),
        (
            "AND chain",
            fill("", "[file:name = 'a']", " AND ", "", size),
        ),
        (
            "AND chain inside brackets",
            fill("[", "file:name = 'a'", " AND ", "]", size),
        ),
        ("giant literal", fill("[file:name = '", "x", "", "']", size)),
        (
            "giant bad hash",
            fill("[file:hashes.MD5 = '", "z", "", "']", size),
        ),
        (
            "IN list of bad hashes",
            fill("[file:hashes.MD5 IN (", "'zz'", ", ", ")]", size),
        ),
        (
            "qualifiers",
            fill("[file:name = 'a']", " WITHIN 5 SECONDS", "", "", size),
        ),
        ("bad escapes", fill("[file:name = '", "\\x", "", "']", size)),
        (
            "deep regex",
            fill("[file:name MATCHES '", "(", "", "']", size),
        ),
    ]
}

/// An indicator with this pattern; `n` makes its id.
pub fn indicator(n: usize, pattern: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "hostile", "description": "a worst case for the pattern parser",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z"})
}

/// About 9.5 MB of indicators: the first six shapes at 1.1 MB (over the limit), every shape at
/// 240 KB (under it), and two ordinary indicators. Returns them with the number of those
/// expected to be valid.
pub fn envelope_objects() -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    for (_, p) in shapes(1_100_000).into_iter().take(6) {
        out.push(indicator(out.len(), &p));
    }
    let mut valid = 0;
    for (name, p) in shapes(240_000) {
        if name == "giant literal" {
            valid += 1;
        }
        out.push(indicator(out.len(), &p));
    }
    for p in [
        "[ipv4-addr:value = '192.0.2.1']",
        "[domain-name:value = 'example.org']",
    ] {
        out.push(indicator(out.len(), p));
        valid += 1;
    }
    (out, valid)
}
