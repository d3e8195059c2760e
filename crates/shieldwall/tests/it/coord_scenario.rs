//! The coordination scenario across three nodes on 127.0.0.x, driven through the CLI and synced
//! by push (`shieldwall sync --once`): an attack on a power distributor is reported on A as an
//! incident with impacts (AMBER, AMBER+STRICT, RED); a hack-and-leak FIMI operation is linked to
//! it with a narrative, a channel and DISARM techniques (GREEN); A's CERT files a request for
//! forensic assistance (TLP:AMBER, in the `responders` trust group); B and C offer; B's offer is
//! matched, accepted, delivered and the request closed with an after-action report. Each node
//! then holds exactly what the TLP policy allows, and every workflow step is a version served by
//! the TAXII versions endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::ACCEPT;
use std::{collections::BTreeMap, process::Command};

use serde_json::Value;
use shieldwall::store::{AnyStore, Store};

use crate::nodes;
use nodes::{Node, token};

const INC: &str = "a1111111-1111-4111-8111-111111111111";
const FIMI: &str = "b2222222-2222-4222-8222-222222222222";
const ASSIST: &str = "c3333333-3333-4333-8333-333333333333";
const DISARM: &str = "d4444444-4444-4444-8444-444444444444";

/// What this suite does with a node (a trait: the other suites add their own methods to `Node`).
trait ScenarioNode {
    fn sw(&self, args: &[&str]) -> Value;
    fn id(&self, args: &[&str]) -> String;
    fn sync(&self);
    async fn holdings(&self) -> BTreeMap<(String, String), usize>;
    async fn versions(&self, coll: &str, id: &str) -> (u16, Vec<String>);
    async fn object_versions(&self, coll: &str, id: &str, key: &str) -> Vec<String>;
}

