//! Test support for Disque, shared by the end-to-end tests of
//! `disque-server`, the core's tests and the fault checker (`disque-faults`):
//!
//! - [`server`]: one real `disque-server` process on a free loopback port,
//!   killed on drop; [`cluster`]: N of them joined with `CLUSTER MEET`;
//! - [`raw`]: a socket that checks exact reply bytes; [`reply`]: helpers
//!   that read replies and poll with deadlines ([`poll_until!`]);
//! - [`layer`] and [`scenarios`]: docs/behaviour-scenarios.md written once
//!   against the [`layer::Layer`] trait and run on two layers, the core state
//!   machine with a fake clock (`crates/core/tests`) and a real process over
//!   RESP ([`layer::Process`], `crates/server/tests`).
//!
//! The crate is `publish = false`: a dev-dependency of the server and the
//! core, and a dependency of `disque-stress`, whose fault checker drives the
//! same process clusters as the tests.

#![warn(missing_docs)]

pub mod cluster;
pub mod layer;
pub mod raw;
pub mod reply;
pub mod scenarios;
pub mod server;

pub use cluster::*;
pub use disque_client::{Client, Reply};
pub use raw::Raw;
pub use reply::*;
pub use server::*;
