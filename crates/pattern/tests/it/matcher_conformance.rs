//! Drives cti-pattern-matcher's vectors (`conformance/stix-patterning/matcher_cases.dev.json` of
//! the shared test data): every STIX 2.1 case must give the expected outcome; at least 95 % of the
//! STIX 2.0 cases must (the others are listed, and explained in docs/CONFORMANCE.md).
#![allow(clippy::unwrap_used)]

use pattern::eval::{EvalError, EvalOptions, Matcher, Observations};
use pattern::{StixVersion, parse};
use serde_json::Value;

/// The outcome in the vectors' vocabulary.
fn outcome(src: &str, observed: &Value, v: StixVersion) -> (String, Option<Vec<String>>) {
    // The reference matcher applies the grammar only (not the validator's extra checks:
    // duplicate qualifiers, hash formats), so only a grammar failure is a parse error here.
    let parsed = parse(src, v);
    if parsed.pattern.is_none() {
        return ("parse_error".into(), None);
    }
    let obs = match Observations::from_json(observed, v) {
        Ok(o) => o,
        Err(_) => return ("matcher_error".into(), None),
    };
    let result = Matcher::new(parsed.pattern.as_ref().unwrap(), v)
        .and_then(|m| m.evaluate(&obs, &EvalOptions::default()));
    match result {
        Ok(Some(b)) => {
            let ids = b
                .observations()
                .into_iter()
                .map(|i| obs.observed_data_id(i).unwrap_or("?").to_owned())
                .collect();
            ("match".into(), Some(ids))
        }
        Ok(None) => ("no_match".into(), None),
        Err(EvalError::InvalidPattern(_)) => ("parse_error".into(), None),
        Err(_) => ("matcher_error".into(), None),
    }
}

#[test]
fn matcher_vectors() {
    let Some(path) = testenv::shared_file(
        "pattern matcher conformance",
        "conformance/stix-patterning/matcher_cases.dev.json",
    ) else {
        return;
    };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sets = &doc["observation_sets"];
    let mut total = [0usize; 2];
    let mut agree = [0usize; 2];
    let mut disagreements = [Vec::new(), Vec::new()];
    for case in doc["cases"].as_array().unwrap() {
        let v: StixVersion = case["stix_version"].as_str().unwrap().parse().unwrap();
        let k = usize::from(v == StixVersion::V21);
        let src = case["pattern"].as_str().unwrap();
        let observed = &sets[case["observations"].as_str().unwrap()];
        let expected = case["expected"].as_str().unwrap();
        let (got, ids) = outcome(src, observed, v);
        total[k] += 1;
        let mut ok = got == expected;
        if ok {
            if let Some(want) = case.get("expected_first_binding_observed_data_ids") {
                let want: Vec<String> = want
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_owned())
                    .collect();
                let mut want_sorted = want.clone();
                want_sorted.sort();
                let mut got_ids = ids.clone().unwrap_or_default();
                got_ids.sort();
                ok = got_ids == want_sorted;
            }
            if let Some(n) = case.get("expected_first_binding_count") {
                ok &= ids.as_ref().map(Vec::len) == n.as_u64().map(|n| n as usize);
            }
        }
        if ok {
            agree[k] += 1;
        } else {
            disagreements[k].push(format!(
                "{} {src}: expected {expected}, got {got} {ids:?}",
                case["id"].as_str().unwrap()
            ));
        }
    }
    for k in [1, 0] {
        let name = if k == 1 { "2.1" } else { "2.0" };
        eprintln!(
            "STIX {name}: {}/{} cases agree with the reference matcher",
            agree[k], total[k]
        );
        for d in &disagreements[k] {
            eprintln!("  disagreement: {d}");
        }
    }
    assert!(total[1] > 200 && total[0] > 150, "{total:?}");
    assert!(
        disagreements[1].is_empty(),
        "STIX 2.1 disagreements:\n{}",
        disagreements[1].join("\n")
    );
    assert!(
        agree[0] * 100 >= total[0] * 95,
        "STIX 2.0: only {}/{} agree",
        agree[0],
        total[0]
    );
}
