//! docs/behaviour-scenarios.md sections A and B (S-01 … S-35) and U-06,
//! written once against [`Layer`] and run on the core state machine with a
//! fake clock (`crates/core/tests/scenarios.rs`) and on a real
//! `disque-server` (`crates/server/tests/e2e/scenarios.rs`), each through
//! [`scenario_tests!`](crate::scenario_tests).
//!
//! What only one layer can show stays there: S-23 (INFO, PING, COMMAND,
//! QUIT), S-25's OOM reply (CONFIG SET), S-26 (AUTH) and S-36 (two nodes)
//! are shell behaviour, checked on processes; idle queue eviction after
//! 300 s, the AOF bytes, a client gone while blocked and D10 eviction read
//! the core's internals, checked on the core. Within a scenario the shell's
//! own rules (arity errors, INFO) are checked when [`Layer::SHELL`].

use disque_client::Reply;

use crate::layer::{assert_took, Layer};
use crate::reply::{arr, bulk, error, int, integer, items, job_entry, status, text};
use crate::{eventually, holds_for};

/// A valid job id that no node knows.
const UNKNOWN_ID: &str = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001";

/// Generates one test per scenario. `$run` is a function that takes a
/// scenario (an `async fn(&mut L)`) and runs it on a fresh layer.
#[macro_export]
macro_rules! scenario_tests {
    ($run:path) => {
        $crate::scenario_tests!(@each $run;
            s01_add_fetch_ack, s02_id_ttl_field, s03_show_defaults,
            s04_retry_default_from_ttl, s05_addjob_validation,
            s06_job_id_validation, s07_getjob_forms, s08_count_is_round_robin,
            s09_withcounters, s10_blocking_getjob_served_with_one_job,
            s11_blocked_clients_served_fifo, s12_multi_queue_blocking,
            s13_ordering_and_qpeek, s14_qstat, s15_ack_variants, s16_nack,
            s17_enqueue_dequeue, s18_at_most_once, s19_maxlen, s20_pause,
            s21_jscan_and_qscan, s22_hello, s24_flushall_unblocks,
            s30_requeue_after_retry, s31_retry_counts_from_queue_time,
            s32_ttl_expiry, s33_delay, s34_working, s35_working_after_half_ttl,
            u06_ttl_and_retry_defaults, huge_ttl_and_values_do_not_overflow);
    };
    (@each $run:path; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $run($crate::scenarios::$name);
            }
        )*
    };
}

/// Milliseconds since `t` on the layer's clock, rounded up to the server's
/// whole milliseconds on a process.
fn since<L: Layer>(l: &L, t: u64) -> u64 {
    l.now_ms() - t + u64::from(L::SHELL)
}

/// S-01: ADDJOB, GETJOB, ACKJOB; the id's shape.
pub async fn s01_add_fetch_ack<L: Layer>(l: &mut L) {
    let me = l.my_id().await;
    assert_eq!(me.len(), 40);
    let id = l.add("q body 0").await;
    assert!(id.starts_with("D-") && id.ends_with("-05a1"), "{id}");
    assert_eq!(&id[2..10], &me[..8], "id {id} node {me}");
    assert_eq!(l.qlen("q").await, 1);
    assert_eq!(
        l.line("GETJOB FROM q").await,
        arr(vec![job_entry("q", &id, "body")])
    );
    assert_eq!(l.qlen("q").await, 0);
    assert_eq!(l.state(&id).await, "active");
    assert_eq!(l.int(&format!("ACKJOB {id}")).await, 1);
    assert_eq!(l.show(&id).await, Reply::Nil);
    assert_eq!(l.int(&format!("ACKJOB {id}")).await, 0);
    assert_eq!(l.stat("registered_jobs").await, 0);
    if L::SHELL {
        assert_eq!(
            l.line("INFO jobs").await,
            bulk(
                "# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r\n"
            )
        );
    }
}

/// S-02: the id's last field encodes the TTL (and RETRY 0).
pub async fn s02_id_ttl_field<L: Layer>(l: &mut L) {
    for (opts, suffix) in [
        ("TTL 3600", "003d"),
        ("TTL 3600 RETRY 0", "003c"),
        ("TTL 10", "0001"),
        ("TTL 10 RETRY 0", "0000"),
        ("TTL 200 RETRY 0", "0002"),
        ("TTL 5000000", "ffff"),
    ] {
        let id = l.add(&format!("q b 0 {opts}")).await;
        assert!(id.ends_with(&format!("-{suffix}")), "{opts}: {id}");
    }
}

