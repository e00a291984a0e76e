//! Re-replication (decision D8) on real processes: the users' failure test
//! (U-01 … U-03) with our outcome, D-04 with a spare node, a leaving node
//! drained, `CLUSTER FORGET` of a dead node, nodes that come back empty, and
//! the `rereplicate` setting. Nodes run with a 2 s node timeout so failures
//! are detected quickly.

use crate::common::*;

const NODE_TIMEOUT_MS: &str = "2000";
/// Failure detection, then a round of copies.
const REPAIR: std::time::Duration = std::time::Duration::from_secs(15);

fn options() -> ServerOptions {
    Server::options()
        .arg("cluster-node-timeout", NODE_TIMEOUT_MS)
        .arg("appendonly", "no")
}

/// The nodes (by index, among those running) that hold `id`.
async fn copies(cl: &Cluster, id: &str) -> Vec<usize> {
    cl.holders(id).await
}

/// INFO `jobs` field of node `i` as a number.
async fn jobs_field(cl: &Cluster, i: usize, key: &str) -> i64 {
    let mut c = cl.client(i).await;
    info_field(&info(&mut c, "jobs").await, key)
        .unwrap_or_else(|| panic!("INFO jobs has no {key}"))
        .parse()
        .unwrap()
}

/// U-01 … U-03 as the users ran them, with D8's outcome: b (REPLICATE 2)
/// gets a copy on the third node once N1 is marked failed, so it survives
/// the death of a second node; a (REPLICATE 1) is lost, as it must be; the
/// two dead nodes restarted without AOF get copies again, back to three
/// copies of c and two of b.
#[tokio::test]
async fn users_failure_test_with_rereplication() {
    let mut cl = Cluster::start_with(3, options()).await;
    let mut c0 = cl.client(0).await;
    let a = addjob(&mut c0, "testqueue a 0 REPLICATE 1 RETRY 2").await;
    let b = addjob(&mut c0, "testqueue b 0 REPLICATE 2 RETRY 2").await;
    let c = addjob(&mut c0, "testqueue c 0 REPLICATE 3 RETRY 2").await;
    drop(c0);
    assert_eq!(copies(&cl, &b).await.len(), 2);

    // N1 is shut down: once it is marked failed, b is copied to the third node.
    cl.kill(0);
    poll_until!(REPAIR, "b copied to both survivors", {
        copies(&cl, &b).await == vec![1, 2]
    });
    assert!(copies(&cl, &a).await.is_empty());
    for i in [1, 2] {
        let mut s = cl.client(i).await;
        let state = job_state(&mut s, &b).await;
        assert!(state == "active" || state == "queued", "{state}");
    }
    // The copy exists a moment before its maker counts it (on the GOTJOB).
    let counted = || async {
        jobs_field(&cl, 1, "rereplicated_jobs").await
            + jobs_field(&cl, 2, "rereplicated_jobs").await
    };
    poll_until!(secs(5), "the copy counted by one survivor", {
        counted().await >= 1
    });
    assert_eq!(counted().await, 1, "exactly one survivor made the copy");

    // A second node dies: the last one still delivers b and c.
    cl.kill(1);
    let mut last = cl.client(2).await;
    let mut got = Vec::new();
    poll_until!(secs(10), "b and c delivered by the last node", {
        let r = cmd(&mut last, "GETJOB NOHANG COUNT 10 FROM testqueue").await;
        if r != Reply::NullArray {
            got.extend(job_entries(&r).into_iter().map(|e| e.1));
        }
        got.sort();
        got.dedup();
        got.len() == 2
    });
    let mut bc = vec![b.clone(), c.clone()];
    bc.sort();
    assert_eq!(got, bc);
    assert!(show(&mut last, &a).await.is_none());

    // Both dead nodes come back without AOF: c has three copies again, b two.
    cl.restart(0).await;
    cl.restart(1).await;
    poll_until!(REPAIR, "c back to three copies and b to two", {
        copies(&cl, &c).await.len() == 3 && copies(&cl, &b).await.len() == 2
    });
    for i in 0..3 {
        let mut s = cl.client(i).await;
        assert!(show(&mut s, &a).await.is_none());
    }
}

/// D-04 with D8: with a spare node, the copy lost with N1 is made again,
/// and SHOW on a surviving holder lists the new holder.
#[tokio::test]
async fn d04_a_failed_holder_is_replaced() {
    let mut cl = Cluster::start_with(4, options()).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "f4 b 0 REPLICATE 3 RETRY 30").await;
    drop(c0);
    let before = copies(&cl, &id).await;
    assert_eq!(before.len(), 3);
    assert!(before.contains(&0));
    let spare = (1..4).find(|i| !before.contains(i)).unwrap();
    cl.kill(0);
    poll_until!(REPAIR, "a copy on the spare node", {
        copies(&cl, &id).await.len() == 3
    });
    // Every surviving holder lists the new one (the one that did not make
    // the copy learns it from the holder list announced after it).
    for survivor in before.iter().filter(|i| **i != 0) {
        let mut c = cl.client(*survivor).await;
        poll_until!(secs(5), "SHOW lists the new holder", {
            show_list(&show_some(&mut c, &id).await, "nodes-delivered").contains(&cl.ids[spare])
        });
    }
    let mut s = cl.client(spare).await;
    assert_eq!(job_state(&mut s, &id).await, "active");
    // The job is still queued at most once across the cluster.
    let mut cs = Vec::new();
    for i in 1..4 {
        cs.push(cl.client(i).await);
    }
    assert!(qlen_sum(&mut cs, "f4").await <= 1);
}

