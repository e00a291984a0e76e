//! The node: the parts that own the state of a Disque node, composed, and
//! the three entry points through which the world reaches it (commands,
//! ticks, and — with the cluster — bus messages). The core never reads a
//! clock or touches I/O.
//!
//! Each field of [`Node`] is changed by one module only. The parts keep
//! their fields private and their invariants behind a small API; the
//! behaviour modules (`commands/*`, `acks`, `requeue`, `replication`,
//! `federation`, `blocking`, `timers`, `memory`, ...) coordinate them through
//! those APIs. This module and the parts never import a behaviour module.
//!
//! | Field | Owner: the only module that changes it |
//! |---|---|
//! | `config` | `node` ([`Node::config_mut`]: CONFIG SET in the shell, AOF replay in `persistence`) |
//! | `myself` | `node` (`renew_id`: CLUSTER RESET HARD) |
//! | `leaving` | `node` ([`Node::set_leaving`]: CLUSTER LEAVING) |
//! | `last_ctime` | `node` (`next_ctime`: ADDJOB) |
//! | `last_cron_ms` | `node` (`cron_due`: the tick) |
//! | `rng` | nobody: every module draws from it, none replaces it |
//! | `replies` | `reply_bytes` (`ReplyBytes`: the chunk small reply payloads are copied into); the commands and `blocking` cut replies from it |
//! | `jobs` | `job_table` (`JobTable`: slots, id index, timers, eviction order) |
//! | `queues` | `queue_table` (`QueueTable`: queues by name, QSCAN index, idle-sweep cursor) |
//! | `blocked` | `blocked_clients` (`BlockedClients`: blocked clients, deadlines, ready queues) |
//! | `repl` | `repl_waiters` (`ReplWaiters`: waiting synchronous ADDJOBs, next retry) |
//! | `fed` | `federation_state` (`FederationState`: askers, push candidates, waiting queues, queues that reached zero) |
//! | `cluster` | `cluster::membership` (`Membership`: peers, links, blacklist, reachable set, counters), with its child `protocol` (MEET, gossip, failure detection); others read it through accessors |
//! | `untold_news` | `requeue` (`note_untold_news` at a dead-letter move and, from `commands::requeue`, at a NACK DELAY, from `replication` when an ADDJOB that kept no copy here ends; `tell_untold_news` when a link comes up, `forget_untold_news` when a peer is forgotten) |
//! | `rerepl` | `rereplication::state` (`Rereplication`: under-replicated jobs, rounds, sweep, announcements; fields private to it), driven through its API by `rereplication::protocol`; others call `job_acked`, `job_deleted`, `clear` |
//!
//! The records the parts hold have their own owners: every field of a
//! [`Queue`] is private to `queue` (its order of jobs, blocked list, pause
//! flags and counters change through its methods), and each queue's
//! federation counters to `federation_state`. A [`Job`]'s fields are
//! private to `job`: the behaviour modules change them, through
//! [`JobTable`] lookups, only by the methods named for each rule (`job`
//! has the table of its fields and the modules that change them), while
//! the table keeps its own indexes (ids, timers, eviction order).
//!
//! Imports go one way: `node` and the parts import no behaviour module, and
//! no module imports one that imports it back (the crate's module graph has
//! no cycle); the behaviour modules import `node` and the parts.
//!
//! [`Node::check_invariants`] checks every part and the agreements between
//! them; the simulator calls it after every step and debug builds after
//! every command, bus frame, tick and client disconnection.

use crate::blocked_clients::{Blocked, BlockedClients};
use crate::cluster::membership::Membership;
use crate::cluster::message::Message;
use crate::effects::{Effects, Env};
use crate::federation_state::FederationState;
use crate::hashing::{seeded_hasher, Map};
use crate::ids::{JobId, NodeId};
use crate::job::{
    Holders, Job, JobState, QueueName, FLAG_BCAST_WILLQUEUE, FLAG_DEAD_LETTERED, FLAG_DELIVERED,
    FLAG_NACK_DELAY,
};
use crate::job_table::{JobRef, JobTable};
use crate::queue::Queue;
use crate::queue_table::QueueTable;
use crate::repl_waiters::ReplWaiters;
use crate::reply_bytes::ReplyBytes;
use crate::requeue::UntoldList;
use crate::rereplication::Rereplication;
use bytes::Bytes;
use disque_proto::Reply;
use rand::rngs::StdRng;
use rand::Rng;
use smallvec::SmallVec;
use std::collections::{BTreeMap, HashMap};

