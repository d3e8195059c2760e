//! The compiled matcher: turns a set of STIX indicators into indexes built once, and matches
//! telemetry [`Record`]s against them, one record at a time.
//!
//! Design (ripgrep's "literal prefilter, expensive engine on candidates"): each `[…]`
//! observation expression of each active indicator is reduced to cheap keys ("anchors") one of
//! which any matching record must carry: addresses as integers in hash sets, CIDR blocks in
//! prefix-length tables, digests as bytes, other values as text in one arena-backed hash
//! table, `LIKE` literals in one Aho-Corasick automaton and `MATCHES` regexes in one regex set.
//! A record's values are probed; only the candidates are evaluated exactly (and an `=` test
//! on a value property needs no evaluation at all). Expressions with no anchor (`!=`, `<`,
//! `NOT …`) are evaluated on every record and reported by [`compile`]. Patterns over several
//! observations keep bounded per-pattern state (see [`stream`]'s constants).
//!
//! Semantics are the pattern evaluator's, over the observation a record stands for (see
//! `verify`), with one deliberate difference: literals compared with addresses, domain names
//! and digests are normalised like the readers normalise logged values (canonical address
//! text, lower-case names without a trailing dot, lower-case hex), so that `'2001:DB8::1'`
//! and `'Evil.Example'` find what an analyst means.
//!
//! What it must never do: perform I/O, panic on input, allocate per record on the hot path
//! (the [`Scanner`] keeps reused buffers), or run a regex in super-linear time. A [`Compiled`]
//! set is immutable: an application swaps a new one in (e.g. with `arc-swap`) and resets its
//! scanners' stream state.

pub mod canon;
pub mod export;
pub mod flat;
mod index;
pub mod indicator;
mod observed;
pub mod occurrence;
pub mod stream;
pub mod suricata;
mod verify;
pub mod warninglist;

pub use flat::FlatError;
pub use indicator::{Indicator, IndicatorError, IndicatorRef, indicators_from_document};
pub use observed::record_to_observed_data;

use std::hash::BuildHasher;

use pattern::StixVersion;
use regex_automata::PatternSet;
use telemetry::{Field, Record};

use crate::index::{Index, anchors, is_exact};
use crate::stream::{Ev, PNode, StreamState};
use crate::verify::VExpr;

/// What to compile.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Keep only indicators active at this time (nanoseconds since the epoch).
    pub at: Option<i64>,
    /// Keep only indicators added after this time (retro-hunting).
    pub added_after: Option<i64>,
    /// Let an observation expression that is one domain equality (`domain-name:value = 'd'`
    /// or `IN (…)`) also match the proper subdomains of `d` (hits say [`Hit::subdomain`]).
    /// Off by default: STIX `=` is exact.
    pub subdomains: bool,
}

/// Why an indicator was not compiled, or compiled with a caveat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The pattern is not valid (or its regex cannot be compiled): skipped.
    InvalidPattern,
    /// Some observation expression has no cheap key: it is evaluated on every record.
    Unanchored,
    /// No record a reader produces can match it (it tests properties logs never carry).
    NeverMatches,
    /// The indicator's id or name is unusable.
    BadIndicator,
    /// Every value of the indicator is on a warninglist with the `drop` policy: skipped.
    Suppressed,
}

/// A problem with one indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The indicator id.
    pub indicator: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// A sentence.
    pub message: String,
}

/// What [`compile`] did.
#[derive(Debug, Clone, Default)]
pub struct CompileReport {
    /// Indicators compiled.
    pub compiled: usize,
    /// Skipped: revoked.
    pub revoked: usize,
    /// Skipped: not active at the time asked.
    pub inactive: usize,
    /// Skipped: not added after the time asked.
    pub not_added_since: usize,
    /// Skipped: `pattern_type` is not `stix`.
    pub not_stix: usize,
    /// Skipped: every value on a `drop` warninglist (each also in `problems`, with the reason).
    pub suppressed: usize,
    /// Problems, one per indicator at most.
    pub problems: Vec<Problem>,
    /// Versions set aside because a later version of the same id was given
    /// ([`Compiler::add_version`]).
    pub superseded: usize,
}

const EXACT: u32 = u32::MAX;
const NO_COMPLEX: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct IndEntry {
    off: u32,
    id_len: u16,
    name_len: u16,
    first_obs: u32,
    complex: u32,
    /// Some value is on a warninglist: hits are checked against the lists.
    warned: bool,
}

#[derive(Debug, Clone, Copy)]
struct ObsEntry {
    ind: u32,
    /// Index into `verifiers`, or `EXACT`.
    verify: u32,
}

#[derive(Debug, Clone)]
struct Complex {
    tree: PNode,
    leaves: u16,
}

/// A compiled set of indicators. Immutable; share it between threads.
#[derive(Debug, Default)]
pub struct Compiled {
    text: String,
    inds: Vec<IndEntry>,
    obs: Vec<ObsEntry>,
    verifiers: Vec<VExpr>,
    complex: Vec<Complex>,
    index: Index,
    always: Vec<u32>,
    warninglists: Option<std::sync::Arc<warninglist::Warninglists>>,
    /// The indicators whose observation expressions need more than the tables (an evaluator,
    /// a stream tree, an automaton): their patterns, compiled again when a set is read back
    /// from bytes ([`Compiled::from_bytes`]).
    rich: Vec<(u32, Box<str>)>,
    /// The times `at` for which the same indicators are active (`[lo, hi)`), as compiled.
    window: (i64, i64),
}

/// One hit: an indicator matched a record, through the value of one of its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the indicator in the compiled set.
    pub indicator: u32,
    /// Index of the record entry whose value matched (`None` when no single value did, e.g.
    /// a `NOT` test).
    pub entry: Option<usize>,
    /// The value is a proper subdomain of a domain the indicator names, matched only because
    /// of [`CompileOptions::subdomains`].
    pub subdomain: bool,
    /// The value is on a warninglist with the `inform` policy ([`Compiled::warninglist_finding`]
    /// says which and why): report it as "inform only".
    pub inform: bool,
}

/// Per-scan mutable state: reused buffers and the stream state of multi-observation patterns.
#[derive(Debug)]
pub struct Scanner {
    /// Candidates: observation expression, proposed through a subdomain key, record entry.
    cands: Vec<(u32, bool, u16)>,
    /// The fields whose values the indexes can find something for.
    probed: telemetry::FieldSet,
    set: PatternSet,
    stream: StreamState,
    seq: u64,
    last_time: i64,
}

impl Scanner {
    /// A scanner for `compiled`.
    pub fn new(compiled: &Compiled) -> Scanner {
        Scanner {
            cands: Vec::new(),
            probed: compiled.index.probed_fields(),
            set: PatternSet::new(compiled.index.regex_count()),
            stream: StreamState::default(),
            seq: 0,
            last_time: 0,
        }
    }

    /// Forgets the stream state (call after swapping in another compiled set).
    pub fn reset(&mut self, compiled: &Compiled) {
        self.stream.clear();
        self.probed = compiled.index.probed_fields();
        self.set = PatternSet::new(compiled.index.regex_count());
    }
}

/// Compiles indicators. Never fails as a whole: each indicator that cannot be compiled is
/// skipped and reported.
pub fn compile(indicators: &[Indicator], opts: &CompileOptions) -> (Compiled, CompileReport) {
    let mut c = Compiler::new(*opts);
    for ind in indicators {
        c.add(ind);
    }
    c.finish()
}

/// The order of an object's versions, greater is later: `time` (`modified`, else `created`),
/// then `created`, then `withhold` (the caller's tie-break: e.g. revoked before not revoked,
/// the more restrictive TLP before the less). [`Compiler::add_version`] keeps, per id, the
/// version with the greatest key, the first one given on a tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct VersionKey {
    /// `modified`, else `created` (nanoseconds; `i64::MIN` when absent).
    pub time: i64,
    /// `created` (nanoseconds; `i64::MIN` when absent).
    pub created: i64,
    /// Tie-break: greater withholds more.
    pub withhold: u8,
}

/// What became of one version given to the compiler.
const OUT_REVOKED: u32 = u32::MAX;
const OUT_INACTIVE: u32 = u32::MAX - 1;
const OUT_NOT_ADDED: u32 = u32::MAX - 2;
const OUT_NOT_STIX: u32 = u32::MAX - 3;
const OUT_SUPPRESSED: u32 = u32::MAX - 4;
const OUT_REFUSED: u32 = u32::MAX - 5;
const NO_PROBLEM: u32 = u32::MAX;

/// The latest version seen of one id: its key, its outcome (a staged indicator number or an
/// `OUT_…` code) and its problem. 40 bytes per id while compiling, freed by `finish`.
#[derive(Debug, Clone, Copy)]
struct Version {
    /// `indicator--<uuid>` as 128 bits, or an offset and length into `Compiler::id_text`.
    id: [u64; 2],
    uuid: bool,
    key: VersionKey,
    outcome: u32,
    problem: u32,
}

/// The 128 bits of a canonical (lower-case) `indicator--<uuid>` id.
fn uuid_bits(id: &str) -> Option<u128> {
    let u = id.strip_prefix("indicator--")?.as_bytes();
    if u.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &b) in u.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// What is built while indicators are added, before [`Compiler::finish`] lays it out.
#[derive(Debug, Default)]
struct Stage {
    text: String,
    inds: Vec<IndEntry>,
    dead: Vec<bool>,
    obs: Vec<ObsEntry>,
    verifiers: Vec<VExpr>,
    complex: Vec<Complex>,
    index: index::Staging,
    always: Vec<u32>,
    rich: Vec<(u32, Box<str>)>,
}

/// An incremental [`compile`]: indicators are added one at a time (from a store cursor, a
/// streaming parser), so the caller never holds them all. Keys go into plain vectors while
/// indicators are added; [`Compiler::finish`] builds every table once, at its final size.
#[derive(Debug)]
pub struct Compiler {
    opts: CompileOptions,
    warninglists: Option<std::sync::Arc<warninglist::Warninglists>>,
    report: CompileReport,
    problems: Vec<Option<Problem>>,
    st: Stage,
    versions: Vec<Version>,
    /// Version numbers by id (hashed from `versions`).
    by_id: hashbrown::HashTable<u32>,
    id_text: String,
    hasher: hashbrown::DefaultHashBuilder,
    dead_inds: usize,
    window: (i64, i64),
}

impl Default for Compiler {
    fn default() -> Compiler {
        Compiler::new(CompileOptions::default())
    }
}

impl Compiler {
    /// A compiler with these options.
    pub fn new(opts: CompileOptions) -> Compiler {
        Compiler {
            opts,
            warninglists: None,
            report: CompileReport::default(),
            problems: Vec::new(),
            st: Stage::default(),
            versions: Vec::new(),
            by_id: hashbrown::HashTable::new(),
            id_text: String::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            dead_inds: 0,
            window: (i64::MIN, i64::MAX),
        }
    }

