//! Timestamps without a clock: MISP epoch seconds and ISO 8601 strings to STIX timestamps.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An instant: seconds since the Unix epoch and microseconds within the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Microseconds, `0..1_000_000`.
    pub micros: u32,
}

impl Instant {
    /// An instant at a whole second.
    pub fn from_secs(secs: i64) -> Instant {
        Instant { secs, micros: 0 }
    }

    fn parts(self) -> (i64, u32, u32, i64, i64, i64) {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    /// `2020-10-25T16:22:00.000Z`: millisecond precision, as STIX `created`/`modified` usually are.
    pub fn stix_millis(self) -> String {
        let (y, mo, d, h, mi, s) = self.parts();
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
            self.micros / 1000
        )
    }

    /// `2020-10-25T16:22:00Z`, with a fraction only when there is one (as misp-stix writes
    /// `first_observed`, `valid_from`, `published`).
    pub fn stix_seconds(self) -> String {
        let (y, mo, d, h, mi, s) = self.parts();
        if self.micros == 0 {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        } else {
            let frac = format!("{:06}", self.micros);
            let frac = frac.trim_end_matches('0');
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac}Z")
        }
    }

    /// `2020-10-25` (MISP's event `date`).
    pub fn date(self) -> String {
        let (y, mo, d, ..) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}")
    }
}

/// A MISP epoch timestamp: a JSON string or number of whole seconds.
pub(crate) fn parse_epoch(v: &serde_json::Value) -> Option<Instant> {
    match v {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok().map(Instant::from_secs),
        serde_json::Value::Number(n) => n.as_i64().map(Instant::from_secs),
        _ => None,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses an ISO 8601 / RFC 3339 date-time (`2020-10-25T16:22:00.123456+02:00`, `…Z`, a space
/// instead of `T`, no offset meaning UTC) or a bare date (`2020-10-25`, midnight UTC).
pub fn parse_iso(s: &str) -> Option<Instant> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let mo = u32::try_from(digits(&b[5..7])?).ok()?;
    let d = u32::try_from(digits(&b[8..10])?).ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    if b.len() == 10 {
        return Some(Instant::from_secs(secs));
    }
    if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b.len() < 19 || b[13] != b':' {
        return None;
    }
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let se = digits(&b[17..19])?;
    if b[16] != b':' || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    secs += h * 3600 + mi * 60 + se;
    let mut i = 19;
    let mut micros = 0u32;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s.trim()[start..i];
        let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
        micros = six.parse().ok()?;
    }
    let rest = &b[i..];
    match rest {
        [] | [b'Z'] | [b'z'] => {}
        [sign @ (b'+' | b'-'), oh1, oh2, rest @ ..] => {
            let oh = digits(&[*oh1, *oh2])?;
            let om = match rest {
                [] => 0,
                [b':', m1, m2] | [m1, m2] => digits(&[*m1, *m2])?,
                _ => return None,
            };
            let off = oh * 3600 + om * 60;
            secs += if *sign == b'+' { -off } else { off };
        }
        _ => return None,
    }
    Some(Instant { secs, micros })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formats_like_misp_stix() {
        let t = Instant::from_secs(1_603_642_920);
        assert_eq!(t.stix_millis(), "2020-10-25T16:22:00.000Z");
        assert_eq!(t.stix_seconds(), "2020-10-25T16:22:00Z");
        assert_eq!(t.date(), "2020-10-25");
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn iso_with_offset_and_fraction() {
        let t = parse_iso("2020-10-25T18:22:00.5+02:00").expect("valid");
        assert_eq!(t.secs, 1_603_642_920);
        assert_eq!(t.micros, 500_000);
        assert_eq!(t.stix_seconds(), "2020-10-25T16:22:00.5Z");
        assert_eq!(
            parse_iso("2020-10-25").map(|t| t.date()).as_deref(),
            Some("2020-10-25")
        );
        assert!(parse_iso("2020-13-25T00:00:00Z").is_none());
        assert!(parse_iso("2020-10-25T00:00:00+0").is_none());
        assert!(parse_iso("yesterday").is_none());
    }
}
