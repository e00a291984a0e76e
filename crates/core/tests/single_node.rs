//! Single-node behaviour with a fake clock: docs/behaviour-scenarios.md A and B.

mod harness;

use disque_proto::Reply;
use harness::{bulk, err, status, Harness};

fn entry(queue: &str, id: &str, body: &str) -> Reply {
    Reply::Array(vec![bulk(queue), bulk(id), bulk(body)])
}

#[test]
fn s01_add_fetch_ack() {
    let mut h = Harness::new();
    let id = h.add("q", "body", &[]);
    assert_eq!(id.len(), 40);
    assert!(id.starts_with("D-") && id.ends_with("-05a1"));
    assert_eq!(&id[2..10], &h.node.id().as_str()[..8]);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(
        h.call(&["GETJOB", "FROM", "q"]),
        Reply::Array(vec![entry("q", &id, "body")])
    );
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
    assert_eq!(h.int(&["ACKJOB", &id]), 1);
    assert_eq!(h.call(&["SHOW", &id]), Reply::Nil);
    assert_eq!(h.int(&["ACKJOB", &id]), 0);
    assert_eq!(h.node.stats().registered_jobs, 0);
}

#[test]
fn s03_show_defaults() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &[]);
    let Reply::Array(items) = h.call(&["SHOW", &id]) else {
        panic!()
    };
    assert_eq!(items.len(), 30);
    let names: Vec<Reply> = items.iter().step_by(2).cloned().collect();
    let expected = [
        "id",
        "queue",
        "state",
        "repl",
        "ttl",
        "ctime",
        "delay",
        "retry",
        "nacks",
        "additional-deliveries",
        "nodes-delivered",
        "nodes-confirmed",
        "next-requeue-within",
        "next-awake-within",
        "body",
    ];
    assert_eq!(names, expected.iter().map(|n| bulk(n)).collect::<Vec<_>>());
    assert_eq!(h.show_field(&id, "state"), bulk("queued"));
    assert_eq!(h.show_field(&id, "repl"), Reply::Integer(1));
    assert_eq!(h.show_field(&id, "ttl"), Reply::Integer(86400));
    assert_eq!(h.show_field(&id, "retry"), Reply::Integer(300));
    assert_eq!(
        h.show_field(&id, "nodes-delivered"),
        Reply::Array(vec![bulk(h.node.id().as_str())])
    );
    assert_eq!(h.show_field(&id, "nodes-confirmed"), Reply::Array(vec![]));
    let Reply::Integer(requeue) = h.show_field(&id, "next-requeue-within") else {
        panic!()
    };
    assert!((299_750..=300_250).contains(&requeue), "{requeue}");
    let Reply::Integer(awake) = h.show_field(&id, "next-awake-within") else {
        panic!()
    };
    assert_eq!(awake, requeue - 500);
}

#[test]
fn s04_retry_default_from_ttl() {
    let mut h = Harness::new();
    for (ttl, retry) in [
        ("100", 10),
        ("9", 1),
        ("5", 1),
        ("3000", 300),
        ("86400", 300),
    ] {
        let id = h.add("q", "b", &["TTL", ttl]);
        assert_eq!(
            h.show_field(&id, "retry"),
            Reply::Integer(retry),
            "ttl {ttl}"
        );
    }
    let id = h.add("q", "b", &["RETRY", "7"]);
    assert_eq!(h.show_field(&id, "retry"), Reply::Integer(7));
}

#[test]
fn s05_addjob_validation() {
    let mut h = Harness::new();
    let cases: &[(&[&str], &str)] = &[
        (&["REPLICATE", "0"], "ERR REPLICATE must be between 1 and 65535"),
        (&["REPLICATE", "65536"], "ERR REPLICATE must be between 1 and 65535"),
        (&["TTL", "0"], "ERR TTL must be a number > 0"),
        (&["RETRY", "-1"], "ERR RETRY time must be a non negative number"),
        (&["DELAY", "-1"], "ERR DELAY time must be a non negative number"),
        (&["MAXLEN", "0"], "ERR MAXLEN must be a positive number"),
        (&["FOO"], "ERR syntax error"),
        (&["TTL"], "ERR syntax error"),
        (&["REPLICATE", "2", "RETRY", "0"], "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)"),
        (&["DELAY", "10", "TTL", "10"], "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered"),
        (&["DELAY", "86400"], "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered"),
        (&["REPLICATE", "2"], "NOREPL Not enough reachable nodes for the requested replication level"),
    ];
    for (extra, expected) in cases {
        let mut words = vec!["ADDJOB", "q", "b", "0"];
        words.extend_from_slice(extra);
        assert_eq!(h.call(&words), err(expected), "{words:?}");
    }
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "abc"]),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "-5"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        h.call(&["ADDJOB", "q", "b", "abc", "TTL", "0"]),
        err("ERR TTL must be a number > 0")
    );
    assert!(matches!(
        h.call(&["addjob", "q", "b", "0", "ttl", "60", "async"]),
        Reply::Status(_)
    ));
}

