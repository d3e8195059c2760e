//! MISP attributes: observables (observed-data + SCOs, plus an indicator when `to_ids`),
//! standalone indicators, SDOs (campaign, vulnerability), and `x-misp-attribute` for the rest.

use serde_json::{Map, Value, json};

use super::{Converter, pat, s, to_ids, value_text};
use crate::error::Level;
use crate::time::Instant;

/// The STIX name of a MISP hash type, for SCO `hashes` and for patterns (quoted when needed).
pub(crate) fn hash_name(misp: &str) -> Option<&'static str> {
    Some(match misp {
        "md5" => "MD5",
        "sha1" => "SHA-1",
        "sha224" | "sha512/224" => "SHA-224",
        "sha256" | "sha512/256" => "SHA-256",
        "sha384" => "SHA-384",
        "sha512" => "SHA-512",
        "sha3-224" => "SHA3-224",
        "sha3-256" => "SHA3-256",
        "sha3-384" => "SHA3-384",
        "sha3-512" => "SHA3-512",
        "ssdeep" => "SSDEEP",
        "tlsh" => "TLSH",
        "authentihash" => "AUTHENTIHASH",
        "imphash" => "IMPHASH",
        "pehash" => "PEHASH",
        "vhash" => "VHASH",
        "telfhash" => "TELFHASH",
        "impfuzzy" => "IMPFUZZY",
        "cdhash" => "CDHASH",
        _ => return None,
    })
}

/// A path segment for a hash in a pattern: `MD5`, `'SHA-1'`.
pub(crate) fn hash_segment(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_owned()
    } else {
        format!("'{name}'")
    }
}

pub(crate) fn ip_type(v: &str) -> &'static str {
    if v.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    }
}

fn sco(ty: &str, uuid: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(ty));
    m.insert("spec_version".into(), json!("2.1"));
    m.insert("id".into(), json!(format!("{ty}--{uuid}")));
    m
}

fn id_of(m: &Map<String, Value>) -> String {
    m.get("id").and_then(Value::as_str).unwrap_or("").to_owned()
}

/// What an observable attribute converts to.
struct Observable {
    scos: Vec<Map<String, Value>>,
    pattern: String,
}

fn split2(value: &str) -> Option<(&str, &str)> {
    let (a, b) = value.split_once('|')?;
    if b.contains('|') { None } else { Some((a, b)) }
}

