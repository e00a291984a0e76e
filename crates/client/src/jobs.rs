//! Job commands: their options and results, the arguments they send and
//! how their replies are read. The methods themselves are listed in
//! [`crate::commands`].

use std::borrow::Cow;

use bytes::Bytes;

#[cfg(doc)]
use crate::{Client, ClusterClient};
use crate::{ClientError, Reply};

/// Options of `ADDJOB`; `Default` adds none (the server's defaults apply).
///
/// ```
/// use disque_client::{AddJobOptions, DeadLetter};
///
/// // At least once, retried after 60 s, kept a day; after 5 deliveries
/// // without an ack it moves to "emails-dead" (needs a server with the
/// // D17 extension, as does PRIORITY with D18).
/// let options = AddJobOptions {
///     replicate: Some(2),
///     retry: Some(60),
///     ttl: Some(86_400),
///     dead_letter: Some(DeadLetter { queue: "emails-dead".into(), max_deliveries: 5 }),
///     priority: Some(8),
///     ..AddJobOptions::default()
/// };
/// assert!(!options.async_replication);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddJobOptions {
    /// `REPLICATE <count>`: number of nodes that must hold a copy.
    pub replicate: Option<u32>,
    /// `DELAY <sec>`: seconds before the job is queued.
    pub delay: Option<u64>,
    /// `RETRY <sec>`: seconds after which an unacknowledged job is queued
    /// again (0 = at most once).
    pub retry: Option<u64>,
    /// `TTL <sec>`: seconds the job may live.
    pub ttl: Option<u64>,
    /// `MAXLEN <count>`: refuse the job if the local queue is this long.
    pub maxlen: Option<u64>,
    /// `ASYNC`: reply at once and replicate in the background.
    pub async_replication: bool,
    /// `DEADLETTER <queue> <max-deliveries>`: after that many deliveries
    /// without an ack the job goes to `queue` instead of its own. An
    /// extension of this project (docs/DECISIONS.md D17): it needs a
    /// server that implements it; others answer `-ERR syntax error`.
    pub dead_letter: Option<DeadLetter>,
    /// `PRIORITY <0-9>` (server default 5, higher first). An extension of
    /// this project (docs/DECISIONS.md D18): it needs a server that
    /// implements it; others answer `-ERR syntax error`.
    pub priority: Option<u8>,
}

/// Where a job goes after too many deliveries (`ADDJOB ... DEADLETTER`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter queue.
    pub queue: String,
    /// Deliveries without an ack after which the job moves there.
    pub max_deliveries: u32,
}

/// Options of `GETJOB`; `Default` blocks forever for one job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetJobOptions {
    /// `NOHANG`: return at once when no job is queued.
    pub nohang: bool,
    /// `TIMEOUT <ms>`: how long to block (0 = forever).
    pub timeout_ms: Option<u64>,
    /// `COUNT <n>`: most jobs to return.
    pub count: Option<u64>,
    /// `WITHCOUNTERS`: also return the `nacks` and `additional-deliveries`
    /// counters.
    pub with_counters: bool,
}

/// A job returned by `GETJOB`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The queue the job was taken from.
    pub queue: Bytes,
    /// The job ID (`D-...`, 40 characters).
    pub id: String,
    /// The job body.
    pub body: Bytes,
    /// Times the job was negatively acknowledged (only with WITHCOUNTERS).
    pub nacks: Option<i64>,
    /// Times the job was delivered again for reasons other than NACK (only
    /// with WITHCOUNTERS).
    pub additional_deliveries: Option<i64>,
}

/// The reply to `HELLO`: who the node is and which nodes it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Format version (1).
    pub version: i64,
    /// ID of the node that answered.
    pub my_id: String,
    /// Every node it knows, itself included.
    pub nodes: Vec<HelloNode>,
}

/// One node listed by `HELLO`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloNode {
    /// Node ID (40 hex characters).
    pub id: String,
    /// Address clients connect to; may be empty when the node does not yet
    /// know its own address.
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// 1 = healthy, 5 = no link, 10 = possibly failing, 100 = failing or
    /// leaving. Lower is better.
    pub priority: u32,
}

