//! The slow log: commands that took longer than `slowlog-log-slower-than`
//! microseconds, newest first, and the `SLOWLOG` command (docs/commands.md §4.10).
//!
//! The log does not hold the configuration: the caller passes the current
//! `slowlog-log-slower-than` and `slowlog-max-len` values to
//! [`SlowLog::record`] each time, so a `CONFIG SET` takes effect at the next
//! command without any wiring.

use std::collections::VecDeque;

use bytes::Bytes;
use disque_proto::Reply;

/// At most this many arguments are kept per entry; when a command has more,
/// the last kept one is replaced by `... (<k> more arguments)`.
pub const MAX_ARGS: usize = 32;

/// Arguments longer than this many bytes are cut and followed by
/// `... (<k> more bytes)`.
pub const MAX_ARG_BYTES: usize = 128;

/// Number of entries `SLOWLOG GET` returns without a count.
pub const DEFAULT_GET_COUNT: usize = 10;

const ERR_SYNTAX: &str = "ERR Unknown SLOWLOG subcommand or wrong # of args. Try GET, RESET, LEN.";
const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// One slow log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique, increasing id (not reset by `SLOWLOG RESET`).
    pub id: u64,
    /// Unix time, in seconds, at which the command was recorded.
    pub time: i64,
    /// Execution time in microseconds.
    pub duration_us: i64,
    /// The command's arguments after truncation (see [`MAX_ARGS`] and
    /// [`MAX_ARG_BYTES`]).
    pub args: Vec<Bytes>,
}

/// The slow log of one server.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest entry first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// An empty log whose first entry will get id 0.
    pub fn new() -> SlowLog {
        SlowLog::default()
    }

    /// Records a command if `duration_us >= threshold_us`; a negative
    /// threshold disables the log (0 records everything). Afterwards the log
    /// is trimmed to `max_len` entries (a negative `max_len`, as the lenient
    /// config file can produce, means no limit). Returns true if the command
    /// was recorded.
    ///
    /// `now` is the Unix time in seconds; `args` is the whole command
    /// including its name, as the client sent it.
    pub fn record(
        &mut self,
        now: i64,
        duration_us: i64,
        args: &[Bytes],
        threshold_us: i64,
        max_len: i64,
    ) -> bool {
        if threshold_us < 0 || duration_us < threshold_us {
            return false;
        }
        let entry = Entry {
            id: self.next_id,
            time: now,
            duration_us,
            args: truncate_args(args),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        if let Ok(limit) = usize::try_from(max_len) {
            self.entries.truncate(limit);
        }
        true
    }

    /// Number of entries currently held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry (ids keep increasing afterwards).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Runs `SLOWLOG <sub> [args]`. `args` is the whole command including
    /// the `SLOWLOG` name itself (`args[0]`).
    ///
    /// * `SLOWLOG GET [n]`: the `n` newest entries (default 10, a negative
    ///   `n` means all), each `[id, time, duration, [args...]]`;
    ///   a non-integer `n` → `-ERR value is not an integer or out of range`;
    /// * `SLOWLOG LEN` → `:<entries>`;
    /// * `SLOWLOG RESET` → `+OK`;
    /// * anything else → `-ERR Unknown SLOWLOG subcommand or wrong # of args. Try GET, RESET, LEN.`
    pub fn command(&mut self, args: &[Bytes]) -> Reply {
        let Some(sub) = args.get(1) else {
            return Reply::error(ERR_SYNTAX);
        };
        if args.len() == 2 && sub.eq_ignore_ascii_case(b"reset") {
            self.reset();
            Reply::ok()
        } else if args.len() == 2 && sub.eq_ignore_ascii_case(b"len") {
            Reply::Integer(self.entries.len() as i64)
        } else if (args.len() == 2 || args.len() == 3) && sub.eq_ignore_ascii_case(b"get") {
            let count = match args.get(2) {
                None => DEFAULT_GET_COUNT,
                Some(raw) => match parse_count(raw) {
                    Some(n) if n < 0 => usize::MAX,
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    None => return Reply::error(ERR_NOT_INTEGER),
                },
            };
            Reply::Array(self.entries.iter().take(count).map(entry_reply).collect())
        } else {
            Reply::error(ERR_SYNTAX)
        }
    }
}

fn entry_reply(e: &Entry) -> Reply {
    Reply::Array(vec![
        Reply::Integer(i64::try_from(e.id).unwrap_or(i64::MAX)),
        Reply::Integer(e.time),
        Reply::Integer(e.duration_us),
        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
    ])
}

