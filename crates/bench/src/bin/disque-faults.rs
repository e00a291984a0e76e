//! `disque-faults`: runs a steady workload against a local cluster of real
//! `disque-server` processes while a nemesis kills (-9) and restarts nodes,
//! pauses them (SIGSTOP/SIGCONT) and, when the servers were built with the
//! `fault-injection` feature, partitions them (`DEBUG BUS-BLOCK`), then heals,
//! drains, and prints a Jepsen-style total-queue report: lost, unexpected,
//! duplicated, recovered.
//!
//! ```text
//! disque-faults --server target/release/disque-server [--nodes 3] [--seconds 30] [--seed 1] [--fsync always]
//! ```
//!
//! `--fsync always|everysec|no` runs the nodes with an AOF; `--fsync off`
//! without one, and then only node 0 is ever killed, since a replicated job is
//! only guaranteed while a copy survives in memory. Exits 1 when a replicated acknowledged job was lost, an unknown job was
//! delivered, or an at-most-once job was delivered twice.

use bytes::Bytes;
use disque_bench::checker::{History, Kind};
use disque_bench::cluster::{connect, LocalCluster};
use disque_client::{Client, Reply};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUEUE: &str = "faults";
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

struct Options {
    server: std::path::PathBuf,
    nodes: usize,
    seconds: u64,
    seed: u64,
    fsync: String,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        server: "target/release/disque-server".into(),
        nodes: 3,
        seconds: 30,
        seed: 1,
        fsync: "always".into(),
    };
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
            "--server" => o.server = value.into(),
            "--nodes" => o.nodes = number()?.clamp(2, 7) as usize,
            "--seconds" => o.seconds = number()?,
            "--seed" => o.seed = number()?,
            "--fsync" => o.fsync = value.clone(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// One call with a deadline (a paused node never answers).
async fn call(c: &mut Client, args: &[&str]) -> Option<Reply> {
    match tokio::time::timeout(CALL_TIMEOUT, c.call(args)).await {
        Ok(Ok(reply)) => Some(reply),
        _ => None,
    }
}

async fn producer(ports: Vec<u16>, history: Arc<Mutex<History>>, until: Instant, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seq = 0u64;
    let mut conn: Option<Client> = None;
    while Instant::now() < until {
        seq += 1;
        let (kind, options): (Kind, &[&str]) = match rng.gen_range(0..10) {
            0..=5 => (Kind::Replicated, &["REPLICATE", "2", "RETRY", "2"]),
            6..=7 => (Kind::Single, &["REPLICATE", "1", "RETRY", "2"]),
            _ => (Kind::AtMostOnce, &["REPLICATE", "1", "RETRY", "0"]),
        };
        history.lock().expect("history").attempted(seq, kind);
        if conn.is_none() {
            let port = ports[rng.gen_range(0..ports.len())];
            conn = connect(port, Duration::from_millis(500)).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let body = seq.to_string();
        let mut args = vec!["ADDJOB", QUEUE, body.as_str(), "2000"];
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

async fn consumer(port: u16, history: Arc<Mutex<History>>, stop: Arc<Mutex<bool>>) {
    let mut conn: Option<Client> = None;
    while !*stop.lock().expect("stop") {
        if conn.is_none() {
            conn = connect(port, Duration::from_millis(500)).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let Some(Reply::Array(jobs)) = call(
            c,
            &["GETJOB", "TIMEOUT", "300", "COUNT", "10", "FROM", QUEUE],
        )
        .await
        else {
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

async fn nemesis(
    cluster: Arc<Mutex<LocalCluster>>,
    ids: Vec<String>,
    until: Instant,
    seed: u64,
    without_aof: bool,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut log = Vec::new();
    let ports: Vec<u16> = cluster
        .lock()
        .expect("cluster")
        .nodes
        .iter()
        .map(|n| n.port)
        .collect();
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
            cluster.lock().expect("cluster").restart(i);
        } else {
            log.push(format!("SIGSTOP node {i}, SIGCONT"));
            cluster.lock().expect("cluster").pause(i, true);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2500))).await;
            cluster.lock().expect("cluster").pause(i, false);
        }
    }
    log
}

async fn run(o: Options) -> Result<bool, String> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    let without_aof = o.fsync == "off";
    let appendonly = if without_aof { "no" } else { "yes" };
    let fsync = if without_aof {
        "everysec"
    } else {
        o.fsync.as_str()
    };
    let args = [
        "--appendonly",
        appendonly,
        "--appendfsync",
        fsync,
        "--cluster-node-timeout",
        "1000",
    ];
    let cluster = LocalCluster::start(o.server.clone(), o.nodes, &args, &mut rng);
    cluster.join(Duration::from_secs(20)).await?;
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let mut ids = Vec::new();
    for &port in &ports {
        let mut c = connect(port, Duration::from_secs(5)).await?;
        match call(&mut c, &["CLUSTER", "MYID"]).await {
            Some(Reply::Bulk(id)) => ids.push(String::from_utf8_lossy(&id).into_owned()),
            other => return Err(format!("CLUSTER MYID on {port}: {other:?}")),
        }
    }
    let cluster = Arc::new(Mutex::new(cluster));
    let history = Arc::new(Mutex::new(History::default()));
    let stop = Arc::new(Mutex::new(false));
    let until = Instant::now() + Duration::from_secs(o.seconds);
    println!(
        "nodes {:?}, {} s of load with faults, seed {}, appendfsync {}",
        ports, o.seconds, o.seed, o.fsync
    );
    let consumers: Vec<_> = ports
        .iter()
        .map(|&p| tokio::spawn(consumer(p, history.clone(), stop.clone())))
        .collect();
    let prod = tokio::spawn(producer(ports.clone(), history.clone(), until, o.seed));
    let faults = nemesis(cluster.clone(), ids.clone(), until, o.seed, without_aof).await;
    let _ = prod.await;
    // Heal: every node up; then drain until nothing new arrives for a while.
    {
        let mut c = cluster.lock().expect("cluster");
        for i in 0..ports.len() {
            c.pause(i, false);
            c.restart(i);
        }
    }
    let drain_start = Instant::now();
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
    *stop.lock().expect("stop") = true;
    for c in consumers {
        let _ = c.await;
    }
    let report = history.lock().expect("history").report();
    println!("faults injected: {}", faults.len());
    for f in &faults {
        println!("  {f}");
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
    Ok(report.ok())
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\nusage: disque-faults --server PATH [--nodes N] [--seconds S] [--seed N] [--fsync always|everysec|no|off]");
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
