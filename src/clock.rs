//! Time as the service stores it: Unix milliseconds (UTC), UTC day numbers for quotas,
//! and RFC 3339 text for the API.

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day number (days since 1970-01-01) of a time in Unix milliseconds.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The start of the UTC day after the one holding `ms`.
pub fn next_utc_midnight(ms: i64) -> i64 {
    (utc_day(ms) + 1) * DAY_MS
}

/// `2026-11-27T01:02:03Z` for a time in Unix milliseconds, to the second (rounded down):
/// every timestamp the service shows is at this precision, so that finer timings (how long
/// a submission took to score) are for organizers only (EVALUATION.md 5.3).
pub fn rfc3339(ms: i64) -> String {
    let days = utc_day(ms);
    let in_day = ms - days * DAY_MS;
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// `2 Dec 2026, 12:53 UTC` for a time in Unix milliseconds: how pages show times (the API
/// keeps [`rfc3339`]).
pub fn human(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = utc_day(ms);
    let in_day = ms - days * DAY_MS;
    let (year, month, day) = civil_from_days(days);
    let name = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    let (h, m) = (in_day / 3_600_000, in_day / 60_000 % 60);
    format!("{day} {name} {year}, {h:02}:{m:02} UTC")
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{human, next_utc_midnight, rfc3339, utc_day};

    #[test]
    fn the_utc_day_changes_at_midnight() {
        assert_eq!(utc_day(86_399_999), 0);
        assert_eq!(utc_day(86_400_000), 1);
        assert_eq!(utc_day(-1), -1);
        assert_eq!(next_utc_midnight(5), 86_400_000);
    }

    #[test]
    fn times_print_as_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_741_323_456), "2026-11-27T01:02:03Z");
    }

    #[test]
    fn pages_show_times_as_day_month_year_and_minutes() {
        assert_eq!(human(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(human(951_782_400_000), "29 Feb 2000, 00:00 UTC");
        assert_eq!(human(1_795_741_323_456), "27 Nov 2026, 01:02 UTC");
        assert_eq!(human(1_796_226_780_000), "2 Dec 2026, 15:53 UTC");
    }
}
