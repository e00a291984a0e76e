//! The Disque server shell: the I/O around the `disque-core` state machine.
//!
//! * [`config`]: configuration file, command line, CONFIG GET/SET/REWRITE;
//!   [`config_glue`]: what a change means to the running server;
//! * [`server`]: startup, listeners, the ticker, signals;
//! * [`connection`]: one client connection (RESP in, replies out, blocking);
//! * [`dispatch`]: the command processing order of the spec; [`action`]: what
//!   a connection does after a command;
//! * [`commands`]: commands the server runs itself (INFO, CLIENT, DEBUG, ...);
//! * [`clients`], [`state`]: shared server state (`state` lists the module
//!   that owns each field); [`stats`]: the INFO counters;
//! * [`slowlog`], [`latency`]: SLOWLOG and LATENCY;
//! * [`aof`], [`aof_file`], [`aof_load`], [`group_commit`]: the append-only
//!   file (write, read, load, fsync);
//! * [`bus`]: the cluster bus transport (frames between nodes);
//! * [`bus_auth`]: the `cluster-password` handshake of bus links;
//! * [`tls`]: TLS for clients and the bus;
//! * [`security`]: protected mode, who may run DEBUG or change paths;
//! * [`http`]: `http-port`: `/metrics`, `/api/...` and the dashboard (D19);
//! * [`alloc`]: the counting allocator behind `used_memory`; [`log`]: the log.

pub mod action;
pub mod alloc;
pub mod aof;
pub mod aof_file;
pub mod aof_load;
pub mod bus;
pub mod bus_auth;
pub mod clients;
pub mod commands;
pub mod config;
pub mod config_glue;
pub mod connection;
pub mod dispatch;
pub mod group_commit;
pub mod http;
pub mod latency;
pub mod log;
pub mod nodes_conf;
pub mod security;
pub mod server;
pub mod shutdown;
pub mod slowlog;
pub mod state;
pub mod stats;
pub mod tls;

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the unit tests.

    use bytes::Bytes;

    /// A command's arguments, one per word.
    pub fn cmd(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }
}
