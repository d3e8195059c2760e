//! Exports for the tools that block and detect: the exportable values of a pattern, the Zeek
//! Intel framework, a DNS RPZ zone, plain lists per type and CSV (Suricata: `crate::suricata`).
//!
//! Only what a device can enforce faithfully is exported: the indicator's canonical values
//! ([`crate::canon`], the values `scan` matches), so one observation expression made of `=` /
//! `IN` tests (and `ISSUBSET` for networks) joined by `OR`, and MISP's typed address shape;
//! any other shape (`AND`, qualifiers, several observations, `!=`, `LIKE`) is skipped with a
//! reason, since a block list cannot express it. [`apply_warninglists`] then removes what is
//! too broad or known-good.

use std::fmt::Write as _;
use std::net::IpAddr;

use basics::net::Net;

use crate::Indicator;
use crate::canon::{self, HashAlgo, HashOf, Value};
use crate::warninglist::{Finding, Policy, Warninglists};

/// The kind of an exportable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A CIDR block (either family).
    Cidr,
    /// A domain name.
    Domain,
    /// A URL.
    Url,
    /// An e-mail address.
    Email,
    /// A file name.
    FileName,
    /// A file MD5.
    Md5,
    /// A file SHA-1.
    Sha1,
    /// A file SHA-256.
    Sha256,
    /// A certificate SHA-1 fingerprint.
    CertSha1,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 11] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Cidr,
        Kind::Domain,
        Kind::Url,
        Kind::Email,
        Kind::FileName,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::CertSha1,
    ];

    /// The name used in lists and CSV (`domain`, `sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Cidr => "cidr",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Email => "email",
            Kind::FileName => "file-name",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::CertSha1 => "cert-sha1",
        }
    }

    /// The kind of a name.
    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One exportable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observable {
    /// Its kind.
    pub kind: Kind,
    /// The value, normalised (canonical addresses, lower-case names and digests).
    pub value: String,
}

impl Observable {
    /// The exportable value of a canonical value; `None` for a certificate SHA-256, which no
    /// export format carries.
    pub fn of(v: &Value) -> Option<Observable> {
        let (kind, value) = match v {
            Value::Net(n) if n.is_host() && n.is_v6() => (Kind::Ipv6, n.to_compact()),
            Value::Net(n) if n.is_host() => (Kind::Ipv4, n.to_compact()),
            Value::Net(n) => (Kind::Cidr, n.to_compact()),
            Value::Domain(d) => (Kind::Domain, d.clone()),
            Value::Url(u) => (Kind::Url, u.clone()),
            Value::Email(e) => (Kind::Email, e.clone()),
            Value::FileName(f) => (Kind::FileName, f.clone()),
            Value::Hash(HashOf::File, HashAlgo::Md5, h) => (Kind::Md5, h.clone()),
            Value::Hash(HashOf::File, HashAlgo::Sha1, h) => (Kind::Sha1, h.clone()),
            Value::Hash(HashOf::File, HashAlgo::Sha256, h) => (Kind::Sha256, h.clone()),
            Value::Hash(HashOf::Certificate, HashAlgo::Sha1, h) => (Kind::CertSha1, h.clone()),
            Value::Hash(HashOf::Certificate, ..) => return None,
        };
        Some(Observable { kind, value })
    }

    /// The network of an address or network value.
    pub fn net(&self) -> Option<Net> {
        match self.kind {
            Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => Net::parse(&self.value).ok(),
            _ => None,
        }
    }
}

/// The exportable values of a pattern — its canonical values ([`crate::canon::values`]), the
/// same ones `scan` matches — or why it has none.
pub fn observables(pattern_text: &str) -> Result<Vec<Observable>, String> {
    let vals = canon::values(pattern_text).map_err(|e| e.0)?;
    vals.iter()
        .map(|v| {
            Observable::of(v).ok_or_else(|| {
                format!("{v}: a certificate SHA-256 has no form in the block-list exports")
            })
        })
        .collect()
}

/// A value a warninglist matched in an export.
#[derive(Debug, Clone)]
pub struct Suppressed {
    /// The indicator id.
    pub indicator: String,
    /// The value.
    pub value: Observable,
    /// The list and why.
    pub finding: Finding,
}

