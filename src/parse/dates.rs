//! Publication dates as feeds write them, for feed-rs's timestamp hook.
//!
//! feed-rs's own parser (RFC 3339, RFC 2822 and RFC 1123, each after a few regex fixes
//! for common mistakes) cannot be extended, only replaced, so this module does what it
//! does, with the same fixes, and then reads what it gives up on:
//! - month and weekday names in Russian ("Пн, 25 ноя 2024 10:00:00 +0300", as some
//!   Russian and Central Asian CMSs write them under a Russian locale) and Persian or
//!   Arabic-Indic digits;
//! - dates without a time zone, as CMS templates print them ("2024-11-25 10:00",
//!   "25.11.2024 10:00"), taken as UTC;
//! - dates in the Solar Hijri calendar ("1403/09/06 12:30"), as Persian-language CMSs
//!   print them.
//!
//! An entry whose date cannot be read gets its fetch time, so an old item read wrongly
//! would show as new: these forms are read only when nothing stricter matches. Pure.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use regex::Regex;

/// A feed's timestamp text as a UTC time; `None` when no known form matches.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let read = strict(text)
        .or_else(|| lenient(text))
        .or_else(|| {
            let english = localized_to_english(text)?;
            strict(&english).or_else(|| lenient(&english))
        })
        .or_else(|| without_zone(&ascii_digits(text)));
    if read.is_some_and(|t| t.year() > SOLAR_HIJRI_YEARS.end) {
        return read;
    }
    // Nothing read, or a year no news item has: a Solar Hijri date, or no date.
    solar_hijri(&ascii_digits(text)).or_else(|| read.filter(|t| t.year() < SOLAR_HIJRI_YEARS.start))
}

/// Years of dates in the Solar Hijri calendar (Iran's and Afghanistan's official one)
/// that news feeds carry: 1403 began in March 2024. As Gregorian years they are six
/// centuries before any feed.
const SOLAR_HIJRI_YEARS: std::ops::Range<i32> = 1300..1500;

/// The Solar Hijri months by name, in order (Mordad also as Amordad).
const SOLAR_HIJRI_MONTHS: [&[&str]; 12] = [
    &["فروردین"],
    &["اردیبهشت"],
    &["خرداد"],
    &["تیر"],
    &["مرداد", "امرداد"],
    &["شهریور"],
    &["مهر"],
    &["آبان"],
    &["آذر"],
    &["دی"],
    &["بهمن"],
    &["اسفند"],
];

/// A date written with its Solar Hijri month's name ("سه‌شنبه ۶ آذر ۱۴۰۳ - ۱۲:۳۰", the
/// weekday and words around it dropped) as `1403/9/6 12:30`; `None` when `text` has
/// no such date. `text` has ASCII digits.
fn with_month_numbers(text: &str) -> Option<String> {
    static NAMED: OnceLock<Option<Regex>> = OnceLock::new();
    static CLOCK: OnceLock<Option<Regex>> = OnceLock::new();
    let named = NAMED
        .get_or_init(|| Regex::new(r"(\d{1,2})\s+(\p{Arabic}+)\s+(1[34]\d\d)").ok())
        .as_ref()?;
    let clock = CLOCK
        .get_or_init(|| Regex::new(r"\b(\d{1,2}:\d{2}(?::\d{2})?)\b").ok())
        .as_ref()?;
    let caps = named.captures(text)?;
    // Arabic yeh and kaf, as Arabic keyboards type them.
    let name: String = caps[2]
        .chars()
        .map(|c| match c {
            'ي' => 'ی',
            'ك' => 'ک',
            c => c,
        })
        .collect();
    let month = SOLAR_HIJRI_MONTHS
        .iter()
        .position(|names| names.contains(&name.as_str()))?
        + 1;
    let date = format!("{}/{month}/{}", &caps[3], &caps[1]);
    Some(match clock.captures(text) {
        Some(time) => format!("{date} {}", &time[1]),
        None => date,
    })
}

