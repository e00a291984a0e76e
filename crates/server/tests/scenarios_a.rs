//! docs/behaviour-scenarios.md section A (S-01 … S-26), end to end over TCP
//! against a real `disque-server`. Reply types are checked on the wire
//! where the spec distinguishes them (status vs bulk, `$-1` vs `*-1` vs `*0`).

mod common;

use common::*;
use std::time::Instant;

const UNKNOWN_ID: &str = "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001";

fn entry_wire(queue: &str, id: &str, body: &str) -> String {
    format!(
        "*3\r\n${}\r\n{queue}\r\n${}\r\n{id}\r\n${}\r\n{body}\r\n",
        queue.len(),
        id.len(),
        body.len()
    )
}

async fn my_id(c: &mut Client) -> String {
    match cmd(c, "CLUSTER MYID").await {
        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("CLUSTER MYID: {other:?}"),
    }
}

#[tokio::test]
async fn s01_add_fetch_ack() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let myid = my_id(&mut c).await;
    assert_eq!(myid.len(), 40);

    raw.cmd(&["ADDJOB", "q", "body", "0"]).await;
    let (wire, _) = raw.frame().await;
    let wire = String::from_utf8(wire.to_vec()).unwrap();
    assert!(
        wire.starts_with("+D-") && wire.ends_with("\r\n"),
        "{wire:?}"
    );
    let id = wire[1..wire.len() - 2].to_string();
    assert_eq!(id.len(), 40);
    assert_eq!(&id[2..10], &myid[..8], "id {id} node {myid}");
    assert!(id.ends_with("-05a1"), "{id}");

    raw.roundtrip(&["QLEN", "q"], b":1\r\n").await;
    let expected = format!("*1\r\n{}", entry_wire("q", &id, "body"));
    raw.roundtrip(&["GETJOB", "FROM", "q"], expected.as_bytes())
        .await;
    raw.roundtrip(&["QLEN", "q"], b":0\r\n").await;
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "state"), &bulk("active"));
    raw.roundtrip(&["ACKJOB", &id], b":1\r\n").await;
    raw.roundtrip(&["SHOW", &id], b"$-1\r\n").await;
    raw.roundtrip(&["ACKJOB", &id], b":0\r\n").await;
    raw.roundtrip(
        &["INFO", "jobs"],
        b"$72\r\n# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r\n\r\n",
    )
    .await;
}

#[tokio::test]
async fn s02_id_ttl_field() {
    let s = Server::start().await;
    let mut c = s.client().await;
    for (opts, suffix) in [
        ("TTL 3600", "003d"),
        ("TTL 3600 RETRY 0", "003c"),
        ("TTL 10", "0001"),
        ("TTL 10 RETRY 0", "0000"),
        ("TTL 200 RETRY 0", "0002"),
        ("TTL 5000000", "ffff"),
    ] {
        let id = addjob(&mut c, &format!("q b 0 {opts}")).await;
        assert!(id.ends_with(&format!("-{suffix}")), "{opts}: {id}");
    }
}

#[tokio::test]
async fn s03_show_defaults() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let myid = my_id(&mut c).await;
    let id = addjob(&mut c, "q b 0").await;
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
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
    assert_eq!(field(&show, "id"), &bulk(&id));
    assert_eq!(field(&show, "queue"), &bulk("q"));
    assert_eq!(field(&show, "state"), &bulk("queued"));
    assert_eq!(field(&show, "repl"), &int(1));
    let ttl = integer(field(&show, "ttl"));
    assert!((86399..=86400).contains(&ttl), "ttl {ttl}");
    assert!(integer(field(&show, "ctime")) > 0);
    assert_eq!(field(&show, "delay"), &int(0));
    assert_eq!(field(&show, "retry"), &int(300));
    assert_eq!(field(&show, "nacks"), &int(0));
    assert_eq!(field(&show, "additional-deliveries"), &int(0));
    assert_eq!(field(&show, "nodes-delivered"), &arr(vec![bulk(&myid)]));
    assert_eq!(field(&show, "nodes-confirmed"), &arr(vec![]));
    let requeue = integer(field(&show, "next-requeue-within"));
    assert!(
        (300_000 - 1_000..=300_000 + 250).contains(&requeue),
        "next-requeue-within {requeue}"
    );
    let awake = integer(field(&show, "next-awake-within"));
    assert!(
        (299_500 - 1_000..=299_500 + 250).contains(&awake),
        "next-awake-within {awake}"
    );
    assert_eq!(field(&show, "body"), &bulk("b"));
}

