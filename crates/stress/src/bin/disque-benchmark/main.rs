//! `disque-benchmark`: a load generator for any Disque server (this one or
//! the original), in the spirit of `redis-benchmark`, that reports
//! throughput and latency percentiles from an HDR histogram.
//!
//! ```text
//! disque-benchmark [--workload add|get-ack|mixed] [--host H] [-p PORT]...
//!     [--nodes H:P,H:P...] [-c CLIENTS] [-P PIPELINE] [-n REQUESTS | --duration SECS]
//!     [-d BODY_SIZE] [--replicate N] [--async] [--retry SECS] [--ttl SECS]
//!     [--timeout MS] [--queue NAME] [--queues N] [--producers N] [--prefill N]
//!     [--threads N] [--json] [--quiet]
//! ```
//!
//! * `add`: every client sends `ADDJOB`; one request is one ADDJOB.
//! * `get-ack`: the queues are first filled with `--prefill` jobs (not
//!   measured), then every client takes jobs with `GETJOB NOHANG` and
//!   acknowledges each with `ACKJOB`; one request is one job's GETJOB and
//!   ACKJOB, timed from the GETJOB sent to the ACKJOB answered. A client
//!   stops when its node has no job left.
//! * `mixed`: `--producers` clients send ADDJOB while the others take and
//!   acknowledge jobs (`GETJOB TIMEOUT 100`) at the same time; each kind is
//!   reported on its own line.
//!
//! Clients are spread round-robin over the nodes (`--port` repeated or
//! `--nodes`). With `--pipeline P` a client writes P commands at once and
//! then reads their P replies; each request's latency runs from the write to
//! its own reply. The report (stdout, or one JSON object with `--json`) gives
//! requests, errors, throughput, and latency min, mean, p50, p90, p99,
//! p99.9 and max, and names the worst request and when it happened. A
//! progress line is drawn on stderr once a second when stderr is a terminal,
//! unless `--quiet`. Exit status: 0, or 1 when any request got an error
//! reply (the report shows the first one), 2 when the run could not be made
//! (no connection, a connection lost).

mod report;
mod workload;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use disque_client::Client;

use report::Report;
use workload::{Role, Shared};

/// What the clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// ADDJOB only.
    Add,
    /// Fill the queues with --prefill jobs (not measured), then GETJOB
    /// NOHANG and ACKJOB for each job until none is left.
    #[value(name = "get-ack", alias = "get+ack")]
    GetAck,
    /// --producers clients send ADDJOB while the others take and acknowledge
    /// jobs (GETJOB TIMEOUT 100) at the same time.
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Add => "add",
            Workload::GetAck => "get-ack",
            Workload::Mixed => "mixed",
        }
    }
}

/// Load generator for Disque: ADDJOB, GETJOB+ACKJOB or both at once, with
/// throughput and latency percentiles (p50, p99, p99.9, max) from an HDR
/// histogram.
#[derive(Debug, Parser)]
#[command(
    name = "disque-benchmark",
    version,
    after_help = "Examples:
  disque-benchmark -p 7711 -c 50 -n 1000000 -P 4
  disque-benchmark --nodes 127.0.0.1:7711,127.0.0.1:7712 --replicate 2 --duration 10
  disque-benchmark -w get-ack -n 200000 --json
  disque-benchmark -w mixed --producers 10 -c 40 --retry 30 --duration 30

Exit status: 0; 1 when a request got an error reply (the report shows the
first one); 2 when the run could not be made (no connection, a connection lost)."
)]
struct Options {
    /// What the clients do. For consumers one request is one job taken with
    /// GETJOB and acknowledged with ACKJOB, timed from the GETJOB sent to the
    /// ACKJOB answered.
    #[arg(short, long, value_enum, default_value_t = Workload::Add)]
    workload: Workload,

    /// Server host name or address (used with --port).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Server port; repeat it to spread the clients over several nodes.
    #[arg(short, long = "port", default_value = "7711", value_name = "PORT")]
    ports: Vec<u16>,

