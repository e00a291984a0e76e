//! DEBUG (docs/commands.md §4.9).

use crate::state::State;
use bytes::Bytes;
use disque_proto::Reply;

/// `DEBUG <subcommand> [args]`.
pub fn debug(state: &mut State, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("flushall", 2) => {
            state.run_core(|node, env, fx| node.flush_all(env, true, fx));
            Reply::ok()
        }
        ("sleep", 3) => {
            let secs = strtod(&args[2]);
            if secs > 0.0 && secs.is_finite() {
                // Blocks the whole server on purpose, like the original.
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e6)));
            }
            Reply::ok()
        }
        ("error", 3) => {
            let text: Vec<u8> = args[2]
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect();
            Reply::Error(Bytes::from(text))
        }
        ("structsize", 2) => Reply::bulk_string(format!(
            "bits:{} job:{} queue:{} ",
            usize::BITS,
            std::mem::size_of::<disque_core::job::Job>(),
            std::mem::size_of::<disque_core::queue::Queue>()
        )),
        ("loadaof", 2) => match crate::aof_load::reload(state) {
            Ok(()) => Reply::ok(),
            Err(message) => {
                if !message.is_empty() {
                    crate::log::warning(&message);
                }
                Reply::error("ERR")
            }
        },
        #[cfg(feature = "fault-injection")]
        ("bus-block", 4) => {
            let Some(node) = disque_core::ids::NodeId::parse(&args[2]) else {
                return Reply::error("ERR Invalid node identifier");
            };
            state
                .bus
                .block_node(node, args[3].eq_ignore_ascii_case(b"yes"));
            Reply::ok()
        }
        ("segfault", 2) | ("assert", 2) | ("oom", 2) => {
            crate::log::warning(&format!("DEBUG {sub}: crashing on purpose"));
            std::process::abort();
        }
        ("restart", 2 | 3) | ("crash-and-recover", 2 | 3) => {
            let delay = match args.get(2).map(|a| disque_core::args::parse_i64(a)) {
                None => 0,
                Some(Some(ms)) => ms.max(0) as u64,
                Some(None) => return Reply::error("ERR value is not an integer or out of range"),
            };
            crate::shutdown::restart(state, sub == "restart", delay)
        }
        _ => Reply::error_owned(format!(
            "ERR Unknown DEBUG subcommand or wrong number of arguments for '{}'",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

/// Reads the longest numeric prefix like C `strtod` (0 when there is none).
fn strtod(arg: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    let mut end = 0;
    for i in 1..=text.len().min(64) {
        if text.is_char_boundary(i) && text[..i].parse::<f64>().is_ok() {
            end = i;
        }
    }
    text[..end].parse().unwrap_or(0.0)
}
