//! Server administration end to end: maxclients, idle timeout, AUTH and
//! CONFIG SET requirepass, CLIENT, MONITOR, INFO, COMMAND, DEBUG, SHUTDOWN,
//! config-file errors (D-15, D-16) and CONFIG GET/SET (D-17).

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Instant;

async fn wait_connected(c: &mut Client, n: usize) {
    let want = n.to_string();
    poll_until!(secs(5), format!("connected_clients:{n}"), {
        info_field(&info(c, "clients").await, "connected_clients").as_deref() == Some(&want)
    });
}

#[tokio::test]
async fn maxclients() {
    let s = Server::options().arg("maxclients", "2").start().await;
    let mut c1 = s.client().await;
    // The readiness probe's connection may still be counted for a moment.
    wait_connected(&mut c1, 1).await;
    let mut c2 = s.raw().await;
    c2.roundtrip(&["PING"], b"+PONG\r\n").await;
    let mut c3 = s.raw().await;
    let got = c3.expect_closed().await;
    assert_eq!(&got[..], b"-ERR max number of clients reached\r\n");
    assert_eq!(
        info_field(&info(&mut c1, "stats").await, "rejected_connections").as_deref(),
        Some("1")
    );
    // Once a slot is free, a new client is accepted.
    drop(c2);
    wait_connected(&mut c1, 1).await;
    let mut c4 = s.raw().await;
    c4.roundtrip(&["PING"], b"+PONG\r\n").await;
    assert_eq!(
        cmd(&mut c1, "CONFIG GET maxclients").await,
        arr(vec![bulk("maxclients"), bulk("2")])
    );
}

