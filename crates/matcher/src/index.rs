//! Candidate indexes: from each observation expression, the cheap keys ("anchors") at least one
//! of which a matching record must carry; built into hash sets (addresses as integers, digests
//! as bytes, other values as text), prefix-length tables for CIDR blocks, one Aho-Corasick
//! automaton for `LIKE` literals and one regex set for `MATCHES`.

use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use std::hash::BuildHasher;
use telemetry::Field;

use crate::verify::{Lit, ObjType, Prop, VExpr, VOp, VTest};

/// A class of text values, so that equal text in different properties does not collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Class {
    Domain,
    Url,
    Email,
    FileName,
    CertSubject,
    CertIssuer,
    CertSerial,
    UserAgent,
    SrcPort,
    DstPort,
    Size,
    Transport,
    /// A label-aligned domain suffix with its leading dot (`.evil.example`), from
    /// `LIKE '%.evil.example'`: a candidate key, the pattern is still evaluated.
    DomainSuffix,
    /// A domain whose proper subdomains an equality indicator covers (`scan --subdomains`).
    SubdomainOf,
}

/// The class a record field's values are looked up in.
pub(crate) fn class_of_field(f: Field) -> Option<Class> {
    Some(match f {
        Field::DnsQuestion | Field::UrlDomain | Field::TlsServerName => Class::Domain,
        Field::UrlFull => Class::Url,
        Field::EmailFrom | Field::EmailTo => Class::Email,
        Field::FileName => Class::FileName,
        Field::CertSubject => Class::CertSubject,
        Field::CertIssuer => Class::CertIssuer,
        Field::CertSerial => Class::CertSerial,
        Field::UserAgent => Class::UserAgent,
        Field::SourcePort => Class::SrcPort,
        Field::DestinationPort => Class::DstPort,
        Field::FileSize => Class::Size,
        Field::NetworkTransport => Class::Transport,
        _ => return None,
    })
}

fn class_of_prop(obj: ObjType, p: Prop) -> Option<Class> {
    Some(match (obj, p) {
        (ObjType::Domain, Prop::Value) => Class::Domain,
        (ObjType::Url, Prop::Value) => Class::Url,
        (ObjType::Email, Prop::Value) => Class::Email,
        (_, Prop::SrcPort) => Class::SrcPort,
        (_, Prop::DstPort) => Class::DstPort,
        (_, Prop::Protocols(_)) => Class::Transport,
        (_, Prop::UserAgent) => Class::UserAgent,
        (_, Prop::Of(f)) => class_of_field(f)?,
        _ => return None,
    })
}

/// A cheap key a matching record must carry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Anchor {
    V4(u32),
    V6(u128),
    Cidr4(u32, u8),
    Cidr6(u128, u8),
    Str(Class, String),
    Hash(Field, Vec<u8>),
    Like(String),
    Regex(String),
}

