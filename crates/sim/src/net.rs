//! An in-process network of [`Node`]s with a shared fake clock.
//!
//! [`Net`] plays the part of every I/O shell at once: it gives node `i` the
//! address `127.0.0.<i+1>:7711`, executes the [`BusAction`]s the cores ask for,
//! carries encoded frames between them through one time-ordered event queue
//! (each frame is decoded with [`Frame::decode`] on the way, as the real
//! transport does), ticks every node like the server's ticker does (at the
//! node's `next_wakeup`, and at least every `tick_ms`), keeps each node's AOF
//! bytes with an fsync model, and saves its `nodes.conf` text whenever the core
//! asks.
//!
//! The AOF of a node has three parts, as in the server: records the core
//! produced but the process has not written yet (its buffer, lost in any
//! crash), records written to the file (kept by [`Crash::Process`]), and the
//! fsynced prefix of the file (kept by [`Crash::Power`]). The effects of an
//! event are carried out in the server's order (`State::apply`,
//! `State::flush_point`, the group commit): the records are written, and
//! fsynced with [`Fsync::Always`], before the replies of the event leave
//! and before its bus frames, which wait in the server's own [`HeldBus`]
//! ([`NetConfig::bus_after_durable`]; off, it models the server before that
//! rule); `nodes.conf` is saved before either. A restart reads `nodes.conf`
//! and replays the AOF through the same core code as the server
//! ([`disque_core::files`], [`Replay`]).
//!
//! Faults are knobs ([`Faults`] and the methods [`Net::partition`],
//! [`Net::crash`], [`Net::restart`], [`Net::set_filter`]); all randomness comes
//! from the seed in [`NetConfig`], and every map here is ordered, so the network
//! itself never introduces nondeterminism.
//!
//! Connections follow the server's transport: an outbound link is opened with
//! `Connect`; frames sent on it before it is up wait in its queue and go out
//! once it connects (they are lost if the connection fails); frames on a link
//! are delivered in order unless [`Faults::reorder`] is set; replies to an
//! inbound connection travel back on the same connection. A crashed node's
//! peers see their links to it go down at once (connection reset); a
//! partition silently swallows frames and makes new connections time out.

use crate::trace::{Fate, Trace, TraceEntry, TraceKind};
use bytes::{Bytes, BytesMut};
use disque_core::cluster::message::{Frame, Message};
use disque_core::cluster::{BusAction, ConnId, LinkId, Origin};
use disque_core::commands::{lookup, FLAG_DENYOOM};
use disque_core::files::{parse_nodes_conf, RecordSplitter};
use disque_core::ids::{JobId, NodeId};
use disque_core::{ClientId, Effects, Env, HeldBus, Node, NodeConfig, Replay, Replayed};
use disque_proto::Reply;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};

/// The fake wall clock starts here (Unix ms), so that second boundaries and
/// TTL arithmetic look like a real clock's.
pub const START_MS: u64 = 1_700_000_000_000;
/// The receiver of a frame that never found one (no link, connection gone).
pub const NOBODY: usize = usize::MAX;
/// Every node's client port (their IPs differ).
pub const PORT: u16 = 7711;
/// Memory every node reports by default (far below any maxmemory mark).
pub const DEFAULT_USED_MEMORY: u64 = 1 << 20;
/// Events processed at one instant beyond which [`Net::step`] panics: frames
/// bouncing between nodes without delay would otherwise never let time pass.
pub const STORM_EVENTS: u64 = 1_000_000;
/// Jobs a node may hold and still be checked after every step (see
/// [`Net::check_nodes`]).
const CHECKED_JOBS: usize = 16;

/// When AOF bytes reach the disk (what survives a power loss).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Whenever records are written: before any reply of the same event
    /// leaves (and, with [`NetConfig::bus_after_durable`], any bus frame).
    Always,
    /// At most once per second: when records are written a second or more
    /// after the last fsync, and at the tick.
    EverySec,
    /// When the OS feels like it: modelled as every 30 s.
    No,
}

/// How a node dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The process is killed: every record written to the AOF file survives
    /// (decision D11: records reach the file before their reply leaves), the
    /// ones still in its buffer do not (see [`NetConfig::bus_after_durable`]).
    Process,
    /// The machine loses power: only the fsynced prefix of the AOF survives.
    Power,
    /// The disk is lost: the node restarts with its `nodes.conf` but no AOF.
    Disk,
}

/// Message-level faults, applied to every frame sent while they are set.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Probability that a frame is lost.
    pub drop: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Smallest delivery delay (ms).
    pub min_delay_ms: u64,
    /// Largest delivery delay (ms); each frame draws uniformly in between.
    pub max_delay_ms: u64,
    /// Let frames of one link overtake each other (otherwise FIFO per link,
    /// as on a TCP connection).
    pub reorder: bool,
    /// Never drop PING, PONG and MEET frames (only job and federation messages).
    pub spare_membership: bool,
}

impl Faults {
    /// No faults at all: instant, reliable, ordered delivery.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// True when no message fault is active.
    pub fn is_none(&self) -> bool {
        self.drop == 0.0 && self.duplicate == 0.0 && self.max_delay_ms == 0
    }
}