/// S-03: SHOW of a fresh job, every field in order.
pub async fn s03_show_defaults<L: Layer>(l: &mut L) {
    let me = l.my_id().await;
    let t = l.now_ms();
    let id = l.add("q b 0").await;
    let show = l.show(&id).await;
    let e = since(l, t);
    let v = items(&show);
    assert_eq!(v.len(), 30);
    let names: Vec<String> = v.chunks(2).map(|p| text(&p[0])).collect();
    assert_eq!(
        names,
        [
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
            "body"
        ]
    );
    let field = |name| crate::reply::field(&show, name);
    assert_eq!(field("id"), &bulk(&id));
    assert_eq!(field("queue"), &bulk("q"));
    assert_eq!(field("state"), &bulk("queued"));
    assert_eq!(field("repl"), &int(1));
    let ttl = integer(field("ttl"));
    assert!(
        (86400 - i64::from(L::SHELL)..=86400).contains(&ttl),
        "ttl {ttl}"
    );
    assert!(integer(field("ctime")) > 0);
    assert_eq!(field("delay"), &int(0));
    assert_eq!(field("retry"), &int(300));
    assert_eq!(field("nacks"), &int(0));
    assert_eq!(field("additional-deliveries"), &int(0));
    assert_eq!(field("nodes-delivered"), &arr(vec![bulk(&me)]));
    assert_eq!(field("nodes-confirmed"), &arr(vec![]));
    let requeue = integer(field("next-requeue-within"));
    let low = 299_750 - e as i64;
    assert!(
        (low..=300_250).contains(&requeue),
        "next-requeue-within {requeue}"
    );
    assert_eq!(integer(field("next-awake-within")), requeue - 500);
    assert_eq!(field("body"), &bulk("b"));
}

/// S-04: RETRY defaults to a tenth of the TTL, at most 300 s, at least 1 s.
pub async fn s04_retry_default_from_ttl<L: Layer>(l: &mut L) {
    for (opts, retry) in [
        ("TTL 100", 10),
        ("TTL 9", 1),
        ("TTL 5", 1),
        ("TTL 3000", 300),
        ("TTL 86400", 300),
        ("RETRY 7", 7),
    ] {
        let id = l.add(&format!("q b 0 {opts}")).await;
        assert_eq!(l.show_field(&id, "retry").await, int(retry), "{opts}");
    }
}

/// S-05: ADDJOB's checks, in the original's order and words.
pub async fn s05_addjob_validation<L: Layer>(l: &mut L) {
    let retry0 =
        "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)";
    let delay =
        "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered";
    let mut cases: Vec<(&str, &str)> = vec![
        (
            "ADDJOB q b 0 REPLICATE 0",
            "ERR REPLICATE must be between 1 and 65535",
        ),
        (
            "ADDJOB q b 0 REPLICATE 65536",
            "ERR REPLICATE must be between 1 and 65535",
        ),
        ("ADDJOB q b 0 TTL 0", "ERR TTL must be a number > 0"),
        (
            "ADDJOB q b 0 RETRY -1",
            "ERR RETRY time must be a non negative number",
        ),
        (
            "ADDJOB q b 0 DELAY -1",
            "ERR DELAY time must be a non negative number",
        ),
        (
            "ADDJOB q b 0 MAXLEN 0",
            "ERR MAXLEN must be a positive number",
        ),
        ("ADDJOB q b 0 FOO", "ERR syntax error"),
        ("ADDJOB q b 0 TTL", "ERR syntax error"),
        (
            "ADDJOB q b abc",
            "ERR timeout is not an integer or out of range",
        ),
        ("ADDJOB q b -5", "ERR timeout is negative"),
        ("ADDJOB q b abc TTL 0", "ERR TTL must be a number > 0"),
        ("ADDJOB q b 0 REPLICATE 2 RETRY 0", retry0),
        ("ADDJOB q b 0 DELAY 10 TTL 10", delay),
        ("ADDJOB q b 0 DELAY 86400", delay),
        (
            "ADDJOB q b 0 REPLICATE 2",
            "NOREPL Not enough reachable nodes for the requested replication level",
        ),
    ];
    if L::SHELL {
        cases.push((
            "ADDJOB q b",
            "ERR wrong number of arguments for 'addjob' command",
        ));
    }
    for (line, reply) in cases {
        assert_eq!(l.line(line).await, error(reply), "{line}");
    }
    // Nothing was created by the refused commands.
    assert_eq!(l.qlen("q").await, 0);
    let r = l.line("addjob q b 0 ttl 60 async").await;
    assert!(
        matches!(&r, Reply::Status(id) if id.starts_with(b"D-") && id.len() == 40),
        "{r:?}"
    );
}

/// S-06: malformed job ids.
pub async fn s06_job_id_validation<L: Layer>(l: &mut L) {
    let bad = error("BADID Invalid Job ID format.");
    for line in ["SHOW foo", "ACKJOB foo", "WORKING foo", "DELJOB D-123"] {
        assert_eq!(l.line(line).await, bad, "{line}");
    }
    let id = l.add("q b 0").await;
    assert_eq!(l.line(&format!("ACKJOB {id} foo")).await, bad);
    // The valid job was not acknowledged.
    assert_eq!(l.qlen("q").await, 1);
    assert_eq!(l.state(&id).await, "queued");
    assert_eq!(l.show(UNKNOWN_ID).await, Reply::Nil);
    assert_eq!(l.int("ACKJOB").await, 0);
}

