//! Re-replication (decision D8, `disque_core::rereplication`): what triggers
//! it, which holder acts, what the new copies look like, what is never
//! re-replicated, its pace, its switch, and leaving nodes draining.

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_core::ids::JobId;
use disque_core::job::JobState;
use disque_proto::Reply;
use disque_sim::net::{message_jobs, FrameInfo, Verdict};
use disque_sim::{Crash, Net, NetConfig};
use std::collections::{BTreeMap, BTreeSet};

/// Of `nodes`, the one with the lowest node id.
fn lowest_id(net: &Net, nodes: &[usize]) -> usize {
    *nodes.iter().min_by_key(|i| net.id(**i)).expect("nodes")
}

/// Lets time pass until every node that is up and knows `victim` sees it as FAIL.
fn wait_fail(net: &mut Net, victim: usize) {
    let deadline = net.now + 30_000;
    loop {
        let mut all = true;
        for i in (0..net.len()).filter(|i| *i != victim) {
            if net.is_up(i) {
                let flags = flags_of(net, i, victim);
                all &= flags == "(unknown)" || flags.split(',').any(|f| f == "fail");
            }
        }
        if all {
            return;
        }
        assert!(net.now < deadline, "n{victim} never marked FAIL");
        net.advance(10);
    }
}

/// Lets time pass (at least 300 ms, a few ticks to notice a change; at most
/// `max_ms`) until no node that is up knows of an under-replicated job;
/// returns how long that took.
fn settle(net: &mut Net, max_ms: u64) -> u64 {
    let start = net.now;
    net.advance(300);
    while (0..net.len()).any(|i| {
        net.try_node(i)
            .is_some_and(|n| n.underreplicated_jobs() > 0)
    }) {
        assert!(
            net.now < start + max_ms,
            "still under-replicated after {max_ms} ms: {:?}",
            (0..net.len())
                .map(|i| net.try_node(i).map(|n| n.underreplicated_jobs()))
                .collect::<Vec<_>>()
        );
        net.advance(10);
    }
    net.now - start
}

/// `(sender, receiver, job)` of every frame named `name` put on the wire since `mark`.
fn frames_about(net: &Net, mark: usize, name: &str) -> Vec<(usize, usize, JobId)> {
    sent(net, mark, name)
        .into_iter()
        .flat_map(|(f, t, m)| message_jobs(&m).into_iter().map(move |id| (f, t, id)))
        .collect()
}

/// Nodes that sent REPLJOB or HASJOB about `id` since `mark`.
fn actors(net: &Net, mark: usize, id: &JobId) -> BTreeSet<usize> {
    ["REPLJOB", "HASJOB"]
        .iter()
        .flat_map(|name| frames_about(net, mark, name))
        .filter(|(_, _, j)| j == id)
        .map(|(f, _, _)| f)
        .collect()
}

/// Asserts the job's copies after a repair: exactly `repl` nodes that are up
/// hold it, one at most queued, the others active, and each of them lists
/// every one of them.
fn assert_repaired(net: &Net, id: &JobId, repl: usize) {
    let h = holders(net, id);
    assert_eq!(h.len(), repl, "holders {h:?}");
    let queued = queued_on(net, id);
    assert!(queued.len() <= 1, "queued on {queued:?}");
    for &i in &h {
        let state = state(net, i, id).unwrap();
        assert!(
            state == JobState::Active || queued.contains(&i),
            "n{i}: {state:?}"
        );
        let listed = delivered_to(net, i, id);
        assert!(
            h.iter().all(|j| listed.contains(j)),
            "n{i} lists {listed:?}, holders {h:?}"
        );
    }
}

/// The nodes-delivered of a SHOW reply, as node indexes.
fn show_holders(net: &mut Net, node: usize, id: &JobId) -> Vec<usize> {
    let Reply::Array(items) = show_field(net, node, id, "nodes-delivered") else {
        panic!("nodes-delivered is an array");
    };
    let mut v: Vec<usize> = items
        .iter()
        .map(|r| match r {
            Reply::Bulk(b) => {
                let id = disque_core::ids::NodeId::parse(b).expect("a node id");
                net.index_of(&id).expect("a node of the net")
            }
            other => panic!("{other:?}"),
        })
        .collect();
    v.sort();
    v
}

// ----- triggers ---------------------------------------------------------

