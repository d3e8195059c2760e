//! The operator's kit through the real binary over real HTTP: `/metrics` (admins only on the
//! main listener, `# HELP`/`# TYPE`, gauges from the store, or unauthenticated on
//! `metrics_listen`), JSON logs without colour codes, the demo's users and temporary folder,
//! `backup` of a SQLite node while it keeps receiving POSTs and `restore` into a new directory
//! served with the same listings, versions and `next` cursors, and the packaging commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};

use crate::nodes;

const ACCEPT: &str = "application/taxii+json;version=2.1";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
}

/// The demo's indicators collection (`coalition` API root), writable by `ee-analyst`.
fn indicators() -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44),
        b"coalition-indicators",
    )
    .to_string()
}

/// A configuration file in `dir`: the demo coalition (users with password `demo`), data in
/// `dir/data`, an empty store, `extra` lines appended to `[server]`.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let cfg = shieldwall::demo::config("127.0.0.1:0", &dir.join("data")).unwrap();
    let mut text = toml::to_string(&cfg).unwrap();
    if !extra.is_empty() {
        text = text.replacen("[server]\n", &format!("[server]\n{extra}\n"), 1);
    }
    let path = dir.join("shieldwall.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn serve(config: &Path) -> (Child, String) {
    nodes::serve_child(bin().args(["serve", "--config"]).arg(config))
}

fn runtime() -> tokio::runtime::Runtime {
    shieldwall::tls::ensure_provider();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn indicator(id: &str, modified: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
        "modified": modified, "pattern": "[domain-name:value = 'backup.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z", "name": format!("ops {id}"),
        "object_marking_refs": [stix::tlp::TLP2_GREEN]})
}

fn id(batch: usize, i: usize) -> String {
    format!("indicator--{batch:08x}-0000-4000-8000-{i:012x}")
}

