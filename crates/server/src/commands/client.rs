//! CLIENT (docs/commands.md §4.8).

use crate::action::Action;
use crate::clients::{Outbound, ReplyMode};
use crate::state::{now_ms, State};
use bytes::Bytes;
use disque_proto::Reply;

const SYNTAX: &str =
    "ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)";

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// `CLIENT <subcommand> ...`.
pub fn client(state: &mut State, me: u64, args: &[Bytes]) -> Action {
    let sub = &args[1][..];
    let reply = match args.len() {
        2 if is(sub, "list") => Reply::bulk_string(list(state)),
        2 if is(sub, "getname") => state
            .clients
            .get(me)
            .and_then(|c| c.name().cloned())
            .map_or(Reply::Nil, Reply::Bulk),
        3 if is(sub, "setname") => setname(state, me, &args[2]),
        3 if is(sub, "pause") => match disque_core::args::timeout_deadline(&args[2], now_ms()) {
            Ok(until) => {
                state.pause_clients(until.unwrap_or(0));
                Reply::ok()
            }
            Err(reply) => reply,
        },
        3 if is(sub, "reply") => return reply_mode(state, me, &args[2]),
        3 if is(sub, "kill") => return kill_by_addr(state, me, &args[2]),
        n if n > 3 && is(sub, "kill") => return kill_filtered(state, me, &args[2..]),
        _ => Reply::error(SYNTAX),
    };
    Action::Reply(reply)
}

fn list(state: &State) -> String {
    let mut out = String::new();
    for c in state.clients.iter() {
        let mut flags = String::new();
        if c.is_monitor() {
            flags.push('O');
        }
        if c.is_blocked() {
            flags.push('b');
        }
        if c.is_unix() {
            flags.push('U');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let name = c
            .name()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        out.push_str(&format!(
            "id={} addr={} fd={} name={} age={} idle={} flags={} qbuf={} qbuf-free={} obl=0 oll=0 omem=0 events=r cmd={}\n",
            c.id(),
            c.addr(),
            c.fd(),
            name,
            c.age().as_secs(),
            c.idle().as_secs(),
            flags,
            c.query_buffer(),
            0,
            c.last_command()
        ));
    }
    out
}

fn setname(state: &mut State, me: u64, name: &Bytes) -> Reply {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        );
    }
    state
        .clients
        .set_name(me, (!name.is_empty()).then(|| name.clone()));
    Reply::ok()
}

fn reply_mode(state: &mut State, me: u64, mode: &[u8]) -> Action {
    let new = if is(mode, "on") {
        ReplyMode::On
    } else if is(mode, "off") {
        ReplyMode::Off
    } else if is(mode, "skip") {
        ReplyMode::Skip
    } else {
        return Action::Reply(Reply::error("ERR syntax error"));
    };
    state.clients.set_reply_mode(me, new);
    if new == ReplyMode::On {
        Action::Reply(Reply::ok())
    } else {
        Action::NoReply
    }
}

/// Kills `victims`; if the caller is among them, it gets `reply` and then closes.
fn kill(state: &State, me: u64, victims: &[u64], reply: Reply) -> Action {
    for &id in victims.iter().filter(|&&id| id != me) {
        state.clients.send(id, Outbound::Kill);
    }
    if victims.contains(&me) {
        Action::ReplyAndClose(reply)
    } else {
        Action::Reply(reply)
    }
}

fn kill_by_addr(state: &State, me: u64, addr: &[u8]) -> Action {
    let victims: Vec<u64> = state
        .clients
        .iter()
        .filter(|c| c.addr().as_bytes() == addr)
        .map(|c| c.id())
        .take(1)
        .collect();
    if victims.is_empty() {
        return Action::Reply(Reply::error("ERR No such client"));
    }
    kill(state, me, &victims, Reply::ok())
}

fn kill_filtered(state: &State, me: u64, filters: &[Bytes]) -> Action {
    if !filters.len().is_multiple_of(2) {
        return Action::Reply(Reply::error("ERR syntax error"));
    }
    let (mut id, mut addr, mut skipme) = (None, None, true);
    for pair in filters.chunks(2) {
        let (key, value) = (&pair[0][..], &pair[1]);
        if is(key, "id") {
            match disque_core::args::parse_i64(value) {
                Some(n) => id = Some(n),
                None => {
                    return Action::Reply(Reply::error(
                        "ERR value is not an integer or out of range",
                    ))
                }
            }
        } else if is(key, "type") {
            if !is(value, "normal") {
                return Action::Reply(Reply::error_owned(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(value)
                )));
            }
        } else if is(key, "addr") {
            addr = Some(value.clone());
        } else if is(key, "skipme") {
            if is(value, "yes") {
                skipme = true;
            } else if is(value, "no") {
                skipme = false;
            } else {
                return Action::Reply(Reply::error("ERR syntax error"));
            }
        } else {
            return Action::Reply(Reply::error("ERR syntax error"));
        }
    }
    let victims: Vec<u64> = state
        .clients
        .iter()
        .filter(|c| id.is_none_or(|id| c.id() as i64 == id))
        .filter(|c| addr.as_ref().is_none_or(|a| c.addr().as_bytes() == &a[..]))
        .filter(|c| !(skipme && c.id() == me))
        .map(|c| c.id())
        .collect();
    kill(state, me, &victims, Reply::Integer(victims.len() as i64))
}
