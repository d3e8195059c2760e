//! FIMI objects named as DAD-CDM and OpenCTI name them, so that their tools read ours:
//! `narrative` and `channel` (new SDOs), `media-content` (new SCO), and the FIMI
//! property-extension of `incident` (written beside the OASIS Incident Core extension by
//! [`crate::incident::Incident`]).
//!
//! A FIMI incident links by `uses` relationships to DISARM techniques ([`crate::disarm`]),
//! narratives and channels, and optionally to the intrusion set, malware and indicators of the
//! same operation (hack-and-leak); channel URLs, domains and accounts are ordinary observables.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stix::Timestamp;
use uuid::Uuid;

use crate::error::{BuildError, ReadError};
use crate::ext;
use crate::object::{
    self, Common, Read, check_order, check_ref, check_refs, expect_type, new_object,
};

fn is_lang(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_slugs(
    object: &'static str,
    property: &'static str,
    v: &[String],
) -> Result<(), BuildError> {
    match v.iter().find(|s| !is_slug(s)) {
        Some(bad) => Err(BuildError::invalid(
            object,
            property,
            format!("`{bad}` is not a lower-case vocabulary term"),
        )),
        None => Ok(()),
    }
}

fn check_langs(
    object: &'static str,
    property: &'static str,
    v: &[String],
) -> Result<(), BuildError> {
    match v.iter().find(|s| !is_lang(s)) {
        Some(bad) => Err(BuildError::invalid(
            object,
            property,
            format!("`{bad}` is not an ISO 639-1 code"),
        )),
        None => Ok(()),
    }
}

fn nonempty(object: &'static str, property: &'static str, v: &str) -> Result<(), BuildError> {
    if v.trim().is_empty() {
        Err(BuildError::Missing { object, property })
    } else {
        Ok(())
    }
}

/// A narrative (`narrative`, new SDO).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Narrative {
    /// Required.
    pub name: String,
    /// The narrative itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Open vocabulary `narrative-type-ov` (e.g. `energy-security`, `anti-eu`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narrative_types: Vec<String>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// ISO 639-1 languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Target audiences (`identity` or `location`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_audience_refs: Vec<String>,
}

impl Narrative {
    /// The STIX type.
    pub const TYPE: &'static str = "narrative";

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = Narrative::TYPE;
        nonempty(T, "name", &self.name)?;
        check_slugs(T, "narrative_types", &self.narrative_types)?;
        check_langs(T, "languages", &self.languages)?;
        check_refs(
            T,
            "target_audience_refs",
            &self.target_audience_refs,
            &["identity", "location"],
        )?;
        check_order(
            T,
            self.first_seen.as_ref(),
            self.last_seen.as_ref(),
            "last_seen",
        )?;
        Ok(Value::Object(new_object(
            T,
            ext::NARRATIVE,
            self,
            common,
            false,
        )?))
    }

    /// Reads a narrative (ours or OpenCTI's: any new-sdo marker is accepted).
    pub fn read(value: &Value) -> Result<Read<Narrative>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let mut warnings = Vec::new();
        let mut fixed = map.clone();
        lowercase_list(&mut fixed, "narrative_types", &mut warnings);
        Ok(Read {
            header: object::header(map)?,
            body: object::body(&fixed)?,
            warnings,
        })
    }
}

/// Lower-cases and slugs a list of open-vocabulary terms written by other tools (OpenCTI
/// narrative types are free text).
fn lowercase_list(map: &mut Map<String, Value>, key: &str, warnings: &mut Vec<String>) {
    let Some(Value::Array(items)) = map.get_mut(key) else {
        return;
    };
    for item in items.iter_mut() {
        if let Some(s) = item.as_str()
            && !is_slug(s)
        {
            let slug = s
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join("-");
            warnings.push(format!("{key}: `{s}` read as `{slug}`"));
            *item = json!(slug);
        }
    }
}

/// Status of a channel (takedown tracking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelStatus {
    /// Publishing.
    Active,
    /// Suspended by the platform.
    Suspended,
    /// Removed.
    Removed,
    /// Not publishing.
    Dormant,
    /// Unknown.
    Unknown,
}