/// Applies warninglists to the items: values a `drop` list matches are removed (an item left
/// without values is removed), values an `inform` list matches are kept. Returns both, in
/// order, with their reasons.
pub fn apply_warninglists(
    items: &mut Vec<Item<'_>>,
    lists: &Warninglists,
) -> (Vec<Suppressed>, Vec<Suppressed>) {
    let (mut dropped, mut inform) = (Vec::new(), Vec::new());
    for it in items.iter_mut() {
        it.observables.retain(|o| {
            let Some(v) = canonical_of(o) else {
                return true;
            };
            let Some(finding) = lists.check(&v) else {
                return true;
            };
            let s = Suppressed {
                indicator: it.indicator.id.clone(),
                value: o.clone(),
                finding,
            };
            let keep = s.finding.policy == Policy::Inform;
            if keep {
                inform.push(s);
            } else {
                dropped.push(s);
            }
            keep
        });
    }
    items.retain(|it| !it.observables.is_empty());
    (dropped, inform)
}

/// The canonical value an exportable value came from.
fn canonical_of(o: &Observable) -> Option<Value> {
    Some(match o.kind {
        Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => Value::Net(o.net()?),
        Kind::Domain => Value::Domain(o.value.clone()),
        Kind::Url => Value::Url(o.value.clone()),
        Kind::Email => Value::Email(o.value.clone()),
        Kind::FileName => Value::FileName(o.value.clone()),
        Kind::Md5 => Value::Hash(HashOf::File, HashAlgo::Md5, o.value.clone()),
        Kind::Sha1 => Value::Hash(HashOf::File, HashAlgo::Sha1, o.value.clone()),
        Kind::Sha256 => Value::Hash(HashOf::File, HashAlgo::Sha256, o.value.clone()),
        Kind::CertSha1 => Value::Hash(HashOf::Certificate, HashAlgo::Sha1, o.value.clone()),
    })
}

/// An indicator with its exportable values.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// The indicator.
    pub indicator: &'a Indicator,
    /// Its values.
    pub observables: Vec<Observable>,
}

fn zeek_type(k: Kind) -> Option<&'static str> {
    Some(match k {
        Kind::Ipv4 | Kind::Ipv6 => "Intel::ADDR",
        Kind::Cidr => "Intel::SUBNET",
        Kind::Domain => "Intel::DOMAIN",
        Kind::Url => "Intel::URL",
        Kind::Email => "Intel::EMAIL",
        Kind::FileName => "Intel::FILE_NAME",
        Kind::Md5 | Kind::Sha1 | Kind::Sha256 => "Intel::FILE_HASH",
        Kind::CertSha1 => "Intel::CERT_HASH",
    })
}

fn zeek_field(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c == '\t' || c.is_control() { ' ' } else { c })
        .collect();
    if s.is_empty() { "-".into() } else { s }
}

