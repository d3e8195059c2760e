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
    common::{self, ACCEPT, PRIVATE, SHARED},
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

    // Reset the password (API): the old one refused, the new one works. Measured from when the
    // call returns (its change is committed before it answers; the call itself hashes the new
    // password, which takes its own time on a loaded machine).
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{last}/admin/users/dave/password"),
        root,
        Some(json!({"password": "dave-new-passphrase"})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let t0 = Instant::now();
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
    let (_, unchanged) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/state"),
        root,
        None,
    )
    .await;
    let mut routes = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let path = path.replace("{name}", "carl").replace("{id}", READER_KEY);
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == reqwest::Method::POST || m == reqwest::Method::PUT).then(|| json!({}));
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
    assert!(routes >= 27, "{routes}");
    let (_, still) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/state"),
        root,
        None,
    )
    .await;
    assert_eq!(unchanged, still, "a refused caller changes nothing");
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

    removal(&cluster, &c, &urls, root, &coll).await;

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
        "admin-remove-member",
        "admin-disable-member",
        "admin-enable-member",
        "admin-remove-trust-group",
        "admin-remove-collection",
        "admin-set-collection-grants",
    ] {
        assert!(trail.contains(action), "{action} missing from the trail");
    }
    assert!(trail.contains("\"refused\""), "refusals are recorded");
    // Every admin route carl and the reader key were refused is in the trail, by name.
    let refused = common::ok(&common::sw(
        &cluster.dir,
        &[
            "audit",
            "show",
            "--json",
            "--action",
            "admin-refused",
            "--limit",
            "100000",
            "--config",
            cluster.config.to_str().unwrap(),
        ],
    ));
    let refused: Vec<Value> = refused
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["action"] == "admin-refused")
        .collect();
    let by = |actor: &str, path: &str| {
        refused
            .iter()
            .filter(|r| r["actor"] == actor && r["path"] == path && r["outcome"] == "refused")
            .count()
    };
    assert!(by("carl", "admin-api") >= 27, "{refused:?}");
    assert!(
        refused.iter().any(|r| r["actor"] == "carl"
            && r["target"] == "addUser"
            && r["detail"].as_str().unwrap().contains("member=mc")),
        "{refused:?}"
    );
    assert!(by("carl", "taxii") == 0, "carl never asked /admin/sync");
    assert!(
        refused
            .iter()
            .any(|r| r["path"] == "taxii" && r["target"] == "admin/sync"),
        "the reader key's /admin/sync refusal: {refused:?}"
    );
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

const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";

fn marked(n: u32, marking: &str, value: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--0000000e-0000-4000-8000-{n:012x}"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "object_marking_refs": [marking],
        "pattern": format!("[domain-name:value = '{value}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"})
}

