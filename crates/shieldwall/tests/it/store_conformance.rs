//! One conformance suite for the `Store` trait, run against both backends: versioning by
//! `(id, modified)`, SCO versions, unique increasing `date_added`, filters and pagination,
//! deletes, status retention, the cursor key shared across reopenings, and durability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use serde_json::json;
use shieldwall::{
    ingest::{self, Prepared},
    policy::Pushdown,
    store::{
        AddOutcome, AnyStore, DeleteQuery, ListQuery, NewVersion, Page, Provenance, StatusRecord,
        Store, VersionSelection,
    },
};
use stix::tlp::TlpLevel;

const C: &str = "0d4f0f37-0000-4000-8000-000000000001";
const D: &str = "0d4f0f37-0000-4000-8000-000000000002";

fn admin() -> Pushdown {
    Pushdown {
        member: "m".into(),
        readable: None,
        red_recipient_of: vec![],
        default_tlp: TlpLevel::Amber,
        egress: None,
    }
}

fn v(obj: serde_json::Value) -> NewVersion {
    match ingest::to_new_version(&obj, "m", None).unwrap() {
        Prepared::Valid(v) => *v,
        Prepared::Invalid { message, .. } => panic!("{message}"),
    }
}

fn ind(n: u32, modified: &str) -> NewVersion {
    v(
        json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00Z", "modified": modified, "pattern": "[x:y = 1]", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"}),
    )
}

fn status_for(id: &str, expires: i64) -> impl Fn(&[AddOutcome]) -> StatusRecord + Sync + '_ {
    move |o: &[AddOutcome]| StatusRecord {
        id: id.to_owned(),
        api_root: "r".into(),
        member: "m".into(),
        request_us: 1,
        expires_us: expires,
        body: json!({"n": o.len()}).to_string(),
    }
}

fn prov() -> Provenance {
    Provenance {
        source: "local".into(),
        actor: "suite".into(),
    }
}

fn q(versions: VersionSelection) -> ListQuery {
    ListQuery {
        collection: C.into(),
        pushdown: admin(),
        ids: vec![],
        types: vec![],
        added_after_us: None,
        versions,
        spec_versions: vec![],
        after: None,
        limit: 1000,
        with_json: true,
    }
}

async fn add(store: &AnyStore, coll: &str, versions: &[NewVersion]) -> Vec<AddOutcome> {
    let id = uuid::Uuid::new_v4().to_string();
    store
        .add(coll, &prov(), versions, &status_for(&id, i64::MAX))
        .await
        .unwrap()
}

