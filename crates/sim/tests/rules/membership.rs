//! Membership (docs/cluster.md §4): the MEET handshake, gossip discovery, handshake
//! expiry, PFAIL and FAIL (decision D7), FAIL cleared by a PONG, HELLO
//! priorities.

use crate::common::*;
use disque_core::cluster::message::Message;
use disque_sim::{Crash, Net, NetConfig};

/// `CLUSTER MEET` from the new node to a member: MEET, PONG, then the member
/// greets back with PING; both complete their handshake and learn their IP.
#[test]
fn meet_handshake_new_node_to_member() {
    let mut net = Net::new(NetConfig::new(2, 1));
    assert_eq!(net.node(0).cluster_size(), 1);
    let mark = net.trace.len();
    net.cmd(1, &["CLUSTER", "MEET", "127.0.0.1", "7711"]);
    // Before the cron runs, n1 only has a handshake record.
    assert!(flags_of(&mut net, 1, 0) == "(unknown)");
    assert!(net.node(1).nodes_description().contains("handshake"));
    net.advance(1_000);
    assert_eq!(net.node(0).cluster_size(), 2);
    assert_eq!(net.node(1).cluster_size(), 2);
    assert_eq!(flags_of(&mut net, 0, 1), "noflags");
    assert_eq!(flags_of(&mut net, 1, 0), "noflags");
    // The first message on the link is MEET, answered with PONG; then n0 pings n1.
    let first = delivered(&net, mark, "MEET");
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].0, first[0].1), (1, 0));
    assert!(delivered(&net, mark, "PONG")
        .iter()
        .any(|f| f.0 == 0 && f.1 == 1));
    assert!(delivered(&net, mark, "PING")
        .iter()
        .any(|f| f.0 == 0 && f.1 == 1));
    // Each learned its own IP from an inbound connection, and saved nodes.conf.
    assert!(net
        .node(0)
        .nodes_description()
        .contains("127.0.0.1:7711 myself"));
    assert!(net.nodes_conf(0).unwrap().contains(net.id(1).as_str()));
    assert!(net.nodes_conf(1).unwrap().contains(net.id(0).as_str()));
    assert!(net.converged());
}

/// MEET works in the other direction too: a member meets a fresh node, and
/// the third node learns about it through gossip.
#[test]
fn meet_handshake_member_to_new_node_and_gossip() {
    let mut net = Net::new(NetConfig::new(3, 2));
    net.cmd(1, &["CLUSTER", "MEET", "127.0.0.1", "7711"]);
    net.advance(1_500);
    assert_eq!(net.node(0).cluster_size(), 2);
    // The member n0 meets the new node n2; n1 never meets n2 itself.
    net.cmd(0, &["CLUSTER", "MEET", "127.0.0.3", "7711"]);
    let mark = net.trace.len();
    let deadline = net.now + 10_000;
    while !net.converged() {
        assert!(net.now < deadline, "no convergence through gossip");
        net.advance(10);
    }
    // n1 learned n2 from a gossip section that mentioned it.
    let gossip_about_n2 = net
        .trace
        .frames_since(mark, disque_sim::trace::Fate::Delivered)
        .iter()
        .any(|(_, to, m)| {
            *to == 1
                && matches!(m, Message::Ping(g) | Message::Pong(g) if g.iter().any(|e| e.id == net.id(2)))
        });
    assert!(gossip_about_n2);
}

/// Star-shaped meets converge to a full mesh through gossip (7 nodes).
#[test]
fn gossip_discovery_builds_a_full_mesh() {
    let net = Net::cluster(NetConfig::new(7, 3));
    for i in 0..7 {
        assert_eq!(net.node(i).cluster_size(), 7);
        assert_eq!(net.node(i).reachable_count(), 6);
    }
}

