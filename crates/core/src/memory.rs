//! Memory pressure (docs/jobs-and-ids.md §8.2, §9): warning levels, eviction of
//! evictable jobs, and idle queue eviction.

use crate::effects::{Effects, Env};
use crate::node::{MaxmemoryPolicy, Node};

/// Idle time after which an empty, unpaused queue nobody waits on is destroyed.
pub const IDLE_QUEUE_LIMIT_S: u64 = 300;
/// The same above 75% of maxmemory.
const IDLE_QUEUE_LIMIT_WARN_S: u64 = 10;
/// The same above 95% of maxmemory.
const IDLE_QUEUE_LIMIT_CRITICAL_S: u64 = 2;
/// Queues looked at per idle sweep (every 100 ms).
const QUEUES_PER_SWEEP: usize = 64;
/// Jobs freed at most per eviction attempt: the time budget of decision D10,
/// expressed as work so that it does not depend on a clock.
const MAX_EVICTIONS_PER_ATTEMPT: usize = 100_000;

impl Node {
    /// 0 normal, 1 above 75% of maxmemory, 2 above 95% (maxmemory 0 counts as 2).
    pub fn memory_warning_level(&self, env: &Env) -> u8 {
        let max = self.config().maxmemory;
        if max == 0 || env.used_memory > max / 100 * 95 {
            2
        } else if env.used_memory > max / 100 * 75 {
            1
        } else {
            0
        }
    }

    /// True when [`Node::evict_for_memory`] has work to do (used memory at
    /// the eviction level of a set `maxmemory`): a read the shell makes
    /// before every command, cheaper than the event.
    pub fn memory_pressed(&self, env: &Env) -> bool {
        self.config().maxmemory != 0 && self.memory_warning_level(env) >= 2
    }

    /// The eviction attempt run before every command (docs/commands.md §1.2 step 5).
    /// Returns false when memory is above 95% and not enough could be freed, in
    /// which case deny-oom commands get `-OOM`.
    ///
    /// Decision D10: evictable jobs (acked, delivered at-most-once) are freed until
    /// the estimate is back under the mark or none are left; the original gave up
    /// after one job when the latency monitor was off.
    pub fn evict_for_memory(&mut self, env: &Env, fx: &mut Effects) -> bool {
        if !self.memory_pressed(env) {
            return true;
        }
        if self.config().maxmemory_policy == MaxmemoryPolicy::NoEviction {
            return false;
        }
        let target = self.config().maxmemory / 100 * 95;
        let mut used = env.used_memory;
        for _ in 0..MAX_EVICTIONS_PER_ATTEMPT {
            if used <= target {
                return true;
            }
            let Some(id) = self.jobs.pop_evictable() else {
                break;
            };
            let size = self.jobs.get(&id).map_or(0, |j| j.approx_size()) as u64;
            self.unregister(&id, fx);
            used = used.saturating_sub(size);
        }
        if self.jobs.is_empty() {
            let limit = self.idle_queue_limit(env);
            self.sweep_idle_queues(env, limit, usize::MAX) > 0 && used <= target
        } else {
            used <= target
        }
    }

    fn idle_queue_limit(&self, env: &Env) -> u64 {
        match self.memory_warning_level(env) {
            0 => IDLE_QUEUE_LIMIT_S,
            1 => IDLE_QUEUE_LIMIT_WARN_S,
            _ => IDLE_QUEUE_LIMIT_CRITICAL_S,
        }
    }

    /// The 100 ms idle-queue duty: destroys idle queues, visiting a bounded number
    /// per run from a rotating cursor.
    pub(crate) fn queue_cron(&mut self, env: &Env) {
        let limit = self.idle_queue_limit(env);
        self.sweep_idle_queues(env, limit, QUEUES_PER_SWEEP);
    }

    /// Looks at up to `budget` queues and destroys the evictable ones; returns how many.
    fn sweep_idle_queues(&mut self, env: &Env, limit_s: u64, budget: usize) -> usize {
        let visits = budget.min(self.queues.len());
        let mut evicted = 0;
        for _ in 0..visits {
            let Some(name) = self.queues.next_to_sweep() else {
                break;
            };
            if self
                .queues
                .get(&name)
                .is_some_and(|q| q.is_evictable(env.now_s(), limit_s))
            {
                self.destroy_queue(&name);
                evicted += 1;
            }
        }
        evicted
    }
}
