//! Politeness rules as pure functions: `Retry-After`, `Cache-Control: max-age`, feed
//! `<ttl>`, and the capped exponential backoff after consecutive failures.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// No server-requested wait (Retry-After, TTL, max-age) is honoured beyond this.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(24 * 3600);
/// First backoff step after one failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(3600);
/// Longest backoff; a source is never abandoned, it is retried at least this often.
pub const BACKOFF_CAP: Duration = Duration::from_secs(24 * 3600);

/// Parses `Retry-After` (delay in seconds, or an HTTP date) into the time before which
/// no request may be sent, capped at [`MAX_SERVER_DELAY`] from `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    let until = if let Ok(secs) = value.parse::<u64>() {
        now + chrono::Duration::seconds(i64::try_from(secs.min(MAX_SERVER_DELAY.as_secs())).ok()?)
    } else {
        DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc)
    };
    let cap = now + chrono::Duration::from_std(MAX_SERVER_DELAY).ok()?;
    Some(until.min(cap).max(now))
}

/// `max-age` from a `Cache-Control` header (`no-cache`/`no-store` give none).
pub fn cache_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return None;
        }
        if let Some(v) = directive.strip_prefix("max-age=") {
            max_age = v
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age.map(|d| d.min(MAX_SERVER_DELAY))
}

/// The shortest interval the server or feed asks for: the longer of the feed's `<ttl>`
/// (minutes) and the response's `max-age`, capped at [`MAX_SERVER_DELAY`].
pub fn min_interval(ttl_minutes: Option<u32>, max_age: Option<Duration>) -> Option<Duration> {
    let ttl = ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
    match (ttl, max_age) {
        (None, None) => None,
        (a, b) => Some(
            a.unwrap_or_default()
                .max(b.unwrap_or_default())
                .min(MAX_SERVER_DELAY),
        ),
    }
}

/// Backoff after `failures` consecutive failures: 1 h × 2^(n−1), capped at 24 h, with
/// `jitter` in [-1, 1] scaling it by up to ±10 % so that failing sources spread out.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = failures.saturating_sub(1).min(16);
    let raw = BACKOFF_BASE.saturating_mul(1u32 << exp).min(BACKOFF_CAP);
    raw.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(now() + chrono::Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 26 Nov 2024 13:30:00 GMT", now()),
            Some(Utc.with_ymd_and_hms(2024, 11, 26, 13, 30, 0).unwrap())
        );
        assert_eq!(
            parse_retry_after("Tue, 26 Nov 2024 11:00:00 GMT", now()),
            Some(now()),
            "past dates mean now"
        );
        assert_eq!(
            parse_retry_after("99999999", now()),
            Some(now() + chrono::Duration::hours(24)),
            "capped"
        );
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    #[test]
    fn max_age_and_ttl() {
        assert_eq!(
            cache_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(cache_max_age("max-age=600, no-cache"), None);
        assert_eq!(cache_max_age("private"), None);
        assert_eq!(
            min_interval(Some(15), Some(Duration::from_secs(60))),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            min_interval(None, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(min_interval(Some(100_000), None), Some(MAX_SERVER_DELAY));
        assert_eq!(min_interval(None, None), None);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let h = |n| backoff(n, 0.0).as_secs() / 3600;
        assert_eq!(
            [h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(30)],
            [0, 1, 2, 4, 8, 16, 24, 24]
        );
        assert_eq!(backoff(1, 1.0), Duration::from_secs(3960));
        assert_eq!(backoff(1, -1.0), Duration::from_secs(3240));
    }
}
