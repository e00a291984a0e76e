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

fn disque(args: &[&str], stdin: &[u8]) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_disque"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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

#[test]
fn connection_refused() {
    // Bind then drop to find a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
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
