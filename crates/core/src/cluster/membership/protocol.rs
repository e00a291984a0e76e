//! The membership protocol (docs/cluster.md §2–§4), as `Node` methods: the
//! MEET handshake, gossip, PFAIL/FAIL failure detection, the 100 ms cluster
//! cron, links, HELLO and CLUSTER NODES, and the routing of bus frames (job
//! messages go to the module that owns their rule).

use super::{Peer, PeerFlags, SavedPeer, FORGET_BLACKLIST_MS};
use crate::cluster::message::{
    Frame, GossipEntry, Message, GOSSIP_FAIL, GOSSIP_NOADDR, GOSSIP_PFAIL, SENDER_LEAVING,
};
use crate::cluster::{BusAction, ConnId, LinkId, Origin};
use crate::effects::{Effects, Env};
use crate::ids::NodeId;
use crate::node::Node;
use bytes::Bytes;
use rand::seq::SliceRandom;

impl Node {
    /// Number of known nodes not in handshake, this one included (failing ones too).
    pub fn cluster_size(&self) -> usize {
        1 + self.cluster.confirmed().count()
    }

    /// True for a node of the cluster (not one still in handshake): frames
    /// from it may be as large as any job (decision D15).
    pub fn is_member(&self, node: &NodeId) -> bool {
        self.cluster
            .peers
            .get(node)
            .is_some_and(|p| !p.flags.handshake)
    }

    /// Other nodes a job can be replicated to right now (the cached reachable set).
    pub fn reachable_count(&self) -> usize {
        self.cluster.reachable.len()
    }

    /// The `cluster-node-timeout` in ms.
    pub fn set_node_timeout(&mut self, ms: u64) {
        self.cluster.node_timeout = ms.max(1);
    }

    /// The node an outbound link leads to.
    pub fn link_peer(&self, link: LinkId) -> Option<NodeId> {
        self.cluster.links.get(&link).copied()
    }

    /// Nodes with an outbound link (where broadcasts go).
    pub(crate) fn linked_nodes(&self) -> Vec<NodeId> {
        self.cluster
            .confirmed()
            .filter(|p| p.link.is_some())
            .map(|p| p.id)
            .collect()
    }

    /// The header fields of this node's frames: id, port, flags.
    pub(crate) fn sender_header(&self) -> (NodeId, u16, u16) {
        let flags = if self.is_leaving() { SENDER_LEAVING } else { 0 };
        (self.id(), self.config().port, flags)
    }

    /// Encodes `message` with this node's header.
    pub(crate) fn frame(&self, message: Message) -> Bytes {
        let (sender, port, flags) = self.sender_header();
        Frame {
            sender,
            port,
            flags,
            message,
        }
        .to_bytes()
    }

    /// Sends to a node over its outbound link (dropped if there is none).
    pub(crate) fn send(&mut self, to: &NodeId, message: Message, fx: &mut Effects) {
        if let Some(link) = self.cluster.peers.get(to).and_then(|p| p.link) {
            self.cluster.messages_sent += 1;
            fx.bus.push(BusAction::Send {
                link,
                frame: self.frame(message),
            });
        }
    }

    /// Sends one message to several nodes, encoding it once.
    pub(crate) fn send_many(&mut self, to: &[NodeId], message: Message, fx: &mut Effects) {
        self.send_frame_many(to, |node| node.frame(message), fx);
    }

    /// Sends one frame, made by `encode` only if some node has a link, to
    /// several nodes.
    pub(crate) fn send_frame_many(
        &mut self,
        to: &[NodeId],
        encode: impl FnOnce(&Node) -> Bytes,
        fx: &mut Effects,
    ) {
        let mut encode = Some(encode);
        let mut frame: Option<Bytes> = None;
        for node in to {
            if let Some(link) = self.cluster.peers.get(node).and_then(|p| p.link) {
                let frame = match &frame {
                    Some(frame) => frame.clone(),
                    None => {
                        let made = (encode.take().expect("encoded once"))(self);
                        frame.insert(made).clone()
                    }
                };
                self.cluster.messages_sent += 1;
                fx.bus.push(BusAction::Send { link, frame });
            }
        }
    }

    // ----- startup ---------------------------------------------------------

