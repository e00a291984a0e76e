//! The job record a node keeps (docs/jobs-and-ids.md §2–§4).
//!
//! A [`Job`]'s fields are private. Everyone reads them through accessors of
//! the same names; they change only through the methods below, each named
//! for the rule it carries out, and each called from the modules the table
//! lists (a job is made by [`Job::new`]: ADDJOB in `commands::addjob`, a
//! decoded copy in [`crate::job_codec`]; a dummy ACK by [`Job::dummy_ack`]
//! in `commands::ack`).
//!
//! | Field | Changed by | From |
//! |---|---|---|
//! | `id`, `repl`, `etime`, `ctime`, `delay`, `retry`, `priority`, `body` | nothing: fixed at creation | |
//! | `state` | `wait_for_copies`, `copies_achieved`, `end_wait_for_copies` (replication); `become_copy` (a received or restored copy); `enter_queue`, `leave_queue`, `mark_delivered`, `mark_acked` (queueing) | `replication`; `replication`, `federation`, `persistence`; `node` |
//! | `gc_retry` | `count_gc_attempt` | `acks` |
//! | `flags` | `enter_queue`, `mark_delivered`, `mark_acked` | `node` |
//! | | `start_as_replica`, `next_queueing_is_first` | `replication`, `federation` |
//! | | `schedule_requeue`, `announce_requeue`, `willqueue_sent`, `postpone_requeue`, `delay_for_nack`, `honour_nack_delay` (the WILLQUEUE and NACK DELAY bits, with `qtime`) | `replication`, `persistence`, `timers`, `requeue`, `commands::requeue` |
//! | | `mark_rereplicated` | `replication`, `federation`, `rereplication::protocol` |
//! | | `move_to_dead_letter` (D17) | `requeue` |
//! | `nacks`, `additional_deliveries` | `enter_queue`; `count_nack`, `count_delivery` | `node`; `requeue`, `commands::requeue` |
//! | `queue` | `share_queue_name` (registering); `move_to_dead_letter` (D17) | `node`; `requeue` |
//! | `nodes_delivered` | `become_copy`, `add_delivered`, `drop_holder` (EMPTIED); `share_holders` | `replication`, `federation`, `persistence`, `requeue`, `acks`, `rereplication::protocol`; `job_table` |
//! | `nodes_confirmed` | `wait_for_copies`, `copies_achieved`, `confirm` (GOTJOB); `start_ack_collection`, `confirm` (GOTACK, SETACK); `restart_ack_collection` (ACKJOB of a dummy ACK) | `replication`; `acks`; `commands::ack` |
//! | `dead_letter` | `move_to_dead_letter` | `requeue` |
//! | `qtime` | `enter_queue`; `schedule_queueing`, `schedule_requeue`, `postpone_requeue`, `delay_for_nack`, `honour_nack_delay` | `node`; as the `flags` row above, and `federation` |
//! | `local` | `clear_local`, `mark_delivered`, `set_in_queue_order` (queue order marks); `set_slot_gen`, `set_awake`, `set_in_evictable`, `set_in_queue_order` (table indexes) | `node`, `requeue`; `job_table` |

use crate::ids::{JobId, NodeId};
use bytes::Bytes;
use std::sync::Arc;

/// Where a job is in its life on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for synchronous replication (the ADDJOB client is blocked).
    WaitRepl,
    /// Held, not queued.
    Active,
    /// In this node's queue, ready for GETJOB.
    Queued,
    /// Acknowledged; only garbage collection is left.
    Acked,
}

impl JobState {
    /// Active or queued: a copy held for delivery (not replicating yet, not
    /// acknowledged).
    pub fn is_held(self) -> bool {
        matches!(self, JobState::Active | JobState::Queued)
    }

