//! docs/behaviour-scenarios.md section C (C-01 … C-24): three real nodes on
//! loopback, joined with CLUSTER MEET. Every wait is a deadline poll; the
//! only fixed waits are "nothing happens during T" observations.

use crate::common::*;
use std::time::Instant;

const UNKNOWN_ODD: &str = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001";
const UNKNOWN_EVEN: &str = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0000";

#[tokio::test]
async fn c01_forming_the_cluster() {
    let t0 = Instant::now();
    let cl = Cluster::start(3).await;
    eprintln!("3-node cluster joined in {:?}", t0.elapsed());
    for i in 0..3 {
        let mut c = cl.client(i).await;
        let info = cluster_info(&mut c).await;
        for (k, v) in [
            ("cluster_state", "ok"),
            ("cluster_size", "3"),
            ("cluster_known_nodes", "3"),
            ("cluster_reachable_nodes", "2"),
        ] {
            assert_eq!(info_field(&info, k).as_deref(), Some(v), "node {i}: {info}");
        }
        let (me, nodes) = hello(&mut c).await;
        assert_eq!(me, cl.ids[i]);
        assert_eq!(nodes.len(), 3, "{nodes:?}");
        for n in &nodes {
            let j = cl.index_of(&n.id);
            assert_eq!(n.port, cl.port(j).to_string(), "{n:?}");
            assert_eq!(n.ip, "127.0.0.1", "{n:?}");
        }
        // Links can still be settling right after the join: poll for all 1.
        poll_until!(secs(5), "HELLO priorities all 1", {
            hello(&mut c).await.1.iter().all(|n| n.priority == "1")
        });
        let lines = cluster_nodes(&mut c).await;
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (id, l) in &lines {
            assert_eq!(l.has_flag("myself"), *id == cl.ids[i], "{l:?}");
            assert_eq!(l.link, "connected", "{l:?}");
            assert_eq!(l.addr, format!("127.0.0.1:{}", cl.port(cl.index_of(id))));
        }
    }
    // N2 and N3 know each other through gossip only.
    let mut c1 = cl.client(1).await;
    assert!(cluster_nodes(&mut c1).await.contains_key(&cl.ids[2]));

    let mut c = cl.client(0).await;
    assert_eq!(
        cmd(&mut c, "CLUSTER MEET 127.0.0.1 99999").await,
        error("ERR Invalid node address specified: 127.0.0.1:99999")
    );
    assert_eq!(
        cmd(&mut c, "CLUSTER MEET 127.0.0.1 x").await,
        error("ERR Invalid TCP port specified: x")
    );
    assert_eq!(
        cmd(&mut c, "CLUSTER MEET nohost 7711").await,
        error("ERR Invalid node address specified: nohost:7711")
    );
    // A failed MEET adds nothing.
    assert_eq!(cluster_nodes(&mut c).await.len(), 3);
}

#[tokio::test]
async fn c02_default_replication_is_three() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "cq b 0").await;
    let s1 = show_some(&mut cs[0], &id).await;
    assert_eq!(show_int(&s1, "repl"), 3);
    assert_eq!(show_str(&s1, "state"), "queued");
    let mut delivered = show_list(&s1, "nodes-delivered");
    delivered.sort();
    let mut all = cl.ids.clone();
    all.sort();
    assert_eq!(delivered, all);
    assert!(show_list(&s1, "nodes-confirmed").is_empty(), "{s1:?}");
    for c in &mut cs[1..] {
        let s = show_some(c, &id).await;
        assert_eq!(show_str(&s, "state"), "active");
        assert_eq!(show_int(&s, "repl"), 3);
        assert_eq!(field(&s, "ctime"), field(&s1, "ctime"));
        assert_eq!(qlen(c, "cq").await, 0);
    }
}

#[tokio::test]
async fn c03_replication_limits() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(
        cmd(&mut cs[0], "ADDJOB cq b 0 REPLICATE 4").await,
        error("NOREPL Not enough reachable nodes for the requested replication level")
    );
    assert_eq!(
        cmd(&mut cs[0], "ADDJOB cq b 0 RETRY 0").await,
        error(
            "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)"
        )
    );
    let id = addjob(&mut cs[0], "cq b 0 RETRY 0 REPLICATE 1").await;
    assert!(show(&mut cs[0], &id).await.is_some());
    for c in &mut cs[1..] {
        assert!(show(c, &id).await.is_none());
    }
}

/// Polls until no node holds `id`.
async fn wait_gone_everywhere(cs: &mut [Client], id: &str, within: std::time::Duration) {
    poll_until!(within, format!("{id} gone from every node"), {
        let mut any = false;
        for c in cs.iter_mut() {
            any |= show(c, id).await.is_some();
        }
        !any
    });
}

