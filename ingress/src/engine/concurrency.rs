//! The adaptive in-flight limit of one partition (`ingress.adaptive-concurrency`).
//!
//! More concurrent requests than the handler can serve at once only queue: they add latency,
//! CPU per event (every request its own syscalls and wake-ups) and memory (on HTTP/1.1 one
//! connection each), and no throughput. So the limit grows (doubling at first, then by one
//! per window of `limit` completions) while a window's mean round trip stays within
//! [`TOLERANCE`] of the unloaded round trip `base`, and shrinks by a tenth when it does not.
//! `base` is the lowest window mean seen, and is measured afresh by a short probe at
//! [`MIN_LIMIT`] after a run of congested windows (so a handler that became slower for good
//! does not keep the limit at its floor). Window means, not single samples, and a ratio, not
//! a difference: a handler whose latency merely jitters (20 ms +- 10 ms) is not taken for a
//! loaded one and gets the whole `ingress.max-in-flight`. The limit only grows while it is
//! used: a partition with few records does not ramp up to a limit it never needed.

use std::time::Duration;

/// The limit never goes below this (a partition always has some parallelism).
pub(crate) const MIN_LIMIT: usize = 2;
/// The limit a partition starts with.
pub(crate) const INITIAL_LIMIT: usize = 8;
/// A window whose mean round trip is more than this times `base` is congested.
const TOLERANCE: f64 = 1.5;
/// A window has at least this many samples.
const MIN_WINDOW: usize = 8;
/// Congested windows after which `base` is measured again.
const PROBE_AFTER: usize = 32;
/// Samples a probe measures (at [`MIN_LIMIT`]).
const PROBE_SAMPLES: usize = 16;

/// A measurement of the unloaded round trip: the limit is at [`MIN_LIMIT`] meanwhile.
#[derive(Debug, Clone)]
struct Probe {
    /// The limit to go back to.
    saved: usize,
    /// Completions of requests started before the probe, still to ignore.
    skip: usize,
    sum: Duration,
    samples: usize,
}

/// The adaptive limit of one partition.
#[derive(Debug, Clone)]
pub(crate) struct ConcurrencyLimit {
    /// `false`: the limit is `max`, always.
    adaptive: bool,
    max: usize,
    limit: usize,
    slow_start: bool,
    /// The current window: sum and count of its samples, whether the limit was reached.
    sum: Duration,
    samples: usize,
    saturated: bool,
    /// In flight after the last dispatch.
    in_flight: usize,
    base: Option<Duration>,
    congested_windows: usize,
    probe: Option<Probe>,
}

impl ConcurrencyLimit {
    /// A limit adapting within `[MIN_LIMIT, max]`; with `adaptive` false it is `max`.
    pub(crate) fn new(max: usize, adaptive: bool) -> Self {
        let max = max.max(1);
        ConcurrencyLimit {
            adaptive,
            max,
            limit: if adaptive {
                INITIAL_LIMIT.min(max)
            } else {
                max
            },
            slow_start: true,
            sum: Duration::ZERO,
            samples: 0,
            saturated: false,
            in_flight: 0,
            base: None,
            congested_windows: 0,
            probe: None,
        }
    }

    /// The current limit.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Notes that `in_flight` requests are running now (after a dispatch).
    pub(crate) fn note_in_flight(&mut self, in_flight: usize) {
        self.in_flight = in_flight;
        if in_flight >= self.limit {
            self.saturated = true;
        }
    }

