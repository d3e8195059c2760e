//! `scan --collection` and `export --collection` against a hub store: the indicators used are
//! those the scanning member may see (the access policy applies), and `--since` uses the
//! store's `date_added`.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::ok;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::common::sw_stdin as sw;

fn hub(d: &Path) {
    ok(&sw(d, &["init"], None));
    for (m, id) in [
        ("cert-ee", "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"),
        ("cert-lv", "identity--1c6af861-7b20-41ef-9b59-6344fd872a8f"),
    ] {
        ok(&sw(
            d,
            &["admin", "add-member", m, "--name", m, "--identity", id],
            None,
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("shieldwall.toml"))
        .unwrap();
    writeln!(f, "\n[[collections]]\nid = \"4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11\"\napi_root = \"coalition\"\ntitle = \"Shared\"\nalias = \"shared\"\nread = [\"*\"]\nwrite = [\"cert-ee\"]").unwrap();
    let ind = |n: u32, domain: &str, tlp: &str| {
        json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "name": format!("{domain} C2"),
            "pattern": format!("[domain-name:value = '{domain}']"),
            "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00.000Z", "object_marking_refs": [tlp]})
    };
    let bundle = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9", "objects": [
        ind(1, "red.evil.example", stix::tlp::TLP2_RED), ind(2, "green.evil.example", stix::tlp::TLP2_GREEN)]});
    std::fs::write(d.join("bundle.json"), bundle.to_string()).unwrap();
    ok(&sw(
        d,
        &[
            "import",
            "bundle.json",
            "--collection",
            "shared",
            "--as",
            "cert-ee",
        ],
        None,
    ));
}

const LOG: &str = concat!(
    r#"{"@timestamp":"2024-05-01T12:00:00Z","dns":{"question":{"name":"red.evil.example"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-01T12:00:01Z","dns":{"question":{"name":"green.evil.example"}}}"#,
    "\n"
);

