//! Acknowledgements after durability (issue 8, part 1): when ADDJOB answers
//! "replicated to N nodes", every replica's copy is in its AOF (written, and
//! fsynced with `appendfsync always`), so killing a replica with SIGKILL the
//! moment ADDJOB answers and restarting it from its AOF finds the copy.
//! Two real nodes on loopback.

use crate::common::*;

/// ADDJOB REPLICATE 2 on node 0, kill -9 node 1 as soon as it answers, restart
/// node 1 from its AOF: the number of tries whose copy was missing.
async fn replica_copies_missing_after_kill9(fsync: &str, tries: usize) -> usize {
    let mut cl = Cluster::start_with(
        2,
        Server::options()
            .arg("appendonly", "yes")
            .arg("appendfsync", fsync),
    )
    .await;
    let mut missing = Vec::new();
    for t in 0..tries {
        let mut c0 = cl.client(0).await;
        // Connect first: the kill must follow the reply at once.
        let id = addjob(&mut c0, &format!("dur{t} body 0 REPLICATE 2 RETRY 300")).await;
        cl.kill(1);
        cl.restart(1).await;
        let mut c1 = cl.client(1).await;
        if show(&mut c1, &id).await.is_none() {
            missing.push(id);
        }
        cl.wait_joined().await;
    }
    if !missing.is_empty() {
        eprintln!("appendfsync {fsync}: copies missing after kill -9: {missing:?}");
    }
    missing.len()
}

#[tokio::test]
async fn replica_copy_survives_kill9_with_appendfsync_always() {
    assert_eq!(replica_copies_missing_after_kill9("always", 12).await, 0);
}

#[tokio::test]
async fn replica_copy_survives_kill9_with_appendfsync_everysec() {
    // A process crash keeps what was written: the record must have been
    // written before GOTJOB left (D11 extended to the bus).
    assert_eq!(replica_copies_missing_after_kill9("everysec", 12).await, 0);
}

#[tokio::test]
async fn debug_restart_writes_and_fsyncs_the_aof_first() {
    let mut s = Server::start_with(
        Server::options()
            .arg("appendonly", "yes")
            .arg("appendfsync", "no"),
    )
    .await;
    // Pipelined: the ADDJOB's record is still in the AOF buffer when DEBUG
    // RESTART runs, in the same batch.
    let mut raw = s.raw().await;
    raw.send(b"ADDJOB dr body 0\r\nDEBUG RESTART\r\n").await;
    // The process re-executes before answering: the connection just closes.
    raw.expect_closed().await;
    let mut c = poll_client(&s).await;
    // Loaded `active` (without aof-enqueue-jobs-once), so counted, not queued.
    assert_eq!(
        registered_jobs(&mut c).await,
        1,
        "job lost by DEBUG RESTART"
    );
    s.kill();
}

/// A client once the re-executed process answers PING.
async fn poll_client(s: &Server) -> Client {
    let deadline = std::time::Instant::now() + secs(20);
    loop {
        if let Ok(mut c) = Client::connect(("127.0.0.1", s.port)).await {
            if c.call(&["PING"]).await.is_ok() {
                return c;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no PING after DEBUG RESTART"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

/// With `aof-enqueue-jobs-once`, DEBUG LOADAOF queues a job stored `queued`
/// again and tells the other holder: the QUEUED that replaying the record
/// produces is sent, not dropped, so the other copy counts one more delivery.
#[tokio::test]
async fn debug_loadaof_with_enqueue_once_sends_queued_to_the_other_holder() {
    let cl = Cluster::start_with(2, Server::options().arg("appendonly", "yes")).await;
    let mut c0 = cl.client(0).await;
    let mut c1 = cl.client(1).await;
    let id = addjob(&mut c0, "eoq body 0 REPLICATE 2 RETRY 300").await;
    let deliveries = |r: &Reply| show_int(r, "additional-deliveries");
    assert_eq!(deliveries(&show_some(&mut c1, &id).await), 0);
    assert_eq!(
        cmd(&mut c0, "CONFIG SET aof-enqueue-jobs-once yes").await,
        status("OK")
    );
    assert_eq!(cmd(&mut c0, "DEBUG LOADAOF").await, status("OK"));
    assert_eq!(qlen(&mut c0, "eoq").await, 1);
    let deadline = std::time::Instant::now() + secs(10);
    loop {
        let seen = deliveries(&show_some(&mut c1, &id).await);
        if seen == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node 1 never heard the QUEUED (additional-deliveries {seen})"
        );
        tokio::time::sleep(ms(20)).await;
    }
}
