//! The calendar over its whole range, and its agreement with the application's date-time library.

use basics::time::{self, DateTime};
use proptest::prelude::*;

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years STIX can write.
const STIX_MIN_SECS: i64 = -62_167_219_200;
const STIX_MAX_SECS: i64 = 253_402_300_799;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn days_round_trip_over_all_of_i64(days in any::<i64>()) {
        let (y, m, d) = time::civil_from_days(days);
        prop_assert!((1..=12).contains(&m));
        prop_assert!(d >= 1 && d <= time::days_in_month(y, m));
        prop_assert_eq!(time::days_from_civil(y, m, d), days);
    }

    #[test]
    fn civil_round_trip(y in -10_000_000_000_000i64..10_000_000_000_000, m in 1u32..=12, d in 1u32..=31) {
        prop_assume!(d <= time::days_in_month(y, m));
        prop_assert_eq!(time::civil_from_days(time::days_from_civil(y, m, d)), (y, m, d));
    }

    #[test]
    fn next_day_is_one_more(days in -4_000_000i64..4_000_000) {
        let (y, m, d) = time::civil_from_days(days);
        let next = if d < time::days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
        prop_assert_eq!(time::civil_from_days(days + 1), next);
    }

    #[test]
    fn prints_as_jiff_does(secs in STIX_MIN_SECS..=STIX_MAX_SECS, nanos in 0u32..1_000_000_000) {
        let ours = DateTime::from_unix(secs, nanos).rfc3339(9).to_string();
        let theirs = jiff::Timestamp::new(secs, nanos as i32).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&ours, &format!("{theirs:.9}"));
        // And the strict STIX reader reads it back to the same instant.
        let back = time::parse_stix(&ours).ok_or_else(|| TestCaseError::fail("unreadable"))?;
        prop_assert_eq!((back.at.unix_seconds(), back.at.nanos), (secs, nanos));
        prop_assert!(back.at.date_exists());
    }

    #[test]
    fn reads_as_jiff_does(y in 0i64..=9999, m in 1u32..=12, d in 1u32..=31, h in 0u32..24, mi in 0u32..60, s in 0u32..60, frac in "(\\.[0-9]{1,9})?") {
        let text = format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z");
        let ours = time::parse_stix(&text).ok_or_else(|| TestCaseError::fail("form refused"))?;
        let theirs = text.parse::<jiff::Timestamp>();
        prop_assert_eq!(ours.at.date_exists(), theirs.is_ok(), "{}", text);
        if let Ok(t) = theirs {
            prop_assert_eq!(
                i128::from(ours.at.unix_seconds()) * 1_000_000_000 + i128::from(ours.at.nanos),
                t.as_nanosecond()
            );
        }
    }

    #[test]
    fn leap_years_as_jiff_counts_them(y in -9999i64..=9999) {
        let feb29 = jiff::civil::Date::new(y as i16, 2, 29);
        prop_assert_eq!(time::is_leap_year(y), feb29.is_ok());
    }

    #[test]
    fn readers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = time::parse_date_time(&b, b"Tt ");
        let _ = time::parse_offset(&b);
        let _ = time::parse_fraction(&b);
        if let Ok(s) = std::str::from_utf8(&b) {
            let _ = time::parse_stix(s);
        }
    }
}

/// The 64-bit and 128-bit paths meet without a seam: years and day counts on both sides of the
/// switch round-trip and follow one another.
#[test]
fn no_seam_where_the_arithmetic_widens() {
    use basics::time::{civil_from_days, days_from_civil, is_leap_year};
    for y in [(1_i64 << 40) - 3, -(1_i64 << 40) - 3] {
        for year in y..y + 6 {
            let d = days_from_civil(year, 1, 1);
            assert_eq!(civil_from_days(d), (year, 1, 1));
            let next = days_from_civil(year + 1, 1, 1);
            assert_eq!(
                next - d,
                if is_leap_year(year) { 366 } else { 365 },
                "{year}"
            );
        }
    }
    for base in [1_i64 << 50, -(1_i64 << 50)] {
        for d in base - 400..base + 400 {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }
}