/// A Zeek Intel framework file (`#fields indicator indicator_type meta.source meta.desc
/// meta.url`). URLs are canonical (no user name, password or fragment) and lose their scheme,
/// as Zeek's `Intel::URL` matches `host[:port]/path`; addresses are `Intel::ADDR`, networks
/// (either family, host bits cleared) `Intel::SUBNET`.
pub fn zeek_intel(items: &[Item<'_>], source: &str) -> String {
    let mut out =
        String::from("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n");
    for it in items {
        for o in &it.observables {
            let Some(t) = zeek_type(o.kind) else { continue };
            let value = if o.kind == Kind::Url {
                o.value
                    .split_once("://")
                    .map_or(o.value.as_str(), |(_, r)| r)
                    .to_owned()
            } else {
                o.value.clone()
            };
            let desc = format!(
                "{} ({})",
                it.indicator.name.as_deref().unwrap_or("indicator"),
                it.indicator.id
            );
            let _ = writeln!(
                out,
                "{}\t{t}\t{}\t{}\t-",
                zeek_field(&value),
                zeek_field(source),
                zeek_field(&desc)
            );
        }
    }
    out
}

/// Whether a name is a DNS name a zone can hold (LDH labels of 1–63 bytes, 253 bytes at most).
pub fn valid_dns_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The `rpz-ip` owner of an address or network (host bits cleared, as BIND requires).
fn rpz_ip(v: &str) -> Option<String> {
    let n = Net::parse(v).ok()?;
    let len = n.prefix();
    match n.addr() {
        IpAddr::V4(a) => {
            let o = a.octets();
            Some(format!("{len}.{}.{}.{}.{}.rpz-ip", o[3], o[2], o[1], o[0]))
        }
        IpAddr::V6(a) => {
            let g = a.segments();
            // The longest run of two or more zero groups becomes `zz`.
            let (mut best, mut best_len, mut i) = (None, 1usize, 0usize);
            while i < 8 {
                if g[i] == 0 {
                    let start = i;
                    while i < 8 && g[i] == 0 {
                        i += 1;
                    }
                    if i - start > best_len {
                        best = Some(start);
                        best_len = i - start;
                    }
                } else {
                    i += 1;
                }
            }
            let mut labels: Vec<String> = Vec::new();
            let mut j = 0;
            while j < 8 {
                if Some(j) == best {
                    labels.push("zz".into());
                    j += best_len;
                } else {
                    labels.push(format!("{:x}", g[j]));
                    j += 1;
                }
            }
            labels.reverse();
            Some(format!("{len}.{}.rpz-ip", labels.join(".")))
        }
    }
}

/// A DNS Response Policy Zone: `CNAME .` (NXDOMAIN) for each domain and its subdomains, and
/// `rpz-ip` triggers for addresses and networks. `serial` is the SOA serial (the caller
/// chooses it, e.g. from the clock). Names that no zone can hold are counted in the second
/// value and left out.
pub fn rpz(items: &[Item<'_>], serial: u32) -> (String, usize) {
    let mut out = format!(
        "$TTL 300\n@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 300 )\n  IN NS localhost.\n"
    );
    let mut skipped = 0;
    let mut seen = std::collections::HashSet::new();
    for it in items {
        for o in &it.observables {
            let owner = match o.kind {
                Kind::Domain if valid_dns_name(&o.value) => Some(o.value.clone()),
                Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => rpz_ip(&o.value),
                _ => None,
            };
            let Some(owner) = owner else {
                skipped += 1;
                continue;
            };
            if !seen.insert(owner.clone()) {
                continue;
            }
            let _ = writeln!(out, "; {}", it.indicator.id);
            let _ = writeln!(out, "{owner} CNAME .");
            if o.kind == Kind::Domain {
                let _ = writeln!(out, "*.{owner} CNAME .");
            }
        }
    }
    (out, skipped)
}

/// The values of one kind, one per line, without duplicates, in first-seen order. Addresses
/// are listed per family with the networks of that family (`ipv4`: IPv4 addresses and
/// networks; `ipv6`: IPv6), collapsed (`basics::net::collapse`: duplicates, networks inside
/// others and adjacent halves merged) in address order; `cidr` lists the networks of both
/// families, IPv4 first.
pub fn list(items: &[Item<'_>], kind: Kind) -> String {
    let mut out = String::new();
    let all = items.iter().flat_map(|i| &i.observables);
    if matches!(kind, Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr) {
        let nets = all.filter_map(|o| {
            let n = o.net()?;
            let keep = match kind {
                Kind::Ipv4 => !n.is_v6(),
                Kind::Ipv6 => n.is_v6(),
                _ => o.kind == Kind::Cidr,
            };
            keep.then_some(n)
        });
        for n in basics::net::collapse(nets) {
            out.push_str(&n.to_compact());
            out.push('\n');
        }
        return out;
    }
    let mut seen = std::collections::HashSet::new();
    for o in all {
        if o.kind == kind && seen.insert(o.value.as_str()) {
            out.push_str(&o.value);
            out.push('\n');
        }
    }
    out
}

/// One CSV cell, safe to open in a spreadsheet: a value that a spreadsheet would read as a
/// formula (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading
/// `'`, which spreadsheets take as "text"; then a cell holding `,`, `"`, a line feed or a
/// carriage return is quoted, inner quotes doubled (RFC 4180).
pub fn csv_cell(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: `indicator,name,type,value,tlp,valid_from,valid_until`; `tlp` gives each indicator's
/// TLP name. Every cell goes through [`csv_cell`] (no formula reaches a spreadsheet).
pub fn csv(items: &[Item<'_>], tlp: impl Fn(&Indicator) -> String) -> String {
    let mut out = String::from("indicator,name,type,value,tlp,valid_from,valid_until\n");
    let t = |n: Option<i64>| n.map(telemetry::time::format_timestamp).unwrap_or_default();
    for it in items {
        for o in &it.observables {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                csv_cell(&it.indicator.id),
                csv_cell(it.indicator.name.as_deref().unwrap_or("")),
                csv_cell(o.kind.name()),
                csv_cell(&o.value),
                csv_cell(&tlp(it.indicator)),
                csv_cell(&t(it.indicator.valid_from)),
                csv_cell(&t(it.indicator.valid_until))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn obs(p: &str) -> Result<Vec<(Kind, String)>, String> {
        observables(p).map(|v| v.into_iter().map(|o| (o.kind, o.value)).collect())
    }

    #[test]
    fn exportable_shapes() {
        assert_eq!(
            obs("[domain-name:value = 'Evil.Example.' OR ipv4-addr:value IN ('1.2.3.4', '10.0.0.0/8')]").unwrap(),
            vec![
                (Kind::Domain, "evil.example".into()),
                (Kind::Ipv4, "1.2.3.4".into()),
                (Kind::Cidr, "10.0.0.0/8".into())
            ]
        );
        assert_eq!(
            obs("[file:hashes.'SHA-256' = 'AA00000000000000000000000000000000000000000000000000000000000000']").unwrap()[0].0,
            Kind::Sha256
        );
        assert!(
            obs("[domain-name:value = 'a' AND domain-name:value = 'b']")
                .unwrap_err()
                .contains("AND")
        );
        assert!(obs("[domain-name:value = 'a'] FOLLOWEDBY [domain-name:value = 'b']").is_err());
        assert!(
            obs("[domain-name:value LIKE '%a']")
                .unwrap_err()
                .contains("LIKE")
        );
        assert!(obs("[file:hashes.'SHA-256' = 'xyz']").is_err());
        assert!(obs("[url:value = 'a\\tb' OR domain-name:value = '']").is_err());
        assert!(
            obs("[process:name = 'x']")
                .unwrap_err()
                .contains("no export form")
        );
    }

    #[test]
    fn formats() {
        let ind = Indicator {
            id: "indicator--1".into(),
            name: Some("Bad \"thing\"; x".into()),
            pattern: String::new(),
            pattern_type: "stix".into(),
            valid_from: Some(0),
            valid_until: None,
            revoked: false,
            added: None,
            marking_refs: vec![],
        };
        let items = vec![Item {
            indicator: &ind,
            observables: obs_list(&[
                (Kind::Domain, "evil.example"),
                (Kind::Url, "http://evil.example:8080/a;b?c=\"d\""),
                (Kind::Ipv6, "2001:db8::1"),
                (Kind::Cidr, "10.0.0.0/8"),
                (Kind::Sha256, &"ab".repeat(32)),
            ]),
        }];
        let z = zeek_intel(&items, "shieldwall");
        assert!(
            z.contains("evil.example:8080/a;b?c=\"d\"\tIntel::URL\tshieldwall\t"),
            "{z}"
        );
        assert!(z.contains("10.0.0.0/8\tIntel::SUBNET"));
        let (zone, skipped) = rpz(&items, 7);
        assert!(
            zone.contains("evil.example CNAME .\n*.evil.example CNAME ."),
            "{zone}"
        );
        assert!(zone.contains("128.1.zz.db8.2001.rpz-ip CNAME ."), "{zone}");
        assert!(zone.contains("8.0.0.0.10.rpz-ip CNAME ."), "{zone}");
        assert_eq!(skipped, 2);
        assert_eq!(list(&items, Kind::Cidr), "10.0.0.0/8\n");
        let c = csv(&items, |_| "TLP:GREEN".into());
        assert!(c.contains("indicator--1,\"Bad \"\"thing\"\"; x\",domain,evil.example,TLP:GREEN,1970-01-01T00:00:00.000Z,\n"), "{c}");
    }

    #[test]
    fn csv_cells_are_safe_in_spreadsheets() {
        for (raw, want) in [
            ("evil.example", "evil.example"),
            ("2001:db8::1", "2001:db8::1"),
            ("", ""),
            ("a'b", "a'b"),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("=1+2", "'=1+2"),
            ("+1", "'+1"),
            ("-1.2.3.4", "'-1.2.3.4"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "\"'\r=1\""),
            ("a,b", "\"a,b\""),
            ("a\nb", "\"a\nb\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("x=1", "x=1"),
            ("http://a/?q=-1", "http://a/?q=-1"),
        ] {
            assert_eq!(csv_cell(raw), want, "{raw:?}");
        }
    }

    fn obs_list(v: &[(Kind, &str)]) -> Vec<Observable> {
        v.iter()
            .map(|(k, s)| Observable {
                kind: *k,
                value: (*s).to_owned(),
            })
            .collect()
    }

    #[test]
    fn rpz_ipv6_labels() {
        assert_eq!(rpz_ip("2001:db8::/32").unwrap(), "32.zz.db8.2001.rpz-ip");
        assert_eq!(rpz_ip("1:0:2::").unwrap(), "128.zz.2.0.1.rpz-ip");
        assert_eq!(rpz_ip("192.0.2.1").unwrap(), "32.1.2.0.192.rpz-ip");
    }
}
