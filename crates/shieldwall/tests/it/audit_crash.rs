//! The audit trail under a flood of RED reads and a crash, on SQLite and on PostgreSQL: a real
//! `shieldwall serve` process answers 32 connections reading a TLP:RED object by id as fast as
//! they can (while the member POSTs); once 2,000 reads were answered it is killed with SIGKILL, in
//! the middle of the flood. Its audit journal is left behind (a read's record is journaled before
//! its answer, and drained into the chain after), with a torn last line added as a crash in the
//! middle of a write leaves one. The server is started again (it replays the journal before it
//! listens), answers one more RED read and is killed at once; `shieldwall audit verify` replays
//! what that one left and passes. Every read answered has its record, exactly once, none was
//! dropped under the flood, the torn line is dropped and recorded, the POSTs went through, and
//! the journal is empty. The journal's replay on its own (`journal_replay_*`): idempotent when the
//! process died after a batch's commit and before the segment's deletion, torn and damaged lines,
//! a live process's segment left alone, the cap. The benchmarks' switch that turns read records
//! off works only when it is exactly `1`.
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

/// A demo node on `url` with its configuration in `dir` (not started): the configuration's path.
async fn demo_node(url: &str, dir: &Path) -> std::path::PathBuf {
    let mut cfg = demo::config("127.0.0.1:0", &dir.join("data")).unwrap();
    cfg.server.database = Some(url.to_owned());
    let config = dir.join("shieldwall.toml");
    std::fs::write(&config, toml::to_string(&cfg).unwrap()).unwrap();
    let checked = cfg.check("demo").unwrap();
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
    config
}

/// The objects URL of the demo's indicator collection on `base`, and the id of a RED object
/// ee-analyst may read (its own).
async fn red_object(base: &str) -> (String, String) {
    let coll = uuid::Uuid::new_v5(
        &uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44),
        b"coalition-indicators",
    )
    .to_string();
    let objects = format!("{base}/coalition/collections/{coll}/objects/");
    let page: Value = common::client()
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
    (objects, red_id)
}

/// The read records of ee-analyst naming `red_id` by id (`audit show` replays what a killed
/// server left in its journal first).
fn red_reads_recorded(dir: &Path, config: &Path, red_id: &str) -> usize {
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
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| {
            r["detail"]
                .as_str()
                .is_some_and(|d| d.contains(red_id) && d.contains("endpoint=object "))
        })
        .count()
}

