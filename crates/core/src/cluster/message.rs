//! Cluster bus messages (docs/cluster.md §5.2) and their wire format.
//!
//! A frame is `u32 BE length of the rest | u8 version | u8 type | 40-byte sender id |
//! u16 BE sender port | u16 BE sender flags | payload`. Decoding checks every
//! length against the frame; a bad frame is an error for the caller to close
//! the link with, never a panic.

use crate::ids::{JobId, NodeId, ID_LEN};
use bytes::{BufMut, Bytes, BytesMut};
use disque_proto::request::MAX_BULK_LENGTH;

/// Wire format version; frames of another version are refused. Version 2
/// added EMPTIED, HASJOB and HOLDERS and the holder lists of SETACK and
/// DELJOB (decision D8), so nodes of the two versions never misread each other.
/// Decisions D16–D18 did not change it: what they add (NACKDELAY, bit 2 of
/// QUEUED, the job extension section) is sent only for jobs that use them, so
/// a node without them keeps working with this one until they are used.
pub const VERSION: u8 = 2;
/// Bytes a frame may hold besides one job's body: the frame header, the
/// message's own fields, the job's queue names (ADDJOB allows 1 MiB
/// together), fixed fields, extension
/// fields and holder list (at most 65,535 holders, REPLICATE's limit: 2.6 MB).
pub const FRAME_OVERHEAD: usize = 4 << 20;
/// Largest frame length (the bytes after the length prefix) accepted from a
/// node of the cluster (decision D15): one job of the protocol's largest
/// argument plus [`FRAME_OVERHEAD`], 516 MiB. A YOURJOBS batch larger than
/// that is sent as several frames ([`Message::your_jobs`]).
pub const MAX_FRAME: usize = MAX_BULK_LENGTH as usize + FRAME_OVERHEAD;
/// Largest frame accepted on a connection before it proved to come from a
/// known node (decision D15): a PING, MEET or EMPTIED is far smaller.
pub const MAX_UNTRUSTED_FRAME: usize = 64 << 10;
/// Bytes before the payload (after the length prefix).
const HEADER_LEN: usize = 1 + 1 + ID_LEN + 2 + 2;
/// Frame length of a YOURJOBS without jobs: the header and the job count.
const EMPTY_YOURJOBS_LEN: usize = HEADER_LEN + 4;

/// Sender flag: the sender is leaving the cluster.
pub const SENDER_LEAVING: u16 = 1;

/// What a gossip section says about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipEntry {
    /// The node.
    pub id: NodeId,
    /// Its address as the sender knows it.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// `GOSSIP_*` flags as the sender sees them.
    pub flags: u16,
}

/// Gossip flag: the sender sees the node as PFAIL.
pub const GOSSIP_PFAIL: u16 = 1;
/// Gossip flag: the sender sees the node as FAIL.
pub const GOSSIP_FAIL: u16 = 2;
/// Gossip flag: the node's address is unknown.
pub const GOSSIP_NOADDR: u16 = 4;

