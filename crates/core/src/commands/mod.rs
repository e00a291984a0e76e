//! The command table (docs/commands.md §1.3) and the job and queue commands the core
//! executes. Server-level commands (CONFIG, CLIENT, INFO, ...) live in the shell.

mod ack;
mod addjob;
mod cluster;
mod getjob;
mod queues;
mod requeue;
mod show;

use crate::effects::{ClientId, Effects, Env};
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

/// Every command a client can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum CommandId {
    Auth,
    Ping,
    Info,
    Shutdown,
    Monitor,
    Debug,
    Config,
    Cluster,
    Client,
    Slowlog,
    Time,
    Command,
    Latency,
    Hello,
    Addjob,
    Getjob,
    Ackjob,
    Fastack,
    Deljob,
    Show,
    Loadjob,
    Bgrewriteaof,
    Qlen,
    Qpeek,
    Qstat,
    Qscan,
    Jscan,
    Enqueue,
    Nack,
    Dequeue,
    Working,
    Pause,
}

/// Write command.
pub const FLAG_WRITE: u8 = 1;
/// Read-only command.
pub const FLAG_READONLY: u8 = 2;
/// Refused when out of memory.
pub const FLAG_DENYOOM: u8 = 4;
/// Administrative command.
pub const FLAG_ADMIN: u8 = 8;
/// Allowed while the AOF is loading.
pub const FLAG_LOADING: u8 = 16;
/// Fast command.
pub const FLAG_FAST: u8 = 32;

/// One row of the command table.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// What it is.
    pub id: CommandId,
    /// Exact argument count N, or at least N when negative (name included).
    pub arity: i32,
    /// `FLAG_*` bits.
    pub flags: u8,
}

impl CommandSpec {
    /// True when `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// True when `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        (self.arity > 0 && argc == self.arity) || (self.arity <= 0 && argc >= -self.arity)
    }

    /// Flag names as COMMAND shows them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        [
            (FLAG_WRITE, "write"),
            (FLAG_READONLY, "readonly"),
            (FLAG_DENYOOM, "denyoom"),
            (FLAG_ADMIN, "admin"),
            (FLAG_LOADING, "loading"),
            (FLAG_FAST, "fast"),
        ]
        .into_iter()
        .filter(|(f, _)| self.has(*f))
        .map(|(_, n)| n)
        .collect()
    }
}

const fn spec(name: &'static str, id: CommandId, arity: i32, flags: u8) -> CommandSpec {
    CommandSpec {
        name,
        id,
        arity,
        flags,
    }
}

use CommandId as C;
const W: u8 = FLAG_WRITE;
const R: u8 = FLAG_READONLY;
const M: u8 = FLAG_DENYOOM;
const A: u8 = FLAG_ADMIN;
const L: u8 = FLAG_LOADING;
const F: u8 = FLAG_FAST;

/// The 32 commands with their arity and flags.
pub const COMMANDS: [CommandSpec; 32] = [
    spec("auth", C::Auth, 2, R | L | F),
    spec("ping", C::Ping, -1, R | F),
    spec("info", C::Info, -1, R | L),
    spec("shutdown", C::Shutdown, -1, A | R | L),
    spec("monitor", C::Monitor, 1, A | R),
    spec("debug", C::Debug, -2, A),
    spec("config", C::Config, -2, A | R),
    spec("cluster", C::Cluster, -2, A | R),
    spec("client", C::Client, -2, A | R),
    spec("slowlog", C::Slowlog, -2, R),
    spec("time", C::Time, 1, R | F),
    spec("command", C::Command, 0, R | L),
    spec("latency", C::Latency, -2, A | R | L),
    spec("hello", C::Hello, 1, R | F),
    spec("addjob", C::Addjob, -4, W | M | F),
    spec("getjob", C::Getjob, -2, W | F),
    spec("ackjob", C::Ackjob, -1, W | F),
    spec("fastack", C::Fastack, -1, W | F),
    spec("deljob", C::Deljob, -1, W | F),
    spec("show", C::Show, 2, R | F),
    spec("loadjob", C::Loadjob, 2, W),
    spec("bgrewriteaof", C::Bgrewriteaof, 1, A | R),
    spec("qlen", C::Qlen, 2, R | F),
    spec("qpeek", C::Qpeek, 3, R),
    spec("qstat", C::Qstat, 2, R | F),
    spec("qscan", C::Qscan, -1, R),
    spec("jscan", C::Jscan, -1, R),
    spec("enqueue", C::Enqueue, -1, M | W | F),
    spec("nack", C::Nack, -1, M | W | F),
    spec("dequeue", C::Dequeue, -1, W | F),
    spec("working", C::Working, 2, W | F),
    spec("pause", C::Pause, -3, R | F),
];

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // The first letter rules out most names before the whole is compared.
    let first = name.first()?.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name.as_bytes()[0] == first && c.name.as_bytes().eq_ignore_ascii_case(name))
}

impl Node {
    /// Executes a job, queue or cluster command. `args[0]` is the command name.
    /// Returns the reply, or `None` when the client is now blocked (its reply will
    /// come later through [`Effects::replies`]). Clients blocked on queues that
    /// became ready are served before returning. A blocked client sends no
    /// command until its reply came (the shell stops reading it).
    #[must_use = "the reply must reach the client"]
    pub fn on_command(
        &mut self,
        env: &Env,
        client: ClientId,
        cmd: CommandId,
        args: &[Bytes],
        fx: &mut Effects,
    ) -> Option<Reply> {
        let reply = match cmd {
            C::Addjob => self.cmd_addjob(env, client, args, fx),
            C::Getjob => self.cmd_getjob(env, client, args, fx),
            C::Ackjob => Some(self.cmd_ackjob(env, args, fx)),
            C::Fastack => Some(self.cmd_fastack(args, fx)),
            C::Deljob => Some(self.cmd_deljob(args, fx)),
            C::Show => Some(self.cmd_show(env, args)),
            C::Loadjob => Some(Reply::error(
                "ERR LOADJOB is a special command only processed from AOF",
            )),
            C::Qlen => Some(self.cmd_qlen(args)),
            C::Qpeek => Some(self.cmd_qpeek(args)),
            C::Qstat => Some(self.cmd_qstat(env, args)),
            C::Qscan => Some(self.cmd_qscan(env, args)),
            C::Jscan => Some(self.cmd_jscan(env, args)),
            C::Enqueue => Some(self.cmd_enqueue(env, args, false, fx)),
            C::Nack => Some(self.cmd_nack(env, args, fx)),
            C::Dequeue => Some(self.cmd_dequeue(args)),
            C::Working => Some(self.cmd_working(env, args, fx)),
            C::Pause => Some(self.cmd_pause(env, args, fx)),
            C::Hello => Some(self.cmd_hello()),
            C::Cluster => Some(self.cmd_cluster(env, args, fx)),
            _ => Some(Reply::error("ERR command not handled by the job engine")),
        };
        self.serve_ready_queues(env, fx);
        #[cfg(debug_assertions)]
        self.debug_check();
        reply
    }
}
