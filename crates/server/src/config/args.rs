//! The command line (docs/config.md §1).

use std::io::Read;
use std::path::PathBuf;

use super::parse::{ConfigError, Loader};
use super::text::push_quoted;
use super::{Config, LoadOptions, DISQUE_VERSION};

/// What the server should do after reading its command line.
#[derive(Debug)]
pub enum Startup {
    /// Run with this configuration.
    Run {
        /// The loaded configuration.
        config: Box<Config>,
        /// Lines to log at warning level once logging is set up (e.g. no
        /// config file was given).
        warnings: Vec<String>,
    },
    /// Print, log and exit: `--version`, `--help`, a fatal config error.
    Exit(ExitAction),
}

/// Output to produce before exiting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitAction {
    /// Process exit status.
    pub code: i32,
    /// Text to write to standard output, as is.
    pub stdout: String,
    /// Text to write to standard error, as is.
    pub stderr: String,
    /// A line to log at warning level (through the server's logger, with
    /// its usual prefix), if any.
    pub log: Option<String>,
}

impl From<ConfigError> for ExitAction {
    fn from(e: ConfigError) -> ExitAction {
        if e.is_banner() {
            ExitAction {
                code: 1,
                stderr: e.banner(),
                ..ExitAction::default()
            }
        } else {
            ExitAction {
                code: 1,
                log: Some(e.banner()),
                ..ExitAction::default()
            }
        }
    }
}

/// A 16-hex-digit build id (stable for a given version and target).
pub fn build_id() -> String {
    // FNV-1a over what identifies this build.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in [
        DISQUE_VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS,
        env!("CARGO_PKG_VERSION"),
    ]
    .iter()
    .flat_map(|s| s.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The `--version` line (without newline):
/// `Disque server v=1.0-rc1 sha=00000000:0 malloc=libc bits=64 build=<hex>`.
pub fn version_line() -> String {
    format!(
        "Disque server v={DISQUE_VERSION} sha=00000000:0 malloc=libc bits={} build={}",
        usize::BITS,
        build_id()
    )
}

/// The `--help` text (printed to stderr).
pub fn usage() -> String {
    "Usage: ./disque-server [/path/to/disque.conf] [options]\n\
     \x20      ./disque-server - (read config from stdin)\n\
     \x20      ./disque-server -v or --version\n\
     \x20      ./disque-server -h or --help\n\
     \x20      ./disque-server --test-memory <megabytes>\n\
     \n\
     Examples:\n\
     \x20      ./disque-server (run the server with default conf)\n\
     \x20      ./disque-server /etc/disque/7711.conf\n\
     \x20      ./disque-server --port 7777\n\
     \x20      ./disque-server /etc/mydisque.conf --loglevel verbose\n"
        .to_owned()
}

const NO_CONFIG_WARNING: &str = "Warning: no config file specified, using the default config. \
     In order to specify a config file use ./disque-server /path/to/disque.conf";

/// Reads the command line: `args` are the arguments after the program name
/// (`std::env::args().skip(1)`).
///
/// * `-v`/`--version` → exit 0 printing [`version_line`] on stdout;
/// * `-h`/`--help` → exit 1 printing [`usage`] on stderr;
/// * `--test-memory` → exit 1 (not supported);
/// * a first argument not starting with `--` is the config file (`-` =
///   stdin), kept in [`Config::config_file`] as an absolute path;
/// * every `--name` starts a config line `name`, the following arguments
///   are appended to it quoted; these lines are parsed after the file text
///   plus one newline, so they override it, and an error in them is
///   reported at line (file lines + 2) for a file ending in a newline.
pub fn load_from_args(args: &[String], opts: &LoadOptions<'_>) -> Startup {
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                return Startup::Exit(ExitAction {
                    code: 0,
                    stdout: format!("{}\n", version_line()),
                    ..ExitAction::default()
                })
            }
            "-h" | "--help" => {
                return Startup::Exit(ExitAction {
                    code: 1,
                    stderr: usage(),
                    ..ExitAction::default()
                })
            }
            "--test-memory" => {
                return Startup::Exit(ExitAction {
                    code: 1,
                    stderr: "--test-memory is not supported by this disque-server.\n".to_owned(),
                    ..ExitAction::default()
                })
            }
            _ => {}
        }
    }
    let mut warnings = Vec::new();
    if args.is_empty() {
        warnings.push(NO_CONFIG_WARNING.to_owned());
    }
    let (file, rest) = match args.split_first() {
        Some((first, rest)) if !first.starts_with("--") => (Some(first.as_str()), rest),
        _ => (None, args),
    };
    let options = options_text(rest);

    let mut config = Config::default();
    let mut text = Vec::new();
    if let Some(file) = file {
        config.config_file = Some(absolute(file));
        let read = if file == "-" {
            match opts.stdin {
                Some(data) => Ok(data.to_vec()),
                None => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf).map(|_| buf)
                }
            }
        } else {
            std::fs::read(file)
        };
        match read {
            Ok(data) => text = data,
            Err(_) => {
                return Startup::Exit(
                    ConfigError::CantOpen {
                        path: file.to_owned(),
                    }
                    .into(),
                );
            }
        }
    }
    text.push(b'\n');
    text.extend_from_slice(&options);
    match Loader::new(&mut config, opts).load_text(&text) {
        Ok(()) => Startup::Run {
            config: Box::new(config),
            warnings,
        },
        Err(e) => Startup::Exit(e.into()),
    }
}

/// The config lines synthesized from `--name value ...` arguments.
fn options_text(args: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for arg in args {
        if let Some(name) = arg.strip_prefix("--") {
            if !out.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
        } else {
            push_quoted(&mut out, arg.as_bytes());
            out.push(b' ');
        }
    }
    out
}

