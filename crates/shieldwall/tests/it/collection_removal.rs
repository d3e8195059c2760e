//! Removing a collection races a write into it, on SQLite and PostgreSQL: the emptiness check
//! and the removal are one transaction under the store's write lock, and from the removal on the
//! store refuses to place anything in the collection — also for a writer whose configuration
//! was read before the removal (a POST in flight, a node that has not polled yet). So a removed
//! collection never holds objects, and an accepted write is never lost: either the write lands
//! and the removal is refused (409), or the removal lands and the write is refused (over TAXII,
//! a 404 like a missing collection's), never both accepted and never both refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use shieldwall::{
    admin::AdminError,
    coalition::Coalition,
    config::{Checked, Config, Role},
    demo,
    policy::Principal,
    publish::{self, PublishError, PublishLimits, Publisher},
    services::admin::{Actor, Admin, AdminServiceError, NewCollection},
    store::{AnyStore, StoreError},
};

use crate::common::{self, ACCEPT, start};

fn indicator(n: usize) -> Value {
    let id = format!("indicator--{}", uuid::Uuid::new_v4());
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z", "name": format!("race {n}"),
        "pattern": format!("[ipv4-addr:value = '198.19.{}.{}']", n / 250, n % 250 + 1),
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z"})
}

/// Entries the collection holds, counted in the database.
async fn held(url: &str, collection: &str) -> i64 {
    use sqlx::Connection;
    let q = "SELECT COUNT(*) FROM entries WHERE collection = $1";
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(q)
            .bind(collection)
            .fetch_one(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(q)
            .bind(collection)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

struct Bench {
    url: String,
    store: AnyStore,
    admin: Admin,
    bootstrap: Config,
    checked: Checked,
    actor: Actor,
    writer: Principal,
}

impl Bench {
    /// A new collection every member may write, and the coalition as a node that has read it
    /// (and will not read the admin state again before it writes).
    async fn fresh(&self, n: usize) -> (String, Arc<Coalition>) {
        let c = self
            .admin
            .add_collection(
                &self.actor,
                NewCollection {
                    api_root: "coalition".into(),
                    title: format!("race {n}"),
                    description: None,
                    alias: None,
                    trust_group: None,
                    read: vec!["*".into()],
                    write: vec!["*".into()],
                    red_recipients: vec![],
                },
            )
            .await
            .unwrap();
        let (_, checked) =
            shieldwall::services::admin::effective(&self.store, &self.bootstrap, "test")
                .await
                .unwrap();
        (c.id, Arc::new(Coalition::from_config(&checked)))
    }

    async fn write(
        &self,
        coalition: &Coalition,
        collection: &str,
        n: usize,
    ) -> Result<publish::PublishReport, PublishError> {
        publish::publish(
            &self.store,
            coalition,
            vec![indicator(n)],
            Publisher::Member(&self.writer),
            coalition.collection_by_id(collection).unwrap(),
            PublishLimits::from_server(&self.checked.config.server),
        )
        .await
    }
}

/// One outcome of a write racing a removal, checked against what the database holds.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Race {
    WriteFirst,
    RemovalFirst,
}

async fn judge(
    b: &Bench,
    collection: &str,
    wrote: Result<publish::PublishReport, PublishError>,
    removed: Result<i64, AdminServiceError>,
) -> Race {
    let n = held(&b.url, collection).await;
    match (wrote, removed) {
        (Ok(report), Err(AdminServiceError::Refused(AdminError::Conflict(why)))) => {
            assert_eq!(report.added, 1, "{:?}", report.failures);
            assert_eq!(n, 1, "an accepted write must be stored");
            assert!(why.contains("holds 1 object"), "{why}");
            Race::WriteFirst
        }
        (Err(PublishError::Store(StoreError::CollectionRemoved(c))), Ok(_)) => {
            assert_eq!(c, collection);
            assert_eq!(n, 0, "a removed collection holds objects");
            Race::RemovalFirst
        }
        (w, r) => panic!("write {w:?} and removal {r:?} (the collection holds {n})"),
    }
}

async fn scenario(url: &str, dir: &std::path::Path) {
    let mut cfg = demo::config("127.0.0.1:0", &dir.join("data")).unwrap();
    cfg.server.database = Some(url.to_owned());
    let checked = cfg.clone().check("demo").unwrap();
    let store = AnyStore::open(&checked.database).await.unwrap();
    let b = Arc::new(Bench {
        url: url.to_owned(),
        store: store.clone(),
        admin: Admin::new(store.clone(), Arc::new(cfg.clone())),
        bootstrap: cfg.clone(),
        checked: checked.clone(),
        actor: Actor {
            name: "admin".into(),
            path: "cli",
        },
        writer: Principal {
            member: "cert-ee".into(),
            role: Role::Contributor,
            actor: "ee-analyst".into(),
        },
    });

    // In order, each way: a write then a removal (refused, 409), a removal then a write from a
    // writer that still has the collection in its configuration (refused by the store).
    let (c, coalition) = b.fresh(0).await;
    let w = b.write(&coalition, &c, 0).await;
    let r = b.admin.remove_collection(&b.actor, &c).await;
    assert_eq!(judge(&b, &c, w, r).await, Race::WriteFirst);
    let (c, coalition) = b.fresh(1).await;
    let r = b.admin.remove_collection(&b.actor, &c).await;
    let w = b.write(&coalition, &c, 1).await;
    assert_eq!(judge(&b, &c, w, r).await, Race::RemovalFirst);
    // A second write into it, and a removal again: still refused, still empty.
    assert!(matches!(
        b.write(&coalition, &c, 2).await,
        Err(PublishError::Store(StoreError::CollectionRemoved(_)))
    ));
    assert_eq!(held(url, &c).await, 0);

    // Concurrently, on two threads released together, many times.
    let mut seen = std::collections::BTreeMap::new();
    for n in 3..60 {
        let (c, coalition) = b.fresh(n).await;
        let gate = Arc::new(tokio::sync::Barrier::new(2));
        let (b1, c1, g1, co) = (b.clone(), c.clone(), gate.clone(), coalition.clone());
        let write = tokio::spawn(async move {
            g1.wait().await;
            b1.write(&co, &c1, n).await
        });
        let (b2, c2, g2) = (b.clone(), c.clone(), gate.clone());
        let remove = tokio::spawn(async move {
            g2.wait().await;
            b2.admin.remove_collection(&b2.actor, &c2).await
        });
        let (w, r) = (write.await.unwrap(), remove.await.unwrap());
        *seen.entry(judge(&b, &c, w, r).await).or_insert(0) += 1;
    }
    eprintln!("collection removal races: {seen:?}");

    // Over TAXII: a node started before the removal (its configuration holds the collection)
    // answers a POST into it after the removal like one into a missing collection, and the
    // collection stays empty.
    let (c, _) = b.fresh(100).await;
    let (_, checked) = shieldwall::services::admin::effective(&store, &cfg, "test")
        .await
        .unwrap();
    let node = start(&checked, store.clone()).await;
    let (status, _) = post(&node.base, &c, 100).await;
    assert_eq!(status, 202);
    let r = b.admin.remove_collection(&b.actor, &c).await;
    assert!(
        matches!(r, Err(AdminServiceError::Refused(AdminError::Conflict(_)))),
        "{r:?}"
    );
    let (c, _) = b.fresh(101).await;
    let (_, checked) = shieldwall::services::admin::effective(&store, &cfg, "test")
        .await
        .unwrap();
    drop(node);
    let node = start(&checked, store.clone()).await;
    b.admin.remove_collection(&b.actor, &c).await.unwrap();
    let (status, body) = post(&node.base, &c, 101).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["http_status"], "404", "{body}");
    assert_eq!(held(url, &c).await, 0);
    drop(node);
    if let AnyStore::Postgres(pg) = &store {
        pg.pool().close().await;
    }
}

async fn post(base: &str, collection: &str, n: usize) -> (u16, Value) {
    let r = common::client()
        .post(format!(
            "{base}/coalition/collections/{collection}/objects/"
        ))
        .basic_auth("ee-analyst", Some("demo"))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({ "objects": [indicator(n)] }).to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collection_removal_races_a_write_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    scenario(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collection_removal_races_a_write_on_postgres() {
    let Some(db) = common::PgDb::create("removal_race").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    scenario(&db.url, dir.path()).await;
    db.drop_db(None).await;
}