async fn flood_then_kill(url: &str, dir: &Path) {
    let config = demo_node(url, dir).await;
    let (mut server, base) = nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(["serve", "--config"])
            .arg(&config),
    );
    let (objects, red_id) = red_object(&base).await;
    let c = common::client();
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

    // The killed process left its journal; a crash in the middle of a write leaves a torn line.
    let journal = dir.join("data").join("audit-journal");
    let segments = journal_files(&journal);
    assert!(!segments.is_empty(), "the killed server left no journal");
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(segments.last().unwrap())
            .unwrap();
        f.write_all(b"0123456789abcdef {\"t\":1,\"a\":\"torn")
            .unwrap();
    }
    // Started again: it replays the journal before listening; one more RED read, then killed
    // at once, before the writer may have drained it.
    let (mut server, base2) = nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(["serve", "--config"])
            .arg(&config),
    );
    let r = c
        .get(by_id.replacen(&base, &base2, 1))
        .basic_auth("ee-analyst", Some("demo"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
    let answered = answered + 1;

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
    let recorded = red_reads_recorded(dir, &config, &red_id);
    eprintln!("{answered} reads answered, {recorded} recorded");
    // Each answered read has its record; at most the reads in flight at the kill have a record
    // without an answer.
    assert!(
        recorded >= answered && recorded <= answered + CONNECTIONS,
        "{answered} reads answered, {recorded} recorded"
    );
    // The torn line: dropped, and said so in the chain.
    let notes = common::ok(&sw(
        dir,
        &[
            "audit",
            "show",
            "--json",
            "--action",
            "audit-journal",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    let notes: Vec<Value> = notes
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["outcome"], "torn", "{notes:?}");
    // Everything replayed: the journal is empty, and reading the chain again adds nothing.
    assert_eq!(journal_files(&journal), Vec::<std::path::PathBuf>::new());
    let again = common::ok(&sw(
        dir,
        &["audit", "head", "--config", config.to_str().unwrap()],
    ));
    let o = sw(
        dir,
        &["audit", "verify", "--config", config.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(
        common::ok(&sw(
            dir,
            &["audit", "head", "--config", config.to_str().unwrap()],
        )),
        again
    );
}

fn journal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    v.sort();
    v
}

/// What a process left in its journal when it died after committing a batch and before deleting
/// the segment: replayed from the batch's mark on, never twice; a torn last line and a damaged
/// line are dropped and recorded; a segment a live process holds is left alone; the cap refuses.
async fn journal_replay(url: &str, dir: &Path) {
    use shieldwall::{
        audit::{self as audit_chain, Entry},
        store::{
            AuditQuery, Store,
            journal::{Journal, JournalError, recover},
        },
    };
    let store = AnyStore::open(url).await.unwrap();
    let jdir = dir.join("journal");
    let read = |i: usize| Entry::new("alice", "read", "taxii", &format!("collection:c{i}"), "ok");
    let j = Journal::open(&jdir, 1 << 20).unwrap();
    for i in 0..10 {
        j.append(1_000 + i as i64, read(i)).unwrap();
    }
    // The writer committed the first six with their mark, then the process died.
    let batch = j.take(6);
    store
        .audit_append_journaled(&batch.items, &batch.marks, &batch.forget, false)
        .await
        .unwrap();
    j.drained(&batch);
    drop(j);
    let segments = journal_files(&jdir);
    assert_eq!(segments.len(), 1);
    let name = segments[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(store.audit_journal_drained(&name).await.unwrap().is_some());
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&segments[0])
            .unwrap();
        // A damaged line (its check does not match), then a forged one with a newline in its
        // name would need JSON's escape: it stays one line. Then a torn one.
        let good = audit_chain::journal_line(2_000, &read(10));
        let bad = good.replacen("c10", "c99", 1);
        f.write_all(bad.as_bytes()).unwrap();
        f.write_all(
            audit_chain::journal_line(
                2_001,
                &Entry::new("x\nseq 1 admin", "read", "taxii", "t", "ok"),
            )
            .as_bytes(),
        )
        .unwrap();
        f.write_all(&good.as_bytes()[..good.len() / 2]).unwrap();
    }
    let all = || async {
        store
            .audit_records(&AuditQuery {
                limit: 10_000,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
    };
    let r = recover(&store, &jdir).await.unwrap();
    assert_eq!(
        (r.segments, r.torn, r.damaged, r.live),
        (1, 1, 1, 0),
        "{r:?}"
    );
    let records = all().await;
    let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
    let mut want: Vec<String> = (0..10).map(|i| format!("collection:c{i}")).collect();
    want.extend([
        format!("journal:{name}"),
        "t".into(),
        format!("journal:{name}"),
    ]);
    assert_eq!(targets, want, "each record once, in journal order");
    assert_eq!(records[10].outcome, "damaged");
    assert_eq!(records[11].actor, "x\u{fffd}seq 1 admin");
    assert_eq!(records[12].outcome, "torn");
    // The journal's times are kept (never earlier than the record before).
    assert_eq!(records[6].time_us, records[5].time_us.max(1_006));
    assert!(
        audit_chain::verify(records.clone(), None)
            .problems
            .is_empty()
    );
    assert!(journal_files(&jdir).is_empty());
    assert_eq!(store.audit_journal_drained(&name).await.unwrap(), None);
    // Again: nothing.
    let r = recover(&store, &jdir).await.unwrap();
    assert_eq!(r.segments, 0);
    assert_eq!(all().await.len(), records.len());
    // A live process's segment is not replayed under it.
    let live = Journal::open(&jdir, 1 << 20).unwrap();
    live.append(3_000, read(20)).unwrap();
    let r = recover(&store, &jdir).await.unwrap();
    assert_eq!((r.segments, r.live), (0, 1));
    assert_eq!(all().await.len(), records.len());
    // The cap: beyond it, a record is refused, not dropped silently.
    let small = Journal::open(&dir.join("small"), 600).unwrap();
    small.append(1, read(0)).unwrap();
    assert!(matches!(
        small.append(2, read(1).detail(&"x".repeat(600))),
        Err(JournalError::Full(_))
    ));
}

#[tokio::test]
async fn journal_replay_is_idempotent_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    journal_replay(&format!("sqlite://{}", path.display()), dir.path()).await;
}

#[tokio::test]
async fn journal_replay_is_idempotent_on_postgres() {
    let Some(db) = common::PgDb::create("audit journal replay on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    journal_replay(&db.url, dir.path()).await;
    db.drop_db(None).await;
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

/// The benchmarks' switch `SHIELDWALL_BENCH_NO_READ_AUDIT` turns the read records off only when
/// it is exactly `1`: any other value, close as it may be, leaves every RED read recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_unrecorded_only_when_the_bench_switch_is_exactly_1() {
    let (dir, path) = common::sqlite_path();
    let dir = dir.path();
    let config = demo_node(&format!("sqlite://{}", path.display()), dir).await;
    let mut expected = 0;
    for (value, recorded) in [
        (None, true),
        (Some("1"), false),
        (Some("true"), true),
        (Some("0"), true),
        (Some(" 1"), true),
        (Some("1 "), true),
        (Some("01"), true),
        (Some(""), true),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shieldwall"));
        cmd.args(["serve", "--config"]).arg(&config);
        match value {
            Some(v) => cmd.env("SHIELDWALL_BENCH_NO_READ_AUDIT", v),
            None => cmd.env_remove("SHIELDWALL_BENCH_NO_READ_AUDIT"),
        };
        let (mut server, base) = nodes::serve_child(&mut cmd);
        let (objects, red_id) = red_object(&base).await;
        for _ in 0..3 {
            let r = common::client()
                .get(format!("{objects}{red_id}/"))
                .basic_auth("ee-analyst", Some("demo"))
                .header("Accept", ACCEPT)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
        // Killed: what it journaled is replayed by `audit show`.
        server.kill().unwrap();
        server.wait().unwrap();
        if recorded {
            expected += 3;
        }
        assert_eq!(
            red_reads_recorded(dir, &config, &red_id),
            expected,
            "SHIELDWALL_BENCH_NO_READ_AUDIT={value:?}"
        );
    }
    // The one process that recorded no reads said so in the trail when it started.
    let o = sw(
        dir,
        &[
            "audit",
            "show",
            "--json",
            "--action",
            "audit-reads-off",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    let o = sw(
        dir,
        &["audit", "verify", "--config", config.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
