//! The `disque` binary end to end, against an in-process fake node.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;

use bytes::BytesMut;
use disque_proto::RequestParser;

/// A fake node on a free port answering every request with `reply(args)`.
fn fake_node(reply: fn(&[bytes::Bytes]) -> Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut parser = RequestParser::new();
                let mut buf = BytesMut::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Ok(Some(args)) = parser.parse(&mut buf) {
                        if stream.write_all(&reply(&args)).is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    port
}

fn answer(args: &[bytes::Bytes]) -> Vec<u8> {
    match args[0].to_ascii_lowercase().as_slice() {
        b"addjob" => b"+D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1\r\n".to_vec(),
        b"qlen" => b":3\r\n".to_vec(),
        b"echo" => {
            let mut out = format!("${}\r\n", args[1].len()).into_bytes();
            out.extend_from_slice(&args[1]);
            out.extend_from_slice(b"\r\n");
            out
        }
        b"getjob" => b"*1\r\n*3\r\n$1\r\nq\r\n$2\r\nid\r\n$4\r\nbody\r\n".to_vec(),
        _ => b"-ERR unknown command\r\n".to_vec(),
    }
}

/// Starts `disque args` with its standard output piped.
fn spawn(args: &[&str], stdin: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_disque"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn disque(args: &[&str], stdin: &[u8]) -> (String, String, i32) {
    let mut child = spawn(args, Stdio::piped());
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn one_shot_prints_raw_when_piped() {
    let port = fake_node(answer).to_string();
    let (out, _, code) = disque(&["-p", &port, "addjob", "q", "hello", "0"], b"");
    assert_eq!(out, "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1\n");
    assert_eq!(code, 0);
    let (out, _, code) = disque(&["-p", &port, "--no-raw", "getjob", "from", "q"], b"");
    assert_eq!(out, "1) 1) \"q\"\n   2) \"id\"\n   3) \"body\"\n");
    assert_eq!(code, 0);
    // An error reply is printed and still exits 0, as redis-cli does.
    let (out, _, code) = disque(&["-p", &port, "nope"], b"");
    assert_eq!((out.as_str(), code), ("ERR unknown command\n\n", 0));
}

#[test]
fn repeat_and_stdin_argument() {
    let port = fake_node(answer).to_string();
    let (out, _, _) = disque(&["-p", &port, "-r", "3", "qlen", "q"], b"");
    assert_eq!(out, "3\n3\n3\n");
    let (out, _, _) = disque(&["-p", &port, "-x", "echo"], b"from stdin\n");
    assert_eq!(out, "from stdin\n\n");
}

#[test]
fn interactive_mode_reads_piped_lines() {
    let port = fake_node(answer).to_string();
    let (out, _, code) = disque(
        &["-p", &port],
        b"qlen q\n\n\"unbalanced\necho \"a b\"\nquit\nqlen q\n",
    );
    assert_eq!(out, "3\nInvalid argument(s)\na b\n");
    assert_eq!(code, 0);
}

/// A port nobody listens on (bound, then dropped).
fn unused_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

#[test]
fn connection_refused() {
    let port = unused_port();
    let (out, err, code) = disque(&["-p", &port, "ping"], b"");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("Could not connect to Disque at 127.0.0.1:{port}: Connection refused\n")
    );
    assert_eq!(code, 1);
}

#[test]
fn usage_version_and_bad_option() {
    let (out, _, code) = disque(&["--version"], b"");
    assert_eq!((out.as_str(), code), ("disque-cli 1.0-rc1\n", 0));
    let (out, _, code) = disque(&["--help"], b"");
    assert!(out.contains("Usage: disque"));
    assert_eq!(code, 0);
    let (_, err, code) = disque(&["--bogus"], b"");
    assert_eq!(
        err,
        "Unrecognized option or bad number of args for: '--bogus'\n"
    );
    assert_eq!(code, 1);
}

/// Replies to every request with the array of its arguments.
fn echo_args(args: &[bytes::Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn stdin_as_last_argument_or_in_place_of_a_tag() {
    let port = fake_node(echo_args).to_string();
    // The --help example: the body comes from stdin, the timeout stays last.
    let (out, _, code) = disque(
        &["-p", &port, "-X", "body", "addjob", "queue", "body", "0"],
        b"line 1\nline 2",
    );
    assert_eq!(out, "addjob\nqueue\nline 1\nline 2\n0\n");
    assert_eq!(code, 0);
    let (out, _, _) = disque(&["-p", &port, "-x", "ackjob"], b"D-1");
    assert_eq!(out, "ackjob\nD-1\n");
    let (_, err, code) = disque(&["-p", &port, "-X", "nope", "addjob", "q", "b", "0"], b"x");
    assert_eq!(err, "-X: the argument 'nope' is not in the command\n");
    assert_eq!(code, 1);
    let (usage, _, _) = disque(&["--help"], b"");
    assert!(usage.contains("cat body.txt | disque -X body addjob queue body 0"));
    assert!(!usage.contains("disque -x addjob"));
}

#[test]
fn help_is_answered_by_the_client() {
    // Nothing listens on this port: help needs no server.
    let port = unused_port();
    let (out, _, code) = disque(&["-p", &port, "help", "addjob"], b"");
    assert!(out.contains("\n  ADDJOB queue body ms-timeout [REPLICATE count]"));
    assert!(out.contains("  summary: Add a job to a queue"));
    assert!(out.contains("  group: jobs\n"));
    assert_eq!(code, 0);
    // At the prompt (piped), with a node that knows no HELP command.
    let port = fake_node(answer).to_string();
    let (out, _, _) = disque(&["-p", &port], b"help\nHELP @queues\nhelp nope\nqlen q\n");
    assert!(out.contains("\"help @<group>\" to get a list of commands in <group>"));
    for name in [
        "QLEN queue",
        "QPEEK queue count",
        "QSTAT queue",
        "PAUSE queue",
    ] {
        assert!(
            out.contains(&format!("\n  {name}")),
            "{name} missing: {out}"
        );
    }
    assert!(!out.contains("ADDJOB"));
    assert!(out.contains("No help for 'nope'."));
    assert!(!out.contains("unknown command"));
    assert!(out.ends_with("\n3\n"));
}

/// Starts `disque args` and returns its first `n` lines of output (failing
/// if they do not come within 10 s), then kills it.
fn first_lines(args: &[&str], n: usize) -> Vec<String> {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::Duration;
    let mut child = spawn(args, Stdio::null());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let lines: Vec<String> = (0..n)
        .map_while(|_| rx.recv_timeout(Duration::from_secs(10)).ok())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lines.len(), n, "got only {lines:?}");
    lines
}

fn info(_: &[bytes::Bytes]) -> Vec<u8> {
    let text = "# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\
                # Memory\r\nused_memory_human:1.50M\r\n# Jobs\r\nregistered_jobs:42\r\n\
                # Queues\r\nregistered_queues:2\r\n# Stats\r\n\
                total_connections_received:9\r\ntotal_commands_processed:100\r\n";
    format!("${}\r\n{text}\r\n", text.len()).into_bytes()
}

#[test]
fn stat_prints_a_line_per_interval() {
    let port = fake_node(info).to_string();
    let lines = first_lines(&["-p", &port, "--stat", "-i", "0.05"], 4);
    assert!(lines[0].starts_with("------- data -------"));
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "jobs",
            "queues",
            "mem",
            "clients",
            "blocked",
            "requests",
            "connections"
        ]
    );
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(row, ["42", "2", "1.50M", "3", "1", "100", "(+0)", "9"]);
    assert_eq!(lines[3], lines[2]);
}

#[test]
fn latency_prints_figures() {
    let port = fake_node(|_| b"+PONG\r\n".to_vec()).to_string();
    let line = first_lines(&["-p", &port, "--latency"], 1).remove(0);
    let (figures, samples) = line.split_once(" (").unwrap();
    assert!(figures.starts_with("min: ") && figures.contains(", max: "));
    assert!(figures.contains(", avg: "));
    let count: u64 = samples.trim_end_matches(" samples)").parse().unwrap();
    assert!(count > 1, "{line}");
}
