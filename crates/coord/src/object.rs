//! Common properties of the objects this crate writes, and small helpers shared by the builders
//! and readers.

use serde_json::{Map, Value, json};
use stix::Timestamp;
use stix::id::Identifier;
use uuid::Uuid;

use crate::error::{BuildError, ReadError};

/// The common properties of an SDO or SCO written by a builder. The caller supplies the UUID and
/// the timestamps (this crate has no clock and no random source).
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    /// The UUID part of the id (a v4 for SDOs; ignored for SCOs whose id is deterministic).
    pub uuid: Uuid,
    /// `created`.
    pub created: Timestamp,
    /// `modified`; `created` when `None`.
    pub modified: Option<Timestamp>,
    /// `created_by_ref` (an `identity`).
    pub created_by_ref: Option<String>,
    /// `object_marking_refs` (`marking-definition`s, e.g. [`stix::tlp::TLP2_AMBER`]).
    pub object_marking_refs: Vec<String>,
    /// `labels`.
    pub labels: Vec<String>,
    /// `confidence` (0–100).
    pub confidence: Option<u8>,
    /// `external_references`, written as given.
    pub external_references: Vec<Value>,
}

impl Common {
    /// Common properties with only the required parts set.
    pub fn new(uuid: Uuid, created: Timestamp) -> Common {
        Common {
            uuid,
            created,
            modified: None,
            created_by_ref: None,
            object_marking_refs: Vec::new(),
            labels: Vec::new(),
            confidence: None,
            external_references: Vec::new(),
        }
    }

    /// Sets `created_by_ref`.
    pub fn by(mut self, identity: impl Into<String>) -> Common {
        self.created_by_ref = Some(identity.into());
        self
    }

    /// Adds a marking (e.g. a TLP marking-definition id).
    pub fn marked(mut self, marking: impl Into<String>) -> Common {
        self.object_marking_refs.push(marking.into());
        self
    }

    /// The id this object gets.
    pub fn id(&self, object_type: &str) -> String {
        format!("{object_type}--{}", self.uuid)
    }

    /// Starts an SDO: `type`, `spec_version`, `id`, `created`, `modified` and the optional
    /// common properties, checked.
    pub(crate) fn sdo(&self, object_type: &'static str) -> Result<Map<String, Value>, BuildError> {
        let mut m = Map::new();
        m.insert("type".into(), json!(object_type));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(self.id(object_type)));
        if let Some(by) = &self.created_by_ref {
            check_ref(object_type, "created_by_ref", by, &["identity"])?;
            m.insert("created_by_ref".into(), json!(by));
        }
        let created = self.created.with_precision(self.created.precision().max(3));
        let modified = self.modified.unwrap_or(self.created);
        if modified < self.created {
            return Err(BuildError::invalid(
                object_type,
                "modified",
                "must not be earlier than `created`",
            ));
        }
        let modified = modified.with_precision(modified.precision().max(3));
        m.insert("created".into(), json!(created.to_string()));
        m.insert("modified".into(), json!(modified.to_string()));
        self.optional(object_type, &mut m)?;
        Ok(m)
    }

    /// Starts an SCO (no `created`/`modified`): `type`, `spec_version`, markings.
    pub(crate) fn sco(&self, object_type: &'static str) -> Result<Map<String, Value>, BuildError> {
        let mut m = Map::new();
        m.insert("type".into(), json!(object_type));
        m.insert("spec_version".into(), json!("2.1"));
        self.markings(object_type, &mut m)?;
        Ok(m)
    }

    /// `object_marking_refs`, each checked to name a marking definition.
    fn markings(
        &self,
        object_type: &'static str,
        m: &mut Map<String, Value>,
    ) -> Result<(), BuildError> {
        if !self.object_marking_refs.is_empty() {
            for r in &self.object_marking_refs {
                check_ref(
                    object_type,
                    "object_marking_refs",
                    r,
                    &["marking-definition"],
                )?;
            }
            m.insert(
                "object_marking_refs".into(),
                json!(self.object_marking_refs),
            );
        }
        Ok(())
    }

    fn optional(
        &self,
        object_type: &'static str,
        m: &mut Map<String, Value>,
    ) -> Result<(), BuildError> {
        if !self.labels.is_empty() {
            m.insert("labels".into(), json!(self.labels));
        }
        if let Some(c) = self.confidence {
            if c > 100 {
                return Err(BuildError::invalid(
                    object_type,
                    "confidence",
                    "must be 0–100",
                ));
            }
            m.insert("confidence".into(), json!(c));
        }
        if !self.external_references.is_empty() {
            m.insert(
                "external_references".into(),
                Value::Array(self.external_references.clone()),
            );
        }
        self.markings(object_type, m)
    }
}

