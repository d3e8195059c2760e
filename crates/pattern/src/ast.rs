//! The pattern syntax tree. Every node carries the byte span it came from; literal values are
//! typed and already decoded (strings unescaped, hex and base64 decoded, timestamps parsed), so
//! consumers (the evaluator, the compiled matcher, exports) never re-lex the source.
//!
//! Equality of trees ignores nothing: compare with [`Pattern::same_as`] to ignore spans.

use crate::diagnostic::Span;
use crate::time::Timestamp;

/// A parsed pattern: one observation expression tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The root observation expression.
    pub root: ObservationExpr,
}

/// Operators joining observation expressions, from loosest to tightest binding:
/// `FOLLOWEDBY`, `OR`, `AND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObservationOp {
    /// Both sides, bound to distinct observations.
    And,
    /// Either side.
    Or,
    /// Both sides, distinct observations, the right side not earlier than the left.
    FollowedBy,
}

impl ObservationOp {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            ObservationOp::And => "AND",
            ObservationOp::Or => "OR",
            ObservationOp::FollowedBy => "FOLLOWEDBY",
        }
    }
}

/// An observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ]`: one observation with one SCO satisfying the comparison.
    Simple {
        /// The comparison expression inside the brackets.
        comparison: ComparisonExpr,
        /// From `[` to `]`.
        span: Span,
    },
    /// `left OP right`.
    Binary {
        /// The operator.
        op: ObservationOp,
        /// Left operand.
        left: Box<ObservationExpr>,
        /// Right operand.
        right: Box<ObservationExpr>,
        /// The whole expression.
        span: Span,
    },
    /// `( inner )`: kept in the tree because it limits the duplicate-qualifier check.
    Group {
        /// The parenthesised expression.
        inner: Box<ObservationExpr>,
        /// From `(` to `)`.
        span: Span,
    },
    /// `inner QUALIFIER`.
    Qualified {
        /// The qualified expression.
        inner: Box<ObservationExpr>,
        /// The qualifier.
        qualifier: Qualifier,
        /// The whole expression.
        span: Span,
    },
}

impl ObservationExpr {
    /// The source span.
    pub fn span(&self) -> Span {
        match self {
            ObservationExpr::Simple { span, .. }
            | ObservationExpr::Binary { span, .. }
            | ObservationExpr::Group { span, .. }
            | ObservationExpr::Qualified { span, .. } => *span,
        }
    }
}

/// A number of seconds as written in a `WITHIN` qualifier (`WITHIN 300 SECONDS`,
/// `WITHIN 1.5 SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seconds {
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
}

impl Seconds {
    /// The duration in nanoseconds (saturating), for evaluation.
    pub fn as_nanos(self) -> i128 {
        match self {
            Seconds::Int(i) => i128::from(i).saturating_mul(1_000_000_000),
            // Float → integer casts saturate in Rust; the value is positive and finite here.
            Seconds::Float(f) => (f * 1e9).round() as i128,
        }
    }

    /// Whether the duration is greater than zero.
    pub fn is_positive(self) -> bool {
        match self {
            Seconds::Int(i) => i > 0,
            Seconds::Float(f) => f > 0.0,
        }
    }
}

/// The bound of a `START … STOP …` qualifier.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeBound {
    /// `t'…'` (STIX 2.1).
    Timestamp(Timestamp),
    /// `'…'` (the STIX 2.0 form): the string as written, unescaped. Evaluation parses it.
    String(String),
}

/// A qualifier on an observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`.
    Within {
        /// The window.
        seconds: Seconds,
        /// The qualifier text.
        span: Span,
    },
    /// `REPEATS n TIMES`.
    Repeats {
        /// The count (as written; validation rejects `0`).
        count: i64,
        /// The qualifier text.
        span: Span,
    },
    /// `START a STOP b`.
    StartStop {
        /// Start, inclusive.
        start: TimeBound,
        /// Stop, exclusive.
        stop: TimeBound,
        /// The qualifier text.
        span: Span,
    },
}

