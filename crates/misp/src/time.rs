//! Timestamps without a clock: MISP epoch seconds and ISO 8601 strings to STIX timestamps (the
//! calendar is `basics::time`).

use basics::time;

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

    fn civil(self) -> time::DateTime {
        time::DateTime::from_unix(self.secs, self.micros.saturating_mul(1000))
    }

    /// `2020-10-25T16:22:00.000Z`: millisecond precision, as STIX `created`/`modified` usually are.
    pub fn stix_millis(self) -> String {
        self.civil().rfc3339(3).to_string()
    }

    /// `2020-10-25T16:22:00Z`, with a fraction only when there is one (as misp-stix writes
    /// `first_observed`, `valid_from`, `published`).
    pub fn stix_seconds(self) -> String {
        let mut digits = 6;
        let mut micros = self.micros;
        while digits > 0 && micros.is_multiple_of(10) {
            micros /= 10;
            digits -= 1;
        }
        self.civil().rfc3339(digits).to_string()
    }

    /// `2020-10-25` (MISP's event `date`).
    pub fn date(self) -> String {
        self.civil().date().to_string()
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

/// Parses an ISO 8601 / RFC 3339 date-time (`2020-10-25T16:22:00.123456+02:00`, `…Z`, a space
/// instead of `T`, no offset meaning UTC) or a bare date (`2020-10-25`, midnight UTC).
pub fn parse_iso(s: &str) -> Option<Instant> {
    let b = s.trim().as_bytes();
    if b.len() == 10 {
        let (y, m, d) = time::parse_date(b)?;
        return Some(Instant::from_secs(time::days_from_civil(y, m, d) * 86_400));
    }
    let mut secs = time::parse_date_time(b, b"Tt ")?.unix_seconds();
    let mut i = 19;
    let mut micros = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        micros = time::parse_fraction(&b[start..i])? / 1000;
    }
    secs -= time::parse_offset(&b[i..])?;
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
