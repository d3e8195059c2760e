//! `scan --report`: hits become STIX sightings (one per indicator, with count, first_seen,
//! last_seen and the scanning member's identity), marked with the TLP asked for, stored in a
//! collection — of the local store, and of a running hub over TAXII 2.1 — and read back over
//! TAXII by another member who may see them, while members who may not see nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{ACCEPT, of_type, show};
use std::{
    io::Write,
    path::Path,
    process::{Child, Command, Output},
};

use serde_json::{Value, json};
use stix::tlp;

use crate::nodes;
use nodes::{digest, token};

const INTEL: &str = "7a1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11";
const SIGHTINGS: &str = "8b2d1d66-4c2f-4a6f-8d66-3e7d3c1a7b22";
const EE: &str = "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f";
const LV: &str = "identity--1c6af861-7b20-41ef-9b59-6344fd872a8f";
const LT: &str = "identity--2c6af861-7b20-41ef-9b59-6344fd872a8f";
const IND_DOMAIN: &str = "indicator--00000000-0000-4000-8000-000000000001";
const IND_IP: &str = "indicator--00000000-0000-4000-8000-000000000002";
const IND_NEVER: &str = "indicator--00000000-0000-4000-8000-000000000003";

fn sw(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shieldwall"));
    c.current_dir(dir).args(args).env("SHIELDWALL_LOG", "error");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn write_config(d: &Path) {
    let mut t = format!(
        r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
default_tlp = "amber"

[[api_roots]]
name = "coalition"
title = "Coalition"
default = true

[[collections]]
id = "{INTEL}"
api_root = "coalition"
title = "Intel"
alias = "intel"
read = ["*"]
write = ["cert-ee"]

[[collections]]
id = "{SIGHTINGS}"
api_root = "coalition"
title = "Sightings"
alias = "sightings"
read = ["cert-ee", "cert-lv"]
write = ["cert-lv"]
"#,
        data = d.join("data").display(),
    );
    for (m, id) in [("cert-ee", EE), ("cert-lv", LV), ("cert-lt", LT)] {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"{m}\"\nidentity = \"{id}\"\n"
        ));
    }
    for (key, m, role) in [
        ("ee", "cert-ee", "reader"),
        ("lv", "cert-lv", "contributor"),
        ("lt", "cert-lt", "reader"),
    ] {
        t.push_str(&format!(
            "\n[[api_keys]]\nid = \"{key}\"\nmember = \"{m}\"\nrole = \"{role}\"\ndigest = \"{}\"\n",
            digest(key)
        ));
    }
    std::fs::write(d.join("shieldwall.toml"), t).unwrap();
}

fn indicator(id: &str, pattern: &str, marking: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": format!("{pattern} seen"), "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00.000Z", "created_by_ref": EE,
        "object_marking_refs": [marking]})
}

/// ECS JSON lines: the domain at 12:00:05, 12:07:00 and 12:30:59.250 (out of order), the
/// address twice, a hundred clean lines and one malformed line.
fn log() -> String {
    let mut l = Vec::new();
    let dns = |t: &str, q: &str| {
        json!({"@timestamp": t, "source": {"ip": "10.0.0.5"}, "dns": {"question": {"name": q}}})
            .to_string()
    };
    let flow = |t: &str, dst: &str| {
        json!({"@timestamp": t, "source": {"ip": "10.0.0.6"}, "destination": {"ip": dst, "port": 443}})
            .to_string()
    };
    l.push(dns("2024-05-01T12:07:00Z", "c2.evil.example"));
    for i in 0..100 {
        l.push(dns(
            &format!("2024-05-01T12:{:02}:00Z", i % 60),
            &format!("host{i}.good.example"),
        ));
        if i == 40 {
            l.push("{\"@timestamp\": \"2024-05-01T12:00:00Z\", broken".to_owned());
            l.push(flow("2024-05-01T13:00:00Z", "203.0.113.7"));
        }
    }
    l.push(dns("2024-05-01T12:00:05Z", "c2.evil.example"));
    l.push(flow("2024-05-01T13:45:30Z", "203.0.113.7"));
    l.push(dns("2024-05-01T12:30:59.250Z", "c2.evil.example"));
    l.join("\n") + "\n"
}

struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(d: &Path) -> (Hub, String) {
    let (child, base) = nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .current_dir(d)
            .args(["serve", "--config", "shieldwall.toml"])
            .env("SHIELDWALL_LOG", "error"),
    );
    let hub = Hub(child);
    (hub, base)
}

