//! Validation speed beside `serde_json`'s parse-to-`Value` of the same bytes.
//!
//! `cargo bench -p shieldwall-stix --bench validate`
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use stix::{
    json,
    stream::ObjectStream,
    validate::{Options, Validator},
};

#[path = "support/generate.rs"]
mod generate;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let ics = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/attack-ics/ics-attack-18.1.json");
    match std::fs::read(&ics) {
        Ok(b) => out.push(("attack-ics".to_owned(), b)),
        Err(e) => eprintln!("SKIPPED: ATT&CK ICS bundle ({}): {e}", ics.display()),
    }
    let mut generated = Vec::new();
    generate::write_bundle(&mut generated, 100_000).unwrap();
    out.push(("generated-100k".to_owned(), generated));
    out
}

fn bench(c: &mut Criterion) {
    let validator = Validator::new(&Options::default()).unwrap();
    for (name, bytes) in inputs() {
        let objects = serde_json::from_slice::<Value>(&bytes).unwrap()["objects"]
            .as_array()
            .unwrap()
            .len();
        eprintln!("{name}: {} bytes, {objects} objects", bytes.len());
        let mut g = c.benchmark_group(&name);
        g.sample_size(10);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("serde_json_parse_to_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(&bytes).unwrap());
        });
        g.bench_function("strict_parse", |b| b.iter(|| json::parse(&bytes).unwrap()));
        g.bench_function("parse_and_validate", |b| {
            b.iter(|| {
                let v = json::parse(&bytes).unwrap();
                validator.validate(&v).len()
            });
        });
        g.bench_function("validate_only", |b| {
            let v = json::parse(&bytes).unwrap();
            b.iter(|| validator.validate(&v).len());
        });
        g.bench_function("stream_parse_and_validate", |b| {
            b.iter(|| {
                let mut n = 0;
                let mut findings = Vec::new();
                for item in ObjectStream::new(&bytes[..]) {
                    let item = item.unwrap();
                    findings.clear();
                    validator.validate_into(item.value.as_ref().unwrap(), &mut findings);
                    n += findings.len();
                }
                n
            });
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
