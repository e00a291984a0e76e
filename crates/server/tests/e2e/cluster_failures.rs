//! docs/behaviour-scenarios.md section D (D-01 … D-07) and the users' experiments
//! U-01 … U-03 (the original behaviour; the D8 re-replication parts belong to
//! a later issue), plus kill -9 / restart from nodes.conf, failure detection
//! timings (PFAIL after the node timeout, FAIL soon after on every node: D7)
//! and HELLO priorities. Three real nodes on loopback.

use crate::common::*;
use std::time::Instant;

/// The node timeout used where failure detection matters.
const NODE_TIMEOUT_MS: u64 = 2000;

async fn cluster_with_timeout() -> Cluster {
    Cluster::start_with(
        3,
        Server::options().arg("cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()),
    )
    .await
}

fn has(flags: &[String], f: &str) -> bool {
    flags.iter().any(|x| x == f)
}

#[tokio::test]
async fn kill9_and_restart_rejoins_with_the_same_id() {
    let mut cl = Cluster::start(3).await;
    let old_port = cl.port(1);
    cl.kill(1);
    cl.restart(1).await;
    assert_eq!(cl.port(1), old_port);
    let mut c = cl.client(1).await;
    assert_eq!(myid(&mut c).await, cl.ids[1]);
    // No MEET: it rejoins from nodes.conf.
    cl.wait_joined().await;
    let nodes = cluster_nodes(&mut c).await;
    let mut ids: Vec<_> = nodes.keys().cloned().collect();
    ids.sort();
    let mut want = cl.ids.clone();
    want.sort();
    assert_eq!(ids, want);
    for c in &mut cl.clients().await {
        poll_until!(secs(5), "every link up again", {
            cluster_nodes(c).await.values().all(|l| {
                l.link == "connected" && l.flags.iter().all(|f| f == "myself" || f == "noflags")
            })
        });
    }
    // The node is fully usable: replication through it works.
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "rj b 0").await;
    assert_eq!(job_state(&mut c, &id).await, "active");
}

#[tokio::test]
async fn d01_node_failure_replicate_1_loses_the_job() {
    let mut cl = Cluster::start(3).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "f1 b 0 REPLICATE 1").await;
    drop(c0);
    cl.kill(0);
    let mut c1 = cl.client(1).await;
    let mut c2 = cl.client(2).await;
    assert_during!(ms(500), "no copy elsewhere", {
        show(&mut c1, &id).await.is_none() && show(&mut c2, &id).await.is_none()
    });
    cl.restart(0).await;
    let mut c0 = cl.client(0).await;
    assert_eq!(myid(&mut c0).await, cl.ids[0]);
    cl.wait_joined().await;
    assert_eq!(registered_jobs(&mut c0).await, 0);
    assert!(show(&mut c1, &id).await.is_none());
    assert!(show(&mut c2, &id).await.is_none());
}

#[tokio::test]
async fn d02_node_failure_replicate_2_the_survivor_requeues() {
    let mut cl = Cluster::start(3).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "f2 b 0 REPLICATE 2 RETRY 2").await;
    let delivered = show_list(&show_some(&mut c0, &id).await, "nodes-delivered");
    assert!(delivered.contains(&cl.ids[0]), "{delivered:?}");
    // Normally exactly two; the retry loop may add the third (docs/cluster.md
    // §6.2): then whichever replica's timer fires first queues it.
    let others: Vec<usize> = delivered
        .iter()
        .map(|d| cl.index_of(d))
        .filter(|&i| i != 0)
        .collect();
    assert!(!others.is_empty() && delivered.len() <= 3, "{delivered:?}");
    drop(c0);
    let t = Instant::now();
    cl.kill(0);
    let mut cs = Vec::new();
    for &i in &others {
        cs.push(cl.client(i).await);
    }
    poll_until!(secs(6), "a surviving holder queued the job", {
        qlen_sum(&mut cs, "f2").await == 1
    });
    eprintln!("requeued by a survivor {:?} after the kill", t.elapsed());
    let mut got = None;
    for c in cs.iter_mut() {
        if qlen(c, "f2").await == 1 {
            got = Some(cmd(c, "GETJOB FROM f2").await);
            let s = show_some(c, &id).await;
            assert_eq!(show_int(&s, "additional-deliveries"), 1, "{s:?}");
        }
    }
    let got = got.expect("a queued copy");
    assert_eq!(job_entries(&got), vec![("f2".into(), id, "b".into())]);
}

