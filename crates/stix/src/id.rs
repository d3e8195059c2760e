//! STIX identifiers: `type--UUID`, and the deterministic (UUIDv5) identifiers of SCOs.
//!
//! An SCO's id is `type--UUIDv5(STIX namespace, JCS(id-contributing properties))` (STIX 2.1
//! §2.9): the JSON object holding only the type's id-contributing properties that are present,
//! canonicalised with RFC 8785 (JCS). When none is present the id is a UUIDv4.

use serde_json::{Map, Value};
use uuid::Uuid;

/// The namespace of STIX deterministic identifiers.
pub const STIX_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// A syntactically valid STIX identifier, split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identifier<'a> {
    /// The object type (before `--`).
    pub object_type: &'a str,
    /// The UUID (after `--`).
    pub uuid: Uuid,
}

impl<'a> Identifier<'a> {
    /// Parses `type--UUID` as the STIX 2.1 schema defines it: the type is lower-case ASCII
    /// letters, digits and hyphens, and the UUID is an RFC 4122 UUID of version 1–5 in the
    /// 8-4-4-4-12 hex form.
    pub fn parse(id: &'a str) -> Option<Identifier<'a>> {
        let (object_type, uuid) = id.rsplit_once("--")?;
        if !object_type_chars_ok(object_type) || object_type.len() < 3 {
            return None;
        }
        let uuid = parse_rfc4122(uuid)?;
        Some(Identifier { object_type, uuid })
    }

    /// The UUID version (1–5).
    pub fn version(&self) -> usize {
        self.uuid.get_version_num()
    }
}

/// `^[a-z][a-z0-9-]+[a-z0-9]$`: the identifier-prefix form of the STIX 2.1 schema.
fn object_type_chars_ok(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Parses a hyphenated RFC 4122 UUID (variant 10xx, version 1–5).
fn parse_rfc4122(s: &str) -> Option<Uuid> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    if !(b'1'..=b'5').contains(&b[14]) || !matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
    {
        return None;
    }
    Uuid::try_parse(s).ok()
}

/// The id-contributing properties of each predefined SCO type (STIX 2.1 §6), or `None` for a
/// type that is not a predefined SCO. `process` has none (it always uses UUIDv4).
pub fn id_contributing_properties(sco_type: &str) -> Option<&'static [&'static str]> {
    Some(match sco_type {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" => &["value"],
        "email-addr" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "ipv4-addr" => &["value"],
        "ipv6-addr" => &["value"],
        "mac-addr" => &["value"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "process" => &[],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "url" => &["value"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => return None,
    })
}

/// The hash algorithms of a `hashes` id-contributing property, in the order the
/// specification prefers them: only the first one present contributes.
const HASH_PREFERENCE: [&str; 4] = ["MD5", "SHA-1", "SHA-256", "SHA-512"];

/// The deterministic id the specification gives `sco` (a predefined SCO as JSON), or `None` when
/// it is not a predefined SCO or has no id-contributing property (then a UUIDv4 is expected).
pub fn deterministic_sco_id(sco: &Map<String, Value>) -> Option<String> {
    let sco_type = sco.get("type")?.as_str()?;
    let props = id_contributing_properties(sco_type)?;
    let mut contributing = Map::new();
    for &p in props {
        let Some(v) = sco.get(p) else { continue };
        let v = if p == "hashes" {
            choose_hash(v)
        } else {
            v.clone()
        };
        contributing.insert(p.to_owned(), v);
    }
    if contributing.is_empty() {
        return None;
    }
    let canonical = jcs(&Value::Object(contributing));
    let uuid = Uuid::new_v5(&STIX_NAMESPACE, canonical.as_bytes());
    Some(format!("{sco_type}--{uuid}"))
}

/// Whether `sco`'s `id` is the deterministic one (`None` when no deterministic id applies).
pub fn sco_id_is_deterministic(sco: &Map<String, Value>) -> Option<bool> {
    let expected = deterministic_sco_id(sco)?;
    Some(sco.get("id").and_then(Value::as_str) == Some(expected.as_str()))
}

fn choose_hash(hashes: &Value) -> Value {
    let Some(map) = hashes.as_object() else {
        return hashes.clone();
    };
    for algo in HASH_PREFERENCE {
        if let Some(v) = map.get(algo) {
            let mut one = Map::new();
            one.insert(algo.to_owned(), v.clone());
            return Value::Object(one);
        }
    }
    hashes.clone()
}

/// RFC 8785 (JSON Canonicalization Scheme) serialisation of a JSON value: object keys sorted by
/// UTF-16 code units, no whitespace, ECMAScript number formatting, minimal string escaping.
pub fn jcs(value: &Value) -> String {
    let mut out = String::new();
    write_jcs(value, &mut out);
    out
}

fn write_jcs(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_jcs_number(n, out),
        Value::String(s) => write_jcs_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs_string(k, out);
                out.push(':');
                write_jcs(v, out);
            }
            out.push('}');
        }
    }
}

