//! Property test: the policy pushed down into SQL (`store::list`, `store::visible`) returns exactly
//! the placements `policy::may_see` allows, on random coalitions and data — on SQLite and on
//! PostgreSQL; and for a peer node's account (`Pushdown::egress`), exactly what
//! `policy::may_serve_to_peer` allows (random trust groups and provenance).
//!
//! The data is written as members would write it: versions by their object's producer and by
//! others, re-posts of stored versions with the same or another content, objects no member created,
//! and TLP markings at the object level and as granular markings. The store's producer rule is
//! checked against a model of it (which versions are refused), and the oracle sees only what the
//! model says was stored, with the effective TLP (the most restrictive of both kinds of marking).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use shieldwall::{
    coalition::{Coalition, Collection, Grant},
    config::Role,
    ingest::{self, Prepared},
    policy::{self, Egress, Endpoint, PeerFacts, Principal, Pushdown, VersionFacts},
    store::{
        AddOutcome, AnyStore, ListQuery, NewVersion, Page, Provenance, StatusRecord, Store,
        VersionSelection,
    },
};
use stix::tlp::TlpLevel;

const MEMBERS: usize = 4;
const COLLECTIONS: usize = 3;
const OBJECTS: usize = 6;
const UNKNOWN: usize = 2;

#[derive(Debug, Clone)]
struct Version {
    object: usize,
    version: u8,
    /// The object-level TLP marking.
    tlp: Option<u8>,
    /// A granular TLP marking (on `name`).
    granular: Option<u8>,
    /// Which content the poster sends (two posts of one version differ when this does).
    content: u8,
    /// Whether no member created the object (re-sharable with identical content).
    third_party: bool,
    producer: usize,
    placed_in: Vec<bool>,
    /// Received from peer `p1` (else local).
    from_peer: bool,
    /// Targets among objects (0..OBJECTS) and unknown ids (OBJECTS..OBJECTS+UNKNOWN); empty = not an edge.
    targets: Vec<usize>,
}

#[derive(Debug, Clone)]
struct World {
    readers: Vec<Vec<bool>>,
    red: Vec<Vec<bool>>,
    /// Members of each collection's trust group.
    groups: Vec<Vec<bool>>,
    default_tlp: u8,
    versions: Vec<Version>,
}

fn world() -> impl Strategy<Value = World> {
    let grants = prop::collection::vec(prop::collection::vec(any::<bool>(), MEMBERS), COLLECTIONS);
    let version = (
        (0..OBJECTS + 3, 0u8..3),
        (prop::option::of(0u8..5), prop::option::of(0u8..5), 0u8..2),
        (any::<bool>(), any::<bool>(), 0..MEMBERS),
        prop::collection::vec(any::<bool>(), COLLECTIONS),
        prop::collection::vec(0..OBJECTS + UNKNOWN, 2),
        any::<bool>(),
    )
        .prop_map(
            |(
                (object, version),
                (tlp, granular, content),
                (third_party, by_owner, other),
                placed_in,
                targets,
                from_peer,
            )| Version {
                from_peer,
                // Objects ≥ OBJECTS are relationships (they point to targets); others are plain.
                targets: if object >= OBJECTS { targets } else { vec![] },
                object,
                version,
                tlp,
                granular,
                content,
                third_party,
                // Half the posts come from the object's usual producer, the others from anyone.
                producer: if by_owner { object % MEMBERS } else { other },
                placed_in,
            },
        );
    (
        grants.clone(),
        grants.clone(),
        grants,
        0u8..5,
        prop::collection::vec(version, 1..24),
    )
        .prop_map(|(readers, red, groups, default_tlp, versions)| World {
            readers,
            red,
            groups,
            default_tlp,
            versions,
        })
}

fn level(code: u8) -> TlpLevel {
    TlpLevel::ALL[code as usize]
}

