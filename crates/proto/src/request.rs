//! Server side: an incremental parser for client requests (multi-bulk and
//! inline), with the limits and exact error texts of Disque 1.0-rc1
//! (spec `docs/commands.md` §1.1), plus the inline word splitter and a request
//! encoder for clients.
//!
//! The parser works on the connection's read buffer. Every complete request
//! is split off the front of the buffer, its arguments handed out as
//! [`Bytes`] that share the buffer's memory (no copy for multi-bulk
//! arguments). A request that has not fully arrived stays where it is, and
//! the parser remembers how far it got, so a 512 MiB argument arriving in
//! thousands of reads is never re-scanned, and a declared length is never
//! allocated ahead of the data (at most 64 KiB is reserved ahead).

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::reply::header;
use crate::Reply;

/// Longest inline line, or `*`/`$` header line, that may be buffered without
/// its terminator (64 KiB). One byte more is a protocol error.
pub const MAX_INLINE_SIZE: usize = 64 * 1024;

/// Largest multi-bulk argument count accepted (`*1048576`).
pub const MAX_MULTIBULK_COUNT: i64 = 1024 * 1024;

/// Largest bulk argument length accepted (512 MiB).
pub const MAX_BULK_LENGTH: i64 = 512 * 1024 * 1024;

/// The most the parser reserves ahead in the buffer for an argument that is
/// still arriving, whatever length the client declared.
const MAX_RESERVE_AHEAD: usize = 64 * 1024;

/// At most this many argument slots are allocated before the arguments
/// themselves arrive (a client may declare `*1048576` and send nothing).
const MAX_ARGS_PREALLOC: usize = 1024;
/// The largest argument vector a parser keeps for reuse (16 slots, 512 bytes).
const SPARE_ARGS: usize = 16;
/// Requests of at most this many arguments, already complete in the buffer,
/// take the one-pass path ([`RequestParser::whole_request`]).
const WHOLE_ARGS: usize = 16;
/// The longest header line (`*`/`$`, a sign and 19 digits, CR) the one-pass
/// path looks for; anything longer goes the incremental way, which reports it.
const WHOLE_HEADER: usize = 24;

/// A malformed request. The server replies `-ERR <message>` and closes the
/// connection once the reply is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// More than 64 KiB of an inline request without a newline.
    TooBigInlineRequest,
    /// An inline request whose quotes do not balance.
    UnbalancedQuotes,
    /// More than 64 KiB of a `*` line without a CR.
    TooBigMbulkCount,
    /// The `*` count is not a strict integer, or is above 1048576.
    InvalidMultibulkLength,
    /// More than 64 KiB of a `$` line without a CR.
    TooBigBulkCount,
    /// An argument header that does not start with `$`; holds the byte found.
    ExpectedDollar(u8),
    /// The `$` length is not a strict integer, is negative, or is above 512 MiB.
    InvalidBulkLength,
}

impl ProtocolError {
    /// The error text that follows `-ERR ` on the wire, for example
    /// `Protocol error: invalid bulk length`. For [`ProtocolError::ExpectedDollar`]
    /// the offending byte is included as it was received.
    pub fn message(&self) -> Vec<u8> {
        let fixed: &str = match self {
            ProtocolError::TooBigInlineRequest => "Protocol error: too big inline request",
            ProtocolError::UnbalancedQuotes => "Protocol error: unbalanced quotes in request",
            ProtocolError::TooBigMbulkCount => "Protocol error: too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "Protocol error: invalid multibulk length",
            ProtocolError::TooBigBulkCount => "Protocol error: too big bulk count string",
            ProtocolError::InvalidBulkLength => "Protocol error: invalid bulk length",
            ProtocolError::ExpectedDollar(byte) => {
                let mut text = b"Protocol error: expected '$', got '".to_vec();
                text.push(*byte);
                text.push(b'\'');
                return text;
            }
        };
        fixed.as_bytes().to_vec()
    }

    /// The complete error reply, `-ERR Protocol error: ...`.
    pub fn to_reply(&self) -> Reply {
        let mut text = b"ERR ".to_vec();
        text.extend_from_slice(&self.message());
        Reply::Error(Bytes::from(text))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message()))
    }
}

