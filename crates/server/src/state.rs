//! Everything the server keeps, shared by the connection tasks and the ticker on
//! one thread (`Rc<RefCell<State>>`, never borrowed across an `.await`).
//!
//! Each field of [`State`] has one owner: the one module whose code changes
//! it. A field whose owner is `state` is private, and the methods here that
//! change it say which module calls them. The other fields hold a type
//! whose own fields are private, so that its module's methods are the only
//! code that changes them; the table says who calls those.
//!
//! | Field | Owner | Changed through, by |
//! |---|---|---|
//! | `node` | `state` | [`State::run_core`] for every core event (commands and evictions from `dispatch`, `http` and `config_glue`, frames and links from `bus`, ticks from `server`, a client gone from `connection`, AOF records and the end of loading from `aof_load`, DEBUG FLUSHALL from `commands`), [`State::link_down`] (`bus`), [`State::configure_core`] (`config_glue`, and the AOF methods here): the core's settings in one place; [`State::recycle_reply`] (`connection`) gives encoded replies back |
//! | `aof` | `state` | the [`Aof`] type's methods, called only here: `State::apply` buffers, [`State::flush_point`] writes; [`State::open_aof`] (`aof_load`, `config_glue`), [`State::close_aof`], [`State::set_aof_fsync`] (`config_glue`), [`State::start_aof_rewrite`] (`dispatch`, `config_glue`), [`State::aof_cron`] (`server`), [`State::write_aof`] (`aof_load`), [`State::sync_aof`] (`shutdown`, `group_commit`), [`State::begin_aof_sync`], [`State::aof_synced_to`], [`State::end_aof_group_commit`] (`group_commit`), [`State::rewrite_aof_for_shutdown`] (`shutdown`) |
//! | `group_commit` | `group_commit` | its [`crate::group_commit::Signals`]; `state` only `kick`s the syncer |
//! | `loading` | `aof_load` | set while the AOF loads at startup |
//! | `bus` | `bus` | the [`crate::bus::Bus`] type's methods: `state` carries out the core's actions (`execute`, `hold`, `take_ready`, `start_links`, `forget_link`), `bus`'s tasks track inbound connections, `commands` (DEBUG BUS-BLOCK) calls `block_node` |
//! | `http` | `http` | [`crate::http::apply_port`] (`server` at startup, `config_glue` for CONFIG SET http-port) |
//! | `tls` | `config_glue` | built at startup by `server` (passed to [`State::new`]), rebuilt by CONFIG SET |
//! | `config` | `config_glue` | CONFIG SET (through `config`), [`crate::config_glue::loaded_enqueue_jobs_once`] (`aof_load`); read everywhere |
//! | `clients` | `clients` | the [`Clients`] methods, named for what happened; `clients`' module documentation lists the one caller of each (`connection`, `dispatch`, `commands`) |
//! | `stats` | `stats` | the [`crate::stats::Stats`] methods: `connection` (connections, bytes), `dispatch` (commands), `server` (samples), `config_glue` (CONFIG RESETSTAT) |
//! | `slowlog`, `latency` | `dispatch` | through their own modules' types (recording, and the SLOWLOG and LATENCY commands) |
//! | `spawns` | `state` | [`State::spawn_later`] (`http`), run at [`State::flush_point`] |
//! | `nodes_conf` | `state` | [`State::save_nodes_conf`] (after effects, `server`, CLUSTER SAVECONFIG in `dispatch`) |
//! | `auth_epoch` | `state` | [`State::new_auth_epoch`] (`config_glue`, `requirepass`) |
//! | `started`, `run_id` | `state` | set once by [`State::new`] |
//! | `clients_paused_until` | `state` | [`State::pause_clients`] (`commands`, CLIENT PAUSE) |
//! | `batch_now_ms` | `state` | [`State::set_batch_clock`] (`connection`, `bus`) |
//! | `renames` | `state` | set once from `rename-command` |
//! | `ticker`, `ticker_planned` | `state` | [`State::plan_ticker`] (`server`'s ticker), [`State::wake_ticker`] (`config_glue`) |
//!
//! "Client is blocked" lives in the core (why, until when) and once in the
//! shell, in the client registry ([`Clients::block`], [`Clients::unblock`],
//! called by `connection` only). Tasks that need the shared handle (bus
//! links, HTTP listeners) are asked for while the state is borrowed and
//! started, or given the handle, at the next flush point
//! ([`State::flush_point`]) by the caller holding the handle: the state
//! never points to itself.

