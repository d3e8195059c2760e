//! STIX 2.1 to a MISP feed: one event file per report or grouping (with the indicators,
//! observables and SDOs it references), `manifest.json` and `hashes.csv`, as MISP's feed format
//! has them, returned as (file name, bytes) for the caller to write.
//!
//! Objects that came from MISP (misp-stix labels `misp:type="…"`, `misp:category="…"`) get their
//! MISP type, category and value back; others get the MISP type their pattern or SCO suggests.

use std::collections::{BTreeMap, HashMap, HashSet};

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::error::{Diagnostic, Level, MispError};
use crate::time::{Instant, parse_iso};
use crate::to_stix::type_defaults;

/// Who the exported events say created them when a report has no `created_by_ref` identity.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Organisation name for `Orgc`.
    pub org_name: String,
    /// Organisation uuid for `Orgc`.
    pub org_uuid: uuid::Uuid,
    /// Timestamp for objects without `modified`/`created`.
    pub now: Instant,
}

/// One file of the feed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFile {
    /// File name inside the feed directory (`<uuid>.json`, `manifest.json`, `hashes.csv`).
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// The exported feed: its files, and what was not exported.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// `manifest.json`, `hashes.csv` and one `<event uuid>.json` per event.
    pub files: Vec<FeedFile>,
    /// Objects left out or exported approximately.
    pub diagnostics: Vec<Diagnostic>,
}

fn s<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

fn uuid_of(id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.split_once("--")?.1).ok()
}

fn ts(o: &Value, now: Instant) -> Instant {
    s(o, "modified")
        .or_else(|| s(o, "created"))
        .and_then(parse_iso)
        .unwrap_or(now)
}

/// One comparison `path = 'value'` of a STIX pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparison {
    path: String,
    value: String,
}

/// The equality comparisons of a simple STIX pattern (observation expressions joined by AND/OR,
/// only `=`), or `None` when the pattern uses anything else.
fn comparisons(pattern: &str) -> Option<Vec<Comparison>> {
    let b = pattern.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        match b[i] {
            b'[' | b']' | b'(' | b')' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        if pattern[i..].starts_with("AND ") || pattern[i..].starts_with("OR ") {
            i += if b[i] == b'A' { 4 } else { 3 };
            continue;
        }
        // path: up to whitespace or '='
        let start = i;
        let mut in_quote = false;
        while i < b.len() && (in_quote || !(b[i].is_ascii_whitespace() || b[i] == b'=')) {
            if b[i] == b'\'' {
                in_quote = !in_quote;
            }
            i += 1;
        }
        let path = pattern[start..i].to_owned();
        if !path.contains(':') {
            return None;
        }
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return None;
        }
        i += 1;
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'\'' {
            return None;
        }
        i += 1;
        let mut value = String::new();
        let mut closed = false;
        let rest = &pattern[i..];
        let mut chars = rest.char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => value.push(e),
                    None => return None,
                },
                '\'' => {
                    i += k + 1;
                    closed = true;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            return None;
        }
        out.push(Comparison { path, value });
    }
    if out.is_empty() { None } else { Some(out) }
}

fn hash_type(name: &str) -> Option<&'static str> {
    Some(
        match name.trim_matches('\'').to_ascii_uppercase().as_str() {
            "MD5" => "md5",
            "SHA-1" | "SHA1" => "sha1",
            "SHA-224" | "SHA224" => "sha224",
            "SHA-256" | "SHA256" => "sha256",
            "SHA-384" | "SHA384" => "sha384",
            "SHA-512" | "SHA512" => "sha512",
            "SHA3-224" => "sha3-224",
            "SHA3-256" => "sha3-256",
            "SHA3-384" => "sha3-384",
            "SHA3-512" => "sha3-512",
            "SSDEEP" => "ssdeep",
            "TLSH" => "tlsh",
            "IMPHASH" => "imphash",
            "AUTHENTIHASH" => "authentihash",
            "PEHASH" => "pehash",
            "VHASH" => "vhash",
            _ => return None,
        },
    )
}

/// The MISP type a pattern path suggests, or `None` for paths that only qualify (`src_ref.type`).
fn type_of_path(path: &str) -> Option<Option<&'static str>> {
    Some(Some(match path {
        "domain-name:value" => "domain",
        "ipv4-addr:value" | "ipv6-addr:value" => "ip-dst",
        "network-traffic:dst_ref.value" => "ip-dst",
        "network-traffic:src_ref.value" => "ip-src",
        "network-traffic:dst_ref.type" | "network-traffic:src_ref.type" => return Some(None),
        "network-traffic:dst_port" | "network-traffic:src_port" => "port",
        "domain-name:resolves_to_refs[*].value" => "ip-dst",
        "url:value" => "url",
        "file:name" => "filename",
        "file:size" => "size-in-bytes",
        "email-addr:value" => "email",
        "email-message:from_ref.value" => "email-src",
        "email-message:to_refs[*].value" | "email-message:cc_refs[*].value" => "email-dst",
        "email-message:subject" => "email-subject",
        "email-message:body" => "email-body",
        "email-message:message_id" => "email-message-id",
        "email-message:additional_header_fields.reply_to" => "email-reply-to",
        "email-message:additional_header_fields.x_mailer" => "email-x-mailer",
        "email-message:body_multipart[*].body_raw_ref.name" => "email-attachment",
        "mutex:name" => "mutex",
        "mac-addr:value" => "mac-address",
        "autonomous-system:number" => "AS",
        "windows-registry-key:key" => "regkey",
        "user-account:account_login" => "text",
        _ => {
            if let Some(h) = path.strip_prefix("file:hashes.").and_then(hash_type) {
                h
            } else if let Some(h) = path.strip_prefix("x509-certificate:hashes.") {
                match h.trim_matches('\'').to_ascii_uppercase().as_str() {
                    "MD5" => "x509-fingerprint-md5",
                    "SHA-1" | "SHA1" => "x509-fingerprint-sha1",
                    "SHA-256" | "SHA256" => "x509-fingerprint-sha256",
                    _ => return None,
                }
            } else {
                return None;
            }
        }
    }))
}