impl std::error::Error for ProtocolError {}

/// Where the parser is between two calls.
#[derive(Debug, Default)]
enum State {
    /// At the first byte of a request.
    #[default]
    Start,
    /// Inside a multi-bulk request, after its `*` line.
    Multibulk {
        /// Arguments still to read.
        remaining: usize,
        /// Arguments read so far.
        args: Vec<Bytes>,
        /// Total length of `args`.
        held: usize,
        /// Length of the argument whose `$` line was read, if any.
        bulk: Option<usize>,
    },
}

/// Incremental request parser; keep one per connection.
///
/// Feed it the connection's read buffer after every read; only append to the
/// buffer between calls. After an error the connection must be closed (the
/// parser is reset, but the buffer is in an unspecified place).
#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    /// Bytes at the front of the buffer already searched for the terminator
    /// of the line that starts there.
    scanned: usize,
    /// An argument vector given back by [`RequestParser::recycle`], reused
    /// by the next request (no allocation per request).
    spare: Vec<Bytes>,
}

impl RequestParser {
    /// A parser at the start of a connection.
    pub fn new() -> RequestParser {
        RequestParser::default()
    }

    /// Gives back the arguments of a request once executed, so that the next
    /// request reuses their vector (a small one only: a connection keeps no
    /// more than [`SPARE_ARGS`] argument slots).
    pub fn recycle(&mut self, mut args: Vec<Bytes>) {
        if args.capacity() <= SPARE_ARGS {
            args.clear();
            self.spare = args;
        }
    }

    /// An empty argument vector with room for `count`: the spare one if any.
    fn take_spare(&mut self, count: usize) -> Vec<Bytes> {
        let mut args = std::mem::take(&mut self.spare);
        args.reserve(count);
        args
    }

    /// Bytes of a partly received multi-bulk request already taken out of the
    /// buffer (complete arguments). The server adds this to the buffer's
    /// length to enforce its query buffer limit.
    pub fn held_bytes(&self) -> usize {
        match &self.state {
            State::Start => 0,
            State::Multibulk { held, .. } => *held,
        }
    }

