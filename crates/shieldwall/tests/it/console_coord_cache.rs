//! The coordination pages' view is kept per member view and brought up to date after writes
//! (`services::coordview`): on SQLite and PostgreSQL, with the demo coalition and its
//! coordination data, the kept view of each member equals the view read afresh — objects in
//! order, incident rows, victims, links, the DISARM matrix — after writes by different members:
//!
//! - a RED incident by cert-lv (and a relationship to its victim) is in cert-lv's view and
//!   rows, and in neither ncsc-nl's nor cert-ee's;
//! - a new version supersedes the old one; a new version another member may not see leaves
//!   that member the latest version it may see;
//! - a relationship to an object not stored yet is visible until that object arrives, RED, in
//!   another member's collection (the edge rule): then it leaves the other members' views;
//! - a revoked incident leaves the incident rows;
//! - a deletion reads the view again.
//!
//! The additions are applied incrementally (the cache's counters say so), the deletion by a
//! whole read; the incident list over HTTP follows the same writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use shieldwall::{
    coalition::{Coalition, Collection},
    config::Role,
    demo,
    policy::Principal,
    publish::{self, PublishLimits, Publisher},
    services::{
        coordview::{CoordCache, CoordView, coord_view, coord_view_fresh},
        member::MemberService,
    },
    store::{AnyStore, DeleteQuery, Store, VersionSelection},
};
use stix::tlp::TlpLevel;

use crate::common::{self, start};
use crate::console::Browser;

const MEMBERS: [&str; 3] = ["cert-ee", "ncsc-nl", "cert-lv"];

fn member(store: &AnyStore, coalition: &Arc<Coalition>, name: &str) -> MemberService {
    MemberService::new(
        store.clone(),
        coalition.clone(),
        Principal {
            member: name.into(),
            role: Role::Contributor,
            actor: "test".into(),
        },
        PublishLimits::transient(),
    )
    .unwrap()
}