async fn suite(store: &AnyStore) {
    // Versions keyed by (id, modified); the same version again is "already present".
    let out = add(
        store,
        C,
        &[
            ind(1, "2020-01-01T00:00:00Z"),
            ind(1, "2021-01-01T00:00:00.5Z"),
            ind(2, "2020-06-01T00:00:00Z"),
        ],
    )
    .await;
    assert!(out.iter().all(|o| matches!(o, AddOutcome::Added { .. })));
    let again = add(store, C, &[ind(1, "2021-01-01T00:00:00.5Z")]).await;
    assert!(
        matches!(again[0], AddOutcome::AlreadyPresent { .. }),
        "the same version again"
    );
    // The same instant at another precision is the same version, whose stored content (the
    // `modified` text included) is what its producer posted first: another text is refused.
    let again = add(store, C, &[ind(1, "2021-01-01T00:00:00.500Z")]).await;
    assert!(
        matches!(again[0], AddOutcome::Refused { .. }),
        "same instant, other precision: same version, other content"
    );
    // date_added strictly increasing in insertion order.
    let dates: Vec<i64> = out
        .iter()
        .map(|o| match o {
            AddOutcome::Added { date_added_us, .. } => *date_added_us,
            _ => 0,
        })
        .collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");

    let last = store.list(&q(VersionSelection::last())).await.unwrap();
    assert_eq!(last.records.len(), 2);
    assert!(
        last.records
            .iter()
            .any(|r| r.version_text.as_deref() == Some("2021-01-01T00:00:00.5Z"))
    );
    let first = store
        .list(&q(VersionSelection {
            last: false,
            first: true,
            all: false,
            exact: vec![],
        }))
        .await
        .unwrap();
    assert!(
        first
            .records
            .iter()
            .any(|r| r.version_text.as_deref() == Some("2020-01-01T00:00:00Z"))
    );
    let all = store.list(&q(VersionSelection::all())).await.unwrap();
    assert_eq!(all.records.len(), 3);
    assert!(
        all.records
            .windows(2)
            .all(|w| (w[0].date_added_us, w[0].row) < (w[1].date_added_us, w[1].row))
    );
    let stored: serde_json::Value =
        serde_json::from_str(all.records[0].json.as_deref().unwrap()).unwrap();
    assert_eq!(
        stored["id"], "indicator--00000000-0000-4000-8000-000000000001",
        "JSON kept"
    );

    // Pagination: limit + after.
    let mut page_q = q(VersionSelection::all());
    page_q.limit = 2;
    let p1 = store.list(&page_q).await.unwrap();
    assert_eq!((p1.records.len(), p1.more), (2, true));
    page_q.after = p1.records.last().map(|r| (r.date_added_us, r.row));
    let p2 = store.list(&page_q).await.unwrap();
    assert_eq!((p2.records.len(), p2.more), (1, false));
    assert_eq!(p2.records[0], all.records[2]);

    // added_after is strict; id and type filters.
    let mut aa = q(VersionSelection::all());
    aa.added_after_us = Some(all.records[0].date_added_us);
    assert_eq!(store.list(&aa).await.unwrap().records.len(), 2);
    let mut by_id = q(VersionSelection::all());
    by_id.ids = vec!["indicator--00000000-0000-4000-8000-000000000002".into()];
    assert_eq!(store.list(&by_id).await.unwrap().records.len(), 1);
    let mut by_type = q(VersionSelection::all());
    by_type.types = vec!["malware".into()];
    assert!(store.list(&by_type).await.unwrap().records.is_empty());

    // SCOs are versioned by their first date_added; re-adding keeps that version.
    let sco = v(
        json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "1.2.3.4"}),
    );
    let a = add(store, C, std::slice::from_ref(&sco)).await;
    let b = add(store, D, std::slice::from_ref(&sco)).await;
    let (
        AddOutcome::Added {
            version_ns: va,
            date_added_us,
        },
        AddOutcome::Added { version_ns: vb, .. },
    ) = (a[0], b[0])
    else {
        panic!("{a:?} {b:?}")
    };
    assert_eq!(
        (va, vb),
        (date_added_us * 1000, date_added_us * 1000),
        "one version in both collections"
    );

    // Delete: the latest by default, then all; orphan versions go, placements elsewhere stay.
    let del = |versions| DeleteQuery {
        collection: C.into(),
        id: "indicator--00000000-0000-4000-8000-000000000001".into(),
        pushdown: admin(),
        versions,
        spec_versions: vec![],
        only_producer: None,
    };
    assert_eq!(
        store
            .delete(&del(VersionSelection::last()))
            .await
            .unwrap()
            .removed,
        1
    );
    assert_eq!(store.list(&by_id_of(1)).await.unwrap().records.len(), 1);
    assert_eq!(
        store
            .delete(&del(VersionSelection::all()))
            .await
            .unwrap()
            .removed,
        1
    );
    assert!(store.list(&by_id_of(1)).await.unwrap().records.is_empty());
    let mut not_mine = del(VersionSelection::all());
    not_mine.id = "indicator--00000000-0000-4000-8000-000000000002".into();
    not_mine.only_producer = Some("someone-else".into());
    let o = store.delete(&not_mine).await.unwrap();
    assert_eq!((o.removed, o.refused), (0, 1), "only the producer deletes");
    let mut sco_del = del(VersionSelection::all());
    sco_del.id = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd".into();
    assert_eq!(store.delete(&sco_del).await.unwrap().removed, 1);
    let mut in_d = q(VersionSelection::all());
    in_d.collection = D.into();
    assert_eq!(
        store.list(&in_d).await.unwrap().records.len(),
        1,
        "still placed in the other collection"
    );
    assert!(!store.placements().await.unwrap().iter().any(|p| {
        p.id.starts_with("indicator--00000000-0000-4000-8000-000000000001")
    }));

    // Status resources: kept until they expire, then purged.
    store
        .add(C, &prov(), &[], &status_for("st-1", 1000))
        .await
        .unwrap();
    assert!(store.status("st-1", 999).await.unwrap().is_some());
    assert!(
        store.status("st-1", 1000).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.purge_statuses(1000).await.unwrap() >= 1);

    // The cursor key is created once.
    assert_eq!(
        store.cursor_key().await.unwrap(),
        store.cursor_key().await.unwrap()
    );
    assert_eq!(store.cursor_key().await.unwrap().len(), 32);

    // Visibility pushdown basics: a reader of nothing sees nothing; RED is the producer's.
    let none = Pushdown {
        member: "x".into(),
        readable: Some(vec![]),
        red_recipient_of: vec![],
        default_tlp: TlpLevel::Amber,
        egress: None,
    };
    let mut nq = q(VersionSelection::all());
    nq.pushdown = none;
    assert!(store.list(&nq).await.unwrap().records.is_empty());
    let mut red = ind(9, "2020-01-01T00:00:00Z");
    red.tlp = Some(4);
    add(store, C, &[red]).await;
    let reader = |m: &str| Pushdown {
        member: m.into(),
        readable: Some(vec![C.into()]),
        red_recipient_of: vec![],
        default_tlp: TlpLevel::Amber,
        egress: None,
    };
    assert!(
        store
            .visible(
                C,
                "indicator--00000000-0000-4000-8000-000000000009",
                &reader("m")
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .visible(
                C,
                "indicator--00000000-0000-4000-8000-000000000009",
                &reader("other")
            )
            .await
            .unwrap()
    );

    // One envelope: a version twice, a newer version of it, and a version already stored for
    // another collection; later, a newer version of an object placed alone (its entry becomes
    // "multi", so first/last must look at both).
    const E: &str = "0d4f0f37-0000-4000-8000-000000000003";
    let out = add(
        store,
        E,
        &[
            ind(20, "2020-01-01T00:00:00Z"),
            ind(20, "2020-01-01T00:00:00Z"),
            ind(20, "2022-01-01T00:00:00Z"),
            ind(2, "2020-06-01T00:00:00Z"),
            ind(21, "2020-01-01T00:00:00Z"),
        ],
    )
    .await;
    let added: Vec<bool> = out
        .iter()
        .map(|o| matches!(o, AddOutcome::Added { .. }))
        .collect();
    assert_eq!(added, [true, false, true, true, true], "{out:?}");
    add(store, E, &[ind(21, "2023-01-01T00:00:00Z")]).await;
    let in_e = |versions: VersionSelection| {
        let mut l = q(versions);
        l.collection = E.into();
        l
    };
    let versions_of = |p: &Page| {
        let mut v: Vec<(String, i64)> = p
            .records
            .iter()
            .map(|r| (r.id.clone(), r.version_ns))
            .collect();
        v.sort();
        v
    };
    let ns = |t: &str| ind(0, t).version_ns.unwrap();
    let id = |n: u32| format!("indicator--00000000-0000-4000-8000-{n:012}");
    let all = store.list(&in_e(VersionSelection::all())).await.unwrap();
    assert_eq!(all.records.len(), 5, "{:?}", versions_of(&all));
    let last = store.list(&in_e(VersionSelection::last())).await.unwrap();
    assert_eq!(
        versions_of(&last),
        vec![
            (id(2), ns("2020-06-01T00:00:00Z")),
            (id(20), ns("2022-01-01T00:00:00Z")),
            (id(21), ns("2023-01-01T00:00:00Z")),
        ]
    );
    let mut first = VersionSelection::last();
    (first.last, first.first) = (false, true);
    let first = store.list(&in_e(first)).await.unwrap();
    assert_eq!(
        versions_of(&first),
        vec![
            (id(2), ns("2020-06-01T00:00:00Z")),
            (id(20), ns("2020-01-01T00:00:00Z")),
            (id(21), ns("2020-01-01T00:00:00Z")),
        ]
    );
}

