//! The OASIS reference TAXII client (Python `taxii2-client`) drives a real `shieldwall serve
//! --demo` process over HTTP on 127.0.0.1 through every endpoint (see `taxii2_client_e2e.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn taxii2_client_drives_every_endpoint() {
    let Some(python) = testenv::python("taxii2-client end-to-end") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/taxii2_client_e2e.py");
    let out = Command::new(python)
        .args([script, &base, "ee-analyst", "demo", "Baltic sharing"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "taxii2-client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("taxii2-client end-to-end: OK"), "{stdout}");
}

/// Starts `shieldwall serve --demo`; returns the guard and the base URL (`http://127.0.0.1:N`).
fn serve_demo(data: &std::path::Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (guard, base)
}

/// One raw HTTP/1.1 exchange over 127.0.0.1: (status, headers lower-cased, body).
fn raw(
    base: &str,
    method: &str,
    target: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/taxii+json;version=2.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(basic) = auth {
        req.push_str(&format!("Authorization: Basic {basic}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/taxii+json;version=2.1\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// Every TAXII path written without its trailing slash is a 308 to the same path with it (query
/// kept; method and body kept by the client), for plain HTTP and for taxii2-client. The redirect
/// is decided before authentication and only from the path's shape: a hidden collection and a
/// missing one get the same answer, anonymous callers get a 401 at the target, and nothing
/// redirects off this server.
#[test]
fn paths_without_trailing_slash_are_redirected() {
    const EE: Option<&str> = Some("ZWUtYW5hbHlzdDpkZW1v"); // ee-analyst:demo
    const LV: Option<&str> = Some("bHYtYW5hbHlzdDpkZW1v"); // lv-analyst:demo
    let data = tempfile::tempdir().unwrap();
    let (_guard, base) = serve_demo(data.path());
    // Collection ids by title, as each user sees them.
    let ids = |auth| -> std::collections::BTreeMap<String, String> {
        let (status, _, body) = raw(&base, "GET", "/coalition/collections/", auth, "");
        assert_eq!(status, 200, "{body}");
        let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["title"].as_str().unwrap().to_owned(),
                    c["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let ee = ids(EE);
    let lv = ids(LV);
    let energy = ee["Energy sector"].clone();
    assert!(
        !lv.values().any(|i| *i == energy),
        "lv-analyst may not see it"
    );
    let obj = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let coll = format!("/coalition/collections/{}", ee["Baltic sharing"]);
    let coll = coll.as_str();
    let paths = [
        "/taxii2".to_owned(),
        "/coalition".to_owned(),
        "/coalition/collections".to_owned(),
        coll.to_owned(),
        format!("{coll}/objects"),
        format!("{coll}/manifest"),
        format!("{coll}/objects/{obj}"),
        format!("{coll}/objects/{obj}/versions"),
        "/coalition/status/4f4c5e05-0d9b-4a45-8e0a-6f0e7a3c2b11".to_owned(),
    ];
    for p in &paths {
        for auth in [EE, None] {
            let (status, head, body) = raw(&base, "GET", p, auth, "");
            assert_eq!(status, 308, "{p}: {head}");
            assert_eq!(
                header(&head, "location"),
                Some(format!("{p}/").as_str()),
                "{p}"
            );
            assert_eq!(body, "", "{p}: a redirect carries no body");
        }
        // Anonymous callers are refused at the target, as before.
        let (status, ..) = raw(&base, "GET", &format!("{p}/"), None, "");
        assert_eq!(status, 401, "{p}/ without credentials");
    }
    // The query string is kept.
    let (status, head, _) = raw(
        &base,
        "GET",
        &format!("{coll}/objects?limit=1&match[type]=indicator"),
        EE,
        "",
    );
    assert_eq!(status, 308);
    assert_eq!(
        header(&head, "location"),
        Some(format!("{coll}/objects/?limit=1&match[type]=indicator").as_str())
    );
    // A POST is redirected with 308 (not 301/302, which clients turn into a GET).
    let (status, head, _) = raw(
        &base,
        "POST",
        &format!("{coll}/objects"),
        EE,
        "{\"objects\": []}",
    );
    assert_eq!(status, 308);
    assert_eq!(
        header(&head, "location"),
        Some(format!("{coll}/objects/").as_str())
    );
    // A collection lv-analyst may not see and one that does not exist: the same redirect, then
    // the same 404 (cert-lv is not in the energy group).
    let hidden = format!("/coalition/collections/{energy}/objects");
    let missing = "/coalition/collections/5d0e1e1d-0000-4000-8000-000000000000/objects";
    let hidden = hidden.as_str();
    let (s1, h1, b1) = raw(&base, "GET", hidden, LV, "");
    let (s2, h2, b2) = raw(&base, "GET", missing, LV, "");
    assert_eq!((s1, s2), (308, 308));
    let strip = |h: &str| {
        h.lines()
            .filter(|l| !l.starts_with("location:") && !l.starts_with("date:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&h1), strip(&h2));
    assert_eq!(b1, b2);
    let (s1, _, b1) = raw(&base, "GET", &format!("{hidden}/"), LV, "");
    let (s2, _, b2) = raw(&base, "GET", &format!("{missing}/"), LV, "");
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(b1, b2);
    // Never a redirect off this server, nor for paths that are not TAXII endpoints.
    for p in [
        "//evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "/coalition/collections/x/objects/y/versions/z",
        "/coalition/nothing",
        "/taxii2/x",
        "/coalition/collections/x/../objects",
    ] {
        let (status, head, _) = raw(&base, "GET", p, EE, "");
        assert_ne!(status, 308, "{p}: {head}");
        assert!(header(&head, "location").is_none(), "{p}: {head}");
    }

    let Some(python) = testenv::python("taxii2-client without trailing slashes") else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/taxii2_client_slashes.py"
    );
    let out = Command::new(python)
        .args([script, &base, "ee-analyst", "demo"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "taxii2-client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("without trailing slashes: OK"), "{stdout}");
}
