//! Zeek TSV logs (`conn`, `dns`, `http`, `files`, `ssl`, `x509`), read from their own header
//! (`#separator`, `#set_separator`, `#unset_field`, `#empty_field`, `#path`, `#fields`).

use crate::field::{Field, FieldSet};
use crate::record::{MAX_VALUES, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Ignore,
    Ts,
    One(Field),
    /// A Zeek `set`/`vector`: every element.
    Set(Field),
    /// A set of DNS answers: the elements that are addresses.
    IpSet(Field),
    /// A vector whose first element is the one wanted (`cert_chain_fps`: the server certificate).
    First(Field),
    /// A certificate fingerprint whose hash is told by its length.
    CertFingerprint,
}

/// The column names this reader knows, across the six log types.
fn column(name: &str) -> Column {
    use Column::*;
    use Field as F;
    match name {
        "ts" => Ts,
        "id.orig_h" => One(F::SourceIp),
        "id.resp_h" => One(F::DestinationIp),
        "id.orig_p" => One(F::SourcePort),
        "id.resp_p" => One(F::DestinationPort),
        "proto" => One(F::NetworkTransport),
        "query" => One(F::DnsQuestion),
        "answers" => IpSet(F::DnsResolvedIp),
        "host" => One(F::UrlDomain),
        "uri" => One(F::UrlPath),
        "user_agent" => One(F::UserAgent),
        "server_name" => One(F::TlsServerName),
        "subject" | "certificate.subject" => One(F::CertSubject),
        "issuer" | "certificate.issuer" => One(F::CertIssuer),
        "certificate.serial" => One(F::CertSerial),
        "fingerprint" => CertFingerprint,
        "cert_chain_fps" => First(F::CertSha256),
        "filename" => One(F::FileName),
        "md5" => One(F::FileMd5),
        "sha1" => One(F::FileSha1),
        "sha256" => One(F::FileSha256),
        "total_bytes" => One(F::FileSize),
        "tx_hosts" => Set(F::SourceIp),
        "rx_hosts" => Set(F::DestinationIp),
        _ => Ignore,
    }
}

/// What the reader does with one column, decided once per `#fields` header and field set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Not looked at (an unknown column).
    Skip,
    /// The time stamp: its text is kept, parsed only when asked.
    Ts,
    /// A known column whose field is not needed: not read, only counted (one value).
    Count,
    /// A set column whose field is not needed: its elements are counted.
    CountSet,
    /// Read and stored.
    Read(Column),
}

/// Header state of one Zeek log.
#[derive(Debug, Clone)]
pub(crate) struct ZeekState {
    separator: String,
    set_separator: String,
    unset: String,
    empty: String,
    columns: Vec<Column>,
    /// Per column, what to do with it for `needed`.
    acts: Vec<Act>,
    /// The columns looked at (every act but [`Act::Skip`] and [`Act::Count`]), in order: what
    /// the fast path reads, the other columns only counted.
    wanted: Vec<(usize, Act)>,
    /// How many columns are [`Act::Count`] or [`Act::Ts`]: an upper bound of the values they
    /// would offer the record (the general reader's count, against [`MAX_VALUES`]).
    counted: usize,
    have_fields: bool,
    /// The fields stored; the others are counted, not read.
    needed: FieldSet,
    /// The separators as bytes when the restricted path applies (see
    /// [`ZeekState::single_bytes`]; `needed` is not every field): decided when the header or
    /// the fields change, not per line.
    fast: Option<(u8, u8)>,
}

impl Default for ZeekState {
    fn default() -> Self {
        ZeekState::new(FieldSet::all())
    }
}

