//! Scan benchmark (a bench binary, all inputs generated here): 1,000,000 compiled indicators
//! against ECS JSON lines, Suricata EVE lines and Zeek logs (each ≥ `SCAN_BYTES`, default
//! 400 MB, 0.1 % of the lines carrying an indicator value), through the scan loop of
//! `shieldwall scan` (`hub::services::scan::scan`), on one thread and on every core, beside the
//! limit of the same bytes measured in the same run:
//!
//! - ECS and EVE: each line deserialised by serde_json into a struct of borrowed strings (the
//!   five paths the indicators name: source and destination address, DNS name or HTTP host,
//!   URL, SHA-256; everything else skipped) and those five values looked up in one hash set of
//!   the 1,000,000 indicator values;
//! - Zeek: each line cut at its tabs and the same five columns looked up likewise.
//!
//! Rounds alternate limit, one thread, all threads (best of `SCAN_ROUNDS`, default 3). The
//! hits must be exactly the planted lines, the same on one thread and on all. Beside wall-clock
//! throughput, each pass's CPU time (of the whole process: on one thread that is the scanning
//! thread's) is printed, and for all threads the efficiency: one thread's CPU time over the CPU
//! time of all threads together for the same bytes, which shows the cost of cutting, handing
//! over and merging whatever else the machine is doing.
//!
//! `cargo bench -p shieldwall-hub --bench scan`; `SCAN_INDICATORS`, `SCAN_BYTES`, `SCAN_DIR`
//! (default: the system temp directory), `SCAN_FORMATS` (`ecs,eve,zeek`), `SCAN_THREADS`
//! (default: every core).
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use hashbrown::HashSet;
use hub::services::scan::input::Input;
use hub::services::scan::{HitAt, ScanOptions, ScanSink, scan};
use matcher::{CompileOptions, Compiled, Compiler, Indicator};
use serde::Deserialize;
use telemetry::sample::{Rng, ZEEK_LOGS, line_into, zeek_header, zeek_line_into};
use telemetry::{Field, Format};

/// CPU time of the process so far (user + system, from `/proc/self/stat`, 10 ms ticks): the
/// one-thread passes run on the calling thread alone, so their CPU time is what they would
/// take on an idle core, whatever else the machine is doing.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// The `i`-th indicator value of a set of `n` (as `crates/matcher/benches/detect.rs`): 20 %
/// IPv4 and 18 % IPv6 addresses, 1 % IPv4 and 1 % IPv6 networks, 30 % domains, 20 % URLs, 10 %
/// SHA-256 digests.
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

fn indicator(i: usize, n: usize) -> Indicator {
    let (field, value, cidr) = value_of(i, n);
    let pattern = match field {
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
    };
    Indicator {
        id: format!("indicator--00000000-0000-4000-8000-{i:012}"),
        name: Some(format!("bench {i}")),
        pattern,
        pattern_type: "stix".into(),
        valid_from: None,
        valid_until: None,
        revoked: false,
        added: None,
        marking_refs: Vec::new(),
    }
}

/// A value that hits indicator `i` (an address inside the block for networks).
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

/// Writes the log(s) of `format` (about `bytes` in all); returns their paths and the planted
/// (file index, line) pairs.
fn generate(dir: &Path, format: Format, bytes: u64, n: usize) -> (Vec<PathBuf>, Vec<(usize, u64)>) {
    let names: Vec<String> = match format {
        Format::Zeek => ZEEK_LOGS
            .iter()
            .filter(|(name, _)| matches!(*name, "conn.log" | "dns.log" | "http.log" | "files.log"))
            .map(|(name, _)| format!("shieldwall-scan-{bytes}-{n}-{name}"))
            .collect(),
        _ => vec![format!("shieldwall-scan-{bytes}-{n}.{format}")],
    };
    let per_file = bytes / names.len() as u64;
    let mut paths = Vec::new();
    let mut planted = Vec::new();
    let mut rng = Rng::new(42);
    for (k, name) in names.iter().enumerate() {
        let path = dir.join(name);
        let zeek_log = name.rsplit('-').next().unwrap_or("").to_owned();
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).unwrap());
        let mut line = String::new();
        let (mut written, mut lines) = (0u64, 0u64);
        if format == Format::Zeek {
            let h = zeek_header(&zeek_log);
            w.write_all(h.as_bytes()).unwrap();
            written += h.len() as u64;
            lines += h.lines().count() as u64;
        }
        while written < per_file {
            line.clear();
            let mut plant = None;
            if rng.below(1000) == 0 {
                // A value this log can carry.
                loop {
                    let (f, v) = planted_value(rng.below(n as u64) as usize, n);
                    let fits = match format {
                        Format::Zeek => match zeek_log.as_str() {
                            "conn.log" => f == Field::DestinationIp,
                            "dns.log" => f == Field::DnsQuestion,
                            "http.log" => f == Field::UrlFull,
                            _ => f == Field::FileSha256,
                        },
                        _ => true,
                    };
                    if fits {
                        plant = Some((f, v));
                        break;
                    }
                }
            }
            let p = plant.as_ref().map(|(f, v)| (*f, v.as_str()));
            if format == Format::Zeek {
                zeek_line_into(&zeek_log, &mut rng, lines, p, &mut line);
            } else {
                line_into(format, &mut rng, lines, p, &mut line);
            }
            lines += 1;
            if plant.is_some() {
                planted.push((k, lines));
            }
            w.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
        }
        w.flush().unwrap();
        paths.push(path);
    }
    eprintln!(
        "generated {format}: {} files, {} planted lines",
        paths.len(),
        planted.len()
    );
    (paths, planted)
}

