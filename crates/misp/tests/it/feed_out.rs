//! MISP out: a STIX → MISP feed export loads in PyMISP file by file (`MISPEvent().load_file`), and
//! the common attribute types come back with their values, types and IDS flags.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::BTreeSet;

use serde_json::{Value, json};

const EVENT_UUID: &str = "5e6a2c1e-1f4b-4f6a-9d3b-0a1b2c3d4e5f";

/// `(type, value, to_ids)` of the attributes of a MISP event in common types.
const ATTRIBUTES: &[(&str, &str, bool)] = &[
    ("ip-src", "198.51.100.7", true),
    ("ip-dst", "203.0.113.9", true),
    ("ip-dst", "2001:db8::1", false),
    ("domain", "evil.example", true),
    ("hostname", "c2.evil.example", true),
    ("url", "https://evil.example/payload?id=1", true),
    ("md5", "b2a5abfeef9e36964281a31e17b57c97", true),
    ("sha1", "2920d5e6c579fce772e5506caf03af65579088bd", true),
    (
        "sha256",
        "7fa3abc229fd3cb9a0a6f07d9da15e35528c630d0ad5902d5422b305cae7eaa4",
        false,
    ),
    ("filename", "invoice.pdf.exe", true),
    (
        "filename|md5",
        "dropper.exe|8764605c6f388c89096b534d33565802",
        true,
    ),
    ("email-src", "attacker@evil.example", true),
    ("email-dst", "victim@example.org", false),
    ("email-subject", "Your invoice", false),
    ("mutex", "Global\\EvilMutex", true),
    ("AS", "AS64500", false),
    ("domain|ip", "evil.example|203.0.113.9", true),
    ("ip-dst|port", "203.0.113.10|8443", true),
    ("vulnerability", "CVE-2021-44228", false),
];

fn misp_event() -> Value {
    let attributes: Vec<Value> = ATTRIBUTES
        .iter()
        .enumerate()
        .map(|(i, (t, v, ids))| {
            json!({
                "uuid": format!("00000000-0000-4000-8000-{:012}", i + 1),
                "type": t, "value": v, "to_ids": ids, "timestamp": "1700000000",
                "comment": format!("attribute {i}"),
            })
        })
        .collect();
    json!({"Event": {
        "uuid": EVENT_UUID, "info": "Round trip through STIX", "date": "2023-11-14",
        "timestamp": "1700000000", "published": true, "publish_timestamp": "1700000100",
        "Orgc": {"name": "CERT-EX", "uuid": "11111111-2222-4333-8444-555555555555"},
        "Tag": [{"name": "tlp:amber"}, {"name": "circl:incident-classification=\"malware\""}],
        "Attribute": attributes,
        "Galaxy": [{"uuid": "698774c7-8022-42c4-917f-8d6e4f06ada3", "name": "Threat Actor", "type": "threat-actor",
            "description": "Threat actors", "GalaxyCluster": [{"uuid": "11e17436-6ede-4733-8547-4ce0254ea19e",
            "type": "threat-actor", "value": "Cutting Kitten", "description": "An actor"}]}],
    }})
}

const LOAD: &str = r#"
import csv, hashlib, json, os, sys
from pymisp import MISPEvent
d = sys.argv[1]
out = {"events": {}, "manifest": None, "hashes_ok": True}
for name in sorted(os.listdir(d)):
    path = os.path.join(d, name)
    if name == "manifest.json":
        out["manifest"] = json.load(open(path))
    elif name.endswith(".json"):
        e = MISPEvent()
        e.load_file(path)
        out["events"][str(e.uuid)] = {
            "info": e.info, "published": e.published, "org": e.Orgc.name,
            "tags": sorted(t.name for t in e.tags),
            "attributes": [[a.type, a.value, bool(a.to_ids), a.category] for a in e.attributes],
        }
values = {}
for ev in out["events"].values():
    for t, v, _, _ in ev["attributes"]:
        for p in (v.split("|") if "|" in t else [v]):
            values[hashlib.md5(p.encode()).hexdigest()] = True
for row in csv.reader(open(os.path.join(d, "hashes.csv"))):
    if row and row[0] not in values:
        out["hashes_ok"] = False
print(json.dumps(out))
"#;

