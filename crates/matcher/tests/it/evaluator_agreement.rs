//! The compiled matcher agrees with the pattern evaluator: generated indicators (one and several
//! observation expressions, qualifiers) and generated records; each record is also written as
//! STIX observed data and the plain evaluator is asked the same question.
#![allow(clippy::unwrap_used)]

use matcher::{CompileOptions, Indicator, Scanner, compile, record_to_observed_data};
use pattern::StixVersion;
use pattern::eval::{EvalOptions, Matcher as Evaluator, Observations};
use proptest::prelude::*;
use telemetry::{Field, Record};

const IPS: &[&str] = &[
    "198.51.100.1",
    "198.51.100.2",
    "203.0.113.9",
    "10.1.2.3",
    "2001:db8::1",
    "2001:db8::2",
];
const CIDRS: &[&str] = &[
    "198.51.100.0/24",
    "2001:db8::/64",
    "10.0.0.0/8",
    "203.0.113.9/32",
    "0.0.0.0/0",
];
const DOMAINS: &[&str] = &[
    "evil.example",
    "c2.evil.example",
    "good.example",
    "x.c2.evil.example",
];
const URLS: &[&str] = &["http://evil.example/a", "http://good.example/b?x=1"];
const HASHES: &[&str] = &[
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
];
const NAMES: &[&str] = &["invoice.pdf.exe", "report.pdf"];
const PORTS: &[&str] = &["53", "80", "443", "4444"];
const PROTOS: &[&str] = &["tcp", "udp"];

fn pick(v: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(v)
}

fn test_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(IPS).prop_map(|ip| if ip.contains(':') {
            format!("ipv6-addr:value = '{ip}'")
        } else {
            format!("ipv4-addr:value = '{ip}'")
        }),
        pick(IPS).prop_map(|ip| format!("ipv4-addr:value = '{ip}'")),
        pick(CIDRS).prop_map(|c| format!("ipv4-addr:value ISSUBSET '{c}'")),
        pick(CIDRS).prop_map(|c| format!("ipv6-addr:value ISSUBSET '{c}'")),
        pick(IPS).prop_map(|ip| format!("network-traffic:dst_ref.value = '{ip}'")),
        pick(IPS).prop_map(|ip| format!("network-traffic:src_ref.value ISSUPERSET '{ip}'")),
        pick(PORTS).prop_map(|p| format!("network-traffic:dst_port = {p}")),
        pick(PORTS).prop_map(|p| format!("network-traffic:dst_port > {p}")),
        pick(PORTS).prop_map(|p| format!("network-traffic:dst_port IN ({p}, 22)")),
        pick(PROTOS).prop_map(|p| format!("network-traffic:protocols[*] = '{p}'")),
        pick(DOMAINS).prop_map(|d| format!("domain-name:value = '{d}'")),
        pick(DOMAINS).prop_map(|d| format!("domain-name:value != '{d}'")),
        pick(DOMAINS).prop_map(|d| format!("domain-name:value NOT = '{d}'")),
        Just("domain-name:value LIKE '%evil%'".to_owned()),
        Just("domain-name:value LIKE '%.example'".to_owned()),
        // Label-aligned suffixes: the reversed-label index, not the substring automaton.
        Just("domain-name:value LIKE '%.evil.example'".to_owned()),
        Just("domain-name:value LIKE '%.c2.evil.example'".to_owned()),
        Just("domain-name:value NOT LIKE 'c2%'".to_owned()),
        Just("domain-name:value MATCHES '^c2\\\\.'".to_owned()),
        pick(URLS).prop_map(|u| format!("url:value = '{u}'")),
        Just("url:value LIKE 'http://evil%'".to_owned()),
        pick(HASHES).prop_map(|h| format!("file:hashes.'SHA-256' = '{h}'")),
        pick(NAMES).prop_map(|n| format!("file:name = '{n}'")),
        Just("file:name MATCHES '\\\\.exe$'".to_owned()),
        Just("file:name IN ('report.pdf', 'x')".to_owned()),
        Just("file:name < 'm'".to_owned()),
        Just("process:name = 'x'".to_owned()),
        Just("EXISTS file:name".to_owned()),
    ]
}

fn cmp_expr() -> impl Strategy<Value = String> {
    (
        test_expr(),
        proptest::option::of((any::<bool>(), test_expr())),
    )
        .prop_map(|(a, rest)| match rest {
            None => a,
            Some((true, b)) => format!("{a} AND {b}"),
            Some((false, b)) => format!("{a} OR {b}"),
        })
}

fn obs_expr() -> impl Strategy<Value = String> {
    cmp_expr().prop_map(|c| format!("[{c}]"))
}

