//! Process metrics for Prometheus: scoring durations and outcomes counted here, queue and
//! submission counts read from the database at scrape time (so they are right whichever
//! process did the work).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the scoring-duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Metrics kept in this process.
#[derive(Debug, Default)]
pub struct Metrics {
    scoring: Mutex<Histogram>,
}

impl Metrics {
    /// Records one scoring run.
    pub fn observe_scoring(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut h = self.scoring.lock().unwrap_or_else(|e| e.into_inner());
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text format of everything, with the database counts given.
    pub fn render(&self, queued: i64, running: i64, by_status: &[(String, i64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP triageboard_queue_jobs Scoring jobs by state.");
        let _ = writeln!(out, "# TYPE triageboard_queue_jobs gauge");
        let _ = writeln!(out, "triageboard_queue_jobs{{state=\"queued\"}} {queued}");
        let _ = writeln!(out, "triageboard_queue_jobs{{state=\"running\"}} {running}");
        let _ = writeln!(out, "# HELP triageboard_submissions Submissions by status.");
        let _ = writeln!(out, "# TYPE triageboard_submissions gauge");
        for status in crate::db::submissions::Status::ALL {
            let n = by_status
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "triageboard_submissions{{status=\"{}\"}} {n}",
                status.as_str()
            );
        }
        let h = self.scoring.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP triageboard_scoring_seconds Time to score one submission in this process."
        );
        let _ = writeln!(out, "# TYPE triageboard_scoring_seconds histogram");
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "triageboard_scoring_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "triageboard_scoring_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "triageboard_scoring_seconds_sum {}", h.sum);
        let _ = writeln!(out, "triageboard_scoring_seconds_count {}", h.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;
    use std::time::Duration;

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::default();
        metrics.observe_scoring(Duration::from_millis(700));
        metrics.observe_scoring(Duration::from_secs(20));
        let text = metrics.render(3, 1, &[("scored".into(), 2)]);
        assert!(text.contains("triageboard_scoring_seconds_bucket{le=\"1\"} 1"));
        assert!(text.contains("triageboard_scoring_seconds_bucket{le=\"30\"} 2"));
        assert!(text.contains("triageboard_scoring_seconds_count 2"));
        assert!(text.contains("triageboard_queue_jobs{state=\"queued\"} 3"));
        assert!(text.contains("triageboard_submissions{status=\"scored\"} 2"));
        assert!(text.contains("triageboard_submissions{status=\"failed\"} 0"));
    }
}
