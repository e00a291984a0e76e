//! Reading replies (bulk, status, arrays, SHOW and QSTAT fields, INFO),
//! common commands by words, and [`poll_until!`]: wait for a condition with
//! a deadline instead of sleeping.

use std::time::Duration;

use bytes::Bytes;
use disque_client::{Client, Reply};

use crate::server::info_field;

/// Runs a command given as whitespace-separated words.
pub async fn cmd(c: &mut Client, line: &str) -> Reply {
    let args: Vec<&str> = line.split_whitespace().collect();
    c.call(&args).await.expect("call")
}

/// A bulk string reply.
pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// A status reply.
pub fn status(s: &str) -> Reply {
    Reply::Status(Bytes::copy_from_slice(s.as_bytes()))
}

/// An error reply.
pub fn error(s: &str) -> Reply {
    Reply::Error(Bytes::copy_from_slice(s.as_bytes()))
}

/// An integer reply.
pub fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

/// An array reply.
pub fn arr(items: Vec<Reply>) -> Reply {
    Reply::Array(items)
}

/// The text of a status or bulk reply.
pub fn text(r: &Reply) -> String {
    match r {
        Reply::Status(b) | Reply::Bulk(b) | Reply::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => panic!("expected a string reply, got {other:?}"),
    }
}

/// The items of an array reply.
pub fn items(r: &Reply) -> &[Reply] {
    match r {
        Reply::Array(v) => v,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// The value of an integer reply.
pub fn integer(r: &Reply) -> i64 {
    match r {
        Reply::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The value after `name` in a flat field/value array (SHOW, QSTAT).
pub fn field<'a>(r: &'a Reply, name: &str) -> &'a Reply {
    let v = items(r);
    for pair in v.chunks(2) {
        if let Reply::Bulk(k) = &pair[0] {
            if &k[..] == name.as_bytes() {
                return &pair[1];
            }
        }
    }
    panic!("no field {name} in {r:?}")
}

/// ADDJOB and return the job id (asserting a status reply).
pub async fn addjob(c: &mut Client, line: &str) -> String {
    let r = cmd(c, &format!("ADDJOB {line}")).await;
    match r {
        Reply::Status(s) => {
            let id = String::from_utf8(s.to_vec()).unwrap();
            assert_eq!(id.len(), 40, "job id {id}");
            id
        }
        other => panic!("ADDJOB {line}: expected a status reply, got {other:?}"),
    }
}

/// A job entry `[queue, id, body]` as three bulk strings.
pub fn job_entry(queue: &str, id: &str, body: &str) -> Reply {
    arr(vec![bulk(queue), bulk(id), bulk(body)])
}

/// INFO <section> as text.
pub async fn info(c: &mut Client, section: &str) -> String {
    match c.call(&["INFO", section]).await.expect("INFO") {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    }
}

/// One field of `INFO all`.
pub async fn info_value(c: &mut Client, key: &str) -> String {
    let all = info(c, "all").await;
    info_field(&all, key).unwrap_or_else(|| panic!("no {key} in INFO"))
}

/// QLEN `q`.
pub async fn qlen(c: &mut Client, q: &str) -> i64 {
    integer(&cmd(c, &format!("QLEN {q}")).await)
}

/// Polls `$cond` (an async expression yielding bool) every 20 ms until it
/// is true; panics with `$what` after `$timeout`.
#[macro_export]
macro_rules! poll_until {
    ($timeout:expr, $what:expr, $cond:expr) => {{
        let deadline = std::time::Instant::now() + $timeout;
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() > deadline {
                panic!("timed out after {:?} waiting for: {}", $timeout, $what);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }};
}

/// Asserts `$cond` (an async expression yielding bool) every 50 ms for
/// `$duration`, and once more at the end: something that must not happen
/// for a while. The wait is what is tested, bounded by `$duration`.
#[macro_export]
macro_rules! assert_during {
    ($duration:expr, $what:expr, $cond:expr) => {{
        let end = std::time::Instant::now() + $duration;
        loop {
            let last = std::time::Instant::now() >= end;
            assert!($cond, "{}", $what);
            if last {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
