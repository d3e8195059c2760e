//! Durability: a real `shieldwall serve` (SQLite) is killed with SIGKILL while clients POST large
//! envelopes. After a restart, every object a status resource reported as a success is present
//! and intact, and every envelope is all-or-nothing (nothing half-written is visible).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::ACCEPT;
use std::{
    collections::{HashMap, HashSet},
    process::{Child, Command},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::nodes;

const PER_ENVELOPE: usize = 1500;

/// Envelopes acknowledged (by all clients together) before the kill.
const ACKED_BEFORE_KILL: usize = 3;

/// How long the clients may take to have them acknowledged (a bound for a loaded machine, not
/// a measure: the kill comes as soon as they are).
const ACK_BOUND: Duration = Duration::from_secs(300);

fn start(data: &std::path::Path) -> (Child, String) {
    nodes::serve_child(
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data),
    )
}

fn envelope(client: usize, n: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (0..PER_ENVELOPE)
        .map(|i| {
            format!(
                "indicator--{:08x}-0000-4000-8000-{:012x}",
                client,
                n * PER_ENVELOPE + i
            )
        })
        .collect();
    let objects: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z", "pattern": "[domain-name:value = 'durable.example']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00.000Z", "name": format!("durability {id}"),
            "object_marking_refs": [stix::tlp::TLP2_GREEN]}))
        .collect();
    (ids, json!({"objects": objects}).to_string())
}

#[test]
fn sigkill_mid_post_loses_no_acknowledged_object() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, base) = start(data.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let coll = uuid::Uuid::new_v5(
        &uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44),
        b"coalition-indicators",
    )
    .to_string();
    let url = format!("{base}/coalition/collections/{coll}/objects/");
    // Clients post until the server dies; each records what it sent and what was acknowledged.
    shieldwall::tls::ensure_provider();
    let acked_envelopes = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (sent, acked) = rt.block_on(async {
        let mut tasks = Vec::new();
        for client in 0..3usize {
            let url = url.clone();
            let (acked_envelopes, in_flight) = (acked_envelopes.clone(), in_flight.clone());
            tasks.push(tokio::spawn(async move {
                let c = reqwest::Client::new();
                let mut sent: Vec<Vec<String>> = Vec::new();
                let mut acked: Vec<(String, String)> = Vec::new();
                for n in 0..1000 {
                    let (ids, body) = envelope(client, n);
                    sent.push(ids);
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let r = c
                        .post(&url)
                        .basic_auth("ee-analyst", Some("demo"))
                        .header("Accept", ACCEPT)
                        .header("Content-Type", ACCEPT)
                        .body(body)
                        .send()
                        .await;
                    let Ok(r) = r else { break };
                    if r.status().as_u16() != 202 {
                        break;
                    }
                    let Ok(st) = r.json::<Value>().await else {
                        break;
                    };
                    for s in st["successes"].as_array().unwrap() {
                        acked.push((
                            s["id"].as_str().unwrap().to_owned(),
                            s["version"].as_str().unwrap().to_owned(),
                        ));
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    acked_envelopes.fetch_add(1, Ordering::SeqCst);
                }
                (sent, acked)
            }));
        }
        // The kill comes once some envelopes were acknowledged and while others are being
        // posted (a condition, not a time window: on a loaded machine it comes later, never
        // before).
        let start = Instant::now();
        while acked_envelopes.load(Ordering::SeqCst) < ACKED_BEFORE_KILL
            || in_flight.load(Ordering::SeqCst) == 0
        {
            assert!(
                start.elapsed() < ACK_BOUND,
                "{ACKED_BEFORE_KILL} envelopes were not acknowledged within {ACK_BOUND:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        let mut sent = Vec::new();
        let mut acked = Vec::new();
        for t in tasks {
            let (s, a) = t.await.unwrap();
            sent.extend(s);
            acked.extend(a);
        }
        (sent, acked)
    });
    assert!(
        !acked.is_empty(),
        "some POSTs were acknowledged before the kill"
    );
    assert!(
        sent.len() * PER_ENVELOPE > acked.len(),
        "the kill came in the middle of the POSTs"
    );

    // Restart and read everything back as the publisher.
    let (mut server, base) = start(data.path());
    let url = format!("{base}/coalition/collections/{coll}/objects/");
    let stored: HashMap<String, Value> = rt.block_on(async {
        let c = reqwest::Client::new();
        let mut out = HashMap::new();
        let mut next: Option<String> = None;
        loop {
            let mut u = format!("{url}?limit=1000&match[type]=indicator");
            if let Some(n) = &next {
                u.push_str(&format!("&next={n}"));
            }
            let page: Value = c
                .get(&u)
                .basic_auth("ee-analyst", Some("demo"))
                .header("Accept", ACCEPT)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for o in page["objects"].as_array().cloned().unwrap_or_default() {
                out.insert(o["id"].as_str().unwrap().to_owned(), o);
            }
            match page["next"].as_str() {
                Some(n) => next = Some(n.to_owned()),
                None => break,
            }
        }
        out
    });
    let _ = server.kill();
    let _ = server.wait();
    for (id, version) in &acked {
        let o = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged {id} lost"));
        assert_eq!(o["modified"].as_str(), Some(version.as_str()));
        assert_eq!(
            o["name"].as_str(),
            Some(format!("durability {id}").as_str()),
            "intact"
        );
        assert_eq!(o["pattern"], "[domain-name:value = 'durable.example']");
    }
    let present: HashSet<&String> = stored.keys().collect();
    for ids in &sent {
        let n = ids.iter().filter(|i| present.contains(i)).count();
        assert!(
            n == 0 || n == ids.len(),
            "an envelope was half-written: {n} of {}",
            ids.len()
        );
    }
}