/// A handshake that never completes is deleted after max(node timeout, 1 s).
#[test]
fn unanswered_handshake_expires() {
    let mut cfg = NetConfig::new(1, 4);
    cfg.node_timeout_ms = 500;
    let mut net = Net::new(cfg);
    net.cmd(0, &["CLUSTER", "MEET", "127.0.0.99", "7711"]);
    net.advance(200);
    assert!(net.node(0).nodes_description().contains("handshake"));
    net.advance(700);
    assert!(
        net.node(0).nodes_description().contains("handshake"),
        "still pending before 1 s"
    );
    net.advance(400);
    assert!(!net.node(0).nodes_description().contains("handshake"));
    assert_eq!(net.node(0).cluster_size(), 1);
}

/// A dead node becomes PFAIL after the node timeout, then FAIL when a majority
/// agrees (3 nodes: one report suffices); HELLO shows priority 10, then 100.
#[test]
fn pfail_after_node_timeout_then_fail_by_majority() {
    let mut net = cluster_with_timeout(3, 1_000);
    net.crash(2, Crash::Process);
    net.advance(500);
    assert_eq!(flags_of(&mut net, 0, 2), "noflags");
    // Reachable until PFAIL (docs/cluster.md §2).
    assert_eq!(net.node(0).reachable_count(), 2);
    let mark = net.trace.len();
    let mut pfail_seen = false;
    for _ in 0..300 {
        net.advance(10);
        let f = flags_of(&mut net, 0, 2);
        pfail_seen |= f == "fail?";
        if f == "fail" {
            break;
        }
    }
    assert_eq!(flags_of(&mut net, 0, 2), "fail");
    assert_eq!(flags_of(&mut net, 1, 2), "fail");
    assert_eq!(hello_priority(&mut net, 0, 2), 100);
    assert_eq!(net.node(0).reachable_count(), 1);
    assert!(
        pfail_seen || !delivered(&net, mark, "FAIL").is_empty(),
        "FAIL came from PFAIL plus a report, or from a FAIL message"
    );
    // Not before the timeout.
    assert!(net.now - disque_sim::net::START_MS > 1_000);
}

/// Decision D7: gossip mentions nodes without a live link, so in a 5-node
/// cluster every survivor marks a dead node FAIL within a few node timeouts.
#[test]
fn d7_fail_spreads_to_every_survivor() {
    let mut net = cluster_with_timeout(5, 1_000);
    net.crash(4, Crash::Process);
    let mut all_fail_at = None;
    for step in 0..600 {
        net.advance(10);
        if (0..4).all(|i| flags_of(&mut net, i, 4) == "fail") {
            all_fail_at = Some(step * 10);
            break;
        }
    }
    let at = all_fail_at.expect("every survivor marks the dead node FAIL");
    assert!(at <= 4_000, "took {at} ms");
}

/// PFAIL alone never becomes FAIL without a majority: an isolated node sees
/// everyone PFAIL forever, while the majority marks it FAIL.
#[test]
fn isolated_minority_stays_at_pfail() {
    let mut net = cluster_with_timeout(5, 1_000);
    net.isolate(4);
    net.advance(8_000);
    for i in 0..4 {
        assert_eq!(flags_of(&mut net, 4, i), "fail?");
        assert_eq!(flags_of(&mut net, i, 4), "fail");
    }
    assert_eq!(hello_priority(&mut net, 4, 0), 10);
    // A PONG clears PFAIL and FAIL at once.
    net.heal();
    net.advance(3_000);
    for i in 0..4 {
        assert_eq!(flags_of(&mut net, 4, i), "noflags");
        assert_eq!(flags_of(&mut net, i, 4), "noflags");
    }
    assert!(net.converged());
}

/// A restarted node comes back with its id, rejoins by itself from its
/// `nodes.conf`, and its FAIL flag is cleared everywhere by its PONGs.
#[test]
fn restarted_node_rejoins_and_fail_is_cleared() {
    let mut net = cluster_with_timeout(3, 1_000);
    net.crash(1, Crash::Disk);
    net.advance(4_000);
    assert_eq!(flags_of(&mut net, 0, 1), "fail");
    net.restart(1);
    assert_eq!(net.node(1).cluster_size(), 3, "peers come from nodes.conf");
    net.advance(2_000);
    assert_eq!(flags_of(&mut net, 0, 1), "noflags");
    assert_eq!(flags_of(&mut net, 2, 1), "noflags");
    assert!(net.converged());
}

