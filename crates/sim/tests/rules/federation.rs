//! Federation (docs/cluster.md §9): NEEDJOBS and YOURJOBS, the broadcast and ad-hoc
//! back-offs, the import rate, the reached-zero rule, and decisions D1, D2,
//! D4 and D9.

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_core::job::JobState;
use disque_proto::Reply;
use disque_sim::{Crash, Net, NetConfig};

/// Time (ms since `start`) of every NEEDJOBS put on the wire by `from` since `mark`.
fn needjobs_times(net: &disque_sim::Net, mark: usize, from: usize, start: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    for e in &net.trace.entries[mark..] {
        if let disque_sim::trace::TraceKind::Frame {
            from: f,
            fate: disque_sim::trace::Fate::Sent,
            message: Message::NeedJobs { count, .. },
            ..
        } = &e.kind
        {
            if *f == from && out.last().is_none_or(|(t, _)| *t != e.at - start) {
                out.push((e.at - start, *count));
            }
        }
    }
    out
}

/// A consumer blocked on an empty queue makes its node broadcast NEEDJOBS
/// (count 1); a node with jobs answers YOURJOBS with one job, which is queued
/// on the asker and handed to the consumer. The source keeps its copy (active,
/// delivered) for RETRY > 0, and deletes it for RETRY 0.
#[test]
fn needjobs_and_yourjobs_move_a_job_to_a_waiting_consumer() {
    let mut net = cluster(2);
    let keep = add(&mut net, 0, "q", &["REPLICATE", "1", "RETRY", "30"]);
    let c = net.client();
    let mark = net.trace.len();
    assert!(net
        .cmd_as(1, c, &["GETJOB", "TIMEOUT", "5000", "FROM", "q"])
        .is_none());
    net.run_until_idle();
    let need = delivered(&net, mark, "NEEDJOBS");
    assert!(matches!(need[0].2, Message::NeedJobs { count: 1, .. }));
    assert_eq!(delivered(&net, mark, "YOURJOBS").len(), 1);
    let r = net.take_reply(1, c).expect("served by the import");
    assert!(matches!(r, Reply::Array(ref a) if a.len() == 1));
    assert_eq!(
        state(&net, 0, &keep),
        Some(JobState::Active),
        "the source keeps it"
    );
    let Reply::Array(stat) = net.cmd(0, &["QSTAT", "q"]) else {
        panic!()
    };
    let pos = stat
        .iter()
        .position(|r| matches!(r, Reply::Bulk(b) if &b[..] == b"jobs-out"))
        .unwrap();
    assert_eq!(stat[pos + 1], Reply::Integer(1));
    // At-most-once: moved, not copied.
    let once = add(&mut net, 0, "q2", &["REPLICATE", "1", "RETRY", "0"]);
    let c = net.client();
    assert!(net
        .cmd_as(1, c, &["GETJOB", "TIMEOUT", "5000", "FROM", "q2"])
        .is_none());
    net.run_until_idle();
    assert!(net.take_reply(1, c).is_some());
    assert!(net.node(0).job(&once).is_none(), "deleted on the source");
}

