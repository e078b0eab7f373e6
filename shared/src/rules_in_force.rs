//! Rules over time: a period is judged by the rules in force for it. The threshold, the session
//! cap, the counting categories and the volunteer rate change only from a period on, and a
//! change never reaches back into a period that has closed (nor re-cuts one that has begun);
//! every other rule is program-wide and takes effect at once.
//!
//! The program's rules hold the latest period rules in their own fields and, in
//! [`ProgramRules::earlier`], the rules that were in force before, each up to the day a change
//! took effect. Every such day starts a period in the rules on both sides of it, so every
//! period lies within one stretch of rules: [`ProgramRules::on`] gives the rules of a date,
//! [`ProgramRules::period_of`] and [`ProgramRules::period_named`] the periods as they were (and
//! will be) defined.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::rules::{hours_to_duration, money_cents};
use crate::{DomainError, HourCategory, Period, PeriodScheme, ProgramRules};

/// The rules that judge a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodRules {
    pub periods: PeriodScheme,
    pub stipend_threshold_hours: f64,
    pub counting_categories: Vec<HourCategory>,
    pub session_cap_hours: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volunteer_hour_rate: Option<String>,
}

/// Period rules that were in force for the dates before `until` (back to the previous entry's
/// `until`, or from the beginning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlierRules {
    /// The first day the next rules took effect: a period start under both.
    pub until: NaiveDate,
    pub rules: PeriodRules,
}

/// The period rules in force on a date, borrowed from the program's rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InForce<'a> {
    pub periods: PeriodScheme,
    pub stipend_threshold_hours: f64,
    pub counting_categories: &'a [HourCategory],
    pub session_cap_hours: f64,
    pub volunteer_hour_rate: Option<&'a str>,
}

impl InForce<'_> {
    pub fn threshold(&self) -> Duration {
        hours_to_duration(self.stipend_threshold_hours)
    }
    pub fn session_cap(&self) -> Duration {
        hours_to_duration(self.session_cap_hours)
    }
    pub fn counts_toward_stipend(&self, category: HourCategory) -> bool {
        self.counting_categories.contains(&category)
    }
    pub fn volunteer_rate_cents(&self) -> Option<i64> {
        self.volunteer_hour_rate.and_then(money_cents)
    }
    pub fn to_owned_rules(&self) -> PeriodRules {
        PeriodRules {
            periods: self.periods,
            stipend_threshold_hours: self.stipend_threshold_hours,
            counting_categories: self.counting_categories.to_vec(),
            session_cap_hours: self.session_cap_hours,
            volunteer_hour_rate: self.volunteer_hour_rate.map(str::to_owned),
        }
    }
}

impl PeriodRules {
    fn in_force(&self) -> InForce<'_> {
        InForce {
            periods: self.periods,
            stipend_threshold_hours: self.stipend_threshold_hours,
            counting_categories: &self.counting_categories,
            session_cap_hours: self.session_cap_hours,
            volunteer_hour_rate: self.volunteer_hour_rate.as_deref(),
        }
    }
}

/// What a `program set` changes among the period rules (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleChange {
    pub periods: Option<PeriodScheme>,
    pub stipend_threshold_hours: Option<f64>,
    pub session_cap_hours: Option<f64>,
    pub counting_categories: Option<Vec<HourCategory>>,
    /// `Some(None)` clears the rate.
    pub volunteer_hour_rate: Option<Option<String>>,
}

impl RuleChange {
    pub fn is_empty(&self) -> bool {
        *self == RuleChange::default()
    }
    fn apply(&self, r: &mut PeriodRules) {
        if let Some(p) = self.periods {
            r.periods = p;
        }
        if let Some(t) = self.stipend_threshold_hours {
            r.stipend_threshold_hours = t;
        }
        if let Some(c) = self.session_cap_hours {
            r.session_cap_hours = c;
        }
        if let Some(list) = &self.counting_categories {
            r.counting_categories = list.clone();
        }
        if let Some(rate) = &self.volunteer_hour_rate {
            r.volunteer_hour_rate = rate.clone();
        }
    }
}

/// Where the calendar stands: the earliest and the latest school-local date of today among the
/// program's schools. A period is *closed* once its last day is before `earliest` (past at
/// every school) and has *begun* once its first day is on or before `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Today {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

