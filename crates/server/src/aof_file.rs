//! Reading AOF files record by record, with the file offset of every record, for
//! the loader and for `disque-check-aof`.

use bytes::{Bytes, BytesMut};
use std::io::{self, Read};

/// Longest argument accepted in a record (the protocol's 512 MiB).
const MAX_ARGUMENT: usize = 512 * 1024 * 1024;
/// Most arguments a record may have.
const MAX_ARGUMENTS: usize = 1024 * 1024;
/// Bytes read from the file at a time.
const CHUNK: usize = 1 << 20;

/// What the reader found next.
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

/// Reads records from an AOF.
pub struct RecordReader<R: Read> {
    source: R,
    buf: BytesMut,
    offset: u64,
    eof: bool,
}

enum Parsed {
    Record(Vec<(usize, usize)>, usize),
    Incomplete,
}

impl<R: Read> RecordReader<R> {
    /// A reader at the start of `source`.
    pub fn new(source: R) -> RecordReader<R> {
        RecordReader {
            source,
            buf: BytesMut::new(),
            offset: 0,
            eof: false,
        }
    }

    /// Offset in the file of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record, or why there is none.
    pub fn next_record(&mut self) -> io::Result<Next> {
        loop {
            match parse(&self.buf) {
                Err(reason) => {
                    return Ok(Next::Bad {
                        offset: self.offset,
                        reason,
                    })
                }
                Ok(Parsed::Record(ranges, len)) => {
                    let record = self.buf.split_to(len).freeze();
                    let args = ranges
                        .into_iter()
                        .map(|(s, e)| Bytes::copy_from_slice(&record[s..e]))
                        .collect();
                    let offset = self.offset;
                    self.offset += len as u64;
                    return Ok(Next::Record {
                        offset,
                        args,
                        len: len as u64,
                    });
                }
                Ok(Parsed::Incomplete) if self.eof => {
                    return Ok(if self.buf.is_empty() {
                        Next::End
                    } else {
                        Next::Truncated {
                            offset: self.offset,
                        }
                    });
                }
                Ok(Parsed::Incomplete) => {
                    let start = self.buf.len();
                    self.buf.resize(start + CHUNK, 0);
                    let n = self.source.read(&mut self.buf[start..])?;
                    self.buf.truncate(start + n);
                    self.eof = n == 0;
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> Vec<String> {
        let mut reader = RecordReader::new(data);
        let mut out = Vec::new();
        loop {
            match reader.next_record().unwrap() {
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
    fn reads_records_and_reports_problems_with_offsets() {
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
}