    /// Parses the next complete request at the front of `buf`, removing it.
    ///
    /// Returns `Ok(Some(args))` with at least one argument, `Ok(None)` when
    /// more input is needed (everything consumed so far is remembered), or the
    /// protocol error to send before closing. Requests that carry no command
    /// (a multi-bulk count `<= 0`, an empty or blank inline line) are skipped.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.scanned > buf.len() {
            self.scanned = 0;
        }
        let result = self.parse_inner(buf);
        if result.is_err() {
            self.state = State::Start;
            self.scanned = 0;
        }
        result
    }

    fn parse_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if let State::Start = self.state {
                match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => {
                        if let Some(args) = self.whole_request(buf) {
                            return Ok(Some(args));
                        }
                        let Some(count) = self.header_line(buf, Header::Count)? else {
                            return Ok(None);
                        };
                        if count > MAX_MULTIBULK_COUNT {
                            return Err(ProtocolError::InvalidMultibulkLength);
                        }
                        let count = count.clamp(0, MAX_MULTIBULK_COUNT) as usize;
                        if count > 0 {
                            self.state = State::Multibulk {
                                remaining: count,
                                args: self.take_spare(count.min(MAX_ARGS_PREALLOC)),
                                held: 0,
                                bulk: None,
                            };
                        }
                        continue;
                    }
                    Some(_) => match self.inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    },
                }
            }
            return self.multibulk_args(buf);
        }
    }

    /// The usual case in one pass: a multi-bulk request of 1 to
    /// [`WHOLE_ARGS`] arguments that has fully arrived, split off the buffer
    /// at once and its arguments sliced from it. `None` (nothing consumed)
    /// for anything else, incomplete, malformed or unusual, which the
    /// incremental path then reads and reports exactly as before; that path
    /// keeps what it consumed, so no request is scanned this way twice
    /// beyond its first header line.
    fn whole_request(&mut self, buf: &mut BytesMut) -> Option<Vec<Bytes>> {
        let data = &buf[..];
        let (count, mut at) = header_at(data, 0, b'*')?;
        if !(1..=WHOLE_ARGS as i64).contains(&count) {
            return None;
        }
        let count = count as usize;
        let mut spans = [(0usize, 0usize); WHOLE_ARGS];
        for span in &mut spans[..count] {
            let (len, start) = header_at(data, at, b'$')?;
            if !(0..=MAX_BULK_LENGTH).contains(&len) {
                return None;
            }
            let end = start + len as usize;
            // The two bytes after the payload are skipped unchecked, as below.
            if end + 2 > data.len() {
                return None;
            }
            *span = (start, end);
            at = end + 2;
        }
        let request = buf.split_to(at).freeze();
        self.scanned = 0;
        let mut args = self.take_spare(count);
        args.extend(spans[..count].iter().map(|&(a, b)| request.slice(a..b)));
        Some(args)
    }

    /// Reads arguments of the current multi-bulk request.
    fn multibulk_args(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let State::Multibulk { bulk, .. } = &self.state else {
                return Ok(None);
            };
            match *bulk {
                None => {
                    let Some(len) = self.header_line(buf, Header::Bulk)? else {
                        return Ok(None);
                    };
                    if !(0..=MAX_BULK_LENGTH).contains(&len) {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if let State::Multibulk { bulk, .. } = &mut self.state {
                        *bulk = Some(len as usize);
                    }
                }
                Some(len) => {
                    if buf.len() < len + 2 {
                        let missing = len + 2 - buf.len();
                        buf.reserve(missing.min(MAX_RESERVE_AHEAD));
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    // The two bytes after the payload are skipped unchecked.
                    buf.advance(2);
                    let State::Multibulk {
                        remaining,
                        args,
                        held,
                        bulk,
                    } = &mut self.state
                    else {
                        return Ok(None);
                    };
                    *held += arg.len();
                    args.push(arg);
                    *bulk = None;
                    *remaining -= 1;
                    if *remaining == 0 {
                        let args = std::mem::take(args);
                        self.state = State::Start;
                        return Ok(Some(args));
                    }
                }
            }
        }
    }

    /// Reads a `*` or `$` header line at the front of `buf`: the line ends at
    /// the first CR, and the byte after it is skipped unchecked (it must have
    /// arrived). Returns the strictly parsed number, or `None` if the line is
    /// incomplete. The `$` of an argument header is checked only once its
    /// line is complete.
    fn header_line(
        &mut self,
        buf: &mut BytesMut,
        kind: Header,
    ) -> Result<Option<i64>, ProtocolError> {
        let from = self.scanned;
        let Some(cr) = find(&buf[from..], b'\r').map(|i| i + from) else {
            if buf.len() > MAX_INLINE_SIZE {
                return Err(kind.too_big());
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        if cr + 1 >= buf.len() {
            self.scanned = cr;
            return Ok(None);
        }
        if kind == Header::Bulk && buf[0] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[0]));
        }
        let number = strict_integer(&buf[1..cr]).ok_or(kind.invalid())?;
        buf.advance(cr + 2);
        self.scanned = 0;
        Ok(Some(number))
    }

    /// Reads an inline request: a line ending at `\n`, with an optional `\r`
    /// before it stripped, split into words (empty words dropped).
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let from = self.scanned;
        let Some(newline) = find(&buf[from..], b'\n').map(|i| i + from) else {
            if buf.len() > MAX_INLINE_SIZE {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        let line = buf.split_to(newline + 1);
        self.scanned = 0;
        let mut line = &line[..newline];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        let words = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
        Ok(Some(
            words
                .into_iter()
                .filter(|w| !w.is_empty())
                .map(Bytes::from)
                .collect(),
        ))
    }
}

/// The two kinds of header line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Header {
    /// `*<count>`, the start of a multi-bulk request.
    Count,
    /// `$<length>`, the start of an argument.
    Bulk,
}

