//! The event trace: every command, reply, frame and fault of a run, in order,
//! kept as plain data and rendered as text only when someone reads it.

use crate::net::{message_jobs, NOBODY, START_MS};
use bytes::Bytes;
use disque_core::cluster::message::Message;
use disque_core::ids::{JobId, NodeId};
use disque_core::job_codec;
use disque_core::ClientId;
use disque_proto::Reply;
use std::fmt::Write;

/// What happened to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Put on the wire.
    Sent,
    /// Put on the wire a second time (duplicate fault).
    Duplicated,
    /// Handed to the receiver.
    Delivered,
    /// Lost, and why.
    Dropped(&'static str),
}

/// One thing that happened.
#[derive(Clone, Debug)]
pub enum TraceKind {
    /// A client command.
    Command {
        /// Node.
        node: usize,
        /// Client.
        client: ClientId,
        /// The words.
        args: Vec<Bytes>,
    },
    /// A reply to a client.
    Reply {
        /// Node.
        node: usize,
        /// Client.
        client: ClientId,
        /// The reply.
        reply: Reply,
        /// It ended a blocked command.
        deferred: bool,
    },
    /// A bus frame.
    Frame {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
        /// What happened to it.
        fate: Fate,
        /// The message.
        message: Message,
        /// When it was put on the wire (for deliveries; else the entry's time).
        sent_at: u64,
    },
    /// An outbound link came up.
    Link {
        /// Owner.
        node: usize,
        /// Peer.
        to: usize,
        /// Up (always true for now).
        up: bool,
    },
    /// A crash, restart, partition or note.
    Fault(String),
}