/// S-07: GETJOB's forms: NOHANG, TIMEOUT, errors.
pub async fn s07_getjob_forms<L: Layer>(l: &mut L) {
    assert_eq!(l.line("GETJOB NOHANG FROM e1").await, Reply::NullArray);
    let t = l.now_ms();
    l.send(2, &["GETJOB", "TIMEOUT", "200", "FROM", "e2"]).await;
    let r = l.reply_within(2, 250 + L::LATE_MS).await;
    assert_eq!(r, Some(Reply::NullArray));
    assert_took::<L>("GETJOB TIMEOUT 200 returned", l.now_ms() - t, 200, 250);
    for (line, reply) in [
        (
            "GETJOB COUNT 0 FROM q",
            "ERR COUNT must be a number greater than zero",
        ),
        ("GETJOB FROM", "ERR syntax error"),
        ("GETJOB q", "ERR syntax error"),
        ("GETJOB TIMEOUT -1 FROM q", "ERR timeout is negative"),
        (
            "GETJOB TIMEOUT FROM q",
            "ERR timeout is not an integer or out of range",
        ),
        (
            "GETJOB COUNT FROM q",
            "ERR COUNT must be a number greater than zero",
        ),
    ] {
        assert_eq!(l.line(line).await, error(reply), "{line}");
    }
    // The NOHANG GETJOB created the queue object.
    let st = l.line("QSTAT e1").await;
    assert_eq!(crate::reply::field(&st, "name"), &bulk("e1"));
    assert_eq!(crate::reply::field(&st, "len"), &int(0));
}

/// S-08: GETJOB COUNT takes jobs round robin from the queues.
pub async fn s08_count_is_round_robin<L: Layer>(l: &mut L) {
    let mut j = Vec::new();
    let mut k = Vec::new();
    for i in 1..=3 {
        j.push(l.add(&format!("qa j{i} 0")).await);
    }
    for i in 1..=3 {
        k.push(l.add(&format!("qb k{i} 0")).await);
    }
    assert_eq!(
        l.line("GETJOB COUNT 4 FROM qa qb").await,
        arr(vec![
            job_entry("qa", &j[0], "j1"),
            job_entry("qb", &k[0], "k1"),
            job_entry("qa", &j[1], "j2"),
            job_entry("qb", &k[1], "k2"),
        ])
    );
    assert_eq!(
        l.line("GETJOB COUNT 10 FROM qa qb").await,
        arr(vec![
            job_entry("qa", &j[2], "j3"),
            job_entry("qb", &k[2], "k3")
        ])
    );
}

/// The GETJOB WITHCOUNTERS entry of a job.
fn counted_entry(q: &str, id: &str, body: &str, nacks: i64, more: i64) -> Reply {
    arr(vec![arr(vec![
        bulk(q),
        bulk(id),
        bulk(body),
        bulk("nacks"),
        int(nacks),
        bulk("additional-deliveries"),
        int(more),
    ])])
}

/// S-09: the shape of GETJOB WITHCOUNTERS.
pub async fn s09_withcounters<L: Layer>(l: &mut L) {
    let id = l.add("q b 0").await;
    assert_eq!(
        l.line("GETJOB WITHCOUNTERS FROM q").await,
        counted_entry("q", &id, "b", 0, 0)
    );
}

/// S-10: a blocked GETJOB COUNT 10 is served with the first job only.
pub async fn s10_blocking_getjob_served_with_one_job<L: Layer>(l: &mut L) {
    l.send(10, &["GETJOB", "COUNT", "10", "FROM", "bq"]).await;
    l.wait_blocked(1).await;
    let st = l.line("QSTAT bq").await;
    assert_eq!(crate::reply::field(&st, "blocked"), &int(1));
    // Nothing is sent to the blocked client yet.
    assert_eq!(l.reply_within(10, 100).await, None);
    let id1 = l.add("bq j1 0").await;
    l.add("bq j2 0").await;
    assert_eq!(
        l.reply_within(10, L::LATE_MS).await,
        Some(arr(vec![job_entry("bq", &id1, "j1")]))
    );
    assert_eq!(l.qlen("bq").await, 1);
    l.wait_blocked(0).await;
}

/// S-11: blocked clients are served first come, first served.
pub async fn s11_blocked_clients_served_fifo<L: Layer>(l: &mut L) {
    l.send(20, &["GETJOB", "FROM", "fq"]).await;
    l.wait_blocked(1).await;
    l.send(21, &["GETJOB", "FROM", "fq"]).await;
    l.wait_blocked(2).await;
    let first = l.add("fq first 0").await;
    assert_eq!(
        l.reply_within(20, L::LATE_MS).await,
        Some(arr(vec![job_entry("fq", &first, "first")]))
    );
    assert_eq!(l.reply_within(21, 100).await, None);
    let second = l.add("fq second 0").await;
    assert_eq!(
        l.reply_within(21, L::LATE_MS).await,
        Some(arr(vec![job_entry("fq", &second, "second")]))
    );
}

