//! The queue table: every queue object by name, the QSCAN index over their
//! names, and the cursor of the idle-queue sweep. Only this module changes
//! them; the invariant it keeps is that the index names exactly the queues.

use crate::hashing::Map;
use crate::job::QueueName;
use crate::queue::{queue_scan_key, Queue};
use crate::scan::{ScanIndex, ScanLimits};
use bytes::Bytes;
use std::collections::HashMap;

/// Every queue of the node, with its scan index and sweep cursor.
#[derive(Debug)]
pub(crate) struct QueueTable {
    /// Queue objects by name.
    map: Map<Bytes, Queue>,
    /// The same names, ordered by scan key (QSCAN, the idle sweep).
    index: ScanIndex<Bytes>,
    /// Where the next idle-queue sweep resumes.
    sweep_cursor: u64,
}

impl QueueTable {
    /// An empty table whose map is keyed by `hasher`.
    pub(crate) fn new(hasher: ahash::RandomState) -> QueueTable {
        QueueTable {
            map: HashMap::with_hasher(hasher),
            index: ScanIndex::new(Bytes::new()),
            sweep_cursor: 0,
        }
    }

    /// The queue named `name`.
    pub(crate) fn get(&self, name: &[u8]) -> Option<&Queue> {
        self.map.get(name)
    }

    /// The queue named `name`, mutable.
    pub(crate) fn get_mut(&mut self, name: &[u8]) -> Option<&mut Queue> {
        self.map.get_mut(name)
    }

    /// True when a queue named `name` exists.
    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        self.map.contains_key(name)
    }

    /// Number of queue objects.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The queue named `name`, created (and indexed) if missing.
    pub(crate) fn get_or_create(&mut self, name: &Bytes, now_s: u64) -> &mut Queue {
        if !self.map.contains_key(name) {
            // The queue's own copy of its name (never a slice of a request),
            // shared by the map, the scan index and its jobs.
            let queue = Queue::new(QueueName::new(name), now_s);
            let name = queue.name().bytes().clone();
            self.index.insert(queue_scan_key(&name), name.clone());
            self.map.insert(name, queue);
        }
        self.map.get_mut(name).expect("queue just ensured")
    }

    /// Removes a queue object and its index entry.
    pub(crate) fn remove(&mut self, name: &Bytes) -> Option<Queue> {
        let queue = self.map.remove(name)?;
        self.index.remove(queue_scan_key(name), name);
        Some(queue)
    }

    /// Removes every queue.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.index.clear();
    }

    /// Every queue with its name, in map order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Bytes, &Queue)> {
        self.map.iter()
    }

    /// One QSCAN step from `cursor` (see [`ScanIndex::scan`]): `visit` gets each queue.
    pub(crate) fn scan(
        &self,
        cursor: u64,
        limits: ScanLimits,
        mut visit: impl FnMut(&Queue) -> bool,
    ) -> u64 {
        self.index.scan(cursor, limits, |name| {
            self.map.get(name).is_some_and(&mut visit)
        })
    }

    /// The next queue of the rotating idle sweep (advancing its cursor), or
    /// `None` when there is no queue.
    pub(crate) fn next_to_sweep(&mut self) -> Option<Bytes> {
        let (name, next) = self.index.next_from(self.sweep_cursor)?;
        let name = name.clone();
        self.sweep_cursor = next;
        Some(name)
    }

    /// Panics unless the index names exactly the queues, each under its own name.
    pub(crate) fn check_invariants(&self) {
        assert_eq!(
            self.index.len(),
            self.map.len(),
            "one index entry per queue"
        );
        let everything = ScanLimits {
            count: -1,
            busyloop: true,
        };
        self.index.scan(0, everything, |name| {
            assert!(
                self.map.contains_key(name),
                "index entry {name:?} names a queue"
            );
            true
        });
        for (name, queue) in &self.map {
            assert_eq!(queue.name(), name, "queue {name:?} is filed under its name");
        }
    }
}
