//! RESP2, the Redis wire protocol that Disque speaks to clients.
//!
//! * [`reply`]: the [`Reply`] value and its encoder (server side).

pub mod reply;

pub use reply::Reply;