#[tokio::test]
async fn c04_ack_gc_from_the_origin() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "aq b 0").await;
    assert_eq!(cmd(&mut cs[0], &format!("ACKJOB {id}")).await, int(1));
    wait_gone_everywhere(&mut cs, &id, secs(2)).await;
}

#[tokio::test]
async fn c05_ack_from_a_replica() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "aq b 0").await;
    assert_eq!(cmd(&mut cs[1], &format!("ACKJOB {id}")).await, int(1));
    wait_gone_everywhere(&mut cs, &id, secs(2)).await;
    assert_eq!(qlen(&mut cs[0], "aq").await, 0);
}

#[tokio::test]
async fn c06_dummy_ack() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "dq b 0 REPLICATE 1").await;
    assert_eq!(cmd(&mut cs[1], &format!("ACKJOB {id}")).await, int(0));
    // Transiently N2 may hold the dummy: acked, no queue, no body.
    if let Some(s) = show(&mut cs[1], &id).await {
        assert_eq!(show_str(&s, "state"), "acked", "{s:?}");
        assert_eq!(field(&s, "queue"), &Reply::Nil, "{s:?}");
        assert_eq!(field(&s, "body"), &Reply::Nil, "{s:?}");
    }
    wait_gone_everywhere(&mut cs, &id, secs(2)).await;
    assert_eq!(qlen(&mut cs[0], "dq").await, 0);
}

#[tokio::test]
async fn c07_dummy_ack_for_an_unknown_id() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(
        cmd(&mut cs[1], &format!("ACKJOB {UNKNOWN_ODD}")).await,
        int(0)
    );
    if let Some(s) = show(&mut cs[1], UNKNOWN_ODD).await {
        assert_eq!(show_str(&s, "state"), "acked", "{s:?}");
        // Invisible to JSCAN, counted in registered_jobs.
        assert!(jscan_ids(&mut cs[1], "").await.is_empty());
    }
    // Every node answers "unknown": the dummy goes.
    wait_gone_everywhere(&mut cs, UNKNOWN_ODD, secs(2)).await;
    assert_eq!(registered_jobs(&mut cs[1]).await, 0);
    // An even TTL field never creates a record.
    assert_eq!(
        cmd(&mut cs[1], &format!("ACKJOB {UNKNOWN_EVEN}")).await,
        int(0)
    );
    assert!(show(&mut cs[1], UNKNOWN_EVEN).await.is_none());
    assert_eq!(registered_jobs(&mut cs[1]).await, 0);
}

#[tokio::test]
async fn c08_fastack() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "fq b 0").await;
    assert_eq!(cmd(&mut cs[2], &format!("FASTACK {id}")).await, int(1));
    wait_gone_everywhere(&mut cs, &id, secs(2)).await;
}

#[tokio::test]
async fn c09_replicas_do_not_requeue_while_the_origin_holds_it_queued() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "hq b 0 RETRY 1").await;
    // RETRY 1: several WILLQUEUE/QUEUED rounds happen in 3.5 s.
    assert_during!(ms(3500), "queued on the origin only", {
        assert_eq!(qlen(&mut cs[0], "hq").await, 1);
        for c in &mut cs[1..] {
            assert_eq!(qlen(c, "hq").await, 0);
        }
        for c in cs.iter_mut() {
            let s = show_some(c, &id).await;
            assert_eq!(show_int(&s, "additional-deliveries"), 0, "{s:?}");
        }
        true
    });
}

#[tokio::test]
async fn c10_requeue_after_delivery_keeps_one_queued_copy() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "rq b 0 RETRY 2").await;
    let got = cmd(&mut cs[0], "GETJOB FROM rq").await;
    assert_eq!(
        job_entries(&got),
        vec![("rq".into(), id.clone(), "b".into())]
    );
    poll_until!(secs(5), "requeued once, counters propagated", {
        let n = qlen_sum(&mut cs, "rq").await;
        let mut counted = true;
        for c in cs.iter_mut() {
            let s = show_some(c, &id).await;
            counted &= show_int(&s, "additional-deliveries") >= 1;
        }
        n == 1 && counted
    });
    // It stays queued on exactly one node.
    assert_during!(ms(1000), "one queued copy", {
        qlen_sum(&mut cs, "rq").await == 1
    });
}

#[tokio::test]
async fn c11_working_propagates() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "wk b 0 RETRY 10").await;
    assert_eq!(qlen(&mut cs[0], "wk").await, 1);
    assert_eq!(cmd(&mut cs[1], &format!("WORKING {id}")).await, int(10));
    poll_until!(secs(2), "N1 dequeued the job", {
        qlen(&mut cs[0], "wk").await == 0
    });
    assert_eq!(job_state(&mut cs[0], &id).await, "active");
}

