//! The audit trail under a flood of RED reads and a crash, on SQLite and on PostgreSQL: a real
//! `shieldwall serve` process answers 32 connections reading a TLP:RED object by id as fast as
//! they can (while the member POSTs); once 2,000 reads were answered it is killed with SIGKILL, in
//! the middle of the flood. Every read answered has its record (a read's record is committed
//! before its answer, even though it is not waited on to reach the disk), none was dropped under
//! the flood, the POSTs went through, and `shieldwall audit verify` passes on what the killed
//! process left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::Path,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use serde_json::{Value, json};
use shieldwall::{coalition::Coalition, demo, store::AnyStore};

use crate::{
    common::{self, ACCEPT, sw},
    nodes,
};

/// Reads answered before the kill.
const READS: usize = 2_000;
/// Connections reading at once.
const CONNECTIONS: usize = 32;

async fn flood_then_kill(url: &str, dir: &Path) {
    let mut cfg = demo::config("127.0.0.1:0", &dir.join("data")).unwrap();
    cfg.server.database = Some(url.to_owned());
    let config = dir.join("shieldwall.toml");
    std::fs::write(&config, toml::to_string(&cfg).unwrap()).unwrap();
    let checked = cfg.check("demo").unwrap();
    {
        let store = AnyStore::open(&checked.database).await.unwrap();
        let coalition = Coalition::from_config(&checked);
        demo::seed(
            &store,
            &coalition,
            shieldwall::publish::PublishLimits::from_server(&checked.config.server),
        )
        .await
        .unwrap();
        if let AnyStore::Postgres(pg) = store {
            pg.pool().close().await;
        }
    }
    let (mut server, base) = nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(["serve", "--config"])
            .arg(&config),
    );
    let coll = uuid::Uuid::new_v5(
        &uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44),
        b"coalition-indicators",
    )
    .to_string();
    let objects = format!("{base}/coalition/collections/{coll}/objects/");
    let c = common::client();
    // A RED object ee-analyst may read (its own).
    let page: Value = c
        .get(format!("{objects}?limit=1000"))
        .basic_auth("ee-analyst", Some("demo"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let red = stix::tlp::TlpLevel::Red.marking_id();
    let red_id = page["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["object_marking_refs"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x == red))
        })
        .and_then(|o| o["id"].as_str())
        .expect("ee-analyst sees a RED object")
        .to_owned();
    let by_id = format!("{objects}{red_id}/");

    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (c, by_id, red_id, answered, refused) = (
            common::client(),
            by_id.clone(),
            red_id.clone(),
            answered.clone(),
            refused.clone(),
        );
        readers.push(tokio::spawn(async move {
            // Until the server is gone: a refused or failed read is counted, never retried.
            loop {
                let Ok(r) = c
                    .get(&by_id)
                    .basic_auth("ee-analyst", Some("demo"))
                    .header("Accept", ACCEPT)
                    .send()
                    .await
                else {
                    break;
                };
                let status = r.status().as_u16();
                let Ok(body) = r.bytes().await else { break };
                if status == 200 && body.windows(red_id.len()).any(|w| w == red_id.as_bytes()) {
                    answered.fetch_add(1, Ordering::SeqCst);
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // A member's POSTs go through while the reads flood the trail's writer.
    for i in 0..5u32 {
        let id = format!("indicator--{}", uuid::Uuid::new_v4());
        let body = json!({"objects": [{"type": "indicator", "spec_version": "2.1", "id": id,
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": format!("[domain-name:value = 'flood{i}.example']"), "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00.000Z", "object_marking_refs": [stix::tlp::TLP2_GREEN]}]});
        let r = c
            .post(&objects)
            .basic_auth("ee-analyst", Some("demo"))
            .header("Accept", ACCEPT)
            .header("Content-Type", ACCEPT)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "a POST during the flood");
        let st: Value = r.json().await.unwrap();
        assert_eq!(st["success_count"], 1, "{st}");
    }
    while answered.load(Ordering::SeqCst) < READS {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL, reads still in flight
    server.wait().unwrap();
    for r in readers {
        r.await.unwrap();
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered >= READS);
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "a flood is slowed down, not refused"
    );

    // What the killed process left: the chain verifies, and holds every read answered.
    let o = sw(
        dir,
        &["audit", "verify", "--config", config.to_str().unwrap()],
    );
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = sw(
        dir,
        &[
            "audit",
            "show",
            "--json",
            "--action",
            "read",
            "--actor",
            "ee-analyst",
            "--limit",
            "100000",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recorded = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| {
            r["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&red_id) && d.contains("endpoint=object "))
        })
        .count();
    eprintln!("{answered} reads answered, {recorded} recorded");
    // Each answered read has its record; at most the reads in flight at the kill have a record
    // without an answer.
    assert!(
        recorded >= answered && recorded <= answered + CONNECTIONS,
        "{answered} reads answered, {recorded} recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_read_flood_then_sigkill_loses_no_record_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    flood_then_kill(&format!("sqlite://{}", path.display()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_read_flood_then_sigkill_loses_no_record_on_postgres() {
    let Some(db) = common::PgDb::create("audit flood and crash on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    flood_then_kill(&db.url, dir.path()).await;
    db.drop_db(None).await;
}
