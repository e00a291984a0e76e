//! The registry of connected clients: what CLIENT LIST shows, and the outbox
//! through which a client receives replies produced by other clients' commands
//! (a blocked GETJOB served by someone's ADDJOB), MONITOR lines and kills.
//!
//! A [`Client`]'s fields are private: the registry's methods change them,
//! each named for what happened, and each called by one module:
//!
//! | Method | Called by |
//! |---|---|
//! | [`Clients::register`], [`Clients::remove`] | `connection` |
//! | [`Clients::note_input`], [`Clients::set_query_buffer`] | `connection` |
//! | [`Clients::block`], [`Clients::unblock`] | `connection` (the shell's only copy of "blocked") |
//! | [`Clients::command_ran`], [`Clients::set_monitor`] | `dispatch` |
//! | [`Clients::authenticate`] | `commands` (AUTH) |
//! | [`Clients::set_name`], [`Clients::set_reply_mode`] | `commands::client` (CLIENT SETNAME, CLIENT REPLY) |

use bytes::Bytes;
use disque_proto::Reply;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Something delivered to a connection from outside its own request stream.
#[derive(Debug)]
pub enum Outbound {
    /// A deferred reply; it also unblocks the client.
    Reply(Reply),
    /// A MONITOR line, already encoded.
    Monitor(Bytes),
    /// Close the connection (CLIENT KILL).
    Kill,
}

/// Whether replies are sent (CLIENT REPLY).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Normal.
    On,
    /// No replies until `CLIENT REPLY ON`.
    Off,
    /// Skip the reply of the next command only.
    Skip,
}

/// Where a connection comes from.
pub struct Peer {
    /// `ip:port` or the unix socket path.
    pub addr: String,
    /// The socket's file descriptor number.
    pub fd: i32,
    /// A unix-socket client.
    pub unix: bool,
    /// A local client: 127.0.0.1, ::1 or the unix socket (decision D14).
    pub local: bool,
}

/// One connected client (read through its methods; changed through
/// [`Clients`]).
#[derive(Debug)]
pub struct Client {
    /// Unique id (CLIENT LIST `id=`, CLIENT KILL ID).
    id: u64,
    /// Peer address `ip:port`, or the socket path for unix clients.
    addr: String,
    /// File descriptor number.
    fd: i32,
    /// Connected through the unix socket.
    unix: bool,
    /// Local (127.0.0.1, ::1 or the unix socket): may use what D14 keeps
    /// for local clients.
    local: bool,
    /// CLIENT SETNAME.
    name: Option<Bytes>,
    /// Connection time.
    created: Instant,
    /// Last command or input.
    last_interaction: Instant,
    /// Last command name (`NULL` before any).
    last_command: &'static str,
    /// Authenticated under this password epoch (see [`crate::state::State::auth_epoch`]).
    auth_epoch: Option<u64>,
    /// In MONITOR mode.
    monitor: bool,
    /// Blocked in GETJOB or ADDJOB: from the command that blocked until its
    /// deferred reply reaches the connection (input waits meanwhile). The
    /// shell's only copy of "blocked" (the core keeps why and until when);
    /// set and cleared by [`crate::connection`] alone.
    blocked: bool,
    /// CLIENT REPLY state.
    reply_mode: ReplyMode,
    /// Bytes waiting in the query buffer.
    query_buffer: usize,
    /// Where deferred replies go.
    outbox: UnboundedSender<Outbound>,
}

impl Client {
    /// Unique id (CLIENT LIST `id=`, CLIENT KILL ID).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Peer address `ip:port`, or the socket path for unix clients.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// File descriptor number.
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Connected through the unix socket.
    pub fn is_unix(&self) -> bool {
        self.unix
    }

    /// Local (127.0.0.1, ::1 or the unix socket): may use what D14 keeps
    /// for local clients.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// The CLIENT SETNAME name.
    pub fn name(&self) -> Option<&Bytes> {
        self.name.as_ref()
    }

    /// Time since the connection was accepted.
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Time since the last command or input.
    pub fn idle(&self) -> Duration {
        self.last_interaction.elapsed()
    }

    /// Last command name (`NULL` before any).
    pub fn last_command(&self) -> &'static str {
        self.last_command
    }

    /// The password epoch the client authenticated under, if any.
    pub fn auth_epoch(&self) -> Option<u64> {
        self.auth_epoch
    }

    /// In MONITOR mode.
    pub fn is_monitor(&self) -> bool {
        self.monitor
    }

    /// Blocked in GETJOB or ADDJOB until its deferred reply arrives.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Bytes waiting in the query buffer.
    pub fn query_buffer(&self) -> usize {
        self.query_buffer
    }
}

