//! The cluster bus transport (DESIGN.md §4): a listener on port + 10000 for
//! inbound connections, one outbound link per peer, length-prefixed frames.
//! The core decides what to send and when to connect; this module only moves
//! bytes. Frames queued for a link in one event-loop turn go out in one write.
//! A malformed frame closes its connection (logged); a peer that stops reading
//! has its link dropped once too much is queued for it.
//!
//! Frames produced by an event that wrote AOF records are held until those
//! records are durable (written, and fsynced with `appendfsync always`), and
//! every later action waits behind them: a peer told "I have this job" can rely
//! on it surviving a crash of this process (issue 8, part 1).
//!
//! With `cluster-password` set, every connection, in both directions, first
//! completes the handshake of [`crate::bus_auth`] (within 5 s), and every
//! frame it then carries must come from the node id it authenticated
//! (decision D12).

use crate::state::Shared;
use bytes::{Bytes, BytesMut};
use disque_core::cluster::message::{Frame, Message, MAX_FRAME, MAX_UNTRUSTED_FRAME};
use disque_core::cluster::{BusAction, ConnId, LinkId, Origin};
use disque_core::ids::NodeId;
use disque_core::HeldBus;
use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes that may wait for one peer before its link is dropped (checked
/// before each batch of frames, see `execute_bus`).
const MAX_QUEUED_BYTES: usize = 256 << 20;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long an inbound connection may stay without sending a valid frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// Inbound connections not yet known to come from a node of the cluster
/// that may be open at once; more are closed at once (decision D15).
const MAX_UNTRUSTED_CONNECTIONS: usize = 256;
/// How long the `cluster-password` handshake may take (decision D12).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A refused handshake is logged at most once per peer address in this time.
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(10);
/// Peer addresses remembered for that rate limit (then forgotten at once).
const REFUSAL_LOG_ADDRESSES: usize = 1024;

/// A bus connection's byte stream (TCP, or TLS over TCP).
pub trait BusStream: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> BusStream for T {}

/// A boxed [`BusStream`].
type Stream = Box<dyn BusStream>;

/// A writer: a queue of frames and the byte count waiting in it.
struct Writer {
    frames: mpsc::UnboundedSender<Bytes>,
    queued: Rc<Cell<usize>>,
    /// The last batch of actions that queued here, and whether the peer was
    /// behind when it started (see [`Writer::behind_at`]).
    batch: Cell<(u64, bool)>,
}

impl Writer {
    /// True when more than [`MAX_QUEUED_BYTES`] wait: the peer is too far
    /// behind.
    fn behind(&self) -> bool {
        self.queued.get() > MAX_QUEUED_BYTES
    }

    /// [`Writer::behind`] as it was when batch `batch` first queued here, so
    /// that the frames of one batch go out together.
    fn behind_at(&self, batch: u64) -> bool {
        let (seen, behind) = self.batch.get();
        if seen == batch {
            return behind;
        }
        let behind = self.behind();
        self.batch.set((batch, behind));
        behind
    }

    /// Queues a frame; false when the writer is gone.
    fn push(&self, frame: Bytes) -> bool {
        self.queued.set(self.queued.get() + frame.len());
        self.frames.send(frame).is_ok()
    }
}

/// The transport's state: open links and inbound connections.
#[derive(Default)]
pub struct Bus {
    /// Outbound links: the queue, and the task once started. Looked up for
    /// every frame sent, so hashed with aHash (the ids are ours, not a peer's).
    links: HashMap<LinkId, (Writer, Option<tokio::task::AbortHandle>), ahash::RandomState>,
    /// Links whose task starts at the next [`Bus::start_links`].
    to_start: Vec<LinkStart>,
    /// Inbound connections: the queue of their replies.
    inbound: HashMap<ConnId, Writer, ahash::RandomState>,
    next_conn: ConnId,
    /// Batches of actions carried out so far (see [`Writer::behind_at`]).
    batches: u64,
    /// Inbound connections not yet trusted (see `read_frames`).
    untrusted: usize,
    /// Actions waiting for the AOF to be durable up to a position, in order
    /// (the core's rule, which the simulator follows too).
    held: HeldBus,
    /// When a refused handshake from each address was last logged.
    refusals_logged: HashMap<IpAddr, Instant>,
    /// Nodes whose traffic is dropped both ways (`DEBUG BUS-BLOCK`, tests only).
    #[cfg(feature = "fault-injection")]
    blocked: std::collections::BTreeSet<disque_core::ids::NodeId>,
}

impl Bus {
    /// Carries out the core's bus actions. A new link's queue exists at
    /// once; its task starts with [`Bus::start_links`]. Returns the links
    /// dropped because their peer stopped reading (the core must be told).
    ///
    /// A link is dropped when more than [`MAX_QUEUED_BYTES`] were waiting for
    /// it before these actions: their frames are queued together, so a
    /// YOURJOBS split into several frames of up to 516 MiB goes out whole.
    pub(crate) fn execute(&mut self, actions: impl IntoIterator<Item = BusAction>) -> Vec<LinkId> {
        let mut dropped = Vec::new();
        self.batches += 1;
        let batch = self.batches;
        for action in actions {
            match action {
                BusAction::Connect { link, ip, port } => {
                    let (writer, frames, queued) = writer_pair();
                    self.links.insert(link, (writer, None));
                    self.to_start.push(LinkStart {
                        link,
                        ip,
                        port,
                        frames,
                        queued,
                    });
                }
                BusAction::Close(link) => {
                    self.forget_link(link);
                }
                BusAction::Send { link, frame } => {
                    let overflow = self
                        .links
                        .get(&link)
                        .is_some_and(|(w, _)| w.behind_at(batch) || !w.push(frame));
                    if overflow {
                        crate::log::warning(
                            "Cluster bus: a peer stopped reading, dropping its link",
                        );
                        self.forget_link(link);
                        dropped.push(link);
                    }
                }
                BusAction::Reply { conn, frame } => {
                    if let Some(w) = self.inbound.get(&conn).filter(|w| !w.behind()) {
                        w.push(frame);
                    }
                }
            }
        }
        dropped
    }

    /// Starts the tasks of the links opened by [`Bus::execute`] and not
    /// closed since; `shared` is the handle the state is borrowed from.
    pub(crate) fn start_links(&mut self, shared: &Shared) {
        for start in std::mem::take(&mut self.to_start) {
            let Some((_, task)) = self.links.get_mut(&start.link) else {
                continue;
            };
            let LinkStart {
                link,
                ip,
                port,
                frames,
                queued,
            } = start;
            let outbound = outbound(shared.clone(), link, ip, port, frames, queued);
            *task = Some(tokio::task::spawn_local(outbound).abort_handle());
        }
    }

    /// Closes an outbound link; false when it was not open.
    pub(crate) fn forget_link(&mut self, link: LinkId) -> bool {
        let Some((_, task)) = self.links.remove(&link) else {
            return false;
        };
        if let Some(task) = task {
            task.abort();
        }
        true
    }

    /// Holds `actions` until the AOF is durable up to `position` (`None`:
    /// only behind the actions already held), in order.
    pub(crate) fn hold(
        &mut self,
        position: Option<u64>,
        actions: impl IntoIterator<Item = BusAction>,
    ) {
        self.held.send_after(position, actions);
    }

    /// Takes the held actions whose records are durable up to `durable`, in
    /// order.
    pub(crate) fn take_ready(&mut self, durable: u64) -> Vec<BusAction> {
        self.held.take_ready(durable)
    }

    /// True while some actions wait for the AOF.
    pub(crate) fn has_held(&self) -> bool {
        self.held.has_held()
    }

    /// `DEBUG BUS-BLOCK`: drops (`blocked`) or lets through again the
    /// traffic to and from `node`.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn block_node(&mut self, node: disque_core::ids::NodeId, blocked: bool) {
        if blocked {
            self.blocked.insert(node);
        } else {
            self.blocked.remove(&node);
        }
    }

    /// True when `DEBUG BUS-BLOCK` drops the traffic of `node`.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn is_blocked(&self, node: &disque_core::ids::NodeId) -> bool {
        self.blocked.contains(node)
    }

    /// `actions` without the frames to the nodes of `DEBUG BUS-BLOCK`.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn without_blocked(
        &self,
        mut actions: Vec<BusAction>,
        node: &disque_core::Node,
    ) -> Vec<BusAction> {
        actions.retain(|action| match action {
            BusAction::Send { link, .. } => !node
                .link_peer(*link)
                .is_some_and(|n| self.blocked.contains(&n)),
            _ => true,
        });
        actions
    }
}

