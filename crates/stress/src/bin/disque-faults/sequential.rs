//! The sequential-failure nemesis (`--mode sequential`): kill (-9) nodes one
//! after another, never restarting them, until two are left, and time how
//! long the survivors take to re-replicate (decision D8) the jobs each kill
//! left with fewer than REPLICATE copies.
//!
//! With `n` nodes there are `n - 2` kills. Kill `j` (from 1) comes at
//! `j / (n - 2)` of the load time, and never earlier than [`SETTLE`] after the
//! previous repair finished, so the last one comes at the end of the load
//! and every kill finds every job back to its copies. The victim is taken out
//! of the producer's targets first; the consumers keep running.
//!
//! After a kill that leaves at least three nodes and a majority of the
//! cluster, a repair is expected: the survivors must flag the victim `fail`
//! (after `cluster-node-timeout`, once a majority agrees), then report
//! `underreplicated_jobs:0` in `INFO jobs`, every one of them, for
//! [`ZERO_STABLE`] in a row (so a sweep that had not started yet cannot pass
//! for a finished one). The repair time is from the kill to the first of
//! those readings; the line also tells when the sum of `rereplicated_jobs`
//! reached its final value (the copies themselves). A repair that does not
//! finish within its deadline fails the run. After the other kills (the last
//! one with four or five nodes, the last two with six or seven) no repair is
//! possible: REPLICATE 3 needs three nodes, and FAIL needs a majority of all
//! nodes; the nemesis only waits until the survivors see the victim failing
//! (`fail?` or `fail`). Every job then still has a copy on a survivor, since
//! the last repair left three copies on three distinct nodes.

