//! Server configuration: the command line, the config file, and the
//! `CONFIG` command (GET / SET / RESETSTAT / REWRITE), as specified in
//! docs/config.md.
//!
//! How the server uses it:
//!
//! 1. [`load_from_args`] turns the command line (and the config file it
//!    names, or stdin for `-`) into a [`Startup`]: either run with a
//!    [`Config`], or print something and exit with a code (`--version`,
//!    `--help`, a fatal config error). Nothing here calls
//!    `process::exit`. While loading, `dir` directives change the process's
//!    working directory (as the original does, so later relative paths are
//!    relative to it) and `logfile` is opened once to check that it can be.
//! 2. `rename-command` lines are validated while loading against the
//!    command names given in [`LoadOptions::command_names`] (renames apply
//!    in order, so `rename-command ping p` followed by
//!    `rename-command p q` is fine); the errors `No such command in
//!    rename-command` and `Target command name already exists` are fatal
//!    config errors with the right line. The validated pairs end up in
//!    [`Config::rename_commands`], in file order, for the server to apply to
//!    its command table (an empty new name removes the command).
//! 3. At run time [`Config::command`] executes `CONFIG ...`; a successful
//!    `CONFIG SET` comes back as [`ConfigChange`] so the server can react
//!    (deauthenticate clients, start/stop the AOF, run eviction, ...).
//! 4. [`Config::rewrite`] implements `CONFIG REWRITE` (also used for the
//!    `aof-enqueue-jobs-once` auto-reset, docs/persistence.md §4.5).
//!
//! One table of settings drives all four: each setting is a row of the
//! directives table in `parse.rs` (or, for the few that are not directives,
//! of `custom.rs`) naming its [`Config`] field, its kind of value with its
//! limits and messages, its place in `CONFIG GET *`, whether `CONFIG SET`
//! may change it and the [`ConfigChange`] the server then carries out
//! (`config_glue.rs`). `setting.rs` implements the file, GET, SET and
//! REWRITE rules once per kind of value; `text.rs` holds the C-compatible
//! number and quoting rules they use. Adding a setting: a field of
//! [`Config`] with its default, and a row.

mod args;
mod command;
mod custom;
mod glob;
mod parse;
mod rewrite;
mod setting;
mod text;

use std::path::PathBuf;

pub use args::{build_id, load_from_args, usage, version_line, ExitAction, Startup};
pub use command::{ConfigChange, ConfigOutcome, GET_ORDER};
pub use glob::glob_match;
pub use parse::{ConfigError, LoadOptions};
pub use rewrite::RewriteError;
pub use text::{format_memory, memtoll, strerror};

/// Version reported by `--version` and INFO.
pub const DISQUE_VERSION: &str = "1.0-rc1";

/// Longest accepted `requirepass` (bytes).
pub const AUTHPASS_MAX_LEN: usize = 512;

/// Most `bind` addresses accepted on one line.
pub const MAX_BIND_ADDRESSES: usize = 16;

/// Highest client port that leaves room for the cluster bus port
/// (port + 10000).
pub const MAX_CLIENT_PORT: u16 = 55535;

/// Lowest and highest `hz`.
pub const HZ_MIN: i64 = 1;
/// See [`HZ_MIN`].
pub const HZ_MAX: i64 = 500;

/// `loglevel` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `verbose`
    Verbose,
    /// `notice` (default)
    Notice,
    /// `warning`
    Warning,
}

impl LogLevel {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<LogLevel> {
        [
            LogLevel::Debug,
            LogLevel::Verbose,
            LogLevel::Notice,
            LogLevel::Warning,
        ]
        .into_iter()
        .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }
}

/// `logformat` values (an extension: the original has only the text line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `text` (default): the original's `pid:M date mark message` line.
    Text,
    /// `json`: one JSON object per line.
    Json,
}

impl LogFormat {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<LogFormat> {
        [LogFormat::Text, LogFormat::Json]
            .into_iter()
            .find(|f| s.eq_ignore_ascii_case(f.name().as_bytes()))
    }
}

/// `maxmemory-policy` values: `acks` (default) evicts acknowledged jobs,
/// `noeviction` nothing. The core's type, so the setting needs no mapping.
pub use disque_core::MaxmemoryPolicy;

/// `appendfsync` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// `always`: fsync before replies leave.
    Always,
    /// `everysec` (default).
    EverySec,
    /// `no`: leave it to the OS.
    No,
}

impl AppendFsync {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<AppendFsync> {
        [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No]
            .into_iter()
            .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }
}

/// `syslog-facility` values: `user` or `local0`..`local7`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFacility {
    /// `user`.
    User,
    /// `local<n>`, n in 0..=7 (default `local0`).
    Local(u8),
}