#[tokio::test]
async fn s04_retry_default_from_ttl() {
    let s = Server::start().await;
    let mut c = s.client().await;
    for (opts, retry) in [
        ("TTL 100", 10),
        ("TTL 9", 1),
        ("TTL 5", 1),
        ("TTL 3000", 300),
        ("TTL 86400", 300),
        ("RETRY 7", 7),
    ] {
        let id = addjob(&mut c, &format!("q b 0 {opts}")).await;
        let show = cmd(&mut c, &format!("SHOW {id}")).await;
        assert_eq!(field(&show, "retry"), &int(retry), "{opts}");
    }
}

#[tokio::test]
async fn s05_addjob_validation_order_and_messages() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let retry0 =
        "-ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)";
    let delay =
        "-ERR The specified DELAY is greater than TTL. Job refused since would never be delivered";
    let cases: &[(&str, &str)] = &[
        (
            "ADDJOB q b 0 REPLICATE 0",
            "-ERR REPLICATE must be between 1 and 65535",
        ),
        (
            "ADDJOB q b 0 REPLICATE 65536",
            "-ERR REPLICATE must be between 1 and 65535",
        ),
        ("ADDJOB q b 0 TTL 0", "-ERR TTL must be a number > 0"),
        (
            "ADDJOB q b 0 RETRY -1",
            "-ERR RETRY time must be a non negative number",
        ),
        (
            "ADDJOB q b 0 DELAY -1",
            "-ERR DELAY time must be a non negative number",
        ),
        (
            "ADDJOB q b 0 MAXLEN 0",
            "-ERR MAXLEN must be a positive number",
        ),
        ("ADDJOB q b 0 FOO", "-ERR syntax error"),
        ("ADDJOB q b 0 TTL", "-ERR syntax error"),
        (
            "ADDJOB q b abc",
            "-ERR timeout is not an integer or out of range",
        ),
        ("ADDJOB q b -5", "-ERR timeout is negative"),
        ("ADDJOB q b abc TTL 0", "-ERR TTL must be a number > 0"),
        ("ADDJOB q b 0 REPLICATE 2 RETRY 0", retry0),
        ("ADDJOB q b 0 DELAY 10 TTL 10", delay),
        ("ADDJOB q b 0 DELAY 86400", delay),
        (
            "ADDJOB q b 0 REPLICATE 2",
            "-NOREPL Not enough reachable nodes for the requested replication level",
        ),
        (
            "ADDJOB q b",
            "-ERR wrong number of arguments for 'addjob' command",
        ),
    ];
    for (line, reply) in cases {
        let args: Vec<&str> = line.split_whitespace().collect();
        raw.cmd(&args).await;
        let (wire, _) = raw.frame().await;
        assert_eq!(
            String::from_utf8_lossy(&wire),
            format!("{reply}\r\n"),
            "{line}"
        );
    }
    // Nothing was created by the refused commands.
    raw.roundtrip(&["QLEN", "q"], b":0\r\n").await;
    raw.cmd(&["addjob", "q", "b", "0", "ttl", "60", "async"])
        .await;
    let (wire, _) = raw.frame().await;
    assert!(wire.starts_with(b"+D-") && wire.len() == 43, "{wire:?}");
}

#[tokio::test]
async fn s06_job_id_validation() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    for line in ["SHOW foo", "ACKJOB foo", "WORKING foo", "DELJOB D-123"] {
        let args: Vec<&str> = line.split_whitespace().collect();
        raw.roundtrip(&args, b"-BADID Invalid Job ID format.\r\n")
            .await;
    }
    let id = addjob(&mut c, "q b 0").await;
    raw.roundtrip(
        &["ACKJOB", &id, "foo"],
        b"-BADID Invalid Job ID format.\r\n",
    )
    .await;
    // The valid job was not acknowledged.
    assert_eq!(qlen(&mut c, "q").await, 1);
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "state"), &bulk("queued"));
    raw.roundtrip(&["SHOW", UNKNOWN_ID], b"$-1\r\n").await;
    raw.roundtrip(&["ACKJOB"], b":0\r\n").await;
}

