//! Decisions D16 (NACK DELAY), D17 (DEADLETTER) and D18 (PRIORITY) across
//! holders: NACKDELAY postpones every holder, a dead-letter move travels as
//! a QUEUED that moves the receiver's copy (and a copy received by YOURJOBS
//! or REPLJOB), a holder out of reach hears both when its link is back,
//! federation hands over the highest priorities first.

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_proto::Reply;
use disque_sim::net::Verdict;
use disque_sim::Crash;

/// The queue a node's copy of the job belongs to.
fn queue_of(net: &disque_sim::Net, node: usize, id: &disque_core::ids::JobId) -> Vec<u8> {
    net.node(node)
        .job(id)
        .unwrap()
        .queue()
        .as_ref()
        .unwrap()
        .to_vec()
}

/// A NACK DELAY on one holder reaches the others (NACKDELAY), which count the
/// NACK and wait: nobody queues the job before the delay ends, then one does.
#[test]
fn nack_delay_postpones_every_holder() {
    let mut net = cluster(3);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "2"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["NACK", "DELAY", "7", &s(&id)])), 1);
    let end = net.now + 7_000;
    net.run_until_idle();
    assert_eq!(delivered(&net, mark, "NACKDELAY").len(), 2);
    for n in 0..3 {
        assert_eq!(show_field(&mut net, n, &id, "nacks"), Reply::Integer(1));
    }
    while net.now < end {
        net.advance(10);
        assert!(
            net.now >= end || queued_on(&net, &id).is_empty(),
            "queued before the delay ended"
        );
    }
    net.advance(600);
    assert_eq!(
        queued_on(&net, &id),
        vec![0],
        "the NACKing node requeues it"
    );
    net.advance(200);
    for n in 0..3 {
        assert_eq!(
            show_field(&mut net, n, &id, "nacks"),
            Reply::Integer(1),
            "n{n} counted the NACK once"
        );
    }
}

