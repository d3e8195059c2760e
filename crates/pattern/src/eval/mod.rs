//! Evaluation with the semantics of the OASIS reference matcher (stix2-matcher 3.0).
//!
//! A pattern matches when each `[...]` observation expression can be bound to an observation
//! (an instance of an observed-data; `number_observed: n` gives n instances) such that the
//! observation operators and qualifiers hold, with distinct instances throughout. Inside
//! `[...]`, `AND` needs one SCO to satisfy both sides and `OR` may use different SCOs.
//!
//! The pattern is compiled once ([`Matcher::new`]: literals typed, regexes built, qualifiers
//! checked) and then evaluated against any number of [`Observations`]. The binding search is
//! lazy (the first binding found is returned) and bounded by [`EvalOptions::max_steps`]; when
//! the bound is reached evaluation fails with [`EvalError::SearchLimit`] instead of running on.

mod observations;
mod search;

use std::cmp::Ordering;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

pub use observations::Observations;

use crate::ast::*;
use crate::net::Block;
use crate::regex::{self, CompiledLike, CompiledRegex, RegexProblem};
use crate::time::Timestamp;
use crate::{StixVersion, parse};

/// Why evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The pattern text is invalid (syntax or validation errors).
    #[error("the pattern is invalid: {0}")]
    InvalidPattern(String),
    /// The pattern is valid but cannot be evaluated (e.g. `REPEATS 0 TIMES`, a timestamp
    /// literal naming no real instant, a regex the engine cannot run).
    #[error("the pattern cannot be evaluated: {0}")]
    Unevaluable(String),
    /// The observed data is not usable (missing `first_observed`, bad `number_observed`, …).
    #[error("invalid observed data: {0}")]
    InvalidObservedData(String),
    /// A value met during evaluation is unusable (a non-timestamp string compared with a
    /// timestamp, a `*_ref` that is not a string, bad hex in a `*_hex` property, …).
    #[error("evaluation failed: {0}")]
    Data(String),
    /// The binding search took more steps than allowed.
    #[error(
        "the binding search exceeded {0} steps; the pattern is too combinatorial for this data"
    )]
    SearchLimit(u64),
}

/// Evaluation settings.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Upper bound on binding-search steps (joins tried, combinations explored) per
    /// evaluation. Default 10 million.
    pub max_steps: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            max_steps: 10_000_000,
        }
    }
}

/// One observation expression bound to one observation instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundObservation {
    /// Which `[...]` (index in source order, as in [`crate::Inspection::observation_expressions`]).
    pub observation_expression: usize,
    /// Which observation (index into [`Observations`]).
    pub observation: usize,
    /// Which of its `number_observed` instances (from 0).
    pub instance: u64,
}

/// A binding: the observations that satisfy the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// One entry per bound observation expression (`REPEATS n` binds its expression n times;
    /// the unused side of an `OR` binds nothing).
    pub slots: Vec<BoundObservation>,
}

