//! ENQUEUE, NACK, DEQUEUE and WORKING (commands.md §2.6–§2.8).

use super::ack::{bad_id, parse_ids};
use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::JobId;
use crate::job::{JobState, FLAG_BCAST_WILLQUEUE};
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

impl Node {
    /// `ENQUEUE id...` / `NACK id...`: queue active jobs (ignoring input pause).
    pub(crate) fn cmd_enqueue(
        &mut self,
        env: &Env,
        args: &[Bytes],
        nack: bool,
        fx: &mut Effects,
    ) -> Reply {
        let ids = match parse_ids(args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let mut queued = 0;
        for id in &ids {
            if self
                .jobs
                .get(id)
                .is_some_and(|j| j.state == JobState::Active)
                && self.enqueue(env, id, nack, fx)
            {
                queued += 1;
            }
        }
        Reply::Integer(queued)
    }

    /// `DEQUEUE id...`: take queued jobs out of their queues.
    pub(crate) fn cmd_dequeue(&mut self, args: &[Bytes]) -> Reply {
        let ids = match parse_ids(args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        Reply::Integer(ids.iter().filter(|id| self.dequeue(id)).count() as i64)
    }

    /// `WORKING id`: postpone the next delivery by RETRY, unless half the TTL passed.
    pub(crate) fn cmd_working(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let Some(id) = JobId::parse(&args[1]) else {
            return bad_id();
        };
        let Some(job) = self.jobs.get(&id) else {
            return Reply::error("NOJOB Job not known in the context of this node.");
        };
        let ctime_ms = job.ctime_ms() as i64;
        let life_ms = (job.etime as i64).saturating_mul(1000) - ctime_ms;
        let elapsed = env.now_ms as i64 - ctime_ms;
        if life_ms > 0 && elapsed > life_ms / 2 {
            return Reply::error(
                "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.",
            );
        }
        let retry = job.retry;
        self.postpone(env, &id, true);
        self.send_to_holders(&id, Message::Working(id), fx);
        Reply::Integer(retry as i64)
    }

    /// Dequeues (if `dequeue`) and pushes the job's next requeue RETRY seconds away.
    pub(crate) fn postpone(&mut self, env: &Env, id: &JobId, dequeue: bool) {
        if dequeue {
            self.dequeue(id);
        }
        let Some(retry) = self.jobs.get(id).map(|j| j.retry) else {
            return;
        };
        let next = self.jittered(env.now_ms, retry);
        let job = self.jobs.get_mut(id).expect("checked above");
        if job.state == JobState::Acked {
            return;
        }
        job.flags |= FLAG_BCAST_WILLQUEUE;
        if retry > 0 {
            job.qtime = next;
        }
        self.reschedule(env, id);
    }
}