/// POSTs `objects` into `coll`: the status code and the status resource.
async fn post(
    c: &reqwest::Client,
    base: &str,
    coll: &str,
    cred: Cred<'_>,
    objects: Vec<Value>,
) -> (u16, Value) {
    let r = with(
        c.post(format!("{base}/hub/collections/{coll}/objects/")),
        cred,
    )
    .header("Accept", ACCEPT)
    .header("Content-Type", ACCEPT)
    .body(json!({ "objects": objects }).to_string())
    .send()
    .await
    .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

/// The ids `cred` sees in `coll` on `base`.
async fn ids(c: &reqwest::Client, base: &str, coll: &str, cred: Cred<'_>) -> Vec<String> {
    let r = with(
        c.get(format!("{base}/hub/collections/{coll}/objects/")),
        cred,
    )
    .header("Accept", ACCEPT)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    page["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Removing and disabling members, removing trust groups and collections, changing grants: each
/// in force on every node within the bound, and what the removed member produced stays without
/// anyone gaining access to it.
async fn removal(
    cluster: &Cluster,
    c: &reqwest::Client,
    urls: &[String],
    root: Cred<'_>,
    coll: &str,
) {
    let a = &urls[0];
    let last = &urls[urls.len() - 1];
    let get = |path: &str| {
        let url = format!("{a}{path}");
        async move { api(c, reqwest::Method::GET, &url, root, None).await.1 }
    };
    // Member `me` with a user and a key, in a trust group and in a collection's grants.
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/admin/members",
            json!({"id": "me", "name": "Member E"}),
        ),
        (
            reqwest::Method::POST,
            "/admin/users",
            json!({"name": "erin", "member": "me", "role": "contributor", "password": "erin-s3cret-pass"}),
        ),
        (
            reqwest::Method::POST,
            "/admin/trust-groups",
            json!({"id": "eg", "members": ["me", "mb"]}),
        ),
    ] {
        let (code, v) = api(c, method, &format!("{a}{path}"), root, Some(body)).await;
        assert_eq!(code, 201, "{path}: {v}");
    }
    let (code, v) = api(
        c,
        reqwest::Method::POST,
        &format!("{a}/admin/keys"),
        root,
        Some(json!({"id": "mekey", "member": "me", "role": "reader"})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let mekey = v["token"].as_str().unwrap().to_owned();
    let (code, v) = api(c, reqwest::Method::POST, &format!("{a}/admin/collections"), root,
        Some(json!({"title": "E's", "trust_group": "eg", "read": ["me", "eg"], "write": ["me"], "red_recipients": ["me"]}))).await;
    assert_eq!(code, 201, "{v}");
    let ecoll = v["collection"]["id"].as_str().unwrap().to_owned();
    let erin = Cred::Basic("erin", "erin-s3cret-pass");
    in_force_everywhere(c, urls, erin, 200, Instant::now(), BOUND, "member e's user").await;
    in_force_everywhere(
        c,
        urls,
        Cred::Bearer(&mekey),
        200,
        Instant::now(),
        BOUND,
        "member e's key",
    )
    .await;

    // Erin publishes a RED and a GREEN object into the shared collection.
    let (red, green) = (
        marked(1, TLP_RED, "red.example"),
        marked(2, TLP_GREEN, "green.example"),
    );
    let (code, st) = post(c, a, SHARED, erin, vec![red.clone(), green.clone()]).await;
    assert_eq!((code, st["success_count"].as_u64()), (202, Some(2)), "{st}");
    let red_id = red["id"].as_str().unwrap().to_owned();
    let green_id = green["id"].as_str().unwrap().to_owned();
    assert!(ids(c, last, SHARED, erin).await.contains(&red_id));

    // Disable, then enable the member: its user and key refused, then let in, everywhere.
    let (code, v) = api(
        c,
        reqwest::Method::POST,
        &format!("{last}/admin/members/me/disable"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let t0 = Instant::now();
    in_force_everywhere(
        c,
        urls,
        Cred::Bearer(&mekey),
        401,
        t0,
        BOUND,
        "disabled member's key",
    )
    .await;
    in_force_everywhere(c, urls, erin, 401, t0, BOUND, "disabled member's user").await;
    assert_eq!(get("/admin/members").await["disabled"], json!(["me"]));
    cluster.cli(&["member", "enable", "me"], None);
    let t0 = Instant::now();
    in_force_everywhere(
        c,
        urls,
        Cred::Bearer(&mekey),
        200,
        t0,
        BOUND,
        "enabled member's key",
    )
    .await;

    // Remove it (CLI on the first node's store): its user and key refused on every node.
    let out = cluster.cli(&["member", "remove", "me"], None);
    let t0 = Instant::now();
    assert!(out.contains("Removed member me"), "{out}");
    in_force_everywhere(
        c,
        urls,
        Cred::Bearer(&mekey),
        401,
        t0,
        BOUND,
        "removed member's key",
    )
    .await;
    in_force_everywhere(c, urls, erin, 401, t0, BOUND, "removed member's user").await;
    let members = get("/admin/members").await;
    assert!(
        members["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != "me"),
        "{members}"
    );
    let users = get("/admin/users").await;
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["name"] != "erin"),
        "{users}"
    );
    let keys = get("/admin/keys").await;
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != "mekey"),
        "{keys}"
    );
    let groups = get("/admin/trust-groups").await;
    let eg = groups["trust_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "eg")
        .unwrap()
        .clone();
    assert_eq!(eg["members"], json!(["mb"]), "{groups}");
    let cols = get("/admin/collections").await;
    let ec = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == ecoll.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            ec["read"].clone(),
            ec["write"].clone(),
            ec["red_recipients"].clone()
        ),
        (json!(["eg"]), json!([]), json!([])),
        "{ec}"
    );

    // Its objects stay with their markings; nobody gains the RED one, nobody versions them.
    let reader = nodes::token(READER_KEY);
    for url in urls {
        let seen = ids(c, url, SHARED, root).await;
        assert!(seen.contains(&green_id), "the GREEN object stays on {url}");
        assert!(
            !seen.contains(&red_id),
            "an admin does not gain a removed member's RED object"
        );
        assert!(
            !ids(c, url, SHARED, Cred::Bearer(&reader))
                .await
                .contains(&red_id)
        );
    }
    let mut next = green.clone();
    next["modified"] = json!("2026-02-01T00:00:00.000Z");
    next["object_marking_refs"] = json!([TLP_RED]);
    let (code, st) = post(c, a, SHARED, root, vec![next]).await;
    assert_eq!(
        (code, st["failure_count"].as_u64()),
        (202, Some(1)),
        "nobody versions a removed member's object: {st}"
    );
    // Its id is not given again (whoever held it would be its objects' producer).
    let (code, v) = api(
        c,
        reqwest::Method::POST,
        &format!("{a}/admin/members"),
        root,
        Some(json!({"id": "me", "name": "E again"})),
    )
    .await;
    assert_eq!(code, 409, "{v}");
    let o = common::sw(
        &cluster.dir,
        &[
            "admin",
            "member",
            "add",
            "me",
            "--name",
            "again",
            "--config",
            cluster.config.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "{}", common::show(&o));

    // Nobody locks the node out: not its own member over the API, not the last admin account's
    // member from the CLI.
    let (code, v) = api(
        c,
        reqwest::Method::DELETE,
        &format!("{a}/admin/members/ma"),
        root,
        None,
    )
    .await;
    assert_eq!((code, v["http_status"].as_str()), (409, Some("409")), "{v}");
    for args in [["member", "remove", "ma"], ["member", "disable", "ma"]] {
        let mut all = vec!["admin"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["--config", cluster.config.to_str().unwrap()]);
        let o = common::sw(&cluster.dir, &all);
        assert!(
            !o.status.success() && common::stderr(&o).contains("without an admin"),
            "{}",
            common::show(&o)
        );
    }
    assert_eq!(discovery(c, a, root).await, 200);

    // Trust groups: removed, dropped from the collection shared with it, not given again.
    let (code, v) = api(
        c,
        reqwest::Method::DELETE,
        &format!("{last}/admin/trust-groups/eg"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let cols = get("/admin/collections").await;
    let ec = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == ecoll.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (ec["read"].clone(), ec["trust_group"].clone()),
        (json!([]), Value::Null),
        "{ec}"
    );
    for (method, path, body, want) in [
        (
            reqwest::Method::DELETE,
            "/admin/trust-groups/eg".to_owned(),
            None,
            404,
        ),
        (
            reqwest::Method::POST,
            "/admin/trust-groups".to_owned(),
            Some(json!({"id": "eg", "members": ["ma"]})),
            409,
        ),
        (
            reqwest::Method::DELETE,
            "/admin/members/nobody".to_owned(),
            None,
            404,
        ),
        (
            reqwest::Method::POST,
            "/admin/members/nobody/disable".to_owned(),
            None,
            404,
        ),
        // Grants: replaced, refused when they name nobody, give RED to everyone, or no collection.
        (
            reqwest::Method::PUT,
            format!("/admin/collections/{ecoll}/grants"),
            Some(json!({"read": ["mc", "grid"], "write": ["mc"], "red_recipients": ["mb"]})),
            200,
        ),
        (
            reqwest::Method::PUT,
            format!("/admin/collections/{ecoll}/grants"),
            Some(json!({"read": ["ghost"]})),
            400,
        ),
        (
            reqwest::Method::PUT,
            format!("/admin/collections/{ecoll}/grants"),
            Some(json!({"red_recipients": ["*"]})),
            400,
        ),
        (
            reqwest::Method::PUT,
            format!("/admin/collections/{ecoll}/grants"),
            Some(json!({"read": [], "admin": true})),
            400,
        ),
        (
            reqwest::Method::PUT,
            "/admin/collections/00000000-0000-4000-8000-00000000dead/grants".to_owned(),
            Some(json!({})),
            404,
        ),
        // A collection holding objects stays.
        (
            reqwest::Method::DELETE,
            format!("/admin/collections/{coll}"),
            None,
            409,
        ),
        (
            reqwest::Method::DELETE,
            "/admin/collections/00000000-0000-4000-8000-00000000dead".to_owned(),
            None,
            404,
        ),
        // Ids with path tricks are refused before they name anything.
        (
            reqwest::Method::DELETE,
            "/admin/members/..%2F..%2Fadmin%2Fstate".to_owned(),
            None,
            400,
        ),
        (
            reqwest::Method::DELETE,
            "/admin/trust-groups/a%5Cb".to_owned(),
            None,
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/members/a%00b/disable".to_owned(),
            None,
            400,
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/collections/{}", "x".repeat(300)),
            None,
            400,
        ),
    ] {
        let (code, v) = api(c, method, &format!("{a}{path}"), root, body).await;
        assert_eq!(code, want, "{path}: {v}");
        if want >= 400 {
            assert_eq!(
                v["http_status"],
                want.to_string(),
                "a TAXII error resource: {v}"
            );
        }
    }
    // The new grants are served on every node: mc reads the collection.
    let carl = Cred::Basic("carl", "carl-s3cret-pass");
    let t0 = Instant::now();
    for url in urls {
        loop {
            let r = with(
                c.get(format!("{url}/hub/collections/{ecoll}/objects/")),
                carl,
            )
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
            if r.status() == 200 {
                break;
            }
            assert!(
                t0.elapsed() <= BOUND,
                "grants not in force on {url}: {}",
                r.status()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Oversized grants: 400, nothing changed.
    let big: Vec<String> = (0..20_000).map(|i| format!("m{i}")).collect();
    let (code, v) = api(
        c,
        reqwest::Method::PUT,
        &format!("{a}/admin/collections/{ecoll}/grants"),
        root,
        Some(json!({"read": big})),
    )
    .await;
    assert_eq!((code, v["http_status"].as_str()), (400, Some("400")), "{v}");
    // An empty collection goes (CLI), and is gone on every node.
    let out = cluster.cli(&["collection", "remove", &ecoll], None);
    assert!(out.contains("Removed collection"), "{out}");
    let t0 = Instant::now();
    for url in urls {
        loop {
            let r = c
                .get(format!("{url}/hub/collections/{ecoll}/"))
                .bearer_auth(admin())
                .header("Accept", ACCEPT)
                .send()
                .await
                .unwrap();
            if r.status() == 404 {
                break;
            }
            assert!(
                t0.elapsed() <= BOUND,
                "removed collection still served on {url}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let o = common::sw(
        &cluster.dir,
        &[
            "admin",
            "collection",
            "remove",
            coll,
            "--config",
            cluster.config.to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && common::stderr(&o).contains("holds"),
        "{}",
        common::show(&o)
    );
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

/// A `serve` node on its own SQLite store, with `extra` appended to the grid configuration and
/// `env` in its environment; its URL.
fn lone_node(dir: &Path, extra: &str, env: &[(&str, String)]) -> (Child, String, PathBuf) {
    let config = common::write_grid_config(dir, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    for (id, member, role) in [(ADMIN_KEY, "ma", "admin"), ("peerkey", "mb", "reader")] {
        text.push_str(&format!(
            "\n[[api_keys]]\nid = \"{id}\"\nmember = \"{member}\"\nrole = \"{role}\"\ndigest = \"{}\"\n",
            nodes::digest(id)
        ));
    }
    text.push_str(extra);
    std::fs::write(&config, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shieldwall"));
    cmd.args(["serve", "--config"])
        .arg(&config)
        .env("SHIELDWALL_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, url) = nodes::serve_child(&mut cmd);
    (child, url, config)
}

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits (up to `limit`) until `id` is in `coll` at `base`.
async fn arrives(c: &reqwest::Client, base: &str, coll: &str, id: &str, limit: Duration) -> bool {
    let t0 = Instant::now();
    let root = admin();
    while t0.elapsed() < limit {
        if ids(c, base, coll, Cred::Bearer(&root))
            .await
            .iter()
            .any(|x| x == id)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The running scheduled sync follows the admin state: a peer added through the admin API is
/// synced without a restart, a removed one no longer is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_peers_reach_the_running_scheduled_sync() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (b_child, b, _) = lone_node(db.path(), "", &[]);
    let (a_child, a, _) = lone_node(
        da.path(),
        "\n[sync]\nenabled = true\n",
        &[("PEER_B_TOKEN", nodes::token("peerkey"))],
    );
    let _nodes = Kill(vec![a_child, b_child]);
    let c = common::client();
    let root = admin();
    let root = Cred::Bearer(&root);
    let first = marked(11, TLP_GREEN, "first.example");
    let (code, st) = post(&c, &b, SHARED, root, vec![first.clone()]).await;
    assert_eq!((code, st["success_count"].as_u64()), (202, Some(1)), "{st}");
    let first_id = first["id"].as_str().unwrap();
    assert!(
        !ids(&c, &a, SHARED, root)
            .await
            .iter()
            .any(|x| x == first_id)
    );

    // B becomes A's peer through A's admin API: its objects arrive, A never restarted.
    let peer = |name: &str, local: &str| {
        json!({"name": name, "url": b, "api_root": "hub", "member": "mb", "token_env": "PEER_B_TOKEN",
            "collections": [{"local": local, "remote": SHARED, "direction": "pull", "interval_seconds": 1}]})
    };
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/peers"),
        root,
        Some(peer("b", SHARED)),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert!(
        arrives(&c, &a, SHARED, first_id, Duration::from_secs(30)).await,
        "B's object did not arrive at A after adding the peer"
    );
    let (code, status) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/sync"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(status["peers"]["b"]["last_success"].is_string(), "{status}");

    // Removed: B's next object does not arrive. To know that the scheduler has moved on, a
    // second peer on the same B pulls into A's private collection: once the object arrives
    // there (and one more round has passed), the removed peer had every chance to bring it.
    let (code, v) = api(
        &c,
        reqwest::Method::DELETE,
        &format!("{a}/admin/peers/b"),
        root,
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = api(
        &c,
        reqwest::Method::POST,
        &format!("{a}/admin/peers"),
        root,
        Some(peer("b2", PRIVATE)),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert!(
        arrives(&c, &a, PRIVATE, first_id, Duration::from_secs(30)).await,
        "the second peer syncs"
    );
    let second = marked(12, TLP_GREEN, "second.example");
    let (code, _) = post(&c, &b, SHARED, root, vec![second.clone()]).await;
    assert_eq!(code, 202);
    let second_id = second["id"].as_str().unwrap();
    assert!(
        arrives(&c, &a, PRIVATE, second_id, Duration::from_secs(30)).await,
        "the second peer syncs"
    );
    let third = marked(13, TLP_GREEN, "third.example");
    post(&c, &b, SHARED, root, vec![third.clone()]).await;
    assert!(
        arrives(
            &c,
            &a,
            PRIVATE,
            third["id"].as_str().unwrap(),
            Duration::from_secs(30)
        )
        .await
    );
    let shared = ids(&c, &a, SHARED, root).await;
    assert!(shared.iter().any(|x| x == first_id));
    assert!(
        !shared.iter().any(|x| x == second_id),
        "the removed peer still syncs: {shared:?}"
    );
    let (_, status) = api(
        &c,
        reqwest::Method::GET,
        &format!("{a}/admin/sync"),
        root,
        None,
    )
    .await;
    assert!(
        status["peers"]["b"].get("last_success").is_none(),
        "the removed peer's schedule status stays: {status}"
    );
    assert!(
        status["peers"]["b2"]["last_success"].is_string(),
        "{status}"
    );
}