/// How the network is built.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Seed of every random choice (network, node ids, each node's RNG).
    pub seed: u64,
    /// `cluster-node-timeout` (ms) of every node.
    pub node_timeout_ms: u64,
    /// Nodes log to an AOF (replayed on restart unless lost).
    pub aof: bool,
    /// The fsync policy (what survives [`Crash::Power`]).
    pub fsync: Fsync,
    /// `aof-enqueue-jobs-once`: jobs stored `queued` are queued again when
    /// the AOF is replayed on restart.
    pub enqueue_jobs_once: bool,
    /// Longest time between two ticks of a node (the server's `1000 / hz`).
    pub tick_ms: u64,
    /// Shortest time between two ticks of a node. The server ticks again at
    /// once when `next_wakeup` is in the past; the simulation needs some time
    /// to pass.
    pub min_tick_gap_ms: u64,
    /// How long a connection attempt into a partition takes to fail.
    pub connect_timeout_ms: u64,
    /// What a partition does to frames on open connections.
    pub partition_mode: PartitionMode,
    /// The shell's ordering of bus frames and AOF records (issue 8, part 1).
    ///
    /// `true` (the server since the fix): the bus frames of an event that
    /// produced AOF records leave once those records are as durable as the
    /// fsync policy promises: written and fsynced with [`Fsync::Always`],
    /// written otherwise. A GOTJOB then means the copy survives a
    /// [`Crash::Process`] of its holder, and with `Always` a [`Crash::Power`].
    ///
    /// `false` (the server before the fix): bus frames leave at once; the
    /// records of an event stay in the process's buffer until the node's next
    /// tick or a client turn (a command, or a reply to a blocked client), as
    /// the old server wrote its buffer only in its ticker and before replies.
    /// A crash right after a GOTJOB loses the copy it announced.
    pub bus_after_durable: bool,
}

impl NetConfig {
    /// `nodes` nodes, seed `seed`, node timeout 2 s, AOF on with fsync always.
    pub fn new(nodes: usize, seed: u64) -> NetConfig {
        NetConfig {
            nodes,
            seed,
            node_timeout_ms: 2_000,
            aof: true,
            fsync: Fsync::Always,
            enqueue_jobs_once: false,
            tick_ms: 100,
            min_tick_gap_ms: 1,
            connect_timeout_ms: 1_000,
            partition_mode: PartitionMode::Drop,
            bus_after_durable: true,
        }
    }
}

/// What a frame filter sees.
pub struct FrameInfo<'a> {
    /// Sending node.
    pub from: usize,
    /// Receiving node.
    pub to: usize,
    /// The decoded frame.
    pub frame: &'a Frame,
    /// Current time (ms).
    pub now: u64,
}

/// What a frame filter decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it normally (message faults still apply).
    Pass,
    /// Lose it.
    Drop,
    /// Deliver it this many ms later than it would have been.
    Delay(u64),
}

/// A frame filter, consulted for every frame put on the wire.
pub type Filter = Box<dyn FnMut(&FrameInfo) -> Verdict>;

/// What a partition does to frames on connections that were already open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionMode {
    /// They are lost (as if the connection silently broke).
    Drop,
    /// They wait and are delivered, in order, when the partition heals (TCP
    /// retransmission), unless the connection was closed meanwhile.
    Hold,
}

/// A reply that ended a blocked command.
#[derive(Clone, Debug)]
pub struct Deferred {
    /// When it was sent (ms).
    pub at: u64,
    /// The node.
    pub node: usize,
    /// The client.
    pub client: ClientId,
    /// The reply.
    pub reply: Reply,
}

/// One simulated process.
struct SimNode {
    id: NodeId,
    ip: String,
    node: Option<Node>,
    /// Bumped at every crash and restart: events for an older incarnation are void.
    incarnation: u64,
    /// AOF records produced but not written yet (the process's buffer).
    unwritten: BytesMut,
    /// AOF bytes this incarnation has written (the server's `Aof` position,
    /// which never goes back).
    written: u64,
    /// Bus actions waiting for the AOF to be durable, as in the server.
    held: HeldBus,
    /// Bytes written to the AOF file.
    aof: BytesMut,
    /// Length of the fsynced prefix.
    synced: usize,
    last_fsync: u64,
    /// The last `nodes.conf` text saved.
    nodes_conf: Option<String>,
    next_tick: u64,
    used_memory: u64,
    /// Clients blocked here (cleared when the node dies).
    blocked: Vec<ClientId>,
}

/// An outbound link as the transport knows it.
struct Link {
    to: usize,
    to_incarnation: u64,
    conn: ConnId,
    up: bool,
    /// Frames sent before the connection completed.
    pending: Vec<Frame>,
    /// Last delivery time in each direction (FIFO unless reordering).
    last_out: u64,
    last_back: u64,
}

/// How a frame reaches its receiver.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// On a connection the sender opened (the receiver's inbound connection).
    Inbound(ConnId),
    /// Back on the receiver's own outbound link.
    Outbound(LinkId),
}

enum Event {
    Frame {
        from: usize,
        to: usize,
        incarnation: u64,
        via: Via,
        frame: Box<Frame>,
        sent_at: u64,
    },
    LinkUp {
        node: usize,
        incarnation: u64,
        link: LinkId,
    },
    LinkDown {
        node: usize,
        incarnation: u64,
        link: LinkId,
    },
}

/// The network: nodes, links, frames in flight, the clock.
pub struct Net {
    /// Current time (Unix ms).
    pub now: u64,
    /// Message faults, applied at send time.
    pub faults: Faults,
    cfg: NetConfig,
    rng: ChaCha8Rng,
    nodes: Vec<SimNode>,
    events: BTreeMap<(u64, u64), Event>,
    seq: u64,
    links: BTreeMap<(usize, LinkId), Link>,
    conns: BTreeMap<(usize, ConnId), (usize, LinkId)>,
    next_conn: ConnId,
    next_client: ClientId,
    groups: Vec<usize>,
    /// Frames held by a partition (PartitionMode::Hold), in order.
    held: Vec<Event>,
    filter: Option<Filter>,
    replies: VecDeque<Deferred>,
    /// Events processed at the current instant (see [`STORM_EVENTS`]).
    events_now: (u64, u64),
    /// Steps taken, to pace the nodes' invariant checks (see [`Net::step`]).
    steps: u64,
    /// Everything that happened, in order.
    pub trace: Trace,
}

/// The RNG of one node incarnation. The core takes a `StdRng` (the server
/// draws it from the OS); its seed comes from a ChaCha8 stream of the run's
/// seed.
fn node_rng(seed: u64, index: usize, incarnation: u64) -> StdRng {
    let mut seeds = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (index as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
            ^ incarnation.wrapping_mul(0x94D0_49BB_1331_11EB),
    );
    StdRng::from_seed(seeds.gen())
}