    /// The name used in replies (`wait-repl`, `active`, `queued`, `acked`).
    pub fn name(self) -> &'static str {
        match self {
            JobState::WaitRepl => "wait-repl",
            JobState::Active => "active",
            JobState::Queued => "queued",
            JobState::Acked => "acked",
        }
    }

    /// Parses a state name case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<JobState> {
        [
            JobState::WaitRepl,
            JobState::Active,
            JobState::Queued,
            JobState::Acked,
        ]
        .into_iter()
        .find(|s| s.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// The numeric code used in the serialized form.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The state for a serialized code.
    pub fn from_code(code: u8) -> Option<JobState> {
        match code {
            0 => Some(JobState::WaitRepl),
            1 => Some(JobState::Active),
            2 => Some(JobState::Queued),
            3 => Some(JobState::Acked),
            _ => None,
        }
    }
}

/// Enqueueing sends QUEUED to the other holders (set after the first enqueue).
pub const FLAG_BCAST_QUEUED: u8 = 1;
/// Wake 500 ms before the requeue time to send WILLQUEUE.
pub const FLAG_BCAST_WILLQUEUE: u8 = 2;
/// Fetched at least once from a queue on this node.
pub const FLAG_DELIVERED: u8 = 4;
/// The holder list changed after the job was created (re-replication, a
/// holder that came back empty: decision D8), so holders may not all know each
/// other: acknowledging it asks every node, as for an incomplete list. Travels
/// with the job (bus and AOF); the original never sets it.
pub const FLAG_REREPLICATED: u8 = 8;
/// `qtime` is a NACK DELAY deadline (decision D16): no requeue before it, and
/// WORKING does not bring it closer. Travels in the serialization's extension
/// section, never in the header's flags byte.
pub const FLAG_NACK_DELAY: u8 = 16;
/// The job moved to its dead-letter queue on this node (decision D17), by
/// its own requeue or on a holder's word: every QUEUED this node sends about
/// it says so (the answer to WILLQUEUE included), and a QUEUED without the
/// bit, from a holder that missed the move, is answered with one. Travels
/// with the job (bus and AOF) in the header's flags byte.
pub const FLAG_DEAD_LETTERED: u8 = 32;

/// The default priority (decision D18): jobs added without PRIORITY.
pub const DEFAULT_PRIORITY: u8 = 5;

/// Where a poison job goes (decision D17): boxed in the job, so jobs without
/// DEADLETTER pay one pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter queue.
    pub queue: Bytes,
    /// Deliveries without an ack after which a requeue goes there instead.
    pub max_deliveries: u32,
}

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

/// What a job is made of when it is created (ADDJOB) or read back (a bus
/// message, an AOF record): everything but this node's own bookkeeping
/// (GC attempts, confirmations, index marks), which [`Job::new`] starts
/// empty.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The 40-byte id.
    pub id: JobId,
    /// Current state.
    pub state: JobState,
    /// `FLAG_*` bits.
    pub flags: u8,
    /// Requested replication factor.
    pub repl: u16,
    /// Absolute expire time, Unix seconds.
    pub etime: u64,
    /// Creation time: ms × 1 000 000 plus a tie counter, from the creating node.
    pub ctime: u64,
    /// DELAY in seconds.
    pub delay: u32,
    /// RETRY in seconds; 0 = at-most-once.
    pub retry: u32,
    /// Priority 0–9 (decision D18).
    pub priority: u8,
    /// NACKs seen so far.
    pub nacks: u16,
    /// Re-queues other than NACK seen so far.
    pub additional_deliveries: u16,
    /// Queue name (None for dummy ACKs).
    pub queue: Option<QueueName>,
    /// Body (None for dummy ACKs).
    pub body: Option<Body>,
    /// Nodes that may hold a copy; empty marks a dummy ACK.
    pub nodes_delivered: Holders,
    /// DEADLETTER of the job (decision D17).
    pub dead_letter: Option<Box<DeadLetter>>,
    /// Absolute ms time of the next (re)queue attempt; 0 = never.
    pub qtime: u64,
}