pub(crate) use crate::job::Count;

/// What to do when memory is above 95% of maxmemory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    /// Evict acked jobs and delivered at-most-once jobs.
    Acks,
    /// Evict nothing.
    NoEviction,
}

impl MaxmemoryPolicy {
    /// The lower-case `maxmemory-policy` name.
    pub fn name(self) -> &'static str {
        match self {
            MaxmemoryPolicy::Acks => "acks",
            MaxmemoryPolicy::NoEviction => "noeviction",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<MaxmemoryPolicy> {
        [MaxmemoryPolicy::Acks, MaxmemoryPolicy::NoEviction]
            .into_iter()
            .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }
}

/// The settings the core needs (the rest of the configuration lives in the shell).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Client port, announced by HELLO.
    pub port: u16,
    /// `maxmemory` in bytes; 0 = no limit (with the quirk of docs/jobs-and-ids.md §9).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// Produce AOF records in [`Effects::aof`].
    pub aof_logging: bool,
    /// `rereplicate`: top up the copies of jobs whose holders failed, left or
    /// came back empty (decision D8); false behaves as the original.
    pub rereplicate: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            port: 7711,
            maxmemory: 1 << 30,
            maxmemory_policy: MaxmemoryPolicy::Acks,
            aof_logging: false,
            rereplicate: true,
        }
    }
}

/// Counts shown by INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStats {
    /// Job records in any state, dummy ACKs included.
    pub registered_jobs: usize,
    /// Queue objects.
    pub registered_queues: usize,
    /// Clients blocked in GETJOB or ADDJOB.
    pub blocked_clients: usize,
}

/// Debug builds: the work (in records visited) that each event earns for the
/// invariant checks, so that they cost at most this much per event however
/// large the node is (see [`Node::debug_check`]).
#[cfg(debug_assertions)]
const DEBUG_CHECK_CREDIT: usize = 4;

/// One Disque node's state machine.
pub struct Node {
    config: NodeConfig,
    myself: NodeId,
    leaving: bool,
    /// The other nodes.
    pub(crate) cluster: Membership,
    /// The node's random source (ids, jitter, shuffles): drawn from anywhere.
    pub(crate) rng: StdRng,
    /// Every job, by id, with its timers and eviction order.
    pub(crate) jobs: JobTable,
    /// Every queue, by name.
    pub(crate) queues: QueueTable,
    /// Clients blocked in GETJOB or ADDJOB.
    pub(crate) blocked: BlockedClients,
    /// Synchronous ADDJOBs waiting for copies, by job.
    pub(crate) repl: ReplWaiters,
    /// Askers, waiting queues and the queues to look at (decision D9).
    pub(crate) fed: FederationState,
    /// Jobs whose copies are being topped up (decision D8).
    pub(crate) rerepl: Rereplication,
    /// Where small reply payloads (ids, short bodies) are copied.
    pub(crate) replies: ReplyBytes,
    /// News every holder must hear (dead-letter moves, D17; NACK DELAYs,
    /// D16) sent while a holder had no link up, by holder: told when its
    /// link comes up, if still current.
    pub(crate) untold_news: BTreeMap<NodeId, UntoldList>,
    /// The last ctime assigned by ADDJOB (ctimes strictly increase).
    last_ctime: u64,
    /// When the 100 ms duties last ran.
    last_cron_ms: u64,
    /// Debug builds: the work the invariant checks may still do ([`Node::debug_check`]).
    #[cfg(debug_assertions)]
    debug_credit: std::cell::Cell<usize>,
}

