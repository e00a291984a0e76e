//! The job table: the one owner of every job record and of the indexes that
//! must stay in step with them (the id index, the per-job timers, the list of
//! evictable jobs and the JSCAN cursor space). Queue order lives in each
//! [`Queue`](crate::queue::Queue) but names jobs by the [`JobRef`] handles
//! handed out here.
//!
//! Layout, chosen for memory and for latency that does not grow with the
//! number of jobs held (measured with `scripts/bench`, see the README):
//!
//! * **Slots.** Jobs live in chunks of 1,024 slots (see [`slots`]). A
//!   chunk never moves: growth copies at most one chunk's jobs (the first
//!   one grows like a vector, so a small node stays small), never all of
//!   them, and a job costs its record and nothing else (no per-job
//!   allocation for the record, no allocator header, the slot's generation
//!   kept in the record's padding). A new job takes the lowest vacant slot,
//!   so jobs stay packed and the chunks a drain empties are given back. A
//!   vacated slot's generation is bumped so that stale handles (queue and
//!   evictable entries left behind, see below) no longer match.
//! * **Id index.** One hash table per shard of 8-byte entries: the slot
//!   number and 32 bits of the id's hash, keyed with a secret (clients cannot
//!   aim at collisions). The id itself is read from the slot only when the
//!   hashes match, and growth rehashes from the stored bits without touching
//!   any job (with the ids read from the slots, rehashing was 14% of the time
//!   of pipelined ADDJOB, a cache miss per job). With [`SHARDS`] shards a
//!   growth rehashes 1/64 of the jobs, not all of them, and shards of unequal
//!   shares grow at different times (see [`shard_map`]).
//! * **Timers.** A min-heap of 12-byte `(awake, slot)` entries with lazy
//!   deletion: rescheduling pushes a new entry and leaves the old one, which
//!   no longer matches the job's `awake` and is dropped when it surfaces, or
//!   all at once when stale entries outnumber the jobs. Only due entries are
//!   touched.
//! * **Scan.** JSCAN's cursor is a slot number: slots never move, so every job
//!   present for a whole scan is returned (docs/commands.md §3.5) without an
//!   ordered index of ids.
//! * **Evictable jobs.** A FIFO of handles of acked and delivered at-most-once
//!   jobs; each job is listed once (a mark in its record) and deleted jobs'
//!   entries are dropped lazily.
//! * **Shrinking.** The indexes give memory back as jobs leave: a shard of
//!   the id index, the evictable list and a queue's order shrink to twice
//!   their entries once those fall below a quarter of their room, the timer
//!   heap when stale entries are dropped, and the timer heap and the
//!   evictable list are emptied at once when the last job leaves (every entry
//!   left is stale then), so a node drained of a burst returns to about its
//!   idle size without a pause to rebuild anything.

mod slots;

use crate::ids::{JobId, NodeId};
use crate::job::{Holders, Job, JobState, QueueName};
use crate::scan::ScanLimits;
use hashbrown::HashTable;
use smallvec::SmallVec;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use slots::Slots;
/// Shards of the id index.
const SHARDS: usize = 64;
/// The top bits of a hash that choose its shard (buckets use the low ones).
const SHARD_MAP_BITS: u32 = 12;

/// The shard of each value of a hash's top [`SHARD_MAP_BITS`] bits. Shard `i`
/// gets a share of the hashes proportional to 2^(i/SHARDS), so the shards'
/// sizes spread evenly over a factor of two and each grows (a rehash of its
/// entries) at its own job count: the growths are spread over every doubling
/// of the table. Equal shards would all grow within a few thousand jobs of
/// each other (timed on 1,000,000 ADDJOBs: 16 rehashes of 0.3-0.5 ms bunched
/// at 440-470k and 900-924k jobs).
fn shard_map() -> Box<[u8; 1 << SHARD_MAP_BITS]> {
    let weight = |i: usize| (i as f64 / SHARDS as f64).exp2();
    let total: f64 = (0..SHARDS).map(weight).sum();
    let mut map = Box::new([0u8; 1 << SHARD_MAP_BITS]);
    let (mut shard, mut end) = (0, weight(0) / total);
    for (k, entry) in map.iter_mut().enumerate() {
        let middle = (k as f64 + 0.5) / (1 << SHARD_MAP_BITS) as f64;
        while middle >= end && shard < SHARDS - 1 {
            shard += 1;
            end += weight(shard) / total;
        }
        *entry = shard as u8;
    }
    map
}

