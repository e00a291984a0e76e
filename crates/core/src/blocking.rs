//! Blocked clients (docs/jobs-and-ids.md §8.4): GETJOB waiting for a job, served in
//! FIFO order when jobs arrive; synchronous ADDJOB waiting for its copies;
//! timeouts, leaving mode, and cleanup when a client goes away.

use crate::blocked_clients::Blocked;
use crate::effects::{ClientId, Effects, Env};
use crate::ids::JobId;
use crate::job::Job;
use crate::job_table::JobRef;
use crate::node::Node;
use crate::reply_bytes::ReplyBytes;
use bytes::Bytes;
use disque_proto::Reply;

/// `-LEAVING ...`
fn leaving_error() -> Reply {
    Reply::error("LEAVING This node is leaving the cluster, please connect to a different one")
}

impl Node {
    /// Registers a client blocked in GETJOB on `queues`.
    pub(crate) fn block_getjob(
        &mut self,
        env: &Env,
        client: ClientId,
        mut queues: Vec<Bytes>,
        deadline: Option<u64>,
        with_counters: bool,
        fx: &mut Effects,
    ) {
        let mut seen = std::collections::HashSet::new();
        queues.retain(|q| seen.insert(q.clone()));
        for name in &queues {
            let queue = self.queue_or_create(name, env.now_s());
            if queue.add_blocked(client) {
                self.fed.set_waiting(name, true);
                self.announce_waiting(env, name, true, fx);
            }
        }
        self.blocked.block(
            client,
            Blocked::GetJob {
                queues,
                deadline,
                with_counters,
            },
        );
    }

    /// Registers a client blocked in a synchronous ADDJOB.
    pub(crate) fn block_addjob(&mut self, client: ClientId, job: JobId, deadline: Option<u64>) {
        self.blocked
            .block(client, Blocked::AddJob { job, deadline });
    }

    /// Forgets a blocked client: removes it from its queues and deadline.
    fn unblock(&mut self, env: &Env, client: ClientId, fx: &mut Effects) -> Option<Blocked> {
        let blocked = self.blocked.unblock(client)?;
        match &blocked {
            Blocked::AddJob { job, .. } => {
                self.repl.remove(job);
            }
            Blocked::GetJob { queues, .. } => {
                for name in queues {
                    let Some(queue) = self.queues.get_mut(name) else {
                        continue;
                    };
                    if !queue.remove_blocked(client) {
                        continue;
                    }
                    // The last blocked client left: other nodes stop pushing to us,
                    // and the queue is evicted at once if it is idle.
                    let evict = queue.is_evictable(env.now_s(), crate::memory::IDLE_QUEUE_LIMIT_S);
                    self.fed.set_waiting(name, false);
                    self.announce_waiting(env, name, false, fx);
                    if evict {
                        self.destroy_queue(name);
                    }
                }
            }
        }
        Some(blocked)
    }

    /// Releases an ADDJOB client whose job was deleted before replication completed.
    pub(crate) fn unblock_waiting_addjob(&mut self, client: ClientId, fx: &mut Effects) {
        if self.blocked.unblock_addjob(client) {
            fx.replies.push((client, crate::replication::job_removed()));
        }
    }

    /// A client disconnected: drop whatever it was blocked on (a waiting ADDJOB's
    /// job is deleted cluster-wide).
    pub fn client_gone(&mut self, env: &Env, client: ClientId, fx: &mut Effects) {
        if let Some(Blocked::AddJob { job, .. }) = self.unblock(env, client, fx) {
            let message = self.del_job(&job);
            self.send_to_holders(&job, message, fx);
            self.unregister(&job, fx);
        }
        #[cfg(debug_assertions)]
        self.debug_check();
    }

    /// Ends a blocked client's wait with `reply`.
    pub(crate) fn unblock_with(
        &mut self,
        env: &Env,
        client: ClientId,
        reply: Reply,
        fx: &mut Effects,
    ) {
        if self.unblock(env, client, fx).is_some() {
            fx.replies.push((client, reply));
        }
    }

