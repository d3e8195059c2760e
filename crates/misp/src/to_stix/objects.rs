//! MISP objects: the templates STIX has a counterpart for (file, email, domain-ip, credential,
//! url, ip-port, asn, mutex, registry-key, user-account, network-connection, x509 as observables;
//! attack-pattern, course-of-action, vulnerability as SDOs), `x-misp-object` for the rest, and
//! object references as relationships.

use serde_json::{Map, Value, json};

use super::attributes::{hash_name, hash_segment, ip_type};
use super::{Converter, PendingRel, Target, pat, s, sanitise_key, to_ids, value_text};
use crate::error::Level;
use crate::time::{Instant, parse_iso};

struct Attr {
    rel: String,
    value: String,
    to_ids: bool,
    uuid: String,
    data: Option<String>,
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

/// Unmapped object attributes as `x_misp_<relation>` properties (a list when repeated) and,
/// for those flagged `to_ids`, pattern comparisons.
fn custom_props(
    obj: &mut Map<String, Value>,
    prefix: &str,
    rest: &[&Attr],
    pattern: &mut Vec<String>,
) {
    let mut order: Vec<String> = Vec::new();
    let mut vals: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for a in rest {
        let key = format!("x_misp_{}", sanitise_key(&a.rel));
        if !vals.contains_key(&key) {
            order.push(key.clone());
        }
        vals.entry(key.clone()).or_default().push(json!(a.value));
        if a.to_ids {
            pattern.push(format!("{prefix}:{key} = '{}'", pat(&a.value)));
        }
    }
    for key in order {
        let mut v = vals.remove(&key).unwrap_or_default();
        let value = if v.len() == 1 {
            v.remove(0)
        } else {
            Value::Array(v)
        };
        obj.insert(key, value);
    }
}

/// A MISP object's attributes as MISP had them (type, object relation, value, category, comment,
/// uuid, data, IDS flag): the `x_misp_attributes` of an `x-misp-object`, and (`carried`: only
/// attributes with a relation and a value, the value as text) the `x_misp_object_attributes` of
/// the STIX object a mapped template becomes, so that the object comes back with every
/// attribute, relation and type in a MISP feed (`crate::to_misp`).
fn misp_attributes(o: &Map<String, Value>, carried: bool) -> Vec<Value> {
    super::list(o.get("Attribute"))
        .iter()
        .filter_map(Value::as_object)
        .filter(|a| !carried || (s(a, "object_relation").is_some() && value_text(a).is_some()))
        .map(|a| {
            let mut m = Map::new();
            for k in [
                "type",
                "object_relation",
                "value",
                "category",
                "comment",
                "uuid",
                "data",
            ] {
                if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                    m.insert(k.into(), v.clone());
                }
            }
            // MISP writes booleans as 0 and 1; a feed holds every value as text.
            let value = match a.get("value") {
                Some(Value::Bool(b)) => Some(if *b { "1" } else { "0" }.to_owned()),
                _ => value_text(a),
            };
            if let Some(v) = value {
                m.insert("value".into(), json!(v));
            }
            // An attribute without a type (MISP requires one) is kept as text.
            if !m.contains_key("type") {
                m.insert("type".into(), json!("text"));
            }
            if to_ids(a) {
                m.insert("to_ids".into(), json!(true));
            }
            Value::Object(m)
        })
        .collect()
}

