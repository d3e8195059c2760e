//! A minimal W3C WebDriver client (chromedriver + headless Chromium), shared by the console's
//! browser tests (`console_browser` drives it too), and the coordination pages' walk: it signs
//! in through the form, walks the incidents, an incident page, the DISARM matrix, files a
//! request for assistance through its form (a first try with mistakes, then right), sends an
//! incident step with a mistake and markup typed in (re-shown as typed, as text), takes it
//! through offer → match → accept → delivery → close with real clicks, and signs out. On every
//! page it runs axe-core (no serious or critical violation) and the keyboard (Tab reaches every
//! form control and submit button, each showing its focus), and saves screenshots to
//! `docs/console/` (`coord-*`, `disarm-*`, `assist-*`, `federation-*`). Without Chromium,
//! chromedriver or axe-core it says `SKIPPED:` (a failure under
//! `SHIELDWALL_REQUIRE_CHROMIUM=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<&'static str> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

impl Driver {
    /// chromedriver and a headless Chromium session, or `None` (after `SKIPPED:`).
    pub(crate) async fn start(what: &str) -> Option<Driver> {
        let chrome = testenv::chromium(what)?;
        let Some(cd) = chromedriver() else {
            assert!(
                std::env::var("SHIELDWALL_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
                "{what}: no chromedriver"
            );
            println!("SKIPPED: {what}: no chromedriver");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(cd)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        shieldwall::tls::ensure_provider();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Debian's `chromium` is a wrapper script; chromedriver drives the binary behind it.
        let binary = if std::path::Path::new("/usr/lib/chromium/chromium").exists() {
            "/usr/lib/chromium/chromium".to_owned()
        } else {
            which(&chrome)
        };
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": ["--headless=new", "--no-sandbox",
            "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1440,1000",
            "--force-device-scale-factor=1", "--lang=en"]}}}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        let d = Driver {
            child,
            base,
            session,
            http,
        };
        // axe-core runs as an asynchronous script.
        d.cmd(
            "POST",
            "/timeouts",
            json!({"script": 60_000, "pageLoad": 60_000}),
        )
        .await;
        Some(d)
    }

    /// Runs a script in the page and answers its value.
    pub(crate) async fn run(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// axe-core (its source, `axe`) on the current page: its serious and critical violations.
    pub(crate) async fn axe(&self, axe: &str) -> Vec<Value> {
        self.run(&format!("{axe}\n;return true;")).await;
        let v = self
            .cmd(
                "POST",
                "/execute/async",
                json!({"script": "const done = arguments[arguments.length - 1];\
                axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations.map(v => \
                ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))))\
                .catch(e => done('error: ' + e));", "args": []}),
            )
            .await;
        let text = v.as_str().unwrap();
        let all: Vec<Value> = serde_json::from_str(text).unwrap_or_else(|_| panic!("{text}"));
        if !all.is_empty() {
            println!("axe on {}: {all:#?}", self.url().await);
        }
        all.into_iter()
            .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
            .collect()
    }

    /// The keyboard on the current page: presses Tab through the whole page (one more time
    /// than it has focusable elements, a few presses more) and answers what is wrong — a form control or submit
    /// button that Tab never reaches (a radio group counts as reached when one of its radios
    /// is), or an element that shows no focus indicator (outline or box shadow) when Tab
    /// reaches it.
    pub(crate) async fn keyboard(&self) -> Vec<String> {
        let n = self
            .run(
                "window.__swTabbed = []; \
                const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]; \
                all.forEach((e, i) => { e.dataset.swk = String(i); }); \
                document.addEventListener('focusin', ev => { const e = ev.target; const cs = getComputedStyle(e); \
                  window.__swTabbed.push({k: e.dataset ? e.dataset.swk : undefined, \
                    shown: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none', \
                    what: e.tagName + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '') + ' ' + (e.textContent || '').trim().slice(0, 40)}); }); \
                if (document.activeElement) { document.activeElement.blur(); } \
                return all.length;",
            )
            .await
            .as_u64()
            .unwrap_or(0);
        let mut keys = Vec::new();
        for _ in 0..n + 5 {
            keys.push(json!({"type": "keyDown", "value": "\u{E004}"}));
            keys.push(json!({"type": "keyUp", "value": "\u{E004}"}));
        }
        self.cmd(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]}),
        )
        .await;
        let _ = self.answer("DELETE", "/actions", Value::Null).await;
        let v = self
            .run(
                "const reached = new Set(window.__swTabbed.map(t => t.k)); \
                const problems = window.__swTabbed.filter(t => !t.shown).map(t => 'no focus indicator on ' + t.what); \
                if (window.__swTabbed.length < 3) problems.push('Tab reached only ' + window.__swTabbed.length + ' elements'); \
                const groups = new Set(); \
                for (const e of document.querySelectorAll('form input:not([type=hidden]), form select, form textarea, form button')) { \
                  if (e.disabled || e.offsetParent === null) continue; \
                  if (e.type === 'radio') { \
                    if (groups.has(e.name)) continue; groups.add(e.name); \
                    const any = [...document.getElementsByName(e.name)].some(r => reached.has(r.dataset.swk)); \
                    if (!any) problems.push('Tab never reaches the radio group ' + e.name); \
                    continue; } \
                  if (!reached.has(e.dataset.swk)) problems.push('Tab never reaches ' + e.tagName + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '') + ' ' + (e.textContent || '').trim().slice(0, 40)); } \
                return [...new Set(problems)];",
            )
            .await;
        let problems: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !problems.is_empty() {
            println!("keyboard on {}: {problems:#?}", self.url().await);
        }
        problems
    }

    /// A WebDriver command's answer (`value`), the error included.
    async fn answer(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        r["value"].clone()
    }

    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let v = self.answer(method, path, body).await;
        assert!(v.get("error").is_none(), "WebDriver {method} {path}: {v}");
        v
    }

    pub(crate) async fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    /// Clicks the element; when it is a link or a submit button, waits (at most 10 s) until
    /// the page the click leads to has replaced this one and finished loading, so that what is
    /// read next is that page (a form's POST answers with a redirect, which a busy machine may
    /// not have followed yet when the click returns).
    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        let navigates = self
            .cmd(
                "POST",
                "/execute/sync",
                json!({"script": "const e = document.querySelector(arguments[0]); \
                    const nav = !!e && (e.tagName === 'A' || e.type === 'submit'); \
                    if (nav) { window.__swLeaving = true; } return nav;", "args": [css]}),
            )
            .await
            == Value::Bool(true);
        self.cmd("POST", &format!("/element/{e}/click"), json!({}))
            .await;
        if navigates {
            for _ in 0..100 {
                let arrived = self
                    .answer(
                        "POST",
                        "/execute/sync",
                        json!({"script": "return !window.__swLeaving && document.readyState === 'complete';", "args": []}),
                    )
                    .await;
                if arrived == Value::Bool(true) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("clicking {css} led to no new page within 10 s");
        }
    }

    pub(crate) async fn typ(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{e}/clear"), json!({}))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Chooses `value` in the `<select>` matched by `css`.
    pub(crate) async fn choose(&self, css: &str, value: &str) {
        let ok = self
            .cmd(
                "POST",
                "/execute/sync",
                json!({"script": "const s = document.querySelector(arguments[0]); \
                    if (!s || ![...s.options].some(o => o.value === arguments[1])) return false; \
                    s.value = arguments[1]; return true;", "args": [css, value]}),
            )
            .await;
        assert_eq!(ok, Value::Bool(true), "{css} offers {value}");
    }

    pub(crate) async fn source(&self) -> String {
        self.cmd("GET", "/source", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A screenshot of the whole page (the window made as tall as the document).
    pub(crate) async fn shot(&self, name: &str) {
        let h = self
            .cmd(
                "POST",
                "/execute/sync",
                json!({"script": "return document.documentElement.scrollHeight", "args": []}),
            )
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 4000);
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": 1440, "height": h + 140}),
        )
        .await;
        let png = self.cmd("GET", "/screenshot", Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": 1440, "height": 1000}),
        )
        .await;
    }

    pub(crate) async fn sign_in(&self, base: &str, user: &str) {
        self.cmd("DELETE", "/cookie", Value::Null).await;
        self.go(&format!("{base}/ui/sign-in")).await;
        self.typ("#user", user).await;
        self.typ("#password", "demo").await;
        self.click("form.signin button[type=submit]").await;
        assert!(
            self.source().await.contains("Sign out"),
            "{user} signed in in Chromium"
        );
    }
}

