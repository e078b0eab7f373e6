//! Program rules: every number a program may change is a setting here, never a constant in code.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// What kind of hours a session is. One list, shared by kiosk, server and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HourCategory {
    /// Time in the classroom, recorded by badge scans at the kiosk.
    Classroom,
    /// The initial training week.
    Training,
    /// Weekly workshops.
    Workshop,
    /// Mutual-aid hours, which programs report separately.
    Community,
}

impl HourCategory {
    pub const ALL: [HourCategory; 4] = [
        HourCategory::Classroom,
        HourCategory::Training,
        HourCategory::Workshop,
        HourCategory::Community,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HourCategory::Classroom => "classroom",
            HourCategory::Training => "training",
            HourCategory::Workshop => "workshop",
            HourCategory::Community => "community",
        }
    }
}
impl fmt::Display for HourCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl FromStr for HourCategory {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        HourCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| DomainError::InvalidCategory(s.to_owned()))
    }
}

/// A day of the year on which a period starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl MonthDay {
    pub const fn new(month: u32, day: u32) -> Self {
        Self { month, day }
    }
    fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
    }
    fn is_valid(self) -> bool {
        // 2001 is not a leap year: Feb 29 is refused, since it would not exist every year.
        self.in_year(2001).is_some()
    }
}

/// How the calendar is cut into named program periods. Every date belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum PeriodScheme {
    /// `YYYY-fall` from `fall_starts` in YYYY to the day before `spring_starts` in YYYY+1;
    /// `YYYY-spring` from `spring_starts` to the day before `fall_starts` in YYYY.
    Semesters {
        fall_starts: MonthDay,
        spring_starts: MonthDay,
    },
    /// `YYYY-year` from `starts` in YYYY to the day before `starts` in YYYY+1.
    SchoolYears { starts: MonthDay },
}

impl Default for PeriodScheme {
    fn default() -> Self {
        PeriodScheme::Semesters {
            fall_starts: MonthDay::new(7, 1),
            spring_starts: MonthDay::new(1, 16),
        }
    }
}

impl PeriodScheme {
    pub fn school_years() -> Self {
        PeriodScheme::SchoolYears {
            starts: MonthDay::new(7, 1),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DomainError> {
        let ok = match *self {
            PeriodScheme::Semesters {
                fall_starts,
                spring_starts,
            } => {
                fall_starts.is_valid()
                    && spring_starts.is_valid()
                    && (spring_starts.month, spring_starts.day)
                        < (fall_starts.month, fall_starts.day)
            }
            PeriodScheme::SchoolYears { starts } => starts.is_valid(),
        };
        if ok {
            Ok(())
        } else {
            Err(DomainError::InvalidRules(
                "period start days must be real dates (not Feb 29), spring before fall".into(),
            ))
        }
    }

    /// The period a school-local date belongs to.
    pub fn period_of(&self, date: NaiveDate) -> Period {
        let year = date.year();
        let md = (date.month(), date.day());
        match *self {
            PeriodScheme::Semesters {
                fall_starts,
                spring_starts,
            } => {
                let fall = (fall_starts.month, fall_starts.day);
                let spring = (spring_starts.month, spring_starts.day);
                if md >= fall {
                    self.period(year, PeriodKind::Fall)
                } else if md >= spring {
                    self.period(year, PeriodKind::Spring)
                } else {
                    self.period(year.saturating_sub(1), PeriodKind::Fall)
                }
            }
            PeriodScheme::SchoolYears { starts } => {
                if md >= (starts.month, starts.day) {
                    self.period(year, PeriodKind::Year)
                } else {
                    self.period(year.saturating_sub(1), PeriodKind::Year)
                }
            }
        }
    }

    /// The period with this name (`2026-fall`), if the scheme has such periods.
    pub fn period_named(&self, name: &str) -> Result<Period, DomainError> {
        let bad = || DomainError::InvalidPeriod(name.to_owned());
        let (year, kind) = name.trim().split_once('-').ok_or_else(bad)?;
        // Exactly the canonical form (`2026-fall`): `+2026-fall` or `02026-fall` would parse to
        // the same year but never match a stored name.
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1000..=9998).contains(&year) {
            return Err(bad());
        }
        let kind = match (kind, self) {
            ("fall", PeriodScheme::Semesters { .. }) => PeriodKind::Fall,
            ("spring", PeriodScheme::Semesters { .. }) => PeriodKind::Spring,
            ("year", PeriodScheme::SchoolYears { .. }) => PeriodKind::Year,
            _ => return Err(bad()),
        };
        Ok(self.period(year, kind))
    }

    fn period(&self, year: i32, kind: PeriodKind) -> Period {
        // Start days were validated as real dates in every year, so `in_year` fails only at
        // the edges of chrono's range (a kiosk clock set to the year 262142): there the period
        // runs to the first or last date chrono knows. No arithmetic here can overflow.
        let day = |md: MonthDay, y: i32| md.in_year(y);
        let next_year = year.checked_add(1).unwrap_or(year);
        let (first, next) = match (*self, kind) {
            (
                PeriodScheme::Semesters {
                    fall_starts,
                    spring_starts,
                },
                PeriodKind::Fall,
            ) => (day(fall_starts, year), day(spring_starts, next_year)),
            (
                PeriodScheme::Semesters {
                    fall_starts,
                    spring_starts,
                },
                _,
            ) => (day(spring_starts, year), day(fall_starts, year)),
            (PeriodScheme::SchoolYears { starts }, _) => {
                (day(starts, year), day(starts, next_year))
            }
        };
        Period {
            name: PeriodName(format!("{year}-{}", kind.suffix())),
            first_day: first.unwrap_or(NaiveDate::MIN),
            last_day: next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX),
        }
    }
}