/// The `date_added` of every version of `id` in `coll`.
async fn dates_of(store: &AnyStore, coll: &str, id: &str) -> Vec<i64> {
    let mut l = q(VersionSelection::all());
    l.collection = coll.into();
    l.ids = vec![id.into()];
    store
        .list(&l)
        .await
        .unwrap()
        .records
        .iter()
        .map(|r| r.date_added_us)
        .collect()
}

/// When an object gets a new version, or an existing version a placement in another collection,
/// the edges pointing to it get a fresh `date_added` (after everything so far, unique), so that
/// sync positions reach them again; a new object or a replay re-dates nothing. Then the sync
/// state tables: held-back versions recorded and forgotten when sent, refusals recorded.
async fn redating_and_sync_state(store: &AnyStore) {
    let x = "indicator--0000000a-0000-4000-8000-000000000000";
    let m = "malware--0000000b-0000-4000-8000-000000000000";
    let r = "relationship--0000000c-0000-4000-8000-000000000000";
    let s = "sighting--0000000d-0000-4000-8000-000000000000";
    let xv = |modified: &str| {
        v(
            json!({"type": "indicator", "spec_version": "2.1", "id": x, "created": "2020-01-01T00:00:00Z",
            "modified": modified, "pattern": "[x:y = 1]", "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z"}),
        )
    };
    add(store, C, &[xv("2020-01-01T00:00:00Z"), v(json!({"type": "malware", "spec_version": "2.1", "id": m,
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "name": "m", "is_family": false}))]).await;
    add(store, C, &[v(json!({"type": "relationship", "spec_version": "2.1", "id": r, "created": "2020-01-01T00:00:00Z",
        "modified": "2020-01-01T00:00:00Z", "relationship_type": "indicates", "source_ref": x, "target_ref": m}))]).await;
    // An edge in another collection than its endpoint.
    add(store, D, &[v(json!({"type": "sighting", "spec_version": "2.1", "id": s, "created": "2020-01-01T00:00:00Z",
        "modified": "2020-01-01T00:00:00Z", "sighting_of_ref": x}))]).await;
    let r0 = dates_of(store, C, r).await;
    let s0 = dates_of(store, D, s).await;
    assert_eq!((r0.len(), s0.len()), (1, 1));
    // A new object, and a replay of a stored version: nothing re-dated.
    add(store, C, &[ind(77, "2020-01-01T00:00:00Z")]).await;
    add(store, C, &[xv("2020-01-01T00:00:00Z")]).await;
    assert_eq!(dates_of(store, C, r).await, r0);
    assert_eq!(dates_of(store, D, s).await, s0);
    // A new version of the endpoint: both edges come after it, in their previous order.
    let out = add(store, C, &[xv("2021-01-01T00:00:00Z")]).await;
    let AddOutcome::Added {
        date_added_us: x2, ..
    } = out[0]
    else {
        panic!("{out:?}")
    };
    let (r1, s1) = (dates_of(store, C, r).await, dates_of(store, D, s).await);
    assert!(
        r1[0] > x2 && s1[0] > x2 && r1[0] < s1[0],
        "{r0:?} {s0:?} {x2} {r1:?} {s1:?}"
    );
    // The existing version placed in another collection: again; placed again: not.
    add(store, D, &[xv("2021-01-01T00:00:00Z")]).await;
    let r2 = dates_of(store, C, r).await;
    assert!(r2[0] > r1[0]);
    add(store, D, &[xv("2021-01-01T00:00:00Z")]).await;
    assert_eq!(dates_of(store, C, r).await, r2);
    // Deleting a placement of the endpoint re-dates too (an endpoint gone is unknown).
    let del = store
        .delete(&DeleteQuery {
            collection: D.into(),
            id: x.into(),
            pushdown: admin(),
            versions: VersionSelection::all(),
            spec_versions: vec![],
            only_producer: None,
        })
        .await
        .unwrap();
    assert_eq!(del.removed, 1);
    let r3 = dates_of(store, C, r).await;
    assert!(r3[0] > r2[0]);
    // Every date_added is still unique across the node.
    let mut all = Vec::new();
    for coll in [C, D] {
        let mut l = q(VersionSelection::all());
        l.collection = coll.into();
        l.limit = 100_000;
        all.extend(
            store
                .list(&l)
                .await
                .unwrap()
                .records
                .iter()
                .map(|r| r.date_added_us),
        );
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "date_added stays unique");

    // Held-back state: recorded, re-recorded with a new reason, forgotten when sent.
    let rel = &store.sync_versions(C, r).await.unwrap()[0];
    let key = format!("{C}>remote");
    store
        .sync_hold(
            "p",
            &key,
            C,
            &[(rel.row, "points-to-held-back-object".into(), String::new())],
            &[],
        )
        .await
        .unwrap();
    let held = store.sync_held_of("p", &key, &[rel.row]).await.unwrap();
    assert_eq!(held[0].reason, "points-to-held-back-object");
    assert!(
        store
            .sync_held_of("other", &key, &[rel.row])
            .await
            .unwrap()
            .is_empty()
    );
    let batch = store.sync_held_batch("p", &key, 0, 10, &[]).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].0.id, r);
    assert!(
        store
            .sync_held_batch("p", &key, 0, 10, &["points-to-held-back-object"])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .sync_held_batch("p", &key, rel.row, 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.sync_held_counts().await.unwrap(),
        vec![("p".to_owned(), "points-to-held-back-object".to_owned(), 1)]
    );
    store
        .sync_hold("p", &key, C, &[], &[rel.row])
        .await
        .unwrap();
    assert!(
        store
            .sync_held_of("p", &key, &[rel.row])
            .await
            .unwrap()
            .is_empty()
    );
    // Refusals: recorded, replaced by the same key, counted.
    let refusal = shieldwall::sync::refusal(
        "p",
        C,
        x,
        Some("2020-01-01T00:00:00Z"),
        "invalid",
        &"x".repeat(5000),
    );
    store
        .record_refused(&[refusal.clone(), refusal])
        .await
        .unwrap();
    let found = store.refused_of(x).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.len() < 1100, "long messages are cut");
    assert_eq!(
        store.refused_counts().await.unwrap(),
        vec![("p".to_owned(), "invalid".to_owned(), 1)]
    );
}

