//! Queue and scan commands: `QSTAT`, `QSCAN`, `JSCAN` and `PAUSE`, their
//! options and results.

use std::borrow::Cow;

use bytes::Bytes;

use crate::jobs::{field_pairs, num, number, push_numeric, text, unexpected, word, Args, JobInfo};
use crate::{ClientError, Reply};

/// A queue as `QSTAT` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStat {
    /// Queue name.
    pub name: Bytes,
    /// Jobs queued.
    pub len: i64,
    /// Seconds since the queue was created.
    pub age: i64,
    /// Seconds since a job was queued into it or taken from it.
    pub idle: i64,
    /// Clients blocked on it.
    pub blocked: i64,
    /// Nodes that recently sent jobs for it.
    pub import_from: Vec<String>,
    /// Jobs per second imported recently.
    pub import_rate: i64,
    /// Jobs queued into it, in total.
    pub jobs_in: i64,
    /// Jobs taken from it, in total.
    pub jobs_out: i64,
    /// Its pause state.
    pub pause: Pause,
}

impl QueueStat {
    /// Reads a `QSTAT` reply: `None` for a queue this node does not have.
    pub fn from_reply(reply: Reply) -> Result<Option<QueueStat>, ClientError> {
        let items = match reply {
            Reply::NullArray | Reply::Nil => return Ok(None),
            Reply::Array(items) => items,
            other => return Err(unexpected(other)),
        };
        let parse = || {
            let mut stat = QueueStat::default();
            for (name, value) in field_pairs(&items)? {
                match name.as_str() {
                    "name" => match value {
                        Reply::Bulk(b) => stat.name = b.clone(),
                        _ => return None,
                    },
                    "len" => stat.len = number(value)?,
                    "age" => stat.age = number(value)?,
                    "idle" => stat.idle = number(value)?,
                    "blocked" => stat.blocked = number(value)?,
                    "import-from" => match value {
                        Reply::Array(ids) => {
                            stat.import_from = ids.iter().map(text).collect::<Option<_>>()?
                        }
                        _ => return None,
                    },
                    "import-rate" => stat.import_rate = number(value)?,
                    "jobs-in" => stat.jobs_in = number(value)?,
                    "jobs-out" => stat.jobs_out = number(value)?,
                    "pause" => stat.pause = Pause::parse(&text(value)?)?,
                    _ => {}
                }
            }
            Some(stat)
        };
        match parse() {
            Some(stat) => Ok(Some(stat)),
            None => Err(ClientError::UnexpectedReply(Reply::Array(items))),
        }
    }
}

/// A queue's pause state (`PAUSE`, `QSTAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pause {
    /// Not paused.
    #[default]
    None,
    /// No job enters the queue (ADDJOB refused).
    In,
    /// No job leaves it (GETJOB blocks, no federation).
    Out,
    /// Both.
    All,
}

impl Pause {
    /// The option word `PAUSE` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Pause::None => "none",
            Pause::In => "in",
            Pause::Out => "out",
            Pause::All => "all",
        }
    }

    /// Reads `none`, `in`, `out` or `all` (any case).
    pub fn parse(text: &str) -> Option<Pause> {
        [Pause::None, Pause::In, Pause::Out, Pause::All]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }
}

/// Options of `QSCAN`; `Default` sends none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueScan {
    /// `COUNT <n>`: about how many names per call.
    pub count: Option<u64>,
    /// `BUSYLOOP`: the whole scan in one call.
    pub busyloop: bool,
    /// `MINLEN <n>`: only queues with at least n jobs.
    pub min_len: Option<u64>,
    /// `MAXLEN <n>`: only queues with at most n jobs.
    pub max_len: Option<u64>,
    /// `IMPORTRATE <n>`: only queues importing at least n jobs/s.
    pub import_rate: Option<u64>,
}

/// Options of `JSCAN`; `Default` sends none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobScan {
    /// `COUNT <n>`: about how many jobs per call.
    pub count: Option<u64>,
    /// `BUSYLOOP`: the whole scan in one call.
    pub busyloop: bool,
    /// `QUEUE <q>`: only the jobs of this queue.
    pub queue: Option<String>,
    /// `STATE <s>...`: only jobs in one of these states (`wait-repl`,
    /// `active`, `queued`, `acked`).
    pub states: Vec<String>,
}

/// One page of a scan: the cursor to continue with (0 when done) and the
/// items found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPage<T> {
    /// Pass it to the next call; 0 means the scan is complete.
    pub cursor: u64,
    /// What this call found.
    pub items: Vec<T>,
}