/// The SCOs and pattern of an observable attribute type; `None` when the type is not one,
/// `Some(Err(why))` when the value does not fit the type.
fn observable(
    ty: &str,
    value: &str,
    uuid: &str,
    a: &Map<String, Value>,
) -> Option<Result<Observable, String>> {
    let one = |ty_: &str, prop: &str, v: Value, pattern: String| {
        let mut o = sco(ty_, uuid);
        o.insert(prop.into(), v);
        Ok(Observable {
            scos: vec![o],
            pattern,
        })
    };
    let pv = pat(value);
    Some(match ty {
        "AS" => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            match digits.parse::<u64>() {
                Ok(n) => one(
                    "autonomous-system",
                    "number",
                    json!(n),
                    format!("[autonomous-system:number = '{n}']"),
                ),
                Err(_) => Err(format!("{value:?} is not an AS number")),
            }
        }
        "domain" | "hostname" => one(
            "domain-name",
            "value",
            json!(value),
            format!("[domain-name:value = '{pv}']"),
        ),
        "domain|ip" => match split2(value) {
            Some((d, ip)) => {
                let it = ip_type(ip);
                let mut ipo = sco(it, uuid);
                ipo.insert("value".into(), json!(ip));
                let mut dom = sco("domain-name", uuid);
                dom.insert("value".into(), json!(d));
                dom.insert("resolves_to_refs".into(), json!([id_of(&ipo)]));
                Ok(Observable {
                    scos: vec![dom, ipo],
                    pattern: format!(
                        "[domain-name:value = '{}' AND domain-name:resolves_to_refs[*].value = '{}']",
                        pat(d),
                        pat(ip)
                    ),
                })
            }
            None => Err("expected \"domain|ip\"".into()),
        },
        "email" => one(
            "email-addr",
            "value",
            json!(value),
            format!("[email-addr:value = '{pv}']"),
        ),
        "email-src" | "email-dst" => {
            let mut addr = sco("email-addr", uuid);
            addr.insert("value".into(), json!(value));
            let mut msg = sco("email-message", uuid);
            msg.insert("is_multipart".into(), json!(false));
            let pattern = if ty == "email-src" {
                msg.insert("from_ref".into(), json!(id_of(&addr)));
                format!("[email-message:from_ref.value = '{pv}']")
            } else {
                msg.insert("to_refs".into(), json!([id_of(&addr)]));
                format!("[email-message:to_refs[*].value = '{pv}']")
            };
            Ok(Observable {
                scos: vec![msg, addr],
                pattern,
            })
        }
        "email-subject" | "email-body" | "email-message-id" | "email-header" | "email-reply-to"
        | "email-x-mailer" => {
            let mut msg = sco("email-message", uuid);
            msg.insert("is_multipart".into(), json!(false));
            let path = match ty {
                "email-subject" => {
                    msg.insert("subject".into(), json!(value));
                    "subject".to_owned()
                }
                "email-body" => {
                    msg.insert("body".into(), json!(value));
                    "body".to_owned()
                }
                "email-message-id" => {
                    msg.insert("message_id".into(), json!(value));
                    "message_id".to_owned()
                }
                "email-header" => {
                    msg.insert("received_lines".into(), json!([value]));
                    "received_lines".to_owned()
                }
                "email-reply-to" => {
                    msg.insert(
                        "additional_header_fields".into(),
                        json!({"Reply-To": value}),
                    );
                    "additional_header_fields.reply_to".to_owned()
                }
                _ => {
                    msg.insert(
                        "additional_header_fields".into(),
                        json!({"X-Mailer": value}),
                    );
                    "additional_header_fields.x_mailer".to_owned()
                }
            };
            Ok(Observable {
                scos: vec![msg],
                pattern: format!("[email-message:{path} = '{pv}']"),
            })
        }
        "email-attachment" => {
            let mut file = sco("file", uuid);
            file.insert("name".into(), json!(value));
            let mut msg = sco("email-message", uuid);
            msg.insert("is_multipart".into(), json!(true));
            msg.insert(
                "body_multipart".into(),
                json!([{"body_raw_ref": id_of(&file), "content_disposition": format!("attachment; filename='{value}'")}]),
            );
            Ok(Observable {
                scos: vec![msg, file],
                pattern: format!("[email-message:body_multipart[*].body_raw_ref.name = '{pv}']"),
            })
        }
        "filename" => one(
            "file",
            "name",
            json!(value),
            format!("[file:name = '{pv}']"),
        ),
        "attachment" | "malware-sample" => {
            let data = s(a, "data");
            let (name, md5) = if ty == "malware-sample" {
                match split2(value) {
                    Some((n, h)) => (n, Some(h)),
                    None => (value, None),
                }
            } else {
                (value, None)
            };
            let mut file = sco("file", uuid);
            let mut pattern = Vec::new();
            if let Some(h) = md5 {
                file.insert("hashes".into(), json!({"MD5": h}));
            }
            file.insert("name".into(), json!(name));
            pattern.push(format!("file:name = '{}'", pat(name)));
            if let Some(h) = md5 {
                pattern.push(format!("file:hashes.MD5 = '{}'", pat(h)));
            }
            let mut scos = Vec::new();
            if let Some(d) = data {
                let mut art = sco("artifact", uuid);
                if ty == "malware-sample" {
                    art.insert("mime_type".into(), json!("application/zip"));
                    art.insert("encryption_algorithm".into(), json!("mime-type-indicated"));
                    art.insert("decryption_key".into(), json!("infected"));
                }
                art.insert("payload_bin".into(), json!(d));
                file.insert("content_ref".into(), json!(id_of(&art)));
                pattern.push(format!("file:content_ref.payload_bin = '{}'", pat(d)));
                scos.push(file);
                scos.push(art);
            } else {
                scos.push(file);
            }
            Ok(Observable {
                scos,
                pattern: format!("[{}]", pattern.join(" AND ")),
            })
        }
        "ip-src" | "ip-dst" => {
            let side = if ty == "ip-src" { "src" } else { "dst" };
            let it = ip_type(value);
            let mut ip = sco(it, uuid);
            ip.insert("value".into(), json!(value));
            let mut nt = sco("network-traffic", uuid);
            nt.insert(format!("{side}_ref"), json!(id_of(&ip)));
            nt.insert("protocols".into(), json!(["tcp"]));
            Ok(Observable {
                scos: vec![nt, ip],
                pattern: format!(
                    "[network-traffic:{side}_ref.type = '{it}' AND network-traffic:{side}_ref.value = '{pv}']"
                ),
            })
        }
        "ip-src|port" | "ip-dst|port" => match split2(value) {
            Some((ipv, port)) => match port.trim().parse::<u16>() {
                Ok(p) => {
                    let side = if ty.starts_with("ip-src") {
                        "src"
                    } else {
                        "dst"
                    };
                    let it = ip_type(ipv);
                    let mut ip = sco(it, uuid);
                    ip.insert("value".into(), json!(ipv));
                    let mut nt = sco("network-traffic", uuid);
                    nt.insert(format!("{side}_ref"), json!(id_of(&ip)));
                    nt.insert(format!("{side}_port"), json!(p));
                    nt.insert("protocols".into(), json!(["tcp"]));
                    Ok(Observable {
                        scos: vec![nt, ip],
                        pattern: format!(
                            "[network-traffic:{side}_ref.type = '{it}' AND network-traffic:{side}_ref.value = '{}' AND network-traffic:{side}_port = '{p}']",
                            pat(ipv)
                        ),
                    })
                }
                Err(_) => Err(format!("{port:?} is not a port number")),
            },
            None => Err("expected \"ip|port\"".into()),
        },
        "hostname|port" => match split2(value) {
            Some((host, port)) => match port.trim().parse::<u16>() {
                Ok(p) => {
                    let mut dom = sco("domain-name", uuid);
                    dom.insert("value".into(), json!(host));
                    let mut nt = sco("network-traffic", uuid);
                    nt.insert("dst_ref".into(), json!(id_of(&dom)));
                    nt.insert("dst_port".into(), json!(p));
                    nt.insert("protocols".into(), json!(["tcp"]));
                    Ok(Observable {
                        scos: vec![dom, nt],
                        pattern: format!(
                            "[domain-name:value = '{}' AND network-traffic:dst_port = '{p}']",
                            pat(host)
                        ),
                    })
                }
                Err(_) => Err(format!("{port:?} is not a port number")),
            },
            None => Err("expected \"hostname|port\"".into()),
        },
        "mac-address" => one(
            "mac-addr",
            "value",
            json!(value.to_ascii_lowercase()),
            format!("[mac-addr:value = '{pv}']"),
        ),
        "mutex" => one(
            "mutex",
            "name",
            json!(value),
            format!("[mutex:name = '{pv}']"),
        ),
        "regkey" => {
            let key = full_hive(value);
            one(
                "windows-registry-key",
                "key",
                json!(key),
                format!("[windows-registry-key:key = '{}']", pat(&key)),
            )
        }
        "regkey|value" => match split2(value) {
            Some((key, data)) => {
                let key = full_hive(key.trim());
                let mut k = sco("windows-registry-key", uuid);
                k.insert("key".into(), json!(key));
                k.insert("values".into(), json!([{"data": data.trim()}]));
                Ok(Observable {
                    scos: vec![k],
                    pattern: format!(
                        "[windows-registry-key:key = '{}' AND windows-registry-key:values.data = '{}']",
                        pat(&key),
                        pat(data.trim())
                    ),
                })
            }
            None => Err("expected \"key|data\"".into()),
        },
        "url" | "uri" | "link" => one(
            "url",
            "value",
            json!(value),
            format!("[url:value = '{pv}']"),
        ),
        "github-username" => {
            let mut u = sco("user-account", uuid);
            u.insert("account_login".into(), json!(value));
            u.insert("account_type".into(), json!("github"));
            Ok(Observable {
                scos: vec![u],
                pattern: format!(
                    "[user-account:account_type = 'github' AND user-account:account_login = '{pv}']"
                ),
            })
        }
        "x509-fingerprint-md5" | "x509-fingerprint-sha1" | "x509-fingerprint-sha256" => {
            let h = match ty {
                "x509-fingerprint-md5" => "MD5",
                "x509-fingerprint-sha1" => "SHA-1",
                _ => "SHA-256",
            };
            let clean: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
            one(
                "x509-certificate",
                "hashes",
                json!({h: clean}),
                format!(
                    "[x509-certificate:hashes.{} = '{}']",
                    hash_segment(h),
                    pat(&clean)
                ),
            )
        }
        _ => {
            if let Some(h) = hash_name(ty) {
                one(
                    "file",
                    "hashes",
                    json!({h: value}),
                    format!("[file:hashes.{} = '{pv}']", hash_segment(h)),
                )
            } else if let Some(h) = ty.strip_prefix("filename|").and_then(hash_name) {
                match split2(value) {
                    Some((name, hash)) => {
                        let mut f = sco("file", uuid);
                        f.insert("hashes".into(), json!({h: hash}));
                        f.insert("name".into(), json!(name));
                        Ok(Observable {
                            scos: vec![f],
                            pattern: format!(
                                "[file:name = '{}' AND file:hashes.{} = '{}']",
                                pat(name),
                                hash_segment(h),
                                pat(hash)
                            ),
                        })
                    }
                    None => Err("expected \"filename|hash\"".into()),
                }
            } else {
                return None;
            }
        }
    })
}

