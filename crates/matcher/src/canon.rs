//! The canonical values of an indicator: what `scan` matches and every export writes.
//!
//! A pattern that denotes "one of these values in this field" — one observation expression
//! without qualifiers, made of `=` / `IN` tests (and `ISSUBSET` on addresses) joined by `OR` —
//! reduces to typed, normalised [`Value`]s. The reduction runs over the matcher's own compiled
//! form of the comparison (the one `scan` evaluates), so a block list and a retro-hunt cover
//! the same values:
//!
//! - addresses and networks: [`basics::net::Net`], host bits cleared (`203.0.113.70/26` →
//!   `203.0.113.64/26`); `ipv4-addr:value = '10.0.0.0/8'` is the network, `/32` the address;
//!   MISP's `ip-src`/`ip-dst` shape `[network-traffic:dst_ref.type = 'ipv4-addr' AND
//!   network-traffic:dst_ref.value = '…']` (and `src_ref`) is the address;
//! - domain names: lower case, no trailing dot, IDN in punycode (`telemetry::canon::domain`);
//! - URLs: WHATWG-serialised, fragment and user name/password dropped
//!   (`telemetry::canon::url`);
//! - digests: lower-case hex; hash names are case-insensitive and may omit the dash (`md5`,
//!   `MD5`, `'SHA-256'`, `sha256`), see [`HashAlgo::from_name`];
//! - e-mail addresses and file names as given.
//!
//! Any other shape ([`values`] says why) has no canonical value: it can be scanned for, but
//! no block list can express it.

use std::fmt;

use basics::net::Net;
use pattern::{ObservationExpr, StixVersion};
use telemetry::Field;

use crate::verify::{self, Lit, ObjType, Prop, VExpr, VOp, VTest};

/// A digest algorithm a record can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl HashAlgo {
    /// The algorithm of a STIX hash name, case-insensitively and with or without the dash
    /// (`MD5`, `md5`, `SHA-1`, `sha1`, `SHA-256`, `sha256`).
    pub fn from_name(name: &str) -> Option<HashAlgo> {
        let n: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match n.as_str() {
            "md5" => HashAlgo::Md5,
            "sha1" => HashAlgo::Sha1,
            "sha256" => HashAlgo::Sha256,
            _ => return None,
        })
    }

    /// Hex digits in a digest.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 32,
            HashAlgo::Sha1 => 40,
            HashAlgo::Sha256 => 64,
        }
    }
}

/// Which object a digest is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashOf {
    /// A file's content.
    File,
    /// An X.509 certificate (its fingerprint).
    Certificate,
}

/// One canonical value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// An address (a network of one) or a network, normalised.
    Net(Net),
    /// A DNS name: lower case, punycode, no trailing dot.
    Domain(String),
    /// A URL: WHATWG-serialised, no fragment, no user name or password.
    Url(String),
    /// An e-mail address, as given.
    Email(String),
    /// A file name, as given.
    FileName(String),
    /// A digest in lower-case hex.
    Hash(HashOf, HashAlgo, String),
}

impl Value {
    /// The value's text: an address alone for a network of one (`1.2.3.4`, `10.0.0.0/8`).
    pub fn text(&self) -> String {
        match self {
            Value::Net(n) => n.to_compact(),
            Value::Domain(s)
            | Value::Url(s)
            | Value::Email(s)
            | Value::FileName(s)
            | Value::Hash(_, _, s) => s.clone(),
        }
    }

