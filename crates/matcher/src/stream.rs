//! Patterns over several observations (`AND`, `OR`, `FOLLOWEDBY`, `WITHIN`, `REPEATS`,
//! `START … STOP`) evaluated on the stream of records.
//!
//! Bounded state: per pattern and per `[…]` observation expression, the [`EVENTS_PER_LEAF`]
//! most recent matching records (sequence number and time, 16 bytes each); a binding search
//! keeps at most [`MAX_BINDINGS`] partial bindings per operator. When a pattern matches with a
//! binding that includes the newest record, it is reported once and its state is cleared.

use std::collections::VecDeque;

use hashbrown::HashMap;
use pattern::{ObservationExpr, ObservationOp, Qualifier, TimeBound};

/// Matching records remembered per observation expression of a pattern.
pub const EVENTS_PER_LEAF: usize = 16;
/// Bindings kept per operator during one search.
pub const MAX_BINDINGS: usize = 256;

/// An observation-expression tree over leaf numbers.
#[derive(Debug, Clone)]
pub(crate) enum PNode {
    Leaf(u16),
    Op(ObservationOp, Box<PNode>, Box<PNode>),
    Within(Box<PNode>, i64),
    Repeats(Box<PNode>, u32),
    StartStop(Box<PNode>, i64, i64),
    /// A qualifier whose bounds name no instant: never matches.
    Never,
}

fn bound(b: &TimeBound) -> Option<i64> {
    let n = match b {
        TimeBound::Timestamp(t) => t.nanos(),
        TimeBound::String(s) => pattern::time::Timestamp::parse(s).ok()?.nanos(),
    }?;
    i64::try_from(n).ok()
}

/// Builds the tree; leaves are numbered in source order, as `Pattern::inspect` lists them.
pub(crate) fn build(e: &ObservationExpr, next: &mut u16) -> PNode {
    match e {
        ObservationExpr::Simple { .. } => {
            let n = *next;
            *next += 1;
            PNode::Leaf(n)
        }
        ObservationExpr::Binary {
            op, left, right, ..
        } => {
            let l = build(left, next);
            let r = build(right, next);
            PNode::Op(*op, Box::new(l), Box::new(r))
        }
        ObservationExpr::Group { inner, .. } => build(inner, next),
        ObservationExpr::Qualified {
            inner, qualifier, ..
        } => {
            let x = Box::new(build(inner, next));
            match qualifier {
                Qualifier::Within { seconds, .. } => {
                    PNode::Within(x, i64::try_from(seconds.as_nanos()).unwrap_or(i64::MAX))
                }
                Qualifier::Repeats { count, .. } => {
                    PNode::Repeats(x, u32::try_from(*count).unwrap_or(u32::MAX).max(1))
                }
                Qualifier::StartStop { start, stop, .. } => match (bound(start), bound(stop)) {
                    (Some(a), Some(b)) => PNode::StartStop(x, a, b),
                    _ => PNode::Never,
                },
            }
        }
    }
}

/// Whether the tree is one observation expression without qualifiers.
pub(crate) fn is_single(e: &ObservationExpr) -> bool {
    match e {
        ObservationExpr::Simple { .. } => true,
        ObservationExpr::Group { inner, .. } => is_single(inner),
        _ => false,
    }
}

/// One matching record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ev {
    pub(crate) seq: u64,
    pub(crate) time: i64,
}

type Binding = Vec<Ev>;

fn disjoint(a: &[Ev], b: &[Ev]) -> bool {
    a.iter().all(|x| b.iter().all(|y| x.seq != y.seq))
}

fn span(b: &[Ev]) -> (i64, i64) {
    let lo = b.iter().map(|e| e.time).min().unwrap_or(0);
    let hi = b.iter().map(|e| e.time).max().unwrap_or(0);
    (lo, hi)
}

fn bindings(n: &PNode, leaves: &[VecDeque<Ev>]) -> Vec<Binding> {
    match n {
        PNode::Never => Vec::new(),
        PNode::Leaf(l) => leaves
            .get(usize::from(*l))
            .map(|q| q.iter().map(|e| vec![*e]).collect())
            .unwrap_or_default(),
        PNode::Op(ObservationOp::Or, a, b) => {
            let mut x = bindings(a, leaves);
            x.extend(bindings(b, leaves));
            x.truncate(MAX_BINDINGS);
            x
        }
        PNode::Op(op, a, b) => {
            let (x, y) = (bindings(a, leaves), bindings(b, leaves));
            let mut out = Vec::new();
            'outer: for p in &x {
                for q in &y {
                    if !disjoint(p, q) {
                        continue;
                    }
                    if *op == ObservationOp::FollowedBy && span(p).1 > span(q).0 {
                        continue;
                    }
                    let mut m = p.clone();
                    m.extend_from_slice(q);
                    out.push(m);
                    if out.len() >= MAX_BINDINGS {
                        break 'outer;
                    }
                }
            }
            out
        }
        PNode::Within(x, w) => bindings(x, leaves)
            .into_iter()
            .filter(|b| {
                let (lo, hi) = span(b);
                hi.saturating_sub(lo) <= *w
            })
            .collect(),
        PNode::StartStop(x, a, b) => bindings(x, leaves)
            .into_iter()
            .filter(|bd| bd.iter().all(|e| *a <= e.time && e.time < *b))
            .collect(),
        PNode::Repeats(x, n) => {
            let base = bindings(x, leaves);
            let n = *n as usize;
            let mut out = Vec::new();
            let mut pick = Vec::new();
            repeats(&base, n, 0, &mut pick, &mut out);
            out
        }
    }
}

/// All sets of `n` pairwise-disjoint bindings from `base[from..]` (capped).
fn repeats(base: &[Binding], n: usize, from: usize, pick: &mut Vec<usize>, out: &mut Vec<Binding>) {
    if out.len() >= MAX_BINDINGS {
        return;
    }
    if pick.len() == n {
        out.push(pick.iter().flat_map(|&i| base[i].iter().copied()).collect());
        return;
    }
    for i in from..base.len() {
        if pick.iter().all(|&j| disjoint(&base[i], &base[j])) {
            pick.push(i);
            repeats(base, n, i + 1, pick, out);
            pick.pop();
        }
    }
}

/// Per-scan state of the multi-observation patterns.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    patterns: HashMap<u32, Vec<VecDeque<Ev>>>,
}

impl StreamState {
    pub(crate) fn clear(&mut self) {
        self.patterns.clear();
    }

    /// Records that leaf `leaf` of pattern `p` matched `ev`; returns whether the pattern now
    /// matches with a binding that includes `ev`.
    pub(crate) fn on_leaf(&mut self, p: u32, tree: &PNode, leaves: u16, leaf: u16, ev: Ev) -> bool {
        let st = self
            .patterns
            .entry(p)
            .or_insert_with(|| vec![VecDeque::new(); usize::from(leaves)]);
        let Some(q) = st.get_mut(usize::from(leaf)) else {
            return false;
        };
        if q.len() == EVENTS_PER_LEAF {
            q.pop_front();
        }
        q.push_back(ev);
        let hit = bindings(tree, st).iter().any(|b| b.contains(&ev));
        if hit {
            self.patterns.remove(&p);
        }
        hit
    }
}
