//! Warninglists: values that are known-good or too broad to block, checked on an indicator's
//! canonical values ([`crate::canon`]) before any export or scan alert.
//!
//! Lists use the MISP warninglist JSON format (`name`, `version`, `description`, `type` =
//! `string` | `substring` | `hostname` | `cidr` | `regex`, `list`, `matching_attributes`,
//! optionally `category`), so MISP's own lists load as they are ([`Warninglists::add_json`]).
//! Matching follows MISP: `string` equal (case-insensitive), `substring` contained, `hostname`
//! the name or any subdomain of it (the host of a URL for lists that apply to URLs), `cidr` an
//! address inside or a network overlapping the range either way (so `0.0.0.0/0` matches the
//! private ranges it contains), `regex` a match (PCRE-style `/…/flags` delimiters accepted;
//! only the `i` flag is honoured). A list applies to a value when its `matching_attributes` is
//! empty or names one of the MISP attribute types of the value ([`crate::canon::Value::misp_types`]).
//!
//! Each list has a [`Policy`]: `drop` (left out of block lists, no scan alert) or `inform`
//! (kept, reported as "inform only"). `shieldwall_policy` sets it; else a MISP `category` of
//! `false-positive` (or none) is `drop`, any other `inform`.
//!
//! The built-in set ([`Warninglists::builtin`]) is embedded from `crates/matcher/warninglists/`
//! (its README gives sources and licence), plus the Public Suffix List through the `psl` crate:
//! a domain that is itself a public suffix (`com`, `co.uk`) is dropped.

use std::sync::OnceLock;

use basics::net::Net;
use regex_automata::meta::Regex;

use crate::canon::Value;

/// What happens to a value a list matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Left out of block lists; no scan alert.
    Drop,
    /// Kept, marked "inform only".
    Inform,
}

impl Policy {
    /// `drop` or `inform`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Drop => "drop",
            Policy::Inform => "inform",
        }
    }
}

/// A list's matching rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Equal text (case-insensitive).
    String,
    /// Contained text (case-insensitive).
    Substring,
    /// The name or any of its subdomains.
    Hostname,
    /// Addresses and networks.
    Cidr,
    /// A regular expression.
    Regex,
}

impl ListType {
    /// The MISP name.
    pub fn name(self) -> &'static str {
        match self {
            ListType::String => "string",
            ListType::Substring => "substring",
            ListType::Hostname => "hostname",
            ListType::Cidr => "cidr",
            ListType::Regex => "regex",
        }
    }
}

/// Why a list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a MISP warninglist: {0}")]
pub struct WarninglistError(pub String);

#[derive(Debug)]
enum Entries {
    Text(Vec<String>),
    Nets(Vec<Net>),
    Regex(Vec<(String, Regex)>),
}

/// One list.
#[derive(Debug)]
pub struct Warninglist {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its description.
    pub description: String,
    /// Its type.
    pub kind: ListType,
    /// What happens to what it matches.
    pub policy: Policy,
    /// MISP attribute types it applies to (empty: all).
    pub matching_attributes: Vec<String>,
    /// Entries that could not be read (bad networks, regexes) and were left out.
    pub skipped_entries: usize,
    entries: Entries,
}

impl Warninglist {
    /// How many entries it holds.
    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Text(v) => v.len(),
            Entries::Nets(v) => v.len(),
            Entries::Regex(v) => v.len(),
        }
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn applies(&self, v: &Value) -> bool {
        self.matching_attributes.is_empty()
            || v.misp_types()
                .iter()
                .any(|t| self.matching_attributes.iter().any(|m| m == t))
    }

    /// The entry that matches `v`, as a reason.
    fn matches(&self, v: &Value) -> Option<String> {
        if !self.applies(v) {
            return None;
        }
        match &self.entries {
            Entries::Nets(nets) => {
                let Value::Net(n) = v else { return None };
                let hit = nets.iter().find(|e| e.overlaps(n))?;
                Some(if hit.contains(n) {
                    format!("{} is in {}", n.to_compact(), hit.to_compact())
                } else {
                    format!("{} contains {}", n.to_compact(), hit.to_compact())
                })
            }
            Entries::Text(list) => {
                let text = v.text();
                match self.kind {
                    ListType::Hostname => {
                        let host = match v {
                            Value::Domain(d) => d.clone(),
                            Value::Url(u) => telemetry::canon::url_host(u)?,
                            _ => return None,
                        };
                        list.iter()
                            .find(|e| {
                                host == **e
                                    || host
                                        .strip_suffix(e.as_str())
                                        .is_some_and(|p| p.ends_with('.'))
                            })
                            .map(|e| format!("{host} is {e} or under it"))
                    }
                    ListType::Substring => {
                        let lower = text.to_lowercase();
                        list.iter()
                            .find(|e| lower.contains(e.as_str()))
                            .map(|e| format!("{text} contains {e:?}"))
                    }
                    _ => list
                        .iter()
                        .find(|e| text.eq_ignore_ascii_case(e))
                        .map(|e| format!("{text} is listed as {e}")),
                }
            }
            Entries::Regex(list) => {
                let text = v.text();
                list.iter()
                    .find(|(_, r)| r.is_match(&text))
                    .map(|(src, _)| format!("{text} matches {src}"))
            }
        }
    }
}

