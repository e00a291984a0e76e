//! Requeue coordination between holders (docs/cluster.md §8): WILLQUEUE before a
//! requeue, QUEUED after one, WORKING from a consumer, and the rule that decides
//! which node keeps a job queued twice.

use crate::cluster::message::Message;
use crate::cluster::LinkId;
use crate::effects::{Effects, Env};
use crate::ids::{JobId, NodeId, ID_LEN};
use crate::job::{
    Holders, JobState, FLAG_BCAST_QUEUED, FLAG_DEAD_LETTERED, FLAG_NACK_DELAY, FLAG_REREPLICATED,
};
use crate::node::{Count, Node};

/// News about a job that every holder must hear, and that a holder with no
/// link up when it was sent is told again when its link comes up
/// ([`Node::note_untold_news`]).
#[derive(Clone, Debug)]
pub(crate) enum News {
    /// The job moved to its dead-letter queue here (D17).
    DeadLetterMove,
    /// A consumer NACKed the job here with a delay (D16).
    NackDelay,
    /// The job's holder list, sent by the node that ran its ADDJOB and kept
    /// no copy: a holder that confirmed early knows fewer holders, and an
    /// ack there must reach every copy. Told even though this node no
    /// longer has the job; at most [`UNTOLD_PRUNE_AT`] are kept per holder.
    Holders(Holders),
}

/// The size from which a holder's untold news is pruned (see [`UntoldList`]).
const UNTOLD_PRUNE_AT: usize = 1024;

/// The news one holder may have missed, oldest first. News about jobs no
/// longer held here is dropped whenever the list has doubled since the last
/// pruning (from [`UNTOLD_PRUNE_AT`] items on), so a holder that stays away
/// without being forgotten costs memory only for the jobs still held, and
/// pruning costs O(1) per item added.
#[derive(Debug, Default)]
pub(crate) struct UntoldList {
    items: Vec<Untold>,
    /// The length at which the next pruning happens.
    prune_at: usize,
}

/// News a holder may have missed (`Node::untold_news`, by holder).
#[derive(Clone, Debug)]
pub(crate) struct Untold {
    /// The job it is about.
    job: JobId,
    /// What happened to it.
    news: News,
    /// The link, still connecting, that the news waits on, if any: when that
    /// link comes up the news leaves on it and is not told again.
    waiting_on: Option<LinkId>,
}

impl Untold {
    /// True for a holder list (see [`News::Holders`]).
    fn is_holders(&self) -> bool {
        matches!(self.news, News::Holders(_))
    }
}

/// True when `sender` keeps the job rather than `receiver`: node ids are compared
/// after mixing each byte with the job id's random part, so the winner varies per job.
pub fn sender_wins(sender: &NodeId, receiver: &NodeId, job: &JobId) -> bool {
    let mix = |node: &NodeId| -> [u8; ID_LEN] {
        let mut out = [0u8; ID_LEN];
        for (i, b) in out.iter_mut().enumerate() {
            *b = node.0[i] ^ job.0[11 + i % 24];
        }
        out
    };
    mix(sender) > mix(receiver)
}

/// A QUEUED that counts nothing: the answer to WILLQUEUE, or news of a
/// dead-letter move (`dead_letter`, D17) for a holder that may not have it.
fn queued_answer(id: &JobId, dead_letter: bool) -> Message {
    Message::Queued {
        id: *id,
        nack: false,
        count: false,
        dead_letter,
    }
}

impl Node {
    /// WILLQUEUE: "I am about to requeue it". A copy queued here answers
    /// every holder with QUEUED, which says so when it moved to its
    /// dead-letter queue (D17): the sender may have missed the move.
    pub(crate) fn on_willqueue(&mut self, from: NodeId, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        match job.state() {
            JobState::Active | JobState::Queued => {
                job.add_delivered(from);
                if job.state() == JobState::Queued {
                    let answer = queued_answer(id, job.has(FLAG_DEAD_LETTERED));
                    self.send_to_holders(id, answer, fx);
                }
            }
            JobState::Acked => {
                let message = self.set_ack(id);
                self.send(&from, message, fx);
            }
            JobState::WaitRepl => {}
        }
    }

