//! The leak test: the demo coalition (6 members, 3 trust groups, 4 collections in 2 API roots,
//! reports under every TLP level and unmarked, edges to RED objects) served over HTTP on
//! 127.0.0.1; every user queries every collection through every endpoint. Each must see exactly
//! the set `policy::may_see` allows — checked against hand-counted totals too — and nothing else:
//! no extra object, id, version, header, or a 404 that differs from an absent object's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{client, get, start};
use serde_json::Value;
use shieldwall::{
    coalition::Coalition,
    demo,
    policy::{self, Endpoint, Principal, VersionFacts},
    store::{AnyStore, Placement, Store},
};
use stix::tlp::TlpLevel;

/// Expected visible ids per (user, collection alias), from `may_see` over the stored placements.
fn expected(
    coalition: &Coalition,
    placements: &[Placement],
) -> BTreeMap<(String, String), BTreeSet<String>> {
    let facts: Vec<VersionFacts> = placements
        .iter()
        .map(|p| VersionFacts {
            tlp: p.tlp.and_then(policy::tlp_from_code),
            producer: p.producer.clone(),
        })
        .collect();
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in placements.iter().enumerate() {
        by_id.entry(p.id.as_str()).or_default().push(i);
    }
    let mut out = BTreeMap::new();
    for (user, member, role) in demo::USERS {
        let principal = Principal {
            member: (*member).into(),
            role: *role,
            actor: (*user).into(),
        };
        for c in &coalition.collections {
            let mut seen = BTreeSet::new();
            for (i, p) in placements
                .iter()
                .enumerate()
                .filter(|(_, p)| p.collection == c.id)
            {
                let endpoints: Vec<Endpoint<'_>> = p
                    .edge_refs
                    .iter()
                    .map(|t| match by_id.get(t.as_str()) {
                        None => Endpoint::Unknown,
                        Some(ix) => Endpoint::Known(
                            ix.iter()
                                .map(|&j| {
                                    (
                                        &facts[j],
                                        coalition
                                            .collection_by_id(&placements[j].collection)
                                            .unwrap(),
                                    )
                                })
                                .collect(),
                        ),
                    })
                    .collect();
                if policy::may_see(&principal, &facts[i], c, coalition.default_tlp, &endpoints) {
                    seen.insert(p.id.clone());
                }
            }
            out.insert(((*user).to_string(), c.alias.clone().unwrap()), seen);
        }
    }
    out
}

/// Pages through a listing; returns every item and checks each page's headers.
async fn walk(c: &reqwest::Client, url: &str, user: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let sep = if url.contains('?') { '&' } else { '?' };
        let page_url = match &next {
            Some(n) => format!("{url}{sep}limit=17&next={n}"),
            None => format!("{url}{sep}limit=17"),
        };
        let (s, h, body) = get(c, &page_url, user).await;
        assert_eq!(s, 200, "{page_url}: {body}");
        let page = body[key].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            assert_eq!(body, serde_json::json!({}));
            assert!(h.get("x-taxii-date-added-first").is_none());
        }
        items.extend(page);
        match body["next"].as_str() {
            Some(n) if body["more"] == Value::Bool(true) => next = Some(n.to_owned()),
            _ => {
                assert!(body.get("next").is_none(), "next without more");
                break;
            }
        }
    }
    items
}