/// A finding: a value one list matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The list's name.
    pub list: String,
    /// Its policy.
    pub policy: Policy,
    /// Why (the entry matched).
    pub reason: String,
}

/// A set of lists.
#[derive(Debug, Default)]
pub struct Warninglists {
    lists: Vec<Warninglist>,
    public_suffixes: bool,
}

/// The name under which a public-suffix finding is reported.
pub const PUBLIC_SUFFIX_LIST: &str = "Public Suffix List";

const BUILTIN: &[(&str, &str)] = &[
    (
        "special-purpose-ipv4.json",
        include_str!("../warninglists/special-purpose-ipv4.json"),
    ),
    (
        "special-purpose-ipv6.json",
        include_str!("../warninglists/special-purpose-ipv6.json"),
    ),
    (
        "public-dns-resolvers.json",
        include_str!("../warninglists/public-dns-resolvers.json"),
    ),
    (
        "special-use-domains.json",
        include_str!("../warninglists/special-use-domains.json"),
    ),
    (
        "top-sites.json",
        include_str!("../warninglists/top-sites.json"),
    ),
    (
        "documentation-ranges.json",
        include_str!("../warninglists/documentation-ranges.json"),
    ),
];

fn compile_regex(src: &str) -> Option<Regex> {
    let (body, flags) = match src.strip_prefix('/').and_then(|r| r.rsplit_once('/')) {
        Some((b, f)) if f.bytes().all(|c| c.is_ascii_alphabetic()) => (b, f),
        _ => (src, ""),
    };
    let pat = if flags.contains('i') {
        format!("(?i){body}")
    } else {
        body.to_owned()
    };
    regex_automata::meta::Builder::new()
        .configure(
            regex_automata::meta::Config::new()
                .nfa_size_limit(Some(pattern::regex::REGEX_SIZE_LIMIT)),
        )
        .syntax(
            regex_automata::util::syntax::Config::new()
                .nest_limit(pattern::regex::REGEX_NEST_LIMIT),
        )
        .build(&pat)
        .ok()
}

impl Warninglists {
    /// No list at all (not even the Public Suffix List).
    pub fn empty() -> Warninglists {
        Warninglists::default()
    }

    /// The built-in lists and the Public Suffix List.
    pub fn builtin() -> Warninglists {
        let mut w = Warninglists {
            lists: Vec::new(),
            public_suffixes: true,
        };
        for (file, text) in BUILTIN {
            // The embedded files are checked by a test; a broken one is left out, not a panic.
            if let Err(e) = w.add_json(text) {
                debug_assert!(false, "{file}: {e}");
            }
        }
        w
    }

