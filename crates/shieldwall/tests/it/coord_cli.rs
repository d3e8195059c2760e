//! The coordination commands on one node, driven through the binary: DISARM imported and every
//! technique found by its DISARM id; incidents with victims and impacts; a FIMI incident linked
//! to DISARM techniques, a narrative, a channel and the incident that fed it; the DISARM matrix
//! counts; requests and offers and their board; every object written validates with
//! `shieldwall validate` and the OASIS stix2-validator; and the HTML report, rendered by headless
//! Chromium, shows exactly the counts of what each reader may see (and differs between readers).
//! The whole scenario runs on the embedded SQLite store and again on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::{Value, json};
use stix::tlp;

use crate::common::{MEMBERS, identity};

fn write_config(dir: &Path, database: Option<&str>) -> PathBuf {
    let database = database.map_or(String::new(), |url| format!("database = \"{url}\"\n"));
    common::write_grid_config(dir, &database)
}

struct Sw {
    config: PathBuf,
}

impl Sw {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "shieldwall {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let text = self.ok(&a);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }
    fn id(&self, args: &[&str]) -> String {
        self.json(args)["id"].as_str().unwrap().to_owned()
    }
    /// Every object (all versions) member `m` may see in collection `c`.
    fn export(&self, c: &str, m: &str, all: bool) -> Vec<Value> {
        let mut args = vec!["export", "--format", "stix", "--collection", c, "--as", m];
        if all {
            args.push("--all-versions");
        }
        let text = self.ok(&args);
        let b: Value = serde_json::from_str(&text).unwrap();
        b["objects"].as_array().unwrap().clone()
    }
}

fn of_type<'a>(objects: &'a [Value], t: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["type"] == t).collect()
}

