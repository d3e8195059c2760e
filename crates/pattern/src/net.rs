//! IP addresses and CIDR blocks for `ISSUBSET` / `ISSUPERSET` (IPv4 and IPv6).

use std::net::IpAddr;

/// An address block: a family, the address bits (IPv4 in the low 32 bits) and a prefix length.
/// A bare address is a block of one (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    v6: bool,
    addr: u128,
    prefix: u8,
}

impl Block {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Option<Block> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (v6, bits, max) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32u8),
            IpAddr::V6(a) => (true, u128::from(a), 128u8),
        };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Block {
            v6,
            addr: bits,
            prefix,
        })
    }

    fn mask(&self) -> u128 {
        let width = if self.v6 { 128 } else { 32 };
        if self.prefix == 0 {
            0
        } else {
            let ones = u128::MAX << (128 - u32::from(self.prefix));
            ones >> (128 - width)
        }
    }

    /// Whether `self` lies within `container` (same family, longer-or-equal prefix, same
    /// network bits under the container's mask).
    pub fn within(&self, container: &Block) -> bool {
        self.v6 == container.v6
            && self.prefix >= container.prefix
            && (self.addr & container.mask()) == (container.addr & container.mask())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b(s: &str) -> Block {
        Block::parse(s).unwrap()
    }

    #[test]
    fn containment() {
        assert!(b("11.22.41.123").within(&b("11.22.33.44/20")));
        assert!(!b("11.22.123.41").within(&b("11.22.33.44/20")));
        assert!(b("11.22.33.44/20").within(&b("11.22.33.44/13")));
        assert!(!b("11.22.33.44/13").within(&b("11.22.33.44/20")));
        assert!(b("1.2.3.4").within(&b("0.0.0.0/0")));
        assert!(
            b("2001:db8:dead:beef::1").within(&b("2001:0db8:dead:beef:0000:0000:0000:0000/64"))
        );
        assert!(!b("2001:db8:dead:bee0::1").within(&b("2001:db8:dead:beef::/64")));
        assert!(!b("::1").within(&b("0.0.0.0/0")));
        assert!(Block::parse("1.2.3.4/33").is_none());
        assert!(Block::parse("hello").is_none());
        assert!(Block::parse("1.2.3.4/").is_none());
    }
}