impl Binding {
    /// The distinct observations used, in ascending order.
    pub fn observations(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.slots.iter().map(|s| s.observation).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Evaluates many patterns against one set of observations: each pattern is compiled once, the
/// observations' path indexes are built once and shared, and the work is split over `threads`
/// threads (at least one; results keep the patterns' order). An invalid or unevaluable pattern
/// gives its own error and the others go on.
pub fn evaluate_many<S: AsRef<str> + Sync>(
    patterns: &[S],
    version: StixVersion,
    obs: &Observations,
    options: &EvalOptions,
    threads: usize,
) -> Vec<Result<Option<Binding>, EvalError>> {
    let one = |src: &S| Matcher::compile(src.as_ref(), version)?.evaluate(obs, options);
    let threads = threads.clamp(1, patterns.len().max(1));
    if threads == 1 {
        return patterns.iter().map(one).collect();
    }
    let chunk = patterns.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = patterns
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(results) => results,
                // A panic in evaluation is a bug; carry it to the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// A literal in evaluation form.
#[derive(Debug, Clone)]
enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Time(i128),
}

#[derive(Debug, Clone)]
enum Pred {
    Eq(Lit),
    Order(CompareOp, Lit),
    In(Vec<Lit>),
    Like(CompiledLike),
    Matches(Box<CompiledRegex>),
    Subset(Block),
    Superset(Block),
    Exists,
}

#[derive(Debug, Clone)]
struct Test {
    object_type: String,
    steps: Vec<PathStep>,
    /// `!=`: the equality result is inverted before `NOT` is applied.
    not_equal: bool,
    negated: bool,
    pred: Pred,
}

#[derive(Debug, Clone)]
enum Cmp {
    And(Box<Cmp>, Box<Cmp>),
    Or(Box<Cmp>, Box<Cmp>),
    Test(Box<Test>),
}

#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    cmp: Cmp,
    /// Object types the comparison mentions: only objects of these types can satisfy it.
    types: Vec<String>,
    /// `START`/`STOP` windows of enclosing qualifiers, pushed down (each bound instance must
    /// overlap every window).
    windows: Vec<(i128, i128)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Leaf(usize),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    FollowedBy(Box<Node>, Box<Node>),
    Within(Box<Node>, i128),
    Repeats(Box<Node>, u32),
}

/// A compiled pattern, ready to evaluate against [`Observations`].
#[derive(Debug, Clone)]
pub struct Matcher {
    version: StixVersion,
    leaves: Vec<Leaf>,
    root: Node,
    /// The largest number of instances one binding can hold (caps how many instances of one
    /// observation are ever considered).
    max_binding: u64,
}

fn unevaluable(msg: impl Into<String>) -> EvalError {
    EvalError::Unevaluable(msg.into())
}

fn lit(l: &Literal) -> Result<Lit, EvalError> {
    Ok(match l {
        Literal::String(s) => Lit::Str(s.clone()),
        Literal::Int(i) => Lit::Int(*i),
        Literal::Float(f) => Lit::Float(*f),
        Literal::Bool(b) => Lit::Bool(*b),
        Literal::Binary { bytes, .. } => Lit::Bytes(bytes.clone()),
        Literal::Timestamp(t) => Lit::Time(
            t.nanos()
                .ok_or_else(|| unevaluable(format!("t'{}' names no real instant", t.as_str())))?,
        ),
    })
}

fn bound(b: &TimeBound) -> Result<i128, EvalError> {
    match b {
        TimeBound::Timestamp(t) => t
            .nanos()
            .ok_or_else(|| unevaluable(format!("t'{}' names no real instant", t.as_str()))),
        TimeBound::String(s) => Timestamp::parse(s)
            .ok()
            .and_then(|t| t.nanos())
            .ok_or_else(|| unevaluable(format!("'{s}' is not a timestamp"))),
    }
}

impl Matcher {
    /// Parses and compiles a pattern. Fails with [`EvalError::InvalidPattern`] when the text
    /// does not follow the grammar, [`EvalError::Unevaluable`] when it cannot be evaluated.
    /// Like the reference matcher, it does not refuse what only the validator objects to
    /// (duplicate qualifiers, malformed hash values): [`crate::check`] reports those.
    pub fn compile(src: &str, version: StixVersion) -> Result<Matcher, EvalError> {
        let parsed = parse(src, version);
        let Some(p) = &parsed.pattern else {
            let msgs: Vec<String> = parsed.errors().map(|d| d.message.clone()).collect();
            return Err(EvalError::InvalidPattern(msgs.join("; ")));
        };
        Matcher::new(p, version)
    }

    /// Compiles a parsed pattern.
    pub fn new(p: &Pattern, version: StixVersion) -> Result<Matcher, EvalError> {
        let mut m = Matcher {
            version,
            leaves: Vec::new(),
            root: Node::Leaf(0),
            max_binding: 0,
        };
        let mut windows = Vec::new();
        m.root = m.node(&p.root, &mut windows)?;
        m.max_binding = binding_size(&m.root).max(1);
        Ok(m)
    }

