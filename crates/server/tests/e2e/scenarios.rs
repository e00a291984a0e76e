//! docs/behaviour-scenarios.md sections A and B against a real
//! `disque-server`: the scenarios written once in `disque_testkit::scenarios`
//! (which also run on the core, `crates/core/tests/scenarios.rs`), and those
//! only a process can show: S-23 (INFO, PING, COMMAND, QUIT), S-25 (the OOM
//! reply after CONFIG SET maxmemory), S-26 (AUTH) and S-36 (two nodes).

use crate::common::*;

disque_testkit::scenario_tests!(disque_testkit::layer::on_process);

#[tokio::test]
async fn s23_info_and_misc() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let all = info(&mut c, "").await;
    // `INFO ""` is an unknown section; check the no-argument form instead.
    assert_eq!(all, "");
    let all = match cmd(&mut c, "INFO").await {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    for needle in [
        "# Server\r\n",
        "disque_version:1.0-rc1\r\n",
        "# Jobs\r\n",
        "registered_jobs:",
        "# Queues\r\n",
        "registered_queues:",
        "loading:0\r\n",
    ] {
        assert!(all.contains(needle), "INFO lacks {needle:?}");
    }
    raw.roundtrip(
        &["INFO", "jobs"],
        b"$72\r\n# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r\n\r\n",
    )
    .await;
    raw.roundtrip(&["INFO", "nosuch"], b"$0\r\n\r\n").await;
    raw.roundtrip(&["INFO", "a", "b"], b"-ERR syntax error\r\n")
        .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    raw.roundtrip(&["PING", "hi"], b"$2\r\nhi\r\n").await;
    raw.roundtrip(
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    raw.roundtrip(&["COMMAND", "COUNT"], b":32\r\n").await;
    raw.roundtrip(&["FOO"], b"-ERR unknown command 'FOO'\r\n")
        .await;
    raw.roundtrip(
        &["LOADJOB", "x"],
        b"-ERR LOADJOB is a special command only processed from AOF\r\n",
    )
    .await;
    raw.roundtrip(&["QUIT"], b"+OK\r\n").await;
    assert!(raw.expect_closed().await.is_empty());
}

#[tokio::test]
async fn s25_out_of_memory() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "1"], b"+OK\r\n")
        .await;
    raw.roundtrip(
        &["ADDJOB", "q", "b", "0"],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    raw.roundtrip(&["GETJOB", "NOHANG", "FROM", "q"], b"*-1\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "1gb"], b"+OK\r\n")
        .await;
    addjob(&mut c, "q b 0").await;
}

#[tokio::test]
async fn s26_auth() {
    let s = Server::options().password("secret").start().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    raw.roundtrip(&["AUTH", "wrong"], b"-ERR invalid password\r\n")
        .await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    raw.roundtrip(&["AUTH", "secret"], b"+OK\r\n").await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    // A wrong password de-authenticates.
    raw.roundtrip(&["AUTH", "nope"], b"-ERR invalid password\r\n")
        .await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    // Unknown command and arity errors come before NOAUTH.
    raw.roundtrip(&["FOO"], b"-ERR unknown command 'FOO'\r\n")
        .await;
    raw.roundtrip(
        &["QLEN"],
        b"-ERR wrong number of arguments for 'qlen' command\r\n",
    )
    .await;

    let s2 = Server::start().await;
    let mut raw2 = s2.raw().await;
    raw2.roundtrip(
        &["AUTH", "x"],
        b"-ERR Client sent AUTH, but no password is set\r\n",
    )
    .await;
}

/// S-36 needs an acknowledged job record that survives, which only exists
/// in a cluster (a single node deletes a job at once on ACKJOB). Two nodes:
/// the job is replicated to N2, N2 is killed, so N1's acked record cannot be
/// garbage collected and stays.
#[tokio::test]
async fn s36_working_on_an_acked_job() {
    let n1 = Server::start().await;
    let mut n2 = Server::start().await;
    let mut c1 = n1.client().await;
    let meet = cmd(&mut c1, &format!("CLUSTER MEET 127.0.0.1 {}", n2.port)).await;
    assert_eq!(meet, status("OK"));
    poll_until!(secs(5), "cluster formed", {
        let r = cmd(&mut c1, "CLUSTER INFO").await;
        text(&r).contains("cluster_reachable_nodes:1")
    });
    let id = addjob(&mut c1, "ak b 0 REPLICATE 2 RETRY 7").await;
    n2.kill();
    assert_eq!(cmd(&mut c1, &format!("ACKJOB {id}")).await, int(1));
    let sh = show_some(&mut c1, &id).await;
    assert_eq!(field(&sh, "state"), &bulk("acked"));
    assert_eq!(cmd(&mut c1, &format!("WORKING {id}")).await, int(7));
}
