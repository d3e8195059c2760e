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
mod index;
pub mod indicator;
mod observed;
pub mod occurrence;
pub mod stream;
pub mod suricata;
mod verify;
pub mod warninglist;

pub use indicator::{Indicator, IndicatorError, indicators_from_document};
pub use observed::record_to_observed_data;

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

/// An incremental [`compile`]: indicators are added one at a time (from a store cursor, a
/// streaming parser), so the caller never holds them all.
#[derive(Debug, Default)]
pub struct Compiler {
    opts: CompileOptions,
    set: Compiled,
    report: CompileReport,
}

impl Compiler {
    /// A compiler with these options.
    pub fn new(opts: CompileOptions) -> Compiler {
        Compiler {
            opts,
            ..Compiler::default()
        }
    }

    /// Checks indicators' canonical values ([`canon`]) against these warninglists: an
    /// indicator whose values are all on `drop` lists is skipped (reported as
    /// [`ProblemKind::Suppressed`]); hits on a `drop`-listed value of another indicator are not
    /// reported, hits on an `inform`-listed one are marked [`Hit::inform`].
    pub fn with_warninglists(mut self, lists: std::sync::Arc<warninglist::Warninglists>) -> Self {
        self.set.warninglists = Some(lists);
        self
    }

    /// Adds one indicator (or counts why it is left out).
    pub fn add(&mut self, ind: &Indicator) {
        let (opts, report) = (&self.opts, &mut self.report);
        if ind.revoked {
            report.revoked += 1;
            return;
        }
        if opts.at.is_some_and(|at| !ind.active_at(at)) {
            report.inactive += 1;
            return;
        }
        if let Some(since) = opts.added_after
            && ind.added.is_none_or(|a| a <= since)
        {
            report.not_added_since += 1;
            return;
        }
        if ind.pattern_type != "stix" {
            report.not_stix += 1;
            return;
        }
        if let Some(p) = self.set.add(ind, opts.subdomains) {
            let fatal = matches!(
                p.kind,
                ProblemKind::InvalidPattern | ProblemKind::BadIndicator | ProblemKind::Suppressed
            );
            report.suppressed += usize::from(p.kind == ProblemKind::Suppressed);
            report.problems.push(p);
            if fatal {
                return;
            }
        }
        report.compiled += 1;
    }

    /// Builds the automata and returns the set.
    pub fn finish(self) -> (Compiled, CompileReport) {
        let mut c = self.set;
        for o in c.index.finish() {
            c.always.push(o);
        }
        c.always.sort_unstable();
        c.always.dedup();
        c.text.shrink_to_fit();
        c.inds.shrink_to_fit();
        c.obs.shrink_to_fit();
        c.verifiers.shrink_to_fit();
        (c, self.report)
    }
}

fn problem(ind: &Indicator, kind: ProblemKind, message: String) -> Problem {
    Problem {
        indicator: ind.id.clone(),
        kind,
        message,
    }
}

impl Compiled {
    /// Adds one indicator; returns a problem if there is one (invalid ones are not added).
    fn add(&mut self, ind: &Indicator, subdomains: bool) -> Option<Problem> {
        let parsed = pattern::parse(&ind.pattern, StixVersion::V21);
        let pat = match (&parsed.pattern, parsed.is_valid()) {
            (Some(p), true) => p,
            _ => {
                let msg = parsed.errors().next().map_or_else(
                    || "the pattern is not valid".to_owned(),
                    |d| d.render(&ind.pattern),
                );
                return Some(problem(ind, ProblemKind::InvalidPattern, msg));
            }
        };
        let Ok(id_len) = u16::try_from(ind.id.len()) else {
            return Some(problem(
                ind,
                ProblemKind::BadIndicator,
                "the id is too long".into(),
            ));
        };
        let ins = pat.inspect();
        let mut leaves = Vec::new();
        for e in &ins.observation_expressions {
            let pattern::ObservationExpr::Simple { comparison, .. } = e else {
                continue;
            };
            match verify::compile(comparison) {
                Ok(v) => leaves.push(v),
                Err(e) => return Some(problem(ind, ProblemKind::InvalidPattern, e.0)),
            }
        }
        let Ok(nleaves) = u16::try_from(leaves.len()) else {
            return Some(problem(
                ind,
                ProblemKind::InvalidPattern,
                "too many observation expressions".into(),
            ));
        };
        let mut warned = false;
        if let Some(w) = &self.warninglists
            && stream::is_single(&pat.root)
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
        let complex = if stream::is_single(&pat.root) {
            NO_COMPLEX
        } else {
            let mut next = 0;
            let tree = stream::build(&pat.root, &mut next);
            self.complex.push(Complex {
                tree,
                leaves: nleaves,
            });
            self.complex.len() as u32 - 1
        };
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
        let off = self.text.len() as u32;
        self.text.push_str(&ind.id);
        let mut name = ind.name.as_deref().unwrap_or("");
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
        out
    }

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

    /// Matches one record, appending hits to `hits`. Allocates nothing once the scanner's
    /// buffers have grown (except on hits of multi-observation patterns).
    pub fn scan(&self, rec: &Record, sc: &mut Scanner, hits: &mut Vec<Hit>) {
        sc.seq += 1;
        if let Some(t) = rec.timestamp() {
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
}