    fn node(
        &mut self,
        e: &ObservationExpr,
        windows: &mut Vec<(i128, i128)>,
    ) -> Result<Node, EvalError> {
        Ok(match e {
            ObservationExpr::Simple { comparison, .. } => {
                let mut types = Vec::new();
                let cmp = compile_cmp(comparison, &mut types)?;
                self.leaves.push(Leaf {
                    cmp,
                    types,
                    windows: windows.clone(),
                });
                Node::Leaf(self.leaves.len() - 1)
            }
            ObservationExpr::Group { inner, .. } => self.node(inner, windows)?,
            ObservationExpr::Binary {
                op, left, right, ..
            } => {
                let l = Box::new(self.node(left, windows)?);
                let r = Box::new(self.node(right, windows)?);
                match op {
                    ObservationOp::And => Node::And(l, r),
                    ObservationOp::Or => Node::Or(l, r),
                    ObservationOp::FollowedBy => Node::FollowedBy(l, r),
                }
            }
            ObservationExpr::Qualified {
                inner, qualifier, ..
            } => match qualifier {
                Qualifier::Within { seconds, .. } => {
                    if !seconds.is_positive() {
                        return Err(unevaluable("the WITHIN window must be positive"));
                    }
                    Node::Within(Box::new(self.node(inner, windows)?), seconds.as_nanos())
                }
                Qualifier::Repeats { count, .. } => {
                    if *count < 1 {
                        return Err(unevaluable("REPEATS needs a count of at least 1"));
                    }
                    let n = u32::try_from(*count)
                        .map_err(|_| unevaluable("the REPEATS count is too large"))?;
                    Node::Repeats(Box::new(self.node(inner, windows)?), n)
                }
                Qualifier::StartStop { start, stop, .. } => {
                    let w = (bound(start)?, bound(stop)?);
                    windows.push(w);
                    let n = self.node(inner, windows);
                    windows.pop();
                    n?
                }
            },
        })
    }

    /// The STIX version the pattern was compiled for.
    pub fn version(&self) -> StixVersion {
        self.version
    }

    /// Evaluates against `obs`: `Ok(Some(binding))` on a match, `Ok(None)` on no match.
    pub fn evaluate(
        &self,
        obs: &Observations,
        options: &EvalOptions,
    ) -> Result<Option<Binding>, EvalError> {
        // Every observation expression is evaluated against every observation first (as the
        // reference matcher does), so data errors surface whatever the binding search does.
        let mut leaf_obs: Vec<Vec<u32>> = Vec::with_capacity(self.leaves.len());
        for leaf in &self.leaves {
            leaf_obs.push(self.leaf_matches(leaf, obs)?);
        }
        search::find(self, obs, leaf_obs, options)
    }

    /// The observations (indices, ascending) in which `[...]` number `leaf` finds an SCO.
    fn leaf_matches(&self, leaf: &Leaf, obs: &Observations) -> Result<Vec<u32>, EvalError> {
        let mut hits: Vec<u32> = Vec::new();
        let cands = match candidates(&leaf.cmp, obs) {
            Some(c) => {
                // The index skips objects; the reference matcher evaluates every test on
                // every object of its type, so a data error anywhere fails the evaluation.
                surface_errors(&leaf.cmp, obs)?;
                c
            }
            None => {
                let mut cands: Vec<(u32, u32)> = Vec::new();
                for t in &leaf.types {
                    if let Some(v) = obs.by_type.get(t) {
                        cands.extend_from_slice(v);
                    }
                }
                if leaf.types.len() > 1 {
                    cands.sort_unstable();
                    cands.dedup();
                }
                cands
            }
        };
        for (oi, ji) in cands {
            let o = &obs.obs[oi as usize];
            let ctx = ObjCtx {
                objects: &o.objects,
            };
            let root = &o.objects[ji as usize].1;
            // The comparison is evaluated before the START/STOP windows are applied, as the
            // reference matcher does: a data error in an observation outside the window still
            // fails the evaluation.
            if eval_cmp(&leaf.cmp, root, &ctx)?
                && hits.last() != Some(&oi)
                && leaf
                    .windows
                    .iter()
                    .all(|&(s, e)| s < e && o.first < e && s <= o.last)
            {
                hits.push(oi);
            }
        }
        if has_or(&leaf.cmp) && hits.len() > 1 {
            hits = self.reference_order(leaf, obs, hits)?;
        }
        Ok(hits)
    }

