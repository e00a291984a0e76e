//! What the core knows of the AOF (docs/persistence.md §4, §5): replaying `LOADJOB`,
//! `DELJOB` and `AOFMETA` records ([`Replay`], used by the server's loader and
//! the simulator's restarts), the snapshot a rewrite writes, taking back what
//! `nodes.conf` said, and the rule that holds bus actions until the records of
//! their event are durable ([`HeldBus`]).

use crate::cluster::BusAction;
use crate::effects::{Effects, Env};
use crate::files::{Identity, Next};
use crate::ids::JobId;
use crate::job::{JobState, FLAG_BCAST_QUEUED, FLAG_DELIVERED};
use crate::job_codec::{self, CorruptJob, Form};
use crate::node::Node;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// How a `LOADJOB` record is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Normal load: every job comes back `active`, requeued after DELAY + RETRY.
    Normal,
    /// `aof-enqueue-jobs-once`: jobs stored `queued` are queued again at once.
    EnqueueOnce,
    /// Decision D5: a snapshot written by `SHUTDOWN REWRITE-AOF`, loaded with
    /// `aof-enqueue-jobs-once`: jobs come back exactly as they were, queued
    /// at-most-once jobs included.
    ExactState,
}

/// The shell's rule for bus actions and AOF records (issue 8, part 1): the
/// actions of an event that produced records leave once those records are as
/// durable as the fsync policy promises (written, and fsynced with
/// `appendfsync always`), and every later action waits behind them, so a
/// peer told "I have this job" can rely on the copy surviving a crash.
/// Positions count the AOF bytes a process has produced since it started.
/// The server and the simulator both send through it.
#[derive(Debug, Default)]
pub struct HeldBus {
    held: VecDeque<(u64, BusAction)>,
}

impl HeldBus {
    /// Queues `actions` to go out once the AOF is durable up to `needs` (as
    /// soon as the actions before them when `None`).
    pub fn send_after(&mut self, needs: Option<u64>, actions: impl IntoIterator<Item = BusAction>) {
        let needs = needs.unwrap_or(0);
        self.held.extend(actions.into_iter().map(|a| (needs, a)));
    }

    /// True while actions wait.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// Removes and returns the leading actions that need at most `durable`.
    pub fn take_ready(&mut self, durable: u64) -> Vec<BusAction> {
        let n = self
            .held
            .iter()
            .take_while(|(needs, _)| *needs <= durable)
            .count();
        self.held.drain(..n).map(|(_, action)| action).collect()
    }
}

/// Why an AOF cannot be loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum AofError {
    /// A record the loader cannot accept (what and where): the file is left
    /// untouched.
    Corrupt(String),
    /// The file ends inside the record at this offset and
    /// `aof-load-truncated` is off.
    Truncated(u64),
}

/// What [`Replay::take`] did with what the reader found.
#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Replayed a record; read on.
    Record,
    /// The file is done.
    End,
    /// The file ends inside the record at this offset, accepted with
    /// `aof-load-truncated yes`: the file is to be cut there, and the load is
    /// done.
    CutAt(u64),
}

/// Replays the records of one AOF into a node, in file order
/// (docs/persistence.md §4). The effects of every record go to the caller,
/// who carries them out as after any other event.
#[derive(Debug)]
pub struct Replay {
    mode: LoadMode,
    enqueue_once: bool,
    truncated_ok: bool,
    /// Jobs loaded so far.
    pub loaded_jobs: u64,
}

impl Replay {
    /// A replay with `aof-enqueue-jobs-once` and `aof-load-truncated` as given.
    pub fn new(enqueue_once: bool, truncated_ok: bool) -> Replay {
        Replay {
            mode: if enqueue_once {
                LoadMode::EnqueueOnce
            } else {
                LoadMode::Normal
            },
            enqueue_once,
            truncated_ok,
            loaded_jobs: 0,
        }
    }

    /// Takes what the reader found next at the reading position.
    pub fn take(
        &mut self,
        node: &mut Node,
        env: &Env,
        next: Next,
        fx: &mut Effects,
    ) -> Result<Replayed, AofError> {
        match next {
            Next::End => Ok(Replayed::End),
            Next::Truncated { offset } if self.truncated_ok => Ok(Replayed::CutAt(offset)),
            Next::Truncated { offset } => Err(AofError::Truncated(offset)),
            Next::Bad { offset, reason } => {
                Err(AofError::Corrupt(format!("{reason} at offset {offset}")))
            }
            Next::Record { offset, args, .. } => {
                self.record(node, env, offset, &args, fx)?;
                Ok(Replayed::Record)
            }
        }
    }

