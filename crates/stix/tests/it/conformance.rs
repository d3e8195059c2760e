//! Conformance: the OASIS stix2-validator vectors, the OASIS examples and real data sets, the
//! TLP marking definitions. Every disagreement with the reference validator is printed; the
//! reasons are listed in docs/CONFORMANCE.md.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use stix::{
    json,
    stream::{ItemKind, ObjectStream},
    validate::{Options, Severity, Validator, validate_object},
};

fn load(what: &str, rel: &str) -> Option<Value> {
    let path = testenv::shared_file(what, rel)?;
    Some(
        json::parse(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

/// Maps a case's options to ours. Shieldwall's own checks, which the reference lacks, are
/// disabled so that the strict verdicts compare like with like.
fn options_of(case: &Value) -> Options {
    let o = &case["options"];
    let list = |k: &str| -> Vec<String> {
        o.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut disabled = list("disabled");
    let enabled = list("enabled");
    if !disabled.is_empty() || enabled.is_empty() {
        disabled.extend(
            [
                "sco-id-deterministic",
                "created-by-ref-type",
                "spec-version",
                "tlp-id-reuse",
            ]
            .map(String::from),
        );
    }
    Options {
        disabled,
        enabled,
        strict_properties: o
            .get("strict_properties")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        strict_types: o
            .get("strict_types")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        interop: o.get("interop").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// Cases where Shieldwall follows the specification and the reference validator does not
/// (each is explained in docs/CONFORMANCE.md). A disagreement not listed here fails the test.
const DEPARTURES: &[(&str, &str)] = &[
    (
        "test_custom_property_name_long",
        "property names MUST be at most 250 characters; the reference's regex is unanchored",
    ),
    (
        "network_traffic_tests.py",
        "src_ref 'ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb' has a 35-digit UUID: a warning (ref-uuid-format) that strict mode counts",
    ),
    (
        "test_observable_object_custom_toplevel_property_with_extension",
        "the reference asks a toplevel-property extension-definition key to be a property-extension",
    ),
];

fn departure(test: &str) -> Option<&'static str> {
    DEPARTURES
        .iter()
        .find(|(t, _)| test.contains(t))
        .map(|(_, why)| *why)
}

#[test]
fn stix2_validator_cases() {
    let Some(doc) = load(
        "stix2-validator cases",
        "conformance/stix-validation/stix_validator_cases.dev.json",
    ) else {
        return;
    };
    let cases: Vec<&Value> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            matches!(
                c["options"].get("version").and_then(Value::as_str),
                None | Some("2.1")
            )
        })
        .filter(|c| c["options"].get("schema_dir").is_none())
        .collect();
    assert!(cases.len() > 250, "only {} STIX 2.1 cases", cases.len());
    let (mut musts_agree, mut strict_agree) = (0, 0);
    let mut unexplained = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let opts = options_of(case);
        let findings = validate_object(&case["instance"], &opts);
        let errors = findings.iter().any(|f| f.severity == Severity::Error);
        let warnings = findings.iter().any(|f| f.severity == Severity::Warning);
        let strict = case["options"]
            .get("strict")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let musts_valid = !errors;
        let strict_valid = !(errors || strict && warnings);
        let want_musts = case["musts_only"]["is_valid"].as_bool().unwrap();
        let want_strict = case["as_tested"]["is_valid"].as_bool().unwrap();
        let test = case["test"].as_str().unwrap();
        if musts_valid == want_musts {
            musts_agree += 1;
        } else {
            println!(
                "MUSTS DISAGREE #{i} {test}: ours valid={musts_valid}, reference {want_musts}\n  ours: {findings:?}\n  reference: {}",
                case["musts_only"]
            );
            unexplained.extend(
                departure(test)
                    .is_none()
                    .then(|| format!("musts #{i} {test}")),
            );
        }
        if strict_valid == want_strict {
            strict_agree += 1;
        } else {
            println!(
                "STRICT DISAGREE #{i} {test}: ours valid={strict_valid}, reference {want_strict}\n  ours: {findings:?}\n  reference: {}",
                case["as_tested"]
            );
            unexplained.extend(
                departure(test)
                    .is_none()
                    .then(|| format!("strict #{i} {test}")),
            );
        }
    }
    let n = cases.len() as f64;
    let (m, s) = (f64::from(musts_agree) / n, f64::from(strict_agree) / n);
    println!(
        "musts-only agreement {musts_agree}/{} = {:.1}%, strict agreement {strict_agree}/{} = {:.1}%",
        cases.len(),
        m * 100.0,
        cases.len(),
        s * 100.0
    );
    assert!(
        unexplained.is_empty(),
        "disagreements not in DEPARTURES (and docs/CONFORMANCE.md): {unexplained:#?}"
    );
    // The target was 99%; the 9 MUST-level departures above are all cases where the
    // specification says the reference is wrong (see docs/CONFORMANCE.md).
    assert!(m >= 0.99, "musts-only agreement {m}");
    assert!(s >= 0.95, "strict agreement {s}");
}

/// Every object of a data set validates without error and round-trips to an equal value.
fn check_dataset(what: &str, value: &Value, opts: &Options) {
    let v = Validator::new(opts).unwrap();
    let errors: Vec<_> = v
        .validate(value)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {} errors, first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let objects = value
        .get("objects")
        .and_then(Value::as_array)
        .map_or(1, Vec::len);
    let text = serde_json::to_string(value).unwrap();
    let back = json::parse(text.as_bytes()).unwrap();
    assert_eq!(&back, value, "{what}: round trip changed the value");
    for obj in value
        .get("objects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let typed: stix::StixObject = serde_json::from_value(obj.clone()).unwrap();
        assert_eq!(&typed.into_value(), obj);
    }
    println!("{what}: {objects} objects valid and lossless");
}

#[test]
fn real_data_sets_are_valid_and_lossless() {
    let opts = Options::default();
    for (what, rel) in [
        ("ATT&CK ICS", "data/attack-ics/ics-attack-18.1.json"),
        ("DISARM", "data/disarm/DISARM.json"),
    ] {
        if let Some(v) = load(what, rel) {
            check_dataset(what, &v, &opts);
        }
    }
}

#[test]
fn misp_reference_bundles_are_valid_and_lossless() {
    let Some(doc) = load(
        "MISP reference STIX 2.1",
        "data/misp/misp_test_events_reference_stix21.json",
    ) else {
        return;
    };
    let mut bundles = Vec::new();
    collect_bundles(&doc, &mut bundles);
    assert!(bundles.len() > 10, "only {} bundles", bundles.len());
    // misp-stix's test events hold two objects that break STIX 2.1 MUSTs, which stix2-validator
    // rejects too: a url whose value is in quotes ('https://…', not a URI) and a
    // windows-registry-key whose key starts with the abbreviation HKLM. Exactly those must be
    // rejected; every other object must be valid.
    let known_bad = |o: &Value| {
        (o["type"] == "url" && o["value"].as_str().is_some_and(|v| v.starts_with('\'')))
            || (o["type"] == "windows-registry-key"
                && o["key"].as_str().is_some_and(|k| k.starts_with("HKLM")))
    };
    let mut rejected = 0;
    for (i, b) in bundles.iter().enumerate() {
        let objects = b["objects"].as_array().unwrap();
        if objects.iter().any(known_bad) {
            for o in objects {
                let errors = validate_object(o, &Options::default())
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error)
                    .count();
                assert_eq!(errors > 0, known_bad(o), "MISP bundle {i}: {o}");
                rejected += usize::from(errors > 0);
            }
            continue;
        }
        check_dataset(&format!("MISP bundle {i}"), b, &Options::default());
    }
    println!("MISP: {rejected} objects rejected as the reference validator rejects them");
    assert!(rejected >= 2);
}

fn collect_bundles<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("bundle") => out.push(v),
        Value::Object(m) => m.values().for_each(|x| collect_bundles(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_bundles(x, out)),
        _ => {}
    }
}

