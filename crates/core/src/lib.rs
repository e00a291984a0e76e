//! The Disque node state machine, free of I/O.
//!
//! A [`Node`] owns every job, queue and blocked client. The I/O shell feeds it
//! events with the current time ([`Env`]) and executes the [`Effects`] it returns:
//!
//! * [`Node::on_command`]: a client command (the shell did the dispatch checks);
//! * [`Node::on_tick`]: time passed (job timers, client timeouts, idle queues);
//! * [`Node::client_gone`]: a client disconnected.
//!
//! The state lives in parts that own it, each behind a small API (`node`
//! has the table of [`Node`]'s fields and their owners): `job_table`,
//! `queue_table`, `blocked_clients`, `repl_waiters`, `federation_state`,
//! [`cluster::membership`] and `rereplication`. The rules live in behaviour
//! modules that coordinate the parts: [`commands`] (the command table and the
//! job and queue commands), `acks`, `requeue`, `replication`, [`federation`],
//! `blocking` (blocked clients), `timers` (the per-job scheduler), `memory`
//! (maxmemory levels and eviction), [`files`] (the AOF and `nodes.conf`
//! formats), `persistence` (AOF replay and snapshot),
//! the protocols of membership and re-replication (decision D8). Plain data
//! and helpers: [`ids`] (job and node ids), [`job`] (the record),
//! [`job_codec`] (its serialization), [`queue`], [`scan`] (QSCAN/JSCAN
//! cursors), [`args`] (argument rules), `hashing` (seeded maps).
//!
//! [`Node::check_invariants`] checks every part; debug builds run it after
//! every event.

mod acks;
pub mod args;
mod blocked_clients;
mod blocking;
pub mod cluster;
pub mod commands;
mod effects;
pub mod federation;
mod federation_state;
pub mod files;
mod hashing;
pub mod ids;
pub mod job;
pub mod job_codec;
mod job_table;
mod memory;
mod node;
mod persistence;
pub mod queue;
mod queue_table;
mod repl_waiters;
mod replication;
mod reply_bytes;
mod requeue;
mod rereplication;
pub mod scan;
mod timers;

pub use effects::{ClientId, Effects, Env};
pub use node::{MaxmemoryPolicy, Node, NodeConfig, NodeStats};
pub use persistence::{AofError, HeldBus, LoadMode, Replay, Replayed};
