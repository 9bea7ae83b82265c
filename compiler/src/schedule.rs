//! Cron schedules and time zones (language.md, "Flows, triggers, concurrency"): what
//! `trigger schedule "CRON" tz "ZONE"` means. Patterns are read with croner and stepped over
//! jiff; zones come from jiff's bundled tz database, so the answers never depend on the host's
//! tzdata. Nothing here reads the clock: an instant to count from is always passed in.
//!
//! A pattern has the five classic fields (minute, hour, day of month, month, day of week) or
//! is one of `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` (`@annually`). A day of
//! month and a day of week that are both restricted match either (Vixie cron).

use croner::parser::CronParser;
use croner::{Cron, JobType};
use jiff::civil::{self, Date};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp, Zoned};
use std::ops::Range;
use std::sync::LazyLock;

/// One field of a cron pattern, for messages.
#[derive(Clone, Copy, Debug)]
pub struct CronField {
    /// What it is (`minute`).
    pub name: &'static str,
    /// What it accepts.
    pub accepts: &'static str,
}

/// The five fields, in order.
pub const FIELDS: [CronField; 5] = [
    CronField { name: "minute", accepts: "0-59" },
    CronField { name: "hour", accepts: "0-23" },
    CronField {
        name: "day of month",
        accepts: "1-31, `L` (the last day) or `15W` (the weekday nearest the 15th)",
    },
    CronField { name: "month", accepts: "1-12 or JAN-DEC" },
    CronField { name: "day of week", accepts: "0-7 or SUN-SAT (0 and 7 are Sunday), `5L` or `5#2`" },
];

/// The shorthands a pattern may be instead of five fields.
pub const SHORTHANDS: &[&str] = &["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"];

/// Why a pattern is not a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CronProblem {
    /// Nothing but whitespace.
    Empty,
    /// `@something` that is not a known shorthand.
    UnknownShorthand,
    /// Not five fields (the count found).
    FieldCount(usize),
    /// One field does not parse: its index in [`FIELDS`] and its byte range in the pattern.
    Field { index: usize, range: Range<usize> },
    /// Every field parses but the whole does not (byte range of the whole).
    Malformed,
    /// Valid, but no instant ever matches (say, `0 0 30 2 *`): the byte range of its day of
    /// month and month fields, when it has them.
    NeverFires { days: Option<Range<usize>> },
}

/// A valid pattern and what its calendar looks like.
#[derive(Debug)]
pub struct Schedule {
    cron: Cron,
    /// Byte ranges of the five fields in the pattern (all the whole pattern for a shorthand).
    fields: [Range<usize>; 5],
    /// For each month, in how many years of a 28-year cycle the schedule fires in it at all.
    years_with_month: [u8; 12],
    /// Whether the only days it fires on are February 29ths.
    leap_day_only: bool,
}

/// Something valid but probably not meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Suspicion {
    /// The minute field matches every minute.
    EveryMinute,
    /// It fires only on February 29, once in four years.
    LeapDayOnly,
    /// Months its month field names but it never fires in (1-12), and months it fires in only
    /// in leap years.
    SkipsMonths { never: Vec<u8>, leap_only: Vec<u8> },
    /// A fire time falls into a daylight-saving gap: on `date` the local clock jumps from
    /// `from` to `to`, so `at` does not exist that day.
    DstGap { date: Date, at: civil::Time, from: civil::Time, to: civil::Time },
}

/// The month names, for messages.
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The years walked to learn a pattern's calendar: 28 years repeat the Gregorian calendar's
/// weekdays and leap years (between 1901 and 2099).
const CYCLE: Range<i16> = 2024..2052;

