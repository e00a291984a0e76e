//! Job replication (docs/cluster.md §6): synchronous ADDJOB, its timeout and
//! cleanup, the 50 ms add-a-node retry, the NOREPL errors, ASYNC, REPLJOB
//! refusals, and external replication with ENQUEUE (decision D3).

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_core::job::JobState;
use disque_proto::Reply;
use disque_sim::net::{FrameInfo, Verdict};
use disque_sim::Crash;

/// ADDJOB REPLICATE 3 answers only once two other nodes confirmed with GOTJOB;
/// the origin queues its copy, the replicas keep theirs active, and every
/// copy lists the three holders.
#[test]
fn synchronous_replication_success() {
    let mut net = cluster(3);
    let mark = net.trace.len();
    let c = net.client();
    let blocked = net.cmd_as(0, c, &["ADDJOB", "q", "body", "5000", "REPLICATE", "3"]);
    assert!(blocked.is_none(), "the client waits for the copies");
    let id = {
        net.run_until_idle();
        job_id(&net.take_reply(0, c).expect("replied once replicated"))
    };
    assert_eq!(delivered(&net, mark, "REPLJOB").len(), 2);
    assert_eq!(delivered(&net, mark, "GOTJOB").len(), 2);
    assert_eq!(state(&net, 0, &id), Some(JobState::Queued));
    assert_eq!(state(&net, 1, &id), Some(JobState::Active));
    assert_eq!(state(&net, 2, &id), Some(JobState::Active));
    for i in 0..3 {
        assert_eq!(delivered_to(&net, i, &id), vec![0, 1, 2]);
    }
    // The default REPLICATE is min(3, cluster size).
    let id2 = add(&mut net, 1, "q", &[]);
    assert_eq!(holders(&net, &id2), vec![0, 1, 2]);
}

/// A synchronous ADDJOB that cannot get its confirmations in time answers
/// `-NOREPL Timeout reached ...` and deletes every copy with DELJOB.
#[test]
fn replication_timeout_deletes_every_copy() {
    let mut net = cluster(3);
    net.set_filter(Some(drop_from("GOTJOB", 2)));
    let mark = net.trace.len();
    let c = net.client();
    assert!(net
        .cmd_as(0, c, &["ADDJOB", "q", "body", "500", "REPLICATE", "3"])
        .is_none());
    net.advance(300);
    let id = disque_core::ids::JobId::parse(match &delivered(&net, mark, "REPLJOB")[0].2 {
        Message::ReplJob { job, .. } => job.get(4..44).unwrap(),
        _ => unreachable!(),
    })
    .unwrap();
    assert_eq!(holders(&net, &id), vec![0, 1, 2]);
    assert_eq!(state(&net, 0, &id), Some(JobState::WaitRepl));
    let r = net.wait_reply(0, c, 1_000).expect("timeout reply");
    assert_eq!(
        err_text(&r),
        "NOREPL Timeout reached before replicating to the requested number of nodes"
    );
    net.run_until_idle();
    let deljobs = delivered(&net, mark, "DELJOB");
    assert!(deljobs.iter().any(|d| d.1 == 1) && deljobs.iter().any(|d| d.1 == 2));
    assert!(holders(&net, &id).is_empty());
    assert_eq!(net.node(0).stats().blocked_clients, 0);
}

/// The client going away while its ADDJOB waits deletes the job cluster-wide.
#[test]
fn client_gone_during_replication_deletes_every_copy() {
    let mut net = cluster(3);
    net.set_filter(Some(drop_from("GOTJOB", 2)));
    let c = net.client();
    assert!(net
        .cmd_as(0, c, &["ADDJOB", "q", "body", "0", "REPLICATE", "3"])
        .is_none());
    net.advance(100);
    assert_eq!(net.node(1).stats().registered_jobs, 1);
    net.client_gone(0, c);
    net.run_until_idle();
    for i in 0..3 {
        assert_eq!(net.node(i).stats().registered_jobs, 0, "n{i}");
    }
}

