//! The re-replication bookkeeping (decision D8, described in the parent
//! module): the jobs found under-replicated, their rounds, the running
//! sweep, the holder lists being announced, and the EMPTIED announcements.
//! Its fields are private to this module; [`super::protocol`] drives it
//! through the methods below.

use super::{
    ANNOUNCE_TRIES, EMPTIED_QUARANTINE_MS, FALLBACK_MS, MAX_ROUNDS, PERIOD_MS, ROUND_TRIES,
};
use crate::ids::{JobId, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// A round of REPLJOB for one job.
#[derive(Debug, Default)]
struct Round {
    /// Nodes sent REPLJOB in this round.
    asked: Vec<NodeId>,
    /// Live nodes that confirmed a copy (this node when it is live).
    confirmed: Vec<NodeId>,
    /// Attempts so far.
    tries: u32,
}

/// Telling a job's holders its holder list (HOLDERS) until each confirmed.
#[derive(Debug, Default)]
struct Announcement {
    /// Holders that confirmed, and attempts made to reach each other one.
    confirmed: Vec<NodeId>,
    attempts: Vec<(NodeId, u32)>,
    /// When it is due next; `None` while parked until a membership change
    /// (every holder left to tell is unreachable).
    due: Option<u64>,
}

/// Where a job that needs copies waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Ready to act, keyed by its live copies.
    Ready(usize),
    /// Waiting until a time (rank fallback, round retry).
    Waiting(u64),
    /// No node can take a copy now: retried at the next membership change.
    Stuck,
}

/// A job found under-replicated.
#[derive(Debug)]
struct Entry {
    /// When it was found.
    since: u64,
    slot: Slot,
    round: Option<Round>,
}

/// The live and reachable nodes, and whether this node leaves: the view of
/// the membership whose changes start a sweep.
pub(crate) type View = (Vec<NodeId>, Vec<NodeId>, bool);

/// The re-replication state of a node.
#[derive(Debug, Default)]
pub(crate) struct Rereplication {
    /// The cursor of the running sweep over every job.
    sweep: Option<u64>,
    /// Another sweep was asked for while one ran.
    sweep_again: bool,
    entries: BTreeMap<JobId, Entry>,
    ready: BTreeSet<(usize, JobId)>,
    waiting: BTreeSet<(u64, JobId)>,
    /// Entries with a round.
    rounds: usize,
    /// The membership last seen.
    view: View,
    /// Peers not yet told that this node restarted without its jobs.
    announce_empty: BTreeSet<NodeId>,
    /// Peers that announced they restarted without their jobs, and when the
    /// announcement arrived (see [`EMPTIED_QUARANTINE_MS`]).
    emptied: BTreeMap<NodeId, u64>,
    /// When the duty last ran.
    last_run: u64,
    /// Jobs this node brought back to their replication level.
    rereplicated: u64,
    /// Holder lists being announced, and when each is due.
    announcements: BTreeMap<JobId, Announcement>,
    announce_due: BTreeSet<(u64, JobId)>,
}

impl Rereplication {
    fn set_slot(&mut self, id: &JobId, slot: Slot) {
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        match entry.slot {
            Slot::Ready(live) => self.ready.remove(&(live, *id)),
            Slot::Waiting(at) => self.waiting.remove(&(at, *id)),
            Slot::Stuck => false,
        };
        entry.slot = slot;
        match slot {
            Slot::Ready(live) => self.ready.insert((live, *id)),
            Slot::Waiting(at) => self.waiting.insert((at, *id)),
            Slot::Stuck => false,
        };
    }

    // ----- the duty's pace -----------------------------------------------------

    /// True when the duty runs at `now_ms` (a period passed since it last
    /// did); it then counts as run, and quarantines that ended are dropped.
    pub(crate) fn start_run(&mut self, now_ms: u64) -> bool {
        if now_ms < self.last_run + PERIOD_MS {
            return false;
        }
        self.last_run = now_ms;
        if !self.emptied.is_empty() {
            self.emptied
                .retain(|_, at| *at + EMPTIED_QUARANTINE_MS > now_ms);
        }
        true
    }

    /// When the duty has work next.
    pub(crate) fn next_due(&self) -> Option<u64> {
        let busy = self.sweep.is_some() || !self.ready.is_empty();
        let soon = busy.then_some(self.last_run + PERIOD_MS);
        let waiting = self.waiting.first().map(|w| w.0);
        let announce = self.announce_due.first().map(|w| w.0);
        soon.into_iter().chain(waiting).chain(announce).min()
    }

    /// True while a job is tracked or a sweep runs.
    pub(crate) fn is_busy(&self) -> bool {
        !self.entries.is_empty() || self.sweep.is_some()
    }

