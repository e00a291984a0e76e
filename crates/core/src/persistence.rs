//! What the core knows of the AOF (docs/persistence.md §4, §5): replaying `LOADJOB` and
//! `DELJOB` records, and the snapshot a rewrite writes.

use crate::effects::{Effects, Env};
use crate::ids::JobId;
use crate::job::{JobState, FLAG_BCAST_QUEUED, FLAG_BCAST_WILLQUEUE, FLAG_DELIVERED};
use crate::job_codec::{self, CorruptJob, Form};
use crate::node::Node;
use bytes::{Bytes, BytesMut};

/// How a `LOADJOB` record is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Normal load: every job comes back `active`, requeued after DELAY + RETRY.
    Normal,
    /// `aof-enqueue-jobs-once`: jobs stored `queued` are queued again at once.
    EnqueueOnce,
    /// Decision D5: a snapshot written by `SHUTDOWN REWRITE-AOF`, loaded with
    /// `aof-enqueue-jobs-once`: jobs come back exactly as they were, queued
    /// at-most-once jobs included.
    ExactState,
}

impl Node {
    /// Replays one `LOADJOB` payload. Expired jobs and duplicates are skipped.
    pub fn load_job(
        &mut self,
        env: &Env,
        payload: &Bytes,
        mode: LoadMode,
        fx: &mut Effects,
    ) -> Result<(), CorruptJob> {
        let decoded = job_codec::decode(payload, Form::Storage, env.now_ms)?;
        let mut job = decoded.job;
        if job.etime <= env.now_s() || self.jobs.contains_key(&job.id) {
            return Ok(());
        }
        let was_queued = job.state == JobState::Queued;
        if job.state == JobState::WaitRepl || job.state == JobState::Acked {
            return Err(CorruptJob);
        }
        job.state = JobState::Active;
        // Holders still known keep receiving acks and requeue notices.
        job.nodes_delivered = decoded
            .nodes
            .into_iter()
            .filter(|n| self.is_known_node(n))
            .collect();
        job.add_delivered(self.id());
        let exact = mode == LoadMode::ExactState;
        // Never queued yet and still within its DELAY (D5: restored exactly).
        let awaiting_delay = exact
            && !was_queued
            && job.delay > 0
            && !job.has(FLAG_BCAST_QUEUED)
            && !job.has(FLAG_DELIVERED);
        if awaiting_delay {
            job.qtime = (job.ctime_ms() + job.delay as u64 * 1000).max(env.now_ms);
        } else if job.retry > 0 {
            job.flags |= FLAG_BCAST_WILLQUEUE;
            job.qtime = self.jittered(env.now_ms + job.delay as u64 * 1000, job.retry);
        } else {
            job.qtime = if exact && was_queued { env.now_ms } else { 0 };
        }
        crate::replication::honour_nack_delay(&mut job, decoded.nack_delay_until);
        let id = job.id;
        self.register(env, job);
        if was_queued && mode != LoadMode::Normal {
            self.enqueue(env, &id, false, fx);
        }
        Ok(())
    }

    /// Replays one `DELJOB` record.
    pub fn load_deljob(&mut self, id: &JobId) {
        let mut fx = Effects::default();
        let saved = std::mem::replace(&mut self.config_mut().aof_logging, false);
        self.unregister(id, &mut fx);
        self.config_mut().aof_logging = saved;
    }

    /// The records of a rewritten AOF: one `LOADJOB` (storage form, current state)
    /// per active or queued job.
    pub fn aof_snapshot(&self, out: &mut BytesMut) {
        let mut payload = BytesMut::new();
        for job in self
            .jobs
            .values()
            .filter(|j| matches!(j.state, JobState::Active | JobState::Queued))
        {
            payload.clear();
            job_codec::encode(job, Form::Storage, 0, &mut payload);
            disque_proto::encode_request(&[&b"LOADJOB"[..], &payload], out);
        }
    }
}
