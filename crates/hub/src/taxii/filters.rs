//! The query string of the listing endpoints: `added_after`, `limit`, `next` and `match[…]`,
//! parsed strictly. A repeated parameter, an unknown `match[…]` field, a field an endpoint does
//! not support, an empty or malformed value, or more than [`MAX_VALUES`] values is a 400.

use super::error::TaxiiError;
use crate::{store::VersionSelection, timestamps};

/// Most values one `match[…]` filter may list.
pub const MAX_VALUES: usize = 100;

/// Which filters an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Get Objects and Get Object Manifests.
    Objects,
    /// Get Object (by id).
    Object,
    /// Get Object Versions.
    Versions,
    /// Delete Object.
    Delete,
}

impl Endpoint {
    fn allows(self, field: &str) -> bool {
        match self {
            Endpoint::Objects => matches!(field, "id" | "type" | "version" | "spec_version"),
            Endpoint::Object | Endpoint::Delete => matches!(field, "version" | "spec_version"),
            // The reference server's suite passes match[version] here too; honour it (default: all).
            Endpoint::Versions => matches!(field, "version" | "spec_version"),
        }
    }
}

/// Parsed filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// `added_after` in microseconds.
    pub added_after_us: Option<i64>,
    /// `limit`.
    pub limit: Option<u32>,
    /// `next`.
    pub next: Option<String>,
    /// `match[id]`.
    pub ids: Vec<String>,
    /// `match[type]`.
    pub types: Vec<String>,
    /// `match[version]` (default `last`; for versions: all).
    pub versions: VersionSelection,
    /// `match[spec_version]`.
    pub spec_versions: Vec<String>,
    /// The filters in a canonical form (everything but `limit` and `next`), bound into cursors.
    pub canonical: String,
}

