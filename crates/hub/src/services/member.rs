//! The member write service: a member acting on this node — writing objects built by `coord`
//! through the one write path ([`crate::publish`], all or nothing across collections, one
//! transaction), and reading back only what that member may see (the store's listing applies
//! the policy inside SQL). The coordination commands and their workflow steps run on it.

use std::{collections::HashMap, sync::Arc};

use serde_json::Value;
use stix::Timestamp;

use super::ServiceError;
use crate::{
    coalition::{Coalition, Collection},
    policy::{Principal, Pushdown, can_read, can_write},
    publish::{self, PublishLimits},
    store::{AddOutcome, AnyStore, ListQuery, Store, VersionSelection, for_each_page},
    timestamps,
};

/// A member acting on the node.
#[derive(Debug, Clone)]
pub struct MemberService {
    /// The store.
    pub store: AnyStore,
    /// The coalition.
    pub coalition: Arc<Coalition>,
    /// The member acting (and its actor, for provenance).
    pub principal: Principal,
    /// The member's STIX identity (`created_by_ref` of what it writes).
    pub identity: String,
    /// The node's write limits.
    pub limits: PublishLimits,
}

impl MemberService {
    /// The service for `principal`, which must be a configured member with an identity.
    pub fn new(
        store: AnyStore,
        coalition: Arc<Coalition>,
        principal: Principal,
        limits: PublishLimits,
    ) -> Result<MemberService, ServiceError> {
        let identity = coalition
            .members
            .get(&principal.member)
            .map(|m| m.identity.clone())
            .ok_or_else(|| {
                ServiceError::Usage(format!("member `{}` has no identity", principal.member))
            })?;
        Ok(MemberService {
            store,
            coalition,
            principal,
            identity,
            limits,
        })
    }

    /// Every collection the member may read.
    pub fn readable(&self) -> Vec<Collection> {
        self.coalition
            .collections
            .iter()
            .filter(|c| can_read(&self.principal, c))
            .cloned()
            .collect()
    }

    /// Stores `objects` in `coll` as this member: every object is validated and checked
    /// against the publishing rules first, and nothing is stored unless all pass.
    pub async fn write(
        &self,
        coll: &Collection,
        objects: &[Value],
    ) -> Result<Vec<AddOutcome>, ServiceError> {
        self.write_many(&[(coll.clone(), objects.to_vec())]).await
    }

    /// Stores objects in several collections, all or nothing: every object is validated and
    /// checked against the publishing rules, then one transaction writes every collection's
    /// batch, and a version refused in any of them leaves nothing written.
    pub async fn write_many(
        &self,
        groups: &[(Collection, Vec<Value>)],
    ) -> Result<Vec<AddOutcome>, ServiceError> {
        let reports = publish::publish_all_or_nothing(
            &self.store,
            &self.coalition,
            &self.principal,
            groups.iter().map(|(c, v)| (c, v.clone())).collect(),
            self.limits,
        )
        .await?;
        Ok(reports.into_iter().flat_map(|r| r.outcomes).collect())
    }

    /// Writes `objects` into `coll` and each edge into its own collection, all or nothing;
    /// returns the outcomes and every object written, in order.
    pub async fn write_with_edges(
        &self,
        coll: &Collection,
        objects: Vec<Value>,
        edges: Vec<(Collection, Value)>,
    ) -> Result<(Vec<AddOutcome>, Vec<Value>), ServiceError> {
        let mut groups: Vec<(Collection, Vec<Value>)> = vec![(coll.clone(), objects)];
        for (c, e) in edges {
            match groups.iter_mut().find(|(g, _)| g.id == c.id) {
                Some((_, list)) => list.push(e),
                None => groups.push((c, vec![e])),
            }
        }
        let out = self.write_many(&groups).await?;
        Ok((out, groups.into_iter().flat_map(|(_, v)| v).collect()))
    }

