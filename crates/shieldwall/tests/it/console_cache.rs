//! The home page's figures are kept per member view (`services::report::FiguresCache`) and never
//! cross views: over real HTTP on 127.0.0.1, on SQLite and PostgreSQL, with the demo coalition
//! and its coordination data.
//!
//! - From a warm cache, two members with different views get their own figures, each equal to
//!   the figures computed afresh from that member's view.
//! - A new RED incident by one member changes that member's figures and not another member's;
//!   the store's content generation moves with every write and every deletion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use shieldwall::{
    coalition::Coalition,
    config::Role,
    demo,
    policy::Principal,
    publish::{self, PublishLimits, Publisher},
    services::{member::MemberService, report},
    store::{AnyStore, DeleteQuery, Store, VersionSelection},
};
use stix::tlp::TlpLevel;

use crate::common::{self, start};
use crate::console::Browser;

/// The four figures of a home page: incidents, sightings, open requests, offers.
fn cards(body: &str) -> Vec<u64> {
    [
        "Incidents",
        "Sightings",
        "Open requests for assistance",
        "Offers on the table",
    ]
    .iter()
    .map(|label| {
        let key = format!("<h2>{label}</h2><div class=\"figure\"><a href=\"");
        let i = body.find(&key).unwrap_or_else(|| panic!("{label}: {body}")) + key.len();
        let i = body[i..].find('>').unwrap() + i + 1;
        let j = body[i..].find('<').unwrap() + i;
        body[i..j].parse().unwrap()
    })
    .collect()
}

/// The same figures computed afresh (no cache) from `member`'s view.
async fn fresh(store: &AnyStore, coalition: &Arc<Coalition>, member: &str) -> Vec<u64> {
    let m = service(store, coalition, member);
    let f = report::window_figures(&m, &report::FiguresCache::default(), 7)
        .await
        .unwrap();
    vec![
        f.current.incidents as u64,
        f.current.sightings_total,
        f.current.open_requests.len() as u64,
        f.current.offers.len() as u64,
    ]
}

fn service(store: &AnyStore, coalition: &Arc<Coalition>, member: &str) -> MemberService {
    MemberService::new(
        store.clone(),
        coalition.clone(),
        Principal {
            member: member.into(),
            role: Role::Contributor,
            actor: "test".into(),
        },
        PublishLimits::transient(),
    )
    .unwrap()
}

fn as_json(f: &report::WindowFigures) -> serde_json::Value {
    json!({
        "current": f.current.to_json(),
        "previous": f.previous.to_json(),
        "red": f.red,
        "strict": f.strict,
    })
}

/// Every demo member's figures kept in `cache` (its views brought up to date after each write)
/// equal the figures computed from scratch: the member's view read whole and the figures
/// computed from the objects' JSON. Returns cert-ee's 90-day figures.
async fn kept_equal_scratch(
    store: &AnyStore,
    coalition: &Arc<Coalition>,
    cache: &report::FiguresCache,
) -> serde_json::Value {
    let now_s = shieldwall::services::member::now().unix_seconds();
    let mut ee = serde_json::Value::Null;
    for member in ["hub", "cert-ee", "cert-lv", "cert-lt", "cert-pl", "ncsc-nl"] {
        let m = service(store, coalition, member);
        for days in [7, 30, 90] {
            let kept = report::window_figures_at(&m, cache, days, now_s)
                .await
                .unwrap();
            let scratch = report::window_figures_fresh(&m, days, now_s).await.unwrap();
            assert_eq!(as_json(&kept), as_json(&scratch), "{member}, {days} days");
            if member == "cert-ee" && days == 90 {
                ee = as_json(&kept);
            }
        }
    }
    ee
}

async fn home(b: &mut Browser) -> Vec<u64> {
    let a = b.get("/ui/?days=7").await;
    assert_eq!(a.status, 200);
    cards(&a.body)
}

