//! Client side: an incremental decoder for RESP2 replies.
//!
//! [`parse_reply`] looks at the front of the read buffer: when a whole reply
//! is there it is removed and returned, with bulk strings sharing the
//! buffer's memory; otherwise the buffer is left untouched and more input is
//! needed. Null bulk strings (`$-1`) decode as [`Reply::Nil`] and null arrays
//! (`*-1`) as [`Reply::NullArray`], so the two stay distinguishable.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::Reply;

/// Deepest array nesting accepted. Disque's replies nest three levels at
/// most; the limit keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 512;

/// The bytes received are not a RESP2 reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A reply starts with a byte other than `+ - : $ *`; holds that byte.
    InvalidType(u8),
    /// An integer reply or a length is not a decimal integer.
    InvalidInteger,
    /// A length is negative (other than `-1`) or too large.
    InvalidLength,
    /// A bulk string is not followed by CRLF.
    MissingCrlf,
    /// Arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidType(b) => {
                write!(f, "invalid reply type byte {:?}", char::from(*b))
            }
            DecodeError::InvalidInteger => f.write_str("invalid integer in reply"),
            DecodeError::InvalidLength => f.write_str("invalid length in reply"),
            DecodeError::MissingCrlf => f.write_str("bulk string not followed by CRLF"),
            DecodeError::TooDeep => f.write_str("reply arrays nested too deep"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the reply at the front of `buf`.
///
/// Returns `Ok(Some(reply))` and removes its bytes when a whole reply has
/// arrived, `Ok(None)` (leaving `buf` as it is) when more input is needed,
/// or an error when the input is not RESP2.
///
/// Each call checks the buffer from its start; a reader that calls this
/// after every read should keep a [`ReplyDecoder`] instead, which resumes
/// where the previous call stopped.
pub fn parse_reply(buf: &mut BytesMut) -> Result<Option<Reply>, DecodeError> {
    ReplyDecoder::new().decode(buf)
}

/// An incremental reply decoder; keep one per connection.
///
/// Like [`parse_reply`], but it remembers how much of a partly received
/// reply it has already checked, so a large array arriving in many reads
/// is not re-checked from its start after each one. Only append to the
/// buffer between calls.
#[derive(Debug, Default)]
pub struct ReplyDecoder {
    /// Where the next value to check starts: the front of the buffer's
    /// complete values of the reply under way have been checked.
    pos: usize,
    /// Values still to check in each array opened before `pos`, outermost
    /// first (every entry is at least 1).
    open: Vec<usize>,
}

impl ReplyDecoder {
    /// A decoder at the start of a connection.
    pub fn new() -> ReplyDecoder {
        ReplyDecoder::default()
    }

    /// Decodes the reply at the front of `buf`; see [`parse_reply`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, DecodeError> {
        if self.pos > buf.len() {
            self.reset();
        }
        let len = match self.frame_len(buf) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        self.reset();
        let frame = buf.split_to(len).freeze();
        let mut pos = 0;
        build(&frame, &mut pos).map(Some)
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
    }

    /// The length of the complete reply at the front of `buf`, or `None`
    /// if it has not fully arrived (the progress made is kept). Checks each
    /// value once.
    fn frame_len(&mut self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        loop {
            let pos = self.pos;
            let Some(&kind) = buf.get(pos) else {
                return Ok(None);
            };
            if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
                return Err(DecodeError::InvalidType(kind));
            }
            let Some((text, mut next)) = line(buf, pos + 1) else {
                return Ok(None);
            };
            match kind {
                b':' => {
                    integer(text)?;
                }
                b'$' => {
                    if let Some(n) = length(text)? {
                        let end = next
                            .checked_add(n)
                            .and_then(|e| e.checked_add(2))
                            .ok_or(DecodeError::InvalidLength)?;
                        if buf.len() < end {
                            return Ok(None);
                        }
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(DecodeError::MissingCrlf);
                        }
                        next = end;
                    }
                }
                b'*' => {
                    if let Some(n) = length(text)?.filter(|&n| n > 0) {
                        if self.open.len() >= MAX_DEPTH {
                            return Err(DecodeError::TooDeep);
                        }
                        self.pos = next;
                        self.open.push(n);
                        continue;
                    }
                }
                _ => {}
            }
            self.pos = next;
            // One value is complete, and with it every array it ends.
            loop {
                let Some(remaining) = self.open.last_mut() else {
                    return Ok(Some(self.pos));
                };
                *remaining -= 1;
                if *remaining > 0 {
                    break;
                }
                self.open.pop();
            }
        }
    }
}

/// Finds the end of the line that starts at `pos`: returns the line without
/// its CRLF and the position after it, or `None` when the CRLF has not
/// arrived.
fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], pos + cr + 2))
}

fn integer(text: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(DecodeError::InvalidInteger)
}

/// A length header: `Ok(None)` for `-1`, the length otherwise.
fn length(text: &[u8]) -> Result<Option<usize>, DecodeError> {
    match integer(text)? {
        -1 => Ok(None),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| DecodeError::InvalidLength),
    }
}

