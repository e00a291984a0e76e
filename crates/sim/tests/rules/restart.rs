//! Crashes and restarts with the AOF (docs/persistence.md §4.4 in a cluster), the
//! fsync model, and the determinism the simulator relies on.

use crate::common::*;
use disque_core::job::JobState;
use disque_sim::{Crash, Fsync, Net, NetConfig};

/// A holder killed and restarted with its AOF has its copy back, active, and
/// requeues it after RETRY like any replica.
#[test]
fn restart_with_aof_restores_copies() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "2"]);
    net.crash(1, Crash::Process);
    net.restart(1);
    assert_eq!(state(&net, 1, &id), Some(JobState::Active));
    net.advance(3_000);
    assert_eq!(queued_on(&net, &id).len(), 1);
}

/// Without its AOF a restarted node has its id and peers but no jobs
/// (docs/cluster.md §13); another node still delivers, once (the surviving
/// holder, or the node re-replication gave the lost copy to: D8).
#[test]
fn restart_without_aof_loses_copies() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "2"]);
    let h = holders(&net, &id);
    net.crash(h[0], Crash::Disk);
    net.restart(h[0]);
    assert!(net.node(h[0]).job(&id).is_none());
    assert_eq!(net.node(h[0]).cluster_size(), 3);
    net.advance(3_000);
    let queued = queued_on(&net, &id);
    assert_eq!(queued.len(), 1, "queued once: {queued:?}");
    assert_ne!(queued[0], h[0], "not on the node that lost its copy");
}

/// With `appendfsync everysec` a power loss loses up to a second of records;
/// with `always` nothing acknowledged is lost.
#[test]
fn power_loss_keeps_the_fsynced_prefix() {
    for (fsync, survives) in [(Fsync::Always, true), (Fsync::EverySec, false)] {
        let mut cfg = NetConfig::new(1, 7);
        cfg.fsync = fsync;
        let mut net = Net::new(cfg);
        net.advance(1_500);
        let id = add(&mut net, 0, "q", &["REPLICATE", "1"]);
        net.advance(100);
        net.crash(0, Crash::Power);
        net.restart(0);
        assert_eq!(net.node(0).job(&id).is_some(), survives, "{fsync:?}");
    }
}

/// A restarted node restores each job's nodes-delivered (docs/persistence.md §4.4:
/// "nodes still known"), so an ACKJOB there still reaches the other holders
/// and they do not deliver the job again.
#[test]
fn restart_keeps_holders_so_acks_reach_them() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "3"]);
    net.crash(0, Crash::Process);
    net.restart(0);
    net.advance(500);
    let restored = delivered_to(&net, 0, &id);
    net.cmd(0, &["ACKJOB", &s(&id)]);
    net.advance(10_000);
    assert!(
        queued_on(&net, &id).is_empty(),
        "queued again on {:?} after the ack (n0 restored nodes-delivered {restored:?})",
        queued_on(&net, &id)
    );
    assert!(holders(&net, &id).is_empty());
    assert_eq!(restored, vec![0, 1, 2]);
}

/// The same seed must give the same run (DESIGN.md §1: "a failing seed
/// replays exactly"): two identical networks produce identical traces.
#[test]
fn same_seed_same_run() {
    let run = || {
        let mut net = Net::cluster(NetConfig::new(5, 11));
        for q in ["a", "b", "c"] {
            for _ in 0..10 {
                add(&mut net, 0, q, &["REPLICATE", "2", "RETRY", "1"]);
            }
        }
        for i in 1..5 {
            net.cmd(
                i,
                &["GETJOB", "NOHANG", "COUNT", "3", "FROM", "a", "b", "c"],
            );
        }
        net.advance(5_000);
        net.trace.render_all()
    };
    let (a, b) = (run(), run());
    if a != b {
        let line = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "runs differ from line {line}:\n  {}\n  {}",
            a.lines().nth(line).unwrap_or(""),
            b.lines().nth(line).unwrap_or("")
        );
    }
}

