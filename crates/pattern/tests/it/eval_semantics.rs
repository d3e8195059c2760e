//! Evaluation semantics beyond the OASIS vectors: EXISTS, IPv6 CIDRs, instances from
//! number_observed, the search bound, and the binding that is returned.
#![allow(clippy::unwrap_used)]

use pattern::StixVersion;
use pattern::eval::{EvalError, EvalOptions, Matcher, Observations};
use serde_json::{Value, json};

fn bundle(objs: Vec<Value>) -> Value {
    json!({"type": "bundle", "id": "bundle--1", "objects": objs})
}

fn od(id: &str, first: &str, last: &str, n: u64, refs: &[&str]) -> Value {
    json!({"type": "observed-data", "id": id, "first_observed": first, "last_observed": last,
           "number_observed": n, "object_refs": refs})
}

fn data() -> Observations {
    let v = bundle(vec![
        od(
            "observed-data--a",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            1,
            &["ipv6-addr--1", "network-traffic--1"],
        ),
        od(
            "observed-data--b",
            "2024-01-01T00:00:10Z",
            "2024-01-01T00:00:10Z",
            3,
            &["file--1"],
        ),
        json!({"type": "ipv6-addr", "id": "ipv6-addr--1", "value": "2001:db8:dead:beef::7"}),
        json!({"type": "network-traffic", "id": "network-traffic--1", "dst_ref": "ipv6-addr--1", "protocols": ["tcp"]}),
        json!({"type": "file", "id": "file--1", "name": "a.exe", "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"}}),
    ]);
    Observations::from_json(&v, StixVersion::V21).unwrap()
}

fn eval(p: &str) -> Result<Option<pattern::eval::Binding>, EvalError> {
    Matcher::compile(p, StixVersion::V21)
        .unwrap()
        .evaluate(&data(), &EvalOptions::default())
}

#[test]
fn exists_and_not_exists() {
    assert!(
        eval("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND EXISTS file:name]")
            .unwrap()
            .is_some()
    );
    assert!(eval("[NOT EXISTS file:size]").unwrap().is_some());
    assert!(eval("[EXISTS file:size]").unwrap().is_none());
}

#[test]
fn ipv6_subset_through_a_reference() {
    assert!(
        eval(
            "[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']"
        )
        .unwrap()
        .is_some()
    );
    assert!(
        eval("[network-traffic:dst_ref.value ISSUBSET '2001:db8:dead:bee0::/64']")
            .unwrap()
            .is_none()
    );
    assert!(
        eval("[ipv6-addr:value ISSUPERSET '2001:db8::/32']")
            .unwrap()
            .is_none()
    );
}

#[test]
fn number_observed_gives_instances_and_the_binding_names_them() {
    let b = eval("[file:name = 'a.exe'] REPEATS 3 TIMES")
        .unwrap()
        .unwrap();
    assert_eq!(b.slots.len(), 3);
    assert_eq!(b.observations(), vec![1]);
    let mut inst: Vec<u64> = b.slots.iter().map(|s| s.instance).collect();
    inst.sort_unstable();
    assert_eq!(inst, vec![0, 1, 2]);
    assert!(
        eval("[file:name = 'a.exe'] REPEATS 4 TIMES")
            .unwrap()
            .is_none()
    );
}

#[test]
fn followedby_and_within_use_observation_times() {
    let b = eval("[ipv6-addr:value = '2001:db8:dead:beef::7'] FOLLOWEDBY [file:name = 'a.exe']")
        .unwrap()
        .unwrap();
    assert_eq!(b.observations(), vec![0, 1]);
    assert_eq!(b.slots[0].observation_expression, 0);
    assert!(
        eval("[file:name = 'a.exe'] FOLLOWEDBY [ipv6-addr:value = '2001:db8:dead:beef::7']")
            .unwrap()
            .is_none()
    );
    assert!(
        eval("([ipv6-addr:value LIKE '2001%'] AND [file:name = 'a.exe']) WITHIN 10 SECONDS")
            .unwrap()
            .is_some()
    );
    assert!(
        eval("([ipv6-addr:value LIKE '2001%'] AND [file:name = 'a.exe']) WITHIN 9.5 SECONDS")
            .unwrap()
            .is_none()
    );
}

