//! The console in a real browser: `shieldwall serve --demo` driven through headless Chromium
//! over WebDriver (chromedriver, spoken to with reqwest): sign in with the keyboard-reachable
//! form, the coalition picture, a search, an object page, sign out. Each page is saved as a
//! screenshot in `docs/console/` and checked with axe-core (no serious or critical violation).
//! Skipped (`SKIPPED:`) without Chromium, chromedriver or axe-core, unless
//! `SHIELDWALL_REQUIRE_CHROMIUM=1`. axe-core comes from `.ci/run` (npm, into `.ci/axe`) or
//! `SHIELDWALL_AXE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52f-4a8e-8c4d-6e5f76";

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

struct Driver {
    c: reqwest::blocking::Client,
    url: String,
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        let r = match method {
            "GET" => self.c.get(&url).send(),
            "DELETE" => self.c.delete(&url).send(),
            _ => self.c.post(&url).json(&body).send(),
        }
        .unwrap();
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert!(status.is_success(), "{method} {path}: {v}");
        v["value"].clone()
    }
}

struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn post(&self, path: &str, body: Value) -> Value {
        self.d
            .call("POST", &format!("/session/{}{path}", self.id), body)
    }
    fn get(&self, path: &str) -> Value {
        self.d
            .call("GET", &format!("/session/{}{path}", self.id), Value::Null)
    }
    fn go(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }
    fn url(&self) -> String {
        self.get("/url").as_str().unwrap().to_owned()
    }
    fn find(&self, css: &str) -> String {
        let v = self.post("/element", json!({"using": "css selector", "value": css}));
        // The W3C element reference (its one key), whatever the key's spelling.
        v.get(ELEMENT)
            .or_else(|| v.as_object().and_then(|m| m.values().next()))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }
    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.post(&format!("/element/{e}/value"), json!({ "text": text }));
    }
    fn click(&self, css: &str) {
        let e = self.find(css);
        self.post(&format!("/element/{e}/click"), json!({}));
    }
    fn run(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
    }
    fn screenshot(&self, name: &str) {
        let b64 = self.get("/screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
    /// axe-core's serious and critical violations on the current page.
    fn axe(&self, axe: &str) -> Vec<Value> {
        self.run(&format!("{axe}\n;return true;"));
        let v = self.post(
            "/execute/async",
            json!({"script": "const done = arguments[arguments.length - 1];\
                axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations.map(v => \
                ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))))\
                .catch(e => done('error: ' + e));", "args": []}),
        );
        let text = v.as_str().unwrap();
        let all: Vec<Value> = serde_json::from_str(text).unwrap_or_else(|_| panic!("{text}"));
        if !all.is_empty() {
            println!("axe on {}: {all:#?}", self.url());
        }
        all.into_iter()
            .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
            .collect()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn console_in_headless_chromium() {
    let Some(chrome) = testenv::chromium("the console's browser test") else {
        return;
    };
    let chromedriver = ["/usr/bin/chromedriver", "chromedriver"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromedriver) = chromedriver else {
        return skip("no chromedriver (Debian's chromium-driver)");
    };
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

    shieldwall::tls::ensure_provider();
    let port = free_port();
    let driver_proc = Killed(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let d = Driver {
        c: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while d.c.get(format!("{}/status", d.url)).send().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The browser's full path (chromedriver does not search PATH for a bare name).
    let binary = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(&chrome))
        .find(|p| p.is_file())
        .unwrap_or_else(|| chrome.clone());
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
        "goog:chromeOptions": {"binary": binary.to_string_lossy(), "args": ["--headless=new", "--no-sandbox",
            "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1000", "--hide-scrollbars"]}}}});
    let session = d.call("POST", "/session", caps);
    let s = Session {
        d: &d,
        id: session["sessionId"].as_str().unwrap().to_owned(),
    };
    s.post("/timeouts", json!({"script": 60000, "pageLoad": 60000}));

    let mut problems = Vec::new();
    // `/` leads to the sign-in form, which comes back to the console after.
    s.go(&format!("{base}/"));
    assert!(s.url().contains("/ui/sign-in"), "{}", s.url());
    // The skip link is the first thing the keyboard reaches.
    let first = s.run(
        "return document.querySelector('a, button, input:not([type=hidden]), select').className;",
    );
    assert_eq!(first, "skip");
    s.type_into("#user", "ee-analyst");
    s.type_into("#password", "demo");
    problems.extend(s.axe(&axe));
    s.screenshot("sign-in");
    s.click("form.signin button");
    let start = Instant::now();
    while !s.url().ends_with("/ui/") && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.url().ends_with("/ui/"), "{}", s.url());
    let text = s.run("return document.body.innerText;");
    assert!(text.as_str().unwrap().contains("Coalition picture"));
    problems.extend(s.axe(&axe));
    s.screenshot("home");

    s.go(&format!("{base}/ui/search"));
    s.type_into("#f-q", "report");
    s.click("form.filters button");
    assert!(s.url().contains("q=report"), "{}", s.url());
    let rows = s.run("return document.querySelectorAll('main table tbody tr').length;");
    assert!(rows.as_u64().unwrap() > 0, "search found nothing");
    problems.extend(s.axe(&axe));
    s.screenshot("search");

    // An indicator's page: the pattern, its relationships drawn, its versions, exports.
    s.go(&format!("{base}/ui/search?q=C2&type=indicator&tlp=amber"));
    s.click("main table tbody a");
    assert!(s.url().contains("/ui/objects/indicator--"), "{}", s.url());
    let text = s.run("return document.body.innerText;");
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Relationships") && text.contains("Versions"),
        "{text}"
    );
    let svg = s.run("return document.querySelectorAll('svg.graph a').length;");
    assert!(svg.as_u64().unwrap() >= 2, "the graph links its nodes");
    let banner = s.run("return document.querySelector('.banner .tlp').textContent;");
    assert_eq!(banner, "TLP:AMBER");
    problems.extend(s.axe(&axe));
    s.screenshot("object");

    // A malware's page (the other end of the relationship), from the graph.
    let next = s.run("return document.querySelectorAll('svg.graph a')[1].getAttribute('href');");
    s.go(&format!("{base}{}", next.as_str().unwrap()));
    assert!(s.url().contains("/ui/objects/"), "{}", s.url());
    problems.extend(s.axe(&axe));
    s.screenshot("object-related");

    s.go(&format!("{base}/ui/collections"));
    s.click("main table a");
    problems.extend(s.axe(&axe));
    s.screenshot("browse");

    s.click(".who button");
    let start = Instant::now();
    while !s.url().contains("/ui/sign-in") && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.url().contains("/ui/sign-in"), "{}", s.url());
    s.go(&format!("{base}/ui/"));
    assert!(s.url().contains("/ui/sign-in"), "signed out: {}", s.url());

    let _ = d.call("DELETE", &format!("/session/{}", s.id), Value::Null);
    drop(driver_proc);
    drop(server);
    assert!(
        problems.is_empty(),
        "serious or critical accessibility violations: {problems:#?}"
    );
}
