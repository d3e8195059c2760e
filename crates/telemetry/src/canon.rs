//! The canonical text of domain names and URLs, one definition for the readers (record values)
//! and the matcher (indicator literals, exports), so that both sides compare like with like.
//!
//! - A domain name: without a trailing dot, in lower case, internationalised labels in
//!   punycode (IDNA/UTS 46 through the `idna` crate): `Bücher.Example.` → `xn--bcher-kva.example`.
//! - A URL: parsed and serialised per the WHATWG URL standard (the `url` crate: scheme and host
//!   in lower case, IDN host in punycode, default port dropped, path dot-segments resolved,
//!   non-ASCII percent-encoded), with the **fragment dropped** (it never leaves the client, so
//!   no sensor sees it) and the **user name and password dropped** (credentials are not part of
//!   what a proxy or an IDS sees as the resource, and must not be copied into block lists).
//!   Text that is not an absolute URL is kept as given.

use std::borrow::Cow;

/// An IPv4 address in the one spelling `std::net::Ipv4Addr` accepts (four decimal octets, no
/// leading zeros, each at most 255), which is also its canonical text; as an integer.
#[inline]
pub fn parse_ipv4(b: &[u8]) -> Option<u32> {
    if b.len() > 15 {
        return None;
    }
    let mut addr = 0u32;
    let mut i = 0;
    for group in 0..4 {
        if group > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i - start == 3 {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || v > 255 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        addr = (addr << 8) | v;
    }
    (i == b.len()).then_some(addr)
}

/// Writes the canonical text of an IPv6 address (RFC 5952, as `std` prints it: the first
/// longest run of two or more zero groups as `::`, lower-case hex, IPv4-mapped addresses as
/// `::ffff:a.b.c.d`) into `out`; returns its length.
pub fn format_ipv6(a: std::net::Ipv6Addr, out: &mut [u8; 45]) -> usize {
    struct W<'a> {
        out: &'a mut [u8; 45],
        n: usize,
    }
    impl W<'_> {
        fn byte(&mut self, b: u8) {
            if let Some(slot) = self.out.get_mut(self.n) {
                *slot = b;
                self.n += 1;
            }
        }
        fn hex(&mut self, v: u16) {
            const D: &[u8; 16] = b"0123456789abcdef";
            let mut started = false;
            for shift in [12, 8, 4, 0] {
                let d = (v >> shift) & 0xf;
                if d != 0 || started || shift == 0 {
                    started = true;
                    self.byte(D[usize::from(d)]);
                }
            }
        }
        fn dec(&mut self, v: u8) {
            if v >= 100 {
                self.byte(b'0' + v / 100);
            }
            if v >= 10 {
                self.byte(b'0' + v / 10 % 10);
            }
            self.byte(b'0' + v % 10);
        }
        fn groups(&mut self, g: &[u16]) {
            for (i, v) in g.iter().enumerate() {
                if i > 0 {
                    self.byte(b':');
                }
                self.hex(*v);
            }
        }
    }
    let mut w = W { out, n: 0 };
    if let Some(v4) = a.to_ipv4_mapped() {
        for b in b"::ffff:" {
            w.byte(*b);
        }
        for (i, o) in v4.octets().iter().enumerate() {
            if i > 0 {
                w.byte(b'.');
            }
            w.dec(*o);
        }
        return w.n;
    }
    let seg = a.segments();
    let (mut best, mut best_len, mut cur, mut cur_len) = (0, 0, 0, 0);
    for (i, &g) in seg.iter().enumerate() {
        if g == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len > 1 {
        w.groups(&seg[..best]);
        w.byte(b':');
        w.byte(b':');
        w.groups(&seg[best + best_len..]);
    } else {
        w.groups(&seg);
    }
    w.n
}

/// The canonical form of a DNS name; `None` when it is not one (empty, spaces, control
/// characters, or an internationalised name IDNA refuses).
pub fn domain(raw: &str) -> Option<Cow<'_, str>> {
    let d = raw.strip_suffix('.').unwrap_or(raw);
    if d.is_empty() {
        return None;
    }
    // One pass: refused bytes, upper case, anything not ASCII.
    let (mut upper, mut ascii) = (false, true);
    for &b in d.as_bytes() {
        if b <= b' ' || b == 0x7f {
            return None;
        }
        upper |= b.is_ascii_uppercase();
        ascii &= b.is_ascii();
    }
    if ascii {
        if upper {
            return Some(Cow::Owned(d.to_ascii_lowercase()));
        }
        return Some(Cow::Borrowed(d));
    }
    idna::domain_to_ascii(d).ok().map(Cow::Owned)
}

