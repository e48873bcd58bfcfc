//! When a source is fetched next: the cron schedule, corrected by what the last fetch
//! said (feed `<ttl>`/`max-age`, backoff after failures, `Retry-After`). Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Schedule;
use crate::fetch::retry::backoff;

/// What a finished fetch means for scheduling.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchResult {
    /// Fetched (200 or 304).
    Ok {
        /// Shortest interval the feed or server asked for.
        min_interval: Option<Duration>,
    },
    /// Failed.
    Failed {
        /// Consecutive failures, this one included.
        failures: u32,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<DateTime<Utc>>,
    },
    /// Not requested: an earlier `Retry-After` still holds until then.
    Deferred {
        /// When the server allows the next request.
        until: DateTime<Utc>,
    },
    /// Stopped by shutdown.
    Cancelled,
}

/// Far-future fallback for a cron expression with no next occurrence.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The next time a source is due after a fetch that served the cron tick `tick` and
/// finished at `now`.
///
/// * The next tick after `tick`; if it already passed (a long fetch, or the machine
///   slept), the source is due at `now`: missed ticks run once, not once each.
/// * After success, never sooner than the feed's `<ttl>` / the response's `max-age`
///   (rounded up to the next tick).
/// * After a failure, never sooner than the server's `Retry-After`, or else than the
///   exponential backoff for `failures` (with `jitter` in [-1, 1]).
pub fn next_due(
    schedule: &Schedule,
    tz: Tz,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
    result: &FetchResult,
    jitter: f64,
) -> DateTime<Utc> {
    let on_schedule = schedule
        .next_after(tick, tz)
        .unwrap_or(now + chrono_dur(NEVER))
        .max(now);
    match result {
        FetchResult::Ok {
            min_interval: Some(min),
        } => {
            let not_before = now + chrono_dur(*min);
            if on_schedule >= not_before {
                on_schedule
            } else {
                schedule
                    .next_after(not_before - chrono::Duration::seconds(1), tz)
                    .unwrap_or(not_before)
                    .max(not_before)
            }
        }
        FetchResult::Ok { min_interval: None } | FetchResult::Cancelled => on_schedule,
        FetchResult::Failed {
            retry_after: Some(until),
            ..
        } => on_schedule.max(*until),
        FetchResult::Failed {
            failures,
            retry_after: None,
        } => on_schedule.max(now + chrono_dur(backoff(*failures, jitter))),
        FetchResult::Deferred { until } => on_schedule.max(*until),
    }
}

/// When a source is first due after start-up: its stored next fetch if that is still
/// ahead (a restart keeps backoff and the schedule), otherwise now plus a little jitter
/// (`spread` in [0, 1] of at most `max_jitter`) so sources don't all start at once.
pub fn initial_due(
    stored_next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max_jitter: Duration,
    spread: f64,
) -> DateTime<Utc> {
    match stored_next {
        Some(t) if t > now => t,
        _ => now + chrono_dur(max_jitter.mul_f64(spread.clamp(0.0, 1.0))),
    }
}

/// The jitter bound for a schedule: half its interval, at most 30 s.
pub fn startup_jitter(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Duration {
    let interval = schedule
        .next_after(now, tz)
        .and_then(|a| (schedule.next_after(a, tz)? - a).to_std().ok())
        .unwrap_or(Duration::from_secs(60));
    (interval / 2).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, m, s).unwrap()
    }

    fn every_15m() -> Schedule {
        Schedule::parse("*/15 * * * *").unwrap()
    }

    const UTC: Tz = chrono_tz::UTC;

    #[test]
    fn success_waits_for_the_next_tick() {
        let due = next_due(
            &every_15m(),
            UTC,
            t(10, 0, 0),
            t(10, 0, 5),
            &FetchResult::Ok { min_interval: None },
            0.0,
        );
        assert_eq!(due, t(10, 15, 0));
    }

    #[test]
    fn missed_ticks_run_once_now() {
        // The fetch served 10:00 and took until 10:50: 10:15, :30, :45 were missed.
        let due = next_due(
            &every_15m(),
            UTC,
            t(10, 0, 0),
            t(10, 50, 0),
            &FetchResult::Ok { min_interval: None },
            0.0,
        );
        assert_eq!(due, t(10, 50, 0));
    }

    #[test]
    fn ttl_pushes_to_the_first_tick_after_it() {
        let ok = FetchResult::Ok {
            min_interval: Some(Duration::from_secs(40 * 60)),
        };
        assert_eq!(
            next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 1), &ok, 0.0),
            t(10, 45, 0)
        );
    }

    #[test]
    fn failures_back_off_and_retry_after_wins() {
        let fail = |n| FetchResult::Failed {
            failures: n,
            retry_after: None,
        };
        assert_eq!(
            next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 0), &fail(1), 0.0),
            t(11, 0, 0)
        );
        assert_eq!(
            next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 0), &fail(3), 0.0),
            t(14, 0, 0)
        );
        let capped = next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 0), &fail(12), 0.0);
        assert_eq!(capped, t(10, 0, 0) + chrono::Duration::hours(24));
        let retry = FetchResult::Failed {
            failures: 5,
            retry_after: Some(t(10, 2, 0)),
        };
        assert_eq!(
            next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 0), &retry, 0.0),
            t(10, 15, 0),
            "never sooner than the schedule either"
        );
        let retry = FetchResult::Failed {
            failures: 1,
            retry_after: Some(t(10, 20, 0)),
        };
        assert_eq!(
            next_due(&every_15m(), UTC, t(10, 0, 0), t(10, 0, 0), &retry, 0.0),
            t(10, 20, 0)
        );
    }

    #[test]
    fn startup_uses_stored_next_or_spreads() {
        let now = t(10, 0, 0);
        assert_eq!(
            initial_due(Some(t(10, 20, 0)), now, Duration::from_secs(30), 0.5),
            t(10, 20, 0)
        );
        assert_eq!(
            initial_due(Some(t(9, 0, 0)), now, Duration::from_secs(30), 0.5),
            t(10, 0, 15)
        );
        assert_eq!(
            startup_jitter(&every_15m(), UTC, now),
            Duration::from_secs(30)
        );
        let every_2s = Schedule::parse("*/2 * * * * *").unwrap();
        assert_eq!(startup_jitter(&every_2s, UTC, now), Duration::from_secs(1));
    }
}
