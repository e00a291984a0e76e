//! `CONFIG GET`, `CONFIG SET` and the `CONFIG` command dispatch
//! (docs/config.md §4, §5; docs/commands.md §4.5).

use bytes::Bytes;
use disque_proto::Reply;

use super::glob::glob_match;
use super::text::{memtoll, one_line, strerror, strtoll_whole, yes_no, yes_no_str};
use super::{
    AppendFsync, ClientOutputBufferLimit, Config, LogFormat, LogLevel, MaxmemoryPolicy,
    TlsAuthClients, AUTHPASS_MAX_LEN, HZ_MAX, HZ_MIN,
};

/// The parameters `CONFIG GET` knows, in the order it lists them.
pub const GET_ORDER: [&str; 50] = [
    "requirepass",
    "unixsocket",
    "logfile",
    "pidfile",
    "maxmemory",
    "maxmemory-samples",
    "timeout",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "slowlog-log-slower-than",
    "latency-monitor-threshold",
    "slowlog-max-len",
    "port",
    "tcp-backlog",
    "databases",
    "maxclients",
    "watchdog-period",
    "hz",
    "cluster-node-timeout",
    "tcp-keepalive",
    "no-appendfsync-on-rewrite",
    "daemonize",
    "activerehashing",
    "aof-rewrite-incremental-fsync",
    "aof-load-truncated",
    "aof-enqueue-jobs-once",
    "maxmemory-policy",
    "loglevel",
    "appendfsync",
    "syslog-facility",
    "appendonly",
    "dir",
    "client-output-buffer-limit",
    "unixsocketperm",
    "bind",
    "rereplicate",
    "logformat",
    "http-port",
    "metrics-top-queues",
    "protected-mode",
    "enable-protected-configs",
    "enable-debug-command",
    "cluster-password",
    "tls-port",
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-auth-clients",
    "tls-cluster",
    "tls-protocols",
];

/// A successful `CONFIG SET`: which parameter changed (the new value is
/// already in the [`Config`]), so the server can react. The reply is `+OK`
/// unless the reaction fails as noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    /// `timeout`.
    Timeout,
    /// `tcp-keepalive` (set to 1 or 0 from `yes`/`no`).
    TcpKeepalive,
    /// `loglevel`.
    LogLevel,
    /// `logformat`.
    LogFormat,
    /// `dir`: the working directory was already changed.
    Dir,
    /// `requirepass`: every open connection must become unauthenticated
    /// (docs/commands.md §4.3).
    RequirePass,
    /// `maxclients`: if the process cannot handle the new limit, put
    /// `previous` back into the config and reply
    /// `-ERR The operating system is not able to handle the specified number of clients, try with <n>`
    /// (or the event-loop variant).
    MaxClients {
        /// The value before this SET.
        previous: i64,
    },
    /// `maxmemory`: run the eviction procedure now.
    MaxMemory,
    /// `maxmemory-policy`.
    MaxMemoryPolicy,
    /// `maxmemory-samples`.
    MaxMemorySamples,
    /// `activerehashing`.
    ActiveRehashing,
    /// `hz` (already clamped to 1..=500).
    Hz,
    /// `appendonly`: start the AOF (if it is off and `enabled`) or stop it
    /// (if it is on and not `enabled`). When starting fails, set
    /// `config.appendonly = false` and reply
    /// `-ERR Unable to turn on AOF. Check server logs.`
    AppendOnly {
        /// The new value.
        enabled: bool,
    },
    /// `appendfsync`.
    AppendFsync,
    /// `auto-aof-rewrite-percentage`.
    AutoAofRewritePercentage,
    /// `auto-aof-rewrite-min-size`.
    AutoAofRewriteMinSize,
    /// `aof-rewrite-incremental-fsync`.
    AofRewriteIncrementalFsync,
    /// `aof-load-truncated`.
    AofLoadTruncated,
    /// `aof-enqueue-jobs-once`.
    AofEnqueueJobsOnce,
    /// `rereplicate` (decision D8).
    Rereplicate,
    /// `http-port` (decision D19): the HTTP listener moves to the new port
    /// (0 closes it). If the new port cannot be bound, put `previous` back
    /// and reply with the error.
    HttpPort {
        /// The value before this SET.
        previous: u16,
    },
    /// `metrics-top-queues` (decision D19).
    MetricsTopQueues,
    /// `protected-mode` (decision D14).
    ProtectedMode,
    /// `cluster-password` (decision D12): applies to new bus links.
    ClusterPassword,
    /// A TLS setting (decision D13): the contexts must be rebuilt (they were
    /// checked to build); they apply to new connections.
    Tls,
    /// `cluster-node-timeout`.
    ClusterNodeTimeout,
    /// `slowlog-log-slower-than`.
    SlowlogLogSlowerThan,
    /// `slowlog-max-len`.
    SlowlogMaxLen,
    /// `latency-monitor-threshold`.
    LatencyMonitorThreshold,
    /// `client-output-buffer-limit`.
    ClientOutputBufferLimit,
    /// `watchdog-period`: already raised to the minimum; 0 disables the
    /// watchdog, anything else (re)arms it with the new period.
    WatchdogPeriod,
}

