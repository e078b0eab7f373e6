//! Events → sessions for one mentor: verdicts on set-aside events, voids, pairing, resolutions,
//! the checks, overlaps, approvals and crediting, in that order (see the module above).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::clock::{ClockModel, Reading};
use super::credit::Credited;
use super::{ReviewReason, Session};
use crate::{
    EventId, EventKind, HourCategory, KioskId, MentorId, Observed, ProgramRules, TimeZone,
};

/// Turns every mentor's events into sessions (and set-aside events into review items), sorted
/// by mentor, then date and start. `now` is the caller's clock, used only to recognise events
/// dated in the future. Kiosk-level events (clock checks) in `events` inform the clock checks.
pub fn sessionize(events: &[Observed], rules: &ProgramRules, now: DateTime<Utc>) -> Vec<Session> {
    sessionize_with_readings(events, &[], rules, now)
}

/// [`sessionize`], with the server's clock readings of every upload of the kiosks involved (so
/// a clock-skew verdict never depends on which other mentors' events came along).
pub fn sessionize_with_readings(
    events: &[Observed],
    readings: &[Reading],
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Vec<Session> {
    let unique = deduplicate(events);
    let clock = ClockModel::new(&unique, readings);
    let mut by_mentor: BTreeMap<&MentorId, Vec<&Observed>> = BTreeMap::new();
    for o in unique {
        if let (Some(mentor), false) = (&o.event.mentor, o.event.kind.is_kiosk_level()) {
            by_mentor.entry(mentor).or_default().push(o);
        }
    }
    let mut sessions = Vec::new();
    for (mentor, timeline) in by_mentor {
        let context = Context {
            rules,
            now,
            clock: &clock,
        };
        sessions.extend(MentorTimeline::new(mentor, timeline, context).sessions());
    }
    sessions.sort_by(|a, b| {
        (&a.mentor, a.local_date, a.start, a.end, a.item).cmp(&(
            &b.mentor,
            b.local_date,
            b.start,
            b.end,
            b.item,
        ))
    });
    sessions
}

/// One copy of each event id, chosen the same way whatever the input order, then in timeline
/// order (instant, then id).
fn deduplicate(events: &[Observed]) -> Vec<&Observed> {
    let mut unique: Vec<&Observed> = events.iter().collect();
    unique.sort_by(|a, b| a.event.id.cmp(&b.event.id).then_with(|| a.cmp(b)));
    unique.dedup_by_key(|o| o.event.id);
    unique.sort_by_key(|o| (o.event.at, o.event.id));
    unique
}

#[derive(Clone, Copy)]
struct Context<'a> {
    rules: &'a ProgramRules,
    now: DateTime<Utc>,
    clock: &'a ClockModel,
}

#[derive(Clone)]
struct MentorTimeline<'a> {
    mentor: &'a MentorId,
    cx: Context<'a>,
    /// Events that count (never set aside, or accepted), in timeline order.
    active: Vec<&'a Observed>,
    /// Set-aside events still waiting for an organizer's verdict.
    pending: Vec<&'a Observed>,
    voided: HashSet<EventId>,
    /// Coordinators' voids held for review, by the event they name (see `sessions`).
    held: HashMap<EventId, &'a Observed>,
    /// Closes, new times and approvals, by the id they name.
    resolutions: HashMap<EventId, Vec<&'a Observed>>,
}

/// A session while it is being assembled: its events, before resolutions and checks.
#[derive(Default)]
struct Draft<'a> {
    opening: Option<&'a Observed>,
    closing: Option<&'a Observed>,
    /// Check-outs of an already closed session (outside the window): a conflict.
    extra_closings: Vec<&'a Observed>,
    /// The same arrival or departure seen again (a double scan, a second kiosk).
    absorbed: Vec<&'a Observed>,
}

/// A finished session and what the cross-session steps need.
struct Built {
    session: Session,
    /// (recorded at, id) of the opening: "later-recorded" for overlaps, and credit order.
    recorded: (DateTime<Utc>, EventId),
    /// An organizer's approval that still fits the session (its times unchanged since).
    approval: Option<Approval>,
}

