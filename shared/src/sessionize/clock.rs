//! Was the kiosk's clock right when it recorded an event? Each kiosk series carries clock
//! readings: the kiosk's own clock checks (its clock against the server's at a sync), the
//! server's reading of every upload, clock jumps (the wall clock moved against the monotonic
//! clock) and restarts (what the clock said before is unknown). An event is judged by the
//! readings that bracket it *by sequence number in its series*, carried across jumps, never
//! across a restart: it is skewed only when every bracket that says something says the clock
//! was off by more than the tolerance.

use std::collections::HashMap;

use chrono::Duration;

use serde::{Deserialize, Serialize};

use crate::{EventKind, Observed, SeriesId};

/// The server's reading of one upload: the kiosk's clock minus the server's, holding just after
/// the upload's last event in its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reading {
    pub series: SeriesId,
    pub through_sequence: u64,
    pub offset_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    /// The clock was off by this many milliseconds (kiosk minus server).
    Offset(i64),
    /// The clock moved by this many milliseconds: the offset after is the offset before plus it.
    Jump(i64),
    /// The program restarted: nothing before says anything about after.
    Restart,
}

/// Readings per series, by position: an event with sequence `n` sits at `2n`; the server's
/// reading of an upload that ended at sequence `n` sits at `2n + 1`, just after it.
#[derive(Debug, Default)]
pub(crate) struct ClockModel {
    series: HashMap<SeriesId, Vec<(u128, Mark)>>,
}

impl ClockModel {
    pub(crate) fn new(events: &[&Observed], readings: &[Reading]) -> Self {
        let mut series: HashMap<SeriesId, Vec<(u128, Mark)>> = HashMap::new();
        // Every event of an upload carries the same reading: keep one of each.
        let mut seen: std::collections::HashSet<(SeriesId, u64, i64)> =
            std::collections::HashSet::new();
        for o in events {
            let e = &o.event;
            let at = u128::from(e.sequence) * 2;
            let reading = match e.kind {
                EventKind::ClockCheck { server_clock } => Some(Mark::Offset(
                    e.at.signed_duration_since(server_clock).num_milliseconds(),
                )),
                EventKind::ClockJump { delta_ms } => Some(Mark::Jump(delta_ms)),
                EventKind::Started => Some(Mark::Restart),
                _ => None,
            };
            let fresh = o
                .delivery
                .filter(|d| seen.insert((e.series, d.through_sequence, d.offset_ms)));
            if reading.is_none() && fresh.is_none() {
                continue;
            }
            let marks = series.entry(e.series).or_default();
            if let Some(r) = reading {
                marks.push((at, r));
            }
            if let Some(d) = fresh {
                marks.push((
                    u128::from(d.through_sequence) * 2 + 1,
                    Mark::Offset(d.offset_ms),
                ));
            }
        }
        for r in readings {
            if seen.insert((r.series, r.through_sequence, r.offset_ms)) {
                series.entry(r.series).or_default().push((
                    u128::from(r.through_sequence) * 2 + 1,
                    Mark::Offset(r.offset_ms),
                ));
            }
        }
        for readings in series.values_mut() {
            readings.sort_unstable();
            readings.dedup();
        }
        Self { series }
    }

    /// Whether the readings around this event say its kiosk's clock was off by more than
    /// `tolerance` when it was recorded.
    pub(crate) fn skewed(&self, o: &Observed, tolerance: Duration) -> bool {
        let Some(readings) = self.series.get(&o.event.series) else {
            return false;
        };
        let position = u128::from(o.event.sequence) * 2;
        let split = readings.partition_point(|(pos, _)| *pos < position);
        let mut estimates = Vec::with_capacity(2);
        // Before: the nearest offset, carried forward across the jumps after it.
        let mut carried: i64 = 0;
        for (_, r) in readings[..split].iter().rev() {
            match *r {
                Mark::Offset(o) => {
                    estimates.push(o.saturating_add(carried));
                    break;
                }
                Mark::Jump(d) => carried = carried.saturating_add(d),
                Mark::Restart => break,
            }
        }
        // After: the nearest offset, carried back across the jumps before it.
        let mut carried: i64 = 0;
        for (pos, r) in &readings[split..] {
            match *r {
                // A reading at the event's own position is the event itself (a jump or check).
                _ if *pos == position => continue,
                Mark::Offset(o) => {
                    estimates.push(o.saturating_sub(carried));
                    break;
                }
                Mark::Jump(d) => carried = carried.saturating_add(d),
                Mark::Restart => break,
            }
        }
        let limit = tolerance.num_milliseconds();
        !estimates.is_empty() && estimates.iter().all(|e| e.saturating_abs() > limit)
    }
}
