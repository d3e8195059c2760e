//! All full events of misp-stix's `test_events.py` (139) convert without error and give valid STIX:
//! checked structurally here and by the OASIS stix2-validator. Their misp-stix outputs are compared
//! informatively (a floor guards against regressions).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use common::*;
use serde_json::Value;

/// Events whose input reuses one MISP uuid for several attributes: the later ones are left out
/// with an error diagnostic (misp-stix emits several objects with one id).
const DUPLICATE_UUID_EVENTS: &[&str] = &[
    "get_event_with_attribute_confidence_tags",
    "get_event_with_user_account_objects",
];

fn events() -> Option<(BTreeMap<String, Value>, BTreeMap<String, Value>)> {
    let samples = read_json(&shared("data/misp/misp_test_events.json")?);
    let reference = read_json(&shared("data/misp/misp_test_events_reference_stix21.json")?);
    let events: BTreeMap<String, Value> = samples["samples"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.get("Event").is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let refs = reference["bundles"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect();
    Some((events, refs))
}

fn convert_all(events: &BTreeMap<String, Value>) -> BTreeMap<String, misp::Conversion> {
    events
        .iter()
        .map(|(name, ev)| {
            let conv = misp::convert_value(ev, &options())
                .unwrap_or_else(|e| panic!("{name}: conversion failed: {e}"));
            (name.clone(), conv)
        })
        .collect()
}

/// Structural STIX 2.1 checks: ids, required common properties, every reference resolves.
fn check_structure(name: &str, bundle: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let objects = bundle["objects"].as_array().unwrap();
    let ids: HashSet<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    if ids.len() != objects.len() {
        problems.push(format!("{name}: duplicate ids in bundle"));
    }
    let sco = [
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    ];
    for o in objects {
        let ty = o["type"].as_str().unwrap_or("");
        let id = o["id"].as_str().unwrap_or("");
        let p = |m: &str| format!("{name} {id}: {m}");
        if !id.starts_with(&format!("{ty}--"))
            || uuid::Uuid::parse_str(&id[ty.len() + 2..]).is_err()
        {
            problems.push(p("id is not <type>--<uuid>"));
        }
        if o["spec_version"] != "2.1" {
            problems.push(p("spec_version is not 2.1"));
        }
        if !sco.contains(&ty) && ty != "marking-definition" {
            for k in ["created", "modified"] {
                if o[k].as_str().is_none() {
                    problems.push(p(&format!("no {k}")));
                }
            }
        }
        match ty {
            "indicator"
                if o["pattern"].as_str().is_none_or(str::is_empty) || o["valid_from"].is_null() =>
            {
                problems.push(p("indicator without pattern or valid_from"));
            }
            "observed-data" if o["object_refs"].as_array().is_none_or(Vec::is_empty) => {
                problems.push(p("observed-data without object_refs"));
            }
            "report" | "grouping" | "note" | "opinion"
                if o["object_refs"].as_array().is_none_or(Vec::is_empty) =>
            {
                problems.push(p("no object_refs"));
            }
            "malware" if o["is_family"].as_bool().is_none() => {
                problems.push(p("malware without is_family"))
            }
            "location"
                if o["region"].is_null() && o["country"].is_null() && o["latitude"].is_null() =>
            {
                problems.push(p("location without region, country or coordinates"));
            }
            _ => {}
        }
        // Every *_ref / *_refs names an object of the bundle (or a TLP marking, always in it here).
        let mut refs = Vec::new();
        collect_refs(o, &mut refs);
        for r in refs {
            if !ids.contains(r.as_str()) {
                problems.push(p(&format!("dangling reference {r}")));
            }
        }
    }
    problems
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            if k.starts_with("x_misp") {
                continue;
            }
            if k.ends_with("_ref") {
                if let Some(s) = x.as_str() {
                    out.push(s.to_owned());
                }
            } else if k.ends_with("_refs") {
                out.extend(
                    x.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned)),
                );
            } else {
                collect_refs(x, out);
            }
        }
    } else if let Value::Array(a) = v {
        a.iter().for_each(|x| collect_refs(x, out));
    }
}

