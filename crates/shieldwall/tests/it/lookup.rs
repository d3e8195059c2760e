//! "Where else has this value appeared" (`GET /lookup/`, `shieldwall lookup`) over the demo
//! coalition on a real server on 127.0.0.1, on SQLite and PostgreSQL: a value in an object a
//! member may not see (a collection it cannot read, TLP:RED it is not a recipient of, a granular
//! RED part) is never returned to it, superseded versions no longer hit, revoked ones are marked,
//! addresses and networks find each other, IDN and case variants find the same object,
//! pathological queries are 400s; the index built at open for an older store gives the same
//! answers; and a randomized coalition compares every answer with a brute-force scan of what
//! each member may see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{self, client, start};
use serde_json::{Value, json};
use shieldwall::{
    coalition::Coalition,
    config::Role,
    demo,
    policy::{Principal, Pushdown, can_read},
    store::{AnyStore, AuditQuery, ListQuery, Store, VersionSelection, for_each_page},
};
use stix::tlp::TlpLevel;

const ACCEPT: &str = "application/taxii+json;version=2.1";

fn id(t: &str) -> String {
    format!("{t}--{}", uuid::Uuid::new_v4())
}

fn marking(tlp: Option<TlpLevel>) -> Value {
    match tlp {
        Some(l) => json!([l.marking_id()]),
        None => json!([]),
    }
}

fn indicator(id: &str, modified: &str, pattern: &str, tlp: Option<TlpLevel>) -> Value {
    let mut v = json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
        "modified": modified, "name": format!("lookup test {id}"), "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z", "object_marking_refs": marking(tlp)});
    if tlp.is_none()
        && let Some(m) = v.as_object_mut()
    {
        m.remove("object_marking_refs"); // unmarked: the node's default TLP
    }
    v
}

struct World {
    base: String,
    coalition: std::sync::Arc<Coalition>,
    store: AnyStore,
    c: reqwest::Client,
}

impl World {
    fn coll(&self, alias: &str) -> String {
        self.coalition
            .collections
            .iter()
            .find(|c| c.alias.as_deref() == Some(alias))
            .unwrap()
            .id
            .clone()
    }

    async fn post(&self, user: &str, alias: &str, objects: Vec<Value>) {
        let coll = self.coll(alias);
        let root = self
            .coalition
            .collection_by_id(&coll)
            .unwrap()
            .api_root
            .clone();
        let n = objects.len();
        let r = self
            .c
            .post(format!("{}/{root}/collections/{coll}/objects/", self.base))
            .basic_auth(user, Some("demo"))
            .header("Accept", ACCEPT)
            .header("Content-Type", ACCEPT)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success_count"], json!(n), "{body}");
    }

