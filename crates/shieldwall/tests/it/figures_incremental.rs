//! Property test: the home page's figures from a member view kept up to date after each write
//! (`services::report::FiguresCache`, which reads only what changed since) equal the figures
//! computed afresh from the member's whole view, for every member, after every write — on random
//! coalitions and data, on SQLite and on PostgreSQL.
//!
//! The writes are what changes a view without touching its objects: new versions (TLP raised to
//! RED or lowered), placements in further collections, edges (`targets`, `uses`, sightings) to
//! objects not yet stored that arrive later with a marking some members may not see, and
//! deletions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use proptest::prelude::*;
use serde_json::{Value, json};
use shieldwall::{
    coalition::{Coalition, Collection, Grant, Member},
    config::Role,
    ingest::{self, Prepared},
    policy::Principal,
    publish::PublishLimits,
    services::{member::MemberService, report},
    store::{
        AddOutcome, AnyStore, DeleteQuery, NewVersion, Provenance, StatusRecord, Store,
        VersionSelection,
    },
};
use stix::tlp::TlpLevel;

const MEMBERS: usize = 3;
const COLLECTIONS: usize = 3;
/// Objects: 0..2 incidents, 2..4 identities, 4..6 attack-patterns, 6..8 indicators,
/// 8..12 relationships, 12..14 sightings.
const OBJECTS: usize = 14;

#[derive(Debug, Clone)]
struct Write {
    object: usize,
    version: u8,
    tlp: Option<u8>,
    collection: usize,
    /// For relationships and sightings: their endpoints (indices of objects).
    ends: (usize, usize),
    /// Delete the object from the collection instead.
    delete: bool,
}

#[derive(Debug, Clone)]
struct World {
    readers: Vec<Vec<bool>>,
    red: Vec<Vec<bool>>,
    default_tlp: u8,
    batches: Vec<Vec<Write>>,
}

fn world() -> impl Strategy<Value = World> {
    let grants = prop::collection::vec(prop::collection::vec(any::<bool>(), MEMBERS), COLLECTIONS);
    let write = (
        0..OBJECTS,
        0u8..3,
        prop::option::of(0u8..5),
        0..COLLECTIONS,
        (0..OBJECTS, 0..OBJECTS),
        prop::bool::weighted(0.08),
    )
        .prop_map(|(object, version, tlp, collection, ends, delete)| Write {
            object,
            version,
            tlp,
            collection,
            ends,
            delete,
        });
    (
        grants.clone(),
        grants,
        0u8..5,
        prop::collection::vec(prop::collection::vec(write, 1..5), 1..7),
    )
        .prop_map(|(readers, red, default_tlp, batches)| World {
            readers,
            red,
            default_tlp,
            batches,
        })
}

fn level(code: u8) -> TlpLevel {
    TlpLevel::ALL[code as usize]
}

fn kind(o: usize) -> &'static str {
    match o {
        0..2 => "incident",
        2..4 => "identity",
        4..6 => "attack-pattern",
        6..8 => "indicator",
        8..12 => "relationship",
        _ => "sighting",
    }
}

fn member(m: usize) -> String {
    format!("m{m}")
}

fn identity_of(m: usize) -> String {
    format!(
        "identity--{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("member {m}").as_bytes())
    )
}

/// The figures of `m` with `cache` at `now_s`, as JSON (current and previous windows, RED and
/// AMBER+STRICT ids named).
async fn figures(m: &MemberService, cache: &report::FiguresCache, days: i64, now_s: i64) -> Value {
    let f = report::window_figures_at(m, cache, days, now_s)
        .await
        .unwrap();
    as_json(&f)
}

/// The figures computed from scratch: the member's view read whole and the figures computed
/// from the objects' JSON, no cache.
async fn scratch(m: &MemberService, days: i64, now_s: i64) -> Value {
    as_json(&report::window_figures_fresh(m, days, now_s).await.unwrap())
}

fn as_json(f: &report::WindowFigures) -> Value {
    json!({
        "current": f.current.to_json(),
        "previous": f.previous.to_json(),
        "red": f.red,
        "strict": f.strict,
    })
}