use crate::aof::{Aof, AofState};
use crate::clients::{Clients, Outbound};
use crate::config::Config;
use crate::latency::LatencyMonitor;
use crate::nodes_conf::NodesConf;
use crate::slowlog::SlowLog;
use disque_core::cluster::{BusAction, LinkId};
use disque_core::{Effects, Env, Node};
use disque_proto::Reply;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Above these capacities the buffers of a core event are dropped after it
/// rather than kept for the next ([`State::run_core`]).
const SPARE_EFFECTS_BYTES: usize = 64 * 1024;
/// See [`SPARE_EFFECTS_BYTES`]: replies and bus actions.
const SPARE_EFFECTS_ITEMS: usize = 1024;

/// The server state shared by every task.
pub type Shared = Rc<RefCell<State>>;

/// Work that needs the [`Shared`] handle, such as starting a task that
/// reaches the state, asked for while the state is borrowed (see
/// [`State::spawn_later`]).
pub type Spawn = Box<dyn FnOnce(&Shared)>;

/// The whole server. Every field has one owning module, the only one that
/// changes it (see the table in the module documentation); the fields only
/// this module changes are private.
pub struct State {
    /// The job engine.
    node: Node,
    /// The append-only file.
    aof: Aof,
    /// The signals of the group commit (`appendfsync always`).
    pub(crate) group_commit: crate::group_commit::Signals,
    /// Set while the AOF is being loaded at startup.
    pub(crate) loading: Option<crate::aof_load::LoadingInfo>,
    /// The cluster bus transport.
    pub(crate) bus: crate::bus::Bus,
    /// The HTTP listeners of `http-port`.
    pub(crate) http: crate::http::Listening,
    /// The TLS contexts (decision D13), rebuilt when CONFIG SET changes a
    /// TLS setting; `None` without TLS.
    pub(crate) tls: Option<crate::tls::Tls>,
    /// Current configuration.
    pub(crate) config: Config,
    /// Connected clients.
    pub(crate) clients: Clients,
    /// INFO counters.
    pub(crate) stats: crate::stats::Stats,
    /// SLOWLOG entries.
    pub(crate) slowlog: SlowLog,
    /// LATENCY samples.
    pub(crate) latency: LatencyMonitor,
    /// Work waiting for the shared handle, done at the next flush point.
    spawns: Vec<Spawn>,
    /// The effects of the last core event, emptied, kept for the next so
    /// that an event allocates no new buffers ([`State::run_core`]).
    spare_effects: Effects,
    /// The locked `nodes.conf`.
    nodes_conf: NodesConf,
    /// Incremented when `requirepass` changes: older authentications stop counting.
    auth_epoch: u64,
    /// Process start, for uptime.
    started: Instant,
    /// Random id of this process run (INFO `run_id`).
    run_id: String,
    /// CLIENT PAUSE: commands wait until this Unix ms time.
    clients_paused_until: u64,
    /// The clock of the batch of requests being run, read once for all of
    /// them (see [`State::env`]); None between batches.
    batch_now_ms: Option<u64>,
    /// Command name renames from `rename-command`.
    renames: Renames,
    /// Wakes the ticker when a new, earlier deadline appears.
    ticker: Rc<Notify>,
    /// When the ticker plans to wake next (Unix ms).
    ticker_planned: u64,
}

/// The effect of `rename-command` lines on the command table.
#[derive(Debug, Default)]
pub struct Renames {
    /// New lowercase name → original command name.
    pub by_new_name: HashMap<String, &'static str>,
    /// Original names no longer reachable under their own name.
    pub hidden: Vec<&'static str>,
}

impl Renames {
    /// The renames of `config`'s `rename-command` lines.
    fn from_config(config: &Config) -> Renames {
        let mut renames = Renames::default();
        for (old, new) in &config.rename_commands {
            let Some(spec) = disque_core::commands::lookup(old.as_bytes()) else {
                continue;
            };
            renames.hidden.push(spec.name);
            if !new.is_empty() {
                renames
                    .by_new_name
                    .insert(new.to_ascii_lowercase(), spec.name);
            }
        }
        renames
    }
}

