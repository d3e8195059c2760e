//! End to end: the exports fire in the real tools. A capture is built here (Ethernet frames,
//! TCP with handshake, sequence numbers and FIN so that Suricata reassembles HTTP and TLS) with
//! planted and decoy traffic for every value type docs/DETECTION.md promises; the indicators are
//! exported with `shieldwall export --format suricata` (one rule per value, then datasets), run
//! through `suricata -r` with the stock configuration plus the exported fragment, and every
//! planted indicator must alert, no decoy flow may; `shieldwall scan` over Suricata's EVE output
//! must find the same indicators. The RPZ zone is served by a real `named` on 127.0.0.1.
//!
//! Without `suricata` (or `named`, `dig`) the test prints `SKIPPED:`;
//! `SHIELDWALL_REQUIRE_SURICATA=1` (set by `.ci/run`) makes them mandatory.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use md5::Digest as _;
use serde_json::{Value, json};

fn shieldwall(args: &[&str]) -> Output {
    crate::common::shieldwall_with_stdin(args, None)
}

use crate::common::stderr;

/// Whether a tool runs; `None` after printing `SKIPPED:` (a failure when required).
fn tool(name: &str, version_arg: &str, what: &str) -> Option<()> {
    let ok = Command::new(name)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if ok {
        return Some(());
    }
    let required =
        std::env::var("SHIELDWALL_REQUIRE_SURICATA").is_ok_and(|v| v == "1" || v == "true");
    assert!(
        !required,
        "{what}: `{name}` is required here (SHIELDWALL_REQUIRE_SURICATA=1) but does not run"
    );
    println!("SKIPPED: {what}: `{name}` is not installed (run .ci/install-tools)");
    None
}

/// A classic pcap file (microsecond timestamps, Ethernet link type) built frame by frame.
mod pcap {
    use std::net::IpAddr;

    pub(crate) struct Capture {
        pub(crate) frames: Vec<Vec<u8>>,
        port: u16,
    }

    fn csum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for c in data.chunks(2) {
            let w = u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
            sum = sum.wrapping_add(w);
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    impl Capture {
        pub(crate) fn new() -> Self {
            Capture {
                frames: Vec::new(),
                port: 40_000,
            }
        }

        pub(crate) fn port(&mut self) -> u16 {
            self.port += 1;
            self.port
        }

        /// One IP packet (v4 or v6 after the addresses) carrying `l4` of protocol `proto`,
        /// its checksum (at `l4[ck..ck+2]`) computed over the pseudo-header.
        fn ip(&mut self, src: IpAddr, dst: IpAddr, proto: u8, mut l4: Vec<u8>, ck: usize) {
            let len = l4.len();
            let mut pseudo = Vec::new();
            let (ethertype, header) = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    pseudo.extend(s.octets());
                    pseudo.extend(d.octets());
                    pseudo.extend([0, proto]);
                    pseudo.extend(u16::try_from(len).unwrap().to_be_bytes());
                    let mut h = vec![0x45, 0];
                    h.extend(u16::try_from(20 + len).unwrap().to_be_bytes());
                    h.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
                    h.extend(s.octets());
                    h.extend(d.octets());
                    let c = csum(&h);
                    h[10..12].copy_from_slice(&c.to_be_bytes());
                    (0x0800u16, h)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    pseudo.extend(s.octets());
                    pseudo.extend(d.octets());
                    pseudo.extend(u32::try_from(len).unwrap().to_be_bytes());
                    pseudo.extend([0, 0, 0, proto]);
                    let mut h = vec![0x60, 0, 0, 0];
                    h.extend(u16::try_from(len).unwrap().to_be_bytes());
                    h.extend([proto, 64]);
                    h.extend(s.octets());
                    h.extend(d.octets());
                    (0x86ddu16, h)
                }
                _ => panic!("mixed address families"),
            };
            pseudo.extend(&l4);
            let c = csum(&pseudo);
            l4[ck..ck + 2].copy_from_slice(&c.to_be_bytes());
            let mut f = vec![
                0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x11, 0x22, 0x33, 0x44, 0x66,
            ];
            f.extend(ethertype.to_be_bytes());
            f.extend(header);
            f.extend(l4);
            self.frames.push(f);
        }