fn write_jcs_number(n: &serde_json::Number, out: &mut String) {
    use std::fmt::Write;
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        // ECMAScript Number::toString: integers below 1e21 print without a fraction; other
        // values use the shortest round-trip digits, with an exponent outside [1e-6, 1e21).
        if f == 0.0 {
            out.push('0');
        } else if f.fract() == 0.0 && f.abs() < 1e21 {
            let _ = write!(out, "{f:.0}");
        } else if f.abs() >= 1e21 || f.abs() < 1e-6 {
            let s = format!("{f:e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let exp = if exp.starts_with('-') {
                exp.to_owned()
            } else {
                format!("+{exp}")
            };
            let _ = write!(out, "{mantissa}e{exp}");
        } else {
            let _ = write!(out, "{f}");
        }
    }
}

fn write_jcs_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn identifiers() {
        let id = Identifier::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.object_type, "indicator");
        assert_eq!(id.version(), 4);
        for bad in [
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-138f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "corpor@tion--4527e5de-8572-446a-a57a-706f15467461",
            "ab--4527e5de-8572-446a-a57a-706f15467461",
            "soft-id-false",
        ] {
            assert!(Identifier::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn deterministic_ids_match_the_specification_examples() {
        // Values computed with the OASIS python-stix2 library.
        for (sco, expected) in [
            (
                json!({"type": "ipv4-addr", "value": "198.51.100.3"}),
                "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
            ),
            (
                json!({"type": "file", "name": "foo.exe", "hashes": {
                    "SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b",
                    "MD5": "cead3f77f6cda6ec00f57d76c9a6879f"}}),
                "file--1910ca30-1dd9-57f3-9d48-0c64b19f0d5c",
            ),
            (
                json!({"type": "domain-name", "value": "example.com"}),
                "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
            ),
            (
                json!({"type": "network-traffic", "src_port": 80, "protocols": ["tcp"],
                       "src_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
                "network-traffic--cfad1201-fe99-524d-b1ec-b33fbb8c3449",
            ),
            (
                json!({"type": "email-addr", "value": "jdoe@example.com", "display_name": "John"}),
                "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171",
            ),
        ] {
            let sco = obj(sco);
            assert_eq!(deterministic_sco_id(&sco).unwrap(), expected);
            let mut with_id = sco.clone();
            with_id.insert("id".into(), json!(expected));
            assert_eq!(sco_id_is_deterministic(&with_id), Some(true));
        }
        let proc_ = obj(json!({"type": "process", "pid": 1}));
        assert_eq!(deterministic_sco_id(&proc_), None);
        let empty = obj(json!({"type": "email-message", "is_multipart": false}));
        assert_eq!(deterministic_sco_id(&empty), None);
        // Only the preferred hash contributes.
        let a = obj(json!({"type": "file", "hashes": {"SHA-256": "aa", "MD5": "bb"}}));
        let b = obj(json!({"type": "file", "hashes": {"MD5": "bb"}}));
        assert_eq!(deterministic_sco_id(&a), deterministic_sco_id(&b));
    }

    #[test]
    fn jcs_canonical_form() {
        let v = json!({"b": [1, 2.5, "x\u{1}\"é"], "a": {"\u{e9}": null, "z": true}, "1e": 1e30, "n": 1e-7});
        assert_eq!(
            jcs(&v),
            "{\"1e\":1e+30,\"a\":{\"z\":true,\"\u{e9}\":null},\"b\":[1,2.5,\"x\\u0001\\\"é\"],\"n\":1e-7}"
        );
    }
}
