//! The observation record: a reusable buffer of normalised field values.
//!
//! A reader clears and refills one `Record` per line; its text buffer and entry list keep their
//! capacity, so a scan allocates nothing per record once the buffers have grown.

use crate::field::{Field, FieldSet, ObjectSlot, ValueKind};

/// At most this many values are kept per record; more are counted as rejected. The matcher's
/// per-record object bitmasks rely on it (one bit per value plus three shared objects).
pub const MAX_VALUES: usize = 60;

/// Why a value was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not an IPv4 or IPv6 address.
    #[error("is not an IP address")]
    NotIp,
    /// Not a non-negative integer.
    #[error("is not a non-negative integer")]
    NotInteger,
    /// Not a DNS name (empty, or with spaces or control characters).
    #[error("is not a DNS name")]
    NotDomain,
    /// Not a hex digest of the expected length.
    #[error("is not a hex digest of the expected length")]
    NotHash,
    /// The record already holds [`MAX_VALUES`] values.
    #[error("exceeds the limit of values per record")]
    TooMany,
}

/// One stored value: its field, where its text sits in the record's buffer and, for addresses
/// and digests, where its binary form sits (4 or 16 bytes of address in network order, the
/// digest's bytes), so that the matcher looks them up without parsing the text again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The field.
    pub field: Field,
    start: u32,
    end: u32,
    bin: u32,
    bin_len: u8,
}

/// Timestamp text kept as it is, parsed only when asked ([`Record::timestamp`]): most records
/// never are (only hits' times are read), and parsing costs more than copying a few bytes.
const TS_TEXT: usize = 32;

/// A record's time: none, known, or text to parse when asked.
#[derive(Debug, Default, Clone, Copy)]
enum Timestamp {
    #[default]
    None,
    Known(i64),
    /// `ts_text[..len]`, parsed by [`crate::time::parse_epoch_seconds`] (`epoch`) or
    /// [`crate::time::parse_timestamp`].
    Text {
        len: u8,
        epoch: bool,
    },
}

