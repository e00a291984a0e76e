//! Federation (docs/cluster.md §9): a node whose consumers wait on an empty queue asks
//! other nodes for jobs (NEEDJOBS) and they hand some over (YOURJOBS).
//!
//! Decision D9: a node whose consumers block on a queue tells every node
//! (WAITING, an addition to the original protocol), and tells them again when
//! the last one stops waiting. A node that queues a job nobody waits for
//! locally sends it at once to a node that has waiting consumers, so they get
//! it within a round trip instead of at the next (backed-off) NEEDJOBS.
//! Decision D2: a job received through YOURJOBS whose local record is acked is
//! not queued again; the sender is told with SETACK.
//! Decision D4: an imported job new to this node is written to the AOF.

use crate::cluster::message::{Message, MAX_FRAME};
use crate::effects::{Effects, Env};
use crate::ids::NodeId;
use crate::job::JobState;
use crate::job_codec::{self, Form};
use crate::node::Node;
use bytes::Bytes;

pub use crate::federation_state::{NeedReason, QueueFederation};

impl Node {
    /// Asks other nodes for jobs of `queue`, subject to the back-offs (§9.1).
    pub(crate) fn need_jobs(
        &mut self,
        env: &Env,
        queue: &Bytes,
        reason: NeedReason,
        fx: &mut Effects,
    ) {
        if self.is_leaving() || self.cluster.peer_count() == 0 {
            return;
        }
        let linked = self.linked_nodes();
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        let Some(plan) = q.federation_mut().plan_need(env.now_ms, reason) else {
            return;
        };
        if plan.broadcast {
            self.send_many(
                &linked,
                Message::NeedJobs {
                    queue: queue.clone(),
                    count: 1,
                },
                fx,
            );
        }
        if !plan.responders.is_empty() {
            self.send_many(
                &plan.responders,
                Message::NeedJobs {
                    queue: queue.clone(),
                    count: plan.count,
                },
                fx,
            );
        }
    }

    /// The client-cron duty: keep asking for queues that have blocked clients.
    pub(crate) fn federation_cron(&mut self, env: &Env, fx: &mut Effects) {
        self.fed.expire_askers(env.now_ms);
        for queue in self.fed.waiting_queues() {
            self.need_jobs(env, &queue, NeedReason::ClientsWaiting, fx);
            let stale = self
                .queues
                .get(&queue)
                .is_some_and(|q| q.federation().waiting_notice_due(env.now_ms));
            if stale {
                self.announce_waiting(env, &queue, true, fx);
            }
        }
    }

    /// Tells every node that consumers started (or stopped) waiting on `queue`
    /// here, so that they push new jobs at once, or stop (decision D9).
    pub(crate) fn announce_waiting(
        &mut self,
        env: &Env,
        queue: &Bytes,
        waiting: bool,
        fx: &mut Effects,
    ) {
        if self.cluster.peer_count() == 0 || (waiting && self.is_leaving()) {
            return;
        }
        if let Some(q) = self.queues.get_mut(queue) {
            q.federation_mut().note_waiting_notice(env.now_ms);
        }
        let targets = self.linked_nodes();
        self.send_many(
            &targets,
            Message::Waiting {
                queue: queue.clone(),
                waiting,
            },
            fx,
        );
    }

    /// WAITING: remember (or forget) that `from` has consumers blocked on `queue`.
    pub(crate) fn on_waiting(&mut self, env: &Env, from: NodeId, queue: Bytes, waiting: bool) {
        if waiting {
            self.fed.note_asker(queue, from, env.now_ms);
        } else {
            self.fed.forget_asker(&queue, &from);
        }
    }

    /// NEEDJOBS: hand over up to half of the queue (at least one job), unless this
    /// node imports the queue itself or it is paused in output.
    pub(crate) fn on_needjobs(
        &mut self,
        env: &Env,
        from: NodeId,
        queue: &Bytes,
        count: u32,
        fx: &mut Effects,
    ) {
        let Some(q) = self.queues.get(queue) else {
            return;
        };
        if q.is_empty() || q.federation().import_rate(env.now_ms) > 0 || q.pause().output {
            return;
        }
        let len = q.len();
        let count = count as usize;
        let n = if len < 2 * count { len / 2 } else { count }.max(1);
        self.hand_over(env, from, queue, n, fx);
    }