/// A stretch of dates under one set of period rules: `[from, until)`, open-ended where `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stretch {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub rules: PeriodRules,
}

impl Stretch {
    fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.until.is_none_or(|u| date < u)
    }
    fn holds(&self, p: &Period) -> bool {
        self.contains(p.first_day) && self.contains(p.last_day)
    }
}

/// How far ahead a scheme change looks for a day that starts a period under both schemes.
const SEARCH_DAYS: i64 = 366 * 6;

impl ProgramRules {
    /// The period rules in force on a school-local date.
    pub fn on(&self, date: NaiveDate) -> InForce<'_> {
        match self.earlier.iter().find(|e| date < e.until) {
            Some(e) => e.rules.in_force(),
            None => self.latest_period_rules(),
        }
    }

    /// The latest period rules (in force from the last change on).
    pub fn latest_period_rules(&self) -> InForce<'_> {
        InForce {
            periods: self.periods,
            stipend_threshold_hours: self.stipend_threshold_hours,
            counting_categories: &self.counting_categories,
            session_cap_hours: self.session_cap_hours,
            volunteer_hour_rate: self.volunteer_hour_rate.as_deref(),
        }
    }

    /// The period a school-local date belongs to, as the rules in force then cut the calendar.
    pub fn period_of(&self, date: NaiveDate) -> Period {
        self.on(date).periods.period_of(date)
    }

    /// The period with this name, as it was (or will be) defined: a name of the scheme in force
    /// at the time it names.
    pub fn period_named(&self, name: &str) -> Result<Period, DomainError> {
        let mut first_error = None;
        for stretch in self.stretches() {
            match stretch.rules.periods.period_named(name) {
                Ok(p) if stretch.holds(&p) => return Ok(p),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| DomainError::InvalidPeriod(name.trim().to_owned())))
    }

    /// The rules of one named period.
    pub fn period_rules(&self, name: &str) -> Result<(Period, InForce<'_>), DomainError> {
        let p = self.period_named(name)?;
        let rules = self.on(p.first_day);
        Ok((p, rules))
    }

    /// These rules with every period judged by the rules in force on `date` (what a kiosk
    /// needs: it only ever judges today).
    pub fn as_of(&self, date: NaiveDate) -> ProgramRules {
        let now = self.on(date).to_owned_rules();
        let mut flat = self.clone();
        flat.earlier.clear();
        flat.set_period_rules(now);
        flat
    }

    /// The stretches of dates and the period rules of each, in date order.
    pub fn stretches(&self) -> Vec<Stretch> {
        let mut out = Vec::with_capacity(self.earlier.len() + 1);
        let mut from = None;
        for e in &self.earlier {
            out.push(Stretch {
                from,
                until: Some(e.until),
                rules: e.rules.clone(),
            });
            from = Some(e.until);
        }
        out.push(Stretch {
            from,
            until: None,
            rules: self.latest_period_rules().to_owned_rules(),
        });
        out
    }

    fn set_period_rules(&mut self, r: PeriodRules) {
        self.periods = r.periods;
        self.stipend_threshold_hours = r.stipend_threshold_hours;
        self.counting_categories = r.counting_categories;
        self.session_cap_hours = r.session_cap_hours;
        self.volunteer_hour_rate = r.volunteer_hour_rate;
    }

    /// These program-wide rules over the given stretches (adjacent equal ones merged).
    fn with_stretches(&self, stretches: Vec<Stretch>) -> ProgramRules {
        let mut merged: Vec<Stretch> = Vec::new();
        for s in stretches {
            match merged.last_mut() {
                Some(last) if last.rules == s.rules => last.until = s.until,
                _ => merged.push(s),
            }
        }
        let mut out = self.clone();
        out.earlier.clear();
        let Some(latest) = merged.pop() else {
            return out;
        };
        out.earlier = merged
            .into_iter()
            .filter_map(|s| {
                Some(EarlierRules {
                    until: s.until?,
                    rules: s.rules,
                })
            })
            .collect();
        out.set_period_rules(latest.rules);
        out
    }

    /// Every period rule set valid; changes in date order, each on a day that starts a period
    /// under the rules on both sides of it.
    pub(crate) fn validate_stretches(&self) -> Result<(), DomainError> {
        let stretches = self.stretches();
        for s in &stretches {
            check_period_rules(&s.rules)?;
        }
        for pair in stretches.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            let Some(day) = after.from else {
                continue;
            };
            if before.from.is_some_and(|f| f >= day) {
                return Err(DomainError::InvalidRules(
                    "rule changes must be in date order".into(),
                ));
            }
            if !starts_period(&before.rules.periods, day)
                || !starts_period(&after.rules.periods, day)
            {
                return Err(DomainError::InvalidRules(format!(
                    "a change on {day} would cut a period in two: changes take effect on a day that starts a period under both the old and the new rules"
                )));
            }
        }
        Ok(())
    }

    /// The rules with `change` applied to every period (a program that holds no events or
    /// payments yet).
    pub fn changed_everywhere(&self, change: &RuleChange) -> Result<ProgramRules, DomainError> {
        let stretches = self
            .stretches()
            .into_iter()
            .map(|mut s| {
                change.apply(&mut s.rules);
                s
            })
            .collect();
        let out = self.with_stretches(stretches);
        out.validate()?;
        Ok(out)
    }

    /// The first day a change takes effect, given `today`: a named period's first day (the
    /// current one or later; for a new scheme, one that has not begun and starts a period of
    /// the old one too), else the current period's first day, or for a new scheme the next day
    /// that starts a period under both.
    pub fn change_start(
        &self,
        change: &RuleChange,
        from_period: Option<&str>,
        today: Today,
    ) -> Result<NaiveDate, DomainError> {
        let scheme_at = |d: NaiveDate| self.on(d).periods;
        let new_scheme = change.periods.filter(|p| *p != scheme_at(today.latest));
        match (new_scheme, from_period) {
            (Some(scheme), Some(name)) => {
                let p = scheme.period_named(name)?;
                if p.first_day <= today.latest || !starts_period(&scheme_at(p.first_day), p.first_day)
                {
                    return Err(DomainError::InvalidRules(format!(
                        "{} cannot start the new periods: a change of periods takes effect on a day that has not come yet and starts a period under the old periods too; days that work: {}",
                        p.name,
                        self.workable_starts(&scheme, today, 3).join(", ")
                    )));
                }
                Ok(p.first_day)
            }
            (Some(scheme), None) => self
                .common_starts(&scheme, today)
                .next()
                .ok_or_else(|| {
                    DomainError::InvalidRules(
                        "no day in the next six years starts a period under both the old and the new periods".into(),
                    )
                }),
            (None, Some(name)) => {
                let p = self.period_named(name)?;
                if p.last_day < today.earliest {
                    return Err(DomainError::InvalidRules(format!(
                        "{} is closed (its last day, {}, is past at every school) and keeps its rules: name the current period, {}, or a later one",
                        p.name,
                        p.last_day,
                        self.period_of(today.earliest).name
                    )));
                }
                Ok(p.first_day)
            }
            (None, None) => Ok(self.period_of(today.earliest).first_day),
        }
    }

    /// The rules with `change` applied from `from` on (a period start: see
    /// [`ProgramRules::change_start`]); what came before stays as it was.
    pub fn changed_from(
        &self,
        from: NaiveDate,
        change: &RuleChange,
    ) -> Result<ProgramRules, DomainError> {
        let mut stretches = Vec::new();
        for s in self.stretches() {
            if s.contains(from) && s.from != Some(from) {
                stretches.push(Stretch {
                    from: s.from,
                    until: Some(from),
                    rules: s.rules.clone(),
                });
                let mut later = Stretch {
                    from: Some(from),
                    until: s.until,
                    rules: s.rules,
                };
                change.apply(&mut later.rules);
                stretches.push(later);
            } else if s.from.is_some_and(|f| f >= from) {
                let mut s = s;
                change.apply(&mut s.rules);
                stretches.push(s);
            } else {
                stretches.push(s);
            }
        }
        let out = self.with_stretches(stretches);
        out.validate()?;
        Ok(out)
    }

    fn common_starts<'a>(
        &'a self,
        scheme: &'a PeriodScheme,
        today: Today,
    ) -> impl Iterator<Item = NaiveDate> + 'a {
        (1..SEARCH_DAYS)
            .filter_map(move |n| today.latest.checked_add_signed(Duration::days(n)))
            .filter(move |d| starts_period(scheme, *d) && starts_period(&self.on(*d).periods, *d))
    }

    fn workable_starts(&self, scheme: &PeriodScheme, today: Today, n: usize) -> Vec<String> {
        self.common_starts(scheme, today)
            .take(n)
            .map(|d| format!("{d} ({})", scheme.period_of(d).name))
            .collect()
    }
}