    /// QUEUED or WORKING: another holder queued the job (or a consumer works on
    /// it): drop ours from the queue if it loses, and postpone our own requeue.
    /// A QUEUED that says the job moved to its dead-letter queue moves ours
    /// first (D17), so both copies meet in the same queue and one is kept.
    /// A QUEUED that does not say so while ours moved comes from a holder
    /// that missed the move, its copy in the old queue: it is told, and ours
    /// stays queued (the sender's leaves the old queue on our word).
    /// Neither brings the end of a NACK DELAY closer (D16).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_queued_or_working(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        counter: Option<bool>,
        working: bool,
        dead_lettered: bool,
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.get(id) else { return };
        let (state, retry) = (job.state(), job.retry());
        if state == JobState::Acked {
            let message = self.set_ack(id);
            self.send(&from, message, fx);
            return;
        }
        let sender_missed_move = !working && !dead_lettered && job.has(FLAG_DEAD_LETTERED);
        if dead_lettered && self.move_to_dead_letter(id) {
            self.log_changed(id, fx);
            self.forward_dead_letter_move(from, id, fx);
        }
        if sender_missed_move {
            self.send(&from, queued_answer(id, true), fx);
        } else if self.jobs[id].state() == JobState::Queued
            && (working || sender_wins(&from, &self.id(), id))
        {
            self.dequeue(id);
        }
        let next = self.jittered(env.now_ms, retry);
        let job = self.jobs.get_mut(id).expect("checked");
        if retry > 0 {
            job.announce_requeue();
            // A QUEUED sent before our NACK DELAY reached its sender must not
            // end the delay early.
            job.postpone_requeue(next);
        }
        match counter {
            Some(true) => job.count_nack(),
            Some(false) => job.count_delivery(),
            None => {}
        }
        self.reschedule(env, id);
    }

    /// NACKDELAY: a consumer NACKed the job on another holder with a delay
    /// (D16). Count the NACK, dequeue our copy, and requeue it no sooner than
    /// RETRY after the delay ends (the NACKing node requeues it at the end;
    /// we do only if it could not).
    pub(crate) fn on_nack_delay(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        delay_ms: u64,
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.get(id) else { return };
        match job.state() {
            JobState::Acked => {
                let message = self.set_ack(id);
                self.send(&from, message, fx);
                return;
            }
            // Still replicating here: the delay is noted, and the end of the
            // replication queues it only when the delay ends.
            JobState::WaitRepl | JobState::Active | JobState::Queued => {}
        }
        self.dequeue(id);
        let end = self.jobs[id].clamp_to_life(env.now_ms.saturating_add(delay_ms));
        let retry = self.jobs[id].retry();
        let next = self.jittered(end, retry).max(end + 1);
        let job = self.jobs.get_mut(id).expect("checked");
        job.count_nack();
        if job.qtime() != 0 {
            job.delay_for_nack(next);
        }
        self.reschedule(env, id);
        // Logged like the NACKing node's copy: a restart keeps the delay.
        self.log_changed(id, fx);
    }

    /// A requeue by RETRY timeout or NACK: into the dead-letter queue instead
    /// when the job reached its max deliveries (D17), else as usual. `count`
    /// is [`Count::Counted`] at the end of a NACK DELAY (the NACK counted then).
    pub(crate) fn requeue(
        &mut self,
        env: &Env,
        id: &JobId,
        count: Count,
        fx: &mut Effects,
    ) -> bool {
        let due = self.can_enqueue(id)
            && self.jobs.get(id).is_some_and(|job| {
                // A first queueing (a DELAY ending on the creating node) is no requeue.
                let counted = u64::from(count == Count::Counted);
                job.has(FLAG_BCAST_QUEUED)
                    && job.dead_letter().as_ref().is_some_and(|d| {
                        job.deliveries().saturating_sub(counted) >= d.max_deliveries as u64
                    })
            });
        if !due {
            return self.enqueue_as(env, id, count, fx);
        }
        self.move_to_dead_letter(id);
        let queued = self.enqueue_as(env, id, count, fx);
        self.log_changed(id, fx);
        let holders = self.jobs[id].nodes_delivered().clone();
        self.note_untold_news(id, News::DeadLetterMove, &holders);
        queued
    }

    /// Moves a job that has a DEADLETTER to that queue (dequeued first if
    /// queued), clearing the option so it cannot move again. False when it
    /// has none (already moved, or never had one). The caller logs it.
    pub(crate) fn move_to_dead_letter(&mut self, id: &JobId) -> bool {
        if self.jobs.get(id).is_none_or(|j| j.dead_letter().is_none()) {
            return false;
        }
        self.dequeue(id);
        let entry = self.jobs.job_ref(id).expect("present");
        let target = self.jobs[id].dead_letter().expect("checked").queue.clone();
        // The name is shared with the queue object when there is one.
        let name = self.queue_name(&target);
        let job = self.jobs.get_mut(id).expect("present");
        let old = job.move_to_dead_letter(name);
        let (ctime, priority) = (job.ctime(), job.priority());
        if job.set_in_queue_order(false) {
            if let Some(q) = old.and_then(|name| self.queues.get_mut(name.bytes())) {
                q.forget_entry(ctime, priority, entry);
            }
        }
        true
    }

    /// After moving a copy on a holder's word: when the holder list here
    /// changed after the job's creation (re-replication, D8), the holders
    /// the sender may not know are told too, so every copy moves. Each
    /// holder forwards once (a copy already moved does not move again).
    fn forward_dead_letter_move(&mut self, from: NodeId, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id).filter(|j| j.has(FLAG_REREPLICATED)) else {
            return;
        };
        let others: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != from && **n != self.id())
            .copied()
            .collect();
        self.send_many(&others, queued_answer(id, true), fx);
        self.note_untold_news(id, News::DeadLetterMove, &others);
    }

    /// `news` of job `id` was sent to `told`: the nodes among them with no
    /// link up may miss it (no link: nothing was sent; a link still
    /// connecting: the frame waits on it and is lost if it never comes up).
    /// Each is told when a link to it comes up (see
    /// [`Node::tell_untold_news`]).
    /// The list is pruned as [`UntoldList`] says.
    pub(crate) fn note_untold_news(&mut self, id: &JobId, news: News, told: &[NodeId]) {
        for node in told {
            let Some(peer) = self.cluster.peer(node).filter(|p| !p.link_up) else {
                continue;
            };
            let untold = Untold {
                job: *id,
                news: news.clone(),
                waiting_on: peer.link,
            };
            let list = self.untold_news.entry(*node).or_default();
            list.items.push(untold);
            if list.items.len() >= list.prune_at.max(UNTOLD_PRUNE_AT) {
                let jobs = &self.jobs;
                // Holder lists are about jobs not held here: the oldest go
                // beyond the limit.
                let lists = list.items.iter().filter(|u| u.is_holders()).count();
                let mut excess = lists.saturating_sub(UNTOLD_PRUNE_AT);
                list.items.retain(|u| {
                    if !u.is_holders() {
                        return jobs.held(&u.job).is_some();
                    }
                    let keep = excess == 0;
                    excess = excess.saturating_sub(1);
                    keep
                });
                list.prune_at = 2 * list.items.len();
            }
        }
    }

    /// How many news items wait for holders with no link up.
    pub fn untold_news_count(&self) -> usize {
        self.untold_news.values().map(|l| l.items.len()).sum()
    }

    /// The link `link` to `node` came up: the news it may have missed (see
    /// [`Node::note_untold_news`]) is sent, when still current. News sent
    /// while this very link was connecting is not: its frames left when the
    /// link came up (a NACKDELAY told twice would count its NACK twice).
    pub(crate) fn tell_untold_news(
        &mut self,
        env: &Env,
        node: &NodeId,
        link: LinkId,
        fx: &mut Effects,
    ) {
        let list = self.untold_news.remove(node).unwrap_or_default();
        for untold in list.items {
            if untold.waiting_on == Some(link) {
                continue;
            }
            if let Some(message) = self.news_to_tell(env, node, &untold) {
                self.send(node, message, fx);
            }
        }
    }

    /// The message that tells `node` the news `untold`, if still current: the
    /// job is held here (active or queued) and `node` may hold it; a
    /// dead-letter move, told by a QUEUED with the `DEAD_LETTER` bit (D17);
    /// a NACK DELAY that has not ended, told by a NACKDELAY for the time
    /// left (D16).
    fn news_to_tell(&self, env: &Env, node: &NodeId, untold: &Untold) -> Option<Message> {
        let id = &untold.job;
        match &untold.news {
            News::Holders(nodes) => Some(Message::Holders {
                id: *id,
                nodes: nodes.to_vec(),
            }),
            News::DeadLetterMove => {
                let job = self.jobs.held(id)?;
                (job.has(FLAG_DEAD_LETTERED) && job.nodes_delivered().contains(node))
                    .then(|| queued_answer(id, true))
            }
            News::NackDelay => {
                let job = self.jobs.held(id)?;
                (job.has(FLAG_NACK_DELAY)
                    && job.qtime() > env.now_ms
                    && self.possible_holders(job).contains(node))
                .then(|| Message::NackDelay {
                    id: *id,
                    delay_ms: job.qtime() - env.now_ms,
                })
            }
        }
    }

    /// `node` was forgotten: the news it was still to be told is dropped.
    pub(crate) fn forget_untold_news(&mut self, node: &NodeId) {
        self.untold_news.remove(node);
    }

    /// A copy of a job held here came from another holder (REPLJOB,
    /// YOURJOBS) in `queue`, the dead-letter queue of ours: the sender moved
    /// it (D17), so ours moves too (logged). Nothing for an acked copy.
    pub(crate) fn follow_dead_letter_move(&mut self, id: &JobId, queue: &[u8], fx: &mut Effects) {
        let moved_there = self.jobs.get(id).is_some_and(|j| {
            j.state() != JobState::Acked && j.dead_letter().is_some_and(|d| d.queue == queue)
        });
        if moved_there && self.move_to_dead_letter(id) {
            self.log_changed(id, fx);
        }
    }

    /// Logs a job whose record changed (queue, NACK DELAY) as `DELJOB`
    /// then `LOADJOB`: an older loader replays both as it always did.
    pub(crate) fn log_changed(&self, id: &JobId, fx: &mut Effects) {
        if self.jobs.held(id).is_some() {
            self.log_deljob(id, fx);
            self.log_loadjob(id, fx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_nack_delay_stays_within_the_jobs_life() {
        use crate::commands::CommandId;
        let (mut node, env) = crate::node::test_node();
        let mut fx = Effects::default();
        let words = |w: &[&'static str]| -> Vec<bytes::Bytes> {
            w.iter()
                .map(|s| bytes::Bytes::from_static(s.as_bytes()))
                .collect()
        };
        let add = words(&["ADDJOB", "q", "b", "0", "TTL", "100"]);
        let Some(disque_proto::Reply::Status(id)) =
            node.on_command(&env, 1, CommandId::Addjob, &add, &mut fx)
        else {
            panic!("ADDJOB")
        };
        let id = JobId::parse(&id).unwrap();
        let get = words(&["GETJOB", "FROM", "q"]);
        let got = node.on_command(&env, 1, CommandId::Getjob, &get, &mut fx);
        assert!(matches!(got, Some(disque_proto::Reply::Array(_))), "GETJOB");
        node.on_nack_delay(&env, NodeId([b'b'; 40]), &id, u64::MAX, &mut fx);
        let job = node.job(&id).unwrap();
        assert_eq!(job.nacks(), 1);
        // At most RETRY (± jitter) after the expiry: the job expires first.
        let life_end = job.etime() * 1000 + 1000;
        assert!(
            job.qtime() > env.now_ms && job.qtime() <= life_end + job.retry() as u64 * 1000 + 250
        );
        node.check_invariants();
    }

    #[test]
    fn exactly_one_of_two_nodes_wins() {
        let job = JobId::parse(b"D-00000000-AbCdEfGhIjKlMnOpQrStUvWx-0001").unwrap();
        let (a, b) = (NodeId([b'a'; 40]), NodeId([b'b'; 40]));
        assert_ne!(sender_wins(&a, &b, &job), sender_wins(&b, &a, &job));
    }
}
