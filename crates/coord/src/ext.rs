//! Extension-definition identifiers, and the extension-definition objects and JSON schemas
//! Shieldwall ships (compiled in from `extensions/` at the repository root).
//!
//! The OASIS Incident Extension Suite (Incident Core 2.0.0 and its `event`, `impact` and `task`
//! objects) is used as OASIS publishes it; Shieldwall mints its own ids for what nobody has
//! published (FIMI objects named as DAD-CDM and OpenCTI name them, NIS2 classification,
//! assistance). Those ids are frozen: a breaking change gets a new id.

use serde_json::Value;

/// OASIS Incident Core extension (property-extension on `incident`), version 2.0.0.
pub const INCIDENT_CORE: &str = "extension-definition--ef765651-680c-498d-9894-99799f2fa126";
/// OASIS Event extension (new-sdo `event`).
pub const EVENT: &str = "extension-definition--4ca6de00-5b0d-45ef-a1dc-ea7279ea910e";
/// OASIS Impact extension (new-sdo `impact`).
pub const IMPACT: &str = "extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9";
/// OASIS Task extension (new-sdo `task`).
pub const TASK: &str = "extension-definition--2074a052-8be4-4932-849e-f5e7798e0030";
/// OpenCTI's global extension id (its new-SDO marker for `narrative`, `channel`, …); emitted
/// in addition to ours by the `opencti-compat` profile.
pub const OPENCTI: &str = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba";
/// OpenCTI's SCO extension id (its marker for `media-content`).
pub const OPENCTI_SCO: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";

/// Shieldwall `narrative` (new-sdo).
pub const NARRATIVE: &str = "extension-definition--b84e9cda-b644-44c0-9ca8-12f3c2ae2e1a";
/// Shieldwall `channel` (new-sdo).
pub const CHANNEL: &str = "extension-definition--17a983bf-c0ea-494d-884e-a4563923a6d8";
/// Shieldwall `media-content` (new-sco).
pub const MEDIA_CONTENT: &str = "extension-definition--fdfd8df9-7034-4589-9464-f441860931d5";
/// Shieldwall FIMI incident (property-extension on `incident`, beside [`INCIDENT_CORE`]).
pub const FIMI_INCIDENT: &str = "extension-definition--ca2b9403-5810-4a8a-b66a-95292bbb75cb";
/// Shieldwall critical-infrastructure entity (property-extension on `identity`: NIS2).
pub const CI_ENTITY: &str = "extension-definition--2e2869fb-43a0-42b1-80df-01ab4885eae8";
/// Shieldwall `assistance-request` (new-sdo).
pub const ASSISTANCE_REQUEST: &str = "extension-definition--dc05b838-ad30-4eca-9738-2e7467e3410c";
/// Shieldwall `assistance-offer` (new-sdo).
pub const ASSISTANCE_OFFER: &str = "extension-definition--d8163e2b-2272-4948-b6c7-c7fe25462c5c";
/// Shieldwall after-action report (property-extension on `report`).
pub const ASSISTANCE_REPORT: &str = "extension-definition--d08f666f-79d8-4391-a665-99c98ffc124b";

/// The identity that publishes the Shieldwall extension-definitions (`created_by_ref`).
pub const SHIELDWALL_IDENTITY: &str = "identity--768184e0-7e83-477b-ae47-e112923a1390";

/// One extension Shieldwall ships: its folder under `extensions/`, id, definition and schema.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// The folder under `extensions/` (also the object type for new-sdo / new-sco).
    pub folder: &'static str,
    /// The extension-definition id.
    pub id: &'static str,
    /// `extension-definition.json`.
    pub definition_json: &'static str,
    /// `schema.json` (JSON Schema 2020-12): the whole object for new-sdo / new-sco, the
    /// extension body for a property-extension.
    pub schema_json: &'static str,
}

macro_rules! shipped {
    ($($folder:literal => $id:ident),* $(,)?) => {
        /// Every extension Shieldwall ships.
        pub const SHIPPED: &[Shipped] = &[$(Shipped {
            folder: $folder,
            id: $id,
            definition_json: include_str!(concat!("../../../extensions/", $folder, "/extension-definition.json")),
            schema_json: include_str!(concat!("../../../extensions/", $folder, "/schema.json")),
        }),*];
    };
}

shipped! {
    "narrative" => NARRATIVE,
    "channel" => CHANNEL,
    "media-content" => MEDIA_CONTENT,
    "fimi-incident" => FIMI_INCIDENT,
    "ci-entity" => CI_ENTITY,
    "assistance-request" => ASSISTANCE_REQUEST,
    "assistance-offer" => ASSISTANCE_OFFER,
    "assistance-report" => ASSISTANCE_REPORT,
}

/// The publishing identity object (`extensions/identity.json`).
pub const IDENTITY_JSON: &str = include_str!("../../../extensions/identity.json");

impl Shipped {
    /// The extension-definition object.
    pub fn definition(&self) -> Value {
        serde_json::from_str(self.definition_json)
            .expect("extensions/*/extension-definition.json is valid JSON (tested)")
    }

    /// The JSON schema.
    pub fn schema(&self) -> Value {
        serde_json::from_str(self.schema_json)
            .expect("extensions/*/schema.json is valid JSON (tested)")
    }
}

/// The shipped extension with this id or folder name.
pub fn shipped(key: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.id == key || s.folder == key)
}

/// The objects to publish with Shieldwall's extensions: the identity, then every
/// extension-definition (what a node sends once so that others can resolve the ids).
pub fn definition_objects() -> Vec<Value> {
    let identity: Value = serde_json::from_str(IDENTITY_JSON)
        .expect("extensions/identity.json is valid JSON (tested)");
    std::iter::once(identity)
        .chain(SHIPPED.iter().map(Shipped::definition))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shipped_definitions_match_their_constants_and_validate() {
        let options = stix::validate::Options::default();
        for obj in definition_objects() {
            let errors: Vec<_> = stix::validate::validate_object(&obj, &options)
                .into_iter()
                .filter(|f| f.severity == stix::validate::Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", obj["id"]);
        }
        for s in SHIPPED {
            let d = s.definition();
            assert_eq!(d["id"], s.id, "{}", s.folder);
            assert_eq!(d["created_by_ref"], SHIELDWALL_IDENTITY);
            assert!(
                d["schema"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{}/schema.json", s.folder))
            );
            let schema = s.schema();
            assert_eq!(schema["$id"], d["schema"]);
            let new_object = d["extension_types"][0] != "property-extension";
            if new_object {
                assert_eq!(schema["properties"]["type"]["const"], s.folder);
            }
        }
        assert_eq!(shipped("channel").unwrap().id, CHANNEL);
        assert_eq!(
            shipped(ASSISTANCE_OFFER).unwrap().folder,
            "assistance-offer"
        );
        assert!(shipped("nothing").is_none());
    }
}
