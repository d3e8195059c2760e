//! Object metadata: the few facts about a STIX object that a store indexes and an access policy
//! decides on — id, type, spec version, TAXII version, effective TLP, creator, revocation, and the
//! ids a relationship or sighting points to — read from the object's JSON without copying it.
//!
//! Reading metadata is not validation: it only requires what it reads (a string `type`, a string
//! `id`) and reports the first property it cannot use, so that a store never indexes a guess.

use serde_json::Value;

use crate::tlp::{self, TlpLevel};

/// Why an object's metadata could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The value is not a JSON object.
    #[error("a STIX object must be a JSON object")]
    NotAnObject,
    /// A required property is absent.
    #[error("property `{0}` is missing")]
    Missing(&'static str),
    /// A property has the wrong JSON type or an unusable value.
    #[error("property `{property}` {reason}")]
    Invalid {
        /// The property.
        property: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The STIX specification version an object follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecVersion {
    /// STIX 2.0 (objects that carry timestamps but no `spec_version`).
    V2_0,
    /// STIX 2.1.
    V2_1,
}

impl SpecVersion {
    /// `"2.0"` or `"2.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V2_0 => "2.0",
            SpecVersion::V2_1 => "2.1",
        }
    }

    /// Parses `"2.0"` or `"2.1"`.
    pub fn parse(s: &str) -> Option<SpecVersion> {
        match s {
            "2.0" => Some(SpecVersion::V2_0),
            "2.1" => Some(SpecVersion::V2_1),
            _ => None,
        }
    }

    /// The STIX media type of this version, e.g. `application/stix+json;version=2.1`.
    pub fn media_type(self) -> &'static str {
        match self {
            SpecVersion::V2_0 => "application/stix+json;version=2.0",
            SpecVersion::V2_1 => "application/stix+json;version=2.1",
        }
    }
}

/// The properties of a relationship or sighting that point to other objects.
const EDGE_REF_PROPERTIES: &[&str] = &[
    "source_ref",
    "target_ref",
    "sighting_of_ref",
    "observed_data_refs",
    "where_sighted_refs",
];

/// What a store and an access policy need to know about one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's `id`, e.g. `indicator--…`.
    pub id: String,
    /// The object's `type`.
    pub object_type: String,
    /// The spec version: the `spec_version` property; without it, 2.1 for objects with neither
    /// `created` nor `modified` (2.1 SCOs), else 2.0 (what the TAXII reference server does).
    pub spec_version: SpecVersion,
    /// `created`, verbatim.
    pub created: Option<String>,
    /// `modified`, verbatim.
    pub modified: Option<String>,
    /// The most restrictive TLP marking among `object_marking_refs` and the `marking_ref`s of
    /// `granular_markings` (whatever their selectors), or `None` when unmarked.
    pub tlp: Option<TlpLevel>,
    /// `created_by_ref`, verbatim.
    pub created_by_ref: Option<String>,
    /// `revoked` (false when absent).
    pub revoked: bool,
    /// For relationships and sightings: every id the object points to (`source_ref`, `target_ref`,
    /// `sighting_of_ref`, `observed_data_refs`, `where_sighted_refs`), without duplicates.
    pub edge_refs: Vec<String>,
}

impl ObjectMeta {
    /// The object's TAXII version timestamp when it has one: `modified`, else `created`. Objects
    /// with neither (most SCOs) are versioned by the `date_added` the server gives them.
    pub fn taxii_version(&self) -> Option<&str> {
        self.modified.as_deref().or(self.created.as_deref())
    }

    /// Whether this object is a relationship or a sighting, whose visibility depends on the objects
    /// it points to.
    pub fn is_edge(&self) -> bool {
        matches!(self.object_type.as_str(), "relationship" | "sighting")
    }
}

fn optional_str(
    obj: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, MetaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(MetaError::Invalid {
            property: key,
            reason: "must be a string",
        }),
    }
}

