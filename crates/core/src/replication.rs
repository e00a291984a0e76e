//! Job replication (docs/cluster.md §6): synchronous ADDJOB, REPLJOB/GOTJOB,
//! external replication and the ENQUEUE message.

use crate::cluster::message::{Frame, Message};
use crate::effects::{ClientId, Effects, Env};
use crate::ids::{JobId, NodeId, ID_LEN};
use crate::job::{Job, JobState, FLAG_NACK_DELAY, FLAG_REREPLICATED};
use crate::job_codec::{self, Form};
use crate::job_table::JobRef;
use crate::node::Node;
use crate::repl_waiters::ReplWait;
use crate::requeue::News;
use bytes::{Bytes, BytesMut};
use disque_proto::Reply;
use rand::seq::SliceRandom;
use smallvec::SmallVec;

/// `-NOREPL job removed (expired?) ...`
pub(crate) fn job_removed() -> Reply {
    Reply::error(
        "NOREPL job removed (expired?) before the requested replication level was achieved",
    )
}

impl Node {
    /// The message-form serialization of a job.
    pub(crate) fn serialize_for_bus(&self, job: &Job, now_ms: u64) -> Bytes {
        let mut out = BytesMut::new();
        job_codec::encode(job, Form::Message, now_ms, &mut out);
        out.freeze()
    }

    /// Adds up to `n` reachable nodes with a link to the job's holders, then sends
    /// REPLJOB to the holders (docs/cluster.md §6.1). Returns how many were added.
    pub(crate) fn replicate(
        &mut self,
        env: &Env,
        id: &JobId,
        n: usize,
        no_reply: bool,
        fx: &mut Effects,
    ) -> usize {
        let mut candidates: SmallVec<[NodeId; 16]> =
            self.cluster.reachable().iter().copied().collect();
        candidates.shuffle(&mut self.rng);
        // One lookup: the rest works by handle.
        let Some(entry) = self.jobs.job_ref(id) else {
            return 0;
        };
        let job = self.jobs.resolve(entry).expect("just found");
        let mut chosen: SmallVec<[NodeId; 8]> = SmallVec::new();
        for node in candidates {
            if chosen.len() == n {
                break;
            }
            let linked = self.cluster.peer(&node).is_some_and(|p| p.link.is_some());
            if linked && !job.nodes_delivered().contains(&node) {
                chosen.push(node);
            }
        }
        let added = self.jobs.add_holders(entry, &chosen);
        self.send_repljob(entry, env.now_ms, added > 0, no_reply, fx);
        added
    }

    /// The REPLJOB frame of the job `entry` names, the job serialized
    /// straight into it.
    fn repljob_frame(&self, entry: JobRef, no_reply: bool, now_ms: u64) -> Bytes {
        let job = self.jobs.resolve(entry).expect("the job being replicated");
        let size = job.body().map_or(0, |b| b.len())
            + job.queue_bytes().map_or(0, |q| q.len())
            + ID_LEN * job.nodes_delivered().len()
            + 128;
        Frame::repljob(self.sender_header(), no_reply, size, |out| {
            job_codec::encode(job, Form::Message, now_ms, out)
        })
    }

    fn send_repljob(
        &mut self,
        entry: JobRef,
        now_ms: u64,
        include_confirmed: bool,
        no_reply: bool,
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.resolve(entry) else {
            return;
        };
        let confirmed = job.nodes_confirmed().unwrap_or_default();
        // Nodes that confirmed only learn the new holder list, without replying.
        let others = job.nodes_delivered().iter().filter(|n| **n != self.id());
        let (done, pending): (SmallVec<[NodeId; 8]>, SmallVec<[NodeId; 8]>) =
            if confirmed.is_empty() {
                (SmallVec::new(), others.copied().collect())
            } else {
                others.copied().partition(|n| confirmed.contains(n))
            };
        if include_confirmed {
            self.send_frame_many(&done, |node| node.repljob_frame(entry, true, now_ms), fx);
        }
        // One encoded frame shared by every target: the body is never copied per replica.
        self.send_frame_many(
            &pending,
            |node| node.repljob_frame(entry, no_reply, now_ms),
            fx,
        );
    }