    /// Nodes as HOST:PORT,HOST:PORT,... instead of --host and --port; the
    /// clients are spread over them round-robin.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,...",
          conflicts_with_all = ["host", "ports"])]
    nodes: Vec<String>,

    /// Connections (clients) in all.
    #[arg(short, long, default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,

    /// Commands each client writes at once before reading their replies.
    #[arg(short = 'P', long, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pipeline: u32,

    /// Requests in all (default 100000); for mixed, the jobs added, which
    /// are also the jobs to take.
    #[arg(short = 'n', long, conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,

    /// Run for this many seconds instead of a number of requests.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Bytes in each job body.
    #[arg(short = 'd', long, default_value_t = 16, value_name = "BYTES")]
    body_size: usize,

    /// ADDJOB REPLICATE <count> (default: the server's, min(3, cluster size)).
    #[arg(long, value_name = "COUNT")]
    replicate: Option<u32>,

    /// ADDJOB ASYNC: the server answers before the copies are made.
    #[arg(long = "async")]
    async_replication: bool,

    /// ADDJOB RETRY <seconds>.
    #[arg(long, value_name = "SECONDS")]
    retry: Option<u64>,

    /// ADDJOB TTL <seconds>.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,

    /// ADDJOB's <ms-timeout>: how long a synchronous replication may take
    /// (0: no limit).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    timeout: u64,

    /// Queue name; with --queues N > 1 the queues are NAME:0 to NAME:N-1.
    #[arg(long, default_value = "disque-benchmark", value_name = "NAME")]
    queue: String,

    /// Number of queues; ADDJOBs go to them in turn, GETJOB asks all.
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    queues: u32,

    /// mixed: clients that add jobs (default: half); the others consume.
    #[arg(long, value_name = "CLIENTS")]
    producers: Option<u32>,

    /// get-ack: jobs added before the measured part (default: --requests;
    /// 0 takes the jobs already queued).
    #[arg(long, value_name = "JOBS")]
    prefill: Option<u64>,

    /// Threads of the benchmark itself (1 keeps it to one core, like
    /// redis-benchmark).
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,

    /// Print one JSON object with every figure instead of the text report.
    #[arg(long)]
    json: bool,

    /// No progress line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Requests when neither --requests nor --duration is given.
const DEFAULT_REQUESTS: u64 = 100_000;

/// How long the connections may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The run as resolved from the options: what every client needs.
#[derive(Debug)]
struct Plan {
    /// `host:port` of each node.
    nodes: Vec<String>,
    workload: Workload,
    clients: u32,
    producers: u32,
    pipeline: u32,
    /// `None` with --duration.
    requests: Option<u64>,
    duration: Option<Duration>,
    prefill: u64,
    body_size: usize,
    queues: Vec<Bytes>,
    /// One ADDJOB per queue, ready to send.
    addjobs: Vec<Vec<Bytes>>,
}

impl Plan {
    fn new(o: &Options) -> Result<Plan, String> {
        let nodes = if o.nodes.is_empty() {
            o.ports.iter().map(|p| format!("{}:{p}", o.host)).collect()
        } else {
            o.nodes.iter().map(|n| n.trim().to_string()).collect()
        };
        let duration = match o.duration {
            Some(s) if !(s > 0.0 && s < 1e9) => return Err("--duration must be > 0".into()),
            Some(s) => Some(Duration::from_secs_f64(s)),
            None => None,
        };
        let requests = match duration {
            Some(_) => None,
            None => Some(o.requests.unwrap_or(DEFAULT_REQUESTS)),
        };
        let producers = match o.workload {
            Workload::Add => o.clients,
            Workload::GetAck => 0,
            Workload::Mixed => {
                if o.clients < 2 {
                    return Err("mixed needs at least 2 clients".into());
                }
                let p = o.producers.unwrap_or(o.clients / 2);
                if p == 0 || p >= o.clients {
                    return Err(format!("--producers must be 1 to {}", o.clients - 1));
                }
                p
            }
        };
        let prefill = match o.workload {
            Workload::GetAck => o.prefill.unwrap_or(requests.unwrap_or(DEFAULT_REQUESTS)),
            _ => 0,
        };
        let queues: Vec<Bytes> = if o.queues == 1 {
            vec![Bytes::from(o.queue.clone())]
        } else {
            (0..o.queues)
                .map(|i| Bytes::from(format!("{}:{i}", o.queue)))
                .collect()
        };
        let body = Bytes::from(vec![b'x'; o.body_size]);
        let mut options: Vec<Bytes> = Vec::new();
        let numeric = [
            ("REPLICATE", o.replicate.map(u64::from)),
            ("RETRY", o.retry),
            ("TTL", o.ttl),
        ];
        for (name, value) in numeric {
            if let Some(value) = value {
                options.push(Bytes::from_static(name.as_bytes()));
                options.push(Bytes::from(value.to_string()));
            }
        }
        if o.async_replication {
            options.push(Bytes::from_static(b"ASYNC"));
        }
        let addjobs = queues
            .iter()
            .map(|queue| {
                let mut args = vec![
                    Bytes::from_static(b"ADDJOB"),
                    queue.clone(),
                    body.clone(),
                    Bytes::from(o.timeout.to_string()),
                ];
                args.extend(options.iter().cloned());
                args
            })
            .collect();
        Ok(Plan {
            nodes,
            workload: o.workload,
            clients: o.clients,
            producers,
            pipeline: o.pipeline,
            requests,
            duration,
            prefill,
            body_size: o.body_size,
            queues,
            addjobs,
        })
    }