/// A holder dies: nothing happens while it is only PFAIL (it may come back);
/// once it is marked FAIL the job is copied to the node that had none, and the
/// survivors count it as re-replicated.
#[test]
fn holder_marked_fail_triggers_a_new_copy() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let h = holders(&net, &id);
    let victim = *h.iter().find(|i| **i != 0).unwrap();
    let outsider = (0..4).find(|i| !h.contains(i)).unwrap();
    let mark = net.trace.len();
    net.crash(victim, Crash::Process);
    // PFAIL after the node timeout (2 s), FAIL a little later.
    net.advance(1_500);
    assert!(frames_about(&net, mark, "REPLJOB").is_empty());
    wait_fail(&mut net, victim);
    let took = settle(&mut net, 10_000);
    net.run_until_idle();
    assert!(took < 1_000, "repaired {took} ms after FAIL");
    assert!(state(&net, outsider, &id) == Some(JobState::Active));
    assert_repaired(&net, &id, 3);
    let counted: u64 = (0..4)
        .filter(|i| *i != victim)
        .map(|i| net.node(i).rereplicated_jobs())
        .sum();
    assert_eq!(counted, 1);
}

/// `CLUSTER FORGET` of a dead holder on every survivor is enough: the job is
/// topped up long before the node timeout (60 s) could mark it FAIL.
#[test]
fn forgetting_a_dead_holder_triggers_a_new_copy() {
    let mut net = cluster_with_timeout(4, 60_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let h = holders(&net, &id);
    let victim = *h.iter().find(|i| **i != 0).unwrap();
    net.crash(victim, Crash::Process);
    net.advance(1_000);
    assert_eq!(holders(&net, &id).len(), 2);
    let victim_id = net.id(victim);
    for i in (0..4).filter(|i| *i != victim) {
        assert_eq!(
            net.cmd(i, &["CLUSTER", "FORGET", victim_id.as_str()]),
            Reply::ok()
        );
    }
    settle(&mut net, 10_000);
    net.run_until_idle();
    assert_repaired(&net, &id, 3);
}

/// A holder that starts leaving no longer counts: the other holders make a
/// new copy, and the leaving node drops its own once `repl` others confirmed.
#[test]
fn a_leaving_holder_triggers_a_new_copy() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let h = holders(&net, &id);
    let leaver = *h.iter().find(|i| **i != 0).unwrap();
    let outsider = (0..4).find(|i| !h.contains(i)).unwrap();
    net.cmd(leaver, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(3_000);
    settle(&mut net, 10_000);
    net.run_until_idle();
    assert_eq!(state(&net, outsider, &id), Some(JobState::Active));
    assert_eq!(net.node(leaver).stats().registered_jobs, 0);
    assert_repaired(&net, &id, 3);
    assert_eq!(queued_on(&net, &id), vec![0]);
}

/// With nowhere to put a copy (every live node holds one) the job waits,
/// counted as under-replicated; when a new node joins, it gets the copy, from
/// the lowest survivor alone (the other one, whose fallback delay passed while
/// the job waited, waits its turn again).
#[test]
fn a_node_joining_gets_the_missing_copy() {
    let mut net = Net::new(NetConfig::new(4, 42));
    for i in 1..3 {
        net.cmd(i, &["CLUSTER", "MEET", "127.0.0.1", "7711"]);
    }
    net.advance(3_000);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    assert_eq!(holders(&net, &id), vec![0, 1, 2]);
    net.crash(2, Crash::Process);
    wait_fail(&mut net, 2);
    let mark = net.trace.len();
    net.advance(5_000);
    assert!(frames_about(&net, mark, "REPLJOB").is_empty());
    assert_eq!(net.node(0).underreplicated_jobs(), 1);
    assert_eq!(net.node(1).underreplicated_jobs(), 1);
    let joined = net.trace.len();
    net.cmd(3, &["CLUSTER", "MEET", "127.0.0.1", "7711"]);
    settle(&mut net, 10_000);
    net.run_until_idle();
    assert_eq!(state(&net, 3, &id), Some(JobState::Active));
    assert_repaired(&net, &id, 3);
    // The job is topped up once: by the lowest of the two survivors.
    assert_eq!(
        actors(&net, joined, &id),
        BTreeSet::from([lowest_id(&net, &[0, 1])])
    );
}

/// A holder that restarts without its AOF announces it: the others strip it
/// from the job's holders at once (it must not count as a copy it lacks) and
/// top the job up, to it or to another node.
#[test]
fn a_node_back_empty_is_struck_off_and_topped_up() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let h = holders(&net, &id);
    let victim = *h.iter().find(|i| **i != 0).unwrap();
    let mark = net.trace.len();
    net.crash(victim, Crash::Disk);
    net.restart(victim);
    assert!(net.node(victim).job(&id).is_none());
    // EMPTIED is the first thing it says on each link; the others drop it
    // from the holder list as soon as it arrives.
    while delivered(&net, mark, "EMPTIED").len() < 3 {
        net.advance(1);
    }
    for i in h.iter().filter(|i| **i != victim) {
        assert!(
            !delivered_to(&net, *i, &id).contains(&victim),
            "n{i} still counts n{victim}"
        );
    }
    settle(&mut net, 5_000);
    net.run_until_idle();
    assert_repaired(&net, &id, 3);
    // Whoever lists a node holds the job.
    for i in holders(&net, &id) {
        for j in delivered_to(&net, i, &id) {
            assert!(net.node(j).job(&id).is_some(), "n{i} lists n{j}");
        }
    }
}