/// `(type, value)` pairs an SCO gives, resolving references through `index`.
fn sco_values(o: &Value, index: &HashMap<&str, &Value>) -> Vec<(&'static str, String)> {
    let text = |k: &str| s(o, k).map(str::to_owned);
    let deref = |k: &str| {
        s(o, k)
            .and_then(|r| index.get(r))
            .and_then(|x| s(x, "value"))
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    match s(o, "type").unwrap_or("") {
        "domain-name" => out.extend(text("value").map(|v| ("domain", v))),
        "ipv4-addr" | "ipv6-addr" => out.extend(text("value").map(|v| ("ip-dst", v))),
        "url" => out.extend(text("value").map(|v| ("url", v))),
        "email-addr" => out.extend(text("value").map(|v| ("email", v))),
        "mutex" => out.extend(text("name").map(|v| ("mutex", v))),
        "mac-addr" => out.extend(text("value").map(|v| ("mac-address", v))),
        "windows-registry-key" => out.extend(text("key").map(|v| ("regkey", v))),
        "autonomous-system" => {
            if let Some(n) = o.get("number").and_then(Value::as_u64) {
                out.push(("AS", format!("AS{n}")));
            }
        }
        "file" => {
            if let Some(h) = o.get("hashes").and_then(Value::as_object) {
                for (alg, v) in h {
                    if let (Some(t), Some(v)) = (hash_type(alg), v.as_str()) {
                        out.push((t, v.to_owned()));
                    }
                }
            }
            out.extend(text("name").map(|v| ("filename", v)));
        }
        "email-message" => {
            out.extend(deref("from_ref").map(|v| ("email-src", v)));
            for r in o
                .get("to_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = r
                    .as_str()
                    .and_then(|r| index.get(r))
                    .and_then(|x| s(x, "value"))
                {
                    out.push(("email-dst", v.to_owned()));
                }
            }
            out.extend(text("subject").map(|v| ("email-subject", v)));
            out.extend(text("message_id").map(|v| ("email-message-id", v)));
        }
        "network-traffic" => {
            out.extend(deref("src_ref").map(|v| ("ip-src", v)));
            out.extend(deref("dst_ref").map(|v| ("ip-dst", v)));
        }
        _ => {}
    }
    out
}

/// The MISP type and category misp-stix recorded in an object's labels.
fn misp_labels(o: &Value) -> (Option<String>, Option<String>) {
    let mut t = None;
    let mut c = None;
    for l in o
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(l) = l.as_str() else { continue };
        if let Some(v) = l
            .strip_prefix("misp:type=\"")
            .and_then(|r| r.strip_suffix('"'))
        {
            t = Some(v.to_owned());
        }
        if let Some(v) = l
            .strip_prefix("misp:category=\"")
            .and_then(|r| r.strip_suffix('"'))
        {
            c = Some(v.to_owned());
        }
    }
    (t, c)
}

/// The galaxy an SDO made from a MISP galaxy cluster came from (`misp:galaxy-type="…"`).
fn galaxy_type(o: &Value) -> Option<&str> {
    o.get("labels")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|l| {
            l.strip_prefix("misp:galaxy-type=\"")
                .and_then(|r| r.strip_suffix('"'))
        })
        .filter(|g| !g.is_empty() && !g.contains('"'))
}

fn tlp_tag(marking_id: &str) -> Option<&'static str> {
    use stix::tlp::{TlpLevel, TlpVersion, marking_info};
    let (level, version) = marking_info(marking_id)?;
    Some(match (level, version) {
        (TlpLevel::Clear, TlpVersion::V1) => "tlp:white",
        (TlpLevel::Clear, TlpVersion::V2) => "tlp:clear",
        (TlpLevel::Green, _) => "tlp:green",
        (TlpLevel::Amber, _) => "tlp:amber",
        (TlpLevel::AmberStrict, _) => "tlp:amber+strict",
        (TlpLevel::Red, _) => "tlp:red",
    })
}

fn tags_of(o: &Value, include_labels: bool) -> Vec<Value> {
    let mut tags = Vec::new();
    // Granular TLP markings are tagged too: MISP marks whole attributes, and a part's level
    // holds for the whole.
    for m in stix::tlp::marking_refs_of(o) {
        if let Some(t) = tlp_tag(m)
            && !tags.iter().any(|x| x == t)
        {
            tags.push(t.to_owned());
        }
    }
    if include_labels {
        for l in o
            .get("labels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(l) = l.as_str()
                && l != "Threat-Report"
                && !l.starts_with("misp:tool=")
                && !l.starts_with("misp:type=")
                && !l.starts_with("misp:category=")
                && !l.starts_with("misp:name=")
                && !l.starts_with("misp:meta-category=")
            {
                tags.push(l.to_owned());
            }
        }
    }
    let mut seen = HashSet::new();
    tags.into_iter()
        .filter(|t| seen.insert(t.clone()))
        .map(|t| json!({"name": t}))
        .collect()
}

