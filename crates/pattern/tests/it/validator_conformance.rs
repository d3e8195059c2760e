//! Drives cti-pattern-validator's vectors (`conformance/stix-patterning/validator_cases.json` of
//! the shared test data) and `spec_examples_v2{0,1}.txt`: every STIX 2.1 verdict must agree; the
//! STIX 2.0 cases are checked in 2.0 mode; the inspector decompositions must be reproduced.
#![allow(clippy::unwrap_used)]

use pattern::{Literal, Operand, PathStep, StixVersion, parse};
use serde_json::{Value, json};

fn load(rel: &str) -> Option<Value> {
    let path = testenv::shared_file("pattern validator conformance", rel)?;
    let text = std::fs::read_to_string(path).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

fn version(v: &Value) -> StixVersion {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn validity_verdicts() {
    let Some(doc) = load("conformance/stix-patterning/validator_cases.json") else {
        return;
    };
    let mut disagreements = Vec::new();
    let mut counts = [0usize; 2];
    for case in doc["cases"].as_array().unwrap() {
        let v = version(&case["stix_version"]);
        let src = case["pattern"].as_str().unwrap();
        let expected = case["valid"].as_bool().unwrap();
        let parsed = parse(src, v);
        counts[usize::from(v == StixVersion::V21)] += 1;
        if parsed.is_valid() != expected {
            disagreements.push(format!(
                "{v} expected valid={expected}: {src}\n    {:?}",
                parsed.diagnostics
            ));
        }
        // Every invalid verdict carries at least one error with a message and a span inside
        // the text.
        for d in &parsed.diagnostics {
            assert!(!d.message.is_empty());
            assert!(d.span.end as usize <= src.len(), "{src}: {d:?}");
        }
    }
    assert!(counts[1] >= 80 && counts[0] >= 80, "{counts:?}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn spec_examples_parse() {
    for (file, v) in [
        (
            "conformance/stix-patterning/spec_examples_v21.txt",
            StixVersion::V21,
        ),
        (
            "conformance/stix-patterning/spec_examples_v20.txt",
            StixVersion::V20,
        ),
    ] {
        let Some(path) = testenv::shared_file("pattern spec examples", file) else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let parsed = parse(line, v);
            assert!(
                parsed.is_valid(),
                "{file}: {line}\n{:?}",
                parsed.diagnostics
            );
            // The canonical form parses back to the same tree.
            let p = parsed.pattern.unwrap();
            let again = parse(&p.to_string(), v).pattern.unwrap();
            assert!(p.same_as(&again), "{line}\n{p}");
            n += 1;
        }
        assert!(n >= 20, "{file}: only {n} lines");
    }
}

/// The reference inspector's rendering of a value: the literal's text without whitespace.
fn value_text(src: &str, c: &pattern::Comparison) -> String {
    let raw = &src[c.operand_span.range()];
    match &c.operand {
        Operand::Set(_) => raw.chars().filter(|ch| !ch.is_whitespace()).collect(),
        _ => raw.to_owned(),
    }
}

#[test]
fn inspector_decompositions() {
    let Some(doc) = load("conformance/stix-patterning/validator_cases.json") else {
        return;
    };
    let mut checked = 0;
    for case in doc["inspector_cases"].as_array().unwrap() {
        let v = version(&case["stix_version"]);
        let src = case["pattern"].as_str().unwrap();
        let parsed = parse(src, v);
        let p = parsed
            .pattern
            .unwrap_or_else(|| panic!("{src}: {:?}", parsed.diagnostics));
        let ins = p.inspect();
        if let Some(expected) = case.get("expected_comparisons") {
            let mut got = serde_json::Map::new();
            for c in &ins.comparisons {
                let path: Vec<Value> = c
                    .path
                    .iter()
                    .map(|s| match s {
                        PathStep::Key(k) => json!(k),
                        PathStep::Index(i) => json!(i),
                        PathStep::AnyIndex => json!("*"),
                    })
                    .collect();
                let op_text = &src[c.comparison.op_span.range()];
                let op = if c.negated {
                    format!("NOT {op_text}")
                } else {
                    op_text.to_owned()
                };
                got.entry(c.object_type.to_owned())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .unwrap()
                    .push(json!([path, op, value_text(src, c.comparison)]));
            }
            assert_eq!(&Value::Object(got), expected, "{src}");
            checked += 1;
        }
        if let Some(expected) = case.get("expected_obs_ops") {
            let mut got: Vec<&str> = ins.observation_ops.iter().map(|o| o.as_str()).collect();
            got.sort_unstable();
            assert_eq!(json!(got), *expected, "{src}");
            checked += 1;
        }
        if let Some(expected) = case.get("expected_qualifiers") {
            let mut got: Vec<String> = ins
                .qualifiers
                .iter()
                .map(|q| q.qualifier.to_string())
                .collect();
            got.sort();
            got.dedup();
            assert_eq!(json!(got), *expected, "{src}");
            checked += 1;
        }
    }
    assert_eq!(checked, 39);
}

#[test]
fn typed_literals_in_inspection() {
    let p = parse(
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' \
         AND file:size > 10] WITHIN 5 SECONDS",
        StixVersion::V21,
    )
    .pattern
    .unwrap();
    let ins = p.inspect();
    assert_eq!(ins.comparisons.len(), 2);
    assert!(matches!(ins.comparisons[0].exact_value(), Some(Literal::String(s)) if s.len() == 64));
    assert_eq!(
        ins.comparisons[0].path,
        &[
            PathStep::Key("hashes".into()),
            PathStep::Key("SHA-256".into())
        ]
    );
    assert!(ins.comparisons[1].exact_value().is_none());
    assert_eq!(
        ins.comparisons[1].operand,
        &Operand::Literal(Literal::Int(10))
    );
    assert_eq!(ins.qualifiers.len(), 1);
}