#[test]
fn s06_job_id_validation() {
    let mut h = Harness::new();
    let bad = err("BADID Invalid Job ID format.");
    assert_eq!(h.call(&["SHOW", "foo"]), bad);
    assert_eq!(h.call(&["ACKJOB", "foo"]), bad);
    assert_eq!(h.call(&["WORKING", "foo"]), bad);
    assert_eq!(h.call(&["DELJOB", "D-123"]), bad);
    let id = h.add("q", "b", &[]);
    assert_eq!(h.call(&["ACKJOB", &id, "foo"]), bad);
    assert_eq!(h.show_field(&id, "state"), bulk("queued"));
    assert_eq!(
        h.call(&["SHOW", "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001"]),
        Reply::Nil
    );
    assert_eq!(h.int(&["ACKJOB"]), 0);
}

#[test]
fn s07_getjob_forms() {
    let mut h = Harness::new();
    assert_eq!(
        h.call(&["GETJOB", "NOHANG", "FROM", "e1"]),
        Reply::NullArray
    );
    assert_eq!(
        h.call_as(2, &["GETJOB", "TIMEOUT", "200", "FROM", "e2"]),
        None
    );
    h.advance(150);
    assert!(h.deferred.is_empty());
    h.advance(100);
    assert_eq!(h.deferred, vec![(2, Reply::NullArray)]);
    assert_eq!(
        h.call(&["GETJOB", "COUNT", "0", "FROM", "q"]),
        err("ERR COUNT must be a number greater than zero")
    );
    assert_eq!(h.call(&["GETJOB", "FROM"]), err("ERR syntax error"));
    assert_eq!(h.call(&["GETJOB", "q"]), err("ERR syntax error"));
    assert_eq!(
        h.call(&["GETJOB", "TIMEOUT", "-1", "FROM", "q"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        h.call(&["GETJOB", "TIMEOUT", "FROM", "q"]),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        h.call(&["GETJOB", "COUNT", "FROM", "q"]),
        err("ERR COUNT must be a number greater than zero")
    );
    let Reply::Array(stat) = h.call(&["QSTAT", "e1"]) else {
        panic!("queue e1 exists")
    };
    assert_eq!(stat[3], Reply::Integer(0));
}

#[test]
fn s08_count_is_round_robin() {
    let mut h = Harness::new();
    let j: Vec<String> = (1..=3)
        .map(|i| h.add("qa", &format!("j{i}"), &[]))
        .collect();
    let k: Vec<String> = (1..=3)
        .map(|i| h.add("qb", &format!("k{i}"), &[]))
        .collect();
    let expected = Reply::Array(vec![
        entry("qa", &j[0], "j1"),
        entry("qb", &k[0], "k1"),
        entry("qa", &j[1], "j2"),
        entry("qb", &k[1], "k2"),
    ]);
    assert_eq!(
        h.call(&["GETJOB", "COUNT", "4", "FROM", "qa", "qb"]),
        expected
    );
    let expected = Reply::Array(vec![entry("qa", &j[2], "j3"), entry("qb", &k[2], "k3")]);
    assert_eq!(
        h.call(&["GETJOB", "COUNT", "10", "FROM", "qa", "qb"]),
        expected
    );
}

#[test]
fn s09_withcounters() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &[]);
    let expected = Reply::Array(vec![Reply::Array(vec![
        bulk("q"),
        bulk(&id),
        bulk("b"),
        bulk("nacks"),
        Reply::Integer(0),
        bulk("additional-deliveries"),
        Reply::Integer(0),
    ])]);
    assert_eq!(h.call(&["GETJOB", "WITHCOUNTERS", "FROM", "q"]), expected);
}

