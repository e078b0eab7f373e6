//! Stipend payments: append-only. A payment booked by mistake is voided (who, when, why), never
//! deleted; at most one payment per mentor and period that is neither additional nor voided,
//! enforced by the database itself.

use std::collections::HashMap;

use super::sql::{params, OptionalExtension};
use chrono::{DateTime, Utc};
use pm_shared::protocol::StipendPayment;
use serde::Serialize;

use super::{ts, Db};
use crate::ServerError;

/// Money as decimal text with two places (`600.00`): never a float.
pub fn normalize_amount(text: &str) -> Result<String, ServerError> {
    let bad = || ServerError::Invalid(format!("amount {text:?} is not a sum like 600.00"));
    let (whole, cents) = text.trim().split_once('.').unwrap_or((text.trim(), "00"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 7 || !digits(cents) || cents.len() > 2 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    if whole == 0 && cents.bytes().all(|b| b == b'0') {
        // A payment of nothing would stand in the ledger as "paid" and block the real one.
        return Err(ServerError::Invalid(format!(
            "amount {text:?}: a payment must be more than 0.00"
        )));
    }
    Ok(format!("{whole}.{cents:0<2}"))
}

/// A payment as recorded (and, if it was, voided).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: i64,
    pub mentor: String,
    pub period: String,
    pub amount: String,
    pub paid_on: String,
    pub reference: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub additional: bool,
    pub not_eligible: bool,
    pub voided_at: Option<String>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
}

impl Db {
    /// Inserts a payment already checked by `payments::record` (period canonical, mentor known,
    /// eligibility decided). A second non-additional payment for the same mentor and period is
    /// refused by the unique index, atomically.
    pub fn insert_payment(
        &self,
        payment: &StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ServerError> {
        let amount = normalize_amount(&payment.amount)?;
        let result = self.conn.query_row(
            "INSERT INTO stipend_payments (mentor, period, amount, paid_on, reference, recorded_at, recorded_by, additional, not_eligible)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            params![
                payment.mentor.as_str(),
                payment.period.0,
                amount,
                payment.paid_on.to_string(),
                payment.reference.trim(),
                ts(now),
                recorded_by,
                payment.additional,
                payment.not_eligible,
            ],
            |r| r.get::<_, i64>(0),
        );
        match result {
            Ok(id) => Ok(id),
            Err(e) if e.is_constraint() => {
                Err(ServerError::Conflict(format!(
                    "{} was already paid for {}: record it as an additional payment, or void the first one",
                    payment.mentor, payment.period
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Voids a payment booked by mistake: it stays in the ledger, marked, and the stipend shows
    /// as unpaid again.
    pub fn void_payment(
        &self,
        id: i64,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Payment, ServerError> {
        let payment = self.payment(id)?;
        if payment.voided_at.is_some() {
            return Err(ServerError::Conflict(format!(
                "payment {id} was voided already"
            )));
        }
        let changed = self.conn.execute(
            "UPDATE stipend_payments SET voided_at = ?2, voided_by = ?3, void_reason = ?4 WHERE id = ?1 AND voided_at IS NULL",
            params![id, ts(now), by, reason.trim()],
        )?;
        if changed == 0 {
            // Voided by someone else between the look and the change.
            return Err(ServerError::Conflict(format!(
                "payment {id} was voided already"
            )));
        }
        self.payment(id)
    }

    pub fn payment(&self, id: i64) -> Result<Payment, ServerError> {
        self.select_payments("WHERE id = ?1", [id])?
            .pop()
            .ok_or_else(|| ServerError::NotFound {
                what: "payment",
                id: id.to_string(),
            })
    }

    /// The whole ledger, voided payments included, oldest first.
    pub fn payments(&self) -> Result<Vec<Payment>, ServerError> {
        self.select_payments("ORDER BY id", ())
    }

    fn select_payments(
        &self,
        tail: &str,
        params: impl super::sql::Params,
    ) -> Result<Vec<Payment>, ServerError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, mentor, period, amount, paid_on, reference, recorded_at, recorded_by, additional, not_eligible, voided_at, voided_by, void_reason
             FROM stipend_payments {tail}"
        ))?;
        let rows = stmt.query_map(params, |r| {
            Ok(Payment {
                id: r.get(0)?,
                mentor: r.get(1)?,
                period: r.get(2)?,
                amount: r.get(3)?,
                paid_on: r.get(4)?,
                reference: r.get(5)?,
                recorded_at: r.get(6)?,
                recorded_by: r.get(7)?,
                additional: r.get(8)?,
                not_eligible: r.get(9)?,
                voided_at: r.get(10)?,
                voided_by: r.get(11)?,
                void_reason: r.get(12)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// The latest payment date per (mentor, period), voided payments left out.
    pub fn paid_on(&self) -> Result<HashMap<(String, String), String>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT mentor, period, MAX(paid_on) FROM stipend_payments WHERE voided_at IS NULL GROUP BY mentor, period",
        )?;
        let rows = stmt.query_map((), |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// Whether the mentor has a payment (not voided) for a period.
    pub fn is_paid(&self, mentor: &str, period: &str) -> Result<bool, ServerError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM stipend_payments WHERE mentor = ?1 AND period = ?2 AND voided_at IS NULL LIMIT 1",
            )?
            .query_row([mentor, period], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
