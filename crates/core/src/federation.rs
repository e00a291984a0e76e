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
use crate::job::{JobState, FLAG_BCAST_QUEUED, FLAG_REREPLICATED};
use crate::job_codec::{self, Form};
use crate::node::Node;
use bytes::Bytes;
use std::collections::BTreeMap;

/// Responders not heard from for this long are forgotten.
const RESPONDER_VALIDITY_MS: u64 = 5_000;
/// How long a WAITING notice makes this node push new jobs to its sender (D9),
/// unless renewed (every [`WAITING_REFRESH_MS`] while consumers wait) or withdrawn.
const ASKER_VALIDITY_MS: u64 = 35_000;
/// How often a node with blocked consumers repeats its WAITING notice.
const WAITING_REFRESH_MS: u64 = 10_000;

/// Per-queue federation state.
#[derive(Debug, Default)]
pub struct QueueFederation {
    last_bcast: u64,
    bcast_attempt: u32,
    last_adhoc: u64,
    adhoc_attempt: u32,
    /// Nodes that recently sent jobs for this queue, with when.
    pub responders: BTreeMap<NodeId, u64>,
    /// When this node last announced its waiting consumers (D9).
    last_waiting_notice: u64,
    cur_start: u64,
    cur_count: u64,
    prev_start: u64,
    prev_count: u64,
}

impl QueueFederation {
    /// Jobs per second imported recently (0 after 5 s without imports).
    pub fn import_rate(&self, now_ms: u64) -> u64 {
        if self.cur_count == 0 || now_ms.saturating_sub(self.cur_start) > 5_000 {
            return 0;
        }
        let since = if self.prev_count > 0 {
            self.prev_start
        } else {
            self.cur_start
        };
        let elapsed = now_ms.saturating_sub(since).max(50);
        ((self.prev_count + self.cur_count) * 1000).div_ceil(elapsed)
    }

    fn count_import(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.cur_start) > 1_000 {
            self.prev_start = self.cur_start;
            self.prev_count = self.cur_count;
            self.cur_start = now_ms;
            self.cur_count = 0;
        }
        self.cur_count += 1;
    }
}

/// Why a node asks for jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeedReason {
    /// Consumers are waiting (GETJOB found the queue empty, blocked clients).
    ClientsWaiting,
    /// A fetch just emptied the queue.
    ReachedZero,
}

impl Node {
    /// Asks other nodes for jobs of `queue`, subject to the back-offs (§9.1).
    pub(crate) fn need_jobs(
        &mut self,
        env: &Env,
        queue: &Bytes,
        reason: NeedReason,
        fx: &mut Effects,
    ) {
        if self.leaving || self.cluster.peers.is_empty() {
            return;
        }
        let now = env.now_ms;
        let linked = self.linked_nodes();
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        let fed = &mut q.federation;
        let rate = fed.import_rate(now);
        if reason == NeedReason::ReachedZero && rate == 0 {
            return;
        }
        fed.responders
            .retain(|_, seen| now.saturating_sub(*seen) <= RESPONDER_VALIDITY_MS);
        let responders: Vec<NodeId> = fed.responders.keys().copied().collect();
        let to_fetch = if responders.is_empty() {
            5
        } else {
            rate / responders.len() as u64
        }
        .clamp(5, 100) as u32;
        let bcast_wait = (2_000u64 << fed.bcast_attempt.min(5)).min(30_000);
        let bcast = now.saturating_sub(fed.last_bcast) > bcast_wait;
        if bcast {
            fed.last_bcast = now;
            fed.bcast_attempt += 1;
        }
        let adhoc_wait = (25u64 << fed.adhoc_attempt.min(7)).min(2_000);
        let adhoc = !responders.is_empty()
            && (reason == NeedReason::ReachedZero
                || now.saturating_sub(fed.last_adhoc) > adhoc_wait);
        if adhoc {
            fed.last_adhoc = now;
            fed.adhoc_attempt += 1;
        }
        if bcast {
            self.send_many(
                &linked,
                Message::NeedJobs {
                    queue: queue.clone(),
                    count: 1,
                },
                fx,
            );
        }
        if adhoc {
            self.send_many(
                &responders,
                Message::NeedJobs {
                    queue: queue.clone(),
                    count: to_fetch,
                },
                fx,
            );
        }
    }

