//! Traffic Light Protocol markings: the TLP 1.0 marking definitions predefined by STIX 2.1
//! (§7.2.1.4) and the TLP 2.0 ones OASIS publishes as a property extension, known by id, and an
//! object's effective TLP (the most restrictive of its markings, object-level and granular).

use serde_json::{Value, json};

/// A TLP level, ordered from least to most restrictive (`Clear < Green < Amber < AmberStrict < Red`).
///
/// TLP 1.0 WHITE is [`TlpLevel::Clear`]; TLP 1.0 AMBER is [`TlpLevel::Amber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlpLevel {
    /// TLP:CLEAR (TLP 1.0: WHITE) — may be shared publicly.
    Clear,
    /// TLP:GREEN — the community, not public.
    Green,
    /// TLP:AMBER — the recipient's organisation and its clients.
    Amber,
    /// TLP:AMBER+STRICT — the recipient's organisation only.
    AmberStrict,
    /// TLP:RED — named recipients only.
    Red,
}

impl TlpLevel {
    /// All levels, least restrictive first.
    pub const ALL: [TlpLevel; 5] = [
        TlpLevel::Clear,
        TlpLevel::Green,
        TlpLevel::Amber,
        TlpLevel::AmberStrict,
        TlpLevel::Red,
    ];

    /// The TLP 2.0 name, e.g. `TLP:AMBER+STRICT`.
    pub fn name(self) -> &'static str {
        match self {
            TlpLevel::Clear => "TLP:CLEAR",
            TlpLevel::Green => "TLP:GREEN",
            TlpLevel::Amber => "TLP:AMBER",
            TlpLevel::AmberStrict => "TLP:AMBER+STRICT",
            TlpLevel::Red => "TLP:RED",
        }
    }

    /// The lower-case value used in the TLP 2.0 extension (`clear`, `amber+strict`, …).
    pub fn value(self) -> &'static str {
        match self {
            TlpLevel::Clear => "clear",
            TlpLevel::Green => "green",
            TlpLevel::Amber => "amber",
            TlpLevel::AmberStrict => "amber+strict",
            TlpLevel::Red => "red",
        }
    }

    /// Parses a level from `clear`, `TLP:CLEAR`, `white`, `amber+strict`, … (case-insensitive).
    pub fn parse(s: &str) -> Option<TlpLevel> {
        let s = s.trim();
        let s = s
            .strip_prefix("TLP:")
            .or_else(|| s.strip_prefix("tlp:"))
            .unwrap_or(s);
        match s.to_ascii_lowercase().as_str() {
            "clear" | "white" => Some(TlpLevel::Clear),
            "green" => Some(TlpLevel::Green),
            "amber" => Some(TlpLevel::Amber),
            "amber+strict" | "amber-strict" | "amber_strict" => Some(TlpLevel::AmberStrict),
            "red" => Some(TlpLevel::Red),
            _ => None,
        }
    }

    /// The id of the TLP 2.0 marking definition for this level.
    pub fn marking_id(self) -> &'static str {
        match self {
            TlpLevel::Clear => TLP2_CLEAR,
            TlpLevel::Green => TLP2_GREEN,
            TlpLevel::Amber => TLP2_AMBER,
            TlpLevel::AmberStrict => TLP2_AMBER_STRICT,
            TlpLevel::Red => TLP2_RED,
        }
    }

    /// The TLP 2.0 marking-definition object for this level, exactly as OASIS publishes it.
    pub fn marking_definition(self) -> Value {
        json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id(),
            "created": "2022-10-01T00:00:00.000Z",
            "name": self.name(),
            "extensions": {
                TLP2_EXTENSION_ID: {
                    "extension_type": "property-extension",
                    "tlp_2_0": self.value(),
                }
            }
        })
    }
}

impl std::fmt::Display for TlpLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The id of the TLP 2.0 extension definition.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// TLP 2.0 CLEAR marking definition id.
pub const TLP2_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
/// TLP 2.0 GREEN marking definition id.
pub const TLP2_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
/// TLP 2.0 AMBER marking definition id.
pub const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
/// TLP 2.0 AMBER+STRICT marking definition id.
pub const TLP2_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
/// TLP 2.0 RED marking definition id.
pub const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// TLP 1.0 WHITE marking definition id (STIX 2.1 §7.2.1.4).
pub const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
/// TLP 1.0 GREEN marking definition id.
pub const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
/// TLP 1.0 AMBER marking definition id.
pub const TLP1_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
/// TLP 1.0 RED marking definition id.
pub const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// Which TLP version a known marking definition belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlpVersion {
    /// TLP 1.0, predefined in STIX 2.1.
    V1,
    /// TLP 2.0, the OASIS property extension.
    V2,
}

/// The TLP level of a known TLP marking-definition id (TLP 1.0 or 2.0), or `None` for any other id.
pub fn level_of_marking(id: &str) -> Option<TlpLevel> {
    marking_info(id).map(|(level, _)| level)
}