impl SyslogFacility {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        const LOCAL: [&str; 8] = [
            "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ];
        match self {
            SyslogFacility::User => "user",
            SyslogFacility::Local(n) => LOCAL[usize::from(n.min(7))],
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<SyslogFacility> {
        std::iter::once(SyslogFacility::User)
            .chain((0..8).map(SyslogFacility::Local))
            .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }
}

/// `enable-protected-configs` and `enable-debug-command` values (decision
/// D14, Redis 7's names): who may use the protected action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectedAction {
    /// `no`: nobody.
    No,
    /// `yes`: every client.
    Yes,
    /// `local` (default): clients on 127.0.0.1, ::1 or the unix socket.
    Local,
}

impl ProtectedAction {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ProtectedAction::No => "no",
            ProtectedAction::Yes => "yes",
            ProtectedAction::Local => "local",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<ProtectedAction> {
        [
            ProtectedAction::No,
            ProtectedAction::Yes,
            ProtectedAction::Local,
        ]
        .into_iter()
        .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }

    /// Whether a client (local or not) may use the action.
    pub fn allows(self, local: bool) -> bool {
        match self {
            ProtectedAction::No => false,
            ProtectedAction::Yes => true,
            ProtectedAction::Local => local,
        }
    }
}

/// `tls-auth-clients` values (decision D13, Redis 6's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// `no`: clients are not asked for a certificate.
    No,
    /// `yes` (default): clients must present one signed by the CA.
    Yes,
    /// `optional`: a certificate a client presents must be valid.
    Optional,
}

impl TlsAuthClients {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &[u8]) -> Option<TlsAuthClients> {
        [
            TlsAuthClients::No,
            TlsAuthClients::Yes,
            TlsAuthClients::Optional,
        ]
        .into_iter()
        .find(|l| s.eq_ignore_ascii_case(l.name().as_bytes()))
    }
}

/// `client-output-buffer-limit normal <hard> <soft> <soft-seconds>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientOutputBufferLimit {
    /// Hard limit in bytes (0 = none): a client over it is closed at once.
    pub hard: u64,
    /// Soft limit in bytes (0 = none).
    pub soft: u64,
    /// Seconds a client may stay over the soft limit.
    pub soft_seconds: i64,
}

