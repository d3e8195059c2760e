//! STIX timestamps (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`), as nanoseconds since the Unix epoch.
//!
//! Hand-written because the grammar's lexical form is narrow and fixed, and because a pattern
//! timestamp that fits the grammar but names no real day (`2024-02-30`) must still parse (the
//! grammar accepts it) while being reported and refused at evaluation.

use std::fmt;

/// A timestamp literal: the text as written, and the instant it names (if it names one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    nanos: Option<i128>,
}

impl Timestamp {
    /// Builds from text already checked against the grammar's lexical form.
    pub(crate) fn from_lexed(text: &str) -> Self {
        Timestamp {
            text: text.to_owned(),
            nanos: parse_instant(text).ok(),
        }
    }

    /// Parses a timestamp in the strict STIX form; `Err` says why not.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let nanos = parse_instant(text)?;
        Ok(Timestamp {
            text: text.to_owned(),
            nanos: Some(nanos),
        })
    }

    /// The text as written (without `t'` and `'`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z, or `None` when the text fits the grammar but
    /// names no instant (February 30, a leap second).
    pub fn nanos(&self) -> Option<i128> {
        self.nanos
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a string is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not of the form `YYYY-MM-DDTHH:MM:SS[.s+]Z`.
    #[error("`{0}` is not a timestamp of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z")]
    Form(String),
    /// Of the right form, but no such instant (e.g. February 30, month 13, second 60).
    #[error("`{0}` names no real instant")]
    NoSuchInstant(String),
}

/// Whether `s` has the lexical form the grammar's `TimestampLiteral` requires (ranges for month
/// 01–12, day 01–31, hour 00–23, minute 00–59, second 00–60; fraction optional).
pub(crate) fn grammar_form_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if !(d(0) && d(1) && d(2) && d(3) && b[4] == b'-' && b[7] == b'-' && b[10] == b'T') {
        return false;
    }
    if !(b[13] == b':' && b[16] == b':') {
        return false;
    }
    let two = |i: usize| -> Option<u32> {
        if d(i) && d(i + 1) {
            Some(u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0'))
        } else {
            None
        }
    };
    let (Some(mo), Some(day), Some(h), Some(mi), Some(sec)) =
        (two(5), two(8), two(11), two(14), two(17))
    else {
        return false;
    };
    if !((1..=12).contains(&mo) && (1..=31).contains(&day) && h <= 23 && mi <= 59 && sec <= 60) {
        return false;
    }
    let rest = &b[19..];
    match rest {
        [b'Z'] => true,
        [b'.', frac @ .., b'Z'] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

fn parse_instant(s: &str) -> Result<i128, TimestampError> {
    if !grammar_form_ok(s) {
        return Err(TimestampError::Form(s.to_owned()));
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> i64 {
        b[r].iter()
            .fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, min, sec) = (num(11..13), num(14..16), num(17..19));
    if year < 1 || day > days_in_month(year, month) || sec > 59 {
        return Err(TimestampError::NoSuchInstant(s.to_owned()));
    }
    let mut frac_nanos: i128 = 0;
    if b[19] == b'.' {
        let digits = &b[20..b.len() - 1];
        // Nanosecond precision; further digits are dropped.
        let mut scale = 100_000_000i128;
        for &c in digits.iter().take(9) {
            frac_nanos += i128::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let days = days_from_civil(year, month, day);
    let secs = i128::from(days) * 86_400 + i128::from(hour * 3600 + min * 60 + sec);
    Ok(secs * 1_000_000_000 + frac_nanos)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z").unwrap().nanos(),
            Some(0)
        );
        assert_eq!(
            Timestamp::parse("2000-03-01T00:00:01.5Z").unwrap().nanos(),
            Some(951_868_801_500_000_000)
        );
        assert_eq!(
            Timestamp::parse("2010-05-21T13:21:43.123456789Z")
                .unwrap()
                .nanos(),
            Some(1_274_448_103_123_456_789)
        );
    }

    #[test]
    fn calendar_checked_separately_from_form() {
        assert!(grammar_form_ok("2024-02-30T12:00:00Z"));
        assert!(matches!(
            Timestamp::parse("2024-02-30T12:00:00Z"),
            Err(TimestampError::NoSuchInstant(_))
        ));
        assert!(Timestamp::parse("2024-02-29T12:00:00Z").is_ok());
        assert!(Timestamp::parse("2023-02-29T12:00:00Z").is_err());
        for bad in [
            "2024-13-01T12:00:00Z",
            "2024-01-15T12:30:61Z",
            "2024-01-15T12:30:45",
            "2010-05-21t13:21:43Z",
            "2010/05/21T13:21:43Z",
            "2010-05-21T13:21Z",
            "2010-05-21T13:21:43.Z",
        ] {
            assert!(!grammar_form_ok(bad), "{bad}");
        }
    }
}