fn by_id_of(n: u32) -> ListQuery {
    let mut l = q(VersionSelection::all());
    l.ids = vec![format!("indicator--00000000-0000-4000-8000-{n:012}")];
    l
}

#[tokio::test]
async fn sqlite_conforms_and_survives_reopening() {
    let (_dir, path) = common::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = AnyStore::open(&url).await.unwrap();
    suite(&store).await;
    redating_and_sync_state(&store).await;
    let key = store.cursor_key().await.unwrap();
    let before = store.placements().await.unwrap();
    drop(store);
    let reopened = AnyStore::open(&url).await.unwrap();
    assert_eq!(
        reopened.cursor_key().await.unwrap(),
        key,
        "cursors stay valid across restarts"
    );
    assert_eq!(reopened.placements().await.unwrap(), before);
}

#[tokio::test]
async fn postgres_conforms_and_shares_state_between_nodes() {
    let Some(db) = common::PgDb::create("store conformance on PostgreSQL").await else {
        return;
    };
    println!("PostgreSQL store conformance against {}", db.url);
    let store = AnyStore::open(&db.url).await.unwrap();
    suite(&store).await;
    redating_and_sync_state(&store).await;
    // A second node on the same database: same cursor key, same data.
    let other = AnyStore::open(&db.url).await.unwrap();
    assert_eq!(
        other.cursor_key().await.unwrap(),
        store.cursor_key().await.unwrap()
    );
    assert_eq!(
        other.placements().await.unwrap(),
        store.placements().await.unwrap()
    );
    if let AnyStore::Postgres(pg) = &other {
        pg.pool().close().await;
    }
    db.drop_db(Some(store)).await;
}