/// The figures of the report computed directly from the objects a reader may see: counts
/// from the exports, by the rules the report documents (every object here is in the window).
fn direct_figures(view: &[Value]) -> BTreeMap<(String, String), String> {
    let mut f = BTreeMap::new();
    let mut add = |fig: &str, key: &str, n: u64| {
        f.insert((fig.to_owned(), key.to_owned()), n.to_string());
    };
    let ext_core = coord::ext::INCIDENT_CORE;
    let ci = coord::ext::CI_ENTITY;
    let incidents = of_type(view, "incident");
    add("incidents", "", incidents.len() as u64);
    let (mut sectors, mut countries) = (BTreeMap::<String, u64>::new(), BTreeMap::new());
    for inc in &incidents {
        let id = inc["id"].as_str().unwrap();
        let mut victim_ids: BTreeSet<String> = of_type(view, "relationship")
            .iter()
            .filter(|r| r["source_ref"] == id && r["relationship_type"] == "targets")
            .map(|r| r["target_ref"].as_str().unwrap().to_owned())
            .collect();
        let impact_refs = inc["extensions"][ext_core]["impact_refs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for imp in of_type(view, "impact") {
            if impact_refs.contains(&imp["id"]) {
                for r in imp["impacted_refs"].as_array().into_iter().flatten() {
                    victim_ids.insert(r.as_str().unwrap().to_owned());
                }
            }
        }
        let victims: Vec<&Value> = of_type(view, "identity")
            .into_iter()
            .filter(|v| victim_ids.contains(v["id"].as_str().unwrap()))
            .collect();
        let s: BTreeSet<String> = victims
            .iter()
            .filter_map(|v| v["extensions"][ci]["nis2_sector"].as_str())
            .map(str::to_owned)
            .collect();
        let c: BTreeSet<String> = victims
            .iter()
            .filter_map(|v| v["extensions"][ci]["country"].as_str())
            .map(str::to_owned)
            .collect();
        for (set, map) in [(s, &mut sectors), (c, &mut countries)] {
            if set.is_empty() {
                *map.entry("unknown".to_owned()).or_default() += 1;
            }
            for k in set {
                *map.entry(k).or_default() += 1;
            }
        }
    }
    for (k, n) in sectors {
        add("incidents-by-sector", &k, n);
    }
    for (k, n) in countries {
        add("incidents-by-country", &k, n);
    }
    let mut sightings = 0;
    let mut weeks = BTreeMap::<String, u64>::new();
    for s in of_type(view, "sighting") {
        let n = s["count"].as_u64().unwrap_or(1);
        sightings += n;
        let seen = stix::Timestamp::parse(s["first_seen"].as_str().unwrap()).unwrap();
        let day = seen.unix_seconds().div_euclid(86_400);
        // 1970-01-05 was a Monday.
        let monday = day - (day - 4).rem_euclid(7);
        let date = stix::Timestamp::from_unix(monday * 86_400, 0, 0)
            .unwrap()
            .to_string();
        *weeks.entry(format!("week of {}", &date[..10])).or_default() += n;
    }
    add("sightings", "", sightings);
    for (k, n) in weeks {
        add("sightings-per-week", &k, n);
    }
    let open: Vec<&Value> = of_type(view, "assistance-request")
        .into_iter()
        .filter(|r| r["request_status"] == "submitted")
        .collect();
    add("open-requests", "", open.len() as u64);
    for r in open {
        add("open-request", r["id"].as_str().unwrap(), 1);
    }
    let offers: Vec<&Value> = of_type(view, "assistance-offer")
        .into_iter()
        .filter(|o| o["offer_status"] == "offered" || o["offer_status"] == "pledged")
        .collect();
    add("offers", "", offers.len() as u64);
    for o in offers {
        add("offer", o["id"].as_str().unwrap(), 1);
    }
    // Techniques: distinct users per DISARM / ATT&CK technique.
    let mut users: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in of_type(view, "relationship") {
        if r["relationship_type"] != "uses" {
            continue;
        }
        let Some(p) = view.iter().find(|o| o["id"] == r["target_ref"]) else {
            continue;
        };
        for e in p["external_references"].as_array().into_iter().flatten() {
            let fig = match e["source_name"].as_str() {
                Some("DISARM") => "top-disarm",
                Some("mitre-attack") => "top-attack",
                _ => continue,
            };
            let key = format!(
                "{} {}",
                e["external_id"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            );
            users
                .entry((fig.to_owned(), key))
                .or_default()
                .insert(r["source_ref"].as_str().unwrap().to_owned());
        }
    }
    for ((fig, key), u) in users {
        add(&fig, &key, u.len() as u64);
    }
    f
}

/// `data-figure`/`data-key` values and element text in a DOM dump (the report's own markup:
/// attributes in that order, text up to the next tag).
fn dom_figures(dom: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let mut rest = dom;
    while let Some(i) = rest.find("data-figure=\"") {
        rest = &rest[i + 13..];
        let end = rest.find('"').unwrap();
        let fig = rest[..end].to_owned();
        let tag_end = rest.find('>').unwrap();
        let attrs = &rest[..tag_end];
        let key = attrs
            .find("data-key=\"")
            .map(|k| {
                let a = &attrs[k + 10..];
                a[..a.find('"').unwrap()].replace("&amp;", "&")
            })
            .unwrap_or_default();
        if attrs.contains("data-empty") {
            rest = &rest[tag_end..];
            continue;
        }
        let text_start = &rest[tag_end + 1..];
        let text = &text_start[..text_start.find('<').unwrap_or(0)];
        let value = if fig == "open-request" || fig == "offer" {
            "1".to_owned()
        } else {
            text.trim().to_owned()
        };
        if fig != "reader" {
            out.insert((fig, key), value);
        }
        rest = &rest[tag_end..];
    }
    out
}

fn render(chrome: &Path, html: &Path, screenshot: Option<&Path>) -> String {
    let mut c = Command::new(chrome);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1000,1500",
    ]);
    match screenshot {
        Some(p) => c.arg(format!("--screenshot={}", p.display())),
        None => c.arg("--dump-dom"),
    };
    let home = tempfile::tempdir().unwrap();
    let out = c
        .arg(format!("--user-data-dir={}", home.path().display()))
        .arg(format!("file://{}", html.display()))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn coordination_commands_end_to_end() {
    let Some(disarm) = testenv::shared_file("DISARM bundle", "data/disarm/DISARM.json") else {
        return;
    };
    scenario(&disarm, None);
}

