//! DISARM (the FIMI counterpart of ATT&CK): import normalisation of the official STIX bundle, an
//! index of techniques by DISARM id (`T0…`, sub-techniques included) and by STIX id, the tactics
//! in phase order, and a matrix (tactics × techniques with counts of use) ready to render.
//!
//! The official bundle borrows ATT&CK's conventions so that the ATT&CK Navigator can load it:
//! techniques carry `kill_chain_name: "mitre-attack"` and an external reference whose
//! `source_name` is `mitre-attack`, plus `x_mitre_platforms: ["Windows","Linux","Mac"]` and
//! `x_mitre_version`, which mean nothing for influence operations. [`normalise`] rewrites them:
//!
//! - every kill chain phase of a DISARM technique gets `kill_chain_name: "disarm"` (the reader
//!   accepts `mitre-attack`, `disarm` and `DISARM` when the technique is DISARM's);
//! - the DISARM external reference gets `source_name: "DISARM"` (as the bundle's own tactics
//!   have), so a DISARM `T0002` never collides with an ATT&CK id in the same store;
//! - `x_mitre_platforms`, `x_mitre_version`, `x_mitre_domains` and `x_mitre_attack_spec_version`
//!   are dropped from DISARM objects;
//! - everything else (ids, `x_mitre_is_subtechnique`, `x_mitre_shortname`, markings,
//!   relationships, the matrix) is kept as it is.
//!
//! A technique is DISARM's when one of its external references has `source_name` `DISARM`
//! (any case) or a URL naming DISARM (e.g. `DISARMFoundation/DISARMframeworks`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};
use stix::Timestamp;

use crate::error::DisarmError;

/// The kill chain name normalised DISARM techniques carry.
pub const KILL_CHAIN_NAME: &str = "disarm";
/// The `source_name` of normalised DISARM external references.
pub const SOURCE_NAME: &str = "DISARM";
/// The kill chain names accepted on read for DISARM techniques.
pub const ACCEPTED_KILL_CHAIN_NAMES: [&str; 3] = ["disarm", "DISARM", "mitre-attack"];
/// `x_mitre_*` properties dropped from DISARM objects: platforms and versions copied from
/// ATT&CK that say nothing about influence operations.
pub const DROPPED_PROPERTIES: [&str; 4] = [
    "x_mitre_platforms",
    "x_mitre_version",
    "x_mitre_domains",
    "x_mitre_attack_spec_version",
];

/// What [`normalise`] changed, for the import summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NormaliseReport {
    /// Objects read.
    pub objects: usize,
    /// DISARM techniques (attack-patterns) seen.
    pub techniques: usize,
    /// DISARM tactics (`x-mitre-tactic`) seen.
    pub tactics: usize,
    /// Kill chain phases renamed to `disarm`.
    pub kill_chain_phases_renamed: usize,
    /// External references whose `source_name` became `DISARM`.
    pub source_names_renamed: usize,
    /// `x_mitre_*` properties dropped.
    pub properties_dropped: usize,
}

/// The objects of a bundle (or array, or single object), borrowed.
pub fn objects_of(input: &Value) -> Result<&[Value], DisarmError> {
    match input {
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("bundle") => {
            match m.get("objects") {
                Some(Value::Array(a)) => Ok(a),
                None => Ok(&[]),
                Some(_) => Err(DisarmError::NotABundle),
            }
        }
        Value::Array(a) => Ok(a),
        Value::Object(_) => Ok(std::slice::from_ref(input)),
        _ => Err(DisarmError::NotABundle),
    }
}

/// Whether an external reference is DISARM's.
fn is_disarm_reference(r: &Value) -> bool {
    let source = r.get("source_name").and_then(Value::as_str).unwrap_or("");
    let url = r.get("url").and_then(Value::as_str).unwrap_or("");
    source.eq_ignore_ascii_case("disarm") || url.to_ascii_lowercase().contains("disarm")
}