/// D-03 and D-04: one survivor queues; with three nodes there is no node left
/// to hold a new copy, so none is made, even after the dead node is
/// forgotten (with a spare node D8 replaces it: `rereplication.rs`).
#[tokio::test]
async fn d03_d04_replicate_3_one_copy_queued_no_rereplication() {
    let mut cl = Cluster::start(3).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "f3 b 0 RETRY 2").await;
    drop(c0);
    cl.kill(0);
    let mut cs = vec![cl.client(1).await, cl.client(2).await];
    poll_until!(secs(6), "one survivor queued the job", {
        qlen_sum(&mut cs, "f3").await == 1
    });
    // Stays queued once (a double queueing is resolved by QUEUED).
    assert_during!(ms(500), "queued at most once", {
        qlen_sum(&mut cs, "f3").await <= 1
    });
    // D-04: N2 still lists N1; no copy was made.
    for c in cs.iter_mut() {
        let d = show_list(&show_some(c, &id).await, "nodes-delivered");
        assert!(d.contains(&cl.ids[0]), "{d:?}");
        assert_eq!(d.len(), 3, "{d:?}");
    }
    for c in cs.iter_mut() {
        assert_eq!(
            cmd(c, &format!("CLUSTER FORGET {}", cl.ids[0])).await,
            status("OK")
        );
    }
    for c in cs.iter_mut() {
        let d = show_list(&show_some(c, &id).await, "nodes-delivered");
        assert!(d.contains(&cl.ids[0]), "{d:?}");
    }
}

/// D-05 with timings: PFAIL after the node timeout, FAIL shortly after on
/// both survivors (D7: gossip about every known node), HELLO priorities
/// 1 → 5 → 10 → 100 → 1 after the restart.
#[tokio::test]
async fn d05_failure_detection_and_hello_priorities() {
    let mut cl = cluster_with_timeout().await;
    let mut c0 = cl.client(0).await;
    let mut c1 = cl.client(1).await;
    let n3 = cl.ids[2].clone();
    assert_eq!(hello_priority(&mut c0, &n3).await.as_deref(), Some("1"));
    let t = Instant::now();
    cl.kill(2);

    // No link: priority 5 (maybe 1 while a reconnect attempt is pending).
    poll_until!(ms(1500), "N1 reports N3 with priority 5", {
        hello_priority(&mut c0, &n3).await.as_deref() == Some("5")
    });
    let mut t_pfail = None;
    let mut t_fail = [None, None];
    let deadline = t + ms(NODE_TIMEOUT_MS * 5);
    while t_fail.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "PFAIL at {t_pfail:?}, FAIL at {t_fail:?} (N1, N2)"
        );
        for (k, c) in [&mut c0, &mut c1].into_iter().enumerate() {
            let f = node_flags(c, &n3).await;
            let p = hello_priority(c, &n3).await.unwrap();
            if k == 0 && t_pfail.is_none() && has(&f, "fail?") {
                t_pfail = Some(t.elapsed());
                assert_eq!(p, "10", "PFAIL priority; flags {f:?}");
            }
            if t_fail[k].is_none() && has(&f, "fail") {
                t_fail[k] = Some(t.elapsed());
                assert!(!has(&f, "fail?"), "{f:?}");
                assert_eq!(p, "100", "FAIL priority");
            }
        }
        tokio::time::sleep(ms(10)).await;
    }
    eprintln!(
        "kill -9 N3: N1 PFAIL after {t_pfail:?}; FAIL on N1 after {:?}, on N2 after {:?}",
        t_fail[0], t_fail[1]
    );
    // PFAIL is N1's own opinion after the node timeout; it may be skipped
    // in our polling only if N2's FAIL message came first.
    if let Some(p) = t_pfail {
        assert!(p >= ms(NODE_TIMEOUT_MS - 300), "PFAIL too early: {p:?}");
        assert!(p <= ms(NODE_TIMEOUT_MS + 1500), "PFAIL too late: {p:?}");
    }
    for f in t_fail.iter().flatten() {
        assert!(*f >= ms(NODE_TIMEOUT_MS - 300), "FAIL too early: {f:?}");
        assert!(*f <= ms(NODE_TIMEOUT_MS * 3), "FAIL too late: {f:?}");
    }
    let info = cluster_info(&mut c0).await;
    assert_eq!(
        info_field(&info, "cluster_size").as_deref(),
        Some("3"),
        "{info}"
    );
    cl.wait_reachable(0, 1, secs(1)).await;

    cl.restart(2).await;
    let t = Instant::now();
    for c in [&mut c0, &mut c1] {
        poll_until!(secs(5), "N3 healthy again", {
            hello_priority(c, &n3).await.as_deref() == Some("1")
                && node_flags(c, &n3).await == vec!["noflags".to_string()]
        });
    }
    eprintln!("restarted N3 healthy on N1 and N2 after {:?}", t.elapsed());
    cl.wait_joined().await;
}