/// One observation: normalised field values and an optional time.
#[derive(Debug, Default, Clone)]
pub struct Record {
    buf: String,
    /// Reused while building `url.full`.
    scratch: String,
    bin: Vec<u8>,
    entries: Vec<Entry>,
    /// The fields of `entries`: whether a field is held is one bit test, not a walk.
    present: FieldSet,
    timestamp: Timestamp,
    /// The text of a timestamp not parsed yet ([`Timestamp::Text`]).
    ts_text: [u8; TS_TEXT],
    rejected: Option<(Field, Rejected)>,
    rejected_count: u32,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the record, keeping its buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.bin.clear();
        self.entries.clear();
        self.present = FieldSet::EMPTY;
        self.timestamp = Timestamp::None;
        self.rejected = None;
        self.rejected_count = 0;
    }

    /// Normalises and stores a value. Empty values are ignored (`Ok`). A value that does not fit
    /// the field's kind is not stored; the first such value is remembered for the diagnostic.
    pub fn push(&mut self, field: Field, raw: &str) -> Result<(), Rejected> {
        let raw = trim(raw);
        if raw.is_empty() {
            return Ok(());
        }
        let r = self.push_inner(field, raw, None);
        self.note(field, r)
    }

    /// [`Record::push`] of an address value already parsed as the IPv4 address `a` (the
    /// text is its only spelling, so needs no trimming): the same outcome, without parsing
    /// the text again.
    #[inline]
    pub(crate) fn push_ipv4(&mut self, field: Field, text: &str, a: u32) -> Result<(), Rejected> {
        let r = self.push_inner(field, text, Some(a));
        self.note(field, r)
    }

    #[inline]
    fn note(&mut self, field: Field, r: Result<(), Rejected>) -> Result<(), Rejected> {
        if let Err(why) = r {
            self.rejected_count += 1;
            if self.rejected.is_none() {
                self.rejected = Some((field, why));
            }
        }
        r
    }

    fn push_inner(&mut self, field: Field, raw: &str, v4: Option<u32>) -> Result<(), Rejected> {
        // A `file`, `x509-certificate` or `network-traffic` object has one value per property
        // (the transport is a list): keep the first.
        if field.slot() != ObjectSlot::Own
            && field != Field::NetworkTransport
            && self.present.contains(field)
        {
            return Ok(());
        }
        if self.entries.len() >= MAX_VALUES {
            return Err(Rejected::TooMany);
        }
        let start = self.buf.len();
        let bin = self.bin.len();
        match field.kind() {
            ValueKind::Ip => {
                if let Some(a) = v4.or_else(|| crate::canon::parse_ipv4(raw.as_bytes())) {
                    // The only spelling the strict parser accepts is the canonical one.
                    self.buf.push_str(raw);
                    self.bin.extend_from_slice(&a.to_be_bytes());
                } else {
                    let a: std::net::Ipv6Addr = raw.parse().map_err(|_| Rejected::NotIp)?;
                    let mut text = [0u8; 45];
                    let n = crate::canon::format_ipv6(a, &mut text);
                    self.buf
                        .push_str(std::str::from_utf8(&text[..n]).map_err(|_| Rejected::NotIp)?);
                    self.bin.extend_from_slice(&a.octets());
                }
            }
            ValueKind::Integer => {
                if raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Rejected::NotInteger);
                }
                // All ASCII digits: any byte offset is a character boundary.
                let zeros = raw.bytes().take_while(|&b| b == b'0').count();
                let trimmed = raw.get(zeros..).unwrap_or("");
                self.buf
                    .push_str(if trimmed.is_empty() { "0" } else { trimmed });
            }
            ValueKind::Domain => {
                let d = crate::canon::domain(raw).ok_or(Rejected::NotDomain)?;
                self.buf.push_str(&d);
            }
            ValueKind::Hash(len) => {
                if !push_hex(&mut self.buf, &mut self.bin, raw, usize::from(len)) {
                    self.buf.truncate(start);
                    self.bin.truncate(bin);
                    return Err(Rejected::NotHash);
                }
            }
            ValueKind::Text if field == Field::UrlFull => {
                self.buf.push_str(&crate::canon::url(raw))
            }
            ValueKind::Text => self.buf.push_str(raw),
        }
        self.entries.push(Entry {
            field,
            start: offset(start),
            end: offset(self.buf.len()),
            bin: offset(bin),
            bin_len: (self.bin.len() - bin) as u8,
        });
        self.present.insert(field);
        Ok(())
    }

    /// Stores an integer value (from a JSON number).
    pub fn push_u64(&mut self, field: Field, n: u64) -> Result<(), Rejected> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let text = std::str::from_utf8(&digits[i..]).expect("ASCII digits");
        self.push(field, text)
    }

    /// Completes a record after its fields were read: builds `url.full` from `url.domain` and
    /// `url.path` when the log gave them apart (Zeek `http.log`, EVE `http`). The URL is
    /// `http://`, the host, `:port` (from `url.port`, else `destination.port`; none when the
    /// host already has one, or for 80), and the path; or the path itself when it is an
    /// absolute URL (a proxy-form request line, `GET http://host/path`). Then it is
    /// normalised as every URL is ([`crate::canon::url`]).
    pub fn finish(&mut self) {
        // Most records have no host and path to build from: three bit tests, no walk.
        if self.present.contains(Field::UrlFull)
            || !self.present.contains(Field::UrlDomain)
            || !self.present.contains(Field::UrlPath)
        {
            return;
        }
        let (Some(host), Some(path)) = (self.entry(Field::UrlDomain), self.entry(Field::UrlPath))
        else {
            return;
        };
        if self.entries.len() >= MAX_VALUES {
            return;
        }
        let (host_e, path_e) = (host, path);
        let path = self.value(&path_e);
        // Compared as bytes: a character may straddle the seventh byte (`https:é…`).
        let b = path.as_bytes();
        let absolute = b.len() >= 8
            && (b[..8].eq_ignore_ascii_case(b"https://")
                || b[..7].eq_ignore_ascii_case(b"http://"));
        // Built in a reused buffer: no allocation per record once it has grown.
        let mut full = std::mem::take(&mut self.scratch);
        full.clear();
        let (host, path) = (self.value(&host_e), self.value(&path_e));
        if absolute {
            full.push_str(path);
        } else {
            full.push_str("http://");
            // An IPv6 address always holds a colon: most hosts are not parsed at all.
            let v6 = host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_ok();
            if v6 {
                full.push('[');
                full.push_str(host);
                full.push(']');
            } else {
                full.push_str(host);
            }
            let has_port = !v6 && host.contains(':');
            if !has_port
                && let Some(port) = self
                    .get(Field::UrlPort)
                    .or_else(|| self.get(Field::DestinationPort))
                && port != "80"
            {
                full.push(':');
                full.push_str(port);
            }
            if !path.starts_with('/') {
                full.push('/');
            }
            full.push_str(path);
        }
        let start = self.buf.len();
        self.buf.push_str(&crate::canon::url(&full));
        self.scratch = full;
        self.entries.push(Entry {
            field: Field::UrlFull,
            start: offset(start),
            end: offset(self.buf.len()),
            bin: offset(self.bin.len()),
            bin_len: 0,
        });
        self.present.insert(Field::UrlFull);
    }

    #[inline]
    fn entry(&self, field: Field) -> Option<Entry> {
        if !self.present.contains(field) {
            return None;
        }
        self.entries.iter().copied().find(|e| e.field == field)
    }

    /// The stored values, in the order they were read.
    #[inline]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The text of an entry of this record.
    #[inline]
    pub fn value(&self, e: &Entry) -> &str {
        self.buf.get(e.start as usize..e.end as usize).unwrap_or("")
    }

    /// The binary form of an entry: an address's 4 or 16 bytes (network order), a digest's
    /// bytes; empty for other values.
    #[inline]
    pub fn binary(&self, e: &Entry) -> &[u8] {
        let start = e.bin as usize;
        self.bin
            .get(start..start + usize::from(e.bin_len))
            .unwrap_or(&[])
    }

    /// `(field, value)` pairs in the order they were read.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> + '_ {
        self.entries.iter().map(|e| (e.field, self.value(e)))
    }

    /// The first value of a field.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.entry(field).map(|e| self.value(&e))
    }

    /// Whether the record holds no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// When the observation happened, in nanoseconds since the Unix epoch, if the log said
    /// (text stored by [`Record::set_timestamp_text`] is parsed here, on each call).
    pub fn timestamp(&self) -> Option<i64> {
        match self.timestamp {
            Timestamp::None => None,
            Timestamp::Known(t) => Some(t),
            Timestamp::Text { len, epoch } => {
                let text = std::str::from_utf8(&self.ts_text[..usize::from(len)]).ok()?;
                if epoch {
                    crate::time::parse_epoch_seconds(text)
                } else {
                    crate::time::parse_timestamp(text)
                }
            }
        }
    }

    /// Sets the observation time.
    pub fn set_timestamp(&mut self, nanos: Option<i64>) {
        self.timestamp = nanos.map_or(Timestamp::None, Timestamp::Known);
    }

    /// Sets the observation time from its text, parsed only when [`Record::timestamp`] is
    /// asked: as decimal epoch seconds (`epoch`, Zeek's `ts`) or by
    /// [`crate::time::parse_timestamp`]. Text that does not fit the record's small buffer is
    /// parsed at once.
    pub fn set_timestamp_text(&mut self, text: &str, epoch: bool) {
        if text.len() <= TS_TEXT {
            self.ts_text[..text.len()].copy_from_slice(text.as_bytes());
            self.timestamp = Timestamp::Text {
                len: text.len() as u8,
                epoch,
            };
        } else {
            self.set_timestamp(if epoch {
                crate::time::parse_epoch_seconds(text)
            } else {
                crate::time::parse_timestamp(text)
            });
        }
    }

    /// The first value that was not stored and why, and how many were not stored.
    pub fn rejected(&self) -> Option<(Field, Rejected, u32)> {
        self.rejected.map(|(f, r)| (f, r, self.rejected_count))
    }
}

