//! The federation state (docs/cluster.md §9, decision D9): per queue, the
//! NEEDJOBS back-offs, responders and import rate ([`QueueFederation`]); per
//! node, who asked for jobs of which queue, the queues with waiting consumers,
//! and the queues to look at after an event ([`FederationState`]). Only this
//! module changes them; `federation.rs` holds the protocol that uses them.

use crate::ids::NodeId;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// Responders not heard from for this long are forgotten.
const RESPONDER_VALIDITY_MS: u64 = 5_000;
/// How long a WAITING notice makes this node push new jobs to its sender (D9),
/// unless renewed (every [`WAITING_REFRESH_MS`] while consumers wait) or withdrawn.
const ASKER_VALIDITY_MS: u64 = 35_000;
/// How often a node with blocked consumers repeats its WAITING notice.
const WAITING_REFRESH_MS: u64 = 10_000;

/// Why a node asks for jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeedReason {
    /// Consumers are waiting (GETJOB found the queue empty, blocked clients).
    ClientsWaiting,
    /// A fetch just emptied the queue.
    ReachedZero,
}

/// What one NEEDJOBS attempt sends (§9.1).
#[derive(Debug)]
pub(crate) struct NeedPlan {
    /// Ask every linked node for one job.
    pub(crate) broadcast: bool,
    /// Ask these recent responders for `count` jobs each (none: no ad-hoc ask).
    pub(crate) responders: Vec<NodeId>,
    /// How many jobs to ask each responder for.
    pub(crate) count: u32,
}

/// Per-queue federation state.
#[derive(Debug, Default)]
pub struct QueueFederation {
    last_bcast: u64,
    bcast_attempt: u32,
    last_adhoc: u64,
    adhoc_attempt: u32,
    /// Nodes that recently sent jobs for this queue, with when.
    responders: BTreeMap<NodeId, u64>,
    /// When this node last announced its waiting consumers (D9).
    last_waiting_notice: u64,
    cur_start: u64,
    cur_count: u64,
    prev_start: u64,
    prev_count: u64,
}

impl QueueFederation {
    /// Jobs per second imported recently (0 after 5 s without imports).
    pub fn import_rate(&self, now_ms: u64) -> u64 {
        if self.cur_count == 0 || now_ms.saturating_sub(self.cur_start) > 5_000 {
            return 0;
        }
        let since = if self.prev_count > 0 {
            self.prev_start
        } else {
            self.cur_start
        };
        let elapsed = now_ms.saturating_sub(since).max(50);
        ((self.prev_count + self.cur_count) * 1000).div_ceil(elapsed)
    }

    /// Nodes that recently sent jobs for this queue.
    pub fn responders(&self) -> impl Iterator<Item = &NodeId> {
        self.responders.keys()
    }

    fn count_import(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.cur_start) > 1_000 {
            self.prev_start = self.cur_start;
            self.prev_count = self.cur_count;
            self.cur_start = now_ms;
            self.cur_count = 0;
        }
        self.cur_count += 1;
    }

    /// A job of this queue arrived from `from` and was queued: `from` is a
    /// responder, the back-offs restart.
    pub(crate) fn note_import(&mut self, from: NodeId, now_ms: u64) {
        if self.responders.insert(from, now_ms).is_none() {
            self.bcast_attempt = 0;
        }
        self.count_import(now_ms);
        self.adhoc_attempt = 0;
    }

    /// Whom to ask for jobs now, subject to the back-offs (§9.1), which this
    /// attempt advances; `None` when a queue that reached zero imports nothing.
    pub(crate) fn plan_need(&mut self, now: u64, reason: NeedReason) -> Option<NeedPlan> {
        let rate = self.import_rate(now);
        if reason == NeedReason::ReachedZero && rate == 0 {
            return None;
        }
        self.responders
            .retain(|_, seen| now.saturating_sub(*seen) <= RESPONDER_VALIDITY_MS);
        let mut responders: Vec<NodeId> = self.responders.keys().copied().collect();
        let count = if responders.is_empty() {
            5
        } else {
            rate / responders.len() as u64
        }
        .clamp(5, 100) as u32;
        let bcast_wait = (2_000u64 << self.bcast_attempt.min(5)).min(30_000);
        let broadcast = now.saturating_sub(self.last_bcast) > bcast_wait;
        if broadcast {
            self.last_bcast = now;
            self.bcast_attempt += 1;
        }
        let adhoc_wait = (25u64 << self.adhoc_attempt.min(7)).min(2_000);
        let adhoc = !responders.is_empty()
            && (reason == NeedReason::ReachedZero
                || now.saturating_sub(self.last_adhoc) > adhoc_wait);
        if adhoc {
            self.last_adhoc = now;
            self.adhoc_attempt += 1;
        } else {
            responders.clear();
        }
        Some(NeedPlan {
            broadcast,
            responders,
            count,
        })
    }

    /// Notes a WAITING announcement for this queue at `now_ms`.
    pub(crate) fn note_waiting_notice(&mut self, now_ms: u64) {
        self.last_waiting_notice = now_ms;
    }

    /// True when the WAITING announcement is due again.
    pub(crate) fn waiting_notice_due(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_waiting_notice) >= WAITING_REFRESH_MS
    }
}