impl Hello {
    /// Reads a `HELLO` reply: `[1, my-id, [id, ip, port, priority]...]`,
    /// port and priority as bulk strings (integers are accepted too).
    pub fn from_reply(reply: Reply) -> Result<Hello, ClientError> {
        let items = match reply {
            Reply::Array(items) => items,
            other => return Err(unexpected(other)),
        };
        let parsed = (|| {
            let (version, my_id, nodes) = match items.as_slice() {
                [Reply::Integer(v), id, nodes @ ..] => (*v, text(id)?, nodes),
                _ => return None,
            };
            let nodes = nodes
                .iter()
                .map(|node| match node {
                    Reply::Array(fields) => match fields.as_slice() {
                        [id, ip, port, priority] => Some(HelloNode {
                            id: text(id)?,
                            ip: text(ip)?,
                            port: number(port)?,
                            priority: number(priority)?,
                        }),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Hello {
                version,
                my_id,
                nodes,
            })
        })();
        parsed.ok_or(ClientError::UnexpectedReply(Reply::Array(items)))
    }
}

/// The `(name, value)` pairs of a flat `name, value, ...` array; `None`
/// when its length is odd or a name is not a string.
pub(crate) fn field_pairs(items: &[Reply]) -> Option<Vec<(String, &Reply)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| Some((text(&pair[0])?, &pair[1])))
        .collect()
}

