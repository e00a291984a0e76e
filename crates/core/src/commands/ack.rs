//! ACKJOB, FASTACK and DELJOB (docs/commands.md §2.3–§2.5).

use crate::effects::{Effects, Env};
use crate::ids::JobId;
use crate::job::{Job, JobState, FLAG_REREPLICATED};
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;
use smallvec::SmallVec;

/// `-BADID Invalid Job ID format.`
pub(crate) fn bad_id() -> Reply {
    Reply::error("BADID Invalid Job ID format.")
}

/// The ids of a multi-id command, on the stack for the usual few.
pub(crate) type Ids = SmallVec<[JobId; 4]>;

/// Parses every id argument of a multi-id command, or none (`-BADID`).
pub(crate) fn parse_ids(args: &[Bytes]) -> Result<Ids, Reply> {
    args[1..]
        .iter()
        .map(|a| JobId::parse(a))
        .collect::<Option<Ids>>()
        .ok_or_else(bad_id)
}

impl Node {
    /// `ACKJOB id...`: acknowledge, create dummy ACKs for unknown at-least-once ids
    /// in a cluster (or restart the collection of an existing one), and run a
    /// GC attempt for every id that has a record.
    pub(crate) fn cmd_ackjob(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let ids = match parse_ids(args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let mut acked = 0;
        for id in &ids {
            match self.jobs.get_mut(id) {
                Some(job) if job.state() == JobState::Acked => {
                    // Asking again: a node that answered "unknown" to a dummy
                    // ACK may hold a copy since (a REPLJOB that was still on
                    // its way), so every node is asked again.
                    if job.is_dummy_ack() {
                        job.restart_ack_collection();
                    }
                }
                Some(_) => {
                    self.acknowledge(env, id, fx);
                    acked += 1;
                }
                None => self.create_dummy_ack(env, id),
            }
            if self.jobs.contains_key(id) {
                self.gc_attempt(id, fx);
            }
        }
        Reply::Integer(acked)
    }

    /// A dummy ACK for an unknown id: only in a cluster, not while leaving, and only
    /// for at-least-once ids (odd TTL field).
    fn create_dummy_ack(&mut self, env: &Env, id: &JobId) {
        if self.cluster_size() <= 1 || self.is_leaving() || id.is_at_most_once() {
            return;
        }
        let job = Job::dummy_ack(*id, env.now_s() + id.ttl_field() as u64 * 60);
        self.register(env, job);
    }

    /// `FASTACK id...`: delete here and tell every holder to delete.
    pub(crate) fn cmd_fastack(&mut self, args: &[Bytes], fx: &mut Effects) -> Reply {
        let ids = match parse_ids(args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let mut deleted = 0;
        for id in &ids {
            let message = self.del_job(id);
            match self.jobs.get(id) {
                // Its holders may not all be listed (decision D8): tell everyone.
                Some(job) if job.has(FLAG_REREPLICATED) => {
                    let everyone = self.linked_nodes();
                    self.send_many(&everyone, message, fx);
                }
                Some(_) => self.send_to_holders(id, message, fx),
                // Unknown here: whoever holds it must drop it.
                None => {
                    let everyone = self.linked_nodes();
                    self.send_many(&everyone, message, fx);
                }
            }
            if self.jobs.contains_key(id) {
                self.unregister(id, fx);
                deleted += 1;
            }
        }
        Reply::Integer(deleted)
    }

    /// `DELJOB id...`: delete from this node only.
    pub(crate) fn cmd_deljob(&mut self, args: &[Bytes], fx: &mut Effects) -> Reply {
        let ids = match parse_ids(args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let mut deleted = 0;
        for id in &ids {
            if self.jobs.contains_key(id) {
                self.unregister(id, fx);
                deleted += 1;
            }
        }
        Reply::Integer(deleted)
    }
}
