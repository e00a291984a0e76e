//! `disque-sim`: runs the deterministic cluster simulation over a range of seeds.
//!
//! ```text
//! disque-sim [--seeds N] [--from S] [--seed S] [--nodes N] [--chaos-ms MS]
//!            [--drain-ms MS] [--no-faults] [--bus-before-aof] [--profile P] [--trace]
//!            [--keep-going]
//! ```
//!
//! `--seeds N --from S` runs seeds S..S+N with a progress line and a summary;
//! `--seed S` runs one seed; `--trace` prints the whole trace of a failing seed;
//! `--bus-before-aof` models the old server, whose bus frames left before the
//! AOF records of the same event were written (`NetConfig::bus_after_durable`);
//! `--profile chaos|sequential` gives every seed that profile instead of the
//! one it picks (one seed in ten makes sequential failures, `Profile::of_seed`).
//! A failing seed prints the invariant it broke, a replay command and the trace
//! of the job concerned. The exit status is 1 when any seed failed.

use disque_sim::sim::{run, Profile, SimConfig};
use std::io::Write;
use std::time::Instant;

struct Args {
    from: u64,
    seeds: u64,
    nodes: Option<usize>,
    chaos_ms: Option<u64>,
    drain_ms: Option<u64>,
    faults: bool,
    bus_after_durable: bool,
    profile: Option<Profile>,
    trace: bool,
    keep_going: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: disque-sim [--seeds N] [--from S] [--seed S] [--nodes N] [--chaos-ms MS] \
         [--drain-ms MS] [--no-faults] [--bus-before-aof] [--profile chaos|sequential] \
         [--trace] [--keep-going]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        from: 0,
        seeds: 100,
        nodes: None,
        chaos_ms: None,
        drain_ms: None,
        faults: true,
        bus_after_durable: true,
        profile: None,
        trace: false,
        keep_going: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> u64 {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("{name} needs a number");
                usage()
            })
        };
        match arg.as_str() {
            "--seeds" => a.seeds = value("--seeds"),
            "--from" => a.from = value("--from"),
            "--seed" => {
                a.from = value("--seed");
                a.seeds = 1;
            }
            "--nodes" => a.nodes = Some(value("--nodes").clamp(1, 64) as usize),
            "--chaos-ms" => a.chaos_ms = Some(value("--chaos-ms")),
            "--drain-ms" => a.drain_ms = Some(value("--drain-ms")),
            "--no-faults" => a.faults = false,
            "--bus-before-aof" => a.bus_after_durable = false,
            "--profile" => {
                a.profile = match it.next().as_deref() {
                    Some("chaos") => Some(Profile::Chaos),
                    Some("sequential") => Some(Profile::Sequential),
                    _ => {
                        eprintln!("--profile needs chaos or sequential");
                        usage()
                    }
                }
            }
            "--trace" => a.trace = true,
            "--keep-going" => a.keep_going = true,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    a
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    let (mut passed, mut failed) = (0u64, Vec::new());
    let (mut adds, mut deliveries, mut crashes, mut sim_ms) = (0u64, 0u64, 0u64, 0u64);
    let (mut sequential, mut repaired) = (0u64, 0u64);
    let (mut nack_delays, mut dead_letters) = (0u64, 0u64);
    let single = args.seeds == 1;
    for seed in args.from..args.from.saturating_add(args.seeds) {
        let mut cfg = SimConfig::new(seed);
        cfg.nodes = args.nodes;
        if let Some(ms) = args.chaos_ms {
            cfg.chaos_ms = ms;
        }
        if let Some(ms) = args.drain_ms {
            cfg.drain_ms = ms;
        }
        cfg.faults = args.faults;
        cfg.bus_after_durable = args.bus_after_durable;
        cfg.profile = args.profile;
        let outcome = run(cfg, args.trace);
        adds += outcome.stats.added;
        deliveries += outcome.stats.deliveries;
        crashes += outcome.stats.crashes;
        nack_delays += outcome.stats.nack_delays;
        dead_letters += outcome.stats.dead_letter_deliveries;
        sim_ms += outcome.stats.sim_ms;
        if outcome.stats.profile == Profile::Sequential {
            sequential += 1;
            repaired += outcome.stats.repaired_failures;
        }
        if single {
            eprintln!("seed {seed}: {:?}", outcome.stats);
        }
        if outcome.passed() {
            passed += 1;
        } else {
            eprint!("\r\x1b[K");
            if let Some(trace) = &outcome.full_trace {
                println!("full trace of seed {seed}:\n{trace}");
            }
            println!("{}", outcome.report);
            failed.push(seed);
        }
        let done = passed + failed.len() as u64;
        eprint!(
            "\r\x1b[K[{done}/{}] seed {seed}: {} passed, {} failed, {:.1} s",
            args.seeds,
            passed,
            failed.len(),
            started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
        if !failed.is_empty() && !args.keep_going && !single {
            break;
        }
    }
    eprintln!();
    println!(
        "{} seeds from {}: {} passed, {} failed{} in {:.1} s ({} jobs added, {} deliveries, {} crashes, \
         {} sequential-failure runs with {} failures repaired, {} NACK DELAYs, {} dead-letter deliveries, \
         {:.0} s simulated)",
        passed + failed.len() as u64,
        args.from,
        passed,
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (seeds {failed:?})")
        },
        started.elapsed().as_secs_f64(),
        adds,
        deliveries,
        crashes,
        sequential,
        repaired,
        nack_delays,
        dead_letters,
        sim_ms as f64 / 1000.0
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