/// `\x09` → a tab; other text as is.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            {
                out.push(char::from(v));
                i += 4;
                continue;
            }
        }
        let c = s[i..].chars().next().expect("i is on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The actions for `columns` when `needed` are the fields stored.
fn acts(columns: &[Column], needed: FieldSet) -> Vec<Act> {
    columns
        .iter()
        .map(|&col| {
            let field = match col {
                Column::Ignore => return Act::Skip,
                Column::Ts => return Act::Ts,
                Column::One(f) | Column::Set(f) | Column::IpSet(f) | Column::First(f) => Some(f),
                Column::CertFingerprint => None,
            };
            let wanted = match field {
                Some(f) => needed.contains(f),
                None => needed.contains(Field::CertSha1) || needed.contains(Field::CertSha256),
            };
            match col {
                _ if wanted => Act::Read(col),
                Column::Set(_) | Column::IpSet(_) => Act::CountSet,
                _ => Act::Count,
            }
        })
        .collect()
}

impl ZeekState {
    /// A reader storing only the fields of `needed`.
    pub(crate) fn new(needed: FieldSet) -> ZeekState {
        ZeekState {
            separator: "\t".into(),
            set_separator: ",".into(),
            unset: "-".into(),
            empty: "(empty)".into(),
            columns: Vec::new(),
            acts: Vec::new(),
            wanted: Vec::new(),
            counted: 0,
            have_fields: false,
            needed,
            fast: None,
        }
        .planned()
    }

    fn planned(mut self) -> ZeekState {
        self.refresh_fast();
        self
    }

    fn refresh_fast(&mut self) {
        self.fast = self.single_bytes().filter(|_| !self.needed.is_all());
    }

    pub(crate) fn restrict(&mut self, needed: FieldSet) {
        self.needed = needed;
        self.plan();
        self.refresh_fast();
    }

    fn plan(&mut self) {
        self.acts = acts(&self.columns, self.needed);
        let counted = |a: &&Act| matches!(a, Act::Count | Act::Ts);
        self.counted = self.acts.iter().filter(counted).count();
        self.wanted = self
            .acts
            .iter()
            .enumerate()
            .filter(|(_, a)| !matches!(a, Act::Skip | Act::Count))
            .map(|(i, a)| (i, *a))
            .collect();
    }

    /// The separators as single ASCII bytes, when both are (Zeek's own `\t` and `,`): the
    /// fast path's condition.
    fn single_bytes(&self) -> Option<(u8, u8)> {
        match (self.separator.as_bytes(), self.set_separator.as_bytes()) {
            ([a], [b]) if a.is_ascii() && b.is_ascii() => Some((*a, *b)),
            _ => None,
        }
    }

    /// Reads one line. `Ok(true)`: a record was produced; `Ok(false)`: a header or blank line.
    pub(crate) fn read_line(&mut self, line: &str, rec: &mut Record) -> Result<bool, String> {
        rec.clear();
        if line.is_empty() {
            return Ok(false);
        }
        if let Some(rest) = line.strip_prefix('#') {
            self.header(rest)?;
            return Ok(false);
        }
        if !self.have_fields {
            return Err("data line before the #fields header".into());
        }
        let attempts = match self.fast {
            Some((sep, set_sep)) => self.read_wanted(line, rec, sep, set_sep)?,
            None => self.read_fields(line, rec, &self.acts)?,
        };
        // So many values that the per-record limit could decide which are kept: read them
        // all, as the general reader does. (The columns not read count as one value each, an
        // upper bound: reading everything is never wrong, only slower.)
        if attempts + self.counted >= MAX_VALUES && !self.needed.is_all() {
            let all = acts(&self.columns, FieldSet::all());
            rec.clear();
            self.read_fields(line, rec, &all)?;
        }
        Ok(true)
    }

    /// Reads the columns of a data line by `acts`; returns how many values were offered to the
    /// record (read, or counted in a set column not read).
    fn read_fields(&self, line: &str, rec: &mut Record, acts: &[Act]) -> Result<usize, String> {
        let mut n = 0;
        let mut attempts = 0;
        let sep1 = match self.separator.as_bytes() {
            [b] if b.is_ascii() => Some(*b),
            _ => None,
        };
        let fields = Fields {
            line,
            at: 0,
            sep1,
            sep: self.separator.as_str(),
        };
        for (i, value) in fields.enumerate() {
            n = i + 1;
            let act = match acts.get(i) {
                Some(Act::Skip | Act::Count) | None => continue,
                Some(a) => *a,
            };
            if value == self.unset || value == self.empty {
                continue;
            }
            let col = match act {
                Act::Ts => {
                    rec.set_timestamp_text(value, true);
                    continue;
                }
                Act::CountSet => {
                    attempts += value.matches(self.set_separator.as_str()).count() + 1;
                    continue;
                }
                Act::Read(col) => col,
                Act::Skip | Act::Count => continue,
            };
            attempts += 1;
            match col {
                Column::Ignore | Column::Ts => {}
                Column::One(f) => {
                    let _ = rec.push(f, value);
                }
                Column::Set(f) => {
                    for v in value.split(self.set_separator.as_str()) {
                        attempts += 1;
                        let _ = rec.push(f, v);
                    }
                }
                Column::IpSet(f) => {
                    for v in value.split(self.set_separator.as_str()) {
                        attempts += 1;
                        if v.parse::<std::net::IpAddr>().is_ok() {
                            let _ = rec.push(f, v);
                        }
                    }
                }
                Column::First(f) => {
                    if let Some(v) = value.split(self.set_separator.as_str()).next() {
                        let _ = rec.push(f, v);
                    }
                }
                Column::CertFingerprint => {
                    let f = if value.len() == 40 {
                        Field::CertSha1
                    } else {
                        Field::CertSha256
                    };
                    let _ = rec.push(f, value);
                }
            }
        }
        if n != self.columns.len() {
            rec.clear();
            return Err(format!(
                "{n} fields where the #fields header names {}",
                self.columns.len()
            ));
        }
        Ok(attempts)
    }

    /// The restricted reader's path (one-byte separators): the same values and outcome as
    /// [`ZeekState::read_fields`] with `self.acts`, reading only the columns of
    /// `self.wanted` — the line is cut at its separators up to the last of them, the
    /// separators after it only counted — and storing addresses with the integer they were
    /// checked as (a DNS answer is parsed once, not once to test it and once to store it).
    fn read_wanted(
        &self,
        line: &str,
        rec: &mut Record,
        sep: u8,
        set_sep: u8,
    ) -> Result<usize, String> {
        let b = line.as_bytes();
        let (unset, empty) = (self.unset.as_bytes(), self.empty.as_bytes());
        let mut attempts = 0;
        // One pass over the line's separators, eight bytes at a time (no call per column).
        let mut seps = Seps::new(b, sep);
        // `col` starts at byte `at`; `None` once the line has no more columns.
        let mut col = 0usize;
        let mut at = Some(0usize);
        for &(want, act) in &self.wanted {
            // Move to column `want`.
            while col < want {
                if at.is_none() {
                    break;
                }
                at = seps.next().map(|p| p + 1);
                col += 1;
            }
            let Some(start) = at else { break };
            let next = seps.next();
            let end = next.unwrap_or(b.len());
            // Both ends are at an ASCII separator or the line's ends: character boundaries.
            let value = line.get(start..end).unwrap_or("");
            at = next.map(|p| p + 1);
            col += 1;
            let vb = value.as_bytes();
            if vb == unset || vb == empty {
                continue;
            }
            let col_kind = match act {
                Act::Ts => {
                    rec.set_timestamp_text(value, true);
                    continue;
                }
                Act::CountSet => {
                    attempts += memchr::memchr_iter(set_sep, vb).count() + 1;
                    continue;
                }
                Act::Read(c) => c,
                Act::Skip | Act::Count => continue,
            };
            attempts += 1;
            match col_kind {
                Column::Ignore | Column::Ts => {}
                Column::One(f) => {
                    let _ = rec.push(f, value);
                }
                Column::Set(f) => {
                    for v in value.split(char::from(set_sep)) {
                        attempts += 1;
                        let _ = rec.push(f, v);
                    }
                }
                Column::IpSet(f) => {
                    for v in value.split(char::from(set_sep)) {
                        attempts += 1;
                        if let Some(a) = crate::canon::parse_ipv4(v.as_bytes()) {
                            let _ = rec.push_ipv4(f, v, a);
                        } else if v.contains(':') && v.parse::<std::net::Ipv6Addr>().is_ok() {
                            let _ = rec.push(f, v);
                        }
                    }
                }
                Column::First(f) => {
                    if let Some(v) = value.split(char::from(set_sep)).next() {
                        let _ = rec.push(f, v);
                    }
                }
                Column::CertFingerprint => {
                    let f = if value.len() == 40 {
                        Field::CertSha1
                    } else {
                        Field::CertSha256
                    };
                    let _ = rec.push(f, value);
                }
            }
        }
        // The columns after the last one read: counted, not cut.
        let n = match at {
            Some(_) => col + 1 + seps.count_rest(),
            None => col,
        };
        if n != self.columns.len() {
            rec.clear();
            return Err(format!(
                "{n} fields where the #fields header names {}",
                self.columns.len()
            ));
        }
        Ok(attempts)
    }

    fn header(&mut self, rest: &str) -> Result<(), String> {
        let r = self.header_line(rest);
        self.refresh_fast();
        r
    }

    fn header_line(&mut self, rest: &str) -> Result<(), String> {
        if let Some(sep) = rest.strip_prefix("separator ") {
            let sep = unescape(sep.trim_end());
            if sep.is_empty() {
                return Err("#separator names no separator".into());
            }
            self.separator = sep;
            return Ok(());
        }
        let (key, value) = rest
            .split_once(self.separator.as_str())
            .unwrap_or((rest, ""));
        match key {
            "set_separator" => self.set_separator = unescape(value),
            "unset_field" => self.unset = value.to_owned(),
            "empty_field" => self.empty = value.to_owned(),
            "fields" => {
                let columns: Vec<Column> =
                    value.split(self.separator.as_str()).map(column).collect();
                if columns.len() > MAX_COLUMNS {
                    return Err(format!(
                        "#fields names {} columns, more than the limit of {MAX_COLUMNS}",
                        columns.len()
                    ));
                }
                self.columns = columns;
                self.have_fields = true;
                self.plan();
            }
            // #path, #types, #open, #close: not needed (the column names decide).
            _ => {}
        }
        if self.set_separator.is_empty() {
            return Err("#set_separator names no separator".into());
        }
        Ok(())
    }
}

/// The positions of one separator byte in a line, found eight bytes at a time (SWAR: each
/// 64-bit word compared with the separator repeated, the bytes equal to it marked exactly by
/// their high bit), in order: the restricted reader's cut, without a search call per column.
struct Seps<'a> {
    b: &'a [u8],
    sep: u8,
    /// The separator in every byte.
    rep: u64,
    /// Where the word of `mask` starts.
    base: usize,
    /// The separators of that word not handed out yet (bit 7 of each such byte).
    mask: u64,
    /// Where the next word starts.
    next_word: usize,
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

impl<'a> Seps<'a> {
    fn new(b: &'a [u8], sep: u8) -> Seps<'a> {
        Seps {
            b,
            sep,
            rep: u64::from(sep) * 0x0101_0101_0101_0101,
            base: 0,
            mask: 0,
            next_word: 0,
        }
    }

    /// The separators among the (at most) eight bytes from `at`, as bit 7 of each.
    #[inline]
    fn word(&self, at: usize) -> u64 {
        let rest = &self.b[at..];
        let (w, valid) = match rest.first_chunk::<8>() {
            Some(c) => (u64::from_le_bytes(*c), u64::MAX),
            None => {
                let mut t = [0u8; 8];
                t[..rest.len()].copy_from_slice(rest);
                // `rest` holds 1 to 7 bytes here: the padding never counts.
                (u64::from_le_bytes(t), (1u64 << (8 * rest.len())) - 1)
            }
        };
        let x = w ^ self.rep;
        // A byte of `x` is zero (a separator) exactly when its high bit stays clear here: the
        // low seven bits plus 0x7f carry into bit 7 for any non-zero value, never beyond it.
        let y = ((x & LOW7) + LOW7) | x;
        !y & HIGH & valid
    }

    /// The next separator's position.
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next_word >= self.b.len() {
                return None;
            }
            self.base = self.next_word;
            self.mask = self.word(self.base);
            self.next_word += 8;
        }
        let p = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(p)
    }

    /// How many separators are left (and hands none out after this).
    fn count_rest(&mut self) -> usize {
        let in_word = self.mask.count_ones() as usize;
        self.mask = 0;
        let rest = self.b.get(self.next_word..).unwrap_or(&[]);
        self.next_word = self.b.len();
        in_word + memchr::memchr_iter(self.sep, rest).count()
    }
}