    /// Notes the membership `view`; when it changed, a sweep starts and the
    /// parked announcements are due at once.
    pub(crate) fn note_view(&mut self, view: View) {
        if view == self.view {
            return;
        }
        self.view = view;
        self.request_sweep();
        let parked: Vec<JobId> = self
            .announcements
            .iter()
            .filter(|(_, a)| a.due.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in parked {
            self.schedule_announcement(&id, Some(self.last_run));
        }
    }

    // ----- the sweep -----------------------------------------------------------

    /// Starts a sweep over every job (or another one after the running one).
    pub(crate) fn request_sweep(&mut self) {
        if self.sweep.is_some() {
            self.sweep_again = true;
        } else {
            self.sweep = Some(0);
        }
    }

    /// The cursor where the running sweep goes on; None when none runs.
    pub(crate) fn sweep_cursor(&self) -> Option<u64> {
        self.sweep
    }

    /// The sweep reached cursor `next` (0 at the end): it goes on, starts
    /// again if asked to meanwhile, or ends.
    pub(crate) fn sweep_reached(&mut self, next: u64) {
        self.sweep = if next != 0 {
            Some(next)
        } else if std::mem::take(&mut self.sweep_again) {
            Some(0)
        } else {
            None
        };
    }

    /// The sweep found job `id` under-replicated with `live` live copies at
    /// `now_ms`: a new entry is ready to act; one found again after no node
    /// could take a copy is ranked afresh (the time since it was first found
    /// does not count, so the lowest live holder alone acts at once).
    pub(crate) fn found(&mut self, id: JobId, live: usize, now_ms: u64) {
        match self.entries.get_mut(&id) {
            None => {
                self.entries.insert(
                    id,
                    Entry {
                        since: now_ms,
                        slot: Slot::Stuck,
                        round: None,
                    },
                );
            }
            Some(entry) if entry.slot == Slot::Stuck => {
                entry.since = now_ms;
                if entry.round.take().is_some() {
                    self.rounds -= 1;
                }
            }
            Some(_) => return,
        }
        self.set_slot(&id, Slot::Ready(live));
    }

    /// The sweep found job `id` no longer in need: forgotten if no node could
    /// take a copy (a holder came back, another made the copies).
    pub(crate) fn no_longer_stuck(&mut self, id: &JobId) {
        if self.entries.get(id).is_some_and(|e| e.slot == Slot::Stuck) {
            self.forget(id);
        }
    }

    // ----- entries and rounds ----------------------------------------------------

    /// Jobs known to need copies (INFO `underreplicated_jobs`).
    pub(crate) fn underreplicated(&self) -> usize {
        self.entries.len()
    }

    /// Jobs brought back to their replication level (INFO `rereplicated_jobs`).
    pub(crate) fn rereplicated(&self) -> u64 {
        self.rereplicated
    }

    /// Moves the entries whose wait ended by `now_ms` to the ready set.
    pub(crate) fn wake(&mut self, now_ms: u64) {
        while let Some(&(at, id)) = self.waiting.first() {
            if at > now_ms {
                break;
            }
            self.set_slot(&id, Slot::Ready(0));
        }
    }

    /// The ready job to act on next, fewest live copies first; None when
    /// none is ready, or when it would start a round while `MAX_ROUNDS`
    /// wait for answers.
    pub(crate) fn next_ready(&self) -> Option<JobId> {
        let &(_, id) = self.ready.first()?;
        let starts_round = self.entries.get(&id).is_some_and(|e| e.round.is_none());
        (!(self.rounds >= MAX_ROUNDS && starts_round)).then_some(id)
    }

    /// True when job `id` has a round going on.
    pub(crate) fn has_round(&self, id: &JobId) -> bool {
        self.entries.get(id).is_some_and(|e| e.round.is_some())
    }

    /// True when job `id` waits for its turn to act (no round yet).
    pub(crate) fn awaits_turn(&self, id: &JobId) -> bool {
        self.entries.get(id).is_some_and(|e| e.round.is_none())
    }

    /// Starts the round of job `id` at `now_ms` if its turn came (rank ×
    /// `FALLBACK_MS` after it was found), with `myself` confirmed when this
    /// node is live; otherwise it waits for its turn. True when started.
    pub(crate) fn start_round(
        &mut self,
        id: &JobId,
        now_ms: u64,
        rank: usize,
        myself: Option<NodeId>,
    ) -> bool {
        let entry = self.entries.get_mut(id).expect("acting on an entry");
        let not_before = entry.since + rank as u64 * FALLBACK_MS;
        if now_ms < not_before {
            self.set_slot(id, Slot::Waiting(not_before));
            return false;
        }
        entry.round = Some(Round {
            confirmed: myself.into_iter().collect(),
            ..Round::default()
        });
        self.rounds += 1;
        true
    }

    /// One more attempt of the round of job `id`; after `ROUND_TRIES` the
    /// round ends and the job waits for the next membership change (false).
    pub(crate) fn try_round(&mut self, id: &JobId) -> bool {
        let entry = self.entries.get_mut(id).expect("acting on an entry");
        let round = entry.round.as_mut().expect("round started");
        round.tries += 1;
        if round.tries > ROUND_TRIES {
            entry.round = None;
            self.rounds -= 1;
            self.set_slot(id, Slot::Stuck);
            return false;
        }
        true
    }

    /// The nodes the round of job `id` asked, and those that confirmed.
    pub(crate) fn round(&self, id: &JobId) -> (&[NodeId], &[NodeId]) {
        let round = self.entries[id].round.as_ref().expect("round started");
        (&round.asked, &round.confirmed)
    }

    /// The round of job `id` sent copies to `nodes`.
    pub(crate) fn asked(&mut self, id: &JobId, nodes: impl IntoIterator<Item = NodeId>) {
        let round = self
            .entries
            .get_mut(id)
            .and_then(|e| e.round.as_mut())
            .expect("round started");
        round.asked.extend(nodes);
    }

    /// `from` confirmed a copy of job `id`: the nodes that confirmed so far
    /// when a round is going on.
    pub(crate) fn round_confirmed(&mut self, id: &JobId, from: NodeId) -> Option<Vec<NodeId>> {
        let round = self.entries.get_mut(id).and_then(|e| e.round.as_mut())?;
        if !round.confirmed.contains(&from) {
            round.confirmed.push(from);
        }
        Some(round.confirmed.clone())
    }

    /// Job `id` waits until `at_ms` (a round retry).
    pub(crate) fn wait_until(&mut self, id: &JobId, at_ms: u64) {
        self.set_slot(id, Slot::Waiting(at_ms));
    }

    /// No node can take a copy of job `id` now: retried at the next
    /// membership change.
    pub(crate) fn stuck(&mut self, id: &JobId) {
        self.set_slot(id, Slot::Stuck);
    }

    /// Job `id` has its copies again: forgotten, and counted.
    pub(crate) fn achieved(&mut self, id: &JobId) {
        self.forget(id);
        self.rereplicated += 1;
    }

    /// Forgets job `id` as under-replicated (it no longer qualifies).
    pub(crate) fn forget(&mut self, id: &JobId) {
        self.set_slot(id, Slot::Stuck);
        if let Some(entry) = self.entries.remove(id) {
            if entry.round.is_some() {
                self.rounds -= 1;
            }
        }
    }

    /// An acked job is never re-replicated: it no longer counts as
    /// under-replicated (its holder list is still announced).
    pub(crate) fn job_acked(&mut self, id: &JobId) {
        if !self.entries.is_empty() {
            self.forget(id);
        }
    }

    /// Forgets a deleted job.
    pub(crate) fn job_deleted(&mut self, id: &JobId) {
        self.job_acked(id);
        if !self.announcements.is_empty() {
            self.stop_announcing(id);
        }
    }

    // ----- holder-list announcements ---------------------------------------------

    /// Starts announcing the holder list of job `id` to every holder but
    /// `informed`, replacing a running announcement (its due entry goes
    /// too: a stale one would be picked again and again at every tick).
    pub(crate) fn start_announcing(&mut self, id: &JobId, informed: &[NodeId]) {
        self.stop_announcing(id);
        let announcement = Announcement {
            confirmed: informed.to_vec(),
            ..Announcement::default()
        };
        self.announcements.insert(*id, announcement);
    }

    /// The announcement due first by `now_ms`, if any.
    pub(crate) fn announcement_due(&self, now_ms: u64) -> Option<JobId> {
        let &(at, id) = self.announce_due.first()?;
        (at <= now_ms).then_some(id)
    }

    /// True while the holder list of job `id` is being announced.
    pub(crate) fn is_announcing(&self, id: &JobId) -> bool {
        self.announcements.contains_key(id)
    }

    /// True when holder `node` is still to be told the list of job `id`: it
    /// did not confirm, and was tried fewer than `ANNOUNCE_TRIES` times.
    pub(crate) fn to_announce(&self, id: &JobId, node: &NodeId) -> bool {
        self.announcements.get(id).is_some_and(|a| {
            let attempts = a
                .attempts
                .iter()
                .find(|(m, _)| m == node)
                .map_or(0, |(_, t)| *t);
            !a.confirmed.contains(node) && attempts < ANNOUNCE_TRIES
        })
    }

    /// `from` confirmed it knows the holder list of job `id`.
    pub(crate) fn announcement_confirmed(&mut self, id: &JobId, from: NodeId) {
        if let Some(a) = self.announcements.get_mut(id) {
            if !a.confirmed.contains(&from) {
                a.confirmed.push(from);
            }
        }
    }

    /// The list of job `id` was sent to `targets`; the next attempt is due
    /// at `next_ms`.
    pub(crate) fn announced(&mut self, id: &JobId, targets: &[NodeId], next_ms: u64) {
        let a = self.announcements.get_mut(id).expect("announcing");
        for node in targets {
            match a.attempts.iter_mut().find(|(m, _)| m == node) {
                Some((_, t)) => *t += 1,
                None => a.attempts.push((*node, 1)),
            }
        }
        self.schedule_announcement(id, Some(next_ms));
    }

    /// Parks the announcement of job `id` until a membership change (every
    /// holder left to tell is unreachable).
    pub(crate) fn park_announcement(&mut self, id: &JobId) {
        self.schedule_announcement(id, None);
    }

    /// Ends the announcement of job `id`.
    pub(crate) fn stop_announcing(&mut self, id: &JobId) {
        self.schedule_announcement(id, None);
        self.announcements.remove(id);
    }

    fn schedule_announcement(&mut self, id: &JobId, due: Option<u64>) {
        let Some(a) = self.announcements.get_mut(id) else {
            return;
        };
        if let Some(old) = a.due {
            self.announce_due.remove(&(old, *id));
        }
        a.due = due;
        if let Some(at) = due {
            self.announce_due.insert((at, *id));
        }
    }

    // ----- nodes that came back empty ------------------------------------------

    /// This node came back without its jobs: each of `peers` is to be told.
    pub(crate) fn announce_empty_to(&mut self, peers: impl IntoIterator<Item = NodeId>) {
        self.announce_empty = peers.into_iter().collect();
    }

    /// True while `peer` has not confirmed it knows this node came back empty.
    pub(crate) fn owes_emptied(&self, peer: &NodeId) -> bool {
        self.announce_empty.contains(peer)
    }

    /// `peer` confirmed it knows this node came back empty.
    pub(crate) fn emptied_known_by(&mut self, peer: &NodeId) {
        self.announce_empty.remove(peer);
    }

    /// `node` announced at `now_ms` that it came back without its jobs.
    pub(crate) fn note_emptied(&mut self, node: NodeId, now_ms: u64) {
        self.emptied.insert(node, now_ms);
    }

    /// When `node` announced it came back empty, within the quarantine.
    pub(crate) fn emptied_at(&self, node: &NodeId) -> Option<u64> {
        self.emptied.get(node).copied()
    }

    // ----- checks and reset --------------------------------------------------------

    /// Jobs it tracks: under-replicated ones and announced holder lists
    /// (what its invariant check visits, for the pace of `Node::debug_check`).
    #[cfg(debug_assertions)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.announcements.len()
    }