/// `raw.trim()`, without walking the text when its first and last bytes are ASCII and not
/// white space (the common case: every Unicode white space character is either ASCII at or
/// below a space or starts with a byte of 0x80 or more).
#[inline]
fn trim(raw: &str) -> &str {
    match raw.as_bytes() {
        [first, .., last] if (b'!'..0x80).contains(first) && (b'!'..0x80).contains(last) => raw,
        [only] if (b'!'..0x80).contains(only) => raw,
        _ => raw.trim(),
    }
}

/// Hex digits (colons between them allowed) → lower-case hex text in `text` and the bytes in
/// `bin`; `false` (and partial output the caller truncates) unless there are exactly `want`
/// digits.
fn push_hex(text: &mut String, bin: &mut Vec<u8>, raw: &str, want: usize) -> bool {
    let rb = raw.as_bytes();
    // The common case, `want` hex digits and nothing else: one pass over the pairs, and the
    // text appended as it is when it is already lower case.
    if rb.len() == want && want.is_multiple_of(2) && want <= 128 {
        let mut bytes = [0u8; 64];
        let mut upper = false;
        for (k, pair) in rb.chunks_exact(2).enumerate() {
            let (hi, lo) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
            if (hi | lo) > 15 {
                return false;
            }
            bytes[k] = (hi << 4) | lo;
            upper |= pair[0].is_ascii_uppercase() | pair[1].is_ascii_uppercase();
        }
        let at = text.len();
        text.push_str(raw);
        if upper {
            text[at..].make_ascii_lowercase();
        }
        bin.extend_from_slice(&bytes[..want / 2]);
        return true;
    }
    let mut digits = [0u8; 128];
    let mut n = 0;
    for &b in rb {
        if b == b':' {
            continue;
        }
        let v = HEX[usize::from(b)];
        if v == 0xff || n == want || n == digits.len() {
            return false;
        }
        digits[n] = v;
        n += 1;
    }
    if n != want || !n.is_multiple_of(2) {
        return false;
    }
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    // Built on the stack, then appended once each (not a character at a time).
    let mut hex = [0u8; 128];
    let mut bytes = [0u8; 64];
    for (k, pair) in digits[..n].chunks_exact(2).enumerate() {
        hex[2 * k] = LOWER[usize::from(pair[0])];
        hex[2 * k + 1] = LOWER[usize::from(pair[1])];
        bytes[k] = (pair[0] << 4) | pair[1];
    }
    match std::str::from_utf8(&hex[..n]) {
        Ok(h) => text.push_str(h),
        Err(_) => return false,
    }
    bin.extend_from_slice(&bytes[..n / 2]);
    true
}