    /// Checks indicators' canonical values ([`canon`]) against these warninglists: an
    /// indicator whose values are all on `drop` lists is skipped (reported as
    /// [`ProblemKind::Suppressed`]); hits on a `drop`-listed value of another indicator are not
    /// reported, hits on an `inform`-listed one are marked [`Hit::inform`].
    pub fn with_warninglists(mut self, lists: std::sync::Arc<warninglist::Warninglists>) -> Self {
        self.warninglists = Some(lists);
        self
    }

    /// Adds one indicator (or counts why it is left out).
    pub fn add(&mut self, ind: &Indicator) {
        self.add_one(&ind.view());
    }

    /// Adds one version of an indicator, keeping only the latest version of each id among
    /// all those added this way ([`VersionKey`]): an older version given later is set aside,
    /// and a later version replaces the one compiled before, even when the later one is then
    /// left out (revoked, expired, …: the id is withdrawn, never served by an older version).
    pub fn add_version(&mut self, ind: &Indicator, key: VersionKey) {
        self.version_of(&ind.id, key, Some(&ind.view()));
    }

    /// [`Compiler::add_version`] of a borrowed indicator (a reader that keeps the fields of
    /// many indicators in one buffer need not allocate per indicator).
    pub fn add_version_ref(&mut self, ind: &IndicatorRef<'_>, key: VersionKey) {
        self.version_of(ind.id, key, Some(ind));
    }

    /// Records a version of `id` whose object could not be read as an indicator: it takes
    /// part in choosing the latest version (a later unreadable version withdraws the id) and
    /// is never compiled.
    pub fn add_unusable_version(&mut self, id: &str, key: VersionKey) {
        self.version_of(id, key, None);
    }

    fn add_maybe(&mut self, ind: Option<&IndicatorRef<'_>>) -> (u32, u32) {
        match ind {
            Some(i) => self.add_one(i),
            None => (OUT_REFUSED, NO_PROBLEM),
        }
    }

    fn version_of(&mut self, id: &str, key: VersionKey, ind: Option<&IndicatorRef<'_>>) {
        if let Some(u) = uuid_bits(id) {
            // Canonical ids (nearly all): every version is compiled as it comes, and the
            // versions of one id are found once, by sorting, in `finish` (`settle`), instead of
            // a look-up per version in a table of every id.
            let (outcome, problem) = self.add_maybe(ind);
            self.versions.push(Version {
                id: [(u >> 64) as u64, u as u64],
                uuid: true,
                key,
                outcome,
                problem,
            });
            return;
        }
        let h = self.hasher.hash_one(id.as_bytes());
        let (versions, id_text) = (&self.versions, &self.id_text);
        let same = |v: &Version| {
            !v.uuid && id_text.get(v.id[0] as usize..(v.id[0] + v.id[1]) as usize) == Some(id)
        };
        if let Some(&n) = self.by_id.find(h, |&n| same(&versions[n as usize])) {
            self.report.superseded += 1;
            let old = self.versions[n as usize];
            if key <= old.key {
                return;
            }
            self.undo(old);
            let (outcome, problem) = self.add_maybe(ind);
            let v = &mut self.versions[n as usize];
            (v.key, v.outcome, v.problem) = (key, outcome, problem);
            return;
        }
        let off = self.id_text.len() as u64;
        self.id_text.push_str(id);
        let (outcome, problem) = self.add_maybe(ind);
        let n = self.versions.len() as u32;
        self.versions.push(Version {
            id: [off, id.len() as u64],
            uuid: false,
            key,
            outcome,
            problem,
        });
        let (versions, id_text, hasher) = (&self.versions, &self.id_text, &self.hasher);
        self.by_id.insert_unique(h, n, |&n| {
            let v = &versions[n as usize];
            let t = id_text
                .get(v.id[0] as usize..(v.id[0] + v.id[1]) as usize)
                .unwrap_or("");
            hasher.hash_one(t.as_bytes())
        });
    }

    /// Keeps, among the versions of each canonical id, the one with the greatest key (the
    /// first given on a tie) and takes back the others, as if they had been set aside when
    /// they came: the same outcome as [`Compiler::version_of`]'s look-up for other ids.
    fn settle(&mut self) {
        let mut ids: Vec<([u64; 2], u32)> = self
            .versions
            .iter()
            .enumerate()
            .filter(|(_, v)| v.uuid)
            .map(|(n, v)| (v.id, n as u32))
            .collect();
        ids.sort_unstable();
        for run in ids.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < 2 {
                continue;
            }
            // Given order within the run (sorted by number): the first greatest key wins.
            let mut best = run[0].1;
            for &(_, n) in &run[1..] {
                if self.versions[n as usize].key > self.versions[best as usize].key {
                    best = n;
                }
            }
            for &(_, n) in run {
                if n != best {
                    self.report.superseded += 1;
                    self.undo(self.versions[n as usize]);
                }
            }
        }
    }

    /// Takes back what one version counted and compiled.
    fn undo(&mut self, v: Version) {
        let r = &mut self.report;
        match v.outcome {
            OUT_REVOKED => r.revoked -= 1,
            OUT_INACTIVE => r.inactive -= 1,
            OUT_NOT_ADDED => r.not_added_since -= 1,
            OUT_NOT_STIX => r.not_stix -= 1,
            OUT_SUPPRESSED => r.suppressed -= 1,
            OUT_REFUSED => {}
            i => {
                r.compiled -= 1;
                if let Some(d) = self.st.dead.get_mut(i as usize) {
                    *d = true;
                    self.dead_inds += 1;
                }
            }
        }
        if let Some(p) = self.problems.get_mut(v.problem as usize) {
            *p = None;
        }
    }

    /// Narrows the window of scan times for which the same indicators are active.
    fn narrow(&mut self, ind: &IndicatorRef<'_>, at: i64) {
        let (lo, hi) = &mut self.window;
        if let Some(f) = ind.valid_from {
            if f <= at {
                *lo = (*lo).max(f);
            } else {
                *hi = (*hi).min(f);
            }
        }
        if let Some(u) = ind.valid_until {
            if u > at {
                *hi = (*hi).min(u);
            } else {
                *lo = (*lo).max(u);
            }
        }
    }

    fn add_one(&mut self, ind: &IndicatorRef<'_>) -> (u32, u32) {
        let opts = self.opts;
        let report = &mut self.report;
        if ind.revoked {
            report.revoked += 1;
            return (OUT_REVOKED, NO_PROBLEM);
        }
        if let Some(at) = opts.at {
            self.narrow(ind, at);
            if !ind.active_at(at) {
                self.report.inactive += 1;
                return (OUT_INACTIVE, NO_PROBLEM);
            }
        }
        let report = &mut self.report;
        if let Some(since) = opts.added_after
            && ind.added.is_none_or(|a| a <= since)
        {
            report.not_added_since += 1;
            return (OUT_NOT_ADDED, NO_PROBLEM);
        }
        if ind.pattern_type != "stix" {
            report.not_stix += 1;
            return (OUT_NOT_STIX, NO_PROBLEM);
        }
        let ind_no = self.st.inds.len() as u32;
        match self
            .st
            .add(ind, opts.subdomains, self.warninglists.as_deref())
        {
            None => {
                report.compiled += 1;
                (ind_no, NO_PROBLEM)
            }
            Some(p) => {
                let pi = self.problems.len() as u32;
                let kind = p.kind;
                self.problems.push(Some(p));
                match kind {
                    ProblemKind::Suppressed => {
                        report.suppressed += 1;
                        (OUT_SUPPRESSED, pi)
                    }
                    ProblemKind::InvalidPattern | ProblemKind::BadIndicator => (OUT_REFUSED, pi),
                    _ => {
                        report.compiled += 1;
                        (ind_no, pi)
                    }
                }
            }
        }
    }

    /// Builds the tables and automata and returns the set.
    pub fn finish(mut self) -> (Compiled, CompileReport) {
        self.settle();
        let Compiler {
            warninglists,
            mut report,
            problems,
            st,
            versions,
            by_id,
            id_text,
            dead_inds,
            window,
            ..
        } = self;
        drop((versions, by_id, id_text));
        report.problems = problems.into_iter().flatten().collect();
        let Stage {
            text,
            inds,
            dead,
            obs,
            verifiers,
            complex,
            index: staged,
            always,
            rich,
        } = st;
        let mut c = Compiled {
            warninglists,
            window,
            ..Compiled::default()
        };
        let fallback;
        if dead_inds == 0 {
            (c.index, fallback) = Index::build(staged, None);
            (
                c.text,
                c.inds,
                c.obs,
                c.verifiers,
                c.complex,
                c.always,
                c.rich,
            ) = (text, inds, obs, verifiers, complex, always, rich);
        } else {
            // Renumber what the superseded versions leave.
            let mut ind_map = vec![index::DEAD; inds.len()];
            let mut obs_map = vec![index::DEAD; obs.len()];
            let mut verifiers: Vec<Option<VExpr>> = verifiers.into_iter().map(Some).collect();
            let mut complex: Vec<Option<Complex>> = complex.into_iter().map(Some).collect();
            let live_text: usize = inds
                .iter()
                .zip(&dead)
                .filter(|(_, d)| !**d)
                .map(|(e, _)| usize::from(e.id_len) + usize::from(e.name_len))
                .sum();
            c.text.reserve_exact(live_text);
            c.inds.reserve_exact(inds.len() - dead_inds);
            for (i, e) in inds.iter().enumerate() {
                if dead[i] {
                    continue;
                }
                let end_obs = inds.get(i + 1).map_or(obs.len() as u32, |n| n.first_obs);
                let mut ne = *e;
                ind_map[i] = c.inds.len() as u32;
                ne.off = c.text.len() as u32;
                let len = usize::from(e.id_len) + usize::from(e.name_len);
                c.text.push_str(&text[e.off as usize..e.off as usize + len]);
                ne.first_obs = c.obs.len() as u32;
                if e.complex != NO_COMPLEX
                    && let Some(cx) = complex.get_mut(e.complex as usize).and_then(Option::take)
                {
                    ne.complex = c.complex.len() as u32;
                    c.complex.push(cx);
                }
                for o in e.first_obs..end_obs {
                    let mut ob = obs[o as usize];
                    obs_map[o as usize] = c.obs.len() as u32;
                    ob.ind = ind_map[i];
                    if ob.verify != EXACT
                        && let Some(v) =
                            verifiers.get_mut(ob.verify as usize).and_then(Option::take)
                    {
                        ob.verify = c.verifiers.len() as u32;
                        c.verifiers.push(v);
                    }
                    c.obs.push(ob);
                }
                c.inds.push(ne);
            }
            drop((text, inds, obs, verifiers, complex));
            c.always = always
                .into_iter()
                .filter_map(|o| {
                    obs_map
                        .get(o as usize)
                        .copied()
                        .filter(|&o| o != index::DEAD)
                })
                .collect();
            c.rich = rich
                .into_iter()
                .filter_map(|(i, p)| {
                    let n = ind_map.get(i as usize).copied()?;
                    (n != index::DEAD).then_some((n, p))
                })
                .collect();
            (c.index, fallback) = Index::build(staged, Some(&obs_map));
        }
        c.always.extend(fallback);
        c.always.sort_unstable();
        c.always.dedup();
        c.text.shrink_to_fit();
        c.inds.shrink_to_fit();
        c.obs.shrink_to_fit();
        c.verifiers.shrink_to_fit();
        (c, report)
    }
}