/// A handle on a job: its slot and the slot's generation when the handle was
/// made. A handle outlives its job harmlessly: it stops resolving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct JobRef {
    slot: u32,
    gen: u32,
}

/// An entry of the id index: where the job is, and its id's hash.
#[derive(Clone, Copy)]
struct IndexEntry {
    slot: u32,
    hash: u32,
}

/// The hash an index table files a 32-bit id hash under: the low bits (the
/// bucket) follow the hash's low bits, the top seven (the tag) all of them.
fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// True when index entry `e` is the one of the job `id` whose hash is `hash`.
fn entry_is(slots: &Slots, e: &IndexEntry, hash: u32, id: &JobId) -> bool {
    e.hash == hash
        && slots
            .get(e.slot)
            .and_then(Slot::job)
            .is_some_and(|j| j.id() == *id)
}

/// True when a container's entries have fallen below a quarter of its room,
/// which is above `floor` entries (below, it is not worth giving back):
/// callers shrink it to twice its entries.
fn worth_shrinking(len: usize, capacity: usize, floor: usize) -> bool {
    capacity > floor && len < capacity / 4
}

/// A container that gives memory back once mostly empty (see
/// [`worth_shrinking`]); room for up to `floor` entries is always kept, so a
/// small one never reallocates.
pub(crate) trait ShrinkWhenSparse {
    /// Shrinks to twice the entries when they fill less than a quarter of
    /// a room above `floor`.
    fn shrink_when_sparse(&mut self, floor: usize);
}

impl<T> ShrinkWhenSparse for Vec<T> {
    fn shrink_when_sparse(&mut self, floor: usize) {
        if worth_shrinking(self.len(), self.capacity(), floor) {
            self.shrink_to(2 * self.len());
        }
    }
}

impl<T> ShrinkWhenSparse for VecDeque<T> {
    fn shrink_when_sparse(&mut self, floor: usize) {
        if worth_shrinking(self.len(), self.capacity(), floor) {
            self.shrink_to(2 * self.len());
        }
    }
}

/// One slot: a job, or nothing and how many jobs it has held (a job keeps
/// its slot's generation in its record, `JobLocal::gen`, so a slot costs
/// exactly a job record).
enum Slot {
    Vacant { gen: u32 },
    Full(Job),
}

impl Slot {
    /// How many jobs the slot held before the current one (or so far).
    fn gen(&self) -> u32 {
        match self {
            Slot::Vacant { gen } => *gen,
            Slot::Full(job) => job.local().gen,
        }
    }

    fn job(&self) -> Option<&Job> {
        match self {
            Slot::Vacant { .. } => None,
            Slot::Full(job) => Some(job),
        }
    }

    fn job_mut(&mut self) -> Option<&mut Job> {
        match self {
            Slot::Vacant { .. } => None,
            Slot::Full(job) => Some(job),
        }
    }
}

/// A timer heap entry: when, and the slot of the job then due (12 bytes; no
/// generation: an entry is live only while the slot's job has this awake
/// time, and a later job of the slot due at that very time is due anyway).
/// Ordered by time, then slot.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Timer {
    awake_high: u32,
    awake_low: u32,
    slot: u32,
}

impl Timer {
    fn new(awake: u64, slot: u32) -> Timer {
        Timer {
            awake_high: (awake >> 32) as u32,
            awake_low: awake as u32,
            slot,
        }
    }

    fn awake(self) -> u64 {
        (u64::from(self.awake_high) << 32) | u64::from(self.awake_low)
    }
}

/// Every job on this node, with its indexes.
pub(crate) struct JobTable {
    /// Where the jobs are.
    slots: Slots,
    index: Vec<HashTable<IndexEntry>>,
    /// The shard of each hash prefix (see [`shard_map`]).
    shard_of: Box<[u8; 1 << SHARD_MAP_BITS]>,
    hasher: ahash::RandomState,
    timers: BinaryHeap<Reverse<Timer>>,
    evictable: VecDeque<JobRef>,
    /// Jobs marked as listed in `evictable` (entries may be more).
    evictable_live: usize,
    /// Holder lists of recent jobs, for new jobs to share (see [`Holders`]).
    recent_holders: Recent<Holders>,
    /// Queue names of recent jobs whose queue object does not exist here
    /// (copies held for other nodes), for new jobs to share.
    recent_queues: Recent<QueueName>,
}

