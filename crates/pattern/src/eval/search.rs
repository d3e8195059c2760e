//! The binding search: lazy streams of bindings, one per node of the observation tree, in the
//! reference matcher's order (symmetric joins for `AND`/`FOLLOWEDBY`, alternation for `OR`,
//! disjoint combinations for `REPEATS`), with every join test and combination step counted
//! against a budget.
//!
//! Bounds: instances of one observation are capped at the largest binding the pattern can
//! form (instances of one observation are interchangeable, so more can never help); the total
//! work is capped by [`EvalOptions::max_steps`].

use std::collections::VecDeque;

use super::{Binding, BoundObservation, EvalError, EvalOptions, Matcher, Node, Observations};

/// (observation, instance).
type Inst = (u32, u64);

#[derive(Debug, Clone)]
struct B {
    /// (leaf, instance) pairs.
    slots: Vec<(u32, Inst)>,
}

impl B {
    fn disjoint(&self, other: &B) -> bool {
        self.slots
            .iter()
            .all(|(_, a)| other.slots.iter().all(|(_, b)| a != b))
    }

    fn join(&self, other: &B) -> B {
        let mut slots = Vec::with_capacity(self.slots.len() + other.slots.len());
        slots.extend_from_slice(&self.slots);
        slots.extend_from_slice(&other.slots);
        B { slots }
    }
}

struct Ctx<'a> {
    obs: &'a Observations,
    steps: u64,
    max_steps: u64,
}

impl Ctx<'_> {
    fn step(&mut self) -> Result<(), EvalError> {
        self.steps += 1;
        if self.steps > self.max_steps {
            Err(EvalError::SearchLimit(self.max_steps))
        } else {
            Ok(())
        }
    }

    fn latest_first(&self, b: &B) -> i128 {
        b.slots
            .iter()
            .map(|(_, (o, _))| self.obs.obs[*o as usize].first)
            .max()
            .unwrap_or(i128::MIN)
    }

    fn earliest_last(&self, b: &B) -> i128 {
        b.slots
            .iter()
            .map(|(_, (o, _))| self.obs.obs[*o as usize].last)
            .min()
            .unwrap_or(i128::MAX)
    }
}

enum Stream {
    Leaf {
        leaf: u32,
        obs: Vec<u32>,
        pos: usize,
        inst: u64,
        cap: u64,
    },
    Join {
        followed_by: bool,
        l: Box<Stream>,
        r: Box<Stream>,
        lc: Vec<B>,
        rc: Vec<B>,
        ln: Option<B>,
        rn: Option<B>,
        started: bool,
        done: bool,
        pending: VecDeque<B>,
    },
    Or {
        l: Box<Stream>,
        r: Box<Stream>,
        l_done: bool,
        r_done: bool,
        left_turn: bool,
    },
    Within {
        inner: Box<Stream>,
        nanos: i128,
    },
    Repeats(Box<RepeatState>),
}

struct RepeatState {
    inner: Stream,
    n: usize,
    /// Bindings seen so far.
    seen: Vec<B>,
    inner_done: bool,
    /// The current new binding and the disjoint-combination enumeration over earlier ones.
    current: Option<(B, Combos)>,
}

/// Enumerates `k`-sized pairwise-disjoint combinations of `cands`, depth first.
struct Combos {
    cands: Vec<B>,
    k: usize,
    stack: Vec<usize>,
    next: usize,
    /// Whether the search just descended (or started), so the bound is worth checking.
    next_is_fresh: bool,
}

impl Combos {
    fn new(cands: Vec<B>, k: usize) -> Self {
        Combos {
            cands,
            k,
            stack: Vec::new(),
            next: 0,
            next_is_fresh: true,
        }
    }

