//! Benchmark: P patterns × O observations, pattern×observation evaluations per second.
//!
//! Generates (deterministically) a STIX 2.1 bundle of O observed-data with their SCOs and P
//! patterns (a mix of simple equalities, compound comparisons and observation expressions with
//! qualifiers), writes them to files, then compiles every pattern and evaluates it against all
//! O observations. `scripts/bench_pattern_vs_stix2_matcher.py` runs this and the Python
//! reference matcher on the same files.
//!
//! Usage: `cargo bench -p shieldwall-pattern --bench pattern_eval -- [--dir DIR]
//! [--patterns P,P2,…] [--observations O] [--json]`

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use pattern::StixVersion;
use pattern::eval::{EvalOptions, Matcher, Observations};
use serde_json::{Value, json};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

fn ip(r: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        10 + r.below(200),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    )
}

fn domain(r: &mut Rng) -> String {
    format!("host{}.example{}.org", r.below(100_000), r.below(50))
}

fn timestamp(base: i64) -> String {
    // 2024-01-01T00:00:00Z + base seconds.
    basics::time::DateTime::from_unix(1_704_067_200 + base, 0)
        .rfc3339(0)
        .to_string()
}

struct Generated {
    bundle: Value,
    /// Values present in the data, to make some patterns hit.
    ips: Vec<String>,
    domains: Vec<String>,
    sha256: Vec<String>,
    names: Vec<String>,
}

fn observations(o: usize, r: &mut Rng) -> Generated {
    let mut objects = Vec::with_capacity(o * 3);
    let mut g = Generated {
        bundle: Value::Null,
        ips: Vec::new(),
        domains: Vec::new(),
        sha256: Vec::new(),
        names: Vec::new(),
    };
    for i in 0..o {
        let t = timestamp(i as i64 * 3);
        let mut refs = Vec::new();
        match r.below(4) {
            0 => {
                let a = ip(r);
                let id = format!("ipv4-addr--{i:08}");
                objects.push(json!({"type": "ipv4-addr", "id": id, "value": a}));
                let nt = format!("network-traffic--{i:08}");
                let port = [80, 443, 8443, 22][r.below(4) as usize];
                objects.push(json!({"type": "network-traffic", "id": nt, "dst_ref": id,
                    "dst_port": port, "protocols": ["ipv4", "tcp"]}));
                refs.push(id);
                refs.push(nt);
                g.ips.push(a);
            }
            1 => {
                let d = domain(r);
                let id = format!("domain-name--{i:08}");
                objects.push(json!({"type": "domain-name", "id": id, "value": d}));
                refs.push(id);
                g.domains.push(d);
            }
            2 => {
                let h = r.hex(64);
                let name = format!(
                    "doc{}.{}",
                    r.below(100_000),
                    ["exe", "pdf", "dll", "js"][r.below(4) as usize]
                );
                let id = format!("file--{i:08}");
                objects.push(
                    json!({"type": "file", "id": id, "name": name, "size": r.below(5_000_000),
                    "hashes": {"SHA-256": h, "MD5": r.hex(32)}}),
                );
                refs.push(id);
                g.sha256.push(h);
                g.names.push(name);
            }
            _ => {
                let id = format!("url--{i:08}");
                objects.push(json!({"type": "url", "id": id,
                    "value": format!("http://{}/path/{}", domain(r), r.below(1000))}));
                refs.push(id);
            }
        }
        objects.push(
            json!({"type": "observed-data", "id": format!("observed-data--{i:08}"),
            "spec_version": "2.1", "created": t, "modified": t,
            "first_observed": t, "last_observed": t, "number_observed": 1, "object_refs": refs}),
        );
    }
    g.bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects});
    g
}

fn pick<'a>(r: &mut Rng, v: &'a [String], fallback: &'a str) -> &'a str {
    if v.is_empty() {
        fallback
    } else {
        &v[r.below(v.len() as u64) as usize]
    }
}