#[test]
fn s10_s11_s12_blocking() {
    let mut h = Harness::new();
    assert_eq!(
        h.call_as(10, &["GETJOB", "COUNT", "10", "FROM", "bq"]),
        None
    );
    assert_eq!(h.node.stats().blocked_clients, 1);
    let Reply::Array(stat) = h.call(&["QSTAT", "bq"]) else {
        panic!()
    };
    assert_eq!(stat[9], Reply::Integer(1));
    let id1 = h.add("bq", "j1", &[]);
    h.add("bq", "j2", &[]);
    assert_eq!(
        h.deferred,
        vec![(10, Reply::Array(vec![entry("bq", &id1, "j1")]))]
    );
    assert_eq!(h.int(&["QLEN", "bq"]), 1);

    h.deferred.clear();
    assert_eq!(h.call_as(20, &["GETJOB", "FROM", "fq"]), None);
    assert_eq!(h.call_as(21, &["GETJOB", "FROM", "fq"]), None);
    h.add("fq", "x", &[]);
    assert_eq!(h.deferred.iter().map(|d| d.0).collect::<Vec<_>>(), vec![20]);
    h.add("fq", "y", &[]);
    assert_eq!(
        h.deferred.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![20, 21]
    );

    h.deferred.clear();
    assert_eq!(h.call_as(30, &["GETJOB", "FROM", "m1", "m2"]), None);
    let id = h.add("m2", "x", &[]);
    assert_eq!(
        h.deferred,
        vec![(30, Reply::Array(vec![entry("m2", &id, "x")]))]
    );
    assert_eq!(h.node.stats().blocked_clients, 0);
}

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
fn s13_ordering_and_qpeek() {
    let mut h = Harness::new();
    let a = h.add("oq", "a", &["RETRY", "1"]);
    let b = h.add("oq", "b", &[]);
    let c = h.add("oq", "c", &[]);
    assert_eq!(
        h.call(&["QPEEK", "oq", "3"]),
        Reply::Array(vec![
            entry("oq", &a, "a"),
            entry("oq", &b, "b"),
            entry("oq", &c, "c")
        ])
    );
    assert_eq!(
        h.call(&["QPEEK", "oq", "-2"]),
        Reply::Array(vec![entry("oq", &c, "c"), entry("oq", &b, "b")])
    );
    assert_eq!(h.call(&["QPEEK", "oq", "0"]), Reply::Array(vec![]));
    assert_eq!(h.call(&["QPEEK", "nosuch", "5"]), Reply::Array(vec![]));
    assert_eq!(
        h.call(&["QPEEK", "oq", "x"]),
        err("ERR value is not an integer or out of range")
    );
    h.call(&["GETJOB", "FROM", "oq"]);
    let d = h.add("oq", "d", &[]);
    h.advance(1300);
    assert_eq!(
        h.call(&["QPEEK", "oq", "10"]),
        Reply::Array(vec![
            entry("oq", &a, "a"),
            entry("oq", &b, "b"),
            entry("oq", &c, "c"),
            entry("oq", &d, "d")
        ])
    );
}

#[test]
fn s14_qstat() {
    let mut h = Harness::new();
    for _ in 0..3 {
        h.add("sq", "x", &[]);
    }
    h.call(&["GETJOB", "FROM", "sq"]);
    let expected = Reply::Array(vec![
        bulk("name"),
        bulk("sq"),
        bulk("len"),
        Reply::Integer(2),
        bulk("age"),
        Reply::Integer(0),
        bulk("idle"),
        Reply::Integer(0),
        bulk("blocked"),
        Reply::Integer(0),
        bulk("import-from"),
        Reply::Array(vec![]),
        bulk("import-rate"),
        Reply::Integer(0),
        bulk("jobs-in"),
        Reply::Integer(3),
        bulk("jobs-out"),
        Reply::Integer(1),
        bulk("pause"),
        bulk("none"),
    ]);
    assert_eq!(h.call(&["QSTAT", "sq"]), expected);
    assert_eq!(h.call(&["QSTAT", "nosuch"]), Reply::NullArray);
}