    /// An upper bound check (after the reference matcher's `_bound_largest_combination`):
    /// the candidates from `next` on that are disjoint from those chosen hold some number of
    /// distinct instances; `need` more disjoint bindings of at least `min` instances each need
    /// `need * min` of them.
    fn can_reach(&self, need: usize, ctx: &mut Ctx<'_>) -> Result<bool, EvalError> {
        let mut distinct: Vec<Inst> = Vec::new();
        let mut min = usize::MAX;
        for c in &self.cands[self.next..] {
            ctx.step()?;
            if !self.stack.iter().all(|&i| self.cands[i].disjoint(c)) {
                continue;
            }
            min = min.min(c.slots.len().max(1));
            for (_, inst) in &c.slots {
                distinct.push(*inst);
            }
        }
        if min == usize::MAX {
            return Ok(false);
        }
        distinct.sort_unstable();
        distinct.dedup();
        Ok(distinct.len() >= need.saturating_mul(min))
    }

    fn next(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<B>, EvalError> {
        if self.k == 0 {
            // Yield the empty combination once.
            if self.next == 0 {
                self.next = 1;
                return Ok(Some(B { slots: Vec::new() }));
            }
            return Ok(None);
        }
        loop {
            if self.stack.len() == self.k {
                let mut out = B { slots: Vec::new() };
                for &i in &self.stack {
                    out.slots.extend_from_slice(&self.cands[i].slots);
                }
                if let Some(last) = self.stack.pop() {
                    self.next = last + 1;
                }
                return Ok(Some(out));
            }
            let need = self.k - self.stack.len();
            if self.next >= self.cands.len() || self.cands.len() - self.next < need {
                match self.stack.pop() {
                    None => return Ok(None),
                    Some(last) => {
                        self.next = last + 1;
                        continue;
                    }
                }
            }
            if need >= 2 && self.next_is_fresh && !self.can_reach(need, ctx)? {
                // Not enough disjoint material left below this node: backtrack.
                match self.stack.pop() {
                    None => return Ok(None),
                    Some(last) => {
                        self.next = last + 1;
                        continue;
                    }
                }
            }
            self.next_is_fresh = false;
            ctx.step()?;
            let c = &self.cands[self.next];
            if self.stack.iter().all(|&i| self.cands[i].disjoint(c)) {
                self.next_is_fresh = true;
                self.stack.push(self.next);
            }
            self.next += 1;
        }
    }
}

impl Stream {
    fn build(node: &Node, leaf_obs: &mut [Vec<u32>], cap: u64) -> Stream {
        match node {
            Node::Leaf(i) => Stream::Leaf {
                leaf: *i as u32,
                obs: std::mem::take(&mut leaf_obs[*i]),
                pos: 0,
                inst: 0,
                cap,
            },
            Node::And(l, r) | Node::FollowedBy(l, r) => Stream::Join {
                followed_by: matches!(node, Node::FollowedBy(..)),
                l: Box::new(Stream::build(l, leaf_obs, cap)),
                r: Box::new(Stream::build(r, leaf_obs, cap)),
                lc: Vec::new(),
                rc: Vec::new(),
                ln: None,
                rn: None,
                started: false,
                done: false,
                pending: VecDeque::new(),
            },
            Node::Or(l, r) => Stream::Or {
                l: Box::new(Stream::build(l, leaf_obs, cap)),
                r: Box::new(Stream::build(r, leaf_obs, cap)),
                l_done: false,
                r_done: false,
                left_turn: true,
            },
            Node::Within(i, nanos) => Stream::Within {
                inner: Box::new(Stream::build(i, leaf_obs, cap)),
                nanos: *nanos,
            },
            Node::Repeats(i, n) => Stream::Repeats(Box::new(RepeatState {
                inner: Stream::build(i, leaf_obs, cap),
                n: *n as usize,
                seen: Vec::new(),
                inner_done: false,
                current: None,
            })),
        }
    }