#[tokio::test]
async fn c12_nack_propagates_the_counter() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "nk b 0").await;
    let got = cmd(&mut cs[0], "GETJOB FROM nk").await;
    assert_eq!(job_entries(&got).len(), 1);
    assert_eq!(cmd(&mut cs[0], &format!("NACK {id}")).await, int(1));
    assert_eq!(qlen(&mut cs[0], "nk").await, 1);
    poll_until!(secs(2), "nacks 1 on N2 and N3", {
        let mut ok = true;
        for c in &mut cs[1..] {
            ok &= show_int(&show_some(c, &id).await, "nacks") == 1;
        }
        ok
    });
}

#[tokio::test]
async fn c13_async() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "as b 0 ASYNC").await;
    let s = show_some(&mut cs[0], &id).await;
    assert_eq!(show_str(&s, "state"), "queued");
    assert_eq!(show_list(&s, "nodes-delivered").len(), 3, "{s:?}");
    assert!(show_list(&s, "nodes-confirmed").is_empty(), "{s:?}");
    poll_until!(secs(2), "replicas active on N2 and N3", {
        job_state(&mut cs[1], &id).await == "active" && job_state(&mut cs[2], &id).await == "active"
    });
}

#[tokio::test]
async fn c14_synchronous_replication_timeout() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    for c in &mut cs[1..] {
        assert_eq!(cmd(c, "PAUSE tq in").await, status("in"));
    }
    let t = Instant::now();
    assert_eq!(
        cmd(&mut cs[0], "ADDJOB tq b 500").await,
        error("NOREPL Timeout reached before replicating to the requested number of nodes")
    );
    let took = t.elapsed();
    assert!(
        took >= ms(450) && took <= ms(1500),
        "timed out after {took:?}"
    );
    assert!(jscan_ids(&mut cs[0], "").await.is_empty());
    assert_eq!(registered_jobs(&mut cs[0]).await, 0);
    let t = Instant::now();
    let id = addjob(&mut cs[0], "tq b 0 REPLICATE 1").await;
    assert!(t.elapsed() < ms(500));
    assert_eq!(job_state(&mut cs[0], &id).await, "queued");

    // Variant: timeout 0, the client goes away while blocked.
    for c in &mut cs[1..] {
        assert_eq!(cmd(c, "PAUSE tq2 in").await, status("in"));
    }
    let mut blocked = cl.client(0).await;
    blocked.send(&["ADDJOB", "tq2", "b", "0"]).await.unwrap();
    poll_until!(secs(2), "the pending job exists on N1", {
        jscan_ids(&mut cs[0], "QUEUE tq2").await.len() == 1
    });
    assert!(blocked.read_reply_timeout(ms(300)).await.unwrap().is_none());
    drop(blocked);
    poll_until!(secs(2), "the pending job is gone after the disconnect", {
        jscan_ids(&mut cs[0], "QUEUE tq2").await.is_empty()
    });
}

#[tokio::test]
async fn c15_replication_retry_adds_nodes() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(cmd(&mut cs[1], "PAUSE rp in").await, status("in"));
    let t = Instant::now();
    let id = addjob(&mut cs[0], "rp b 2000 REPLICATE 2").await;
    let took = t.elapsed();
    assert!(took < ms(1000), "ADDJOB took {took:?}");
    eprintln!("ADDJOB REPLICATE 2 with one paused node took {took:?}");
    assert_eq!(job_state(&mut cs[2], &id).await, "active");
    assert!(show(&mut cs[1], &id).await.is_none());
    let delivered = show_list(&show_some(&mut cs[0], &id).await, "nodes-delivered");
    assert!(
        delivered.contains(&cl.ids[0]) && delivered.contains(&cl.ids[2]),
        "{delivered:?}"
    );
}

#[tokio::test]
async fn c16_pause_broadcast() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(cmd(&mut cs[0], "PAUSE bq all bcast").await, status("all"));
    poll_until!(secs(2), "PAUSE all reached N2 and N3", {
        cmd(&mut cs[1], "PAUSE bq state").await == status("all")
            && cmd(&mut cs[2], "PAUSE bq state").await == status("all")
    });
    assert_eq!(cmd(&mut cs[0], "PAUSE bq none bcast").await, status("none"));
    poll_until!(secs(2), "PAUSE none reached N2 and N3", {
        cmd(&mut cs[1], "PAUSE bq state").await == status("none")
            && cmd(&mut cs[2], "PAUSE bq state").await == status("none")
    });
    assert_eq!(cmd(&mut cs[0], "PAUSE bq state").await, status("none"));
    // A receiver that does not know the queue ignores "none".
    assert_eq!(
        cmd(&mut cs[0], "PAUSE bq3 none bcast").await,
        status("none")
    );
    assert_eq!(cmd(&mut cs[0], "PAUSE bq4 out bcast").await, status("out"));
    poll_until!(secs(2), "PAUSE out reached N2", {
        cmd(&mut cs[1], "PAUSE bq4 state").await == status("out")
    });
    assert!(qstat(&mut cs[1], "bq3").await.is_none());
    // Without bcast nothing is sent.
    assert_eq!(cmd(&mut cs[0], "PAUSE bq2 out").await, status("out"));
    assert_eq!(cmd(&mut cs[0], "PAUSE bq2 in bcast").await, status("in"));
    poll_until!(secs(2), "PAUSE in reached N3", {
        cmd(&mut cs[2], "PAUSE bq2 state").await == status("in")
    });
}

