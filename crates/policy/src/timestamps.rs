//! STIX/TAXII timestamps as the store keeps them: versions as nanoseconds since the epoch (exact
//! comparison whatever precision was given), `date_added` as microseconds. The clock (`now_us`) is the store's: this crate reads none.

use jiff::Timestamp;

/// Parses a STIX timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`) to nanoseconds since the epoch.
pub fn parse_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let lexical_ok = b.len() >= 20
        && b.len() <= 30
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && (b.len() == 20
            || (b[19] == b'.'
                && b.len() > 21
                && b[20..b.len() - 1].iter().all(u8::is_ascii_digit)));
    if !lexical_ok {
        return None;
    }
    let ts: Timestamp = s.parse().ok()?;
    i64::try_from(ts.as_nanosecond()).ok()
}

/// Parses a timestamp to microseconds (truncating), for `added_after`.
pub fn parse_us(s: &str) -> Option<i64> {
    parse_ns(s).map(|ns| ns.div_euclid(1000))
}

/// Formats microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (the precision TAXII servers use for
/// `date_added`, so that `added_after` with a served value is exact).
pub fn format_us(us: i64) -> String {
    match Timestamp::from_microsecond(us) {
        Ok(ts) => format!("{ts:.6}"),
        Err(_) => "1970-01-01T00:00:00.000000Z".to_owned(),
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
        for bad in [
            "2016-11-03",
            "2016-11-03T12:30:59",
            "2016-11-03T12:30:59+01:00",
            "2016-13-03T12:30:59Z",
            "2016-11-03t12:30:59Z",
            "2016-11-03T12:30:59.Z",
            "x",
        ] {
            assert_eq!(parse_ns(bad), None, "{bad}");
        }
    }
}
