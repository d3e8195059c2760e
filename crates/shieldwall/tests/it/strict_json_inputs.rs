//! Every untrusted JSON document is read strictly (`stix::json`, `stix::stream`): a duplicate key,
//! which a lenient parser would collapse to its last value, is refused with where it is — in a
//! file given to `import` (STIX, MISP event, MISP feed manifest), to `pattern match`, to
//! `export --format misp-feed --indicators`, and in a page or status a sync peer serves over
//! HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    path::Path,
    time::Duration,
};

use shieldwall::{config::PeerConfig, sync::client::ClientError, sync::client::TaxiiClient};

use crate::common::{show, sw};

const INTEL: &str = "4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11";

/// Runs `args` in `d`, which must fail, and returns its standard error.
fn refused(d: &Path, args: &[&str]) -> String {
    let o = sw(d, args);
    assert!(!o.status.success(), "{}", show(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_config(d: &Path) {
    let t = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\ndefault_tlp = \"amber\"\n\n\
         [[api_roots]]\nname = \"coalition\"\ntitle = \"Coalition\"\ndefault = true\n\n\
         [[collections]]\nid = \"{INTEL}\"\napi_root = \"coalition\"\ntitle = \"Intel\"\nalias = \"intel\"\nread = [\"*\"]\nwrite = [\"*\"]\n\n\
         [[members]]\nid = \"cert-ee\"\nname = \"CERT-EE\"\nidentity = \"identity--8c6af861-7b20-41ef-9b59-6344fd872a8f\"\n",
        d.join("data").display()
    );
    std::fs::write(d.join("shieldwall.toml"), t).unwrap();
}

fn indicator(n: u32) -> String {
    format!(
        r#"{{"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-{n:012}", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '192.0.2.{n}']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z"}}"#
    )
}

fn stored(d: &Path) -> usize {
    let o = sw(d, &["export", "--collection", "intel", "--as", "cert-ee"]);
    assert!(o.status.success(), "{}", show(&o));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    b["objects"].as_array().map_or(0, Vec::len)
}

#[test]
fn import_refuses_a_duplicate_key_at_its_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_config(d);
    let import = |file: &str| {
        refused(
            d,
            &["import", file, "--collection", "intel", "--as", "cert-ee"],
        )
    };

    // In an object of a bundle: the second `pattern` is where the error is.
    let second = indicator(2).replacen(
        r#""pattern_type""#,
        r#""pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type""#,
        1,
    );
    let bundle = format!(
        "{{\"type\": \"bundle\", \"id\": \"bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9\", \"objects\": [\n{},\n{second}\n]}}\n",
        indicator(1)
    );
    std::fs::write(d.join("bundle.json"), &bundle).unwrap();
    let column = second
        .find(r#""pattern": "[ipv4-addr:value = '198"#)
        .unwrap()
        + 1;
    let err = import("bundle.json");
    assert!(
        err.contains(&format!(
            "bundle.json:3:{}: duplicate key \"pattern\"",
            column + 8
        )),
        "{err}"
    );
    assert_eq!(stored(d), 0, "nothing of a refused file is stored");

    // In an envelope's own properties, after its objects.
    std::fs::write(
        d.join("envelope.json"),
        format!(
            "{{\"objects\": [{}],\n \"more\": false, \"more\": true}}",
            indicator(3)
        ),
    )
    .unwrap();
    let err = import("envelope.json");
    assert!(
        err.contains("envelope.json:2:") && err.contains("duplicate key \"more\""),
        "{err}"
    );

    // The same documents without the duplicate import.
    std::fs::write(
        d.join("good.json"),
        format!(
            "{{\"type\": \"bundle\", \"id\": \"bundle--6a4d0a0b-57b4-4a54-a8c5-05ad5b1f37a9\", \"objects\": [{}, {}]}}",
            indicator(1),
            indicator(2)
        ),
    )
    .unwrap();
    let o = sw(
        d,
        &[
            "import",
            "good.json",
            "--collection",
            "intel",
            "--as",
            "cert-ee",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(stored(d), 2);
}

#[test]
fn import_refuses_duplicate_keys_in_misp_events_and_feed_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_config(d);
    let event = r#"{"Event": {"uuid": "5e6a2c1e-1f4b-4f6a-9d3b-0a1b2c3d4e5f", "info": "first",
 "info": "second", "date": "2023-11-14", "timestamp": "1700000000", "Attribute": []}}"#;
    std::fs::write(d.join("event.json"), event).unwrap();
    let err = refused(
        d,
        &[
            "import",
            "event.json",
            "--from",
            "misp",
            "--collection",
            "intel",
            "--as",
            "cert-ee",
        ],
    );
    assert!(
        err.contains("event.json: invalid JSON at line 2")
            && err.contains("duplicate key \"info\""),
        "{err}"
    );

    let feed = d.join("feed");
    std::fs::create_dir(&feed).unwrap();
    let uuid = "5e6a2c1e-1f4b-4f6a-9d3b-0a1b2c3d4e5f";
    std::fs::write(
        feed.join("manifest.json"),
        format!("{{\"{uuid}\": {{\"info\": \"a\"}},\n\"{uuid}\": {{\"info\": \"b\"}}}}"),
    )
    .unwrap();
    std::fs::write(
        feed.join(format!("{uuid}.json")),
        event.replace("\n \"info\": \"second\",", ""),
    )
    .unwrap();
    let err = refused(
        d,
        &["import", "feed", "--collection", "intel", "--as", "cert-ee"],
    );
    assert!(
        err.contains("manifest.json: invalid JSON at line 2")
            && err.contains(&format!("duplicate key \"{uuid}\"")),
        "{err}"
    );
    assert_eq!(stored(d), 0);
}

#[test]
fn pattern_match_refuses_a_duplicate_key_in_the_observations() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // With the duplicate collapsed, the pattern would match the last value.
    let observed = r#"[{"type": "observed-data", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf", "created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z", "first_observed": "2015-12-21T19:00:00Z", "last_observed": "2015-12-21T19:00:00Z", "number_observed": 1,
  "objects": {"0": {"type": "ipv4-addr", "value": "198.51.100.1", "value": "203.0.113.9"}}}]"#;
    std::fs::write(d.join("observed.json"), observed).unwrap();
    let args = [
        "pattern",
        "match",
        "--stix-version",
        "2.0",
        "[ipv4-addr:value = '203.0.113.9']",
        "--observed",
        "observed.json",
    ];
    let o = sw(d, &args);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("observed.json:2:") && err.contains("duplicate key \"value\""),
        "{err}"
    );
    std::fs::write(
        d.join("observed.json"),
        observed.replace(r#""value": "198.51.100.1", "#, ""),
    )
    .unwrap();
    let o = sw(d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn misp_feed_export_refuses_a_duplicate_key_in_an_indicator_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let dup = indicator(1).replacen(
        r#""pattern_type": "stix""#,
        r#""pattern_type": "stix", "pattern_type": "sigma""#,
        1,
    );
    std::fs::write(d.join("ind.json"), format!("[\n{dup}\n]")).unwrap();
    let err = refused(
        d,
        &[
            "export",
            "--format",
            "misp-feed",
            "--indicators",
            "ind.json",
            "--out",
            "feed",
        ],
    );
    assert!(
        err.contains("ind.json:2:") && err.contains("duplicate key \"pattern_type\""),
        "{err}"
    );
    assert!(!d.join("feed").exists(), "no feed written");
}

/// A TAXII peer on 127.0.0.1 that answers every request with `body` (status 200 for GET, 202
/// for POST), as a misbehaving or hostile node could.
fn peer_serving(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut sink = vec![0u8; length];
            let _ = reader.read_exact(&mut sink);
            let status = if request.starts_with("POST") {
                "202 Accepted"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/taxii+json;version=2.1\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

fn client(url: &str) -> TaxiiClient {
    let peer: PeerConfig = serde_json::from_value(serde_json::json!({
        "name": "hostile", "url": url, "api_root": "sync", "member": "cert-ee"
    }))
    .unwrap();
    TaxiiClient::new(&peer, &|_| None)
        .unwrap()
        .with_retries(0, Duration::from_millis(1))
}

#[test]
fn sync_refuses_a_peer_page_or_status_with_a_duplicate_key() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pull = |url: &str| {
        rt.block_on(async {
            client(url)
                .get_objects(INTEL, None, None, 10)
                .await
                .map(|_| ())
        })
    };
    let protocol_message = |r: Result<(), ClientError>| match r {
        Err(ClientError::Protocol { message, .. }) => message,
        other => panic!("{other:?}"),
    };

    // A page whose object has two ids: a lenient parser would keep the second silently.
    let url = peer_serving(
        "{\"objects\": [{\"type\": \"indicator\",\n \"id\": \"indicator--00000000-0000-4000-8000-000000000001\", \"id\": \"indicator--00000000-0000-4000-8000-000000000002\"}]}",
    );
    let m = protocol_message(pull(&url));
    assert!(m.contains("duplicate key \"id\" at line 2 column"), "{m}");

    // An envelope with two `more`.
    let url = peer_serving("{\"objects\": [], \"more\": true, \"more\": false}");
    let m = protocol_message(pull(&url));
    assert!(m.contains("duplicate key \"more\" at line 1"), "{m}");

    // A status resource with two `success_count`.
    let url = peer_serving(
        "{\"id\": \"s\", \"status\": \"complete\", \"total_count\": 1, \"success_count\": 1, \"success_count\": 0, \"failure_count\": 0, \"pending_count\": 0}",
    );
    let m = protocol_message(rt.block_on(async {
        client(&url)
            .post_objects(INTEL, &[indicator(1).as_str()])
            .await
            .map(|_| ())
    }));
    assert!(m.contains("duplicate key \"success_count\""), "{m}");

    // The same page without the duplicate is read.
    let url = peer_serving("{\"objects\": [{\"type\": \"indicator\"}], \"more\": false}");
    let page = rt
        .block_on(async { client(&url).get_objects(INTEL, None, None, 10).await })
        .unwrap();
    assert_eq!((page.objects.len(), page.more), (1, false));
}
