//! Observed data, loaded once and indexed for evaluation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::EvalError;
use crate::StixVersion;
use crate::sco::is_non_sco_type;
use crate::time::Timestamp;

/// One observation: an observed-data object, its time interval, how many times it was seen,
/// and the objects pattern comparisons can reach.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    /// The observed-data object itself.
    pub(crate) sdo: Value,
    pub(crate) first: i128,
    pub(crate) last: i128,
    pub(crate) count: u64,
    /// (reference key, object): STIX 2.1 — `id` of the observed-data and of each SCO it
    /// references; STIX 2.0 — the keys of the embedded `objects` dictionary.
    pub(crate) objects: Vec<(String, Value)>,
}

/// String values at one object path → the root objects holding them.
pub(crate) type ValueIndex = HashMap<String, Vec<(u32, u32)>>;

/// (type, path) → exact-value index (`None`: not indexable).
pub(crate) type IndexCache = HashMap<(String, Vec<crate::PathStep>), Option<Arc<ValueIndex>>>;

/// A set of observations to evaluate patterns against (STIX 2.1: observed-data and the SCOs
/// their `object_refs` name; STIX 2.0: observed-data with embedded `objects`).
///
/// Exact-value indexes (per object type and property path) are built on first use and kept,
/// so that equality tests look values up instead of scanning.
#[derive(Debug)]
pub struct Observations {
    pub(crate) version: StixVersion,
    pub(crate) obs: Vec<Observation>,
    /// Object type → (observation, object) of every root object of that type.
    pub(crate) by_type: HashMap<String, Vec<(u32, u32)>>,
    /// (type, path) → index, or `None` when selecting the path fails on some object (the
    /// scan then reports the error).
    pub(crate) indexes: RwLock<IndexCache>,
}

fn get_time(o: &Value, key: &str, what: &str) -> Result<i128, EvalError> {
    let s = o
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| EvalError::InvalidObservedData(format!("{what} has no string `{key}`")))?;
    Timestamp::parse(s)
        .ok()
        .and_then(|t| t.nanos())
        .ok_or_else(|| {
            EvalError::InvalidObservedData(format!("{what}: `{key}` {s:?} is not a timestamp"))
        })
}

fn describe(o: &Value, i: usize) -> String {
    match o.get("id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => format!("item {} of the input", i + 1),
    }
}

fn interval_and_count(o: &Value, what: &str) -> Result<(i128, i128, u64), EvalError> {
    for k in ["number_observed", "first_observed", "last_observed"] {
        if o.get(k).is_none() {
            return Err(EvalError::InvalidObservedData(format!(
                "{what} must have number_observed, first_observed and last_observed (missing \
                 {k})"
            )));
        }
    }
    let count = match o.get("number_observed").and_then(Value::as_i64) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            return Err(EvalError::InvalidObservedData(format!(
                "{what}: number_observed must be an integer of at least 1"
            )));
        }
    };
    let first = get_time(o, "first_observed", what)?;
    let last = get_time(o, "last_observed", what)?;
    if first > last {
        return Err(EvalError::InvalidObservedData(format!(
            "{what}: first_observed is later than last_observed"
        )));
    }
    Ok((first, last, count))
}

fn flatten(input: &Value) -> Vec<&Value> {
    let items: Vec<&Value> = match input {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for it in items {
        if it.get("type").and_then(Value::as_str) == Some("bundle") {
            if let Some(objs) = it.get("objects").and_then(Value::as_array) {
                out.extend(objs.iter());
            }
        } else {
            out.push(it);
        }
    }
    out
}

impl Observations {
    /// Loads observations from JSON: a bundle, one object, or an array of objects and
    /// bundles. STIX 2.1: every observed-data with the SCOs its `object_refs` name (SCOs
    /// anywhere in the input); STIX 2.0: every item is an observed-data with embedded
    /// `objects`.
    pub fn from_json(input: &Value, version: StixVersion) -> Result<Self, EvalError> {
        let items = flatten(input);
        let mut obs = Vec::new();
        match version {
            StixVersion::V21 => {
                let mut by_id: HashMap<&str, &Value> = HashMap::new();
                for (i, o) in items.iter().enumerate() {
                    if o.get("type").and_then(Value::as_str) == Some("observed-data") {
                        continue;
                    }
                    let id = o.get("id").and_then(Value::as_str).ok_or_else(|| {
                        EvalError::InvalidObservedData(format!(
                            "{} (type {}) has no id, so object_refs cannot name it",
                            describe(o, i),
                            o.get("type").and_then(Value::as_str).unwrap_or("?")
                        ))
                    })?;
                    by_id.insert(id, o);
                }
                for (i, od) in items.iter().enumerate() {
                    if od.get("type").and_then(Value::as_str) != Some("observed-data") {
                        continue;
                    }
                    let what = describe(od, i);
                    let od_id = od.get("id").and_then(Value::as_str).ok_or_else(|| {
                        EvalError::InvalidObservedData(format!("{what} (observed-data) has no id"))
                    })?;
                    let refs =
                        od.get("object_refs")
                            .and_then(Value::as_array)
                            .ok_or_else(|| {
                                EvalError::InvalidObservedData(format!(
                                    "{what}: a STIX 2.1 observed-data must have object_refs"
                                ))
                            })?;
                    let (first, last, count) = interval_and_count(od, &what)?;
                    let mut objects: Vec<(String, Value)> = vec![(od_id.to_owned(), (*od).clone())];
                    for r in refs {
                        let Some(r) = r.as_str() else { continue };
                        if let Some(o) = by_id.get(r) {
                            if let Some(slot) = objects.iter_mut().find(|(k, _)| k == r) {
                                slot.1 = (*o).clone();
                            } else {
                                objects.push((r.to_owned(), (*o).clone()));
                            }
                        }
                    }
                    obs.push(Observation {
                        sdo: (*od).clone(),
                        first,
                        last,
                        count,
                        objects,
                    });
                }
            }
            StixVersion::V20 => {
                for (i, od) in items.iter().enumerate() {
                    let what = describe(od, i);
                    let (first, last, count) = interval_and_count(od, &what)?;
                    let objects = match od.get("objects") {
                        Some(Value::Object(m)) => {
                            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                        }
                        _ => Vec::new(),
                    };
                    obs.push(Observation {
                        sdo: (*od).clone(),
                        first,
                        last,
                        count,
                        objects,
                    });
                }
            }
        }
        let mut by_type: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for (oi, o) in obs.iter().enumerate() {
            for (ji, (_, obj)) in o.objects.iter().enumerate() {
                let Some(t) = obj.get("type").and_then(Value::as_str) else {
                    continue;
                };
                if version == StixVersion::V21 && is_non_sco_type(t) {
                    continue;
                }
                by_type
                    .entry(t.to_owned())
                    .or_default()
                    .push((oi as u32, ji as u32));
            }
        }
        Ok(Observations {
            version,
            obs,
            by_type,
            indexes: RwLock::new(HashMap::new()),
        })
    }

    /// The number of observations (observed-data objects).
    pub fn len(&self) -> usize {
        self.obs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.obs.is_empty()
    }

    /// The observed-data object of observation `i`.
    pub fn observed_data(&self, i: usize) -> Option<&Value> {
        self.obs.get(i).map(|o| &o.sdo)
    }

    /// The `id` of observation `i`'s observed-data, if it has one.
    pub fn observed_data_id(&self, i: usize) -> Option<&str> {
        self.obs.get(i)?.sdo.get("id")?.as_str()
    }

    /// The STIX version the observations were loaded as.
    pub fn version(&self) -> StixVersion {
        self.version
    }
}