    fn record(
        &mut self,
        node: &mut Node,
        env: &Env,
        offset: u64,
        args: &[Bytes],
        fx: &mut Effects,
    ) -> Result<(), AofError> {
        let is = |word: &[u8]| args.len() == 2 && args[0].eq_ignore_ascii_case(word);
        if is(b"loadjob") {
            node.load_job(env, &args[1], self.mode, fx).map_err(|_| {
                AofError::Corrupt(format!("corrupted LOADJOB data at offset {offset}"))
            })?;
            self.loaded_jobs += 1;
        } else if is(b"deljob") {
            let id = JobId::parse(&args[1]).ok_or_else(|| {
                AofError::Corrupt(format!("bad job id in DELJOB at offset {offset}"))
            })?;
            node.load_deljob(&id);
        } else if is(b"aofmeta") {
            if self.enqueue_once {
                self.mode = if &args[1][..] == b"snapshot-begin" {
                    LoadMode::ExactState
                } else {
                    LoadMode::EnqueueOnce
                };
            }
        } else {
            return Err(AofError::Corrupt(format!(
                "unknown command '{}' at offset {offset}",
                String::from_utf8_lossy(&args[0])
            )));
        }
        Ok(())
    }
}

impl Node {
    /// Takes back what `nodes.conf` said (docs/cluster.md §3): this node's IP
    /// and LEAVING state, and the nodes it knew.
    pub fn restore_identity(&mut self, env: &Env, identity: Identity) {
        self.set_leaving(identity.leaving);
        self.set_my_ip(identity.my_ip);
        for peer in identity.peers {
            self.add_saved_peer(env, peer);
        }
    }

    /// Replays one `LOADJOB` payload. Expired jobs and duplicates are skipped.
    pub fn load_job(
        &mut self,
        env: &Env,
        payload: &Bytes,
        mode: LoadMode,
        fx: &mut Effects,
    ) -> Result<(), CorruptJob> {
        let decoded = job_codec::decode_named(payload, Form::Storage, env.now_ms, |name| {
            self.queue_name(name)
        })?;
        let mut job = decoded.job;
        if job.etime() <= env.now_s() || self.jobs.contains_key(&job.id()) {
            return Ok(());
        }
        let was_queued = job.state() == JobState::Queued;
        if job.state() == JobState::WaitRepl || job.state() == JobState::Acked {
            return Err(CorruptJob);
        }
        // Holders still known keep receiving acks and requeue notices.
        let known = decoded
            .nodes
            .into_iter()
            .filter(|n| self.is_known_node(n))
            .collect();
        job.become_copy(self.holders_with_me(known));
        let exact = mode == LoadMode::ExactState;
        // Never queued yet and still within its DELAY (D5: restored exactly).
        let awaiting_delay = exact
            && !was_queued
            && job.delay() > 0
            && !job.has(FLAG_BCAST_QUEUED)
            && !job.has(FLAG_DELIVERED);
        if awaiting_delay {
            job.schedule_queueing((job.ctime_ms() + job.delay() as u64 * 1000).max(env.now_ms));
        } else if job.retry() > 0 {
            job.schedule_requeue(
                self.jittered(env.now_ms + job.delay() as u64 * 1000, job.retry()),
            );
        } else {
            job.schedule_queueing(if exact && was_queued { env.now_ms } else { 0 });
        }
        job.honour_nack_delay(decoded.nack_delay_until);
        let id = job.id();
        self.register(env, job);
        if was_queued && mode != LoadMode::Normal {
            self.enqueue(env, &id, false, fx);
        }
        Ok(())
    }

    /// Replays one `DELJOB` record.
    pub fn load_deljob(&mut self, id: &JobId) {
        let mut fx = Effects::default();
        let saved = std::mem::replace(&mut self.config_mut().aof_logging, false);
        self.unregister(id, &mut fx);
        self.config_mut().aof_logging = saved;
    }

    /// The records of a rewritten AOF: one `LOADJOB` (storage form, current state)
    /// per active or queued job.
    pub fn aof_snapshot(&self, out: &mut BytesMut) {
        let mut payload = BytesMut::new();
        for job in self.jobs.values().filter(|j| j.state().is_held()) {
            payload.clear();
            job_codec::encode(job, Form::Storage, 0, &mut payload);
            disque_proto::encode_request(&[&b"LOADJOB"[..], &payload], out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_bus_actions_leave_in_order_once_their_records_are_durable() {
        let mut bus = HeldBus::default();
        bus.send_after(None, vec![BusAction::Close(1)]);
        bus.send_after(Some(10), vec![BusAction::Close(2)]);
        // Nothing to wait for, but behind an action that waits.
        bus.send_after(None, vec![BusAction::Close(3)]);
        assert_eq!(bus.take_ready(9), vec![BusAction::Close(1)]);
        assert!(bus.has_held());
        assert_eq!(
            bus.take_ready(10),
            vec![BusAction::Close(2), BusAction::Close(3)]
        );
        assert!(!bus.has_held());
    }
}
