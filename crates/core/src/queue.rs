//! Queues: jobs ordered by creation time, blocked clients, pause flags, counters
//! (docs/jobs-and-ids.md §7, §8).

use crate::ids::JobId;
use crate::job_table::JobRef;
use crate::ClientId;
use bytes::Bytes;
use std::collections::{BTreeSet, VecDeque};

/// Input/output pause flags of a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pause {
    /// ADDJOB refused, REPLJOB ignored, timer requeues postponed.
    pub input: bool,
    /// GETJOB takes nothing, NEEDJOBS ignored.
    pub output: bool,
}

impl Pause {
    /// `none`, `in`, `out` or `all`.
    pub fn name(self) -> &'static str {
        match (self.input, self.output) {
            (false, false) => "none",
            (true, false) => "in",
            (false, true) => "out",
            (true, true) => "all",
        }
    }

    /// True when neither direction is paused.
    pub fn is_none(self) -> bool {
        !self.input && !self.output
    }
}

/// A named queue on this node. Its fields are private: the other modules
/// read them through the accessors and change them through the methods below.
#[derive(Debug)]
pub struct Queue {
    /// The queue name (binary).
    name: Bytes,
    /// Queued jobs of the default priority 5 by `(ctime, id)`: oldest first.
    jobs: QueueOrder,
    /// Jobs of the other priorities (decision D18), one order per priority,
    /// highest first; empty (no allocation) while every job has priority 5.
    levels: Vec<(u8, QueueOrder)>,
    /// Jobs queued now, in every order (entries may be more).
    live: usize,
    /// Creation time, Unix seconds.
    ctime: u64,
    /// Last access (creation, enqueue, fetch), Unix seconds.
    atime: u64,
    /// Clients blocked on this queue, in arrival order.
    blocked: VecDeque<ClientId>,
    /// Pause state.
    pause: Pause,
    /// Enqueue operations so far.
    jobs_in: u64,
    /// Fetches so far (GETJOB, blocked clients, federation).
    jobs_out: u64,
    /// Federation bookkeeping (NEEDJOBS back-offs, responders, import rate).
    federation: crate::federation_state::QueueFederation,
}

impl Queue {
    /// A new, empty queue created at `now_s`.
    pub fn new(name: Bytes, now_s: u64) -> Queue {
        Queue {
            name,
            jobs: QueueOrder::default(),
            levels: Vec::new(),
            live: 0,
            ctime: now_s,
            atime: now_s,
            blocked: VecDeque::new(),
            pause: Pause::default(),
            jobs_in: 0,
            jobs_out: 0,
            federation: Default::default(),
        }
    }

    /// The queue name (binary).
    pub fn name(&self) -> &Bytes {
        &self.name
    }

    /// Creation time, Unix seconds.
    pub fn ctime(&self) -> u64 {
        self.ctime
    }

    /// Last access (creation, enqueue, fetch), Unix seconds.
    pub fn atime(&self) -> u64 {
        self.atime
    }

    /// Enqueue operations so far.
    pub fn jobs_in(&self) -> u64 {
        self.jobs_in
    }

    /// Fetches so far (GETJOB, blocked clients, federation).
    pub fn jobs_out(&self) -> u64 {
        self.jobs_out
    }

    /// The pause flags.
    pub fn pause(&self) -> Pause {
        self.pause
    }

    /// Replaces the pause flags (PAUSE, the PAUSE bus message).
    pub(crate) fn set_pause(&mut self, pause: Pause) {
        self.pause = pause;
    }

    /// Clients blocked on this queue, in arrival order.
    pub fn blocked(&self) -> &VecDeque<ClientId> {
        &self.blocked
    }

    /// Adds a client blocked on this queue; true when it is the only one.
    pub(crate) fn add_blocked(&mut self, client: ClientId) -> bool {
        self.blocked.push_back(client);
        self.blocked.len() == 1
    }

    /// Removes a client blocked on this queue; true when nobody is left.
    pub(crate) fn remove_blocked(&mut self, client: ClientId) -> bool {
        self.blocked.retain(|c| *c != client);
        self.blocked.is_empty()
    }

    /// Drops the first blocked client (one that is no longer blocked).
    pub(crate) fn drop_first_blocked(&mut self) {
        self.blocked.pop_front();
    }

    /// Federation bookkeeping (NEEDJOBS back-offs, responders, import rate).
    pub fn federation(&self) -> &crate::federation_state::QueueFederation {
        &self.federation
    }

    /// [`Queue::federation`], to record what the federation protocol did.
    pub(crate) fn federation_mut(&mut self) -> &mut crate::federation_state::QueueFederation {
        &mut self.federation
    }

    /// Counts an enqueue at `now_s`.
    pub(crate) fn note_enqueue(&mut self, now_s: u64) {
        self.atime = now_s;
        self.jobs_in += 1;
    }

