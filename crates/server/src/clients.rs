//! The registry of connected clients: what CLIENT LIST shows, and the outbox
//! through which a client receives replies produced by other clients' commands
//! (a blocked GETJOB served by someone's ADDJOB), MONITOR lines and kills.

use bytes::Bytes;
use disque_proto::Reply;
use std::collections::BTreeMap;
use std::time::Instant;
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

/// One connected client.
#[derive(Debug)]
pub struct Client {
    /// Unique id (CLIENT LIST `id=`, CLIENT KILL ID).
    pub id: u64,
    /// Peer address `ip:port`, or the socket path for unix clients.
    pub addr: String,
    /// File descriptor number.
    pub fd: i32,
    /// Connected through the unix socket.
    pub unix: bool,
    /// Local (127.0.0.1, ::1 or the unix socket): may use what D14 keeps
    /// for local clients.
    pub local: bool,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// Connection time.
    pub created: Instant,
    /// Last command or input.
    pub last_interaction: Instant,
    /// Last command name (`NULL` before any).
    pub last_command: &'static str,
    /// Authenticated under this password epoch (see [`crate::state::State::auth_epoch`]).
    pub auth_epoch: Option<u64>,
    /// In MONITOR mode.
    pub monitor: bool,
    /// Blocked in GETJOB or ADDJOB: from the command that blocked until its
    /// deferred reply reaches the connection (input waits meanwhile). The
    /// shell's only copy of "blocked" (the core keeps why and until when);
    /// set and cleared by [`crate::connection`] alone.
    pub blocked: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Bytes waiting in the query buffer.
    pub query_buffer: usize,
    /// Where deferred replies go.
    pub outbox: UnboundedSender<Outbound>,
}

/// All connected clients by id.
#[derive(Debug, Default)]
pub struct Clients {
    clients: BTreeMap<u64, Client>,
    next_id: u64,
    monitors: usize,
}

impl Clients {
    /// A new client id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a client.
    pub fn insert(&mut self, client: Client) {
        self.clients.insert(client.id, client);
    }

    /// Removes a client.
    pub fn remove(&mut self, id: u64) -> Option<Client> {
        let client = self.clients.remove(&id)?;
        if client.monitor {
            self.monitors -= 1;
        }
        Some(client)
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

    /// A client by id, mutable.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Client> {
        self.clients.get_mut(&id)
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
