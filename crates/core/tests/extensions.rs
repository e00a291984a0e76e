//! Decisions D16 (NACK DELAY), D17 (DEADLETTER) and D18 (PRIORITY) on one
//! node with a fake clock; their cluster rules are in crates/sim/tests/rules.

mod harness;

use bytes::Bytes;
use disque_core::{Effects, LoadMode, NodeConfig};
use disque_proto::Reply;
use harness::{bulk, err, Harness};

/// The ids of a GETJOB/QPEEK reply, in order.
fn ids_of(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Array(entries) => entries
            .into_iter()
            .map(|e| match e {
                Reply::Array(parts) => match &parts[1] {
                    Reply::Bulk(id) => String::from_utf8(id.to_vec()).unwrap(),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            })
            .collect(),
        Reply::NullArray => Vec::new(),
        other => panic!("{other:?}"),
    }
}

/// The field names of a SHOW reply.
fn show_names(h: &mut Harness, id: &str) -> Vec<Reply> {
    let Reply::Array(items) = h.call(&["SHOW", id]) else {
        panic!("no job")
    };
    items.iter().step_by(2).cloned().collect()
}

// ----- D18: PRIORITY ----------------------------------------------------------

#[test]
fn priority_orders_delivery_then_creation_time() {
    let mut h = Harness::new();
    let low = h.add("q", "low", &["PRIORITY", "1"]);
    let d1 = h.add("q", "d1", &[]);
    let high1 = h.add("q", "h1", &["PRIORITY", "9"]);
    let d2 = h.add("q", "d2", &["PRIORITY", "5"]);
    let high2 = h.add("q", "h2", &["PRIORITY", "9"]);
    let mid = h.add("q", "m", &["PRIORITY", "7"]);
    let order = vec![high1, high2, mid, d1, d2, low];
    assert_eq!(ids_of(h.call(&["QPEEK", "q", "10"])), order);
    let mut reversed = order.clone();
    reversed.reverse();
    assert_eq!(ids_of(h.call(&["QPEEK", "q", "-10"])), reversed);
    assert_eq!(ids_of(h.call(&["QPEEK", "q", "2"])), order[..2]);
    assert_eq!(h.int(&["QLEN", "q"]), 6);
    assert_eq!(
        ids_of(h.call(&["GETJOB", "COUNT", "10", "FROM", "q"])),
        order
    );
    h.node.check_invariants();
}

#[test]
fn getjob_over_several_queues_keeps_queue_order_and_priority_within_each() {
    let mut h = Harness::new();
    let a_low = h.add("a", "x", &["PRIORITY", "0"]);
    let a_high = h.add("a", "x", &["PRIORITY", "8"]);
    let b_def = h.add("b", "x", &[]);
    let b_high = h.add("b", "x", &["PRIORITY", "6"]);
    assert_eq!(
        ids_of(h.call(&["GETJOB", "COUNT", "4", "FROM", "a", "b"])),
        vec![a_high, b_high, a_low, b_def]
    );
}

#[test]
fn a_requeued_job_keeps_its_priority() {
    let mut h = Harness::new();
    let high = h.add("q", "x", &["PRIORITY", "9", "RETRY", "1"]);
    h.call(&["GETJOB", "FROM", "q"]);
    let plain = h.add("q", "x", &[]);
    h.advance(1300);
    assert_eq!(ids_of(h.call(&["QPEEK", "q", "5"])), vec![high, plain]);
    h.node.check_invariants();
}

#[test]
fn show_lists_priority_only_when_not_default() {
    let mut h = Harness::new();
    let plain = h.add("q", "x", &["PRIORITY", "5"]);
    assert_eq!(show_names(&mut h, &plain).len(), 15);
    let high = h.add("q", "x", &["PRIORITY", "0"]);
    let names = show_names(&mut h, &high);
    assert_eq!(names.len(), 16);
    assert_eq!(names[15], bulk("priority"));
    assert_eq!(h.show_field(&high, "priority"), Reply::Integer(0));
}

#[test]
fn priority_errors() {
    let mut h = Harness::new();
    for bad in ["10", "-1", "x", "99999999999999999999"] {
        assert_eq!(
            h.call(&["ADDJOB", "q", "b", "0", "PRIORITY", bad]),
            err("ERR PRIORITY must be between 0 and 9")
        );
    }
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "0", "PRIORITY"]),
        err("ERR syntax error")
    );
}

// ----- D17: DEADLETTER ----------------------------------------------------------