/// `path` made absolute against the current directory (no symlink
/// resolution).
fn absolute(path: &str) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cwd_lock, temp_dir};
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn opts() -> LoadOptions<'static> {
        LoadOptions {
            command_names: None,
            stdin: None,
            change_dir: false,
        }
    }

    fn exit_of(s: Startup) -> ExitAction {
        match s {
            Startup::Exit(e) => e,
            Startup::Run { .. } => panic!("expected exit"),
        }
    }

    fn config_of(s: Startup) -> (Config, Vec<String>) {
        match s {
            Startup::Run { config, warnings } => (*config, warnings),
            Startup::Exit(e) => panic!("expected run, got {e:?}"),
        }
    }

    #[test]
    fn version_and_help() {
        for v in ["-v", "--version"] {
            let e = exit_of(load_from_args(&args(&[v]), &opts()));
            assert_eq!(e.code, 0);
            assert!(e
                .stdout
                .starts_with("Disque server v=1.0-rc1 sha=00000000:0 malloc=libc bits="));
            assert!(e.stdout.ends_with('\n'));
            let build = e
                .stdout
                .trim_end()
                .rsplit("build=")
                .next()
                .unwrap()
                .to_owned();
            assert_eq!(build.len(), 16);
            assert!(build.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(e.stderr.is_empty());
        }
        for h in ["-h", "--help"] {
            let e = exit_of(load_from_args(&args(&[h, "whatever"]), &opts()));
            assert_eq!(e.code, 1);
            assert!(e.stdout.is_empty());
            assert!(e.stderr.starts_with("Usage: ./disque-server "));
        }
        let e = exit_of(load_from_args(&args(&["--test-memory", "10"]), &opts()));
        assert_eq!(e.code, 1);
    }

    #[test]
    fn no_arguments_warns() {
        let (c, w) = config_of(load_from_args(&[], &opts()));
        assert_eq!(c, Config::default());
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("no config file specified"));
    }

    #[test]
    fn options_only() {
        let (c, w) = config_of(load_from_args(
            &args(&["--port", "7777", "--bind", "a", "b"]),
            &opts(),
        ));
        assert_eq!(c.port, 7777);
        assert_eq!(c.bind, vec!["a", "b"]);
        assert_eq!(c.config_file, None);
        assert!(w.is_empty());
        // Without a file the options start at line 2.
        let e = exit_of(load_from_args(
            &args(&["--hz", "5", "--port", "99999"]),
            &opts(),
        ));
        assert_eq!(
            e.stderr,
            "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 3\n>>> 'port \"99999\"'\nInvalid port\n"
        );
        assert_eq!(e.code, 1);
        // Values are quoted, so spaces and quotes survive.
        let (c, _) = config_of(load_from_args(
            &args(&["--pidfile", "/tmp/a \"b\".pid"]),
            &opts(),
        ));
        assert_eq!(c.pidfile, "/tmp/a \"b\".pid");
    }

    #[test]
    fn file_then_options_line_numbers() {
        let dir = temp_dir("args");
        let file = dir.join("disque.conf");
        std::fs::write(&file, "port 1000\nhz 20\n# end\n").unwrap();
        let path = file.display().to_string();
        let (c, _) = config_of(load_from_args(&args(&[&path, "--port", "7777"]), &opts()));
        assert_eq!(c.port, 7777);
        assert_eq!(c.hz, 20);
        assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
        let e = exit_of(load_from_args(&args(&[&path, "--port", "99999"]), &opts()));
        assert_eq!(
            e.stderr,
            "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 5\n>>> 'port \"99999\"'\nInvalid port\n"
        );
        // An error in the file itself.
        std::fs::write(&file, "port 1000\nfoo bar\n").unwrap();
        let e = exit_of(load_from_args(&args(&[&path]), &opts()));
        assert!(e
            .stderr
            .contains("at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments\n"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn relative_config_file_is_made_absolute() {
        let _guard = cwd_lock();
        let before = std::env::current_dir().unwrap();
        let dir = temp_dir("relative");
        std::fs::write(dir.join("d.conf"), "hz 7\n").unwrap();
        std::env::set_current_dir(&dir).unwrap();
        let result = load_from_args(&args(&["d.conf"]), &opts());
        std::env::set_current_dir(&before).unwrap();
        let (c, _) = config_of(result);
        assert_eq!(c.hz, 7);
        let stored = c.config_file.unwrap();
        assert!(stored.is_absolute());
        assert_eq!(
            stored.canonicalize().unwrap(),
            dir.join("d.conf").canonicalize().unwrap()
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn stdin_and_missing_file() {
        let o = LoadOptions {
            stdin: Some(b"hz 33\nport 1\n"),
            ..opts()
        };
        let (c, _) = config_of(load_from_args(&args(&["-", "--port", "2"]), &o));
        assert_eq!((c.hz, c.port), (33, 2));
        let e = exit_of(load_from_args(
            &args(&["/nonexistent/disque.conf"]),
            &opts(),
        ));
        assert_eq!(e.code, 1);
        assert_eq!(
            e.log.as_deref(),
            Some("Fatal error, can't open config file '/nonexistent/disque.conf'")
        );
        assert!(e.stderr.is_empty());
    }

    #[test]
    fn stray_values() {
        // A value before any --name makes a line of its own.
        let e = exit_of(load_from_args(&args(&["--", "x"]), &opts()));
        assert!(e
            .stderr
            .contains("Bad directive or wrong number of arguments"));
    }
}