/// A bus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Liveness and gossip.
    Ping(Vec<GossipEntry>),
    /// Answer to PING or MEET.
    Pong(Vec<GossipEntry>),
    /// A PING that makes the receiver add the sender.
    Meet(Vec<GossipEntry>),
    /// "Mark this node FAIL."
    Fail(NodeId),
    /// "Store a copy of this job" (message-form serialization).
    ReplJob {
        /// The serialized job.
        job: Bytes,
        /// Do not answer with GOTJOB.
        no_reply: bool,
    },
    /// "I stored it."
    GotJob(JobId),
    /// "Queue your copy (after `delay` seconds)."
    Enqueue {
        /// The job.
        id: JobId,
        /// Seconds to wait.
        delay: u32,
    },
    /// "I queued it; postpone yours."
    Queued {
        /// The job.
        id: JobId,
        /// Increment `nacks` (NACK) rather than `additional-deliveries`.
        nack: bool,
        /// Increment a counter at all (false for the answer to WILLQUEUE).
        count: bool,
        /// The job was moved to its dead-letter queue (decision D17): move
        /// yours too. Bit 2 of the flags byte, which older nodes ignore.
        dead_letter: bool,
    },
    /// "This job is acknowledged", with the sender's holder list (the
    /// original sent only its size; a list lets the receiver see whether it
    /// knows holders the sender does not, decision D8).
    SetAck {
        /// The job.
        id: JobId,
        /// The sender's nodes-delivered (empty for a dummy ACK).
        holders: Vec<NodeId>,
    },
    /// "I am about to requeue it."
    WillQueue(JobId),
    /// Answer to SETACK.
    GotAck {
        /// The job.
        id: JobId,
        /// The replier knows the job.
        known: bool,
    },
    /// "Delete your copy", with the sender's holder list: a receiver that
    /// knows holders the sender does not passes it on to them (decision D8;
    /// the original sent the id only).
    DelJob {
        /// The job.
        id: JobId,
        /// The sender's nodes-delivered (empty when it does not hold the job).
        holders: Vec<NodeId>,
    },
    /// "Send me jobs for this queue."
    NeedJobs {
        /// The queue.
        queue: Bytes,
        /// How many.
        count: u32,
    },
    /// Jobs for a NEEDJOBS (message-form serializations).
    YourJobs(Vec<Bytes>),
    /// "A client is working on it; dequeue and postpone."
    Working(JobId),
    /// "Set this queue's pause flags" (bit 1 in, bit 2 out).
    Pause {
        /// The queue.
        queue: Bytes,
        /// Pause flags.
        flags: u8,
    },
    /// "Consumers are (no longer) blocked on this queue here" (decision D9; not in
    /// the original protocol).
    Waiting {
        /// The queue.
        queue: Bytes,
        /// Consumers wait now.
        waiting: bool,
    },
    /// "I restarted without my jobs: I hold none of the copies you list me
    /// for" (decision D8; not in the original protocol).
    Emptied,
    /// "Do you hold this job?": GOTJOB if so, SETACK if it is acked there,
    /// nothing otherwise; never creates a copy (decision D8).
    HasJob(JobId),
    /// "These nodes hold (or may hold) this job": merged into the holder list
    /// of a copy the receiver has; never creates one (decision D8).
    Holders {
        /// The job.
        id: JobId,
        /// Its holders.
        nodes: Vec<NodeId>,
    },
    /// "A consumer NACKed it with a delay: count the NACK, dequeue it, and
    /// requeue it no sooner than `delay_ms` from now" (decision D16; not in
    /// the original protocol, sent only for NACK DELAY).
    NackDelay {
        /// The job.
        id: JobId,
        /// Milliseconds until the delay ends.
        delay_ms: u64,
    },
}

/// A message with the sender's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Who sent it.
    pub sender: NodeId,
    /// The sender's client port.
    pub port: u16,
    /// `SENDER_*` flags.
    pub flags: u16,
    /// The message.
    pub message: Message,
}

/// A frame that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadFrame(pub &'static str);

/// The names of the message types, by type code ([`Message::type_code`]).
pub const MESSAGE_NAMES: [&str; 21] = [
    "PING",
    "PONG",
    "MEET",
    "FAIL",
    "REPLJOB",
    "GOTJOB",
    "ENQUEUE",
    "QUEUED",
    "SETACK",
    "WILLQUEUE",
    "GOTACK",
    "DELJOB",
    "NEEDJOBS",
    "YOURJOBS",
    "WORKING",
    "PAUSE",
    "WAITING",
    "EMPTIED",
    "HASJOB",
    "HOLDERS",
    "NACKDELAY",
];

