//! The config file parser: line splitting, the table of directives and
//! their validation (docs/config.md §2 and §3).

use std::collections::HashSet;
use std::fmt;

use super::custom::{
    log_file_opens, not_a_path, tls_protocols, BIND, CLIENT_OUTPUT_BUFFER_LIMIT, DIR, UNIXSOCKET,
};
use super::setting::{
    boolean, directive, field, int, integer, keyword, one_of, opt_bytes, optional, setting, stored,
    string, Kind, Read, SetInt, Setting, Show,
};
use super::text::{lossy, trim};
use super::{
    AppendFsync, Config, ConfigChange as C, LogFormat, LogLevel, MaxmemoryPolicy, ProtectedAction,
    SyslogFacility, TlsAuthClients, AUTHPASS_MAX_LEN, HZ_MAX, HZ_MIN,
};
// The tests name it through `use super::*`.
#[cfg(test)]
use super::ClientOutputBufferLimit;

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
pub(super) enum DirectiveError {
    /// A message for the banner, at the current line.
    Message(String),
    /// An error that already has its own location (from an `include`) or
    /// none (`dir` naming a directory that cannot be entered).
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

const NO_YES_LOCAL: &str = "argument(s) must be one of the following: no, yes, local";

/// The config file's directives, each a setting, in the order
/// `CONFIG REWRITE` appends them (docs/config.md §3). A row names the
/// setting and its field, the kind of value and its limits with the config
/// file's messages, where `CONFIG GET *` lists it (`.get(n)`), and whether
/// `CONFIG SET` may change it and what the server then does (`.set(...)`,
/// a [`ConfigChange`](super::ConfigChange) that `config_glue.rs` carries
/// out). The defaults are [`Config::default`]; settings with rules of their
/// own and those that are not directives are in `custom.rs`. Adding a
/// setting: a field of [`Config`] with its default, and a row here.
/// (`include` and `rename-command` are the loader's own directives.)
#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Setting] = &[
    boolean(b"daemonize", field!(daemonize)).get(21),
    string(b"pidfile", field!(pidfile)).get(3),
    integer(b"port", int!(port), Read::Atoi).range(0, 65535, "Invalid port").get(12),
    integer(b"tcp-backlog", int!(tcp_backlog), Read::Atoi).at_least(0, "Invalid backlog value").get(13),
    setting(b"bind", Kind::Custom(&BIND)).get(34),
    optional(b"unixsocket", UNIXSOCKET, usize::MAX).get(1),
    integer(b"unixsocketperm", int!(unixsocketperm), Read::Octal)
        .range(0, 0o777, "Invalid socket file permissions").show_as(Show::Octal).get(33),
    integer(b"timeout", int!(timeout), Read::Atoi).at_least(0, "Invalid timeout value")
        .get(6).set(stored),
    integer(b"tcp-keepalive", int!(tcp_keepalive), Read::Atoi).at_least(0, "Invalid tcp-keepalive value")
        .show_as(Show::Flag).set_rule(SetInt::YesNo).get(19).set(stored),
    one_of(b"loglevel", keyword!(loglevel: LogLevel),
        "Invalid log level. Must be one of debug, verbose, notice, warning").get(27).set(|_, _| C::LogLevel),
    one_of(b"logformat", keyword!(logformat: LogFormat),
        "Invalid log format. Must be one of text, json").get(36).set(|_, _| C::LogFormat),
    string(b"logfile", field!(logfile)).check(log_file_opens).get(2),
    boolean(b"syslog-enabled", field!(syslog_enabled)),
    string(b"syslog-ident", field!(syslog_ident)),
    one_of(b"syslog-facility", keyword!(syslog_facility: SyslogFacility),
        "Invalid log facility. Must be one of USER or between LOCAL0-LOCAL7").get(29),
    integer(b"databases", int!(databases), Read::Atoi).at_least(1, "Invalid number of databases")
        .get(14).not_rewritten(),
    setting(b"dir", Kind::Custom(&DIR)).get(31).set(|_, _| C::Dir).protected(),
    optional(b"requirepass", opt_bytes!(requirepass), AUTHPASS_MAX_LEN).get(0).set(|_, _| C::RequirePass),
    optional(b"cluster-password", opt_bytes!(cluster_password), AUTHPASS_MAX_LEN).get(42).set(stored),
    integer(b"maxclients", int!(maxclients), Read::Atoi).at_least(1, "Invalid max clients limit")
        .set_rule(SetInt::AtLeast(1)).get(15).set(|was, _| C::MaxClients { previous: was.maxclients }),
    integer(b"maxmemory", int!(maxmemory), Read::MemoryUnsigned)
        .at_least(1, "You need to specify a memory limit greater than zero")
        .set_rule(SetInt::Memory).show_as(Show::Memory).get(4).set(|_, _| C::MaxMemory),
    one_of(b"maxmemory-policy", keyword!(maxmemory_policy: MaxmemoryPolicy), "Invalid maxmemory policy")
        .get(26).set(|_, _| C::MaxMemory),
    integer(b"maxmemory-samples", int!(maxmemory_samples), Read::Atoi)
        .at_least(1, "maxmemory-samples must be 1 or greater").set_rule(SetInt::AtLeast(1)).get(5).set(stored),
    boolean(b"activerehashing", field!(activerehashing)).get(22).set(stored),
    integer(b"hz", int!(hz), Read::Atoi).clamp(HZ_MIN as i128, HZ_MAX as i128).get(17).set(|_, _| C::Hz),
    boolean(b"appendonly", field!(appendonly)).get(30)
        .set(|_, now| C::AppendOnly { enabled: now.appendonly }),
    string(b"appendfilename", field!(appendfilename)).check(not_a_path),
    one_of(b"appendfsync", keyword!(appendfsync: AppendFsync),
        "argument must be 'no', 'always' or 'everysec'").get(28).set(|_, _| C::AppendFsync),
    boolean(b"no-appendfsync-on-rewrite", field!(no_appendfsync_on_rewrite)).get(20),
    integer(b"auto-aof-rewrite-percentage", int!(auto_aof_rewrite_percentage), Read::Atoi)
        .at_least(0, "Invalid negative percentage for AOF auto rewrite").get(7).set(stored),
    integer(b"auto-aof-rewrite-min-size", int!(auto_aof_rewrite_min_size), Read::Memory)
        .show_as(Show::Memory).get(8).set(stored),
    boolean(b"aof-rewrite-incremental-fsync", field!(aof_rewrite_incremental_fsync)).get(23).set(stored),
    boolean(b"aof-load-truncated", field!(aof_load_truncated)).get(24).set(stored),
    boolean(b"aof-enqueue-jobs-once", field!(aof_enqueue_jobs_once)).get(25).set(stored),
    boolean(b"rereplicate", field!(rereplicate)).get(35).set(|_, _| C::Rereplicate),
    integer(b"http-port", int!(http_port), Read::Atoi).range(0, 65535, "Invalid port")
        .get(37).set(|was, _| C::HttpPort { previous: was.http_port }),
    integer(b"metrics-top-queues", int!(metrics_top_queues), Read::Strtoll)
        .at_least(0, "metrics-top-queues can't be negative").get(38).set(stored),
    boolean(b"protected-mode", field!(protected_mode)).get(39).set(stored),
    one_of(b"enable-protected-configs", keyword!(enable_protected_configs: ProtectedAction), NO_YES_LOCAL).get(40),
    one_of(b"enable-debug-command", keyword!(enable_debug_command: ProtectedAction), NO_YES_LOCAL).get(41),
    integer(b"tls-port", int!(tls_port), Read::Atoi).range(0, 65535, "Invalid tls-port").get(43),
    string(b"tls-cert-file", field!(tls_cert_file)).get(44).set(|_, _| C::Tls).protected().tls(),
    string(b"tls-key-file", field!(tls_key_file)).get(45).set(|_, _| C::Tls).protected().tls(),
    string(b"tls-ca-cert-file", field!(tls_ca_cert_file)).get(46).set(|_, _| C::Tls).protected().tls(),
    string(b"tls-protocols", field!(tls_protocols)).check(tls_protocols).get(49).set(|_, _| C::Tls).tls(),
    one_of(b"tls-auth-clients", keyword!(tls_auth_clients: TlsAuthClients),
        "argument(s) must be one of the following: no, yes, optional").get(47).set(|_, _| C::Tls).tls(),
    boolean(b"tls-cluster", field!(tls_cluster)).get(48),
    string(b"cluster-config-file", field!(cluster_config_file)),
    integer(b"cluster-node-timeout", int!(cluster_node_timeout), Read::Strtoll)
        .at_least(1, "cluster node timeout must be 1 or greater").get(18).set(|_, _| C::ClusterNodeTimeout),
    integer(b"slowlog-log-slower-than", int!(slowlog_log_slower_than), Read::Strtoll).get(9).set(stored),
    integer(b"slowlog-max-len", int!(slowlog_max_len), Read::Strtoll).get(11).set(stored),
    integer(b"latency-monitor-threshold", int!(latency_monitor_threshold), Read::Strtoll)
        .at_least(0, "The latency threshold can't be negative").get(10).set(stored),
    setting(b"client-output-buffer-limit", Kind::Custom(&CLIENT_OUTPUT_BUFFER_LIMIT)).get(32).set(stored),
];

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

    /// One directive line, already split; `argv[0]` is the name.
    fn directive(&mut self, argv: &[Vec<u8>]) -> DirResult {
        let name = argv[0].to_ascii_lowercase();
        match (name.as_slice(), &argv[1..]) {
            (b"include", [path]) => self.include(path),
            (b"rename-command", [old, new]) => self.rename_command(old, new),
            (_, values) => match directive(&name) {
                Some(s) if s.takes(values.len()) => s.load(self.config, values, self.opts),
                _ => Err("Bad directive or wrong number of arguments".into()),
            },
        }
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