    /// The collection a relationship to `target` is kept in: the one holding the target when
    /// the member may write there (so that sync's edge rule, which looks at the relationship's
    /// own collection, holds the edge back wherever the target is held back), else `fallback`.
    pub async fn edge_collection(&self, target: &str, fallback: &Collection) -> Collection {
        match self.find(target).await {
            Ok((_, c)) if can_write(&self.principal, &c) => c,
            _ => fallback.clone(),
        }
    }

    /// Everything the member may see in `colls` (latest versions, or every version).
    pub async fn view(
        &self,
        colls: &[Collection],
        all_versions: bool,
    ) -> Result<Vec<Value>, ServiceError> {
        self.view_of_types(colls, all_versions, &[]).await
    }

    /// What the member may see in `colls` of the object types `types` (every type when empty):
    /// the listing's type filter skips the other objects' JSON.
    pub async fn view_of_types(
        &self,
        colls: &[Collection],
        all_versions: bool,
        types: &[&str],
    ) -> Result<Vec<Value>, ServiceError> {
        let mut out = Vec::new();
        let pushdown = Pushdown::for_principal(&self.principal, &self.coalition);
        for c in colls {
            let versions = if all_versions {
                VersionSelection::all()
            } else {
                VersionSelection::last()
            };
            let mut q = ListQuery::whole_collection(&c.id, pushdown.clone(), versions);
            q.types = types.iter().map(|t| (*t).to_owned()).collect();
            for_each_page(&self.store, q, |records| -> Result<(), ServiceError> {
                for r in records {
                    if let Some(j) = &r.json {
                        out.push(stored_json(j)?);
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(latest_of(out, all_versions))
    }

    /// The latest version of `id` the member may see in any collection, and the collection
    /// holding it.
    pub async fn find(&self, id: &str) -> Result<(Value, Collection), ServiceError> {
        let pushdown = Pushdown::for_principal(&self.principal, &self.coalition);
        let mut best: Option<(Value, Collection)> = None;
        for c in self.readable() {
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: pushdown.clone(),
                ids: vec![id.to_owned()],
                types: vec![],
                added_after_us: None,
                versions: VersionSelection::last(),
                spec_versions: vec![],
                after: None,
                limit: 10,
                with_json: true,
            };
            for r in self.store.list(&q).await?.records {
                let Some(j) = r.json else { continue };
                let v = stored_json(&j)?;
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| version_of(&v) > version_of(b))
                {
                    best = Some((v, c.clone()));
                }
            }
        }
        best.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "{id}: not found (or not visible to {})",
                self.principal.member
            ))
        })
    }

    /// [`Self::find`] for many ids at once: one listing per readable collection (per 500 ids)
    /// instead of one per id and collection. Ids the member may not see are absent.
    pub async fn find_many(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, (Value, Collection)>, ServiceError> {
        let pushdown = Pushdown::for_principal(&self.principal, &self.coalition);
        let mut best: HashMap<String, (Value, Collection)> = HashMap::new();
        let mut wanted: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        for c in self.readable() {
            for chunk in wanted.chunks(500) {
                let q = ListQuery {
                    collection: c.id.clone(),
                    pushdown: pushdown.clone(),
                    ids: chunk.to_vec(),
                    types: vec![],
                    added_after_us: None,
                    versions: VersionSelection::last(),
                    spec_versions: vec![],
                    after: None,
                    limit: 1000,
                    with_json: true,
                };
                for_each_page(&self.store, q, |records| -> Result<(), ServiceError> {
                    for r in records {
                        let Some(j) = &r.json else { continue };
                        let v = stored_json(j)?;
                        if best
                            .get(&r.id)
                            .is_none_or(|(b, _)| version_of(&v) > version_of(b))
                        {
                            best.insert(r.id.clone(), (v, c.clone()));
                        }
                    }
                    Ok(())
                })
                .await?;
            }
        }
        Ok(best)
    }

    /// The current version of one's own object `id` of type `t`, and its collection: a
    /// workflow step is a new version by the object's producer, never by another member.
    pub async fn own(&self, id: &str, t: &str) -> Result<(Value, Collection), ServiceError> {
        let (cur, coll) = self.find(id).await?;
        if s(&cur, "type") != t {
            return Err(ServiceError::Usage(format!("{id}: not an {t}")));
        }
        if s(&cur, "created_by_ref") != self.identity {
            return Err(ServiceError::Usage(format!(
                "{id} was created by {}: only its producer makes new versions (act --as that member)",
                s(&cur, "created_by_ref")
            )));
        }
        Ok((cur, coll))
    }

    /// `coord::Common` for a new object by this member marked `marking`.
    pub fn common(&self, marking: &str) -> coord::Common {
        coord::Common::new(uuid::Uuid::new_v4(), now())
            .by(self.identity.clone())
            .marked(marking)
    }
}

