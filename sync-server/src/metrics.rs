//! Prometheus metrics in the text exposition format, by hand: a few counters and two
//! histograms need no metrics framework. Every series exists from start-up, at 0.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the histogram buckets: from a quick upload to a slow report.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub events_ingested: AtomicU64,
    pub events_set_aside: AtomicU64,
    pub events_already_stored: AtomicU64,
    pub roster_pulls: AtomicU64,
    pub upload_batch: Histogram,
    pub report: Histogram,
}

/// What is read from the database at scrape time.
pub struct Gauges {
    pub review_items_open: u64,
    /// (kiosk id, seconds since the server last heard from it).
    pub kiosks_last_seen: Vec<(String, f64)>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut out,
            "pm_events_ingested_total",
            "Events newly stored from kiosk uploads.",
            &self.events_ingested,
        );
        counter(
            &mut out,
            "pm_events_set_aside_total",
            "Events stored but set aside for an organizer.",
            &self.events_set_aside,
        );
        counter(
            &mut out,
            "pm_events_already_stored_total",
            "Events sent again that were already stored (resends).",
            &self.events_already_stored,
        );
        counter(
            &mut out,
            "pm_roster_pulls_total",
            "Roster requests answered.",
            &self.roster_pulls,
        );
        self.upload_batch.render(
            &mut out,
            "pm_upload_batch_seconds",
            "Time to check and store one upload batch.",
        );
        self.report.render(
            &mut out,
            "pm_report_seconds",
            "Time to compute a report (hours, program).",
        );
        let _ = writeln!(
            out,
            "# HELP pm_review_items_open Review items waiting for a decision.\n# TYPE pm_review_items_open gauge\npm_review_items_open {}",
            gauges.review_items_open
        );
        let _ = writeln!(
            out,
            "# HELP pm_kiosk_last_seen_seconds Seconds since the kiosk last reported (at its last sync).\n# TYPE pm_kiosk_last_seen_seconds gauge"
        );
        for (kiosk, secs) in &gauges.kiosks_last_seen {
            // Kiosk ids are [a-z0-9-] (issued by the server): nothing to escape.
            let _ = writeln!(
                out,
                "pm_kiosk_last_seen_seconds{{kiosk=\"{kiosk}\"}} {secs:.0}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_there_from_the_start_and_histograms_accumulate() {
        let m = Metrics::default();
        let empty = Gauges {
            review_items_open: 0,
            kiosks_last_seen: Vec::new(),
        };
        let text = m.render(&empty);
        for name in [
            "pm_events_ingested_total 0",
            "pm_events_set_aside_total 0",
            "pm_events_already_stored_total 0",
            "pm_roster_pulls_total 0",
            "pm_upload_batch_seconds_count 0",
            "pm_report_seconds_count 0",
            "pm_review_items_open 0",
            "# TYPE pm_kiosk_last_seen_seconds gauge",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        m.upload_batch.observe(Duration::from_millis(30));
        Metrics::add(&m.events_ingested, 3);
        let text = m.render(&Gauges {
            review_items_open: 2,
            kiosks_last_seen: vec![("k-abc".into(), 12.4)],
        });
        assert!(text.contains("pm_events_ingested_total 3"));
        assert!(text.contains("pm_upload_batch_seconds_bucket{le=\"0.025\"} 0"));
        assert!(text.contains("pm_upload_batch_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("pm_upload_batch_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("pm_kiosk_last_seen_seconds{kiosk=\"k-abc\"} 12"));
        assert!(text.contains("pm_review_items_open 2"));
    }
}
