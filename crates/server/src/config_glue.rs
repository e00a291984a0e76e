//! What a CONFIG command means for the running server: the configuration module
//! parses and validates; here the server reacts to each change.

use crate::aof::AofState;
use crate::config::{ConfigChange, ConfigOutcome};
use crate::state::State;
use bytes::Bytes;
use disque_core::Effects;
use disque_proto::Reply;

/// `CONFIG GET|SET|RESETSTAT|REWRITE ...`; `allow_protected` tells whether
/// the client may change a path (decision D14).
pub fn config_command(state: &mut State, args: &[Bytes], allow_protected: bool) -> Reply {
    match state.config.command_from(args, allow_protected) {
        ConfigOutcome::Reply(reply) => reply,
        ConfigOutcome::ResetStat => {
            state.stats = Default::default();
            Reply::ok()
        }
        ConfigOutcome::Set(change) => apply_change(state, change),
    }
}

fn apply_change(state: &mut State, change: ConfigChange) -> Reply {
    match change {
        ConfigChange::RequirePass => state.auth_epoch += 1,
        ConfigChange::LogFormat => crate::log::set_format(state.config.logformat),
        ConfigChange::LogLevel => crate::log::set_level(state.config.loglevel),
        ConfigChange::MaxMemory | ConfigChange::MaxMemoryPolicy => {
            let core = state.node.config_mut();
            core.maxmemory = state.config.maxmemory;
            core.maxmemory_policy = state.config.maxmemory_policy;
            let env = state.env();
            let mut fx = Effects::default();
            state.node.evict_for_memory(&env, &mut fx);
            state.apply(fx);
        }
        ConfigChange::Hz => state.ticker.notify_one(),
        ConfigChange::Rereplicate => {
            state.node.config_mut().rereplicate = state.config.rereplicate;
            state.ticker.notify_one();
        }
        ConfigChange::ClusterNodeTimeout => {
            let timeout = state.config.cluster_node_timeout.max(1) as u64;
            state.node.set_node_timeout(timeout);
        }
        ConfigChange::AppendOnly { enabled: true } if state.aof.state == AofState::Off => {
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
        ConfigChange::AppendOnly { enabled: false } => {
            state.aof.close();
            state.node.config_mut().aof_logging = false;
        }
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
        _ => {}
    }
    Reply::ok()
}
