//! One client connection: read, parse every complete pipelined request, run each,
//! write the replies once per read. A blocked client stops processing input until
//! its deferred reply arrives through the outbox.

use crate::action::Action;
use crate::clients::Outbound;
pub use crate::clients::Peer;
use crate::dispatch::execute;
use crate::state::{now_ms, Shared};
use bytes::{Buf, BytesMut};
use disque_proto::request::RequestParser;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Largest query buffer a client may accumulate (1 GiB), as in the original.
const QUERY_BUFFER_LIMIT: usize = 1 << 30;
/// Read or write buffers larger than this are given back once a large request
/// or reply is done with (decision D15): one 400 MB request must not keep
/// 400 MB for the life of the connection.
const BUFFER_KEEP: usize = 1 << 20;

/// Serves one client until it quits, is killed, times out or disconnects.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(shared: Shared, mut stream: S, peer: Peer) {
    // One stream for both directions, never split: a connection reads or
    // writes, never both at once (and a split stream takes a lock on each).
    let writer = &mut stream;
    if refused_by_protected_mode(&shared, &peer) {
        let _ = writer.write_all(crate::security::DENIED.as_bytes()).await;
        let _ = writer.shutdown().await;
        return;
    }
    let (outbox, mut inbox) = mpsc::unbounded_channel();
    let Some(id) = register(&shared, peer, outbox) else {
        let _ = writer
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = writer.shutdown().await;
        return;
    };
    let mut conn = Connection {
        id,
        shared: shared.clone(),
        input: BytesMut::with_capacity(16 * 1024),
        output: BytesMut::new(),
        parser: RequestParser::new(),
        closing: false,
        soft_limit_since: None,
    };
    let _ = conn.run(&mut stream, &mut inbox).await;
    let mut state = shared.borrow_mut();
    state.run_core(|node, env, fx| node.client_gone(env, id, fx));
    state.flush_point(&shared);
    state.clients.remove(id);
}

/// True (counted as a rejected connection) when protected mode refuses
/// this client (decision D14).
fn refused_by_protected_mode(shared: &Shared, peer: &Peer) -> bool {
    let mut state = shared.borrow_mut();
    let refused = crate::security::protected_mode_refuses(&state.config, peer.local);
    if refused {
        state.stats.count_rejected();
    }
    refused
}

/// Adds the client to the registry, or refuses it above `maxclients`.
fn register(shared: &Shared, peer: Peer, outbox: mpsc::UnboundedSender<Outbound>) -> Option<u64> {
    let mut state = shared.borrow_mut();
    state.stats.count_connection();
    if state.clients.len() as i64 >= state.config.maxclients {
        state.stats.count_rejected();
        return None;
    }
    Some(state.clients.register(peer, outbox))
}

struct Connection {
    id: u64,
    shared: Shared,
    input: BytesMut,
    output: BytesMut,
    parser: RequestParser,
    closing: bool,
    /// Since when the pending output is above the soft limit of
    /// `client-output-buffer-limit`.
    soft_limit_since: Option<Instant>,
}

/// What to do with a connection's pending output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limit {
    /// Within the limits.
    Ok,
    /// Above the soft limit for less than its time: check again at this
    /// instant.
    SoftUntil(Instant),
    /// Above the hard limit, or above the soft one for too long: close.
    Exceeded,
}

