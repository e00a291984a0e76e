//! An async client for Disque, the distributed job queue.
//!
//! * [`Client`] (module [`connection`]): one connection to one node. Send a
//!   command and read its reply with [`Client::call`], or pipeline with
//!   [`Client::send`] and [`Client::read_reply`]; typed helpers such as
//!   [`Client::add_job`] and [`Client::get_job`] turn replies into Rust
//!   values.
//! * [`ClusterClient`] (module [`cluster`]): asks a seed node for the
//!   cluster's nodes with `HELLO`, connects to the best one, moves to
//!   another node when the current one answers `-LEAVING` or dies, and
//!   sends commands about a job to the node that created it.
//! * [`Worker`] (module [`worker`]): the consume loop (concurrency limit,
//!   ACKJOB on success, NACK on failure, WORKING heartbeats, graceful
//!   shutdown).
//! * [`ClientOptions`] (module [`options`]): connect and command timeouts,
//!   reconnection back-off, password.
//! * [`commands`]: the typed methods; [`jobs`] and [`queues`]: their option
//!   and result types.
//!
//! The crate's README has more examples; `examples/producer.rs` and
//! `examples/worker.rs` run against a node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), disque_client::ClientError> {
//! use disque_client::{AddJobOptions, Client, GetJobOptions};
//!
//! let mut client = Client::connect("127.0.0.1:7711").await?;
//! let id = client.add_job("queue", "body", 0, &AddJobOptions::default()).await?;
//! let jobs = client.get_job(&["queue"], &GetJobOptions::default()).await?;
//! client.ack_job(&[jobs[0].id.as_str()]).await?;
//! # let _ = id;
//! # Ok(())
//! # }
//! ```
//!
#![doc = include_str!("../README.md")]

use std::fmt;
use std::io;

pub mod cluster;
pub mod commands;
pub mod connection;
pub mod jobs;
pub mod options;
pub mod queues;
pub mod worker;

pub use cluster::ClusterClient;
pub use connection::Client;
pub use disque_proto::Reply;
pub use jobs::{AddJobOptions, DeadLetter, GetJobOptions, Hello, HelloNode, Job, JobInfo};
pub use options::{Backoff, ClientOptions};
pub use queues::{JobScan, Pause, QueueScan, QueueStat, ScanPage};
pub use worker::{Worker, WorkerOptions, WorkerReport};

/// Why a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed (connect, read or write).
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server sent bytes that are not a RESP2 reply.
    Protocol(disque_proto::DecodeError),
    /// The server answered with an error reply (typed helpers only; the text
    /// includes its prefix, for example `BADID Invalid Job ID format.`).
    Server(String),
    /// The reply does not have the shape the command returns.
    UnexpectedReply(Reply),
    /// No reply (or no connection) within the configured timeout; the
    /// connection was dropped and the command may or may not have run.
    Timeout,
}

impl ClientError {
    /// True when the server refused the command because it is leaving the
    /// cluster (`-LEAVING ...`): the command had no effect, so it may be
    /// sent to another node.
    pub fn is_leaving(&self) -> bool {
        matches!(self, ClientError::Server(text) if text.starts_with("LEAVING"))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
            ClientError::Closed => f.write_str("Server closed the connection"),
            ClientError::Protocol(e) => write!(f, "protocol error: {e}"),
            ClientError::Server(text) => f.write_str(text),
            ClientError::UnexpectedReply(r) => write!(f, "unexpected reply: {r:?}"),
            ClientError::Timeout => f.write_str("timed out waiting for the server"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

impl From<disque_proto::DecodeError> for ClientError {
    fn from(e: disque_proto::DecodeError) -> ClientError {
        ClientError::Protocol(e)
    }
}

#[cfg(test)]
mod fake;