/// Text of a bulk or status reply.
pub(crate) fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bulk(b) | Reply::Status(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// A number sent as a bulk string or an integer.
pub(crate) fn number<T: std::str::FromStr + TryFrom<i64>>(reply: &Reply) -> Option<T> {
    match reply {
        Reply::Integer(n) => T::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

/// The error for a reply of the wrong shape (or an error reply).
pub(crate) fn unexpected(reply: Reply) -> ClientError {
    match reply {
        Reply::Error(text) => ClientError::Server(String::from_utf8_lossy(&text).into_owned()),
        other => ClientError::UnexpectedReply(other),
    }
}

/// A job as `SHOW` (and `JSCAN ... REPLY ALL`) describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobInfo {
    /// The job ID.
    pub id: String,
    /// Its queue (`None` for the record of an acknowledgement).
    pub queue: Option<Bytes>,
    /// `wait-repl`, `active`, `queued` or `acked`.
    pub state: String,
    /// Replication factor requested.
    pub repl: i64,
    /// Seconds until the job expires.
    pub ttl: i64,
    /// Creation time (ms × 1,000,000 plus a counter) on the creating node.
    pub ctime: i64,
    /// `DELAY`, seconds.
    pub delay: i64,
    /// `RETRY`, seconds.
    pub retry: i64,
    /// Negative acknowledgements so far.
    pub nacks: i64,
    /// Deliveries for other reasons than NACK.
    pub additional_deliveries: i64,
    /// Nodes that may hold a copy.
    pub nodes_delivered: Vec<String>,
    /// Nodes that confirmed (during replication or ack collection).
    pub nodes_confirmed: Vec<String>,
    /// Milliseconds until the next requeue; `None` when it will not be
    /// requeued.
    pub next_requeue_within: Option<i64>,
    /// Milliseconds until the job's next scheduled check.
    pub next_awake_within: Option<i64>,
    /// The body (`None` for the record of an acknowledgement).
    pub body: Option<Bytes>,
    /// Dead-letter queue (docs/DECISIONS.md D17), when the job has one.
    pub dead_letter_queue: Option<Bytes>,
    /// Deliveries before the dead-letter queue (D17).
    pub max_deliveries: Option<i64>,
    /// Priority when not the default 5 (D18).
    pub priority: Option<i64>,
}

impl JobInfo {
    /// Reads a `SHOW` reply: `None` for nil (unknown job).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use disque_client::{JobInfo, Reply};
    ///
    /// let b = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
    /// let reply = Reply::Array(vec![
    ///     b("id"), b("D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1"),
    ///     b("state"), b("queued"),
    ///     b("nacks"), Reply::Integer(2),
    ///     b("next-requeue-within"), Reply::Nil,
    /// ]);
    /// let job = JobInfo::from_reply(reply).unwrap().unwrap();
    /// assert_eq!((job.state.as_str(), job.nacks), ("queued", 2));
    /// assert_eq!(job.next_requeue_within, None);
    /// assert_eq!(JobInfo::from_reply(Reply::Nil).unwrap(), None);
    /// ```
    pub fn from_reply(reply: Reply) -> Result<Option<JobInfo>, ClientError> {
        match reply {
            Reply::Nil | Reply::NullArray => Ok(None),
            Reply::Array(items) => JobInfo::from_fields(&items)
                .map(Some)
                .ok_or(ClientError::UnexpectedReply(Reply::Array(items))),
            other => Err(unexpected(other)),
        }
    }

    /// Reads the flat `field, value, ...` array; unknown fields are skipped.
    fn from_fields(items: &[Reply]) -> Option<JobInfo> {
        let mut job = JobInfo::default();
        let ids = |r: &Reply| match r {
            Reply::Array(ids) => ids.iter().map(text).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let optional_int = |r: &Reply| match r {
            Reply::Integer(n) => Some(Some(*n)),
            Reply::Nil => Some(None),
            _ => None,
        };
        let optional_bulk = |r: &Reply| match r {
            Reply::Bulk(b) => Some(Some(b.clone())),
            Reply::Nil => Some(None),
            _ => None,
        };
        for (name, value) in field_pairs(items)? {
            match name.as_str() {
                "id" => job.id = text(value)?,
                "queue" => job.queue = optional_bulk(value)?,
                "state" => job.state = text(value)?,
                "repl" => job.repl = number(value)?,
                "ttl" => job.ttl = number(value)?,
                "ctime" => job.ctime = number(value)?,
                "delay" => job.delay = number(value)?,
                "retry" => job.retry = number(value)?,
                "nacks" => job.nacks = number(value)?,
                "additional-deliveries" => job.additional_deliveries = number(value)?,
                "nodes-delivered" => job.nodes_delivered = ids(value)?,
                "nodes-confirmed" => job.nodes_confirmed = ids(value)?,
                "next-requeue-within" => job.next_requeue_within = optional_int(value)?,
                "next-awake-within" => job.next_awake_within = optional_int(value)?,
                "body" => job.body = optional_bulk(value)?,
                "dead-letter-queue" => job.dead_letter_queue = optional_bulk(value)?,
                "max-deliveries" => job.max_deliveries = Some(number(value)?),
                "priority" => job.priority = Some(number(value)?),
                _ => {}
            }
        }
        Some(job)
    }
}

/// The creating node's ID prefix in a job ID: the 8 characters after
/// `D-` (the first 8 of the node's 40-character ID), or `None` when `id`
/// does not have the shape of a job ID.
///
/// ```
/// assert_eq!(
///     disque_client::jobs::node_prefix("D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1"),
///     Some("dcb833cf")
/// );
/// assert_eq!(disque_client::jobs::node_prefix("nope"), None);
/// ```
pub fn node_prefix(id: &str) -> Option<&str> {
    let bytes = id.as_bytes();
    let shaped =
        bytes.len() == 40 && bytes.starts_with(b"D-") && bytes[10] == b'-' && bytes[35] == b'-';
    if shaped {
        id.get(2..10)
    } else {
        None
    }
}

/// Arguments of one command, borrowed where possible.
pub(crate) type Args<'a> = Vec<Cow<'a, [u8]>>;

pub(crate) fn word(w: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(w.as_bytes())
}

pub(crate) fn num(n: impl ToString) -> Cow<'static, [u8]> {
    Cow::Owned(n.to_string().into_bytes())
}

pub(crate) fn addjob_args<'a>(
    queue: &'a [u8],
    body: &'a [u8],
    timeout_ms: u64,
    options: &AddJobOptions,
) -> Args<'a> {
    let mut args = vec![
        word("ADDJOB"),
        Cow::Borrowed(queue),
        Cow::Borrowed(body),
        num(timeout_ms),
    ];
    push_numeric(
        &mut args,
        [
            ("REPLICATE", options.replicate.map(u64::from)),
            ("DELAY", options.delay),
            ("RETRY", options.retry),
            ("TTL", options.ttl),
            ("MAXLEN", options.maxlen),
        ],
    );
    if options.async_replication {
        args.push(word("ASYNC"));
    }
    if let Some(dead) = &options.dead_letter {
        args.push(word("DEADLETTER"));
        args.push(Cow::Owned(dead.queue.as_bytes().to_vec()));
        args.push(num(u64::from(dead.max_deliveries)));
    }
    if let Some(priority) = options.priority {
        args.push(word("PRIORITY"));
        args.push(num(u64::from(priority)));
    }
    args
}

/// Appends `NAME value` for each option that has a value.
pub(crate) fn push_numeric<const N: usize>(
    args: &mut Args<'_>,
    options: [(&'static str, Option<u64>); N],
) {
    for (name, value) in options {
        if let Some(value) = value {
            args.push(word(name));
            args.push(num(value));
        }
    }
}

pub(crate) fn getjob_args<'a, Q: AsRef<[u8]>>(
    queues: &'a [Q],
    options: &GetJobOptions,
) -> Args<'a> {
    let mut args = vec![word("GETJOB")];
    if options.nohang {
        args.push(word("NOHANG"));
    }
    push_numeric(
        &mut args,
        [("TIMEOUT", options.timeout_ms), ("COUNT", options.count)],
    );
    if options.with_counters {
        args.push(word("WITHCOUNTERS"));
    }
    args.push(word("FROM"));
    args.extend(queues.iter().map(|q| Cow::Borrowed(q.as_ref())));
    args
}