impl<'a> MentorTimeline<'a> {
    fn new(mentor: &'a MentorId, all: Vec<&'a Observed>, cx: Context<'a>) -> Self {
        // Voids in force among what the server accepted on receipt: they decide which verdicts
        // stand (an organizer may void her own accept or reject).
        let received: Vec<&Observed> = all
            .iter()
            .copied()
            .filter(|o| o.set_aside.is_none())
            .collect();
        let verdicts = latest_verdicts(&received);
        let mut active = Vec::new();
        let mut pending = Vec::new();
        for o in all {
            let verdict = verdicts.get(&o.event.id).copied();
            match (&o.set_aside, verdict) {
                (Some(_), None) => pending.push(o),
                // Rejected stays out, even once a move's re-check no longer sets it aside.
                (_, Some(false)) => {}
                // Approvals and verdicts count only from organizers (the server sets aside
                // any other, and a kiosk never makes one).
                _ if o.event.kind.is_organizer_only() && !o.event.source.is_organizer() => {}
                _ => active.push(o),
            }
        }
        let voided = voids_in_force(&active);
        let resolutions = resolutions_by_item(&active, &voided);
        Self {
            mentor,
            cx,
            active,
            pending,
            voided,
            held: HashMap::new(),
            resolutions,
        }
    }

