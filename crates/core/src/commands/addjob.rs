//! ADDJOB (docs/commands.md §2.1): validation in the spec's order, defaults, job creation.

use crate::args::{integer, is, timeout_deadline};
use crate::effects::{ClientId, Effects, Env};
use crate::ids::JobId;
use crate::job::{Body, DeadLetter, Holders, Job, JobSpec, JobState, DEFAULT_PRIORITY};
use crate::node::{Count, Node};
use bytes::Bytes;
use disque_proto::Reply;

const DEFAULT_TTL: i64 = 86_400;
/// Longest a job's queue name and DEADLETTER queue name may be together
/// (decision D15), so that a job of the largest body still fits a bus frame
/// ([`crate::cluster::message::MAX_FRAME`]).
pub(crate) const MAX_QUEUE_NAMES: usize = 1 << 20;

/// ADDJOB options after parsing.
#[derive(Debug)]
struct AddJobOptions {
    replicate: Option<i64>,
    ttl: Option<i64>,
    retry: Option<i64>,
    delay: i64,
    maxlen: Option<i64>,
    asynchronous: bool,
    /// PRIORITY (decision D18).
    priority: u8,
    /// DEADLETTER queue and max deliveries (decision D17).
    dead_letter: Option<(Bytes, u32)>,
}

fn parse_options(args: &[Bytes]) -> Result<AddJobOptions, Reply> {
    let mut o = AddJobOptions {
        replicate: None,
        ttl: None,
        retry: None,
        delay: 0,
        maxlen: None,
        asynchronous: false,
        priority: DEFAULT_PRIORITY,
        dead_letter: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i][..];
        let value = args.get(i + 1);
        match value {
            Some(v) if is(arg, "replicate") => {
                o.replicate = Some(
                    integer(v)
                        .ok()
                        .filter(|n| (1..=65535).contains(n))
                        .ok_or_else(|| Reply::error("ERR REPLICATE must be between 1 and 65535"))?,
                );
            }
            Some(v) if is(arg, "ttl") => {
                o.ttl = Some(
                    integer(v)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Reply::error("ERR TTL must be a number > 0"))?,
                );
            }
            Some(v) if is(arg, "retry") => {
                o.retry =
                    Some(integer(v).ok().filter(|n| *n >= 0).ok_or_else(|| {
                        Reply::error("ERR RETRY time must be a non negative number")
                    })?);
            }
            Some(v) if is(arg, "delay") => {
                o.delay = integer(v)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| Reply::error("ERR DELAY time must be a non negative number"))?;
            }
            Some(v) if is(arg, "maxlen") => {
                o.maxlen = Some(
                    integer(v)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Reply::error("ERR MAXLEN must be a positive number"))?,
                );
            }
            Some(v) if is(arg, "priority") => {
                o.priority = integer(v)
                    .ok()
                    .filter(|n| (0..=9).contains(n))
                    .ok_or_else(|| Reply::error("ERR PRIORITY must be between 0 and 9"))?
                    as u8;
            }
            Some(queue) if is(arg, "deadletter") && i + 2 < args.len() => {
                let max = integer(&args[i + 2])
                    .ok()
                    .filter(|n| (1..=u32::MAX as i64).contains(n))
                    .ok_or_else(|| {
                        Reply::error("ERR DEADLETTER max-deliveries must be a positive number")
                    })?;
                o.dead_letter = Some((queue.clone(), max as u32));
                i += 3;
                continue;
            }
            _ if is(arg, "async") => {
                o.asynchronous = true;
                i += 1;
                continue;
            }
            _ => return Err(Reply::error("ERR syntax error")),
        }
        i += 2;
    }
    Ok(o)
}

impl Node {
    /// `ADDJOB queue body ms-timeout [options]`.
    /// Returns `None` when the client blocks until the job is replicated.
    pub(crate) fn cmd_addjob(
        &mut self,
        env: &Env,
        client: ClientId,
        args: &[Bytes],
        fx: &mut Effects,
    ) -> Option<Reply> {
        match self.try_addjob(env, client, args, fx) {
            Ok(reply) => reply,
            Err(reply) => Some(reply),
        }
    }

