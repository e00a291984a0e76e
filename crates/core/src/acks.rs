//! Acknowledgements and their garbage collection (cluster.md §7): GC attempts
//! with SETACK, GOTACK confirmations, DELJOB, dummy ACKs.
//!
//! Decision D1: "every holder confirmed" compares membership (this node counts
//! as confirmed), not the sizes of the two sets, so a job imported through
//! federation always tells its source.

use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::{JobId, NodeId};
use crate::job::{Job, JobState};
use crate::node::Node;

impl Node {
    /// True when the job's holder list is shorter than its replication factor: a
    /// holder-list update was lost, so some holders may be unknown here.
    fn holders_incomplete(job: &Job) -> bool {
        job.nodes_delivered.len() < job.repl as usize
    }

    /// True when an acked job may be deleted everywhere: every holder confirmed
    /// (this node counts as confirmed) and, if the holder list is incomplete,
    /// every known node answered, so that no unknown holder keeps a copy.
    fn ack_collected(&self, job: &Job) -> bool {
        let confirmed = job.nodes_confirmed.as_deref().unwrap_or(&[]);
        let holders = job
            .nodes_delivered
            .iter()
            .all(|n| *n == self.myself || confirmed.contains(n));
        holders
            && (!Self::holders_incomplete(job)
                || self.cluster.peers.keys().all(|n| confirmed.contains(n)))
    }

    /// One GC attempt for an acked job: delete it if the ack is collected,
    /// otherwise (re)send SETACK to the nodes that did not confirm: the holders,
    /// or every node for a dummy ACK or an incomplete holder list. The caller
    /// schedules the next attempt (the timer does; ACKJOB already did when acking,
    /// so the attempts come at about 0, 1, 5, 13 s).
    pub(crate) fn gc_attempt(&mut self, id: &JobId, fx: &mut Effects) {
        let myself = self.myself;
        let single = self.cluster_size() == 1;
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state != JobState::Acked {
            return;
        }
        job.gc_retry = (job.gc_retry + 1).min(10);
        job.nodes_confirmed.get_or_insert_with(|| vec![myself]);
        let job = &self.jobs[id];
        let dummy = job.is_dummy_ack();
        if (!dummy && self.ack_collected(job)) || (dummy && single) {
            self.unregister(id, fx);
            return;
        }
        let confirmed = job.nodes_confirmed.clone().unwrap_or_default();
        let mut targets = job.nodes_delivered.clone();
        if dummy || Self::holders_incomplete(job) {
            targets.extend(
                self.cluster
                    .peers
                    .keys()
                    .filter(|n| !job.nodes_delivered.contains(n)),
            );
        }
        let may_have = job.nodes_delivered.len() as u32;
        targets.retain(|n| *n != myself && !confirmed.contains(n));
        self.send_many(&targets, Message::SetAck { id: *id, may_have }, fx);
    }

    /// SETACK: acknowledge our copy and confirm, or take over the GC when this
    /// node knows more holders than the sender.
    pub(crate) fn on_setack(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        may_have: u32,
        fx: &mut Effects,
    ) {
        if self
            .jobs
            .get(id)
            .is_some_and(|j| j.state == JobState::WaitRepl)
        {
            self.replication_achieved(env, id, fx);
        }
        if self.jobs.contains_key(id) {
            self.acknowledge(env, id, fx);
        }
        let holders = self.jobs.get(id).map(|j| j.nodes_delivered.len() as u32);
        match holders {
            None => self.send(
                &from,
                Message::GotAck {
                    id: *id,
                    known: false,
                },
                fx,
            ),
            Some(n) if n <= may_have => self.send(
                &from,
                Message::GotAck {
                    id: *id,
                    known: true,
                },
                fx,
            ),
            Some(_) => {
                if may_have == 0 {
                    self.send(
                        &from,
                        Message::GotAck {
                            id: *id,
                            known: true,
                        },
                        fx,
                    );
                }
                self.gc_attempt(id, fx);
            }
        }
    }

    /// GOTACK: a holder confirmed; when all did, delete everywhere.
    pub(crate) fn on_gotack(&mut self, from: NodeId, id: &JobId, known: bool, fx: &mut Effects) {
        let known_nodes = self.cluster.peers.len() + 1;
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state != JobState::Acked {
            return;
        }
        let dummy = job.is_dummy_ack();
        if dummy && known {
            self.unregister(id, fx);
            return;
        }
        if known || job.nodes_delivered.contains(&from) {
            job.add_delivered(from);
        }
        // Every answer counts as confirmed: a dummy ACK or an incomplete holder
        // list is collected once every known node answered.
        let confirmed = job.nodes_confirmed.get_or_insert_with(Vec::new);
        if !confirmed.contains(&from) {
            confirmed.push(from);
        }
        if dummy {
            if confirmed.len() >= known_nodes {
                self.unregister(id, fx);
            }
            return;
        }
        if self.ack_collected(&self.jobs[id]) {
            self.send_to_holders(id, Message::DelJob(*id), fx);
            self.unregister(id, fx);
        }
    }
}