    /// The MISP attribute types a value of this kind is imported or exported as (for a
    /// warninglist's `matching_attributes`).
    pub fn misp_types(&self) -> &'static [&'static str] {
        match self {
            Value::Net(_) => &[
                "ip-src",
                "ip-dst",
                "ip-src|port",
                "ip-dst|port",
                "domain|ip",
                "ip",
            ],
            Value::Domain(_) => &["domain", "hostname", "domain|ip"],
            Value::Url(_) => &["url", "uri", "link"],
            Value::Email(_) => &["email", "email-src", "email-dst"],
            Value::FileName(_) => &["filename"],
            Value::Hash(HashOf::Certificate, ..) => {
                &["x509-fingerprint-sha1", "x509-fingerprint-sha256"]
            }
            Value::Hash(_, HashAlgo::Md5, _) => &["md5", "filename|md5"],
            Value::Hash(_, HashAlgo::Sha1, _) => &["sha1", "filename|sha1"],
            Value::Hash(_, HashAlgo::Sha256, _) => &["sha256", "filename|sha256"],
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Why an indicator has no canonical values (a sentence).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoCanonical(pub String);

fn no(s: impl Into<String>) -> NoCanonical {
    NoCanonical(s.into())
}

/// The canonical values of a STIX pattern, or why it has none.
pub fn values(pattern_text: &str) -> Result<Vec<Value>, NoCanonical> {
    let parsed = pattern::parse(pattern_text, StixVersion::V21);
    let Some(p) = parsed
        .pattern
        .filter(|_| parsed.diagnostics.iter().all(|d| !d.is_error()))
    else {
        return Err(no("the pattern is not valid"));
    };
    let mut root = &p.root;
    while let ObservationExpr::Group { inner, .. } = root {
        root = inner;
    }
    let ObservationExpr::Simple { comparison, .. } = root else {
        return Err(no(
            "patterns over several observations or with qualifiers cannot be block-list entries",
        ));
    };
    let v = verify::compile(comparison).map_err(|e| no(e.0))?;
    let mut out = Vec::new();
    of_expr(&v, &mut out)?;
    out.dedup();
    Ok(out)
}

/// The canonical values of one compiled observation expression.
pub(crate) fn of_expr(e: &VExpr, out: &mut Vec<Value>) -> Result<(), NoCanonical> {
    match e {
        VExpr::Or(a, b) => {
            of_expr(a, out)?;
            of_expr(b, out)
        }
        VExpr::And(a, b) => match (ref_type(a), ref_type(b)) {
            // MISP's `X_ref.type = '…' AND X_ref.value = '…'`: the address, when the family
            // the type names is the value's.
            (Some((side, ty)), None) => typed_ref(b, side, ty, out),
            (None, Some((side, ty))) => typed_ref(a, side, ty, out),
            _ => Err(no(
                "an AND inside the observation cannot be a block-list entry",
            )),
        },
        VExpr::Test(t) => of_test(t, out),
    }
}

/// `Some((dst?, type))` when `e` is `X_ref.type = 'ipv4-addr'|'ipv6-addr'`.
fn ref_type(e: &VExpr) -> Option<(bool, bool)> {
    let VExpr::Test(t) = e else { return None };
    let dst = match t.prop {
        Prop::SrcRefType => false,
        Prop::DstRefType => true,
        _ => return None,
    };
    let VOp::Eq(Lit::Str(s)) = &t.op else {
        return None;
    };
    let v6 = match s.as_str() {
        "ipv4-addr" => false,
        "ipv6-addr" => true,
        _ => return None,
    };
    (!t.negated).then_some((dst, v6))
}

fn typed_ref(e: &VExpr, dst: bool, v6: bool, out: &mut Vec<Value>) -> Result<(), NoCanonical> {
    let want = if dst {
        Prop::DstRefValue
    } else {
        Prop::SrcRefValue
    };
    let mut vals = Vec::new();
    let ok = match e {
        VExpr::Test(t) if t.prop == want => of_test(t, &mut vals).is_ok(),
        VExpr::Or(..) => of_expr(e, &mut vals).is_ok(),
        _ => false,
    };
    if !ok || vals.is_empty() {
        return Err(no(
            "an AND inside the observation cannot be a block-list entry",
        ));
    }
    for v in vals {
        match v {
            Value::Net(n) if n.is_v6() == v6 => out.push(Value::Net(n)),
            _ => {
                return Err(no(format!(
                    "the address {v} is not of the type the pattern names ({})",
                    if v6 { "ipv6-addr" } else { "ipv4-addr" }
                )));
            }
        }
    }
    Ok(())
}

fn lit_strs(op: &VOp) -> Result<Vec<&str>, NoCanonical> {
    let one = |l: &'_ Lit| -> Result<(), NoCanonical> {
        match l {
            Lit::Str(_) => Ok(()),
            _ => Err(no("only string values can be block-list entries")),
        }
    };
    match op {
        VOp::Eq(l) => {
            one(l)?;
            Ok(vec![match l {
                Lit::Str(s) => s.as_str(),
                _ => "",
            }])
        }
        VOp::In(set) => set
            .iter()
            .map(|l| match l {
                Lit::Str(s) => Ok(s.as_str()),
                _ => Err(no("only string values can be block-list entries")),
            })
            .collect(),
        VOp::Ne(_) => Err(no("the != operator cannot be exported")),
        VOp::Order(..) => Err(no("an order comparison (<, >) cannot be exported")),
        VOp::Like(..) => Err(no("the LIKE operator cannot be exported")),
        VOp::Matches(..) => Err(no("the MATCHES operator cannot be exported")),
        VOp::Superset(..) => Err(no("the ISSUPERSET operator cannot be exported")),
        VOp::Subset(..) => Err(no("ISSUBSET on a non-address cannot be exported")),
        VOp::Exists => Err(no("the EXISTS operator cannot be exported")),
    }
}

fn bad(kind: &str, v: &str) -> NoCanonical {
    no(format!("{v:?} is not a valid {kind} value"))
}

fn of_test(t: &VTest, out: &mut Vec<Value>) -> Result<(), NoCanonical> {
    if t.negated {
        return Err(no("a NOT test cannot be exported"));
    }
    if verify::is_ip_prop(t.obj, t.prop) {
        if let VOp::Subset(b, s) = &t.op {
            let n = b.map(|b| b.net()).ok_or_else(|| bad("network", s))?;
            push_net(t, n, out)?;
            return Ok(());
        }
        for s in lit_strs(&t.op)? {
            let n = Net::parse(s).map_err(|_| bad("address", s))?;
            push_net(t, n, out)?;
        }
        return Ok(());
    }
    let kind = match (t.obj, t.prop) {
        (ObjType::Domain, Prop::Value) => "domain",
        (ObjType::Url, Prop::Value) => "url",
        (ObjType::Email, Prop::Value) => "email",
        (ObjType::File, Prop::Of(Field::FileName)) => "file-name",
        (ObjType::File | ObjType::Cert, Prop::Of(f)) if hash_of(f).is_some() => "hash",
        _ => return Err(no("the property has no export form")),
    };
    for s in lit_strs(&t.op)? {
        if s.is_empty() || s.chars().any(char::is_control) {
            return Err(bad(kind, s));
        }
        let v = match (t.prop, kind) {
            (_, "domain") => {
                if s.bytes().any(|b| b <= b' ') {
                    return Err(bad(kind, s));
                }
                Value::Domain(s.to_owned())
            }
            (_, "url") => Value::Url(s.to_owned()),
            (_, "email") => Value::Email(s.to_owned()),
            (_, "file-name") => Value::FileName(s.to_owned()),
            (Prop::Of(f), _) => {
                let (of, algo) = hash_of(f).ok_or_else(|| bad(kind, s))?;
                if s.len() != algo.hex_len() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad(kind, s));
                }
                Value::Hash(of, algo, s.to_ascii_lowercase())
            }
            _ => return Err(bad(kind, s)),
        };
        out.push(v);
    }
    Ok(())
}