/// A lost PING leaves the ping pending: the link is dropped and rebuilt after
/// node timeout / 2 (link older than node timeout), and PFAIL clears once a
/// PING gets through. This must hold even when the lost PING left at the very
/// millisecond the previous PONG arrived (pong_received == ping_sent).
#[test]
fn lost_ping_in_the_same_millisecond_as_a_pong_is_recovered() {
    use disque_sim::net::{FrameInfo, Verdict};
    // Two nodes (one peer each: no hash-order effects). Delay n1's PONGs to n0
    // so that one arrives exactly when n0's cron pings n1 again, and lose that PING.
    let mut found = false;
    for delay in 1..400u64 {
        let mut cfg = NetConfig::new(2, 9);
        cfg.node_timeout_ms = 500;
        let mut net = Net::cluster(cfg);
        let last_pong = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let armed = std::rc::Rc::new(std::cell::Cell::new(true));
        let (lp, arm) = (last_pong.clone(), armed.clone());
        net.set_filter(Some(Box::new(move |f: &FrameInfo| {
            match &f.frame.message {
                Message::Pong(_) if f.from == 1 && arm.get() => {
                    lp.set(f.now + delay);
                    Verdict::Delay(delay)
                }
                Message::Ping(_) if f.from == 0 && arm.get() && f.now == lp.get() => {
                    arm.set(false);
                    Verdict::Drop
                }
                _ => Verdict::Pass,
            }
        })));
        net.advance(3_000);
        if armed.get() {
            continue;
        }
        found = true;
        net.set_filter(None);
        net.advance(5_000);
        assert_eq!(
            flags_of(&mut net, 0, 1),
            "noflags",
            "n1 answers every PING, yet n0 still flags it (PONG delay {delay} ms)"
        );
        break;
    }
    assert!(found, "could not line up a PING with a PONG");
}

/// The control case of the test above: a PING lost at any other moment is
/// recovered by the stale-link rule (the link is rebuilt and the new PING
/// answered), so the peer never stays PFAIL.
#[test]
fn lost_ping_is_recovered_by_rebuilding_the_link() {
    use disque_sim::net::{FrameInfo, Verdict};
    let mut cfg = NetConfig::new(2, 9);
    cfg.node_timeout_ms = 500;
    let mut net = Net::cluster(cfg);
    let armed = std::rc::Rc::new(std::cell::Cell::new(true));
    let arm = armed.clone();
    net.set_filter(Some(Box::new(move |f: &FrameInfo| {
        if matches!(f.frame.message, Message::Ping(_)) && f.from == 0 && arm.get() {
            arm.set(false);
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })));
    net.advance(3_000);
    assert!(!armed.get(), "a PING was lost");
    assert_eq!(flags_of(&mut net, 0, 1), "noflags");
}

/// CLUSTER FORGET on every other node removes a node for good: its own PINGs
/// are answered but never re-add it, and the 60 s blacklist keeps gossip from
/// bringing it back while the others forget it.
#[test]
fn forget_on_every_node_removes_it() {
    let mut net = cluster(3);
    let id2 = net.id(2);
    net.cmd(0, &["CLUSTER", "FORGET", id2.as_str()]);
    net.advance(2_000);
    // Only n0 forgot it: n1's gossip cannot bring it back during the blacklist.
    assert_eq!(net.node(0).cluster_size(), 2);
    net.cmd(1, &["CLUSTER", "FORGET", id2.as_str()]);
    net.advance(70_000);
    assert_eq!(net.node(0).cluster_size(), 2);
    assert_eq!(net.node(1).cluster_size(), 2);
    assert_eq!(flags_of(&mut net, 0, 2), "(unknown)");
    // n2 still pings them and believes it is a member.
    assert_eq!(net.node(2).cluster_size(), 3);
}
