//! Safe defaults (decision D14): protected mode, `enable-debug-command` and
//! `enable-protected-configs`, with Redis 7's rules and error texts. "Local"
//! is 127.0.0.1, ::1 or the unix socket: the non-local client here is a
//! socket bound to 127.0.0.2, which never leaves the machine.

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NON_LOCAL: &str = "127.0.0.2";

const DEBUG_DENIED: &[u8] = b"-ERR DEBUG command not allowed. If the enable-debug-command option \
is set to \"local\", you can run it from a local connection, otherwise you need to set this \
option in the configuration file, and then restart the server.\r\n";

fn protected_config_error(param: &str) -> Vec<u8> {
    format!(
        "-ERR CONFIG SET failed (possibly related to argument '{param}') - can't set protected config\r\n"
    )
    .into_bytes()
}

async fn non_local(s: &Server) -> Raw {
    Raw::connect_from(NON_LOCAL, s.port).await
}

async fn rejected_connections(s: &Server) -> i64 {
    let mut c = s.client().await;
    info_value(&mut c, "rejected_connections")
        .await
        .parse()
        .unwrap()
}

/// Without `bind` and `requirepass`, a non-local client gets the DENIED
/// error and is disconnected; a local one is served; `CONFIG SET
/// protected-mode no` (from a local client) lets the other one in.
#[tokio::test]
async fn protected_mode_refuses_non_local_clients() {
    let s = Server::options().without_bind().start().await;
    let mut outsider = non_local(&s).await;
    outsider.cmd(&["PING"]).await;
    let said = outsider.expect_closed().await;
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.starts_with("-DENIED Disque is running in protected mode because protected mode is enabled, no bind address was specified, no authentication password is requested to clients."),
        "{said}"
    );
    assert!(
        said.ends_with("accepting connections from the outside.\r\n"),
        "{said}"
    );
    assert_eq!(said.matches("\r\n").count(), 1, "one error line: {said}");
    assert_eq!(rejected_connections(&s).await, 1);

    let mut local = s.raw().await;
    local.roundtrip(&["PING"], b"+PONG\r\n").await;
    local
        .roundtrip(
            &["CONFIG", "GET", "protected-mode"],
            b"*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n",
        )
        .await;
    local
        .roundtrip(&["CONFIG", "SET", "protected-mode", "no"], b"+OK\r\n")
        .await;
    let mut outsider = non_local(&s).await;
    outsider.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// Protected mode does not apply with a password (clients then AUTH) or an