/// Reads the metadata of one STIX object.
pub fn meta_of(value: &Value) -> Result<ObjectMeta, MetaError> {
    let obj = value.as_object().ok_or(MetaError::NotAnObject)?;
    let object_type = optional_str(obj, "type")?.ok_or(MetaError::Missing("type"))?;
    let id = optional_str(obj, "id")?.ok_or(MetaError::Missing("id"))?;
    let created = optional_str(obj, "created")?;
    let modified = optional_str(obj, "modified")?;
    let spec_version = match obj.get("spec_version") {
        Some(Value::String(s)) => SpecVersion::parse(s).ok_or(MetaError::Invalid {
            property: "spec_version",
            reason: "must be \"2.0\" or \"2.1\"",
        })?,
        Some(_) => {
            return Err(MetaError::Invalid {
                property: "spec_version",
                reason: "must be a string",
            });
        }
        None if created.is_none() && modified.is_none() => SpecVersion::V2_1,
        None => SpecVersion::V2_0,
    };
    let mut marking_ids: Vec<&str> = Vec::new();
    match obj.get("object_marking_refs") {
        None => {}
        Some(Value::Array(refs)) => {
            for r in refs {
                marking_ids.push(r.as_str().ok_or(MetaError::Invalid {
                    property: "object_marking_refs",
                    reason: "must be a list of identifiers",
                })?);
            }
        }
        Some(_) => {
            return Err(MetaError::Invalid {
                property: "object_marking_refs",
                reason: "must be a list of identifiers",
            });
        }
    }
    // Granular markings count whatever their selectors: a TLP:RED part makes the object TLP:RED.
    match obj.get("granular_markings") {
        None => {}
        Some(Value::Array(markings)) => {
            for g in markings {
                let g = g.as_object().ok_or(MetaError::Invalid {
                    property: "granular_markings",
                    reason: "must be a list of granular markings",
                })?;
                match g.get("marking_ref") {
                    None => {}
                    Some(Value::String(r)) => marking_ids.push(r),
                    Some(_) => {
                        return Err(MetaError::Invalid {
                            property: "granular_markings",
                            reason: "has a `marking_ref` that is not an identifier",
                        });
                    }
                }
            }
        }
        Some(_) => {
            return Err(MetaError::Invalid {
                property: "granular_markings",
                reason: "must be a list of granular markings",
            });
        }
    }
    let tlp = tlp::effective_tlp(marking_ids);
    let created_by_ref = optional_str(obj, "created_by_ref")?;
    let revoked = match obj.get("revoked") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(MetaError::Invalid {
                property: "revoked",
                reason: "must be a boolean",
            });
        }
    };
    let mut edge_refs: Vec<String> = Vec::new();
    if matches!(object_type.as_str(), "relationship" | "sighting") {
        for key in EDGE_REF_PROPERTIES {
            match obj.get(*key) {
                None => {}
                Some(Value::String(s)) => edge_refs.push(s.clone()),
                Some(Value::Array(items)) => {
                    for item in items {
                        let s = item.as_str().ok_or(MetaError::Invalid {
                            property: key,
                            reason: "must be a list of identifiers",
                        })?;
                        edge_refs.push(s.to_owned());
                    }
                }
                Some(_) => {
                    return Err(MetaError::Invalid {
                        property: key,
                        reason: "must be an identifier or a list of identifiers",
                    });
                }
            }
        }
        edge_refs.sort();
        edge_refs.dedup();
    }
    Ok(ObjectMeta {
        id,
        object_type,
        spec_version,
        created,
        modified,
        tlp,
        created_by_ref,
        revoked,
        edge_refs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_indicator() {
        let m = meta_of(&json!({
            "type": "indicator", "id": "indicator--1", "spec_version": "2.1",
            "created": "2020-01-01T00:00:00Z", "modified": "2021-01-01T00:00:00.123Z",
            "object_marking_refs": [tlp::TLP2_GREEN, tlp::TLP1_RED],
            "created_by_ref": "identity--x", "revoked": true
        }))
        .unwrap();
        assert_eq!(m.id, "indicator--1");
        assert_eq!(m.spec_version, SpecVersion::V2_1);
        assert_eq!(m.taxii_version(), Some("2021-01-01T00:00:00.123Z"));
        assert_eq!(m.tlp, Some(TlpLevel::Red));
        assert_eq!(m.created_by_ref.as_deref(), Some("identity--x"));
        assert!(m.revoked);
        assert!(m.edge_refs.is_empty());
    }

    #[test]
    fn granular_markings_decide_the_tlp_too() {
        let m = meta_of(&json!({
            "type": "indicator", "id": "indicator--1",
            "object_marking_refs": [tlp::TLP2_GREEN],
            "granular_markings": [
                {"selectors": ["description"], "marking_ref": tlp::TLP2_RED},
                {"selectors": ["name"], "lang": "fr"}
            ]
        }))
        .unwrap();
        assert_eq!(m.tlp, Some(TlpLevel::Red));
        let m = meta_of(&json!({"type": "indicator", "id": "indicator--1",
            "granular_markings": [{"selectors": ["pattern"], "marking_ref": tlp::TLP2_AMBER_STRICT}]}))
        .unwrap();
        assert_eq!(m.tlp, Some(TlpLevel::AmberStrict));
        for bad in [json!("x"), json!(["x"]), json!([{"marking_ref": 5}])] {
            assert!(matches!(
                meta_of(
                    &json!({"type": "indicator", "id": "indicator--1", "granular_markings": bad})
                ),
                Err(MetaError::Invalid {
                    property: "granular_markings",
                    ..
                })
            ));
        }
    }

    #[test]
    fn spec_version_defaults_follow_the_reference_server() {
        let sco = meta_of(&json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4"}))
            .unwrap();
        assert_eq!(sco.spec_version, SpecVersion::V2_1);
        assert_eq!(sco.taxii_version(), None);
        let old = meta_of(
            &json!({"type": "malware", "id": "malware--1", "created": "2017-01-01T00:00:00Z"}),
        )
        .unwrap();
        assert_eq!(old.spec_version, SpecVersion::V2_0);
        assert_eq!(old.taxii_version(), Some("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn edges_list_every_endpoint_once() {
        let s = meta_of(&json!({
            "type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--a",
            "observed_data_refs": ["observed-data--b", "observed-data--b"], "where_sighted_refs": ["identity--c"]
        }))
        .unwrap();
        assert!(s.is_edge());
        assert_eq!(
            s.edge_refs,
            vec!["identity--c", "indicator--a", "observed-data--b"]
        );
        let r = meta_of(&json!({"type": "relationship", "id": "relationship--1", "source_ref": "a--1", "target_ref": "b--2"})).unwrap();
        assert_eq!(r.edge_refs, vec!["a--1", "b--2"]);
    }

    #[test]
    fn refuses_what_it_cannot_index() {
        assert_eq!(meta_of(&json!([])), Err(MetaError::NotAnObject));
        assert_eq!(
            meta_of(&json!({"id": "x--1"})),
            Err(MetaError::Missing("type"))
        );
        assert!(matches!(
            meta_of(&json!({"type": "x", "id": "x--1", "spec_version": "3.0"})),
            Err(MetaError::Invalid {
                property: "spec_version",
                ..
            })
        ));
        assert!(matches!(
            meta_of(&json!({"type": "relationship", "id": "relationship--1", "source_ref": 5})),
            Err(MetaError::Invalid {
                property: "source_ref",
                ..
            })
        ));
    }
}
