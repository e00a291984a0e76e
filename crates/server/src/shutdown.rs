//! Leaving the process: SHUTDOWN and signals (graceful exit), DEBUG RESTART and
//! CRASH-AND-RECOVER (re-exec of the same binary).

use crate::state::State;
use disque_proto::Reply;
use std::os::unix::process::CommandExt;

/// Makes the data safe before exiting: writes and fsyncs the AOF (decision D11)
/// and, with `rewrite`, rewrites it from memory (even with AOF off).
pub fn prepare(state: &mut State, rewrite: bool) -> Result<(), String> {
    if state.aof().is_on() {
        state
            .sync_aof()
            .map_err(|e| format!("Error flushing the AOF before shutdown: {e}"))?;
    }
    if rewrite {
        state
            .rewrite_aof_for_shutdown()
            .map_err(|e| format!("Error rewriting the AOF on shutdown: {e}"))?;
    }
    Ok(())
}

/// Removes the pid file (when daemonized) and exits with status 0.
pub fn exit_gracefully(state: &State) -> ! {
    crate::log::warning("User requested shutdown...");
    if state.config.daemonize {
        let _ = std::fs::remove_file(&state.config.pidfile);
    }
    crate::log::warning("Disque is now ready to exit, bye bye...");
    std::process::exit(0)
}

/// Re-executes the binary with its original arguments after `delay_ms`; with
/// `graceful` the AOF is written and fsynced and the configuration file
/// rewritten first, as for SHUTDOWN. Returns only on failure.
pub fn restart(state: &mut State, graceful: bool, delay_ms: u64) -> Reply {
    if graceful {
        if let Err(message) = prepare(state, false) {
            crate::log::warning(&message);
            return Reply::error("ERR failed to restart the server. Check server logs.");
        }
    }
    if graceful && state.config.config_file.is_some() {
        if let Err(e) = state.config.rewrite() {
            crate::log::warning(&format!(
                "Could not rewrite the config file before restart: {e:?}"
            ));
            return Reply::error("ERR failed to restart the server. Check server logs.");
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let mut args = std::env::args_os();
    let Some(program) = std::env::current_exe()
        .ok()
        .or_else(|| args.next().map(Into::into))
    else {
        return Reply::error("ERR failed to restart the server. Check server logs.");
    };
    let error = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec();
    crate::log::warning(&format!("Can't restart: execve: {error}"));
    Reply::error("ERR failed to restart the server. Check server logs.")
}
