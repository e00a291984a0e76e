//! Turning replies into the text `redis-cli` prints.
//!
//! Three modes, as in `redis-cli`:
//!
//! * [`OutputMode::Standard`] (a terminal, or `--no-raw`): `(integer) 1`,
//!   `(nil)`, `(error) ERR ...`, quoted and escaped bulk strings, numbered
//!   and indented arrays, `(empty list or set)`;
//! * [`OutputMode::Raw`] (not a terminal, or `--raw`): values as they are,
//!   one per line, nil as an empty line, an error as its text followed by an
//!   empty line;
//! * [`OutputMode::Csv`] (`--csv`): values separated by commas, strings
//!   quoted, nil as `NIL`, an error as `ERROR,"text"`.

use disque_proto::Reply;

/// How replies are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Human-readable, typed output (the default on a terminal).
    Standard,
    /// Bare values (the default when stdout is not a terminal).
    Raw,
    /// Comma-separated values.
    Csv,
}

/// The bytes printed for one reply, including the final newline.
pub fn format_reply(reply: &Reply, mode: OutputMode) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        OutputMode::Standard => standard(reply, "", &mut out),
        OutputMode::Raw => {
            raw(reply, &mut out);
            out.push(b'\n');
        }
        OutputMode::Csv => {
            csv(reply, &mut out);
            out.push(b'\n');
        }
    }
    out
}

pub use disque_proto::quote;

/// Standard output. Array items are numbered with the index right-aligned
/// to the width of the largest index; nested arrays continue on the same
/// line and their later items are indented under the first.
fn standard(reply: &Reply, prefix: &str, out: &mut Vec<u8>) {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Reply::Status(text) => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Reply::Bulk(data) => {
            quote(data, out);
            out.push(b'\n');
        }
        Reply::Nil | Reply::NullArray => out.extend_from_slice(b"(nil)\n"),
        Reply::Array(items) if items.is_empty() => {
            out.extend_from_slice(b"(empty list or set)\n");
        }
        Reply::Array(items) => {
            let width = items.len().to_string().len();
            let nested = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, item) in items.iter().enumerate() {
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}) ", i + 1).as_bytes());
                standard(item, &nested, out);
            }
        }
    }
}

/// Raw output, without the final newline.
fn raw(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Nil | Reply::NullArray => {}
        Reply::Error(text) => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Reply::Status(text) | Reply::Bulk(text) => out.extend_from_slice(text),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(item, out);
            }
        }
    }
}

/// CSV output, without the final newline.
fn csv(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"ERROR,");
            quote(text, out);
        }
        Reply::Status(text) | Reply::Bulk(text) => quote(text, out),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Nil | Reply::NullArray => out.extend_from_slice(b"NIL"),
        Reply::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv(item, out);
            }
        }
    }
}