/// A channel (`channel`, new SDO).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Required.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Open vocabulary `channel-type-ov` (`social-media-account`, `messaging-channel`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_types: Vec<String>,
    /// Platform (`telegram`, `x`, `facebook`, `web`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// ISO 639-1 languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Provisional `fimi-exposure-ov` (EEAS exposure matrix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fimi_exposure_category: Option<String>,
    /// The media outlet (an `identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_outlet_ref: Option<String>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChannelStatus>,
}

/// OpenCTI's built-in channel types name platforms; they are read as platform +
/// `social-media-account`.
const OPENCTI_PLATFORM_TYPES: [(&str, &str); 2] = [("Twitter", "x"), ("Facebook", "facebook")];

impl Channel {
    /// The STIX type.
    pub const TYPE: &'static str = "channel";

    /// Writes the object (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = Channel::TYPE;
        nonempty(T, "name", &self.name)?;
        check_slugs(T, "channel_types", &self.channel_types)?;
        check_slugs(T, "platform", self.platform.as_slice())?;
        check_slugs(
            T,
            "fimi_exposure_category",
            self.fimi_exposure_category.as_slice(),
        )?;
        check_langs(T, "languages", &self.languages)?;
        if let Some(r) = &self.media_outlet_ref {
            check_ref(T, "media_outlet_ref", r, &["identity"])?;
        }
        check_order(
            T,
            self.first_seen.as_ref(),
            self.last_seen.as_ref(),
            "last_seen",
        )?;
        Ok(Value::Object(new_object(
            T,
            ext::CHANNEL,
            self,
            common,
            false,
        )?))
    }

    /// Reads a channel, ours or OpenCTI's: `channel_type` (single, older OpenCTI) becomes
    /// `channel_types`, `channel_languages` becomes `languages`, and OpenCTI's platform-named
    /// types (`Twitter`, `Facebook`) become `platform` + `social-media-account`.
    pub fn read(value: &Value) -> Result<Read<Channel>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let mut warnings = Vec::new();
        let mut fixed = map.clone();
        if let Some(t) = fixed.remove("channel_type")
            && !fixed.contains_key("channel_types")
        {
            warnings.push("channel_type (single, older OpenCTI) read as channel_types".into());
            let list = if t.is_array() { t } else { json!([t]) };
            fixed.insert("channel_types".into(), list);
        }
        if let Some(l) = fixed.remove("channel_languages")
            && !fixed.contains_key("languages")
        {
            warnings.push("channel_languages (OpenCTI) read as languages".into());
            fixed.insert("languages".into(), l);
        }
        if let Some(Value::Array(types)) = fixed.get_mut("channel_types") {
            let mut platform = None;
            for t in types.iter_mut() {
                if let Some((octi, p)) = OPENCTI_PLATFORM_TYPES
                    .iter()
                    .find(|(o, _)| t.as_str() == Some(*o))
                {
                    warnings.push(format!("channel type `{octi}` read as platform `{p}`"));
                    platform = Some(*p);
                    *t = json!("social-media-account");
                }
            }
            types.dedup();
            if let (Some(p), false) = (platform, fixed.contains_key("platform")) {
                fixed.insert("platform".into(), json!(p));
            }
        }
        lowercase_list(&mut fixed, "channel_types", &mut warnings);
        Ok(Read {
            header: object::header(map)?,
            body: object::body(&fixed)?,
            warnings,
        })
    }
}

/// A piece of published content (`media-content`, new SCO; OpenCTI's property names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaContent {
    /// Required; the id-contributing property.
    pub url: String,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `post`, `article`, `video`, `image`, `audio`, `comment`, `story`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_category: Option<String>,
    /// Publication date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication_date: Option<Timestamp>,
    /// ISO 639-1 language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The archived content (`file` or `artifact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_ref: Option<String>,
}

impl MediaContent {
    /// The STIX type.
    pub const TYPE: &'static str = "media-content";

    /// The deterministic id: UUIDv5 in the STIX namespace over the JCS of `{"url": …}`
    /// (STIX 2.1 §2.9, with `url` as the id-contributing property).
    pub fn id_for(url: &str) -> String {
        let canonical = stix::id::jcs(&json!({ "url": url }));
        let uuid = Uuid::new_v5(&stix::id::STIX_NAMESPACE, canonical.as_bytes());
        format!("{}--{uuid}", Self::TYPE)
    }

