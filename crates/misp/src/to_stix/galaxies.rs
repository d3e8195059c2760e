//! MISP galaxies: clusters to attack patterns (ATT&CK by external id), threat actors, intrusion
//! sets, malware, tools, courses of action, vulnerabilities, sectors (identities), countries and
//! regions (locations), and `x-misp-galaxy-cluster` for the rest.

use serde_json::{Map, Value, json};

use super::{Converter, s, sanitise_key};
use crate::error::Level;
use crate::time::{Instant, parse_iso};

/// The STIX type a galaxy (by its MISP `type`) converts to, as misp-stix maps them.
pub(crate) fn stix_type_of_galaxy(galaxy_type: &str) -> Option<&'static str> {
    // Galaxies misp-stix itself made from STIX objects: `stix-2.1-intrusion-set`, ...
    if let Some(ty) = galaxy_type
        .strip_prefix("stix-2.1-")
        .or_else(|| galaxy_type.strip_prefix("stix-2.0-"))
    {
        return Some(match ty {
            "attack-pattern" => "attack-pattern",
            "campaign" => "campaign",
            "course-of-action" => "course-of-action",
            "intrusion-set" => "intrusion-set",
            "location" => "location",
            "malware" => "malware",
            "threat-actor" => "threat-actor",
            "tool" => "tool",
            "vulnerability" => "vulnerability",
            _ => return None,
        });
    }
    Some(match galaxy_type {
        "mitre-attack-pattern"
        | "mitre-enterprise-attack-attack-pattern"
        | "mitre-mobile-attack-attack-pattern"
        | "mitre-pre-attack-attack-pattern"
        | "mitre-ics-techniques" => "attack-pattern",
        "mitre-course-of-action"
        | "mitre-enterprise-attack-course-of-action"
        | "mitre-mobile-attack-course-of-action" => "course-of-action",
        "mitre-enterprise-attack-intrusion-set"
        | "mitre-intrusion-set"
        | "mitre-mobile-attack-intrusion-set"
        | "mitre-pre-attack-intrusion-set" => "intrusion-set",
        "android"
        | "banker"
        | "stealer"
        | "backdoor"
        | "ransomware"
        | "mitre-malware"
        | "malpedia"
        | "mitre-enterprise-attack-malware"
        | "mitre-mobile-attack-malware" => "malware",
        "threat-actor" | "microsoft-activity-group" => "threat-actor",
        "botnet"
        | "rat"
        | "exploit-kit"
        | "tds"
        | "tool"
        | "mitre-tool"
        | "mitre-enterprise-attack-tool"
        | "mitre-mobile-attack-tool" => "tool",
        "branded-vulnerability" => "vulnerability",
        "campaign" => "campaign",
        "sector" => "identity",
        "country" | "region" => "location",
        _ => return None,
    })
}

/// misp-stix's relationship types between an object and the clusters of its galaxies.
pub(crate) fn relationship_type(source: &str, target: &str) -> &'static str {
    match (source, target) {
        ("attack-pattern", "malware" | "tool") => "uses",
        ("attack-pattern", "vulnerability") => "targets",
        ("campaign", "attack-pattern" | "malware" | "tool") => "uses",
        ("campaign", "intrusion-set" | "threat-actor") => "attributed-to",
        ("campaign", "vulnerability") => "targets",
        ("course-of-action", "attack-pattern" | "malware" | "tool" | "vulnerability") => {
            "mitigates"
        }
        ("indicator", "attack-pattern" | "intrusion-set" | "malware" | "threat-actor" | "tool") => {
            "indicates"
        }
        _ => "related-to",
    }
}

/// The tag names MISP gives the clusters of a galaxy (`misp-galaxy:<type>="<value>"`).
pub(crate) fn cluster_tag_names(g: &Value) -> Vec<String> {
    super::list(g.get("GalaxyCluster"))
        .iter()
        .filter_map(|c| {
            if let Some(t) = c.get("tag_name").and_then(Value::as_str) {
                return Some(t.to_owned());
            }
            let ty = c.get("type").and_then(Value::as_str)?;
            let v = c.get("value").and_then(Value::as_str)?;
            Some(format!("misp-galaxy:{ty}=\"{v}\""))
        })
        .collect()
}

