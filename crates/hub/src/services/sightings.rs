//! What `scan` makes of its hits: aggregated per indicator ([`HitAggregator`]) into STIX
//! sightings (count, first and last time, optional observed data with real ids), delivered to a
//! [`HitSink`]: a bundle file ([`FileSink`]), a collection of the local store through the one
//! write path ([`CollectionSink`]), or a remote hub's collection over TAXII ([`RemoteSink`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    future::Future,
    path::PathBuf,
    sync::Arc,
};

use serde_json::{Value, json};
use stix::tlp::TlpLevel;

use super::ServiceError;
use crate::{
    coalition::{Coalition, Collection},
    policy::Principal,
    publish::{self, PublishLimits, Publisher},
    store::AnyStore,
    sync::client::TaxiiClient,
};

/// Observed data kept per indicator when observed data is included.
pub const OBSERVED_PER_INDICATOR: usize = 10;

/// Hits of one indicator, for its sighting.
#[derive(Debug, Clone)]
struct Seen {
    count: u64,
    first: i64,
    last: i64,
    kept: usize,
    observed: Vec<Value>,
}

/// Hits aggregated per indicator id.
#[derive(Debug, Default)]
pub struct HitAggregator {
    seen: BTreeMap<String, Seen>,
    include_observed: bool,
}

impl HitAggregator {
    /// An empty aggregation; with `include_observed`, up to [`OBSERVED_PER_INDICATOR`] records
    /// per indicator are kept as observed data.
    pub fn new(include_observed: bool) -> HitAggregator {
        HitAggregator {
            seen: BTreeMap::new(),
            include_observed,
        }
    }

    /// Whether hits' records are kept as observed data.
    pub fn keeps_observed(&self) -> bool {
        self.include_observed
    }

    /// Counts one hit of `indicator` at `time` (nanoseconds); `observed` makes the observed
    /// data of the record, asked only while more are kept.
    pub fn record(&mut self, indicator: &str, time: i64, observed: impl FnOnce() -> Vec<Value>) {
        let s = match self.seen.get_mut(indicator) {
            Some(s) => s,
            None => self.seen.entry(indicator.to_owned()).or_insert(Seen {
                count: 0,
                first: time,
                last: time,
                kept: 0,
                observed: Vec::new(),
            }),
        };
        s.count += 1;
        s.first = s.first.min(time);
        s.last = s.last.max(time);
        if self.include_observed && s.kept < OBSERVED_PER_INDICATOR {
            s.kept += 1;
            s.observed.extend(observed());
        }
    }

    /// How many indicators were hit (one sighting each).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing was hit.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The sightings of the hits (one per indicator, by `identity` at `now`, marked `tlp`)
    /// with the TLP marking definition first, then any observed data.
    pub fn sightings(&self, identity: &str, tlp: TlpLevel, now: i64) -> Vec<Value> {
        let mut objects = vec![tlp.marking_definition()];
        // SCOs have deterministic ids: the same address seen twice is one object.
        let mut emitted = HashSet::new();
        for (indicator, s) in &self.seen {
            let mut sighting = json!({
                "type": "sighting",
                "spec_version": "2.1",
                "id": format!("sighting--{}", uuid::Uuid::new_v4()),
                "created": stix_time(now),
                "modified": stix_time(now),
                "created_by_ref": identity,
                "sighting_of_ref": indicator,
                "count": s.count.min(999_999_999),
                "first_seen": stix_time(s.first),
                "last_seen": stix_time(s.last.max(s.first)),
                "where_sighted_refs": [identity],
                "object_marking_refs": [tlp.marking_id()],
            });
            if !s.observed.is_empty() {
                let mut obs = s.observed.clone();
                fresh_ids(&mut obs);
                let refs: Vec<Value> = obs
                    .iter()
                    .filter(|o| o["type"] == "observed-data")
                    .map(|o| o["id"].clone())
                    .collect();
                sighting["observed_data_refs"] = refs.into();
                for mut o in obs {
                    o["object_marking_refs"] = json!([tlp.marking_id()]);
                    if emitted.insert(o["id"].as_str().unwrap_or("").to_owned()) {
                        objects.push(o);
                    }
                }
            }
            objects.push(sighting);
        }
        objects
    }
}

fn stix_time(nanos: i64) -> String {
    telemetry::time::format_timestamp(nanos)
}