/// One job as this node holds it. Its fields are private: they are read
/// through the accessors of the same names and changed only through the
/// methods named for the rule they carry out (see the module's table).
#[derive(Clone, Debug)]
pub struct Job {
    /// The 40-byte id.
    id: JobId,
    /// Current state.
    state: JobState,
    /// Garbage-collection attempts so far, saturating at 10.
    gc_retry: u8,
    /// `FLAG_*` bits.
    flags: u8,
    /// Requested replication factor.
    repl: u16,
    /// Absolute expire time, Unix seconds.
    etime: u64,
    /// Creation time: ms × 1 000 000 plus a tie counter, from the creating node.
    ctime: u64,
    /// DELAY in seconds.
    delay: u32,
    /// RETRY in seconds; 0 = at-most-once.
    retry: u32,
    /// Priority 0–9, higher delivered first (decision D18; default 5).
    priority: u8,
    /// NACKs seen by this node.
    nacks: u16,
    /// Re-queues other than NACK seen by this node.
    additional_deliveries: u16,
    /// Queue name (None for dummy ACKs).
    queue: Option<QueueName>,
    /// Body (None for dummy ACKs).
    body: Option<Body>,
    /// Nodes that may hold a copy; empty marks a dummy ACK.
    nodes_delivered: Holders,
    /// GOTJOB confirmations while replicating, GOTACK confirmations while
    /// collecting (boxed: most jobs never have any, and pay one pointer).
    #[allow(clippy::box_collection)]
    nodes_confirmed: Option<Box<Vec<NodeId>>>,
    /// DEADLETTER of the job, while it has not been moved (decision D17).
    dead_letter: Option<Box<DeadLetter>>,
    /// Absolute ms time of the next (re)queue attempt; 0 = never queue again.
    /// With [`FLAG_NACK_DELAY`] it is the end of a NACK DELAY.
    qtime: u64,
    /// This node's bookkeeping of the job in its indexes; never serialized.
    local: JobLocal,
}

/// What a node notes about a job in its own indexes (the job table and the
/// queue order); starts empty and never travels. Packed (13 bytes, read and
/// written by value) so that it fills the record's padding.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed)]
pub struct JobLocal {
    /// Absolute ms time of the next scheduled check (its key in the timer
    /// heap); 0 while none is scheduled.
    pub awake: u64,
    /// The generation of the job table slot holding the job (see
    /// `JobRef`); set by the table.
    pub gen: u32,
    /// The job has an entry in its queue's order (live, or left by an earlier
    /// queueing).
    pub in_queue_order: bool,
    /// The job is listed among the evictable jobs.
    pub in_evictable: bool,
}

impl Job {
    /// A job made of `spec`, with no GC attempt, no confirmation and empty
    /// index marks.
    pub fn new(spec: JobSpec) -> Job {
        Job {
            id: spec.id,
            state: spec.state,
            gc_retry: 0,
            flags: spec.flags,
            repl: spec.repl,
            etime: spec.etime,
            ctime: spec.ctime,
            delay: spec.delay,
            retry: spec.retry,
            priority: spec.priority,
            nacks: spec.nacks,
            additional_deliveries: spec.additional_deliveries,
            queue: spec.queue,
            body: spec.body,
            nodes_delivered: spec.nodes_delivered,
            nodes_confirmed: None,
            dead_letter: spec.dead_letter,
            qtime: spec.qtime,
            local: JobLocal::default(),
        }
    }

    /// A dummy ACK: an acknowledged id without queue, body or holders,
    /// expiring at `etime` (Unix seconds).
    pub fn dummy_ack(id: JobId, etime: u64) -> Job {
        Job::new(JobSpec {
            id,
            state: JobState::Acked,
            flags: 0,
            repl: 0,
            etime,
            ctime: 0,
            delay: 0,
            retry: 0,
            priority: DEFAULT_PRIORITY,
            nacks: 0,
            additional_deliveries: 0,
            queue: None,
            body: None,
            nodes_delivered: Holders::default(),
            dead_letter: None,
            qtime: 0,
        })
    }

    // ----- reading ---------------------------------------------------------------

    /// The 40-byte id.
    #[inline]
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Current state.
    #[inline]
    pub fn state(&self) -> JobState {
        self.state
    }

    /// Garbage-collection attempts so far, saturating at 10.
    #[inline]
    pub fn gc_retry(&self) -> u8 {
        self.gc_retry
    }

    /// `FLAG_*` bits.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Requested replication factor.
    #[inline]
    pub fn repl(&self) -> u16 {
        self.repl
    }