/// A PostgreSQL store written when the object JSON column was `jsonb` is converted to TEXT once,
/// at start, and serves the same objects (re-adding one is "already present").
#[tokio::test]
async fn postgres_converts_a_jsonb_store_to_text() {
    let Some(db) = common::PgDb::create("jsonb to TEXT conversion on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let object = ind(1, "2020-01-01T00:00:00Z");
    add(&store, C, std::slice::from_ref(&object)).await;
    let column_type = |store: &AnyStore| {
        let AnyStore::Postgres(pg) = store else {
            panic!("a PostgreSQL store")
        };
        let pool = pg.pool().clone();
        async move {
            let t: String = sqlx::query_scalar(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'versions' AND column_name = 'json'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            t
        }
    };
    // Make it a store of the earlier schema.
    if let AnyStore::Postgres(pg) = &store {
        sqlx::query("ALTER TABLE versions ALTER COLUMN json TYPE jsonb USING json::jsonb")
            .execute(pg.pool())
            .await
            .unwrap();
    }
    assert_eq!(column_type(&store).await, "jsonb");
    if let AnyStore::Postgres(pg) = &store {
        pg.pool().close().await;
    }
    drop(store);
    let reopened = AnyStore::open(&db.url).await.unwrap();
    assert_eq!(column_type(&reopened).await, "text");
    let listed = reopened.list(&q(VersionSelection::all())).await.unwrap();
    assert_eq!(listed.records.len(), 1);
    let json: serde_json::Value =
        serde_json::from_str(listed.records[0].json.as_deref().unwrap()).unwrap();
    assert_eq!(json["id"], object.id.as_str());
    assert_eq!(json["pattern"], "[x:y = 1]");
    let again = add(&reopened, C, &[object]).await;
    assert!(
        matches!(again[0], AddOutcome::AlreadyPresent { .. }),
        "{again:?}"
    );
    db.drop_db(Some(reopened)).await;
}

/// A version stored with a granular TLP:RED marking, as a store written before granular markings
/// counted holds it: its `tlp` column says GREEN and the store has not recorded the recomputation.
fn granular_red() -> NewVersion {
    v(
        json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-0000000000a1",
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "pattern": "[x:y = 1]",
        "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z",
        "object_marking_refs": [stix::tlp::TLP2_GREEN],
        "granular_markings": [{"selectors": ["pattern"], "marking_ref": stix::tlp::TLP2_RED}]}),
    )
}