impl Header {
    fn too_big(self) -> ProtocolError {
        match self {
            Header::Count => ProtocolError::TooBigMbulkCount,
            Header::Bulk => ProtocolError::TooBigBulkCount,
        }
    }

    fn invalid(self) -> ProtocolError {
        match self {
            Header::Count => ProtocolError::InvalidMultibulkLength,
            Header::Bulk => ProtocolError::InvalidBulkLength,
        }
    }
}

/// The header line `<prefix><number>\r` at `at` of `data`, with the byte
/// after its CR present: the number (strictly parsed) and where the next
/// line starts. `None` when it is not there, too long or not a number.
fn header_at(data: &[u8], at: usize, prefix: u8) -> Option<(i64, usize)> {
    if data.get(at) != Some(&prefix) {
        return None;
    }
    let line = data.get(at + 1..)?;
    let cr = find(&line[..line.len().min(WHOLE_HEADER)], b'\r')?;
    if cr + 1 >= line.len() {
        return None;
    }
    Some((strict_integer(&line[..cr])?, at + cr + 3))
}

fn find(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Parses a protocol header number strictly: an optional `-`, then digits
/// with no leading zero (`0` alone is allowed, `-0` is not), nothing else,
/// within the range of `i64`.
fn strict_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    // Accumulate as a negative number so that i64::MIN fits.
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// Splits a line into words with the quoting rules of Redis' `sdssplitargs`,
/// used for inline requests and configuration files.
///
/// * Words are separated by whitespace (space, `\t`, `\n`, `\r`, and between
///   words also `\v` and `\f`).
/// * `"..."` quotes understand `\n \r \t \b \a \\ \"` and `\xHH`; any other
///   escaped character stands for itself.
/// * `'...'` quotes understand only `\'`.
/// * A quote may start in the middle of a word (`a"b c"` is `ab c`), but a
///   closing quote must be followed by whitespace or the end of the line.
/// * As in C, a NUL byte ends the line.
///
/// Empty words (`""`) are returned. Returns `None` when the quotes do not
/// balance (including a closing quote followed by another character).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = find(line, 0).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        // The quote character while inside quotes.
        let mut quote: Option<u8> = None;
        loop {
            let c = at(p);
            match quote {
                None => match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' | b'\'' => quote = Some(c),
                    other => word.push(other),
                },
                Some(q) => {
                    let escaped = match c {
                        b'\\' => escape(q, at(p + 1), at(p + 2), at(p + 3)),
                        _ => None,
                    };
                    if let Some((byte, used)) = escaped {
                        word.push(byte);
                        p += used;
                    } else if c == q {
                        if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                            return None;
                        }
                        p += 1;
                        break;
                    } else if c == 0 {
                        return None;
                    } else {
                        word.push(c);
                    }
                }
            }
            p += 1;
        }
        words.push(word);
    }
}

/// The byte that a backslash followed by `next`, `x1`, `x2` stands for
/// inside `quote` quotes, and how many bytes after the backslash it uses;
/// `None` when the backslash stands for itself. Double quotes understand
/// `\n \r \t \b \a` and `\xHH`, any other character escaping itself;
/// single quotes only `\'`.
fn escape(quote: u8, next: u8, x1: u8, x2: u8) -> Option<(u8, usize)> {
    if quote == b'\'' {
        return (next == b'\'').then_some((b'\'', 1));
    }
    match next {
        0 => None,
        b'x' if is_hex(x1) && is_hex(x2) => Some((hex_value(x1) * 16 + hex_value(x2), 3)),
        b'n' => Some((b'\n', 1)),
        b'r' => Some((b'\r', 1)),
        b't' => Some((b'\t', 1)),
        b'b' => Some((0x08, 1)),
        b'a' => Some((0x07, 1)),
        other => Some((other, 1)),
    }
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// Appends `args` to `out` as a multi-bulk request
/// (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument).
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let payload: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(payload + 16);
    header(out, b'*', args.len() as i64);
    for arg in args {
        let arg = arg.as_ref();
        header(out, b'$', arg.len() as i64);
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests;