    /// Absolute expire time, Unix seconds.
    #[inline]
    pub fn etime(&self) -> u64 {
        self.etime
    }

    /// Creation time: ms × 1 000 000 plus a tie counter, from the creating node.
    #[inline]
    pub fn ctime(&self) -> u64 {
        self.ctime
    }

    /// DELAY in seconds.
    #[inline]
    pub fn delay(&self) -> u32 {
        self.delay
    }

    /// RETRY in seconds; 0 = at-most-once.
    #[inline]
    pub fn retry(&self) -> u32 {
        self.retry
    }

    /// Priority 0–9, higher delivered first (decision D18; default 5).
    #[inline]
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// NACKs seen by this node.
    #[inline]
    pub fn nacks(&self) -> u16 {
        self.nacks
    }

    /// Re-queues other than NACK seen by this node.
    #[inline]
    pub fn additional_deliveries(&self) -> u16 {
        self.additional_deliveries
    }

    /// Queue name (None for dummy ACKs).
    #[inline]
    pub fn queue(&self) -> Option<&QueueName> {
        self.queue.as_ref()
    }

    /// Queue name as bytes (None for dummy ACKs).
    #[inline]
    pub fn queue_bytes(&self) -> Option<&Bytes> {
        self.queue.as_deref()
    }

    /// Body (None for dummy ACKs).
    #[inline]
    pub fn body(&self) -> Option<&Body> {
        self.body.as_ref()
    }

    /// Nodes that may hold a copy; empty marks a dummy ACK.
    #[inline]
    pub fn nodes_delivered(&self) -> &Holders {
        &self.nodes_delivered
    }

    /// GOTJOB confirmations while replicating, GOTACK confirmations while
    /// collecting; None before the first.
    #[inline]
    pub fn nodes_confirmed(&self) -> Option<&[NodeId]> {
        self.nodes_confirmed.as_deref().map(Vec::as_slice)
    }

    /// DEADLETTER of the job, while it has not been moved (decision D17).
    #[inline]
    pub fn dead_letter(&self) -> Option<&DeadLetter> {
        self.dead_letter.as_deref()
    }

    /// Absolute ms time of the next (re)queue attempt; 0 = never queue again.
    /// With [`FLAG_NACK_DELAY`] it is the end of a NACK DELAY.
    #[inline]
    pub fn qtime(&self) -> u64 {
        self.qtime
    }

    /// This node's bookkeeping of the job in its indexes.
    #[inline]
    pub fn local(&self) -> JobLocal {
        self.local
    }

    /// True when `flag` is set.
    #[inline]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// A dummy ACK remembers only that an id was acknowledged.
    #[inline]
    pub fn is_dummy_ack(&self) -> bool {
        self.nodes_delivered.is_empty()
    }

    /// Creation wall clock of the originating node, in ms.
    #[inline]
    pub fn ctime_ms(&self) -> u64 {
        self.ctime / 1_000_000
    }

    /// An acked job, or a delivered at-most-once job, may be evicted under memory pressure.
    pub fn is_evictable(&self) -> bool {
        self.state == JobState::Acked || (self.retry == 0 && self.has(FLAG_DELIVERED))
    }

    /// `at_ms`, but no later than a second after the job expires: a NACK
    /// DELAY beyond the TTL just lets the job expire (D16), and a time from a
    /// hostile peer or a corrupt record stays in range.
    pub fn clamp_to_life(&self, at_ms: u64) -> u64 {
        at_ms.min(self.etime.saturating_mul(1000).saturating_add(1000))
    }

    /// Deliveries so far as D17 counts them: 1 + nacks + additional deliveries.
    pub fn deliveries(&self) -> u64 {
        1 + self.nacks as u64 + self.additional_deliveries as u64
    }

    /// Rough bytes this record takes, used to estimate what eviction frees.
    pub fn approx_size(&self) -> usize {
        std::mem::size_of::<Job>()
            + self.body.as_ref().map_or(0, |b| b.heap_len())
            + self.dead_letter.as_ref().map_or(0, |d| 48 + d.queue.len())
            + 40 * self.nodes_confirmed.as_ref().map_or(0, |c| c.len())
            + 64
    }