impl ScenarioNode for Node {
    fn sw(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(args)
            .args(["--as", self.member, "--json", "--config"])
            .arg(self.config())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} on {}: {}{}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    fn id(&self, args: &[&str]) -> String {
        self.sw(args)["id"].as_str().unwrap().to_owned()
    }
    fn sync(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(["sync", "--once", "--config"])
            .arg(self.config())
            .env("SHIELDWALL_LOG", "error")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sync on {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    async fn holdings(&self) -> BTreeMap<(String, String), usize> {
        let store = AnyStore::open(&format!(
            "sqlite://{}",
            self.dir.join("data/shieldwall.db").display()
        ))
        .await
        .unwrap();
        let mut out = BTreeMap::new();
        for p in store.placements().await.unwrap() {
            if p.collection != DISARM {
                *out.entry((p.collection, p.id)).or_default() += 1;
            }
        }
        out
    }
    async fn versions(&self, coll: &str, id: &str) -> (u16, Vec<String>) {
        let resp = {
            shieldwall::tls::ensure_provider();
            reqwest::Client::new()
        }
        .get(format!(
            "{}/sync/collections/{coll}/objects/{id}/versions/",
            self.url()
        ))
        .bearer_auth(token(&format!("local-{}", self.name)))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let v = body["versions"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        (status, v)
    }
    async fn object_versions(&self, coll: &str, id: &str, key: &str) -> Vec<String> {
        let body: Value = {
            shieldwall::tls::ensure_provider();
            reqwest::Client::new()
        }
        .get(format!(
            "{}/sync/collections/{coll}/objects/{id}/?match[version]=all",
            self.url()
        ))
        .bearer_auth(token(&format!("local-{}", self.name)))
        .header("Accept", ACCEPT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let mut objs: Vec<Value> = body["objects"].as_array().cloned().unwrap_or_default();
        objs.sort_by_key(|o| o["modified"].as_str().unwrap().to_owned());
        objs.iter()
            .map(|o| o[key].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

fn write_config(node: &Node, all: &[(&str, &str, String)]) {
    let body = format!(
        r#"
[[trust_groups]]
id = "west"
members = ["ma", "mb"]

[[trust_groups]]
id = "responders"
members = ["ma", "mb", "mc"]

[[collections]]
id = "{INC}"
api_root = "sync"
title = "Incidents"
alias = "incidents"
trust_group = "west"
read = ["*"]
write = ["*"]

[[collections]]
id = "{FIMI}"
api_root = "sync"
title = "FIMI"
alias = "fimi"
read = ["*"]
write = ["*"]

[[collections]]
id = "{ASSIST}"
api_root = "sync"
title = "Assistance"
alias = "assist"
trust_group = "responders"
read = ["*"]
write = ["*"]

[[collections]]
id = "{DISARM}"
api_root = "sync"
title = "DISARM (local copy)"
alias = "disarm"
read = ["*"]
write = ["*"]

"#
    );
    nodes::write_node_config(node, all, &body, |_| {
        format!(
            r#"  {{ local = "{INC}", remote = "{INC}", direction = "push", interval_seconds = 1 }},
  {{ local = "{FIMI}", remote = "{FIMI}", direction = "push", interval_seconds = 1 }},
  {{ local = "{ASSIST}", remote = "{ASSIST}", direction = "push", interval_seconds = 1 }},
"#
        )
    });
}

fn round(nodes: &[Node]) {
    for n in nodes {
        n.sync();
    }
}

fn expect(entries: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    entries
        .iter()
        .map(|(c, i, n)| ((c.to_string(), i.to_string()), *n))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn grid_attack_fimi_and_assistance_across_three_nodes() {
    let Some(disarm) = testenv::shared_file("DISARM bundle", "data/disarm/DISARM.json") else {
        return;
    };
    let disarm = disarm.to_str().unwrap().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let (mut nodes, all) = nodes::three_nodes(tmp.path());
    for n in &mut nodes {
        write_config(n, &all);
        n.start();
        // Each node keeps its own copy of the public framework (not synced).
        n.sw(&["disarm", "import", &disarm, "--collection", "disarm"]);
    }
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // A: the attack on the power distributor, with impacts under three TLP levels.
    let inc = a.sw(&[
        "incident",
        "new",
        "--collection",
        "incidents",
        "--tlp",
        "amber",
        "--name",
        "Power distributor SCADA intrusion",
        "--victim",
        "Põhjavõrk Distribution",
        "--sector",
        "energy",
        "--nis2-sector",
        "energy",
        "--nis2-subsector",
        "energy/electricity",
        "--entity-class",
        "essential",
        "--country",
        "EE",
        "--criticality",
        "85",
        "--determination",
        "confirmed",
        "--status",
        "open",
    ]);
    let i1 = inc["id"].as_str().unwrap().to_owned();
    let victim = inc["ids"][1].as_str().unwrap().to_owned();
    let targets = inc["ids"][2].as_str().unwrap().to_owned();
    let imp_avail = a.id(&[
        "incident",
        "add-impact",
        &i1,
        "--category",
        "availability",
        "--availability",
        "75",
        "--tlp",
        "amber",
    ]);
    let imp_conf = a.id(&[
        "incident",
        "add-impact",
        &i1,
        "--category",
        "external",
        "--impact-type",
        "public-confidence",
        "--tlp",
        "amber+strict",
    ]);
    let imp_money = a.id(&[
        "incident",
        "add-impact",
        &i1,
        "--category",
        "monetary",
        "--variety",
        "response-and-recovery",
        "--currency",
        "EUR",
        "--min-amount",
        "200000",
        "--max-amount",
        "450000",
        "--tlp",
        "red",
    ]);

    // A: the hack-and-leak operation that the intrusion fed.
    let fimi = a.sw(&[
        "fimi",
        "new",
        "--collection",
        "fimi",
        "--tlp",
        "green",
        "--name",
        "Leaked grid documents campaign",
        "--domain",
        "hybrid",
        "--type",
        "hack-and-leak",
        "--technique",
        "T0086.002",
        "--technique",
        "T0023",
        "--narrative",
        "The blackout was the government's fault",
        "--channel",
        "GridTruth@telegram",
        "--fed-by",
        &i1,
        "--disarm-version",
        "1.6",
    ]);
    let fimi_ids: Vec<String> = fimi["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // incident, narrative, channel, 4 uses, 1 led-to (last).
    assert_eq!(fimi_ids.len(), 8, "{fimi}");
    let led_to = fimi_ids.last().unwrap().clone();

    // A's CERT asks for forensic assistance.
    let req = a.sw(&[
        "assist",
        "request",
        "--collection",
        "assist",
        "--tlp",
        "amber",
        "--name",
        "Forensics for the power distributor",
        "--need",
        "digital-forensics:10:person-days",
        "--urgency",
        "immediate",
        "--incident",
        &i1,
        "--affected",
        &victim,
        "--severity",
        "85",
        "--entity-class",
        "essential",
        "--mitigation",
        "SCADA segmented; manual operation",
    ]);
    let r1 = req["id"].as_str().unwrap().to_owned();
    let r1_rel = req["ids"][1].as_str().unwrap().to_owned();
    round(&nodes);

    // B and C offer.
    let off1 = b.sw(&[
        "assist",
        "offer",
        "--collection",
        "assist",
        "--tlp",
        "amber",
        "--request",
        &r1,
        "--name",
        "B forensics team",
        "--service",
        "digital-forensics",
        "--capacity",
        "digital-forensics:8:person-days",
        "--lead-time",
        "24",
    ]);
    let off2 = c.sw(&[
        "assist",
        "offer",
        "--collection",
        "assist",
        "--tlp",
        "amber",
        "--request",
        &r1,
        "--name",
        "C forensic lab",
        "--service",
        "digital-forensics",
        "--lead-time",
        "72",
    ]);
    let (o1, o1_rel) = (
        off1["id"].as_str().unwrap().to_owned(),
        off1["ids"][1].as_str().unwrap().to_owned(),
    );
    let (o2, o2_rel) = (
        off2["id"].as_str().unwrap().to_owned(),
        off2["ids"][1].as_str().unwrap().to_owned(),
    );
    round(&nodes);
    let board = a.sw(&["assist", "board"]);
    assert_eq!(
        board["open_requests"][0]["proposals"][0]["offer_id"], o1,
        "the faster team with the capacity is proposed first: {board}"
    );

    // Match, accept, deliver, close.
    a.sw(&["assist", "match", &r1, &o1]);
    round(&nodes);
    b.sw(&["assist", "advance", &o1, "--to", "accepted"]);
    c.sw(&[
        "assist",
        "advance",
        &o2,
        "--to",
        "declined",
        "--reason",
        "another offer matched",
    ]);
    a.sw(&["assist", "advance", &r1, "--to", "in-delivery"]);
    b.sw(&["assist", "advance", &o1, "--to", "delivering"]);
    round(&nodes);
    b.sw(&["assist", "advance", &o1, "--to", "completed"]);
    let closed = a.sw(&[
        "assist",
        "close",
        &r1,
        "--services-provided",
        "Forensic analysis of SCADA hosts",
        "--results",
        "Initial access found and closed",
        "--lessons",
        "Keep offline HMI images",
    ]);
    let report = closed["ids"][1].as_str().unwrap().to_owned();
    round(&nodes);
    round(&nodes);

    // Exactly what the policy allows on each node.
    let mut common = vec![
        (FIMI, fimi_ids[0].as_str(), 1),
        (ASSIST, r1.as_str(), 4),
        (ASSIST, o1.as_str(), 4),
        (ASSIST, o1_rel.as_str(), 1),
        (ASSIST, o2.as_str(), 2),
        (ASSIST, o2_rel.as_str(), 1),
        (ASSIST, report.as_str(), 1),
    ];
    for id in &fimi_ids[1..fimi_ids.len() - 1] {
        common.push((FIMI, id.as_str(), 1));
    }
    let mut west = common.clone();
    west.extend([
        (INC, i1.as_str(), 4),
        (INC, victim.as_str(), 1),
        (INC, targets.as_str(), 1),
        (INC, imp_avail.as_str(), 1),
        (INC, led_to.as_str(), 1),
        (INC, r1_rel.as_str(), 1),
    ]);
    let mut at_a = west.clone();
    at_a.extend([(INC, imp_conf.as_str(), 1), (INC, imp_money.as_str(), 1)]);
    assert_eq!(
        a.holdings().await,
        expect(&at_a),
        "A: everything, its AMBER+STRICT and RED impacts included"
    );
    assert_eq!(
        b.holdings().await,
        expect(&west),
        "B (west, responders): the incident and its AMBER impact, not the AMBER+STRICT or RED ones"
    );
    assert_eq!(
        c.holdings().await,
        expect(&common),
        "C (responders only): no incident, and no edge pointing to it (led-to, related-to: kept with the incident)"
    );

    // Every workflow step is a version, on every node.
    for n in &nodes {
        let (st, v) = n.versions(ASSIST, &r1).await;
        assert_eq!((st, v.len()), (200, 4), "request versions on {}", n.name);
        assert_eq!(
            n.object_versions(ASSIST, &r1, "request_status").await,
            ["submitted", "matched", "in-delivery", "closed"],
            "on {}",
            n.name
        );
        assert_eq!(
            n.object_versions(ASSIST, &o1, "offer_status").await,
            ["offered", "accepted", "delivering", "completed"],
            "on {}",
            n.name
        );
        assert_eq!(
            n.object_versions(ASSIST, &o2, "offer_status").await,
            ["offered", "declined"]
        );
        let (st, v) = n.versions(INC, &i1).await;
        if n.name == "c" {
            assert_eq!(st, 404, "the incident never reached C");
        } else {
            assert_eq!((st, v.len()), (200, 4), "incident versions on {}", n.name);
        }
    }

    // C's DISARM matrix counts the operation's techniques (its local framework + synced links).
    let m = c.sw(&["fimi", "matrix"]);
    let uses = |id: &str| {
        m["tactics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["techniques"].as_array().unwrap().iter())
            .find(|x| x["disarm_id"] == id)
            .map(|x| x["uses"].clone())
    };
    assert_eq!(uses("T0086.002"), Some(Value::from(1)));
    assert_eq!(uses("T0023"), Some(Value::from(1)));
    // The coalition picture on each node: C has only the FIMI operation (no victim visible).
    let mut incidents = Vec::new();
    for n in &nodes {
        let out = n.dir.join("picture.html");
        let f = n.sw(&["report", "--since", "7d", "--out", out.to_str().unwrap()]);
        assert!(f["open_requests"].as_array().unwrap().is_empty(), "{f}");
        assert!(f["offers"].as_array().unwrap().is_empty(), "{f}");
        incidents.push((f["incidents"].clone(), f["incidents_by_sector"].clone()));
    }
    assert_eq!(
        incidents[0],
        (
            Value::from(2),
            serde_json::json!({"energy": 1, "unknown": 1})
        )
    );
    assert_eq!(incidents[1], incidents[0]);
    assert_eq!(
        incidents[2],
        (Value::from(1), serde_json::json!({"unknown": 1}))
    );

    // B sees the hack-and-leak link from the incident to the operation; C does not.
    let shown = b.sw(&["incident", "show", &i1]);
    assert!(
        shown["relationships"].to_string().contains(&led_to),
        "{shown}"
    );
}
