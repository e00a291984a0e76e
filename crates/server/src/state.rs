//! Everything the server keeps, shared by the connection tasks and the ticker on
//! one thread (`Rc<RefCell<State>>`, never borrowed across an `.await`).

use crate::clients::{Clients, Outbound};
use crate::config::Config;
use crate::latency::LatencyMonitor;
use crate::slowlog::SlowLog;
use disque_core::{Effects, Env, Node};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// The server state shared by every task.
pub type Shared = Rc<RefCell<State>>;

/// Work that needs the [`Shared`] handle, such as starting a task that
/// reaches the state, asked for while the state is borrowed (see
/// [`State::spawn_later`]).
pub type Spawn = Box<dyn FnOnce(&mut State, &Shared)>;

/// Calls and total microseconds of one command (INFO commandstats).
#[derive(Clone, Copy, Debug, Default)]
pub struct CommandStat {
    /// Calls.
    pub calls: u64,
    /// Total time in microseconds.
    pub usec: u64,
}

/// Counters shown by INFO stats (reset by CONFIG RESETSTAT).
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: u64,
    /// Commands executed.
    pub commands_processed: u64,
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
    /// Connections refused (maxclients).
    pub rejected_connections: u64,
    /// Per command.
    pub commands: HashMap<&'static str, CommandStat>,
    /// Samples for the instantaneous rates: (time ms, commands, input, output).
    pub samples: Vec<(u64, u64, u64, u64)>,
}

impl Stats {
    /// Takes one sample for the instantaneous metrics (called every 100 ms).
    pub fn sample(&mut self, now_ms: u64) {
        self.samples.push((
            now_ms,
            self.commands_processed,
            self.net_input_bytes,
            self.net_output_bytes,
        ));
        if self.samples.len() > 16 {
            self.samples.remove(0);
        }
    }

    /// (ops/sec, input kbps, output kbps) over the sampled window.
    pub fn instantaneous(&self) -> (u64, f64, f64) {
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return (0, 0.0, 0.0);
        };
        let secs = (last.0.saturating_sub(first.0)) as f64 / 1000.0;
        if secs <= 0.0 {
            return (0, 0.0, 0.0);
        }
        let ops = ((last.1 - first.1) as f64 / secs) as u64;
        let input = (last.2 - first.2) as f64 / secs / 1024.0;
        let output = (last.3 - first.3) as f64 / secs / 1024.0;
        (ops, input, output)
    }
}

/// The whole server.
pub struct State {
    /// The job engine.
    pub node: Node,
    /// The append-only file.
    pub aof: crate::aof::Aof,
    /// Woken when an fsync completes (group commit).
    pub aof_synced: Rc<Notify>,
    /// Wakes the fsync task (group commit).
    pub aof_sync_kick: Rc<Notify>,
    /// Set while the AOF is being loaded at startup.
    pub loading: Option<crate::aof_load::LoadingInfo>,
    /// The cluster bus transport.
    pub bus: crate::bus::Bus,
    /// The TLS contexts (decision D13), rebuilt when CONFIG SET changes a
    /// TLS setting; `None` without TLS.
    pub tls: Option<crate::tls::Tls>,
    /// Work waiting for the shared handle, done at the next flush point.
    pub spawns: Vec<Spawn>,
    /// The locked `nodes.conf`.
    pub nodes_conf: crate::nodes_conf::NodesConf,
    /// Current configuration.
    pub config: Config,
    /// Connected clients.
    pub clients: Clients,
    /// INFO counters.
    pub stats: Stats,
    /// SLOWLOG entries.
    pub slowlog: SlowLog,
    /// LATENCY samples.
    pub latency: LatencyMonitor,
    /// Incremented when `requirepass` changes: older authentications stop counting.
    pub auth_epoch: u64,
    /// Process start, for uptime.
    pub started: Instant,
    /// Random id of this process run (INFO `run_id`).
    pub run_id: String,
    /// CLIENT PAUSE: commands wait until this Unix ms time.
    pub clients_paused_until: u64,
    /// The clock of the batch of requests being run, read once for all of
    /// them (see [`State::env`]); None between batches.
    pub batch_now_ms: Option<u64>,
    /// Command name renames from `rename-command` (lowercase new name → original name),
    /// and the original names that were renamed or removed.
    pub renames: Renames,
    /// Wakes the ticker when a new, earlier deadline appears.
    pub ticker: Rc<Notify>,
    /// When the ticker plans to wake next (Unix ms).
    pub ticker_planned: u64,
}