/// An outbound link whose task is still to start.
struct LinkStart {
    link: LinkId,
    ip: String,
    port: u16,
    frames: mpsc::UnboundedReceiver<Bytes>,
    queued: Rc<Cell<usize>>,
}

/// Logs why a connection from or to `ip` was refused, at most once per
/// [`REFUSAL_LOG_PERIOD`] per address.
fn log_refusal(shared: &Shared, ip: IpAddr, what: &str) {
    let mut state = shared.borrow_mut();
    let logged = &mut state.bus.refusals_logged;
    let now = Instant::now();
    if logged
        .get(&ip)
        .is_some_and(|t| now.duration_since(*t) < REFUSAL_LOG_PERIOD)
    {
        return;
    }
    if logged.len() >= REFUSAL_LOG_ADDRESSES {
        logged.clear();
    }
    logged.insert(ip, now);
    crate::log::warning(what);
}

/// Makes a new connection ready for frames: the TLS handshake with
/// `tls-cluster yes` (decision D13), then the `cluster-password` handshake
/// when a password is set (decision D12), as the connector or, when
/// `accepting`, the acceptor, within 5 s each. Returns the stream and the
/// node id the peer proved (`None` without a password), or why not.
async fn secure(
    shared: &Shared,
    tcp: TcpStream,
    peer: IpAddr,
    accepting: bool,
) -> Result<(Stream, Option<NodeId>), String> {
    let (tls, secret, my_id) = {
        let state = shared.borrow();
        let tls = state.tls.as_ref().and_then(|t| t.bus.clone());
        (
            tls,
            state.config.cluster_password.clone(),
            state.node().id(),
        )
    };
    let mut stream: Stream = match tls {
        None => Box::new(tcp),
        Some((acceptor, connector)) => {
            let tls: Result<Stream, std::io::Error> = if accepting {
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                    .await
                    .map_err(|_| "no TLS handshake within 5 s")?
                    .map(|s| Box::new(s) as Stream)
            } else {
                let name = rustls::pki_types::ServerName::IpAddress(peer.into());
                tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp))
                    .await
                    .map_err(|_| "no TLS handshake within 5 s")?
                    .map(|s| Box::new(s) as Stream)
            };
            tls.map_err(|e| format!("TLS handshake failed: {e}"))?
        }
    };
    let Some(secret) = secret else {
        return Ok((stream, None));
    };
    let handshake = async {
        if accepting {
            crate::bus_auth::accept(&mut stream, &secret, my_id).await
        } else {
            crate::bus_auth::connect(&mut stream, &secret, my_id).await
        }
    };
    let id = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no cluster-password handshake within 5 s".to_string()),
    };
    Ok((stream, Some(id)))
}

