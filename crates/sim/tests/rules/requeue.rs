//! Requeue coordination (docs/cluster.md §8): WILLQUEUE before a requeue, QUEUED
//! after one, the rule that keeps one queued copy, WORKING, NACK counters.

use crate::common::*;
use disque_core::job::JobState;
use disque_proto::Reply;

/// A job delivered and never acknowledged comes back after RETRY on one node
/// only: WILLQUEUE goes out 500 ms before a holder requeues, QUEUED after, and
/// the other holders postpone theirs. Over many retry periods there is never
/// more than one queued copy, and there always is one at some point.
#[test]
fn willqueue_and_queued_keep_one_queued_copy() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "2"]);
    let r = net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    assert!(matches!(r, Reply::Array(ref a) if a.len() == 1));
    assert!(queued_on(&net, &id).is_empty());
    let mark = net.trace.len();
    let mut ever_queued = [false; 3];
    for _ in 0..1_500 {
        net.advance(10);
        let q = queued_on(&net, &id);
        assert!(q.len() <= 1, "queued on {q:?} at once");
        for n in q {
            ever_queued[n] = true;
        }
    }
    assert!(ever_queued.iter().any(|b| *b));
    assert!(!delivered(&net, mark, "WILLQUEUE").is_empty());
    assert!(!delivered(&net, mark, "QUEUED").is_empty());
}

/// WILLQUEUE is sent 500 ms before a holder requeues an active job (the lead).
#[test]
fn willqueue_lead_is_500_ms() {
    let mut net = cluster(2);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "3"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    let mark = net.trace.len();
    let mut willqueue_at = [None; 2];
    let mut queued = None;
    while queued.is_none() {
        net.advance(1);
        for (n, at) in willqueue_at.iter_mut().enumerate() {
            if at.is_none() && delivered(&net, mark, "WILLQUEUE").iter().any(|f| f.0 == n) {
                *at = Some(net.now);
            }
        }
        queued = queued_on(&net, &id).first().map(|n| (*n, net.now));
        assert!(net.now - disque_sim::net::START_MS < 60_000);
    }
    let (node, at) = queued.unwrap();
    let lead = at - willqueue_at[node].expect("WILLQUEUE before the requeue");
    assert!((499..=501).contains(&lead), "n{node} lead {lead} ms");
}

/// The spec's comparison (docs/cluster.md §8): XOR each node id byte i with job id
/// byte 11 + (i mod 24), compare the results; true when `a` wins over `b`.
fn wins(
    a: &disque_core::ids::NodeId,
    b: &disque_core::ids::NodeId,
    job: &disque_core::ids::JobId,
) -> bool {
    let mix = |n: &disque_core::ids::NodeId| -> Vec<u8> {
        (0..40).map(|i| n.0[i] ^ job.0[11 + i % 24]).collect()
    };
    mix(a) > mix(b)
}

/// QUEUED from a node that wins the per-job comparison dequeues the receiver's
/// copy, so a job queued twice collapses to one copy when the winner queues
/// second; when the loser queues second, the winner keeps its copy too (the
/// spec has no answer to QUEUED), so both stay queued.
#[test]
fn doubly_queued_job_collapses_when_the_winner_queues_second() {
    let mut branches = [false; 2];
    for seed in 1..20 {
        let mut net = disque_sim::Net::cluster(disque_sim::NetConfig::new(2, seed));
        let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "30"]);
        let n1_wins = wins(&net.id(1), &net.id(0), &id);
        branches[n1_wins as usize] = true;
        // n0 queued it at ADDJOB; now n1 queues its copy by hand.
        assert_eq!(int(&net.cmd(1, &["ENQUEUE", &s(&id)])), 1);
        net.run_until_idle();
        if n1_wins {
            assert_eq!(queued_on(&net, &id), vec![1], "n0 lost and dequeued");
        } else {
            assert_eq!(
                queued_on(&net, &id),
                vec![0, 1],
                "n1 lost but nobody tells it"
            );
            // n0 (the winner) queues again after a dequeue: n1 drops its copy.
            net.cmd(0, &["DEQUEUE", &s(&id)]);
            net.cmd(0, &["ENQUEUE", &s(&id)]);
            net.run_until_idle();
            assert_eq!(queued_on(&net, &id), vec![0]);
        }
    }
    assert_eq!(
        branches,
        [true, true],
        "both outcomes of the comparison seen"
    );
}