    // ----- state: replication (`replication`) --------------------------------------

    /// A synchronous ADDJOB starts: `wait-repl` until `confirmed` (the nodes
    /// known to hold a copy) reaches the replication factor.
    pub(crate) fn wait_for_copies(&mut self, confirmed: Vec<NodeId>) {
        self.state = JobState::WaitRepl;
        self.nodes_confirmed = Some(Box::new(confirmed));
    }

    /// A synchronous ADDJOB has its copies: active, the confirmations dropped.
    pub(crate) fn copies_achieved(&mut self) {
        self.state = JobState::Active;
        self.nodes_confirmed = None;
    }

    /// ENQUEUE or YOURJOBS ends a wait for copies: the job is active (if it
    /// was waiting).
    pub(crate) fn end_wait_for_copies(&mut self) {
        if self.state == JobState::WaitRepl {
            self.state = JobState::Active;
        }
    }

    /// A copy received from another node (REPLJOB, YOURJOBS) or read back
    /// from the AOF: active, held by `holders`.
    pub(crate) fn become_copy(&mut self, holders: Holders) {
        self.state = JobState::Active;
        self.nodes_delivered = holders;
    }

    /// A new replica (REPLJOB): its creator queues it, so a queueing here is
    /// a requeue that tells the holders (QUEUED), and no WILLQUEUE is due yet.
    pub(crate) fn start_as_replica(&mut self) {
        self.flags = (self.flags & !FLAG_BCAST_WILLQUEUE) | FLAG_BCAST_QUEUED;
    }

    /// A confirmation from `from` (GOTJOB while replicating, GOTACK or
    /// SETACK while collecting), counted once per node. True when it is new.
    pub(crate) fn confirm(&mut self, from: NodeId) -> bool {
        let confirmed = self.nodes_confirmed.get_or_insert_with(Default::default);
        let new = !confirmed.contains(&from);
        if new {
            confirmed.push(from);
        }
        new
    }

    /// How many nodes confirmed (see [`Job::confirm`]).
    #[inline]
    pub fn confirmed_count(&self) -> usize {
        self.nodes_confirmed.as_ref().map_or(0, |c| c.len())
    }

    /// Collecting the acks of an acked job starts with this node confirmed
    /// (its own copy is acked); no change once collecting started.
    pub(crate) fn start_ack_collection(&mut self, myself: NodeId) {
        self.nodes_confirmed
            .get_or_insert_with(|| Box::new(vec![myself]));
    }

    /// A dummy ACK acked again: the answers collected so far are forgotten,
    /// so that every node is asked again.
    pub(crate) fn restart_ack_collection(&mut self) {
        self.nodes_confirmed = None;
    }

    // ----- state: queueing (`node`) ------------------------------------------------

    /// The job enters its queue (docs/jobs-and-ids.md §6): `queued`, any
    /// NACK DELAY over, the next requeue RETRY (plus `jitter` ms) after
    /// `now_ms` (never for at-most-once jobs), and the queueing counted as
    /// `count` says. Returns true when the other holders are told (QUEUED):
    /// for every queueing after the first, and for a NACK.
    pub(crate) fn enter_queue(&mut self, now_ms: u64, jitter: i64, count: Count) -> bool {
        self.state = JobState::Queued;
        self.flags &= !FLAG_NACK_DELAY;
        if self.retry > 0 {
            self.flags |= FLAG_BCAST_WILLQUEUE;
            self.qtime = (now_ms as i64 + self.retry as i64 * 1000 + jitter).max(1) as u64;
        } else {
            self.qtime = 0;
        }
        let broadcast = self.has(FLAG_BCAST_QUEUED) || count == Count::Nack;
        if broadcast {
            match count {
                Count::Nack => self.count_nack(),
                Count::Delivery => self.count_delivery(),
                Count::Counted => {}
            }
        } else {
            self.flags |= FLAG_BCAST_QUEUED;
        }
        broadcast
    }

    /// Out of its queue without a delivery: `queued` becomes `active`.
    /// False when it was not queued.
    pub(crate) fn leave_queue(&mut self) -> bool {
        if self.state != JobState::Queued {
            return false;
        }
        self.state = JobState::Active;
        true
    }

