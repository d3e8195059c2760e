//! "Where else has this value appeared": a pasted value (address, network, domain name, URL,
//! e-mail address, digest, CVE, ATT&CK or DISARM id) classified into its canonical form
//! (`matcher::occurrence::classify`, the forms of the exports) and looked up in the store's
//! value index through the member's policy.
//!
//! What it returns is what the member's listings would show: only versions it may see, each the
//! latest version it may see of its object in its collection (an older version holding the
//! value, superseded by one that does not, is not a hit), in every collection it may read.
//! Revoked objects are returned, marked `revoked` (listings return them too; exports and scans
//! leave them out). An address also finds the networks containing it, a network the addresses
//! and smaller networks within it. Sightings are found through what they point to: a sighting
//! the member may see, pointing to an observed-data or indicator that is itself a hit.
//!
//! A peer node's account (whose reads pass the egress rule) cannot look values up.

use serde_json::{Value, json};
use stix::tlp::TlpLevel;

use super::ServiceError;
use crate::{
    audit_chain,
    coalition::Coalition,
    policy::{Principal, Pushdown, tlp_from_code},
    store::{LookupHit, LookupQuery, LookupTarget, NetRange, Store},
    timestamps,
};

pub use matcher::occurrence::{Kind, MAX_QUERY_LEN, NotAValue, Query};

/// Hits returned without a limit.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest limit.
pub const MAX_LIMIT: u32 = 1000;

/// One object holding the value, in one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Object id.
    pub id: String,
    /// Object type.
    pub object_type: String,
    /// Its `name` (an SCO's `value`), when it has one.
    pub name: Option<String>,
    /// The collection id.
    pub collection: String,
    /// The collection's API root.
    pub api_root: String,
    /// Its effective TLP (the node's default when unmarked).
    pub tlp: TlpLevel,
    /// Its version (`modified`, else `created`, else when it was first stored).
    pub modified: String,
    /// Whether this (latest visible) version is revoked.
    pub revoked: bool,
    /// Where the value occurs: `pattern`, `observed`, `sighting`, `sco`, `external-id`, `name`.
    pub place: String,
    /// The canonical value found (a network containing the address looked up, an address within
    /// the network looked up, or the value itself); empty for a sighting.
    pub value: String,
    /// For a sighting: the hit it points to.
    pub via: Option<String>,
}

/// What a look-up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The text is a value: its kind, canonical form and the hits.
    Value {
        /// Its kind.
        kind: Kind,
        /// Its canonical text.
        value: String,
        /// Objects holding it (direct hits, newest first, then sightings).
        hits: Vec<Hit>,
        /// Whether hits were left out (beyond the limit).
        more: bool,
    },
    /// The text is a word or phrase, not a value (nothing was looked up).
    NotAValue(String),
}

impl Outcome {
    /// The hits (none for a word).
    pub fn hits(&self) -> &[Hit] {
        match self {
            Outcome::Value { hits, .. } => hits,
            Outcome::NotAValue(_) => &[],
        }
    }

    /// The JSON form (`shieldwall lookup --json`, `GET /lookup/`).
    pub fn to_json(&self, query: &str) -> Value {
        match self {
            Outcome::Value {
                kind,
                value,
                hits,
                more,
            } => json!({
                "query": query,
                "classification": "value",
                "kind": kind.as_str(),
                "value": value,
                "more": more,
                "hits": hits.iter().map(Hit::to_json).collect::<Vec<_>>(),
            }),
            Outcome::NotAValue(reason) => json!({
                "query": query,
                "classification": "not-a-value",
                "reason": reason,
                "more": false,
                "hits": [],
            }),
        }
    }

    /// The audit record of a look-up whose hits include RED or AMBER+STRICT objects (`None`
    /// otherwise), as a TAXII read records them.
    pub fn audit_entry(&self, principal: &Principal, path: &str) -> Option<audit_chain::Entry> {
        let (mut red, mut strict) = (Vec::new(), Vec::new());
        for h in self.hits() {
            match h.tlp {
                TlpLevel::Red => red.push(h.id.as_str()),
                TlpLevel::AmberStrict => strict.push(h.id.as_str()),
                _ => {}
            }
        }
        if red.is_empty() && strict.is_empty() {
            return None;
        }
        red.sort_unstable();
        red.dedup();
        strict.sort_unstable();
        strict.dedup();
        Some(
            audit_chain::Entry::new(&principal.actor, "read", path, "lookup", "ok").detail(
                &audit_chain::ids_detail(
                    &format!("member={} endpoint=lookup", principal.member),
                    &red,
                    &strict,
                ),
            ),
        )
    }
}

impl Hit {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.object_type,
            "name": self.name,
            "collection": self.collection,
            "api_root": self.api_root,
            "tlp": self.tlp.value(),
            "modified": self.modified,
            "revoked": self.revoked,
            "where": self.place,
            "value": self.value,
            "via": self.via,
        })
    }
}

