//! The re-replication protocol (decision D8, described in the parent
//! module): the sweep, the rounds of HASJOB/REPLJOB, the HOLDERS
//! announcements and the EMPTIED announcement, as `Node` methods.

use super::{BATCH, EMPTIED_QUARANTINE_MS, ROUND_RETRY_MS, SWEEP_CHUNK};
use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::{JobId, NodeId};
use crate::job::{Job, JobState};
use crate::node::Node;
use crate::scan::ScanLimits;
use rand::seq::SliceRandom;
use smallvec::SmallVec;

/// What a job needs from this node.
struct Need {
    /// Live holders, this node included when it is live.
    live: usize,
    /// This node's rank among the holders that may act.
    rank: usize,
}

impl Node {
    /// Jobs known here to have fewer live copies than asked, and jobs a leaving
    /// node still has to drain (INFO `underreplicated_jobs`).
    pub fn underreplicated_jobs(&self) -> usize {
        self.rerepl.underreplicated()
    }

    /// Jobs this node brought back to their replication level (INFO
    /// `rereplicated_jobs`).
    pub fn rereplicated_jobs(&self) -> u64 {
        self.rerepl.rereplicated()
    }

    /// Called once the AOF (if any) is loaded at startup: a node that holds no
    /// job tells every peer it knows, on its first link, that it restarted
    /// without its jobs.
    pub fn startup_complete(&mut self) {
        if self.jobs.is_empty() {
            self.rerepl
                .announce_empty_to(self.cluster.peer_ids().copied());
        }
    }

    /// True when `node` counts as a live holder: this node unless leaving, a
    /// known peer that is not FAIL, leaving or in handshake.
    fn is_live_holder(&self, node: &NodeId) -> bool {
        if *node == self.id() {
            return !self.is_leaving();
        }
        self.cluster
            .peer(node)
            .is_some_and(|p| !(p.flags.fail || p.flags.leaving || p.flags.handshake))
    }

    /// True when `node` can be asked for a copy now.
    fn can_take_copy(&self, node: &NodeId) -> bool {
        self.cluster
            .peer(node)
            .is_some_and(|p| p.is_reachable() && p.link.is_some())
    }

    /// True for jobs that may be re-replicated: held (active or queued), not
    /// at-most-once, not a dummy ACK, not expired.
    fn rereplication_eligible(&self, env: &Env, job: &Job) -> bool {
        job.state().is_held()
            && job.retry() > 0
            && !job.is_dummy_ack()
            && job.queue().is_some()
            && job.etime() > env.now_s()
    }