impl Node {
    /// A node with the given id, settings and random source.
    pub fn new(myself: NodeId, config: NodeConfig, mut rng: StdRng) -> Node {
        let (jobs, queues, blocked, repl) = (
            JobTable::new(seeded_hasher(&mut rng)),
            QueueTable::new(seeded_hasher(&mut rng)),
            BlockedClients::new(seeded_hasher(&mut rng)),
            ReplWaiters::new(seeded_hasher(&mut rng)),
        );
        Node {
            config,
            myself,
            leaving: false,
            cluster: Membership::new(15_000),
            rng,
            jobs,
            queues,
            blocked,
            repl,
            fed: FederationState::default(),
            rerepl: Rereplication::default(),
            replies: ReplyBytes::default(),
            untold_news: BTreeMap::new(),
            last_ctime: 0,
            last_cron_ms: 0,
            #[cfg(debug_assertions)]
            debug_credit: Default::default(),
        }
    }

    /// Gives back a reply the shell has encoded and no longer needs: its
    /// arrays serve the next replies (no allocation per GETJOB).
    pub fn recycle_reply(&mut self, reply: Reply) {
        self.replies.recycle(reply);
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.myself
    }

    /// The core's settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Changes the core's settings (CONFIG SET).
    pub fn config_mut(&mut self) -> &mut NodeConfig {
        &mut self.config
    }

    /// True in leaving mode (`CLUSTER LEAVING yes`).
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Sets or clears leaving mode.
    pub fn set_leaving(&mut self, leaving: bool) {
        self.leaving = leaving;
    }

    /// Takes a new random id (CLUSTER RESET HARD).
    pub(crate) fn renew_id(&mut self) {
        self.myself = NodeId::random(&mut self.rng);
    }

    /// `ctime` for a new job (ADDJOB), raised if needed to be strictly greater
    /// than every ctime given before.
    pub(crate) fn next_ctime(&mut self, mut ctime: u64) -> u64 {
        if ctime <= self.last_ctime {
            ctime = self.last_ctime + 1;
        }
        self.last_ctime = ctime;
        ctime
    }

    /// True (and the period restarts) when the 100 ms duties are due at `now_ms`.
    pub(crate) fn cron_due(&mut self, now_ms: u64, period_ms: u64) -> bool {
        let due = now_ms >= self.last_cron_ms + period_ms;
        if due {
            self.last_cron_ms = now_ms;
        }
        due
    }

    /// Counts for INFO.
    pub fn stats(&self) -> NodeStats {
        NodeStats {
            registered_jobs: self.jobs.len(),
            registered_queues: self.queues.len(),
            blocked_clients: self.blocked.len(),
        }
    }

    /// Looks up a job.
    pub fn job(&self, id: &JobId) -> Option<&Job> {
        self.jobs.get(id)
    }

    /// Visits up to `count` jobs from `cursor` (0 = start) in JSCAN order
    /// and returns the cursor to continue from (0 when done): bounded work
    /// per call, for a caller that yields between calls (the metrics).
    pub fn visit_jobs(&self, cursor: u64, count: i64, mut visit: impl FnMut(&Job)) -> u64 {
        let limits = crate::scan::ScanLimits {
            count,
            busyloop: false,
        };
        self.jobs.scan(cursor, limits, |job| {
            visit(job);
            true
        })
    }

    /// Panics unless every part keeps its own invariants (the job table, the
    /// queue table, the blocked clients, the replication waiters, the
    /// federation state, the membership, re-replication) and the parts agree
    /// with each other: see [`Node::check_jobs_and_queues`] and
    /// [`Node::check_waiters`]. The simulator calls it after every step;
    /// debug builds call [`Node::debug_check`] after every event.
    pub fn check_invariants(&self) {
        self.check_parts();
        self.check_jobs_and_queues();
    }

    /// The end of every entry point in debug builds: [`Node::check_invariants`],
    /// paced so that a node of `n` records is checked about every
    /// `n / DEBUG_CHECK_CREDIT` events (every event while it is small): each
    /// event earns [`DEBUG_CHECK_CREDIT`] and a check spends `n`, so the
    /// checks never make a test with many jobs or events quadratic.
    #[cfg(debug_assertions)]
    pub(crate) fn debug_check(&self) {
        let credit = self.debug_credit.get() + DEBUG_CHECK_CREDIT;
        let cost = 1
            + self.jobs.len()
            + self.queues.len()
            + self.blocked.len()
            + self.repl.len()
            + self.cluster.peer_count()
            + self.rerepl.len();
        if credit >= cost {
            self.debug_credit.set(credit - cost);
            self.check_invariants();
        } else {
            self.debug_credit.set(credit);
        }
    }