/// A Solar Hijri date, as Persian-language CMSs print them in place of a feed date,
/// with an optional time before or after it ("1403/09/06 12:30", "12:30 - 1403/09/06",
/// "1403-09-06T12:30:00+03:30"), converted to the Gregorian calendar by ICU4X's
/// Persian calendar. A time without a zone is taken as UTC, as other dates without one.
/// `text` has ASCII digits.
fn solar_hijri(text: &str) -> Option<DateTime<Utc>> {
    static DATE_FIRST: OnceLock<Option<Regex>> = OnceLock::new();
    static TIME_FIRST: OnceLock<Option<Regex>> = OnceLock::new();
    const DATE: &str = r"(?P<y>1[34]\d\d)[/.-](?P<mo>\d{1,2})[/.-](?P<d>\d{1,2})";
    const TIME: &str = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?";
    let date_first = DATE_FIRST
        .get_or_init(|| {
            Regex::new(&format!(
                r"^{DATE}(?:(?:T|\s*[-–,،]?\s*){TIME})?\s*(?P<z>Z|[+-]\d{{2}}:?\d{{2}})?$"
            ))
            .ok()
        })
        .as_ref()?;
    let time_first = TIME_FIRST
        .get_or_init(|| Regex::new(&format!(r"^{TIME}\s*[-–,،]?\s*{DATE}$")).ok())
        .as_ref()?;
    let named = with_month_numbers(text);
    let text = named.as_deref().unwrap_or(text);
    let caps = date_first
        .captures(text)
        .or_else(|| time_first.captures(text))?;
    let number = |name: &str| -> Option<u32> {
        caps.name(name).map_or(Some(0), |m| m.as_str().parse().ok())
    };
    let persian = icu_calendar::Date::try_new_persian(
        i32::try_from(number("y")?).ok()?,
        u8::try_from(number("mo")?).ok()?,
        u8::try_from(number("d")?).ok()?,
    )
    .ok()?
    .to_calendar(icu_calendar::Iso);
    let local = NaiveDate::from_ymd_opt(
        persian.year().extended_year(),
        u32::from(persian.month().ordinal),
        u32::from(persian.day_of_month().0),
    )?
    .and_hms_opt(number("h")?, number("mi")?, number("s")?)?;
    let offset = match caps.name("z").map(|m| m.as_str().replace(':', "")) {
        None => 0,
        Some(z) if z == "Z" => 0,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let hours: i64 = z.get(1..3)?.parse().ok()?;
            let minutes: i64 = z.get(3..5)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(local.and_utc() - chrono::Duration::seconds(offset))
}

/// RFC 3339 and RFC 2822 as written: nearly every feed's dates, without the fixes'
/// regex passes.
fn strict(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A pattern and its replacement, as feed-rs fixes timestamps before parsing them.
struct Fix(Regex, &'static str);

fn fixes(patterns: &[(&str, &'static str)]) -> Vec<Fix> {
    patterns
        .iter()
        .filter_map(|&(pattern, with)| Regex::new(pattern).ok().map(|r| Fix(r, with)))
        .collect()
}

fn apply(fixes: &[Fix], text: &str) -> String {
    fixes
        .iter()
        .fold(text.trim().to_owned(), |text, Fix(r, with)| {
            r.replace(&text, *with).into_owned()
        })
}

/// feed-rs 3.0's lenient chain (`parse_timestamp_lenient`): RFC 3339, then RFC 2822,
/// then RFC 1123 without the weekday, each after its fixes.
fn lenient(text: &str) -> Option<DateTime<Utc>> {
    static RFC3339: OnceLock<Vec<Fix>> = OnceLock::new();
    static RFC2822: OnceLock<Vec<Fix>> = OnceLock::new();
    static RFC1123: OnceLock<Vec<Fix>> = OnceLock::new();
    let rfc3339 = RFC3339.get_or_init(|| {
        fixes(&[
            // A time zone without its colon.
            (r"(\+|-)(\d{2})(\d{2})", "${1}${2}:${3}"),
            // A date alone: midnight UTC.
            (r"-\d{2}$", "${0}T00:00:00+00:00"),
        ])
    });
    let rfc2822 = RFC2822.get_or_init(|| {
        fixes(&[
            ("(UTC|-0000$)", "+0000"),
            ("(Sun|Mon|Tue|Wed|Thu|Fri|Sat)[a-z]*, ", ""),
            (
                "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*",
                "$1",
            ),
            (
                "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\\d{1,2}) (\\d{4})",
                "$2 $1 $3",
            ),
            (" 24:", " 00:"),
            (" ([0-9]):", " 0${1}:"),
        ])
    });
    let rfc1123 = RFC1123.get_or_init(|| fixes(&[(" Z$", " +0000"), ("^[[:alpha:]]{3}, ", "")]));
    let utc = |t: DateTime<chrono::FixedOffset>| t.with_timezone(&Utc);
    DateTime::parse_from_rfc3339(apply(rfc3339, text).trim())
        .map(utc)
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc2822(&apply(rfc2822, text))
                .map(utc)
                .ok()
        })
        .or_else(|| {
            DateTime::parse_from_str(&apply(rfc1123, text), "%d %b %Y %H:%M:%S %z")
                .map(utc)
                .ok()
        })
}

/// Russian month names (genitive, nominative or abbreviated, by their first letters) as
/// RFC 2822's.
const RUSSIAN_MONTHS: [(&str, &str); 12] = [
    ("янв", "Jan"),
    ("фев", "Feb"),
    ("мар", "Mar"),
    ("апр", "Apr"),
    ("ма", "May"),
    ("июн", "Jun"),
    ("июл", "Jul"),
    ("авг", "Aug"),
    ("сен", "Sep"),
    ("окт", "Oct"),
    ("ноя", "Nov"),
    ("дек", "Dec"),
];

/// Russian weekday names and abbreviations, which carry nothing the date does not.
const RUSSIAN_WEEKDAYS: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
const RUSSIAN_WEEKDAY_NAMES: [&str; 7] = [
    "понедельник",
    "вторник",
    "среда",
    "четверг",
    "пятница",
    "суббота",
    "воскресенье",
];

/// `text` with Russian month names in English, Russian weekdays dropped and digits in
/// ASCII; `None` when it has none of these (nothing more to try).
fn localized_to_english(text: &str) -> Option<String> {
    let digits = ascii_digits(text);
    let mut changed = digits != text;
    let mut words = Vec::new();
    for word in digits.split_whitespace() {
        let bare = word.trim_end_matches([',', '.']).to_lowercase();
        if bare.chars().any(|c| matches!(c, 'а'..='я' | 'ё')) {
            changed = true;
            if RUSSIAN_WEEKDAYS.contains(&bare.as_str())
                || RUSSIAN_WEEKDAY_NAMES.contains(&bare.as_str())
            {
                continue;
            }
            let (_, month) = RUSSIAN_MONTHS
                .iter()
                .find(|(prefix, _)| bare.starts_with(prefix))?;
            words.push((*month).to_owned());
        } else {
            words.push(word.to_owned());
        }
    }
    changed.then(|| words.join(" "))
}

/// `text` with Persian and Arabic-Indic digits as ASCII ones.
fn ascii_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            c => c,
        })
        .collect()
}

