//! Acknowledgements and garbage collection (docs/cluster.md §7): SETACK, GOTACK,
//! DELJOB, retries with back-off when a holder is missing, dummy ACKs,
//! FASTACK.

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_core::job::JobState;
use disque_proto::Reply;
use disque_sim::Crash;

/// The typical run (docs/cluster.md §7.3): ACKJOB on A sends SETACK(3) to B and C,
/// each acknowledges and answers GOTACK(1); then A sends DELJOB to both and
/// every copy is gone. 2 + 2 + 2 messages.
#[test]
fn ack_gc_without_failures() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3"]);
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["ACKJOB", &s(&id)])), 1);
    net.run_until_idle();
    let setacks = delivered(&net, mark, "SETACK");
    assert_eq!(setacks.len(), 2);
    assert!(setacks
        .iter()
        .all(|(f, _, m)| *f == 0
            && matches!(m, Message::SetAck { holders, .. } if holders.len() == 3)));
    let gotacks = delivered(&net, mark, "GOTACK");
    assert_eq!(gotacks.len(), 2);
    assert!(gotacks
        .iter()
        .all(|(_, t, m)| *t == 0 && matches!(m, Message::GotAck { known: true, .. })));
    assert_eq!(delivered(&net, mark, "DELJOB").len(), 2);
    assert!(holders(&net, &id).is_empty());
}

/// A holder that is down when the job is acknowledged: the acknowledging node
/// keeps the acked record and retries; once the holder is back (with its AOF,
/// so its copy returns active), the job is collected everywhere.
#[test]
fn ack_gc_waits_for_a_missing_holder() {
    let mut net = cluster_with_timeout(3, 1_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "30"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.crash(2, Crash::Process);
    net.cmd(0, &["ACKJOB", &s(&id)]);
    net.run_until_idle();
    assert_eq!(state(&net, 0, &id), Some(JobState::Acked));
    assert_eq!(state(&net, 1, &id), Some(JobState::Acked));
    net.advance(14_000);
    assert_eq!(state(&net, 0, &id), Some(JobState::Acked));
    assert!(net.node(0).job(&id).unwrap().gc_retry() >= 3);
    net.restart(2);
    assert_eq!(state(&net, 2, &id), Some(JobState::Active));
    net.advance(20_000);
    assert!(
        holders(&net, &id).is_empty(),
        "held by {:?}",
        holders(&net, &id)
    );
}

/// GC attempts after an ACKJOB come at about t = 0 (inside the command), 1 s,
/// 5 s, 13 s (docs/cluster.md §7.1: gaps 1, 4, 8 s, ± 250 ms).
#[test]
fn ack_gc_retry_schedule() {
    let mut net = cluster_with_timeout(3, 1_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "30"]);
    net.crash(2, Crash::Process);
    let start = net.now;
    net.cmd(0, &["ACKJOB", &s(&id)]);
    // Each attempt bumps gc_retry.
    let mut attempts = vec![0u64];
    let mut last = net.node(0).job(&id).unwrap().gc_retry();
    while net.now - start < 14_000 {
        net.advance(10);
        let now = net.node(0).job(&id).unwrap().gc_retry();
        if now != last {
            attempts.push(net.now - start);
            last = now;
        }
    }
    let gaps: Vec<u64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 3, "attempts at {attempts:?} ms");
    for (gap, want) in gaps.iter().zip([1_000u64, 4_000, 8_000]) {
        assert!(gap.abs_diff(want) <= 260, "attempts at {attempts:?} ms");
    }
}

/// Dummy ACK: ACKJOB of an unknown at-least-once id in a cluster keeps an
/// acked record with no queue, body or holders; its GC broadcasts SETACK(0)
/// and it disappears once every node answered GOTACK(0).
#[test]
fn dummy_ack_created_and_dropped_when_all_answer() {
    let mut net = cluster(3);
    let unknown = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0005";
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["ACKJOB", unknown])), 0);
    let id = disque_core::ids::JobId::parse(unknown.as_bytes()).unwrap();
    let job = net.node(0).job(&id).expect("a dummy ack").clone();
    assert_eq!(job.state(), JobState::Acked);
    assert!(job.nodes_delivered().is_empty() && job.queue().is_none() && job.body().is_none());
    assert_eq!(net.node(0).stats().registered_jobs, 1);
    net.run_until_idle();
    let setacks = delivered(&net, mark, "SETACK");
    assert_eq!(setacks.len(), 2);
    assert!(setacks
        .iter()
        .all(|(_, _, m)| matches!(m, Message::SetAck { holders, .. } if holders.is_empty())));
    assert!(delivered(&net, mark, "GOTACK")
        .iter()
        .all(|(_, _, m)| matches!(m, Message::GotAck { known: false, .. })));
    assert!(net.node(0).job(&id).is_none(), "dropped when all answered");
    // Receivers of SETACK for an unknown job create nothing.
    assert_eq!(net.node(1).stats().registered_jobs, 0);
}

