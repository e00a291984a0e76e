//! Queues: jobs ordered by creation time, blocked clients, pause flags, counters
//! (docs/jobs-and-ids.md §7, §8).

use crate::ids::JobId;
use crate::job::QueueName;
use crate::job_table::{JobRef, JobTable, ShrinkWhenSparse};
use crate::ClientId;
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
    name: QueueName,
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
    pub fn new(name: QueueName, now_s: u64) -> Queue {
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
    pub fn name(&self) -> &QueueName {
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

    /// Takes the first live entry: highest priority, then oldest. A dead
    /// entry's job (if any) notes it has no entry any more
    /// ([`JobTable::take_queued_id`]); the caller does so for the job returned.
    pub(crate) fn pop_oldest(&mut self, jobs: &mut JobTable) -> Option<(JobRef, JobId)> {
        for rank in 0..self.order_count() {
            while let Some(job) = self.order_mut(rank).pop_first(jobs) {
                if let Some(id) = jobs.take_queued_id(job) {
                    self.live -= 1;
                    return Some((job, id));
                }
            }
        }
        None
    }

    /// Up to `count` queued ids from the head (oldest first) or, if
    /// `from_tail`, newest first.
    pub(crate) fn peek(&self, count: usize, from_tail: bool, jobs: &JobTable) -> Vec<JobId> {
        // A re-registered job may have two entries: each is listed once (a
        // set, so a large QPEEK stays linear).
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<JobId> = Vec::new();
        let mut keep = |job: &JobRef| {
            if out.len() < count {
                if let Some(id) = jobs.queued_id(*job).filter(|id| seen.insert(*id)) {
                    out.push(id);
                }
            }
            out.len() < count
        };
        let n = self.order_count();
        for rank in 0..n {
            let order = self.order(if from_tail { n - 1 - rank } else { rank }).1;
            let more = if from_tail {
                order.for_each_rev(jobs, &mut keep)
            } else {
                order.for_each(jobs, &mut keep)
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

    /// Drops dead entries once they outnumber the live ones, noting as in
    /// [`Queue::pop_oldest`] (kept entries keep their mark).
    pub(crate) fn compact(&mut self, jobs: &mut JobTable) {
        if self.entry_count() > 2 * self.live + 64 {
            let mut live = |job: &JobRef| jobs.take_queued_id(*job).is_some();
            self.jobs.retain(&mut live);
            for (_, order) in &mut self.levels {
                order.retain(&mut live);
            }
            self.levels.retain(|(_, o)| o.entries() > 0);
        }
    }

    /// Every job with an entry (live or not), for clearing their marks when
    /// the queue is destroyed.
    pub(crate) fn entries(&self) -> Vec<JobRef> {
        let mut jobs = Vec::with_capacity(self.entry_count());
        self.for_each_entry(|_, job| jobs.push(job));
        jobs
    }

    /// Every entry as `(priority, job)`, for consistency checks.
    pub(crate) fn for_each_entry(&self, mut visit: impl FnMut(u8, JobRef)) {
        for rank in 0..self.order_count() {
            let (priority, order) = self.order(rank);
            let late = order.late.iter().map(|(_, job)| job);
            for job in order.run.iter().chain(late) {
                visit(priority, *job);
            }
        }
    }

    /// Panics unless every order is sorted by its jobs' ctimes (the entries
    /// whose jobs still exist).
    pub(crate) fn check_order(&self, jobs: &JobTable) {
        for rank in 0..self.order_count() {
            self.order(rank).1.check(jobs);
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

/// The order of a queue's jobs of one priority, by `(ctime, handle)`. Jobs
/// are nearly always appended newest and taken oldest, so most entries live
/// in a deque of handles (O(1) at both ends, 8 bytes each, no tree nodes;
/// an entry's ctime is read from its job); an entry older than the newest
/// (a requeued or imported job) goes to a small ordered set beside it, and
/// the oldest of both heads is taken first. Removal is lazy: a dequeued or
/// deleted job's entry stays until it reaches the head or a compaction, and
/// is dropped then because its job no longer answers as queued (a deleted
/// job's entry has no ctime any more: it is simply taken first, and
/// dropped); a job queued again while its entry is still there reuses it
/// (the key, hence the place, is the same).
#[derive(Debug, Default)]
struct QueueOrder {
    run: VecDeque<JobRef>,
    /// The key of the newest entry appended to `run`.
    run_last: Option<(u64, JobRef)>,
    late: BTreeSet<(u64, JobRef)>,
}

/// The key of a deque entry: its job's ctime, `None` once the job is gone.
fn run_key(jobs: &JobTable, job: JobRef) -> Option<(u64, JobRef)> {
    jobs.resolve(job).map(|j| (j.ctime(), job))
}

/// Visits the merge of a deque walk `run` and a late-set walk `late` (both
/// in the same direction) while `visit` returns true, taking the late head
/// when `late_next(run head, late head)`; false when it stopped early.
fn merge_visit<'a>(
    run: impl Iterator<Item = &'a JobRef>,
    late: impl Iterator<Item = &'a (u64, JobRef)>,
    late_next: impl Fn(JobRef, &(u64, JobRef)) -> bool,
    visit: &mut impl FnMut(&JobRef) -> bool,
) -> bool {
    let (mut a, mut b) = (run.peekable(), late.peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&&x), Some(y)) if late_next(x, y) => b.next().map(|e| &e.1),
            (Some(_), _) => a.next(),
            (None, _) => b.next().map(|e| &e.1),
        };
        match next {
            Some(job) => {
                if !visit(job) {
                    return false;
                }
            }
            None => return true,
        }
    }
}

impl QueueOrder {
    fn insert(&mut self, key: (u64, JobRef)) {
        if self.run.is_empty() || self.run_last.is_none_or(|last| last <= key) {
            self.run.push_back(key.1);
            self.run_last = Some(key);
        } else {
            self.late.insert(key);
        }
    }

    fn entries(&self) -> usize {
        self.run.len() + self.late.len()
    }

    /// Removes one entry if present (a linear search of the deque: only a
    /// dead-letter move does this).
    fn remove(&mut self, key: (u64, JobRef)) {
        if !self.late.remove(&key) {
            if let Some(at) = self.run.iter().position(|job| *job == key.1) {
                self.run.remove(at);
            }
        }
    }

    /// True when the late set's head `late` comes before the deque's head
    /// `run` (a dead deque entry comes first).
    fn late_first(jobs: &JobTable, run: JobRef, late: &(u64, JobRef)) -> bool {
        run_key(jobs, run).is_some_and(|key| *late < key)
    }

    fn pop_first(&mut self, jobs: &JobTable) -> Option<JobRef> {
        self.run.shrink_when_sparse(1024);
        match (self.run.front(), self.late.first()) {
            (Some(&a), Some(b)) if Self::late_first(jobs, a, b) => {
                self.late.pop_first().map(|(_, job)| job)
            }
            (Some(_), _) => self.run.pop_front(),
            (None, _) => self.late.pop_first().map(|(_, job)| job),
        }
    }

    /// Visits ids oldest first while `visit` returns true; false when it
    /// stopped early.
    fn for_each(&self, jobs: &JobTable, visit: &mut impl FnMut(&JobRef) -> bool) -> bool {
        merge_visit(
            self.run.iter(),
            self.late.iter(),
            |x, y| Self::late_first(jobs, x, y),
            visit,
        )
    }

    /// Visits ids newest first while `visit` returns true; false when it
    /// stopped early.
    fn for_each_rev(&self, jobs: &JobTable, visit: &mut impl FnMut(&JobRef) -> bool) -> bool {
        merge_visit(
            self.run.iter().rev(),
            self.late.iter().rev(),
            |x, y| run_key(jobs, x).is_some_and(|key| *y > key),
            visit,
        )
    }

    fn retain(&mut self, mut live: impl FnMut(&JobRef) -> bool) {
        self.run.retain(&mut live);
        self.late.retain(|(_, job)| live(job));
    }

    /// Panics unless the live deque entries are sorted, no newer than
    /// `run_last`, and each late entry's key is its job's ctime.
    fn check(&self, jobs: &JobTable) {
        let keys: Vec<(u64, JobRef)> = self.run.iter().filter_map(|j| run_key(jobs, *j)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "queue order sorted");
        if let (Some(last), Some(newest)) = (self.run_last, keys.last()) {
            assert!(*newest <= last, "queue order's newest key noted");
        }
        for (ctime, job) in &self.late {
            if let Some(j) = jobs.resolve(*job) {
                assert_eq!(
                    j.ctime(),
                    *ctime,
                    "entry of {:?} keyed by its ctime",
                    j.id()
                );
            }
        }
    }
}

/// The 64-bit key that orders queue names for QSCAN (FNV-1a).
pub fn queue_scan_key(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
