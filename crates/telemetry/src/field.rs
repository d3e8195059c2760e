//! The fields a record can carry: a closed vocabulary named after the Elastic Common Schema,
//! each with the STIX object path(s) it stands for and the normalisation its values get.

use std::fmt;

/// What kind of value a field holds, which decides how it is normalised when it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// An IPv4 or IPv6 address, stored in canonical text (RFC 5952 for IPv6).
    Ip,
    /// A non-negative integer (port, size), stored as decimal digits without leading zeros.
    Integer,
    /// A DNS name, stored in lower case without a trailing dot.
    Domain,
    /// A hex digest of the given length in hex digits, stored in lower case without colons.
    Hash(u8),
    /// Any other text, stored as given.
    Text,
}

/// Which STIX cyber-observable object a field belongs to in the observation a record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectSlot {
    /// Its own SCO (an address, a domain name, a URL, an e-mail address): one object per value.
    Own,
    /// The record's one `network-traffic` object.
    NetworkTraffic,
    /// The record's one `file` object.
    File,
    /// The record's one `x509-certificate` object.
    Certificate,
    /// No STIX object (a helper field such as `url.path`, used to build `url.full`).
    None,
}

macro_rules! fields {
    ($( $(#[$doc:meta])* $name:ident = $ecs:literal, $kind:expr, $slot:expr, $stix:literal; )*) => {
        /// A field of an observation record. The names are ECS field names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Field {
            $( $(#[$doc])* $name, )*
        }

        impl Field {
            /// Every field.
            pub const ALL: &'static [Field] = &[ $( Field::$name, )* ];

            /// The ECS field name (`destination.ip`).
            pub fn ecs_name(self) -> &'static str {
                match self { $( Field::$name => $ecs, )* }
            }

            /// How values of this field are normalised.
            #[inline]
            pub fn kind(self) -> ValueKind {
                match self { $( Field::$name => $kind, )* }
            }

            /// The STIX object this field belongs to.
            #[inline]
            pub fn slot(self) -> ObjectSlot {
                match self { $( Field::$name => $slot, )* }
            }

            /// The STIX object type and property path (`file:hashes.'SHA-256'`) the value stands
            /// for; empty for helper fields. IP fields name the address object; the matcher also
            /// reaches them as `network-traffic:src_ref.value` / `dst_ref.value`.
            pub fn stix_path(self) -> &'static str {
                match self { $( Field::$name => $stix, )* }
            }
        }
    };
}

fields! {
    /// `source.ip`.
    SourceIp = "source.ip", ValueKind::Ip, ObjectSlot::Own, "ipv4-addr:value";
    /// `destination.ip`.
    DestinationIp = "destination.ip", ValueKind::Ip, ObjectSlot::Own, "ipv4-addr:value";
    /// `source.port`.
    SourcePort = "source.port", ValueKind::Integer, ObjectSlot::NetworkTraffic, "network-traffic:src_port";
    /// `destination.port`.
    DestinationPort = "destination.port", ValueKind::Integer, ObjectSlot::NetworkTraffic, "network-traffic:dst_port";
    /// `network.transport` (`tcp`, `udp`), lower case.
    NetworkTransport = "network.transport", ValueKind::Domain, ObjectSlot::NetworkTraffic, "network-traffic:protocols[*]";
    /// `dns.question.name`.
    DnsQuestion = "dns.question.name", ValueKind::Domain, ObjectSlot::Own, "domain-name:value";
    /// `dns.resolved_ip`: an address a DNS answer carried.
    DnsResolvedIp = "dns.resolved_ip", ValueKind::Ip, ObjectSlot::Own, "ipv4-addr:value";
    /// `url.domain` (the HTTP `Host`).
    UrlDomain = "url.domain", ValueKind::Domain, ObjectSlot::Own, "domain-name:value";
    /// `url.full`.
    UrlFull = "url.full", ValueKind::Text, ObjectSlot::Own, "url:value";
    /// `url.path` (with the query): a helper to build `url.full` when a log has host and path apart.
    UrlPath = "url.path", ValueKind::Text, ObjectSlot::None, "";
    /// `url.port` (EVE `http.http_port`): a helper to build `url.full`.
    UrlPort = "url.port", ValueKind::Integer, ObjectSlot::None, "";
    /// `user_agent.original`.
    UserAgent = "user_agent.original", ValueKind::Text, ObjectSlot::NetworkTraffic, "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'";
    /// `tls.client.server_name` (SNI).
    TlsServerName = "tls.client.server_name", ValueKind::Domain, ObjectSlot::Own, "domain-name:value";
    /// `file.name`.
    FileName = "file.name", ValueKind::Text, ObjectSlot::File, "file:name";
    /// `file.size`.
    FileSize = "file.size", ValueKind::Integer, ObjectSlot::File, "file:size";
    /// `file.hash.md5`.
    FileMd5 = "file.hash.md5", ValueKind::Hash(32), ObjectSlot::File, "file:hashes.MD5";
    /// `file.hash.sha1`.
    FileSha1 = "file.hash.sha1", ValueKind::Hash(40), ObjectSlot::File, "file:hashes.'SHA-1'";
    /// `file.hash.sha256`.
    FileSha256 = "file.hash.sha256", ValueKind::Hash(64), ObjectSlot::File, "file:hashes.'SHA-256'";
    /// `tls.server.hash.sha1`: the server certificate's SHA-1 fingerprint.
    CertSha1 = "tls.server.hash.sha1", ValueKind::Hash(40), ObjectSlot::Certificate, "x509-certificate:hashes.'SHA-1'";
    /// `tls.server.hash.sha256`: the server certificate's SHA-256 fingerprint.
    CertSha256 = "tls.server.hash.sha256", ValueKind::Hash(64), ObjectSlot::Certificate, "x509-certificate:hashes.'SHA-256'";
    /// `tls.server.x509.subject.distinguished_name`.
    CertSubject = "tls.server.x509.subject.distinguished_name", ValueKind::Text, ObjectSlot::Certificate, "x509-certificate:subject";
    /// `tls.server.x509.issuer.distinguished_name`.
    CertIssuer = "tls.server.x509.issuer.distinguished_name", ValueKind::Text, ObjectSlot::Certificate, "x509-certificate:issuer";
    /// `tls.server.x509.serial_number`.
    CertSerial = "tls.server.x509.serial_number", ValueKind::Text, ObjectSlot::Certificate, "x509-certificate:serial_number";
    /// `email.from.address`.
    EmailFrom = "email.from.address", ValueKind::Text, ObjectSlot::Own, "email-addr:value";
    /// `email.to.address`.
    EmailTo = "email.to.address", ValueKind::Text, ObjectSlot::Own, "email-addr:value";
}

impl Field {
    /// The field with this ECS name.
    pub fn from_ecs_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.ecs_name() == name)
    }

    /// Whether the field holds an IP address.
    #[inline]
    pub fn is_ip(self) -> bool {
        self.kind() == ValueKind::Ip
    }
}