    /// The order in which the reference matcher lists the observations that satisfy `[...]`,
    /// which decides which binding it finds first: a test lists them in input order, `AND`
    /// keeps its left side's order, and `OR` lists its left side's observations, then those
    /// only its right side adds. (`hits` holds them in input order.)
    fn reference_order(
        &self,
        leaf: &Leaf,
        obs: &Observations,
        hits: Vec<u32>,
    ) -> Result<Vec<u32>, EvalError> {
        // Which nodes (numbered in preorder) hold in each hit observation, for some root.
        let mut holds: Vec<Vec<bool>> = Vec::with_capacity(hits.len());
        for &oi in &hits {
            let o = &obs.obs[oi as usize];
            let ctx = ObjCtx {
                objects: &o.objects,
            };
            let mut acc: Vec<bool> = Vec::new();
            for (_, root) in &o.objects {
                let Some(t) = root.get("type").and_then(Value::as_str) else {
                    continue;
                };
                if !leaf.types.iter().any(|x| x == t)
                    || (self.version == StixVersion::V21 && crate::sco::is_non_sco_type(t))
                {
                    continue;
                }
                let mut truth = Vec::new();
                node_truth(&leaf.cmp, root, &ctx, &mut truth)?;
                if acc.is_empty() {
                    acc = truth;
                } else {
                    for (a, b) in acc.iter_mut().zip(truth) {
                        *a |= b;
                    }
                }
            }
            holds.push(acc);
        }
        let mut next = 0;
        let order = ordered(&leaf.cmp, &mut next, &holds);
        Ok(order.into_iter().map(|k| hits[k]).collect())
    }
}

/// Evaluates, on every object of its type, each test that can fail on bad data (a timestamp
/// literal compared with a string, a path through `*_ref(s)`, `*_hex` or `*_bin`), and
/// returns the first error.
fn surface_errors(c: &Cmp, obs: &Observations) -> Result<(), EvalError> {
    match c {
        Cmp::And(l, r) | Cmp::Or(l, r) => {
            surface_errors(l, obs)?;
            surface_errors(r, obs)
        }
        Cmp::Test(t) => {
            let time_literal = match &t.pred {
                Pred::Eq(l) | Pred::Order(_, l) => matches!(l, Lit::Time(_)),
                Pred::In(items) => items.iter().any(|l| matches!(l, Lit::Time(_))),
                _ => false,
            };
            let decoding_step = t.steps.iter().any(|s| {
                matches!(s, PathStep::Key(k) if k.ends_with("_ref") || k.ends_with("_refs")
                    || k.ends_with("_hex") || k.ends_with("_bin"))
            });
            if !time_literal && !decoding_step {
                return Ok(());
            }
            for &(oi, ji) in obs
                .by_type
                .get(&t.object_type)
                .map_or(&[][..], Vec::as_slice)
            {
                let o = &obs.obs[oi as usize];
                let ctx = ObjCtx {
                    objects: &o.objects,
                };
                eval_test(t, &o.objects[ji as usize].1, &ctx)?;
            }
            Ok(())
        }
    }
}

fn has_or(c: &Cmp) -> bool {
    match c {
        Cmp::Or(..) => true,
        Cmp::And(l, r) => has_or(l) || has_or(r),
        Cmp::Test(_) => false,
    }
}

/// Evaluates `c` on one root object, recording each node's value in preorder.
fn node_truth(
    c: &Cmp,
    obj: &Value,
    ctx: &ObjCtx<'_>,
    out: &mut Vec<bool>,
) -> Result<bool, EvalError> {
    let me = out.len();
    out.push(false);
    let v = match c {
        Cmp::And(l, r) => {
            let a = node_truth(l, obj, ctx, out)?;
            let b = node_truth(r, obj, ctx, out)?;
            a && b
        }
        Cmp::Or(l, r) => {
            let a = node_truth(l, obj, ctx, out)?;
            let b = node_truth(r, obj, ctx, out)?;
            a || b
        }
        Cmp::Test(t) => eval_test(t, obj, ctx)?,
    };
    out[me] = v;
    Ok(v)
}

/// The positions (into `holds`) of the observations where node `c` holds, in the reference
/// matcher's order (see [`Matcher::reference_order`]); `next` numbers the nodes in preorder.
fn ordered(c: &Cmp, next: &mut usize, holds: &[Vec<bool>]) -> Vec<usize> {
    let me = *next;
    *next += 1;
    let at = |k: usize| holds[k].get(me).copied().unwrap_or(false);
    match c {
        Cmp::Test(_) => (0..holds.len()).filter(|&k| at(k)).collect(),
        Cmp::And(l, r) => {
            let left = ordered(l, next, holds);
            ordered(r, next, holds);
            left.into_iter().filter(|&k| at(k)).collect()
        }
        Cmp::Or(l, r) => {
            let mut out = ordered(l, next, holds);
            let mut seen = vec![false; holds.len()];
            for &k in &out {
                seen[k] = true;
            }
            out.extend(ordered(r, next, holds).into_iter().filter(|&k| !seen[k]));
            out
        }
    }
}

/// Whether a test can be answered from an exact-value index: a positive `=` with a string, on a
/// path without `*_hex` / `*_bin` properties (whose values are compared as bytes).
fn indexable(t: &Test) -> Option<&str> {
    match &t.pred {
        Pred::Eq(Lit::Str(s))
            if !t.negated
                && !t.not_equal
                && !t.steps.iter().any(
                    |s| matches!(s, PathStep::Key(k) if k.ends_with("_hex") || k.ends_with("_bin")),
                ) =>
        {
            Some(s)
        }
        _ => None,
    }
}

fn value_index(t: &Test, obs: &Observations) -> Option<std::sync::Arc<observations::ValueIndex>> {
    let key = (t.object_type.clone(), t.steps.clone());
    if let Ok(cache) = obs.indexes.read()
        && let Some(hit) = cache.get(&key)
    {
        return hit.clone();
    }
    let mut idx = observations::ValueIndex::new();
    let mut ok = true;
    if let Some(objs) = obs.by_type.get(&t.object_type) {
        'objects: for &(oi, ji) in objs {
            let o = &obs.obs[oi as usize];
            let ctx = ObjCtx {
                objects: &o.objects,
            };
            match select(&t.steps, &o.objects[ji as usize].1, &ctx) {
                Ok(vals) => {
                    for v in vals {
                        if let Val::Json(Value::String(s)) = v {
                            let e = idx.entry(s.clone()).or_default();
                            if e.last() != Some(&(oi, ji)) {
                                e.push((oi, ji));
                            }
                        }
                    }
                }
                Err(_) => {
                    ok = false;
                    break 'objects;
                }
            }
        }
    }
    let built = ok.then(|| std::sync::Arc::new(idx));
    if let Ok(mut cache) = obs.indexes.write() {
        cache.insert(key, built.clone());
    }
    built
}