/// A holder list sent before its sender heard that a node came back empty
/// (here a HOLDERS announcement, delayed) must not list that node again where
/// the announcement already arrived: otherwise, once the other holder dies,
/// the last one counts the emptied node as a copy and the job is left with one.
#[test]
fn a_stale_holder_list_does_not_bring_back_an_emptied_node() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "60"]);
    let h = holders(&net, &id);
    let (emptied, actor) = (h[1], h[0]);
    net.crash(emptied, Crash::Disk);
    // Every HOLDERS takes a second to arrive.
    net.set_filter(Some(Box::new(|f: &FrameInfo| {
        if f.frame.message.name() == "HOLDERS" {
            Verdict::Delay(1_000)
        } else {
            Verdict::Pass
        }
    })));
    let mark = net.trace.len();
    while sent(&net, mark, "HOLDERS").is_empty() {
        assert!(net.step(net.now + 10_000), "no announcement");
    }
    let fresh = holders(&net, &id)
        .into_iter()
        .find(|i| *i != actor)
        .expect("a new copy");
    // The actor announced [actor, emptied, fresh]; the node comes back empty
    // and tells everyone before the announcement arrives.
    net.restart(emptied);
    net.advance(3_000);
    net.set_filter(None);
    assert!(!delivered_to(&net, fresh, &id).contains(&emptied));
    assert!(!delivered_to(&net, actor, &id).contains(&emptied));
    // The actor dies: the new holder alone must see the job needs a copy.
    net.crash(actor, Crash::Process);
    wait_fail(&mut net, actor);
    settle(&mut net, 10_000);
    net.run_until_idle();
    let live: Vec<usize> = holders(&net, &id);
    assert_eq!(live.len(), 2, "held by {live:?}");
}

// ----- who acts -----------------------------------------------------------

/// One node dies among five; every job that had a copy there is topped up by
/// exactly one node, the surviving holder with the lowest id, and by no one
/// else (the others wait their turn and then see it done).
#[test]
fn the_lowest_live_holder_acts_alone() {
    let mut net = cluster(5);
    let jobs: Vec<JobId> = (0..40)
        .map(|k| add(&mut net, k % 5, "q", &["REPLICATE", "3", "RETRY", "60"]))
        .collect();
    let victim = 2;
    let lost: Vec<JobId> = jobs
        .iter()
        .filter(|id| net.node(victim).job(id).is_some())
        .copied()
        .collect();
    assert!(lost.len() > 10);
    let before: BTreeMap<JobId, Vec<usize>> =
        lost.iter().map(|id| (*id, holders(&net, id))).collect();
    let mark = net.trace.len();
    net.crash(victim, Crash::Process);
    wait_fail(&mut net, victim);
    settle(&mut net, 5_000);
    // Past every fallback delay.
    net.advance(10_000);
    for id in &lost {
        let survivors: Vec<usize> = before[id]
            .iter()
            .copied()
            .filter(|i| *i != victim)
            .collect();
        let expected = lowest_id(&net, &survivors);
        assert_eq!(actors(&net, mark, id), BTreeSet::from([expected]));
        assert_repaired(&net, id, 3);
    }
    for id in jobs.iter().filter(|id| !lost.contains(id)) {
        assert!(actors(&net, mark, id).is_empty());
    }
    let counted: u64 = (0..5)
        .filter(|i| *i != victim)
        .map(|i| net.node(i).rereplicated_jobs())
        .sum();
    assert_eq!(counted, lost.len() as u64);
}

