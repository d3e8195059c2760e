//! Sync over real HTTPS on 127.0.0.1, with a CA and a server certificate generated here: node A
//! runs `shieldwall serve` with `tls_cert`/`tls_key`; node B (`shieldwall sync --once`) pulls
//! from and pushes to A over https, trusting only that CA. A serves B's pull through the egress
//! rule (B's node account is A's `inbound_actor` for peer `b`): exactly CLEAR/GREEN, AMBER of the
//! shared trust group, and never what came from B. A peer whose certificate another CA signed is
//! refused with a clear error, and so is a key that does not fit the server's certificate. With
//! `server.tls_client_ca` (mutual TLS), A admits only clients with a certificate of that CA, and
//! B syncs with its `client_cert`/`client_key`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::ACCEPT;
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
};

use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use shieldwall::store::{AnyStore, Store};
use stix::tlp;

use crate::nodes;
use nodes::{digest, token};

const INTEL: &str = "11111111-1111-4111-8111-111111111111";

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

/// A self-signed CA named `common_name`: its parameters, key and PEM certificate.
fn new_ca(common_name: String) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let pem = ca.self_signed(&ca_key).unwrap().pem();
    (ca, ca_key, pem)
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it.
fn pki(name: &str) -> Pki {
    let (ca, ca_key, ca_pem) = new_ca(format!("{name} test CA"));
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    Pki {
        ca_pem,
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

fn members() -> String {
    let mut t = String::new();
    for (m, n) in [("ma", 0xa), ("mb", 0xb), ("mx", 0xc)] {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"Member {m}\"\nidentity = \"identity--{n:08x}-0000-4000-8000-000000000000\"\n"
        ));
    }
    t
}

fn collection() -> String {
    format!(
        r#"
[[api_roots]]
name = "sync"
title = "Sync"
default = true

[[trust_groups]]
id = "west"
members = ["ma", "mb"]

[[collections]]
id = "{INTEL}"
api_root = "sync"
title = "Intel"
trust_group = "west"
read = ["*"]
write = ["*"]
"#
    )
}

/// Node A: serves HTTPS; B's node account is `key:peer-b`.
fn config_a(dir: &Path, port: u16) -> PathBuf {
    let t = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
tls_cert = "{cert}"
tls_key = "{key}"
data_dir = "{data}"
default_tlp = "amber"

[sync]
member = "ma"
{collection}{members}
[[api_keys]]
id = "local-a"
member = "ma"
role = "contributor"
digest = "{local}"

[[api_keys]]
id = "peer-b"
member = "mb"
role = "contributor"
digest = "{peer}"

[[peers]]
name = "b"
url = "https://127.0.0.1:1"
api_root = "sync"
member = "mb"
inbound_actor = "key:peer-b"
"#,
        cert = dir.join("cert.pem").display(),
        key = dir.join("key.pem").display(),
        data = dir.join("data").display(),
        collection = collection(),
        members = members(),
        local = digest("local-a"),
        peer = digest("peer-b"),
    );
    let path = dir.join("a.toml");
    std::fs::write(&path, t).unwrap();
    path
}