/// S-12: a client blocked on two queues is served from either.
pub async fn s12_multi_queue_blocking<L: Layer>(l: &mut L) {
    l.send(30, &["GETJOB", "FROM", "m1", "m2"]).await;
    l.wait_blocked(1).await;
    let id = l.add("m2 x 0").await;
    assert_eq!(
        l.reply_within(30, L::LATE_MS).await,
        Some(arr(vec![job_entry("m2", &id, "x")]))
    );
    l.wait_blocked(0).await;
}

/// S-13: queues are ordered by creation time, also for a requeued job;
/// QPEEK from both ends.
pub async fn s13_ordering_and_qpeek<L: Layer>(l: &mut L) {
    let a = l.add("oq a 0 RETRY 1").await;
    let b = l.add("oq b 0").await;
    let c = l.add("oq c 0").await;
    assert_eq!(
        l.line("QPEEK oq 3").await,
        arr(vec![
            job_entry("oq", &a, "a"),
            job_entry("oq", &b, "b"),
            job_entry("oq", &c, "c"),
        ])
    );
    assert_eq!(
        l.line("QPEEK oq -2").await,
        arr(vec![job_entry("oq", &c, "c"), job_entry("oq", &b, "b")])
    );
    assert_eq!(l.line("QPEEK oq 0").await, arr(vec![]));
    assert_eq!(l.line("QPEEK nosuch 5").await, arr(vec![]));
    assert_eq!(
        l.line("QPEEK oq x").await,
        error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        l.line("GETJOB FROM oq").await,
        arr(vec![job_entry("oq", &a, "a")])
    );
    let d = l.add("oq d 0").await;
    eventually!(l, 1300, "job a requeued", l.qlen("oq").await == 4);
    assert_eq!(
        l.line("QPEEK oq 10").await,
        arr(vec![
            job_entry("oq", &a, "a"),
            job_entry("oq", &b, "b"),
            job_entry("oq", &c, "c"),
            job_entry("oq", &d, "d"),
        ])
    );
}

/// S-14: QSTAT.
pub async fn s14_qstat<L: Layer>(l: &mut L) {
    for _ in 0..3 {
        l.add("sq x 0").await;
    }
    assert_eq!(items(&l.line("GETJOB FROM sq").await).len(), 1);
    let st = l.line("QSTAT sq").await;
    // Whole seconds: a process may cross a second boundary meanwhile.
    let age = integer(crate::reply::field(&st, "age"));
    let idle = integer(crate::reply::field(&st, "idle"));
    for n in [age, idle] {
        assert!((0..=i64::from(L::SHELL)).contains(&n), "{st:?}");
    }
    let expected = arr(vec![
        bulk("name"),
        bulk("sq"),
        bulk("len"),
        int(2),
        bulk("age"),
        int(age),
        bulk("idle"),
        int(idle),
        bulk("blocked"),
        int(0),
        bulk("import-from"),
        arr(vec![]),
        bulk("import-rate"),
        int(0),
        bulk("jobs-in"),
        int(3),
        bulk("jobs-out"),
        int(1),
        bulk("pause"),
        bulk("none"),
    ]);
    assert_eq!(st, expected);
    assert_eq!(l.line("QSTAT nosuch").await, Reply::NullArray);
}

/// S-15: FASTACK, DELJOB, ACKJOB; zero arguments answer 0.
pub async fn s15_ack_variants<L: Layer>(l: &mut L) {
    let id = l.add("q b 0").await;
    assert_eq!(l.int(&format!("FASTACK {id} {UNKNOWN_ID}")).await, 1);
    assert_eq!(l.show(&id).await, Reply::Nil);
    let id = l.add("q b 0").await;
    assert_eq!(l.int(&format!("DELJOB {id}")).await, 1);
    assert_eq!(l.qlen("q").await, 0);
    assert_eq!(l.int(&format!("DELJOB {id}")).await, 0);
    let id = l.add("q b 0").await;
    assert_eq!(l.qlen("q").await, 1);
    assert_eq!(l.int(&format!("ACKJOB {id}")).await, 1);
    assert_eq!(l.qlen("q").await, 0);
    for name in ["ACKJOB", "NACK", "FASTACK", "DELJOB"] {
        assert_eq!(l.int(name).await, 0, "{name}");
    }
}

/// S-16: NACK queues an active job again and counts it.
pub async fn s16_nack<L: Layer>(l: &mut L) {
    let id = l.add("q b 0").await;
    assert_eq!(items(&l.line("GETJOB FROM q").await).len(), 1);
    assert_eq!(l.int(&format!("NACK {id}")).await, 1);
    assert_eq!(l.qlen("q").await, 1);
    assert_eq!(l.show_field(&id, "nacks").await, int(1));
    assert_eq!(l.show_field(&id, "additional-deliveries").await, int(0));
    // NACK on a queued job: 0.
    assert_eq!(l.int(&format!("NACK {id}")).await, 0);
    assert_eq!(
        l.line("GETJOB WITHCOUNTERS FROM q").await,
        counted_entry("q", &id, "b", 1, 0)
    );
    assert_eq!(l.int(&format!("NACK {id}")).await, 1);
    assert_eq!(l.int(&format!("NACK {id}")).await, 0);
}