#[tokio::test]
async fn c17_federation_blocked_consumer_pulls_a_job() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let mut consumer = cl.client(2).await;
    consumer
        .send(&["GETJOB", "TIMEOUT", "20000", "FROM", "fed1"])
        .await
        .unwrap();
    wait_blocked(&mut cs[2], "fed1", 1).await;
    let id = addjob(&mut cs[0], "fed1 hello 0 REPLICATE 1").await;
    let got = consumer
        .read_reply_timeout(secs(6))
        .await
        .unwrap()
        .expect("the consumer on N3 got nothing within 6 s");
    assert_eq!(
        job_entries(&got),
        vec![("fed1".into(), id.clone(), "hello".into())]
    );
    let q3 = qstat(&mut cs[2], "fed1").await.expect("QSTAT fed1 on N3");
    assert_eq!(show_list(&q3, "import-from"), vec![cl.ids[0].clone()]);
    assert!(show_int(&q3, "import-rate") > 0, "{q3:?}");
    assert_eq!(job_state(&mut cs[0], &id).await, "active");
    let q1 = qstat(&mut cs[0], "fed1").await.expect("QSTAT fed1 on N1");
    assert_eq!(show_int(&q1, "jobs-out"), 1, "{q1:?}");
    assert_eq!(qlen(&mut cs[0], "fed1").await, 0);
}

#[tokio::test]
async fn c18_federation_with_nohang() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let id = addjob(&mut cs[0], "fed2 b 0 REPLICATE 1").await;
    assert_eq!(
        cmd(&mut cs[2], "GETJOB NOHANG FROM fed2").await,
        Reply::NullArray
    );
    let mut got;
    poll_until!(secs(2), "GETJOB NOHANG on N3 returns the job", {
        got = getjob_nohang(&mut cs[2], "fed2").await;
        got.is_some()
    });
    assert_eq!(got, Some(("fed2".into(), id, "b".into())));
}

#[tokio::test]
async fn c19_output_paused_queues_are_not_federated() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    addjob(&mut cs[0], "fed3 b 0 REPLICATE 1").await;
    assert_eq!(cmd(&mut cs[0], "PAUSE fed3 out").await, status("out"));
    assert_during!(secs(2), "the job stays on N1", {
        getjob_nohang(&mut cs[2], "fed3").await.is_none() && qlen(&mut cs[0], "fed3").await == 1
    });
}

#[tokio::test]
async fn c20_federation_never_takes_the_whole_queue() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    for i in 0..10 {
        addjob(&mut cs[0], &format!("fed4 j{i} 0 REPLICATE 1")).await;
    }
    assert_eq!(getjob_nohang(&mut cs[2], "fed4").await, None);
    poll_until!(secs(2), "one job moved to N3", {
        qlen(&mut cs[2], "fed4").await == 1
    });
    assert_eq!(qlen(&mut cs[0], "fed4").await, 9);
    assert_during!(ms(500), "no more jobs follow", {
        qlen(&mut cs[2], "fed4").await == 1 && qlen(&mut cs[0], "fed4").await == 9
    });
}

const LEAVING_ERR: &str =
    "LEAVING This node is leaving the cluster, please connect to a different one";

