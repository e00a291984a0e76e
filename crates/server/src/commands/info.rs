//! INFO (docs/commands.md §4.2): sections of `key:value` lines.

use crate::state::State;
use bytes::Bytes;
use disque_proto::Reply;
use std::fmt::Write;

const SECTIONS: [&str; 8] = [
    "server",
    "clients",
    "memory",
    "jobs",
    "queues",
    "persistence",
    "stats",
    "cpu",
];

/// `INFO [section]`.
pub fn info(state: &State, args: &[Bytes]) -> Reply {
    if args.len() > 2 {
        return Reply::error("ERR syntax error");
    }
    let wanted = args.get(1).map_or("default".to_string(), |a| {
        String::from_utf8_lossy(a).to_ascii_lowercase()
    });
    let names: Vec<&str> = match wanted.as_str() {
        "default" => SECTIONS.to_vec(),
        "all" => SECTIONS.iter().copied().chain(["commandstats"]).collect(),
        name if SECTIONS.contains(&name) || name == "commandstats" => vec![name],
        _ => vec![],
    };
    let text: Vec<String> = names.iter().map(|name| section(state, name)).collect();
    Reply::bulk_string(text.join("\r\n"))
}

/// `<n>B` below 1024, else two decimals with K, M, G, T, P.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

fn cpu_times() -> (f64, f64, f64, f64) {
    // SAFETY: getrusage only writes into the struct we pass.
    let get = |who| unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (secs(usage.ru_stime), secs(usage.ru_utime))
    };
    let (sys, user) = get(libc::RUSAGE_SELF);
    let (csys, cuser) = get(libc::RUSAGE_CHILDREN);
    (sys, user, csys, cuser)
}

fn section(state: &State, name: &str) -> String {
    let mut s = String::new();
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = write!(s, "{key}:{value}\r\n");
    };
    let stats = state.node().stats();
    match name {
        "server" => {
            let uptime = state.uptime().as_secs();
            line("disque_version", &"1.0-rc1");
            line("disque_git_sha1", &"00000000");
            line("disque_git_dirty", &0);
            line("disque_build_id", &crate::config::build_id());
            line(
                "os",
                &format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            );
            line("arch_bits", &usize::BITS);
            line("multiplexing_api", &"epoll");
            line("gcc_version", &"0.0.0");
            line("process_id", &std::process::id());
            line("run_id", &state.run_id());
            line("tcp_port", &state.config.port);
            line("uptime_in_seconds", &uptime);
            line("uptime_in_days", &(uptime / 86400));
            line("hz", &state.config.hz);
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            line("executable", &exe);
            let config_file = state
                .config
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            line("config_file", &config_file);
        }
        "clients" => {
            line("connected_clients", &state.clients.len());
            line("client_longest_output_list", &0);
            let biggest = state
                .clients
                .iter()
                .map(|c| c.query_buffer())
                .max()
                .unwrap_or(0);
            line("client_biggest_input_buf", &biggest);
            line("blocked_clients", &stats.blocked_clients);
        }
        "memory" => {
            let used = crate::alloc::used_memory();
            let rss = crate::alloc::rss_bytes();
            let peak = crate::alloc::peak_memory();
            line("used_memory", &used);
            line("used_memory_human", &human_bytes(used));
            line("used_memory_rss", &rss);
            line("used_memory_peak", &peak);
            line("used_memory_peak_human", &human_bytes(peak));
            let ratio = if used > 0 {
                rss as f64 / used as f64
            } else {
                0.0
            };
            line("mem_fragmentation_ratio", &format!("{ratio:.2}"));
            line("mem_allocator", &"libc");
        }
        "jobs" => {
            line("registered_jobs", &stats.registered_jobs);
            line("underreplicated_jobs", &state.node().underreplicated_jobs());
            line("rereplicated_jobs", &state.node().rereplicated_jobs());
        }
        "queues" => line("registered_queues", &stats.registered_queues),
        "persistence" => persistence(state, &mut line),
        "stats" => {
            let st = &state.stats;
            let (ops, input, output) = st.instantaneous();
            line("total_connections_received", &st.connections_received());
            line("total_commands_processed", &st.commands_processed());
            line("instantaneous_ops_per_sec", &ops);
            line("total_net_input_bytes", &st.net_input_bytes());
            line("total_net_output_bytes", &st.net_output_bytes());
            line("instantaneous_input_kbps", &format!("{input:.2}"));
            line("instantaneous_output_kbps", &format!("{output:.2}"));
            line("rejected_connections", &st.rejected_connections());
            line("latest_fork_usec", &0);
        }
        "cpu" => {
            let (sys, user, csys, cuser) = cpu_times();
            line("used_cpu_sys", &format!("{sys:.2}"));
            line("used_cpu_user", &format!("{user:.2}"));
            line("used_cpu_sys_children", &format!("{csys:.2}"));
            line("used_cpu_user_children", &format!("{cuser:.2}"));
        }
        _ => {
            let mut names: Vec<_> = state.stats.commands().collect();
            names.sort_by_key(|(name, _)| *name);
            for (name, stat) in names {
                let per_call = if stat.calls > 0 {
                    stat.usec as f64 / stat.calls as f64
                } else {
                    0.0
                };
                line(
                    &format!("cmdstat_{name}"),
                    &format!(
                        "calls={},usec={},usec_per_call={per_call:.2}",
                        stat.calls, stat.usec
                    ),
                );
            }
        }
    }
    let title = match name {
        "cpu" => "CPU".to_string(),
        "commandstats" => "Commandstats".to_string(),
        other => {
            let mut t = other.to_string();
            t[..1].make_ascii_uppercase();
            t
        }
    };
    format!("# {title}\r\n{s}")
}