/// The effect of `rename-command` lines on the command table.
#[derive(Debug, Default)]
pub struct Renames {
    /// New lowercase name → original command name.
    pub by_new_name: HashMap<String, &'static str>,
    /// Original names no longer reachable under their own name.
    pub hidden: Vec<&'static str>,
}

impl State {
    /// Writes `nodes.conf`; the error text if that failed.
    pub fn save_nodes_conf(&mut self) -> Result<(), String> {
        self.nodes_conf
            .save(&self.node.nodes_conf_text())
            .map_err(|e| {
                crate::log::warning(&format!("Could not save the cluster config file: {e}"));
                crate::config::strerror(&e)
            })
    }

    /// Starts a background AOF rewrite from the current jobs; false when one is
    /// already running.
    pub fn start_aof_rewrite(&mut self) -> bool {
        if self.aof.rewrite_in_progress() {
            return false;
        }
        let mut snapshot = bytes::BytesMut::new();
        self.node.aof_snapshot(&mut snapshot);
        self.aof.start_rewrite(snapshot.freeze())
    }
}

impl State {
    /// The end of an event-loop turn: writes the AOF buffer, then lets out the
    /// bus frames whose records are now as durable as `appendfsync` promises
    /// (with `always` the rest leave after the group commit's fsync).
    /// `shared` is the handle this state is borrowed from.
    pub fn flush_point(&mut self, shared: &Shared) {
        self.aof.flush();
        self.release_bus(shared);
    }

    /// Sends the held bus actions whose records are durable, in order, and
    /// starts the tasks asked for meanwhile ([`State::spawn_later`]);
    /// `shared` is the handle this state is borrowed from.
    pub fn release_bus(&mut self, shared: &Shared) {
        self.send_durable();
        while !self.spawns.is_empty() {
            for spawn in std::mem::take(&mut self.spawns) {
                spawn(self, shared);
            }
        }
    }

    /// Asks for `spawn` to run with the shared handle at the next flush
    /// point, before the current event yields: the tasks it starts run
    /// then, as they would if started now.
    pub fn spawn_later(&mut self, spawn: impl FnOnce(&mut State, &Shared) + 'static) {
        self.spawns.push(Box::new(spawn));
    }

    /// Sends the held bus actions whose records are durable; asks the group
    /// commit for an fsync when the rest wait for one.
    fn send_durable(&mut self) {
        let ready = self.bus.take_ready(self.aof.durable_position());
        self.execute_bus(ready);
        if self.bus.has_held() && self.aof.unsynced_target().is_some() {
            self.aof_sync_kick.notify_one();
        }
    }
}

/// The current wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl State {
    /// The time and memory the core sees for one event. Within a batch of
    /// pipelined requests the clock is the batch's (read once).
    pub fn env(&self) -> Env {
        Env {
            now_ms: self.batch_now_ms.unwrap_or_else(now_ms),
            used_memory: crate::alloc::used_memory(),
        }
    }

    /// One event of the core: calls `event` with the clock and memory of
    /// [`State::env`] and empty [`Effects`], then carries the effects out
    /// ([`State::apply`]). Returns what `event` returned.
    pub fn run_core<R>(&mut self, event: impl FnOnce(&mut Node, &Env, &mut Effects) -> R) -> R {
        let env = self.env();
        let mut fx = Effects::default();
        let result = event(&mut self.node, &env, &mut fx);
        self.apply(fx);
        result
    }

    /// Carries out the core's effects: AOF records are buffered (written before the
    /// replies of this turn leave), `nodes.conf` is saved, bus actions go to the
    /// transport once the records of the same event are durable (see
    /// [`State::flush_point`]), deferred replies to their clients.
    pub fn apply(&mut self, mut fx: Effects) {
        self.aof.append(&fx.aof);
        if fx.save_cluster_config {
            // A failure is logged; the next change saves again.
            let _ = self.save_nodes_conf();
        }
        let needs = if fx.aof.is_empty() {
            None
        } else {
            self.aof.appended_position()
        };
        let actions = std::mem::take(&mut fx.bus);
        if needs.is_none() && !self.bus.has_held() {
            // Nothing to wait for: straight to the transport.
            self.execute_bus(actions);
        } else {
            self.bus.send_after(needs, actions);
            self.send_durable();
        }
        for (client, reply) in fx.replies {
            self.clients.send(client, Outbound::Reply(reply));
        }
        if let Some(next) = self.node.next_wakeup() {
            if next < self.ticker_planned {
                self.ticker.notify_one();
            }
        }
    }
}