/// Values kept for sharing: a node's jobs have few distinct holder lists
/// (one on a single node; the replica sets in use in a cluster) and queues.
const RECENT: usize = 8;

/// The last [`RECENT`] distinct values seen, newest first, so that new jobs
/// share one copy of an equal value instead of holding their own.
struct Recent<T>(Vec<T>);

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent(Vec::new())
    }
}

impl<T: Clone> Recent<T> {
    /// The kept value equal to `value`, or one made of it by `own`, kept
    /// from now on.
    fn share<K>(&mut self, value: &K, own: impl FnOnce(&K) -> T) -> T
    where
        K: PartialEq + ?Sized,
        T: std::borrow::Borrow<K>,
    {
        if let Some(kept) = self.0.iter().find(|v| (*v).borrow() == value) {
            return kept.clone();
        }
        let owned = own(value);
        self.keep(owned.clone());
        owned
    }

    /// Keeps `value` as the newest, dropping the oldest when full.
    fn keep(&mut self, value: T) {
        if self.0.len() == RECENT {
            self.0.pop();
        }
        self.0.insert(0, value);
    }
}

impl JobTable {
    /// An empty table whose id hasher is keyed by `hasher`.
    pub(crate) fn new(hasher: ahash::RandomState) -> JobTable {
        JobTable {
            slots: Slots::default(),
            index: (0..SHARDS).map(|_| HashTable::new()).collect(),
            shard_of: shard_map(),
            hasher,
            timers: BinaryHeap::new(),
            evictable: VecDeque::new(),
            evictable_live: 0,
            recent_holders: Recent::default(),
            recent_queues: Recent::default(),
        }
    }

    /// The job in slot `slot`, if any.
    fn job_at(&self, slot: u32) -> Option<&Job> {
        self.slots.get(slot).and_then(Slot::job)
    }

    /// The job in slot `slot`, to change it.
    fn job_at_mut(&mut self, slot: u32) -> Option<&mut Job> {
        self.slots.get_mut(slot).and_then(Slot::job_mut)
    }

    fn hash(&self, id: &JobId) -> u32 {
        self.hasher.hash_one(id) as u32
    }

    /// The shard of a hash, chosen by its top bits (buckets use the low ones).
    fn shard(&self, hash: u32) -> usize {
        usize::from(self.shard_of[(hash >> (32 - SHARD_MAP_BITS)) as usize])
    }

    /// The slot holding the job with this id.
    fn find(&self, id: &JobId) -> Option<u32> {
        let hash = self.hash(id);
        self.index[self.shard(hash)]
            .find(table_hash(hash), |e| entry_is(&self.slots, e, hash, id))
            .map(|e| e.slot)
    }

    /// The handle of the job with this id.
    pub(crate) fn job_ref(&self, id: &JobId) -> Option<JobRef> {
        self.find(id).map(|slot| JobRef {
            slot,
            gen: self.slots.gen(slot),
        })
    }

    /// The job a handle names, if it is still there.
    pub(crate) fn resolve(&self, r: JobRef) -> Option<&Job> {
        self.job_at(r.slot).filter(|j| j.local().gen == r.gen)
    }

    /// The job a handle names, to change it.
    pub(crate) fn resolve_mut(&mut self, r: JobRef) -> Option<&mut Job> {
        self.job_at_mut(r.slot).filter(|j| j.local().gen == r.gen)
    }

    /// The job with this id.
    pub(crate) fn get(&self, id: &JobId) -> Option<&Job> {
        self.find(id).and_then(|s| self.job_at(s))
    }

    /// The job with this id if it is held for delivery (active or queued).
    pub(crate) fn held(&self, id: &JobId) -> Option<&Job> {
        self.get(id).filter(|j| j.state().is_held())
    }

    /// The job with this id, to change it.
    pub(crate) fn get_mut(&mut self, id: &JobId) -> Option<&mut Job> {
        let slot = self.find(id)?;
        self.job_at_mut(slot)
    }

    /// True when a job has this id.
    pub(crate) fn contains_key(&self, id: &JobId) -> bool {
        self.find(id).is_some()
    }

