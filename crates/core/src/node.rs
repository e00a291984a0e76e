//! The node: owner of every job, queue and blocked client, and the three entry
//! points through which the world reaches it (commands, ticks, and — with the
//! cluster — bus messages). The core never reads a clock or touches I/O.

use crate::blocking::Blocked;
use crate::cluster::membership::Membership;
use crate::cluster::message::Message;
use crate::effects::{ClientId, Effects, Env};
use crate::ids::{JobId, NodeId};
use crate::job::{
    Job, JobState, FLAG_BCAST_QUEUED, FLAG_BCAST_WILLQUEUE, FLAG_DELIVERED, FLAG_NACK_DELAY,
};
use crate::job_table::JobRef;
use crate::queue::{queue_scan_key, Queue};
use crate::scan::ScanIndex;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How a queueing counts in the job's delivery counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    /// A NACK: `nacks` + 1, told to the holders even on a first queueing.
    Nack,
    /// Any other requeue: `additional-deliveries` + 1 (not a first queueing).
    Delivery,
    /// Already counted when it was asked for (the end of a NACK DELAY).
    Counted,
}

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

/// The hash maps of the node: keyed with secrets drawn from the node's RNG, so
/// iteration order is reproducible for a seed (simulation) while clients cannot
/// predict collisions.
pub(crate) type Map<K, V> = HashMap<K, V, ahash::RandomState>;

fn seeded_hasher(rng: &mut StdRng) -> ahash::RandomState {
    ahash::RandomState::with_seeds(rng.gen(), rng.gen(), rng.gen(), rng.gen())
}

fn seeded_map<K, V>(rng: &mut StdRng) -> Map<K, V> {
    HashMap::with_hasher(seeded_hasher(rng))
}

/// One Disque node's state machine.
pub struct Node {
    pub(crate) config: NodeConfig,
    pub(crate) myself: NodeId,
    pub(crate) leaving: bool,
    /// The other nodes.
    pub(crate) cluster: Membership,
    pub(crate) rng: StdRng,
    /// Every job, by id.
    pub(crate) jobs: crate::job_table::JobTable,
    pub(crate) queues: Map<Bytes, Queue>,
    pub(crate) queue_index: ScanIndex<Bytes>,
    pub(crate) blocked: Map<ClientId, Blocked>,
    /// Blocked clients with a timeout, by `(deadline, client)`.
    pub(crate) client_deadlines: BTreeSet<(u64, ClientId)>,
    /// Queues that received jobs while clients were blocked on them.
    pub(crate) ready_queues: Vec<Bytes>,
    /// The last ctime assigned by ADDJOB (ctimes strictly increase).
    pub(crate) last_ctime: u64,
    /// Where the next idle-queue sweep resumes.
    pub(crate) queue_sweep_cursor: u64,
    /// When the 100 ms duties last ran.
    pub(crate) last_cron_ms: u64,
    /// Synchronous ADDJOBs waiting for copies, by job.
    pub(crate) repl_waiters: Map<JobId, crate::replication::ReplWait>,
    /// When the next of their retries is due (see `next_replication_retry`).
    pub(crate) repl_retry_at: Option<u64>,
    /// Who asked for jobs of a queue, and when (decision D9).
    pub(crate) askers: BTreeMap<Bytes, BTreeMap<NodeId, u64>>,
    /// Queues that received jobs since the last push check (decision D9).
    pub(crate) push_candidates: Vec<Bytes>,
    /// Queues with clients blocked on them (federation asks for these).
    pub(crate) waiting_queues: BTreeSet<Bytes>,
    /// Queues a fetch emptied while they import jobs (immediate NEEDJOBS).
    pub(crate) reached_zero: Vec<Bytes>,
    /// Jobs whose copies are being topped up (decision D8).
    pub(crate) rerepl: crate::rereplication::Rereplication,
}

