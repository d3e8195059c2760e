//! `scan --collection` and `export --collection` against a hub store: the indicators used are
//! those the scanning member may see (the access policy applies), and `--since` uses the
//! store's `date_added`.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

fn sw(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.map(<[u8]>::to_vec);
    let mut pipe = child.stdin.take().unwrap();
    let w = std::thread::spawn(move || {
        if let Some(b) = input {
            let _ = pipe.write_all(&b);
        }
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn hub(d: &Path) {
    ok(&sw(d, &["init"], None));
    for (m, id) in [
        ("cert-ee", "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"),
        ("cert-lv", "identity--1c6af861-7b20-41ef-9b59-6344fd872a8f"),
    ] {
        ok(&sw(
            d,
            &["admin", "add-member", m, "--name", m, "--identity", id],
            None,
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("shieldwall.toml"))
        .unwrap();
    writeln!(f, "\n[[collections]]\nid = \"4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11\"\napi_root = \"coalition\"\ntitle = \"Shared\"\nalias = \"shared\"\nread = [\"*\"]\nwrite = [\"cert-ee\"]").unwrap();
    let ind = |n: u32, domain: &str, tlp: &str| {
        json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "name": format!("{domain} C2"),
            "pattern": format!("[domain-name:value = '{domain}']"),
            "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00.000Z", "object_marking_refs": [tlp]})
    };
    let bundle = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9", "objects": [
        ind(1, "red.evil.example", stix::tlp::TLP2_RED), ind(2, "green.evil.example", stix::tlp::TLP2_GREEN)]});
    std::fs::write(d.join("bundle.json"), bundle.to_string()).unwrap();
    ok(&sw(
        d,
        &[
            "import",
            "bundle.json",
            "--collection",
            "shared",
            "--as",
            "cert-ee",
        ],
        None,
    ));
}

const LOG: &str = concat!(
    r#"{"@timestamp":"2024-05-01T12:00:00Z","dns":{"question":{"name":"red.evil.example"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-01T12:00:01Z","dns":{"question":{"name":"green.evil.example"}}}"#,
    "\n"
);

#[test]
fn scan_and_export_use_what_the_member_may_see() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    hub(d);
    let hits = |member: &str| -> Vec<String> {
        let out = ok(&sw(
            d,
            &[
                "scan",
                "--json",
                "--collection",
                "shared",
                "--as",
                member,
                "-",
            ],
            Some(LOG.as_bytes()),
        ));
        out.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["indicator"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    // The producer sees its RED indicator; the other member does not.
    assert_eq!(
        hits("cert-ee"),
        [
            "indicator--00000000-0000-4000-8000-000000000001",
            "indicator--00000000-0000-4000-8000-000000000002"
        ]
    );
    assert_eq!(
        hits("cert-lv"),
        ["indicator--00000000-0000-4000-8000-000000000002"]
    );

    // Retro-hunt by the store's date_added: everything was added just now.
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--since",
            "2020-01-01T00:00:00Z",
            "-",
        ],
        Some(LOG.as_bytes()),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--since",
            "2200-01-01T00:00:00Z",
            "-",
        ],
        Some(LOG.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("skipped: 1 not added since --since"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Exports from the collection: the member's view, then the audience filter.
    let csv = ok(&sw(
        d,
        &[
            "export",
            "--format",
            "csv",
            "--collection",
            "shared",
            "--as",
            "cert-ee",
            "--audience",
            "internal",
        ],
        None,
    ));
    assert!(
        csv.contains("green.evil.example") && !csv.contains("red.evil.example"),
        "RED never leaves: {csv}"
    );
    let csv = ok(&sw(
        d,
        &[
            "export",
            "--format",
            "csv",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--audience",
            "public",
        ],
        None,
    ));
    assert_eq!(csv.lines().count(), 1, "GREEN is not public: {csv}");
    // The hub's STIX export is the default format.
    let stix = ok(&sw(
        d,
        &["export", "--collection", "shared", "--as", "cert-lv"],
        None,
    ));
    let b: serde_json::Value = serde_json::from_str(&stix).unwrap();
    assert_eq!(b["objects"].as_array().unwrap().len(), 1);
    let o = sw(
        d,
        &["export", "--format", "stix", "--indicators", "bundle.json"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format stix exports a hub collection"));
}