#[derive(Deserialize, Default)]
struct Ecs<'a> {
    #[serde(borrow, default)]
    source: Option<Addr<'a>>,
    #[serde(borrow, default)]
    destination: Option<Addr<'a>>,
    #[serde(borrow, default)]
    dns: Option<EcsDns<'a>>,
    #[serde(borrow, default)]
    url: Option<EcsUrl<'a>>,
    #[serde(borrow, default)]
    file: Option<EcsFile<'a>>,
}
#[derive(Deserialize)]
struct Addr<'a> {
    #[serde(borrow)]
    ip: Option<&'a str>,
}
#[derive(Deserialize)]
struct EcsDns<'a> {
    #[serde(borrow)]
    question: Option<Name<'a>>,
}
#[derive(Deserialize)]
struct Name<'a> {
    #[serde(borrow)]
    name: Option<&'a str>,
}
#[derive(Deserialize)]
struct EcsUrl<'a> {
    #[serde(borrow)]
    full: Option<&'a str>,
}
#[derive(Deserialize)]
struct EcsFile<'a> {
    #[serde(borrow)]
    hash: Option<Sha<'a>>,
}
#[derive(Deserialize)]
struct Sha<'a> {
    #[serde(borrow)]
    sha256: Option<&'a str>,
}
#[derive(Deserialize)]
struct Eve<'a> {
    #[serde(borrow)]
    src_ip: Option<&'a str>,
    #[serde(borrow)]
    dest_ip: Option<&'a str>,
    #[serde(borrow, default)]
    dns: Option<EveDns<'a>>,
    #[serde(borrow, default)]
    http: Option<EveHttp<'a>>,
    #[serde(borrow, default)]
    fileinfo: Option<Sha<'a>>,
}
#[derive(Deserialize)]
struct EveDns<'a> {
    #[serde(borrow, default)]
    queries: Option<Vec<Rr<'a>>>,
}
#[derive(Deserialize)]
struct Rr<'a> {
    #[serde(borrow)]
    rrname: Option<&'a str>,
}
#[derive(Deserialize)]
struct EveHttp<'a> {
    #[serde(borrow)]
    hostname: Option<&'a str>,
    #[serde(borrow)]
    url: Option<&'a str>,
}

/// The limit: read the lines, take the five values with the least work there is (see the
/// module documentation), look each up. Returns (seconds, lines, lookups that found a value).
fn limit(paths: &[PathBuf], format: Format, values: &HashSet<&str>) -> (f64, f64, u64, u64) {
    let t = Instant::now();
    let c = cpu_secs();
    let (mut lines, mut found) = (0u64, 0u64);
    let mut buf = Vec::with_capacity(4096);
    for p in paths {
        let mut r = BufReader::with_capacity(1 << 16, File::open(p).unwrap());
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf).unwrap() == 0 {
                break;
            }
            lines += 1;
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let mut vals: [Option<&str>; 5] = [None; 5];
            match format {
                Format::Ecs => {
                    let e: Ecs<'_> = serde_json::from_slice(line).unwrap_or_default();
                    vals = [
                        e.source.and_then(|a| a.ip),
                        e.destination.and_then(|a| a.ip),
                        e.dns.and_then(|d| d.question).and_then(|q| q.name),
                        e.url.and_then(|u| u.full),
                        e.file.and_then(|f| f.hash).and_then(|h| h.sha256),
                    ];
                }
                Format::Eve => {
                    if let Ok(e) = serde_json::from_slice::<Eve<'_>>(line) {
                        let http = e.http.as_ref();
                        vals = [
                            e.src_ip,
                            e.dest_ip,
                            e.dns
                                .and_then(|d| d.queries)
                                .and_then(|q| q.first().and_then(|r| r.rrname))
                                .or(http.and_then(|h| h.hostname)),
                            http.and_then(|h| h.url),
                            e.fileinfo.and_then(|f| f.sha256),
                        ];
                    }
                }
                _ => {
                    if line.first() != Some(&b'#') {
                        // ts uid orig_h orig_p resp_h resp_p …: addresses at 2 and 4, then
                        // the log's own value column.
                        let mut cols = [""; 12];
                        let text = std::str::from_utf8(line).unwrap_or("");
                        for (c, v) in cols.iter_mut().zip(text.split('\t')) {
                            *c = v;
                        }
                        vals = [
                            Some(cols[2]),
                            Some(cols[4]),
                            Some(cols[7]),
                            Some(cols[8]),
                            Some(cols[10]),
                        ];
                    }
                }
            }
            for v in vals.into_iter().flatten() {
                found += u64::from(values.contains(v));
            }
        }
    }
    (t.elapsed().as_secs_f64(), cpu_secs() - c, lines, found)
}