    /// Counts a fetch at `now_s`.
    pub(crate) fn note_fetch(&mut self, now_s: u64) {
        self.atime = now_s;
        self.jobs_out += 1;
    }

    /// Number of queued jobs.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no job is queued.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many orders there are: the default one and one per other priority.
    fn order_count(&self) -> usize {
        self.levels.len() + 1
    }

    /// Where the default order sits in delivery order (after higher priorities).
    fn default_rank(&self) -> usize {
        self.levels
            .partition_point(|(p, _)| *p > crate::job::DEFAULT_PRIORITY)
    }

    /// The `rank`-th order in delivery order (highest priority first) with its priority.
    fn order(&self, rank: usize) -> (u8, &QueueOrder) {
        let split = self.default_rank();
        match rank.cmp(&split) {
            std::cmp::Ordering::Less => (self.levels[rank].0, &self.levels[rank].1),
            std::cmp::Ordering::Equal => (crate::job::DEFAULT_PRIORITY, &self.jobs),
            std::cmp::Ordering::Greater => (self.levels[rank - 1].0, &self.levels[rank - 1].1),
        }
    }

    /// [`Queue::order`], mutable.
    fn order_mut(&mut self, rank: usize) -> &mut QueueOrder {
        let split = self.default_rank();
        match rank.cmp(&split) {
            std::cmp::Ordering::Less => &mut self.levels[rank].1,
            std::cmp::Ordering::Equal => &mut self.jobs,
            std::cmp::Ordering::Greater => &mut self.levels[rank - 1].1,
        }
    }

    /// The order of `priority`, created if missing.
    fn order_of(&mut self, priority: u8) -> &mut QueueOrder {
        if priority == crate::job::DEFAULT_PRIORITY {
            return &mut self.jobs;
        }
        let at = self.levels.partition_point(|(p, _)| *p > priority);
        if self.levels.get(at).is_none_or(|(p, _)| *p != priority) {
            self.levels.insert(at, (priority, QueueOrder::default()));
        }
        &mut self.levels[at].1
    }

    /// Counts a job as queued; `has_entry` says its entry (left by an earlier
    /// queueing, at the same place) is still in the order.
    pub(crate) fn push(&mut self, ctime: u64, priority: u8, job: JobRef, has_entry: bool) {
        if !has_entry {
            self.order_of(priority).insert((ctime, job));
        }
        self.live += 1;
    }

    /// Drops the entry of a job that is not queued here any more and will not
    /// come back (it moved to a dead-letter queue, decision D17).
    pub(crate) fn forget_entry(&mut self, ctime: u64, priority: u8, job: JobRef) {
        if priority == crate::job::DEFAULT_PRIORITY {
            self.jobs.remove((ctime, job));
        } else if let Some((_, order)) = self.levels.iter_mut().find(|(p, _)| *p == priority) {
            order.remove((ctime, job));
        }
    }

    /// Counts a queued job as gone (dequeued or deleted). Its entry stays and
    /// is dropped when reached, as the job no longer answers as queued.
    pub fn remove(&mut self) {
        self.live -= 1;
    }

    /// Takes the first live entry: highest priority, then oldest. `live(job)`
    /// gives the id of an entry's job while it is still queued here; for a
    /// dead entry it must also note that the job has no entry any more, and
    /// the caller does so for the job returned.
    pub(crate) fn pop_oldest(
        &mut self,
        mut live: impl FnMut(JobRef) -> Option<JobId>,
    ) -> Option<(JobRef, JobId)> {
        for rank in 0..self.order_count() {
            while let Some((_, job)) = self.order_mut(rank).pop_first() {
                if let Some(id) = live(job) {
                    self.live -= 1;
                    return Some((job, id));
                }
            }
        }
        None
    }

    /// Up to `count` queued ids from the head (oldest first) or, if
    /// `from_tail`, newest first; `live` as for [`Queue::pop_oldest`] but
    /// without noting anything.
    pub(crate) fn peek(
        &self,
        count: usize,
        from_tail: bool,
        live: impl Fn(JobRef) -> Option<JobId>,
    ) -> Vec<JobId> {
        // A re-registered job may have two entries: each is listed once (a
        // set, so a large QPEEK stays linear).
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<JobId> = Vec::new();
        let mut keep = |job: &JobRef| {
            if out.len() < count {
                if let Some(id) = live(*job).filter(|id| seen.insert(*id)) {
                    out.push(id);
                }
            }
            out.len() < count
        };
        let n = self.order_count();
        for rank in 0..n {
            let order = self.order(if from_tail { n - 1 - rank } else { rank }).1;
            let more = if from_tail {
                order.for_each_rev(&mut keep)
            } else {
                order.for_each(&mut keep)
            };
            if !more {
                break;
            }
        }
        out
    }