/// A stopped (SIGSTOP) node is detected like a dead one, and a FAIL node
/// that answers again is healthy at once (docs/cluster.md §4.4).
#[tokio::test]
async fn sigstop_fail_then_sigcont_clears() {
    let cl = cluster_with_timeout().await;
    let mut c0 = cl.client(0).await;
    let mut c2 = cl.client(2).await;
    let n2 = cl.ids[1].clone();
    cl.pause(1);
    let t = Instant::now();
    poll_until!(ms(NODE_TIMEOUT_MS * 5), "N2 FAIL on N1 and N3", {
        has(&node_flags(&mut c0, &n2).await, "fail") && has(&node_flags(&mut c2, &n2).await, "fail")
    });
    eprintln!("SIGSTOP N2: FAIL on N1 and N3 after {:?}", t.elapsed());
    assert!(t.elapsed() >= ms(NODE_TIMEOUT_MS - 300));
    assert_eq!(hello_priority(&mut c0, &n2).await.as_deref(), Some("100"));
    cl.wait_reachable(0, 1, secs(1)).await;
    // ADDJOB with the default REPLICATE 3 now fails at once.
    assert_eq!(
        cmd(&mut c0, "ADDJOB sq b 0").await,
        error("NOREPL Not enough reachable nodes for the requested replication level")
    );
    cl.resume(1);
    let t = Instant::now();
    poll_until!(secs(5), "N2 healthy again on N1 and N3", {
        node_flags(&mut c0, &n2).await == vec!["noflags".to_string()]
            && node_flags(&mut c2, &n2).await == vec!["noflags".to_string()]
    });
    eprintln!("SIGCONT N2: flags cleared after {:?}", t.elapsed());
    cl.wait_joined().await;
    addjob(&mut c0, "sq b 0").await;
}

#[tokio::test]
async fn d06_addjob_while_a_node_is_down() {
    let mut cl = cluster_with_timeout().await;
    let mut c0 = cl.client(0).await;
    let n3 = cl.ids[2].clone();
    cl.kill(2);
    let t = Instant::now();
    // N3 still counts as reachable: REPLJOB goes nowhere, the ADDJOB waits.
    assert_eq!(
        cmd(&mut c0, "ADDJOB dn b 1000").await,
        error("NOREPL Timeout reached before replicating to the requested number of nodes")
    );
    let took = t.elapsed();
    assert!(
        took >= ms(950) && took < ms(NODE_TIMEOUT_MS),
        "took {took:?}"
    );
    poll_until!(ms(NODE_TIMEOUT_MS * 3), "N3 flagged failing on N1", {
        let f = node_flags(&mut c0, &n3).await;
        has(&f, "fail?") || has(&f, "fail")
    });
    cl.wait_reachable(0, 1, secs(1)).await;
    let t = Instant::now();
    assert_eq!(
        cmd(&mut c0, "ADDJOB dn b 1000").await,
        error("NOREPL Not enough reachable nodes for the requested replication level")
    );
    assert!(t.elapsed() < ms(500));
    let id = addjob(&mut c0, "dn b 1000 REPLICATE 2").await;
    let mut c1 = cl.client(1).await;
    assert_eq!(job_state(&mut c1, &id).await, "active");
}

/// The original's behaviour (`rereplicate no`); with D8 the restarted node
/// gets its copy back (`rereplication.rs`).
#[tokio::test]
async fn d07_restart_without_aof_in_a_cluster() {
    let mut cl = Cluster::start_with(3, Server::options().arg("rereplicate", "no")).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "rs b 0 RETRY 3").await;
    let got = cmd(&mut c0, "GETJOB FROM rs").await;
    assert_eq!(job_entries(&got).len(), 1);
    cl.restart(1).await;
    let mut c1 = cl.client(1).await;
    assert_eq!(registered_jobs(&mut c1).await, 0);
    let mut c2 = cl.client(2).await;
    assert!(show(&mut c0, &id).await.is_some());
    assert!(show(&mut c2, &id).await.is_some());
    cl.wait_joined().await;
    let mut holders = vec![c0, c2];
    poll_until!(secs(6), "requeued on N1 or N3", {
        qlen_sum(&mut holders, "rs").await == 1
    });
    assert_eq!(qlen(&mut c1, "rs").await, 0);
    assert!(show(&mut c1, &id).await.is_none());
    assert_eq!(registered_jobs(&mut c1).await, 0);
}