/// The job ids a message is about (payload messages carry whole jobs).
pub fn message_jobs(message: &Message) -> Vec<JobId> {
    let from_payload = |p: &Bytes| p.get(4..44).and_then(JobId::parse);
    match message {
        Message::ReplJob { job, .. } => from_payload(job).into_iter().collect(),
        Message::YourJobs(jobs) => jobs.iter().filter_map(from_payload).collect(),
        Message::GotJob(id)
        | Message::WillQueue(id)
        | Message::DelJob { id, .. }
        | Message::HasJob(id)
        | Message::Holders { id, .. }
        | Message::Working(id)
        | Message::Enqueue { id, .. }
        | Message::Queued { id, .. }
        | Message::NackDelay { id, .. }
        | Message::SetAck { id, .. }
        | Message::GotAck { id, .. } => vec![*id],
        _ => Vec::new(),
    }
}

impl Net {
    /// A network of unconnected nodes (each alone in its cluster).
    pub fn new(cfg: NetConfig) -> Net {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut nodes = Vec::with_capacity(cfg.nodes);
        let mut names = Vec::new();
        for i in 0..cfg.nodes {
            let id = NodeId::random(&mut rng);
            names.push(id);
            nodes.push(SimNode {
                id,
                ip: format!("127.0.0.{}", i + 1),
                node: None,
                incarnation: 0,
                unwritten: BytesMut::new(),
                written: 0,
                held: HeldBus::default(),
                aof: BytesMut::new(),
                synced: 0,
                last_fsync: START_MS,
                nodes_conf: None,
                next_tick: START_MS,
                used_memory: DEFAULT_USED_MEMORY,
                blocked: Vec::new(),
            });
        }
        let mut net = Net {
            now: START_MS,
            faults: Faults::none(),
            groups: vec![0; cfg.nodes],
            held: Vec::new(),
            cfg,
            rng,
            nodes,
            events: BTreeMap::new(),
            seq: 0,
            links: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            next_client: 1,
            filter: None,
            replies: VecDeque::new(),
            events_now: (START_MS, 0),
            steps: 0,
            trace: Trace::new(names),
        };
        for i in 0..net.cfg.nodes {
            net.boot(i);
        }
        net
    }

    /// A network whose nodes all met node 0 and converged to a full mesh.
    pub fn cluster(cfg: NetConfig) -> Net {
        let mut net = Net::new(cfg);
        net.join_all();
        net
    }

    /// Makes every node meet node 0 and waits until each node knows and reaches
    /// every other one with its links up. Panics if that takes over 60 s.
    pub fn join_all(&mut self) {
        let ip0 = self.nodes[0].ip.clone();
        let port = PORT.to_string();
        for i in 1..self.nodes.len() {
            let r = self.cmd(i, &["CLUSTER", "MEET", &ip0, &port]);
            assert_eq!(r, Reply::ok(), "CLUSTER MEET");
        }
        let deadline = self.now + 60_000;
        while !self.converged() {
            assert!(self.now < deadline, "the cluster did not converge in 60 s");
            self.advance(10);
        }
    }

    /// True when every live node knows all others, reaches all others, and has
    /// its links to them up.
    pub fn converged(&self) -> bool {
        let n = self.nodes.len();
        (0..n).all(|i| match &self.nodes[i].node {
            None => false,
            Some(node) => {
                node.cluster_size() == n
                    && node.reachable_count() == n - 1
                    && self
                        .links
                        .iter()
                        .filter(|((owner, _), l)| *owner == i && l.up)
                        .count()
                        >= n - 1
            }
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// Number of nodes (up or down).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the network has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s id (stable across restarts).
    pub fn id(&self, i: usize) -> NodeId {
        self.nodes[i].id
    }

    /// Node `i`'s IP address.
    pub fn ip(&self, i: usize) -> &str {
        &self.nodes[i].ip
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == *id)
    }

    /// Node `i`'s state machine. Panics if it is down.
    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].node.as_ref().expect("node is down")
    }