fn export_and_load(objects: &[Value]) -> Option<Value> {
    let python = testenv::python("PyMISP loading an exported MISP feed")?;
    let opts = misp::ExportOptions {
        org_name: "Shieldwall".into(),
        org_uuid: uuid::Uuid::nil(),
        now: misp::time::Instant::from_secs(1_700_000_000),
    };
    let feed = misp::export_feed(objects, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in &feed.files {
        std::fs::write(dir.path().join(&f.name), &f.bytes).unwrap();
    }
    // The same files read back by our own importer, as a feed.
    let manifest = feed
        .files
        .iter()
        .find(|f| f.name == "manifest.json")
        .unwrap();
    let events: Vec<(String, &[u8])> = feed
        .files
        .iter()
        .filter(|f| f.name.ends_with(".json") && f.name != "manifest.json")
        .map(|f| (f.name.clone(), f.bytes.as_slice()))
        .collect();
    let hashes = feed
        .files
        .iter()
        .find(|f| f.name == "hashes.csv")
        .map(|f| f.bytes.as_slice());
    let mut c = misp::Converter::new(common::options());
    c.add_feed(&misp::FeedInput {
        manifest: &manifest.bytes,
        events,
        hashes_csv: hashes,
    })
    .unwrap();
    assert!(!c.finish().objects.is_empty());

    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(LOAD)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PyMISP failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn misp_event_round_trips_through_stix_and_a_feed() {
    let conv = misp::convert_value(&misp_event(), &common::options()).unwrap();
    assert!(!conv.has_errors(), "{:?}", conv.diagnostics);
    let Some(loaded) = export_and_load(&conv.objects) else {
        return;
    };
    assert_eq!(
        loaded["hashes_ok"], true,
        "hashes.csv lists a value no event holds"
    );
    let event = &loaded["events"][EVENT_UUID];
    assert_eq!(event["info"], "Round trip through STIX");
    assert_eq!(event["published"], true);
    assert_eq!(event["org"], "CERT-EX");
    let tags: BTreeSet<&str> = event["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains("tlp:amber"), "{tags:?}");
    assert!(
        tags.contains("circl:incident-classification=\"malware\""),
        "{tags:?}"
    );
    assert!(
        tags.contains("misp-galaxy:threat-actor=\"Cutting Kitten\""),
        "{tags:?}"
    );
    let got: BTreeSet<(String, String, bool)> = event["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a[0].as_str().unwrap().to_owned(),
                a[1].as_str().unwrap().to_owned(),
                a[2].as_bool().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, bool)> = ATTRIBUTES
        .iter()
        .map(|(t, v, i)| ((*t).to_owned(), (*v).to_owned(), *i))
        .collect();
    assert_eq!(got, want);
    let manifest = &loaded["manifest"][EVENT_UUID];
    assert_eq!(manifest["info"], "Round trip through STIX");
}

#[test]
fn plain_stix_exports_with_guessed_types() {
    let objects = vec![
        json!({"type": "identity", "spec_version": "2.1", "id": "identity--0d0a9b6e-4b2b-4b8a-9d59-6c0f2b1a2c3d",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "name": "CERT-XY", "identity_class": "organization"}),
        json!({"type": "report", "spec_version": "2.1", "id": "report--6a4b1e7c-0f2d-4a8b-9c3d-1e2f3a4b5c6d",
            "created_by_ref": "identity--0d0a9b6e-4b2b-4b8a-9d59-6c0f2b1a2c3d",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-02T00:00:00Z", "name": "Plain STIX",
            "published": "2024-01-02T00:00:00Z",
            "object_marking_refs": [stix::tlp::TLP2_GREEN],
            "object_refs": ["indicator--1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", "observed-data--2c3d4e5f-6071-4829-93a4-b5c6d7e8f901"]}),
        json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
            "pattern": "[url:value = 'http://bad.example/x'] OR [file:hashes.'SHA-256' = '7fa3abc229fd3cb9a0a6f07d9da15e35528c630d0ad5902d5422b305cae7eaa4']"}),
        json!({"type": "observed-data", "spec_version": "2.1", "id": "observed-data--2c3d4e5f-6071-4829-93a4-b5c6d7e8f901",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z",
            "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
            "object_refs": ["domain-name--3d4e5f60-7182-4930-a4b5-c6d7e8f90112"]}),
        json!({"type": "domain-name", "spec_version": "2.1", "id": "domain-name--3d4e5f60-7182-4930-a4b5-c6d7e8f90112", "value": "seen.example"}),
        json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--4e5f6071-8293-4a41-b5c6-d7e8f9011223",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", "pattern": "[ipv4-addr:value = '192.0.2.1']"}),
    ];
    let Some(loaded) = export_and_load(&objects) else {
        return;
    };
    let events = loaded["events"].as_object().unwrap();
    assert_eq!(
        events.len(),
        2,
        "the report, and one event for the loose indicator"
    );
    let e = &events["6a4b1e7c-0f2d-4a8b-9c3d-1e2f3a4b5c6d"];
    assert_eq!(e["org"], "CERT-XY");
    assert_eq!(e["tags"], json!(["tlp:green"]));
    let got: BTreeSet<(String, String, bool)> = e["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a[0].as_str().unwrap().to_owned(),
                a[1].as_str().unwrap().to_owned(),
                a[2].as_bool().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, bool)> = [
        ("url", "http://bad.example/x", true),
        (
            "sha256",
            "7fa3abc229fd3cb9a0a6f07d9da15e35528c630d0ad5902d5422b305cae7eaa4",
            true,
        ),
        ("domain", "seen.example", false),
    ]
    .iter()
    .map(|(t, v, i)| ((*t).to_owned(), (*v).to_owned(), *i))
    .collect();
    assert_eq!(got, want);
    let loose = events
        .iter()
        .find(|(k, _)| *k != "6a4b1e7c-0f2d-4a8b-9c3d-1e2f3a4b5c6d")
        .unwrap()
        .1;
    assert_eq!(loose["attributes"][0][0], "ip-dst");
    assert_eq!(loose["attributes"][0][1], "192.0.2.1");
}

#[test]
fn export_rejects_objects_without_ids() {
    let opts = misp::ExportOptions {
        org_name: "x".into(),
        org_uuid: uuid::Uuid::nil(),
        now: misp::time::Instant::from_secs(0),
    };
    let err = misp::export_feed(&[json!({"type": "indicator"})], &opts).unwrap_err();
    assert!(err.to_string().contains("no id"), "{err}");
}
