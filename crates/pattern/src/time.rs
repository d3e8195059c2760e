//! STIX timestamps (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`), as nanoseconds since the Unix epoch.
//!
//! Hand-written because the grammar's lexical form is narrow and fixed, and because a pattern
//! timestamp that fits the grammar but names no real day (`2024-02-30`) must still parse (the
//! grammar accepts it) while being reported and refused at evaluation.

use std::fmt;

use basics::time;

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
    time::parse_stix(s).is_some()
}

fn parse_instant(s: &str) -> Result<i128, TimestampError> {
    let form = time::parse_stix(s).ok_or_else(|| TimestampError::Form(s.to_owned()))?;
    let at = form.at;
    // Year 0000 and leap seconds name no instant here; nanosecond precision, further digits
    // are dropped.
    if at.year < 1 || !at.date_exists() || at.second > 59 {
        return Err(TimestampError::NoSuchInstant(s.to_owned()));
    }
    Ok(i128::from(at.unix_seconds()) * 1_000_000_000 + i128::from(at.nanos))
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