/// WORKING (command) postpones the requeue by RETRY on every holder and
/// dequeues queued copies elsewhere; it is refused after half the TTL.
#[test]
fn working_propagates_to_holders() {
    let mut net = cluster(3);
    let id = add(
        &mut net,
        0,
        "q",
        &["REPLICATE", "3", "RETRY", "10", "TTL", "60"],
    );
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.advance(3_000);
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["WORKING", &s(&id)])), 10);
    net.run_until_idle();
    assert_eq!(delivered(&net, mark, "WORKING").len(), 2);
    for i in 0..3 {
        let Reply::Integer(ms) = show_field(&mut net, i, &id, "next-requeue-within") else {
            panic!("a requeue time on n{i}");
        };
        assert!((9_700..=10_300).contains(&ms), "n{i}: {ms}");
    }
    // A copy queued elsewhere is dequeued by WORKING.
    net.cmd(1, &["ENQUEUE", &s(&id)]);
    net.run_until_idle();
    assert_eq!(queued_on(&net, &id), vec![1]);
    net.cmd(0, &["WORKING", &s(&id)]);
    net.run_until_idle();
    assert!(queued_on(&net, &id).is_empty());
    // Half the TTL: TOOLATE.
    net.advance(28_000);
    let r = net.cmd(0, &["WORKING", &s(&id)]);
    assert!(err_text(&r).starts_with("TOOLATE"));
}

/// NACK queues the job at once and sends QUEUED with the nacks flag: every
/// holder counts one NACK; a timer requeue counts an additional delivery.
#[test]
fn nack_and_requeue_counters_travel_with_queued() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "30"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.cmd(0, &["NACK", &s(&id)]);
    net.run_until_idle();
    for i in 0..3 {
        assert_eq!(
            show_field(&mut net, i, &id, "nacks"),
            Reply::Integer(1),
            "n{i}"
        );
    }
    // ENQUEUE of a dequeued job counts as an additional delivery.
    net.cmd(0, &["DEQUEUE", &s(&id)]);
    net.cmd(0, &["ENQUEUE", &s(&id)]);
    net.run_until_idle();
    for i in 0..3 {
        assert_eq!(
            show_field(&mut net, i, &id, "additional-deliveries"),
            Reply::Integer(1),
            "n{i}"
        );
    }
}

/// A holder that still has the job when another already acknowledged it gets
/// SETACK in answer to its WILLQUEUE or QUEUED, and drops its copy.
#[test]
fn willqueue_or_queued_to_an_acked_holder_gets_setack() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "2"]);
    // n2 never hears the acknowledgement.
    net.set_filter(Some(drop_to("SETACK", 2)));
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.cmd(0, &["ACKJOB", &s(&id)]);
    net.run_until_idle();
    assert_eq!(state(&net, 2, &id), Some(JobState::Active));
    net.set_filter(None);
    let mark = net.trace.len();
    // n2's retry timer fires: WILLQUEUE (or QUEUED) → SETACK back.
    net.advance(4_000);
    assert!(delivered(&net, mark, "SETACK").iter().any(|f| f.1 == 2));
    assert!(net
        .node(2)
        .job(&id)
        .is_none_or(|j| j.state() == JobState::Acked));
    net.advance(5_000);
    assert!(
        holders(&net, &id).is_empty(),
        "garbage collected everywhere"
    );
}