#[tokio::test]
async fn s07_getjob_forms() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["GETJOB", "NOHANG", "FROM", "e1"], b"*-1\r\n")
        .await;
    let t = Instant::now();
    raw.roundtrip(&["GETJOB", "TIMEOUT", "200", "FROM", "e2"], b"*-1\r\n")
        .await;
    let took = t.elapsed();
    assert!(took >= ms(200), "returned after {took:?}");
    assert!(took < ms(1400), "returned after {took:?}");
    for (line, reply) in [
        (
            "GETJOB COUNT 0 FROM q",
            "-ERR COUNT must be a number greater than zero",
        ),
        ("GETJOB FROM", "-ERR syntax error"),
        ("GETJOB q", "-ERR syntax error"),
        ("GETJOB TIMEOUT -1 FROM q", "-ERR timeout is negative"),
        (
            "GETJOB TIMEOUT FROM q",
            "-ERR timeout is not an integer or out of range",
        ),
        (
            "GETJOB COUNT FROM q",
            "-ERR COUNT must be a number greater than zero",
        ),
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        raw.cmd(&args).await;
        let (wire, _) = raw.frame().await;
        assert_eq!(
            String::from_utf8_lossy(&wire),
            format!("{reply}\r\n"),
            "{line}"
        );
    }
    // The NOHANG GETJOB created the queue object.
    let mut c = s.client().await;
    let st = cmd(&mut c, "QSTAT e1").await;
    assert_eq!(field(&st, "name"), &bulk("e1"));
    assert_eq!(field(&st, "len"), &int(0));
}

#[tokio::test]
async fn s08_getjob_count_round_robin() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut j = Vec::new();
    let mut k = Vec::new();
    for b in ["j1", "j2", "j3"] {
        j.push(addjob(&mut c, &format!("qa {b} 0")).await);
    }
    for b in ["k1", "k2", "k3"] {
        k.push(addjob(&mut c, &format!("qb {b} 0")).await);
    }
    assert_eq!(
        cmd(&mut c, "GETJOB COUNT 4 FROM qa qb").await,
        arr(vec![
            job_entry("qa", &j[0], "j1"),
            job_entry("qb", &k[0], "k1"),
            job_entry("qa", &j[1], "j2"),
            job_entry("qb", &k[1], "k2"),
        ])
    );
    assert_eq!(
        cmd(&mut c, "GETJOB COUNT 10 FROM qa qb").await,
        arr(vec![
            job_entry("qa", &j[2], "j3"),
            job_entry("qb", &k[2], "k3"),
        ])
    );
}

#[tokio::test]
async fn s09_withcounters_shape() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let id = addjob(&mut c, "q b 0").await;
    let expected = format!(
        "*1\r\n*7\r\n$1\r\nq\r\n$40\r\n{id}\r\n$1\r\nb\r\n$5\r\nnacks\r\n:0\r\n$21\r\nadditional-deliveries\r\n:0\r\n"
    );
    raw.roundtrip(
        &["GETJOB", "WITHCOUNTERS", "FROM", "q"],
        expected.as_bytes(),
    )
    .await;
}

async fn wait_blocked(c: &mut Client, n: usize) {
    let want = n.to_string();
    poll_until!(secs(5), format!("blocked_clients:{n}"), {
        info_field(&info(c, "clients").await, "blocked_clients").as_deref() == Some(&want)
    });
}

#[tokio::test]
async fn s10_blocking_getjob_served_with_one_job() {
    let s = Server::start().await;
    let mut a = s.raw().await;
    let mut b = s.client().await;
    a.cmd(&["GETJOB", "COUNT", "10", "FROM", "bq"]).await;
    wait_blocked(&mut b, 1).await;
    let st = cmd(&mut b, "QSTAT bq").await;
    assert_eq!(field(&st, "blocked"), &int(1));
    // Nothing is sent to the blocked client yet.
    a.expect_silence(ms(100)).await;
    let id1 = addjob(&mut b, "bq j1 0").await;
    let _id2 = addjob(&mut b, "bq j2 0").await;
    let expected = format!("*1\r\n{}", entry_wire("bq", &id1, "j1"));
    a.expect(expected.as_bytes()).await;
    assert_eq!(qlen(&mut b, "bq").await, 1);
    wait_blocked(&mut b, 0).await;
}