/// No dummy ACK for an at-most-once id (even TTL field), on a single node, or
/// on a leaving node.
#[test]
fn dummy_ack_only_when_it_can_matter() {
    let even = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0004";
    let odd = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0005";
    let mut net = cluster(3);
    net.cmd(0, &["ACKJOB", even]);
    assert_eq!(net.node(0).stats().registered_jobs, 0);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.cmd(0, &["ACKJOB", odd]);
    assert_eq!(net.node(0).stats().registered_jobs, 0);
    let mut single = disque_sim::Net::new(disque_sim::NetConfig::new(1, 5));
    single.cmd(0, &["ACKJOB", odd]);
    assert_eq!(single.node(0).stats().registered_jobs, 0);
}

/// A dummy ACK reaching a node that knows the job acknowledges it there (the
/// knower answers GOTACK(1) and takes over the GC): the dummy is dropped and
/// the job is collected everywhere. This is how an ACK sent during a partition
/// to a node without a copy is honoured after the heal.
#[test]
fn dummy_ack_made_during_a_partition_acks_the_job_after_healing() {
    let mut net = cluster(3);
    let id = add(&mut net, 1, "q", &["REPLICATE", "2", "RETRY", "30"]);
    let h = holders(&net, &id);
    let outsider = (0..3).find(|i| !h.contains(i)).unwrap();
    net.isolate(outsider);
    net.cmd(outsider, &["ACKJOB", &s(&id)]);
    assert_eq!(state(&net, outsider, &id), Some(JobState::Acked));
    net.advance(3_000);
    assert_eq!(
        queued_on(&net, &id).len(),
        1,
        "still queued on the other side"
    );
    net.heal();
    net.advance(10_000);
    assert!(
        holders(&net, &id).is_empty(),
        "held by {:?}",
        holders(&net, &id)
    );
    for i in 0..3 {
        assert_eq!(net.node(i).stats().registered_jobs, 0, "n{i}");
    }
}

/// FASTACK deletes the local copy and sends DELJOB to the other holders, with
/// no confirmation round.
#[test]
fn fastack_deletes_everywhere_without_confirmations() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3"]);
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(1, &["FASTACK", &s(&id)])), 1);
    net.run_until_idle();
    assert_eq!(delivered(&net, mark, "DELJOB").len(), 2);
    assert!(delivered(&net, mark, "SETACK").is_empty());
    assert!(holders(&net, &id).is_empty());
}

/// FASTACK of an id this node does not know sends DELJOB to every node with a
/// link (docs/commands.md §2.4), so copies elsewhere are deleted.
#[test]
fn fastack_of_unknown_id_broadcasts_deljob() {
    let mut net = cluster(3);
    let id = add(&mut net, 1, "q", &["REPLICATE", "2"]);
    let h = holders(&net, &id);
    let outsider = (0..3).find(|i| !h.contains(i)).unwrap();
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(outsider, &["FASTACK", &s(&id)])), 0);
    net.run_until_idle();
    assert_eq!(delivered(&net, mark, "DELJOB").len(), 2);
    assert!(holders(&net, &id).is_empty());
}

/// SETACK(0) from a dummy ACK reaching real holders (who know more holders
/// than the sender): each acknowledges, answers GOTACK(1) because the sender
/// is a dummy, and takes over the GC with its own SETACK(3); the dummy is
/// dropped and the job collected everywhere.
#[test]
fn setack_receiver_with_more_holders_takes_over_gc() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3"]);
    let h = holders(&net, &id);
    let outsider = (0..4).find(|i| !h.contains(i)).unwrap();
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(outsider, &["ACKJOB", &s(&id)])), 0);
    net.run_until_idle();
    let gotacks = delivered(&net, mark, "GOTACK");
    assert!(gotacks
        .iter()
        .filter(|f| f.1 == outsider)
        .any(|(_, _, m)| matches!(m, Message::GotAck { known: true, .. })));
    assert!(delivered(&net, mark, "SETACK")
        .iter()
        .any(|(f, _, m)| *f != outsider
            && matches!(m, Message::SetAck { holders, .. } if holders.len() == 3)));
    assert!(
        holders(&net, &id).is_empty(),
        "held by {:?}",
        holders(&net, &id)
    );
    assert_eq!(net.node(outsider).stats().registered_jobs, 0);
    assert_eq!(net.cmd(0, &["SHOW", &s(&id)]), Reply::Nil);
}
