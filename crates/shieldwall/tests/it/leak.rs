//! The leak test: the demo coalition (6 members, 3 trust groups, 4 collections in 2 API roots,
//! reports under every TLP level and unmarked, edges to RED objects) served over HTTP on
//! 127.0.0.1; every user queries every collection through every endpoint. Each must see exactly
//! the set `policy::may_see` allows — checked against hand-counted totals too — and nothing else:
//! no extra object, id, version, header, or a 404 that differs from an absent object's.
//!
//! Before the sweep, members attack over HTTP: re-posting stubs under the id and version of
//! objects they may not see (another member's AMBER object from a collection they cannot read,
//! a TLP:RED object they are not a recipient of) into collections they can read, forging new
//! versions of other members' objects, and impersonating a member with an upper-case UUID. Every
//! attempt is refused and the real objects stay where they were; members also re-post their own
//! objects (accepted) and publish objects with granular TLP:RED markings, which the sweep then
//! holds to the policy like everything else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

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
pub(crate) fn expected(
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
    demo::seed(
        &store,
        &coalition,
        shieldwall::publish::PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
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
    attacks(&node, &coalition, &c).await;
    // The sweep covers what the attacks left: exactly the placements before, plus the granular
    // objects and the producer's own re-post.
    let before = placements;
    let placements = node.store.placements().await.unwrap();
    let added: Vec<&Placement> = placements
        .iter()
        .filter(|p| {
            !before
                .iter()
                .any(|b| b.row == p.row && b.collection == p.collection)
        })
        .collect();
    assert_eq!(added.len(), 3, "{added:#?}");
    assert!(added.iter().all(|p| p.producer == "cert-ee"), "{added:#?}");
    assert_eq!(
        added
            .iter()
            .filter(|p| p.tlp == Some(policy::tlp_code(TlpLevel::Red)))
            .count(),
        2,
        "granular RED makes the object RED"
    );
    let want = expected(&coalition, &placements);
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
            // A filter that selects no version: `{}` for a visible object, the absent 404 for
            // a hidden one (the by-id GET checks visibility only when its page is empty).
            let none = "?match[version]=2001-01-01T00:00:00.000Z";
            let (_, _, absent_none) =
                get(&c, &format!("{base}/objects/{absent}/{none}"), user).await;
            for id in &all_ids {
                let (ns, _, nbody) = get(&c, &format!("{base}/objects/{id}/{none}"), user).await;
                if visible.contains(id) {
                    assert_eq!((ns, &nbody), (200, &serde_json::json!({})), "{user} {id}");
                } else {
                    assert_eq!(
                        (ns, &nbody),
                        (404, &absent_none),
                        "{user} {id} must look absent"
                    );
                }
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

/// POST an envelope as `user`; returns the status code and the body.
async fn post(c: &reqwest::Client, url: &str, user: &str, objects: Vec<Value>) -> (u16, Value) {
    let r = c
        .post(url)
        .basic_auth(user, Some("demo"))
        .header("Accept", common::ACCEPT)
        .header("Content-Type", common::ACCEPT)
        .body(serde_json::json!({ "objects": objects }).to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every stored object of the collection with alias `alias`, as the node's admin reads it.
async fn stored_objects(node: &common::Node, coalition: &Coalition, alias: &str) -> Vec<Value> {
    let coll = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some(alias))
        .unwrap();
    let admin = Principal {
        member: "hub".into(),
        role: shieldwall::config::Role::Admin,
        actor: "test".into(),
    };
    let q = shieldwall::store::ListQuery::whole_collection(
        &coll.id,
        policy::Pushdown::for_principal(&admin, coalition),
        shieldwall::store::VersionSelection::all(),
    );
    let mut out = Vec::new();
    shieldwall::store::for_each_page::<_, shieldwall::store::StoreError>(&node.store, q, |page| {
        out.extend(
            page.iter()
                .map(|r| serde_json::from_str::<Value>(r.json.as_deref().unwrap()).unwrap()),
        );
        Ok(())
    })
    .await
    .unwrap();
    out
}

/// The object of `producer` named like `what` (e.g. `amber/indicator`) stored in `alias`.
async fn demo_object(
    node: &common::Node,
    coalition: &Coalition,
    alias: &str,
    producer: &str,
    ty: &str,
    tlp: TlpLevel,
) -> Value {
    let identity = &coalition.members[producer].identity;
    stored_objects(node, coalition, alias)
        .await
        .into_iter()
        .find(|o| {
            o["type"] == ty
                && o["created_by_ref"] == identity.as_str()
                && o["object_marking_refs"] == serde_json::json!([tlp.marking_id()])
        })
        .unwrap()
}

/// The one failure of a status resource that reports one refused object, with its message.
fn refused(status: u16, body: &Value, id: &str) -> String {
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["success_count"], 0, "{body}");
    assert_eq!(body["failure_count"], 1, "{body}");
    assert_eq!(body["failures"][0]["id"], id, "{body}");
    body["failures"][0]["message"].as_str().unwrap().to_owned()
}

async fn attacks(node: &common::Node, coalition: &Coalition, c: &reqwest::Client) {
    let base = |alias: &str| {
        let coll = coalition
            .collections
            .iter()
            .find(|c| c.alias.as_deref() == Some(alias))
            .unwrap();
        format!("{}/{}/collections/{}", node.base, coll.api_root, coll.id)
    };
    let stub = |real: &Value, extra: &[(&str, Value)]| {
        let mut o = serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": real["id"], "created": real["created"],
            "modified": real["modified"], "pattern": "[ipv4-addr:value = '203.0.113.9']",
            "pattern_type": "stix", "valid_from": real["created"],
        });
        for (k, v) in extra {
            o[*k] = v.clone();
        }
        o
    };
    let mut messages = BTreeSet::new();

    // (a) cert-pl cannot read baltic-sharing: a stub with the id and version of cert-ee's AMBER
    // indicator there, into coalition-indicators (which cert-pl reads), as its own, as a
    // non-member's, and without a creator.
    let amber = demo_object(
        node,
        coalition,
        "baltic-sharing",
        "cert-ee",
        "indicator",
        TlpLevel::Amber,
    )
    .await;
    let amber_id = amber["id"].as_str().unwrap();
    let foreign = serde_json::json!("identity--0a0b0c0d-0000-4000-8000-00000000000f");
    let own = serde_json::json!(coalition.members["cert-pl"].identity);
    for extra in [
        vec![],
        vec![("created_by_ref", foreign.clone())],
        vec![("created_by_ref", own)],
    ] {
        let (s, body) = post(
            c,
            &format!("{}/objects/", base("coalition-indicators")),
            "pl-analyst",
            vec![stub(&amber, &extra)],
        )
        .await;
        messages.insert(refused(s, &body, amber_id));
    }
    // (b) cert-lt is a RED recipient of baltic-sharing, not of coalition-indicators: a stub of
    // cert-ee's RED indicator there, into baltic-sharing.
    let red = demo_object(
        node,
        coalition,
        "coalition-indicators",
        "cert-ee",
        "indicator",
        TlpLevel::Red,
    )
    .await;
    let red_id = red["id"].as_str().unwrap();
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("baltic-sharing")),
        "lt-analyst",
        vec![stub(&red, &[])],
    )
    .await;
    messages.insert(refused(s, &body, red_id));
    // The same refusal for an object the poster may see: nl-analyst re-posting a different
    // content under cert-ee's GREEN indicator's version.
    let green = demo_object(
        node,
        coalition,
        "coalition-indicators",
        "cert-ee",
        "indicator",
        TlpLevel::Green,
    )
    .await;
    let green_id = green["id"].as_str().unwrap();
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("coalition-indicators")),
        "nl-analyst",
        vec![stub(&green, &[])],
    )
    .await;
    messages.insert(refused(s, &body, green_id));
    // Even an exact copy of another member's object cannot be placed by someone else (it names
    // its creator, so ingest refuses it as impersonation before the store is asked).
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("energy-sector")),
        "nl-analyst",
        vec![green.clone()],
    )
    .await;
    refused(s, &body, green_id);
    // (c) Forged new versions of cert-ee's GREEN indicator: revoked, or another pattern.
    for extra in [
        vec![
            ("modified", serde_json::json!("2026-02-01T00:00:00.000Z")),
            ("revoked", serde_json::json!(true)),
        ],
        vec![("modified", serde_json::json!("2026-02-02T00:00:00.000Z"))],
    ] {
        let (s, body) = post(
            c,
            &format!("{}/objects/", base("coalition-indicators")),
            "nl-analyst",
            vec![stub(&green, &extra)],
        )
        .await;
        messages.insert(refused(s, &body, green_id));
    }
    assert_eq!(
        messages.len(),
        1,
        "one wording for every refusal: {messages:?}"
    );
    assert!(
        messages
            .iter()
            .all(|m| m.contains("belong to the member that produced it")),
        "{messages:?}"
    );
    // Nobody reads the real objects through the stubs, and readers still see the real latest.
    for (user, alias, id) in [
        ("pl-analyst", "coalition-indicators", amber_id),
        ("lt-analyst", "baltic-sharing", red_id),
        ("nl-analyst", "energy-sector", green_id),
    ] {
        let (s, _, _) = get(c, &format!("{}/objects/{id}/", base(alias)), user).await;
        assert_eq!(s, 404, "{user} reads {id} through {alias}");
        let (s, _, _) = get(c, &format!("{}/objects/{id}/versions/", base(alias)), user).await;
        assert_eq!(s, 404, "{user} versions of {id} through {alias}");
        let (_, _, body) = get(
            c,
            &format!("{}/manifest/?match[id]={id}", base(alias)),
            user,
        )
        .await;
        assert_eq!(body, serde_json::json!({}), "{user} manifest of {alias}");
    }
    for user in ["nl-soc", "ee-soc", "pl-analyst", "admin"] {
        let (s, _, body) = get(
            c,
            &format!("{}/objects/{green_id}/", base("coalition-indicators")),
            user,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            body["objects"][0], green,
            "{user} sees the real latest version"
        );
        let (_, _, v) = get(
            c,
            &format!(
                "{}/objects/{green_id}/versions/",
                base("coalition-indicators")
            ),
            user,
        )
        .await;
        assert_eq!(
            v["versions"],
            serde_json::json!([green["modified"]]),
            "{user}"
        );
    }
    // (d) Impersonation with an upper-case UUID, and an upper-case id: refused at ingest.
    let upper = coalition.members["cert-ee"]
        .identity
        .to_ascii_uppercase()
        .replace("IDENTITY--", "identity--");
    let mut forged = stub(&green, &[("created_by_ref", serde_json::json!(upper))]);
    forged["id"] = serde_json::json!("indicator--5d3f1b8a-3c9e-4b1a-9d6e-00000000aa01");
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("coalition-indicators")),
        "nl-analyst",
        vec![forged],
    )
    .await;
    let m = refused(s, &body, "indicator--5d3f1b8a-3c9e-4b1a-9d6e-00000000aa01");
    assert!(m.contains("canonical"), "{m}");
    let mut shouting = stub(&green, &[]);
    shouting["id"] = serde_json::json!("indicator--5D3F1B8A-3C9E-4B1A-9D6E-00000000AA02");
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("coalition-indicators")),
        "nl-analyst",
        vec![shouting],
    )
    .await;
    refused(s, &body, "indicator--5D3F1B8A-3C9E-4B1A-9D6E-00000000AA02");

    // The producer re-posts its own object as it is (already present), and places it in a
    // collection it writes; it publishes two objects with granular TLP:RED markings.
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("coalition-indicators")),
        "ee-analyst",
        vec![green.clone()],
    )
    .await;
    assert_eq!(
        (s, &body["success_count"]),
        (202, &serde_json::json!(1)),
        "{body}"
    );
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("energy-sector")),
        "ee-analyst",
        vec![green.clone()],
    )
    .await;
    assert_eq!(
        (s, &body["success_count"]),
        (202, &serde_json::json!(1)),
        "{body}"
    );
    let granular: Vec<Value> = ["description", "pattern"]
        .iter()
        .enumerate()
        .map(|(i, selector)| {
            serde_json::json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--5d3f1b8a-3c9e-4b1a-9d6e-0000000000b{i}"),
                "created": "2026-01-20T00:00:00.000Z", "modified": "2026-01-20T00:00:00.000Z",
                "name": "Partly restricted", "description": "Seen at a named victim",
                "pattern": format!("[ipv4-addr:value = '192.0.2.{}']", 50 + i), "pattern_type": "stix",
                "valid_from": "2026-01-20T00:00:00.000Z",
                "object_marking_refs": [TlpLevel::Green.marking_id()],
                "granular_markings": [{"selectors": [selector], "marking_ref": TlpLevel::Red.marking_id()}]
            })
        })
        .collect();
    let (s, body) = post(
        c,
        &format!("{}/objects/", base("coalition-indicators")),
        "ee-analyst",
        granular.clone(),
    )
    .await;
    assert_eq!(
        (s, &body["success_count"]),
        (202, &serde_json::json!(2)),
        "{body}"
    );
    // Only cert-ee (the producer) and the hub (RED recipient of the collection) receive them,
    // through any endpoint.
    for (user, member, _) in demo::USERS {
        let sees = matches!(*member, "cert-ee" | "hub");
        for g in &granular {
            let id = g["id"].as_str().unwrap();
            let b = base("coalition-indicators");
            let (s, _, _) = get(c, &format!("{b}/objects/{id}/"), user).await;
            assert_eq!(s == 200, sees, "{user} by id {id}");
            let (s, _, _) = get(c, &format!("{b}/objects/{id}/versions/"), user).await;
            assert_eq!(s == 200, sees, "{user} versions of {id}");
            let (_, _, body) = get(c, &format!("{b}/objects/?match[id]={id}"), user).await;
            assert_eq!(body.get("objects").is_some(), sees, "{user} objects {id}");
            let (_, _, body) = get(c, &format!("{b}/manifest/?match[id]={id}"), user).await;
            assert_eq!(body.get("objects").is_some(), sees, "{user} manifest {id}");
        }
    }
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
