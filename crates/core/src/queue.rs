//! Queues: jobs ordered by creation time, blocked clients, pause flags, counters
//! (jobs-and-ids.md §7, §8).

use crate::ids::JobId;
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
    jobs: BTreeSet<(u64, JobId)>,
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
            jobs: BTreeSet::new(),
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
        self.jobs.len()
    }

    /// True when no job is queued.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Adds a job in creation-time order.
    pub fn push(&mut self, ctime: u64, id: JobId) {
        self.jobs.insert((ctime, id));
    }

    /// Removes a job; true if it was there.
    pub fn remove(&mut self, ctime: u64, id: &JobId) -> bool {
        self.jobs.remove(&(ctime, *id))
    }

    /// Takes the oldest job.
    pub fn pop_oldest(&mut self) -> Option<JobId> {
        self.jobs.pop_first().map(|(_, id)| id)
    }

    /// Up to `count` ids from the head (oldest first) or, if `from_tail`, newest first.
    pub fn peek(&self, count: usize, from_tail: bool) -> Vec<JobId> {
        if from_tail {
            self.jobs
                .iter()
                .rev()
                .take(count)
                .map(|(_, id)| *id)
                .collect()
        } else {
            self.jobs.iter().take(count).map(|(_, id)| *id).collect()
        }
    }

    /// Every queued id (for flushes).
    pub fn drain(&mut self) -> Vec<JobId> {
        std::mem::take(&mut self.jobs)
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    }

    /// True when the queue may be destroyed: idle long enough, nothing queued,
    /// nobody blocked, not paused.
    pub fn is_evictable(&self, now_s: u64, idle_limit_s: u64) -> bool {
        now_s.saturating_sub(self.atime) >= idle_limit_s
            && self.jobs.is_empty()
            && self.blocked.is_empty()
            && self.pause.is_none()
    }
}

/// The 64-bit key that orders queue names for QSCAN (FNV-1a).
pub fn queue_scan_key(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
