//! Single-node behaviour only the core can show, with a fake clock: a
//! client gone while blocked, D10 eviction, idle queues evicted after 300 s,
//! the AOF bytes. The scenarios of docs/behaviour-scenarios.md A and B run
//! on the core and on processes: `scenarios.rs` (disque_testkit::scenarios).

mod harness;

use harness::Harness;

#[test]
fn blocked_client_gone_is_forgotten() {
    let mut h = Harness::new();
    assert_eq!(h.call_as(5, &["GETJOB", "FROM", "gq"]), None);
    let env = h.env();
    let mut fx = disque_core::Effects::default();
    h.node.client_gone(&env, 5, &mut fx);
    h.add("gq", "x", &[]);
    assert!(fx.replies.is_empty() && h.deferred.is_empty());
    assert_eq!(h.int(&["QLEN", "gq"]), 1);
}

#[test]
fn s25_out_of_memory_and_d10_eviction() {
    let mut h = Harness::new();
    h.node.config_mut().maxmemory = 1;
    let env = h.env();
    let mut fx = disque_core::Effects::default();
    assert!(
        !h.node.evict_for_memory(&env, &mut fx),
        "nothing to evict: -OOM"
    );
    // D10: delivered at-most-once jobs are all evictable, not one per command.
    h.node.config_mut().maxmemory = 1 << 30;
    for _ in 0..50 {
        h.add("ev", "x", &["RETRY", "0"]);
    }
    h.call(&["GETJOB", "COUNT", "50", "FROM", "ev"]);
    h.node.config_mut().maxmemory = 1000;
    h.used_memory = 950 + 50 * 100;
    let env = h.env();
    assert!(h.node.evict_for_memory(&env, &mut fx));
    assert!(h.node.stats().registered_jobs < 50);
}

#[test]
fn idle_queues_are_evicted_after_300s() {
    let mut h = Harness::new();
    h.call(&["GETJOB", "NOHANG", "FROM", "idle"]);
    assert_eq!(h.node.stats().registered_queues, 1);
    h.advance(299_000);
    assert_eq!(h.node.stats().registered_queues, 1);
    h.advance(2_000);
    assert_eq!(h.node.stats().registered_queues, 0);
}

#[test]
fn aof_records_creation_and_deletion() {
    let mut h = Harness::with_config(disque_core::NodeConfig {
        aof_logging: true,
        ..Default::default()
    });
    let id = h.add("q", "b", &[]);
    assert!(h.aof.starts_with(b"*2\r\n$7\r\nLOADJOB\r\n$"));
    h.aof.clear();
    h.call(&["ACKJOB", &id]);
    assert_eq!(
        h.aof,
        format!("*2\r\n$6\r\nDELJOB\r\n$40\r\n{id}\r\n").into_bytes()
    );
}