/// What the `CONFIG` command asks of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOutcome {
    /// Send this reply (GET, REWRITE, every error).
    Reply(Reply),
    /// A parameter was set: react to it, then reply `+OK` (or the error
    /// the variant names).
    Set(ConfigChange),
    /// `CONFIG RESETSTAT`: reset the statistics (docs/config.md §7), reply `+OK`.
    ResetStat,
}

fn bulk(s: impl Into<Vec<u8>>) -> Reply {
    Reply::Bulk(Bytes::from(s.into()))
}

fn invalid(value: &[u8], param: &[u8]) -> Reply {
    Reply::error_owned(format!(
        "ERR Invalid argument '{}' for CONFIG SET '{}'",
        one_line(value),
        one_line(param)
    ))
}

impl Config {
    /// The `CONFIG GET` value of one parameter (a name from [`GET_ORDER`]).
    pub fn get_value(&self, name: &str) -> Option<Vec<u8>> {
        let num = |n: i64| n.to_string().into_bytes();
        let flag = |b: bool| yes_no_str(b).as_bytes().to_vec();
        Some(match name {
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "unixsocket" => self.unixsocket.clone().unwrap_or_default().into_bytes(),
            "logfile" => self.logfile.clone().into_bytes(),
            "pidfile" => self.pidfile.clone().into_bytes(),
            "maxmemory" => self.maxmemory.to_string().into_bytes(),
            "maxmemory-samples" => num(self.maxmemory_samples),
            "timeout" => num(self.timeout),
            "auto-aof-rewrite-percentage" => num(self.auto_aof_rewrite_percentage),
            "auto-aof-rewrite-min-size" => num(self.auto_aof_rewrite_min_size),
            "slowlog-log-slower-than" => num(self.slowlog_log_slower_than),
            "latency-monitor-threshold" => num(self.latency_monitor_threshold),
            "slowlog-max-len" => num(self.slowlog_max_len),
            "port" => num(i64::from(self.port)),
            "tcp-backlog" => num(i64::from(self.tcp_backlog)),
            "databases" => num(i64::from(self.databases)),
            "maxclients" => num(self.maxclients),
            "watchdog-period" => num(self.watchdog_period),
            "hz" => num(self.hz),
            "cluster-node-timeout" => num(self.cluster_node_timeout),
            "tcp-keepalive" => flag(self.tcp_keepalive != 0),
            "no-appendfsync-on-rewrite" => flag(self.no_appendfsync_on_rewrite),
            "daemonize" => flag(self.daemonize),
            "activerehashing" => flag(self.activerehashing),
            "aof-rewrite-incremental-fsync" => flag(self.aof_rewrite_incremental_fsync),
            "aof-load-truncated" => flag(self.aof_load_truncated),
            "aof-enqueue-jobs-once" => flag(self.aof_enqueue_jobs_once),
            "rereplicate" => flag(self.rereplicate),
            "http-port" => num(i64::from(self.http_port)),
            "metrics-top-queues" => num(self.metrics_top_queues),
            "protected-mode" => flag(self.protected_mode),
            "enable-protected-configs" => self.enable_protected_configs.name().as_bytes().to_vec(),
            "enable-debug-command" => self.enable_debug_command.name().as_bytes().to_vec(),
            "cluster-password" => self.cluster_password.clone().unwrap_or_default(),
            "tls-port" => num(i64::from(self.tls_port)),
            "tls-cert-file" => self.tls_cert_file.clone().into_bytes(),
            "tls-key-file" => self.tls_key_file.clone().into_bytes(),
            "tls-ca-cert-file" => self.tls_ca_cert_file.clone().into_bytes(),
            "tls-auth-clients" => self.tls_auth_clients.name().as_bytes().to_vec(),
            "tls-cluster" => flag(self.tls_cluster),
            "tls-protocols" => self.tls_protocols.clone().into_bytes(),
            "maxmemory-policy" => self.maxmemory_policy.name().as_bytes().to_vec(),
            "loglevel" => self.loglevel.name().as_bytes().to_vec(),
            "logformat" => self.logformat.name().as_bytes().to_vec(),
            "appendfsync" => self.appendfsync.name().as_bytes().to_vec(),
            "syslog-facility" => self.syslog_facility.name().as_bytes().to_vec(),
            "appendonly" => flag(self.appendonly),
            "dir" => std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned().into_bytes())
                .unwrap_or_default(),
            "client-output-buffer-limit" => {
                let l = &self.client_output_buffer_limit;
                format!("normal {} {} {}", l.hard, l.soft, l.soft_seconds).into_bytes()
            }
            "unixsocketperm" => format!("{:o}", self.unixsocketperm).into_bytes(),
            "bind" => self.bind.join(" ").into_bytes(),
            _ => return None,
        })
    }

    /// `CONFIG GET <pattern>`: the flat `[name, value, ...]` array of every
    /// parameter whose name matches the glob `pattern` (case-sensitive), in
    /// [`GET_ORDER`]; `*0` when nothing matches.
    pub fn get(&self, pattern: &[u8]) -> Reply {
        let mut items = Vec::new();
        for name in GET_ORDER {
            if glob_match(pattern, name.as_bytes()) {
                if let Some(value) = self.get_value(name) {
                    items.push(Reply::bulk_from(name.as_bytes()));
                    items.push(bulk(value));
                }
            }
        }
        Reply::Array(items)
    }

    /// `CONFIG SET <param> <value>` (param case-insensitive). On success
    /// the new value is stored (and for `dir` the working directory is
    /// changed) and the change is returned; otherwise the error reply:
    /// `-ERR Unsupported CONFIG parameter: <param>`,
    /// `-ERR Invalid argument '<value>' for CONFIG SET '<param>'` or
    /// `-ERR Changing directory: <strerror>`.
    pub fn set(&mut self, param: &[u8], value: &[u8]) -> Result<ConfigChange, Reply> {
        self.set_from(param, value, true)
    }

    /// [`Config::set`] for a client that may change a protected config (a
    /// path, decision D14) only when `allow_protected`; otherwise such a
    /// change is refused with Redis 7's
    /// `-ERR CONFIG SET failed (possibly related to argument '<param>') - can't set protected config`.
    pub fn set_from(
        &mut self,
        param: &[u8],
        value: &[u8],
        allow_protected: bool,
    ) -> Result<ConfigChange, Reply> {
        let name = param.to_ascii_lowercase();
        let bad = || invalid(value, param);
        let protected = || {
            if allow_protected {
                Ok(())
            } else {
                Err(Reply::error_owned(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - can't set protected config",
                    one_line(param)
                )))
            }
        };
        // An integer read like a command argument, at least `min`.
        let int_min = |min: i64| {
            disque_core::args::parse_i64(value)
                .filter(|v| *v >= min)
                .ok_or_else(bad)
        };
        let boolean = || yes_no(value).ok_or_else(bad);
        let change = match name.as_slice() {
            b"timeout" => {
                self.timeout = int_min(0)?;
                ConfigChange::Timeout
            }
            b"tcp-keepalive" => {
                self.tcp_keepalive = i64::from(boolean()?);
                ConfigChange::TcpKeepalive
            }
            b"loglevel" => {
                self.loglevel = LogLevel::parse(value).ok_or_else(bad)?;
                ConfigChange::LogLevel
            }
            b"logformat" => {
                self.logformat = LogFormat::parse(value).ok_or_else(bad)?;
                ConfigChange::LogFormat
            }
            b"dir" => {
                protected()?;
                let dir = String::from_utf8_lossy(value).into_owned();
                std::env::set_current_dir(&dir).map_err(|e| {
                    Reply::error_owned(format!("ERR Changing directory: {}", strerror(&e)))
                })?;
                ConfigChange::Dir
            }
            b"requirepass" => {
                self.requirepass = password(value).ok_or_else(bad)?;
                ConfigChange::RequirePass
            }
            b"cluster-password" => {
                self.cluster_password = password(value).ok_or_else(bad)?;
                ConfigChange::ClusterPassword
            }
            b"maxclients" => {
                let previous = self.maxclients;
                self.maxclients = int_min(1)?;
                ConfigChange::MaxClients { previous }
            }
            b"maxmemory" => {
                let (v, unknown_unit) = memtoll(value);
                if unknown_unit || v < 0 {
                    return Err(bad());
                }
                self.maxmemory = v as u64;
                ConfigChange::MaxMemory
            }
            b"maxmemory-policy" => {
                self.maxmemory_policy = MaxmemoryPolicy::parse(value).ok_or_else(bad)?;
                ConfigChange::MaxMemoryPolicy
            }
            b"maxmemory-samples" => {
                self.maxmemory_samples = int_min(1)?;
                ConfigChange::MaxMemorySamples
            }
            b"activerehashing" => {
                self.activerehashing = boolean()?;
                ConfigChange::ActiveRehashing
            }
            b"hz" => {
                self.hz = int_min(0)?.clamp(HZ_MIN, HZ_MAX);
                ConfigChange::Hz
            }
            b"appendonly" => {
                let enabled = boolean()?;
                self.appendonly = enabled;
                ConfigChange::AppendOnly { enabled }
            }
            b"appendfsync" => {
                self.appendfsync = AppendFsync::parse(value).ok_or_else(bad)?;
                ConfigChange::AppendFsync
            }
            b"auto-aof-rewrite-percentage" => {
                self.auto_aof_rewrite_percentage = int_min(0)?;
                ConfigChange::AutoAofRewritePercentage
            }
            b"auto-aof-rewrite-min-size" => {
                self.auto_aof_rewrite_min_size = int_min(0)?;
                ConfigChange::AutoAofRewriteMinSize
            }
            b"aof-rewrite-incremental-fsync" => {
                self.aof_rewrite_incremental_fsync = boolean()?;
                ConfigChange::AofRewriteIncrementalFsync
            }
            b"aof-load-truncated" => {
                self.aof_load_truncated = boolean()?;
                ConfigChange::AofLoadTruncated
            }
            b"aof-enqueue-jobs-once" => {
                self.aof_enqueue_jobs_once = boolean()?;
                ConfigChange::AofEnqueueJobsOnce
            }
            b"rereplicate" => {
                self.rereplicate = boolean()?;
                ConfigChange::Rereplicate
            }
            b"http-port" => {
                let previous = self.http_port;
                self.http_port = int_min(0).and_then(|v| u16::try_from(v).map_err(|_| bad()))?;
                ConfigChange::HttpPort { previous }
            }
            b"metrics-top-queues" => {
                self.metrics_top_queues = int_min(0)?;
                ConfigChange::MetricsTopQueues
            }
            b"protected-mode" => {
                self.protected_mode = boolean()?;
                ConfigChange::ProtectedMode
            }
            b"cluster-node-timeout" => {
                self.cluster_node_timeout = int_min(0)?;
                ConfigChange::ClusterNodeTimeout
            }
            b"slowlog-log-slower-than" => {
                self.slowlog_log_slower_than = int_min(0)?;
                ConfigChange::SlowlogLogSlowerThan
            }
            b"slowlog-max-len" => {
                self.slowlog_max_len = int_min(0)?;
                ConfigChange::SlowlogMaxLen
            }
            b"latency-monitor-threshold" => {
                self.latency_monitor_threshold = int_min(0)?;
                ConfigChange::LatencyMonitorThreshold
            }
            b"client-output-buffer-limit" => {
                let limits = parse_client_limits(value).ok_or_else(bad)?;
                if let Some(last) = limits.last() {
                    self.client_output_buffer_limit = *last;
                }
                ConfigChange::ClientOutputBufferLimit
            }
            b"watchdog-period" => {
                let requested = int_min(0)?;
                self.watchdog_period = self.effective_watchdog_period(requested);
                ConfigChange::WatchdogPeriod
            }
            b"tls-cert-file" | b"tls-key-file" | b"tls-ca-cert-file" | b"tls-auth-clients"
            | b"tls-protocols" => {
                if name.ends_with(b"-file") {
                    protected()?;
                }
                let mut next = self.clone();
                let text = String::from_utf8_lossy(value).into_owned();
                match name.as_slice() {
                    b"tls-cert-file" => next.tls_cert_file = text,
                    b"tls-key-file" => next.tls_key_file = text,
                    b"tls-ca-cert-file" => next.tls_ca_cert_file = text,
                    b"tls-auth-clients" => {
                        next.tls_auth_clients = TlsAuthClients::parse(value).ok_or_else(bad)?
                    }
                    _ => {
                        crate::tls::protocol_versions(&text).ok_or_else(bad)?;
                        next.tls_protocols = text;
                    }
                }
                // The new contexts must build before anything changes.
                if let Err(e) = crate::tls::setup(&next) {
                    crate::log::warning(&e);
                    return Err(Reply::error_owned(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{}') - Unable to update TLS configuration. Check server logs.",
                        one_line(param)
                    )));
                }
                *self = next;
                ConfigChange::Tls
            }
            _ => {
                return Err(Reply::error_owned(format!(
                    "ERR Unsupported CONFIG parameter: {}",
                    one_line(param)
                )))
            }
        };
        Ok(change)
    }

    /// Runs `CONFIG <sub> ...`. `args` is the whole command including the
    /// `CONFIG` name itself (`args[0]`). REWRITE is carried out here.
    pub fn command(&mut self, args: &[Bytes]) -> ConfigOutcome {
        self.command_from(args, true)
    }

    /// [`Config::command`] for a client that may change protected configs
    /// only when `allow_protected` (see [`Config::set_from`]).
    pub fn command_from(&mut self, args: &[Bytes], allow_protected: bool) -> ConfigOutcome {
        let Some(sub) = args.get(1) else {
            return ConfigOutcome::Reply(Reply::error(
                "ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE",
            ));
        };
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(ConfigOutcome::Reply(Reply::error_owned(format!(
                    "ERR Wrong number of arguments for CONFIG {}",
                    one_line(sub)
                ))))
            }
        };
        let result = if sub.eq_ignore_ascii_case(b"set") {
            arity(4).map(
                |()| match self.set_from(&args[2], &args[3], allow_protected) {
                    Ok(change) => ConfigOutcome::Set(change),
                    Err(reply) => ConfigOutcome::Reply(reply),
                },
            )
        } else if sub.eq_ignore_ascii_case(b"get") {
            arity(3).map(|()| ConfigOutcome::Reply(self.get(&args[2])))
        } else if sub.eq_ignore_ascii_case(b"resetstat") {
            arity(2).map(|()| ConfigOutcome::ResetStat)
        } else if sub.eq_ignore_ascii_case(b"rewrite") {
            arity(2).map(|()| {
                ConfigOutcome::Reply(match self.rewrite() {
                    Ok(()) => Reply::ok(),
                    Err(e) => e.to_reply(),
                })
            })
        } else {
            Ok(ConfigOutcome::Reply(Reply::error(
                "ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE",
            )))
        };
        result.unwrap_or_else(|e| e)
    }
}