#[tokio::test]
async fn c21_leaving() {
    let mut cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let mut consumer = cl.client(2).await;
    consumer.send(&["GETJOB", "FROM", "lq"]).await.unwrap();
    wait_blocked(&mut cs[2], "lq", 1).await;

    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING").await, status("no"));
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING").await, status("yes"));
    let r = consumer
        .read_reply_timeout(secs(2))
        .await
        .unwrap()
        .expect("the blocked client got no -LEAVING within 2 s");
    assert_eq!(r, error(LEAVING_ERR));

    assert_eq!(cmd(&mut cs[2], "GETJOB FROM lq").await, error(LEAVING_ERR));
    assert_eq!(
        cmd(&mut cs[2], "GETJOB NOHANG FROM lq").await,
        Reply::NullArray
    );
    assert_eq!(
        cmd(&mut cs[2], "ADDJOB lq b 0").await,
        norepl_no_local_copy("I'm leaving the cluster")
    );
    // (The synchronous form, `ADDJOB lq b 0 REPLICATE 2`, is in
    // c21_leaving_node_sync_addjob_with_explicit_replicate; a queue N3
    // asked for before leaving is in leaving_node_does_not_get_its_jobs_back.)
    let id = addjob(&mut cs[2], "lq2 b 0 REPLICATE 2 ASYNC").await;
    assert_replicated_elsewhere(&mut cs, 2, &id, "lq2").await;
    assert_eq!(qlen(&mut cs[2], "lq2").await, 0);

    // The flag reaches N1 through the bus headers.
    let t = Instant::now();
    poll_until!(secs(5), "N1 sees N3 leaving (HELLO 100, flag)", {
        hello_priority(&mut cs[0], &cl.ids[2]).await.as_deref() == Some("100")
            && node_flags(&mut cs[0], &cl.ids[2])
                .await
                .contains(&"leaving".to_string())
    });
    eprintln!("leaving flag seen on N1 after {:?}", t.elapsed());
    cl.wait_reachable(0, 1, secs(2)).await;
    assert_eq!(
        cmd(&mut cs[0], "ADDJOB lq b 0").await,
        error("NOREPL Not enough reachable nodes for the requested replication level")
    );
    let id2 = addjob(&mut cs[0], "lq b 0 REPLICATE 2").await;
    assert!(show(&mut cs[2], &id2).await.is_none());
    assert!(show(&mut cs[1], &id2).await.is_some());

    // A leaving node never imports: no NEEDJOBS from it.
    addjob(&mut cs[0], "lq4 b 0 REPLICATE 1").await;
    assert_during!(ms(1000), "the leaving node imports nothing", {
        getjob_nohang(&mut cs[2], "lq4").await.is_none()
    });
    assert_eq!(qlen(&mut cs[0], "lq4").await, 1);

    // No dummy ACKs on a leaving node.
    assert_eq!(
        cmd(&mut cs[2], &format!("ACKJOB {UNKNOWN_ODD}")).await,
        int(0)
    );
    assert!(show(&mut cs[2], UNKNOWN_ODD).await.is_none());

    assert_eq!(
        cmd(&mut cs[2], "CLUSTER LEAVING maybe").await,
        error("ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'")
    );
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING no").await, status("OK"));
    poll_until!(secs(5), "N3's priority back to 1 on N1", {
        hello_priority(&mut cs[0], &cl.ids[2]).await.as_deref() == Some("1")
            && !node_flags(&mut cs[0], &cl.ids[2])
                .await
                .contains(&"leaving".to_string())
    });
    cl.wait_reachable(0, 2, secs(2)).await;

    // The flag survives a restart (nodes.conf).
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    let conf = cl.nodes[2].dir.path().join("nodes.conf");
    poll_until!(secs(2), "nodes.conf records leaving", {
        std::fs::read_to_string(&conf)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("myself") && l.contains("leaving"))
    });
    cl.restart(2).await;
    let mut c3 = cl.client(2).await;
    assert_eq!(myid(&mut c3).await, cl.ids[2]);
    assert_eq!(cmd(&mut c3, "CLUSTER LEAVING").await, status("yes"));
    assert_eq!(cmd(&mut c3, "GETJOB FROM lq3").await, error(LEAVING_ERR));
}

/// C-21: on a leaving node a synchronous ADDJOB with an explicit REPLICATE
/// that the other reachable nodes can hold succeeds (external replication:
/// no local copy, queued once elsewhere).
#[tokio::test]
async fn c21_leaving_node_sync_addjob_with_explicit_replicate() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    for _ in 0..5 {
        let id = addjob(&mut cs[2], "lq b 0 REPLICATE 2").await;
        assert!(show(&mut cs[2], &id).await.is_none());
        assert!(show(&mut cs[0], &id).await.is_some());
        assert!(show(&mut cs[1], &id).await.is_some());
    }
    poll_until!(secs(2), "each externally replicated job is queued once", {
        qlen_sum(&mut cs[..2], "lq").await == 5
    });
}

/// A node that asked for a queue (NEEDJOBS) and then starts leaving must not
/// receive that queue's jobs through the D9 push: a job it adds (external
/// replication) is queued on another node, not sent back to it.
#[tokio::test]
async fn leaving_node_does_not_get_its_jobs_back() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    assert_eq!(
        cmd(&mut cs[2], "GETJOB NOHANG FROM lb2").await,
        Reply::NullArray
    );
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    let id = addjob(&mut cs[2], "lb2 b 0 REPLICATE 2 ASYNC").await;
    poll_until!(secs(2), "the job is queued on N1 or N2", {
        qlen_sum(&mut cs[..2], "lb2").await == 1
    });
    assert_during!(ms(500), "queued once, not on the leaving node", {
        assert!(
            show(&mut cs[2], &id).await.is_none(),
            "the leaving node holds the job"
        );
        qlen_sum(&mut cs[..2], "lb2").await == 1
    });
}

