//! Suricata 7 output: a rules file, the data files its rules load (file-hash lists, datasets),
//! a value → indicator map, and the configuration fragment the rules need to fire.
//!
//! Two shapes for domains and addresses, chosen by [`DatasetMode`]:
//! - **one rule per value** (small sets): each rule's `msg` and `metadata` name the indicator;
//! - **datasets** (large sets): a handful of rules test `dns.query`, `tls.sni`, `http.host`,
//!   `ip.src`, `ip.dst` against data files (`dataset:isset,…,load FILE`), so that 100,000
//!   values load in seconds instead of minutes. Such an alert names the set, not the
//!   indicator: the map file (`<prefix>-map.tsv`: kind, value, indicator ids) or
//!   `shieldwall scan` over the EVE output gives it back.
//!
//! Networks (CIDR), URLs and certificate fingerprints are always one rule per value; file
//! digests always go through `filemd5`/`filesha1`/`filesha256` list files. Suricata 7 computes
//! only one digest per file unless the `files` EVE output's `force-hash` lists them all, which
//! the configuration fragment does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Indicator;
use crate::export::{Item, Kind};

/// When to use datasets for domains and addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetMode {
    /// Datasets when the domains and addresses together exceed [`Options::threshold`].
    Auto,
    /// Always datasets.
    Always,
    /// Always one rule per value.
    Never,
}

/// Options of the Suricata export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The first signature id.
    pub sid_base: u32,
    /// Prefix of every data file name (`<prefix>-sha256.list`, `<prefix>-domain.lst`).
    pub prefix: String,
    /// Datasets or one rule per value.
    pub datasets: DatasetMode,
    /// Above this many domain and address values, [`DatasetMode::Auto`] uses datasets.
    pub threshold: usize,
    /// Domain rules also match every subdomain (`dotprefix`; in datasets, the name's last
    /// labels).
    pub subdomains: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sid_base: 1_800_000,
            prefix: "shieldwall".into(),
            datasets: DatasetMode::Auto,
            threshold: 1_000,
            subdomains: false,
        }
    }
}

/// A value left out or exported with a loss, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The indicator.
    pub indicator: String,
    /// The value.
    pub value: String,
    /// What happened to it.
    pub why: String,
}

/// The Suricata export.
#[derive(Debug, Clone, Default)]
pub struct Suricata {
    /// The rules file.
    pub rules: String,
    /// `(file name, content)` of each file the rules load, the map and the configuration
    /// fragment; all belong in the rules file's directory.
    pub files: Vec<(String, String)>,
    /// Values without a Suricata form (left out).
    pub skipped: Vec<Note>,
    /// Values exported with a loss (an `https://` URL's path).
    pub lossy: Vec<Note>,
    /// Whether domains and addresses went into datasets.
    pub datasets: bool,
    /// Number of rules.
    pub rule_count: usize,
}

impl Suricata {
    /// The name of the configuration fragment among [`Suricata::files`].
    pub fn config_name(prefix: &str) -> String {
        format!("{prefix}-suricata.yaml")
    }
}

/// The configuration fragment: `suricata -c /etc/suricata/suricata.yaml --include FRAGMENT`.
/// It replaces the stock `outputs` section (an include redefines a whole top-level node) with
/// `eve.json` holding what `shieldwall scan` reads, and `force-hash: [md5, sha1, sha256]`.
pub const CONFIG_FRAGMENT: &str = "%YAML 1.1
---
# Shieldwall: what the exported rules need from Suricata 7.
# Use: suricata -c /etc/suricata/suricata.yaml --include /ABSOLUTE/PATH/TO/THIS/FILE ...
# An include redefines whole top-level nodes: this replaces the stock `outputs` list. If you
# keep your own outputs, add `force-hash: [md5, sha1, sha256]` to the `files` type of your
# eve-log instead of including this file: without it Suricata 7 computes one digest per file
# (MD5 when the rules ask for several), and SHA-1/SHA-256 rules never fire.
outputs:
  - fast:
      enabled: yes
      filename: fast.log
      append: yes
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - alert:
            metadata: yes
        - http:
            extended: yes
        - dns
        - tls:
            extended: yes
        - files:
            force-magic: no
            force-hash: [md5, sha1, sha256]
        - smtp
        - flow
";