    fn next(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<B>, EvalError> {
        match self {
            Stream::Leaf {
                leaf,
                obs,
                pos,
                inst,
                cap,
            } => {
                while let Some(&o) = obs.get(*pos) {
                    let count = ctx.obs.obs[o as usize].count.min(*cap);
                    if *inst < count {
                        let b = B {
                            slots: vec![(*leaf, (o, *inst))],
                        };
                        *inst += 1;
                        return Ok(Some(b));
                    }
                    *pos += 1;
                    *inst = 0;
                }
                Ok(None)
            }
            Stream::Join {
                followed_by,
                l,
                r,
                lc,
                rc,
                ln,
                rn,
                started,
                done,
                pending,
            } => loop {
                if let Some(b) = pending.pop_front() {
                    return Ok(Some(b));
                }
                if *done {
                    return Ok(None);
                }
                if !*started {
                    *started = true;
                    *rn = r.next(ctx)?;
                    *ln = l.next(ctx)?;
                    if rn.is_none() || ln.is_none() {
                        *done = true;
                    }
                    continue;
                }
                if rn.is_none() && ln.is_none() {
                    *done = true;
                    continue;
                }
                if let Some(rb) = rn.take() {
                    let earliest_last = ctx.earliest_last(&rb);
                    for lb in lc.iter() {
                        ctx.step()?;
                        if lb.disjoint(&rb)
                            && (!*followed_by || ctx.latest_first(lb) <= earliest_last)
                        {
                            pending.push_back(lb.join(&rb));
                        }
                    }
                    rc.push(rb);
                    *rn = r.next(ctx)?;
                }
                if let Some(lb) = ln.take() {
                    let latest_first = ctx.latest_first(&lb);
                    for rb in rc.iter() {
                        ctx.step()?;
                        if lb.disjoint(rb)
                            && (!*followed_by || latest_first <= ctx.earliest_last(rb))
                        {
                            pending.push_back(lb.join(rb));
                        }
                    }
                    lc.push(lb);
                    *ln = l.next(ctx)?;
                }
            },
            Stream::Or {
                l,
                r,
                l_done,
                r_done,
                left_turn,
            } => loop {
                if *l_done && *r_done {
                    return Ok(None);
                }
                let take_left = (*left_turn && !*l_done) || *r_done;
                *left_turn = !take_left;
                if take_left {
                    match l.next(ctx)? {
                        Some(b) => return Ok(Some(b)),
                        None => *l_done = true,
                    }
                } else {
                    match r.next(ctx)? {
                        Some(b) => return Ok(Some(b)),
                        None => *r_done = true,
                    }
                }
            },
            Stream::Within { inner, nanos } => {
                while let Some(b) = inner.next(ctx)? {
                    ctx.step()?;
                    if ctx.latest_first(&b) <= ctx.earliest_last(&b).saturating_add(*nanos) {
                        return Ok(Some(b));
                    }
                }
                Ok(None)
            }
            Stream::Repeats(st) => st.next(ctx),
        }
    }
}

impl RepeatState {
    fn next(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<B>, EvalError> {
        if self.n == 1 {
            return self.inner.next(ctx);
        }
        loop {
            if let Some((b, combos)) = &mut self.current {
                if let Some(c) = combos.next(ctx)? {
                    return Ok(Some(c.join(b)));
                }
                let (b, _) = self.current.take().expect("checked just above");
                self.seen.push(b);
            }
            if self.inner_done {
                return Ok(None);
            }
            match self.inner.next(ctx)? {
                None => {
                    self.inner_done = true;
                    return Ok(None);
                }
                Some(b) => {
                    if self.seen.len() + 1 < self.n {
                        self.seen.push(b);
                        continue;
                    }
                    let mut cands = Vec::new();
                    for s in &self.seen {
                        ctx.step()?;
                        if s.disjoint(&b) {
                            cands.push(s.clone());
                        }
                    }
                    self.current = Some((b, Combos::new(cands, self.n - 1)));
                }
            }
        }
    }
}

pub(super) fn find(
    m: &Matcher,
    obs: &Observations,
    mut leaf_obs: Vec<Vec<u32>>,
    options: &EvalOptions,
) -> Result<Option<Binding>, EvalError> {
    let mut stream = Stream::build(&m.root, &mut leaf_obs, m.max_binding);
    let mut ctx = Ctx {
        obs,
        steps: 0,
        max_steps: options.max_steps,
    };
    Ok(stream.next(&mut ctx)?.map(|b| Binding {
        slots: b
            .slots
            .into_iter()
            .map(|(leaf, (o, i))| BoundObservation {
                observation_expression: leaf as usize,
                observation: o as usize,
                instance: i,
            })
            .collect(),
    }))
}