/// Reports a lost link from one of the bus tasks.
fn link_down(shared: &Shared, link: LinkId) {
    shared.borrow_mut().link_down(link);
}

/// Feeds one frame to the core and carries out what it asks.
fn deliver(shared: &Shared, origin: Origin, frame: Frame) {
    let mut state = shared.borrow_mut();
    #[cfg(feature = "fault-injection")]
    if state.bus.is_blocked(&frame.sender) {
        return;
    }
    crate::http::recorder::bus_message(&frame.message);
    state.run_core(|node, env, fx| node.on_frame(env, origin, frame, fx));
}

/// The end of a batch of frames: records written, durable frames sent.
fn flush_point(shared: &Shared) {
    shared.borrow_mut().flush_point(shared);
}

/// Reads frames from `reader` until it closes or sends garbage. `trusted`
/// tells whether the peer is known to be a node of the cluster (our own
/// outbound links are): until it is, frames are limited to
/// [`MAX_UNTRUSTED_FRAME`], then to [`MAX_FRAME`] (one job of the largest
/// body plus overhead; decision D15), and a connection that sends no valid frame
/// within [`FIRST_FRAME_TIMEOUT`] is closed (decision D15). A MEET, or a
/// frame from a member, makes an inbound connection trusted.
/// `authenticated`: the node id the connection proved with the
/// `cluster-password` handshake; every frame must then come from it.
async fn read_frames(
    shared: &Shared,
    mut reader: impl AsyncRead + Unpin,
    origin: impl Fn() -> Origin,
    trusted: &Cell<bool>,
    authenticated: Option<NodeId>,
) -> Result<(), String> {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let first_frame_by = tokio::time::Instant::now() + FIRST_FRAME_TIMEOUT;
    let mut got_frame = trusted.get();
    loop {
        // One clock read for the frames of one read (see `State::env`); the
        // batch ends, whatever stops it, with the clock live again and the
        // records and bus actions of the frames delivered flushed.
        shared
            .borrow_mut()
            .set_batch_clock(Some(crate::state::now_ms()));
        let batch = deliver_buffered(
            shared,
            &mut buf,
            &origin,
            trusted,
            authenticated,
            &mut got_frame,
        );
        shared.borrow_mut().set_batch_clock(None);
        flush_point(shared);
        batch?;
        let read = if got_frame {
            reader.read_buf(&mut buf).await
        } else {
            tokio::time::timeout_at(first_frame_by, reader.read_buf(&mut buf))
                .await
                .map_err(|_| "no valid frame within 5 s".to_string())?
        };
        match read {
            Ok(0) => return Ok(()),
            Ok(n) => crate::http::recorder::bus_bytes_in(n),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Delivers every complete frame in `buf` (see [`read_frames`]); an error
/// closes the connection.
fn deliver_buffered(
    shared: &Shared,
    buf: &mut BytesMut,
    origin: &impl Fn() -> Origin,
    trusted: &Cell<bool>,
    authenticated: Option<NodeId>,
    got_frame: &mut bool,
) -> Result<(), String> {
    loop {
        let max = if trusted.get() {
            MAX_FRAME
        } else {
            MAX_UNTRUSTED_FRAME
        };
        let frame = match Frame::decode_limited(buf, max) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(bad) => return Err(bad.0.to_string()),
        };
        if let Some(id) = authenticated.filter(|id| *id != frame.sender) {
            return Err(format!(
                "a frame from {} on a connection authenticated as {}",
                frame.sender.as_str(),
                id.as_str()
            ));
        }
        *got_frame = true;
        if !trusted.get()
            && (matches!(frame.message, Message::Meet(_))
                || shared.borrow().node().is_member(&frame.sender))
        {
            trusted.set(true);
            shared.borrow_mut().bus.untrusted -= 1;
        }
        deliver(shared, origin(), frame)
    }
}

/// Writes queued frames, everything pending at once.
async fn write_frames(
    mut writer: impl AsyncWrite + Unpin,
    mut frames: mpsc::UnboundedReceiver<Bytes>,
    queued: Rc<Cell<usize>>,
) {
    let mut out = BytesMut::new();
    while let Some(frame) = frames.recv().await {
        out.extend_from_slice(&frame);
        while let Ok(more) = frames.try_recv() {
            out.extend_from_slice(&more);
        }
        queued.set(queued.get().saturating_sub(out.len()));
        // flush: a TLS stream may still hold the last records.
        if writer.write_all(&out).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        crate::http::recorder::bus_bytes_out(out.len());
        out.clear();
    }
}

fn writer_pair() -> (Writer, mpsc::UnboundedReceiver<Bytes>, Rc<Cell<usize>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Rc::new(Cell::new(0));
    (
        Writer {
            frames: tx,
            queued: queued.clone(),
            batch: Cell::new((0, false)),
        },
        rx,
        queued,
    )
}

/// One outbound link: connect, tell the core, then read PONGs and write frames.
async fn outbound(
    shared: Shared,
    link: LinkId,
    ip: String,
    port: u16,
    frames: mpsc::UnboundedReceiver<Bytes>,
    queued: Rc<Cell<usize>>,
) {
    let addr = format!("{ip}:{port}");
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
        Ok(Ok(stream)) => stream,
        _ => return link_down(&shared, link),
    };
    let _ = stream.set_nodelay(true);
    let ip = stream
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let (stream, authenticated) = match secure(&shared, stream, ip, false).await {
        Ok(secured) => secured,
        Err(e) => {
            log_refusal(
                &shared,
                ip,
                &format!("Cluster bus: could not join {addr}: {e}"),
            );
            return link_down(&shared, link);
        }
    };
    let (reader, writer) = tokio::io::split(stream);
    // The writer ends by itself when the link's queue is dropped.
    tokio::task::spawn_local(write_frames(writer, frames, queued));
    {
        let mut state = shared.borrow_mut();
        state.run_core(|node, env, fx| node.on_link_up(env, link, fx));
        state.flush_point(&shared);
    }
    let trusted = Cell::new(true);
    let origin = || Origin::Outbound(link);
    if let Err(e) = read_frames(&shared, reader, origin, &trusted, authenticated).await {
        crate::log::notice(&format!("Cluster bus link to {addr} closed: {e}"));
    }
    link_down(&shared, link);
}

/// Accepts inbound bus connections.
pub async fn accept(shared: Shared, listener: TcpListener) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::task::spawn_local(inbound(shared.clone(), stream, peer));
    }
}