/// A trace entry with its time.
#[derive(Clone, Debug)]
pub struct TraceEntry {
    /// Unix ms.
    pub at: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The whole trace of a run.
#[derive(Debug, Default)]
pub struct Trace {
    names: Vec<NodeId>,
    /// The entries, oldest first.
    pub entries: Vec<TraceEntry>,
}

fn show_bytes(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 60 {
        format!("{}…", &s[..60])
    } else {
        s.into_owned()
    }
}

/// A short form of a reply.
pub fn show_reply(r: &Reply) -> String {
    match r {
        Reply::Status(s) => format!("+{}", show_bytes(s)),
        Reply::Error(s) => format!("-{}", show_bytes(s)),
        Reply::Integer(n) => format!(":{n}"),
        Reply::Bulk(b) => format!("\"{}\"", show_bytes(b)),
        Reply::Nil => "(nil)".into(),
        Reply::NullArray => "(null array)".into(),
        Reply::Array(items) => format!(
            "[{}]",
            items.iter().map(show_reply).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl Trace {
    /// An empty trace for nodes with these ids.
    pub fn new(names: Vec<NodeId>) -> Trace {
        Trace {
            names,
            entries: Vec::new(),
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: TraceEntry) {
        self.entries.push(entry);
    }

    /// Number of entries so far (a mark for [`Trace::frames_since`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing happened yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `n3` for the node with that id, or the id's first 8 characters.
    pub fn node_name(&self, id: &NodeId) -> String {
        match self.names.iter().position(|n| n == id) {
            Some(i) => format!("n{i}"),
            None => id.as_str()[..8].to_string(),
        }
    }

    /// Frames with fate `fate` since entry `mark`: `(from, to, message)`.
    pub fn frames_since(&self, mark: usize, fate: Fate) -> Vec<(usize, usize, &Message)> {
        self.entries[mark.min(self.entries.len())..]
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Frame {
                    from,
                    to,
                    fate: f,
                    message,
                    ..
                } if *f == fate => Some((*from, *to, message)),
                _ => None,
            })
            .collect()
    }

    /// Counts delivered frames since `mark` for which `pred(from, to, message)` holds.
    pub fn delivered_since(
        &self,
        mark: usize,
        mut pred: impl FnMut(usize, usize, &Message) -> bool,
    ) -> usize {
        self.frames_since(mark, Fate::Delivered)
            .into_iter()
            .filter(|(f, t, m)| pred(*f, *t, m))
            .count()
    }

    /// A message in words, job ids shortened, node ids as names.
    pub fn describe_message(&self, m: &Message) -> String {
        let job = |id: &JobId| short_job(id);
        match m {
            Message::Ping(g) | Message::Pong(g) | Message::Meet(g) => {
                let about: Vec<String> = g
                    .iter()
                    .map(|e| {
                        let mut s = self.node_name(&e.id);
                        if e.flags != 0 {
                            let _ = write!(s, "/{}", e.flags);
                        }
                        s
                    })
                    .collect();
                format!("{} [{}]", m.name(), about.join(" "))
            }
            Message::Fail(n) => format!("FAIL {}", self.node_name(n)),
            Message::ReplJob {
                no_reply,
                job: payload,
            } => {
                let ids = message_jobs(m);
                format!(
                    "REPLJOB {} holders [{}]{}",
                    ids.first().map(job).unwrap_or_default(),
                    self.holders(payload),
                    if *no_reply { " noreply" } else { "" }
                )
            }
            Message::YourJobs(_) => format!(
                "YOURJOBS {}",
                message_jobs(m)
                    .iter()
                    .map(job)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Message::GotJob(id) => format!("GOTJOB {}", job(id)),
            Message::Enqueue { id, delay } => format!("ENQUEUE {} delay={delay}", job(id)),
            Message::Queued {
                id,
                nack,
                count,
                dead_letter,
            } => format!(
                "QUEUED {}{}{}",
                job(id),
                match (count, nack) {
                    (false, _) => "",
                    (true, true) => " +nacks",
                    (true, false) => " +deliveries",
                },
                if *dead_letter { " dead-lettered" } else { "" }
            ),
            Message::NackDelay { id, delay_ms } => {
                format!("NACKDELAY {} delay={delay_ms}ms", job(id))
            }
            Message::SetAck { id, holders } => {
                format!("SETACK {} holders [{}]", job(id), self.names(holders))
            }
            Message::HasJob(id) => format!("HASJOB {}", job(id)),
            Message::Holders { id, nodes } => {
                format!("HOLDERS {} [{}]", job(id), self.names(nodes))
            }
            Message::WillQueue(id) => format!("WILLQUEUE {}", job(id)),
            Message::GotAck { id, known } => format!("GOTACK {} known={}", job(id), *known as u8),
            Message::DelJob { id, holders } => {
                format!("DELJOB {} holders [{}]", job(id), self.names(holders))
            }
            Message::NeedJobs { queue, count } => {
                format!("NEEDJOBS {} count={count}", show_bytes(queue))
            }
            Message::Working(id) => format!("WORKING {}", job(id)),
            Message::Pause { queue, flags } => format!("PAUSE {} flags={flags}", show_bytes(queue)),
            // Messages added to the protocol later are shown by name.
            #[allow(unreachable_patterns)]
            other => other.name().to_string(),
        }
    }

    /// Node ids as names, space-separated.
    fn names(&self, nodes: &[NodeId]) -> String {
        nodes
            .iter()
            .map(|n| self.node_name(n))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The nodes-delivered list carried by a serialized job, as names.
    fn holders(&self, payload: &Bytes) -> String {
        match job_codec::decode(payload, job_codec::Form::Message, 0) {
            Ok(decoded) => decoded
                .nodes
                .iter()
                .map(|n| self.node_name(n))
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => "corrupt".into(),
        }
    }

    /// One entry as a line of text.
    pub fn render_entry(&self, e: &TraceEntry) -> String {
        let t = e.at.saturating_sub(START_MS);
        let when = format!("{:>4}.{:03}", t / 1000, t % 1000);
        match &e.kind {
            TraceKind::Command { node, client, args } => format!(
                "{when} n{node} c{client} > {}",
                args.iter()
                    .map(|a| show_bytes(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            TraceKind::Reply {
                node,
                client,
                reply,
                deferred,
            } => format!(
                "{when} n{node} c{client} < {}{}",
                if *deferred { "(deferred) " } else { "" },
                show_reply(reply)
            ),
            TraceKind::Frame {
                from,
                to,
                fate,
                message,
                ..
            } => {
                let fate = match fate {
                    Fate::Sent => "sent".to_string(),
                    Fate::Duplicated => "DUPLICATED".to_string(),
                    Fate::Delivered => "->".to_string(),
                    Fate::Dropped(why) => format!("DROPPED ({why})"),
                };
                let to = if *to == NOBODY {
                    "?".to_string()
                } else {
                    format!("n{to}")
                };
                format!(
                    "{when} n{from} {fate} {to} {}",
                    self.describe_message(message)
                )
            }
            TraceKind::Link { node, to, up } => {
                format!(
                    "{when} n{node} link to n{to} {}",
                    if *up { "up" } else { "down" }
                )
            }
            TraceKind::Fault(text) => format!("{when} *** {text}"),
        }
    }

    /// True when the entry concerns job `id` (a command naming it, a reply
    /// carrying it, a frame about it) or is a fault.
    pub fn mentions(&self, e: &TraceEntry, id: &JobId, body: Option<&[u8]>) -> bool {
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        let reply_has = |r: &Reply| {
            fn walk(r: &Reply, f: &dyn Fn(&[u8]) -> bool) -> bool {
                match r {
                    Reply::Status(b) | Reply::Bulk(b) | Reply::Error(b) => f(b),
                    Reply::Array(items) => items.iter().any(|i| walk(i, f)),
                    _ => false,
                }
            }
            walk(r, &|b: &[u8]| {
                contains(b, id.as_bytes()) || body.is_some_and(|body| b == body)
            })
        };
        match &e.kind {
            TraceKind::Command { args, .. } => args
                .iter()
                .any(|a| contains(a, id.as_bytes()) || body.is_some_and(|b| &a[..] == b)),
            TraceKind::Reply { reply, .. } => reply_has(reply),
            TraceKind::Frame { message, fate, .. } => {
                *fate != Fate::Sent && message_jobs(message).contains(id)
            }
            TraceKind::Link { .. } => false,
            TraceKind::Fault(_) => true,
        }
    }

    /// The whole trace as text (sent frames omitted: deliveries and drops say it).
    pub fn render_all(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            if matches!(
                e.kind,
                TraceKind::Frame {
                    fate: Fate::Sent,
                    ..
                }
            ) {
                continue;
            }
            out.push_str(&self.render_entry(e));
            out.push('\n');
        }
        out
    }

    /// The trace restricted to job `id` (and its body, if known) plus faults,
    /// at most `limit` lines (the last ones).
    pub fn render_job(&self, id: &JobId, body: Option<&[u8]>, limit: usize) -> String {
        let lines = collapse(
            self.entries
                .iter()
                .filter(|e| self.mentions(e, id, body))
                .map(|e| self.render_entry(e)),
        );
        let skip = lines.len().saturating_sub(limit);
        let mut out = String::new();
        if skip > 0 {
            let _ = writeln!(out, "  ... {skip} earlier lines omitted");
        }
        for l in &lines[skip..] {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// Folds runs of lines that differ only in their time (a REPLJOB re-sent at
/// every tick, say) into the first one plus a count.
fn collapse(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(String, usize, String)> = None;
    let body = |l: &str| {
        l.trim_start()
            .split_once(' ')
            .map_or(String::new(), |(_, b)| b.to_string())
    };
    let flush = |out: &mut Vec<String>, run: &mut Option<(String, usize, String)>| {
        if let Some((first, extra, last_time)) = run.take() {
            out.push(first);
            if extra > 0 {
                out.push(format!(
                    "           ... {extra} more like it, the last at {last_time}"
                ));
            }
        }
    };
    for line in lines {
        let b = body(&line);
        let time = line.split_whitespace().next().unwrap_or("").to_string();
        match &mut run {
            Some((first, extra, last_time)) if body(first) == b => {
                *extra += 1;
                *last_time = time;
            }
            _ => {
                flush(&mut out, &mut run);
                run = Some((line, 0, time));
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// `D-abcd1234-XYZ…` → the last 10 characters of the random part, enough to
/// tell jobs apart in a trace.
pub fn short_job(id: &JobId) -> String {
    format!("J:{}", String::from_utf8_lossy(&id.0[25..35]))
}
