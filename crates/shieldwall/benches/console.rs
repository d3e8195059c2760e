//! Console benchmark: the server time of every web console page kind and of searches, on a
//! store of many objects (1,000,000 by default), over real HTTP on 127.0.0.1 (the client's
//! latency on loopback, an upper bound of the server's time).
//!
//! ```text
//! crates/shieldwall/benches/console.sh [--objects 1000000] [--dir /tmp/consolebench] [--requests 40] [--postgres URL]
//! ```
//!
//! The store is the demo coalition (six members, three trust groups, four collections, the demo
//! data and the demo's coordination data: incidents, FIMI incidents with DISARM techniques,
//! assistance requests and offers), then copies of that coordination data with new ids, and
//! generated indicators, reports, relationships, sightings and malware, every member publishing
//! where it may write, under every TLP level (and unmarked), dated over the last 180 days. It is
//! loaded through `Store::add` in batches of 5,000 (the publishing rules are the demo's; the
//! generated objects are valid STIX) and kept in `--dir` (SQLite) or the database
//! (`--postgres postgres://USER@HOST:PORT/DB` uses `DB_consolebench`), so that a rerun with the
//! same `--objects` skips the load.
//!
//! Each page is asked `--requests` times in turn (a page stops after 20 s, with one answer at least),
//! signed in as `ee-analyst` (the federation page as `admin`); the first answer of each page is
//! reported on its own (`first`) and left out of p50/p95/p99. The server warms the members'
//! views in the background when it starts; the pages are measured once that is done (`first` is
//! then the first answer of a node that has been up a while) unless `--cold` is given (the first
//! answers are then those of pages asked while the warm-up runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use shieldwall::{
    coalition::Coalition,
    demo, ingest,
    ingest::Prepared,
    server,
    services::member::MemberService,
    store::{AddOutcome, AnyStore, ListQuery, Provenance, StatusRecord, Store, VersionSelection},
};
use stix::tlp::TlpLevel;

const NS: uuid::Uuid = uuid::Uuid::from_u128(0x000c_0e50_1e00_4000_8000_0000_0000_0001);
const DAY_US: i64 = 86_400_000_000;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ts(us: i64) -> String {
    let t = stix::Timestamp::from_unix(us.div_euclid(1_000_000), 0, 3).unwrap();
    t.to_string()
}

/// A small deterministic mixer.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

fn uid(prefix: &str, name: &str) -> String {
    format!("{prefix}--{}", uuid::Uuid::new_v5(&NS, name.as_bytes()))
}

const WORDS: &[&str] = &[
    "phishing",
    "ransomware",
    "botnet",
    "loader",
    "credential",
    "exfiltration",
    "scanner",
    "beacon",
    "dropper",
    "wiper",
    "espionage",
    "defacement",
];

/// Collections each member may write (the demo's grants).
fn writable(coalition: &Coalition, member: &str) -> Vec<String> {
    let p = shieldwall::policy::Principal {
        member: member.into(),
        role: shieldwall::config::Role::Contributor,
        actor: "bench".into(),
    };
    coalition
        .collections
        .iter()
        .filter(|c| shieldwall::policy::can_write(&p, c))
        .map(|c| c.id.clone())
        .collect()
}

fn marking(i: u64) -> Option<&'static str> {
    let levels = [
        (15, Some(TlpLevel::Clear)),
        (40, Some(TlpLevel::Green)),
        (25, Some(TlpLevel::Amber)),
        (5, Some(TlpLevel::AmberStrict)),
        (5, Some(TlpLevel::Red)),
        (10, None),
    ];
    let mut r = mix(i ^ 0xabc) % 100;
    for (w, l) in levels {
        if r < w {
            return l.map(|l| l.marking_id());
        }
        r -= w;
    }
    None
}

