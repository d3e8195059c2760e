//! The STIX 2.1 object model.
//!
//! Objects are kept as their JSON (`serde_json::Map`, in document order), so nothing a producer
//! wrote is ever lost: custom objects, custom properties and extensions round-trip byte for
//! meaning. [`StixObject`] adds typed access to what every part of Shieldwall asks (type, id,
//! versions, markings); [`ObjectType`] names every type STIX 2.1 defines and its category.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Timestamp;

/// The category of a STIX object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// STIX Domain Object.
    Sdo,
    /// STIX Relationship Object (`relationship`, `sighting`).
    Sro,
    /// STIX Cyber-observable Object.
    Sco,
    /// Meta object (`marking-definition`, `language-content`, `extension-definition`).
    Meta,
    /// The `bundle` wrapper.
    Bundle,
}

macro_rules! object_types {
    ($($variant:ident = $name:literal : $cat:ident,)*) => {
        /// Every object type STIX 2.1 defines: 19 SDOs, 2 SROs, 18 SCOs, 3 meta objects, bundle.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum ObjectType { $($variant,)* }

        impl ObjectType {
            /// All predefined types.
            pub const ALL: &'static [ObjectType] = &[$(ObjectType::$variant,)*];

            /// The type's name as it appears in `type`.
            pub fn name(self) -> &'static str {
                match self { $(ObjectType::$variant => $name,)* }
            }

            /// The predefined type with this name, or `None` for a custom type.
            pub fn from_name(name: &str) -> Option<ObjectType> {
                match name { $($name => Some(ObjectType::$variant),)* _ => None }
            }

            /// The category of the type.
            pub fn category(self) -> Category {
                match self { $(ObjectType::$variant => Category::$cat,)* }
            }
        }
    };
}

object_types! {
    AttackPattern = "attack-pattern": Sdo,
    Campaign = "campaign": Sdo,
    CourseOfAction = "course-of-action": Sdo,
    Grouping = "grouping": Sdo,
    Identity = "identity": Sdo,
    Incident = "incident": Sdo,
    Indicator = "indicator": Sdo,
    Infrastructure = "infrastructure": Sdo,
    IntrusionSet = "intrusion-set": Sdo,
    Location = "location": Sdo,
    Malware = "malware": Sdo,
    MalwareAnalysis = "malware-analysis": Sdo,
    Note = "note": Sdo,
    ObservedData = "observed-data": Sdo,
    Opinion = "opinion": Sdo,
    Report = "report": Sdo,
    ThreatActor = "threat-actor": Sdo,
    Tool = "tool": Sdo,
    Vulnerability = "vulnerability": Sdo,
    Relationship = "relationship": Sro,
    Sighting = "sighting": Sro,
    Artifact = "artifact": Sco,
    AutonomousSystem = "autonomous-system": Sco,
    Directory = "directory": Sco,
    DomainName = "domain-name": Sco,
    EmailAddr = "email-addr": Sco,
    EmailMessage = "email-message": Sco,
    File = "file": Sco,
    Ipv4Addr = "ipv4-addr": Sco,
    Ipv6Addr = "ipv6-addr": Sco,
    MacAddr = "mac-addr": Sco,
    Mutex = "mutex": Sco,
    NetworkTraffic = "network-traffic": Sco,
    Process = "process": Sco,
    Software = "software": Sco,
    Url = "url": Sco,
    UserAccount = "user-account": Sco,
    WindowsRegistryKey = "windows-registry-key": Sco,
    X509Certificate = "x509-certificate": Sco,
    MarkingDefinition = "marking-definition": Meta,
    LanguageContent = "language-content": Meta,
    ExtensionDefinition = "extension-definition": Meta,
    Bundle = "bundle": Bundle,
}

/// The category of any type name: predefined types by table; a custom type by the
/// `extension_type` of its `new-sdo` / `new-sco` / `new-sro` extension, else an SCO when it
/// has neither `created` nor `modified` (which every SDO and SRO carries), else an SDO.
pub fn category_of(type_name: &str, object: &Map<String, Value>) -> Category {
    if let Some(t) = ObjectType::from_name(type_name) {
        return t.category();
    }
    if let Some(Value::Object(exts)) = object.get("extensions") {
        for ext in exts.values() {
            match ext.get("extension_type").and_then(Value::as_str) {
                Some("new-sco") => return Category::Sco,
                Some("new-sro") => return Category::Sro,
                Some("new-sdo") => return Category::Sdo,
                _ => {}
            }
        }
    }
    if object.contains_key("created") || object.contains_key("modified") {
        Category::Sdo
    } else {
        Category::Sco
    }
}

