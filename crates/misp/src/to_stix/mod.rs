//! MISP JSON to STIX 2.1, following misp-stix's mapping.
//!
//! Ids: every STIX object made from a MISP element takes the element's uuid (`indicator--<attribute
//! uuid>`); relationships without a MISP uuid get misp-stix's uuid5 of
//! `"<source> - <type> - <target>"`. Timestamps come from the MISP element, else its event, else
//! [`ConvertOptions::now`].

mod attributes;
pub(crate) use attributes::full_hive;
mod galaxies;
mod objects;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use stix::tlp::TlpLevel;

use crate::error::{Diagnostic, Level, MispError, parse_json};
use crate::time::{Instant, parse_epoch, parse_iso};
use crate::types::TYPE_DEFAULTS;

/// How to convert.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// The timestamp given to objects whose MISP element carries none and has no event (a bare
    /// attribute collection without timestamps). The caller reads the clock; this crate never does.
    pub now: Instant,
    /// Map the TLP 1.0 tags `tlp:white|green|amber|red` to TLP 2.0 markings (`white` → CLEAR)
    /// instead of the TLP 1.0 marking definitions misp-stix uses for them. `tlp:clear` and
    /// `tlp:amber+strict` are TLP 2.0 either way.
    pub tlp2_for_tlp1_tags: bool,
}

impl ConvertOptions {
    /// Options with `now` as the fallback timestamp and misp-stix's TLP mapping.
    pub fn new(now: Instant) -> ConvertOptions {
        ConvertOptions {
            now,
            tlp2_for_tlp1_tags: false,
        }
    }
}

/// The result: STIX objects in misp-stix's order, and what could not be converted exactly.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// STIX 2.1 objects (SDOs, SCOs, SROs, marking definitions).
    pub objects: Vec<Value>,
    /// Problems with parts of the input; an error diagnostic means something was left out.
    pub diagnostics: Vec<Diagnostic>,
}