/// A set of fields (one bit each): the fields a compiled indicator set can hit, which a reader
/// restricted to them reads and normalises, skipping the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldSet(u64);

impl FieldSet {
    /// No field.
    pub const EMPTY: FieldSet = FieldSet(0);

    /// Every field.
    pub fn all() -> FieldSet {
        Field::ALL.iter().fold(FieldSet::EMPTY, |s, f| s.with(*f))
    }

    /// This set and `f`.
    #[must_use]
    pub const fn with(self, f: Field) -> FieldSet {
        FieldSet(self.0 | 1u64 << f as u8)
    }

    /// Adds a field.
    pub fn insert(&mut self, f: Field) {
        *self = self.with(f);
    }

    /// Adds every field of `other`.
    pub fn extend(&mut self, other: FieldSet) {
        self.0 |= other.0;
    }

    /// Whether `f` is in the set.
    #[inline]
    pub const fn contains(self, f: Field) -> bool {
        self.0 & (1u64 << f as u8) != 0
    }

    /// Whether the set holds every field.
    pub fn is_all(self) -> bool {
        self == FieldSet::all()
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The fields of the set, in [`Field::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL
            .iter()
            .copied()
            .filter(move |f| self.contains(*f))
    }

    /// The set a reader must read so that records hold every field of `self` as the general
    /// reader would fill it: `url.full` is built from `url.domain`, `url.path` and a port when a
    /// log has them apart ([`crate::Record::finish`]).
    #[must_use]
    pub fn with_helpers(self) -> FieldSet {
        if self.contains(Field::UrlFull) {
            self.with(Field::UrlDomain)
                .with(Field::UrlPath)
                .with(Field::UrlPort)
                .with(Field::DestinationPort)
        } else {
            self
        }
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> Self {
        iter.into_iter().fold(FieldSet::EMPTY, FieldSet::with)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ecs_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets() {
        assert!(Field::ALL.len() <= 64);
        let s: FieldSet = [Field::UrlFull, Field::FileMd5].into_iter().collect();
        assert!(s.contains(Field::UrlFull) && !s.contains(Field::UrlPath));
        assert_eq!(s.iter().count(), 2);
        let h = s.with_helpers();
        assert!(h.contains(Field::UrlPath) && h.contains(Field::DestinationPort));
        assert!(FieldSet::all().is_all() && !s.is_all() && FieldSet::EMPTY.is_empty());
    }

    #[test]
    fn ecs_names_are_unique_and_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::from_ecs_name(f.ecs_name()), Some(*f));
        }
        assert_eq!(Field::from_ecs_name("no.such"), None);
    }
}