    /// Fetched from its queue for a consumer: active, delivered, and its
    /// entry gone from the queue order.
    pub(crate) fn mark_delivered(&mut self) {
        self.state = JobState::Active;
        self.flags |= FLAG_DELIVERED;
        self.local.in_queue_order = false;
    }

    /// Acknowledged: `acked`, any NACK DELAY forgotten.
    pub(crate) fn mark_acked(&mut self) {
        self.state = JobState::Acked;
        self.flags &= !FLAG_NACK_DELAY;
    }

    /// The next queueing here counts as the first (another node queued it:
    /// ENQUEUE, YOURJOBS): no QUEUED is sent for it.
    pub(crate) fn next_queueing_is_first(&mut self) {
        self.flags &= !FLAG_BCAST_QUEUED;
    }

    // ----- requeue time (`replication`, `requeue`, `timers`, `persistence`, ...) ---

    /// The next queueing at `at_ms` (0 = never), with no WILLQUEUE before it
    /// (a first queueing after DELAY or ENQUEUE, a retry while the queue is
    /// paused, a restored time).
    pub(crate) fn schedule_queueing(&mut self, at_ms: u64) {
        self.qtime = at_ms;
    }

    /// The next requeue at `at_ms`, announced by WILLQUEUE 500 ms before.
    pub(crate) fn schedule_requeue(&mut self, at_ms: u64) {
        self.flags |= FLAG_BCAST_WILLQUEUE;
        self.qtime = at_ms;
    }

    /// The next requeue is announced by WILLQUEUE again.
    pub(crate) fn announce_requeue(&mut self) {
        self.flags |= FLAG_BCAST_WILLQUEUE;
    }

    /// WILLQUEUE was sent (or is no longer due) for the coming requeue.
    pub(crate) fn willqueue_sent(&mut self) {
        self.flags &= !FLAG_BCAST_WILLQUEUE;
    }

    /// QUEUED or WORKING pushes the next requeue to `next_ms`, except that
    /// the end of a NACK DELAY is never brought closer (D16): the later time
    /// wins, and the delay's flag stays only while its time is the later one.
    pub(crate) fn postpone_requeue(&mut self, next_ms: u64) {
        if !(self.has(FLAG_NACK_DELAY) && self.qtime > next_ms) {
            self.qtime = next_ms;
            self.flags &= !FLAG_NACK_DELAY;
        }
    }

    /// A NACK DELAY (D16): no requeue before `until_ms`, announced by
    /// WILLQUEUE.
    pub(crate) fn delay_for_nack(&mut self, until_ms: u64) {
        self.flags |= FLAG_BCAST_WILLQUEUE | FLAG_NACK_DELAY;
        self.qtime = until_ms;
    }

    /// A decoded copy of a job under a NACK DELAY (D16) is not requeued
    /// before the delay ends, whatever its own timer says.
    pub(crate) fn honour_nack_delay(&mut self, until_ms: u64) {
        let until = self.clamp_to_life(until_ms);
        if until != 0 && self.qtime != 0 && until >= self.qtime {
            self.qtime = until;
            self.flags |= FLAG_NACK_DELAY;
        }
    }

    // ----- counters (`node`, `requeue`, `acks`) ----------------------------------

    /// One more NACK.
    pub(crate) fn count_nack(&mut self) {
        self.nacks = self.nacks.wrapping_add(1);
    }

    /// One more requeue other than a NACK.
    pub(crate) fn count_delivery(&mut self) {
        self.additional_deliveries = self.additional_deliveries.wrapping_add(1);
    }

    /// One more garbage-collection attempt (saturating at 10).
    pub(crate) fn count_gc_attempt(&mut self) {
        self.gc_retry = (self.gc_retry + 1).min(10);
    }

    // ----- holders (`replication`, `rereplication`, `federation`, ...) -----------

    /// Adds `node` to nodes-delivered unless present.
    pub(crate) fn add_delivered(&mut self, node: NodeId) {
        if !self.nodes_delivered.contains(&node) {
            self.nodes_delivered.push(node);
        }
    }