/// The NACKing node dies right after the NACK DELAY: the other holders still
/// wait for the end of the delay, and one of them requeues the job after it.
#[test]
fn nack_delay_is_honoured_when_the_nacking_node_dies() {
    let mut net = cluster_with_timeout(3, 1_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "2"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.cmd(0, &["NACK", "DELAY", "8", &s(&id)]);
    let end = net.now + 8_000;
    net.run_until_idle();
    net.crash(0, Crash::Disk);
    let mut first = None;
    while first.is_none() {
        net.advance(10);
        let queued = queued_on(&net, &id);
        assert!(queued.len() <= 1, "queued on {queued:?}");
        if !queued.is_empty() {
            first = Some(net.now);
        }
        assert!(net.now < end + 20_000, "never requeued");
    }
    assert!(first.unwrap() > end, "requeued before the delay ended");
}

/// Two holders requeue a poison job at the same moment (the coordination
/// frames between them are late): both move it to the dead-letter queue,
/// the QUEUED each sends says so, and one copy stays queued, in `dlq`; the
/// original queue never holds it again.
#[test]
fn a_poison_job_reaches_the_dead_letter_queue_once_while_two_nodes_race() {
    let mut net = cluster_with_timeout(3, 60_000);
    let id = add(
        &mut net,
        0,
        "q",
        &["REPLICATE", "3", "RETRY", "2", "DEADLETTER", "dlq", "1"],
    );
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.crash(0, Crash::Process);
    net.set_filter(Some(Box::new(|f: &disque_sim::net::FrameInfo| {
        match f.frame.message.name() {
            "WILLQUEUE" | "QUEUED" => Verdict::Delay(1_500),
            _ => Verdict::Pass,
        }
    })));
    let mark = net.trace.len();
    let mut both = false;
    for _ in 0..600 {
        net.advance(10);
        both |= queued_on(&net, &id).len() == 2;
    }
    assert!(both, "the race happened: both queued it");
    net.set_filter(None);
    net.run_until_idle();
    net.advance(100);
    assert_eq!(queued_on(&net, &id).len(), 1, "one queued copy is left");
    for n in [1, 2] {
        assert_eq!(queue_of(&net, n, &id), b"dlq", "n{n} moved its copy");
        assert_eq!(int(&net.cmd(n, &["QLEN", "q"])), 0);
    }
    let moves = delivered(&net, mark, "QUEUED");
    assert!(moves.iter().any(|(_, _, m)| matches!(
        m,
        Message::Queued {
            dead_letter: true,
            ..
        }
    )));
    // Delivered from the dead-letter queue once; the original queue is empty.
    let got: usize = [1, 2]
        .iter()
        .map(
            |n| match net.cmd(*n, &["GETJOB", "NOHANG", "FROM", "dlq", "q"]) {
                Reply::Array(a) => a.len(),
                _ => 0,
            },
        )
        .sum();
    assert_eq!(got, 1);
}

/// A job of `q` added on n0 of a two-node `net` with REPLICATE 2, RETRY 30
/// and `DEADLETTER dlq <max>`.
fn add_poison(net: &mut disque_sim::Net, max: &str) -> disque_core::ids::JobId {
    add(
        net,
        0,
        "q",
        &["REPLICATE", "2", "RETRY", "30", "DEADLETTER", "dlq", max],
    )
}

/// True when a QUEUED telling of a dead-letter move reached node `to` from
/// node `from` since trace position `mark`.
fn move_told(net: &disque_sim::Net, mark: usize, from: usize, to: usize) -> bool {
    delivered(net, mark, "QUEUED").iter().any(|(f, t, m)| {
        (*f, *t) == (from, to)
            && matches!(
                m,
                Message::Queued {
                    dead_letter: true,
                    ..
                }
            )
    })
}

/// Two nodes holding a job of `q` with `DEADLETTER dlq 1`, delivered once on n0.
fn poison_delivered_on_n0() -> (disque_sim::Net, disque_core::ids::JobId) {
    let mut net = cluster(2);
    let id = add_poison(&mut net, "1");
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    (net, id)
}

/// A holder that requeues the job normally while another moves it: the
/// move's QUEUED moves the receiver's queued copy out of the original queue.
#[test]
fn a_dead_letter_move_takes_a_copy_queued_elsewhere_out_of_the_original_queue() {
    let (mut net, id) = poison_delivered_on_n0();
    // n1 queues its copy by hand (ENQUEUE is no requeue: no move).
    assert_eq!(int(&net.cmd(1, &["ENQUEUE", &s(&id)])), 1);
    net.run_until_idle();
    assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), 1);
    // A NACK on n0 moves the job there, and n1 hears of it.
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["NACK", &s(&id)])), 1);
    net.run_until_idle();
    assert!(move_told(&net, mark, 0, 1));
    assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), 0);
    assert_eq!(queue_of(&net, 1, &id), b"dlq");
    assert_eq!(queued_on(&net, &id).len(), 1);
}

/// Federation hands over the highest priorities first: a consumer on n1
/// waiting on `q` gets n0's priority 9 job, then 7, then the default one.
#[test]
fn federation_hands_over_the_highest_priority_first() {
    let mut net = cluster(2);
    let plain = add(&mut net, 0, "q", &["REPLICATE", "1"]);
    let high = add(&mut net, 0, "q", &["REPLICATE", "1", "PRIORITY", "9"]);
    let mid = add(&mut net, 0, "q", &["REPLICATE", "1", "PRIORITY", "7"]);
    let mut got = Vec::new();
    for _ in 0..3 {
        let c = net.client();
        // Served at once when an earlier import brought more than one job.
        let mut reply = net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "60000", "FROM", "q"]);
        for _ in 0..600 {
            if reply.is_some() {
                break;
            }
            net.advance(100);
            reply = net.take_reply(1, c);
        }
        let Some(Reply::Array(entries)) = reply else {
            panic!("not served")
        };
        let Reply::Array(entry) = &entries[0] else {
            panic!()
        };
        let Reply::Bulk(id) = &entry[1] else { panic!() };
        got.push(disque_core::ids::JobId::parse(id).unwrap());
    }
    assert_eq!(got, vec![high, mid, plain]);
    assert_eq!(
        show_field(&mut net, 1, &high, "priority"),
        Reply::Integer(9),
        "the priority travels with the job"
    );
}