/// Generated object `i` of `n` by member `member` (identity `identity`): mostly indicators,
/// then reports, relationships, sightings and malware, dated over the last 180 days.
fn generated(i: u64, n: u64, now_us: i64, identity: &str) -> Value {
    let created_us = now_us - ((n - i) as i64) * (180 * DAY_US / n as i64) - 1_000_000;
    let c = ts(created_us);
    let ind = |k: u64| uid("indicator", &format!("g{k}"));
    let kind = i % 100;
    let word = WORDS[(mix(i) % WORDS.len() as u64) as usize];
    let mut o = if kind < 85 {
        let pattern = match i % 4 {
            0 => format!(
                "[ipv4-addr:value = '10.{}.{}.{}']",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            ),
            1 => format!("[domain-name:value = '{word}-{i}.example.net']"),
            2 => format!(
                "[url:value = 'https://cdn{}.example.org/{word}/{i}']",
                i % 97
            ),
            _ => format!(
                "[file:hashes.'SHA-256' = '{:016x}{:016x}{:016x}{:016x}']",
                mix(i),
                mix(i + 1),
                mix(i + 2),
                mix(i + 3)
            ),
        };
        json!({"type": "indicator", "spec_version": "2.1", "id": ind(i), "created": c, "modified": c,
            "name": format!("{word} infrastructure {i}"),
            "description": format!("Seen in a {word} campaign against the coalition."),
            "pattern": pattern, "pattern_type": "stix", "valid_from": c,
            "indicator_types": ["malicious-activity"], "labels": [word]})
    } else if kind < 89 {
        json!({"type": "report", "spec_version": "2.1", "id": uid("report", &format!("g{i}")), "created": c, "modified": c,
            "name": format!("Weekly {word} report {i}"), "published": c, "report_types": ["threat-report"],
            "object_refs": [ind(i - 1), ind(i - 2), ind(i - 3)]})
    } else if kind < 94 {
        json!({"type": "relationship", "spec_version": "2.1", "id": uid("relationship", &format!("g{i}")), "created": c, "modified": c,
            "relationship_type": "indicates", "source_ref": ind(i + 84 - kind),
            "target_ref": uid("malware", &format!("g{}", (i / 100) * 100 + 99))})
    } else if kind < 99 {
        json!({"type": "sighting", "spec_version": "2.1", "id": uid("sighting", &format!("g{i}")), "created": c, "modified": c,
            "first_seen": c, "last_seen": c, "count": 1 + mix(i) % 40,
            "sighting_of_ref": ind(i + 84 - kind), "where_sighted_refs": [identity]})
    } else {
        json!({"type": "malware", "spec_version": "2.1", "id": uid("malware", &format!("g{i}")), "created": c, "modified": c,
            "name": format!("{word} family {i}"), "is_family": true, "malware_types": [word_type(word)]})
    };
    let map = o.as_object_mut().unwrap();
    map.insert("created_by_ref".into(), json!(identity));
    if let Some(m) = marking(i) {
        map.insert("object_marking_refs".into(), json!([m]));
    }
    o
}

fn word_type(w: &str) -> &'static str {
    match w {
        "ransomware" => "ransomware",
        "botnet" => "bot",
        "wiper" => "wiper",
        "dropper" => "dropper",
        _ => "remote-access-trojan",
    }
}

/// The demo's coordination objects (incidents, FIMI incidents, victims, events, impacts, tasks,
/// requests, offers and their relationships): `(collection, producer member, object)`.
async fn coordination_templates(
    store: &AnyStore,
    coalition: &std::sync::Arc<Coalition>,
    demo_ids: &std::collections::HashSet<String>,
) -> Vec<(String, String, Value)> {
    let identities: HashMap<String, String> = coalition
        .members
        .iter()
        .map(|(k, m)| (m.identity.clone(), k.clone()))
        .collect();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for member in coalition.members.keys() {
        let m = MemberService::new(
            store.clone(),
            coalition.clone(),
            shieldwall::policy::Principal {
                member: member.clone(),
                role: shieldwall::config::Role::Contributor,
                actor: "bench".into(),
            },
            shieldwall::publish::PublishLimits::transient(),
        )
        .unwrap();
        for c in m.readable() {
            for o in m.view(std::slice::from_ref(&c), false).await.unwrap() {
                let id = o["id"].as_str().unwrap_or("").to_owned();
                let t = o["type"].as_str().unwrap_or("");
                let by = o["created_by_ref"].as_str().unwrap_or("");
                if demo_ids.contains(&id)
                    || matches!(t, "attack-pattern" | "marking-definition")
                    || t.starts_with("x-mitre")
                    || identities.contains_key(&id)
                    || identities.get(by) != Some(member)
                    || !seen.insert((c.id.clone(), id.clone()))
                {
                    continue;
                }
                out.push((c.id.clone(), member.clone(), o));
            }
        }
    }
    out
}