    /// Replaces nodes-delivered by `holders`, a list with more nodes (the
    /// job table shares equal lists between records).
    pub(crate) fn replace_holders(&mut self, holders: Holders) {
        debug_assert!(self.nodes_delivered.iter().all(|n| holders.contains(n)));
        self.nodes_delivered = holders;
    }

    /// Removes `node` from nodes-delivered (it came back without the job).
    pub(crate) fn drop_holder(&mut self, node: &NodeId) {
        self.nodes_delivered.retain(|n| n != node);
    }

    /// The holder list changed after creation, so holders may not all know
    /// each other (D8): acknowledging asks every node.
    pub(crate) fn mark_rereplicated(&mut self) {
        self.flags |= FLAG_REREPLICATED;
    }

    // ----- queue and dead letter (`node`, `requeue`) ---------------------------

    /// Moves the job to `dead_letter_queue`, the name of its DEADLETTER queue
    /// (D17), clearing the option so that it cannot move again and marking
    /// it [`FLAG_DEAD_LETTERED`]. Returns the queue it leaves.
    pub(crate) fn move_to_dead_letter(
        &mut self,
        dead_letter_queue: QueueName,
    ) -> Option<QueueName> {
        debug_assert!(self
            .dead_letter
            .as_ref()
            .is_some_and(|d| *dead_letter_queue == d.queue));
        self.dead_letter = None;
        self.flags |= FLAG_DEAD_LETTERED;
        self.queue.replace(dead_letter_queue)
    }

    // ----- sharing and index marks (`job_table`, `node`, `requeue`) ---------------

    /// Shares the job's holder list with other records: `shared` gives an
    /// equal list for the one the job has.
    pub(crate) fn share_holders(&mut self, shared: impl FnOnce(&Holders) -> Holders) {
        let holders = shared(&self.nodes_delivered);
        debug_assert!(holders == self.nodes_delivered);
        self.nodes_delivered = holders;
    }

    /// Shares the job's queue name with other records: `shared` gives an
    /// equal name for the one the job has.
    pub(crate) fn share_queue_name(&mut self, shared: impl FnOnce(QueueName) -> QueueName) {
        if let Some(name) = self.queue.take() {
            self.queue = Some(shared(name));
        }
    }

    /// Forgets every index mark (a job about to enter a table).
    pub(crate) fn clear_local(&mut self) {
        self.local = JobLocal::default();
    }

    /// Sets whether the job has an entry in its queue's order; returns
    /// whether it had one.
    pub(crate) fn set_in_queue_order(&mut self, has_entry: bool) -> bool {
        std::mem::replace(&mut self.local.in_queue_order, has_entry)
    }

    /// The generation of the table slot that holds the job.
    pub(crate) fn set_slot_gen(&mut self, gen: u32) {
        self.local.gen = gen;
    }

    /// The time of the job's next check in the timer heap (0 = none).
    pub(crate) fn set_awake(&mut self, awake_ms: u64) {
        self.local.awake = awake_ms;
    }

    /// Whether the job is listed among the evictable jobs.
    pub(crate) fn set_in_evictable(&mut self, listed: bool) {
        self.local.in_evictable = listed;
    }
}

/// A job's list of holders: an immutable shared list, so that the many jobs
/// with the same holders (every job of a single node, the few replica sets
/// of a cluster) can share one copy (the job table shares them on insert).
/// Changing a list makes a new one. A thin pointer (8 bytes in the record),
/// none for the empty list of a dummy ACK.
#[derive(Clone, Debug, Default)]
pub struct Holders(Option<Arc<Vec<NodeId>>>);

impl Holders {
    /// Adds `node` at the end.
    pub fn push(&mut self, node: NodeId) {
        self.edit(|nodes| nodes.push(node));
    }

    /// Keeps the nodes `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&NodeId) -> bool) {
        self.edit(|nodes| nodes.retain(keep));
    }

    /// Removes every node (a dummy ACK's list).
    pub fn clear(&mut self) {
        *self = Holders::default();
    }

    fn edit(&mut self, change: impl FnOnce(&mut Vec<NodeId>)) {
        let mut nodes = self.to_vec();
        change(&mut nodes);
        *self = Holders::from(nodes);
    }
}

