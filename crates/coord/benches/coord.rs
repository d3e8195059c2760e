//! DISARM import (normalise, index, matrix) over the real bundle, and proposals/ranking over
//! many requests and offers.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use coord::Common;
use coord::assist::{
    AssistanceOffer, AssistanceRequest, Need, Urgency, propose_offers, rank_requests,
};
use coord::disarm::{self, DisarmIndex, Matrix};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use stix::Timestamp;
use uuid::Uuid;

fn disarm_benches(c: &mut Criterion) {
    let Some(path) = testenv::shared_file("DISARM bench", "data/disarm/DISARM.json") else {
        return;
    };
    let bundle = stix::json::parse(&std::fs::read(path).unwrap()).unwrap();
    let (objects, _) = disarm::normalise(&bundle).unwrap();
    let index = DisarmIndex::build(&objects).unwrap();
    // 10,000 `uses` relationships from 2,000 incidents to techniques.
    let mut with_uses = objects.clone();
    let techniques = index.techniques();
    for i in 0..10_000u128 {
        let t = &techniques[(i as usize * 7) % techniques.len()];
        with_uses.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--{}", Uuid::from_u128(0x4000_8000_0000_0000_0000 | i << 64 | i)),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "relationship_type": "uses",
            "source_ref": format!("incident--{}", Uuid::from_u128(0x4000_8000_0000_0000_0000 | (i % 2000))),
            "target_ref": t.stix_id}));
    }
    let mut g = c.benchmark_group("disarm");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("normalise (698 objects)", |b| {
        b.iter(|| disarm::normalise(&bundle).unwrap())
    });
    g.bench_function("index (698 objects)", |b| {
        b.iter(|| DisarmIndex::build(&objects).unwrap())
    });
    g.bench_function("matrix (10k uses)", |b| {
        b.iter(|| Matrix::build(&index, &with_uses))
    });
    g.finish();
}

fn assist_benches(c: &mut Criterion) {
    let at = Timestamp::parse("2026-11-20T10:00:00.000Z").unwrap();
    let now = Timestamp::parse("2026-11-20T12:00:00Z").unwrap();
    let services = [
        "incident-response",
        "digital-forensics",
        "ot-ics-support",
        "training",
        "funding",
        "recovery",
    ];
    let requester = "identity--3f0d0b4e-9a63-4d1a-8f53-0a8e2f4b6c11";
    let requests: Vec<_> = (0..1000usize)
        .map(|i| {
            let mut r = AssistanceRequest::new(
                format!("r{i}"),
                "coalition-internal",
                requester,
                vec![services[i % 6].into(), services[(i + 1) % 6].into()],
                Urgency::Urgent,
            );
            r.needs = vec![Need::quantity(services[i % 6], 10.0, "person-days")];
            let v: Value = r.build(&Common::new(Uuid::new_v4(), at)).unwrap();
            AssistanceRequest::read(&v).unwrap()
        })
        .collect();
    let offers: Vec<_> = (0..1000usize)
        .map(|i| {
            let mut o = AssistanceOffer::new(
                format!("o{i}"),
                "coalition-internal",
                requester,
                vec![services[i % 6].into()],
            );
            o.capacity = vec![Need::quantity(
                services[i % 6],
                (i % 20) as f64,
                "person-days",
            )];
            o.lead_time_hours = Some((i % 100) as u32);
            let v: Value = o.build(&Common::new(Uuid::new_v4(), at)).unwrap();
            AssistanceOffer::read(&v).unwrap()
        })
        .collect();
    let mut g = c.benchmark_group("assist");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("rank 1000 requests", |b| {
        b.iter(|| rank_requests(&requests))
    });
    g.bench_function("propose over 1000 offers", |b| {
        b.iter(|| propose_offers(&requests[0].header.id, &requests[0].body, &offers, now))
    });
    g.finish();
}

criterion_group!(benches, disarm_benches, assist_benches);
criterion_main!(benches);