impl Qualifier {
    /// The source span.
    pub fn span(&self) -> Span {
        match self {
            Qualifier::Within { span, .. }
            | Qualifier::Repeats { span, .. }
            | Qualifier::StartStop { span, .. } => *span,
        }
    }

    /// `WITHIN`, `REPEATS` or `STARTSTOP` (the names the reference validator uses).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Qualifier::Within { .. } => "WITHIN",
            Qualifier::Repeats { .. } => "REPEATS",
            Qualifier::StartStop { .. } => "STARTSTOP",
        }
    }
}

/// A comparison expression (inside `[...]`).
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    /// Both sides hold for the same SCO.
    And(Box<ComparisonExpr>, Box<ComparisonExpr>, Span),
    /// Either side holds (possibly for different SCOs of the observation).
    Or(Box<ComparisonExpr>, Box<ComparisonExpr>, Span),
    /// `( … )`, kept for faithful printing.
    Group(Box<ComparisonExpr>, Span),
    /// A single test.
    Test(Comparison),
}

impl ComparisonExpr {
    /// The source span.
    pub fn span(&self) -> Span {
        match self {
            ComparisonExpr::And(_, _, s)
            | ComparisonExpr::Or(_, _, s)
            | ComparisonExpr::Group(_, s) => *s,
            ComparisonExpr::Test(c) => c.span,
        }
    }
}

/// A comparison operator (without `NOT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=` or `==`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `IN (…)`.
    In,
    /// `LIKE '…'`.
    Like,
    /// `MATCHES '…'`.
    Matches,
    /// `ISSUBSET '…'`.
    IsSubset,
    /// `ISSUPERSET '…'`.
    IsSuperset,
    /// `EXISTS path` (STIX 2.1).
    Exists,
}

impl CompareOp {
    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::In => "IN",
            CompareOp::Like => "LIKE",
            CompareOp::Matches => "MATCHES",
            CompareOp::IsSubset => "ISSUBSET",
            CompareOp::IsSuperset => "ISSUPERSET",
            CompareOp::Exists => "EXISTS",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// One literal.
    Literal(Literal),
    /// `IN (…)`: the members (possibly none).
    Set(Vec<Literal>),
    /// `EXISTS` has no operand.
    None,
}

/// One property test: `object-type:path [NOT] OP operand`, or `[NOT] EXISTS object-type:path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The object path.
    pub path: ObjectPath,
    /// `NOT` was given.
    pub negated: bool,
    /// The operator.
    pub op: CompareOp,
    /// The operand.
    pub operand: Operand,
    /// The whole test.
    pub span: Span,
    /// Span of the operator token (for diagnostics).
    pub op_span: Span,
    /// Span of the operand (empty for `EXISTS`).
    pub operand_span: Span,
}

/// `object-type:first.step[0].'quoted'[*]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPath {
    /// The object type (`file`, `x-usb-device`).
    pub object_type: String,
    /// The property steps; the first is always a [`PathStep::Key`].
    pub steps: Vec<PathStep>,
    /// The whole path.
    pub span: Span,
}

impl ObjectPath {
    /// The property steps after the object type, rendered as the STIX path
    /// (`hashes.'SHA-256'`, `sections[*].entropy`).
    pub fn property_path(&self) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key(k) => {
                    if i > 0 {
                        s.push('.');
                    }
                    crate::print::write_key(&mut s, k);
                }
                PathStep::Index(n) => {
                    s.push_str(&format!("[{n}]"));
                }
                PathStep::AnyIndex => s.push_str("[*]"),
            }
        }
        s
    }
}

/// One step of an object path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property name (quoted or not in the source).
    Key(String),
    /// A list index (negative indexes parse, and never select anything).
    Index(i64),
    /// `[*]`: any element.
    AnyIndex,
}

