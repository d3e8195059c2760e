//! Detection benchmark (a bench binary, all inputs generated here):
//!
//! 1. compile 1,000,000 indicators (200k IPv4 + 180k IPv6 addresses, 20k CIDR blocks, 300k
//!    domains, 200k URLs, 100k SHA-256) — time, resident memory per indicator;
//! 2. scan 1 GB of ECS JSON lines in which 0.1 % of the lines carry an indicator value, on one
//!    core, beside (a) reading and merely parsing the same lines into records and (b)
//!    `grep -F -c -f` with the same indicator values over the same file.
//!
//! `cargo bench -p shieldwall-matcher --bench detect`; sizes from `DETECT_INDICATORS`,
//! `DETECT_BYTES`, work directory from `DETECT_DIR` (default: the system temp directory);
//! `DETECT_SUBDOMAINS=1` adds a scan with the set compiled for `scan --subdomains`.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use matcher::{CompileOptions, Compiler, Hit, Indicator, Scanner};
use telemetry::sample::{Rng, ecs_line_into};
use telemetry::{Field, Format, Reader, Record};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The `i`-th indicator value of a set of `n`: (kind, value), in fixed proportions: 20 % IPv4 and 18 % IPv6
/// addresses, 1 % IPv4 and 1 % IPv6 networks, 30 % domains, 20 % URLs, 10 % SHA-256 digests.
fn value_of(i: usize, n: usize) -> (Field, String, bool) {
    let f = |x: f64| (x * n as f64) as usize;
    let mut r = Rng::new(i as u64 + 1);
    if i < f(0.2) {
        let a = 0x1400_0000u32 + (i as u32).wrapping_mul(2_654_435_761) % 0x3000_0000;
        (
            Field::DestinationIp,
            std::net::Ipv4Addr::from(a).to_string(),
            false,
        )
    } else if i < f(0.38) {
        let a = (0x2001_0db8u128 << 96) | (r.next_u64() as u128);
        (
            Field::DestinationIp,
            std::net::Ipv6Addr::from(a).to_string(),
            false,
        )
    } else if i < f(0.39) {
        let a = 0x6400_0000u32 + ((i as u32) << 8) % 0x1000_0000;
        (
            Field::DestinationIp,
            format!("{}/24", std::net::Ipv4Addr::from(a)),
            true,
        )
    } else if i < f(0.40) {
        let a = (0x2a00_1450u128 << 96) | (((i as u128) & 0xffff) << 80);
        (
            Field::DestinationIp,
            format!("{}/48", std::net::Ipv6Addr::from(a)),
            true,
        )
    } else if i < f(0.70) {
        (
            Field::DnsQuestion,
            format!("d{i}-{}.bad.example", r.hex(3)),
            false,
        )
    } else if i < f(0.90) {
        (
            Field::UrlFull,
            format!("http://u{i}.drop.example/p/{}?id={i}", r.hex(4)),
            false,
        )
    } else {
        (Field::FileSha256, r.hex(32), false)
    }
}

fn pattern_of(field: Field, value: &str, cidr: bool) -> String {
    match field {
        Field::DestinationIp if cidr => {
            let t = if value.contains(':') {
                "ipv6-addr"
            } else {
                "ipv4-addr"
            };
            format!("[{t}:value ISSUBSET '{value}']")
        }
        Field::DestinationIp if value.contains(':') => format!("[ipv6-addr:value = '{value}']"),
        Field::DestinationIp => format!("[ipv4-addr:value = '{value}']"),
        Field::DnsQuestion => format!("[domain-name:value = '{value}']"),
        Field::UrlFull => format!("[url:value = '{value}']"),
        _ => format!("[file:hashes.'SHA-256' = '{value}']"),
    }
}

fn indicator(i: usize, n: usize) -> Indicator {
    let (field, value, cidr) = value_of(i, n);
    Indicator {
        id: format!("indicator--00000000-0000-4000-8000-{i:012}"),
        name: Some(format!("bench {i}")),
        pattern: pattern_of(field, &value, cidr),
        pattern_type: "stix".into(),
        valid_from: None,
        valid_until: None,
        revoked: false,
        added: None,
        marking_refs: Vec::new(),
    }
}

/// A value that hits indicator `i` (an address inside a CIDR block for blocks).
fn planted_value(i: usize, n: usize) -> (Field, String) {
    let (field, value, cidr) = value_of(i, n);
    if cidr {
        let net = value.split('/').next().unwrap();
        let v = if net.contains(':') {
            net.trim_end_matches("::").to_owned() + "::77"
        } else {
            let a: std::net::Ipv4Addr = net.parse().unwrap();
            std::net::Ipv4Addr::from(u32::from(a) + 77).to_string()
        };
        (field, v)
    } else {
        (field, value)
    }
}

fn generate_log(path: &Path, bytes: u64, n: usize) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut rng = Rng::new(42);
    let mut line = String::new();
    let (mut written, mut lines, mut planted) = (0u64, 0u64, 0u64);
    while written < bytes {
        line.clear();
        let plant = rng.below(1000) == 0;
        if plant {
            let (f, v) = planted_value(rng.below(n as u64) as usize, n);
            ecs_line_into(&mut rng, lines, Some((f, &v)), &mut line);
            planted += 1;
        } else {
            ecs_line_into(&mut rng, lines, None, &mut line);
        }
        w.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        lines += 1;
    }
    w.flush().unwrap();
    eprintln!(
        "generated {} ({lines} lines, {planted} planted)",
        path.display()
    );
    planted
}

