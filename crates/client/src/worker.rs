//! [`Worker`]: the consume loop of a job-processing service.
//!
//! A worker takes jobs from its queues with `GETJOB` (at most
//! [`WorkerOptions::concurrency`] at a time), runs the handler on each,
//! sends `ACKJOB` when the handler succeeds and `NACK` (optionally
//! `NACK DELAY`) when it fails, and sends `WORKING` while a handler runs
//! long so the cluster does not deliver the job again. When the shutdown
//! future completes it takes no new job, lets the running handlers finish,
//! acknowledges them, and returns.
//!
//! Delivery is at least once: a job whose ACKJOB did not reach the cluster
//! (the node was lost) is delivered again after its `RETRY` time, so
//! handlers should be idempotent.
//!
//! ```no_run
//! use disque_client::{ClientOptions, Job, Worker, WorkerOptions};
//!
//! # async fn demo() -> Result<(), disque_client::ClientError> {
//! let worker = Worker::connect(
//!     "127.0.0.1:7711",
//!     &["emails"],
//!     WorkerOptions { concurrency: 8, ..WorkerOptions::default() },
//!     ClientOptions::default(),
//! )
//! .await?;
//! let report = worker
//!     .run(
//!         |job: Job| async move {
//!             println!("sending {:?}", job.body);
//!             Ok::<(), String>(())
//!         },
//!         async {
//!             let _ = tokio::signal::ctrl_c().await;
//!         },
//!     )
//!     .await;
//! println!("{} jobs done, {} failed", report.acked, report.nacked);
//! # Ok(())
//! # }
//! ```

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::ToSocketAddrs;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::{ClientError, ClientOptions, ClusterClient, GetJobOptions, Job};

/// How a [`Worker`] consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Most jobs handled at once (at least 1).
    pub concurrency: usize,
    /// How long one `GETJOB` blocks waiting for jobs; also how long a
    /// shutdown may wait for the fetch in progress.
    pub poll_timeout: Duration,
    /// How often `WORKING` is sent for a job whose handler is still
    /// running (`None`: never). The interval is shortened to half the
    /// job's `RETRY` when the server reports a shorter one, so set it below
    /// half the shortest `RETRY` of the jobs for the first heartbeat to
    /// arrive in time.
    pub heartbeat: Option<Duration>,
    /// `Some(seconds)`: a failed job is sent back with `NACK DELAY seconds`
    /// (docs/DECISIONS.md D16, needs a server with that extension) instead
    /// of a plain `NACK`, which redelivers it at once.
    pub nack_delay: Option<u64>,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            concurrency: 4,
            poll_timeout: Duration::from_secs(1),
            heartbeat: Some(Duration::from_secs(10)),
            nack_delay: None,
        }
    }
}

/// What a [`Worker::run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs whose handler succeeded and that were acknowledged.
    pub acked: u64,
    /// Jobs whose handler failed and that were sent back with NACK.
    pub nacked: u64,
    /// Commands that failed (GETJOB, ACKJOB, NACK, WORKING): the worker
    /// carried on, and an unacknowledged job comes back after its RETRY.
    pub client_errors: u64,
    /// The last of those failures, or the last handler error, as text.
    pub last_error: Option<String>,
}

/// A consumer of one or more queues; see the [module docs](self).
#[derive(Debug)]
pub struct Worker {
    /// Takes jobs (blocking GETJOB).
    fetch: ClusterClient,
    /// Acknowledges and heartbeats, shared by the running jobs.
    control: Arc<Mutex<ClusterClient>>,
    queues: Vec<String>,
    options: WorkerOptions,
}

/// How one job ended.
enum Outcome {
    Acked,
    Nacked(String),
    ClientError(String),
}

impl Worker {
    /// Connects two [`ClusterClient`]s to the cluster of `seed` (one takes
    /// jobs, one acknowledges them) for consuming `queues`.
    pub async fn connect<Q: AsRef<str>>(
        seed: impl ToSocketAddrs,
        queues: &[Q],
        options: WorkerOptions,
        client_options: ClientOptions,
    ) -> Result<Worker, ClientError> {
        let seeds: Vec<SocketAddr> = tokio::net::lookup_host(seed).await?.collect();
        let fetch = ClusterClient::connect_with(&seeds[..], client_options.clone()).await?;
        let control = ClusterClient::connect_with(&seeds[..], client_options).await?;
        Ok(Worker::new(fetch, control, queues, options))
    }

