//! End-to-end tests of `shieldwall pattern check|match`, running the real binary.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn check_valid_pattern_exits_0() {
    let o = run(&["pattern", "check", "[file:name = 'a.exe'] WITHIN 5 SECONDS"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("valid: "), "{}", stdout(&o));
}

#[test]
fn check_invalid_pattern_shows_caret_and_exits_1() {
    let o = run(&[
        "pattern",
        "check",
        "[file:name = 'a.exe'",
        "[file:size = 1]",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("expected `]` to close the observation expression opened at column 1"),
        "{out}"
    );
    // The pattern line, then a caret line under the end of the pattern (column 21).
    assert!(
        out.contains("\n    [file:name = 'a.exe'\n                        ^\n"),
        "{out:?}"
    );
    assert!(out.contains("valid: [file:size = 1]"), "{out}");
}

#[test]
fn check_json_and_stix_20_mode() {
    let p = "[a:b = 1] START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'";
    let o = run(&["pattern", "check", "--json", p]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let d = &v["results"][0]["diagnostics"][0];
    assert_eq!(d["code"], "version-mismatch");
    assert_eq!(d["line"], 1);
    assert_eq!(d["column"], 17);
    let o = run(&["pattern", "check", "--stix-version", "2.0", "--json", p]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["results"][0]["valid"], true);
    let o = run(&["pattern", "check", "--stix-version", "2.0", "[EXISTS a:b]"]);
    assert_eq!(o.status.code(), Some(1));
}

fn observed_file(dir: &tempfile::TempDir) -> String {
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "observed-data", "id": "observed-data--1", "first_observed": "2024-01-01T00:00:00Z",
         "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1, "object_refs": ["file--1"]},
        {"type": "observed-data", "id": "observed-data--2", "first_observed": "2024-01-01T00:01:00Z",
         "last_observed": "2024-01-01T00:01:00Z", "number_observed": 1, "object_refs": ["domain-name--1"]},
        {"type": "file", "id": "file--1", "name": "evil.exe"},
        {"type": "domain-name", "id": "domain-name--1", "value": "evil.example"}
    ]});
    let path = dir.path().join("observed.json");
    std::fs::write(&path, bundle.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn match_prints_binding_and_follows_grep_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let f = observed_file(&dir);
    let p = "[file:name LIKE 'evil%'] FOLLOWEDBY [domain-name:value = 'evil.example']";
    let o = run(&["pattern", "match", p, "--observed", &f]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(
        out.contains("observed-data--1") && out.contains("observed-data--2"),
        "{out}"
    );

    let o = run(&["pattern", "match", "--json", p, "--observed", &f]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["matched"], true);
    assert_eq!(
        v["observed_data_ids"],
        serde_json::json!(["observed-data--1", "observed-data--2"])
    );
    assert_eq!(
        v["binding"][1]["expression"],
        "[domain-name:value = 'evil.example']"
    );

    // Reversed order: no match, exit 1.
    let p = "[domain-name:value = 'evil.example'] FOLLOWEDBY [file:name LIKE 'evil%']";
    let o = run(&["pattern", "match", p, "--observed", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("no match"));
}

#[test]
fn match_errors_exit_2_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let f = observed_file(&dir);
    let o = run(&["pattern", "match", "[file:name = ", "--observed", &f]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("at 1:14") && err.contains('^'), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[{\"type\": \n oops]").unwrap();
    let o = run(&[
        "pattern",
        "match",
        "[file:name = 'a']",
        "--observed",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("bad.json:2:2"), "{err}");

    let o = run(&[
        "pattern",
        "match",
        "[file:name = 'a'] REPEATS 0 TIMES",
        "--observed",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn match_many_patterns_in_one_run_from_lines_or_indicators() {
    let dir = tempfile::tempdir().unwrap();
    let f = observed_file(&dir);
    // One pattern per line: comments and blank lines skipped, an invalid line reported in place.
    let lines = dir.path().join("patterns.txt");
    std::fs::write(
        &lines,
        "# hunting list\n[file:name = 'evil.exe']\n\n[file:name = 'good.exe']\n[file:name = \n[domain-name:value = 'evil.example']\n",
    )
    .unwrap();
    let o = run(&[
        "pattern",
        "match",
        "--patterns",
        lines.to_str().unwrap(),
        "--observed",
        &f,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(
        rows[0].starts_with("match     line 2") && rows[0].contains("observed-data--1"),
        "{out}"
    );
    assert!(rows[1].starts_with("no match  line 4"), "{out}");
    assert!(rows[2].starts_with("error     line 5"), "{out}");
    assert!(
        rows[3].starts_with("match     line 6") && rows[3].contains("observed-data--2"),
        "{out}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("4 patterns against 2 observations: 2 matched, 1 did not, 1 errors"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Indicators in a bundle, reported by id; other objects ignored; --json.
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--5", "objects": [
        {"type": "identity", "id": "identity--1", "name": "x"},
        {"type": "indicator", "id": "indicator--a", "pattern": "[domain-name:value = 'evil.example']"},
        {"type": "indicator", "id": "indicator--b", "pattern": "[domain-name:value = 'other.example']"}
    ]});
    let ind = dir.path().join("indicators.json");
    std::fs::write(&ind, bundle.to_string()).unwrap();
    let o = run(&[
        "pattern",
        "match",
        "--json",
        "--patterns",
        ind.to_str().unwrap(),
        "--observed",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["patterns"], 2);
    assert_eq!(v["matched"], 1);
    assert_eq!(v["results"][0]["name"], "indicator--a");
    assert_eq!(v["results"][0]["observed_data_ids"][0], "observed-data--2");
    assert_eq!(v["results"][1]["matched"], false);

    // Nothing matched: exit 1. A pattern and --patterns together: refused.
    std::fs::write(&lines, "[file:name = 'none']\n").unwrap();
    let l = lines.to_str().unwrap();
    assert_eq!(
        run(&["pattern", "match", "--patterns", l, "--observed", &f])
            .status
            .code(),
        Some(1)
    );
    let o = run(&[
        "pattern",
        "match",
        "[file:name = 'x']",
        "--patterns",
        l,
        "--observed",
        &f,
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A JSON list holding a number is refused with a reason, not skipped.
    std::fs::write(&lines, "[1]").unwrap();
    let o = run(&["pattern", "match", "--patterns", l, "--observed", &f]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("neither a pattern string"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