/// A holder that missed the move's QUEUED gets the job through federation
/// from the dead-letter queue: it moves its own copy and queues it there,
/// not in the original queue.
#[test]
fn a_copy_imported_from_the_dead_letter_queue_moves_the_local_copy() {
    let (mut net, id) = poison_delivered_on_n0();
    net.set_filter(Some(drop_to("QUEUED", 1)));
    assert_eq!(int(&net.cmd(0, &["NACK", &s(&id)])), 1);
    net.run_until_idle();
    net.set_filter(None);
    assert_eq!(queue_of(&net, 1, &id), b"q", "n1 missed the move");
    let c = net.client();
    assert!(net
        .cmd_as(1, c, &["GETJOB", "TIMEOUT", "5000", "FROM", "dlq"])
        .is_none());
    net.run_until_idle();
    let Some(Reply::Array(entries)) = net.take_reply(1, c) else {
        panic!("served from the dead-letter queue")
    };
    let Reply::Array(entry) = &entries[0] else {
        panic!()
    };
    assert_eq!(entry[0], Reply::Bulk(bytes::Bytes::from_static(b"dlq")));
    assert_eq!(queue_of(&net, 1, &id), b"dlq");
    assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), 0);
}

/// Two nodes holding a job of `q` with `DEADLETTER dlq 2` that n0 delivered
/// twice and moved to `dlq` at its second NACK, while every QUEUED to n1 was
/// lost: n1 missed both NACKs (its count is short of the maximum, so its own
/// requeue would not move it) and the move. Its copy is still active in `q`.
fn move_missed_by_n1() -> (disque_sim::Net, disque_core::ids::JobId) {
    let mut net = cluster(2);
    let id = add_poison(&mut net, "2");
    net.set_filter(Some(drop_to("QUEUED", 1)));
    for _ in 0..2 {
        net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
        assert_eq!(int(&net.cmd(0, &["NACK", &s(&id)])), 1);
        net.run_until_idle();
    }
    net.set_filter(None);
    assert_eq!(queue_of(&net, 0, &id), b"dlq", "n0 moved it");
    assert_eq!(queue_of(&net, 1, &id), b"q", "n1 missed the move");
    (net, id)
}

/// A holder that missed the dead-letter move learns it from the next
/// requeue exchange (seed 40469): the QUEUED that answers its WILLQUEUE,
/// from the holder that has the job queued in the dead-letter queue, says so,
/// and its copy moves before its own requeue.
#[test]
fn the_answer_to_willqueue_carries_a_missed_dead_letter_move() {
    let (mut net, id) = move_missed_by_n1();
    let mark = net.trace.len();
    // Past n1's requeue time (RETRY 30 after its copy arrived).
    for _ in 0..3_200 {
        net.advance(10);
        assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), 0, "queued in q on n1");
    }
    net.run_until_idle();
    assert!(move_told(&net, mark, 0, 1), "n0's answer says it moved");
    assert_eq!(queue_of(&net, 1, &id), b"dlq", "n1 moved its copy");
    assert_eq!(queued_on(&net, &id), vec![0]);
}

/// A holder that missed the dead-letter move and requeues the job in the
/// original queue (the moved copy, delivered, does not answer its WILLQUEUE)
/// is told by the QUEUED it gets back: its copy leaves the original queue.
#[test]
fn a_requeue_in_the_original_queue_is_answered_with_the_dead_letter_move() {
    let (mut net, id) = move_missed_by_n1();
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "dlq"]);
    let mark = net.trace.len();
    net.advance(32_000);
    net.run_until_idle();
    assert!(
        sent(&net, mark, "QUEUED").iter().any(|(f, _, m)| *f == 1
            && matches!(
                m,
                Message::Queued {
                    dead_letter: false,
                    ..
                }
            )),
        "n1 requeued it in q"
    );
    assert_eq!(queue_of(&net, 1, &id), b"dlq", "n1 moved its copy");
    assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), 0);
    assert!(queued_on(&net, &id).is_empty(), "n0's consumer has it");
}

