//! Synchronous ADDJOBs waiting for their copies, and when the next of their
//! retries ("add one more node") is due. Only this module changes them; the
//! invariant it keeps is that the next retry is never later than the retry
//! of any waiter whose job still replicates.

use crate::effects::ClientId;
use crate::hashing::Map;
use crate::ids::JobId;
use std::collections::HashMap;

/// Minimum time between two "add one more node" retries of a synchronous ADDJOB.
const ADD_NODE_PERIOD_MS: u64 = 50;

/// A synchronous ADDJOB waiting for its copies.
#[derive(Debug)]
pub(crate) struct ReplWait {
    /// The blocked client.
    pub(crate) client: ClientId,
    /// The job is replicated externally (this node keeps no copy).
    pub(crate) external: bool,
    /// The node was leaving when the ADDJOB started (external replication): only
    /// clients that were waiting before the node started leaving are sent away.
    pub(crate) started_leaving: bool,
    /// When a node was last added to the job's holders.
    last_add: u64,
    /// When REPLJOB was last (re)sent, which paces the retries.
    last_try: u64,
}

impl ReplWait {
    /// A wait that started at `now_ms` (its first REPLJOB just sent).
    pub(crate) fn new(
        client: ClientId,
        external: bool,
        started_leaving: bool,
        now_ms: u64,
    ) -> ReplWait {
        ReplWait {
            client,
            external,
            started_leaving,
            last_add: now_ms,
            last_try: now_ms,
        }
    }

    /// When its next retry is due.
    fn retry_at(&self) -> u64 {
        self.last_add.max(self.last_try) + ADD_NODE_PERIOD_MS
    }
}

/// The waiting ADDJOBs of a node, by job.
#[derive(Debug)]
pub(crate) struct ReplWaiters {
    /// Every waiting ADDJOB, by job.
    waiters: Map<JobId, ReplWait>,
    /// When the next of their retries is due: kept by [`ReplWaiters::plan_retries`],
    /// so the check after every command is O(1). It may be early (a waiter
    /// gone since), never late.
    retry_at: Option<u64>,
}

impl ReplWaiters {
    /// No waiter; the map is keyed by `hasher`.
    pub(crate) fn new(hasher: ahash::RandomState) -> ReplWaiters {
        ReplWaiters {
            waiters: HashMap::with_hasher(hasher),
            retry_at: None,
        }
    }

    /// Adds the waiter of job `id`.
    pub(crate) fn insert(&mut self, id: JobId, wait: ReplWait) {
        let at = wait.retry_at();
        self.retry_at = Some(self.retry_at.map_or(at, |t| t.min(at)));
        self.waiters.insert(id, wait);
    }

    /// Removes the waiter of job `id`.
    pub(crate) fn remove(&mut self, id: &JobId) -> Option<ReplWait> {
        self.waiters.remove(id)
    }

    /// The waiter of job `id`.
    pub(crate) fn get(&self, id: &JobId) -> Option<&ReplWait> {
        self.waiters.get(id)
    }

    /// The jobs waited for.
    pub(crate) fn ids(&self) -> Vec<JobId> {
        self.waiters.keys().copied().collect()
    }

    /// Number of waiters.
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// True when the retry of job `id` is due at `now_ms`.
    pub(crate) fn is_due(&self, id: &JobId, now_ms: u64) -> bool {
        self.waiters.get(id).is_some_and(|w| w.retry_at() <= now_ms)
    }

    /// Records a retry of job `id` at `now_ms`; `added` when it added a node.
    pub(crate) fn tried(&mut self, id: &JobId, now_ms: u64, added: bool) {
        if let Some(wait) = self.waiters.get_mut(id) {
            wait.last_try = now_ms;
            if added {
                wait.last_add = now_ms;
            }
        }
    }

    /// Recomputes when the next retry is due, over the waiters whose job
    /// still `replicates` (an acked one just waits for its client's timeout).
    pub(crate) fn plan_retries(&mut self, replicates: impl Fn(&JobId) -> bool) {
        self.retry_at = self
            .waiters
            .iter()
            .filter(|(id, _)| replicates(id))
            .map(|(_, w)| w.retry_at())
            .min();
    }

    /// When the next retry is due (maybe early, never late).
    pub(crate) fn next_retry(&self) -> Option<u64> {
        self.retry_at.filter(|_| !self.waiters.is_empty())
    }

    /// Panics if the next retry is later than the retry of a waiter whose
    /// job still `replicates`.
    pub(crate) fn check_invariants(&self, replicates: impl Fn(&JobId) -> bool) {
        for (id, wait) in &self.waiters {
            if replicates(id) {
                assert!(
                    self.retry_at.is_some_and(|t| t <= wait.retry_at()),
                    "the retry of {id:?} is planned"
                );
            }
        }
    }
}