/// The object types the coordination pages read (incidents with their victims, impacts,
/// events, tasks and links, DISARM techniques and their users, FIMI activity, assistance).
pub const COORDINATION_TYPES: &[&str] = &[
    "incident",
    "identity",
    "impact",
    "event",
    "task",
    "relationship",
    "attack-pattern",
    "x-mitre-tactic",
    "x-mitre-matrix",
    "narrative",
    "channel",
    "media-content",
    "intrusion-set",
    "threat-actor",
    "campaign",
    "tool",
    "malware",
    coord::assist::AssistanceRequest::TYPE,
    coord::assist::AssistanceOffer::TYPE,
];

/// A stored object's JSON.
fn stored_json(j: &str) -> Result<Value, ServiceError> {
    serde_json::from_str(j)
        .map_err(|e| ServiceError::Corrupt(format!("a stored object is not JSON: {e}")))
}

/// An object's version timestamp.
pub fn version_of(v: &Value) -> Option<Timestamp> {
    v.get("modified")
        .or_else(|| v.get("created"))
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}

/// Keeps the latest version of each id (objects held in several collections appear once),
/// unless `all` (then only exact duplicates go).
fn latest_of(objects: Vec<Value>, all: bool) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    let mut by: HashMap<String, Value> = HashMap::new();
    for o in objects {
        let id = o.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let key = if all {
            format!("{id}@{:?}", version_of(&o).map(|t| t.unix_nanos()))
        } else {
            id
        };
        match by.get(&key) {
            Some(prev) if version_of(prev) >= version_of(&o) => {}
            Some(_) => {
                by.insert(key, o);
            }
            None => {
                order.push(key.clone());
                by.insert(key, o);
            }
        }
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

/// Now, with millisecond precision.
pub fn now() -> Timestamp {
    let us = timestamps::now_us();
    Timestamp::from_unix(
        us.div_euclid(1_000_000),
        u32::try_from(us.rem_euclid(1_000_000) * 1000).unwrap_or(0),
        3,
    )
    .or_else(|| Timestamp::from_unix(0, 0, 3))
    .expect("the Unix epoch is a valid timestamp")
}

/// A new version's time: now, or a millisecond after the current version if the clock has not
/// moved past it (each version must be strictly later).
pub fn next_version_time(current: &Value) -> Timestamp {
    let n = now();
    match version_of(current) {
        Some(c) if c >= n => {
            let ns = c.unix_nanos() + 1_000_000;
            let secs = i64::try_from(ns.div_euclid(1_000_000_000)).unwrap_or(0);
            let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0);
            Timestamp::from_unix(secs, nanos, 3).unwrap_or(n)
        }
        _ => n,
    }
}

/// Objects of one type.
pub fn of_type<'a>(objects: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> {
    objects
        .iter()
        .filter(move |o| o.get("type").and_then(Value::as_str) == Some(t))
}

/// A string property, or `""`.
pub fn s<'a>(o: &'a Value, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}
