//! Properties: printing a tree and parsing the text gives the same tree (spans aside); the
//! parser never panics, on any text or bytes.
#![allow(clippy::unwrap_used)]

use pattern::*;
use proptest::prelude::*;

fn sp() -> Span {
    Span::default()
}

fn timestamp() -> impl Strategy<Value = time::Timestamp> {
    (
        1i32..9999,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of(0u32..1_000_000),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac)| {
            let f = frac.map(|f| format!(".{f}")).unwrap_or_default();
            time::Timestamp::parse(&format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{f}Z"))
                .unwrap()
        })
}

fn literal(allow_bool: bool) -> BoxedStrategy<Literal> {
    let mut options: Vec<BoxedStrategy<Literal>> = vec![
        "[ -~é'\\\\]{0,10}".prop_map(Literal::String).boxed(),
        any::<i64>().prop_map(Literal::Int).boxed(),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Literal::Float)
            .boxed(),
        prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|bytes| Literal::Binary {
                bytes,
                form: BinaryForm::Hex,
            })
            .boxed(),
        prop::collection::vec(any::<u8>(), 1..8)
            .prop_map(|bytes| Literal::Binary {
                bytes,
                form: BinaryForm::Base64,
            })
            .boxed(),
        timestamp().prop_map(Literal::Timestamp).boxed(),
    ];
    if allow_bool {
        options.push(any::<bool>().prop_map(Literal::Bool).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn path() -> impl Strategy<Value = ObjectPath> {
    let key = prop_oneof![
        "[a-z_][a-z0-9_]{0,6}",
        Just("has-hyphen".to_owned()),
        Just("AND".to_owned()),
        Just("true".to_owned()),
        Just("it's \\ odd".to_owned()),
        Just(String::new()),
    ];
    let step = prop_oneof![
        key.clone().prop_map(PathStep::Key),
        (-3i64..5).prop_map(PathStep::Index),
        Just(PathStep::AnyIndex),
    ];
    (
        prop_oneof![
            Just("file"),
            Just("x-usb-device"),
            Just("network-traffic"),
            Just("a")
        ],
        key,
        prop::collection::vec(step, 0..4),
    )
        .prop_map(|(t, first, rest)| {
            let mut steps = vec![PathStep::Key(first)];
            steps.extend(rest);
            ObjectPath {
                object_type: t.to_owned(),
                steps,
                span: sp(),
            }
        })
}

fn test() -> impl Strategy<Value = ComparisonExpr> {
    let op_operand = prop_oneof![
        (
            prop_oneof![Just(CompareOp::Eq), Just(CompareOp::Ne)],
            literal(true)
        )
            .prop_map(|(o, l)| (o, Operand::Literal(l))),
        (
            prop_oneof![
                Just(CompareOp::Lt),
                Just(CompareOp::Le),
                Just(CompareOp::Gt),
                Just(CompareOp::Ge)
            ],
            literal(false)
        )
            .prop_map(|(o, l)| (o, Operand::Literal(l))),
        prop::collection::vec(literal(true), 0..4).prop_map(|v| (CompareOp::In, Operand::Set(v))),
        (
            prop_oneof![
                Just(CompareOp::Like),
                Just(CompareOp::Matches),
                Just(CompareOp::IsSubset),
                Just(CompareOp::IsSuperset)
            ],
            "[ -~]{0,8}"
        )
            .prop_map(|(o, s)| (o, Operand::Literal(Literal::String(s)))),
        Just((CompareOp::Exists, Operand::None)),
    ];
    (path(), any::<bool>(), op_operand).prop_map(|(path, negated, (op, operand))| {
        ComparisonExpr::Test(Comparison {
            path,
            negated,
            op,
            operand,
            span: sp(),
            op_span: sp(),
            operand_span: sp(),
        })
    })
}

fn cmp_prec(c: &ComparisonExpr) -> u8 {
    match c {
        ComparisonExpr::Or(..) => 1,
        ComparisonExpr::And(..) => 2,
        _ => 3,
    }
}

fn cgroup(c: ComparisonExpr, need: bool) -> Box<ComparisonExpr> {
    Box::new(if need {
        ComparisonExpr::Group(Box::new(c), sp())
    } else {
        c
    })
}

/// Comparison trees shaped as the parser builds them: parentheses (groups) wherever
/// precedence or associativity requires them.
fn comparison() -> impl Strategy<Value = ComparisonExpr> {
    test().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| {
                let (pl, pr) = (cmp_prec(&l), cmp_prec(&r));
                ComparisonExpr::And(cgroup(l, pl < 2), cgroup(r, pr <= 2), sp())
            }),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| {
                let (pl, pr) = (cmp_prec(&l), cmp_prec(&r));
                ComparisonExpr::Or(cgroup(l, pl < 1), cgroup(r, pr <= 1), sp())
            }),
            inner.prop_map(|c| ComparisonExpr::Group(Box::new(c), sp())),
        ]
    })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    prop_oneof![
        (0i64..100_000).prop_map(|i| Qualifier::Within {
            seconds: Seconds::Int(i),
            span: sp()
        }),
        (0.0f64..1e6).prop_map(|f| Qualifier::Within {
            seconds: Seconds::Float(f),
            span: sp()
        }),
        (0i64..1000).prop_map(|count| Qualifier::Repeats { count, span: sp() }),
        (timestamp(), timestamp()).prop_map(|(a, b)| Qualifier::StartStop {
            start: TimeBound::Timestamp(a),
            stop: TimeBound::Timestamp(b),
            span: sp()
        }),
    ]
}

