//! The console's federation page with real peers: two `shieldwall serve` nodes (A operated by
//! member `ma`, B by `mb`) on 127.0.0.1/127.0.0.2 with the scheduled sync on, A pushing its
//! collection to B every second.
//!
//! On A: a TLP:RED indicator of `ma` is held back (RED never leaves); a TLP:RED indicator that
//! `mb` posted on A is held back too, but A's admin (member `ma`) may not see it; an object that
//! fails validation (written into A's store as a hostile peer could send it) is pushed and
//! refused by B. Then A's admin sees peer B with a last-sync time, the first RED indicator held
//! back under its reason with a working "why?" link whose page says why, the second counted and
//! never named (its explain page is the same "not found" as an absent object's); B's admin sees
//! the refused object in the list of refusals (id, peer, reason, time) with a working explain
//! link that gives the reason. A reader on A gets 403 on the federation page and the explain
//! page, naming nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shieldwall::{
    ingest::{self, Prepared},
    store::{AnyStore, Provenance, StatusRecord, Store},
};
use stix::tlp;

use crate::{
    common::ACCEPT,
    console::{Answer, Browser},
    nodes::{self, Node, digest, free_port, token},
};

const INTEL: &str = "55555555-5555-4555-8555-555555555555";
const PASSWORD: &str = "federation console walk";

fn id(n: u32) -> String {
    format!("indicator--{n:08x}-0000-4000-8000-00000000fed0")
}

fn indicator(n: u32, marking: &str, producer: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id(n),
        "created_by_ref": nodes::identity(producer),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("federation walk {n}"),
        "pattern": "[domain-name:value = 'walk.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z", "object_marking_refs": [marking]})
}

fn config(node: &Node, all: &[(&str, &str, String)], hash: &str) {
    let body = format!(
        r#"
[[collections]]
id = "{INTEL}"
api_root = "sync"
title = "Intel"
alias = "intel"
read = ["*"]
write = ["*"]
"#
    );
    nodes::write_node_config(node, all, &body, |_| {
        format!(
            "  {{ local = \"{INTEL}\", remote = \"{INTEL}\", direction = \"push\", interval_seconds = 1 }},\n"
        )
    });
    let mut t = std::fs::read_to_string(node.config()).unwrap();
    t = t.replace(
        &format!("[sync]\nmember = \"{}\"\n", node.member),
        &format!("[sync]\nmember = \"{}\"\nenabled = true\n", node.member),
    );
    assert!(t.contains("enabled = true"));
    for (user, role) in [("admin", "admin"), ("reader", "reader")] {
        t.push_str(&format!(
            "\n[[users]]\nname = \"{user}-{}\"\nmember = \"{}\"\nrole = \"{role}\"\npassword_hash = \"{hash}\"\n",
            node.name, node.member
        ));
    }
    // A key of the other member on this node (its objects here are not the admin member's).
    t.push_str(&format!(
        "\n[[api_keys]]\nid = \"guest\"\nmember = \"{}\"\nrole = \"contributor\"\ndigest = \"{}\"\n",
        if node.member == "ma" { "mb" } else { "ma" },
        digest("guest")
    ));
    std::fs::write(node.config(), t).unwrap();
}

