//! The web console over real HTTP on 127.0.0.1, on SQLite and PostgreSQL.
//!
//! The leak test signs in as every demo user through the sign-in form and crawls every link the
//! pages give (home, search and its pages, collections and their pages, every object page and
//! version, exports): no page shows the id or name of an object that user may not see (the
//! forbidden set comes from `policy::may_see` over the stored placements); the page's banner is
//! the most restrictive TLP on it; every hidden object's direct URLs answer exactly like a
//! missing object's. The STIX export of an object is the object as TAXII serves it, so it is
//! checked to be an object the user may see, not scanned for the ids it references.
//!
//! Then the hostile part: forms without or with a wrong CSRF token are refused, sign-in's
//! `next=` cannot send anyone off the console, huge query strings and bad ids get an HTML
//! error (never a 500), and markup posted in STIX names and descriptions comes back escaped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use serde_json::{Value, json};
use shieldwall::{
    coalition::Coalition,
    demo,
    store::{AnyStore, Store},
};
use stix::tlp::TlpLevel;

use crate::common::{self, start};

/// A browser without JavaScript: cookies by hand, no redirects followed.
pub(crate) struct Browser {
    c: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new(base: &str) -> Browser {
        shieldwall::tls::ensure_provider();
        Browser {
            c: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, h: &reqwest::header::HeaderMap) {
        for v in h.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            assert!(
                v.contains("HttpOnly") && v.contains("SameSite=Strict"),
                "{v}"
            );
            let (kv, _) = v.split_once(';').unwrap();
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    /// A request with any method and no body.
    pub(crate) async fn request(&mut self, method: reqwest::Method, path: &str) -> Answer {
        let r = self
            .c
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    async fn answer(&mut self, r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        self.keep_cookies(&headers);
        let body = r.text().await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Signs in through the form; returns the sign-in POST's answer.
    pub(crate) async fn sign_in(&mut self, user: &str, password: &str, next: &str) -> Answer {
        let form = self.get(&format!("/ui/sign-in?next={}", pct(next))).await;
        assert_eq!(form.status, 200);
        let token = hidden(&form.body, "csrf").unwrap();
        let next_field = hidden(&form.body, "next").unwrap();
        self.post(
            "/ui/sign-in",
            &[
                ("csrf", &token),
                ("next", &next_field),
                ("user", user),
                ("password", password),
            ],
        )
        .await
    }
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of hidden input `name`.
pub(crate) fn hidden(body: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let i = body.find(&key)? + key.len();
    let j = body[i..].find('"')? + i;
    Some(unescape(&body[i..j]))
}

/// Every `href` of a page, unescaped.
fn links(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        if let Some(j) = rest.find('"') {
            out.push(unescape(&rest[..j]));
            rest = &rest[j..];
        }
    }
    out
}

/// The TLP labels on a page, in order.
fn labels(body: &str) -> Vec<TlpLevel> {
    body.match_indices("data-tlp=\"")
        .filter_map(|(i, _)| {
            let rest = &body[i + 10..];
            TlpLevel::parse(&rest[..rest.find('"')?])
        })
        .collect()
}

fn check_headers(path: &str, a: &Answer) {
    let h = |k: &str| {
        a.headers
            .get(k)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(h("cache-control"), "no-store", "{path}");
    let csp = h("content-security-policy");
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{path}: {csp}"
    );
    assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
}

async fn setup(store: AnyStore, dir: &std::path::Path) -> (common::Node, Coalition) {
    let checked = demo::config("127.0.0.1:0", dir)
        .unwrap()
        .check("demo")
        .unwrap();
    let coalition = Coalition::from_config(&checked);
    demo::seed(
        &store,
        &coalition,
        shieldwall::publish::PublishLimits::from_server(&checked.config.server),
    )
    .await
    .unwrap();
    (start(&checked, store).await, coalition)
}

async fn console_leak_test(store: AnyStore, dir: &std::path::Path) {
    let (node, coalition) = setup(store, dir).await;
    let placements = node.store.placements().await.unwrap();
    let want = crate::leak::expected(&coalition, &placements);
    // Every stored object's JSON (each version), for names.
    let mut json_of: HashMap<String, Vec<Value>> = HashMap::new();
    let mut seen_pairs = HashSet::new();
    for p in &placements {
        if seen_pairs.insert((p.collection.clone(), p.id.clone())) {
            for r in node
                .store
                .sync_versions(&p.collection, &p.id)
                .await
                .unwrap()
            {
                json_of
                    .entry(p.id.clone())
                    .or_default()
                    .push(serde_json::from_str(&r.json).unwrap());
            }
        }
    }
    let all_ids: BTreeSet<String> = placements.iter().map(|p| p.id.clone()).collect();
    let name_of = |id: &str| -> Vec<String> {
        json_of
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let absent = "indicator--00000000-0000-4000-8000-000000000000";
    // Values held by the store (the first literal of each pattern, each SCO's value): searched
    // as every user, so the value index's answers are crawled and checked like every page.
    let mut value_queries: BTreeSet<String> = BTreeSet::new();
    for versions in json_of.values() {
        for o in versions {
            let v = o
                .get("pattern")
                .and_then(Value::as_str)
                .and_then(|p| p.split('\'').nth(1))
                .or_else(|| o.get("value").and_then(Value::as_str));
            if let Some(v) = v.filter(|v| !v.is_empty() && v.len() < 200) {
                value_queries.insert(v.to_owned());
            }
        }
    }
    assert!(!value_queries.is_empty(), "the demo holds values");
    let mut value_answers = 0;
    let mut crawled_total = 0;
    for (user, _, _) in demo::USERS {
        let visible: BTreeSet<String> = want
            .iter()
            .filter(|((u, _), _)| u.as_str() == *user)
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        let hidden: Vec<&String> = all_ids.difference(&visible).collect();
        let visible_names: HashSet<String> = visible.iter().flat_map(|i| name_of(i)).collect();
        let forbidden_names: BTreeSet<String> = hidden
            .iter()
            .flat_map(|i| name_of(i))
            .filter(|n| !visible_names.contains(n))
            .collect();
        assert!(!hidden.is_empty(), "{user} has something hidden");
        let mut b = Browser::new(&node.base);
        // Before signing in, every page sends to the sign-in form.
        let a = b.get("/ui/search?q=x").await;
        assert_eq!(a.status, 303);
        assert!(
            a.headers["location"]
                .to_str()
                .unwrap()
                .starts_with("/ui/sign-in?next=")
        );
        let a = b.sign_in(user, "demo", "/ui/").await;
        assert_eq!(a.status, 303, "{user}: {}", a.body);
        assert_eq!(a.headers["location"], "/ui/");
        // The crawl.
        let mut queue: VecDeque<String> =
            ["/ui/", "/ui/search?q=", "/ui/collections", "/ui/?days=90"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(
                    value_queries
                        .iter()
                        .take(40)
                        .map(|v| format!("/ui/search?q={}", pct(v))),
                )
                .collect();
        let mut done: HashSet<String> = HashSet::new();
        let mut objects_seen: HashSet<String> = HashSet::new();
        while let Some(path) = queue.pop_front() {
            if !done.insert(path.clone()) || done.len() > 3000 {
                continue;
            }
            let a = b.get(&path).await;
            assert_eq!(a.status, 200, "{user} {path}: {}", a.body);
            check_headers(&path, &a);
            if path.starts_with("/ui/search?q=") && a.body.contains("</code> appears</h2><table") {
                value_answers += 1;
            }
            if path.ends_with("/stix.json") {
                let o: Value = serde_json::from_str(&a.body).unwrap();
                let id = o["id"].as_str().unwrap();
                assert!(visible.contains(id), "{user} exported {id}");
                continue;
            }
            for id in &hidden {
                assert!(
                    !a.body.contains(id.as_str()),
                    "{user} sees hidden {id} on {path}"
                );
            }
            for n in &forbidden_names {
                assert!(
                    !a.body.contains(&*html_escape(n)),
                    "{user} sees hidden name {n:?} on {path}"
                );
            }
            if path.ends_with("/values.txt") {
                continue;
            }
            let l = labels(&a.body);
            assert!(l.len() >= 2, "{path}: banners");
            let max = l.iter().copied().max().unwrap();
            assert_eq!(
                l[0], max,
                "{user} {path}: the top banner is the most restrictive"
            );
            assert_eq!(
                *l.last().unwrap(),
                max,
                "{user} {path}: the bottom banner too"
            );
            for link in links(&a.body) {
                if let Some(rest) = link.strip_prefix("/ui/objects/") {
                    let id = rest.split(['/', '?']).next().unwrap();
                    let id = form_urlencoded::parse(format!("x={id}").as_bytes())
                        .next()
                        .unwrap()
                        .1
                        .into_owned();
                    assert!(
                        visible.contains(&id),
                        "{user} linked to hidden {id} on {path}"
                    );
                    objects_seen.insert(id);
                }
                if link.starts_with("/ui/")
                    && !link.starts_with("/ui/static/")
                    && !done.contains(&link)
                {
                    queue.push_back(link);
                }
            }
        }
        crawled_total += done.len();
        // The crawl reached objects, all visible (checked above); most of what the user may see.
        assert!(
            objects_seen.len() * 2 >= visible.len(),
            "{user}: the pages lead to {} of {} visible objects",
            objects_seen.len(),
            visible.len()
        );
        // A hidden object's direct URLs answer exactly like a missing one's.
        for suffix in ["", "/stix.json", "/values.txt", "/diff?a=1&b=2"] {
            let missing = b.get(&format!("/ui/objects/{absent}{suffix}")).await;
            assert_eq!(missing.status, 404);
            for id in &hidden {
                let a = b.get(&format!("/ui/objects/{id}{suffix}")).await;
                assert_eq!(a.status, 404, "{user} {id}{suffix}");
                assert_eq!(a.body, missing.body, "{user} {id}{suffix}");
            }
        }
        // Forms: without or with a wrong token, refused; the session goes on.
        let a = b.post("/ui/sign-out", &[]).await;
        assert_eq!(a.status, 403);
        let a = b.post("/ui/sign-out", &[("csrf", &"0".repeat(64))]).await;
        assert_eq!(a.status, 403);
        let home = b.get("/ui/").await;
        assert_eq!(home.status, 200);
        let token = hidden_csrf(&home.body);
        let a = b.post("/ui/sign-out", &[("csrf", &token)]).await;
        assert_eq!(a.status, 303);
        let a = b.get("/ui/").await;
        assert_eq!(a.status, 303, "signed out");
    }
    println!(
        "console leak test: {crawled_total} pages crawled, {value_answers} value searches answered"
    );
    assert!(
        value_answers > 0,
        "a search for a value the demo holds lists where it appears"
    );
}

fn hidden_csrf(body: &str) -> String {
    hidden(body, "csrf").unwrap()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn hostile_test(store: AnyStore, dir: &std::path::Path) {
    let (node, coalition) = setup(store, dir).await;
    let mut b = Browser::new(&node.base);
    // Sign-in without the form's token, or with a wrong one: refused, nothing signed in.
    let a = b
        .post(
            "/ui/sign-in",
            &[("user", "ee-analyst"), ("password", "demo")],
        )
        .await;
    assert_eq!(a.status, 403);
    assert!(!b.cookies.contains_key("sw_session"));
    // Wrong password: 401, the same page for an unknown user.
    let a = b.sign_in("ee-analyst", "wrong", "/ui/").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("wrong"));
    // Open redirects: `next` never leaves the console.
    for next in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ui//evil.example",
        "/ui/\\evil.example",
    ] {
        // The form sends the sanitised `next`; a forged POST sends it raw: both stay home.
        let mut b = Browser::new(&node.base);
        let a = b.sign_in("ee-analyst", "demo", next).await;
        assert_eq!(a.status, 303, "{next}");
        assert_eq!(a.headers["location"], "/ui/", "{next}");
        let mut b = Browser::new(&node.base);
        let form = b.get("/ui/sign-in").await;
        let token = hidden(&form.body, "csrf").unwrap();
        let fields = [
            ("csrf", token.as_str()),
            ("next", next),
            ("user", "ee-analyst"),
            ("password", "demo"),
        ];
        let a = b.post("/ui/sign-in", &fields).await;
        assert_eq!(a.status, 303, "{next}");
        assert_eq!(a.headers["location"], "/ui/", "{next}");
    }
    let a = b
        .sign_in("ee-analyst", "demo", "/ui/search?q=implant")
        .await;
    assert_eq!(a.headers["location"], "/ui/search?q=implant");
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sw_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/ui/")
    );
    assert_eq!(
        cookie.split(';').next().unwrap().len(),
        "sw_session=".len() + 64
    );

    // Markup in STIX, posted over TAXII as cert-ee, comes back escaped.
    let identity = coalition.members["cert-ee"].identity.clone();
    let coll = coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some("coalition-indicators"))
        .unwrap();
    let id = "indicator--5c1b1c2e-0000-4000-8000-00000000beef";
    let t = "2026-02-01T10:00:00.000Z";
    let evil = json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": t, "modified": t,
        "name": "<script>alert('name')</script>", "description": "\"><img src=x onerror=alert(1)><script>x()</script>",
        "pattern_type": "stix", "pattern": "[url:value = 'http://evil.example/<script>']", "valid_from": t,
        "indicator_types": ["malicious-activity"], "labels": ["<script>label</script>"],
        "external_references": [{"source_name": "bad", "url": "javascript:alert(1)"},
                                 {"source_name": "quote", "url": "vbscript:msgbox(1)"},
                                 {"source_name": "good", "url": "https://example.org/advisory"}],
        "created_by_ref": identity, "object_marking_refs": [TlpLevel::Green.marking_id()]});
    let r = common::client()
        .post(format!(
            "{}/{}/collections/{}/objects/",
            node.base, coll.api_root, coll.id
        ))
        .basic_auth("ee-analyst", Some("demo"))
        .header("Accept", common::ACCEPT)
        .header("Content-Type", common::ACCEPT)
        .body(json!({"objects": [evil]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success_count"], 1, "{body}");
    for path in [
        format!("/ui/objects/{id}"),
        "/ui/search?q=alert".to_owned(),
        format!(
            "/ui/collections/{}/{}?type=indicator",
            coll.api_root, coll.id
        ),
    ] {
        let a = b.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        let lower = a.body.to_lowercase();
        assert!(!lower.contains("<script"), "{path}: unescaped script");
        assert!(!lower.contains("<img"), "{path}: unescaped img");
        assert!(
            !lower.contains("href=\"javascript:"),
            "{path}: javascript link"
        );
        assert!(
            a.body.contains("&lt;script&gt;"),
            "{path}: escaped text shown"
        );
    }
    let page = b.get(&format!("/ui/objects/{id}")).await.body;
    assert!(page.contains("href=\"https://example.org/advisory\""));
    assert!(!page.contains("href=\"vbscript:"));
    assert!(page.contains("class=\"pattern\""));

    // Hostile requests get an HTML answer, never a 500.
    let long = "A".repeat(20_000);
    for (path, want) in [
        (format!("/ui/search?q={long}"), 400),
        ("/ui/objects/not-an-id".to_owned(), 404),
        ("/ui/objects/%00%ff".to_owned(), 404),
        (format!("/ui/objects/indicator--{long}"), 404),
        ("/ui/objects/..%2F..%2Ftaxii2%2F".to_owned(), 404),
        ("/ui/search?since=yesterday".to_owned(), 400),
        ("/ui/search?cursor=99999:1.2".to_owned(), 200),
        ("/ui/search?cursor=x:y&tlp=purple".to_owned(), 200),
        ("/ui/collections/coalition/nope".to_owned(), 404),
        (
            format!(
                "/ui/collections/{}/{}?added_after=soon",
                coll.api_root, coll.id
            ),
            400,
        ),
        ("/ui/no/such/page".to_owned(), 404),
    ] {
        let a = b.get(&path).await;
        assert_eq!(
            a.status,
            want,
            "{}: {}",
            &path[..path.len().min(80)],
            &a.body[..a.body.len().min(300)]
        );
        assert!(
            a.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        check_headers(&path, &a);
    }
    // `/` leads to the console; TAXII is untouched.
    let a = b.get("/").await;
    assert_eq!(a.status, 303);
    assert_eq!(a.headers["location"], "/ui/");
    let (s, _, _) = common::get(
        &common::client(),
        &format!("{}/taxii2/", node.base),
        "ee-analyst",
    )
    .await;
    assert_eq!(s, 200);
    // A member's user at the admin pages: refused, and the refusal is in the audit trail.
    let mut analyst = Browser::new(&node.base);
    analyst.sign_in("ee-analyst", "demo", "/ui/").await;
    assert_eq!(analyst.get("/ui/admin/members").await.status, 403);
    // The sign-ins and the failure are in the audit trail, on the console's path.
    let recs = node
        .store
        .audit_records(&shieldwall::store::AuditQuery {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        recs.iter()
            .any(|r| r.action == "sign-in" && r.path == "console" && r.actor == "ee-analyst")
    );
    assert!(
        recs.iter()
            .any(|r| r.action == "sign-in-failed" && r.path == "console")
    );
    assert!(
        recs.iter().any(|r| r.action == "admin-refused"
            && r.path == "console"
            && r.actor == "ee-analyst"
            && r.target == "ui/admin/members"
            && r.outcome == "refused"
            && r.detail.contains("member=cert-ee")),
        "the refused admin page is recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_leak_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    console_leak_test(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_leak_on_postgres() {
    let Some(db) = common::PgDb::create("console leak test on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    console_leak_test(store.clone(), dir.path()).await;
    db.drop_db(Some(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_hostile_on_sqlite() {
    let (dir, path) = common::sqlite_path();
    let store = AnyStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    hostile_test(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_hostile_on_postgres() {
    let Some(db) = common::PgDb::create("console hostile test on PostgreSQL").await else {
        return;
    };
    let store = AnyStore::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    hostile_test(store.clone(), dir.path()).await;
    db.drop_db(Some(store)).await;
}
