//! Re-replication (decision D8): topping up the copies of jobs whose holders
//! failed, were forgotten, are leaving, or came back empty.
//!
//! * **Under-replicated.** A job held here is under-replicated when fewer than
//!   `repl` of its listed holders are live: this node unless it is leaving, and
//!   peers that are known, not FAIL and not leaving. On a leaving node every job
//!   it holds needs a *drain* round instead: `repl` other nodes confirm a copy,
//!   then this node drops its own.
//! * **When checked.** A sweep over every job, in bounded chunks per tick, runs
//!   whenever the set of live or reachable nodes changes (a holder marked FAIL,
//!   forgotten, leaving, a node reachable again), and when a node announces it
//!   restarted without its jobs ([`Message::Emptied`]).
//! * **Who acts.** The job's holders ranked by node id, live ones first, then
//!   leaving ones: the holder at rank `r` acts `r × FALLBACK_MS` after it found
//!   the job under-replicated, and only if it still is, so normally exactly one
//!   holder (the live one with the lowest id) acts; the others only step in when
//!   it does not (it lost its own copy, or refused it). A job found again
//!   after no node could take a copy is ranked afresh, so a node joining does
//!   not make every holder act at once. A race that makes an extra copy is
//!   harmless: copies are `active`, never a second queued copy.
//! * **A round.** The listed live holders are asked whether they hold the job
//!   ([`Message::HasJob`], which never creates a copy), and as many new
//!   reachable nodes as are missing receive REPLJOB (they join the holder list
//!   first, so acks reach them, and so does this node, which may hold a copy
//!   imported through YOURJOBS without being listed); each retry asks again,
//!   sends REPLJOB to listed holders that did not answer the check, and adds
//!   one more node, until `repl` live nodes confirmed with GOTJOB. Then every holder learns
//!   the final holder list ([`Message::Holders`], which never creates a copy
//!   either, and is answered with GOTJOB), so acks, GC, WILLQUEUE/QUEUED and
//!   federation use it; it is sent again, up to `INFORM_TRIES` times, until
//!   every live holder answered, because until then only this node and the
//!   new holders know them. The job keeps its state, counters, RETRY and TTL.
//!   (A holder that deletes a job passes the DELJOB on to holders the sender
//!   did not list, and SETACK carries the sender's list: see `acks.rs`.)
//! * **Never re-replicated:** acked jobs, expired ones, at-most-once jobs
//!   (RETRY 0), dummy ACKs, jobs whose ADDJOB is still replicating. A job
//!   stops counting as under-replicated when it is acked, and when a HOLDERS
//!   list or a sweep shows it has its copies again.
//! * **Pace.** At most `BATCH` rounds start or retry per tick (ticks come every
//!   `PERIOD_MS` while work is ready), at most `MAX_ROUNDS` wait for answers,
//!   fewest live copies first.
//! * **A node that comes back empty** (no job after loading its AOF, or none)
//!   tells each peer so ([`Message::Emptied`]) before anything else on its first
//!   link to it; the peer removes it from every holder list and sweeps. Until
//!   the peer's PONG proves the announcement arrived, the node refuses copies
//!   from that peer, so no copy it takes can be struck off by it. Everything
//!   else it sends that peer (GOTJOB, NEEDJOBS...) follows the announcement on
//!   the same link. For `EMPTIED_QUARANTINE_MS` the peer does not believe
//!   holder lists from third nodes that name it for jobs older than the
//!   announcement (they may have been sent before those nodes heard it); a
//!   list it doubts marks the job `FLAG_REREPLICATED`, so acks ask every node.

use crate::ids::{JobId, NodeId};
use std::collections::{BTreeMap, BTreeSet};

mod protocol;

/// Jobs examined per tick by a sweep.
const SWEEP_CHUNK: i64 = 20_000;
/// Rounds started or retried per tick.
const BATCH: usize = 1_000;
/// Rounds waiting for confirmations at once.
const MAX_ROUNDS: usize = 20_000;
/// How long a round waits for confirmations before asking again.
const ROUND_RETRY_MS: u64 = 1_000;
/// Attempts of a round before it waits for the next membership change
/// (every node asked refuses, e.g. under memory pressure).
const ROUND_TRIES: u32 = 10;
/// How long each rank waits for the holders before it to act.
const FALLBACK_MS: u64 = 3_000;
/// Tick period while rounds are ready or a sweep runs.
const PERIOD_MS: u64 = 10;
/// Attempts to tell a reachable holder the holder list.
const ANNOUNCE_TRIES: u32 = 3;
/// How long after a node announced it came back empty the holder lists that
/// other nodes send are not believed about it (for jobs older than the
/// announcement): they may have been sent before those nodes heard the
/// announcement (the first frame on each of its links).
const EMPTIED_QUARANTINE_MS: u64 = 10_000;

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

/// The re-replication state of a node. Its fields are private to this
/// module and to [`protocol`], the protocol that drives it.
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
    /// The live and reachable nodes (and whether this node leaves) last seen.
    view: (Vec<NodeId>, Vec<NodeId>, bool),
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

    fn remove(&mut self, id: &JobId) -> Option<Entry> {
        self.set_slot(id, Slot::Stuck);
        let entry = self.entries.remove(id)?;
        if entry.round.is_some() {
            self.rounds -= 1;
        }
        Some(entry)
    }

    /// An acked job is never re-replicated: it no longer counts as
    /// under-replicated (its holder list is still announced).
    pub(crate) fn job_acked(&mut self, id: &JobId) {
        if !self.entries.is_empty() {
            self.remove(id);
        }
    }

    /// Forgets a deleted job.
    pub(crate) fn job_deleted(&mut self, id: &JobId) {
        self.job_acked(id);
        if !self.announcements.is_empty() {
            self.stop_announcing(id);
        }
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

    fn stop_announcing(&mut self, id: &JobId) {
        self.schedule_announcement(id, None);
        self.announcements.remove(id);
    }

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