    /// The invariants of each part, and those across parts that do not
    /// involve the jobs.
    fn check_parts(&self) {
        self.queues.check_invariants();
        self.blocked.check_invariants();
        let jobs = &self.jobs;
        self.repl.check_invariants(|id| jobs.waits_for_copies(id));
        self.fed.check_invariants();
        self.cluster.check_invariants();
        self.rerepl.check_invariants();
        self.check_waiters();
    }

    /// Panics unless the waiting ADDJOBs and blocked clients agree (each
    /// waiter's client is blocked on its job, each client blocked in ADDJOB
    /// has its waiter), each client listed by a queue is blocked on it, and
    /// the federation's waiting queues are those with blocked clients.
    fn check_waiters(&self) {
        let mut addjob_clients = 0;
        for client in self.blocked.clients() {
            match self.blocked.get(client) {
                Some(Blocked::AddJob { job, .. }) => {
                    addjob_clients += 1;
                    assert!(
                        self.repl.get(job).is_some_and(|w| w.client == client),
                        "client {client} blocked in ADDJOB has its waiter"
                    );
                }
                Some(Blocked::GetJob { queues, .. }) => {
                    for name in queues {
                        assert!(
                            self.queues
                                .get(name)
                                .is_some_and(|q| q.blocked().contains(&client)),
                            "client {client} is listed by queue {name:?}"
                        );
                    }
                }
                None => unreachable!("listed clients are blocked"),
            }
        }
        assert_eq!(
            addjob_clients,
            self.repl.len(),
            "one waiter per ADDJOB client"
        );
        let mut waiting = 0;
        for (name, queue) in self.queues.iter() {
            for client in queue.blocked() {
                let listed = match self.blocked.get(*client) {
                    Some(Blocked::GetJob { queues, .. }) => queues.contains(name),
                    _ => false,
                };
                assert!(listed, "client {client} listed by {name:?} blocks on it");
            }
            waiting += usize::from(!queue.blocked().is_empty());
            assert_eq!(
                self.fed.is_waiting(name),
                !queue.blocked().is_empty(),
                "queue {name:?} is waiting exactly while clients block on it"
            );
        }
        assert_eq!(waiting, self.fed.waiting_count(), "waiting queues exist");
    }

    /// Panics unless the job table's indexes and every queue's order agree
    /// with the jobs: each queue counts exactly the jobs queued in it, each
    /// queued job has a live entry in its queue, and each entry that still
    /// names a job names one of that queue, in the order of its priority;
    /// priorities are 0–9, a DEADLETTER never names the job's own queue, and
    /// only an active job waits for the end of a NACK DELAY.
    fn check_jobs_and_queues(&self) {
        self.jobs.check_invariants();
        let mut queued: Map<&[u8], usize> = HashMap::with_hasher(Default::default());
        for job in self.jobs.values() {
            assert!(job.priority() <= 9, "priority of {:?} is 0-9", job.id());
            if let Some(d) = &job.dead_letter() {
                assert!(d.max_deliveries > 0, "max-deliveries of {:?}", job.id());
                assert_ne!(
                    job.queue_bytes(),
                    Some(&d.queue),
                    "{:?} is not dead-lettered into its own queue",
                    job.id()
                );
            }
            if job.has(FLAG_NACK_DELAY) {
                assert!(
                    matches!(job.state(), JobState::Active | JobState::WaitRepl)
                        && job.qtime() != 0,
                    "a NACK DELAY of {:?} holds an unqueued job with a requeue time",
                    job.id()
                );
            }
            if job.state() == JobState::Queued {
                let name = job.queue_bytes().expect("a queued job has a queue");
                *queued.entry(name).or_default() += 1;
                assert!(
                    job.local().in_queue_order,
                    "queued job {:?} has an entry",
                    job.id()
                );
                assert!(
                    self.queues.contains(name),
                    "queued job {:?} has its queue",
                    job.id()
                );
            }
        }
        for (name, queue) in self.queues.iter() {
            let live = queued.get(&name[..]).copied().unwrap_or(0);
            assert_eq!(queue.live(), live, "queue {name:?} counts its jobs");
            let mut found = 0;
            queue.check_order(&self.jobs);
            queue.for_each_entry(|priority, entry| {
                if let Some(job) = self.jobs.resolve(entry) {
                    assert_eq!(
                        job.priority(),
                        priority,
                        "entry of {:?} in its priority's order",
                        job.id()
                    );
                    assert_eq!(
                        job.queue_bytes(),
                        Some(name),
                        "entry of {:?} in its queue",
                        job.id()
                    );
                    assert!(
                        job.local().in_queue_order,
                        "entry of {:?} is marked",
                        job.id()
                    );
                    found += usize::from(job.state() == JobState::Queued);
                }
            });
            assert!(
                found >= live,
                "queue {name:?} has an entry for each queued job"
            );
        }
    }