impl State {
    /// A fresh server: `node` and its locked `nodes_conf`, the configuration,
    /// the TLS contexts and this run's random id; no clients, the AOF closed.
    pub fn new(
        node: Node,
        nodes_conf: NodesConf,
        config: Config,
        tls: Option<crate::tls::Tls>,
        run_id: String,
    ) -> State {
        State {
            node,
            aof: Aof::new(config.appendfilename.clone().into(), config.appendfsync),
            group_commit: Default::default(),
            loading: None,
            bus: Default::default(),
            http: Default::default(),
            tls,
            clients: Default::default(),
            stats: Default::default(),
            slowlog: Default::default(),
            latency: Default::default(),
            spawns: Vec::new(),
            spare_effects: Effects::default(),
            nodes_conf,
            auth_epoch: 0,
            started: Instant::now(),
            run_id,
            clients_paused_until: 0,
            batch_now_ms: None,
            renames: Renames::from_config(&config),
            ticker: Rc::new(Notify::new()),
            ticker_planned: 0,
            config,
        }
    }

    /// The password epoch: a client authenticated under an older one must
    /// authenticate again.
    pub fn auth_epoch(&self) -> u64 {
        self.auth_epoch
    }

    /// Starts a new password epoch (`requirepass` changed).
    pub fn new_auth_epoch(&mut self) {
        self.auth_epoch += 1;
    }

    /// Time since the process started.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// The random id of this process run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The Unix ms time until which CLIENT PAUSE holds commands (0: none).
    pub fn paused_until(&self) -> u64 {
        self.clients_paused_until
    }

    /// CLIENT PAUSE: commands wait until `until` (Unix ms; 0 ends a pause).
    pub fn pause_clients(&mut self, until: u64) {
        self.clients_paused_until = until;
    }

    /// The `rename-command` renames.
    pub fn renames(&self) -> &Renames {
        &self.renames
    }

    /// Starts (`Some(now)`) or ends (`None`) a batch of requests or frames
    /// that share one clock read (see [`State::env`]).
    pub fn set_batch_clock(&mut self, now_ms: Option<u64>) {
        self.batch_now_ms = now_ms;
    }

    /// Unix ms: the clock of the batch being run, read once for all of it
    /// (see [`State::set_batch_clock`]), or else the system clock.
    pub fn clock_ms(&self) -> u64 {
        self.batch_now_ms.unwrap_or_else(now_ms)
    }

    /// The signal that wakes the ticker early.
    pub fn ticker_signal(&self) -> Rc<Notify> {
        self.ticker.clone()
    }

    /// Wakes the ticker now (a timer setting changed).
    pub fn wake_ticker(&self) {
        self.ticker.notify_one();
    }

    /// Records when the ticker plans to wake (Unix ms), so that an earlier
    /// core deadline wakes it sooner.
    pub fn plan_ticker(&mut self, wake_at: u64) {
        self.ticker_planned = wake_at;
    }
}

impl State {
    /// The job engine, to read. Every change goes through
    /// [`State::run_core`] (or [`State::link_down`],
    /// [`State::configure_core`]).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Gives a reply encoded to a client back to the core, whose arrays
    /// serve the next replies ([`Node::recycle_reply`]).
    pub fn recycle_reply(&mut self, reply: Reply) {
        self.node.recycle_reply(reply);
    }

    /// Gives the core the settings it keeps a copy of, from the
    /// configuration (`rereplicate`, `maxmemory`, `maxmemory-policy`,
    /// `cluster-node-timeout`) and from the AOF (records are produced while
    /// it is on). The one place that changes the core's settings; called
    /// after CONFIG SET changes one of them and when the AOF opens or closes.
    pub fn configure_core(&mut self) {
        let core = self.node.config_mut();
        core.rereplicate = self.config.rereplicate;
        core.maxmemory = self.config.maxmemory;
        core.maxmemory_policy = self.config.maxmemory_policy;
        core.aof_logging = self.aof.is_on();
        let timeout = self.config.cluster_node_timeout.max(1) as u64;
        self.node.set_node_timeout(timeout);
    }

