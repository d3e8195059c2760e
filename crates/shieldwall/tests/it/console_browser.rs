//! The console in a real browser: `shieldwall serve --demo` driven through headless Chromium
//! over WebDriver (the client of `console_coord_browser`): sign in with the keyboard-reachable
//! form, the coalition picture, a search, an object page, sign out; then an admin adds a user,
//! issues a key (its token shown once) and revokes it in the administration pages, opens a
//! member's removal confirmation and leaves it, and submits a collection's pre-filled grants form.
//! Every page is checked with axe-core (no serious or critical violation), and the walk's main
//! pages are saved as screenshots in `docs/console/`.
//! Skipped (`SKIPPED:`) without Chromium, chromedriver or axe-core, unless
//! `SHIELDWALL_REQUIRE_CHROMIUM=1`. axe-core comes from `.ci/run` (npm, into `.ci/axe`) or
//! `SHIELDWALL_AXE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use crate::console_coord_browser::Driver;

fn required() -> bool {
    std::env::var(testenv::REQUIRE_CHROMIUM_ENV).is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    if required() {
        panic!("the console's browser test cannot run: {why}");
    }
    println!("SKIPPED: the console's browser test: {why}");
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium() {
    let axe_path = std::env::var("SHIELDWALL_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/axe/node_modules/axe-core/axe.min.js")
        });
    let Ok(axe) = std::fs::read_to_string(&axe_path) else {
        return skip(&format!(
            "no axe-core at {} (.ci/run installs it)",
            axe_path.display()
        ));
    };

    // The demo node, as a newcomer starts it: the printed lines name the console and the users.
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
    let server = Killed(child);
    let mut printed = String::new();
    while !printed.contains("try: curl") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
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
    assert!(printed.contains(&format!("{base}/ui/")), "{printed}");
    assert!(printed.contains("ee-analyst"), "{printed}");

    let Some(s) = Driver::start("the console's browser test").await else {
        return;
    };

    let mut problems = Vec::new();
    // `/` leads to the sign-in form, which comes back to the console after.
    s.go(&format!("{base}/")).await;
    assert!(s.url().await.contains("/ui/sign-in"), "{}", s.url().await);
    // The skip link is the first thing the keyboard reaches.
    let first = s.run(
        "return document.querySelector('a, button, input:not([type=hidden]), select').className;",
    ).await;
    assert_eq!(first, "skip");
    s.typ("#user", "ee-analyst").await;
    s.typ("#password", "demo").await;
    problems.extend(s.axe(&axe).await);
    s.shot("sign-in.png").await;
    s.click("form.signin button").await;
    assert!(s.url().await.ends_with("/ui/"), "{}", s.url().await);
    let text = s.run("return document.body.innerText;").await;
    assert!(text.as_str().unwrap().contains("Coalition picture"));
    problems.extend(s.axe(&axe).await);
    s.shot("home.png").await;

    s.go(&format!("{base}/ui/search")).await;
    s.typ("#f-q", "report").await;
    s.click("form.filters button").await;
    assert!(s.url().await.contains("q=report"), "{}", s.url().await);
    let rows = s
        .run("return document.querySelectorAll('main table tbody tr').length;")
        .await;
    assert!(rows.as_u64().unwrap() > 0, "search found nothing");
    problems.extend(s.axe(&axe).await);
    s.shot("search.png").await;

    // An indicator's page: the pattern, its relationships drawn, its versions, exports.
    s.go(&format!("{base}/ui/search?q=C2&type=indicator&tlp=amber"))
        .await;
    s.click("main table tbody a").await;
    assert!(
        s.url().await.contains("/ui/objects/indicator--"),
        "{}",
        s.url().await
    );
    let text = s.run("return document.body.innerText;").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Relationships") && text.contains("Versions"),
        "{text}"
    );
    let svg = s
        .run("return document.querySelectorAll('svg.graph a').length;")
        .await;
    assert!(svg.as_u64().unwrap() >= 2, "the graph links its nodes");
    let banner = s
        .run("return document.querySelector('.banner .tlp').textContent;")
        .await;
    assert_eq!(banner, "TLP:AMBER");
    problems.extend(s.axe(&axe).await);
    s.shot("object.png").await;

    // A malware's page (the other end of the relationship), from the graph.
    let next = s
        .run("return document.querySelectorAll('svg.graph a')[1].getAttribute('href');")
        .await;
    s.go(&format!("{base}{}", next.as_str().unwrap())).await;
    assert!(s.url().await.contains("/ui/objects/"), "{}", s.url().await);
    problems.extend(s.axe(&axe).await);
    s.shot("object-related.png").await;

    s.go(&format!("{base}/ui/collections")).await;
    s.click("main table a").await;
    problems.extend(s.axe(&axe).await);
    s.shot("browse.png").await;

    s.click(".who button").await;
    assert!(s.url().await.contains("/ui/sign-in"), "{}", s.url().await);
    s.go(&format!("{base}/ui/")).await;
    assert!(
        s.url().await.contains("/ui/sign-in"),
        "signed out: {}",
        s.url().await
    );

    // An admin's walk: the administration from the navigation, a user added, a key issued
    // (its token shown once) then revoked; every control reachable with the keyboard.
    s.sign_in(&base, "admin").await;
    s.click("nav a[href='/ui/admin']").await;
    assert!(s.url().await.ends_with("/ui/admin"), "{}", s.url().await);
    let keyboard = "return [...document.querySelectorAll('main a, main button, main input:not([type=hidden]), main select, main textarea')]\
        .filter(e => e.tabIndex < 0 || e.disabled || e.offsetParent === null).map(e => e.outerHTML.slice(0, 80));";
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.shot("admin.png").await;
    s.go(&format!("{base}/ui/admin/users")).await;
    s.typ("#u-name", "ee-browser").await;
    s.choose("#u-member", "cert-ee").await;
    s.choose("#u-role", "reader").await;
    s.typ("#u-password", "kestrel above the dunes").await;
    s.click("form[action='/ui/admin/users'] button[type=submit]")
        .await;
    assert!(
        s.url().await.contains("done=user-added"),
        "{}",
        s.url().await
    );
    let text = s
        .run("return document.querySelector('main').innerText;")
        .await;
    assert!(text.as_str().unwrap().contains("ee-browser"), "{text}");
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.shot("admin-users.png").await;
    s.go(&format!("{base}/ui/admin/keys")).await;
    s.typ("#k-id", "browser-key").await;
    s.choose("#k-member", "cert-ee").await;
    s.choose("#k-role", "reader").await;
    s.typ("#k-note", "a feed reader").await;
    s.typ("#k-expires", "2099-01-01T00:00:00Z").await;
    s.click("form[action='/ui/admin/keys'] button[type=submit]")
        .await;
    let token = s
        .run("return document.querySelector('#token').value;")
        .await;
    assert!(
        token.as_str().unwrap().starts_with("sw_browser-key_"),
        "{token}"
    );
    problems.extend(s.axe(&axe).await);
    // The picture does not keep the token.
    s.run("document.querySelector('#token').value = 'sw_browser-key_… (shown once)'; return 1;")
        .await;
    s.shot("admin-key-issued.png").await;
    s.go(&format!("{base}/ui/admin/keys")).await;
    assert!(!s.source().await.contains(token.as_str().unwrap()));
    s.click("form[action='/ui/admin/keys/browser-key/revoke'] button[type=submit]")
        .await;
    assert!(
        s.url().await.contains("done=key-revoked"),
        "{}",
        s.url().await
    );
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.shot("admin-keys.png").await;
    // Members with their state and actions, a removal's confirmation page (left by Cancel), and
    // a collection's grants form, submitted as pre-filled.
    s.go(&format!("{base}/ui/admin/members")).await;
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.click("a[href='/ui/admin/members/cert-pl/remove']").await;
    assert!(
        s.url().await.ends_with("/ui/admin/members/cert-pl/remove"),
        "{}",
        s.url().await
    );
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.click("main p a[href='/ui/admin/members']").await;
    assert!(
        s.source()
            .await
            .contains("/ui/admin/members/cert-pl/disable"),
        "nothing removed"
    );
    s.go(&format!("{base}/ui/admin/collections")).await;
    problems.extend(s.axe(&axe).await);
    s.click("td.actions a[href$='/grants']").await;
    problems.extend(s.axe(&axe).await);
    assert_eq!(s.run(keyboard).await, serde_json::json!([]), "keyboard");
    s.click("form[action$='/grants'] button[type=submit]").await;
    assert!(
        s.url().await.contains("done=grants-changed"),
        "{}",
        s.url().await
    );
    s.click(".who button").await;

    let _ = s.cmd("DELETE", "", serde_json::Value::Null).await;
    drop(s);
    drop(server);
    assert!(
        problems.is_empty(),
        "serious or critical accessibility violations: {problems:#?}"
    );
}