/// The MISP object template misp-stix recorded in an object's labels (`misp:name="file"`) and
/// its meta-category.
fn misp_object_labels(o: &Value) -> Option<(String, String)> {
    let mut name = None;
    let mut meta = None;
    for l in o
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(v) = l
            .strip_prefix("misp:name=\"")
            .and_then(|r| r.strip_suffix('"'))
        {
            name = Some(v.to_owned());
        }
        if let Some(v) = l
            .strip_prefix("misp:meta-category=\"")
            .and_then(|r| r.strip_suffix('"'))
        {
            meta = Some(v.to_owned());
        }
    }
    Some((name?, meta.unwrap_or_else(|| "misc".into())))
}

/// The object relation of an attribute of MISP type `ty` in an object of template `template`.
fn relation(template: &str, ty: &str) -> String {
    match (template, ty) {
        ("domain-ip", "ip-dst" | "ip-src") => "ip",
        ("email", "email-src") => "from",
        ("email", "email-dst") => "to",
        ("email", "email-subject") => "subject",
        ("email", "email-message-id") => "message-id",
        ("asn", "AS") => "asn",
        ("mutex", "mutex") => "name",
        ("registry-key", "regkey") => "key",
        (_, t) => t,
    }
    .to_owned()
}

/// One MISP object attribute.
fn object_attribute(
    uuid: String,
    ty: &str,
    relation: &str,
    value: &str,
    to_ids: bool,
    timestamp: Instant,
) -> Value {
    let (category, _) = type_defaults(ty).unwrap_or(("Other", false));
    json!({
        "uuid": uuid, "type": ty, "object_relation": relation, "category": category,
        "value": value, "to_ids": to_ids, "timestamp": timestamp.secs.to_string(),
        "distribution": "5", "disable_correlation": false, "comment": "",
    })
}

/// A MISP object from an `x-misp-object` (every attribute kept) or from the observed data of an
/// object-derived observation (`misp:name` label): its SCOs' values, and their `x_misp_*`
/// properties as text attributes; `ids` are the values the object's indicator tests (to_ids).
fn misp_object(
    o: &Value,
    index: &HashMap<&str, &Value>,
    ids: &HashSet<String>,
    now: Instant,
    diags: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let ou = uuid_of(s(o, "id")?)?;
    let ts = ts(o, now);
    let (name, meta, attributes) = match s(o, "type")? {
        t @ ("vulnerability" | "attack-pattern" | "course-of-action") => {
            // An SDO made from a MISP object of the same template: the object's attributes
            // as MISP had them, if the SDO still names one of them.
            let (name, meta) = misp_object_labels(o)?;
            let carried = carried_attributes(o, &ou, ids, ts)?;
            let named = s(o, "name")
                .is_none_or(|n| n == name || carried.iter().any(|a| s(a, "value") == Some(n)));
            if name != t || !named {
                diags.push(Diagnostic {
                    level: Level::Warning,
                    path: s(o, "id").unwrap_or_default().to_owned(),
                    message: "MISP object attributes disagree with the object; exported from its STIX properties".into(),
                });
                return None;
            }
            (name, meta, carried)
        }
        "x-misp-object" => {
            let attrs: Vec<Value> = o
                .get("x_misp_attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(|(n, a)| {
                    let ty = s(a, "type").unwrap_or("text");
                    let value = match a.get("value")? {
                        Value::String(v) => v.clone(),
                        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    let mut m = object_attribute(
                        s(a, "uuid")
                            .map(str::to_owned)
                            .unwrap_or_else(|| sub_uuid(&ou, n)),
                        ty,
                        s(a, "object_relation").unwrap_or(ty),
                        &value,
                        a.get("to_ids").and_then(Value::as_bool) == Some(true),
                        ts,
                    );
                    for k in ["category", "comment", "data"] {
                        if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                            m[k] = v.clone();
                        }
                    }
                    Some(m)
                })
                .collect();
            (
                s(o, "x_misp_name")?.to_owned(),
                s(o, "x_misp_meta_category").unwrap_or("misc").to_owned(),
                attrs,
            )
        }
        "observed-data" => {
            let (name, meta) = misp_object_labels(o)?;
            let mut attrs = Vec::new();
            let mut n = 0usize;
            let refs: Vec<&Value> = o
                .get("object_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().and_then(|r| index.get(r)).copied())
                .collect();
            for sco in &refs {
                // Addresses reached through a network-traffic or e-mail message are written
                // through it.
                let inner = matches!(
                    s(sco, "type"),
                    Some("ipv4-addr" | "ipv6-addr" | "email-addr")
                ) && refs.iter().any(|x| {
                    matches!(
                        s(x, "type"),
                        Some("network-traffic" | "email-message" | "domain-name")
                    )
                });
                let mut pairs: Vec<(String, &'static str, String)> = if inner {
                    Vec::new()
                } else {
                    sco_values(sco, index)
                        .into_iter()
                        .map(|(t, v)| (relation(&name, t), t, v))
                        .collect()
                };
                if s(sco, "type") == Some("domain-name") && name == "domain-ip" {
                    for r in sco
                        .get("resolves_to_refs")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().and_then(|r| index.get(r)))
                    {
                        if let Some(v) = s(r, "value") {
                            pairs.push(("ip".into(), "ip-dst", v.to_owned()));
                        }
                    }
                }
                if s(sco, "type") == Some("network-traffic") {
                    for (k, rel) in [("src_port", "src-port"), ("dst_port", "dst-port")] {
                        if let Some(p) = sco.get(k).and_then(Value::as_u64) {
                            pairs.push((rel.into(), "port", p.to_string()));
                        }
                    }
                }
                if let Some(m) = sco.as_object() {
                    for (k, v) in m {
                        let Some(rel) = k.strip_prefix("x_misp_") else {
                            continue;
                        };
                        let values: Vec<&Value> = match v {
                            Value::Array(a) => a.iter().collect(),
                            v => vec![v],
                        };
                        for v in values {
                            let text = match v {
                                Value::String(t) => t.clone(),
                                Value::Number(x) => x.to_string(),
                                Value::Bool(b) => b.to_string(),
                                _ => continue,
                            };
                            pairs.push((rel.replace('_', "-"), "text", text));
                        }
                    }
                }
                for (rel, t, v) in pairs {
                    attrs.push(object_attribute(
                        sub_uuid(&ou, n),
                        t,
                        &rel,
                        &v,
                        ids.contains(&v),
                        ts,
                    ));
                    n += 1;
                }
            }
            // The object's attributes as MISP had them (relations, types, and the values STIX
            // holds in properties a feed has no relation for), when they agree with the SCOs:
            // every value rebuilt from them is one of the object's.
            // Never when an SCO is held back (TLP:RED, or not readable by the exporting member):
            // the object's attributes would carry its values.
            if all_refs_present(o, index)
                && let Some(carried) = carried_attributes(o, &ou, ids, ts)
            {
                let values: HashSet<String> = carried
                    .iter()
                    .filter_map(|a| s(a, "value"))
                    .map(comparable)
                    .collect();
                let disagree: Vec<&str> = attrs
                    .iter()
                    .filter_map(|a| s(a, "value"))
                    .filter(|v| !values.contains(&comparable(v)))
                    .collect();
                if disagree.is_empty() {
                    attrs = carried;
                } else {
                    diags.push(Diagnostic {
                        level: Level::Warning,
                        path: s(o, "id").unwrap_or_default().to_owned(),
                        message: format!(
                            "MISP object attributes disagree with the observables ({} values not among them); exported from the observables",
                            disagree.len()
                        ),
                    });
                }
            }
            (name, meta, attrs)
        }
        _ => return None,
    };
    if attributes.is_empty() {
        return None;
    }
    let mut obj = json!({
        "uuid": ou.to_string(), "name": name, "meta-category": meta,
        "timestamp": ts.secs.to_string(), "distribution": "5", "comment": s(o, "x_misp_comment").or_else(|| s(o, "description")).unwrap_or(""),
        "Attribute": attributes,
    });
    if let Some(t) = s(o, "x_misp_template_uuid") {
        obj["template_uuid"] = json!(t);
    }
    Some(obj)
}

