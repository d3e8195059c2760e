//! The audit trail end to end, on SQLite and on PostgreSQL: the demo coalition served over HTTP
//! on 127.0.0.1; a failed sign-in (with a hostile user name and a huge header), a sign-in and
//! reads of TLP:RED objects (listing and by id), an admin action and an export produce records;
//! `shieldwall audit verify` passes; then the database is tampered with directly — a record's
//! detail edited, a middle record deleted, two records' `seq` swapped, the last records deleted —
//! and `verify` fails naming the record each time (truncation with `--head`). Members (and the
//! admin) cannot reach the trail over TAXII.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::common::{self, ACCEPT, client, get, start, sw};
use base64::Engine;
use serde_json::Value;
use shieldwall::{
    audit,
    coalition::Coalition,
    demo,
    store::{AnyStore, AuditQuery, Store},
};
use stix::tlp::TlpLevel;

const PASSWORD: &str = "S3cret-not-demo-XYZ";

/// Runs SQL straight against the database, as someone with access to it would.
async fn tamper(url: &str, statements: &[String]) {
    if url.starts_with("postgres") {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                .execute(&mut c)
                .await
                .unwrap();
        }
    } else {
        let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

fn verify(dir: &Path, config: &Path, head: Option<&str>) -> (bool, String) {
    let mut args = vec!["audit", "verify", "--config", config.to_str().unwrap()];
    if let Some(h) = head {
        args.extend(["--head", h]);
    }
    let o = sw(dir, &args);
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

async fn all_records(store: &AnyStore) -> Vec<audit::Record> {
    store
        .audit_records(&AuditQuery {
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn scenario(url: &str, dir: &Path) {
    let mut cfg = demo::config("127.0.0.1:0", &dir.join("data")).unwrap();
    cfg.server.database = Some(url.to_owned());
    let (token, digest) = shieldwall::auth::new_api_key("feed");
    cfg.api_keys.push(shieldwall::config::ApiKeyConfig {
        id: "feed".into(),
        member: "cert-lv".into(),
        role: shieldwall::config::Role::Reader,
        digest,
        note: None,
        expires: None,
    });
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
    assert!(
        all_records(&store).await.is_empty(),
        "seeding is not audited"
    );
    let node = start(&checked, store.clone()).await;
    let c = client();
    let coll = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some("coalition-indicators"))
        .unwrap();
    let objects = format!("{}/coalition/collections/{}/objects/", node.base, coll.id);

    // A failed sign-in: recorded with the claimed name, never the password.
    let r = c
        .get(format!("{}/taxii2/", node.base))
        .basic_auth("ee-analyst", Some(PASSWORD))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A hostile user name (escape sequences, a forged line, 600 characters) and a huge header.
    let hostile = format!("\u{1b}[31m{}\nseq 1 admin sign-in ok", "A".repeat(600));
    let r = c
        .get(format!("{}/taxii2/", node.base))
        .basic_auth(&hostile, Some(PASSWORD))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let huge = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{PASSWORD}", "B".repeat(20_000)));
    let r = c
        .get(format!("{}/taxii2/", node.base))
        .header("Authorization", format!("Basic {huge}"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A bearer key that does not exist: its id only.
    let r = c
        .get(format!("{}/taxii2/", node.base))
        .bearer_auth(format!("sw_nokey_{PASSWORD}"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A sign-in and a read of RED objects: the producer's own, listed in one record.
    let (status, _, body) = get(&c, &format!("{objects}?limit=1000"), "ee-analyst").await;
    assert_eq!(body["more"], false);
    assert_eq!(status, 200);
    let red = TlpLevel::Red.marking_id();
    let red_ids: Vec<String> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["object_marking_refs"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x == red))
        })
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!red_ids.is_empty(), "ee-analyst sees its own RED objects");
    // By id.
    let (status, _, _) = get(&c, &format!("{objects}{}/", red_ids[0]), "ee-analyst").await;
    assert_eq!(status, 200);
    // Another member's reader: its own member's RED and everyone's AMBER+STRICT, not ee's RED.
    let (status, _, _) = get(&c, &format!("{objects}?limit=1000"), "nl-soc").await;
    assert_eq!(status, 200);

    // A key: one sign-in record for several requests, and no secret.
    for _ in 0..3 {
        let r = c
            .get(format!("{}/taxii2/", node.base))
            .bearer_auth(&token)
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // Attacker view: nothing of the trail over TAXII, whoever asks.
    for user in ["ee-analyst", "admin", "nl-soc"] {
        for path in [
            "/admin/audit",
            "/admin/audit/",
            "/coalition/collections/audit/objects/",
            "/coalition/audit/",
            "/taxii2/audit/",
        ] {
            let (status, _, body) = get(&c, &format!("{}{path}", node.base), user).await;
            assert_eq!(status, 404, "{user} {path}: {body}");
        }
        let r = c
            .post(format!(
                "{}/coalition/collections/audit/objects/",
                node.base
            ))
            .basic_auth(user, Some("demo"))
            .header("Accept", ACCEPT)
            .header("Content-Type", ACCEPT)
            .body(r#"{"objects":[]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{user} POST");
    }

    // An admin action and an export, from the CLI.
    common::ok(&sw(
        dir,
        &[
            "admin",
            "add-member",
            "auditor-test",
            "--name",
            "Audit test",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    let out = dir.join("export.json");
    common::ok(&sw(
        dir,
        &[
            "export",
            "--collection",
            "coalition-indicators",
            "--as",
            "cert-ee",
            "--out",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    ));

    let records = all_records(&store).await;
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(PASSWORD), "a password was recorded");
    let secret = token.rsplit_once('_').unwrap().1;
    assert!(!text.contains(secret), "a token was recorded");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.action == "sign-in" && r.actor == "key:feed")
            .count(),
        1
    );
    assert!(!text.contains(&huge[..100]));
    let failed: Vec<&audit::Record> = records
        .iter()
        .filter(|r| r.action == "sign-in-failed")
        .collect();
    assert_eq!(failed.len(), 4, "{failed:#?}");
    assert!(failed.iter().all(|r| r.actor == "anonymous"));
    assert_eq!(failed[0].target, "user:ee-analyst");
    assert!(failed[0].detail.contains("wrong password"));
    assert!(failed[0].detail.contains("127.0.0.1"));
    // The hostile name: bounded, on one line, no escape character.
    assert!(
        failed[1].target.chars().count() <= 5 + 64,
        "{}",
        failed[1].target
    );
    assert!(!failed[1].target.contains(['\n', '\u{1b}']));
    assert!(failed[1].detail.contains("unknown user"));
    assert_eq!(failed[2].target, "user:?");
    assert!(failed[2].detail.contains("malformed"));
    assert_eq!(failed[3].target, "key:nokey");
    assert!(
        records
            .iter()
            .all(|r| r.detail.len() <= 4 * audit::MAX_DETAIL)
    );
    assert!(
        records
            .iter()
            .any(|r| r.action == "sign-in" && r.actor == "ee-analyst" && r.outcome == "ok")
    );
    assert!(
        records
            .iter()
            .any(|r| r.action == "sign-in" && r.actor == "nl-soc")
    );
    let reads: Vec<&audit::Record> = records.iter().filter(|r| r.action == "read").collect();
    assert_eq!(reads.len(), 3, "{reads:#?}");
    assert!(reads[..2].iter().all(|r| r.actor == "ee-analyst"));
    assert_eq!(reads[2].actor, "nl-soc");
    assert!(
        reads[2].detail.contains("amber+strict="),
        "{}",
        reads[2].detail
    );
    assert!(
        !reads[2].detail.contains(red_ids[0].as_str()),
        "{}",
        reads[2].detail
    );
    assert!(reads[0].detail.contains("endpoint=objects"));
    for id in &red_ids {
        assert!(
            reads[0].detail.contains(id.as_str()),
            "{id} in {}",
            reads[0].detail
        );
    }
    assert!(reads[1].detail.contains("endpoint=object "));
    assert!(reads[1].detail.contains(red_ids[0].as_str()));
    assert!(records.iter().any(|r| r.action == "admin-add-member"
        && r.path == "admin"
        && r.target == "member:auditor-test"
        && r.actor.starts_with("cli:")));
    let export = records.iter().find(|r| r.action == "export").unwrap();
    assert!(export.detail.contains("as=cert-ee"));
    assert!(export.detail.contains(red_ids[0].as_str()));
    // `audit show` filters; `--json` is one record per line.
    let cfg = config.to_str().unwrap();
    let shown = common::ok(&sw(
        dir,
        &[
            "audit", "show", "--action", "read", "--json", "--config", cfg,
        ],
    ));
    assert_eq!(shown.lines().count(), 3);
    let first: Value = serde_json::from_str(shown.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"], "read");
    let shown = common::ok(&sw(
        dir,
        &["audit", "show", "--actor", "anonymous", "--config", cfg],
    ));
    assert_eq!(shown.lines().count(), 4, "{shown}");
    drop(node);

    let n = records.len() as i64;
    assert!(n >= 8, "{n} records");
    let (ok, out) = verify(dir, &config, None);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{n} records")), "{out}");
    let head = common::ok(&sw(dir, &["audit", "head", "--config", cfg]));
    let head = head.trim().to_owned();
    assert!(head.starts_with(&format!("{n}:")), "{head}");
    let (ok, out) = verify(dir, &config, Some(&head));
    assert!(ok, "{out}");
    let head_json: Value = serde_json::from_str(&common::ok(&sw(
        dir,
        &["audit", "head", "--json", "--config", cfg],
    )))
    .unwrap();
    assert_eq!(head_json["head"], head.as_str());

    // 1. A record's detail edited.
    let r3 = records[2].clone();
    tamper(
        url,
        &["UPDATE audit SET detail = 'nothing happened' WHERE seq = 3".to_owned()],
    )
    .await;
    let (ok, out) = verify(dir, &config, None);
    assert!(!ok && out.contains("record 3 was edited"), "{out}");
    tamper(
        url,
        &[format!(
            "UPDATE audit SET detail = {} WHERE seq = 3",
            sql_text(&r3.detail)
        )],
    )
    .await;
    assert!(verify(dir, &config, Some(&head)).0);

    // 2. A middle record deleted.
    let r4 = records[3].clone();
    tamper(url, &["DELETE FROM audit WHERE seq = 4".to_owned()]).await;
    let (ok, out) = verify(dir, &config, None);
    assert!(!ok && out.contains("record 4 was deleted"), "{out}");
    tamper(
        url,
        &[format!(
            "INSERT INTO audit (seq, time_us, actor, action, path, target, outcome, detail, prev_digest, digest) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            r4.seq,
            r4.time_us,
            sql_text(&r4.actor),
            sql_text(&r4.action),
            sql_text(&r4.path),
            sql_text(&r4.target),
            sql_text(&r4.outcome),
            sql_text(&r4.detail),
            sql_text(&r4.prev_digest),
            sql_text(&r4.digest)
        )],
    )
    .await;
    assert!(verify(dir, &config, Some(&head)).0);

    // 3. Two records' seq swapped.
    let swap = |a: i64, b: i64| {
        vec![
            format!("UPDATE audit SET seq = -1 WHERE seq = {a}"),
            format!("UPDATE audit SET seq = {a} WHERE seq = {b}"),
            format!("UPDATE audit SET seq = {b} WHERE seq = -1"),
        ]
    };
    tamper(url, &swap(2, 5)).await;
    let (ok, out) = verify(dir, &config, None);
    assert!(
        !ok && out.contains("record 2 was reordered: it was written as record 5"),
        "{out}"
    );
    assert!(
        out.contains("record 5 was reordered: it was written as record 2"),
        "{out}"
    );
    tamper(url, &swap(2, 5)).await;
    assert!(verify(dir, &config, Some(&head)).0);

    // 4. The last records deleted: only the exported head shows it.
    tamper(url, &[format!("DELETE FROM audit WHERE seq > {}", n - 2)]).await;
    let (ok, out) = verify(dir, &config, None);
    assert!(ok, "{out}");
    let (ok, out) = verify(dir, &config, Some(&head));
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "the chain was truncated: it ends at record {}",
            n - 2
        )),
        "{out}"
    );
    // JSON report names it too.
    let o = sw(
        dir,
        &[
            "audit", "verify", "--json", "--head", &head, "--config", cfg,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "truncated");
    // A malformed head is refused.
    let o = sw(
        dir,
        &["audit", "verify", "--head", "12:xyz", "--config", cfg],
    );
    assert!(!o.status.success());
    store.audit_last().await.unwrap();
    if let AnyStore::Postgres(pg) = store {
        pg.pool().close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    scenario(&format!("sqlite://{}", path.display()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_on_postgres() {
    let Some(db) = common::PgDb::create("audit trail on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    scenario(&db.url, dir.path()).await;
    db.drop_db(None).await;
}

/// Concurrent appenders on one PostgreSQL database (as several nodes would) never fork the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_keep_one_chain_on_postgres() {
    let Some(db) = common::PgDb::create("concurrent audit appends on PostgreSQL").await else {
        return;
    };
    let a = AnyStore::open(&db.url).await.unwrap();
    let b = AnyStore::open(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for (i, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for j in 0..25 {
                let e = [audit::Entry::new(
                    &format!("node{i}"),
                    "read",
                    "taxii",
                    &format!("n{j}"),
                    "ok",
                )];
                // Durable and committed-only appends take the same lock and extend one chain.
                if j % 2 == 0 {
                    s.audit_append(&e).await.unwrap();
                } else {
                    s.audit_append_committed(&e).await.unwrap();
                }
                if j % 10 == 0 {
                    s.audit_flush().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = all_records(&a).await;
    assert_eq!(records.len(), 100);
    let report = audit::verify(records, None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for s in [a, b] {
        if let AnyStore::Postgres(pg) = s {
            pg.pool().close().await;
        }
    }
    db.drop_db(None).await;
}
