//! Decisions D16 (NACK DELAY), D17 (DEADLETTER) and D18 (PRIORITY) on real
//! processes: three nodes on loopback for the cluster rules, one node with
//! an AOF for restarts. Every wait is a deadline poll; the fixed waits are
//! "nothing happens during T" observations, and the one that lets two
//! stopped nodes' requeue timers fall due.

use crate::common::persist::{state_of, Node};
use crate::common::*;
use std::time::{Duration, Instant};

/// SHOW's `queue` of a job on one node ("" when the node does not hold it).
async fn queue_on(c: &mut Client, id: &str) -> String {
    match show(c, id).await {
        Some(r) => show_str(&r, "queue"),
        None => String::new(),
    }
}

/// A NACK DELAY on one node reaches the other holders, which wait for the
/// delay to end even though the first node dies at once; then one of them
/// queues the job.
#[tokio::test]
async fn nack_delay_is_honoured_by_the_other_holders_when_the_first_node_dies() {
    let mut cl = Cluster::start(3).await;
    let q = fresh_queue("nd");
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, &format!("{q} body 5000 REPLICATE 3 RETRY 2")).await;
    assert_eq!(
        job_entries(&cmd(&mut c0, &format!("GETJOB NOHANG FROM {q}")).await)[0].1,
        id
    );
    let nacked_at = Instant::now();
    assert_eq!(cmd(&mut c0, &format!("NACK DELAY 5 {id}")).await, int(1));
    let end = nacked_at + Duration::from_secs(5);
    let mut others = vec![cl.client(1).await, cl.client(2).await];
    for c in others.iter_mut() {
        poll_until!(secs(3), "the other holders counted the NACK", {
            show(c, &id)
                .await
                .is_some_and(|r| show_int(&r, "nacks") == 1)
        });
        assert_eq!(job_state(c, &id).await, "active");
    }
    cl.kill(0);
    // Nothing is queued before the delay ends (an observation, polled).
    let left = end.saturating_duration_since(Instant::now() + ms(100));
    assert_during!(left, "queued before the delay ended", {
        qlen_sum(&mut others, &q).await == 0
    });
    poll_until!(secs(15), "a surviving holder queues the job", {
        qlen_sum(&mut others, &q).await == 1
    });
    assert!(Instant::now() >= end);
}

/// Two holders whose requeue timers fall due while both are stopped race to
/// requeue a poison job (max-deliveries 1): each moves it to its dead-letter
/// queue, the moves meet, and the job ends up queued once, in `dlq`, on one
/// node; the original queue never gets it back.
#[tokio::test]
async fn a_poison_job_reaches_the_dead_letter_queue_once_while_two_nodes_race() {
    let mut cl = Cluster::start(3).await;
    let q = fresh_queue("poison");
    let dlq = fresh_queue("dead");
    let mut c0 = cl.client(0).await;
    let id = addjob(
        &mut c0,
        &format!("{q} body 5000 REPLICATE 3 RETRY 1 DEADLETTER {dlq} 1"),
    )
    .await;
    let r = show_some(&mut c0, &id).await;
    assert_eq!(show_str(&r, "dead-letter-queue"), dlq);
    assert_eq!(show_int(&r, "max-deliveries"), 1);
    assert_eq!(
        job_entries(&cmd(&mut c0, &format!("GETJOB NOHANG FROM {q}")).await).len(),
        1
    );
    cl.kill(0);
    let mut others = vec![cl.client(1).await, cl.client(2).await];
    let mut due_in = 0;
    for c in others.iter_mut() {
        let r = show_some(c, &id).await;
        due_in = due_in.max(show_int(&r, "next-requeue-within"));
    }
    cl.pause(1);
    cl.pause(2);
    // Both stay stopped until their timers are due: the race itself.
    tokio::time::sleep(ms(due_in as u64 + 300)).await;
    cl.resume(1);
    cl.resume(2);
    poll_until!(
        secs(10),
        "both holders moved the job to the dead-letter queue",
        {
            queue_on(&mut others[0], &id).await == dlq && queue_on(&mut others[1], &id).await == dlq
        }
    );
    poll_until!(secs(10), "one queued copy in the dead-letter queue", {
        qlen_sum(&mut others, &dlq).await == 1
    });
    assert_during!(ms(1500), "queued once, in the dead-letter queue only", {
        qlen_sum(&mut others, &dlq).await == 1 && qlen_sum(&mut others, &q).await == 0
    });
    for c in others.iter_mut() {
        let r = show_some(c, &id).await;
        assert!(
            !items(&r).contains(&bulk("dead-letter-queue")),
            "DEADLETTER cleared: {r:?}"
        );
    }
    let holder = if qlen(&mut others[0], &dlq).await == 1 {
        0
    } else {
        1
    };
    let got = job_entries(&cmd(&mut others[holder], &format!("GETJOB NOHANG FROM {dlq}")).await);
    assert_eq!(got, vec![(dlq.clone(), id.clone(), "body".to_string())]);
}

