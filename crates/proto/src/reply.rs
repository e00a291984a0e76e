//! The reply a server sends back: RESP2 values and their encoder.

use bytes::{BufMut, Bytes, BytesMut};

/// One RESP2 reply value, as the server sends it and as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+text`: a status reply (also used for ADDJOB's job id).
    Status(Bytes),
    /// `-text`: an error reply; the text includes its prefix (`ERR ...`, `NOJOB ...`).
    Error(Bytes),
    /// `:n`: an integer reply.
    Integer(i64),
    /// `$n`: a bulk string.
    Bulk(Bytes),
    /// `$-1`: the null bulk string.
    Nil,
    /// `*-1`: the null array.
    NullArray,
    /// `*n`: an array of replies (`*0` when empty).
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Status(Bytes::from_static(b"OK"))
    }

    /// A status reply from static text.
    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply from static text, which must include its prefix (`ERR ...`).
    pub fn error(text: &'static str) -> Reply {
        Reply::Error(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply from text built at run time (prefix included).
    pub fn error_owned(text: String) -> Reply {
        Reply::Error(Bytes::from(text))
    }

    /// A bulk string copied from a byte slice.
    pub fn bulk_from(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string from owned text.
    pub fn bulk_string(text: String) -> Reply {
        Reply::Bulk(Bytes::from(text))
    }

    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the RESP2 encoding of this reply to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Reply::Status(s) => line(out, b'+', s),
            Reply::Error(s) => line(out, b'-', s),
            Reply::Integer(n) => header(out, b':', *n),
            Reply::Bulk(b) => {
                header(out, b'$', b.len() as i64);
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len() as i64);
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// The RESP2 encoding of this reply as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Appends `<prefix><n>\r\n` (a RESP header line) without allocating:
/// the line is built on the stack and appended at once.
pub(crate) fn header(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n).as_bytes();
    let mut line = [0u8; 24];
    line[0] = prefix;
    line[1..=digits.len()].copy_from_slice(digits);
    line[digits.len() + 1..digits.len() + 3].copy_from_slice(b"\r\n");
    out.extend_from_slice(&line[..digits.len() + 3]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_kind() {
        let r = Reply::Array(vec![
            Reply::ok(),
            Reply::error("ERR x"),
            Reply::Integer(-12),
            Reply::Bulk(Bytes::from_static(b"ab")),
            Reply::Nil,
            Reply::NullArray,
            Reply::Array(vec![]),
            Reply::Integer(i64::MIN),
        ]);
        assert_eq!(
            &r.to_bytes()[..],
            &b"*8\r\n+OK\r\n-ERR x\r\n:-12\r\n$2\r\nab\r\n$-1\r\n*-1\r\n*0\r\n:-9223372036854775808\r\n"[..]
        );
    }
}
