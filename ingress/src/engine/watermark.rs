//! The commit watermark of one partition: the lowest offset not yet finished.
//!
//! Records enter in offset order as the fetcher hands them out and leave in any order as
//! handlers finish (delivered, dead-lettered or skipped). Offsets the fetcher passes over
//! without a record (control batches, aborted transactions, compacted gaps) never enter, but
//! the fetch position moves past them, so a partition with nothing in flight commits its
//! fetch position. The committed offset never moves backwards and never passes an unfinished
//! record: that is the at-least-once guarantee.

use std::collections::VecDeque;

/// Tracks unfinished offsets of one partition and what may be committed.
#[derive(Debug, Clone)]
pub struct CommitWatermark {
    /// Offsets handed out, in increasing order, with whether each is finished. The front is
    /// always unfinished (finished ones are dropped from the front at once), so it is the
    /// watermark. (A sorted deque rather than a tree: offsets arrive in order, and this is
    /// touched twice per record.)
    tracked: VecDeque<(i64, bool)>,
    /// How many of `tracked` are unfinished.
    unfinished: usize,
    /// The next offset the fetcher will read: everything below it was handed out or skipped.
    position: i64,
    /// The offset last committed (or the one consumption started from).
    committed: i64,
}

impl CommitWatermark {
    /// Starts at `start`: the committed offset, or the reset position when there is none.
    pub fn new(start: i64) -> Self {
        CommitWatermark {
            tracked: VecDeque::new(),
            unfinished: 0,
            position: start,
            committed: start,
        }
    }

    /// A record at `offset` was handed to the dispatcher. Offsets must come in increasing
    /// order; one below the position is ignored (a re-fetch overlap).
    pub fn track(&mut self, offset: i64) -> bool {
        if offset < self.position {
            return false;
        }
        self.tracked.push_back((offset, false));
        self.unfinished += 1;
        self.position = offset + 1;
        true
    }

    /// The fetcher moved past `next` (end of a batch, incl. offsets without records).
    pub fn advance_position(&mut self, next: i64) {
        self.position = self.position.max(next);
    }

    /// The record at `offset` is finished. Returns whether it was unfinished.
    pub fn finish(&mut self, offset: i64) -> bool {
        let Ok(at) = self.tracked.binary_search_by_key(&offset, |&(o, _)| o) else {
            return false;
        };
        let Some(entry) = self.tracked.get_mut(at) else {
            return false;
        };
        if entry.1 {
            return false;
        }
        entry.1 = true;
        self.unfinished -= 1;
        while self.tracked.front().is_some_and(|&(_, done)| done) {
            self.tracked.pop_front();
        }
        true
    }

    /// The lowest offset not yet finished: what a commit now would store.
    pub fn watermark(&self) -> i64 {
        self.oldest_unfinished().unwrap_or(self.position)
    }

    /// The offset to commit, if the watermark moved past the last commit.
    pub fn commit_candidate(&self) -> Option<i64> {
        let w = self.watermark();
        (w > self.committed).then_some(w)
    }

    /// Records that `offset` was committed.
    pub fn committed(&mut self, offset: i64) {
        self.committed = self.committed.max(offset);
    }

    /// The last committed offset.
    pub fn last_committed(&self) -> i64 {
        self.committed
    }

    /// How many records are unfinished.
    pub fn in_flight(&self) -> usize {
        self.unfinished
    }

    /// The oldest unfinished offset, if any (the record the partition is waiting on).
    pub fn oldest_unfinished(&self) -> Option<i64> {
        self.tracked.front().map(|&(offset, _)| offset)
    }

    /// The fetch position.
    pub fn position(&self) -> i64 {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_is_the_lowest_unfinished_offset() {
        let mut w = CommitWatermark::new(10);
        assert_eq!(w.commit_candidate(), None);
        for o in 10..15 {
            assert!(w.track(o));
        }
        assert_eq!(w.watermark(), 10);
        w.finish(11);
        w.finish(12);
        assert_eq!(w.watermark(), 10, "10 still unfinished");
        assert_eq!(w.commit_candidate(), None);
        w.finish(10);
        assert_eq!(w.watermark(), 13);
        assert_eq!(w.commit_candidate(), Some(13));
        w.committed(13);
        assert_eq!(w.commit_candidate(), None);
        assert!(w.finish(14));
        assert!(!w.finish(14), "finished once");
        assert!(!w.finish(99), "never tracked");
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.watermark(), 13);
        assert!(w.finish(13));
        assert_eq!(w.commit_candidate(), Some(15));
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn skipped_offsets_are_committed_past_when_nothing_is_in_flight() {
        let mut w = CommitWatermark::new(0);
        w.track(0);
        // Offsets 1..=3 were a control batch / aborted transaction: never tracked.
        w.advance_position(4);
        w.finish(0);
        assert_eq!(w.commit_candidate(), Some(4));
    }

    #[test]
    fn overlapping_refetch_is_ignored_and_the_commit_never_goes_back() {
        let mut w = CommitWatermark::new(5);
        assert!(w.track(5));
        assert!(!w.track(5), "duplicate");
        assert!(!w.track(3), "below position");
        w.committed(7);
        w.committed(6);
        assert_eq!(w.last_committed(), 7);
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.oldest_unfinished(), Some(5));
    }
}
