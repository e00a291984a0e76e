//! Command-line options, parsed the way `redis-cli` parses them: options
//! first, and the first word that is not an option starts the command
//! (after which everything, dashes included, belongs to the command).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::format::OutputMode;

/// The version line printed by `--version`.
pub const VERSION_LINE: &str = "disque-cli 1.0-rc1";

/// Default server port.
pub const DEFAULT_PORT: u16 = 7711;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
disque-cli 1.0-rc1

Usage: disque [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 7711).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
  -r <repeat>        Execute specified command N times (-1 = forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     It is possible to specify sub-second times like -i 0.1.
  -x                 Read last argument from STDIN.
  -X <tag>           Read the argument written <tag> from STDIN instead.
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --csv              Output in CSV format.
  --latency          Enter a special mode continuously sampling latency
                     (PING round trips: min, max, average, samples).
  --stat             Print rolling stats about the server: jobs, queues,
                     memory, clients, requests (one line per second, or
                     per -i interval).
  --tls              Establish a secure TLS connection.
  --cacert <file>    CA Certificate file to verify with.
  --cert <file>      Client certificate to authenticate with.
  --key <file>       Private key file to authenticate with.
  --help             Output this help and exit.
  --version          Output version and exit.

Examples:
  disque addjob queue body 0
  disque -p 7712 getjob from queue
  cat body.txt | disque -X body addjob queue body 0
  cat ids.txt | disque -x ackjob
  disque -r 100 -i 1 info jobs
  disque --stat
  (Note: -x appends STDIN as the last argument; -X <tag> puts it where
  <tag> is written, so a job body can come from STDIN.)

When no command is given, disque starts in interactive mode.
Type \"help\" for help on commands, \"quit\" or \"exit\" to leave it.
";

/// Everything the options say to do for a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `-h`: server host.
    pub host: String,
    /// `-p`: server port.
    pub port: u16,
    /// `-s`: Unix socket path; when set, host and port are not used.
    pub socket: Option<PathBuf>,
    /// `-a`: password sent with AUTH right after connecting.
    pub password: Option<Vec<u8>>,
    /// `-r`: times to run the command (negative = forever).
    pub repeat: i64,
    /// `-i`: pause between repetitions.
    pub interval: Duration,
    /// `-x`: read the command's last argument from standard input.
    pub stdin_last_arg: bool,
    /// `-X <tag>`: the argument equal to the tag is replaced by standard
    /// input.
    pub stdin_tag: Option<Vec<u8>>,
    /// What to do: commands, `--latency` or `--stat`.
    pub mode: Mode,
    /// How replies are printed.
    pub output: OutputMode,
    /// The command to run; empty for interactive mode.
    pub command: Vec<Vec<u8>>,
    /// `--tls`, `--cacert`, `--cert`, `--key` (boxed: rarely used).
    pub tls: Box<TlsOptions>,
}

/// The TLS options (redis-cli's names).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsOptions {
    /// `--tls`: connect over TLS.
    pub enabled: bool,
    /// `--cacert`: the CA that signs the server's certificate.
    pub cacert: Option<PathBuf>,
    /// `--cert`: a client certificate to present.
    pub cert: Option<PathBuf>,
    /// `--key`: its private key.
    pub key: Option<PathBuf>,
}

/// The session's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run the command, or the interactive prompt.
    Commands,
    /// `--latency`: sample PING round trips until interrupted.
    Latency,
    /// `--stat`: print a line of server statistics per interval.
    Stat,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Run a command, or the interactive prompt when no command was given.
    Run(Options),
    /// Print [`USAGE`] and exit.
    Help,
    /// Print [`VERSION_LINE`] and exit.
    Version,
}

/// Parses the arguments that follow the program name. `stdout_is_tty`
/// chooses the default output mode (standard on a terminal, raw otherwise).
/// An unknown option, or an option missing its value, gives the message
/// to print before exiting with status 1.
pub fn parse_args<I>(args: I, stdout_is_tty: bool) -> Result<Action, String>
where
    I: IntoIterator<Item = OsString>,
{
    let args: Vec<Vec<u8>> = args.into_iter().map(|a| a.into_encoded_bytes()).collect();
    let mut options = Options {
        host: "127.0.0.1".to_string(),
        port: DEFAULT_PORT,
        socket: None,
        password: None,
        repeat: 1,
        interval: Duration::ZERO,
        stdin_last_arg: false,
        stdin_tag: None,
        mode: Mode::Commands,
        output: if stdout_is_tty {
            OutputMode::Standard
        } else {
            OutputMode::Raw
        },
        command: Vec::new(),
        tls: Box::default(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_slice();
        let value = args.get(i + 1).map(|v| v.as_slice());
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        match (arg, value) {
            (b"-h", Some(v)) => options.host = text(v),
            (b"-p", Some(v)) => options.port = c_atoi(v) as u16,
            (b"-s", Some(v)) => options.socket = Some(PathBuf::from(text(v))),
            (b"-a", Some(v)) => options.password = Some(v.to_vec()),
            (b"-X", Some(v)) => options.stdin_tag = Some(v.to_vec()),
            (b"-r", Some(v)) => options.repeat = c_atoi(v),
            (b"-i", Some(v)) => {
                options.interval =
                    Duration::try_from_secs_f64(c_atof(v).max(0.0)).unwrap_or(Duration::MAX)
            }
            (b"-h", None) | (b"--help", _) => return Ok(Action::Help),
            (b"-v", _) | (b"--version", _) => return Ok(Action::Version),
            (b"-x", _) => options.stdin_last_arg = true,
            (b"--raw", _) => options.output = OutputMode::Raw,
            (b"--no-raw", _) => options.output = OutputMode::Standard,
            (b"--csv", _) => options.output = OutputMode::Csv,
            (b"--latency", _) => options.mode = Mode::Latency,
            (b"--stat", _) => options.mode = Mode::Stat,
            (b"--tls", _) => options.tls.enabled = true,
            (b"--cacert", Some(v)) => options.tls.cacert = Some(PathBuf::from(text(v))),
            (b"--cert", Some(v)) => options.tls.cert = Some(PathBuf::from(text(v))),
            (b"--key", Some(v)) => options.tls.key = Some(PathBuf::from(text(v))),
            _ if arg.starts_with(b"-") => {
                return Err(format!(
                    "Unrecognized option or bad number of args for: '{}'",
                    text(arg)
                ))
            }
            _ => {
                options.command = args[i..].to_vec();
                break;
            }
        }
        if matches!(
            arg,
            b"-h"
                | b"-p"
                | b"-s"
                | b"-a"
                | b"-X"
                | b"-r"
                | b"-i"
                | b"--cacert"
                | b"--cert"
                | b"--key"
        ) {
            i += 1;
        }
        i += 1;
    }
    Ok(Action::Run(options))
}

/// C `atoi`/`strtoll`: leading blanks, an optional sign, then as many digits
/// as there are; 0 when there are none. Saturates instead of overflowing.
pub fn c_atoi(text: &[u8]) -> i64 {
    let text = trim_leading_space(text);
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        value = value
            .saturating_mul(10)
            .saturating_add(if negative { -digit } else { digit });
    }
    value
}

/// C `atof` for plain decimal numbers: the longest prefix that reads as a
/// number, 0 when none does.
pub fn c_atof(text: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(trim_leading_space(text)).into_owned();
    (1..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| text[..end].parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

fn trim_leading_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(text.len());
    &text[start..]
}