/// A consumer on another node gets the highest priorities first: federation
/// hands them over in the queue's delivery order.
#[tokio::test]
async fn priorities_across_federation() {
    let cl = Cluster::start(3).await;
    let q = fresh_queue("prio");
    let mut c0 = cl.client(0).await;
    let low = addjob(&mut c0, &format!("{q} low 0 REPLICATE 1 PRIORITY 1")).await;
    let plain = addjob(&mut c0, &format!("{q} plain 0 REPLICATE 1")).await;
    let high = addjob(&mut c0, &format!("{q} high 0 REPLICATE 1 PRIORITY 9")).await;
    let peek: Vec<String> = job_entries(&cmd(&mut c0, &format!("QPEEK {q} 10")).await)
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(peek, vec![high.clone(), plain.clone(), low.clone()]);
    let mut c1 = cl.client(1).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = cmd(&mut c1, &format!("GETJOB TIMEOUT 10000 FROM {q}")).await;
        let entries = job_entries(&r);
        assert_eq!(entries.len(), 1, "{r:?}");
        got.push(entries[0].1.clone());
    }
    assert_eq!(got, vec![high.clone(), plain, low]);
    let r = show_some(&mut c1, &high).await;
    assert_eq!(show_int(&r, "priority"), 9, "the priority travels");
}

/// NACK DELAY, PRIORITY and DEADLETTER survive a restart with the AOF, and
/// so does a dead-letter move; errors have their exact texts on the wire.
#[tokio::test]
async fn the_options_survive_a_restart_and_errors_are_exact() {
    let mut n = Node::new(&["appendonly", "yes"]);
    n.start(&[]).await;
    let mut c = n.client().await;
    let delayed = addjob(&mut c, "rq a 0 RETRY 1 PRIORITY 7 DEADLETTER rdlq 5").await;
    let moved = addjob(&mut c, "mq b 0 RETRY 30 DEADLETTER mdlq 1").await;
    cmd(&mut c, "GETJOB COUNT 2 FROM rq mq").await;
    assert_eq!(
        cmd(&mut c, &format!("NACK DELAY 6 {delayed}")).await,
        int(1)
    );
    assert_eq!(cmd(&mut c, &format!("NACK {moved}")).await, int(1));
    assert_eq!(qlen(&mut c, "mdlq").await, 1);
    let restarted_at = Instant::now();
    n.kill();
    n.start(&[]).await;
    let mut c = n.client().await;
    let r = show_some(&mut c, &delayed).await;
    assert_eq!(show_int(&r, "priority"), 7);
    assert_eq!(show_str(&r, "dead-letter-queue"), "rdlq");
    assert_eq!(show_int(&r, "max-deliveries"), 5);
    assert_eq!(show_int(&r, "nacks"), 1);
    assert!(show_int(&r, "next-requeue-within") > 3000, "{r:?}");
    assert_eq!(state_of(&mut c, &moved).await.as_deref(), Some("active"));
    assert_eq!(show_str(&show_some(&mut c, &moved).await, "queue"), "mdlq");
    let left = secs(3).saturating_sub(restarted_at.elapsed());
    assert_during!(left, "the delay holds after the restart", {
        qlen(&mut c, "rq").await == 0
    });
    poll_until!(
        secs(10),
        "queued after the delay",
        qlen(&mut c, "rq").await == 1
    );

    for (line, text) in [
        (
            "ADDJOB q b 0 PRIORITY 10",
            "ERR PRIORITY must be between 0 and 9",
        ),
        (
            "ADDJOB q b 0 DEADLETTER d -1",
            "ERR DEADLETTER max-deliveries must be a positive number",
        ),
        (
            "ADDJOB q b 0 DEADLETTER q 3",
            "ERR DEADLETTER queue must be different from the job queue",
        ),
        (
            "NACK DELAY abc D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-05a1",
            "ERR DELAY time must be a non negative number",
        ),
    ] {
        assert_eq!(cmd(&mut c, line).await, error(text), "{line}");
    }
}