/// Parse a cron pattern into a schedule, or say what is wrong with it.
pub fn parse(pattern: &str) -> Result<Schedule, CronProblem> {
    let words = words(pattern);
    let whole = match (words.first(), words.last()) {
        (Some(first), Some(last)) => first.start..last.end,
        _ => return Err(CronProblem::Empty),
    };
    let fields: [Range<usize>; 5] = if pattern[whole.clone()].starts_with('@') {
        let shorthand = pattern[whole.clone()].to_ascii_lowercase();
        if words.len() != 1 || !SHORTHANDS.contains(&shorthand.as_str()) {
            return Err(CronProblem::UnknownShorthand);
        }
        std::array::from_fn(|_| whole.clone())
    } else {
        if words.len() != 5 {
            return Err(CronProblem::FieldCount(words.len()));
        }
        // Which field is wrong: each one alone, with every other field `*`.
        for (index, range) in words.iter().enumerate() {
            let mut alone = ["*"; 5];
            alone[index] = &pattern[range.clone()];
            if parser().parse(&alone.join(" ")).is_err() {
                return Err(CronProblem::Field { index, range: range.clone() });
            }
        }
        std::array::from_fn(|i| words[i].clone())
    };
    let cron = parser().parse(&pattern[whole]).map_err(|_| CronProblem::Malformed)?;
    let any_minute = (0..60).any(|m| cron.pattern.minute_match(m).unwrap_or(false));
    let any_hour = (0..24).any(|h| cron.pattern.hour_match(h).unwrap_or(false));
    let mut years_with_month = [0u8; 12];
    let mut fired_days = 0usize;
    let mut leap_days = 0usize;
    for year in CYCLE {
        for month in 1..=12i8 {
            if !cron.pattern.month_match(month as u32).unwrap_or(false) {
                continue;
            }
            let Ok(first) = civil::Date::new(year, month, 1) else { continue };
            let mut fired = false;
            for day in 1..=first.days_in_month() {
                let Ok(date) = civil::Date::new(year, month, day) else { continue };
                let weekday = croner::Weekday::from_days_from_sunday(
                    date.weekday().to_sunday_zero_offset().unsigned_abs() as u32,
                );
                if cron.pattern.day_match(i32::from(year), month as u32, day as u32, weekday).unwrap_or(false)
                {
                    fired = true;
                    fired_days += 1;
                    if month == 2 && day == 29 {
                        leap_days += 1;
                    }
                }
            }
            years_with_month[month as usize - 1] += u8::from(fired);
        }
    }
    if fired_days == 0 || !any_minute || !any_hour {
        let days = (fields[2] != fields[3]).then(|| fields[2].start..fields[3].end);
        return Err(CronProblem::NeverFires { days });
    }
    Ok(Schedule { cron, fields, years_with_month, leap_day_only: leap_days == fired_days })
}

/// A time zone of the bundled tz database by its exact name, or the name it probably meant.
pub fn zone(name: &str) -> Result<TimeZone, Option<&'static str>> {
    if let Some(found) = zone_names().iter().find(|z| z.as_str() == name)
        && let Ok(zone) = DATABASE.get(found)
    {
        return Ok(zone);
    }
    Err(suggest_zone(name))
}

/// The next `count` fire times after `after`, in the schedule's zone.
pub fn next_fire_times(schedule: &Schedule, zone: &TimeZone, after: Timestamp, count: usize) -> Vec<Zoned> {
    schedule.cron.iter_after(after.to_zoned(zone.clone())).take(count).collect()
}

/// `Sat 31 Jan 2026 00:00 CET` (no hyphens, so wrapped help text never splits a date).
pub fn display_time(time: &Zoned) -> String {
    time.strftime("%a %-d %b %Y %H:%M %Z").to_string()
}

impl Schedule {
    /// Byte range in the pattern of field `index` (see [`FIELDS`]).
    pub fn field_range(&self, index: usize) -> Range<usize> {
        self.fields[index.min(4)].clone()
    }

    /// What about this schedule is probably not meant. Daylight-saving gaps are looked for in
    /// the year after `now`, and only when it is given (zone rules change over the years).
    pub fn suspicions(&self, zone: &TimeZone, now: Option<Timestamp>) -> Vec<Suspicion> {
        let mut out = Vec::new();
        if (0..60).all(|m| self.cron.pattern.minute_match(m).unwrap_or(false)) {
            out.push(Suspicion::EveryMinute);
        }
        if self.leap_day_only {
            out.push(Suspicion::LeapDayOnly);
        } else {
            let full = (CYCLE.end - CYCLE.start) as u8;
            let named = |m: usize| self.cron.pattern.month_match(m as u32 + 1).unwrap_or(false);
            let never: Vec<u8> =
                (0..12).filter(|&m| named(m) && self.years_with_month[m] == 0).map(|m| m as u8 + 1).collect();
            let leap_only: Vec<u8> = (0..12)
                .filter(|&m| named(m) && (1..full / 4 + 1).contains(&self.years_with_month[m]))
                .map(|m| m as u8 + 1)
                .collect();
            // Only a day of month skips months by mistake: `5#5` (a fifth Friday) means it.
            if self.cron.pattern.is_dow_wildcard() && (!never.is_empty() || !leap_only.is_empty()) {
                out.push(Suspicion::SkipsMonths { never, leap_only });
            }
        }
        if let Some(now) = now
            && self.cron.determine_job_type() == JobType::FixedTime
            && let Some(gap) = self.first_gap(zone, now)
        {
            out.push(gap);
        }
        out
    }