    /// The node client `i` talks to.
    fn node(&self, i: u32) -> &str {
        &self.nodes[i as usize % self.nodes.len()]
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    let plan = match Plan::new(&options) {
        Ok(plan) => Arc::new(plan),
        Err(e) => {
            eprintln!("disque-benchmark: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(options.threads as usize);
        builder
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    let progress = !options.quiet && std::io::stderr().is_terminal();
    match runtime.block_on(run(plan.clone(), progress)) {
        Ok(report) => {
            if options.json {
                println!("{}", report.to_json(&plan));
            } else {
                print!("{}", report.to_text(&plan));
            }
            if report.errors() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("disque-benchmark: {e}");
            ExitCode::from(2)
        }
    }
}

/// Connects every client, prefills for get-ack, runs the workload and
/// gathers what each client measured.
async fn run(plan: Arc<Plan>, progress: bool) -> Result<Report, String> {
    let mut clients = Vec::with_capacity(plan.clients as usize);
    for i in 0..plan.clients {
        let node = plan.node(i);
        let client = tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(node))
            .await
            .map_err(|_| format!("cannot connect to {node}: timed out"))?
            .map_err(|e| format!("cannot connect to {node}: {e}"))?;
        clients.push(client);
    }
    let prefill = if plan.prefill > 0 {
        let started = Instant::now();
        clients = workload::prefill(&plan, clients, progress).await?;
        Some((plan.prefill, started.elapsed()))
    } else {
        None
    };

    let shared = Arc::new(Shared::new(&plan));
    let mut tasks = Vec::with_capacity(clients.len());
    for (i, client) in (0..).zip(clients) {
        let role = if i < plan.producers {
            Role::Producer
        } else {
            Role::Consumer
        };
        tasks.push(tokio::spawn(workload::client(
            plan.clone(),
            shared.clone(),
            client,
            i,
            role,
        )));
    }
    let ticker =
        progress.then(|| tokio::spawn(show_progress(shared.clone(), plan.workload.name())));
    let stopper = tokio::spawn({
        let shared = shared.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                shared.stop();
                eprintln!("\rstopping after the requests in flight (Ctrl-C again to quit)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        }
    });

    let mut report = Report::default();
    let mut failure = None;
    for task in tasks {
        match task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(stats) => report.merge(stats),
            Err(e) => {
                shared.stop();
                failure.get_or_insert(e);
            }
        }
    }
    report.elapsed = shared.start.elapsed();
    report.prefill = prefill;
    stopper.abort();
    if let Some(ticker) = ticker {
        ticker.abort();
        eprint!("\r\x1b[K");
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Redraws the progress line on stderr once a second, starting with `label`.
async fn show_progress(shared: Arc<Shared>, label: &'static str) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let done = shared.answered();
        let elapsed = shared.start.elapsed().as_secs_f64();
        eprint!(
            "\r\x1b[K{label}: {elapsed:.0} s  {done} requests  {} req/s now  {:.0} req/s overall  worst {:.3} ms",
            done - last,
            done as f64 / elapsed,
            shared.worst_ns() as f64 / 1e6,
        );
        let _ = std::io::stderr().flush();
        last = done;
    }
}
