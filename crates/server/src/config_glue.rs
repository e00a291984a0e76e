//! What a CONFIG command means for the running server: the configuration module
//! parses and validates; here the server reacts to each change.
//!
//! The only module that changes the state's `config` (CONFIG SET, and
//! [`loaded_enqueue_jobs_once`] after a load) and `tls` (rebuilt when a TLS
//! setting changes).

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
            state.configure_core();
            state.wake_ticker();
        }
        ConfigChange::ClusterNodeTimeout => state.configure_core(),
        ConfigChange::AppendOnly { enabled } => return apply_appendonly(state, enabled),
        ConfigChange::AppendFsync => state.set_aof_fsync(),
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

/// After a load with `aof-enqueue-jobs-once yes`: the setting goes back to
/// `no`, in the configuration file too when there is one, so that the next
/// start does not queue the jobs again (docs/persistence.md §4.5).
pub fn loaded_enqueue_jobs_once(state: &mut State) {
    if state.config.config_file.is_none() {
        return;
    }
    state.config.aof_enqueue_jobs_once = false;
    if let Err(e) = state.config.rewrite() {
        crate::log::warning(&format!(
            "Could not reset aof-enqueue-jobs-once in the config file: {e:?}"
        ));
    }
}

/// `maxmemory`, `maxmemory-policy`: the core gets both and evicts now.
fn apply_maxmemory(state: &mut State) {
    state.configure_core();
    state.run_core(|node, env, fx| node.evict_for_memory(env, fx));
}

/// `appendonly`: opens the AOF and starts a rewrite when turned on while
/// off, closes it when turned off.
fn apply_appendonly(state: &mut State, enabled: bool) -> Reply {
    if !enabled {
        state.close_aof();
    } else if !state.aof().is_on() {
        if let Err(e) = state.open_aof(AofState::WaitRewrite) {
            state.config.appendonly = false;
            crate::log::warning(&format!("Can't open the append-only file: {e}"));
            return Reply::error("ERR Unable to turn on AOF. Check server logs.");
        }
        if !state.start_aof_rewrite() {
            crate::log::notice("AOF turned on; a rewrite was already running");
        }
    }
    Reply::ok()
}