impl Conversion {
    /// The objects in a bundle whose id is derived from the objects' ids (same input, same bundle).
    pub fn bundle(&self) -> Value {
        let mut ids: Vec<&str> = self
            .objects
            .iter()
            .filter_map(|o| o.get("id").and_then(Value::as_str))
            .collect();
        ids.sort_unstable();
        let id = uuid::Uuid::new_v5(&crate::MISP_UUID_NAMESPACE, ids.join(",").as_bytes());
        json!({"type": "bundle", "id": format!("bundle--{id}"), "objects": self.objects})
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// A MISP feed as read from its directory (or URL) by the caller.
#[derive(Debug, Clone)]
pub struct FeedInput<'a> {
    /// `manifest.json`: `{ "<event uuid>": {"info": ..., "timestamp": ..., ...}, ... }`.
    pub manifest: &'a [u8],
    /// The event files: (`<event uuid>.json`, contents). Only those the manifest lists are needed.
    pub events: Vec<(String, &'a [u8])>,
    /// `hashes.csv` when present (`<md5 of value>,<event uuid>` per line); checked, not needed.
    pub hashes_csv: Option<&'a [u8]>,
}

/// The event files a feed manifest lists (`<uuid>.json`), in manifest order, for the caller to read.
pub fn feed_event_files(manifest: &[u8]) -> Result<Vec<String>, MispError> {
    let v = parse_json("manifest.json", manifest)?;
    let Some(m) = v.as_object() else {
        return Err(MispError::Feed(
            "manifest.json is not a JSON object of events".into(),
        ));
    };
    let mut out = Vec::with_capacity(m.len());
    for key in m.keys() {
        if uuid::Uuid::parse_str(key).is_err() {
            return Err(MispError::Feed(format!(
                "manifest.json: key {key:?} is not an event uuid"
            )));
        }
        out.push(format!("{key}.json"));
    }
    Ok(out)
}

/// Converts MISP JSON bytes (any shape [`Converter::add_value`] accepts).
pub fn convert_bytes(bytes: &[u8], options: &ConvertOptions) -> Result<Conversion, MispError> {
    let mut c = Converter::new(options.clone());
    c.add_json("input", bytes)?;
    Ok(c.finish())
}

/// Converts one MISP JSON value.
pub fn convert_value(value: &Value, options: &ConvertOptions) -> Result<Conversion, MispError> {
    let mut c = Converter::new(options.clone());
    c.add_value("input", value)?;
    Ok(c.finish())
}

#[derive(Debug, Clone)]
enum Target {
    Id(String),
    MispUuid(String),
}

#[derive(Debug, Clone)]
struct PendingRel {
    id: Option<String>,
    source: String,
    rtype: String,
    target: Target,
    ts: Instant,
    path: String,
}

/// Tags of one MISP element, sorted out.
#[derive(Debug, Default)]
struct Tagging {
    markings: Vec<String>,
    labels: Vec<String>,
    confidence: Option<u64>,
}

/// Converts one or more MISP documents into one set of STIX objects.
///
/// Several inputs may be added (the golden tests of misp-stix convert two files into one bundle);
/// identities and galaxy clusters seen once are not repeated.
#[derive(Debug)]
pub struct Converter {
    opts: ConvertOptions,
    objects: Vec<Value>,
    emitted: HashMap<String, usize>,
    index: usize,
    clusters: HashMap<String, String>,
    markings: Vec<(String, bool)>,
    diags: Vec<Diagnostic>,
    // per event / collection
    event_mode: bool,
    object_refs: Vec<String>,
    rels: Vec<PendingRel>,
    created_by: Option<String>,
    event_ts: Option<Instant>,
    uuid_ids: HashMap<String, String>,
    identities: HashSet<String>,
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|v| !v.is_empty())
}

/// A MISP attribute value as text (MISP sometimes sends numbers).
fn value_text(m: &Map<String, Value>) -> Option<String> {
    match m.get("value")? {
        Value::String(v) => Some(v.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" => Some(true),
            "0" | "false" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The default category and IDS flag of a MISP attribute type.
pub(crate) fn type_defaults(ty: &str) -> Option<(&'static str, bool)> {
    TYPE_DEFAULTS
        .binary_search_by(|(t, ..)| t.as_bytes().cmp(ty.as_bytes()))
        .ok()
        .map(|i| (TYPE_DEFAULTS[i].1, TYPE_DEFAULTS[i].2))
}

fn to_ids(a: &Map<String, Value>) -> bool {
    if let Some(b) = a.get("to_ids").and_then(truthy) {
        return b;
    }
    s(a, "type")
        .and_then(type_defaults)
        .is_some_and(|(_, ids)| ids)
}

/// Escapes a value for a single-quoted STIX pattern string literal.
pub(crate) fn pat(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

fn list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A property name made safe for STIX (`a-z`, `0-9`, `_`).
pub(crate) fn sanitise_key(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Converter {
    /// A converter with nothing converted yet.
    pub fn new(opts: ConvertOptions) -> Converter {
        Converter {
            opts,
            objects: Vec::new(),
            emitted: HashMap::new(),
            index: 0,
            clusters: HashMap::new(),
            markings: Vec::new(),
            diags: Vec::new(),
            event_mode: false,
            object_refs: Vec::new(),
            rels: Vec::new(),
            created_by: None,
            event_ts: None,
            uuid_ids: HashMap::new(),
            identities: HashSet::new(),
        }
    }

    /// Parses and adds MISP JSON bytes; `what` names the input in errors and diagnostics.
    pub fn add_json(&mut self, what: &str, bytes: &[u8]) -> Result<(), MispError> {
        let v = parse_json(what, bytes)?;
        self.add_value(what, &v)
    }

    /// Adds a MISP document: `{"Event": …}`, a bare event, a list of events, `{"response": [...]}`
    /// (events or objects), `{"response": {"Attribute": [...]}}`, `{"Attribute": [...]}`,
    /// `{"Object": …}`, a list of objects or attributes, a single attribute.
    pub fn add_value(&mut self, what: &str, v: &Value) -> Result<(), MispError> {
        let not_misp = |m: &str| MispError::NotMisp {
            what: what.to_owned(),
            message: m.to_owned(),
        };
        match v {
            Value::Object(m) if m.contains_key("response") => match &m["response"] {
                Value::Array(items) => {
                    if !items.is_empty() && items.iter().all(|i| i.get("Object").is_some()) {
                        self.objects_collection(items, &format!("{what}:/response"));
                    } else {
                        for (i, item) in items.iter().enumerate() {
                            self.event(item, &format!("{what}:/response/{i}"));
                        }
                    }
                    Ok(())
                }
                Value::Object(r) if r.contains_key("Attribute") => {
                    self.attributes_collection(v.pointer("/response").unwrap_or(v), what);
                    Ok(())
                }
                _ => Err(not_misp(
                    "\"response\" holds neither a list of events/objects nor {\"Attribute\": [...]}",
                )),
            },
            Value::Object(m) if m.contains_key("Event") || m.contains_key("info") => {
                self.event(v, &format!("{what}:"));
                Ok(())
            }
            Value::Object(m) if m.contains_key("Attribute") => {
                if m["Attribute"].is_array() {
                    self.attributes_collection(v, what);
                } else {
                    self.attributes_collection(&json!({"Attribute": [v]}), what);
                }
                Ok(())
            }
            Value::Object(m) if m.contains_key("Object") => {
                self.objects_collection(std::slice::from_ref(v), &format!("{what}:"));
                Ok(())
            }
            Value::Object(m) if m.contains_key("type") && m.contains_key("value") => {
                self.attributes_collection(&json!({"Attribute": [v]}), what);
                Ok(())
            }
            Value::Array(items) if items.is_empty() => Err(not_misp("empty list")),
            Value::Array(items)
                if items
                    .iter()
                    .all(|i| i.get("Event").is_some() || i.get("info").is_some()) =>
            {
                for (i, item) in items.iter().enumerate() {
                    self.event(item, &format!("{what}:/{i}"));
                }
                Ok(())
            }
            Value::Array(items) if items.iter().all(|i| i.get("Object").is_some()) => {
                self.objects_collection(items, &format!("{what}:"));
                Ok(())
            }
            Value::Array(items)
                if items
                    .iter()
                    .all(|i| i.get("Attribute").is_some() || i.get("type").is_some()) =>
            {
                self.attributes_collection(&json!({"Attribute": items}), what);
                Ok(())
            }
            _ => Err(not_misp(
                "expected a MISP event ({\"Event\": …}), a REST response ({\"response\": …}), \
                 or a collection of attributes or objects",
            )),
        }
    }

    /// Adds a MISP feed: checks the manifest against the event files and converts every event.
    pub fn add_feed(&mut self, feed: &FeedInput<'_>) -> Result<(), MispError> {
        let listed = feed_event_files(feed.manifest)?;
        let by_name: HashMap<&str, &[u8]> =
            feed.events.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        for name in &by_name {
            if !listed.iter().any(|l| l == name.0) {
                self.diag(
                    Level::Warning,
                    name.0,
                    "event file not listed in manifest.json; converted anyway",
                );
            }
        }
        let mut known_uuids = HashSet::new();
        for name in &listed {
            known_uuids.insert(name.trim_end_matches(".json").to_owned());
            match by_name.get(name.as_str()) {
                Some(bytes) => self.add_json(name, bytes)?,
                None => {
                    return Err(MispError::Feed(format!(
                        "manifest.json lists {name}, which is missing"
                    )));
                }
            }
        }
        for (name, bytes) in &feed.events {
            if !listed.contains(name) {
                self.add_json(name, bytes)?;
            }
        }
        if let Some(csv) = feed.hashes_csv {
            let text = std::str::from_utf8(csv)
                .map_err(|_| MispError::Feed("hashes.csv is not UTF-8".into()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let mut parts = line.split(',');
                let (Some(hash), Some(event), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(MispError::Feed(format!(
                        "hashes.csv line {}: expected \"<md5>,<event uuid>\"",
                        n + 1
                    )));
                };
                if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(MispError::Feed(format!(
                        "hashes.csv line {}: {hash:?} is not an MD5 hex digest",
                        n + 1
                    )));
                }
                if !known_uuids.contains(event) {
                    self.diag(
                        Level::Warning,
                        &format!("hashes.csv:{}", n + 1),
                        &format!("event {event} is not in manifest.json"),
                    );
                }
            }
        }
        Ok(())
    }

    /// The converted objects and diagnostics.
    pub fn finish(mut self) -> Conversion {
        if !self.event_mode {
            self.flush_markings();
        }
        Conversion {
            objects: self.objects,
            diagnostics: self.diags,
        }
    }

    // ---------------------------------------------------------------- plumbing

    fn diag(&mut self, level: Level, path: &str, message: &str) {
        self.diags.push(Diagnostic {
            level,
            path: path.to_owned(),
            message: message.to_owned(),
        });
    }

    fn ts_of(&self, m: &Map<String, Value>) -> Instant {
        m.get("timestamp")
            .and_then(parse_epoch)
            .or(self.event_ts)
            .unwrap_or(self.opts.now)
    }

    /// Appends an object (and, in an event, references it from the report). A second object with
    /// an id already used is left out with a diagnostic (MISP uuids are not always unique).
    fn push(&mut self, obj: Value, path: &str) -> bool {
        self.push_inner(obj, path, true)
    }

    fn push_noref(&mut self, obj: Value, path: &str) -> bool {
        self.push_inner(obj, path, false)
    }

    fn push_inner(&mut self, obj: Value, path: &str, with_ref: bool) -> bool {
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(&i) = self.emitted.get(&id) {
            if self.objects.get(i) != Some(&obj) {
                self.diag(
                    Level::Error,
                    path,
                    &format!("{id} already converted from another MISP element with the same uuid; this one is left out"),
                );
            }
            return false;
        }
        self.emitted.insert(id.clone(), self.objects.len());
        self.objects.push(obj);
        if with_ref && self.event_mode {
            self.object_refs.push(id);
        }
        true
    }

    fn add_ref(&mut self, id: &str) {
        if self.event_mode && !self.object_refs.iter().any(|r| r == id) {
            self.object_refs.push(id.to_owned());
        }
    }

    fn rel(&mut self, source: &str, rtype: &str, target: &str, ts: Instant) {
        self.rels.push(PendingRel {
            id: None,
            source: source.to_owned(),
            rtype: rtype.to_owned(),
            target: Target::Id(target.to_owned()),
            ts,
            path: String::new(),
        });
    }

    fn flush_relationships(&mut self) {
        let rels = std::mem::take(&mut self.rels);
        for r in rels {
            let target = match r.target {
                Target::Id(t) => t,
                Target::MispUuid(u) => match self.uuid_ids.get(&u) {
                    Some(t) => t.clone(),
                    None => {
                        self.diag(
                            Level::Warning,
                            &r.path,
                            &format!(
                                "object reference to {u}, which is not in this event; left out"
                            ),
                        );
                        continue;
                    }
                },
            };
            let id = r.id.unwrap_or_else(|| {
                let name = format!("{} - {} - {}", r.source, r.rtype, target);
                let u = uuid::Uuid::new_v5(&crate::MISP_UUID_NAMESPACE, name.as_bytes());
                format!("relationship--{u}")
            });
            let obj = json!({
                "type": "relationship", "spec_version": "2.1", "id": id,
                "created": r.ts.stix_millis(), "modified": r.ts.stix_millis(),
                "relationship_type": r.rtype, "source_ref": r.source, "target_ref": target,
            });
            self.push(obj, &r.path);
        }
    }

    fn flush_markings(&mut self) {
        let pending: Vec<String> = self
            .markings
            .iter_mut()
            .filter(|(_, used)| !*used)
            .map(|(id, used)| {
                *used = true;
                id.clone()
            })
            .collect();
        for id in pending {
            if let Some(def) = marking_definition(&id) {
                self.push_noref(def, "");
            }
        }
    }

    fn identity(&mut self, uuid: &str, name: &str, ts: Instant, at_index: bool) -> String {
        let id = format!("identity--{uuid}");
        if self.identities.insert(id.clone()) {
            let obj = json!({
                "type": "identity", "spec_version": "2.1", "id": id,
                "created": ts.stix_millis(), "modified": ts.stix_millis(),
                "name": name, "identity_class": "organization",
            });
            if at_index && self.index <= self.objects.len() {
                self.objects.insert(self.index, obj);
                for v in self.emitted.values_mut() {
                    if *v >= self.index {
                        *v += 1;
                    }
                }
                self.emitted.insert(id.clone(), self.index);
                self.index += 1;
            } else {
                self.push_noref(obj, "");
            }
        }
        id
    }

    /// Sorts MISP tags into TLP markings, labels and a confidence.
    fn tagging<'t>(&mut self, tags: impl IntoIterator<Item = &'t str>) -> Tagging {
        let mut t = Tagging::default();
        for name in tags {
            if let Some(id) = self.tlp_marking(name) {
                if !t.markings.contains(&id) {
                    t.markings.push(id);
                }
                continue;
            }
            if let Some(level) = name
                .strip_prefix("misp:confidence-level=\"")
                .and_then(|r| r.strip_suffix('"'))
            {
                let c = match level {
                    "completely-confident" => Some(100),
                    "usually-confident" => Some(75),
                    "fairly-confident" => Some(50),
                    "rarely-confident" => Some(25),
                    "unconfident" => Some(0),
                    _ => None,
                };
                if c.is_some() {
                    t.confidence = c;
                }
            }
            t.labels.push(name.to_owned());
        }
        t
    }

    fn tlp_marking(&mut self, tag: &str) -> Option<String> {
        let rest = tag
            .strip_prefix("tlp:")
            .or_else(|| tag.strip_prefix("TLP:"))?;
        let lower = rest.to_ascii_lowercase();
        let id = match lower.as_str() {
            "white" | "green" | "amber" | "red" if !self.opts.tlp2_for_tlp1_tags => {
                match lower.as_str() {
                    "white" => stix::tlp::TLP1_WHITE,
                    "green" => stix::tlp::TLP1_GREEN,
                    "amber" => stix::tlp::TLP1_AMBER,
                    _ => stix::tlp::TLP1_RED,
                }
            }
            _ => TlpLevel::parse(&lower)?.marking_id(),
        };
        if !self.markings.iter().any(|(m, _)| m == id) {
            self.markings.push((id.to_owned(), false));
        }
        Some(id.to_owned())
    }

    fn apply_tagging(obj: &mut Map<String, Value>, t: &Tagging) {
        if !t.labels.is_empty() {
            let labels = obj
                .entry("labels")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = labels {
                a.extend(t.labels.iter().cloned().map(Value::String));
            }
        }
        if let Some(c) = t.confidence {
            obj.insert("confidence".into(), json!(c));
        }
        if !t.markings.is_empty() {
            obj.insert("object_marking_refs".into(), json!(t.markings));
        }
    }

    fn shared(&self, obj: &mut Map<String, Value>) {
        if let Some(cb) = &self.created_by {
            obj.insert("created_by_ref".into(), json!(cb));
        }
    }

    // ---------------------------------------------------------------- events

    fn event(&mut self, v: &Value, path: &str) {
        let (e, path) = match v.get("Event") {
            Some(e) => (e, format!("{path}/Event")),
            None => (v, path.to_owned()),
        };
        let Some(e) = e.as_object() else {
            self.diag(Level::Error, &path, "event is not a JSON object; left out");
            return;
        };
        let Some(event_uuid) = s(e, "uuid").filter(|u| uuid::Uuid::parse_str(u).is_ok()) else {
            self.diag(Level::Error, &path, "event without a valid uuid; left out");
            return;
        };
        let event_uuid = event_uuid.to_owned();
        let ts = e.get("timestamp").and_then(parse_epoch).unwrap_or_else(|| {
            self.diag(
                Level::Warning,
                &path,
                "event without a timestamp; the conversion time is used",
            );
            self.opts.now
        });
        self.event_mode = true;
        self.event_ts = Some(ts);
        self.object_refs.clear();
        self.rels.clear();
        self.uuid_ids.clear();
        self.index = self.objects.len();
        self.created_by = None;
        match e.get("Orgc").and_then(Value::as_object) {
            Some(orgc) => match (s(orgc, "uuid"), s(orgc, "name")) {
                (Some(u), Some(n)) => {
                    let id = self.identity(u, n, ts, true);
                    self.created_by = Some(id);
                }
                _ => self.diag(
                    Level::Warning,
                    &format!("{path}/Orgc"),
                    "creator organisation without uuid or name: no created_by_ref",
                ),
            },
            None => self.diag(
                Level::Warning,
                &path,
                "event without Orgc: no created_by_ref",
            ),
        }
        let published = e.get("published").and_then(truthy).unwrap_or(false);
        let publish_ts = e.get("publish_timestamp").and_then(parse_epoch);
        let (rtype, published_at) = match (published, publish_ts) {
            (true, Some(p)) => ("report", Some(p)),
            _ => ("grouping", None),
        };
        let report_id = format!("{rtype}--{event_uuid}");
        for (i, a) in list(e.get("Attribute")).iter().enumerate() {
            self.attribute(a, &format!("{path}/Attribute/{i}"));
        }
        self.event_objects(list(e.get("Object")), &format!("{path}/Object"));
        for (i, r) in list(e.get("EventReport")).iter().enumerate() {
            self.event_report(r, &report_id, &format!("{path}/EventReport/{i}"));
        }
        // Event galaxies and tags.
        let mut galaxy_tags = HashSet::new();
        for (i, g) in list(e.get("Galaxy")).iter().enumerate() {
            let p = format!("{path}/Galaxy/{i}");
            let refs = self.galaxy(g, ts, &p);
            for id in &refs {
                self.add_ref(id);
            }
            galaxy_tags.extend(galaxies::cluster_tag_names(g));
        }
        let tags: Vec<&str> = list(e.get("Tag"))
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .filter(|n| !galaxy_tags.contains(*n))
            .collect();
        let tagging = self.tagging(tags);
        self.flush_relationships();
        self.flush_markings();
        if self.object_refs.is_empty() {
            let note_id = format!("note--{event_uuid}");
            let mut note = Map::new();
            note.insert("type".into(), json!("note"));
            note.insert("spec_version".into(), json!("2.1"));
            note.insert("id".into(), json!(note_id));
            self.shared(&mut note);
            note.insert("created".into(), json!(ts.stix_millis()));
            note.insert("modified".into(), json!(ts.stix_millis()));
            note.insert(
                "content".into(),
                json!("This MISP Event is empty and contains no attribute, object, galaxy or tag."),
            );
            note.insert("object_refs".into(), json!([report_id]));
            self.push(Value::Object(note), &path);
        }
        let mut report = Map::new();
        report.insert("type".into(), json!(rtype));
        report.insert("spec_version".into(), json!("2.1"));
        report.insert("id".into(), json!(report_id));
        self.shared(&mut report);
        report.insert("created".into(), json!(ts.stix_millis()));
        report.insert("modified".into(), json!(ts.stix_millis()));
        report.insert(
            "name".into(),
            json!(s(e, "info").unwrap_or("MISP Event exported to STIX 2.1 with misp-stix.")),
        );
        match published_at {
            Some(p) => {
                report.insert("published".into(), json!(p.stix_seconds()));
            }
            None => {
                report.insert("context".into(), json!("suspicious-activity"));
            }
        }
        report.insert(
            "object_refs".into(),
            json!(std::mem::take(&mut self.object_refs)),
        );
        report.insert(
            "labels".into(),
            json!(["Threat-Report", "misp:tool=\"MISP-STIX-Converter\""]),
        );
        Self::apply_tagging(&mut report, &tagging);
        let report = Value::Object(report);
        let at = self.index.min(self.objects.len());
        self.objects.insert(at, report);
        for v in self.emitted.values_mut() {
            if *v >= at {
                *v += 1;
            }
        }
        self.emitted.insert(report_id, at);
        self.event_mode = false;
        self.event_ts = None;
        self.created_by = None;
    }

    fn event_report(&mut self, r: &Value, report_id: &str, path: &str) {
        let Some(r) = r.as_object() else {
            self.diag(
                Level::Error,
                path,
                "event report is not an object; left out",
            );
            return;
        };
        let (Some(uuid), Some(content)) = (s(r, "uuid"), r.get("content").and_then(Value::as_str))
        else {
            self.diag(
                Level::Error,
                path,
                "event report without uuid or content; left out",
            );
            return;
        };
        let ts = self.ts_of(r);
        let mut refs: Vec<String> = Vec::new();
        let mut rest = content;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            if after.len() >= 37 && after.as_bytes()[36] == b')' {
                let u = &after[..36];
                if let Some(id) = self.uuid_ids.get(u) {
                    for candidate in [id.clone(), id.replace("observed-data--", "indicator--")] {
                        if self.emitted.contains_key(&candidate) && !refs.contains(&candidate) {
                            refs.push(candidate);
                        }
                    }
                }
            }
            rest = after;
        }
        let mut note = Map::new();
        note.insert("type".into(), json!("note"));
        note.insert("spec_version".into(), json!("2.1"));
        note.insert("id".into(), json!(format!("note--{uuid}")));
        self.shared(&mut note);
        note.insert("created".into(), json!(ts.stix_millis()));
        note.insert("modified".into(), json!(ts.stix_millis()));
        if let Some(name) = s(r, "name") {
            note.insert("abstract".into(), json!(name));
        }
        note.insert("content".into(), json!(content));
        if refs.is_empty() {
            refs.push(report_id.to_owned());
        }
        note.insert("object_refs".into(), json!(refs));
        self.push(Value::Object(note), path);
    }

    // ---------------------------------------------------------------- collections

    fn collection_identity(&mut self, event: Option<&Value>) {
        self.created_by = None;
        if let Some(orgc) = event.and_then(|e| e.get("Orgc")).and_then(Value::as_object)
            && let (Some(u), Some(n)) = (s(orgc, "uuid"), s(orgc, "name"))
        {
            let ts = self.event_ts.unwrap_or(self.opts.now);
            let id = self.identity(u, n, ts, false);
            self.created_by = Some(id);
        }
    }

    fn attributes_collection(&mut self, v: &Value, what: &str) {
        self.event_mode = false;
        self.rels.clear();
        let top_event = v.get("Event");
        for (i, g) in list(v.get("Galaxy")).iter().enumerate() {
            let ts = self.opts.now;
            self.galaxy(g, ts, &format!("{what}:/Galaxy/{i}"));
        }
        for (i, a) in list(v.get("Attribute")).iter().enumerate() {
            let (a, event) = match a.get("Attribute") {
                Some(inner) => (inner, a.get("Event").or(top_event)),
                None => (a, a.get("Event").or(top_event)),
            };
            self.event_ts = event.and_then(|e| e.get("timestamp")).and_then(parse_epoch);
            self.collection_identity(event);
            self.attribute(a, &format!("{what}:/Attribute/{i}"));
        }
        self.event_ts = None;
        self.flush_relationships();
        self.flush_markings();
        self.created_by = None;
    }

    fn objects_collection(&mut self, items: &[Value], path: &str) {
        self.event_mode = false;
        self.rels.clear();
        let objs: Vec<Value> = items
            .iter()
            .map(|i| i.get("Object").cloned().unwrap_or_else(|| i.clone()))
            .flat_map(|o| match o {
                Value::Array(a) => a,
                o => vec![o],
            })
            .collect();
        self.event_objects(&objs, path);
        self.flush_relationships();
        self.flush_markings();
    }

    // ---------------------------------------------------------------- shared builders

    fn labels_for_attribute(a: &Map<String, Value>) -> Vec<String> {
        ["type", "category"]
            .iter()
            .filter_map(|k| s(a, k).map(|v| format!("misp:{k}=\"{v}\"")))
            .collect()
    }

    fn labels_for_object(o: &Map<String, Value>) -> Vec<String> {
        vec![
            format!(
                "misp:name=\"{}\"",
                s(o, "name").unwrap_or("").replace('|', "-")
            ),
            format!(
                "misp:meta-category=\"{}\"",
                s(o, "meta-category").unwrap_or("misc")
            ),
        ]
    }

    /// `first_observed`/`last_observed` or `valid_from`/`valid_until` from MISP's
    /// `first_seen`/`last_seen`, else the element's timestamp.
    fn seen(&self, m: &Map<String, Value>, ts: Instant) -> (Instant, Option<Instant>) {
        let first = s(m, "first_seen").and_then(parse_iso).unwrap_or(ts);
        let last = s(m, "last_seen").and_then(parse_iso);
        (first, last)
    }

    fn observed_data(
        &self,
        id: &str,
        m: &Map<String, Value>,
        labels: Vec<String>,
        refs: &[String],
        ts: Instant,
    ) -> Map<String, Value> {
        let (first, last) = self.seen(m, ts);
        let last = last.filter(|l| *l >= first).unwrap_or(first.max(ts));
        let last = if last < first { first } else { last };
        let mut o = Map::new();
        o.insert("type".into(), json!("observed-data"));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        self.shared(&mut o);
        o.insert("created".into(), json!(ts.stix_millis()));
        o.insert("modified".into(), json!(ts.stix_millis()));
        o.insert("first_observed".into(), json!(first.stix_seconds()));
        o.insert("last_observed".into(), json!(last.stix_seconds()));
        o.insert("number_observed".into(), json!(1));
        o.insert("object_refs".into(), json!(refs));
        o.insert("labels".into(), json!(labels));
        o
    }

    #[allow(clippy::too_many_arguments)]
    fn indicator(
        &self,
        id: &str,
        m: &Map<String, Value>,
        labels: Vec<String>,
        pattern: &str,
        pattern_type: &str,
        phase: &str,
        ts: Instant,
    ) -> Map<String, Value> {
        let (first, last) = self.seen(m, ts);
        let mut o = Map::new();
        o.insert("type".into(), json!("indicator"));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        self.shared(&mut o);
        o.insert("created".into(), json!(ts.stix_millis()));
        o.insert("modified".into(), json!(ts.stix_millis()));
        if let Some(c) = s(m, "comment") {
            o.insert("description".into(), json!(c));
        }
        o.insert("pattern".into(), json!(pattern));
        o.insert("pattern_type".into(), json!(pattern_type));
        if pattern_type == "stix" {
            o.insert("pattern_version".into(), json!("2.1"));
        }
        o.insert("valid_from".into(), json!(first.stix_seconds()));
        if let Some(l) = last.filter(|l| *l > first) {
            o.insert("valid_until".into(), json!(l.stix_seconds()));
        }
        o.insert(
            "kill_chain_phases".into(),
            json!([{"kill_chain_name": "misp-category", "phase_name": phase}]),
        );
        o.insert("labels".into(), json!(labels));
        o
    }

    fn sdo_base(&self, ty: &str, id: &str, ts: Instant) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), json!(ty));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        self.shared(&mut o);
        o.insert("created".into(), json!(ts.stix_millis()));
        o.insert("modified".into(), json!(ts.stix_millis()));
        o
    }

    /// Sightings of an attribute (type 0 → sighting, type 1 → a "false positive" opinion).
    fn sightings(&mut self, sightings: &[Value], refs: &[String], path: &str) {
        for (i, sg) in sightings.iter().enumerate() {
            let p = format!("{path}/Sighting/{i}");
            let Some(sg) = sg.as_object() else {
                self.diag(Level::Error, &p, "sighting is not an object; left out");
                continue;
            };
            let Some(uuid) = s(sg, "uuid") else {
                self.diag(Level::Error, &p, "sighting without uuid; left out");
                continue;
            };
            let ts = sg
                .get("date_sighting")
                .and_then(parse_epoch)
                .or(self.event_ts)
                .unwrap_or(self.opts.now);
            let org = sg.get("Organisation").and_then(Value::as_object);
            let org_id = org.and_then(|o| match (s(o, "uuid"), s(o, "name")) {
                (Some(u), Some(n)) => Some((u.to_owned(), n.to_owned())),
                _ => None,
            });
            let org_ref = org_id.as_ref().map(|(u, n)| {
                let ets = self.event_ts.unwrap_or(ts);
                self.identity(u, n, ets, self.event_mode)
            });
            let kind = sg.get("type").and_then(|t| match t {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            match kind.as_deref().unwrap_or("0") {
                "0" => {
                    let mut o = Map::new();
                    o.insert("type".into(), json!("sighting"));
                    o.insert("spec_version".into(), json!("2.1"));
                    o.insert("id".into(), json!(format!("sighting--{uuid}")));
                    o.insert("created".into(), json!(ts.stix_millis()));
                    o.insert("modified".into(), json!(ts.stix_millis()));
                    if refs.len() == 1 {
                        o.insert("sighting_of_ref".into(), json!(refs[0]));
                    } else {
                        let od: Vec<&String> = refs
                            .iter()
                            .filter(|r| r.starts_with("observed-data--"))
                            .collect();
                        let of = refs.iter().find(|r| !r.starts_with("observed-data--"));
                        match of {
                            Some(of) => {
                                o.insert("sighting_of_ref".into(), json!(of));
                                o.insert("observed_data_refs".into(), json!(od));
                            }
                            None => {
                                o.insert("sighting_of_ref".into(), json!(refs.first()));
                            }
                        }
                    }
                    if let Some(r) = &org_ref {
                        o.insert("where_sighted_refs".into(), json!([r]));
                    }
                    if let Some(src) = s(sg, "source") {
                        o.insert("description".into(), json!(src));
                    }
                    self.push(Value::Object(o), &p);
                }
                "1" => {
                    let mut o = Map::new();
                    o.insert("type".into(), json!("opinion"));
                    o.insert("spec_version".into(), json!("2.1"));
                    o.insert("id".into(), json!(format!("opinion--{uuid}")));
                    o.insert("created".into(), json!(ts.stix_millis()));
                    o.insert("modified".into(), json!(ts.stix_millis()));
                    o.insert("explanation".into(), json!("False positive Sighting"));
                    if let Some((_, n)) = &org_id {
                        o.insert("authors".into(), json!([n]));
                    }
                    o.insert("opinion".into(), json!("strongly-disagree"));
                    o.insert("object_refs".into(), json!(refs));
                    if let Some(r) = &org_ref {
                        o.insert("x_misp_author_ref".into(), json!(r));
                    }
                    self.push(Value::Object(o), &p);
                }
                other => self.diag(
                    Level::Warning,
                    &p,
                    &format!(
                        "sighting of type {other} (expiration) has no STIX counterpart; left out"
                    ),
                ),
            }
        }
    }
}

/// The marking-definition object of a TLP marking id this converter emits.
fn marking_definition(id: &str) -> Option<Value> {
    let (level, version) = stix::tlp::marking_info(id)?;
    Some(match version {
        stix::tlp::TlpVersion::V2 => level.marking_definition(),
        stix::tlp::TlpVersion::V1 => {
            let name = match level {
                TlpLevel::Clear => "white",
                TlpLevel::Green => "green",
                TlpLevel::Amber | TlpLevel::AmberStrict => "amber",
                TlpLevel::Red => "red",
            };
            json!({
                "type": "marking-definition", "spec_version": "2.1", "id": id,
                "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
                "name": format!("TLP:{}", name.to_ascii_uppercase()),
                "definition": {"tlp": name},
            })
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts() -> ConvertOptions {
        ConvertOptions::new(Instant::from_secs(1_700_000_000))
    }

    #[test]
    fn bad_json_has_line_and_column() {
        let err = convert_bytes(b"{\n  \"Event\": {,}\n}", &opts()).unwrap_err();
        match err {
            MispError::Json { line, column, .. } => assert_eq!((line, column), (2, 13)),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_position() {
        // An event whose second `info` would silently replace the first with a lenient parser.
        let event = b"{\"Event\": {\"info\": \"a\",\n \"info\": \"b\"}}";
        match convert_bytes(event, &opts()).unwrap_err() {
            MispError::Json {
                what,
                line,
                message,
                ..
            } => {
                assert_eq!((what.as_str(), line), ("input", 2));
                assert_eq!(message, "duplicate key \"info\"");
            }
            other => panic!("{other}"),
        }
        let uuid = "5e6b3cf8-9b5c-4c4e-8f3a-3e8b2d8a1c11";
        let manifest = format!("{{\"{uuid}\": {{}}, \"{uuid}\": {{}}}}");
        let err = feed_event_files(manifest.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, MispError::Json { what, message, .. }
                if what == "manifest.json" && message.contains("duplicate key")),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("manifest.json: invalid JSON at line 1")
        );
    }

    #[test]
    fn unknown_shapes_are_not_misp() {
        for doc in [
            json!({"type": "bundle", "objects": []}),
            json!([]),
            json!(42),
            json!({"response": 3}),
        ] {
            let err = convert_value(&doc, &opts()).unwrap_err();
            assert!(matches!(err, MispError::NotMisp { .. }), "{doc}: {err}");
        }
    }

    #[test]
    fn broken_parts_become_diagnostics_not_panics() {
        let doc = json!({"Event": {"uuid": "a6ef17d6-91cb-4a05-b10b-2f045daf874c", "info": "x",
            "timestamp": "1603642920",
            "Attribute": [
                {"type": "ip-src", "value": "1.2.3.4"},
                {"uuid": "91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f", "type": "ip-src", "value": "not an ip", "to_ids": true},
                {"uuid": "518b4bcb-a86b-4783-9457-391d548b605b", "type": "AS", "value": {"x": 1}},
                7
            ],
            "Object": [{"name": "file"}, {"name": "domain-ip", "uuid": "5ac337df-e078-4e99-8b17-02550a00020f",
                "Attribute": [{"object_relation": "ip", "value": "1.2.3.4"}]}],
            "Tag": [{"name": "tlp:amber+strict"}, {"nom": "x"}]}});
        let conv = convert_value(&doc, &opts()).unwrap();
        let paths: Vec<&str> = conv.diagnostics.iter().map(|d| d.path.as_str()).collect();
        for p in [
            "/Event/Attribute/0",
            "/Event/Attribute/1",
            "/Event/Attribute/2",
            "/Event/Attribute/3",
            "/Event/Object/0",
            "/Event/Object/1",
        ] {
            assert!(
                paths.iter().any(|x| x.ends_with(p)),
                "no diagnostic for {p}: {paths:?}"
            );
        }
        // The bad IP is kept as a custom object; the event is marked AMBER+STRICT (TLP 2.0).
        assert!(
            conv.objects
                .iter()
                .any(|o| o["id"] == "x-misp-attribute--91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f")
        );
        let grouping = conv
            .objects
            .iter()
            .find(|o| o["type"] == "grouping")
            .unwrap();
        assert_eq!(
            grouping["object_marking_refs"],
            json!([stix::tlp::TLP2_AMBER_STRICT])
        );
        assert!(
            conv.objects
                .iter()
                .any(|o| o["id"] == stix::tlp::TLP2_AMBER_STRICT)
        );
    }

    #[test]
    fn tlp1_tags_can_map_to_tlp2() {
        let doc = json!({"Event": {"uuid": "a6ef17d6-91cb-4a05-b10b-2f045daf874c", "info": "x",
            "timestamp": "1603642920", "Tag": [{"name": "tlp:white"}, {"name": "tlp:red"}]}});
        let misp_stix = convert_value(&doc, &opts()).unwrap();
        let g = misp_stix
            .objects
            .iter()
            .find(|o| o["type"] == "grouping")
            .unwrap();
        assert_eq!(
            g["object_marking_refs"],
            json!([stix::tlp::TLP1_WHITE, stix::tlp::TLP1_RED])
        );
        let mut o = opts();
        o.tlp2_for_tlp1_tags = true;
        let tlp2 = convert_value(&doc, &o).unwrap();
        let g = tlp2
            .objects
            .iter()
            .find(|o| o["type"] == "grouping")
            .unwrap();
        assert_eq!(
            g["object_marking_refs"],
            json!([stix::tlp::TLP2_CLEAR, stix::tlp::TLP2_RED])
        );
    }

    #[test]
    fn feed_manifest_must_match_files() {
        let manifest = br#"{"a6ef17d6-91cb-4a05-b10b-2f045daf874c": {"info": "x"}}"#;
        let mut c = Converter::new(opts());
        let err = c
            .add_feed(&FeedInput {
                manifest,
                events: vec![],
                hashes_csv: None,
            })
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(feed_event_files(br#"{"not-a-uuid": {}}"#).is_err());
        let event = br#"{"Event": {"uuid": "a6ef17d6-91cb-4a05-b10b-2f045daf874c", "info": "x", "timestamp": "1603642920"}}"#;
        let mut c = Converter::new(opts());
        let err = c
            .add_feed(&FeedInput {
                manifest,
                events: vec![("a6ef17d6-91cb-4a05-b10b-2f045daf874c.json".into(), event)],
                hashes_csv: Some(b"zz,a6ef17d6-91cb-4a05-b10b-2f045daf874c\n"),
            })
            .unwrap_err();
        assert!(err.to_string().contains("hashes.csv line 1"), "{err}");
    }
}
