//! JSON lines (ECS, Suricata EVE): one object per line, walked once with a serde visitor that
//! follows only the paths the field map names and skips the rest (`IgnoredAny`).
//!
//! Strings without escapes are borrowed from the line; the walk keeps its current path in a
//! reused buffer. Nothing is allocated per record once buffers have grown.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::map::{FieldMap, Target};
use crate::record::Record;

/// Reads one JSON line into `rec` (cleared first). The error says what is wrong and at which
/// column.
pub(crate) fn read_json_line(
    map: &FieldMap,
    path: &mut String,
    line: &[u8],
    rec: &mut Record,
) -> Result<(), String> {
    rec.clear();
    path.clear();
    let mut de = serde_json::Deserializer::from_slice(line);
    let walk = Walk {
        map,
        path,
        rec,
        depth: 0,
    };
    match walk.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_data() && e.to_string().starts_with(NOT_OBJECT) => {
            Err("not a JSON object".to_owned())
        }
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

const NOT_OBJECT: &str = "shieldwall: not an object";
/// Objects nested deeper than this are skipped as a whole (serde_json itself stops at 128).
const MAX_DEPTH: u32 = 32;

struct Walk<'a> {
    map: &'a FieldMap,
    path: &'a mut String,
    rec: &'a mut Record,
    depth: u32,
}

impl Walk<'_> {
    fn leaf_str(&mut self, v: &str) {
        match self.map.get(self.path) {
            Some(Target::Field(f)) => {
                let _ = self.rec.push(f, v);
            }
            Some(Target::IfIp(f)) if v.trim().parse::<std::net::IpAddr>().is_ok() => {
                let _ = self.rec.push(f, v);
            }
            Some(Target::IfIp(_)) => {}
            Some(Target::Timestamp) => self.rec.set_timestamp_text(v, false),
            None => {}
        }
    }

    fn leaf_u64(&mut self, n: u64) {
        match self.map.get(self.path) {
            Some(Target::Field(f)) => {
                let _ = self.rec.push_u64(f, n);
            }
            // Epoch milliseconds when large, else seconds.
            Some(Target::Timestamp) => {
                self.rec.set_timestamp(i64::try_from(n).ok().and_then(|n| {
                    if n > 100_000_000_000 {
                        n.checked_mul(1_000_000)
                    } else {
                        n.checked_mul(1_000_000_000)
                    }
                }))
            }
            _ => {}
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        if self.depth == 0 {
            return Err(E::custom(NOT_OBJECT));
        }
        self.leaf_str(v);
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(mut self, n: u64) -> Result<(), E> {
        if self.depth == 0 {
            return Err(E::custom(NOT_OBJECT));
        }
        self.leaf_u64(n);
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<(), E> {
        match u64::try_from(n) {
            Ok(u) => self.visit_u64(u),
            Err(_) if self.depth == 0 => Err(E::custom(NOT_OBJECT)),
            // A negative number fits no field; reject it like text would be.
            Err(_) => {
                if let Some(Target::Field(f)) = self.map.get(self.path) {
                    let _ = self.rec.push(f, "-1");
                }
                Ok(())
            }
        }
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<(), E> {
        if self.depth == 0 {
            return Err(E::custom(NOT_OBJECT));
        }
        match self.map.get(self.path) {
            Some(Target::Timestamp) if (0.0..1e11).contains(&n) => {
                // Float → integer casts saturate; the range is checked above.
                self.rec.set_timestamp(Some((n * 1e9).round() as i64));
            }
            Some(Target::Field(f)) => {
                // Integral floats (`80.0`) are integers; others are rejected by the kind check.
                if n.fract() == 0.0 && (0.0..1e19).contains(&n) {
                    let _ = self.rec.push_u64(f, n as u64);
                } else {
                    let _ = self.rec.push(f, "-");
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        if self.depth == 0 {
            return Err(E::custom(NOT_OBJECT));
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if self.depth == 0 {
            return Err(E::custom(NOT_OBJECT));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth == 0 {
            return Err(serde::de::Error::custom(NOT_OBJECT));
        }
        if self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        // Array elements keep the array's path.
        while seq
            .next_element_seed(Walk {
                map: self.map,
                path: &mut *self.path,
                rec: &mut *self.rec,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let base = self.path.len();
        while m
            .next_key_seed(KeySeed {
                path: &mut *self.path,
                base,
            })?
            .is_some()
        {
            let wanted = self.depth < MAX_DEPTH
                && (self.map.get(self.path).is_some() || self.map.is_prefix(self.path));
            if wanted {
                m.next_value_seed(Walk {
                    map: self.map,
                    path: &mut *self.path,
                    rec: &mut *self.rec,
                    depth: self.depth + 1,
                })?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
            self.path.truncate(base);
        }
        Ok(())
    }
}

/// Appends `.key` (or `key` at the top) to the current path.
struct KeySeed<'a> {
    path: &'a mut String,
    base: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.path.truncate(self.base);
        if self.base > 0 {
            self.path.push('.');
        }
        self.path.push_str(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::field::Field;

    fn read(map: &FieldMap, line: &str) -> Result<Vec<(Field, String)>, String> {
        let mut rec = Record::new();
        let mut path = String::new();
        read_json_line(map, &mut path, line.as_bytes(), &mut rec)?;
        rec.finish();
        Ok(rec.fields().map(|(f, v)| (f, v.to_owned())).collect())
    }

    #[test]
    fn ecs_nested_dotted_and_arrays() {
        let m = FieldMap::ecs();
        let got = read(
            &m,
            r#"{"@timestamp":"2024-05-01T12:00:00Z","source":{"ip":"10.0.0.1","port":5353},
               "destination.ip":"8.8.8.8","dns":{"question":{"name":"Evil.Example."},
               "answers":[{"data":"1.2.3.4"},{"data":"cname.example"}]},"ignored":{"deep":[1,{"x":2}]}}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (Field::SourceIp, "10.0.0.1".into()),
                (Field::SourcePort, "5353".into()),
                (Field::DestinationIp, "8.8.8.8".into()),
                (Field::DnsQuestion, "evil.example".into()),
                (Field::DnsResolvedIp, "1.2.3.4".into()),
            ]
        );
    }

    #[test]
    fn eve_http_builds_url() {
        let got = read(
            &FieldMap::eve(),
            r#"{"timestamp":"2024-05-01T12:00:00.000000+0000","event_type":"http","src_ip":"10.0.0.1","dest_ip":"5.6.7.8","proto":"TCP","http":{"hostname":"bad.example","url":"/x?y=1","http_user_agent":"curl/8"}}"#,
        )
        .unwrap();
        assert!(got.contains(&(Field::UrlFull, "http://bad.example/x?y=1".into())));
        assert!(got.contains(&(Field::NetworkTransport, "tcp".into())));
    }

    #[test]
    fn errors() {
        let m = FieldMap::ecs();
        assert_eq!(read(&m, "[1,2]").unwrap_err(), "not a JSON object");
        assert_eq!(read(&m, "\"x\"").unwrap_err(), "not a JSON object");
        let e = read(&m, r#"{"source":{"ip":"1.2.3.4"}"#).unwrap_err();
        assert!(
            e.starts_with("invalid JSON: EOF while parsing an object at line 1 column"),
            "{e}"
        );
        let e = read(&m, r#"{"a":1} {"b":2}"#).unwrap_err();
        assert!(e.contains("trailing characters"), "{e}");
    }
}
