//! Deterministic cluster simulation for `disque-core` (DESIGN.md §1, §6).
//!
//! * [`net`]: an in-process network of [`disque_core::Node`]s with a shared
//!   fake clock: it executes the cores' bus actions, carries their frames, and
//!   has knobs for message drops, delays, duplicates and reordering,
//!   partitions, and crashes with or without the AOF.
//! * [`sim`]: the simulator: one seed chooses a cluster, a workload of
//!   producers and consumers, and a fault schedule; invariants are checked
//!   continuously and after healing and a drain.
//! * [`trace`]: what happened, kept as data and rendered for a failing seed.

#![warn(missing_docs)]

pub mod net;
pub mod sim;
pub mod trace;

pub use net::{Crash, Faults, Fsync, Net, NetConfig, PartitionMode, Verdict};
