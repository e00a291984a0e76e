//! Requeue coordination between holders (cluster.md §8): WILLQUEUE before a
//! requeue, QUEUED after one, WORKING from a consumer, and the rule that decides
//! which node keeps a job queued twice.

use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::{JobId, NodeId, ID_LEN};
use crate::job::{JobState, FLAG_BCAST_WILLQUEUE};
use crate::node::Node;

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

impl Node {
    /// WILLQUEUE: "I am about to requeue it".
    pub(crate) fn on_willqueue(&mut self, from: NodeId, id: &JobId, fx: &mut Effects) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        match job.state {
            JobState::Active | JobState::Queued => {
                job.add_delivered(from);
                if job.state == JobState::Queued {
                    self.send_to_holders(
                        id,
                        Message::Queued {
                            id: *id,
                            nack: false,
                            count: false,
                        },
                        fx,
                    );
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
    pub(crate) fn on_queued_or_working(
        &mut self,
        env: &Env,
        from: NodeId,
        id: &JobId,
        counter: Option<bool>,
        working: bool,
        fx: &mut Effects,
    ) {
        let Some(job) = self.jobs.get(id) else { return };
        let (state, retry) = (job.state, job.retry);
        if state == JobState::Acked {
            let message = self.set_ack(id);
            self.send(&from, message, fx);
            return;
        }
        if state == JobState::Queued && (working || sender_wins(&from, &self.myself, id)) {
            self.dequeue(id);
        }
        let next = self.jittered(env.now_ms, retry);
        let job = self.jobs.get_mut(id).expect("checked");
        if retry > 0 {
            job.flags |= FLAG_BCAST_WILLQUEUE;
            job.qtime = next;
        }
        match counter {
            Some(true) => job.nacks = job.nacks.wrapping_add(1),
            Some(false) => job.additional_deliveries = job.additional_deliveries.wrapping_add(1),
            None => {}
        }
        self.reschedule(env, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_of_two_nodes_wins() {
        let job = JobId::parse(b"D-00000000-AbCdEfGhIjKlMnOpQrStUvWx-0001").unwrap();
        let (a, b) = (NodeId([b'a'; 40]), NodeId([b'b'; 40]));
        assert_ne!(sender_wins(&a, &b, &job), sender_wins(&b, &a, &job));
    }
}