        pub(crate) fn udp(&mut self, src: &str, dst: &str, sport: u16, dport: u16, data: &[u8]) {
            let mut l4 = Vec::new();
            l4.extend(sport.to_be_bytes());
            l4.extend(dport.to_be_bytes());
            l4.extend(u16::try_from(8 + data.len()).unwrap().to_be_bytes());
            l4.extend([0, 0]);
            l4.extend(data);
            self.ip(src.parse().unwrap(), dst.parse().unwrap(), 17, l4, 6);
        }

        #[allow(clippy::too_many_arguments)]
        fn segment(
            &mut self,
            src: IpAddr,
            dst: IpAddr,
            sport: u16,
            dport: u16,
            seq: u32,
            ack: u32,
            flags: u8,
            data: &[u8],
        ) {
            let mut l4 = Vec::new();
            l4.extend(sport.to_be_bytes());
            l4.extend(dport.to_be_bytes());
            l4.extend(seq.to_be_bytes());
            l4.extend(ack.to_be_bytes());
            l4.extend([5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
            l4.extend(data);
            self.ip(src, dst, 6, l4, 16);
        }

        /// A whole TCP connection: handshake, the client's and the server's messages in turn
        /// (each acknowledged), then FIN from both sides.
        pub(crate) fn tcp(
            &mut self,
            client: &str,
            server: &str,
            dport: u16,
            c2s: &[&[u8]],
            s2c: &[&[u8]],
        ) {
            let (c, s): (IpAddr, IpAddr) = (client.parse().unwrap(), server.parse().unwrap());
            let sport = self.port();
            let (mut cs, mut ss) = (1_000u32, 50_000u32);
            self.segment(c, s, sport, dport, cs, 0, 0x02, &[]);
            self.segment(s, c, dport, sport, ss, cs + 1, 0x12, &[]);
            cs += 1;
            ss += 1;
            self.segment(c, s, sport, dport, cs, ss, 0x10, &[]);
            for i in 0..c2s.len().max(s2c.len()) {
                if let Some(d) = c2s.get(i) {
                    self.segment(c, s, sport, dport, cs, ss, 0x18, d);
                    cs += u32::try_from(d.len()).unwrap();
                    self.segment(s, c, dport, sport, ss, cs, 0x10, &[]);
                }
                if let Some(d) = s2c.get(i) {
                    self.segment(s, c, dport, sport, ss, cs, 0x18, d);
                    ss += u32::try_from(d.len()).unwrap();
                    self.segment(c, s, sport, dport, cs, ss, 0x10, &[]);
                }
            }
            self.segment(c, s, sport, dport, cs, ss, 0x11, &[]);
            self.segment(s, c, dport, sport, ss, cs + 1, 0x11, &[]);
            self.segment(c, s, sport, dport, cs + 1, ss + 1, 0x10, &[]);
        }

        pub(crate) fn bytes(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend(0xa1b2_c3d4u32.to_le_bytes());
            out.extend(2u16.to_le_bytes());
            out.extend(4u16.to_le_bytes());
            out.extend([0; 8]);
            out.extend(65_535u32.to_le_bytes());
            out.extend(1u32.to_le_bytes());
            for (i, f) in self.frames.iter().enumerate() {
                // One frame a millisecond from 2024-05-01T12:00:00Z.
                let t = 1_714_564_800_000_000u64 + 1_000 * i as u64;
                out.extend(u32::try_from(t / 1_000_000).unwrap().to_le_bytes());
                out.extend(u32::try_from(t % 1_000_000).unwrap().to_le_bytes());
                let n = u32::try_from(f.len()).unwrap().to_le_bytes();
                out.extend(n);
                out.extend(n);
                out.extend(f);
            }
            out
        }
    }

    pub(crate) fn dns_query(name: &str, id: u16, qtype: u16) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend(id.to_be_bytes());
        q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.') {
            q.push(u8::try_from(l.len()).unwrap());
            q.extend(l.as_bytes());
        }
        q.push(0);
        q.extend(qtype.to_be_bytes());
        q.extend([0, 1]);
        q
    }

    fn handshake_record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut hs = vec![kind];
        hs.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        hs.extend(body);
        let mut r = vec![0x16, 3, 3];
        r.extend(u16::try_from(hs.len()).unwrap().to_be_bytes());
        r.extend(hs);
        r
    }

    /// A TLS 1.2 ClientHello with a server name.
    pub(crate) fn client_hello(sni: &str) -> Vec<u8> {
        let n = sni.as_bytes();
        let len = |x: usize| u16::try_from(x).unwrap().to_be_bytes();
        let mut ext = vec![0, 0];
        ext.extend(len(n.len() + 5));
        ext.extend(len(n.len() + 3));
        ext.push(0);
        ext.extend(len(n.len()));
        ext.extend(n);
        let mut body = vec![3, 3];
        body.extend([0x11; 32]);
        body.push(0);
        body.extend([0, 2, 0xc0, 0x2f, 1, 0]);
        body.extend(len(ext.len()));
        body.extend(ext);
        handshake_record(1, &body)
    }

    /// A TLS 1.2 ServerHello and a Certificate message holding `der`.
    pub(crate) fn server_hello_certificate(der: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([0x22; 32]);
        body.push(0);
        body.extend([0xc0, 0x2f, 0, 0, 0]);
        let mut out = handshake_record(2, &body);
        let l3 = |x: usize| u32::try_from(x).unwrap().to_be_bytes()[1..].to_vec();
        let mut cert = l3(der.len() + 3);
        cert.extend(l3(der.len()));
        cert.extend(der);
        out.extend(handshake_record(11, &cert));
        out
    }

    pub(crate) fn http_get(host: &str, path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: e2e\r\nAccept: */*\r\n\r\n")
            .into_bytes()
    }

    pub(crate) fn http_ok(body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend(body);
        r
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

/// One indicator case: its pattern, and whether traffic for it is planted in the capture and
/// expected to alert (`suricata`) and to be found by `scan` in the EVE output (`scan`).
struct Case {
    n: u32,
    what: &'static str,
    pattern: String,
    suricata: bool,
    scan: bool,
}

fn id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

/// Files served over HTTP: planted ones (whose digests are indicators) and a decoy.
const MD5_FILE: &[u8] = b"planted file, indicated by its MD5\n";
const SHA1_FILE: &[u8] = b"planted file, indicated by its SHA-1\n";
const SHA256_FILE: &[u8] = b"planted file, indicated by its SHA-256\n";
const DECOY_FILE: &[u8] = b"an ordinary file nobody indicated\n";

/// The planted client is 10.0.0.x / fd00::x; every decoy flow comes from 10.0.9.x / fd09::x, and
/// no alert may involve those.
fn capture(cert_der: &[u8]) -> Vec<u8> {
    let mut c = pcap::Capture::new();
    // DNS query names.
    let p = c.port();
    c.udp(
        "10.0.0.1",
        "10.0.0.53",
        p,
        53,
        &pcap::dns_query("dns.evil.example", 1, 1),
    );
    let p = c.port();
    c.udp(
        "10.0.9.1",
        "10.0.9.53",
        p,
        53,
        &pcap::dns_query("good.example", 2, 1),
    );
    // A subdomain of an indicated domain: a decoy for exact rules.
    let p = c.port();
    c.udp(
        "10.0.9.2",
        "10.0.9.53",
        p,
        53,
        &pcap::dns_query("www.dns.evil.example", 3, 1),
    );
    // TLS SNI (a domain, and the host of an https:// URL), and a certificate.
    c.tcp(
        "10.0.0.2",
        "192.0.2.10",
        443,
        &[&pcap::client_hello("sni.evil.example")],
        &[],
    );
    c.tcp(
        "10.0.0.3",
        "192.0.2.11",
        443,
        &[&pcap::client_hello("login.evil.example")],
        &[],
    );
    c.tcp(
        "10.0.9.3",
        "192.0.2.12",
        443,
        &[&pcap::client_hello("www.good.example")],
        &[],
    );
    c.tcp(
        "10.0.0.4",
        "192.0.2.13",
        443,
        &[&pcap::client_hello("cert.example")],
        &[&pcap::server_hello_certificate(cert_der)],
    );
    // HTTP Host, and a URL.
    c.tcp(
        "10.0.0.5",
        "192.0.2.20",
        80,
        &[&pcap::http_get("host.evil.example", "/")],
        &[&pcap::http_ok(b"hi")],
    );
    c.tcp(
        "10.0.0.6",
        "192.0.2.21",
        80,
        &[&pcap::http_get("files.example", "/payload/run.sh")],
        &[&pcap::http_ok(b"#!/bin/sh\n")],
    );
    c.tcp(
        "10.0.9.6",
        "192.0.2.21",
        80,
        &[&pcap::http_get("files.example", "/payload/other.sh")],
        &[&pcap::http_ok(b"#!/bin/sh\n")],
    );
    // Plain HTTP to the host of the https:// URL: must not fire the URL's rule.
    c.tcp(
        "10.0.9.7",
        "192.0.2.11",
        80,
        &[&pcap::http_get("login.evil.example", "/account")],
        &[&pcap::http_ok(b"x")],
    );
    // Files downloaded over HTTP.
    for (client, path, body) in [
        ("10.0.0.7", "/a.bin", MD5_FILE),
        ("10.0.0.8", "/b.bin", SHA1_FILE),
        ("10.0.0.9", "/c.bin", SHA256_FILE),
        ("10.0.9.9", "/d.bin", DECOY_FILE),
    ] {
        c.tcp(
            client,
            "192.0.2.30",
            80,
            &[&pcap::http_get("downloads.example", path)],
            &[&pcap::http_ok(body)],
        );
    }
    // Addresses: single (plain and MISP-shaped), IPv6, inside and outside a CIDR.
    let p = c.port();
    c.udp("10.0.0.10", "198.51.100.7", p, 9_999, b"planted");
    let p = c.port();
    c.udp("10.0.9.10", "198.51.100.8", p, 9_999, b"decoy");
    let p = c.port();
    c.udp("192.0.2.99", "10.0.0.11", p, 9_999, b"planted source");
    let p = c.port();
    c.udp("10.0.0.12", "203.0.113.100", p, 9_999, b"in the /26");
    let p = c.port();
    c.udp("10.0.9.12", "203.0.113.130", p, 9_999, b"outside the /26");
    let p = c.port();
    c.udp("fd00::1", "2001:db8::bad", p, 9_999, b"planted v6");
    let p = c.port();
    c.udp("fd09::1", "2001:db8::bae", p, 9_999, b"decoy v6");
    c.bytes()
}

fn cases(cert_sha1: &str) -> Vec<Case> {
    let md5 = hex(&md5::Md5::digest(MD5_FILE));
    let sha1 =
        hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, SHA1_FILE).as_ref());
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, SHA256_FILE).as_ref());
    let case = |n, what, pattern: String, suricata, scan| Case {
        n,
        what,
        pattern,
        suricata,
        scan,
    };
    vec![
        case(1, "DNS query name", "[domain-name:value = 'dns.evil.example']".into(), true, true),
        case(2, "TLS SNI", "[domain-name:value = 'sni.evil.example']".into(), true, true),
        case(3, "HTTP Host", "[domain-name:value = 'host.evil.example']".into(), true, true),
        case(4, "HTTP URL", "[url:value = 'http://files.example/payload/run.sh']".into(), true, true),
        // The SNI rule fires; `scan` compares URLs with URLs, and the TLS record has none.
        case(5, "HTTPS URL (as SNI)", "[url:value = 'https://login.evil.example/account']".into(), true, false),
        case(6, "IPv4 destination", "[ipv4-addr:value = '198.51.100.7']".into(), true, true),
        // Cases 7 and 9 need the matcher's canonical values (MISP-shaped address tests, a CIDR
        // written with host bits): without them Suricata stays silent on 7 and `scan` misses
        // 7 and 9, and this test fails on them.
        case(
            7,
            "IPv4 in the MISP shape",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7']".into(),
            true,
            true,
        ),
        case(8, "IPv4 source", "[ipv4-addr:value = '192.0.2.99']".into(), true, true),
        case(9, "IPv4 CIDR", "[ipv4-addr:value = '203.0.113.70/26']".into(), true, true),
        case(10, "IPv6", "[ipv6-addr:value = '2001:DB8::BAD']".into(), true, true),
        case(11, "file MD5", format!("[file:hashes.MD5 = '{md5}']"), true, true),
        case(12, "file SHA-1", format!("[file:hashes.'SHA-1' = '{sha1}']"), true, true),
        case(13, "file SHA-256", format!("[file:hashes.'SHA-256' = '{}']", sha256.to_uppercase()), true, true),
        case(14, "certificate SHA-1", format!("[x509-certificate:hashes.'SHA-1' = '{cert_sha1}']"), true, true),
        // Never in the traffic: nothing may alert for them.
        case(15, "unplanted domain", "[domain-name:value = 'absent.evil.example']".into(), false, false),
        case(16, "unplanted address", "[ipv4-addr:value = '198.51.100.200']".into(), false, false),
    ]
}

fn bundle(dir: &Path, cases: &[Case]) -> String {
    let mut objects: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "type": "indicator", "spec_version": "2.1", "id": id(c.n),
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": c.what, "pattern": c.pattern, "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": [GREEN],
            })
        })
        .collect();
    // An e-mail address: Suricata 7 has no keyword for it; the export must say so.
    objects.push(json!({
        "type": "indicator", "spec_version": "2.1", "id": id(99),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "e-mail", "pattern": "[email-addr:value = 'ceo@phish.example']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": [GREEN],
    }));
    let p = dir.join("indicators.json");
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-0000000000e2", "objects": objects})).unwrap(),
    )
    .unwrap();
    p.display().to_string()
}

fn eve(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("eve.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn decoy_flow(ev: &Value) -> bool {
    ["src_ip", "dest_ip"].iter().any(|k| {
        ev[k]
            .as_str()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .is_some_and(|a| match a {
                IpAddr::V4(a) => a.octets()[..3] == [10, 0, 9],
                IpAddr::V6(a) => a.segments()[0] == 0xfd09,
            })
    })
}

/// The indicator ids an alert stands for: from its metadata (one rule per value), else from
/// the values it saw looked up in the export's map (datasets and file lists).
fn alert_ids(
    ev: &Value,
    events: &[Value],
    map: &BTreeMap<(String, String), Vec<String>>,
) -> Vec<String> {
    let meta = &ev["alert"]["metadata"];
    if let Some(ids) = meta["shieldwall_indicator"].as_array() {
        return ids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    let (kind, values): (&str, Vec<String>) =
        if let Some(set) = meta["shieldwall_dataset"][0].as_str() {
            let kind = set.rsplit('-').next().unwrap();
            let values = match kind {
                "domain" => [
                    ev["dns"]["query"][0]["rrname"].as_str(),
                    ev["dns"]["rrname"].as_str(),
                    ev["tls"]["sni"].as_str(),
                    ev["http"]["hostname"].as_str(),
                ]
                .into_iter()
                .flatten()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
                // EVE writes IPv6 addresses in full; the map holds canonical text (RFC 5952).
                _ => ["src_ip", "dest_ip"]
                    .iter()
                    .filter_map(|k| ev[k].as_str()?.parse::<IpAddr>().ok())
                    .map(|a| a.to_string())
                    .collect(),
            };
            (kind, values)
        } else if let Some(list) = meta["shieldwall_list"][0].as_str() {
            let algo = list.rsplit('-').next().unwrap().trim_end_matches(".list");
            // The digests of the files of the alert's flow.
            let values = events
                .iter()
                .filter(|e| e["event_type"] == "fileinfo" && e["flow_id"] == ev["flow_id"])
                .filter_map(|e| e["fileinfo"][algo].as_str())
                .map(str::to_owned)
                .collect();
            (algo, values)
        } else {
            panic!("an alert without Shieldwall metadata: {ev}");
        };
    let mut ids = Vec::new();
    for v in values {
        if let Some(found) = map.get(&(kind.to_owned(), v.clone())) {
            ids.extend(found.iter().cloned());
        }
        // A subdomain found through its last labels.
        if kind == "domain" {
            let labels: Vec<&str> = v.split('.').collect();
            for i in 1..labels.len() {
                if let Some(found) = map.get(&(kind.to_owned(), labels[i..].join("."))) {
                    ids.extend(found.iter().cloned());
                }
            }
        }
    }
    assert!(
        !ids.is_empty(),
        "an alert whose value is not in the map: {ev}"
    );
    ids
}

fn read_map(path: &Path) -> BTreeMap<(String, String), Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (f[0].to_owned(), f[1].to_owned()),
                f[2].split(',').map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// A self-signed certificate's DER and SHA-1.
fn certificate() -> (Vec<u8>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cert.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let der = cert.der().to_vec();
    let sha1 = hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref());
    (der, sha1)
}

/// Exports with `--datasets MODE`, runs Suricata over the capture; the indicator ids that
/// alerted and the EVE events.
fn run_suricata(
    dir: &Path,
    indicators: &str,
    pcap: &Path,
    mode: &str,
    extra: &[&str],
) -> (BTreeSet<String>, Vec<Value>, String) {
    let rules_dir = dir.join(format!("rules-{mode}"));
    let log_dir = dir.join(format!("log-{mode}"));
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::create_dir_all(&log_dir).unwrap();
    let rules = rules_dir.join("shieldwall.rules");
    let mut args = vec![
        "export",
        "--format",
        "suricata",
        "--indicators",
        indicators,
        "--datasets",
        mode,
        "-o",
        rules.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = shieldwall(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = stderr(&o);
    let fragment = rules_dir.join("shieldwall-suricata.yaml");
    assert!(fragment.exists(), "{summary}");
    let run = Command::new("suricata")
        .arg("-c")
        .arg("/etc/suricata/suricata.yaml")
        .arg("--include")
        .arg(&fragment)
        .arg("-r")
        .arg(pcap)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(&log_dir)
        .args(["-k", "none", "--init-errors-fatal"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "suricata failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        stderr(&run)
    );
    let events = eve(&log_dir);
    let map = read_map(&rules_dir.join("shieldwall-map.tsv"));
    let mut fired = BTreeSet::new();
    for ev in events.iter().filter(|e| e["event_type"] == "alert") {
        assert!(
            !decoy_flow(ev),
            "--datasets {mode}: a decoy flow alerted: {ev}"
        );
        fired.extend(alert_ids(ev, &events, &map));
    }
    (fired, events, summary)
}

#[test]
fn suricata_alerts_on_every_planted_indicator_and_scan_finds_them_in_eve() {
    if tool("suricata", "-V", "Suricata end-to-end detection").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (der, cert_sha1) = certificate();
    let cases = cases(&cert_sha1);
    let indicators = bundle(dir.path(), &cases);
    let pcap = dir.path().join("capture.pcap");
    std::fs::write(&pcap, capture(&der)).unwrap();
    let want: BTreeSet<String> = cases
        .iter()
        .filter(|c| c.suricata)
        .map(|c| id(c.n))
        .collect();
    let name = |i: &String| cases.iter().find(|c| id(c.n) == *i).map_or("?", |c| c.what);
    for mode in ["never", "always"] {
        let (fired, events, summary) = run_suricata(dir.path(), &indicators, &pcap, mode, &[]);
        assert!(
            summary.contains("ceo@phish.example: Suricata 7 has no rule keyword"),
            "{summary}"
        );
        assert!(
            summary.contains("https://login.evil.example/account: HTTPS hides the path"),
            "{summary}"
        );
        let missing: Vec<String> = want
            .difference(&fired)
            .map(|i| format!("{i} ({})", name(i)))
            .collect();
        let extra: Vec<String> = fired
            .difference(&want)
            .map(|i| format!("{i} ({})", name(i)))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "--datasets {mode}: planted but silent: {missing:?}; alerted without being planted: {extra:?}"
        );
        // The fragment made Suricata compute every digest.
        let files: Vec<&Value> = events
            .iter()
            .filter(|e| e["event_type"] == "fileinfo")
            .collect();
        // Eight HTTP responses with a body in the capture.
        assert_eq!(files.len(), 8, "--datasets {mode}");
        for f in files {
            for algo in ["md5", "sha1", "sha256"] {
                assert!(
                    f["fileinfo"][algo].is_string(),
                    "--datasets {mode}: no {algo} in {f}"
                );
            }
        }

        // `scan` over Suricata's EVE output finds the same indicators.
        let eve = dir.path().join(format!("log-{mode}/eve.json"));
        let o = shieldwall(&[
            "scan",
            "--json",
            "--indicators",
            &indicators,
            eve.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let found: BTreeSet<String> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["indicator"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let want_scan: BTreeSet<String> =
            cases.iter().filter(|c| c.scan).map(|c| id(c.n)).collect();
        assert_eq!(found, want_scan, "scan of --datasets {mode} EVE");
    }
    // Subdomains on request: the decoy subdomain query now alerts for its parent domain.
    let sub = dir.path().join("sub");
    for mode in ["never", "always"] {
        run_suricata_sub(&sub, &indicators, &pcap, mode);
    }
}

/// With `--subdomains`, alerts on the decoy subdomain flow are expected (for indicator 1).
fn run_suricata_sub(dir: &Path, indicators: &str, pcap: &Path, mode: &str) {
    let rules_dir = dir.join(format!("rules-{mode}"));
    let log_dir = dir.join(format!("log-{mode}"));
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::create_dir_all(&log_dir).unwrap();
    let rules = rules_dir.join("shieldwall.rules");
    let o = shieldwall(&[
        "export",
        "--format",
        "suricata",
        "--indicators",
        indicators,
        "--datasets",
        mode,
        "--subdomains",
        "-o",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = Command::new("suricata")
        .arg("--include")
        .arg(rules_dir.join("shieldwall-suricata.yaml"))
        .arg("-r")
        .arg(pcap)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(&log_dir)
        .args(["-k", "none", "--init-errors-fatal"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let events = eve(&log_dir);
    let map = read_map(&rules_dir.join("shieldwall-map.tsv"));
    let sub: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "alert" && e["src_ip"] == "10.0.9.2")
        .collect();
    assert!(
        !sub.is_empty(),
        "--subdomains --datasets {mode}: www.dns.evil.example did not alert"
    );
    let mut fired = BTreeSet::new();
    for ev in &sub {
        fired.extend(alert_ids(ev, &events, &map));
    }
    assert_eq!(
        fired,
        BTreeSet::from([id(1)]),
        "--subdomains --datasets {mode}"
    );
}

/// A free TCP and UDP port on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Kills `named` when the test ends, whatever happens.
struct Named(std::process::Child);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dig(port: u16, name: &str, qtype: &str) -> (String, Vec<String>) {
    let o = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            name,
            qtype,
            "+tries=1",
            "+time=2",
            "+noall",
            "+comments",
            "+answer",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("NO ANSWER")
        .to_owned();
    let answers = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect();
    (status, answers)
}

#[test]
fn the_rpz_zone_blocks_in_a_real_named() {
    if tool("named", "-v", "RPZ in BIND").is_none() || tool("dig", "-v", "RPZ in BIND").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, cert_sha1) = certificate();
    let indicators = bundle(dir.path(), &cases(&cert_sha1));
    let zone = dir.path().join("rpz.zone");
    let o = shieldwall(&[
        "export",
        "--format",
        "rpz",
        "--serial",
        "7",
        "--indicators",
        &indicators,
        "-o",
        zone.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The local data: a root zone served here, so that nothing is ever asked elsewhere.
    let root = "$TTL 60
@ IN SOA ns.local. hostmaster.local. ( 1 3600 600 86400 60 )
  IN NS ns.local.
ns.local. IN A 127.0.0.1
dns.evil.example. IN A 192.0.2.1
www.dns.evil.example. IN A 192.0.2.2
sni.evil.example. IN A 192.0.2.3
good.example. IN A 192.0.2.4
www.good.example. IN A 192.0.2.5
evil.example. IN A 192.0.2.6
address.example. IN A 198.51.100.7
neighbour.example. IN A 198.51.100.8
in-cidr.example. IN A 203.0.113.100
out-cidr.example. IN A 203.0.113.130
v6.example. IN AAAA 2001:db8::bad
v6-neighbour.example. IN AAAA 2001:db8::bae
";
    std::fs::write(dir.path().join("root.zone"), root).unwrap();
    let port = free_port();
    let d = dir.path().display();
    let conf = format!(
        r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  managed-keys-directory "{d}";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-recursion {{ 127.0.0.1; }};
  allow-query {{ 127.0.0.1; }};
  forwarders {{ }};
  dnssec-validation no;
  notify no;
  response-policy {{ zone "rpz.shieldwall"; }} qname-wait-recurse no break-dnssec yes;
}};
controls {{ }};
zone "." {{ type primary; file "{d}/root.zone"; }};
zone "rpz.shieldwall" {{ type primary; file "{}"; allow-query {{ none; }}; }};
"#,
        zone.display()
    );
    let conf_path = dir.path().join("named.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let check = Command::new("named-checkconf").arg(&conf_path).output();
    if let Ok(c) = check {
        assert!(
            c.status.success(),
            "named-checkconf: {}",
            String::from_utf8_lossy(&c.stdout)
        );
    }
    let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
    let _named = Named(
        Command::new("named")
            .args(["-g", "-4", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Wait for it to answer.
    let mut ready = false;
    for _ in 0..100 {
        if dig(port, "good.example", "A").0 == "NOERROR" {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.path().join("named.log")).unwrap_or_default();
    assert!(ready, "named did not answer:\n{log}");
    assert!(log.contains("rpz.shieldwall"), "{log}");
    for (name, qtype, blocked) in [
        ("dns.evil.example", "A", true),
        ("www.dns.evil.example", "A", true),
        ("sni.evil.example", "A", true),
        ("address.example", "A", true),
        ("in-cidr.example", "A", true),
        ("v6.example", "AAAA", true),
        ("good.example", "A", false),
        ("www.good.example", "A", false),
        ("evil.example", "A", false),
        ("neighbour.example", "A", false),
        ("out-cidr.example", "A", false),
        ("v6-neighbour.example", "AAAA", false),
    ] {
        let (status, answers) = dig(port, name, qtype);
        if blocked {
            assert_eq!(status, "NXDOMAIN", "{name} should be blocked: {answers:?}");
        } else {
            assert_eq!(status, "NOERROR", "{name} should resolve");
            assert_eq!(answers.len(), 1, "{name}: {answers:?}");
        }
    }
}