    fn try_addjob(
        &mut self,
        env: &Env,
        client: ClientId,
        args: &[Bytes],
        fx: &mut Effects,
    ) -> Result<Option<Reply>, Reply> {
        let (queue, body) = (&args[1], &args[2]);
        let o = parse_options(&args[4..])?;
        let deadline = timeout_deadline(&args[3], env.now_ms)?;
        let replicate = o.replicate.unwrap_or(self.cluster_size().min(3) as i64);
        if replicate > 1 && o.retry == Some(0) {
            return Err(Reply::error(
                "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)",
            ));
        }
        let ttl = o.ttl.unwrap_or(DEFAULT_TTL);
        if o.delay >= ttl {
            return Err(Reply::error(
                "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered",
            ));
        }
        if o.dead_letter.as_ref().is_some_and(|(q, _)| q == queue) {
            return Err(Reply::error(
                "ERR DEADLETTER queue must be different from the job queue",
            ));
        }
        let names = queue.len() + o.dead_letter.as_ref().map_or(0, |(q, _)| q.len());
        if names > MAX_QUEUE_NAMES {
            return Err(Reply::error(
                "ERR queue names too long (1048576 bytes at most, DEADLETTER queue included)",
            ));
        }
        let retry = o.retry.unwrap_or_else(|| (ttl / 10).clamp(1, 300));
        self.check_reachability(env, replicate as usize)?;
        if let Some(q) = self.queues.get(queue) {
            if o.maxlen.is_some_and(|max| q.len() as i64 >= max) {
                return Err(Reply::error(
                    "MAXLEN Queue is already longer than the specified MAXLEN count",
                ));
            }
            if q.pause().input {
                return Err(Reply::error("PAUSED Queue paused in input, try later"));
            }
        }
        let ttl = ttl as u64;
        let (delay, retry) = (
            o.delay.min(u32::MAX as i64) as u32,
            retry.min(u32::MAX as i64) as u32,
        );
        let id = JobId::generate(&self.id(), &mut self.rng, ttl, retry);
        let ctime = self.next_ctime(env.now_ms * 1_000_000);
        let qtime = env.now_ms
            + if delay > 0 {
                delay as u64 * 1000
            } else {
                retry as u64 * 1000
            };
        let holders = self.jobs.holders(&[self.id()]);
        // Not kept here when replicated externally: it is never logged and
        // never queued locally.
        let external = self.replicates_externally(env);
        let job = Job::new(JobSpec {
            id,
            state: if external {
                JobState::WaitRepl
            } else {
                JobState::Active
            },
            flags: 0,
            repl: replicate as u16,
            // The stored expire time is 32-bit (docs/persistence.md §2.3): year 2106 at most.
            etime: env.now_s().saturating_add(ttl).min(u32::MAX as u64),
            ctime,
            delay,
            retry,
            priority: o.priority,
            nacks: 0,
            additional_deliveries: 0,
            queue: Some(self.queue_name(queue)),
            body: Some(Body::new(body)),
            nodes_delivered: if external {
                Holders::default()
            } else {
                holders
            },
            dead_letter: o.dead_letter.map(|(queue, max_deliveries)| {
                Box::new(DeadLetter {
                    queue: Bytes::copy_from_slice(&queue),
                    max_deliveries,
                })
            }),
            qtime,
        });
        let synchronous = (replicate > 1 || external) && !o.asynchronous;
        let queue_now = delay == 0 && !synchronous && !external;
        if queue_now {
            // Queueing schedules it (a first schedule would be stale at once).
            let entry = self.register_unscheduled(job);
            if !self.enqueue_entry(env, entry, Count::Delivery, fx) {
                self.reschedule(env, &id);
            }
        } else {
            self.register(env, job);
        }
        let reply = Reply::Status(self.replies.copy(id.as_bytes()));
        if synchronous {
            self.start_sync_replication(env, client, id, external, deadline, fx);
            return Ok(None);
        }
        if external {
            self.replicate_async(env, &id, true, fx);
            return Ok(Some(reply));
        }
        if replicate > 1 {
            self.replicate_async(env, &id, false, fx);
        }
        // Logged with its holders, so that a restarted node still acks them all.
        self.log_loadjob(&id, fx);
        Ok(Some(reply))
    }

    /// Leaving, or above 75% of maxmemory: ADDJOB keeps no local copy.
    fn replicates_externally(&self, env: &Env) -> bool {
        self.is_leaving() || self.memory_warning_level(env) >= 1
    }

    /// Step 6 of ADDJOB validation: can the requested copies be made?
    /// (A lone node can only keep its own copy, and only when it may keep one.)
    fn check_reachability(&self, env: &Env, replicate: usize) -> Result<(), Reply> {
        let external = self.replicates_externally(env);
        let needed = if external { replicate } else { replicate - 1 };
        let reachable = self.reachable_count();
        if needed <= reachable {
            return Ok(());
        }
        if external && needed - 1 == reachable {
            let reason = if self.is_leaving() {
                "I'm leaving the cluster"
            } else {
                "I'm out of memory"
            };
            return Err(Reply::error_owned(format!(
                "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: {reason}"
            )));
        }
        Err(Reply::error(
            "NOREPL Not enough reachable nodes for the requested replication level",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::CommandId;

    #[test]
    fn queue_names_over_one_mib_together_are_refused() {
        let (mut node, env) = crate::node::test_node();
        let mut add = |queue: usize, dead_letter: usize| {
            let args = [
                Bytes::from_static(b"ADDJOB"),
                Bytes::from(vec![b'q'; queue]),
                Bytes::from_static(b"body"),
                Bytes::from_static(b"0"),
                Bytes::from_static(b"DEADLETTER"),
                Bytes::from(vec![b'd'; dead_letter]),
                Bytes::from_static(b"3"),
            ];
            node.on_command(&env, 1, CommandId::Addjob, &args, &mut Effects::default())
        };
        assert!(matches!(
            add(MAX_QUEUE_NAMES / 2, MAX_QUEUE_NAMES / 2),
            Some(Reply::Status(_))
        ));
        assert_eq!(
            add(MAX_QUEUE_NAMES / 2, MAX_QUEUE_NAMES / 2 + 1),
            Some(Reply::error(
                "ERR queue names too long (1048576 bytes at most, DEADLETTER queue included)"
            ))
        );
    }
}