async fn check(store: &AnyStore, w: &World, ns: &str) {
    let member = |m: usize| format!("m{m}");
    let object_id = |o: usize| {
        let ty = if (OBJECTS..OBJECTS + 3).contains(&o) {
            "relationship"
        } else {
            "indicator"
        };
        format!(
            "{ty}--{}",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{ns}/{o}").as_bytes())
        )
    };
    let unknown_id = |o: usize| {
        format!(
            "indicator--{}",
            uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{ns}/unknown/{o}").as_bytes()
            )
        )
    };
    let target_id = |t: usize| {
        if t < OBJECTS {
            object_id(t)
        } else {
            unknown_id(t)
        }
    };
    let collections: Vec<Collection> = (0..COLLECTIONS)
        .map(|c| Collection {
            id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{ns}/c{c}").as_bytes())
                .to_string(),
            api_root: "r".into(),
            title: format!("c{c}"),
            description: None,
            alias: None,
            trust_group: Some(format!("g{c}")),
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
    // The posted objects: real JSON, so that the store computes the effective TLP itself.
    let json_of = |v: &Version| {
        let mut o = serde_json::json!({
            "type": object_id(v.object).split("--").next().unwrap(),
            "spec_version": "2.1",
            "id": object_id(v.object),
            "created": "2020-09-13T12:26:40.000Z",
            "modified": format!("2020-09-13T12:26:4{}.000Z", v.version),
            "name": format!("content {}", v.content),
        });
        if let Some(t) = v.tlp {
            o["object_marking_refs"] = serde_json::json!([level(t).marking_id()]);
        }
        if let Some(g) = v.granular {
            o["granular_markings"] =
                serde_json::json!([{"selectors": ["name"], "marking_ref": level(g).marking_id()}]);
        }
        if let [a, b] = v.targets[..] {
            o["source_ref"] = serde_json::json!(target_id(a));
            o["target_ref"] = serde_json::json!(target_id(b));
        }
        o
    };
    // The model of the producer rule, over the posts in the order they are made: the first
    // accepted post of (object, version) is what is stored; `placed` lists (collection, stored).
    let mut stored: Vec<Version> = Vec::new();
    let mut placed: Vec<(usize, usize)> = Vec::new();
    for (ci, c) in collections.iter().enumerate() {
        for from_peer in [false, true] {
            let posts: Vec<&Version> = w
                .versions
                .iter()
                .filter(|v| v.placed_in[ci] && v.from_peer == from_peer)
                .collect();
            let status = |_: &[AddOutcome]| StatusRecord {
                id: uuid::Uuid::new_v4().to_string(),
                api_root: "r".into(),
                member: "m0".into(),
                request_us: 0,
                expires_us: 0,
                body: "{}".into(),
            };
            let prov = Provenance {
                source: if from_peer { "peer:p1" } else { "local" }.into(),
                actor: "proptest".into(),
            };
            // In two calls, so that some objects gain versions in a collection that already holds
            // one (the store's `multi` flag is maintained across writes, not only within one), and
            // the producer rule is judged both within a batch and against what is stored.
            for half in posts.chunks(posts.len().div_ceil(2).max(1)) {
                let batch: Vec<NewVersion> = half
                    .iter()
                    .map(|&v| {
                        match ingest::to_new_version(&json_of(v), &member(v.producer), None) {
                            Ok(Prepared::Valid(mut n)) => {
                                n.third_party = v.third_party;
                                *n
                            }
                            other => panic!("{other:?}"),
                        }
                    })
                    .collect();
                let outcomes = store.add(&c.id, &prov, &batch, &status).await.unwrap();
                for (&v, outcome) in half.iter().zip(&outcomes) {
                    let same = |s: &Version| s.object == v.object && s.version == v.version;
                    let accepted = match stored.iter().position(same) {
                        Some(k) => {
                            let s = &stored[k];
                            (s.producer == v.producer || v.third_party) && json_of(s) == json_of(v)
                        }
                        None => stored
                            .iter()
                            .filter(|s| s.object == v.object)
                            .max_by_key(|s| s.version)
                            .is_none_or(|latest| latest.producer == v.producer),
                    };
                    assert_eq!(
                        outcome.is_stored(),
                        accepted,
                        "the producer rule for {v:?} ({outcome:?})"
                    );
                    if accepted {
                        let k = stored.iter().position(same).unwrap_or_else(|| {
                            let mut s = v.clone();
                            s.from_peer = from_peer;
                            stored.push(s);
                            stored.len() - 1
                        });
                        if !placed.contains(&(ci, k)) {
                            placed.push((ci, k));
                        }
                    }
                }
            }
        }
    }
    let default_tlp = level(w.default_tlp);
    // The oracle: may_see over the versions as stored and placed, with the effective TLP.
    let placed: Vec<(usize, &Version)> = placed.iter().map(|&(c, k)| (c, &stored[k])).collect();
    let facts: Vec<VersionFacts> = placed
        .iter()
        .map(|(_, v)| VersionFacts {
            tlp: v.tlp.max(v.granular).map(level),
            producer: member(v.producer),
        })
        .collect();
    let mut principals: Vec<Principal> = (0..MEMBERS)
        .map(|m| Principal {
            member: member(m),
            role: Role::Reader,
            actor: "p".into(),
        })
        .collect();
    principals.push(Principal {
        member: member(0),
        role: Role::Admin,
        actor: "admin".into(),
    });
    let default_tlp_level = level(w.default_tlp);
    let coalition = Coalition::for_policy(
        collections.clone(),
        (0..COLLECTIONS)
            .map(|c| {
                (
                    format!("g{c}"),
                    (0..MEMBERS)
                        .filter(|m| w.groups[c][*m])
                        .map(member)
                        .collect(),
                )
            })
            .collect(),
        default_tlp_level,
        Some(member(0)),
    );
    // Peer node accounts: p1 (member m1, where some versions came from), p2 (the node's own
    // member m0), p3 (member m2, as an admin account).
    let peers: Vec<(Principal, &str)> = vec![
        (
            Principal {
                member: member(1),
                role: Role::Reader,
                actor: "node-p1".into(),
            },
            "p1",
        ),
        (
            Principal {
                member: member(0),
                role: Role::Reader,
                actor: "node-p2".into(),
            },
            "p2",
        ),
        (
            Principal {
                member: member(2),
                role: Role::Admin,
                actor: "node-p3".into(),
            },
            "p3",
        ),
    ];
    let accounts: Vec<(&Principal, Option<&str>)> = principals
        .iter()
        .map(|p| (p, None))
        .chain(peers.iter().map(|(p, n)| (p, Some(*n))))
        .collect();
    for (p, peer_name) in accounts {
        let peer = peer_name.map(|name| PeerFacts {
            name,
            member: &p.member,
        });
        let coalition_collections = collections.clone();
        let pushdown = Pushdown {
            member: p.member.clone(),
            readable: (p.role != Role::Admin).then(|| {
                coalition_collections
                    .iter()
                    .filter(|c| policy::can_read(p, c))
                    .map(|c| c.id.clone())
                    .collect()
            }),
            red_recipient_of: coalition_collections
                .iter()
                .filter(|c| policy::can_read(p, c) && c.red_recipients.contains(&p.member))
                .map(|c| c.id.clone())
                .collect(),
            default_tlp,
            egress: peer.map(|pf| Egress::for_peer(pf, &coalition)),
        };
        for (ci, c) in collections.iter().enumerate() {
            let mut want = BTreeSet::new();
            for (i, (pc, v)) in placed.iter().enumerate() {
                if *pc != ci {
                    continue;
                }
                let endpoints: Vec<Endpoint<'_>> = v
                    .targets
                    .iter()
                    .map(|t| {
                        let known: Vec<(&VersionFacts, &Collection)> = placed
                            .iter()
                            .enumerate()
                            .filter(|(_, (_, ov))| *t < OBJECTS && ov.object == *t)
                            .map(|(j, (oc, _))| (&facts[j], &collections[*oc]))
                            .collect();
                        if known.is_empty() {
                            Endpoint::Unknown
                        } else {
                            Endpoint::Known(known)
                        }
                    })
                    .collect();
                let source = if v.from_peer { "peer:p1" } else { "local" };
                let allowed = match peer {
                    None => policy::may_see(p, &facts[i], c, default_tlp, &endpoints),
                    Some(pf) => policy::may_serve_to_peer(
                        p, pf, &facts[i], source, c, &coalition, &endpoints,
                    ),
                };
                if allowed {
                    want.insert((object_id(v.object), v.version));
                }
            }
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: pushdown.clone(),
                ids: vec![],
                types: vec![],
                added_after_us: None,
                versions: VersionSelection::all(),
                spec_versions: vec!["2.0".into(), "2.1".into()],
                after: None,
                limit: 10_000,
                with_json: false,
            };
            let page = store.list(&q).await.unwrap();
            let got: BTreeSet<(String, u8)> = page
                .records
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        u8::try_from((r.version_ns - 1_600_000_000_000_000_000) / 1_000_000_000)
                            .unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, want, "principal {p:?} collection c{ci}");
            // The default `match[version]=last`: the latest version among the visible ones (a
            // hidden newer version does not hide an older visible one).
            let mut latest: HashMap<&String, u8> = HashMap::new();
            for (id, version) in &want {
                let l = latest.entry(id).or_insert(*version);
                *l = (*l).max(*version);
            }
            let want_last: BTreeSet<(String, u8)> =
                latest.into_iter().map(|(id, v)| (id.clone(), v)).collect();
            let last = store
                .list(&ListQuery {
                    versions: VersionSelection::last(),
                    spec_versions: vec![],
                    ..q.clone()
                })
                .await
                .unwrap();
            let got_last: BTreeSet<(String, u8)> = last
                .records
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        u8::try_from((r.version_ns - 1_600_000_000_000_000_000) / 1_000_000_000)
                            .unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                got_last, want_last,
                "latest versions: principal {p:?} collection c{ci}"
            );
            let versions_of = |page: &Page| -> BTreeSet<(String, u8)> {
                page.records
                    .iter()
                    .map(|r| {
                        (
                            r.id.clone(),
                            u8::try_from(
                                (r.version_ns - 1_600_000_000_000_000_000) / 1_000_000_000,
                            )
                            .unwrap(),
                        )
                    })
                    .collect()
            };
            for o in 0..OBJECTS + 3 {
                let id = object_id(o);
                let visible = store.visible(&c.id, &id, &pushdown).await.unwrap();
                assert_eq!(
                    visible,
                    want.iter().any(|(i, _)| *i == id),
                    "visible({id}) for {p:?} in c{ci}"
                );
                // By id (`match[id]`, the by-id endpoints: their own form of the listing): every
                // visible version, the latest and the first among the visible ones.
                let of_id = |set: &BTreeSet<(String, u8)>| -> BTreeSet<(String, u8)> {
                    set.iter().filter(|(i, _)| *i == id).cloned().collect()
                };
                let by_id = ListQuery {
                    ids: vec![id.clone()],
                    ..q.clone()
                };
                let all = store.list(&by_id).await.unwrap();
                assert_eq!(versions_of(&all), of_id(&want), "by id {id}: {p:?} c{ci}");
                let last = store
                    .list(&ListQuery {
                        versions: VersionSelection::last(),
                        spec_versions: vec![],
                        ..by_id.clone()
                    })
                    .await
                    .unwrap();
                assert_eq!(
                    versions_of(&last),
                    of_id(&want_last),
                    "by id {id}, latest: {p:?} c{ci}"
                );
                let mut first = VersionSelection::last();
                (first.last, first.first) = (false, true);
                let first = store
                    .list(&ListQuery {
                        versions: first,
                        spec_versions: vec![],
                        ..by_id.clone()
                    })
                    .await
                    .unwrap();
                let want_first: BTreeSet<(String, u8)> = of_id(&want)
                    .into_iter()
                    .min_by_key(|(_, v)| *v)
                    .into_iter()
                    .collect();
                assert_eq!(
                    versions_of(&first),
                    want_first,
                    "by id {id}, first: {p:?} c{ci}"
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
fn pushdown_agrees_with_may_see_on_sqlite() {
    let rt = runtime();
    let (_dir, path) = common::sqlite_path();
    let store = rt
        .block_on(AnyStore::open(&format!("sqlite://{}", path.display())))
        .unwrap();
    proptest!(ProptestConfig::with_cases(48), |(w in world())| {
        rt.block_on(check(&store, &w, &uuid::Uuid::new_v4().to_string()));
    });
}

#[test]
fn pushdown_agrees_with_may_see_on_postgres() {
    let rt = runtime();
    let Some(db) = rt.block_on(common::PgDb::create("policy pushdown on PostgreSQL")) else {
        return;
    };
    let store = rt.block_on(AnyStore::open(&db.url)).unwrap();
    proptest!(ProptestConfig::with_cases(24), |(w in world())| {
        rt.block_on(check(&store, &w, &uuid::Uuid::new_v4().to_string()));
    });
    rt.block_on(db.drop_db(Some(store)));
}