    fn sessions(&self) -> Vec<Session> {
        // A coordinator's void of a session that needed nothing is a change after it was
        // closed: held for review (closed twice), never a silent loss of hours. Which sessions
        // needed nothing is what they would be without her voids.
        // (An organizer's void in force of the same event decides it: nothing to hold.)
        let by_organizer: HashSet<EventId> = self
            .active
            .iter()
            .filter(|o| o.event.source.is_organizer() && !self.voided.contains(&o.event.id))
            .filter_map(|o| match o.event.kind {
                EventKind::Void { target } => Some(target),
                _ => None,
            })
            .collect();
        let soft: Vec<(EventId, &'a Observed)> = self
            .active
            .iter()
            .filter(|o| matches!(o.event.source, crate::Source::Coordinator { .. }))
            .filter(|o| !self.voided.contains(&o.event.id))
            .filter_map(|o| match o.event.kind {
                EventKind::Void { target }
                    if self.voided.contains(&target) && !by_organizer.contains(&target) =>
                {
                    Some((target, *o))
                }
                _ => None,
            })
            .filter(|(target, _)| {
                self.active.iter().any(|e| {
                    e.event.id == *target
                        && matches!(
                            e.event.kind,
                            EventKind::CheckIn
                                | EventKind::CheckOut { .. }
                                | EventKind::AddSession { .. }
                        )
                })
            })
            .collect();
        let with_voids = self.build();
        if soft.is_empty() {
            return with_voids;
        }
        let mut trial = self.clone();
        for (target, _) in &soft {
            trial.voided.remove(target);
        }
        trial.resolutions = resolutions_by_item(&trial.active, &trial.voided);
        let without: Vec<Session> = trial.build();
        // Held: the void takes a session that counted and leaves nothing of it that counts
        // (voiding a mistaken check-out that re-pairs, or a mistaken second arrival, is a
        // repair and stands).
        let mut held = HashMap::new();
        for (target, void) in soft {
            let Some(sound) = without
                .iter()
                .find(|s| s.reasons.is_empty() && s.events.contains(&target))
            else {
                continue;
            };
            let rest: Vec<&EventId> = sound.events.iter().filter(|id| **id != target).collect();
            let survives = with_voids
                .iter()
                .any(|s| s.reasons.is_empty() && s.events.iter().any(|id| rest.contains(&id)));
            if !survives {
                held.insert(target, void);
            }
        }
        if held.is_empty() {
            return with_voids;
        }
        let mut final_view = self.clone();
        for target in held.keys() {
            final_view.voided.remove(target);
        }
        final_view.resolutions = resolutions_by_item(&final_view.active, &final_view.voided);
        final_view.held = held;
        final_view.build()
    }

    fn build(&self) -> Vec<Session> {
        let drafts = self.pair();
        let mut built: Vec<Built> = drafts
            .into_iter()
            .filter_map(|d| self.without_voided_opening(d))
            .filter_map(|d| self.finish(d))
            .collect();
        mark_overlaps(&mut built);
        for b in &mut built {
            let approved = b.approval.take();
            if let Some(approved) = approved {
                b.session
                    .reasons
                    .retain(|r| !(r.approvable() && approved.covers(*r)));
            }
            b.session.reasons.sort();
            b.session.reasons.dedup();
        }
        credit(&mut built);
        let mut sessions: Vec<Session> = built.into_iter().map(|b| b.session).collect();
        sessions.extend(self.pending.iter().map(|o| self.set_aside_item(o)));
        sessions
    }

    /// A session whose opening check-in was voided: the next arrival absorbed into it (a real
    /// one, from another kiosk) opens it instead; with none, the whole session is void.
    fn without_voided_opening(&self, mut d: Draft<'a>) -> Option<Draft<'a>> {
        let Some(opening) = d.opening else {
            return Some(d);
        };
        if !self.voided.contains(&opening.event.id) {
            return Some(d);
        }
        let next = d
            .absorbed
            .iter()
            .position(|o| o.event.kind == EventKind::CheckIn)?;
        d.opening = Some(d.absorbed.remove(next));
        Some(d)
    }

    /// Pairs check-ins with check-outs: by the check-in a check-out names, else by time.
    fn pair(&self) -> Vec<Draft<'a>> {
        let rules = self.cx.rules;
        let mut drafts: Vec<Draft> = Vec::new();
        // Every check-in id (opening or absorbed) → its draft.
        let mut owner: HashMap<EventId, usize> = HashMap::new();
        // The latest check-in still open, for check-outs that name none.
        let mut open: Option<usize> = None;
        // The latest check-out that ended or began a draft, for double scans.
        let mut last_out: Option<(DateTime<Utc>, usize)> = None;
        let mut deferred: Vec<&Observed> = Vec::new();
        for &o in &self.active {
            let at = o.event.at;
            match o.event.kind {
                EventKind::CheckIn => {
                    if let Some(i) = open {
                        let since = drafts[i].opening.map(|c| at - c.event.at);
                        if since.is_some_and(|s| same_arrival(s, self.cx.rules)) {
                            drafts[i].absorbed.push(o);
                            owner.insert(o.event.id, i);
                            continue;
                        }
                    }
                    drafts.push(Draft {
                        opening: Some(o),
                        ..Draft::default()
                    });
                    owner.insert(o.event.id, drafts.len() - 1);
                    open = Some(drafts.len() - 1);
                }
                EventKind::CheckOut { .. } if self.voided.contains(&o.event.id) => {}
                EventKind::CheckOut {
                    check_in: Some(named),
                } => match owner.get(&named) {
                    Some(&i) => close(&mut drafts, i, o, rules, &mut open, &mut last_out),
                    None => deferred.push(o),
                },
                EventKind::CheckOut { check_in: None } => {
                    if let Some(i) = open {
                        close(&mut drafts, i, o, rules, &mut open, &mut last_out);
                    } else if let Some((_, i)) =
                        last_out.filter(|(t, _)| same_arrival(at - *t, rules))
                    {
                        drafts[i].absorbed.push(o);
                    } else {
                        drafts.push(Draft {
                            closing: Some(o),
                            ..Draft::default()
                        });
                        last_out = Some((at, drafts.len() - 1));
                    }
                }
                EventKind::AddSession { .. } if !self.voided.contains(&o.event.id) => {
                    drafts.push(Draft {
                        opening: Some(o),
                        ..Draft::default()
                    });
                }
                _ => {}
            }
        }
        // Check-outs naming a check-in recorded later in time (another kiosk's clock behind).
        for o in deferred {
            let named = match o.event.kind {
                EventKind::CheckOut { check_in } => check_in,
                _ => None,
            };
            match named.and_then(|n| owner.get(&n).copied()) {
                Some(i) => close(&mut drafts, i, o, rules, &mut open, &mut last_out),
                None => drafts.push(Draft {
                    closing: Some(o),
                    ..Draft::default()
                }),
            }
        }
        // A voided second arrival changes nothing; drop it from the history it would join.
        for d in &mut drafts {
            d.absorbed.retain(|o| !self.voided.contains(&o.event.id));
        }
        drafts
    }

    fn local_date(&self, t: DateTime<Utc>, zone: TimeZone) -> chrono::NaiveDate {
        zone.local_date(t)
    }

    fn implausible(&self, t: DateTime<Utc>, zone: TimeZone) -> bool {
        let latest = self
            .cx
            .now
            .checked_add_signed(self.cx.rules.future_tolerance())
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if t > latest {
            return true;
        }
        // A school-local date is at most a day before the UTC date: only instants near the
        // earliest plausible date need the (slower) time zone look-up.
        let earliest = self.cx.rules.earliest_plausible_date;
        if t.date_naive().pred_opt().is_some_and(|d| d >= earliest) {
            return false;
        }
        self.local_date(t, zone) < earliest
    }

    /// Reasons that follow from a session's times alone.
    fn time_reasons(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        zone: TimeZone,
    ) -> Vec<ReviewReason> {
        let mut reasons = Vec::new();
        match (start, end) {
            (None, _) => reasons.push(ReviewReason::CheckOutWithoutCheckIn),
            (Some(_), None) => reasons.push(ReviewReason::Open),
            (Some(s), Some(e)) => {
                if e < s {
                    reasons.push(ReviewReason::EndBeforeStart);
                } else if e - s > self.cx.rules.on(self.local_date(s, zone)).session_cap() {
                    reasons.push(ReviewReason::OverCap);
                }
                if self.local_date(s, zone) != self.local_date(e, zone) {
                    reasons.push(ReviewReason::AcrossMidnight);
                }
            }
        }
        if start
            .into_iter()
            .chain(end)
            .any(|t| self.implausible(t, zone))
        {
            reasons.push(ReviewReason::ImplausibleDate);
        }
        reasons
    }

    /// A kiosk's scan or check-in without a badge that the server received more than
    /// `late_delivery_days` after it happened.
    fn delivered_late(&self, o: &Observed) -> bool {
        let received = o.delivery.and_then(|d| d.received_at);
        match (received, self.cx.rules.late_delivery()) {
            (Some(received), Some(limit)) => {
                matches!(
                    o.event.source,
                    crate::Source::BadgeScan { .. } | crate::Source::Coordinator { .. }
                ) && received.signed_duration_since(o.event.at) > limit
            }
            _ => false,
        }
    }

    fn skewed(&self, o: Option<&Observed>) -> bool {
        o.is_some_and(|o| {
            self.cx
                .clock
                .skewed(o, self.cx.rules.clock_skew_tolerance())
        })
    }

    fn finish(&self, d: Draft<'a>) -> Option<Built> {
        let anchor = d.opening.or(d.closing)?;
        let zone = anchor.event.time_zone;
        let (category, entered, recorded_start, recorded_end) =
            match d.opening.map(|o| &o.event.kind) {
                Some(EventKind::AddSession {
                    category,
                    start,
                    end,
                    ..
                }) => (*category, true, Some(*start), Some(*end)),
                Some(_) => (
                    HourCategory::Classroom,
                    false,
                    d.opening.map(|o| o.event.at),
                    d.closing.map(|c| c.event.at),
                ),
                None => (
                    HourCategory::Classroom,
                    false,
                    None,
                    d.closing.map(|c| c.event.at),
                ),
            };
        let mut recorded: Vec<&Observed> = d.opening.into_iter().chain(d.closing).collect();
        recorded.extend(d.absorbed.iter().copied());
        recorded.extend(d.extra_closings.iter().copied());
        let unverified = recorded
            .iter()
            .any(|o| o.event.source.is_provisional() && !o.badge_verified);
        let recorded_implausible = recorded.iter().any(|o| self.implausible(o.event.at, zone));

        // What the recorded events alone say.
        let mut base = self.time_reasons(recorded_start, recorded_end, zone);
        if recorded_implausible {
            base.push(ReviewReason::ImplausibleDate);
        }
        if unverified {
            base.push(ReviewReason::UnverifiedBadge);
        }
        if !entered && (self.skewed(d.opening) || self.skewed(d.closing)) {
            base.push(ReviewReason::KioskClockSkew);
        }
        if !d.extra_closings.is_empty() {
            base.push(ReviewReason::ClosedTwice);
        }
        if !entered && recorded.iter().any(|o| self.delivered_late(o)) {
            base.push(ReviewReason::LateDelivery);
        }

        // Resolutions naming this session (its item, or an arrival absorbed into it): the
        // coordinators' first, then the organizers', each in timeline order, so the latest of
        // the strongest wins.
        let item = anchor.event.id;
        let mut resolutions: Vec<&Observed> = Vec::new();
        if !self.resolutions.is_empty() {
            let named = std::iter::once(item).chain(
                d.absorbed
                    .iter()
                    .filter(|o| o.event.kind == EventKind::CheckIn)
                    .map(|o| o.event.id),
            );
            for id in named {
                resolutions.extend(self.resolutions.get(&id).into_iter().flatten().copied());
            }
            resolutions.dedup_by_key(|o| o.event.id);
        }
        resolutions.sort_by_key(|o| (o.event.source.is_organizer(), o.event.at, o.event.id));
        // Once an organizer has decided (approved, or set times), her decision stands: a
        // coordinator's close or new times recorded after it do not change it. (Ones recorded
        // before it but delivered late change the times an approval was given for, which
        // undoes the approval: see below.)
        let organizer_decided = resolutions
            .iter()
            .filter(|r| r.event.source.is_organizer())
            .map(|r| (r.event.at, r.event.id))
            .min();
        let (mut start, mut end) = (recorded_start, recorded_end);
        let (mut start_set, mut end_set, mut unrequested) = (false, false, false);
        let mut approval: Option<&Observed> = None;
        for r in &resolutions {
            let organizer = r.event.source.is_organizer();
            let (new_start, new_end) = match r.event.kind {
                EventKind::ApproveSession { .. } => {
                    if organizer {
                        approval = Some(r);
                    }
                    continue;
                }
                EventKind::CloseSession { end, .. } => (None, Some(end)),
                EventKind::SetTimes { start, end, .. } => (start, end),
                _ => continue,
            };
            if !organizer && organizer_decided.is_some_and(|first| (r.event.at, r.event.id) > first)
            {
                continue;
            }
            // A coordinator resolves what needs review. A conflict (closed twice) she may settle
            // only within the times recorded, never by lengthening the session; and a change
            // to a session that was closed and fine is a conflict for review, never a silent
            // win.
            let within_recorded = new_start.is_none_or(|s| recorded_start.is_none_or(|r| s >= r))
                && new_end.is_none_or(|e| recorded_end.is_none_or(|r| e <= r));
            let only_conflict = base.iter().all(|r| *r == ReviewReason::ClosedTwice);
            let needs_review = !base.is_empty() || unrequested;
            let resolving = matches!(r.event.kind, EventKind::SetTimes { .. }) || !base.is_empty();
            if organizer || (needs_review && resolving && (!only_conflict || within_recorded)) {
                unrequested = false;
                if let Some(s) = new_start {
                    start = Some(s);
                    start_set = true;
                }
                if let Some(e) = new_end {
                    end = Some(e);
                    end_set = true;
                }
            } else if new_start.is_some_and(|s| Some(s) != start)
                || new_end.is_some_and(|e| Some(e) != end)
            {
                unrequested = true;
            }
        }
        // An approval holds for the times the organizer saw; if they changed since, it is a
        // new question.
        let approval = approval.and_then(|a| match &a.event.kind {
            EventKind::ApproveSession {
                reasons,
                start: seen_start,
                end: seen_end,
                ..
            } if seen_start.is_none_or(|s| Some(s) == start)
                && seen_end.is_none_or(|e| Some(e) == end) =>
            {
                Some(Approval {
                    reasons: reasons.clone(),
                })
            }
            _ => None,
        });
        let mut reasons = if start_set || end_set {
            let mut r = self.time_reasons(start, end, zone);
            let kept: Vec<&Observed> = [
                (!start_set).then_some(d.opening),
                (!end_set).then_some(d.closing),
            ]
            .into_iter()
            .flatten()
            .flatten()
            .collect();
            if kept.iter().any(|o| self.implausible(o.event.at, zone)) {
                r.push(ReviewReason::ImplausibleDate);
            }
            if unverified {
                r.push(ReviewReason::UnverifiedBadge);
            }
            if !entered && kept.iter().any(|o| self.skewed(Some(o))) {
                r.push(ReviewReason::KioskClockSkew);
            }
            // New times from a coordinator do not settle a late delivery: only an organizer's
            // decision does.
            let organizer_decision = resolutions.iter().any(|o| o.event.source.is_organizer());
            if !entered && !organizer_decision && recorded.iter().any(|o| self.delivered_late(o)) {
                r.push(ReviewReason::LateDelivery);
            }
            r
        } else {
            base
        };
        if unrequested {
            reasons.push(ReviewReason::ClosedTwice);
        }
        // A coordinator's void of this session, held for review (see `sessions`).
        let held: Vec<&Observed> = recorded
            .iter()
            .filter_map(|o| self.held.get(&o.event.id).copied())
            .collect();
        if !held.is_empty() {
            reasons.push(ReviewReason::ClosedTwice);
        }
        // Classroom time is what badges prove: a coordinator's entry of it waits for an
        // organizer.
        let coordinator_entry = d
            .opening
            .is_some_and(|o| matches!(o.event.source, crate::Source::Coordinator { .. }));
        if entered && category == HourCategory::Classroom && coordinator_entry {
            reasons.push(ReviewReason::CoordinatorClassroom);
        }

        let mut constituents = recorded;
        constituents.extend(resolutions.iter().copied());
        constituents.extend(held);
        constituents.sort_by_key(|o| (o.event.at, o.event.id));
        let mut kiosks: Vec<&KioskId> = constituents.iter().map(|o| &o.event.kiosk).collect();
        kiosks.sort_unstable();
        kiosks.dedup();
        let local_date = self.local_date(start.or(end).unwrap_or(anchor.event.at), zone);
        Some(Built {
            recorded: (anchor.event.at, item),
            approval,
            session: Session {
                mentor: self.mentor.clone(),
                item,
                category,
                start,
                end,
                time_zone: zone,
                local_date,
                period: self.cx.rules.period_of(local_date).name,
                opened_by: d.opening.map(|o| o.event.id),
                kiosk: anchor.event.kiosk.clone(),
                kiosks: kiosks.into_iter().cloned().collect(),
                events: constituents.iter().map(|o| o.event.id).collect(),
                reasons,
                credited_ms: 0,
                set_aside: None,
                entered,
            },
        })
    }

    fn set_aside_item(&self, o: &Observed) -> Session {
        let e = &o.event;
        let local_date = self.local_date(e.at, e.time_zone);
        let (category, entered) = match e.kind {
            EventKind::AddSession { category, .. } => (category, true),
            _ => (HourCategory::Classroom, false),
        };
        Session {
            mentor: self.mentor.clone(),
            item: e.id,
            category,
            start: Some(e.at),
            end: None,
            time_zone: e.time_zone,
            local_date,
            period: self.cx.rules.period_of(local_date).name,
            opened_by: None,
            kiosk: e.kiosk.clone(),
            kiosks: vec![e.kiosk.clone()],
            events: vec![e.id],
            reasons: vec![ReviewReason::SetAside],
            credited_ms: 0,
            set_aside: o.set_aside.clone(),
            entered,
        }
    }
}

/// An organizer's latest verdict in force on each set-aside event (true: accepted), among
/// events the server received (none of them set aside).
fn latest_verdicts(received: &[&Observed]) -> HashMap<EventId, bool> {
    let voided_verdicts = voids_in_force(received);
    let mut verdicts: HashMap<EventId, ((DateTime<Utc>, EventId), bool)> = HashMap::new();
    for o in received {
        let (item, accept) = match o.event.kind {
            EventKind::AcceptEvent { item } => (item, true),
            EventKind::RejectEvent { item } => (item, false),
            _ => continue,
        };
        if !o.event.source.is_organizer() || voided_verdicts.contains(&o.event.id) {
            continue;
        }
        let key = (o.event.at, o.event.id);
        let entry = verdicts.entry(item).or_insert((key, accept));
        if key > entry.0 {
            *entry = (key, accept);
        }
    }
    verdicts
        .into_iter()
        .map(|(item, (_, accept))| (item, accept))
        .collect()
}

/// The set-aside events an organizer's verdict in force rejects: they count for nothing, as a
/// voided event (a kiosk that still pairs a held visit learns of it in its roster).
pub fn rejected_in_force(events: &[Observed]) -> HashSet<EventId> {
    let received: Vec<&Observed> = events.iter().filter(|o| o.set_aside.is_none()).collect();
    latest_verdicts(&received)
        .into_iter()
        .filter(|(_, accept)| !accept)
        .map(|(item, _)| item)
        .collect()
}

/// The events voided by voids in force among these (set-aside events left out): what the
/// sessionizer applies, for the server's checks before a decision.
pub fn voided_in_force(events: &[Observed]) -> HashSet<EventId> {
    let received: Vec<&Observed> = events.iter().filter(|o| o.set_aside.is_none()).collect();
    voids_in_force(&received)
}

/// The events voided by voids in force. A void counts unless a void in force names it: a void
/// of a void reverses it, and a void of that restores it, whatever the clocks that stamped them
/// said. Each void names one event, so this is decided from the voids nobody names inward, with
/// no recursion and in no particular order; voids naming each other in a ring (only forged ids
/// can make one) count for nothing. A coordinator cannot undo an organizer: her void of an
/// organizer's event is ignored (the server sets it aside too).
fn voids_in_force(events: &[&Observed]) -> HashSet<EventId> {
    let by_organizer: HashSet<EventId> = events
        .iter()
        .filter(|o| o.event.source.is_organizer())
        .map(|o| o.event.id)
        .collect();
    let names: HashMap<EventId, EventId> = events
        .iter()
        .filter_map(|o| match o.event.kind {
            EventKind::Void { target }
                if o.event.source.is_organizer() || !by_organizer.contains(&target) =>
            {
                Some((o.event.id, target))
            }
            _ => None,
        })
        .collect();
    // How many voids name each void, still to be decided.
    let mut waiting: HashMap<EventId, usize> = HashMap::new();
    for target in names.values() {
        if names.contains_key(target) {
            *waiting.entry(*target).or_insert(0) += 1;
        }
    }
    let mut ready: Vec<EventId> = names
        .keys()
        .filter(|v| !waiting.contains_key(v))
        .copied()
        .collect();
    let mut named_by_one_in_force: HashSet<EventId> = HashSet::new();
    let mut targets = HashSet::new();
    while let Some(void) = ready.pop() {
        let Some(&target) = names.get(&void) else {
            continue;
        };
        let in_force = !named_by_one_in_force.contains(&void);
        if in_force {
            named_by_one_in_force.insert(target);
            targets.insert(target);
        }
        if let Some(n) = waiting.get_mut(&target) {
            *n -= 1;
            if *n == 0 {
                ready.push(target);
            }
        }
    }
    targets
}

/// Closes, new times and approvals in force, by the item they name.
fn resolutions_by_item<'a>(
    active: &[&'a Observed],
    voided: &HashSet<EventId>,
) -> HashMap<EventId, Vec<&'a Observed>> {
    let mut resolutions: HashMap<EventId, Vec<&Observed>> = HashMap::new();
    for o in active {
        let named = match o.event.kind {
            EventKind::CloseSession { check_in, .. }
            | EventKind::ApproveSession { check_in, .. } => check_in,
            EventKind::SetTimes { item, .. } => item,
            _ => continue,
        };
        if !voided.contains(&o.event.id) {
            resolutions.entry(named).or_default().push(*o);
        }
    }
    resolutions
}