impl Message {
    /// The message's type code on the wire (docs/cluster.md §4).
    pub fn type_code(&self) -> u8 {
        match self {
            Message::Ping(_) => 0,
            Message::Pong(_) => 1,
            Message::Meet(_) => 2,
            Message::Fail(_) => 3,
            Message::ReplJob { .. } => 4,
            Message::GotJob(_) => 5,
            Message::Enqueue { .. } => 6,
            Message::Queued { .. } => 7,
            Message::SetAck { .. } => 8,
            Message::WillQueue(_) => 9,
            Message::GotAck { .. } => 10,
            Message::DelJob { .. } => 11,
            Message::NeedJobs { .. } => 12,
            Message::YourJobs(_) => 13,
            Message::Working(_) => 14,
            Message::Pause { .. } => 15,
            Message::Waiting { .. } => 16,
            Message::Emptied => 17,
            Message::HasJob(_) => 18,
            Message::Holders { .. } => 19,
            Message::NackDelay { .. } => 20,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        MESSAGE_NAMES[self.type_code() as usize]
    }

    /// YOURJOBS messages carrying `jobs` (message-form serializations) in
    /// order, each frame at most `max_frame` long: a new frame starts where
    /// the next job would not fit. A job too big for any frame goes alone in
    /// its own (ADDJOB refuses such jobs).
    pub fn your_jobs(jobs: Vec<Bytes>, max_frame: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        let mut batch = Vec::new();
        let mut len = EMPTY_YOURJOBS_LEN;
        for job in jobs {
            let added = 4 + job.len();
            if !batch.is_empty() && len + added > max_frame {
                messages.push(Message::YourJobs(std::mem::take(&mut batch)));
                len = EMPTY_YOURJOBS_LEN;
            }
            len += added;
            batch.push(job);
        }
        if !batch.is_empty() {
            messages.push(Message::YourJobs(batch));
        }
        messages
    }
}

/// Fills the u32 length placeholder at `at` with the length of what follows it.
fn fill_len(out: &mut BytesMut, at: usize) {
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_bytes(out: &mut BytesMut, data: &[u8]) {
    out.put_u32(data.len() as u32);
    out.extend_from_slice(data);
}

/// Appends a frame's length placeholder and header.
fn put_header(out: &mut BytesMut, sender: &NodeId, port: u16, flags: u16, type_code: u8) {
    out.put_u32(0);
    out.put_u8(VERSION);
    out.put_u8(type_code);
    out.extend_from_slice(sender.as_bytes());
    out.put_u16(port);
    out.put_u16(flags);
}

impl Frame {
    /// A REPLJOB frame from `sender` whose serialized job `write_job`
    /// appends in place: the job is encoded once, straight into the frame
    /// (about `job_len` bytes), never copied. Byte for byte what
    /// [`Frame::to_bytes`] makes of a [`Message::ReplJob`] holding that job.
    pub fn repljob(
        (sender, port, flags): (NodeId, u16, u16),
        no_reply: bool,
        job_len: usize,
        write_job: impl FnOnce(&mut BytesMut),
    ) -> Bytes {
        let code = Message::ReplJob {
            job: Bytes::new(),
            no_reply,
        }
        .type_code();
        let mut out = BytesMut::with_capacity(4 + HEADER_LEN + 1 + 4 + job_len);
        put_header(&mut out, &sender, port, flags, code);
        out.put_u8(no_reply as u8);
        let job_at = out.len();
        out.put_u32(0);
        write_job(&mut out);
        fill_len(&mut out, job_at);
        fill_len(&mut out, 0);
        out.freeze()
    }

    /// Appends the encoded frame (length prefix included) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        put_header(
            out,
            &self.sender,
            self.port,
            self.flags,
            self.message.type_code(),
        );
        match &self.message {
            Message::Ping(g) | Message::Pong(g) | Message::Meet(g) => {
                out.put_u16(g.len() as u16);
                for e in g {
                    out.extend_from_slice(e.id.as_bytes());
                    put_bytes(out, e.ip.as_bytes());
                    out.put_u16(e.port);
                    out.put_u16(e.flags);
                }
            }
            Message::Fail(node) => out.extend_from_slice(node.as_bytes()),
            Message::ReplJob { job, no_reply } => {
                out.put_u8(*no_reply as u8);
                put_bytes(out, job);
            }
            Message::GotJob(id)
            | Message::WillQueue(id)
            | Message::Working(id)
            | Message::HasJob(id) => out.extend_from_slice(id.as_bytes()),
            Message::Enqueue { id, delay } => {
                out.extend_from_slice(id.as_bytes());
                out.put_u32(*delay);
            }
            Message::Queued {
                id,
                nack,
                count,
                dead_letter,
            } => {
                out.extend_from_slice(id.as_bytes());
                out.put_u8(*nack as u8 | (*count as u8) << 1 | (*dead_letter as u8) << 2);
            }
            Message::NackDelay { id, delay_ms } => {
                out.extend_from_slice(id.as_bytes());
                out.put_u64(*delay_ms);
            }
            Message::SetAck { id, holders: nodes }
            | Message::DelJob { id, holders: nodes }
            | Message::Holders { id, nodes } => {
                out.extend_from_slice(id.as_bytes());
                out.put_u32(nodes.len() as u32);
                for node in nodes {
                    out.extend_from_slice(node.as_bytes());
                }
            }
            Message::GotAck { id, known } => {
                out.extend_from_slice(id.as_bytes());
                out.put_u8(*known as u8);
            }
            Message::NeedJobs { queue, count } => {
                put_bytes(out, queue);
                out.put_u32(*count);
            }
            Message::YourJobs(jobs) => {
                out.put_u32(jobs.len() as u32);
                for job in jobs {
                    put_bytes(out, job);
                }
            }
            Message::Pause { queue, flags } => {
                put_bytes(out, queue);
                out.put_u8(*flags);
            }
            Message::Waiting { queue, waiting } => {
                put_bytes(out, queue);
                out.put_u8(*waiting as u8);
            }
            Message::Emptied => {}
        }
        fill_len(out, start);
    }