/// Node B: pulls from and pushes to A over https, trusting only `ca`.
fn config_b(dir: &Path, port: u16, ca: &Path) -> PathBuf {
    let t = format!(
        r#"[server]
data_dir = "{data}"
default_tlp = "amber"

[sync]
member = "mb"
{collection}{members}
[[peers]]
name = "a"
url = "https://127.0.0.1:{port}"
api_root = "sync"
member = "ma"
token = "{tok}"
ca_cert = "{ca}"
tls_only_ca_cert = true
timeout_seconds = 5
page_size = 2
collections = [{{ local = "{INTEL}", remote = "{INTEL}", direction = "both" }}]
"#,
        data = dir.join("data").display(),
        collection = collection(),
        members = members(),
        tok = token("peer-b"),
        ca = ca.display(),
    );
    let path = dir.join(format!(
        "b-{}.toml",
        ca.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, t).unwrap();
    path
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(config: &Path) -> Result<Server, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["serve", "--config"])
        .arg(config)
        .env("SHIELDWALL_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.contains("serving TAXII") {
        Ok(Server(child))
    } else {
        let out = child.wait_with_output().unwrap();
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sync(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["sync", "--once", "--config"])
        .arg(config)
        .env("SHIELDWALL_LOG", "error")
        .output()
        .unwrap()
}

fn indicator(n: u32, marking: Option<&str>) -> Value {
    let mut o = json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{n:08x}-0000-4000-8000-0000000000aa"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'tls.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"});
    if let Some(m) = marking {
        o["object_marking_refs"] = json!([m]);
    }
    o
}