/// Closes draft `i` with check-out `o`; a check-out of an already closed draft is absorbed
/// within the window (the same departure scanned twice) and a conflict outside it.
fn close<'a>(
    drafts: &mut [Draft<'a>],
    i: usize,
    o: &'a Observed,
    rules: &ProgramRules,
    open: &mut Option<usize>,
    last_out: &mut Option<(DateTime<Utc>, usize)>,
) {
    let draft = &mut drafts[i];
    match draft.closing {
        None => {
            draft.closing = Some(o);
            if *open == Some(i) {
                *open = None;
            }
            *last_out = Some((o.event.at, i));
        }
        Some(first) if same_arrival((o.event.at - first.event.at).abs(), rules) => {
            draft.absorbed.push(o)
        }
        Some(_) => draft.extra_closings.push(o),
    }
}

/// Two scans this close are one arrival (or one departure) seen twice: within the repeat window,
/// or less than the minimum session apart (the same rule the kiosk's toggle applies).
fn same_arrival(since: chrono::Duration, rules: &ProgramRules) -> bool {
    since >= chrono::Duration::zero()
        && (since < rules.min_session() || since <= rules.duplicate_window())
}

/// What an organizer's approval covers.
struct Approval {
    /// Empty: every approvable reason.
    reasons: Vec<ReviewReason>,
}