/// Applies the 32-argument and 128-byte limits.
fn truncate_args(args: &[Bytes]) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(kept);
    for (j, arg) in args.iter().take(kept).enumerate() {
        if kept != args.len() && j == kept - 1 {
            let more = args.len() - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if arg.len() > MAX_ARG_BYTES {
            let mut cut = Vec::with_capacity(MAX_ARG_BYTES + 32);
            cut.extend_from_slice(&arg[..MAX_ARG_BYTES]);
            cut.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes(),
            );
            out.push(Bytes::from(cut));
        } else {
            // A copy: the argument is a slice of the client's read buffer, which
            // a long-lived entry would otherwise keep allocated whole.
            out.push(Bytes::copy_from_slice(arg));
        }
    }
    out
}

/// Integer argument rule of docs/commands.md §1.4 (C `strtoll`, strict).
fn parse_count(raw: &[u8]) -> Option<i64> {
    disque_core::args::parse_i64(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cmd;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn threshold_rules() {
        let mut log = SlowLog::new();
        assert!(!log.record(1, 5, &cmd(&["ping"]), -1, 128));
        assert!(!log.record(1, 5, &cmd(&["ping"]), 10, 128));
        assert!(log.record(1, 10, &cmd(&["ping"]), 10, 128));
        assert!(log.record(1, 0, &cmd(&["ping"]), 0, 128));
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn trims_to_max_len_and_ids_grow() {
        let mut log = SlowLog::new();
        for i in 0..5 {
            log.record(100 + i, 1, &cmd(&["ping"]), 0, 3);
        }
        assert_eq!(log.len(), 3);
        let ids: Vec<u64> = log.entries().map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        log.reset();
        assert!(log.is_empty());
        log.record(1, 1, &cmd(&["ping"]), 0, 3);
        assert_eq!(log.entries().next().map(|e| e.id), Some(5));
        // Negative max-len keeps everything; 0 keeps nothing.
        for _ in 0..200 {
            log.record(1, 1, &cmd(&["ping"]), 0, -1);
        }
        assert_eq!(log.len(), 201);
        log.record(1, 1, &cmd(&["ping"]), 0, 0);
        assert_eq!(log.len(), 0);
    }

    #[test]
    fn truncates_arguments() {
        let mut words: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
        words[0] = "x".repeat(130);
        let args: Vec<Bytes> = words.iter().map(|w| b(w)).collect();
        let out = truncate_args(&args);
        assert_eq!(out.len(), 32);
        let mut first = "x".repeat(128);
        first.push_str("... (2 more bytes)");
        assert_eq!(out[0], b(&first));
        assert_eq!(out[30], b("a30"));
        assert_eq!(out[31], b("... (9 more arguments)"));
        // Exactly 32 arguments: nothing replaced.
        let args: Vec<Bytes> = (0..32).map(|i| b(&format!("a{i}"))).collect();
        assert_eq!(truncate_args(&args), args);
        // Exactly 128 bytes: kept whole.
        let a = b(&"y".repeat(128));
        assert_eq!(truncate_args(std::slice::from_ref(&a)), vec![a]);
    }

    #[test]
    fn command_replies() {
        let mut log = SlowLog::new();
        log.record(1000, 15, &cmd(&["addjob", "q", "body", "0"]), 10, 128);
        log.record(1001, 20, &cmd(&["ping"]), 10, 128);
        assert_eq!(log.command(&cmd(&["SLOWLOG", "len"])), Reply::Integer(2));
        let got = log.command(&cmd(&["slowlog", "GET", "1"]));
        assert_eq!(
            got,
            Reply::Array(vec![Reply::Array(vec![
                Reply::Integer(1),
                Reply::Integer(1001),
                Reply::Integer(20),
                Reply::Array(vec![Reply::Bulk(b("ping"))]),
            ])])
        );
        match log.command(&cmd(&["slowlog", "get"])) {
            Reply::Array(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        match log.command(&cmd(&["slowlog", "get", "-1"])) {
            Reply::Array(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            log.command(&cmd(&["slowlog", "get", "0"])),
            Reply::Array(vec![])
        );
        assert_eq!(
            log.command(&cmd(&["slowlog", "get", "x"])),
            Reply::error("ERR value is not an integer or out of range")
        );
        assert_eq!(log.command(&cmd(&["slowlog", "reset"])), Reply::ok());
        assert_eq!(log.command(&cmd(&["slowlog", "len"])), Reply::Integer(0));
        for bad in [
            &["slowlog"][..],
            &["slowlog", "foo"],
            &["slowlog", "len", "1"],
            &["slowlog", "reset", "1"],
            &["slowlog", "get", "1", "2"],
        ] {
            assert_eq!(
                log.command(&cmd(bad)),
                Reply::error(
                    "ERR Unknown SLOWLOG subcommand or wrong # of args. Try GET, RESET, LEN."
                ),
                "{bad:?}"
            );
        }
    }
}