fn problem(ind: &IndicatorRef<'_>, kind: ProblemKind, message: String) -> Problem {
    Problem {
        indicator: ind.id.to_owned(),
        kind,
        message,
    }
}

/// An indicator's pattern, parsed and reduced to its observation expressions' evaluators
/// (and its stream tree when it spans several observations).
struct Leaves {
    leaves: Vec<VExpr>,
    tree: Option<PNode>,
}

fn leaves_of(pattern: &str) -> Result<Leaves, (ProblemKind, String)> {
    // The common shapes (one `=` on an address, domain, URL, e-mail address or file digest)
    // without the parser; the same result as the full path below.
    if let Some(v) = verify::compile_common(pattern) {
        return Ok(Leaves {
            leaves: vec![v],
            tree: None,
        });
    }
    leaves_of_parsed(pattern)
}

/// [`leaves_of`] through the pattern parser, for every pattern.
fn leaves_of_parsed(pattern: &str) -> Result<Leaves, (ProblemKind, String)> {
    let parsed = pattern::parse(pattern, StixVersion::V21);
    let pat = match (&parsed.pattern, parsed.is_valid()) {
        (Some(p), true) => p,
        _ => {
            let msg = parsed.errors().next().map_or_else(
                || "the pattern is not valid".to_owned(),
                |d| d.render(pattern),
            );
            return Err((ProblemKind::InvalidPattern, msg));
        }
    };
    let mut leaves = Vec::new();
    if let pattern::ObservationExpr::Simple { comparison, .. } = &pat.root {
        // The common case: one observation expression, no inspection needed.
        match verify::compile(comparison) {
            Ok(v) => leaves.push(v),
            Err(e) => return Err((ProblemKind::InvalidPattern, e.0)),
        }
    } else {
        let ins = pat.inspect();
        for e in &ins.observation_expressions {
            let pattern::ObservationExpr::Simple { comparison, .. } = e else {
                continue;
            };
            match verify::compile(comparison) {
                Ok(v) => leaves.push(v),
                Err(e) => return Err((ProblemKind::InvalidPattern, e.0)),
            }
        }
    }
    if u16::try_from(leaves.len()).is_err() {
        return Err((
            ProblemKind::InvalidPattern,
            "too many observation expressions".into(),
        ));
    }
    let tree = (!stream::is_single(&pat.root)).then(|| {
        let mut next = 0;
        stream::build(&pat.root, &mut next)
    });
    Ok(Leaves { leaves, tree })
}

impl Stage {
    /// Adds one indicator; returns a problem if there is one (invalid ones are not added).
    fn add(
        &mut self,
        ind: &IndicatorRef<'_>,
        subdomains: bool,
        warninglists: Option<&warninglist::Warninglists>,
    ) -> Option<Problem> {
        let Ok(id_len) = u16::try_from(ind.id.len()) else {
            return Some(problem(
                ind,
                ProblemKind::BadIndicator,
                "the id is too long".into(),
            ));
        };
        let Leaves { leaves, tree } = match leaves_of(ind.pattern) {
            Ok(l) => l,
            Err((kind, msg)) => return Some(problem(ind, kind, msg)),
        };
        let nleaves = leaves.len() as u16;
        let mut warned = false;
        if let Some(w) = warninglists
            && tree.is_none()
            && let [leaf] = leaves.as_slice()
        {
            let mut vals = Vec::new();
            if canon::of_expr(leaf, &mut vals).is_ok() && !vals.is_empty() {
                let findings: Vec<_> = vals.iter().map(|v| (v, w.check(v))).collect();
                warned = findings.iter().any(|(_, f)| f.is_some());
                if findings.iter().all(|(_, f)| {
                    f.as_ref()
                        .is_some_and(|f| f.policy == warninglist::Policy::Drop)
                }) {
                    let why: Vec<String> = findings
                        .iter()
                        .filter_map(|(v, f)| {
                            f.as_ref()
                                .map(|f| format!("{v}: {} ({})", f.list, f.reason))
                        })
                        .collect();
                    return Some(problem(
                        ind,
                        ProblemKind::Suppressed,
                        format!("on a warninglist, not scanned for: {}", why.join("; ")),
                    ));
                }
            }
        }
        let ind_no = self.inds.len() as u32;
        let first_obs = self.obs.len() as u32;
        let complex = match tree {
            None => NO_COMPLEX,
            Some(tree) => {
                self.complex.push(Complex {
                    tree,
                    leaves: nleaves,
                });
                self.complex.len() as u32 - 1
            }
        };
        let mut rich = complex != NO_COMPLEX;
        let mut out = None;
        let mut never = 0;
        for v in leaves {
            let o = self.obs.len() as u32;
            let a = anchors(&v);
            let exact = is_exact(&v) && a.as_ref().is_some_and(|a| !a.is_empty());
            match a {
                None => {
                    self.always.push(o);
                    out = Some(problem(
                        ind,
                        ProblemKind::Unanchored,
                        "an observation expression has no value to index (e.g. only !=, <, NOT): it is evaluated on every record".into(),
                    ));
                }
                Some(list) if list.is_empty() => never += 1,
                Some(list) => {
                    for anchor in list {
                        if subdomains
                            && exact
                            && let index::Anchor::Str(index::Class::Domain, d) = &anchor
                        {
                            self.index
                                .add(index::Anchor::Str(index::Class::SubdomainOf, d.clone()), o);
                        }
                        self.index.add(anchor, o);
                    }
                }
            }
            let verify = if exact {
                EXACT
            } else {
                rich = true;
                self.verifiers.push(v);
                self.verifiers.len() as u32 - 1
            };
            self.obs.push(ObsEntry {
                ind: ind_no,
                verify,
            });
        }
        if never == nleaves as usize && out.is_none() {
            out = Some(problem(
                ind,
                ProblemKind::NeverMatches,
                "no log record can match: the pattern tests properties or values the readers never produce".into(),
            ));
        }
        if rich {
            self.rich.push((ind_no, ind.pattern.into()));
        }
        let off = self.text.len() as u32;
        self.text.push_str(ind.id);
        let mut name = ind.name.unwrap_or("");
        while name.len() > usize::from(u16::MAX) {
            let mut cut = usize::from(u16::MAX);
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name = &name[..cut];
        }
        self.text.push_str(name);
        self.inds.push(IndEntry {
            off,
            id_len,
            name_len: name.len() as u16,
            first_obs,
            complex,
            warned,
        });
        self.dead.push(false);
        out
    }
}

impl Compiled {
    /// How many indicators the set holds.
    pub fn len(&self) -> usize {
        self.inds.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.inds.is_empty()
    }

    /// The STIX id of indicator `i`.
    pub fn indicator_id(&self, i: u32) -> &str {
        self.inds.get(i as usize).map_or("", |e| {
            &self.text[e.off as usize..e.off as usize + usize::from(e.id_len)]
        })
    }

    /// The name of indicator `i` (empty when it has none).
    pub fn indicator_name(&self, i: u32) -> &str {
        self.inds.get(i as usize).map_or("", |e| {
            let start = e.off as usize + usize::from(e.id_len);
            &self.text[start..start + usize::from(e.name_len)]
        })
    }

    /// The record fields a scan must read for this set to find every hit: the fields whose
    /// values its indexes hold keys for, and every field its exact evaluations read (the
    /// properties they compare and the fields that make a record hold the objects they name).
    /// A reader restricted to them (`telemetry::Reader::restricted`) yields the same hits as
    /// one reading everything.
    pub fn needed_fields(&self) -> telemetry::FieldSet {
        let mut s = self.index.probed_fields();
        if self.index.has_suffixes {
            for f in Field::ALL {
                if index::class_of_field(*f) == Some(index::Class::Domain) {
                    s.insert(*f);
                }
            }
        }
        for v in &self.verifiers {
            s.extend(verify::fields_read(v));
        }
        s
    }

    /// Whether matching a record depends on no record before it: no indicator has a pattern over
    /// several observations (`FOLLOWEDBY`, `REPEATS`, `WITHIN`, ...), whose state a
    /// [`Scanner`] carries from record to record. Only then may a log be cut into parts scanned
    /// apart.
    pub fn is_stateless(&self) -> bool {
        self.complex.is_empty()
    }

    /// How many observation expressions are evaluated on every record.
    pub fn unanchored(&self) -> usize {
        self.always.len()
    }

