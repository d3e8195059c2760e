//! Zeek TSV logs (`conn`, `dns`, `http`, `files`, `ssl`, `x509`), read from their own header
//! (`#separator`, `#set_separator`, `#unset_field`, `#empty_field`, `#path`, `#fields`).

use crate::field::Field;
use crate::record::Record;
use crate::time::parse_epoch_seconds;

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

/// Header state of one Zeek log.
#[derive(Debug, Clone)]
pub(crate) struct ZeekState {
    separator: String,
    set_separator: String,
    unset: String,
    empty: String,
    columns: Vec<Column>,
    have_fields: bool,
}

impl Default for ZeekState {
    fn default() -> Self {
        ZeekState {
            separator: "\t".into(),
            set_separator: ",".into(),
            unset: "-".into(),
            empty: "(empty)".into(),
            columns: Vec::new(),
            have_fields: false,
        }
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

impl ZeekState {
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
        let mut n = 0;
        for (i, value) in line.split(self.separator.as_str()).enumerate() {
            n = i + 1;
            let Some(&col) = self.columns.get(i) else {
                continue;
            };
            if col == Column::Ignore || value == self.unset || value == self.empty {
                continue;
            }
            match col {
                Column::Ignore => {}
                Column::Ts => rec.set_timestamp(parse_epoch_seconds(value)),
                Column::One(f) => {
                    let _ = rec.push(f, value);
                }
                Column::Set(f) => {
                    for v in value.split(self.set_separator.as_str()) {
                        let _ = rec.push(f, v);
                    }
                }
                Column::IpSet(f) => {
                    for v in value.split(self.set_separator.as_str()) {
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
        Ok(true)
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
                self.columns = value.split(self.separator.as_str()).map(column).collect();
                self.have_fields = true;
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