/// explicit `bind`, nor with `protected-mode no` in the configuration.
#[tokio::test]
async fn protected_mode_needs_no_password_and_no_bind() {
    let with_password = Server::options()
        .without_bind()
        .password("secret")
        .start()
        .await;
    let mut outsider = non_local(&with_password).await;
    outsider
        .roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    outsider.roundtrip(&["AUTH", "secret"], b"+OK\r\n").await;
    outsider.roundtrip(&["PING"], b"+PONG\r\n").await;

    // The harness binds 127.0.0.1 explicitly.
    let with_bind = Server::start().await;
    let mut outsider = non_local(&with_bind).await;
    outsider.roundtrip(&["PING"], b"+PONG\r\n").await;

    let off = Server::options()
        .without_bind()
        .arg("protected-mode", "no")
        .start()
        .await;
    let mut outsider = non_local(&off).await;
    outsider.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// DEBUG (`enable-debug-command local`, the default) runs only for local
/// clients: DEBUG SEGFAULT and DEBUG SLEEP from 127.0.0.2 are refused with
/// Redis's text and the node keeps serving.
#[tokio::test]
async fn debug_is_local_only_by_default() {
    let s = Server::start().await;
    let mut outsider = non_local(&s).await;
    outsider
        .roundtrip(&["DEBUG", "SEGFAULT"], DEBUG_DENIED)
        .await;
    outsider
        .roundtrip(&["DEBUG", "SLEEP", "30"], DEBUG_DENIED)
        .await;
    // Arity is checked first, as in Redis.
    outsider
        .roundtrip(
            &["DEBUG"],
            b"-ERR wrong number of arguments for 'debug' command\r\n",
        )
        .await;
    outsider.roundtrip(&["PING"], b"+PONG\r\n").await;
    let mut local = s.raw().await;
    local.roundtrip(&["DEBUG", "SLEEP", "0"], b"+OK\r\n").await;
    local
        .roundtrip(
            &["CONFIG", "GET", "enable-debug-command"],
            b"*2\r\n$20\r\nenable-debug-command\r\n$5\r\nlocal\r\n",
        )
        .await;
    // Not settable at run time (it would lift its own protection).
    local
        .roundtrip(
            &["CONFIG", "SET", "enable-debug-command", "yes"],
            b"-ERR Unsupported CONFIG parameter: enable-debug-command\r\n",
        )
        .await;
}

#[tokio::test]
async fn debug_setting_no_and_yes() {
    let no = Server::options()
        .arg("enable-debug-command", "no")
        .start()
        .await;
    let mut local = no.raw().await;
    local
        .roundtrip(&["DEBUG", "SLEEP", "0"], DEBUG_DENIED)
        .await;

    let yes = Server::options()
        .arg("enable-debug-command", "yes")
        .start()
        .await;
    let mut outsider = non_local(&yes).await;
    outsider
        .roundtrip(&["DEBUG", "SLEEP", "0"], b"+OK\r\n")
        .await;
}

/// The attack of issue 10: `CONFIG SET dir <elsewhere>` then `CONFIG SET
/// appendonly yes` wrote an AOF holding the client's job body there. From a
/// non-local client `dir` is now refused and nothing is written outside the
/// node's directory.
#[tokio::test]
async fn a_non_local_client_cannot_move_the_aof() {
    let s = Server::start().await;
    let elsewhere = TempDir::new();
    let target = elsewhere.path().display().to_string();
    let mut outsider = non_local(&s).await;
    outsider
        .roundtrip(
            &["CONFIG", "SET", "dir", &target],
            &protected_config_error("dir"),
        )
        .await;
    outsider
        .roundtrip(
            &["CONFIG", "SET", "DIR", "/proc/self"],
            &protected_config_error("DIR"),
        )
        .await;
    outsider
        .roundtrip(&["CONFIG", "SET", "appendonly", "yes"], b"+OK\r\n")
        .await;
    outsider.cmd(&["ADDJOB", "q", "payload", "0"]).await;
    assert!(matches!(outsider.reply().await, Reply::Status(_)));
    poll_until!(secs(10), "the AOF is written in the node's own dir", {
        s.dir.path().join("disque.aof").exists()
    });
    assert!(!elsewhere.path().join("disque.aof").exists());
    // Paths that cannot be set at all stay so.
    outsider
        .roundtrip(
            &["CONFIG", "SET", "logfile", "/tmp/x"],
            b"-ERR Unsupported CONFIG parameter: logfile\r\n",
        )
        .await;
    // A local client may still move the directory.
    let mut local = s.raw().await;
    local
        .roundtrip(&["CONFIG", "SET", "dir", &target], b"+OK\r\n")
        .await;
}

#[tokio::test]
async fn protected_configs_setting() {
    let no = Server::options()
        .arg("enable-protected-configs", "no")
        .start()
        .await;
    let dir = no.dir.path().display().to_string();
    let mut local = no.raw().await;
    local
        .roundtrip(
            &["CONFIG", "SET", "dir", &dir],
            &protected_config_error("dir"),
        )
        .await;

    let yes = Server::options()
        .arg("enable-protected-configs", "yes")
        .start()
        .await;
    let dir = yes.dir.path().display().to_string();
    let mut outsider = non_local(&yes).await;
    outsider
        .roundtrip(&["CONFIG", "SET", "dir", &dir], b"+OK\r\n")
        .await;
}

/// A unix-socket client is local.
#[tokio::test]
async fn a_unix_socket_client_is_local() {
    let dir = TempDir::new();
    let path = dir.path().join("disque.sock");
    let s = Server::options()
        .arg("unixsocket", &path.display().to_string())
        .start()
        .await;
    let mut unix = tokio::net::UnixStream::connect(&path).await.unwrap();
    unix.write_all(b"DEBUG SLEEP 0\r\n").await.unwrap();
    let mut got = [0u8; 5];
    tokio::time::timeout(REPLY_DEADLINE, unix.read_exact(&mut got))
        .await
        .expect("a reply")
        .unwrap();
    assert_eq!(&got, b"+OK\r\n");
    drop(s);
}

/// The three settings in a config file, CONFIG GET and CONFIG REWRITE (only
/// values that differ from the default are written).
#[tokio::test]
async fn settings_in_the_config_file_and_rewrite() {
    let (s, file, _dir) =
        start_with_config("enable-debug-command yes\nenable-protected-configs no\n").await;
    let mut c = s.client().await;
    assert_eq!(
        cmd(&mut c, "CONFIG GET enable-*").await,
        arr(vec![
            bulk("enable-protected-configs"),
            bulk("no"),
            bulk("enable-debug-command"),
            bulk("yes"),
        ])
    );
    assert_eq!(
        cmd(&mut c, "CONFIG SET protected-mode no").await,
        status("OK")
    );
    assert_eq!(cmd(&mut c, "CONFIG REWRITE").await, status("OK"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("enable-debug-command yes"), "{text}");
    assert!(text.contains("enable-protected-configs no"), "{text}");
    assert!(text.contains("protected-mode no"), "{text}");
    assert_eq!(
        cmd(&mut c, "CONFIG SET protected-mode maybe").await,
        error("ERR Invalid argument 'maybe' for CONFIG SET 'protected-mode'")
    );
}

/// A bad value in the file is a fatal config error with Redis's enum text.
#[tokio::test]
async fn a_bad_value_is_a_config_error() {
    let out = std::process::Command::new(server_bin())
        .args(["--enable-debug-command", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("argument(s) must be one of the following: no, yes, local"),
        "{err}"
    );
}