/// If the lowest live holder lost its copy without the others knowing (it
/// crashed and came back without its AOF, and its EMPTIED announcement to
/// them was lost), the next holder steps in after its fallback delay (3 s).
#[test]
fn the_next_holder_steps_in_when_the_lowest_cannot() {
    let mut net = cluster(5);
    let id = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let h = holders(&net, &id);
    let lowest = lowest_id(&net, &h);
    let victim = *h
        .iter()
        .find(|i| **i != lowest && **i != 0)
        .unwrap_or(h.iter().find(|i| **i != lowest).unwrap());
    let second = lowest_id(
        &net,
        &h.iter()
            .copied()
            .filter(|i| *i != lowest && *i != victim)
            .collect::<Vec<_>>(),
    );
    // The lowest holder loses its copy and stays quiet about it.
    net.set_filter(Some(drop_from("EMPTIED", lowest)));
    net.crash(lowest, Crash::Disk);
    net.restart(lowest);
    net.advance(1_000);
    let mark = net.trace.len();
    net.crash(victim, Crash::Process);
    wait_fail(&mut net, victim);
    let failed_at = net.now;
    settle(&mut net, 10_000);
    net.run_until_idle();
    let acted = actors(&net, mark, &id);
    assert!(acted.contains(&second), "acted: {acted:?}");
    assert!(net.now - failed_at >= 2_900, "the fallback waited");
    assert!(holders(&net, &id).len() >= 3);
}

// ----- how ----------------------------------------------------------------

