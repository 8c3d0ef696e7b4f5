//! Per-subscription counters and the handler-latency histogram, lock-free so the invocation
//! tasks can update them on every attempt. The admin service renders them (Prometheus).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the handler-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A cumulative-on-read latency histogram.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// One counter per bucket (non-cumulative) plus the `+Inf` overflow at the end.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A point-in-time copy of a [`LatencyHistogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, cumulative count)`, the last bound being `f64::INFINITY`.
    pub cumulative: Vec<(f64, u64)>,
    /// Sum of all observations in seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one handler round trip.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let idx = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[idx].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy for rendering.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            total += b.load(Ordering::Relaxed);
            let bound = LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            cumulative.push((bound, total));
        }
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: total,
        }
    }
}

/// Counters of one subscription.
#[derive(Debug, Default)]
pub struct SubscriptionMetrics {
    /// Records a handler accepted (2xx).
    pub delivered: AtomicU64,
    /// Failed attempts that were (or will be) retried.
    pub retried: AtomicU64,
    /// Records produced to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Records given up on under `ingress.on-failure=skip`.
    pub skipped: AtomicU64,
    /// Handler round-trip latency of every attempt.
    pub handler_latency: LatencyHistogram,
}

/// A point-in-time copy of [`SubscriptionMetrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    /// See [`SubscriptionMetrics::delivered`].
    pub delivered: u64,
    /// See [`SubscriptionMetrics::retried`].
    pub retried: u64,
    /// See [`SubscriptionMetrics::dead_lettered`].
    pub dead_lettered: u64,
    /// See [`SubscriptionMetrics::skipped`].
    pub skipped: u64,
    /// See [`SubscriptionMetrics::handler_latency`].
    pub handler_latency: HistogramSnapshot,
}

impl SubscriptionMetrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy for rendering.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            handler_latency: self.handler_latency.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_with_an_infinite_bucket() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(100));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative.first(), Some(&(0.001, 1)));
        assert_eq!(
            s.cumulative.iter().find(|(b, _)| *b == 0.025),
            Some(&(0.025, 2))
        );
        assert_eq!(s.cumulative.last(), Some(&(f64::INFINITY, 3)));
        assert!((s.sum_seconds - 100.0205).abs() < 1e-9);
    }
}