    /// Adds a node read from `nodes.conf` (docs/cluster.md §3).
    pub fn add_saved_peer(&mut self, env: &Env, saved: SavedPeer) {
        let has = |name: &str| saved.flags.iter().any(|f| f == name);
        let flags = PeerFlags {
            pfail: has("fail?"),
            fail: has("fail"),
            handshake: false,
            noaddr: has("noaddr"),
            leaving: has("leaving"),
            meet: false,
        };
        let mut peer = Peer::new(saved.id, saved.ip, saved.port, flags, env.now_ms);
        peer.pong_received = env.now_ms;
        self.cluster.peers.insert(saved.id, peer);
        self.cluster.refresh_reachable();
    }

    /// Sets this node's IP (from `nodes.conf`).
    pub fn set_my_ip(&mut self, ip: String) {
        self.cluster.my_ip = ip;
    }

    /// The `nodes.conf` text: every known node except handshake ones.
    pub fn nodes_conf_text(&self) -> String {
        self.nodes_lines(false)
    }

    /// The CLUSTER NODES text: every known node, handshake ones included.
    pub fn nodes_description(&self) -> String {
        self.nodes_lines(true)
    }

    fn nodes_lines(&self, with_handshake: bool) -> String {
        let mut flags = vec!["myself"];
        if self.is_leaving() {
            flags.push("leaving");
        }
        let mut out = format!(
            "{} {}:{} {} 0 0 connected\n",
            self.id().as_str(),
            self.cluster.my_ip,
            self.config().port,
            flags.join(",")
        );
        let mut peers: Vec<&Peer> = self
            .cluster
            .peers
            .values()
            .filter(|p| with_handshake || !p.flags.handshake)
            .collect();
        peers.sort_by_key(|p| p.id);
        for p in peers {
            out.push_str(&format!(
                "{} {}:{} {} {} {} {}\n",
                p.id.as_str(),
                p.ip,
                p.port,
                p.flag_names(),
                p.ping_sent,
                p.pong_received,
                if p.link_up {
                    "connected"
                } else {
                    "disconnected"
                }
            ));
        }
        out
    }

    /// HELLO entries: this node first, then every known node.
    pub(crate) fn hello_entries(&self) -> Vec<(NodeId, String, u16, u32)> {
        let mut out = vec![(
            self.id(),
            self.cluster.my_ip.clone(),
            self.config().port,
            if self.is_leaving() { 100 } else { 1 },
        )];
        let mut peers: Vec<&Peer> = self.cluster.peers.values().collect();
        peers.sort_by_key(|p| p.id);
        out.extend(
            peers
                .into_iter()
                .map(|p| (p.id, p.ip.clone(), p.port, p.priority())),
        );
        out
    }

    // ----- CLUSTER commands -------------------------------------------------

    /// `CLUSTER MEET`: starts a handshake with `ip:port` (unless one is pending).
    pub(crate) fn meet(&mut self, env: &Env, ip: String, port: u16) {
        let pending = self
            .cluster
            .peers
            .values()
            .any(|p| p.flags.handshake && p.ip == ip && p.port == port);
        if !pending {
            self.start_handshake(env, ip, port, true);
        }
    }

    fn start_handshake(&mut self, env: &Env, ip: String, port: u16, meet: bool) {
        let id = NodeId::random(&mut self.rng);
        let flags = PeerFlags {
            handshake: true,
            meet,
            ..PeerFlags::default()
        };
        self.cluster
            .peers
            .insert(id, Peer::new(id, ip, port, flags, env.now_ms));
    }

    /// `CLUSTER FORGET`: removes a node and blacklists its id for 60 s.
    pub(crate) fn forget(&mut self, env: &Env, id: &NodeId, fx: &mut Effects) -> bool {
        if !self.remove_peer(id, fx) {
            return false;
        }
        self.cluster
            .blacklist
            .insert(*id, env.now_ms + FORGET_BLACKLIST_MS);
        for peer in self.cluster.peers.values_mut() {
            peer.fail_reports.remove(id);
        }
        self.cluster.refresh_reachable();
        fx.save_cluster_config = true;
        true
    }

    fn remove_peer(&mut self, id: &NodeId, fx: &mut Effects) -> bool {
        let Some(peer) = self.cluster.peers.remove(id) else {
            return false;
        };
        self.forget_untold_news(id);
        if let Some(link) = peer.link {
            self.cluster.links.remove(&link);
            fx.bus.push(BusAction::Close(link));
        }
        true
    }

    /// Forgets every other node (CLUSTER RESET).
    pub(crate) fn forget_all(&mut self, fx: &mut Effects) {
        let ids: Vec<NodeId> = self.cluster.peers.keys().copied().collect();
        for id in ids {
            self.remove_peer(&id, fx);
        }
        self.cluster.refresh_reachable();
    }