fn int(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

type Observable = (Vec<Map<String, Value>>, Vec<String>);

impl Converter {
    pub(super) fn event_objects(&mut self, objs: &[Value], path: &str) {
        // Register every object's STIX id first, so references between objects resolve.
        for o in objs {
            if let (Some(u), Some(n)) = (
                o.get("uuid").and_then(Value::as_str),
                o.get("name").and_then(Value::as_str),
            ) {
                let ty = match n {
                    "attack-pattern" => "attack-pattern",
                    "course-of-action" => "course-of-action",
                    "vulnerability" => "vulnerability",
                    n if Self::observable_template(n) => "observed-data",
                    _ => "x-misp-object",
                };
                self.uuid_ids
                    .entry(u.to_owned())
                    .or_insert_with(|| format!("{ty}--{u}"));
            }
        }
        for (i, o) in objs.iter().enumerate() {
            self.object(o, &format!("{path}/{i}"));
        }
    }

    fn observable_template(name: &str) -> bool {
        matches!(
            name,
            "file"
                | "email"
                | "domain-ip"
                | "credential"
                | "url"
                | "ip-port"
                | "asn"
                | "mutex"
                | "registry-key"
                | "user-account"
                | "network-connection"
                | "x509"
        )
    }

    fn object(&mut self, o: &Value, path: &str) {
        let Some(o) = o.as_object() else {
            self.diag(Level::Error, path, "object is not a JSON object; left out");
            return;
        };
        let (Some(name), Some(uuid)) = (s(o, "name"), s(o, "uuid")) else {
            self.diag(Level::Error, path, "object without name or uuid; left out");
            return;
        };
        if uuid::Uuid::parse_str(uuid).is_err() {
            self.diag(Level::Error, path, "object uuid is not a uuid; left out");
            return;
        }
        let (name, uuid) = (name.to_owned(), uuid.to_owned());
        let ts = self.ts_of(o);
        let mut attrs = Vec::new();
        for (i, a) in super::list(o.get("Attribute")).iter().enumerate() {
            let Some(am) = a.as_object() else {
                self.diag(
                    Level::Error,
                    &format!("{path}/Attribute/{i}"),
                    "object attribute is not an object; left out",
                );
                continue;
            };
            let (Some(rel), Some(value)) = (s(am, "object_relation"), value_text(am)) else {
                self.diag(
                    Level::Error,
                    &format!("{path}/Attribute/{i}"),
                    "object attribute without object_relation or value; left out",
                );
                continue;
            };
            if s(am, "type").is_none() {
                self.diag(
                    Level::Warning,
                    &format!("{path}/Attribute/{i}"),
                    "object attribute without type; kept as text",
                );
            }
            let au = s(am, "uuid").unwrap_or(&uuid).to_owned();
            attrs.push(Attr {
                rel: rel.to_owned(),
                value,
                to_ids: to_ids(am),
                uuid: au,
                data: s(am, "data").map(str::to_owned),
            });
        }
        let result = match name.as_str() {
            "file" => Some(Self::file(&uuid, &attrs)),
            "email" => Some(Self::email(&uuid, &attrs)),
            "domain-ip" => Some(Self::domain_ip(&attrs)),
            "credential" => Some(Self::simple(
                "user-account",
                &uuid,
                &attrs,
                &[("username", "user_id"), ("password", "credential")],
            )),
            "user-account" => Some(Self::simple(
                "user-account",
                &uuid,
                &attrs,
                &[
                    ("username", "account_login"),
                    ("user-id", "user_id"),
                    ("display-name", "display_name"),
                    ("account-type", "account_type"),
                    ("password", "credential"),
                ],
            )),
            "url" => Some(Self::simple("url", &uuid, &attrs, &[("url", "value")])),
            "mutex" => Some(Self::simple("mutex", &uuid, &attrs, &[("name", "name")])),
            "asn" => Some(Self::asn(&uuid, &attrs)),
            "registry-key" => Some(Self::registry_key(&uuid, &attrs)),
            "ip-port" | "network-connection" => Some(Self::network(&name, &uuid, &attrs)),
            "x509" => Some(Self::x509(&uuid, &attrs)),
            _ => None,
        }
        .map(|r| {
            r.and_then(|(scos, p)| {
                super::attributes::scos_fit_pub(&scos)?;
                Ok((scos, p))
            })
        });
        let sdo = matches!(
            name.as_str(),
            "attack-pattern" | "course-of-action" | "vulnerability"
        );
        let main_id = match (result, sdo) {
            (Some(Ok(obs)), _) => self.observable_object(o, &uuid, obs, ts, path),
            (Some(Err(why)), _) => {
                self.diag(
                    Level::Warning,
                    path,
                    &format!("{name} object: {why}; converted to x-misp-object"),
                );
                self.custom_object(o, &uuid, ts, path)
            }
            (None, true) => self.sdo_object(o, &name, &uuid, &attrs, ts, path),
            (None, false) => {
                self.diag(
                    Level::Warning,
                    path,
                    &format!("MISP object template {name:?} has no STIX 2.1 counterpart here; converted to x-misp-object"),
                );
                self.custom_object(o, &uuid, ts, path)
            }
        };
        self.uuid_ids.insert(uuid.clone(), main_id.clone());
        for (i, r) in super::list(o.get("ObjectReference")).iter().enumerate() {
            let p = format!("{path}/ObjectReference/{i}");
            let (Some(target), Some(rtype)) = (
                r.get("referenced_uuid").and_then(Value::as_str),
                r.get("relationship_type").and_then(Value::as_str),
            ) else {
                self.diag(
                    Level::Warning,
                    &p,
                    "object reference without referenced_uuid or relationship_type; left out",
                );
                continue;
            };
            let id = r
                .get("uuid")
                .and_then(Value::as_str)
                .filter(|u| uuid::Uuid::parse_str(u).is_ok())
                .map(|u| format!("relationship--{u}"));
            self.rels.push(PendingRel {
                id,
                source: main_id.clone(),
                rtype: rtype.to_owned(),
                target: Target::MispUuid(target.to_owned()),
                ts,
                path: p,
            });
        }
    }

    fn object_tags(
        &mut self,
        o: &Map<String, Value>,
        obj: &mut Map<String, Value>,
        ts: Instant,
        path: &str,
    ) {
        let mut merged = Map::new();
        let mut tags = Vec::new();
        let mut galaxies = Vec::new();
        for a in super::list(o.get("Attribute")) {
            tags.extend(super::list(a.get("Tag")).iter().cloned());
            galaxies.extend(super::list(a.get("Galaxy")).iter().cloned());
        }
        tags.extend(super::list(o.get("Tag")).iter().cloned());
        merged.insert("Tag".into(), Value::Array(tags));
        merged.insert("Galaxy".into(), Value::Array(galaxies));
        self.attribute_tags(&merged, obj, true, ts, path);
    }

    fn observable_object(
        &mut self,
        o: &Map<String, Value>,
        uuid: &str,
        (scos, pattern): Observable,
        ts: Instant,
        path: &str,
    ) -> String {
        let od_id = format!("observed-data--{uuid}");
        let refs: Vec<String> = scos.iter().map(id_of).collect();
        let labels = Self::labels_for_object(o);
        let mut od = self.observed_data(&od_id, o, labels.clone(), &refs, ts);
        od.insert(
            "x_misp_object_attributes".into(),
            Value::Array(misp_attributes(o, true)),
        );
        self.object_tags(o, &mut od, ts, path);
        self.push(Value::Object(od), path);
        for sco in scos {
            self.push(Value::Object(sco), path);
        }
        let mut refs = vec![od_id.clone()];
        if !pattern.is_empty() {
            let ind_id = format!("indicator--{uuid}");
            let phase = s(o, "meta-category").unwrap_or("misc").to_owned();
            let p = format!("[{}]", pattern.join(" AND "));
            let ind = self.indicator(&ind_id, o, labels, &p, "stix", &phase, ts);
            self.push(Value::Object(ind), path);
            self.rel(&ind_id, "based-on", &od_id, ts);
            refs.push(ind_id);
        }
        let sightings: Vec<Value> = super::list(o.get("Attribute"))
            .iter()
            .flat_map(|a| super::list(a.get("Sighting")).iter().cloned())
            .collect();
        self.sightings(&sightings, &refs, path);
        od_id
    }

    fn custom_object(
        &mut self,
        o: &Map<String, Value>,
        uuid: &str,
        ts: Instant,
        path: &str,
    ) -> String {
        let id = format!("x-misp-object--{uuid}");
        let mut obj = self.sdo_base("x-misp-object", &id, ts);
        obj.insert("labels".into(), json!(Self::labels_for_object(o)));
        obj.insert(
            "x_misp_attributes".into(),
            Value::Array(misp_attributes(o, false)),
        );
        if let Some(c) = s(o, "comment") {
            obj.insert("x_misp_comment".into(), json!(c));
        }
        obj.insert(
            "x_misp_meta_category".into(),
            json!(s(o, "meta-category").unwrap_or("misc")),
        );
        obj.insert("x_misp_name".into(), json!(s(o, "name").unwrap_or("")));
        self.object_tags(o, &mut obj, ts, path);
        self.push(Value::Object(obj), path);
        let sightings: Vec<Value> = super::list(o.get("Attribute"))
            .iter()
            .flat_map(|a| super::list(a.get("Sighting")).iter().cloned())
            .collect();
        self.sightings(&sightings, std::slice::from_ref(&id), path);
        id
    }

    fn sdo_object(
        &mut self,
        o: &Map<String, Value>,
        name: &str,
        uuid: &str,
        attrs: &[Attr],
        ts: Instant,
        path: &str,
    ) -> String {
        let id = format!("{name}--{uuid}");
        let mut obj = self.sdo_base(name, &id, ts);
        let mut rest: Vec<&Attr> = Vec::new();
        let mut ext: Vec<Value> = Vec::new();
        for a in attrs {
            match (name, a.rel.as_str()) {
                ("attack-pattern", "name") | ("course-of-action", "name") => {
                    obj.insert("name".into(), json!(a.value));
                }
                ("attack-pattern", "summary")
                | ("course-of-action", "description")
                | ("vulnerability", "summary" | "description") => {
                    obj.insert("description".into(), json!(a.value));
                }
                ("attack-pattern", "id") => {
                    let v = if a.value.starts_with("CAPEC-") {
                        a.value.clone()
                    } else {
                        format!("CAPEC-{}", a.value)
                    };
                    ext.push(json!({"source_name": "capec", "external_id": v}));
                }
                ("vulnerability", "id") => {
                    obj.insert("name".into(), json!(a.value));
                    let source = if a.value.starts_with("CWE-") {
                        "cwe"
                    } else {
                        "cve"
                    };
                    ext.push(json!({"source_name": source, "external_id": a.value}));
                }
                ("vulnerability", "references") => {
                    ext.push(json!({"source_name": "url", "url": a.value}));
                }
                _ => rest.push(a),
            }
        }
        if !obj.contains_key("name") {
            obj.insert("name".into(), json!(s(o, "name").unwrap_or(name)));
        }
        if name == "attack-pattern" {
            obj.insert(
                "kill_chain_phases".into(),
                json!([{"kill_chain_name": "misp-category", "phase_name": s(o, "meta-category").unwrap_or("misc")}]),
            );
        }
        obj.insert("labels".into(), json!(Self::labels_for_object(o)));
        if !ext.is_empty() {
            obj.insert("external_references".into(), json!(ext));
        }
        custom_props(&mut obj, name, &rest, &mut Vec::new());
        obj.insert(
            "x_misp_object_attributes".into(),
            Value::Array(misp_attributes(o, true)),
        );
        self.object_tags(o, &mut obj, ts, path);
        self.push(Value::Object(obj), path);
        id
    }

    // ------------------------------------------------------------ observable templates

    fn simple(
        ty: &str,
        uuid: &str,
        attrs: &[Attr],
        map: &[(&str, &str)],
    ) -> Result<Observable, String> {
        let mut obj = sco(ty, uuid);
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            match map.iter().find(|(r, _)| *r == a.rel) {
                Some((_, prop)) if !obj.contains_key(*prop) => {
                    obj.insert((*prop).into(), json!(a.value));
                    if a.to_ids {
                        pattern.push(format!("{ty}:{prop} = '{}'", pat(&a.value)));
                    }
                }
                _ => rest.push(a),
            }
        }
        if let Some((_, first)) = map.first()
            && ty != "user-account"
            && !obj.contains_key(*first)
        {
            return Err(format!("no {} attribute", map[0].0));
        }
        custom_props(&mut obj, ty, &rest, &mut pattern);
        Ok((vec![obj], pattern))
    }

    fn file(uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut file = sco("file", uuid);
        let mut hashes = Map::new();
        let mut hash_pattern = Vec::new();
        let mut pattern = Vec::new();
        let mut extra = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            if let Some(h) = hash_name(&a.rel)
                && !hashes.contains_key(h)
            {
                hashes.insert(h.into(), json!(a.value));
                if a.to_ids {
                    hash_pattern.push(format!(
                        "file:hashes.{} = '{}'",
                        hash_segment(h),
                        pat(&a.value)
                    ));
                }
                continue;
            }
            let prop = match a.rel.as_str() {
                "filename" => "name",
                "file-encoding" => "name_enc",
                "mime-type" => "mime_type",
                "size-in-bytes" => "size",
                "path" => {
                    let mut dir = sco("directory", &a.uuid);
                    dir.insert("path".into(), json!(a.value));
                    if !file.contains_key("parent_directory_ref") {
                        file.insert("parent_directory_ref".into(), json!(id_of(&dir)));
                        if a.to_ids {
                            pattern.push(format!(
                                "file:parent_directory_ref.path = '{}'",
                                pat(&a.value)
                            ));
                        }
                        extra.push(dir);
                        continue;
                    }
                    rest.push(a);
                    continue;
                }
                "malware-sample" | "attachment"
                    if a.data.is_some() && !file.contains_key("content_ref") =>
                {
                    let mut art = sco("artifact", &a.uuid);
                    art.insert("payload_bin".into(), json!(a.data));
                    if a.rel == "malware-sample" {
                        art.insert("mime_type".into(), json!("application/zip"));
                        art.insert("encryption_algorithm".into(), json!("mime-type-indicated"));
                        art.insert("decryption_key".into(), json!("infected"));
                    }
                    art.insert("x_misp_filename".into(), json!(a.value));
                    file.insert("content_ref".into(), json!(id_of(&art)));
                    extra.push(art);
                    continue;
                }
                _ => {
                    rest.push(a);
                    continue;
                }
            };
            if file.contains_key(prop) {
                rest.push(a);
                continue;
            }
            if prop == "size" {
                match int(&a.value) {
                    Some(n) => {
                        file.insert("size".into(), json!(n));
                    }
                    None => {
                        rest.push(a);
                        continue;
                    }
                }
            } else {
                file.insert(prop.into(), json!(a.value));
            }
            if a.to_ids {
                pattern.push(format!("file:{prop} = '{}'", pat(&a.value)));
            }
        }
        if !hashes.is_empty() {
            file.insert("hashes".into(), Value::Object(hashes));
        }
        custom_props(&mut file, "file", &rest, &mut pattern);
        hash_pattern.extend(pattern);
        let mut scos = vec![file];
        scos.extend(extra);
        Ok((scos, hash_pattern))
    }

    fn email(uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut msg = sco("email-message", uuid);
        msg.insert("is_multipart".into(), json!(false));
        let mut addrs = Vec::new();
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        let mut headers = Map::new();
        for a in attrs {
            let v = pat(&a.value);
            match a.rel.as_str() {
                "from" | "to" | "cc" | "bcc" => {
                    let mut addr = sco("email-addr", &a.uuid);
                    addr.insert("value".into(), json!(a.value));
                    let aid = id_of(&addr);
                    if a.rel == "from" {
                        if msg.contains_key("from_ref") {
                            rest.push(a);
                            continue;
                        }
                        msg.insert("from_ref".into(), json!(aid));
                        if a.to_ids {
                            pattern.push(format!("email-message:from_ref.value = '{v}'"));
                        }
                    } else {
                        let key = format!("{}_refs", a.rel);
                        let entry = msg.entry(key.clone()).or_insert_with(|| json!([]));
                        if let Value::Array(l) = entry {
                            l.push(json!(aid));
                        }
                        if a.to_ids {
                            pattern.push(format!("email-message:{key}[*].value = '{v}'"));
                        }
                    }
                    addrs.push(addr);
                }
                "subject" | "message-id" | "email-body" | "send-date"
                    if !msg.contains_key(Self::email_prop(&a.rel)) =>
                {
                    let prop = Self::email_prop(&a.rel);
                    if prop == "date" {
                        match parse_iso(&a.value) {
                            Some(t) => {
                                msg.insert("date".into(), json!(t.stix_seconds()));
                            }
                            None => {
                                rest.push(a);
                                continue;
                            }
                        }
                    } else {
                        msg.insert(prop.into(), json!(a.value));
                    }
                    if a.to_ids {
                        pattern.push(format!("email-message:{prop} = '{v}'"));
                    }
                }
                "reply-to" | "x-mailer" => {
                    let (h, p) = if a.rel == "reply-to" {
                        ("Reply-To", "reply_to")
                    } else {
                        ("X-Mailer", "x_mailer")
                    };
                    headers.insert(h.into(), json!(a.value));
                    if a.to_ids {
                        pattern.push(format!(
                            "email-message:additional_header_fields.{p} = '{v}'"
                        ));
                    }
                }
                _ => rest.push(a),
            }
        }
        if !headers.is_empty() {
            msg.insert("additional_header_fields".into(), Value::Object(headers));
        }
        custom_props(&mut msg, "email-message", &rest, &mut pattern);
        let mut scos = vec![msg];
        scos.extend(addrs);
        Ok((scos, pattern))
    }

    fn email_prop(rel: &str) -> &'static str {
        match rel {
            "subject" => "subject",
            "message-id" => "message_id",
            "email-body" => "body",
            _ => "date",
        }
    }

    fn domain_ip(attrs: &[Attr]) -> Result<Observable, String> {
        let mut ips = Vec::new();
        let mut domains = Vec::new();
        let mut ip_pattern = Vec::new();
        let mut dom_pattern = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            match a.rel.as_str() {
                "ip" => {
                    let mut ip = sco(ip_type(&a.value), &a.uuid);
                    ip.insert("value".into(), json!(a.value));
                    if a.to_ids {
                        ip_pattern.push(format!(
                            "domain-name:resolves_to_refs[*].value = '{}'",
                            pat(&a.value)
                        ));
                    }
                    ips.push(ip);
                }
                "domain" | "hostname" => {
                    let mut d = sco("domain-name", &a.uuid);
                    d.insert("value".into(), json!(a.value));
                    if a.to_ids {
                        dom_pattern.push(format!("domain-name:value = '{}'", pat(&a.value)));
                    }
                    domains.push(d);
                }
                _ => rest.push(a),
            }
        }
        if domains.is_empty() {
            return Err("no domain or hostname attribute".into());
        }
        let ip_ids: Vec<String> = ips.iter().map(id_of).collect();
        let mut pattern = dom_pattern;
        pattern.extend(ip_pattern);
        for d in &mut domains {
            if !ip_ids.is_empty() {
                d.insert("resolves_to_refs".into(), json!(ip_ids));
            }
        }
        if let Some(first) = domains.first_mut() {
            custom_props(first, "domain-name", &rest, &mut pattern);
        }
        let mut scos = ips;
        scos.extend(domains);
        Ok((scos, pattern))
    }

    fn asn(uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut asn = sco("autonomous-system", uuid);
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            match a.rel.as_str() {
                "asn" if !asn.contains_key("number") => {
                    let digits: String = a.value.chars().filter(char::is_ascii_digit).collect();
                    let Ok(n) = digits.parse::<u64>() else {
                        return Err(format!("{:?} is not an AS number", a.value));
                    };
                    asn.insert("number".into(), json!(n));
                    if a.to_ids {
                        pattern.push(format!("autonomous-system:number = '{n}'"));
                    }
                }
                "description" if !asn.contains_key("name") => {
                    asn.insert("name".into(), json!(a.value));
                    if a.to_ids {
                        pattern.push(format!("autonomous-system:name = '{}'", pat(&a.value)));
                    }
                }
                _ => rest.push(a),
            }
        }
        if !asn.contains_key("number") {
            return Err("no asn attribute".into());
        }
        custom_props(&mut asn, "autonomous-system", &rest, &mut pattern);
        Ok((vec![asn], pattern))
    }

    fn registry_key(uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut key = sco("windows-registry-key", uuid);
        let mut value = Map::new();
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            let v = pat(&a.value);
            match a.rel.as_str() {
                "key" if !key.contains_key("key") => {
                    let full = super::attributes::full_hive(&a.value);
                    if a.to_ids {
                        pattern.push(format!("windows-registry-key:key = '{}'", pat(&full)));
                    }
                    key.insert("key".into(), json!(full));
                }
                "last-modified" if !key.contains_key("modified_time") => {
                    match parse_iso(&a.value) {
                        Some(t) => {
                            key.insert("modified_time".into(), json!(t.stix_seconds()));
                        }
                        None => rest.push(a),
                    }
                }
                r @ ("name" | "data" | "data-type") => {
                    let prop = if r == "data-type" { "data_type" } else { r };
                    value.insert(prop.into(), json!(a.value));
                    if a.to_ids {
                        pattern.push(format!("windows-registry-key:values[0].{prop} = '{v}'"));
                    }
                }
                _ => rest.push(a),
            }
        }
        if !key.contains_key("key") {
            return Err("no key attribute".into());
        }
        if !value.is_empty() {
            key.insert("values".into(), json!([value]));
        }
        custom_props(&mut key, "windows-registry-key", &rest, &mut pattern);
        Ok((vec![key], pattern))
    }

    fn network(name: &str, uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut nt = sco("network-traffic", uuid);
        let mut ips = Vec::new();
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        let mut protocols: Vec<String> = Vec::new();
        for a in attrs {
            let v = pat(&a.value);
            match a.rel.as_str() {
                r @ ("ip" | "ip-dst" | "ip-src") => {
                    let side = if r == "ip-src" { "src" } else { "dst" };
                    let key = format!("{side}_ref");
                    if nt.contains_key(&key) {
                        rest.push(a);
                        continue;
                    }
                    let it = ip_type(&a.value);
                    let mut ip = sco(it, &a.uuid);
                    ip.insert("value".into(), json!(a.value));
                    nt.insert(key, json!(id_of(&ip)));
                    if a.to_ids {
                        pattern.push(format!(
                            "(network-traffic:{side}_ref.type = '{it}' AND network-traffic:{side}_ref.value = '{v}')"
                        ));
                    }
                    ips.push(ip);
                }
                r @ ("dst-port" | "src-port") => {
                    let prop = if r == "dst-port" {
                        "dst_port"
                    } else {
                        "src_port"
                    };
                    match int(&a.value).filter(|p| *p <= 65_535) {
                        Some(p) if !nt.contains_key(prop) => {
                            nt.insert(prop.into(), json!(p));
                            if a.to_ids {
                                pattern.push(format!("network-traffic:{prop} = '{p}'"));
                            }
                        }
                        _ => rest.push(a),
                    }
                }
                "first-seen" | "first-packet-seen" if !nt.contains_key("start") => {
                    match parse_iso(&a.value) {
                        Some(t) => {
                            nt.insert("start".into(), json!(t.stix_seconds()));
                        }
                        None => rest.push(a),
                    }
                }
                "last-seen" if !nt.contains_key("end") => match parse_iso(&a.value) {
                    Some(t) => {
                        nt.insert("end".into(), json!(t.stix_seconds()));
                    }
                    None => rest.push(a),
                },
                "protocol" | "layer3-protocol" | "layer4-protocol" | "layer7-protocol" => {
                    let p = a.value.to_ascii_lowercase();
                    if !protocols.contains(&p) {
                        protocols.push(p);
                    }
                }
                "domain" | "hostname" | "hostname-dst" if name == "ip-port" && a.to_ids => {
                    pattern.push(format!(
                        "(network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = '{v}')"
                    ));
                    rest.push(a);
                }
                _ => rest.push(a),
            }
        }
        if protocols.is_empty() {
            protocols.push("tcp".into());
        }
        nt.insert("protocols".into(), json!(protocols));
        if !nt.contains_key("src_ref") && !nt.contains_key("dst_ref") {
            return Err("no source or destination address".into());
        }
        let mut custom_pattern = Vec::new();
        custom_props(&mut nt, "network-traffic", &rest, &mut custom_pattern);
        pattern.extend(custom_pattern.into_iter().filter(|p| {
            !p.starts_with("network-traffic:x_misp_domain ")
                && !p.starts_with("network-traffic:x_misp_hostname ")
        }));
        let mut scos = vec![nt];
        scos.extend(ips);
        Ok((scos, pattern))
    }

    fn x509(uuid: &str, attrs: &[Attr]) -> Result<Observable, String> {
        let mut cert = sco("x509-certificate", uuid);
        let mut hashes = Map::new();
        let mut pattern = Vec::new();
        let mut rest = Vec::new();
        for a in attrs {
            let v = pat(&a.value);
            let h = match a.rel.as_str() {
                "x509-fingerprint-md5" => Some("MD5"),
                "x509-fingerprint-sha1" => Some("SHA-1"),
                "x509-fingerprint-sha256" => Some("SHA-256"),
                _ => None,
            };
            if let Some(h) = h {
                hashes.insert(h.into(), json!(a.value));
                if a.to_ids {
                    pattern.push(format!(
                        "x509-certificate:hashes.{} = '{v}'",
                        hash_segment(h)
                    ));
                }
                continue;
            }
            let prop = match a.rel.as_str() {
                "issuer" => "issuer",
                "subject" => "subject",
                "serial-number" => "serial_number",
                "version" => "version",
                "pubkey-info-algorithm" => "subject_public_key_algorithm",
                "pubkey-info-modulus" => "subject_public_key_modulus",
                "validity-not-before" | "validity-not-after" => {
                    let prop = if a.rel == "validity-not-before" {
                        "validity_not_before"
                    } else {
                        "validity_not_after"
                    };
                    match parse_iso(&a.value) {
                        Some(t) if !cert.contains_key(prop) => {
                            cert.insert(prop.into(), json!(t.stix_seconds()));
                            if a.to_ids {
                                pattern.push(format!(
                                    "x509-certificate:{prop} = '{}'",
                                    t.stix_seconds()
                                ));
                            }
                        }
                        _ => rest.push(a),
                    }
                    continue;
                }
                _ => {
                    rest.push(a);
                    continue;
                }
            };
            if cert.contains_key(prop) {
                rest.push(a);
                continue;
            }
            cert.insert(prop.into(), json!(a.value));
            if a.to_ids {
                pattern.push(format!("x509-certificate:{prop} = '{v}'"));
            }
        }
        if !hashes.is_empty() {
            cert.insert("hashes".into(), Value::Object(hashes));
        }
        custom_props(&mut cert, "x509-certificate", &rest, &mut pattern);
        Ok((vec![cert], pattern))
    }
}
