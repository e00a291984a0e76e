//! The `disque` command-line client against a real server, checked with
//! redis-cli's conventions for non-terminal output (raw replies, one per
//! line; integers as plain numbers; arrays flattened).
//!
//! The CLI lives in another package, so cargo cannot hand us its path: it
//! is looked up next to the server binary (`target/<profile>/disque`), or
//! taken from `DISQUE_CLI_BIN`. When it is missing the tests are skipped
//! with a message, unless `DISQUE_REQUIRE_CLI=1` (set by `scripts/test`,
//! which builds the whole workspace first).

use crate::common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn cli_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("DISQUE_CLI_BIN") {
        return Some(PathBuf::from(p));
    }
    let server = PathBuf::from(server_bin());
    let candidate = server.with_file_name("disque");
    if candidate.is_file() {
        return Some(candidate);
    }
    if std::env::var("DISQUE_REQUIRE_CLI").as_deref() == Ok("1") {
        panic!(
            "the disque CLI was not found at {} (build it with `cargo build -p disque-cli`)",
            candidate.display()
        );
    }
    eprintln!(
        "SKIPPED: disque CLI not built at {}; run `cargo build --workspace` first",
        candidate.display()
    );
    None
}

/// Runs the CLI with `args` against `port`, stdin closed, stdout a pipe
/// (not a terminal). Returns (exit code, stdout, stderr).
async fn run_cli(cli: &PathBuf, port: u16, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(cli);
    cmd.arg("-h")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    kill_with_parent(&mut cmd);
    let child = cmd.spawn().expect("spawn the CLI");
    let out = tokio::time::timeout(
        secs(20),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("the CLI did not exit within 20 s")
    .unwrap()
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_add_get_ack_qlen() {
    let Some(cli) = cli_path() else { return };
    let s = Server::start().await;

    let (code, out, err) = run_cli(&cli, s.port, &["addjob", "q", "hello", "0"]).await;
    assert_eq!(code, Some(0), "stderr: {err}");
    let id = out.strip_suffix('\n').expect("one line").to_string();
    assert_eq!(id.len(), 40, "{out:?}");
    assert!(id.starts_with("D-"), "{out:?}");

    let (code, out, err) = run_cli(&cli, s.port, &["qlen", "q"]).await;
    assert_eq!((code, out.as_str()), (Some(0), "1\n"), "stderr: {err}");

    let (code, out, err) = run_cli(&cli, s.port, &["getjob", "from", "q"]).await;
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(out, format!("q\n{id}\nhello\n"));

    let (code, out, err) = run_cli(&cli, s.port, &["ackjob", &id]).await;
    assert_eq!((code, out.as_str()), (Some(0), "1\n"), "stderr: {err}");

    let (code, out, err) = run_cli(&cli, s.port, &["qlen", "q"]).await;
    assert_eq!((code, out.as_str()), (Some(0), "0\n"), "stderr: {err}");

    // The job is gone from the server too.
    let mut c = s.client().await;
    assert_eq!(cmd(&mut c, &format!("SHOW {id}")).await, Reply::Nil);
}

#[tokio::test]
async fn cli_reply_types() {
    let Some(cli) = cli_path() else { return };
    let s = Server::start().await;
    let (code, out, _) = run_cli(&cli, s.port, &["ping"]).await;
    assert_eq!((code, out.as_str()), (Some(0), "PONG\n"));
    // A body with a space, passed as one argument.
    let (_, out, _) = run_cli(&cli, s.port, &["addjob", "q2", "a b", "0"]).await;
    let id = out.trim_end().to_string();
    let (_, out, _) = run_cli(&cli, s.port, &["qpeek", "q2", "1"]).await;
    assert_eq!(out, format!("q2\n{id}\na b\n"));
    // Null replies print an empty line.
    let (code, out, _) = run_cli(&cli, s.port, &["getjob", "nohang", "from", "empty"]).await;
    assert_eq!((code, out.as_str()), (Some(0), "\n"));
    // An error reply is shown with its text.
    let (_, out, err) = run_cli(&cli, s.port, &["nosuchcommand"]).await;
    assert!(
        format!("{out}{err}").contains("ERR unknown command 'nosuchcommand'"),
        "stdout {out:?} stderr {err:?}"
    );
    // The job was created on the server the CLI talked to.
    let mut c = s.client().await;
    assert_eq!(qlen(&mut c, "q2").await, 1);
}

/// `--tls --cacert --cert --key`, redis-cli's options (decision D13).
#[tokio::test]
async fn cli_over_tls() {
    let Some(cli) = cli_path() else { return };
    let dir = TempDir::new();
    let certs = crate::common::tls::Certs::make(dir.path());
    let tls_port = free_port();
    let mut opts = Server::options().arg("tls-port", &tls_port.to_string());
    for (name, value) in certs.node_args() {
        opts = opts.arg(name, &value);
    }
    let _s = opts.start().await;
    let (ca, cert, key) = (
        certs.ca.display().to_string(),
        certs.client_cert.display().to_string(),
        certs.client_key.display().to_string(),
    );
    let tls = ["--tls", "--cacert", &ca, "--cert", &cert, "--key", &key];
    let (code, out, err) = run_cli(&cli, tls_port, &[&tls[..], &["ping"]].concat()).await;
    assert_eq!((code, out.as_str()), (Some(0), "PONG\n"), "stderr: {err}");
    // Without the client certificate the node refuses the connection.
    let (code, out, err) = run_cli(&cli, tls_port, &[&tls[..3], &["ping"]].concat()).await;
    assert_ne!(out, "PONG\n", "stderr: {err}");
    assert_eq!(code, Some(1), "stdout {out:?} stderr {err:?}");
    // --tls without --cacert is explained.
    let (code, _, err) = run_cli(&cli, tls_port, &["--tls", "ping"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("--tls needs --cacert"), "{err}");
}
