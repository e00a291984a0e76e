//! QLEN, QPEEK, QSTAT, QSCAN and PAUSE (docs/commands.md §3).

use crate::args::{integer, is, parse_cursor};
use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::node::Node;
use crate::queue::Pause;
use crate::scan::ScanLimits;
use bytes::Bytes;
use disque_proto::Reply;

/// Runs QSCAN or JSCAN: parses the arguments into `filter` (see
/// [`parse_scan_common`]), then replies `[next cursor, items]` where
/// `scan(filter, cursor, limits, items)` fills `items` and returns the next
/// cursor.
pub(crate) fn scan_reply<'a, F>(
    args: &'a [Bytes],
    mut filter: F,
    mut option: impl FnMut(&mut F, &'a [u8], &'a Bytes) -> Result<bool, Reply>,
    scan: impl FnOnce(&F, u64, ScanLimits, &mut Vec<Reply>) -> u64,
) -> Reply {
    let (cursor, limits) =
        match parse_scan_common(args, |keyword, value| option(&mut filter, keyword, value)) {
            Ok(c) => c,
            Err(reply) => return reply,
        };
    let mut items = Vec::new();
    let next = scan(&filter, cursor, limits, &mut items);
    Reply::Array(vec![
        Reply::bulk_string(next.to_string()),
        Reply::Array(items),
    ])
}

/// Parses the cursor, COUNT and BUSYLOOP shared by QSCAN and JSCAN. Other
/// keywords that have a value after them go to `option(keyword, value)`, which
/// returns Ok(true) when it took them; anything else is the cursor.
fn parse_scan_common<'a>(
    args: &'a [Bytes],
    mut option: impl FnMut(&'a [u8], &'a Bytes) -> Result<bool, Reply>,
) -> Result<(u64, ScanLimits), Reply> {
    let mut cursor = None;
    let mut limits = ScanLimits {
        count: 100,
        busyloop: false,
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i][..];
        if is(arg, "busyloop") {
            limits.busyloop = true;
            i += 1;
            continue;
        }
        if let Some(value) = args.get(i + 1) {
            if is(arg, "count") {
                limits.count = integer(value)?;
                i += 2;
                continue;
            }
            if option(arg, value)? {
                i += 2;
                continue;
            }
        }
        if cursor.is_some() {
            return Err(Reply::error("ERR syntax error"));
        }
        cursor = Some(
            parse_cursor(arg).ok_or_else(|| Reply::error("ERR invalid cursor or option name"))?,
        );
        i += 1;
    }
    Ok((cursor.unwrap_or(0), limits))
}

fn field(name: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(name.as_bytes()))
}

impl Node {
    /// `QLEN queue`.
    pub(crate) fn cmd_qlen(&self, args: &[Bytes]) -> Reply {
        Reply::Integer(self.queues.get(&args[1]).map_or(0, |q| q.len()) as i64)
    }

    /// `QPEEK queue count`: positive from the oldest, negative from the newest.
    pub(crate) fn cmd_qpeek(&mut self, args: &[Bytes]) -> Reply {
        let count = match integer(&args[2]) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let Some(queue) = self.queues.get(&args[1]) else {
            return Reply::Array(vec![]);
        };
        let n = count.unsigned_abs().min(usize::MAX as u64) as usize;
        let ids = queue.peek(n, count < 0, &self.jobs);
        Reply::Array(ids.iter().map(|id| self.job_entry(id, false)).collect())
    }

    /// `QSTAT queue`.
    pub(crate) fn cmd_qstat(&self, env: &Env, args: &[Bytes]) -> Reply {
        let Some(q) = self.queues.get(&args[1]) else {
            return Reply::NullArray;
        };
        let now = env.now_s();
        Reply::Array(vec![
            field("name"),
            Reply::Bulk(q.name().bytes().clone()),
            field("len"),
            Reply::Integer(q.len() as i64),
            field("age"),
            Reply::Integer(now.saturating_sub(q.ctime()) as i64),
            field("idle"),
            Reply::Integer(now.saturating_sub(q.atime()) as i64),
            field("blocked"),
            Reply::Integer(q.blocked().len() as i64),
            field("import-from"),
            Reply::Array(
                q.federation()
                    .responders()
                    .map(|n| Reply::bulk_from(n.as_bytes()))
                    .collect(),
            ),
            field("import-rate"),
            Reply::Integer(q.federation().import_rate(env.now_ms) as i64),
            field("jobs-in"),
            Reply::Integer(q.jobs_in() as i64),
            field("jobs-out"),
            Reply::Integer(q.jobs_out() as i64),
            field("pause"),
            field(q.pause().name()),
        ])
    }

    /// `QSCAN [cursor] [COUNT n] [BUSYLOOP] [MINLEN n] [MAXLEN n] [IMPORTRATE n]`.
    pub(crate) fn cmd_qscan(&self, env: &Env, args: &[Bytes]) -> Reply {
        scan_reply(
            args,
            (-1i64, -1i64, -1i64),
            |(minlen, maxlen, importrate), keyword, value| {
                let slot = if is(keyword, "minlen") {
                    minlen
                } else if is(keyword, "maxlen") {
                    maxlen
                } else if is(keyword, "importrate") {
                    importrate
                } else {
                    return Ok(false);
                };
                *slot = integer(value)?;
                Ok(true)
            },
            |&(minlen, maxlen, importrate), cursor, limits, names| {
                self.queues.scan(cursor, limits, |q| {
                    let len = q.len() as i64;
                    let wanted = (minlen < 0 || len >= minlen)
                        && (maxlen < 0 || len <= maxlen)
                        && (importrate < 0
                            || q.federation().import_rate(env.now_ms) as i64 >= importrate);
                    if wanted {
                        names.push(Reply::Bulk(q.name().bytes().clone()));
                    }
                    wanted
                })
            },
        )
    }

    /// `PAUSE queue option...`: in, out, all, none, state, bcast.
    pub(crate) fn cmd_pause(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let mut new = Pause::default();
        let (mut change, mut bcast) = (false, false);
        for arg in &args[2..] {
            if is(arg, "in") {
                (new.input, change) = (true, true);
            } else if is(arg, "out") {
                (new.output, change) = (true, true);
            } else if is(arg, "all") {
                let all = Pause {
                    input: true,
                    output: true,
                };
                (new, change) = (all, true);
            } else if is(arg, "none") {
                (new, change) = (Pause::default(), true);
            } else if is(arg, "bcast") {
                bcast = true;
            } else if !is(arg, "state") {
                return Reply::error("ERR syntax error");
            }
        }
        let name = &args[1];
        if change {
            self.set_pause(env, name, new);
        }
        let state = self
            .queues
            .get(name)
            .map_or(Pause::default(), |q| q.pause());
        if bcast {
            let flags = state.input as u8 | (state.output as u8) << 1;
            let targets = self.linked_nodes();
            self.send_many(
                &targets,
                Message::Pause {
                    queue: name.clone(),
                    flags,
                },
                fx,
            );
        }
        Reply::status(state.name())
    }

    /// Replaces a queue's pause flags, creating the queue unless the flags are none;
    /// clearing an output pause serves waiting clients.
    pub(crate) fn set_pause(&mut self, env: &Env, name: &Bytes, pause: Pause) {
        if pause.is_none() && !self.queues.contains(name) {
            return;
        }
        let queue = self.queue_or_create(name, env.now_s());
        queue.set_pause(pause);
        if !pause.output && !queue.is_empty() && !queue.blocked().is_empty() {
            self.blocked.mark_ready(name.clone());
        }
    }
}