/// The attributes of the MISP object an observed data or SDO was made from
/// (`x_misp_object_attributes`), as MISP object attributes; IDS only for the values the object's
/// indicator still tests (`ids`).
fn carried_attributes(
    o: &Value,
    ou: &uuid::Uuid,
    ids: &HashSet<String>,
    ts: Instant,
) -> Option<Vec<Value>> {
    let list = o.get("x_misp_object_attributes")?.as_array()?;
    let mut out = Vec::new();
    for (n, a) in list.iter().enumerate() {
        let (Some(ty), Some(rel), Some(v)) = (s(a, "type"), s(a, "object_relation"), s(a, "value"))
        else {
            continue;
        };
        let uuid = s(a, "uuid")
            .filter(|u| uuid::Uuid::parse_str(u).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(|| sub_uuid(ou, n));
        let to_ids = a.get("to_ids").and_then(Value::as_bool) == Some(true) && ids.contains(v);
        let mut m = object_attribute(uuid, ty, rel, v, to_ids, ts);
        for k in ["category", "comment", "data"] {
            if let Some(x) = a.get(k).filter(|x| x.is_string()) {
                m[k] = x.clone();
            }
        }
        out.push(m);
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The MISP value an indicator or observed data made from a MISP attribute keeps
/// (`x_misp_value`), when it agrees with what the object holds: one of `parts` (pattern
/// comparison values, SCO values) is in it, or there is none to compare.
fn carried_value<'a>(o: &'a Value, parts: &[String]) -> Option<&'a str> {
    let v = s(o, "x_misp_value")?;
    let whole = comparable(v);
    (parts.is_empty() || parts.iter().any(|p| whole.contains(&comparable(p)))).then_some(v)
}

/// A value as the import may have rewritten it (case, registry hives written out), to compare.
fn comparable(v: &str) -> String {
    crate::to_stix::full_hive(v).to_lowercase()
}

/// Whether every object an observed data references is among those exported (none held back).
fn all_refs_present(o: &Value, index: &HashMap<&str, &Value>) -> bool {
    o.get("object_refs")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .all(|r| r.as_str().is_some_and(|r| index.contains_key(r)))
        })
}

struct EventBuilder {
    attributes: Vec<Value>,
    objects: Vec<Value>,
    uuids: HashSet<String>,
    seen: HashSet<(String, String)>,
    event_tags: Vec<Value>,
}

impl EventBuilder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        uuid: String,
        ty: &str,
        value: String,
        to_ids: bool,
        category: Option<&str>,
        timestamp: Instant,
        comment: Option<&str>,
        tags: Vec<Value>,
    ) {
        if !self.seen.insert((ty.to_owned(), value.clone())) || !self.uuids.insert(uuid.clone()) {
            return;
        }
        let (default_cat, _) = type_defaults(ty).unwrap_or(("Other", false));
        let mut a = Map::new();
        a.insert("uuid".into(), json!(uuid));
        a.insert("type".into(), json!(ty));
        a.insert("category".into(), json!(category.unwrap_or(default_cat)));
        a.insert("value".into(), json!(value));
        a.insert("to_ids".into(), json!(to_ids));
        a.insert("timestamp".into(), json!(timestamp.secs.to_string()));
        a.insert("distribution".into(), json!("5"));
        a.insert("disable_correlation".into(), json!(false));
        a.insert("comment".into(), json!(comment.unwrap_or("")));
        if !tags.is_empty() {
            a.insert("Tag".into(), Value::Array(tags));
        }
        self.attributes.push(Value::Object(a));
    }
}