/// The widest IPv4 network a look-up takes (what lies within it is read whole).
pub const WIDEST_V4_PREFIX: u8 = 16;
/// The widest IPv6 network a look-up takes.
pub const WIDEST_V6_PREFIX: u8 = 32;

/// Looks `text` up in every collection `principal` may read, at most `limit` hits
/// ([`DEFAULT_LIMIT`] when 0, at most [`MAX_LIMIT`]). An empty, over-long
/// ([`MAX_QUERY_LEN`]) or control-character text, or a network wider than
/// [`WIDEST_V4_PREFIX`] / [`WIDEST_V6_PREFIX`], is [`ServiceError::Usage`]; a word is
/// [`Outcome::NotAValue`].
pub async fn lookup<S: Store>(
    store: &S,
    coalition: &Coalition,
    principal: &Principal,
    text: &str,
    limit: u32,
) -> Result<Outcome, ServiceError> {
    let limit = if limit == 0 { DEFAULT_LIMIT } else { limit }.min(MAX_LIMIT);
    let query = match matcher::occurrence::classify(text) {
        Ok(q) => q,
        Err(NotAValue::Word) => return Ok(Outcome::NotAValue(NotAValue::Word.to_string())),
        Err(e) => return Err(ServiceError::Usage(e.to_string())),
    };
    // What lies within a network is a range of the index, read whole before the newest hits are
    // chosen: a network as wide as 0.0.0.0/0 would read every address of the store on each
    // request. Containment the other way (the networks holding an address) is bounded by the
    // prefix length and stays open.
    if let matcher::occurrence::Query::Net(n) = &query {
        let widest = if n.is_v6() {
            WIDEST_V6_PREFIX
        } else {
            WIDEST_V4_PREFIX
        };
        if n.prefix() < widest {
            return Err(ServiceError::Usage(format!(
                "{} is too wide to look up: at most /{WIDEST_V4_PREFIX} for IPv4 and /{WIDEST_V6_PREFIX} for IPv6",
                n.to_compact()
            )));
        }
    }
    let pushdown = Pushdown::for_principal(principal, coalition);
    if pushdown.egress.is_some() {
        return Err(ServiceError::Usage(
            "a peer node's account cannot look values up".into(),
        ));
    }
    let target = LookupTarget::Values {
        kind: query.kind().as_str().to_owned(),
        values: query.exact_values(),
        within: query.within().map(|(first, last, min_prefix)| NetRange {
            first,
            last,
            min_prefix,
        }),
    };
    let page = store
        .lookup(&LookupQuery {
            pushdown: pushdown.clone(),
            target,
            limit,
        })
        .await?;
    let mut more = page.more;
    let mut hits: Vec<Hit> = page.hits.iter().map(|h| hit(h, coalition)).collect();
    // Sightings of what was found (observed data and indicators), through the same policy.
    let mut via: Vec<String> = page
        .hits
        .iter()
        .filter(|h| matches!(h.object_type.as_str(), "observed-data" | "indicator"))
        .map(|h| h.id.clone())
        .collect();
    via.sort_unstable();
    via.dedup();
    if !via.is_empty() {
        let room = limit.saturating_sub(u32::try_from(hits.len()).unwrap_or(u32::MAX));
        let sightings = store
            .lookup(&LookupQuery {
                pushdown,
                target: LookupTarget::SightingsOf(via),
                limit: room.max(1),
            })
            .await?;
        if room == 0 {
            more |= !sightings.hits.is_empty();
        } else {
            more |= sightings.more;
            hits.extend(sightings.hits.iter().map(|h| hit(h, coalition)));
        }
    }
    Ok(Outcome::Value {
        kind: query.kind(),
        value: query.value(),
        hits,
        more,
    })
}

fn hit(h: &LookupHit, coalition: &Coalition) -> Hit {
    let obj: Option<Value> = serde_json::from_str(&h.json).ok();
    let name = obj.as_ref().and_then(|o| {
        o.get("name")
            .or_else(|| o.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let api_root = coalition
        .collections
        .iter()
        .find(|c| c.id == h.collection)
        .map_or_else(String::new, |c| c.api_root.clone());
    Hit {
        id: h.id.clone(),
        object_type: h.object_type.clone(),
        name,
        collection: h.collection.clone(),
        api_root,
        tlp: h
            .tlp
            .and_then(tlp_from_code)
            .unwrap_or(coalition.default_tlp),
        modified: h
            .version_text
            .clone()
            .unwrap_or_else(|| timestamps::format_us(h.version_ns.div_euclid(1000))),
        revoked: h.revoked,
        place: h.place.clone(),
        value: h.value.clone(),
        via: h.via.clone(),
    }
}