    // ----- links -----------------------------------------------------------

    /// The shell connected outbound link `link`: greet the node.
    pub fn on_link_up(&mut self, env: &Env, link: LinkId, fx: &mut Effects) {
        let Some(id) = self.cluster.links.get(&link).copied() else {
            return;
        };
        let Some(peer) = self.cluster.peers.get_mut(&id) else {
            return;
        };
        peer.link_up = true;
        peer.connect_failures = 0;
        let meet = std::mem::take(&mut peer.flags.meet);
        // Before the PING: its PONG then proves the announcement arrived.
        self.announce_emptied(&id, fx);
        let gossip = self.gossip_section(&id);
        self.ping(
            env,
            &id,
            if meet {
                Message::Meet(gossip)
            } else {
                Message::Ping(gossip)
            },
            fx,
        );
        self.tell_untold_news(env, &id, link, fx);
        // Consumers waiting here are announced again: the node may have missed it.
        if !self.is_leaving() {
            for queue in self.fed.waiting_queues() {
                self.send(
                    &id,
                    Message::Waiting {
                        queue,
                        waiting: true,
                    },
                    fx,
                );
            }
        }
    }

    /// The shell lost (or could not open) outbound link `link`.
    pub fn on_link_down(&mut self, env: &Env, link: LinkId) {
        let Some(id) = self.cluster.links.remove(&link) else {
            return;
        };
        if let Some(peer) = self.cluster.peers.get_mut(&id) {
            if peer.link == Some(link) {
                if !peer.link_up {
                    // The connection attempt failed: back off, up to a second.
                    peer.connect_failures = (peer.connect_failures + 1).min(4);
                    peer.next_connect = env.now_ms + (100 << peer.connect_failures).min(1_000);
                }
                peer.link = None;
                peer.link_up = false;
                // Failure detection starts even if we never reached it.
                if peer.ping_sent == 0 {
                    peer.ping_sent = env.now_ms;
                }
            }
        }
    }

    fn drop_link(&mut self, id: &NodeId, fx: &mut Effects) {
        if let Some(peer) = self.cluster.peers.get_mut(id) {
            if let Some(link) = peer.link.take() {
                peer.link_up = false;
                self.cluster.links.remove(&link);
                fx.bus.push(BusAction::Close(link));
            }
        }
    }

    fn ping(&mut self, env: &Env, id: &NodeId, message: Message, fx: &mut Effects) {
        if let Some(peer) = self.cluster.peers.get_mut(id) {
            if peer.ping_sent == 0 {
                peer.ping_sent = env.now_ms;
            }
        }
        self.send(id, message, fx);
    }

    /// Gossip about other nodes for a message to `to` (decision D7: sampled from
    /// every known node, not only linked ones, failing nodes first).
    fn gossip_section(&mut self, to: &NodeId) -> Vec<GossipEntry> {
        let mut candidates: Vec<&Peer> = self
            .cluster
            .peers
            .values()
            .filter(|p| !p.flags.handshake && !p.flags.noaddr && p.id != *to)
            .collect();
        let known = self.cluster.peers.len() + 1;
        let wanted = (known / 10).max(3).min(known.saturating_sub(2));
        candidates.shuffle(&mut self.rng);
        candidates.sort_by_key(|p| !(p.flags.pfail || p.flags.fail));
        candidates
            .into_iter()
            .take(wanted)
            .map(|p| GossipEntry {
                id: p.id,
                ip: p.ip.clone(),
                port: p.port,
                flags: (p.flags.pfail as u16 * GOSSIP_PFAIL)
                    | (p.flags.fail as u16 * GOSSIP_FAIL)
                    | (p.flags.noaddr as u16 * GOSSIP_NOADDR),
            })
            .collect()
    }

    // ----- the cluster cron (every 100 ms) --------------------------------

