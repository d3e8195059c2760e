//! Hostile patterns: each shape, just under the length limit and far over it, gives a bounded
//! list of short diagnostics (the work is linear; a capped list means the lexer and parser
//! stopped reading, which the closing note says).
#![allow(clippy::unwrap_used)]

use pattern::{
    Code, Diagnostic, LineIndex, MAX_DIAGNOSTICS, MAX_PATTERN_BYTES, Severity, StixVersion,
    line_col, parse,
};

/// `unit` repeated until the text is about `size` bytes, between `head` and `tail`.
fn fill(head: &str, unit: &str, sep: &str, tail: &str, size: usize) -> String {
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

/// Every shape, about `size` bytes long.
fn shapes(size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("braces", "{".repeat(size)),
        ("braces with newlines", "{\n".repeat(size / 2)),
        ("non-ASCII and braces", "é{".repeat(size / 3)),
        ("parentheses", "(".repeat(size)),
        ("brackets", "[".repeat(size)),
        ("closing brackets", "]".repeat(size)),
        (
            "AND chain of observations",
            fill("", "[file:name = 'a']", " AND ", "", size),
        ),
        (
            "AND chain of comparisons",
            fill("[", "file:name = 'a'", " AND ", "]", size),
        ),
        (
            "OR chain of hashes",
            fill(
                "[",
                "file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'",
                " OR ",
                "]",
                size,
            ),
        ),
        (
            "failing observations",
            fill("", "[file:name = ]", " AND ", "", size),
        ),
        (
            "qualifiers",
            fill("[file:name = 'a']", " WITHIN 5 SECONDS", "", "", size),
        ),
        (
            "parentheses in a comparison",
            fill("[", "(", "", "file:name = 'a'", size),
        ),
        ("giant literal", fill("[file:name = '", "x", "", "']", size)),
        (
            "giant invalid hash",
            fill("[file:hashes.MD5 = '", "z", "", "']", size),
        ),
        (
            "IN list of invalid hashes",
            fill("[file:hashes.MD5 IN (", "'zz'", ", ", ")]", size),
        ),
        (
            "IN list of mixed types",
            fill("[file:size IN (", "1, 'a', true", ", ", ")]", size),
        ),
        (
            "impossible timestamps",
            fill(
                "[file:ctime IN (",
                "t'2024-02-30T00:00:00Z'",
                ", ",
                ")]",
                size,
            ),
        ),
        (
            "MATCHES alternation",
            fill("[file:name MATCHES '", "(a|b)", "", "']", size),
        ),
        (
            "MATCHES nesting",
            fill("[file:name MATCHES '", "(", "", "']", size),
        ),
        ("bad escapes", fill("[file:name = '", "\\x", "", "']", size)),
        (
            "long property name",
            fill("[file:'", "a", "", "' = 1]", size),
        ),
        ("long object type", fill("[", "a", "", ":b = 1]", size)),
        ("long integer", fill("[file:size = ", "9", "", "]", size)),
        ("unclosed string", fill("[file:name = '", "x", "", "", size)),
        (
            "unclosed comment",
            fill("[file:name = 'a'] /*", "x", "", "", size),
        ),
        ("slashes", "/a".repeat(size / 2)),
        ("quotes", "\"".repeat(size)),
        (
            "many bracket expressions with errors",
            fill("", "[a:b = 'x' c]", " OR ", "", size),
        ),
    ]
}

fn check_bounded(name: &str, src: &str) -> Vec<Diagnostic> {
    let parsed = parse(src, StixVersion::V21);
    let d = &parsed.diagnostics;
    assert!(
        d.len() <= MAX_DIAGNOSTICS + 1,
        "{name}: {} diagnostics for {} bytes",
        d.len(),
        src.len()
    );
    for x in d {
        assert!(
            x.message.chars().count() <= 400,
            "{name}: a message of {} characters: {}…",
            x.message.len(),
            x.message.chars().take(100).collect::<String>()
        );
        let r = x.render(src);
        assert!(
            r.chars().count() <= 1000,
            "{name}: a rendering of {} characters",
            r.len()
        );
    }
    if d.len() == MAX_DIAGNOSTICS + 1 {
        let last = d.last().unwrap();
        assert_eq!(
            last.code,
            Code::Limit,
            "{name}: a capped list ends with the note"
        );
    }
    d.clone()
}