    /// Writes the object (strict). Only the markings of `common` are used: an SCO has no
    /// `created`/`modified`, and its id is derived from `url`.
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = MediaContent::TYPE;
        nonempty(T, "url", &self.url)?;
        if !self.url.contains("://") {
            return Err(BuildError::invalid(T, "url", "must be an absolute URL"));
        }
        check_slugs(T, "media_category", self.media_category.as_slice())?;
        check_langs(T, "language", self.language.as_slice())?;
        if let Some(r) = &self.content_ref {
            check_ref(T, "content_ref", r, &["file", "artifact"])?;
        }
        let mut m = new_object(T, ext::MEDIA_CONTENT, self, common, true)?;
        // id right after type/spec_version for readability.
        let mut out = Map::new();
        for k in ["type", "spec_version"] {
            if let Some(v) = m.remove(k) {
                out.insert(k.into(), v);
            }
        }
        out.insert("id".into(), json!(Self::id_for(&self.url)));
        out.extend(m);
        Ok(Value::Object(out))
    }

    /// Reads a media-content object; warns when its id is not the deterministic one.
    pub fn read(value: &Value) -> Result<Read<MediaContent>, ReadError> {
        let map = expect_type(value, Self::TYPE)?;
        let body: MediaContent = object::body(map)?;
        let header = object::header(map)?;
        let mut warnings = Vec::new();
        if header.id != Self::id_for(&body.url) {
            warnings.push(format!(
                "id {} is not the deterministic id over url ({})",
                header.id,
                Self::id_for(&body.url)
            ));
        }
        Ok(Read {
            header,
            body,
            warnings,
        })
    }
}

/// Domain of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentDomain {
    /// A cyber incident.
    Cyber,
    /// An incident in the information environment (FIMI).
    InformationEnvironment,
    /// Both (e.g. hack-and-leak).
    Hybrid,
}

/// Attribution of a FIMI incident to an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// Attributed.
    Attributed,
    /// Suspected.
    Suspected,
    /// Not attributed.
    Unattributed,
}

/// The FIMI property-extension of `incident` (body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FimiExtension {
    /// Required.
    pub incident_domain: IncidentDomain,
    /// The coordinating entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinating_entity_ref: Option<String>,
    /// Entities that support the investigation and response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting_entity_refs: Vec<String>,
    /// Who declared the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_by_ref: Option<String>,
    /// Actor attribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fimi_actor_attribution: Option<Attribution>,
    /// The DISARM release the technique references use (e.g. `1.6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disarm_framework_version: Option<String>,
}

impl FimiExtension {
    /// An extension with only the domain set.
    pub fn new(incident_domain: IncidentDomain) -> FimiExtension {
        FimiExtension {
            incident_domain,
            coordinating_entity_ref: None,
            supporting_entity_refs: Vec::new(),
            declared_by_ref: None,
            fimi_actor_attribution: None,
            disarm_framework_version: None,
        }
    }

    /// The extension body (strict).
    pub fn body(&self) -> Result<Value, BuildError> {
        const T: &str = "incident";
        for (p, r) in [
            ("coordinating_entity_ref", &self.coordinating_entity_ref),
            ("declared_by_ref", &self.declared_by_ref),
        ] {
            if let Some(r) = r {
                check_ref(T, p, r, &["identity"])?;
            }
        }
        check_refs(
            T,
            "supporting_entity_refs",
            &self.supporting_entity_refs,
            &["identity"],
        )?;
        if let Some(v) = &self.disarm_framework_version {
            nonempty(T, "disarm_framework_version", v)?;
        }
        object::extension_body(T, "property-extension", self)
    }

    /// Reads the extension from an incident, if present.
    pub fn read(incident: &Value) -> Result<Option<FimiExtension>, ReadError> {
        let map = expect_type(incident, "incident")?;
        match object::extension(map, ext::FIMI_INCIDENT) {
            None => Ok(None),
            Some(body) => object::body(body).map(Some),
        }
    }
}

