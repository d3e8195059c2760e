//! Calendar arithmetic for UTC timestamps, once for every crate: the proleptic Gregorian
//! calendar (days since 1970-01-01 and back, leap years, month lengths), the lexical pieces of
//! RFC 3339 text (date, time of day, fraction, offset) and the strict STIX form built from them,
//! and printing a date and time back as RFC 3339 with a chosen number of fractional digits.
//!
//! The types that keep a timestamp's precision or its text (`stix::Timestamp`, the pattern
//! crate's literals) and the lenient log and MISP readers sit above these functions: they decide
//! what an error is; this module only says what the text and the calendar allow.
//!
//! Every function is total: no input panics or overflows. Day counts cover all of `i64` (years
//! about ±25 quadrillion); a date whose day count does not fit saturates to `i64::MIN`/`i64::MAX`.

use std::fmt;

const DAYS_0000_TO_1970: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;
const SECS_PER_DAY: i64 = 86_400;
const NANOS_PER_SEC: u32 = 1_000_000_000;

/// Whether `year` is a leap year of the proleptic Gregorian calendar (year 0 is one).
pub const fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// How many days `month` (1–12) of `year` has; 0 for a month outside 1–12.
pub const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
///
/// Exact for every real date whose day count fits in `i64`. The day is counted from the first of
/// the month, so day 0 or 31 of a 30-day month name the neighbouring days; a month outside
/// 1–12 gives a meaningless (but defined) number: check with [`days_in_month`] first.
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Every real year fits the 64-bit arithmetic (and it is several times faster); the 128-bit
    // one covers the rest of `i64`.
    if year.unsigned_abs() < 1 << 40 {
        days_from_civil_in!(i64, year, month, day)
    } else {
        saturate(days_from_civil_in!(i128, year, month, day))
    }
}

/// Hinnant's `days_from_civil` in the integer type `$t`.
macro_rules! days_from_civil_in {
    ($t:ty, $year:expr, $month:expr, $day:expr) => {{
        let m = $month as $t;
        let y = $year as $t - if $month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if $month > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + $day as $t - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * DAYS_PER_ERA as $t + doe - DAYS_0000_TO_1970 as $t
    }};
}
use days_from_civil_in;

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01; the
/// inverse of [`days_from_civil`] over all of `i64`.
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    if days.unsigned_abs() < 1 << 50 {
        civil_from_days_in!(i64, days)
    } else {
        civil_from_days_in!(i128, days)
    }
}

/// Hinnant's `civil_from_days` in the integer type `$t`.
macro_rules! civil_from_days_in {
    ($t:ty, $days:expr) => {{
        let z = $days as $t + DAYS_0000_TO_1970 as $t;
        let era = z.div_euclid(DAYS_PER_ERA as $t);
        let doe = z - era * DAYS_PER_ERA as $t;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        // `doy` is 0..366 and `mp` 0..12: both fit in u32.
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        // |days| / 365 < i64::MAX: the year always fits.
        (y as i64, m, d)
    }};
}
use civil_from_days_in;

const fn saturate(v: i128) -> i64 {
    if v > i64::MAX as i128 {
        i64::MAX
    } else if v < i64::MIN as i128 {
        i64::MIN
    } else {
        v as i64
    }
}

/// A UTC date and time of day to the nanosecond, as fields. Parsing fills it from text without
/// checking the calendar ([`DateTime::date_exists`] does); [`DateTime::from_unix`] fills it from
/// an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The proleptic Gregorian year (0 is 1 BC).
    pub year: i64,
    /// 1–12 for a real date.
    pub month: u32,
    /// 1–31 for a real date.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59, or 60 as written for a leap second.
    pub second: u32,
    /// 0–999 999 999.
    pub nanos: u32,
}

impl DateTime {
    /// The date and time of `secs` seconds and `nanos` nanoseconds after 1970-01-01T00:00:00Z
    /// (`nanos` of a second or more are capped to 999 999 999).
    pub const fn from_unix(secs: i64, nanos: u32) -> DateTime {
        let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
        DateTime {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
            nanos: if nanos < NANOS_PER_SEC {
                nanos
            } else {
                NANOS_PER_SEC - 1
            },
        }
    }

    /// Whether the month is 1–12 and the day exists in it (February 29 only in leap years).
    pub const fn date_exists(&self) -> bool {
        self.day >= 1 && self.day <= days_in_month(self.year, self.month)
    }

    /// Seconds since the Unix epoch (saturating). A leap second 60 counts as the next minute's
    /// 00; a day that does not exist counts from the first of its month (see
    /// [`days_from_civil`]).
    pub const fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let sod = self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64;
        days.saturating_mul(SECS_PER_DAY).saturating_add(sod)
    }

    /// Prints as `YYYY-MM-DDTHH:MM:SS[.f]Z` with exactly `frac_digits` fractional digits
    /// (at most 9; none and no dot for 0), truncating the nanoseconds.
    pub const fn rfc3339(&self, frac_digits: u8) -> Rfc3339 {
        Rfc3339 {
            at: *self,
            frac_digits: if frac_digits > 9 { 9 } else { frac_digits },
        }
    }

    /// Prints the date only, `YYYY-MM-DD`.
    pub const fn date(&self) -> Date {
        Date(*self)
    }
}