async fn post(c: &reqwest::Client, base: &str, objects: Vec<Value>) -> u16 {
    c.post(format!(
        "{base}/coalition/collections/{}/objects/",
        indicators()
    ))
    .basic_auth("ee-analyst", Some("demo"))
    .header("Accept", ACCEPT)
    .header("Content-Type", ACCEPT)
    .body(json!({ "objects": objects }).to_string())
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c
        .get(url)
        .basic_auth("ee-analyst", Some("demo"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// One page of the collection's objects (all versions): objects, `more`, `next`.
async fn page(
    c: &reqwest::Client,
    base: &str,
    limit: usize,
    next: Option<&str>,
) -> (Vec<Value>, bool, Option<String>) {
    let mut url = format!(
        "{base}/coalition/collections/{}/objects/?match[version]=all&limit={limit}",
        indicators()
    );
    if let Some(n) = next {
        url.push_str(&format!("&next={n}"));
    }
    let (status, body) = get_json(c, &url).await;
    assert_eq!(status, 200, "{url}: {body}");
    (
        body["objects"].as_array().cloned().unwrap_or_default(),
        body["more"].as_bool().unwrap_or(false),
        body["next"].as_str().map(str::to_owned),
    )
}

/// Every object version of the collection, paging `limit` at a time through `next`.
async fn listing(c: &reqwest::Client, base: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let (objs, more, n) = page(c, base, limit, next.as_deref()).await;
        all.extend(objs);
        if !more {
            break;
        }
        next = Some(n.expect("`more` comes with `next`"));
    }
    all
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn backup_of_a_running_node_restores_to_the_same_listings_versions_and_cursors() {
    let a = tempfile::tempdir().unwrap();
    let config = write_config(a.path(), "");
    let (mut node_a, base_a) = serve(&config);
    let rt = runtime();
    let c = reqwest::Client::new();

    // Before the backup: 10 envelopes of 40 objects, then a second version of 25 of them.
    let acknowledged = rt.block_on(async {
        for batch in 0..10 {
            let objs = (0..40)
                .map(|i| indicator(&id(batch, i), "2026-01-01T00:00:00.000Z"))
                .collect();
            assert_eq!(post(&c, &base_a, objs).await, 202);
        }
        let objs = (0..25)
            .map(|i| indicator(&id(0, i), "2026-02-01T00:00:00.000Z"))
            .collect();
        assert_eq!(post(&c, &base_a, objs).await, 202);
        listing(&c, &base_a, 1000).await.len()
    });
    assert_eq!(acknowledged, 425);

    // The backup runs while clients keep posting.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, base, c) = (stop.clone(), base_a.clone(), c.clone());
        rt.spawn(async move {
            let mut batch = 100;
            let mut accepted = 0;
            while !stop.load(Ordering::Relaxed) {
                let objs = (0..20)
                    .map(|i| indicator(&id(batch, i), "2026-01-01T00:00:00.000Z"))
                    .collect();
                if post(&c, &base, objs).await == 202 {
                    accepted += 1;
                }
                batch += 1;
            }
            accepted
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("node.backup");
    let backup = bin()
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let posted_during = rt.block_on(writer).unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(posted_during > 0, "POSTs went on during the backup");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no working files left beside the backup"
    );

    // Never over an existing file.
    let before = std::fs::read(&file).unwrap();
    let again = bin()
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Restore into a new directory and serve it.
    let b = tempfile::tempdir().unwrap();
    let into = b.path().join("restored");
    let restore = bin()
        .arg("restore")
        .arg(&file)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&into.join("shieldwall.toml")), 0o600);
        assert_eq!(mode(&into.join("data/shieldwall.db")), 0o600);
        assert_eq!(mode(&into.join("data")), 0o700);
    }
    // Not into a folder that holds something.
    let refused = bin()
        .arg("restore")
        .arg(&file)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));

    let (mut node_b, base_b) = serve(&into.join("shieldwall.toml"));
    rt.block_on(async {
        let original = listing(&c, &base_a, 1000).await;
        let restored = listing(&c, &base_b, 1000).await;
        eprintln!(
            "backup: {} object versions acknowledged before, {} envelopes posted during, {} in the \
             snapshot, {} on the original at the end",
            acknowledged,
            posted_during,
            restored.len(),
            original.len()
        );
        // The snapshot is the original at one commit: a prefix of its date_added order holding
        // everything acknowledged before the backup began.
        assert!(restored.len() >= acknowledged);
        assert!(restored.len() <= original.len());
        assert_eq!(restored[..], original[..restored.len()]);
        // Small pages through `next` give the same sequence.
        assert_eq!(listing(&c, &base_b, 7).await, restored);
        // A cursor the original issued works on the restored node (the cursor key is in the
        // store) and gives the same page.
        let (_, _, next) = page(&c, &base_a, 50, None).await;
        let next = next.unwrap();
        let (on_a, _, next_a) = page(&c, &base_a, 50, Some(&next)).await;
        let (on_b, _, next_b) = page(&c, &base_b, 50, Some(&next)).await;
        assert_eq!(on_a, on_b);
        assert_eq!(next_a.is_some(), next_b.is_some());
        // Versions of an object with two.
        for i in [0, 24] {
            let url = |base: &str| {
                format!(
                    "{base}/coalition/collections/{}/objects/{}/versions/",
                    indicators(),
                    id(0, i)
                )
            };
            let (sa, va) = get_json(&c, &url(&base_a)).await;
            let (sb, vb) = get_json(&c, &url(&base_b)).await;
            assert_eq!((sa, sb), (200, 200));
            assert_eq!(va["versions"].as_array().unwrap().len(), 2);
            assert_eq!(va["versions"], vb["versions"]);
        }
        // The restored node takes writes.
        let objs = vec![indicator(&id(9999, 1), "2026-01-01T00:00:00.000Z")];
        assert_eq!(post(&c, &base_b, objs).await, 202);
    });
    node_a.kill().unwrap();
    node_b.kill().unwrap();
    let _ = (node_a.wait(), node_b.wait());
}

/// Reads `child`'s stdout lines until one satisfies `done` (or the output ends).
fn read_until(reader: &mut impl BufRead, done: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            return lines;
        }
        let stop = done(&line);
        lines.push(line);
        if stop {
            return lines;
        }
    }
}

