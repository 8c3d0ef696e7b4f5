//! The partition worker: one task per owned partition that runs the middle of the pipeline
//! for it — partition queue -> dispatcher -> (delivery tasks) -> offset tracker.
//!
//! It accepts fetched records into its [`PartitionQueue`], starts deliveries as the queue
//! allows (one per key for ordered targets, up to `ingress.max-in-flight`), finishes offsets
//! in the [`CommitWatermark`] as deliveries end, and reports the watermark to the consumer
//! (`mark_done`), which commits it. It pauses fetching while its buffer is over budget or the
//! subscription is paused. On revoke it drops what has not started, lets in-flight attempts
//! finish within a bound, reports the final watermark and ends.

use std::future::Future;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use kafka_proto::record::{Record, RecordHeader};
use tokio::sync::{mpsc, oneshot, watch};

use super::concurrency::ConcurrencyLimit;
use super::delivery::{deliver, DeliveryContext, DeliveryResult};
use super::partition_queue::{DispatchMode, PartitionQueue};
use super::status::PartitionCounters;
use super::watermark::CommitWatermark;
use crate::kafka::assignor::TopicPartition;
use crate::kafka::consumer::{Consumer, PartitionRecords};
use crate::sync::lock;

/// What the subscription's event loop sends a partition worker.
#[derive(Debug)]
pub(crate) enum PartitionInput {
    /// Fetched records, in offset order.
    Records(PartitionRecords),
    /// The partition is revoked: drain, report, then fire the sender.
    Revoke(oneshot::Sender<()>),
}

/// Tuning of one partition worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionLimits {
    /// Ordered per key or parallel.
    pub(crate) mode: DispatchMode,
    /// `ingress.max-in-flight`.
    pub(crate) max_in_flight: usize,
    /// `ingress.adaptive-concurrency`: the in-flight limit adapts below `max_in_flight`.
    pub(crate) adaptive: bool,
    /// Buffered records at which fetching pauses (it resumes at half).
    pub(crate) buffer_budget: usize,
    /// How long a revoke waits for in-flight attempts.
    pub(crate) drain_bound: Duration,
}

/// A delivery's key and offset, and how it ended (`Err`: it panicked, with the message).
type DeliveryOutput = (Bytes, i64, Result<DeliveryResult, String>);

/// One record's delivery, polled by the worker's task.
type Delivery = Pin<Box<dyn Future<Output = DeliveryOutput> + Send>>;

/// The per-partition worker.
#[derive(Debug)]
pub(crate) struct PartitionWorker {
    partition: TopicPartition,
    limits: PartitionLimits,
    ctx: Arc<DeliveryContext>,
    consumer: Arc<Consumer>,
    queue: PartitionQueue<Record>,
    watermark: CommitWatermark,
    /// The deliveries under way. Polled by this worker's task rather than spawned: a task
    /// per record cost a task cell, the join set's locking and the id map (callgrind).
    deliveries: FuturesUnordered<Delivery>,
    counters: Arc<Mutex<PartitionCounters>>,
    paused: watch::Receiver<bool>,
    cancel: watch::Sender<bool>,
    fetch_paused: bool,
    reported: i64,
    /// The adaptive in-flight limit, and records failing now (they do not count against it:
    /// a stuck record must not take the others' slots).
    limit: ConcurrencyLimit,
    failing: usize,
}

impl PartitionWorker {
    /// A worker for `partition`, starting at offset `start`.
    pub(crate) fn new(
        partition: TopicPartition,
        start: i64,
        limits: PartitionLimits,
        ctx: Arc<DeliveryContext>,
        consumer: Arc<Consumer>,
        counters: Arc<Mutex<PartitionCounters>>,
        paused: watch::Receiver<bool>,
    ) -> Self {
        {
            let mut c = lock(&counters);
            c.position = start;
            c.commit_watermark = start;
        }
        PartitionWorker {
            partition,
            limits,
            ctx,
            consumer,
            queue: PartitionQueue::new(limits.mode, limits.max_in_flight),
            watermark: CommitWatermark::new(start),
            deliveries: FuturesUnordered::new(),
            counters,
            paused,
            cancel: watch::channel(false).0,
            fetch_paused: false,
            reported: start,
            limit: ConcurrencyLimit::new(limits.max_in_flight, limits.adaptive),
            failing: 0,
        }
    }

