//! The formats of the files a node keeps, free of I/O: AOF bytes split into
//! records (docs/persistence.md §1) and `nodes.conf` text parsed
//! (docs/cluster.md §3). The server and the simulator read the bytes; what
//! they mean is decided here, once.

use crate::cluster::membership::SavedPeer;
use crate::cluster::message::MAX_FRAME;
use crate::ids::NodeId;
use bytes::{Bytes, BytesMut};

/// Longest argument accepted in a record: a serialized job, whose body
/// alone may reach the protocol's 512 MiB, as the bus accepts it in one
/// frame ([`MAX_FRAME`]).
const MAX_ARGUMENT: usize = MAX_FRAME;
/// Most arguments a record may have.
const MAX_ARGUMENTS: usize = 1024 * 1024;

/// What the bytes at the reading position of an AOF hold.
#[derive(Debug)]
pub enum Next {
    /// A complete record starting at `offset`.
    Record {
        /// Its offset in the file.
        offset: u64,
        /// Its arguments (command name first).
        args: Vec<Bytes>,
        /// Its length in bytes.
        len: u64,
    },
    /// The end of the file, after a complete record.
    End,
    /// The file ends inside the record starting at `offset`.
    Truncated {
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// Bytes at `offset` are not a record.
    Bad {
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Splits the bytes of an AOF, given in pieces from its start, into records
/// (RESP multibulk arrays of bulk strings).
#[derive(Debug, Default)]
pub struct RecordSplitter {
    buf: BytesMut,
    offset: u64,
}

enum Parsed {
    Record(Vec<(usize, usize)>, usize),
    Incomplete,
}

impl RecordSplitter {
    /// A splitter at the start of a file.
    pub fn new() -> RecordSplitter {
        RecordSplitter::default()
    }

    /// Offset in the file of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Adds the next bytes of the file.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// What comes next; `None` when that takes more bytes than were fed.
    /// `eof` says no more bytes will come.
    pub fn next_record(&mut self, eof: bool) -> Option<Next> {
        match parse(&self.buf) {
            Err(reason) => Some(Next::Bad {
                offset: self.offset,
                reason,
            }),
            Ok(Parsed::Record(ranges, len)) => {
                let record = self.buf.split_to(len).freeze();
                let args = ranges
                    .into_iter()
                    .map(|(s, e)| Bytes::copy_from_slice(&record[s..e]))
                    .collect();
                let offset = self.offset;
                self.offset += len as u64;
                Some(Next::Record {
                    offset,
                    args,
                    len: len as u64,
                })
            }
            Ok(Parsed::Incomplete) if eof => Some(if self.buf.is_empty() {
                Next::End
            } else {
                Next::Truncated {
                    offset: self.offset,
                }
            }),
            Ok(Parsed::Incomplete) => None,
        }
    }
}

/// A `\r\n`-terminated line at `pos`: (content end, next position).
fn line(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rest = buf.get(pos..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((pos + cr, pos + cr + 2))
}

fn number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn parse(buf: &[u8]) -> Result<Parsed, &'static str> {
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    if buf[0] != b'*' {
        return Err("record does not start with '*'");
    }
    let Some((end, mut pos)) = line(buf, 1) else {
        return if buf.len() > 32 {
            Err("bad argument count")
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let count = number(&buf[1..end])
        .filter(|n| (1..=MAX_ARGUMENTS).contains(n))
        .ok_or("bad argument count")?;
    let mut ranges = Vec::with_capacity(count.min(16));
    for _ in 0..count {
        match buf.get(pos) {
            None => return Ok(Parsed::Incomplete),
            Some(b'$') => {}
            Some(_) => return Err("argument does not start with '$'"),
        }
        let Some((end, next)) = line(buf, pos + 1) else {
            return if buf.len() - pos > 32 {
                Err("bad argument length")
            } else {
                Ok(Parsed::Incomplete)
            };
        };
        let len = number(&buf[pos + 1..end])
            .filter(|n| *n <= MAX_ARGUMENT)
            .ok_or("bad argument length")?;
        if buf.len() < next + len + 2 {
            return Ok(Parsed::Incomplete);
        }
        if &buf[next + len..next + len + 2] != b"\r\n" {
            return Err("argument not terminated by CRLF");
        }
        ranges.push((next, next + len));
        pos = next + len + 2;
    }
    Ok(Parsed::Record(ranges, pos))
}

/// What `nodes.conf` says: this node and the others it knew.
#[derive(Debug)]
pub struct Identity {
    /// This node's id.
    pub id: NodeId,
    /// `CLUSTER LEAVING yes` was in effect.
    pub leaving: bool,
    /// This node's IP as it had learned it.
    pub my_ip: String,
    /// The other nodes.
    pub peers: Vec<SavedPeer>,
}

/// Flags a `nodes.conf` line may carry.
const KNOWN_FLAGS: [&str; 7] = [
    "myself",
    "fail?",
    "fail",
    "handshake",
    "noaddr",
    "leaving",
    "noflags",
];

/// Reads every node line of `nodes.conf` text. `Err(line)` names the line of
/// a corrupt file, `Ok(None)` is an empty one.
pub fn parse_nodes_conf(text: &str) -> Result<Option<Identity>, String> {
    let mut myself = None;
    let mut peers = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("vars "))
    {
        let fields: Vec<&str> = line.split(' ').collect();
        let corrupt = || line.to_string();
        if fields.len() != 6 {
            return Err(corrupt());
        }
        let id = NodeId::parse(fields[0].as_bytes()).ok_or_else(corrupt)?;
        let (ip, port) = fields[1].rsplit_once(':').ok_or_else(corrupt)?;
        let port: u16 = port.parse().map_err(|_| corrupt())?;
        let flags: Vec<String> = fields[2].split(',').map(str::to_string).collect();
        if flags.iter().any(|f| !KNOWN_FLAGS.contains(&f.as_str())) {
            return Err(corrupt());
        }
        if flags.iter().any(|f| f == "myself") {
            myself = Some((id, flags.iter().any(|f| f == "leaving"), ip.to_string()));
        } else if !flags.iter().any(|f| f == "handshake") {
            peers.push(SavedPeer {
                id,
                ip: ip.to_string(),
                port,
                flags,
            });
        }
    }
    match myself {
        Some((id, leaving, my_ip)) => Ok(Some(Identity {
            id,
            leaving,
            my_ip,
            peers,
        })),
        None if text.trim().is_empty() => Ok(None),
        None => Err("no myself line".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> Vec<String> {
        let mut records = RecordSplitter::new();
        records.feed(data);
        let mut out = Vec::new();
        loop {
            match records.next_record(true).expect("at eof") {
                Next::Record { offset, args, .. } => out.push(format!("{offset}:{}", args.len())),
                Next::End => return out,
                other => {
                    out.push(format!("{other:?}"));
                    return out;
                }
            }
        }
    }

    #[test]
    fn splits_records_and_reports_problems_with_offsets() {
        let rec = b"*2\r\n$6\r\nDELJOB\r\n$3\r\nabc\r\n";
        let mut two = rec.to_vec();
        two.extend_from_slice(rec);
        assert_eq!(all(&two), vec!["0:2", "25:2"]);
        let mut truncated = rec.to_vec();
        truncated.extend_from_slice(&rec[..10]);
        assert_eq!(all(&truncated)[1], "Truncated { offset: 25 }");
        let mut bad = rec.to_vec();
        bad.extend_from_slice(b"garbage\r\n");
        assert!(all(&bad)[1].starts_with("Bad { offset: 25"));
        assert!(all(b"*1\r\n$3\r\nabcXY").last().unwrap().starts_with("Bad"));
    }

    #[test]
    fn a_record_fed_in_pieces_waits_for_its_end() {
        let rec = b"*2\r\n$6\r\nDELJOB\r\n$3\r\nabc\r\n";
        let mut records = RecordSplitter::new();
        records.feed(&rec[..10]);
        assert!(records.next_record(false).is_none());
        records.feed(&rec[10..]);
        assert!(matches!(
            records.next_record(false),
            Some(Next::Record {
                offset: 0,
                len: 25,
                ..
            })
        ));
        assert!(records.next_record(false).is_none());
        assert!(matches!(records.next_record(true), Some(Next::End)));
    }

    #[test]
    fn parses_myself_and_rejects_garbage() {
        let id = "a".repeat(40);
        let other = "b".repeat(40);
        let ok = format!("{id} 127.0.0.1:7711 myself,leaving 0 0 connected\n{other} 127.0.0.1:7712 fail? 0 0 disconnected\n");
        let parsed = parse_nodes_conf(&ok).unwrap().unwrap();
        assert_eq!(parsed.id.as_str(), id);
        assert!(parsed.leaving);
        assert_eq!(parsed.my_ip, "127.0.0.1");
        assert_eq!(parsed.peers.len(), 1);
        assert_eq!(parsed.peers[0].port, 7712);
        assert_eq!(parsed.peers[0].flags, vec!["fail?".to_string()]);
        assert!(
            parse_nodes_conf(&format!("{id} 127.0.0.1:7711 myself,bogus 0 0 connected\n")).is_err()
        );
        assert!(parse_nodes_conf("").unwrap().is_none());
        assert!(parse_nodes_conf("garbage\n").is_err());
    }
}