#[derive(Clone, Copy)]
enum PeriodKind {
    Fall,
    Spring,
    Year,
}
impl PeriodKind {
    fn suffix(self) -> &'static str {
        match self {
            PeriodKind::Fall => "fall",
            PeriodKind::Spring => "spring",
            PeriodKind::Year => "year",
        }
    }
}

/// A period's name, e.g. `2026-fall`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeriodName(pub String);

impl fmt::Display for PeriodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named program period: both days inclusive, school-local dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub name: PeriodName,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Period {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first_day <= date && date <= self.last_day
    }
}

/// A program's rules. Defaults are DESIGN.md's ("the classic model").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProgramRules {
    pub periods: PeriodScheme,
    /// Hours in one period after which a mentor is owed a stipend.
    pub stipend_threshold_hours: f64,
    /// Categories whose hours count toward the stipend.
    pub counting_categories: Vec<HourCategory>,
    /// A session longer than this needs review.
    pub session_cap_hours: f64,
    /// The same badge seen again within this many seconds repeats the last confirmation and
    /// records nothing.
    pub duplicate_window_secs: u32,
    /// Events dated before this day are implausible (a kiosk clock reset to 1970).
    pub earliest_plausible_date: NaiveDate,
    /// Events dated more than this many hours after "now" are implausible (a clock in the future).
    pub future_tolerance_hours: u32,
    /// A kiosk whose clock was off by more than this many seconds when it recorded events
    /// (as the clock checks and jumps around them say) has those events' sessions flagged for
    /// review; a wall-clock jump larger than this is recorded as a clock-jump event.
    pub clock_skew_tolerance_secs: u32,
    /// A scan within this many minutes after a check-in is not a check-out ("already checked
    /// in"), and within this many minutes after a check-out is not a check-in ("already checked
    /// out"): nobody volunteers for three minutes. The sessionizer takes a second check-in
    /// within it as the same arrival.
    pub min_session_minutes: u32,
    /// A session a coordinator adds on a kiosk may start at most this many days before the
    /// server receives it; older ones are set aside for an organizer.
    pub coordinator_entry_max_age_days: u32,
    /// The value of one volunteered hour, as decimal text (`34.79`), for the program report's
    /// in-kind column: the rate funders publish each year. None: the column stays empty.
    /// Server-side only (rosters leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volunteer_hour_rate: Option<String>,
    /// What the kiosk does at the check-in of a mentor whose clearance has expired: warn (the
    /// default) or refuse.
    pub expired_clearance: crate::ExpiredClearance,
    /// From this day (UTC, by the server's clock at delivery) kiosks registered before scan
    /// proofs existed must prove every badge scan too (`scan_unproven` otherwise). `None`: 30
    /// days after the server first ran with scan proofs. Server-side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_scan_proof_from: Option<NaiveDate>,
    /// Badge scans delivered more than this many days after they happened go to review
    /// (`late_delivery`); 0 turns it off. `None`: 14. Server-side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_delivery_days: Option<u32>,
    /// Days a coordinator PIN that was on a lost kiosk (`kiosk add --replaces`) keeps working
    /// before kiosks refuse it until it is set again. `None`: 3. Server-side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_pin_grace_days: Option<u32>,
    /// The period rules (periods, threshold, counting categories, cap, volunteer rate) in force
    /// before the ones above, oldest first (see `rules_in_force`). Empty: the rules above judge
    /// every period.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<crate::rules_in_force::EarlierRules>,
}

