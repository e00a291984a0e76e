//! `disque-faults`: runs a steady workload against a local cluster of real
//! `disque-server` processes while a nemesis injects faults, then drains and
//! prints a Jepsen-style total-queue report: lost, unexpected, duplicated,
//! recovered.
//!
//! ```text
//! disque-faults --server target/release/disque-server [--mode random|sequential]
//!     [--nodes N] [--seconds 30] [--seed 1] [--fsync always|everysec|no|off]
//!     [--node-timeout MS]
//! ```
//!
//! * `--mode random` (the default): 3 nodes; the nemesis kills (-9) and
//!   restarts nodes, pauses them (SIGSTOP/SIGCONT) and, when the servers were
//!   built with the `fault-injection` feature, partitions them
//!   (`DEBUG BUS-BLOCK`), then heals everything before the drain. The
//!   workload mixes REPLICATE 2, REPLICATE 1 and at-most-once jobs.
//!   `--fsync always|everysec|no` (default `always`) runs the nodes with an
//!   AOF; `--fsync off` without one, and then only node 0 is ever killed,
//!   since a replicated job is only guaranteed while a copy survives in
//!   memory.
//! * `--mode sequential`: 5 nodes, every job REPLICATE 3 with a RETRY, half
//!   of them to a backlog queue that only the drain consumes (so the kills
//!   always find queued jobs to re-replicate, not just the few in flight);
//!   nodes are killed (-9) one after another and never restarted until two
//!   are left, each kill waiting for the survivors to re-replicate (decision
//!   D8) what the previous one took away. See [`sequential`]. Since no node
//!   restarts, an AOF would never be read back: the default is `--fsync off`
//!   (copies survive only in memory); another policy only adds its cost.
//!
//! `--nodes` is 2 to 7 in random mode, 4 to 7 in sequential mode.
//! `--node-timeout` is the nodes' `cluster-node-timeout` (default 1000 ms,
//! 2000 ms in sequential mode). Exits 1 when a replicated acknowledged job was
//! lost, an unknown job was delivered, an at-most-once job was delivered
//! twice, or (sequential mode) a repair did not finish in time; 2 on a setup
//! error.

mod sequential;

use bytes::Bytes;
use disque_client::{Client, Reply};
use disque_stress::checker::{History, Kind};
use disque_testkit::{connect, Cluster, ServerOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUEUE: &str = "faults";
/// The queue left alone until the drain (sequential mode).
const BACKLOG: &str = "faults-backlog";
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Which faults the nemesis injects, and which jobs the workload adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Kills with restarts, pauses and partitions at random, then heal.
    Random,
    /// Kills without restart, one after another, until two nodes are left.
    Sequential,
}