/// Every directive of docs/config.md §3, with its current value.
///
/// Integer fields keep what the original keeps, including values the
/// lenient file parser lets through (e.g. a negative `slowlog-max-len`);
/// users of a field should treat such values sensibly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Absolute path of the config file the server was started with (also
    /// for `-`, stdin, as the original does); `None` without one.
    pub config_file: Option<PathBuf>,
    /// `port` (7711). 0 = no TCP client listener.
    pub port: u16,
    /// `bind` addresses (empty = all interfaces).
    pub bind: Vec<String>,
    /// `tcp-backlog` (511).
    pub tcp_backlog: i32,
    /// `unixsocket` path (none).
    pub unixsocket: Option<String>,
    /// `unixsocketperm` (0).
    pub unixsocketperm: u32,
    /// `timeout`: idle client timeout in seconds, 0 = off.
    pub timeout: i64,
    /// `tcp-keepalive` interval in seconds, 0 = off.
    pub tcp_keepalive: i64,
    /// `daemonize` (no).
    pub daemonize: bool,
    /// `pidfile` (`/var/run/disque.pid`).
    pub pidfile: String,
    /// `loglevel` (notice).
    pub loglevel: LogLevel,
    /// `logfile` (`""` = standard output).
    pub logfile: String,
    /// `logformat` (text).
    pub logformat: LogFormat,
    /// `syslog-enabled` (no).
    pub syslog_enabled: bool,
    /// `syslog-ident` (`disque`).
    pub syslog_ident: String,
    /// `syslog-facility` (local0).
    pub syslog_facility: SyslogFacility,
    /// `databases` (16, unused).
    pub databases: i32,
    /// `requirepass` (none).
    pub requirepass: Option<Vec<u8>>,
    /// `maxclients` (10000).
    pub maxclients: i64,
    /// `maxmemory` in bytes (1 GiB).
    pub maxmemory: u64,
    /// `maxmemory-policy` (acks).
    pub maxmemory_policy: MaxmemoryPolicy,
    /// `maxmemory-samples` (5, unused).
    pub maxmemory_samples: i64,
    /// `activerehashing` (yes).
    pub activerehashing: bool,
    /// `hz` (10), always within 1..=500.
    pub hz: i64,
    /// `appendonly` (no).
    pub appendonly: bool,
    /// `appendfilename` (`disque.aof`).
    pub appendfilename: String,
    /// `appendfsync` (everysec).
    pub appendfsync: AppendFsync,
    /// `no-appendfsync-on-rewrite` (no).
    pub no_appendfsync_on_rewrite: bool,
    /// `auto-aof-rewrite-percentage` (100, 0 = off).
    pub auto_aof_rewrite_percentage: i64,
    /// `auto-aof-rewrite-min-size` in bytes (64 MiB).
    pub auto_aof_rewrite_min_size: i64,
    /// `aof-rewrite-incremental-fsync` (yes).
    pub aof_rewrite_incremental_fsync: bool,
    /// `aof-load-truncated` (yes).
    pub aof_load_truncated: bool,
    /// `aof-enqueue-jobs-once` (no).
    pub aof_enqueue_jobs_once: bool,
    /// `rereplicate` (yes): top up copies lost with a node (decision D8).
    pub rereplicate: bool,
    /// `http-port` (0 = off): `/metrics`, `/api/...` and the dashboard
    /// (decision D19).
    pub http_port: u16,
    /// `metrics-top-queues` (100): how many of the busiest queues `/metrics`
    /// reports one by one (decision D19).
    pub metrics_top_queues: i64,
    /// `cluster-config-file` (`nodes.conf`).
    pub cluster_config_file: String,
    /// `cluster-node-timeout` in ms (15000).
    pub cluster_node_timeout: i64,
    /// `slowlog-log-slower-than` in µs (10000; negative disables).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len` (128).
    pub slowlog_max_len: i64,
    /// `latency-monitor-threshold` in ms (0 = off).
    pub latency_monitor_threshold: i64,
    /// `client-output-buffer-limit normal ...` (no limit).
    pub client_output_buffer_limit: ClientOutputBufferLimit,
    /// `watchdog-period` in ms (0 = off; CONFIG SET only).
    pub watchdog_period: i64,
    /// `protected-mode` (yes): without `requirepass` and `bind`, only local
    /// clients are served (decision D14).
    pub protected_mode: bool,
    /// `enable-protected-configs` (local): who may CONFIG SET a path.
    pub enable_protected_configs: ProtectedAction,
    /// `enable-debug-command` (local): who may run DEBUG.
    pub enable_debug_command: ProtectedAction,
    /// `cluster-password` (none = the original's open bus): the secret every
    /// bus link proves with a challenge-response first (decision D12).
    pub cluster_password: Option<Vec<u8>>,
    /// `tls-port` (0 = none): the TLS client listener (decision D13).
    pub tls_port: u16,
    /// `tls-cert-file`: this node's certificate chain (PEM).
    pub tls_cert_file: String,
    /// `tls-key-file`: its private key (PEM).
    pub tls_key_file: String,
    /// `tls-ca-cert-file`: the CA that signs clients' and peers' certificates.
    pub tls_ca_cert_file: String,
    /// `tls-auth-clients` (yes).
    pub tls_auth_clients: TlsAuthClients,
    /// `tls-cluster` (no): the bus over mutual TLS.
    pub tls_cluster: bool,
    /// `tls-protocols` (`""` = TLSv1.2 and TLSv1.3).
    pub tls_protocols: String,
    /// `rename-command old new` pairs, validated, in file order (an empty
    /// new name removes the command).
    pub rename_commands: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            config_file: None,
            port: 7711,
            bind: Vec::new(),
            tcp_backlog: 511,
            unixsocket: None,
            unixsocketperm: 0,
            timeout: 0,
            tcp_keepalive: 0,
            daemonize: false,
            pidfile: "/var/run/disque.pid".to_owned(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            logformat: LogFormat::Text,
            syslog_enabled: false,
            syslog_ident: "disque".to_owned(),
            syslog_facility: SyslogFacility::Local(0),
            databases: 16,
            requirepass: None,
            maxclients: 10000,
            maxmemory: 1024 * 1024 * 1024,
            maxmemory_policy: MaxmemoryPolicy::Acks,
            maxmemory_samples: 5,
            activerehashing: true,
            hz: 10,
            appendonly: false,
            appendfilename: "disque.aof".to_owned(),
            appendfsync: AppendFsync::EverySec,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            aof_rewrite_incremental_fsync: true,
            aof_load_truncated: true,
            aof_enqueue_jobs_once: false,
            rereplicate: true,
            http_port: 0,
            metrics_top_queues: 100,
            cluster_config_file: "nodes.conf".to_owned(),
            cluster_node_timeout: 15000,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            client_output_buffer_limit: ClientOutputBufferLimit::default(),
            watchdog_period: 0,
            protected_mode: true,
            enable_protected_configs: ProtectedAction::Local,
            enable_debug_command: ProtectedAction::Local,
            cluster_password: None,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: TlsAuthClients::Yes,
            tls_cluster: false,
            tls_protocols: String::new(),
            rename_commands: Vec::new(),
        }
    }
}

