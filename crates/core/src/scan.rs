//! Stateless cursors for QSCAN and JSCAN.
//!
//! Redis iterates its hash table with a reverse-binary cursor. We keep an ordered
//! index keyed by a 64-bit scan key instead: the cursor is the key to resume from,
//! so every element present for the whole iteration is returned at least once,
//! whatever is added or removed meanwhile, and a cursor of 0 means "done".

use std::collections::BTreeSet;

/// An ordered index of items by a 64-bit scan key (no allocation per item).
#[derive(Debug)]
pub struct ScanIndex<T: Ord + Clone> {
    entries: BTreeSet<(u64, T)>,
    /// The smallest `T`, to start ranges at `(key, floor)`.
    floor: T,
}

/// The options shared by QSCAN and JSCAN.
#[derive(Clone, Copy, Debug)]
pub struct ScanLimits {
    /// Stop once this many items matched (negative: no limit, like BUSYLOOP).
    pub count: i64,
    /// Run the whole iteration in one call.
    pub busyloop: bool,
}

/// Keys are never 0, so that 0 can mean both "start" and "done".
fn key(raw: u64) -> u64 {
    raw.max(1)
}

impl<T: Ord + Clone> ScanIndex<T> {
    /// An empty index; `floor` must not be greater than any item.
    pub fn new(floor: T) -> Self {
        ScanIndex {
            entries: BTreeSet::new(),
            floor,
        }
    }

    /// Adds an item.
    pub fn insert(&mut self, raw_key: u64, item: T) {
        self.entries.insert((key(raw_key), item));
    }

    /// Removes an item.
    pub fn remove(&mut self, raw_key: u64, item: &T) {
        self.entries.remove(&(key(raw_key), item.clone()));
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn from(&self, cursor: u64) -> impl Iterator<Item = &(u64, T)> {
        self.entries.range((cursor, self.floor.clone())..)
    }

    /// The first item at or after key `from`, wrapping to the start, with the key
    /// to continue from (for rotating samplers such as idle-queue eviction).
    pub fn next_from(&self, from: u64) -> Option<(&T, u64)> {
        let (k, item) = self.from(from).next().or_else(|| self.entries.first())?;
        Some((item, k.wrapping_add(1)))
    }

    /// One step of a scan from `cursor`: calls `visit` on items in order until the
    /// limits say stop, and returns the next cursor (0 when the iteration is complete).
    /// `visit` returns true when the item matched the caller's filters. Items that
    /// share a key are visited together, so a cursor never stops inside them.
    pub fn scan(&self, cursor: u64, limits: ScanLimits, mut visit: impl FnMut(&T) -> bool) -> u64 {
        let unlimited = limits.busyloop || limits.count < 0;
        let wanted = (limits.count.max(0) as u64).max(1);
        let max_steps = wanted.saturating_mul(10);
        let (mut matched, mut steps, mut last_key) = (0u64, 0u64, 0u64);
        for (k, item) in self.from(cursor) {
            if !unlimited && *k != last_key && (matched >= wanted || steps >= max_steps) {
                return *k;
            }
            last_key = *k;
            steps += 1;
            if visit(item) {
                matched += 1;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_iteration_visits_everything_once() {
        let mut index = ScanIndex::new(0u64);
        for i in 0..1000u64 {
            index.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i);
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let limits = ScanLimits {
                count: 7,
                busyloop: false,
            };
            cursor = index.scan(cursor, limits, |&i| {
                seen.push(i);
                true
            });
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn removal_keeps_buckets_consistent() {
        let mut index = ScanIndex::new("");
        index.insert(5, "a");
        index.insert(5, "b");
        let limits = ScanLimits {
            count: 1,
            busyloop: false,
        };
        let mut seen = Vec::new();
        assert_eq!(
            index.scan(0, limits, |x| {
                seen.push(*x);
                true
            }),
            0,
            "same-key items stay together"
        );
        assert_eq!(seen, ["a", "b"]);
        index.remove(5, &"a");
        assert_eq!(index.len(), 1);
        index.remove(5, &"b");
        assert!(index.is_empty());
        assert!(index.next_from(0).is_none());
    }
}