/// Hex digit values; `0xff` for every other byte.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn offset(n: usize) -> u32 {
    // A line longer than 4 GiB never reaches a record: readers split lines first and refuse
    // lines above their limit.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(field: Field, raw: &str, want: Result<&str, Rejected>) {
        let mut r = Record::new();
        let got = r
            .push(field, raw)
            .map(|()| r.get(field).unwrap_or("").to_owned());
        assert_eq!(got.as_deref().map_err(|e| *e), want, "{field} {raw:?}");
    }

    #[test]
    fn normalisation() {
        check(Field::SourceIp, " 10.0.0.1 ", Ok("10.0.0.1"));
        check(Field::SourceIp, "2001:DB8:0:0::1", Ok("2001:db8::1"));
        check(Field::SourceIp, "10.0.0", Err(Rejected::NotIp));
        check(Field::SourcePort, "0080", Ok("80"));
        check(Field::SourcePort, "0", Ok("0"));
        check(Field::SourcePort, "-1", Err(Rejected::NotInteger));
        check(
            Field::DnsQuestion,
            "WWW.Example.COM.",
            Ok("www.example.com"),
        );
        check(Field::DnsQuestion, "a b", Err(Rejected::NotDomain));
        check(
            Field::CertSha1,
            "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
            Ok("abcdef0123456789abcdef0123456789abcdef01"),
        );
        check(Field::FileMd5, "abc", Err(Rejected::NotHash));
        check(Field::FileName, "Ünïcode.exe", Ok("Ünïcode.exe"));
    }

    #[test]
    fn urls_with_ports_proxy_form_and_idn() {
        let full = |fields: &[(Field, &str)]| {
            let mut r = Record::new();
            for (f, v) in fields {
                r.push(*f, v).unwrap();
            }
            r.finish();
            r.get(Field::UrlFull).map(str::to_owned)
        };
        use Field as F;
        assert_eq!(
            full(&[
                (F::UrlDomain, "evil.example"),
                (F::UrlPath, "/a"),
                (F::UrlPort, "8080")
            ]),
            Some("http://evil.example:8080/a".into())
        );
        assert_eq!(
            full(&[
                (F::UrlDomain, "evil.example"),
                (F::UrlPath, "/a"),
                (F::DestinationPort, "8080")
            ]),
            Some("http://evil.example:8080/a".into())
        );
        assert_eq!(
            full(&[
                (F::UrlDomain, "evil.example"),
                (F::UrlPath, "/a"),
                (F::DestinationPort, "80")
            ]),
            Some("http://evil.example/a".into())
        );
        assert_eq!(
            full(&[
                (F::UrlDomain, "evil.example:8081"),
                (F::UrlPath, "/a"),
                (F::DestinationPort, "3128")
            ]),
            Some("http://evil.example:8081/a".into())
        );
        // Proxy form: the request line carries the absolute URL.
        assert_eq!(
            full(&[
                (F::UrlDomain, "evil.example"),
                (F::UrlPath, "http://Evil.Example:8080/x#f"),
                (F::DestinationPort, "3128")
            ]),
            Some("http://evil.example:8080/x".into())
        );
        assert_eq!(
            full(&[(F::UrlFull, "http://u:p@evil.example/x#frag")]),
            Some("http://evil.example/x".into())
        );
        assert_eq!(
            full(&[(F::UrlDomain, "2001:db8::1"), (F::UrlPath, "/")]),
            Some("http://[2001:db8::1]/".into())
        );
        // A character across the seventh byte of the path is no panic.
        assert_eq!(
            full(&[(F::UrlDomain, "evil.example"), (F::UrlPath, "https:é/x")]),
            Some("http://evil.example/https:%C3%A9/x".into())
        );
        let mut r = Record::new();
        r.push(F::DnsQuestion, "Bücher.Example.").unwrap();
        assert_eq!(r.get(F::DnsQuestion), Some("xn--bcher-kva.example"));
    }

    #[test]
    fn reuse_and_url_synthesis() {
        let mut r = Record::new();
        r.push(Field::UrlDomain, "Evil.Example").unwrap();
        r.push(Field::UrlPath, "/päth?q=1").unwrap();
        assert!(r.push(Field::SourceIp, "nope").is_err());
        r.finish();
        assert_eq!(
            r.get(Field::UrlFull),
            Some("http://evil.example/p%C3%A4th?q=1")
        );
        assert_eq!(r.rejected(), Some((Field::SourceIp, Rejected::NotIp, 1)));
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.rejected(), None);
        for i in 0..MAX_VALUES {
            r.push(Field::DnsQuestion, &format!("f{i}")).unwrap();
        }
        assert_eq!(
            r.push(Field::DnsQuestion, "one-too-many"),
            Err(Rejected::TooMany)
        );
    }
}
