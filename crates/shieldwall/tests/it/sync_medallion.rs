//! Sync against a third-party TAXII 2.1 server: medallion (the OASIS reference server, PyPI,
//! memory backend) started here on 127.0.0.1. `shieldwall sync --once` pulls medallion's
//! collection (every version, paged with `next`/`more`) and pushes the node's own objects under
//! the egress rule; afterwards both sides hold exactly the expected versions, and a second run
//! moves nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::ACCEPT;
use std::{
    collections::BTreeSet,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use shieldwall::store::{AnyStore, Store};
use stix::tlp;

const REMOTE: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";
const LOCAL: &str = "11111111-1111-4111-8111-111111111111";

struct Medallion(Child);

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn obj(n: u32, modified: &str, marking: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{n:08x}-0000-4000-8000-0000000000bb"),
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "pattern": format!("[domain-name:value = 'm{n}.example']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z", "object_marking_refs": [marking]})
}

fn key(o: &Value) -> (String, String) {
    (
        o["id"].as_str().unwrap().to_owned(),
        o["modified"].as_str().unwrap().to_owned(),
    )
}

fn start_medallion(python: &Path, dir: &Path, port: u16, seed: &[Value]) -> Medallion {
    let manifest: Vec<Value> = seed
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({"id": o["id"], "version": o["modified"],
                "date_added": format!("2026-01-02T00:00:0{i}.000000Z"),
                "media_type": "application/stix+json;version=2.1"})
        })
        .collect();
    let data = json!({
        "/discovery": {"title": "medallion", "default": format!("http://127.0.0.1:{port}/api1/"),
            "api_roots": [format!("http://127.0.0.1:{port}/api1/")]},
        "api1": {"information": {"title": "api1", "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10485760},
            "status": [],
            "collections": [{"id": REMOTE, "title": "partner", "can_read": true, "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": seed, "manifest": manifest}]}
    });
    std::fs::write(dir.join("medallion_data.json"), data.to_string()).unwrap();
    let conf = json!({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
            "filename": dir.join("medallion_data.json")},
        "users": {"partner": "partner-pass"},
        "taxii": {"max_page_size": 100}
    });
    std::fs::write(dir.join("medallion.json"), conf.to_string()).unwrap();
    let script = python.parent().unwrap().join("medallion");
    let child = Command::new(python)
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "ERROR"])
        .arg(dir.join("medallion.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Medallion(child)
}

/// Every version in medallion's collection.
async fn medallion_holds(c: &reqwest::Client, port: u16) -> BTreeSet<(String, String)> {
    let resp = c
        .get(format!(
            "http://127.0.0.1:{port}/api1/collections/{REMOTE}/objects/?match[version]=all"
        ))
        .basic_auth("partner", Some("partner-pass"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_ne!(body["more"], true, "one page holds everything here");
    body["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(key)
        .collect()
}

async fn node_holds(db: &Path) -> BTreeSet<(String, String)> {
    let store = AnyStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let mut out = BTreeSet::new();
    for p in store.placements().await.unwrap() {
        for r in store.sync_versions(LOCAL, &p.id).await.unwrap() {
            let v: Value = serde_json::from_str(&r.json).unwrap();
            out.insert(key(&v));
        }
    }
    out
}

fn sync(config: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["sync", "--once", "--json", "--config"])
        .arg(config)
        .env("SHIELDWALL_LOG", "error")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_and_push_against_medallion() {
    let Some(python) = testenv::python("sync against medallion") else {
        return;
    };
    shieldwall::tls::ensure_provider();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Medallion's side: five objects, one of them in two versions.
    let seed = vec![
        obj(1, "2026-01-01T00:00:00.000Z", tlp::TLP2_GREEN),
        obj(1, "2026-01-05T00:00:00.000Z", tlp::TLP2_GREEN),
        obj(2, "2026-01-01T00:00:00.000Z", tlp::TLP2_CLEAR),
        obj(3, "2026-01-01T00:00:00.000Z", tlp::TLP2_AMBER),
        obj(4, "2026-01-01T00:00:00.000Z", tlp::TLP2_GREEN),
        obj(5, "2026-01-01T00:00:00.000Z", tlp::TLP2_GREEN),
    ];
    let _medallion = start_medallion(&python, dir, port, &seed);
    let c = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if let Ok(r) = c
            .get(format!("http://127.0.0.1:{port}/taxii2/"))
            .basic_auth("partner", Some("partner-pass"))
            .header("Accept", ACCEPT)
            .send()
            .await
            && r.status().is_success()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "medallion did not start on port {port}");

    // The node: its own GREEN, CLEAR, AMBER (no trust group holds the partner) and RED objects.
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
data_dir = "{data}"
default_tlp = "amber"

[sync]
member = "us"

[[members]]
id = "us"
name = "Us"
identity = "identity--00000001-0000-4000-8000-000000000000"

[[members]]
id = "partner"
name = "A partner running medallion"
identity = "identity--00000002-0000-4000-8000-000000000000"

[[api_roots]]
name = "sync"
title = "Sync"

[[collections]]
id = "{LOCAL}"
api_root = "sync"
title = "Shared with the partner"
read = ["*"]
write = ["us"]

[[peers]]
name = "partner"
url = "http://127.0.0.1:{port}"
api_root = "api1"
member = "partner"
username = "partner"
password = "partner-pass"
page_size = 2
timeout_seconds = 10
collections = [{{ local = "{LOCAL}", remote = "{REMOTE}", direction = "both" }}]
"#,
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    let own = vec![
        obj(11, "2026-02-01T00:00:00.000Z", tlp::TLP2_GREEN),
        obj(12, "2026-02-01T00:00:00.000Z", tlp::TLP2_CLEAR),
        obj(13, "2026-02-01T00:00:00.000Z", tlp::TLP2_AMBER),
        obj(14, "2026-02-01T00:00:00.000Z", tlp::TLP2_RED),
    ];
    std::fs::write(
        dir.join("own.json"),
        json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000002", "objects": own}).to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["import", "--collection", LOCAL, "--as", "us", "--config"])
        .arg(&config)
        .arg(dir.join("own.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report = sync(&config);
    let r = &report["partner"][0];
    assert_eq!(r["pulled_stored"], 6, "{report}");
    assert_eq!(r["pushed"], 2, "{report}");
    assert_eq!(r["held_back"]["tlp-red"], 1, "{report}");
    assert_eq!(r["held_back"]["amber-outside-trust-group"], 1, "{report}");
    assert_eq!(r["held_back"]["came-from-peer"], 6, "{report}");

    let db = dir.join("data/shieldwall.db");
    let want_node: BTreeSet<_> = seed.iter().chain(own.iter()).map(key).collect();
    assert_eq!(
        node_holds(&db).await,
        want_node,
        "the node: all of medallion's versions and its own"
    );
    let want_med: BTreeSet<_> = seed.iter().chain(own[..2].iter()).map(key).collect();
    assert_eq!(
        medallion_holds(&c, port).await,
        want_med,
        "medallion: its own and the node's GREEN and CLEAR; never AMBER outside a trust group, never RED"
    );

    // Nothing new either way: the cursors hold.
    let report = sync(&config);
    let r = &report["partner"][0];
    assert_eq!(r["pulled_stored"], 0, "{report}");
    assert_eq!(r["pushed"], 0, "{report}");
    assert_eq!(node_holds(&db).await, want_node);
    assert_eq!(medallion_holds(&c, port).await, want_med);
}