/// ADDJOB REPLICATE 2 on n0 of a two-node cluster; `after_ms` after n1 put
/// its GOTJOB on the wire, n1 dies with `crash` and restarts from its AOF.
/// True when n1 has its copy back (n0 told its client "2 copies" either way).
fn replica_copy_survives(
    bus_after_durable: bool,
    fsync: Fsync,
    crash: Crash,
    after_ms: u64,
) -> bool {
    let mut cfg = NetConfig::new(2, 42);
    cfg.fsync = fsync;
    cfg.bus_after_durable = bus_after_durable;
    let mut net = Net::cluster(cfg);
    let mark = net.trace.len();
    let c = net.client();
    let words = ["ADDJOB", "q", "body", "5000", "REPLICATE", "2"];
    assert!(net.cmd_as(0, c, &words).is_none(), "waits for n1's copy");
    while sent(&net, mark, "GOTJOB").is_empty() {
        assert!(net.step(net.now + 1_000), "n1 never confirmed");
    }
    net.advance(after_ms);
    net.crash(1, crash);
    net.run_until_idle();
    let id = job_id(&net.take_reply(0, c).expect("ADDJOB answered"));
    net.restart(1);
    net.node(1).job(&id).is_some()
}

/// Issue 8, part 1: a GOTJOB leaves once the copy it announces is as durable
/// as the fsync policy promises (`NetConfig::bus_after_durable`, the server's
/// ordering), so the copy survives a process crash, and a power loss with
/// `appendfsync always`, right after the confirmation. With the old ordering
/// (frames first, records written at the next tick) both lose it, although
/// the client was told "2 copies"; after that tick they keep it.
#[test]
fn gotjob_leaves_after_the_copy_is_durable() {
    for (fsync, crash) in [
        (Fsync::Always, Crash::Power),
        (Fsync::Always, Crash::Process),
        (Fsync::EverySec, Crash::Process),
        (Fsync::No, Crash::Process),
    ] {
        let case = format!("{fsync:?} {crash:?}");
        assert!(replica_copy_survives(true, fsync, crash, 0), "{case}: lost");
        assert!(
            !replica_copy_survives(false, fsync, crash, 0),
            "{case}: old ordering kept it"
        );
        assert!(
            replica_copy_survives(false, fsync, crash, 100),
            "{case}: tick did not write it"
        );
    }
}

/// With `aof-enqueue-jobs-once`, a restarted node queues the jobs it had
/// stored `queued` again at once; without it they come back `active`
/// (docs/persistence.md §4.4).
#[test]
fn restart_with_enqueue_once_queues_stored_jobs_at_once() {
    for (enqueue_once, expected) in [(true, JobState::Queued), (false, JobState::Active)] {
        let mut cfg = NetConfig::new(2, 42);
        cfg.enqueue_jobs_once = enqueue_once;
        let mut net = Net::cluster(cfg);
        let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "60"]);
        net.crash(0, Crash::Process);
        net.restart(0);
        assert_eq!(state(&net, 0, &id), Some(expected), "{enqueue_once}");
    }
}

/// With `aof-enqueue-jobs-once`, a job stored `queued` that is queued again
/// by DEBUG LOADAOF tells the other holders (a QUEUED counting one more
/// delivery): the effects of replaying a record are carried out, not dropped.
#[test]
fn reload_with_enqueue_once_broadcasts_queued() {
    let mut cfg = NetConfig::new(2, 42);
    cfg.enqueue_jobs_once = true;
    let mut net = Net::cluster(cfg);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "60"]);
    assert_eq!(queued_on(&net, &id), vec![0]);
    let mark = net.trace.len();
    net.reload_aof(0);
    net.run_until_idle();
    assert_eq!(queued_on(&net, &id), vec![0]);
    let queued = delivered(&net, mark, "QUEUED");
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!((queued[0].0, queued[0].1), (0, 1));
    assert_eq!(
        net.node(1)
            .job(&id)
            .expect("n1 holds it")
            .additional_deliveries(),
        1
    );
}