struct Options {
    server: std::path::PathBuf,
    mode: Mode,
    nodes: usize,
    seconds: u64,
    seed: u64,
    fsync: String,
    node_timeout: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut server = "target/release/disque-server".into();
    let mut mode = Mode::Random;
    let (mut nodes, mut fsync, mut node_timeout) = (None, None, None);
    let (mut seconds, mut seed) = (30, 1);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair
            .get(1)
            .ok_or_else(|| format!("{} needs a value", pair[0]))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("bad value for {}", pair[0]))
        };
        match pair[0].as_str() {
            "--server" => server = value.into(),
            "--mode" => {
                mode = match value.as_str() {
                    "random" => Mode::Random,
                    "sequential" => Mode::Sequential,
                    _ => return Err(format!("unknown mode {value}")),
                }
            }
            "--nodes" => nodes = Some(number()? as usize),
            "--seconds" => seconds = number()?,
            "--seed" => seed = number()?,
            "--fsync" => fsync = Some(value.clone()),
            "--node-timeout" => node_timeout = Some(number()?.max(100)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    // Sequential mode needs a repair to watch: at least one kill that leaves
    // three nodes or more.
    let (min_nodes, default_nodes, default_fsync, default_timeout) = match mode {
        Mode::Random => (2, 3, "always", 1000),
        Mode::Sequential => (4, 5, "off", 2000),
    };
    Ok(Options {
        server,
        mode,
        nodes: nodes.unwrap_or(default_nodes).clamp(min_nodes, 7),
        seconds,
        seed,
        fsync: fsync.unwrap_or_else(|| default_fsync.into()),
        node_timeout: node_timeout.unwrap_or(default_timeout),
    })
}

/// One call with a deadline (a paused node never answers).
async fn call(c: &mut Client, args: &[&str]) -> Option<Reply> {
    match tokio::time::timeout(CALL_TIMEOUT, c.call(args)).await {
        Ok(Ok(reply)) => Some(reply),
        _ => None,
    }
}

/// The kind, queue and ADDJOB options of the next job. In sequential mode half
/// the jobs go to [`BACKLOG`], consumed only by the drain, so the kills always
/// find jobs to re-replicate.
fn next_job(mode: Mode, rng: &mut StdRng) -> (Kind, &'static str, &'static [&'static str]) {
    match mode {
        Mode::Sequential => (
            Kind::Replicated,
            if rng.gen_bool(0.5) { QUEUE } else { BACKLOG },
            &["REPLICATE", "3", "RETRY", "2"],
        ),
        Mode::Random => match rng.gen_range(0..10) {
            0..=5 => (Kind::Replicated, QUEUE, &["REPLICATE", "2", "RETRY", "2"]),
            6..=7 => (Kind::Single, QUEUE, &["REPLICATE", "1", "RETRY", "2"]),
            _ => (Kind::AtMostOnce, QUEUE, &["REPLICATE", "1", "RETRY", "0"]),
        },
    }
}

/// Adds jobs (body: a sequence number) to random nodes among `targets` until
/// `producing` is cleared.
async fn producer(
    mode: Mode,
    targets: Arc<Mutex<Vec<u16>>>,
    history: Arc<Mutex<History>>,
    producing: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seq = 0u64;
    let mut conn: Option<Client> = None;
    while producing.load(Ordering::Relaxed) {
        seq += 1;
        let (kind, queue, options) = next_job(mode, &mut rng);
        history.lock().expect("history").attempted(seq, kind);
        if conn.is_none() {
            let port = {
                let targets = targets.lock().expect("targets");
                targets[rng.gen_range(0..targets.len())]
            };
            conn = connect(port, Duration::from_millis(500)).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let body = seq.to_string();
        let mut args = vec!["ADDJOB", queue, body.as_str(), "2000"];
        args.extend_from_slice(options);
        let reply = call(c, &args).await;
        if matches!(reply, Some(Reply::Status(_))) {
            history.lock().expect("history").acknowledged(seq);
        } else {
            conn = None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Takes jobs from one node and acknowledges them until `consuming` is
/// cleared; from [`BACKLOG`] too once `draining` is set.
async fn consumer(
    port: u16,
    history: Arc<Mutex<History>>,
    consuming: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
) {
    let mut conn: Option<Client> = None;
    while consuming.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = connect(port, Duration::from_millis(500)).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut args = vec!["GETJOB", "TIMEOUT", "300", "COUNT", "10", "FROM", QUEUE];
        if draining.load(Ordering::Relaxed) {
            args.push(BACKLOG);
        }
        let Some(Reply::Array(jobs)) = call(c, &args).await else {
            if !matches!(call(c, &["PING"]).await, Some(Reply::Status(_))) {
                conn = None;
            }
            continue;
        };
        let mut ids: Vec<Bytes> = Vec::new();
        for job in jobs {
            let Reply::Array(fields) = job else { continue };
            if let (Some(Reply::Bulk(id)), Some(Reply::Bulk(body))) = (fields.get(1), fields.get(2))
            {
                if let Ok(seq) = String::from_utf8_lossy(body).parse::<u64>() {
                    history.lock().expect("history").delivered(seq);
                }
                ids.push(id.clone());
            }
        }
        let mut args: Vec<&[u8]> = vec![b"ACKJOB"];
        args.extend(ids.iter().map(|b| &b[..]));
        if tokio::time::timeout(CALL_TIMEOUT, c.call(&args))
            .await
            .is_err()
        {
            conn = None;
        }
    }
}

/// Cuts (`block`) or restores the bus traffic between node `i` and every other
/// node, with `DEBUG BUS-BLOCK` (servers built with the `fault-injection`
/// feature). False when the servers do not support it.
async fn partition(ports: &[u16], ids: &[String], i: usize, block: bool) -> bool {
    let word = if block { "yes" } else { "no" };
    let mut supported = true;
    for (j, &port) in ports.iter().enumerate().filter(|(j, _)| *j != i) {
        for (at, about) in [(port, &ids[i]), (ports[i], &ids[j])] {
            if let Ok(mut c) = connect(at, Duration::from_millis(500)).await {
                let reply = call(&mut c, &["DEBUG", "BUS-BLOCK", about, word]).await;
                supported &= !matches!(reply, Some(Reply::Error(_)));
            }
        }
    }
    supported
}

/// The random nemesis: kill and restart, pause, partition, until 3 s before
/// `until`. Returns what it did.
async fn nemesis(
    cluster: Arc<Mutex<Cluster>>,
    ids: Vec<String>,
    until: Instant,
    seed: u64,
    without_aof: bool,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut log = Vec::new();
    let ports = cluster.lock().expect("cluster").ports();
    let n = ports.len();
    let mut partitions = true;
    while Instant::now() + Duration::from_secs(3) < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..1500))).await;
        let i = rng.gen_range(0..n);
        if partitions && rng.gen_bool(0.3) {
            if partition(&ports, &ids, i, true).await {
                log.push(format!("partition node {i} from the others, heal"));
                tokio::time::sleep(Duration::from_millis(rng.gen_range(500..3000))).await;
            } else {
                log.push("partitions unavailable (server built without fault-injection)".into());
                partitions = false;
            }
            partition(&ports, &ids, i, false).await;
        } else if rng.gen_bool(0.5) {
            // Without an AOF a killed node comes back empty: only node 0 is ever
            // killed, so every replicated job keeps a copy on a node that never
            // lost its memory.
            let i = if without_aof { 0 } else { i };
            log.push(format!("kill -9 node {i}, restart"));
            cluster.lock().expect("cluster").kill(i);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1500))).await;
            cluster.lock().expect("cluster").nodes[i].revive();
        } else {
            log.push(format!("SIGSTOP node {i}, SIGCONT"));
            cluster.lock().expect("cluster").pause(i);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2500))).await;
            cluster.lock().expect("cluster").resume(i);
        }
    }
    log
}

