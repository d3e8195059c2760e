//! The values an object holds, for the store's value index ("where else has this value
//! appeared"), and the classification of a looked-up text into the same canonical form.
//!
//! Both sides use the canonical forms of [`crate::canon`] (what `scan` matches and every export
//! writes): networks with host bits cleared, domain names in lower case and punycode, URLs
//! WHATWG-serialised without fragment or credentials, digests in lower-case hex; e-mail
//! addresses are compared without case; CVE and ATT&CK/DISARM ids in upper case.
//!
//! What an object holds ([`of_object`]):
//! - an indicator (`pattern_type` `stix`): the value of every comparison of its pattern, in every
//!   observation expression, that tests a value for equality (`=`, `IN`, and `ISSUBSET` on
//!   addresses), not negated — `LIKE`, `MATCHES`, `!=` and `NOT` name no value;
//! - an SCO (`domain-name`, `ipv4-addr`, `ipv6-addr`, `url`, `email-addr`, and the hashes of
//!   `file`, `artifact`, `x509-certificate`): its value;
//! - an observed-data: the values of the SCOs embedded in its (deprecated) `objects`, and, in
//!   [`Extracted::refs`], the ids of the SCOs its `object_refs` name (the store indexes it with
//!   their values);
//! - any object: CVE ids in `external_references` (and a vulnerability's CVE `name`), ATT&CK and
//!   DISARM ids (`T1059`, `T1059.001`, `TA0001`, `T0019`) in `external_references` whose
//!   `source_name` is MITRE's or DISARM's.
//!
//! At most [`MAX_PER_OBJECT`] values are kept per object.

use std::net::IpAddr;

use basics::net::Net;
use pattern::{ComparisonExpr, StixVersion};
use serde_json::Value as Json;

use crate::canon::{self, HashAlgo};

/// Values kept per object at most (a pattern with a huge `IN` set indexes its first ones).
pub const MAX_PER_OBJECT: usize = 1024;

/// Longest text [`classify`] accepts (bytes).
pub const MAX_QUERY_LEN: usize = 2048;

/// The kind of a canonical value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An IPv4 address or network.
    Ipv4,
    /// An IPv6 address or network.
    Ipv6,
    /// A DNS name.
    Domain,
    /// A URL.
    Url,
    /// An e-mail address.
    Email,
    /// An MD5 digest.
    Md5,
    /// A SHA-1 digest.
    Sha1,
    /// A SHA-256 digest.
    Sha256,
    /// A SHA-512 digest.
    Sha512,
    /// A CVE id.
    Cve,
    /// An ATT&CK or DISARM technique or tactic id.
    Technique,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Domain,
        Kind::Url,
        Kind::Email,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Cve,
        Kind::Technique,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Email => "email",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Sha512 => "sha512",
            Kind::Cve => "cve",
            Kind::Technique => "technique",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where in an object a value occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// An indicator's pattern.
    Pattern,
    /// An observed-data's SCOs (embedded or referenced).
    Observed,
    /// The SCO itself.
    Sco,
    /// An external reference's `external_id`.
    ExternalId,
    /// The object's `name` (a vulnerability named by its CVE).
    Name,
    /// A sighting, through the observed-data or indicator it refers to.
    Sighting,
}