    /// Runs until revoked (or the subscription's event loop is gone).
    pub(crate) async fn run(mut self, mut input: mpsc::UnboundedReceiver<PartitionInput>) {
        let mut pause_watch_open = true;
        loop {
            self.dispatch();
            self.publish();
            tokio::select! {
                msg = input.recv() => match msg {
                    Some(PartitionInput::Records(batch)) => self.accept(batch),
                    Some(PartitionInput::Revoke(done)) => {
                        self.drain().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.drain().await;
                        return;
                    }
                },
                Some(done) = self.deliveries.next(), if !self.deliveries.is_empty() => {
                    self.complete(done);
                }
                changed = self.paused.changed(), if pause_watch_open => {
                    pause_watch_open = changed.is_ok();
                }
            }
        }
    }

    /// Queues a fetched batch (records below the position are repeats and are dropped).
    fn accept(&mut self, batch: PartitionRecords) {
        lock(&self.counters).high_watermark = Some(batch.high_watermark);
        for record in batch.records {
            if !self.watermark.track(record.offset) {
                continue;
            }
            let record = detach(record);
            let key = match self.limits.mode {
                // A null key is the empty key (SPEC §6).
                DispatchMode::PerKey => record.key.clone().unwrap_or_default(),
                DispatchMode::Parallel => Bytes::new(),
            };
            self.queue.push(key, record);
        }
        // Control records and aborted transactions leave gaps the watermark moves past.
        self.watermark.advance_position(batch.next_offset);
    }

    /// Starts every delivery the queue allows, unless the subscription is paused.
    fn dispatch(&mut self) {
        if *self.paused.borrow() {
            return;
        }
        self.queue.set_max_in_flight(self.allowed_in_flight());
        while let Some((key, record)) = self.queue.start_next() {
            let ctx = self.ctx.clone();
            let counters = self.counters.clone();
            let cancel = self.cancel.subscribe();
            let partition = self.partition.partition;
            let offset = record.offset;
            let delivery = async move {
                let result = AssertUnwindSafe(deliver(&ctx, partition, record, &counters, cancel))
                    .catch_unwind()
                    .await
                    .map_err(|panic| panic_message(&*panic));
                (key, offset, result)
            };
            self.deliveries.push(Box::pin(delivery));
        }
        self.limit
            .note_in_flight(self.queue.in_flight().saturating_sub(self.failing));
    }

    /// How many records may be in flight: the adaptive limit plus the failing records, at most
    /// `ingress.max-in-flight`.
    fn allowed_in_flight(&self) -> usize {
        (self.limit.limit() + self.failing).min(self.limits.max_in_flight)
    }

    /// Books the end of one delivery.
    fn complete(&mut self, (key, offset, result): DeliveryOutput) {
        self.queue.complete(&key);
        match result {
            Ok(DeliveryResult::Finished { first_attempt }) => {
                self.watermark.finish(offset);
                if let Some(rtt) = first_attempt {
                    self.limit.record(rtt);
                }
            }
            Ok(DeliveryResult::Abandoned) => {}
            Err(panic) => {
                // A bug, not a record problem: keep the offset unfinished so it is never
                // committed past, and say so in the status.
                let msg = format!("delivery of offset {offset} panicked: {panic}");
                tracing::error!(partition = ?self.partition, "{msg}");
                lock(&self.counters).error = Some(msg);
            }
        }
    }

    /// Reports the watermark to the consumer, updates the status and applies backpressure.
    fn publish(&mut self) {
        let watermark = self.watermark.watermark();
        if watermark > self.reported {
            self.consumer.mark_done(&self.partition, watermark);
            self.reported = watermark;
        }
        let buffered = self.queue.buffered();
        let user_paused = *self.paused.borrow();
        let should_pause = user_paused || buffered >= self.limits.buffer_budget;
        let may_resume = !user_paused && buffered <= self.limits.buffer_budget / 2;
        if !self.fetch_paused && should_pause {
            self.consumer.pause(&self.partition);
            self.fetch_paused = true;
        } else if self.fetch_paused && may_resume {
            self.consumer.resume(&self.partition);
            self.fetch_paused = false;
        }
        let mut c = lock(&self.counters);
        self.failing = c.failing.len();
        c.in_flight_limit = self.allowed_in_flight();
        c.commit_watermark = watermark;
        c.position = self.watermark.position();
        c.in_flight = self.queue.in_flight();
        c.buffered = buffered;
        c.fetch_paused = self.fetch_paused;
    }

