//! `client-output-buffer-limit normal <hard> <soft> <seconds>` with Redis's
//! semantics (decision D15): a client whose pending replies reach the hard
//! limit, or stay at or above the soft limit for longer than the seconds, is
//! closed and the close logged. Clients that never read: many large SHOW
//! replies pipelined, and a MONITOR.

use crate::common::*;
use tokio::io::AsyncReadExt;

const BODY: usize = 100_000;

/// A node with one job of a 100 KB body; returns its id.
async fn node_with_a_large_job(limit: &str) -> (Server, String) {
    let s = Server::start().await;
    let mut c = s.client().await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "client-output-buffer-limit", limit])
            .await
            .unwrap(),
        status("OK")
    );
    let body = "x".repeat(BODY);
    let id = match c.call(&["ADDJOB", "q", &body, "0"]).await.unwrap() {
        Reply::Status(id) => String::from_utf8(id.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    (s, id)
}

/// Sends `n` SHOW requests in one write, reads nothing.
async fn pipeline_shows(raw: &mut Raw, id: &str, n: usize) {
    let mut out = bytes::BytesMut::new();
    for _ in 0..n {
        disque_proto::encode_request(&["SHOW", id], &mut out);
    }
    raw.send(&out).await;
}

async fn connected_clients(s: &Server) -> i64 {
    let mut c = s.client().await;
    info_value(&mut c, "connected_clients")
        .await
        .parse()
        .unwrap()
}

/// Reads everything until the server closes; the byte count (failing if
/// the connection stays open for 10 s).
async fn drain_until_closed(raw: &mut Raw) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(REPLY_DEADLINE, raw.stream.read(&mut buf)).await {
            Err(_) => panic!("the connection stayed open after {total} bytes"),
            Ok(Ok(0)) | Ok(Err(_)) => return total,
            Ok(Ok(n)) => total += n,
        }
    }
}

const CLOSE_LOG: &str = "scheduled to be closed ASAP for overcoming of output buffer limits";

#[tokio::test]
async fn the_hard_limit_closes_a_client_that_does_not_read() {
    let (s, id) = node_with_a_large_job("normal 1048576 0 0").await;
    let mut raw = s.raw().await;
    // 200 replies of 100 KB: 20 MB pending, far above 1 MB.
    pipeline_shows(&mut raw, &id, 200).await;
    poll_until!(secs(10), "the close is logged", {
        s.log_text().contains(CLOSE_LOG)
    });
    let got = drain_until_closed(&mut raw).await;
    assert!(got < 200 * BODY, "received {got} bytes: the whole output");
    poll_until!(secs(5), "only the probe client is left", {
        connected_clients(&s).await == 1
    });
}

#[tokio::test]
async fn the_soft_limit_closes_after_its_seconds() {
    let (s, id) = node_with_a_large_job("normal 0 524288 1").await;
    let mut raw = s.raw().await;
    let start = std::time::Instant::now();
    pipeline_shows(&mut raw, &id, 200).await;
    // Not reading: the replies stay pending above the soft limit.
    poll_until!(secs(10), "the close is logged", {
        s.log_text().contains(CLOSE_LOG)
    });
    assert!(
        start.elapsed() >= ms(900),
        "closed after {:?}, before the soft seconds",
        start.elapsed()
    );
    let got = drain_until_closed(&mut raw).await;
    assert!(got < 200 * BODY, "received {got} bytes: the whole output");
}

/// Without a limit (the default) the same client gets every reply once it
/// reads; with a limit, a client that reads as it goes is not closed.
#[tokio::test]
async fn clients_within_the_limits_are_served() {
    let (s, id) = node_with_a_large_job("normal 0 0 0").await;
    let mut raw = s.raw().await;
    pipeline_shows(&mut raw, &id, 200).await;
    for _ in 0..200 {
        assert!(matches!(raw.reply().await, Reply::Array(_)));
    }
    assert_eq!(
        s.client()
            .await
            .call(&["CONFIG", "GET", "client-output-buffer-limit"])
            .await
            .unwrap(),
        arr(vec![
            bulk("client-output-buffer-limit"),
            bulk("normal 0 0 0")
        ])
    );

    let (s, id) = node_with_a_large_job("normal 1048576 524288 1").await;
    let mut raw = s.raw().await;
    for _ in 0..50 {
        raw.cmd(&["SHOW", &id]).await;
        assert!(matches!(raw.reply().await, Reply::Array(_)));
    }
}

/// A MONITOR client that never reads is closed once the commands it is fed
/// reach the hard limit; the node keeps serving.
#[tokio::test]
async fn a_monitor_that_does_not_read_is_closed() {
    let (s, _) = node_with_a_large_job("normal 1048576 0 0").await;
    let mut monitor = s.raw().await;
    monitor.roundtrip(&["MONITOR"], b"+OK\r\n").await;
    let mut c = s.client().await;
    let body = "y".repeat(BODY);
    let mut closed = false;
    for _ in 0..400 {
        assert!(matches!(
            c.call(&["ADDJOB", "q", &body, "0"]).await.unwrap(),
            Reply::Status(_)
        ));
        if s.log_text().contains(CLOSE_LOG) {
            closed = true;
            break;
        }
    }
    assert!(closed, "40 MB fed to a monitor that does not read");
    let mut sink = Vec::new();
    let read = tokio::time::timeout(REPLY_DEADLINE, monitor.stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the monitor connection stayed open");
    assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
}