/// Dates and times printed without a time zone, taken as UTC, and ISO dates with a
/// space before the time and a zone after it.
fn without_zone(text: &str) -> Option<DateTime<Utc>> {
    const ZONED: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M %z"];
    const NAIVE: [&str; 8] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    const DATES: [&str; 3] = ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"];
    ZONED
        .iter()
        .find_map(|f| DateTime::parse_from_str(text, f).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            NAIVE
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .or_else(|| {
                    DATES
                        .iter()
                        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn reads_as(cases: &[(&str, DateTime<Utc>)]) {
        for &(text, want) in cases {
            assert_eq!(parse_timestamp(text), Some(want), "{text}");
        }
    }

    /// feed-rs 3.0's own timestamp tests: replacing its parser loses none of them.
    #[test]
    fn what_feed_rs_reads_is_still_read() {
        let cases = [
            ("Fri, Oct 7 2022 10:15:00 -0400", at(2022, 10, 7, 14, 15, 0)),
            ("26 August 2019 10:00:00 +0000", at(2019, 8, 26, 10, 0, 0)),
            ("Mon, 01 Jan 0001 00:00:00 UTC", at(1, 1, 1, 0, 0, 0)),
            (
                "Wed, 22 Jan 2020 10:58:02 -0000",
                at(2020, 1, 22, 10, 58, 2),
            ),
            ("Wed, 25 Aug 2012 03:25:42 GMT", at(2012, 8, 25, 3, 25, 42)),
            ("2 September 2019 20:00:00 +0000", at(2019, 9, 2, 20, 0, 0)),
            ("2016-10-01T00:00:00+10:00", at(2016, 9, 30, 14, 0, 0)),
            ("24 Sep 2013 1:27 PDT", at(2013, 9, 24, 8, 27, 0)),
            ("5 Jun 2017 24:05 PDT", at(2017, 6, 5, 7, 5, 0)),
            ("Tue, 15 Nov 2022 20:15:04 Z", at(2022, 11, 15, 20, 15, 4)),
            (
                "mer, 16 nov 2022 00:38:15 +0100",
                at(2022, 11, 15, 23, 38, 15),
            ),
            ("2014-12-29T14:53:35+02:00", at(2014, 12, 29, 12, 53, 35)),
            ("2014-12-29T14:53:35+0200", at(2014, 12, 29, 12, 53, 35)),
            ("2024-11-26", at(2024, 11, 26, 0, 0, 0)),
            (
                "Tue, 26 Nov 2024 08:30:00 +0000",
                at(2024, 11, 26, 8, 30, 0),
            ),
        ];
        reads_as(&cases);
    }

    #[test]
    fn russian_names_persian_digits_and_dates_without_a_zone_are_read() {
        let cases = [
            ("Пн, 25 ноя 2024 10:00:00 +0300", at(2024, 11, 25, 7, 0, 0)),
            (
                "Вторник, 26 ноября 2024 08:15:00 +0500",
                at(2024, 11, 26, 3, 15, 0),
            ),
            ("26 мая 2024 12:00:00 GMT", at(2024, 5, 26, 12, 0, 0)),
            ("۲۰۲۴-۱۱-۲۶T۰۸:۳۰:۰۰+۰۳:۳۰", at(2024, 11, 26, 5, 0, 0)),
            ("2024-11-25 10:00", at(2024, 11, 25, 10, 0, 0)),
            ("2024-11-25 10:00:30", at(2024, 11, 25, 10, 0, 30)),
            ("2024-11-25 10:00:30 +0300", at(2024, 11, 25, 7, 0, 30)),
            ("2024-11-25T10:00:30", at(2024, 11, 25, 10, 0, 30)),
            ("25.11.2024 10:00", at(2024, 11, 25, 10, 0, 0)),
            ("25.11.2024", at(2024, 11, 25, 0, 0, 0)),
        ];
        reads_as(&cases);
    }

    #[test]
    fn solar_hijri_dates_are_read_in_the_gregorian_calendar() {
        // 6 Azar 1403 is 26 November 2024 (the seed article's day); 31 Ordibehesht
        // 1403 (a 31-day month, no such day in a Gregorian February) is 20 May 2024.
        let cases = [
            ("1403/09/06 12:30", at(2024, 11, 26, 12, 30, 0)),
            ("۱۴۰۳/۰۹/۰۶ - ۱۲:۳۰", at(2024, 11, 26, 12, 30, 0)),
            ("۱۲:۳۰ - ۱۴۰۳/۰۹/۰۶", at(2024, 11, 26, 12, 30, 0)),
            ("1403-09-06T12:30:00+03:30", at(2024, 11, 26, 9, 0, 0)),
            ("1403/02/31", at(2024, 5, 20, 0, 0, 0)),
            ("1405/09/10 08:00:00", at(2026, 12, 1, 8, 0, 0)),
            ("سه‌شنبه ۶ آذر ۱۴۰۳ - ۱۲:۳۰", at(2024, 11, 26, 12, 30, 0)),
            ("۶ آذر ۱۴۰۳", at(2024, 11, 26, 0, 0, 0)),
            ("31 اردیبهشت 1403، ساعت 08:15", at(2024, 5, 20, 8, 15, 0)),
        ];
        reads_as(&cases);
        // Not a Solar Hijri date either: no date rather than one six centuries ago.
        for text in ["1403/13/40", "Tue, 26 Nov 1403 10:00:00 GMT", "۶ کابل ۱۴۰۳"] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn what_is_not_a_date_stays_unread() {
        for text in [
            "",
            "yesterday",
            "Пн, 25 xyz 2024",
            "32.13.2024 10:00",
            "сегодня",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }
}