    /// Drops what has not started, waits (bounded) for in-flight attempts, reports.
    async fn drain(&mut self) {
        let dropped = self.queue.clear_waiting();
        let _ = self.cancel.send(true);
        let deadline = tokio::time::Instant::now() + self.limits.drain_bound;
        while !self.deliveries.is_empty() {
            tokio::select! {
                Some(done) = self.deliveries.next() => self.complete(done),
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        partition = ?self.partition, in_flight = self.deliveries.len(),
                        bound = ?self.limits.drain_bound,
                        "in-flight deliveries did not finish in time; they will be redelivered"
                    );
                    // Dropped unfinished: their offsets stay uncommitted.
                    self.deliveries.clear();
                }
            }
        }
        tracing::debug!(partition = ?self.partition, dropped, "partition drained");
        self.publish();
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// A copy of `record` that owns its bytes (one allocation for key, value and header values).
///
/// Fetched keys and values are zero-copy slices of the whole fetch response, so a record kept
/// here — waiting behind a busy or stuck key, or retrying — would keep its entire response
/// (up to `fetch.max.bytes`) alive. The buffer budget counts records, so each must cost only
/// its own size: otherwise a stuck key whose records trickle in pins one response per
/// record, and memory grows with the throughput of the other keys instead of staying bounded.
fn detach(record: Record) -> Record {
    fn put(buf: &mut BytesMut, bytes: Option<&Bytes>) -> Option<Range<usize>> {
        bytes.map(|b| {
            let start = buf.len();
            buf.extend_from_slice(b);
            start..buf.len()
        })
    }
    let len = record.key.as_ref().map_or(0, Bytes::len)
        + record.value.as_ref().map_or(0, Bytes::len)
        + record
            .headers
            .iter()
            .map(|h| h.value.as_ref().map_or(0, Bytes::len))
            .sum::<usize>();
    let mut buf = BytesMut::with_capacity(len);
    let key = put(&mut buf, record.key.as_ref());
    let value = put(&mut buf, record.value.as_ref());
    let header_values: Vec<_> = record
        .headers
        .iter()
        .map(|h| put(&mut buf, h.value.as_ref()))
        .collect();
    let owned = buf.freeze();
    let slice = |range: Option<Range<usize>>| range.map(|r| owned.slice(r));
    Record {
        offset: record.offset,
        timestamp: record.timestamp,
        key: slice(key),
        value: slice(value),
        headers: record
            .headers
            .into_iter()
            .zip(header_values)
            .map(|(h, range)| RecordHeader {
                key: h.key,
                value: slice(range),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_records_keep_their_bytes_but_not_the_fetch_buffer() {
        let response = Bytes::from_static(b"....key....value....trace....");
        let record = Record {
            offset: 7,
            timestamp: 1_700_000_000_000,
            key: Some(response.slice(4..7)),
            value: Some(response.slice(11..16)),
            headers: vec![
                RecordHeader {
                    key: "traceparent".into(),
                    value: Some(response.slice(20..25)),
                },
                RecordHeader {
                    key: "null".into(),
                    value: None,
                },
            ],
        };
        let detached = detach(record.clone());
        assert_eq!(detached, record, "same contents");
        let inside = |b: &Bytes| {
            let range = response.as_ptr_range();
            range.contains(&b.as_ptr())
        };
        assert!(
            record.value.as_ref().is_some_and(inside),
            "the test's premise"
        );
        for b in [&detached.key, &detached.value, &detached.headers[0].value] {
            assert!(
                !b.as_ref().is_some_and(inside),
                "copied out of the response"
            );
        }
        assert_eq!(detached.headers[1].value, None);
    }
}