/// A DISARM technique id: `T` + 4 digits, optionally `.` + 3 digits.
pub fn is_technique_id(s: &str) -> bool {
    let b = s.as_bytes();
    let base = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
    base && (b.len() == 5
        || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit)))
}

/// A DISARM tactic id: `TA` + 2 digits.
pub fn is_tactic_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4 && b.starts_with(b"TA") && b[2..].iter().all(u8::is_ascii_digit)
}

/// The DISARM id of an object (technique or tactic), if it has one.
pub fn disarm_id(object: &Value) -> Option<&str> {
    object
        .get("external_references")?
        .as_array()?
        .iter()
        .filter(|r| is_disarm_reference(r))
        .filter_map(|r| r.get("external_id").and_then(Value::as_str))
        .find(|id| is_technique_id(id) || is_tactic_id(id))
}

fn is_disarm_object(object: &Value) -> bool {
    let t = object.get("type").and_then(Value::as_str).unwrap_or("");
    matches!(t, "attack-pattern" | "x-mitre-tactic" | "x-mitre-matrix")
        && object
            .get("external_references")
            .and_then(Value::as_array)
            .is_some_and(|refs| refs.iter().any(is_disarm_reference))
}

/// Normalises one object in place (see the module documentation); returns whether it was a
/// DISARM object. Objects that are not DISARM's are left untouched.
pub fn normalise_object(object: &mut Value, report: &mut NormaliseReport) -> bool {
    if !is_disarm_object(object) {
        return false;
    }
    let Some(map) = object.as_object_mut() else {
        return false;
    };
    let ty = map
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match ty.as_str() {
        "attack-pattern" => report.techniques += 1,
        "x-mitre-tactic" => report.tactics += 1,
        _ => {}
    }
    for p in DROPPED_PROPERTIES {
        if map.remove(p).is_some() {
            report.properties_dropped += 1;
        }
    }
    if ty == "attack-pattern" {
        if let Some(Value::Array(phases)) = map.get_mut("kill_chain_phases") {
            for phase in phases.iter_mut().filter_map(Value::as_object_mut) {
                let name = phase.get("kill_chain_name").and_then(Value::as_str);
                if name
                    .is_some_and(|n| ACCEPTED_KILL_CHAIN_NAMES.contains(&n) && n != KILL_CHAIN_NAME)
                {
                    phase.insert("kill_chain_name".into(), json!(KILL_CHAIN_NAME));
                    report.kill_chain_phases_renamed += 1;
                }
            }
        }
        if let Some(Value::Array(refs)) = map.get_mut("external_references") {
            for r in refs.iter_mut() {
                let rename = is_disarm_reference(r)
                    && r.get("external_id")
                        .and_then(Value::as_str)
                        .is_some_and(is_technique_id)
                    && r.get("source_name").and_then(Value::as_str) != Some(SOURCE_NAME);
                if let (true, Some(r)) = (rename, r.as_object_mut()) {
                    r.insert("source_name".into(), json!(SOURCE_NAME));
                    report.source_names_renamed += 1;
                }
            }
        }
    }
    true
}

/// Normalises a DISARM bundle (or array of objects): returns the objects, rewritten as the
/// module documentation says, in input order, and what changed.
pub fn normalise(input: &Value) -> Result<(Vec<Value>, NormaliseReport), DisarmError> {
    let objects = objects_of(input)?;
    let mut report = NormaliseReport {
        objects: objects.len(),
        ..NormaliseReport::default()
    };
    let out: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut o = o.clone();
            normalise_object(&mut o, &mut report);
            o
        })
        .collect();
    if report.techniques == 0 {
        return Err(DisarmError::NoTechniques);
    }
    Ok((out, report))
}