/// S-17: DEQUEUE and ENQUEUE.
pub async fn s17_enqueue_dequeue<L: Layer>(l: &mut L) {
    let id = l.add("q b 0").await;
    assert_eq!(l.int(&format!("DEQUEUE {id}")).await, 1);
    assert_eq!(l.qlen("q").await, 0);
    assert_eq!(l.state(&id).await, "active");
    assert_eq!(l.int(&format!("DEQUEUE {id}")).await, 0);
    assert_eq!(l.int(&format!("ENQUEUE {id}")).await, 1);
    assert_eq!(l.qlen("q").await, 1);
    assert_eq!(l.show_field(&id, "additional-deliveries").await, int(1));
    assert_eq!(l.state(&id).await, "queued");
    assert_eq!(l.int(&format!("ENQUEUE {id}")).await, 0);
}

/// S-18: RETRY 0 (at most once): delivered once, never queued again.
pub async fn s18_at_most_once<L: Layer>(l: &mut L) {
    let id = l.add("q b 0 RETRY 0").await;
    assert_eq!(l.show_field(&id, "retry").await, int(0));
    assert_eq!(l.state(&id).await, "queued");
    assert_eq!(l.show_field(&id, "next-requeue-within").await, Reply::Nil);
    assert_eq!(items(&l.line("GETJOB FROM q").await).len(), 1);
    assert_eq!(l.int(&format!("ENQUEUE {id}")).await, 0);
    assert_eq!(l.int(&format!("NACK {id}")).await, 0);
    holds_for!(l, 3000, "never queued again", l.qlen("q").await == 0);
    assert_eq!(l.state(&id).await, "active");
}

/// S-19: MAXLEN refuses a job when the queue is that long already.
pub async fn s19_maxlen<L: Layer>(l: &mut L) {
    l.add("mq b 0 MAXLEN 2").await;
    l.add("mq b 0 MAXLEN 2").await;
    assert_eq!(
        l.line("ADDJOB mq b 0 MAXLEN 2").await,
        error("MAXLEN Queue is already longer than the specified MAXLEN count")
    );
    assert_eq!(l.qlen("mq").await, 2);
}

/// S-20: PAUSE in, out, all, none and state.
pub async fn s20_pause<L: Layer>(l: &mut L) {
    // Input pause.
    assert_eq!(l.line("PAUSE pq in").await, status("in"));
    assert_eq!(
        l.line("ADDJOB pq b 0").await,
        error("PAUSED Queue paused in input, try later")
    );
    let st = l.line("QSTAT pq").await;
    assert_eq!(crate::reply::field(&st, "pause"), &bulk("in"));
    assert_eq!(l.line("PAUSE pq none").await, status("none"));
    l.add("pq b 0").await;

    // Output pause, then a blocked client served when it is cleared.
    let id = l.add("po b 0").await;
    assert_eq!(l.line("PAUSE po out").await, status("out"));
    assert_eq!(l.line("GETJOB NOHANG FROM po").await, Reply::NullArray);
    l.send(9, &["GETJOB", "FROM", "po"]).await;
    l.wait_blocked(1).await;
    assert_eq!(l.reply_within(9, 100).await, None);
    assert_eq!(l.line("PAUSE po none").await, status("none"));
    assert_eq!(
        l.reply_within(9, L::LATE_MS).await,
        Some(arr(vec![job_entry("po", &id, "b")]))
    );

    // A non-existing queue.
    assert_eq!(l.line("PAUSE pz state").await, status("none"));
    assert_eq!(l.line("QSTAT pz").await, Reply::NullArray);

    // Options replace the state, left to right.
    for (line, reply) in [
        ("PAUSE pw in out", "all"),
        ("PAUSE pw in none", "none"),
        ("PAUSE pw none in", "in"),
        ("PAUSE pw state", "in"),
    ] {
        assert_eq!(l.line(line).await, status(reply), "{line}");
    }
    assert_eq!(l.line("PAUSE pw bogus").await, error("ERR syntax error"));
    assert_eq!(l.line("PAUSE pw state").await, status("in"));
    assert_eq!(l.line("PAUSE pw all").await, status("all"));
    if L::SHELL {
        assert_eq!(
            l.line("PAUSE pw").await,
            error("ERR wrong number of arguments for 'pause' command")
        );
    }

    // Input pause does not stop ENQUEUE/NACK of an active job.
    let id1 = l.add("pe b1 0").await;
    let id2 = l.add("pe b2 0").await;
    assert_eq!(items(&l.line("GETJOB COUNT 2 FROM pe").await).len(), 2);
    assert_eq!(l.line("PAUSE pe in").await, status("in"));
    assert_eq!(l.int(&format!("ENQUEUE {id1}")).await, 1);
    assert_eq!(l.int(&format!("NACK {id2}")).await, 1);
    assert_eq!(l.qlen("pe").await, 2);
}