/// The TLP level and version of a known TLP marking-definition id.
pub fn marking_info(id: &str) -> Option<(TlpLevel, TlpVersion)> {
    Some(match id {
        TLP2_CLEAR => (TlpLevel::Clear, TlpVersion::V2),
        TLP2_GREEN => (TlpLevel::Green, TlpVersion::V2),
        TLP2_AMBER => (TlpLevel::Amber, TlpVersion::V2),
        TLP2_AMBER_STRICT => (TlpLevel::AmberStrict, TlpVersion::V2),
        TLP2_RED => (TlpLevel::Red, TlpVersion::V2),
        TLP1_WHITE => (TlpLevel::Clear, TlpVersion::V1),
        TLP1_GREEN => (TlpLevel::Green, TlpVersion::V1),
        TLP1_AMBER => (TlpLevel::Amber, TlpVersion::V1),
        TLP1_RED => (TlpLevel::Red, TlpVersion::V1),
        _ => return None,
    })
}

/// The most restrictive TLP level among marking-definition ids, or `None` when none is a TLP marking.
pub fn effective_tlp<'a>(marking_refs: impl IntoIterator<Item = &'a str>) -> Option<TlpLevel> {
    marking_refs.into_iter().filter_map(level_of_marking).max()
}

/// The marking-definition ids named by an object's granular markings (`granular_markings[*].marking_ref`,
/// whatever their selectors; a granular marking that carries only `lang` names none).
pub fn granular_marking_refs(object: &Value) -> impl Iterator<Item = &str> {
    object
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref").and_then(Value::as_str))
}

/// Every marking-definition id that decides an object's TLP: its `object_marking_refs` and the
/// `marking_ref` of each of its `granular_markings`.
pub fn marking_refs_of(object: &Value) -> impl Iterator<Item = &str> {
    object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .chain(granular_marking_refs(object))
}

/// The effective TLP of a STIX object given as JSON: the most restrictive TLP marking among its
/// `object_marking_refs` and its granular markings (any selector). A part of an object marked
/// TLP:RED makes the whole object TLP:RED: whoever may not see the part does not receive the object.
pub fn effective_tlp_of(object: &Value) -> Option<TlpLevel> {
    effective_tlp(marking_refs_of(object))
}

/// The five TLP 2.0 marking definitions plus the TLP 2.0 extension definition, as OASIS publishes them.
pub fn tlp2_objects() -> Vec<Value> {
    let mut out = vec![json!({
        "id": TLP2_EXTENSION_ID,
        "type": "extension-definition",
        "spec_version": "2.1",
        "name": "TLP 2.0",
        "description": "This defines TLP 2.0 as a STIX extension",
        "created": "2022-10-01T00:00:00.000Z",
        "modified": "2022-10-01T00:00:00.000Z",
        "created_by_ref": "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
        "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/master/extension-definition-specifications/tlp-2.0",
        "version": "1.0.0",
        "extension_types": ["property-extension"]
    })];
    out.extend(TlpLevel::ALL.iter().map(|l| l.marking_definition()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_restrictive_marking_wins() {
        assert_eq!(
            effective_tlp([TLP2_GREEN, TLP1_RED, TLP2_AMBER]),
            Some(TlpLevel::Red)
        );
        assert_eq!(effective_tlp([TLP1_WHITE]), Some(TlpLevel::Clear));
        assert_eq!(
            effective_tlp([TLP2_AMBER_STRICT, TLP1_AMBER]),
            Some(TlpLevel::AmberStrict)
        );
        assert_eq!(
            effective_tlp(["marking-definition--00000000-0000-4000-8000-000000000000"]),
            None
        );
        let obj = json!({"object_marking_refs": [TLP2_CLEAR, TLP1_GREEN]});
        assert_eq!(effective_tlp_of(&obj), Some(TlpLevel::Green));
        assert_eq!(effective_tlp_of(&json!({"type": "indicator"})), None);
    }

    #[test]
    fn granular_markings_count_whatever_their_selectors() {
        let obj = json!({
            "object_marking_refs": [TLP2_GREEN],
            "granular_markings": [
                {"selectors": ["description"], "marking_ref": TLP2_RED},
                {"selectors": ["name"], "lang": "en"}
            ]
        });
        assert_eq!(effective_tlp_of(&obj), Some(TlpLevel::Red));
        let only_granular =
            json!({"granular_markings": [{"selectors": ["pattern"], "marking_ref": TLP1_AMBER}]});
        assert_eq!(effective_tlp_of(&only_granular), Some(TlpLevel::Amber));
        // A granular marking less restrictive than the object's does not loosen it.
        let looser = json!({"object_marking_refs": [TLP2_AMBER_STRICT],
            "granular_markings": [{"selectors": ["name"], "marking_ref": TLP2_CLEAR}]});
        assert_eq!(effective_tlp_of(&looser), Some(TlpLevel::AmberStrict));
        assert_eq!(
            marking_refs_of(&obj).collect::<Vec<_>>(),
            vec![TLP2_GREEN, TLP2_RED]
        );
    }

    #[test]
    fn names_parse_back() {
        for level in TlpLevel::ALL {
            assert_eq!(TlpLevel::parse(level.name()), Some(level));
            assert_eq!(TlpLevel::parse(level.value()), Some(level));
            assert_eq!(level_of_marking(level.marking_id()), Some(level));
        }
        assert_eq!(TlpLevel::parse("white"), Some(TlpLevel::Clear));
        assert_eq!(TlpLevel::parse("purple"), None);
    }
}