    /// Starts a synchronous ADDJOB: the job waits in `wait-repl` and the client blocks.
    pub(crate) fn start_sync_replication(
        &mut self,
        env: &Env,
        client: ClientId,
        id: JobId,
        external: bool,
        deadline: Option<u64>,
        fx: &mut Effects,
    ) {
        let myself = self.id();
        let needed = {
            let job = self.jobs.get_mut(&id).expect("just registered");
            job.wait_for_copies(if external { Vec::new() } else { vec![myself] });
            job.repl() as usize - usize::from(!external)
        };
        self.replicate(env, &id, needed, false, fx);
        let wait = ReplWait::new(client, external, self.is_leaving(), env.now_ms);
        self.repl.insert(id, wait);
        self.block_addjob(client, id, deadline);
    }

    /// ASYNC ADDJOB replication: REPLJOB without replies; with external replication
    /// one of the targets is also told to queue it.
    pub(crate) fn replicate_async(
        &mut self,
        env: &Env,
        id: &JobId,
        external: bool,
        fx: &mut Effects,
    ) {
        let repl = self.jobs[id].repl() as usize;
        self.replicate(env, id, if external { repl } else { repl - 1 }, true, fx);
        if external {
            let delay = self.jobs[id].delay();
            self.enqueue_elsewhere(id, delay, fx);
            self.forget_job(id, fx);
        }
    }

    /// Sends ENQUEUE to one random other holder (external replication): after a
    /// synchronous ADDJOB one that confirmed its copy, after an ASYNC one any target.
    fn enqueue_elsewhere(&mut self, id: &JobId, delay: u32, fx: &mut Effects) {
        let job = &self.jobs[id];
        let holders: Vec<NodeId> = job
            .nodes_confirmed()
            .map_or(&job.nodes_delivered()[..], |c| c)
            .iter()
            .filter(|n| **n != self.id())
            .copied()
            .collect();
        if let Some(target) = holders.choose(&mut self.rng).copied() {
            self.send(&target, Message::Enqueue { id: *id, delay }, fx);
        }
    }

    /// Drops a job record without any client notice or AOF record.
    fn forget_job(&mut self, id: &JobId, fx: &mut Effects) {
        self.repl.remove(id);
        self.unregister(id, fx);
    }

    /// Enough copies exist: answer the client, then queue, schedule or hand off the job.
    pub(crate) fn replication_achieved(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        let Some(wait) = self.repl.remove(id) else {
            return;
        };
        let reply = Reply::Status(self.replies.copy(id.as_bytes()));
        self.unblock_with(env, wait.client, reply, fx);
        if wait.external {
            let delay = self.jobs[id].delay();
            // Nodes that confirmed early may know fewer holders than were asked
            // since; this node forgets the job now, so it tells them the whole
            // list first (an ack on any holder must reach every copy).
            let holders = self.jobs[id].nodes_delivered().clone();
            let others: Vec<NodeId> = holders
                .iter()
                .filter(|n| **n != self.id())
                .copied()
                .collect();
            let message = Message::Holders {
                id: *id,
                nodes: holders.to_vec(),
            };
            self.send_many(&others, message, fx);
            // A holder with no link up now is told when its link comes up.
            self.note_untold_news(id, News::Holders(holders), &others);
            self.enqueue_elsewhere(id, delay, fx);
            self.unregister(id, fx);
            return;
        }
        let job = self.jobs.get_mut(id).expect("waiting job exists");
        job.copies_achieved();
        let delay = job.delay();
        if delay > 0 {
            job.schedule_queueing(job.ctime_ms() + delay as u64 * 1000);
            self.reschedule(env, id);
        } else if job.has(FLAG_NACK_DELAY) && job.qtime() > env.now_ms {
            // Another holder queued it meanwhile and a consumer NACKed it with
            // a delay (D16): it is requeued when the delay ends, not now.
            self.reschedule(env, id);
        } else {
            self.enqueue(env, id, false, fx);
        }
        self.log_loadjob(id, fx);
    }