    /// The client-cron duty: keep asking for queues that have blocked clients.
    pub(crate) fn federation_cron(&mut self, env: &Env, fx: &mut Effects) {
        let now = env.now_ms;
        self.askers.retain(|_, nodes| {
            nodes.retain(|_, at| now.saturating_sub(*at) <= ASKER_VALIDITY_MS);
            !nodes.is_empty()
        });
        let waiting: Vec<Bytes> = self.waiting_queues.iter().cloned().collect();
        for queue in waiting {
            self.need_jobs(env, &queue, NeedReason::ClientsWaiting, fx);
            let stale = self.queues.get(&queue).is_some_and(|q| {
                now.saturating_sub(q.federation.last_waiting_notice) >= WAITING_REFRESH_MS
            });
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
        if self.cluster.peers.is_empty() || (waiting && self.leaving) {
            return;
        }
        if let Some(q) = self.queues.get_mut(queue) {
            q.federation.last_waiting_notice = env.now_ms;
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
            // Jobs already queued here with nobody waiting for them go at once.
            self.push_candidates.push(queue.clone());
            self.askers
                .entry(queue)
                .or_default()
                .insert(from, env.now_ms);
        } else if let Some(nodes) = self.askers.get_mut(&queue) {
            nodes.remove(&from);
            if nodes.is_empty() {
                self.askers.remove(&queue);
            }
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
        if q.is_empty() || q.federation.import_rate(env.now_ms) > 0 || q.pause.output {
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
        if !self.cluster.peers.get(&to).is_some_and(|p| p.link_up) {
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
            if job.retry == 0 {
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
        let candidates = std::mem::take(&mut self.push_candidates);
        for queue in candidates {
            let Some(q) = self.queues.get(&queue) else {
                continue;
            };
            if q.is_empty()
                || !q.blocked.is_empty()
                || q.pause.output
                || q.federation.import_rate(env.now_ms) > 0
            {
                continue;
            }
            let asker = self.askers.get(&queue).and_then(|nodes| {
                nodes
                    .iter()
                    .filter(|(n, _)| {
                        self.cluster.reachable.contains(n)
                            && self.cluster.peers.get(n).is_some_and(|p| p.link_up)
                    })
                    .max_by_key(|(_, at)| **at)
                    .map(|(n, _)| *n)
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
            let Ok(decoded) = job_codec::decode(payload, Form::Message, env.now_ms) else {
                return;
            };
            let id = decoded.job.id;
            let Some(queue) = decoded.job.queue.clone() else {
                return;
            };
            match self.jobs.get(&id).map(|j| j.state) {
                Some(JobState::Acked) => {
                    let message = self.set_ack(&id);
                    self.send(&from, message, fx);
                    continue;
                }
                Some(_) => {
                    // The sender moved it to its dead-letter queue (D17): so do we.
                    let moved_there = self
                        .jobs
                        .get(&id)
                        .is_some_and(|j| j.dead_letter.as_ref().is_some_and(|d| d.queue == queue));
                    if moved_there && self.move_to_dead_letter(&id) {
                        self.log_changed(&id, fx);
                    }
                }
                None => {
                    let (nodes, doubted) =
                        self.credible_holders(env, &from, decoded.job.ctime_ms(), &decoded.nodes);
                    let mut job = decoded.job;
                    job.state = JobState::Active;
                    job.nodes_delivered = nodes.into();
                    if doubted {
                        job.flags |= FLAG_REREPLICATED;
                        // An empty list would mark a dummy ACK: the sender
                        // keeps the job, so it is listed then.
                        if job.nodes_delivered.is_empty() {
                            job.nodes_delivered.push(from);
                        }
                    }
                    self.arm_replica_timer(env, &mut job);
                    self.register(env, job);
                    self.log_loadjob(&id, fx);
                }
            }
            let job = self.jobs.get_mut(&id).expect("present");
            job.flags &= !FLAG_BCAST_QUEUED;
            if job.retry == 0 {
                job.qtime = env.now_ms;
            }
            if !self.enqueue(env, &id, false, fx) {
                continue;
            }
            let q = self.queue_or_create(&queue, env.now_s());
            let fed = &mut q.federation;
            if fed.responders.insert(from, env.now_ms).is_none() {
                fed.bcast_attempt = 0;
            }
            fed.count_import(env.now_ms);
            fed.adhoc_attempt = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_rate_windows() {
        let mut f = QueueFederation::default();
        assert_eq!(f.import_rate(10_000), 0);
        for _ in 0..10 {
            f.count_import(10_000);
        }
        assert!(f.import_rate(10_500) > 0);
        assert_eq!(f.import_rate(16_000), 0);
    }
}
