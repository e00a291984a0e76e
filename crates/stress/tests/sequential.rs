//! A short sequential-failure run against real processes (`disque-faults
//! --mode sequential`): five nodes, every job REPLICATE 3, three nodes killed
//! (-9) one after another without restart, each kill after the survivors
//! re-replicated what the previous one took away. No acknowledged job may be
//! lost, though the copies live only in memory (no AOF).

mod common;

#[test]
fn sequential_kills_without_restart_lose_no_acknowledged_job() {
    let stdout = common::run_faults(&[
        "--mode",
        "sequential",
        "--seconds",
        "4",
        "--seed",
        "5",
        "--fsync",
        "off",
    ]);
    let copied: u64 = stdout
        .split("jobs re-replicated: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a re-replication summary");
    assert!(copied > 0, "the kills found nothing to re-replicate");
}