/// NEEDJOBS(count) hands over at most half the queue but at least one job,
/// and nothing when the queue is paused in output or imported here.
#[test]
fn needjobs_hands_over_half_the_queue() {
    let mut net = cluster(2);
    for _ in 0..10 {
        add(&mut net, 0, "q", &["REPLICATE", "1"]);
    }
    let mark = net.trace.len();
    // Let n1 ask with a count of 1 (broadcast): one job.
    net.cmd(1, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.run_until_idle();
    assert_eq!(int(&net.cmd(0, &["QLEN", "q"])), 9);
    // Paused in output: ignored.
    net.cmd(0, &["PAUSE", "q", "out"]);
    net.advance(5_000);
    net.cmd(1, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.run_until_idle();
    assert_eq!(int(&net.cmd(0, &["QLEN", "q"])), 9);
    let yours = delivered(&net, mark, "YOURJOBS");
    assert_eq!(yours.len(), 1);
    assert!(matches!(&yours[0].2, Message::YourJobs(j) if j.len() == 1));
}

/// Broadcast back-off: with nobody answering, NEEDJOBS broadcasts for a queue
/// a consumer waits on come at once, then after 4, 8, 16 s, then every 30 s.
#[test]
fn needjobs_broadcast_backoff() {
    let mut net = cluster(2);
    let mark = net.trace.len();
    let start = net.now;
    let c = net.client();
    assert!(net.cmd_as(1, c, &["GETJOB", "FROM", "empty"]).is_none());
    net.advance(100_000);
    let times: Vec<u64> = needjobs_times(&net, mark, 1, start)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    // Gaps of 4, 8, 16, 30, 30 s, each up to a cron period late.
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(times.first(), Some(&0));
    assert_eq!(gaps.len(), 5, "broadcasts at {times:?}");
    for (gap, want) in gaps.iter().zip([4_000u64, 8_000, 16_000, 30_000, 30_000]) {
        assert!((want..=want + 150).contains(gap), "broadcasts at {times:?}");
    }
}

/// With a known responder, a consumer that keeps waiting makes its node ask
/// the responder ad hoc, at 25 ms × 2^attempt intervals capped at 2 s, with
/// count 5 or more.
#[test]
fn needjobs_ad_hoc_backoff_to_responders() {
    let mut net = cluster(2);
    add(&mut net, 0, "q", &["REPLICATE", "1"]);
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "100", "FROM", "q"]);
    net.run_until_idle();
    assert!(
        net.take_reply(1, c).is_some(),
        "imported; n0 is now a responder"
    );
    let mark = net.trace.len();
    let start = net.now;
    let c = net.client();
    assert!(net.cmd_as(1, c, &["GETJOB", "FROM", "q"]).is_none());
    net.advance(4_500);
    let asks = needjobs_times(&net, mark, 1, start);
    let adhoc: Vec<u64> = asks
        .iter()
        .filter(|(_, c)| *c >= 5)
        .map(|(t, _)| *t)
        .collect();
    assert!(adhoc.len() >= 5, "ad-hoc asks at {adhoc:?}");
    let gaps: Vec<u64> = adhoc.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] + 100 >= g[0]),
        "growing gaps {gaps:?}"
    );
    assert!(gaps.iter().all(|g| *g <= 2_100), "capped at 2 s: {gaps:?}");
}

/// Import rate: jobs imported through YOURJOBS show in QSTAT `import-rate`,
/// which drops to 0 five seconds after the last import.
#[test]
fn import_rate_counts_imports() {
    let mut net = cluster(2);
    for _ in 0..6 {
        add(&mut net, 0, "q", &["REPLICATE", "1"]);
    }
    let field = |net: &mut disque_sim::Net| -> i64 {
        let Reply::Array(stat) = net.cmd(1, &["QSTAT", "q"]) else {
            return -1;
        };
        let pos = stat
            .iter()
            .position(|r| matches!(r, Reply::Bulk(b) if &b[..] == b"import-rate"))
            .unwrap();
        int(&stat[pos + 1])
    };
    for _ in 0..3 {
        let c = net.client();
        net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "1000", "FROM", "q"]);
        net.run_until_idle();
        net.advance(20);
    }
    assert!(field(&mut net) > 0);
    net.advance(5_200);
    assert_eq!(field(&mut net), 0);
}

