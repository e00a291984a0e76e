//! The deterministic simulator: one seed picks a cluster (3 to 7 nodes), a
//! fault profile and a workload, runs it on a [`Net`], and checks invariants.
//!
//! Nine seeds in ten make a [`Profile::Chaos`] run, one in ten a
//! [`Profile::Sequential`] run (described at the end). A chaos run has five
//! phases:
//!
//! 1. **Setup**: the nodes meet and converge to a full mesh, no faults.
//! 2. **Chaos** (20 s): producers add jobs (REPLICATE 1..N or the default,
//!    RETRY 0 and > 0, TTLs, DELAY, ASYNC, timeouts) on random nodes;
//!    consumers fetch them (blocking or NOHANG GETJOB, COUNT, WITHCOUNTERS,
//!    from several queues, so federation moves jobs) and then ACKJOB
//!    (sometimes on another node, making dummy ACKs), FASTACK, NACK,
//!    WORKING-then-ACK, or vanish without a word. Meanwhile frames are
//!    dropped, delayed, duplicated and reordered, the network is partitioned
//!    and healed (frames on open connections lost or held like TCP), nodes
//!    crash (keeping their whole AOF, its fsynced prefix, or nothing) and
//!    restart, in some runs a node loses power the moment it confirms a copy
//!    with GOTJOB, AOFs are rewritten, nodes enter leaving mode or memory
//!    pressure for a while (external replication, ENQUEUE, D3), queues are
//!    paused in input, output or both on one node for a while.
//! 3. **Heal**: partitions end, crashed nodes restart, leaving mode, memory
//!    pressure and pauses end, message faults stop; the cluster must converge.
//! 4. **Drain**: a consumer on every node fetches and acknowledges everything.
//! 5. **Quiesce**: acknowledged jobs must be garbage-collected everywhere.
//!
//! In odd seeds the workload also uses decisions D16–D18 (drawn from an RNG
//! of their own, so even seeds run exactly as before them): producers add
//! some jobs with `PRIORITY` and some with `DEADLETTER <another queue> <1..3>`
//! (the queues include `dlq`), consumers answer some deliveries with
//! `NACK DELAY <1..3>`.
//!
//! Invariants, checked as things happen:
//!
//! * an at-most-once job (RETRY 0) is delivered at most once (unless the
//!   network duplicated one of its frames);
//! * no job is delivered after its TTL (with the slack the spec allows:
//!   expiry is checked up to 1 s late, and every hop to another node adds up
//!   to 2 s plus the time the frame spent in transit, since the remaining TTL
//!   travels, not the expire time);
//! * no job is delivered after its acknowledgement reached every node: once
//!   every node is up and holds the job acked or not at all, and no frame
//!   carrying it is in flight (or held by a partition), it is never delivered
//!   again, unless a node then loses unsynced AOF records in a power loss
//!   (acks are not durable);
//! * an ACKJOB sent while the cluster is healthy and quiet (every node up,
//!   linked, not leaving; no message faults; every holder knowing the others)
//!   stops deliveries once its SETACKs had time to arrive, unless something
//!   breaks afterwards;
//! * a copy a node announced (GOTJOB, or the ADDJOB reply of its origin)
//!   survives every crash of that node that keeps what the fsync policy
//!   promised: a process crash, and a power loss with `appendfsync always`;
//!   only a lost disk (or its TTL) takes it away. Checked at the restart; it
//!   fails with [`NetConfig::bus_after_durable`] off (the old server's
//!   ordering, frames before records);
//! * the core never panics and only emits frames that decode; replies have
//!   the expected shape and only expected errors;
//! * a job is delivered from its own queue or, with DEADLETTER, from its
//!   dead-letter queue; a job that undisturbed holders (every node up and
//!   linked, no message faults, no frame about it in flight, no crash or
//!   partition since it was added) moved to its dead-letter queue is moved
//!   by every holder, queued on one node at most, and never again in its
//!   own queue (D17);
//! * a NACK DELAY sent in a healthy, quiet cluster (as for ACKJOB below) is
//!   honoured: once its NACKDELAYs had time to arrive, no node delivers the
//!   job before the delay ends, unless something breaks meanwhile (D16);
//!
//! and at the end:
//!
//! * the cluster converges again after the heal;
//! * every job whose ADDJOB returned an id is delivered — and, for RETRY > 0,
//!   acknowledged by a consumer — unless its TTL may have passed or as many
//!   copies as it was guaranteed (REPLICATE for a synchronous ADDJOB, 1 for
//!   ASYNC, none for ASYNC on a node keeping no copy) were lost in crashes
//!   without their AOF records (with the invariant above, under `always` that
//!   means lost disks). At-most-once jobs may be lost by design
//!   whenever a fault touched the run, so they are only held to this in
//!   fault-free runs;
//! * 200 s later no node holds anything but delivered at-most-once jobs
//!   (acked jobs and dummy ACKs are collected, nothing is left queued).
//!
//! A **sequential-failures** run (decision D8) has 4 to 7 nodes, jobs with
//! REPLICATE 1 to 3, and message delays at most (no loss, duplication or
//! reordering). After a few seconds of the workload,
//! 2 to 4 nodes fail one after another while the workload goes on: a node
//! dies for good (while more than three are alive; the others `CLUSTER
//! FORGET` it, at once or once it is marked FAIL and the jobs repaired), or
//! loses its disk and restarts empty 0.2 s to 2 node timeouts + 2 s later.
//! The next failure comes only once the cluster is *repaired*: no node waits
//! to restart, every live node reaches every other and sees the dead ones
//! FAIL (or forgot them), and no live node counts an under-replicated job,
//! for a second in a row. Invariants:
//!
//! * re-replication completes within 60 s of each failure;
//! * after each repair, every job an ADDJOB acknowledged (synchronously) with
//!   REPLICATE > 1, not acknowledged by a consumer nor near its TTL, is held
//!   (active or queued) by REPLICATE live nodes;
//! * after the failures, a drain on the live nodes delivers (and acks) every
//!   acknowledged job, unless its TTL may have passed, or it had a single
//!   guaranteed copy (REPLICATE 1, ASYNC) on a node that failed: with fewer
//!   than R holders down at once, no job with REPLICATE R is lost.
//!
//! There is no quiesce: an acked job that lists a dead holder is never
//! garbage-collected (its GOTACK never comes).
//!
//! Replays are exact: the simulator keeps its own state in ordered maps, and
//! the core's hash maps are keyed with secrets drawn from each node's seeded
//! RNG, so their iteration order too follows from the seed (the test
//! `same_seed_same_run` checks that one seed gives the same trace twice). A
//! failing seed fails again; the report also carries the trace around the
//! first violation.

use crate::net::{message_jobs, Crash, Faults, Fsync, Net, NetConfig, PartitionMode, START_MS};
use crate::trace::{short_job, Fate, TraceKind};
use bytes::Bytes;
use disque_core::cluster::message::Message;
use disque_core::ids::JobId;
use disque_core::job::JobState;
use disque_core::job_codec;
use disque_core::ClientId;
use disque_proto::Reply;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed that drives everything.
    pub seed: u64,
    /// Number of nodes; chosen by the seed (3..=7) when `None`.
    pub nodes: Option<usize>,
    /// Length of the chaos phase (ms of simulated time).
    pub chaos_ms: u64,
    /// Longest drain (ms of simulated time).
    pub drain_ms: u64,
    /// Inject faults (off: only the workload runs).
    pub faults: bool,
    /// The shell's ordering of bus frames and AOF records
    /// ([`NetConfig::bus_after_durable`]); `false` models the old server.
    pub bus_after_durable: bool,
    /// The kind of run; chosen by the seed when `None` ([`SimConfig::profile`]).
    pub profile: Option<Profile>,
}

impl SimConfig {
    /// The defaults for `seed`: 20 s of chaos, at most 120 s of drain, faults
    /// on, the profile the seed picks.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            nodes: None,
            chaos_ms: 20_000,
            drain_ms: 120_000,
            faults: true,
            bus_after_durable: true,
            profile: None,
        }
    }

    /// The profile this run uses: the one forced, or the seed's when faults
    /// are on ([`Profile::Chaos`] without faults).
    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or(if self.faults {
            Profile::of_seed(self.seed)
        } else {
            Profile::Chaos
        })
    }
}

/// The kind of run a seed makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// Every fault at random during a chaos phase, then heal and drain (the
    /// phases in the module docs).
    #[default]
    Chaos,
    /// Sequential failures (decision D8): nodes fail one after another, each
    /// for good (killed, then forgotten) or losing its disk (restarted empty),
    /// each failure once re-replication repaired the previous one; no job
    /// with REPLICATE > 1 may be lost (see the module docs).
    Sequential,
}

impl Profile {
    /// The profile a seed picks when none is forced: one seed in ten is
    /// [`Profile::Sequential`]. The draw has its own RNG, so the chaos runs are
    /// the runs they were before the sequential profile existed.
    pub fn of_seed(seed: u64) -> Profile {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xbb67_ae85_84ca_a73b);
        if rng.gen_bool(0.1) {
            Profile::Sequential
        } else {
            Profile::Chaos
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Chaos => "chaos",
            Profile::Sequential => "sequential",
        }
    }
}