    /// Node `i`'s state machine, mutable. Panics if it is down.
    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        self.nodes[i].node.as_mut().expect("node is down")
    }

    /// Node `i`'s state machine, if it is up.
    pub fn try_node(&self, i: usize) -> Option<&Node> {
        self.nodes[i].node.as_ref()
    }

    /// True when node `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].node.is_some()
    }

    /// The environment node `i` sees now.
    pub fn env(&self, i: usize) -> Env {
        Env {
            now_ms: self.now,
            used_memory: self.nodes[i].used_memory,
        }
    }

    /// Sets the memory node `i` reports (memory pressure knob).
    pub fn set_used_memory(&mut self, i: usize, bytes: u64) {
        self.nodes[i].used_memory = bytes;
    }

    /// The bytes of node `i`'s AOF file (everything written).
    pub fn aof(&self, i: usize) -> &[u8] {
        &self.nodes[i].aof
    }

    /// The last `nodes.conf` text node `i` saved.
    pub fn nodes_conf(&self, i: usize) -> Option<&str> {
        self.nodes[i].nodes_conf.as_deref()
    }

    /// Installs a frame filter (frames it refuses are dropped), or removes it.
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
    }

    /// Number of frames waiting for delivery.
    pub fn frames_in_flight(&self) -> usize {
        self.events
            .values()
            .chain(&self.held)
            .filter(|e| matches!(e, Event::Frame { .. }))
            .count()
            + self.links.values().map(|l| l.pending.len()).sum::<usize>()
    }

    /// True when a frame carrying job `id` (REPLJOB, YOURJOBS) is in flight.
    pub fn job_in_flight(&self, id: &JobId) -> bool {
        self.frame_in_flight(|f: &Frame| {
            matches!(f.message, Message::ReplJob { .. } | Message::YourJobs(_))
                && message_jobs(&f.message).contains(id)
        })
    }

    /// True when any frame about job `id` (QUEUED, NACKDELAY, ...) is in flight.
    pub fn job_message_in_flight(&self, id: &JobId) -> bool {
        self.frame_in_flight(|f: &Frame| message_jobs(&f.message).contains(id))
    }

    /// True when a frame for which `carries` holds is in flight.
    fn frame_in_flight(&self, carries: impl Fn(&Frame) -> bool) -> bool {
        self.events.values().chain(&self.held).any(|e| match e {
            Event::Frame { frame, .. } => carries(frame),
            _ => false,
        }) || self.links.values().any(|l| l.pending.iter().any(&carries))
    }

    // ----- partitions ------------------------------------------------------

    /// Splits the network: nodes in the same group talk, others do not. Nodes
    /// not listed are each isolated.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let n = self.nodes.len();
        self.groups = (0..n).map(|i| n + i).collect();
        for (g, members) in groups.iter().enumerate() {
            for &i in *members {
                self.groups[i] = g;
            }
        }
        let text = format!("partition {groups:?}");
        self.trace_fault(text);
    }

    /// Cuts node `i` off from every other node.
    pub fn isolate(&mut self, i: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|j| *j != i).collect();
        self.partition(&[&[i], &others]);
    }

    /// Ends every partition (held frames are delivered now, in order).
    pub fn heal(&mut self) {
        self.groups = vec![0; self.nodes.len()];
        self.trace_fault("heal".into());
        for event in std::mem::take(&mut self.held) {
            self.push_event(self.now, event);
        }
    }

    /// True when `a` and `b` cannot talk.
    pub fn partitioned(&self, a: usize, b: usize) -> bool {
        self.groups[a] != self.groups[b]
    }

    /// True when some partition is in place.
    pub fn has_partition(&self) -> bool {
        self.groups.iter().any(|g| *g != self.groups[0])
    }

    // ----- crash and restart ----------------------------------------------

    /// Kills node `i`. What its AOF keeps depends on `how`; returns how many
    /// AOF bytes were lost (written, or still in the process's buffer). Its
    /// blocked clients are disconnected.
    pub fn crash(&mut self, i: usize, how: Crash) -> usize {
        if self.nodes[i].node.is_none() {
            return 0;
        }
        let n = &mut self.nodes[i];
        let before = n.aof.len() + n.unwritten.len();
        n.unwritten.clear();
        n.written = 0;
        n.held = HeldBus::default();
        let keep = match how {
            Crash::Process => n.aof.len(),
            Crash::Power => n.synced,
            Crash::Disk => 0,
        };
        n.aof.truncate(keep);
        n.synced = keep;
        n.node = None;
        n.incarnation += 1;
        let blocked = std::mem::take(&mut n.blocked);
        // Its own links die with it.
        let owned: Vec<(usize, LinkId)> = self
            .links
            .range((i, 0)..=(i, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in owned {
            if let Some(link) = self.links.remove(&key) {
                self.conns.remove(&(link.to, link.conn));
            }
        }
        // Links to it are reset: their owners hear about it at once.
        let into: Vec<(usize, LinkId)> = self
            .links
            .iter()
            .filter(|(_, l)| l.to == i)
            .map(|(k, _)| *k)
            .collect();
        for (owner, link) in into {
            self.links.remove(&(owner, link));
            let incarnation = self.nodes[owner].incarnation;
            self.push_event(
                self.now,
                Event::LinkDown {
                    node: owner,
                    incarnation,
                    link,
                },
            );
        }
        self.conns.retain(|(to, _), _| *to != i);
        let lost = before - keep;
        self.trace_fault(format!(
            "crash n{i} ({how:?}; AOF keeps {keep} bytes, loses {lost} written or buffered; {} blocked clients disconnected)",
            blocked.len()
        ));
        lost
    }

    /// Starts node `i` again: same id, peers from its last `nodes.conf`, jobs
    /// from what its AOF kept.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].node.is_some() {
            return;
        }
        self.nodes[i].incarnation += 1;
        self.boot(i);
        self.trace_fault(format!("restart n{i}"));
    }

    /// Creates node `i`'s state machine from what survives on its "disk", as
    /// the server starts: identity from `nodes.conf`, then the AOF replayed
    /// (not logging meanwhile) with the effects of every record carried out,
    /// then logging on.
    fn boot(&mut self, i: usize) {
        let env = self.env(i);
        let config = NodeConfig {
            port: PORT,
            ..NodeConfig::default()
        };
        let n = &mut self.nodes[i];
        let mut node = Node::new(n.id, config, node_rng(self.cfg.seed, i, n.incarnation));
        node.set_node_timeout(self.cfg.node_timeout_ms);
        if let Some(text) = &n.nodes_conf {
            let identity = parse_nodes_conf(text)
                .unwrap_or_else(|line| panic!("n{i}: corrupt nodes.conf line {line:?}"))
                .unwrap_or_else(|| panic!("n{i}: nodes.conf without a myself line"));
            node.restore_identity(&env, identity);
        }
        n.node = Some(node);
        n.next_tick = self.now;
        if self.cfg.aof {
            self.load_aof(i, &env);
        } else {
            n.aof.clear();
        }
        let n = &mut self.nodes[i];
        n.synced = n.aof.len();
        let node = n.node.as_mut().expect("booting");
        node.startup_complete();
        node.config_mut().aof_logging = self.cfg.aof;
    }

    /// Replays node `i`'s AOF through the core's [`Replay`], as the server's
    /// loader does with `aof-load-truncated yes`, carrying out the effects of
    /// every record.
    fn load_aof(&mut self, i: usize, env: &Env) {
        let mut records = RecordSplitter::new();
        records.feed(&self.nodes[i].aof);
        let mut replay = Replay::new(self.cfg.enqueue_jobs_once, true);
        loop {
            let next = records.next_record(true).expect("every byte was fed");
            let node = self.nodes[i].node.as_mut().expect("booting");
            let mut fx = Effects::default();
            let done = match replay.take(node, env, next, &mut fx) {
                Ok(Replayed::Record) => false,
                Ok(Replayed::End) => true,
                Ok(Replayed::CutAt(offset)) => {
                    self.nodes[i].aof.truncate(offset as usize);
                    true
                }
                Err(e) => panic!("n{i} cannot load its AOF: {e:?}"),
            };
            self.apply(i, fx);
            if done {
                return;
            }
        }
    }

    /// DEBUG LOADAOF on node `i`, as the server runs it: buffered records
    /// written, every job dropped without logging (decision D6), the file
    /// replayed with the effects of every record carried out.
    pub fn reload_aof(&mut self, i: usize) {
        self.write_aof(i);
        let env = self.env(i);
        let mut fx = Effects::default();
        let node = self.nodes[i].node.as_mut().expect("reloading a live node");
        node.flush_all(&env, false, &mut fx);
        self.apply(i, fx);
        self.load_aof(i, &env);
        self.trace_fault(format!("n{i} AOF reloaded"));
    }

    // ----- clients -------------------------------------------------------

    /// A new client id.
    pub fn client(&mut self) -> ClientId {
        let c = self.next_client;
        self.next_client += 1;
        c
    }

    /// Runs a command on node `i` for `client`, as the server's dispatch does
    /// (command table, arity, eviction and `-OOM`). `None` when the client
    /// blocked; its reply comes later ([`Net::take_reply`]).
    pub fn command(&mut self, i: usize, client: ClientId, args: &[Bytes]) -> Option<Reply> {
        let env = self.env(i);
        self.trace.push(TraceEntry {
            at: self.now,
            kind: TraceKind::Command {
                node: i,
                client,
                args: args.to_vec(),
            },
        });
        let reply = match lookup(&args[0]) {
            None => Some(Reply::error("ERR unknown command")),
            Some(spec) if !spec.arity_ok(args.len()) => {
                Some(Reply::error("ERR wrong number of arguments"))
            }
            Some(spec) => {
                let node = self.nodes[i].node.as_mut().expect("command to a down node");
                let mut fx = Effects::default();
                let oom = node.config().maxmemory != 0
                    && !node.evict_for_memory(&env, &mut fx)
                    && spec.has(FLAG_DENYOOM);
                let reply = if oom {
                    Some(Reply::error(
                        "OOM command not allowed when used memory > 'maxmemory'.",
                    ))
                } else {
                    node.on_command(&env, client, spec.id, args, &mut fx)
                };
                self.apply(i, fx);
                // A client turn: the buffer is written before the reply leaves.
                self.write_aof(i);
                reply
            }
        };
        match &reply {
            Some(r) => self.trace.push(TraceEntry {
                at: self.now,
                kind: TraceKind::Reply {
                    node: i,
                    client,
                    reply: r.clone(),
                    deferred: false,
                },
            }),
            None => self.nodes[i].blocked.push(client),
        }
        self.reschedule_tick(i);
        reply
    }

    /// Runs `words` on node `i` for `client`.
    pub fn cmd_as(&mut self, i: usize, client: ClientId, words: &[&str]) -> Option<Reply> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        self.command(i, client, &args)
    }

    /// Runs `words` on node `i` for a new client; panics if it blocks.
    pub fn cmd(&mut self, i: usize, words: &[&str]) -> Reply {
        let c = self.client();
        self.cmd_as(i, c, words)
            .unwrap_or_else(|| panic!("{words:?} blocked on n{i}"))
    }

    /// Runs `words` on node `i` for a new client and, if it blocks, lets time
    /// pass (up to 120 s) until its reply arrives.
    pub fn call(&mut self, i: usize, words: &[&str]) -> Reply {
        let c = self.client();
        if let Some(r) = self.cmd_as(i, c, words) {
            return r;
        }
        self.wait_reply(i, c, 120_000)
            .unwrap_or_else(|| panic!("no reply to {words:?} on n{i}"))
    }

    /// Lets time pass in 1 ms steps until `client` (blocked on node `i`) has a
    /// reply, at most `max_ms`.
    pub fn wait_reply(&mut self, i: usize, client: ClientId, max_ms: u64) -> Option<Reply> {
        let deadline = self.now + max_ms;
        loop {
            if let Some(r) = self.take_reply(i, client) {
                return Some(r);
            }
            if self.now >= deadline {
                return None;
            }
            self.advance(1);
        }
    }

    /// The next deferred reply to `client` from node `i`, if one arrived.
    pub fn take_reply(&mut self, i: usize, client: ClientId) -> Option<Reply> {
        let pos = self
            .replies
            .iter()
            .position(|d| d.node == i && d.client == client)?;
        self.replies.remove(pos).map(|d| d.reply)
    }

    /// Every deferred reply that arrived, oldest first.
    pub fn take_all_replies(&mut self) -> Vec<Deferred> {
        self.replies.drain(..).collect()
    }

    /// Clients blocked on node `i`.
    pub fn blocked_clients(&self, i: usize) -> &[ClientId] {
        &self.nodes[i].blocked
    }

    /// Every job id node `i` holds (JSCAN, dummy ACKs excepted), without
    /// tracing the command.
    pub fn job_ids(&mut self, i: usize) -> Vec<JobId> {
        let env = self.env(i);
        let Some(node) = self.nodes[i].node.as_mut() else {
            return Vec::new();
        };
        let spec = lookup(b"JSCAN").expect("JSCAN exists");
        let mut cursor = Bytes::from_static(b"0");
        let mut out = Vec::new();
        loop {
            let args = [
                Bytes::from_static(b"JSCAN"),
                cursor.clone(),
                Bytes::from_static(b"BUSYLOOP"),
            ];
            let mut fx = Effects::default();
            let reply = node.on_command(&env, ClientId::MAX, spec.id, &args, &mut fx);
            let Some(Reply::Array(parts)) = reply else {
                break;
            };
            if let [Reply::Bulk(next), Reply::Array(ids)] = &parts[..] {
                for r in ids {
                    if let Reply::Status(b) | Reply::Bulk(b) = r {
                        out.extend(JobId::parse(b));
                    }
                }
                if &next[..] == b"0" {
                    break;
                }
                cursor = next.clone();
            } else {
                break;
            }
        }
        out
    }

    /// Replaces node `i`'s AOF with a snapshot of its jobs (BGREWRITEAOF), fsynced.
    pub fn rewrite_aof(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let Some(node) = n.node.as_ref() else { return };
        if !self.cfg.aof {
            return;
        }
        let mut out = BytesMut::new();
        node.aof_snapshot(&mut out);
        // The snapshot holds the jobs in memory: buffered records are moot,
        // as durable as the snapshot.
        n.written += n.unwritten.len() as u64;
        n.unwritten.clear();
        n.aof = out;
        n.synced = n.aof.len();
        self.release_bus(i);
        self.trace_fault(format!("n{i} AOF rewritten"));
    }

    /// Tells node `i` that `client` disconnected.
    pub fn client_gone(&mut self, i: usize, client: ClientId) {
        let env = self.env(i);
        let Some(node) = self.nodes[i].node.as_mut() else {
            return;
        };
        let mut fx = Effects::default();
        node.client_gone(&env, client, &mut fx);
        self.nodes[i].blocked.retain(|c| *c != client);
        self.apply(i, fx);
        self.reschedule_tick(i);
    }

    // ----- time ----------------------------------------------------------

    /// Processes everything due up to `now + ms` and moves the clock there.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        while self.step(until) {}
        self.now = until;
    }

    /// Delivers frames (letting time pass as their delays require, and ticking
    /// nodes on the way) until none is in flight, at most 10 s of time.
    pub fn run_until_idle(&mut self) {
        let deadline = self.now + 10_000;
        while let Some((&(t, _), _)) = self
            .events
            .iter()
            .find(|(_, e)| matches!(e, Event::Frame { .. }))
        {
            if t > deadline {
                break;
            }
            while self.step(t) {}
            self.now = self.now.max(t);
        }
    }

    /// Processes the next due thing (an event or a node tick) at or before
    /// `until`. False when there is none.
    pub fn step(&mut self, until: u64) -> bool {
        let event_at = self.events.keys().next().map(|k| k.0);
        let tick = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].node.is_some())
            .map(|i| (self.nodes[i].next_tick, i))
            .min();
        let event_first = match (event_at, tick) {
            (Some(e), Some((t, _))) => e <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        if event_first {
            let at = event_at.expect("checked");
            if at > until {
                return false;
            }
            self.now = self.now.max(at);
            self.count_event();
            let key = *self.events.keys().next().expect("checked");
            let event = self.events.remove(&key).expect("checked");
            let touched = match &event {
                Event::Frame { to, .. } => *to,
                Event::LinkUp { node, .. } | Event::LinkDown { node, .. } => *node,
            };
            self.process(event);
            self.check_node(touched);
        } else {
            let (at, i) = tick.expect("checked");
            if at > until {
                return false;
            }
            self.now = self.now.max(at);
            self.tick(i);
            self.check_node(i);
        }
        true
    }

    /// Checks the internal consistency ([`Node::check_invariants`]) of the
    /// node a step touched. The check is linear in the jobs the node holds,
    /// so a node with more than [`CHECKED_JOBS`] jobs is checked every
    /// `jobs / CHECKED_JOBS` steps: the work per step stays bounded, and a
    /// broken index is still caught within a few steps of the damage.
    fn check_node(&mut self, i: usize) {
        self.steps += 1;
        if let Some(node) = &self.nodes[i].node {
            let every = (node.stats().registered_jobs / CHECKED_JOBS).max(1) as u64;
            if self.steps.is_multiple_of(every) {
                node.check_invariants();
            }
        }
    }

    /// Counts an event at the current instant; panics with the last trace
    /// entries past [`STORM_EVENTS`] (a message storm).
    fn count_event(&mut self) {
        if self.events_now.0 != self.now {
            self.events_now = (self.now, 0);
        }
        self.events_now.1 += 1;
        if self.events_now.1 > STORM_EVENTS {
            let last: Vec<String> = self.trace.entries[self.trace.len().saturating_sub(10)..]
                .iter()
                .map(|e| self.trace.render_entry(e))
                .collect();
            panic!(
                "message storm: over {STORM_EVENTS} events at one instant, the last:\n{}",
                last.join("\n")
            );
        }
    }

    fn tick(&mut self, i: usize) {
        self.run_event(i, |node, env, fx| node.on_tick(env, fx));
        self.write_aof(i);
        // The server's cron fsyncs with `everysec`; with `no` the OS writes
        // back on its own, modelled as every 30 s.
        match self.cfg.fsync {
            Fsync::Always => {}
            Fsync::EverySec => self.fsync_if_due(i, 1_000),
            Fsync::No => self.fsync_if_due(i, 30_000),
        }
        let n = &mut self.nodes[i];
        n.next_tick = self.now + self.cfg.tick_ms;
        self.reschedule_tick(i);
    }

    /// Brings node `i`'s next tick forward to its next wake-up time.
    fn reschedule_tick(&mut self, i: usize) {
        let gap = self.cfg.min_tick_gap_ms.max(1);
        let now = self.now;
        let n = &mut self.nodes[i];
        if let Some(wake) = n.node.as_ref().and_then(|node| node.next_wakeup()) {
            n.next_tick = n.next_tick.min(wake.max(now + gap));
        }
    }

    fn push_event(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    fn delay(&mut self) -> u64 {
        let (lo, hi) = (self.faults.min_delay_ms, self.faults.max_delay_ms);
        if hi > lo {
            self.rng.gen_range(lo..=hi)
        } else {
            lo
        }
    }

    fn trace_fault(&mut self, text: String) {
        self.trace.push(TraceEntry {
            at: self.now,
            kind: TraceKind::Fault(text),
        });
    }

    fn trace_frame(&mut self, from: usize, to: usize, frame: &Frame, fate: Fate) {
        self.trace.push(TraceEntry {
            at: self.now,
            kind: TraceKind::Frame {
                from,
                to,
                fate,
                message: frame.message.clone(),
                sent_at: self.now,
            },
        });
    }

    // ----- effects ---------------------------------------------------------

    /// Writes node `i`'s buffered AOF records to its file, as the server's
    /// `Aof::flush`: with [`Fsync::Always`] they are fsynced before anything
    /// of the event leaves (the group commit, modelled as instant); with
    /// [`Fsync::EverySec`] an fsync starts when the last one is a second old.
    fn write_aof(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if n.unwritten.is_empty() {
            return;
        }
        n.aof.extend_from_slice(&n.unwritten);
        n.written += n.unwritten.len() as u64;
        n.unwritten.clear();
        match self.cfg.fsync {
            Fsync::Always => n.synced = n.aof.len(),
            Fsync::EverySec => self.fsync_if_due(i, 1_000),
            Fsync::No => {}
        }
    }

    /// fsyncs node `i`'s AOF file when the last fsync is `period` ms old.
    fn fsync_if_due(&mut self, i: usize, period: u64) {
        let n = &mut self.nodes[i];
        if self.now >= n.last_fsync + period {
            n.synced = n.aof.len();
            n.last_fsync = self.now;
        }
    }

    /// Executes node `i`'s effects in the server's order (`State::apply`):
    /// AOF records written (fsynced with [`Fsync::Always`]), `nodes.conf`
    /// saved, replies, then bus actions through the server's [`HeldBus`]
    /// (after the records are durable, or at once with the old ordering, see
    /// [`NetConfig::bus_after_durable`]).
    /// Runs one event on live node `i` with its environment, then applies
    /// the effects.
    fn run_event(&mut self, i: usize, event: impl FnOnce(&mut Node, &Env, &mut Effects)) {
        let env = self.env(i);
        let mut fx = Effects::default();
        event(self.node_mut(i), &env, &mut fx);
        self.apply(i, fx);
    }

    fn apply(&mut self, i: usize, fx: Effects) {
        let n = &mut self.nodes[i];
        n.unwritten.extend_from_slice(&fx.aof);
        let needs = (!fx.aof.is_empty()).then_some(n.written + n.unwritten.len() as u64);
        n.held.send_after(needs, fx.bus);
        if self.cfg.bus_after_durable || !fx.replies.is_empty() {
            self.write_aof(i);
        }
        let n = &mut self.nodes[i];
        if fx.save_cluster_config {
            if let Some(node) = &n.node {
                n.nodes_conf = Some(node.nodes_conf_text());
            }
        }
        for (client, reply) in fx.replies {
            self.nodes[i].blocked.retain(|c| *c != client);
            self.trace.push(TraceEntry {
                at: self.now,
                kind: TraceKind::Reply {
                    node: i,
                    client,
                    reply: reply.clone(),
                    deferred: true,
                },
            });
            self.replies.push_back(Deferred {
                at: self.now,
                node: i,
                client,
                reply,
            });
        }
        self.release_bus(i);
    }

    /// Sends node `i`'s held bus actions whose records are durable, in order,
    /// as the server's `State::release_bus` (written is durable here: with
    /// [`Fsync::Always`] the group commit's fsync is instant). With the old
    /// ordering they all leave at once.
    fn release_bus(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let durable = if self.cfg.bus_after_durable {
            n.written
        } else {
            u64::MAX
        };
        for action in n.held.take_ready(durable) {
            self.bus_action(i, action);
        }
    }

    fn target_of(&self, ip: &str, port: u16) -> Option<usize> {
        if port != PORT + 10_000 {
            return None;
        }
        self.nodes.iter().position(|n| n.ip == ip)
    }

    fn bus_action(&mut self, i: usize, action: BusAction) {
        let incarnation = self.nodes[i].incarnation;
        match action {
            BusAction::Connect { link, ip, port } => {
                let target = self.target_of(&ip, port);
                match target {
                    Some(to) if self.nodes[to].node.is_some() && !self.partitioned(i, to) => {
                        let conn = self.next_conn;
                        self.next_conn += 1;
                        self.conns.insert((to, conn), (i, link));
                        let to_incarnation = self.nodes[to].incarnation;
                        self.links.insert(
                            (i, link),
                            Link {
                                to,
                                to_incarnation,
                                conn,
                                up: false,
                                pending: Vec::new(),
                                last_out: 0,
                                last_back: 0,
                            },
                        );
                        let at = self.now + self.delay();
                        self.push_event(
                            at,
                            Event::LinkUp {
                                node: i,
                                incarnation,
                                link,
                            },
                        );
                    }
                    Some(to) if self.nodes[to].node.is_some() => {
                        let at = self.now + self.cfg.connect_timeout_ms;
                        self.push_event(
                            at,
                            Event::LinkDown {
                                node: i,
                                incarnation,
                                link,
                            },
                        );
                    }
                    _ => self.push_event(
                        self.now,
                        Event::LinkDown {
                            node: i,
                            incarnation,
                            link,
                        },
                    ),
                }
            }
            BusAction::Close(link) => {
                if let Some(l) = self.links.remove(&(i, link)) {
                    self.conns.remove(&(l.to, l.conn));
                }
            }
            BusAction::Send { link, frame } => {
                let frame = decode(&frame);
                let Some(l) = self.links.get_mut(&(i, link)) else {
                    // The shell drops frames for a link it does not have.
                    return self.trace_frame(i, NOBODY, &frame, Fate::Dropped("no link"));
                };
                if !l.up {
                    l.pending.push(frame);
                    return;
                }
                let (to, conn) = (l.to, l.conn);
                self.transmit(i, to, Via::Inbound(conn), (i, link), frame);
            }
            BusAction::Reply { conn, frame } => {
                let frame = decode(&frame);
                let Some(&(owner, link)) = self.conns.get(&(i, conn)) else {
                    return self.trace_frame(i, NOBODY, &frame, Fate::Dropped("connection gone"));
                };
                self.transmit(i, owner, Via::Outbound(link), (owner, link), frame);
            }
        }
    }

    /// Puts a frame on the wire, applying partitions, the filter and faults.
    fn transmit(
        &mut self,
        from: usize,
        to: usize,
        via: Via,
        link_key: (usize, LinkId),
        frame: Frame,
    ) {
        if self.partitioned(from, to) && self.cfg.partition_mode == PartitionMode::Drop {
            return self.trace_frame(from, to, &frame, Fate::Dropped("partition"));
        }
        let mut extra = 0;
        if let Some(filter) = self.filter.as_mut() {
            let info = FrameInfo {
                from,
                to,
                frame: &frame,
                now: self.now,
            };
            match filter(&info) {
                Verdict::Pass => {}
                Verdict::Drop => {
                    return self.trace_frame(from, to, &frame, Fate::Dropped("filter"));
                }
                Verdict::Delay(ms) => extra = ms,
            }
        }
        let membership = matches!(
            frame.message,
            Message::Ping(_) | Message::Pong(_) | Message::Meet(_)
        );
        if self.faults.drop > 0.0
            && !(membership && self.faults.spare_membership)
            && self.rng.gen_bool(self.faults.drop.min(1.0))
        {
            return self.trace_frame(from, to, &frame, Fate::Dropped("fault"));
        }
        let copies =
            if self.faults.duplicate > 0.0 && self.rng.gen_bool(self.faults.duplicate.min(1.0)) {
                2
            } else {
                1
            };
        let incarnation = self.nodes[to].incarnation;
        for copy in 0..copies {
            let mut at = self.now + self.delay() + extra;
            if !self.faults.reorder {
                if let Some(l) = self.links.get_mut(&link_key) {
                    let last = match via {
                        Via::Inbound(_) => &mut l.last_out,
                        Via::Outbound(_) => &mut l.last_back,
                    };
                    at = at.max(*last);
                    *last = at;
                }
            }
            self.trace_frame(
                from,
                to,
                &frame,
                if copy == 0 {
                    Fate::Sent
                } else {
                    Fate::Duplicated
                },
            );
            self.push_event(
                at,
                Event::Frame {
                    from,
                    to,
                    incarnation,
                    via,
                    frame: Box::new(frame.clone()),
                    sent_at: self.now,
                },
            );
        }
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Frame {
                from,
                to,
                incarnation,
                via,
                frame,
                sent_at,
            } => {
                if self.nodes[to].incarnation != incarnation || self.nodes[to].node.is_none() {
                    return self.trace_frame(from, to, &frame, Fate::Dropped("receiver down"));
                }
                let link_open = match via {
                    Via::Inbound(conn) => self.conns.contains_key(&(to, conn)),
                    Via::Outbound(link) => self.links.contains_key(&(to, link)),
                };
                if self.partitioned(from, to) {
                    if self.cfg.partition_mode == PartitionMode::Hold && link_open {
                        self.held.push(Event::Frame {
                            from,
                            to,
                            incarnation,
                            via,
                            frame,
                            sent_at,
                        });
                        return;
                    }
                    return self.trace_frame(from, to, &frame, Fate::Dropped("partition"));
                }
                let origin = match via {
                    Via::Inbound(conn) => Origin::Inbound {
                        conn,
                        peer_ip: self.nodes[from].ip.as_str().into(),
                        local_ip: self.nodes[to].ip.as_str().into(),
                    },
                    Via::Outbound(link) => {
                        if !self.links.contains_key(&(to, link)) {
                            return self.trace_frame(
                                from,
                                to,
                                &frame,
                                Fate::Dropped("link closed"),
                            );
                        }
                        Origin::Outbound(link)
                    }
                };
                self.trace.push(TraceEntry {
                    at: self.now,
                    kind: TraceKind::Frame {
                        from,
                        to,
                        fate: Fate::Delivered,
                        message: frame.message.clone(),
                        sent_at,
                    },
                });
                self.run_event(to, |node, env, fx| node.on_frame(env, origin, *frame, fx));
                self.reschedule_tick(to);
            }
            Event::LinkUp {
                node,
                incarnation,
                link,
            } => {
                if self.nodes[node].incarnation != incarnation {
                    return;
                }
                let Some(l) = self.links.get(&(node, link)) else {
                    return;
                };
                let (to, conn) = (l.to, l.conn);
                let target_ok = self.nodes[to].node.is_some()
                    && self.nodes[to].incarnation == l.to_incarnation
                    && !self.partitioned(node, to);
                if !target_ok {
                    self.links.remove(&(node, link));
                    self.conns.remove(&(to, conn));
                    let env = self.env(node);
                    self.node_mut(node).on_link_down(&env, link);
                    self.reschedule_tick(node);
                    return;
                }
                let l = self.links.get_mut(&(node, link)).expect("checked");
                l.up = true;
                let pending = std::mem::take(&mut l.pending);
                for frame in pending {
                    self.transmit(node, to, Via::Inbound(conn), (node, link), frame);
                }
                self.trace.push(TraceEntry {
                    at: self.now,
                    kind: TraceKind::Link { node, to, up: true },
                });
                self.run_event(node, |n, env, fx| n.on_link_up(env, link, fx));
                self.reschedule_tick(node);
            }
            Event::LinkDown {
                node,
                incarnation,
                link,
            } => {
                if self.nodes[node].incarnation != incarnation || self.nodes[node].node.is_none() {
                    return;
                }
                if let Some(l) = self.links.remove(&(node, link)) {
                    self.conns.remove(&(l.to, l.conn));
                }
                let env = self.env(node);
                self.node_mut(node).on_link_down(&env, link);
                self.reschedule_tick(node);
            }
        }
    }
}

/// Decodes one encoded frame, as the transport's reader does. The core only
/// emits valid frames, so a failure here is a core bug.
fn decode(bytes: &Bytes) -> Frame {
    let mut buf = BytesMut::from(&bytes[..]);
    match Frame::decode(&mut buf) {
        Ok(Some(frame)) if buf.is_empty() => frame,
        other => panic!("the core emitted an undecodable frame: {other:?}"),
    }
}
