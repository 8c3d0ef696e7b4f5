//! What to do after an invocation attempt: classification of HTTP outcomes (SPEC §5) and
//! exponential backoff with jitter that honours `Retry-After`.

use std::time::Duration;

use crate::options::RetryPolicy;

/// The outcome of one HTTP attempt, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx: the record is done.
    Delivered,
    /// 408, 429, 5xx, connect error, timeout: try again, after `retry_after` if the handler
    /// said so.
    Retryable {
        /// Why, for status and logs.
        reason: String,
        /// The handler's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Any other status, or a record that can never be delivered (bad key, invalid JSON):
    /// retrying cannot help; `ingress.on-failure` decides.
    Terminal {
        /// Why.
        reason: String,
    },
}

/// Classifies an HTTP status code.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> AttemptOutcome {
    match status {
        200..=299 => AttemptOutcome::Delivered,
        408 | 429 | 500..=599 => AttemptOutcome::Retryable {
            reason: format!("handler answered {status}"),
            retry_after,
        },
        _ => AttemptOutcome::Terminal {
            reason: format!("handler answered {status}"),
        },
    }
}

/// Parses a `Retry-After` header: delay-seconds only (an HTTP date is ignored, as most
/// clients do, rather than trusting the two clocks to agree). Capped at one hour.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// The delay before attempt `attempt + 1` after `attempt` failed attempts (1-based):
/// `initial * 2^(attempt-1)` capped at `max`, with "equal jitter" (half fixed, half random)
/// so that many keys failing together do not retry in lockstep. A handler's `Retry-After`
/// wins when it is longer.
pub fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    random_unit: f64,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let base = policy
        .initial_interval
        .saturating_mul(1u32 << exp)
        .min(policy.max_interval);
    let half = base / 2;
    let jittered = half + half.mul_f64(random_unit.clamp(0.0, 1.0));
    match retry_after {
        Some(ra) if ra > jittered => ra,
        _ => jittered,
    }
}

/// Whether another attempt is allowed after `attempts` attempts.
pub fn may_retry(policy: &RetryPolicy, attempts: u32) -> bool {
    policy.max_attempts.is_none_or(|max| attempts < max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: Option<u32>) -> RetryPolicy {
        RetryPolicy {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(10),
            max_attempts,
        }
    }

    #[test]
    fn status_classes_follow_the_handler_contract() {
        assert_eq!(classify_status(200, None), AttemptOutcome::Delivered);
        assert_eq!(classify_status(204, None), AttemptOutcome::Delivered);
        for s in [408, 429, 500, 502, 503, 599] {
            assert!(
                matches!(classify_status(s, None), AttemptOutcome::Retryable { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 415, 422, 301] {
            assert!(
                matches!(classify_status(s, None), AttemptOutcome::Terminal { .. }),
                "{s}"
            );
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_bounds() {
        let p = policy(None);
        assert_eq!(backoff(&p, 1, None, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&p, 1, None, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&p, 4, None, 1.0), Duration::from_millis(800));
        assert_eq!(
            backoff(&p, 40, None, 1.0),
            Duration::from_secs(10),
            "capped"
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(3)), 1.0),
            Duration::from_secs(3),
            "Retry-After wins when longer"
        );
    }

    #[test]
    fn retry_after_parsing_and_attempt_limits() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert!(may_retry(&policy(None), 1_000_000));
        assert!(may_retry(&policy(Some(3)), 2));
        assert!(!may_retry(&policy(Some(3)), 3));
    }
}
