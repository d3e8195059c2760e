//! Generates a synthetic STIX 2.1 bundle of `n` objects (identities, indicators, malware,
//! relationships, IPv4 SCOs with deterministic ids), valid and deterministic, for benchmarks
//! and the large-file run. Shared by `benches/validate.rs` and `examples/gen_bundle.rs` (in a subfolder so Cargo does not take it for a bench).

use std::io::{self, Write};

/// Writes a bundle of `n` objects to `w`.
pub(crate) fn write_bundle(w: &mut impl Write, n: u64) -> io::Result<()> {
    writeln!(
        w,
        "{{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": ["
    )?;
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let u = |k: u64| {
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                (i * 7 + k) & 0xffff_ffff,
                i & 0xffff,
                k & 0xfff,
                i & 0xfff,
                i
            )
        };
        let ts = format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60,
            i % 1000
        );
        match i % 5 {
            0 => write!(
                w,
                r#"  {{"type": "identity", "spec_version": "2.1", "id": "identity--{}", "created": "{ts}", "modified": "{ts}", "name": "Organisation {i}", "identity_class": "organization", "sectors": ["government", "energy"], "description": "A synthetic identity for benchmarks, number {i}."}}"#,
                u(0)
            )?,
            1 => write!(
                w,
                r#"  {{"type": "indicator", "spec_version": "2.1", "id": "indicator--{}", "created_by_ref": "identity--{}", "created": "{ts}", "modified": "{ts}", "name": "Malicious IP {i}", "description": "Traffic to this address indicates a compromise.", "indicator_types": ["malicious-activity"], "pattern": "[ipv4-addr:value = '10.{}.{}.{}']", "pattern_type": "stix", "valid_from": "{ts}", "kill_chain_phases": [{{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "command-and-control"}}], "labels": ["benchmark"], "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}}"#,
                u(1),
                u(0),
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            )?,
            2 => write!(
                w,
                r#"  {{"type": "malware", "spec_version": "2.1", "id": "malware--{}", "created": "{ts}", "modified": "{ts}", "name": "Family {i}", "is_family": true, "malware_types": ["remote-access-trojan"], "external_references": [{{"source_name": "vendor", "url": "https://example.com/reports/{i}", "hashes": {{"SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"}}}}], "x_acme_score": {}}}"#,
                u(2),
                i % 100
            )?,
            3 => write!(
                w,
                r#"  {{"type": "relationship", "spec_version": "2.1", "id": "relationship--{}", "created": "{ts}", "modified": "{ts}", "relationship_type": "indicates", "source_ref": "indicator--{}", "target_ref": "malware--{}"}}"#,
                u(3),
                u(1),
                u(2)
            )?,
            _ => {
                let value = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                let mut sco = serde_json::Map::new();
                sco.insert("type".into(), "ipv4-addr".into());
                sco.insert("value".into(), value.clone().into());
                let id = stix::id::deterministic_sco_id(&sco).unwrap_or_default();
                write!(
                    w,
                    r#"  {{"type": "ipv4-addr", "spec_version": "2.1", "id": "{id}", "value": "{value}"}}"#
                )?
            }
        }
    }
    w.write_all(b"\n]}\n")
}