    /// A uniformly random jitter in [-250, +249] ms.
    pub(crate) fn jitter(&mut self) -> i64 {
        self.rng.gen_range(-250..250)
    }

    /// `base + secs*1000 + jitter`, never below 1.
    pub(crate) fn jittered(&mut self, base_ms: u64, secs: u32) -> u64 {
        let t = base_ms as i64 + secs as i64 * 1000 + self.jitter();
        t.max(1) as u64
    }

    // ----- queues -------------------------------------------------------------

    /// The name a new job of queue `name` holds: the queue's own copy, or a
    /// recent job's (no allocation either way once the queue is known).
    pub(crate) fn queue_name(&mut self, name: &[u8]) -> QueueName {
        match self.queues.get(name) {
            Some(q) => q.name().clone(),
            None => self.jobs.share_queue_name(name, QueueName::new),
        }
    }

    /// The queue named `name`, created if missing.
    pub(crate) fn queue_or_create(&mut self, name: &Bytes, now_s: u64) -> &mut Queue {
        self.queues.get_or_create(name, now_s)
    }

    /// Destroys a queue object (its jobs must already be gone).
    pub(crate) fn destroy_queue(&mut self, name: &Bytes) {
        if let Some(q) = self.queues.remove(name) {
            for entry in q.entries() {
                if let Some(job) = self.jobs.resolve_mut(entry) {
                    job.set_in_queue_order(false);
                }
            }
        }
    }

    // ----- job table and timers -----------------------------------------------

    /// The shared holder list of a copy held here: `nodes` and this node.
    pub(crate) fn holders_with_me(&mut self, mut nodes: SmallVec<[NodeId; 8]>) -> Holders {
        let me = self.id();
        if !nodes.contains(&me) {
            nodes.push(me);
        }
        self.jobs.holders(&nodes)
    }

    /// Adds a job to the table and schedules its first check. The job keeps
    /// neither a client's read buffer nor a bus frame alive: its body is its
    /// own ([`crate::job::Body`]) and its queue name is the queue's.
    pub(crate) fn register(&mut self, env: &Env, job: Job) {
        let r = self.register_unscheduled(job);
        self.reschedule_ref(env, r);
    }

    /// [`Node::register`] for a job that the caller schedules at once (by
    /// queueing it): no timer entry that would be stale right away.
    pub(crate) fn register_unscheduled(&mut self, mut job: Job) -> JobRef {
        job.clear_local();
        let (queues, jobs) = (&self.queues, &mut self.jobs);
        job.share_queue_name(|name| match queues.get(name.bytes()) {
            Some(q) => q.name().clone(),
            None => jobs.share_queue_name(&name.clone(), |_| name),
        });
        let r = self.jobs.insert(job);
        self.jobs.note_evictable_ref(r);
        r
    }

    /// Recomputes a job's awake time (docs/jobs-and-ids.md §5.1) and moves it in the timer set.
    pub(crate) fn reschedule(&mut self, env: &Env, id: &JobId) {
        if let Some(r) = self.jobs.job_ref(id) {
            self.reschedule_ref(env, r);
        }
    }

    /// [`Node::reschedule`] for the job a handle names.
    fn reschedule_ref(&mut self, env: &Env, r: JobRef) {
        let gc_delay = {
            let Some(job) = self.jobs.resolve(r) else {
                return;
            };
            (job.state() == JobState::Acked)
                .then(|| (1000u64 << job.gc_retry().min(8)).min(180_000))
        };
        let gc_at = gc_delay.map(|d| self.jittered(env.now_ms + d, 0));
        let job = self.jobs.resolve(r).expect("resolved above");
        let mut awake = job.etime().saturating_mul(1000).saturating_add(1000);
        if let Some(gc_at) = gc_at {
            awake = awake.min(gc_at);
        } else if job.state().is_held() && job.qtime() != 0 {
            let lead = if job.has(FLAG_BCAST_WILLQUEUE) {
                500
            } else {
                0
            };
            awake = awake.min(job.qtime().saturating_sub(lead));
        }
        self.jobs.set_awake(r, awake);
    }