/// The canonical form of a URL (see the module documentation); text that does not parse as
/// an absolute URL is returned unchanged.
pub fn url(raw: &str) -> Cow<'_, str> {
    if already_canonical(raw) {
        return Cow::Borrowed(raw);
    }
    url_slow(raw)
}

/// Whether `raw` is a URL the WHATWG serialisation (with fragment and credentials dropped) would
/// give back unchanged, decided from its bytes alone — the common case in logs — so that the
/// scan does not parse and re-serialise every logged URL. Conservative: anything unusual
/// (upper case, credentials, a fragment, a port with a leading zero or the default one, a
/// numeric or punycode host, dot segments, a byte the parser would percent-encode) answers
/// `false`, and the full parser decides.
fn already_canonical(raw: &str) -> bool {
    let (rest, default_port) = if let Some(r) = raw.strip_prefix("http://") {
        (r, "80")
    } else if let Some(r) = raw.strip_prefix("https://") {
        (r, "443")
    } else {
        return false;
    };
    let Some(slash) = rest.find('/') else {
        return false;
    };
    let (authority, path) = rest.split_at(slash);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || p.starts_with('0')
            || p == default_port
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n > 65_535))
    {
        return false;
    }
    let host_ok = !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && plain_host_bytes(host.as_bytes())
        // A last label that is a number (decimal, or hex after `0x`) makes the host an IPv4
        // address, which is normalised.
        && host.rsplit('.').next().is_some_and(|last| {
            !last.bytes().all(|b| b.is_ascii_digit()) && !last.starts_with("0x")
        });
    if !host_ok {
        return false;
    }
    // Path and query: only bytes that both serialisations keep as they are, no dot segments
    // (nor anything that could be one: a `.` opening a segment, `%2e`).
    let kept = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
                    | b'?'
                    | b'%'
            )
    };
    path.bytes().all(kept)
        && path_dots_are_plain(path)
        && (memchr::memchr(b'%', path.as_bytes()).is_none()
            || (!path.contains("%2e") && !path.contains("%2E")))
}

/// In one pass over a host's bytes: only lower-case letters, digits, `-` and `.`, no `..`
/// and no `xn--` anywhere (what `already_canonical` asks of a host it keeps as it is).
fn plain_host_bytes(host: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in host.iter().enumerate() {
        let ok = b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.';
        if !ok
            || (b == b'.' && prev == b'.')
            || (b == b'x' && host.get(i + 1..i + 4) == Some(b"n--"))
        {
            return false;
        }
        prev = b;
    }
    true
}

/// Whether every `.` in `path` stands inside a segment (`a.b`, `x.html`), never as a whole
/// segment or at its start.
fn path_dots_are_plain(path: &str) -> bool {
    let mut prev = b'/';
    for b in path.bytes() {
        if b == b'.' && prev == b'/' {
            return false;
        }
        prev = b;
    }
    true
}

fn url_slow(raw: &str) -> Cow<'_, str> {
    let Ok(mut u) = url::Url::parse(raw) else {
        return Cow::Borrowed(raw);
    };
    u.set_fragment(None);
    if u.has_authority() {
        // Cannot fail on a URL with an authority.
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    let s: String = u.into();
    if s == raw {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(s)
    }
}

