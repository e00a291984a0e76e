//! Command-line parsing, redis-cli style.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use disque_cli::options::{c_atof, c_atoi, DEFAULT_PORT};
use disque_cli::{parse_args, Action, Options, OutputMode};

fn parse(args: &[&str], tty: bool) -> Result<Action, String> {
    parse_args(args.iter().map(OsString::from), tty)
}

fn run(args: &[&str]) -> Options {
    match parse(args, true) {
        Ok(Action::Run(options)) => options,
        other => panic!("expected options, got {other:?}"),
    }
}

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.as_bytes().to_vec()).collect()
}

#[test]
fn defaults() {
    let o = run(&[]);
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.port, DEFAULT_PORT);
    assert_eq!(o.port, 7711);
    assert_eq!(o.socket, None);
    assert_eq!(o.password, None);
    assert_eq!(o.repeat, 1);
    assert_eq!(o.interval, Duration::ZERO);
    assert!(!o.stdin_last_arg);
    assert_eq!(o.output, OutputMode::Standard);
    assert!(o.command.is_empty());
}

#[test]
fn output_mode_follows_the_terminal_and_the_flags() {
    let mode = |args: &[&str], tty| match parse(args, tty) {
        Ok(Action::Run(o)) => o.output,
        other => panic!("{other:?}"),
    };
    assert_eq!(mode(&[], false), OutputMode::Raw);
    assert_eq!(mode(&[], true), OutputMode::Standard);
    assert_eq!(mode(&["--raw"], true), OutputMode::Raw);
    assert_eq!(mode(&["--no-raw"], false), OutputMode::Standard);
    assert_eq!(mode(&["--csv"], true), OutputMode::Csv);
    // The last one wins.
    assert_eq!(mode(&["--csv", "--raw"], true), OutputMode::Raw);
}

#[test]
fn all_options_then_command() {
    let o = run(&[
        "-h", "10.0.0.1", "-p", "7712", "-a", "secret", "-r", "5", "-i", "0.25", "-x", "addjob",
        "q", "0",
    ]);
    assert_eq!(o.host, "10.0.0.1");
    assert_eq!(o.port, 7712);
    assert_eq!(o.password, Some(b"secret".to_vec()));
    assert_eq!(o.repeat, 5);
    assert_eq!(o.interval, Duration::from_millis(250));
    assert!(o.stdin_last_arg);
    assert_eq!(o.command, words(&["addjob", "q", "0"]));
    assert_eq!(
        run(&["-s", "/tmp/d.sock", "ping"]).socket,
        Some(PathBuf::from("/tmp/d.sock"))
    );
    assert_eq!(run(&["-r", "-1", "ping"]).repeat, -1);
}

#[test]
fn one_shot_command_keeps_dashes() {
    let o = run(&["-p", "7711", "addjob", "q", "-h", "0"]);
    assert_eq!(o.command, words(&["addjob", "q", "-h", "0"]));
}

#[test]
fn help_and_version() {
    assert_eq!(parse(&["--help"], true), Ok(Action::Help));
    assert_eq!(parse(&["-h"], true), Ok(Action::Help));
    assert_eq!(parse(&["--version"], true), Ok(Action::Version));
    assert_eq!(parse(&["-v"], true), Ok(Action::Version));
    assert!(disque_cli::options::VERSION_LINE.starts_with("disque-cli "));
    assert!(disque_cli::options::USAGE.contains("Usage: disque [OPTIONS]"));
}

#[test]
fn bad_options() {
    assert_eq!(
        parse(&["-z", "ping"], true),
        Err("Unrecognized option or bad number of args for: '-z'".to_string())
    );
    // An option missing its value.
    assert_eq!(
        parse(&["-p"], true),
        Err("Unrecognized option or bad number of args for: '-p'".to_string())
    );
    assert_eq!(
        parse(&["-a"], true),
        Err("Unrecognized option or bad number of args for: '-a'".to_string())
    );
}

#[test]
fn numbers_are_read_like_c() {
    assert_eq!(c_atoi(b"7712"), 7712);
    assert_eq!(c_atoi(b"  -3x"), -3);
    assert_eq!(c_atoi(b"+4"), 4);
    assert_eq!(c_atoi(b"abc"), 0);
    assert_eq!(c_atoi(b"99999999999999999999999"), i64::MAX);
    assert_eq!(run(&["-p", "abc", "ping"]).port, 0);
    assert_eq!(c_atof(b"0.5"), 0.5);
    assert_eq!(c_atof(b"1.5s"), 1.5);
    assert_eq!(c_atof(b"x"), 0.0);
    assert_eq!(c_atof(b"inf"), 0.0);
    assert_eq!(run(&["-i", "-2", "ping"]).interval, Duration::ZERO);
    assert_eq!(run(&["-i", "1e300", "ping"]).interval, Duration::MAX);
}

#[test]
fn stdin_tag_and_continuous_modes() {
    let o = run(&["-X", "body", "--stat", "addjob", "q", "body", "0"]);
    assert_eq!(o.stdin_tag, Some(b"body".to_vec()));
    assert_eq!(o.mode, disque_cli::Mode::Stat);
    assert_eq!(o.command, words(&["addjob", "q", "body", "0"]));
    assert_eq!(run(&["--latency"]).mode, disque_cli::Mode::Latency);
    assert_eq!(run(&[]).mode, disque_cli::Mode::Commands);
    assert!(parse(&["-X"], true).is_err(), "-X needs its tag");
}