/// Escapes a value for a Suricata `content:"…"` (quotes, `;`, `\`, `|` and non-printables as
/// `|hex|`).
pub fn suricata_content(s: &str) -> String {
    let mut out = String::new();
    let mut hex = false;
    for b in s.bytes() {
        let special = matches!(b, b'"' | b';' | b'\\' | b'|') || !(0x20..0x7f).contains(&b);
        if special {
            if hex {
                let _ = write!(out, " {b:02X}");
            } else {
                let _ = write!(out, "|{b:02X}");
                hex = true;
            }
        } else {
            if hex {
                out.push('|');
                hex = false;
            }
            out.push(char::from(b));
        }
    }
    if hex {
        out.push('|');
    }
    out
}

fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == ';' || c == '\\' || c == ',' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// `msg` and `metadata` of a rule for one indicator.
fn about(ind: &Indicator, what: &str) -> String {
    let name = ind.name.as_deref().unwrap_or("indicator");
    format!(
        "msg:\"Shieldwall {what}: {} ({})\"; metadata:shieldwall_indicator {};",
        safe(name),
        safe(&ind.id),
        safe(&ind.id)
    )
}

/// The scheme, lower-case host and path (with query) of a URL; `None` without a host.
fn split_url(u: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = u.split_once("://")?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    };
    if host.is_empty() {
        return None;
    }
    let path = if path.starts_with('?') || path.is_empty() {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path))
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `dataset:isset,…` for one data file (the same options wherever the set is named).
fn dataset(name: &str, kind: &str, file: &str, values: usize) -> String {
    let hashsize = values.next_power_of_two().clamp(1024, 262_144);
    let memcap_mb = (values / 2_000 + 16).min(1_024);
    format!(
        "dataset:isset,{name},type {kind},load {file},memcap {memcap_mb}mb,hashsize {hashsize};"
    )
}

struct Rules {
    text: String,
    sid: u32,
    count: usize,
}

impl Rules {
    fn add(&mut self, head: &str, body: &str) {
        let _ = writeln!(self.text, "alert {head} ({body} sid:{}; rev:1;)", self.sid);
        self.sid = self.sid.saturating_add(1);
        self.count += 1;
    }
}