async fn leak_test(store: AnyStore, data_dir: &std::path::Path) {
    let checked = demo::config("127.0.0.1:0", data_dir)
        .unwrap()
        .check("demo")
        .unwrap();
    let coalition = Coalition::from_config(&checked);
    assert!(coalition.members.len() >= 5 && coalition.trust_groups.len() >= 3);
    demo::seed(&store, &coalition).await.unwrap();
    let placements = store.placements().await.unwrap();
    for level in TlpLevel::ALL {
        assert!(
            placements
                .iter()
                .any(|p| p.tlp == Some(policy::tlp_code(level))),
            "{level} present"
        );
    }
    assert!(
        placements.iter().any(|p| p.tlp.is_none()),
        "unmarked present"
    );
    let want = expected(&coalition, &placements);

    // Hand-counted totals (see demo.rs): 25 objects per publisher + 6 TLP definitions.
    let counts: &[(&str, &str, usize)] = &[
        ("admin", "coalition-indicators", 156),
        ("ee-analyst", "coalition-indicators", 131),
        ("nl-soc", "coalition-indicators", 131),
        ("ee-analyst", "baltic-sharing", 71),
        ("lt-analyst", "baltic-sharing", 81),
        ("admin", "baltic-sharing", 66),
        ("pl-analyst", "baltic-sharing", 0),
        ("ee-soc", "energy-sector", 71),
        ("lv-analyst", "energy-sector", 0),
        ("admin", "public-feed", 31),
        ("nl-analyst", "public-feed", 26),
    ];
    for (user, alias, n) in counts {
        assert_eq!(
            want[&(user.to_string(), alias.to_string())].len(),
            *n,
            "{user} in {alias}"
        );
    }

    let node = start(&checked, store).await;
    let c = client();
    let all_ids: BTreeSet<String> = placements.iter().map(|p| p.id.clone()).collect();
    let absent = "indicator--00000000-0000-4000-8000-000000000000";
    for (user, member, role) in demo::USERS {
        let principal = Principal {
            member: (*member).into(),
            role: *role,
            actor: (*user).into(),
        };
        for root in ["coalition", "public"] {
            let (s, _, body) = get(&c, &format!("{}/{root}/collections/", node.base), user).await;
            assert_eq!(s, 200);
            let listed: BTreeSet<String> = body["collections"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let allowed: BTreeSet<String> = coalition
                .collections
                .iter()
                .filter(|c| {
                    c.api_root == root
                        && (policy::can_read(&principal, c) || policy::can_write(&principal, c))
                })
                .map(|c| c.id.clone())
                .collect();
            assert_eq!(listed, allowed, "{user} collections in {root}");
        }
        for coll in &coalition.collections {
            let alias = coll.alias.clone().unwrap();
            let visible = &want[&(user.to_string(), alias.clone())];
            let base = format!("{}/{}/collections/{}", node.base, coll.api_root, coll.id);
            if !policy::can_read(&principal, coll) {
                let (s, _, _) = get(&c, &format!("{base}/objects/"), user).await;
                assert!(s == 404 || s == 403, "{user} reads {alias}: {s}");
                continue;
            }
            let objects = walk(&c, &format!("{base}/objects/"), user, "objects").await;
            let got: Vec<String> = objects
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                got.len(),
                visible.len(),
                "{user} in {alias}: no duplicate, nothing extra"
            );
            assert_eq!(
                got.iter().cloned().collect::<BTreeSet<_>>(),
                *visible,
                "{user} objects in {alias}"
            );
            let manifest = walk(&c, &format!("{base}/manifest/"), user, "objects").await;
            let got: BTreeSet<String> = manifest
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, *visible, "{user} manifest of {alias}");
            let rels = walk(
                &c,
                &format!("{base}/objects/?match[type]=relationship"),
                user,
                "objects",
            )
            .await;
            for r in &rels {
                for end in ["source_ref", "target_ref"] {
                    let t = r[end].as_str().unwrap();
                    assert!(
                        !all_ids.contains(t) || visible_anywhere(&want, user, t),
                        "{user}: edge to hidden {t}"
                    );
                }
            }
            // By id: visible → 200 with exactly that id; anything else → the same 404 as an absent id.
            let (_, _, absent_body) = get(&c, &format!("{base}/objects/{absent}/"), user).await;
            for id in &all_ids {
                let (s, h, body) = get(&c, &format!("{base}/objects/{id}/"), user).await;
                let (vs, vh, vbody) =
                    get(&c, &format!("{base}/objects/{id}/versions/"), user).await;
                if visible.contains(id) {
                    assert_eq!(s, 200, "{user} {alias} {id}");
                    assert_eq!(body["objects"][0]["id"].as_str(), Some(id.as_str()));
                    assert_eq!(body["objects"].as_array().unwrap().len(), 1);
                    assert!(h.get("x-taxii-date-added-first").is_some());
                    assert_eq!(vs, 200);
                    assert_eq!(vbody["versions"].as_array().unwrap().len(), 1);
                    assert!(vh.get("x-taxii-date-added-last").is_some());
                } else {
                    assert_eq!(
                        (s, &body),
                        (404, &absent_body),
                        "{user} {alias} {id} must look absent"
                    );
                    assert_eq!(vs, 404);
                    assert!(
                        h.get("x-taxii-date-added-first").is_none()
                            && vh.get("x-taxii-date-added-first").is_none()
                    );
                    if policy::can_write(&principal, coll) {
                        let r = c
                            .delete(format!("{base}/objects/{id}/"))
                            .basic_auth(user, Some("demo"))
                            .header("Accept", common::ACCEPT)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status().as_u16(), 404, "{user} deletes hidden {id}");
                    }
                }
            }
        }
    }
    // Nothing was deleted by the attempts above.
    assert_eq!(
        node.store.placements().await.unwrap().len(),
        placements.len()
    );
}

fn visible_anywhere(
    want: &BTreeMap<(String, String), BTreeSet<String>>,
    user: &str,
    id: &str,
) -> bool {
    want.iter()
        .any(|((u, _), ids)| u == user && ids.contains(id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_test_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    leak_test(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_test_on_postgres() {
    let Some(db) = common::PgDb::create("leak test on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    leak_test(store.clone(), dir.path()).await;
    db.drop_db(Some(store)).await;
}