#[tokio::test]
async fn s11_blocked_clients_served_fifo() {
    let s = Server::start().await;
    let mut a = s.client().await;
    let mut b = s.client().await;
    let mut c = s.client().await;
    a.send(&["GETJOB", "FROM", "fq"]).await.unwrap();
    wait_blocked(&mut c, 1).await;
    b.send(&["GETJOB", "FROM", "fq"]).await.unwrap();
    wait_blocked(&mut c, 2).await;
    let id1 = addjob(&mut c, "fq first 0").await;
    assert_eq!(
        a.read_reply_timeout(REPLY_DEADLINE).await.unwrap(),
        Some(arr(vec![job_entry("fq", &id1, "first")]))
    );
    assert_eq!(b.read_reply_timeout(ms(100)).await.unwrap(), None);
    let id2 = addjob(&mut c, "fq second 0").await;
    assert_eq!(
        b.read_reply_timeout(REPLY_DEADLINE).await.unwrap(),
        Some(arr(vec![job_entry("fq", &id2, "second")]))
    );
}

#[tokio::test]
async fn s12_multi_queue_blocking() {
    let s = Server::start().await;
    let mut a = s.client().await;
    let mut c = s.client().await;
    a.send(&["GETJOB", "FROM", "m1", "m2"]).await.unwrap();
    wait_blocked(&mut c, 1).await;
    let id = addjob(&mut c, "m2 x 0").await;
    assert_eq!(
        a.read_reply_timeout(REPLY_DEADLINE).await.unwrap(),
        Some(arr(vec![job_entry("m2", &id, "x")]))
    );
}

#[tokio::test]
async fn s13_ordering_by_creation_time() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let a = addjob(&mut c, "oq a 0 RETRY 1").await;
    let b = addjob(&mut c, "oq b 0").await;
    let cc = addjob(&mut c, "oq c 0").await;
    assert_eq!(
        cmd(&mut c, "QPEEK oq 3").await,
        arr(vec![
            job_entry("oq", &a, "a"),
            job_entry("oq", &b, "b"),
            job_entry("oq", &cc, "c"),
        ])
    );
    assert_eq!(
        cmd(&mut c, "QPEEK oq -2").await,
        arr(vec![job_entry("oq", &cc, "c"), job_entry("oq", &b, "b")])
    );
    raw.roundtrip(&["QPEEK", "oq", "0"], b"*0\r\n").await;
    raw.roundtrip(&["QPEEK", "nosuch", "5"], b"*0\r\n").await;
    raw.roundtrip(
        &["QPEEK", "oq", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    assert_eq!(
        cmd(&mut c, "GETJOB FROM oq").await,
        arr(vec![job_entry("oq", &a, "a")])
    );
    let d = addjob(&mut c, "oq d 0").await;
    poll_until!(secs(3), "job a requeued", qlen(&mut c, "oq").await == 4);
    assert_eq!(
        cmd(&mut c, "QPEEK oq 10").await,
        arr(vec![
            job_entry("oq", &a, "a"),
            job_entry("oq", &b, "b"),
            job_entry("oq", &cc, "c"),
            job_entry("oq", &d, "d"),
        ])
    );
}

#[tokio::test]
async fn s14_qstat() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    for _ in 0..3 {
        addjob(&mut c, "sq b 0").await;
    }
    assert_eq!(items(&cmd(&mut c, "GETJOB FROM sq").await).len(), 1);
    let st = cmd(&mut c, "QSTAT sq").await;
    let names: Vec<String> = items(&st).chunks(2).map(|p| text(&p[0])).collect();
    assert_eq!(
        names,
        [
            "name",
            "len",
            "age",
            "idle",
            "blocked",
            "import-from",
            "import-rate",
            "jobs-in",
            "jobs-out",
            "pause"
        ]
    );
    assert_eq!(field(&st, "name"), &bulk("sq"));
    assert_eq!(field(&st, "len"), &int(2));
    assert!(integer(field(&st, "age")) >= 0);
    assert!(integer(field(&st, "idle")) >= 0);
    assert_eq!(field(&st, "blocked"), &int(0));
    assert_eq!(field(&st, "import-from"), &arr(vec![]));
    assert_eq!(field(&st, "import-rate"), &int(0));
    assert_eq!(field(&st, "jobs-in"), &int(3));
    assert_eq!(field(&st, "jobs-out"), &int(1));
    assert_eq!(field(&st, "pause"), &bulk("none"));
    raw.roundtrip(&["QSTAT", "nosuch"], b"*-1\r\n").await;
}