/// One STIX object, losslessly: its JSON object in document order with typed accessors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StixObject {
    map: Map<String, Value>,
}

impl StixObject {
    /// Wraps a JSON value; `None` if it is not an object.
    pub fn from_value(value: Value) -> Option<StixObject> {
        match value {
            Value::Object(map) => Some(StixObject { map }),
            _ => None,
        }
    }

    /// The JSON object, every property included.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The JSON value (lossless: serialising it yields what was parsed).
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }

    /// `type`, if a string.
    pub fn type_name(&self) -> Option<&str> {
        self.map.get("type")?.as_str()
    }

    /// The predefined type, or `None` for a custom (or missing) type.
    pub fn object_type(&self) -> Option<ObjectType> {
        ObjectType::from_name(self.type_name()?)
    }

    /// The category (see [`category_of`]).
    pub fn category(&self) -> Option<Category> {
        Some(category_of(self.type_name()?, &self.map))
    }

    /// `id`, if a string.
    pub fn id(&self) -> Option<&str> {
        self.map.get("id")?.as_str()
    }

    /// A timestamp property, if present and valid.
    pub fn timestamp(&self, property: &str) -> Option<Timestamp> {
        Timestamp::parse(self.map.get(property)?.as_str()?).ok()
    }

    /// `created`, if present and valid.
    pub fn created(&self) -> Option<Timestamp> {
        self.timestamp("created")
    }

    /// `modified`, if present and valid.
    pub fn modified(&self) -> Option<Timestamp> {
        self.timestamp("modified")
    }

    /// The object's version as TAXII counts it: `modified`, else `created` (`None` for SCOs,
    /// whose version is the date they were added).
    pub fn version(&self) -> Option<Timestamp> {
        self.modified().or_else(|| self.created())
    }

    /// `created_by_ref`, if a string.
    pub fn created_by_ref(&self) -> Option<&str> {
        self.map.get("created_by_ref")?.as_str()
    }

    /// The string items of `object_marking_refs`.
    pub fn object_marking_refs(&self) -> impl Iterator<Item = &str> {
        self.map
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The marking-definition ids of the object's `granular_markings` (see
    /// [`crate::tlp::granular_marking_refs`]).
    pub fn granular_marking_refs(&self) -> impl Iterator<Item = &str> {
        self.map
            .get("granular_markings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("marking_ref").and_then(Value::as_str))
    }

    /// The effective TLP of the object: the most restrictive TLP among its object markings and its
    /// granular markings (see [`crate::tlp::effective_tlp_of`]).
    pub fn tlp(&self) -> Option<crate::tlp::TlpLevel> {
        crate::tlp::effective_tlp(
            self.object_marking_refs()
                .chain(self.granular_marking_refs()),
        )
    }

    /// Whether `revoked` is `true`.
    pub fn revoked(&self) -> bool {
        self.map
            .get("revoked")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_type_is_known_once() {
        let count = |c| ObjectType::ALL.iter().filter(|t| t.category() == c).count();
        assert_eq!(count(Category::Sdo), 19);
        assert_eq!(count(Category::Sro), 2);
        assert_eq!(count(Category::Sco), 18);
        assert_eq!(count(Category::Meta), 3);
        for t in ObjectType::ALL {
            assert_eq!(ObjectType::from_name(t.name()), Some(*t));
        }
    }

    #[test]
    fn lossless_and_typed() {
        let text = r#"{"type":"x-acme-thing","id":"x-acme-thing--4527e5de-8572-446a-a57a-706f15467461","created":"2021-02-20T09:16:08.989123Z","modified":"2021-02-20T09:16:08.98912Z","zeta":[1,2.5,{"deep":null}],"alpha":"a","extensions":{"extension-definition--1bba6c39-7ac1-40a2-819a-f33f8ea81a25":{"extension_type":"new-sco"}}}"#;
        let v: Value = crate::json::parse_str(text).unwrap();
        let obj: StixObject = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_string(&obj).unwrap(), text);
        assert_eq!(obj.category(), Some(Category::Sco));
        assert_eq!(obj.object_type(), None);
        assert!(obj.modified() < obj.created());
        assert_eq!(
            obj.version().unwrap().to_string(),
            "2021-02-20T09:16:08.98912Z"
        );
    }
}
