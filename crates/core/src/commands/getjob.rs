//! GETJOB (docs/commands.md §2.2): round-robin passes over the listed queues, then
//! blocking.

use crate::args::{integer, is, timeout_deadline};
use crate::effects::{ClientId, Effects, Env};
use crate::federation::NeedReason;
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

struct GetJobOptions<'a> {
    nohang: bool,
    with_counters: bool,
    deadline: Option<u64>,
    count: usize,
    queues: &'a [Bytes],
}

fn parse<'a>(env: &Env, args: &'a [Bytes]) -> Result<GetJobOptions<'a>, Reply> {
    let mut o = GetJobOptions {
        nohang: false,
        with_counters: false,
        deadline: None,
        count: 1,
        queues: &[],
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i][..];
        let value = args.get(i + 1);
        if is(arg, "nohang") {
            o.nohang = true;
        } else if is(arg, "withcounters") {
            o.with_counters = true;
        } else if let (true, Some(value)) = (is(arg, "timeout"), value) {
            o.deadline = timeout_deadline(value, env.now_ms)?;
            i += 1;
        } else if let (true, Some(value)) = (is(arg, "count"), value) {
            let count = integer(value).ok().filter(|n| *n > 0);
            o.count = count
                .ok_or_else(|| Reply::error("ERR COUNT must be a number greater than zero"))?
                as usize;
            i += 1;
        } else if is(arg, "from") {
            o.queues = &args[i + 1..];
            break;
        } else {
            return Err(Reply::error("ERR syntax error"));
        }
        i += 1;
    }
    if o.queues.is_empty() {
        return Err(Reply::error("ERR syntax error"));
    }
    Ok(o)
}

impl Node {
    /// `GETJOB [NOHANG] [TIMEOUT ms] [COUNT n] [WITHCOUNTERS] FROM queue...`.
    pub(crate) fn cmd_getjob(
        &mut self,
        env: &Env,
        client: ClientId,
        args: &[Bytes],
        fx: &mut Effects,
    ) -> Option<Reply> {
        let o = match parse(env, args) {
            Ok(o) => o,
            Err(reply) => return Some(reply),
        };
        let mut taken = self.replies.array();
        'passes: loop {
            let mut took_any = false;
            for name in o.queues {
                if taken.len() == o.count {
                    break 'passes;
                }
                match self.fetch_entry(env, name) {
                    Some((job, _)) => {
                        taken.push(self.job_entry_at(job, o.with_counters));
                        took_any = true;
                    }
                    // A queue that gave nothing gets a queue object and asks other
                    // nodes for jobs (federation).
                    None => {
                        self.queue_or_create(name, env.now_s());
                        self.need_jobs(env, name, NeedReason::ClientsWaiting, fx);
                    }
                }
            }
            if !took_any || taken.len() == o.count {
                break;
            }
        }
        if !taken.is_empty() {
            return Some(Reply::Array(taken));
        }
        self.replies.recycle(Reply::Array(taken));
        if o.nohang {
            return Some(Reply::NullArray);
        }
        if self.is_leaving() {
            return Some(Reply::error(
                "LEAVING This node is leaving the cluster, please connect to a different one",
            ));
        }
        self.block_getjob(
            env,
            client,
            o.queues.to_vec(),
            o.deadline,
            o.with_counters,
            fx,
        );
        None
    }
}
