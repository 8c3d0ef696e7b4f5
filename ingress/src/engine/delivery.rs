//! One record's life after dispatch: build the request, attempt it, back off and retry on
//! retryable failures, and apply `ingress.on-failure` when retrying is over (terminal
//! failure, or `ingress.retry.max-attempts` reached). Every outcome ends as either
//! [`DeliveryResult::Finished`] (delivered, dead-lettered or skipped: the offset may be
//! committed past) or [`DeliveryResult::Abandoned`] (the partition is being drained: the
//! record stays uncommitted and will be delivered again by whoever owns it next).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use kafka_proto::record::Record;
use tokio::sync::watch;

use super::dead_letter::{DeadLetterContext, DeadLetterProducer};
use super::invocation::InvocationTemplate;
use super::invoker::Invoker;
use super::log_throttle::{self, Admit, LogThrottle};
use super::metrics::SubscriptionMetrics;
use super::retry::{backoff, may_retry, AttemptOutcome};
use super::status::{rfc3339, PartitionCounters, StuckRecord};
use crate::options::{OnFailure, RetryPolicy};
use crate::sync::lock;
use std::sync::Arc;

/// Everything a delivery needs that is the same for the whole subscription.
#[derive(Debug)]
pub(crate) struct DeliveryContext {
    pub(crate) subscription_id: String,
    pub(crate) topic: String,
    /// The request parts every record shares (URL prefix, fixed headers).
    pub(crate) template: InvocationTemplate,
    pub(crate) invoker: Invoker,
    pub(crate) retry: RetryPolicy,
    pub(crate) on_failure: OnFailure,
    pub(crate) dead_letter: Arc<DeadLetterProducer>,
    pub(crate) metrics: Arc<SubscriptionMetrics>,
    /// Caps the "delivery failed; retrying" warnings during an outage.
    pub(crate) retry_log: LogThrottle,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryResult {
    /// Delivered, dead-lettered or skipped: the record is done. `first_attempt` is how long
    /// the attempt took when the first one delivered it (what the adaptive in-flight limit
    /// learns from; retried and failed records say nothing about the handler's load).
    Finished {
        /// The round trip of a first attempt that delivered it.
        first_attempt: Option<Duration>,
    },
    /// Given up because the partition is draining; the record is not done.
    Abandoned,
}

/// Delivers `record` of `partition` until it is finished or `cancel` turns true.
pub(crate) async fn deliver(
    ctx: &DeliveryContext,
    partition: i32,
    record: Record,
    counters: &Mutex<PartitionCounters>,
    mut cancel: watch::Receiver<bool>,
) -> DeliveryResult {
    let mut attempts: u32 = 0;
    let mut rtt = Duration::ZERO;
    loop {
        // Built for every attempt: the invoker takes the request's parts (retries are rare,
        // and building is cheaper than copying a header map for every first attempt).
        let outcome = match ctx.template.build(partition, &record) {
            Ok(invocation) => {
                attempts = attempts.saturating_add(1);
                let started = Instant::now();
                let outcome = ctx.invoker.invoke(invocation).await;
                rtt = started.elapsed();
                ctx.metrics.handler_latency.observe(rtt);
                outcome
            }
            Err(undeliverable) => {
                attempts = attempts.saturating_add(1);
                AttemptOutcome::Terminal {
                    reason: undeliverable.to_string(),
                }
            }
        };
        let (reason, retry_after, terminal) = match outcome {
            AttemptOutcome::Delivered => {
                SubscriptionMetrics::inc(&ctx.metrics.delivered);
                clear_failure(counters, record.offset);
                return DeliveryResult::Finished {
                    first_attempt: (attempts == 1).then_some(rtt),
                };
            }
            AttemptOutcome::Retryable {
                reason,
                retry_after,
            } => (reason, retry_after, false),
            AttemptOutcome::Terminal { reason } => (reason, None, true),
        };
        note_failure(counters, &record, attempts, &reason);
        if *cancel.borrow() {
            return DeliveryResult::Abandoned;
        }
        if !terminal && may_retry(&ctx.retry, attempts) {
            SubscriptionMetrics::inc(&ctx.metrics.retried);
            log_retry(ctx, partition, &record, attempts, &reason);
        } else {
            match &ctx.on_failure {
                OnFailure::Retry => {
                    // The default: keep trying this record; only its key (or, for
                    // services, only this record) waits. The status API shows it.
                    SubscriptionMetrics::inc(&ctx.metrics.retried);
                    log_retry(ctx, partition, &record, attempts, &reason);
                }
                OnFailure::Skip => {
                    tracing::warn!(
                        subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                        offset = record.offset, attempts, error = %reason,
                        "skipping record (ingress.on-failure=skip)"
                    );
                    SubscriptionMetrics::inc(&ctx.metrics.skipped);
                    clear_failure(counters, record.offset);
                    return DeliveryResult::Finished {
                        first_attempt: None,
                    };
                }
                OnFailure::DeadLetter { topic } => {
                    return dead_letter(ctx, partition, &record, topic, &reason, counters, cancel)
                        .await;
                }
            }
        }
        let delay = backoff(&ctx.retry, attempts, retry_after, rand::random::<f64>());
        if sleep_or_cancel(delay, &mut cancel).await {
            return DeliveryResult::Abandoned;
        }
    }
}

/// Produces `record` to the dead-letter `topic`, retrying (with backoff) until it is written
/// or the partition drains: a record is never dropped because the dead-letter topic is down.
async fn dead_letter(
    ctx: &DeliveryContext,
    partition: i32,
    record: &Record,
    topic: &str,
    reason: &str,
    counters: &Mutex<PartitionCounters>,
    mut cancel: watch::Receiver<bool>,
) -> DeliveryResult {
    let dl_ctx = DeadLetterContext {
        subscription_id: &ctx.subscription_id,
        topic: &ctx.topic,
        partition,
        error: reason,
    };
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        match ctx.dead_letter.send(topic, record, dl_ctx).await {
            Ok(dl_offset) => {
                tracing::warn!(
                    subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                    offset = record.offset, dead_letter_topic = %topic, dl_offset, error = %reason,
                    "record dead-lettered"
                );
                SubscriptionMetrics::inc(&ctx.metrics.dead_lettered);
                clear_failure(counters, record.offset);
                return DeliveryResult::Finished {
                    first_attempt: None,
                };
            }
            Err(e) => {
                let why = format!("{reason}; then {e}");
                note_failure(counters, record, attempts, &why);
                tracing::warn!(
                    subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                    offset = record.offset, attempts, error = %e, "dead-lettering failed; retrying"
                );
            }
        }
        let delay = backoff(&ctx.retry, attempts, None, rand::random::<f64>());
        if sleep_or_cancel(delay, &mut cancel).await {
            return DeliveryResult::Abandoned;
        }
    }
}

