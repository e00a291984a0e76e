//! A short sequential-failure run against real processes (`disque-faults
//! --mode sequential`): five nodes, every job REPLICATE 3, three nodes killed
//! (-9) one after another without restart, each kill after the survivors
//! re-replicated what the previous one took away. No acknowledged job may be
//! lost, though the copies live only in memory (no AOF).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn sequential_kills_without_restart_lose_no_acknowledged_job() {
    let faults = PathBuf::from(env!("CARGO_BIN_EXE_disque-faults"));
    let server = faults.with_file_name("disque-server");
    assert!(
        server.exists(),
        "build the server first: cargo build -p disque-server ({})",
        server.display()
    );
    let output = Command::new(&faults)
        .args([
            "--server",
            server.to_str().expect("utf-8 path"),
            "--mode",
            "sequential",
            "--seconds",
            "4",
            "--seed",
            "5",
            "--fsync",
            "off",
        ])
        .output()
        .expect("run disque-faults");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "sequential run failed:\n{stdout}");
    assert!(stdout.contains("lost 0 |"));
    let copied: u64 = stdout
        .split("jobs re-replicated: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a re-replication summary");
    assert!(copied > 0, "the kills found nothing to re-replicate");
}