async fn check(store: &AnyStore, w: &World, ns: &str) {
    let id = |o: usize| {
        format!(
            "{}--{}",
            kind(o),
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{ns}/{o}").as_bytes())
        )
    };
    let collections: Vec<Collection> = (0..COLLECTIONS)
        .map(|c| Collection {
            id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{ns}/c{c}").as_bytes())
                .to_string(),
            api_root: "r".into(),
            title: format!("c{c}"),
            description: None,
            alias: None,
            trust_group: None,
            read: Grant::Members(
                (0..MEMBERS)
                    .filter(|m| w.readers[c][*m])
                    .map(member)
                    .collect(),
            ),
            write: Grant::Members(BTreeSet::new()),
            red_recipients: (0..MEMBERS).filter(|m| w.red[c][*m]).map(member).collect(),
        })
        .collect();
    let mut coalition = Coalition::for_policy(
        collections.clone(),
        HashMap::new(),
        level(w.default_tlp),
        Some(member(0)),
    );
    for m in 0..MEMBERS {
        coalition.members.insert(
            member(m),
            Member {
                id: member(m),
                name: member(m),
                identity: identity_of(m),
                country: None,
                sectors: vec![],
            },
        );
    }
    let coalition = Arc::new(coalition);
    let services: Vec<MemberService> = (0..MEMBERS)
        .map(|m| {
            MemberService::new(
                store.clone(),
                coalition.clone(),
                Principal {
                    member: member(m),
                    role: Role::Reader,
                    actor: "p".into(),
                },
                PublishLimits::transient(),
            )
            .unwrap()
        })
        .collect();
    // Created a day ago (inside every window), modified by version.
    let now = shieldwall::timestamps::now_us();
    let day = 86_400_000_000i64;
    let ts = |us: i64| {
        stix::Timestamp::from_unix(us.div_euclid(1_000_000), 0, 3)
            .unwrap()
            .to_string()
    };
    // Some objects were created in the window before (so that "previous" counts too).
    let created = |o: usize| ts(now - day - if o.is_multiple_of(2) { 0 } else { 9 * day });
    let json_of = |wr: &Write| {
        let o = wr.object;
        let producer = o % MEMBERS;
        let modified = ts(now - day
            + i64::from(wr.version) * 1_000_000
            + if o.is_multiple_of(2) { 0 } else { -9 * day });
        let mut v = json!({
            "type": kind(o), "spec_version": "2.1", "id": id(o),
            "created": created(o), "modified": modified,
            "created_by_ref": identity_of(producer),
        });
        match kind(o) {
            "incident" => {
                v["name"] = json!(format!("incident {o}"));
            }
            "identity" => {
                v["name"] = json!(format!("victim {o}"));
                v["identity_class"] = json!("organization");
                v["sectors"] = json!([if o.is_multiple_of(2) {
                    "energy"
                } else {
                    "government"
                }]);
            }
            "attack-pattern" => {
                v["name"] = json!(format!("technique {o}"));
                v["external_references"] =
                    json!([{"source_name": "mitre-attack", "external_id": format!("T10{o}")}]);
            }
            "indicator" => {
                v["pattern"] = json!(format!("[ipv4-addr:value = '10.0.0.{o}']"));
                v["pattern_type"] = json!("stix");
                v["valid_from"] = json!(created(o));
            }
            "relationship" => {
                let (a, b) = (wr.ends.0 % 8, wr.ends.1 % 8);
                // `targets` from an incident, `uses` otherwise (to a technique when it is one).
                v["relationship_type"] = json!(if kind(a) == "incident" && o.is_multiple_of(2) {
                    "targets"
                } else {
                    "uses"
                });
                v["source_ref"] = json!(id(a));
                v["target_ref"] = json!(id(b));
            }
            _ => {
                v["sighting_of_ref"] = json!(id(4 + wr.ends.0 % 4));
                v["first_seen"] = json!(created(o));
                v["count"] = json!(1 + wr.version);
                v["where_sighted_refs"] = json!([id(2 + wr.ends.1 % 2)]);
            }
        }
        if let Some(t) = wr.tlp {
            v["object_marking_refs"] = json!([level(t).marking_id()]);
        }
        v
    };
    let status = |_: &[AddOutcome]| StatusRecord {
        id: uuid::Uuid::new_v4().to_string(),
        api_root: "r".into(),
        member: "m0".into(),
        request_us: 0,
        expires_us: 0,
        body: "{}".into(),
    };
    let prov = Provenance {
        source: "local".into(),
        actor: "proptest".into(),
    };
    // One cache kept across the writes (brought up to date), compared after each batch with a
    // fresh one.
    let kept = report::FiguresCache::default();
    for (bi, batch) in w.batches.iter().enumerate() {
        for wr in batch {
            let c = &collections[wr.collection];
            if wr.delete {
                let pushdown = shieldwall::policy::Pushdown {
                    member: member(wr.object % MEMBERS),
                    readable: None,
                    red_recipient_of: vec![],
                    default_tlp: level(w.default_tlp),
                    egress: None,
                };
                store
                    .delete(&DeleteQuery {
                        collection: c.id.clone(),
                        id: id(wr.object),
                        pushdown,
                        versions: VersionSelection::all(),
                        spec_versions: vec![],
                        only_producer: None,
                    })
                    .await
                    .unwrap();
                continue;
            }
            let producer = member(wr.object % MEMBERS);
            let v: NewVersion = match ingest::to_new_version(&json_of(wr), &producer, None) {
                Ok(Prepared::Valid(n)) => *n,
                other => panic!("{other:?}"),
            };
            // A refused write (another content for a stored version) changes nothing: fine.
            store.add(&c.id, &prov, &[v], &status).await.unwrap();
        }
        let now_s = now / 1_000_000;
        for (m, svc) in services.iter().enumerate() {
            for days in [7, 30] {
                let incremental = figures(svc, &kept, days, now_s).await;
                let fresh = figures(svc, &report::FiguresCache::default(), days, now_s).await;
                assert_eq!(
                    incremental, fresh,
                    "member m{m}, {days} days, after batch {bi}: {batch:?}"
                );
                // And the figures kept as compact facts equal those computed from the JSON.
                let from_json = scratch(svc, days, now_s).await;
                assert_eq!(
                    incremental, from_json,
                    "member m{m}, {days} days, after batch {bi} (from scratch): {batch:?}"
                );
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn kept_figures_equal_fresh_figures_on_sqlite() {
    let rt = runtime();
    let (_dir, path) = common::sqlite_path();
    let store = rt
        .block_on(AnyStore::open(&format!("sqlite://{}", path.display())))
        .unwrap();
    proptest!(ProptestConfig::with_cases(40), |(w in world())| {
        rt.block_on(check(&store, &w, &uuid::Uuid::new_v4().to_string()));
    });
}

#[test]
fn kept_figures_equal_fresh_figures_on_postgres() {
    let rt = runtime();
    let Some(db) = rt.block_on(common::PgDb::create("kept figures on PostgreSQL")) else {
        return;
    };
    let store = rt.block_on(AnyStore::open(&db.url)).unwrap();
    proptest!(ProptestConfig::with_cases(16), |(w in world())| {
        rt.block_on(check(&store, &w, &uuid::Uuid::new_v4().to_string()));
    });
    rt.block_on(db.drop_db(Some(store)));
}
