//! [`Action`]: what a connection does after one command. Produced by
//! [`crate::dispatch`] and the command handlers, carried out by
//! [`crate::connection`].

use disque_proto::Reply;

/// What the connection does after a command.
#[derive(Debug)]
pub enum Action {
    /// Send this reply (subject to CLIENT REPLY).
    Reply(Reply),
    /// Send nothing now: the client is blocked until a deferred reply arrives.
    Blocked,
    /// Send this reply, then close the connection.
    ReplyAndClose(Reply),
    /// Send nothing (CLIENT REPLY OFF or SKIP).
    NoReply,
}