/// Reached zero: when a fetch empties a queue whose import rate is positive,
/// the node asks its responders at once (ad hoc, count ≥ 5).
#[test]
fn reached_zero_asks_responders_at_once() {
    let mut net = cluster(2);
    for _ in 0..20 {
        add(&mut net, 0, "q", &["REPLICATE", "1"]);
    }
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "1000", "FROM", "q"]);
    net.run_until_idle();
    assert!(net.take_reply(1, c).is_some());
    // n1 imported; now the consumer empties n1's queue: an immediate NEEDJOBS.
    net.advance(20);
    while int(&net.cmd(1, &["QLEN", "q"])) > 1 {
        net.cmd(1, &["GETJOB", "NOHANG", "FROM", "q"]);
    }
    let mark = net.trace.len();
    let start = net.now;
    net.cmd(1, &["GETJOB", "NOHANG", "FROM", "q"]);
    let asks = needjobs_times(&net, mark, 1, start);
    assert_eq!(
        asks.first().map(|a| a.0),
        Some(0),
        "asked at once: {asks:?}"
    );
    assert!(asks[0].1 >= 5);
}

/// A node that imports a queue itself ignores NEEDJOBS for it (no ping-pong).
#[test]
fn importer_ignores_needjobs() {
    let mut net = cluster(3);
    for _ in 0..4 {
        add(&mut net, 0, "q", &["REPLICATE", "1"]);
    }
    // n1 imports (a consumer waits there), and keeps extra jobs.
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "1000", "FROM", "q"]);
    net.run_until_idle();
    add(&mut net, 1, "q", &["REPLICATE", "1"]);
    let before = int(&net.cmd(1, &["QLEN", "q"]));
    assert!(before >= 1);
    // n2 asks everyone: n0 answers, n1 does not.
    let mark = net.trace.len();
    net.cmd(2, &["GETJOB", "NOHANG", "FROM", "q"]);
    net.run_until_idle();
    assert!(delivered(&net, mark, "YOURJOBS").iter().all(|f| f.0 == 0));
    assert_eq!(int(&net.cmd(1, &["QLEN", "q"])), before);
}

/// The (queue, id, body) entries of a GETJOB reply.
fn job_entries(r: &Reply) -> Vec<(String, String, String)> {
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    };
    match r {
        Reply::Array(jobs) => jobs
            .iter()
            .map(|j| match j {
                Reply::Array(f) => (text(&f[0]), text(&f[1]), text(&f[2])),
                other => panic!("expected a job entry, got {other:?}"),
            })
            .collect(),
        other => panic!("expected jobs, got {other:?}"),
    }
}

/// The sum of QLEN `q` over the nodes that are up.
fn qlen_sum(net: &mut Net, q: &str) -> i64 {
    let up: Vec<usize> = (0..net.len()).filter(|i| net.is_up(*i)).collect();
    up.into_iter().map(|i| int(&net.cmd(i, &["QLEN", q]))).sum()
}

/// Lets time pass in 10 ms steps until `cond` holds; panics with `what` if
/// it still does not after `max_ms`.
fn eventually(net: &mut Net, max_ms: u64, what: &str, mut cond: impl FnMut(&mut Net) -> bool) {
    let deadline = net.now + max_ms;
    while !cond(net) {
        assert!(net.now < deadline, "not within {max_ms} ms: {what}");
        net.advance(10);
    }
}

/// Decision D1: a REPLICATE 1 job imported by another node and acknowledged
/// there reaches its source (SETACK), which deletes it; it is not delivered
/// again after RETRY.
#[test]
fn d1_ack_on_the_importer_reaches_the_source() {
    let mut net = cluster(2);
    let id = add(&mut net, 0, "q", &["REPLICATE", "1", "RETRY", "2"]);
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "1000", "FROM", "q"]);
    net.run_until_idle();
    assert!(net.take_reply(1, c).is_some());
    let mark = net.trace.len();
    net.cmd(1, &["ACKJOB", &s(&id)]);
    net.run_until_idle();
    assert!(delivered(&net, mark, "SETACK").iter().any(|f| f.1 == 0));
    net.advance(6_000);
    assert!(holders(&net, &id).is_empty());
    assert_eq!(int(&net.cmd(0, &["QLEN", "q"])), 0);
}