/// A [`DateTime`] printed as RFC 3339 UTC (see [`DateTime::rfc3339`]).
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339 {
    at: DateTime,
    frac_digits: u8,
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.at;
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            t.date(),
            t.hour,
            t.minute,
            t.second
        )?;
        if self.frac_digits > 0 {
            let digits = usize::from(self.frac_digits);
            let unit = 10u32.pow(9 - u32::from(self.frac_digits));
            write!(f, ".{:0digits$}", t.nanos / unit)?;
        }
        f.write_str("Z")
    }
}

/// A [`DateTime`]'s date printed as `YYYY-MM-DD` (see [`DateTime::date`]).
#[derive(Debug, Clone, Copy)]
pub struct Date(DateTime);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year, self.0.month, self.0.day
        )
    }
}

/// The value of the ASCII digits `b` (at most nine of them), `None` if any byte is not a digit or
/// there are none.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Reads a date `YYYY-MM-DD` from the first 10 bytes of `b`: four-digit year, month 01–12 and
/// day 01–31 (not checked against the month: see [`DateTime::date_exists`]).
pub fn parse_date(b: &[u8]) -> Option<(i64, u32, u32)> {
    let b = b.get(..10)?;
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((i64::from(year), month, day))
}

/// Reads a time of day `HH:MM:SS` from the first 8 bytes of `b`: hour 00–23, minute 00–59,
/// second 00–60 (60 for a leap second).
pub fn parse_time_of_day(b: &[u8]) -> Option<(u32, u32, u32)> {
    let b = b.get(..8)?;
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    (h <= 23 && m <= 59 && s <= 60).then_some((h, m, s))
}

/// Reads `YYYY-MM-DD` + one byte of `separators` + `HH:MM:SS` from the first 19 bytes of `b`
/// (nanoseconds 0): [`parse_date`] and [`parse_time_of_day`].
pub fn parse_date_time(b: &[u8], separators: &[u8]) -> Option<DateTime> {
    let (year, month, day) = parse_date(b)?;
    if !separators.contains(b.get(10)?) {
        return None;
    }
    let (hour, minute, second) = parse_time_of_day(b.get(11..)?)?;
    Some(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos: 0,
    })
}

/// The nanoseconds a decimal fraction's digits (those after the dot) name: the first nine
/// digits count, further ones are dropped (truncation); no digits is 0. `None` if any byte is
/// not an ASCII digit.
pub fn parse_fraction(digits: &[u8]) -> Option<u32> {
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    Some(nanos)
}

/// A UTC offset as written after a time: nothing, `Z` or `z` (0), `±HH`, `±HHMM` or `±HH:MM`.
/// Returns the offset in seconds east of UTC (subtract it to get UTC).
pub fn parse_offset(b: &[u8]) -> Option<i64> {
    let (sign, rest) = match b {
        [] | [b'Z' | b'z'] => return Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => (*sign, rest),
        _ => return None,
    };
    let (h, m) = match rest {
        [h1, h2] => (digits(&[*h1, *h2])?, 0),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
        _ => return None,
    };
    let secs = i64::from(h) * 3600 + i64::from(m) * 60;
    Some(if sign == b'+' { secs } else { -secs })
}

/// A timestamp in the strict STIX form, `YYYY-MM-DDTHH:MM:SS[.s+]Z`, as read by
/// [`parse_stix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StixForm {
    /// The date and time as written (nanoseconds from the first nine fractional digits).
    pub at: DateTime,
    /// How many fractional digits were written (may exceed 9).
    pub frac_digits: usize,
}