    /// Writes `nodes.conf`; the error text if that failed.
    pub fn save_nodes_conf(&mut self) -> Result<(), String> {
        self.nodes_conf
            .save(&self.node.nodes_conf_text())
            .map_err(|e| {
                crate::log::warning(&format!("Could not save the cluster config file: {e}"));
                crate::config::strerror(&e)
            })
    }
}

/// The AOF: the only code that changes [`State`]'s [`Aof`] (through the
/// `Aof` type's methods). Buffered by `State::apply`, written at
/// [`State::flush_point`]; the rest is here, each method naming its callers.
impl State {
    /// The append-only file, to read.
    pub fn aof(&self) -> &Aof {
        &self.aof
    }

    /// Starts a background AOF rewrite from the current jobs; false when one is
    /// already running (BGREWRITEAOF, CONFIG SET appendonly, [`State::aof_cron`]).
    pub fn start_aof_rewrite(&mut self) -> bool {
        if self.aof.rewrite_in_progress() {
            return false;
        }
        let mut snapshot = bytes::BytesMut::new();
        self.node.aof_snapshot(&mut snapshot);
        self.aof.start_rewrite(snapshot.freeze())
    }

    /// Opens the AOF in `state` and has the core produce records
    /// (`aof_load` at startup, `config_glue` for CONFIG SET appendonly yes).
    pub fn open_aof(&mut self, state: AofState) -> std::io::Result<()> {
        self.aof.open(state)?;
        self.configure_core();
        Ok(())
    }

    /// Writes, fsyncs and closes the AOF; the core stops producing records
    /// (`config_glue`, CONFIG SET appendonly no).
    pub fn close_aof(&mut self) {
        self.aof.close();
        self.configure_core();
    }

    /// The fsync policy from the configuration (`config_glue`, CONFIG SET
    /// appendfsync).
    pub fn set_aof_fsync(&mut self) {
        self.aof.set_fsync(self.config.appendfsync);
    }

    /// Writes the buffered records now (`aof_load`, before DEBUG LOADAOF
    /// reads the file).
    pub fn write_aof(&mut self) {
        self.aof.flush();
    }

    /// Writes and fsyncs everything buffered (`shutdown` before exiting,
    /// `group_commit` when the file cannot be fsynced off the event loop).
    pub fn sync_aof(&mut self) -> std::io::Result<()> {
        self.aof.flush_and_sync()
    }

    /// Starts a group-commit fsync: the file to fsync and the position it
    /// covers (`group_commit`, see [`Aof::begin_sync`]).
    pub fn begin_aof_sync(&mut self) -> Option<(std::fs::File, u64)> {
        self.aof.begin_sync()
    }

    /// The group commit's fsync covered everything written up to `target`
    /// (`group_commit`).
    pub fn aof_synced_to(&mut self, target: u64) {
        self.aof.end_sync(target);
    }

    /// The group commit has nothing left to fsync (`group_commit`).
    pub fn end_aof_group_commit(&mut self) {
        self.aof.end_group_commit();
    }

    /// `SHUTDOWN REWRITE-AOF`: writes the current jobs as the whole AOF,
    /// synchronously (`shutdown`).
    pub fn rewrite_aof_for_shutdown(&mut self) -> std::io::Result<()> {
        let mut snapshot = bytes::BytesMut::new();
        self.node.aof_snapshot(&mut snapshot);
        self.aof.rewrite_for_shutdown(&snapshot)
    }

    /// The periodic AOF duties (`server`'s ticker, every 100 ms): finish a
    /// rewrite, start an automatic one, retry failed writes, fsync with
    /// `everysec`, ask the group commit for an fsync still owed.
    pub fn aof_cron(&mut self) {
        self.aof.poll_rewrite();
        let (percentage, min_size) = (
            self.config.auto_aof_rewrite_percentage,
            self.config.auto_aof_rewrite_min_size,
        );
        if self.aof.wants_auto_rewrite(percentage, min_size) {
            crate::log::notice("Starting automatic rewriting of AOF");
            self.start_aof_rewrite();
        }
        self.aof.cron();
        if self.aof.unsynced_target().is_some() {
            self.group_commit.kick();
        }
    }
}

impl State {
    /// The end of an event-loop turn: writes the AOF buffer, then lets out the
    /// bus frames whose records are now as durable as `appendfsync` promises
    /// (with `always` the rest leave after the group commit's fsync).
    /// `shared` is the handle this state is borrowed from.
    pub fn flush_point(&mut self, shared: &Shared) {
        self.aof.write_batch();
        self.release_bus(shared);
    }

