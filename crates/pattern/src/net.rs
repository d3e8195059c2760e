//! IP addresses and CIDR blocks for `ISSUBSET` / `ISSUPERSET` (IPv4 and IPv6).

use basics::net::Net;

/// An address block: a normalised [`basics::net::Net`] (a bare address is a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block(Net);

impl Block {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32` strictly (`basics::net`).
    pub fn parse(s: &str) -> Option<Block> {
        Net::parse(s).ok().map(Block)
    }

    /// The network.
    pub fn net(&self) -> Net {
        self.0
    }

    /// Whether `self` lies within `container` (same family, longer-or-equal prefix, same
    /// network bits under the container's mask).
    pub fn within(&self, container: &Block) -> bool {
        container.0.contains(&self.0)
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