    /// Connects, pings, detects failures, refreshes the reachable set.
    pub(crate) fn cluster_cron(&mut self, env: &Env, fx: &mut Effects) {
        let now = env.now_ms;
        let timeout = self.cluster.node_timeout;
        self.cluster.cron_runs += 1;
        self.cluster.blacklist.retain(|_, until| *until > now);
        let handshake_limit = timeout.max(1000);
        let expired: Vec<NodeId> = self
            .cluster
            .peers
            .values()
            .filter(|p| p.flags.handshake && now.saturating_sub(p.created) > handshake_limit)
            .map(|p| p.id)
            .collect();
        for id in expired {
            self.remove_peer(&id, fx);
        }
        let ids: Vec<NodeId> = self.cluster.peers.keys().copied().collect();
        for id in &ids {
            let peer = &self.cluster.peers[id];
            if peer.link.is_none() && !peer.flags.noaddr && now >= peer.next_connect {
                let link = self.cluster.next_link;
                self.cluster.next_link += 1;
                self.cluster.links.insert(link, *id);
                let peer = self.cluster.peers.get_mut(id).expect("present");
                peer.link = Some(link);
                peer.link_created = now;
                fx.bus.push(BusAction::Connect {
                    link,
                    ip: peer.ip.clone(),
                    port: peer.port.saturating_add(10_000),
                });
            }
        }
        if self.cluster.cron_runs.is_multiple_of(10) {
            self.random_ping(env, fx);
        }
        let mut changed = false;
        for id in &ids {
            let Some(peer) = self.cluster.peers.get(id) else {
                continue;
            };
            if peer.flags.handshake || peer.flags.noaddr {
                continue;
            }
            // A pending ping means no PONG came since it was sent.
            let pending = peer.ping_sent != 0;
            if peer.link_up
                && now.saturating_sub(peer.link_created) > timeout
                && pending
                && now.saturating_sub(peer.ping_sent) > timeout / 2
            {
                self.drop_link(id, fx);
                continue;
            }
            if peer.link_up && !pending && now.saturating_sub(peer.pong_received) > timeout / 2 {
                let gossip = self.gossip_section(id);
                self.ping(env, id, Message::Ping(gossip), fx);
                continue;
            }
            let peer = self.cluster.peers.get_mut(id).expect("present");
            if pending
                && now.saturating_sub(peer.ping_sent) > timeout
                && !peer.flags.pfail
                && !peer.flags.fail
            {
                peer.flags.pfail = true;
                changed = true;
                self.check_fail(env, id, fx);
            }
        }
        if changed {
            fx.save_cluster_config = true;
        }
        self.cluster.refresh_reachable();
    }

    /// Every ~1 s: PING the node with the oldest PONG among 5 random ones.
    fn random_ping(&mut self, env: &Env, fx: &mut Effects) {
        let mut ids: Vec<NodeId> = self.cluster.peers.keys().copied().collect();
        ids.shuffle(&mut self.rng);
        let target = ids
            .iter()
            .take(5)
            .filter_map(|id| self.cluster.peers.get(id))
            .filter(|p| p.link_up && p.ping_sent == 0 && !p.flags.handshake)
            .min_by_key(|p| p.pong_received)
            .map(|p| p.id);
        if let Some(id) = target {
            let gossip = self.gossip_section(&id);
            self.ping(env, &id, Message::Ping(gossip), fx);
        }
    }

    /// Marks a PFAIL node FAIL when a majority agrees, and tells everyone.
    fn check_fail(&mut self, env: &Env, id: &NodeId, fx: &mut Effects) {
        let validity = self.cluster.node_timeout * 2;
        let size = self.cluster_size();
        let Some(peer) = self.cluster.peers.get_mut(id) else {
            return;
        };
        peer.fail_reports
            .retain(|_, at| env.now_ms.saturating_sub(*at) <= validity);
        if !peer.flags.pfail || peer.flags.fail || peer.fail_reports.len() + 1 < size / 2 + 1 {
            return;
        }
        peer.flags.pfail = false;
        peer.flags.fail = true;
        fx.save_cluster_config = true;
        let targets = self.linked_nodes();
        self.send_many(&targets, Message::Fail(*id), fx);
        self.cluster.refresh_reachable();
    }

    // ----- receiving --------------------------------------------------------

    /// A frame from the bus. Job messages go to the job layer; membership is
    /// handled here.
    pub fn on_frame(&mut self, env: &Env, origin: Origin, frame: Frame, fx: &mut Effects) {
        self.cluster.messages_received += 1;
        let sender_known = self
            .cluster
            .peers
            .get(&frame.sender)
            .is_some_and(|p| !p.flags.handshake);
        match (&frame.message, &origin) {
            (
                Message::Ping(_) | Message::Meet(_),
                Origin::Inbound {
                    conn,
                    peer_ip,
                    local_ip,
                },
            ) => {
                let (conn, peer_ip, local_ip) = (*conn, peer_ip.clone(), local_ip.clone());
                self.on_ping(env, conn, &peer_ip, &local_ip, &frame, sender_known, fx);
            }
            (Message::Pong(_), Origin::Outbound(link)) => self.on_pong(env, *link, &frame, fx),
            (Message::Ping(_) | Message::Meet(_) | Message::Pong(_), _) => {}
            (Message::Fail(node), _) if sender_known => self.on_fail_message(node, fx),
            _ if sender_known => self.on_job_message(env, frame.sender, frame.message, fx),
            _ => {}
        }
        self.serve_ready_queues(env, fx);
        #[cfg(debug_assertions)]
        self.debug_check();
    }