fn log_retry(ctx: &DeliveryContext, partition: i32, record: &Record, attempts: u32, reason: &str) {
    if attempts == 1 {
        match ctx.retry_log.admit(std::time::Instant::now()) {
            Admit::Log { suppressed: 0 } => tracing::warn!(
                subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                offset = record.offset, error = %reason, "delivery failed; retrying"
            ),
            Admit::Log { suppressed } => tracing::warn!(
                subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                offset = record.offset, error = %reason, suppressed,
                "delivery failed; retrying ({suppressed} such lines were suppressed before this one)"
            ),
            Admit::StartSuppressing => tracing::warn!(
                subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
                offset = record.offset, error = %reason,
                "delivery failed; retrying (more than {} such lines in {:?}: suppressing them \
                 until the window ends; the next line tells how many; status and the \
                 retried metric count all)",
                log_throttle::LINES_PER_WINDOW, log_throttle::WINDOW
            ),
            Admit::Suppress => {}
        }
    } else {
        tracing::debug!(
            subscription = %ctx.subscription_id, topic = %ctx.topic, partition,
            offset = record.offset, attempts, error = %reason, "delivery failed again"
        );
    }
}

/// Sleeps for `delay`; returns true when cancelled first (or the canceller is gone).
async fn sleep_or_cancel(delay: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        _ = cancel.wait_for(|c| *c) => true,
    }
}

fn note_failure(counters: &Mutex<PartitionCounters>, record: &Record, attempts: u32, reason: &str) {
    let mut c = lock(counters);
    let entry = c
        .failing
        .entry(record.offset)
        .or_insert_with(|| StuckRecord {
            offset: record.offset,
            key: record
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            attempts,
            last_error: String::new(),
            since: rfc3339(SystemTime::now()),
        });
    entry.attempts = attempts;
    reason.clone_into(&mut entry.last_error);
}

fn clear_failure(counters: &Mutex<PartitionCounters>, offset: i64) {
    lock(counters).failing.remove(&offset);
}