/// U-01 … U-03 (original behaviour, `rereplicate no`): three jobs of
/// replication 1, 2 and 3 on N1; N1 dies; the survivors queue b and c once;
/// the dead nodes restart empty and pull a queued job through federation.
/// RETRY is 2 instead of 300 to keep the test short. D8's outcome is tested
/// in `rereplication.rs`.
#[tokio::test]
async fn u01_u02_u03_users_experiment_without_aof() {
    let mut cl = Cluster::start_with(
        3,
        Server::options()
            .arg("appendonly", "no")
            .arg("aof-enqueue-jobs-once", "no")
            .arg("rereplicate", "no"),
    )
    .await;
    let mut cs = cl.clients().await;
    let a = addjob(&mut cs[0], "testqueue a 0 REPLICATE 1 RETRY 2").await;
    let b = addjob(&mut cs[0], "testqueue b 0 REPLICATE 2 RETRY 2").await;
    let c = addjob(&mut cs[0], "testqueue c 0 REPLICATE 3 RETRY 2").await;

    // U-01
    assert_eq!(qscan_names(&mut cs[0]).await, vec!["testqueue".to_string()]);
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(jscan_ids(&mut cs[0], "").await, all);
    let q = qstat(&mut cs[0], "testqueue").await.expect("QSTAT on N1");
    assert_eq!(show_int(&q, "len"), 3);
    assert_eq!(show_int(&q, "jobs-in"), 3);
    assert_eq!(show_int(&q, "jobs-out"), 0);
    let b_delivered = show_list(&show_some(&mut cs[0], &b).await, "nodes-delivered");
    for (i, c_) in cs.iter_mut().enumerate().skip(1) {
        assert!(qscan_names(c_).await.is_empty());
        assert!(qstat(c_, "testqueue").await.is_none());
        let mut want = vec![c.clone()];
        if b_delivered.contains(&cl.ids[i]) {
            want.push(b.clone());
        }
        want.sort();
        let held = jscan_ids(c_, "").await;
        assert_eq!(held, want, "node {i}");
        for id in &held {
            assert_eq!(job_state(c_, id).await, "active");
        }
    }

    // U-02: N1 dies. a is gone; b and c are queued once each.
    cl.kill(0);
    let mut survivors = cs.split_off(1);
    drop(cs);
    for s in survivors.iter_mut() {
        assert!(show(s, &a).await.is_none());
    }
    poll_until!(secs(6), "b and c queued once across the survivors", {
        qlen_sum(&mut survivors, "testqueue").await == 2
    });
    let mut queued = Vec::new();
    let mut jobs_in = 0;
    for s in survivors.iter_mut() {
        queued.extend(jscan_ids(s, "STATE queued").await);
        if let Some(q) = qstat(s, "testqueue").await {
            assert_eq!(show_int(&q, "len"), qlen(s, "testqueue").await);
            jobs_in += show_int(&q, "jobs-in");
        }
    }
    queued.sort();
    let mut bc = vec![b.clone(), c.clone()];
    bc.sort();
    assert_eq!(queued, bc);
    assert_eq!(jobs_in, 2);

    // U-03: N3 dies too; both restart without AOF: old ids, nothing held.
    cl.kill(2);
    survivors.truncate(1);
    cl.restart(0).await;
    cl.restart(2).await;
    for i in [0, 2] {
        let mut c_ = cl.client(i).await;
        assert_eq!(myid(&mut c_).await, cl.ids[i]);
        assert!(qscan_names(&mut c_).await.is_empty());
        assert!(jscan_ids(&mut c_, "").await.is_empty());
        assert!(qstat(&mut c_, "testqueue").await.is_none());
    }
    cl.wait_joined().await;
    // A GETJOB on a restarted node pulls a queued job from N2.
    let mut c0 = cl.client(0).await;
    let r = cmd(&mut c0, "GETJOB TIMEOUT 10000 FROM testqueue").await;
    let got = job_entries(&r);
    assert_eq!(got.len(), 1, "{r:?}");
    let id = &got[0].1;
    assert!(bc.contains(id), "{id}");
    assert_eq!(job_state(&mut c0, id).await, "active");
}