impl Default for ProgramRules {
    fn default() -> Self {
        Self {
            periods: PeriodScheme::default(),
            stipend_threshold_hours: 100.0,
            counting_categories: vec![
                HourCategory::Classroom,
                HourCategory::Training,
                HourCategory::Workshop,
            ],
            session_cap_hours: 8.0,
            duplicate_window_secs: 60,
            earliest_plausible_date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or(NaiveDate::MIN),
            future_tolerance_hours: 24,
            clock_skew_tolerance_secs: 300,
            min_session_minutes: 10,
            coordinator_entry_max_age_days: 14,
            volunteer_hour_rate: None,
            expired_clearance: crate::ExpiredClearance::Warn,
            require_scan_proof_from: None,
            late_delivery_days: None,
            exposed_pin_grace_days: None,
            earlier: Vec::new(),
        }
    }
}

/// Days an exposed coordinator PIN keeps working, by default.
pub const DEFAULT_EXPOSED_PIN_GRACE_DAYS: u32 = 3;

/// How late a scan may be delivered before it needs an organizer's look, by default.
pub const DEFAULT_LATE_DELIVERY_DAYS: u32 = 14;

/// Money as decimal text (`600`, `34.7`, `34.79`; at most 7 digits before the point, 2 after)
/// in cents; None for anything else. Money is never a float.
pub fn money_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 7 || !digits(whole) || frac.len() > 2 || !digits(frac) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    Some(whole * 100 + frac)
}

/// Cents as decimal text with two places (`1200.00`).
pub fn money_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (cents / 100).abs(), (cents % 100).abs())
}

pub(crate) fn hours_to_duration(hours: f64) -> Duration {
    Duration::milliseconds((hours * 3_600_000.0).round() as i64)
}

