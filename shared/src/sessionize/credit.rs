//! Crediting time once: a mentor is never credited twice for the same minute.

use chrono::{DateTime, Duration, Utc};

/// Disjoint, sorted intervals already credited.
#[derive(Debug, Default)]
pub(crate) struct Credited {
    spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Credited {
    /// Credits `[start, end)` and returns how much of it was not credited before.
    pub(crate) fn take(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Duration {
        if end <= start {
            return Duration::zero();
        }
        let mut fresh = end - start;
        // Every span that touches [start, end) is merged into one.
        let first = self.spans.partition_point(|(_, e)| *e < start);
        let mut last = first;
        let (mut lo, mut hi) = (start, end);
        while last < self.spans.len() && self.spans[last].0 <= end {
            let (s, e) = self.spans[last];
            let overlap = e.min(end) - s.max(start);
            if overlap > Duration::zero() {
                fresh -= overlap;
            }
            lo = lo.min(s);
            hi = hi.max(e);
            last += 1;
        }
        self.spans.splice(first..last, [(lo, hi)]);
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(0, 0).single().unwrap_or_default() + Duration::hours(h)
    }

    #[test]
    fn overlapping_time_is_credited_once() {
        let mut c = Credited::default();
        assert_eq!(c.take(t(9), t(11)), Duration::hours(2));
        assert_eq!(c.take(t(8), t(10)), Duration::hours(1));
        assert_eq!(c.take(t(8), t(11)), Duration::zero());
        assert_eq!(c.take(t(12), t(13)), Duration::hours(1));
        assert_eq!(c.take(t(7), t(14)), Duration::hours(3));
        assert_eq!(c.spans, vec![(t(7), t(14))]);
        assert_eq!(c.take(t(5), t(5)), Duration::zero());
    }
}