/// Builds the reply at `*pos` of a frame already checked by [`ReplyDecoder::frame_len`].
fn build(frame: &Bytes, pos: &mut usize) -> Result<Reply, DecodeError> {
    let kind = *frame.get(*pos).ok_or(DecodeError::MissingCrlf)?;
    let (text, next) = line(frame, *pos + 1).ok_or(DecodeError::MissingCrlf)?;
    let text_start = *pos + 1;
    let text_end = text_start + text.len();
    *pos = next;
    Ok(match kind {
        b'+' => Reply::Status(frame.slice(text_start..text_end)),
        b'-' => Reply::Error(frame.slice(text_start..text_end)),
        b':' => Reply::Integer(integer(text)?),
        b'$' => match length(text)? {
            None => Reply::Nil,
            Some(n) => {
                let start = *pos;
                *pos += n + 2;
                Reply::Bulk(frame.slice(start..start + n))
            }
        },
        b'*' => match length(text)? {
            None => Reply::NullArray,
            Some(n) => {
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(build(frame, pos)?);
                }
                Reply::Array(items)
            }
        },
        other => return Err(DecodeError::InvalidType(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Reply>, DecodeError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = parse_reply(&mut buf)? {
            out.push(r);
        }
        assert!(buf.is_empty(), "left over: {:?}", buf);
        Ok(out)
    }

    fn sample() -> Reply {
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Bulk(Bytes::from_static(b"0123abcd")),
            Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"id")),
                Reply::Bulk(Bytes::from_static(b"127.0.0.1")),
                Reply::Bulk(Bytes::from_static(b"7711")),
                Reply::Bulk(Bytes::from_static(b"1")),
            ]),
            Reply::Status(Bytes::from_static(b"D-0123abcd-xyz")),
            Reply::Error(Bytes::from_static(b"ERR bad\tthing")),
            Reply::Nil,
            Reply::NullArray,
            Reply::Array(vec![]),
            Reply::Bulk(Bytes::from_static(b"\r\n\0binary\r\n")),
            Reply::Integer(-42),
            Reply::Bulk(Bytes::new()),
        ])
    }

    #[test]
    fn round_trip_every_kind() {
        let encoded = sample().to_bytes();
        assert_eq!(decode_all(&encoded), Ok(vec![sample()]));
    }

    #[test]
    fn null_kinds_stay_distinct() {
        assert_eq!(
            decode_all(b"$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n"),
            Ok(vec![
                Reply::Nil,
                Reply::NullArray,
                Reply::Array(vec![]),
                Reply::Bulk(Bytes::new())
            ])
        );
    }

    #[test]
    fn incomplete_at_every_split_point() {
        let encoded = sample().to_bytes();
        for cut in 0..encoded.len() {
            let mut buf = BytesMut::from(&encoded[..cut]);
            assert_eq!(parse_reply(&mut buf), Ok(None), "cut {cut}");
            assert_eq!(buf.len(), cut);
            buf.extend_from_slice(&encoded[cut..]);
            assert_eq!(parse_reply(&mut buf), Ok(Some(sample())));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn decoder_resumes_byte_by_byte() {
        let mut encoded = sample().to_bytes().to_vec();
        encoded.extend_from_slice(b"+OK\r\n");
        encoded.extend_from_slice(&sample().to_bytes());
        let mut decoder = ReplyDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &byte in &encoded {
            buf.extend_from_slice(&[byte]);
            while let Some(reply) = decoder.decode(&mut buf).unwrap() {
                got.push(reply);
            }
        }
        assert_eq!(got, vec![sample(), Reply::ok(), sample()]);
        assert!(buf.is_empty());
        // An error found after resuming is the one a fresh decoder finds.
        let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"?\r\n");
        assert_eq!(
            decoder.decode(&mut buf),
            Err(DecodeError::InvalidType(b'?'))
        );
    }

    #[test]
    fn pipelined_replies() {
        assert_eq!(
            decode_all(b"+OK\r\n:3\r\n-NOJOB x\r\n"),
            Ok(vec![
                Reply::ok(),
                Reply::Integer(3),
                Reply::error("NOJOB x")
            ])
        );
    }

    #[test]
    fn bulk_shares_the_buffer() {
        let mut buf = BytesMut::from(&b"$5\r\nhello\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let Some(Reply::Bulk(b)) = parse_reply(&mut buf).unwrap() else {
            panic!("expected a bulk string");
        };
        assert_eq!(b.as_ptr() as usize, base + 4);
    }

    #[test]
    fn errors() {
        assert_eq!(decode_all(b"?x\r\n"), Err(DecodeError::InvalidType(b'?')));
        assert_eq!(decode_all(b":1x\r\n"), Err(DecodeError::InvalidInteger));
        assert_eq!(decode_all(b"$-2\r\n"), Err(DecodeError::InvalidLength));
        assert_eq!(decode_all(b"*-2\r\n"), Err(DecodeError::InvalidLength));
        assert_eq!(decode_all(b"$2\r\nabcd"), Err(DecodeError::MissingCrlf));
        assert_eq!(
            decode_all(b"$18446744073709551615\r\n"),
            Err(DecodeError::InvalidInteger)
        );
        assert_eq!(
            decode_all(b"*1\r\n!\r\n"),
            Err(DecodeError::InvalidType(b'!'))
        );
    }

    #[test]
    fn huge_declared_sizes_wait() {
        let mut buf = BytesMut::from(&b"*4000000000\r\n:1\r\n"[..]);
        assert_eq!(parse_reply(&mut buf), Ok(None));
        let mut buf = BytesMut::from(&b"$9223372036854775807\r\nab"[..]);
        assert_eq!(parse_reply(&mut buf), Ok(None));
        let mut buf = BytesMut::from(&b"$4000000000\r\nab"[..]);
        assert_eq!(parse_reply(&mut buf), Ok(None));
    }

    #[test]
    fn nesting_limit() {
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        let mut buf = BytesMut::from(&deep[..]);
        assert_eq!(parse_reply(&mut buf), Err(DecodeError::TooDeep));
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        let mut buf = BytesMut::from(&ok[..]);
        assert!(matches!(parse_reply(&mut buf), Ok(Some(Reply::Array(_)))));
    }
}
