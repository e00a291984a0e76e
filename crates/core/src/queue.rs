//! Queues: jobs ordered by creation time, blocked clients, pause flags, counters
//! (jobs-and-ids.md §7, §8).

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

/// A named queue on this node.
#[derive(Debug)]
pub struct Queue {
    /// The queue name (binary).
    pub name: Bytes,
    /// Queued jobs by `(ctime, id)`: oldest first.
    jobs: QueueOrder,
    /// Creation time, Unix seconds.
    pub ctime: u64,
    /// Last access (creation, enqueue, fetch), Unix seconds.
    pub atime: u64,
    /// Clients blocked on this queue, in arrival order.
    pub blocked: VecDeque<ClientId>,
    /// Pause state.
    pub pause: Pause,
    /// Enqueue operations so far.
    pub jobs_in: u64,
    /// Fetches so far (GETJOB, blocked clients, federation).
    pub jobs_out: u64,
    /// Federation bookkeeping (NEEDJOBS back-offs, responders, import rate).
    pub federation: crate::federation::QueueFederation,
}

impl Queue {
    /// A new, empty queue created at `now_s`.
    pub fn new(name: Bytes, now_s: u64) -> Queue {
        Queue {
            name,
            jobs: QueueOrder::default(),
            ctime: now_s,
            atime: now_s,
            blocked: VecDeque::new(),
            pause: Pause::default(),
            jobs_in: 0,
            jobs_out: 0,
            federation: Default::default(),
        }
    }

    /// Number of queued jobs.
    pub fn len(&self) -> usize {
        self.jobs.live
    }

    /// True when no job is queued.
    pub fn is_empty(&self) -> bool {
        self.jobs.live == 0
    }

    /// Counts a job as queued; `has_entry` says its entry (left by an earlier
    /// queueing, at the same place) is still in the order.
    pub(crate) fn push(&mut self, ctime: u64, job: JobRef, has_entry: bool) {
        if !has_entry {
            self.jobs.insert((ctime, job));
        }
        self.jobs.live += 1;
    }

    /// Counts a queued job as gone (dequeued or deleted). Its entry stays and
    /// is dropped when reached, as the job no longer answers as queued.
    pub fn remove(&mut self) {
        self.jobs.live -= 1;
    }

    /// Takes the oldest live entry. `live(job)` gives the id of an entry's job
    /// while it is still queued here; for a dead entry it must also note that
    /// the job has no entry any more, and the caller does so for the job
    /// returned.
    pub(crate) fn pop_oldest(
        &mut self,
        mut live: impl FnMut(JobRef) -> Option<JobId>,
    ) -> Option<JobId> {
        while let Some((_, job)) = self.jobs.pop_first() {
            if let Some(id) = live(job) {
                self.jobs.live -= 1;
                return Some(id);
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
        if from_tail {
            self.jobs.for_each_rev(&mut keep);
        } else {
            self.jobs.for_each(&mut keep);
        }
        out
    }

    /// Drops dead entries once they outnumber the live ones; `live` as for
    /// [`Queue::pop_oldest`] (kept entries keep their mark).
    pub(crate) fn compact(&mut self, mut live: impl FnMut(JobRef) -> Option<JobId>) {
        if self.jobs.entries() > 2 * self.jobs.live + 64 {
            self.jobs.retain(|job| live(*job).is_some());
        }
    }

    /// Every job with an entry (live or not), for clearing their marks when
    /// the queue is destroyed.
    pub(crate) fn entries(&self) -> Vec<JobRef> {
        let mut jobs = Vec::with_capacity(self.jobs.entries());
        self.jobs.for_each(&mut |job| {
            jobs.push(*job);
            true
        });
        jobs
    }

    /// Every entry, oldest first, for consistency checks.
    pub(crate) fn for_each_entry(&self, mut visit: impl FnMut(u64, JobRef)) {
        for (ctime, job) in self.jobs.run.iter().chain(self.jobs.late.iter()) {
            visit(*ctime, *job);
        }
    }

    /// Jobs counted as queued here.
    pub(crate) fn live(&self) -> usize {
        self.jobs.live
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

/// The order of a queue's jobs, by `(ctime, handle)`. Jobs are nearly always
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
    /// Jobs queued now (entries may be more).
    live: usize,
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

    fn pop_first(&mut self) -> Option<(u64, JobRef)> {
        match (self.run.front(), self.late.first()) {
            (Some(a), Some(b)) if b < a => self.late.pop_first(),
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.late.pop_first(),
        }
    }

    /// Visits ids oldest first while `visit` returns true.
    fn for_each(&self, visit: &mut impl FnMut(&JobRef) -> bool) {
        let (mut a, mut b) = (self.run.iter().peekable(), self.late.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if y < x => b.next(),
                (Some(_), _) => a.next(),
                (None, _) => b.next(),
            };
            match next {
                Some((_, job)) if visit(job) => {}
                _ => return,
            }
        }
    }

    /// Visits ids newest first while `visit` returns true.
    fn for_each_rev(&self, visit: &mut impl FnMut(&JobRef) -> bool) {
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
                Some((_, job)) if visit(job) => {}
                _ => return,
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