/// Reads every line into records; with a matcher, also matches. Returns (seconds, records, hits).
fn pass(path: &Path, scan: Option<&matcher::Compiled>) -> (f64, u64, u64) {
    let t = Instant::now();
    let mut r = BufReader::with_capacity(1 << 16, File::open(path).unwrap());
    let mut reader = Reader::new(Format::Ecs, None);
    let mut rec = Record::new();
    let mut buf = Vec::with_capacity(4096);
    let (mut records, mut nhits) = (0u64, 0u64);
    let mut hits: Vec<Hit> = Vec::new();
    let mut scanner = scan.map(Scanner::new);
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).unwrap() == 0 {
            break;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Ok(true) = reader.read_line(line, &mut rec) {
            records += 1;
            if let (Some(c), Some(sc)) = (scan, scanner.as_mut()) {
                hits.clear();
                c.scan(&rec, sc, &mut hits);
                nhits += hits.len() as u64;
            }
        }
    }
    (t.elapsed().as_secs_f64(), records, nhits)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env_usize("DETECT_INDICATORS", 1_000_000);
    let bytes = env_usize("DETECT_BYTES", 1_000_000_000) as u64;
    let dir = std::env::var_os("DETECT_DIR").map_or_else(std::env::temp_dir, PathBuf::from);

    println!("## compile {n} indicators");
    let rss0 = rss_bytes();
    let t = Instant::now();
    let mut compiler = Compiler::new(CompileOptions::default());
    for i in 0..n {
        compiler.add(&indicator(i, n));
    }
    let (compiled, report) = compiler.finish();
    let secs = t.elapsed().as_secs_f64();
    let rss1 = rss_bytes();
    assert_eq!(report.compiled, n, "{:?}", report.problems.first());
    println!(
        "compile: {secs:.2} s ({:.0} indicators/s); resident +{:.1} MiB = {:.0} bytes/indicator (tables counted: {:.0} bytes/indicator)",
        n as f64 / secs,
        (rss1 - rss0) as f64 / 1048576.0,
        (rss1 - rss0) as f64 / n as f64,
        compiled.heap_bytes() as f64 / n as f64
    );

    let log = dir.join(format!("shieldwall-detect-{bytes}-{n}.jsonl"));
    if std::fs::metadata(&log)
        .map(|m| m.len() < bytes)
        .unwrap_or(true)
    {
        generate_log(&log, bytes, n);
    }
    let size = std::fs::metadata(&log).unwrap().len() as f64;
    let values = dir.join(format!("shieldwall-detect-values-{n}.txt"));
    {
        let mut w = BufWriter::new(File::create(&values).unwrap());
        for i in 0..n {
            let (_, v, cidr) = value_of(i, n);
            if !cidr {
                writeln!(w, "{v}").unwrap();
            }
        }
        w.flush().unwrap();
    }

    println!("## scan {:.0} MB of ECS JSON lines (one core)", size / 1e6);
    let (mut parse, mut scan) = (f64::MAX, f64::MAX);
    let (mut records, mut hits) = (0, 0);
    for _ in 0..2 {
        let (s, r, _) = pass(&log, None);
        parse = parse.min(s);
        records = r;
        let (s, _, h) = pass(&log, Some(&compiled));
        scan = scan.min(s);
        hits = h;
    }
    println!(
        "read+parse only: {parse:.2} s = {:.1} MB/s ({records} records)",
        size / 1e6 / parse
    );
    println!(
        "read+parse+match: {scan:.2} s = {:.1} MB/s ({hits} hits) = {:.0} % of parse-only",
        size / 1e6 / scan,
        100.0 * parse / scan
    );
    if std::env::var_os("DETECT_SUBDOMAINS").is_some() {
        // The same indicators compiled with `subdomains` (`scan --subdomains`): every logged
        // domain name is also looked up label by label in the 300k parent domains.
        let t = Instant::now();
        let mut compiler = Compiler::new(CompileOptions {
            subdomains: true,
            ..CompileOptions::default()
        });
        for i in 0..n {
            compiler.add(&indicator(i, n));
        }
        let (sub, _) = compiler.finish();
        let csecs = t.elapsed().as_secs_f64();
        let mut best = f64::MAX;
        let mut sub_hits = 0;
        for _ in 0..2 {
            let (s, _, h) = pass(&log, Some(&sub));
            best = best.min(s);
            sub_hits = h;
        }
        println!(
            "read+parse+match with subdomains: compile {csecs:.2} s; {best:.2} s = {:.1} MB/s ({sub_hits} hits) = {:.0} % of the exact scan's throughput",
            size / 1e6 / best,
            100.0 * scan / best
        );
        drop(sub);
    }
    let t = Instant::now();
    let grep = Command::new("grep")
        .env("LC_ALL", "C")
        .args(["-F", "-c", "-f"])
        .arg(&values)
        .arg(&log)
        .output();
    match grep {
        Ok(o) => {
            let s = t.elapsed().as_secs_f64();
            println!(
                "grep -F -c -f ({} values, CIDR blocks left out): {s:.2} s = {:.1} MB/s ({} lines matched; exit {:?})",
                n - n / 50,
                size / 1e6 / s,
                String::from_utf8_lossy(&o.stdout).trim(),
                o.status.code()
            );
        }
        Err(e) => println!("SKIPPED: grep could not run: {e}"),
    }
}