/// `None`: no cheap key (evaluate on every record); `Some(empty)`: can never match a record.
pub(crate) fn anchors(e: &VExpr) -> Option<Vec<Anchor>> {
    match e {
        VExpr::And(a, b) => match (anchors(a), anchors(b)) {
            (Some(x), _) | (_, Some(x)) if x.is_empty() => Some(Vec::new()),
            (Some(x), Some(y)) => Some(if x.len() <= y.len() { x } else { y }),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        VExpr::Or(a, b) => {
            let mut x = anchors(a)?;
            x.extend(anchors(b)?);
            Some(x)
        }
        VExpr::Test(t) => test_anchors(t),
    }
}

fn is_ip_prop(t: &VTest) -> bool {
    crate::verify::is_ip_prop(t.obj, t.prop)
}

fn eq_anchor(t: &VTest, l: &Lit) -> Option<Vec<Anchor>> {
    let never = Some(Vec::new());
    if is_ip_prop(t) {
        let Lit::Str(s) = l else { return never };
        return match s.parse::<IpAddr>() {
            // Record addresses are canonical text: a literal in another spelling never equals one.
            Ok(ip) if ip.to_string() == *s => match ip {
                IpAddr::V4(a) if t.obj != ObjType::Ipv6 => Some(vec![Anchor::V4(u32::from(a))]),
                IpAddr::V6(a) if t.obj != ObjType::Ipv4 => Some(vec![Anchor::V6(u128::from(a))]),
                _ => never,
            },
            _ => never,
        };
    }
    if let Prop::Of(f) = t.prop
        && let telemetry::ValueKind::Hash(n) = f.kind()
    {
        let Lit::Str(s) = l else { return None };
        return match decode_hex(s) {
            Some(b) if b.len() * 2 == usize::from(n) => Some(vec![Anchor::Hash(f, b)]),
            _ => never,
        };
    }
    let class = class_of_prop(t.obj, t.prop)?;
    let integer = matches!(class, Class::SrcPort | Class::DstPort | Class::Size);
    match l {
        Lit::Str(s) if !integer => Some(vec![Anchor::Str(class, s.clone())]),
        Lit::Int(i) if integer => Some(vec![Anchor::Str(class, i.to_string())]),
        // Floats equal to integers, byte strings: no key, evaluate.
        Lit::Float(_) | Lit::Bytes(_) => None,
        _ => never,
    }
}

fn test_anchors(t: &VTest) -> Option<Vec<Anchor>> {
    if t.obj == ObjType::Other || t.prop == Prop::Never {
        // No record has the property, so no test on it holds (negated or not).
        return if matches!(t.op, VOp::Exists) && t.negated {
            None
        } else {
            Some(Vec::new())
        };
    }
    if t.negated {
        return None;
    }
    match &t.op {
        VOp::Eq(l) => eq_anchor(t, l),
        VOp::In(set) => {
            let mut out = Vec::new();
            for l in set {
                out.extend(eq_anchor(t, l)?);
            }
            Some(out)
        }
        VOp::Like(_, pat) => {
            // `LIKE '%.evil.example'` on a domain name: the names that end in that label-aligned
            // suffix, found by walking a record name's labels (no substring automaton).
            if (t.obj, t.prop) == (ObjType::Domain, Prop::Value)
                && let Some(suffix) = pat.strip_prefix('%')
                && suffix.starts_with('.')
                && suffix.len() > 1
                && suffix.is_ascii()
                && !suffix.contains(['%', '_'])
            {
                return Some(vec![Anchor::Str(Class::DomainSuffix, suffix.to_owned())]);
            }
            let lit = longest_literal(pat);
            if lit.is_empty() {
                None
            } else {
                use unicode_normalization::UnicodeNormalization;
                Some(vec![Anchor::Like(lit.nfc().collect())])
            }
        }
        VOp::Matches(_, re) => Some(vec![Anchor::Regex(re.clone())]),
        VOp::Subset(b, s) if is_ip_prop(t) => match b {
            None => Some(Vec::new()),
            Some(_) => cidr_anchor(s),
        },
        VOp::Superset(_, s) if is_ip_prop(t) => {
            // A record address contains only itself.
            match basics::net::Net::parse(s) {
                Ok(n) if n.is_host() => Some(vec![addr_anchor(n.addr())]),
                _ => None,
            }
        }
        _ => None,
    }
}

fn addr_anchor(ip: IpAddr) -> Anchor {
    match ip {
        IpAddr::V4(a) => Anchor::V4(u32::from(a)),
        IpAddr::V6(a) => Anchor::V6(u128::from(a)),
    }
}

/// The network a literal names (`basics::net`: strict, host bits cleared); none when it is not
/// one (the test then holds for no record).
fn cidr_anchor(s: &str) -> Option<Vec<Anchor>> {
    let Ok(n) = basics::net::Net::parse(s) else {
        return Some(Vec::new());
    };
    Some(vec![if n.is_v6() {
        Anchor::Cidr6(n.bits(), n.prefix())
    } else {
        Anchor::Cidr4(n.bits() as u32, n.prefix())
    }])
}

/// The network bits of an IPv4 address under a prefix (the probe's hot path).
fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

/// The network bits of an IPv6 address under a prefix (the probe's hot path).
fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

/// The longest run of a `LIKE` pattern without wildcards.
fn longest_literal(pat: &str) -> String {
    pat.split(['%', '_'])
        .max_by_key(|s| s.len())
        .unwrap_or("")
        .to_owned()
}

pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// What an index key points at: one observation expression, or (high bit set) a list of them.
type Post = u32;
const MULTI: u32 = 1 << 31;

#[derive(Debug, Default)]
struct Posts {
    lists: Vec<Vec<u32>>,
}

impl Posts {
    fn add(&mut self, slot: &mut Post, obs: u32) {
        if *slot & MULTI != 0 {
            self.lists[(*slot & !MULTI) as usize].push(obs);
        } else if *slot != obs {
            self.lists.push(vec![*slot, obs]);
            *slot = MULTI | (self.lists.len() as u32 - 1);
        }
    }
    fn each(&self, p: Post, mut f: impl FnMut(u32)) {
        if p & MULTI != 0 {
            for &o in &self.lists[(p & !MULTI) as usize] {
                f(o);
            }
        } else {
            f(p);
        }
    }
}

/// Text keys: `(class, value)` stored once in an arena, looked up by borrowed text.
#[derive(Debug, Clone, Copy)]
struct StrKey {
    off: u32,
    len: u32,
    post: Post,
}

/// All indexes of a compiled set.
#[derive(Debug, Default)]
pub(crate) struct Index {
    posts: Posts,
    hasher: DefaultHashBuilder,
    v4: HashMap<u32, Post>,
    v6: HashMap<u128, Post>,
    cidr4: Vec<(u8, HashMap<u32, Post>)>,
    cidr6: Vec<(u8, HashMap<u128, Post>)>,
    /// Which IPv4 /24 blocks hold an address or network key, built on the first probe (see
    /// [`V4Filter`]): most logged addresses are in none, and are then refused by one bit.
    v4_filter: std::sync::OnceLock<Option<V4Filter>>,
    arena: Vec<u8>,
    strings: HashTable<StrKey>,
    /// MD5 of files.
    h16: HashMap<[u8; 16], Post>,
    /// SHA-1 of files, of certificates.
    h20: [HashMap<[u8; 20], Post>; 2],
    /// SHA-256 of files, of certificates.
    h32: [HashMap<[u8; 32], Post>; 2],
    like_lits: Vec<String>,
    /// While building: where each `LIKE` literal is in `like_lits`.
    like_pos: HashMap<String, usize>,
    like_obs: Vec<Vec<u32>>,
    like: Option<AhoCorasick>,
    regex_src: Vec<String>,
    regex_obs: Vec<u32>,
    regex: Option<Regex>,
    pub(crate) has_text_engines: bool,
    /// The classes of the text keys, one bit each (`1 << class`), kept as the table is
    /// built so that [`Index::probed_fields`] need not walk the table.
    str_classes: u32,
    /// Whether any `DomainSuffix` or `SubdomainOf` key is indexed.
    pub(crate) has_suffixes: bool,
    has_like_suffixes: bool,
    has_subdomain_keys: bool,
    /// Whether some `SubdomainOf` key is a single label (`example`): else the walk stops at
    /// the last dot.
    has_single_label_parent: bool,
}

fn put<K: std::hash::Hash + Eq>(posts: &mut Posts, m: &mut HashMap<K, Post>, k: K, obs: u32) {
    match m.entry(k) {
        hashbrown::hash_map::Entry::Occupied(mut e) => posts.add(e.get_mut(), obs),
        hashbrown::hash_map::Entry::Vacant(e) => {
            e.insert(obs);
        }
    }
}

/// An observation expression dropped at build time (its indicator was superseded).
pub(crate) const DEAD: u32 = u32::MAX;

/// The keys gathered while indicators are added: plain vectors (one push per key, no
/// hashing), turned into pre-sized hash tables once by [`Index::build`].
#[derive(Debug, Default)]
pub(crate) struct Staging {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u32)>,
    cidr4: Vec<(u32, u8, u32)>,
    cidr6: Vec<(u128, u8, u32)>,
    h16: Vec<([u8; 16], u32)>,
    h20: Vec<([u8; 20], bool, u32)>,
    h32: Vec<([u8; 32], bool, u32)>,
    /// `(class, text)` keys, each as its class byte then its bytes.
    arena: Vec<u8>,
    strs: Vec<(u32, u32, u32)>,
    text: Vec<(Anchor, u32)>,
    has_like_suffixes: bool,
    has_subdomain_keys: bool,
    has_single_label_parent: bool,
}