/// Gives generated observed data real ids: SCOs their deterministic UUIDv5 (STIX 2.1 §2.9,
/// computed after their references are rewritten), observed-data a fresh UUIDv4. A
/// `network-traffic` without `protocols` (which STIX requires) gets the address family of its
/// endpoints, the one protocol a log line with addresses always implies.
fn fresh_ids(objects: &mut [Value]) {
    fn rewrite(v: &mut Value, map: &HashMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(n) = map.get(s.as_str()) {
                    *s = n.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, map)),
            Value::Object(o) => o.values_mut().for_each(|x| rewrite(x, map)),
            _ => {}
        }
    }
    let mut map = HashMap::new();
    let mut families = HashMap::new();
    for pass_sdo in [false, true] {
        for o in objects.iter_mut() {
            let is_sdo = o["type"] == "observed-data";
            if is_sdo != pass_sdo {
                continue;
            }
            let Some(old) = o.get("id").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if let Some(m) = o.as_object_mut() {
                m.remove("id");
            }
            rewrite(o, &map);
            let t = o["type"].as_str().unwrap_or("x").to_owned();
            if matches!(t.as_str(), "ipv4-addr" | "ipv6-addr") {
                families.insert(old.clone(), if t == "ipv4-addr" { "ipv4" } else { "ipv6" });
            }
            if t == "network-traffic" && o.get("protocols").is_none() {
                let family = ["src_ref", "dst_ref"]
                    .iter()
                    .filter_map(|k| o.get(*k).and_then(Value::as_str))
                    .find_map(|r| {
                        map.iter()
                            .find(|(_, n)| *n == r)
                            .and_then(|(old, _)| families.get(old))
                    })
                    .copied()
                    .unwrap_or("ipv4");
                o["protocols"] = json!([family]);
            }
            let new = match o.as_object() {
                Some(m) if !is_sdo => stix::id::deterministic_sco_id(m),
                _ => None,
            }
            .unwrap_or_else(|| format!("{t}--{}", uuid::Uuid::new_v4()));
            o["id"] = new.clone().into();
            map.insert(old, new);
        }
    }
}

/// What a sink did with the sightings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Objects stored now (or accepted by the remote hub).
    pub stored: u64,
    /// Objects already present.
    pub already: u64,
    /// Objects refused (`id: reason`), or what is still pending remotely.
    pub refused: Vec<String>,
}

/// Where the sightings of a scan go.
pub trait HitSink {
    /// Delivers the sightings (and observed data; the marking definitions first, as
    /// [`HitAggregator::sightings`] makes them).
    fn deliver(
        &mut self,
        objects: Vec<Value>,
    ) -> impl Future<Output = Result<Delivered, ServiceError>> + Send;
}

/// A STIX bundle file.
#[derive(Debug, Clone)]
pub struct FileSink {
    /// The file written (replaced).
    pub path: PathBuf,
}

impl HitSink for FileSink {
    async fn deliver(&mut self, objects: Vec<Value>) -> Result<Delivered, ServiceError> {
        let n = objects.len() as u64;
        let bundle = json!({
            "type": "bundle",
            "id": format!("bundle--{}", uuid::Uuid::new_v4()),
            "objects": objects,
        });
        let text = serde_json::to_vec_pretty(&bundle)
            .map_err(|e| ServiceError::Usage(format!("cannot serialise the sightings: {e}")))?;
        std::fs::write(&self.path, text).map_err(|e| {
            ServiceError::Usage(format!("cannot write {}: {e}", self.path.display()))
        })?;
        Ok(Delivered {
            stored: n,
            ..Delivered::default()
        })
    }
}

/// The predefined TLP marking definitions are not reported to a hub: it has them.
fn without_markings(objects: Vec<Value>) -> Vec<Value> {
    objects
        .into_iter()
        .filter(|o| o["type"] != "marking-definition")
        .collect()
}

/// A collection of the local store, written as the member through [`crate::publish`].
#[derive(Debug, Clone)]
pub struct CollectionSink {
    /// The store.
    pub store: AnyStore,
    /// The coalition.
    pub coalition: Arc<Coalition>,
    /// The member reporting.
    pub principal: Principal,
    /// The collection written.
    pub collection: Collection,
    /// The node's write limits.
    pub limits: PublishLimits,
}

impl HitSink for CollectionSink {
    async fn deliver(&mut self, objects: Vec<Value>) -> Result<Delivered, ServiceError> {
        let r = publish::publish(
            &self.store,
            &self.coalition,
            without_markings(objects),
            Publisher::Member(&self.principal),
            &self.collection,
            self.limits,
        )
        .await?;
        Ok(Delivered {
            stored: r.added,
            already: r.already_present,
            refused: r.failures.iter().take(20).map(|f| f.line()).collect(),
        })
    }
}

/// A remote hub's collection, posted over TAXII 2.1 in envelopes of 500 objects.
#[derive(Debug)]
pub struct RemoteSink {
    /// The client of the remote hub's API root.
    pub client: TaxiiClient,
    /// The remote collection id.
    pub collection: String,
}

impl HitSink for RemoteSink {
    async fn deliver(&mut self, objects: Vec<Value>) -> Result<Delivered, ServiceError> {
        let texts: Vec<String> = without_markings(objects)
            .iter()
            .map(Value::to_string)
            .collect();
        let mut r = Delivered::default();
        for chunk in texts.chunks(500) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let s = self
                .client
                .post_objects(&self.collection, &refs)
                .await
                .map_err(|e| ServiceError::Remote(e.to_string()))?;
            r.stored += s.success;
            r.refused.extend(s.failures);
            if s.pending > 0 {
                r.refused
                    .push(format!("{} objects still pending on the hub", s.pending));
            }
        }
        Ok(r)
    }
}
