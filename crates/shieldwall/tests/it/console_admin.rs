//! The console's administration pages over real HTTP, on `shieldwall serve --demo` (which
//! watches its admin state like every node):
//!
//! - every other demo user gets a 403 on every administration page and form (also with their
//!   own valid CSRF token) that names none of the node's users, keys or collections, and the
//!   administration is unchanged afterwards; the navigation shows them no administration link;
//! - an admin's form without or with a wrong CSRF token is refused and changes nothing;
//! - an admin adds a user through the form (a weak password is refused as the service refuses
//!   it), who can then sign in; once disabled, that user's session ends and they can no longer
//!   sign in;
//! - a key issued through the console works on TAXII, its token is shown once (the answer is
//!   `no-store`, the key list never shows it), a rotated key's old token stops working, and a
//!   revoked key is refused;
//! - a member disabled through the console has its users refused (console sessions, sign-in,
//!   TAXII) until it is enabled; a removed member's users are refused and its id is not given
//!   again; an admin cannot disable or remove its own member (409);
//! - a trust group removed through its confirmation page is gone, and the members it granted a
//!   collection to no longer see it on TAXII;
//! - grants changed through the pre-filled form are served on TAXII (read → listed and 200,
//!   write only → 403, neither → 404), refused grants change nothing (400), a collection holding
//!   objects is not removed (409 with the reason, still served) and an empty one is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    common::ACCEPT,
    console::{Answer, Browser, hidden},
};
use shieldwall::demo;

pub(crate) struct Demo {
    child: Child,
    pub(crate) base: String,
    _data: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `shieldwall serve --demo` on a free loopback port, with its data in a temporary folder.
pub(crate) fn demo_node() -> Demo {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("SHIELDWALL_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("try: curl") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("the demo did not start: {printed}");
        }
        printed.push_str(&line);
    }
    let base = printed
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches("/taxii2/")
        .to_owned();
    Demo {
        child,
        base,
        _data: data,
    }
}