fn obs_prec(e: &ObservationExpr) -> u8 {
    match e {
        ObservationExpr::Binary {
            op: ObservationOp::FollowedBy,
            ..
        } => 1,
        ObservationExpr::Binary {
            op: ObservationOp::Or,
            ..
        } => 2,
        ObservationExpr::Binary {
            op: ObservationOp::And,
            ..
        } => 3,
        _ => 4,
    }
}

fn ogroup(e: ObservationExpr, need: bool) -> Box<ObservationExpr> {
    Box::new(if need {
        ObservationExpr::Group {
            inner: Box::new(e),
            span: sp(),
        }
    } else {
        e
    })
}

fn observation() -> impl Strategy<Value = ObservationExpr> {
    comparison()
        .prop_map(|comparison| ObservationExpr::Simple {
            comparison,
            span: sp(),
        })
        .prop_recursive(4, 12, 2, |inner| {
            let op = prop_oneof![
                Just(ObservationOp::And),
                Just(ObservationOp::Or),
                Just(ObservationOp::FollowedBy)
            ];
            prop_oneof![
                (op, inner.clone(), inner.clone()).prop_map(|(op, l, r)| {
                    let p = match op {
                        ObservationOp::FollowedBy => 1,
                        ObservationOp::Or => 2,
                        ObservationOp::And => 3,
                    };
                    let (pl, pr) = (obs_prec(&l), obs_prec(&r));
                    ObservationExpr::Binary {
                        op,
                        left: ogroup(l, pl < p),
                        right: ogroup(r, pr <= p),
                        span: sp(),
                    }
                }),
                inner.clone().prop_map(|e| ObservationExpr::Group {
                    inner: Box::new(e),
                    span: sp()
                }),
                (inner, qualifier()).prop_map(|(e, qualifier)| {
                    let p = obs_prec(&e);
                    ObservationExpr::Qualified {
                        inner: ogroup(e, p < 4),
                        qualifier,
                        span: sp(),
                    }
                }),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_tree(root in observation()) {
        let p = Pattern { root };
        let text = p.to_string();
        let parsed = parse(&text, StixVersion::V21);
        let q = parsed.pattern.as_ref();
        prop_assert!(q.is_some(), "{} did not parse: {:?}", text, parsed.diagnostics);
        prop_assert!(p.same_as(q.unwrap()), "{}\nreparsed as\n{}", text, q.unwrap());
    }

    #[test]
    fn parser_never_panics_on_text(s in "\\PC{0,80}") {
        for v in [StixVersion::V21, StixVersion::V20] {
            let parsed = parse(&s, v);
            for d in &parsed.diagnostics {
                prop_assert!(d.span.end as usize <= s.len());
            }
        }
    }

    #[test]
    fn parser_never_panics_on_pattern_like_text(s in "[\\[\\]()':.*=!<>a-zA-Z0-9_ \\-+,/\\\\htb]{0,60}") {
        let parsed = parse(&s, StixVersion::V21);
        if let Some(p) = &parsed.pattern {
            let again = parse(&p.to_string(), StixVersion::V21);
            prop_assert!(again.pattern.as_ref().is_some_and(|q| p.same_as(q)));
        }
    }

    #[test]
    fn parser_never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..120)) {
        let s = String::from_utf8_lossy(&b);
        let _ = parse(&s, StixVersion::V21);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(100_000), ")".repeat(100_000));
    let parsed = parse(&deep, StixVersion::V21);
    assert!(parsed.pattern.is_none());
    assert!(
        parsed
            .diagnostics
            .iter()
            .any(|d| d.message.contains("nests deeper"))
    );
    let deep = format!("[{}a:b = 1{}]", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse(&deep, StixVersion::V21).pattern.is_none());
}

#[test]
fn long_operator_chains_up_to_the_limit_work_end_to_end() {
    use pattern::eval::{EvalOptions, Matcher, Observations};
    let ors: Vec<String> = (0..MAX_OPERATORS)
        .map(|i| format!("file:name = 'f{i}'"))
        .collect();
    let src = format!("[{}]", ors.join(" OR "));
    let parsed = parse(&src, StixVersion::V21);
    assert!(parsed.pattern.is_some(), "{:?}", parsed.diagnostics.first());
    let p = parsed.pattern.unwrap();
    assert!(
        parse(&p.to_string(), StixVersion::V21)
            .pattern
            .unwrap()
            .same_as(&p)
    );
    let obs = Observations::from_json(
        &serde_json::json!([{"type": "observed-data", "id": "observed-data--1",
            "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z",
            "number_observed": 1, "object_refs": ["file--1"]},
            {"type": "file", "id": "file--1", "name": format!("f{}", MAX_OPERATORS - 1)}]),
        StixVersion::V21,
    )
    .unwrap();
    let m = Matcher::new(&p, StixVersion::V21).unwrap();
    assert!(m.evaluate(&obs, &EvalOptions::default()).unwrap().is_some());
    let obs_chain: Vec<String> = (0..=MAX_OPERATORS)
        .map(|i| format!("[file:name = 'f{i}']"))
        .collect();
    let src = obs_chain.join(" FOLLOWEDBY ");
    let p = parse(&src, StixVersion::V21).pattern.unwrap();
    let m = Matcher::new(&p, StixVersion::V21).unwrap();
    assert!(m.evaluate(&obs, &EvalOptions::default()).unwrap().is_none());
    let too_many = format!("{src} AND [a:b = 1]");
    assert!(parse(&too_many, StixVersion::V21).pattern.is_none());
}