#[tokio::test]
async fn s15_ack_variants() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let id = addjob(&mut c, "q b 0").await;
    raw.roundtrip(&["FASTACK", &id, UNKNOWN_ID], b":1\r\n")
        .await;
    raw.roundtrip(&["SHOW", &id], b"$-1\r\n").await;

    let id = addjob(&mut c, "q b 0").await;
    raw.roundtrip(&["DELJOB", &id], b":1\r\n").await;
    raw.roundtrip(&["QLEN", "q"], b":0\r\n").await;
    raw.roundtrip(&["DELJOB", &id], b":0\r\n").await;

    let id = addjob(&mut c, "q b 0").await;
    assert_eq!(qlen(&mut c, "q").await, 1);
    raw.roundtrip(&["ACKJOB", &id], b":1\r\n").await;
    raw.roundtrip(&["QLEN", "q"], b":0\r\n").await;
    // Zero arguments: :0.
    for name in ["ACKJOB", "FASTACK", "DELJOB", "NACK"] {
        raw.roundtrip(&[name], b":0\r\n").await;
    }
}

#[tokio::test]
async fn s16_nack() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let id = addjob(&mut c, "q b 0").await;
    assert_eq!(items(&cmd(&mut c, "GETJOB FROM q").await).len(), 1);
    raw.roundtrip(&["NACK", &id], b":1\r\n").await;
    assert_eq!(qlen(&mut c, "q").await, 1);
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "nacks"), &int(1));
    assert_eq!(field(&show, "additional-deliveries"), &int(0));
    assert_eq!(
        cmd(&mut c, "GETJOB WITHCOUNTERS FROM q").await,
        arr(vec![arr(vec![
            bulk("q"),
            bulk(&id),
            bulk("b"),
            bulk("nacks"),
            int(1),
            bulk("additional-deliveries"),
            int(0),
        ])])
    );
    // NACK on a queued job: :0.
    raw.roundtrip(&["NACK", &id], b":1\r\n").await;
    raw.roundtrip(&["NACK", &id], b":0\r\n").await;
}

#[tokio::test]
async fn s17_enqueue_dequeue() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let id = addjob(&mut c, "q b 0").await;
    raw.roundtrip(&["DEQUEUE", &id], b":1\r\n").await;
    assert_eq!(qlen(&mut c, "q").await, 0);
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "state"), &bulk("active"));
    raw.roundtrip(&["DEQUEUE", &id], b":0\r\n").await;
    raw.roundtrip(&["ENQUEUE", &id], b":1\r\n").await;
    assert_eq!(qlen(&mut c, "q").await, 1);
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "additional-deliveries"), &int(1));
    assert_eq!(field(&show, "state"), &bulk("queued"));
    raw.roundtrip(&["ENQUEUE", &id], b":0\r\n").await;
}

#[tokio::test]
async fn s18_at_most_once() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let id = addjob(&mut c, "q b 0 RETRY 0").await;
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "retry"), &int(0));
    assert_eq!(field(&show, "state"), &bulk("queued"));
    assert_eq!(field(&show, "next-requeue-within"), &Reply::Nil);
    assert_eq!(items(&cmd(&mut c, "GETJOB FROM q").await).len(), 1);
    raw.roundtrip(&["ENQUEUE", &id], b":0\r\n").await;
    raw.roundtrip(&["NACK", &id], b":0\r\n").await;
    // Observed over 3 s: never queued again.
    let until = Instant::now() + secs(3);
    while Instant::now() < until {
        assert_eq!(qlen(&mut c, "q").await, 0);
        tokio::time::sleep(ms(100)).await;
    }
    let show = cmd(&mut c, &format!("SHOW {id}")).await;
    assert_eq!(field(&show, "state"), &bulk("active"));
}

