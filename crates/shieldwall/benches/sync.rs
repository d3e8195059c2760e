//! Federation benchmark: sync N generated objects from one node to another over real HTTP on
//! 127.0.0.1, both ends in this process (each node: its own store and TAXII server).
//!
//! - **pull**: node B's sync engine pulls A's collection (A serves it to B's node account,
//!   through the egress rule), page by page, into B's store;
//! - **push**: A's sync engine pushes the same collection to node C's server.
//!
//! ```text
//! cargo bench -p shieldwall --bench sync -- [--objects 100000] [--page 1000] [--postgres URL] [--relationships]
//! ```
//! `--relationships` makes every other object a `related-to` between two indicators, so that
//! push judges half the objects by the edge rule (their endpoints' placements).
//! `SYNC_BENCH_KEEP=1` keeps the PostgreSQL databases (to look at plans).
//! `SYNC_BENCH_NO_EGRESS=1` serves B's pull as an ordinary account (no egress rule), to compare.
//! With `--postgres postgres://USER@HOST:PORT/DB`, every node uses its own fresh database
//! created next to DB (`DB_syncbench_a`, …) and dropped afterwards; otherwise SQLite files in a
//! temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use shieldwall::{
    coalition::Coalition,
    config::{Config, PeerConfig},
    ingest::{self, Prepared},
    server,
    store::{AddOutcome, AnyStore, Provenance, StatusRecord, Store},
    sync::Engine,
};

const COLL: &str = "11111111-1111-4111-8111-111111111111";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

fn token(key: &str) -> String {
    format!("sw_{key}_bench-secret-{key}")
}