impl Place {
    /// Every place.
    pub const ALL: [Place; 6] = [
        Place::Pattern,
        Place::Observed,
        Place::Sco,
        Place::ExternalId,
        Place::Name,
        Place::Sighting,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Pattern => "pattern",
            Place::Observed => "observed",
            Place::Sco => "sco",
            Place::ExternalId => "external-id",
            Place::Name => "name",
            Place::Sighting => "sighting",
        }
    }

    /// The place of a stored name.
    pub fn parse(s: &str) -> Option<Place> {
        Place::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One value of an object, canonical.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Occurrence {
    /// Its kind.
    pub kind: Kind,
    /// Its canonical text (a network of one is the address alone: `1.2.3.4`, `10.0.0.0/8`).
    pub value: String,
    /// Where it occurs.
    pub place: Place,
}

impl Occurrence {
    /// For an address or network: its first address as big-endian bytes (4 for IPv4, 16 for
    /// IPv6) and its prefix length, the key a containment search orders by.
    pub fn net_key(&self) -> Option<(Vec<u8>, i64)> {
        if !matches!(self.kind, Kind::Ipv4 | Kind::Ipv6) {
            return None;
        }
        Net::parse(&self.value).ok().map(|n| net_key(&n))
    }
}

/// The first address of `n` as big-endian bytes (4 or 16) and its prefix length.
pub fn net_key(n: &Net) -> (Vec<u8>, i64) {
    let bytes = if n.is_v6() {
        n.bits().to_be_bytes().to_vec()
    } else {
        (n.bits() as u32).to_be_bytes().to_vec()
    };
    (bytes, i64::from(n.prefix()))
}

/// The last address of `n` as big-endian bytes (4 or 16).
pub fn net_last(n: &Net) -> Vec<u8> {
    let host = u32::from(n.width()) - u32::from(n.prefix());
    let span = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    let last = n.bits() | span;
    if n.is_v6() {
        last.to_be_bytes().to_vec()
    } else {
        (last as u32).to_be_bytes().to_vec()
    }
}

/// What [`of_object`] finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The object's own values, each once per place.
    pub values: Vec<Occurrence>,
    /// For an observed-data: the SCO ids its `object_refs` name (indexed with their values).
    pub refs: Vec<String>,
}

/// The values `obj` holds (see the module documentation). Never fails: what cannot be read
/// holds no value.
pub fn of_object(obj: &Json) -> Extracted {
    let mut out = Extracted::default();
    let ty = obj.get("type").and_then(Json::as_str).unwrap_or("");
    match ty {
        "indicator" => {
            let stix = obj
                .get("pattern_type")
                .and_then(Json::as_str)
                .is_none_or(|t| t == "stix");
            if stix && let Some(p) = obj.get("pattern").and_then(Json::as_str) {
                of_pattern(p, &mut out.values);
            }
        }
        "observed-data" => {
            if let Some(objects) = obj.get("objects").and_then(Json::as_object) {
                for sco in objects.values() {
                    of_sco(sco, Place::Observed, &mut out.values);
                }
            }
            if let Some(refs) = obj.get("object_refs").and_then(Json::as_array) {
                out.refs = refs
                    .iter()
                    .filter_map(Json::as_str)
                    .filter(|r| is_indexed_sco_id(r))
                    .take(MAX_PER_OBJECT)
                    .map(str::to_owned)
                    .collect();
                out.refs.sort_unstable();
                out.refs.dedup();
            }
        }
        _ => of_sco(obj, Place::Sco, &mut out.values),
    }
    if ty == "vulnerability"
        && let Some(name) = obj.get("name").and_then(Json::as_str)
        && let Some(cve) = cve(name)
    {
        out.values.push(Occurrence {
            kind: Kind::Cve,
            value: cve,
            place: Place::Name,
        });
    }
    if let Some(refs) = obj.get("external_references").and_then(Json::as_array) {
        for r in refs {
            let Some(id) = r.get("external_id").and_then(Json::as_str) else {
                continue;
            };
            let source = r
                .get("source_name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            if let Some(c) = cve(id) {
                out.values.push(Occurrence {
                    kind: Kind::Cve,
                    value: c,
                    place: Place::ExternalId,
                });
            } else if (source.starts_with("mitre") || source == "disarm")
                && let Some(t) = technique(id)
            {
                out.values.push(Occurrence {
                    kind: Kind::Technique,
                    value: t,
                    place: Place::ExternalId,
                });
            }
        }
    }
    out.values.sort_unstable();
    out.values.dedup();
    out.values.truncate(MAX_PER_OBJECT);
    out
}

/// Whether `id` names an SCO of a type whose value is indexed.
fn is_indexed_sco_id(id: &str) -> bool {
    id.split_once("--").is_some_and(|(t, _)| {
        matches!(
            t,
            "domain-name"
                | "ipv4-addr"
                | "ipv6-addr"
                | "url"
                | "email-addr"
                | "file"
                | "artifact"
                | "x509-certificate"
        )
    })
}

fn push_net(n: Net, place: Place, out: &mut Vec<Occurrence>) {
    out.push(Occurrence {
        kind: if n.is_v6() { Kind::Ipv6 } else { Kind::Ipv4 },
        value: n.to_compact(),
        place,
    });
}