/// docs/cluster.md §11.2: a synchronous ADDJOB blocked on the node that starts
/// leaving gets -LEAVING and its job is deleted cluster-wide.
#[tokio::test]
async fn leaving_interrupts_a_blocked_addjob() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    // Only N2 accepts the copy; REPLICATE 3 can never be reached.
    assert_eq!(cmd(&mut cs[0], "PAUSE lb in").await, status("in"));
    let mut producer = cl.client(2).await;
    producer.send(&["ADDJOB", "lb", "b", "0"]).await.unwrap();
    let mut id = String::new();
    poll_until!(secs(2), "the pending job on N3 and its copy on N2", {
        let ids = jscan_ids(&mut cs[2], "").await;
        if let Some(x) = ids.first() {
            id = x.clone();
        }
        !id.is_empty() && show(&mut cs[1], &id).await.is_some()
    });
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    let r = producer
        .read_reply_timeout(secs(2))
        .await
        .unwrap()
        .expect("the blocked ADDJOB got no reply within 2 s");
    assert_eq!(r, error(LEAVING_ERR));
    wait_gone_everywhere(&mut cs, &id, secs(2)).await;
}

#[tokio::test]
async fn c22_draining_a_leaving_node() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(addjob(&mut cs[2], &format!("dq j{i} 0")).await);
    }
    // D1: a REPLICATE 1 job drains too (the ack reaches N3).
    ids.push(addjob(&mut cs[2], "dq r1 0 REPLICATE 1").await);
    assert_eq!(qlen(&mut cs[2], "dq").await, 5);
    assert_eq!(cmd(&mut cs[2], "CLUSTER LEAVING yes").await, status("OK"));
    let mut consumer = cl.client(0).await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + secs(20);
    while registered_jobs(&mut cs[2]).await > 0 {
        assert!(
            Instant::now() < deadline,
            "N3 still holds {} jobs; consumed {seen:?}",
            registered_jobs(&mut cs[2]).await
        );
        let r = cmd(&mut consumer, "GETJOB TIMEOUT 500 FROM dq").await;
        if r == Reply::NullArray {
            continue;
        }
        for (_, id, _) in job_entries(&r) {
            assert_eq!(cmd(&mut consumer, &format!("ACKJOB {id}")).await, int(1));
            seen.push(id);
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every job delivered exactly once");
    assert_eq!(qlen(&mut cs[2], "dq").await, 0);
}

#[tokio::test]
async fn c23_forget() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let n3 = cl.ids[2].clone();
    for c in &mut cs[..2] {
        assert_eq!(cmd(c, &format!("CLUSTER FORGET {n3}")).await, status("OK"));
    }
    let check = |info: String| {
        info_field(&info, "cluster_size") == Some("2".into())
            && info_field(&info, "cluster_known_nodes") == Some("2".into())
    };
    assert!(check(cluster_info(&mut cs[0]).await));
    assert_eq!(hello(&mut cs[0]).await.1.len(), 2);
    let id = addjob(&mut cs[0], "fg b 0").await;
    assert_eq!(show_int(&show_some(&mut cs[0], &id).await, "repl"), 2);
    // N3 keeps running and pinging: it is not re-added (blacklist).
    assert_during!(ms(1500), "N3 is not re-added", {
        check(cluster_info(&mut cs[0]).await) && check(cluster_info(&mut cs[1]).await)
    });
    let me = cl.ids[0].clone();
    assert_eq!(
        cmd(&mut cs[0], &format!("CLUSTER FORGET {me}")).await,
        error("ERR I tried hard but I can't forget myself...")
    );
    assert_eq!(
        cmd(&mut cs[0], "CLUSTER FORGET abc").await,
        error("ERR Invalid node identifier")
    );
    let unknown = "0123456789012345678901234567890123456789";
    assert_eq!(
        cmd(&mut cs[0], &format!("CLUSTER FORGET {unknown}")).await,
        error(&format!("ERR Unknown node {unknown}"))
    );
}

#[tokio::test]
async fn c24_cluster_reset() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    addjob(&mut cs[2], "rs1 b 0 REPLICATE 1").await;
    addjob(&mut cs[0], "rs2 b 0").await; // a replica on N3
    assert_eq!(cmd(&mut cs[2], "PAUSE rs3 in").await, status("in"));
    assert_eq!(registered_jobs(&mut cs[2]).await, 2);

    assert_eq!(
        cmd(&mut cs[2], "CLUSTER RESET foo").await,
        error("ERR syntax error")
    );
    assert_eq!(cmd(&mut cs[2], "CLUSTER RESET HARD").await, status("OK"));
    let new_id = myid(&mut cs[2]).await;
    assert_ne!(new_id, cl.ids[2]);
    assert_eq!(new_id.len(), 40);
    assert_eq!(
        cluster_info_value(&mut cs[2], "cluster_known_nodes").await,
        "1"
    );
    assert_eq!(registered_jobs(&mut cs[2]).await, 0);
    assert!(qscan_names(&mut cs[2]).await.is_empty());
    assert_eq!(hello(&mut cs[2]).await.1.len(), 1);

    // SOFT (the default) keeps the id.
    let id2 = cl.ids[1].clone();
    assert_eq!(cmd(&mut cs[1], "CLUSTER RESET").await, status("OK"));
    assert_eq!(myid(&mut cs[1]).await, id2);
    assert_eq!(
        cluster_info_value(&mut cs[1], "cluster_known_nodes").await,
        "1"
    );
    assert_eq!(registered_jobs(&mut cs[1]).await, 0);
}

