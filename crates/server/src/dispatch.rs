//! Command processing in the order of docs/commands.md §1.2: QUIT, lookup, arity,
//! authentication, memory, then execution by the core or by the server's own
//! command handlers; afterwards statistics, SLOWLOG and MONITOR.

use crate::action::Action;
use crate::commands;
use crate::state::State;
use bytes::Bytes;
use disque_core::commands::{lookup, CommandId, CommandSpec, FLAG_DENYOOM};
use disque_proto::Reply;
use std::time::Instant;

/// Finds a command, honouring `rename-command`.
pub fn find_command(state: &State, name: &[u8]) -> Option<&'static CommandSpec> {
    // Most servers rename nothing: skip the lowercased copy of the name then.
    let renames = state.renames();
    if !renames.by_new_name.is_empty() {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some(original) = renames.by_new_name.get(&lower) {
            return lookup(original.as_bytes());
        }
    }
    lookup(name).filter(|spec| !renames.hidden.contains(&spec.name))
}

/// Runs one request from `client`.
pub fn execute(state: &mut State, client: u64, args: &[Bytes]) -> Action {
    if args[0].eq_ignore_ascii_case(b"quit") {
        return Action::ReplyAndClose(Reply::ok());
    }
    let Some(spec) = find_command(state, &args[0]) else {
        return Action::Reply(Reply::error_owned(format!(
            "ERR unknown command '{}'",
            String::from_utf8_lossy(&args[0])
        )));
    };
    if !spec.arity_ok(args.len()) {
        return Action::Reply(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        )));
    }
    if spec.id == CommandId::Debug
        && !state
            .config
            .enable_debug_command
            .allows(is_local(state, client))
    {
        return Action::Reply(Reply::error(crate::security::DEBUG_DENIED));
    }
    if state.config.requirepass.is_some()
        && spec.id != CommandId::Auth
        && !authenticated(state, client)
    {
        return Action::Reply(Reply::error("NOAUTH Authentication required."));
    }
    if state.node().memory_pressed(&state.env()) {
        let ok = state.run_core(|node, env, fx| node.evict_for_memory(env, fx));
        if !ok && spec.has(FLAG_DENYOOM) {
            return Action::Reply(Reply::error(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
    }
    if let Some(error) = state.aof().write_error() {
        if spec.has(disque_core::commands::FLAG_WRITE) || spec.id == CommandId::Ping {
            return Action::Reply(Reply::error_owned(format!(
                "MISCONF Errors writing to the AOF file: {error}"
            )));
        }
    }
    if state.loading.is_some() && !spec.has(disque_core::commands::FLAG_LOADING) {
        return Action::Reply(Reply::error(
            "LOADING Disque is loading the dataset in memory",
        ));
    }
    if state.clients.has_monitors() {
        state
            .clients
            .feed_monitors(monitor_line(state, client, args));
    }
    let started = Instant::now();
    let action = run(state, client, spec, args);
    let usec = started.elapsed().as_micros() as u64;
    record_call(state, spec, args, usec);
    apply_reply_mode(state, client, spec, action)
}

/// A local client (decision D14).
fn is_local(state: &State, client: u64) -> bool {
    state.clients.get(client).is_some_and(|c| c.is_local())
}

fn authenticated(state: &State, client: u64) -> bool {
    state.clients.get(client).and_then(|c| c.auth_epoch()) == Some(state.auth_epoch())
}

fn run(state: &mut State, client: u64, spec: &'static CommandSpec, args: &[Bytes]) -> Action {
    use CommandId as C;
    match spec.id {
        C::Auth => Action::Reply(commands::auth(state, client, &args[1])),
        C::Ping => Action::Reply(commands::ping(args)),
        C::Time => Action::Reply(commands::time()),
        C::Command => Action::Reply(commands::command(args)),
        C::Info => Action::Reply(commands::info::info(state, args)),
        C::Monitor => {
            state.clients.set_monitor(client);
            Action::Reply(Reply::ok())
        }
        C::Shutdown => Action::Reply(commands::shutdown(state, args)),
        C::Config => Action::Reply(commands::config(state, client, args)),
        C::Cluster if args.len() == 2 && args[1].eq_ignore_ascii_case(b"saveconfig") => {
            Action::Reply(match state.save_nodes_conf() {
                Ok(()) => Reply::ok(),
                Err(e) => {
                    Reply::error_owned(format!("ERR error saving the cluster node config: {e}"))
                }
            })
        }
        C::Client => commands::client::client(state, client, args),
        C::Debug => Action::Reply(commands::debug::debug(state, args)),
        C::Slowlog => Action::Reply(state.slowlog.command(args)),
        C::Latency => {
            let threshold = state.config.latency_monitor_threshold;
            Action::Reply(state.latency.command(
                args,
                (crate::state::now_ms() / 1000) as i64,
                threshold,
            ))
        }
        C::Bgrewriteaof => Action::Reply(match state.start_aof_rewrite() {
            true => Reply::status("Background append only file rewriting started"),
            false => Reply::error("ERR Background append only file rewriting already in progress"),
        }),
        _ => {
            match state.run_core(|node, env, fx| node.on_command(env, client, spec.id, args, fx)) {
                Some(reply) => Action::Reply(reply),
                None => Action::Blocked,
            }
        }
    }
}

fn record_call(state: &mut State, spec: &'static CommandSpec, args: &[Bytes], usec: u64) {
    state.stats.count_command(spec, usec);
    crate::http::recorder::command(spec.id, usec);
    let now_s = (state.clock_ms() / 1000) as i64;
    let (threshold, max_len) = (
        state.config.slowlog_log_slower_than,
        state.config.slowlog_max_len,
    );
    state
        .slowlog
        .record(now_s, usec as i64, args, threshold, max_len);
    let event = if spec.has(disque_core::commands::FLAG_FAST) {
        "fast-command"
    } else {
        "command"
    };
    let latency_threshold = state.config.latency_monitor_threshold;
    state
        .latency
        .add_sample_if_needed(event, now_s, usec / 1000, latency_threshold);
}

/// Notes the client's last command and applies CLIENT REPLY OFF/SKIP,
/// which suppress replies (errors included, like Redis).
fn apply_reply_mode(
    state: &mut State,
    client: u64,
    spec: &'static CommandSpec,
    action: Action,
) -> Action {
    let replies = matches!(action, Action::Reply(_));
    if state.clients.command_ran(client, spec.name, replies) {
        action
    } else {
        Action::NoReply
    }
}

/// The MONITOR line for a command: `+<sec>.<usec> [<addr>] "arg" ...`.
fn monitor_line(state: &State, client: u64, args: &[Bytes]) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let addr = state.clients.get(client).map_or(String::new(), |c| {
        if c.is_unix() {
            format!("unix:{}", c.addr())
        } else {
            c.addr().to_string()
        }
    });
    let mut line = format!("+{}.{:06} [{}]", now.as_secs(), now.subsec_micros(), addr);
    for arg in args {
        line.push(' ');
        line.push_str(&commands::repr(arg));
    }
    line.push_str("\r\n");
    Bytes::from(line)
}
