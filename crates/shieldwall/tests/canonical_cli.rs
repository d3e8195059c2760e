//! One canonical value per indicator, through the binary: MISP's typed address shape, networks
//! given with host bits, IDN domains, URLs with credentials and fragments and hash names in any
//! case are exported to every block-list format in their canonical form and found by `scan` in
//! Suricata EVE (URL with a port, proxy-form request); warninglists (built in, and a folder of
//! MISP-format lists) suppress what is too broad or known-good, with the reason.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn shieldwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const PATTERNS: &[&str] = &[
    // 1: MISP ip-dst.
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '45.33.32.156']",
    // 2: MISP ip-src, IPv6.
    "[network-traffic:src_ref.type = 'ipv6-addr' AND network-traffic:src_ref.value = '2a01:4f8::5']",
    // 3: a network given with host bits, compared with `=`.
    "[ipv4-addr:value = '45.33.32.70/26']",
    // 4: a network holding 1 and 3.
    "[ipv4-addr:value ISSUBSET '45.33.32.0/24']",
    // 5: an IDN domain.
    "[domain-name:value = 'Bücher.Example']",
    // 6: a hash name in lower case, as in OASIS's examples.
    "[file:hashes.md5 = 'D41D8CD98F00B204E9800998ECF8427E']",
    // 7: a URL with credentials, a port and a fragment.
    "[url:value = 'http://user:pw@Evil.Example:8080/x?a=1#frag']",
    // 8: a public suffix.
    "[domain-name:value = 'com']",
    // 9, 10: the whole address space.
    "[ipv4-addr:value = '0.0.0.0/0']",
    "[ipv6-addr:value = '::/0']",
    // 11: a public resolver beside a real value.
    "[ipv4-addr:value = '8.8.8.8' OR domain-name:value = 'c2.example']",
    // 12: loopback.
    "[ipv4-addr:value = '127.0.0.1']",
    // 13: a domain an extra MISP-format list names.
    "[domain-name:value = 'cdn.partner.example']",
];

fn bundle(dir: &Path) -> String {
    let objects: Vec<Value> = PATTERNS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--00000000-0000-4000-8000-{:012}", i + 1),
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": format!("indicator {}", i + 1),
                "pattern": p, "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z",
            })
        })
        .collect();
    let p = dir.join("indicators.json");
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects})).unwrap(),
    )
    .unwrap();
    p.display().to_string()
}

/// A folder laid out as MISP's `misp-warninglists` (`lists/<name>/list.json`).
fn misp_lists(dir: &Path) -> String {
    let d = dir.join("misp-warninglists/lists/partner-cdn");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("list.json"),
        serde_json::to_vec_pretty(&json!({
            "name": "Partner CDN",
            "version": 20240101,
            "description": "Our partner's content delivery network",
            "type": "hostname",
            "category": "false-positive",
            "matching_attributes": ["domain", "hostname"],
            "list": ["partner.example"]
        }))
        .unwrap(),
    )
    .unwrap();
    dir.join("misp-warninglists").display().to_string()
}

