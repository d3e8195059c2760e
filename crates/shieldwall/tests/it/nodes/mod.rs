//! Shared by the multi-node tests (`federation`, `federation_tls`, `coord_scenario`,
//! `scan_report`, `durability`, `cli`): API-key tokens and their digests, identities per member,
//! and a `shieldwall serve` child process (`serve_child`; `Node` on 127.0.0.x). Each test adds its own `impl Node` methods beside these.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use sha2::{Digest, Sha256};

/// Spawns `cmd` (a `shieldwall serve …`) with its stdout piped and stderr discarded, waits for
/// its first line ("serving TAXII 2.1 on URL/taxii2/ …") and returns the child and the base URL
/// (without `/taxii2/`). Panics with that line when the server did not start.
pub fn serve_child(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .filter(|_| line.contains("serving TAXII"))
        .map(|w| w.trim_end_matches("/taxii2/").to_owned());
    match base {
        Some(base) => (child, base),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not start: {line:?}")
        }
    }
}

/// The three nodes: name, member, loopback address.
pub const NODES: [(&str, &str, &str); 3] = [
    ("a", "ma", "127.0.0.1"),
    ("b", "mb", "127.0.0.2"),
    ("c", "mc", "127.0.0.3"),
];

/// The STIX identity of a member named `m<letter>`.
pub fn identity(member: &str) -> String {
    let n = member.as_bytes()[1];
    format!("identity--{n:08x}-0000-4000-8000-000000000000")
}

/// The bearer token of the API key `key`.
pub fn token(key: &str) -> String {
    format!("sw_{key}_s3cret-{key}")
}

/// The digest of [`token`] as the configuration stores it.
pub fn digest(key: &str) -> String {
    Sha256::digest(token(key).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A port free on `ip` at the time of asking.
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One node: its configuration directory and, while running, its `serve` process.
pub struct Node {
    pub name: &'static str,
    pub member: &'static str,
    pub addr: String,
    pub dir: PathBuf,
    pub child: Option<Child>,
}

impl Node {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("shieldwall.toml")
    }
    /// Starts `shieldwall serve` and waits for its "serving TAXII" line.
    pub fn start(&mut self) {
        let (child, _) = serve_child(
            Command::new(env!("CARGO_BIN_EXE_shieldwall"))
                .args(["serve", "--config"])
                .arg(self.config()),
        );
        self.child = Some(child);
    }
    /// Kills the node (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes `node`'s configuration: `[server]` on its address, `[sync]` as its member, the API
/// root `sync`, then `body` (trust groups and collections), the node's own API key
/// `local-<name>`, every member of `all` (name, member, URL), and for each other node the key it
/// uses here (`peer-<peer>`) and a `[[peers]]` entry whose `collections` list holds
/// `mappings(peer)` (whole lines).
pub fn write_node_config(
    node: &Node,
    all: &[(&str, &str, String)],
    body: &str,
    mappings: impl Fn(&str) -> String,
) {
    let mut t = format!(
        r#"[server]
listen = "{addr}"
data_dir = "{data}"
default_tlp = "amber"

[sync]
member = "{member}"

[[api_roots]]
name = "sync"
title = "Sync"
default = true
{body}
[[api_keys]]
id = "local-{name}"
member = "{member}"
role = "contributor"
digest = "{local_digest}"
"#,
        addr = node.addr,
        data = node.dir.join("data").display(),
        member = node.member,
        name = node.name,
        local_digest = digest(&format!("local-{}", node.name)),
    );
    for (_, m, _) in all {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"Member {m}\"\nidentity = \"{}\"\n",
            identity(m)
        ));
    }
    for (peer, peer_member, url) in all.iter().filter(|(n, _, _)| *n != node.name) {
        t.push_str(&format!(
            "\n[[api_keys]]\nid = \"peer-{peer}\"\nmember = \"{peer_member}\"\nrole = \"contributor\"\ndigest = \"{}\"\n",
            digest(&format!("peer-{peer}"))
        ));
        t.push_str(&format!(
            r#"
[[peers]]
name = "{peer}"
url = "{url}"
api_root = "sync"
member = "{peer_member}"
token = "{tok}"
inbound_actor = "key:peer-{peer}"
timeout_seconds = 5
page_size = 200
collections = [
{mappings}]
"#,
            mappings = mappings(peer),
            tok = token(&format!("peer-{}", node.name)),
        ));
    }
    std::fs::write(node.config(), t).unwrap();
}

/// The three [`NODES`], each with a folder under `root` and a free port on its own loopback
/// address (not started), and the (name, member, URL) list their configurations name.
pub fn three_nodes(
    root: &std::path::Path,
) -> (Vec<Node>, Vec<(&'static str, &'static str, String)>) {
    let nodes: Vec<Node> = NODES
        .iter()
        .map(|(name, member, ip)| {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            Node {
                name,
                member,
                addr: format!("{ip}:{}", free_port(ip)),
                dir,
                child: None,
            }
        })
        .collect();
    let all = nodes.iter().map(|n| (n.name, n.member, n.url())).collect();
    (nodes, all)
}
