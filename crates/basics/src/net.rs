//! IP addresses and networks (CIDR), one type for the whole workspace.
//!
//! [`Net::parse`] is strict: an IPv4 or IPv6 address as the standard library reads it (no
//! leading zeros in IPv4 octets, no zone), then optionally `/` and a prefix length of decimal
//! digits without a leading zero, at most 32 (IPv4) or 128 (IPv6). A prefix beyond that is an
//! error, never clamped. The network is normalised: host bits are cleared, so
//! `203.0.113.70/26` is `203.0.113.64/26` ([`Parsed::host_bits`] says whether any were set).
//! A bare address is a network of one (`/32`, `/128`).
//!
//! [`collapse`] turns a set of networks of one family or both into the smallest equivalent
//! set: duplicates and networks inside others removed, adjacent halves merged.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a text is not an address or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("is not an IP address")]
    NotAddress,
    /// The prefix length is not decimal digits without a leading zero.
    #[error("has a prefix length that is not a decimal number")]
    BadPrefix,
    /// The prefix length exceeds the family's width.
    #[error("has a prefix length above {max}")]
    PrefixTooLong {
        /// 32 or 128.
        max: u8,
    },
}

/// An IPv4 or IPv6 network with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    v6: bool,
    /// The address bits (IPv4 in the low 32 bits), host bits clear.
    bits: u128,
    prefix: u8,
}

/// The result of [`Net::parse_detail`]: the network and whether the text had host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The normalised network.
    pub net: Net,
    /// The text named an address inside the network (`10.1.2.3/8`), not the network itself.
    pub host_bits: bool,
    /// The text had a `/prefix`.
    pub had_prefix: bool,
}

fn mask(v6: bool, prefix: u8) -> u128 {
    let width: u32 = if v6 { 128 } else { 32 };
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(prefix))) >> (128 - width)
    }
}

impl Net {
    /// Parses an address or `address/prefix`, normalised (host bits cleared).
    pub fn parse(s: &str) -> Result<Net, NetError> {
        Net::parse_detail(s).map(|p| p.net)
    }

    /// As [`Net::parse`], saying whether host bits were set and whether a prefix was written.
    pub fn parse_detail(s: &str) -> Result<Parsed, NetError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty()
                    || p.len() > 3
                    || !p.bytes().all(|b| b.is_ascii_digit())
                    || (p.len() > 1 && p.starts_with('0'))
                {
                    return Err(NetError::BadPrefix);
                }
                (a, Some(p.parse::<u8>().map_err(|_| NetError::BadPrefix)?))
            }
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| NetError::NotAddress)?;
        let max = if ip.is_ipv6() { 128 } else { 32 };
        let p = prefix.unwrap_or(max);
        if p > max {
            return Err(NetError::PrefixTooLong { max });
        }
        let raw = Net::from_addr(ip).bits;
        let net = Net::new(ip, p).ok_or(NetError::PrefixTooLong { max })?;
        Ok(Parsed {
            host_bits: raw != net.bits,
            had_prefix: prefix.is_some(),
            net,
        })
    }

    /// A network of one address.
    pub fn from_addr(ip: IpAddr) -> Net {
        match ip {
            IpAddr::V4(a) => Net {
                v6: false,
                bits: u128::from(u32::from(a)),
                prefix: 32,
            },
            IpAddr::V6(a) => Net {
                v6: true,
                bits: u128::from(a),
                prefix: 128,
            },
        }
    }

    /// The network of `prefix` bits containing `ip`; `None` when the prefix is too long.
    pub fn new(ip: IpAddr, prefix: u8) -> Option<Net> {
        let one = Net::from_addr(ip);
        if prefix > one.prefix {
            return None;
        }
        Some(Net {
            v6: one.v6,
            bits: one.bits & mask(one.v6, prefix),
            prefix,
        })
    }

    /// Whether this is an IPv6 network.
    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The family's width: 32 or 128.
    pub fn width(&self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    /// Whether the network is one address.
    pub fn is_host(&self) -> bool {
        self.prefix == self.width()
    }

    /// The network address (host bits clear).
    pub fn addr(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.bits))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.bits as u32))
        }
    }

    /// The address bits (IPv4 in the low 32 bits).
    pub fn bits(&self) -> u128 {
        self.bits
    }

    /// Whether `ip` is in the network.
    pub fn contains_addr(&self, ip: IpAddr) -> bool {
        let o = Net::from_addr(ip);
        o.v6 == self.v6 && (o.bits & mask(self.v6, self.prefix)) == self.bits
    }

    /// Whether `other` lies wholly within this network (same family).
    pub fn contains(&self, other: &Net) -> bool {
        other.v6 == self.v6
            && other.prefix >= self.prefix
            && (other.bits & mask(self.v6, self.prefix)) == self.bits
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Net) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The canonical text: the address alone for a network of one, else `address/prefix`.
    pub fn to_compact(&self) -> String {
        if self.is_host() {
            self.addr().to_string()
        } else {
            self.to_string()
        }
    }

    fn sibling_parent(&self) -> Option<(Net, Net)> {
        if self.prefix == 0 {
            return None;
        }
        let parent = Net {
            v6: self.v6,
            bits: self.bits & mask(self.v6, self.prefix - 1),
            prefix: self.prefix - 1,
        };
        let bit = 1u128 << (u32::from(self.width()) - u32::from(self.prefix));
        let sibling = Net {
            bits: self.bits ^ bit,
            ..*self
        };
        Some((parent, sibling))
    }
}

