//! MISP in and out against a hostile producer: a feed never carries what TLP:RED or an object
//! held back holds (not even through the MISP attributes an observed data keeps for the round
//! trip), and crafted events (deeply nested, huge, duplicate uuids, an `Orgc` naming another
//! member, a uuid taken from another member's object) neither crash the importer nor let one
//! member speak for another.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{show, sw};

const CERT_LV: &str = "identity--2c6af861-7b20-41ef-9b59-6344fd872a8f";

fn write_config(d: &Path) {
    let mut t = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\ndefault_tlp = \"amber\"\n\n[[api_roots]]\nname = \"coalition\"\ntitle = \"Coalition\"\ndefault = true\n\n[[collections]]\nid = \"7a1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11\"\napi_root = \"coalition\"\ntitle = \"intel\"\nalias = \"intel\"\nread = [\"*\"]\nwrite = [\"*\"]\n",
        d.join("data").display()
    );
    for (m, n) in [("cert-ee", 1), ("cert-lv", 2)] {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"CERT {m}\"\nidentity = \"identity--{n}c6af861-7b20-41ef-9b59-6344fd872a8f\"\n"
        ));
    }
    std::fs::write(d.join("shieldwall.toml"), t).unwrap();
}

/// Imports `event` as `member`; the process must end normally (0, or 1 for refusals), never
/// by a panic or a signal.
fn import(d: &Path, name: &str, event: &Value, member: &str) -> Value {
    let file = d.join(format!("{name}.json"));
    std::fs::write(&file, event.to_string()).unwrap();
    import_file(d, &file, member)
}