/// A typed literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'…'`, unescaped.
    String(String),
    /// `123`, `-4`.
    Int(i64),
    /// `1.5`, `-.5`.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `h'…'` or `b'…'`, decoded.
    Binary {
        /// The bytes.
        bytes: Vec<u8>,
        /// How it was written (hex or base64), for printing.
        form: BinaryForm,
    },
    /// `t'…'`.
    Timestamp(Timestamp),
}

/// How a binary literal was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryForm {
    /// `h'…'`.
    Hex,
    /// `b'…'`.
    Base64,
}

impl Literal {
    /// A short name of the literal's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "string",
            Literal::Int(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Bool(_) => "boolean",
            Literal::Binary { .. } => "binary",
            Literal::Timestamp(_) => "timestamp",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Structural equality ignoring spans (used by the print → parse round-trip property).

impl Pattern {
    /// Whether two patterns have the same structure and values, ignoring spans.
    pub fn same_as(&self, other: &Pattern) -> bool {
        same_obs(&self.root, &other.root)
    }
}

fn same_obs(a: &ObservationExpr, b: &ObservationExpr) -> bool {
    use ObservationExpr as O;
    match (a, b) {
        (O::Simple { comparison: x, .. }, O::Simple { comparison: y, .. }) => same_cmp(x, y),
        (
            O::Binary {
                op: o1,
                left: l1,
                right: r1,
                ..
            },
            O::Binary {
                op: o2,
                left: l2,
                right: r2,
                ..
            },
        ) => o1 == o2 && same_obs(l1, l2) && same_obs(r1, r2),
        (O::Group { inner: x, .. }, O::Group { inner: y, .. }) => same_obs(x, y),
        (
            O::Qualified {
                inner: x,
                qualifier: q1,
                ..
            },
            O::Qualified {
                inner: y,
                qualifier: q2,
                ..
            },
        ) => same_obs(x, y) && same_qual(q1, q2),
        _ => false,
    }
}

fn same_qual(a: &Qualifier, b: &Qualifier) -> bool {
    match (a, b) {
        (Qualifier::Within { seconds: x, .. }, Qualifier::Within { seconds: y, .. }) => {
            match (x, y) {
                (Seconds::Int(p), Seconds::Int(q)) => p == q,
                (Seconds::Float(p), Seconds::Float(q)) => p.to_bits() == q.to_bits(),
                _ => false,
            }
        }
        (Qualifier::Repeats { count: x, .. }, Qualifier::Repeats { count: y, .. }) => x == y,
        (
            Qualifier::StartStop {
                start: s1,
                stop: e1,
                ..
            },
            Qualifier::StartStop {
                start: s2,
                stop: e2,
                ..
            },
        ) => s1 == s2 && e1 == e2,
        _ => false,
    }
}

fn same_cmp(a: &ComparisonExpr, b: &ComparisonExpr) -> bool {
    use ComparisonExpr as C;
    match (a, b) {
        (C::And(a1, a2, _), C::And(b1, b2, _)) | (C::Or(a1, a2, _), C::Or(b1, b2, _)) => {
            same_cmp(a1, b1) && same_cmp(a2, b2)
        }
        (C::Group(x, _), C::Group(y, _)) => same_cmp(x, y),
        (C::Test(x), C::Test(y)) => {
            x.negated == y.negated
                && x.op == y.op
                && x.path.object_type == y.path.object_type
                && x.path.steps == y.path.steps
                && same_operand(&x.operand, &y.operand)
        }
        _ => false,
    }
}

fn same_operand(a: &Operand, b: &Operand) -> bool {
    match (a, b) {
        (Operand::Literal(x), Operand::Literal(y)) => same_lit(x, y),
        (Operand::Set(x), Operand::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_lit(p, q))
        }
        (Operand::None, Operand::None) => true,
        _ => false,
    }
}

fn same_lit(a: &Literal, b: &Literal) -> bool {
    match (a, b) {
        // Bitwise, so that -0.0 and 0.0 differ and NaN (never produced) would equal itself.
        (Literal::Float(x), Literal::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