fn starts_period(scheme: &PeriodScheme, day: NaiveDate) -> bool {
    scheme.period_of(day).first_day == day
}

/// What serde cannot check in one period's rules.
pub(crate) fn check_period_rules(r: &PeriodRules) -> Result<(), DomainError> {
    r.periods.validate()?;
    let positive = |x: f64| x.is_finite() && x > 0.0 && x < 100_000.0;
    if !positive(r.stipend_threshold_hours) {
        return Err(DomainError::InvalidRules(
            "stipend threshold must be a positive number of hours".into(),
        ));
    }
    if !positive(r.session_cap_hours) || r.session_cap_hours > 24.0 * 7.0 {
        return Err(DomainError::InvalidRules(
            "session cap must be a positive number of hours, at most a week".into(),
        ));
    }
    if let Some(rate) = &r.volunteer_hour_rate {
        if money_cents(rate).is_none() {
            return Err(DomainError::InvalidRules(format!(
                "volunteer rate {rate:?} is not a sum like 34.79"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    fn today(date: NaiveDate) -> Today {
        Today {
            earliest: date,
            latest: date,
        }
    }

    fn threshold(t: f64) -> RuleChange {
        RuleChange {
            stipend_threshold_hours: Some(t),
            ..RuleChange::default()
        }
    }

    #[test]
    fn a_change_reaches_the_current_period_and_later_ones_only() {
        let rules = ProgramRules::default();
        let change = threshold(200.0);
        let from = rules
            .change_start(&change, None, today(d(2027, 1, 20)))
            .expect("start");
        assert_eq!(from, d(2027, 1, 16));
        let new = rules.changed_from(from, &change).expect("changed");
        assert_eq!(new.on(d(2026, 12, 1)).stipend_threshold_hours, 100.0);
        assert_eq!(new.on(d(2027, 1, 16)).stipend_threshold_hours, 200.0);
        assert_eq!(new.on(d(2030, 1, 1)).stipend_threshold_hours, 200.0);
        // The same change again changes nothing; a change back merges the stretches.
        assert_eq!(new.changed_from(from, &change).expect("again"), new);
        let back = new.changed_from(from, &threshold(100.0)).expect("back");
        assert!(back.earlier.is_empty());
    }

    #[test]
    fn a_closed_period_keeps_its_rules_and_a_later_one_may_be_named() {
        let rules = ProgramRules::default();
        let now = today(d(2027, 1, 20));
        let closed = rules.change_start(&threshold(50.0), Some("2026-fall"), now);
        assert!(matches!(closed, Err(DomainError::InvalidRules(m)) if m.contains("closed")));
        let later = rules
            .change_start(&threshold(50.0), Some("2027-fall"), now)
            .expect("later");
        assert_eq!(later, d(2027, 7, 1));
        // On the last day of the fall at one school and the first of spring at another, the
        // fall is still open.
        let straddling = Today {
            earliest: d(2027, 1, 15),
            latest: d(2027, 1, 16),
        };
        assert_eq!(
            rules.change_start(&threshold(50.0), None, straddling),
            Ok(d(2026, 7, 1))
        );
    }

    #[test]
    fn semesters_to_years_waits_for_the_next_first_of_july() {
        let rules = ProgramRules::default();
        let change = RuleChange {
            periods: Some(PeriodScheme::school_years()),
            stipend_threshold_hours: Some(200.0),
            ..RuleChange::default()
        };
        let from = rules
            .change_start(&change, None, today(d(2027, 1, 20)))
            .expect("start");
        assert_eq!(from, d(2027, 7, 1));
        let new = rules.changed_from(from, &change).expect("changed");
        assert_eq!(new.period_of(d(2027, 6, 30)).name.0, "2027-spring");
        assert_eq!(new.period_of(d(2027, 7, 1)).name.0, "2027-year");
        assert_eq!(new.period_of(d(2026, 9, 1)).name.0, "2026-fall");
        assert!(
            new.period_named("2026-year").is_err(),
            "never a year over semesters"
        );
        assert!(
            new.period_named("2027-fall").is_err(),
            "no semesters after the switch"
        );
        assert_eq!(
            new.period_named("2027-year")
                .map(|p| (p.first_day, p.last_day)),
            Ok((d(2027, 7, 1), d(2028, 6, 30)))
        );
        assert_eq!(
            new.period_rules("2026-fall")
                .map(|(_, r)| r.stipend_threshold_hours),
            Ok(100.0)
        );
        assert_eq!(
            new.period_rules("2027-year")
                .map(|(_, r)| r.stipend_threshold_hours),
            Ok(200.0)
        );
        // A year that has begun, or one that would cut a semester, cannot be named.
        let begun = rules.change_start(&change, Some("2026-year"), today(d(2027, 1, 20)));
        assert!(matches!(begun, Err(DomainError::InvalidRules(m)) if m.contains("2027-07-01")));
        assert_eq!(
            rules.change_start(&change, Some("2028-year"), today(d(2027, 1, 20))),
            Ok(d(2028, 7, 1))
        );
        // Stored and read back, the rules say the same.
        let json = serde_json::to_string(&new).expect("json");
        let back: ProgramRules = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, new);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn a_kiosk_gets_the_rules_of_today() {
        let change = threshold(150.0);
        let rules = ProgramRules::default()
            .changed_from(d(2027, 1, 16), &change)
            .expect("changed");
        let flat = rules.as_of(d(2026, 12, 1));
        assert!(flat.earlier.is_empty());
        assert_eq!(flat.stipend_threshold_hours, 100.0);
        assert_eq!(rules.as_of(d(2027, 2, 1)).stipend_threshold_hours, 150.0);
    }

    #[test]
    fn stored_changes_that_cut_a_period_are_refused() {
        let mut rules = ProgramRules::default();
        rules.earlier.push(EarlierRules {
            until: d(2026, 9, 1),
            rules: rules.latest_period_rules().to_owned_rules(),
        });
        rules.stipend_threshold_hours = 10.0;
        assert!(rules.validate().is_err());
    }

    fn any_change() -> impl Strategy<Value = (RuleChange, Option<u8>)> {
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(1u32..400),
            proptest::option::of(1u32..16),
            proptest::option::of(proptest::sample::subsequence(
                HourCategory::ALL.to_vec(),
                0..4,
            )),
            proptest::option::of(0u8..3),
        )
            .prop_map(|(years, t, cap, counting, from)| {
                (
                    RuleChange {
                        periods: years.map(|y| {
                            if y {
                                PeriodScheme::school_years()
                            } else {
                                PeriodScheme::default()
                            }
                        }),
                        stipend_threshold_hours: t.map(f64::from),
                        session_cap_hours: cap.map(f64::from),
                        counting_categories: counting,
                        volunteer_hour_rate: None,
                    },
                    from,
                )
            })
    }

    proptest! {
        /// Whatever changes are made from some day on, every date before the current period
        /// keeps its period and its rules, and every date still belongs to one period.
        #[test]
        fn changes_never_reach_a_closed_period(
            changes in proptest::collection::vec((any_change(), 0i64..900), 1..6),
        ) {
            let mut rules = ProgramRules::default();
            let mut day = d(2026, 8, 1);
            for ((change, from_later), advance) in changes {
                day += Duration::days(advance);
                let now = today(day);
                let before = rules.clone();
                let closed_until = rules.period_of(day).first_day;
                let named = from_later.map(|n| {
                    let mut p = before.period_of(day);
                    for _ in 0..n {
                        p = before.period_of(p.last_day + Duration::days(1));
                    }
                    p.name.0
                });
                let Ok(from) = rules.change_start(&change, named.as_deref(), now) else {
                    continue;
                };
                prop_assert!(from >= closed_until);
                let Ok(next) = rules.changed_from(from, &change) else {
                    continue;
                };
                prop_assert!(next.validate().is_ok());
                let mut probe = d(2026, 1, 1);
                while probe < closed_until {
                    prop_assert_eq!(next.period_of(probe), before.period_of(probe));
                    prop_assert_eq!(next.on(probe), before.on(probe));
                    probe += Duration::days(3);
                }
                let mut probe = d(2026, 1, 1);
                while probe < day + Duration::days(1500) {
                    let p = next.period_of(probe);
                    prop_assert!(p.contains(probe));
                    prop_assert_eq!(next.period_named(&p.name.0).ok(), Some(p.clone()));
                    probe += Duration::days(5);
                }
                rules = next;
            }
        }
    }
}