/// Everything the pages read of a view, comparable.
fn digest(v: &CoordView) -> Value {
    let incidents: Vec<Value> = v
        .of_type("incident")
        .map(|i| {
            let id = i["id"].as_str().unwrap();
            json!({
                "id": id,
                "victims": v.victims(id).iter().map(|x| x["id"].clone()).collect::<Vec<_>>(),
                "links": v.links(id).map(|x| x["id"].clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let rows: Vec<Value> = v
        .incident_rows()
        .iter()
        .map(|r| {
            json!([
                r.id,
                r.name,
                r.status,
                r.criticality,
                r.sectors,
                r.countries,
                r.victims
            ])
        })
        .collect();
    let matrix = v.matrix().unwrap().map(|m| {
        m.tactics
            .iter()
            .flat_map(|c| c.techniques.iter())
            .map(|t| json!([t.disarm_id, t.uses_with_subtechniques]))
            .collect::<Vec<_>>()
    });
    json!({"objects": v.objects(), "incidents": incidents, "rows": rows, "matrix": matrix})
}

/// Every member's kept view equals its fresh view; returns the kept views' digests.
async fn check_all(store: &AnyStore, coalition: &Arc<Coalition>, cache: &CoordCache) -> Vec<Value> {
    let mut out = Vec::new();
    for name in MEMBERS {
        let m = member(store, coalition, name);
        let kept = coord_view(&m, cache, &m.readable()).await.unwrap();
        let fresh = coord_view_fresh(&m, &m.readable()).await.unwrap();
        let (k, f) = (digest(&kept), digest(&fresh));
        assert!(k == f, "{name}: the kept view differs from a fresh read");
        out.push(k);
    }
    out
}

fn has(d: &Value, id: &str) -> bool {
    d["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == id)
}

fn object<'a>(d: &'a Value, id: &str) -> Option<&'a Value> {
    d["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
}

fn in_rows(d: &Value, id: &str) -> bool {
    d["rows"].as_array().unwrap().iter().any(|r| r[0] == id)
}

async fn put(
    store: &AnyStore,
    coalition: &Arc<Coalition>,
    limits: PublishLimits,
    who: &str,
    coll: &Collection,
    objects: Vec<Value>,
) {
    let n = objects.len() as u64;
    let r = publish::publish(
        store,
        coalition,
        objects,
        Publisher::Member(&Principal {
            member: who.into(),
            role: Role::Contributor,
            actor: "test".into(),
        }),
        coll,
        limits,
    )
    .await
    .unwrap();
    assert_eq!(r.successes(), n, "{who}: {r:?}");
}

/// A timestamp `ms` milliseconds from now.
fn at(ms: i64) -> String {
    let us = shieldwall::timestamps::now_us() + ms * 1000;
    stix::Timestamp::from_unix(
        us.div_euclid(1_000_000),
        (us.rem_euclid(1_000_000) * 1000) as u32,
        3,
    )
    .unwrap()
    .to_string()
}

async fn coord_cache_test(store: AnyStore, dir: &std::path::Path) {
    let checked = demo::config("127.0.0.1:0", dir)
        .unwrap()
        .check("demo")
        .unwrap();
    let coalition = Arc::new(Coalition::from_config(&checked));
    let limits = PublishLimits::from_server(&checked.config.server);
    demo::seed(&store, &coalition, limits).await.unwrap();
    hub::demo_coord::seed(&store, &coalition).await.unwrap();
    let node = start(&checked, store.clone()).await;
    let mut nl_browser = Browser::new(&node.base);
    assert_eq!(
        nl_browser
            .sign_in("nl-analyst", "demo", "/ui/")
            .await
            .status,
        303
    );
    let mut lv_browser = Browser::new(&node.base);
    assert_eq!(
        lv_browser
            .sign_in("lv-analyst", "demo", "/ui/")
            .await
            .status,
        303
    );

    let cache = CoordCache::default();
    let d0 = check_all(&store, &coalition, &cache).await;
    assert_eq!(cache.counts(), (3, 0), "three views read whole");
    assert_ne!(d0[0], d0[1], "cert-ee and ncsc-nl see different things");
    // Warm: the same views, nothing read.
    assert_eq!(check_all(&store, &coalition, &cache).await, d0);
    assert_eq!(cache.counts(), (3, 0));

    let shared = coalition.collections[0].clone();
    let lv_identity = coalition.members["cert-lv"].identity.clone();
    let ee_identity = coalition.members["cert-ee"].identity.clone();
    let red = TlpLevel::Red.marking_id();
    let green = TlpLevel::Green.marking_id();

    // 1. A RED incident by cert-lv targeting a new victim, with a relationship.
    let inc = "incident--0c0e5000-0000-4000-8000-00000000c0d1";
    let victim = "identity--0c0e5000-0000-4000-8000-00000000c0d2";
    let rel = "relationship--0c0e5000-0000-4000-8000-00000000c0d3";
    let t1 = at(0);
    put(&store, &coalition, limits, "cert-lv", &shared, vec![
        json!({"type": "identity", "spec_version": "2.1", "id": victim, "created": t1, "modified": t1,
            "name": "Riga water works (cache test)", "identity_class": "organization",
            "sectors": ["utilities"], "created_by_ref": lv_identity, "object_marking_refs": [red]}),
        json!({"type": "incident", "spec_version": "2.1", "id": inc, "created": t1, "modified": t1,
            "name": "RED incident for the coordination cache test", "created_by_ref": lv_identity,
            "object_marking_refs": [red]}),
        json!({"type": "relationship", "spec_version": "2.1", "id": rel, "created": t1, "modified": t1,
            "relationship_type": "targets", "source_ref": inc, "target_ref": victim,
            "created_by_ref": lv_identity, "object_marking_refs": [red]}),
    ])
    .await;
    let d1 = check_all(&store, &coalition, &cache).await;
    assert_eq!(cache.counts(), (3, 3), "brought up to date, not read again");
    assert!(in_rows(&d1[2], inc) && has(&d1[2], rel) && has(&d1[2], victim));
    let row = d1[2]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == inc)
        .unwrap();
    assert_eq!(
        row[6],
        json!(["Riga water works (cache test)"]),
        "its victim"
    );
    for d in &d1[..2] {
        assert!(
            !has(d, inc) && !has(d, rel) && !has(d, victim),
            "RED stays with cert-lv"
        );
    }
    assert_eq!(d1[0], d0[0], "cert-ee's view did not change");
    assert_eq!(d1[1], d0[1], "nor ncsc-nl's");
    let lv_page = lv_browser.get("/ui/incidents").await;
    assert!(
        lv_page
            .body
            .contains("RED incident for the coordination cache test")
    );
    let nl_page = nl_browser.get("/ui/incidents").await;
    assert_eq!(nl_page.status, 200);
    assert!(!nl_page.body.contains("coordination cache test"));

    // 2. A GREEN incident by cert-lv, then its next version (superseding it), then a RED
    //    version that only cert-lv may see: the others keep the GREEN version.
    let inc2 = "incident--0c0e5000-0000-4000-8000-00000000c0d4";
    let v1 = at(10);
    let base = json!({"type": "incident", "spec_version": "2.1", "id": inc2, "created": v1, "modified": v1,
        "name": "GREEN incident, first version", "created_by_ref": lv_identity,
        "object_marking_refs": [green]});
    put(
        &store,
        &coalition,
        limits,
        "cert-lv",
        &shared,
        vec![base.clone()],
    )
    .await;
    let mut second = base.clone();
    second["modified"] = json!(at(20));
    second["name"] = json!("GREEN incident, second version");
    put(&store, &coalition, limits, "cert-lv", &shared, vec![second]).await;
    let d2 = check_all(&store, &coalition, &cache).await;
    for d in &d2 {
        assert_eq!(
            object(d, inc2).unwrap()["name"],
            "GREEN incident, second version",
            "the superseded version is gone"
        );
        assert_eq!(
            d["objects"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["id"] == inc2)
                .count(),
            1
        );
    }
    let mut third = base.clone();
    third["modified"] = json!(at(30));
    third["name"] = json!("RED third version");
    third["object_marking_refs"] = json!([red]);
    put(&store, &coalition, limits, "cert-lv", &shared, vec![third]).await;
    let d3 = check_all(&store, &coalition, &cache).await;
    assert_eq!(object(&d3[2], inc2).unwrap()["name"], "RED third version");
    for d in &d3[..2] {
        assert_eq!(
            object(d, inc2).unwrap()["name"],
            "GREEN incident, second version",
            "the latest version the member may see"
        );
    }

    // 3. A relationship by cert-ee to an object not stored yet: visible to all. The object
    //    then arrives, RED, by cert-lv: the relationship leaves the views of those who may
    //    not see its target.
    // From an incident every member sees (an end a member may not see hides the edge).
    let ee_inc = d3[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .find(|id| d3.iter().all(|d| in_rows(d, id)))
        .expect("an incident every member sees");
    let later = "malware--0c0e5000-0000-4000-8000-00000000c0d5";
    let rel2 = "relationship--0c0e5000-0000-4000-8000-00000000c0d6";
    let t4 = at(40);
    put(
        &store,
        &coalition,
        limits,
        "cert-ee",
        &shared,
        vec![json!({
        "type": "relationship", "spec_version": "2.1", "id": rel2, "created": t4, "modified": t4,
        "relationship_type": "related-to", "source_ref": ee_inc, "target_ref": later,
        "created_by_ref": ee_identity, "object_marking_refs": [green]})],
    )
    .await;
    let d4 = check_all(&store, &coalition, &cache).await;
    assert!(has(&d4[0], rel2) && has(&d4[1], rel2) && has(&d4[2], rel2));
    put(
        &store,
        &coalition,
        limits,
        "cert-lv",
        &shared,
        vec![json!({
        "type": "malware", "spec_version": "2.1", "id": later, "created": t4, "modified": t4,
        "name": "RED malware (cache test)", "is_family": false, "created_by_ref": lv_identity,
        "object_marking_refs": [red]})],
    )
    .await;
    let d5 = check_all(&store, &coalition, &cache).await;
    assert!(has(&d5[2], rel2) && has(&d5[2], later));
    assert!(
        !has(&d5[0], rel2) && !has(&d5[1], rel2),
        "the edge rule hides it now"
    );

    // 4. cert-lv revokes its RED incident: it leaves the rows.
    let mut revoked = object(&d5[2], inc).unwrap().clone();
    revoked["modified"] = json!(at(50));
    revoked["revoked"] = json!(true);
    put(
        &store,
        &coalition,
        limits,
        "cert-lv",
        &shared,
        vec![revoked],
    )
    .await;
    let d6 = check_all(&store, &coalition, &cache).await;
    assert!(!in_rows(&d6[2], inc), "a revoked incident is not listed");
    assert_eq!(object(&d6[2], inc).unwrap()["revoked"], true);
    assert_eq!(
        cache.counts(),
        (3, 3 * 6),
        "every addition applied incrementally"
    );
    let lv_page = lv_browser.get("/ui/incidents").await;
    assert_eq!(lv_page.status, 200);
    assert!(
        !lv_page
            .body
            .contains("RED incident for the coordination cache test")
    );
    assert!(lv_page.body.contains("RED third version"));
    let nl_page = nl_browser.get("/ui/incidents").await;
    assert!(nl_page.body.contains("GREEN incident, second version"));
    assert!(!nl_page.body.contains("RED third version"));

    // 5. Deletions: the views are brought up to date from the ids the store recorded, and equal
    // fresh reads (check_all) — an incident, then the victim of cert-lv's RED incident (its row
    // loses it), then the RED target of an edge (the edge rule looks at it).
    let admin = Principal {
        member: "hub".into(),
        role: Role::Admin,
        actor: "test".into(),
    };
    let delete = |id: &'static str| {
        let store = store.clone();
        let pushdown = shieldwall::policy::Pushdown::for_principal(&admin, &coalition);
        let collection = shared.id.clone();
        async move {
            let before = store.content_generation().await.unwrap();
            let out = store
                .delete(&DeleteQuery {
                    collection,
                    pushdown,
                    id: id.into(),
                    versions: VersionSelection::all(),
                    spec_versions: vec![],
                    only_producer: None,
                })
                .await
                .unwrap();
            assert!(out.removed >= 1, "{id}");
            let after = store.content_generation().await.unwrap();
            assert_eq!(after.1, before.1 + 1, "{id}");
            assert_eq!(
                store.deleted_between(before.1, after.1).await.unwrap(),
                Some(vec![id.to_owned()]),
                "the deletion names what it deleted"
            );
        }
    };
    delete(inc2).await;
    let d7 = check_all(&store, &coalition, &cache).await;
    assert_eq!(
        cache.counts(),
        (3, 21),
        "brought up to date after a deletion"
    );
    for d in &d7 {
        assert!(!has(d, inc2));
    }
    delete(victim).await;
    let d8 = check_all(&store, &coalition, &cache).await;
    assert!(!has(&d8[2], victim));
    assert!(
        d8[2]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r[6].to_string().contains("Riga water works")),
        "no row names the deleted victim"
    );
    delete(later).await;
    let d9 = check_all(&store, &coalition, &cache).await;
    assert!(!has(&d9[2], later));
    assert_eq!(
        cache.counts(),
        (3, 27),
        "every deletion applied incrementally"
    );
    // Deletions no longer recorded (or not made yet) are not named: read whole instead.
    let g = store.content_generation().await.unwrap();
    assert_eq!(store.deleted_between(0, g.1 + 1).await.unwrap(), None);
    assert_eq!(
        store
            .deleted_between(0, shieldwall::store::DELETIONS_RECORDED + 1)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_coord_cache_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    coord_cache_test(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_coord_cache_on_postgres() {
    let Some(db) = common::PgDb::create("console coordination cache test on PostgreSQL").await
    else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    coord_cache_test(store.clone(), dir.path()).await;
    db.drop_db(Some(store)).await;
}
