//! Large IPv4 sets are probed through a bitmap of /24 blocks before their tables: every address
//! the tables hold, and every address inside an indexed network (of any prefix length, blocks
//! wider and narrower than /24), is still found; addresses outside are not.
#![allow(clippy::unwrap_used)]

use matcher::{CompileOptions, Indicator, Scanner, compile};
use telemetry::{Field, Record};

fn ind(i: usize, pattern: String) -> Indicator {
    Indicator {
        id: format!("indicator--00000000-0000-4000-8000-{i:012}"),
        name: None,
        pattern,
        pattern_type: "stix".into(),
        valid_from: None,
        valid_until: None,
        revoked: false,
        added: None,
        marking_refs: Vec::new(),
    }
}

#[test]
fn a_large_address_set_finds_exactly_what_a_small_one_does() {
    // 5,000 addresses (enough for the filter) spread over 20.0.0.0–83.255.255.255, and networks
    // of several prefix lengths, some not on /24 boundaries.
    let addrs: Vec<u32> = (0..5000u32)
        .map(|i| 0x1400_0000 + i.wrapping_mul(2_654_435_761) % 0x4000_0000)
        .collect();
    let nets = [
        ("100.64.0.0", 10u8),
        ("192.0.2.128", 25),
        ("198.51.100.7", 32),
        ("203.0.113.0", 24),
        ("172.16.0.0", 12),
        ("1.2.3.4", 31),
    ];
    let mut inds: Vec<Indicator> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            ind(
                i,
                format!("[ipv4-addr:value = '{}']", std::net::Ipv4Addr::from(*a)),
            )
        })
        .collect();
    for (k, (net, len)) in nets.iter().enumerate() {
        inds.push(ind(
            100_000 + k,
            format!("[ipv4-addr:value ISSUBSET '{net}/{len}']"),
        ));
    }
    let (big, report) = compile(&inds, &CompileOptions::default());
    assert_eq!(report.compiled, inds.len(), "{:?}", report.problems);
    let mut sc = Scanner::new(&big);
    let hits_of = |a: u32, sc: &mut Scanner| {
        let mut rec = Record::new();
        rec.push(
            Field::DestinationIp,
            &std::net::Ipv4Addr::from(a).to_string(),
        )
        .unwrap();
        let mut hits = Vec::new();
        big.scan(&rec, sc, &mut hits);
        let mut ids: Vec<String> = hits
            .iter()
            .map(|h| big.indicator_id(h.indicator).to_owned())
            .collect();
        ids.sort();
        ids
    };
    for (i, &a) in addrs.iter().enumerate().step_by(7) {
        assert_eq!(hits_of(a, &mut sc), [inds[i].id.clone()], "{a:#x}");
        // Its neighbours in the same /24 are not indicated (unless another key is).
        let n = a ^ 1;
        if !addrs.contains(&n) {
            assert!(hits_of(n, &mut sc).is_empty(), "{n:#x}");
        }
    }
    let inside = [
        ("100.64.0.1", 0),
        ("100.127.255.255", 0),
        ("192.0.2.200", 1),
        ("198.51.100.7", 2),
        ("203.0.113.99", 3),
        ("172.31.0.9", 4),
        ("1.2.3.5", 5),
    ];
    for (addr, k) in inside {
        let a: std::net::Ipv4Addr = addr.parse().unwrap();
        let want = inds[addrs.len() + k].id.clone();
        assert!(hits_of(u32::from(a), &mut sc).contains(&want), "{addr}");
    }
    let outside = [
        "100.128.0.0",
        "100.63.255.255",
        "192.0.2.127",
        "198.51.100.8",
        "172.32.0.0",
        "1.2.3.6",
        "10.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
    ];
    for addr in outside {
        let a: std::net::Ipv4Addr = addr.parse().unwrap();
        assert!(hits_of(u32::from(a), &mut sc).is_empty(), "{addr}");
    }
}
