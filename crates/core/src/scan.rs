//! Stateless cursors for QSCAN and JSCAN.
//!
//! Redis iterates its hash table with a reverse-binary cursor. We keep an ordered
//! index keyed by a 64-bit scan key instead: the cursor is the key to resume from,
//! so every element present for the whole iteration is returned at least once,
//! whatever is added or removed meanwhile, and a cursor of 0 means "done".

use std::collections::BTreeMap;

/// An ordered index of items by a 64-bit scan key (collisions share a bucket).
#[derive(Debug)]
pub struct ScanIndex<T: PartialEq> {
    buckets: BTreeMap<u64, Vec<T>>,
    len: usize,
}

impl<T: PartialEq> Default for ScanIndex<T> {
    fn default() -> Self {
        ScanIndex {
            buckets: BTreeMap::new(),
            len: 0,
        }
    }
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
fn bucket_key(raw: u64) -> u64 {
    raw.max(1)
}

impl<T: PartialEq> ScanIndex<T> {
    /// Adds an item.
    pub fn insert(&mut self, raw_key: u64, item: T) {
        self.buckets
            .entry(bucket_key(raw_key))
            .or_default()
            .push(item);
        self.len += 1;
    }

    /// Removes an item.
    pub fn remove(&mut self, raw_key: u64, item: &T) {
        let key = bucket_key(raw_key);
        if let Some(bucket) = self.buckets.get_mut(&key) {
            if let Some(pos) = bucket.iter().position(|x| x == item) {
                bucket.swap_remove(pos);
                self.len -= 1;
            }
            if bucket.is_empty() {
                self.buckets.remove(&key);
            }
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.buckets.clear();
        self.len = 0;
    }

    /// Items of the first bucket at or after `from`, wrapping to the start, with the
    /// key that follows that bucket (for rotating samplers such as idle-queue eviction).
    pub fn bucket_from(&self, from: u64) -> Option<(&[T], u64)> {
        let (key, items) = self
            .buckets
            .range(from..)
            .next()
            .or_else(|| self.buckets.iter().next())?;
        Some((items.as_slice(), key.wrapping_add(1)))
    }

    /// One step of a scan from `cursor`: calls `visit` on items in order until the
    /// limits say stop, and returns the next cursor (0 when the iteration is complete).
    /// `visit` returns true when the item matched the caller's filters.
    pub fn scan(&self, cursor: u64, limits: ScanLimits, mut visit: impl FnMut(&T) -> bool) -> u64 {
        let unlimited = limits.busyloop || limits.count < 0;
        let wanted = (limits.count.max(0) as u64).max(1);
        let max_steps = wanted.saturating_mul(10);
        let (mut matched, mut steps) = (0u64, 0u64);
        for (key, bucket) in self.buckets.range(cursor..) {
            if !unlimited && (matched >= wanted || steps >= max_steps) {
                return *key;
            }
            for item in bucket {
                steps += 1;
                if visit(item) {
                    matched += 1;
                }
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
        let mut index = ScanIndex::default();
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
        let mut index = ScanIndex::default();
        index.insert(5, "a");
        index.insert(5, "b");
        index.remove(5, &"a");
        assert_eq!(index.len(), 1);
        index.remove(5, &"b");
        assert!(index.is_empty());
        assert!(index.bucket_from(0).is_none());
    }
}