impl Staging {
    pub(crate) fn add(&mut self, a: Anchor, obs: u32) {
        match a {
            Anchor::V4(x) => self.v4.push((x, obs)),
            Anchor::V6(x) => self.v6.push((x, obs)),
            Anchor::Cidr4(net, len) => self.cidr4.push((net, len, obs)),
            Anchor::Cidr6(net, len) => self.cidr6.push((net, len, obs)),
            Anchor::Hash(f, b) => {
                let cert = f.slot() == telemetry::ObjectSlot::Certificate;
                match b.len() {
                    16 => self.h16.push((arr(&b), obs)),
                    20 => self.h20.push((arr(&b), cert, obs)),
                    32 => self.h32.push((arr(&b), cert, obs)),
                    _ => {}
                }
            }
            Anchor::Str(class, s) => {
                match class {
                    Class::DomainSuffix => self.has_like_suffixes = true,
                    Class::SubdomainOf => {
                        self.has_subdomain_keys = true;
                        self.has_single_label_parent |= !s.contains('.');
                    }
                    _ => {}
                }
                let off = self.arena.len() as u32;
                self.arena.push(class as u8);
                self.arena.extend_from_slice(s.as_bytes());
                self.strs.push((off, s.len() as u32 + 1, obs));
            }
            a @ (Anchor::Like(_) | Anchor::Regex(_)) => self.text.push((a, obs)),
        }
    }
}

fn sized<K, V>(n: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(n, DefaultHashBuilder::default())
}

