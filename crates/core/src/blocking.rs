//! Clients blocked in GETJOB: registration, FIFO serving when jobs arrive,
//! timeouts, and cleanup when they go away (jobs-and-ids.md §8.4).

use crate::effects::{ClientId, Effects, Env};
use crate::ids::JobId;
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

/// Why a client is blocked.
#[derive(Debug)]
pub enum Blocked {
    /// GETJOB waiting for a job on any of these queues.
    GetJob {
        /// The queues, duplicates removed.
        queues: Vec<Bytes>,
        /// Absolute ms deadline, if any.
        deadline: Option<u64>,
        /// Reply with counters.
        with_counters: bool,
    },
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
    ) {
        let mut seen = std::collections::HashSet::new();
        queues.retain(|q| seen.insert(q.clone()));
        for name in &queues {
            self.queue_or_create(name, env.now_s())
                .blocked
                .push_back(client);
        }
        if let Some(deadline) = deadline {
            self.client_deadlines.insert((deadline, client));
        }
        self.blocked.insert(
            client,
            Blocked::GetJob {
                queues,
                deadline,
                with_counters,
            },
        );
    }

    /// Forgets a blocked client: removes it from its queues and deadline.
    fn unblock(&mut self, env: &Env, client: ClientId) -> Option<Blocked> {
        let blocked = self.blocked.remove(&client)?;
        let Blocked::GetJob {
            queues, deadline, ..
        } = &blocked;
        if let Some(deadline) = deadline {
            self.client_deadlines.remove(&(*deadline, client));
        }
        for name in queues {
            let Some(queue) = self.queues.get_mut(name) else {
                continue;
            };
            queue.blocked.retain(|c| *c != client);
            // The last blocked client left: evict the queue at once if it is idle.
            if queue.blocked.is_empty()
                && queue.is_evictable(env.now_s(), crate::memory::IDLE_QUEUE_LIMIT_S)
            {
                self.destroy_queue(name);
            }
        }
        Some(blocked)
    }

    /// A client disconnected: drop whatever it was blocked on.
    pub fn client_gone(&mut self, env: &Env, client: ClientId, _fx: &mut Effects) {
        self.unblock(env, client);
    }

    /// Ends a blocked client's wait with `reply`.
    pub(crate) fn unblock_with(
        &mut self,
        env: &Env,
        client: ClientId,
        reply: Reply,
        fx: &mut Effects,
    ) {
        if self.unblock(env, client).is_some() {
            fx.replies.push((client, reply));
        }
    }

    /// Times out blocked clients whose deadline passed.
    pub(crate) fn expire_blocked_clients(&mut self, env: &Env, fx: &mut Effects) {
        while let Some(&(deadline, client)) = self.client_deadlines.first() {
            if deadline > env.now_ms {
                break;
            }
            self.unblock_with(env, client, Reply::NullArray, fx);
        }
    }

    /// Serves clients blocked on queues that received jobs: each client gets
    /// exactly one job, in the order the clients blocked.
    pub(crate) fn serve_ready_queues(&mut self, env: &Env, fx: &mut Effects) {
        while let Some(name) = self.ready_queues.pop() {
            while let Some(queue) = self.queues.get(&name) {
                if queue.pause.output || queue.is_empty() {
                    break;
                }
                let Some(&client) = queue.blocked.front() else {
                    break;
                };
                let Some(Blocked::GetJob { with_counters, .. }) = self.blocked.get(&client) else {
                    // Stale entry: remove it and go on.
                    self.queues.get_mut(&name).map(|q| q.blocked.pop_front());
                    continue;
                };
                let with_counters = *with_counters;
                let Some(id) = self.fetch(env, &name) else {
                    break;
                };
                let entry = self.job_entry(&id, with_counters);
                self.unblock_with(env, client, Reply::Array(vec![entry]), fx);
            }
        }
    }

    /// Wakes every blocked client with `reply` (DEBUG FLUSHALL, CLUSTER RESET, leaving).
    pub(crate) fn unblock_all(&mut self, env: &Env, reply: Reply, fx: &mut Effects) {
        let clients: Vec<ClientId> = self.blocked.keys().copied().collect();
        for client in clients {
            self.unblock_with(env, client, reply.clone(), fx);
        }
    }

    /// `[queue, id, body]` or, with counters, `[..., "nacks", n, "additional-deliveries", n]`.
    pub(crate) fn job_entry(&self, id: &JobId, with_counters: bool) -> Reply {
        let Some(job) = self.jobs.get(id) else {
            return Reply::Nil;
        };
        let mut entry = vec![
            job.queue.clone().map_or(Reply::Nil, Reply::Bulk),
            Reply::bulk_from(id.as_bytes()),
            job.body.clone().map_or(Reply::Nil, Reply::Bulk),
        ];
        if with_counters {
            entry.extend([
                Reply::Bulk(Bytes::from_static(b"nacks")),
                Reply::Integer(job.nacks as i64),
                Reply::Bulk(Bytes::from_static(b"additional-deliveries")),
                Reply::Integer(job.additional_deliveries as i64),
            ]);
        }
        Reply::Array(entry)
    }
}
