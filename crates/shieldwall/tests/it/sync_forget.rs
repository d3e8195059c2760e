//! Sync that cannot forget, over real HTTP between two `shieldwall serve` nodes, on SQLite and on
//! PostgreSQL (a fresh database per node): A pushes collection P to B, and B pulls collection Q
//! from A (A serves B's pulls through the egress rule).
//!
//! - A GREEN relationship whose endpoint is AMBER+STRICT is held back from B, by push and by the
//!   served pull; once A re-publishes the endpoint as GREEN, the relationship reaches B both ways.
//! - `sync --explain` agrees with B's holdings: every version it calls SENT is held by B, and
//!   every version B holds from A is called SENT; what is held back says why.
//! - Objects refused from a peer (in B's pull, and in A's push to B) are recorded with the reason
//!   and visible in `sync --explain`, `GET /admin/sync` (admins only) and `/metrics`; a member's
//!   own refused POST is not a peer refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::ACCEPT;
use crate::nodes;

use std::{collections::BTreeSet, process::Command};

use serde_json::{Value, json};
use shieldwall::{
    ingest::{self, Prepared},
    store::{AnyStore, Provenance, StatusRecord, Store},
    timestamps,
};
use stix::tlp;

use nodes::{Node, digest, free_port, identity, token};

const P: &str = "33333333-3333-4333-8333-333333333333";
const Q: &str = "44444444-4444-4444-8444-444444444444";

/// Where a node keeps its data: a SQLite file under its directory, or a PostgreSQL database.
fn database(node: &Node, pg: Option<&str>) -> String {
    match pg {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", node.dir.join("data/shieldwall.db").display()),
    }
}

fn write_config(node: &Node, other: (&str, &str, String), pg: Option<&str>) {
    let (peer, peer_member, url) = other;
    let storage = match pg {
        Some(url) => format!("database = \"{url}\""),
        None => format!("data_dir = \"{}\"", node.dir.join("data").display()),
    };
    // A pushes P to B; B pulls Q from A.
    let mappings = match node.name {
        "a" => format!("{{ local = \"{P}\", remote = \"{P}\", direction = \"push\" }}"),
        _ => format!("{{ local = \"{Q}\", remote = \"{Q}\", direction = \"pull\" }}"),
    };
    let mut t = format!(
        r#"[server]
listen = "{addr}"
{storage}
default_tlp = "amber"

[sync]
member = "{member}"

[[api_roots]]
name = "sync"
title = "Sync"
default = true

[[trust_groups]]
id = "west"
members = ["ma", "mb"]

[[api_keys]]
id = "local-{name}"
member = "{member}"
role = "contributor"
digest = "{local}"

[[api_keys]]
id = "admin-{name}"
member = "{member}"
role = "admin"
digest = "{admin}"

[[api_keys]]
id = "peer-{peer}"
member = "{peer_member}"
role = "contributor"
digest = "{peer_digest}"

[[peers]]
name = "{peer}"
url = "{url}"
api_root = "sync"
member = "{peer_member}"
token = "{tok}"
inbound_actor = "key:peer-{peer}"
timeout_seconds = 5
page_size = 2
collections = [ {mappings} ]
"#,
        addr = node.addr,
        member = node.member,
        name = node.name,
        local = digest(&format!("local-{}", node.name)),
        admin = digest(&format!("admin-{}", node.name)),
        peer_digest = digest(&format!("peer-{peer}")),
        tok = token(&format!("peer-{}", node.name)),
    );
    for (id, title) in [(P, "Pushed"), (Q, "Pulled")] {
        t.push_str(&format!(
            "\n[[collections]]\nid = \"{id}\"\napi_root = \"sync\"\ntitle = \"{title}\"\ntrust_group = \"west\"\nread = [\"*\"]\nwrite = [\"*\"]\n"
        ));
    }
    for m in [node.member, peer_member] {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"Member {m}\"\nidentity = \"{}\"\n",
            identity(m)
        ));
    }
    std::fs::write(node.config(), t).unwrap();
}

fn sync(node: &Node, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["sync", "--config"])
        .arg(node.config())
        .args(extra)
        .env("SHIELDWALL_LOG", "error")
        .output()
        .unwrap()
}

