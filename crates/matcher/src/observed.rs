//! A record as STIX 2.1 observed data: the observation the matcher's semantics stand for, for
//! sightings that carry what was observed (`--include-observed`) and for checking the matcher
//! against the pattern evaluator.

use serde_json::{Map, Value, json};
use telemetry::time::format_timestamp;
use telemetry::{Field, ObjectSlot, Record};

use crate::verify::is_v6;

/// The observed-data object and its SCOs for one record. `n` makes the ids unique within a
/// document (ids are deterministic, not random: the function does no I/O and reads no clock).
pub fn record_to_observed_data(rec: &Record, n: u64) -> Vec<Value> {
    let id = |t: &str, k: usize| {
        format!(
            "{t}--00000000-0000-4000-8000-{:06x}{:06x}",
            n & 0xff_ffff,
            k
        )
    };
    let mut objects: Vec<Value> = Vec::new();
    let mut refs: Vec<Value> = Vec::new();
    let mut src_ref = None;
    let mut dst_ref = None;
    for (k, e) in rec.entries().iter().enumerate() {
        if e.field.slot() != ObjectSlot::Own {
            continue;
        }
        let v = rec.value(e);
        let t = match e.field {
            Field::SourceIp | Field::DestinationIp | Field::DnsResolvedIp => {
                if is_v6(v) {
                    "ipv6-addr"
                } else {
                    "ipv4-addr"
                }
            }
            Field::DnsQuestion | Field::UrlDomain | Field::TlsServerName => "domain-name",
            Field::UrlFull => "url",
            Field::EmailFrom | Field::EmailTo => "email-addr",
            _ => continue,
        };
        let sid = id(t, k + 3);
        if e.field == Field::SourceIp && src_ref.is_none() {
            src_ref = Some(sid.clone());
        }
        if e.field == Field::DestinationIp && dst_ref.is_none() {
            dst_ref = Some(sid.clone());
        }
        refs.push(Value::from(sid.clone()));
        objects.push(json!({"type": t, "spec_version": "2.1", "id": sid, "value": v}));
    }
    let first = |f: Field| rec.get(f);
    let int = |s: &str| s.parse::<i64>().map_or(Value::from(s), Value::from);
    // network-traffic
    let has_traffic = src_ref.is_some()
        || dst_ref.is_some()
        || rec
            .entries()
            .iter()
            .any(|e| e.field.slot() == ObjectSlot::NetworkTraffic);
    if has_traffic {
        let mut o = Map::new();
        let sid = id("network-traffic", 0);
        o.insert("type".into(), "network-traffic".into());
        o.insert("spec_version".into(), "2.1".into());
        o.insert("id".into(), sid.clone().into());
        if let Some(r) = &src_ref {
            o.insert("src_ref".into(), r.clone().into());
        }
        if let Some(r) = &dst_ref {
            o.insert("dst_ref".into(), r.clone().into());
        }
        if let Some(p) = first(Field::SourcePort) {
            o.insert("src_port".into(), int(p));
        }
        if let Some(p) = first(Field::DestinationPort) {
            o.insert("dst_port".into(), int(p));
        }
        let protocols: Vec<Value> = rec
            .fields()
            .filter(|(f, _)| *f == Field::NetworkTransport)
            .map(|(_, v)| Value::from(v))
            .collect();
        if !protocols.is_empty() {
            o.insert("protocols".into(), protocols.into());
        }
        if let Some(ua) = first(Field::UserAgent) {
            o.insert(
                "extensions".into(),
                json!({"http-request-ext": {"request_method": "GET", "request_value": "/", "request_header": {"User-Agent": ua}}}),
            );
        }
        refs.push(sid.into());
        objects.push(o.into());
    }
    let slot_object = |slot: ObjectSlot, t: &str, k: usize| -> Option<Value> {
        let mut o = Map::new();
        let mut hashes = Map::new();
        for (f, v) in rec.fields().filter(|(f, _)| f.slot() == slot) {
            let (key, hash) = match f {
                Field::FileName => ("name", false),
                Field::FileSize => ("size", false),
                Field::FileMd5 => ("MD5", true),
                Field::FileSha1 | Field::CertSha1 => ("SHA-1", true),
                Field::FileSha256 | Field::CertSha256 => ("SHA-256", true),
                Field::CertSubject => ("subject", false),
                Field::CertIssuer => ("issuer", false),
                Field::CertSerial => ("serial_number", false),
                _ => continue,
            };
            let val = if f == Field::FileSize {
                int(v)
            } else {
                Value::from(v)
            };
            if hash {
                hashes.insert(key.into(), val);
            } else {
                o.insert(key.into(), val);
            }
        }
        if o.is_empty() && hashes.is_empty() {
            return None;
        }
        if !hashes.is_empty() {
            o.insert("hashes".into(), hashes.into());
        }
        o.insert("type".into(), t.into());
        o.insert("spec_version".into(), "2.1".into());
        o.insert("id".into(), id(t, k).into());
        Some(o.into())
    };
    for (slot, t, k) in [
        (ObjectSlot::File, "file", 1),
        (ObjectSlot::Certificate, "x509-certificate", 2),
    ] {
        if let Some(o) = slot_object(slot, t, k) {
            refs.push(o["id"].clone());
            objects.push(o);
        }
    }
    let time = format_timestamp(rec.timestamp().unwrap_or(0));
    let od = json!({
        "type": "observed-data",
        "spec_version": "2.1",
        "id": id("observed-data", 0xffffff),
        "created": time,
        "modified": time,
        "first_observed": time,
        "last_observed": time,
        "number_observed": 1,
        "object_refs": refs,
    });
    let mut out = vec![od];
    out.extend(objects);
    out
}