/// The root objects that can satisfy `c`, from exact-value indexes, or `None` when a scan is
/// needed. `AND` narrows to either side's candidates; `OR` needs both sides indexed.
fn candidates(c: &Cmp, obs: &Observations) -> Option<Vec<(u32, u32)>> {
    match c {
        Cmp::Test(t) => {
            let v = indexable(t)?;
            let idx = value_index(t, obs)?;
            Some(idx.get(v).cloned().unwrap_or_default())
        }
        Cmp::And(l, r) => candidates(l, obs).or_else(|| candidates(r, obs)),
        Cmp::Or(l, r) => {
            let mut a = candidates(l, obs)?;
            a.extend(candidates(r, obs)?);
            a.sort_unstable();
            a.dedup();
            Some(a)
        }
    }
}

fn binding_size(n: &Node) -> u64 {
    match n {
        Node::Leaf(_) => 1,
        Node::And(l, r) | Node::Or(l, r) | Node::FollowedBy(l, r) => {
            binding_size(l).saturating_add(binding_size(r))
        }
        Node::Within(i, _) => binding_size(i),
        Node::Repeats(i, k) => binding_size(i).saturating_mul(u64::from(*k)),
    }
}

fn compile_cmp(c: &ComparisonExpr, types: &mut Vec<String>) -> Result<Cmp, EvalError> {
    Ok(match c {
        ComparisonExpr::And(l, r, _) => Cmp::And(
            Box::new(compile_cmp(l, types)?),
            Box::new(compile_cmp(r, types)?),
        ),
        ComparisonExpr::Or(l, r, _) => Cmp::Or(
            Box::new(compile_cmp(l, types)?),
            Box::new(compile_cmp(r, types)?),
        ),
        ComparisonExpr::Group(inner, _) => compile_cmp(inner, types)?,
        ComparisonExpr::Test(t) => {
            if !types.contains(&t.path.object_type) {
                types.push(t.path.object_type.clone());
            }
            Cmp::Test(Box::new(compile_test(t)?))
        }
    })
}

fn single(t: &Comparison) -> Result<&Literal, EvalError> {
    match &t.operand {
        Operand::Literal(l) => Ok(l),
        _ => Err(unevaluable(format!("{} needs one value", t.op.as_str()))),
    }
}

fn string_operand(t: &Comparison) -> Result<&str, EvalError> {
    match single(t)? {
        Literal::String(s) => Ok(s),
        _ => Err(unevaluable(format!("{} needs a string", t.op.as_str()))),
    }
}