    /// Adds a job (replacing one with the same id) and returns its handle.
    /// A new id costs one probe of the index.
    pub(crate) fn insert(&mut self, mut job: Job) -> JobRef {
        let recent = &mut self.recent_holders;
        job.share_holders(|given| recent.share(&**given, |_| given.clone()));
        let hash = self.hash(&job.id());
        let shard = self.shard(hash);
        let slot = self.slots.lowest_vacant();
        let slots = &self.slots;
        match self.index[shard].entry(
            table_hash(hash),
            |e| entry_is(slots, e, hash, &job.id()),
            |e| table_hash(e.hash),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => {
                self.remove(&job.id());
                return self.insert(job);
            }
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(IndexEntry { slot, hash });
            }
        }
        let gen = self.slots.fill(slot, job);
        JobRef { slot, gen }
    }

    /// A holder list equal to `nodes` for a new job: a recent job's (no
    /// allocation), or a new one kept for the next jobs.
    pub(crate) fn holders(&mut self, nodes: &[NodeId]) -> Holders {
        self.recent_holders
            .share(nodes, |n| Holders::from(n.to_vec()))
    }

    /// Adds `nodes` (those not there yet) to the holders of the job `r`
    /// names, the new list shared with records holding an equal one (no
    /// allocation in the usual case). Returns how many were added.
    pub(crate) fn add_holders(&mut self, r: JobRef, nodes: &[NodeId]) -> usize {
        let Some(job) = self.resolve(r) else {
            return 0;
        };
        let mut list: SmallVec<[NodeId; 8]> = job.nodes_delivered().iter().copied().collect();
        let before = list.len();
        for node in nodes {
            if !list.contains(node) {
                list.push(*node);
            }
        }
        let added = list.len() - before;
        if added > 0 {
            let holders = self.holders(&list);
            self.resolve_mut(r)
                .expect("found above")
                .replace_holders(holders);
        }
        added
    }

    /// A queue name for a new job whose queue object does not exist here:
    /// a recent job's equal name, or the one `own` makes, kept from now on.
    pub(crate) fn share_queue_name(
        &mut self,
        name: &[u8],
        own: impl FnOnce(&[u8]) -> QueueName,
    ) -> QueueName {
        self.recent_queues.share(name, own)
    }

    /// Removes a job; its handles stop resolving.
    pub(crate) fn remove(&mut self, id: &JobId) -> Option<Job> {
        let hash = self.hash(id);
        let shard = self.shard(hash);
        let slots = &self.slots;
        let entry = self.index[shard]
            .find_entry(table_hash(hash), |e| entry_is(slots, e, hash, id))
            .ok()?;
        let (IndexEntry { slot, .. }, _) = entry.remove();
        let table = &mut self.index[shard];
        if worth_shrinking(table.len(), table.capacity(), 64) {
            table.shrink_to(2 * table.len(), |e| table_hash(e.hash));
        }
        let job = self.slots.vacate(slot);
        if job.local().in_evictable {
            self.evictable_live -= 1;
        }
        if self.is_empty() {
            // Every entry left is stale: dropped at once, without a rebuild
            // (a small heap keeps its room: no allocation per job for a node
            // that holds one job at a time).
            let mut timers = std::mem::take(&mut self.timers).into_vec();
            timers.clear();
            timers.shrink_when_sparse(1024);
            self.timers = BinaryHeap::from(timers);
            self.evictable.clear();
            self.evictable.shrink_when_sparse(1024);
        }
        Some(job)
    }

    /// True while job `id` waits for its copies (`wait-repl`; an ACKJOB may
    /// have acknowledged it meanwhile).
    pub(crate) fn waits_for_copies(&self, id: &JobId) -> bool {
        self.get(id)
            .is_some_and(|j| j.state() == JobState::WaitRepl)
    }

    /// Number of jobs.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there is no job.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every job, in slot order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Job> {
        self.slots.jobs().map(|(_, job)| job)
    }

    /// Every job, to change them.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Job> {
        self.slots.jobs_mut()
    }

    /// Every id.
    pub(crate) fn keys(&self) -> impl Iterator<Item = JobId> + '_ {
        self.values().map(Job::id)
    }

    /// Removes every job and every index entry.
    pub(crate) fn clear(&mut self) {
        *self = JobTable::new(self.hasher.clone());
    }

    // ----- queue entries ---------------------------------------------------------

    /// For a queue entry: the id of its job while the job is queued.
    pub(crate) fn queued_id(&self, r: JobRef) -> Option<JobId> {
        self.resolve(r)
            .filter(|j| j.state() == JobState::Queued)
            .map(|j| j.id())
    }

    /// As [`JobTable::queued_id`], for an entry about to be dropped unless
    /// live: a job that is no longer queued notes it has no entry any more.
    pub(crate) fn take_queued_id(&mut self, r: JobRef) -> Option<JobId> {
        let job = self.resolve_mut(r)?;
        if job.state() == JobState::Queued {
            Some(job.id())
        } else {
            job.set_in_queue_order(false);
            None
        }
    }

    // ----- timers ----------------------------------------------------------------

    /// Sets the time of the next check (0 = none) of the job a handle names.
    /// Returns false when the job is gone or already due then.
    pub(crate) fn set_awake(&mut self, r: JobRef, awake: u64) -> bool {
        let Some(job) = self.resolve_mut(r) else {
            return false;
        };
        if job.local().awake == awake {
            return false; // its entry is still in the heap
        }
        job.set_awake(awake);
        if awake != 0 {
            self.timers.push(Reverse(Timer::new(awake, r.slot)));
            if self.timers.len() > 2 * self.len() + 1024 {
                self.drop_stale_timers();
            }
        }
        true
    }

    /// Rebuilds the timer heap of its live entries only, in memory sized to
    /// them (stale entries have come to outnumber the jobs).
    fn drop_stale_timers(&mut self) {
        let mut entries = std::mem::take(&mut self.timers).into_vec();
        entries.retain(|Reverse(t)| {
            self.job_at(t.slot)
                .is_some_and(|j| j.local().awake == t.awake())
        });
        entries.shrink_when_sparse(1024);
        self.timers = BinaryHeap::from(entries);
    }

    /// The time of the earliest check (possibly of a stale entry, which only
    /// makes the caller look early).
    pub(crate) fn next_awake(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse(t)| t.awake())
    }

    /// Takes the next check due at or before `now_ms`: `Some(Some(id))` for a
    /// job whose check this is (its awake time is cleared), `Some(None)` for a
    /// stale entry dropped, `None` when nothing is due.
    pub(crate) fn pop_due(&mut self, now_ms: u64) -> Option<Option<JobId>> {
        let &Reverse(timer) = self.timers.peek()?;
        let awake = timer.awake();
        if awake > now_ms {
            return None;
        }
        self.timers.pop();
        Some(match self.job_at_mut(timer.slot) {
            Some(job) if job.local().awake == awake => {
                job.set_awake(0);
                Some(job.id())
            }
            _ => None,
        })
    }

    // ----- evictable jobs ----------------------------------------------------------

    /// Lists the job as evictable if it is so and not yet listed.
    pub(crate) fn note_evictable(&mut self, id: &JobId) {
        if let Some(r) = self.job_ref(id) {
            self.note_evictable_ref(r);
        }
    }

    /// [`JobTable::note_evictable`] for the job a handle names.
    pub(crate) fn note_evictable_ref(&mut self, r: JobRef) {
        let Some(job) = self.resolve_mut(r) else {
            return;
        };
        if job.local().in_evictable || !job.is_evictable() {
            return;
        }
        job.set_in_evictable(true);
        self.evictable_live += 1;
        self.evictable.push_back(r);
        if self.evictable.len() > 2 * self.evictable_live + 1024 {
            let mut list = std::mem::take(&mut self.evictable);
            list.retain(|r| self.resolve(*r).is_some_and(|j| j.local().in_evictable));
            list.shrink_when_sparse(1024);
            self.evictable = list;
        }
    }

    /// Takes the evictable job listed first (it stays in the table).
    pub(crate) fn pop_evictable(&mut self) -> Option<JobId> {
        self.evictable.shrink_when_sparse(1024);
        while let Some(r) = self.evictable.pop_front() {
            if let Some(job) = self.resolve_mut(r).filter(|j| j.local().in_evictable) {
                job.set_in_evictable(false);
                let id = job.id();
                self.evictable_live -= 1;
                return Some(id);
            }
        }
        None
    }

    // ----- scan -------------------------------------------------------------------

    /// One step of a JSCAN-style iteration from `cursor` (a slot number; 0 =
    /// start): calls `visit` on jobs in slot order until the limits say stop
    /// and returns the cursor to continue from (0 when complete). `visit`
    /// returns true when the job matched the caller's filters. Empty slots
    /// count as steps, so one call does bounded work.
    pub(crate) fn scan(
        &self,
        cursor: u64,
        limits: ScanLimits,
        mut visit: impl FnMut(&Job) -> bool,
    ) -> u64 {
        let unlimited = limits.busyloop || limits.count < 0;
        let wanted = (limits.count.max(0) as u64).max(1);
        let max_steps = wanted.saturating_mul(10);
        let (mut matched, mut steps) = (0u64, 0u64);
        let end = self.slots.end();
        let mut slot = cursor.min(u64::from(end)) as u32;
        while slot < end {
            if !unlimited && (matched >= wanted || steps >= max_steps) {
                return slot as u64;
            }
            steps += 1;
            if let Some(job) = self.job_at(slot) {
                if visit(job) {
                    matched += 1;
                }
            }
            slot = self.slots.next_in_scan(slot);
        }
        0
    }

    // ----- checks -----------------------------------------------------------------

    /// Panics unless the indexes agree with the records: the slots' counts
    /// and maps are right, every job is indexed under its id in its own slot,
    /// every job due for a check has a heap entry at that time, and every job
    /// marked evictable is evictable and listed.
    pub(crate) fn check_invariants(&self) {
        self.slots.check();
        for (slot, job) in self.slots.jobs() {
            assert_eq!(
                self.find(&job.id()),
                Some(slot),
                "job {:?} indexed",
                job.id()
            );
        }
        let indexed: usize = self.index.iter().map(|t| t.len()).sum();
        assert_eq!(indexed, self.len(), "index size");
        let timers: std::collections::HashSet<Timer> =
            self.timers.iter().map(|Reverse(t)| *t).collect();
        let listed: std::collections::HashSet<JobRef> = self.evictable.iter().copied().collect();
        let mut marked = 0;
        for (slot, job) in self.slots.jobs() {
            let r = JobRef {
                slot,
                gen: job.local().gen,
            };
            if job.local().awake != 0 {
                assert!(
                    timers.contains(&Timer::new(job.local().awake, slot)),
                    "job {:?} has its timer",
                    job.id()
                );
            }
            if job.local().in_evictable {
                marked += 1;
                assert!(
                    job.is_evictable(),
                    "job {:?} listed evictable is so",
                    job.id()
                );
                assert!(
                    listed.contains(&r),
                    "job {:?} is in the evictable list",
                    job.id()
                );
            }
        }
        assert_eq!(marked, self.evictable_live, "evictable count");
    }
}