/// A new copy is an active replica with the job's counters, RETRY, TTL, DELAY
/// and creation time; the queued copy stays the only queued one; SHOW on every
/// holder lists the new holder set.
#[test]
fn new_copies_keep_the_job_and_are_active() {
    let mut net = cluster(4);
    let lowest = lowest_id(&net, &[0, 1, 2, 3]);
    let id = add(
        &mut net,
        lowest,
        "q",
        &["REPLICATE", "3", "RETRY", "1", "TTL", "100"],
    );
    // One NACK, one requeue after RETRY: every holder has the counters.
    let r = net.cmd(lowest, &["GETJOB", "NOHANG", "FROM", "q"]);
    assert!(matches!(r, Reply::Array(_)));
    net.cmd(lowest, &["NACK", &s(&id)]);
    net.run_until_idle();
    net.cmd(lowest, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.advance(2_000);
    net.run_until_idle();
    let h = holders(&net, &id);
    let original = net.node(lowest).job(&id).unwrap().clone();
    assert!(original.nacks() >= 1 && original.additional_deliveries() >= 1);
    let victim = *h
        .iter()
        .find(|i| **i != lowest && state(&net, **i, &id) == Some(JobState::Active))
        .unwrap();
    let outsider = (0..4).find(|i| !h.contains(i)).unwrap();
    net.advance(30_000);
    net.crash(victim, Crash::Process);
    wait_fail(&mut net, victim);
    settle(&mut net, 10_000);
    net.run_until_idle();
    let actor = net.node(lowest).job(&id).unwrap().clone();
    let copy = net.node(outsider).job(&id).unwrap().clone();
    assert_eq!(copy.state(), JobState::Active);
    assert_eq!(queued_on(&net, &id).len(), 1);
    assert_eq!(
        (copy.nacks(), copy.additional_deliveries()),
        (actor.nacks(), actor.additional_deliveries())
    );
    assert!(copy.nacks() >= 1 && copy.additional_deliveries() >= 1);
    assert_eq!(
        (copy.retry(), copy.delay(), copy.ctime(), copy.repl()),
        (1, 0, original.ctime(), 3)
    );
    assert!(copy.etime().abs_diff(original.etime()) <= 1, "TTL kept");
    assert_eq!(copy.body(), original.body());
    assert_eq!(copy.queue(), original.queue());
    let expected: Vec<usize> = {
        let mut v: Vec<usize> = h.iter().copied().chain([outsider]).collect();
        v.sort();
        v
    };
    for i in holders(&net, &id) {
        assert_eq!(show_holders(&mut net, i, &id), expected, "SHOW on n{i}");
    }
}

/// D-04 with D8 (docs/behaviour-scenarios.md §D): after N1 (the origin) is marked
/// failed, SHOW on a surviving holder lists a new holder in nodes-delivered,
/// which holds an active copy. In a three-node cluster there is no node left
/// to take it: the job stays under-replicated, counted in
/// `underreplicated_jobs`, until one comes.
#[test]
fn d04_show_lists_the_new_holder() {
    let mut net = cluster(4);
    let id = add(&mut net, 0, "f3", &["RETRY", "2"]);
    let h = holders(&net, &id);
    assert_eq!(h.len(), 3);
    let survivor = h[1];
    let outsider = (0..4).find(|i| !h.contains(i)).unwrap();
    net.crash(0, Crash::Process);
    wait_fail(&mut net, 0);
    settle(&mut net, 10_000);
    net.run_until_idle();
    let listed = show_holders(&mut net, survivor, &id);
    assert!(listed.contains(&outsider), "SHOW lists {listed:?}");
    assert_eq!(state(&net, outsider, &id), Some(JobState::Active));

    let mut net = cluster(3);
    let id = add(&mut net, 0, "f3", &["RETRY", "2"]);
    net.crash(0, Crash::Process);
    wait_fail(&mut net, 0);
    net.advance(5_000);
    assert_eq!(show_holders(&mut net, 1, &id), vec![0, 1, 2]);
    assert_eq!(holders(&net, &id), vec![1, 2]);
    assert_eq!(net.node(1).underreplicated_jobs(), 1);
    assert_eq!(net.node(2).underreplicated_jobs(), 1);
}

// ----- never --------------------------------------------------------------

/// Acked jobs, jobs past their TTL and dummy ACKs are never copied again,
/// although their origin died and two nodes could take a copy; a job added
/// alongside them is. (At-most-once jobs: see the leaving node's drain.)
#[test]
fn acked_expired_at_most_once_and_dummy_acks_are_left_alone() {
    let mut net = cluster_with_timeout(5, 3_000);
    let opts = |retry: &'static str| vec!["REPLICATE", "3", "RETRY", retry];
    let acked = add(&mut net, 0, "q", &opts("60"));
    let mut short = opts("1");
    short.extend(["TTL", "2"]);
    let expiring = add(&mut net, 0, "q", &short);
    let control = add(&mut net, 0, "q", &opts("60"));
    let mark = net.trace.len();
    net.crash(0, Crash::Process);
    // The ack cannot be collected while a holder is down: the acked records stay.
    let acker = holders(&net, &acked)[0];
    net.cmd(acker, &["ACKJOB", &s(&acked)]);
    let dummy = JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0005").unwrap();
    net.cmd(1, &["ACKJOB", &s(&dummy)]);
    net.run_until_idle();
    wait_fail(&mut net, 0);
    settle(&mut net, 10_000);
    net.advance(10_000);
    assert_eq!(state(&net, acker, &acked), Some(JobState::Acked));
    assert!(net.node(1).job(&dummy).is_some(), "the dummy ACK stays");
    assert!(holders(&net, &expiring).is_empty());
    let touched: BTreeSet<JobId> = ["REPLJOB", "HASJOB", "HOLDERS"]
        .iter()
        .flat_map(|n| frames_about(&net, mark, n))
        .map(|(_, _, id)| id)
        .collect();
    assert!(touched.contains(&control));
    assert_repaired(&net, &control, 3);
    for id in [acked, expiring, dummy] {
        assert!(!touched.contains(&id), "{} re-replicated", s(&id));
    }
}

/// An at-most-once job (RETRY 0, hence REPLICATE 1) stays on a leaving node:
/// a copy elsewhere could be delivered a second time. A REPLICATE 1 job with
/// RETRY moves away (queued on its new holder).
#[test]
fn at_most_once_jobs_are_not_drained() {
    let mut net = cluster(3);
    let once = add(&mut net, 0, "q", &["REPLICATE", "1", "RETRY", "0"]);
    let moved = add(&mut net, 0, "q", &["REPLICATE", "1", "RETRY", "60"]);
    let mark = net.trace.len();
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(2_000);
    settle(&mut net, 10_000);
    net.run_until_idle();
    assert_eq!(holders(&net, &once), vec![0]);
    assert_eq!(state(&net, 0, &once), Some(JobState::Queued));
    assert!(!frames_about(&net, mark, "REPLJOB")
        .iter()
        .any(|(_, _, id)| *id == once));
    let h = holders(&net, &moved);
    assert_eq!(h.len(), 1);
    assert_ne!(h[0], 0);
    assert_eq!(queued_on(&net, &moved), h);
}

// ----- pace ---------------------------------------------------------------

/// 5,000 jobs on 5 nodes, all added on the node with the lowest id (so it acts
/// for every one of them); two other nodes die at once and are forgotten.
/// The repair comes in batches of at most 1,000 jobs per tick, jobs left with
/// one copy before jobs left with two, and ends with every job at 3 copies.
#[test]
fn a_large_loss_is_repaired_in_bounded_batches_fewest_copies_first() {
    let mut net = cluster_with_timeout(5, 60_000);
    let lowest = lowest_id(&net, &[0, 1, 2, 3, 4]);
    let jobs: Vec<JobId> = (0..5_000)
        .map(|_| add(&mut net, lowest, "q", &["REPLICATE", "3", "RETRY", "300"]))
        .collect();
    let others: Vec<usize> = (0..5).filter(|i| *i != lowest).collect();
    let (x, y) = (others[0], others[1]);
    let live_after = |net: &Net, id: &JobId| {
        let h = holders(net, id);
        h.iter().filter(|i| **i != x && **i != y).count()
    };
    let one_left: BTreeSet<JobId> = jobs
        .iter()
        .filter(|id| live_after(&net, id) == 1)
        .copied()
        .collect();
    let two_left: BTreeSet<JobId> = jobs
        .iter()
        .filter(|id| live_after(&net, id) == 2)
        .copied()
        .collect();
    assert!(one_left.len() > 200 && two_left.len() > 1_000);
    let mark = net.trace.len();
    net.crash(x, Crash::Process);
    net.crash(y, Crash::Process);
    for victim in [x, y] {
        let name = net.id(victim);
        for i in (0..5).filter(|i| *i != x && *i != y) {
            net.cmd(i, &["CLUSTER", "FORGET", name.as_str()]);
        }
    }
    let took = settle(&mut net, 30_000);
    net.run_until_idle();
    // Rounds started per tick: distinct jobs in the REPLJOBs sent at one instant.
    let mut per_tick: BTreeMap<u64, BTreeSet<JobId>> = BTreeMap::new();
    let mut order: Vec<JobId> = Vec::new();
    for e in &net.trace.entries[mark..] {
        if let disque_sim::trace::TraceKind::Frame {
            from,
            fate: disque_sim::trace::Fate::Sent,
            message: m @ Message::ReplJob { .. },
            ..
        } = &e.kind
        {
            assert_eq!(*from, lowest, "only the lowest holder acts");
            for id in message_jobs(m) {
                if per_tick.entry(e.at).or_default().insert(id) && !order.contains(&id) {
                    order.push(id);
                }
            }
        }
    }
    let biggest = per_tick.values().map(BTreeSet::len).max().unwrap();
    assert!(biggest <= 1_000, "{biggest} rounds in one tick");
    assert!(per_tick.len() >= 4, "{} ticks", per_tick.len());
    // Every job with one copy left started before any with two.
    let last_one = order.iter().rposition(|id| one_left.contains(id)).unwrap();
    let first_two = order.iter().position(|id| two_left.contains(id)).unwrap();
    assert!(last_one < first_two, "{last_one} >= {first_two}");
    assert_eq!(order.len(), one_left.len() + two_left.len());
    eprintln!(
        "{} jobs repaired in {took} ms, {} ticks, at most {biggest} per tick",
        order.len(),
        per_tick.len()
    );
    for id in &jobs {
        assert_eq!(holders(&net, id).len(), 3);
    }
    assert_eq!(net.node(lowest).rereplicated_jobs(), order.len() as u64);
}

// ----- switch -------------------------------------------------------------

/// With `rereplicate no` everywhere, the original behaviour: a failed holder's
/// copy is never replaced, a node back without its AOF says nothing, and no
/// node counts a job as under-replicated.
#[test]
fn rereplicate_no_keeps_the_original_behaviour() {
    let mut net = cluster(5);
    for i in 0..5 {
        net.node_mut(i).config_mut().rereplicate = false;
    }
    let jobs: Vec<JobId> = (0..10)
        .map(|k| add(&mut net, k % 5, "q", &["REPLICATE", "3", "RETRY", "60"]))
        .collect();
    let mark = net.trace.len();
    net.crash(1, Crash::Process);
    wait_fail(&mut net, 1);
    net.crash(2, Crash::Disk);
    net.restart(2);
    net.node_mut(2).config_mut().rereplicate = false;
    net.advance(20_000);
    for name in ["REPLJOB", "HASJOB", "HOLDERS", "EMPTIED"] {
        assert!(sent(&net, mark, name).is_empty(), "{name} sent");
    }
    for id in &jobs {
        assert!(holders(&net, id).len() <= 3);
    }
    for i in [0, 2, 3, 4] {
        assert_eq!(net.node(i).underreplicated_jobs(), 0);
        assert_eq!(net.node(i).rereplicated_jobs(), 0);
    }
}

// ----- leaving ------------------------------------------------------------

/// A node that leaves is drained: every job it held (queued or active,
/// REPLICATE 1 to 3) ends with `repl` copies on other nodes and exactly one
/// queued copy when it was queued, and the leaving node holds nothing. Every
/// job can still be fetched elsewhere.
#[test]
fn a_leaving_node_is_drained_to_zero() {
    let mut net = cluster(4);
    let leaver = 1;
    let mut jobs = Vec::new();
    for k in 0..30 {
        let repl = (k % 3 + 1).to_string();
        let node = if k % 2 == 0 { leaver } else { k % 4 };
        let id = add(&mut net, node, "q", &["REPLICATE", &repl, "RETRY", "300"]);
        jobs.push((id, k % 3 + 1));
    }
    let held = net.node(leaver).stats().registered_jobs;
    assert!(held >= 15);
    net.cmd(leaver, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(2_000);
    settle(&mut net, 30_000);
    net.run_until_idle();
    assert_eq!(net.node(leaver).stats().registered_jobs, 0);
    assert_eq!(net.node(leaver).underreplicated_jobs(), 0);
    for (id, repl) in &jobs {
        let h = holders(&net, id);
        assert!(h.len() >= *repl, "{}: {h:?} for REPLICATE {repl}", s(id));
        assert!(
            queued_on(&net, id).len() == 1,
            "{}: queued on {:?}",
            s(id),
            queued_on(&net, id)
        );
    }
    // A consumer elsewhere gets them all.
    let mut got = BTreeSet::new();
    for i in [0, 2, 3] {
        while let Reply::Array(items) =
            net.cmd(i, &["GETJOB", "NOHANG", "COUNT", "100", "FROM", "q"])
        {
            for item in items {
                if let Reply::Array(parts) = item {
                    if let Reply::Bulk(b) = &parts[1] {
                        got.insert(JobId::parse(b).unwrap());
                    }
                }
            }
        }
    }
    assert_eq!(got.len(), jobs.len());
}

// ----- the counter ----------------------------------------------------------

/// `underreplicated_jobs` counts a job only while it needs copies: a holder
/// that comes back with its copy ends it, and so does an ACK while no node
/// could take a copy.
#[test]
fn underreplicated_jobs_counts_only_jobs_that_need_copies() {
    let mut net = cluster(3);
    let back = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    let acked = add(&mut net, 0, "q", &["REPLICATE", "3", "RETRY", "60"]);
    net.crash(2, Crash::Process);
    wait_fail(&mut net, 2);
    net.advance(5_000);
    assert_eq!(net.node(0).underreplicated_jobs(), 2);
    assert_eq!(net.node(1).underreplicated_jobs(), 2);
    net.cmd(0, &["ACKJOB", &s(&acked)]);
    net.run_until_idle();
    assert_eq!(net.node(0).underreplicated_jobs(), 1);
    assert_eq!(net.node(1).underreplicated_jobs(), 1);
    net.restart(2);
    assert_eq!(state(&net, 2, &back), Some(JobState::Active));
    settle(&mut net, 5_000);
    for i in 0..3 {
        assert_eq!(net.node(i).rereplicated_jobs(), 0, "n{i}");
    }
}