/// CLUSTER MEET argument checks (docs/commands.md §CLUSTER MEET), a MEET of a
/// known node, a handshake that never completes (listed with priority 5, not
/// counted in the cluster size, gone after max(node timeout, 1 s)).
#[tokio::test]
async fn meet_checks_and_handshake_expiry() {
    let cl = Cluster::start_with(3, Server::options().arg("cluster-node-timeout", "1500")).await;
    let mut c = cl.client(0).await;
    for port in ["55536", "0", "-5", "65535"] {
        assert_eq!(
            cmd(&mut c, &format!("CLUSTER MEET 127.0.0.1 {port}")).await,
            error(&format!(
                "ERR Invalid node address specified: 127.0.0.1:{port}"
            ))
        );
    }
    assert_eq!(
        cmd(&mut c, "CLUSTER MEET 127.0.0.1 7711x").await,
        error("ERR Invalid TCP port specified: 7711x")
    );
    assert_eq!(
        cmd(&mut c, "CLUSTER MEET 127.0.0.256 7711").await,
        error("ERR Invalid node address specified: 127.0.0.256:7711")
    );
    // Meeting a known node: the temporary record is dropped once its PONG
    // shows the id is known.
    let p2 = cl.port(1).to_string();
    assert_eq!(
        cmd(&mut c, &format!("CLUSTER MEET 127.0.0.1 {p2}")).await,
        status("OK")
    );
    poll_until!(secs(3), "no handshake record left", {
        let nodes = cluster_nodes(&mut c).await;
        nodes.len() == 3 && nodes.values().all(|l| !l.has_flag("handshake"))
    });

    // Nobody listens there: the handshake never completes.
    let dead = free_port();
    let t = std::time::Instant::now();
    for _ in 0..2 {
        assert_eq!(
            cmd(&mut c, &format!("CLUSTER MEET 127.0.0.1 {dead}")).await,
            status("OK")
        );
    }
    let addr = format!("127.0.0.1:{dead}");
    let pending: Vec<NodeLine> = cluster_nodes(&mut c)
        .await
        .into_values()
        .filter(|l| l.has_flag("handshake"))
        .collect();
    assert_eq!(pending.len(), 1, "one handshake per address: {pending:?}");
    assert_eq!(pending[0].addr, addr);
    let (_, hello_nodes) = hello(&mut c).await;
    let h = hello_nodes
        .iter()
        .find(|n| n.id == pending[0].id)
        .expect("HELLO lists handshake nodes");
    assert_eq!(h.priority, "5", "{h:?}");
    assert_eq!(cluster_info_value(&mut c, "cluster_size").await, "3");
    let id = addjob(&mut c, "hs b 0").await;
    assert_eq!(show_int(&show_some(&mut c, &id).await, "repl"), 3);
    // nodes.conf never lists handshake nodes.
    let conf = std::fs::read_to_string(cl.nodes[0].dir.path().join("nodes.conf")).unwrap();
    assert!(!conf.contains(&addr), "{conf}");
    poll_until!(secs(4), "the handshake record expires", {
        cluster_nodes(&mut c).await.len() == 3
    });
    let took = t.elapsed();
    eprintln!("handshake expired after {took:?}");
    assert!(took >= ms(1400), "{took:?}");
}

/// MEET works in either direction: a new node meets one member and learns
/// the others through gossip; every member learns the new node.
#[tokio::test]
async fn a_fourth_node_joins_by_meeting_one_member() {
    let mut cl = Cluster::start(3).await;
    let n4 = cl.add_node(Server::options()).await;
    let mut c4 = cl.client(n4).await;
    let p2 = cl.port(1).to_string();
    assert_eq!(
        cmd(&mut c4, &format!("CLUSTER MEET 127.0.0.1 {p2}")).await,
        status("OK")
    );
    cl.wait_joined().await;
    for i in 0..4 {
        let mut c = cl.client(i).await;
        let info = cluster_info(&mut c).await;
        assert_eq!(
            info_field(&info, "cluster_size").as_deref(),
            Some("4"),
            "{info}"
        );
        assert_eq!(hello(&mut c).await.1.len(), 4);
    }
    // Default REPLICATE stays min(3, size).
    let id = addjob(&mut c4, "j4 b 0").await;
    let s = show_some(&mut c4, &id).await;
    assert_eq!(show_int(&s, "repl"), 3);
    assert_eq!(show_list(&s, "nodes-delivered").len(), 3);
}

