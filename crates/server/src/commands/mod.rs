//! Commands the server executes itself: AUTH, PING, TIME, COMMAND, SHUTDOWN,
//! CONFIG (glue), and the INFO, CLIENT and DEBUG modules.

pub mod client;
pub mod debug;
pub mod info;

use crate::state::State;
use bytes::Bytes;
use disque_core::commands::{lookup, CommandSpec, COMMANDS};
use disque_proto::Reply;

/// `AUTH password`.
pub fn auth(state: &mut State, client: u64, password: &[u8]) -> Reply {
    let Some(expected) = state.config.requirepass.clone() else {
        return Reply::error("ERR Client sent AUTH, but no password is set");
    };
    let ok = constant_time_eq(&expected, password);
    let epoch = state.auth_epoch();
    state.clients.authenticate(client, ok.then_some(epoch));
    if ok {
        Reply::ok()
    } else {
        Reply::error("ERR invalid password")
    }
}

/// Compares without leaking where the first difference is.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..len {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// `PING [message]`.
pub fn ping(args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::status("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => Reply::error("ERR wrong number of arguments for 'ping' command"),
    }
}

/// `TIME`: `[seconds, microseconds]` as bulk strings.
pub fn time() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk_string(now.as_secs().to_string()),
        Reply::bulk_string(now.subsec_micros().to_string()),
    ])
}

fn command_entry(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_from(spec.name.as_bytes()),
        Reply::Integer(spec.arity as i64),
        Reply::Array(spec.flag_names().into_iter().map(Reply::status).collect()),
        Reply::Integer(0),
        Reply::Integer(0),
        Reply::Integer(0),
    ])
}

/// `COMMAND`, `COMMAND INFO name...`, `COMMAND COUNT`.
pub fn command(args: &[Bytes]) -> Reply {
    match args.get(1) {
        None => Reply::Array(COMMANDS.iter().map(command_entry).collect()),
        Some(sub) if sub.eq_ignore_ascii_case(b"info") => Reply::Array(
            args[2..]
                .iter()
                .map(|name| lookup(name).map_or(Reply::Nil, command_entry))
                .collect(),
        ),
        Some(sub) if sub.eq_ignore_ascii_case(b"count") && args.len() == 2 => {
            Reply::Integer(COMMANDS.len() as i64)
        }
        Some(_) => Reply::error("ERR Unknown subcommand or wrong number of arguments."),
    }
}

/// `SHUTDOWN [REWRITE-AOF]`: exits the process (no reply) or returns why not.
pub fn shutdown(state: &mut State, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => {}
        2 if args[1].eq_ignore_ascii_case(b"rewrite-aof") => {}
        _ => return Reply::error("ERR syntax error"),
    }
    let rewrite = args.len() == 2 && state.loading.is_none();
    match crate::shutdown::prepare(state, rewrite) {
        Ok(()) => crate::shutdown::exit_gracefully(state),
        Err(message) => {
            crate::log::warning(&message);
            Reply::error("ERR Errors trying to SHUTDOWN. Check logs.")
        }
    }
}

/// `CONFIG GET|SET|RESETSTAT|REWRITE ...`, applying what a change means to the server.
pub fn config(state: &mut State, client: u64, args: &[Bytes]) -> Reply {
    let local = state.clients.get(client).is_some_and(|c| c.is_local());
    let allow_protected = state.config.enable_protected_configs.allows(local);
    crate::config_glue::config_command(state, args, allow_protected)
}

/// Quotes a string the way Redis shows arguments (MONITOR).
pub fn repr(arg: &[u8]) -> String {
    let mut out = Vec::with_capacity(arg.len() + 2);
    disque_proto::quote(arg, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}