/// Decision D1 on three nodes (the scenario the end-to-end suite ran on
/// processes): a job of REPLICATE 1 or 2 imported through federation and
/// acknowledged on the importing node is deleted on every node, the source
/// included, and is never queued again.
#[test]
fn d1_ack_of_a_federated_job_reaches_the_source_on_three_nodes() {
    let mut net = cluster(3);
    for (q, repl) in [("d1a", "1"), ("d1b", "2")] {
        let id = job_id(&net.call(0, &["ADDJOB", q, "b", "0", "REPLICATE", repl, "RETRY", "2"]));
        let c = net.client();
        let r = match net.cmd_as(2, c, &["GETJOB", "TIMEOUT", "5000", "FROM", q]) {
            Some(r) => r,
            None => net.wait_reply(2, c, 5_000).expect("the job"),
        };
        assert_eq!(job_entries(&r), vec![(q.to_string(), s(&id), "b".into())]);
        // The source keeps its (now active) copy until the ack reaches it.
        assert_eq!(state(&net, 0, &id), Some(JobState::Active));
        assert_eq!(int(&net.cmd(2, &["ACKJOB", &s(&id)])), 1);
        eventually(&mut net, 2_000, "the job is gone from every node", |net| {
            holders(net, &id).is_empty()
        });
    }
    // Until RETRY 2 has passed with room to spare, nothing is queued again.
    let end = net.now + 2_500;
    while net.now < end {
        assert_eq!(qlen_sum(&mut net, "d1a") + qlen_sum(&mut net, "d1b"), 0);
        net.advance(10);
    }
    assert_eq!(
        net.cmd(2, &["GETJOB", "NOHANG", "FROM", "d1a"]),
        Reply::NullArray
    );
}

/// Decision D2: a job whose local record is acked is not queued again when
/// it arrives through YOURJOBS; SETACK goes back to the sender.
#[test]
fn d2_acked_local_record_wins_over_yourjobs() {
    let mut net = cluster(2);
    let id = add(&mut net, 0, "q", &["REPLICATE", "2", "RETRY", "60"]);
    // n1 acknowledges, but n0 never hears it for now.
    net.set_filter(Some(drop_to("SETACK", 0)));
    net.cmd(1, &["ACKJOB", &s(&id)]);
    net.run_until_idle();
    assert_eq!(state(&net, 1, &id), Some(JobState::Acked));
    assert_eq!(state(&net, 0, &id), Some(JobState::Queued));
    net.set_filter(None);
    // A consumer on n1 asks for q: n0 hands the job over.
    let mark = net.trace.len();
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "500", "FROM", "q"]);
    net.run_until_idle();
    assert!(!delivered(&net, mark, "YOURJOBS").is_empty());
    assert!(delivered(&net, mark, "SETACK")
        .iter()
        .any(|f| f.0 == 1 && f.1 == 0));
    assert_eq!(
        state(&net, 1, &id).unwrap_or(JobState::Acked),
        JobState::Acked
    );
    let r = net.wait_reply(1, c, 1_000).unwrap();
    assert_eq!(r, Reply::NullArray, "the acked job is not delivered");
    net.advance(5_000);
    assert!(holders(&net, &id).is_empty());
}