async fn add(store: &AnyStore, coll: &str, producer: &str, objects: &[Value]) {
    let prov = Provenance {
        source: "local".into(),
        actor: "bench".into(),
    };
    let status = |_: &[AddOutcome]| StatusRecord {
        id: uuid::Uuid::new_v4().to_string(),
        api_root: "coalition".into(),
        member: producer.into(),
        request_us: 0,
        expires_us: 0,
        body: "{}".into(),
    };
    let versions: Vec<_> = objects
        .iter()
        .map(
            |o| match ingest::to_new_version(o, producer, None).unwrap() {
                Prepared::Valid(v) => *v,
                Prepared::Invalid { message, .. } => panic!("{message}: {o}"),
            },
        )
        .collect();
    for o in store.add(coll, &prov, &versions, &status).await.unwrap() {
        assert!(o.is_stored(), "{o:?}");
    }
}

async fn load(store: &AnyStore, coalition: &std::sync::Arc<Coalition>, n: u64) {
    let t0 = Instant::now();
    let limits = shieldwall::publish::PublishLimits::transient();
    demo::seed(store, coalition, limits).await.unwrap();
    // The demo data's ids, so that the coordination data can be told apart.
    let mut demo_ids = std::collections::HashSet::new();
    for c in &coalition.collections {
        let q = ListQuery {
            collection: c.id.clone(),
            pushdown: shieldwall::policy::Pushdown {
                member: "hub".into(),
                readable: None,
                red_recipient_of: coalition.collections.iter().map(|c| c.id.clone()).collect(),
                default_tlp: coalition.default_tlp,
                egress: None,
            },
            ids: vec![],
            types: vec![],
            added_after_us: None,
            versions: VersionSelection::all(),
            spec_versions: vec![],
            after: None,
            limit: 10_000,
            with_json: false,
        };
        for r in store.list(&q).await.unwrap().records {
            demo_ids.insert(r.id);
        }
    }
    hub::demo_coord::seed(store, coalition).await.unwrap();
    let templates = coordination_templates(store, coalition, &demo_ids).await;
    let ids: Vec<String> = templates
        .iter()
        .map(|(_, _, o)| o["id"].as_str().unwrap().to_owned())
        .collect();
    eprintln!(
        "demo data and {} coordination objects in {:.1} s",
        templates.len(),
        t0.elapsed().as_secs_f64()
    );
    let now_us = shieldwall::timestamps::now_us();
    // 2% of the store: copies of the coordination data, spread over the last 180 days.
    let copies = (n / 50 / templates.len().max(1) as u64).max(1);
    let mut groups: HashMap<(String, String), Vec<Value>> = HashMap::new();
    for k in 0..copies {
        let at = ts(now_us - ((copies - k) as i64) * (180 * DAY_US / copies as i64));
        for (coll, member, o) in &templates {
            let mut text = o.to_string();
            for id in &ids {
                if text.contains(id.as_str()) {
                    let (prefix, _) = id.split_once("--").unwrap();
                    text = text.replace(id.as_str(), &uid(prefix, &format!("{id}/{k}")));
                }
            }
            let mut c: Value = serde_json::from_str(&text).unwrap();
            c["created"] = json!(at);
            c["modified"] = json!(at);
            let g = groups.entry((coll.clone(), member.clone())).or_default();
            g.push(c);
            if g.len() >= 5000 {
                add(store, coll, member, g).await;
                g.clear();
            }
        }
    }
    for ((coll, member), g) in &groups {
        if !g.is_empty() {
            add(store, coll, member, g).await;
        }
    }
    let coord_n = copies * templates.len() as u64;
    eprintln!(
        "{coord_n} coordination copies in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // The rest: generated objects, each member writing where it may.
    let members: Vec<(String, String, Vec<String>)> = coalition
        .members
        .iter()
        .map(|(k, m)| (k.clone(), m.identity.clone(), writable(coalition, k)))
        .collect();
    let rest = n.saturating_sub(coord_n);
    let mut groups: HashMap<(String, String), Vec<Value>> = HashMap::new();
    let mut done = 0u64;
    for i in 3..rest + 3 {
        let (member, identity, colls) = &members[(mix(i ^ 0x55) % members.len() as u64) as usize];
        let coll = &colls[(mix(i ^ 0x77) % colls.len() as u64) as usize];
        let g = groups.entry((coll.clone(), member.clone())).or_default();
        g.push(generated(i, rest + 3, now_us, identity));
        if g.len() >= 5000 {
            add(store, coll, member, g).await;
            done += g.len() as u64;
            g.clear();
            if done % 100_000 < 5000 {
                eprintln!("{done} generated in {:.1} s", t0.elapsed().as_secs_f64());
            }
        }
    }
    for ((coll, member), g) in &groups {
        if !g.is_empty() {
            add(store, coll, member, g).await;
        }
    }
    eprintln!("loaded in {:.1} s", t0.elapsed().as_secs_f64());
}

struct Client {
    c: reqwest::Client,
    base: String,
    cookie: String,
}

fn hidden(body: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let i = body.find(&key).unwrap() + key.len();
    let j = body[i..].find('"').unwrap() + i;
    body[i..j].replace("&amp;", "&")
}

impl Client {
    async fn sign_in(base: &str, user: &str) -> Client {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = c.get(format!("{base}/ui/sign-in")).send().await.unwrap();
        let mut cookie: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        let body = r.text().await.unwrap();
        let form = [
            ("csrf", hidden(&body, "csrf")),
            ("next", "/ui/".to_owned()),
            ("user", user.to_owned()),
            ("password", "demo".to_owned()),
        ];
        let r = c
            .post(format!("{base}/ui/sign-in"))
            .header("Cookie", cookie.join("; "))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "signed in");
        cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .filter(|v| !v.ends_with('='))
            .collect();
        Client {
            c,
            base: base.to_owned(),
            cookie: cookie.join("; "),
        }
    }

    async fn get(&self, path: &str) -> (u16, String, Duration) {
        let t = Instant::now();
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        (status, body, t.elapsed())
    }
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    shieldwall::tls::ensure_provider();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let n: u64 = arg(&args, "--objects").map_or(1_000_000, |s| s.parse().unwrap());
    let requests: usize = arg(&args, "--requests").map_or(40, |s| s.parse().unwrap());
    let dir = std::path::PathBuf::from(arg(&args, "--dir").unwrap_or("/tmp/consolebench".into()));
    let only = arg(&args, "--pages");
    let pg = arg(&args, "--postgres");
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = demo::config(&addr.to_string(), &dir).unwrap();
    let backend = if let Some(url) = &pg {
        let (base, db) = url.rsplit_once('/').unwrap();
        let db = format!("{db}_consolebench");
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&db)
            .fetch_optional(&mut c)
            .await
            .unwrap()
            .is_some();
        if !exists {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&mut c)
                .await
                .unwrap();
        }
        cfg.server.database = Some(format!("{base}/{db}"));
        "postgres"
    } else {
        "sqlite"
    };
    let checked = cfg.check("(console bench)").unwrap();
    let store = AnyStore::open(&checked.database).await.unwrap();
    let coalition = std::sync::Arc::new(Coalition::from_config(&checked));
    let marker = dir.join(format!("loaded-{backend}-{n}"));
    if !marker.exists() {
        load(&store, &coalition, n).await;
        std::fs::write(&marker, b"").unwrap();
    } else {
        eprintln!("store already loaded ({})", marker.display());
    }
    let counts = store.collection_counts().await.unwrap();
    let total: i64 = counts.iter().map(|(_, k)| k).sum();

    let state = server::app_state(&checked, store.clone(), format!("http://{addr}"))
        .await
        .unwrap();
    let console = state.console.clone();
    let (listener, _) = server::bind(addr).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let base = format!("http://{addr}");
    // The server warms the members' views in the background when it starts; unless `--cold`,
    // the pages are measured once it has finished (a node that has been up a while), and how
    // long it took is reported. With `--cold`, the first answers are those of pages asked while
    // it runs.
    if !args.iter().any(|a| a == "--cold") {
        let t0 = Instant::now();
        while !console.warm_up.state().finished && t0.elapsed() < Duration::from_secs(600) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!(
            "warm-up: {:?} (waited {:.1} s)",
            console.warm_up.state(),
            t0.elapsed().as_secs_f64()
        );
    }
    let ee = Client::sign_in(&base, "ee-analyst").await;
    let admin = Client::sign_in(&base, "admin").await;

    // Pages found by following links, as an analyst would.
    let baltic = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some("baltic-sharing"))
        .unwrap()
        .id
        .clone();
    let shared = coalition.collections[0].id.clone();
    // An incident, a request and a DISARM technique, found in the store (the pages that list
    // them may be the slow ones).
    let ee_pd = shieldwall::policy::Pushdown::for_principal(
        &shieldwall::policy::Principal {
            member: "cert-ee".into(),
            role: shieldwall::config::Role::Contributor,
            actor: "bench".into(),
        },
        &coalition,
    );
    let mut first_of = HashMap::new();
    for t in ["incident", "assistance-request", "attack-pattern"] {
        for c in &coalition.collections {
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: ee_pd.clone(),
                ids: vec![],
                types: vec![t.into()],
                added_after_us: None,
                versions: VersionSelection::last(),
                spec_versions: vec![],
                after: None,
                limit: 1,
                with_json: true,
            };
            if let Some(r) = store.list(&q).await.unwrap().records.first() {
                let o: Value = serde_json::from_str(r.json.as_deref().unwrap()).unwrap();
                first_of.entry(t).or_insert(o);
            }
        }
    }
    let incident = first_of
        .get("incident")
        .map(|o| format!("/ui/incidents/{}", o["id"].as_str().unwrap()));
    let request = first_of
        .get("assistance-request")
        .map(|o| format!("/ui/assist/{}", o["id"].as_str().unwrap()));
    let technique = first_of.get("attack-pattern").and_then(|o| {
        o["external_references"]
            .as_array()?
            .iter()
            .find(|x| x["source_name"] == "DISARM")
            .map(|x| format!("/ui/disarm/{}", x["external_id"].as_str().unwrap()))
    });
    // An indicator in the middle of the load, its value, and a deep browse position.
    let base_i = (n / 2) / 100 * 100; // kinds 0..85 of each hundred are indicators
    let mid = base_i + 2; // i % 4 == 2: a URL
    let ind_id = uid("indicator", &format!("g{mid}"));
    let ip_i = base_i + 4; // i % 4 == 0: an address
    let ind_v = format!(
        "10.{}.{}.{}",
        (ip_i >> 16) & 255,
        (ip_i >> 8) & 255,
        ip_i & 255
    );
    let dom_i = base_i + 5; // i % 4 == 1: a domain
    let dom_v = format!(
        "{}-{dom_i}.example.net",
        WORDS[(mix(dom_i) % WORDS.len() as u64) as usize]
    );
    let deep = {
        let mut pos = None;
        for c in &coalition.collections {
            let q = ListQuery {
                collection: c.id.clone(),
                pushdown: shieldwall::policy::Pushdown::for_principal(
                    &shieldwall::policy::Principal {
                        member: "cert-ee".into(),
                        role: shieldwall::config::Role::Contributor,
                        actor: "bench".into(),
                    },
                    &coalition,
                ),
                ids: vec![ind_id.clone()],
                types: vec![],
                added_after_us: None,
                versions: VersionSelection::last(),
                spec_versions: vec![],
                after: None,
                limit: 1,
                with_json: false,
            };
            if let Some(r) = store.list(&q).await.unwrap().records.first() {
                pos = Some((c.api_root.clone(), c.id.clone(), r.date_added_us, r.row));
            }
        }
        pos
    };
    let mut pages: Vec<(&str, Client, String)> = Vec::new();
    let ee_pages: Vec<(&str, String)> = vec![
        ("home 7 days", "/ui/".into()),
        ("home 30 days", "/ui/?days=30".into()),
        ("home 90 days", "/ui/?days=90".into()),
        ("collections", "/ui/collections".into()),
        (
            "browse first page",
            format!("/ui/collections/coalition/{shared}"),
        ),
        (
            "browse deep page",
            deep.as_ref().map_or(String::new(), |(root, c, d, r)| {
                format!("/ui/collections/{root}/{c}?after={d}.{r}")
            }),
        ),
        (
            "browse type filter",
            format!("/ui/collections/coalition/{baltic}?type=sighting"),
        ),
        ("object (indicator)", format!("/ui/objects/{ind_id}")),
        ("object diff", format!("/ui/objects/{ind_id}/diff")),
        (
            "object stix.json",
            format!("/ui/objects/{ind_id}/stix.json"),
        ),
        (
            "object values.txt",
            format!("/ui/objects/{ind_id}/values.txt"),
        ),
        (
            "search value (address)",
            format!("/ui/search?q={}", pct(&ind_v)),
        ),
        (
            "search value (domain)",
            format!("/ui/search?q={}", pct(&dom_v)),
        ),
        ("search word", "/ui/search?q=ransomware".into()),
        (
            "search two words, rare",
            "/ui/search?q=wiper+infrastructure+4242".into(),
        ),
        (
            "search type+tlp",
            "/ui/search?type=incident&tlp=amber".into(),
        ),
        (
            "search producer+word",
            "/ui/search?producer=cert-lv&q=beacon".into(),
        ),
        (
            "search since",
            "/ui/search?type=sighting&since=2026-11-01".into(),
        ),
        ("incidents", "/ui/incidents".into()),
        ("incident", incident.clone().unwrap_or_default()),
        ("DISARM matrix", "/ui/disarm".into()),
        ("DISARM technique", technique.clone().unwrap_or_default()),
        ("assistance board", "/ui/assist".into()),
        ("assistance request", request.clone().unwrap_or_default()),
    ];
    for (name, path) in ee_pages {
        if path.is_empty() {
            eprintln!("no link for {name}");
            continue;
        }
        let c = Client {
            c: ee.c.clone(),
            base: ee.base.clone(),
            cookie: ee.cookie.clone(),
        };
        pages.push((name, c, path));
    }
    for (name, path) in [
        ("federation (admin)", "/ui/federation"),
        ("home 7 days (admin)", "/ui/"),
    ] {
        let c = Client {
            c: admin.c.clone(),
            base: admin.base.clone(),
            cookie: admin.cookie.clone(),
        };
        pages.push((name, c, path.to_owned()));
    }
    println!(
        "console bench ({backend}, {total} entries, load average before: {})",
        loadavg()
    );
    println!(
        "| page | n | first ms | p50 ms | p95 ms | p99 ms | status |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for (name, c, path) in &pages {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let (status, _, first) = c.get(path).await;
        let mut times = Vec::new();
        let t0 = Instant::now();
        while times.len() < requests && (t0.elapsed() < Duration::from_secs(20) || times.is_empty())
        {
            let (s, _, d) = c.get(path).await;
            assert_eq!(s, status, "{name}: {path}");
            times.push(d.as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {status} |",
            times.len(),
            first.as_secs_f64() * 1000.0,
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
        );
    }
    // The home page after a write (the case a node written to every few seconds is in): one
    // new sighting by cert-ee, then the page; only the page is timed.
    if only
        .as_ref()
        .is_none_or(|o| "home after a write".contains(o.as_str()))
    {
        let coll = writable(&coalition, "cert-ee")
            .into_iter()
            .next()
            .expect("cert-ee writes somewhere");
        let identity = coalition.members["cert-ee"].identity.clone();
        let mut times = Vec::new();
        let mut status = 0;
        let t0 = Instant::now();
        let mut k = 0u64;
        while times.len() < requests && (t0.elapsed() < Duration::from_secs(60) || times.is_empty())
        {
            k += 1;
            let now_us = shieldwall::timestamps::now_us();
            let c = ts(now_us);
            let sighting = json!({"type": "sighting", "spec_version": "2.1",
                "id": uid("sighting", &format!("after-write-{now_us}-{k}")), "created": c, "modified": c,
                "first_seen": c, "last_seen": c, "count": 1, "sighting_of_ref": ind_id.clone(),
                "where_sighted_refs": [identity.clone()], "created_by_ref": identity.clone()});
            add(&store, &coll, "cert-ee", &[sighting]).await;
            let (s, _, d) = ee.get("/ui/").await;
            status = s;
            times.push(d.as_secs_f64() * 1000.0);
        }
        let first = times[0];
        let mut rest: Vec<f64> = times[1..].to_vec();
        rest.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if rest.is_empty() {
            rest.push(first);
        }
        println!(
            "| home 7 days, after a write | {} | {first:.1} | {:.1} | {:.1} | {:.1} | {status} |",
            rest.len(),
            percentile(&rest, 0.5),
            percentile(&rest, 0.95),
            percentile(&rest, 0.99),
        );
    }
    // The coordination pages right after a write (the cold case on a node written to every few
    // seconds): before each request, cert-ee adds an indicator and a relationship from the
    // incident to it (not timed).
    let ee_identity = coalition.members["cert-ee"].identity.clone();
    let ee_coll = writable(&coalition, "cert-ee")
        .into_iter()
        .next()
        .expect("cert-ee writes somewhere");
    let from = first_of
        .get("incident")
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .unwrap_or_default();
    let mut written = 0u64;
    for (name, c, path) in &pages {
        let coordination = matches!(
            *name,
            "incidents"
                | "incident"
                | "DISARM matrix"
                | "DISARM technique"
                | "assistance board"
                | "assistance request"
        );
        if !coordination || only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let mut times = Vec::new();
        let t0 = Instant::now();
        let mut status = 0;
        while times.len() < requests && (t0.elapsed() < Duration::from_secs(30) || times.is_empty())
        {
            written += 1;
            let now = ts(shieldwall::timestamps::now_us());
            let ind = format!("indicator--{}", uuid::Uuid::new_v4());
            add(
                &store,
                &ee_coll,
                "cert-ee",
                &[
                    json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": now,
                        "modified": now, "name": format!("written during the bench {written}"),
                        "pattern": format!("[domain-name:value = 'w{written}.bench.example']"),
                        "pattern_type": "stix", "valid_from": now, "created_by_ref": ee_identity,
                        "object_marking_refs": [TlpLevel::Green.marking_id()]}),
                    json!({"type": "relationship", "spec_version": "2.1",
                        "id": format!("relationship--{}", uuid::Uuid::new_v4()), "created": now,
                        "modified": now, "relationship_type": "related-to", "source_ref": from,
                        "target_ref": ind, "created_by_ref": ee_identity,
                        "object_marking_refs": [TlpLevel::Green.marking_id()]}),
                ],
            )
            .await;
            let (s, _, d) = c.get(path).await;
            status = s;
            times.push(d.as_secs_f64() * 1000.0);
        }
        let first = times[0];
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| {name}, after a write | {} | {:.1} | {:.1} | {:.1} | {:.1} | {status} |",
            times.len(),
            first,
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
        );
    }
    println!("load average after: {}", loadavg());
    let _ = stop.send(());
    let _ = task.await;
}