/// Every object of a collection the key's member may see (404 → None).
async fn objects(base: &str, coll: &str, key: &str) -> Option<Vec<Value>> {
    let r = {
        shieldwall::tls::ensure_provider();
        reqwest::Client::new()
    }
    .get(format!("{base}/coalition/collections/{coll}/objects/"))
    .bearer_auth(token(key))
    .header("Accept", ACCEPT)
    .send()
    .await
    .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    match status {
        200 => Some(
            body.get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        ),
        404 => None,
        s => panic!("HTTP {s}: {body}"),
    }
}

fn sighting_of<'a>(objs: &'a [Value], ind: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["type"] == "sighting" && o["sighting_of_ref"] == ind)
        .unwrap_or_else(|| panic!("no sighting of {ind} in {objs:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_reported_as_sightings_locally_and_over_taxii() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_config(d);
    let bundle = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9",
    "objects": [
        indicator(IND_DOMAIN, "[domain-name:value = 'c2.evil.example']", tlp::TLP2_GREEN),
        indicator(IND_IP, "[ipv4-addr:value = '203.0.113.7']", tlp::TLP2_AMBER),
        indicator(IND_NEVER, "[ipv4-addr:value = '198.51.100.1']", tlp::TLP2_GREEN),
    ]});
    std::fs::write(d.join("indicators.json"), bundle.to_string()).unwrap();
    std::fs::write(d.join("dns.json"), log()).unwrap();
    let o = sw(
        d,
        &[
            "import",
            "indicators.json",
            "--collection",
            "intel",
            "--as",
            "cert-ee",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", show(&o));

    // 1. Locally, into the store, as cert-lv, TLP:RED, with what was observed.
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "intel",
            "--as",
            "cert-lv",
            "--report",
            "sightings",
            "--tlp",
            "red",
            "--include-observed",
            "dns.json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dns.json:43: malformed line"), "{err}");
    assert!(
        err.contains("2 sightings (TLP:RED) reported to collection sightings"),
        "{err}"
    );

    // A report the member may not make fails (exit 2) and stores nothing.
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "intel",
            "--as",
            "cert-lt",
            "--report",
            "sightings",
            "dns.json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("may not write to collection"),
        "{}",
        show(&o)
    );

    // 2. To the running hub over TAXII, as cert-lv with its API key, TLP:AMBER, from an
    //    indicator file; the identity comes from --identity (no local configuration needed).
    let (_hub, base) = serve(d);
    let o = sw(
        d,
        &[
            "scan",
            "--indicators",
            "indicators.json",
            "--report",
            SIGHTINGS,
            "--to",
            &format!("{base}/coalition/"),
            "--token-env",
            "LV_KEY",
            "--identity",
            LV,
            "--tlp",
            "amber",
            "--config",
            "/nonexistent.toml",
            "dns.json",
        ],
        &[("LV_KEY", token("lv"))],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 sightings (TLP:AMBER) reported to")
            && err.contains("2 objects stored, 0 already present, 0 refused"),
        "{err}"
    );
    // A wrong key is refused by the hub: exit 2, and the error says so.
    let o = sw(
        d,
        &[
            "scan",
            "--indicators",
            "indicators.json",
            "--report",
            SIGHTINGS,
            "--to",
            &format!("{base}/coalition"),
            "--token-env",
            "LV_KEY",
            "--identity",
            LV,
            "dns.json",
        ],
        &[("LV_KEY", "sw_lv_wrong".to_owned())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("HTTP 401"),
        "{}",
        show(&o)
    );

    // 3. Read back over TAXII. cert-ee (producer of the indicators, may read the sightings
    //    collection) sees the AMBER report, not the RED one nor its observed data.
    let ee = objects(&base, SIGHTINGS, "ee")
        .await
        .expect("cert-ee reads");
    let ee_sightings = of_type(&ee, "sighting");
    assert_eq!(ee_sightings.len(), 2, "{ee:?}");
    assert!(of_type(&ee, "observed-data").is_empty(), "{ee:?}");
    assert_eq!(ee.len(), 2, "no raw log content in an AMBER report: {ee:?}");
    let s = sighting_of(&ee, IND_DOMAIN);
    assert_eq!(s["count"], 3);
    assert_eq!(s["first_seen"], "2024-05-01T12:00:05.000Z");
    assert_eq!(s["last_seen"], "2024-05-01T12:30:59.250Z");
    assert_eq!(s["where_sighted_refs"], json!([LV]));
    assert_eq!(s["created_by_ref"], LV);
    assert_eq!(s["object_marking_refs"], json!([tlp::TLP2_AMBER]));
    assert!(s.get("observed_data_refs").is_none());
    let s = sighting_of(&ee, IND_IP);
    assert_eq!(s["count"], 2);
    assert_eq!(s["first_seen"], "2024-05-01T13:00:00.000Z");
    assert_eq!(s["last_seen"], "2024-05-01T13:45:30.000Z");
    assert!(!ee.iter().any(|o| o["sighting_of_ref"] == IND_NEVER));

    // The reporter sees both reports, and the observed data of the RED one.
    let lv = objects(&base, SIGHTINGS, "lv")
        .await
        .expect("cert-lv reads");
    let lv_sightings = of_type(&lv, "sighting");
    assert_eq!(lv_sightings.len(), 4, "{lv:?}");
    let red: Vec<&&Value> = lv_sightings
        .iter()
        .filter(|s| s["object_marking_refs"] == json!([tlp::TLP2_RED]))
        .collect();
    assert_eq!(red.len(), 2);
    let red_domain = red
        .iter()
        .find(|s| s["sighting_of_ref"] == IND_DOMAIN)
        .unwrap();
    assert_eq!(red_domain["count"], 3);
    let refs = red_domain["observed_data_refs"].as_array().unwrap();
    assert_eq!(refs.len(), 3, "{red_domain}");
    let observed = of_type(&lv, "observed-data");
    assert!(refs.iter().all(|r| observed.iter().any(|o| o["id"] == *r)));
    assert!(
        lv.iter()
            .any(|o| o["type"] == "domain-name" && o["value"] == "c2.evil.example"),
        "{lv:?}"
    );

    // cert-lt may read the indicators but not the sightings collection: a 404, as if absent.
    assert!(objects(&base, INTEL, "lt").await.is_some());
    assert!(objects(&base, SIGHTINGS, "lt").await.is_none());
    // And it finds no sighting by id either.
    let id = ee_sightings[0]["id"].as_str().unwrap();
    let r = {
        shieldwall::tls::ensure_provider();
        reqwest::Client::new()
    }
    .get(format!(
        "{base}/coalition/collections/{SIGHTINGS}/objects/{id}/"
    ))
    .bearer_auth(token("lt"))
    .header("Accept", ACCEPT)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let _ = std::io::stderr().flush();
}