fn pattern_text() -> impl Strategy<Value = String> {
    let qualifier = prop_oneof![
        Just(String::new()),
        (1..20i64).prop_map(|n| format!(" WITHIN {n} SECONDS")),
        (2..4i64).prop_map(|n| format!(" REPEATS {n} TIMES")),
        (0..10i64, 1..10i64).prop_map(|(a, d)| format!(
            " START t'1970-01-01T00:00:{a:02}Z' STOP t'1970-01-01T00:00:{:02}Z'",
            a + d
        )),
    ];
    prop_oneof![
        3 => obs_expr(),
        2 => (obs_expr(), prop_oneof![Just("AND"), Just("OR"), Just("FOLLOWEDBY")], obs_expr(), qualifier)
            .prop_map(|(a, op, b, q)| if q.is_empty() { format!("{a} {op} {b}") } else { format!("({a} {op} {b}){q}") }),
        1 => (obs_expr(), (2..4i64)).prop_map(|(a, n)| format!("{a} REPEATS {n} TIMES")),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        proptest::option::of(pick(IPS)),
        proptest::option::of(pick(IPS)),
        proptest::option::of(pick(PORTS)),
        proptest::option::of(pick(PROTOS)),
        proptest::option::of(pick(DOMAINS)),
        proptest::option::of(pick(URLS)),
        proptest::option::of(pick(HASHES)),
        proptest::option::of(pick(NAMES)),
        0..20i64,
    )
        .prop_map(|(s, d, p, t, q, u, h, n, secs)| {
            let mut r = Record::new();
            for (field, v) in [
                (Field::SourceIp, s),
                (Field::DestinationIp, d),
                (Field::DestinationPort, p),
                (Field::NetworkTransport, t),
                (Field::DnsQuestion, q),
                (Field::UrlFull, u),
                (Field::FileSha256, h),
                (Field::FileName, n),
            ] {
                if let Some(v) = v {
                    r.push(field, v).unwrap();
                }
            }
            r.set_timestamp(Some(secs * 1_000_000_000));
            r
        })
}

fn indicator(i: usize, pattern: &str) -> Indicator {
    Indicator {
        id: format!("indicator--{i}"),
        name: None,
        pattern: pattern.to_owned(),
        pattern_type: "stix".into(),
        valid_from: None,
        valid_until: None,
        revoked: false,
        added: None,
        marking_refs: Vec::new(),
    }
}

fn evaluate(ev: &Evaluator, recs: &[&Record], first: u64) -> bool {
    let objects: Vec<serde_json::Value> = recs
        .iter()
        .enumerate()
        .flat_map(|(k, r)| record_to_observed_data(r, first + k as u64))
        .collect();
    let obs =
        Observations::from_json(&serde_json::Value::Array(objects), StixVersion::V21).unwrap();
    ev.evaluate(&obs, &EvalOptions::default())
        .unwrap()
        .is_some()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn compiled_matcher_agrees_with_the_evaluator(
        patterns in proptest::collection::vec(pattern_text(), 1..8),
        recs in proptest::collection::vec(record(), 1..10),
    ) {
        let inds: Vec<Indicator> = patterns.iter().enumerate().map(|(i, p)| indicator(i, p)).collect();
        let (c, report) = compile(&inds, &CompileOptions::default());
        prop_assert_eq!(report.compiled, inds.len(), "{:?}", report.problems);
        let mut sc = Scanner::new(&c);
        let mut hits = Vec::new();
        let mut per_record: Vec<Vec<u32>> = Vec::new();
        for r in &recs {
            hits.clear();
            c.scan(r, &mut sc, &mut hits);
            per_record.push(hits.iter().map(|h| h.indicator).collect());
        }
        for (i, ind) in inds.iter().enumerate() {
            let parsed = pattern::parse(&ind.pattern, StixVersion::V21).pattern.unwrap();
            let ev = Evaluator::new(&parsed, StixVersion::V21).unwrap();
            let single = parsed.inspect().observation_expressions.len() == 1 && parsed.inspect().qualifiers.is_empty();
            if single {
                for (k, r) in recs.iter().enumerate() {
                    let want = evaluate(&ev, &[r], k as u64);
                    let got = per_record[k].contains(&(i as u32));
                    prop_assert_eq!(got, want, "pattern {} on record {:?}", ind.pattern, r.fields().collect::<Vec<_>>());
                }
            } else {
                let all: Vec<&Record> = recs.iter().collect();
                let want = evaluate(&ev, &all, 0);
                let got = per_record.iter().any(|h| h.contains(&(i as u32)));
                prop_assert_eq!(got, want, "pattern {} on the stream {:?}", ind.pattern,
                    recs.iter().map(|r| (r.timestamp(), r.fields().collect::<Vec<_>>())).collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn the_comparison_sees_matches_as_well_as_misses() {
    let mut r = Record::new();
    r.push(Field::DnsQuestion, "evil.example").unwrap();
    r.push(Field::DestinationIp, "203.0.113.9").unwrap();
    r.set_timestamp(Some(5_000_000_000));
    let mut later = r.clone();
    later.set_timestamp(Some(9_000_000_000));
    for (p, want) in [
        ("[domain-name:value = 'evil.example']", true),
        ("[domain-name:value = 'good.example']", false),
        (
            "[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']",
            true,
        ),
        ("[domain-name:value = 'evil.example'] REPEATS 2 TIMES", true),
        (
            "([domain-name:value = 'evil.example'] AND [ipv4-addr:value = '203.0.113.9']) WITHIN 3 SECONDS",
            false,
        ),
        (
            "([domain-name:value = 'evil.example'] AND [ipv4-addr:value = '203.0.113.9']) WITHIN 4 SECONDS",
            true,
        ),
    ] {
        let parsed = pattern::parse(p, StixVersion::V21).pattern.unwrap();
        let ev = Evaluator::new(&parsed, StixVersion::V21).unwrap();
        assert_eq!(evaluate(&ev, &[&r, &later], 0), want, "evaluator on {p}");
        let (c, _) = compile(&[indicator(0, p)], &CompileOptions::default());
        let mut sc = Scanner::new(&c);
        let mut hits = Vec::new();
        c.scan(&r, &mut sc, &mut hits);
        c.scan(&later, &mut sc, &mut hits);
        assert_eq!(!hits.is_empty(), want, "matcher on {p}");
    }
}
