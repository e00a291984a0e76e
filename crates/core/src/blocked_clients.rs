//! The clients blocked in GETJOB or in a synchronous ADDJOB, their deadlines,
//! and the queues whose blocked clients may now be served. Only this module
//! changes them; the invariant it keeps is one deadline entry per blocked
//! client with a deadline, and none for anyone else.

use crate::effects::ClientId;
use crate::hashing::Map;
use crate::ids::JobId;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};

/// Why a client is blocked.
#[derive(Debug)]
pub enum Blocked {
    /// GETJOB waiting for a job on any of these queues.
    GetJob {
        /// The queues, duplicates removed.
        queues: Vec<Bytes>,
        /// Absolute ms deadline, if any.
        deadline: Option<u64>,
        /// Reply with counters.
        with_counters: bool,
    },
    /// A synchronous ADDJOB waiting for its copies.
    AddJob {
        /// The job.
        job: JobId,
        /// Absolute ms deadline, if any.
        deadline: Option<u64>,
    },
}

impl Blocked {
    fn deadline(&self) -> Option<u64> {
        match self {
            Blocked::GetJob { deadline, .. } | Blocked::AddJob { deadline, .. } => *deadline,
        }
    }
}

/// The blocked clients of a node.
#[derive(Debug)]
pub(crate) struct BlockedClients {
    /// Every blocked client and what it waits for.
    clients: Map<ClientId, Blocked>,
    /// Blocked clients with a timeout, by `(deadline, client)`.
    deadlines: BTreeSet<(u64, ClientId)>,
    /// Queues that received jobs (or were unpaused) while clients were blocked on them.
    ready_queues: Vec<Bytes>,
}

impl BlockedClients {
    /// Nobody blocked; the map is keyed by `hasher`.
    pub(crate) fn new(hasher: ahash::RandomState) -> BlockedClients {
        BlockedClients {
            clients: HashMap::with_hasher(hasher),
            deadlines: BTreeSet::new(),
            ready_queues: Vec::new(),
        }
    }

    /// Records a blocked client (replacing what it was blocked on, if anything).
    pub(crate) fn block(&mut self, client: ClientId, blocked: Blocked) {
        if let Some(deadline) = blocked.deadline() {
            self.deadlines.insert((deadline, client));
        }
        if let Some(old) = self.clients.insert(client, blocked) {
            if let Some(deadline) = old.deadline() {
                self.deadlines.remove(&(deadline, client));
            }
        }
    }

    /// What `client` is blocked on.
    pub(crate) fn get(&self, client: ClientId) -> Option<&Blocked> {
        self.clients.get(&client)
    }

    /// Forgets a blocked client and its deadline; returns what it was blocked on.
    pub(crate) fn unblock(&mut self, client: ClientId) -> Option<Blocked> {
        let blocked = self.clients.remove(&client)?;
        if let Some(deadline) = blocked.deadline() {
            self.deadlines.remove(&(deadline, client));
        }
        Some(blocked)
    }

    /// [`BlockedClients::unblock`] for a client blocked in ADDJOB only; true if it was.
    pub(crate) fn unblock_addjob(&mut self, client: ClientId) -> bool {
        if !matches!(self.clients.get(&client), Some(Blocked::AddJob { .. })) {
            return false;
        }
        self.unblock(client).is_some()
    }

    /// Number of blocked clients.
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    /// Every blocked client.
    pub(crate) fn clients(&self) -> Vec<ClientId> {
        self.clients.keys().copied().collect()
    }

    /// The clients blocked in GETJOB.
    pub(crate) fn getjob_clients(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, b)| matches!(b, Blocked::GetJob { .. }))
            .map(|(c, _)| *c)
            .collect()
    }

    /// The earliest `(deadline, client)`.
    pub(crate) fn first_deadline(&self) -> Option<(u64, ClientId)> {
        self.deadlines.first().copied()
    }

    /// Notes that clients blocked on `queue` may be served now.
    pub(crate) fn mark_ready(&mut self, queue: Bytes) {
        self.ready_queues.push(queue);
    }

    /// The next queue to serve.
    pub(crate) fn pop_ready(&mut self) -> Option<Bytes> {
        self.ready_queues.pop()
    }

    /// Forgets the queues to serve (their queues are gone).
    pub(crate) fn clear_ready(&mut self) {
        self.ready_queues.clear();
    }

    /// Panics unless each deadline entry names a blocked client with that
    /// deadline, and each blocked client with a deadline has its entry.
    pub(crate) fn check_invariants(&self) {
        for (deadline, client) in &self.deadlines {
            let blocked = self.clients.get(client);
            assert_eq!(
                blocked.and_then(Blocked::deadline),
                Some(*deadline),
                "deadline of client {client} names it blocked until then"
            );
        }
        let with_deadline = self.clients.values().filter(|b| b.deadline().is_some());
        assert_eq!(
            with_deadline.count(),
            self.deadlines.len(),
            "one deadline entry per blocked client with a timeout"
        );
    }
}
