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

mod protocol;
mod state;

pub(crate) use state::Rereplication;

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