/// Waits (at most 10 s: the node applies a change within its 250 ms poll) until `ok` holds.
async fn eventually<F, Fut>(what: &str, mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !ok().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn signed_in(base: &str, user: &str, password: &str) -> Browser {
    let mut b = Browser::new(base);
    let a = b.sign_in(user, password, "/ui/").await;
    assert_eq!(a.status, 303, "{user}: {}", a.body);
    b
}

async fn sign_in_status(base: &str, user: &str, password: &str) -> u16 {
    Browser::new(base)
        .sign_in(user, password, "/ui/")
        .await
        .status
}

async fn csrf(b: &mut Browser) -> String {
    let home = b.get("/ui/").await;
    assert_eq!(home.status, 200);
    hidden(&home.body, "csrf").unwrap()
}

async fn taxii(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/taxii2/"))
        .bearer_auth(token)
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The administration pages.
const PAGES: &[&str] = &[
    "/ui/admin",
    "/ui/admin/members",
    "/ui/admin/users",
    "/ui/admin/keys",
    "/ui/admin/collections",
    "/ui/admin/trust-groups",
    "/ui/admin/peers",
];

/// The administration's confirmation and grants pages for a demo collection `coll`.
fn detail_pages(coll: &str) -> Vec<String> {
    vec![
        "/ui/admin/members/cert-ee/remove".to_owned(),
        "/ui/admin/trust-groups/baltic/remove".to_owned(),
        format!("/ui/admin/collections/{coll}/remove"),
        format!("/ui/admin/collections/{coll}/grants"),
    ]
}

/// Every administration form: path and the fields an admin would send (besides `csrf`); `coll`
/// is a demo collection's id.
fn forms(coll: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let mut v = vec![
        ("/ui/admin/members/cert-ee/disable".to_owned(), vec![]),
        ("/ui/admin/members/cert-ee/enable".to_owned(), vec![]),
        ("/ui/admin/members/cert-lt/remove".to_owned(), vec![]),
        ("/ui/admin/trust-groups/baltic/remove".to_owned(), vec![]),
        (format!("/ui/admin/collections/{coll}/remove"), vec![]),
        (
            format!("/ui/admin/collections/{coll}/grants"),
            vec![("read", "*"), ("write", "*"), ("red_recipients", "cert-lt")],
        ),
    ];
    v.extend(old_forms().into_iter().map(|(p, f)| (p.to_owned(), f)));
    v
}

/// The forms there were before removals came to the console.
fn old_forms() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/ui/admin/members",
            vec![("id", "intruder"), ("name", "Intruder")],
        ),
        (
            "/ui/admin/users",
            vec![
                ("name", "intruder"),
                ("member", "cert-ee"),
                ("role", "admin"),
                ("password", "a long enough passphrase"),
            ],
        ),
        ("/ui/admin/users/admin/disable", vec![]),
        ("/ui/admin/users/admin/enable", vec![]),
        ("/ui/admin/users/nl-soc/remove", vec![]),
        (
            "/ui/admin/users/admin/password",
            vec![("password", "a long enough passphrase")],
        ),
        (
            "/ui/admin/keys",
            vec![("id", "intruder"), ("member", "hub"), ("role", "admin")],
        ),
        ("/ui/admin/keys/intruder/revoke", vec![]),
        ("/ui/admin/keys/intruder/rotate", vec![]),
        (
            "/ui/admin/collections",
            vec![("title", "Intruder"), ("read", "*")],
        ),
        (
            "/ui/admin/trust-groups",
            vec![("id", "intruders"), ("members", "cert-ee")],
        ),
        (
            "/ui/admin/peers",
            vec![
                ("name", "intruder"),
                ("url", "https://intruder.example"),
                ("api_root", "x"),
                ("member", "cert-ee"),
            ],
        ),
        ("/ui/admin/peers/x/remove", vec![]),
    ]
}

/// What the administration looks like to the admin now (every page, `done` notes aside).
async fn snapshot(admin: &mut Browser) -> Vec<String> {
    let mut out = Vec::new();
    for p in PAGES {
        let a = admin.get(p).await;
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        out.push(a.body);
    }
    out
}