#[test]
fn s15_ack_variants() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &[]);
    assert_eq!(
        h.int(&["FASTACK", &id, "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001"]),
        1
    );
    assert_eq!(h.call(&["SHOW", &id]), Reply::Nil);
    let id = h.add("q", "b", &[]);
    assert_eq!(h.int(&["DELJOB", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.int(&["DELJOB", &id]), 0);
    let id = h.add("q", "b", &[]);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(h.int(&["ACKJOB", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    for cmd in ["ACKJOB", "NACK", "FASTACK", "DELJOB"] {
        assert_eq!(h.int(&[cmd]), 0);
    }
}

#[test]
fn s16_nack() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &[]);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["NACK", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(h.show_field(&id, "nacks"), Reply::Integer(1));
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(0)
    );
    assert_eq!(h.int(&["NACK", &id]), 0);
}

#[test]
fn s17_enqueue_dequeue() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &[]);
    assert_eq!(h.int(&["DEQUEUE", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
    assert_eq!(h.int(&["DEQUEUE", &id]), 0);
    assert_eq!(h.int(&["ENQUEUE", &id]), 1);
    assert_eq!(h.int(&["QLEN", "q"]), 1);
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(1)
    );
    assert_eq!(h.int(&["ENQUEUE", &id]), 0);
}

#[test]
fn s18_at_most_once() {
    let mut h = Harness::new();
    let id = h.add("q", "b", &["RETRY", "0"]);
    assert_eq!(h.show_field(&id, "retry"), Reply::Integer(0));
    assert_eq!(h.show_field(&id, "state"), bulk("queued"));
    assert_eq!(h.show_field(&id, "next-requeue-within"), Reply::Nil);
    h.call(&["GETJOB", "FROM", "q"]);
    assert_eq!(h.int(&["ENQUEUE", &id]), 0);
    assert_eq!(h.int(&["NACK", &id]), 0);
    h.advance(3000);
    assert_eq!(h.int(&["QLEN", "q"]), 0);
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
}

#[test]
fn s19_maxlen() {
    let mut h = Harness::new();
    h.add("mq", "b", &["MAXLEN", "2"]);
    h.add("mq", "b", &["MAXLEN", "2"]);
    assert_eq!(
        h.call(&["ADDJOB", "mq", "b", "0", "MAXLEN", "2"]),
        err("MAXLEN Queue is already longer than the specified MAXLEN count")
    );
}

#[test]
fn s20_pause() {
    let mut h = Harness::new();
    assert_eq!(h.call(&["PAUSE", "pq", "in"]), status("in"));
    assert_eq!(
        h.call(&["ADDJOB", "pq", "b", "0"]),
        err("PAUSED Queue paused in input, try later")
    );
    let Reply::Array(stat) = h.call(&["QSTAT", "pq"]) else {
        panic!()
    };
    assert_eq!(stat[19], bulk("in"));
    assert_eq!(h.call(&["PAUSE", "pq", "none"]), status("none"));
    h.add("pq", "b", &[]);

    let id = h.add("po", "b", &[]);
    assert_eq!(h.call(&["PAUSE", "po", "out"]), status("out"));
    assert_eq!(
        h.call(&["GETJOB", "NOHANG", "FROM", "po"]),
        Reply::NullArray
    );
    assert_eq!(h.call_as(9, &["GETJOB", "FROM", "po"]), None);
    assert_eq!(h.call(&["PAUSE", "po", "none"]), status("none"));
    assert_eq!(
        h.deferred,
        vec![(9, Reply::Array(vec![entry("po", &id, "b")]))]
    );

    assert_eq!(h.call(&["PAUSE", "pz", "state"]), status("none"));
    assert_eq!(h.call(&["QSTAT", "pz"]), Reply::NullArray);
    assert_eq!(h.call(&["PAUSE", "pw", "in", "out"]), status("all"));
    assert_eq!(h.call(&["PAUSE", "pw", "in", "none"]), status("none"));
    assert_eq!(h.call(&["PAUSE", "pw", "none", "in"]), status("in"));
    assert_eq!(h.call(&["PAUSE", "pw", "state"]), status("in"));
    assert_eq!(h.call(&["PAUSE", "pw", "bogus"]), err("ERR syntax error"));
    assert_eq!(h.call(&["PAUSE", "pw", "state"]), status("in"));

    // Input pause does not stop ENQUEUE / NACK of an active job.
    let id = h.add("pe", "b", &[]);
    h.call(&["GETJOB", "FROM", "pe"]);
    h.call(&["PAUSE", "pe", "in"]);
    assert_eq!(h.int(&["NACK", &id]), 1);
}

#[test]
fn s21_jscan_and_qscan() {
    let mut h = Harness::new();
    for _ in 0..3 {
        h.add("j1", "x", &[]);
    }
    for _ in 0..2 {
        h.add("j2", "x", &[]);
    }
    h.call(&["GETJOB", "FROM", "j2"]);
    let count = |r: Reply| match r {
        Reply::Array(v) => match &v[1] {
            Reply::Array(items) => (v[0].clone(), items.len()),
            _ => panic!(),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(
        count(h.call(&["JSCAN", "BUSYLOOP", "QUEUE", "j1"])),
        (bulk("0"), 3)
    );
    assert_eq!(
        count(h.call(&["JSCAN", "BUSYLOOP", "STATE", "queued"])).1,
        4
    );
    assert_eq!(
        count(h.call(&["JSCAN", "BUSYLOOP", "STATE", "active"])).1,
        1
    );
    assert_eq!(
        count(h.call(&["JSCAN", "BUSYLOOP", "STATE", "queued", "STATE", "active"])).1,
        5
    );
    let Reply::Array(v) = h.call(&["JSCAN", "BUSYLOOP", "REPLY", "all", "QUEUE", "j2"]) else {
        panic!()
    };
    let Reply::Array(items) = &v[1] else { panic!() };
    assert!(items
        .iter()
        .all(|i| matches!(i, Reply::Array(f) if f.len() == 30)));
    assert_eq!(
        h.call(&["JSCAN", "STATE", "bogus"]),
        err("ERR Invalid job state name")
    );
    assert_eq!(
        h.call(&["JSCAN", "REPLY", "foo"]),
        err("ERR Invalid REPLY type, try ID or ALL")
    );
    assert_eq!(
        h.call(&["JSCAN", "abc"]),
        err("ERR invalid cursor or option name")
    );
    assert_eq!(h.call(&["JSCAN", "0", "0"]), err("ERR syntax error"));
    assert_eq!(
        h.call(&["JSCAN", "STATE"]),
        err("ERR invalid cursor or option name")
    );
    assert_eq!(
        h.call(&["JSCAN", "COUNT"]),
        err("ERR invalid cursor or option name")
    );
    assert_eq!(
        h.call(&["QSCAN", "MINLEN"]),
        err("ERR invalid cursor or option name")
    );
    assert_eq!(
        h.call(&["JSCAN", "COUNT", "abc"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        h.call(&["QSCAN", "COUNT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(count(h.call(&["JSCAN", "-1"])).0, bulk("0"));
    assert_eq!(count(h.call(&["JSCAN", "COUNT", "-1"])), (bulk("0"), 5));
    let (cursor, n) = count(h.call(&["JSCAN", "COUNT", "0"]));
    assert_eq!(n, 1);
    assert_ne!(cursor, bulk("0"));
    // COUNT 1 from cursor 0 until the cursor comes back to 0 sees every job.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let Reply::Array(v) = h.call(&["JSCAN", &cursor, "COUNT", "1"]) else {
            panic!()
        };
        let (Reply::Bulk(c), Reply::Array(items)) = (&v[0], &v[1]) else {
            panic!()
        };
        for item in items {
            seen.insert(format!("{item:?}"));
        }
        cursor = String::from_utf8(c.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(count(h.call(&["QSCAN", "BUSYLOOP"])).1, 2);
    let Reply::Array(v) = h.call(&["QSCAN", "BUSYLOOP", "MINLEN", "3"]) else {
        panic!()
    };
    assert_eq!(v[1], Reply::Array(vec![bulk("j1")]));
    let Reply::Array(v) = h.call(&["QSCAN", "BUSYLOOP", "MAXLEN", "1"]) else {
        panic!()
    };
    assert_eq!(v[1], Reply::Array(vec![bulk("j2")]));
}

#[test]
fn s22_hello() {
    let mut h = Harness::new();
    let me = bulk(h.node.id().as_str());
    assert_eq!(
        h.call(&["HELLO"]),
        Reply::Array(vec![
            Reply::Integer(1),
            me.clone(),
            Reply::Array(vec![me, bulk(""), bulk("7711"), bulk("1")])
        ])
    );
}

#[test]
fn s24_flushall_unblocks() {
    let mut h = Harness::new();
    h.add("a", "x", &[]);
    h.add("b", "x", &[]);
    assert_eq!(h.call_as(3, &["GETJOB", "FROM", "c"]), None);
    let env = h.env();
    let mut fx = disque_core::Effects::default();
    h.node.flush_all(&env, true, &mut fx);
    assert_eq!(fx.replies, vec![(3, Reply::NullArray)]);
    assert_eq!(h.node.stats().registered_jobs, 0);
    assert_eq!(h.node.stats().registered_queues, 0);
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
fn s30_requeue_after_retry() {
    let mut h = Harness::new();
    let id = h.add("rq", "b", &["RETRY", "1"]);
    h.call(&["GETJOB", "FROM", "rq"]);
    assert_eq!(h.int(&["QLEN", "rq"]), 0);
    h.advance(1300);
    assert_eq!(h.int(&["QLEN", "rq"]), 1);
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(1)
    );
}

#[test]
fn s31_retry_counts_from_queue_time() {
    let mut h = Harness::new();
    h.add("rt", "b", &["RETRY", "3"]);
    h.advance(2000);
    h.call(&["GETJOB", "FROM", "rt"]);
    h.advance(700);
    assert_eq!(h.int(&["QLEN", "rt"]), 0);
    h.advance(600);
    assert_eq!(
        h.int(&["QLEN", "rt"]),
        1,
        "requeued ~3 s after ADDJOB, not after GETJOB"
    );
}

#[test]
fn s32_ttl_expiry() {
    let mut h = Harness::new();
    let id = h.add("tq", "b", &["TTL", "1"]);
    h.advance(2100);
    assert_eq!(h.call(&["SHOW", &id]), Reply::Nil);
    assert_eq!(h.int(&["QLEN", "tq"]), 0);
    assert_eq!(h.node.stats().registered_jobs, 0);
}

#[test]
fn s33_delay() {
    let mut h = Harness::new();
    let id = h.add("dq", "b", &["DELAY", "2"]);
    assert_eq!(h.int(&["QLEN", "dq"]), 0);
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
    assert_eq!(
        h.show_field(&id, "next-requeue-within"),
        Reply::Integer(2000)
    );
    h.advance(1900);
    assert_eq!(h.int(&["QLEN", "dq"]), 0);
    h.advance(200);
    assert_eq!(h.int(&["QLEN", "dq"]), 1);
    assert_eq!(
        h.show_field(&id, "additional-deliveries"),
        Reply::Integer(0)
    );
}

#[test]
fn s34_working() {
    let mut h = Harness::new();
    let id = h.add("wq", "b", &["RETRY", "5"]);
    assert_eq!(h.int(&["WORKING", &id]), 5);
    assert_eq!(h.int(&["QLEN", "wq"]), 0);
    assert_eq!(h.show_field(&id, "state"), bulk("active"));
    let Reply::Integer(within) = h.show_field(&id, "next-requeue-within") else {
        panic!()
    };
    assert!((4750..=5250).contains(&within));
    h.advance(4000);
    assert_eq!(h.int(&["WORKING", &id]), 5);
    h.advance(4000);
    assert_eq!(h.int(&["QLEN", "wq"]), 0, "postponed again");
    h.advance(1500);
    assert_eq!(h.int(&["QLEN", "wq"]), 1);
    assert_eq!(
        h.call(&["WORKING", "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001"]),
        err("NOJOB Job not known in the context of this node.")
    );
}

#[test]
fn s35_working_after_half_ttl() {
    let mut h = Harness::new();
    let id = h.add("tw", "b", &["TTL", "2", "RETRY", "1"]);
    assert_eq!(h.int(&["WORKING", &id]), 1);
    h.advance(1100);
    assert_eq!(
        h.call(&["WORKING", &id]),
        err("TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.")
    );
}

#[test]
fn u06_at_most_once_lingers_until_ttl() {
    let mut h = Harness::new();
    let id = h.add("u6", "b", &["RETRY", "0", "TTL", "10"]);
    h.call(&["GETJOB", "FROM", "u6"]);
    h.advance(5000);
    assert_eq!(h.int(&["QLEN", "u6"]), 0);
    assert_eq!(h.node.stats().registered_jobs, 1);
    h.advance(6100);
    assert_eq!(h.call(&["SHOW", &id]), Reply::Nil);
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

#[test]
fn huge_ttl_and_values_do_not_overflow() {
    let mut h = Harness::new();
    let id = h.add(
        "q",
        "b",
        &["TTL", "9223372036854775807", "RETRY", "4294967296000"],
    );
    assert_eq!(h.int(&["WORKING", &id]), u32::MAX as i64);
    h.advance(100);
    assert!(matches!(h.show_field(&id, "ttl"), Reply::Integer(t) if t > 0));
    assert_eq!(
        h.call(&["QPEEK", "q", "-9223372036854775808"]).clone(),
        h.call(&["QPEEK", "q", "-1"])
    );
}