impl ProgramRules {
    /// Days after which a delivered badge scan is late (`None`: never, the rule is off).
    pub fn late_delivery(&self) -> Option<chrono::Duration> {
        match self
            .late_delivery_days
            .unwrap_or(DEFAULT_LATE_DELIVERY_DAYS)
        {
            0 => None,
            days => Some(chrono::Duration::days(i64::from(days))),
        }
    }
    /// Checks what serde cannot: positive finite numbers, real period boundaries, changes over
    /// time that never cut a period in two.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.validate_stretches()?;
        let shortest_cap = self
            .stretches()
            .iter()
            .map(|s| hours_to_duration(s.rules.session_cap_hours))
            .min()
            .unwrap_or_else(Duration::zero);
        if self.min_session_minutes > 120
            || self.min_session() >= shortest_cap
            || self.duplicate_window_secs > 3600
        {
            return Err(DomainError::InvalidRules(
                "the already-checked-in window must be at most 120 minutes and shorter than the session cap"
                    .into(),
            ));
        }
        Ok(())
    }
    pub fn duplicate_window(&self) -> Duration {
        Duration::seconds(i64::from(self.duplicate_window_secs))
    }
    pub fn future_tolerance(&self) -> Duration {
        Duration::hours(i64::from(self.future_tolerance_hours))
    }
    pub fn clock_skew_tolerance(&self) -> Duration {
        Duration::seconds(i64::from(self.clock_skew_tolerance_secs))
    }
    pub fn min_session(&self) -> Duration {
        Duration::minutes(i64::from(self.min_session_minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_is_decimal_text_in_exact_cents() {
        assert_eq!(money_cents("34.79"), Some(3479));
        assert_eq!(money_cents("34.7"), Some(3470));
        assert_eq!(money_cents(" 600 "), Some(60000));
        assert_eq!(money_cents("0.05"), Some(5));
        for bad in [
            "", ".5", "5.", "-1", "1e3", "1.234", "12345678", "NaN", "3,50",
        ] {
            assert_eq!(money_cents(bad), None, "{bad:?}");
        }
        assert_eq!(money_text(3479), "34.79");
        assert_eq!(money_text(5), "0.05");
        let mut rules = ProgramRules {
            volunteer_hour_rate: Some("34.795".into()),
            ..ProgramRules::default()
        };
        assert!(rules.validate().is_err());
        rules.volunteer_hour_rate = Some("34.79".into());
        assert_eq!(
            rules.latest_period_rules().volunteer_rate_cents(),
            Some(3479)
        );
        assert!(rules.validate().is_ok());
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    fn check(scheme: PeriodScheme, date: NaiveDate, expected: &str) {
        assert_eq!(scheme.period_of(date).name.0, expected, "{date}");
    }

    #[test]
    fn default_semesters_match_design() {
        let s = PeriodScheme::default();
        check(s, d(2026, 7, 1), "2026-fall");
        check(s, d(2026, 6, 30), "2026-spring");
        check(s, d(2027, 1, 15), "2026-fall");
        check(s, d(2027, 1, 16), "2027-spring");
        check(s, d(2026, 12, 31), "2026-fall");
        let fall = s.period_named("2026-fall").expect("named period");
        assert_eq!(
            (fall.first_day, fall.last_day),
            (d(2026, 7, 1), d(2027, 1, 15))
        );
        let spring = s.period_named("2027-spring").expect("named period");
        assert_eq!(
            (spring.first_day, spring.last_day),
            (d(2027, 1, 16), d(2027, 6, 30))
        );
    }

    #[test]
    fn school_years() {
        let s = PeriodScheme::school_years();
        check(s, d(2026, 7, 1), "2026-year");
        check(s, d(2027, 6, 30), "2026-year");
        assert!(s.period_named("2026-fall").is_err());
        assert!(PeriodScheme::default().period_named("2026-year").is_err());
        assert!(PeriodScheme::default().period_named("fall-2026").is_err());
        assert!(PeriodScheme::default().period_named("99999-fall").is_err());
        assert!(PeriodScheme::default().period_named("+2026-fall").is_err());
        assert!(PeriodScheme::default().period_named("0226-fall").is_err());
        assert_eq!(
            PeriodScheme::default()
                .period_named(" 2026-fall ")
                .map(|p| p.name.0),
            Ok("2026-fall".to_owned())
        );
    }

    #[test]
    fn rules_round_trip_and_validate() {
        let rules = ProgramRules::default();
        assert!(rules.validate().is_ok());
        let json = serde_json::to_string(&rules).expect("serialize");
        let back: ProgramRules = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, rules);
        let partial: ProgramRules =
            serde_json::from_str(r#"{"stipend_threshold_hours": 200, "periods": {"scheme":"school_years","starts":{"month":7,"day":1}}}"#)
                .expect("partial config");
        assert_eq!(partial.stipend_threshold_hours, 200.0);
        assert_eq!(partial.session_cap_hours, 8.0);
        let bad = ProgramRules {
            session_cap_hours: -1.0,
            ..ProgramRules::default()
        };
        assert!(bad.validate().is_err());
        let bad = ProgramRules {
            periods: PeriodScheme::Semesters {
                fall_starts: MonthDay::new(2, 29),
                spring_starts: MonthDay::new(1, 1),
            },
            ..ProgramRules::default()
        };
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<ProgramRules>(r#"{"threshold": 5}"#).is_err());
    }

    proptest! {
        #[test]
        fn every_date_belongs_to_exactly_one_period(days in 0i64..40_000, years in any::<bool>()) {
            let scheme = if years { PeriodScheme::school_years() } else { PeriodScheme::default() };
            let date = d(1990, 1, 1) + Duration::days(days);
            let p = scheme.period_of(date);
            prop_assert!(p.contains(date));
            // The named lookup gives the same period, and neighbours are different periods that touch.
            prop_assert_eq!(scheme.period_named(&p.name.0).ok(), Some(p.clone()));
            let next = scheme.period_of(p.last_day + Duration::days(1));
            prop_assert_ne!(&next.name, &p.name);
            prop_assert_eq!(next.first_day, p.last_day + Duration::days(1));
        }
    }
}
