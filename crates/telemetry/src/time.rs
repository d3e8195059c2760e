//! Log timestamps: RFC 3339 / ISO 8601 text (ECS `@timestamp`, EVE `timestamp`) and decimal
//! epoch seconds (Zeek `ts`), to nanoseconds since the Unix epoch.
//!
//! Hand-written: the forms are few and fixed, and the reader must not allocate per record. The
//! calendar is `basics::time`.

use basics::time;

/// Parses `2024-05-01T12:00:00.123456Z`, `2024-05-01T12:00:00.123456+0200`,
/// `2024-05-01 12:00:00+02:00`, or epoch seconds `1714564800.123456`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() >= 19 && b[4] == b'-' {
        parse_rfc3339(b)
    } else {
        parse_epoch_seconds(s)
    }
}

/// Decimal seconds since the epoch (`1714564800`, `1714564800.5`).
pub fn parse_epoch_seconds(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 11 || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let nanos = fraction_nanos(frac.as_bytes())?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn fraction_nanos(frac: &[u8]) -> Option<i64> {
    time::parse_fraction(frac).map(i64::from)
}

fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    let at = time::parse_date_time(b, b"Tt ")?;
    let mut i = 19;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        nanos = fraction_nanos(&b[start..i])?;
    }
    let offset_secs = time::parse_offset(&b[i..])?;
    let secs = at.unix_seconds() - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Formats nanoseconds since the epoch as a STIX timestamp with millisecond precision
/// (`2024-05-01T12:00:00.123Z`).
pub fn format_timestamp(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    time::DateTime::from_unix(secs, sub).rfc3339(3).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let base = 1_714_564_800_000_000_000i64; // 2024-05-01T12:00:00Z
        assert_eq!(parse_timestamp("2024-05-01T12:00:00Z"), Some(base));
        assert_eq!(
            parse_timestamp("2024-05-01T12:00:00.5Z"),
            Some(base + 500_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-05-01T14:00:00.000000+0200"),
            Some(base)
        );
        assert_eq!(parse_timestamp("2024-05-01 10:00:00-02:00"), Some(base));
        assert_eq!(parse_timestamp("2024-05-01T12:00:00"), Some(base));
        assert_eq!(parse_timestamp("1714564800.000001"), Some(base + 1000));
        assert_eq!(parse_timestamp("1714564800"), Some(base));
        assert_eq!(parse_timestamp("2024-13-01T12:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-05-01T12:00:00Q"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("-"), None);
        assert_eq!(
            format_timestamp(base + 123_456_789),
            "2024-05-01T12:00:00.123Z"
        );
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
    }
}
