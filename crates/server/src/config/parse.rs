//! The config file parser: line splitting, directives and their validation
//! (docs/config.md §2 and §3).

use std::collections::HashSet;
use std::fmt;
use std::fs::OpenOptions;

use super::text::{atoi, memtoll, strerror, strtol_octal, strtoll_lenient, trim, yes_no};
use super::{
    AppendFsync, ClientOutputBufferLimit, Config, LogFormat, LogLevel, MaxmemoryPolicy,
    ProtectedAction, SyslogFacility, TlsAuthClients, AUTHPASS_MAX_LEN, HZ_MAX, HZ_MIN,
    MAX_BIND_ADDRESSES,
};

/// `include` files may nest this deep (the original recursed without a
/// limit until it crashed).
const MAX_INCLUDE_DEPTH: usize = 32;

/// How [`load_from_args`](super::load_from_args) and
/// [`Config::load_text`] behave.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions<'a> {
    /// The names of the server's command table, for validating
    /// `rename-command` (compared case-insensitively). `None` accepts every
    /// rename without checking.
    pub command_names: Option<&'a [&'a str]>,
    /// What `-` (config from stdin) reads; `None` reads the real stdin.
    pub stdin: Option<&'a [u8]>,
    /// Whether `dir` directives change the working directory (the server
    /// wants this; tests may not). When false, `dir` is only checked to be
    /// an existing directory.
    pub change_dir: bool,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions {
            command_names: None,
            stdin: None,
            change_dir: true,
        }
    }
}

/// A fatal configuration error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A bad line: printed as the banner of docs/config.md §2 (see
    /// [`ConfigError::banner`]) on stderr.
    Line {
        /// 1-based line number in the text being parsed (an `include`d file
        /// counts its own lines).
        line: usize,
        /// The trimmed line.
        text: String,
        /// The error message (`Invalid port`, ...).
        message: String,
    },
    /// A config file (or an `include`d one) could not be read: logged as
    /// `Fatal error, can't open config file '<path>'`.
    CantOpen {
        /// The path as given.
        path: String,
    },
    /// Another fatal condition to log (e.g. `dir` naming a directory that
    /// cannot be entered).
    Fatal(String),
}

impl ConfigError {
    /// The text to show: the banner for [`ConfigError::Line`]
    /// (`\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line N\n>>> 'line'\nmessage\n`),
    /// else the log message (without a newline).
    pub fn banner(&self) -> String {
        match self {
            ConfigError::Line { line, text, message } => format!(
                "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{message}\n"
            ),
            ConfigError::CantOpen { path } => {
                format!("Fatal error, can't open config file '{path}'")
            }
            ConfigError::Fatal(msg) => msg.clone(),
        }
    }

    /// True if the text goes to stderr as is (the banner); false if it is a
    /// log line.
    pub fn is_banner(&self) -> bool {
        matches!(self, ConfigError::Line { .. })
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.banner())
    }
}

impl std::error::Error for ConfigError {}

/// What a directive handler reports.
enum DirectiveError {
    /// A message for the banner, at the current line.
    Message(String),
    /// An error that already has its own location (from an `include`).
    Nested(ConfigError),
}

impl From<&str> for DirectiveError {
    fn from(s: &str) -> Self {
        DirectiveError::Message(s.to_owned())
    }
}

type DirResult = Result<(), DirectiveError>;