    /// Bytes of heap the compiled set holds (its tables, arenas and evaluators' shells), an
    /// estimate for the benchmark beside the process's resident memory.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.inds.capacity() * std::mem::size_of::<IndEntry>()
            + self.obs.capacity() * std::mem::size_of::<ObsEntry>()
            + self.verifiers.capacity() * std::mem::size_of::<VExpr>()
            + self.index.heap_bytes()
    }

    /// Whether the set compiled for scan time `at` (with [`CompileOptions::at`]) holds the
    /// same indicators at `at2`: no indicator's `valid_from` or `valid_until` lies between.
    pub fn same_at(&self, at2: i64) -> bool {
        self.window.0 <= at2 && at2 < self.window.1
    }

    /// The set as bytes ([`flat`]), with the caller's `key` (what the set was compiled from,
    /// to compare before use) and `notes`. [`Compiled::write_bytes`] writes the same bytes
    /// without holding them all.
    pub fn to_bytes(&self, key: &[u8], notes: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        // Writing to a vector does not fail.
        let _ = self.write_bytes(key, notes, &mut v);
        v
    }

    /// Writes the set as bytes ([`flat`]) to `w`, as [`Compiled::to_bytes`] returns them, in
    /// blocks: the bytes are laid out twice (the header's length and checksum come first),
    /// never held whole. Returns how many bytes were written.
    pub fn write_bytes(
        &self,
        key: &[u8],
        notes: &[u8],
        w: &mut dyn std::io::Write,
    ) -> std::io::Result<u64> {
        flat::write_sealed(key, notes, &|o| self.lay_out(o), w)
    }

    fn lay_out(&self, w: &mut flat::Out<'_>) {
        use flat::{put_bytes, put_len, put_u32, put_u64};
        put_u64(w, self.window.0 as u64);
        put_u64(w, self.window.1 as u64);
        put_bytes(w, self.text.as_bytes());
        put_len(w, self.inds.len());
        for e in &self.inds {
            put_u32(w, e.off);
            w.extend_from_slice(&e.id_len.to_le_bytes());
            w.extend_from_slice(&e.name_len.to_le_bytes());
            put_u32(w, e.first_obs);
            put_u32(w, e.complex);
            w.push(u8::from(e.warned));
        }
        put_len(w, self.obs.len());
        for o in &self.obs {
            put_u32(w, o.ind);
            put_u32(w, o.verify);
        }
        put_u32(w, self.verifiers.len() as u32);
        put_u32(w, self.complex.len() as u32);
        put_len(w, self.always.len());
        for &o in &self.always {
            put_u32(w, o);
        }
        put_len(w, self.rich.len());
        for (i, p) in &self.rich {
            put_u32(w, *i);
            put_bytes(w, p.as_bytes());
        }
        self.index.write_to(w);
    }

    /// A set read back from what [`Compiled::to_bytes`] wrote ([`flat::open`] checked it);
    /// `warninglists` must be those it was compiled with.
    pub fn from_flat(
        f: &flat::Flat<'_>,
        warninglists: Option<std::sync::Arc<warninglist::Warninglists>>,
    ) -> Result<Compiled, flat::FlatError> {
        let mut rest = f.rest;
        let mut src = flat::Src::checked(&mut rest);
        Compiled::read_body(&mut src, warninglists)
    }

    /// The set whose header, key and notes [`flat::read_head`] read: the rest is read from the
    /// stream straight into the set's tables (no copy of the file in memory), and the set is
    /// returned only when the checksum of the whole body matches and every offset holds.
    /// `warninglists` must be those it was compiled with.
    pub fn read_rest(
        head: flat::Head<'_>,
        warninglists: Option<std::sync::Arc<warninglist::Warninglists>>,
    ) -> Result<Compiled, flat::FlatError> {
        let mut src = head.src;
        match Compiled::read_body(&mut src, warninglists) {
            Ok(c) => Ok(c),
            Err(e) => Err(src.fail(e)),
        }
    }

    fn read_body(
        r: &mut flat::Src<'_>,
        warninglists: Option<std::sync::Arc<warninglist::Warninglists>>,
    ) -> Result<Compiled, flat::FlatError> {
        use flat::corrupt;
        let window = (r.i64()?, r.i64()?);
        let text = r
            .string()
            .map_err(|_| corrupt("the id arena is not UTF-8"))?;
        let n = r.count(17)?;
        let mut inds = Vec::with_capacity(n);
        r.each(n, 17, |e| {
            let u = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
            inds.push(IndEntry {
                off: u(0),
                id_len: u16::from_le_bytes([e[4], e[5]]),
                name_len: u16::from_le_bytes([e[6], e[7]]),
                first_obs: u(8),
                complex: u(12),
                warned: e[16] != 0,
            });
            Ok(())
        })?;
        let n = r.count(8)?;
        let mut obs = Vec::with_capacity(n);
        r.each(n, 8, |e| {
            obs.push(ObsEntry {
                ind: u32::from_le_bytes([e[0], e[1], e[2], e[3]]),
                verify: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            });
            Ok(())
        })?;
        let (nverifiers, ncomplex) = (r.u32()? as usize, r.u32()? as usize);
        if nverifiers > obs.len() || ncomplex > inds.len() {
            return Err(corrupt("more evaluators than expressions"));
        }
        let n = r.count(4)?;
        let mut always = Vec::with_capacity(n);
        r.each(n, 4, |e| {
            let o = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            if o as usize >= obs.len() {
                return Err(corrupt(
                    "an expression evaluated on every record does not exist",
                ));
            }
            always.push(o);
            Ok(())
        })?;
        let n = r.count(12)?;
        let mut rich = Vec::with_capacity(n);
        for _ in 0..n {
            let i = r.u32()?;
            if i as usize >= inds.len() {
                return Err(corrupt("a pattern of an indicator that does not exist"));
            }
            rich.push((i, Box::<str>::from(r.string()?)));
        }
        let mut index = Index::read_from(r, obs.len() as u32)?;
        r.end(true)?;
        // Every reference the scan follows, checked once.
        let mut prev = 0u32;
        for e in &inds {
            let (a, b) = (e.off as usize, e.off as usize + usize::from(e.id_len));
            let c = b + usize::from(e.name_len);
            if c > text.len()
                || !text.is_char_boundary(a)
                || !text.is_char_boundary(b)
                || !text.is_char_boundary(c)
            {
                return Err(corrupt("an id or name outside its arena"));
            }
            if e.first_obs < prev || e.first_obs as usize > obs.len() {
                return Err(corrupt("expressions out of order"));
            }
            if e.complex != NO_COMPLEX && e.complex as usize >= ncomplex {
                return Err(corrupt("a stream tree that does not exist"));
            }
            prev = e.first_obs;
        }
        for o in &obs {
            if o.ind as usize >= inds.len()
                || (o.verify != EXACT && o.verify as usize >= nverifiers)
            {
                return Err(corrupt("an expression points nowhere"));
            }
        }
        // The evaluators, stream trees and automata, from the patterns that need them.
        let mut verifiers: Vec<Option<VExpr>> = (0..nverifiers).map(|_| None).collect();
        let mut complex: Vec<Option<Complex>> = (0..ncomplex).map(|_| None).collect();
        for (i, pat) in &rich {
            let e = inds[*i as usize];
            let end = inds
                .get(*i as usize + 1)
                .map_or(obs.len(), |n| n.first_obs as usize);
            let Leaves { leaves, tree } =
                leaves_of(pat).map_err(|(_, m)| corrupt(format!("a stored pattern: {m}")))?;
            if end - e.first_obs as usize != leaves.len() {
                return Err(corrupt("a stored pattern does not fit its expressions"));
            }
            match (tree, e.complex) {
                (None, NO_COMPLEX) => {}
                (Some(tree), c) if c != NO_COMPLEX => {
                    complex[c as usize] = Some(Complex {
                        tree,
                        leaves: leaves.len() as u16,
                    });
                }
                _ => return Err(corrupt("a stored pattern does not fit its stream tree")),
            }
            for (k, v) in leaves.into_iter().enumerate() {
                let o = e.first_obs + k as u32;
                if obs[o as usize].ind != *i {
                    return Err(corrupt("a stored pattern does not fit its expressions"));
                }
                for a in anchors(&v).unwrap_or_default() {
                    if matches!(a, index::Anchor::Like(_) | index::Anchor::Regex(_)) {
                        index.add_text(a, o);
                    }
                }
                let verify = obs[o as usize].verify;
                if verify != EXACT {
                    verifiers[verify as usize] = Some(v);
                }
            }
        }
        let verifiers: Option<Vec<VExpr>> = verifiers.into_iter().collect();
        let complex: Option<Vec<Complex>> = complex.into_iter().collect();
        let (Some(verifiers), Some(complex)) = (verifiers, complex) else {
            return Err(corrupt("an evaluator without its pattern"));
        };
        if inds.iter().any(|e| e.warned) && warninglists.is_none() {
            return Err(corrupt("compiled with warninglists, read without"));
        }
        always.extend(index.build_engines());
        always.sort_unstable();
        always.dedup();
        Ok(Compiled {
            text,
            inds,
            obs,
            verifiers,
            complex,
            index,
            always,
            warninglists,
            rich,
            window,
        })
    }

    /// Matches one record, appending hits to `hits`. Allocates nothing once the scanner's
    /// buffers have grown (except on hits of multi-observation patterns).
    pub fn scan(&self, rec: &Record, sc: &mut Scanner, hits: &mut Vec<Hit>) {
        sc.seq += 1;
        // Only patterns over several observations read the time of every record (a record's
        // time may be text parsed on demand: the other records never pay for it).
        if !self.complex.is_empty()
            && let Some(t) = rec.timestamp()
        {
            sc.last_time = t;
        }
        sc.cands.clear();
        let text = self.index.has_text_engines;
        let every = text || self.index.has_suffixes;
        for (i, e) in rec.entries().iter().enumerate() {
            let probed = sc.probed.contains(e.field);
            if !probed && !every {
                continue;
            }
            let value = rec.value(e);
            let i = i as u16;
            let cands = &mut sc.cands;
            if probed {
                self.index
                    .probe(e.field, value, rec.binary(e), |o| cands.push((o, false, i)));
            }
            if self.index.has_suffixes {
                self.index
                    .probe_suffixes(e.field, value, |o, sub| cands.push((o, sub, i)));
            }
            if text {
                self.index
                    .probe_text(value, &mut sc.set, |o| cands.push((o, false, i)));
            }
        }
        sc.cands
            .extend(self.always.iter().map(|&o| (o, false, u16::MAX)));
        if sc.cands.is_empty() {
            return;
        }
        // Per expression, a key that matched the value itself sorts before a subdomain key.
        sc.cands.sort_unstable();
        sc.cands.dedup_by_key(|c| c.0);
        for k in 0..sc.cands.len() {
            let (o, sub, entry) = sc.cands[k];
            let Some(ob) = self.obs.get(o as usize) else {
                continue;
            };
            let matched = if ob.verify == EXACT {
                Some(Some(usize::from(entry)))
            } else if sub {
                // Subdomain keys are indexed for exact expressions only.
                None
            } else {
                let v = &self.verifiers[ob.verify as usize];
                if verify::eval(rec, v) != 0 {
                    Some(
                        verify::witness(rec, v)
                            .or((entry != u16::MAX).then_some(usize::from(entry))),
                    )
                } else {
                    None
                }
            };
            let Some(entry) = matched else { continue };
            let ind = self.inds[ob.ind as usize];
            let mut inform = false;
            if ind.warned
                && let Some(f) = self.finding_at(rec, entry)
            {
                if f.policy == warninglist::Policy::Drop {
                    continue;
                }
                inform = true;
            }
            if ind.complex == NO_COMPLEX {
                hits.push(Hit {
                    indicator: ob.ind,
                    entry,
                    subdomain: sub,
                    inform,
                });
            } else {
                let cx = &self.complex[ind.complex as usize];
                let leaf = (o - ind.first_obs) as u16;
                let ev = Ev {
                    seq: sc.seq,
                    time: sc.last_time,
                };
                if sc.stream.on_leaf(ob.ind, &cx.tree, cx.leaves, leaf, ev) {
                    hits.push(Hit {
                        indicator: ob.ind,
                        entry,
                        subdomain: sub,
                        inform,
                    });
                }
            }
        }
    }

    fn finding_at(&self, rec: &Record, entry: Option<usize>) -> Option<warninglist::Finding> {
        let w = self.warninglists.as_ref()?;
        let e = rec.entries().get(entry?)?;
        w.check(&canon::value_of_field(e.field, rec.value(e))?)
    }

    /// The warninglist finding on a hit's value (for [`Hit::inform`] hits: which list, why).
    pub fn warninglist_finding(&self, hit: &Hit, rec: &Record) -> Option<warninglist::Finding> {
        self.finding_at(rec, hit.entry)
    }

    /// The field and value of a hit's entry in `rec`.
    pub fn hit_value<'r>(&self, hit: &Hit, rec: &'r Record) -> Option<(Field, &'r str)> {
        let e = rec.entries().get(hit.entry?)?;
        Some((e.field, rec.value(e)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn ind(id: &str, pattern: &str) -> Indicator {
        Indicator {
            id: format!("indicator--{id}"),
            name: Some(format!("name {id}")),
            pattern: pattern.to_owned(),
            pattern_type: "stix".into(),
            valid_from: None,
            valid_until: None,
            revoked: false,
            added: None,
            marking_refs: Vec::new(),
        }
    }

    fn rec(fields: &[(Field, &str)], time: Option<i64>) -> Record {
        let mut r = Record::new();
        for (f, v) in fields {
            r.push(*f, v).unwrap();
        }
        r.set_timestamp(time);
        r.finish();
        r
    }

    /// Scans records in order; returns (record index, indicator id, matched field value).
    fn scan(inds: &[Indicator], recs: &[Record]) -> Vec<(usize, String, Option<String>)> {
        let (c, report) = compile(inds, &CompileOptions::default());
        assert!(
            report
                .problems
                .iter()
                .all(|p| p.kind != ProblemKind::InvalidPattern),
            "{:?}",
            report.problems
        );
        let mut sc = Scanner::new(&c);
        let mut out = Vec::new();
        let mut hits = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            hits.clear();
            c.scan(r, &mut sc, &mut hits);
            for h in &hits {
                out.push((
                    i,
                    c.indicator_id(h.indicator).to_owned(),
                    c.hit_value(h, r).map(|(_, v)| v.to_owned()),
                ));
            }
        }
        out
    }

    fn ids(v: &[(usize, String, Option<String>)]) -> Vec<(usize, &str)> {
        v.iter()
            .map(|(i, id, _)| (*i, id.trim_start_matches("indicator--")))
            .collect()
    }

    #[test]
    fn single_observation_semantics() {
        let inds = [
            ind("ip", "[ipv4-addr:value = '203.0.113.7']"),
            ind("ip6", "[ipv6-addr:value = '2001:DB8::1']"),
            ind("cidr", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            ind(
                "dst",
                "[network-traffic:dst_ref.value = '203.0.113.7' AND network-traffic:dst_port = 443]",
            ),
            ind("dom", "[domain-name:value = 'Evil.Example.']"),
            ind("like", "[url:value LIKE 'http://drop.%/payload%']"),
            ind("re", "[file:name MATCHES '\\\\.pdf\\\\.exe$']"),
            ind(
                "hash",
                "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
            ),
            ind(
                "cert",
                "[x509-certificate:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            ),
            ind(
                "and-diff",
                "[ipv4-addr:value = '203.0.113.7' AND domain-name:value = 'evil.example']",
            ),
            ind(
                "or",
                "[ipv4-addr:value = '1.1.1.1' OR domain-name:value = 'evil.example']",
            ),
            ind(
                "ne",
                "[domain-name:value != 'good.example' AND url:value = 'http://x.example/']",
            ),
            ind("never", "[process:name = 'evil.exe']"),
        ];
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let recs = [
            rec(
                &[
                    (Field::SourceIp, "10.0.0.1"),
                    (Field::DestinationIp, "203.0.113.7"),
                    (Field::DestinationPort, "443"),
                ],
                None,
            ),
            rec(
                &[
                    (Field::SourceIp, "203.0.113.7"),
                    (Field::DestinationPort, "443"),
                ],
                None,
            ),
            rec(
                &[
                    (Field::DnsQuestion, "EVIL.example"),
                    (Field::DnsResolvedIp, "198.51.100.9"),
                ],
                None,
            ),
            rec(
                &[
                    (Field::UrlDomain, "drop.evil.example"),
                    (Field::UrlPath, "/payload.bin"),
                ],
                None,
            ),
            rec(
                &[
                    (Field::FileName, "invoice.pdf.exe"),
                    (Field::FileSha256, sha),
                ],
                None,
            ),
            rec(
                &[(Field::CertSha256, sha), (Field::SourceIp, "2001:db8::1")],
                None,
            ),
            rec(
                &[
                    (Field::UrlFull, "http://x.example/"),
                    (Field::DnsQuestion, "good.example"),
                ],
                None,
            ),
        ];
        let got = scan(&inds, &recs);
        assert_eq!(
            ids(&got),
            vec![
                (0, "ip"),
                (0, "dst"),
                (1, "ip"),
                (2, "cidr"),
                (2, "dom"),
                (2, "or"),
                (3, "like"),
                (4, "re"),
                (4, "hash"),
                (5, "ip6"),
                (5, "cert"),
            ]
        );
        // The reported value is the one that matched.
        assert_eq!(got[0].2.as_deref(), Some("203.0.113.7"));
        assert_eq!(got[3].2.as_deref(), Some("198.51.100.9"));
        assert_eq!(
            got[6].2.as_deref(),
            Some("http://drop.evil.example/payload.bin")
        );
    }

    #[test]
    fn canonical_shapes_are_scanned() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let inds = [
            ind(
                "misp",
                "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '45.33.32.156']",
            ),
            ind(
                "misp6",
                "[network-traffic:src_ref.type = 'ipv6-addr' AND network-traffic:src_ref.value = '2001:DB8::5']",
            ),
            ind("net", "[ipv4-addr:value = '198.51.100.70/26']"),
            ind(
                "set",
                "[ipv4-addr:value IN ('192.0.2.0/25', '192.0.2.200')]",
            ),
            ind(
                "md5",
                &format!("[file:hashes.md5 = '{}']", md5.to_uppercase()),
            ),
            ind("idn", "[domain-name:value = 'Bücher.Example']"),
            ind("url", "[url:value = 'http://u:p@Evil.Example:80/x#f']"),
        ];
        let recs = [
            rec(&[(Field::DestinationIp, "45.33.32.156")], None),
            rec(&[(Field::SourceIp, "45.33.32.156")], None),
            rec(&[(Field::SourceIp, "2001:db8::5")], None),
            rec(&[(Field::SourceIp, "198.51.100.127")], None),
            rec(&[(Field::SourceIp, "198.51.100.128")], None),
            rec(&[(Field::SourceIp, "192.0.2.100")], None),
            rec(&[(Field::FileMd5, md5)], None),
            rec(&[(Field::DnsQuestion, "xn--bcher-kva.example")], None),
            rec(&[(Field::UrlFull, "http://evil.example/x")], None),
        ];
        assert_eq!(
            ids(&scan(&inds, &recs)),
            vec![
                (0, "misp"),
                (2, "misp6"),
                (3, "net"),
                (5, "set"),
                (6, "md5"),
                (7, "idn"),
                (8, "url")
            ]
        );
    }

    #[test]
    fn warninglisted_values_raise_no_hit() {
        let inds = [
            ind("all", "[ipv4-addr:value = '0.0.0.0/0']"),
            ind(
                "part",
                "[ipv4-addr:value = '8.8.8.8' OR ipv4-addr:value = '45.33.32.156']",
            ),
            ind("doc", "[ipv4-addr:value = '203.0.113.9']"),
        ];
        let lists = std::sync::Arc::new(warninglist::Warninglists::builtin());
        let mut c = Compiler::new(CompileOptions::default()).with_warninglists(lists);
        for i in &inds {
            c.add(i);
        }
        let (set, report) = c.finish();
        assert_eq!(report.suppressed, 1);
        assert_eq!(report.problems[0].kind, ProblemKind::Suppressed);
        assert!(report.problems[0].message.contains("0.0.0.0/0"));
        let mut sc = Scanner::new(&set);
        let mut got = Vec::new();
        for ip in ["8.8.8.8", "45.33.32.156", "203.0.113.9", "10.1.1.1"] {
            let r = rec(&[(Field::DestinationIp, ip)], None);
            let mut hits = Vec::new();
            set.scan(&r, &mut sc, &mut hits);
            for h in hits {
                got.push((ip, set.indicator_id(h.indicator).to_owned(), h.inform));
            }
        }
        assert_eq!(
            got,
            vec![
                ("45.33.32.156", "indicator--part".to_owned(), false),
                ("203.0.113.9", "indicator--doc".to_owned(), true),
            ]
        );
    }

    #[test]
    fn report_counts_and_problems() {
        let mut revoked = ind("r", "[ipv4-addr:value = '1.2.3.4']");
        revoked.revoked = true;
        let mut old = ind("old", "[ipv4-addr:value = '1.2.3.4']");
        old.valid_until = Some(10);
        old.added = Some(5);
        let mut yara = ind("y", "rule x {}");
        yara.pattern_type = "yara".into();
        let inds = [
            revoked,
            old,
            yara,
            ind("bad", "[ipv4-addr:value = ]"),
            ind("ne", "[domain-name:value != 'x']"),
            ind("never", "[process:name = 'x']"),
            ind("ok", "[domain-name:value = 'x']"),
        ];
        let (c, r) = compile(
            &inds,
            &CompileOptions {
                at: Some(20),
                added_after: None,
                subdomains: false,
            },
        );
        assert_eq!(
            (r.revoked, r.inactive, r.not_stix, r.compiled),
            (1, 1, 1, 3)
        );
        let kinds: Vec<_> = r
            .problems
            .iter()
            .map(|p| (p.indicator.as_str(), p.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("indicator--bad", ProblemKind::InvalidPattern),
                ("indicator--ne", ProblemKind::Unanchored),
                ("indicator--never", ProblemKind::NeverMatches),
            ]
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c.unanchored(), 1);
        assert_eq!(c.indicator_name(2), "name ok");
        let (_, r) = compile(
            &inds[1..2],
            &CompileOptions {
                at: None,
                added_after: Some(5),
                subdomains: false,
            },
        );
        assert_eq!(r.not_added_since, 1);
    }

    #[test]
    fn multi_observation_patterns_on_the_stream() {
        let s = 1_000_000_000i64;
        let inds = [
            ind(
                "fb",
                "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.1']",
            ),
            ind(
                "within",
                "([domain-name:value = 'w.example'] AND [ipv4-addr:value = '203.0.113.2']) WITHIN 10 SECONDS",
            ),
            ind("rep", "[domain-name:value = 'r.example'] REPEATS 3 TIMES"),
            ind(
                "ss",
                "[domain-name:value = 's.example'] START t'1970-01-01T00:01:00Z' STOP t'1970-01-01T00:02:00Z'",
            ),
        ];
        let d = |v: &str, t: i64| rec(&[(Field::DnsQuestion, v)], Some(t * s));
        let ip = |v: &str, t: i64| rec(&[(Field::DestinationIp, v)], Some(t * s));
        let recs = [
            ip("203.0.113.1", 1),  // 0: before the domain: no FOLLOWEDBY yet
            d("a.example", 2),     // 1
            ip("203.0.113.1", 3),  // 2: fb fires
            d("w.example", 10),    // 3
            ip("203.0.113.2", 30), // 4: 20 s apart: no
            d("w.example", 35),    // 5: 5 s from 4: within fires
            d("r.example", 40),    // 6
            d("r.example", 41),    // 7
            d("r.example", 42),    // 8: rep fires
            d("s.example", 30),    // 9: before START
            d("s.example", 90),    // 10: ss fires
        ];
        assert_eq!(
            ids(&scan(&inds, &recs)),
            vec![(2, "fb"), (5, "within"), (8, "rep"), (10, "ss")]
        );
    }

    // ---- The index paths against direct evaluation of every expression on every record ----

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

    fn pick(v: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        proptest::sample::select(v)
    }

    #[test]
    fn subdomains_only_when_asked_and_like_suffixes_by_label() {
        let inds = [
            ind("eq", "[domain-name:value = 'Evil.Example']"),
            ind("in", "[domain-name:value IN ('a.example', 'b.example')]"),
            ind("like", "[domain-name:value LIKE '%.bad.example']"),
            ind(
                "and",
                "[domain-name:value = 'c.example' AND url:value = 'http://x/']",
            ),
        ];
        let names = [
            "evil.example",
            "c2.evil.example",
            "x.c2.evil.example",
            "notevil.example",
            "evil.example.net",
            "b.example",
            "q.b.example",
            "bad.example",
            "z.bad.example",
            "zbad.example",
            "y.c.example",
        ];
        let recs: Vec<Record> = names
            .iter()
            .map(|n| rec(&[(Field::DnsQuestion, n)], None))
            .collect();
        let run = |subdomains: bool| -> Vec<(usize, String, bool)> {
            let opts = CompileOptions {
                subdomains,
                ..CompileOptions::default()
            };
            let (c, _) = compile(&inds, &opts);
            let mut sc = Scanner::new(&c);
            let mut out = Vec::new();
            for (i, r) in recs.iter().enumerate() {
                let mut hits = Vec::new();
                c.scan(r, &mut sc, &mut hits);
                for h in hits {
                    assert_eq!(c.hit_value(&h, r).map(|(_, v)| v), Some(names[i]));
                    let id = c
                        .indicator_id(h.indicator)
                        .trim_start_matches("indicator--");
                    out.push((i, id.to_owned(), h.subdomain));
                }
            }
            out
        };
        let t = |i: usize, id: &str, sub: bool| (i, id.to_owned(), sub);
        // STIX semantics: `=` is exact; LIKE '%.bad.example' is every proper subdomain.
        assert_eq!(
            run(false),
            [t(0, "eq", false), t(5, "in", false), t(8, "like", false)]
        );
        assert_eq!(
            run(true),
            [
                t(0, "eq", false),
                t(1, "eq", true),
                t(2, "eq", true),
                t(5, "in", false),
                t(6, "in", true),
                t(8, "like", false),
            ]
        );
    }

    fn test_expr() -> impl Strategy<Value = String> {
        prop_oneof![
            pick(IPS).prop_map(|ip| if ip.contains(':') {
                format!("ipv6-addr:value = '{ip}'")
            } else {
                format!("ipv4-addr:value = '{ip}'")
            }),
            pick(CIDRS).prop_map(|c| format!("ipv4-addr:value ISSUBSET '{c}'")),
            pick(CIDRS).prop_map(|c| format!("ipv6-addr:value ISSUBSET '{c}'")),
            pick(IPS).prop_map(|ip| format!("network-traffic:dst_ref.value = '{ip}'")),
            pick(IPS).prop_map(|ip| format!("network-traffic:src_ref.value ISSUPERSET '{ip}'")),
            pick(PORTS).prop_map(|p| format!("network-traffic:dst_port = {p}")),
            pick(PORTS).prop_map(|p| format!("network-traffic:dst_port > {p}")),
            pick(DOMAINS).prop_map(|d| format!("domain-name:value = '{d}'")),
            pick(DOMAINS).prop_map(|d| format!("domain-name:value != '{d}'")),
            pick(DOMAINS).prop_map(|d| format!("domain-name:value NOT = '{d}'")),
            Just("domain-name:value LIKE '%evil%'".to_owned()),
            Just("domain-name:value LIKE '%.example'".to_owned()),
            Just("domain-name:value LIKE '%.evil.example'".to_owned()),
            Just("domain-name:value LIKE '%.c2.evil.example'".to_owned()),
            Just("domain-name:value MATCHES '^c2\\\\.'".to_owned()),
            pick(URLS).prop_map(|u| format!("url:value = '{u}'")),
            Just("url:value LIKE 'http://evil%'".to_owned()),
            pick(HASHES).prop_map(|h| format!("file:hashes.'SHA-256' = '{h}'")),
            pick(NAMES).prop_map(|n| format!("file:name = '{n}'")),
            Just("file:name MATCHES '\\\\.exe$'".to_owned()),
            Just("file:name IN ('report.pdf', 'x')".to_owned()),
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

    fn record() -> impl Strategy<Value = Record> {
        (
            proptest::option::of(pick(IPS)),
            proptest::option::of(pick(IPS)),
            proptest::option::of(pick(PORTS)),
            proptest::option::of(pick(DOMAINS)),
            proptest::option::of(pick(URLS)),
            proptest::option::of(pick(HASHES)),
            proptest::option::of(pick(NAMES)),
        )
            .prop_map(|(s, d, p, q, u, h, n)| {
                let mut f = Vec::new();
                let fields = [
                    (Field::SourceIp, s),
                    (Field::DestinationIp, d),
                    (Field::DestinationPort, p),
                    (Field::DnsQuestion, q),
                    (Field::UrlFull, u),
                    (Field::FileSha256, h),
                    (Field::FileName, n),
                ];
                for (field, v) in fields {
                    if let Some(v) = v {
                        f.push((field, v));
                    }
                }
                rec(&f, None)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn index_paths_agree_with_direct_evaluation(
            exprs in proptest::collection::vec(cmp_expr(), 1..12),
            recs in proptest::collection::vec(record(), 1..12),
        ) {
            let inds: Vec<Indicator> = exprs.iter().enumerate()
                .map(|(i, e)| ind(&i.to_string(), &format!("[{e}]")))
                .collect();
            let (c, report) = compile(&inds, &CompileOptions::default());
            prop_assert!(report.problems.iter().all(|p| p.kind != ProblemKind::InvalidPattern), "{:?}", report.problems);
            // The reference: every comparison evaluated directly on every record.
            let reference: Vec<VExpr> = inds.iter().map(|i| {
                let p = pattern::parse(&i.pattern, StixVersion::V21).pattern.unwrap();
                let pattern::ObservationExpr::Simple { comparison, .. } = &p.root else { unreachable!() };
                verify::compile(comparison).unwrap()
            }).collect();
            let mut sc = Scanner::new(&c);
            let mut hits = Vec::new();
            for r in &recs {
                hits.clear();
                c.scan(r, &mut sc, &mut hits);
                let mut got: Vec<u32> = hits.iter().map(|h| h.indicator).collect();
                got.sort_unstable();
                let want: Vec<u32> = (0..inds.len() as u32)
                    .filter(|&i| verify::eval(r, &reference[i as usize]) != 0)
                    .collect();
                prop_assert_eq!(got, want, "record {:?}", r.fields().collect::<Vec<_>>());
            }
        }
    }

    // ---- Compiled sets as bytes, and the latest version of each id ----

    /// (record, indicator id, subdomain, inform) for every hit of `c` on `recs`, in order.
    fn hits_of(c: &Compiled, recs: &[Record]) -> Vec<(usize, String, bool, bool)> {
        let mut sc = Scanner::new(c);
        let mut out = Vec::new();
        let mut hits = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            hits.clear();
            c.scan(r, &mut sc, &mut hits);
            for h in &hits {
                out.push((
                    i,
                    c.indicator_id(h.indicator).to_owned(),
                    h.subdomain,
                    h.inform,
                ));
            }
        }
        out
    }

    fn reread(c: &Compiled) -> Compiled {
        let bytes = c.to_bytes(b"key", b"notes");
        let f = flat::open(&bytes).unwrap();
        assert_eq!((f.key, f.notes), (&b"key"[..], &b"notes"[..]));
        Compiled::from_flat(&f, c.warninglists.clone()).unwrap()
    }

    fn varied() -> Vec<Indicator> {
        vec![
            ind("ip", "[ipv4-addr:value = '203.0.113.7']"),
            ind("ip6", "[ipv6-addr:value = '2001:DB8::1']"),
            ind("cidr", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            ind("cidr6", "[ipv6-addr:value ISSUBSET '2001:db8:1::/48']"),
            ind("dom", "[domain-name:value = 'evil.example']"),
            ind("dup", "[domain-name:value = 'evil.example']"),
            ind("like", "[url:value LIKE 'http://drop.%/payload%']"),
            ind("suffix", "[domain-name:value LIKE '%.bad.example']"),
            ind("re", "[file:name MATCHES '\\\\.pdf\\\\.exe$']"),
            ind(
                "hash",
                "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            ),
            ind(
                "md5",
                "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
            ),
            ind(
                "and",
                "[ipv4-addr:value = '203.0.113.7' AND domain-name:value = 'evil.example']",
            ),
            ind("ne", "[domain-name:value != 'good.example']"),
            ind(
                "fb",
                "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.1']",
            ),
            ind("port", "[network-traffic:dst_port = 4444]"),
            ind("doc", "[ipv4-addr:value = '8.8.8.8']"),
        ]
    }

    fn varied_records() -> Vec<Record> {
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        vec![
            rec(&[(Field::DestinationIp, "203.0.113.7")], Some(1)),
            rec(&[(Field::DnsQuestion, "evil.example")], Some(2)),
            rec(
                &[
                    (Field::DestinationIp, "203.0.113.7"),
                    (Field::DnsQuestion, "evil.example"),
                ],
                Some(3),
            ),
            rec(&[(Field::SourceIp, "2001:db8::1")], Some(4)),
            rec(&[(Field::SourceIp, "2001:db8:1::9")], Some(4)),
            rec(&[(Field::SourceIp, "198.51.100.200")], Some(5)),
            rec(
                &[(Field::UrlFull, "http://drop.example/payload.bin")],
                Some(6),
            ),
            rec(&[(Field::DnsQuestion, "x.bad.example")], Some(7)),
            rec(&[(Field::DnsQuestion, "x.evil.example")], Some(7)),
            rec(&[(Field::FileName, "invoice.pdf.exe")], Some(8)),
            rec(&[(Field::FileSha256, sha)], Some(9)),
            rec(
                &[(Field::FileMd5, "D41D8CD98F00B204E9800998ECF8427E")],
                Some(9),
            ),
            rec(&[(Field::DnsQuestion, "a.example")], Some(10)),
            rec(&[(Field::DestinationIp, "203.0.113.1")], Some(11)),
            rec(&[(Field::DestinationPort, "4444")], Some(12)),
            rec(&[(Field::DestinationIp, "8.8.8.8")], Some(13)),
        ]
    }

    #[test]
    fn a_set_read_back_from_bytes_finds_the_same_hits() {
        let lists = std::sync::Arc::new(warninglist::Warninglists::builtin());
        for subdomains in [false, true] {
            let opts = CompileOptions {
                subdomains,
                ..CompileOptions::default()
            };
            let mut c = Compiler::new(opts).with_warninglists(lists.clone());
            for i in varied() {
                c.add(&i);
            }
            let (set, _) = c.finish();
            let again = reread(&set);
            let recs = varied_records();
            let want = hits_of(&set, &recs);
            assert!(want.len() >= 14, "{want:?}");
            assert!(want.iter().any(|h| h.1 == "indicator--fb"));
            assert!(want.iter().any(|h| h.1 == "indicator--re"));
            assert!(want.iter().any(|h| h.3), "an inform-only hit: {want:?}");
            assert_eq!(hits_of(&again, &recs), want);
            assert_eq!(again.len(), set.len());
            assert_eq!(again.unanchored(), set.unanchored());
            for i in 0..set.len() as u32 {
                assert_eq!(again.indicator_id(i), set.indicator_id(i));
                assert_eq!(again.indicator_name(i), set.indicator_name(i));
            }
            // And once more: the bytes of a re-read set read the same.
            assert_eq!(hits_of(&reread(&again), &recs), want);
        }
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let (set, _) = compile(&varied(), &CompileOptions::default());
        let bytes = set.to_bytes(b"k", b"");
        assert!(flat::open(&bytes).is_ok());
        // Every single-byte change is caught (header fields by their checks, the body by CRC-32).
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x41;
            assert!(flat::open(&b).is_err(), "byte {at} flipped went unnoticed");
        }
        for len in 0..bytes.len() {
            assert!(flat::open(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            flat::open(&long).unwrap_err(),
            FlatError::Trailing { extra: 1 }
        );
        assert_eq!(
            flat::open(b"{\"type\": \"bundle\"}").unwrap_err(),
            FlatError::Foreign
        );
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            flat::open(&other).unwrap_err(),
            FlatError::Version { found: 7 }
        );
        assert!(matches!(
            flat::open(&bytes[..bytes.len() - 3]).unwrap_err(),
            FlatError::Truncated { .. }
        ));
    }

    fn stream(bytes: &[u8], len: u64) -> Result<Compiled, FlatError> {
        let mut r = bytes;
        let head = flat::read_head(&mut r, len)?;
        Compiled::read_rest(head, None)
    }

    #[test]
    fn a_set_read_from_a_stream_is_the_set_read_from_bytes() {
        let (set, _) = compile(&varied(), &CompileOptions::default());
        let bytes = set.to_bytes(b"key", b"notes");
        let mut r = &bytes[..];
        let head = flat::read_head(&mut r, bytes.len() as u64).unwrap();
        assert_eq!(
            (&head.key[..], &head.notes[..]),
            (&b"key"[..], &b"notes"[..])
        );
        let again = Compiled::read_rest(head, None).unwrap();
        let recs = varied_records();
        assert_eq!(hits_of(&again, &recs), hits_of(&set, &recs));
        // The same tables (their order is the hash tables' own).
        assert_eq!(again.to_bytes(b"key", b"notes").len(), bytes.len());
        let mut r = &bytes[..];
        let head = flat::read_head(&mut r, bytes.len() as u64).unwrap();
        assert_eq!(head.check_rest(), Ok(()));
    }

    #[test]
    fn damaged_streams_are_refused_and_a_damaged_body_says_so() {
        let (set, _) = compile(&varied(), &CompileOptions::default());
        let bytes = set.to_bytes(b"k", b"");
        let n = bytes.len() as u64;
        assert!(stream(&bytes, n).is_ok());
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x41;
            let e = stream(&b, n).unwrap_err();
            if at >= 32 {
                // The body: whatever breaks first, the checksum is what is reported.
                assert_eq!(e, FlatError::Checksum, "byte {at}");
                let mut r = &b[..];
                let head = flat::read_head(&mut r, n);
                assert!(head.and_then(|h| h.check_rest()).is_err(), "byte {at}");
            }
        }
        for len in 0..bytes.len() {
            // The length the file has, and a stream cut short of what its length said.
            assert!(
                stream(&bytes[..len], len as u64).is_err(),
                "truncated to {len}"
            );
            assert!(matches!(
                stream(&bytes[..len], n).unwrap_err(),
                FlatError::Truncated { .. } | FlatError::Foreign
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            stream(&long, n + 1).unwrap_err(),
            FlatError::Trailing { extra: 1 }
        );
        // A file that grew after its length was taken.
        assert_eq!(
            stream(&long, n).unwrap_err(),
            FlatError::Trailing { extra: 1 }
        );
        assert_eq!(stream(b"{}", 2).unwrap_err(), FlatError::Foreign);
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            stream(&other, n).unwrap_err(),
            FlatError::Version { found: 7 }
        );
    }

    /// Re-seals `body` (everything after the header) with a valid checksum.
    fn reseal(bytes: &[u8], body: &[u8]) -> Vec<u8> {
        let mut b = bytes[..32].to_vec();
        b.extend_from_slice(body);
        let len = body.len() as u64;
        b[16..24].copy_from_slice(&len.to_le_bytes());
        b[24..28].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Bytes with a valid checksum but rewritten content (what someone who can write the
        /// cache file could hand the scan) are refused or read, never a panic, and a set read
        /// from them scans without a panic.
        #[test]
        fn rewritten_bytes_with_a_valid_checksum_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let (set, _) = compile(&varied(), &CompileOptions::default());
            let bytes = set.to_bytes(b"k", b"");
            let mut body = bytes[32..].to_vec();
            for (at, v) in edits {
                let i = at.index(body.len());
                body[i] = v;
            }
            if let Some(c) = cut {
                body.truncate(c.index(body.len()));
            }
            let b = reseal(&bytes, &body);
            // Read from a stream, the same bytes are read or refused alike.
            let streamed = flat::read_head(&mut &b[..], b.len() as u64)
                .and_then(|h| Compiled::read_rest(h, None));
            let whole = flat::open(&b).and_then(|f| Compiled::from_flat(&f, None));
            prop_assert_eq!(streamed.is_ok(), whole.is_ok());
            if let Ok(f) = flat::open(&b)
                && let Ok(c) = Compiled::from_flat(&f, None)
            {
                let _ = hits_of(&c, &varied_records());
                for i in 0..c.len() as u32 + 2 {
                    let _ = (c.indicator_id(i), c.indicator_name(i));
                }
            }
        }
    }

    fn key(t: i64) -> VersionKey {
        VersionKey {
            time: t,
            created: 0,
            withhold: 0,
        }
    }

    #[test]
    fn only_the_latest_version_of_an_id_is_compiled() {
        let id = "indicator--0a1b2c3d-0000-4000-8000-000000000001";
        let v = |pat: &str, name: &str| {
            let mut i = ind("x", pat);
            i.id = id.to_owned();
            i.name = Some(name.to_owned());
            i
        };
        let old = v("[ipv4-addr:value = '203.0.113.1']", "old");
        let new = v("[ipv4-addr:value = '203.0.113.2']", "new");
        let mut revoked = v("[ipv4-addr:value = '203.0.113.3']", "revoked");
        revoked.revoked = true;
        let other = ind("other", "[ipv4-addr:value = '203.0.113.9']");
        let recs: Vec<Record> = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.9"]
            .iter()
            .map(|a| rec(&[(Field::DestinationIp, a)], None))
            .collect();
        let run = |versions: &[(&Indicator, i64)]| {
            let mut c = Compiler::new(CompileOptions::default());
            for (i, t) in versions {
                c.add_version(i, key(*t));
            }
            let (set, report) = c.finish();
            let got: Vec<(usize, String)> = hits_of(&set, &recs)
                .into_iter()
                .map(|h| (h.0, set_name(&set, &h.1)))
                .collect();
            (got, report, set)
        };
        fn set_name(set: &Compiled, id: &str) -> String {
            (0..set.len() as u32)
                .find(|&i| set.indicator_id(i) == id)
                .map(|i| set.indicator_name(i).to_owned())
                .unwrap_or_default()
        }
        // Whatever the order, the later version wins.
        for order in [[(&old, 1), (&new, 2)], [(&new, 2), (&old, 1)]] {
            let (got, r, set) = run(&[order[0], (&other, 5), order[1]]);
            assert_eq!(got, vec![(1, "new".into()), (3, "name other".into())]);
            assert_eq!((r.compiled, r.superseded, set.len()), (2, 1, 2));
            assert_eq!(hits_of(&reread(&set), &recs).len(), 2);
        }
        // A later revoked version withdraws the id: the older one does not stand in.
        let (got, r, _) = run(&[(&old, 1), (&other, 5), (&revoked, 3)]);
        assert_eq!(got, vec![(3, "name other".into())]);
        assert_eq!((r.compiled, r.revoked, r.superseded), (1, 1, 1));
        let (got, r, _) = run(&[(&revoked, 3), (&new, 2), (&old, 1)]);
        assert!(got.is_empty(), "{got:?}");
        assert_eq!((r.compiled, r.revoked, r.superseded), (0, 1, 2));
        // A tie keeps the first version given.
        let (got, _, _) = run(&[(&new, 2), (&old, 2)]);
        assert_eq!(got, vec![(1, "new".into())]);
        // A later invalid version withdraws too, and takes its problem along when superseded.
        let bad = v("[ipv4-addr:value = ]", "bad");
        let (got, r, _) = run(&[(&old, 1), (&bad, 2)]);
        assert!(got.is_empty());
        assert_eq!(r.problems.len(), 1);
        let (got, r, _) = run(&[(&bad, 2), (&new, 3)]);
        assert_eq!(got, vec![(1, "new".into())]);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn the_validity_window_says_when_a_set_goes_stale() {
        let mut a = ind("a", "[ipv4-addr:value = '203.0.113.1']");
        a.valid_from = Some(100);
        a.valid_until = Some(200);
        let mut b = ind("b", "[ipv4-addr:value = '203.0.113.2']");
        b.valid_from = Some(150);
        let opts = CompileOptions {
            at: Some(120),
            ..CompileOptions::default()
        };
        let (set, r) = compile(&[a, b], &opts);
        assert_eq!((r.compiled, r.inactive), (1, 1));
        assert!(set.same_at(100) && set.same_at(149));
        assert!(!set.same_at(99) && !set.same_at(150));
        assert!(reread(&set).same_at(120) && !reread(&set).same_at(150));
    }

    // ---- The common shapes read without the parser ----

    /// The observation expressions of `pattern` by the full path, as text (or its error).
    fn parsed_leaves(pattern: &str) -> Result<(String, bool), String> {
        leaves_of_parsed(pattern)
            .map(|l| (format!("{:?}", l.leaves), l.tree.is_some()))
            .map_err(|(_, m)| m)
    }

    #[test]
    fn the_common_shapes_skip_the_parser_and_the_rest_does_not() {
        let h64 = "aB".repeat(32);
        for p in [
            "[ipv4-addr:value = '198.51.100.7']".to_owned(),
            "[ipv6-addr:value = '2001:DB8:0:0::1']".to_owned(),
            "[domain-name:value = 'Evil.EXAMPLE.']".to_owned(),
            "[url:value = 'HTTP://Evil.Example:80/a/../b?q=1#f']".to_owned(),
            "[email-addr:value = 'Bob@Example.com']".to_owned(),
            format!("[file:hashes.'SHA-256' = '{h64}']"),
            format!("[file:hashes.'SHA-1' = '{}']", &h64[..40]),
            format!("[file:hashes.MD5 = '{}']", &h64[..32]),
            format!("[file:hashes.'MD5' = '{}']", &h64[..32]),
        ] {
            let fast = verify::compile_common(&p).unwrap_or_else(|| panic!("not taken: {p}"));
            assert_eq!(
                Ok((format!("{:?}", [fast]), false)),
                parsed_leaves(&p),
                "{p}"
            );
        }
        for p in [
            "[ipv4-addr:value = '10.0.0.0/8']",
            "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
            "[domain-name:value = 'a\\'b']",
            "[domain-name:value = 'a\\\\b']",
            "[domain-name:value = 'bücher.example']",
            "[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']",
            "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
            "[domain-name:value = 'a.example'] WITHIN 5 SECONDS",
            "[domain-name:value  = 'a.example']",
            "[domain-name:value != 'a.example']",
            "[file:hashes.'SHA-256' = 'abc']",
            "[file:hashes.SHA256 = 'abc']",
            "[x509-certificate:hashes.'SHA-1' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
            "[network-traffic:dst_port = '80']",
        ] {
            assert!(verify::compile_common(p).is_none(), "taken: {p}");
        }
    }

    /// Text close to the common shapes: the right shapes, near misses, escapes, operators,
    /// observation operators and qualifiers.
    fn near_common_pattern() -> impl Strategy<Value = String> {
        let head = pick(&[
            "[ipv4-addr:value",
            "[ipv6-addr:value",
            "[domain-name:value",
            "[url:value",
            "[email-addr:value",
            "[file:hashes.'SHA-256'",
            "[file:hashes.'SHA-1'",
            "[file:hashes.MD5",
            "[file:hashes.'MD5'",
            "[file:hashes.SHA256",
            "[file:hashes.'sha-256'",
            "[file:name",
            "[x509-certificate:hashes.'SHA-1'",
            "[ipv4-addr:values",
            "[Domain-name:value",
            "[mutex:name",
            "[network-traffic:src_ref.value",
            "[ ipv4-addr:value",
            "ipv4-addr:value",
        ]);
        let op = pick(&[
            " = '",
            " = '",
            " = '",
            " = '",
            "= '",
            " =  '",
            " != '",
            " LIKE '",
            " MATCHES '",
            " ISSUBSET '",
            " IN ('",
            " = \"",
        ]);
        let value = prop_oneof![
            "[a-zA-Z0-9./:_%?#=&@ \\-]{0,24}",
            "[a-fA-F0-9]{30,66}",
            "[0-9a-fA-FgG]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}",
            "([0-9]{1,3}\\.){3}[0-9]{1,4}(/[0-9]{1,2})?",
            "[0-9a-fA-F:]{2,39}(/[0-9]{1,3})?",
            "(https?|HTTP|ftp)://[a-zA-Z.]{1,12}(:[0-9]{1,5})?(/[a-zA-Z0-9%./]{0,12})?",
            "[a-zA-Z0-9.\\-]{0,20}\\.?",
            "[a-z'\\\\\\t\\]\\[é\u{7f}]{0,8}",
        ];
        let tail = pick(&[
            "']",
            "']",
            "']",
            "']",
            "' ]",
            "'",
            "']]",
            "') ]",
            "'] OR [ipv4-addr:value = '1.2.3.4']",
            "' OR ipv4-addr:value = '1.2.3.4']",
            "' AND url:value = 'http://x/']",
            "'] WITHIN 5 SECONDS",
            "'] REPEATS 2 TIMES",
            "'] FOLLOWEDBY [url:value = 'http://x/']",
        ]);
        (head, op, value, tail).prop_map(|(h, o, v, t)| format!("{h}{o}{v}{t}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever the fast path takes, it compiles exactly as the parser does.
        #[test]
        fn the_fast_path_gives_what_the_parser_gives(p in near_common_pattern()) {
            if let Some(fast) = verify::compile_common(&p) {
                prop_assert_eq!(Ok((format!("{:?}", [fast]), false)), parsed_leaves(&p), "{}", p);
            }
            // And `leaves_of` (either path) agrees with the parser, errors included.
            let got = leaves_of(&p)
                .map(|l| (format!("{:?}", l.leaves), l.tree.is_some()))
                .map_err(|(_, m)| m);
            prop_assert_eq!(got, parsed_leaves(&p), "{}", p);
        }
    }

    // ---- Large sets: the tables built and read back on two threads ----

    /// 6,000 domains, each named by two indicators (postings lists in the text table), 3,000
    /// addresses and digests likewise, and a few that need the parser: enough keys for the
    /// second thread on building and on reading back.
    fn large() -> Vec<Indicator> {
        let mut v = Vec::new();
        for i in 0..6000 {
            for side in ["a", "b"] {
                v.push(ind(
                    &format!("d{i}{side}"),
                    &format!("[domain-name:value = 'host{i}.Example.net']"),
                ));
            }
            if i % 2 == 0 {
                v.push(ind(
                    &format!("ip{i}"),
                    &format!("[ipv4-addr:value = '10.{}.{}.1']", i / 256, i % 256),
                ));
                v.push(ind(
                    &format!("ip{i}b"),
                    &format!(
                        "[ipv4-addr:value = '10.{}.{}.1' OR url:value = 'http://x/{i}']",
                        i / 256,
                        i % 256
                    ),
                ));
                v.push(ind(
                    &format!("h{i}"),
                    &format!("[file:hashes.'SHA-256' = '{:064x}']", i),
                ));
            }
        }
        v
    }

    fn large_records() -> Vec<Record> {
        let mut r = Vec::new();
        for i in [0, 1, 2, 77, 4097, 5999, 6000] {
            r.push(rec(
                &[(Field::DnsQuestion, &format!("host{i}.example.net"))],
                None,
            ));
            r.push(rec(
                &[(
                    Field::DestinationIp,
                    &format!("10.{}.{}.1", i / 256, i % 256),
                )],
                None,
            ));
            r.push(rec(&[(Field::FileSha256, &format!("{:064x}", i))], None));
            r.push(rec(&[(Field::UrlFull, &format!("http://x/{i}"))], None));
        }
        r
    }

    #[test]
    fn a_large_set_finds_every_indicator_of_a_value_and_reads_back_the_same() {
        let (set, report) = compile(&large(), &CompileOptions::default());
        assert_eq!(report.compiled, 6000 * 2 + 3000 * 3);
        let recs = large_records();
        let hits = hits_of(&set, &recs);
        let ids = |r: usize| -> Vec<&str> {
            let mut v: Vec<&str> = hits
                .iter()
                .filter(|h| h.0 == r)
                .map(|h| h.1.as_str())
                .collect();
            v.sort_unstable();
            v
        };
        // host77: both indicators; 10.0.77.1 (odd): none; host6000: none.
        assert_eq!(ids(12), ["indicator--d77a", "indicator--d77b"]);
        assert!(ids(13).is_empty());
        assert_eq!(ids(8), ["indicator--d2a", "indicator--d2b"]);
        assert_eq!(ids(9), ["indicator--ip2", "indicator--ip2b"]);
        assert_eq!(ids(10), ["indicator--h2"]);
        assert_eq!(ids(11), ["indicator--ip2b"]);
        assert!(ids(24).is_empty() && ids(25).is_empty());
        assert_eq!(hits_of(&reread(&set), &recs), hits);
    }

    #[test]
    fn written_in_blocks_the_bytes_are_the_same_and_a_failing_writer_is_an_error() {
        let (set, _) = compile(&large(), &CompileOptions::default());
        let whole = set.to_bytes(b"key", b"notes");
        let mut v = Vec::new();
        let n = set.write_bytes(b"key", b"notes", &mut v).unwrap();
        assert_eq!(n as usize, whole.len());
        assert_eq!(v, whole);
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 < b.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        for room in [0, 31, 32, 100_000, whole.len() - 1] {
            assert!(
                set.write_bytes(b"key", b"notes", &mut Full(room)).is_err(),
                "{room}"
            );
        }
        assert!(
            set.write_bytes(b"key", b"notes", &mut Full(whole.len()))
                .is_ok()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A large cache file truncated anywhere, or with bits flipped anywhere (checksum
        /// fixed up or not), is refused or read, never a panic or an out-of-bounds read.
        #[test]
        fn a_large_set_damaged_anywhere_is_refused_or_read_never_a_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..4),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            fix_checksum in any::<bool>(),
        ) {
            static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let bytes = BYTES.get_or_init(|| {
                compile(&large(), &CompileOptions::default()).0.to_bytes(b"k", b"")
            });
            let mut b = bytes.clone();
            for (at, bit) in &flips {
                let i = at.index(b.len());
                b[i] ^= 1 << bit;
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len()));
            }
            if fix_checksum && b.len() >= 32 {
                let body = b[32..].to_vec();
                b = reseal(&b, &body);
            }
            match flat::open(&b) {
                Err(_) => {}
                Ok(f) => {
                    if let Ok(c) = Compiled::from_flat(&f, None) {
                        let _ = hits_of(&c, &large_records());
                    } else {
                        prop_assert!(!flips.is_empty() || cut.is_some());
                    }
                }
            }
            if flips.is_empty() && cut.is_none() {
                prop_assert!(flat::open(&b).is_ok());
            } else if !fix_checksum && cut.is_none() && flips.len() == 1 {
                // One bit flipped anywhere: the header's checks or the checksum see it.
                prop_assert!(flat::open(&b).is_err());
            }
        }
    }
}
