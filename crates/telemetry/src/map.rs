//! Field maps: which source name (a dotted JSON path, a CSV column) fills which record field.

use hashbrown::{HashMap, HashSet};

use crate::field::Field;

/// What a source name feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A record field; a value that does not fit is reported.
    Field(Field),
    /// A record field, only when the value is an IP address (DNS answers also carry names);
    /// other values are skipped silently.
    IfIp(Field),
    /// The observation time.
    Timestamp,
}

/// Source names → targets. JSON paths join object keys with `.` and ignore array positions
/// (`dns.answers.data` reaches every answer's `data`); dotted keys (`"source.ip": …`) reach the
/// same path as nested objects.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    targets: HashMap<Box<str>, Target>,
    prefixes: HashSet<Box<str>>,
}

/// A bad entry in a field-map specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field map entry `{entry}`: {reason}")]
pub struct MapError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Elastic Common Schema: every field under its ECS name, `@timestamp`, and the ECS aliases
    /// `client.ip`, `server.ip`, `dns.answers.data`.
    pub fn ecs() -> Self {
        let mut m = FieldMap::new();
        for f in Field::ALL {
            m.insert(f.ecs_name(), Target::Field(*f));
        }
        m.insert("@timestamp", Target::Timestamp);
        m.insert("client.ip", Target::Field(Field::SourceIp));
        m.insert("server.ip", Target::Field(Field::DestinationIp));
        m.insert("client.port", Target::Field(Field::SourcePort));
        m.insert("server.port", Target::Field(Field::DestinationPort));
        m.insert("dns.answers.data", Target::IfIp(Field::DnsResolvedIp));
        m
    }

    /// Suricata EVE JSON (`dns` v1–v3, `http`, `tls`, `flow`, `fileinfo`, `alert`).
    pub fn eve() -> Self {
        use Field as F;
        let mut m = FieldMap::new();
        m.insert("timestamp", Target::Timestamp);
        for (path, field) in [
            ("src_ip", F::SourceIp),
            ("dest_ip", F::DestinationIp),
            ("src_port", F::SourcePort),
            ("dest_port", F::DestinationPort),
            ("proto", F::NetworkTransport),
            ("dns.rrname", F::DnsQuestion),
            ("dns.queries.rrname", F::DnsQuestion),
            ("http.hostname", F::UrlDomain),
            ("http.url", F::UrlPath),
            ("http.http_port", F::UrlPort),
            ("http.http_user_agent", F::UserAgent),
            ("tls.sni", F::TlsServerName),
            ("tls.fingerprint", F::CertSha1),
            ("tls.subject", F::CertSubject),
            ("tls.issuerdn", F::CertIssuer),
            ("tls.serial", F::CertSerial),
            ("fileinfo.filename", F::FileName),
            ("fileinfo.md5", F::FileMd5),
            ("fileinfo.sha1", F::FileSha1),
            ("fileinfo.sha256", F::FileSha256),
            ("fileinfo.size", F::FileSize),
        ] {
            m.insert(path, Target::Field(field));
        }
        m.insert("dns.rdata", Target::IfIp(F::DnsResolvedIp));
        m.insert("dns.answers.rdata", Target::IfIp(F::DnsResolvedIp));
        m
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, name: &str, target: Target) {
        let mut end = 0;
        while let Some(dot) = name[end..].find('.') {
            end += dot;
            self.prefixes.insert(name[..end].into());
            end += 1;
        }
        self.targets.insert(name.into(), target);
    }

    /// Adds entries from `source=ecs.field` pairs separated by commas (`src=source.ip,ts=@timestamp`).
    pub fn extend_from_spec(&mut self, spec: &str) -> Result<(), MapError> {
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let err = |reason: &str| MapError {
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            let (source, target) = entry
                .split_once('=')
                .ok_or_else(|| err("expected source=field"))?;
            let (source, target) = (source.trim(), target.trim());
            if source.is_empty() {
                return Err(err("the source name is empty"));
            }
            let t = if target == "@timestamp" {
                Target::Timestamp
            } else {
                Target::Field(Field::from_ecs_name(target).ok_or_else(|| {
                    err("unknown field (expected an ECS name such as destination.ip, or @timestamp)")
                })?)
            };
            self.insert(source, t);
        }
        Ok(())
    }

    /// The target of a full name.
    pub fn get(&self, name: &str) -> Option<Target> {
        self.targets.get(name).copied()
    }

    /// Every source name of the map.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.targets.keys().map(|k| &**k)
    }

    /// Whether some entry lies below this name (so a JSON object there must be walked).
    pub fn is_prefix(&self, name: &str) -> bool {
        self.prefixes.contains(name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spec() {
        let mut m = FieldMap::new();
        m.extend_from_spec("a.b.c=source.ip, ts=@timestamp")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.get("a.b.c"), Some(Target::Field(Field::SourceIp)));
        assert_eq!(m.get("ts"), Some(Target::Timestamp));
        assert!(m.is_prefix("a") && m.is_prefix("a.b") && !m.is_prefix("a.b.c"));
        let e = m.extend_from_spec("x=nope").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(m.extend_from_spec("x").is_err());
    }
}