impl fmt::Display for Net {
    /// Always `address/prefix` (see [`Net::to_compact`] for the short form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix)
    }
}

impl PartialOrd for Net {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Net {
    /// IPv4 before IPv6, then by address, then shorter prefix first.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.v6, self.bits, self.prefix).cmp(&(other.v6, other.bits, other.prefix))
    }
}

/// The smallest set of networks covering exactly the same addresses: sorted (IPv4 first),
/// without duplicates or networks inside others, adjacent halves merged into their parent.
pub fn collapse(nets: impl IntoIterator<Item = Net>) -> Vec<Net> {
    let mut v: Vec<Net> = nets.into_iter().collect();
    v.sort_unstable();
    loop {
        // Drop networks inside the previous kept one (sorted: a container comes first).
        let mut kept: Vec<Net> = Vec::with_capacity(v.len());
        for n in v {
            if kept.last().is_some_and(|k| k.contains(&n)) {
                continue;
            }
            kept.push(n);
        }
        // Merge adjacent siblings.
        let mut merged = false;
        let mut out: Vec<Net> = Vec::with_capacity(kept.len());
        let mut i = 0;
        while i < kept.len() {
            let n = kept[i];
            if let (Some(next), Some((parent, sib))) = (kept.get(i + 1), n.sibling_parent())
                && *next == sib
                && sib.bits > n.bits
            {
                out.push(parent);
                merged = true;
                i += 2;
                continue;
            }
            out.push(n);
            i += 1;
        }
        out.sort_unstable();
        v = out;
        if !merged {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(s: &str) -> Net {
        Net::parse(s).unwrap()
    }

    #[test]
    fn strict_parse_and_normalised_form() {
        assert_eq!(n("203.0.113.70/26").to_string(), "203.0.113.64/26");
        assert!(Net::parse_detail("203.0.113.70/26").unwrap().host_bits);
        assert!(!Net::parse_detail("203.0.113.64/26").unwrap().host_bits);
        assert_eq!(n("10.0.0.0/8").to_compact(), "10.0.0.0/8");
        assert_eq!(n("1.2.3.4").to_compact(), "1.2.3.4");
        assert_eq!(n("1.2.3.4/32").to_compact(), "1.2.3.4");
        assert_eq!(n("2001:DB8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(n("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(n("::/0").to_string(), "::/0");
        assert_eq!(
            Net::parse("1.2.3.4/40"),
            Err(NetError::PrefixTooLong { max: 32 })
        );
        assert_eq!(
            Net::parse("::1/129"),
            Err(NetError::PrefixTooLong { max: 128 })
        );
        for bad in [
            "1.2.3.4/",
            "1.2.3.4/08",
            "1.2.3.4/+8",
            "1.2.3.4/ 8",
            "1.2.3",
            "01.2.3.4",
            "hello",
            "",
            "/8",
            "fe80::1%eth0",
            "1.2.3.4/8/8",
            "1.2.3.4/1000",
        ] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Net::parse("x/8"), Err(NetError::NotAddress));
    }

    #[test]
    fn containment() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(n("11.22.33.44/20").contains_addr(ip("11.22.41.123")));
        assert!(!n("11.22.33.44/20").contains_addr(ip("11.22.123.41")));
        assert!(n("0.0.0.0/0").contains_addr(ip("1.2.3.4")));
        assert!(!n("0.0.0.0/0").contains_addr(ip("::1")));
        assert!(!n("::/0").contains_addr(ip("1.2.3.4")));
        assert!(n("11.22.33.44/13").contains(&n("11.22.33.44/20")));
        assert!(!n("11.22.33.44/20").contains(&n("11.22.33.44/13")));
        assert!(n("10.0.0.0/8").overlaps(&n("10.1.0.0/16")));
        assert!(n("10.1.0.0/16").overlaps(&n("10.0.0.0/8")));
        assert!(!n("10.0.0.0/8").overlaps(&n("11.0.0.0/8")));
        assert!(n("2001:db8:dead:beef::/64").contains_addr(ip("2001:db8:dead:beef::1")));
    }

    #[test]
    fn collapse_dedupes_and_merges() {
        let c = |v: &[&str]| -> Vec<String> {
            collapse(v.iter().map(|s| n(s)))
                .iter()
                .map(Net::to_compact)
                .collect()
        };
        assert_eq!(
            c(&[
                "10.0.0.0/8",
                "10.1.2.3",
                "10.0.0.0/8",
                "2001:db8::/33",
                "2001:db8:8000::/33"
            ]),
            ["10.0.0.0/8", "2001:db8::/32"]
        );
        assert_eq!(
            c(&["192.0.2.0/25", "192.0.2.128/25", "192.0.2.5"]),
            ["192.0.2.0/24"]
        );
        assert_eq!(
            c(&["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]),
            ["192.0.2.0/30"]
        );
        // Not siblings: no merge.
        assert_eq!(
            c(&["192.0.2.128/25", "192.0.3.0/25"]),
            ["192.0.2.128/25", "192.0.3.0/25"]
        );
        assert_eq!(c(&["0.0.0.0/1", "128.0.0.0/1"]), ["0.0.0.0/0"]);
        assert!(collapse([]).is_empty());
    }
}
