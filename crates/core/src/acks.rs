//! Acknowledgements and their garbage collection (docs/cluster.md §7): GC attempts
//! with SETACK, GOTACK confirmations, DELJOB, dummy ACKs.
//!
//! Decision D1: "every holder confirmed" compares membership (this node counts
//! as confirmed), not the sizes of the two sets, so a job imported through
//! federation always tells its source.

use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::{JobId, NodeId};
use crate::job::{Job, JobState, FLAG_REREPLICATED};
use crate::node::Node;

impl Node {
    /// The holder list of a job held here (empty when it is not).
    fn holders_of(&self, id: &JobId) -> Vec<NodeId> {
        self.jobs
            .get(id)
            .map(|j| j.nodes_delivered().to_vec())
            .unwrap_or_default()
    }

    /// SETACK for a job held here, with its holder list.
    pub(crate) fn set_ack(&self, id: &JobId) -> Message {
        Message::SetAck {
            id: *id,
            holders: self.holders_of(id),
        }
    }

    /// DELJOB for a job held here, with its holder list.
    pub(crate) fn del_job(&self, id: &JobId) -> Message {
        Message::DelJob {
            id: *id,
            holders: self.holders_of(id),
        }
    }

    /// DELJOB: delete our copy; holders the sender does not list hear it from
    /// us (re-replication may have told only some holders of a new copy). A
    /// sender listing no holder did not hold the job and sent the DELJOB to
    /// every node it has a link to (FASTACK of an unknown id): nothing to pass on.
    pub(crate) fn on_deljob(
        &mut self,
        from: NodeId,
        id: &JobId,
        sender_holders: &[NodeId],
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.get(id) else {
            return;
        };
        if sender_holders.is_empty() {
            self.unregister(id, fx);
            return;
        }
        let unknown_to_sender: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != self.id() && **n != from && !sender_holders.contains(n))
            .copied()
            .collect();
        if !sender_holders.is_empty() && !unknown_to_sender.is_empty() {
            let mut holders = sender_holders.to_vec();
            for node in job.nodes_delivered() {
                if !holders.contains(node) {
                    holders.push(*node);
                }
            }
            self.send_many(&unknown_to_sender, Message::DelJob { id: *id, holders }, fx);
        }
        self.unregister(id, fx);
    }

    /// True when some holders may be unknown here: a dummy ACK (it knows
    /// none), a list shorter than the replication factor (a holder-list update
    /// was lost), or one that changed after creation (decision D8).
    fn holders_incomplete(job: &Job) -> bool {
        job.is_dummy_ack()
            || job.nodes_delivered().len() < job.repl() as usize
            || job.has(FLAG_REREPLICATED)
    }

    /// The nodes other than this one that may hold a copy of `job`: its
    /// holders, and every known node when the list may miss one. What every
    /// holder must hear (SETACK, NACKDELAY) goes to these.
    pub(crate) fn possible_holders(&self, job: &Job) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != self.id())
            .copied()
            .collect();
        if Self::holders_incomplete(job) {
            nodes.extend(
                self.cluster
                    .peer_ids()
                    .filter(|n| !job.nodes_delivered().contains(n)),
            );
        }
        nodes
    }

    /// True when an acked job may be deleted everywhere: every holder confirmed
    /// (this node counts as confirmed) and, if the holder list is incomplete,
    /// every known node answered, so that no unknown holder keeps a copy.
    fn ack_collected(&self, job: &Job) -> bool {
        let confirmed = job.nodes_confirmed().unwrap_or_default();
        let holders = job
            .nodes_delivered()
            .iter()
            .all(|n| *n == self.id() || confirmed.contains(n));
        holders
            && (!Self::holders_incomplete(job)
                || self.cluster.peer_ids().all(|n| confirmed.contains(n)))
    }

    /// One GC attempt for an acked job: delete it if the ack is collected,
    /// otherwise (re)send SETACK to the nodes that did not confirm: the holders,
    /// or every node for a dummy ACK or an incomplete holder list. The caller
    /// schedules the next attempt (the timer does; ACKJOB already did when acking,
    /// so the attempts come at about 0, 1, 5, 13 s).
    pub(crate) fn gc_attempt(&mut self, id: &JobId, fx: &mut Effects) {
        let myself = self.id();
        let single = self.cluster_size() == 1;
        // One lookup by id; the rest goes by handle.
        let Some(r) = self.jobs.job_ref(id) else {
            return;
        };
        let Some(job) = self
            .jobs
            .resolve_mut(r)
            .filter(|j| j.state() == JobState::Acked)
        else {
            return;
        };
        job.count_gc_attempt();
        let job = self.jobs.resolve(r).expect("resolved above");
        let dummy = job.is_dummy_ack();
        if (!dummy && self.ack_collected(job)) || (dummy && single) {
            self.unregister(id, fx);
            return;
        }
        let job = self.jobs.resolve_mut(r).expect("resolved above");
        job.start_ack_collection(myself);
        let job = self.jobs.resolve(r).expect("resolved above");
        let confirmed = job.nodes_confirmed().unwrap_or_default();
        let mut targets = self.possible_holders(job);
        targets.retain(|n| !confirmed.contains(n));
        let message = self.set_ack(id);
        self.send_many(&targets, message, fx);
    }

    /// SETACK: acknowledge our copy and confirm, or take over the GC when this
    /// node knows holders the sender does not list (the original compared the
    /// sizes of the two lists, which re-replication can make equal while
    /// their members differ).
    pub(crate) fn on_setack(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        sender_holders: &[NodeId],
        fx: &mut Effects,
    ) {
        if self
            .jobs
            .get(id)
            .is_some_and(|j| j.state() == JobState::WaitRepl)
        {
            self.replication_achieved(env, id, fx);
        }
        let mut learned = false;
        if self.jobs.contains_key(id) {
            self.acknowledge(env, id, fx);
            // Learn the sender's holders, so two nodes that each know a holder
            // the other does not converge on the union instead of handing the
            // GC back and forth.
            learned = self.merge_holders(env, from, id, sender_holders);
        }
        // Only holders this node knows count: the sender cannot learn the
        // others (a forgotten node), so two nodes listing different ones would
        // hand the GC back and forth forever.
        let knows_more = self.jobs.get(id).map(|j| {
            j.nodes_delivered()
                .iter()
                .any(|n| *n != from && !sender_holders.contains(n) && self.is_known_node(n))
        });
        let got_ack = |known| Message::GotAck { id: *id, known };
        match knows_more {
            None => self.send(&from, got_ack(false), fx),
            Some(false) => self.send(&from, got_ack(true), fx),
            Some(true) => {
                if sender_holders.is_empty() {
                    self.send(&from, got_ack(true), fx);
                }
                // The sender acked its copy (or holds none): confirmed, so the
                // take-over sends it no SETACK that could make it take over in
                // turn.
                let myself = self.id();
                let mut newly_confirmed = false;
                if let Some(job) = self.jobs.get_mut(id) {
                    job.start_ack_collection(myself);
                    newly_confirmed = job.confirm(from);
                }
                // A SETACK that taught nothing new (a retry, a duplicate, or one
                // from a node whose list this node cannot learn, such as a
                // holder in its EMPTIED quarantine) leaves the GC to its timer:
                // answering each one with a round of SETACKs let holders whose
                // lists differ for good keep each other busy without end.
                if newly_confirmed || learned {
                    self.gc_attempt(id, fx);
                }
            }
        }
    }

    /// GOTACK: a holder confirmed; when all did, delete everywhere.
    pub(crate) fn on_gotack(&mut self, from: NodeId, id: &JobId, known: bool, fx: &mut Effects) {
        let known_nodes = self.cluster.peer_count() + 1;
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state() != JobState::Acked {
            return;
        }
        let dummy = job.is_dummy_ack();
        if dummy && known {
            self.unregister(id, fx);
            return;
        }
        if known || job.nodes_delivered().contains(&from) {
            job.add_delivered(from);
        }
        // Every answer counts as confirmed: a dummy ACK or an incomplete holder
        // list is collected once every known node answered.
        job.confirm(from);
        if dummy {
            if job.confirmed_count() >= known_nodes {
                self.unregister(id, fx);
            }
            return;
        }
        if self.ack_collected(&self.jobs[id]) {
            let message = self.del_job(id);
            self.send_to_holders(id, message, fx);
            self.unregister(id, fx);
        }
    }
}
