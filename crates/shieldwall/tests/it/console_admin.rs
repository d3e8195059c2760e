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
//!   revoked key is refused.
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

/// Every administration form: path and the fields an admin would send (besides `csrf`).
fn forms() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
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
        for p in PAGES.iter().chain(&[
            "/ui/federation",
            "/ui/federation/explain?peer=x&id=indicator--00000000-0000-4000-8000-000000000000",
        ]) {
            let a = b.get(p).await;
            assert_names_nothing(user, p, &a);
            assert_eq!(a.headers["cache-control"], "no-store");
        }
        let token = csrf(&mut b).await;
        for (path, fields) in forms() {
            let a = b.post(path, &with_csrf(&fields, &token)).await;
            assert_names_nothing(user, path, &a);
            let a = b.post(path, &fields).await;
            assert_names_nothing(user, path, &a);
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
    for (path, fields) in forms() {
        let a = admin.post(path, &fields).await;
        assert_eq!(a.status, 403, "{path} without a token: {}", a.body);
        let a = admin.post(path, &with_csrf(&fields, &wrong)).await;
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