/// A leaving node is drained to zero copies while every job keeps its
/// REPLICATE copies on the other nodes; queued jobs stay deliverable.
#[tokio::test]
async fn leaving_node_is_drained() {
    let cl = Cluster::start_with(4, options()).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut c = cl.client(i).await;
        for n in 0..10 {
            ids.push(addjob(&mut c, &format!("drain j{i}-{n} 0 REPLICATE 3 RETRY 60")).await);
        }
    }
    let mut c0 = cl.client(0).await;
    assert!(registered_jobs(&mut c0).await > 0);
    assert_eq!(cmd(&mut c0, "CLUSTER LEAVING yes").await, status("OK"));
    poll_until!(REPAIR, "node 0 drained", {
        registered_jobs(&mut c0).await == 0
    });
    for id in &ids {
        let held = copies(&cl, id).await;
        assert!(!held.contains(&0), "{id} still on the leaving node");
        assert!(held.len() >= 3, "{id} has {held:?}");
    }
    // Every job is still delivered exactly as often as it was queued.
    let mut cs = Vec::new();
    for i in 1..4 {
        cs.push(cl.client(i).await);
    }
    poll_until!(secs(5), "the 40 jobs queued once each", {
        qlen_sum(&mut cs, "drain").await == 40
    });
}

/// `CLUSTER FORGET` of a dead node tops its jobs up, even before the node
/// would be marked failed (here never: the node timeout is long).
#[tokio::test]
async fn forgetting_a_dead_holder_tops_its_jobs_up() {
    let mut cl = Cluster::start_with(4, Server::options().arg("appendonly", "no")).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "fg b 0 REPLICATE 3 RETRY 30").await;
    drop(c0);
    let before = copies(&cl, &id).await;
    let dead = *before.iter().find(|i| **i != 0).unwrap();
    let dead_id = cl.ids[dead].clone();
    cl.kill(dead);
    for i in (0..4).filter(|i| *i != dead) {
        let mut c = cl.client(i).await;
        assert_eq!(
            cmd(&mut c, &format!("CLUSTER FORGET {dead_id}")).await,
            status("OK")
        );
    }
    poll_until!(REPAIR, "three copies again", {
        copies(&cl, &id).await.len() == 3
    });
}

/// A node restarted without its AOF (the others still up) announces it came
/// back empty: its copies are made again, and it is not counted as a holder
/// of jobs it does not have.
#[tokio::test]
async fn a_node_back_empty_gets_its_copies_again() {
    let mut cl = Cluster::start_with(3, options()).await;
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "em b 0 RETRY 30").await;
    drop(c0);
    assert_eq!(copies(&cl, &id).await.len(), 3);
    cl.restart(1).await;
    let mut c1 = cl.client(1).await;
    assert_eq!(registered_jobs(&mut c1).await, 0);
    poll_until!(REPAIR, "the restarted node holds a copy again", {
        show(&mut c1, &id).await.is_some()
    });
    assert_eq!(job_state(&mut c1, &id).await, "active");
}

/// `rereplicate`: CONFIG GET/SET with the usual yes/no error, and with `no`
/// nothing is copied again (the original's behaviour).
#[tokio::test]
async fn rereplicate_setting() {
    let mut cl = Cluster::start_with(3, options()).await;
    for i in 0..3 {
        let mut c = cl.client(i).await;
        assert_eq!(
            cmd(&mut c, "CONFIG GET rereplicate").await,
            arr(vec![bulk("rereplicate"), bulk("yes")])
        );
        assert_eq!(
            cmd(&mut c, "CONFIG SET rereplicate maybe").await,
            error("ERR Invalid argument 'maybe' for CONFIG SET 'rereplicate'")
        );
        assert_eq!(cmd(&mut c, "CONFIG SET rereplicate no").await, status("OK"));
    }
    let mut c0 = cl.client(0).await;
    let id = addjob(&mut c0, "off b 0 REPLICATE 2 RETRY 30").await;
    drop(c0);
    let before = copies(&cl, &id).await;
    let other = *before.iter().find(|i| **i != 0).unwrap();
    let spare = (1..3).find(|i| *i != other).unwrap();
    cl.kill(0);
    let mut s = cl.client(other).await;
    poll_until!(REPAIR, "node 0 marked failed", {
        node_flags(&mut s, &cl.ids[0])
            .await
            .iter()
            .any(|f| f == "fail")
    });
    let mut c = cl.client(spare).await;
    assert_during!(ms(1000), "copied with rereplicate no", {
        show(&mut c, &id).await.is_none()
    });
    assert_eq!(jobs_field(&cl, other, "underreplicated_jobs").await, 0);
    // Turned back on, the job is topped up at once.
    assert_eq!(
        cmd(&mut s, "CONFIG SET rereplicate yes").await,
        status("OK")
    );
    poll_until!(REPAIR, "copied once switched on", {
        show(&mut c, &id).await.is_some()
    });
}