    /// One finished first attempt that took `rtt`.
    pub(crate) fn record(&mut self, rtt: Duration) {
        if !self.adaptive {
            return;
        }
        if let Some(probe) = &mut self.probe {
            if probe.skip > 0 {
                probe.skip -= 1;
                return;
            }
            probe.sum += rtt;
            probe.samples += 1;
            if probe.samples >= PROBE_SAMPLES {
                self.base = Some(probe.sum / u32::try_from(probe.samples).unwrap_or(u32::MAX));
                self.limit = probe.saved;
                self.probe = None;
                self.congested_windows = 0;
                self.start_window();
            }
            return;
        }
        self.sum += rtt;
        self.samples += 1;
        if self.samples < self.limit.max(MIN_WINDOW) {
            return;
        }
        let mean = self.sum / u32::try_from(self.samples).unwrap_or(u32::MAX);
        let saturated = self.saturated;
        self.start_window();
        let base = self.base.map_or(mean, |base| base.min(mean));
        self.base = Some(base);
        if mean.as_secs_f64() > base.as_secs_f64() * TOLERANCE {
            self.slow_start = false;
            let shrunk = (self.limit as f64 * 0.9) as usize;
            self.limit = shrunk.min(self.limit - 1).max(MIN_LIMIT).min(self.max);
            self.congested_windows += 1;
            if self.congested_windows >= PROBE_AFTER {
                self.probe = Some(Probe {
                    saved: self.limit,
                    skip: self.in_flight,
                    sum: Duration::ZERO,
                    samples: 0,
                });
                self.limit = MIN_LIMIT.min(self.max);
            }
        } else if saturated {
            self.limit = if self.slow_start {
                self.limit.saturating_mul(2)
            } else {
                self.limit + 1
            }
            .min(self.max);
        }
    }

    fn start_window(&mut self) {
        self.sum = Duration::ZERO;
        self.samples = 0;
        self.saturated = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the limit against a handler that serves `capacity` requests at once in
    /// `service` each, queueing the rest: rtt = service x max(1, in_flight / capacity).
    fn converge(max: usize, capacity: usize, service: Duration) -> usize {
        let mut l = ConcurrencyLimit::new(max, true);
        for _ in 0..5_000 {
            let in_flight = l.limit();
            l.note_in_flight(in_flight);
            let load = (in_flight as f64 / capacity as f64).max(1.0);
            l.record(service.mul_f64(load));
        }
        l.limit()
    }

    #[test]
    fn a_handler_that_only_queues_gets_about_its_capacity() {
        let limit = converge(100, 4, Duration::from_micros(200));
        assert!((4..=10).contains(&limit), "{limit}");
    }

    #[test]
    fn a_handler_that_became_slower_for_good_is_measured_again() {
        let mut l = ConcurrencyLimit::new(100, true);
        let drive = |l: &mut ConcurrencyLimit, service: Duration, n: usize| {
            for _ in 0..n {
                let in_flight = l.limit();
                l.note_in_flight(in_flight);
                l.record(service.mul_f64((in_flight as f64 / 4.0).max(1.0)));
            }
        };
        drive(&mut l, Duration::from_micros(200), 5_000);
        let before = l.limit();
        // Ten times slower at the same capacity: the limit must not stay at its floor.
        drive(&mut l, Duration::from_millis(2), 5_000);
        assert!((4..=10).contains(&l.limit()), "{before} -> {}", l.limit());
    }

    #[test]
    fn a_slow_handler_that_never_queues_gets_everything() {
        assert_eq!(converge(100, 1_000, Duration::from_millis(50)), 100);
    }

    #[test]
    fn jitter_is_not_queueing() {
        let mut l = ConcurrencyLimit::new(100, true);
        let mut x: u64 = 7;
        for _ in 0..20_000 {
            l.note_in_flight(l.limit());
            // 20 ms +- 10 ms, whatever the concurrency.
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let jitter = (x >> 33) % 20_000;
            l.record(Duration::from_micros(10_000 + jitter));
        }
        assert!(l.limit() >= 70, "{}", l.limit());
    }

    #[test]
    fn an_unused_limit_does_not_grow() {
        let mut l = ConcurrencyLimit::new(100, true);
        for _ in 0..1_000 {
            l.note_in_flight(1);
            l.record(Duration::from_millis(1));
        }
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[test]
    fn bounds_hold_and_fixed_means_max() {
        assert_eq!(ConcurrencyLimit::new(3, true).limit(), 3);
        assert_eq!(ConcurrencyLimit::new(0, true).limit(), 1);
        let mut fixed = ConcurrencyLimit::new(100, false);
        for _ in 0..100 {
            fixed.note_in_flight(100);
            fixed.record(Duration::from_secs(1));
        }
        assert_eq!(fixed.limit(), 100);
        // A handler that gets slower and slower: never below MIN_LIMIT.
        let mut l = ConcurrencyLimit::new(100, true);
        for i in 0..10_000u32 {
            l.note_in_flight(l.limit());
            l.record(Duration::from_micros(100) * (i + 1));
        }
        assert!(l.limit() >= MIN_LIMIT.min(100));
    }
}