impl Node {
    /// A node with the given id, settings and random source.
    pub fn new(myself: NodeId, config: NodeConfig, mut rng: StdRng) -> Node {
        let (jobs, queues, blocked, repl_waiters) = (
            crate::job_table::JobTable::new(seeded_hasher(&mut rng)),
            seeded_map(&mut rng),
            seeded_map(&mut rng),
            seeded_map(&mut rng),
        );
        Node {
            config,
            myself,
            leaving: false,
            cluster: Membership::new(15_000),
            rng,
            jobs,
            queues,
            queue_index: ScanIndex::new(Bytes::new()),
            blocked,
            client_deadlines: BTreeSet::new(),
            ready_queues: Vec::new(),
            last_ctime: 0,
            queue_sweep_cursor: 0,
            last_cron_ms: 0,
            repl_waiters,
            repl_retry_at: None,
            askers: BTreeMap::new(),
            push_candidates: Vec::new(),
            reached_zero: Vec::new(),
            waiting_queues: BTreeSet::new(),
            rerepl: Default::default(),
        }
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

    /// Panics unless the job table's indexes and every queue's order agree
    /// with the jobs: each queue counts exactly the jobs queued in it, each
    /// queued job has a live entry in its queue, and each entry that still
    /// names a job names one of that queue, in the order of its priority;
    /// priorities are 0–9, a DEADLETTER never names the job's own queue, and
    /// only an active job waits for the end of a NACK DELAY. The simulator
    /// calls it after every step.
    pub fn check_invariants(&self) {
        self.jobs.check_invariants();
        let mut queued: Map<&[u8], usize> = HashMap::with_hasher(Default::default());
        for job in self.jobs.values() {
            assert!(job.priority <= 9, "priority of {:?} is 0-9", job.id);
            if let Some(d) = &job.dead_letter {
                assert!(d.max_deliveries > 0, "max-deliveries of {:?}", job.id);
                assert_ne!(
                    job.queue.as_ref(),
                    Some(&d.queue),
                    "{:?} is not dead-lettered into its own queue",
                    job.id
                );
            }
            if job.has(FLAG_NACK_DELAY) {
                assert!(
                    job.state == JobState::Active && job.qtime != 0,
                    "a NACK DELAY of {:?} holds an active job with a requeue time",
                    job.id
                );
            }
            if job.state == JobState::Queued {
                let name = job.queue.as_deref().expect("a queued job has a queue");
                *queued.entry(name).or_default() += 1;
                assert!(
                    job.local.in_queue_order,
                    "queued job {:?} has an entry",
                    job.id
                );
                assert!(
                    self.queues.contains_key(name),
                    "queued job {:?} has its queue",
                    job.id
                );
            }
        }
        for (name, queue) in &self.queues {
            let live = queued.get(&name[..]).copied().unwrap_or(0);
            assert_eq!(queue.live(), live, "queue {name:?} counts its jobs");
            let mut found = 0;
            queue.for_each_entry(|priority, ctime, entry| {
                if let Some(job) = self.jobs.resolve(entry) {
                    assert_eq!(
                        job.priority, priority,
                        "entry of {:?} in its priority's order",
                        job.id
                    );
                    assert_eq!(
                        job.queue.as_ref(),
                        Some(name),
                        "entry of {:?} in its queue",
                        job.id
                    );
                    assert_eq!(job.ctime, ctime, "entry of {:?} keyed by its ctime", job.id);
                    assert!(job.local.in_queue_order, "entry of {:?} is marked", job.id);
                    found += usize::from(job.state == JobState::Queued);
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

    /// The queue named `name`, created if missing.
    pub(crate) fn queue_or_create(&mut self, name: &Bytes, now_s: u64) -> &mut Queue {
        if !self.queues.contains_key(name) {
            self.queue_index.insert(queue_scan_key(name), name.clone());
            self.queues
                .insert(name.clone(), Queue::new(name.clone(), now_s));
        }
        self.queues.get_mut(name).expect("queue just ensured")
    }

    /// Destroys a queue object (its jobs must already be gone).
    pub(crate) fn destroy_queue(&mut self, name: &Bytes) {
        if let Some(q) = self.queues.remove(name) {
            self.queue_index.remove(queue_scan_key(name), name);
            for entry in q.entries() {
                if let Some(job) = self.jobs.resolve_mut(entry) {
                    job.local.in_queue_order = false;
                }
            }
        }
    }

    // ----- job table and timers -----------------------------------------------

    /// Adds a job to the table and schedules its first check. The job keeps
    /// neither a client's read buffer nor a bus frame alive: its body is its
    /// own ([`crate::job::Body`]) and its queue name is the queue's.
    pub(crate) fn register(&mut self, env: &Env, mut job: Job) {
        job.local = Default::default();
        if let Some(name) = &job.queue {
            job.queue = Some(match self.queues.get(name) {
                Some(q) => q.name.clone(),
                None => self.jobs.share_queue_name(name),
            });
        }
        let r = self.jobs.insert(job);
        self.jobs.note_evictable_ref(r);
        self.reschedule_ref(env, r);
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
            (job.state == JobState::Acked).then(|| (1000u64 << job.gc_retry.min(8)).min(180_000))
        };
        let gc_at = gc_delay.map(|d| self.jittered(env.now_ms + d, 0));
        let job = self.jobs.resolve(r).expect("resolved above");
        let mut awake = job.etime.saturating_mul(1000).saturating_add(1000);
        if let Some(gc_at) = gc_at {
            awake = awake.min(gc_at);
        } else if matches!(job.state, JobState::Active | JobState::Queued) && job.qtime != 0 {
            let lead = if job.has(FLAG_BCAST_WILLQUEUE) {
                500
            } else {
                0
            };
            awake = awake.min(job.qtime.saturating_sub(lead));
        }
        self.jobs.set_awake(r, awake);
    }

    /// Deletes a job for any reason (docs/jobs-and-ids.md §10).
    pub(crate) fn unregister(&mut self, id: &JobId, fx: &mut Effects) {
        if let Some(wait) = self.repl_waiters.remove(id) {
            // A synchronous ADDJOB loses its job: tell the client and the holders.
            let message = self.del_job(id);
            self.send_to_holders(id, message, fx);
            self.unblock_waiting_addjob(wait.client, fx);
        }
        let Some(job) = self.jobs.remove(id) else {
            return;
        };
        self.rerepl.job_deleted(id);
        if matches!(job.state, JobState::Active | JobState::Queued) {
            self.log_deljob(id, fx);
        }
        if job.state == JobState::Queued {
            if let Some(name) = &job.queue {
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
            q.compact(|entry| jobs.take_queued_id(entry));
        }
    }

    /// Sends `msg` to every holder of the job except this node.
    pub(crate) fn send_to_holders(&mut self, id: &JobId, msg: Message, fx: &mut Effects) {
        let Some(job) = self.jobs.get(id) else { return };
        let holders: Vec<NodeId> = job
            .nodes_delivered
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
        self.enqueue_as(env, id, count, false, fx)
    }

    /// True when [`Node::enqueue`] would queue the job.
    pub(crate) fn can_enqueue(&self, id: &JobId) -> bool {
        self.jobs.get(id).is_some_and(|job| {
            job.state != JobState::Queued
                && job.qtime != 0
                && !(job.retry == 0 && job.has(FLAG_DELIVERED))
                && job.queue.is_some()
        })
    }

    /// [`Node::enqueue`] counting the queueing as `count`; `dead_lettered`
    /// marks the QUEUED sent to the other holders as a dead-letter move (D17).
    pub(crate) fn enqueue_as(
        &mut self,
        env: &Env,
        id: &JobId,
        count: Count,
        dead_lettered: bool,
        fx: &mut Effects,
    ) -> bool {
        if !self.can_enqueue(id) {
            return false;
        }
        let jitter = self.jitter();
        let job = self.jobs.get_mut(id).expect("checked");
        job.state = JobState::Queued;
        job.flags &= !FLAG_NACK_DELAY;
        if job.retry > 0 {
            job.flags |= FLAG_BCAST_WILLQUEUE;
            job.qtime = (env.now_ms as i64 + job.retry as i64 * 1000 + jitter).max(1) as u64;
        } else {
            job.qtime = 0;
        }
        let nack = count == Count::Nack;
        let broadcast = job.has(FLAG_BCAST_QUEUED) || nack;
        if broadcast {
            match count {
                Count::Nack => job.nacks = job.nacks.wrapping_add(1),
                Count::Delivery => {
                    job.additional_deliveries = job.additional_deliveries.wrapping_add(1)
                }
                Count::Counted => {}
            }
        } else {
            job.flags |= FLAG_BCAST_QUEUED;
        }
        let (ctime, priority) = (job.ctime, job.priority);
        let name = job.queue.clone().expect("checked above");
        let has_entry = std::mem::replace(&mut job.local.in_queue_order, true);
        if broadcast || dead_lettered {
            self.send_to_holders(
                id,
                Message::Queued {
                    id: *id,
                    nack,
                    count: count != Count::Counted,
                    dead_letter: dead_lettered,
                },
                fx,
            );
        }
        self.reschedule(env, id);
        let entry = self.jobs.job_ref(id).expect("present");
        let queue = self.queue_or_create(&name, env.now_s());
        queue.push(ctime, priority, entry, has_entry);
        queue.atime = env.now_s();
        queue.jobs_in += 1;
        if !queue.pause.output && !queue.blocked.is_empty() {
            self.ready_queues.push(name);
        } else if self.askers.contains_key(&name) {
            self.push_candidates.push(name);
        }
        true
    }

    /// Takes a queued job out of its queue without delivering it (DEQUEUE, WORKING, QUEUED).
    pub(crate) fn dequeue(&mut self, id: &JobId) -> bool {
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        if job.state != JobState::Queued {
            return false;
        }
        job.state = JobState::Active;
        if let Some(name) = job.queue.clone() {
            self.queue_lost_one(&name);
        }
        true
    }

    /// Pops the oldest job of a queue for delivery (GETJOB, blocked clients).
    pub(crate) fn fetch(&mut self, env: &Env, name: &Bytes) -> Option<JobId> {
        let queue = self.queues.get_mut(name)?;
        if queue.pause.output {
            return None;
        }
        let jobs = &mut self.jobs;
        let (entry, id) = queue.pop_oldest(|entry| jobs.take_queued_id(entry))?;
        queue.atime = env.now_s();
        queue.jobs_out += 1;
        if let Some(job) = self.jobs.resolve_mut(entry) {
            job.state = JobState::Active;
            job.flags |= FLAG_DELIVERED;
            job.local.in_queue_order = false;
        }
        self.jobs.note_evictable_ref(entry);
        let emptied = self
            .queues
            .get(name)
            .is_some_and(|q| q.is_empty() && q.federation.import_rate(env.now_ms) > 0);
        if emptied {
            self.reached_zero.push(name.clone());
        }
        Some(id)
    }

    /// Acknowledges a job (ACKJOB, SETACK): out of its queue, state `acked`, logged.
    pub(crate) fn acknowledge(&mut self, env: &Env, id: &JobId, fx: &mut Effects) {
        self.dequeue(id);
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if job.state == JobState::Acked {
            return;
        }
        let was_logged = job.state == JobState::Active;
        job.state = JobState::Acked;
        job.flags &= !FLAG_NACK_DELAY;
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