#[tokio::test]
async fn s19_maxlen() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    addjob(&mut c, "mq b 0 MAXLEN 2").await;
    addjob(&mut c, "mq b 0 MAXLEN 2").await;
    raw.roundtrip(
        &["ADDJOB", "mq", "b", "0", "MAXLEN", "2"],
        b"-MAXLEN Queue is already longer than the specified MAXLEN count\r\n",
    )
    .await;
    assert_eq!(qlen(&mut c, "mq").await, 2);
}

#[tokio::test]
async fn s20_pause() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;

    // Input pause.
    raw.roundtrip(&["PAUSE", "pq", "in"], b"+in\r\n").await;
    raw.roundtrip(
        &["ADDJOB", "pq", "b", "0"],
        b"-PAUSED Queue paused in input, try later\r\n",
    )
    .await;
    let st = cmd(&mut c, "QSTAT pq").await;
    assert_eq!(field(&st, "pause"), &bulk("in"));
    raw.roundtrip(&["PAUSE", "pq", "none"], b"+none\r\n").await;
    addjob(&mut c, "pq b 0").await;

    // Output pause, then a blocked client served when it is cleared.
    let id = addjob(&mut c, "po b 0").await;
    raw.roundtrip(&["PAUSE", "po", "out"], b"+out\r\n").await;
    raw.roundtrip(&["GETJOB", "NOHANG", "FROM", "po"], b"*-1\r\n")
        .await;
    let mut a = s.client().await;
    a.send(&["GETJOB", "FROM", "po"]).await.unwrap();
    wait_blocked(&mut c, 1).await;
    assert_eq!(a.read_reply_timeout(ms(100)).await.unwrap(), None);
    raw.roundtrip(&["PAUSE", "po", "none"], b"+none\r\n").await;
    assert_eq!(
        a.read_reply_timeout(REPLY_DEADLINE).await.unwrap(),
        Some(arr(vec![job_entry("po", &id, "b")]))
    );

    // A non-existing queue.
    raw.roundtrip(&["PAUSE", "pz", "state"], b"+none\r\n").await;
    raw.roundtrip(&["QSTAT", "pz"], b"*-1\r\n").await;

    // Options replace the state, left to right.
    raw.roundtrip(&["PAUSE", "pw", "in", "out"], b"+all\r\n")
        .await;
    raw.roundtrip(&["PAUSE", "pw", "in", "none"], b"+none\r\n")
        .await;
    raw.roundtrip(&["PAUSE", "pw", "none", "in"], b"+in\r\n")
        .await;
    raw.roundtrip(&["PAUSE", "pw", "state"], b"+in\r\n").await;
    raw.roundtrip(&["PAUSE", "pw", "bogus"], b"-ERR syntax error\r\n")
        .await;
    raw.roundtrip(&["PAUSE", "pw", "state"], b"+in\r\n").await;
    raw.roundtrip(&["PAUSE", "pw", "all"], b"+all\r\n").await;
    raw.roundtrip(
        &["PAUSE", "pw"],
        b"-ERR wrong number of arguments for 'pause' command\r\n",
    )
    .await;

    // Input pause does not stop ENQUEUE/NACK of an active job.
    let id1 = addjob(&mut c, "pe b1 0").await;
    let id2 = addjob(&mut c, "pe b2 0").await;
    assert_eq!(items(&cmd(&mut c, "GETJOB COUNT 2 FROM pe").await).len(), 2);
    raw.roundtrip(&["PAUSE", "pe", "in"], b"+in\r\n").await;
    raw.roundtrip(&["ENQUEUE", &id1], b":1\r\n").await;
    raw.roundtrip(&["NACK", &id2], b":1\r\n").await;
    assert_eq!(qlen(&mut c, "pe").await, 2);
}

async fn scan_ids(c: &mut Client, line: &str) -> Vec<Reply> {
    let r = cmd(c, line).await;
    let v = items(&r);
    assert_eq!(v.len(), 2, "{line}: {r:?}");
    assert_eq!(v[0], bulk("0"), "{line}: cursor");
    items(&v[1]).to_vec()
}