/// A broken invariant.
#[derive(Clone, Debug)]
pub struct Violation {
    /// When (Unix ms).
    pub at: u64,
    /// Which invariant.
    pub rule: &'static str,
    /// The job concerned, if any.
    pub job: Option<JobId>,
    /// Its body (the workload's name for it).
    pub body: Option<Bytes>,
    /// What happened.
    pub detail: String,
}

/// Counts for the summary line.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// ADDJOBs issued.
    pub adds: u64,
    /// ADDJOBs that returned an id.
    pub added: u64,
    /// Jobs handed to consumers (every delivery counts).
    pub deliveries: u64,
    /// Deliveries of a job that had been delivered before.
    pub redeliveries: u64,
    /// Deliveries from a dead-letter queue (D17).
    pub dead_letter_deliveries: u64,
    /// NACK DELAYs sent by consumers (D16).
    pub nack_delays: u64,
    /// ACKJOB/FASTACK issued by consumers.
    pub acks: u64,
    /// Crashes.
    pub crashes: u64,
    /// Of which power losses right after a GOTJOB.
    pub confirm_crashes: u64,
    /// Partitions.
    pub partitions: u64,
    /// Frames delivered.
    pub frames: u64,
    /// Frames lost (faults, partitions, dead receivers).
    pub dropped: u64,
    /// Acknowledged jobs excused from the liveness check (TTL, lost copies, at-most-once under faults).
    pub excused: u64,
    /// Simulated time of the whole run (ms).
    pub sim_ms: u64,
    /// The profile of the run.
    pub profile: Profile,
    /// Sequential profile: failures repaired before the next one.
    pub repaired_failures: u64,
}

/// The result of one seed.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// What went wrong (empty: the seed passed).
    pub violations: Vec<Violation>,
    /// Counts.
    pub stats: Stats,
    /// The trace around the first violation, rendered.
    pub report: String,
    /// The whole trace, rendered (only when asked for).
    pub full_trace: Option<String>,
}

impl Outcome {
    /// True when no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What the workload knows about one job it added.
#[derive(Clone, Debug)]
struct JobInfo {
    queue: Bytes,
    body: Bytes,
    repl: u16,
    retry: u32,
    ttl_s: u64,
    asynchronous: bool,
    /// Added on a node that keeps no copy (leaving, memory pressure).
    external: bool,
    issued_at: u64,
    id: Option<JobId>,
    /// The ADDJOB client got the id.
    acknowledged: bool,
    deliveries: Vec<(u64, usize)>,
    /// A consumer sent ACKJOB or FASTACK after a delivery.
    consumer_done: bool,
    /// When the ack was seen everywhere (see the module docs).
    fully_acked_at: Option<u64>,
    /// A power loss lost AOF records after `fully_acked_at`.
    lossy_after_mark: bool,
    /// When a consumer's ACKJOB was sent in a healthy, quiet cluster (see
    /// [`Sim::ack`]); cleared by any later crash, restart or partition.
    clean_ack: Option<(u64, usize)>,
    /// DEADLETTER queue (D17).
    dead_letter: Option<Bytes>,
    /// No crash, restart or partition since it was added.
    undisturbed: bool,
    /// A NACK DELAY sent in a healthy, quiet cluster: when, and when it ends
    /// (D16); cleared by any later crash, restart or partition.
    clean_nack_delay: Option<(u64, u64)>,
}

/// What the network did to frames about one job.
#[derive(Clone, Debug, Default)]
struct FrameStats {
    /// REPLJOB / YOURJOBS deliveries carrying it (each may add a second or two of TTL).
    transfers: u32,
    /// Their transit times added up: the receiver counts the remaining TTL from receipt.
    transit_ms: u64,
    /// A frame about it was duplicated.
    duplicated: bool,
    /// A frame carrying it (and its holder list) was lost, or refused by a
    /// leaving or memory-pressed node: holders may not know each other.
    payload_lost: bool,
    /// It travelled through YOURJOBS (the importer is not a known holder).
    federated: bool,
}

/// What a client is waiting for.
#[derive(Clone, Debug)]
enum Pending {
    AddJob(usize),
    GetJob { drain: bool },
}

/// Something the workload does later.
#[derive(Clone, Debug)]
enum Action {
    /// The consumer of a delivered job decides what to do with it.
    FollowUp {
        job: usize,
        node: usize,
    },
    /// ACKJOB after WORKING.
    AckLater {
        job: usize,
        node: usize,
    },
    Restart(usize),
    Heal,
    /// CLUSTER LEAVING no.
    StopLeaving(usize),
    /// Memory back to normal.
    Relieve(usize),
    /// PAUSE queue none.
    Unpause(usize, Bytes),
}

/// One simulation run.
struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    net: Net,
    queues: Vec<Bytes>,
    jobs: Vec<JobInfo>,
    by_id: BTreeMap<JobId, usize>,
    frames: BTreeMap<JobId, FrameStats>,
    /// Copies of each job lost in crashes (the node held it, and after the
    /// restart it did not).
    lost_copies: BTreeMap<JobId, u32>,
    /// How each crashed node died, and the jobs it held (not acked) then.
    held_at_crash: BTreeMap<usize, (Crash, Vec<HeldCopy>)>,
    /// Copies announced as stored: GOTJOB sent by the node, or the ADDJOB
    /// reply of an origin keeping a copy.
    confirmed: BTreeSet<(usize, JobId)>,
    /// The power-loss-after-GOTJOB fault of this run.
    confirm_crash: ConfirmCrash,
    crashed_holder: BTreeSet<JobId>,
    /// Jobs a restarted node got back from its AOF: its holder list is the
    /// one of the record (an ASYNC origin logs the job before replicating it,
    /// later additions are not logged), so its ACKJOB may miss holders.
    restored: BTreeSet<JobId>,
    pending: BTreeMap<(usize, ClientId), Pending>,
    actions: BTreeMap<(u64, u64), Action>,
    action_seq: u64,
    trace_cursor: usize,
    violations: Vec<Violation>,
    stats: Stats,
    /// Some fault (drop, duplicate, partition, crash) happened in this run.
    faulty: bool,
    /// The message faults of the chaos phase.
    chaos_faults: Faults,
    chaos_end: u64,
    drain_clients: Vec<Option<ClientId>>,
    /// Message faults that can lose or repeat an ACK are active.
    lossy_messages: bool,
    /// Queues paused in input, by node (such a node refuses REPLJOB for them).
    paused_in: BTreeSet<(usize, Bytes)>,
    /// The profile of this run.
    profile: Profile,
    /// Sequential profile: nodes killed for good.
    dead: BTreeSet<usize>,
    /// Odd seeds: the RNG of the D16–D18 options the workload uses.
    extensions: Option<ChaCha8Rng>,
}

/// A job a node held when it crashed.
#[derive(Clone, Debug)]
struct HeldCopy {
    id: JobId,
    /// Active or queued: its LOADJOB record was produced (a job waiting for
    /// its replication is not logged yet).
    logged: bool,
    /// Its expire time on that node (Unix s): an expired record is not loaded.
    etime: u64,
}

/// At most this many power losses right after a GOTJOB per run.
const MAX_CONFIRM_CRASHES: u64 = 2;

/// The fault "power loss right after a GOTJOB": in a quarter of the runs with
/// faults, each GOTJOB a node sends during the chaos makes it lose power at
/// once with probability `chance`, at most [`MAX_CONFIRM_CRASHES`] times (and
/// never more nodes down than the other crashes allow). It has its own RNG,
/// so that the runs it leaves alone are the runs they were without it.
struct ConfirmCrash {
    chance: f64,
    rng: ChaCha8Rng,
    /// Trace entries before this one were looked at.
    cursor: usize,
}

impl ConfirmCrash {
    fn new(seed: u64, faults: bool) -> ConfirmCrash {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6a09_e667_f3bc_c908);
        let chance = if faults && rng.gen_bool(0.25) {
            *[0.02, 0.1].choose(&mut rng).expect("non-empty")
        } else {
            0.0
        };
        ConfirmCrash {
            chance,
            rng,
            cursor: 0,
        }
    }
}