impl std::ops::Deref for Holders {
    type Target = [NodeId];

    fn deref(&self) -> &[NodeId] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl std::borrow::Borrow<[NodeId]> for Holders {
    fn borrow(&self) -> &[NodeId] {
        self
    }
}

impl<'a> IntoIterator for &'a Holders {
    type Item = &'a NodeId;
    type IntoIter = std::slice::Iter<'a, NodeId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<Vec<NodeId>> for Holders {
    fn from(nodes: Vec<NodeId>) -> Self {
        Holders((!nodes.is_empty()).then(|| Arc::new(nodes)))
    }
}

impl FromIterator<NodeId> for Holders {
    fn from_iter<I: IntoIterator<Item = NodeId>>(nodes: I) -> Self {
        Holders::from(nodes.into_iter().collect::<Vec<_>>())
    }
}

impl PartialEq for Holders {
    fn eq(&self, other: &Holders) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => **self == **other,
        }
    }
}

impl Eq for Holders {}

impl PartialEq<Vec<NodeId>> for Holders {
    fn eq(&self, other: &Vec<NodeId>) -> bool {
        **self == **other
    }
}

/// A queue name as jobs hold it: one copy per queue shared by all its jobs
/// (the queue's own, see `Node::register`), behind a thin pointer (8 bytes
/// in the record instead of a 32-byte `Bytes`).
#[derive(Clone, Eq)]
pub struct QueueName(Arc<Bytes>);

impl QueueName {
    /// A name of its own: an exact copy of `name` (never a slice of the
    /// buffer it was read from).
    pub fn new(name: &[u8]) -> QueueName {
        QueueName(Arc::new(Bytes::copy_from_slice(name)))
    }

    /// The name.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

impl std::ops::Deref for QueueName {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl PartialEq for QueueName {
    fn eq(&self, other: &QueueName) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl PartialEq<Bytes> for QueueName {
    fn eq(&self, other: &Bytes) -> bool {
        *self.0 == *other
    }
}

impl std::hash::Hash for QueueName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for QueueName {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Bodies up to this length are stored inside the job record.
const INLINE_BODY: usize = 22;

/// A job body, in its own exact allocation or, when small, inside the record
/// (24 bytes either way). It never shares memory with the buffer it was read
/// from, so a job cannot keep a client's read buffer or a bus frame alive.
#[derive(Clone, PartialEq, Eq)]
pub struct Body(BodyRepr);

#[derive(Clone, PartialEq, Eq)]
enum BodyRepr {
    Inline { len: u8, data: [u8; INLINE_BODY] },
    Heap(Box<[u8]>),
}

impl Body {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Body {
        if bytes.len() <= INLINE_BODY {
            let mut data = [0; INLINE_BODY];
            data[..bytes.len()].copy_from_slice(bytes);
            Body(BodyRepr::Inline {
                len: bytes.len() as u8,
                data,
            })
        } else {
            Body(BodyRepr::Heap(bytes.into()))
        }
    }

    /// Bytes allocated outside the record.
    pub fn heap_len(&self) -> usize {
        match &self.0 {
            BodyRepr::Inline { .. } => 0,
            BodyRepr::Heap(b) => b.len(),
        }
    }

    /// The body as a reply payload (a copy).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl std::ops::Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            BodyRepr::Inline { len, data } => &data[..*len as usize],
            BodyRepr::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_bytes_inline_or_not() {
        for len in [0, 1, INLINE_BODY, INLINE_BODY + 1, 1000] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let body = Body::new(&bytes);
            assert_eq!(&body[..], &bytes[..]);
            assert_eq!(body.heap_len(), if len <= INLINE_BODY { 0 } else { len });
        }
        assert_eq!(std::mem::size_of::<Option<Body>>(), 24);
    }

    #[test]
    fn the_new_options_cost_no_more_than_a_pointer() {
        assert!(
            std::mem::size_of::<Job>() <= 152,
            "{}",
            std::mem::size_of::<Job>()
        );
    }
}