const AGE_STORE: [&str; 2] = [
    "UPDATE versions SET tlp = $1",
    "DELETE FROM settings WHERE key = 'tlp_counts_granular_markings'",
];

async fn tlps(store: &AnyStore) -> Vec<(String, Option<i64>)> {
    let mut p: Vec<_> = store
        .placements()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.tlp))
        .collect();
    p.sort();
    p
}

/// Granular markings count in the effective TLP; a store written before they did has the TLP of
/// its granularly marked versions recomputed at open (and only those).
#[tokio::test]
async fn sqlite_recomputes_granular_tlp_at_open() {
    use shieldwall::policy::tlp_code;
    let (_dir, path) = common::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = AnyStore::open(&url).await.unwrap();
    let plain = ind(7, "2020-01-01T00:00:00Z");
    add(&store, C, &[granular_red(), plain.clone()]).await;
    let red = Some(tlp_code(TlpLevel::Red));
    let green = Some(tlp_code(TlpLevel::Green));
    assert_eq!(
        tlps(&store).await,
        vec![(plain.id.clone(), None), (granular_red().id, red)]
    );
    drop(store);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(AGE_STORE[0])
        .bind(green)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(AGE_STORE[1]).execute(&pool).await.unwrap();
    pool.close().await;
    let reopened = AnyStore::open(&url).await.unwrap();
    assert_eq!(
        tlps(&reopened).await,
        vec![(plain.id, green), (granular_red().id, red)],
        "the granular version is RED again; the others are not rewritten"
    );
}

#[tokio::test]
async fn postgres_recomputes_granular_tlp_at_open() {
    use shieldwall::policy::tlp_code;
    let Some(db) = common::PgDb::create("granular TLP recomputation on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let plain = ind(7, "2020-01-01T00:00:00Z");
    add(&store, C, &[granular_red(), plain.clone()]).await;
    let red = Some(tlp_code(TlpLevel::Red));
    let green = Some(tlp_code(TlpLevel::Green));
    assert_eq!(
        tlps(&store).await,
        vec![(plain.id.clone(), None), (granular_red().id, red)]
    );
    if let AnyStore::Postgres(pg) = &store {
        sqlx::query(AGE_STORE[0])
            .bind(green)
            .execute(pg.pool())
            .await
            .unwrap();
        sqlx::query(AGE_STORE[1]).execute(pg.pool()).await.unwrap();
        pg.pool().close().await;
    }
    drop(store);
    let reopened = AnyStore::open(&db.url).await.unwrap();
    assert_eq!(
        tlps(&reopened).await,
        vec![(plain.id, green), (granular_red().id, red)]
    );
    db.drop_db(Some(reopened)).await;
}
