//! The Disque node state machine, free of I/O.
//!
//! A [`Node`] owns every job, queue and blocked client. The I/O shell feeds it
//! events with the current time ([`Env`]) and executes the [`Effects`] it returns:
//!
//! * [`Node::on_command`]: a client command (the shell did the dispatch checks);
//! * [`Node::on_tick`]: time passed (job timers, client timeouts, idle queues);
//! * [`Node::client_gone`]: a client disconnected.
//!
//! Modules, one concern each: [`ids`] (job and node ids), [`job`] (the record),
//! [`job_codec`] (its serialization), [`queue`], [`scan`] (QSCAN/JSCAN cursors),
//! [`args`] (argument rules), [`commands`] (the command table and the job and
//! queue commands), `timers` (the per-job scheduler), `blocking` (blocked clients),
//! `memory` (maxmemory levels and eviction), [`files`] (the AOF and
//! `nodes.conf` formats), `persistence` (AOF replay and snapshot),
//! `rereplication` (topping up copies after failures, decision D8).

mod acks;
pub mod args;
mod blocking;
pub mod cluster;
pub mod commands;
mod effects;
pub mod federation;
pub mod files;
pub mod ids;
pub mod job;
pub mod job_codec;
mod job_table;
mod memory;
mod node;
mod persistence;
pub mod queue;
mod replication;
mod requeue;
mod rereplication;
pub mod scan;
mod timers;

pub use effects::{ClientId, Effects, Env};
pub use node::{MaxmemoryPolicy, Node, NodeConfig, NodeStats};
pub use persistence::{AofError, HeldBus, LoadMode, Replay, Replayed};
