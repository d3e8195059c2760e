//! Shared by the data-driven tests: loading shared data and comparing STIX bundles.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value;

pub(crate) fn shared(relative: &str) -> Option<PathBuf> {
    testenv::shared_file("MISP conversion data", relative)
}

pub(crate) fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub(crate) fn options() -> misp::ConvertOptions {
    misp::ConvertOptions::new(misp::time::Instant::from_secs(1_700_000_000))
}

fn rewrite(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(n) = map.get(s.as_str()) {
                *s = n.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, map)),
        Value::Object(o) => o.values_mut().for_each(|x| rewrite(x, map)),
        _ => {}
    }
}

/// Objects keyed by id, where relationship ids that are random by design (their uuid is not
/// taken from the MISP input and is not a uuid5) are replaced by `relationship--<src>|<type>|<tgt>`.
///
/// A relationship of `bundle` whose content key is in `random_in_expected` is canonicalised too:
/// that is how our deterministic ids meet misp-stix's random ones.
pub(crate) fn canonical(
    bundle: &Value,
    input_text: &str,
    random_in_expected: &std::collections::HashSet<String>,
) -> BTreeMap<String, Value> {
    let objects = bundle["objects"].as_array().cloned().unwrap_or_default();
    let mut map = HashMap::new();
    for o in &objects {
        let id = o["id"].as_str().unwrap_or("");
        let uuid = id.split("--").nth(1).unwrap_or("");
        let random = !input_text.contains(uuid)
            && uuid::Uuid::parse_str(uuid)
                .map(|u| u.get_version_num() == 4)
                .unwrap_or(false);
        let key = format!(
            "relationship--{}|{}|{}",
            o["source_ref"].as_str().unwrap_or(""),
            o["relationship_type"].as_str().unwrap_or(""),
            o["target_ref"].as_str().unwrap_or("")
        );
        if o["type"] == "relationship" && (random || random_in_expected.contains(&key)) {
            map.insert(id.to_owned(), key);
        }
    }
    // Relationship sources/targets never are relationships here, so one pass is enough.
    objects
        .into_iter()
        .map(|mut o| {
            rewrite(&mut o, &map);
            // What Shieldwall adds for a MISP feed to give MISP objects and attributes back
            // exactly (docs/CONFORMANCE.md); misp-stix has no such properties.
            if let Some(m) = o.as_object_mut() {
                m.remove("x_misp_object_attributes");
                if m.get("type").and_then(Value::as_str) != Some("x-misp-attribute") {
                    m.remove("x_misp_value");
                }
            }
            (o["id"].as_str().unwrap_or("").to_owned(), o)
        })
        .collect()
}

/// Every difference between two canonical bundles, one line each (`<id> <property>: ...`).
pub(crate) fn differences(
    expected: &BTreeMap<String, Value>,
    actual: &BTreeMap<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, e) in expected {
        let Some(a) = actual.get(id) else {
            out.push(format!("{id}: missing"));
            continue;
        };
        let (eo, ao) = (e.as_object().unwrap(), a.as_object().unwrap());
        for (k, ev) in eo {
            match ao.get(k) {
                None => out.push(format!("{id} {k}: missing (expected {ev})")),
                Some(av) if av != ev => out.push(format!("{id} {k}: expected {ev}, got {av}")),
                _ => {}
            }
        }
        for k in ao.keys() {
            if !eo.contains_key(k) {
                out.push(format!("{id} {k}: extra ({})", ao[k]));
            }
        }
    }
    for id in actual.keys() {
        if !expected.contains_key(id) {
            out.push(format!("{id}: extra"));
        }
    }
    out
}