/// A node's nodes.conf lists every known node and survives kill -9; a node
/// restarted while the others are down still knows them and rejoins when
/// they come back.
#[tokio::test]
async fn restart_all_nodes_rejoin_from_nodes_conf() {
    let mut cl = Cluster::start(3).await;
    for i in 0..3 {
        let conf =
            std::fs::read_to_string(cl.nodes[i].dir.path().join("nodes.conf")).expect("nodes.conf");
        for id in &cl.ids {
            assert!(
                conf.contains(id.as_str()),
                "node {i} nodes.conf lacks {id}:\n{conf}"
            );
        }
    }
    for i in 0..3 {
        cl.kill(i);
    }
    let t = Instant::now();
    for i in 0..3 {
        cl.restart(i).await;
    }
    cl.wait_joined().await;
    eprintln!("all three restarted and rejoined in {:?}", t.elapsed());
    for i in 0..3 {
        let mut c = cl.client(i).await;
        assert_eq!(myid(&mut c).await, cl.ids[i]);
    }
}

/// docs/cluster.md §3: nodes.conf is locked for the life of its node; a second
/// process using the same file exits with an error (two processes with one
/// node id would corrupt the cluster).
#[tokio::test]
async fn nodes_conf_is_locked_by_its_node() {
    let first = Server::start().await;
    let mut c = first.client().await;
    let id = myid(&mut c).await;
    let port = free_port();
    let log = first.dir.path().join("second.log");
    let mut cmd_ = std::process::Command::new(server_bin());
    cmd_.arg("--port")
        .arg(port.to_string())
        .arg("--bind")
        .arg("127.0.0.1")
        .arg("--dir")
        .arg(first.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null());
    kill_with_parent(&mut cmd_);
    let mut second = cmd_.spawn().expect("spawn");
    let deadline = Instant::now() + secs(5);
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(ms(20)).await;
    };
    if status.is_none() {
        let _ = second.kill();
        let _ = second.wait();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!("a second server on the same nodes.conf keeps running (node {id}):\n{text}")
    });
    assert!(!status.success(), "{status}");
    assert!(
        text.contains("is already used by a different Disque node"),
        "{text}"
    );
}

/// docs/cluster.md §2: right after a restart, nodes loaded from nodes.conf
/// without failure flags count as reachable at once, before any link is up;
/// dead ones become PFAIL after the node timeout (no FAIL: nobody else can
/// report). They rejoin when they come back.
#[tokio::test]
async fn restarted_alone_peers_are_reachable_until_the_node_timeout() {
    let mut cl = cluster_with_timeout().await;
    for i in 0..3 {
        cl.kill(i);
    }
    cl.restart(0).await;
    let mut c = cl.client(0).await;
    let t = Instant::now();
    assert_eq!(
        cluster_info_value(&mut c, "cluster_reachable_nodes").await,
        "2"
    );
    assert_eq!(cluster_info_value(&mut c, "cluster_size").await, "3");
    poll_until!(ms(NODE_TIMEOUT_MS * 3), "both peers PFAIL", {
        let nodes = cluster_nodes(&mut c).await;
        [1, 2].iter().all(|&j| nodes[&cl.ids[j]].has_flag("fail?"))
    });
    assert!(
        t.elapsed() >= ms(NODE_TIMEOUT_MS - 300),
        "{:?}",
        t.elapsed()
    );
    cl.wait_reachable(0, 0, secs(1)).await;
    for j in [1, 2] {
        assert_eq!(
            hello_priority(&mut c, &cl.ids[j]).await.as_deref(),
            Some("10")
        );
    }
    cl.restart(1).await;
    cl.restart(2).await;
    cl.wait_joined().await;
}

/// D7 in a five-node cluster: FAIL needs the reports of two other nodes; it
/// reaches every survivor within a few node timeouts.
#[tokio::test]
async fn d7_fail_reaches_every_node_of_five() {
    let mut cl = Cluster::start_with(
        5,
        Server::options().arg("cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()),
    )
    .await;
    let dead = cl.ids[4].clone();
    let t = Instant::now();
    cl.kill(4);
    let mut cs = Vec::new();
    for i in 0..4 {
        cs.push(cl.client(i).await);
    }
    let mut when = [None; 4];
    while when.iter().any(Option::is_none) {
        assert!(
            t.elapsed() < ms(NODE_TIMEOUT_MS * 4),
            "FAIL seen at {when:?} after the kill"
        );
        for (i, c) in cs.iter_mut().enumerate() {
            if when[i].is_none() && has(&node_flags(c, &dead).await, "fail") {
                when[i] = Some(t.elapsed());
            }
        }
        tokio::time::sleep(ms(20)).await;
    }
    eprintln!("five nodes: FAIL seen at {when:?} after the kill");
    for (i, c) in cs.iter_mut().enumerate() {
        let info = cluster_info(c).await;
        assert_eq!(info_field(&info, "cluster_size").as_deref(), Some("5"));
        cl.wait_reachable(i, 3, secs(1)).await;
    }
}