/// A password value: empty removes it; `None` when it is too long.
fn password(value: &[u8]) -> Option<Option<Vec<u8>>> {
    (value.len() <= AUTHPASS_MAX_LEN).then(|| (!value.is_empty()).then(|| value.to_vec()))
}

/// The value of `CONFIG SET client-output-buffer-limit`: words separated by
/// single spaces, in groups of four (`<class> <hard> <soft> <seconds>`),
/// class `normal`, numbers plain non-negative integers. The whole value is
/// checked before anything is applied; an empty value gives no group.
fn parse_client_limits(value: &[u8]) -> Option<Vec<ClientOutputBufferLimit>> {
    if value.is_empty() {
        return Some(Vec::new());
    }
    let words: Vec<&[u8]> = value.split(|&b| b == b' ').collect();
    let groups = words.chunks_exact(4);
    if !groups.remainder().is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for group in groups {
        if !group[0].eq_ignore_ascii_case(b"normal") {
            return None;
        }
        let mut nums = [0i64; 3];
        for (slot, word) in nums.iter_mut().zip(&group[1..]) {
            *slot = strtoll_whole(word).filter(|v| *v >= 0)?;
        }
        out.push(ClientOutputBufferLimit {
            hard: nums[0] as u64,
            soft: nums[1] as u64,
            soft_seconds: nums[2],
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cwd_lock, temp_dir};
    use super::*;

    fn cmd(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn run(c: &mut Config, words: &[&str]) -> ConfigOutcome {
        c.command(&cmd(words))
    }

    fn reply(c: &mut Config, words: &[&str]) -> Reply {
        match run(c, words) {
            ConfigOutcome::Reply(r) => r,
            ConfigOutcome::Set(_) => Reply::ok(),
            ConfigOutcome::ResetStat => Reply::status("RESETSTAT"),
        }
    }

    fn pairs(r: Reply) -> Vec<(String, String)> {
        let Reply::Array(items) = r else {
            panic!("not an array: {r:?}")
        };
        items
            .chunks(2)
            .map(|p| match (&p[0], &p[1]) {
                (Reply::Bulk(a), Reply::Bulk(b)) => (
                    String::from_utf8(a.to_vec()).unwrap(),
                    String::from_utf8(b.to_vec()).unwrap(),
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn get1(c: &mut Config, name: &str) -> String {
        let p = pairs(reply(c, &["config", "get", name]));
        assert_eq!(p.len(), 1, "{name}");
        p[0].1.clone()
    }

    fn err(text: &str) -> Reply {
        Reply::error_owned(text.to_owned())
    }

    #[test]
    fn get_all_in_order_with_defaults() {
        let _guard = cwd_lock();
        let mut c = Config::default();
        let all = pairs(reply(&mut c, &["config", "get", "*"]));
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, GET_ORDER.to_vec());
        let cwd = std::env::current_dir().unwrap().display().to_string();
        let expected = [
            ("requirepass", ""),
            ("unixsocket", ""),
            ("logfile", ""),
            ("pidfile", "/var/run/disque.pid"),
            ("maxmemory", "1073741824"),
            ("maxmemory-samples", "5"),
            ("timeout", "0"),
            ("auto-aof-rewrite-percentage", "100"),
            ("auto-aof-rewrite-min-size", "67108864"),
            ("slowlog-log-slower-than", "10000"),
            ("latency-monitor-threshold", "0"),
            ("slowlog-max-len", "128"),
            ("port", "7711"),
            ("tcp-backlog", "511"),
            ("databases", "16"),
            ("maxclients", "10000"),
            ("watchdog-period", "0"),
            ("hz", "10"),
            ("cluster-node-timeout", "15000"),
            ("tcp-keepalive", "no"),
            ("no-appendfsync-on-rewrite", "no"),
            ("daemonize", "no"),
            ("activerehashing", "yes"),
            ("aof-rewrite-incremental-fsync", "yes"),
            ("aof-load-truncated", "yes"),
            ("aof-enqueue-jobs-once", "no"),
            ("maxmemory-policy", "acks"),
            ("loglevel", "notice"),
            ("appendfsync", "everysec"),
            ("syslog-facility", "local0"),
            ("appendonly", "no"),
            ("dir", cwd.as_str()),
            ("client-output-buffer-limit", "normal 0 0 0"),
            ("unixsocketperm", "0"),
            ("bind", ""),
            ("rereplicate", "yes"),
            ("logformat", "text"),
            ("http-port", "0"),
            ("metrics-top-queues", "100"),
            ("protected-mode", "yes"),
            ("enable-protected-configs", "local"),
            ("enable-debug-command", "local"),
            ("cluster-password", ""),
            ("tls-port", "0"),
            ("tls-cert-file", ""),
            ("tls-key-file", ""),
            ("tls-ca-cert-file", ""),
            ("tls-auth-clients", "yes"),
            ("tls-cluster", "no"),
            ("tls-protocols", ""),
        ];
        let got: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, expected.to_vec());
    }

    #[test]
    fn d17_config_get_set() {
        let mut c = Config::default();
        assert_eq!(
            pairs(reply(&mut c, &["config", "get", "maxmemory"])),
            vec![("maxmemory".to_owned(), "1073741824".to_owned())]
        );
        let aof: Vec<String> = pairs(reply(&mut c, &["config", "get", "aof-*"]))
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            aof,
            vec![
                "aof-rewrite-incremental-fsync",
                "aof-load-truncated",
                "aof-enqueue-jobs-once"
            ]
        );
        assert_eq!(
            run(&mut c, &["config", "set", "hz", "1000"]),
            ConfigOutcome::Set(ConfigChange::Hz)
        );
        assert_eq!(get1(&mut c, "hz"), "500");
        assert_eq!(
            reply(&mut c, &["config", "set", "appendfsync", "sometimes"]),
            err("ERR Invalid argument 'sometimes' for CONFIG SET 'appendfsync'")
        );
        assert_eq!(
            reply(&mut c, &["config", "set", "port", "1"]),
            err("ERR Unsupported CONFIG parameter: port")
        );
        assert_eq!(
            reply(&mut c, &["CONFIG", "GET"]),
            err("ERR Wrong number of arguments for CONFIG GET")
        );
        assert_eq!(
            reply(&mut c, &["config", "gEt"]),
            err("ERR Wrong number of arguments for CONFIG gEt")
        );
        assert_eq!(
            reply(&mut c, &["config", "foo"]),
            err("ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE")
        );
        assert_eq!(
            reply(&mut c, &["config", "rewrite"]),
            err("ERR The server is running without a config file")
        );
    }

    #[test]
    fn dispatch_arity() {
        let mut c = Config::default();
        for (words, sub) in [
            (&["config", "set", "hz"][..], "set"),
            (&["config", "SET", "hz", "1", "2"], "SET"),
            (&["config", "get", "a", "b"], "get"),
            (&["config", "resetstat", "x"], "resetstat"),
            (&["config", "Rewrite", "x"], "Rewrite"),
        ] {
            assert_eq!(
                reply(&mut c, words),
                err(&format!("ERR Wrong number of arguments for CONFIG {sub}"))
            );
        }
        assert_eq!(
            run(&mut c, &["config", "RESETSTAT"]),
            ConfigOutcome::ResetStat
        );
        assert_eq!(
            reply(&mut c, &["config"]),
            err("ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE")
        );
        assert_eq!(
            reply(&mut c, &["config", "get", "nothing*"]),
            Reply::Array(vec![])
        );
        assert_eq!(
            reply(&mut c, &["config", "get", "HZ"]),
            Reply::Array(vec![])
        );
    }

    #[test]
    fn settable_and_read_only_parameters() {
        let _guard = cwd_lock();
        let settable = [
            ("timeout", "5"),
            ("tcp-keepalive", "yes"),
            ("loglevel", "debug"),
            ("logformat", "json"),
            ("requirepass", "pw"),
            ("maxclients", "10"),
            ("maxmemory", "2gb"),
            ("maxmemory-policy", "noeviction"),
            ("maxmemory-samples", "3"),
            ("activerehashing", "no"),
            ("hz", "20"),
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("auto-aof-rewrite-percentage", "50"),
            ("auto-aof-rewrite-min-size", "1000"),
            ("aof-rewrite-incremental-fsync", "no"),
            ("aof-load-truncated", "no"),
            ("aof-enqueue-jobs-once", "yes"),
            ("cluster-node-timeout", "2000"),
            ("slowlog-log-slower-than", "0"),
            ("slowlog-max-len", "5"),
            ("latency-monitor-threshold", "10"),
            ("client-output-buffer-limit", "normal 1 2 3"),
            ("watchdog-period", "500"),
        ];
        let mut c = Config::default();
        for (name, value) in settable {
            assert!(
                matches!(
                    run(&mut c, &["config", "set", name, value]),
                    ConfigOutcome::Set(_)
                ),
                "{name}"
            );
            let upper = name.to_ascii_uppercase();
            assert!(
                matches!(
                    run(&mut c, &["config", "set", &upper, value]),
                    ConfigOutcome::Set(_)
                ),
                "{upper}"
            );
        }
        let read_only = [
            "port",
            "bind",
            "tcp-backlog",
            "unixsocket",
            "unixsocketperm",
            "daemonize",
            "pidfile",
            "logfile",
            "syslog-enabled",
            "syslog-ident",
            "syslog-facility",
            "databases",
            "appendfilename",
            "no-appendfsync-on-rewrite",
            "cluster-config-file",
            "rename-command",
            "include",
            "nonsense",
        ];
        for name in read_only {
            assert_eq!(
                reply(&mut c, &["config", "set", name, "1"]),
                err(&format!("ERR Unsupported CONFIG parameter: {name}"))
            );
        }
        assert_eq!(
            reply(&mut c, &["config", "set", "PORT", "1"]),
            err("ERR Unsupported CONFIG parameter: PORT")
        );
    }

    #[test]
    fn set_values_read_back() {
        let mut c = Config::default();
        let set = |c: &mut Config, n: &str, v: &str| {
            assert!(
                matches!(run(c, &["config", "set", n, v]), ConfigOutcome::Set(_)),
                "{n} {v}"
            )
        };
        set(&mut c, "loglevel", "WARNING");
        assert_eq!(get1(&mut c, "loglevel"), "warning");
        set(&mut c, "logformat", "JSON");
        assert_eq!(get1(&mut c, "logformat"), "json");
        set(&mut c, "maxmemory-policy", "ACKS");
        assert_eq!(get1(&mut c, "maxmemory-policy"), "acks");
        set(&mut c, "appendfsync", "ALWAYS");
        assert_eq!(get1(&mut c, "appendfsync"), "always");
        set(&mut c, "tcp-keepalive", "YES");
        assert_eq!(get1(&mut c, "tcp-keepalive"), "yes");
        assert_eq!(c.tcp_keepalive, 1);
        set(&mut c, "tcp-keepalive", "no");
        assert_eq!(c.tcp_keepalive, 0);
        set(&mut c, "hz", "0");
        assert_eq!(get1(&mut c, "hz"), "1");
        set(&mut c, "hz", "10");
        set(&mut c, "watchdog-period", "100");
        assert_eq!(get1(&mut c, "watchdog-period"), "200");
        set(&mut c, "watchdog-period", "0");
        assert_eq!(get1(&mut c, "watchdog-period"), "0");
        set(&mut c, "hz", "500");
        set(&mut c, "watchdog-period", "1");
        assert_eq!(get1(&mut c, "watchdog-period"), "4");
        set(&mut c, "maxmemory", "1mb");
        assert_eq!(get1(&mut c, "maxmemory"), "1048576");
        set(&mut c, "maxmemory", "0");
        assert_eq!(c.maxmemory, 0);
        set(&mut c, "maxmemory", "");
        assert_eq!(c.maxmemory, 0);
        set(&mut c, "timeout", "+5");
        assert_eq!(get1(&mut c, "timeout"), "5");
        set(&mut c, "timeout", "007");
        assert_eq!(get1(&mut c, "timeout"), "7");
        set(&mut c, "timeout", "");
        assert_eq!(get1(&mut c, "timeout"), "0");
        set(&mut c, "requirepass", "secret");
        assert_eq!(get1(&mut c, "requirepass"), "secret");
        set(&mut c, "requirepass", "");
        assert_eq!(c.requirepass, None);
        set(&mut c, "requirepass", &"p".repeat(512));
        set(&mut c, "client-output-buffer-limit", "normal 1024 512 10");
        assert_eq!(
            get1(&mut c, "client-output-buffer-limit"),
            "normal 1024 512 10"
        );
        set(&mut c, "client-output-buffer-limit", "");
        assert_eq!(
            get1(&mut c, "client-output-buffer-limit"),
            "normal 1024 512 10"
        );
        set(
            &mut c,
            "client-output-buffer-limit",
            "normal 1 1 1 NORMAL 2 2 2",
        );
        assert_eq!(get1(&mut c, "client-output-buffer-limit"), "normal 2 2 2");
        set(&mut c, "appendonly", "yes");
        assert_eq!(get1(&mut c, "appendonly"), "yes");
        assert_eq!(
            c.set(b"maxclients", b"20"),
            Ok(ConfigChange::MaxClients { previous: 10000 })
        );
        assert_eq!(
            c.set(b"appendonly", b"no"),
            Ok(ConfigChange::AppendOnly { enabled: false })
        );
        assert_eq!(c.set(b"requirepass", b"x"), Ok(ConfigChange::RequirePass));
    }

    #[test]
    fn set_rejects_bad_values() {
        let mut c = Config::default();
        let before = c.clone();
        let cases: &[(&str, &str)] = &[
            ("timeout", "-1"),
            ("timeout", " 5"),
            ("timeout", "5 "),
            ("timeout", "1.5"),
            ("timeout", "abc"),
            ("timeout", "99999999999999999999"),
            ("tcp-keepalive", "10"),
            ("loglevel", "loud"),
            ("logformat", "yaml"),
            ("requirepass", &"p".repeat(513)),
            ("maxclients", "0"),
            ("maxmemory", "1x"),
            ("maxmemory", "-1"),
            ("maxmemory", "1.5mb"),
            ("maxmemory", "+5"),
            ("maxmemory-policy", "volatile-lru"),
            ("maxmemory-samples", "0"),
            ("activerehashing", "1"),
            ("hz", "-1"),
            ("appendonly", "true"),
            ("appendfsync", "sometimes"),
            ("auto-aof-rewrite-percentage", "-1"),
            ("auto-aof-rewrite-min-size", "64mb"),
            ("aof-rewrite-incremental-fsync", ""),
            ("aof-load-truncated", "y"),
            ("aof-enqueue-jobs-once", "on"),
            ("cluster-node-timeout", "-1"),
            ("slowlog-log-slower-than", "-1"),
            ("slowlog-max-len", "-1"),
            ("latency-monitor-threshold", "-1"),
            ("client-output-buffer-limit", "normal 1 2"),
            ("client-output-buffer-limit", "slave 1 2 3"),
            ("client-output-buffer-limit", "normal 1mb 2 3"),
            ("client-output-buffer-limit", "normal -1 2 3"),
            ("client-output-buffer-limit", "normal  1 2 3"),
            ("client-output-buffer-limit", "normal 1 2 3 normal x 2 3"),
            ("watchdog-period", "-1"),
        ];
        for (name, value) in cases {
            assert_eq!(
                reply(&mut c, &["config", "set", name, value]),
                err(&format!(
                    "ERR Invalid argument '{value}' for CONFIG SET '{name}'"
                )),
                "{name} {value:?}"
            );
        }
        assert_eq!(c, before);
        assert_eq!(
            reply(&mut c, &["config", "set", "Maxmemory", "1x"]),
            err("ERR Invalid argument '1x' for CONFIG SET 'Maxmemory'")
        );
        // CR/LF cannot break the reply line.
        assert_eq!(
            reply(&mut c, &["config", "set", "timeout", "a\r\nb"]),
            err("ERR Invalid argument 'a  b' for CONFIG SET 'timeout'")
        );
    }

    #[test]
    fn set_dir() {
        let _guard = cwd_lock();
        let before = std::env::current_dir().unwrap();
        let dir = temp_dir("setdir");
        let mut c = Config::default();
        let path = dir.display().to_string();
        assert_eq!(
            run(&mut c, &["config", "set", "dir", &path]),
            ConfigOutcome::Set(ConfigChange::Dir)
        );
        let now = std::env::current_dir().unwrap();
        assert_eq!(get1(&mut c, "dir"), now.display().to_string());
        std::env::set_current_dir(&before).unwrap();
        let missing = dir.join("missing").display().to_string();
        assert_eq!(
            reply(&mut c, &["config", "set", "dir", &missing]),
            err("ERR Changing directory: No such file or directory")
        );
        assert_eq!(std::env::current_dir().unwrap(), before);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn get_formats() {
        let mut c = Config {
            unixsocketperm: 0o755,
            tcp_keepalive: 60,
            bind: vec!["127.0.0.1".into(), "::1".into()],
            requirepass: Some(b"pw".to_vec()),
            unixsocket: Some("/tmp/s".into()),
            ..Config::default()
        };
        assert_eq!(get1(&mut c, "unixsocketperm"), "755");
        assert_eq!(get1(&mut c, "tcp-keepalive"), "yes");
        assert_eq!(get1(&mut c, "bind"), "127.0.0.1 ::1");
        assert_eq!(get1(&mut c, "requirepass"), "pw");
        assert_eq!(get1(&mut c, "unixsocket"), "/tmp/s");
        let names: Vec<String> = pairs(reply(&mut c, &["config", "get", "*max*"]))
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            names,
            vec![
                "maxmemory",
                "maxmemory-samples",
                "slowlog-max-len",
                "maxclients",
                "maxmemory-policy"
            ]
        );
    }
}