#[test]
fn coordination_commands_end_to_end_on_postgres() {
    let Some(disarm) = testenv::shared_file("DISARM bundle", "data/disarm/DISARM.json") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(common::PgDb::create(
        "the coordination commands on PostgreSQL",
    )) else {
        return;
    };
    println!("coordination commands against {}", db.url);
    scenario(&disarm, Some(&db.url));
    rt.block_on(db.drop_db(None));
}

fn scenario(disarm: &Path, database: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let sw = Sw {
        config: write_config(tmp.path(), database),
    };

    // DISARM: imported, normalised, every technique found by its DISARM id.
    let imp = sw.json(&[
        "disarm",
        "import",
        disarm.to_str().unwrap(),
        "--collection",
        "shared",
        "--as",
        "ma",
    ]);
    assert!(imp["techniques"].as_u64().unwrap() > 300, "{imp}");
    assert!(
        imp["normalisation"]["properties_dropped"].as_u64().unwrap() > 0,
        "{imp}"
    );
    let again = sw.json(&[
        "disarm",
        "import",
        disarm.to_str().unwrap(),
        "--collection",
        "shared",
        "--as",
        "ma",
    ]);
    assert_eq!(
        again["stored"], 0,
        "a second import stores nothing: {again}"
    );
    assert_eq!(
        imp["attributed"], 290,
        "relationships, matrix and the identity itself get DISARM's identity: {imp}"
    );
    let raw: Value = serde_json::from_slice(&std::fs::read(disarm).unwrap()).unwrap();
    let raw_ids: BTreeSet<String> = raw["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["type"] == "attack-pattern" && o["revoked"] != true && o["x_mitre_deprecated"] != true
        })
        .filter_map(|o| {
            o["external_references"].as_array()?.iter().find_map(|r| {
                r["external_id"]
                    .as_str()
                    .filter(|i| i.starts_with('T') && !i.starts_with("TA"))
                    .map(str::to_owned)
            })
        })
        .collect();
    let matrix = sw.json(&["fimi", "matrix", "--all", "--as", "mc"]);
    let in_matrix: BTreeSet<String> = matrix["tactics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["techniques"].as_array().unwrap().iter())
        .map(|c| c["disarm_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        in_matrix, raw_ids,
        "the matrix holds every DISARM technique"
    );
    let shown = sw.json(&["disarm", "show", "T0086.002", "--as", "mb"]);
    assert_eq!(shown["technique"]["disarm_id"], "T0086.002", "{shown}");
    assert_eq!(shown["technique"]["parent"], "T0086", "{shown}");
    let stored = sw.export("shared", "mc", false);
    let stored_tech = stored
        .iter()
        .find(|o| o["id"] == shown["technique"]["stix_id"])
        .unwrap();
    assert!(
        stored_tech.get("x_mitre_platforms").is_none(),
        "{stored_tech}"
    );
    assert_eq!(
        stored_tech["kill_chain_phases"][0]["kill_chain_name"],
        "disarm"
    );
    assert!(
        stored_tech["object_marking_refs"]
            .as_array()
            .unwrap()
            .contains(&json!(tlp::TLP2_CLEAR)),
        "DISARM's own statement marking kept, TLP:CLEAR added: {stored_tech}"
    );
    assert_eq!(
        sw.run(&["disarm", "show", "T9999", "--as", "mb"])
            .status
            .code(),
        Some(1)
    );

    // Incidents with victims (sectors, countries) and impacts, under three views.
    let i1 = sw.id(&[
        "incident",
        "new",
        "--as",
        "ma",
        "--collection",
        "shared",
        "--tlp",
        "amber",
        "--name",
        "Distribution grid SCADA intrusion",
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
        "--type",
        "denial-of-service",
        "--determination",
        "confirmed",
        "--status",
        "open",
    ]);
    sw.json(&[
        "incident",
        "add-impact",
        &i1,
        "--as",
        "ma",
        "--category",
        "availability",
        "--availability",
        "75",
        "--criticality",
        "80",
        "--description",
        "40,000 customers without power",
    ]);
    sw.json(&[
        "incident",
        "add-impact",
        &i1,
        "--as",
        "ma",
        "--category",
        "external",
        "--impact-type",
        "public-confidence",
        "--tlp",
        "amber+strict",
    ]);
    let i2 = sw.id(&[
        "incident",
        "new",
        "--as",
        "ma",
        "--collection",
        "private",
        "--name",
        "Hospital ransomware",
        "--victim",
        "Central Hospital",
        "--sector",
        "healthcare",
        "--nis2-sector",
        "health",
        "--country",
        "LV",
    ]);
    let i3 = sw.id(&[
        "incident",
        "new",
        "--as",
        "mb",
        "--collection",
        "shared",
        "--tlp",
        "red",
        "--name",
        "Water treatment PLC tampering",
        "--victim",
        "City Water",
        "--sector",
        "utilities",
        "--nis2-sector",
        "drinking-water",
        "--country",
        "FI",
    ]);
    let shown = sw.json(&["incident", "show", &i1, "--as", "mb"]);
    assert_eq!(
        shown["impacts"].as_array().unwrap().len(),
        2,
        "mb reads both impacts (AMBER+STRICT is a sync rule, not a read rule): {shown}"
    );
    let list_mb: Vec<String> = sw
        .json(&["incident", "list", "--as", "mb"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        list_mb.contains(&i1) && list_mb.contains(&i3) && !list_mb.contains(&i2),
        "{list_mb:?}"
    );
    let list_ma = sw.json(&["incident", "list", "--as", "ma"]);
    let ma_i1 = list_ma
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == i1.as_str())
        .unwrap();
    assert_eq!(ma_i1["impacts"], 2);
    assert_eq!(ma_i1["victims"][0]["country"], "EE");
    assert!(
        !list_ma.to_string().contains(&i3),
        "RED by mb is not ma's to see"
    );
    let bad = sw.run(&[
        "incident",
        "add-impact",
        &i1,
        "--as",
        "ma",
        "--category",
        "availability",
        "--availability",
        "140",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("availability"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // The incident's event and task sequences: events in order (the second follows the first),
    // a response task; `show` lists them in order, and the incident's core links them.
    let e1 = sw.id(&[
        "incident",
        "add-event",
        &i1,
        "--as",
        "ma",
        "--name",
        "Phishing mail to the control-room staff",
        "--type",
        "phishing",
        "--start",
        "2026-11-20T08:00:00Z",
    ]);
    let e2 = sw.id(&[
        "incident",
        "add-event",
        &i1,
        "--as",
        "ma",
        "--status",
        "ongoing",
        "--name",
        "Breaker commands from the SCADA HMI",
        "--after",
        &e1,
    ]);
    let t1 = sw.id(&[
        "incident",
        "add-task",
        &i1,
        "--as",
        "ma",
        "--outcome",
        "ongoing",
        "--name",
        "Isolate the HMI network",
        "--type",
        "containment",
        "--priority",
        "90",
    ]);
    let shown = sw.json(&["incident", "show", &i1, "--as", "mb"]);
    let ids = |k: &str| -> Vec<String> {
        shown[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("events"), [e1.clone(), e2.clone()], "{shown}");
    assert_eq!(ids("tasks"), std::slice::from_ref(&t1), "{shown}");
    assert_eq!(shown["events"][1]["status"], "ongoing");
    assert_eq!(shown["events"][0]["start_time"], "2026-11-20T08:00:00Z");
    assert_eq!(shown["tasks"][0]["priority"], 90);
    let core = &shown["incident"]["extensions"][coord::ext::INCIDENT_CORE];
    assert_eq!(
        core["events"][0]["next_steps"][0]["event_ref"],
        e2.as_str(),
        "{core}"
    );
    assert_eq!(core["events"][1]["sequence_start"], false);
    assert_eq!(
        core["impact_refs"].as_array().unwrap().len(),
        2,
        "the impacts stay on the new versions: {core}"
    );
    let human = sw.ok(&["incident", "show", &i1, "--as", "ma"]);
    assert!(
        human.contains(&format!("event {e2} ongoing Breaker commands"))
            && human.contains(&format!("task {t1} ongoing Isolate the HMI network")),
        "{human}"
    );
    for (args, says) in [
        (vec!["add-event", &i1, "--after", &t1], "--after"),
        (vec!["add-event", &i1, "--status", "finished"], "--status"),
        (vec!["add-task", &i1, "--start", "yesterday"], "--start"),
        (vec!["add-task", &e1], "not an incident"),
    ] {
        let mut full = vec!["incident"];
        full.extend(args);
        full.extend(["--as", "ma"]);
        let bad = sw.run(&full);
        let err = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(2), "{full:?}: {err}");
        assert!(err.contains(says), "{full:?}: {err}");
    }

    // ATT&CK technique used by the intrusion, and sightings, through `import`.
    let attack = tmp.path().join("attack.json");
    let t0 = "2026-01-01T00:00:00.000Z";
    let now = stix::Timestamp::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
        0,
        3,
    )
    .unwrap();
    let days_ago = |d: i64| {
        stix::Timestamp::from_unix(now.unix_seconds() - d * 86_400, 0, 3)
            .unwrap()
            .to_string()
    };
    let ap = "attack-pattern--a62a8db3-f23a-4d8f-afd6-9dbc77e7813b";
    let ind = "indicator--0f4a0b7e-67a7-4f5f-a3c5-0e1f2a3b4c5d";
    let sighting = |n: u32, seen: &str, count: u32, marking: &str| {
        json!({"type": "sighting", "spec_version": "2.1",
        "id": format!("sighting--{n:08x}-5555-4555-8555-555555555555"), "created": seen, "modified": seen,
        "first_seen": seen, "sighting_of_ref": ind, "count": count, "object_marking_refs": [marking]})
    };
    std::fs::write(&attack, json!({"type": "bundle", "id": "bundle--1b2c3d4e-0000-4000-8000-000000000001", "objects": [
        {"type": "attack-pattern", "spec_version": "2.1", "id": ap, "created": t0, "modified": t0,
         "name": "Phishing", "external_references": [{"source_name": "mitre-attack", "external_id": "T1566"}],
         "object_marking_refs": [tlp::TLP2_CLEAR]},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--7a0e0e55-1111-4111-8111-111111111111",
         "created": days_ago(1), "modified": days_ago(1), "relationship_type": "uses", "source_ref": i1, "target_ref": ap,
         "object_marking_refs": [tlp::TLP2_GREEN]},
        {"type": "indicator", "spec_version": "2.1", "id": ind, "created": t0, "modified": t0, "name": "leak site",
         "pattern": "[domain-name:value = 'grid-leaks.example']", "pattern_type": "stix", "valid_from": t0,
         "object_marking_refs": [tlp::TLP2_GREEN]},
        sighting(1, &days_ago(1), 4, tlp::TLP2_GREEN),
        sighting(2, &days_ago(3), 2, tlp::TLP2_GREEN),
        sighting(3, &days_ago(2), 5, tlp::TLP2_RED),
        sighting(4, &days_ago(40), 9, tlp::TLP2_GREEN),
    ]}).to_string()).unwrap();
    sw.ok(&[
        "import",
        attack.to_str().unwrap(),
        "--collection",
        "shared",
        "--as",
        "ma",
    ]);

    // A hack-and-leak FIMI incident fed by the intrusion.
    let fimi = sw.json(&[
        "fimi",
        "new",
        "--as",
        "ma",
        "--collection",
        "shared",
        "--tlp",
        "green",
        "--name",
        "Leaked grid documents campaign",
        "--domain",
        "hybrid",
        "--type",
        "hack-and-leak",
        "--determination",
        "confirmed",
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
    ]);
    let f1 = fimi["id"].as_str().unwrap().to_owned();
    sw.json(&[
        "fimi",
        "link",
        &f1,
        "--as",
        "mb",
        "--collection",
        "shared",
        "--tlp",
        "green",
        "--technique",
        "T0023",
        "--uses",
        ap,
    ]);
    let bad = sw.run(&[
        "fimi",
        "link",
        &f1,
        "--as",
        "mb",
        "--collection",
        "shared",
        "--technique",
        "T0999",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("T0999"));
    let m = sw.json(&["fimi", "matrix", "--as", "mc"]);
    let cell = |id: &str| -> Value {
        m["tactics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["techniques"].as_array().unwrap().iter())
            .find(|c| c["disarm_id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(cell("T0086.002")["uses"], 1, "{m}");
    assert_eq!(cell("T0086")["uses_with_subtechniques"], 1);
    assert_eq!(
        cell("T0023")["uses"],
        1,
        "two links from one incident count once"
    );
    assert_eq!(
        m["relationships_ignored"], 2,
        "the ATT&CK uses are not DISARM: {m}"
    );
    let text = sw.ok(&["fimi", "matrix", "--as", "mc"]);
    assert!(
        text.contains("T0086.002") && !text.contains("T0002 "),
        "{text}"
    );

    // Requests and offers.
    let r1 = sw.id(&[
        "assist",
        "request",
        "--as",
        "ma",
        "--collection",
        "shared",
        "--tlp",
        "amber",
        "--name",
        "Forensics for the distribution grid",
        "--need",
        "digital-forensics:10:person-days",
        "--service",
        "ot-ics-support",
        "--urgency",
        "immediate",
        "--incident",
        &i1,
        "--severity",
        "85",
        "--entity-class",
        "essential",
        "--cross-border",
        "--mitigation",
        "SCADA segmented; manual operation",
    ]);
    let r2 = sw.id(&[
        "assist",
        "request",
        "--as",
        "ma",
        "--collection",
        "private",
        "--name",
        "Hospital licences",
        "--need",
        "licences:200:licences",
        "--urgency",
        "routine",
    ]);
    let o1 = sw.id(&[
        "assist",
        "offer",
        "--as",
        "mb",
        "--collection",
        "shared",
        "--request",
        &r1,
        "--name",
        "mb forensics team",
        "--service",
        "digital-forensics",
        "--capacity",
        "digital-forensics:8:person-days",
        "--lead-time",
        "24",
        "--mode",
        "remote",
    ]);
    let o2 = sw.id(&[
        "assist",
        "offer",
        "--as",
        "mc",
        "--collection",
        "shared",
        "--request",
        &r1,
        "--name",
        "mc OT responders",
        "--service",
        "ot-ics-support",
        "--service",
        "digital-forensics",
        "--lead-time",
        "48",
        "--mode",
        "on-site",
    ]);
    let board = sw.json(&["assist", "board", "--as", "ma"]);
    let open: Vec<&str> = board["open_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        open,
        vec![r1.as_str(), r2.as_str()],
        "r1 (immediate, essential) ranks first: {board}"
    );
    let proposals: BTreeSet<&str> = board["open_requests"][0]["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offer_id"].as_str().unwrap())
        .collect();
    assert_eq!(proposals, BTreeSet::from([o1.as_str(), o2.as_str()]));

    // The report, before the workflow moves on: rendered by Chromium, equal to direct counts.
    if let Some(chrome) = testenv::chromium("report rendered in headless Chromium") {
        let mut seen = Vec::new();
        for (m, colls) in [
            ("ma", vec!["shared", "private"]),
            ("mb", vec!["shared"]),
            ("mc", vec!["shared"]),
        ] {
            let html = tmp.path().join(format!("report-{m}.html"));
            let out = sw.json(&[
                "report",
                "--since",
                "7d",
                "--as",
                m,
                "--out",
                html.to_str().unwrap(),
            ]);
            let page = std::fs::read_to_string(&html).unwrap();
            let stripped = page.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !stripped.contains("http:")
                    && !stripped.contains("https:")
                    && !stripped.contains("src=")
                    && !stripped.contains("href="),
                "self-contained"
            );
            let dom = render(&chrome, &html, None);
            assert!(
                dom.contains("data-rendered=\""),
                "the page's script ran in Chromium"
            );
            let mut view: Vec<Value> = Vec::new();
            for c in colls {
                view.extend(sw.export(c, m, false));
            }
            // Objects created outside the window are not counted (the old sighting).
            view.retain(|o| {
                o["type"] != "sighting" || o["first_seen"].as_str().unwrap() >= days_ago(7).as_str()
            });
            let expected = direct_figures(&view);
            let got = dom_figures(&dom);
            assert_eq!(got, expected, "report for {m} ({out})");
            seen.push(got);
        }
        assert_ne!(seen[0], seen[1], "ma and mb see different pictures");
        assert_ne!(seen[1], seen[2], "mb and mc see different pictures");
        let ma = &seen[0];
        assert_eq!(
            ma[&("incidents".into(), String::new())],
            "3",
            "i1, i2, the FIMI incident"
        );
        assert_eq!(ma[&("incidents-by-sector".into(), "health".into())], "1");
        assert_eq!(
            ma[&("sightings".into(), String::new())],
            "11",
            "4 + 2 + ma's own RED 5"
        );
        assert_eq!(
            seen[1][&("sightings".into(), String::new())],
            "6",
            "mb: no RED"
        );
        assert_eq!(
            seen[1][&("incidents-by-country".into(), "FI".into())],
            "1",
            "mb's own RED"
        );
        assert_eq!(ma[&("open-requests".into(), String::new())], "2");
        assert_eq!(seen[1][&("open-requests".into(), String::new())], "1");
        assert_eq!(
            ma[&("top-attack".into(), "T1566 Phishing".into())],
            "2",
            "i1 and the FIMI incident"
        );
        if let Ok(dir) = std::env::var("SHIELDWALL_REPORT_SCREENSHOT") {
            render(
                &chrome,
                &tmp.path().join("report-ma.html"),
                Some(&PathBuf::from(dir)),
            );
        }
    }

    // The workflow (match, accept, deliver, close with an after-action report), its producer
    // rule and its version history are tested through the library's services, on both
    // backends, in `publish_services.rs` (`the_assistance_workflow_as_services`), which also
    // validates what the workflow writes with stix2-validator.
    let all = sw.export("shared", "ma", true);

    // Every object these commands wrote validates with `shieldwall validate` and stix2-validator.
    let mut written: Vec<Value> = all.clone();
    written.extend(sw.export("private", "ma", true));
    written.extend(
        sw.export("shared", "mb", true)
            .into_iter()
            .filter(|o| o["object_marking_refs"][0] == tlp::TLP2_RED),
    );
    let members: Vec<String> = MEMBERS.iter().map(|m| identity(m)).collect();
    written.retain(|o| {
        o["created_by_ref"]
            .as_str()
            .is_some_and(|c| members.iter().any(|m| m == c))
    });
    let types: BTreeSet<&str> = written.iter().filter_map(|o| o["type"].as_str()).collect();
    for t in [
        "incident",
        "impact",
        "identity",
        "relationship",
        "narrative",
        "channel",
        "assistance-request",
        "assistance-offer",
    ] {
        assert!(
            types.contains(t),
            "{t} among the written objects: {types:?}"
        );
    }
    let file = tmp.path().join("written.json");
    std::fs::write(&file, json!({"type": "bundle", "id": "bundle--5e6f7a8b-0000-4000-8000-000000000002", "objects": written}).to_string()).unwrap();
    let v = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "shieldwall validate: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    if let Some(python) = testenv::python("stix2-validator on the written objects") {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../coord/tests/support/check.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json!({"stix": written}).to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let res: Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = res["stix"].as_array().unwrap();
        assert_eq!(results.len(), written.len());
        let invalid: Vec<&Value> = results.iter().filter(|r| r["valid"] != true).collect();
        assert!(invalid.is_empty(), "stix2-validator: {invalid:#?}");
        // Open vocabularies: no warning (the after-action report's deliberate
        // `report_types: assistance-summary` is checked with the workflow's objects).
        let vocabulary: Vec<&Value> = results
            .iter()
            .flat_map(|r| r["vocabulary"].as_array().unwrap())
            .filter(|w| !w.as_str().unwrap().contains("in report_types is permitted"))
            .collect();
        assert!(
            vocabulary.is_empty(),
            "vocabulary warnings: {vocabulary:#?}"
        );
        eprintln!("stix2-validator: {} objects valid", results.len());
    }
}

/// `assist offer` without `--collection` goes beside the request it answers only when the
/// offering member may see the request and write where it is; otherwise it falls back to the
/// only collection the member may write, and with several it stores nothing and names no
/// collection of the request (a hidden request's place is not revealed).
#[test]
fn an_offer_goes_beside_its_request_only_where_the_member_may_write() {
    const REQUESTS: &str = "55555555-5555-4555-8555-555555555555";
    const B_OWN: &str = "66666666-6666-4666-8666-666666666666";
    const HIDDEN: &str = "77777777-7777-4777-8777-777777777777";
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut t = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n[[api_roots]]\nname = \"hub\"\ntitle = \"Hub\"\ndefault = true\n",
        d.join("data").display()
    );
    for (id, alias, read, write) in [
        (REQUESTS, "requests", "[\"*\"]", "[\"ma\", \"mb\"]"),
        (B_OWN, "b-own", "[\"mb\"]", "[\"mb\"]"),
        (HIDDEN, "hidden", "[\"ma\"]", "[\"ma\"]"),
    ] {
        t.push_str(&format!(
            "\n[[collections]]\nid = \"{id}\"\napi_root = \"hub\"\ntitle = \"{alias}\"\nalias = \"{alias}\"\nread = {read}\nwrite = {write}\n"
        ));
    }
    for m in MEMBERS {
        t.push_str(&format!(
            "\n[[members]]\nid = \"{m}\"\nname = \"Member {m}\"\nidentity = \"{}\"\n",
            identity(m)
        ));
    }
    let config = d.join("shieldwall.toml");
    std::fs::write(&config, t).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shieldwall"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("SHIELDWALL_LOG", "error")
            .output()
            .unwrap()
    };
    let id_of = |o: &Output| -> String {
        assert!(o.status.success(), "{}", common::show(o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["id"].as_str().unwrap().to_owned()
    };
    let request = |coll: &str| {
        id_of(&run(&[
            "assist",
            "request",
            "--as",
            "ma",
            "--collection",
            coll,
            "--json",
            "--name",
            "Forensics",
            "--need",
            "digital-forensics:5:person-days",
            "--urgency",
            "immediate",
        ]))
    };
    let offer = |member: &str, request: &str| {
        run(&[
            "assist",
            "offer",
            "--as",
            member,
            "--request",
            request,
            "--json",
            "--name",
            "Team",
            "--service",
            "digital-forensics",
            "--capacity",
            "digital-forensics:5:person-days",
        ])
    };
    let placed = |coll: &str, member: &str| -> Vec<Value> {
        let o = run(&["export", "--collection", coll, "--as", member]);
        assert!(o.status.success(), "{}", common::show(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == "assistance-offer")
            .cloned()
            .collect()
    };

    // mb sees the request and may write where it is: the offer goes there, not to b-own.
    let open = request("requests");
    let o = offer("mb", &open);
    let offered = id_of(&o);
    assert_eq!(placed("requests", "ma").len(), 1);
    assert_eq!(placed("requests", "ma")[0]["id"], offered.as_str());
    assert!(placed("b-own", "mb").is_empty());

    // A request mb may not see: no hint of where it is, nothing stored.
    let hidden = request("hidden");
    let o = offer("mb", &hidden);
    assert_eq!(o.status.code(), Some(2), "{}", common::show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--collection"), "{err}");
    // It names the collections mb may write to, and only those.
    assert!(err.contains("b-own") && err.contains("requests"), "{err}");
    assert!(!err.contains("hidden") && !err.contains(HIDDEN), "{err}");
    assert!(placed("b-own", "mb").is_empty());
    assert_eq!(placed("requests", "ma").len(), 1);

    // mc sees the request but may write nowhere: refused, nothing stored.
    let o = offer("mc", &open);
    assert_eq!(o.status.code(), Some(2), "{}", common::show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("may write to no collection"), "{err}");
    assert_eq!(placed("requests", "ma").len(), 1);
}
