//! STIX/TAXII timestamps as the store keeps them: versions as nanoseconds since the epoch (exact
//! comparison whatever precision was given), `date_added` as microseconds. The clock (`now_us`) is the store's: this crate reads none.

use stix::Timestamp;

/// Parses a STIX timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`, at most nine fractional digits)
/// to nanoseconds since the epoch.
pub fn parse_ns(s: &str) -> Option<i64> {
    i64::try_from(Timestamp::parse(s).ok()?.unix_nanos()).ok()
}

/// Parses a timestamp to microseconds (truncating), for `added_after`.
pub fn parse_us(s: &str) -> Option<i64> {
    parse_ns(s).map(|ns| ns.div_euclid(1000))
}

/// Formats microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (the precision TAXII servers use for
/// `date_added`, so that `added_after` with a served value is exact).
pub fn format_us(us: i64) -> String {
    let nanos = u32::try_from(us.rem_euclid(1_000_000) * 1000).unwrap_or(0);
    match Timestamp::from_unix(us.div_euclid(1_000_000), nanos, 6) {
        Some(ts) => ts.to_string(),
        None => "1970-01-01T00:00:00.000000Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_ns("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_ns("1970-01-01T00:00:00.000000001Z"), Some(1));
        assert_eq!(
            parse_ns("2016-11-03T12:30:59.000Z"),
            parse_ns("2016-11-03T12:30:59Z")
        );
        assert_eq!(
            parse_us("2016-11-03T12:30:59.001Z")
                .map(format_us)
                .as_deref(),
            Some("2016-11-03T12:30:59.001000Z")
        );
        assert_eq!(format_us(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(format_us(i64::MAX), "1970-01-01T00:00:00.000000Z");
        for bad in [
            "2016-11-03",
            "2016-11-03T12:30:59",
            "2016-11-03T12:30:59+01:00",
            "2016-13-03T12:30:59Z",
            "2016-11-03t12:30:59Z",
            "2016-11-03T12:30:59.Z",
            "2016-11-03T12:30:59.1234567890Z",
            "2016-02-30T12:30:59Z",
            "x",
        ] {
            assert_eq!(parse_ns(bad), None, "{bad}");
        }
    }
}
