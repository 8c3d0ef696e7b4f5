//! `LogThrottle`: caps a repeated warning (one per failing record during a handler outage)
//! at a number of lines per window, and says so: the first suppressed line announces the
//! suppression, the first line of the next window tells how many were left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::lock;

/// Lines admitted per window.
pub(crate) const LINES_PER_WINDOW: u32 = 20;
/// The window.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// What the caller should log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Log the line; `suppressed` lines of the previous window were left out.
    Log {
        /// Lines left out since the last admitted one.
        suppressed: u64,
    },
    /// This is the first line over the cap: log that lines are being suppressed.
    StartSuppressing,
    /// Leave it out (it is counted).
    Suppress,
}

/// A per-subscription cap on one kind of warning.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl LogThrottle {
    /// A throttle with nothing logged yet.
    pub(crate) fn new() -> Self {
        LogThrottle {
            state: Mutex::new(State {
                window_start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Decides about one line at `now`.
    pub(crate) fn admit(&self, now: Instant) -> Admit {
        let mut s = lock(&self.state);
        let expired = s
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW);
        if expired {
            s.window_start = Some(now);
            s.logged = 1;
            let suppressed = std::mem::take(&mut s.suppressed);
            return Admit::Log { suppressed };
        }
        if s.logged < LINES_PER_WINDOW {
            s.logged += 1;
            return Admit::Log { suppressed: 0 };
        }
        s.suppressed += 1;
        if s.suppressed == 1 {
            Admit::StartSuppressing
        } else {
            Admit::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_lines_per_window_and_reports_what_it_left_out() {
        let t = LogThrottle::new();
        let t0 = Instant::now();
        for _ in 0..LINES_PER_WINDOW {
            assert_eq!(t.admit(t0), Admit::Log { suppressed: 0 });
        }
        assert_eq!(t.admit(t0), Admit::StartSuppressing);
        assert_eq!(t.admit(t0 + Duration::from_secs(1)), Admit::Suppress);
        assert_eq!(t.admit(t0 + Duration::from_secs(2)), Admit::Suppress);
        assert_eq!(t.admit(t0 + WINDOW), Admit::Log { suppressed: 3 });
        assert_eq!(t.admit(t0 + WINDOW), Admit::Log { suppressed: 0 });
    }
}