impl Index {
    /// Builds the tables from the staged keys, each table allocated once at its final size;
    /// `remap` renumbers observation expressions (`DEAD`: dropped). Then builds the automata
    /// and returns the observation expressions whose regex could not join the set.
    pub(crate) fn build(st: Staging, remap: Option<&[u32]>) -> (Index, Vec<u32>) {
        let m = |o: u32| -> Option<u32> {
            match remap {
                None => Some(o),
                Some(r) => r.get(o as usize).copied().filter(|&x| x != DEAD),
            }
        };
        let Staging {
            v4,
            v6,
            mut cidr4,
            mut cidr6,
            h16,
            h20,
            h32,
            arena,
            strs,
            text,
            has_like_suffixes,
            has_subdomain_keys,
            has_single_label_parent,
        } = st;
        let mut ix = Index {
            has_like_suffixes,
            has_subdomain_keys,
            has_single_label_parent,
            has_suffixes: has_like_suffixes || has_subdomain_keys,
            ..Index::default()
        };
        let build_rest = |ix: &mut Index| {
            ix.v4 = sized(v4.len());
            for (k, o) in v4 {
                if let Some(o) = m(o) {
                    put(&mut ix.posts, &mut ix.v4, k, o);
                }
            }
            ix.v6 = sized(v6.len());
            for (k, o) in v6 {
                if let Some(o) = m(o) {
                    put(&mut ix.posts, &mut ix.v6, k, o);
                }
            }
            cidr4.sort_unstable_by_key(|&(_, l, _)| std::cmp::Reverse(l));
            for run in cidr4.chunk_by(|a, b| a.1 == b.1) {
                let mut t = sized(run.len());
                for &(k, _, o) in run {
                    if let Some(o) = m(o) {
                        put(&mut ix.posts, &mut t, k, o);
                    }
                }
                if !t.is_empty() {
                    ix.cidr4.push((run[0].1, t));
                }
            }
            drop(cidr4);
            cidr6.sort_unstable_by_key(|&(_, l, _)| std::cmp::Reverse(l));
            for run in cidr6.chunk_by(|a, b| a.1 == b.1) {
                let mut t = sized(run.len());
                for &(k, _, o) in run {
                    if let Some(o) = m(o) {
                        put(&mut ix.posts, &mut t, k, o);
                    }
                }
                if !t.is_empty() {
                    ix.cidr6.push((run[0].1, t));
                }
            }
            drop(cidr6);
            ix.h16 = sized(h16.len());
            for (k, o) in h16 {
                if let Some(o) = m(o) {
                    put(&mut ix.posts, &mut ix.h16, k, o);
                }
            }
            let n20 = h20.iter().filter(|e| e.1).count();
            ix.h20 = [sized(h20.len() - n20), sized(n20)];
            for (k, cert, o) in h20 {
                if let Some(o) = m(o) {
                    put(&mut ix.posts, &mut ix.h20[usize::from(cert)], k, o);
                }
            }
            let n32 = h32.iter().filter(|e| e.1).count();
            ix.h32 = [sized(h32.len() - n32), sized(n32)];
            for (k, cert, o) in h32 {
                if let Some(o) = m(o) {
                    put(&mut ix.posts, &mut ix.h32[usize::from(cert)], k, o);
                }
            }
        };
        // The text table (its own postings, merged after) on a second thread while this one
        // builds the others.
        let hasher = ix.hasher.clone();
        let text_table = || {
            let mut t = Index {
                hasher: hasher.clone(),
                ..Index::default()
            };
            t.strings = HashTable::with_capacity(strs.len());
            let live_bytes: usize = strs
                .iter()
                .filter(|e| m(e.2).is_some())
                .map(|e| e.1 as usize)
                .sum();
            t.arena = Vec::with_capacity(live_bytes);
            for &(off, len, o) in &strs {
                let Some(o) = m(o) else { continue };
                let key = &arena[off as usize..(off + len) as usize];
                t.add_str(key, o);
            }
            t.arena.shrink_to_fit();
            (t.arena, t.strings, t.posts, t.str_classes)
        };
        let (tarena, tstrings, tposts, tclasses) = if strs.len() >= 4096 {
            std::thread::scope(|scope| {
                match std::thread::Builder::new().spawn_scoped(scope, text_table) {
                    Ok(h) => {
                        build_rest(&mut ix);
                        // A panic on the other thread is one here.
                        h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
                    }
                    Err(_) => {
                        build_rest(&mut ix);
                        text_table()
                    }
                }
            })
        } else {
            build_rest(&mut ix);
            text_table()
        };
        let base = ix.posts.lists.len() as u32;
        ix.posts.lists.extend(tposts.lists);
        ix.arena = tarena;
        ix.strings = tstrings;
        ix.str_classes = tclasses;
        for k in ix.strings.iter_mut() {
            if k.post & MULTI != 0 {
                k.post += base;
            }
        }
        drop((arena, strs));
        for (a, o) in text {
            if let Some(o) = m(o) {
                ix.add_text(a, o);
            }
        }
        let fallback = ix.build_engines();
        (ix, fallback)
    }

    /// Adds a `(class byte, text)` key.
    fn add_str(&mut self, key: &[u8], obs: u32) {
        self.str_classes |= class_bit(key[0]);
        let h = self.hasher.hash_one((key[0], &key[1..]));
        let arena = &self.arena;
        let found = self.strings.find_mut(h, |k| {
            &arena[k.off as usize..(k.off + k.len) as usize] == key
        });
        match found {
            Some(k) => self.posts.add(&mut k.post, obs),
            None => {
                let off = self.arena.len() as u32;
                self.arena.extend_from_slice(key);
                let k = StrKey {
                    off,
                    len: key.len() as u32,
                    post: obs,
                };
                let (arena, hasher) = (&self.arena, &self.hasher);
                self.strings.insert_unique(h, k, |k| {
                    let b = &arena[k.off as usize..(k.off + k.len) as usize];
                    hasher.hash_one((b[0], &b[1..]))
                });
            }
        }
    }

    /// Adds a `LIKE` literal or a `MATCHES` regex (for the automata [`Index::build_engines`] builds).
    pub(crate) fn add_text(&mut self, a: Anchor, obs: u32) {
        match a {
            Anchor::Like(l) => match self.like_pos.get(&l) {
                Some(&i) => self.like_obs[i].push(obs),
                None => {
                    self.like_pos.insert(l.clone(), self.like_lits.len());
                    self.like_lits.push(l);
                    self.like_obs.push(vec![obs]);
                }
            },
            Anchor::Regex(r) => {
                // As `pattern::regex::compile_matches` does: NFC first, then the rewrites.
                use unicode_normalization::UnicodeNormalization;
                let nfc: String = r.nfc().collect();
                self.regex_src.push(pattern::regex::translate(&nfc));
                self.regex_obs.push(obs);
            }
            _ => {}
        }
    }