    /// Panics unless the ready and waiting sets index exactly the entries
    /// in those slots, `rounds` counts the entries with a round, and the due
    /// set indexes exactly the scheduled announcements.
    pub(crate) fn check_invariants(&self) {
        let (mut ready, mut waiting, mut rounds) = (0, 0, 0);
        for (id, entry) in &self.entries {
            match entry.slot {
                Slot::Ready(live) => {
                    ready += 1;
                    assert!(self.ready.contains(&(live, *id)), "{id:?} is ready");
                }
                Slot::Waiting(at) => {
                    waiting += 1;
                    assert!(self.waiting.contains(&(at, *id)), "{id:?} is waiting");
                }
                Slot::Stuck => {}
            }
            rounds += usize::from(entry.round.is_some());
        }
        assert_eq!(ready, self.ready.len(), "ready entries");
        assert_eq!(waiting, self.waiting.len(), "waiting entries");
        assert_eq!(rounds, self.rounds, "rounds counted");
        let mut due = 0;
        for (id, a) in &self.announcements {
            if let Some(at) = a.due {
                due += 1;
                assert!(self.announce_due.contains(&(at, *id)), "{id:?} announced");
            }
        }
        assert_eq!(due, self.announce_due.len(), "announcements due");
    }

    /// Forgets every job (FLUSHALL, CLUSTER RESET, `rereplicate no`); the
    /// counter stays.
    pub(crate) fn clear(&mut self) {
        let rereplicated = self.rereplicated;
        *self = Rereplication {
            rereplicated,
            ..Rereplication::default()
        };
    }
}