#[test]
fn metrics_are_for_admins_with_help_type_and_store_gauges_and_logs_are_json() {
    let data = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "--log-format",
            "json",
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let lines = read_until(&mut out, |l| l.contains("try: curl"));
    let base = lines[0]
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches("/taxii2/")
        .to_owned();
    let text = lines.concat();
    assert!(text.contains("demo users"), "{text}");
    assert!(
        text.contains("admin") && text.contains("ee-analyst"),
        "{text}"
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let logs = read_until(&mut err, |l| l.contains("Listening"));
    let listening = logs.last().unwrap();
    assert!(
        !logs.concat().contains('\u{1b}'),
        "no colour codes: {logs:?}"
    );
    let v: Value = serde_json::from_str(listening).expect("one JSON object per line");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["message"], "Listening.");

    let rt = runtime();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let url = format!("{base}/metrics");
        // A wrong password and a POST, to be counted.
        let r = c
            .get(format!("{base}/taxii2/"))
            .basic_auth("ee-soc", Some("wrong-password"))
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let objs = (0..3)
            .map(|i| indicator(&id(7, i), "2026-01-01T00:00:00.000Z"))
            .collect();
        assert_eq!(post(&c, &base, objs).await, 202);

        let anonymous = c.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        assert!(!anonymous.text().await.unwrap().contains("shieldwall_"));
        let reader = c
            .get(&url)
            .basic_auth("ee-soc", Some("demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(reader.status().as_u16(), 404, "a reader sees no metrics");
        assert!(!reader.text().await.unwrap().contains("shieldwall_"));

        let admin = c
            .get(&url)
            .basic_auth("admin", Some("demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status().as_u16(), 200);
        assert!(
            admin.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let m = admin.text().await.unwrap();
        for (name, kind) in [
            ("shieldwall_failed_logins_total", "counter"),
            ("shieldwall_objects_added_total", "counter"),
            ("shieldwall_collection_object_versions", "gauge"),
            ("shieldwall_sync_held_versions", "gauge"),
            ("shieldwall_sync_refused_objects", "gauge"),
            ("shieldwall_http_requests_total", "counter"),
        ] {
            assert!(m.contains(&format!("# HELP {name} ")), "{name}: {m}");
            assert!(
                m.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}: {m}"
            );
        }
        let value = |prefix: &str| -> f64 {
            m.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {prefix}: {m}"))
        };
        assert!(value("shieldwall_failed_logins_total{kind=\"password\"}") >= 1.0);
        assert_eq!(
            value("shieldwall_failed_logins_total{kind=\"throttled\"}"),
            0.0
        );
        assert!(value("shieldwall_objects_added_total") >= 3.0);
        // The demo's seeded collection and the three posted versions.
        let coll = format!(
            "shieldwall_collection_object_versions{{collection=\"{}\"}}",
            indicators()
        );
        assert!(value(&coll) >= 3.0, "{m}");
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn metrics_listen_serves_them_apart_and_not_on_the_main_listener() {
    let dir = tempfile::tempdir().unwrap();
    let port = nodes::free_port("127.0.0.1");
    let config = write_config(
        dir.path(),
        &format!("metrics_listen = \"127.0.0.1:{port}\""),
    );
    let (mut child, base) = serve(&config);
    let rt = runtime();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut apart = None;
        for _ in 0..50 {
            if let Ok(r) = c
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
            {
                apart = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let apart = apart.expect("the metrics listener answers");
        assert_eq!(apart.status().as_u16(), 200);
        let m = apart.text().await.unwrap();
        assert!(
            m.contains("# TYPE shieldwall_collection_object_versions gauge"),
            "{m}"
        );
        let other = c
            .get(format!("http://127.0.0.1:{port}/taxii2/"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status().as_u16(), 404, "only the metrics there");
        let main = c
            .get(format!("{base}/metrics"))
            .basic_auth("admin", Some("demo"))
            .send()
            .await
            .unwrap();
        assert_eq!(main.status().as_u16(), 404);
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
#[test]
fn the_demo_removes_its_temporary_folder_on_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, _) = nodes::serve_child(
        bin()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .env("TMPDIR", tmp.path()),
    );
    let folder = tmp.path().join(format!("shieldwall-demo-{}", child.id()));
    assert!(folder.join("shieldwall.db").is_file(), "{folder:?}");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!folder.exists(), "{folder:?} removed");
}

#[test]
fn version_completions_and_man_pages() {
    let v = bin().arg("--version").output().unwrap();
    let v = String::from_utf8(v.stdout).unwrap();
    assert!(v.starts_with("shieldwall 0."), "{v}");
    assert!(v.contains("(commit ") && v.contains(", built 20"), "{v}");
    for (shell, mark) in [
        ("bash", "_shieldwall()"),
        ("zsh", "#compdef shieldwall"),
        ("fish", "complete -c shieldwall"),
    ] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(mark), "{shell}");
        assert!(
            script.contains("backup"),
            "{shell}: subcommands are completed"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let page = std::fs::read_to_string(dir.path().join("shieldwall-backup.1")).unwrap();
    assert!(page.contains(".TH shieldwall-backup"), "{page}");
    assert!(dir.path().join("shieldwall.1").is_file());
    assert!(dir.path().join("shieldwall-admin-add-user.1").is_file());
}

#[test]
fn add_user_refuses_short_and_common_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let add = |password: &str| {
        let mut child = bin()
            .args([
                "admin", "add-user", "carol", "--member", "cert-ee", "--role", "reader", "--config",
            ])
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            format!("{password}\n").as_bytes(),
        )
        .unwrap();
        child.wait_with_output().unwrap()
    };
    for weak in ["short", "Password123", "qwertyuiop", "carol"] {
        let out = add(weak);
        assert_eq!(out.status.code(), Some(2), "{weak}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("password refused"));
    }
    assert!(!std::fs::read_to_string(&config).unwrap().contains("carol"));
    assert!(add("a long passphrase of mine").status.success());
    assert!(std::fs::read_to_string(&config).unwrap().contains("carol"));
}

#[test]
fn sync_explain_needs_neither_the_peer_secret_nor_peer_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let coll = indicators();
    // The demo has no peers: `peers = []` makes way for a `[[peers]]` table.
    let mut text = std::fs::read_to_string(&config)
        .unwrap()
        .replacen("peers = []\n", "", 1);
    text.push_str(&format!(
        "\n[[peers]]\nname = \"far\"\nurl = \"http://127.0.0.1:9\"\napi_root = \"coalition\"\n\
         member = \"cert-lv\"\ntoken_env = \"SHIELDWALL_OPS_TEST_UNSET_TOKEN\"\n\
         collections = [ {{ local = \"{coll}\", remote = \"{coll}\", direction = \"push\" }} ]\n"
    ));
    std::fs::write(&config, text).unwrap();
    let db = format!(
        "sqlite://{}",
        dir.path().join("data/shieldwall.db").display()
    );
    runtime().block_on(async { shieldwall::store::AnyStore::open(&db).await.unwrap() });
    let out = bin()
        .args(["sync", "--explain", &id(1, 1), "--config"])
        .arg(&config)
        .env_remove("SHIELDWALL_OPS_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pushed to `far`"), "{stdout}");
    // Running a sync still needs the secret.
    let run = bin()
        .args(["sync", "--once", "--config"])
        .arg(&config)
        .env_remove("SHIELDWALL_OPS_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("SHIELDWALL_OPS_TEST_UNSET_TOKEN"));
}

/// The console's views are warmed at the start and again after a reload: a member and its user
/// added through the admin API (a new member view) are in the next warm-up, without a restart.
#[test]
fn the_console_is_warmed_again_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let port = nodes::free_port("127.0.0.1");
    let config = write_config(
        dir.path(),
        &format!("metrics_listen = \"127.0.0.1:{port}\""),
    );
    let (mut child, base) = serve(&config);
    let rt = runtime();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let metrics_url = format!("http://127.0.0.1:{port}/metrics");
        let read = |c: reqwest::Client, url: String| async move {
            let m = match c.get(&url).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let value = |name: &str| {
                m.lines()
                    .find(|l| l.starts_with(&format!("{name} ")))
                    .and_then(|l| l.rsplit(' ').next())
                    .and_then(|v| v.parse::<f64>().ok())
            };
            (
                value("shieldwall_console_warm_ups_total"),
                value("shieldwall_console_views_warm"),
            )
        };
        // The warm-up at the start (generous bound: the machine may be loaded).
        let mut first = (None, None);
        for _ in 0..600 {
            first = read(c.clone(), metrics_url.clone()).await;
            if first.0 >= Some(1.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(first.0, Some(1.0), "one warm-up at the start");
        let views = first.1.expect("views warmed");
        assert!(views >= 1.0, "{first:?}");

        // A new member with a user of its own: a member view the node did not have.
        let admin = |rb: reqwest::RequestBuilder| rb.basic_auth("admin", Some("demo"));
        let r = admin(c.post(format!("{base}/admin/members")))
            .json(&json!({"id": "cert-xx", "name": "CERT-XX"}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 201, "{}", r.text().await.unwrap());
        let r = admin(c.post(format!("{base}/admin/users")))
            .json(
                &json!({"name": "xx-analyst", "member": "cert-xx", "role": "contributor",
                "password": "xx-analyst-s3cret"}),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 201, "{}", r.text().await.unwrap());

        // Each change is a reload, each reload a warm-up (folded when they come together): the
        // latest one counts the new member's view.
        let mut after = first;
        for _ in 0..600 {
            after = read(c.clone(), metrics_url.clone()).await;
            if after.0 >= Some(2.0) && after.1 == Some(views + 1.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            after.0 >= Some(2.0),
            "warmed again after the reload: {after:?}"
        );
        assert_eq!(
            after.1,
            Some(views + 1.0),
            "the new member's view: {after:?}"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
}