    /// Fails a synchronous ADDJOB: the client gets `reply`, every copy is deleted.
    pub(crate) fn replication_failed(
        &mut self,
        env: &Env,
        id: &JobId,
        reply: Reply,
        fx: &mut Effects,
    ) {
        let Some(wait) = self.repl.remove(id) else {
            return;
        };
        self.unblock_with(env, wait.client, reply, fx);
        let message = self.del_job(id);
        self.send_to_holders(id, message, fx);
        self.unregister(id, fx);
    }

    /// The client-cron duty of waiting ADDJOBs: add one more node every 50 ms,
    /// give up at the deadline or when this node is leaving.
    pub(crate) fn replication_cron(&mut self, env: &Env, fx: &mut Effects) {
        for id in self.repl.ids() {
            if self.is_leaving() && self.repl.get(&id).is_some_and(|w| !w.started_leaving) {
                let reply = Reply::error(
                    "LEAVING This node is leaving the cluster, please connect to a different one",
                );
                self.replication_failed(env, &id, reply, fx);
                continue;
            }
            // An ACKJOB may have acknowledged the waiting job: its client just waits
            // for the timeout, and the job must not be sent around again.
            if !self.jobs.waits_for_copies(&id) || !self.repl.is_due(&id, env.now_ms) {
                continue;
            }
            let added = self.replicate(env, &id, 1, false, fx);
            self.repl.tried(&id, env.now_ms, added > 0);
        }
        let jobs = &self.jobs;
        self.repl.plan_retries(|id| jobs.waits_for_copies(id));
    }

    // ----- receiving ---------------------------------------------------------

    /// REPLJOB: store a copy (unless under memory pressure, leaving, or the queue
    /// is paused in input) and confirm with GOTJOB. For a copy held here,
    /// learn the holders, and follow a move to the dead-letter queue (D17)
    /// that the sender made and this node missed, as YOURJOBS does.
    pub(crate) fn on_repljob(
        &mut self,
        env: &Env,
        from: NodeId,
        payload: &Bytes,
        no_reply: bool,
        fx: &mut Effects,
    ) {
        let Ok(decoded) = job_codec::decode_named(payload, Form::Message, env.now_ms, |name| {
            self.queue_name(name)
        }) else {
            return;
        };
        let (nodes, doubted) =
            self.credible_holders(env, &from, decoded.job.ctime_ms(), &decoded.nodes);
        let mut job = decoded.job;
        let id = job.id();
        let mut confirm = !no_reply;
        if let Some(existing) = self.jobs.get_mut(&id) {
            // A copy we hold: learn the new holder list (even when refusing new
            // copies). The copy of an ADDJOB still replicating here is not
            // logged yet: it is not confirmed as a copy that survives a crash
            // (as for HASJOB).
            confirm &= existing.state() != JobState::WaitRepl;
            for node in nodes {
                existing.add_delivered(node);
            }
            if doubted {
                existing.mark_rereplicated();
            }
            // The sender may have moved it to its dead-letter queue (D17).
            if let Some(queue) = job.queue_bytes() {
                self.follow_dead_letter_move(&id, queue, fx);
            }
        } else {
            let paused = job
                .queue()
                .and_then(|q| self.queues.get(q))
                .is_some_and(|q| q.pause().input);
            if self.memory_warning_level(env) >= 1
                || self.is_leaving()
                || paused
                || self.awaits_emptied_ack(&from)
            {
                return;
            }
            job.become_copy(self.holders_with_me(nodes));
            job.start_as_replica();
            let rereplicated = job.has(FLAG_REREPLICATED);
            if doubted {
                job.mark_rereplicated();
            }
            self.arm_replica_timer(env, &mut job);
            job.honour_nack_delay(decoded.nack_delay_until);
            self.register(env, job);
            self.log_loadjob(&id, fx);
            if !no_reply {
                self.send(&from, Message::GotJob(id), fx);
            }
            // A copy made by re-replication tells the other holders about
            // itself: the node that made it may not live to do so (D8).
            if rereplicated && !no_reply && self.config().rereplicate {
                self.start_announcement(env, &id, &[from], fx);
            }
            return;
        }
        if confirm {
            self.send(&from, Message::GotJob(id), fx);
        }
    }