/// A FIMI incident as reported: an `incident` with Incident Core and the FIMI extension,
/// declared by its creator (`common`'s `created_by_ref`).
#[derive(Debug, Clone, PartialEq)]
pub struct FimiIncident {
    /// Name (required).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The incident's domain.
    pub domain: IncidentDomain,
    /// The Incident Core determination.
    pub determination: crate::incident::Determination,
    /// The investigation status.
    pub investigation_status: String,
    /// Criticality, 0–100.
    pub criticality: Option<u8>,
    /// Incident types; none given means `fimi`.
    pub incident_types: Vec<String>,
    /// The DISARM release the techniques come from (e.g. `1.6`).
    pub disarm_framework_version: Option<String>,
}

impl FimiIncident {
    /// Writes the incident (strict).
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        let mut core = crate::incident::IncidentCore::new();
        core.determination = self.determination;
        core.investigation_status = self.investigation_status.clone();
        core.criticality = self.criticality;
        core.incident_types = if self.incident_types.is_empty() {
            vec!["fimi".into()]
        } else {
            self.incident_types.clone()
        };
        let mut fimi = FimiExtension::new(self.domain);
        fimi.declared_by_ref = common.created_by_ref.clone();
        fimi.disarm_framework_version = self.disarm_framework_version.clone();
        crate::incident::Incident {
            name: self.name.clone(),
            description: self.description.clone(),
            core,
            fimi: Some(fimi),
        }
        .build(common)
    }
}

impl Channel {
    /// A channel named on a command line: `NAME@PLATFORM` (the last `@` splits), or a bare
    /// name when either side of it is empty.
    pub fn from_spec(spec: &str) -> Channel {
        let (name, platform) = match spec.rsplit_once('@') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => (n, Some(p.to_owned())),
            _ => (spec, None),
        };
        Channel {
            name: name.to_owned(),
            platform,
            ..Channel::default()
        }
    }
}

/// The new objects a FIMI incident is linked to, and its `uses` relationships: a narrative per
/// name in `narratives`, a channel per [`Channel::from_spec`] in `channels`, then `uses` from
/// `incident_id` to each of `technique_refs` (STIX ids), the narratives and the channels, in
/// that order. `common` gives each new object its common properties (a fresh UUID each).
pub fn link_objects(
    incident_id: &str,
    technique_refs: &[String],
    narratives: &[String],
    channels: &[String],
    common: &mut dyn FnMut() -> Common,
) -> Result<Vec<Value>, BuildError> {
    let mut out = Vec::new();
    let mut targets: Vec<String> = technique_refs.to_vec();
    for n in narratives {
        let o = Narrative {
            name: n.clone(),
            ..Narrative::default()
        }
        .build(&common())?;
        targets.push(o["id"].as_str().unwrap_or_default().to_owned());
        out.push(o);
    }
    for c in channels {
        let o = Channel::from_spec(c).build(&common())?;
        targets.push(o["id"].as_str().unwrap_or_default().to_owned());
        out.push(o);
    }
    for t in &targets {
        out.push(object::relationship(&common(), "uses", incident_id, t)?);
    }
    Ok(out)
}

