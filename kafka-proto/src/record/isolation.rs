//! `read_committed` filtering of decoded batches, sans-IO.
//!
//! Mirrors the Java consumer: aborted transactions from the Fetch response are consumed in
//! `first_offset` order; when a batch with a producer id is reached, every aborted
//! transaction starting at or before the batch's last offset marks its producer as
//! "aborting". Transactional data batches of an aborting producer are dropped; an ABORT
//! control record for the producer ends its aborted range. Control batches are never
//! returned.

use std::collections::HashSet;

use super::batch::{ControlRecordType, Record, RecordBatch};

/// One entry of a Fetch response partition's `aborted_transactions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTransaction {
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
    /// The first offset of the aborted transaction.
    pub first_offset: i64,
}

/// Stateful `read_committed` filter over the batches of one Fetch response partition, fed
/// in offset order.
#[derive(Debug, Clone, Default)]
pub struct ReadCommitted {
    /// Not yet reached aborted transactions, sorted by descending first offset.
    pending: Vec<AbortedTransaction>,
    /// Producers currently inside an aborted transaction.
    aborted_producers: HashSet<i64>,
}

impl ReadCommitted {
    /// A filter for the given aborted transactions (any order).
    pub fn new(aborted: &[AbortedTransaction]) -> ReadCommitted {
        let mut pending = aborted.to_vec();
        pending.sort_by_key(|t| std::cmp::Reverse(t.first_offset));
        ReadCommitted {
            pending,
            aborted_producers: HashSet::new(),
        }
    }

    /// Whether `batch` is visible under `read_committed`; updates the filter state.
    pub fn accept(&mut self, batch: &RecordBatch) -> bool {
        // Kafka's RecordBatch.hasProducerId: NO_PRODUCER_ID (-1) < producerId.
        if batch.producer_id > -1 {
            let last = batch.last_offset();
            while let Some(t) = self.pending.last() {
                if t.first_offset > last {
                    break;
                }
                self.aborted_producers.insert(t.producer_id);
                self.pending.pop();
            }
            if batch.is_control {
                if batch.control.map(|c| c.kind) == Some(ControlRecordType::Abort) {
                    self.aborted_producers.remove(&batch.producer_id);
                }
                return false;
            }
            if batch.is_transactional && self.aborted_producers.contains(&batch.producer_id) {
                return false;
            }
        }
        !batch.is_control
    }
}

/// The batches of `batches` visible under `read_committed`.
pub fn read_committed_batches<'a>(
    batches: &'a [RecordBatch],
    aborted: &[AbortedTransaction],
) -> impl Iterator<Item = &'a RecordBatch> + 'a {
    let mut filter = ReadCommitted::new(aborted);
    batches.iter().filter(move |b| filter.accept(b))
}

/// The records of `batches` visible under `read_committed`.
pub fn read_committed_records<'a>(
    batches: &'a [RecordBatch],
    aborted: &[AbortedTransaction],
) -> impl Iterator<Item = &'a Record> + 'a {
    read_committed_batches(batches, aborted).flat_map(|b| b.records.iter())
}

/// Drops, in place, the batches not visible under `read_committed`.
pub fn retain_read_committed(batches: &mut Vec<RecordBatch>, aborted: &[AbortedTransaction]) {
    let mut filter = ReadCommitted::new(aborted);
    batches.retain(|b| filter.accept(b));
}