/// Hits as (file index, line), in the order the scan handed them over.
struct Lines {
    names: Vec<String>,
    hits: Vec<(usize, u64)>,
}

impl ScanSink for Lines {
    fn hit(&mut self, at: &HitAt<'_>) -> std::io::Result<()> {
        let k = self
            .names
            .iter()
            .position(|n| n == at.file)
            .unwrap_or(usize::MAX);
        self.hits.push((k, at.line));
        Ok(())
    }
}

fn run_scan(
    paths: &[PathBuf],
    set: &ArcSwap<Compiled>,
    threads: usize,
) -> (f64, f64, u64, Vec<(usize, u64)>) {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::File(p.clone())).collect();
    let mut sink = Lines {
        names: inputs.iter().map(Input::name).collect(),
        hits: Vec::new(),
    };
    let t = Instant::now();
    let c = cpu_secs();
    let s = scan(
        &inputs,
        set,
        &ScanOptions {
            threads,
            max_line_errors: 20,
            ..ScanOptions::default()
        },
        &mut sink,
        &mut (),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c;
    assert_eq!(s.malformed, 0);
    (secs, cpu, s.records, sink.hits)
}

fn main() {
    let n = env_usize("SCAN_INDICATORS", 1_000_000);
    let bytes = env_usize("SCAN_BYTES", 400_000_000) as u64;
    let rounds = env_usize("SCAN_ROUNDS", 3);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = env_usize("SCAN_THREADS", cores);
    let dir = std::env::var_os("SCAN_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let formats = std::env::var("SCAN_FORMATS").unwrap_or_else(|_| "ecs,eve,zeek".into());

    let t = Instant::now();
    let mut compiler = Compiler::new(CompileOptions::default());
    for i in 0..n {
        compiler.add(&indicator(i, n));
    }
    let (compiled, report) = compiler.finish();
    assert_eq!(report.compiled, n);
    println!(
        "## {n} indicators compiled in {:.2} s; fields read: {:?}",
        t.elapsed().as_secs_f64(),
        compiled
            .needed_fields()
            .iter()
            .map(Field::ecs_name)
            .collect::<Vec<_>>()
    );
    let texts: Vec<String> = (0..n).map(|i| value_of(i, n).1).collect();
    let values: HashSet<&str> = texts.iter().map(String::as_str).collect();
    let set = ArcSwap::from(Arc::new(compiled));

    for name in formats.split(',') {
        let format: Format = name.parse().unwrap();
        let (paths, planted) = generate(&dir, format, bytes, n);
        let size: u64 = paths
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        let mb = size as f64 / 1e6;
        let (mut lim, mut one, mut all) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut lim_cpu, mut one_cpu, mut all_cpu) = (f64::MAX, f64::MAX, f64::MAX);
        for round in 0..rounds {
            let (s, c, lines, found) = limit(&paths, format, &values);
            lim = lim.min(s);
            lim_cpu = lim_cpu.min(c);
            let (s1, c1, records, hits1) = run_scan(&paths, &set, 1);
            one = one.min(s1);
            one_cpu = one_cpu.min(c1);
            let (sn, cn, _, hitsn) = run_scan(&paths, &set, threads);
            all = all.min(sn);
            all_cpu = all_cpu.min(cn);
            assert_eq!(hits1, planted, "{format}: the hits are the planted lines");
            assert_eq!(
                hitsn, hits1,
                "{format}: {threads} threads give one thread's hits"
            );
            println!(
                "{format} round {}: limit {:.1} MB/s (CPU time {c:.2} s; {lines} lines, {found} values found), one thread {:.1} MB/s (CPU time {c1:.2} s; {records} records, {} hits), {threads} threads {:.1} MB/s (CPU time of all threads {cn:.2} s: efficiency {:.2})",
                round + 1,
                mb / s,
                mb / s1,
                hits1.len(),
                mb / sn,
                c1 / cn
            );
        }
        println!(
            "## {format}: {mb:.0} MB; limit {:.1} MB/s; one thread {:.1} MB/s = {:.0} % of the limit; {threads} threads {:.1} MB/s = {:.2}× one thread",
            mb / lim,
            mb / one,
            100.0 * lim / one,
            mb / all,
            one / all
        );
        println!(
            "## {format} by CPU time (best round): limit {:.1} MB/s; one thread {:.1} MB/s = {:.0} % of the limit; {threads} threads {:.2} s of CPU in all = efficiency {:.2} (one thread's CPU time / theirs)",
            mb / lim_cpu,
            mb / one_cpu,
            100.0 * lim_cpu / one_cpu,
            all_cpu,
            one_cpu / all_cpu
        );
    }
}
