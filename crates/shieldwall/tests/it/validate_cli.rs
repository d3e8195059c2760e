//! End-to-end tests of `shieldwall validate`, running the real binary.
#![allow(clippy::unwrap_used)]

use crate::common::shieldwall_with_stdin as shieldwall;
use std::{path::Path, process::Output};

use crate::hostile;

const IDENTITY: &str = r#"{
  "type": "identity",
  "spec_version": "2.1",
  "id": "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f",
  "created": "2016-08-08T15:50:10.983Z",
  "modified": "2016-08-08T15:50:10.983Z",
  "name": "Franistan Intelligence",
  "identity_class": "organization"
}"#;

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_valid_object_exits_0_silently() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "identity.json", IDENTITY.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(stdout(&o), "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 objects, 0 errors, 0 warnings"));
}

#[test]
fn an_invalid_object_names_file_line_column_code_id_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let text = IDENTITY.replace("\"modified\": \"2016", "\"modified\": \"2015");
    let f = write(dir.path(), "bad.json", text.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(1));
    let expected = format!(
        "{f}:6:15: error[timestamp-order]: 'modified' (2015-08-08T15:50:10.983Z) must be later than or equal to 'created' (2016-08-08T15:50:10.983Z) (identity--8c6af861-7b20-41ef-9b59-6344fd872a8f, /modified)\n"
    );
    assert_eq!(stdout(&o), expected);
}

#[test]
fn json_output_is_one_finding_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = format!(
        "{{\"type\": \"bundle\", \"id\": \"bundle--44af6c39-c09b-49c5-9de2-394224b04982\", \"objects\": [\n{IDENTITY},\n{}\n]}}",
        IDENTITY
            .replace("\"name\": \"Franistan Intelligence\",", "")
            .replace("organization", "corporation")
    );
    let f = write(dir.path(), "bundle.json", bundle.as_bytes());
    let o = shieldwall(&["validate", "--json", &f], None);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    // Both objects have the same id and modified: reported once the second is read.
    assert_eq!(lines[2]["code"], "duplicate-ids");
    assert_eq!(lines[0]["severity"], "error");
    assert_eq!(lines[0]["code"], "required");
    assert_eq!(lines[0]["line"], 11);
    assert_eq!(lines[1]["severity"], "warning");
    assert_eq!(lines[1]["code"], "identity-class");
    assert_eq!(lines[1]["pointer"], "/identity_class");
    assert_eq!(
        lines[1]["object_id"],
        "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"
    );
    assert_eq!(lines[1]["line"], 18);
}

