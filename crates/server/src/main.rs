//! `disque-server`: one Disque node.

use disque_server::alloc::CountingAllocator;
use disque_server::config::{load_from_args, LoadOptions, Startup};
use disque_server::{log, server};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = disque_core::commands::COMMANDS
        .iter()
        .map(|c| c.name)
        .collect();
    let options = LoadOptions {
        command_names: Some(&names),
        ..LoadOptions::default()
    };
    let (config, warnings) = match load_from_args(&args, &options) {
        Startup::Run { config, warnings } => (*config, warnings),
        Startup::Exit(exit) => {
            print!("{}", exit.stdout);
            eprint!("{}", exit.stderr);
            if let Some(line) = exit.log {
                log::warning(&line);
            }
            std::process::exit(exit.code);
        }
    };
    if config.daemonize {
        daemonize(&config.pidfile);
    }
    log::set_format(config.logformat);
    if let Err(e) = log::configure(config.loglevel, &config.logfile) {
        eprintln!("Can't open the log file: {e}");
        std::process::exit(1);
    }
    for line in warnings {
        log::warning(&line);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            log::warning(&format!("Can't start the event loop: {e}"));
            std::process::exit(1);
        });
    let local = tokio::task::LocalSet::new();
    if let Err(message) = local.block_on(&runtime, server::run(config)) {
        log::warning(&message);
        std::process::exit(1);
    }
}

/// Detaches from the terminal: fork, new session, stdio to /dev/null, pid file.
fn daemonize(pidfile: &str) {
    // SAFETY: called before any thread or runtime exists; plain POSIX calls.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("fork failed");
                std::process::exit(1);
            }
            0 => {}
            _ => std::process::exit(0),
        }
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
    let _ = std::fs::write(pidfile, format!("{}\n", std::process::id()));
}