    /// About the length of the encoded frame (exact for the frames of
    /// replication and acks), so that encoding allocates once.
    fn encoded_len_hint(&self) -> usize {
        4 + HEADER_LEN
            + match &self.message {
                Message::Ping(g) | Message::Pong(g) | Message::Meet(g) => {
                    2 + g.iter().map(|e| ID_LEN + 4 + e.ip.len() + 4).sum::<usize>()
                }
                Message::ReplJob { job, .. } => 1 + 4 + job.len(),
                Message::SetAck { holders: nodes, .. }
                | Message::DelJob { holders: nodes, .. }
                | Message::Holders { nodes, .. } => ID_LEN + 4 + ID_LEN * nodes.len(),
                Message::YourJobs(jobs) => 4 + jobs.iter().map(|j| 4 + j.len()).sum::<usize>(),
                Message::NeedJobs { queue, .. }
                | Message::Pause { queue, .. }
                | Message::Waiting { queue, .. } => 4 + queue.len() + 4,
                _ => ID_LEN + 8,
            }
    }

    /// The encoded frame as a shareable buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode(&mut out);
        out.freeze()
    }

    /// Takes one complete frame off the front of `buf`: `Ok(None)` when more bytes
    /// are needed. Payload bytes (job bodies) are shared, not copied.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, BadFrame> {
        Frame::decode_limited(buf, MAX_FRAME)
    }

    /// [`Frame::decode`] refusing frames longer than `max` bytes.
    pub fn decode_limited(buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, BadFrame> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > max {
            return Err(BadFrame(if max < MAX_FRAME {
                "frame too large before the sender is known"
            } else {
                "frame above the bus frame limit"
            }));
        }
        if len < HEADER_LEN {
            return Err(BadFrame("bad frame length"));
        }
        if buf.len() < 4 + len {
            return Ok(None);
        }
        let _ = buf.split_to(4);
        let body = buf.split_to(len).freeze();
        let mut r = Reader { data: body, pos: 0 };
        if r.u8()? != VERSION {
            return Err(BadFrame("unknown protocol version"));
        }
        let kind = r.u8()?;
        let sender = r.node()?;
        let port = r.u16()?;
        let flags = r.u16()?;
        let message = match kind {
            0..=2 => {
                let count = r.u16()? as usize;
                let mut gossip = Vec::with_capacity(count.min(64));
                for _ in 0..count {
                    let id = r.node()?;
                    // Empty (unknown) or an IP literal: anything else would end up
                    // in nodes.conf lines.
                    let ip = String::from_utf8(r.bytes()?.to_vec())
                        .ok()
                        .filter(|ip| ip.is_empty() || ip.parse::<std::net::IpAddr>().is_ok())
                        .ok_or(BadFrame("bad gossip address"))?;
                    gossip.push(GossipEntry {
                        id,
                        ip,
                        port: r.u16()?,
                        flags: r.u16()?,
                    });
                }
                match kind {
                    0 => Message::Ping(gossip),
                    1 => Message::Pong(gossip),
                    _ => Message::Meet(gossip),
                }
            }
            3 => Message::Fail(r.node()?),
            4 => {
                let no_reply = r.u8()? != 0;
                Message::ReplJob {
                    no_reply,
                    job: r.bytes()?,
                }
            }
            5 => Message::GotJob(r.job()?),
            6 => Message::Enqueue {
                id: r.job()?,
                delay: r.u32()?,
            },
            7 => {
                let id = r.job()?;
                let bits = r.u8()?;
                Message::Queued {
                    id,
                    nack: bits & 1 != 0,
                    count: bits & 2 != 0,
                    dead_letter: bits & 4 != 0,
                }
            }
            8 => Message::SetAck {
                id: r.job()?,
                holders: r.nodes()?,
            },
            9 => Message::WillQueue(r.job()?),
            10 => Message::GotAck {
                id: r.job()?,
                known: r.u8()? != 0,
            },
            11 => Message::DelJob {
                id: r.job()?,
                holders: r.nodes()?,
            },
            12 => Message::NeedJobs {
                queue: r.bytes()?,
                count: r.u32()?,
            },
            13 => {
                let count = r.u32()? as usize;
                let mut jobs = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    jobs.push(r.bytes()?);
                }
                Message::YourJobs(jobs)
            }
            14 => Message::Working(r.job()?),
            15 => Message::Pause {
                queue: r.bytes()?,
                flags: r.u8()?,
            },
            16 => Message::Waiting {
                queue: r.bytes()?,
                waiting: r.u8()? != 0,
            },
            17 => Message::Emptied,
            18 => Message::HasJob(r.job()?),
            19 => Message::Holders {
                id: r.job()?,
                nodes: r.nodes()?,
            },
            20 => Message::NackDelay {
                id: r.job()?,
                delay_ms: r.u64()?,
            },
            _ => return Err(BadFrame("unknown message type")),
        };
        if r.pos != r.data.len() {
            return Err(BadFrame("trailing bytes in frame"));
        }
        Ok(Some(Frame {
            sender,
            port,
            flags,
            message,
        }))
    }
}

struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    /// The next `n` bytes, borrowed (fixed-size fields: no reference count
    /// taken on the frame's buffer).
    fn field(&mut self, n: usize) -> Result<&[u8], BadFrame> {
        let start = self.pos;
        let end = start
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or(BadFrame("truncated frame"))?;
        self.pos = end;
        Ok(&self.data[start..end])
    }
    /// The next `n` bytes, sharing the frame's buffer (payloads).
    fn take(&mut self, n: usize) -> Result<Bytes, BadFrame> {
        let start = self.pos;
        self.field(n)?;
        Ok(self.data.slice(start..self.pos))
    }
    /// A u32 count, then that many node ids.
    fn nodes(&mut self) -> Result<Vec<NodeId>, BadFrame> {
        let count = self.u32()? as usize;
        let mut nodes = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            nodes.push(self.node()?);
        }
        Ok(nodes)
    }
    fn u8(&mut self) -> Result<u8, BadFrame> {
        Ok(self.field(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, BadFrame> {
        let b = self.field(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, BadFrame> {
        let b = self.field(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, BadFrame> {
        let b = self.field(8)?;
        Ok(u64::from_be_bytes(
            b.try_into().map_err(|_| BadFrame("truncated frame"))?,
        ))
    }
    fn bytes(&mut self) -> Result<Bytes, BadFrame> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn node(&mut self) -> Result<NodeId, BadFrame> {
        NodeId::parse(self.field(ID_LEN)?).ok_or(BadFrame("bad node id"))
    }
    fn job(&mut self) -> Result<JobId, BadFrame> {
        JobId::parse(self.field(ID_LEN)?).ok_or(BadFrame("bad job id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> Vec<Message> {
        let id = JobId::parse(b"D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001").unwrap();
        let node = NodeId([b'a'; 40]);
        let entry = GossipEntry {
            id: node,
            ip: "127.0.0.1".into(),
            port: 7711,
            flags: GOSSIP_PFAIL,
        };
        vec![
            Message::Ping(vec![entry.clone()]),
            Message::Pong(vec![]),
            Message::Meet(vec![entry]),
            Message::Fail(node),
            Message::ReplJob {
                job: Bytes::from_static(b"xyz"),
                no_reply: true,
            },
            Message::GotJob(id),
            Message::Enqueue { id, delay: 5 },
            Message::Queued {
                id,
                nack: true,
                count: true,
                dead_letter: true,
            },
            Message::SetAck {
                id,
                holders: vec![node, node],
            },
            Message::WillQueue(id),
            Message::GotAck { id, known: true },
            Message::DelJob {
                id,
                holders: vec![node],
            },
            Message::NeedJobs {
                queue: Bytes::from_static(b"q"),
                count: 7,
            },
            Message::YourJobs(vec![Bytes::from_static(b"a"), Bytes::new()]),
            Message::Working(id),
            Message::Pause {
                queue: Bytes::from_static(b"q"),
                flags: 3,
            },
            Message::Waiting {
                queue: Bytes::from_static(b"q"),
                waiting: true,
            },
            Message::Emptied,
            Message::HasJob(id),
            Message::Holders {
                id,
                nodes: vec![node],
            },
            Message::NackDelay { id, delay_ms: 1500 },
        ]
    }

    #[test]
    fn every_message_round_trips_and_every_truncation_is_incomplete_or_refused() {
        let mut stream = BytesMut::new();
        let frames: Vec<Frame> = all_messages()
            .into_iter()
            .map(|message| Frame {
                sender: NodeId([b'b'; 40]),
                port: 7712,
                flags: SENDER_LEAVING,
                message,
            })
            .collect();
        for f in &frames {
            f.encode(&mut stream);
        }
        let whole = stream.clone();
        for f in &frames {
            assert_eq!(Frame::decode(&mut stream).unwrap().as_ref(), Some(f));
        }
        assert!(stream.is_empty());
        for f in &frames {
            // The hint is what encoding allocates: never short by much.
            assert!(f.to_bytes().len() <= f.encoded_len_hint() + 8, "{f:?}");
        }
        let first_len = frames[0].to_bytes().len();
        for cut in 0..first_len {
            let mut partial = BytesMut::from(&whole[..cut]);
            assert_eq!(Frame::decode(&mut partial), Ok(None));
        }
    }

    #[test]
    fn a_repljob_written_in_place_is_the_encoded_message() {
        let job = Bytes::from_static(b"a serialized job, any bytes");
        for no_reply in [false, true] {
            let frame = Frame {
                sender: NodeId([b'c'; 40]),
                port: 7713,
                flags: SENDER_LEAVING,
                message: Message::ReplJob {
                    job: job.clone(),
                    no_reply,
                },
            };
            let in_place = Frame::repljob(
                (frame.sender, frame.port, frame.flags),
                no_reply,
                4,
                |out| out.extend_from_slice(&job),
            );
            assert_eq!(in_place, frame.to_bytes());
        }
    }

    #[test]
    fn gossip_addresses_must_be_ip_literals() {
        let frame = |ip: &str| Frame {
            sender: NodeId([b'b'; 40]),
            port: 1,
            flags: 0,
            message: Message::Ping(vec![GossipEntry {
                id: NodeId([b'a'; 40]),
                ip: ip.into(),
                port: 7711,
                flags: 0,
            }]),
        };
        for ok in ["", "127.0.0.1", "::1"] {
            assert!(
                Frame::decode(&mut BytesMut::from(&frame(ok).to_bytes()[..]))
                    .unwrap()
                    .is_some()
            );
        }
        assert!(Frame::decode(&mut BytesMut::from(&frame("1.2.3.4 x\n").to_bytes()[..])).is_err());
    }

    #[test]
    fn a_yourjobs_batch_over_the_limit_is_split_into_frames_within_it() {
        // 304 bytes a job in the frame: three fit in 1000 bytes with the
        // 50 of an empty YOURJOBS, so ten jobs take four frames.
        let max = 1000;
        let jobs: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 300])).collect();
        let messages = Message::your_jobs(jobs.clone(), max);
        assert_eq!(messages.len(), 4);
        let mut stream = BytesMut::new();
        for message in messages {
            Frame {
                sender: NodeId([b'b'; 40]),
                port: 1,
                flags: 0,
                message,
            }
            .encode(&mut stream);
        }
        // The receiver, limited to `max`, accepts every frame: the jobs
        // arrive whole and in order.
        let mut received = Vec::new();
        while let Some(frame) = Frame::decode_limited(&mut stream, max).unwrap() {
            let Message::YourJobs(batch) = frame.message else {
                panic!("not a YOURJOBS: {frame:?}");
            };
            received.extend(batch);
        }
        assert!(stream.is_empty());
        assert_eq!(received, jobs);
        // A job filling a frame exactly goes alone and is accepted.
        let exact = Bytes::from(vec![7; max - EMPTY_YOURJOBS_LEN - 4]);
        let messages = Message::your_jobs(vec![exact.clone(), exact], max);
        assert_eq!(messages.len(), 2);
        let frame = Frame {
            sender: NodeId([b'b'; 40]),
            port: 1,
            flags: 0,
            message: messages[0].clone(),
        };
        let mut buf = BytesMut::from(&frame.to_bytes()[..]);
        assert_eq!(Frame::decode_limited(&mut buf, max).unwrap(), Some(frame));
    }

    #[test]
    fn a_frame_announced_over_the_limit_is_refused_before_it_arrives() {
        let announce = |len: usize| BytesMut::from(&(len as u32).to_be_bytes()[..]);
        assert_eq!(Frame::decode(&mut announce(MAX_FRAME)), Ok(None));
        assert_eq!(
            Frame::decode(&mut announce(MAX_FRAME + 1)),
            Err(BadFrame("frame above the bus frame limit"))
        );
        assert_eq!(
            Frame::decode_limited(&mut announce(MAX_UNTRUSTED_FRAME + 1), MAX_UNTRUSTED_FRAME),
            Err(BadFrame("frame too large before the sender is known"))
        );
    }

    #[test]
    fn garbage_is_refused() {
        let mut bad = BytesMut::from(&b"\x00\x00\x00\x02xx"[..]);
        assert!(Frame::decode(&mut bad).is_err());
        let mut frame = Frame {
            sender: NodeId([b'b'; 40]),
            port: 1,
            flags: 0,
            message: Message::Pong(vec![]),
        }
        .to_bytes()
        .to_vec();
        frame[5] = 99;
        assert!(Frame::decode(&mut BytesMut::from(&frame[..])).is_err());
    }
}
