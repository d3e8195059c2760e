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

/// Found by the differential test (differential.rs) against stix2-matcher.
fn two_files() -> Observations {
    let v = bundle(vec![
        od(
            "observed-data--0",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            1,
            &["file--0"],
        ),
        od(
            "observed-data--1",
            "2024-01-01T00:00:05Z",
            "2024-01-01T00:00:05Z",
            1,
            &["file--1", "x-t--1"],
        ),
        json!({"type": "file", "id": "file--0", "name": "b"}),
        json!({"type": "file", "id": "file--1", "name": "a"}),
        json!({"type": "x-t", "id": "x-t--1", "name": "a", "ctime": "not a time"}),
    ]);
    Observations::from_json(&v, StixVersion::V21).unwrap()
}

fn first_binding(p: &str, obs: &Observations) -> Result<Option<Vec<usize>>, EvalError> {
    Matcher::compile(p, StixVersion::V21)
        .unwrap()
        .evaluate(obs, &EvalOptions::default())
        .map(|b| b.map(|b| b.observations()))
}

#[test]
fn or_inside_brackets_lists_the_left_sides_observations_first() {
    // The reference lists the observations a `[... OR ...]` holds in as its left side's, then
    // those only the right side adds: the first binding follows that order.
    let obs = two_files();
    assert_eq!(
        first_binding("[file:name = 'a' OR file:name = 'b']", &obs),
        Ok(Some(vec![1]))
    );
    assert_eq!(
        first_binding("[file:name = 'b' OR file:name = 'a']", &obs),
        Ok(Some(vec![0]))
    );
    assert_eq!(
        first_binding(
            "[file:name = 'b' AND file:name != 'a' OR file:name = 'a']",
            &obs
        ),
        Ok(Some(vec![0]))
    );
}

#[test]
fn data_errors_surface_whatever_skips_the_object() {
    let obs = two_files();
    // START/STOP excluding every observation does not hide the bad timestamp...
    assert!(matches!(
        first_binding(
            "[x-t:ctime = t'2024-01-01T00:00:00Z'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
            &obs
        ),
        Err(EvalError::Data(_))
    ));
    // ... nor does an exact-value index that finds no candidate.
    assert!(matches!(
        first_binding(
            "[x-t:name = 'zzz' AND x-t:ctime < t'2024-01-01T00:00:00Z']",
            &obs
        ),
        Err(EvalError::Data(_))
    ));
    assert_eq!(first_binding("[x-t:name = 'zzz']", &obs), Ok(None));
}

#[test]
fn a_comment_before_the_first_bracket_is_refused_by_check_but_evaluated() {
    for p in [
        "/* c */ [file:name = 'a']",
        "// c\n[file:name = 'a']",
        "( /* c */ [file:name = 'a'])",
    ] {
        let parsed = pattern::parse(p, StixVersion::V21);
        assert!(parsed.pattern.is_some(), "{p}");
        assert!(!parsed.is_valid(), "{p}");
        assert_eq!(first_binding(p, &two_files()), Ok(Some(vec![1])), "{p}");
    }
    for p in ["[file:name = 'a'] /* c */", "\u{3000}( [file:name = 'a'])"] {
        assert!(pattern::parse(p, StixVersion::V21).is_valid(), "{p}");
    }
}

#[test]
fn matches_reads_dollar_and_braces_as_pcre_does() {
    let v = bundle(vec![
        od(
            "observed-data--0",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            1,
            &["file--0"],
        ),
        json!({"type": "file", "id": "file--0", "name": "a.exe\n", "x": "a{b"}),
    ]);
    let obs = Observations::from_json(&v, StixVersion::V21).unwrap();
    assert_eq!(
        first_binding("[file:name MATCHES '\\\\.exe$']", &obs),
        Ok(Some(vec![0]))
    );
    assert_eq!(
        first_binding("[file:x MATCHES 'a{b']", &obs),
        Ok(Some(vec![0]))
    );
    assert!(pattern::parse("[file:x MATCHES 'a{b']", StixVersion::V21).is_valid());
    // LIKE stays a whole-string match: no final newline allowance.
    assert_eq!(first_binding("[file:name LIKE 'a.exe']", &obs), Ok(None));
}

#[test]
fn ordering_across_types_is_false_even_under_not() {
    let v = bundle(vec![
        od(
            "observed-data--0",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            1,
            &["x-t--0"],
        ),
        json!({"type": "x-t", "id": "x-t--0", "s": "abc", "n": null, "b": true, "h_hex": "ff"}),
    ]);
    let obs = Observations::from_json(&v, StixVersion::V21).unwrap();
    for p in [
        "[x-t:s NOT <= 1]",
        "[x-t:n NOT > 0]",
        "[x-t:b NOT < 1]",
        "[x-t:h_hex NOT > 5]",
    ] {
        assert_eq!(first_binding(p, &obs), Ok(None), "{p}");
    }
    // Equality and membership still negate a type mismatch; so does a string that cannot be
    // compared with binary.
    for p in [
        "[x-t:s NOT = 1]",
        "[x-t:n NOT IN (1)]",
        "[x-t:h_hex NOT > '\u{100}']",
        "[x-t:s NOT > 'b']",
    ] {
        assert_eq!(first_binding(p, &obs), Ok(Some(vec![0])), "{p}");
    }
}