#[tokio::test]
async fn s21_jscan_and_qscan() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let mut j1 = Vec::new();
    for _ in 0..3 {
        j1.push(addjob(&mut c, "j1 b 0").await);
    }
    let mut j2 = Vec::new();
    for _ in 0..2 {
        j2.push(addjob(&mut c, "j2 b 0").await);
    }
    assert_eq!(items(&cmd(&mut c, "GETJOB FROM j2").await).len(), 1);

    let got = scan_ids(&mut c, "JSCAN BUSYLOOP QUEUE j1").await;
    assert_eq!(got.len(), 3);
    for item in &got {
        // Status replies, not bulk strings.
        match item {
            Reply::Status(s) => assert!(j1.contains(&String::from_utf8_lossy(s).into_owned())),
            other => panic!("JSCAN item {other:?}"),
        }
    }
    assert_eq!(
        scan_ids(&mut c, "JSCAN BUSYLOOP STATE queued").await.len(),
        4
    );
    assert_eq!(
        scan_ids(&mut c, "JSCAN BUSYLOOP STATE active").await.len(),
        1
    );
    assert_eq!(
        scan_ids(&mut c, "JSCAN BUSYLOOP STATE queued STATE active")
            .await
            .len(),
        5
    );
    let all = scan_ids(&mut c, "JSCAN BUSYLOOP REPLY all QUEUE j2").await;
    assert_eq!(all.len(), 2);
    for item in &all {
        assert_eq!(items(item).len(), 30);
        assert_eq!(field(item, "queue"), &bulk("j2"));
    }
    for (args, reply) in [
        (
            vec!["JSCAN", "STATE", "bogus"],
            "-ERR Invalid job state name",
        ),
        (
            vec!["JSCAN", "REPLY", "foo"],
            "-ERR Invalid REPLY type, try ID or ALL",
        ),
        (vec!["JSCAN", "abc"], "-ERR invalid cursor or option name"),
        (vec!["JSCAN", "0", "0"], "-ERR syntax error"),
        (vec!["JSCAN", "STATE"], "-ERR invalid cursor or option name"),
        (vec!["JSCAN", "COUNT"], "-ERR invalid cursor or option name"),
        (
            vec!["QSCAN", "MINLEN"],
            "-ERR invalid cursor or option name",
        ),
        (
            vec!["JSCAN", "COUNT", "abc"],
            "-ERR value is not an integer or out of range",
        ),
        (
            vec!["QSCAN", "COUNT", "x"],
            "-ERR value is not an integer or out of range",
        ),
    ] {
        raw.cmd(&args).await;
        let (wire, _) = raw.frame().await;
        assert_eq!(
            String::from_utf8_lossy(&wire),
            format!("{reply}\r\n"),
            "{args:?}"
        );
    }
    // strtoul cursor: -1 is accepted, the reply ends with cursor 0.
    let r = cmd(&mut c, "JSCAN -1").await;
    assert_eq!(items(&r).len(), 2);
    assert_eq!(items(&r)[0], bulk("0"));
    // COUNT -1 scans everything in one call.
    assert_eq!(scan_ids(&mut c, "JSCAN COUNT -1").await.len(), 5);

    // Iterating with COUNT 1 yields every job at least once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let r = cmd(&mut c, &format!("JSCAN {cursor} COUNT 1")).await;
        let v = items(&r);
        cursor = text(&v[0]);
        for item in items(&v[1]) {
            seen.insert(text(item));
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "scan did not terminate");
    for id in j1.iter().chain(j2.iter()) {
        assert!(seen.contains(id), "{id} not seen");
    }

    let mut queues: Vec<String> = scan_ids(&mut c, "QSCAN BUSYLOOP")
        .await
        .iter()
        .map(text)
        .collect();
    queues.sort();
    assert_eq!(queues, ["j1", "j2"]);
    assert_eq!(
        scan_ids(&mut c, "QSCAN BUSYLOOP MINLEN 3").await,
        vec![bulk("j1")]
    );
    assert_eq!(
        scan_ids(&mut c, "QSCAN BUSYLOOP MAXLEN 1").await,
        vec![bulk("j2")]
    );
    // The cursor may also come last (disque-rs style).
    assert_eq!(
        scan_ids(&mut c, "QSCAN BUSYLOOP MINLEN 3 0").await,
        vec![bulk("j1")]
    );
    // No match: *2 $1 0 *0.
    raw.roundtrip(
        &["JSCAN", "BUSYLOOP", "QUEUE", "nosuch"],
        b"*2\r\n$1\r\n0\r\n*0\r\n",
    )
    .await;
}

