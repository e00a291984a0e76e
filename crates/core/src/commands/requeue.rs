//! ENQUEUE, NACK, DEQUEUE and WORKING (docs/commands.md §2.6–§2.8).

use super::ack::{bad_id, parse_ids};
use crate::args::{integer, is};
use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::ids::JobId;
use crate::job::JobState;
use crate::node::{Count, Node};
use crate::requeue::News;
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
            let active = self
                .jobs
                .get(id)
                .is_some_and(|j| j.state() == JobState::Active);
            let done = active
                && if nack {
                    self.requeue(env, id, Count::Nack, fx)
                } else {
                    self.enqueue(env, id, false, fx)
                };
            if done {
                queued += 1;
            }
        }
        Reply::Integer(queued)
    }

    /// `NACK [DELAY <seconds>] id...` (decision D16). Without DELAY (or with
    /// `DELAY 0`) it is the original NACK. `DELAY` as the last argument is
    /// no option, so it fails as an id would.
    pub(crate) fn cmd_nack(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let delay = match args.get(2) {
            Some(value) if is(&args[1], "delay") => match integer(value) {
                Ok(secs) if secs >= 0 => secs as u64,
                _ => return Reply::error("ERR DELAY time must be a non negative number"),
            },
            _ => return self.cmd_enqueue(env, args, true, fx),
        };
        let ids_args = &args[2..];
        if delay == 0 {
            return self.cmd_enqueue(env, ids_args, true, fx);
        }
        let ids = match parse_ids(ids_args) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let delay_ms = delay.saturating_mul(1000);
        let mut delayed = 0;
        for id in &ids {
            if self.nack_later(env, id, delay_ms, fx) {
                delayed += 1;
            }
        }
        Reply::Integer(delayed)
    }

    /// One job of a NACK DELAY: counts the NACK now and requeues it (here)
    /// when the delay ends; the other holders dequeue it and wait as long.
    /// False for what NACK would not queue (not active, at-most-once).
    fn nack_later(&mut self, env: &Env, id: &JobId, delay_ms: u64, fx: &mut Effects) -> bool {
        let active = self
            .jobs
            .get(id)
            .is_some_and(|j| j.state() == JobState::Active);
        if !active || !self.can_enqueue(id) {
            return false;
        }
        let job = self.jobs.get_mut(id).expect("checked");
        job.count_nack();
        job.delay_for_nack(job.clamp_to_life(env.now_ms.saturating_add(delay_ms)));
        self.reschedule(env, id);
        // Every holder must postpone: when the list here may miss one (it
        // changed after creation, for example a holder that came back empty
        // and took a new copy, which this node may not believe yet), every
        // node is told; nodes without the job ignore it.
        let targets = self.possible_holders(&self.jobs[id]);
        self.send_many(&targets, Message::NackDelay { id: *id, delay_ms }, fx);
        // A holder with no link up now is told when its link comes up.
        self.note_untold_news(id, News::NackDelay, &targets);
        self.log_changed(id, fx);
        true
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
        let life_ms = (job.etime() as i64).saturating_mul(1000) - ctime_ms;
        let elapsed = env.now_ms as i64 - ctime_ms;
        if life_ms > 0 && elapsed > life_ms / 2 {
            return Reply::error(
                "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.",
            );
        }
        let retry = job.retry();
        self.postpone(env, &id, true);
        self.send_to_holders(&id, Message::Working(id), fx);
        Reply::Integer(retry as i64)
    }

    /// Dequeues (if `dequeue`) and pushes the job's next requeue RETRY seconds away.
    pub(crate) fn postpone(&mut self, env: &Env, id: &JobId, dequeue: bool) {
        if dequeue {
            self.dequeue(id);
        }
        let Some(retry) = self.jobs.get(id).map(|j| j.retry()) else {
            return;
        };
        let next = self.jittered(env.now_ms, retry);
        let job = self.jobs.get_mut(id).expect("checked above");
        if job.state() == JobState::Acked {
            return;
        }
        job.announce_requeue();
        // WORKING never brings the end of a NACK DELAY closer (D16).
        if retry > 0 {
            job.postpone_requeue(next);
        }
        self.reschedule(env, id);
    }
}