/// A holder that n0 has no link to when it moves the job to its dead-letter
/// queue (partitioned long enough for the link to go) is told as soon as
/// the link is back, long before its own requeue would tell it.
#[test]
fn a_holder_out_of_reach_at_the_dead_letter_move_is_told_when_its_link_is_back() {
    let mut net = cluster_with_timeout(2, 1_000);
    let id = add_poison(&mut net, "1");
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.partition(&[&[0], &[1]]);
    net.advance(3_000);
    assert_eq!(int(&net.cmd(0, &["NACK", &s(&id)])), 1);
    assert_eq!(queue_of(&net, 0, &id), b"dlq", "n0 moved it");
    net.advance(1_000);
    net.heal();
    net.advance(5_000);
    net.run_until_idle();
    assert_eq!(queue_of(&net, 1, &id), b"dlq", "n1 moved its copy");
    assert_eq!(queued_on(&net, &id), vec![0]);
}

/// A NACK DELAY on n0 while n0 has no link to the other holder (partitioned
/// long enough for the link to go): n1 is told (NACKDELAY) as soon as the
/// link is back, and waits for the end of the delay instead of requeueing
/// the job at its own RETRY time.
#[test]
fn a_holder_out_of_reach_at_the_nack_delay_is_told_when_its_link_is_back() {
    let mut net = cluster_with_timeout(2, 1_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "10"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.partition(&[&[0], &[1]]);
    net.advance(3_000);
    assert_eq!(int(&net.cmd(0, &["NACK", "DELAY", "30", &s(&id)])), 1);
    let end = net.now + 30_000;
    net.advance(1_000);
    net.heal();
    while net.now < end {
        net.advance(10);
        assert!(
            net.now >= end || queued_on(&net, &id).is_empty(),
            "queued on {:?} before the delay ended",
            queued_on(&net, &id)
        );
    }
    net.advance(600);
    assert_eq!(
        queued_on(&net, &id),
        vec![0],
        "the NACKing node requeues it"
    );
    assert_eq!(show_field(&mut net, 1, &id, "nacks"), Reply::Integer(1));
}

/// The ids of `from`'s outbound links to `to` (connecting or up).
fn links_to(net: &disque_sim::Net, from: usize, to: usize) -> Vec<u64> {
    (0..10_000)
        .filter(|l| net.node(from).link_peer(*l) == Some(net.id(to)))
        .collect()
}

/// True while `from`'s outbound link to `to` is connecting (it exists but is
/// not up), on a link id not in `old`.
fn connecting(net: &disque_sim::Net, from: usize, to: usize, old: &[u64]) -> bool {
    let peer = net.id(to);
    let down = net
        .node(from)
        .nodes_description()
        .lines()
        .any(|l| l.starts_with(peer.as_str()) && l.ends_with(" disconnected"));
    down && links_to(net, from, to).iter().any(|l| !old.contains(l))
}

/// A NACK DELAY sent while the link to the other holder is connecting waits
/// on that link and arrives when it is up: told once, so the NACK is counted
/// once there.
#[test]
fn a_nack_delay_sent_on_a_connecting_link_is_counted_once() {
    let mut net = cluster_with_timeout(2, 1_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "10"]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.partition(&[&[0], &[1]]);
    net.advance(3_000);
    net.heal();
    // Links take 5 ms to connect (and frames 5 ms to arrive).
    net.faults.min_delay_ms = 5;
    net.faults.max_delay_ms = 5;
    // Links opened during the partition fail; the next one connects.
    let old = links_to(&net, 0, 1);
    let mut tries = 0;
    while !connecting(&net, 0, 1, &old) {
        net.advance(1);
        tries += 1;
        assert!(tries < 5_000, "no new link from n0 to n1");
    }
    let mark = net.trace.len();
    assert_eq!(int(&net.cmd(0, &["NACK", "DELAY", "30", &s(&id)])), 1);
    net.advance(2_000);
    assert_eq!(delivered(&net, mark, "NACKDELAY").len(), 1);
    assert_eq!(show_field(&mut net, 1, &id, "nacks"), Reply::Integer(1));
}

/// A REPLJOB (here: re-replication after a holder failed) for a copy the
/// receiver holds, from a holder whose copy moved to the dead-letter queue,
/// moves the receiver's copy too, as YOURJOBS does: n0 moved the job, the
/// lower of the other two holders heard of it, the higher missed it, and
/// the REPLJOB the lower one sends when n0 fails tells it.
#[test]
fn a_repljob_from_a_holder_that_moved_the_job_moves_the_held_copy() {
    let mut net = cluster_with_timeout(4, 1_000);
    let id = add(
        &mut net,
        0,
        "q",
        &["REPLICATE", "3", "RETRY", "60", "DEADLETTER", "dlq", "1"],
    );
    let mut others: Vec<usize> = holders(&net, &id).into_iter().filter(|n| *n != 0).collect();
    others.sort_by_key(|n| net.id(*n));
    let (actor, missed) = (others[0], others[1]);
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.set_filter(Some(drop_to("QUEUED", missed)));
    assert_eq!(int(&net.cmd(0, &["NACK", &s(&id)])), 1);
    net.run_until_idle();
    net.set_filter(None);
    assert_eq!(
        queue_of(&net, actor, &id),
        b"dlq",
        "n{actor} moved its copy"
    );
    assert_eq!(
        queue_of(&net, missed, &id),
        b"q",
        "n{missed} missed the move"
    );
    let mark = net.trace.len();
    net.crash(0, Crash::Disk);
    // The check that n{missed} holds a copy gets no answer: the retry round
    // sends it the job (REPLJOB).
    net.set_filter(Some(drop_to("HASJOB", missed)));
    let sent_copy = |net: &disque_sim::Net| {
        delivered(net, mark, "REPLJOB")
            .iter()
            .any(|(f, t, _)| (*f, *t) == (actor, missed))
    };
    for _ in 0..2_000 {
        if sent_copy(&net) {
            break;
        }
        net.advance(10);
    }
    assert!(
        sent_copy(&net),
        "n{actor} re-replicated the job, and sent it to n{missed}"
    );
    assert_eq!(
        queue_of(&net, missed, &id),
        b"dlq",
        "n{missed} moved its copy"
    );
    assert_eq!(int(&net.cmd(missed, &["QLEN", "q"])), 0);
}

/// News for a holder that stays away, and is never forgotten, is kept only
/// for jobs still held: NACK DELAYs of jobs deleted since do not pile up.
#[test]
fn news_for_a_holder_that_stays_away_is_kept_only_for_jobs_still_held() {
    let mut net = cluster_with_timeout(2, 1_000);
    let mut ids: Vec<_> = (0..3_001)
        .map(|_| add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "100"]))
        .collect();
    let held = ids.pop().expect("added");
    net.cmd(0, &["GETJOB", "NOHANG", "COUNT", "3001", "FROM", "q"]);
    net.partition(&[&[0], &[1]]);
    net.advance(3_000);
    for id in &ids {
        assert_eq!(int(&net.cmd(0, &["NACK", "DELAY", "30", &s(id)])), 1);
        assert_eq!(int(&net.cmd(0, &["DELJOB", &s(id)])), 1);
    }
    let kept = net.node(0).untold_news_count();
    assert!(kept < 1_024, "{kept} news items kept for deleted jobs");
    // News for a job still held is kept.
    assert_eq!(int(&net.cmd(0, &["NACK", "DELAY", "30", &s(&held)])), 1);
    assert_eq!(net.node(0).untold_news_count(), kept + 1);
}