impl Approval {
    fn covers(&self, reason: ReviewReason) -> bool {
        self.reasons.is_empty() || self.reasons.contains(&reason)
    }
}

/// Two badge sessions, or two entered sessions, that overlap: the later-recorded needs review.
fn mark_overlaps(built: &mut [Built]) {
    let mut order: Vec<usize> = (0..built.len())
        .filter(|&i| interval(&built[i].session).is_some())
        .collect();
    order.sort_by_key(|&i| (interval(&built[i].session), built[i].recorded));
    let mut live: Vec<usize> = Vec::new();
    let mut later: Vec<usize> = Vec::new();
    for i in order {
        let Some((start, _)) = interval(&built[i].session) else {
            continue;
        };
        live.retain(|&j| interval(&built[j].session).is_some_and(|(_, end)| end > start));
        for &j in &live {
            if built[i].session.entered == built[j].session.entered {
                later.push(if built[i].recorded > built[j].recorded {
                    i
                } else {
                    j
                });
            }
        }
        live.push(i);
    }
    for i in later {
        built[i].session.reasons.push(ReviewReason::Overlap);
    }
}

/// A session's interval, if it has a positive one.
fn interval(s: &Session) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (s.start, s.end) {
        (Some(a), Some(b)) if b > a && !s.is_set_aside() => Some((a, b)),
        _ => None,
    }
}

/// Credits every counting session its minutes not already credited: entered sessions first
/// (they take the minutes they share with a badge session), each kind in recorded order.
fn credit(built: &mut [Built]) {
    let mut order: Vec<usize> = (0..built.len())
        .filter(|&i| built[i].session.reasons.is_empty())
        .collect();
    order.sort_by_key(|&i| (!built[i].session.entered, built[i].recorded));
    let mut credited = Credited::default();
    for i in order {
        if let Some((start, end)) = interval(&built[i].session) {
            built[i].session.credited_ms = credited.take(start, end).num_milliseconds();
        }
    }
}