fn assert_names_nothing(who: &str, path: &str, a: &Answer) {
    assert_eq!(a.status, 403, "{who} {path}: {}", a.body);
    for secret in [
        "nl-soc",
        "lt-analyst",
        "Add a user",
        "Issue a key",
        "RED recipients",
        "identity--",
        "/ui/admin/",
    ] {
        if secret == who {
            continue; // the frame names the user signed in
        }
        assert!(
            !a.body.contains(secret),
            "{who} {path}: the 403 page shows {secret:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_admin_pages_and_forms() {
    let node = demo_node();
    let base = node.base.as_str();
    let mut admin = signed_in(base, "admin", "demo").await;
    let home = admin.get("/ui/").await;
    assert!(
        home.body.contains("href=\"/ui/admin\""),
        "admins see the administration in the navigation"
    );
    let before = snapshot(&mut admin).await;
    assert!(before[2].contains("nl-soc") && before[3].contains("Issue a key"));
    let coll = collection_id(base, "coalition-indicators").await;
    for p in detail_pages(&coll) {
        assert_eq!(admin.get(&p).await.status, 200, "{p}");
    }

    // Everybody else: 403 on every page and form, naming nothing; nothing changes.
    for (user, _, role) in demo::USERS {
        if *role == shieldwall::config::Role::Admin {
            continue;
        }
        let mut b = signed_in(base, user, "demo").await;
        let home = b.get("/ui/").await;
        assert!(
            !home.body.contains("/ui/admin") && !home.body.contains("/ui/federation"),
            "{user}: no administration link"
        );
        for p in PAGES
            .iter()
            .map(|p| (*p).to_owned())
            .chain([
                "/ui/federation".to_owned(),
                "/ui/federation/explain?peer=x&id=indicator--00000000-0000-4000-8000-000000000000"
                    .to_owned(),
            ])
            .chain(detail_pages(&coll))
        {
            let a = b.get(&p).await;
            assert_names_nothing(user, &p, &a);
            assert_eq!(a.headers["cache-control"], "no-store");
        }
        let token = csrf(&mut b).await;
        for (path, fields) in forms(&coll) {
            let a = b.post(&path, &with_csrf(&fields, &token)).await;
            assert_names_nothing(user, &path, &a);
            let a = b.post(&path, &fields).await;
            assert_names_nothing(user, &path, &a);
        }
    }
    assert_eq!(
        snapshot(&mut admin).await,
        before,
        "nothing changed by the others' attempts"
    );
    assert_eq!(
        sign_in_status(base, "intruder", "a long enough passphrase").await,
        401
    );

    // The admin without or with a wrong token: refused, nothing changes.
    let token = csrf(&mut admin).await;
    let wrong = "0".repeat(64);
    for (path, fields) in forms(&coll) {
        let a = admin.post(&path, &fields).await;
        assert_eq!(a.status, 403, "{path} without a token: {}", a.body);
        let a = admin.post(&path, &with_csrf(&fields, &wrong)).await;
        assert_eq!(a.status, 403, "{path} with a wrong token: {}", a.body);
    }
    assert_eq!(snapshot(&mut admin).await, before, "nothing changed");

    // Add a user: a weak password is refused as the service refuses it; then a good one.
    let user_form = |password: &'static str| {
        vec![
            ("name", "ee-newcomer"),
            ("member", "cert-ee"),
            ("role", "reader"),
            ("password", password),
        ]
    };
    let a = admin
        .post(
            "/ui/admin/users",
            &with_csrf(&user_form("password"), &token),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("password refused"), "{}", a.body);
    // The form comes back with what was typed (never the password), the mistake said in it.
    let form = &a.body[a.body.find("action=\"/ui/admin/users\"").unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains("role=\"alert\""), "{form}");
    assert!(form.contains("value=\"ee-newcomer\""), "{form}");
    assert!(!a.body.contains("value=\"password\""), "{}", a.body);
    // Markup typed comes back as text; the field at fault is marked.
    let a = admin
        .post(
            "/ui/admin/users",
            &with_csrf(
                &[
                    ("name", "<script>alert(1)</script>"),
                    ("member", "cert-ee"),
                    ("role", "overlord"),
                    ("password", "grey heron over the marsh"),
                ],
                &token,
            ),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(!a.body.contains("<script>alert(1)"), "{}", a.body);
    assert!(
        a.body
            .contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("aria-invalid=\"true\""), "{}", a.body);
    assert!(a.body.contains("name=\"csrf\""), "{}", a.body);
    let f = with_csrf(&user_form("grey heron over the marsh"), &token);
    let a = admin.post("/ui/admin/users", &f).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.headers["location"], "/ui/admin/users?done=user-added");
    let a = admin.get("/ui/admin/users?done=user-added").await;
    assert!(a.body.contains("ee-newcomer") && a.body.contains("role=\"status\""));
    let a = admin.post("/ui/admin/users", &f).await;
    assert_eq!(a.status, 409, "the same user again: {}", a.body);
    eventually("the new user signs in", || async {
        sign_in_status(base, "ee-newcomer", "grey heron over the marsh").await == 303
    })
    .await;
    let mut newcomer = signed_in(base, "ee-newcomer", "grey heron over the marsh").await;
    assert_eq!(newcomer.get("/ui/").await.status, 200);
    assert_eq!(newcomer.get("/ui/admin/users").await.status, 403);

    // Disable: the session ends and signing in is refused.
    let a = admin
        .post(
            "/ui/admin/users/ee-newcomer/disable",
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let start = Instant::now();
    while newcomer.get("/ui/").await.status != 303 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the disabled user's session ends within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        sign_in_status(base, "ee-newcomer", "grey heron over the marsh").await,
        401
    );
    let a = admin
        .post(
            "/ui/admin/users/nobody/disable",
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);

    // A key: issued (token shown once), used on TAXII, rotated, revoked.
    let a = admin
        .post(
            "/ui/admin/keys",
            &[
                ("csrf", token.as_str()),
                ("id", "console-key"),
                ("member", "cert-ee"),
                ("role", "reader"),
                ("note", "issued in the console test"),
                ("expires", "2099-01-01T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    let key = hidden_value(&a.body, "token");
    assert!(key.starts_with("sw_console-key_"), "{key}");
    let list = admin.get("/ui/admin/keys").await;
    assert!(list.body.contains("console-key") && !list.body.contains(&key));
    eventually("the issued key works on TAXII", || {
        taxii(base, &key).await_eq(200)
    })
    .await;
    let a = admin
        .post(
            "/ui/admin/keys",
            &[
                ("csrf", token.as_str()),
                ("id", "bad-expiry"),
                ("member", "cert-ee"),
                ("role", "reader"),
                ("expires", "next tuesday"),
            ],
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = admin
        .post(
            "/ui/admin/keys/console-key/rotate",
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rotated = hidden_value(&a.body, "token");
    assert_ne!(rotated, key);
    eventually("the old token stops working", || {
        taxii(base, &key).await_eq(401)
    })
    .await;
    assert_eq!(taxii(base, &rotated).await, 200);
    let a = admin
        .post(
            "/ui/admin/keys/console-key/revoke",
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    eventually("the revoked key is refused", || {
        taxii(base, &rotated).await_eq(401)
    })
    .await;
    let list = admin.get("/ui/admin/keys").await;
    assert!(list.body.contains("revoked") && !list.body.contains(&rotated));

    // The other forms, once each, through the service's rules.
    for (path, fields, want) in [
        (
            "/ui/admin/members",
            vec![("id", "cert-fi"), ("name", "CERT-FI")],
            303,
        ),
        (
            "/ui/admin/members",
            vec![("id", "cert-fi"), ("name", "Again")],
            409,
        ),
        (
            "/ui/admin/trust-groups",
            vec![("id", "nordic"), ("members", "cert-fi, cert-ee")],
            303,
        ),
        (
            "/ui/admin/trust-groups",
            vec![("id", "ghosts"), ("members", "no-such-member")],
            400,
        ),
        (
            "/ui/admin/collections",
            vec![
                ("title", "Nordic <b>RED</b>"),
                ("trust_group", "nordic"),
                ("read", "nordic"),
                ("write", "cert-fi"),
                ("red_recipients", "cert-ee"),
            ],
            303,
        ),
        (
            "/ui/admin/peers",
            vec![
                ("name", "fi-node"),
                ("url", "https://fi.example"),
                ("api_root", "taxii"),
                ("member", "cert-fi"),
                ("token_env", "FI_TOKEN"),
                ("mappings", "not enough"),
            ],
            400,
        ),
    ] {
        let a = admin.post(path, &with_csrf(&fields, &token)).await;
        assert_eq!(a.status, want, "{path} {fields:?}: {}", a.body);
    }
    let colls = admin.get("/ui/admin/collections").await;
    assert!(
        colls.body.contains("Nordic &lt;b&gt;RED&lt;/b&gt;") && !colls.body.contains("<b>RED</b>"),
        "escaped"
    );
    assert!(colls.body.contains("cert-ee"), "RED recipients listed");
    let peers = admin.get("/ui/admin/peers").await;
    assert!(!peers.body.contains("fi-node"), "refused peer not added");
}

/// A TAXII GET of `path` as demo user `user` (password `demo`): status and body.
async fn taxii_as(base: &str, user: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth(user, Some("demo"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Whether `user` finds collection `id` in the `coalition` API root's list.
async fn lists(base: &str, user: &str, id: &str) -> bool {
    let (status, v) = taxii_as(base, user, "/coalition/collections/").await;
    assert_eq!(status, 200, "{user}: {v}");
    v["collections"]
        .as_array()
        .is_some_and(|l| l.iter().any(|c| c["id"] == id))
}

/// The id of the `coalition` collection with alias or title `name`, as the admin sees it.
async fn collection_id(base: &str, name: &str) -> String {
    let (status, v) = taxii_as(base, "admin", "/coalition/collections/").await;
    assert_eq!(status, 200, "{v}");
    v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alias"] == name || c["title"] == name)
        .unwrap_or_else(|| panic!("no collection {name}: {v}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_admin_removals_and_grants() {
    let node = demo_node();
    let base = node.base.as_str();
    let mut admin = signed_in(base, "admin", "demo").await;
    let token = csrf(&mut admin).await;
    let t = [("csrf", token.as_str())];

    // Members: listed with their state; disable refuses the member's users everywhere.
    let page = admin.get("/ui/admin/members").await;
    assert!(
        page.body.contains("/ui/admin/members/ncsc-nl/disable")
            && !page.body.contains("st-failed\">disabled"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("/ui/admin/members/hub/"),
        "no disable or remove of the admin's own member"
    );
    let mut nl = signed_in(base, "nl-analyst", "demo").await;
    assert_eq!(taxii_as(base, "nl-soc", "/taxii2/").await.0, 200);
    let a = admin.post("/ui/admin/members/ncsc-nl/disable", &t).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        "/ui/admin/members?done=member-disabled"
    );
    let page = admin.get("/ui/admin/members?done=member-disabled").await;
    assert!(
        page.body.contains("st-failed\">disabled")
            && page.body.contains("/ui/admin/members/ncsc-nl/enable")
            && page.body.contains("role=\"status\""),
        "{}",
        page.body
    );
    let start = Instant::now();
    while nl.get("/ui/").await.status != 303 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the disabled member's console session ends within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(sign_in_status(base, "nl-analyst", "demo").await, 401);
    assert_eq!(taxii_as(base, "nl-soc", "/taxii2/").await.0, 401);
    // Enable: they sign in and use TAXII again.
    let a = admin.post("/ui/admin/members/ncsc-nl/enable", &t).await;
    assert_eq!(a.status, 303, "{}", a.body);
    eventually("the enabled member's user signs in", || async {
        sign_in_status(base, "nl-analyst", "demo").await == 303
    })
    .await;
    assert_eq!(taxii_as(base, "nl-soc", "/taxii2/").await.0, 200);
    let page = admin.get("/ui/admin/members").await;
    assert!(!page.body.contains("st-failed\">disabled"), "enabled");

    // The admin's own member, and members that are not there.
    for (path, want, why) in [
        (
            "/ui/admin/members/hub/disable",
            409,
            "cannot disable its own member",
        ),
        (
            "/ui/admin/members/hub/remove",
            409,
            "cannot remove its own member",
        ),
        (
            "/ui/admin/members/nobody/disable",
            404,
            "no member `nobody`",
        ),
        ("/ui/admin/members/nobody/remove", 404, "no member `nobody`"),
        ("/ui/admin/members/cert-ee/explode", 404, ""),
    ] {
        let a = admin.post(path, &t).await;
        assert_eq!(a.status, want, "{path}: {}", a.body);
        assert!(a.body.contains(why), "{path}: {}", a.body);
    }
    let a = admin.get("/ui/admin/members/hub/remove").await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = admin.get("/ui/admin/members/nobody/remove").await;
    assert_eq!(a.status, 404, "{}", a.body);

    // Remove a member through its confirmation page: its users go, its id is not given again.
    let a = admin.get("/ui/admin/members/cert-lt/remove").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body
            .contains("action=\"/ui/admin/members/cert-lt/remove\"")
            && a.body.contains("cannot be undone")
            && hidden(&a.body, "csrf").as_deref() == Some(token.as_str()),
        "{}",
        a.body
    );
    assert_eq!(taxii_as(base, "lt-analyst", "/taxii2/").await.0, 200);
    let a = admin.post("/ui/admin/members/cert-lt/remove", &t).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        "/ui/admin/members?done=member-removed"
    );
    let page = admin.get("/ui/admin/members").await;
    assert!(!page.body.contains("cert-lt"), "{}", page.body);
    eventually("the removed member's user is refused", || async {
        taxii_as(base, "lt-analyst", "/taxii2/").await.0 == 401
    })
    .await;
    let a = admin
        .post(
            "/ui/admin/members",
            &with_csrf(&[("id", "cert-lt"), ("name", "Again")], &token),
        )
        .await;
    assert_eq!(a.status, 409, "a removed member's id again: {}", a.body);

    // Trust groups: `baltic` grants its collection; removed, its members no longer see it.
    let baltic = collection_id(base, "baltic-sharing").await;
    assert!(lists(base, "lv-analyst", &baltic).await);
    let a = admin.get("/ui/admin/trust-groups/baltic/remove").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Baltic sharing"), "names its collections");
    let a = admin.post("/ui/admin/trust-groups/baltic/remove", &t).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        "/ui/admin/trust-groups?done=trust-group-removed"
    );
    let page = admin.get("/ui/admin/trust-groups").await;
    assert!(
        !page.body.contains("<code>baltic</code>") && page.body.contains("<code>baltic-sea</code>"),
        "{}",
        page.body
    );
    eventually(
        "the removed group's members lose the collection",
        || async { !lists(base, "lv-analyst", &baltic).await },
    )
    .await;
    assert_eq!(
        taxii_as(
            base,
            "lv-analyst",
            &format!("/coalition/collections/{baltic}/objects/")
        )
        .await
        .0,
        404
    );
    let a = admin.post("/ui/admin/trust-groups/baltic/remove", &t).await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(a.body.contains("no trust group `baltic`"), "{}", a.body);

    // Grants: a new collection only `hub` reads and writes.
    let a = admin
        .post(
            "/ui/admin/collections",
            &with_csrf(
                &[
                    ("title", "Console grants"),
                    ("read", "hub"),
                    ("write", "hub"),
                ],
                &token,
            ),
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    eventually("the new collection is served", || async {
        let (_, v) = taxii_as(base, "admin", "/coalition/collections/").await;
        v.to_string().contains("Console grants")
    })
    .await;
    let id = collection_id(base, "Console grants").await;
    let objects = format!("/coalition/collections/{id}/objects/");
    assert!(!lists(base, "pl-analyst", &id).await);
    assert_eq!(taxii_as(base, "pl-analyst", &objects).await.0, 404);
    let grants = format!("/ui/admin/collections/{id}/grants");
    let form = admin.get(&grants).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(hidden(&form.body, "read").as_deref(), Some("hub"));
    assert_eq!(hidden(&form.body, "write").as_deref(), Some("hub"));
    assert_eq!(hidden(&form.body, "red_recipients").as_deref(), Some(""));
    // Read for cert-pl: listed, readable.
    let set = |read: &'static str, write: &'static str, red: &'static str| {
        vec![
            ("read", read),
            ("write", write),
            ("red_recipients", red),
            ("csrf", token.as_str()),
        ]
    };
    let a = admin.post(&grants, &set("hub, cert-pl", "hub", "")).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        "/ui/admin/collections?done=grants-changed"
    );
    eventually("a reader granted through the console reads", || async {
        taxii_as(base, "pl-analyst", &objects).await.0 == 200
    })
    .await;
    assert!(lists(base, "pl-analyst", &id).await);
    let form = admin.get(&grants).await;
    assert_eq!(hidden(&form.body, "read").as_deref(), Some("hub, cert-pl"));
    // Refused grants change nothing: a name that is nobody, RED to everyone, no such collection.
    for (fields, path, want, why) in [
        (set("ghost", "hub", ""), grants.clone(), 400, "ghost"),
        (
            set("hub", "hub", "*"),
            grants.clone(),
            400,
            "red_recipients",
        ),
        (
            set("hub", "hub", ""),
            "/ui/admin/collections/00000000-0000-4000-8000-00000000dead/grants".to_owned(),
            404,
            "no collection",
        ),
    ] {
        let a = admin.post(&path, &fields).await;
        assert_eq!(a.status, want, "{fields:?}: {}", a.body);
        assert!(
            a.body.contains("Nothing was changed") && a.body.contains(why),
            "{}",
            a.body
        );
    }
    let form = admin.get(&grants).await;
    assert_eq!(hidden(&form.body, "read").as_deref(), Some("hub, cert-pl"));
    // Write but not read: 403; neither: 404 and not listed.
    let a = admin.post(&grants, &set("hub", "hub cert-pl", "")).await;
    assert_eq!(a.status, 303, "{}", a.body);
    eventually("a writer that may not read is refused reading", || async {
        taxii_as(base, "pl-analyst", &objects).await.0 == 403
    })
    .await;
    let a = admin.post(&grants, &set("hub", "hub", "")).await;
    assert_eq!(a.status, 303, "{}", a.body);
    eventually(
        "the collection is gone for a member without grants",
        || async { taxii_as(base, "pl-analyst", &objects).await.0 == 404 },
    )
    .await;
    assert!(!lists(base, "pl-analyst", &id).await);

    // A collection holding objects is not removed: 409 with the reason, still there.
    let held = collection_id(base, "coalition-indicators").await;
    let a = admin
        .get(&format!("/ui/admin/collections/{held}/remove"))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let before = admin.get("/ui/admin/collections").await.body;
    let a = admin
        .post(&format!("/ui/admin/collections/{held}/remove"), &t)
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body.contains("Nothing was changed")
            && a.body.contains("object versions")
            && a.body.contains("delete its objects first"),
        "{}",
        a.body
    );
    assert_eq!(admin.get("/ui/admin/collections").await.body, before);
    assert_eq!(
        taxii_as(
            base,
            "admin",
            &format!("/coalition/collections/{held}/objects/")
        )
        .await
        .0,
        200
    );
    // An empty one is.
    let a = admin
        .post(&format!("/ui/admin/collections/{id}/remove"), &t)
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.headers["location"],
        "/ui/admin/collections?done=collection-removed"
    );
    eventually("the removed collection is not served", || async {
        taxii_as(base, "admin", &format!("/coalition/collections/{id}/"))
            .await
            .0
            == 404
    })
    .await;
    let a = admin
        .post(&format!("/ui/admin/collections/{id}/remove"), &t)
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    let a = admin.get(&grants).await;
    assert_eq!(a.status, 404, "{}", a.body);
}

/// `fields` with the CSRF token.
fn with_csrf<'a>(fields: &[(&'a str, &'a str)], token: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = fields.to_vec();
    f.push(("csrf", token));
    f
}

/// The value of the input with id `id`.
fn hidden_value(body: &str, id: &str) -> String {
    let key = format!("id=\"{id}\"");
    let i = body.find(&key).unwrap();
    let rest = &body[i..];
    let v = rest.find("value=\"").unwrap() + 7;
    let end = rest[v..].find('"').unwrap() + v;
    rest[v..end].to_owned()
}

trait AwaitEq {
    async fn await_eq(self, want: u16) -> bool;
}

impl<F: std::future::Future<Output = u16>> AwaitEq for F {
    async fn await_eq(self, want: u16) -> bool {
        self.await == want
    }
}