    /// Deletes a job for any reason (docs/jobs-and-ids.md §10).
    pub(crate) fn unregister(&mut self, id: &JobId, fx: &mut Effects) {
        if let Some(wait) = self.repl.remove(id) {
            // A synchronous ADDJOB loses its job: tell the client and the holders.
            let message = self.del_job(id);
            self.send_to_holders(id, message, fx);
            self.unblock_waiting_addjob(wait.client, fx);
        }
        let Some(job) = self.jobs.remove(id) else {
            return;
        };
        self.rerepl.job_deleted(id);
        if job.state().is_held() {
            self.log_deljob(id, fx);
        }
        if job.state() == JobState::Queued {
            if let Some(name) = &job.queue() {
                self.queue_lost_one(name);
            }
        }
    }

    /// A queued job of queue `name` was dequeued or deleted: one less queued,
    /// and the dead entries are dropped once they outnumber the live ones.
    fn queue_lost_one(&mut self, name: &Bytes) {
        let (queues, jobs) = (&mut self.queues, &mut self.jobs);
        if let Some(q) = queues.get_mut(name) {
            q.remove();
            q.compact(jobs);
        }
    }

    /// Sends `msg` to every holder of the job except this node.
    pub(crate) fn send_to_holders(&mut self, id: &JobId, msg: Message, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id) else { return };
        let holders: Vec<NodeId> = job
            .nodes_delivered()
            .iter()
            .filter(|n| **n != self.myself)
            .copied()
            .collect();
        self.send_many(&holders, msg, fx);
    }

    // ----- queue operations on jobs (docs/jobs-and-ids.md §6) ---------------------

    /// Puts a job into its queue. False (no effect) if already queued, never to be
    /// queued again (qtime 0), or an at-most-once job already delivered.
    pub(crate) fn enqueue(&mut self, env: &Env, id: &JobId, nack: bool, fx: &mut Effects) -> bool {
        let count = if nack { Count::Nack } else { Count::Delivery };
        self.enqueue_as(env, id, count, fx)
    }

    /// True when [`Node::enqueue`] would queue the job.
    pub(crate) fn can_enqueue(&self, id: &JobId) -> bool {
        self.jobs.get(id).is_some_and(Self::may_enter_queue)
    }

    /// The rule of [`Node::can_enqueue`] for a job at hand.
    fn may_enter_queue(job: &Job) -> bool {
        job.state() != JobState::Queued
            && job.qtime() != 0
            && !(job.retry() == 0 && job.has(FLAG_DELIVERED))
            && job.queue().is_some()
    }

    /// [`Node::enqueue`] counting the queueing as `count`. The QUEUED sent to
    /// the other holders says so when the job moved to its dead-letter queue
    /// ([`FLAG_DEAD_LETTERED`], D17).
    pub(crate) fn enqueue_as(
        &mut self,
        env: &Env,
        id: &JobId,
        count: Count,
        fx: &mut Effects,
    ) -> bool {
        self.jobs
            .job_ref(id)
            .is_some_and(|entry| self.enqueue_entry(env, entry, count, fx))
    }

    /// [`Node::enqueue_as`] for the job a handle names (the id is looked up
    /// once, by the caller).
    pub(crate) fn enqueue_entry(
        &mut self,
        env: &Env,
        entry: JobRef,
        count: Count,
        fx: &mut Effects,
    ) -> bool {
        if !self.jobs.resolve(entry).is_some_and(Self::may_enter_queue) {
            return false;
        }
        let jitter = self.jitter();
        let job = self.jobs.resolve_mut(entry).expect("checked");
        let id = job.id();
        let nack = count == Count::Nack;
        let broadcast = job.enter_queue(env.now_ms, jitter, count);
        let (ctime, priority) = (job.ctime(), job.priority());
        let name = job.queue_bytes().cloned().expect("checked above");
        let has_entry = job.set_in_queue_order(true);
        let dead_lettered = job.has(FLAG_DEAD_LETTERED);
        if broadcast {
            self.send_to_holders(
                &id,
                Message::Queued {
                    id,
                    nack,
                    count: count != Count::Counted,
                    dead_letter: dead_lettered,
                },
                fx,
            );
        }
        self.reschedule_ref(env, entry);
        let queue = self.queue_or_create(&name, env.now_s());
        queue.push(ctime, priority, entry, has_entry);
        queue.note_enqueue(env.now_s());
        if !queue.pause().output && !queue.blocked().is_empty() {
            self.blocked.mark_ready(name);
        } else if self.fed.has_askers(&name) {
            self.fed.note_push_candidate(name);
        }
        true
    }

    /// Takes a queued job out of its queue without delivering it (DEQUEUE, WORKING, QUEUED).
    pub(crate) fn dequeue(&mut self, id: &JobId) -> bool {
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        if !job.leave_queue() {
            return false;
        }
        if let Some(name) = job.queue_bytes().cloned() {
            self.queue_lost_one(&name);
        }
        true
    }

    /// Pops the oldest job of a queue for delivery (GETJOB, blocked clients).
    pub(crate) fn fetch(&mut self, env: &Env, name: &Bytes) -> Option<JobId> {
        self.fetch_entry(env, name).map(|(_, id)| id)
    }

    /// [`Node::fetch`], with the job's handle (for a reply built without
    /// looking the id up again).
    pub(crate) fn fetch_entry(&mut self, env: &Env, name: &Bytes) -> Option<(JobRef, JobId)> {
        let queue = self.queues.get_mut(name)?;
        if queue.pause().output {
            return None;
        }
        let jobs = &mut self.jobs;
        let (entry, id) = queue.pop_oldest(jobs)?;
        queue.note_fetch(env.now_s());
        if let Some(job) = self.jobs.resolve_mut(entry) {
            job.mark_delivered();
        }
        self.jobs.note_evictable_ref(entry);
        let emptied = self
            .queues
            .get(name)
            .is_some_and(|q| q.is_empty() && q.federation().import_rate(env.now_ms) > 0);
        if emptied {
            self.fed.note_reached_zero(name.clone());
        }
        Some((entry, id))
    }

    /// Acknowledges a job (ACKJOB, SETACK): out of its queue, state `acked`, logged.
    pub(crate) fn acknowledge(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        self.dequeue(id);
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state() == JobState::Acked {
            return;
        }
        let was_logged = job.state() == JobState::Active;
        job.mark_acked();
        if was_logged {
            self.log_deljob(id, fx);
        }
        self.rerepl.job_acked(id);
        self.jobs.note_evictable(id);
        self.reschedule(env, id);
    }

    // ----- AOF records ---------------------------------------------------------

    /// Appends `LOADJOB <storage form>` for a job this node now keeps.
    pub(crate) fn log_loadjob(&self, id: &JobId, fx: &mut Effects) {
        if !self.config.aof_logging {
            return;
        }
        if let Some(job) = self.jobs.get(id) {
            let mut payload = bytes::BytesMut::new();
            crate::job_codec::encode(job, crate::job_codec::Form::Storage, 0, &mut payload);
            disque_proto::encode_request(&[&b"LOADJOB"[..], &payload], &mut fx.aof);
        }
    }

    /// Appends `DELJOB <id>`.
    pub(crate) fn log_deljob(&self, id: &JobId, fx: &mut Effects) {
        if self.config.aof_logging {
            disque_proto::encode_request(&[&b"DELJOB"[..], id.as_bytes()], &mut fx.aof);
        }
    }
}

/// A node with id `aaa…`, default configuration and a seeded generator, and
/// an environment at a fixed time, for unit tests.
#[cfg(test)]
pub(crate) fn test_node() -> (Node, Env) {
    use rand::SeedableRng;
    let node = Node::new(
        NodeId([b'a'; 40]),
        crate::NodeConfig::default(),
        StdRng::seed_from_u64(1),
    );
    let env = Env {
        now_ms: 1_700_000_000_000,
        used_memory: 0,
    };
    (node, env)
}