fn digest(key: &str) -> String {
    Sha256::digest(token(key).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The configuration of node `me` (member `m{me}`), with the other nodes as peers.
fn config(
    me: &str,
    database: &str,
    listen: &str,
    peers: &[(&str, String, &str)],
    page: u32,
) -> String {
    let mut t = format!(
        r#"[server]
listen = "{listen}"
database = "{database}"
default_tlp = "amber"
max_page_size = {page}
max_content_length = 104857600

[sync]
member = "m{me}"

[[api_roots]]
name = "sync"
title = "Sync"
default = true

[[trust_groups]]
id = "all"
members = ["ma", "mb", "mc"]

[[collections]]
id = "{COLL}"
api_root = "sync"
title = "Bench"
trust_group = "all"
read = ["*"]
write = ["*"]
"#
    );
    for (i, m) in ["a", "b", "c"].iter().enumerate() {
        t.push_str(&format!(
            "\n[[members]]\nid = \"m{m}\"\nname = \"Member {m}\"\nidentity = \"identity--{:08x}-0000-4000-8000-000000000000\"\n",
            i + 1
        ));
        if *m != me {
            t.push_str(&format!(
                "\n[[api_keys]]\nid = \"node-{m}\"\nmember = \"m{m}\"\nrole = \"contributor\"\ndigest = \"{}\"\n",
                digest(&format!("node-{m}"))
            ));
        }
    }
    for (name, url, direction) in peers {
        t.push_str(&format!(
            r#"
[[peers]]
name = "{name}"
url = "{url}"
api_root = "sync"
member = "m{name}"
token = "{tok}"
{inbound}timeout_seconds = 120
page_size = {page}
collections = [{{ local = "{COLL}", remote = "{COLL}", direction = "{direction}" }}]
"#,
            tok = token(&format!("node-{me}")),
            inbound = if std::env::var_os("SYNC_BENCH_NO_EGRESS").is_some() {
                String::new()
            } else {
                format!("inbound_actor = \"key:node-{name}\"\n")
            },
        ));
    }
    t
}

struct Node {
    store: AnyStore,
    coalition: Arc<Coalition>,
    peers: Vec<PeerConfig>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn node(me: &str, database: &str, peers: &[(&str, String, &str)], page: u32) -> Node {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let text = config(me, database, &addr.to_string(), peers, page);
    let checked = Config::from_toml(&text, &format!("node {me}"), &[]).unwrap();
    let store = AnyStore::open(&checked.database).await.unwrap();
    let state = server::app_state(&checked, store.clone(), format!("http://{addr}"))
        .await
        .unwrap();
    let coalition = state.coalition.clone();
    let (listener, _) = server::bind(addr).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Node {
        store,
        coalition,
        peers: checked.config.peers.clone(),
        url: format!("http://{addr}"),
        stop: Some(stop),
        task: Some(task),
    }
}

impl Node {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
    fn engine(&self) -> Engine {
        Engine::new(
            self.store.clone(),
            self.coalition.clone(),
            self.peers.clone(),
            &|_| None,
        )
        .unwrap()
    }
    async fn count(&self) -> usize {
        self.store.placements().await.unwrap().len()
    }
}

fn indicator_id(i: usize) -> String {
    format!(
        "indicator--{:08x}-{:04x}-4000-8000-000000000000",
        i,
        i % 0xffff
    )
}

/// Object `i`: an indicator; with `relationships`, every odd one is a `related-to` from the
/// indicator before it to an earlier indicator (so that push applies the edge rule to half).
fn object(i: usize, relationships: bool) -> serde_json::Value {
    let ts = "2026-01-01T00:00:00.000Z";
    if relationships && i % 2 == 1 {
        return serde_json::json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--{:08x}-{:04x}-4000-8000-000000000000", i, i % 0xffff),
            "created": ts, "modified": ts, "relationship_type": "related-to",
            "source_ref": indicator_id(i - 1), "target_ref": indicator_id(((i - 1) / 2) & !1),
            "object_marking_refs": [GREEN]});
    }
    serde_json::json!({"type": "indicator", "spec_version": "2.1",
        "id": indicator_id(i),
        "created": ts, "modified": ts, "name": format!("bench indicator {i}"),
        "description": "A generated indicator for the federation benchmark.",
        "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        "pattern_type": "stix", "valid_from": ts, "indicator_types": ["malicious-activity"],
        "object_marking_refs": [GREEN]})
}

async fn fill(store: &AnyStore, n: usize, relationships: bool) {
    let prov = Provenance {
        source: "local".into(),
        actor: "bench".into(),
    };
    let status = |_: &[AddOutcome]| StatusRecord {
        id: uuid::Uuid::new_v4().to_string(),
        api_root: "sync".into(),
        member: "ma".into(),
        request_us: 0,
        expires_us: 0,
        body: "{}".into(),
    };
    let mut i = 0;
    while i < n {
        let end = (i + 5000).min(n);
        let versions: Vec<_> = (i..end)
            .map(
                |k| match ingest::to_new_version(&object(k, relationships), "ma", None).unwrap() {
                    Prepared::Valid(v) => *v,
                    Prepared::Invalid { message, .. } => panic!("{message}"),
                },
            )
            .collect();
        store.add(COLL, &prov, &versions, &status).await.unwrap();
        i = end;
    }
}

async fn admin(pg: &str, sql: &str) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(pg).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    shieldwall::tls::ensure_provider();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` / `cargo bench -- --list`
    }
    let n: usize = arg(&args, "--objects").map_or(100_000, |s| s.parse().unwrap());
    let page: u32 = arg(&args, "--page").map_or(1000, |s| s.parse().unwrap());
    let pg = arg(&args, "--postgres");
    let relationships = args.iter().any(|a| a == "--relationships");
    let tmp = tempfile::tempdir().unwrap();
    let db = |name: &str| match &pg {
        Some(url) => {
            let (base, dbname) = url.rsplit_once('/').unwrap();
            format!("{base}/{dbname}_syncbench_{name}")
        }
        None => format!(
            "sqlite://{}",
            tmp.path().join(format!("{name}.db")).display()
        ),
    };
    if let Some(url) = &pg {
        for name in ["a", "b", "c"] {
            let d = db(name);
            let dbname = d.rsplit_once('/').unwrap().1;
            admin(url, &format!("DROP DATABASE IF EXISTS {dbname}")).await;
            admin(url, &format!("CREATE DATABASE {dbname}")).await;
        }
    }
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };

    // Three nodes: A holds the data; B pulls from A; A pushes to C.
    let c = node("c", &db("c"), &[], page).await;
    // A's peer `b` is only B's node account there (B pulls; A never calls it).
    let a = node(
        "a",
        &db("a"),
        &[
            ("b", "http://127.0.0.1:1".to_owned(), "push"),
            ("c", c.url.clone(), "push"),
        ],
        page,
    )
    .await;
    let b = node("b", &db("b"), &[("a", a.url.clone(), "pull")], page).await;
    let t0 = Instant::now();
    fill(&a.store, n, relationships).await;
    eprintln!(
        "filled A with {n} objects in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let pull = b.engine();
    let t = Instant::now();
    let r = pull.run_peer("a", &|_| true).await.unwrap();
    let pull_s = t.elapsed().as_secs_f64();
    let pulled: u64 = r.iter().map(|r| r.pulled_stored).sum();
    assert_eq!(pulled as usize, n, "B stored every object");
    assert_eq!(b.count().await, n);

    let push = a.engine();
    let t = Instant::now();
    let r = push.run_peer("c", &|_| true).await.unwrap();
    let pushed: u64 = r.iter().map(|r| r.pushed).sum();
    let push_s = t.elapsed().as_secs_f64();
    assert_eq!(pushed as usize, n, "C acknowledged every object");
    assert_eq!(c.count().await, n);

    println!(
        "sync bench ({backend}, {n} objects{}, page {page}): pull {:.0} objects/s ({pull_s:.2} s), push {:.0} objects/s ({push_s:.2} s)",
        if relationships {
            " (half relationships)"
        } else {
            ""
        },
        n as f64 / pull_s,
        n as f64 / push_s
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    if let Some(url) = pg
        .as_ref()
        .filter(|_| std::env::var_os("SYNC_BENCH_KEEP").is_none())
    {
        for name in ["a", "b", "c"] {
            let d = db(name);
            let dbname = d.rsplit_once('/').unwrap().1;
            admin(
                url,
                &format!("DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"),
            )
            .await;
        }
    }
}
