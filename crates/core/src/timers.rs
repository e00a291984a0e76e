//! Time passing: the per-job scheduler (docs/jobs-and-ids.md §5.2), blocked client
//! timeouts and the 100 ms duties.

use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::JobId;
use crate::job::{JobState, FLAG_BCAST_WILLQUEUE, FLAG_NACK_DELAY};
use crate::node::{Count, Node};

/// Jobs processed at most per tick, so one tick never stalls the node.
const MAX_JOBS_PER_TICK: usize = 10_000;
/// Period of the idle-queue and cluster duties.
const CRON_PERIOD_MS: u64 = 100;

impl Node {
    /// Runs everything that is due at `env.now_ms`.
    pub fn on_tick(&mut self, env: &Env, fx: &mut Effects) {
        for _ in 0..MAX_JOBS_PER_TICK {
            match self.jobs.pop_due(env.now_ms) {
                Some(Some(id)) => self.process_job_timer(env, &id, fx),
                Some(None) => {} // a stale entry
                None => break,
            }
        }
        self.expire_blocked_clients(env, fx);
        self.replication_cron(env, fx);
        self.rereplication_cron(env, fx);
        if self.cron_due(env.now_ms, CRON_PERIOD_MS) {
            self.queue_cron(env);
            self.cluster_cron(env, fx);
            if self.is_leaving() {
                self.kick_blocked_getjob_clients(env, fx);
            } else {
                self.federation_cron(env, fx);
            }
        }
        self.serve_ready_queues(env, fx);
        #[cfg(debug_assertions)]
        self.debug_check();
    }

    /// The earliest time at which [`Node::on_tick`] has work (a job timer, a client
    /// deadline, the 50 ms replication retry, re-replication); the shell also ticks at least every
    /// 100 ms for the periodic duties.
    pub fn next_wakeup(&self) -> Option<u64> {
        // A stale first entry only makes the shell tick early, which drops it.
        let job = self.jobs.next_awake();
        let client = self.blocked.first_deadline().map(|d| d.0);
        let repl = self.repl.next_retry();
        let rerepl = self.next_rereplication();
        let earliest = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        earliest(earliest(job, client), earliest(repl, rerepl))
    }

    /// One job's scheduled check, steps in the order of the spec.
    fn process_job_timer(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id) else { return };
        // 1. Expiry.
        if job.etime() <= env.now_s() {
            self.unregister(id, fx);
            return;
        }
        let (state, retry, qtime) = (job.state(), job.retry(), job.qtime());
        let live = state.is_held();
        // 2. WILLQUEUE lead: tell the other holders we are about to requeue.
        if live && job.has(FLAG_BCAST_WILLQUEUE) && qtime.saturating_sub(500) <= env.now_ms {
            if state == JobState::Active {
                self.send_to_holders(id, Message::WillQueue(*id), fx);
            }
            if let Some(job) = self.jobs.get_mut(id) {
                job.willqueue_sent();
            }
        }
        // 3. Requeue an active job whose time came.
        if state == JobState::Active && qtime != 0 && qtime <= env.now_ms {
            let paused_in = self.jobs[id]
                .queue()
                .and_then(|q| self.queues.get(q))
                .is_some_and(|q| q.pause().input);
            if retry > 0 && paused_in {
                let next = self.jittered(env.now_ms, retry);
                self.jobs
                    .get_mut(id)
                    .expect("present")
                    .schedule_queueing(next);
            } else {
                // At the end of a NACK DELAY the NACK was counted already (D16).
                let count = if self.jobs[id].has(FLAG_NACK_DELAY) {
                    Count::Counted
                } else {
                    Count::Delivery
                };
                self.requeue(env, id, count, fx);
            }
        }
        // 4. Re-arm while queued: push the requeue time forward, nothing is sent.
        let job = &self.jobs[id];
        if job.state() == JobState::Queued && job.retry() > 0 && job.qtime() <= env.now_ms {
            let next = self.jittered(env.now_ms, job.retry());
            self.jobs
                .get_mut(id)
                .expect("present")
                .schedule_requeue(next);
        }
        // 5. Garbage collection of acked jobs.
        if self.jobs[id].state() == JobState::Acked {
            self.gc_attempt(id, fx);
        }
        self.reschedule(env, id);
    }
}