fn persistence(state: &State, line: &mut dyn FnMut(&str, &dyn std::fmt::Display)) {
    let aof = state.aof();
    let on = aof.is_on() && state.loading.is_none();
    let ok_err = |ok: bool| if ok { "ok" } else { "err" };
    line("loading", &(state.loading.is_some() as u8));
    line("aof_enabled", &(on as u8));
    line("aof_state", &if on { aof.state().name() } else { "off" });
    line(
        "aof_rewrite_in_progress",
        &(aof.rewrite_in_progress() as u8),
    );
    line("aof_rewrite_scheduled", &0);
    line("aof_last_rewrite_time_sec", &aof.last_rewrite_secs());
    line("aof_current_rewrite_time_sec", &aof.current_rewrite_secs());
    line("aof_last_bgrewrite_status", &ok_err(aof.last_rewrite_ok()));
    line(
        "aof_last_write_status",
        &ok_err(aof.write_error().is_none()),
    );
    if let Some(info) = state.loading {
        let now = crate::state::now_ms() / 1000;
        let perc = if info.total_bytes > 0 {
            info.loaded_bytes as f64 * 100.0 / info.total_bytes as f64
        } else {
            0.0
        };
        let rate = info.loaded_bytes / now.saturating_sub(info.start_time).max(1);
        let eta = info
            .total_bytes
            .saturating_sub(info.loaded_bytes)
            .checked_div(rate)
            .unwrap_or(1);
        line("loading_start_time", &info.start_time);
        line("loading_total_bytes", &info.total_bytes);
        line("loading_loaded_bytes", &info.loaded_bytes);
        line("loading_loaded_perc", &format!("{perc:.2}"));
        line("loading_eta_seconds", &eta);
    }
    if on {
        line("aof_current_size", &aof.current_size());
        line("aof_base_size", &aof.base_size());
        line("aof_pending_rewrite", &0);
        line("aof_buffer_length", &aof.buffered());
        line("aof_rewrite_buffer_length", &aof.rewrite_buffered());
        line("aof_pending_bio_fsync", &0);
        line("aof_delayed_fsync", &aof.delayed_fsync());
    }
}