/// A complete scan (cursor 0 in, cursor 0 out): its items.
async fn scan_items<L: Layer>(l: &mut L, line: &str) -> Vec<Reply> {
    let r = l.line(line).await;
    let v = items(&r);
    assert_eq!(v.len(), 2, "{line}: {r:?}");
    assert_eq!(v[0], bulk("0"), "{line}: cursor");
    items(&v[1]).to_vec()
}

/// S-21: JSCAN and QSCAN: filters, reply forms, errors, cursors.
pub async fn s21_jscan_and_qscan<L: Layer>(l: &mut L) {
    let mut j1 = Vec::new();
    for _ in 0..3 {
        j1.push(l.add("j1 x 0").await);
    }
    let mut j2 = Vec::new();
    for _ in 0..2 {
        j2.push(l.add("j2 x 0").await);
    }
    assert_eq!(items(&l.line("GETJOB FROM j2").await).len(), 1);

    let got = scan_items(l, "JSCAN BUSYLOOP QUEUE j1").await;
    assert_eq!(got.len(), 3);
    for item in &got {
        // Status replies, not bulk strings.
        match item {
            Reply::Status(s) => assert!(j1.contains(&String::from_utf8_lossy(s).into_owned())),
            other => panic!("JSCAN item {other:?}"),
        }
    }
    for (line, n) in [
        ("JSCAN BUSYLOOP STATE queued", 4),
        ("JSCAN BUSYLOOP STATE active", 1),
        ("JSCAN BUSYLOOP STATE queued STATE active", 5),
    ] {
        assert_eq!(scan_items(l, line).await.len(), n, "{line}");
    }
    let all = scan_items(l, "JSCAN BUSYLOOP REPLY all QUEUE j2").await;
    assert_eq!(all.len(), 2);
    for item in &all {
        assert_eq!(items(item).len(), 30);
        assert_eq!(crate::reply::field(item, "queue"), &bulk("j2"));
    }
    for (line, reply) in [
        ("JSCAN STATE bogus", "ERR Invalid job state name"),
        ("JSCAN REPLY foo", "ERR Invalid REPLY type, try ID or ALL"),
        ("JSCAN abc", "ERR invalid cursor or option name"),
        ("JSCAN 0 0", "ERR syntax error"),
        ("JSCAN STATE", "ERR invalid cursor or option name"),
        ("JSCAN COUNT", "ERR invalid cursor or option name"),
        ("QSCAN MINLEN", "ERR invalid cursor or option name"),
        (
            "JSCAN COUNT abc",
            "ERR value is not an integer or out of range",
        ),
        (
            "QSCAN COUNT x",
            "ERR value is not an integer or out of range",
        ),
    ] {
        assert_eq!(l.line(line).await, error(reply), "{line}");
    }
    // strtoul cursor: -1 is accepted, the reply ends with cursor 0.
    scan_items(l, "JSCAN -1").await;
    // COUNT -1 scans everything in one call; COUNT 0 returns one item.
    assert_eq!(scan_items(l, "JSCAN COUNT -1").await.len(), 5);
    let r = l.line("JSCAN COUNT 0").await;
    assert_eq!(items(&items(&r)[1]).len(), 1);
    assert_ne!(items(&r)[0], bulk("0"));

    // Iterating with COUNT 1 yields every job.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let r = l.line(&format!("JSCAN {cursor} COUNT 1")).await;
        let v = items(&r);
        cursor = text(&v[0]);
        seen.extend(items(&v[1]).iter().map(text));
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "scan did not terminate");
    assert_eq!(seen.len(), 5);
    for id in j1.iter().chain(j2.iter()) {
        assert!(seen.contains(id), "{id} not seen");
    }

    let mut queues: Vec<String> = scan_items(l, "QSCAN BUSYLOOP")
        .await
        .iter()
        .map(text)
        .collect();
    queues.sort();
    assert_eq!(queues, ["j1", "j2"]);
    assert_eq!(scan_items(l, "QSCAN BUSYLOOP MINLEN 3").await, [bulk("j1")]);
    assert_eq!(scan_items(l, "QSCAN BUSYLOOP MAXLEN 1").await, [bulk("j2")]);
    // The cursor may also come last (disque-rs style).
    assert_eq!(
        scan_items(l, "QSCAN BUSYLOOP MINLEN 3 0").await,
        [bulk("j1")]
    );
    // No match: *2 $1 0 *0.
    assert_eq!(
        l.line("JSCAN BUSYLOOP QUEUE nosuch").await,
        arr(vec![bulk("0"), arr(vec![])])
    );
}

