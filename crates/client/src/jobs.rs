//! Typed job commands: their options, their results, and the helper methods
//! that [`Client`] and [`ClusterClient`] share.
//!
//! Every helper sends one command with [`Client::call`] (or
//! [`ClusterClient::call`], which retries on another node after `-LEAVING`)
//! and turns the reply into a Rust value; an error reply becomes
//! [`ClientError::Server`].

use std::borrow::Cow;

use bytes::Bytes;

#[cfg(doc)]
use crate::{Client, ClusterClient};
use crate::{ClientError, Reply};

/// Options of `ADDJOB`; `Default` adds none (the server's defaults apply).
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

/// Text of a bulk or status reply.
fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bulk(b) | Reply::Status(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// A number sent as a bulk string or an integer.
fn number<T: std::str::FromStr + TryFrom<i64>>(reply: &Reply) -> Option<T> {
    match reply {
        Reply::Integer(n) => T::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

fn unexpected(reply: Reply) -> ClientError {
    match reply {
        Reply::Error(text) => ClientError::Server(String::from_utf8_lossy(&text).into_owned()),
        other => ClientError::UnexpectedReply(other),
    }
}

/// Arguments of one command, borrowed where possible.
pub(crate) type Args<'a> = Vec<Cow<'a, [u8]>>;

fn word(w: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(w.as_bytes())
}

fn num(n: u64) -> Cow<'static, [u8]> {
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
    let numeric = [
        ("REPLICATE", options.replicate.map(u64::from)),
        ("DELAY", options.delay),
        ("RETRY", options.retry),
        ("TTL", options.ttl),
        ("MAXLEN", options.maxlen),
    ];
    for (name, value) in numeric {
        if let Some(value) = value {
            args.push(word(name));
            args.push(num(value));
        }
    }
    if options.async_replication {
        args.push(word("ASYNC"));
    }
    args
}

pub(crate) fn getjob_args<'a, Q: AsRef<[u8]>>(
    queues: &'a [Q],
    options: &GetJobOptions,
) -> Args<'a> {
    let mut args = vec![word("GETJOB")];
    if options.nohang {
        args.push(word("NOHANG"));
    }
    if let Some(ms) = options.timeout_ms {
        args.push(word("TIMEOUT"));
        args.push(num(ms));
    }
    if let Some(count) = options.count {
        args.push(word("COUNT"));
        args.push(num(count));
    }
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

pub(crate) fn expect_job_id(reply: Reply) -> Result<String, ClientError> {
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

pub(crate) fn expect_optional(reply: Reply) -> Result<Option<Reply>, ClientError> {
    match reply {
        Reply::Nil | Reply::NullArray => Ok(None),
        Reply::Error(_) => Err(unexpected(reply)),
        other => Ok(Some(other)),
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

/// The typed helper methods, written once for [`Client`] and
/// [`ClusterClient`]; both have an `async fn call(&mut self, args)`.
macro_rules! typed_commands {
    () => {
        /// `ADDJOB queue body timeout_ms [options]`: adds a job and returns
        /// its ID. `timeout_ms` bounds the wait for synchronous replication
        /// (0 = wait forever).
        pub async fn add_job(
            &mut self,
            queue: impl AsRef<[u8]>,
            body: impl AsRef<[u8]>,
            timeout_ms: u64,
            options: &AddJobOptions,
        ) -> Result<String, ClientError> {
            let args = addjob_args(queue.as_ref(), body.as_ref(), timeout_ms, options);
            expect_job_id(self.call(&args).await?)
        }

        /// `GETJOB [options] FROM queue...`: takes jobs; an empty vector
        /// when none was available (NOHANG or timeout).
        pub async fn get_job<Q: AsRef<[u8]>>(
            &mut self,
            queues: &[Q],
            options: &GetJobOptions,
        ) -> Result<Vec<Job>, ClientError> {
            expect_jobs(self.call(&getjob_args(queues, options)).await?)
        }

        /// `ACKJOB id...`: acknowledges jobs; returns how many were known
        /// and not yet acknowledged.
        pub async fn ack_job<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("ACKJOB", ids)).await?)
        }

        /// `FASTACK id...`: acknowledges and deletes jobs cluster-wide, best
        /// effort; returns how many were deleted here.
        pub async fn fast_ack<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("FASTACK", ids)).await?)
        }

        /// `NACK id...`: puts jobs back in their queue at once, counting a
        /// negative acknowledgement; returns how many were queued.
        pub async fn nack<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("NACK", ids)).await?)
        }

        /// `ENQUEUE id...`: queues active jobs; returns how many were queued.
        pub async fn enqueue<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("ENQUEUE", ids)).await?)
        }

        /// `DEQUEUE id...`: removes queued jobs from their queue; returns how
        /// many were removed.
        pub async fn dequeue<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("DEQUEUE", ids)).await?)
        }

        /// `DELJOB id...`: deletes jobs from this node only; returns how many
        /// were deleted.
        pub async fn del_job<I: AsRef<[u8]>>(&mut self, ids: &[I]) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("DELJOB", ids)).await?)
        }

        /// `WORKING id`: postpones the job's next requeue; returns the
        /// seconds until it.
        pub async fn working(&mut self, id: impl AsRef<[u8]>) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("WORKING", &[id])).await?)
        }

        /// `SHOW id`: the job's description as the server sends it, or
        /// `None` for an unknown job.
        pub async fn show(&mut self, id: impl AsRef<[u8]>) -> Result<Option<Reply>, ClientError> {
            expect_optional(self.call(&command_args("SHOW", &[id])).await?)
        }

        /// `QLEN queue`: number of jobs queued in it on this node.
        pub async fn qlen(&mut self, queue: impl AsRef<[u8]>) -> Result<i64, ClientError> {
            expect_integer(self.call(&command_args("QLEN", &[queue])).await?)
        }

        /// `HELLO`: the node's ID and the nodes it knows.
        pub async fn hello(&mut self) -> Result<Hello, ClientError> {
            Hello::from_reply(self.call(&["HELLO"]).await?)
        }
    };
}

impl crate::Client {
    typed_commands!();
}

impl crate::ClusterClient {
    typed_commands!();
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
                "ASYNC"
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