/// While waiting, the origin adds one more node every ≥ 50 ms (and re-sends
/// REPLJOB to the unconfirmed ones), so a silent node is worked around; the
/// job may end up on more nodes than REPLICATE.
#[test]
fn add_a_node_every_50_ms_until_replicated() {
    let mut net = cluster(5);
    // n1, n2 and n3 never store anything; only n4 answers.
    net.set_filter(Some(Box::new(|f: &FrameInfo| {
        if matches!(f.frame.message, Message::ReplJob { .. }) && (1..=3).contains(&f.to) {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })));
    let mark = net.trace.len();
    let start = net.now;
    let id = job_id(&net.call(0, &["ADDJOB", "q", "body", "5000", "REPLICATE", "2"]));
    let took = net.now - start;
    // New holders appear one at a time, at least 50 ms apart.
    let mut first_seen: Vec<(usize, u64)> = Vec::new();
    for e in &net.trace.entries[mark..] {
        if let disque_sim::trace::TraceKind::Frame {
            to,
            message: Message::ReplJob { .. },
            fate: disque_sim::trace::Fate::Sent | disque_sim::trace::Fate::Dropped(_),
            ..
        } = &e.kind
        {
            if !first_seen.iter().any(|(n, _)| n == to) {
                first_seen.push((*to, e.at));
            }
        }
    }
    let holders_now = delivered_to(&net, 0, &id);
    assert!(holders_now.contains(&4));
    assert_eq!(holders_now.len(), first_seen.len() + 1);
    for w in first_seen.windows(2) {
        assert!(w[1].1 - w[0].1 >= 50, "nodes added {:?}", first_seen);
    }
    assert!(took <= 50 * first_seen.len() as u64 + 100, "took {took} ms");
}

/// While an ADDJOB waits for a node that never answers, REPLJOB is re-sent at
/// the client-cron pace (the 50 ms rule, about 10 to 20 per second), not at
/// every loop turn.
#[test]
fn waiting_addjob_does_not_flood_repljob() {
    let mut net = cluster(3);
    net.set_filter(Some(drop_from("GOTJOB", 2)));
    let c = net.client();
    assert!(net
        .cmd_as(0, c, &["ADDJOB", "q", "body", "2000", "REPLICATE", "3"])
        .is_none());
    net.advance(100);
    let mark = net.trace.len();
    let wake = net.node(0).next_wakeup().unwrap();
    net.advance(1_000);
    let resent = sent(&net, mark, "REPLJOB").len();
    assert!(
        wake > net.now - 1_000 && resent <= 25,
        "next_wakeup {} ms in the past, {resent} REPLJOB in one second",
        (net.now - 1_000) as i64 - wake as i64
    );
}

/// The NOREPL errors: not enough reachable nodes, and the variants of a node
/// that cannot keep a copy itself (leaving, out of memory).
#[test]
fn norepl_errors() {
    let mut net = cluster(3);
    let r = net.cmd(0, &["ADDJOB", "q", "b", "0", "REPLICATE", "4"]);
    assert_eq!(
        err_text(&r),
        "NOREPL Not enough reachable nodes for the requested replication level"
    );
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    let r = net.cmd(0, &["ADDJOB", "q", "b", "0"]);
    assert_eq!(
        err_text(&r),
        "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm leaving the cluster"
    );
    net.cmd(0, &["CLUSTER", "LEAVING", "no"]);
    net.set_used_memory(0, (1 << 30) / 100 * 80);
    let r = net.cmd(0, &["ADDJOB", "q", "b", "0"]);
    assert_eq!(
        err_text(&r),
        "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm out of memory"
    );
}

/// A dead node stays "reachable" until PFAIL: an ADDJOB that needs it blocks
/// until its timeout; after PFAIL the reachability check refuses at once.
#[test]
fn dead_node_counts_as_reachable_until_pfail() {
    let mut net = cluster_with_timeout(3, 1_000);
    net.crash(2, Crash::Process);
    let c = net.client();
    assert!(net
        .cmd_as(0, c, &["ADDJOB", "q", "b", "300", "REPLICATE", "3"])
        .is_none());
    let r = net.wait_reply(0, c, 1_000).unwrap();
    assert!(err_text(&r).starts_with("NOREPL Timeout reached"));
    net.advance(2_000);
    let r = net.cmd(0, &["ADDJOB", "q", "b", "300", "REPLICATE", "3"]);
    assert_eq!(
        err_text(&r),
        "NOREPL Not enough reachable nodes for the requested replication level"
    );
    // The default REPLICATE still counts the failing node (cluster size 3).
    let r = net.cmd(0, &["ADDJOB", "q", "b", "300"]);
    assert!(err_text(&r).starts_with("NOREPL Not enough reachable nodes"));
}

/// A job that expires while waiting for its copies fails the ADDJOB with the
/// "job removed" error.
#[test]
fn job_removed_while_waiting() {
    let mut net = cluster(3);
    net.set_filter(Some(drop_from("GOTJOB", 2)));
    let c = net.client();
    assert!(net
        .cmd_as(
            0,
            c,
            &["ADDJOB", "q", "b", "0", "REPLICATE", "3", "TTL", "1"]
        )
        .is_none());
    let r = net.wait_reply(0, c, 5_000).expect("a reply");
    assert_eq!(
        err_text(&r),
        "NOREPL job removed (expired?) before the requested replication level was achieved"
    );
    net.run_until_idle();
    assert_eq!(net.node(1).stats().registered_jobs, 0);
}

/// ASYNC: the id comes back at once, the copies are sent with NOREPLY (no
/// GOTJOB), and the origin queues its copy.
#[test]
fn async_replication() {
    let mut net = cluster(3);
    let mark = net.trace.len();
    let r = net.cmd(0, &["ADDJOB", "q", "b", "0", "REPLICATE", "3", "ASYNC"]);
    let id = job_id(&r);
    net.run_until_idle();
    let repl = delivered(&net, mark, "REPLJOB");
    assert_eq!(repl.len(), 2);
    assert!(repl
        .iter()
        .all(|(_, _, m)| matches!(m, Message::ReplJob { no_reply: true, .. })));
    assert!(delivered(&net, mark, "GOTJOB").is_empty());
    assert_eq!(holders(&net, &id), vec![0, 1, 2]);
    assert_eq!(state(&net, 0, &id), Some(JobState::Queued));
}

/// REPLJOB is ignored (no GOTJOB) by a node under memory pressure and for a
/// queue paused in input there; a second REPLJOB of a known job only merges
/// the holder lists.
#[test]
fn repljob_refusals() {
    let mut net = cluster(3);
    net.set_used_memory(2, (1 << 30) / 100 * 80);
    net.cmd(1, &["PAUSE", "q", "in"]);
    let c = net.client();
    assert!(net
        .cmd_as(0, c, &["ADDJOB", "q", "b", "300", "REPLICATE", "2"])
        .is_none());
    net.advance(200);
    assert_eq!(net.node(1).stats().registered_jobs, 0);
    assert_eq!(net.node(2).stats().registered_jobs, 0);
    let r = net.wait_reply(0, c, 1_000).unwrap();
    assert!(err_text(&r).starts_with("NOREPL Timeout"));
}

/// External replication (leaving node): the origin keeps no copy; after the
/// confirmations it sends ENQUEUE to one holder, which queues the job.
#[test]
fn external_replication_enqueues_on_one_holder() {
    let mut net = cluster(4);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(2_000);
    let mark = net.trace.len();
    let id = job_id(&net.call(0, &["ADDJOB", "q", "b", "0", "REPLICATE", "2"]));
    net.run_until_idle();
    assert!(
        net.node(0).job(&id).is_none(),
        "the leaving node keeps no copy"
    );
    let h = holders(&net, &id);
    assert_eq!(h.len(), 2);
    let enq = delivered(&net, mark, "ENQUEUE");
    assert_eq!(enq.len(), 1);
    assert_eq!(queued_on(&net, &id), vec![enq[0].1]);
    // ASYNC too: ENQUEUE goes out at once.
    let id = job_id(&net.cmd(0, &["ADDJOB", "q", "b", "0", "REPLICATE", "2", "ASYNC"]));
    net.run_until_idle();
    assert!(net.node(0).job(&id).is_none());
    assert_eq!(queued_on(&net, &id).len(), 1);
}

/// Decision D3: an at-most-once job added on a leaving node is queued by the
/// first ENQUEUE, delivered once, and never queued again.
#[test]
fn d3_at_most_once_job_is_queued_by_enqueue() {
    let mut net = cluster(3);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(2_000);
    let id = job_id(&net.call(
        0,
        &["ADDJOB", "q", "b", "0", "REPLICATE", "1", "RETRY", "0"],
    ));
    net.run_until_idle();
    let q = queued_on(&net, &id);
    assert_eq!(q.len(), 1, "queued on the holder");
    let r = net.cmd(q[0], &["GETJOB", "NOHANG", "FROM", "q"]);
    assert!(matches!(r, Reply::Array(ref a) if a.len() == 1));
    // Even a second ENQUEUE (command or message) cannot queue it again.
    net.cmd(q[0], &["ENQUEUE", &s(&id)]);
    net.advance(5_000);
    assert!(queued_on(&net, &id).is_empty());
}

/// An ENQUEUE message is ignored for a queue paused in input; the replicas'
/// retry timers then queue the job.
#[test]
fn enqueue_message_respects_input_pause() {
    let mut net = cluster(3);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(2_000);
    let c = net.client();
    assert!(net
        .cmd_as(
            0,
            c,
            &["ADDJOB", "q", "b", "0", "REPLICATE", "2", "RETRY", "2"]
        )
        .is_none());
    // Pause the queue after the copies exist but before ENQUEUE arrives.
    net.set_filter(Some(Box::new(|f: &FrameInfo| {
        if f.frame.message.name() == "ENQUEUE" {
            Verdict::Delay(50)
        } else {
            Verdict::Pass
        }
    })));
    net.advance(10);
    let id = job_id(&net.take_reply(0, c).expect("replicated"));
    net.cmd(1, &["PAUSE", "q", "in"]);
    net.cmd(2, &["PAUSE", "q", "in"]);
    net.advance(100);
    assert!(
        queued_on(&net, &id).is_empty(),
        "ENQUEUE ignored while paused"
    );
    net.cmd(1, &["PAUSE", "q", "none"]);
    net.cmd(2, &["PAUSE", "q", "none"]);
    net.advance(3_000);
    assert_eq!(queued_on(&net, &id).len(), 1, "the retry timers queue it");
}

/// ACKJOB on the origin of a job still waiting for its copies acknowledges it
/// (the ADDJOB client then waits for its timeout, docs/jobs-and-ids.md §3), but the
/// origin must not keep replicating an acknowledged job: a REPLJOB arriving
/// after a replica collected its acked copy brings the job back to life
/// there (REPLJOB of an unknown id registers it active), and it is delivered
/// again after RETRY. The simulator found this with 0.1% message loss.
#[test]
fn acked_job_waiting_for_copies_is_not_replicated_again() {
    let mut net = cluster(3);
    // n2 stores copies but its GOTJOB never arrives, so the ADDJOB waits; and
    // n0 hears nothing back about the ack, so its acked record stays.
    net.set_filter(Some(Box::new(|f: &FrameInfo| {
        let name = f.frame.message.name();
        if (name == "GOTJOB" && f.from == 2)
            || (f.to == 0 && (name == "DELJOB" || name == "GOTACK"))
        {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })));
    let c = net.client();
    assert!(net
        .cmd_as(
            0,
            c,
            &["ADDJOB", "q", "b", "0", "REPLICATE", "3", "RETRY", "1"]
        )
        .is_none());
    net.advance(100);
    let id = net.job_ids(1)[0];
    assert_eq!(state(&net, 0, &id), Some(JobState::WaitRepl));
    // A consumer that got the id elsewhere acknowledges it on the origin.
    net.cmd(0, &["ACKJOB", &s(&id)]);
    assert_eq!(state(&net, 0, &id), Some(JobState::Acked));
    let mark = net.trace.len();
    net.advance(5_000);
    let resent = sent(&net, mark, "REPLJOB")
        .iter()
        .filter(|f| f.0 == 0)
        .count();
    let alive: Vec<usize> = (1..3)
        .filter(|i| {
            matches!(
                state(&net, *i, &id),
                Some(JobState::Active | JobState::Queued)
            )
        })
        .collect();
    assert!(
        resent == 0 && alive.is_empty(),
        "{resent} REPLJOB of the acked job sent in 5 s; alive again on {alive:?}"
    );
}

/// After a synchronous external replication the ENQUEUE goes to one of the
/// nodes that *confirmed* (docs/cluster.md §6.5), never to a holder that was sent a
/// copy but did not store it: here n1 refuses copies of `q` (paused in input)
/// and n2 stores them, so the at-most-once job must end up queued on n2
/// whatever the order in which the origin tried them.
#[test]
fn enqueue_goes_to_a_node_that_confirmed() {
    let mut tried_n1_first = false;
    for seed in 1..40 {
        let mut net = disque_sim::Net::cluster(disque_sim::NetConfig::new(3, seed));
        net.set_used_memory(0, (1 << 30) / 100 * 80);
        net.cmd(1, &["PAUSE", "q", "in"]);
        let mark = net.trace.len();
        let id = job_id(&net.call(
            0,
            &["ADDJOB", "q", "b", "0", "REPLICATE", "1", "RETRY", "0"],
        ));
        net.run_until_idle();
        let first = sent(&net, mark, "REPLJOB")[0].1;
        tried_n1_first |= first == 1;
        assert_eq!(
            queued_on(&net, &id),
            vec![2],
            "seed {seed}: REPLJOB first to n{first}, ENQUEUE to {:?}",
            sent(&net, mark, "ENQUEUE")
                .iter()
                .map(|f| f.1)
                .collect::<Vec<_>>()
        );
    }
    assert!(tried_n1_first, "some seed tried n1 first");
}

/// An external replication whose first copy's GOTJOB was lost takes a
/// second node; the first holder, out of reach when the origin sends the
/// holder list and forgets the job, is told it when its link is back, so an
/// ACKJOB there reaches the other copy (simulator seed 120452).
#[test]
fn a_holder_out_of_reach_of_the_external_holder_list_is_told_when_its_link_is_back() {
    let mut net = cluster_with_timeout(3, 1_000);
    net.set_used_memory(0, (1 << 30) / 100 * 80);
    // n2 out of reach: the first copy goes to n1, whose GOTJOB is lost.
    net.partition(&[&[0, 1], &[2]]);
    net.advance(3_000);
    net.set_filter(Some(drop_from("GOTJOB", 1)));
    let client = net.client();
    let words = ["ADDJOB", "q", "b", "20000", "REPLICATE", "1", "RETRY", "30"];
    assert!(net.cmd_as(0, client, &words).is_none(), "ADDJOB waits");
    net.advance(100);
    let id = job_in_flight(&mut net, 1);
    assert_eq!(
        holders(&net, &id),
        vec![0, 1],
        "n0's copy waits for its copies"
    );
    // Then n1 is out of reach long enough for n0's link to it to go, and
    // n2 back: n2 takes the second copy.
    net.set_filter(None);
    net.partition(&[&[0], &[1], &[2]]);
    net.advance(3_000);
    assert!(net.take_reply(0, client).is_none(), "ADDJOB still waits");
    net.partition(&[&[0, 2], &[1]]);
    let reply = net.wait_reply(0, client, 10_000).expect("ADDJOB answered");
    assert_eq!(job_id(&reply), id);
    assert!(net.node(0).job(&id).is_none(), "the origin keeps no copy");
    net.heal();
    net.advance(3_000);
    net.run_until_idle();
    let listed: Vec<_> = net
        .node(1)
        .job(&id)
        .expect("n1's copy")
        .nodes_delivered()
        .to_vec();
    assert!(listed.contains(&net.id(2)), "n1 learned of n2's copy");
    assert_eq!(int(&net.cmd(1, &["ACKJOB", &s(&id)])), 1);
    net.advance(3_000);
    net.run_until_idle();
    assert!(holders(&net, &id).is_empty(), "both copies collected");
}

/// The one job node `i` holds.
fn job_in_flight(net: &mut disque_sim::Net, i: usize) -> disque_core::ids::JobId {
    let ids = net.job_ids(i);
    assert_eq!(ids.len(), 1, "n{i} holds {ids:?}");
    ids[0]
}