/// The node-wide federation state.
#[derive(Debug, Default)]
pub(crate) struct FederationState {
    /// Who asked for jobs of a queue, and when (decision D9).
    askers: BTreeMap<Bytes, BTreeMap<NodeId, u64>>,
    /// Queues that received jobs since the last push check (decision D9).
    push_candidates: Vec<Bytes>,
    /// Queues with clients blocked on them (federation asks for these).
    waiting_queues: BTreeSet<Bytes>,
    /// Queues a fetch emptied while they import jobs (immediate NEEDJOBS).
    reached_zero: Vec<Bytes>,
}

impl FederationState {
    /// `from` announced consumers waiting on `queue` at `now_ms`; jobs
    /// already queued here with nobody waiting for them may go at once.
    pub(crate) fn note_asker(&mut self, queue: Bytes, from: NodeId, now_ms: u64) {
        self.push_candidates.push(queue.clone());
        self.askers.entry(queue).or_default().insert(from, now_ms);
    }

    /// `from` announced its consumers stopped waiting on `queue`.
    pub(crate) fn forget_asker(&mut self, queue: &Bytes, from: &NodeId) {
        if let Some(nodes) = self.askers.get_mut(queue) {
            nodes.remove(from);
            if nodes.is_empty() {
                self.askers.remove(queue);
            }
        }
    }

    /// Forgets announcements not renewed in time.
    pub(crate) fn expire_askers(&mut self, now_ms: u64) {
        self.askers.retain(|_, nodes| {
            nodes.retain(|_, at| now_ms.saturating_sub(*at) <= ASKER_VALIDITY_MS);
            !nodes.is_empty()
        });
    }

    /// True when another node waits for jobs of `queue`.
    pub(crate) fn has_askers(&self, queue: &[u8]) -> bool {
        self.askers.contains_key(queue)
    }

    /// The most recent asker for `queue` among those `usable`.
    pub(crate) fn latest_asker(
        &self,
        queue: &[u8],
        usable: impl Fn(&NodeId) -> bool,
    ) -> Option<NodeId> {
        let nodes = self.askers.get(queue)?;
        nodes
            .iter()
            .filter(|(n, _)| usable(n))
            .max_by_key(|(_, at)| **at)
            .map(|(n, _)| *n)
    }

    /// `queue` received jobs that another node may want.
    pub(crate) fn note_push_candidate(&mut self, queue: Bytes) {
        self.push_candidates.push(queue);
    }

    /// True when some queue may have jobs for askers.
    pub(crate) fn has_push_candidates(&self) -> bool {
        !self.push_candidates.is_empty()
    }

    /// The queues that may have jobs for askers, forgotten here.
    pub(crate) fn take_push_candidates(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.push_candidates)
    }

    /// Consumers started (`true`) or stopped waiting on `queue`.
    pub(crate) fn set_waiting(&mut self, queue: &Bytes, waiting: bool) {
        if waiting {
            self.waiting_queues.insert(queue.clone());
        } else {
            self.waiting_queues.remove(queue);
        }
    }

    /// The queues with waiting consumers.
    pub(crate) fn waiting_queues(&self) -> Vec<Bytes> {
        self.waiting_queues.iter().cloned().collect()
    }

    /// True when consumers wait on `queue`.
    pub(crate) fn is_waiting(&self, queue: &[u8]) -> bool {
        self.waiting_queues.contains(queue)
    }

    /// Nobody waits any more (every queue is gone).
    pub(crate) fn clear_waiting(&mut self) {
        self.waiting_queues.clear();
    }

    /// A fetch emptied `queue` while it imports jobs.
    pub(crate) fn note_reached_zero(&mut self, queue: Bytes) {
        self.reached_zero.push(queue);
    }

    /// The queues a fetch emptied, forgotten here.
    pub(crate) fn take_reached_zero(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.reached_zero)
    }

    /// Panics if an asker list is empty (it is removed with its last asker).
    pub(crate) fn check_invariants(&self) {
        for (queue, nodes) in &self.askers {
            assert!(!nodes.is_empty(), "askers of {queue:?} are listed");
        }
    }

    /// Number of queues with waiting consumers.
    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting_queues.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_rate_windows() {
        let mut f = QueueFederation::default();
        assert_eq!(f.import_rate(10_000), 0);
        for _ in 0..10 {
            f.count_import(10_000);
        }
        assert!(f.import_rate(10_500) > 0);
        assert_eq!(f.import_rate(16_000), 0);
    }
}
