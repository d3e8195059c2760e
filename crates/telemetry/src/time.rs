//! Log timestamps: RFC 3339 / ISO 8601 text (ECS `@timestamp`, EVE `timestamp`) and decimal
//! epoch seconds (Zeek `ts`), to nanoseconds since the Unix epoch.
//!
//! Hand-written: the forms are few and fixed, and the reader must not allocate per record.

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
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nanos = 0i64;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    Some(nanos)
}

fn num(b: &[u8], range: std::ops::Range<usize>) -> Option<i64> {
    let digits = b.get(range)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
    )
}

fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    let year = num(b, 0..4)?;
    let month = num(b, 5..7)?;
    let day = num(b, 8..10)?;
    if b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(b, 11..13)?, num(b, 14..16)?, num(b, 17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
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
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                5 if rest[2] == b':' => (num(rest, 0..2)?, num(rest, 3..5)?),
                4 => (num(rest, 0..2)?, num(rest, 2..4)?),
                2 => (num(rest, 0..2)?, 0),
                _ => return None,
            };
            let o = oh * 3600 + om * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + sec - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats nanoseconds since the epoch as a STIX timestamp with millisecond precision
/// (`2024-05-01T12:00:00.123Z`).
pub fn format_timestamp(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let millis = nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
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