    #[allow(clippy::too_many_arguments)]
    fn on_ping(
        &mut self,
        env: &Env,
        conn: ConnId,
        peer_ip: &str,
        local_ip: &str,
        frame: &Frame,
        sender_known: bool,
        fx: &mut Effects,
    ) {
        let is_meet = matches!(frame.message, Message::Meet(_));
        if (is_meet || self.cluster.my_ip.is_empty())
            && !local_ip.is_empty()
            && self.cluster.my_ip != local_ip
        {
            self.cluster.my_ip = local_ip.to_string();
            fx.save_cluster_config = true;
        }
        let unknown = !self.cluster.peers.contains_key(&frame.sender);
        if is_meet && unknown {
            let already = self
                .cluster
                .peers
                .values()
                .any(|p| p.flags.handshake && p.ip == peer_ip && p.port == frame.port);
            if !already {
                self.start_handshake(env, peer_ip.to_string(), frame.port, false);
            }
        }
        let gossip = self.gossip_section(&frame.sender);
        self.cluster.messages_sent += 1;
        fx.bus.push(BusAction::Reply {
            conn,
            frame: self.frame(Message::Pong(gossip)),
        });
        if sender_known {
            let changed_address = {
                let peer = self.cluster.peers.get_mut(&frame.sender).expect("known");
                let changed = peer.ip != peer_ip || peer.port != frame.port;
                if changed {
                    peer.ip = peer_ip.to_string();
                    peer.port = frame.port;
                }
                changed
            };
            if changed_address {
                self.drop_link(&frame.sender, fx);
                fx.save_cluster_config = true;
            }
            self.note_sender_flags(frame, fx);
            self.process_gossip(env, frame, fx);
        }
    }

    fn on_pong(&mut self, env: &Env, link: LinkId, frame: &Frame, fx: &mut Effects) {
        let Some(linked) = self.cluster.links.get(&link).copied() else {
            return;
        };
        let Some(peer) = self.cluster.peers.get(&linked) else {
            return;
        };
        if peer.flags.handshake {
            let (ip, port) = (peer.ip.clone(), frame.port);
            if frame.sender == self.id() {
                self.remove_peer(&linked, fx);
                return;
            }
            if let Some(known) = self.cluster.peers.get_mut(&frame.sender) {
                // Already known under its real id: keep that record, drop this one.
                if known.ip != ip || known.port != port {
                    known.ip = ip;
                    known.port = port;
                }
                self.remove_peer(&linked, fx);
                fx.save_cluster_config = true;
                return;
            }
            let mut peer = self.cluster.peers.remove(&linked).expect("present");
            peer.id = frame.sender;
            peer.port = port;
            peer.flags.handshake = false;
            self.cluster.links.insert(link, frame.sender);
            self.cluster.peers.insert(frame.sender, peer);
            fx.save_cluster_config = true;
        } else if frame.sender != linked {
            // Someone else answers at that address now.
            let peer = self.cluster.peers.get_mut(&linked).expect("present");
            peer.flags.noaddr = true;
            peer.ip.clear();
            self.drop_link(&linked, fx);
            fx.save_cluster_config = true;
            return;
        }
        self.emptied_acknowledged(&frame.sender);
        let peer = self.cluster.peers.get_mut(&frame.sender).expect("present");
        peer.pong_received = env.now_ms;
        peer.ping_sent = 0;
        if peer.flags.pfail || peer.flags.fail {
            peer.flags.pfail = false;
            peer.flags.fail = false;
            peer.fail_reports.clear();
            fx.save_cluster_config = true;
        }
        self.note_sender_flags(frame, fx);
        self.process_gossip(env, frame, fx);
    }

