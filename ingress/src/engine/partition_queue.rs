//! The dispatch queue of one partition: which fetched record may be invoked next.
//!
//! Keyed targets (virtual-object and workflow exclusive handlers) get one [`KeyQueue`] per
//! key: at most one record of a key is in flight, a key's records go out in offset order, and
//! different keys run in parallel — also within one partition. Services and shared handlers
//! run records in parallel in arrival order. Either way at most `max_in_flight` records of the
//! partition are in flight, which bounds concurrency per partition (`ingress.max-in-flight`).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// How records of a partition may run concurrently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchMode {
    /// One in flight per key, in offset order per key.
    PerKey,
    /// Any order, bounded only by `max_in_flight`.
    Parallel,
}

/// The waiting records of one key and whether one of its records is in flight.
#[derive(Debug)]
struct KeyQueue<T> {
    busy: bool,
    waiting: VecDeque<T>,
}

/// The queue of one partition.
#[derive(Debug)]
pub struct PartitionQueue<T> {
    mode: DispatchMode,
    max_in_flight: usize,
    in_flight: usize,
    buffered: usize,
    /// PerKey: queues by key; keys with a waiting record and nothing in flight are in `ready`.
    keys: HashMap<Bytes, KeyQueue<T>>,
    ready: VecDeque<Bytes>,
    /// Parallel: records in arrival order.
    waiting: VecDeque<(Bytes, T)>,
}

impl<T> PartitionQueue<T> {
    /// An empty queue.
    pub fn new(mode: DispatchMode, max_in_flight: usize) -> Self {
        PartitionQueue {
            mode,
            max_in_flight: max_in_flight.max(1),
            in_flight: 0,
            buffered: 0,
            keys: HashMap::new(),
            ready: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Queues a record under `key` (the empty key for a null key).
    pub fn push(&mut self, key: Bytes, item: T) {
        self.buffered += 1;
        match self.mode {
            DispatchMode::Parallel => self.waiting.push_back((key, item)),
            DispatchMode::PerKey => {
                let q = self.keys.entry(key.clone()).or_insert_with(|| KeyQueue {
                    busy: false,
                    waiting: VecDeque::new(),
                });
                if !q.busy && q.waiting.is_empty() {
                    self.ready.push_back(key);
                }
                q.waiting.push_back(item);
            }
        }
    }

    /// The next record allowed to start, if any; it counts as in flight until
    /// [`Self::complete`] is called with its key.
    pub fn start_next(&mut self) -> Option<(Bytes, T)> {
        if self.in_flight >= self.max_in_flight {
            return None;
        }
        let out = match self.mode {
            DispatchMode::Parallel => self.waiting.pop_front(),
            DispatchMode::PerKey => loop {
                let key = self.ready.pop_front()?;
                let Some(q) = self.keys.get_mut(&key) else {
                    continue;
                };
                if let Some(item) = q.waiting.pop_front() {
                    q.busy = true;
                    break Some((key, item));
                }
            },
        };
        if out.is_some() {
            self.in_flight += 1;
            self.buffered -= 1;
        }
        out
    }

    /// The in-flight record of `key` finished (whatever the outcome): the key's next record
    /// may start.
    pub fn complete(&mut self, key: &Bytes) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.mode == DispatchMode::PerKey {
            if let Some(q) = self.keys.get_mut(key) {
                q.busy = false;
                if q.waiting.is_empty() {
                    self.keys.remove(key);
                } else {
                    self.ready.push_back(key.clone());
                }
            }
        }
    }

    /// Changes how many records may be in flight (the adaptive limit); what runs already
    /// goes on.
    pub fn set_max_in_flight(&mut self, max_in_flight: usize) {
        self.max_in_flight = max_in_flight.max(1);
    }

    /// Records in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Records waiting to start.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Drops every waiting record (revoke): they will be fetched again by the next owner.
    pub fn clear_waiting(&mut self) -> usize {
        let dropped = self.buffered;
        self.waiting.clear();
        self.ready.clear();
        self.keys.retain(|_, q| {
            q.waiting.clear();
            q.busy
        });
        self.buffered = 0;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn per_key_runs_one_per_key_in_order_and_keys_in_parallel() {
        let mut q = PartitionQueue::new(DispatchMode::PerKey, 10);
        for (key, off) in [("a", 0), ("b", 1), ("a", 2), ("c", 3), ("b", 4)] {
            q.push(k(key), off);
        }
        // a, b, c start; a's and b's second records wait.
        let started: Vec<_> = std::iter::from_fn(|| q.start_next()).collect();
        assert_eq!(started, vec![(k("a"), 0), (k("b"), 1), (k("c"), 3)]);
        assert_eq!(q.in_flight(), 3);
        assert_eq!(q.buffered(), 2);
        q.complete(&k("b"));
        assert_eq!(
            q.start_next(),
            Some((k("b"), 4)),
            "b's next record after b finished"
        );
        assert_eq!(q.start_next(), None, "a still busy");
        q.complete(&k("a"));
        assert_eq!(q.start_next(), Some((k("a"), 2)));
    }

    #[test]
    fn max_in_flight_bounds_both_modes() {
        for mode in [DispatchMode::PerKey, DispatchMode::Parallel] {
            let mut q = PartitionQueue::new(mode, 2);
            for i in 0..5 {
                q.push(k(&format!("k{i}")), i);
            }
            assert!(q.start_next().is_some());
            assert!(q.start_next().is_some());
            assert_eq!(q.start_next(), None, "{mode:?}: bounded");
            q.complete(&k("k0"));
            assert_eq!(q.start_next().map(|(_, i)| i), Some(2), "{mode:?}");
        }
    }

    #[test]
    fn parallel_ignores_keys() {
        let mut q = PartitionQueue::new(DispatchMode::Parallel, 10);
        q.push(k("a"), 0);
        q.push(k("a"), 1);
        assert_eq!(q.start_next(), Some((k("a"), 0)));
        assert_eq!(
            q.start_next(),
            Some((k("a"), 1)),
            "same key, both in flight"
        );
    }

    #[test]
    fn clearing_keeps_in_flight_keys_and_drops_waiting_records() {
        let mut q = PartitionQueue::new(DispatchMode::PerKey, 10);
        q.push(k("a"), 0);
        q.push(k("a"), 1);
        q.push(k("b"), 2);
        assert_eq!(q.start_next(), Some((k("a"), 0)));
        assert_eq!(q.clear_waiting(), 2);
        assert_eq!(q.start_next(), None);
        q.complete(&k("a"));
        assert_eq!(q.in_flight(), 0);
        q.push(k("a"), 3);
        assert_eq!(q.start_next(), Some((k("a"), 3)));
    }
}
