//! Leaving mode (docs/cluster.md §11) and PAUSE propagation (§10).

use crate::common::*;
use disque_core::job::JobState;
use disque_proto::Reply;

/// The LEAVING flag travels in PING/PONG headers: within about a second every
/// node shows priority 100 for the leaving node and stops counting it as
/// reachable, so a default-REPLICATE ADDJOB elsewhere fails.
#[test]
fn leaving_flag_propagates() {
    let mut net = cluster(3);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    assert_eq!(hello_priority(&mut net, 0, 0), 100);
    // Before the flag arrives, n1 still counts n0: its REPLJOB is ignored
    // there (no copy, no GOTJOB) and the ADDJOB times out.
    let c = net.client();
    assert!(net
        .cmd_as(1, c, &["ADDJOB", "q", "b", "300", "REPLICATE", "3"])
        .is_none());
    net.advance(50);
    assert_eq!(net.node(0).stats().registered_jobs, 0, "REPLJOB refused");
    let r = net.wait_reply(1, c, 1_000).unwrap();
    assert!(err_text(&r).starts_with("NOREPL Timeout"));
    net.advance(1_500);
    for i in 1..3 {
        assert_eq!(hello_priority(&mut net, i, 0), 100, "n{i}");
        assert_eq!(flags_of(&mut net, i, 0), "leaving");
        assert_eq!(net.node(i).reachable_count(), 1);
    }
    let r = net.cmd(1, &["ADDJOB", "q", "b", "0"]);
    assert_eq!(
        err_text(&r),
        "NOREPL Not enough reachable nodes for the requested replication level"
    );
    assert!(net.nodes_conf(0).unwrap().contains("myself,leaving"));
    net.cmd(0, &["CLUSTER", "LEAVING", "no"]);
    net.advance(1_500);
    assert_eq!(hello_priority(&mut net, 1, 0), 1);
}

/// On the leaving node: GETJOB that would block gets -LEAVING, clients
/// already blocked get -LEAVING at the next cron, a waiting synchronous ADDJOB
/// fails with -LEAVING and its job is deleted everywhere, REPLJOB is refused,
/// no NEEDJOBS is sent, but it still gives jobs to nodes that ask, and ACKJOB
/// makes no dummy ACK. (With `rereplicate no`: the original keeps the queued
/// job on the leaving node; D8 drains it, see `rereplication.rs`.)
#[test]
fn leaving_node_behaviour() {
    let mut net = cluster(3);
    for i in 0..3 {
        net.node_mut(i).config_mut().rereplicate = false;
    }
    let queued_here = add(&mut net, 0, "q", &["REPLICATE", "1"]);
    let waiting = net.client();
    assert!(net
        .cmd_as(0, waiting, &["GETJOB", "FROM", "nothing"])
        .is_none());
    net.set_filter(Some(drop_from("GOTJOB", 2)));
    let adder = net.client();
    assert!(net
        .cmd_as(0, adder, &["ADDJOB", "q", "b", "0", "REPLICATE", "3"])
        .is_none());
    net.run_until_idle();
    net.set_filter(None);
    net.cmd(0, &["CLUSTER", "LEAVING", "yes"]);
    net.advance(200);
    let leaving = "LEAVING This node is leaving the cluster, please connect to a different one";
    assert_eq!(err_text(&net.take_reply(0, waiting).unwrap()), leaving);
    assert_eq!(err_text(&net.take_reply(0, adder).unwrap()), leaving);
    net.run_until_idle();
    for i in 0..3 {
        assert_eq!(
            net.node(i).stats().registered_jobs,
            usize::from(i == 0),
            "n{i}: only the queued job on n0 is left"
        );
    }
    let r = net.cmd(0, &["GETJOB", "FROM", "nothing"]);
    assert_eq!(err_text(&r), leaving);
    // No NEEDJOBS from a leaving node.
    let mark = net.trace.len();
    net.cmd(0, &["GETJOB", "NOHANG", "FROM", "elsewhere"]);
    net.run_until_idle();
    assert!(delivered(&net, mark, "NEEDJOBS").is_empty());
    // It still answers NEEDJOBS from others (acts as a source).
    let c = net.client();
    net.cmd_as(1, c, &["GETJOB", "TIMEOUT", "1000", "FROM", "q"]);
    net.run_until_idle();
    assert!(matches!(net.take_reply(1, c), Some(Reply::Array(_))));
    assert_ne!(state(&net, 0, &queued_here), Some(JobState::Queued));
    // No dummy ACK.
    net.cmd(0, &["ACKJOB", "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0005"]);
    assert!(net
        .node(0)
        .job(&disque_core::ids::JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0005").unwrap())
        .is_none());
    // The leaving node drains: its remaining copies can be acked away.
    net.cmd(1, &["ACKJOB", &s(&queued_here)]);
    net.advance(3_000);
    assert_eq!(net.node(0).stats().registered_jobs, 0);
}

/// `PAUSE q in bcast` sets the same pause state on every linked node;
/// `PAUSE q none bcast` clears it. Nodes that were unreachable never learn it.
#[test]
fn pause_bcast_propagates() {
    let mut net = cluster(3);
    net.isolate(2);
    let r = net.cmd(0, &["PAUSE", "q", "in", "bcast"]);
    assert_eq!(r, Reply::Status(bytes::Bytes::from_static(b"in")));
    net.run_until_idle();
    assert_eq!(
        net.cmd(1, &["PAUSE", "q", "state"]),
        Reply::Status(bytes::Bytes::from_static(b"in"))
    );
    assert_eq!(
        net.cmd(2, &["PAUSE", "q", "state"]),
        Reply::Status(bytes::Bytes::from_static(b"none"))
    );
    let r = net.cmd(1, &["ADDJOB", "q", "b", "0", "REPLICATE", "1"]);
    assert_eq!(err_text(&r), "PAUSED Queue paused in input, try later");
    net.heal();
    net.cmd(0, &["PAUSE", "q", "none", "bcast"]);
    net.run_until_idle();
    assert_eq!(
        net.cmd(1, &["PAUSE", "q", "state"]),
        Reply::Status(bytes::Bytes::from_static(b"none"))
    );
    // Clearing an output pause by broadcast serves a consumer waiting there.
    add(&mut net, 1, "out", &["REPLICATE", "1"]);
    net.cmd(0, &["PAUSE", "out", "out", "bcast"]);
    net.run_until_idle();
    let c = net.client();
    assert!(net.cmd_as(1, c, &["GETJOB", "FROM", "out"]).is_none());
    net.cmd(0, &["PAUSE", "out", "none", "bcast"]);
    net.run_until_idle();
    assert!(matches!(net.take_reply(1, c), Some(Reply::Array(_))));
}