#[test]
fn search_is_bounded() {
    // 40 observations of one SCO each: REPEATS 30 over pairs explores many combinations.
    let mut objs = Vec::new();
    for i in 0..40 {
        objs.push(od(
            &format!("observed-data--{i}"),
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            1,
            &[&format!("x-t--{i}")],
        ));
        objs.push(json!({"type": "x-t", "id": format!("x-t--{i}"), "v": i}));
    }
    let obs = Observations::from_json(&bundle(objs), StixVersion::V21).unwrap();
    let m = Matcher::compile(
        "([x-t:v < 100] AND [x-t:v >= 0]) REPEATS 21 TIMES",
        StixVersion::V21,
    )
    .unwrap();
    let r = m.evaluate(&obs, &EvalOptions { max_steps: 10_000 });
    assert_eq!(r, Err(EvalError::SearchLimit(10_000)));
}

#[test]
fn unevaluable_patterns_are_errors_not_non_matches() {
    for p in [
        "[file:name = 'a'] REPEATS 0 TIMES",
        "[file:name IN ('a', 1)]",
        "[file:name MATCHES '(a)\\\\1']",
        "[file:ctime = t'2023-02-29T00:00:00Z']",
    ] {
        assert!(
            matches!(
                Matcher::compile(p, StixVersion::V21),
                Err(EvalError::Unevaluable(_))
            ),
            "{p}"
        );
    }
    assert!(matches!(
        Matcher::compile("[file:name = ]", StixVersion::V21),
        Err(EvalError::InvalidPattern(_))
    ));
}

#[test]
fn bad_observed_data_is_reported() {
    let v = bundle(vec![
        json!({"type": "observed-data", "id": "observed-data--x", "object_refs": []}),
    ]);
    assert!(matches!(
        Observations::from_json(&v, StixVersion::V21),
        Err(EvalError::InvalidObservedData(_))
    ));
}

#[test]
fn a_batch_gives_each_pattern_the_verdict_it_gets_alone_in_order() {
    let obs = data();
    let patterns = [
        "[ipv6-addr:value ISSUBSET '2001:db8:dead:beef::/64']",
        "[file:name = 'b.exe']",
        "[file:name = ",
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'] REPEATS 3 TIMES",
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'] REPEATS 4 TIMES",
        "[network-traffic:dst_ref.value = '2001:db8:dead:beef::7'] FOLLOWEDBY [file:name = 'a.exe']",
        "[file:name = 'a.exe'] FOLLOWEDBY [network-traffic:dst_ref.value = '2001:db8:dead:beef::7']",
    ];
    let opts = EvalOptions::default();
    let alone: Vec<_> = patterns
        .iter()
        .map(|p| Matcher::compile(p, StixVersion::V21).and_then(|m| m.evaluate(&obs, &opts)))
        .collect();
    let verdict = |r: &Result<Option<pattern::eval::Binding>, EvalError>| match r {
        Ok(Some(b)) => format!("match {:?}", b.observations()),
        Ok(None) => "no match".to_owned(),
        Err(e) => format!("error {e}"),
    };
    let expected: Vec<String> = alone.iter().map(verdict).collect();
    assert_eq!(
        expected
            .iter()
            .map(|v| v.split(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["match", "no", "error", "match", "no", "match", "no"]
    );
    for threads in [1, 2, 3, 16] {
        let batch = pattern::eval::evaluate_many(&patterns, StixVersion::V21, &obs, &opts, threads);
        let got: Vec<String> = batch.iter().map(verdict).collect();
        assert_eq!(got, expected, "{threads} threads");
    }
    assert!(pattern::eval::evaluate_many::<&str>(&[], StixVersion::V21, &obs, &opts, 2).is_empty());
}