/// Standalone indicator patterns, for types that are indicators when `to_ids` and custom otherwise.
fn standalone_pattern(ty: &str, value: &str) -> Option<String> {
    let pv = pat(value);
    Some(match ty {
        "port" => format!("[network-traffic:dst_port = '{pv}']"),
        "size-in-bytes" => format!("[file:size = '{pv}']"),
        "http-method" => {
            format!("[network-traffic:extensions.'http-request-ext'.request_method = '{pv}']")
        }
        "user-agent" => format!(
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{pv}']"
        ),
        _ => return None,
    })
}

/// Detection-rule attribute types and their STIX `pattern_type`.
fn rule_pattern_type(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "sigma" => "sigma",
        "snort" => "snort",
        "suricata" => "suricata",
        "yara" => "yara",
        "pcre" => "pcre",
        "stix2-pattern" => "stix",
        _ => return None,
    })
}

impl Converter {
    pub(super) fn attribute(&mut self, a: &Value, path: &str) {
        let Some(a) = a.as_object() else {
            self.diag(
                Level::Error,
                path,
                "attribute is not a JSON object; left out",
            );
            return;
        };
        let (Some(ty), Some(value)) = (s(a, "type"), value_text(a)) else {
            self.diag(
                Level::Error,
                path,
                "attribute without type or value; left out",
            );
            return;
        };
        let Some(uuid) = s(a, "uuid").filter(|u| uuid::Uuid::parse_str(u).is_ok()) else {
            self.diag(
                Level::Error,
                path,
                "attribute without a valid uuid; left out",
            );
            return;
        };
        let (ty, uuid) = (ty.to_owned(), uuid.to_owned());
        let mut a = a.clone();
        if s(&a, "category").is_none()
            && let Some((cat, _)) = super::type_defaults(&ty)
        {
            a.insert("category".into(), json!(cat));
        }
        let ts = self.ts_of(&a);
        let ids = to_ids(&a);
        let labels = Self::labels_for_attribute(&a);
        let category = s(&a, "category").unwrap_or("Other").to_owned();

        if let Some(obs) = observable(&ty, &value, &uuid, &a) {
            match obs.and_then(|o| scos_fit(&o.scos).map(|()| o)) {
                Ok(obs) => {
                    self.observable_attribute(&a, &uuid, obs, ids, labels, &category, ts, path);
                    return;
                }
                Err(why) => {
                    self.diag(
                        Level::Warning,
                        path,
                        &format!("{ty} attribute {value:?}: {why}; converted to x-misp-attribute"),
                    );
                    self.custom_attribute(&a, &uuid, &ty, &value, labels, ts, path);
                    return;
                }
            }
        }
        if let Some(pattern) = standalone_pattern(&ty, &value).filter(|_| ids) {
            let id = format!("indicator--{uuid}");
            let mut ind = self.indicator(&id, &a, labels, &pattern, "stix", &category, ts);
            ind.insert("x_misp_value".into(), json!(value));
            self.attribute_tags(&a, &mut ind, true, ts, path);
            self.push(Value::Object(ind), path);
            self.uuid_ids.insert(uuid.clone(), id.clone());
            self.sightings(super::list(a.get("Sighting")), &[id], path);
            return;
        }
        if let Some(pt) = rule_pattern_type(&ty) {
            let id = format!("indicator--{uuid}");
            let mut ind = self.indicator(&id, &a, labels, &value, pt, &category, ts);
            self.attribute_tags(&a, &mut ind, true, ts, path);
            self.push(Value::Object(ind), path);
            self.uuid_ids.insert(uuid.clone(), id.clone());
            self.sightings(super::list(a.get("Sighting")), &[id], path);
            return;
        }
        match ty.as_str() {
            "campaign-name" => {
                let id = format!("campaign--{uuid}");
                let mut o = self.sdo_base("campaign", &id, ts);
                o.insert("name".into(), json!(value));
                o.insert("labels".into(), json!(labels));
                self.attribute_tags(&a, &mut o, true, ts, path);
                self.push(Value::Object(o), path);
                self.uuid_ids.insert(uuid.clone(), id.clone());
                self.sightings(super::list(a.get("Sighting")), &[id], path);
            }
            "vulnerability" | "weakness" => {
                let id = format!("vulnerability--{uuid}");
                let mut o = self.sdo_base("vulnerability", &id, ts);
                o.insert("name".into(), json!(value));
                o.insert("labels".into(), json!(labels));
                let source = if value.starts_with("CWE-") {
                    "cwe"
                } else {
                    "cve"
                };
                o.insert(
                    "external_references".into(),
                    json!([{"source_name": source, "external_id": value}]),
                );
                if let Some(c) = s(&a, "comment") {
                    o.insert("description".into(), json!(c));
                }
                self.attribute_tags(&a, &mut o, true, ts, path);
                self.push(Value::Object(o), path);
                self.uuid_ids.insert(uuid.clone(), id.clone());
                self.sightings(super::list(a.get("Sighting")), &[id], path);
            }
            _ => {
                if standalone_pattern(&ty, &value).is_none() {
                    self.diag(
                        Level::Warning,
                        path,
                        &format!("MISP type {ty:?} has no STIX 2.1 counterpart; converted to x-misp-attribute"),
                    );
                }
                self.custom_attribute(&a, &uuid, &ty, &value, labels, ts, path);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn custom_attribute(
        &mut self,
        a: &Map<String, Value>,
        uuid: &str,
        ty: &str,
        value: &str,
        labels: Vec<String>,
        ts: Instant,
        path: &str,
    ) {
        let id = format!("x-misp-attribute--{uuid}");
        let mut o = self.sdo_base("x-misp-attribute", &id, ts);
        o.insert("labels".into(), json!(labels));
        o.insert("x_misp_type".into(), json!(ty));
        o.insert("x_misp_value".into(), json!(value));
        o.insert(
            "x_misp_category".into(),
            json!(s(a, "category").unwrap_or("Other")),
        );
        if let Some(c) = s(a, "comment") {
            o.insert("x_misp_comment".into(), json!(c));
        }
        if let Some(d) = s(a, "data") {
            o.insert("x_misp_data".into(), json!(d));
        }
        self.attribute_tags(a, &mut o, true, ts, path);
        self.push(Value::Object(o), path);
        self.uuid_ids.insert(uuid.to_owned(), id.clone());
        self.sightings(super::list(a.get("Sighting")), &[id], path);
    }

    #[allow(clippy::too_many_arguments)]
    fn observable_attribute(
        &mut self,
        a: &Map<String, Value>,
        uuid: &str,
        obs: Observable,
        ids: bool,
        labels: Vec<String>,
        category: &str,
        ts: Instant,
        path: &str,
    ) {
        let od_id = format!("observed-data--{uuid}");
        let refs: Vec<String> = obs.scos.iter().map(id_of).collect();
        let mut od = self.observed_data(&od_id, a, labels.clone(), &refs, ts);
        // The MISP value as it was, for a MISP feed to give it back with its type
        // (`crate::to_misp`): the SCOs and the pattern hold it in parts.
        let value = value_text(a).unwrap_or_default();
        od.insert("x_misp_value".into(), json!(value));
        self.attribute_tags(a, &mut od, true, ts, path);
        self.push(Value::Object(od), path);
        for sco in obs.scos {
            self.push(Value::Object(sco), path);
        }
        self.uuid_ids.insert(uuid.to_owned(), od_id.clone());
        let mut refs = vec![od_id.clone()];
        if ids {
            let ind_id = format!("indicator--{uuid}");
            let mut ind = self.indicator(&ind_id, a, labels, &obs.pattern, "stix", category, ts);
            ind.insert("x_misp_value".into(), json!(value));
            self.attribute_tags(a, &mut ind, false, ts, path);
            self.push(Value::Object(ind), path);
            self.rel(&ind_id, "based-on", &od_id, ts);
            refs.push(ind_id);
        }
        self.sightings(super::list(a.get("Sighting")), &refs, path);
    }

    /// Tags and (when `galaxies`) embedded galaxies of an attribute onto a STIX object.
    pub(super) fn attribute_tags(
        &mut self,
        a: &Map<String, Value>,
        obj: &mut Map<String, Value>,
        galaxies: bool,
        ts: Instant,
        path: &str,
    ) {
        let mut skip = std::collections::HashSet::new();
        if galaxies {
            let source = id_of(obj);
            let source_type = source.split("--").next().unwrap_or("").to_owned();
            for (i, g) in super::list(a.get("Galaxy")).iter().enumerate() {
                let targets = self.galaxy(g, ts, &format!("{path}/Galaxy/{i}"));
                for t in targets {
                    let ttype = t.split("--").next().unwrap_or("");
                    let rtype = super::galaxies::relationship_type(&source_type, ttype);
                    self.rel(&source, rtype, &t, ts);
                    self.add_ref(&t);
                }
                skip.extend(super::galaxies::cluster_tag_names(g));
            }
        }
        let tags: Vec<String> = super::list(a.get("Tag"))
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .filter(|n| !skip.contains(*n))
            .map(str::to_owned)
            .collect();
        let t = self.tagging(tags.iter().map(String::as_str));
        Self::apply_tagging(obj, &t);
    }
}

/// Whether a value fits the SCO property it would fill, so that what we emit is valid STIX
/// (the OASIS validator checks these formats); a value that does not fit makes the element a
/// custom `x-misp-*` object instead.
pub(crate) fn fits(kind: &str, v: &str) -> bool {
    let hex = |n: usize| v.len() == n && v.bytes().all(|b| b.is_ascii_hexdigit());
    match kind {
        // One strict parser for addresses and networks (`basics::net`).
        "ipv4-addr" => basics::net::Net::parse(v).is_ok_and(|n| !n.is_v6()),
        "ipv6-addr" => basics::net::Net::parse(v).is_ok_and(|n| n.is_v6()),
        "ip" => fits("ipv4-addr", v) || fits("ipv6-addr", v),
        "domain-name" => {
            !v.is_empty()
                && !v.starts_with('.')
                && v.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'))
        }
        "email-addr" => match v.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !local.chars().any(|c| {
                        c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '@' | ',')
                    })
                    && fits("domain-name", domain)
            }
            None => false,
        },
        "url" => {
            !v.chars().any(char::is_whitespace)
                && v.split_once(':').is_some_and(|(scheme, _)| {
                    !scheme.is_empty()
                        && scheme
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic())
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                })
        }
        "mac-addr" => {
            let l = v.to_ascii_lowercase();
            l.len() == 17
                && l.split(':').count() == 6
                && l.split(':')
                    .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        "base64" => {
            !v.is_empty()
                && v.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r')
                })
        }
        "MD5" => hex(32),
        "SHA-1" => hex(40),
        "SHA-224" | "SHA3-224" => hex(56),
        "SHA-256" | "SHA3-256" => hex(64),
        "SHA-384" | "SHA3-384" => hex(96),
        "SHA-512" | "SHA3-512" => hex(128),
        _ => !v.is_empty(),
    }
}