    /// Sends the held bus actions whose records are durable, in order, and
    /// starts the tasks asked for meanwhile ([`State::spawn_later`]);
    /// `shared` is the handle this state is borrowed from.
    pub fn release_bus(&mut self, shared: &Shared) {
        self.send_durable();
        self.bus.start_links(shared);
        for spawn in std::mem::take(&mut self.spawns) {
            spawn(shared);
        }
    }

    /// Carries out the core's bus actions (see [`crate::bus::Bus::execute`]).
    fn execute_bus(&mut self, actions: impl ExactSizeIterator<Item = BusAction>) {
        if actions.len() == 0 {
            return;
        }
        #[cfg(feature = "fault-injection")]
        let actions = self.bus.without_blocked(actions.collect(), &self.node);
        for link in self.bus.execute(actions) {
            self.link_down_reported(link);
        }
    }

    /// Reports a lost link to the core (once) and forgets it.
    pub fn link_down(&mut self, link: LinkId) {
        if self.bus.forget_link(link) {
            self.link_down_reported(link);
        }
    }

    /// Tells the core a link it asked for is gone.
    fn link_down_reported(&mut self, link: LinkId) {
        let env = self.env();
        self.node.on_link_down(&env, link);
    }

    /// Asks for `spawn` to run with the shared handle at the next flush
    /// point, before the current event yields: the tasks it starts run
    /// then, as they would if started now.
    pub fn spawn_later(&mut self, spawn: impl FnOnce(&Shared) + 'static) {
        self.spawns.push(Box::new(spawn));
    }

    /// Sends the held bus actions whose records are durable; asks the group
    /// commit for an fsync when the rest wait for one.
    fn send_durable(&mut self) {
        if !self.bus.has_held() {
            return;
        }
        let ready = self.bus.take_ready(self.aof.durable_position());
        self.execute_bus(ready.into_iter());
        if self.bus.has_held() && self.aof.unsynced_target().is_some() {
            self.group_commit.kick();
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
            now_ms: self.clock_ms(),
            used_memory: crate::alloc::used_memory(),
        }
    }

    /// One event of the core: calls `event` with the clock and memory of
    /// [`State::env`] and empty [`Effects`], then carries the effects out
    /// (`State::apply`). Returns what `event` returned.
    pub fn run_core<R>(&mut self, event: impl FnOnce(&mut Node, &Env, &mut Effects) -> R) -> R {
        let env = self.env();
        let mut fx = std::mem::take(&mut self.spare_effects);
        let result = event(&mut self.node, &env, &mut fx);
        self.apply(&mut fx);
        // Emptied by `apply`; kept unless an event made it large.
        if fx.aof.capacity() <= SPARE_EFFECTS_BYTES
            && fx.bus.capacity() <= SPARE_EFFECTS_ITEMS
            && fx.replies.capacity() <= SPARE_EFFECTS_ITEMS
        {
            self.spare_effects = fx;
        }
        result
    }

    /// Carries out the core's effects: AOF records are buffered (written before the
    /// replies of this turn leave), `nodes.conf` is saved, bus actions go to the
    /// transport once the records of the same event are durable (see
    /// [`State::flush_point`]), deferred replies to their clients.
    fn apply(&mut self, fx: &mut Effects) {
        self.aof.append(&fx.aof);
        if std::mem::take(&mut fx.save_cluster_config) {
            // A failure is logged; the next change saves again.
            let _ = self.save_nodes_conf();
        }
        let needs = if fx.aof.is_empty() {
            None
        } else {
            self.aof.appended_position()
        };
        fx.aof.clear();
        if needs.is_none() && !self.bus.has_held() {
            // Nothing to wait for: straight to the transport.
            self.execute_bus(fx.bus.drain(..));
        } else {
            self.bus.hold(needs, fx.bus.drain(..));
            self.send_durable();
        }
        for (client, reply) in fx.replies.drain(..) {
            self.clients.send(client, Outbound::Reply(reply));
        }
        if let Some(next) = self.node.next_wakeup() {
            if next < self.ticker_planned {
                self.ticker.notify_one();
            }
        }
    }
}