fn compile_test(t: &Comparison) -> Result<Test, EvalError> {
    let regex_err = |e: RegexProblem| match e {
        RegexProblem::Unsupported(m) | RegexProblem::Invalid(m) => unevaluable(m),
    };
    let pred = match t.op {
        CompareOp::Eq | CompareOp::Ne => Pred::Eq(lit(single(t)?)?),
        CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
            Pred::Order(t.op, lit(single(t)?)?)
        }
        CompareOp::In => {
            let Operand::Set(items) = &t.operand else {
                return Err(unevaluable("IN needs a list"));
            };
            let lits = items.iter().map(lit).collect::<Result<Vec<_>, _>>()?;
            let numeric = |l: &Lit| matches!(l, Lit::Int(_) | Lit::Float(_));
            let homogeneous = lits.iter().all(|l| {
                lits.first()
                    .is_some_and(|f| std::mem::discriminant(f) == std::mem::discriminant(l))
            }) || lits.iter().all(numeric);
            if !homogeneous {
                return Err(unevaluable("an IN list mixes value types"));
            }
            Pred::In(lits)
        }
        CompareOp::Like => Pred::Like(regex::compile_like(string_operand(t)?).map_err(regex_err)?),
        CompareOp::Matches => Pred::Matches(Box::new(
            regex::compile_matches(string_operand(t)?).map_err(regex_err)?,
        )),
        CompareOp::IsSubset | CompareOp::IsSuperset => {
            let s = string_operand(t)?;
            let b = Block::parse(s)
                .ok_or_else(|| unevaluable(format!("'{s}' is not an IP address or CIDR block")))?;
            if t.op == CompareOp::IsSubset {
                Pred::Subset(b)
            } else {
                Pred::Superset(b)
            }
        }
        CompareOp::Exists => Pred::Exists,
    };
    Ok(Test {
        object_type: t.path.object_type.clone(),
        steps: t.path.steps.clone(),
        not_equal: t.op == CompareOp::Ne,
        negated: t.negated,
        pred,
    })
}

// ---- values ---------------------------------------------------------------------------------

struct ObjCtx<'a> {
    objects: &'a [(String, Value)],
}

/// A value selected by an object path.
#[derive(Debug, Clone)]
enum Val<'a> {
    Json(&'a Value),
    /// A `*_hex` / `*_bin` property, decoded.
    Bytes(Vec<u8>),
    /// A dereferenced `*_refs` list.
    Objs(Vec<&'a Value>),
}

fn data_err(msg: impl Into<String>) -> EvalError {
    EvalError::Data(msg.into())
}

fn suffix_value<'a>(key: &str, v: &'a Value) -> Result<Val<'a>, EvalError> {
    if key.ends_with("_hex") {
        let s = v
            .as_str()
            .ok_or_else(|| data_err(format!("property {key} is not a hex string")))?;
        let bytes = crate::lexer::decode_hex(s)
            .ok_or_else(|| data_err(format!("property {key}: {s:?} is not valid hex")))?;
        Ok(Val::Bytes(bytes))
    } else if key.ends_with("_bin") {
        let s = v
            .as_str()
            .ok_or_else(|| data_err(format!("property {key} is not a base64 string")))?;
        Ok(Val::Bytes(lenient_base64(s).ok_or_else(|| {
            data_err(format!("property {key}: {s:?} is not valid base64"))
        })?))
    } else {
        Ok(Val::Json(v))
    }
}

/// Base64 as Python's `standard_b64decode` reads it: characters outside the alphabet are
/// skipped; the data must be padded.
fn lenient_base64(s: &str) -> Option<Vec<u8>> {
    let data: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    let pads = s.chars().filter(|c| *c == '=').count();
    let rem = data.len() % 4;
    if rem == 1 || (rem != 0 && pads < 4 - rem) {
        return None;
    }
    let mut padded = data;
    if rem != 0 {
        padded.extend(std::iter::repeat_n('=', 4 - rem));
    }
    if padded.is_empty() {
        return Some(Vec::new());
    }
    crate::lexer::decode_base64(&padded)
}

fn deref<'a>(ctx: &ObjCtx<'a>, id: &str) -> Vec<&'a Value> {
    ctx.objects
        .iter()
        .filter(|(k, _)| k == id)
        .map(|(_, v)| v)
        .collect()
}