/// The framework's own objects, normalised and ready to store: see [`prepare_import`].
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImport {
    /// The objects, in input order.
    pub objects: Vec<Value>,
    /// What normalisation changed.
    pub report: NormaliseReport,
    /// Objects attributed to the bundle's identity ([`attribute_to_owner`]).
    pub attributed: usize,
    /// Objects given the default marking ([`mark_unmarked`]).
    pub marked: usize,
}

/// A DISARM bundle made ready to store: normalised ([`normalise`]), its unattributed objects
/// attributed to its own identity ([`attribute_to_owner`]) and its unmarked objects marked
/// `marking` ([`mark_unmarked`]).
pub fn prepare_import(input: &Value, marking: &str) -> Result<PreparedImport, DisarmError> {
    let (mut objects, report) = normalise(input)?;
    let attributed = attribute_to_owner(&mut objects);
    let marked = mark_unmarked(&mut objects, marking);
    Ok(PreparedImport {
        objects,
        report,
        attributed,
        marked,
    })
}

fn type_of(o: &Value) -> &str {
    o.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The bundle's relationships and matrix have no creator: they are the framework's, so they
/// are attributed to the bundle's own identity (when it has exactly one), not to whoever
/// imports them — every node's import is then the same object, byte for byte. The identity
/// itself, when it names no creator, is attributed to itself (a self-created identity): else the
/// hub would record the first importing member as its creator, and every other member's import
/// of the same public framework would be refused as a rewrite of that member's object. Returns
/// how many objects were attributed.
pub fn attribute_to_owner(objects: &mut [Value]) -> usize {
    let identities: Vec<String> = objects
        .iter()
        .filter(|o| type_of(o) == "identity")
        .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut attributed = 0usize;
    if let [owner] = identities.as_slice() {
        for o in objects.iter_mut() {
            let t = type_of(o);
            if t != "marking-definition"
                && o.get("created_by_ref").is_none()
                && let Some(m) = o.as_object_mut()
            {
                m.insert("created_by_ref".into(), json!(owner));
                attributed += 1;
            }
        }
    }
    attributed
}

/// Marks `marking` every object without a TLP marking (object or granular); marking
/// definitions carry no markings of their own here. Returns how many objects were marked.
pub fn mark_unmarked(objects: &mut [Value], marking: &str) -> usize {
    let mut marked = 0usize;
    for o in objects.iter_mut() {
        if type_of(o) == "marking-definition" || stix::tlp::effective_tlp_of(o).is_some() {
            continue;
        }
        if let Some(m) = o.as_object_mut() {
            let refs = m
                .entry("object_marking_refs")
                .or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = refs {
                list.push(json!(marking));
                marked += 1;
            }
        }
    }
    marked
}

/// A DISARM technique as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Technique {
    /// `T0…` or `T0….…`.
    pub disarm_id: String,
    /// The STIX id of the `attack-pattern`.
    pub stix_id: String,
    /// The technique's name.
    pub name: String,
    /// The tactics' short names (kill chain phase names).
    pub phases: Vec<String>,
    /// The parent technique's DISARM id, for a sub-technique.
    pub parent: Option<String>,
}

/// A DISARM tactic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tactic {
    /// `TA..`.
    pub disarm_id: String,
    /// The STIX id of the `x-mitre-tactic`, when the input had one.
    pub stix_id: Option<String>,
    /// The tactic's name (the short name when the input had no tactic object).
    pub name: String,
    /// The short name: the kill chain `phase_name` of its techniques.
    pub shortname: String,
}

/// DISARM techniques found by DISARM id and by STIX id, and tactics in phase order.
#[derive(Debug, Clone, Default)]
pub struct DisarmIndex {
    techniques: Vec<Technique>,
    by_disarm_id: HashMap<String, usize>,
    by_stix_id: HashMap<String, usize>,
    tactics: Vec<Tactic>,
}

fn ts_of(o: &Value) -> Option<Timestamp> {
    o.get("modified")
        .or_else(|| o.get("created"))
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}