/// The id of the one job of queue `q` on `c` (polling until it exists).
async fn pending_job(c: &mut Client, q: &str) -> String {
    let mut id;
    poll_until!(secs(2), format!("a job in {q}"), {
        id = jscan_ids(c, &format!("QUEUE {q}"))
            .await
            .first()
            .cloned()
            .unwrap_or_default();
        !id.is_empty()
    });
    id
}

/// docs/commands.md ADDJOB "other ways a blocked ADDJOB ends": the job is
/// deleted (DELJOB), the cluster is reset, or its TTL elapses while it
/// waits for replication.
#[tokio::test]
async fn blocked_addjob_ends_when_its_job_goes() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    for c in &mut cs[1..] {
        assert_eq!(cmd(c, "PAUSE wq in").await, status("in"));
    }
    const REMOVED: &str =
        "NOREPL job removed (expired?) before the requested replication level was achieved";
    // DELJOB while waiting.
    let mut producer = cl.client(0).await;
    producer.send(&["ADDJOB", "wq", "b", "0"]).await.unwrap();
    let id = pending_job(&mut cs[0], "wq").await;
    assert_eq!(cmd(&mut cs[0], &format!("DELJOB {id}")).await, int(1));
    let r = producer.read_reply_timeout(secs(2)).await.unwrap();
    assert_eq!(r, Some(error(REMOVED)));

    // The TTL elapses while waiting (timeout 0 = forever).
    let t = Instant::now();
    producer
        .send(&["ADDJOB", "wq", "b", "0", "TTL", "1"])
        .await
        .unwrap();
    let r = producer.read_reply_timeout(secs(4)).await.unwrap();
    assert_eq!(r, Some(error(REMOVED)));
    assert!(t.elapsed() >= ms(900), "{:?}", t.elapsed());

    // CLUSTER RESET while waiting.
    producer.send(&["ADDJOB", "wq", "b", "0"]).await.unwrap();
    pending_job(&mut cs[0], "wq").await;
    assert_eq!(cmd(&mut cs[0], "CLUSTER RESET SOFT").await, status("OK"));
    let r = producer.read_reply_timeout(secs(2)).await.unwrap();
    assert_eq!(r, Some(error(REMOVED)));
}

/// Big bodies and bursts go through the bus intact: a 1 MB body replicated
/// to 3 nodes and moved by federation, and 500 pipelined ADDJOBs.
#[tokio::test]
async fn large_bodies_and_bursts_replicate() {
    let cl = Cluster::start(3).await;
    let mut cs = cl.clients().await;
    let body: String = (0..1_000_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let r = cs[0].call(&["ADDJOB", "big", &body, "0"]).await.unwrap();
    let id = text(&r);
    for c in cs.iter_mut() {
        let s = show_some(c, &id).await;
        assert_eq!(field(&s, "body"), &bulk(&body));
    }
    let r = cs[0]
        .call(&["ADDJOB", "big2", &body, "0", "REPLICATE", "1"])
        .await
        .unwrap();
    let id2 = text(&r);
    let r = cmd(&mut cs[2], "GETJOB TIMEOUT 5000 FROM big2").await;
    assert_eq!(job_entries(&r), vec![("big2".into(), id2, body.clone())]);

    // A burst of pipelined synchronous ADDJOBs.
    let n = 500;
    let mut p = cl.client(1).await;
    let bodies: Vec<String> = (0..n).map(|i| format!("burst-{i}")).collect();
    let cmds: Vec<Vec<&str>> = bodies
        .iter()
        .map(|b| vec!["ADDJOB", "burst", b.as_str(), "5000"])
        .collect();
    let refs: Vec<&[&str]> = cmds.iter().map(Vec::as_slice).collect();
    let t = Instant::now();
    p.send_many(&refs).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = p
            .read_reply_timeout(secs(10))
            .await
            .unwrap()
            .expect("reply");
        match r {
            Reply::Status(s) => ids.push(String::from_utf8(s.to_vec()).unwrap()),
            other => panic!("ADDJOB in a burst: {other:?}"),
        }
    }
    eprintln!("{n} pipelined ADDJOB REPLICATE 3 in {:?}", t.elapsed());
    assert_eq!(qlen(&mut cs[1], "burst").await, n as i64);
    for c in cs.iter_mut() {
        assert_eq!(jscan_ids(c, "QUEUE burst").await.len(), n);
    }
}