fn step<'a>(ctx: &ObjCtx<'a>, vals: Vec<Val<'a>>, s: &PathStep) -> Result<Vec<Val<'a>>, EvalError> {
    let mut out = Vec::new();
    match s {
        PathStep::Key(k) => {
            for v in vals {
                let Val::Json(Value::Object(m)) = v else {
                    continue;
                };
                let Some(x) = m.get(k) else { continue };
                let x = suffix_value(k, x)?;
                if k.ends_with("_ref") {
                    let Val::Json(Value::String(id)) = x else {
                        return Err(data_err(format!(
                            "the value of reference property '{k}' is not a string"
                        )));
                    };
                    out.extend(deref(ctx, id).into_iter().map(Val::Json));
                } else if k.ends_with("_refs") {
                    let Val::Json(Value::Array(ids)) = x else {
                        return Err(data_err(format!(
                            "the value of reference list property '{k}' is not a list"
                        )));
                    };
                    let mut objs = Vec::new();
                    for id in ids {
                        let Value::String(id) = id else {
                            return Err(data_err(format!(
                                "a value of reference property '{k}' is not a string"
                            )));
                        };
                        objs.extend(deref(ctx, id));
                    }
                    if !objs.is_empty() {
                        out.push(Val::Objs(objs));
                    }
                } else {
                    out.push(x);
                }
            }
        }
        PathStep::Index(i) => {
            let Ok(i) = usize::try_from(*i) else {
                return Ok(out);
            };
            for v in vals {
                match v {
                    Val::Json(Value::Array(a)) => {
                        if let Some(x) = a.get(i) {
                            out.push(Val::Json(x));
                        }
                    }
                    Val::Objs(o) => {
                        if let Some(x) = o.get(i) {
                            out.push(Val::Json(x));
                        }
                    }
                    _ => {}
                }
            }
        }
        PathStep::AnyIndex => {
            for v in vals {
                match v {
                    Val::Json(Value::Array(a)) => out.extend(a.iter().map(Val::Json)),
                    Val::Objs(o) => out.extend(o.into_iter().map(Val::Json)),
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

fn eval_cmp(c: &Cmp, obj: &Value, ctx: &ObjCtx<'_>) -> Result<bool, EvalError> {
    Ok(match c {
        // Both sides are always evaluated (no short-circuit), so that data errors surface as
        // they do in the reference matcher.
        Cmp::And(l, r) => {
            let a = eval_cmp(l, obj, ctx)?;
            let b = eval_cmp(r, obj, ctx)?;
            a && b
        }
        Cmp::Or(l, r) => {
            let a = eval_cmp(l, obj, ctx)?;
            let b = eval_cmp(r, obj, ctx)?;
            a || b
        }
        Cmp::Test(t) => eval_test(t, obj, ctx)?,
    })
}

/// The values an object path selects from a root object.
fn select<'a>(
    steps: &[PathStep],
    obj: &'a Value,
    ctx: &ObjCtx<'a>,
) -> Result<Vec<Val<'a>>, EvalError> {
    let mut vals = vec![Val::Json(obj)];
    for s in steps {
        vals = step(ctx, vals, s)?;
        if vals.is_empty() {
            break;
        }
    }
    Ok(vals)
}

/// NFC form of `s`, without allocating when it already is (the common case).
fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    if unicode_normalization::is_nfc(s) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.nfc().collect())
    }
}

fn eval_test(t: &Test, obj: &Value, ctx: &ObjCtx<'_>) -> Result<bool, EvalError> {
    if obj.get("type").and_then(Value::as_str) != Some(t.object_type.as_str()) {
        return Ok(false);
    }
    let vals = select(&t.steps, obj, ctx)?;
    if let Pred::Exists = t.pred {
        return Ok(vals.is_empty() == t.negated);
    }
    for v in &vals {
        if value_passes(t, v)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a JSON value or decoded bytes is, for comparison.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Compound,
}

fn scalar<'a>(v: &'a Val<'a>) -> Scalar<'a> {
    match v {
        Val::Bytes(b) => Scalar::Bytes(b),
        Val::Objs(_) => Scalar::Compound,
        Val::Json(j) => match j {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Scalar::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Scalar::Int(i128::from(u))
                } else {
                    Scalar::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Scalar::Str(s),
            _ => Scalar::Compound,
        },
    }
}

fn json_time(s: &str) -> Result<i128, EvalError> {
    Timestamp::parse(s)
        .ok()
        .and_then(|t| t.nanos())
        .ok_or_else(|| {
            data_err(format!(
                "{s:?} in the observed data is not a valid timestamp"
            ))
        })
}

/// Exact comparison of an integer with a float, as Python compares them (and so the reference
/// matcher): no rounding of either side; `None` for NaN, which compares with nothing.
pub fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.8e19 {
        return Some(Ordering::Less);
    }
    if f <= -1.8e19 {
        return Some(Ordering::Greater);
    }
    let fl = f.floor();
    // |fl| < 2^65, exactly representable as i128.
    let fi = fl as i128;
    match i.cmp(&fi) {
        Ordering::Equal if f > fl => Some(Ordering::Less),
        o => Some(o),
    }
}

