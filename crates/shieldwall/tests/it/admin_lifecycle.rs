//! The administration lifecycle end to end, through the CLI (`shieldwall admin member|user|key|…`)
//! and the HTTP admin API, on real `shieldwall serve` processes over SQLite (one node) and
//! PostgreSQL (three nodes on one database): add a member, a user and keys, use them, disable
//! the user, remove a signed-in user, revoke, rotate and let a key expire — each refused on EVERY
//! node within 1 s of the change (measured by polling each node with that bound); anonymous and
//! non-admin callers on every admin route; forged and oversized bodies; the OpenAPI document
//! validated and used by a generated client; no secret in the audit trail.
//!
//! `three_nodes_on_one_postgres`: `next` cursors from one node used on the others, and concurrent
//! POSTs from several clients to different nodes, counted against what was acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    common::{self, ACCEPT, SHARED},
    nodes,
};

/// The requirement: a change is in force on every node within this.
const BOUND: Duration = Duration::from_secs(1);

const ADMIN_KEY: &str = "root";
const READER_KEY: &str = "reader";

struct Cluster {
    dir: PathBuf,
    config: PathBuf,
    nodes: Vec<(Child, String)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (c, _) in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Cluster {
    fn start(dir: &Path, database: Option<&str>, n: usize) -> Cluster {
        let extra = database.map_or(String::new(), |d| format!("database = \"{d}\"\n"));
        let config = common::write_grid_config(dir, &extra);
        let mut text = std::fs::read_to_string(&config).unwrap();
        for (id, member, role) in [(ADMIN_KEY, "ma", "admin"), (READER_KEY, "mc", "reader")] {
            text.push_str(&format!(
                "\n[[api_keys]]\nid = \"{id}\"\nmember = \"{member}\"\nrole = \"{role}\"\ndigest = \"{}\"\n",
                nodes::digest(id)
            ));
        }
        std::fs::write(&config, text).unwrap();
        let nodes = (0..n)
            .map(|_| {
                nodes::serve_child(
                    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
                        .args(["serve", "--config"])
                        .arg(&config)
                        .env("SHIELDWALL_LOG", "warn"),
                )
            })
            .collect();
        Cluster {
            dir: dir.to_owned(),
            config,
            nodes,
        }
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|(_, u)| u.clone()).collect()
    }

    /// `shieldwall admin ARGS --config …`, its standard output.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut all: Vec<&str> = vec!["admin"];
        all.extend_from_slice(args);
        let cfg = self.config.to_str().unwrap();
        all.extend_from_slice(&["--config", cfg]);
        let o = common::sw_stdin(&self.dir, &all, stdin.map(str::as_bytes));
        common::ok(&o)
    }
}

#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}

fn with(rb: reqwest::RequestBuilder, cred: Cred<'_>) -> reqwest::RequestBuilder {
    match cred {
        Cred::None => rb,
        Cred::Basic(u, p) => rb.basic_auth(u, Some(p)),
        Cred::Bearer(t) => rb.bearer_auth(t),
    }
}

