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
        }
    }

    pub(crate) fn restrict(&mut self, needed: FieldSet) {
        self.needed = needed;
        self.plan();
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
        let attempts = match self.single_bytes() {
            Some((sep, set_sep)) if !self.needed.is_all() => {
                self.read_wanted(line, rec, sep, set_sep)?
            }
            _ => self.read_fields(line, rec, &self.acts)?,
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
        // `col` starts at byte `at`; `None` once the line has no more columns.
        let mut col = 0usize;
        let mut at = Some(0usize);
        for &(want, act) in &self.wanted {
            // Move to column `want`.
            while col < want {
                let Some(start) = at else { break };
                at = memchr::memchr(sep, &b[start..]).map(|p| start + p + 1);
                col += 1;
            }
            let Some(start) = at else { break };
            let end = memchr::memchr(sep, &b[start..]).map_or(b.len(), |p| start + p);
            // Both ends are at an ASCII separator or the line's ends: character boundaries.
            let value = line.get(start..end).unwrap_or("");
            at = (end < b.len()).then_some(end + 1);
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
            Some(start) => col + 1 + memchr::memchr_iter(sep, &b[start..]).count(),
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