    /// Adds one list in MISP's JSON format; returns its name.
    pub fn add_json(&mut self, text: &str) -> Result<&Warninglist, WarninglistError> {
        let err = |m: &str| WarninglistError(m.to_owned());
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| WarninglistError(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| err("not a JSON object"))?;
        let s = |k: &str| obj.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let name = s("name").ok_or_else(|| err("no `name`"))?;
        let kind = match s("type").as_deref().unwrap_or("string") {
            "string" => ListType::String,
            "substring" => ListType::Substring,
            "hostname" => ListType::Hostname,
            "cidr" => ListType::Cidr,
            "regex" => ListType::Regex,
            other => return Err(WarninglistError(format!("unknown `type` {other:?}"))),
        };
        let items: Vec<String> = obj
            .get("list")
            .and_then(|l| l.as_array())
            .ok_or_else(|| err("no `list` array"))?
            .iter()
            .filter_map(|x| x.as_str().map(|s| s.trim().to_owned()))
            .filter(|x| !x.is_empty())
            .collect();
        let policy = match (s("shieldwall_policy").as_deref(), s("category").as_deref()) {
            (Some("inform"), _) => Policy::Inform,
            (Some("drop"), _) => Policy::Drop,
            (Some(other), _) => {
                return Err(WarninglistError(format!(
                    "unknown `shieldwall_policy` {other:?} (drop or inform)"
                )));
            }
            (None, None | Some("false-positive")) => Policy::Drop,
            (None, Some(_)) => Policy::Inform,
        };
        let matching_attributes = obj
            .get("matching_attributes")
            .and_then(|l| l.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let version = match obj.get("version") {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let mut skipped = 0;
        let entries = match kind {
            ListType::Cidr => Entries::Nets(
                items
                    .iter()
                    .filter_map(|i| {
                        let n = Net::parse(i).ok();
                        skipped += usize::from(n.is_none());
                        n
                    })
                    .collect(),
            ),
            ListType::Regex => Entries::Regex(
                items
                    .into_iter()
                    .filter_map(|i| {
                        let r = compile_regex(&i);
                        skipped += usize::from(r.is_none());
                        r.map(|r| (i, r))
                    })
                    .collect(),
            ),
            ListType::Hostname => Entries::Text(
                items
                    .iter()
                    .map(|i| {
                        let i = i.trim_start_matches("*.").trim_start_matches('.');
                        telemetry::canon::domain(i)
                            .map_or_else(|| i.to_ascii_lowercase(), |d| d.into_owned())
                    })
                    .collect(),
            ),
            _ => Entries::Text(items.into_iter().map(|i| i.to_lowercase()).collect()),
        };
        self.lists.push(Warninglist {
            name,
            version,
            description: s("description").unwrap_or_default(),
            kind,
            policy,
            matching_attributes,
            skipped_entries: skipped,
            entries,
        });
        Ok(&self.lists[self.lists.len() - 1])
    }

    /// The lists, in the order they were added.
    pub fn lists(&self) -> &[Warninglist] {
        &self.lists
    }

    /// Whether the Public Suffix List is checked.
    pub fn checks_public_suffixes(&self) -> bool {
        self.public_suffixes
    }

    /// The finding for one canonical value: the first `drop` list that matches, else the first
    /// `inform` one, else none.
    pub fn check(&self, v: &Value) -> Option<Finding> {
        if self.public_suffixes
            && let Value::Domain(d) = v
            && is_public_suffix(d)
        {
            return Some(Finding {
                list: PUBLIC_SUFFIX_LIST.to_owned(),
                policy: Policy::Drop,
                reason: format!(
                    "{d} is a public suffix: it covers every domain registered under it"
                ),
            });
        }
        let mut inform = None;
        for l in &self.lists {
            if inform.is_some() && l.policy == Policy::Inform {
                continue;
            }
            if let Some(reason) = l.matches(v) {
                let f = Finding {
                    list: l.name.clone(),
                    policy: l.policy,
                    reason,
                };
                if l.policy == Policy::Drop {
                    return Some(f);
                }
                inform = Some(f);
            }
        }
        inform
    }

    /// The findings for an indicator's pattern: each canonical value a list matches (none when
    /// the pattern has no canonical values).
    pub fn check_pattern(&self, pattern: &str) -> Vec<(Value, Finding)> {
        crate::canon::values(pattern)
            .map(|vals| {
                vals.into_iter()
                    .filter_map(|v| self.check(&v).map(|f| (v, f)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether a canonical domain name is itself a public suffix (`com`, `co.uk`, `github.io`).
pub fn is_public_suffix(d: &str) -> bool {
    psl::suffix(d.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == d.as_bytes())
}

/// The built-in set, built once.
pub fn builtin() -> &'static Warninglists {
    static B: OnceLock<Warninglists> = OnceLock::new();
    B.get_or_init(Warninglists::builtin)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::canon::values;

    fn check(p: &str) -> Vec<(String, &'static str, String)> {
        builtin()
            .check_pattern(p)
            .into_iter()
            .map(|(v, f)| (v.text(), f.policy.name(), f.list))
            .collect()
    }

    #[test]
    fn builtin_lists_load_whole() {
        let b = Warninglists::builtin();
        assert_eq!(b.lists().len(), BUILTIN.len());
        for l in b.lists() {
            assert_eq!(l.skipped_entries, 0, "{}", l.name);
            assert!(!l.is_empty(), "{}", l.name);
        }
    }

    #[test]
    fn too_broad_and_known_good_values_are_found() {
        for (p, list) in [
            ("[domain-name:value = 'com']", PUBLIC_SUFFIX_LIST),
            ("[domain-name:value = 'CO.UK.']", PUBLIC_SUFFIX_LIST),
            (
                "[ipv4-addr:value = '0.0.0.0/0']",
                "IPv4 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv6-addr:value = '::/0']",
                "IPv6 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv4-addr:value = '127.0.0.1']",
                "IPv4 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv4-addr:value = '192.168.1.0/24']",
                "IPv4 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv4-addr:value = '100.64.1.1']",
                "IPv4 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv6-addr:value = 'fe80::1']",
                "IPv6 special-purpose and non-unicast ranges",
            ),
            (
                "[ipv4-addr:value = '8.8.8.8']",
                "Well-known public DNS resolvers",
            ),
            (
                "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '1.1.1.1']",
                "Well-known public DNS resolvers",
            ),
            ("[domain-name:value = 'www.google.com']", "Top sites"),
            (
                "[domain-name:value = 'localhost']",
                "Special-use and resolver domain names",
            ),
        ] {
            let got = check(p);
            assert_eq!(got.len(), 1, "{p}: {got:?}");
            assert_eq!((got[0].1, got[0].2.as_str()), ("drop", list), "{p}");
        }
        let r = builtin()
            .check(&values("[ipv4-addr:value = '0.0.0.0/0']").unwrap()[0])
            .unwrap();
        assert!(r.reason.contains("0.0.0.0/0 contains"), "{}", r.reason);
        // Documentation ranges: kept, for information.
        assert_eq!(
            check("[ipv4-addr:value = '203.0.113.7']"),
            [(
                "203.0.113.7".into(),
                "inform",
                "Documentation address ranges".into()
            )]
        );
        // Ordinary values, URLs on large services, registrable domains: nothing.
        for p in [
            "[domain-name:value = 'evil.example']",
            "[domain-name:value = 'evil.co.uk']",
            "[url:value = 'https://drive.google.com/file/d/x']",
            "[ipv4-addr:value = '45.33.32.156']",
            "[domain-name:value = 'notgoogle.com']",
        ] {
            assert!(check(p).is_empty(), "{p}: {:?}", check(p));
        }
    }

    #[test]
    fn misp_format_lists() {
        let mut w = Warninglists::empty();
        w.add_json(r#"{"name":"regex list","version":3,"description":"d","type":"regex","list":["/^bad[0-9]+\\.example$/i","("],"matching_attributes":["domain"]}"#).unwrap();
        w.add_json(r#"{"name":"sub","version":1,"description":"d","type":"substring","category":"known-identifier","list":["tracker"],"matching_attributes":[]}"#).unwrap();
        w.add_json(r#"{"name":"str","version":1,"description":"d","type":"string","list":["Evil.Example"],"matching_attributes":["url"]}"#).unwrap();
        assert_eq!(w.lists()[0].skipped_entries, 1);
        let dom = |d: &str| Value::Domain(d.into());
        // The `i` flag is honoured.
        assert_eq!(w.check(&dom("BAD12.example")).unwrap().list, "regex list");
        assert!(w.check(&dom("bad.example")).is_none());
        assert_eq!(w.check(&dom("bad12.example")).unwrap().list, "regex list");
        let f = w.check(&dom("x.tracker.example")).unwrap();
        assert_eq!((f.list.as_str(), f.policy), ("sub", Policy::Inform));
        // `string` applies to URLs only here.
        assert!(w.check(&dom("evil.example")).is_none());
        assert!(!w.checks_public_suffixes());
        assert!(w.check(&dom("com")).is_none());
        assert!(
            w.add_json(r#"{"name":"x","type":"nope","list":[]}"#)
                .is_err()
        );
        assert!(w.add_json("[]").is_err());
    }
}