fn which(p: &std::path::Path) -> String {
    if p.is_absolute() {
        return p.display().to_string();
    }
    for d in std::env::var("PATH").unwrap_or_default().split(':') {
        let c = std::path::Path::new(d).join(p);
        if c.exists() {
            return c.display().to_string();
        }
    }
    p.display().to_string()
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// axe-core's source (`SHIELDWALL_AXE`, else `.ci/axe`), or `None` (after `SKIPPED:`; a failure
/// under `SHIELDWALL_REQUIRE_CHROMIUM=1`).
pub(crate) fn axe_source(what: &str) -> Option<String> {
    let path = std::env::var("SHIELDWALL_AXE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/axe/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(a) => Some(a),
        Err(_) => {
            assert!(
                std::env::var("SHIELDWALL_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
                "{what}: no axe-core at {}",
                path.display()
            );
            println!("SKIPPED: {what}: no axe-core at {}", path.display());
            None
        }
    }
}

/// What the walk found wrong on the pages it visited.
#[derive(Default)]
struct Findings {
    axe: Vec<Value>,
    keyboard: Vec<String>,
    pages: usize,
}

impl Findings {
    /// axe-core and the keyboard on the current page, then its screenshot (`None`: none).
    async fn check(&mut self, d: &Driver, axe: &str, shot: Option<&str>) {
        // The screenshot first: the keyboard's walk leaves a focus ring behind.
        if let Some(name) = shot {
            d.shot(name).await;
        }
        let url = d.url().await;
        for v in d.axe(axe).await {
            self.axe.push(json!({"page": url, "violation": v}));
        }
        // Chromium decides per focus whether it came from the keyboard (`:focus-visible`); a
        // page whose walk finds a problem is walked once more, and only what stays counts.
        let mut keyboard = d.keyboard().await;
        if !keyboard.is_empty() {
            keyboard = d.keyboard().await;
        }
        for k in keyboard {
            self.keyboard.push(format!("{url}: {k}"));
        }
        self.pages += 1;
    }
}

/// The walk, with screenshots, axe-core and the keyboard on every page. `ids` as
/// `hub::demo_coord::seed` returns them.
pub(crate) async fn screenshots(d: &Driver, base: &str, ids: &[String]) {
    let Some(axe) = axe_source("coordination pages in headless Chromium") else {
        return;
    };
    let axe = axe.as_str();
    let mut found = Findings::default();
    // Sign in through the form.
    d.cmd("DELETE", "/cookie", Value::Null).await;
    d.go(&format!("{base}/ui/sign-in")).await;
    found.check(d, axe, None).await;
    // An incident on critical infrastructure, as its producer sees it.
    d.sign_in(base, "ee-analyst").await;
    d.go(&format!("{base}/ui/incidents")).await;
    let src = d.source().await;
    assert!(src.contains("Distributor SCADA intrusion"));
    found.check(d, axe, Some("coord-incidents.png")).await;
    d.go(&format!("{base}/ui/incidents/{}", pct(&ids[0]))).await;
    let src = d.source().await;
    assert!(src.contains("Timeline") && src.contains("Põhjavõrk Distribution"));
    found.check(d, axe, Some("coord-incident.png")).await;
    // A step with a mistake: the page comes back with the form as typed, markup typed kept as
    // text (no element made of it), the mistake at the form's top and under its field.
    let typed = "<script>document.title='owned'</script><img src=x>";
    d.typ("#e-name", typed).await;
    d.typ("#e-type", "Not A Slug").await;
    d.typ("#e-desc", "</textarea><b id=\"injected\">bold</b>")
        .await;
    d.click("form[action$='/event'] button[type=submit]").await;
    let state = d
        .run(
            "return [document.querySelector('#e-name').value, document.querySelector('#e-type').value, \
             document.querySelector('#e-desc').value, document.querySelectorAll('script, img, #injected').length, \
             document.title, document.querySelector('#e-type').getAttribute('aria-invalid'), \
             !!document.querySelector('form[action$=\"/event\"] [role=alert]'), \
             !!document.querySelector('form[action$=\"/event\"] input[name=csrf]')];",
        )
        .await;
    assert_eq!(
        state,
        json!([
            typed,
            "Not A Slug",
            "</textarea><b id=\"injected\">bold</b>",
            0,
            d.run("return document.title").await,
            "true",
            true,
            true
        ]),
        "the re-shown event form"
    );
    assert_ne!(state[4], "owned");
    found.check(d, axe, Some("coord-event-mistake.png")).await;
    d.go(&format!("{base}/ui/incidents/new")).await;
    found.check(d, axe, None).await;
    // The FIMI incident it fed.
    d.go(&format!("{base}/ui/incidents/{}", pct(&ids[4]))).await;
    let src = d.source().await;
    assert!(src.contains("FIMI activity") && src.contains("GridTruth"));
    found.check(d, axe, Some("coord-fimi-incident.png")).await;
    // The DISARM matrix, then one technique by a click on its cell.
    d.go(&format!("{base}/ui/disarm")).await;
    let src = d.source().await;
    assert!(src.contains("T0086.002") && src.contains("class=\"matrix\""));
    found.check(d, axe, Some("disarm-matrix.png")).await;
    d.click("a[href='/ui/disarm/T0118']").await;
    let src = d.source().await;
    assert!(src.contains("Amplify Existing Narrative") && src.contains("Leaked grid documents"));
    found.check(d, axe, Some("disarm-technique.png")).await;
    // Assistance: ncsc-nl files a request through the form (a first try without title, TLP or
    // collection comes back with what is missing, what was typed kept), cert-pl offers on it,
    // ncsc-nl matches, cert-pl accepts, ncsc-nl delivers and closes.
    d.sign_in(base, "nl-analyst").await;
    d.go(&format!("{base}/ui/assist")).await;
    found.check(d, axe, Some("assist-board.png")).await;
    d.click("a[href='/ui/assist/new']").await;
    assert!(d.url().await.ends_with("/ui/assist/new"));
    d.typ(
        "#r-description",
        "PLC logic of the pumping stations altered; OT responders needed on site.",
    )
    .await;
    d.click("#r-svc-0").await;
    found.check(d, axe, None).await;
    d.click("form.request button[type=submit]").await;
    let src = d.source().await;
    assert!(
        src.contains("The request was not filed") && src.contains("Give the request a title"),
        "the form's errors"
    );
    assert!(
        src.contains("PLC logic of the pumping stations altered"),
        "kept"
    );
    found.check(d, axe, Some("assist-request-errors.png")).await;
    // Again, from a fresh form, right this time.
    d.go(&format!("{base}/ui/assist/new")).await;
    d.typ(
        "#r-description",
        "PLC logic of the pumping stations altered; OT responders needed on site.",
    )
    .await;
    d.click("#r-svc-0").await;
    d.typ("#r-name", "OT responders for the pumping stations")
        .await;
    d.typ("#r-needs", "incident-response:8:person-days").await;
    d.choose("#r-sector", "drinking-water").await;
    d.choose("#r-urgency", "immediate").await;
    d.typ("#r-severity", "70").await;
    d.choose("#r-entity-class", "essential").await;
    d.choose("#r-incident", &ids[3]).await;
    let energy = d
        .run("return [...document.querySelectorAll('#r-collection option')].find(o => o.textContent === 'Energy sector').value;")
        .await;
    d.choose("#r-collection", energy.as_str().unwrap()).await;
    d.click("#r-tlp-amber").await;
    found.check(d, axe, Some("assist-request.png")).await;
    d.click("form.request button[type=submit]").await;
    let req = d.url().await;
    assert!(req.contains("/ui/assist/assistance-request--"), "{req}");
    assert!(
        d.source()
            .await
            .contains("OT responders for the pumping stations")
    );
    d.sign_in(base, "pl-analyst").await;
    d.go(&req).await;
    found.check(d, axe, None).await;
    d.typ("#of-name", "CERT Polska OT response team").await;
    d.typ("#of-lead", "36").await;
    d.click("form[action$='/offer'] button[type=submit]").await;
    assert!(d.url().await.contains("/ui/assist/assistance-request--"));
    assert!(d.source().await.contains("CERT Polska OT response team"));
    found.check(d, axe, Some("assist-offer.png")).await;
    d.sign_in(base, "nl-analyst").await;
    d.go(&req).await;
    found.check(d, axe, None).await;
    d.click("form[action$='/match'] input[type=checkbox]").await;
    d.click("form[action$='/match'] button[type=submit]").await;
    assert!(d.source().await.contains("<strong>matched</strong>"));
    found.check(d, axe, Some("assist-matched.png")).await;
    d.sign_in(base, "pl-analyst").await;
    d.go(&req).await;
    d.choose("form.inline select", "accepted").await;
    d.click("form.inline button[type=submit]").await;
    assert!(
        d.source().await.contains("st-accepted"),
        "the provider accepted"
    );
    found.check(d, axe, None).await;
    d.sign_in(base, "nl-analyst").await;
    d.go(&req).await;
    d.choose("#a-to", "in-delivery").await;
    d.click("form[action$='/advance'] button[type=submit]")
        .await;
    found.check(d, axe, None).await;
    d.typ("#c-svc", "On-site OT incident response at the utility")
        .await;
    d.typ("#c-res", "PLC logic restored and verified").await;
    d.typ("#c-les", "Remote access to PLCs only through the jump host")
        .await;
    d.typ("#c-sat", "85").await;
    d.click("form[action$='/close'] button[type=submit]").await;
    let src = d.source().await;
    assert!(src.contains("After-action report") && src.contains("st-closed"));
    found.check(d, axe, Some("assist-closed.png")).await;
    // The federation status, as the admin.
    d.sign_in(base, "admin").await;
    d.go(&format!("{base}/ui/federation")).await;
    assert!(d.source().await.contains("<h1>Federation</h1>"));
    found.check(d, axe, Some("federation-status.png")).await;
    // Sign out by the button; the console is closed after.
    d.click(".who button").await;
    assert!(d.url().await.contains("/ui/sign-in"), "{}", d.url().await);
    d.go(&format!("{base}/ui/assist")).await;
    assert!(d.url().await.contains("/ui/sign-in"), "signed out");
    let _ = d.cmd("DELETE", "", Value::Null).await;
    assert!(found.pages >= 20, "{} pages checked", found.pages);
    assert!(
        found.axe.is_empty() && found.keyboard.is_empty(),
        "serious or critical accessibility violations: {:#?}\nkeyboard: {:#?}",
        found.axe,
        found.keyboard
    );
}