/// Adds OpenCTI's new-object marker beside ours (the `opencti-compat` export profile), so that
/// OpenCTI recognises `narrative`, `channel` and `media-content`. Other objects are unchanged.
pub fn opencti_compat(object: &mut Value) {
    let ty = object.get("type").and_then(Value::as_str).unwrap_or("");
    let (id, kind) = match ty {
        "narrative" | "channel" => (ext::OPENCTI, "new-sdo"),
        "media-content" => (ext::OPENCTI_SCO, "new-sco"),
        _ => return,
    };
    if let Some(Value::Object(exts)) = object.get_mut("extensions") {
        exts.entry(id)
            .or_insert_with(|| json!({ "extension_type": kind }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::incident::{Determination, Incident};

    const ME: &str = "identity--00000000-0000-4000-8000-0000000000aa";

    fn common_seq() -> impl FnMut() -> Common {
        let mut n = 0u128;
        move || {
            n += 1;
            Common::new(
                Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + n),
                Timestamp::parse("2026-01-01T00:00:00.000Z").unwrap(),
            )
            .by(ME)
            .marked(stix::tlp::TLP2_AMBER)
        }
    }

    fn incident() -> FimiIncident {
        FimiIncident {
            name: "Leak of the ministry's mail".into(),
            description: None,
            domain: IncidentDomain::Hybrid,
            determination: Determination::Confirmed,
            investigation_status: "open".into(),
            criticality: Some(70),
            incident_types: vec![],
            disarm_framework_version: Some("1.6".into()),
        }
    }

    #[test]
    fn a_fimi_incident_has_both_extensions_and_is_declared_by_its_creator() {
        let o = incident().build(&common_seq()()).unwrap();
        assert_eq!(o["type"], "incident");
        assert_eq!(o["created_by_ref"], ME);
        let read = Incident::read(&o).unwrap();
        assert_eq!(read.body.core.determination, Determination::Confirmed);
        assert_eq!(read.body.core.incident_types, ["fimi"]);
        assert_eq!(read.body.core.criticality, Some(70));
        let fimi = FimiExtension::read(&o).unwrap().unwrap();
        assert_eq!(fimi.incident_domain, IncidentDomain::Hybrid);
        assert_eq!(fimi.declared_by_ref.as_deref(), Some(ME));
        assert_eq!(fimi.disarm_framework_version.as_deref(), Some("1.6"));
        let mut typed = incident();
        typed.incident_types = vec!["hack-and-leak".into()];
        let o = typed.build(&common_seq()()).unwrap();
        assert_eq!(
            Incident::read(&o).unwrap().body.core.incident_types,
            ["hack-and-leak"]
        );
        let mut bad = incident();
        bad.criticality = Some(101);
        assert!(bad.build(&common_seq()()).is_err());
        bad = incident();
        bad.name = " ".into();
        assert!(bad.build(&common_seq()()).is_err());
        bad = incident();
        bad.disarm_framework_version = Some(String::new());
        assert!(bad.build(&common_seq()()).is_err());
    }

    #[test]
    fn channels_from_the_command_line() {
        let c = Channel::from_spec("news-front@telegram");
        assert_eq!(
            (c.name.as_str(), c.platform.as_deref()),
            ("news-front", Some("telegram"))
        );
        let c = Channel::from_spec("a@b@x");
        assert_eq!((c.name.as_str(), c.platform.as_deref()), ("a@b", Some("x")));
        for bare in ["plain", "trailing@", "@leading"] {
            let c = Channel::from_spec(bare);
            assert_eq!((c.name.as_str(), c.platform), (bare, None));
        }
    }

    #[test]
    fn links_are_new_objects_then_uses_in_order() {
        let iid = "incident--00000000-0000-4000-8000-0000000000ff";
        let tech = "attack-pattern--00000000-0000-4000-8000-000000000001".to_owned();
        let out = link_objects(
            iid,
            std::slice::from_ref(&tech),
            &["Sanctions hurt only us".into()],
            &["news-front@telegram".into()],
            &mut common_seq(),
        )
        .unwrap();
        let types: Vec<&str> = out.iter().map(|o| o["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "narrative",
                "channel",
                "relationship",
                "relationship",
                "relationship"
            ]
        );
        let (narrative, channel) = (&out[0], &out[1]);
        assert_eq!(narrative["name"], "Sanctions hurt only us");
        assert_eq!(channel["platform"], "telegram");
        let targets: Vec<&Value> = out[2..].iter().map(|r| &r["target_ref"]).collect();
        assert_eq!(targets, [&json!(tech), &narrative["id"], &channel["id"]]);
        for r in &out[2..] {
            assert_eq!(r["relationship_type"], "uses");
            assert_eq!(r["source_ref"], iid);
            assert_eq!(r["created_by_ref"], ME);
        }
        let ids: std::collections::BTreeSet<&str> =
            out.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), out.len(), "every object has its own id");
        assert!(
            link_objects(iid, &[], &[], &[], &mut common_seq())
                .unwrap()
                .is_empty()
        );
        assert!(link_objects(iid, &[], &[" ".into()], &[], &mut common_seq()).is_err());
        assert!(link_objects(iid, &["not-an-id".into()], &[], &[], &mut common_seq()).is_err());
    }
}
