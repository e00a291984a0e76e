//! Helpers of the end-to-end tests: the process harness of
//! `disque_testkit` (servers, clusters, raw sockets, reply readers,
//! polling), plus what only these tests need: persistence nodes and AOF
//! records ([`persist`]), TLS certificates ([`tls`]).

pub mod persist;
pub mod tls;

pub use disque_testkit::*;

/// The server binary cargo built for these tests.
pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_disque-server")
}

/// A server started with a config file holding `text`; returns it, the
/// file's path, and the directory that holds the file.
pub async fn start_with_config(text: &str) -> (Server, std::path::PathBuf, TempDir) {
    let dir = TempDir::new();
    let file = dir.path().join("disque.conf");
    std::fs::write(&file, text).unwrap();
    let server = ServerOptions {
        config_file: Some(file.clone()),
        ..ServerOptions::default()
    }
    .start()
    .await;
    (server, file, dir)
}

/// The NOREPL error of an ADDJOB on a node that may not hold a copy itself,
/// for `reason` ("I'm leaving the cluster", "I'm out of memory").
pub fn norepl_no_local_copy(reason: &str) -> Reply {
    error(&format!(
        "NOREPL Not enough reachable nodes for the requested replication level, since I'm \
         unable to hold a copy of the message for the following reason: {reason}"
    ))
}

/// Job `id` of `queue`, added on `cs[at]` (a node that holds no copy),
/// has a copy on every other node and is queued exactly once among them.
pub async fn assert_replicated_elsewhere(cs: &mut [Client], at: usize, id: &str, queue: &str) {
    assert!(show(&mut cs[at], id).await.is_none());
    for (i, c) in cs.iter_mut().enumerate() {
        if i != at {
            assert!(show(c, id).await.is_some(), "no copy on N{}", i + 1);
        }
    }
    poll_until!(secs(2), "the externally replicated job is queued once", {
        let mut queued = 0;
        for (i, c) in cs.iter_mut().enumerate() {
            if i != at {
                queued += qlen(c, queue).await;
            }
        }
        queued == 1
    });
}
