//! The indicator fields the matcher needs, read from a STIX 2.1 `indicator` object.

use serde_json::Value;
use telemetry::time::parse_timestamp;

/// An indicator as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// `indicator--…`.
    pub id: String,
    /// `name`, if any.
    pub name: Option<String>,
    /// `pattern`.
    pub pattern: String,
    /// `pattern_type` (only `stix` is compiled).
    pub pattern_type: String,
    /// `valid_from`, nanoseconds since the epoch.
    pub valid_from: Option<i64>,
    /// `valid_until`, nanoseconds since the epoch.
    pub valid_until: Option<i64>,
    /// `revoked`.
    pub revoked: bool,
    /// When the indicator became known: a store's `date_added` when there is one, else
    /// `modified`, else `created` (what retro-hunting compares with `--since`).
    pub added: Option<i64>,
    /// `object_marking_refs` and the `marking_ref`s of `granular_markings` (whatever their
    /// selectors), for the exports' audience filter: a TLP:RED part makes the indicator TLP:RED.
    pub marking_refs: Vec<String>,
}

/// The fields of an indicator that the compiler reads, borrowed: what
/// [`crate::Compiler::add_version_ref`] takes, so that a reader holding the text of many
/// indicators in one buffer allocates nothing per indicator. [`Indicator::view`] gives it for
/// an owned indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorRef<'a> {
    /// `indicator--…`.
    pub id: &'a str,
    /// `name`, if any.
    pub name: Option<&'a str>,
    /// `pattern`.
    pub pattern: &'a str,
    /// `pattern_type` (only `stix` is compiled).
    pub pattern_type: &'a str,
    /// `valid_from`, nanoseconds since the epoch.
    pub valid_from: Option<i64>,
    /// `valid_until`, nanoseconds since the epoch.
    pub valid_until: Option<i64>,
    /// `revoked`.
    pub revoked: bool,
    /// As [`Indicator::added`].
    pub added: Option<i64>,
}

impl IndicatorRef<'_> {
    /// Whether the indicator is in force at `at` (as [`Indicator::active_at`]).
    pub fn active_at(&self, at: i64) -> bool {
        !self.revoked
            && self.valid_from.is_none_or(|f| f <= at)
            && self.valid_until.is_none_or(|u| at < u)
    }
}

/// The marking-definition ids of `object_marking_refs` then of `granular_markings[*].marking_ref`.
fn marking_refs(obj: &Value) -> Vec<String> {
    let object_level = obj
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let granular = obj
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref").and_then(Value::as_str));
    object_level.chain(granular).map(str::to_owned).collect()
}

/// Why a JSON object is not an indicator the matcher can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IndicatorError(pub String);

impl Indicator {
    /// Reads the fields from a STIX 2.1 `indicator`. Returns `Ok(None)` for objects of other
    /// types (bundles carry many).
    pub fn from_stix(obj: &Value) -> Result<Option<Indicator>, IndicatorError> {
        if obj.get("type").and_then(Value::as_str) != Some("indicator") {
            return Ok(None);
        }
        let s = |k: &str| obj.get(k).and_then(Value::as_str);
        let id = s("id").ok_or_else(|| IndicatorError("an indicator without an `id`".into()))?;
        let need = |k: &str| s(k).ok_or_else(|| IndicatorError(format!("{id}: no string `{k}`")));
        let time = |k: &str| -> Result<Option<i64>, IndicatorError> {
            match s(k) {
                None => Ok(None),
                Some(t) => parse_timestamp(t)
                    .map(Some)
                    .ok_or_else(|| IndicatorError(format!("{id}: `{k}` {t:?} is not a timestamp"))),
            }
        };
        let modified = time("modified")?;
        let created = time("created")?;
        Ok(Some(Indicator {
            id: id.to_owned(),
            name: s("name").map(str::to_owned),
            pattern: need("pattern")?.to_owned(),
            pattern_type: need("pattern_type").unwrap_or("stix").to_owned(),
            valid_from: time("valid_from")?,
            valid_until: time("valid_until")?,
            revoked: obj.get("revoked").and_then(Value::as_bool).unwrap_or(false),
            added: modified.or(created),
            marking_refs: marking_refs(obj),
        }))
    }

    /// Whether the indicator is in force at `at` (nanoseconds): not revoked, and
    /// `valid_from ≤ at < valid_until` (a missing bound does not limit).
    pub fn active_at(&self, at: i64) -> bool {
        self.view().active_at(at)
    }

    /// The fields the compiler reads, borrowed.
    pub fn view(&self) -> IndicatorRef<'_> {
        IndicatorRef {
            id: &self.id,
            name: self.name.as_deref(),
            pattern: &self.pattern,
            pattern_type: &self.pattern_type,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            revoked: self.revoked,
            added: self.added,
        }
    }
}

/// Reads every indicator of a STIX document: a bundle, an array of objects, a TAXII envelope
/// (`objects`), or one object. Problems with single objects are returned beside the rest.
pub fn indicators_from_document(doc: &Value) -> (Vec<Indicator>, Vec<IndicatorError>) {
    let objects: Vec<&Value> = match doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("objects").and_then(Value::as_array) {
            Some(a) => a.iter().collect(),
            None => vec![doc],
        },
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for o in objects {
        match Indicator::from_stix(o) {
            Ok(Some(i)) => out.push(i),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_judges_activity() {
        let doc = json!({"type":"bundle","id":"bundle--1","objects":[
            {"type":"indicator","id":"indicator--a","name":"C2","pattern":"[ipv4-addr:value = '1.2.3.4']",
             "pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","valid_until":"2025-01-01T00:00:00Z",
             "created":"2024-01-01T00:00:00Z","modified":"2024-02-01T00:00:00Z"},
            {"type":"malware","id":"malware--b"},
            {"type":"indicator","id":"indicator--c","pattern_type":"stix"},
        ]});
        let (ind, errs) = indicators_from_document(&doc);
        assert_eq!(ind.len(), 1);
        assert_eq!(
            errs,
            vec![IndicatorError("indicator--c: no string `pattern`".into())]
        );
        let i = &ind[0];
        assert!(i.marking_refs.is_empty());
        assert_eq!(i.added, parse_timestamp("2024-02-01T00:00:00Z"));
        assert!(i.active_at(parse_timestamp("2024-06-01T00:00:00Z").unwrap()));
        assert!(!i.active_at(parse_timestamp("2025-01-01T00:00:00Z").unwrap()));
        assert!(!i.active_at(parse_timestamp("2023-12-31T23:59:59Z").unwrap()));
    }

    #[test]
    fn granular_markings_are_markings_too() {
        let o = json!({"type":"indicator","id":"indicator--a","pattern":"[ipv4-addr:value = '1.2.3.4']",
            "pattern_type":"stix","object_marking_refs":["marking-definition--g"],
            "granular_markings":[{"selectors":["pattern"],"marking_ref":"marking-definition--r"},
                                 {"selectors":["name"],"lang":"fr"}]});
        let i = Indicator::from_stix(&o).unwrap().unwrap();
        assert_eq!(
            i.marking_refs,
            ["marking-definition--g", "marking-definition--r"]
        );
    }
}
