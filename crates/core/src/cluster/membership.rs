//! Membership (docs/cluster.md §2–§4): what this node knows about the other
//! nodes ([`Membership`]: known nodes and their flags, links, the forget
//! blacklist, the reachable set, message counters). Its fields are private
//! to this module and to [`protocol`], the membership protocol itself (MEET
//! handshake, gossip, failure detection, the cluster cron, HELLO, CLUSTER
//! NODES), which the rest of the core reaches through `Node` methods and the
//! accessors below.

use super::LinkId;
use crate::ids::NodeId;
use std::collections::BTreeMap;

mod protocol;

/// How long a forgotten node's id may not come back through gossip.
const FORGET_BLACKLIST_MS: u64 = 60_000;

/// Flags of a known node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerFlags {
    /// No PONG within the node timeout (this node's opinion).
    pub pfail: bool,
    /// Failure agreed by a majority.
    pub fail: bool,
    /// Address known, identity not confirmed yet.
    pub handshake: bool,
    /// Address unknown.
    pub noaddr: bool,
    /// Being drained.
    pub leaving: bool,
    /// Send MEET instead of PING on the first connection.
    pub meet: bool,
}

/// Another node of the cluster as this node knows it.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Its id (random while in handshake).
    pub id: NodeId,
    /// Its address.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// Flags.
    pub flags: PeerFlags,
    /// Our outbound link to it, if any.
    pub link: Option<LinkId>,
    /// The link is connected.
    pub link_up: bool,
    /// When the link was created (ms).
    pub link_created: u64,
    /// When the pending PING was sent (ms), 0 if none.
    pub ping_sent: u64,
    /// When the last PONG arrived (ms).
    pub pong_received: u64,
    /// When the record was created (ms), for the handshake timeout.
    pub created: u64,
    /// Failed connection attempts in a row (reconnect back-off).
    pub connect_failures: u32,
    /// No new connection attempt before this time (ms).
    pub next_connect: u64,
    /// Other nodes saying it is failing, with when they said it.
    pub fail_reports: BTreeMap<NodeId, u64>,
}

impl Peer {
    fn new(id: NodeId, ip: String, port: u16, flags: PeerFlags, now: u64) -> Peer {
        Peer {
            id,
            ip,
            port,
            flags,
            link: None,
            link_up: false,
            link_created: 0,
            ping_sent: 0,
            pong_received: 0,
            created: now,
            connect_failures: 0,
            next_connect: 0,
            fail_reports: BTreeMap::new(),
        }
    }

    /// Counts for replication and requeue: not handshake, leaving or failing.
    pub fn is_reachable(&self) -> bool {
        let f = self.flags;
        !(f.handshake || f.leaving || f.pfail || f.fail)
    }

    /// The CLUSTER NODES flags field.
    fn flag_names(&self) -> String {
        let f = self.flags;
        let names: Vec<&str> = [
            (f.pfail, "fail?"),
            (f.fail, "fail"),
            (f.handshake, "handshake"),
            (f.noaddr, "noaddr"),
            (f.leaving, "leaving"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect();
        if names.is_empty() {
            "noflags".into()
        } else {
            names.join(",")
        }
    }

    /// HELLO priority: 1 normal, 5 no link, 10 PFAIL, 100 FAIL or LEAVING.
    fn priority(&self) -> u32 {
        let f = self.flags;
        if f.fail || f.leaving {
            100
        } else if f.pfail {
            10
        } else if !self.link_up {
            5
        } else {
            1
        }
    }
}

/// A node line read from `nodes.conf`.
#[derive(Clone, Debug)]
pub struct SavedPeer {
    /// Its id.
    pub id: NodeId,
    /// Its address.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// Flags names (`fail?`, `fail`, `noaddr`, `leaving`, ...).
    pub flags: Vec<String>,
}

/// Everything the node knows about the cluster.
#[derive(Debug, Default)]
pub struct Membership {
    /// Known nodes except this one.
    peers: BTreeMap<NodeId, Peer>,
    /// This node's IP, learned from the first MEET or PING received.
    my_ip: String,
    /// Forgotten ids and when they may come back.
    blacklist: BTreeMap<NodeId, u64>,
    /// Outbound links to their node.
    links: BTreeMap<LinkId, NodeId>,
    next_link: LinkId,
    /// Reachable nodes, refreshed by the cron (docs/cluster.md §2).
    reachable: Vec<NodeId>,
    cron_runs: u64,
    /// Messages sent (CLUSTER INFO).
    messages_sent: u64,
    /// Messages received.
    messages_received: u64,
    /// `cluster-node-timeout` in ms.
    node_timeout: u64,
}

impl Membership {
    /// An empty membership (this node alone) with the given node timeout (ms).
    pub fn new(node_timeout: u64) -> Membership {
        Membership {
            node_timeout,
            ..Membership::default()
        }
    }

    /// Peers that are not in handshake.
    fn confirmed(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values().filter(|p| !p.flags.handshake)
    }

    /// The known node `id` (not this one).
    pub fn peer(&self, id: &NodeId) -> Option<&Peer> {
        self.peers.get(id)
    }

    /// The ids of the known nodes, in id order.
    pub fn peer_ids(&self) -> impl Iterator<Item = &NodeId> {
        self.peers.keys()
    }

    /// True when `id` is a known node (handshake ones included).
    pub fn knows(&self, id: &NodeId) -> bool {
        self.peers.contains_key(id)
    }

    /// Number of known nodes, handshake ones included.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The reachable nodes, as of the last cluster cron.
    pub fn reachable(&self) -> &[NodeId] {
        &self.reachable
    }

    /// Messages sent on the bus (CLUSTER INFO).
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent
    }

    /// Messages received on the bus (CLUSTER INFO).
    pub fn messages_received(&self) -> u64 {
        self.messages_received
    }

    /// Panics unless the links and the peers agree: each outbound link leads
    /// to a known peer whose link it is, and each peer's link is listed.
    pub(crate) fn check_invariants(&self) {
        for (link, id) in &self.links {
            assert_eq!(
                self.peers.get(id).and_then(|p| p.link),
                Some(*link),
                "link {link} leads to {id:?}, whose link it is"
            );
        }
        let linked = self.peers.values().filter(|p| p.link.is_some()).count();
        assert_eq!(linked, self.links.len(), "every peer's link is listed");
    }

    fn refresh_reachable(&mut self) {
        self.reachable = self
            .peers
            .values()
            .filter(|p| p.is_reachable())
            .map(|p| p.id)
            .collect();
    }
}
