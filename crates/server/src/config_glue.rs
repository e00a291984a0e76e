//! What a CONFIG command means for the running server: the configuration module
//! parses and validates; here the server reacts to each change.

use crate::aof::AofState;
use crate::config::{ConfigChange, ConfigOutcome};
use crate::state::State;
use bytes::Bytes;
use disque_proto::Reply;

/// `CONFIG GET|SET|RESETSTAT|REWRITE ...`; `allow_protected` tells whether
/// the client may change a path (decision D14).
pub fn config_command(state: &mut State, args: &[Bytes], allow_protected: bool) -> Reply {
    match state.config.command_from(args, allow_protected) {
        ConfigOutcome::Reply(reply) => reply,
        ConfigOutcome::ResetStat => {
            state.stats.reset();
            Reply::ok()
        }
        ConfigOutcome::Set(change) => apply_change(state, change),
    }
}

/// Carries out a successful `CONFIG SET` (the [`ConfigChange`] its row of
/// the table of settings names) and gives the reply.
fn apply_change(state: &mut State, change: ConfigChange) -> Reply {
    match change {
        ConfigChange::Stored | ConfigChange::Dir | ConfigChange::MaxClients { .. } => {}
        ConfigChange::RequirePass => state.new_auth_epoch(),
        ConfigChange::LogFormat => crate::log::set_format(state.config.logformat),
        ConfigChange::LogLevel => crate::log::set_level(state.config.loglevel),
        ConfigChange::MaxMemory => apply_maxmemory(state),
        ConfigChange::Hz => state.wake_ticker(),
        ConfigChange::Rereplicate => {
            state.node.config_mut().rereplicate = state.config.rereplicate;
            state.wake_ticker();
        }
        ConfigChange::ClusterNodeTimeout => {
            let timeout = state.config.cluster_node_timeout.max(1) as u64;
            state.node.set_node_timeout(timeout);
        }
        ConfigChange::AppendOnly { enabled } => return apply_appendonly(state, enabled),
        ConfigChange::AppendFsync => state.aof.fsync = state.config.appendfsync,
        ConfigChange::HttpPort { previous } => {
            if let Err(e) = crate::http::apply_port(state) {
                state.config.http_port = previous;
                crate::log::warning(&e);
                return Reply::error_owned(format!("ERR Unable to listen on the HTTP port: {e}"));
            }
        }
        ConfigChange::Tls => match crate::tls::setup(&state.config) {
            Ok(tls) => state.tls = tls,
            // Checked a moment ago; a file changed since keeps the old contexts.
            Err(e) => crate::log::warning(&e),
        },
    }
    Reply::ok()
}

/// `maxmemory`, `maxmemory-policy`: the core gets both and evicts now.
fn apply_maxmemory(state: &mut State) {
    let core = state.node.config_mut();
    core.maxmemory = state.config.maxmemory;
    core.maxmemory_policy = state.config.maxmemory_policy;
    state.run_core(|node, env, fx| node.evict_for_memory(env, fx));
}

/// `appendonly`: opens the AOF and starts a rewrite when turned on while
/// off, closes it when turned off.
fn apply_appendonly(state: &mut State, enabled: bool) -> Reply {
    if !enabled {
        state.aof.close();
        state.node.config_mut().aof_logging = false;
    } else if state.aof.state == AofState::Off {
        if let Err(e) = state.aof.open(AofState::WaitRewrite) {
            state.config.appendonly = false;
            crate::log::warning(&format!("Can't open the append-only file: {e}"));
            return Reply::error("ERR Unable to turn on AOF. Check server logs.");
        }
        state.node.config_mut().aof_logging = true;
        if !state.start_aof_rewrite() {
            crate::log::notice("AOF turned on; a rewrite was already running");
        }
    }
    Reply::ok()
}