/// `NAME arg...`.
pub(crate) fn command_args<'a, I: AsRef<[u8]>>(name: &'static str, rest: &'a [I]) -> Args<'a> {
    let mut args = vec![word(name)];
    args.extend(rest.iter().map(|i| Cow::Borrowed(i.as_ref())));
    args
}

/// `NAME [DELAY seconds] id...` (DELAY only when given: NACK DELAY).
pub(crate) fn job_args<'a, I: AsRef<[u8]>>(
    name: &'static str,
    delay: Option<u64>,
    ids: &'a [I],
) -> Args<'a> {
    let mut args = vec![word(name)];
    if let Some(delay) = delay {
        args.push(word("DELAY"));
        args.push(num(delay));
    }
    args.extend(ids.iter().map(|i| Cow::Borrowed(i.as_ref())));
    args
}

pub(crate) fn expect_text(reply: Reply) -> Result<String, ClientError> {
    match reply {
        Reply::Status(_) | Reply::Bulk(_) => Ok(text(&reply).unwrap_or_default()),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn expect_integer(reply: Reply) -> Result<i64, ClientError> {
    match reply {
        Reply::Integer(n) => Ok(n),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn expect_ok(reply: Reply) -> Result<(), ClientError> {
    match reply {
        Reply::Status(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn expect_jobs(reply: Reply) -> Result<Vec<Job>, ClientError> {
    let entries = match reply {
        Reply::NullArray => return Ok(Vec::new()),
        Reply::Array(entries) => entries,
        other => return Err(unexpected(other)),
    };
    let mut jobs = Vec::with_capacity(entries.len());
    for entry in entries {
        let job = match &entry {
            Reply::Array(fields) => match fields.as_slice() {
                [Reply::Bulk(queue), id, Reply::Bulk(body), counters @ ..] => {
                    let (nacks, additional_deliveries) = match counters {
                        [] => (None, None),
                        [_, Reply::Integer(n), _, Reply::Integer(a)] => (Some(*n), Some(*a)),
                        _ => return Err(ClientError::UnexpectedReply(entry)),
                    };
                    text(id).map(|id| Job {
                        queue: queue.clone(),
                        id,
                        body: body.clone(),
                        nacks,
                        additional_deliveries,
                    })
                }
                _ => None,
            },
            _ => None,
        };
        jobs.push(job.ok_or(ClientError::UnexpectedReply(entry))?);
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{bulk, fake_server};
    use crate::Client;

    const ID: &str = "D-0f0c644f-sRpFCmqiGgqAm0ZazjKDgzh3-05a1";

    fn strings(args: &Args<'_>) -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn addjob_arguments() {
        let all = AddJobOptions {
            replicate: Some(2),
            delay: Some(1),
            retry: Some(0),
            ttl: Some(60),
            maxlen: Some(10),
            async_replication: true,
            dead_letter: Some(DeadLetter {
                queue: "dead".into(),
                max_deliveries: 5,
            }),
            priority: Some(9),
        };
        assert_eq!(
            strings(&addjob_args(b"q", b"body", 500, &all)),
            [
                "ADDJOB",
                "q",
                "body",
                "500",
                "REPLICATE",
                "2",
                "DELAY",
                "1",
                "RETRY",
                "0",
                "TTL",
                "60",
                "MAXLEN",
                "10",
                "ASYNC",
                "DEADLETTER",
                "dead",
                "5",
                "PRIORITY",
                "9"
            ]
        );
        assert_eq!(
            strings(&addjob_args(b"q", b"", 0, &AddJobOptions::default())),
            ["ADDJOB", "q", "", "0"]
        );
    }

    #[test]
    fn getjob_arguments() {
        let all = GetJobOptions {
            nohang: true,
            timeout_ms: Some(100),
            count: Some(3),
            with_counters: true,
        };
        assert_eq!(
            strings(&getjob_args(&["a", "b"], &all)),
            [
                "GETJOB",
                "NOHANG",
                "TIMEOUT",
                "100",
                "COUNT",
                "3",
                "WITHCOUNTERS",
                "FROM",
                "a",
                "b"
            ]
        );
        assert_eq!(
            strings(&getjob_args(&["q"], &GetJobOptions::default())),
            ["GETJOB", "FROM", "q"]
        );
    }

    #[test]
    fn jobs_from_replies() {
        let b = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
        let plain = Reply::Array(vec![Reply::Array(vec![b("q"), b(ID), b("body")])]);
        assert_eq!(
            expect_jobs(plain).unwrap(),
            vec![Job {
                queue: Bytes::from("q"),
                id: ID.to_string(),
                body: Bytes::from("body"),
                nacks: None,
                additional_deliveries: None,
            }]
        );
        let counters = Reply::Array(vec![Reply::Array(vec![
            b("q"),
            b(ID),
            b(""),
            b("nacks"),
            Reply::Integer(2),
            b("additional-deliveries"),
            Reply::Integer(1),
        ])]);
        let jobs = expect_jobs(counters).unwrap();
        assert_eq!(
            (jobs[0].nacks, jobs[0].additional_deliveries),
            (Some(2), Some(1))
        );
        assert_eq!(expect_jobs(Reply::NullArray).unwrap(), vec![]);
        assert!(matches!(
            expect_jobs(Reply::Array(vec![Reply::Integer(1)])),
            Err(ClientError::UnexpectedReply(_))
        ));
    }

    #[test]
    fn hello_from_reply() {
        let b = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
        let reply = Reply::Array(vec![
            Reply::Integer(1),
            b("aaaa"),
            Reply::Array(vec![b("aaaa"), b("127.0.0.1"), b("7711"), b("1")]),
            Reply::Array(vec![b("bbbb"), b(""), b("7712"), b("100")]),
        ]);
        let hello = Hello::from_reply(reply).unwrap();
        assert_eq!(hello.version, 1);
        assert_eq!(hello.my_id, "aaaa");
        assert_eq!(
            hello.nodes[1],
            HelloNode {
                id: "bbbb".into(),
                ip: "".into(),
                port: 7712,
                priority: 100
            }
        );
        assert!(Hello::from_reply(Reply::Array(vec![Reply::Integer(1)])).is_err());
        assert!(matches!(
            Hello::from_reply(Reply::error(
                "ERR wrong number of arguments for 'hello' command"
            )),
            Err(ClientError::Server(_))
        ));
    }

    #[tokio::test]
    async fn typed_helpers_against_a_fake_node() {
        let addr = fake_server(|args| {
            let name = String::from_utf8_lossy(&args[0]).to_uppercase();
            match name.as_str() {
                "ADDJOB" if args[1].is_empty() => b"-ERR syntax error\r\n".to_vec(),
                "ADDJOB" => format!("+{ID}\r\n").into_bytes(),
                "GETJOB" if args.iter().any(|a| &a[..] == b"NOHANG") => b"*-1\r\n".to_vec(),
                "GETJOB" => {
                    let mut out = b"*1\r\n*3\r\n".to_vec();
                    out.extend(bulk(b"q"));
                    out.extend(bulk(ID.as_bytes()));
                    out.extend(bulk(b"hello"));
                    out
                }
                "ACKJOB" | "FASTACK" | "NACK" | "ENQUEUE" | "DEQUEUE" | "DELJOB" => {
                    format!(":{}\r\n", args.len() - 1).into_bytes()
                }
                "WORKING" => b":300\r\n".to_vec(),
                "SHOW" => b"$-1\r\n".to_vec(),
                "QLEN" => b":0\r\n".to_vec(),
                _ => b"-ERR unknown command\r\n".to_vec(),
            }
        })
        .await;
        let mut c = Client::connect(addr).await.unwrap();
        let opts = AddJobOptions::default();
        assert_eq!(c.add_job("q", "hello", 0, &opts).await.unwrap(), ID);
        match c.add_job("", "x", 0, &opts).await {
            Err(ClientError::Server(text)) => assert_eq!(text, "ERR syntax error"),
            other => panic!("unexpected {other:?}"),
        }
        let jobs = c.get_job(&["q"], &GetJobOptions::default()).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(&jobs[0].body[..], b"hello");
        let nohang = GetJobOptions {
            nohang: true,
            ..GetJobOptions::default()
        };
        assert!(c.get_job(&["q"], &nohang).await.unwrap().is_empty());
        assert_eq!(c.ack_job(&[ID, ID]).await.unwrap(), 2);
        assert_eq!(c.fast_ack(&[ID]).await.unwrap(), 1);
        assert_eq!(c.nack(&[ID]).await.unwrap(), 1);
        assert_eq!(c.enqueue(&[ID]).await.unwrap(), 1);
        assert_eq!(c.dequeue(&[ID]).await.unwrap(), 1);
        assert_eq!(c.del_job::<&str>(&[]).await.unwrap(), 0);
        assert_eq!(c.working(ID).await.unwrap(), 300);
        assert_eq!(c.show(ID).await.unwrap(), None);
        assert_eq!(c.qlen("q").await.unwrap(), 0);
    }
}