    /// Times out blocked clients whose deadline passed.
    pub(crate) fn expire_blocked_clients(&mut self, env: &Env, fx: &mut Effects) {
        while let Some((deadline, client)) = self.blocked.first_deadline() {
            if deadline > env.now_ms {
                break;
            }
            // Every branch unblocks the client, which drops its deadline.
            let Some(&Blocked::AddJob { job, .. }) = self.blocked.get(client) else {
                self.unblock_with(env, client, Reply::NullArray, fx);
                continue;
            };
            let reply = Reply::error(
                "NOREPL Timeout reached before replicating to the requested number of nodes",
            );
            if self.repl.get(&job).is_some_and(|w| w.client == client) {
                self.replication_failed(env, &job, reply, fx);
            } else {
                self.unblock_with(env, client, reply, fx);
            }
        }
    }

    /// In leaving mode clients blocked in GETJOB are told to go elsewhere (those in
    /// ADDJOB are handled by the replication cron).
    pub(crate) fn kick_blocked_getjob_clients(&mut self, env: &Env, fx: &mut Effects) {
        for client in self.blocked.getjob_clients() {
            self.unblock_with(env, client, leaving_error(), fx);
        }
    }

    /// Serves clients blocked on queues that received jobs: each client gets
    /// exactly one job, in the order the clients blocked. Then the federation
    /// follow-ups: queues a fetch emptied ask for more, new jobs go to askers.
    pub(crate) fn serve_ready_queues(&mut self, env: &Env, fx: &mut Effects) {
        while let Some(name) = self.blocked.pop_ready() {
            while let Some(queue) = self.queues.get(&name) {
                if queue.pause().output || queue.is_empty() {
                    break;
                }
                let Some(&client) = queue.blocked().front() else {
                    break;
                };
                let Some(Blocked::GetJob { with_counters, .. }) = self.blocked.get(client) else {
                    // Stale entry: remove it and go on.
                    if let Some(q) = self.queues.get_mut(&name) {
                        q.drop_first_blocked();
                    }
                    continue;
                };
                let with_counters = *with_counters;
                let Some((job, _)) = self.fetch_entry(env, &name) else {
                    break;
                };
                let entry = self.job_entry_at(job, with_counters);
                self.unblock_with(env, client, Reply::Array(vec![entry]), fx);
            }
        }
        for queue in self.fed.take_reached_zero() {
            self.need_jobs(env, &queue, crate::federation::NeedReason::ReachedZero, fx);
        }
        if self.fed.has_push_candidates() {
            self.push_to_askers(env, fx);
        }
    }

    /// Wakes every blocked GETJOB client with `reply` (DEBUG FLUSHALL, CLUSTER RESET).
    pub(crate) fn unblock_all(&mut self, env: &Env, reply: Reply, fx: &mut Effects) {
        for client in self.blocked.clients() {
            self.unblock_with(env, client, reply.clone(), fx);
        }
    }

    /// `[queue, id, body]` or, with counters, `[..., "nacks", n, "additional-deliveries", n]`.
    pub(crate) fn job_entry(&mut self, id: &JobId, with_counters: bool) -> Reply {
        self.jobs
            .job_ref(id)
            .map_or(Reply::Nil, |r| self.job_entry_at(r, with_counters))
    }

    /// [`Node::job_entry`] for the job a handle names.
    pub(crate) fn job_entry_at(&mut self, r: JobRef, with_counters: bool) -> Reply {
        self.jobs.resolve(r).map_or(Reply::Nil, |job| {
            Self::entry_of(&mut self.replies, job, with_counters)
        })
    }

    fn entry_of(replies: &mut ReplyBytes, job: &Job, with_counters: bool) -> Reply {
        let mut entry = replies.array();
        entry.extend([
            job.queue_bytes()
                .map_or(Reply::Nil, |q| Reply::Bulk(q.clone())),
            Reply::Bulk(replies.copy(job.id().as_bytes())),
            job.body()
                .as_ref()
                .map_or(Reply::Nil, |b| Reply::Bulk(replies.copy(b))),
        ]);
        if with_counters {
            entry.extend([
                Reply::Bulk(Bytes::from_static(b"nacks")),
                Reply::Integer(job.nacks() as i64),
                Reply::Bulk(Bytes::from_static(b"additional-deliveries")),
                Reply::Integer(job.additional_deliveries() as i64),
            ]);
        }
        Reply::Array(entry)
    }
}