/// A registry key with its hive written out: STIX 2.1 does not allow `HKLM`-style abbreviations.
pub(crate) fn full_hive(key: &str) -> String {
    for (short, long) in [
        ("HKLM", "HKEY_LOCAL_MACHINE"),
        ("HKCU", "HKEY_CURRENT_USER"),
        ("HKCR", "HKEY_CLASSES_ROOT"),
        ("HKCC", "HKEY_CURRENT_CONFIG"),
        ("HKU", "HKEY_USERS"),
    ] {
        let lower = key.to_ascii_lowercase();
        let s = short.to_ascii_lowercase();
        if lower == s || lower.starts_with(&format!("{s}\\")) || lower.starts_with(&format!("{s}/"))
        {
            return format!("{long}{}", &key[short.len()..]);
        }
    }
    key.to_owned()
}

/// Whether every property of SCOs an observable attribute produced fits its format.
fn scos_fit(scos: &[Map<String, Value>]) -> Result<(), String> {
    for o in scos {
        let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
        for (k, v) in o {
            let Some(text) = v.as_str() else {
                if k == "hashes"
                    && let Some(h) = v.as_object()
                {
                    for (alg, hv) in h {
                        let hv = hv.as_str().unwrap_or("");
                        if !fits(alg, hv) {
                            return Err(format!("{hv:?} is not a valid {alg} hash"));
                        }
                    }
                }
                continue;
            };
            let kind = match (ty, k.as_str()) {
                (
                    "ipv4-addr" | "ipv6-addr" | "domain-name" | "email-addr" | "url" | "mac-addr",
                    "value",
                ) => ty,
                ("artifact", "payload_bin") => "base64",
                _ => continue,
            };
            if !fits(kind, text) {
                return Err(format!("{text:?} is not a valid {ty} {k}"));
            }
        }
    }
    Ok(())
}

pub(crate) fn scos_fit_pub(scos: &[Map<String, Value>]) -> Result<(), String> {
    scos_fit(scos)
}
