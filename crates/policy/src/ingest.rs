//! Turning posted bytes into versions to store: strict JSON (duplicate keys, NaN, bad encodings
//! refused), the envelope, per-object validation, and the publishing rules of the policy — ids and
//! identity references in canonical (lower-case) form, no impersonation through `created_by_ref`,
//! and objects without a creator get the publisher's identity.

use serde_json::Value;
use stix::meta;

use crate::{
    coalition::Coalition,
    policy::{Principal, tlp_code},
    timestamps,
};

/// One posted object's fate before storage.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// Ready to store.
    Valid(Box<NewVersion>),
    /// Refused, with the id and version when they could be read, and why.
    Invalid {
        /// The object's id, or `""`.
        id: String,
        /// Its version, when known.
        version: Option<String>,
        /// Why.
        message: String,
    },
}

/// One object version to store: what ingest prepares and `Store::add` takes (the store crate
/// re-exports it as `store::NewVersion`).
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Object id.
    pub id: String,
    /// Object type.
    pub object_type: String,
    /// `"2.0"` or `"2.1"`.
    pub spec_version: String,
    /// The TAXII version in nanoseconds, or `None` for objects without `modified`/`created`.
    pub version_ns: Option<i64>,
    /// The version string as given (`modified` or `created`), or `None`.
    pub version_text: Option<String>,
    /// Effective TLP code (see [`tlp_code`]), `None` when unmarked.
    pub tlp: Option<i64>,
    /// Member that published it.
    pub producer: String,
    /// Whether no coalition member created the object (`created_by_ref` absent or naming a
    /// non-member's identity): another member may then place an existing version of it, with
    /// identical content.
    pub third_party: bool,
    /// `created_by_ref`.
    pub created_by_ref: Option<String>,
    /// `revoked`.
    pub revoked: bool,
    /// What a relationship or sighting points to.
    pub edge_refs: Vec<String>,
    /// The object, serialised.
    pub json: String,
    /// Force a `date_added` (loading fixtures); `None` lets the store assign it.
    pub date_added_us: Option<i64>,
    /// The canonical values the object holds, for the store's value index ([`index_values`]).
    pub index: matcher::occurrence::Extracted,
}

/// Whether [`to_new_version`] extracts the values of the value index (on unless a benchmark
/// turned it off to measure what the index costs).
static INDEX_VALUES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the value extraction of [`to_new_version`] off or on, for the whole process. Only for
/// benchmarks that measure the index's cost: versions stored while it is off are never indexed.
pub fn set_value_extraction(on: bool) {
    INDEX_VALUES.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The canonical values `obj` holds, as the store's value index keeps them
/// (`matcher::occurrence`): computed when a version is prepared (off the store's write lock),
/// and by the store when it builds the index of versions stored before it existed.
pub fn index_values(obj: &Value) -> matcher::occurrence::Extracted {
    matcher::occurrence::of_object(obj)
}

/// The objects of a TAXII envelope, or why the body is not one.
pub fn envelope_objects(body: Value) -> Result<Vec<Value>, String> {
    match body {
        Value::Object(mut m) => match m.remove("objects") {
            Some(Value::Array(objects)) => Ok(objects),
            Some(_) => Err("`objects` must be a list of STIX objects".into()),
            None => Err("the body must be a TAXII envelope: {\"objects\": [...]}".into()),
        },
        _ => Err("the body must be a TAXII envelope: {\"objects\": [...]}".into()),
    }
}

/// Why a posted body yields no objects to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not strict JSON (with where).
    Malformed(String),
    /// JSON, but not a TAXII envelope.
    NotEnvelope(String),
    /// The work was stopped by the caller (the request's time is up).
    Stopped,
}

/// Parses a posted TAXII envelope strictly and prepares each of its objects: validation and the
/// publishing rules ([`prepare`]), or, for a peer pushing by sync (`inbound_member` is the
/// peer's member), [`prepare_from_peer`]. This is the CPU-heavy part of a POST; `stop` is asked
/// before each object, and the work ends with [`EnvelopeError::Stopped`] as soon as it says
/// yes.
pub fn prepare_envelope(
    bytes: &[u8],
    publisher: &Principal,
    coalition: &Coalition,
    inbound_member: Option<&str>,
    stop: &dyn Fn() -> bool,
    inspect: &dyn Fn(&Value, &str),
) -> Result<Vec<Prepared>, EnvelopeError> {
    // Strict JSON: duplicate keys, non-finite numbers, bad encodings refused, with the position.
    let value = stix::json::parse(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let objects = envelope_objects(value).map_err(EnvelopeError::NotEnvelope)?;
    let mut prepared = Vec::with_capacity(objects.len());
    for o in objects {
        if stop() {
            return Err(EnvelopeError::Stopped);
        }
        prepared.push(match inbound_member {
            Some(member) => prepare_from_peer(o, member, coalition),
            None => {
                inspect(&o, &publisher.member);
                prepare(o, publisher, coalition)
            }
        });
    }
    Ok(prepared)
}

/// The STIX validator, built once (every MUST of STIX 2.1 is an error; SHOULDs are not enforced).
fn validator() -> &'static stix::validate::Validator {
    static V: std::sync::OnceLock<stix::validate::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        stix::validate::Validator::new(&stix::validate::Options::default())
            .expect("the default validation options are valid")
    })
}