impl Config {
    /// The startup checks of docs/config.md §1 that only need the configuration:
    /// a client port above 55535 (the bus port would overflow) and a node
    /// that would listen nowhere (`port 0` without `unixsocket`). Returns the
    /// message to log before exiting with status 1.
    pub fn check_listen(&self) -> Result<(), &'static str> {
        if self.port > MAX_CLIENT_PORT || (self.port == 0 && self.tls_port > MAX_CLIENT_PORT) {
            return Err(
                "Disque port number too high. Cluster communication port is 10,000 port \
                 numbers higher than your Disque node port. Your Disque node port number must \
                 be lower than 55535.",
            );
        }
        if self.port == 0 && self.tls_port == 0 && self.unixsocket.is_none() {
            return Err("Configured to not listen anywhere, exiting.");
        }
        Ok(())
    }

    /// The client port the node announces to its peers, whose bus port is
    /// 10000 above it: `port`, or `tls-port` when the clear-text port is
    /// off (decision D13).
    pub fn announced_port(&self) -> u16 {
        if self.port == 0 {
            self.tls_port
        } else {
            self.port
        }
    }

    /// The watchdog period actually used for a requested one: 0 stays 0,
    /// anything else is raised to at least two cron periods
    /// (2 × (1000 / hz) ms).
    pub fn effective_watchdog_period(&self, requested: i64) -> i64 {
        if requested == 0 {
            0
        } else {
            let min = (1000 / self.hz.clamp(HZ_MIN, HZ_MAX)) * 2;
            requested.max(min)
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the config tests.

    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, MutexGuard};

    /// Serialises tests that read or change the process's working directory.
    pub fn cwd_lock() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh, empty, absolute temporary directory.
    pub fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "disque-config-test-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}

#[cfg(test)]
mod robustness {
    //! Random input never panics.

    use super::*;
    use bytes::Bytes;

    /// A small deterministic generator (xorshift64*).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn word(&mut self) -> Vec<u8> {
            const PIECES: &[&[u8]] = &[
                b"\"",
                b"'",
                b"\\",
                b"\\x4",
                b"\\x41",
                b" ",
                b"\t",
                b"-",
                b"+",
                b"0",
                b"7",
                b"99999999999999999999",
                b"mb",
                b"gb",
                b"k",
                b"yes",
                b"no",
                b"normal",
                b"*",
                b"?",
                b"[",
                b"]",
                b"^",
                b"#",
                b"\r",
                b"\n",
                b"\0",
                b"\xff",
                b"a",
                b"local9",
            ];
            let mut w = Vec::new();
            for _ in 0..self.below(5) {
                w.extend_from_slice(PIECES[self.below(PIECES.len())]);
            }
            w
        }
    }

    const NAMES: &[&str] = &[
        "port",
        "bind",
        "tcp-backlog",
        "unixsocketperm",
        "timeout",
        "tcp-keepalive",
        "daemonize",
        "loglevel",
        "logformat",
        "syslog-facility",
        "databases",
        "requirepass",
        "rename-command",
        "maxclients",
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "hz",
        "appendonly",
        "appendfilename",
        "appendfsync",
        "auto-aof-rewrite-percentage",
        "auto-aof-rewrite-min-size",
        "cluster-node-timeout",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "latency-monitor-threshold",
        "client-output-buffer-limit",
        "watchdog-period",
        "protected-mode",
        "enable-protected-configs",
        "enable-debug-command",
        "cluster-password",
        "tls-port",
        "tls-auth-clients",
        "tls-cluster",
        "tls-protocols",
        "unknown",
    ];

    #[test]
    fn random_config_lines_and_commands() {
        let mut g = Gen(0x1234_5678_9abc_def1);
        let names = ["ping", "config"];
        let opts = LoadOptions {
            command_names: Some(&names),
            stdin: None,
            change_dir: false,
        };
        for _ in 0..3000 {
            let mut line = NAMES[g.below(NAMES.len())].as_bytes().to_vec();
            for _ in 0..g.below(6) {
                line.push(b' ');
                line.extend_from_slice(&g.word());
            }
            let mut c = Config::default();
            let _ = c.load_text(&line, &opts);
            let text = c.rewritten_text(&line, Some(b"/tmp"));
            let _ = Config::default().load_text(&text, &opts);

            let sub: &[u8] = match g.below(4) {
                0 => b"get",
                1 => b"set",
                2 => b"resetstat",
                _ => b"bogus",
            };
            let mut args = vec![Bytes::from_static(b"config"), Bytes::copy_from_slice(sub)];
            // Never "dir": the tests must not change the working directory.
            let param = NAMES[g.below(NAMES.len())];
            args.push(Bytes::copy_from_slice(param.as_bytes()));
            for _ in 0..g.below(3) {
                args.push(Bytes::from(g.word()));
            }
            let _ = c.command(&args);
            let mut pattern = g.word();
            pattern.extend_from_slice(&g.word());
            let _ = c.get(&pattern);
        }
    }
}