/// Derived uuid for the n-th extra attribute of a STIX object.
fn sub_uuid(base: &uuid::Uuid, n: usize) -> String {
    if n == 0 {
        base.to_string()
    } else {
        uuid::Uuid::new_v5(base, format!("attribute-{n}").as_bytes()).to_string()
    }
}

/// Builds a MISP feed from STIX objects: every report and grouping becomes an event with what it
/// references; indicators and observed data that no report references are gathered in one more
/// event. Returns `manifest.json`, `hashes.csv` and the event files.
pub fn export_feed(objects: &[Value], opts: &ExportOptions) -> Result<Feed, MispError> {
    let mut index: HashMap<&str, &Value> = HashMap::new();
    for o in objects {
        let Some(id) = s(o, "id") else {
            return Err(MispError::Stix("an object has no id".into()));
        };
        index.insert(id, o);
    }
    let mut diags = Vec::new();
    let mut groups: Vec<(&Value, Vec<&str>)> = Vec::new();
    let mut referenced: HashSet<&str> = HashSet::new();
    for o in objects {
        if matches!(s(o, "type"), Some("report" | "grouping")) {
            let refs: Vec<&str> = o
                .get("object_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            referenced.extend(refs.iter().copied());
            groups.push((o, refs));
        }
    }
    // Indicators, observed data and MISP objects outside any report: one event per creator, so
    // that each event names the organisation that made its content (`Orgc`), not the exporter.
    let mut loose: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in objects.iter().filter(|o| {
        matches!(
            s(o, "type"),
            Some("indicator" | "observed-data" | "x-misp-object" | "x-misp-attribute")
        )
    }) {
        if let Some(id) = s(o, "id").filter(|id| !referenced.contains(id)) {
            loose
                .entry(s(o, "created_by_ref").unwrap_or(""))
                .or_default()
                .push(id);
        }
    }
    let mut synthetic = Vec::new();
    for (creator, mut ids) in loose {
        ids.sort_unstable();
        let u = uuid::Uuid::new_v5(&crate::MISP_UUID_NAMESPACE, ids.join(",").as_bytes());
        let mut g = json!({
            "type": "grouping", "id": format!("grouping--{u}"),
            "name": "Shieldwall export: objects outside any report",
            "modified": opts.now.stix_millis(),
        });
        if !creator.is_empty() {
            g["created_by_ref"] = json!(creator);
        }
        synthetic.push((g, ids));
    }
    for (g, ids) in &synthetic {
        groups.push((g, ids.clone()));
    }

    let mut files = Vec::new();
    let mut manifest = Map::new();
    let mut hashes: Vec<String> = Vec::new();
    for (report, refs) in groups {
        let rid = s(report, "id").unwrap_or_default();
        let Some(event_uuid) = uuid_of(rid) else {
            diags.push(Diagnostic {
                level: Level::Error,
                path: rid.to_owned(),
                message: "report id has no uuid; left out".into(),
            });
            continue;
        };
        let ets = ts(report, opts.now);
        // The creator's identity names the event's organisation; without the identity object,
        // its uuid still does (named by its id); the exporter only for what has no creator.
        let creator = s(report, "created_by_ref");
        let (org_name, org_uuid) = creator
            .and_then(|r| index.get(r))
            .and_then(|i| Some((s(i, "name")?.to_owned(), uuid_of(s(i, "id")?)?)))
            .or_else(|| creator.and_then(|r| Some((r.to_owned(), uuid_of(r)?))))
            .unwrap_or_else(|| (opts.org_name.clone(), opts.org_uuid));
        let mut b = EventBuilder {
            attributes: Vec::new(),
            objects: Vec::new(),
            uuids: HashSet::new(),
            seen: HashSet::new(),
            event_tags: tags_of(report, true),
        };
        // Indicators first (to_ids), so an observed-data of the same MISP attribute is skipped.
        let mut ordered: Vec<&Value> = refs.iter().filter_map(|r| index.get(r).copied()).collect();
        ordered.sort_by_key(|o| s(o, "type") != Some("indicator"));
        let missing = refs.len() - ordered.len();
        if missing > 0 {
            diags.push(Diagnostic {
                level: Level::Warning,
                path: rid.to_owned(),
                message: format!("{missing} referenced objects are not in the input"),
            });
        }
        // MISP objects: the observed data of an object-derived observation carries the
        // object; its indicator (same uuid) only says which values are for IDS.
        let in_event: HashSet<&str> = refs.iter().copied().collect();
        let object_ids = |uuid: &uuid::Uuid| -> HashSet<String> {
            index
                .get(format!("indicator--{uuid}").as_str())
                .and_then(|i| s(i, "pattern"))
                .and_then(comparisons)
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.value)
                .collect()
        };
        for o in ordered {
            let oid = s(o, "id").unwrap_or_default();
            let Some(ou) = uuid_of(oid) else { continue };
            match s(o, "type") {
                Some("indicator")
                    if misp_object_labels(o).is_some()
                        && in_event.contains(format!("observed-data--{ou}").as_str())
                        && index.contains_key(format!("observed-data--{ou}").as_str()) =>
                {
                    continue;
                }
                Some(
                    "x-misp-object" | "observed-data" | "vulnerability" | "attack-pattern"
                    | "course-of-action",
                ) => {
                    if let Some(obj) = misp_object(o, &index, &object_ids(&ou), ets, &mut diags) {
                        b.uuids.insert(ou.to_string());
                        b.objects.push(obj);
                        continue;
                    }
                }
                _ => {}
            }
            let ots = ts(o, ets);
            let (label_type, label_cat) = misp_labels(o);
            let comment = s(o, "description");
            let tags = tags_of(o, false);
            match s(o, "type").unwrap_or("") {
                "indicator" => {
                    let pattern = s(o, "pattern").unwrap_or("");
                    let pt = s(o, "pattern_type").unwrap_or("stix");
                    if pt == "stix"
                        && let Some(lt) =
                            label_type.as_deref().filter(|t| type_defaults(t).is_some())
                    {
                        let parts: Vec<String> = comparisons(pattern)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|c| c.value)
                            .collect();
                        if let Some(v) = carried_value(o, &parts) {
                            b.add(
                                ou.to_string(),
                                lt,
                                v.to_owned(),
                                true,
                                label_cat.as_deref(),
                                ots,
                                comment,
                                tags,
                            );
                            continue;
                        }
                    }
                    let rule_type = match pt {
                        "sigma" | "snort" | "suricata" | "yara" | "pcre" => Some(pt),
                        _ => None,
                    };
                    let pairs: Option<Vec<(&'static str, String)>> = if pt == "stix" {
                        comparisons(pattern).and_then(|cs| {
                            let mut v = Vec::new();
                            for c in cs {
                                if let Some(t) = type_of_path(&c.path)? {
                                    v.push((t, c.value));
                                }
                            }
                            Some(v)
                        })
                    } else {
                        None
                    };
                    match (rule_type, pairs) {
                        (Some(t), _) => b.add(
                            ou.to_string(),
                            t,
                            pattern.to_owned(),
                            true,
                            label_cat.as_deref(),
                            ots,
                            comment,
                            tags,
                        ),
                        (None, Some(pairs)) if !pairs.is_empty() => {
                            if let Some(lt) = label_type.as_deref() {
                                let parts = lt.split('|').count();
                                if parts == pairs.len() && type_defaults(lt).is_some() {
                                    let value = pairs
                                        .iter()
                                        .map(|(_, v)| v.as_str())
                                        .collect::<Vec<_>>()
                                        .join("|");
                                    b.add(
                                        ou.to_string(),
                                        lt,
                                        value,
                                        true,
                                        label_cat.as_deref(),
                                        ots,
                                        comment,
                                        tags,
                                    );
                                    continue;
                                }
                            }
                            for (n, (t, v)) in pairs.into_iter().enumerate() {
                                b.add(
                                    sub_uuid(&ou, n),
                                    t,
                                    v,
                                    true,
                                    None,
                                    ots,
                                    comment,
                                    tags.clone(),
                                );
                            }
                        }
                        _ => {
                            diags.push(Diagnostic {
                                level: Level::Warning,
                                path: oid.to_owned(),
                                message:
                                    "pattern has no MISP attribute type; exported as stix2-pattern"
                                        .into(),
                            });
                            b.add(
                                ou.to_string(),
                                "stix2-pattern",
                                pattern.to_owned(),
                                true,
                                None,
                                ots,
                                comment,
                                tags,
                            );
                        }
                    }
                }
                "observed-data" => {
                    if b.uuids.contains(&ou.to_string()) {
                        continue;
                    }
                    let mut pairs = Vec::new();
                    for r in o
                        .get("object_refs")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(sco) = r.as_str().and_then(|r| index.get(r)) {
                            // Addresses only reached through a network-traffic or email-message
                            // are exported through it.
                            let inner = matches!(
                                s(sco, "type"),
                                Some("ipv4-addr" | "ipv6-addr" | "email-addr")
                            ) && o
                                .get("object_refs")
                                .and_then(Value::as_array)
                                .is_some_and(|l| {
                                    l.iter()
                                        .filter_map(Value::as_str)
                                        .filter_map(|x| index.get(x))
                                        .any(|x| {
                                            matches!(
                                                s(x, "type"),
                                                Some(
                                                    "network-traffic"
                                                        | "email-message"
                                                        | "domain-name"
                                                )
                                            )
                                        })
                                });
                            if !inner {
                                pairs.extend(sco_values(sco, &index));
                            }
                        }
                    }
                    if let Some(lt) = label_type.as_deref().filter(|t| type_defaults(t).is_some()) {
                        let parts: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
                        if let Some(v) =
                            carried_value(o, &parts).filter(|_| all_refs_present(o, &index))
                        {
                            b.add(
                                ou.to_string(),
                                lt,
                                v.to_owned(),
                                false,
                                label_cat.as_deref(),
                                ots,
                                comment,
                                tags,
                            );
                            continue;
                        }
                    }
                    if let (Some(lt), true) = (label_type.as_deref(), !pairs.is_empty()) {
                        let parts = lt.split('|').count();
                        let value = if parts == 1 && pairs.len() == 1 {
                            Some(pairs[0].1.clone())
                        } else if parts == 2 && lt == "domain|ip" {
                            let d = o
                                .get("object_refs")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .filter_map(|r| r.as_str().and_then(|r| index.get(r)))
                                .find(|x| s(x, "type") == Some("domain-name"));
                            d.and_then(|d| {
                                let ip = s(d, "resolves_to_refs")
                                    .or_else(|| d.get("resolves_to_refs")?.get(0)?.as_str())
                                    .and_then(|r| index.get(r))
                                    .and_then(|x| s(x, "value"))?;
                                Some(format!("{}|{ip}", s(d, "value")?))
                            })
                        } else if parts == 2 && pairs.len() == 2 {
                            Some(format!("{}|{}", pairs[0].1, pairs[1].1))
                        } else {
                            None
                        };
                        if let Some(value) = value.filter(|_| type_defaults(lt).is_some()) {
                            b.add(
                                ou.to_string(),
                                lt,
                                value,
                                false,
                                label_cat.as_deref(),
                                ots,
                                comment,
                                tags,
                            );
                            continue;
                        }
                    }
                    if pairs.is_empty() {
                        diags.push(Diagnostic {
                            level: Level::Warning,
                            path: oid.to_owned(),
                            message: "observed data has no observable MISP can hold; left out"
                                .into(),
                        });
                    }
                    for (n, (t, v)) in pairs.into_iter().enumerate() {
                        b.add(
                            sub_uuid(&ou, n),
                            t,
                            v,
                            false,
                            None,
                            ots,
                            comment,
                            tags.clone(),
                        );
                    }
                }
                "vulnerability" | "campaign" if galaxy_type(o).is_some() => {
                    // A galaxy cluster in MISP: a galaxy tag again.
                    if let (Some(g), Some(n)) = (galaxy_type(o), s(o, "name")) {
                        b.event_tags
                            .push(json!({"name": format!("misp-galaxy:{g}=\"{n}\"")}));
                    }
                }
                "vulnerability" => {
                    if let Some(n) = s(o, "name") {
                        b.add(
                            ou.to_string(),
                            match label_type.as_deref() {
                                Some("weakness") => "weakness",
                                _ => "vulnerability",
                            },
                            n.to_owned(),
                            false,
                            label_cat.as_deref(),
                            ots,
                            comment,
                            tags,
                        );
                    }
                }
                "campaign" => {
                    if let Some(n) = s(o, "name") {
                        b.add(
                            ou.to_string(),
                            "campaign-name",
                            n.to_owned(),
                            false,
                            label_cat.as_deref(),
                            ots,
                            comment,
                            tags,
                        );
                    }
                }
                t @ ("threat-actor" | "intrusion-set" | "malware" | "tool" | "attack-pattern") => {
                    let galaxy = match t {
                        "attack-pattern" => "mitre-attack-pattern",
                        "intrusion-set" => "mitre-intrusion-set",
                        "malware" => "mitre-malware",
                        "tool" => "mitre-tool",
                        _ => "threat-actor",
                    };
                    if let Some(n) = s(o, "name") {
                        let ext = o
                            .get("external_references")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .find(|r| s(r, "source_name") == Some("mitre-attack"))
                            .and_then(|r| s(r, "external_id"));
                        let value = match (ext, galaxy.starts_with("mitre-")) {
                            (Some(e), true) => format!("{n} - {e}"),
                            _ => n.to_owned(),
                        };
                        b.event_tags
                            .push(json!({"name": format!("misp-galaxy:{galaxy}=\"{value}\"")}));
                    }
                }
                "x-misp-attribute" => {
                    // An attribute whose value fits no STIX object: type and value as MISP had
                    // them.
                    if let (Some(t), Some(v)) = (s(o, "x_misp_type"), s(o, "x_misp_value")) {
                        let ids = o
                            .get("labels")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .any(|l| l.as_str() == Some("misp:to_ids=\"True\""));
                        b.add(
                            ou.to_string(),
                            t,
                            v.to_owned(),
                            ids,
                            s(o, "x_misp_category").or(label_cat.as_deref()),
                            ots,
                            s(o, "x_misp_comment").or(comment),
                            tags,
                        );
                    }
                }
                "relationship" | "identity" | "marking-definition" | "note" | "opinion"
                | "sighting" => {}
                t if !t.starts_with("x-") && sco_values(o, &index).is_empty() => {
                    diags.push(Diagnostic {
                        level: Level::Warning,
                        path: oid.to_owned(),
                        message: format!("{t} has no MISP counterpart in a feed; left out"),
                    });
                }
                _ => {}
            }
        }
        let published = s(report, "type") == Some("report") && report.get("published").is_some();
        let date = s(report, "published")
            .or_else(|| s(report, "created"))
            .and_then(parse_iso)
            .unwrap_or(ets)
            .date();
        let orgc = json!({"name": org_name, "uuid": org_uuid.to_string()});
        let mut seen = HashSet::new();
        let event_tags: Vec<Value> = b
            .event_tags
            .into_iter()
            .filter(|t| seen.insert(t.to_string()))
            .collect();
        let info = s(report, "name").unwrap_or("Shieldwall export").to_owned();
        let object_attributes = b.objects.iter().flat_map(|o| {
            o.get("Attribute")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        });
        for a in b.attributes.iter().chain(object_attributes) {
            let (Some(t), Some(v)) = (s(a, "type"), s(a, "value")) else {
                continue;
            };
            let parts: Vec<&str> = if t.contains('|') {
                v.split('|').collect()
            } else {
                vec![v]
            };
            for p in parts {
                let digest: String = Md5::digest(p.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                hashes.push(format!("{digest},{event_uuid}"));
            }
        }
        let event = json!({"Event": {
            "uuid": event_uuid.to_string(),
            "info": info,
            "date": date,
            "timestamp": ets.secs.to_string(),
            "publish_timestamp": ets.secs.to_string(),
            "published": published,
            "analysis": "2",
            "threat_level_id": "4",
            "distribution": "3",
            "Orgc": orgc,
            "Tag": event_tags,
            "Attribute": b.attributes,
            "Object": b.objects,
        }});
        manifest.insert(
            event_uuid.to_string(),
            json!({
                "Orgc": orgc, "Tag": event_tags, "info": info, "date": date,
                "analysis": 2, "threat_level_id": 4, "timestamp": ets.secs,
            }),
        );
        let bytes = serde_json::to_vec_pretty(&event)
            .map_err(|e| MispError::Stix(format!("serialising event {event_uuid}: {e}")))?;
        files.push(FeedFile {
            name: format!("{event_uuid}.json"),
            bytes,
        });
    }
    let sorted: BTreeMap<String, Value> = manifest.into_iter().collect();
    files.push(FeedFile {
        name: "manifest.json".into(),
        bytes: serde_json::to_vec_pretty(&sorted)
            .map_err(|e| MispError::Stix(format!("serialising manifest: {e}")))?,
    });
    let mut csv = hashes.join("\n");
    if !csv.is_empty() {
        csv.push('\n');
    }
    files.push(FeedFile {
        name: "hashes.csv".into(),
        bytes: csv.into_bytes(),
    });
    Ok(Feed {
        files,
        diagnostics: diags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_objects_are_grouped_per_creator_and_keep_their_orgc() {
        let a = "identity--0a000000-0000-4000-8000-000000000001";
        let b = "identity--0b000000-0000-4000-8000-000000000002";
        let ind = |n: u32, by: &str| {
            json!({"type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--00000000-0000-4000-8000-{n:012}"), "created_by_ref": by,
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": format!("[ipv4-addr:value = '198.51.100.{n}']"), "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z"})
        };
        let objects = vec![
            json!({"type": "identity", "spec_version": "2.1", "id": a, "name": "CERT A",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"}),
            ind(1, a),
            ind(2, b),
            ind(3, a),
        ];
        let feed = export_feed(
            &objects,
            &ExportOptions {
                org_name: "Exporter".into(),
                org_uuid: uuid::Uuid::nil(),
                now: Instant::from_secs(1_700_000_000),
            },
        )
        .unwrap_or_default();
        let mut orgs: Vec<(String, String, usize)> = feed
            .files
            .iter()
            .filter(|f| f.name != "manifest.json" && f.name.ends_with(".json"))
            .map(|f| {
                let e: Value = serde_json::from_slice(&f.bytes).unwrap_or_default();
                (
                    e["Event"]["Orgc"]["name"].as_str().unwrap_or("").to_owned(),
                    e["Event"]["Orgc"]["uuid"].as_str().unwrap_or("").to_owned(),
                    e["Event"]["Attribute"].as_array().map_or(0, Vec::len),
                )
            })
            .collect();
        orgs.sort();
        // B has no identity object here: its id still names the organisation.
        assert_eq!(
            orgs,
            vec![
                (
                    "CERT A".into(),
                    "0a000000-0000-4000-8000-000000000001".into(),
                    2
                ),
                (b.into(), "0b000000-0000-4000-8000-000000000002".into(), 1),
            ]
        );
    }

    fn one_event(objects: &[Value]) -> (Value, Vec<Diagnostic>) {
        let feed = export_feed(
            objects,
            &ExportOptions {
                org_name: "Exporter".into(),
                org_uuid: uuid::Uuid::nil(),
                now: Instant::from_secs(1_700_000_000),
            },
        )
        .unwrap_or_default();
        let event = feed
            .files
            .iter()
            .find(|f| f.name != "manifest.json" && f.name.ends_with(".json"))
            .and_then(|f| serde_json::from_slice(&f.bytes).ok())
            .unwrap_or_default();
        (event, feed.diagnostics)
    }

    fn registry_object(carried_key: &str) -> Vec<Value> {
        let key = "windows-registry-key--0c000000-0000-4000-8000-000000000001";
        vec![
            json!({"type": "windows-registry-key", "spec_version": "2.1", "id": key,
                "key": "HKEY_LOCAL_MACHINE\\Software\\Run"}),
            json!({"type": "observed-data", "spec_version": "2.1",
                "id": "observed-data--0d000000-0000-4000-8000-000000000001",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z",
                "number_observed": 1, "object_refs": [key],
                "labels": ["misp:name=\"registry-key\"", "misp:meta-category=\"file\""],
                "x_misp_object_attributes": [
                    {"type": "regkey", "object_relation": "key", "value": carried_key},
                    {"type": "datetime", "object_relation": "last-modified",
                     "value": "2024-01-01T00:00:00Z"}]}),
        ]
    }

    #[test]
    fn carried_object_attributes_come_back_when_they_agree_with_the_observables() {
        let (e, diags) = one_event(&registry_object("HKLM\\Software\\Run"));
        let attrs = e["Event"]["Object"][0]["Attribute"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let got: Vec<(&str, &str)> = attrs
            .iter()
            .map(|a| {
                (
                    a["object_relation"].as_str().unwrap_or(""),
                    a["type"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(got, vec![("key", "regkey"), ("last-modified", "datetime")]);
        assert!(diags.is_empty(), "{diags:?}");
        // Attributes that name another key than the SCO: rebuilt from the SCO, with a warning.
        let (e, diags) = one_event(&registry_object("HKLM\\Software\\Other"));
        let attrs = e["Event"]["Object"][0]["Attribute"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0]["value"], "HKEY_LOCAL_MACHINE\\Software\\Run");
        assert!(diags.iter().any(|d| d.message.contains("disagree")));
    }

    #[test]
    fn pattern_comparisons() {
        let c = comparisons("[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '1.2.3.4']").unwrap_or_default();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].value, "1.2.3.4");
        let c = comparisons(
            r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\Run' AND file:name = 'it\'s']",
        )
        .unwrap_or_default();
        assert_eq!(c[0].value, r"HKEY_LOCAL_MACHINE\Run");
        assert_eq!(c[1].value, "it's");
        assert!(comparisons("[file:size > 10]").is_none());
        assert!(comparisons("[file:name = 'unterminated]").is_none());
        assert!(comparisons("alert tcp any any").is_none());
    }
}