/// Decision D2 through a restart (the scenario the end-to-end suite ran on
/// processes): the job is on N1 (with an AOF) and one other node X. N1 is
/// killed, X acknowledges the job (its SETACK to N1 goes nowhere), N1
/// restarts with `aof-enqueue-jobs-once yes` so the job is queued there
/// again, and a GETJOB on X asks N1 for jobs (NEEDJOBS): N1 hands the job
/// over, X answers with SETACK, and both drop it long before X's next GC
/// attempt.
#[test]
fn d2_an_acked_local_record_wins_over_yourjobs_after_a_restart() {
    let mut cfg = NetConfig::new(3, 42);
    cfg.enqueue_jobs_once = true;
    let mut net = Net::cluster(cfg);
    let id = job_id(&net.call(0, &["ADDJOB", "d2q", "b", "0", "REPLICATE", "2"]));
    let x = holders(&net, &id)
        .into_iter()
        .find(|&i| i != 0)
        .expect("a second holder");
    net.crash(0, Crash::Process);
    assert_eq!(int(&net.cmd(x, &["ACKJOB", &s(&id)])), 1);
    let acked_at = net.now;
    assert_eq!(state(&net, x, &id), Some(JobState::Acked));
    // X retries its GC about 1 s after the ack, then about 5 s after it; N1
    // comes back between the two so that the job reaches X through
    // federation before X's own SETACK reaches N1.
    net.advance(1_500);
    net.restart(0);
    assert_eq!(state(&net, 0, &id), Some(JobState::Queued));
    // NEEDJOBS goes over X's link to N1, YOURJOBS over N1's link to X: both
    // must be up.
    eventually(&mut net, 3_000, "X and N1 linked both ways", |net| {
        net.converged()
    });
    assert_eq!(
        net.cmd(x, &["GETJOB", "NOHANG", "FROM", "d2q"]),
        Reply::NullArray
    );
    eventually(
        &mut net,
        1_000,
        "N1 handed the job over (jobs-out 1)",
        |net| {
            let Reply::Array(q) = net.cmd(0, &["QSTAT", "d2q"]) else {
                return false;
            };
            let pos = q
                .iter()
                .position(|r| matches!(r, Reply::Bulk(b) if &b[..] == b"jobs-out"));
            pos.is_some_and(|p| q[p + 1] == Reply::Integer(1))
        },
    );
    // X answered with SETACK: N1 acks and collects the job at once.
    eventually(&mut net, 1_000, "the job is gone from N1 and X", |net| {
        net.node(0).job(&id).is_none() && net.node(x).job(&id).is_none()
    });
    assert!(
        net.now - acked_at < 4_500,
        "too late to tell D2 from X's GC retry: {} ms",
        net.now - acked_at
    );
    assert_eq!(int(&net.cmd(x, &["QLEN", "d2q"])), 0);
    assert_eq!(
        net.cmd(x, &["GETJOB", "NOHANG", "FROM", "d2q"]),
        Reply::NullArray
    );
}

/// Decision D9: a node that got NEEDJOBS recently pushes a newly queued job of
/// that queue to the asker at once, so a consumer blocked there gets it within
/// a round trip even though the asker's next broadcast is seconds away.
#[test]
fn d9_new_job_is_pushed_to_a_recent_asker() {
    let mut net = cluster(3);
    let c = net.client();
    assert!(net.cmd_as(1, c, &["GETJOB", "FROM", "q"]).is_none());
    net.run_until_idle();
    net.advance(1_000);
    let start = net.now;
    add(&mut net, 0, "q", &["REPLICATE", "1"]);
    let r = net.wait_reply(1, c, 2_000).expect("pushed");
    assert!(matches!(r, Reply::Array(_)));
    assert!(net.now - start <= 100, "took {} ms", net.now - start);
}

/// Decision D4: a job imported through YOURJOBS and unknown before is written
/// to the importer's AOF, so it survives the importer's restart.
#[test]
fn d4_imported_job_survives_a_restart() {
    let mut net = cluster(2);
    let id = add(&mut net, 0, "q", &["REPLICATE", "1", "RETRY", "5"]);
    // NOHANG asks and returns at once; the job arrives afterwards and waits
    // queued on n1.
    assert_eq!(
        net.cmd(1, &["GETJOB", "NOHANG", "FROM", "q"]),
        Reply::NullArray
    );
    net.run_until_idle();
    assert_eq!(state(&net, 1, &id), Some(JobState::Queued));
    net.crash(1, Crash::Process);
    net.restart(1);
    assert!(net.node(1).job(&id).is_some(), "restored from the AOF");
}