    /// Builds the automata. Returns the observation expressions whose regex could not join the
    /// set (they are then evaluated on every record).
    pub(crate) fn build_engines(&mut self) -> Vec<u32> {
        self.like_pos = HashMap::new();
        if !self.like_lits.is_empty() {
            self.like = AhoCorasick::new(&self.like_lits).ok();
        }
        let mut fallback = Vec::new();
        if !self.regex_src.is_empty() {
            let built = meta::Builder::new()
                .configure(
                    meta::Config::new()
                        // Every pattern that matches, not only the leftmost-first one.
                        .match_kind(regex_automata::MatchKind::All)
                        .nfa_size_limit(Some(pattern::regex::REGEX_SIZE_LIMIT * 4))
                        .hybrid_cache_capacity(2 << 20),
                )
                .syntax(syntax::Config::new().nest_limit(pattern::regex::REGEX_NEST_LIMIT))
                .build_many(&self.regex_src);
            match built {
                Ok(r) => self.regex = Some(r),
                Err(_) => fallback = std::mem::take(&mut self.regex_obs),
            }
        }
        if self.like.is_none() && !self.like_lits.is_empty() {
            fallback.extend(self.like_obs.iter().flatten().copied());
        }
        self.has_text_engines = self.like.is_some() || self.regex.is_some();
        fallback
    }

    /// The fields whose values [`Index::probe`] can find something for: addresses when some
    /// address or network is indexed, each digest field whose table is not empty, the fields of
    /// each text class that holds keys. One pass over the text table (once per scanner).
    pub(crate) fn probed_fields(&self) -> telemetry::FieldSet {
        use telemetry::FieldSet;
        let classes = self.str_classes;
        let mut s = FieldSet::EMPTY;
        for f in Field::ALL {
            let f = *f;
            let yes = if f.is_ip() {
                !self.v4.is_empty()
                    || !self.v6.is_empty()
                    || !self.cidr4.is_empty()
                    || !self.cidr6.is_empty()
            } else if let telemetry::ValueKind::Hash(n) = f.kind() {
                let cert = usize::from(f.slot() == telemetry::ObjectSlot::Certificate);
                match n {
                    32 => !self.h16.is_empty(),
                    40 => !self.h20[cert].is_empty(),
                    64 => !self.h32[cert].is_empty(),
                    _ => false,
                }
            } else {
                class_of_field(f).is_some_and(|c| classes & (1 << c as u8) != 0)
            };
            if yes {
                s.insert(f);
            }
        }
        s
    }