fn source_name(external_id: &str) -> &'static str {
    for (prefix, name) in [
        ("CAPEC", "capec"),
        ("CVE", "cve"),
        ("CWE", "cwe"),
        ("MOB", "mitre-mobile-attack"),
        ("PRE", "mitre-pre-attack"),
        ("REF", "reference_from_CAPEC"),
    ] {
        if external_id
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('-'))
        {
            return name;
        }
    }
    if external_id.contains('-') {
        "NIST Mobile Threat Catalogue"
    } else if !external_id.is_empty() && external_id.chars().all(|c| c.is_ascii_digit()) {
        "WASC"
    } else {
        "mitre-attack"
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn strs(v: &Value) -> Vec<String> {
    as_list(v)
        .into_iter()
        .filter_map(|x| match x {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

impl Converter {
    /// Converts a galaxy's clusters (once per bundle) and returns their STIX ids.
    pub(super) fn galaxy(&mut self, g: &Value, ts: Instant, path: &str) -> Vec<String> {
        let Some(g) = g.as_object() else {
            self.diag(Level::Error, path, "galaxy is not an object; left out");
            return Vec::new();
        };
        let gname = s(g, "name").unwrap_or("").to_owned();
        let gdesc = s(g, "description").unwrap_or("").to_owned();
        let gtype = s(g, "type").unwrap_or("").to_owned();
        let mut out = Vec::new();
        for (i, c) in super::list(g.get("GalaxyCluster")).iter().enumerate() {
            let p = format!("{path}/GalaxyCluster/{i}");
            let Some(c) = c.as_object() else {
                self.diag(
                    Level::Error,
                    &p,
                    "galaxy cluster is not an object; left out",
                );
                continue;
            };
            let (Some(uuid), Some(value)) = (s(c, "uuid"), s(c, "value")) else {
                self.diag(
                    Level::Error,
                    &p,
                    "galaxy cluster without uuid or value; left out",
                );
                continue;
            };
            if let Some(id) = self.clusters.get(uuid) {
                out.push(id.clone());
                continue;
            }
            let ctype = s(c, "type").unwrap_or(&gtype).to_owned();
            let obj = match stix_type_of_galaxy(&ctype).or_else(|| stix_type_of_galaxy(&gtype)) {
                Some(ty) => self.cluster_object(ty, c, uuid, value, &gname, &gdesc, &ctype, ts),
                None => {
                    if gtype == "acs-marking" || ctype == "acs-marking" {
                        self.diag(
                            Level::Warning,
                            &p,
                            "ACS marking galaxy kept as x-misp-galaxy-cluster, not as a marking",
                        );
                    }
                    Self::custom_cluster(c, uuid, value, &gname, &gdesc, &ctype, ts)
                }
            };
            let id = obj
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            self.clusters.insert(uuid.to_owned(), id.clone());
            self.push_noref(Value::Object(obj), &p);
            out.push(id);
        }
        out
    }

    fn labels(gname: &str, ctype: &str, c: &Map<String, Value>) -> Vec<String> {
        let mut l = vec![
            format!("misp:galaxy-name=\"{gname}\""),
            format!("misp:galaxy-type=\"{ctype}\""),
        ];
        if let Some(t) = s(c, "tag_name") {
            l.push(t.to_owned());
        }
        l
    }

    fn custom_cluster(
        c: &Map<String, Value>,
        uuid: &str,
        value: &str,
        gname: &str,
        gdesc: &str,
        ctype: &str,
        ts: Instant,
    ) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), json!("x-misp-galaxy-cluster"));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(format!("x-misp-galaxy-cluster--{uuid}")));
        o.insert("created".into(), json!(ts.stix_millis()));
        o.insert("modified".into(), json!(ts.stix_millis()));
        o.insert("labels".into(), json!(Self::labels(gname, ctype, c)));
        o.insert(
            "x_misp_description".into(),
            json!(format!("{gdesc} | {}", s(c, "description").unwrap_or(""))),
        );
        o.insert("x_misp_name".into(), json!(gname));
        o.insert("x_misp_type".into(), json!(ctype));
        o.insert("x_misp_value".into(), json!(value));
        if let Some(meta) = c
            .get("meta")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
        {
            let m: Map<String, Value> = meta
                .iter()
                .map(|(k, v)| (sanitise_key(k), v.clone()))
                .collect();
            o.insert("x_misp_meta".into(), Value::Object(m));
        }
        o
    }

    #[allow(clippy::too_many_arguments)]
    fn cluster_object(
        &mut self,
        ty: &str,
        c: &Map<String, Value>,
        uuid: &str,
        value: &str,
        gname: &str,
        gdesc: &str,
        ctype: &str,
        ts: Instant,
    ) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), json!(ty));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(format!("{ty}--{uuid}")));
        let mut created = ts;
        let mut modified = None;
        let meta = c
            .get("meta")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut name = value.to_owned();
        if ctype.starts_with("mitre-")
            && let Some((n, _)) = value.split_once(" - ")
        {
            name = n.trim().to_owned();
        }
        if ty == "location" {
            name = s(c, "description").unwrap_or(value).to_owned();
            if ctype == "region"
                && let Some((_, n)) = value.split_once(" - ")
            {
                name = n.trim().to_owned();
            }
        }
        o.insert("name".into(), json!(name));
        match ty {
            "identity" => {
                o.insert(
                    "description".into(),
                    json!(s(c, "description").unwrap_or(gdesc)),
                );
                o.insert("identity_class".into(), json!("class"));
            }
            "location" => {
                o.insert("description".into(), json!(format!("{gdesc} | {value}")));
            }
            _ => {
                if let Some(d) = s(c, "description") {
                    o.insert("description".into(), json!(d));
                }
            }
        }
        if ty == "malware" {
            o.insert("is_family".into(), json!(false));
        }
        let mut labels = Self::labels(gname, ctype, c);
        let mut ext_refs: Vec<Value> = Vec::new();
        let mut kill_chain: Vec<Value> = Vec::new();
        let mut custom = Map::new();
        let mut original = Map::new();
        for (k, v) in &meta {
            match k.as_str() {
                "external_id" => {
                    for id in strs(v) {
                        ext_refs.push(json!({"source_name": source_name(&id), "external_id": id}));
                    }
                }
                "refs" => {
                    for url in strs(v) {
                        ext_refs.push(json!({"source_name": "url", "url": url}));
                    }
                }
                "kill_chain" if ty == "attack-pattern" || ty == "malware" || ty == "tool" => {
                    for phase in strs(v) {
                        let parts: Vec<&str> = phase.split(':').collect();
                        if let (Some(first), Some(last)) = (parts.first(), parts.last())
                            && parts.len() >= 2
                        {
                            kill_chain.push(json!({"kill_chain_name": first, "phase_name": last}));
                        }
                    }
                }
                "synonyms"
                    if matches!(
                        ty,
                        "threat-actor" | "intrusion-set" | "malware" | "tool" | "campaign"
                    ) =>
                {
                    let aliases: Vec<String> = strs(v).into_iter().filter(|a| *a != name).collect();
                    if !aliases.is_empty() {
                        o.insert("aliases".into(), json!(aliases));
                    }
                }
                "created" => {
                    if let Some(t) = strs(v).first().and_then(|t| parse_iso(t)) {
                        created = t;
                    }
                }
                "modified" => modified = strs(v).first().and_then(|t| parse_iso(t)),
                "is_family" if ty == "malware" => {
                    let b = as_list(v).first().and_then(super::truthy).unwrap_or(false);
                    o.insert("is_family".into(), json!(b));
                }
                "threat_actor_types" if ty == "threat-actor" => {
                    o.insert("threat_actor_types".into(), json!(strs(v)));
                }
                "malware_types" if ty == "malware" => {
                    o.insert("malware_types".into(), json!(strs(v)));
                }
                "tool_types" if ty == "tool" => {
                    o.insert("tool_types".into(), json!(strs(v)));
                }
                "labels" if matches!(ty, "malware" | "threat-actor" | "tool") => {
                    labels.extend(strs(v));
                }
                "country" | "ISO" if ty == "location" && ctype == "country" => {
                    if let Some(cc) = strs(v).first() {
                        o.insert("country".into(), json!(cc));
                    }
                    let key = format!("x_misp_{}", sanitise_key(k));
                    if sanitise_key(k) != *k {
                        original.insert(key.clone(), json!(k));
                    }
                    custom.insert(key, v.clone());
                }
                _ => {
                    let key = format!("x_misp_{}", sanitise_key(k));
                    if sanitise_key(k) != *k {
                        original.insert(key.clone(), json!(k));
                    }
                    custom.insert(key, v.clone());
                }
            }
        }
        if ty == "location" && ctype == "region" {
            o.insert(
                "region".into(),
                json!(name.to_ascii_lowercase().replace(' ', "-")),
            );
        }
        if ty == "location" && !o.contains_key("country") && !o.contains_key("region") {
            o.insert("region".into(), json!("unknown"));
        }
        let modified = modified.unwrap_or(created);
        o.insert("created".into(), json!(created.stix_millis()));
        o.insert(
            "modified".into(),
            json!(modified.max(created).stix_millis()),
        );
        if !kill_chain.is_empty() {
            o.insert("kill_chain_phases".into(), json!(kill_chain));
        }
        o.insert("labels".into(), json!(labels));
        if !ext_refs.is_empty() {
            o.insert("external_references".into(), json!(ext_refs));
        }
        if ty == "vulnerability" && !o.contains_key("external_references") {
            o.insert(
                "external_references".into(),
                json!([{"source_name": source_name(value), "external_id": value}]),
            );
        }
        for (k, v) in custom {
            o.insert(k, v);
        }
        if !original.is_empty() {
            o.insert("x_misp_original_names".into(), Value::Object(original));
        }
        o
    }
}