#[test]
fn strict_makes_warnings_fail() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "w.json",
        IDENTITY.replace("organization", "corporation").as_bytes(),
    );
    assert_eq!(shieldwall(&["validate", &f], None).status.code(), Some(0));
    assert_eq!(
        shieldwall(&["validate", "--strict", &f], None)
            .status
            .code(),
        Some(1)
    );
    let o = shieldwall(
        &["validate", "--strict", "--disable", "identity-class", &f],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let o = shieldwall(&["validate", "--disable", "no-such-check", &f], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-check is not a valid check"));
}

#[test]
fn reads_standard_input_arrays_and_envelopes() {
    let arr = format!("[{IDENTITY}, {IDENTITY}]");
    let o = shieldwall(&["validate", "-"], Some(arr.as_bytes()));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 objects"));
    let env = format!("{{\"more\": false, \"objects\": [{IDENTITY}]}}");
    assert_eq!(
        shieldwall(&["validate", "-"], Some(env.as_bytes()))
            .status
            .code(),
        Some(0)
    );
    let o = shieldwall(&["validate", "-"], Some(b"[1, {\"type\": \"x\"}]"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("<stdin>:1:2: error[not-object]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn unreadable_input_exits_2_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, want) in [
        (
            "comma.json",
            &b"{\n  \"a\": 1,\n}"[..],
            ":3:1: error[json]:",
        ),
        (
            "dup.json",
            b"{\"type\": \"identity\",\n \"type\": \"identity\"}",
            ":2:",
        ),
        ("nan.json", b"[{\"a\": NaN}]", ":1:"),
        ("utf8.json", b"[{\"name\": \"\xff\xfe\"}]", ":1:"),
        ("empty.json", b"", ":1:1: error[json]: empty input"),
        (
            "trailing.json",
            b"{} {}",
            ":1:4: error[json]: trailing characters",
        ),
    ] {
        let f = write(dir.path(), name, content);
        let o = shieldwall(&["validate", &f], None);
        assert_eq!(o.status.code(), Some(2), "{name}: {o:?}");
        let out = stdout(&o);
        assert!(out.contains(&format!("{f}{want}")), "{name}: {out}");
    }
    let o = shieldwall(&["validate", "/nonexistent/x.json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("cannot read"));
}

#[test]
fn hostile_input_gets_a_clear_answer() {
    let dir = tempfile::tempdir().unwrap();
    // 100,000 levels of nesting: the recursion limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let f = write(dir.path(), "deep.json", deep.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("recursion limit exceeded"),
        "{}",
        stdout(&o)
    );
    let deep_obj = format!(
        "{{\"type\": \"x\", \"a\": {}{}}}",
        "{\"b\": ".repeat(100_000),
        "}".repeat(100_000)
    );
    let f = write(dir.path(), "deep_obj.json", deep_obj.as_bytes());
    assert_eq!(shieldwall(&["validate", &f], None).status.code(), Some(2));
    // A 10 MB string in a valid object is simply valid.
    let big = IDENTITY.replace(
        "\"Franistan Intelligence\"",
        &format!("\"{}\"", "x".repeat(10 << 20)),
    );
    let f = write(dir.path(), "big.json", big.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Unterminated input.
    let f = write(dir.path(), "cut.json", &IDENTITY.as_bytes()[..100]);
    assert_eq!(shieldwall(&["validate", &f], None).status.code(), Some(2));
}

#[test]
fn oasis_example_files() {
    let Some(dir) = testenv::shared_file(
        "stix2-validator examples",
        "conformance/stix-validation/test_examples_v21",
    ) else {
        return;
    };
    for (name, code) in [
        ("identity.json", 0),
        ("identity_unicode.json", 0),
        ("identity_custom.json", 0),
        ("tlp-amber.json", 0),
        ("tool.json", 0),
        ("invalid_identity.json", 1),
        ("invalid_timestamp.json", 1),
        ("invalid_braces.json", 2),
        ("invalid_comma.json", 2),
    ] {
        let o = shieldwall(&["validate", dir.join(name).to_str().unwrap()], None);
        assert_eq!(o.status.code(), Some(code), "{name}: {}", stdout(&o));
    }
    let o = shieldwall(
        &[
            "validate",
            "--strict",
            dir.join("identity_custom.json").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "custom property 'foo' is a SHOULD-level finding"
    );
}

#[test]
fn hostile_patterns_give_bounded_output() {
    // About 9.5 MB of the worst pattern shapes: every object is reported with at most 20
    // findings and a closing count, each line short, and the run ends.
    let dir = tempfile::tempdir().unwrap();
    let (objects, valid) = hostile::envelope_objects();
    let n = objects.len();
    let bundle = serde_json::json!({"type": "bundle",
        "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": objects})
    .to_string();
    assert!(bundle.len() > 9_000_000, "{} bytes", bundle.len());
    let f = write(dir.path(), "hostile.json", bundle.as_bytes());
    let started = std::time::Instant::now();
    let o = shieldwall(&["validate", &f], None);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    let per_object = stix::validate::MAX_FINDINGS_PER_OBJECT + 1;
    assert!(
        lines.len() <= (n - valid) * per_object + n,
        "{} lines for {n} objects",
        lines.len()
    );
    assert!(text.len() < 128 * 1024, "{} bytes of output", text.len());
    assert!(lines.iter().all(|l| l.len() < 1024), "a long line");
    // Each over-limit pattern is refused for its length, at its line and column.
    let too_long: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("longer than the limit of 262144 bytes"))
        .collect();
    assert_eq!(too_long.len(), 6, "{too_long:#?}");
    assert!(too_long[0].contains(":1:"), "{}", too_long[0]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("error[limit]") && l.contains("more problems")),
        "a capped object ends with a count"
    );
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(summary.contains(&format!("{n} objects")), "{summary}");
    // Not a timing assertion of the library, a hang guard for the binary: the quadratic cost
    // this replaces took minutes on this input.
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");

    // The JSON form is as bounded.
    let o = shieldwall(&["validate", "--json", &f], None);
    let text = stdout(&o);
    assert!(
        text.len() < 256 * 1024,
        "{} bytes of JSON output",
        text.len()
    );
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(
            v["line"].as_u64().is_some() && v["column"].as_u64().is_some(),
            "{l}"
        );
    }
}

/// A STIX 2.0-style bundle states `spec_version` once; its objects inherit it, whether the
/// property comes before or after `objects`. A bundle without one leaves each SDO's missing
/// `spec_version` an error, reported at the object, and an object's own error still counts.
#[test]
fn bundle_spec_version_is_inherited_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let bare = IDENTITY.replace("\"spec_version\": \"2.1\",", "");
    let sco = r#"{"type": "ipv4-addr", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"}"#;
    let before = format!(
        "{{\"type\": \"bundle\", \"id\": \"bundle--44af6c39-c09b-49c5-9de2-394224b04982\", \"spec_version\": \"2.1\", \"objects\": [\n{bare},\n{sco}\n]}}"
    );
    let after = format!(
        "{{\"type\": \"bundle\", \"id\": \"bundle--44af6c39-c09b-49c5-9de2-394224b04982\", \"objects\": [\n{bare},\n{sco}\n], \"spec_version\": \"2.1\"}}"
    );
    let none = format!(
        "{{\"type\": \"bundle\", \"id\": \"bundle--44af6c39-c09b-49c5-9de2-394224b04982\", \"objects\": [\n{bare},\n{sco}\n]}}"
    );
    for (name, text) in [("before.json", &before), ("after.json", &after)] {
        let f = write(dir.path(), name, text.as_bytes());
        let o = shieldwall(&["validate", "--disable", "extensions-use", &f], None);
        assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
        assert!(
            !stdout(&o).contains("spec_version"),
            "{name}: {}",
            stdout(&o)
        );
    }
    let f = write(dir.path(), "none.json", none.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = stdout(&o);
    assert_eq!(
        out,
        format!(
            "{f}:2:1: error[required]: 'spec_version' is a required property (identity--8c6af861-7b20-41ef-9b59-6344fd872a8f)\n"
        )
    );
    // Inheritance does not hide other errors: an object with a bad timestamp still fails.
    let broken = after.replace("\"created\": \"2016-08-08", "\"created\": \"2016-02-30");
    let f = write(dir.path(), "broken.json", broken.as_bytes());
    let o = shieldwall(&["validate", "--disable", "extensions-use", &f], None);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stdout(&o).contains("/created"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("spec_version"), "{}", stdout(&o));
    // Standard input, the same.
    let o = shieldwall(&["validate", "-"], Some(before.as_bytes()));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

/// `--interop`: more than one TLP 1.0 marking on an object is an error only in that profile.
#[test]
fn interop_refuses_two_tlp_markings() {
    let dir = tempfile::tempdir().unwrap();
    let text = IDENTITY.replace(
        "\"name\":",
        "\"object_marking_refs\": [\"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da\", \"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed\"],\n  \"name\":",
    );
    let f = write(dir.path(), "two.json", text.as_bytes());
    let o = shieldwall(&["validate", &f], None);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = shieldwall(&["validate", "--interop", &f], None);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stdout(&o).contains("error[interop-tlp]"), "{}", stdout(&o));
    let one = IDENTITY.replace(
        "\"name\":",
        "\"object_marking_refs\": [\"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da\"],\n  \"name\":",
    );
    let f = write(dir.path(), "one.json", one.as_bytes());
    let o = shieldwall(&["validate", "--interop", &f], None);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}