/// Checks that `value` is a STIX identifier of one of `types` (any type when `types` is empty).
pub(crate) fn check_ref(
    object: &'static str,
    property: &'static str,
    value: &str,
    types: &[&str],
) -> Result<(), BuildError> {
    let Some(id) = Identifier::parse(value) else {
        return Err(BuildError::invalid(
            object,
            property,
            format!("`{value}` is not a STIX identifier"),
        ));
    };
    if !types.is_empty() && !types.contains(&id.object_type) {
        return Err(BuildError::invalid(
            object,
            property,
            format!("`{value}` must refer to {}", types.join(" or ")),
        ));
    }
    Ok(())
}

/// Checks every identifier of a list.
pub(crate) fn check_refs(
    object: &'static str,
    property: &'static str,
    values: &[String],
    types: &[&str],
) -> Result<(), BuildError> {
    values
        .iter()
        .try_for_each(|v| check_ref(object, property, v, types))
}

/// Checks a 0–100 integer.
pub(crate) fn check_percent(
    object: &'static str,
    property: &'static str,
    value: Option<u8>,
) -> Result<(), BuildError> {
    match value {
        Some(v) if v > 100 => Err(BuildError::invalid(object, property, "must be 0–100")),
        _ => Ok(()),
    }
}

/// Checks `start <= end` when both are present.
pub(crate) fn check_order(
    object: &'static str,
    start: Option<&Timestamp>,
    end: Option<&Timestamp>,
    end_name: &'static str,
) -> Result<(), BuildError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(BuildError::invalid(
            object,
            end_name,
            "must not be earlier than the start",
        )),
        _ => Ok(()),
    }
}

/// Inserts `key: value` when the option is set.
pub(crate) fn put<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(v) = value {
        m.insert(key.into(), json!(v));
    }
}

/// Inserts `key: [..]` when the list is not empty.
pub(crate) fn put_list<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, value: &[T]) {
    if !value.is_empty() {
        m.insert(key.into(), json!(value));
    }
}

/// Checks the object's type and returns its map.
pub(crate) fn expect_type<'a>(
    value: &'a Value,
    expected: &'static str,
) -> Result<&'a Map<String, Value>, ReadError> {
    let map = value.as_object().ok_or(ReadError::NotAnObject)?;
    let found = map.get("type").and_then(Value::as_str).unwrap_or("");
    if found != expected {
        return Err(ReadError::WrongType {
            expected,
            found: found.to_owned(),
        });
    }
    Ok(map)
}

/// A required string property.
pub(crate) fn req_str(map: &Map<String, Value>, key: &str) -> Result<String, ReadError> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ReadError::Invalid {
            property: format!("/{key}"),
            reason: "must be a string".into(),
        }),
        None => Err(ReadError::Missing(key.to_owned())),
    }
}

/// An optional string property (a wrong shape is an error).
pub(crate) fn opt_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ReadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ReadError::Invalid {
            property: format!("/{key}"),
            reason: "must be a string".into(),
        }),
    }
}

/// An optional list of strings (a single string is accepted as a list of one).
pub(crate) fn str_list(map: &Map<String, Value>, key: &str) -> Result<Vec<String>, ReadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ReadError::Invalid {
                        property: format!("/{key}/{i}"),
                        reason: "must be a string".into(),
                    })
            })
            .collect(),
        Some(_) => Err(ReadError::Invalid {
            property: format!("/{key}"),
            reason: "must be a list of strings".into(),
        }),
    }
}

/// An optional timestamp.
pub(crate) fn opt_ts(map: &Map<String, Value>, key: &str) -> Result<Option<Timestamp>, ReadError> {
    match opt_str(map, key)? {
        None => Ok(None),
        Some(s) => Timestamp::parse(&s)
            .map(Some)
            .map_err(|e| ReadError::Invalid {
                property: format!("/{key}"),
                reason: e.to_string(),
            }),
    }
}

/// An optional 0–100 integer.
pub(crate) fn opt_percent(map: &Map<String, Value>, key: &str) -> Result<Option<u8>, ReadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= 100 => Ok(Some(n as u8)),
            _ => Err(ReadError::Invalid {
                property: format!("/{key}"),
                reason: "must be an integer 0–100".into(),
            }),
        },
    }
}