#[test]
fn every_shape_over_the_limit_is_refused_before_reading() {
    for (name, src) in shapes(1 << 20) {
        assert!(src.len() > MAX_PATTERN_BYTES, "{name}");
        let d = check_bounded(name, &src);
        assert_eq!(d.len(), 1, "{name}");
        assert_eq!(d[0].code, Code::Limit, "{name}");
        assert!(d[0].is_error(), "{name}");
        assert!(d[0].message.contains("262144"), "{name}: {}", d[0].message);
    }
}

#[test]
fn every_shape_under_the_limit_gives_a_bounded_list() {
    for (name, src) in shapes(MAX_PATTERN_BYTES) {
        assert!(
            src.len() <= MAX_PATTERN_BYTES && src.len() > MAX_PATTERN_BYTES - 200,
            "{name}: {} bytes",
            src.len()
        );
        let d = check_bounded(name, &src);
        match name {
            "giant literal" | "MATCHES alternation" | "long object type" => {
                assert!(d.is_empty(), "{name}: {d:?}");
            }
            "braces"
            | "braces with newlines"
            | "non-ASCII and braces"
            | "bad escapes"
            | "quotes" => {
                // Thousands of errors: the lexer stopped at the cap.
                assert_eq!(d.len(), MAX_DIAGNOSTICS + 1, "{name}");
                assert!(
                    d[MAX_DIAGNOSTICS].message.contains("reading stopped"),
                    "{name}"
                );
                assert!(d[MAX_DIAGNOSTICS].is_error());
            }
            "IN list of invalid hashes" | "impossible timestamps" => {
                // Every problem is counted, only the first ones listed.
                assert_eq!(d.len(), MAX_DIAGNOSTICS + 1, "{name}");
                let note = &d[MAX_DIAGNOSTICS];
                assert!(note.message.contains("more"), "{name}: {}", note.message);
                let items = src.matches(", ").count() + 1;
                assert!(
                    note.message
                        .contains(&(items - MAX_DIAGNOSTICS).to_string()),
                    "{name}: {} items, {}",
                    items,
                    note.message
                );
                let expect = if name == "impossible timestamps" {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                assert_eq!(note.severity, expect, "{name}");
            }
            _ => assert!(!d.is_empty(), "{name}: a problem is reported"),
        }
    }
}

#[test]
fn warnings_first_do_not_hide_a_later_error() {
    // Twenty-five impossible timestamps (warnings), then an invalid hash (an error): the
    // list is capped among the warnings, and the note is an error.
    let mut src = String::from("[file:ctime IN (");
    src.push_str(&vec!["t'2024-02-30T00:00:00Z'"; 25].join(", "));
    src.push_str(") AND file:hashes.MD5 = 'zz']");
    let parsed = parse(&src, StixVersion::V21);
    assert_eq!(parsed.diagnostics.len(), MAX_DIAGNOSTICS + 1);
    assert!(
        parsed.diagnostics[..MAX_DIAGNOSTICS]
            .iter()
            .all(|d| !d.is_error())
    );
    assert!(parsed.diagnostics[MAX_DIAGNOSTICS].is_error());
    assert!(!parsed.is_valid());
}

#[test]
fn line_index_agrees_with_line_col() {
    let src = "[a:b = 'é']\n\n  AND ( [x:y = 1]\r\n)\tOR 'ü𝄞'\n";
    let mut idx = LineIndex::new(src);
    // Ascending (the incremental path), then in any order.
    for o in 0..=src.len() + 2 {
        assert_eq!(idx.line_col(o), line_col(src, o), "offset {o}");
    }
    for o in (0..=src.len()).rev().chain([3, 40, 1, 17, 17, 0]) {
        assert_eq!(idx.line_col(o), line_col(src, o), "offset {o}");
    }
}

#[test]
fn long_lines_render_as_a_window_around_the_span() {
    let src = format!("[file:name = '{}'] AND {{", "x".repeat(10_000));
    let parsed = parse(&src, StixVersion::V21);
    let d = &parsed.diagnostics[0];
    let r = d.render(&src);
    let lines: Vec<&str> = r.lines().collect();
    let col = src.find('{').unwrap() + 1;
    assert!(
        lines[0].starts_with(&format!("error[syntax] at 1:{col}:")),
        "{r}"
    );
    assert!(lines[1].chars().count() < 200, "{r}");
    assert!(lines[1].contains("AND {"), "{r}");
    // The caret is under the `{`.
    let caret = lines[2].chars().position(|c| c == '^').unwrap();
    assert_eq!(lines[1].chars().nth(caret), Some('{'), "{r}");
}
