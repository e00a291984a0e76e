//! What the clients do: producers send ADDJOB, consumers send GETJOB and
//! then ACKJOB for each job they got, each in batches of `--pipeline`
//! commands, until the requests are used up, the time is up, or Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use disque_client::{Client, ClientError, Reply};

use crate::report::{Op, OpStats};
use crate::{Plan, Workload};

/// How long a consumer's GETJOB waits for a job in the mixed workload.
const GETJOB_TIMEOUT_MS: &str = "100";

/// Pipeline depth used to prefill the queues for get-ack (at least).
const PREFILL_PIPELINE: u32 = 32;

/// What a client does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// ADDJOB.
    Producer,
    /// GETJOB, then ACKJOB.
    Consumer,
}

/// State shared by the clients of one run: the requests left to claim, the
/// clock, and the figures the progress line shows.
#[derive(Debug)]
pub struct Shared {
    /// When the measured part started.
    pub start: Instant,
    deadline: Option<Instant>,
    /// ADDJOBs not yet claimed by a producer (`u64::MAX` with a duration).
    adds_left: AtomicU64,
    /// Jobs not yet claimed by a consumer (`u64::MAX` with a duration).
    takes_left: AtomicU64,
    /// Producers still adding; consumers stop at the first empty GETJOB once
    /// it is 0.
    producers_running: AtomicU32,
    stopped: AtomicBool,
    answered: AtomicU64,
    worst_ns: AtomicU64,
}

impl Shared {
    /// The measured part of `plan`, starting now.
    pub fn new(plan: &Plan) -> Shared {
        let n = plan.requests.unwrap_or(u64::MAX);
        let (adds, takes) = match plan.workload {
            Workload::Add => (n, 0),
            Workload::GetAck => (0, n),
            Workload::Mixed => (n, n),
        };
        Shared::with(adds, takes, plan.duration, plan.producers)
    }

    fn with(adds: u64, takes: u64, duration: Option<Duration>, producers: u32) -> Shared {
        let start = Instant::now();
        Shared {
            start,
            deadline: duration.map(|d| start + d),
            adds_left: AtomicU64::new(adds),
            takes_left: AtomicU64::new(takes),
            producers_running: AtomicU32::new(producers),
            stopped: AtomicBool::new(false),
            answered: AtomicU64::new(0),
            worst_ns: AtomicU64::new(0),
        }
    }

    /// Asks every client to stop after its current batch (Ctrl-C, a failed
    /// client).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    fn running(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
            && match self.deadline {
                Some(deadline) => Instant::now() < deadline,
                None => true,
            }
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// The slowest request so far, in nanoseconds.
    pub fn worst_ns(&self) -> u64 {
        self.worst_ns.load(Ordering::Relaxed)
    }

    /// Counts `n` answered requests; `slowest` is the slowest of them.
    fn answer(&self, n: u64, slowest: Duration) {
        self.answered.fetch_add(n, Ordering::Relaxed);
        let ns = u64::try_from(slowest.as_nanos()).unwrap_or(u64::MAX);
        self.worst_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// Takes up to `want` from `left`; returns how many were taken.
fn claim(left: &AtomicU64, want: u32) -> u32 {
    let mut got = 0;
    let _ = left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        got = n.min(u64::from(want)) as u32;
        (got > 0).then(|| n - u64::from(got))
    });
    got
}

/// Runs client `index` in `role` until the run ends; returns what it
/// measured, or the error that broke its connection.
pub async fn client(
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    mut client: Client,
    index: u32,
    role: Role,
) -> Result<OpStats, String> {
    let result = match role {
        Role::Producer => {
            let result = produce(&plan, &shared, &mut client, index, plan.pipeline).await;
            shared.producers_running.fetch_sub(1, Ordering::Relaxed);
            result
        }
        Role::Consumer => consume(&plan, &shared, &mut client, index).await,
    };
    result.map_err(|e| format!("{}: {e}", plan.node(index)))
}

