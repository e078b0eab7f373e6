//! What the organizer's page opens on: per school this period (mentors active, hours, past the
//! threshold, review items, silent kiosks), hours per week for the last 12 weeks, mentors by
//! progress band, clearances to renew; and one mentor's page (every session, every correction
//! with who and why, clearances, payments).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use pm_shared::{hours_2dp, MentorId, SchoolId, Source};
use serde::Serialize;

use crate::db::Payment;
use crate::placements::{clearance_list, ClearanceRow};
use crate::report::{self, HoursRow};
use crate::storage::Storage;
use crate::ServerError;

/// Weeks the hours chart covers, this one included.
pub const CHART_WEEKS: i64 = 12;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub period: String,
    pub threshold: f64,
    pub schools: Vec<SchoolOverview>,
    /// Oldest first; each starts on a Monday.
    pub weeks: Vec<WeekHours>,
    /// 0-25, 25-50, 50-75, 75-100, 100+ (percent of the threshold; 100+ means eligible).
    pub bands: Vec<Band>,
    /// Expired and expiring clearances, the most urgent first.
    pub clearances: Vec<ClearanceRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchoolOverview {
    pub school_id: String,
    pub school_name: String,
    /// Active mentors on the roster.
    pub mentors: u64,
    /// Mentors with credited time this period.
    pub active_mentors: u64,
    /// Credited hours toward the stipend this period.
    pub hours: f64,
    pub past_threshold: u64,
    pub unpaid: u64,
    pub review_items: u64,
    pub kiosks: u64,
    /// Kiosks not heard from in more than 24 hours.
    pub silent_kiosks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekHours {
    pub week_start: String,
    /// Credited hours of every category.
    pub hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub band: String,
    pub mentors: u64,
}

pub fn overview(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Overview, ServerError> {
    let rules = db.rules()?;
    if period.is_some_and(|p| p.trim().eq_ignore_ascii_case("all")) {
        return Err(ServerError::Invalid(
            "the overview is of one period: give its name, or none for the current one".into(),
        ));
    }
    let rows = report::hours(db, schools, period, now)?;
    let today = crate::program::today(db, schools, now)?;
    let all_schools = db.schools()?;
    let wanted = |s: &SchoolId| schools.is_none_or(|list| list.contains(s));
    let mut per: BTreeMap<String, SchoolOverview> = all_schools
        .iter()
        .filter(|s| wanted(&s.id))
        .map(|s| {
            (
                s.id.to_string(),
                SchoolOverview {
                    school_id: s.id.to_string(),
                    school_name: s.name.clone(),
                    mentors: 0,
                    active_mentors: 0,
                    hours: 0.0,
                    past_threshold: 0,
                    unpaid: 0,
                    review_items: 0,
                    kiosks: 0,
                    silent_kiosks: 0,
                },
            )
        })
        .collect();
    let mut bands = [0u64; 5];
    for r in &rows {
        let Some(s) = per.get_mut(&r.school_id) else {
            continue;
        };
        let hours: f64 = r.hours.parse().unwrap_or(0.0);
        if r.active {
            s.mentors += 1;
        }
        if hours > 0.0 {
            s.active_mentors += 1;
        }
        if r.eligible {
            s.past_threshold += 1;
            if r.paid_on.is_empty() {
                s.unpaid += 1;
            }
        }
        if r.active || hours > 0.0 {
            bands[band_of(r, r.threshold.parse().unwrap_or(0.0))] += 1;
        }
    }
    // Hours go to the school where they were earned (as in the program report), not to the
    // school she belongs to now.
    for r in &rows {
        for (school, hours) in &r.hours_by_school {
            if let Some(s) = per.get_mut(school) {
                s.hours += hours.parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    for s in per.values_mut() {
        s.hours = (s.hours * 100.0).round() / 100.0;
    }
    for item in crate::review::list(db, schools, None, now)? {
        if let Some(s) = per.get_mut(&item.school_id) {
            s.review_items += 1;
        }
    }
    for k in db.kiosk_statuses(schools, now)? {
        if k.revoked {
            continue;
        }
        if let Some(s) = per.get_mut(&k.school_id) {
            s.kiosks += 1;
            s.silent_kiosks += u64::from(k.silent);
        }
    }
    let period_name = rows
        .first()
        .map(|r| r.period.clone())
        .unwrap_or_else(|| rules.period_of(today).name.0);
    let threshold = rules
        .period_rules(&period_name)
        .map(|(_, r)| r.stipend_threshold_hours)
        .unwrap_or(rules.stipend_threshold_hours);
    Ok(Overview {
        period: period_name,
        threshold,
        schools: per.into_values().collect(),
        weeks: weekly_hours(db, schools, now)?,
        bands: ["0-25", "25-50", "50-75", "75-100", "100+"]
            .iter()
            .zip(bands)
            .map(|(band, mentors)| Band {
                band: (*band).to_owned(),
                mentors,
            })
            .collect(),
        clearances: clearance_list(db, schools, true, now)?,
    })
}

fn band_of(r: &HoursRow, threshold: f64) -> usize {
    if r.eligible {
        return 4;
    }
    let hours: f64 = r.hours.parse().unwrap_or(0.0);
    let pct = if threshold > 0.0 {
        100.0 * hours / threshold
    } else {
        0.0
    };
    match pct {
        p if p < 25.0 => 0,
        p if p < 50.0 => 1,
        p if p < 75.0 => 2,
        _ => 3,
    }
}

/// The Monday of a date's week.
fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// Credited hours (every category) per week, where they were earned, for the last 12 weeks.
fn weekly_hours(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    now: DateTime<Utc>,
) -> Result<Vec<WeekHours>, ServerError> {
    let rules = db.rules()?;
    let kiosk_schools = db.kiosk_schools()?;
    let ids: Vec<MentorId> = db.mentors(None)?.into_iter().map(|m| m.id).collect();
    let snapshot = db.totals_snapshot(&ids)?;
    let computed = crate::totals::compute(snapshot, &rules, now);
    let this_week = monday(crate::program::today(db, schools, now)?);
    let first = this_week - Duration::weeks(CHART_WEEKS - 1);
    let mut ms: BTreeMap<NaiveDate, i64> = (0..CHART_WEEKS)
        .map(|w| (first + Duration::weeks(w), 0))
        .collect();
    for s in &computed.sessions {
        let Some(d) = s.counted_duration().filter(|d| d.num_milliseconds() > 0) else {
            continue;
        };
        let here = kiosk_schools
            .get(&s.kiosk)
            .is_some_and(|k| schools.is_none_or(|list| list.contains(k)));
        if !here {
            continue;
        }
        if let Some(total) = ms.get_mut(&monday(s.local_date)) {
            *total += d.num_milliseconds();
        }
    }
    Ok(ms
        .into_iter()
        .map(|(week, ms)| WeekHours {
            week_start: week.to_string(),
            hours: hours_2dp(Duration::milliseconds(ms)),
        })
        .collect())
}

/// One mentor, everything an organizer needs to answer her questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MentorPage {
    pub mentor_id: String,
    pub name: String,
    pub school_id: String,
    pub school_name: String,
    pub language: String,
    pub active: bool,
    pub teacher: String,
    pub classroom: String,
    /// Her rows of the hours report, every period.
    pub periods: Vec<HoursRow>,
    /// Newest first.
    pub sessions: Vec<SessionLine>,
    /// Newest first.
    pub corrections: Vec<CorrectionLine>,
    pub clearances: Vec<ClearanceRow>,
    pub payments: Vec<Payment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionLine {
    pub item: String,
    /// School-local date, and times as RFC 3339 with the school's offset ("" when none).
    pub date: String,
    pub start: String,
    pub end: String,
    pub credited_hours: f64,
    pub category: String,
    pub kiosk: String,
    pub kiosk_name: String,
    pub school_id: String,
    pub period: String,
    pub reasons: Vec<String>,
    /// credited, open, needs_review, set_aside.
    pub status: String,
    /// Why the server set it aside (a code listed in docs/rules.md), or "".
    pub set_aside_reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrectionLine {
    pub event: String,
    pub at: String,
    /// coordinator or organizer.
    pub role: String,
    pub by: String,
    pub reason: String,
    pub action: String,
    pub details: String,
    pub kiosk: String,
    pub set_aside_reason: String,
    /// The item or decision this one decides (its void names the decision it reverses): the
    /// chain of decisions, each by its id.
    pub decides: String,
    /// Not reversed by a later void (nor set aside).
    pub in_force: bool,
}

/// Her page for an organizer of `schools` (`None`: every school). She is there if she belongs
/// to one of them now, belonged to one, or earned time at one's kiosks (as the hours report
/// lists her); what it shows is what happened at those schools: sessions at their kiosks, the
/// corrections of those sessions, and, while she belongs to one of them now, her clearances
/// and payments.
pub fn mentor_page(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    id: &MentorId,
    now: DateTime<Utc>,
) -> Result<MentorPage, ServerError> {
    let not_found = || ServerError::NotFound {
        what: "mentor",
        id: id.to_string(),
    };
    let m = db.mentor(id).map_err(|_| not_found())?;
    let rules = db.rules()?;
    let school = db.school(&m.school)?;
    let statuses = db.kiosk_statuses(None, now)?;
    let kiosk_names: HashMap<String, (String, String)> = statuses
        .iter()
        .map(|k| (k.kiosk.clone(), (k.name.clone(), k.school_id.clone())))
        .collect();
    let in_scope =
        |school_id: &str| schools.is_none_or(|list| list.iter().any(|s| s.as_str() == school_id));
    let kiosk_in_scope = |kiosk: &str| {
        kiosk_names
            .get(kiosk)
            .is_some_and(|(_, school_id)| in_scope(school_id))
    };
    let stored = db.mentor_events(id.as_str())?;
    let (sessions, observed) = crate::totals::sessions_of(db, stored.clone(), &rules, now)?;
    let history = db.membership_history(id)?;
    // An organizer's entry (the server's kiosk) belongs to her school that day.
    let session_in_scope = |s: &pm_shared::Session| {
        kiosk_in_scope(s.kiosk.as_str())
            || (s.kiosk.as_str() == crate::db::SERVER_KIOSK
                && crate::db::school_on(&history, s.local_date)
                    .is_some_and(|school| in_scope(school.as_str())))
    };
    let mine: Vec<&pm_shared::Session> = sessions
        .iter()
        .filter(|s| &s.mentor == id && session_in_scope(s))
        .collect();
    let belongs_now = in_scope(m.school.as_str());
    let ever_member = history.iter().any(|h| in_scope(h.school.as_str()));
    if schools.is_some() && !belongs_now && mine.is_empty() && !ever_member {
        return Err(not_found());
    }
    // A visitor (time at these schools' kiosks, never one of their mentors): her id only.
    let visitor = schools.is_some() && !ever_member && !belongs_now;
    let voided = pm_shared::voided_in_force(&observed);
    // The events of the sessions shown: corrections among them, and organizers' resolutions
    // that name them.
    let shown: std::collections::HashSet<pm_shared::EventId> = mine
        .iter()
        .flat_map(|s| s.events.iter().copied().chain(std::iter::once(s.item)))
        .collect();
    // And every decision on one of those (a reversed approval, the void that reversed it):
    // the whole chain, however long.
    let mut shown = shown;
    loop {
        let before = shown.len();
        for s in &stored {
            let e = &s.observed.event;
            if e.kind.resolves().is_some_and(|t| shown.contains(&t)) {
                shown.insert(e.id);
            }
        }
        if shown.len() == before {
            break;
        }
    }
    let mut corrections = Vec::new();
    for s in &stored {
        let e = &s.observed.event;
        if e.mentor.as_ref() != Some(id) {
            continue;
        }
        let visible =
            schools.is_none() || kiosk_in_scope(e.kiosk.as_str()) || shown.contains(&e.id);
        if !visible {
            continue;
        }
        let (role, by, reason) = match &e.source {
            Source::Coordinator {
                coordinator,
                reason,
            } => ("coordinator", coordinator, reason),
            Source::Organizer { organizer, reason } => ("organizer", organizer, reason),
            _ => continue,
        };
        let (action, details) = crate::entries::describe(e);
        corrections.push(CorrectionLine {
            event: e.id.to_string(),
            at: e.time_zone.rfc3339(e.at),
            role: role.to_owned(),
            by: by.clone(),
            reason: reason.clone(),
            action: action.to_owned(),
            details,
            kiosk: e.kiosk.to_string(),
            set_aside_reason: s.set_aside.clone().unwrap_or_default(),
            decides: e.kind.resolves().map(|t| t.to_string()).unwrap_or_default(),
            in_force: !voided.contains(&e.id) && s.set_aside.is_none(),
        });
    }
    corrections.sort_by(|a, b| b.at.cmp(&a.at));
    let mut lines: Vec<SessionLine> = mine
        .iter()
        .map(|s| {
            let zone = s.time_zone;
            let (kiosk_name, school_id) = kiosk_names
                .get(s.kiosk.as_str())
                .cloned()
                .unwrap_or_default();
            let status = if s.is_set_aside() {
                "set_aside"
            } else if s.is_open() {
                "open"
            } else if s.needs_review() {
                "needs_review"
            } else {
                "credited"
            };
            SessionLine {
                item: s.item.to_string(),
                date: s.local_date.to_string(),
                start: s.start.map(|t| zone.rfc3339(t)).unwrap_or_default(),
                end: s.end.map(|t| zone.rfc3339(t)).unwrap_or_default(),
                credited_hours: hours_2dp(s.counted_duration().unwrap_or_else(Duration::zero)),
                category: s.category.as_str().to_owned(),
                kiosk: s.kiosk.to_string(),
                kiosk_name,
                school_id,
                period: s.period.0.clone(),
                reasons: s.reasons.iter().map(|r| r.as_str().to_owned()).collect(),
                status: status.to_owned(),
                set_aside_reason: s.set_aside.clone().unwrap_or_default(),
            }
        })
        .collect();
    lines.sort_by(|a, b| (&b.date, &b.start).cmp(&(&a.date, &a.start)));
    // Her totals are hers (every school's time adds up), as the hours report shows them.
    let periods: Vec<HoursRow> = report::hours(db, schools, Some("all"), now)?
        .into_iter()
        .filter(|r| r.mentor_id == id.as_str())
        .collect();
    let placement = db.placements(None)?.remove(id).unwrap_or_default();
    let clearances: Vec<ClearanceRow> = if belongs_now {
        clearance_list(db, None, false, now)?
            .into_iter()
            .filter(|c| c.mentor_id == id.as_str())
            .collect()
    } else {
        Vec::new()
    };
    let payments: Vec<Payment> = if belongs_now {
        db.payments()?
            .into_iter()
            .filter(|p| p.mentor == id.as_str())
            .collect()
    } else {
        Vec::new()
    };
    if visitor {
        return Ok(MentorPage {
            mentor_id: id.to_string(),
            name: String::new(),
            school_id: String::new(),
            school_name: String::new(),
            language: String::new(),
            active: m.active,
            teacher: String::new(),
            classroom: String::new(),
            periods: Vec::new(),
            sessions: lines,
            corrections,
            clearances: Vec::new(),
            payments: Vec::new(),
        });
    }
    Ok(MentorPage {
        mentor_id: id.to_string(),
        name: m.name,
        school_id: m.school.to_string(),
        school_name: school.name,
        language: m.language.code().to_owned(),
        active: m.active,
        teacher: if belongs_now {
            placement.teacher.unwrap_or_default()
        } else {
            String::new()
        },
        classroom: if belongs_now {
            placement.classroom.unwrap_or_default()
        } else {
            String::new()
        },
        periods,
        sessions: lines,
        corrections,
        clearances,
        payments,
    })
}