    /// Whether the job needs this node to act, and when.
    fn rereplication_need(&self, env: &Env, job: &Job) -> Option<Need> {
        if !self.rereplication_eligible(env, job) {
            return None;
        }
        let live_peers = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != self.id() && self.is_live_holder(n));
        let live = live_peers.clone().count() + usize::from(!self.is_leaving());
        let enough = live >= job.repl() as usize;
        if enough && !self.is_leaving() {
            return None;
        }
        let rank = match (self.is_leaving(), enough) {
            // A leaving node drains a job that has enough copies elsewhere at
            // once, and otherwise lets the live holders act first.
            (true, true) => 0,
            (true, false) => live,
            (false, _) => live_peers.filter(|n| **n < self.id()).count(),
        };
        Some(Need { live, rank })
    }

    /// The periodic duty: notice membership changes, sweep a chunk, act on the
    /// jobs that are due.
    pub(crate) fn rereplication_cron(&mut self, env: &Env, fx: &mut Effects) {
        if !self.config().rereplicate {
            if self.rerepl.is_busy() {
                self.rerepl.clear();
            }
            return;
        }
        if !self.rerepl.start_run(env.now_ms) {
            return;
        }
        self.notice_membership_change();
        self.sweep_chunk(env);
        self.rerepl.wake(env.now_ms);
        for _ in 0..BATCH {
            let Some(id) = self.rerepl.announcement_due(env.now_ms) else {
                break;
            };
            self.announce(env, &id, fx);
        }
        for _ in 0..BATCH {
            let Some(id) = self.rerepl.next_ready() else {
                break;
            };
            self.act(env, &id, fx);
        }
    }

    /// When the duty has work next.
    pub(crate) fn next_rereplication(&self) -> Option<u64> {
        if !self.config().rereplicate {
            return None;
        }
        self.rerepl.next_due()
    }

    fn notice_membership_change(&mut self) {
        let live: Vec<NodeId> = self
            .cluster
            .peer_ids()
            .filter(|n| self.is_live_holder(n))
            .copied()
            .collect();
        let view = (live, self.cluster.reachable().to_vec(), self.is_leaving());
        self.rerepl.note_view(view);
    }

    fn sweep_chunk(&mut self, env: &Env) {
        let Some(cursor) = self.rerepl.sweep_cursor() else {
            return;
        };
        let mut ids = Vec::new();
        let limits = ScanLimits {
            count: SWEEP_CHUNK,
            busyloop: false,
        };
        let next = self.jobs.scan(cursor, limits, |job| {
            ids.push(job.id());
            true
        });
        for id in ids {
            let Some(need) = self
                .jobs
                .get(&id)
                .and_then(|j| self.rereplication_need(env, j))
            else {
                // No node could take a copy, and now none is needed (a holder
                // came back, another made the copies): no longer counted.
                self.rerepl.no_longer_stuck(&id);
                continue;
            };
            self.rerepl.found(id, need.live, env.now_ms);
        }
        self.rerepl.sweep_reached(next);
    }

    /// Starts or continues the round of one due job. A started round goes on
    /// until enough copies are confirmed (the holder list already names the
    /// nodes asked, so it cannot tell) or the job no longer qualifies.
    fn act(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        let Some(job) = self
            .jobs
            .get(id)
            .filter(|j| self.rereplication_eligible(env, j))
        else {
            self.rerepl.forget(id);
            return;
        };
        let retry = self.rerepl.has_round(id);
        if !retry {
            let Some(need) = self.rereplication_need(env, job) else {
                self.rerepl.forget(id);
                return;
            };
            let myself = (!self.is_leaving()).then_some(self.id());
            if !self.rerepl.start_round(id, env.now_ms, need.rank, myself) {
                return;
            }
        }
        if !self.rerepl.try_round(id) {
            return;
        }
        let (asked, confirmed) = self.rerepl.round(id);
        let job = &self.jobs[id];
        let pending =
            |n: &&NodeId| **n != self.id() && !confirmed.contains(n) && self.can_take_copy(n);
        // Nodes this round gave a copy to and that did not confirm: again.
        let resend: Vec<NodeId> = asked.iter().filter(pending).copied().collect();
        // Other listed holders are asked whether they hold it (a check that
        // never creates a copy).
        let mut checks: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(pending)
            .filter(|n| !asked.contains(n))
            .copied()
            .collect();
        // The first time the listed holders get the benefit of the doubt; on a
        // retry only confirmations count, and one more node is asked. A listed
        // holder that did not answer the check lost its copy unannounced (or
        // collected it after an ack that never reached this copy): the job is
        // alive here, so it gets a copy like a new node.
        let (missing, listed_copies) = if retry {
            let listed_copies = std::mem::take(&mut checks);
            let copies = confirmed.len() + resend.len() + listed_copies.len();
            (
                (job.repl() as usize).saturating_sub(copies) + 1,
                listed_copies,
            )
        } else {
            let copies = confirmed.len() + checks.len();
            ((job.repl() as usize).saturating_sub(copies), Vec::new())
        };
        let mut fresh: Vec<NodeId> = self
            .cluster
            .reachable()
            .iter()
            .filter(|n| {
                !job.nodes_delivered().contains(n) && !asked.contains(n) && self.can_take_copy(n)
            })
            .copied()
            .collect();
        fresh.shuffle(&mut self.rng);
        fresh.truncate(missing);
        if resend.is_empty() && checks.is_empty() && listed_copies.is_empty() && fresh.is_empty() {
            self.rerepl.stuck(id);
            return;
        }
        // New nodes join the holder list before they are asked, as with ADDJOB:
        // they may hold a copy from now on, so acks must reach them. So does
        // this node, which may hold a copy it imported (YOURJOBS) without
        // being listed. The list now differs from other holders' lists: acks
        // will ask every node.
        let myself = (!self.is_leaving()).then_some(self.id());
        let job = self.jobs.get_mut(id).expect("checked above");
        job.mark_rereplicated();
        for node in fresh.iter().chain(&myself) {
            job.add_delivered(*node);
        }
        self.rerepl
            .asked(id, listed_copies.iter().chain(&fresh).copied());
        let payload = self.serialize_for_bus(&self.jobs[id], env.now_ms);
        let copies: Vec<NodeId> = resend
            .into_iter()
            .chain(listed_copies)
            .chain(fresh)
            .collect();
        self.send_many(
            &copies,
            Message::ReplJob {
                job: payload,
                no_reply: false,
            },
            fx,
        );
        self.send_many(&checks, Message::HasJob(*id), fx);
        self.rerepl.wait_until(id, env.now_ms + ROUND_RETRY_MS);
    }

    /// GOTJOB for a job this node is re-replicating (one more live copy), or
    /// announcing (one more holder knows the list).
    pub(crate) fn on_rereplication_gotjob(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        fx: &mut Effects,
    ) {
        self.rerepl.announcement_confirmed(id, from);
        let Some(confirmed) = self.rerepl.round_confirmed(id, from) else {
            return;
        };
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        job.add_delivered(from);
        if confirmed.len() < job.repl() as usize {
            return;
        }
        // Enough copies: count it, tell every holder the list, and a leaving
        // node drops its own copy (the new holders announce themselves too).
        self.rerepl.achieved(id);
        self.start_announcement(env, id, &[], fx);
        if self.is_leaving() {
            self.drain_copy(id, &confirmed, fx);
        }
    }

    /// Starts telling the job's holders (except `informed`) its holder list.
    pub(crate) fn start_announcement(
        &mut self,
        env: &Env,
        id: &JobId,
        informed: &[NodeId],
        fx: &mut Effects,
    ) {
        // A running announcement of the job is replaced.
        self.rerepl.start_announcing(id, informed);
        self.announce(env, id, fx);
    }

    /// One announcement step: HOLDERS to the reachable holders that did not
    /// confirm (each at most `ANNOUNCE_TRIES` times); parked while the only
    /// ones left are unreachable; done when none is left.
    fn announce(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id).filter(|_| self.rerepl.is_announcing(id)) else {
            self.rerepl.stop_announcing(id);
            return;
        };
        let left: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != self.id() && self.rerepl.to_announce(id, n) && self.cluster.knows(n))
            .copied()
            .collect();
        let targets: Vec<NodeId> = left
            .iter()
            .filter(|n| self.can_take_copy(n))
            .copied()
            .collect();
        if left.is_empty() {
            self.rerepl.stop_announcing(id);
            return;
        }
        if targets.is_empty() {
            self.rerepl.park_announcement(id);
            return;
        }
        let nodes = job.nodes_delivered().to_vec();
        self.send_many(&targets, Message::Holders { id: *id, nodes }, fx);
        self.rerepl
            .announced(id, &targets, env.now_ms + ROUND_RETRY_MS);
    }

    /// A leaving node drops a copy that `confirmed` nodes now hold; a queued
    /// copy is queued on one of them first.
    fn drain_copy(&mut self, id: &JobId, confirmed: &[NodeId], fx: &mut Effects) {
        let queued = self
            .jobs
            .get(id)
            .is_some_and(|j| j.state() == JobState::Queued);
        if queued {
            if let Some(target) = confirmed.choose(&mut self.rng).copied() {
                self.send(&target, Message::Enqueue { id: *id, delay: 0 }, fx);
            }
        }
        self.unregister(id, fx);
    }

    /// HASJOB: confirm a copy held here (GOTJOB), or pass on its ack (SETACK).
    pub(crate) fn on_hasjob(&mut self, from: NodeId, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id) else {
            return;
        };
        let message = match job.state() {
            JobState::Acked => self.set_ack(id),
            // The copy of an ADDJOB still replicating is not logged yet: it
            // must not count as a copy that survives a crash.
            JobState::WaitRepl => return,
            JobState::Active | JobState::Queued => Message::GotJob(*id),
        };
        self.send(&from, message, fx);
    }

    /// HOLDERS: learn the holders of a copy held here, and confirm. A job
    /// waiting here for its turn to act is no longer under-replicated once
    /// the list names enough live holders.
    pub(crate) fn on_holders(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        nodes: &[NodeId],
        fx: &mut Effects,
    ) {
        if !self.jobs.contains_key(id) {
            return;
        }
        self.merge_holders(env, from, id, nodes);
        let waiting = self.rerepl.awaits_turn(id);
        if waiting && self.rereplication_need(env, &self.jobs[id]).is_none() {
            self.rerepl.forget(id);
        }
        self.send(&from, Message::GotJob(*id), fx);
    }

    /// The nodes of `nodes`, a holder list sent by `from` about a job created
    /// at `ctime_ms`, that this node believes: the known ones, except a node
    /// that announced less than [`EMPTIED_QUARANTINE_MS`] ago that it came
    /// back empty, for a job older than the announcement, unless it sent the
    /// list itself (a list sent before its sender heard the announcement would
    /// name it again as a holder of a job it lost). The flag is set when such
    /// a node was left out: the list here may then miss a holder.
    pub(crate) fn credible_holders(
        &self,
        env: &Env,
        from: &NodeId,
        ctime_ms: u64,
        nodes: &[NodeId],
    ) -> (SmallVec<[NodeId; 8]>, bool) {
        let mut doubted = false;
        let credible = nodes
            .iter()
            .filter(|n| self.is_known_node(n))
            .filter(|n| {
                let quarantined = *n != from
                    && self.rerepl.emptied_at(n).is_some_and(|at| {
                        ctime_ms <= at && env.now_ms < at + EMPTIED_QUARANTINE_MS
                    });
                doubted |= quarantined;
                !quarantined
            })
            .copied()
            .collect();
        (credible, doubted)
    }

    /// Adds the credible nodes of `nodes`, a holder list sent by `from`, to the
    /// holder list of a copy held here. True when a node was added.
    pub(crate) fn merge_holders(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        nodes: &[NodeId],
    ) -> bool {
        let Some(ctime_ms) = self.jobs.get(id).map(|j| j.ctime_ms()) else {
            return false;
        };
        let (known, doubted) = self.credible_holders(env, &from, ctime_ms, nodes);
        let mut added = false;
        if let Some(job) = self.jobs.get_mut(id) {
            if doubted {
                job.mark_rereplicated();
            }
            for node in known {
                if !job.nodes_delivered().contains(&node) {
                    job.add_delivered(node);
                    job.mark_rereplicated();
                    added = true;
                }
            }
        }
        added
    }

    /// Sends [`Message::Emptied`] on a new link to `peer` if this node restarted
    /// without its jobs and did not tell it yet.
    pub(crate) fn announce_emptied(&mut self, peer: &NodeId, fx: &mut Effects) {
        if self.config().rereplicate && self.rerepl.owes_emptied(peer) {
            self.send(peer, Message::Emptied, fx);
        }
    }

    /// True while `peer` has not confirmed it knows this node restarted empty:
    /// a copy it sends now could be struck off its holder list by the
    /// announcement, so it is refused (the sender replicates elsewhere).
    pub(crate) fn awaits_emptied_ack(&self, peer: &NodeId) -> bool {
        self.config().rereplicate && self.rerepl.owes_emptied(peer)
    }

    /// A PONG on a link that carried the announcement proves it arrived.
    pub(crate) fn emptied_acknowledged(&mut self, peer: &NodeId) {
        self.rerepl.emptied_known_by(peer);
    }

    /// EMPTIED: `from` restarted without its jobs, so it holds none of the
    /// copies listed here: it leaves every holder list, lists from other nodes
    /// are not believed about it for a while, and a sweep tops the jobs up.
    pub(crate) fn on_emptied(&mut self, env: &Env, from: NodeId) {
        if !self.config().rereplicate {
            return;
        }
        self.rerepl.note_emptied(from, env.now_ms);
        let myself = self.id();
        for job in self.jobs.values_mut() {
            if job.state() != JobState::WaitRepl && job.nodes_delivered().contains(&from) {
                // An empty list would mark a dummy ACK: a copy imported here
                // (YOURJOBS) whose only listed holder came back empty is
                // listed as held here instead (seed 131354: it counted the
                // empty node as a live holder and never made a copy).
                if job.nodes_delivered().len() == 1 {
                    job.add_delivered(myself);
                }
                job.drop_holder(&from);
                job.mark_rereplicated();
            }
        }
        self.rerepl.request_sweep();
    }
}