/// Whether `s` is a STIX type name.
pub fn is_type_name(s: &str) -> bool {
    (3..=250).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Whether `s` is a STIX identifier `type--uuid` (ASCII only, lower-case type).
pub fn is_object_id(s: &str) -> bool {
    match s.split_once("--") {
        Some((ty, uuid)) => {
            is_type_name(ty) && uuid.len() == 36 && uuid::Uuid::parse_str(uuid).is_ok()
        }
        None => false,
    }
}

/// The comma-separated values of a filter, exactly as given but for ASCII spaces around the
/// commas: no other character is trimmed (a trailing no-break space is part of the value, so an
/// id with one matches nothing and is refused as malformed).
fn values(field: &str, raw: &str) -> Result<Vec<String>, TaxiiError> {
    let items: Vec<String> = raw
        .split(',')
        .map(|s| s.trim_matches(' ').to_owned())
        .collect();
    if items.iter().any(String::is_empty) {
        return Err(TaxiiError::bad_request(format!(
            "match[{field}] has an empty value"
        )));
    }
    if items.len() > MAX_VALUES {
        return Err(TaxiiError::bad_request(format!(
            "match[{field}] lists more than {MAX_VALUES} values"
        )));
    }
    Ok(items)
}

/// Parses a raw query string for `endpoint`.
pub fn parse(raw: Option<&str>, endpoint: Endpoint) -> Result<Filters, TaxiiError> {
    let mut f = Filters {
        added_after_us: None,
        limit: None,
        next: None,
        ids: Vec::new(),
        types: Vec::new(),
        versions: if endpoint == Endpoint::Versions {
            VersionSelection::all()
        } else {
            VersionSelection::last()
        },
        spec_versions: Vec::new(),
        canonical: String::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut canonical: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let (key, value) = (key.into_owned(), value.into_owned());
        if seen.contains(&key) {
            return Err(TaxiiError::bad_request(format!(
                "parameter `{key}` is given more than once"
            )));
        }
        seen.push(key.clone());
        if let Some(field) = key.strip_prefix("match[").and_then(|k| k.strip_suffix(']')) {
            if !endpoint.allows(field) {
                return Err(TaxiiError::bad_request(format!(
                    "match[{field}] is not supported on this endpoint"
                )));
            }
            let items = values(field, &value)?;
            match field {
                "id" => {
                    if let Some(bad) = items.iter().find(|i| !is_object_id(i)) {
                        return Err(TaxiiError::bad_request(format!(
                            "match[id]: `{bad}` is not a STIX identifier"
                        )));
                    }
                    f.ids = items.clone();
                }
                "type" => {
                    if let Some(bad) = items.iter().find(|i| !is_type_name(i)) {
                        return Err(TaxiiError::bad_request(format!(
                            "match[type]: `{bad}` is not a STIX type"
                        )));
                    }
                    f.types = items.clone();
                }
                "version" => {
                    let mut sel = VersionSelection {
                        last: false,
                        first: false,
                        all: false,
                        exact: Vec::new(),
                    };
                    for i in &items {
                        match i.as_str() {
                            "last" => sel.last = true,
                            "first" => sel.first = true,
                            "all" => sel.all = true,
                            ts => sel.exact.push(timestamps::parse_ns(ts).ok_or_else(|| {
                                TaxiiError::bad_request(format!(
                                    "match[version]: `{ts}` is neither last, first, all nor a timestamp"
                                ))
                            })?),
                        }
                    }
                    f.versions = sel;
                }
                "spec_version" => {
                    if let Some(bad) = items
                        .iter()
                        .find(|i| i.as_str() != "2.0" && i.as_str() != "2.1")
                    {
                        return Err(TaxiiError::bad_request(format!(
                            "match[spec_version]: `{bad}` is not 2.0 or 2.1"
                        )));
                    }
                    f.spec_versions = items.clone();
                }
                other => {
                    return Err(TaxiiError::bad_request(format!(
                        "match[{other}] is not a TAXII 2.1 filter"
                    )));
                }
            }
            canonical.push((key, items.join(",")));
        } else {
            match key.as_str() {
                "added_after" => {
                    if endpoint == Endpoint::Delete {
                        return Err(TaxiiError::bad_request(
                            "added_after is not supported on this endpoint",
                        ));
                    }
                    f.added_after_us = Some(timestamps::parse_us(&value).ok_or_else(|| {
                        TaxiiError::bad_request(format!(
                            "added_after: `{value}` is not a timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)"
                        ))
                    })?);
                    canonical.push((key, value));
                }
                "limit" => {
                    if endpoint == Endpoint::Delete {
                        return Err(TaxiiError::bad_request(
                            "limit is not supported on this endpoint",
                        ));
                    }
                    let n: u32 = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        TaxiiError::bad_request(format!(
                            "limit: `{value}` is not a positive integer"
                        ))
                    })?;
                    f.limit = Some(n);
                }
                "next" => {
                    if endpoint == Endpoint::Delete {
                        return Err(TaxiiError::bad_request(
                            "next is not supported on this endpoint",
                        ));
                    }
                    f.next = Some(value);
                }
                // Other parameters are not TAXII's; like the reference server, ignore them.
                _ => {}
            }
        }
    }
    canonical.sort();
    f.canonical = canonical
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(f)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_every_filter() {
        let f = parse(
            Some("added_after=2016-11-03T12:30:59Z&limit=3&match%5Bid%5D=indicator--cd981c25-8042-4166-8945-51178443bdac&match[type]=indicator,malware&match[version]=all&match[spec_version]=2.0"),
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(f.limit, Some(3));
        assert_eq!(f.types, vec!["indicator", "malware"]);
        assert!(f.versions.all);
        assert_eq!(f.spec_versions, vec!["2.0"]);
        assert!(f.added_after_us.is_some());
        assert!(f.canonical.contains("match[type]=indicator,malware"));
    }

    #[test]
    fn refuses_bad_values() {
        for (q, ep) in [
            ("limit=0", Endpoint::Objects),
            ("limit=-1", Endpoint::Objects),
            ("limit=abc", Endpoint::Objects),
            ("limit=1&limit=2", Endpoint::Objects),
            ("added_after=yesterday", Endpoint::Objects),
            ("match[id]=indicator--x", Endpoint::Objects),
            (
                "match[id]=ind%C4%B1cator--cd981c25-8042-4166-8945-51178443bdac",
                Endpoint::Objects,
            ),
            ("match[type]=Indicator", Endpoint::Objects),
            ("match[type]=a,,b", Endpoint::Objects),
            ("match[version]=latest", Endpoint::Objects),
            ("match[spec_version]=2.2", Endpoint::Objects),
            ("match[foo]=1", Endpoint::Objects),
            ("match[type]=indicator", Endpoint::Versions),
            (
                "match[id]=indicator--cd981c25-8042-4166-8945-51178443bdac",
                Endpoint::Versions,
            ),
            (
                "match[id]=indicator--cd981c25-8042-4166-8945-51178443bdac",
                Endpoint::Object,
            ),
        ] {
            let e = parse(Some(q), ep).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{q}");
        }
        let many = format!(
            "match[type]={}",
            vec!["indicator"; MAX_VALUES + 1].join(",")
        );
        assert!(parse(Some(&many), Endpoint::Objects).is_err());
    }

    #[test]
    fn values_are_exact_but_for_ascii_spaces() {
        let id = "indicator--cd981c25-8042-4166-8945-51178443bdac";
        let f = parse(
            Some(&format!(
                "match[id]=%20{id}%20&match[type]=indicator,+malware"
            )),
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(f.ids, vec![id]);
        assert_eq!(f.types, vec!["indicator", "malware"]);
        // No-break space, ideographic space, tab, line feed, zero-width space: never trimmed.
        for ws in [
            "%C2%A0",
            "%E3%80%80",
            "%09",
            "%0A",
            "%E2%80%8B",
            "%E2%80%83",
        ] {
            for q in [
                format!("match[id]={id}{ws}"),
                format!("match[id]={ws}{id}"),
                format!("match[type]=indicator{ws}"),
                format!("match[version]=last{ws}"),
                format!("match[version]=2016-11-03T12:30:59.000Z{ws}"),
                format!("match[spec_version]=2.1{ws}"),
            ] {
                let e = parse(Some(&q), Endpoint::Objects).unwrap_err();
                assert_eq!(e.status.as_u16(), 400, "{q}");
            }
        }
    }

    #[test]
    fn defaults() {
        let f = parse(None, Endpoint::Objects).unwrap();
        assert_eq!(f.versions, VersionSelection::last());
        assert!(parse(None, Endpoint::Versions).unwrap().versions.all);
        assert!(parse(Some("unrelated=1"), Endpoint::Objects).is_ok());
    }
}