async fn figures_cache_test(store: AnyStore, dir: &std::path::Path) {
    let checked = demo::config("127.0.0.1:0", dir)
        .unwrap()
        .check("demo")
        .unwrap();
    let coalition = Arc::new(Coalition::from_config(&checked));
    demo::seed(
        &store,
        &coalition,
        PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
    hub::demo_coord::seed(&store, &coalition).await.unwrap();
    // Figures kept across the writes below, held equal to figures computed from scratch.
    let kept = report::FiguresCache::default();
    let ee90 = kept_equal_scratch(&store, &coalition, &kept).await;
    // The demo exercises the coordination figures (victims' sectors and countries, DISARM
    // techniques, requests and offers; sightings are in `figures_incremental`).
    let current = &ee90["current"];
    assert!(current["incidents"].as_u64().unwrap() > 0, "{ee90}");
    assert!(
        current["incidents_by_country"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k != "unknown"),
        "{ee90}"
    );
    assert!(
        !current["top_disarm"].as_array().unwrap().is_empty(),
        "{ee90}"
    );
    assert!(
        !current["open_requests"].as_array().unwrap().is_empty(),
        "{ee90}"
    );
    assert!(!current["offers"].as_array().unwrap().is_empty(), "{ee90}");

    let node = start(&checked, store.clone()).await;
    // The server warms every member view its users have, in the background, once.
    let mut waited = 0;
    while !node.console.warm_up.state().finished && waited < 6_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let warm = node.console.warm_up.state();
    assert!(warm.finished, "{warm:?}");
    assert_eq!(
        (warm.views, warm.failed),
        (6, 0),
        "six member views: {warm:?}"
    );
    assert!(node.console.coord.objects_kept() > 0, "{warm:?}");
    assert_eq!(node.console.coord.counts().0, 6, "each view read once");

    let mut ee = Browser::new(&node.base);
    assert_eq!(ee.sign_in("ee-analyst", "demo", "/ui/").await.status, 303);
    let mut nl = Browser::new(&node.base);
    assert_eq!(nl.sign_in("nl-analyst", "demo", "/ui/").await.status, 303);
    let mut lv = Browser::new(&node.base);
    assert_eq!(lv.sign_in("lv-analyst", "demo", "/ui/").await.status, 303);

    // Cold, then warm: each member's own figures, equal to its view's.
    let (ee1, nl1, lv1) = (
        home(&mut ee).await,
        home(&mut nl).await,
        home(&mut lv).await,
    );
    let (ee2, nl2, lv2) = (
        home(&mut ee).await,
        home(&mut nl).await,
        home(&mut lv).await,
    );
    assert_eq!(ee1, ee2);
    assert_eq!(nl1, nl2);
    assert_eq!(lv1, lv2);
    assert_eq!(ee2, fresh(&store, &coalition, "cert-ee").await);
    assert_eq!(nl2, fresh(&store, &coalition, "ncsc-nl").await);
    assert_eq!(lv2, fresh(&store, &coalition, "cert-lv").await);
    assert_ne!(ee2, nl2, "cert-ee and ncsc-nl see different incidents");
    assert_ne!(lv2, nl2, "cert-lv's RED incident is in its figures only");
    // The reader of a member shares its member's view, and gets the same figures.
    let mut nl_soc = Browser::new(&node.base);
    assert_eq!(nl_soc.sign_in("nl-soc", "demo", "/ui/").await.status, 303);
    assert_eq!(home(&mut nl_soc).await, nl2);

    // A new RED incident by cert-lv, in the collection every member reads.
    let before = store.content_generation().await.unwrap();
    let shared = coalition.collections[0].clone();
    let lv_identity = coalition.members["cert-lv"].identity.clone();
    let now = shieldwall::services::member::now().to_string();
    let id = "incident--0c0e5000-0000-4000-8000-00000000cafe";
    let r = publish::publish(
        &store,
        &coalition,
        vec![json!({"type": "incident", "spec_version": "2.1", "id": id,
            "created": now, "modified": now, "name": "RED incident for the cache test",
            "created_by_ref": lv_identity,
            "object_marking_refs": [TlpLevel::Red.marking_id()]})],
        Publisher::Member(&Principal {
            member: "cert-lv".into(),
            role: Role::Contributor,
            actor: "test".into(),
        }),
        &shared,
        PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
    assert_eq!(r.successes(), 1);
    let after_add = store.content_generation().await.unwrap();
    assert_ne!(before, after_add, "an add moves the content generation");
    let (ee3, nl3, lv3) = (
        home(&mut ee).await,
        home(&mut nl).await,
        home(&mut lv).await,
    );
    assert_eq!(
        nl3, nl2,
        "another member's RED incident does not change ncsc-nl's figures"
    );
    assert_eq!(ee3, ee2, "nor cert-ee's");
    assert_eq!(lv3[0], lv2[0] + 1, "cert-lv counts its own new incident");
    assert_eq!(lv3[1..], lv2[1..]);
    assert_eq!(home(&mut lv).await, lv3);
    assert_eq!(home(&mut nl).await, nl2);
    kept_equal_scratch(&store, &coalition, &kept).await;

    // A deletion moves the generation too, and the figures follow it.
    let admin = Principal {
        member: "hub".into(),
        role: Role::Admin,
        actor: "test".into(),
    };
    let out = store
        .delete(&DeleteQuery {
            collection: shared.id.clone(),
            pushdown: shieldwall::policy::Pushdown::for_principal(&admin, &coalition),
            id: id.into(),
            versions: VersionSelection::all(),
            spec_versions: vec![],
            only_producer: None,
        })
        .await
        .unwrap();
    assert_eq!(out.removed, 1);
    let after_delete = store.content_generation().await.unwrap();
    assert_ne!(
        after_add, after_delete,
        "a deletion moves the content generation"
    );
    assert_eq!(
        home(&mut lv).await,
        lv2,
        "the deleted incident is no longer counted"
    );
    assert_eq!(home(&mut nl).await, nl2);
    kept_equal_scratch(&store, &coalition, &kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_figures_cache_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    figures_cache_test(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_figures_cache_on_postgres() {
    let Some(db) = common::PgDb::create("console figures cache test on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    figures_cache_test(store.clone(), dir.path()).await;
    db.drop_db(Some(store)).await;
}