/// Runs one seed. Never panics: a panic in the core is reported as a violation.
pub fn run(cfg: SimConfig, full_trace: bool) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let profile = cfg.profile();
    let nodes = cfg.nodes.unwrap_or_else(|| match profile {
        Profile::Chaos => rng.gen_range(3..=7),
        // Room for a node to die for good with three left.
        Profile::Sequential => rng.gen_range(4..=7),
    });
    let mut net_cfg = NetConfig::new(nodes, rng.gen());
    net_cfg.node_timeout_ms = *[500u64, 1_000, 2_000, 5_000]
        .choose(&mut rng)
        .expect("non-empty");
    net_cfg.aof = rng.gen_bool(0.9);
    net_cfg.fsync = match rng.gen_range(0..10) {
        0..=5 => Fsync::Always,
        6..=8 => Fsync::EverySec,
        _ => Fsync::No,
    };
    // The server spins when next_wakeup is in the past; 10 ms keeps the
    // simulation fast without changing any rule's outcome.
    net_cfg.min_tick_gap_ms = 10;
    net_cfg.partition_mode = if rng.gen_bool(0.5) {
        PartitionMode::Drop
    } else {
        PartitionMode::Hold
    };
    net_cfg.bus_after_durable = cfg.bus_after_durable;
    let queue_count = rng.gen_range(1..=3);
    let mut sim = Sim {
        net: Net::new(net_cfg),
        rng,
        queues: (0..queue_count)
            .map(|q| Bytes::from(format!("q{q}")))
            .collect(),
        jobs: Vec::new(),
        by_id: BTreeMap::new(),
        frames: BTreeMap::new(),
        lost_copies: BTreeMap::new(),
        held_at_crash: BTreeMap::new(),
        confirmed: BTreeSet::new(),
        confirm_crash: ConfirmCrash::new(cfg.seed, cfg.faults && profile == Profile::Chaos),
        crashed_holder: BTreeSet::new(),
        restored: BTreeSet::new(),
        pending: BTreeMap::new(),
        actions: BTreeMap::new(),
        action_seq: 0,
        trace_cursor: 0,
        violations: Vec::new(),
        stats: Stats {
            nodes,
            profile,
            ..Stats::default()
        },
        faulty: false,
        chaos_faults: Faults::none(),
        chaos_end: 0,
        drain_clients: vec![None; nodes],
        lossy_messages: false,
        paused_in: BTreeSet::new(),
        profile,
        dead: BTreeSet::new(),
        extensions: (cfg.seed % 2 == 1)
            .then(|| ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xd16d_17d1_8000_0000)),
        cfg,
    };
    if sim.extensions.is_some() {
        sim.queues.push(Bytes::from_static(b"dlq"));
    }
    let result = catch_unwind(AssertUnwindSafe(|| sim.run_phases()));
    if let Err(panic) = result {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(non-string panic)".into());
        sim.violate("no panic", None, format!("panic: {text}"));
    }
    sim.stats.sim_ms = sim.net.now - START_MS;
    let report = sim.report();
    let full_trace = (full_trace && !sim.violations.is_empty()).then(|| sim.net.trace.render_all());
    Outcome {
        seed: sim.cfg.seed,
        violations: sim.violations,
        stats: sim.stats,
        report,
        full_trace,
    }
}

/// Memory a node under pressure reports: above 75% of the default maxmemory.
const PRESSURE: u64 = (1 << 30) / 100 * 80;

/// Error replies the workload expects now and then.
fn expected_error(r: &Reply) -> bool {
    match r {
        Reply::Error(e) => ["NOREPL", "PAUSED", "LEAVING", "OOM", "NOJOB", "TOOLATE"]
            .iter()
            .any(|p| e.starts_with(p.as_bytes())),
        _ => false,
    }
}

impl Sim {
    fn violate(&mut self, rule: &'static str, job: Option<usize>, detail: String) {
        let (id, body) = match job {
            Some(j) => (self.jobs[j].id, Some(self.jobs[j].body.clone())),
            None => (None, None),
        };
        self.violations.push(Violation {
            at: self.net.now,
            rule,
            job: id,
            body,
            detail,
        });
    }

    fn schedule(&mut self, at: u64, action: Action) {
        self.action_seq += 1;
        self.actions.insert((at, self.action_seq), action);
    }

    fn live_nodes(&self) -> Vec<usize> {
        (0..self.net.len()).filter(|i| self.net.is_up(*i)).collect()
    }

    fn random_live(&mut self) -> Option<usize> {
        let live = self.live_nodes();
        live.choose(&mut self.rng).copied()
    }

    fn run_phases(&mut self) {
        if self.profile == Profile::Sequential {
            return self.run_sequential();
        }
        // 1. Setup.
        self.net.join_all();
        self.trace_cursor = self.net.trace.len();
        self.confirm_crash.cursor = self.trace_cursor;
        // 2. Chaos.
        let start = self.net.now;
        self.chaos_end = start + self.cfg.chaos_ms;
        if self.cfg.faults {
            self.pick_message_faults();
        }
        if self.confirm_crash.chance > 0.0 {
            let text = format!(
                "power loss right after a GOTJOB with probability {} (at most {MAX_CONFIRM_CRASHES})",
                self.confirm_crash.chance
            );
            self.note(text);
        }
        let mut next_produce = start;
        let mut next_consume = start;
        let mut next_fault = start + 500;
        let mut next_check = start;
        let produce_gap = self.rng.gen_range(20..200);
        let consume_gap = self.rng.gen_range(20..200);
        while self.net.now < self.chaos_end && self.violations.is_empty() {
            if self.net.now >= next_produce {
                self.produce();
                next_produce = self.net.now + self.rng.gen_range(0..2 * produce_gap);
            }
            if self.net.now >= next_consume {
                self.consume();
                next_consume = self.net.now + self.rng.gen_range(0..2 * consume_gap);
            }
            if self.cfg.faults && self.net.now >= next_fault {
                self.maybe_fault();
                next_fault = self.net.now + 500;
            }
            self.advance_to(self.net.now + 10);
            if self.net.now >= next_check {
                self.check_full_acks();
                self.check_dead_letters();
                next_check = self.net.now + 100;
            }
        }
        if !self.violations.is_empty() {
            return;
        }
        // 3. Heal.
        self.heal_everything();
        let deadline = self.net.now + 60_000;
        while !self.net.converged() {
            if self.net.now >= deadline {
                let views: Vec<String> = (0..self.net.len())
                    .map(|i| {
                        let text = self.net.node(i).nodes_description();
                        let lines: Vec<String> = text
                            .lines()
                            .map(|l| {
                                let f: Vec<&str> = l.split(' ').collect();
                                let id = disque_core::ids::NodeId::parse(f[0].as_bytes());
                                let name = id
                                    .map(|id| self.net.trace.node_name(&id))
                                    .unwrap_or_default();
                                format!("{name} {}", f[1..].join(" "))
                            })
                            .collect();
                        format!("n{i} sees: {}", lines.join(" | "))
                    })
                    .collect();
                self.violate(
                    "cluster converges after healing",
                    None,
                    format!(
                        "not every node knows, reaches and links to every other node 60 s after the heal:\n    {}",
                        views.join("\n    ")
                    ),
                );
                return;
            }
            self.advance_to(self.net.now + 10);
            self.check_full_acks();
        }
        // 4. Drain.
        self.drain_then_check_liveness(|sim| {
            sim.check_full_acks();
            sim.check_dead_letters();
        });
        // 5. Quiesce: the drain consumers keep going; acknowledged jobs must be
        // garbage-collected everywhere (the longest GC back-off is 180 s).
        let deadline = self.net.now + 200_000;
        while self.violations.is_empty() && !self.leftovers().is_empty() {
            if self.net.now >= deadline {
                let left = self.leftovers();
                let job = left
                    .first()
                    .and_then(|(_, id, _)| self.by_id.get(id).copied());
                let listing: Vec<String> = left
                    .iter()
                    .take(10)
                    .map(|(i, id, what)| format!("n{i}: {} {what}", short_job(id)))
                    .collect();
                self.violate(
                    "acknowledged jobs are garbage-collected after healing",
                    job,
                    format!(
                        "200 s after the drain, {} records remain: {}",
                        left.len(),
                        listing.join(", ")
                    ),
                );
                return;
            }
            self.drain_consumers();
            self.advance_to(self.net.now + 100);
        }
    }

    /// The sequential-failures profile: setup, a workload during which nodes
    /// fail one at a time (each once the previous failure is repaired), a
    /// check of every job's copies after each repair, then a drain on the
    /// nodes left and the liveness check. No quiesce: acked jobs that list a
    /// dead holder are never collected (its GOTACK never comes).
    fn run_sequential(&mut self) {
        self.net.join_all();
        self.trace_cursor = self.net.trace.len();
        // Delays only: no loss, duplication or reordering, so that "repaired"
        // can be observed.
        let faults = Faults {
            max_delay_ms: *[0u64, 2, 20].choose(&mut self.rng).expect("non-empty"),
            ..Faults::none()
        };
        self.chaos_faults = faults.clone();
        self.net.faults = faults.clone();
        self.faulty = true;
        let failures = self.rng.gen_range(2..=4);
        self.note(format!(
            "sequential failures: {failures}, message faults {faults:?}"
        ));
        let gaps = (self.rng.gen_range(20..200), self.rng.gen_range(20..200));
        let warmup = self.net.now + self.rng.gen_range(2_000..5_000);
        self.workload_until(gaps, |sim| sim.net.now >= warmup);
        for _ in 0..failures {
            if !self.violations.is_empty() {
                return;
            }
            self.fail_one(gaps);
        }
        let settle = self.net.now + 2_000;
        self.workload_until(gaps, |sim| sim.net.now >= settle);
        if !self.violations.is_empty() {
            return;
        }
        self.net.faults = Faults::none();
        self.note("failures over; draining".into());
        self.drain_then_check_liveness(|_| {});
    }

    /// Drains for up to the run's drain time (stopping early once nothing is
    /// pending and every obligation is met), running `check` every 100 ms,
    /// then checks liveness unless a violation was found.
    fn drain_then_check_liveness(&mut self, mut check: impl FnMut(&mut Self)) {
        let deadline = self.net.now + self.cfg.drain_ms;
        let mut next_check = self.net.now;
        while self.net.now < deadline && self.violations.is_empty() {
            self.drain_consumers();
            self.advance_to(self.net.now + 10);
            if self.net.now >= next_check {
                check(self);
                next_check = self.net.now + 100;
                if self.actions.is_empty() && self.obligations_met() {
                    break;
                }
            }
        }
        if self.violations.is_empty() {
            self.check_liveness();
        }
    }