/// S-22: HELLO on a single node.
pub async fn s22_hello<L: Layer>(l: &mut L) {
    let me = l.my_id().await;
    let port = l.port().to_string();
    assert_eq!(
        l.line("HELLO").await,
        arr(vec![
            int(1),
            bulk(&me),
            arr(vec![bulk(&me), bulk(""), bulk(&port), bulk("1")])
        ])
    );
    if L::SHELL {
        assert_eq!(
            l.line("HELLO x").await,
            error("ERR wrong number of arguments for 'hello' command")
        );
    }
}

/// S-24: DEBUG FLUSHALL forgets everything and unblocks clients.
pub async fn s24_flushall_unblocks<L: Layer>(l: &mut L) {
    l.add("fa x 0").await;
    l.add("fb x 0").await;
    l.send(3, &["GETJOB", "FROM", "fc"]).await;
    l.wait_blocked(1).await;
    l.flush_all().await;
    assert_eq!(l.reply_within(3, L::LATE_MS).await, Some(Reply::NullArray));
    assert_eq!(l.stat("registered_jobs").await, 0);
    assert_eq!(l.stat("registered_queues").await, 0);
    if L::SHELL {
        // The client that was blocked can go on.
        assert_eq!(l.call_as(3, &["PING"]).await, status("PONG"));
    }
}

/// S-30: a fetched job is queued again RETRY seconds later.
pub async fn s30_requeue_after_retry<L: Layer>(l: &mut L) {
    let id = l.add("rq b 0 RETRY 1").await;
    assert_eq!(
        l.line("GETJOB FROM rq").await,
        arr(vec![job_entry("rq", &id, "b")])
    );
    assert_eq!(l.qlen("rq").await, 0);
    eventually!(l, 1300, "job requeued", l.qlen("rq").await == 1);
    assert_eq!(l.state(&id).await, "queued");
    assert_eq!(l.show_field(&id, "additional-deliveries").await, int(1));
    assert_eq!(
        l.line("GETJOB WITHCOUNTERS FROM rq").await,
        counted_entry("rq", &id, "b", 0, 1)
    );
}

/// S-31: RETRY counts from when the job was queued, not from GETJOB.
pub async fn s31_retry_counts_from_queue_time<L: Layer>(l: &mut L) {
    let t0 = l.now_ms();
    let id = l.add("rt b 0 RETRY 3").await;
    // The scenario itself waits 2 s before fetching.
    l.sleep(2000).await;
    assert_eq!(
        l.line("GETJOB FROM rt").await,
        arr(vec![job_entry("rt", &id, "b")])
    );
    eventually!(l, 1300, "job requeued", l.qlen("rt").await == 1);
    // About 3 s after ADDJOB (±250 ms jitter), not 3 s after the GETJOB
    // (which would be about 5 s).
    assert_took::<L>("requeued", l.now_ms() - t0, 2710, 3300);
}

/// S-32: a job is gone when its TTL has passed.
pub async fn s32_ttl_expiry<L: Layer>(l: &mut L) {
    let id = l.add("tq b 0 TTL 1").await;
    let sh = l.show(&id).await;
    if sh != Reply::Nil {
        let ttl = integer(crate::reply::field(&sh, "ttl"));
        assert!(ttl == 0 || ttl == 1, "ttl {ttl}");
    }
    eventually!(l, 2100, "job expired", l.show(&id).await == Reply::Nil);
    assert_eq!(l.qlen("tq").await, 0);
    assert_eq!(l.stat("registered_jobs").await, 0);
}

/// S-33: DELAY queues the job only after that many seconds.
pub async fn s33_delay<L: Layer>(l: &mut L) {
    let t = l.now_ms();
    let id = l.add("dq b 0 DELAY 2").await;
    assert_eq!(l.qlen("dq").await, 0);
    let sh = l.show(&id).await;
    let e = since(l, t);
    assert_eq!(crate::reply::field(&sh, "state"), &bulk("active"));
    assert_eq!(crate::reply::field(&sh, "delay"), &int(2));
    let requeue = integer(crate::reply::field(&sh, "next-requeue-within"));
    assert!(
        (2000 - e as i64..=2000).contains(&requeue),
        "next-requeue-within {requeue}"
    );
    eventually!(l, 2100, "delayed job queued", l.qlen("dq").await == 1);
    assert_took::<L>("delayed job queued", l.now_ms() - t, 1910, 2100);
    assert_eq!(l.state(&id).await, "queued");
    assert_eq!(l.show_field(&id, "additional-deliveries").await, int(0));
}