#[test]
fn a_poison_job_moves_to_its_dead_letter_queue_after_max_deliveries() {
    let mut h = Harness::new();
    let id = h.add("q", "poison", &["RETRY", "1", "DEADLETTER", "dlq", "2"]);
    assert_eq!(ids_of(h.call(&["GETJOB", "FROM", "q"])), vec![id.clone()]);
    h.advance(1300);
    assert_eq!(h.int(&["QLEN", "q"]), 1, "delivered once: requeued");
    assert_eq!(ids_of(h.call(&["GETJOB", "FROM", "q"])), vec![id.clone()]);
    h.advance(1300);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.int(&["QLEN", "dlq"]), 1, "delivered twice: dead-lettered");
    assert_eq!(h.show_field(&id, "queue"), bulk("dlq"));
    assert_eq!(h.show_field(&id, "state"), bulk("queued"));
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(2),
        "counters kept, the move counted as a requeue"
    );
    assert_eq!(show_names(&mut h, &id).len(), 15, "DEADLETTER cleared");
    let got = h.call(&["GETJOB", "WITHCOUNTERS", "FROM", "dlq"]);
    let Reply::Array(entries) = got else { panic!() };
    let Reply::Array(entry) = &entries[0] else {
        panic!()
    };
    assert_eq!(entry[0], bulk("dlq"));
    assert_eq!(entry[2], bulk("poison"));
    h.advance(1300);
    assert_eq!(h.int(&["QLEN", "dlq"]), 1, "no loop: requeued in place");
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    h.node.check_invariants();
}

#[test]
fn nack_counts_towards_max_deliveries() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["DEADLETTER", "dlq", "2"]);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.int(&["QLEN", "dlq"]), 1);
    assert_eq!(h.show_field(&id, "nacks"), Reply::Integer(2));
    let Reply::Array(scan) = h.call(&["JSCAN", "QUEUE", "dlq"]) else {
        panic!()
    };
    assert_eq!(scan[1], Reply::Array(vec![harness::status(&id)]));
    let Reply::Array(stat) = h.call(&["QSTAT", "dlq"]) else {
        panic!()
    };
    assert_eq!(stat[3], Reply::Integer(1));
    h.node.check_invariants();
}

#[test]
fn show_and_jscan_list_the_dead_letter_fields_after_body_then_priority() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["DEADLETTER", "dlq", "3", "PRIORITY", "8"]);
    let names = show_names(&mut h, &id);
    assert_eq!(
        names[14..],
        [
            bulk("body"),
            bulk("dead-letter-queue"),
            bulk("max-deliveries"),
            bulk("priority")
        ]
    );
    assert_eq!(h.show_field(&id, "dead-letter-queue"), bulk("dlq"));
    assert_eq!(h.show_field(&id, "max-deliveries"), Reply::Integer(3));
    let Reply::Array(scan) = h.call(&["JSCAN", "REPLY", "ALL"]) else {
        panic!()
    };
    let Reply::Array(items) = &scan[1] else {
        panic!()
    };
    assert_eq!(items[0], h.call(&["SHOW", &id]));
}

#[test]
fn dead_letter_errors() {
    let mut h = Harness::new();
    for bad in ["-1", "0", "x"] {
        assert_eq!(
            h.call(&["ADDJOB", "q", "b", "0", "DEADLETTER", "dlq", bad]),
            err("ERR DEADLETTER max-deliveries must be a positive number")
        );
    }
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "0", "DEADLETTER", "q", "3"]),
        err("ERR DEADLETTER queue must be different from the job queue")
    );
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "0", "DEADLETTER", "dlq"]),
        err("ERR syntax error")
    );
    assert_eq!(h.node.stats().registered_jobs, 0);
}

// ----- D16: NACK DELAY ----------------------------------------------------------

#[test]
fn nack_delay_counts_at_once_and_requeues_only_after_the_delay() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["RETRY", "60"]);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", "DELAY", "5", &id]), 1);
    assert_eq!(h.show_field(&id, "nacks"), Reply::Integer(1));
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
    assert_eq!(
        h.show_field(&id, "next-requeue-within"),
        Reply::Integer(5000)
    );
    h.advance(4990);
    assert_eq!(h.int(&["QLEN", "q"]), 0, "not before the delay");
    assert_eq!(h.call(&["GETJOB", "NOHANG", "FROM", "q"]), Reply::NullArray);
    h.advance(20);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(
        h.show_field(&id, "nacks"),
        Reply::Integer(1),
        "counted once"
    );
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(0)
    );
    h.node.check_invariants();
}

#[test]
fn nack_delay_zero_is_a_plain_nack_and_only_active_jobs_count() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &[]);
    assert_eq!(
        h.int(&["NACK", "DELAY", "5", &id]),
        0,
        "queued: not counted"
    );
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", "delay", "0", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(h.show_field(&id, "nacks"), Reply::Integer(1));
    let unknown = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-05a1";
    assert_eq!(h.int(&["NACK", "DELAY", "5", unknown]), 0);
    assert_eq!(h.int(&["NACK", "DELAY", "5"]), 0, "no ids");
}

#[test]
fn working_does_not_shorten_a_nack_delay() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["RETRY", "2"]);
    h.call(&["GETJOB", "FROM", "q"]);
    h.int(&["NACK", "DELAY", "10", &id]);
    assert_eq!(h.int(&["WORKING", &id]), 2);
    h.advance(5000);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    h.advance(5100);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
}

#[test]
fn a_nack_delay_past_the_ttl_lets_the_job_expire() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["TTL", "3", "RETRY", "1"]);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", "DELAY", "100", &id]), 1);
    h.advance(4500);
    assert_eq!(h.call(&["SHOW", &id]), Reply::Nil);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
}

