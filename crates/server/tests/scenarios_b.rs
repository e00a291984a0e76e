//! docs/behaviour-scenarios.md section B (S-30 … S-36, timers) and U-06, end to
//! end against a real `disque-server`. Timers run at cron resolution
//! (~100 ms) with ±250 ms jitter: every check polls with a deadline that has
//! 1 s of slack.

mod common;

use common::*;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

async fn show(c: &mut Client, id: &str) -> Reply {
    cmd(c, &format!("SHOW {id}")).await
}

/// Waits until the wall clock is in the first 300 ms of a second, so that a
/// job's whole-second expire time is at least 0.7 s past its nominal TTL
/// start (the expire time has whole-second resolution, S-32).
async fn align_to_second_start() {
    loop {
        let sub = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if sub < 300 {
            return;
        }
        tokio::time::sleep(ms(u64::from(1000 - sub) + 5)).await;
    }
}

#[tokio::test]
async fn s30_requeue_after_retry() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let id = addjob(&mut c, "rq b 0 RETRY 1").await;
    assert_eq!(
        cmd(&mut c, "GETJOB FROM rq").await,
        arr(vec![job_entry("rq", &id, "b")])
    );
    assert_eq!(qlen(&mut c, "rq").await, 0);
    poll_until!(secs(3), "job requeued", qlen(&mut c, "rq").await == 1);
    let sh = show(&mut c, &id).await;
    assert_eq!(field(&sh, "state"), &bulk("queued"));
    assert_eq!(field(&sh, "additional-deliveries"), &int(1));
    assert_eq!(
        cmd(&mut c, "GETJOB WITHCOUNTERS FROM rq").await,
        arr(vec![arr(vec![
            bulk("rq"),
            bulk(&id),
            bulk("b"),
            bulk("nacks"),
            int(0),
            bulk("additional-deliveries"),
            int(1),
        ])])
    );
}

#[tokio::test]
async fn s31_retry_counts_from_queue_time() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let t0 = Instant::now();
    let id = addjob(&mut c, "rt b 0 RETRY 3").await;
    // The scenario itself waits 2 s before fetching.
    tokio::time::sleep_until((t0 + secs(2)).into()).await;
    assert_eq!(
        cmd(&mut c, "GETJOB FROM rt").await,
        arr(vec![job_entry("rt", &id, "b")])
    );
    poll_until!(secs(5), "job requeued", qlen(&mut c, "rt").await == 1);
    let elapsed = t0.elapsed();
    // About 3 s after ADDJOB (±250 ms jitter, cron resolution), not 3 s
    // after the GETJOB (which would be ≈ 5 s).
    assert!(
        elapsed >= ms(2600) && elapsed <= ms(4250),
        "requeued {elapsed:?} after ADDJOB"
    );
}

#[tokio::test]
async fn s32_ttl_expiry() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let before = info_value(&mut c, "registered_jobs").await;
    let id = addjob(&mut c, "tq b 0 TTL 1").await;
    let sh = show(&mut c, &id).await;
    if sh != Reply::Nil {
        let ttl = integer(field(&sh, "ttl"));
        assert!(ttl == 0 || ttl == 1, "ttl {ttl}");
    }
    poll_until!(
        secs(4),
        "job expired",
        show(&mut c, &id).await == Reply::Nil
    );
    assert_eq!(qlen(&mut c, "tq").await, 0);
    assert_eq!(info_value(&mut c, "registered_jobs").await, before);
}

#[tokio::test]
async fn s33_delay() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let id = addjob(&mut c, "dq b 0 DELAY 2").await;
    assert_eq!(qlen(&mut c, "dq").await, 0);
    let sh = show(&mut c, &id).await;
    assert_eq!(field(&sh, "state"), &bulk("active"));
    assert_eq!(field(&sh, "delay"), &int(2));
    let requeue = integer(field(&sh, "next-requeue-within"));
    assert!(
        (1500..=2250).contains(&requeue),
        "next-requeue-within {requeue}"
    );
    poll_until!(secs(4), "delayed job queued", qlen(&mut c, "dq").await == 1);
    let sh = show(&mut c, &id).await;
    assert_eq!(field(&sh, "state"), &bulk("queued"));
}

#[tokio::test]
async fn s34_working() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;

    // Job a: WORKING once, requeued ~5 s later.
    let a = addjob(&mut c, "wq a 0 RETRY 5").await;
    // Job b: WORKING repeated, so its requeue is postponed again.
    let b = addjob(&mut c, "wq2 b 0 RETRY 2").await;
    let t0 = Instant::now();
    raw.roundtrip(&["WORKING", &a], b":5\r\n").await;
    raw.roundtrip(&["WORKING", &b], b":2\r\n").await;
    assert_eq!(qlen(&mut c, "wq").await, 0);
    let sh = show(&mut c, &a).await;
    assert_eq!(field(&sh, "state"), &bulk("active"));
    let requeue = integer(field(&sh, "next-requeue-within"));
    assert!(
        (4500..=5250).contains(&requeue),
        "next-requeue-within {requeue}"
    );

    tokio::time::sleep_until((t0 + ms(1000)).into()).await;
    raw.roundtrip(&["WORKING", &b], b":2\r\n").await;
    let t1 = Instant::now();
    // Without the second WORKING, b would be queued by t0 + 2.25 s.
    assert!(
        t1 - t0 < ms(1700),
        "second WORKING answered only {:?} after the first",
        t1 - t0
    );
    tokio::time::sleep_until((t1 + ms(1500)).into()).await;
    assert_eq!(qlen(&mut c, "wq2").await, 0, "b requeued despite WORKING");
    poll_until!(secs(3), "b requeued", qlen(&mut c, "wq2").await == 1);
    assert!(
        t1.elapsed() >= ms(1700),
        "b requeued after {:?}",
        t1.elapsed()
    );

    poll_until!(
        secs(6) + ms(250),
        "a requeued",
        qlen(&mut c, "wq").await == 1
    );
    assert!(
        t0.elapsed() >= ms(4600),
        "a requeued after {:?}",
        t0.elapsed()
    );

    raw.roundtrip(
        &["WORKING", "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001"],
        b"-NOJOB Job not known in the context of this node.\r\n",
    )
    .await;
}