/// The most columns a `#fields` header may name (Zeek's own logs have a few dozen).
const MAX_COLUMNS: usize = 4096;

/// The fields of a line: split at a one-byte ASCII separator by `memchr`, else at the
/// separator text.
struct Fields<'a> {
    line: &'a str,
    at: usize,
    sep1: Option<u8>,
    sep: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.at > self.line.len() {
            return None;
        }
        let rest = &self.line[self.at..];
        let (end, skip) = match self.sep1 {
            // An ASCII separator byte is never inside a multi-byte character.
            Some(b) => match memchr::memchr(b, rest.as_bytes()) {
                Some(p) => (p, 1),
                None => (rest.len(), 1),
            },
            None => match rest.find(self.sep) {
                Some(p) => (p, self.sep.len()),
                None => (rest.len(), self.sep.len().max(1)),
            },
        };
        let v = &rest[..end];
        self.at += end + skip;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The word-at-a-time search finds exactly the bytes `memchr` finds, in order, on lines of
    /// every length up to 80 (every tail of a word), with bytes near the separator's value
    /// (its high bit set, zero, 0xff), and counts the rest as `memchr` does after any prefix.
    #[test]
    fn separators_found_eight_bytes_at_a_time_as_memchr_finds_them() {
        let mut seed = 3u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for len in 0..80 {
            for _ in 0..30 {
                let b: Vec<u8> = (0..len)
                    .map(|_| [b'\t', b'a', 0x89, 0x88, 0, 0xff, b',', 0x08, 0x0a][next() % 9])
                    .collect();
                for sep in [b'\t', b',', 0u8, 0x89] {
                    let want: Vec<usize> = memchr::memchr_iter(sep, &b).collect();
                    let mut s = Seps::new(&b, sep);
                    let got: Vec<usize> = std::iter::from_fn(|| s.next()).collect();
                    assert_eq!(got, want, "{b:?} {sep}");
                    for k in 0..=want.len() {
                        let mut s = Seps::new(&b, sep);
                        for _ in 0..k {
                            s.next();
                        }
                        assert_eq!(s.count_rest(), want.len() - k, "{b:?} {sep} after {k}");
                        assert_eq!(s.next(), None);
                    }
                }
            }
        }
    }

    #[test]
    fn dns_log_with_sets_and_unset() {
        let mut z = ZeekState::default();
        let mut rec = Record::new();
        let head = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tvector[string]";
        for l in head.lines() {
            assert!(!z.read_line(l, &mut rec).unwrap());
        }
        assert!(
            z.read_line(
                "1714564800.5\tC1\t10.0.0.1\t5353\t8.8.8.8\t53\tudp\tEvil.Example\tcname.x,1.2.3.4,::1",
                &mut rec
            )
            .unwrap()
        );
        let got: Vec<_> = rec.fields().map(|(f, v)| format!("{f}={v}")).collect();
        assert_eq!(
            got,
            [
                "source.ip=10.0.0.1",
                "source.port=5353",
                "destination.ip=8.8.8.8",
                "destination.port=53",
                "network.transport=udp",
                "dns.question.name=evil.example",
                "dns.resolved_ip=1.2.3.4",
                "dns.resolved_ip=::1"
            ]
        );
        assert_eq!(rec.timestamp(), Some(1_714_564_800_500_000_000));
        assert!(
            z.read_line("1714564800.5\tC1\t-\t-\t-\t-\t-\t-\t-", &mut rec)
                .unwrap()
        );
        assert!(rec.is_empty());
        let e = z.read_line("1714564800.5\tC1", &mut rec).unwrap_err();
        assert_eq!(e, "2 fields where the #fields header names 9");
        let mut fresh = ZeekState::default();
        assert!(fresh.read_line("1\t2", &mut rec).is_err());
    }
}