    /// Produces and consumes (at the run's pace) until `done` holds.
    fn workload_until(&mut self, gaps: (u64, u64), mut done: impl FnMut(&mut Self) -> bool) {
        let (mut next_produce, mut next_consume) = (self.net.now, self.net.now);
        while self.violations.is_empty() && !done(self) {
            if self.net.now >= next_produce {
                self.produce();
                next_produce = self.net.now + self.rng.gen_range(0..2 * gaps.0);
            }
            if self.net.now >= next_consume {
                self.consume();
                next_consume = self.net.now + self.rng.gen_range(0..2 * gaps.1);
            }
            self.advance_to(self.net.now + 10);
        }
    }

    /// One failure of the sequential profile: a node dies for good (while four
    /// or more are alive) or loses its disk and restarts empty a little later;
    /// a dead node is forgotten by the others, at once or once marked FAIL
    /// and repaired. The workload goes on until re-replication is done, then
    /// every job must have its copies back.
    fn fail_one(&mut self, gaps: (u64, u64)) {
        let live = self.live_nodes();
        let victim = *live.choose(&mut self.rng).expect("live nodes");
        let for_good = live.len() > 3 && self.rng.gen_bool(0.5);
        let failed_at = self.net.now;
        if for_good {
            let forget_at_once = self.rng.gen_bool(0.3);
            self.note(format!(
                "n{victim} dies for good{}",
                if forget_at_once {
                    ", forgotten at once"
                } else {
                    ""
                }
            ));
            self.crash(victim, Crash::Process);
            self.dead.insert(victim);
            if !forget_at_once && !self.await_repair(gaps, failed_at) {
                return;
            }
            self.forget(victim);
        } else {
            let timeout = self.net.config().node_timeout_ms;
            let back = failed_at + self.rng.gen_range(200..timeout * 2 + 2_000);
            self.note(format!("n{victim} loses its disk"));
            self.crash(victim, Crash::Disk);
            self.schedule(back, Action::Restart(victim));
        }
        if self.await_repair(gaps, failed_at) {
            self.stats.repaired_failures += 1;
            self.check_copies();
        }
    }

    /// `CLUSTER FORGET` of node `dead` on every live node.
    fn forget(&mut self, dead: usize) {
        let name = self.net.id(dead);
        for i in self.live_nodes() {
            self.net.cmd(i, &["CLUSTER", "FORGET", name.as_str()]);
        }
    }

    /// True when the cluster noticed the last failure and re-replication is
    /// done: no node is waiting to restart, every live node reaches every
    /// other live one and sees each dead one FAIL (or forgot it), and no
    /// live node knows of an under-replicated job.
    fn repaired(&self) -> bool {
        let live = self.live_nodes();
        if live.len() + self.dead.len() < self.net.len() {
            return false;
        }
        live.iter().all(|&i| {
            let node = self.net.node(i);
            let flags = |other: usize| {
                let id = self.net.id(other);
                let text = node.nodes_description();
                text.lines()
                    .find(|l| l.starts_with(id.as_str()))
                    .map(|l| l.split(' ').nth(2).unwrap_or("").to_string())
            };
            node.reachable_count() == live.len() - 1
                && node.underreplicated_jobs() == 0
                && self
                    .dead
                    .iter()
                    .all(|&d| flags(d).is_none_or(|f| f.split(',').any(|flag| flag == "fail")))
        })
    }

    /// Runs the workload until [`Sim::repaired`] has held for a second; false
    /// (and a violation) if that takes over 60 s.
    fn await_repair(&mut self, gaps: (u64, u64), failed_at: u64) -> bool {
        let mut since: Option<u64> = None;
        let deadline = self.net.now + 60_000;
        self.workload_until(gaps, |sim| {
            if sim.repaired() {
                let start = *since.get_or_insert(sim.net.now);
                sim.net.now >= start + 1_000
            } else {
                since = None;
                sim.net.now >= deadline
            }
        });
        if since.is_none() && self.violations.is_empty() {
            let live = self.live_nodes();
            let mut lines = Vec::new();
            let mut first = None;
            for &i in &live {
                let n = self.net.node(i);
                lines.push(format!(
                    "n{i}: {} under-replicated, reaches {}",
                    n.underreplicated_jobs(),
                    n.reachable_count()
                ));
                // Jobs held here listing fewer live holders than REPLICATE.
                for id in self.net.job_ids(i) {
                    let n = self.net.node(i);
                    let Some(job) = n.job(&id).filter(|j| j.state() != JobState::Acked) else {
                        continue;
                    };
                    let listed: Vec<usize> = job
                        .nodes_delivered()
                        .iter()
                        .filter_map(|h| self.net.index_of(h))
                        .collect();
                    let live_listed = listed.iter().filter(|h| live.contains(h)).count();
                    if live_listed < job.repl() as usize && lines.len() < 20 {
                        first = first.or(self.by_id.get(&id).copied());
                        lines.push(format!(
                            "  n{i} holds {} {} REPLICATE {} listing {listed:?}",
                            short_job(&id),
                            job.state().name(),
                            job.repl()
                        ));
                    }
                }
            }
            self.violate(
                "re-replication completes after a failure",
                first,
                format!(
                    "60 s after the failure at {}:\n    {}",
                    fmt_time(failed_at),
                    lines.join("\n    ")
                ),
            );
        }
        since.is_some() && self.violations.is_empty()
    }

    /// After a repair: every job an ADDJOB acknowledged with REPLICATE > 1
    /// copies, not acked by a consumer nor near its TTL, is held (active or
    /// queued) by REPLICATE live nodes.
    fn check_copies(&mut self) {
        let live = self.live_nodes();
        for seq in 0..self.jobs.len() {
            let job = &self.jobs[seq];
            let Some(id) = job.id else { continue };
            let expires = job.issued_at + job.ttl_s * 1000;
            if !job.acknowledged
                || job.asynchronous
                || job.repl < 2
                || job.consumer_done
                || expires <= self.net.now + 2_000
            {
                continue;
            }
            let held: Vec<usize> =
                live.iter()
                    .copied()
                    .filter(|&i| {
                        self.net.node(i).job(&id).is_some_and(|j| {
                            matches!(j.state(), JobState::Active | JobState::Queued)
                        })
                    })
                    .collect();
            if held.len() < job.repl as usize {
                let detail = format!(
                    "REPLICATE {}, after the repair it is held by {held:?} of the live nodes {live:?}",
                    job.repl
                );
                self.violate(
                    "every job has REPLICATE copies again after a repair",
                    Some(seq),
                    detail,
                );
                return;
            }
        }
    }

    /// Records that should be gone once everything was consumed and
    /// acknowledged: anything but a delivered at-most-once job (those stay
    /// active until their TTL when their consumer never acknowledged them).
    /// Dummy ACKs are reported with the id of an all-zero job.
    fn leftovers(&mut self) -> Vec<(usize, JobId, &'static str)> {
        let mut out = Vec::new();
        for i in 0..self.net.len() {
            let ids = self.net.job_ids(i);
            let node = self.net.node(i);
            for id in &ids {
                let Some(job) = node.job(id) else { continue };
                let allowed = job.state() == JobState::Active && job.retry() == 0;
                if !allowed {
                    out.push((i, *id, job.state().name()));
                }
            }
            let dummies = node.stats().registered_jobs.saturating_sub(ids.len());
            for _ in 0..dummies {
                out.push((i, JobId([b'0'; 40]), "dummy ACK"));
            }
        }
        out
    }

    fn pick_message_faults(&mut self) {
        let rng = &mut self.rng;
        let faults = Faults {
            drop: *[0.0, 0.0, 0.001, 0.01, 0.05, 0.2]
                .choose(rng)
                .expect("non-empty"),
            duplicate: *[0.0, 0.0, 0.0, 0.01, 0.05].choose(rng).expect("non-empty"),
            min_delay_ms: 0,
            max_delay_ms: *[0u64, 2, 20, 200].choose(rng).expect("non-empty"),
            reorder: rng.gen_bool(0.3),
            spare_membership: false,
        };
        // Slow links count as faults: a round trip above half the node timeout
        // makes the cron drop and rebuild links, and a message sent while a
        // link is down is lost; reordering lets ENQUEUE overtake REPLJOB.
        let slow = faults.max_delay_ms * 4 >= self.net.config().node_timeout_ms;
        let reordering = faults.reorder && faults.max_delay_ms >= 20;
        self.faulty |= faults.drop > 0.0 || faults.duplicate > 0.0 || slow || reordering;
        self.lossy_messages = faults.drop > 0.0 || faults.duplicate > 0.0;
        self.chaos_faults = faults.clone();
        let text = format!("message faults {faults:?}");
        self.net.faults = faults;
        self.note(text);
    }

    fn note(&mut self, text: String) {
        self.net.trace.push(crate::trace::TraceEntry {
            at: self.net.now,
            kind: TraceKind::Fault(text),
        });
    }