#[tokio::test]
async fn s22_hello_single_node() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let myid = my_id(&mut c).await;
    let port = s.port.to_string();
    let expected = format!(
        "*3\r\n:1\r\n$40\r\n{myid}\r\n*4\r\n$40\r\n{myid}\r\n$0\r\n\r\n${}\r\n{port}\r\n$1\r\n1\r\n",
        port.len()
    );
    raw.roundtrip(&["HELLO"], expected.as_bytes()).await;
    raw.roundtrip(
        &["HELLO", "x"],
        b"-ERR wrong number of arguments for 'hello' command\r\n",
    )
    .await;
}

#[tokio::test]
async fn s23_info_and_misc() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    let all = info(&mut c, "").await;
    // `INFO ""` is an unknown section; check the no-argument form instead.
    assert_eq!(all, "");
    let all = match cmd(&mut c, "INFO").await {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    for needle in [
        "# Server\r\n",
        "disque_version:1.0-rc1\r\n",
        "# Jobs\r\n",
        "registered_jobs:",
        "# Queues\r\n",
        "registered_queues:",
        "loading:0\r\n",
    ] {
        assert!(all.contains(needle), "INFO lacks {needle:?}");
    }
    raw.roundtrip(
        &["INFO", "jobs"],
        b"$72\r\n# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r\n\r\n",
    )
    .await;
    raw.roundtrip(&["INFO", "nosuch"], b"$0\r\n\r\n").await;
    raw.roundtrip(&["INFO", "a", "b"], b"-ERR syntax error\r\n")
        .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    raw.roundtrip(&["PING", "hi"], b"$2\r\nhi\r\n").await;
    raw.roundtrip(
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    raw.roundtrip(&["COMMAND", "COUNT"], b":32\r\n").await;
    raw.roundtrip(&["FOO"], b"-ERR unknown command 'FOO'\r\n")
        .await;
    raw.roundtrip(
        &["LOADJOB", "x"],
        b"-ERR LOADJOB is a special command only processed from AOF\r\n",
    )
    .await;
    raw.roundtrip(&["QUIT"], b"+OK\r\n").await;
    assert!(raw.expect_closed().await.is_empty());
}

#[tokio::test]
async fn s24_debug_flushall() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut blocked = s.raw().await;
    addjob(&mut c, "fa b 0").await;
    addjob(&mut c, "fb b 0").await;
    blocked.cmd(&["GETJOB", "FROM", "fc"]).await;
    wait_blocked(&mut c, 1).await;
    assert_eq!(cmd(&mut c, "DEBUG FLUSHALL").await, status("OK"));
    blocked.expect(b"*-1\r\n").await;
    let all = info(&mut c, "all").await;
    assert_eq!(info_field(&all, "registered_jobs").as_deref(), Some("0"));
    assert_eq!(info_field(&all, "registered_queues").as_deref(), Some("0"));
    // The client that was blocked can go on.
    blocked.roundtrip(&["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn s25_out_of_memory() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "1"], b"+OK\r\n")
        .await;
    raw.roundtrip(
        &["ADDJOB", "q", "b", "0"],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    raw.roundtrip(&["GETJOB", "NOHANG", "FROM", "q"], b"*-1\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "1gb"], b"+OK\r\n")
        .await;
    addjob(&mut c, "q b 0").await;
}

#[tokio::test]
async fn s26_auth() {
    let s = Server::options().password("secret").start().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    raw.roundtrip(&["AUTH", "wrong"], b"-ERR invalid password\r\n")
        .await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    raw.roundtrip(&["AUTH", "secret"], b"+OK\r\n").await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    // A wrong password de-authenticates.
    raw.roundtrip(&["AUTH", "nope"], b"-ERR invalid password\r\n")
        .await;
    raw.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    // Unknown command and arity errors come before NOAUTH.
    raw.roundtrip(&["FOO"], b"-ERR unknown command 'FOO'\r\n")
        .await;
    raw.roundtrip(
        &["QLEN"],
        b"-ERR wrong number of arguments for 'qlen' command\r\n",
    )
    .await;

    let s2 = Server::start().await;
    let mut raw2 = s2.raw().await;
    raw2.roundtrip(
        &["AUTH", "x"],
        b"-ERR Client sent AUTH, but no password is set\r\n",
    )
    .await;
}