/// Suricata 7 rules and the files they need (see the module documentation).
pub fn suricata(items: &[Item<'_>], opts: &Options) -> Suricata {
    let mut s = Suricata::default();
    let mut r = Rules {
        text: String::from(
            "# Shieldwall indicators as Suricata 7 rules. Load with the configuration fragment\n# written beside this file (--include): it turns on the digests the file rules need.\n",
        ),
        sid: opts.sid_base,
        count: 0,
    };
    let p = &opts.prefix;
    let bulk = items
        .iter()
        .flat_map(|i| &i.observables)
        .filter(|o| matches!(o.kind, Kind::Domain | Kind::Ipv4 | Kind::Ipv6))
        .count();
    s.datasets = match opts.datasets {
        DatasetMode::Always => true,
        DatasetMode::Never => false,
        DatasetMode::Auto => bulk > opts.threshold,
    };
    // kind → value → indicator ids, for the map and the data files.
    let mut map: BTreeMap<&'static str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let note = |m: &mut BTreeMap<&'static str, BTreeMap<String, Vec<String>>>,
                kind: &'static str,
                value: &str,
                id: &str| {
        let ids = m
            .entry(kind)
            .or_default()
            .entry(value.to_owned())
            .or_default();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    };
    for it in items {
        let ind = it.indicator;
        for o in &it.observables {
            let v = &o.value;
            match o.kind {
                Kind::Domain if s.datasets => note(&mut map, "domain", v, &ind.id),
                Kind::Ipv4 if s.datasets => note(&mut map, "ipv4", v, &ind.id),
                Kind::Ipv6 if s.datasets => note(&mut map, "ipv6", v, &ind.id),
                Kind::Domain => {
                    note(&mut map, "domain", v, &ind.id);
                    let (m, c) = if opts.subdomains {
                        ("dotprefix; ", format!(".{}", suricata_content(v)))
                    } else {
                        ("", suricata_content(v))
                    };
                    let (anchor, what) = if opts.subdomains {
                        ("endswith;", "or a subdomain")
                    } else {
                        ("startswith; endswith;", "")
                    };
                    for (proto, buffer, label) in [
                        ("dns", "dns.query", "DNS query"),
                        ("tls", "tls.sni", "TLS SNI"),
                        ("http", "http.host", "HTTP host"),
                    ] {
                        // The HTTP host buffer is already lower case.
                        let nocase = if proto == "http" { "" } else { " nocase;" };
                        let label = if what.is_empty() {
                            label.to_owned()
                        } else {
                            format!("{label} {what}")
                        };
                        r.add(
                            &format!("{proto} any any -> any any"),
                            &format!(
                                "{} {buffer}; {m}content:\"{c}\";{nocase} {anchor}",
                                about(ind, &label)
                            ),
                        );
                    }
                }
                Kind::Url => match split_url(v) {
                    Some((scheme, host, path)) if scheme == "http" => {
                        note(&mut map, "url", v, &ind.id);
                        r.add(
                            "http any any -> any any",
                            &format!(
                                "{} http.host; content:\"{}\"; startswith; endswith; http.uri.raw; content:\"{}\"; startswith; endswith;",
                                about(ind, "URL"),
                                suricata_content(&host),
                                suricata_content(&path)
                            ),
                        );
                    }
                    Some((scheme, host, _))
                        if scheme == "https"
                            && host.parse::<std::net::IpAddr>().is_err()
                            && !host.starts_with('[') =>
                    {
                        note(&mut map, "url", v, &ind.id);
                        s.lossy.push(Note {
                            indicator: ind.id.clone(),
                            value: v.clone(),
                            why: format!(
                                "HTTPS hides the path: exported as a TLS SNI rule for {host}"
                            ),
                        });
                        r.add(
                            "tls any any -> any any",
                            &format!(
                                "{} tls.sni; content:\"{}\"; nocase; startswith; endswith;",
                                about(ind, "HTTPS URL host (SNI)"),
                                suricata_content(&host)
                            ),
                        );
                    }
                    Some((scheme, _, _)) if scheme == "https" => s.skipped.push(Note {
                        indicator: ind.id.clone(),
                        value: v.clone(),
                        why: "an HTTPS URL to an address carries no SNI and hides its path".into(),
                    }),
                    Some((scheme, _, _)) => s.skipped.push(Note {
                        indicator: ind.id.clone(),
                        value: v.clone(),
                        why: format!(
                            "Suricata rules are written for http and https URLs, not {scheme}"
                        ),
                    }),
                    None => s.skipped.push(Note {
                        indicator: ind.id.clone(),
                        value: v.clone(),
                        why: "a URL without a host".into(),
                    }),
                },
                Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => {
                    note(&mut map, o.kind.name(), v, &ind.id);
                    let a = if v.contains(':') {
                        format!("[{v}]")
                    } else {
                        v.clone()
                    };
                    r.add(
                        &format!("ip {a} any -> any any"),
                        &about(ind, "address (source)"),
                    );
                    r.add(
                        &format!("ip any any -> {a} any"),
                        &about(ind, "address (destination)"),
                    );
                }
                Kind::CertSha1 => {
                    note(&mut map, "cert-sha1", v, &ind.id);
                    let fp: Vec<&str> = (0..20).filter_map(|i| v.get(2 * i..2 * i + 2)).collect();
                    r.add(
                        "tls any any -> any any",
                        &format!(
                            "{} tls.cert_fingerprint; content:\"{}\";",
                            about(ind, "certificate"),
                            fp.join(":")
                        ),
                    );
                }
                Kind::Md5 => note(&mut map, "md5", v, &ind.id),
                Kind::Sha1 => note(&mut map, "sha1", v, &ind.id),
                Kind::Sha256 => note(&mut map, "sha256", v, &ind.id),
                Kind::Email => s.skipped.push(Note {
                    indicator: ind.id.clone(),
                    value: v.clone(),
                    why: "Suricata 7 has no rule keyword for SMTP or message addresses".into(),
                }),
                Kind::FileName => s.skipped.push(Note {
                    indicator: ind.id.clone(),
                    value: v.clone(),
                    why: "file names are not exported to Suricata (too many false positives)"
                        .into(),
                }),
            }
        }
    }
    // File digests: one list per algorithm, a rule per algorithm and protocol.
    for (algo, keyword) in [
        ("md5", "filemd5"),
        ("sha1", "filesha1"),
        ("sha256", "filesha256"),
    ] {
        let Some(values) = map.get(algo) else {
            continue;
        };
        let file = format!("{p}-{algo}.list");
        let mut list = String::new();
        for v in values.keys() {
            let _ = writeln!(list, "{v}");
        }
        for proto in ["http", "smtp", "smb", "ftp-data", "nfs"] {
            r.add(
                &format!("{proto} any any -> any any"),
                &format!(
                    "msg:\"Shieldwall file {algo} on the indicator list ({proto}), see {p}-map.tsv\"; metadata:shieldwall_list {file}; {keyword}:{file};"
                ),
            );
        }
        s.files.push((file, list));
    }
    if s.datasets {
        if let Some(values) = map.get("domain") {
            let file = format!("{p}-domain.lst");
            let mut data = String::new();
            for v in values.keys() {
                let _ = writeln!(data, "{}", base64(v.as_bytes()));
            }
            let set = dataset(&format!("{p}-domain"), "string", &file, values.len());
            // With --subdomains, a name is also tested by its last n labels, for every label
            // count n that a listed domain has.
            let mut label_counts: Vec<usize> = values
                .keys()
                .map(|v| v.split('.').count())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !opts.subdomains {
                label_counts.clear();
            }
            for (proto, buffer, label) in [
                ("dns", "dns.query", "DNS query"),
                ("tls", "tls.sni", "TLS SNI"),
                ("http", "http.host", "HTTP host"),
            ] {
                r.add(
                    &format!("{proto} any any -> any any"),
                    &format!(
                        "msg:\"Shieldwall {label} on the domain set (see {p}-map.tsv)\"; metadata:shieldwall_dataset {p}-domain; {buffer}; to_lowercase; {set}"
                    ),
                );
                for n in &label_counts {
                    let xform = if *n <= 1 {
                        "pcrexform:\"([^.]+)$\";".to_owned()
                    } else {
                        format!("pcrexform:\"((?:[^.]+\\.){{{}}}[^.]+)$\";", n - 1)
                    };
                    r.add(
                        &format!("{proto} any any -> any any"),
                        &format!(
                            "msg:\"Shieldwall {label} under a domain of the set, last {n} labels (see {p}-map.tsv)\"; metadata:shieldwall_dataset {p}-domain; {buffer}; to_lowercase; {xform} {set}"
                        ),
                    );
                }
            }
            s.files.push((file, data));
        }
        for (kind, stype) in [("ipv4", "ipv4"), ("ipv6", "ip")] {
            let Some(values) = map.get(kind) else {
                continue;
            };
            let file = format!("{p}-{kind}.lst");
            let mut data = String::new();
            for v in values.keys() {
                let _ = writeln!(data, "{v}");
            }
            let set = dataset(&format!("{p}-{kind}"), stype, &file, values.len());
            for (buffer, dir) in [("ip.src", "source"), ("ip.dst", "destination")] {
                r.add(
                    "ip any any -> any any",
                    &format!(
                        "msg:\"Shieldwall {kind} {dir} on the address set (see {p}-map.tsv)\"; metadata:shieldwall_dataset {p}-{kind}; {buffer}; {set}"
                    ),
                );
            }
            s.files.push((file, data));
        }
    }
    let mut m = String::from("# kind\tvalue\tindicators\n");
    for (kind, values) in &map {
        for (v, ids) in values {
            let _ = writeln!(
                m,
                "{kind}\t{}\t{}",
                v.replace(['\t', '\n', '\r'], " "),
                ids.join(",")
            );
        }
    }
    s.files.push((format!("{p}-map.tsv"), m));
    s.files
        .push((Suricata::config_name(p), CONFIG_FRAGMENT.to_owned()));
    s.rule_count = r.count;
    s.rules = r.text;
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::export::Observable;

    fn ind(id: &str) -> Indicator {
        Indicator {
            id: id.into(),
            name: Some("Bad \"thing\"; x".into()),
            pattern: String::new(),
            pattern_type: "stix".into(),
            valid_from: Some(0),
            valid_until: None,
            revoked: false,
            added: None,
            marking_refs: vec![],
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

    fn file<'a>(s: &'a Suricata, name: &str) -> &'a str {
        &s.files.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn one_rule_per_value() {
        let i = ind("indicator--1");
        let items = vec![Item {
            indicator: &i,
            observables: obs_list(&[
                (Kind::Domain, "evil.example"),
                (Kind::Url, "http://evil.example:8080/a;b?c=\"d\""),
                (Kind::Url, "https://secure.example/login?x=1"),
                (Kind::Url, "https://192.0.2.1/x"),
                (Kind::Url, "ftp://files.example/x"),
                (Kind::Ipv6, "2001:db8::1"),
                (Kind::Cidr, "10.0.0.0/8"),
                (Kind::Sha256, &"ab".repeat(32)),
                (Kind::Email, "a@b.example"),
            ]),
        }];
        let s = suricata(&items, &Options::default());
        assert!(!s.datasets);
        assert!(
            s.rules.contains(
                "msg:\"Shieldwall DNS query: Bad _thing__ x (indicator--1)\"; metadata:shieldwall_indicator indicator--1; dns.query; content:\"evil.example\"; nocase; startswith; endswith; sid:1800000;"
            ),
            "{}",
            s.rules
        );
        assert!(
            s.rules
                .contains("http.uri.raw; content:\"/a|3B|b?c=|22|d|22|\""),
            "{}",
            s.rules
        );
        assert!(
            s.rules
                .contains("tls.sni; content:\"secure.example\"; nocase; startswith; endswith;"),
            "{}",
            s.rules
        );
        assert!(!s.rules.contains("/login"), "{}", s.rules);
        assert_eq!(s.lossy.len(), 1);
        assert_eq!(s.skipped.len(), 3, "{:?}", s.skipped);
        assert!(s.rules.contains("alert ip [2001:db8::1] any -> any any"));
        assert!(s.rules.contains("filesha256:shieldwall-sha256.list;"));
        assert_eq!(
            file(&s, "shieldwall-sha256.list"),
            format!("{}\n", "ab".repeat(32))
        );
        assert!(file(&s, "shieldwall-suricata.yaml").contains("force-hash: [md5, sha1, sha256]"));
        assert!(file(&s, "shieldwall-map.tsv").contains("domain\tevil.example\tindicator--1\n"));
        assert_eq!(
            s.rule_count,
            s.rules.lines().filter(|l| l.starts_with("alert ")).count()
        );
        // Subdomains on request.
        let s = suricata(
            &items,
            &Options {
                subdomains: true,
                ..Options::default()
            },
        );
        assert!(
            s.rules
                .contains("dns.query; dotprefix; content:\".evil.example\"; nocase; endswith;"),
            "{}",
            s.rules
        );
    }

    #[test]
    fn datasets_above_the_threshold() {
        let a = ind("indicator--a");
        let b = ind("indicator--b");
        let items = vec![
            Item {
                indicator: &a,
                observables: obs_list(&[
                    (Kind::Domain, "evil.example"),
                    (Kind::Domain, "c2.bad.example"),
                    (Kind::Ipv4, "192.0.2.1"),
                    (Kind::Cidr, "198.51.100.0/24"),
                ]),
            },
            Item {
                indicator: &b,
                observables: obs_list(&[
                    (Kind::Domain, "evil.example"),
                    (Kind::Ipv6, "2001:db8::1"),
                ]),
            },
        ];
        let opts = Options {
            threshold: 3,
            subdomains: true,
            ..Options::default()
        };
        let s = suricata(&items, &opts);
        assert!(s.datasets);
        assert_eq!(
            file(&s, "shieldwall-domain.lst"),
            format!(
                "{}\n{}\n",
                base64(b"c2.bad.example"),
                base64(b"evil.example")
            )
        );
        assert_eq!(base64(b"evil.example"), "ZXZpbC5leGFtcGxl");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(file(&s, "shieldwall-ipv4.lst"), "192.0.2.1\n");
        assert_eq!(file(&s, "shieldwall-ipv6.lst"), "2001:db8::1\n");
        assert!(
            s.rules.contains(
                "ip.dst; dataset:isset,shieldwall-ipv6,type ip,load shieldwall-ipv6.lst,"
            )
        );
        assert!(
            s.rules.contains("pcrexform:\"((?:[^.]+\\.){2}[^.]+)$\";"),
            "{}",
            s.rules
        );
        assert!(s.rules.contains("alert ip 198.51.100.0/24 any -> any any"));
        assert!(!s.rules.contains("evil.example"));
        assert!(
            file(&s, "shieldwall-map.tsv")
                .contains("domain\tevil.example\tindicator--a,indicator--b\n")
        );
        // Below the threshold, or with Never, one rule per value.
        let s = suricata(
            &items,
            &Options {
                datasets: DatasetMode::Never,
                ..opts
            },
        );
        assert!(!s.datasets);
        assert!(s.rules.contains("content:\".evil.example\""));
    }
}