    /// A replica's first requeue comes DELAY + RETRY (± jitter) after receipt;
    /// for a copy of a job whose delay is over (re-replication), RETRY after it.
    pub(crate) fn arm_replica_timer(&mut self, env: &Env, job: &mut Job) {
        if job.retry() > 0 {
            let delay_over = job.ctime_ms() + job.delay() as u64 * 1000 < env.now_ms;
            let delay = if delay_over { 0 } else { job.delay() as u64 };
            job.schedule_requeue(self.jittered(env.now_ms + delay * 1000, job.retry()));
        } else {
            job.schedule_queueing(0);
        }
    }

    /// True for this node and every node in the membership table.
    pub(crate) fn is_known_node(&self, node: &NodeId) -> bool {
        *node == self.id() || self.cluster.knows(node)
    }

    /// GOTJOB: one more confirmation for a waiting ADDJOB.
    pub(crate) fn on_gotjob(&mut self, env: &Env, from: NodeId, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state() != JobState::WaitRepl {
            self.on_rereplication_gotjob(env, from, id, fx);
            return;
        }
        job.confirm(from);
        if job.confirmed_count() >= job.repl() as usize {
            self.replication_achieved(env, id, fx);
        }
    }

    /// A job whose ADDJOB still waits here for its copies becomes an ordinary
    /// copy another way (ENQUEUE, or YOURJOBS from a holder that queued it):
    /// it is logged now, as [`Node::replication_achieved`] would have done, so
    /// that what this node confirms of it (GOTJOB, QUEUED) survives a crash.
    pub(crate) fn stop_waiting_for_copies(&mut self, id: &JobId, fx: &mut Effects) {
        if let Some(job) = self
            .jobs
            .get_mut(id)
            .filter(|j| j.state() == JobState::WaitRepl)
        {
            job.end_wait_for_copies();
            self.log_loadjob(id, fx);
        }
    }

    /// ENQUEUE: queue our copy (after `delay`), this queueing counting as the first.
    ///
    /// Decision D3: an at-most-once job is queued on its first ENQUEUE (the original
    /// refused it, so such jobs were never delivered); its DELIVERED flag still
    /// forbids any second delivery.
    pub(crate) fn on_enqueue_message(
        &mut self,
        env: &Env,
        id: &JobId,
        delay: u32,
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.get(id) else { return };
        if !matches!(job.state(), JobState::WaitRepl | JobState::Active) {
            return;
        }
        if job
            .queue()
            .and_then(|q| self.queues.get(q))
            .is_some_and(|q| q.pause().input)
        {
            return;
        }
        self.stop_waiting_for_copies(id, fx);
        let job = self.jobs.get_mut(id).expect("checked");
        job.next_queueing_is_first();
        if job.retry() == 0 {
            job.schedule_queueing(env.now_ms + delay as u64 * 1000);
        }
        if delay == 0 {
            self.enqueue(env, id, false, fx);
        } else {
            if job.retry() > 0 {
                job.schedule_queueing(env.now_ms + delay as u64 * 1000);
            }
            self.reschedule(env, id);
        }
    }
}