#[test]
fn oasis_examples_are_valid_and_lossless() {
    let Some(dir) =
        testenv::shared_file("OASIS STIX examples", "conformance/stix-schemas/examples")
    else {
        return;
    };
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 6);
    for f in files {
        let v = json::parse(&std::fs::read(&f).unwrap()).unwrap();
        check_dataset(&f.display().to_string(), &v, &Options::default());
    }
}

/// The reference validator's verdicts on its own example files (run with stix2-validator 3.3.2,
/// strict off): malformed files are JSON errors, the rest validate as the names say.
#[test]
fn stix2_validator_example_files() {
    let Some(dir) = testenv::shared_file(
        "stix2-validator examples",
        "conformance/stix-validation/test_examples_v21",
    ) else {
        return;
    };
    let expect = [
        ("identity.json", Some(true)),
        ("identity_custom.json", Some(true)),
        ("identity_unicode.json", Some(true)),
        ("identity_warning.json", Some(true)),
        ("invalid_braces.json", None),
        ("invalid_comma.json", None),
        ("invalid_identity.json", Some(false)),
        ("invalid_timestamp.json", Some(false)),
        ("tlp-amber.json", Some(true)),
        ("tool.json", Some(true)),
    ];
    let v = Validator::new(&Options::default()).unwrap();
    for (name, want) in expect {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let mut parse_error = false;
        let mut errors = 0;
        let mut stream = ObjectStream::new(&bytes[..]);
        while let Some(item) = stream.next() {
            let streamed = stream.container_objects() > 0;
            match item {
                Err(e) => {
                    println!("{name}: {e}");
                    parse_error = true;
                }
                Ok(item) => match &item.value {
                    Err(e) => {
                        println!("{name}: {e}");
                        parse_error = true;
                    }
                    Ok(value) => {
                        errors += v
                            .validate(value)
                            .iter()
                            .filter(|f| f.severity == Severity::Error)
                            .filter(|f| !(streamed && Validator::is_empty_objects(f)))
                            .count()
                    }
                },
            }
        }
        match want {
            None => assert!(parse_error, "{name} should not parse"),
            Some(valid) => {
                assert!(!parse_error, "{name} should parse");
                assert_eq!(errors == 0, valid, "{name}");
            }
        }
    }
}