fn sync_once(node: &Node) {
    let out = sync(node, &["--once"]);
    assert!(
        out.status.success(),
        "sync on {}: {}{}",
        node.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sync --explain ID --peer PEER --json` on `node`.
fn explain(node: &Node, id: &str, peer: &str) -> Vec<Value> {
    let out = sync(node, &["--explain", id, "--peer", peer, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v.as_array().unwrap().clone()
}

fn at(t: &str) -> String {
    format!("2026-0{t}-01T00:00:00.000Z")
}

fn indicator(id: &str, month: &str, marking: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": at("1"), "modified": at(month),
        "pattern": "[domain-name:value = 'forget.example']", "pattern_type": "stix",
        "valid_from": at("1"), "object_marking_refs": [marking]})
}

fn malware(id: &str) -> Value {
    json!({"type": "malware", "spec_version": "2.1", "id": id, "created": at("1"), "modified": at("1"),
        "name": "forget", "is_family": true, "object_marking_refs": [tlp::TLP2_GREEN]})
}

fn relationship(id: &str, src: &str, dst: &str) -> Value {
    json!({"type": "relationship", "spec_version": "2.1", "id": id, "created": at("1"), "modified": at("1"),
        "relationship_type": "indicates", "source_ref": src, "target_ref": dst,
        "object_marking_refs": [tlp::TLP2_GREEN]})
}

async fn post(node: &Node, key: &str, coll: &str, objects: Vec<Value>) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/sync/collections/{coll}/objects/", node.url()))
        .bearer_auth(token(key))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({"objects": objects}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.json().await.unwrap()
}

async fn get(node: &Node, key: &str, path: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", node.url()))
        .bearer_auth(token(key))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Every `(collection, id, version)` a store holds, versions formatted like `--explain`.
async fn holdings(store: &AnyStore) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let ids: BTreeSet<(String, String)> = store
        .placements()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.collection, p.id))
        .collect();
    for (coll, id) in ids {
        for r in store.sync_versions(&coll, &id).await.unwrap() {
            out.insert((
                coll.clone(),
                id.clone(),
                timestamps::format_us(r.version_ns.div_euclid(1000)),
            ));
        }
    }
    out
}

async fn scenario(pg: [Option<String>; 2]) {
    shieldwall::tls::ensure_provider();
    let tmp = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Node> = [("a", "ma"), ("b", "mb")]
        .iter()
        .map(|(name, member)| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            Node {
                name,
                member,
                addr: format!("127.0.0.1:{}", free_port("127.0.0.1")),
                dir,
                child: None,
            }
        })
        .collect();
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    write_config(&nodes[0], ("b", "mb", urls[1].clone()), pg[0].as_deref());
    write_config(&nodes[1], ("a", "ma", urls[0].clone()), pg[1].as_deref());
    for n in &mut nodes {
        n.start();
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let id = |kind: &str, n: u32| format!("{kind}--{n:08x}-0000-4000-8000-0000000000aa");
    // P (pushed): X is AMBER+STRICT, R is a GREEN edge from it; Z is RED (held forever).
    let (x, m, r, z) = (
        id("indicator", 1),
        id("malware", 2),
        id("relationship", 3),
        id("indicator", 4),
    );
    // Q (pulled by B): the same shape.
    let (y, n, s) = (id("indicator", 5), id("malware", 6), id("relationship", 7));
    let st = post(
        a,
        "local-a",
        P,
        vec![
            indicator(&x, "1", tlp::TLP2_AMBER_STRICT),
            malware(&m),
            relationship(&r, &x, &m),
            indicator(&z, "1", tlp::TLP2_RED),
        ],
    )
    .await;
    assert_eq!(st["failure_count"], 0, "{st}");
    let st = post(
        a,
        "local-a",
        Q,
        vec![
            indicator(&y, "1", tlp::TLP2_AMBER_STRICT),
            malware(&n),
            relationship(&s, &y, &n),
        ],
    )
    .await;
    assert_eq!(st["failure_count"], 0, "{st}");
    sync_once(a);
    sync_once(b);

    let store_a = AnyStore::open(&database(a, pg[0].as_deref()))
        .await
        .unwrap();
    let store_b = AnyStore::open(&database(b, pg[1].as_deref()))
        .await
        .unwrap();
    // Every sync batch, in and out, is in the nodes' audit trails, whose chains hold.
    let mut actions = BTreeSet::new();
    for s in [&store_a, &store_b] {
        let records = s
            .audit_records(&shieldwall::store::AuditQuery {
                limit: 100_000,
                ..Default::default()
            })
            .await
            .unwrap();
        for r in records.iter().filter(|r| r.path == "sync") {
            assert!(r.actor.starts_with("peer:"), "{r:?}");
            actions.insert(r.action.clone());
        }
        let report = shieldwall::audit::verify(records, None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
    assert!(
        actions.contains("sync-pull") && actions.contains("sync-push"),
        "{actions:?}"
    );
    let held: BTreeSet<(String, String)> = holdings(&store_b)
        .await
        .into_iter()
        .map(|(c, i, _)| (c, i))
        .collect();
    let expected: BTreeSet<(String, String)> = [(P, &m), (Q, &n)]
        .iter()
        .map(|(c, i)| (c.to_string(), i.to_string()))
        .collect();
    assert_eq!(
        held, expected,
        "only the GREEN malware went, by push and by pull"
    );
    // Held back, with the reason, from the state push recorded and the served pull's rule.
    for (obj, reason) in [
        (&r, "points-to-held-back-object"),
        (&x, "amber-strict-other-member"),
        (&z, "tlp-red"),
        (&s, "points-to-held-back-object"),
        (&y, "amber-strict-other-member"),
    ] {
        let ex = explain(a, obj, "b");
        assert_eq!(ex.len(), 1, "{obj}: {ex:?}");
        assert_eq!(ex[0]["verdict"], "held", "{obj}: {ex:?}");
        assert_eq!(ex[0]["held_back"], reason, "{obj}: {ex:?}");
    }
    let out = sync(a, &["--explain", &r, "--peer", "b"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HELD BACK (points-to-held-back-object)"),
        "{text}"
    );
    // The admin status shows what is held back now; members get 403, as on every admin route.
    let (code, body) = get(a, "admin-a", "/admin/sync").await;
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["peers"]["b"]["held"]["points-to-held-back-object"], 1,
        "{status}"
    );
    assert_eq!(status["peers"]["b"]["held"]["tlp-red"], 1, "{status}");
    for key in ["local-a", "peer-b"] {
        assert_eq!(get(a, key, "/admin/sync").await.0, 403, "{key}");
    }

    // A re-publishes both endpoints as GREEN: the edges are judged again and travel.
    post(a, "local-a", P, vec![indicator(&x, "2", tlp::TLP2_GREEN)]).await;
    post(a, "local-a", Q, vec![indicator(&y, "2", tlp::TLP2_GREEN)]).await;
    let pending = explain(a, &r, "b");
    assert_eq!(
        pending[0]["verdict"], "held",
        "still recorded until the next push: {pending:?}"
    );
    assert!(
        pending[0]["why"]
            .as_str()
            .unwrap()
            .contains("may leave now"),
        "{pending:?}"
    );
    sync_once(a);
    sync_once(b);
    // One more pull: B's pull then starts after everything it holds (the served acknowledgement).
    sync_once(b);
    let on_b = holdings(&store_b).await;
    for (coll, obj) in [(P, &r), (Q, &s), (P, &x), (Q, &y)] {
        assert!(
            on_b.iter().any(|(c, i, _)| c == coll && i == obj),
            "{obj} reached B in {coll}: {on_b:?}"
        );
    }
    assert!(!on_b.iter().any(|(_, i, _)| i == &z), "RED never leaves");

    // `--explain` agrees with B: every SENT version is held by B, and everything B holds from
    // A's collections is called SENT.
    let mut sent = BTreeSet::new();
    let on_a: BTreeSet<String> = holdings(&store_a)
        .await
        .into_iter()
        .map(|(_, i, _)| i)
        .collect();
    for obj in &on_a {
        for e in explain(a, obj, "b") {
            let key = (
                e["collection"].as_str().unwrap().to_owned(),
                obj.clone(),
                e["version"].as_str().unwrap().to_owned(),
            );
            match e["verdict"].as_str().unwrap() {
                "sent" => {
                    assert!(
                        on_b.contains(&key),
                        "called SENT but not held by B: {key:?} {e}"
                    );
                    sent.insert(key);
                }
                "held" | "pending" => {
                    assert!(
                        !on_b.contains(&key) || e["verdict"] == "pending",
                        "held back but held by B: {key:?} {e}"
                    )
                }
                other => panic!("{other}: {e}"),
            }
        }
    }
    assert_eq!(
        sent, on_b,
        "everything B holds is called SENT, and only that"
    );
    assert_eq!(sent.len(), 6, "M, X v2, R, N, Y v2, S: {sent:?}");
    // Nothing held back any more but RED and AMBER+STRICT version 1s.
    let (_, body) = get(a, "admin-a", "/admin/sync").await;
    let status: Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["peers"]["b"]["held"]
            .get("points-to-held-back-object")
            .is_none(),
        "{status}"
    );

    // Refused from a peer. B's pull: A's store holds an object that fails validation (a peer
    // can send anything; written into A's store directly, since A's own POST validates).
    let bad = id("indicator", 8);
    let broken = json!({"type": "indicator", "spec_version": "2.1", "id": bad, "created": at("1"),
        "modified": at("1"), "pattern_type": "stix", "valid_from": at("1"),
        "object_marking_refs": [tlp::TLP2_GREEN]});
    let Prepared::Valid(v) = ingest::to_new_version(&broken, "ma", None).unwrap() else {
        panic!()
    };
    store_a
        .add(
            Q,
            &Provenance {
                source: "local".into(),
                actor: "test".into(),
            },
            &[*v],
            &|_| StatusRecord {
                id: uuid::Uuid::new_v4().to_string(),
                api_root: "sync".into(),
                member: "ma".into(),
                request_us: 0,
                expires_us: 0,
                body: "{}".into(),
            },
        )
        .await
        .unwrap();
    let out = sync(b, &["--once", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["a"][0]["pulled_refused"], 1, "{report}");
    let ex = explain(b, &bad, "a");
    assert_eq!(ex.len(), 1, "{ex:?}");
    assert_eq!(ex[0]["verdict"], "refused", "{ex:?}");
    assert_eq!(ex[0]["held_back"], "invalid", "{ex:?}");
    assert!(ex[0]["why"].as_str().unwrap().contains("pattern"), "{ex:?}");
    let out = sync(b, &["--explain", &bad, "--peer", "a"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("REFUSED (invalid)"), "{text}");
    // The pull cursor moved on; the refusal is not forgotten, and not recorded twice.
    sync_once(b);
    assert_eq!(store_b.refused_of(&bad).await.unwrap().len(), 1);
    // A's push: B refuses an invalid object pushed by A's node key (as a hostile peer would
    // send it), and records it; a member's own refused POST is no peer refusal.
    let bad2 = id("indicator", 9);
    let mut broken2 = broken.clone();
    broken2["id"] = json!(bad2);
    let st = post(b, "peer-a", P, vec![broken2.clone()]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    let mut broken3 = broken.clone();
    broken3["id"] = json!(id("indicator", 10));
    let st = post(b, "local-b", P, vec![broken3]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    let (code, body) = get(b, "admin-b", "/admin/sync").await;
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["peers"]["a"]["refused"]["invalid"], 2,
        "pull and push: {status}"
    );
    assert_eq!(status["peers"].as_object().unwrap().len(), 1, "{status}");
    let (_, metrics) = get(b, "admin-b", "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("shieldwall_sync_refused_total")
                && l.contains("peer=\"a\"")
                && l.contains("reason=\"invalid\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    assert_eq!(explain(b, &bad2, "a")[0]["verdict"], "refused");

    if let AnyStore::Postgres(s) = &store_a {
        s.pool().close().await;
    }
    if let AnyStore::Postgres(s) = &store_b {
        s.pool().close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_held_back_edges_are_released_and_explained() {
    scenario([None, None]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_held_back_edges_are_released_and_explained() {
    let Some(da) = common::PgDb::create("sync that cannot forget on PostgreSQL").await else {
        return;
    };
    let Some(db) = common::PgDb::create("sync that cannot forget on PostgreSQL").await else {
        return;
    };
    scenario([Some(da.url.clone()), Some(db.url.clone())]).await;
    da.drop_db(None).await;
    db.drop_db(None).await;
}