#[test]
fn scan_and_export_use_what_the_member_may_see() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    hub(d);
    let hits = |member: &str| -> Vec<String> {
        let out = ok(&sw(
            d,
            &[
                "scan",
                "--json",
                "--collection",
                "shared",
                "--as",
                member,
                "-",
            ],
            Some(LOG.as_bytes()),
        ));
        out.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["indicator"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    // The producer sees its RED indicator; the other member does not.
    assert_eq!(
        hits("cert-ee"),
        [
            "indicator--00000000-0000-4000-8000-000000000001",
            "indicator--00000000-0000-4000-8000-000000000002"
        ]
    );
    assert_eq!(
        hits("cert-lv"),
        ["indicator--00000000-0000-4000-8000-000000000002"]
    );

    // Retro-hunt by the store's date_added: everything was added just now.
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--since",
            "2020-01-01T00:00:00Z",
            "-",
        ],
        Some(LOG.as_bytes()),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = sw(
        d,
        &[
            "scan",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--since",
            "2200-01-01T00:00:00Z",
            "-",
        ],
        Some(LOG.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("skipped: 1 not added since --since"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Exports from the collection: the member's view, then the audience filter.
    let csv = ok(&sw(
        d,
        &[
            "export",
            "--format",
            "csv",
            "--collection",
            "shared",
            "--as",
            "cert-ee",
            "--audience",
            "internal",
        ],
        None,
    ));
    assert!(
        csv.contains("green.evil.example") && !csv.contains("red.evil.example"),
        "RED never leaves: {csv}"
    );
    let csv = ok(&sw(
        d,
        &[
            "export",
            "--format",
            "csv",
            "--collection",
            "shared",
            "--as",
            "cert-lv",
            "--audience",
            "public",
        ],
        None,
    ));
    assert_eq!(csv.lines().count(), 1, "GREEN is not public: {csv}");
    // The hub's STIX export is the default format.
    let stix = ok(&sw(
        d,
        &["export", "--collection", "shared", "--as", "cert-lv"],
        None,
    ));
    let b: serde_json::Value = serde_json::from_str(&stix).unwrap();
    assert_eq!(b["objects"].as_array().unwrap().len(), 1);
    let o = sw(
        d,
        &["export", "--format", "stix", "--indicators", "bundle.json"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format stix exports a hub collection"));
}

// ---------------------------------------------------------------------------------------------
// Only the latest version of each indicator leaves or is scanned for, and granular markings
// count: on SQLite and PostgreSQL.

const GRANULAR_RED_ON_PATTERN: &str = "granular";

/// Version `v` (1 or 2) of indicator `n` for `domain`, GREEN unless `red`; `extra` is merged in.
fn version(n: u32, v: u32, domain: &str, red: bool, extra: serde_json::Value) -> serde_json::Value {
    let mut o = json!({"type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created_by_ref": "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f",
        "created": "2024-01-01T00:00:00.000Z", "modified": format!("2024-0{v}-01T00:00:00.000Z"),
        "name": format!("{domain} v{v}"),
        "pattern": format!("[domain-name:value = '{domain}']"),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00.000Z",
        "object_marking_refs": [if red { stix::tlp::TLP2_RED } else { stix::tlp::TLP2_GREEN }]});
    if extra == GRANULAR_RED_ON_PATTERN {
        o["granular_markings"] =
            json!([{"selectors": ["pattern"], "marking_ref": stix::tlp::TLP2_RED}]);
    } else if let Some(m) = extra.as_object() {
        for (k, x) in m {
            o[k] = x.clone();
        }
    }
    o
}

/// Every domain the versioned hub's indicators ever named.
const DOMAINS: [&str; 8] = [
    "tightened.evil.example",
    "revoked.evil.example",
    "old-value.evil.example",
    "new-value.evil.example",
    "granular.evil.example",
    "control.evil.example",
    "expired.evil.example",
    "sighted.evil.example",
];

struct Hub<'a> {
    dir: &'a Path,
    database: Option<&'a str>,
}

impl Hub<'_> {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shieldwall"));
        c.current_dir(self.dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = self.database {
            c.env("SHIELDWALL_SERVER__DATABASE", url);
        }
        let mut child = c.spawn().unwrap();
        let input = stdin.map(<[u8]>::to_vec);
        let mut pipe = child.stdin.take().unwrap();
        let w = std::thread::spawn(move || {
            if let Some(b) = input {
                let _ = pipe.write_all(&b);
            }
        });
        let out = child.wait_with_output().unwrap();
        w.join().unwrap();
        out
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args, None);
        ok(&o);
        o
    }

    fn import(&self, name: &str, objects: Vec<serde_json::Value>) {
        let b = json!({"type": "bundle", "id": "bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9", "objects": objects});
        std::fs::write(self.dir.join(name), b.to_string()).unwrap();
        let o = self.ok(&["import", name, "--collection", "shared", "--as", "cert-ee"]);
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("refused"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The domains `member` exports for `audience` as CSV, and the summary on stderr.
    fn exported(&self, member: &str, audience: &str) -> (Vec<String>, String) {
        let o = self.ok(&[
            "export",
            "--format",
            "csv",
            "--collection",
            "shared",
            "--as",
            member,
            "--audience",
            audience,
        ]);
        let csv = String::from_utf8(o.stdout).unwrap();
        let mut domains: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().to_owned())
            .collect();
        domains.sort();
        (domains, String::from_utf8_lossy(&o.stderr).into_owned())
    }

    /// The domains `member`'s scan of every domain ever indicated hits.
    fn hits(&self, member: &str) -> (Vec<String>, String) {
        let log: String = DOMAINS
            .iter()
            .map(|d| {
                format!(
                    "{{\"@timestamp\":\"2024-05-01T12:00:00Z\",\"dns\":{{\"question\":{{\"name\":\"{d}\"}}}}}}\n"
                )
            })
            .collect();
        let o = self.run(
            &[
                "scan",
                "--json",
                "--collection",
                "shared",
                "--as",
                member,
                "-",
            ],
            Some(log.as_bytes()),
        );
        assert!(o.status.code() == Some(0) || o.status.code() == Some(1));
        let mut hits: Vec<String> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        hits.sort();
        (hits, String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

fn versioned_hub<'a>(dir: &'a Path, database: Option<&'a str>) -> Hub<'a> {
    let h = Hub { dir, database };
    h.ok(&["init"]);
    for (m, id) in [
        ("cert-ee", "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"),
        ("cert-lv", "identity--1c6af861-7b20-41ef-9b59-6344fd872a8f"),
    ] {
        h.ok(&["admin", "add-member", m, "--name", m, "--identity", id]);
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("shieldwall.toml"))
        .unwrap();
    writeln!(f, "\n[[collections]]\nid = \"4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11\"\napi_root = \"coalition\"\ntitle = \"Shared\"\nalias = \"shared\"\nread = [\"*\"]\nwrite = [\"cert-ee\"]").unwrap();
    let none = json!({});
    // First versions, all GREEN (one with a TLP:RED granular marking on its pattern).
    h.import(
        "v1.json",
        vec![
            version(11, 1, "tightened.evil.example", false, none.clone()),
            version(12, 1, "revoked.evil.example", false, none.clone()),
            version(13, 1, "old-value.evil.example", false, none.clone()),
            version(
                14,
                1,
                "granular.evil.example",
                false,
                json!(GRANULAR_RED_ON_PATTERN),
            ),
            version(15, 1, "control.evil.example", false, none.clone()),
            version(16, 1, "expired.evil.example", false, none.clone()),
            version(17, 1, "sighted.evil.example", false, none.clone()),
        ],
    );
    // Then: 11 re-marked RED, 12 revoked, 13 a new value, 16 expired.
    h.import(
        "v2.json",
        vec![
            version(11, 2, "tightened.evil.example", true, none.clone()),
            version(
                12,
                2,
                "revoked.evil.example",
                false,
                json!({"revoked": true}),
            ),
            version(13, 2, "new-value.evil.example", false, none.clone()),
            version(
                16,
                2,
                "expired.evil.example",
                false,
                json!({"valid_until": "2024-06-01T00:00:00.000Z"}),
            ),
        ],
    );
    h
}

fn latest_versions_only(database: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let h = versioned_hub(tmp.path(), database);
    let expect = |v: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
        v.sort();
        v
    };
    let visible_to_all = [
        "new-value.evil.example",
        "control.evil.example",
        "sighted.evil.example",
    ];
    // cert-lv may see version 1 of the re-marked indicator but not version 2: it is withdrawn,
    // for every audience; nor does it see the indicator with a RED part at all.
    for audience in ["coalition", "internal"] {
        let (domains, summary) = h.exported("cert-lv", audience);
        assert_eq!(domains, expect(&visible_to_all), "{audience}: {summary}");
        assert!(
            summary.contains("indicator--00000000-0000-4000-8000-000000000011 withdrawn: the collection holds a later version this member may not see"),
            "{summary}"
        );
        // Exactly these three: the indicator with a RED part is not even in cert-lv's view.
        assert!(
            summary.contains("withdrawn: 3 (later version hidden 1, revoked 1, expired 1)"),
            "{summary}"
        );
    }
    // The producer sees version 2 (RED) and the granular RED: neither leaves in an export.
    let (domains, summary) = h.exported("cert-ee", "internal");
    assert_eq!(domains, expect(&visible_to_all), "{summary}");
    assert!(
        summary.contains("revoked 1, expired 1, TLP not for this audience 2"),
        "{summary}"
    );
    // Public: nothing GREEN.
    assert_eq!(h.exported("cert-lv", "public").0, Vec::<String>::new());

    // Other block-list formats take the same path.
    let o = h.ok(&[
        "export",
        "--format",
        "txt",
        "--type",
        "domain",
        "--collection",
        "shared",
        "--as",
        "cert-lv",
        "--audience",
        "internal",
    ]);
    let mut txt: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    txt.sort();
    assert_eq!(txt, expect(&visible_to_all));
    let rpz = h.ok(&[
        "export",
        "--format",
        "rpz",
        "--collection",
        "shared",
        "--as",
        "cert-ee",
    ]);
    let zone = String::from_utf8(rpz.stdout).unwrap();
    for d in DOMAINS {
        assert_eq!(
            zone.contains(&format!("\n{d} CNAME .")),
            visible_to_all.contains(&d),
            "{d} in\n{zone}"
        );
    }

    // Scans: the same latest versions. The producer scans for its own RED indicators.
    let (hits, summary) = h.hits("cert-lv");
    assert_eq!(hits, expect(&visible_to_all), "{summary}");
    assert!(summary.contains("later version hidden 1"), "{summary}");
    let (hits, summary) = h.hits("cert-ee");
    assert_eq!(
        hits,
        expect(&[
            "tightened.evil.example",
            "granular.evil.example",
            "new-value.evil.example",
            "control.evil.example",
            "sighted.evil.example"
        ]),
        "{summary}"
    );

    // The MISP feed: nothing of a withdrawn or hidden indicator in any file.
    for (member, audience) in [("cert-lv", "internal"), ("cert-ee", "internal")] {
        let out = h.dir.join(format!("feed-{member}"));
        h.ok(&[
            "export",
            "--format",
            "misp-feed",
            "--collection",
            "shared",
            "--as",
            member,
            "--audience",
            audience,
            "--out",
            out.to_str().unwrap(),
        ]);
        let mut all = String::new();
        for e in std::fs::read_dir(&out).unwrap() {
            all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        assert!(all.contains("control.evil.example"), "{member}: {all}");
        assert!(all.contains("new-value.evil.example"), "{member}");
        for gone in [
            "tightened.evil.example",
            "revoked.evil.example",
            "old-value.evil.example",
            "granular.evil.example",
        ] {
            assert!(!all.contains(gone), "{member}: {gone} in the feed");
        }
    }

    // The report: a sighting GREEN with a RED part is counted, and marks the page, only for
    // those who may see it.
    let sighting = |n: u32, count: u64, granular: bool| {
        let mut s = json!({"type": "sighting", "spec_version": "2.1",
            "id": format!("sighting--00000000-0000-4000-8000-{n:012}"),
            "created_by_ref": "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f",
            "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
            "sighting_of_ref": "indicator--00000000-0000-4000-8000-000000000017",
            "count": count, "object_marking_refs": [stix::tlp::TLP2_GREEN]});
        if granular {
            s["granular_markings"] =
                json!([{"selectors": ["count"], "marking_ref": stix::tlp::TLP2_RED}]);
        }
        s
    };
    h.import(
        "sightings.json",
        vec![sighting(1, 3, false), sighting(2, 40, true)],
    );
    for (member, sightings, label) in [("cert-lv", 3, "TLP:GREEN"), ("cert-ee", 43, "TLP:RED")] {
        let html = h.dir.join(format!("report-{member}.html"));
        let o = h.ok(&[
            "report",
            "--since",
            "2024-01-01T00:00:00Z",
            "--as",
            member,
            "--out",
            html.to_str().unwrap(),
            "--json",
        ]);
        let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(figures["sightings"], sightings, "{member}: {figures}");
        assert_eq!(figures["tlp"], label, "{member}: {figures}");
        let page = std::fs::read_to_string(&html).unwrap();
        assert_eq!(
            page.matches(&format!("data-tlp=\"{label}\"")).count(),
            2,
            "{member}: top and bottom"
        );
        assert_eq!(page.matches("data-tlp=").count(), 2);
    }
}

#[test]
fn exports_and_scans_use_only_the_latest_version() {
    latest_versions_only(None);
}

#[test]
fn exports_and_scans_use_only_the_latest_version_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(common::PgDb::create(
        "latest-version exports and scans on PostgreSQL",
    )) else {
        return;
    };
    latest_versions_only(Some(&db.url));
    rt.block_on(db.drop_db(None));
}