pub(crate) fn qscan_args(cursor: u64, scan: &QueueScan) -> Args<'static> {
    let mut args = vec![word("QSCAN"), num(cursor)];
    push_count(&mut args, scan.count, scan.busyloop);
    push_numeric(
        &mut args,
        [
            ("MINLEN", scan.min_len),
            ("MAXLEN", scan.max_len),
            ("IMPORTRATE", scan.import_rate),
        ],
    );
    args
}

pub(crate) fn jscan_args(cursor: u64, scan: &JobScan, all: bool) -> Args<'_> {
    let mut args = vec![word("JSCAN"), num(cursor)];
    push_count(&mut args, scan.count, scan.busyloop);
    if let Some(queue) = &scan.queue {
        args.push(word("QUEUE"));
        args.push(Cow::Borrowed(queue.as_bytes()));
    }
    for state in &scan.states {
        args.push(word("STATE"));
        args.push(Cow::Borrowed(state.as_bytes()));
    }
    args.push(word("REPLY"));
    args.push(word(if all { "all" } else { "id" }));
    args
}

/// `COUNT n` and `BUSYLOOP`, shared by QSCAN and JSCAN.
fn push_count(args: &mut Args<'_>, count: Option<u64>, busyloop: bool) {
    push_numeric(args, [("COUNT", count)]);
    if busyloop {
        args.push(word("BUSYLOOP"));
    }
}

/// Reads `[cursor, [item...]]`, each item read by `item`.
pub(crate) fn expect_page<T>(
    reply: Reply,
    item: impl Fn(&Reply) -> Option<T>,
) -> Result<ScanPage<T>, ClientError> {
    let items = match reply {
        Reply::Array(items) => items,
        other => return Err(unexpected(other)),
    };
    let page = match items.as_slice() {
        [cursor, Reply::Array(found)] => number(cursor).and_then(|cursor| {
            let items = found.iter().map(&item).collect::<Option<Vec<T>>>()?;
            Some(ScanPage { cursor, items })
        }),
        _ => None,
    };
    page.ok_or(ClientError::UnexpectedReply(Reply::Array(items)))
}

/// A queue name in a QSCAN page.
pub(crate) fn queue_name(reply: &Reply) -> Option<Bytes> {
    match reply {
        Reply::Bulk(b) => Some(b.clone()),
        _ => None,
    }
}

/// A job in a `JSCAN REPLY ALL` page.
pub(crate) fn job_info(reply: &Reply) -> Option<JobInfo> {
    JobInfo::from_reply(reply.clone()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn qstat_from_reply() {
        let reply = Reply::Array(vec![
            b("name"),
            b("q"),
            b("len"),
            Reply::Integer(3),
            b("import-from"),
            Reply::Array(vec![b("abcd")]),
            b("pause"),
            b("out"),
        ]);
        let stat = QueueStat::from_reply(reply).unwrap().unwrap();
        assert_eq!((stat.len, stat.pause), (3, Pause::Out));
        assert_eq!(stat.import_from, ["abcd"]);
        assert_eq!(QueueStat::from_reply(Reply::NullArray).unwrap(), None);
        assert!(QueueStat::from_reply(Reply::Array(vec![b("len"), b("x")])).is_err());
    }

    #[test]
    fn scan_arguments_and_pages() {
        let strings = |args: Args<'_>| -> Vec<String> {
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
        let scan = QueueScan {
            count: Some(10),
            busyloop: true,
            min_len: Some(1),
            ..QueueScan::default()
        };
        assert_eq!(
            strings(qscan_args(7, &scan)),
            ["QSCAN", "7", "COUNT", "10", "BUSYLOOP", "MINLEN", "1"]
        );
        let jobs = JobScan {
            queue: Some("q".into()),
            states: vec!["queued".into()],
            ..JobScan::default()
        };
        assert_eq!(
            strings(jscan_args(0, &jobs, false)),
            ["JSCAN", "0", "QUEUE", "q", "STATE", "queued", "REPLY", "id"]
        );
        let page = expect_page(
            Reply::Array(vec![b("12"), Reply::Array(vec![b("a"), b("b")])]),
            queue_name,
        )
        .unwrap();
        assert_eq!(page.cursor, 12);
        assert_eq!(page.items, [Bytes::from("a"), Bytes::from("b")]);
        assert!(expect_page(Reply::Array(vec![b("x")]), queue_name).is_err());
    }
}
