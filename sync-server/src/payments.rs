//! Recording a stipend payment: the checks a careful payroll makes before money is booked.

use chrono::{DateTime, Utc};
use pm_shared::protocol::StipendPayment;
use pm_shared::SchoolId;

use crate::review::checked_text;
use crate::storage::Storage;
use crate::ServerError;

/// Records a payment after checking it: the period is written canonically (`2026-fall`), the
/// mentor is hers to pay (`schools`: `None` for all), she reached the threshold in that period
/// (unless `not_eligible`), and she was not paid for it already (unless `additional`). Returns
/// the payment's id.
pub fn record(
    db: &mut dyn Storage,
    payment: &StipendPayment,
    recorded_by: &str,
    schools: Option<&[SchoolId]>,
    now: DateTime<Utc>,
) -> Result<i64, ServerError> {
    let rules = db.rules()?;
    let (period, in_force) = rules.period_rules(&payment.period.0)?;
    if period.name != payment.period {
        return Err(ServerError::Invalid(format!(
            "write the period as {} (not {:?})",
            period.name, payment.period.0
        )));
    }
    if !may_pay(db, schools, &payment.mentor, &period.name, now)? {
        return Err(ServerError::Forbidden(
            "no access to this mentor's school".into(),
        ));
    }
    checked_text("reference (check or transfer number)", &payment.reference)?;
    crate::db::normalize_amount(&payment.amount)?;
    if !payment.additional && db.is_paid(payment.mentor.as_str(), &period.name.0)? {
        return Err(ServerError::Conflict(format!(
            "{} was already paid for {}: record an additional payment, or void the first one",
            payment.mentor, period.name
        )));
    }
    if !payment.not_eligible {
        let totals =
            crate::totals::current(db, std::slice::from_ref(&payment.mentor), &rules, now)?;
        let eligible = totals
            .get(&(payment.mentor.clone(), period.name.clone()))
            .is_some_and(|t| t.eligible_on.is_some());
        if !eligible {
            return Err(ServerError::Conflict(format!(
                "{} has not reached {} hours in {}: pay anyway only as an exception (not_eligible)",
                payment.mentor, in_force.stipend_threshold_hours, period.name
            )));
        }
    }
    db.insert_payment(payment, recorded_by, now)
}

/// Voids a payment booked by mistake (it stays in the ledger, marked; the stipend shows as
/// unpaid again).
pub fn void(
    db: &mut dyn Storage,
    id: i64,
    by: &str,
    reason: &str,
    schools: Option<&[SchoolId]>,
    now: DateTime<Utc>,
) -> Result<crate::db::Payment, ServerError> {
    let reason = checked_text("reason", reason)?;
    let payment = db.payment(id)?;
    let mentor = pm_shared::MentorId::new(&payment.mentor)?;
    let period = pm_shared::PeriodName(payment.period.clone());
    if !may_pay(db, schools, &mentor, &period, now)? {
        return Err(ServerError::Forbidden(
            "no access to this mentor's school".into(),
        ));
    }
    db.void_payment(id, by, &reason, now)
}

/// An organizer pays a mentor of her schools, or one who earned hours at one of her schools in
/// that period (she moved since): the same mentors she sees in the report.
fn may_pay(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    mentor: &pm_shared::MentorId,
    period: &pm_shared::PeriodName,
    now: DateTime<Utc>,
) -> Result<bool, ServerError> {
    let record = db.mentor(mentor)?;
    let Some(list) = schools else {
        return Ok(true);
    };
    if list.contains(&record.school) {
        return Ok(true);
    }
    let rules = db.rules()?;
    let totals = crate::totals::current(db, std::slice::from_ref(mentor), &rules, now)?;
    let kiosk_schools = db.kiosk_schools()?;
    Ok(totals
        .get(&(mentor.clone(), period.clone()))
        .is_some_and(|t| {
            t.kiosks
                .iter()
                .any(|k| kiosk_schools.get(k).is_some_and(|s| list.contains(s)))
        }))
}