    /// The first daylight-saving gap in the year after `now` that swallows a fire time.
    fn first_gap(&self, zone: &TimeZone, now: Timestamp) -> Option<Suspicion> {
        let end = now.checked_add(SignedDuration::from_hours(24 * 366)).ok()?;
        for transition in zone.following(now) {
            let at = transition.timestamp();
            if at > end {
                break;
            }
            let before = zone.to_offset(at.checked_sub(SignedDuration::from_secs(1)).ok()?);
            let after = transition.offset();
            if after <= before {
                continue;
            }
            let (from, to) = (before.to_datetime(at), after.to_datetime(at));
            let mut minute = from;
            while minute < to {
                if self.cron.is_time_matching(&minute).unwrap_or(false) {
                    return Some(Suspicion::DstGap {
                        date: minute.date(),
                        at: minute.time(),
                        from: from.time(),
                        to: to.time(),
                    });
                }
                minute = minute.checked_add(SignedDuration::from_mins(1)).ok()?;
            }
        }
        None
    }
}

/// Every zone name of the bundled database, sorted.
pub fn zone_names() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut names: Vec<String> = DATABASE.available().map(|n| n.as_str().to_string()).collect();
        names.sort();
        names
    });
    &NAMES
}

static DATABASE: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// The zone a mistyped name probably meant: the same name in other case, a zone whose city
/// is the name (`Oslo`, `new york`), or the nearest name by edit distance.
fn suggest_zone(name: &str) -> Option<&'static str> {
    let names = zone_names();
    let wanted = name.trim().replace(' ', "_");
    if let Some(same) = names.iter().find(|z| z.eq_ignore_ascii_case(&wanted)) {
        return Some(same);
    }
    if !wanted.contains('/')
        && let Some(city) = names
            .iter()
            .find(|z| z.rsplit_once('/').is_some_and(|(_, city)| city.eq_ignore_ascii_case(&wanted)))
    {
        return Some(city);
    }
    let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
    weir_grammar::closest(&wanted, &candidates)
}

fn parser() -> CronParser {
    CronParser::new()
}

