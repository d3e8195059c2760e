//! Checks beyond the grammar: the reference validator's (duplicate qualifiers, hash formats)
//! and ours (non-positive qualifiers, regexes a linear-time engine cannot run, mixed sets,
//! impossible timestamps, IP operands, unknown properties of standard SCO types).

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, Severity, Span, shorten};
use crate::net::Block;
use crate::regex::{self, RegexProblem};
use crate::sco;
use crate::{MAX_DIAGNOSTICS, StixVersion};

/// The problems found but not recorded because [`MAX_DIAGNOSTICS`] were recorded already.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LeftOut {
    /// How many.
    pub(crate) problems: usize,
    /// How many of them are errors.
    pub(crate) errors: usize,
}

/// Appends the semantic problems of `p` to `out` (at most [`MAX_DIAGNOSTICS`] in all) and says
/// how many more were found.
pub(crate) fn validate(p: &Pattern, version: StixVersion, out: &mut Vec<Diagnostic>) -> LeftOut {
    let mut v = Validator {
        version,
        out,
        left_out: LeftOut::default(),
    };
    v.obs(&p.root);
    v.left_out
}

struct Validator<'o> {
    version: StixVersion,
    out: &'o mut Vec<Diagnostic>,
    left_out: LeftOut,
}

impl Validator<'_> {
    /// Whether [`MAX_DIAGNOSTICS`] are recorded (further problems are only counted).
    fn full(&self) -> bool {
        self.out.len() >= MAX_DIAGNOSTICS
    }

    /// Counts a problem that is not recorded.
    fn leave_out(&mut self, severity: Severity) {
        self.left_out.problems += 1;
        if severity == Severity::Error {
            self.left_out.errors += 1;
        }
    }

    fn push(&mut self, d: Diagnostic) {
        if self.full() {
            self.leave_out(d.severity);
        } else {
            self.out.push(d);
        }
    }

    fn obs(&mut self, e: &ObservationExpr) {
        match e {
            ObservationExpr::Simple { comparison, .. } => self.cmp(comparison),
            ObservationExpr::Binary { left, right, .. } => {
                self.obs(left);
                self.obs(right);
            }
            ObservationExpr::Group { inner, .. } => self.obs(inner),
            ObservationExpr::Qualified {
                inner, qualifier, ..
            } => {
                self.qualifier(qualifier);
                self.obs(inner);
            }
        }
        if let ObservationExpr::Qualified { .. } = e {
            self.duplicates_at_top(e);
        }
    }

    /// Runs the duplicate-qualifier check for a chain whose top is `e`, only when `e` is not
    /// itself the inner expression of a longer chain (the parent handles it then).
    fn duplicates_at_top(&mut self, e: &ObservationExpr) {
        // Collect the chain: outermost qualifier first.
        let mut quals = Vec::new();
        let mut cur = e;
        while let ObservationExpr::Qualified {
            inner, qualifier, ..
        } = cur
        {
            quals.push(qualifier);
            cur = inner;
        }
        // Each node of a chain checks its own qualifier against those applied before it, so
        // every repeat is reported once.
        if quals.len() < 2 {
            return;
        }
        quals.reverse(); // innermost (applied first) first
        let base_is_bracket = matches!(cur, ObservationExpr::Simple { .. });
        let top = quals[quals.len() - 1];
        let earlier = &quals[..quals.len() - 1];
        if let Some(first) = earlier.iter().find(|q| q.kind_name() == top.kind_name()) {
            let name = top.kind_name();
            if base_is_bracket && self.version == StixVersion::V21 {
                self.push(Diagnostic::error(
                    Code::DuplicateQualifier,
                    top.span(),
                    format!(
                        "duplicate qualifier: {name} is applied twice to the same observation \
                         expression (first `{first}`, then `{top}`); keep one, or put \
                         parentheses around the expression and its first qualifier"
                    ),
                ));
            } else {
                self.push(Diagnostic::warning(
                    Code::Suspicious,
                    top.span(),
                    format!(
                        "{name} is applied twice in a row (`{first}` then `{top}`); this is \
                         accepted, but probably not what was meant"
                    ),
                ));
            }
        }
    }

    fn qualifier(&mut self, q: &Qualifier) {
        match q {
            Qualifier::Within { seconds, span } => {
                if !seconds.is_positive() {
                    self.push(Diagnostic::error(
                        Code::NonPositiveQualifier,
                        *span,
                        "the WITHIN window must be longer than 0 seconds".to_owned(),
                    ));
                }
            }
            Qualifier::Repeats { count, span } => {
                if *count < 1 {
                    self.push(Diagnostic::error(
                        Code::NonPositiveQualifier,
                        *span,
                        "REPEATS needs a count of at least 1".to_owned(),
                    ));
                }
            }
            Qualifier::StartStop { start, stop, span } => {
                let s = self.bound(start, *span);
                let e = self.bound(stop, *span);
                if let (Some(s), Some(e)) = (s, e)
                    && s >= e
                {
                    self.push(Diagnostic::warning(
                        Code::Suspicious,
                        *span,
                        "START is not before STOP, so this observation expression can never match",
                    ));
                }
            }
        }
    }

    fn bound(&mut self, b: &TimeBound, span: Span) -> Option<i128> {
        match b {
            TimeBound::Timestamp(t) => {
                if t.nanos().is_none() {
                    self.impossible(t.as_str(), span);
                }
                t.nanos()
            }
            TimeBound::String(s) => match crate::time::Timestamp::parse(s) {
                Ok(t) => t.nanos(),
                Err(_) => {
                    self.push(Diagnostic::error(
                        Code::ImpossibleTimestamp,
                        span,
                        format!(
                            "'{}' is not a timestamp: START and STOP take \
                             'YYYY-MM-DDTHH:MM:SS[.fraction]Z'",
                            shorten(s)
                        ),
                    ));
                    None
                }
            },
        }
    }

    fn impossible(&mut self, text: &str, span: Span) {
        if self.full() {
            self.leave_out(Severity::Warning);
            return;
        }
        let text = shorten(text);
        self.push(Diagnostic::warning(
            Code::ImpossibleTimestamp,
            span,
            format!(
                "{text} has the form of a timestamp but names no real instant (no such day, or \
                 a leap second); evaluating this pattern fails"
            ),
        ));
    }

    fn cmp(&mut self, c: &ComparisonExpr) {
        match c {
            ComparisonExpr::And(l, r, _) | ComparisonExpr::Or(l, r, _) => {
                self.cmp(l);
                self.cmp(r);
            }
            ComparisonExpr::Group(inner, _) => self.cmp(inner),
            ComparisonExpr::Test(t) => self.test(t),
        }
    }

    fn test(&mut self, t: &Comparison) {
        self.path(&t.path);
        let literals: Vec<&Literal> = match &t.operand {
            Operand::Literal(l) => vec![l],
            Operand::Set(items) => items.iter().collect(),
            Operand::None => vec![],
        };
        for l in &literals {
            if let Literal::Timestamp(ts) = l
                && ts.nanos().is_none()
            {
                self.impossible(ts.as_str(), t.operand_span);
            }
        }
        match (&t.op, &t.operand) {
            (CompareOp::Matches, Operand::Literal(Literal::String(re))) => {
                match regex::check_matches(re) {
                    Ok(_) => {}
                    Err(RegexProblem::Unsupported(m)) => {
                        self.push(Diagnostic::error(Code::UnsupportedRegex, t.operand_span, m))
                    }
                    Err(RegexProblem::Invalid(m)) => {
                        self.push(Diagnostic::error(Code::InvalidRegex, t.operand_span, m))
                    }
                }
            }
            (CompareOp::IsSubset | CompareOp::IsSuperset, Operand::Literal(Literal::String(s)))
                if Block::parse(s).is_none() =>
            {
                self.push(Diagnostic::error(
                    Code::InvalidCidr,
                    t.operand_span,
                    format!(
                        "'{}' is not an IP address or CIDR block (such as '10.0.0.0/8' or \
                             '2001:db8::/32')",
                        shorten(s)
                    ),
                ));
            }
            (CompareOp::In, Operand::Set(items)) => self.set(items, t.operand_span),
            _ => {}
        }
        if t.op != CompareOp::Like && t.op != CompareOp::Matches {
            self.hash(t, &literals);
        }
    }

    fn set(&mut self, items: &[Literal], span: Span) {
        let numeric = |l: &Literal| matches!(l, Literal::Int(_) | Literal::Float(_));
        let Some(first) = items.first() else { return };
        let homogeneous = items
            .iter()
            .all(|l| std::mem::discriminant(l) == std::mem::discriminant(first))
            || items.iter().all(numeric);
        if !homogeneous {
            // Each type once, in order of appearance (the list may be long).
            let mut kinds: Vec<&str> = Vec::new();
            for k in items.iter().map(Literal::type_name) {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
            self.push(Diagnostic::error(
                Code::MixedSet,
                span,
                format!(
                    "an IN list must hold values of one type (integers and floats may mix); \
                     this one mixes {}",
                    kinds.join(", ")
                ),
            ));
        }
    }

    fn hash(&mut self, t: &Comparison, literals: &[&Literal]) {
        let in_hashes = t
            .path
            .steps
            .iter()
            .any(|s| matches!(s, PathStep::Key(k) if k == "hashes"));
        let Some(PathStep::Key(algo)) = t.path.steps.last() else {
            return;
        };
        if !in_hashes {
            return;
        }
        let norm: String = algo
            .chars()
            .filter(|c| *c != '-' && *c != '\'')
            .collect::<String>()
            .to_ascii_uppercase();
        let Some((name, ok)) = hash_rule(&norm) else {
            return;
        };
        for l in literals {
            match l {
                Literal::String(v) => {
                    if !ok(v) {
                        if self.full() {
                            self.leave_out(Severity::Error);
                            continue;
                        }
                        self.push(Diagnostic::error(
                            Code::InvalidHash,
                            t.operand_span,
                            format!(
                                "'{}' is not a valid {name} hash: {}",
                                shorten(v),
                                describe(&norm)
                            ),
                        ));
                    }
                }
                _ if self.full() => self.leave_out(Severity::Error),
                other => {
                    self.push(Diagnostic::error(
                        Code::InvalidHash,
                        t.operand_span,
                        format!(
                            "a {name} hash is compared as a quoted string of hex digits, not a \
                             {}",
                            other.type_name()
                        ),
                    ));
                }
            }
        }
    }

    fn path(&mut self, p: &ObjectPath) {
        if self.version != StixVersion::V21 {
            return;
        }
        if sco::is_non_sco_type(&p.object_type) {
            self.push(Diagnostic::warning(
                Code::UnknownProperty,
                p.span,
                format!(
                    "`{}` is not a cyber-observable (SCO) type: patterns are matched against the \
                     SCOs of observed-data, so this comparison never matches",
                    shorten(&p.object_type)
                ),
            ));
            return;
        }
        let Some(props) = sco::properties(&p.object_type) else {
            return;
        };
        if let Some(PathStep::Key(first)) = p.steps.first()
            && !props.contains(&first.as_str())
            && !sco::COMMON.contains(&first.as_str())
        {
            {
                let suggestion = closest(first, props)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.push(Diagnostic::warning(
                    Code::UnknownProperty,
                    p.span,
                    format!(
                        "STIX 2.1 defines no property `{}` on `{}`{suggestion}",
                        shorten(first),
                        p.object_type
                    ),
                ));
            }
        }
    }
}