use super::call;
use disque_client::{Client, Reply};
use disque_testkit::{connect, Cluster};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::hash_map::{Entry, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Load between a finished repair and the next kill, at least.
const SETTLE: Duration = Duration::from_secs(1);
/// How long every survivor must report no under-replicated job.
const ZERO_STABLE: Duration = Duration::from_secs(1);
/// How long, beyond the node timeout, failure detection may take.
const DETECT_SLACK: Duration = Duration::from_secs(20);
/// How long re-replication may take once every survivor flagged the victim FAIL.
const REPAIR_DEADLINE: Duration = Duration::from_secs(60);
/// Interval between two readings of the survivors.
const POLL: Duration = Duration::from_millis(50);

/// The shape of a sequential run.
pub struct Plan {
    /// How long the producer adds jobs, at least (the kills are spread over it).
    pub load: Duration,
    /// The nodes' `cluster-node-timeout`.
    pub node_timeout: Duration,
    /// Chooses the order of the victims.
    pub seed: u64,
}

/// What the nemesis did.
pub struct Outcome {
    /// One line per kill.
    pub log: Vec<String>,
    /// The repair times and the number of jobs re-replicated.
    pub summary: String,
    /// Every expected repair finished in time.
    pub repaired: bool,
}

/// Monitoring connections to the nodes, one per port, reopened when lost.
#[derive(Default)]
struct Probe {
    conns: HashMap<u16, Client>,
}

impl Probe {
    /// A bulk reply from `port`, or `None` (and the connection is dropped).
    async fn bulk(&mut self, port: u16, args: &[&str]) -> Option<String> {
        if let Entry::Vacant(slot) = self.conns.entry(port) {
            slot.insert(connect(port, Duration::from_millis(500)).await.ok()?);
        }
        let reply = call(self.conns.get_mut(&port)?, args).await;
        if let Some(Reply::Bulk(text)) = reply {
            return Some(String::from_utf8_lossy(&text).into_owned());
        }
        self.conns.remove(&port);
        None
    }

    /// `underreplicated_jobs` and `rereplicated_jobs` of `INFO jobs` on `port`.
    async fn repair_counters(&mut self, port: u16) -> Option<(u64, u64)> {
        let info = self.bulk(port, &["INFO", "jobs"]).await?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Some((field("underreplicated_jobs")?, field("rereplicated_jobs")?))
    }

    /// The sums of both counters over `ports`, `None` when a node did not answer.
    async fn repair_sums(&mut self, ports: &[u16]) -> Option<(u64, u64)> {
        let mut sums = (0, 0);
        for &port in ports {
            let (under, copied) = self.repair_counters(port).await?;
            sums = (sums.0 + under, sums.1 + copied);
        }
        Some(sums)
    }

    /// The flags of node `id` in `CLUSTER NODES` on `port`.
    async fn flags(&mut self, port: u16, id: &str) -> Option<Vec<String>> {
        let nodes = self.bulk(port, &["CLUSTER", "NODES"]).await?;
        let line = nodes.lines().find(|l| l.starts_with(id))?;
        let flags = line.split_whitespace().nth(2)?;
        Some(flags.split(',').map(str::to_owned).collect())
    }

    /// Waits until every node of `ports` flags `id` with one of `wanted`;
    /// the time it took from `since`, or `None` at `deadline`.
    async fn wait_flagged(
        &mut self,
        ports: &[u16],
        id: &str,
        wanted: &[&str],
        since: Instant,
        deadline: Instant,
    ) -> Option<Duration> {
        loop {
            let mut all = true;
            for &port in ports {
                let flags = self.flags(port, id).await.unwrap_or_default();
                all &= flags.iter().any(|f| wanted.contains(&f.as_str()));
            }
            if all {
                return Some(since.elapsed());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every node of `ports` reports `underreplicated_jobs:0` for
    /// [`ZERO_STABLE`], or until `deadline`; `copied` is the sum of their
    /// `rereplicated_jobs` before the kill at `since`.
    async fn wait_repaired(
        &mut self,
        ports: &[u16],
        since: Instant,
        deadline: Instant,
        copied: u64,
    ) -> Repair {
        let mut repair = Repair {
            copied,
            ..Repair::default()
        };
        let mut zero_since = None;
        loop {
            let sums = self.repair_sums(ports).await;
            if let Some((under, copied)) = sums {
                repair.peak = repair.peak.max(under);
                if copied > repair.copied {
                    (repair.copied, repair.last_copy) = (copied, Some(since.elapsed()));
                }
            }
            match sums {
                Some((0, _)) => {
                    let at = *zero_since.get_or_insert_with(Instant::now);
                    if at.elapsed() >= ZERO_STABLE {
                        repair.done = Some(at - since);
                        return repair;
                    }
                }
                _ => zero_since = None,
            }
            if Instant::now() > deadline {
                return repair;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// What [`Probe::wait_repaired`] saw.
#[derive(Default)]
struct Repair {
    /// From the kill to the first of the readings with no under-replicated job.
    done: Option<Duration>,
    /// The highest sum of `underreplicated_jobs` read.
    peak: u64,
    /// The last sum of `rereplicated_jobs` read, and the first reading (from
    /// the kill) that showed it.
    copied: u64,
    last_copy: Option<Duration>,
}

/// Kills nodes of `cluster` one after another until two are left, taking
/// each victim out of `targets` first; `ids` are the nodes' ids, by index.
pub async fn nemesis(
    cluster: &Mutex<Cluster>,
    targets: &Mutex<Vec<u16>>,
    ids: &[String],
    plan: &Plan,
) -> Outcome {
    let ports = cluster.lock().expect("cluster").ports();
    let n = ports.len();
    let mut victims: Vec<usize> = (0..n).collect();
    victims.shuffle(&mut StdRng::seed_from_u64(plan.seed ^ 0x5eed));
    victims.truncate(n - 2);
    let kills = victims.len() as u32;
    let start = Instant::now();
    let mut probe = Probe::default();
    let mut alive: Vec<usize> = (0..n).collect();
    let (mut log, mut repaired, mut times) = (Vec::new(), true, Vec::new());
    let mut rereplicated = 0;
    let mut next_kill = start;
    for (j, &victim) in victims.iter().enumerate() {
        next_kill = next_kill.max(start + plan.load * (j as u32 + 1) / kills);
        tokio::time::sleep_until(next_kill.into()).await;
        alive.retain(|&i| i != victim);
        let survivors: Vec<u16> = alive.iter().map(|&i| ports[i]).collect();
        let before = probe.repair_sums(&survivors).await.map_or(0, |s| s.1);
        targets
            .lock()
            .expect("targets")
            .retain(|&p| p != ports[victim]);
        cluster.lock().expect("cluster").kill(victim);
        let killed = Instant::now();
        let mut line = format!(
            "kill -9 node {victim} at {:.1} s, {} left:",
            (killed - start).as_secs_f64(),
            survivors.len()
        );
        let detect_deadline = killed + plan.node_timeout + DETECT_SLACK;
        if survivors.len() < 3 || survivors.len() <= n / 2 {
            let seen = probe
                .wait_flagged(
                    &survivors,
                    &ids[victim],
                    &["fail?", "fail"],
                    killed,
                    detect_deadline,
                )
                .await;
            let why = if survivors.len() < 3 {
                "too few nodes for REPLICATE 3"
            } else {
                "no majority to flag it FAIL"
            };
            line += &match seen {
                Some(t) => format!(" seen failing after {:.2} s;", t.as_secs_f64()),
                None => " not seen failing by every survivor;".into(),
            };
            line += &format!(" no repair expected ({why})");
            log.push(line);
            continue;
        }
        let Some(failed) = probe
            .wait_flagged(&survivors, &ids[victim], &["fail"], killed, detect_deadline)
            .await
        else {
            line += " not flagged FAIL by every survivor in time";
            log.push(line);
            repaired = false;
            continue;
        };
        let repair_deadline = Instant::now() + REPAIR_DEADLINE;
        let repair = probe
            .wait_repaired(&survivors, killed, repair_deadline, before)
            .await;
        let copied = repair.copied.saturating_sub(before);
        rereplicated += copied;
        line += &format!(" FAIL after {:.2} s,", failed.as_secs_f64());
        if let Some(t) = repair.last_copy {
            line += &format!(" copies made by {:.2} s,", t.as_secs_f64());
        }
        match repair.done {
            Some(t) => {
                line += &format!(
                    " underreplicated_jobs:0 on every survivor after {:.2} s",
                    t.as_secs_f64()
                );
                times.push(format!("{:.2} s", t.as_secs_f64()));
            }
            None => {
                line += " still under-replicated jobs at the deadline";
                repaired = false;
            }
        }
        line += &format!(" (peak sum {}), {copied} jobs re-replicated", repair.peak);
        log.push(line);
        next_kill = Instant::now() + SETTLE;
    }
    let summary = format!(
        "repair times (kill to underreplicated_jobs:0): {}; jobs re-replicated: {rereplicated}",
        if times.is_empty() {
            "none".into()
        } else {
            times.join(", ")
        }
    );
    Outcome {
        log,
        summary,
        repaired,
    }
}