/// Splits a config line into arguments (docs/config.md §2); `None` when the
/// quotes are unbalanced.
pub(crate) fn split_line(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    disque_proto::split_args(line)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `no|yes|local` value (decision D14), with Redis 7's error for an
/// enum directive.
fn protected_action(arg: &[u8]) -> Result<ProtectedAction, DirectiveError> {
    ProtectedAction::parse(arg).ok_or(DirectiveError::from(
        "argument(s) must be one of the following: no, yes, local",
    ))
}

/// A password directive's value: empty means none.
fn password(pass: &[u8]) -> Result<Option<Vec<u8>>, DirectiveError> {
    if pass.len() > AUTHPASS_MAX_LEN {
        return Err("Password is longer than CONFIG_AUTHPASS_MAX_LEN".into());
    }
    Ok((!pass.is_empty()).then(|| pass.to_vec()))
}

/// State of one load (the file, its includes and the command-line options).
pub(crate) struct Loader<'c, 'o> {
    config: &'c mut Config,
    opts: &'o LoadOptions<'o>,
    /// Current command names (lower case) when renames are validated.
    commands: Option<HashSet<String>>,
    depth: usize,
}

impl<'c, 'o> Loader<'c, 'o> {
    pub(crate) fn new(config: &'c mut Config, opts: &'o LoadOptions<'o>) -> Self {
        let commands = opts
            .command_names
            .map(|names| names.iter().map(|n| n.to_ascii_lowercase()).collect());
        Loader {
            config,
            opts,
            commands,
            depth: 0,
        }
    }

    /// Parses a whole config text.
    pub(crate) fn load_text(&mut self, text: &[u8]) -> Result<(), ConfigError> {
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let err = |message: String| ConfigError::Line {
                line: i + 1,
                text: lossy(line),
                message,
            };
            let Some(argv) = split_line(line) else {
                return Err(err("Unbalanced quotes in configuration line".to_owned()));
            };
            if argv.is_empty() {
                continue;
            }
            match self.directive(&argv) {
                Ok(()) => {}
                Err(DirectiveError::Message(m)) => return Err(err(m)),
                Err(DirectiveError::Nested(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn include(&mut self, path: &[u8]) -> DirResult {
        let path = lossy(path);
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err("Too many nested include directives".into());
        }
        let text = std::fs::read(&path)
            .map_err(|_| DirectiveError::Nested(ConfigError::CantOpen { path: path.clone() }))?;
        self.depth += 1;
        let result = self.load_text(&text);
        self.depth -= 1;
        result.map_err(DirectiveError::Nested)
    }

    fn rename_command(&mut self, old: &[u8], new: &[u8]) -> DirResult {
        let (old, new) = (lossy(old), lossy(new));
        if let Some(names) = self.commands.as_mut() {
            if !names.remove(&old.to_ascii_lowercase()) {
                return Err("No such command in rename-command".into());
            }
            if !new.is_empty() && !names.insert(new.to_ascii_lowercase()) {
                return Err("Target command name already exists".into());
            }
        }
        self.config.rename_commands.push((old, new));
        Ok(())
    }

    fn change_dir(&mut self, dir: &[u8]) -> DirResult {
        let dir = lossy(dir);
        let result = if self.opts.change_dir {
            std::env::set_current_dir(&dir)
        } else {
            std::fs::read_dir(&dir).map(|_| ())
        };
        result.map_err(|e| {
            DirectiveError::Nested(ConfigError::Fatal(format!(
                "Can't chdir to '{dir}': {}",
                strerror(&e)
            )))
        })
    }

    /// One directive line, already split; `argv[0]` is the name.
    fn directive(&mut self, argv: &[Vec<u8>]) -> DirResult {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        let c = &mut *self.config;
        let arg = |i: usize| -> &[u8] { argv.get(i).map_or(&[][..], |a| &a[..]) };
        let yes_no_arg =
            || yes_no(arg(1)).ok_or(DirectiveError::from("argument must be 'yes' or 'no'"));

        match (name.as_slice(), argc) {
            (b"timeout", 2) => {
                let v = atoi(arg(1));
                if v < 0 {
                    return Err("Invalid timeout value".into());
                }
                c.timeout = i64::from(v);
            }
            (b"tcp-keepalive", 2) => {
                let v = atoi(arg(1));
                if v < 0 {
                    return Err("Invalid tcp-keepalive value".into());
                }
                c.tcp_keepalive = i64::from(v);
            }
            (b"port", 2) => {
                let v = atoi(arg(1));
                c.port = u16::try_from(v).map_err(|_| DirectiveError::from("Invalid port"))?;
            }
            (b"tcp-backlog", 2) => {
                let v = atoi(arg(1));
                if v < 0 {
                    return Err("Invalid backlog value".into());
                }
                c.tcp_backlog = v;
            }
            (b"bind", n) if n >= 2 => {
                if n - 1 > MAX_BIND_ADDRESSES {
                    return Err("Too many bind addresses specified".into());
                }
                c.bind = argv[1..].iter().map(|a| lossy(a)).collect();
            }
            (b"unixsocket", 2) => {
                c.unixsocket = if arg(1).is_empty() {
                    None
                } else {
                    Some(lossy(arg(1)))
                };
            }
            (b"unixsocketperm", 2) => {
                let (v, overflow) = strtol_octal(arg(1));
                // The original stores the value in an unsigned mode_t.
                let perm = v as u32;
                if overflow || v < 0 || perm > 0o777 {
                    return Err("Invalid socket file permissions".into());
                }
                c.unixsocketperm = perm;
            }
            (b"daemonize", 2) => c.daemonize = yes_no_arg()?,
            (b"pidfile", 2) => c.pidfile = lossy(arg(1)),
            (b"loglevel", 2) => {
                c.loglevel = LogLevel::parse(arg(1)).ok_or(DirectiveError::from(
                    "Invalid log level. Must be one of debug, verbose, notice, warning",
                ))?;
            }
            (b"logformat", 2) => {
                c.logformat = LogFormat::parse(arg(1)).ok_or(DirectiveError::from(
                    "Invalid log format. Must be one of text, json",
                ))?;
            }
            (b"logfile", 2) => {
                let path = lossy(arg(1));
                if !path.is_empty() {
                    if let Err(e) = OpenOptions::new().append(true).create(true).open(&path) {
                        return Err(DirectiveError::Message(format!(
                            "Can't open the log file: {}",
                            strerror(&e)
                        )));
                    }
                }
                c.logfile = path;
            }
            (b"syslog-enabled", 2) => c.syslog_enabled = yes_no_arg()?,
            (b"syslog-ident", 2) => c.syslog_ident = lossy(arg(1)),
            (b"syslog-facility", 2) => {
                c.syslog_facility = SyslogFacility::parse(arg(1)).ok_or(DirectiveError::from(
                    "Invalid log facility. Must be one of USER or between LOCAL0-LOCAL7",
                ))?;
            }
            (b"dir", 2) => return self.change_dir(arg(1)),
            (b"databases", 2) => {
                let v = atoi(arg(1));
                if v < 1 {
                    return Err("Invalid number of databases".into());
                }
                c.databases = v;
            }
            (b"include", 2) => return self.include(arg(1)),
            (b"requirepass", 2) => c.requirepass = password(arg(1))?,
            (b"cluster-password", 2) => c.cluster_password = password(arg(1))?,
            (b"tls-port", 2) => {
                let v = atoi(arg(1));
                c.tls_port =
                    u16::try_from(v).map_err(|_| DirectiveError::from("Invalid tls-port"))?;
            }
            (b"tls-cert-file", 2) => c.tls_cert_file = lossy(arg(1)),
            (b"tls-key-file", 2) => c.tls_key_file = lossy(arg(1)),
            (b"tls-ca-cert-file", 2) => c.tls_ca_cert_file = lossy(arg(1)),
            (b"tls-auth-clients", 2) => {
                c.tls_auth_clients = TlsAuthClients::parse(arg(1)).ok_or(DirectiveError::from(
                    "argument(s) must be one of the following: no, yes, optional",
                ))?;
            }
            (b"tls-cluster", 2) => c.tls_cluster = yes_no_arg()?,
            (b"tls-protocols", 2) => {
                let value = lossy(arg(1));
                if crate::tls::protocol_versions(&value).is_none() {
                    return Err(
                        "Invalid tls-protocols value (TLSv1.2 and TLSv1.3 are supported)".into(),
                    );
                }
                c.tls_protocols = value;
            }
            (b"rename-command", 3) => return self.rename_command(arg(1), arg(2)),
            (b"maxclients", 2) => {
                let v = atoi(arg(1));
                if v < 1 {
                    return Err("Invalid max clients limit".into());
                }
                c.maxclients = i64::from(v);
            }
            (b"maxmemory", 2) => {
                // Stored unsigned, as in the original: a negative size wraps.
                let v = memtoll(arg(1)).0 as u64;
                if v == 0 {
                    return Err("You need to specify a memory limit greater than zero".into());
                }
                c.maxmemory = v;
            }
            (b"maxmemory-policy", 2) => {
                c.maxmemory_policy = MaxmemoryPolicy::parse(arg(1))
                    .ok_or(DirectiveError::from("Invalid maxmemory policy"))?;
            }
            (b"maxmemory-samples", 2) => {
                let v = atoi(arg(1));
                if v < 1 {
                    return Err("maxmemory-samples must be 1 or greater".into());
                }
                c.maxmemory_samples = i64::from(v);
            }
            (b"activerehashing", 2) => c.activerehashing = yes_no_arg()?,
            (b"hz", 2) => c.hz = i64::from(atoi(arg(1))).clamp(HZ_MIN, HZ_MAX),
            (b"appendonly", 2) => c.appendonly = yes_no_arg()?,
            (b"appendfilename", 2) => {
                let name = arg(1);
                if name.contains(&b'/') || name.contains(&b'\\') {
                    return Err("appendfilename can't be a path, just a filename".into());
                }
                c.appendfilename = lossy(name);
            }
            (b"appendfsync", 2) => {
                c.appendfsync = AppendFsync::parse(arg(1)).ok_or(DirectiveError::from(
                    "argument must be 'no', 'always' or 'everysec'",
                ))?;
            }
            (b"no-appendfsync-on-rewrite", 2) => c.no_appendfsync_on_rewrite = yes_no_arg()?,
            (b"auto-aof-rewrite-percentage", 2) => {
                let v = atoi(arg(1));
                if v < 0 {
                    return Err("Invalid negative percentage for AOF auto rewrite".into());
                }
                c.auto_aof_rewrite_percentage = i64::from(v);
            }
            (b"auto-aof-rewrite-min-size", 2) => c.auto_aof_rewrite_min_size = memtoll(arg(1)).0,
            (b"aof-rewrite-incremental-fsync", 2) => {
                c.aof_rewrite_incremental_fsync = yes_no_arg()?;
            }
            (b"aof-load-truncated", 2) => c.aof_load_truncated = yes_no_arg()?,
            (b"aof-enqueue-jobs-once", 2) => c.aof_enqueue_jobs_once = yes_no_arg()?,
            (b"rereplicate", 2) => c.rereplicate = yes_no_arg()?,
            (b"http-port", 2) => {
                let v = atoi(arg(1));
                c.http_port = u16::try_from(v).map_err(|_| DirectiveError::from("Invalid port"))?;
            }
            (b"metrics-top-queues", 2) => {
                let v = strtoll_lenient(arg(1));
                if v < 0 {
                    return Err("metrics-top-queues can't be negative".into());
                }
                c.metrics_top_queues = v;
            }
            (b"protected-mode", 2) => c.protected_mode = yes_no_arg()?,
            (b"enable-protected-configs", 2) => {
                c.enable_protected_configs = protected_action(arg(1))?;
            }
            (b"enable-debug-command", 2) => c.enable_debug_command = protected_action(arg(1))?,
            (b"cluster-config-file", 2) => c.cluster_config_file = lossy(arg(1)),
            (b"cluster-node-timeout", 2) => {
                let v = strtoll_lenient(arg(1));
                if v <= 0 {
                    return Err("cluster node timeout must be 1 or greater".into());
                }
                c.cluster_node_timeout = v;
            }
            (b"slowlog-log-slower-than", 2) => c.slowlog_log_slower_than = strtoll_lenient(arg(1)),
            (b"slowlog-max-len", 2) => c.slowlog_max_len = strtoll_lenient(arg(1)),
            (b"latency-monitor-threshold", 2) => {
                let v = strtoll_lenient(arg(1));
                if v < 0 {
                    return Err("The latency threshold can't be negative".into());
                }
                c.latency_monitor_threshold = v;
            }
            (b"client-output-buffer-limit", 5) => {
                if !arg(1).eq_ignore_ascii_case(b"normal") {
                    return Err("Unrecognized client limit class".into());
                }
                let hard = memtoll(arg(2)).0 as u64;
                let soft = memtoll(arg(3)).0 as u64;
                let soft_seconds = strtoll_lenient(arg(4));
                if soft_seconds < 0 {
                    return Err("Negative number of seconds in soft limit is invalid".into());
                }
                c.client_output_buffer_limit = ClientOutputBufferLimit {
                    hard,
                    soft,
                    soft_seconds,
                };
            }
            _ => return Err("Bad directive or wrong number of arguments".into()),
        }
        Ok(())
    }
}

impl Config {
    /// Parses config text (the contents of a file, possibly followed by
    /// command-line options) on top of the current values. Stops at the
    /// first error.
    pub fn load_text(&mut self, text: &[u8], opts: &LoadOptions<'_>) -> Result<(), ConfigError> {
        Loader::new(self, opts).load_text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cwd_lock, temp_dir};
    use super::*;

    fn opts() -> LoadOptions<'static> {
        LoadOptions {
            command_names: None,
            stdin: None,
            change_dir: false,
        }
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        c.load_text(text.as_bytes(), &opts())?;
        Ok(c)
    }

    fn err_of(text: &str) -> (usize, String, String) {
        match load(text) {
            Err(ConfigError::Line {
                line,
                text,
                message,
            }) => (line, text, message),
            other => panic!("expected a line error for {text:?}, got {other:?}"),
        }
    }

    fn message_of(text: &str) -> String {
        err_of(text).2
    }

    #[test]
    fn defaults_match_the_example_config() {
        let example = "daemonize no\npidfile /var/run/disque.pid\nport 7711\ntcp-backlog 511\n\
            timeout 0\ntcp-keepalive 0\nloglevel notice\nlogfile \"\"\nappendonly no\n\
            appendfilename \"disque.aof\"\nappendfsync everysec\nauto-aof-rewrite-percentage 100\n\
            auto-aof-rewrite-min-size 64mb\naof-load-truncated yes\naof-enqueue-jobs-once no\n\
            slowlog-log-slower-than 10000\nslowlog-max-len 128\nlatency-monitor-threshold 0\n\
            client-output-buffer-limit normal 0 0 0\nhz 10\naof-rewrite-incremental-fsync yes\n";
        assert_eq!(load(example).unwrap(), Config::default());
    }

    #[test]
    fn syntax_comments_blank_and_case() {
        let c = load("# comment\n\n   \n  PORT 1234  \r\n\tHz 20\n#port 1\n").unwrap();
        assert_eq!(c.port, 1234);
        assert_eq!(c.hz, 20);
        // Last occurrence wins.
        assert_eq!(load("port 1\nport 2\n").unwrap().port, 2);
        // Quoted values.
        assert_eq!(
            load("pidfile \"/tmp/a b.pid\"").unwrap().pidfile,
            "/tmp/a b.pid"
        );
        assert_eq!(load("pidfile '/tmp/x'").unwrap().pidfile, "/tmp/x");
    }

    #[test]
    fn banner_format() {
        let e = load("# c\nport 99999\n").unwrap_err();
        assert_eq!(
            e.banner(),
            "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 2\n>>> 'port 99999'\nInvalid port\n"
        );
        assert!(e.is_banner());
    }

    #[test]
    fn d16_config_errors() {
        assert_eq!(message_of("port 99999"), "Invalid port");
        assert_eq!(
            message_of("maxmemory 0"),
            "You need to specify a memory limit greater than zero"
        );
        assert_eq!(
            message_of("foo bar"),
            "Bad directive or wrong number of arguments"
        );
    }

    #[test]
    fn every_validation_message() {
        let cases: &[(&str, &str)] = &[
            ("port -1", "Invalid port"),
            ("port 65536", "Invalid port"),
            (
                "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
                "Too many bind addresses specified",
            ),
            ("tcp-backlog -1", "Invalid backlog value"),
            ("unixsocketperm 1000", "Invalid socket file permissions"),
            ("unixsocketperm -1", "Invalid socket file permissions"),
            ("timeout -1", "Invalid timeout value"),
            ("tcp-keepalive -1", "Invalid tcp-keepalive value"),
            ("daemonize maybe", "argument must be 'yes' or 'no'"),
            ("activerehashing 1", "argument must be 'yes' or 'no'"),
            ("appendonly on", "argument must be 'yes' or 'no'"),
            ("syslog-enabled x", "argument must be 'yes' or 'no'"),
            (
                "no-appendfsync-on-rewrite x",
                "argument must be 'yes' or 'no'",
            ),
            (
                "aof-rewrite-incremental-fsync x",
                "argument must be 'yes' or 'no'",
            ),
            ("aof-load-truncated x", "argument must be 'yes' or 'no'"),
            ("aof-enqueue-jobs-once x", "argument must be 'yes' or 'no'"),
            (
                "loglevel loud",
                "Invalid log level. Must be one of debug, verbose, notice, warning",
            ),
            (
                "logformat yaml",
                "Invalid log format. Must be one of text, json",
            ),
            (
                "syslog-facility local8",
                "Invalid log facility. Must be one of USER or between LOCAL0-LOCAL7",
            ),
            ("databases 0", "Invalid number of databases"),
            ("maxclients 0", "Invalid max clients limit"),
            (
                "maxmemory 0",
                "You need to specify a memory limit greater than zero",
            ),
            (
                "maxmemory abc",
                "You need to specify a memory limit greater than zero",
            ),
            ("maxmemory-policy volatile-lru", "Invalid maxmemory policy"),
            (
                "maxmemory-samples 0",
                "maxmemory-samples must be 1 or greater",
            ),
            (
                "appendfilename dir/x.aof",
                "appendfilename can't be a path, just a filename",
            ),
            (
                "appendfilename dir\\x.aof",
                "appendfilename can't be a path, just a filename",
            ),
            (
                "appendfsync sometimes",
                "argument must be 'no', 'always' or 'everysec'",
            ),
            (
                "auto-aof-rewrite-percentage -1",
                "Invalid negative percentage for AOF auto rewrite",
            ),
            (
                "cluster-node-timeout 0",
                "cluster node timeout must be 1 or greater",
            ),
            (
                "cluster-node-timeout abc",
                "cluster node timeout must be 1 or greater",
            ),
            (
                "latency-monitor-threshold -1",
                "The latency threshold can't be negative",
            ),
            (
                "client-output-buffer-limit slave 0 0 0",
                "Unrecognized client limit class",
            ),
            (
                "client-output-buffer-limit normal 0 0 -1",
                "Negative number of seconds in soft limit is invalid",
            ),
            ("requirepass", "Bad directive or wrong number of arguments"),
            ("port 1 2", "Bad directive or wrong number of arguments"),
            ("bind", "Bad directive or wrong number of arguments"),
            (
                "client-output-buffer-limit normal 0 0",
                "Bad directive or wrong number of arguments",
            ),
            (
                "rename-command ping",
                "Bad directive or wrong number of arguments",
            ),
            (
                "watchdog-period 100",
                "Bad directive or wrong number of arguments",
            ),
            (
                "cluster-enabled yes",
                "Bad directive or wrong number of arguments",
            ),
            ("save 900 1", "Bad directive or wrong number of arguments"),
            ("port \"1", "Unbalanced quotes in configuration line"),
            ("pidfile 'a", "Unbalanced quotes in configuration line"),
            ("pidfile \"a\"b", "Unbalanced quotes in configuration line"),
        ];
        for (line, msg) in cases {
            let (n, text, m) = err_of(line);
            assert_eq!(&m, msg, "line {line:?}");
            assert_eq!(n, 1);
            assert_eq!(&text, line);
        }
        let long = format!("requirepass {}", "x".repeat(513));
        assert_eq!(
            message_of(&long),
            "Password is longer than CONFIG_AUTHPASS_MAX_LEN"
        );
        assert!(load(&format!("requirepass {}", "x".repeat(512))).is_ok());
    }

    #[test]
    fn lenient_numbers_and_units() {
        assert_eq!(load("port abc").unwrap().port, 0);
        assert_eq!(load("port 12abc").unwrap().port, 12);
        assert_eq!(load("hz abc").unwrap().hz, 1);
        assert_eq!(load("hz 1000").unwrap().hz, 500);
        assert_eq!(load("hz -3").unwrap().hz, 1);
        assert_eq!(load("maxmemory 1xb").unwrap().maxmemory, 1);
        assert_eq!(load("maxmemory 64mb").unwrap().maxmemory, 64 << 20);
        assert_eq!(load("maxmemory 2GB").unwrap().maxmemory, 2 << 30);
        assert_eq!(load("maxmemory 1k").unwrap().maxmemory, 1000);
        assert_eq!(
            load("auto-aof-rewrite-min-size 1kb")
                .unwrap()
                .auto_aof_rewrite_min_size,
            1024
        );
        assert_eq!(load("unixsocketperm 999").unwrap().unixsocketperm, 0);
        assert_eq!(load("unixsocketperm 755").unwrap().unixsocketperm, 0o755);
        assert_eq!(load("unixsocketperm 777").unwrap().unixsocketperm, 0o777);
        assert_eq!(
            load("slowlog-log-slower-than -1")
                .unwrap()
                .slowlog_log_slower_than,
            -1
        );
        assert_eq!(
            load("cluster-node-timeout 2000ms")
                .unwrap()
                .cluster_node_timeout,
            2000
        );
        let c = load("client-output-buffer-limit NORMAL 1mb 1kb 5").unwrap();
        assert_eq!(
            c.client_output_buffer_limit,
            ClientOutputBufferLimit {
                hard: 1 << 20,
                soft: 1024,
                soft_seconds: 5
            }
        );
    }

    #[test]
    fn enums_and_strings() {
        let c = load(
            "loglevel WARNING\nlogformat JSON\nmaxmemory-policy NoEviction\nappendfsync ALWAYS\n\
             syslog-facility USER\nrequirepass secret\nunixsocket /tmp/d.sock\n\
             bind 127.0.0.1 ::1\ncluster-config-file n.conf\nappendfilename a.aof\n\
             syslog-ident dq\ndaemonize YES",
        )
        .unwrap();
        assert_eq!(c.loglevel, LogLevel::Warning);
        assert_eq!(c.logformat, LogFormat::Json);
        assert_eq!(c.maxmemory_policy, MaxmemoryPolicy::NoEviction);
        assert_eq!(c.appendfsync, AppendFsync::Always);
        assert_eq!(c.syslog_facility, SyslogFacility::User);
        assert_eq!(c.requirepass.as_deref(), Some(&b"secret"[..]));
        assert_eq!(c.unixsocket.as_deref(), Some("/tmp/d.sock"));
        assert_eq!(c.bind, vec!["127.0.0.1".to_owned(), "::1".to_owned()]);
        assert_eq!(c.cluster_config_file, "n.conf");
        assert_eq!(c.appendfilename, "a.aof");
        assert_eq!(c.syslog_ident, "dq");
        assert!(c.daemonize);
        assert_eq!(
            load("syslog-facility local7").unwrap().syslog_facility,
            SyslogFacility::Local(7)
        );
        assert_eq!(
            load("requirepass secret\nrequirepass \"\"")
                .unwrap()
                .requirepass,
            None
        );
        // bind replaces the previous list.
        assert_eq!(
            load("bind 1.1.1.1 2.2.2.2\nbind 3.3.3.3").unwrap().bind,
            vec!["3.3.3.3"]
        );
    }

    #[test]
    fn rename_command_validation() {
        let names = ["ping", "info", "config"];
        let o = LoadOptions {
            command_names: Some(&names),
            stdin: None,
            change_dir: false,
        };
        let run = |text: &str| {
            let mut c = Config::default();
            c.load_text(text.as_bytes(), &o).map(|_| c)
        };
        let c = run("rename-command PING p\nrename-command p q\nrename-command info \"\"").unwrap();
        assert_eq!(
            c.rename_commands,
            vec![
                ("PING".to_owned(), "p".to_owned()),
                ("p".to_owned(), "q".to_owned()),
                ("info".to_owned(), String::new())
            ]
        );
        let Err(ConfigError::Line { line, message, .. }) = run("\nrename-command nope x") else {
            panic!()
        };
        assert_eq!(
            (line, message.as_str()),
            (2, "No such command in rename-command")
        );
        let Err(ConfigError::Line { message, .. }) = run("rename-command ping info") else {
            panic!()
        };
        assert_eq!(message, "Target command name already exists");
        let Err(ConfigError::Line { message, .. }) =
            run("rename-command ping x\nrename-command ping y")
        else {
            panic!()
        };
        assert_eq!(message, "No such command in rename-command");
        // Renaming to itself is fine.
        assert!(run("rename-command ping ping").is_ok());
        // Without a command list every rename is accepted.
        assert_eq!(load("rename-command a b").unwrap().rename_commands.len(), 1);
    }

    #[test]
    fn include_files() {
        let dir = temp_dir("include");
        let inc = dir.join("inc.conf");
        std::fs::write(&inc, "hz 42\n\nport 99999\n").unwrap();
        let text = format!("port 1\ninclude {}\n", inc.display());
        match load(&text) {
            Err(ConfigError::Line {
                line: 3,
                text,
                message,
            }) => {
                assert_eq!(text, "port 99999");
                assert_eq!(message, "Invalid port");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&inc, "hz 42\n").unwrap();
        assert_eq!(load(&text).unwrap().hz, 42);
        let missing = dir.join("missing.conf");
        let e = load(&format!("include {}", missing.display())).unwrap_err();
        assert_eq!(
            e.banner(),
            format!(
                "Fatal error, can't open config file '{}'",
                missing.display()
            )
        );
        // A file that includes itself stops with an error instead of crashing.
        std::fs::write(&inc, format!("include {}\n", inc.display())).unwrap();
        assert!(matches!(load(&text), Err(ConfigError::Line { .. })));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn logfile_must_open() {
        let dir = temp_dir("logfile");
        let ok = dir.join("disque.log");
        assert_eq!(
            load(&format!("logfile {}", ok.display())).unwrap().logfile,
            ok.display().to_string()
        );
        assert!(ok.exists());
        let bad = dir.join("no/such/dir.log");
        assert_eq!(
            message_of(&format!("logfile {}", bad.display())),
            "Can't open the log file: No such file or directory"
        );
        assert_eq!(load("logfile \"\"").unwrap().logfile, "");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn dir_changes_the_working_directory() {
        let _guard = cwd_lock();
        let before = std::env::current_dir().unwrap();
        let dir = temp_dir("dir");
        let o = LoadOptions {
            change_dir: true,
            ..opts()
        };
        let mut c = Config::default();
        c.load_text(
            format!("dir {}\nlogfile rel.log", dir.display()).as_bytes(),
            &o,
        )
        .unwrap();
        assert_eq!(
            std::env::current_dir().unwrap(),
            dir.canonicalize().unwrap()
        );
        assert!(dir.join("rel.log").exists());
        std::env::set_current_dir(&before).unwrap();
        let missing = dir.join("missing");
        let e = Config::default()
            .load_text(format!("dir {}", missing.display()).as_bytes(), &o)
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::Fatal(format!(
                "Can't chdir to '{}': No such file or directory",
                missing.display()
            ))
        );
        assert_eq!(std::env::current_dir().unwrap(), before);
        let _ = std::fs::remove_dir_all(dir);
    }
}