    /// Fetches `n` jobs of `queue` and sends them to `to` in YOURJOBS, as many
    /// frames as the bus frame limit needs; at-most-once jobs are then deleted
    /// here (they must exist in one place only).
    ///
    /// Nothing moves without a connected link to `to`: the jobs would leave the
    /// queue (at-most-once ones would be deleted) for a message that is dropped.
    fn hand_over(&mut self, env: &Env, to: NodeId, queue: &Bytes, n: usize, fx: &mut Effects) {
        if !self.cluster.peer(&to).is_some_and(|p| p.link_up) {
            return;
        }
        let mut payloads = Vec::with_capacity(n);
        let mut moved_at_most_once = Vec::new();
        for _ in 0..n {
            let Some(id) = self.fetch(env, queue) else {
                break;
            };
            let job = &self.jobs[&id];
            payloads.push(self.serialize_for_bus(job, env.now_ms));
            if job.retry() == 0 {
                moved_at_most_once.push(id);
            }
        }
        if payloads.is_empty() {
            return;
        }
        for message in Message::your_jobs(payloads, MAX_FRAME) {
            self.send(&to, message, fx);
        }
        for id in moved_at_most_once {
            self.unregister(&id, fx);
        }
    }

    /// D9: queues that received jobs while another node's consumers wait for them
    /// push one job to the most recent asker, if no local consumer wants it.
    pub(crate) fn push_to_askers(&mut self, env: &Env, fx: &mut Effects) {
        for queue in self.fed.take_push_candidates() {
            let Some(q) = self.queues.get(&queue) else {
                continue;
            };
            if q.is_empty()
                || !q.blocked().is_empty()
                || q.pause().output
                || q.federation().import_rate(env.now_ms) > 0
            {
                continue;
            }
            let asker = self.fed.latest_asker(&queue, |n| {
                self.cluster.reachable().contains(n)
                    && self.cluster.peer(n).is_some_and(|p| p.link_up)
            });
            if let Some(asker) = asker {
                self.hand_over(env, asker, &queue, 1, fx);
            }
        }
    }

    /// YOURJOBS: queue the received jobs here (§9.3).
    pub(crate) fn on_yourjobs(
        &mut self,
        env: &Env,
        from: NodeId,
        payloads: &[Bytes],
        fx: &mut Effects,
    ) {
        for payload in payloads {
            let Ok(decoded) = job_codec::decode_named(payload, Form::Message, env.now_ms, |name| {
                self.queue_name(name)
            }) else {
                return;
            };
            let id = decoded.job.id();
            let Some(queue) = decoded.job.queue_bytes().cloned() else {
                return;
            };
            match self.jobs.get(&id).map(|j| j.state()) {
                Some(JobState::Acked) => {
                    let message = self.set_ack(&id);
                    self.send(&from, message, fx);
                    continue;
                }
                Some(_) => {
                    self.stop_waiting_for_copies(&id, fx);
                    // The sender may have moved it to its dead-letter queue (D17).
                    self.follow_dead_letter_move(&id, &queue, fx);
                }
                None => {
                    let (nodes, doubted) =
                        self.credible_holders(env, &from, decoded.job.ctime_ms(), &decoded.nodes);
                    let mut job = decoded.job;
                    job.become_copy(self.jobs.holders(&nodes));
                    if doubted {
                        job.mark_rereplicated();
                        // An empty list would mark a dummy ACK: the sender
                        // keeps the job, so it is listed then.
                        if job.nodes_delivered().is_empty() {
                            job.add_delivered(from);
                        }
                    }
                    self.arm_replica_timer(env, &mut job);
                    self.register(env, job);
                    self.log_loadjob(&id, fx);
                }
            }
            let job = self.jobs.get_mut(&id).expect("present");
            job.next_queueing_is_first();
            if job.retry() == 0 {
                job.schedule_queueing(env.now_ms);
            }
            if !self.enqueue(env, &id, false, fx) {
                continue;
            }
            let q = self.queue_or_create(&queue, env.now_s());
            q.federation_mut().note_import(from, env.now_ms);
        }
    }
}
