//! The operator's path through the real binary: `init`, `admin add-member/add-user/add-key`,
//! `import` (a bundle streamed into a collection), `export` (the policy applies), `serve` with a
//! bearer key, and a bad configuration refused with file, key and reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{ok, sw};
use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde_json::{Value, json};

use crate::nodes;

#[test]
fn operator_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&sw(d, &["init"]));
    assert!(
        !sw(d, &["init"]).status.success(),
        "init does not overwrite"
    );
    ok(&sw(
        d,
        &[
            "admin",
            "add-member",
            "cert-ee",
            "--name",
            "CERT-EE",
            "--country",
            "EE",
            "--identity",
            "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f",
        ],
    ));
    ok(&sw(
        d,
        &[
            "admin",
            "add-member",
            "cert-lv",
            "--name",
            "CERT.LV",
            "--identity",
            "identity--1c6af861-7b20-41ef-9b59-6344fd872a8f",
        ],
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .current_dir(d)
        .args([
            "admin",
            "add-user",
            "alice",
            "--member",
            "cert-ee",
            "--role",
            "contributor",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret-pass\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let token = ok(&sw(
        d,
        &[
            "admin", "add-key", "lvbot", "--member", "cert-lv", "--role", "reader",
        ],
    ))
    .trim()
    .to_owned();
    assert!(token.starts_with("sw_lvbot_"));
    let text = std::fs::read_to_string(d.join("shieldwall.toml")).unwrap();
    assert!(!text.contains(&token), "only the digest is kept");
    assert!(
        text.contains("# Shieldwall node configuration"),
        "comments kept"
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("shieldwall.toml"))
        .unwrap();
    writeln!(f, "\n[[collections]]\nid = \"4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11\"\napi_root = \"coalition\"\ntitle = \"Shared\"\nalias = \"shared\"\nread = [\"*\"]\nwrite = [\"cert-ee\"]").unwrap();

    // A bundle with one RED and one GREEN indicator, and an impersonating one.
    let ind = |n: u32, tlp: &str, by: Option<&str>| {
        let mut o = json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '192.0.2.1']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z", "object_marking_refs": [tlp]});
        if let Some(b) = by {
            o["created_by_ref"] = json!(b);
        }
        o
    };
    let bundle = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9", "objects": [
        ind(1, stix::tlp::TLP2_RED, None), ind(2, stix::tlp::TLP2_GREEN, None),
        ind(3, stix::tlp::TLP2_GREEN, Some("identity--1c6af861-7b20-41ef-9b59-6344fd872a8f"))]});
    std::fs::write(d.join("bundle.json"), bundle.to_string()).unwrap();
    let out = sw(
        d,
        &[
            "import",
            "bundle.json",
            "--collection",
            "shared",
            "--as",
            "cert-ee",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "one refusal");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["stored"].as_u64(), summary["refused"].as_u64()),
        (Some(2), Some(1))
    );
    let export = |member: &str| -> Vec<String> {
        let out = ok(&sw(
            d,
            &["export", "--collection", "shared", "--as", member],
        ));
        let b: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(b["type"], "bundle");
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(export("cert-ee").len(), 2, "the producer sees its RED");
    assert_eq!(
        export("cert-lv"),
        vec!["indicator--00000000-0000-4000-8000-000000000002"],
        "RED withheld"
    );

    // Serve it, and read with the bearer key.
    let (mut server, base) = nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .current_dir(d)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(d.join("shieldwall.toml")),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    shieldwall::tls::ensure_provider();
    let body: Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{base}/coalition/collections/4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11/objects/"
            ))
            .bearer_auth(&token)
            .header("Accept", "application/taxii+json;version=2.1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(body["objects"].as_array().map(Vec::len), Some(1), "{body}");

    // A bad configuration is refused with file, key and reason.
    std::fs::write(d.join("bad.toml"), "[server]\ndefault_tlp = \"purple\"\n").unwrap();
    let out = sw(d, &["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("server.default_tlp") && err.contains("purple"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .current_dir(d)
        .args(["serve", "--demo", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "demo refuses non-loopback");
}
