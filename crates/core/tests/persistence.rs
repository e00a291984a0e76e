//! AOF replay rules (docs/persistence.md §4.3, §4.4) and decision D5, with a fake clock.

mod harness;

use bytes::{Bytes, BytesMut};
use disque_core::job_codec::CorruptJob;
use disque_core::{Effects, LoadMode};
use disque_proto::Reply;
use harness::{bulk, Harness};

/// The LOADJOB payloads of a snapshot of `h`.
fn snapshot_payloads(h: &Harness) -> Vec<Bytes> {
    let mut out = BytesMut::new();
    h.node.aof_snapshot(&mut out);
    let mut payloads = Vec::new();
    let mut rest = &out[..];
    while !rest.is_empty() {
        // *2\r\n$7\r\nLOADJOB\r\n$<n>\r\n<payload>\r\n
        let prefix = b"*2\r\n$7\r\nLOADJOB\r\n$";
        assert!(rest.starts_with(prefix));
        let digits = rest[prefix.len()..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let len: usize = std::str::from_utf8(&rest[prefix.len()..prefix.len() + digits])
            .unwrap()
            .parse()
            .unwrap();
        let header_end = prefix.len() + digits + 2;
        payloads.push(Bytes::copy_from_slice(&rest[header_end..header_end + len]));
        rest = &rest[header_end + len + 2..];
    }
    payloads
}

/// Loads one LOADJOB payload into `h` at its current time.
fn load_job(h: &mut Harness, payload: &Bytes, mode: LoadMode) -> Result<(), CorruptJob> {
    let env = h.env();
    h.node
        .load_job(&env, payload, mode, &mut Effects::default())
}

fn reload(from: &Harness, mode: LoadMode) -> Harness {
    let mut to = from.restarted();
    for payload in snapshot_payloads(from) {
        load_job(&mut to, &payload, mode).unwrap();
    }
    to
}

#[test]
fn normal_load_brings_jobs_back_active_then_requeues() {
    let mut h = Harness::new();
    let a = h.add("q", "a", &["RETRY", "2"]);
    let r0 = h.add("q", "r0", &["RETRY", "0"]);
    let mut n = reload(&h, LoadMode::Normal);
    assert_eq!(n.show_field(&a, "state"), bulk("active"));
    assert_eq!(n.int(&["QLEN", "q"]), 0);
    n.advance(2300);
    assert_eq!(n.int(&["QLEN", "q"]), 1, "a is requeued after RETRY");
    n.advance(10_000);
    assert_eq!(
        n.show_field(&r0, "state"),
        bulk("active"),
        "RETRY 0 never queued after a normal load"
    );
}

#[test]
fn enqueue_once_restores_queued_jobs_but_not_at_most_once_ones() {
    let mut h = Harness::new();
    let j1 = h.add("cr", "j1", &[]);
    let j2 = h.add("cr", "j2", &[]);
    let am = h.add("cr", "am", &["RETRY", "0"]);
    h.call(&["GETJOB", "FROM", "cr"]);
    let mut n = reload(&h, LoadMode::EnqueueOnce);
    assert_eq!(n.show_field(&j1, "state"), bulk("active"));
    assert_eq!(n.show_field(&j2, "state"), bulk("queued"));
    assert_eq!(n.show_field(&am, "state"), bulk("active"));
}

#[test]
fn d5_shutdown_snapshot_restores_at_most_once_jobs_queued_exactly_once() {
    let mut h = Harness::new();
    let am = h.add("am", "b", &["RETRY", "0"]);
    let mut n = reload(&h, LoadMode::ExactState);
    assert_eq!(n.show_field(&am, "state"), bulk("queued"));
    assert_eq!(n.int(&["QLEN", "am"]), 1);
    n.call(&["GETJOB", "FROM", "am"]);
    assert_eq!(
        n.int(&["ENQUEUE", &am]),
        0,
        "still at-most-once after the restore"
    );
}

#[test]
fn expired_and_duplicate_records_are_skipped_and_deljob_replays() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &["TTL", "5"]);
    let payloads = snapshot_payloads(&h);
    let mut n = Harness::new();
    n.now_ms = h.now_ms + 10_000;
    load_job(&mut n, &payloads[0], LoadMode::Normal).unwrap();
    assert_eq!(n.call(&["SHOW", &id]), Reply::Nil);
    n.now_ms = h.now_ms;
    for _ in 0..2 {
        load_job(&mut n, &payloads[0], LoadMode::Normal).unwrap();
    }
    assert_eq!(n.node.stats().registered_jobs, 1);
    n.node
        .load_deljob(&disque_core::ids::JobId::parse(id.as_bytes()).unwrap());
    assert_eq!(n.node.stats().registered_jobs, 0);
    let corrupt = payloads[0].slice(..payloads[0].len() - 1);
    assert!(load_job(&mut n, &corrupt, LoadMode::Normal).is_err());
}

#[test]
fn d5_snapshot_keeps_jobs_waiting_for_their_delay() {
    let mut h = Harness::new();
    let r0 = h.add("dq", "y", &["DELAY", "2", "RETRY", "0"]);
    let r30 = h.add("dq", "x", &["DELAY", "2", "RETRY", "30"]);
    h.advance(500);
    let mut n = reload(&h, LoadMode::ExactState);
    assert_eq!(n.int(&["QLEN", "dq"]), 0);
    n.advance(1_600);
    assert_eq!(
        n.int(&["QLEN", "dq"]),
        2,
        "both queued when their delay ends"
    );
    assert_eq!(n.show_field(&r0, "state"), bulk("queued"));
    assert_eq!(n.show_field(&r30, "state"), bulk("queued"));
}