    /// Every 500 ms of chaos: maybe partition, crash, or rewrite an AOF.
    fn maybe_fault(&mut self) {
        let n = self.net.len();
        let now = self.net.now;
        let roll = self.rng.gen_range(0..100);
        if roll < 4 && !self.net.has_partition() {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut self.rng);
            let cut = self.rng.gen_range(1..n);
            let (a, b) = order.split_at(cut);
            self.net.partition(&[a, b]);
            self.disturbed();
            self.faulty = true;
            self.stats.partitions += 1;
            let heal_at = now + self.rng.gen_range(500..8_000);
            self.schedule(heal_at, Action::Heal);
        } else if roll < 8 {
            if self.may_crash() {
                if let Some(victim) = self.random_live() {
                    let how = match self.rng.gen_range(0..10) {
                        0..=4 => Crash::Process,
                        5..=7 => Crash::Power,
                        _ => Crash::Disk,
                    };
                    self.crash(victim, how);
                    let restart_at = now + self.rng.gen_range(200..6_000);
                    self.schedule(restart_at, Action::Restart(victim));
                }
            }
        } else if roll < 10 {
            if let Some(i) = self.random_live() {
                self.net.rewrite_aof(i);
            }
        } else if roll < 12 {
            // Leaving mode for a while: external replication, -LEAVING, REPLJOB refused.
            let leaving = (0..n).any(|i| self.net.try_node(i).is_some_and(|n| n.is_leaving()));
            if let (false, Some(i)) = (leaving, self.random_live()) {
                self.net.cmd(i, &["CLUSTER", "LEAVING", "yes"]);
                let until = now + self.rng.gen_range(1_000..5_000);
                self.schedule(until, Action::StopLeaving(i));
            }
        } else if roll < 14 {
            // Memory pressure (above 75%) for a while: same, without -LEAVING.
            if let Some(i) = self.random_live() {
                self.net.set_used_memory(i, PRESSURE);
                self.note(format!("n{i} under memory pressure"));
                let until = now + self.rng.gen_range(1_000..5_000);
                self.schedule(until, Action::Relieve(i));
            }
        } else if roll < 16 {
            // A queue paused on one node for a while (in, out or both).
            if let Some(i) = self.random_live() {
                let queue = self.queues.choose(&mut self.rng).expect("queues").clone();
                let mode = *["in", "out", "all"].choose(&mut self.rng).expect("modes");
                let name = String::from_utf8_lossy(&queue).into_owned();
                self.net.cmd(i, &["PAUSE", &name, mode]);
                if mode != "out" {
                    self.paused_in.insert((i, queue.clone()));
                }
                self.faulty = true;
                let until = now + self.rng.gen_range(1_000..5_000);
                self.schedule(until, Action::Unpause(i, queue));
            }
        }
    }

    /// True when one more node may go down (fewer than (n-1)/2 are down).
    fn may_crash(&self) -> bool {
        let n = self.net.len();
        n - self.live_nodes().len() < (n - 1) / 2
    }

    fn crash(&mut self, i: usize, how: Crash) {
        let ids = self.net.job_ids(i);
        let node = self.net.node(i);
        let held: Vec<HeldCopy> = ids
            .into_iter()
            .filter_map(|id| node.job(&id))
            .filter(|j| j.state() != JobState::Acked)
            .map(|j| HeldCopy {
                id: j.id(),
                logged: matches!(j.state(), JobState::Active | JobState::Queued),
                etime: j.etime(),
            })
            .collect();
        for copy in &held {
            self.crashed_holder.insert(copy.id);
        }
        self.held_at_crash.insert(i, (how, held));
        self.pending.retain(|(node, _), _| *node != i);
        self.paused_in.retain(|(node, _)| *node != i);
        self.disturbed();
        let lost = self.net.crash(i, how);
        self.faulty = true;
        self.stats.crashes += 1;
        if lost > 0 {
            for job in &mut self.jobs {
                if job.fully_acked_at.is_some() {
                    job.lossy_after_mark = true;
                }
            }
        }
    }

    fn restart(&mut self, i: usize) {
        if self.net.is_up(i) {
            return;
        }
        self.disturbed();
        self.net.restart(i);
        if let Some((how, held)) = self.held_at_crash.remove(&i) {
            self.count_lost_copies(i, how, held);
        }
        // Everything replayed from the AOF, including jobs deleted before the
        // crash whose DELJOB record was lost.
        let back = self.net.job_ids(i);
        self.restored.extend(back);
        self.drain_clients[i] = None;
    }

    /// After node `i` restarted from a `how` crash: counts the copies it held
    /// and lost, and checks that it lost none it had announced in a crash the
    /// fsync policy promised to survive (a process crash; a power loss with
    /// `always`), unless the copy had no record yet (still waiting for its
    /// replication) or its record expired (not loaded).
    fn count_lost_copies(&mut self, i: usize, how: Crash, held: Vec<HeldCopy>) {
        let durable = self.net.config().aof
            && match how {
                Crash::Process => true,
                Crash::Power => self.net.config().fsync == Fsync::Always,
                Crash::Disk => false,
            };
        for copy in held {
            if self.net.node(i).job(&copy.id).is_some() {
                continue;
            }
            *self.lost_copies.entry(copy.id).or_default() += 1;
            let expired = copy.etime * 1000 <= self.net.now + 1_000;
            if durable && copy.logged && !expired && self.confirmed.contains(&(i, copy.id)) {
                let job = self.by_id.get(&copy.id).copied();
                self.violate(
                    "a confirmed copy survives its holder's crash",
                    job,
                    format!(
                        "n{i} had announced its copy of {} (GOTJOB or ADDJOB reply), crashed \
                         ({how:?}, fsync {:?}) and restarted without it",
                        String::from_utf8_lossy(copy.id.as_bytes()),
                        self.net.config().fsync
                    ),
                );
            }
        }
    }

    fn heal_everything(&mut self) {
        self.disturbed();
        self.net.heal();
        self.net.faults = Faults::none();
        self.lossy_messages = false;
        for i in 0..self.net.len() {
            self.restart(i);
            if self.net.node(i).is_leaving() {
                self.net.cmd(i, &["CLUSTER", "LEAVING", "no"]);
            }
            self.net.set_used_memory(i, crate::net::DEFAULT_USED_MEMORY);
            for q in self.queues.clone() {
                let name = String::from_utf8_lossy(&q).into_owned();
                self.net.cmd(i, &["PAUSE", &name, "none"]);
            }
        }
        self.paused_in.clear();
        self.actions.retain(|_, a| {
            !matches!(
                a,
                Action::Restart(_)
                    | Action::Heal
                    | Action::StopLeaving(_)
                    | Action::Relieve(_)
                    | Action::Unpause(..)
            )
        });
        self.note("everything healed; draining".into());
    }

    /// Lets time pass to `until`, processing replies, trace and due actions.
    fn advance_to(&mut self, until: u64) {
        while let Some((&(at, seq), _)) = self.actions.iter().next() {
            if at > until {
                break;
            }
            self.advance_net(at);
            self.absorb();
            let action = self.actions.remove(&(at, seq)).expect("present");
            self.perform(action);
        }
        self.advance_net(until);
        self.absorb();
    }

    /// Moves the network's clock to `until`. While the chaos lasts and the
    /// power-loss-after-GOTJOB fault is on, one event at a time, so that the
    /// power loss strikes right after the frame left (nothing else happens
    /// on that node in between, not even a tick that would write its AOF).
    fn advance_net(&mut self, until: u64) {
        if self.confirm_crash.chance > 0.0 {
            while self.net.now < self.chaos_end
                && self.stats.confirm_crashes < MAX_CONFIRM_CRASHES
                && self.net.step(until)
            {
                self.crash_after_confirmation();
            }
        }
        self.net.advance(until.saturating_sub(self.net.now));
    }

    /// Looks at the frames sent since the last call: a node that sent GOTJOB
    /// may lose power now.
    fn crash_after_confirmation(&mut self) {
        let entries = &self.net.trace.entries[self.confirm_crash.cursor..];
        let senders: Vec<usize> = entries
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Frame {
                    from,
                    fate: Fate::Sent,
                    message: Message::GotJob(_),
                    ..
                } => Some(*from),
                _ => None,
            })
            .collect();
        self.confirm_crash.cursor = self.net.trace.len();
        for i in senders {
            if self.stats.confirm_crashes >= MAX_CONFIRM_CRASHES
                || !self.net.is_up(i)
                || !self.may_crash()
                || !self.confirm_crash.rng.gen_bool(self.confirm_crash.chance)
            {
                continue;
            }
            // What left before the power loss was seen (replies included).
            self.absorb();
            self.note(format!("n{i} loses power right after sending GOTJOB"));
            self.crash(i, Crash::Power);
            self.stats.confirm_crashes += 1;
            let restart_at = self.net.now + self.confirm_crash.rng.gen_range(200..6_000);
            self.schedule(restart_at, Action::Restart(i));
            self.confirm_crash.cursor = self.net.trace.len();
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Restart(i) => self.restart(i),
            Action::StopLeaving(i) => {
                if self.net.is_up(i) {
                    self.net.cmd(i, &["CLUSTER", "LEAVING", "no"]);
                }
            }
            Action::Relieve(i) => {
                self.net.set_used_memory(i, crate::net::DEFAULT_USED_MEMORY);
                self.note(format!("n{i} memory back to normal"));
            }
            Action::Unpause(i, queue) => {
                if self.net.is_up(i) {
                    let name = String::from_utf8_lossy(&queue).into_owned();
                    self.net.cmd(i, &["PAUSE", &name, "none"]);
                }
                self.paused_in.remove(&(i, queue));
            }
            Action::Heal => {
                self.disturbed();
                self.net.heal();
            }
            Action::FollowUp { job, node } => self.follow_up(job, node),
            Action::AckLater { job, node } => {
                if self.net.is_up(node) {
                    self.ack(job, node, false);
                }
            }
        }
    }

    /// Reads what happened since the last call: deferred replies and frames.
    fn absorb(&mut self) {
        // Frames first: a reply read below may depend on what they carried.
        let entries = &self.net.trace.entries[self.trace_cursor..];
        for e in entries {
            if let TraceKind::Frame {
                fate,
                message,
                sent_at,
                from,
                to,
            } = &e.kind
            {
                if let Message::GotJob(id) = message {
                    self.confirmed.insert((*from, *id));
                }
                match fate {
                    Fate::Delivered => self.stats.frames += 1,
                    Fate::Dropped(_) => self.stats.dropped += 1,
                    _ => {}
                }
                let payload = matches!(message, Message::ReplJob { .. } | Message::YourJobs(_));
                if !payload && *fate != Fate::Duplicated {
                    continue;
                }
                // A leaving or memory-pressed node ignores REPLJOB, holder list
                // included, and so does one whose queue is paused in input.
                let refused = match message {
                    Message::ReplJob { job, .. } if *fate == Fate::Delivered => {
                        let queue = job_codec::decode(job, job_codec::Form::Message, 0)
                            .ok()
                            .and_then(|d| d.job.queue_bytes().cloned());
                        self.net.try_node(*to).is_some_and(|n| {
                            n.is_leaving() || n.memory_warning_level(&self.net.env(*to)) >= 1
                        }) || queue.is_some_and(|q| self.paused_in.contains(&(*to, q)))
                    }
                    _ => false,
                };
                for id in message_jobs(message) {
                    let s = self.frames.entry(id).or_default();
                    match fate {
                        Fate::Delivered if payload => {
                            s.transfers += 1;
                            s.transit_ms += e.at - sent_at;
                            s.federated |= matches!(message, Message::YourJobs(_));
                            s.payload_lost |= refused;
                        }
                        Fate::Duplicated => s.duplicated = true,
                        Fate::Dropped(_) if payload => s.payload_lost = true,
                        _ => {}
                    }
                }
            }
        }
        self.trace_cursor = self.net.trace.len();
        for d in self.net.take_all_replies() {
            let Some(p) = self.pending.remove(&(d.node, d.client)) else {
                continue;
            };
            self.on_reply(d.at, d.node, p, d.reply);
        }
    }

    // ----- workload --------------------------------------------------------

    fn produce(&mut self) {
        let Some(node) = self.random_live() else {
            return;
        };
        // Sequential failures leave three nodes at least: REPLICATE up to 3,
        // so every job can get its copies back.
        let n = match self.profile {
            Profile::Chaos => self.net.len(),
            Profile::Sequential => 3,
        };
        let rng = &mut self.rng;
        let queue = self.queues.choose(rng).expect("queues").clone();
        let seq = self.jobs.len();
        let body = Bytes::from(format!("job-{seq}"));
        let at_most_once = rng.gen_bool(0.15);
        let repl: Option<u16> = if at_most_once {
            Some(1)
        } else {
            match rng.gen_range(0..10) {
                0 => None,
                1 => Some(rng.gen_range(1..=n as u16)),
                _ => Some(rng.gen_range(1..=(n as u16).min(3))),
            }
        };
        let retry: u32 = if at_most_once {
            0
        } else {
            rng.gen_range(1..=5)
        };
        let ttl_s: u64 = if rng.gen_bool(0.1) {
            rng.gen_range(5..=20)
        } else {
            300
        };
        let delay: u32 = if rng.gen_bool(0.2) && ttl_s > 4 {
            rng.gen_range(1..=3)
        } else {
            0
        };
        let asynchronous = rng.gen_bool(0.2);
        let timeout = if rng.gen_bool(0.05) {
            0
        } else {
            rng.gen_range(100..=3_000)
        };
        let mut words: Vec<String> = vec![
            "ADDJOB".into(),
            String::from_utf8_lossy(&queue).into_owned(),
            String::from_utf8_lossy(&body).into_owned(),
            timeout.to_string(),
        ];
        if let Some(r) = repl {
            words.extend(["REPLICATE".into(), r.to_string()]);
        }
        words.extend(["RETRY".into(), retry.to_string()]);
        words.extend(["TTL".into(), ttl_s.to_string()]);
        if delay > 0 {
            words.extend(["DELAY".into(), delay.to_string()]);
        }
        if asynchronous {
            words.push("ASYNC".into());
        }
        let mut dead_letter = None;
        if let Some(ext) = &mut self.extensions {
            if ext.gen_bool(0.2) {
                words.extend(["PRIORITY".into(), ext.gen_range(0..=9).to_string()]);
            }
            if retry > 0 && ext.gen_bool(0.25) {
                let others: Vec<&Bytes> = self.queues.iter().filter(|q| **q != queue).collect();
                let target = (*others.choose(ext).expect("dlq is another queue")).clone();
                words.extend([
                    "DEADLETTER".into(),
                    String::from_utf8_lossy(&target).into_owned(),
                    ext.gen_range(1..=3).to_string(),
                ]);
                dead_letter = Some(target);
            }
        }
        let size = self.net.node(node).cluster_size();
        let env = self.net.env(node);
        let external =
            self.net.node(node).is_leaving() || self.net.node(node).memory_warning_level(&env) >= 1;
        self.jobs.push(JobInfo {
            queue,
            body,
            repl: repl.unwrap_or(size.min(3) as u16),
            retry,
            ttl_s,
            asynchronous,
            external,
            issued_at: self.net.now,
            id: None,
            acknowledged: false,
            deliveries: Vec::new(),
            consumer_done: false,
            fully_acked_at: None,
            lossy_after_mark: false,
            clean_ack: None,
            dead_letter,
            undisturbed: true,
            clean_nack_delay: None,
        });
        self.stats.adds += 1;
        let client = self.net.client();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let now = self.net.now;
        match self.net.cmd_as(node, client, &refs) {
            Some(reply) => self.on_reply(now, node, Pending::AddJob(seq), reply),
            None => {
                self.pending.insert((node, client), Pending::AddJob(seq));
            }
        }
    }

    fn consume(&mut self) {
        let Some(node) = self.random_live() else {
            return;
        };
        let rng = &mut self.rng;
        let mut words: Vec<String> = vec!["GETJOB".into()];
        if rng.gen_bool(0.3) {
            words.push("NOHANG".into());
        } else {
            words.extend(["TIMEOUT".into(), rng.gen_range(100..=3_000).to_string()]);
        }
        words.extend(["COUNT".into(), rng.gen_range(1..=3).to_string()]);
        if rng.gen_bool(0.2) {
            words.push("WITHCOUNTERS".into());
        }
        words.push("FROM".into());
        let mut queues = self.queues.clone();
        queues.shuffle(rng);
        let take = rng.gen_range(1..=queues.len());
        for q in &queues[..take] {
            words.push(String::from_utf8_lossy(q).into_owned());
        }
        self.getjob(node, &words, false);
    }

    fn getjob(&mut self, node: usize, words: &[String], drain: bool) -> Option<ClientId> {
        let client = self.net.client();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let now = self.net.now;
        match self.net.cmd_as(node, client, &refs) {
            Some(reply) => {
                self.on_reply(now, node, Pending::GetJob { drain }, reply);
                None
            }
            None => {
                self.pending
                    .insert((node, client), Pending::GetJob { drain });
                Some(client)
            }
        }
    }

    /// During the drain every node has one consumer blocked on every queue.
    fn drain_consumers(&mut self) {
        for i in 0..self.net.len() {
            if !self.net.is_up(i) {
                continue;
            }
            let busy = self.drain_clients[i].is_some_and(|c| self.pending.contains_key(&(i, c)));
            if busy {
                continue;
            }
            let mut words: Vec<String> = ["GETJOB", "TIMEOUT", "1000", "COUNT", "10", "FROM"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            words.extend(
                self.queues
                    .iter()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
            );
            self.drain_clients[i] = self.getjob(i, &words, true);
        }
    }

    fn on_reply(&mut self, at: u64, node: usize, pending: Pending, reply: Reply) {
        match pending {
            Pending::AddJob(seq) => match &reply {
                Reply::Status(id) => {
                    let Some(id) = JobId::parse(id) else {
                        return self.violate(
                            "ADDJOB replies a job id",
                            Some(seq),
                            format!("bad id {reply:?}"),
                        );
                    };
                    self.jobs[seq].id = Some(id);
                    self.jobs[seq].acknowledged = true;
                    self.by_id.insert(id, seq);
                    self.stats.added += 1;
                    if self
                        .net
                        .try_node(node)
                        .is_some_and(|n| n.job(&id).is_some())
                    {
                        self.confirmed.insert((node, id));
                    }
                }
                r if expected_error(r) => {}
                other => self.violate(
                    "ADDJOB gets an id or an expected error",
                    Some(seq),
                    format!("n{node} replied {other:?}"),
                ),
            },
            Pending::GetJob { drain } => match reply {
                Reply::NullArray => {}
                Reply::Array(entries) => {
                    for e in entries {
                        self.on_delivery(at, node, &e, drain);
                    }
                }
                r if expected_error(&r) => {}
                other => self.violate(
                    "GETJOB gets jobs, a null array or an expected error",
                    None,
                    format!("n{node} replied {other:?}"),
                ),
            },
        }
    }

    fn on_delivery(&mut self, at: u64, node: usize, entry: &Reply, drain: bool) {
        let Reply::Array(parts) = entry else {
            return self.violate("GETJOB entries are arrays", None, format!("{entry:?}"));
        };
        let (Some(Reply::Bulk(queue)), Some(Reply::Bulk(id)), Some(Reply::Bulk(body))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            return self.violate(
                "GETJOB entries are [queue, id, body]",
                None,
                format!("{entry:?}"),
            );
        };
        let seq = body
            .strip_prefix(b"job-")
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|s| *s < self.jobs.len());
        let (Some(seq), Some(id)) = (seq, JobId::parse(id)) else {
            return self.violate(
                "only added jobs are delivered",
                None,
                format!("n{node} delivered {entry:?}"),
            );
        };
        self.stats.deliveries += 1;
        let known = self.jobs[seq].id;
        let dead_lettered = self.jobs[seq].dead_letter.as_ref() == Some(queue);
        if known.is_some_and(|k| k != id) || (self.jobs[seq].queue != *queue && !dead_lettered) {
            return self.violate(
                "a job keeps its id and queue",
                Some(seq),
                format!("n{node} delivered {entry:?}, expected id {known:?}"),
            );
        }
        self.jobs[seq].id = Some(id);
        self.by_id.insert(id, seq);
        let job = self.jobs[seq].clone();
        let stats = self.frames.get(&id).cloned().unwrap_or_default();
        if !job.deliveries.is_empty() {
            self.stats.redeliveries += 1;
        }
        if dead_lettered {
            self.stats.dead_letter_deliveries += 1;
        }
        // D16: not before a NACK DELAY ends (once the holders heard of it).
        let grace = self.chaos_faults.max_delay_ms + 1;
        if let Some((sent, end)) = job.clean_nack_delay {
            if at > sent + grace && at < end && !stats.federated && !stats.duplicated {
                self.jobs[seq].deliveries.push((at, node));
                return self.violate(
                    "no delivery before a NACK DELAY ends on a healthy network",
                    Some(seq),
                    format!(
                        "NACK DELAY at {} until {}, with every node up and linked and no \
                         message faults, yet n{node} delivered it at {}",
                        fmt_time(sent),
                        fmt_time(end),
                        fmt_time(at)
                    ),
                );
            }
        }
        // At most once.
        if job.retry == 0 && !job.deliveries.is_empty() && !stats.duplicated {
            let first = job.deliveries[0];
            self.jobs[seq].deliveries.push((at, node));
            return self.violate(
                "an at-most-once job is delivered at most once",
                Some(seq),
                format!(
                    "delivered on n{} at {} and again on n{node} at {}",
                    first.1,
                    fmt_time(first.0),
                    fmt_time(at)
                ),
            );
        }
        // TTL.
        let slack = 1_200 + stats.transfers as u64 * 2_000 + stats.transit_ms;
        let limit = job.issued_at + job.ttl_s * 1000 + slack;
        if at > limit {
            self.jobs[seq].deliveries.push((at, node));
            return self.violate(
                "never delivered after its TTL",
                Some(seq),
                format!(
                    "TTL {} s, added at {}, delivered on n{node} at {} (allowed until {}, {} transfers)",
                    job.ttl_s,
                    fmt_time(job.issued_at),
                    fmt_time(at),
                    fmt_time(limit),
                    stats.transfers
                ),
            );
        }
        // After an ACKJOB in a healthy cluster (and the time its SETACKs take).
        let grace = self.chaos_faults.max_delay_ms + 1;
        let clean_ack = job.clean_ack.filter(|(t, _)| {
            at > t + grace && !stats.federated && !stats.duplicated && !stats.payload_lost
        });
        if let Some((acked_at, acked_on)) = clean_ack {
            self.jobs[seq].deliveries.push((at, node));
            return self.violate(
                "no delivery after an ACKJOB in a healthy cluster",
                Some(seq),
                format!(
                    "ACKJOB on n{acked_on} at {} with every node up and linked and no message \
                     faults, nothing happened since, yet n{node} delivered it at {}",
                    fmt_time(acked_at),
                    fmt_time(at)
                ),
            );
        }
        // After the ack reached everyone.
        if let Some(mark) = job.fully_acked_at {
            if !job.lossy_after_mark {
                self.jobs[seq].deliveries.push((at, node));
                return self.violate(
                    "no delivery after the ack reached every holder",
                    Some(seq),
                    format!(
                        "every node held it acked or not at all at {}, yet n{node} delivered it at {}",
                        fmt_time(mark),
                        fmt_time(at)
                    ),
                );
            }
        }
        self.jobs[seq].deliveries.push((at, node));
        if drain {
            // After every reply already produced has been read (they may have
            // left before this ACKJOB), so an action rather than a call.
            self.schedule(at, Action::AckLater { job: seq, node });
        } else {
            let later = at + self.rng.gen_range(0..500);
            self.schedule(later, Action::FollowUp { job: seq, node });
        }
    }

    /// A consumer decides what to do with a job it got from `node`.
    fn follow_up(&mut self, job: usize, node: usize) {
        if !self.net.is_up(node) {
            return; // The consumer lost its connection: the job will come back.
        }
        let Some(id) = self.jobs[job].id else { return };
        let id = String::from_utf8_lossy(id.as_bytes()).into_owned();
        match self.rng.gen_range(0..100) {
            0..=64 => {
                let target = if self.rng.gen_bool(0.2) {
                    self.random_live().unwrap_or(node)
                } else {
                    node
                };
                self.ack(job, target, false);
            }
            65..=74 => self.ack(job, node, true),
            75..=81 => {
                let delay = self
                    .extensions
                    .as_mut()
                    .and_then(|ext| ext.gen_bool(0.5).then(|| ext.gen_range(1..=3u64)));
                match delay {
                    Some(secs) => self.nack_delay(job, node, secs),
                    None => {
                        self.net.cmd(node, &["NACK", &id]);
                    }
                }
            }
            82..=89 => {
                self.net.cmd(node, &["WORKING", &id]);
                let retry = self.jobs[job].retry as u64;
                let later = self.net.now + retry * 500;
                self.schedule(later, Action::AckLater { job, node });
            }
            _ => {} // The consumer died: the job must come back after RETRY.
        }
    }

    /// A crash, restart, partition or heal: acknowledgements (and NACK
    /// DELAYs, dead-letter moves) sent before may legitimately be lost.
    fn disturbed(&mut self) {
        for job in &mut self.jobs {
            job.clean_ack = None;
            job.clean_nack_delay = None;
            job.undisturbed = false;
        }
    }

    /// A consumer answers a delivery with `NACK DELAY secs` (D16).
    fn nack_delay(&mut self, job: usize, node: usize, secs: u64) {
        let Some(job_id) = self.jobs[job].id else {
            return;
        };
        let id = String::from_utf8_lossy(job_id.as_bytes()).into_owned();
        let now = self.net.now;
        let clean = self.ack_must_reach_everyone(&job_id) && !self.restored.contains(&job_id);
        let r = self
            .net
            .cmd(node, &["NACK", "DELAY", &secs.to_string(), &id]);
        match r {
            Reply::Integer(1) if clean => {
                self.jobs[job].clean_nack_delay = Some((now, now + secs * 1000));
            }
            Reply::Integer(_) => {}
            other => self.violate(
                "NACK DELAY replies a count",
                Some(job),
                format!("{other:?}"),
            ),
        }
        self.stats.nack_delays += 1;
    }

    /// D17: a job that undisturbed holders moved to its dead-letter queue is
    /// moved on every holder, queued on one node at most and never again in
    /// its own queue, once no frame about it is in flight on a healthy network.
    fn check_dead_letters(&mut self) {
        if self.lossy_messages
            || self.net.has_partition()
            || (0..self.net.len()).any(|i| !self.net.is_up(i))
            || !self.net.converged()
        {
            return;
        }
        for seq in 0..self.jobs.len() {
            let job = &self.jobs[seq];
            let (Some(id), Some(target), true) = (job.id, &job.dead_letter, job.undisturbed) else {
                continue;
            };
            let frames = self.frames.get(&id).cloned().unwrap_or_default();
            if frames.federated || frames.duplicated || frames.payload_lost {
                continue;
            }
            let copies: Vec<(usize, Bytes, JobState)> = (0..self.net.len())
                .filter_map(|i| {
                    let j = self.net.node(i).job(&id)?;
                    Some((i, j.queue_bytes()?.clone(), j.state()))
                })
                .collect();
            if !copies.iter().any(|(_, q, _)| q == target) || self.net.job_message_in_flight(&id) {
                continue;
            }
            let queued: Vec<&(usize, Bytes, JobState)> = copies
                .iter()
                .filter(|(_, _, st)| *st == JobState::Queued)
                .collect();
            let left_behind = copies
                .iter()
                .any(|(_, q, st)| matches!(st, JobState::Active | JobState::Queued) && q != target);
            if queued.len() > 1 || left_behind {
                let detail = format!(
                    "moved to {}; copies: {:?}",
                    String::from_utf8_lossy(target),
                    copies
                        .iter()
                        .map(|(i, q, st)| {
                            format!("n{i} {} in {}", st.name(), String::from_utf8_lossy(q))
                        })
                        .collect::<Vec<_>>()
                );
                return self.violate(
                    "a dead-lettered job is queued once, in its dead-letter queue",
                    Some(seq),
                    detail,
                );
            }
        }
    }

    /// True when an ACKJOB sent now must reach every holder: no message
    /// faults, every node up, not leaving (a leaving node makes no dummy ACK)
    /// and linked to every other, no frame carrying the job in flight, and
    /// every holder knows every other one: the job never moved by federation
    /// (the importer is not a known holder, docs/cluster.md §9.5), and no frame
    /// carrying it (with the holder list) was lost or duplicated.
    fn ack_must_reach_everyone(&self, id: &JobId) -> bool {
        let frames = self.frames.get(id).cloned().unwrap_or_default();
        let leaving =
            (0..self.net.len()).any(|i| self.net.try_node(i).is_some_and(|n| n.is_leaving()));
        !self.lossy_messages
            && !leaving
            && !self.net.has_partition()
            && !frames.federated
            && !frames.duplicated
            && !frames.payload_lost
            && self.net.converged()
            && !self.net.job_in_flight(id)
    }

    fn ack(&mut self, job: usize, node: usize, fast: bool) {
        let Some(job_id) = self.jobs[job].id else {
            return;
        };
        // The ADDJOB must have returned: while its origin still replicates,
        // new holders appear that an ACK sent now cannot know about.
        if !fast
            && self.jobs[job].acknowledged
            && self.jobs[job].clean_ack.is_none()
            && !self.restored.contains(&job_id)
            && self.ack_must_reach_everyone(&job_id)
        {
            self.jobs[job].clean_ack = Some((self.net.now, node));
        }
        let id = String::from_utf8_lossy(job_id.as_bytes()).into_owned();
        let r = self
            .net
            .cmd(node, &[if fast { "FASTACK" } else { "ACKJOB" }, &id]);
        if !matches!(r, Reply::Integer(_)) {
            self.violate("ACKJOB/FASTACK reply a count", Some(job), format!("{r:?}"));
        }
        self.jobs[job].consumer_done = true;
        self.stats.acks += 1;
    }

    // ----- invariants ------------------------------------------------------

    /// Marks jobs whose ack reached every node (see the module docs).
    fn check_full_acks(&mut self) {
        if (0..self.net.len()).any(|i| !self.net.is_up(i)) {
            return;
        }
        for seq in 0..self.jobs.len() {
            let job = &self.jobs[seq];
            if !job.consumer_done || job.fully_acked_at.is_some() {
                continue;
            }
            let Some(id) = job.id else { continue };
            let everywhere = (0..self.net.len()).all(|i| {
                self.net
                    .node(i)
                    .job(&id)
                    .is_none_or(|j| j.state() == JobState::Acked)
            });
            if everywhere && !self.net.job_in_flight(&id) {
                self.jobs[seq].fully_acked_at = Some(self.net.now);
            }
        }
    }

    /// Why an acknowledged job may legitimately be missing at the end, if it may.
    fn excuse(&self, job: &JobInfo) -> Option<String> {
        let id = job.id?;
        let expires = job.issued_at + job.ttl_s * 1000;
        if expires <= self.net.now + 2_000 {
            return Some(format!("its TTL ({} s) may have passed", job.ttl_s));
        }
        let lost = self.lost_copies.get(&id).copied().unwrap_or(0);
        let guaranteed = match (job.asynchronous, job.external) {
            (false, _) => job.repl as u32,
            (true, false) => 1,
            (true, true) => 0,
        };
        if self.profile == Profile::Sequential {
            // One failure at a time, each repaired before the next: only a job
            // with one guaranteed copy may be lost, when a node that held it
            // failed (copies are not counted for nodes that never come back).
            if guaranteed <= 1 && self.crashed_holder.contains(&id) {
                return Some("its one guaranteed copy was on a node that failed".into());
            }
        } else {
            if guaranteed == 0 && self.faulty {
                return Some(
                    "an ASYNC job added on a node keeping no copy has no guaranteed copy".into(),
                );
            }
            if lost >= guaranteed {
                return Some(format!(
                    "{lost} of its {guaranteed} guaranteed copies were lost in crashes"
                ));
            }
        }
        if job.retry == 0 && self.faulty {
            return Some("at-most-once jobs may be lost when faults happen".into());
        }
        None
    }

    fn obligation_met(job: &JobInfo) -> bool {
        if job.retry == 0 {
            !job.deliveries.is_empty()
        } else {
            job.consumer_done
        }
    }

    fn obligations_met(&self) -> bool {
        self.jobs
            .iter()
            .filter(|j| j.acknowledged)
            .all(|j| Self::obligation_met(j) || self.excuse(j).is_some())
    }

    fn check_liveness(&mut self) {
        for seq in 0..self.jobs.len() {
            let job = &self.jobs[seq];
            if !job.acknowledged || Self::obligation_met(job) {
                continue;
            }
            if self.excuse(job).is_some() {
                self.stats.excused += 1;
                continue;
            }
            let id = job.id.expect("acknowledged");
            let holders: Vec<String> = (0..self.net.len())
                .filter_map(|i| {
                    self.net
                        .try_node(i)?
                        .job(&id)
                        .map(|j| format!("n{i}:{}", j.state().name()))
                })
                .collect();
            let detail = format!(
                "added at {} (REPLICATE {}, RETRY {}, {}), {} deliveries, consumer {}; \
                 after healing and {} s of draining the holders are [{}], lost copies {}",
                fmt_time(job.issued_at),
                job.repl,
                job.retry,
                if job.asynchronous { "ASYNC" } else { "sync" },
                job.deliveries.len(),
                if job.consumer_done {
                    "acked"
                } else {
                    "never acked"
                },
                self.cfg.drain_ms / 1000,
                holders.join(" "),
                self.lost_copies.get(&id).copied().unwrap_or(0),
            );
            self.violate(
                "an acknowledged job is eventually delivered",
                Some(seq),
                detail,
            );
        }
    }

    // ----- reporting -------------------------------------------------------

    fn report(&self) -> String {
        let mut out = String::new();
        let Some(v) = self.violations.first() else {
            return out;
        };
        let _ = writeln!(
            out,
            "seed {} FAILED: {} ({} more violations)",
            self.cfg.seed,
            v.rule,
            self.violations.len() - 1
        );
        let _ = writeln!(out, "  at {}: {}", fmt_time(v.at), v.detail);
        if let Some(id) = &v.job {
            let _ = writeln!(
                out,
                "  job {} ({}) body {:?}",
                String::from_utf8_lossy(id.as_bytes()),
                short_job(id),
                v.body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            );
        }
        let names: Vec<String> = (0..self.net.len())
            .map(|i| format!("n{i}={}", &self.net.id(i).as_str()[..8]))
            .collect();
        let _ = writeln!(
            out,
            "  cluster: {} nodes ({}), node timeout {} ms, aof {}, fsync {:?}, partitions {:?}, \
             bus after durable {}",
            self.net.len(),
            names.join(" "),
            self.net.config().node_timeout_ms,
            self.net.config().aof,
            self.net.config().fsync,
            self.net.config().partition_mode,
            self.net.config().bus_after_durable
        );
        let _ = writeln!(out, "  message faults: {:?}", self.chaos_faults);
        let _ = writeln!(out, "  replay: {}", replay_command(&self.cfg));
        let _ = writeln!(out, "  trace (this job, and every fault):");
        let text = match &v.job {
            Some(id) => self.net.trace.render_job(id, v.body.as_deref(), 1_000),
            None => {
                let all = self.net.trace.render_all();
                let lines: Vec<&str> = all.lines().collect();
                let skip = lines.len().saturating_sub(200);
                lines[skip..].join("\n") + "\n"
            }
        };
        for line in text.lines() {
            let _ = writeln!(out, "    {line}");
        }
        for other in self.violations.iter().skip(1).take(10) {
            let _ = writeln!(
                out,
                "  also: {} at {}: {}",
                other.rule,
                fmt_time(other.at),
                other.detail
            );
        }
        out
    }
}

/// Seconds since the start of the run, `12.345s`.
pub fn fmt_time(at: u64) -> String {
    let t = at.saturating_sub(START_MS);
    format!("{}.{:03}s", t / 1000, t % 1000)
}

/// The command line that replays `cfg` with its full trace.
pub fn replay_command(cfg: &SimConfig) -> String {
    let mut cmd = format!(
        "cargo run -p disque-sim --release -- --seed {} --trace",
        cfg.seed
    );
    let defaults = SimConfig::new(cfg.seed);
    if let Some(n) = cfg.nodes {
        let _ = write!(cmd, " --nodes {n}");
    }
    if cfg.chaos_ms != defaults.chaos_ms {
        let _ = write!(cmd, " --chaos-ms {}", cfg.chaos_ms);
    }
    if cfg.drain_ms != defaults.drain_ms {
        let _ = write!(cmd, " --drain-ms {}", cfg.drain_ms);
    }
    if !cfg.faults {
        cmd.push_str(" --no-faults");
    }
    if !cfg.bus_after_durable {
        cmd.push_str(" --bus-before-aof");
    }
    if let Some(profile) = cfg.profile {
        let _ = write!(cmd, " --profile {}", profile.name());
    }
    cmd
}
