//! Shared by the hub's end-to-end tests: start a real server on 127.0.0.1 over a real store,
//! make a throw-away PostgreSQL database, talk TAXII with reqwest.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::PathBuf;

use shieldwall::{config::Checked, server, store::AnyStore};

pub const ACCEPT: &str = "application/taxii+json;version=2.1";

/// A running server.
pub struct Node {
    pub base: String,
    pub store: AnyStore,
    pub coalition: std::sync::Arc<shieldwall::coalition::Coalition>,
    /// The console's state (its caches and the warm-up's progress).
    pub console: hub::console::Console,
    task: tokio::task::JoinHandle<()>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server for `checked` over `store` on an ephemeral loopback port.
pub async fn start(checked: &Checked, store: AnyStore) -> Node {
    let (listener, addr) = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{addr}");
    let state = server::app_state(checked, store.clone(), base.clone())
        .await
        .unwrap();
    let coalition = state.coalition.clone();
    let console = state.console.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Node {
        base,
        store,
        coalition,
        console,
        task,
        _stop: tx,
    }
}

/// A throw-away database on the test PostgreSQL, dropped by [`PgDb::drop`].
pub struct PgDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDb {
    pub async fn create(what: &str) -> Option<PgDb> {
        let admin_url = testenv::postgres_url(what)?;
        let name = format!("sw_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = match admin_url.rfind('/') {
            Some(i) if admin_url[..i].contains("://") && i > admin_url.find("://").unwrap() + 2 => {
                &admin_url[..i]
            }
            _ => admin_url.as_str(),
        };
        Some(PgDb {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    pub async fn drop_db(self, store: Option<AnyStore>) {
        if let Some(AnyStore::Postgres(pg)) = store {
            pg.pool().close().await;
        }
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// A fresh SQLite database path in a temp dir (kept alive by the returned guard).
pub fn sqlite_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    (dir, path)
}

pub fn client() -> reqwest::Client {
    shieldwall::tls::ensure_provider();
    reqwest::Client::builder().build().unwrap()
}

/// GET with TAXII Accept and Basic auth; returns status, headers, body (JSON or Null).
pub async fn get(
    c: &reqwest::Client,
    url: &str,
    user: &str,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let r = c
        .get(url)
        .basic_auth(user, Some("demo"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

// --- Running the `shieldwall` binary ---------------------------------------------------------

/// Runs `shieldwall ARGS` in `dir` and returns its output.
pub fn sw(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .current_dir(dir)
        .args(args)
        .env("SHIELDWALL_LOG", "error")
        .output()
        .unwrap()
}

/// Runs `shieldwall ARGS`, writing `stdin` (when given) to its standard input from another
/// thread so that a large input cannot deadlock against a full output pipe.
pub fn shieldwall_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    run_shieldwall(None, args, stdin)
}

/// Runs `shieldwall ARGS` in `dir`, writing `stdin` (when given) as `shieldwall_with_stdin` does.
pub fn sw_stdin(
    dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> std::process::Output {
    run_shieldwall(Some(dir), args, stdin)
}

fn run_shieldwall(
    dir: Option<&std::path::Path>,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> std::process::Output {
    use std::{io::Write, process::Stdio};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shieldwall"));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.map(<[u8]>::to_vec);
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        if let Some(bytes) = input {
            let _ = pipe.write_all(&bytes);
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// The standard output of a run that must have succeeded (else a failure showing both streams).
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The standard error of a run, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A run's exit status and both streams, for failure messages.
pub fn show(o: &std::process::Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The objects of type `t` among `objects`.
pub fn of_type<'a>(objects: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    objects.iter().filter(|o| o["type"] == t).collect()
}

// --- The three-member coalition of the coordination and publishing suites ------------------

/// The shared collection (trust group `grid`: `ma` and `mb`; readable and writable by all).
pub const SHARED: &str = "33333333-3333-4333-8333-333333333333";
/// A collection only `ma` may read and write.
pub const PRIVATE: &str = "44444444-4444-4444-8444-444444444444";
/// The members: `ma` and `mb` in the trust group, `mc` outside it.
pub const MEMBERS: [&str; 3] = ["ma", "mb", "mc"];

pub use crate::nodes::identity;

/// Writes `dir/shieldwall.toml` for the three-member coalition (data in `dir/data`), with
/// `server_extra` (whole lines) added to `[server]`; returns its path.
pub fn write_grid_config(dir: &std::path::Path, server_extra: &str) -> PathBuf {
    let mut t = format!(
        r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
default_tlp = "amber"
{server_extra}
[[api_roots]]
name = "hub"
title = "Hub"
default = true

[[trust_groups]]
id = "grid"
members = ["ma", "mb"]

[[collections]]
id = "{SHARED}"
api_root = "hub"
title = "Shared"
alias = "shared"
trust_group = "grid"
read = ["*"]
write = ["*"]

[[collections]]
id = "{PRIVATE}"
api_root = "hub"
title = "Private to ma"
alias = "private"
read = ["ma"]
write = ["ma"]
"#,
        data = dir.join("data").display()
    );
    for m in MEMBERS {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"Member {m}\"\nidentity = \"{}\"\n",
            identity(m)
        ));
    }
    let p = dir.join("shieldwall.toml");
    std::fs::write(&p, t).unwrap();
    p
}
