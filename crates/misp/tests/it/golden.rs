//! The three golden pairs of misp-stix: `*_1.json` and `*_2.json` converted into one bundle must
//! equal `*_stix21.json`, ignoring ids that are random by design (bundle id, uuid4 relationship ids
//! misp-stix generated at the time). Remaining differences must be the documented ones.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;

/// Differences listed in docs/CONFORMANCE.md ("MISP conversion"), as `<id prefix> <property>`.
const DOCUMENTED: &[&str] = &[];

fn golden(name: &str) {
    let (Some(one), Some(two), Some(expected)) = (
        shared(&format!("data/misp/collections/{name}_1.json")),
        shared(&format!("data/misp/collections/{name}_2.json")),
        shared(&format!("data/misp/collections/{name}_stix21.json")),
    ) else {
        return;
    };
    let (b1, b2) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    let mut c = misp::Converter::new(options());
    c.add_json("1", &b1).unwrap();
    c.add_json("2", &b2).unwrap();
    let conv = c.finish();
    let input = format!(
        "{}{}",
        String::from_utf8_lossy(&b1),
        String::from_utf8_lossy(&b2)
    );
    let expected = canonical(&read_json(&expected), &input, &Default::default());
    let random: std::collections::HashSet<String> = expected
        .keys()
        .filter(|k| k.contains('|'))
        .cloned()
        .collect();
    let actual = canonical(&conv.bundle(), &input, &random);
    let diffs: Vec<String> = differences(&expected, &actual)
        .into_iter()
        .filter(|d| !DOCUMENTED.iter().any(|doc| d.starts_with(doc)))
        .collect();
    assert!(
        diffs.is_empty(),
        "{name}: {} undocumented differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // Same order of objects as misp-stix (ids compared after canonicalisation).
    let order = |b: &serde_json::Value| -> Vec<String> {
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        order(&conv.bundle()),
        order(&read_json(
            &shared(&format!("data/misp/collections/{name}_stix21.json")).unwrap()
        )),
        "{name}: object order"
    );
}

#[test]
fn attributes_collection() {
    golden("test_attributes_collection");
}

#[test]
fn events_collection() {
    golden("test_events_collection");
}

#[test]
fn objects_collection() {
    golden("test_objects_collection");
}