impl DisarmIndex {
    /// Indexes the DISARM techniques and tactics among `objects` (normalised or not; other
    /// objects are ignored). Of several versions of one object the latest `modified` wins;
    /// revoked and deprecated techniques are left out. Tactics follow the order of the
    /// `x-mitre-matrix`'s `tactic_refs` when there is one, else their `TA` number.
    pub fn build<'a>(
        objects: impl IntoIterator<Item = &'a Value>,
    ) -> Result<DisarmIndex, DisarmError> {
        let mut latest: BTreeMap<String, &Value> = BTreeMap::new();
        let mut matrix: Option<&Value> = None;
        for o in objects {
            if !is_disarm_object(o) {
                continue;
            }
            let Some(id) = o.get("id").and_then(Value::as_str) else {
                continue;
            };
            if o.get("type").and_then(Value::as_str) == Some("x-mitre-matrix") {
                matrix = Some(o);
                continue;
            }
            let newer = latest.get(id).is_none_or(|prev| ts_of(o) > ts_of(prev));
            if newer {
                latest.insert(id.to_owned(), o);
            }
        }
        let mut index = DisarmIndex::default();
        let mut tactics_by_stix: HashMap<String, Tactic> = HashMap::new();
        for (stix_id, o) in &latest {
            let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
            let revoked = o.get("revoked").and_then(Value::as_bool) == Some(true)
                || o.get("x_mitre_deprecated").and_then(Value::as_bool) == Some(true);
            let Some(did) = disarm_id(o) else { continue };
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match ty {
                "attack-pattern" if !revoked && is_technique_id(did) => {
                    if let Some(&prev) = index.by_disarm_id.get(did) {
                        return Err(DisarmError::DuplicateId {
                            disarm_id: did.to_owned(),
                            first: index.techniques[prev].stix_id.clone(),
                            second: stix_id.clone(),
                        });
                    }
                    let phases = o
                        .get("kill_chain_phases")
                        .and_then(Value::as_array)
                        .map(|ps| {
                            ps.iter()
                                .filter(|p| {
                                    p.get("kill_chain_name")
                                        .and_then(Value::as_str)
                                        .is_some_and(|n| ACCEPTED_KILL_CHAIN_NAMES.contains(&n))
                                })
                                .filter_map(|p| p.get("phase_name").and_then(Value::as_str))
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    let parent = did.split_once('.').map(|(p, _)| p.to_owned());
                    let i = index.techniques.len();
                    index.by_disarm_id.insert(did.to_owned(), i);
                    index.by_stix_id.insert(stix_id.clone(), i);
                    index.techniques.push(Technique {
                        disarm_id: did.to_owned(),
                        stix_id: stix_id.clone(),
                        name,
                        phases,
                        parent,
                    });
                }
                "x-mitre-tactic" if is_tactic_id(did) => {
                    let shortname = o
                        .get("x_mitre_shortname")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| slug(&name));
                    tactics_by_stix.insert(
                        stix_id.clone(),
                        Tactic {
                            disarm_id: did.to_owned(),
                            stix_id: Some(stix_id.clone()),
                            name,
                            shortname,
                        },
                    );
                }
                _ => {}
            }
        }
        if index.techniques.is_empty() {
            return Err(DisarmError::NoTechniques);
        }
        index
            .techniques
            .sort_by(|a, b| a.disarm_id.cmp(&b.disarm_id));
        index.by_disarm_id.clear();
        index.by_stix_id.clear();
        for (i, t) in index.techniques.iter().enumerate() {
            index.by_disarm_id.insert(t.disarm_id.clone(), i);
            index.by_stix_id.insert(t.stix_id.clone(), i);
        }
        // Tactics: matrix order first, then the rest by TA number.
        let mut ordered = Vec::new();
        if let Some(refs) = matrix
            .and_then(|m| m.get("tactic_refs"))
            .and_then(Value::as_array)
        {
            for r in refs.iter().filter_map(Value::as_str) {
                if let Some(t) = tactics_by_stix.remove(r) {
                    ordered.push(t);
                }
            }
        }
        let mut rest: Vec<Tactic> = tactics_by_stix.into_values().collect();
        rest.sort_by(|a, b| a.disarm_id.cmp(&b.disarm_id));
        ordered.extend(rest);
        // Phases used by techniques but without a tactic object still get a column.
        let known: BTreeSet<String> = ordered.iter().map(|t| t.shortname.clone()).collect();
        let missing: BTreeSet<&String> = index
            .techniques
            .iter()
            .flat_map(|t| &t.phases)
            .filter(|p| !known.contains(*p))
            .collect();
        for p in missing {
            ordered.push(Tactic {
                disarm_id: String::new(),
                stix_id: None,
                name: p.clone(),
                shortname: p.clone(),
            });
        }
        index.tactics = ordered;
        Ok(index)
    }

    /// A technique by DISARM id (`T0002`, `t0002.001`: case-insensitive) or by STIX id.
    pub fn technique(&self, key: &str) -> Option<&Technique> {
        let key = key.trim();
        if key.starts_with("attack-pattern--") {
            return self.by_stix_id.get(key).map(|&i| &self.techniques[i]);
        }
        self.by_disarm_id
            .get(&key.to_ascii_uppercase())
            .map(|&i| &self.techniques[i])
    }

    /// Every technique, sorted by DISARM id.
    pub fn techniques(&self) -> &[Technique] {
        &self.techniques
    }

    /// The sub-techniques of a technique.
    pub fn subtechniques<'a>(&'a self, disarm_id: &'a str) -> impl Iterator<Item = &'a Technique> {
        self.techniques
            .iter()
            .filter(move |t| t.parent.as_deref() == Some(disarm_id))
    }

    /// The tactics in phase order.
    pub fn tactics(&self) -> &[Tactic] {
        &self.tactics
    }

    /// A tactic by DISARM id (`TA06`) or short name (`develop-content`).
    pub fn tactic(&self, key: &str) -> Option<&Tactic> {
        self.tactics
            .iter()
            .find(|t| t.disarm_id.eq_ignore_ascii_case(key) || t.shortname == key)
    }
}