/// Checks one object before it is stored: `stix::validate` (its errors, i.e. the specification's
/// MUSTs; warnings do not refuse an object), then what the store itself relies on (readable
/// metadata, version timestamps within the stored range).
pub fn validate_incoming(obj: &Value) -> Result<(), String> {
    // At most `stix::validate::MAX_FINDINGS_PER_OBJECT` findings (and a closing count), each
    // cut to a bounded length: the message stays small whatever the object.
    let errors: Vec<String> = validator()
        .validate(obj)
        .into_iter()
        .filter(|f| f.severity == stix::validate::Severity::Error)
        .map(|f| {
            if f.pointer.is_empty() {
                f.message
            } else {
                format!("{}: {}", f.pointer, f.message)
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let m = meta::meta_of(obj).map_err(|e| e.to_string())?;
    if m.spec_version != meta::SpecVersion::V2_1 {
        return Err("only STIX 2.1 objects are accepted".into());
    }
    for t in [m.created.as_deref(), m.modified.as_deref()]
        .into_iter()
        .flatten()
    {
        if timestamps::parse_ns(t).is_none() {
            return Err(format!(
                "`{t}` is not a STIX timestamp between 1677 and 2262"
            ));
        }
    }
    Ok(())
}

/// `id` and `created_by_ref` must be canonical: lower case (the type is lower case by the
/// specification, and the UUID is compared as its canonical lower-case text). An upper-case UUID
/// names the same identity to tools that compare UUIDs without case, so it is refused rather
/// than stored as written.
fn canonical_ids(obj: &Value) -> Result<(), String> {
    for key in ["id", "created_by_ref"] {
        if let Some(s) = obj.get(key).and_then(Value::as_str)
            && s.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(format!(
                "`{key}` must be in canonical form: a lower-case type and UUID (`{}`)",
                s.to_ascii_lowercase()
            ));
        }
    }
    Ok(())
}

/// Whether no coalition member created `obj`: its `created_by_ref` is absent or names an identity
/// that is not a member's.
fn is_third_party(obj: &Value, coalition: &Coalition) -> bool {
    obj.get("created_by_ref")
        .and_then(Value::as_str)
        .is_none_or(|c| coalition.member_by_identity(c).is_none())
}

/// The refusal of `obj` with a message: its id and version (as far as it has them) kept so that
/// the status resource can name what was refused.
fn refusal_of(obj: &Value) -> impl Fn(String) -> Prepared + use<> {
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let version = obj
        .get("modified")
        .or_else(|| obj.get("created"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    move |message| Prepared::Invalid {
        id: id.clone(),
        version: version.clone(),
        message,
    }
}

/// The stored form of a checked object produced by `producer`, marked third-party when no member
/// created it; a refusal (through `invalid`) when it has no stored form.
fn stored_form(
    obj: &Value,
    producer: &str,
    coalition: &Coalition,
    invalid: impl Fn(String) -> Prepared,
) -> Prepared {
    let third_party = is_third_party(obj, coalition);
    match to_new_version(obj, producer, None) {
        Ok(Prepared::Valid(mut v)) => {
            v.third_party = third_party;
            Prepared::Valid(v)
        }
        Ok(other) => other,
        Err(message) => invalid(message),
    }
}

/// Applies validation and the publishing rules to one posted object.
pub fn prepare(mut obj: Value, publisher: &Principal, coalition: &Coalition) -> Prepared {
    let invalid = refusal_of(&obj);
    if let Err(message) = validate_incoming(&obj).and_then(|()| canonical_ids(&obj)) {
        return invalid(message);
    }
    let Some(member) = coalition.members.get(&publisher.member) else {
        return invalid("the publishing member is not configured on this node".into());
    };
    match obj.get("created_by_ref").and_then(Value::as_str) {
        Some(creator) => {
            if let Some(other) = coalition.member_by_identity(creator)
                && other.id != member.id
            {
                return invalid(format!(
                    "created_by_ref names member `{}`: a member may publish only its own objects or those of non-members",
                    other.id
                ));
            }
        }
        None => {
            let is_tlp_definition =
                stix::tlp::level_of_marking(obj.get("id").and_then(Value::as_str).unwrap_or(""))
                    .is_some();
            if obj.get("created").is_some()
                && !is_tlp_definition
                && let Some(map) = obj.as_object_mut()
            {
                map.insert(
                    "created_by_ref".into(),
                    Value::String(member.identity.clone()),
                );
            }
        }
    }
    stored_form(&obj, &publisher.member, coalition, invalid)
}

/// Applies validation to one object received by sync from a peer operated by `peer_member`: its
/// producer is the member its `created_by_ref` names when that is a member, else the peer's
/// member (the access policy, `docs/POLICY.md`); the object is stored as received.
pub fn prepare_from_peer(obj: Value, peer_member: &str, coalition: &Coalition) -> Prepared {
    let invalid = refusal_of(&obj);
    if let Err(message) = validate_incoming(&obj).and_then(|()| canonical_ids(&obj)) {
        return invalid(message);
    }
    let producer = obj
        .get("created_by_ref")
        .and_then(Value::as_str)
        .and_then(|c| coalition.member_by_identity(c))
        .map_or(peer_member, |m| m.id.as_str())
        .to_owned();
    stored_form(&obj, &producer, coalition, invalid)
}

/// The stored form of an object that passed validation (also used to load fixtures), produced by
/// `producer`; it counts as a member's object (`third_party` false: only its producer may place
/// its versions) until a publishing rule says otherwise.
pub fn to_new_version(
    obj: &Value,
    producer: &str,
    date_added_us: Option<i64>,
) -> Result<Prepared, String> {
    let m = meta::meta_of(obj).map_err(|e| e.to_string())?;
    let version_text = m.taxii_version().map(str::to_owned);
    let version_ns = match &version_text {
        Some(t) => {
            Some(timestamps::parse_ns(t).ok_or_else(|| format!("`{t}` is not a STIX timestamp"))?)
        }
        None => None,
    };
    Ok(Prepared::Valid(Box::new(NewVersion {
        id: m.id.clone(),
        object_type: m.object_type.clone(),
        spec_version: m.spec_version.as_str().to_owned(),
        version_ns,
        version_text,
        tlp: m.tlp.map(tlp_code),
        producer: producer.to_owned(),
        third_party: false,
        created_by_ref: m.created_by_ref.clone(),
        revoked: m.revoked,
        edge_refs: m.edge_refs.clone(),
        json: obj.to_string(),
        date_added_us,
        index: if INDEX_VALUES.load(std::sync::atomic::Ordering::Relaxed) {
            index_values(obj)
        } else {
            matcher::occurrence::Extracted::default()
        },
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_validation() {
        let good = json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--cd981c25-8042-4166-8945-51178443bdac",
            "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '1.2.3.4']",
            "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00.000Z"});
        assert_eq!(validate_incoming(&good), Ok(()));
        for (k, v) in [
            ("id", json!("malware--cd981c25-8042-4166-8945-51178443bdac")),
            ("spec_version", json!("2.0")),
            ("modified", json!("yesterday")),
            ("modified", json!("2019-01-01T00:00:00.000Z")),
            (
                "object_marking_refs",
                json!(["identity--cd981c25-8042-4166-8945-51178443bdac"]),
            ),
            ("created_by_ref", json!(5)),
        ] {
            let mut bad = good.clone();
            bad[k] = v;
            assert!(validate_incoming(&bad).is_err(), "{k}");
        }
        assert!(validate_incoming(&json!("x")).is_err());
        assert_eq!(
            validate_incoming(
                &json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "1.2.3.4"})
            ),
            Ok(())
        );
    }

    fn demo_coalition() -> Coalition {
        let toml = r#"
[[members]]
id = "ncsc-nl"
name = "NCSC-NL"
identity = "identity--0a0b0c0d-0000-4000-8000-000000000001"
[[members]]
id = "cert-ee"
name = "CERT-EE"
identity = "identity--0a0b0c0d-0000-4000-8000-000000000002"
"#;
        let checked = crate::config::Config::from_toml(toml, "demo", &[]).unwrap();
        Coalition::from_config(&checked)
    }

    fn valid(p: Prepared) -> NewVersion {
        match p {
            Prepared::Valid(v) => *v,
            Prepared::Invalid { message, .. } => panic!("{message}"),
        }
    }

    fn message(p: Prepared) -> String {
        match p {
            Prepared::Valid(v) => panic!("accepted {}", v.id),
            Prepared::Invalid { message, .. } => message,
        }
    }

    #[test]
    fn ids_and_identity_references_are_canonical() {
        let coalition = demo_coalition();
        let nl = Principal {
            member: "ncsc-nl".into(),
            role: crate::config::Role::Contributor,
            actor: "nl".into(),
        };
        let ee_identity = coalition.members["cert-ee"].identity.clone();
        let upper = format!(
            "identity--{}",
            ee_identity["identity--".len()..].to_ascii_uppercase()
        );
        // The member comparison ignores case…
        assert_eq!(
            coalition.member_by_identity(&upper).map(|m| m.id.as_str()),
            Some("cert-ee")
        );
        let obj = json!({"type": "malware", "spec_version": "2.1", "id": "malware--cd981c25-8042-4166-8945-51178443bdac",
            "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "x", "is_family": false});
        // …and ingest refuses what is not canonical, locally and from a peer.
        let mut impersonating = obj.clone();
        impersonating["created_by_ref"] = json!(upper);
        let m = message(prepare(impersonating.clone(), &nl, &coalition));
        assert!(m.contains("canonical"), "{m}");
        let m = message(prepare_from_peer(impersonating, "ncsc-nl", &coalition));
        assert!(m.contains("canonical"), "{m}");
        let mut shouting = obj.clone();
        shouting["id"] = json!("malware--CD981C25-8042-4166-8945-51178443BDAC");
        assert!(matches!(
            prepare(shouting.clone(), &nl, &coalition),
            Prepared::Invalid { .. }
        ));
        assert!(matches!(
            prepare_from_peer(shouting, "ncsc-nl", &coalition),
            Prepared::Invalid { .. }
        ));
        // Whether no member created the object: the store lets others re-share those.
        let own = valid(prepare(obj.clone(), &nl, &coalition));
        assert!(!own.third_party);
        assert_eq!(
            own.created_by_ref.as_deref(),
            Some(coalition.members["ncsc-nl"].identity.as_str())
        );
        let mut foreign = obj.clone();
        foreign["created_by_ref"] = json!("identity--0a0b0c0d-0000-4000-8000-00000000000f");
        assert!(valid(prepare(foreign.clone(), &nl, &coalition)).third_party);
        let from_peer = valid(prepare_from_peer(foreign, "cert-ee", &coalition));
        assert!(from_peer.third_party);
        assert_eq!(from_peer.producer, "cert-ee");
        let mut ee = obj;
        ee["created_by_ref"] = json!(ee_identity);
        let from_peer = valid(prepare_from_peer(ee, "ncsc-nl", &coalition));
        assert!(!from_peer.third_party);
        assert_eq!(from_peer.producer, "cert-ee");
        for tlp in stix::tlp::tlp2_objects() {
            assert!(valid(prepare(tlp, &nl, &coalition)).third_party);
        }
    }

    #[test]
    fn an_envelope_is_prepared_until_told_to_stop() {
        let coalition = demo_coalition();
        let principal = Principal {
            member: coalition.members.keys().next().unwrap().clone(),
            role: crate::config::Role::Contributor,
            actor: "tester".into(),
        };
        let objects: Vec<Value> = (0..3)
            .map(|i| {
                json!({"type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--cd981c25-8042-4166-8945-51178443bda{i}"),
                "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
                "pattern": "[ipv4-addr:value = '1.2.3.4']", "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00.000Z"})
            })
            .collect();
        let body = json!({ "objects": objects }).to_string();
        let run = |stop_after: usize| {
            let asked = std::cell::Cell::new(0usize);
            let stop = || {
                asked.set(asked.get() + 1);
                asked.get() > stop_after
            };
            let r = prepare_envelope(
                body.as_bytes(),
                &principal,
                &coalition,
                None,
                &stop,
                &|_, _| {},
            );
            (r, asked.get())
        };
        let (all, asked) = run(usize::MAX);
        let all = all.unwrap();
        assert_eq!(asked, 3, "asked before each object");
        assert!(
            all.iter().all(|p| matches!(p, Prepared::Valid(_))),
            "{all:?}"
        );
        let (stopped, asked) = run(1);
        assert_eq!(stopped.unwrap_err(), EnvelopeError::Stopped);
        assert_eq!(asked, 2, "stopped before the second object");
        let never = || false;
        assert!(matches!(
            prepare_envelope(b"{", &principal, &coalition, None, &never, &|_, _| {}),
            Err(EnvelopeError::Malformed(_))
        ));
        assert_eq!(
            prepare_envelope(
                b"{\"objects\": [],\n \"objects\": []}",
                &principal,
                &coalition,
                None,
                &never,
                &|_, _| {}
            )
            .unwrap_err(),
            EnvelopeError::Malformed("duplicate key \"objects\" at line 2 column 10".into())
        );
        assert!(matches!(
            prepare_envelope(b"[]", &principal, &coalition, None, &never, &|_, _| {}),
            Err(EnvelopeError::NotEnvelope(_))
        ));
    }

    #[test]
    fn envelopes() {
        assert_eq!(envelope_objects(json!({"objects": [1]})).unwrap().len(), 1);
        assert!(envelope_objects(json!({"type": "indicator"})).is_err());
        assert!(envelope_objects(json!([])).is_err());
        assert!(envelope_objects(json!({"objects": {}})).is_err());
    }
}