fn push_net(t: &VTest, n: Net, out: &mut Vec<Value>) -> Result<(), NoCanonical> {
    match t.obj {
        ObjType::Ipv4 if n.is_v6() => Err(no(format!("{n} is not an IPv4 address"))),
        ObjType::Ipv6 if !n.is_v6() => Err(no(format!("{n} is not an IPv6 address"))),
        _ => {
            out.push(Value::Net(n));
            Ok(())
        }
    }
}

fn hash_of(f: Field) -> Option<(HashOf, HashAlgo)> {
    Some(match f {
        Field::FileMd5 => (HashOf::File, HashAlgo::Md5),
        Field::FileSha1 => (HashOf::File, HashAlgo::Sha1),
        Field::FileSha256 => (HashOf::File, HashAlgo::Sha256),
        Field::CertSha1 => (HashOf::Certificate, HashAlgo::Sha1),
        Field::CertSha256 => (HashOf::Certificate, HashAlgo::Sha256),
        _ => return None,
    })
}

/// The canonical value a record's field value stands for (record values are canonical
/// already: the readers normalise them with the same functions).
pub fn value_of_field(field: Field, text: &str) -> Option<Value> {
    use Field as F;
    Some(match field {
        F::SourceIp | F::DestinationIp | F::DnsResolvedIp => {
            Value::Net(Net::from_addr(text.parse().ok()?))
        }
        F::DnsQuestion | F::UrlDomain | F::TlsServerName => Value::Domain(text.to_owned()),
        F::UrlFull => Value::Url(text.to_owned()),
        F::EmailFrom | F::EmailTo => Value::Email(text.to_owned()),
        F::FileName => Value::FileName(text.to_owned()),
        f => {
            let (of, algo) = hash_of(f)?;
            Value::Hash(of, algo, text.to_owned())
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn texts(p: &str) -> Vec<String> {
        values(p).unwrap().iter().map(Value::text).collect()
    }

    #[test]
    fn misp_ip_shapes_are_addresses() {
        for side in ["dst", "src"] {
            assert_eq!(
                texts(&format!(
                    "[network-traffic:{side}_ref.type = 'ipv4-addr' AND network-traffic:{side}_ref.value = '203.0.113.5']"
                )),
                ["203.0.113.5"]
            );
        }
        assert_eq!(
            texts(
                "[network-traffic:dst_ref.value = '2001:DB8::1' AND network-traffic:dst_ref.type = 'ipv6-addr']"
            ),
            ["2001:db8::1"]
        );
        assert!(values("[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = '203.0.113.5']").is_err());
        assert!(values("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '203.0.113.5']").is_err());
        // With a port (MISP ip-dst|port): an AND a block list cannot hold.
        assert!(values("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443]").is_err());
    }

    #[test]
    fn networks_are_normalised() {
        assert_eq!(
            texts("[ipv4-addr:value = '203.0.113.70/26']"),
            ["203.0.113.64/26"]
        );
        assert_eq!(
            texts("[ipv4-addr:value ISSUBSET '10.1.2.3/8']"),
            ["10.0.0.0/8"]
        );
        assert_eq!(texts("[ipv4-addr:value = '192.0.2.1/32']"), ["192.0.2.1"]);
        assert_eq!(
            texts("[ipv6-addr:value IN ('2001:DB8::1/48', '2001:db8::5')]"),
            ["2001:db8::/48", "2001:db8::5"]
        );
        assert!(values("[ipv4-addr:value = '2001:db8::1']").is_err());
    }

    #[test]
    fn idn_urls_and_hash_names() {
        assert_eq!(
            texts("[domain-name:value = 'Bücher.Example.']"),
            ["xn--bcher-kva.example"]
        );
        assert_eq!(
            texts("[url:value = 'http://user:pw@Evil.Example:80/a?b=1#frag']"),
            ["http://evil.example/a?b=1"]
        );
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        for name in ["md5", "MD5", "'MD5'", "'md5'"] {
            assert_eq!(
                values(&format!("[file:hashes.{name} = '{md5}']")).unwrap(),
                [Value::Hash(
                    HashOf::File,
                    HashAlgo::Md5,
                    md5.to_ascii_lowercase()
                )],
                "{name}"
            );
        }
        let sha = "ab".repeat(32);
        for name in ["'SHA-256'", "sha256", "SHA256", "'sha-256'"] {
            assert_eq!(
                values(&format!("[file:hashes.{name} = '{sha}']")).unwrap(),
                [Value::Hash(HashOf::File, HashAlgo::Sha256, sha.clone())],
                "{name}"
            );
        }
        assert!(values("[file:hashes.'SHA-256' = 'xyz']").is_err());
    }
}