    /// Calls `f(obs)` for every observation expression one value of a field proposes. `bin` is
    /// the value's binary form from the record ([`telemetry::Record::binary`]: an address's
    /// bytes, a digest's bytes), looked up as it is; the text is parsed only when a record
    /// carries none.
    pub(crate) fn probe(&self, field: Field, value: &str, bin: &[u8], mut f: impl FnMut(u32)) {
        if field.is_ip() {
            match bin.len() {
                4 => {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(bin);
                    self.probe_v4(u32::from_be_bytes(b), &mut f);
                }
                16 => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(bin);
                    self.probe_v6(u128::from_be_bytes(b), &mut f);
                }
                _ => match value.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => self.probe_v4(u32::from(a), &mut f),
                    Ok(IpAddr::V6(a)) => self.probe_v6(u128::from(a), &mut f),
                    Err(_) => {}
                },
            }
            return;
        }
        if let telemetry::ValueKind::Hash(digits) = field.kind() {
            let mut decoded = [0u8; 32];
            let bytes: &[u8] = if !bin.is_empty() {
                bin
            } else {
                let n = value.len() / 2;
                if n > 32 || !value.len().is_multiple_of(2) {
                    return;
                }
                for (i, slot) in decoded.iter_mut().enumerate().take(n) {
                    match value
                        .get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(b) => *slot = b,
                        None => return,
                    }
                }
                &decoded[..n]
            };
            if bytes.len() * 2 != usize::from(digits) {
                return;
            }
            let cert = usize::from(field.slot() == telemetry::ObjectSlot::Certificate);
            let p = match bytes.len() {
                16 => self.h16.get(&arr::<16>(bytes)).copied(),
                20 => self.h20[cert].get(&arr::<20>(bytes)).copied(),
                32 => self.h32[cert].get(&arr::<32>(bytes)).copied(),
                _ => None,
            };
            if let Some(p) = p {
                self.posts.each(p, &mut f);
            }
            return;
        }
        if let Some(class) = class_of_field(field)
            && !self.strings.is_empty()
        {
            let h = self.hasher.hash_one((class as u8, value.as_bytes()));
            if let Some(k) = self.strings.find(h, |k| {
                self.arena[k.off as usize] == class as u8
                    && &self.arena[k.off as usize + 1..(k.off + k.len) as usize] == value.as_bytes()
            }) {
                self.posts.each(k.post, &mut f);
            }
        }
    }

    #[inline]
    fn probe_v4(&self, a: u32, f: &mut impl FnMut(u32)) {
        if let Some(filter) = self.v4_filter.get_or_init(|| V4Filter::build(self))
            && !filter.may_hold(a)
        {
            return;
        }
        if let Some(&p) = self.v4.get(&a) {
            self.posts.each(p, &mut *f);
        }
        for (len, m) in &self.cidr4 {
            if let Some(&p) = m.get(&mask4(a, *len)) {
                self.posts.each(p, &mut *f);
            }
        }
    }

    #[inline]
    fn probe_v6(&self, a: u128, f: &mut impl FnMut(u32)) {
        if let Some(&p) = self.v6.get(&a) {
            self.posts.each(p, &mut *f);
        }
        for (len, m) in &self.cidr6 {
            if let Some(&p) = m.get(&mask6(a, *len)) {
                self.posts.each(p, &mut *f);
            }
        }
    }

    fn lookup_str(&self, class: Class, value: &str) -> Option<Post> {
        let h = self.hasher.hash_one((class as u8, value.as_bytes()));
        self.strings
            .find(h, |k| {
                self.arena[k.off as usize] == class as u8
                    && &self.arena[k.off as usize + 1..(k.off + k.len) as usize] == value.as_bytes()
            })
            .map(|k| k.post)
    }

    /// The reversed-label walk over a domain value: calls `f(obs, false)` for each
    /// `LIKE '%.suffix'` whose suffix ends the name at a label boundary, and `f(obs, true)` for
    /// each domain the name is a proper subdomain of (`--subdomains`). One hash probe per label.
    pub(crate) fn probe_suffixes(&self, field: Field, value: &str, mut f: impl FnMut(u32, bool)) {
        if class_of_field(field) != Some(Class::Domain) {
            return;
        }
        let mut walk = |v: &str, sub: bool| {
            for (i, _) in v.match_indices('.') {
                if !sub {
                    if let Some(p) = self.lookup_str(Class::DomainSuffix, &v[i..]) {
                        self.posts.each(p, |o| f(o, false));
                    }
                    continue;
                }
                let parent = &v[i + 1..];
                if !self.has_single_label_parent && !parent.contains('.') {
                    break;
                }
                if i > 0
                    && let Some(p) = self.lookup_str(Class::SubdomainOf, parent)
                {
                    self.posts.each(p, |o| f(o, true));
                }
            }
        };
        if self.has_subdomain_keys {
            walk(value, true);
        }
        if !self.has_like_suffixes {
            return;
        }
        // `LIKE` compares the NFC form; the suffixes indexed are ASCII.
        if value.is_ascii() {
            walk(value, false);
        } else {
            use unicode_normalization::UnicodeNormalization;
            let n: String = value.nfc().collect();
            walk(&n, false);
        }
    }

    /// Runs the `LIKE` automaton and the `MATCHES` set over one value.
    pub(crate) fn probe_text(
        &self,
        value: &str,
        set: &mut regex_automata::PatternSet,
        mut f: impl FnMut(u32),
    ) {
        let run = |s: &str, set: &mut regex_automata::PatternSet, f: &mut dyn FnMut(u32)| {
            if let Some(ac) = &self.like {
                for m in ac.find_overlapping_iter(s) {
                    for &o in &self.like_obs[m.pattern().as_usize()] {
                        f(o);
                    }
                }
            }
            if let Some(re) = &self.regex {
                set.clear();
                re.which_overlapping_matches(&regex_automata::Input::new(s), set);
                for p in set.iter() {
                    f(self.regex_obs[p.as_usize()]);
                }
            }
        };
        if value.is_ascii() {
            run(value, set, &mut f);
        } else {
            use unicode_normalization::UnicodeNormalization;
            let n: String = value.nfc().collect();
            run(&n, set, &mut f);
        }
    }

    pub(crate) fn regex_count(&self) -> usize {
        self.regex.as_ref().map_or(0, Regex::pattern_len)
    }

    /// Writes the tables (not the automata: those are rebuilt from the patterns that need
    /// them, see `flat`).
    pub(crate) fn write_to(&self, w: &mut crate::flat::Out<'_>) {
        use crate::flat::{put_len, put_u32};
        w.push(u8::from(self.has_like_suffixes));
        w.push(u8::from(self.has_subdomain_keys));
        w.push(u8::from(self.has_single_label_parent));
        put_len(w, self.posts.lists.len());
        for l in &self.posts.lists {
            put_len(w, l.len());
            for &o in l {
                put_u32(w, o);
            }
        }
        fn map<K: Copy>(
            w: &mut crate::flat::Out<'_>,
            m: &HashMap<K, Post>,
            key: impl Fn(&mut crate::flat::Out<'_>, K),
        ) {
            put_len(w, m.len());
            for (k, p) in m {
                key(w, *k);
                put_u32(w, *p);
            }
        }
        fn k4(w: &mut crate::flat::Out<'_>, k: u32) {
            w.extend_from_slice(&k.to_le_bytes());
        }
        fn k6(w: &mut crate::flat::Out<'_>, k: u128) {
            w.extend_from_slice(&k.to_le_bytes());
        }
        map(w, &self.v4, k4);
        map(w, &self.v6, k6);
        put_len(w, self.cidr4.len());
        for (len, m) in &self.cidr4 {
            w.push(*len);
            map(w, m, k4);
        }
        put_len(w, self.cidr6.len());
        for (len, m) in &self.cidr6 {
            w.push(*len);
            map(w, m, k6);
        }
        map(w, &self.h16, |w, k: [u8; 16]| w.extend_from_slice(&k));
        for m in &self.h20 {
            map(w, m, |w, k: [u8; 20]| w.extend_from_slice(&k));
        }
        for m in &self.h32 {
            map(w, m, |w, k: [u8; 32]| w.extend_from_slice(&k));
        }
        crate::flat::put_bytes(w, &self.arena);
        put_len(w, self.strings.len());
        for k in &self.strings {
            put_u32(w, k.off);
            put_u32(w, k.len);
            put_u32(w, k.post);
        }
    }

    /// Reads what [`Index::write_to`] wrote, checking every posting against `nobs`
    /// observation expressions; the automata are added afterwards ([`Index::add_text`],
    /// [`Index::build_engines`]). The address and digest tables are built on a second thread
    /// as soon as their sections are read, while this one reads the text keys and builds the
    /// text table.
    pub(crate) fn read_from(
        r: &mut crate::flat::Src<'_>,
        nobs: u32,
    ) -> Result<Index, crate::flat::FlatError> {
        use crate::flat::{FlatError, corrupt};
        let mut ix = Index {
            has_like_suffixes: r.u8()? != 0,
            has_subdomain_keys: r.u8()? != 0,
            has_single_label_parent: r.u8()? != 0,
            ..Index::default()
        };
        ix.has_suffixes = ix.has_like_suffixes || ix.has_subdomain_keys;
        let nlists = r.count(8)?;
        ix.posts.lists.reserve_exact(nlists);
        for _ in 0..nlists {
            let n = r.count(4)?;
            let mut l = Vec::with_capacity(n);
            r.each(n, 4, |c| {
                let o = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if o >= nobs {
                    return Err(corrupt("a posting names no observation expression"));
                }
                l.push(o);
                Ok(())
            })?;
            ix.posts.lists.push(l);
        }
        let nl = ix.posts.lists.len() as u32;
        let post_ok = move |p: Post| {
            if p & MULTI != 0 {
                p & !MULTI < nl
            } else {
                p < nobs
            }
        };
        /// A table's entries: `size`-byte keys each followed by a posting.
        fn section(r: &mut crate::flat::Src<'_>, size: usize) -> Result<Vec<u8>, FlatError> {
            r.vec(size + 4)
        }
        fn map<K: std::hash::Hash + Eq>(
            b: &[u8],
            size: usize,
            key: impl Fn(&[u8]) -> K,
            post_ok: impl Fn(Post) -> bool,
        ) -> Result<HashMap<K, Post>, FlatError> {
            let mut m = sized(b.len() / (size + 4));
            for e in b.chunks_exact(size + 4) {
                let p = u32::from_le_bytes([e[size], e[size + 1], e[size + 2], e[size + 3]]);
                if !post_ok(p) {
                    return Err(corrupt("a table entry points nowhere"));
                }
                m.insert(key(&e[..size]), p);
            }
            Ok(m)
        }
        let k4 = |b: &[u8]| u32::from_le_bytes(arr(b));
        let k6 = |b: &[u8]| u128::from_le_bytes(arr(b));
        let v4 = section(r, 4)?;
        let v6 = section(r, 16)?;
        let mut cidr4 = Vec::new();
        for _ in 0..r.count(9)? {
            let len = r.u8()?;
            if len > 32 {
                return Err(corrupt("an IPv4 prefix longer than 32 bits"));
            }
            cidr4.push((len, section(r, 4)?));
        }
        let mut cidr6 = Vec::new();
        for _ in 0..r.count(9)? {
            let len = r.u8()?;
            if len > 128 {
                return Err(corrupt("an IPv6 prefix longer than 128 bits"));
            }
            cidr6.push((len, section(r, 16)?));
        }
        let h16 = section(r, 16)?;
        let h20 = [section(r, 20)?, section(r, 20)?];
        let h32 = [section(r, 32)?, section(r, 32)?];
        type Tables = (
            HashMap<u32, Post>,
            HashMap<u128, Post>,
            Vec<(u8, HashMap<u32, Post>)>,
            Vec<(u8, HashMap<u128, Post>)>,
            HashMap<[u8; 16], Post>,
            [HashMap<[u8; 20], Post>; 2],
            [HashMap<[u8; 32], Post>; 2],
        );
        let tables = || -> Result<Tables, FlatError> {
            let mut c4 = Vec::with_capacity(cidr4.len());
            for (len, b) in &cidr4 {
                c4.push((*len, map(b, 4, k4, post_ok)?));
            }
            let mut c6 = Vec::with_capacity(cidr6.len());
            for (len, b) in &cidr6 {
                c6.push((*len, map(b, 16, k6, post_ok)?));
            }
            Ok((
                map(&v4, 4, k4, post_ok)?,
                map(&v6, 16, k6, post_ok)?,
                c4,
                c6,
                map(&h16, 16, arr::<16>, post_ok)?,
                [
                    map(&h20[0], 20, arr::<20>, post_ok)?,
                    map(&h20[1], 20, arr::<20>, post_ok)?,
                ],
                [
                    map(&h32[0], 32, arr::<32>, post_ok)?,
                    map(&h32[1], 32, arr::<32>, post_ok)?,
                ],
            ))
        };
        let hasher = ix.hasher.clone();
        let strings =
            |r: &mut crate::flat::Src<'_>| -> Result<(Vec<u8>, HashTable<StrKey>, u32), FlatError> {
                let arena = r.vec(1)?;
                let n = r.count(12)?;
                let mut t = HashTable::with_capacity(n);
                let mut classes = 0u32;
                r.each(n, 12, |e| {
                    let u = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
                    let (off, len, p) = (u(0), u(4), u(8));
                    if !post_ok(p) {
                        return Err(corrupt("a table entry points nowhere"));
                    }
                    let end = off as usize + len as usize;
                    if len == 0 || end > arena.len() {
                        return Err(corrupt("a text key runs past its arena"));
                    }
                    let b = &arena[off as usize..end];
                    classes |= class_bit(b[0]);
                    let h = hasher.hash_one((b[0], &b[1..]));
                    t.insert_unique(h, StrKey { off, len, post: p }, |k| {
                        let b = &arena[k.off as usize..(k.off + k.len) as usize];
                        hasher.hash_one((b[0], &b[1..]))
                    });
                    Ok(())
                })?;
                Ok((arena, t, classes))
            };
        // The address tables on a second thread when they are large enough to be worth one
        // (and a thread can be had).
        let keys = v4.len() / 8 + v6.len() / 20 + h16.len() / 20 + h32[0].len() / 36;
        let ((v4, v6, c4, c6, h16, h20, h32), (arena, table, classes)) = if keys >= 4096 {
            std::thread::scope(|scope| {
                match std::thread::Builder::new().spawn_scoped(scope, tables) {
                    Ok(h) => {
                        let s = strings(r);
                        let t = h
                            .join()
                            .unwrap_or_else(|_| Err(corrupt("the tables could not be built")));
                        Ok::<_, FlatError>((t?, s?))
                    }
                    Err(_) => Ok((tables()?, strings(r)?)),
                }
            })?
        } else {
            let t = tables()?;
            (t, strings(r)?)
        };
        (ix.v4, ix.v6, ix.cidr4, ix.cidr6, ix.h16, ix.h20, ix.h32) =
            (v4, v6, c4, c6, h16, h20, h32);
        (ix.arena, ix.strings, ix.str_classes) = (arena, table, classes);
        Ok(ix)
    }

    /// Bytes held by the indexes (table capacity and arenas), an estimate for the benchmark.
    pub(crate) fn heap_bytes(&self) -> usize {
        fn map<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
        }
        map(&self.v4)
            + self
                .v4_filter
                .get()
                .and_then(Option::as_ref)
                .map_or(0, V4Filter::heap_bytes)
            + map(&self.v6)
            + self.cidr4.iter().map(|(_, m)| map(m)).sum::<usize>()
            + self.cidr6.iter().map(|(_, m)| map(m)).sum::<usize>()
            + self.arena.capacity()
            + self.strings.capacity() * (std::mem::size_of::<StrKey>() + 1)
            + map(&self.h16)
            + self.h20.iter().map(map).sum::<usize>()
            + self.h32.iter().map(map).sum::<usize>()
            + self
                .posts
                .lists
                .iter()
                .map(|l| l.capacity() * 4 + 24)
                .sum::<usize>()
    }
}