    /// The LEAVING flag travels in every PING/PONG/MEET header.
    fn note_sender_flags(&mut self, frame: &Frame, fx: &mut Effects) {
        if let Some(peer) = self.cluster.peers.get_mut(&frame.sender) {
            let leaving = frame.flags & SENDER_LEAVING != 0;
            if peer.flags.leaving != leaving {
                peer.flags.leaving = leaving;
                fx.save_cluster_config = true;
            }
        }
    }

    fn process_gossip(&mut self, env: &Env, frame: &Frame, fx: &mut Effects) {
        let (Message::Ping(gossip) | Message::Pong(gossip) | Message::Meet(gossip)) =
            &frame.message
        else {
            return;
        };
        for entry in gossip {
            if entry.id == self.id() {
                continue;
            }
            match self.cluster.peers.get_mut(&entry.id) {
                Some(peer) => {
                    let failing = entry.flags & (GOSSIP_PFAIL | GOSSIP_FAIL) != 0;
                    if failing {
                        peer.fail_reports.insert(frame.sender, env.now_ms);
                    } else {
                        peer.fail_reports.remove(&frame.sender);
                    }
                    let moved = (peer.flags.pfail || peer.flags.fail)
                        && entry.flags & GOSSIP_NOADDR == 0
                        && !entry.ip.is_empty()
                        && (peer.ip != entry.ip || peer.port != entry.port);
                    if failing {
                        self.check_fail(env, &entry.id, fx);
                    }
                    if moved {
                        self.start_handshake(env, entry.ip.clone(), entry.port, false);
                    }
                }
                None => {
                    let blacklisted = self.cluster.blacklist.contains_key(&entry.id);
                    let pending = self
                        .cluster
                        .peers
                        .values()
                        .any(|p| p.ip == entry.ip && p.port == entry.port);
                    if entry.flags & GOSSIP_NOADDR == 0
                        && !entry.ip.is_empty()
                        && !blacklisted
                        && !pending
                    {
                        self.start_handshake(env, entry.ip.clone(), entry.port, false);
                    }
                }
            }
        }
    }

    fn on_fail_message(&mut self, node: &NodeId, fx: &mut Effects) {
        if let Some(peer) = self.cluster.peers.get_mut(node) {
            if !peer.flags.fail {
                peer.flags.fail = true;
                peer.flags.pfail = false;
                fx.save_cluster_config = true;
                self.cluster.refresh_reachable();
            }
        }
    }
}

impl Node {
    /// A job-level message from a known node, routed to the module that owns its rule.
    pub(crate) fn on_job_message(
        &mut self,
        env: &Env,
        from: NodeId,
        message: Message,
        fx: &mut Effects,
    ) {
        use Message as M;
        match message {
            M::ReplJob { job, no_reply } => self.on_repljob(env, from, &job, no_reply, fx),
            M::GotJob(id) => self.on_gotjob(env, from, &id, fx),
            M::Enqueue { id, delay } => self.on_enqueue_message(env, &id, delay, fx),
            M::Queued {
                id,
                nack,
                count,
                dead_letter,
            } => self.on_queued_or_working(
                env,
                from,
                &id,
                count.then_some(nack),
                false,
                dead_letter,
                fx,
            ),
            M::Working(id) => self.on_queued_or_working(env, from, &id, None, true, false, fx),
            M::NackDelay { id, delay_ms } => self.on_nack_delay(env, from, &id, delay_ms, fx),
            M::WillQueue(id) => self.on_willqueue(from, &id, fx),
            M::SetAck { id, holders } => self.on_setack(env, from, &id, &holders, fx),
            M::GotAck { id, known } => self.on_gotack(from, &id, known, fx),
            M::DelJob { id, holders } => self.on_deljob(from, &id, &holders, fx),
            M::NeedJobs { queue, count } => self.on_needjobs(env, from, &queue, count, fx),
            M::YourJobs(jobs) => self.on_yourjobs(env, from, &jobs, fx),
            M::Pause { queue, flags } => {
                let pause = crate::queue::Pause {
                    input: flags & 1 != 0,
                    output: flags & 2 != 0,
                };
                self.set_pause(env, &queue, pause);
            }
            M::Waiting { queue, waiting } => self.on_waiting(env, from, queue, waiting),
            M::Emptied => self.on_emptied(env, from),
            M::HasJob(id) => self.on_hasjob(from, &id, fx),
            M::Holders { id, nodes } => self.on_holders(env, from, &id, &nodes, fx),
            M::Ping(_) | M::Pong(_) | M::Meet(_) | M::Fail(_) => {}
        }
    }
}