type HashCheck = fn(&str) -> bool;

fn hex_len(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The reference validator's table (algorithm names upper-cased, `-` removed).
fn hash_rule(norm: &str) -> Option<(&'static str, HashCheck)> {
    Some(match norm {
        "MD5" => ("MD5", |s| hex_len(s, &[32])),
        "MD6" => ("MD6", |s| hex_len(s, &[32, 40, 56, 64, 96, 128])),
        "RIPEMD160" => ("RIPEMD-160", |s| hex_len(s, &[40])),
        "SHA1" => ("SHA-1", |s| hex_len(s, &[40])),
        "SHA224" => ("SHA-224", |s| hex_len(s, &[56])),
        "SHA256" => ("SHA-256", |s| hex_len(s, &[64])),
        "SHA384" => ("SHA-384", |s| hex_len(s, &[96])),
        "SHA512" => ("SHA-512", |s| hex_len(s, &[128])),
        "SHA3224" => ("SHA3-224", |s| hex_len(s, &[56])),
        "SHA3256" => ("SHA3-256", |s| hex_len(s, &[64])),
        "SHA3384" => ("SHA3-384", |s| hex_len(s, &[96])),
        "SHA3512" => ("SHA3-512", |s| hex_len(s, &[128])),
        "WHIRLPOOL" => ("WHIRLPOOL", |s| hex_len(s, &[128])),
        "SSDEEP" => ("SSDEEP", |s| {
            (1..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }),
        _ => return None,
    })
}

fn describe(norm: &str) -> &'static str {
    match norm {
        "MD5" => "an MD5 value is 32 hex digits",
        "MD6" => "an MD6 value is 32, 40, 56, 64, 96 or 128 hex digits",
        "RIPEMD160" | "SHA1" => "the value is 40 hex digits",
        "SHA224" | "SHA3224" => "the value is 56 hex digits",
        "SHA256" | "SHA3256" => "the value is 64 hex digits",
        "SHA384" | "SHA3384" => "the value is 96 hex digits",
        "SHA512" | "SHA3512" | "WHIRLPOOL" => "the value is 128 hex digits",
        _ => "an SSDEEP value is 1 to 128 characters from A-Z a-z 0-9 / + : .",
    }
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // The distance is at least the difference in length, and a candidate is kept only within
    // 2 or a quarter of its length: far longer words are not compared (the cost of the
    // distance is the product of the lengths).
    let len = word.chars().count();
    candidates
        .iter()
        .filter(|c| len.abs_diff(c.len()) <= 2.max(c.len() / 4))
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