impl Connection {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        inbox: &mut mpsc::UnboundedReceiver<Outbound>,
    ) -> std::io::Result<()> {
        // Two timers reused across iterations (reset, not re-created, per read).
        let idle = tokio::time::sleep(Duration::ZERO);
        let pause = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(idle, pause);
        loop {
            let paused_until = self.process_input();
            // Write before reply: the records of this batch reach the file first,
            // and with `appendfsync always` the disk (group commit).
            let unsynced = {
                let mut state = self.shared.borrow_mut();
                state.flush_point(&self.shared);
                state.aof().unsynced_target()
            };
            if let Some(target) = unsynced {
                crate::group_commit::wait_durable(&self.shared, target).await;
            }
            if !self.output.is_empty() && !self.write_output(stream, inbox).await? {
                return Ok(());
            }
            self.shrink_buffers();
            if self.closing {
                return stream.shutdown().await;
            }
            let idle_deadline = self.idle_deadline();
            if let Some(d) = idle_deadline {
                idle.as_mut().reset(tokio::time::Instant::now() + d);
            }
            let pause_wait =
                paused_until.map(|until| Duration::from_millis(until.saturating_sub(now_ms())));
            if let Some(d) = pause_wait {
                pause.as_mut().reset(tokio::time::Instant::now() + d);
            }
            // What arrived meanwhile first, without registering a waker (the
            // select below polls the socket first).
            match inbox.try_recv() {
                Ok(Outbound::Kill) | Err(mpsc::error::TryRecvError::Disconnected) => return Ok(()),
                Ok(message) => {
                    self.receive(message);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            tokio::select! {
                biased;
                read = stream.read_buf(&mut self.input) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    let mut state = self.shared.borrow_mut();
                    state.stats.add_net_input(n as u64);
                    state.clients.note_input(self.id, self.input.len());
                    if self.input.len() > QUERY_BUFFER_LIMIT {
                        crate::log::warning("Closing client that reached max query buffer length");
                        return Ok(());
                    }
                }
                message = inbox.recv() => match message {
                    Some(Outbound::Kill) | None => return Ok(()),
                    Some(message) => self.receive(message),
                },
                _ = &mut idle, if idle_deadline.is_some() => {
                    return Ok(());
                }
                _ = &mut pause, if pause_wait.is_some() => {}
            }
        }
    }

    /// Writes the pending output. Deferred replies and MONITOR lines that
    /// arrive meanwhile are added to it, and `client-output-buffer-limit`
    /// is enforced on what is still to be written (Redis's semantics, class
    /// `normal`). False when the connection must close (a limit was exceeded,
    /// or CLIENT KILL).
    async fn write_output<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        inbox: &mut mpsc::UnboundedReceiver<Outbound>,
    ) -> std::io::Result<bool> {
        let mut written = 0;
        // The soft-limit timer, made only once a client is above the soft limit.
        let mut soft: Option<Pin<Box<tokio::time::Sleep>>> = None;
        // Written bytes leave the buffer at once, so replies added meanwhile
        // (deferred replies, MONITOR lines) never sit behind sent ones.
        while !self.output.is_empty() {
            let check_at = match self.check_output_limit(self.output.len()) {
                Limit::Exceeded => return Ok(false),
                Limit::SoftUntil(at) => {
                    let at = tokio::time::Instant::from_std(at);
                    match &mut soft {
                        Some(timer) => timer.as_mut().reset(at),
                        None => soft = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                    true
                }
                Limit::Ok => false,
            };
            tokio::select! {
                // The socket first: a writable socket ends the select before
                // the inbox is polled, which is most writes.
                biased;
                n = writer.write(&self.output) => {
                    let n = n?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    self.output.advance(n);
                    written += n;
                }
                message = inbox.recv() => match message {
                    Some(Outbound::Kill) | None => return Ok(false),
                    Some(message) => self.receive(message),
                },
                _ = async { soft.as_mut().expect("set with check_at").await }, if check_at => {}
            }
        }
        // A TLS stream may still hold the last records.
        writer.flush().await?;
        self.shared
            .borrow_mut()
            .stats
            .add_net_output(written as u64);
        self.soft_limit_since = None;
        Ok(true)
    }

    /// Adds a deferred reply or a MONITOR line to the output.
    fn receive(&mut self, message: Outbound) {
        match message {
            Outbound::Reply(reply) => {
                self.shared.borrow_mut().clients.unblock(self.id);
                reply.encode(&mut self.output);
            }
            Outbound::Monitor(line) => self.output.extend_from_slice(&line),
            Outbound::Kill => self.closing = true,
        }
    }

    /// `client-output-buffer-limit` for `pending` bytes of output, with
    /// Redis's rules: at or above the hard limit the client is closed; at or
    /// above the soft limit for more than the soft seconds too (a limit of 0
    /// is none). Logs the close.
    fn check_output_limit(&mut self, pending: usize) -> Limit {
        let limit = self.shared.borrow().config.client_output_buffer_limit;
        let pending = pending as u64;
        let hard = limit.hard > 0 && pending >= limit.hard;
        let mut result = Limit::Ok;
        if limit.soft > 0 && pending >= limit.soft {
            let since = *self.soft_limit_since.get_or_insert_with(Instant::now);
            let allowed = Duration::from_secs(limit.soft_seconds.max(0) as u64);
            result = if since.elapsed() > allowed {
                Limit::Exceeded
            } else {
                // Just past the allowed time, when a check closes it.
                Limit::SoftUntil(since + allowed + Duration::from_millis(1))
            };
        } else {
            self.soft_limit_since = None;
        }
        if hard {
            result = Limit::Exceeded;
        }
        if result == Limit::Exceeded {
            let state = self.shared.borrow();
            let addr = state.clients.get(self.id).map_or("", |c| c.addr());
            crate::log::warning(&format!(
                "Client id={} addr={addr} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.id
            ));
        }
        result
    }

    /// Gives back the memory of a large request or reply once it is done
    /// with: what is left of the input (a partial next request) moves to a
    /// small buffer, which also drops the reference to the large one.
    fn shrink_buffers(&mut self) {
        if self.input.capacity() > BUFFER_KEEP && self.input.len() <= BUFFER_KEEP / 4 {
            let mut fresh = BytesMut::with_capacity(16 * 1024);
            fresh.extend_from_slice(&self.input);
            self.input = fresh;
        }
        if self.output.capacity() > BUFFER_KEEP {
            self.output = BytesMut::new();
        }
    }

    /// When an idle client must be closed (`timeout`), if at all.
    fn idle_deadline(&self) -> Option<Duration> {
        let state = self.shared.borrow();
        let timeout = state.config.timeout;
        if timeout <= 0 {
            return None;
        }
        let client = state.clients.get(self.id)?;
        if client.is_blocked() || client.is_monitor() {
            return None;
        }
        let limit = Duration::from_secs(timeout as u64);
        Some(limit.saturating_sub(client.idle()))
    }

    /// True while a blocked command waits for its deferred reply.
    fn blocked(&self) -> bool {
        let state = self.shared.borrow();
        state.clients.get(self.id).is_some_and(|c| c.is_blocked())
    }

    /// Marks the client blocked until its deferred reply arrives.
    fn set_blocked(&self) {
        self.shared.borrow_mut().clients.block(self.id);
    }

    /// Runs every complete request in the input buffer. Returns the CLIENT PAUSE
    /// end time if processing had to stop because clients are paused.
    fn process_input(&mut self) -> Option<u64> {
        let now = now_ms();
        self.shared.borrow_mut().set_batch_clock(Some(now));
        let paused = self.process_batch(now);
        let mut state = self.shared.borrow_mut();
        state.set_batch_clock(None);
        state.clients.set_query_buffer(self.id, self.input.len());
        paused
    }

    /// [`Connection::process_input`] with the clock read at `now`.
    fn process_batch(&mut self, now: u64) -> Option<u64> {
        if self.blocked() {
            return None;
        }
        while !self.closing {
            let paused_until = self.shared.borrow().paused_until();
            if paused_until > now {
                return Some(paused_until);
            }
            let args = match self.parser.parse(&mut self.input) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(error) => {
                    error.to_reply().encode(&mut self.output);
                    self.closing = true;
                    break;
                }
            };
            let action = execute(&mut self.shared.borrow_mut(), self.id, &args);
            self.parser.recycle(args);
            match action {
                Action::Reply(reply) => {
                    reply.encode(&mut self.output);
                    self.shared.borrow_mut().recycle_reply(reply);
                }
                Action::NoReply => {}
                Action::Blocked => {
                    self.set_blocked();
                    break;
                }
                Action::ReplyAndClose(reply) => {
                    reply.encode(&mut self.output);
                    self.closing = true;
                }
            }
            // A batch of pipelined requests must not pile up replies past
            // the limit before the first byte is written.
            if self.check_output_limit(self.output.len()) == Limit::Exceeded {
                self.output.clear();
                self.closing = true;
            }
        }
        None
    }
}
