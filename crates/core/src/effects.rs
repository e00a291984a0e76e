//! What the core asks the I/O shell to do: plain data, executed by the shell.

use crate::cluster::BusAction;
use bytes::BytesMut;
use disque_proto::Reply;

/// A client connection as the core knows it.
pub type ClientId = u64;

/// What the outside world tells the core along with every event.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// Wall clock, Unix milliseconds.
    pub now_ms: u64,
    /// Bytes the process has allocated (for the maxmemory levels).
    pub used_memory: u64,
}

impl Env {
    /// Wall clock, Unix seconds.
    pub fn now_s(&self) -> u64 {
        self.now_ms / 1000
    }
}

/// Side effects of one event, collected by the caller and executed in order:
/// AOF records first, then replies, then bus actions.
///
/// Every entry point of the core takes the caller's `&mut Effects` and only
/// appends to it, so no entry point can drop what an event produced; the
/// type is `#[must_use]` so that a function handing effects back cannot
/// have them ignored either.
#[must_use = "the shell must execute the effects"]
#[derive(Debug, Default)]
pub struct Effects {
    /// Deferred replies to blocked clients; each one also unblocks its client.
    pub replies: Vec<(ClientId, Reply)>,
    /// RESP-encoded records to append to the AOF (only when AOF logging is on).
    pub aof: BytesMut,
    /// What the cluster bus transport must do (connect, send, close).
    pub bus: Vec<BusAction>,
    /// The cluster view changed (node id, leaving flag): save `nodes.conf`.
    pub save_cluster_config: bool,
}