/// `--subdomains`: a domain equality indicator also covers subdomains, and says so; without it
/// `=` stays exact; `LIKE '%.d'` covers subdomains either way.
#[test]
fn subdomains_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bundle = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9",
    "objects": [
        indicator(IND_DOMAIN, "[domain-name:value = 'evil.example']", tlp::TLP2_GREEN),
        indicator(IND_IP, "[domain-name:value LIKE '%.bad.example']", tlp::TLP2_GREEN),
    ]});
    std::fs::write(d.join("i.json"), bundle.to_string()).unwrap();
    let lines: Vec<String> = [
        "evil.example",
        "c2.evil.example",
        "notevil.example",
        "x.bad.example",
        "bad.example",
    ]
    .iter()
    .map(|q| {
        json!({"@timestamp": "2024-05-01T12:00:00Z", "dns": {"question": {"name": q}}}).to_string()
    })
    .collect();
    std::fs::write(d.join("dns.json"), lines.join("\n")).unwrap();
    let hits = |extra: &[&str]| -> Vec<(u64, String, bool)> {
        let mut args = vec!["scan", "--json", "--indicators", "i.json"];
        args.extend_from_slice(extra);
        args.push("dns.json");
        let o = sw(d, &args, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["line"].as_u64().unwrap(),
                    v["value"].as_str().unwrap().to_owned(),
                    v.get("subdomain") == Some(&json!(true)),
                )
            })
            .collect()
    };
    let h = |l: u64, v: &str, s: bool| (l, v.to_owned(), s);
    assert_eq!(
        hits(&[]),
        [h(1, "evil.example", false), h(4, "x.bad.example", false)]
    );
    assert_eq!(
        hits(&["--subdomains"]),
        [
            h(1, "evil.example", false),
            h(2, "c2.evil.example", true),
            h(4, "x.bad.example", false)
        ]
    );
}