#[test]
fn nack_delay_then_dead_letter_at_the_end_of_the_delay() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &["RETRY", "60", "DEADLETTER", "dlq", "1"]);
    h.call(&["GETJOB", "FROM", "q"]);
    h.int(&["NACK", "DELAY", "2", &id]);
    assert_eq!(
        h.show_field(&id, "queue"),
        bulk("q"),
        "moves at the requeue"
    );
    h.advance(2100);
    assert_eq!(h.int(&["QLEN", "dlq"]), 1);
    assert_eq!(h.show_field(&id, "nacks"), Reply::Integer(1));
}

#[test]
fn nack_delay_errors() {
    let mut h = Harness::new();
    let id = h.add("q", "x", &[]);
    for bad in ["abc", "-1", "1.5"] {
        assert_eq!(
            h.call(&["NACK", "DELAY", bad, &id]),
            err("ERR DELAY time must be a non negative number")
        );
    }
    assert_eq!(
        h.call(&["NACK", "DELAY", "5", "bad-id"]),
        err("BADID Invalid Job ID format.")
    );
    assert_eq!(
        h.call(&["NACK", "DELAY"]),
        err("BADID Invalid Job ID format."),
        "DELAY without a value is taken as an id, as the original would"
    );
}

// ----- persistence --------------------------------------------------------------

/// Replays AOF bytes (LOADJOB and DELJOB records) into a fresh node with the
/// same id, as a restart does.
fn restart_from_aof(from: &Harness) -> Harness {
    let mut to = from.restarted();
    let env = to.env();
    let mut parser = disque_proto::RequestParser::new();
    let mut buf = bytes::BytesMut::from(&from.aof[..]);
    while let Ok(Some(args)) = parser.parse(&mut buf) {
        let args: Vec<Bytes> = args;
        if args[0].eq_ignore_ascii_case(b"LOADJOB") {
            to.node
                .load_job(&env, &args[1], LoadMode::Normal, &mut Effects::default())
                .expect("a valid record");
        } else {
            let id = disque_core::ids::JobId::parse(&args[1]).unwrap();
            to.node.load_deljob(&id);
        }
    }
    to
}

fn aof_config() -> NodeConfig {
    NodeConfig {
        aof_logging: true,
        ..NodeConfig::default()
    }
}

#[test]
fn the_options_and_a_nack_delay_survive_a_restart() {
    let mut h = Harness::with_config(aof_config());
    let id = h.add(
        "q",
        "x",
        &["RETRY", "1", "PRIORITY", "2", "DEADLETTER", "dlq", "4"],
    );
    h.call(&["GETJOB", "FROM", "q"]);
    h.int(&["NACK", "DELAY", "30", &id]);
    let mut r = restart_from_aof(&h);
    assert_eq!(r.show_field(&id, "priority"), Reply::Integer(2));
    assert_eq!(r.show_field(&id, "dead-letter-queue"), bulk("dlq"));
    assert_eq!(r.show_field(&id, "nacks"), Reply::Integer(1));
    r.advance(29_000);
    assert_eq!(r.int(&["QLEN", "q"]), 0, "the delay holds after a restart");
    r.advance(2_500);
    assert_eq!(r.int(&["QLEN", "q"]), 1);
    r.node.check_invariants();
}

#[test]
fn a_dead_letter_move_is_logged_and_survives_a_restart_and_a_rewrite() {
    let mut h = Harness::with_config(aof_config());
    let id = h.add("q", "x", &["RETRY", "1", "DEADLETTER", "dlq", "1"]);
    h.call(&["GETJOB", "FROM", "q"]);
    h.advance(1300);
    assert_eq!(h.int(&["QLEN", "dlq"]), 1);
    let mut r = restart_from_aof(&h);
    assert_eq!(r.show_field(&id, "queue"), bulk("dlq"));
    assert_eq!(show_names(&mut r, &id).len(), 15, "no DEADLETTER any more");
    let mut snapshot = bytes::BytesMut::new();
    h.node.aof_snapshot(&mut snapshot);
    let mut rewritten = Harness::with_config(aof_config());
    rewritten.aof = snapshot.to_vec();
    rewritten.now_ms = h.now_ms;
    let mut r = restart_from_aof(&rewritten);
    assert_eq!(r.show_field(&id, "queue"), bulk("dlq"));
}

#[test]
fn without_the_options_the_aof_is_the_original_records() {
    let mut h = Harness::with_config(aof_config());
    let id = h.add("q", "x", &["PRIORITY", "5"]);
    h.call(&["GETJOB", "FROM", "q"]);
    h.int(&["NACK", &id]);
    // One LOADJOB whose payload ends with its single node id: no extension.
    let text = h.aof.clone();
    assert_eq!(
        text.windows(7).filter(|w| w == b"LOADJOB").count(),
        1,
        "a plain NACK logs nothing"
    );
    let node = h.node.id();
    let tail = &text[text.len() - 42..text.len() - 2];
    assert_eq!(tail, node.as_bytes());
}