/// Reads the strict STIX timestamp form: upper-case `T` and `Z`, four-digit year, the lexical
/// ranges of the STIX JSON schema (month 01–12, day 01–31, hour 00–23, minute 00–59,
/// second 00–60) and an optional fraction of one or more digits. The calendar is not checked
/// ([`DateTime::date_exists`]), nor how many fractional digits there are.
pub fn parse_stix(s: &str) -> Option<StixForm> {
    let b = s.as_bytes();
    let mut at = parse_date_time(b, b"T")?;
    let frac = match b.get(19..)? {
        [b'Z'] => &[][..],
        [b'.', frac @ .., b'Z'] if !frac.is_empty() => frac,
        _ => return None,
    };
    at.nanos = parse_fraction(frac)?;
    Some(StixForm {
        at,
        frac_digits: frac.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2024) && is_leap_year(2000) && is_leap_year(0));
        assert!(!is_leap_year(1900) && !is_leap_year(2023) && !is_leap_year(-1));
        assert!(is_leap_year(-4));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2023, 11), 30);
        assert_eq!(days_in_month(2023, 12), 31);
        assert_eq!(days_in_month(2023, 0), 0);
        assert_eq!(days_in_month(2023, 13), 0);
    }

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(civil_from_days(19_844), (2024, 5, 1));
        assert_eq!(civil_from_days(i64::MIN), (-25_252_734_927_764_585, 6, 7));
        assert_eq!(civil_from_days(i64::MAX), (25_252_734_927_768_524, 7, 27));
        // Saturates rather than overflows.
        assert_eq!(days_from_civil(i64::MAX, 12, 31), i64::MAX);
        assert_eq!(days_from_civil(i64::MIN, 1, 1), i64::MIN);
        // Defined (if meaningless) for any month and day.
        let _ = days_from_civil(2024, u32::MAX, u32::MAX);
        let _ = days_from_civil(i64::MIN, 0, 0);
    }

    #[test]
    fn prints_with_the_digits_asked() {
        let t = DateTime::from_unix(1_714_564_800, 123_456_789);
        assert_eq!(t.rfc3339(0).to_string(), "2024-05-01T12:00:00Z");
        assert_eq!(t.rfc3339(3).to_string(), "2024-05-01T12:00:00.123Z");
        assert_eq!(t.rfc3339(6).to_string(), "2024-05-01T12:00:00.123456Z");
        assert_eq!(t.rfc3339(9).to_string(), "2024-05-01T12:00:00.123456789Z");
        assert_eq!(t.rfc3339(12).to_string(), "2024-05-01T12:00:00.123456789Z");
        assert_eq!(t.date().to_string(), "2024-05-01");
        let early = DateTime::from_unix(-62_167_219_200, 1);
        assert_eq!(
            early.rfc3339(9).to_string(),
            "0000-01-01T00:00:00.000000001Z"
        );
        assert_eq!(DateTime::from_unix(-1, 0).second, 59);
    }

    #[test]
    fn lexical_pieces() {
        assert_eq!(parse_date(b"2024-02-30"), Some((2024, 2, 30)));
        assert_eq!(parse_date(b"2024-13-01"), None);
        assert_eq!(parse_date(b"2024-00-01"), None);
        assert_eq!(parse_date(b"2024-01-00"), None);
        assert_eq!(parse_date(b"2024/01/01"), None);
        assert_eq!(parse_date(b"2024-1-01"), None);
        assert_eq!(parse_date(b"+024-01-01"), None);
        assert_eq!(parse_time_of_day(b"23:59:60"), Some((23, 59, 60)));
        assert_eq!(parse_time_of_day(b"24:00:00"), None);
        assert_eq!(parse_time_of_day(b"12:60:00"), None);
        assert_eq!(parse_time_of_day(b"12:00:61"), None);
        assert_eq!(parse_time_of_day(b"12:00"), None);
        assert_eq!(parse_fraction(b""), Some(0));
        assert_eq!(parse_fraction(b"5"), Some(500_000_000));
        assert_eq!(parse_fraction(b"1234567891234"), Some(123_456_789));
        assert_eq!(parse_fraction(b"12a"), None);
        assert_eq!(parse_offset(b""), Some(0));
        assert_eq!(parse_offset(b"z"), Some(0));
        assert_eq!(parse_offset(b"+02:00"), Some(7200));
        assert_eq!(parse_offset(b"-0230"), Some(-9000));
        assert_eq!(parse_offset(b"+01"), Some(3600));
        assert_eq!(parse_offset(b"+0"), None);
        assert_eq!(parse_offset(b"+02:0"), None);
        assert_eq!(parse_offset(b"Zz"), None);
    }

    #[test]
    fn stix_form() {
        let f = parse_stix("2016-04-06T20:03:48.000123Z");
        assert_eq!(f.map(|f| (f.at.nanos, f.frac_digits)), Some((123_000, 6)));
        assert_eq!(
            parse_stix("2016-04-06T20:03:48Z").map(|f| f.at.unix_seconds()),
            Some(1_459_973_028)
        );
        assert_eq!(
            parse_stix("2016-12-31T23:59:60Z").map(|f| f.at.unix_seconds()),
            parse_stix("2017-01-01T00:00:00Z").map(|f| f.at.unix_seconds())
        );
        assert_eq!(
            parse_stix("2016-04-06T20:03:48.1234567890Z").map(|f| f.frac_digits),
            Some(10)
        );
        assert!(parse_stix("2024-02-30T00:00:00Z").is_some_and(|f| !f.at.date_exists()));
        for bad in [
            "",
            "2016-04-06 20:03:48Z",
            "2016-04-06t20:03:48Z",
            "2016-04-06T20:03:48z",
            "2016-04-06T20:03:48",
            "2016-04-06T20:03:48.Z",
            "2016-04-06T20:03:48+00:00",
            "2016-04-06T20:03:48.12a4Z",
            "16-03-12T08:00:00Z",
            "2016-03-12T24:00:00Z",
            "2016-04-06T20:03:48ZZ",
            "2016-04-06T20:03:4é",
        ] {
            assert_eq!(parse_stix(bad), None, "{bad}");
        }
    }
}