#[test]
fn all_events_convert_to_structurally_valid_stix() {
    let Some((events, _)) = events() else { return };
    assert_eq!(
        events.len(),
        139,
        "139 full events expected in misp_test_events.json"
    );
    let convs = convert_all(&events);
    let mut problems = Vec::new();
    for (name, conv) in &convs {
        let errors: Vec<String> = conv
            .diagnostics
            .iter()
            .filter(|d| d.level == misp::Level::Error)
            .map(ToString::to_string)
            .collect();
        let expected_errors = DUPLICATE_UUID_EVENTS.contains(&name.as_str());
        if errors.is_empty() == expected_errors {
            problems.push(format!("{name}: error diagnostics {errors:?}"));
        }
        problems.extend(check_structure(name, &conv.bundle()));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn conversion_is_deterministic() {
    let Some((events, _)) = events() else { return };
    let a = convert_all(&events);
    let b = convert_all(&events);
    for (name, conv) in &a {
        assert_eq!(conv.bundle(), b[name].bundle(), "{name}");
    }
}

const VALIDATE: &str = r#"
import json, sys
from stix2validator import validate_parsed_json, ValidationOptions
bundles = json.load(open(sys.argv[1]))
opts = ValidationOptions(strict=False)
out = {}
for name, bundle in bundles.items():
    res = validate_parsed_json(bundle, opts)
    errs = []
    for r in (res if isinstance(res, list) else [res]):
        for o in getattr(r, "object_results", None) or [r]:
            errs += [str(e) for e in (o.errors or [])]
            errs += ["vocabulary: " + str(w) for w in (o.warnings or []) if "vocabulary" in str(w).lower()]
        if not r.is_valid and not errs:
            errs.append("invalid")
    out[name] = errs
print(json.dumps(out))
"#;

/// Every converted event passes the OASIS validator with no error and no open-vocabulary
/// warning (values of the specification's vocabularies only).
#[test]
fn all_events_pass_the_oasis_stix2_validator() {
    let Some((events, _)) = events() else { return };
    let Some(python) = testenv::python("stix2-validator over converted MISP events") else {
        return;
    };
    let convs = convert_all(&events);
    let bundles: serde_json::Map<String, Value> =
        convs.iter().map(|(n, c)| (n.clone(), c.bundle())).collect();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(serde_json::to_string(&bundles).unwrap().as_bytes())
        .unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(VALIDATE)
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: BTreeMap<String, Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), 139);
    // Vocabulary values that come from the MISP data itself, kept on purpose
    // (docs/CONFORMANCE.md): a galaxy's region, a MISP account type without an
    // `account-type-ov` value, hash algorithms MISP has and `hash-algorithm-ov` lacks.
    let deliberate = |w: &str| {
        w.starts_with("vocabulary: ")
            && (w.contains("The value contained in region is permitted")
                || w.contains("with an 'account_type' of 'github'")
                || [
                    "SHA-224",
                    "SHA-384",
                    "SHA3-224",
                    "SHA3-384",
                    "AUTHENTIHASH",
                    "IMPHASH",
                    "PEHASH",
                    "VHASH",
                    "TELFHASH",
                ]
                .iter()
                .any(|h| w.contains(&format!("hash of type '{h}'"))))
    };
    let results: BTreeMap<String, Vec<String>> = results
        .into_iter()
        .map(|(n, e)| (n, e.into_iter().filter(|w| !deliberate(w)).collect()))
        .collect();
    let bad: Vec<String> = results
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(n, e)| format!("{n}: {}", e.join("; ")))
        .collect();
    assert!(
        bad.is_empty(),
        "{} bundles invalid:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// How close we are to misp-stix on these events (informative; its output is one mapping, not a
/// standard). Prints a per-event summary and guards a floor.
#[test]
fn closeness_to_misp_stix_reference() {
    let Some((events, reference)) = events() else {
        return;
    };
    let convs = convert_all(&events);
    let (mut same, mut total) = (0usize, 0usize);
    let mut lines = Vec::new();
    for (name, conv) in &convs {
        let Some(expected) = reference.get(name) else {
            continue;
        };
        let input = serde_json::to_string(&events[name]).unwrap();
        let exp = canonical(expected, &input, &Default::default());
        let random: HashSet<String> = exp.keys().filter(|k| k.contains('|')).cloned().collect();
        let act = canonical(&conv.bundle(), &input, &random);
        let diffs = differences(&exp, &act);
        let bad: HashSet<&str> = diffs
            .iter()
            .map(|d| d.split([' ', ':']).next().unwrap_or(""))
            .collect();
        total += exp.len();
        same += exp.keys().filter(|k| !bad.contains(k.as_str())).count();
        if !diffs.is_empty() {
            lines.push(format!(
                "{name}: {} differences, e.g. {}",
                diffs.len(),
                diffs[0]
            ));
        }
    }
    println!("identical objects: {same}/{total}\n{}", lines.join("\n"));
    assert!(
        same * 100 >= total * 60,
        "only {same}/{total} objects identical to misp-stix's"
    );
}