#[test]
fn tlp_marking_definitions_are_known_and_valid() {
    for (rel, v1) in [
        ("conformance/tlp/tlp1_marking_definitions.bundle.json", true),
        (
            "conformance/tlp/tlp2_marking_definitions.bundle.json",
            false,
        ),
    ] {
        let Some(bundle) = load("TLP markings", rel) else {
            return;
        };
        check_dataset(rel, &bundle, &Options::default());
        let mut levels = Vec::new();
        for obj in bundle["objects"].as_array().unwrap() {
            if obj["type"] == "marking-definition" {
                let id = obj["id"].as_str().unwrap();
                let (level, version) =
                    stix::tlp::marking_info(id).unwrap_or_else(|| panic!("unknown TLP id {id}"));
                assert_eq!(version == stix::tlp::TlpVersion::V1, v1);
                if !v1 {
                    assert_eq!(obj, &level.marking_definition());
                }
                levels.push(level);
            }
        }
        assert_eq!(levels.len(), if v1 { 4 } else { 5 });
        if !v1 {
            // Our published objects equal OASIS's, extension definition included.
            let ours = stix::tlp::tlp2_objects();
            for o in bundle["objects"].as_array().unwrap() {
                assert!(ours.contains(o), "{o}");
            }
        }
    }
    let _ = ItemKind::Object;
}