async fn post(node: &Node, key: &str, objects: Vec<Value>) {
    let resp = reqwest::Client::new()
        .post(format!("{}/sync/collections/{INTEL}/objects/", node.url()))
        .bearer_auth(token(key))
        .header("Accept", ACCEPT)
        .header("Content-Type", ACCEPT)
        .body(json!({"objects": objects}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["failure_count"], 0, "{status}");
}

async fn signed_in(node: &Node, user: &str) -> Browser {
    let mut b = Browser::new(&node.url());
    let a = b.sign_in(user, PASSWORD, "/ui/").await;
    assert_eq!(a.status, 303, "{user}: {}", a.body);
    b
}

/// The federation page, once `ok` holds on it (at most 60 s: sync runs every second).
async fn page_when(b: &mut Browser, what: &str, ok: impl Fn(&str) -> bool) -> Answer {
    let start = Instant::now();
    loop {
        let a = b.get("/ui/federation").await;
        assert_eq!(a.status, 200, "{}", a.body);
        if ok(&a.body) {
            return a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} within 60 s: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The `href` of the explain link in the table row naming `id`.
fn explain_link(body: &str, id: &str) -> String {
    let row_start = body.find(&format!(">{id}<")).expect("the object is named");
    let rest = &body[row_start..];
    let row = &rest[..rest.find("</tr>").unwrap()];
    let i = row
        .find("href=\"/ui/federation/explain?")
        .expect("an explain link")
        + 6;
    row[i..i + row[i..].find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_federation_with_real_peers() {
    shieldwall::tls::ensure_provider();
    let root = tempfile::tempdir().unwrap();
    let hash = shieldwall::auth::hash_password(PASSWORD).unwrap();
    let mut ns: Vec<Node> = nodes::NODES[..2]
        .iter()
        .map(|(name, member, ip)| {
            let dir = root.path().join(name);
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
    let all: Vec<(&str, &str, String)> = ns.iter().map(|n| (n.name, n.member, n.url())).collect();
    for n in &ns {
        config(n, &all, &hash);
    }
    for n in &mut ns {
        n.start();
    }
    let (a, b) = (&ns[0], &ns[1]);

    // On A: RED of ma (held back, named to A's admin), RED of mb (held back, hidden from ma).
    post(a, "local-a", vec![indicator(1, tlp::TLP2_RED, "ma")]).await;
    post(a, "guest", vec![indicator(2, tlp::TLP2_RED, "mb")]).await;
    // An object that fails validation, in A's store as a hostile peer could send it: pushed
    // to B, which refuses it.
    let mut broken = indicator(3, tlp::TLP2_GREEN, "ma");
    broken.as_object_mut().unwrap().remove("pattern");
    let Prepared::Valid(v) = ingest::to_new_version(&broken, "ma", None).unwrap() else {
        panic!("prepared")
    };
    let store_a = AnyStore::open(&format!(
        "sqlite://{}",
        a.dir.join("data/shieldwall.db").display()
    ))
    .await
    .unwrap();
    store_a
        .add(
            INTEL,
            &Provenance {
                source: "local".into(),
                actor: "test".into(),
            },
            &[*v],
            &|_| StatusRecord {
                id: uuid::Uuid::new_v4().to_string(),
                api_root: "sync".into(),
                member: "ma".into(),
                request_us: 0,
                expires_us: 0,
                body: "{}".into(),
            },
        )
        .await
        .unwrap();

    // B's admin: the refusal, listed with its explain link.
    let mut admin_b = signed_in(b, "admin-b").await;
    let page = page_when(&mut admin_b, "B lists the refusal", |body| {
        body.contains(&format!("<code>{}</code>", id(3)))
    })
    .await;
    assert!(page.body.contains("Refused from peers"));
    let link = explain_link(&page.body, &id(3));
    assert!(link.contains("peer=a"), "{link}");
    let row_start = page.body.find(&format!("<code>{}</code>", id(3))).unwrap();
    let row = &page.body[row_start..row_start + page.body[row_start..].find("</tr>").unwrap()];
    assert!(row.contains(">a<") && row.contains("invalid"), "{row}");
    let why = admin_b.get(&link).await;
    assert_eq!(why.status, 200, "{}", why.body);
    assert!(
        why.body.contains("refused") && why.body.contains("pattern"),
        "{}",
        why.body
    );
    assert!(why.body.contains("not stored on this node"));

    // A's admin: peer B, a last sync, the held-back RED of ma (named, why one click away), the
    // one of mb counted only, the refusal by B.
    let mut admin_a = signed_in(a, "admin-a").await;
    let page = page_when(&mut admin_a, "A's push ran and judged everything", |body| {
        body.contains(&id(1))
            && body.contains("refused-by-peer")
            && body.contains("of objects your member may not see")
    })
    .await;
    let body = &page.body;
    assert!(body.contains("<strong>b</strong>"), "peer B is listed");
    assert!(
        !body.contains("never (or not run here)"),
        "a last sync time: {body}"
    );
    assert!(body.contains("tlp-red"));
    assert!(
        !body.contains(&id(2)),
        "mb's RED object is not named to ma's admin"
    );
    let link = explain_link(body, &id(1));
    let why = admin_a.get(&link).await;
    assert_eq!(why.status, 200, "{}", why.body);
    assert!(why.body.contains("TLP:RED is never synced"), "{}", why.body);
    assert!(why.body.contains("data-tlp=\"TLP:RED\""), "labelled RED");
    // The hidden object's explain page is the absent object's.
    let absent = admin_a
        .get("/ui/federation/explain?peer=b&id=indicator--00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(absent.status, 404);
    let hidden = admin_a
        .get(&format!("/ui/federation/explain?peer=b&id={}", id(2)))
        .await;
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body, absent.body, "a hidden object looks absent");
    assert!(!hidden.body.contains(&id(2)));

    // A reader: 403 on both pages, naming nothing.
    let mut reader = signed_in(a, "reader-a").await;
    for path in ["/ui/federation".to_owned(), link.clone()] {
        let r = reader.get(&path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        for x in [id(1), id(2), id(3)] {
            assert!(!r.body.contains(&x), "{path} names {x}");
        }
        assert!(!r.body.contains("tlp-red") && !r.body.contains("refused"));
    }
    drop(store_a);

    // In headless Chromium: both pages with real peers, axe-core, screenshots for the docs.
    let axe_path = std::env::var("SHIELDWALL_AXE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/axe/node_modules/axe-core/axe.min.js")
        });
    let Some(d) =
        crate::console_coord_browser::Driver::start("the federation page in headless Chromium")
            .await
    else {
        return;
    };
    let axe = std::fs::read_to_string(&axe_path).expect("axe-core (SHIELDWALL_AXE)");
    let mut problems = Vec::new();
    d.go(&format!("{}/ui/sign-in", a.url())).await;
    d.typ("#user", "admin-a").await;
    d.typ("#password", PASSWORD).await;
    d.click("form.signin button[type=submit]").await;
    d.click("nav a[href='/ui/federation']").await;
    assert!(d.source().await.contains(&id(1)));
    problems.extend(d.axe(&axe).await);
    d.shot("federation-peers.png").await;
    d.go(&format!("{}{link}", a.url())).await;
    assert!(d.source().await.contains("TLP:RED is never synced"));
    problems.extend(d.axe(&axe).await);
    d.shot("federation-explain.png").await;
    d.go(&format!("{}/ui/sign-in", b.url())).await;
    d.typ("#user", "admin-b").await;
    d.typ("#password", PASSWORD).await;
    d.click("form.signin button[type=submit]").await;
    d.go(&format!("{}/ui/federation#refused", b.url())).await;
    assert!(d.source().await.contains(&id(3)));
    problems.extend(d.axe(&axe).await);
    d.shot("federation-refused.png").await;
    let _ = d.cmd("DELETE", "", Value::Null).await;
    assert!(
        problems.is_empty(),
        "serious or critical accessibility violations: {problems:#?}"
    );
}
