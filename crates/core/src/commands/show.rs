//! SHOW and JSCAN (docs/commands.md §2.9, §3.5): the 30-element job description and
//! the job table iterator.

use super::ack::bad_id;
use super::queues::scan_reply;
use crate::args::is;
use crate::effects::Env;
use crate::ids::{JobId, NodeId};
use crate::job::{JobState, DEFAULT_PRIORITY};
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

fn field(name: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(name.as_bytes()))
}

fn node_list(nodes: &[NodeId]) -> Reply {
    Reply::Array(
        nodes
            .iter()
            .map(|n| Reply::bulk_from(n.as_bytes()))
            .collect(),
    )
}

impl Node {
    /// `SHOW id`.
    pub(crate) fn cmd_show(&self, env: &Env, args: &[Bytes]) -> Reply {
        match JobId::parse(&args[1]) {
            None => bad_id(),
            Some(id) => self.describe_job(env, &id),
        }
    }

    /// The SHOW array of a job, or nil when unknown.
    pub(crate) fn describe_job(&self, env: &Env, id: &JobId) -> Reply {
        let Some(job) = self.jobs.get(id) else {
            return Reply::Nil;
        };
        let dummy = job.is_dummy_ack();
        let ms_until = |t: u64| Reply::Integer(t.saturating_sub(env.now_ms) as i64);
        let requeue = if job.qtime() == 0 || dummy {
            Reply::Nil
        } else {
            ms_until(job.qtime())
        };
        let awake = if job.local().awake == 0 {
            Reply::Nil
        } else {
            ms_until(job.local().awake)
        };
        let opt = |b: &Option<Bytes>| b.clone().map_or(Reply::Nil, Reply::Bulk);
        let mut reply = vec![
            field("id"),
            Reply::bulk_from(id.as_bytes()),
            field("queue"),
            opt(&job.queue_bytes().cloned()),
            field("state"),
            field(job.state().name()),
            field("repl"),
            Reply::Integer(job.repl() as i64),
            field("ttl"),
            Reply::Integer(job.etime().saturating_sub(env.now_s()) as i64),
            field("ctime"),
            Reply::Integer(job.ctime() as i64),
            field("delay"),
            Reply::Integer(job.delay() as i64),
            field("retry"),
            Reply::Integer(job.retry() as i64),
            field("nacks"),
            Reply::Integer(job.nacks() as i64),
            field("additional-deliveries"),
            Reply::Integer(job.additional_deliveries() as i64),
            field("nodes-delivered"),
            node_list(job.nodes_delivered()),
            field("nodes-confirmed"),
            node_list(job.nodes_confirmed().map_or(&[][..], |c| c)),
            field("next-requeue-within"),
            requeue,
            field("next-awake-within"),
            awake,
            field("body"),
            job.body()
                .as_ref()
                .map_or(Reply::Nil, |b| Reply::Bulk(b.to_bytes())),
        ];
        // D17 and D18: fields after `body`, only for jobs that use them.
        if let Some(d) = &job.dead_letter() {
            reply.extend([
                field("dead-letter-queue"),
                Reply::Bulk(d.queue.clone()),
                field("max-deliveries"),
                Reply::Integer(d.max_deliveries as i64),
            ]);
        }
        if job.priority() != DEFAULT_PRIORITY {
            reply.extend([field("priority"), Reply::Integer(job.priority() as i64)]);
        }
        Reply::Array(reply)
    }

    /// `JSCAN [cursor] [COUNT n] [BUSYLOOP] [QUEUE q] [STATE s...] [REPLY all|id]`.
    pub(crate) fn cmd_jscan(&self, env: &Env, args: &[Bytes]) -> Reply {
        let filter: (Option<&Bytes>, Vec<JobState>, bool) = (None, Vec::new(), false);
        scan_reply(
            args,
            filter,
            |(queue, states, reply_all), keyword, value| {
                if is(keyword, "queue") {
                    *queue = Some(value);
                } else if is(keyword, "state") {
                    states.push(
                        JobState::from_name(value)
                            .ok_or_else(|| Reply::error("ERR Invalid job state name"))?,
                    );
                } else if is(keyword, "reply") {
                    *reply_all = if is(value, "all") {
                        true
                    } else if is(value, "id") {
                        false
                    } else {
                        return Err(Reply::error("ERR Invalid REPLY type, try ID or ALL"));
                    };
                } else {
                    return Ok(false);
                }
                Ok(true)
            },
            |(queue, states, reply_all), cursor, limits, items| {
                self.jobs.scan(cursor, limits, |job| {
                    let id = &job.id();
                    let wanted = !job.is_dummy_ack()
                        && queue.is_none_or(|q| job.queue_bytes() == Some(q))
                        && (states.is_empty() || states.contains(&job.state()));
                    if wanted {
                        items.push(if *reply_all {
                            self.describe_job(env, id)
                        } else {
                            Reply::Status(Bytes::copy_from_slice(id.as_bytes()))
                        });
                    }
                    wanted
                })
            },
        )
    }
}