    /// A worker over clients the caller made.
    pub fn new<Q: AsRef<str>>(
        fetch: ClusterClient,
        control: ClusterClient,
        queues: &[Q],
        options: WorkerOptions,
    ) -> Worker {
        Worker {
            fetch,
            control: Arc::new(Mutex::new(control)),
            queues: queues.iter().map(|q| q.as_ref().to_string()).collect(),
            options,
        }
    }

    /// Consumes until `shutdown` completes, then waits for the running
    /// handlers, acknowledges their jobs, and returns what was done.
    ///
    /// `handler` gets each job (with its `nacks` and
    /// `additional_deliveries` counters); `Ok` acknowledges it, `Err`
    /// sends it back to its queue. A failing GETJOB (node down) is retried
    /// after `poll_timeout`, on the best reachable node.
    pub async fn run<F, Fut, E>(
        mut self,
        handler: F,
        shutdown: impl Future<Output = ()>,
    ) -> WorkerReport
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let handler = Arc::new(handler);
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut running: JoinSet<Outcome> = JoinSet::new();
        let mut report = WorkerReport::default();
        let mut shutdown = pin!(shutdown);
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = running.join_next(), if !running.is_empty() => {
                    tally(&mut report, done);
                    continue;
                }
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let mut permits = vec![first];
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            let fetch = GetJobOptions {
                timeout_ms: Some(self.options.poll_timeout.as_millis().max(1) as u64),
                count: Some(permits.len() as u64),
                with_counters: true,
                ..GetJobOptions::default()
            };
            match self.fetch.get_job(&self.queues, &fetch).await {
                Ok(jobs) => {
                    for (job, permit) in jobs.into_iter().zip(permits) {
                        running.spawn(process(
                            job,
                            handler.clone(),
                            self.control.clone(),
                            self.options.clone(),
                            permit,
                        ));
                    }
                }
                Err(e) => {
                    report.client_errors += 1;
                    report.last_error = Some(e.to_string());
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(self.options.poll_timeout) => {}
                    }
                }
            }
        }
        while let Some(done) = running.join_next().await {
            tally(&mut report, done);
        }
        report
    }
}

fn tally(report: &mut WorkerReport, done: Result<Outcome, tokio::task::JoinError>) {
    match done {
        Ok(Outcome::Acked) => report.acked += 1,
        Ok(Outcome::Nacked(why)) => {
            report.nacked += 1;
            report.last_error = Some(why);
        }
        Ok(Outcome::ClientError(why)) => {
            report.client_errors += 1;
            report.last_error = Some(why);
        }
        Err(e) => {
            // The handler panicked: the job is not acknowledged and comes
            // back after its RETRY.
            report.client_errors += 1;
            report.last_error = Some(format!("handler panicked: {e}"));
        }
    }
}

/// Runs the handler on one job with heartbeats, then ACKJOB or NACK.
async fn process<F, Fut, E>(
    job: Job,
    handler: Arc<F>,
    control: Arc<Mutex<ClusterClient>>,
    options: WorkerOptions,
    _slot: OwnedSemaphorePermit,
) -> Outcome
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    let id = job.id.clone();
    let mut work = pin!(handler(job));
    let mut next_beat = options.heartbeat;
    let result = loop {
        let Some(wait) = next_beat else {
            break work.await;
        };
        tokio::select! {
            result = &mut work => break result,
            () = tokio::time::sleep(wait) => {
                let beat = control.lock().await.working(&id).await;
                next_beat = match beat {
                    Ok(retry) if retry > 0 => {
                        let half_retry = Duration::from_millis(retry as u64 * 500);
                        Some(wait.min(half_retry))
                    }
                    _ => Some(wait),
                };
            }
        }
    };
    let mut control = control.lock().await;
    match result {
        Ok(()) => match control.ack_job(&[&id]).await {
            Ok(_) => Outcome::Acked,
            Err(e) => Outcome::ClientError(format!("ACKJOB {id}: {e}")),
        },
        Err(why) => {
            let sent = match options.nack_delay {
                Some(delay) => control.nack_with_delay(delay, &[&id]).await,
                None => control.nack(&[&id]).await,
            };
            match sent {
                Ok(_) => Outcome::Nacked(format!("job {id}: {why}")),
                Err(e) => Outcome::ClientError(format!("NACK {id}: {e}")),
            }
        }
    }
}