/// Latin-1 bytes of a string whose code points are all below 256.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

/// `value` compared with `lit`: `Some(ordering)` when the types are comparable.
/// `Err` for a string that should be a timestamp and is not.
fn compare(v: &Scalar<'_>, l: &Lit, order: bool) -> Result<Option<Ordering>, EvalError> {
    Ok(match (v, l) {
        (Scalar::Int(a), Lit::Int(b)) => Some(a.cmp(&i128::from(*b))),
        (Scalar::Int(a), Lit::Float(b)) => cmp_int_float(*a, *b),
        (Scalar::Float(a), Lit::Int(b)) => cmp_int_float(i128::from(*b), *a).map(Ordering::reverse),
        (Scalar::Float(a), Lit::Float(b)) => a.partial_cmp(b),
        (Scalar::Str(a), Lit::Str(b)) => Some((*a).cmp(b.as_str())),
        (Scalar::Bool(a), Lit::Bool(b)) if !order => Some(a.cmp(b)),
        (Scalar::Bytes(a), Lit::Bytes(b)) => Some((*a).cmp(b.as_slice())),
        (Scalar::Bytes(a), Lit::Str(b)) => latin1(b).map(|b| (*a).cmp(b.as_slice())),
        (Scalar::Str(a), Lit::Bytes(b)) => latin1(a).map(|a| a.as_slice().cmp(b)),
        (Scalar::Str(a), Lit::Time(b)) => Some(json_time(a)?.cmp(b)),
        _ => None,
    })
}

fn value_passes(t: &Test, v: &Val<'_>) -> Result<bool, EvalError> {
    let s = scalar(v);
    let base = match &t.pred {
        Pred::Eq(l) => {
            let eq = compare(&s, l, false)? == Some(Ordering::Equal);
            eq != t.not_equal
        }
        Pred::Order(op, l) => match compare(&s, l, true)? {
            // Types with no ordering between them (a null, a boolean, a list, a string against
            // a number): false, even under NOT, as in the reference matcher. A string with
            // characters above U+00FF against binary is merely false (NOT applies).
            None if !matches!(
                (&s, l),
                (Scalar::Bytes(_), Lit::Str(_)) | (Scalar::Str(_), Lit::Bytes(_))
            ) =>
            {
                return Ok(false);
            }
            None => false,
            Some(o) => match op {
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            },
        },
        Pred::In(items) => {
            let mut found = false;
            for l in items {
                let hit = match (&s, l) {
                    // Membership uses strict type equality: bytes never equal strings here.
                    (Scalar::Bytes(_), Lit::Str(_)) | (Scalar::Str(_), Lit::Bytes(_)) => false,
                    _ => compare(&s, l, false)? == Some(Ordering::Equal),
                };
                if hit {
                    found = true;
                    break;
                }
            }
            found
        }
        Pred::Like(like) => match s {
            Scalar::Str(x) => like.regex.is_match(nfc(x).as_bytes()),
            Scalar::Bytes(b) if like.binary_ok => match std::str::from_utf8(b) {
                Ok(x) => like.regex.is_match(nfc(x).as_bytes()),
                Err(_) => false,
            },
            _ => false,
        },
        Pred::Matches(re) => match s {
            Scalar::Str(x) => re.text.is_match(nfc(x).as_bytes()),
            Scalar::Bytes(b) => re.bytes.as_ref().is_some_and(|r| r.is_match(b)),
            _ => false,
        },
        Pred::Subset(container) => match s {
            Scalar::Str(x) => Block::parse(x).is_some_and(|b| b.within(container)),
            _ => false,
        },
        Pred::Superset(inner) => match s {
            Scalar::Str(x) => Block::parse(x).is_some_and(|c| inner.within(&c)),
            _ => false,
        },
        Pred::Exists => true,
    };
    Ok(base != t.negated)
}

/// Parses, compiles and evaluates in one call (for one-off use; compile once with
/// [`Matcher::compile`] to evaluate many times).
pub fn evaluate(
    src: &str,
    obs: &Observations,
    options: &EvalOptions,
) -> Result<Option<Binding>, EvalError> {
    Matcher::compile(src, obs.version())?.evaluate(obs, options)
}
