//! Bounded resources (decision D15): a bus connection that sends no valid
//! frame within 5 s is closed, a bus connection not yet known to come from a
//! node of the cluster may not announce a frame above 64 KiB, nor one from a
//! node a frame above one job of the largest body plus overhead, a client's read
//! buffer shrinks back after a large request, and the node keeps serving
//! meanwhile. A node on loopback, raw TCP clients.

use crate::common::*;
use bytes::BytesMut;
use disque_core::cluster::message::{Frame, Message, MAX_FRAME};
use disque_core::ids::NodeId;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; the time that took, or
/// None if it stayed open for `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(start + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// A connection to the bus port of `s`.
async fn bus_connect(s: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", s.port + 10_000))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_silent_bus_connection_is_closed() {
    let s = Server::start().await;
    let mut bus = bus_connect(&s).await;
    let took = closed_within(&mut bus, secs(10)).await;
    let took = took.expect("a silent bus connection stayed open for 10 s");
    assert!(
        took >= ms(4000),
        "closed after {took:?}, before the 5 s deadline"
    );
    let mut c = s.client().await;
    assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
    poll_until!(secs(5), "the close is logged", {
        s.log_text().contains("no valid frame within 5 s")
    });
}

/// Sends `bytes` to a new node's bus port: the node must close the
/// connection at once (without waiting for the frame announced), log
/// `reason`, and keep serving.
async fn bus_input_is_refused(bytes: &[u8], reason: &str) {
    let s = Server::start().await;
    let mut bus = bus_connect(&s).await;
    bus.write_all(bytes).await.unwrap();
    let took = closed_within(&mut bus, secs(3)).await;
    assert!(took.is_some(), "an oversized frame was accepted");
    poll_until!(secs(5), "the refusal is logged", {
        s.log_text().contains(reason)
    });
    let mut c = s.client().await;
    assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
}

#[tokio::test]
async fn a_large_frame_from_a_stranger_is_refused() {
    // A frame header announcing 1 MB: the node must not wait for (and
    // buffer) it.
    bus_input_is_refused(
        &1_000_000u32.to_be_bytes(),
        "frame too large before the sender is known",
    )
    .await;
}

/// A connection known to come from a node (here: one that sent a MEET) may
/// not announce a frame above the bus frame limit, one job of the largest
/// body plus overhead (516 MiB, `MAX_FRAME`).
#[tokio::test]
async fn a_frame_over_the_limit_from_a_node_is_refused() {
    // The node will try to reach the newcomer at a free port's bus port.
    let mut frames = BytesMut::new();
    Frame {
        sender: NodeId::parse(&[b'5'; 40]).unwrap(),
        port: free_port(),
        flags: 0,
        message: Message::Meet(Vec::new()),
    }
    .encode(&mut frames);
    frames.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
    bus_input_is_refused(&frames, "frame above the bus frame limit").await;
}

/// VmRSS of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// A refused 100 MB request does not keep its 100 MB in the connection's read
/// buffer (decision D15): the memory goes back while the client stays.
#[tokio::test]
async fn a_large_refused_request_gives_its_memory_back() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    let before = rss(s.pid());
    let body = vec![b'x'; 100 << 20];
    raw.cmd(&[&b"ADDJOB"[..], b"q", &body, b"notanumber"]).await;
    let reply = raw.reply().await;
    assert!(matches!(reply, Reply::Error(_)), "{reply:?}");
    drop(body);
    poll_until!(secs(5), "the read buffer shrank back", {
        rss(s.pid()) < before + (30 << 20)
    });
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// The attack of issue 10: 1,000 bus connections that never speak. At most
/// 256 connections not yet known to come from a node are kept; the others
/// are closed at once (logged), and the node keeps serving. With a
/// `cluster-password` the connections still in the handshake count the same.
#[tokio::test]
async fn bus_connections_from_strangers_are_capped() {
    for opts in [
        Server::options(),
        Server::options().arg("cluster-password", "s3cret"),
    ] {
        let s = opts.start().await;
        let mut held = Vec::new();
        for _ in 0..300 {
            held.push(bus_connect(&s).await);
        }
        poll_until!(secs(10), "the refusals are logged", {
            s.log_text()
                .contains("too many connections from unknown nodes")
        });
        // The connections above the cap are closed at once, well before the
        // 5 s deadline of the others.
        let mut closed = 0;
        for stream in held.iter_mut().rev().take(44) {
            if closed_within(stream, secs(3)).await.is_some() {
                closed += 1;
            }
        }
        assert!(closed >= 40, "only {closed} of the last 44 were closed");
        let mut c = s.client().await;
        assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
    }
}

async fn used_memory(c: &mut Client) -> u64 {
    info_value(c, "used_memory").await.parse().unwrap()
}

/// A node drained of a burst of jobs gives the memory back: `used_memory`
/// returns to near where it started (the job table's chunks, its id index,
/// the timer heap and the queue order all shrink).
#[tokio::test]
async fn memory_goes_back_after_a_burst_is_drained() {
    const JOBS: usize = 40_000;
    let s = Server::start().await;
    let mut c = s.client().await;
    let before = used_memory(&mut c).await;
    let mut raw = Raw::connect(s.port).await;
    for _ in 0..JOBS {
        raw.cmd(&["ADDJOB", "burst", "0123456789abcdef", "0"]).await;
    }
    for _ in 0..JOBS {
        raw.frame().await;
    }
    let full = used_memory(&mut c).await;
    assert!(
        full > before + 4_000_000,
        "{JOBS} jobs take {}",
        full - before
    );
    loop {
        let batch = cmd(&mut c, "GETJOB NOHANG COUNT 1000 FROM burst").await;
        let ids: Vec<String> = match &batch {
            Reply::Array(jobs) if !jobs.is_empty() => {
                jobs.iter().map(|j| text(&items(j)[1])).collect()
            }
            _ => break,
        };
        let line = format!("DELJOB {}", ids.join(" "));
        assert_eq!(cmd(&mut c, &line).await, int(ids.len() as i64));
    }
    assert_eq!(info_value(&mut c, "registered_jobs").await, "0");
    let after = used_memory(&mut c).await;
    assert!(
        after < before + (full - before) / 10,
        "used_memory {before} empty, {full} with {JOBS} jobs, {after} after deleting them"
    );
}
