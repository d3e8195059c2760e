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

/// The canonical form of a DNS name; `None` when it is not one (empty, spaces, control
/// characters, or an internationalised name IDNA refuses).
pub fn domain(raw: &str) -> Option<Cow<'_, str>> {
    let d = raw.strip_suffix('.').unwrap_or(raw);
    if d.is_empty() || d.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    if d.is_ascii() {
        if d.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(Cow::Owned(d.to_ascii_lowercase()));
        }
        return Some(Cow::Borrowed(d));
    }
    idna::domain_to_ascii(d).ok().map(Cow::Owned)
}

/// The canonical form of a URL (see the module documentation); text that does not parse as
/// an absolute URL is returned unchanged.
pub fn url(raw: &str) -> Cow<'_, str> {
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
