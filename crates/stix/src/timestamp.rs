//! STIX timestamps: RFC 3339 in UTC with an upper-case `T` and `Z`, any number of fractional
//! digits up to nine. A [`Timestamp`] keeps the precision it was given: it prints back exactly
//! as parsed, and compares by instant, exactly (no rounding to milliseconds).

use std::{cmp::Ordering, fmt, hash::Hash, str::FromStr};

use basics::time;

/// Why a string is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not of the form `YYYY-MM-DDTHH:MM:SS[.s+]Z`.
    #[error("does not match the timestamp format YYYY-MM-DDTHH:mm:ss[.s+]Z")]
    Format,
    /// Well formed, but the date or time does not exist (e.g. 2017-02-29, 25:00).
    #[error("is not a valid date and time: {0}")]
    Range(&'static str),
    /// More than nine fractional digits: Shieldwall keeps nanoseconds at most.
    #[error("has more than 9 fractional digits (nanosecond precision is the maximum kept)")]
    Precision,
}

/// A STIX 2.1 timestamp that remembers how many fractional digits it was written with.
///
/// Equality, ordering and hashing are by instant: `2016-01-01T00:00:00Z` equals
/// `2016-01-01T00:00:00.000Z`, while `…00.000123Z` is later than `…00.000Z`.
/// [`fmt::Display`] re-emits the timestamp with the digits it was given.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (a leap second 60 counts as the next minute's 00).
    secs: i64,
    nanos: u32,
    frac_digits: u8,
}

impl Timestamp {
    /// Parses a STIX timestamp, strictly (see [`TimestampError`]).
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let form = time::parse_stix(s).ok_or(TimestampError::Format)?;
        if !form.at.date_exists() {
            return Err(TimestampError::Range("day is out of range for month"));
        }
        if form.frac_digits > 9 {
            return Err(TimestampError::Precision);
        }
        Ok(Timestamp {
            secs: form.at.unix_seconds(),
            nanos: form.at.nanos,
            frac_digits: form.frac_digits as u8,
        })
    }

    /// Builds a timestamp from seconds and nanoseconds since the Unix epoch, printed with
    /// `frac_digits` fractional digits (at most 9; extra precision in `nanos` is truncated).
    pub fn from_unix(secs: i64, nanos: u32, frac_digits: u8) -> Option<Timestamp> {
        if nanos >= 1_000_000_000 || frac_digits > 9 {
            return None;
        }
        let unit = 10u32.pow(9 - u32::from(frac_digits));
        let ts = Timestamp {
            secs,
            nanos: nanos / unit * unit,
            frac_digits,
        };
        // Only years 0000-9999 are representable in STIX.
        (ts.secs >= time::days_from_civil(0, 1, 1) * 86_400
            && ts.secs < time::days_from_civil(10_000, 1, 1) * 86_400)
            .then_some(ts)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// The sub-second part in nanoseconds.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Nanoseconds since the Unix epoch (for storage keys and ordering in databases).
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// How many fractional digits the timestamp was written with (0–9).
    pub fn precision(&self) -> u8 {
        self.frac_digits
    }

    /// The same instant printed with exactly `digits` fractional digits (e.g. 3 for the
    /// millisecond form Shieldwall emits), truncating extra precision.
    pub fn with_precision(&self, digits: u8) -> Timestamp {
        let digits = digits.min(9);
        let unit = 10u32.pow(9 - u32::from(digits));
        Timestamp {
            secs: self.secs,
            nanos: self.nanos / unit * unit,
            frac_digits: digits,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        time::DateTime::from_unix(self.secs, self.nanos)
            .rfc3339(self.frac_digits)
            .fmt(f)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.secs == other.secs && self.nanos == other.nanos
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}
impl Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.secs, self.nanos).hash(state);
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(|e| serde::de::Error::custom(format!("'{s}' {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn keeps_precision_and_compares_exactly() {
        for s in [
            "2016-04-06T20:03:48Z",
            "2016-04-06T20:03:48.000Z",
            "2016-04-06T20:03:48.000123Z",
            "2016-04-06T20:03:48.123456789Z",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00.1Z",
            "9999-12-31T23:59:59.999Z",
            "2024-02-29T12:00:00.5Z",
        ] {
            assert_eq!(ts(s).to_string(), s);
        }
        assert!(ts("2016-04-06T20:03:48.000123Z") > ts("2016-04-06T20:03:48.000Z"));
        assert_eq!(ts("2016-04-06T20:03:48Z"), ts("2016-04-06T20:03:48.000Z"));
        assert!(ts("2015-12-31T23:59:59.999999999Z") < ts("2016-01-01T00:00:00Z"));
        assert_eq!(ts("1970-01-01T00:00:01.5Z").unix_nanos(), 1_500_000_000);
        assert_eq!(
            ts("2016-04-06T20:03:48.123456Z")
                .with_precision(3)
                .to_string(),
            "2016-04-06T20:03:48.123Z"
        );
    }

    #[test]
    fn rejects_what_stix_forbids() {
        for s in [
            "2016-04-06 20:03:48Z",
            "2016-04-06t20:03:48Z",
            "2016-04-06T20:03:48z",
            "2016-04-06T20:03:48+00:00",
            "2016-04-06T20:03:48.Z",
            "2016-13-06T20:03:48Z",
            "2016-03-42T08:17:27.000Z",
            "2016-03-00T08:17:27.000Z",
            "2016-03-12T08:99:27.000Z",
            "2016-03-12T24:00:00Z",
            "16-03-12T08:00:00Z",
            "2016-03-12T08:00:00",
            "",
            "2016-03-12T08:00:00.12a4Z",
        ] {
            assert_eq!(Timestamp::parse(s), Err(TimestampError::Format), "{s}");
        }
        assert!(matches!(
            Timestamp::parse("2017-02-29T08:17:27.000Z"),
            Err(TimestampError::Range(_))
        ));
        assert!(matches!(
            Timestamp::parse("2016-11-31T08:17:27Z"),
            Err(TimestampError::Range(_))
        ));
        assert_eq!(
            Timestamp::parse("2016-11-30T08:17:27.1234567890Z"),
            Err(TimestampError::Precision)
        );
    }
}