/// Adds `plan.prefill` jobs through all the clients (get-ack), then hands
/// the clients back. Fails on the first error reply.
pub async fn prefill(
    plan: &Arc<Plan>,
    clients: Vec<Client>,
    progress: bool,
) -> Result<Vec<Client>, String> {
    let shared = Arc::new(Shared::with(plan.prefill, 0, None, 0));
    let ticker = progress.then(|| tokio::spawn(crate::show_progress(shared.clone(), "prefill")));
    let pipeline = plan.pipeline.max(PREFILL_PIPELINE);
    let tasks: Vec<_> = (0..)
        .zip(clients)
        .map(|(i, mut client)| {
            let (plan, shared) = (plan.clone(), shared.clone());
            tokio::spawn(async move {
                let stats = produce(&plan, &shared, &mut client, i, pipeline)
                    .await
                    .map_err(|e| format!("prefill on {}: {e}", plan.node(i)))?;
                match stats.first_error() {
                    Some(e) => Err(format!("prefill on {}: ADDJOB: {e}", plan.node(i))),
                    None => Ok(client),
                }
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(tasks.len());
    let mut failure = None;
    for task in tasks {
        match task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(client) => clients.push(client),
            Err(e) => {
                shared.stop();
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
        eprint!("\r\x1b[K");
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(clients),
    }
}

/// Sends ADDJOBs in batches of `pipeline`, to the queues in turn.
async fn produce(
    plan: &Plan,
    shared: &Shared,
    client: &mut Client,
    index: u32,
    pipeline: u32,
) -> Result<OpStats, ClientError> {
    let mut stats = OpStats::new(Op::AddJob);
    let mut next = index as usize;
    let mut batch: Vec<&[Bytes]> = Vec::with_capacity(pipeline as usize);
    while shared.running() {
        let n = claim(&shared.adds_left, pipeline);
        if n == 0 {
            break;
        }
        batch.clear();
        for _ in 0..n {
            batch.push(&plan.addjobs[next % plan.addjobs.len()]);
            next += 1;
        }
        let sent = Instant::now();
        client.send_many(&batch).await?;
        let mut slowest = Duration::ZERO;
        for _ in 0..n {
            let reply = client.read_reply().await?;
            let error = match reply {
                Reply::Status(_) | Reply::Bulk(_) => None,
                other => Some(describe(&other)),
            };
            slowest = slowest.max(stats.record(shared.start, sent, error));
        }
        shared.answer(u64::from(n), slowest);
    }
    Ok(stats)
}

/// Takes jobs with GETJOB in batches of `--pipeline` and acknowledges each
/// job with its own ACKJOB (pipelined too). A job's latency runs from its
/// GETJOB sent to its ACKJOB answered.
async fn consume(
    plan: &Plan,
    shared: &Shared,
    client: &mut Client,
    index: u32,
) -> Result<OpStats, ClientError> {
    let mut stats = OpStats::new(Op::GetAck);
    let mut getjob = vec![Bytes::from_static(b"GETJOB")];
    if plan.workload == Workload::GetAck {
        getjob.push(Bytes::from_static(b"NOHANG"));
    } else {
        getjob.push(Bytes::from_static(b"TIMEOUT"));
        getjob.push(Bytes::from_static(GETJOB_TIMEOUT_MS.as_bytes()));
    }
    getjob.push(Bytes::from_static(b"FROM"));
    // Each consumer asks the queues in its own order.
    let first = index as usize % plan.queues.len();
    getjob.extend(plan.queues[first..].iter().cloned());
    getjob.extend(plan.queues[..first].iter().cloned());

    let mut acks: Vec<[Bytes; 2]> = Vec::new();
    while shared.running() {
        let n = claim(&shared.takes_left, plan.pipeline);
        if n == 0 {
            break;
        }
        let batch = vec![getjob.as_slice(); n as usize];
        let sent = Instant::now();
        client.send_many(&batch).await?;
        acks.clear();
        let mut empty: u64 = 0;
        let mut failed: u64 = 0;
        let mut slowest = Duration::ZERO;
        for _ in 0..n {
            match client.read_reply().await? {
                Reply::Array(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        match job_id(&job) {
                            Some(id) => acks.push([Bytes::from_static(b"ACKJOB"), id]),
                            None => {
                                let error = format!("GETJOB: unexpected reply {job:?}");
                                slowest =
                                    slowest.max(stats.record(shared.start, sent, Some(error)));
                                failed += 1;
                            }
                        }
                    }
                }
                Reply::Array(_) | Reply::NullArray | Reply::Nil => empty += 1,
                other => {
                    let error = format!("GETJOB: {}", describe(&other));
                    slowest = slowest.max(stats.record(shared.start, sent, Some(error)));
                    failed += 1;
                }
            }
        }
        if !acks.is_empty() {
            let batch: Vec<&[Bytes]> = acks.iter().map(|a| a.as_slice()).collect();
            client.send_many(&batch).await?;
            for _ in 0..acks.len() {
                let error = match client.read_reply().await? {
                    Reply::Integer(_) => None,
                    other => Some(format!("ACKJOB: {}", describe(&other))),
                };
                slowest = slowest.max(stats.record(shared.start, sent, error));
            }
        }
        shared.answer(failed + acks.len() as u64, slowest);
        if empty > 0 {
            stats.empty += empty;
            // Jobs not taken are left for the others.
            shared.takes_left.fetch_add(empty, Ordering::Relaxed);
            if shared.producers_running.load(Ordering::Relaxed) == 0 {
                break;
            }
        }
    }
    Ok(stats)
}

/// The ID of one GETJOB entry, `[queue, id, body, ...]`.
fn job_id(job: &Reply) -> Option<Bytes> {
    match job {
        Reply::Array(fields) => match fields.get(1) {
            Some(Reply::Bulk(id) | Reply::Status(id)) => Some(id.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// An error reply's text, or what the unexpected reply was.
fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Error(text) => String::from_utf8_lossy(text).into_owned(),
        other => format!("unexpected reply {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_stop_at_zero() {
        let left = AtomicU64::new(5);
        assert_eq!(claim(&left, 4), 4);
        assert_eq!(claim(&left, 4), 1);
        assert_eq!(claim(&left, 4), 0);
        left.fetch_add(2, Ordering::Relaxed);
        assert_eq!(claim(&left, 4), 2);
    }

    #[test]
    fn job_ids_from_getjob_entries() {
        let entry = Reply::Array(vec![
            Reply::Bulk(Bytes::from("q")),
            Reply::Bulk(Bytes::from("D-1")),
            Reply::Bulk(Bytes::from("body")),
        ]);
        assert_eq!(job_id(&entry), Some(Bytes::from("D-1")));
        assert_eq!(job_id(&Reply::Integer(1)), None);
    }
}