/// An HTTPS client trusting only `ca_pem`, presenting `client`'s certificate when given.
fn https_client_for(ca_pem: &str, client: Option<&Pki>) -> reqwest::Client {
    shieldwall::tls::ensure_provider();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match client {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let chain = rustls_pki_types::CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key =
                rustls_pki_types::PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .build()
        .unwrap()
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    https_client_for(ca_pem, None)
}

async fn ids_in(db: &Path) -> BTreeSet<String> {
    let store = AnyStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let mut out = BTreeSet::new();
    for p in store.placements().await.unwrap() {
        assert!(out.insert(p.id.clone()), "one version each: {}", p.id);
    }
    out
}

/// Every id listed to `key`, page by page (`limit=2`), with the `more`/`next` protocol.
async fn listed(c: &reqwest::Client, base: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut url = format!("{base}/sync/collections/{INTEL}/objects/?limit=2");
        if let Some(n) = &next {
            url.push_str(&format!("&next={n}"));
        }
        let resp = c
            .get(&url)
            .bearer_auth(token(key))
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        for o in body["objects"].as_array().into_iter().flatten() {
            out.push(o["id"].as_str().unwrap().to_owned());
        }
        match body["next"].as_str() {
            Some(n) if body["more"] == true => next = Some(n.to_owned()),
            _ => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_over_https_with_a_generated_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = pki("good");
    let other = pki("other");
    std::fs::write(dir.join("cert.pem"), &good.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &good.key_pem).unwrap();
    std::fs::write(dir.join("ca.pem"), &good.ca_pem).unwrap();
    std::fs::write(dir.join("other-ca.pem"), &other.ca_pem).unwrap();
    let port = nodes::free_port("127.0.0.1");
    let a_cfg = config_a(dir, port);
    let dir_b = dir.join("b");
    std::fs::create_dir_all(&dir_b).unwrap();
    let b_cfg = config_b(&dir_b, port, &dir.join("ca.pem"));
    let b_bad = config_b(&dir_b, port, &dir.join("other-ca.pem"));

    // A key that does not fit the certificate is refused at start, naming the setting.
    std::fs::write(dir.join("key.pem"), &other.key_pem).unwrap();
    let refused = serve(&a_cfg)
        .err()
        .expect("a mismatched key must be refused");
    assert!(
        refused.contains("tls_key") && refused.contains("key.pem"),
        "{refused}"
    );
    std::fs::write(dir.join("key.pem"), &good.key_pem).unwrap();
    let _a = serve(&a_cfg).unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let https = https_client(&good.ca_pem);

    let (clear, green, amber, strict, red, unmarked) = (
        indicator(1, Some(tlp::TLP2_CLEAR)),
        indicator(2, Some(tlp::TLP2_GREEN)),
        indicator(3, Some(tlp::TLP2_AMBER)),
        indicator(4, Some(tlp::TLP2_AMBER_STRICT)),
        indicator(5, Some(tlp::TLP2_RED)),
        indicator(6, None),
    );
    let resp = https
        .post(format!("{base}/sync/collections/{INTEL}/objects/"))
        .bearer_auth(token("local-a"))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({"objects": [&clear, &green, &amber, &strict, &red, &unmarked]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["success_count"], 6, "{status}");

    // B holds one object of its own, to push.
    let b_own = indicator(7, Some(tlp::TLP2_GREEN));
    std::fs::write(
        dir_b.join("own.json"),
        json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": [&b_own]}).to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["import", "--collection", INTEL, "--as", "mb", "--config"])
        .arg(&b_cfg)
        .arg(dir_b.join("own.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A CA that did not sign A's certificate: refused, clearly, and nothing moves.
    let out = sync(&b_bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown issuer must be refused");
    eprintln!("refused as expected: {stderr}");
    assert!(
        stderr.contains("TLS handshake failed") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    let db_b = dir_b.join("data/shieldwall.db");
    assert_eq!(
        ids_in(&db_b).await.len(),
        1,
        "nothing pulled over a refused TLS"
    );

    // The right CA: pull (egress-filtered by A) and push, over https.
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let out = sync(&b_cfg);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let want_b: BTreeSet<String> = [&clear, &green, &amber, &unmarked, &b_own]
        .into_iter()
        .map(id)
        .collect();
    assert_eq!(
        ids_in(&db_b).await,
        want_b,
        "B (in `west`, another member): CLEAR, GREEN, AMBER and unmarked (default AMBER); no AMBER+STRICT, no RED"
    );

    // What A serves: everything to its own member; to B's node account, what may leave to B
    // (not B's own object, which came from B), over the same paging.
    let mut to_a = listed(&https, &base, "local-a").await;
    to_a.sort();
    let mut want_a: Vec<String> = [&clear, &green, &amber, &strict, &red, &unmarked, &b_own]
        .into_iter()
        .map(id)
        .collect();
    want_a.sort();
    assert_eq!(to_a, want_a, "A holds B's pushed object and all of its own");
    let mut to_b = listed(&https, &base, "peer-b").await;
    to_b.sort();
    let mut want: Vec<String> = [&clear, &green, &amber, &unmarked]
        .into_iter()
        .map(id)
        .collect();
    want.sort();
    assert_eq!(
        to_b, want,
        "served to B's node account: only what may leave to B"
    );
    // Hidden looks absent: B's own object by id is a 404 to B's node account.
    let resp = https
        .get(format!(
            "{base}/sync/collections/{INTEL}/objects/{}/",
            id(&b_own)
        ))
        .bearer_auth(token("peer-b"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Plain HTTP to the HTTPS port gets no TAXII answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/taxii2/"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

/// A CA for client certificates and one certificate it issued for `node` (client authentication).
fn client_pki(name: &str, node: &str) -> Pki {
    let (ca, ca_key, ca_pem) = new_ca(format!("{name} client CA"));
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec![node.to_string()]).unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, node);
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem,
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// `https_client` presenting a client certificate.
fn https_client_with_cert(ca_pem: &str, client: &Pki) -> reqwest::Client {
    https_client_for(ca_pem, Some(client))
}

/// Mutual TLS: with `server.tls_client_ca`, A refuses, in the handshake, a client without a
/// certificate and one whose certificate another CA issued; node B syncs (pull and push) with
/// the certificate the coalition's client CA issued it (`client_cert`/`client_key`). The setting
/// without HTTPS is refused at start, naming the key.
#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_admits_only_clients_of_the_configured_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = pki("server");
    let clients = client_pki("coalition", "node-b");
    let rogue = client_pki("rogue", "node-b");
    for (file, pem) in [
        ("cert.pem", &server.cert_pem),
        ("key.pem", &server.key_pem),
        ("ca.pem", &server.ca_pem),
        ("clients-ca.pem", &clients.ca_pem),
        ("b-cert.pem", &clients.cert_pem),
        ("b-key.pem", &clients.key_pem),
        ("rogue-cert.pem", &rogue.cert_pem),
        ("rogue-key.pem", &rogue.key_pem),
    ] {
        std::fs::write(dir.join(file), pem).unwrap();
    }
    let port = nodes::free_port("127.0.0.1");
    let a_cfg = config_a(dir, port);
    let client_ca_line = format!(
        "tls_client_ca = \"{}\"\n",
        dir.join("clients-ca.pem").display()
    );
    let text = std::fs::read_to_string(&a_cfg).unwrap();
    // Without HTTPS: refused at start, naming the key.
    let no_tls = dir.join("a-no-tls.toml");
    let plain: String = text
        .lines()
        .filter(|l| !l.starts_with("tls_cert") && !l.starts_with("tls_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &no_tls,
        plain.replacen("[server]\n", &format!("[server]\n{client_ca_line}"), 1),
    )
    .unwrap();
    let refused = serve(&no_tls)
        .err()
        .expect("mutual TLS without HTTPS must be refused");
    assert!(refused.contains("server.tls_client_ca"), "{refused}");
    std::fs::write(
        &a_cfg,
        text.replacen("[server]\n", &format!("[server]\n{client_ca_line}"), 1),
    )
    .unwrap();
    let _a = serve(&a_cfg).unwrap();
    let base = format!("https://127.0.0.1:{port}");

    // No client certificate, or one from another CA: no TAXII answer at all.
    let anonymous = https_client(&server.ca_pem)
        .get(format!("{base}/taxii2/"))
        .bearer_auth(token("local-a"))
        .header("Accept", ACCEPT)
        .send()
        .await;
    assert!(anonymous.is_err(), "no client certificate: {anonymous:?}");
    let forged = https_client_with_cert(&server.ca_pem, &rogue)
        .get(format!("{base}/taxii2/"))
        .bearer_auth(token("local-a"))
        .header("Accept", ACCEPT)
        .send()
        .await;
    assert!(forged.is_err(), "a certificate of another CA: {forged:?}");

    // The coalition's certificate: TAXII as usual (HTTP authentication still applies).
    let https = https_client_with_cert(&server.ca_pem, &clients);
    let resp = https
        .get(format!("{base}/taxii2/"))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a certificate is not a credential");
    let (green, red) = (
        indicator(11, Some(tlp::TLP2_GREEN)),
        indicator(12, Some(tlp::TLP2_RED)),
    );
    let resp = https
        .post(format!("{base}/sync/collections/{INTEL}/objects/"))
        .bearer_auth(token("local-a"))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({"objects": [&green, &red]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);

    // Node B: with the rogue certificate, refused clearly; with its own, pull and push work.
    let dir_b = dir.join("b");
    std::fs::create_dir_all(&dir_b).unwrap();
    let b_cfg = config_b(&dir_b, port, &dir.join("ca.pem"));
    let b_text = std::fs::read_to_string(&b_cfg).unwrap();
    let with_cert = |cert: &str, key: &str| {
        b_text.replace(
            "tls_only_ca_cert = true\n",
            &format!(
                "tls_only_ca_cert = true\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
                dir.join(cert).display(),
                dir.join(key).display()
            ),
        )
    };
    std::fs::write(&b_cfg, with_cert("rogue-cert.pem", "rogue-key.pem")).unwrap();
    let out = sync(&b_cfg);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a rogue client certificate must be refused"
    );
    eprintln!("refused as expected: {stderr}");
    assert!(
        stderr.contains("TLS handshake failed") && stderr.contains("UnknownCA"),
        "refused at once, saying why: {stderr}"
    );
    let db_b = dir_b.join("data/shieldwall.db");
    std::fs::write(&b_cfg, with_cert("b-cert.pem", "b-key.pem")).unwrap();
    let out = sync(&b_cfg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ids_in(&db_b).await,
        BTreeSet::from([id(&green)]),
        "B pulled over mutual TLS: GREEN, not RED"
    );
}