fn push_domain(s: &str, place: Place, out: &mut Vec<Occurrence>) {
    if let Some(d) = telemetry::canon::domain(s) {
        out.push(Occurrence {
            kind: Kind::Domain,
            value: d.into_owned(),
            place,
        });
    }
}

fn push_hash(algo: &str, s: &str, place: Place, out: &mut Vec<Occurrence>) {
    let n: String = algo
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let (kind, len) = match n.as_str() {
        "md5" => (Kind::Md5, 32),
        "sha1" => (Kind::Sha1, 40),
        "sha256" => (Kind::Sha256, 64),
        "sha512" => (Kind::Sha512, 128),
        _ => return,
    };
    if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.push(Occurrence {
            kind,
            value: s.to_ascii_lowercase(),
            place,
        });
    }
}

/// The value of one SCO (or nothing, for any other object).
fn of_sco(sco: &Json, place: Place, out: &mut Vec<Occurrence>) {
    let ty = sco.get("type").and_then(Json::as_str).unwrap_or("");
    let value = sco.get("value").and_then(Json::as_str);
    match (ty, value) {
        ("ipv4-addr" | "ipv6-addr", Some(v)) => {
            if let Ok(n) = Net::parse(v)
                && n.is_v6() == (ty == "ipv6-addr")
            {
                push_net(n, place, out);
            }
        }
        ("domain-name", Some(v)) => push_domain(v, place, out),
        ("url", Some(v)) if !v.is_empty() && !v.chars().any(char::is_control) => {
            out.push(Occurrence {
                kind: Kind::Url,
                value: telemetry::canon::url(v).into_owned(),
                place,
            });
        }
        ("email-addr", Some(v)) => {
            if let Some(e) = email(v) {
                out.push(Occurrence {
                    kind: Kind::Email,
                    value: e,
                    place,
                });
            }
        }
        ("file" | "artifact" | "x509-certificate", _) => {
            if let Some(h) = sco.get("hashes").and_then(Json::as_object) {
                for (algo, v) in h {
                    if let Some(v) = v.as_str() {
                        push_hash(algo, v, place, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The values of every equality comparison of a STIX pattern.
fn of_pattern(text: &str, out: &mut Vec<Occurrence>) {
    let parsed = pattern::parse(text, StixVersion::V21);
    let Some(p) = parsed
        .pattern
        .filter(|_| parsed.diagnostics.iter().all(|d| !d.is_error()))
    else {
        return;
    };
    for c in p.inspect().comparisons {
        if out.len() >= MAX_PER_OBJECT {
            return;
        }
        if c.negated {
            continue;
        }
        // SHA-512 is not a digest the matcher compiles: read here.
        if let [pattern::PathStep::Key(h), pattern::PathStep::Key(algo)] = c.path
            && h == "hashes"
            && matches!(c.object_type, "file" | "artifact" | "x509-certificate")
            && HashAlgo::from_name(algo).is_none()
        {
            for s in literal_strings(c.operand) {
                push_hash(algo, s, Place::Pattern, out);
            }
            continue;
        }
        let Ok(v) = crate::verify::compile(&ComparisonExpr::Test(c.comparison.clone())) else {
            continue;
        };
        let mut vals = Vec::new();
        if canon::of_expr(&v, &mut vals).is_err() {
            continue;
        }
        for v in vals {
            match v {
                canon::Value::Net(n) => push_net(n, Place::Pattern, out),
                canon::Value::Domain(d) => out.push(Occurrence {
                    kind: Kind::Domain,
                    value: d,
                    place: Place::Pattern,
                }),
                canon::Value::Url(u) => out.push(Occurrence {
                    kind: Kind::Url,
                    value: u,
                    place: Place::Pattern,
                }),
                canon::Value::Email(e) => {
                    if let Some(e) = email(&e) {
                        out.push(Occurrence {
                            kind: Kind::Email,
                            value: e,
                            place: Place::Pattern,
                        });
                    }
                }
                canon::Value::Hash(_, algo, h) => out.push(Occurrence {
                    kind: match algo {
                        HashAlgo::Md5 => Kind::Md5,
                        HashAlgo::Sha1 => Kind::Sha1,
                        HashAlgo::Sha256 => Kind::Sha256,
                    },
                    value: h,
                    place: Place::Pattern,
                }),
                canon::Value::FileName(_) => {}
            }
        }
    }
}

fn literal_strings(o: &pattern::Operand) -> Vec<&str> {
    match o {
        pattern::Operand::Literal(pattern::Literal::String(s)) => vec![s.as_str()],
        pattern::Operand::Set(set) => set
            .iter()
            .filter_map(|l| match l {
                pattern::Literal::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An e-mail address in canonical form: lower case, one `@`, a domain part that is a DNS name
/// (in punycode).
fn email(raw: &str) -> Option<String> {
    let (local, domain) = raw.rsplit_once('@')?;
    if local.is_empty()
        || local.contains('@')
        || local.bytes().any(|b| b <= b' ' || b == 0x7f)
        || !domain.contains('.')
    {
        return None;
    }
    let d = telemetry::canon::domain(domain)?;
    Some(format!("{}@{d}", local.to_lowercase()))
}

/// `CVE-YYYY-NNNN…` in upper case, when `s` is one (any case).
fn cve(s: &str) -> Option<String> {
    let u = s.trim().to_ascii_uppercase();
    let rest = u.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    (year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=12).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit()))
    .then_some(u)
}

/// An ATT&CK or DISARM technique (`T1059`, `T1059.001`, `T0019`) or tactic (`TA0001`, `TA01`)
/// id in upper case, when `s` is one (any case).
fn technique(s: &str) -> Option<String> {
    let u = s.trim().to_ascii_uppercase();
    let digits = |t: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    let ok = if let Some(t) = u.strip_prefix("TA") {
        digits(t, 2..=4)
    } else if let Some(t) = u.strip_prefix('T') {
        match t.split_once('.') {
            Some((a, b)) => digits(a, 4..=4) && digits(b, 3..=3),
            None => digits(t, 4..=4),
        }
    } else {
        false
    };
    ok.then_some(u)
}

/// A looked-up text, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One canonical value of a kind other than an address.
    Exact {
        /// Its kind.
        kind: Kind,
        /// Its canonical text.
        value: String,
    },
    /// An address or network: objects holding it, a network containing it, or (for a network)
    /// an address or smaller network within it.
    Net(Net),
}

impl Query {
    /// The kind of value.
    pub fn kind(&self) -> Kind {
        match self {
            Query::Exact { kind, .. } => *kind,
            Query::Net(n) if n.is_v6() => Kind::Ipv6,
            Query::Net(_) => Kind::Ipv4,
        }
    }

    /// The canonical text.
    pub fn value(&self) -> String {
        match self {
            Query::Exact { value, .. } => value.clone(),
            Query::Net(n) => n.to_compact(),
        }
    }

    /// The canonical texts stored for the exact matches: the value itself and, for an address
    /// or network, every network that contains it (one per shorter prefix).
    pub fn exact_values(&self) -> Vec<String> {
        match self {
            Query::Exact { value, .. } => vec![value.clone()],
            Query::Net(n) => (0..=n.prefix())
                .filter_map(|p| Net::new(n.addr(), p))
                .map(|s| s.to_compact())
                .collect(),
        }
    }

    /// For a network of more than one address: the range of first addresses `(first, last)` and
    /// the least prefix length of the networks within it (strictly smaller ones and addresses).
    pub fn within(&self) -> Option<(Vec<u8>, Vec<u8>, i64)> {
        match self {
            Query::Net(n) if !n.is_host() => {
                Some((net_key(n).0, net_last(n), i64::from(n.prefix()) + 1))
            }
            _ => None,
        }
    }
}

/// Why a text is not a value that can be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAValue {
    /// Nothing to look up.
    #[error("the value is empty")]
    Empty,
    /// Longer than [`MAX_QUERY_LEN`].
    #[error("the value is longer than {MAX_QUERY_LEN} bytes")]
    TooLong,
    /// Control characters.
    #[error("the value holds control characters")]
    Control,
    /// A word or phrase, not an indicator value.
    #[error(
        "not a value: expected an IP address or network, a domain name, a URL, an e-mail address, an MD5/SHA-1/SHA-256/SHA-512 digest, a CVE id or an ATT&CK/DISARM id"
    )]
    Word,
}

/// Undoes the usual defanging (`hxxp://`, `[.]`, `(.)`, `[@]`, `[:]`).
fn refang(s: &str) -> String {
    let mut t = s
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".")
        .replace("[@]", "@")
        .replace("[:]", ":");
    for (from, to) in [("hxxps://", "https://"), ("hxxp://", "http://")] {
        if let (Some(head), Some(rest)) = (t.get(..from.len()), t.get(from.len()..))
            && head.eq_ignore_ascii_case(from)
        {
            t = format!("{to}{rest}");
        }
    }
    t
}

/// Classifies a pasted text into the canonical value it stands for (see the module
/// documentation), undoing the usual defanging first.
pub fn classify(text: &str) -> Result<Query, NotAValue> {
    if text.len() > MAX_QUERY_LEN {
        return Err(NotAValue::TooLong);
    }
    let t = text.trim();
    if t.is_empty() {
        return Err(NotAValue::Empty);
    }
    if t.chars().any(char::is_control) {
        return Err(NotAValue::Control);
    }
    let t = refang(t);
    let t = t.as_str();
    if let Some(c) = cve(t) {
        return Ok(Query::Exact {
            kind: Kind::Cve,
            value: c,
        });
    }
    if let Some(c) = technique(t) {
        return Ok(Query::Exact {
            kind: Kind::Technique,
            value: c,
        });
    }
    if t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let kind = match t.len() {
            32 => Some(Kind::Md5),
            40 => Some(Kind::Sha1),
            64 => Some(Kind::Sha256),
            128 => Some(Kind::Sha512),
            _ => None,
        };
        if let Some(kind) = kind {
            return Ok(Query::Exact {
                kind,
                value: t.to_ascii_lowercase(),
            });
        }
    }
    if let Ok(n) = Net::parse(t) {
        return Ok(Query::Net(n));
    }
    // `[2001:db8::1]` as written in URLs.
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Ok(Query::Net(Net::from_addr(ip)));
    }
    if t.contains("://") {
        if t.chars().any(char::is_whitespace) {
            return Err(NotAValue::Word);
        }
        return Ok(Query::Exact {
            kind: Kind::Url,
            value: telemetry::canon::url(t).into_owned(),
        });
    }
    if t.contains('@') {
        return email(t)
            .map(|value| Query::Exact {
                kind: Kind::Email,
                value,
            })
            .ok_or(NotAValue::Word);
    }
    if let Some(d) = telemetry::canon::domain(t)
        && is_dns_name(&d)
    {
        return Ok(Query::Exact {
            kind: Kind::Domain,
            value: d.into_owned(),
        });
    }
    Err(NotAValue::Word)
}

/// Whether `d` (canonical: lower case, punycode) looks like a DNS name: at least two labels of
/// letters, digits, `-` and `_`, none empty or longer than 63, a last label that is not numeric.
fn is_dns_name(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() >= 2
        && d.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && labels
            .last()
            .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn vals(obj: Json) -> Vec<(Kind, String, Place)> {
        of_object(&obj)
            .values
            .into_iter()
            .map(|o| (o.kind, o.value, o.place))
            .collect()
    }

    #[test]
    fn every_equality_of_a_pattern_counts() {
        let v = vals(json!({"type": "indicator", "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '203.0.113.70/26'] FOLLOWEDBY [domain-name:value = 'Bücher.Example.' AND url:value NOT = 'http://x.example/'] WITHIN 5 SECONDS OR [file:hashes.'SHA-512' = '".to_owned() + &"AB".repeat(64) + "' OR file:hashes.MD5 IN ('D41D8CD98F00B204E9800998ECF8427E')] OR [email-addr:value = 'Bad@Evil.Example'] OR [domain-name:value LIKE '%.x.example']"}));
        assert_eq!(
            v,
            vec![
                (Kind::Ipv4, "203.0.113.64/26".into(), Place::Pattern),
                (Kind::Domain, "xn--bcher-kva.example".into(), Place::Pattern),
                (Kind::Email, "bad@evil.example".into(), Place::Pattern),
                (
                    Kind::Md5,
                    "d41d8cd98f00b204e9800998ecf8427e".into(),
                    Place::Pattern
                ),
                (Kind::Sha512, "ab".repeat(64), Place::Pattern),
            ]
        );
        // Not a STIX pattern: nothing.
        assert!(
            vals(json!({"type": "indicator", "pattern_type": "sigma", "pattern": "x"})).is_empty()
        );
    }

    #[test]
    fn scos_observed_data_and_external_ids() {
        assert_eq!(
            vals(json!({"type": "ipv6-addr", "value": "2001:DB8::1"})),
            vec![(Kind::Ipv6, "2001:db8::1".into(), Place::Sco)]
        );
        let od = of_object(&json!({"type": "observed-data",
            "objects": {"0": {"type": "url", "value": "HTTP://Evil.Example:80/a#x"}},
            "object_refs": ["domain-name--0b0f2f4e-0000-5000-8000-000000000001", "identity--x"]}));
        assert_eq!(
            od.values,
            vec![Occurrence {
                kind: Kind::Url,
                value: "http://evil.example/a".into(),
                place: Place::Observed
            }]
        );
        assert_eq!(
            od.refs,
            vec!["domain-name--0b0f2f4e-0000-5000-8000-000000000001".to_owned()]
        );
        assert_eq!(
            vals(json!({"type": "vulnerability", "name": "cve-2024-3400",
                "external_references": [{"source_name": "cve", "external_id": "CVE-2024-3400"}]})),
            vec![
                (Kind::Cve, "CVE-2024-3400".into(), Place::ExternalId),
                (Kind::Cve, "CVE-2024-3400".into(), Place::Name)
            ]
        );
        assert_eq!(
            vals(json!({"type": "attack-pattern", "external_references": [
                {"source_name": "mitre-ics-attack", "external_id": "T0855"},
                {"source_name": "DISARM", "external_id": "t0019"},
                {"source_name": "somewhere", "external_id": "T0001"}]})),
            vec![
                (Kind::Technique, "T0019".into(), Place::ExternalId),
                (Kind::Technique, "T0855".into(), Place::ExternalId)
            ]
        );
    }

    #[test]
    fn classification() {
        let q = |s: &str| classify(s).map(|q| (q.kind(), q.value()));
        assert_eq!(
            q(" Bücher.EXAMPLE. "),
            Ok((Kind::Domain, "xn--bcher-kva.example".into()))
        );
        assert_eq!(
            q("evil[.]example"),
            Ok((Kind::Domain, "evil.example".into()))
        );
        assert_eq!(
            q("hxxp://Evil.Example/a"),
            Ok((Kind::Url, "http://evil.example/a".into()))
        );
        assert_eq!(q("10.1.2.3/8"), Ok((Kind::Ipv4, "10.0.0.0/8".into())));
        assert_eq!(q("[2001:db8::1]"), Ok((Kind::Ipv6, "2001:db8::1".into())));
        assert_eq!(
            q("cve-2021-44228"),
            Ok((Kind::Cve, "CVE-2021-44228".into()))
        );
        assert_eq!(q("t1059.001"), Ok((Kind::Technique, "T1059.001".into())));
        assert_eq!(q(&"A".repeat(40)), Ok((Kind::Sha1, "a".repeat(40))));
        assert_eq!(
            q("Ops@Evil.Example"),
            Ok((Kind::Email, "ops@evil.example".into()))
        );
        for word in ["ransomware", "hello world", "1234", "a.1", "x@y"] {
            assert_eq!(q(word), Err(NotAValue::Word), "{word}");
        }
        assert_eq!(q("   "), Err(NotAValue::Empty));
        assert_eq!(q(&"a".repeat(3000)), Err(NotAValue::TooLong));
        assert_eq!(q("a\u{0}b.example"), Err(NotAValue::Control));
        // Multi-byte text where the defanging prefixes would cut a character.
        assert_eq!(q("hxxpsxé"), Err(NotAValue::Word));
        assert_eq!(q("ééééééé"), Err(NotAValue::Word));
        let n = classify("192.0.2.77").unwrap();
        assert_eq!(n.exact_values().len(), 33);
        assert!(n.exact_values().contains(&"192.0.2.0/24".to_owned()));
        assert!(n.within().is_none());
        let n = classify("192.0.2.0/24").unwrap();
        assert_eq!(
            n.within(),
            Some((vec![192, 0, 2, 0], vec![192, 0, 2, 255], 25))
        );
    }
}