#[tokio::test]
async fn idle_timeout_closes_idle_clients() {
    let s = Server::options().arg("timeout", "1").start().await;
    let mut idle = s.raw().await;
    let mut busy = s.raw().await;
    idle.roundtrip(&["PING"], b"+PONG\r\n").await;
    let t0 = Instant::now();
    // A client that keeps talking stays.
    let busy_task = tokio::spawn(async move {
        for _ in 0..12 {
            busy.roundtrip(&["PING"], b"+PONG\r\n").await;
            // The client's pace: a PING every 250 ms.
            tokio::time::sleep(ms(250)).await;
        }
        busy
    });
    let got = idle.expect_closed().await;
    let took = t0.elapsed();
    assert!(got.is_empty(), "{got:?}");
    assert!(
        took >= ms(900) && took <= ms(3500),
        "idle client closed after {took:?}"
    );
    let mut busy = busy_task.await.unwrap();
    busy.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// docs/commands.md §1.1: blocked clients are never closed for idleness; once
/// unblocked, the reply counts as an interaction (as in the original, where
/// every write refreshes the client's last-interaction time).
#[tokio::test]
async fn blocked_client_is_not_closed_for_idleness() {
    let s = Server::options().arg("timeout", "1").start().await;
    let mut blocked = s.raw().await;
    let t0 = Instant::now();
    blocked
        .cmd(&["GETJOB", "TIMEOUT", "2500", "FROM", "tq"])
        .await;
    blocked.expect(b"*-1\r\n").await;
    assert!(t0.elapsed() >= ms(2400));
    // Still open right after being unblocked.
    blocked.expect_silence(ms(300)).await;
    blocked.roundtrip(&["PING"], b"+PONG\r\n").await;

    // Also when served by a job rather than by the timeout: blocked (open
    // and silent) for more than twice the idle timeout.
    blocked.cmd(&["GETJOB", "FROM", "tq2"]).await;
    blocked.expect_silence(ms(2200)).await;
    // A fresh producer: an idle one would itself be closed by `timeout 1`.
    let mut c = s.client().await;
    let id = addjob(&mut c, "tq2 x 0").await;
    blocked
        .expect(format!("*1\r\n*3\r\n$3\r\ntq2\r\n$40\r\n{id}\r\n$1\r\nx\r\n").as_bytes())
        .await;
    blocked.expect_silence(ms(300)).await;
    blocked.roundtrip(&["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn config_set_requirepass_deauthenticates_everyone() {
    let s = Server::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    b.roundtrip(&["PING"], b"+PONG\r\n").await;
    a.roundtrip(&["CONFIG", "SET", "requirepass", "pw"], b"+OK\r\n")
        .await;
    a.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    b.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    b.roundtrip(&["AUTH", "pw"], b"+OK\r\n").await;
    b.roundtrip(&["PING"], b"+PONG\r\n").await;
    a.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    // New connections need AUTH too.
    let mut n = s.raw().await;
    n.roundtrip(&["QLEN", "q"], b"-NOAUTH Authentication required.\r\n")
        .await;
    n.roundtrip(&["AUTH", "pw"], b"+OK\r\n").await;
    n.roundtrip(
        &["CONFIG", "GET", "requirepass"],
        b"*2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
    )
    .await;
    // Setting it again de-authenticates again, including the sender.
    n.roundtrip(&["CONFIG", "SET", "requirepass", "pw2"], b"+OK\r\n")
        .await;
    n.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    b.roundtrip(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    n.roundtrip(&["AUTH", "pw"], b"-ERR invalid password\r\n")
        .await;
    n.roundtrip(&["AUTH", "pw2"], b"+OK\r\n").await;
    // The empty string removes the password.
    n.roundtrip(&["CONFIG", "SET", "requirepass", ""], b"+OK\r\n")
        .await;
    a.roundtrip(&["PING"], b"+PONG\r\n").await;
    a.roundtrip(
        &["AUTH", "x"],
        b"-ERR Client sent AUTH, but no password is set\r\n",
    )
    .await;
    a.roundtrip(
        &["CONFIG", "GET", "requirepass"],
        b"*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n",
    )
    .await;
}

#[tokio::test]
async fn requirepass_from_the_command_line() {
    let s = Server::options().password("s3cret").start().await;
    // QUIT needs no authentication.
    let mut q = s.raw().await;
    q.cmd(&["QUIT"]).await;
    assert_eq!(&q.expect_closed().await[..], b"+OK\r\n");
    let mut raw = s.raw().await;
    raw.roundtrip(&["INFO"], b"-NOAUTH Authentication required.\r\n")
        .await;
    raw.roundtrip(&["AUTH", "s3cret"], b"+OK\r\n").await;
    raw.roundtrip(&["QLEN", "q"], b":0\r\n").await;
    raw.roundtrip(
        &["AUTH"],
        b"-ERR wrong number of arguments for 'auth' command\r\n",
    )
    .await;
}

fn client_list_lines(r: &Reply) -> Vec<String> {
    let t = text(r);
    assert!(t.ends_with('\n'), "{t:?}");
    t.lines().map(str::to_string).collect()
}

fn kv<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

#[tokio::test]
async fn client_list_setname_getname() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let mut blocked = s.raw().await;
    let fresh = s.raw().await;
    let mut c = s.client().await;
    wait_connected(&mut c, 4).await;
    raw.roundtrip(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    raw.roundtrip(&["CLIENT", "SETNAME", "worker-1"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n")
        .await;
    raw.roundtrip(
        &["CLIENT", "SETNAME", "a b"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    raw.roundtrip(&["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n")
        .await;
    blocked.cmd(&["GETJOB", "FROM", "clq"]).await;
    poll_until!(secs(5), "blocked", {
        info_field(&info(&mut c, "clients").await, "blocked_clients").as_deref() == Some("1")
    });

    raw.cmd(&["CLIENT", "LIST"]).await;
    let (wire, r) = raw.frame().await;
    assert!(wire.starts_with(b"$"), "CLIENT LIST is a bulk string");
    let lines = client_list_lines(&r);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let keys = [
        "id",
        "addr",
        "fd",
        "name",
        "age",
        "idle",
        "flags",
        "qbuf",
        "qbuf-free",
        "obl",
        "oll",
        "omem",
        "events",
        "cmd",
    ];
    for line in &lines {
        let got: Vec<&str> = line
            .split(' ')
            .map(|f| f.split('=').next().unwrap())
            .collect();
        assert_eq!(got, keys, "{line}");
        assert!(kv(line, "addr").starts_with("127.0.0.1:"), "{line}");
        kv(line, "id").parse::<u64>().unwrap();
    }
    let raw_addr = raw.stream.local_addr().unwrap().to_string();
    let me = lines
        .iter()
        .find(|l| kv(l, "addr") == raw_addr)
        .expect("own line");
    assert_eq!(kv(me, "name"), "worker-1");
    assert_eq!(kv(me, "cmd"), "client");
    assert_eq!(kv(me, "flags"), "N");
    let blocked_addr = blocked.stream.local_addr().unwrap().to_string();
    let bl = lines
        .iter()
        .find(|l| kv(l, "addr") == blocked_addr)
        .expect("blocked line");
    assert_eq!(kv(bl, "flags"), "b");
    assert_eq!(kv(bl, "cmd"), "getjob");
    assert_eq!(kv(bl, "name"), "");
    // A client that sent nothing yet.
    let fresh_addr = fresh.stream.local_addr().unwrap().to_string();
    let fr = lines
        .iter()
        .find(|l| kv(l, "addr") == fresh_addr)
        .expect("fresh line");
    assert_eq!(kv(fr, "cmd"), "NULL");
    assert_eq!(kv(fr, "flags"), "N");

    // The empty name clears it.
    raw.roundtrip(&["CLIENT", "SETNAME", ""], b"+OK\r\n").await;
    raw.roundtrip(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    raw.roundtrip(
        &["CLIENT", "NOSUCH"],
        b"-ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)\r\n",
    )
    .await;
}

#[tokio::test]
async fn client_kill() {
    let s = Server::start().await;
    let mut killer = s.raw().await;
    let mut victim = s.raw().await;
    let victim_addr = victim.stream.local_addr().unwrap().to_string();
    victim.roundtrip(&["PING"], b"+PONG\r\n").await;
    killer
        .roundtrip(&["CLIENT", "KILL", &victim_addr], b"+OK\r\n")
        .await;
    assert!(victim.expect_closed().await.is_empty());
    killer
        .roundtrip(
            &["CLIENT", "KILL", &victim_addr],
            b"-ERR No such client\r\n",
        )
        .await;

    // The filter form answers with a count.
    let mut v2 = s.raw().await;
    v2.roundtrip(&["PING"], b"+PONG\r\n").await;
    let v2_addr = v2.stream.local_addr().unwrap().to_string();
    killer
        .roundtrip(&["CLIENT", "KILL", "ADDR", &v2_addr], b":1\r\n")
        .await;
    assert!(v2.expect_closed().await.is_empty());
    killer
        .roundtrip(&["CLIENT", "KILL", "ADDR", &v2_addr], b":0\r\n")
        .await;

    // By ID, taken from CLIENT LIST.
    let mut v3 = s.raw().await;
    v3.roundtrip(&["PING"], b"+PONG\r\n").await;
    let v3_addr = v3.stream.local_addr().unwrap().to_string();
    killer.cmd(&["CLIENT", "LIST"]).await;
    let r = killer.reply().await;
    let lines = client_list_lines(&r);
    let line = lines.iter().find(|l| kv(l, "addr") == v3_addr).unwrap();
    let id = kv(line, "id").to_string();
    killer
        .roundtrip(&["CLIENT", "KILL", "ID", &id, "TYPE", "normal"], b":1\r\n")
        .await;
    assert!(v3.expect_closed().await.is_empty());

    // SKIPME yes (default): the caller is not killed by a matching filter.
    killer
        .roundtrip(&["CLIENT", "KILL", "TYPE", "normal"], b":0\r\n")
        .await;
    for (args, reply) in [
        (
            vec!["CLIENT", "KILL", "TYPE", "slave"],
            &b"-ERR Unknown client type 'slave'\r\n"[..],
        ),
        (
            vec!["CLIENT", "KILL", "ID", "abc"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        // Three words are the old `CLIENT KILL ip:port` form.
        (vec!["CLIENT", "KILL", "ID"], b"-ERR No such client\r\n"),
        (
            vec!["CLIENT", "KILL", "ID", "1", "TYPE"],
            b"-ERR syntax error\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "FOO", "bar"],
            b"-ERR syntax error\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "SKIPME", "maybe"],
            b"-ERR syntax error\r\n",
        ),
    ] {
        killer.roundtrip(&args, reply).await;
    }
    // SKIPME no: a client may kill itself.
    let killer_addr = killer.stream.local_addr().unwrap().to_string();
    killer
        .cmd(&["CLIENT", "KILL", "ADDR", &killer_addr, "SKIPME", "no"])
        .await;
    let got = killer.expect_closed().await;
    assert!(got.is_empty() || &got[..] == b":1\r\n", "{got:?}");
}

#[tokio::test]
async fn client_reply() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.send(b"CLIENT REPLY OFF\r\nPING one\r\nQLEN q\r\nCLIENT REPLY ON\r\n")
        .await;
    raw.expect(b"+OK\r\n").await;
    raw.roundtrip(&["PING", "two"], b"$3\r\ntwo\r\n").await;
    raw.send(b"CLIENT REPLY SKIP\r\nPING skipped\r\nPING three\r\n")
        .await;
    raw.expect(b"$5\r\nthree\r\n").await;
    raw.roundtrip(&["CLIENT", "REPLY", "maybe"], b"-ERR syntax error\r\n")
        .await;
}

#[tokio::test]
async fn client_pause() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let mut other = s.raw().await;
    raw.roundtrip(
        &["CLIENT", "PAUSE", "abc"],
        b"-ERR timeout is not an integer or out of range\r\n",
    )
    .await;
    let t0 = Instant::now();
    raw.roundtrip(&["CLIENT", "PAUSE", "400"], b"+OK\r\n").await;
    // Commands of other clients wait until the pause ends.
    other.roundtrip(&["PING"], b"+PONG\r\n").await;
    assert!(
        t0.elapsed() >= ms(350),
        "PING answered after {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn monitor_output_format() {
    let s = Server::start().await;
    let mut mon = s.raw().await;
    mon.roundtrip(&["MONITOR"], b"+OK\r\n").await;
    let mut other = s.raw().await;
    let addr = other.stream.local_addr().unwrap().to_string();
    other.cmd(&["ADDJOB", "mq", "a b\"\x01", "0"]).await;
    let _ = other.reply().await;
    let (wire, _) = mon.frame().await;
    let line = String::from_utf8(wire.to_vec()).unwrap();
    // +<sec>.<usec6> [<ip:port>] "<arg>" ...
    let rest = line.strip_prefix('+').expect("status line");
    let (ts, rest) = rest.split_once(' ').unwrap();
    let (sec, usec) = ts.split_once('.').unwrap();
    assert!(sec.parse::<u64>().unwrap() > 1_600_000_000, "{line}");
    assert_eq!(usec.len(), 6, "{line}");
    usec.parse::<u32>().unwrap();
    assert_eq!(
        rest,
        format!("[{addr}] \"ADDJOB\" \"mq\" \"a b\\\"\\x01\" \"0\"\r\n"),
        "{line}"
    );
    // The monitor sees commands of every client, in order.
    other.roundtrip(&["qlen", "mq"], b":1\r\n").await;
    let (wire, _) = mon.frame().await;
    assert!(
        String::from_utf8_lossy(&wire).ends_with(&format!("[{addr}] \"qlen\" \"mq\"\r\n")),
        "{wire:?}"
    );
}

#[tokio::test]
async fn info_sections() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let default = match cmd(&mut c, "INFO").await {
        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    let sections: Vec<&str> = default.split("\r\n\r\n").collect();
    let titles: Vec<&str> = sections.iter().map(|s| s.lines().next().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Jobs",
            "# Queues",
            "# Persistence",
            "# Stats",
            "# CPU"
        ]
    );
    // No blank line at the end; every line is key:value ending in CRLF.
    assert!(default.ends_with("\r\n") && !default.ends_with("\r\n\r\n"));
    for section in &sections {
        for line in section.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            assert!(line.contains(':'), "{line:?}");
        }
    }
    for key in [
        "disque_version",
        "tcp_port",
        "run_id",
        "connected_clients",
        "blocked_clients",
        "used_memory",
        "used_memory_human",
        "mem_allocator",
        "registered_jobs",
        "registered_queues",
        "loading",
        "aof_enabled",
        "total_commands_processed",
        "rejected_connections",
        "used_cpu_sys",
    ] {
        assert!(info_field(&default, key).is_some(), "no {key}");
    }
    assert_eq!(info_field(&default, "tcp_port"), Some(s.port.to_string()));
    assert_eq!(info_field(&default, "run_id").unwrap().len(), 40);
    assert!(!default.contains("# Commandstats"));
    let all = info(&mut c, "all").await;
    assert!(all.contains("\r\n\r\n# Commandstats\r\ncmdstat_info:calls="));
    // Section names are case-insensitive; one section has no blank lines.
    let jobs = info(&mut c, "JoBs").await;
    assert_eq!(
        jobs,
        "# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r\n"
    );
    let clients = info(&mut c, "clients").await;
    assert!(clients.starts_with("# Clients\r\nconnected_clients:1\r\n"));
    assert!(!clients.contains("\r\n\r\n"));
    let mut raw = s.raw().await;
    for name in ["nosuch", "cluster", "keyspace", "replication", ""] {
        raw.roundtrip(&["INFO", name], b"$0\r\n\r\n").await;
    }
}

#[tokio::test]
async fn command_introspection() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["COMMAND", "COUNT"], b":32\r\n").await;
    let all = cmd(&mut c, "COMMAND").await;
    assert_eq!(items(&all).len(), 32);
    for entry in items(&all) {
        assert_eq!(items(entry).len(), 6, "{entry:?}");
    }
    assert_eq!(
        cmd(&mut c, "COMMAND INFO addjob nosuch").await,
        arr(vec![
            arr(vec![
                bulk("addjob"),
                int(-4),
                arr(vec![status("write"), status("denyoom"), status("fast")]),
                int(0),
                int(0),
                int(0),
            ]),
            Reply::Nil,
        ])
    );
    raw.roundtrip(
        &["COMMAND", "FOO"],
        b"-ERR Unknown subcommand or wrong number of arguments.\r\n",
    )
    .await;
}

/// docs/commands.md §1.3: every command's arity and flags, as COMMAND shows them.
#[tokio::test]
async fn command_table_matches_the_spec() {
    let table = [
        ("auth", 2, "r l F"),
        ("ping", -1, "r F"),
        ("info", -1, "r l"),
        ("shutdown", -1, "a r l"),
        ("monitor", 1, "a r"),
        ("debug", -2, "a"),
        ("config", -2, "a r"),
        ("cluster", -2, "a r"),
        ("client", -2, "a r"),
        ("slowlog", -2, "r"),
        ("time", 1, "r F"),
        ("command", 0, "r l"),
        ("latency", -2, "a r l"),
        ("hello", 1, "r F"),
        ("addjob", -4, "w m F"),
        ("getjob", -2, "w F"),
        ("ackjob", -1, "w F"),
        ("fastack", -1, "w F"),
        ("deljob", -1, "w F"),
        ("show", 2, "r F"),
        ("loadjob", 2, "w"),
        ("bgrewriteaof", 1, "a r"),
        ("qlen", 2, "r F"),
        ("qpeek", 3, "r"),
        ("qstat", 2, "r F"),
        ("qscan", -1, "r"),
        ("jscan", -1, "r"),
        ("enqueue", -1, "m w F"),
        ("nack", -1, "m w F"),
        ("dequeue", -1, "w F"),
        ("working", 2, "w F"),
        ("pause", -3, "r F"),
    ];
    // Flag names in the order COMMAND lists them.
    let order = [
        ('w', "write"),
        ('r', "readonly"),
        ('m', "denyoom"),
        ('a', "admin"),
        ('l', "loading"),
        ('F', "fast"),
    ];
    let s = Server::start().await;
    let mut c = s.client().await;
    let all = cmd(&mut c, "COMMAND").await;
    let mut seen: Vec<String> = Vec::new();
    for entry in items(&all) {
        seen.push(text(&items(entry)[0]));
    }
    seen.sort();
    let mut names: Vec<String> = table.iter().map(|t| t.0.to_string()).collect();
    names.sort();
    assert_eq!(seen, names);
    for (name, arity, flags) in table {
        let letters: Vec<char> = flags
            .split(' ')
            .map(|f| f.chars().next().unwrap())
            .collect();
        let expected_flags: Vec<Reply> = order
            .iter()
            .filter(|(l, _)| letters.contains(l))
            .map(|(_, n)| status(n))
            .collect();
        assert_eq!(
            cmd(&mut c, &format!("COMMAND INFO {name}")).await,
            arr(vec![arr(vec![
                bulk(name),
                int(arity),
                arr(expected_flags),
                int(0),
                int(0),
                int(0),
            ])]),
            "{name}"
        );
    }
}

#[tokio::test]
async fn debug_commands() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let mut other = s.raw().await;
    raw.roundtrip(
        &["DEBUG", "ERROR", "MYERR something"],
        b"-MYERR something\r\n",
    )
    .await;
    raw.roundtrip(&["DEBUG", "ERROR", "a\r\nb"], b"-a  b\r\n")
        .await;
    raw.roundtrip(&["DEBUG", "SLEEP", "abc"], b"+OK\r\n").await;
    raw.roundtrip(
        &["DEBUG", "SLEEP"],
        b"-ERR Unknown DEBUG subcommand or wrong number of arguments for 'SLEEP'\r\n",
    )
    .await;
    raw.roundtrip(
        &["DEBUG", "nosuch"],
        b"-ERR Unknown DEBUG subcommand or wrong number of arguments for 'nosuch'\r\n",
    )
    .await;
    // DEBUG SLEEP blocks the whole server: another client pinging all the
    // while sees one PING held up for most of the sleep.
    let t0 = Instant::now();
    raw.cmd(&["DEBUG", "SLEEP", "0.5"]).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let pinger = tokio::spawn(async move {
        let mut worst = ms(0);
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            other.roundtrip(&["PING"], b"+PONG\r\n").await;
            worst = worst.max(t.elapsed());
            // The pinger's pace.
            tokio::time::sleep(ms(10)).await;
        }
        worst
    });
    raw.expect(b"+OK\r\n").await;
    assert!(t0.elapsed() >= ms(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = pinger.await.unwrap();
    assert!(worst >= ms(300), "longest PING took {worst:?}");
    // DEBUG FLUSHALL (also S-24).
    let mut c = s.client().await;
    addjob(&mut c, "dq b 0").await;
    raw.roundtrip(&["DEBUG", "FLUSHALL"], b"+OK\r\n").await;
    raw.roundtrip(&["QLEN", "dq"], b":0\r\n").await;
    raw.roundtrip(&["QSTAT", "dq"], b"*-1\r\n").await;
}

#[tokio::test]
async fn shutdown_exits_zero_without_reply() {
    let mut s = Server::start().await;
    let mut raw = s.raw().await;
    // D-15: bad arguments leave the server running.
    raw.roundtrip(&["SHUTDOWN", "NOSAVE"], b"-ERR syntax error\r\n")
        .await;
    raw.roundtrip(&["SHUTDOWN", "a", "b"], b"-ERR syntax error\r\n")
        .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    raw.cmd(&["shutdown"]).await;
    let got = raw.expect_closed().await;
    assert!(got.is_empty(), "SHUTDOWN replied {got:?}");
    let status = s.wait_exit(secs(10)).await.expect("server did not exit");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let mut s = Server::start().await;
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(s.pid() as i32, libc::SIGTERM);
    }
    let status = s.wait_exit(secs(10)).await.expect("server did not exit");
    assert_eq!(status.code(), Some(0));
}

/// Runs the server binary with `args`, expecting it to exit by itself
/// within 10 s: (exit code, stdout, stderr).
fn run_to_exit(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String, String) {
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut cmd = Command::new(server_bin());
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server {args:?} did not exit");
        }
        std::thread::sleep(ms(10));
    };
    (
        status.code(),
        std::fs::read_to_string(out_path).unwrap(),
        std::fs::read_to_string(err_path).unwrap(),
    )
}

#[test]
fn d16_config_file_errors() {
    let dir = TempDir::new();
    let file = dir.path().join("disque.conf");
    let port = free_port().to_string();
    for (contents, line_no, line, message) in [
        ("port 99999\n", 1, "port 99999", "Invalid port"),
        (
            "# comment\nmaxmemory 0\n",
            2,
            "maxmemory 0",
            "You need to specify a memory limit greater than zero",
        ),
        (
            "foo bar\n",
            1,
            "foo bar",
            "Bad directive or wrong number of arguments",
        ),
        (
            "  appendfsync   sometimes  \n",
            1,
            "appendfsync   sometimes",
            "argument must be 'no', 'always' or 'everysec'",
        ),
    ] {
        std::fs::write(&file, contents).unwrap();
        let (code, _out, err) = run_to_exit(
            &[
                file.to_str().unwrap(),
                "--bind",
                "127.0.0.1",
                "--port",
                &port,
            ],
            dir.path(),
        );
        assert_eq!(code, Some(1), "{contents:?}: stderr {err}");
        let banner = format!(
            "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{message}\n"
        );
        assert!(err.contains(&banner), "{contents:?}: stderr {err:?}");
    }
    // An error on the command line: two lines past the file's last line,
    // with the quoted value.
    std::fs::write(&file, "# one\n# two\n# three\n").unwrap();
    let (code, _out, err) = run_to_exit(&[file.to_str().unwrap(), "--port", "99999"], dir.path());
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "Reading the configuration file, at line 5\n>>> 'port \"99999\"'\nInvalid port\n"
        ),
        "{err:?}"
    );
    // A port that parses but is too high for the bus port.
    let (code, _out, err) = run_to_exit(&["--port", "55536", "--bind", "127.0.0.1"], dir.path());
    assert_eq!(code, Some(1), "{err}");
    // A missing config file.
    let missing = dir.path().join("nope.conf");
    let (code, out, err) = run_to_exit(&[missing.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(1));
    assert!(
        format!("{out}{err}").contains("Fatal error, can't open config file"),
        "{out}{err}"
    );
}

#[test]
fn version_and_help() {
    let dir = TempDir::new();
    let (code, out, _) = run_to_exit(&["--version"], dir.path());
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Disque server v=1.0-rc1 sha="), "{out}");
    let (code, _, err) = run_to_exit(&["--help"], dir.path());
    assert_eq!(code, Some(1));
    assert!(err.contains("./disque-server"), "{err}");
}

#[tokio::test]
async fn d17_config_get_set() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    raw.roundtrip(
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n",
    )
    .await;
    let aof = cmd(&mut c, "CONFIG GET aof-*").await;
    let names: Vec<String> = items(&aof).chunks(2).map(|p| text(&p[0])).collect();
    assert_eq!(
        names,
        [
            "aof-rewrite-incremental-fsync",
            "aof-load-truncated",
            "aof-enqueue-jobs-once"
        ]
    );
    let everything = cmd(&mut c, "CONFIG GET *").await;
    let names: Vec<String> = items(&everything).chunks(2).map(|p| text(&p[0])).collect();
    let expected = "requirepass unixsocket logfile pidfile maxmemory maxmemory-samples timeout \
        auto-aof-rewrite-percentage auto-aof-rewrite-min-size slowlog-log-slower-than \
        latency-monitor-threshold slowlog-max-len port tcp-backlog databases \
        maxclients watchdog-period hz cluster-node-timeout tcp-keepalive \
        no-appendfsync-on-rewrite daemonize activerehashing \
        aof-rewrite-incremental-fsync aof-load-truncated aof-enqueue-jobs-once \
        maxmemory-policy loglevel appendfsync syslog-facility appendonly dir \
        client-output-buffer-limit unixsocketperm bind rereplicate logformat http-port metrics-top-queues";
    let expected: Vec<&str> = expected.split_whitespace().collect();
    // The original's order first; later extensions are appended after it.
    assert_eq!(names[..expected.len()], expected);
    assert_eq!(field(&everything, "port"), &bulk(&s.port.to_string()));
    assert_eq!(field(&everything, "bind"), &bulk("127.0.0.1"));
    raw.roundtrip(&["CONFIG", "GET", "nosuch*"], b"*0\r\n")
        .await;
    // Patterns are case-sensitive.
    raw.roundtrip(&["CONFIG", "GET", "MAXMEMORY"], b"*0\r\n")
        .await;

    raw.roundtrip(&["CONFIG", "SET", "hz", "1000"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "GET", "hz"], b"*2\r\n$2\r\nhz\r\n$3\r\n500\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "hz", "0"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "GET", "hz"], b"*2\r\n$2\r\nhz\r\n$1\r\n1\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "HZ", "10"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "2gb"], b"+OK\r\n")
        .await;
    raw.roundtrip(
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$10\r\n2147483648\r\n",
    )
    .await;
    raw.roundtrip(&["CONFIG", "SET", "loglevel", "WARNING"], b"+OK\r\n")
        .await;
    raw.roundtrip(
        &["CONFIG", "GET", "loglevel"],
        b"*2\r\n$8\r\nloglevel\r\n$7\r\nwarning\r\n",
    )
    .await;
    for (args, reply) in [
        (
            vec!["CONFIG", "SET", "appendfsync", "sometimes"],
            "-ERR Invalid argument 'sometimes' for CONFIG SET 'appendfsync'",
        ),
        (
            vec!["CONFIG", "SET", "maxmemory", "1x"],
            "-ERR Invalid argument '1x' for CONFIG SET 'maxmemory'",
        ),
        (
            vec!["CONFIG", "SET", "hz", "1.5"],
            "-ERR Invalid argument '1.5' for CONFIG SET 'hz'",
        ),
        (
            vec!["CONFIG", "SET", "port", "1"],
            "-ERR Unsupported CONFIG parameter: port",
        ),
        (
            vec!["CONFIG", "GET"],
            "-ERR Wrong number of arguments for CONFIG GET",
        ),
        (
            vec!["CONFIG", "get"],
            "-ERR Wrong number of arguments for CONFIG get",
        ),
        (
            vec!["CONFIG", "SET", "hz"],
            "-ERR Wrong number of arguments for CONFIG SET",
        ),
        (
            vec!["CONFIG", "FOO"],
            "-ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE",
        ),
        (
            vec!["CONFIG", "REWRITE"],
            "-ERR The server is running without a config file",
        ),
        (
            vec!["CONFIG"],
            "-ERR wrong number of arguments for 'config' command",
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
    raw.roundtrip(&["CONFIG", "RESETSTAT"], b"+OK\r\n").await;
    let stats = info(&mut c, "commandstats").await;
    assert!(
        stats.starts_with("# Commandstats\r\ncmdstat_config:calls=1,"),
        "{stats:?}"
    );
}

#[tokio::test]
async fn config_file_and_rewrite() {
    let (s, file, _dir) = start_with_config("# my config\nhz 20\nmaxmemory 64mb\n").await;
    let mut raw = s.raw().await;
    raw.roundtrip(&["CONFIG", "GET", "hz"], b"*2\r\n$2\r\nhz\r\n$2\r\n20\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "128mb"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["CONFIG", "REWRITE"], b"+OK\r\n").await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# my config\n"), "{text}");
    assert!(text.contains("\nmaxmemory 128mb\n"), "{text}");
    assert!(text.contains("\nhz 20\n"), "{text}");
    let mut c = s.client().await;
    let info_text = info(&mut c, "server").await;
    assert_eq!(
        info_field(&info_text, "config_file"),
        Some(file.to_str().unwrap().to_string())
    );
}