/// The bit of a class byte in [`Index::str_classes`] (none for a byte that names no class).
fn class_bit(c: u8) -> u32 {
    1u32.checked_shl(u32::from(c)).unwrap_or(0)
}

/// One bit per IPv4 /24 block (2 MiB): set when an address key lies in the block or a network
/// key covers or overlaps it. An address whose block's bit is clear matches no address or
/// network key, so its probe ends there: one load from a table whose hot part (the blocks a log's
/// addresses fall in) stays in cache, instead of a look-up in the address table and one per
/// network prefix length, each a likely cache miss in tables of hundreds of thousands of keys.
/// Built only for sets with at least [`V4Filter::MIN_KEYS`] IPv4 keys (small tables stay in
/// cache on their own).
pub(crate) struct V4Filter {
    bits: Box<[u64]>,
}

impl std::fmt::Debug for V4Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        write!(f, "V4Filter({set} blocks of /24)")
    }
}

impl V4Filter {
    const MIN_KEYS: usize = 4096;

    fn build(ix: &Index) -> Option<V4Filter> {
        let keys = ix.v4.len() + ix.cidr4.iter().map(|(_, m)| m.len()).sum::<usize>();
        if keys < Self::MIN_KEYS {
            return None;
        }
        let mut f = V4Filter {
            bits: vec![0u64; (1 << 24) / 64].into_boxed_slice(),
        };
        for &a in ix.v4.keys() {
            f.set(a >> 8, a >> 8);
        }
        for (len, m) in &ix.cidr4 {
            // The blocks from the network's first address to its last.
            let span = if *len >= 32 {
                0
            } else {
                u32::MAX >> u32::from(*len)
            };
            for &net in m.keys() {
                f.set(net >> 8, (net | span) >> 8);
            }
        }
        Some(f)
    }