/// The host of a URL (canonical), if it has one.
pub fn url_host(raw: &str) -> Option<String> {
    let u = url::Url::parse(raw).ok()?;
    u.host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_as_std_reads_and_prints_them() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.0004",
            "1.2.3.00",
            "0.0.0.00",
            "1.2.3.-4",
            "",
            ".",
            "1.2.3.4.",
            "١.2.3.4",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for _ in 0..20_000 {
            let x = next();
            texts.push(std::net::Ipv4Addr::from(x as u32).to_string());
            let parts: Vec<String> = (0..4).map(|k| ((x >> (8 * k)) % 300).to_string()).collect();
            let mut t = parts.join(".");
            if x % 7 == 0 {
                t.insert(0, '0');
            }
            texts.push(t);
        }
        for t in &texts {
            assert_eq!(
                parse_ipv4(t.as_bytes()),
                t.parse::<std::net::Ipv4Addr>().ok().map(u32::from),
                "{t:?}"
            );
        }
        let mut out = [0u8; 45];
        for i in 0..50_000u64 {
            let x = next();
            let y = next();
            // Random groups, many of them zero, so that runs of zeros of every length occur.
            let mut seg = [0u16; 8];
            for (k, s) in seg.iter_mut().enumerate() {
                if (x >> (k * 3)) % 3 != 0 {
                    *s = (y >> (k * 8)) as u16 & if i % 2 == 0 { 0xffff } else { 0x0f };
                }
            }
            let mut a = std::net::Ipv6Addr::from(seg);
            if i % 11 == 0 {
                a = std::net::Ipv4Addr::from(x as u32).to_ipv6_mapped();
            }
            if i % 13 == 0 {
                a = std::net::Ipv4Addr::from(x as u32).to_ipv6_compatible();
            }
            let n = format_ipv6(a, &mut out);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), a.to_string());
        }
    }

    #[test]
    fn domains() {
        assert_eq!(domain("WWW.Example.COM.").unwrap(), "www.example.com");
        assert_eq!(domain("Bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(
            domain("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(domain("пример.рф").unwrap(), "xn--e1afmkfd.xn--p1ai");
        assert!(domain("a b").is_none());
        assert!(domain("").is_none());
        assert!(domain(".").is_none());
    }

    #[test]
    fn the_byte_check_agrees_with_the_parser() {
        let cases = [
            "http://evil.example/payload.bin?id=7",
            "https://login.phish.example/a/b.c/d?x=1&y=2",
            "http://evil.example:8080/x",
            "http://evil.example:80/x",
            "https://evil.example:443/x",
            "http://evil.example:080/x",
            "http://evil.example:99999/x",
            "http://evil.example:/x",
            "http://Evil.example/x",
            "HTTP://evil.example/x",
            "http://evil.example",
            "http://u:p@evil.example/x",
            "http://evil.example/x#frag",
            "http://evil.example/a/../b",
            "http://evil.example/a/./b",
            "http://evil.example/a/%2e%2E/b",
            "http://evil.example/.hidden",
            "http://evil.example/a b",
            "http://evil.example/a'b?c'd",
            "http://evil.example/a\\b",
            "http://evil.example/a|b^c[d]{e}`f",
            "http://evil.example/%zz%c3%A4",
            "http://192.168.001.1/x",
            "http://10.1/x",
            "http://0x7f.1/x",
            "http://host.0x1f/x",
            "http://evil.cafe/x",
            "http://evil.de/x",
            "http://xn--bcher-kva.example/x",
            "http://xn--invalid-.example/x",
            "http://evil..example/x",
            "http://.evil.example/x",
            "http://evil.example./x",
            "http://a-b.example/x?q=a:b@c/d%20e",
            "ftp://evil.example/x",
        ];
        for raw in cases {
            let fast = already_canonical(raw);
            let slow = url_slow(raw);
            if fast {
                assert_eq!(
                    slow, raw,
                    "{raw}: the byte check says canonical, the parser disagrees"
                );
            }
            assert_eq!(url(raw), slow, "{raw}");
        }
        assert!(already_canonical("http://evil.example/payload.bin?id=7"));
        assert!(already_canonical("http://evil.de:8080/a.b/c?d=e"));
    }

    /// Generated URLs from an alphabet of the bytes that matter (case, dots, ports, credentials,
    /// encodings, separators): whenever the byte check says canonical, the parser agrees.
    #[test]
    fn the_byte_check_agrees_with_the_parser_on_generated_urls() {
        const PARTS: &[&str] = &[
            "a", "B", "0", "9", "x", "f", "-", ".", "..", "/", "./", "../", "%2e", "%41", "%", "?",
            "#", "@", ":", ":80", ":443", ":8080", ":0", "'", "\\", " ", "\t", "~", "xn--", "é",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n as u64).unwrap()
        };
        let mut fast = 0;
        for _ in 0..200_000 {
            let mut raw = String::from(["http://", "https://"][next(2)]);
            for _ in 0..1 + next(12) {
                raw.push_str(PARTS[next(PARTS.len())]);
            }
            if next(2) == 0 {
                raw.insert_str(raw.find("//").unwrap() + 2, "evil.example");
            }
            if already_canonical(&raw) {
                fast += 1;
                assert_eq!(url_slow(&raw), raw, "{raw:?}");
            }
        }
        assert!(
            fast > 500,
            "the generator reaches the fast path ({fast} times)"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            url("HTTP://User:Pw@Evil.Example:80/a/../b?q=1#frag"),
            "http://evil.example/b?q=1"
        );
        assert_eq!(
            url("http://evil.example:8080/x"),
            "http://evil.example:8080/x"
        );
        assert_eq!(url("http://evil.example"), "http://evil.example/");
        assert_eq!(
            url("https://bücher.example/päth"),
            "https://xn--bcher-kva.example/p%C3%A4th"
        );
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(
            url_host("http://[2001:db8::1]:8080/").unwrap(),
            "2001:db8::1"
        );
    }
}
