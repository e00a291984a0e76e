//! `CONFIG GET`, `CONFIG SET` and the `CONFIG` command dispatch
//! (docs/config.md §4, §5; docs/commands.md §4.5), driven by the table of
//! settings.

use std::sync::LazyLock;

use bytes::Bytes;
use disque_proto::Reply;

use super::glob::glob_match;
use super::setting::{find, Refusal, GET_SETTINGS};
use super::text::one_line;
use super::Config;

/// The parameters `CONFIG GET` knows, in the order it lists them.
pub static GET_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| GET_SETTINGS.iter().map(|s| s.name).collect());

/// A successful `CONFIG SET`: what the server must do about it (the new
/// value is already in the [`Config`]). The reply is `+OK` unless the
/// reaction fails as noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    /// Nothing: the new value is read where it is used.
    Stored,
    /// `dir`: the working directory was already changed.
    Dir,
    /// `requirepass`: every open connection must become unauthenticated
    /// (docs/commands.md §4.3).
    RequirePass,
    /// `loglevel`: the logger's level.
    LogLevel,
    /// `logformat`: the logger's format.
    LogFormat,
    /// `maxmemory` or `maxmemory-policy`: hand both to the core and run the
    /// eviction procedure now.
    MaxMemory,
    /// `maxclients`: `previous` is the value before this SET, for a server
    /// that cannot handle the new limit to put back.
    MaxClients {
        /// The value before this SET.
        previous: i64,
    },
    /// `hz` (already clamped to 1..=500): the cron's period.
    Hz,
    /// `rereplicate` (decision D8): the core's setting.
    Rereplicate,
    /// `cluster-node-timeout`: the core's node timeout.
    ClusterNodeTimeout,
    /// `appendonly`: start the AOF (if it is off and `enabled`) or stop it
    /// (if it is on and not `enabled`). When starting fails, set
    /// `config.appendonly = false` and reply
    /// `-ERR Unable to turn on AOF. Check server logs.`
    AppendOnly {
        /// The new value.
        enabled: bool,
    },
    /// `appendfsync`: the AOF's fsync policy.
    AppendFsync,
    /// `http-port` (decision D19): the HTTP listener moves to the new port
    /// (0 closes it). If the new port cannot be bound, put `previous` back
    /// and reply with the error.
    HttpPort {
        /// The value before this SET.
        previous: u16,
    },
    /// A TLS setting (decision D13): the contexts must be rebuilt (they were
    /// checked to build); they apply to new connections.
    Tls,
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

impl Config {
    /// The `CONFIG GET` value of one parameter (a name from [`GET_ORDER`]).
    pub fn get_value(&self, name: &str) -> Option<Vec<u8>> {
        let setting = GET_SETTINGS.iter().find(|s| s.name == name)?;
        Some(setting.show(self))
    }

    /// `CONFIG GET <pattern>`: the flat `[name, value, ...]` array of every
    /// parameter whose name matches the glob `pattern` (case-sensitive), in
    /// [`GET_ORDER`]; `*0` when nothing matches.
    pub fn get(&self, pattern: &[u8]) -> Reply {
        let mut items = Vec::new();
        for setting in GET_SETTINGS.iter() {
            if glob_match(pattern, setting.name.as_bytes()) {
                items.push(Reply::bulk_from(setting.name.as_bytes()));
                items.push(Reply::Bulk(Bytes::from(setting.show(self))));
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
        let failed = |why: &str| {
            Reply::error_owned(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
                one_line(param)
            ))
        };
        let Some((setting, set)) = find(param).and_then(|s| Some((s, s.set.as_ref()?))) else {
            return Err(Reply::error_owned(format!(
                "ERR Unsupported CONFIG parameter: {}",
                one_line(param)
            )));
        };
        if set.protected && !allow_protected {
            return Err(failed("can't set protected config"));
        }
        let mut next = self.clone();
        setting
            .assign(&mut next, value)
            .map_err(|refusal| match refusal {
                Refusal::Invalid => Reply::error_owned(format!(
                    "ERR Invalid argument '{}' for CONFIG SET '{}'",
                    one_line(value),
                    one_line(param)
                )),
                Refusal::Error(text) => Reply::error_owned(text),
            })?;
        // The new TLS contexts must build before anything changes.
        if set.tls {
            if let Err(e) = crate::tls::setup(&next) {
                crate::log::warning(&e);
                return Err(failed(
                    "Unable to update TLS configuration. Check server logs.",
                ));
            }
        }
        let change = (set.change)(self, &next);
        *self = next;
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{cwd_lock, temp_dir};
    use super::*;
    use crate::test_support::cmd;

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
