//! The job record a node keeps (docs/jobs-and-ids.md §2–§4).

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

/// One job as this node holds it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The 40-byte id.
    pub id: JobId,
    /// Current state.
    pub state: JobState,
    /// Garbage-collection attempts so far, saturating at 10.
    pub gc_retry: u8,
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
    /// Priority 0–9, higher delivered first (decision D18; default 5).
    pub priority: u8,
    /// NACKs seen by this node.
    pub nacks: u16,
    /// Re-queues other than NACK seen by this node.
    pub additional_deliveries: u16,
    /// Queue name (None for dummy ACKs).
    pub queue: Option<QueueName>,
    /// Body (None for dummy ACKs).
    pub body: Option<Body>,
    /// Nodes that may hold a copy; empty marks a dummy ACK.
    pub nodes_delivered: Holders,
    /// GOTJOB confirmations while replicating, GOTACK confirmations while
    /// collecting (boxed: most jobs never have any, and pay one pointer).
    pub nodes_confirmed: Option<Box<Vec<NodeId>>>,
    /// DEADLETTER of the job, while it has not been moved (decision D17).
    pub dead_letter: Option<Box<DeadLetter>>,
    /// Absolute ms time of the next (re)queue attempt; 0 = never queue again.
    /// With [`FLAG_NACK_DELAY`] it is the end of a NACK DELAY.
    pub qtime: u64,
    /// This node's bookkeeping of the job in its indexes; never serialized.
    pub local: JobLocal,
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
    /// True when `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// A dummy ACK remembers only that an id was acknowledged.
    pub fn is_dummy_ack(&self) -> bool {
        self.nodes_delivered.is_empty()
    }

    /// Creation wall clock of the originating node, in ms.
    pub fn ctime_ms(&self) -> u64 {
        self.ctime / 1_000_000
    }

    /// An acked job, or a delivered at-most-once job, may be evicted under memory pressure.
    pub fn is_evictable(&self) -> bool {
        self.state == JobState::Acked || (self.retry == 0 && self.has(FLAG_DELIVERED))
    }

    /// Adds `node` to nodes-delivered unless present.
    pub fn add_delivered(&mut self, node: NodeId) {
        if !self.nodes_delivered.contains(&node) {
            self.nodes_delivered.push(node);
        }
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