/// One inbound connection: frames in, PONG replies out.
async fn inbound(shared: Shared, stream: TcpStream, peer: SocketAddr) {
    let local_ip: Rc<str> = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
        .into();
    let peer_ip: Rc<str> = peer.ip().to_string().into();
    {
        let mut state = shared.borrow_mut();
        if state.bus.untrusted >= MAX_UNTRUSTED_CONNECTIONS {
            crate::log::warning(&format!(
                "Cluster bus: too many connections from unknown nodes, closing the one from {peer}"
            ));
            return;
        }
        state.bus.untrusted += 1;
    }
    let _ = stream.set_nodelay(true);
    let (stream, authenticated) = match secure(&shared, stream, peer.ip(), true).await {
        Ok(secured) => secured,
        Err(e) => {
            log_refusal(
                &shared,
                peer.ip(),
                &format!("Cluster bus: refused connection from {peer}: {e}"),
            );
            shared.borrow_mut().bus.untrusted -= 1;
            return;
        }
    };
    let trusted = Cell::new(false);
    if authenticated.is_some() {
        // It proved the secret: a node of the cluster.
        trusted.set(true);
        shared.borrow_mut().bus.untrusted -= 1;
    }
    let (reader, writer) = tokio::io::split(stream);
    let (sink, frames, queued) = writer_pair();
    let conn = {
        let mut state = shared.borrow_mut();
        state.bus.next_conn += 1;
        let conn = state.bus.next_conn;
        state.bus.inbound.insert(conn, sink);
        conn
    };
    tokio::task::spawn_local(write_frames(writer, frames, queued));
    let origin = || Origin::Inbound {
        conn,
        peer_ip: peer_ip.clone(),
        local_ip: local_ip.clone(),
    };
    if let Err(e) = read_frames(&shared, reader, origin, &trusted, authenticated).await {
        crate::log::warning(&format!("Cluster bus: closing connection from {peer}: {e}"));
    }
    // Dropping the queue ends the writer.
    let mut state = shared.borrow_mut();
    state.bus.inbound.remove(&conn);
    if !trusted.get() {
        state.bus.untrusted -= 1;
    }
}