fn export(b: &str, format: &str, extra: &[&str]) -> Output {
    let mut args = vec!["export", "--format", format, "--indicators", b];
    args.extend_from_slice(extra);
    let o = shieldwall(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o
}

#[test]
fn canonical_values_in_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());

    let csv = stdout(&export(&b, "csv", &[]));
    let values: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[2].to_owned(), c[3].to_owned())
        })
        .collect();
    let want = [
        ("ipv4", "45.33.32.156"),
        ("ipv6", "2a01:4f8::5"),
        ("cidr", "45.33.32.64/26"),
        ("cidr", "45.33.32.0/24"),
        ("domain", "xn--bcher-kva.example"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("url", "http://evil.example:8080/x?a=1"),
        ("domain", "c2.example"),
        ("domain", "cdn.partner.example"),
    ];
    assert_eq!(
        values,
        want.map(|(k, v)| (k.to_owned(), v.to_owned())),
        "{csv}"
    );

    let zeek = stdout(&export(&b, "zeek", &[]));
    for line in [
        "45.33.32.156\tIntel::ADDR\t",
        "2a01:4f8::5\tIntel::ADDR\t",
        "45.33.32.64/26\tIntel::SUBNET\t",
        "xn--bcher-kva.example\tIntel::DOMAIN\t",
        "d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\t",
        "evil.example:8080/x?a=1\tIntel::URL\t",
    ] {
        assert!(zeek.contains(line), "{line} in\n{zeek}");
    }
    assert!(!zeek.contains("user") && !zeek.contains("frag"), "{zeek}");

    let rules = stdout(&export(
        &b,
        "suricata",
        &["-o", dir.path().join("r.rules").to_str().unwrap()],
    ));
    assert!(rules.is_empty());
    let rules = std::fs::read_to_string(dir.path().join("r.rules")).unwrap();
    for want in [
        "alert ip any any -> 45.33.32.156 any",
        "alert ip [2a01:4f8::5] any -> any any",
        "alert ip any any -> 45.33.32.64/26 any",
        "dns.query; content:\"xn--bcher-kva.example\"",
    ] {
        assert!(rules.contains(want), "{want} in\n{rules}");
    }

    // Lists per family, deduplicated and collapsed: 45.33.32.156 and .64/26 are in .0/24.
    let out = dir.path().join("lists");
    export(&b, "txt", &["-o", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("ipv4.txt")).unwrap(),
        "45.33.32.0/24\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("ipv6.txt")).unwrap(),
        "2a01:4f8::5\n"
    );
    assert!(!out.join("cidr.txt").exists());

    let zone = dir.path().join("rpz.zone");
    export(&b, "rpz", &["--serial", "7", "-o", zone.to_str().unwrap()]);
    let text = std::fs::read_to_string(&zone).unwrap();
    for want in [
        "\n32.156.32.33.45.rpz-ip CNAME .\n",
        "\n26.64.32.33.45.rpz-ip CNAME .\n",
        "\n24.0.32.33.45.rpz-ip CNAME .\n",
        "\n128.5.zz.4f8.2a01.rpz-ip CNAME .\n",
        "\nxn--bcher-kva.example CNAME .\n",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    assert!(
        !text.contains("\ncom CNAME") && !text.contains("0.0.0.0.0.rpz-ip"),
        "{text}"
    );
    match Command::new("named-checkzone")
        .arg("rpz.shieldwall")
        .arg(&zone)
        .output()
    {
        Ok(check) => assert!(
            check.status.success(),
            "named-checkzone failed:\n{}",
            String::from_utf8_lossy(&check.stdout)
        ),
        Err(_) => println!(
            "SKIPPED: named-checkzone is not installed (run .ci/install-tools); the zone was not checked"
        ),
    }
}

#[test]
fn warninglists_suppress_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let o = export(&b, "csv", &[]);
    let err = stderr(&o);
    let csv = stdout(&o);
    for (gone, why) in [
        (",com,", "com is a public suffix"),
        ("0.0.0.0/0", "0.0.0.0/0 contains"),
        ("::/0", "::/0 contains"),
        ("8.8.8.8", "Well-known public DNS resolvers"),
        ("127.0.0.1", "127.0.0.1 is in 127.0.0.0/8"),
    ] {
        assert!(!csv.contains(gone), "{gone} in\n{csv}");
        assert!(err.contains(why), "{why} in\n{err}");
    }
    assert!(
        err.contains("values on warninglists: 5 suppressed"),
        "{err}"
    );
    // The other value of indicator 11 stays.
    assert!(csv.contains(",c2.example,"), "{csv}");

    // A folder of MISP-format lists adds to the built-in ones.
    let lists = misp_lists(dir.path());
    let o = export(&b, "csv", &["--warninglists", &lists]);
    let err = stderr(&o);
    assert!(
        err.contains("1 warninglists (1 entries) loaded from"),
        "{err}"
    );
    assert!(!stdout(&o).contains("cdn.partner.example"));
    assert!(
        err.contains("Partner CDN: cdn.partner.example is partner.example or under it"),
        "{err}"
    );

    // Without the built-in lists, everything is exported.
    let o = export(&b, "csv", &["--no-builtin-warninglists"]);
    assert!(stdout(&o).contains("0.0.0.0/0"));
    assert!(stdout(&o).contains(",com,"));

    // A folder without any warninglist is an error.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = shieldwall(&[
        "export",
        "--format",
        "csv",
        "--indicators",
        &b,
        "--warninglists",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn scan_finds_the_canonical_values_in_eve() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let lines = [
        // 1: the MISP ip-dst address as destination.
        r#"{"timestamp":"2024-05-01T12:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1","src_port":5000,"dest_ip":"45.33.32.156","dest_port":443,"proto":"TCP"}"#,
        // 2: the MISP ip-src IPv6 address as source.
        r#"{"timestamp":"2024-05-01T12:00:01.000000+0000","event_type":"flow","src_ip":"2a01:04f8:0000::5","dest_ip":"2001:db8::1","proto":"UDP"}"#,
        // 3: the IDN domain, as DNS logs carry it (punycode) and as some tools log it (UTF-8).
        r#"{"timestamp":"2024-05-01T12:00:02.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"10.0.0.53","dns":{"type":"query","rrname":"xn--bcher-kva.example","rrtype":"A"}}"#,
        r#"{"timestamp":"2024-05-01T12:00:03.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"10.0.0.53","dns":{"type":"query","rrname":"BÜCHER.example.","rrtype":"A"}}"#,
        // 4: the URL on port 8080.
        r#"{"timestamp":"2024-05-01T12:00:04.000000+0000","event_type":"http","src_ip":"10.0.0.1","dest_ip":"198.51.100.80","dest_port":8080,"proto":"TCP","http":{"hostname":"evil.example","http_port":8080,"url":"/x?a=1"}}"#,
        // 5: the same URL through a proxy (proxy-form request line).
        r#"{"timestamp":"2024-05-01T12:00:05.000000+0000","event_type":"http","src_ip":"10.0.0.1","dest_ip":"10.0.0.3","dest_port":3128,"proto":"TCP","http":{"hostname":"evil.example","url":"http://evil.example:8080/x?a=1"}}"#,
        // 6: the file MD5.
        r#"{"timestamp":"2024-05-01T12:00:06.000000+0000","event_type":"fileinfo","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","fileinfo":{"filename":"a.bin","md5":"d41d8cd98f00b204e9800998ecf8427e"}}"#,
        // 7: suppressed: a resolver, loopback, the whole address space.
        r#"{"timestamp":"2024-05-01T12:00:07.000000+0000","event_type":"flow","src_ip":"127.0.0.1","dest_ip":"8.8.8.8","dest_port":53,"proto":"UDP"}"#,
    ];
    let log = dir.path().join("eve.json");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let o = shieldwall(&[
        "scan",
        "--any-time",
        "--json",
        "--indicators",
        &b,
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut hits: Vec<(u64, String)> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|h| {
            (
                h["line"].as_u64().unwrap(),
                h["indicator"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("indicator--00000000-0000-4000-8000-")
                    .trim_start_matches('0')
                    .to_owned(),
            )
        })
        .collect();
    hits.sort();
    hits.dedup();
    let want: Vec<(u64, String)> = [
        (1, "1"),
        (1, "4"),
        (2, "2"),
        (3, "5"),
        (4, "5"),
        (5, "7"),
        (6, "7"),
        (7, "6"),
    ]
    .iter()
    .map(|(l, i)| (*l, (*i).to_owned()))
    .collect();
    assert_eq!(hits, want, "{}\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("on a warninglist, not scanned for"), "{err}");
    assert!(err.contains("4 on warninglists"), "{err}");
}