/// Byte ranges of the whitespace-separated words of `text`.
fn words(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(parse("61 * * * *").err(), Some(CronProblem::Field { index: 0, range: 0..2 }));
        assert_eq!(parse("0 24 * * *").err(), Some(CronProblem::Field { index: 1, range: 2..4 }));
        assert_eq!(parse("0 0 32 * *").err(), Some(CronProblem::Field { index: 2, range: 4..6 }));
        assert_eq!(parse("0 0 * 13 *").err(), Some(CronProblem::Field { index: 3, range: 6..8 }));
        assert_eq!(parse("0 0 * * FUN").err(), Some(CronProblem::Field { index: 4, range: 8..11 }));
        assert_eq!(parse("0 0 * *").err(), Some(CronProblem::FieldCount(4)));
        assert_eq!(parse("0 0 0 * * * *").err(), Some(CronProblem::FieldCount(7)));
        assert_eq!(parse("  ").err(), Some(CronProblem::Empty));
        assert_eq!(parse("@fortnightly").err(), Some(CronProblem::UnknownShorthand));
        assert_eq!(parse("0 0 30 2 *").err(), Some(CronProblem::NeverFires { days: Some(4..8) }));
        assert_eq!(parse("0 0 31 4,6,9,11 *").err(), Some(CronProblem::NeverFires { days: Some(4..15) }));
        for bad in ["*/0 * * * *", "0 0 0 * *", "0 0 * 0 *", "0 0 * * 8", "1.5 * * * *", "0 0 * * MON#6"] {
            assert!(matches!(parse(bad), Err(CronProblem::Field { .. })), "{bad}: {:?}", parse(bad).err());
        }
    }

    #[test]
    fn valid_patterns_parse() {
        for ok in
            ["0 7 * * MON-FRI", "*/15 * * * *", "0 0 L * *", "0 9 * * 5#2", "@daily", "@Weekly", "0 0 29 2 1"]
        {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn suspicions() {
        let utc = zone("UTC").expect("utc");
        let now = Some(at("2026-01-01T00:00:00Z"));
        let of = |p: &str| parse(p).expect(p).suspicions(&utc, now);
        assert_eq!(of("0 7 * * *"), vec![]);
        assert_eq!(of("* 9 * * *"), vec![Suspicion::EveryMinute]);
        assert_eq!(of("0 0 29 2 *"), vec![Suspicion::LeapDayOnly]);
        assert_eq!(
            of("0 0 31 * *"),
            vec![Suspicion::SkipsMonths { never: vec![2, 4, 6, 9, 11], leap_only: vec![] }]
        );
        assert_eq!(of("0 0 29 * *"), vec![Suspicion::SkipsMonths { never: vec![], leap_only: vec![2] }]);
        // A day of week as well fires on those weekdays in every month.
        assert_eq!(of("0 0 31 * MON"), vec![]);
        assert_eq!(of("0 0 1,31 * *"), vec![]);
    }

    #[test]
    fn daylight_saving_gaps() {
        let berlin = zone("Europe/Berlin").expect("berlin");
        let now = Some(at("2026-01-01T00:00:00Z"));
        let gap = parse("30 2 * * *").expect("valid").suspicions(&berlin, now);
        assert_eq!(
            gap,
            vec![Suspicion::DstGap {
                date: civil::date(2026, 3, 29),
                at: civil::time(2, 30, 0, 0),
                from: civil::time(2, 0, 0, 0),
                to: civil::time(3, 0, 0, 0),
            }]
        );
        // Not on Mondays only: 2026-03-29 is a Sunday.
        assert_eq!(parse("30 2 * * MON").expect("valid").suspicions(&berlin, now), vec![]);
        // Hourly jobs skip one run, as they should; without a clock nothing is looked for.
        assert_eq!(parse("30 * * * *").expect("valid").suspicions(&berlin, now), vec![]);
        assert_eq!(parse("30 2 * * *").expect("valid").suspicions(&berlin, None), vec![]);
    }

    #[test]
    fn odd_patterns_never_panic() {
        // A small deterministic generator over cron's alphabet and some hostile characters.
        let alphabet: Vec<char> = "0123456789*/,-#LW?+@ MONSUNJAFRI\t\u{3000}ß０é".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let utc = zone("UTC").expect("utc");
        for _ in 0..3000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for i in 0..(seed % 24) {
                text.push(alphabet[((seed >> (i % 40)) as usize + i as usize * 7) % alphabet.len()]);
            }
            if let Ok(schedule) = parse(&text) {
                let _ = schedule.suspicions(&utc, Some(at("2026-01-01T00:00:00Z")));
                let _ = next_fire_times(&schedule, &utc, at("2026-01-01T00:00:00Z"), 3);
            }
        }
    }

    #[test]
    fn zones_and_suggestions() {
        assert!(zone("Europe/Oslo").is_ok());
        assert!(zone("UTC").is_ok());
        assert_eq!(zone("Europe/Olso").err(), Some(Some("Europe/Oslo")));
        assert_eq!(zone("europe/oslo").err(), Some(Some("Europe/Oslo")));
        assert_eq!(zone("New York").err(), Some(Some("America/New_York")));
        assert_eq!(zone("Mars/Olympus_Mons").err(), Some(None));
        assert!(zone_names().len() > 300);
    }

    #[test]
    fn next_fire_times_count_from_the_given_instant() {
        let oslo = zone("Europe/Oslo").expect("oslo");
        let schedule = parse("0 8 * * MON").expect("valid");
        let times: Vec<String> = next_fire_times(&schedule, &oslo, at("2026-01-01T00:00:00Z"), 3)
            .iter()
            .map(display_time)
            .collect();
        assert_eq!(
            times,
            ["Mon 5 Jan 2026 08:00 CET", "Mon 12 Jan 2026 08:00 CET", "Mon 19 Jan 2026 08:00 CET"]
        );
    }
}