    /// Sets the bits of blocks `first..=last` (whole words at a time: a /8 is 1,024 stores).
    fn set(&mut self, first: u32, last: u32) {
        let (fw, lw) = ((first >> 6) as usize, (last >> 6) as usize);
        let lo = u64::MAX << (first & 63);
        let hi = u64::MAX >> (63 - (last & 63));
        if fw == lw {
            self.bits[fw] |= lo & hi;
            return;
        }
        self.bits[fw] |= lo;
        for w in &mut self.bits[fw + 1..lw] {
            *w = u64::MAX;
        }
        self.bits[lw] |= hi;
    }

    #[inline]
    fn may_hold(&self, a: u32) -> bool {
        let b = a >> 8;
        self.bits[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }

    fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Whether an observation expression's index hit is already its match: a single `=` / `IN`
/// test on a property that every value of the probed class has (no evaluation needed).
pub(crate) fn is_exact(e: &VExpr) -> bool {
    let VExpr::Test(t) = e else { return false };
    !t.negated
        && matches!(t.op, VOp::Eq(_) | VOp::In(_))
        && matches!(
            (t.obj, t.prop),
            (
                ObjType::Ipv4 | ObjType::Ipv6 | ObjType::Domain | ObjType::Url | ObjType::Email,
                Prop::Value
            ) | (ObjType::File | ObjType::Cert, Prop::Of(_))
        )
}