    async fn raw(&self, user: Option<&str>, query: &[(&str, &str)]) -> (u16, Value) {
        let mut url = reqwest::Url::parse(&format!("{}/lookup/", self.base)).unwrap();
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let mut r = self.c.get(url);
        if let Some(u) = user {
            r = r.basic_auth(u, Some("demo"));
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The hits of `value` for `user`: (id, where).
    async fn hits(&self, user: &str, value: &str) -> Vec<(String, String)> {
        let (status, body) = self
            .raw(Some(user), &[("value", value), ("limit", "1000")])
            .await;
        assert_eq!(status, 200, "{user} {value}: {body}");
        assert_eq!(body["classification"], "value", "{body}");
        assert_eq!(body["more"], false, "{body}");
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["id"].as_str().unwrap().to_owned(),
                    h["where"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn ids(&self, user: &str, value: &str) -> BTreeSet<String> {
        self.hits(user, value)
            .await
            .into_iter()
            .map(|h| h.0)
            .collect()
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// Counts the value index's rows, and can forget it (as in a store written before it existed).
async fn index_rows(url: &str, forget: bool) -> i64 {
    use sqlx::Connection;
    macro_rules! go {
        ($conn:expr) => {{
            let mut conn = $conn;
            if forget {
                sqlx::query("DELETE FROM value_index")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM settings WHERE key = 'value_index_v1'")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM observed_refs")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM settings WHERE key = 'observed_refs_v1'")
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM value_index")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            n
        }};
    }
    if url.starts_with("postgres") {
        go!(sqlx::PgConnection::connect(url).await.unwrap())
    } else {
        go!(sqlx::SqliteConnection::connect(url).await.unwrap())
    }
}

async fn scenario(url: &str, dir: &Path) {
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
    let node = start(&checked, store.clone()).await;
    let w = World {
        base: node.base.clone(),
        coalition: node.coalition.clone(),
        store: store.clone(),
        c: client(),
    };
    let t1 = "2026-02-01T00:00:00.000Z";
    let t2 = "2026-03-01T00:00:00.000Z";
    let (green, amber, red) = (
        Some(TlpLevel::Green),
        Some(TlpLevel::Amber),
        Some(TlpLevel::Red),
    );

    // AMBER in baltic-sharing (cert-pl cannot read it).
    let baltic = id("indicator");
    w.post(
        "ee-analyst",
        "baltic-sharing",
        vec![indicator(
            &baltic,
            t1,
            "[ipv4-addr:value = '192.0.2.77']",
            amber,
        )],
    )
    .await;
    // RED in coalition-indicators (cert-lv reads the collection but is no RED recipient).
    let secret = id("indicator");
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![indicator(
            &secret,
            t1,
            "[domain-name:value = 'Red-Secret.Example']",
            red,
        )],
    )
    .await;
    // GREEN with an IDN and a network; a granular RED part; a superseded and a revoked one.
    let green_net = id("indicator");
    let granular = id("indicator");
    let moved = id("indicator");
    let revoked = id("indicator");
    let mut g = indicator(
        &granular,
        t1,
        "[domain-name:value = 'granular.example']",
        green,
    );
    g["granular_markings"] =
        json!([{"marking_ref": TlpLevel::Red.marking_id(), "selectors": ["pattern"]}]);
    let mut r2 = indicator(
        &revoked,
        t2,
        "[domain-name:value = 'revoked.example']",
        green,
    );
    r2["revoked"] = json!(true);
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![
            indicator(
                &green_net,
                t1,
                "[domain-name:value = 'bücher.example'] OR [ipv4-addr:value = '203.0.113.0/24']",
                green,
            ),
            g,
            indicator(&moved, t1, "[url:value = 'http://old.example/x']", green),
            indicator(
                &revoked,
                t1,
                "[domain-name:value = 'revoked.example']",
                green,
            ),
        ],
    )
    .await;
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![
            indicator(
                &moved,
                t2,
                "[url:value = 'HTTP://New.Example:80/y#frag']",
                green,
            ),
            r2,
        ],
    )
    .await;
    // An SCO, the observed-data referring to it, a sighting of that; a CVE; a technique.
    let sco = "domain-name--3c5a7f0e-5d1e-5b7a-9a51-6f0f5b6c0001";
    let od = id("observed-data");
    let sighting = id("sighting");
    let vuln = id("vulnerability");
    let technique = id("attack-pattern");
    let gm = marking(green);
    w.post(
        "lv-analyst",
        "coalition-indicators",
        vec![
            json!({"type": "domain-name", "spec_version": "2.1", "id": sco, "value": "Observed.Example", "object_marking_refs": gm}),
            json!({"type": "observed-data", "spec_version": "2.1", "id": od, "created": t1, "modified": t1,
                "first_observed": t1, "last_observed": t1, "number_observed": 3, "object_refs": [sco], "object_marking_refs": gm}),
            json!({"type": "sighting", "spec_version": "2.1", "id": sighting, "created": t1, "modified": t1,
                "sighting_of_ref": green_net, "observed_data_refs": [od], "object_marking_refs": gm}),
            json!({"type": "vulnerability", "spec_version": "2.1", "id": vuln, "created": t1, "modified": t1,
                "name": "CVE-2024-3400", "external_references": [{"source_name": "cve", "external_id": "CVE-2024-3400"}], "object_marking_refs": gm}),
            json!({"type": "attack-pattern", "spec_version": "2.1", "id": technique, "created": t1, "modified": t1,
                "name": "Unauthorized Command Message", "external_references": [{"source_name": "mitre-ics-attack", "external_id": "T0855"}], "object_marking_refs": gm}),
        ],
    )
    .await;

    // Collections a member cannot read.
    assert_eq!(w.ids("lv-analyst", "192.0.2.77").await, set(&[&baltic]));
    assert_eq!(w.ids("lt-analyst", "192.0.2.0/24").await, set(&[&baltic]));
    assert!(w.ids("pl-analyst", "192.0.2.77").await.is_empty());
    assert!(w.ids("nl-soc", "192.0.2.0/24").await.is_empty());
    // TLP:RED: producer and recipients only.
    assert!(w.ids("lv-analyst", "red-secret.example").await.is_empty());
    assert!(w.ids("pl-analyst", "RED-SECRET.EXAMPLE.").await.is_empty());
    assert_eq!(
        w.ids("ee-analyst", "red-secret.example").await,
        set(&[&secret])
    );
    assert_eq!(w.ids("admin", "red-secret.example").await, set(&[&secret]));
    // A granular RED part makes the object RED.
    assert!(w.ids("lv-analyst", "granular.example").await.is_empty());
    let (_, body) = w
        .raw(Some("ee-analyst"), &[("value", "granular.example")])
        .await;
    assert_eq!(body["hits"][0]["tlp"], "red", "{body}");
    // Networks and addresses find each other; IDN and case variants.
    let hits = w.hits("pl-analyst", "203.0.113.77").await;
    // The indicator, and the sighting of it (after the direct hits).
    assert_eq!(
        hits,
        vec![
            (green_net.clone(), "pattern".to_owned()),
            (sighting.clone(), "sighting".to_owned())
        ]
    );
    let (_, body) = w
        .raw(Some("pl-analyst"), &[("value", "203.0.113.77")])
        .await;
    assert_eq!(body["hits"][0]["value"], "203.0.113.0/24", "{body}");
    assert_eq!(body["kind"], "ipv4");
    assert_eq!(
        w.ids("pl-analyst", "203.0.0.0/16").await,
        set(&[&green_net, &sighting])
    );
    assert!(w.ids("pl-analyst", "203.0.114.1").await.is_empty());
    for v in [
        "bücher.example",
        "BÜCHER.EXAMPLE.",
        "xn--bcher-kva.example",
        "Xn--Bcher-Kva.Example",
    ] {
        assert_eq!(
            w.ids("nl-analyst", v).await,
            set(&[&green_net, &sighting]),
            "{v}"
        );
    }
    // The latest version only: the old URL no longer hits, the new one does (canonical URL).
    assert!(w.ids("lv-analyst", "http://old.example/x").await.is_empty());
    assert_eq!(
        w.ids("lv-analyst", "http://new.example/y").await,
        set(&[&moved])
    );
    assert_eq!(
        w.ids("lv-analyst", "hxxp://NEW.example/y").await,
        set(&[&moved])
    );
    // Revoked: returned, marked.
    let (_, body) = w
        .raw(Some("lv-analyst"), &[("value", "revoked.example")])
        .await;
    assert_eq!(body["hits"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["hits"][0]["revoked"], true, "{body}");
    // The SCO, the observed data and the sighting of it.
    let mut found = w.hits("pl-analyst", "observed.example").await;
    found.sort();
    let mut want = vec![
        (sco.to_owned(), "sco".to_owned()),
        (od.clone(), "observed".to_owned()),
        (sighting.clone(), "sighting".to_owned()),
    ];
    want.sort();
    assert_eq!(found, want);
    assert_eq!(w.ids("nl-analyst", "cve-2024-3400").await, set(&[&vuln]));
    assert_eq!(w.ids("nl-analyst", "t0855").await, set(&[&technique]));
    // A limit below the hits: `more`.
    let (_, body) = w
        .raw(
            Some("pl-analyst"),
            &[("value", "observed.example"), ("limit", "1")],
        )
        .await;
    assert_eq!(body["hits"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["more"], true, "{body}");
    // An observed-data stored before the SCO it names: indexed with its value when the SCO
    // comes, in a later envelope.
    let late_sco = "domain-name--3c5a7f0e-5d1e-5b7a-9a51-6f0f5b6c0002";
    let early_od = id("observed-data");
    w.post(
        "lv-analyst",
        "coalition-indicators",
        vec![json!({"type": "observed-data", "spec_version": "2.1", "id": early_od, "created": t1, "modified": t1,
            "first_observed": t1, "last_observed": t1, "number_observed": 1, "object_refs": [late_sco], "object_marking_refs": gm})],
    )
    .await;
    assert!(w.ids("pl-analyst", "late.example").await.is_empty());
    w.post(
        "lv-analyst",
        "coalition-indicators",
        vec![json!({"type": "domain-name", "spec_version": "2.1", "id": late_sco, "value": "late.example", "object_marking_refs": gm})],
    )
    .await;
    let mut found = w.hits("pl-analyst", "late.example").await;
    found.sort();
    let mut want = vec![
        (late_sco.to_owned(), "sco".to_owned()),
        (early_od.clone(), "observed".to_owned()),
    ];
    want.sort();
    assert_eq!(found, want);
    // Words, and what is refused.
    let (status, body) = w.raw(Some("pl-analyst"), &[("value", "ransomware")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["classification"], "not-a-value", "{body}");
    let long = "a".repeat(5000);
    let refused: [(&[(&str, &str)], &str); 12] = [
        (&[], "no value"),
        (&[("value", "")], "empty"),
        (&[("value", long.as_str())], "too long"),
        (&[("value", "a\u{7}b.example")], "control character"),
        // What lies within a network is read whole: the whole address space is refused.
        (&[("value", "0.0.0.0/0")], "IPv4 network too wide"),
        (&[("value", "10.0.0.0/15")], "IPv4 network wider than /16"),
        (&[("value", "2001:db8::/16")], "IPv6 network too wide"),
        (&[("value", "1.2.3.4"), ("value", "1.2.3.5")], "twice"),
        (&[("value", "1.2.3.4"), ("limit", "0")], "limit 0"),
        (
            &[("value", "1.2.3.4"), ("limit", "1001")],
            "limit too large",
        ),
        (
            &[("value", "1.2.3.4"), ("limit", "x")],
            "limit not a number",
        ),
        (
            &[("value", "1.2.3.4"), ("match[type]", "indicator")],
            "unknown parameter",
        ),
    ];
    for (q, why) in refused {
        let (status, body) = w.raw(Some("pl-analyst"), q).await;
        assert_eq!(status, 400, "{why}: {body}");
        assert_eq!(body["http_status"], "400", "{why}: {body}");
    }
    let (status, body) = w.raw(None, &[("value", "192.0.2.77")]).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = w
        .raw(
            Some("pl-analyst"),
            &[("value", "x".repeat(20_000).as_str())],
        )
        .await;
    assert!(status == 400 || status == 414 || status == 431, "{status}");

    // RED and AMBER+STRICT hits are recorded in the audit trail, GREEN ones are not.
    let before = store
        .audit_records(&AuditQuery {
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(
        before
            .iter()
            .any(|r| r.actor == "ee-analyst" && r.detail.contains(&secret)),
        "{before:#?}"
    );
    assert!(!before.iter().any(|r| r.detail.contains(&green_net)));

    // The CLI: same answers, same policy.
    let cfg_path = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["lookup"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", cfg_path]);
        common::sw(dir, &all)
    };
    let o = run(&["192.0.2.77", "--as", "cert-pl", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::show(&o));
    let body: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(body["hits"], json!([]), "{body}");
    let o = run(&["192.0.2.77", "--as", "cert-lv", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::show(&o));
    let body: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(body["hits"][0]["id"], json!(baltic), "{body}");
    let o = run(&["red-secret.example", "--as", "cert-lv"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::show(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&secret));
    let o = run(&["203.0.113.9", "--as", "cert-pl"]);
    let out = common::ok(&o);
    assert!(
        out.contains(&green_net) && out.contains("203.0.113.0/24"),
        "{out}"
    );
    let o = run(&["ransomware", "--as", "cert-pl"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not a value"));
    let o = run(&[&long, "--as", "cert-pl"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::show(&o));

    let oracle = observed_data_oracle(&w, dir, cfg_path).await;

    randomized(&w, 0x5eed_0000 ^ u64::from(url.len() as u32)).await;

    // An older store: the index forgotten, then built again at open, with the same answers.
    drop(node);
    let rows = index_rows(url, false).await;
    assert!(rows > 10, "{rows}");
    if let AnyStore::Postgres(pg) = &store {
        pg.pool().close().await;
    }
    drop(store);
    assert_eq!(index_rows(url, true).await, 0);
    let store = AnyStore::open(url).await.unwrap();
    assert_eq!(index_rows(url, false).await, rows);
    // A store written when an observed-data was indexed with copies of the values of the SCOs
    // it names: the copies are dropped once at open, and the hidden SCO's value finds nothing.
    if let AnyStore::Postgres(pg) = &store {
        pg.pool().close().await;
    }
    drop(store);
    legacy_observed_copy(url, &oracle.0, "domain", &oracle.1).await;
    assert_eq!(index_rows(url, false).await, rows + 1);
    let store = AnyStore::open(url).await.unwrap();
    assert_eq!(index_rows(url, false).await, rows);
    let node = start(&checked, store.clone()).await;
    let w2 = World {
        base: node.base.clone(),
        coalition: node.coalition.clone(),
        store: store.clone(),
        c: client(),
    };
    assert_eq!(w2.ids("lv-analyst", "192.0.2.0/24").await, set(&[&baltic]));
    assert!(w2.ids("pl-analyst", "192.0.2.77").await.is_empty());
    assert_eq!(w2.hits("pl-analyst", "observed.example").await.len(), 3);
    assert_eq!(w2.hits("pl-analyst", "late.example").await.len(), 2);
    // (cert-pl's own indicator holding the guess is a hit; the observed-data is not.)
    assert!(!w2.ids("pl-analyst", &oracle.1).await.contains(&oracle.0));
    assert!(w2.ids("lv-analyst", &oracle.1).await.contains(&oracle.0));
    drop(node);
    if let AnyStore::Postgres(pg) = &store {
        pg.pool().close().await;
    }
}

/// Writes what a store indexed before lookups followed `observed_refs`: a row holding `value`
/// for observed-data `od` itself, and no record that such copies were dropped.
async fn legacy_observed_copy(url: &str, od: &str, kind: &str, value: &str) {
    use sqlx::Connection;
    macro_rules! go {
        ($conn:expr) => {{
            let mut conn = $conn;
            let vid: i64 = sqlx::query_scalar("SELECT vid FROM versions WHERE id = $1")
                .bind(od)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO value_index (kind, value, vid, place) VALUES ($1, $2, $3, 'observed')",
            )
            .bind(kind)
            .bind(value)
            .bind(vid)
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query("DELETE FROM settings WHERE key = 'value_index_observed_copies_dropped'")
                .execute(&mut conn)
                .await
                .unwrap();
        }};
    }
    if url.starts_with("postgres") {
        go!(sqlx::PgConnection::connect(url).await.unwrap())
    } else {
        go!(sqlx::SqliteConnection::connect(url).await.unwrap())
    }
}

/// An observed-data a member may see naming SCOs it may not see (random ids: in a collection it
/// cannot read, TLP:RED it is no recipient of) must not confirm a guessed value of those SCOs:
/// not over HTTP, not in the CLI, not in the console's search or "related by value" (asked
/// through an indicator of its own holding the guess), not through a sighting of the
/// observed-data. A member who may see both finds it; an SCO with a deterministic id the reader
/// may see still brings its observed-data. Returns the observed-data's id and the hidden value.
async fn observed_data_oracle(w: &World, dir: &Path, cfg_path: &str) -> (String, String) {
    let t1 = "2026-02-01T00:00:00.000Z";
    let gm = marking(Some(TlpLevel::Green));
    let hidden_sco = id("domain-name"); // random: says nothing of its value
    let red_sco = id("ipv4-addr");
    let (hidden_value, red_value) = ("hidden-sco.example", "198.18.7.7");
    // In baltic-sharing (cert-pl cannot read it).
    w.post(
        "ee-analyst",
        "baltic-sharing",
        vec![json!({"type": "domain-name", "spec_version": "2.1", "id": hidden_sco, "value": hidden_value,
            "object_marking_refs": marking(Some(TlpLevel::Amber))})],
    )
    .await;
    // TLP:RED in coalition-indicators (cert-lv reads it, and is no RED recipient there).
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![
            json!({"type": "ipv4-addr", "spec_version": "2.1", "id": red_sco, "value": red_value,
            "object_marking_refs": marking(Some(TlpLevel::Red))}),
        ],
    )
    .await;
    // A deterministic id, visible to everyone.
    let mut det = serde_json::Map::new();
    det.insert("type".into(), json!("domain-name"));
    det.insert("value".into(), json!("det-sco.example"));
    let det_sco = stix::id::deterministic_sco_id(&det).unwrap();
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![json!({"type": "domain-name", "spec_version": "2.1", "id": det_sco, "value": "det-sco.example", "object_marking_refs": gm})],
    )
    .await;
    // The observed-data (GREEN, readable by every member) and a sighting of it.
    let od = id("observed-data");
    let sighting = id("sighting");
    let target = id("indicator");
    w.post(
        "ee-analyst",
        "coalition-indicators",
        vec![
            indicator(&target, t1, "[url:value = 'http://oracle-target.example/']", Some(TlpLevel::Green)),
            json!({"type": "observed-data", "spec_version": "2.1", "id": od, "created": t1, "modified": t1,
                "first_observed": t1, "last_observed": t1, "number_observed": 1,
                "object_refs": [hidden_sco, red_sco, det_sco], "object_marking_refs": gm}),
            json!({"type": "sighting", "spec_version": "2.1", "id": sighting, "created": t1, "modified": t1,
                "sighting_of_ref": target, "observed_data_refs": [od], "object_marking_refs": gm}),
        ],
    )
    .await;
    // The hidden SCOs' guessed values find nothing for those who may not see them.
    for (user, value) in [
        ("pl-analyst", hidden_value),
        ("nl-analyst", hidden_value),
        ("lv-analyst", red_value),
        ("pl-analyst", red_value),
    ] {
        assert!(w.hits(user, value).await.is_empty(), "{user} {value}");
    }
    // Who may see both finds the SCO, the observed-data and its sighting.
    let want = set(&[&hidden_sco, &od, &sighting]);
    assert_eq!(w.ids("lv-analyst", hidden_value).await, want);
    assert_eq!(w.ids("ee-analyst", hidden_value).await, want);
    assert_eq!(
        w.ids("ee-analyst", red_value).await,
        set(&[&red_sco, &od, &sighting])
    );
    let mut found = w.hits("lv-analyst", hidden_value).await;
    found.sort();
    assert!(
        found.contains(&(od.clone(), "observed".to_owned())),
        "{found:?}"
    );
    // A deterministic id the reader may see still brings the observed-data (once, whichever of
    // the SCOs it names hold the value).
    assert_eq!(
        w.ids("pl-analyst", "DET-SCO.example").await,
        set(&[&det_sco, &od, &sighting])
    );
    assert_eq!(w.hits("pl-analyst", "det-sco.example").await.len(), 3);
    // An observed-data stored before the hidden SCO it names: still nothing for cert-pl.
    let late_hidden = id("domain-name");
    let od2 = id("observed-data");
    w.post(
        "lv-analyst",
        "coalition-indicators",
        vec![json!({"type": "observed-data", "spec_version": "2.1", "id": od2, "created": t1, "modified": t1,
            "first_observed": t1, "last_observed": t1, "number_observed": 1, "object_refs": [late_hidden], "object_marking_refs": gm})],
    )
    .await;
    w.post(
        "lv-analyst",
        "baltic-sharing",
        vec![json!({"type": "domain-name", "spec_version": "2.1", "id": late_hidden, "value": "late-hidden.example", "object_marking_refs": gm})],
    )
    .await;
    assert!(w.hits("pl-analyst", "late-hidden.example").await.is_empty());
    assert_eq!(
        w.ids("ee-analyst", "late-hidden.example").await,
        set(&[&late_hidden, &od2])
    );

    // The CLI, same answers.
    let run = |args: &[&str]| {
        let mut all = vec!["lookup"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", cfg_path]);
        common::sw(dir, &all)
    };
    let o = run(&[hidden_value, "--as", "cert-pl", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::show(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!out.contains(&od) && !out.contains(&hidden_sco), "{out}");
    let o = run(&[red_value, "--as", "cert-lv"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::show(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&od));
    let o = run(&[hidden_value, "--as", "cert-lv", "--json"]);
    let body: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: BTreeSet<&str> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["id"].as_str())
        .collect();
    assert!(
        ids.contains(od.as_str()) && ids.contains(hidden_sco.as_str()),
        "{body}"
    );

    // The console: the search box, and "related by value" on cert-pl's own indicator holding
    // the guessed value.
    let guess = id("indicator");
    w.post(
        "pl-analyst",
        "coalition-indicators",
        vec![indicator(
            &guess,
            t1,
            &format!("[domain-name:value = '{hidden_value}']"),
            Some(TlpLevel::Green),
        )],
    )
    .await;
    let mut pl = crate::console::Browser::new(&w.base);
    assert_eq!(pl.sign_in("pl-analyst", "demo", "/ui/").await.status, 303);
    let mut lv = crate::console::Browser::new(&w.base);
    assert_eq!(lv.sign_in("lv-analyst", "demo", "/ui/").await.status, 303);
    for path in [
        format!("/ui/search?q={hidden_value}"),
        format!("/ui/objects/{guess}"),
    ] {
        let a = pl.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        for hidden in [&od, &hidden_sco, &sighting] {
            assert!(!a.body.contains(hidden.as_str()), "{path} shows {hidden}");
        }
        let a = lv.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(a.body.contains(od.as_str()), "{path}: {}", a.body);
    }
    (od, hidden_value.to_owned())
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn draw(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.draw() % xs.len() as u64) as usize]
    }
}

/// Random indicators (random members, collections they may write, TLP levels, some superseded
/// by a version with other values), then every member's answer for every value of the pool
/// compared with a scan of what it may see (the latest visible version of each object).
async fn randomized(w: &World, seed: u64) {
    eprintln!("lookup randomized seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let addrs: Vec<String> = (0..4)
        .flat_map(|a| (1..5).map(move |b| format!("10.77.{a}.{b}")))
        .collect();
    let nets = [
        "10.77.0.0/24",
        "10.77.1.0/24",
        "10.77.0.0/16",
        "10.77.2.0/23",
    ];
    let domains: Vec<String> = (0..5).map(|i| format!("d{i}.rand.example")).collect();
    let writers: [(&str, &[&str]); 4] = [
        (
            "ee-analyst",
            &["coalition-indicators", "baltic-sharing", "energy-sector"],
        ),
        ("lv-analyst", &["coalition-indicators", "baltic-sharing"]),
        ("pl-analyst", &["coalition-indicators", "energy-sector"]),
        ("nl-analyst", &["coalition-indicators", "energy-sector"]),
    ];
    let tlps = [
        None,
        Some(TlpLevel::Clear),
        Some(TlpLevel::Green),
        Some(TlpLevel::Amber),
        Some(TlpLevel::AmberStrict),
        Some(TlpLevel::Red),
    ];
    let random_pattern = |rng: &mut Rng| {
        let a = rng.pick(&addrs).clone();
        let n = rng.pick(&nets).to_string();
        let d = rng.pick(&domains).clone();
        match rng.draw() % 3 {
            0 => format!("[ipv4-addr:value = '{a}'] OR [domain-name:value = '{d}']"),
            1 => format!("[ipv4-addr:value = '{n}']"),
            _ => format!("[domain-name:value = '{}']", d.to_uppercase()),
        }
    };
    for _ in 0..40 {
        let (user, colls) = *rng.pick(&writers);
        let coll = *rng.pick(colls);
        let iid = id("indicator");
        let tlp = *rng.pick(&tlps);
        let p1 = random_pattern(&mut rng);
        w.post(
            user,
            coll,
            vec![indicator(&iid, "2026-02-01T00:00:00.000Z", &p1, tlp)],
        )
        .await;
        if rng.draw().is_multiple_of(3) {
            let tlp2 = *rng.pick(&tlps);
            let p2 = random_pattern(&mut rng);
            w.post(
                user,
                coll,
                vec![indicator(&iid, "2026-03-01T00:00:00.000Z", &p2, tlp2)],
            )
            .await;
        }
    }
    let mut queries: Vec<String> = addrs.clone();
    queries.extend(nets.iter().map(|s| (*s).to_owned()));
    queries.extend(domains.iter().cloned());
    // The demo's own indicators: every TLP level and unmarked, from every member.
    queries.extend(
        [
            "10.77.3.200",
            "10.77.0.0/25",
            "198.51.100.10",
            "198.51.100.13",
            "198.51.100.0/24",
        ]
        .map(str::to_owned),
    );
    for (user, member, role) in demo::USERS {
        let principal = Principal {
            member: (*member).into(),
            role: *role,
            actor: (*user).into(),
        };
        let pushdown = Pushdown::for_principal(&principal, &w.coalition);
        // Everything the member may see: (id, collection, values).
        let mut seen: Vec<(String, String, Value)> = Vec::new();
        for c in w
            .coalition
            .collections
            .iter()
            .filter(|c| can_read(&principal, c))
        {
            let q = ListQuery::whole_collection(&c.id, pushdown.clone(), VersionSelection::last());
            for_each_page(&w.store, q, |records| {
                for r in records {
                    seen.push((
                        r.id.clone(),
                        c.id.clone(),
                        serde_json::from_str(r.json.as_deref().unwrap()).unwrap(),
                    ));
                }
                Ok::<(), shieldwall::store::StoreError>(())
            })
            .await
            .unwrap();
        }
        assert!(*role == Role::Admin || !seen.is_empty());
        for q in &queries {
            let query = matcher::occurrence::classify(q).unwrap();
            let mut expected = BTreeSet::new();
            for (oid, coll, obj) in &seen {
                let holds = shieldwall::ingest::index_values(obj)
                    .values
                    .iter()
                    .any(|o| {
                        if o.kind != query.kind() {
                            return false;
                        }
                        match &query {
                            matcher::occurrence::Query::Net(n) => {
                                match matcher::occurrence::classify(&o.value).unwrap() {
                                    matcher::occurrence::Query::Net(m) => {
                                        n.contains(&m) || m.contains(n)
                                    }
                                    _ => false,
                                }
                            }
                            matcher::occurrence::Query::Exact { value, .. } => &o.value == value,
                        }
                    });
                if holds {
                    expected.insert((oid.clone(), coll.clone()));
                }
            }
            let (status, body) = w.raw(Some(user), &[("value", q), ("limit", "1000")]).await;
            assert_eq!(status, 200, "{body}");
            let got: BTreeSet<(String, String)> = body["hits"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["where"] != "sighting")
                .map(|h| {
                    (
                        h["id"].as_str().unwrap().to_owned(),
                        h["collection"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(got, expected, "seed {seed:#x}, {user}, {q}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_follows_the_policy_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lookup.db").display());
    scenario(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_follows_the_policy_on_postgres() {
    let Some(db) = common::PgDb::create("lookup").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    scenario(&db.url, dir.path()).await;
    db.drop_db(None).await;
}