async fn discovery(c: &reqwest::Client, base: &str, cred: Cred<'_>) -> u16 {
    with(c.get(format!("{base}/taxii2/")), cred)
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn api(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = with(c.request(method, url), cred);
    if let Some(b) = body {
        rb = rb
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn admin() -> String {
    nodes::token(ADMIN_KEY)
}

/// Waits until every node answers discovery with `want` for `cred`; returns the slowest node's
/// time since `since`, failing when any node takes longer than `bound`.
async fn in_force_everywhere(
    c: &reqwest::Client,
    urls: &[String],
    cred: Cred<'_>,
    want: u16,
    since: Instant,
    bound: Duration,
    what: &str,
) -> Duration {
    let mut slowest = Duration::ZERO;
    if matches!(cred, Cred::Basic(..)) && want == 200 {
        // Failed password checks are throttled per user and address (5, then one per 12 s):
        // a password that is to start working is tried once per node, when the bound is up.
        tokio::time::sleep(bound.saturating_sub(since.elapsed())).await;
        for url in urls {
            let got = discovery(c, url, cred).await;
            assert_eq!(
                got,
                want,
                "{what}: {url} answers {got} {:?} after the change",
                since.elapsed()
            );
        }
        println!(
            "{what}: in force on {} node(s) within {bound:?}",
            urls.len()
        );
        return bound;
    }
    for url in urls {
        loop {
            let got = discovery(c, url, cred).await;
            let elapsed = since.elapsed();
            if got == want {
                slowest = slowest.max(elapsed);
                break;
            }
            assert!(
                elapsed <= bound,
                "{what}: {url} still answers {got} (not {want}) {elapsed:?} after the change"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "{what}: in force on {} node(s) after {slowest:?}",
        urls.len()
    );
    assert!(slowest <= bound, "{what}: {slowest:?} > {bound:?}");
    slowest
}

async fn lifecycle(dir: &Path, database: Option<&str>, n: usize) {
    let cluster = Cluster::start(dir, database, n);
    let urls = cluster.urls();
    let c = common::client();
    let root = admin();
    let root = Cred::Bearer(&root);
    let a = &urls[0];
    let last = &urls[urls.len() - 1];

    // A member through the CLI, seen by the API of every node.
    let out = cluster.cli(
        &["member", "add", "md", "--name", "Member D", "--json"],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["member"]["identity"]
            .as_str()
            .unwrap()
            .starts_with("identity--")
    );
    for url in &urls {
        let (code, v) = api(
            &c,
            reqwest::Method::GET,
            &format!("{url}/admin/members"),
            root,
            None,
        )
        .await;
        assert_eq!(code, 200, "{v}");
        assert!(
            v["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == "md"),
            "{v}"
        );
    }

    // A collection for md through the API; a user through the API, a key through the CLI.
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/collections"),
        root,
        Some(json!({"title": "D's", "alias": "dees", "read": ["md"], "write": ["md"]})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let coll = v["collection"]["id"].as_str().unwrap().to_owned();
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/users"),
        root,
        Some(json!({"name": "dave", "member": "md", "role": "contributor", "password": "dave-s3cret-pass"})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let dave = Cred::Basic("dave", "dave-s3cret-pass");
    in_force_everywhere(&c, &urls, dave, 200, Instant::now(), BOUND, "new user").await;
    let issued: Value = serde_json::from_str(&cluster.cli(
        &[
            "key",
            "issue",
            "dkey",
            "--member",
            "md",
            "--role",
            "contributor",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let t0 = Instant::now();
    let dkey = issued["token"].as_str().unwrap().to_owned();
    in_force_everywhere(&c, &urls, Cred::Bearer(&dkey), 200, t0, BOUND, "new key").await;

    // Use them: dave writes into the new collection on the first node, the key reads it on the last.
    let obj = json!({"type": "indicator", "spec_version": "2.1",
        "id": "indicator--0000000d-0000-4000-8000-000000000001",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'admin.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"});
    let r = with(c.post(format!("{a}/hub/collections/{coll}/objects/")), dave)
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({"objects": [obj]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = with(
        c.get(format!("{last}/hub/collections/{coll}/objects/")),
        Cred::Bearer(&dkey),
    )
    .header("Accept", ACCEPT)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["objects"].as_array().unwrap().len(), 1, "{page}");

    // Disable dave (CLI): his cached credentials stop working on every node.
    // Measured from when the command returns (its change is committed before it prints).
    cluster.cli(&["user", "disable", "dave"], None);
    let t0 = Instant::now();
    in_force_everywhere(&c, &urls, dave, 401, t0, BOUND, "disabled user").await;
    cluster.cli(&["user", "enable", "dave"], None);
    let t0 = Instant::now();
    in_force_everywhere(&c, &urls, dave, 200, t0, BOUND, "enabled user").await;

    // Reset the password (API): the old one refused, the new one works.
    let t0 = Instant::now();
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{last}/admin/users/dave/password"),
        root,
        Some(json!({"password": "dave-new-passphrase"})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    in_force_everywhere(&c, &urls, dave, 401, t0, BOUND, "old password").await;
    in_force_everywhere(
        &c,
        &urls,
        Cred::Basic("dave", "dave-new-passphrase"),
        200,
        t0,
        BOUND,
        "new password",
    )
    .await;

    // A removed user's cached credentials do not keep working.
    let dave = Cred::Basic("dave", "dave-new-passphrase");
    for url in &urls {
        assert_eq!(discovery(&c, url, dave).await, 200);
    }
    let t0 = Instant::now();
    let (code, _) = api(
        &c,
        reqwest::Method::DELETE,
        &format!("{a}/admin/users/dave"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    in_force_everywhere(&c, &urls, dave, 401, t0, BOUND, "removed user").await;

    // Revoke a key (API) on one node: refused on every node.
    let t0 = Instant::now();
    let (code, _) = api(
        &c,
        reqwest::Method::POST,
        &format!("{last}/admin/keys/dkey/revoke"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&dkey),
        401,
        t0,
        BOUND,
        "revoked key",
    )
    .await;

    // Rotate (CLI): the old token refused, the new one works, everywhere.
    let issued: Value = serde_json::from_str(&cluster.cli(
        &[
            "key", "issue", "rkey", "--member", "md", "--role", "reader", "--json",
        ],
        None,
    ))
    .unwrap();
    let old = issued["token"].as_str().unwrap().to_owned();
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&old),
        200,
        Instant::now(),
        BOUND,
        "issued key",
    )
    .await;
    let rotated: Value =
        serde_json::from_str(&cluster.cli(&["key", "rotate", "rkey", "--json"], None)).unwrap();
    let t0 = Instant::now();
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&old),
        401,
        t0,
        BOUND,
        "rotated-out token",
    )
    .await;
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&new),
        200,
        t0,
        BOUND,
        "rotated-in token",
    )
    .await;

    // An expiring key: works, then refused once its time is past (no change, no reload).
    let expires = shieldwall::timestamps::format_us(shieldwall::timestamps::now_us() + 2_000_000);
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/keys"),
        root,
        Some(json!({"id": "ekey", "member": "md", "role": "reader", "expires": expires})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let ekey = v["token"].as_str().unwrap().to_owned();
    let t0 = Instant::now();
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&ekey),
        200,
        t0,
        BOUND,
        "expiring key",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(t0.elapsed())).await;
    for url in &urls {
        assert_eq!(
            discovery(&c, url, Cred::Bearer(&ekey)).await,
            401,
            "expired key on {url}"
        );
    }
    let (_, keys) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/keys"),
        root,
        None,
    )
    .await;
    let k = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "ekey")
        .unwrap();
    assert_eq!(k["expired"], true, "{k}");

    // Anonymous → 401, a non-admin key or user → 403, on every admin route of the document.
    let (code, doc) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/openapi.json"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let reader = nodes::token(READER_KEY);
    let (code, _) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/users"),
        root,
        Some(json!({"name": "carl", "member": "mc", "role": "contributor", "password": "carl-s3cret-pass"})),
    )
    .await;
    assert_eq!(code, 201);
    let carl = Cred::Basic("carl", "carl-s3cret-pass");
    in_force_everywhere(&c, &urls, carl, 200, Instant::now(), BOUND, "contributor").await;
    let mut routes = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let path = path.replace("{name}", "carl").replace("{id}", READER_KEY);
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == reqwest::Method::POST).then(|| json!({}));
            for (cred, want) in [
                (Cred::None, 401),
                (Cred::Bearer(&reader), 403),
                (carl, 403),
                (Cred::Bearer("sw_root_forged"), 401),
            ] {
                let (code, v) =
                    api(&c, m.clone(), &format!("{last}{path}"), cred, body.clone()).await;
                assert_eq!(code, want, "{method} {path}: {v}");
                assert_eq!(
                    v["http_status"],
                    want.to_string(),
                    "a TAXII error resource: {v}"
                );
            }
            routes += 1;
        }
    }
    assert!(routes >= 20, "{routes}");
    for (cred, want) in [(Cred::None, 401), (Cred::Bearer(&reader), 403)] {
        let (code, _) = api(
            &c,
            reqwest::Method::GET,
            &format!("{a}/admin/sync"),
            cred,
            None,
        )
        .await;
        assert_eq!(code, want, "/admin/sync");
    }
    // carl was not changed by any of that.
    assert_eq!(discovery(&c, a, carl).await, 200);

    // Forged and oversized bodies: clean 400 (415 for another media type), nothing changed.
    let (_, before) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/state"),
        root,
        None,
    )
    .await;
    let url = format!("{a}/admin/users");
    for (body, why) in [
        ("{\"name\": \"x\"}".to_owned(), "missing fields"),
        ("{\"name\":\"x\",\"member\":\"ma\",\"role\":\"root\",\"password\":\"long-enough-1\"}".to_owned(), "unknown role"),
        ("{\"name\":\"x\",\"member\":\"ma\",\"role\":\"reader\",\"password\":\"long-enough-1\",\"admin\":true}".to_owned(), "unknown field"),
        ("{\"name\":\"x\",\"name\":\"y\",\"member\":\"ma\",\"role\":\"reader\",\"password\":\"long-enough-1\"}".to_owned(), "duplicate field"),
        ("{\"name\":\"x\",\"member\":\"ma\",\"role\":\"reader\",\"password\":\"password123\"}".to_owned(), "common password"),
        ("{\"name\":\"x\",\"member\":\"ma\",\"role\":\"reader\",\"password\":\"short\"}".to_owned(), "short password"),
        ("{\"name\":\"x:y\",\"member\":\"ma\",\"role\":\"reader\",\"password\":\"long-enough-1\"}".to_owned(), "bad name"),
        ("{\"name\":\"x\",\"member\":\"nobody\",\"role\":\"reader\",\"password\":\"long-enough-1\"}".to_owned(), "no member"),
        ("[1,2,3]".to_owned(), "not an object"),
        ("{\"name\": ".to_owned(), "truncated"),
        (format!("{{\"name\":\"{}\"}}", "x".repeat(100_000)), "oversized"),
        ("\u{feff}{}".to_owned(), "byte-order mark"),
    ] {
        let r = c
            .post(&url)
            .bearer_auth(admin())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(code, 400, "{why}: {v}");
        assert_eq!(v["http_status"], "400", "{why}: {v}");
    }
    let r = c
        .post(&url)
        .bearer_auth(admin())
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let (code, _) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/keys"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let r = c
        .get(format!("{a}/admin/keys"))
        .bearer_auth(admin())
        .header("Cookie", "session=whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "cookies are refused");
    for (method, path, body, want) in [
        (
            reqwest::Method::POST,
            "/admin/users/nobody/disable",
            None,
            404,
        ),
        (reqwest::Method::POST, "/admin/keys/nokey/rotate", None, 404),
        (reqwest::Method::DELETE, "/admin/peers/nopeer", None, 404),
        (reqwest::Method::POST, "/admin/keys/dkey/rotate", None, 409),
        (
            reqwest::Method::POST,
            "/admin/members",
            Some(json!({"id": "md", "name": "again"})),
            409,
        ),
        (
            reqwest::Method::POST,
            "/admin/keys",
            Some(json!({"id": "zz", "member": "md", "role": "reader", "expires": "soon"})),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/peers",
            Some(
                json!({"name": "p", "url": "http://127.0.0.1:1", "api_root": "hub", "member": "mb", "token": "in-clear"}),
            ),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/collections",
            Some(json!({"title": "t", "read": ["ghost"]})),
            400,
        ),
    ] {
        let (code, v) = api(&c, method, &format!("{a}{path}"), root, body).await;
        assert_eq!(code, want, "{path}: {v}");
    }
    let (_, after) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/state"),
        root,
        None,
    )
    .await;
    assert_eq!(before, after, "a refused change changes nothing");

    // Peers: add, list (no secret shown), remove.
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/peers"),
        root,
        Some(json!({"name": "far", "url": "https://far.example:8443", "api_root": "hub", "member": "mb", "token_env": "FAR_TOKEN"})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let listed = cluster.cli(&["peer", "list", "--json"], None);
    assert!(listed.contains("far.example"), "{listed}");
    let (code, _) = api(
        &c,
        reqwest::Method::DELETE,
        &format!("{a}/admin/peers/far"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let out = cluster.cli(
        &[
            "trust-group",
            "add",
            "dg",
            "--member",
            "md",
            "--member",
            "ma",
        ],
        None,
    );
    assert!(out.contains("dg"), "{out}");
    let tg = cluster.cli(&["trust-group", "list", "--json"], None);
    assert!(tg.contains("\"dg\""), "{tg}");

    // The generated client: the document validates as OpenAPI 3.1 and operations called by
    // their operationId answer what the document says.
    if let Some(python) = testenv::python("admin API OpenAPI client") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/admin_openapi_client.py");
        let o = Command::new(python)
            .arg(script)
            .arg(last)
            .arg(admin())
            .arg(format!("{n}"))
            .output()
            .unwrap();
        let out = common::ok(&o);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["key_status"], 200, "{v}");
        assert!(v["calls"].as_array().unwrap().len() >= 8, "{v}");
    }

    // The trail: every change recorded, with no secret in it.
    let trail = common::ok(&common::sw(
        &cluster.dir,
        &[
            "audit",
            "show",
            "--json",
            "--config",
            cluster.config.to_str().unwrap(),
        ],
    ));
    for action in [
        "admin-add-member",
        "admin-add-user",
        "admin-add-key",
        "admin-disable-user",
        "admin-enable-user",
        "admin-reset-password",
        "admin-remove-user",
        "admin-revoke-key",
        "admin-rotate-key",
        "admin-add-collection",
        "admin-add-peer",
        "admin-remove-peer",
        "admin-add-trust-group",
    ] {
        assert!(trail.contains(action), "{action} missing from the trail");
    }
    assert!(trail.contains("\"refused\""), "refusals are recorded");
    for secret in [
        "dave-s3cret-pass",
        "dave-new-passphrase",
        "carl-s3cret-pass",
        "password123",
        dkey.as_str(),
        old.as_str(),
        new.as_str(),
        ekey.as_str(),
        "$argon2",
    ] {
        assert!(!trail.contains(secret), "a secret in the trail: {secret}");
    }
    let verify = common::sw(
        &cluster.dir,
        &[
            "audit",
            "verify",
            "--config",
            cluster.config.to_str().unwrap(),
        ],
    );
    common::ok(&verify);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle(dir.path(), None, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_on_three_postgres_nodes() {
    let Some(db) = common::PgDb::create("admin lifecycle on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    lifecycle(dir.path(), Some(&db.url), 3).await;
    db.drop_db(None).await;
}

fn object(client: usize, n: usize) -> Value {
    json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{client:08x}-0000-4000-8000-{n:012x}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": format!("[ipv4-addr:value = '10.0.{client}.{n}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"})
}

/// Three `serve` processes on one PostgreSQL database behind a round-robin client.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_postgres() {
    let Some(db) = common::PgDb::create("three nodes on one PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), Some(&db.url), 3);
    let urls = cluster.urls();
    let c = common::client();
    let root = admin();
    let objects_url = |base: &str| format!("{base}/hub/collections/{SHARED}/objects/");

    // Concurrent POSTs: 6 clients, each to its own node in turn, 25 envelopes of 2 objects.
    const CLIENTS: usize = 6;
    const ENVELOPES: usize = 25;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (c, urls, root) = (c.clone(), urls.clone(), root.clone());
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for e in 0..ENVELOPES {
                let base = &urls[(client + e) % urls.len()];
                let objs = vec![object(client, 2 * e), object(client, 2 * e + 1)];
                let r = c
                    .post(format!("{base}/hub/collections/{SHARED}/objects/"))
                    .bearer_auth(&root)
                    .header("Accept", ACCEPT)
                    .header("Content-Type", ACCEPT)
                    .body(json!({"objects": objs}).to_string())
                    .send()
                    .await
                    .unwrap();
                if r.status() == 202 {
                    let status: Value = r.json().await.unwrap();
                    for s in status["successes"].as_array().into_iter().flatten() {
                        acknowledged.push(s["id"].as_str().unwrap().to_owned());
                    }
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = std::collections::BTreeSet::new();
    let mut acks = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            acks += 1;
            acknowledged.insert(id);
        }
    }
    assert_eq!(acks, CLIENTS * ENVELOPES * 2, "every POST acknowledged");
    assert_eq!(acknowledged.len(), acks, "no id acknowledged twice");

    // Page through the collection with limit 7, each page from the next node, following the
    // `next` cursor the previous node gave.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let base = &urls[pages % urls.len()];
        let mut url = format!("{}?limit=7", objects_url(base));
        if let Some(n) = &next {
            url.push_str(&format!("&next={n}"));
        }
        let r = c
            .get(&url)
            .bearer_auth(&root)
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let page: Value = r.json().await.unwrap();
        for o in page["objects"].as_array().into_iter().flatten() {
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match page["next"].as_str() {
            Some(n) if page["more"] == true => next = Some(n.to_owned()),
            _ => break,
        }
        assert!(pages < 1000);
    }
    assert!(
        pages > urls.len(),
        "the cursors crossed nodes ({pages} pages)"
    );
    let unique: std::collections::BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a page repeated an object");
    assert_eq!(
        unique, acknowledged,
        "what was acknowledged is what is stored"
    );

    // Counted in the database too: one version per acknowledged object.
    let store = shieldwall::store::AnyStore::open(&db.url).await.unwrap();
    if let shieldwall::store::AnyStore::Postgres(pg) = &store {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM versions")
            .fetch_one(pg.pool())
            .await
            .unwrap();
        assert_eq!(n as usize, acknowledged.len());
    }

    // An admin change on one node reaches the others (covered fully by the lifecycle test).
    let t0 = Instant::now();
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{}/admin/keys", urls[1]),
        Cred::Bearer(&root),
        Some(json!({"id": "late", "member": "mb", "role": "reader"})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let late = v["token"].as_str().unwrap().to_owned();
    in_force_everywhere(
        &c,
        &urls,
        Cred::Bearer(&late),
        200,
        t0,
        BOUND,
        "key issued on node 2",
    )
    .await;

    // Concurrent admin changes on different nodes: none lost (compare-and-swap, retried).
    let (_, before) = api(
        &c,
        reqwest::Method::GET,
        &format!("{}/admin/state", urls[0]),
        Cred::Bearer(&root),
        None,
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (c, url, root) = (c.clone(), urls[i % urls.len()].clone(), root.clone());
        tasks.push(tokio::spawn(async move {
            api(
                &c,
                reqwest::Method::POST,
                &format!("{url}/admin/keys"),
                Cred::Bearer(&root),
                Some(json!({"id": format!("burst{i}"), "member": "mc", "role": "reader"})),
            )
            .await
            .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let (_, after) = api(
        &c,
        reqwest::Method::GET,
        &format!("{}/admin/state", urls[2]),
        Cred::Bearer(&root),
        None,
    )
    .await;
    assert_eq!(
        after["generation"].as_i64().unwrap(),
        before["generation"].as_i64().unwrap() + 12
    );
    let (_, keys) = api(
        &c,
        reqwest::Method::GET,
        &format!("{}/admin/keys", urls[1]),
        Cred::Bearer(&root),
        None,
    )
    .await;
    let burst = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"].as_str().unwrap().starts_with("burst"))
        .count();
    assert_eq!(burst, 12, "{keys}");
    drop(cluster);
    db.drop_db(Some(store)).await;
}