fn slug(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// One technique in a matrix column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixCell {
    /// DISARM id.
    pub disarm_id: String,
    /// Name.
    pub name: String,
    /// STIX id.
    pub stix_id: String,
    /// Whether it is a sub-technique.
    pub subtechnique: bool,
    /// Distinct objects (incidents, campaigns, …) that `use` it.
    pub uses: usize,
    /// Distinct objects that use it or one of its sub-techniques.
    pub uses_with_subtechniques: usize,
}

/// One tactic column of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixColumn {
    /// The tactic.
    pub tactic: Tactic,
    /// Its techniques, by DISARM id (sub-techniques after their parent).
    pub techniques: Vec<MatrixCell>,
    /// Distinct objects that use any technique of this tactic.
    pub uses: usize,
}

/// Tactics × techniques with counts of use, ready for a human table or `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// The columns in phase order.
    pub tactics: Vec<MatrixColumn>,
    /// `uses` relationships counted (current versions, not revoked).
    pub relationships_counted: usize,
    /// `uses` relationships whose target is an attack-pattern that is not a known DISARM
    /// technique (e.g. ATT&CK techniques): not counted.
    pub relationships_ignored: usize,
}

impl Matrix {
    /// Builds the matrix from the index and the `uses` relationships among `objects`.
    ///
    /// A relationship counts when it is the current version (latest `modified`) of its id, is
    /// not revoked, has `relationship_type` `uses` and targets a DISARM technique: one known to
    /// the index by STIX id, or an `attack-pattern` in `objects` whose DISARM external id the
    /// index knows (another producer's copy of the same technique). Counts are of distinct
    /// `source_ref`s, so two versions or two copies of the same link count once.
    pub fn build<'a>(index: &DisarmIndex, objects: impl IntoIterator<Item = &'a Value>) -> Matrix {
        let mut rels: HashMap<&str, &Value> = HashMap::new();
        let mut alias: HashMap<&str, &str> = HashMap::new();
        for o in objects {
            let ty = o.get("type").and_then(Value::as_str);
            let Some(id) = o.get("id").and_then(Value::as_str) else {
                continue;
            };
            match ty {
                Some("relationship") if rels.get(id).is_none_or(|prev| ts_of(o) > ts_of(prev)) => {
                    rels.insert(id, o);
                }
                Some("attack-pattern") => {
                    if let Some(t) = disarm_id(o).and_then(|d| index.technique(d)) {
                        alias.insert(id, t.disarm_id.as_str());
                    }
                }
                _ => {}
            }
        }
        let mut users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        let (mut counted, mut ignored) = (0, 0);
        for r in rels.values() {
            if r.get("revoked").and_then(Value::as_bool) == Some(true)
                || r.get("relationship_type").and_then(Value::as_str) != Some("uses")
            {
                continue;
            }
            let (Some(src), Some(tgt)) = (
                r.get("source_ref").and_then(Value::as_str),
                r.get("target_ref").and_then(Value::as_str),
            ) else {
                continue;
            };
            if !tgt.starts_with("attack-pattern--") {
                continue;
            }
            let did = index
                .technique(tgt)
                .map(|t| t.disarm_id.as_str())
                .or_else(|| alias.get(tgt).copied());
            match did {
                Some(d) => {
                    counted += 1;
                    users.entry(d).or_default().insert(src);
                }
                None => ignored += 1,
            }
        }
        let mut tactics = Vec::new();
        for tactic in index.tactics() {
            let mut cells = Vec::new();
            let mut column_users: BTreeSet<&str> = BTreeSet::new();
            for t in index
                .techniques()
                .iter()
                .filter(|t| t.phases.contains(&tactic.shortname))
            {
                let own = users.get(t.disarm_id.as_str());
                let mut all: BTreeSet<&str> = own.cloned().unwrap_or_default();
                if t.parent.is_none() {
                    for s in index.subtechniques(&t.disarm_id) {
                        if let Some(u) = users.get(s.disarm_id.as_str()) {
                            all.extend(u.iter().copied());
                        }
                    }
                }
                column_users.extend(all.iter().copied());
                cells.push(MatrixCell {
                    disarm_id: t.disarm_id.clone(),
                    name: t.name.clone(),
                    stix_id: t.stix_id.clone(),
                    subtechnique: t.parent.is_some(),
                    uses: own.map_or(0, BTreeSet::len),
                    uses_with_subtechniques: all.len(),
                });
            }
            tactics.push(MatrixColumn {
                tactic: tactic.clone(),
                techniques: cells,
                uses: column_users.len(),
            });
        }
        Matrix {
            tactics,
            relationships_counted: counted,
            relationships_ignored: ignored,
        }
    }

    /// The matrix as JSON (what `--json` prints).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// A plain-text table: one block per tactic in phase order, one line per technique with its
    /// count of use. With `only_used`, techniques nobody uses (and their empty tactics) are left
    /// out.
    pub fn render_text(&self, only_used: bool) -> String {
        let mut out = String::new();
        let width = self
            .tactics
            .iter()
            .flat_map(|c| &c.techniques)
            .map(|t| {
                t.disarm_id.len() + t.name.chars().count() + if t.subtechnique { 2 } else { 0 }
            })
            .max()
            .unwrap_or(0)
            + 2;
        for col in &self.tactics {
            if only_used && col.uses == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "{} {} ({} using)",
                if col.tactic.disarm_id.is_empty() {
                    "—"
                } else {
                    &col.tactic.disarm_id
                },
                col.tactic.name,
                col.uses
            );
            for t in &col.techniques {
                if only_used && t.uses_with_subtechniques == 0 {
                    continue;
                }
                let indent = if t.subtechnique { "    " } else { "  " };
                let label = format!("{} {}", t.disarm_id, t.name);
                let pad = width.saturating_sub(label.chars().count() + indent.len() - 2);
                let count = if t.uses != t.uses_with_subtechniques {
                    format!(
                        "{} ({} with sub-techniques)",
                        t.uses, t.uses_with_subtechniques
                    )
                } else {
                    t.uses.to_string()
                };
                let _ = writeln!(out, "{indent}{label}{:pad$}{count}", "");
            }
        }
        let _ = writeln!(
            out,
            "{} uses relationship(s) counted, {} to non-DISARM techniques ignored",
            self.relationships_counted, self.relationships_ignored
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn technique(id: &str, disarm: &str, kill_chain: &str, source: &str, url: &str) -> Value {
        json!({"type": "attack-pattern", "spec_version": "2.1", "id": id,
               "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
               "name": format!("technique {disarm}"),
               "kill_chain_phases": [{"kill_chain_name": kill_chain, "phase_name": "develop-content"}],
               "external_references": [{"source_name": source, "external_id": disarm, "url": url}],
               "x_mitre_platforms": ["Windows"], "x_mitre_version": "1.0"})
    }

    #[test]
    fn accepts_the_three_kill_chain_spellings_and_leaves_attack_alone() {
        let objects = json!([
            // The official bundle's form.
            technique(
                "attack-pattern--00000000-0000-4000-8000-000000000001",
                "T0085",
                "mitre-attack",
                "mitre-attack",
                "https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/T0085.md"
            ),
            // disarm2stix's forms.
            technique(
                "attack-pattern--00dc0ed2-b16d-5f33-bad3-cc54fb7be6a9",
                "T0086.003",
                "DISARM",
                "DISARM",
                ""
            ),
            technique(
                "attack-pattern--00000000-0000-4000-8000-000000000003",
                "T0087",
                "disarm",
                "DISARM",
                ""
            ),
            // ATT&CK: not DISARM's, untouched.
            technique(
                "attack-pattern--7e150503-88e7-4861-866b-ff1ac82c4475",
                "T1059",
                "mitre-attack",
                "mitre-attack",
                "https://attack.mitre.org/techniques/T1059"
            ),
        ]);
        let (out, report) = normalise(&objects).unwrap();
        assert_eq!(report.techniques, 3);
        assert_eq!(report.kill_chain_phases_renamed, 2);
        assert_eq!(report.source_names_renamed, 1);
        assert_eq!(report.properties_dropped, 6);
        for o in &out[..3] {
            assert_eq!(o["kill_chain_phases"][0]["kill_chain_name"], "disarm");
            assert_eq!(o["external_references"][0]["source_name"], "DISARM");
            assert!(o.get("x_mitre_platforms").is_none());
        }
        assert_eq!(out[3], objects[3]);
        let index = DisarmIndex::build(&out).unwrap();
        assert_eq!(index.techniques().len(), 3);
        assert!(index.technique("T1059").is_none());
        assert_eq!(
            index.technique("t0086.003").unwrap().parent.as_deref(),
            Some("T0086")
        );
        // Without tactic objects the phase still gets a column.
        assert_eq!(index.tactics().len(), 1);
        assert_eq!(index.tactics()[0].shortname, "develop-content");
        // The index also reads un-normalised input.
        assert_eq!(
            DisarmIndex::build(objects_of(&objects).unwrap())
                .unwrap()
                .techniques()
                .len(),
            3
        );
    }

    #[test]
    fn an_import_is_attributed_to_the_bundles_identity_and_unmarked_objects_marked() {
        let owner = "identity--00000000-0000-4000-8000-0000000000d1";
        let other = "identity--00000000-0000-4000-8000-0000000000d2";
        let mut marked_red = technique(
            "attack-pattern--00000000-0000-4000-8000-000000000002",
            "T0086",
            "disarm",
            "DISARM",
            "",
        );
        marked_red["object_marking_refs"] = json!([stix::tlp::TLP2_RED]);
        marked_red["created_by_ref"] = json!(other);
        let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": [
            {"type": "identity", "spec_version": "2.1", "id": owner, "name": "DISARM Foundation",
             "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"},
            technique("attack-pattern--00000000-0000-4000-8000-000000000001", "T0085", "disarm", "DISARM", ""),
            marked_red,
            stix::tlp::TlpLevel::Green.marking_definition(),
        ]});
        let p = prepare_import(&bundle, stix::tlp::TLP2_CLEAR).unwrap();
        assert_eq!(p.report.techniques, 2);
        assert_eq!((p.attributed, p.marked), (2, 2), "{:#?}", p.objects);
        let [identity, t1, t2, md] = p.objects.as_slice() else {
            panic!("{:?}", p.objects);
        };
        assert_eq!(
            identity["created_by_ref"], owner,
            "the framework's identity is its own"
        );
        assert_eq!(
            identity["object_marking_refs"],
            json!([stix::tlp::TLP2_CLEAR])
        );
        assert_eq!(t1["created_by_ref"], owner);
        assert_eq!(t1["object_marking_refs"], json!([stix::tlp::TLP2_CLEAR]));
        assert_eq!(t2["created_by_ref"], other, "an existing creator stays");
        assert_eq!(
            t2["object_marking_refs"],
            json!([stix::tlp::TLP2_RED]),
            "an existing TLP stays"
        );
        assert!(md.get("created_by_ref").is_none() && md.get("object_marking_refs").is_none());
        // Two identities: nobody to attribute the framework's objects to.
        let mut two = p.objects.clone();
        let mut second = identity.clone();
        second["id"] = json!(other);
        two.push(second);
        for o in &mut two {
            if let Some(m) = o.as_object_mut() {
                m.remove("created_by_ref");
            }
        }
        assert_eq!(attribute_to_owner(&mut two), 0);
        assert!(two.iter().all(|o| o.get("created_by_ref").is_none()));
        assert_eq!(
            prepare_import(&json!("text"), stix::tlp::TLP2_CLEAR),
            Err(DisarmError::NotABundle)
        );
    }

    #[test]
    fn refuses_what_is_not_a_disarm_bundle() {
        assert_eq!(normalise(&json!("text")), Err(DisarmError::NotABundle));
        assert_eq!(
            normalise(
                &json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": []})
            ),
            Err(DisarmError::NoTechniques)
        );
        let a = technique(
            "attack-pattern--00000000-0000-4000-8000-000000000001",
            "T0085",
            "disarm",
            "DISARM",
            "",
        );
        let b = technique(
            "attack-pattern--00000000-0000-4000-8000-000000000002",
            "T0085",
            "disarm",
            "DISARM",
            "",
        );
        assert!(matches!(
            DisarmIndex::build([&a, &b]),
            Err(DisarmError::DuplicateId { .. })
        ));
        // Two versions of one object are one technique: the latest wins.
        let mut newer = a.clone();
        newer["modified"] = json!("2025-01-01T00:00:00.000Z");
        newer["name"] = json!("renamed");
        let index = DisarmIndex::build([&a, &newer]).unwrap();
        assert_eq!(index.technique("T0085").unwrap().name, "renamed");
        // Ids are checked for their shape.
        assert!(is_technique_id("T0001") && is_technique_id("T0001.001"));
        assert!(
            !is_technique_id("T001") && !is_technique_id("T0001.1") && !is_technique_id("TA01")
        );
        assert!(is_tactic_id("TA01") && !is_tactic_id("TA1"));
    }
}