#[tokio::test]
async fn s35_working_after_half_the_ttl() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    align_to_second_start().await;
    let t0 = Instant::now();
    let id = addjob(&mut c, "tw b 0 TTL 2 RETRY 1").await;
    raw.roundtrip(&["WORKING", &id], b":1\r\n").await;
    tokio::time::sleep_until((t0 + ms(1100)).into()).await;
    raw.roundtrip(
        &["WORKING", &id],
        b"-TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.\r\n",
    )
    .await;
}

/// S-36 needs an acknowledged job record that survives, which only exists
/// in a cluster (a single node deletes a job at once on ACKJOB). Two nodes:
/// the job is replicated to N2, N2 is killed, so N1's acked record cannot be
/// garbage collected and stays.
#[tokio::test]
async fn s36_working_on_an_acked_job() {
    let n1 = Server::start().await;
    let mut n2 = Server::start().await;
    let mut c1 = n1.client().await;
    let meet = cmd(&mut c1, &format!("CLUSTER MEET 127.0.0.1 {}", n2.port)).await;
    assert_eq!(meet, status("OK"));
    poll_until!(secs(5), "cluster formed", {
        let r = cmd(&mut c1, "CLUSTER INFO").await;
        text(&r).contains("cluster_reachable_nodes:1")
    });
    let id = addjob(&mut c1, "ak b 0 REPLICATE 2 RETRY 7").await;
    n2.kill();
    assert_eq!(cmd(&mut c1, &format!("ACKJOB {id}")).await, int(1));
    let sh = show(&mut c1, &id).await;
    assert_eq!(field(&sh, "state"), &bulk("acked"));
    assert_eq!(cmd(&mut c1, &format!("WORKING {id}")).await, int(7));
}

/// U-06: a client author's notes on TTL and RETRY defaults.
#[tokio::test]
async fn u06_ttl_and_retry_defaults() {
    let s = Server::start().await;
    let mut c = s.client().await;

    // Without TTL: 86400 s of life, RETRY 300.
    let plain = addjob(&mut c, "u6 plain 0").await;
    let sh = show(&mut c, &plain).await;
    let ttl = integer(field(&sh, "ttl"));
    assert!((86399..=86400).contains(&ttl), "ttl {ttl}");
    assert_eq!(field(&sh, "retry"), &int(300));

    // TTL 10 and no RETRY: RETRY 1, so a fetched job comes back ~1 s later.
    let short = addjob(&mut c, "u6s short 0 TTL 10").await;
    let sh = show(&mut c, &short).await;
    assert_eq!(field(&sh, "retry"), &int(1));
    assert_eq!(
        cmd(&mut c, "GETJOB FROM u6s").await,
        arr(vec![job_entry("u6s", &short, "short")])
    );

    // RETRY 0 (REPLICATE 1): fetched once, never queued again, still there
    // until its TTL.
    let t0 = Instant::now();
    let once = addjob(&mut c, "u6o once 0 RETRY 0 REPLICATE 1 TTL 10").await;
    assert_eq!(
        cmd(&mut c, "GETJOB FROM u6o").await,
        arr(vec![job_entry("u6o", &once, "once")])
    );
    poll_until!(secs(2), "TTL 10 job requeued after 1 s", {
        qlen(&mut c, "u6s").await == 1
    });
    assert_eq!(qlen(&mut c, "u6o").await, 0);
    let sh = show(&mut c, &once).await;
    assert_eq!(field(&sh, "state"), &bulk("active"));
    // plain + short + once
    assert_eq!(info_value(&mut c, "registered_jobs").await, "3");

    // Gone about 10 s after creation (whole-second expire resolution, hz 10).
    poll_until!(secs(12), "RETRY 0 TTL 10 job expired", {
        let sh = show(&mut c, &once).await;
        if sh != Reply::Nil {
            // Still there: never queued again meanwhile.
            assert_eq!(field(&sh, "state"), &bulk("active"));
            assert_eq!(qlen(&mut c, "u6o").await, 0);
        }
        sh == Reply::Nil
    });
    let gone_after = t0.elapsed();
    assert!(gone_after >= ms(8900), "expired after {gone_after:?}");
    // The TTL 10 job is gone too by now; the plain job stays.
    poll_until!(
        secs(2),
        "TTL 10 job expired",
        show(&mut c, &short).await == Reply::Nil
    );
    assert_eq!(info_value(&mut c, "registered_jobs").await, "1");
}
