//! The public-holiday calendar the detector models: statutory days off (法定节假日, including the
//! weekend days a holiday block swallows), make-up working days (调休上班), and the first two
//! working days after a block of three days or more, when the backlog of the holiday arrives.
//! The Spring Festival moves by up to a month from year to year, so a model that only knows the
//! weekday and the season would read every post-holiday backlog as an outbreak and every
//! holiday as a lull. The dates are data (`config/holidays.toml`, published each year by the
//! State Council); this module only parses them and answers per day. No I/O.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;

/// What kind of day a day is, for the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayKind {
    /// An ordinary day: its weekday decides.
    #[default]
    Normal,
    /// A statutory day off.
    Off,
    /// One of the first two working days after a block of three or more days off.
    After,
    /// A weekend day worked in exchange for a holiday (counts as a Monday).
    MakeUp,
}

/// Days counted from 1970-01-01: the day numbers the hotspot batch counts in.
pub fn day_number(d: NaiveDate) -> i64 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")).num_days()
}

/// The date of a day number.
pub fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + chrono::Duration::days(day)
}

/// A parsed holiday calendar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    kinds: HashMap<i64, DayKind>,
    /// First and last year the calendar covers.
    pub years: Option<(i32, i32)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    year: Vec<Year>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Year {
    year: i32,
    /// Blocks of days off, each `["YYYY-MM-DD", "YYYY-MM-DD"]` (first and last day).
    off: Vec<[String; 2]>,
    /// Make-up working days.
    #[serde(default)]
    work: Vec<String>,
}

/// A calendar that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Not valid TOML of the expected shape.
    #[error("the holiday calendar is not valid: {0}")]
    Format(String),
    /// A date that is not YYYY-MM-DD, or a block that ends before it starts.
    #[error("the holiday calendar has a bad date `{0}` (use YYYY-MM-DD; a block's last day is not before its first)")]
    Date(String),
}

impl Calendar {
    /// Parses `config/holidays.toml`.
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError::Format(e.message().to_string()))?;
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| CalendarError::Date(s.to_string()));
        let mut kinds = HashMap::new();
        let mut blocks = Vec::new();
        for y in &file.year {
            for [from, to] in &y.off {
                let (a, b) = (day_number(date(from)?), day_number(date(to)?));
                if b < a {
                    return Err(CalendarError::Date(to.clone()));
                }
                for d in a..=b {
                    kinds.insert(d, DayKind::Off);
                }
                blocks.push((a, b));
            }
            for w in &y.work {
                kinds.insert(day_number(date(w)?), DayKind::MakeUp);
            }
        }
        // The first two working days after a long block: skip the weekend days that follow it
        // unless they are make-up days.
        for (a, b) in blocks {
            if b - a + 1 < 3 {
                continue;
            }
            let mut d = b + 1;
            let mut marked = 0;
            while marked < 2 && d < b + 10 {
                let weekend = (d + 3).rem_euclid(7) >= 5;
                match kinds.get(&d) {
                    Some(DayKind::Off) => {}
                    Some(DayKind::MakeUp) => {
                        kinds.insert(d, DayKind::After);
                        marked += 1;
                    }
                    _ if weekend => {}
                    _ => {
                        kinds.insert(d, DayKind::After);
                        marked += 1;
                    }
                }
                d += 1;
            }
        }
        let years = file.year.iter().map(|y| y.year).fold(None, |acc: Option<(i32, i32)>, y| Some(acc.map_or((y, y), |(lo, hi)| (lo.min(y), hi.max(y)))));
        Ok(Calendar { kinds, years })
    }

    /// The kind of each day of `[first_day, first_day + days)`.
    pub fn kinds(&self, first_day: i64, days: usize) -> Vec<DayKind> {
        (0..days as i64).map(|i| self.kinds.get(&(first_day + i)).copied().unwrap_or_default()).collect()
    }

    /// Whether the calendar covers the year of `day` (a day number).
    pub fn covers(&self, day: i64) -> bool {
        let year = chrono::Datelike::year(&date_of(day));
        self.years.is_some_and(|(lo, hi)| year >= lo && year <= hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> i64 {
        day_number(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn spring_festival_2024_with_its_make_up_days() {
        let c = Calendar::parse("[[year]]\nyear = 2024\noff = [[\"2024-02-10\", \"2024-02-17\"], [\"2024-04-04\", \"2024-04-04\"]]\nwork = [\"2024-02-04\", \"2024-02-18\"]\n").unwrap();
        let at = |s: &str| c.kinds(n(s), 1)[0];
        assert_eq!(at("2024-02-09"), DayKind::Normal);
        assert_eq!(at("2024-02-10"), DayKind::Off);
        assert_eq!(at("2024-02-17"), DayKind::Off);
        // Sunday the 18th is worked: it is the first working day after the block, then Monday.
        assert_eq!(at("2024-02-18"), DayKind::After);
        assert_eq!(at("2024-02-19"), DayKind::After);
        assert_eq!(at("2024-02-20"), DayKind::Normal);
        assert_eq!(at("2024-02-04"), DayKind::MakeUp);
        // A one-day holiday has no backlog days.
        assert_eq!(at("2024-04-05"), DayKind::Normal);
        assert!(c.covers(n("2024-07-01")) && !c.covers(n("2025-01-01")));
    }

    #[test]
    fn bad_calendars_say_what_is_wrong() {
        assert!(matches!(Calendar::parse("[[year]]\nyear = 2024\noff = [[\"2024-02-30\", \"2024-03-01\"]]"), Err(CalendarError::Date(_))));
        assert!(matches!(Calendar::parse("[[year]]\nyear = 2024\noff = [[\"2024-03-02\", \"2024-03-01\"]]"), Err(CalendarError::Date(_))));
        assert!(matches!(Calendar::parse("[[year]]\nyaer = 2024"), Err(CalendarError::Format(_))));
        assert_eq!(Calendar::parse("").unwrap().years, None);
    }

    #[test]
    fn the_shipped_calendar_parses() {
        let c = Calendar::parse(include_str!("../../config/holidays.toml")).unwrap();
        assert_eq!(c.kinds(n("2025-01-29"), 1)[0], DayKind::Off, "Spring Festival 2025");
        assert!(c.covers(n("2019-05-01")) && c.covers(n("2026-10-01")));
    }
}