/// S-34: WORKING postpones the next delivery by RETRY, again each time.
pub async fn s34_working<L: Layer>(l: &mut L) {
    // Job a: WORKING once, queued again about 5 s later.
    let a = l.add("wq a 0 RETRY 5").await;
    // Job b: WORKING repeated, so its requeue is postponed again.
    let b = l.add("wq2 b 0 RETRY 2").await;
    let t0 = l.now_ms();
    assert_eq!(l.int(&format!("WORKING {a}")).await, 5);
    assert_eq!(l.int(&format!("WORKING {b}")).await, 2);
    assert_eq!(l.qlen("wq").await, 0);
    let sh = l.show(&a).await;
    let e = since(l, t0);
    assert_eq!(crate::reply::field(&sh, "state"), &bulk("active"));
    let requeue = integer(crate::reply::field(&sh, "next-requeue-within"));
    assert!(
        (4750 - e as i64..=5250).contains(&requeue),
        "next-requeue-within {requeue}"
    );

    // The client works on b for a second, then says so again.
    l.sleep(1000).await;
    assert_eq!(l.int(&format!("WORKING {b}")).await, 2);
    let t1 = l.now_ms();
    // Without the second WORKING, b would be queued by t0 + 2.25 s.
    assert!(
        t1 - t0 < 1700,
        "second WORKING answered only {} ms after the first",
        t1 - t0
    );
    holds_for!(l, 1500, "b requeued despite WORKING", {
        l.qlen("wq2").await == 0
    });
    eventually!(l, 2250 - 1500, "b requeued", l.qlen("wq2").await == 1);
    assert_took::<L>("b requeued", l.now_ms() - t1, 1750, 2250);

    eventually!(l, 5250, "a requeued", l.qlen("wq").await == 1);
    assert_took::<L>("a requeued", l.now_ms() - t0, 4750, 5250);
    assert_eq!(
        l.line(&format!("WORKING {UNKNOWN_ID}")).await,
        error("NOJOB Job not known in the context of this node.")
    );
}

/// S-35: WORKING is refused once half the TTL has passed.
pub async fn s35_working_after_half_ttl<L: Layer>(l: &mut L) {
    l.align_to_second().await;
    let id = l.add("tw b 0 TTL 2 RETRY 1").await;
    assert_eq!(l.int(&format!("WORKING {id}")).await, 1);
    // The client works for 1.1 s.
    l.sleep(1100).await;
    assert_eq!(
        l.line(&format!("WORKING {id}")).await,
        error("TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.")
    );
}

/// U-06: a client author's notes on TTL and RETRY defaults; an
/// at-most-once job lingers, never queued again, until its TTL.
pub async fn u06_ttl_and_retry_defaults<L: Layer>(l: &mut L) {
    // Without TTL: 86400 s of life, RETRY 300.
    let plain = l.add("u6 plain 0").await;
    let ttl = integer(&l.show_field(&plain, "ttl").await);
    assert!(
        (86400 - i64::from(L::SHELL)..=86400).contains(&ttl),
        "ttl {ttl}"
    );
    assert_eq!(l.show_field(&plain, "retry").await, int(300));

    // TTL 10 and no RETRY: RETRY 1, so a fetched job comes back ~1 s later.
    let short = l.add("u6s short 0 TTL 10").await;
    assert_eq!(l.show_field(&short, "retry").await, int(1));
    assert_eq!(
        l.line("GETJOB FROM u6s").await,
        arr(vec![job_entry("u6s", &short, "short")])
    );

    // RETRY 0 (REPLICATE 1): fetched once, never queued again, still there
    // until its TTL.
    let t0 = l.now_ms();
    let once = l.add("u6o once 0 RETRY 0 REPLICATE 1 TTL 10").await;
    assert_eq!(
        l.line("GETJOB FROM u6o").await,
        arr(vec![job_entry("u6o", &once, "once")])
    );
    eventually!(l, 1250, "TTL 10 job requeued after 1 s", {
        l.qlen("u6s").await == 1
    });
    assert_eq!(l.qlen("u6o").await, 0);
    assert_eq!(l.state(&once).await, "active");
    // plain + short + once
    assert_eq!(l.stat("registered_jobs").await, 3);

    // Gone about 10 s after creation (whole-second expire resolution).
    eventually!(l, 11_100, "RETRY 0 TTL 10 job expired", {
        let sh = l.show(&once).await;
        if sh != Reply::Nil {
            // Still there: never queued again meanwhile.
            assert_eq!(crate::reply::field(&sh, "state"), &bulk("active"));
            assert_eq!(l.qlen("u6o").await, 0);
        }
        sh == Reply::Nil
    });
    assert_took::<L>("expired", l.now_ms() - t0, 8900, 11_100);
    // The TTL 10 job is gone too by now; the plain job stays.
    eventually!(l, 1000, "TTL 10 job expired", {
        l.show(&short).await == Reply::Nil
    });
    assert_eq!(l.stat("registered_jobs").await, 1);
}

/// Extreme TTL, RETRY and QPEEK counts neither overflow nor wrap.
pub async fn huge_ttl_and_values_do_not_overflow<L: Layer>(l: &mut L) {
    let id = l
        .add("q b 0 TTL 9223372036854775807 RETRY 4294967296000")
        .await;
    assert_eq!(l.int(&format!("WORKING {id}")).await, i64::from(u32::MAX));
    l.sleep(100).await;
    assert!(integer(&l.show_field(&id, "ttl").await) > 0);
    assert_eq!(
        l.line("QPEEK q -9223372036854775808").await,
        l.line("QPEEK q -1").await
    );
}