fn import_file(d: &Path, file: &Path, member: &str) -> Value {
    let o = sw(
        d,
        &[
            "import",
            file.to_str().unwrap(),
            "--collection",
            "intel",
            "--as",
            member,
            "--json",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{}", show(&o));
    assert!(o.status.code().is_some_and(|c| c <= 2), "{}", show(&o));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// Exports the collection as `member`'s MISP feed; returns every event file and all the feed's
/// bytes as text.
fn export(d: &Path, member: &str) -> (Vec<Value>, String) {
    let out = d.join(format!("feed-{member}"));
    let o = sw(
        d,
        &[
            "export",
            "--format",
            "misp-feed",
            "--collection",
            "intel",
            "--as",
            member,
            "--audience",
            "internal",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    feed_files(&out)
}

fn feed_files(out: &Path) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    let mut all = String::new();
    for f in std::fs::read_dir(out).unwrap() {
        let p = f.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".json") && name != "manifest.json" {
            events.push(serde_json::from_str(&text).unwrap());
        }
        all.push_str(&text);
    }
    (events, all)
}

fn md5_hex(v: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(v.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn attr(n: u32, ty: &str, rel: Option<&str>, value: &str, tags: &[&str]) -> Value {
    let mut a = json!({"uuid": format!("a0000000-0000-4000-8000-{n:012}"), "type": ty,
        "value": value, "to_ids": false, "timestamp": "1700000000",
        "Tag": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>()});
    if let Some(r) = rel {
        a["object_relation"] = json!(r);
    }
    a
}

fn object(n: u32, name: &str, tags: &[&str], attrs: Vec<Value>) -> Value {
    json!({"uuid": format!("0b000000-0000-4000-8000-{n:012}"), "name": name,
        "meta-category": "misc", "timestamp": "1700000000", "Attribute": attrs,
        "Tag": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>()})
}

fn event(uuid: &str, orgc: (&str, &str), attributes: Vec<Value>, objects: Vec<Value>) -> Value {
    json!({"Event": {
        "uuid": uuid, "info": "hostile", "date": "2023-11-14", "timestamp": "1700000000",
        "published": true, "publish_timestamp": "1700000100",
        "Orgc": {"name": orgc.0, "uuid": orgc.1},
        "Tag": [{"name": "tlp:green"}],
        "Attribute": attributes, "Object": objects,
    }})
}

/// A TLP:RED attribute, an object with one TLP:RED attribute and an object tagged TLP:RED stay
/// out of the feed — values, hashes and all; the GREEN object next to them comes back whole.
#[test]
fn a_feed_never_carries_red_misp_attributes_or_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_config(d);
    let e = event(
        "e0000000-0000-4000-8000-000000000001",
        ("CERT-EX", "11111111-2222-4333-8444-555555555555"),
        vec![
            attr(1, "domain", None, "red-attribute.example", &["tlp:red"]),
            attr(2, "domain", None, "green-attribute.example", &[]),
        ],
        vec![
            object(
                1,
                "file",
                &[],
                vec![
                    attr(
                        3,
                        "filename",
                        Some("filename"),
                        "red-in-object.exe",
                        &["tlp:red"],
                    ),
                    attr(
                        4,
                        "md5",
                        Some("md5"),
                        "0123456789abcdef0123456789abcdef",
                        &[],
                    ),
                    attr(5, "size-in-bytes", Some("size-in-bytes"), "4242", &[]),
                ],
            ),
            object(
                2,
                "person",
                &["tlp:red"],
                vec![attr(6, "first-name", Some("first-name"), "RedPerson", &[])],
            ),
            object(
                3,
                "file",
                &[],
                vec![
                    attr(7, "filename", Some("filename"), "green-object.exe", &[]),
                    attr(8, "size-in-bytes", Some("size-in-bytes"), "31337", &[]),
                ],
            ),
        ],
    );
    let r = import(d, "red", &e, "cert-ee");
    assert!(r["stored"].as_u64().unwrap() > 0, "{r}");
    let (events, all) = export(d, "cert-ee");
    assert_eq!(events.len(), 1);
    for red in [
        "red-attribute.example",
        "red-in-object.exe",
        "0123456789abcdef0123456789abcdef",
        "RedPerson",
    ] {
        assert!(!all.contains(red), "{red} left in a feed");
        assert!(!all.contains(&md5_hex(red)), "hash of {red} left in a feed");
    }
    let objects = events[0]["Event"]["Object"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let rels: Vec<(&str, &str)> = objects[0]["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["object_relation"].as_str().unwrap(),
                a["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rels,
        vec![("filename", "filename"), ("size-in-bytes", "size-in-bytes")]
    );
    assert!(all.contains("green-attribute.example"));
}

/// STIX crafted to leak through the round-trip properties: a GREEN observed data whose file is
/// TLP:RED, carrying the file's values as MISP object attributes (`x_misp_object_attributes`)
/// or as a MISP value (`x_misp_value`). The feed rebuilds from what it may send only.
#[test]
fn carried_misp_values_never_leak_a_held_back_observable() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    const RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
    const GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
    let base = |ty: &str, n: u32, marking: &str| {
        json!({"type": ty, "spec_version": "2.1",
            "id": format!("{ty}--00000000-0000-4000-8000-{n:012}"),
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "object_marking_refs": [marking]})
    };
    let mut red_file = base("file", 1, RED);
    red_file["name"] = json!("red-sco.exe");
    red_file.as_object_mut().unwrap().remove("created");
    red_file.as_object_mut().unwrap().remove("modified");
    let mut green_file = base("file", 2, GREEN);
    green_file["name"] = json!("green-sco.exe");
    green_file.as_object_mut().unwrap().remove("created");
    green_file.as_object_mut().unwrap().remove("modified");
    let od = |n: u32, refs: &[&str], extra: Value| {
        let mut o = base("observed-data", n, GREEN);
        o["first_observed"] = json!("2024-01-01T00:00:00Z");
        o["last_observed"] = json!("2024-01-01T00:00:00Z");
        o["number_observed"] = json!(1);
        o["object_refs"] = json!(refs);
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    let f1 = "file--00000000-0000-4000-8000-000000000001";
    let f2 = "file--00000000-0000-4000-8000-000000000002";
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000099",
    "objects": [
        red_file, green_file,
        // A MISP file object: its attributes name the RED file.
        od(10, &[f1, f2], json!({"labels": ["misp:name=\"file\"", "misp:meta-category=\"file\""],
            "x_misp_object_attributes": [
                {"type": "filename", "object_relation": "filename", "value": "red-sco.exe"},
                {"type": "filename", "object_relation": "filename", "value": "green-sco.exe"}]})),
        // A MISP attribute: its value is the RED file's name.
        od(11, &[f1], json!({"labels": ["misp:type=\"filename\"", "misp:category=\"Payload delivery\""],
            "x_misp_value": "red-sco.exe"})),
    ]});
    let file = d.join("b.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    let out = d.join("feed");
    let o = sw(
        d,
        &[
            "export",
            "--format",
            "misp-feed",
            "--indicators",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (_, all) = feed_files(&out);
    assert!(!all.contains("red-sco.exe"), "{all}");
    assert!(!all.contains(&md5_hex("red-sco.exe")));
    assert!(all.contains("green-sco.exe"), "{all}");
}

/// Crafted events: the importer ends normally on each, keeps one element per uuid, refuses an
/// `Orgc` that names another member and a uuid that would rewrite another member's object; the
/// other member's feed shows none of it.
#[test]
fn crafted_misp_events_neither_crash_the_importer_nor_impersonate() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_config(d);
    let ex = ("CERT-EX", "11111111-2222-4333-8444-555555555555");

    // Deeply nested JSON in an attribute value and in a tag.
    let mut deep = String::from("\"x\"");
    for _ in 0..20_000 {
        deep = format!("[{deep}]");
    }
    let text = format!(
        "{{\"Event\": {{\"uuid\": \"e0000000-0000-4000-8000-000000000010\", \"info\": \"deep\", \"Orgc\": {{\"name\": \"X\", \"uuid\": \"{}\"}}, \"Tag\": [{{\"name\": {deep}}}], \"Attribute\": [{{\"uuid\": \"a0000000-0000-4000-8000-000000000010\", \"type\": \"domain\", \"value\": {deep}}}]}}}}",
        ex.1
    );
    let file = d.join("deep.json");
    std::fs::write(&file, text).unwrap();
    import_file(d, &file, "cert-ee");

    // Huge: many attributes and one very long value.
    let mut many: Vec<Value> = (0..3000u32)
        .map(|n| {
            attr(
                100_000 + n,
                "domain",
                None,
                &format!("h{n}.huge.example"),
                &[],
            )
        })
        .collect();
    many.push(attr(99_999, "text", None, &"A".repeat(2 << 20), &[]));
    let r = import(
        d,
        "huge",
        &event("e0000000-0000-4000-8000-000000000011", ex, many, vec![]),
        "cert-ee",
    );
    assert!(r["stored"].as_u64().unwrap() >= 3000, "{r}");

    // Duplicate uuids inside one event: the first element of each uuid is kept.
    let dup = event(
        "e0000000-0000-4000-8000-000000000012",
        ex,
        vec![
            attr(50, "domain", None, "first.dup.example", &[]),
            attr(50, "domain", None, "second.dup.example", &[]),
        ],
        vec![
            object(
                50,
                "url",
                &[],
                vec![attr(
                    51,
                    "url",
                    Some("url"),
                    "https://first.dup.example/",
                    &[],
                )],
            ),
            object(
                50,
                "url",
                &[],
                vec![attr(
                    52,
                    "url",
                    Some("url"),
                    "https://second.dup.example/",
                    &[],
                )],
            ),
        ],
    );
    let r = import(d, "dup", &dup, "cert-ee");
    let diags = r["misp"]["diagnostics"].to_string();
    assert!(diags.contains("same uuid"), "{r}");

    // An Orgc naming another member (cert-lv's identity): refused, not stored as cert-lv's.
    let lv_uuid = CERT_LV.split_once("--").unwrap().1;
    let r = import(
        d,
        "claim",
        &event(
            "e0000000-0000-4000-8000-000000000013",
            ("CERT LV", lv_uuid),
            vec![attr(60, "domain", None, "claimed.example", &[])],
            vec![],
        ),
        "cert-ee",
    );
    assert!(r["refused"].as_u64().unwrap() > 0, "{r}");

    // cert-lv publishes an indicator; cert-ee replays its uuid with another value and a later
    // timestamp: a new version of cert-lv's object would be cert-ee speaking for cert-lv.
    let lv_event = |value: &str, ts: &str| {
        let mut e = event(
            "e0000000-0000-4000-8000-000000000014",
            ex,
            vec![attr(70, "domain", None, value, &[])],
            vec![],
        );
        e["Event"]["Attribute"][0]["to_ids"] = json!(true);
        e["Event"]["Attribute"][0]["timestamp"] = json!(ts);
        e["Event"]["timestamp"] = json!(ts);
        e
    };
    let r = import(
        d,
        "lv",
        &lv_event("original.lv.example", "1700000000"),
        "cert-lv",
    );
    assert!(r["stored"].as_u64().unwrap() > 0, "{r}");
    import(
        d,
        "replay",
        &lv_event("rewritten.example", "1800000000"),
        "cert-ee",
    );

    let (events, all) = export(d, "cert-lv");
    assert!(all.contains("original.lv.example"));
    assert!(
        !all.contains("rewritten.example"),
        "cert-ee rewrote cert-lv's object"
    );
    let (ee_events, ee_all) = export(d, "cert-ee");
    for e in events.iter().chain(&ee_events) {
        assert_ne!(
            e["Event"]["Orgc"]["uuid"].as_str(),
            Some(lv_uuid),
            "an event speaks for cert-lv: {}",
            e["Event"]["info"]
        );
    }
    assert!(!ee_all.contains("claimed.example"));
    assert!(ee_all.contains("first.dup.example"));
    assert!(!ee_all.contains("second.dup.example"));
    assert!(ee_all.contains("https://first.dup.example/"));
    assert!(!ee_all.contains("https://second.dup.example/"));
    assert!(ee_all.contains("h2999.huge.example"));
}