async fn run(o: Options) -> Result<bool, String> {
    let without_aof = o.fsync == "off";
    let appendonly = if without_aof { "no" } else { "yes" };
    let fsync = if without_aof {
        "everysec"
    } else {
        o.fsync.as_str()
    };
    let node_timeout = o.node_timeout.to_string();
    let opts = ServerOptions::default()
        .bin(&o.server)
        .arg("appendonly", appendonly)
        .arg("appendfsync", fsync)
        .arg("cluster-node-timeout", &node_timeout);
    let cluster = Cluster::start_with(o.nodes, opts).await;
    let ports = cluster.ports();
    let ids = cluster.ids.clone();
    let cluster = Arc::new(Mutex::new(cluster));
    let history = Arc::new(Mutex::new(History::default()));
    let targets = Arc::new(Mutex::new(ports.clone()));
    let (producing, consuming, draining) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(false)),
    );
    let load_start = Instant::now();
    let until = load_start + Duration::from_secs(o.seconds);
    println!(
        "{:?} mode, nodes {:?}, {} s of load with faults, seed {}, appendfsync {}, cluster-node-timeout {} ms",
        o.mode, ports, o.seconds, o.seed, o.fsync, o.node_timeout
    );
    let consumers: Vec<_> = ports
        .iter()
        .map(|&p| {
            let (h, c, d) = (history.clone(), consuming.clone(), draining.clone());
            tokio::spawn(consumer(p, h, c, d))
        })
        .collect();
    let prod = tokio::spawn(producer(
        o.mode,
        targets.clone(),
        history.clone(),
        producing.clone(),
        o.seed,
    ));
    let (faults, summary, repaired) = match o.mode {
        Mode::Random => {
            let faults = nemesis(cluster.clone(), ids.clone(), until, o.seed, without_aof).await;
            tokio::time::sleep_until(until.into()).await;
            (faults, None, true)
        }
        Mode::Sequential => {
            let plan = sequential::Plan {
                load: Duration::from_secs(o.seconds),
                node_timeout: Duration::from_millis(o.node_timeout),
                seed: o.seed,
            };
            let outcome = sequential::nemesis(&cluster, &targets, &ids, &plan).await;
            (outcome.log, Some(outcome.summary), outcome.repaired)
        }
    };
    producing.store(false, Ordering::Relaxed);
    let _ = prod.await;
    if o.mode == Mode::Random {
        // Heal: every node up.
        let mut c = cluster.lock().expect("cluster");
        for i in 0..ports.len() {
            c.resume(i);
            c.nodes[i].revive();
        }
    }
    // Drain until nothing new arrives for a while (longer than a RETRY).
    draining.store(true, Ordering::Relaxed);
    let drain_start = Instant::now();
    let load = drain_start - load_start;
    let (mut last_count, mut last_change) = (0, Instant::now());
    while last_change.elapsed() < Duration::from_secs(8)
        && drain_start.elapsed() < Duration::from_secs(90)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let count = history.lock().expect("history").deliveries();
        if count != last_count {
            (last_count, last_change) = (count, Instant::now());
        }
    }
    consuming.store(false, Ordering::Relaxed);
    for c in consumers {
        let _ = c.await;
    }
    let report = history.lock().expect("history").report();
    println!(
        "load with faults {:.1} s, drain {:.1} s (last delivery after {:.1} s)",
        load.as_secs_f64(),
        drain_start.elapsed().as_secs_f64(),
        (last_change - drain_start).as_secs_f64()
    );
    println!("faults injected: {}", faults.len());
    for f in &faults {
        println!("  {f}");
    }
    if let Some(summary) = summary {
        println!("{summary}");
    }
    println!(
        "acknowledged {} | lost {} | lost (REPLICATE 1, allowed) {} | unexpected {} | duplicated at-most-once {} | redelivered at-least-once {} | recovered {}",
        report.acknowledged,
        report.lost,
        report.lost_single,
        report.unexpected,
        report.duplicated_at_most_once,
        report.redelivered,
        report.recovered
    );
    Ok(report.ok() && repaired)
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\nusage: disque-faults --server PATH [--mode random|sequential] [--nodes N] [--seconds S] [--seed N] [--fsync always|everysec|no|off] [--node-timeout MS]");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(run(options)) {
        Ok(true) => println!("OK: no acknowledged replicated job lost, nothing unexpected, no at-most-once duplicate"),
        Ok(false) => {
            println!("FAILED");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