/// Pattern mix: 60 % simple equality, 25 % compound comparisons, 15 % observation
/// expressions with operators and qualifiers. About one pattern in ten names a value present
/// in the data.
fn patterns(p: usize, g: &Generated, r: &mut Rng) -> Vec<String> {
    let mut out = Vec::with_capacity(p);
    for _ in 0..p {
        let hit = r.below(10) == 0;
        let ip_v = if hit {
            pick(r, &g.ips, "1.2.3.4").to_owned()
        } else {
            ip(r)
        };
        let dom = if hit {
            pick(r, &g.domains, "a.example").to_owned()
        } else {
            domain(r)
        };
        let sha = if hit {
            pick(r, &g.sha256, "00").to_owned()
        } else {
            r.hex(64)
        };
        let kind = r.below(100);
        let s = if kind < 60 {
            match r.below(4) {
                0 => format!("[ipv4-addr:value = '{ip_v}']"),
                1 => format!("[domain-name:value = '{dom}']"),
                2 => format!("[file:hashes.'SHA-256' = '{sha}']"),
                _ => format!("[url:value = 'http://{dom}/path/{}']", r.below(1000)),
            }
        } else if kind < 85 {
            match r.below(4) {
                0 => format!(
                    "[network-traffic:dst_ref.value = '{ip_v}' AND network-traffic:dst_port = 443]"
                ),
                1 => format!(
                    "[file:name LIKE 'doc{}%' AND file:size > {}]",
                    r.below(1000),
                    r.below(5_000_000)
                ),
                2 => format!(
                    "[domain-name:value = '{dom}' OR domain-name:value MATCHES '^host{}\\\\.example[0-9]+\\\\.org$']",
                    r.below(100_000)
                ),
                _ => format!(
                    "[ipv4-addr:value ISSUBSET '{}.{}.0.0/16']",
                    10 + r.below(200),
                    r.below(256)
                ),
            }
        } else {
            match r.below(4) {
                0 => format!(
                    "[domain-name:value = '{dom}'] FOLLOWEDBY [ipv4-addr:value = '{ip_v}'] WITHIN 300 SECONDS"
                ),
                1 => format!("[file:hashes.'SHA-256' = '{sha}'] REPEATS 2 TIMES"),
                2 => format!(
                    "([ipv4-addr:value = '{ip_v}'] AND [domain-name:value = '{dom}']) WITHIN 600 SECONDS"
                ),
                _ => format!(
                    "[domain-name:value = '{dom}'] START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00Z'"
                ),
            }
        };
        out.push(s);
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("pattern-bench");
    let mut ps = vec![1_000usize, 10_000];
    let mut o = 10_000usize;
    let mut as_json = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(args.next().expect("--dir needs a value")),
            "--patterns" => {
                ps = args
                    .next()
                    .expect("--patterns needs a value")
                    .split(',')
                    .map(|x| x.parse().expect("--patterns takes numbers"))
                    .collect();
            }
            "--observations" => {
                o = args
                    .next()
                    .expect("--observations needs a value")
                    .parse()
                    .expect("a number");
            }
            "--json" => as_json = true,
            // cargo bench passes --bench.
            _ => {}
        }
    }
    std::fs::create_dir_all(&dir).expect("creating the bench directory");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let g = observations(o, &mut rng);
    let obs_path = dir.join(format!("observed-{o}.json"));
    std::fs::write(
        &obs_path,
        serde_json::to_string(&g.bundle).expect("serialising"),
    )
    .expect("writing observations");
    let t = Instant::now();
    let obs = Observations::from_json(&g.bundle, StixVersion::V21).expect("generated data loads");
    let load_s = t.elapsed().as_secs_f64();
    let mut results = Vec::new();
    for &p in &ps {
        let pats = patterns(p, &g, &mut Rng(0xfeed_0000 + p as u64));
        let pat_path = dir.join(format!("patterns-{p}.txt"));
        std::fs::write(&pat_path, pats.join("\n") + "\n").expect("writing patterns");
        let t = Instant::now();
        let matchers: Vec<Matcher> = pats
            .iter()
            .map(|s| Matcher::compile(s, StixVersion::V21).expect("generated patterns compile"))
            .collect();
        let compile_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut matched = 0usize;
        let mut errors = 0usize;
        for m in &matchers {
            match m.evaluate(&obs, &EvalOptions::default()) {
                Ok(Some(_)) => matched += 1,
                Ok(None) => {}
                Err(_) => errors += 1,
            }
        }
        let eval_s = t.elapsed().as_secs_f64();
        let evals = (p * o) as f64;
        results.push(json!({
            "patterns": p, "observations": o,
            "patterns_file": pat_path, "observed_file": obs_path,
            "compile_seconds": compile_s, "evaluate_seconds": eval_s,
            "matched": matched, "errors": errors,
            "evaluations_per_second": evals / eval_s,
            "evaluations_per_second_incl_compile": evals / (eval_s + compile_s),
        }));
        if !as_json {
            println!(
                "P={p} O={o}: compile {compile_s:.3}s, evaluate {eval_s:.3}s, {matched} matched, \
                 {errors} errors, {:.3e} pattern×observation evaluations/s ({:.3e} incl. compile)",
                evals / eval_s,
                evals / (eval_s + compile_s)
            );
        }
    }
    if as_json {
        println!("{}", json!({"load_seconds": load_s, "runs": results}));
    } else {
        println!("observations loaded and indexed in {load_s:.3}s");
    }
}