    /// Entries in every order, live or not.
    fn entry_count(&self) -> usize {
        self.jobs.entries() + self.levels.iter().map(|(_, o)| o.entries()).sum::<usize>()
    }

    /// Drops dead entries once they outnumber the live ones; `live` as for
    /// [`Queue::pop_oldest`] (kept entries keep their mark).
    pub(crate) fn compact(&mut self, mut live: impl FnMut(JobRef) -> Option<JobId>) {
        if self.entry_count() > 2 * self.live + 64 {
            self.jobs.retain(|job| live(*job).is_some());
            for (_, order) in &mut self.levels {
                order.retain(|job| live(*job).is_some());
            }
            self.levels.retain(|(_, o)| o.entries() > 0);
        }
    }

    /// Every job with an entry (live or not), for clearing their marks when
    /// the queue is destroyed.
    pub(crate) fn entries(&self) -> Vec<JobRef> {
        let mut jobs = Vec::with_capacity(self.entry_count());
        self.for_each_entry(|_, _, job| jobs.push(job));
        jobs
    }

    /// Every entry as `(priority, ctime, job)`, for consistency checks.
    pub(crate) fn for_each_entry(&self, mut visit: impl FnMut(u8, u64, JobRef)) {
        for rank in 0..self.order_count() {
            let (priority, order) = self.order(rank);
            for (ctime, job) in order.run.iter().chain(order.late.iter()) {
                visit(priority, *ctime, *job);
            }
        }
    }

    /// Jobs counted as queued here.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// True when the queue may be destroyed: idle long enough, nothing queued,
    /// nobody blocked, not paused.
    pub fn is_evictable(&self, now_s: u64, idle_limit_s: u64) -> bool {
        now_s.saturating_sub(self.atime) >= idle_limit_s
            && self.is_empty()
            && self.blocked.is_empty()
            && self.pause.is_none()
    }
}

/// The order of a queue's jobs of one priority, by `(ctime, handle)`. Jobs are nearly always
/// appended newest and taken oldest, so most entries live in a deque (O(1) at
/// both ends, 16 bytes each, no tree nodes); an entry older than the newest
/// (a requeued or imported job) goes to a small ordered set beside it, and the
/// oldest of both heads is taken first. Removal is lazy: a dequeued or deleted
/// job's entry stays until it reaches the head or a compaction, and is dropped
/// then because its job no longer answers as queued; a job queued again while
/// its entry is still there reuses it (the key, hence the place, is the same).
#[derive(Debug, Default)]
struct QueueOrder {
    run: VecDeque<(u64, JobRef)>,
    late: BTreeSet<(u64, JobRef)>,
}

impl QueueOrder {
    fn insert(&mut self, key: (u64, JobRef)) {
        if self.run.back().is_none_or(|last| *last <= key) {
            self.run.push_back(key);
        } else {
            self.late.insert(key);
        }
    }

    fn entries(&self) -> usize {
        self.run.len() + self.late.len()
    }

    /// Removes one entry if present (the deque is sorted: it only takes
    /// entries not older than its last).
    fn remove(&mut self, key: (u64, JobRef)) {
        if !self.late.remove(&key) {
            if let Ok(at) = self.run.binary_search(&key) {
                self.run.remove(at);
            }
        }
    }

    fn pop_first(&mut self) -> Option<(u64, JobRef)> {
        match (self.run.front(), self.late.first()) {
            (Some(a), Some(b)) if b < a => self.late.pop_first(),
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.late.pop_first(),
        }
    }

    /// Visits ids oldest first while `visit` returns true; false when it
    /// stopped early.
    fn for_each(&self, visit: &mut impl FnMut(&JobRef) -> bool) -> bool {
        let (mut a, mut b) = (self.run.iter().peekable(), self.late.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if y < x => b.next(),
                (Some(_), _) => a.next(),
                (None, _) => b.next(),
            };
            match next {
                Some((_, job)) => {
                    if !visit(job) {
                        return false;
                    }
                }
                None => return true,
            }
        }
    }

    /// Visits ids newest first while `visit` returns true; false when it
    /// stopped early.
    fn for_each_rev(&self, visit: &mut impl FnMut(&JobRef) -> bool) -> bool {
        let (mut a, mut b) = (
            self.run.iter().rev().peekable(),
            self.late.iter().rev().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if y > x => b.next(),
                (Some(_), _) => a.next(),
                (None, _) => b.next(),
            };
            match next {
                Some((_, job)) => {
                    if !visit(job) {
                        return false;
                    }
                }
                None => return true,
            }
        }
    }

    fn retain(&mut self, mut live: impl FnMut(&JobRef) -> bool) {
        self.run.retain(|(_, job)| live(job));
        self.late.retain(|(_, job)| live(job));
    }
}

/// The 64-bit key that orders queue names for QSCAN (FNV-1a).
pub fn queue_scan_key(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