/// All connected clients by id.
#[derive(Debug, Default)]
pub struct Clients {
    clients: BTreeMap<u64, Client>,
    next_id: u64,
    monitors: usize,
}

impl Clients {
    /// Adds a client connected from `peer`, whose deferred replies go to
    /// `outbox`; returns its new id.
    pub fn register(&mut self, peer: Peer, outbox: UnboundedSender<Outbound>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let now = Instant::now();
        self.clients.insert(
            id,
            Client {
                id,
                addr: peer.addr,
                fd: peer.fd,
                unix: peer.unix,
                local: peer.local,
                name: None,
                created: now,
                last_interaction: now,
                last_command: "NULL",
                auth_epoch: None,
                monitor: false,
                blocked: false,
                reply_mode: ReplyMode::On,
                query_buffer: 0,
                outbox,
            },
        );
        id
    }

    /// Applies `change` to client `id`, if it is still connected.
    fn change(&mut self, id: u64, change: impl FnOnce(&mut Client)) {
        if let Some(c) = self.clients.get_mut(&id) {
            change(c);
        }
    }

    /// Removes a client.
    pub fn remove(&mut self, id: u64) -> Option<Client> {
        let client = self.clients.remove(&id)?;
        if client.monitor {
            self.monitors -= 1;
        }
        Some(client)
    }

    /// Input arrived from the client: it is not idle, and `query_buffer`
    /// bytes wait to be parsed.
    pub fn note_input(&mut self, id: u64, query_buffer: usize) {
        self.change(id, |c| {
            c.last_interaction = Instant::now();
            c.query_buffer = query_buffer;
        });
    }

    /// `query_buffer` bytes are left after running the client's requests.
    pub fn set_query_buffer(&mut self, id: u64, query_buffer: usize) {
        self.change(id, |c| c.query_buffer = query_buffer);
    }

    /// The client's command blocked: its input waits for the deferred reply.
    pub fn block(&mut self, id: u64) {
        self.change(id, |c| c.blocked = true);
    }

    /// The deferred reply reached the client: it runs commands again, and
    /// the time spent blocked does not count as idleness.
    pub fn unblock(&mut self, id: u64) {
        self.change(id, |c| {
            c.blocked = false;
            c.last_interaction = Instant::now();
        });
    }

    /// The client ran `name` (its last command, for CLIENT LIST). When the
    /// command `replies` now, returns whether that reply is sent, by CLIENT
    /// REPLY (errors included, like Redis): ON sends, OFF does not, SKIP
    /// drops this one reply and turns replies back on. True for an unknown
    /// client, or a command that does not reply now. One lookup for both,
    /// on every command's path.
    pub fn command_ran(&mut self, id: u64, name: &'static str, replies: bool) -> bool {
        let Some(c) = self.clients.get_mut(&id) else {
            return true;
        };
        c.last_command = name;
        if !replies {
            return true;
        }
        match c.reply_mode {
            ReplyMode::On => true,
            ReplyMode::Off => false,
            ReplyMode::Skip => {
                c.reply_mode = ReplyMode::On;
                false
            }
        }
    }

    /// AUTH: the client is authenticated under password epoch `epoch`
    /// (`None`: not authenticated).
    pub fn authenticate(&mut self, id: u64, epoch: Option<u64>) {
        self.change(id, |c| c.auth_epoch = epoch);
    }

    /// CLIENT SETNAME (`None` clears the name).
    pub fn set_name(&mut self, id: u64, name: Option<Bytes>) {
        self.change(id, |c| c.name = name);
    }

    /// CLIENT REPLY ON|OFF|SKIP.
    pub fn set_reply_mode(&mut self, id: u64, mode: ReplyMode) {
        self.change(id, |c| c.reply_mode = mode);
    }

    /// Puts a client in MONITOR mode.
    pub fn set_monitor(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            if !c.monitor {
                c.monitor = true;
                self.monitors += 1;
            }
        }
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A client by id.
    pub fn get(&self, id: u64) -> Option<&Client> {
        self.clients.get(&id)
    }

    /// Every client in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// Delivers something to a client's connection (ignored if it is gone).
    pub fn send(&self, id: u64, message: Outbound) {
        if let Some(c) = self.clients.get(&id) {
            let _ = c.outbox.send(message);
        }
    }

    /// True when at least one client is in MONITOR mode.
    pub fn has_monitors(&self) -> bool {
        self.monitors > 0
    }

    /// Sends a MONITOR line to every monitor.
    pub fn feed_monitors(&self, line: Bytes) {
        for c in self.clients.values().filter(|c| c.monitor) {
            let _ = c.outbox.send(Outbound::Monitor(line.clone()));
        }
    }
}