/// The `extension-definition--…` body of an object's `extensions`, if present.
pub(crate) fn extension<'a>(
    map: &'a Map<String, Value>,
    id: &str,
) -> Option<&'a Map<String, Value>> {
    map.get("extensions")?.get(id)?.as_object()
}

/// `{"extension-definition--…": {"extension_type": "new-sdo"}}` and the like.
pub(crate) fn marker(id: &str, extension_type: &str) -> Value {
    let mut ext = Map::new();
    ext.insert(id.into(), json!({ "extension_type": extension_type }));
    Value::Object(ext)
}

/// The common header of an object read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `id`.
    pub id: String,
    /// `created` (absent on SCOs).
    pub created: Option<Timestamp>,
    /// `modified` (absent on SCOs).
    pub modified: Option<Timestamp>,
    /// `created_by_ref`.
    pub created_by_ref: Option<String>,
    /// `object_marking_refs`.
    pub object_marking_refs: Vec<String>,
}

/// What a reader returns: the header, the typed body, and what the tolerant reader forgave
/// (each a human sentence; empty for objects written by a strict writer).
#[derive(Debug, Clone, PartialEq)]
pub struct Read<T> {
    /// Common properties.
    pub header: Header,
    /// The typed properties.
    pub body: T,
    /// Deviations accepted on read.
    pub warnings: Vec<String>,
}

pub(crate) fn header(map: &Map<String, Value>) -> Result<Header, ReadError> {
    Ok(Header {
        id: req_str(map, "id")?,
        created: opt_ts(map, "created")?,
        modified: opt_ts(map, "modified")?,
        created_by_ref: opt_str(map, "created_by_ref")?,
        object_marking_refs: str_list(map, "object_marking_refs")?,
    })
}

/// Deserialises a typed body from a JSON object (unknown properties are ignored here and kept
/// by the caller, who holds the whole object).
pub(crate) fn body<T: serde::de::DeserializeOwned>(
    map: &Map<String, Value>,
) -> Result<T, ReadError> {
    serde_json::from_value(Value::Object(map.clone())).map_err(|e| ReadError::Invalid {
        property: String::new(),
        reason: e.to_string(),
    })
}

/// Writes a new-sdo (or, with `sco`, a new-sco) object: the common properties, the body's
/// properties, and the extension marker.
pub(crate) fn new_object<T: serde::Serialize>(
    object_type: &'static str,
    extension_id: &str,
    body: &T,
    common: &Common,
    sco: bool,
) -> Result<Map<String, Value>, BuildError> {
    let mut m = if sco {
        common.sco(object_type)?
    } else {
        common.sdo(object_type)?
    };
    merge_body(object_type, &mut m, body)?;
    m.insert(
        "extensions".into(),
        marker(extension_id, if sco { "new-sco" } else { "new-sdo" }),
    );
    Ok(m)
}

/// Copies a serialised body's properties into `m`.
pub(crate) fn merge_body<T: serde::Serialize>(
    object_type: &'static str,
    m: &mut Map<String, Value>,
    body: &T,
) -> Result<(), BuildError> {
    match serde_json::to_value(body) {
        Ok(Value::Object(b)) => {
            m.extend(b);
            Ok(())
        }
        Ok(_) => Err(BuildError::invalid(
            object_type,
            "(body)",
            "is not an object",
        )),
        Err(e) => Err(BuildError::invalid(object_type, "(body)", e.to_string())),
    }
}

/// Serialises an extension body with its `extension_type`.
pub(crate) fn extension_body<T: serde::Serialize>(
    object_type: &'static str,
    extension_type: &str,
    body: &T,
) -> Result<Value, BuildError> {
    let mut m = Map::new();
    m.insert("extension_type".into(), json!(extension_type));
    merge_body(object_type, &mut m, body)?;
    Ok(Value::Object(m))
}

/// A `relationship` SRO, with its reference types checked.
pub fn relationship(
    common: &Common,
    relationship_type: &str,
    source_ref: &str,
    target_ref: &str,
) -> Result<Value, BuildError> {
    const T: &str = "relationship";
    check_ref(T, "source_ref", source_ref, &[])?;
    check_ref(T, "target_ref", target_ref, &[])?;
    let valid = !relationship_type.is_empty()
        && relationship_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(BuildError::invalid(
            T,
            "relationship_type",
            "must be lower-case letters, digits and hyphens",
        ));
    }
    let mut m = common.sdo(T)?;
    m.insert("relationship_type".into(), json!(relationship_type));
    m.insert("source_ref".into(), json!(source_ref));
    m.insert("target_ref".into(), json!(target_ref));
    Ok(Value::Object(m))
}