impl std::ops::Index<&JobId> for JobTable {
    type Output = Job;

    fn index(&self, id: &JobId) -> &Job {
        self.get(id).expect("a job that exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn queue_names_are_copied_once_and_shared() {
        let mut table = JobTable::new(ahash::RandomState::with_seeds(1, 2, 3, 4));
        let buffer = Bytes::from_static(b"....queue-a....");
        let first = table.share_queue_name(&buffer[4..11], QueueName::new);
        assert_eq!(&first[..], b"queue-a");
        assert_ne!(first.as_ptr(), buffer[4..].as_ptr(), "a copy, not a slice");
        let again = table.share_queue_name(b"queue-a", |_| unreachable!("kept"));
        assert_eq!(again.as_ptr(), first.as_ptr(), "the kept copy is shared");
        let other = table.share_queue_name(b"queue-b", QueueName::new);
        assert_ne!(other.as_ptr(), first.as_ptr());
    }

    #[test]
    fn shards_take_unequal_shares_spread_over_a_factor_of_two() {
        let map = shard_map();
        let mut shares = [0usize; SHARDS];
        for &shard in map.iter() {
            shares[usize::from(shard)] += 1;
        }
        assert!(map.windows(2).all(|w| w[0] <= w[1]), "one range per shard");
        assert!(
            shares.windows(2).all(|w| w[0] <= w[1] + 1),
            "growing shares"
        );
        let (first, last) = (shares[0] as f64, shares[SHARDS - 1] as f64);
        assert!((1.9..2.1).contains(&(last / first)), "{first} .. {last}");
    }

    #[test]
    fn holder_lists_are_shared() {
        let mut table = JobTable::new(ahash::RandomState::with_seeds(1, 2, 3, 4));
        let node = NodeId([b'a'; crate::ids::ID_LEN]);
        let first = table.holders(&[node]);
        let again = table.holders(&[node]);
        assert!(std::ptr::eq(&first[0], &again[0]), "one list for both");
    }
}
