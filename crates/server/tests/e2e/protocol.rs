//! The wire protocol end to end (docs/commands.md §1.1, §1.2, docs/client-compat.md):
//! protocol errors and connection close, strict `*`/`$` headers, inline
//! commands, pipelining, blocking with pipelined commands behind it, QUIT,
//! huge declared bulk lengths, client-compat quirks.

use crate::common::*;

/// Sends `input` on a fresh connection and expects exactly `-ERR <text>`
/// followed by the server closing the connection.
async fn expect_protocol_error(s: &Server, input: &[u8], text: &str) {
    let mut raw = s.raw().await;
    raw.send(input).await;
    let got = raw.expect_closed().await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("-ERR Protocol error: {text}\r\n"),
        "input {:?}",
        String::from_utf8_lossy(&input[..input.len().min(40)])
    );
}

#[tokio::test]
async fn protocol_error_table_closes_the_connection() {
    let s = Server::start().await;
    let big = vec![b'a'; 70 * 1024];
    expect_protocol_error(&s, &big, "too big inline request").await;
    expect_protocol_error(&s, b"PING \"unbalanced\r\n", "unbalanced quotes in request").await;
    expect_protocol_error(&s, b"PING 'x\r\n", "unbalanced quotes in request").await;
    let mut mbulk = b"*".to_vec();
    mbulk.extend(vec![b'1'; 70 * 1024]);
    expect_protocol_error(&s, &mbulk, "too big mbulk count string").await;
    expect_protocol_error(&s, b"*abc\r\n", "invalid multibulk length").await;
    expect_protocol_error(&s, b"*1048577\r\n", "invalid multibulk length").await;
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 70 * 1024]);
    expect_protocol_error(&s, &bulk, "too big bulk count string").await;
    expect_protocol_error(&s, b"*1\r\nfoo\r\n", "expected '$', got 'f'").await;
    expect_protocol_error(&s, b"*2\r\n$4\r\nPING\r\n:1\r\n", "expected '$', got ':'").await;
    expect_protocol_error(&s, b"*1\r\n$abc\r\n", "invalid bulk length").await;
    expect_protocol_error(&s, b"*1\r\n$-5\r\n", "invalid bulk length").await;
    expect_protocol_error(&s, b"*1\r\n$536870913\r\n", "invalid bulk length").await;
    // The server is still fine.
    let mut raw = s.raw().await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn protocol_error_after_good_commands_in_the_same_write() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.send(b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n")
        .await;
    let got = raw.expect_closed().await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"
    );
}

#[tokio::test]
async fn strict_headers() {
    let s = Server::start().await;
    for header in [
        &b"*+1\r\n"[..],
        b"*01\r\n",
        b"*1 \r\n",
        b"*\r\n",
        b"*-0\r\n",
    ] {
        expect_protocol_error(&s, header, "invalid multibulk length").await;
    }
    for arg in [
        &b"$04\r\nPING\r\n"[..],
        b"$+4\r\nPING\r\n",
        b"$-0\r\n",
        b"$4 \r\nPING\r\n",
        b"$\r\n",
    ] {
        let mut input = b"*1\r\n".to_vec();
        input.extend_from_slice(arg);
        expect_protocol_error(&s, &input, "invalid bulk length").await;
    }
}

#[tokio::test]
async fn header_lines_need_crlf() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    // A bare \n does not end a header line: the server waits for more.
    raw.send(b"*1\n").await;
    raw.expect_silence(ms(300)).await;
}

#[tokio::test]
async fn multibulk_edge_cases() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    // The two bytes after a payload are skipped unchecked; the trailing CRLF
    // is then an empty inline line, ignored.
    raw.send(b"*1\r\n$4\r\nPINGxx\r\nPING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    // An empty argument is kept.
    raw.send(b"*1\r\n$0\r\n\r\n").await;
    raw.expect(b"-ERR unknown command ''\r\n").await;
    // Counts <= 0 are ignored silently.
    raw.send(b"*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    raw.expect_silence(ms(100)).await;
    // Binary-safe arguments.
    raw.send(b"*2\r\n$4\r\nPING\r\n$5\r\na\r\n\x00b\r\n").await;
    raw.expect(b"$5\r\na\r\n\x00b\r\n").await;
    // A command split across several writes.
    raw.send(b"*2\r\n$4\r\nPI").await;
    raw.expect_silence(ms(50)).await;
    raw.send(b"NG\r\n$2\r\nhi").await;
    raw.expect_silence(ms(50)).await;
    raw.send(b"\r\n").await;
    raw.expect(b"$2\r\nhi\r\n").await;
}

#[tokio::test]
async fn inline_commands_and_quotes() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.send(b"PING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    // \n alone ends an inline line.
    raw.send(b"ping\n").await;
    raw.expect(b"+PONG\r\n").await;
    // Empty lines are ignored.
    raw.send(b"\r\n\n   \r\nPING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    raw.send(b"PING \"hello world\"\r\n").await;
    raw.expect(b"$11\r\nhello world\r\n").await;
    raw.send(b"PING 'it\\'s'\r\n").await;
    raw.expect(b"$4\r\nit's\r\n").await;
    raw.send(b"PING \"a\\x41\\n\\t\\\"\"\r\n").await;
    raw.expect(b"$5\r\naA\n\t\"\r\n").await;
    // Empty words are dropped: PING "" is a plain PING.
    raw.send(b"PING \"\"\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    // Extra whitespace between words.
    raw.send(b"   PING     x   \r\n").await;
    raw.expect(b"$1\r\nx\r\n").await;
    // Job commands inline, with a quoted body.
    raw.send(b"ADDJOB iq \"a body\" 0\r\n").await;
    let (wire, reply) = raw.frame().await;
    assert!(wire.starts_with(b"+D-"), "{wire:?}");
    let id = text(&reply);
    raw.send(b"GETJOB FROM iq\r\n").await;
    raw.expect(format!("*1\r\n*3\r\n$2\r\niq\r\n$40\r\n{id}\r\n$6\r\na body\r\n").as_bytes())
        .await;
}

#[tokio::test]
async fn pipelining_many_commands_in_one_write() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        if i % 2 == 0 {
            input.extend_from_slice(format!("PING p{i}\r\n").as_bytes());
        } else {
            let arg = format!("m{i}");
            input.extend_from_slice(
                format!("*2\r\n$4\r\nPING\r\n${}\r\n{arg}\r\n", arg.len()).as_bytes(),
            );
        }
        let arg = format!("{}{i}", if i % 2 == 0 { "p" } else { "m" });
        expected.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    for i in 0..100 {
        input.extend_from_slice(format!("ADDJOB pipeq body{i} 0\r\n").as_bytes());
    }
    input.extend_from_slice(b"QLEN pipeq\r\n");
    raw.send(&input).await;
    for _ in 0..500 {
        let (wire, _) = raw.frame().await;
        let n = wire.len();
        assert_eq!(&wire[..], &expected[..n]);
        expected.drain(..n);
    }
    for _ in 0..100 {
        let (wire, _) = raw.frame().await;
        assert!(wire.starts_with(b"+D-"));
    }
    raw.expect(b":100\r\n").await;
}

#[tokio::test]
async fn pipelined_commands_after_a_blocked_getjob_wait_for_it() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    let mut c = s.client().await;
    raw.send(b"GETJOB FROM bpq\r\nPING\r\nQLEN bpq\r\nPING after\r\n")
        .await;
    poll_until!(secs(5), "client blocked", {
        info_field(&info(&mut c, "clients").await, "blocked_clients").as_deref() == Some("1")
    });
    raw.expect_silence(ms(200)).await;
    let id = addjob(&mut c, "bpq x 0").await;
    raw.expect(format!("*1\r\n*3\r\n$3\r\nbpq\r\n$40\r\n{id}\r\n$1\r\nx\r\n").as_bytes())
        .await;
    raw.expect(b"+PONG\r\n").await;
    raw.expect(b":0\r\n").await;
    raw.expect(b"$5\r\nafter\r\n").await;
}

#[tokio::test]
async fn pipelined_commands_after_a_timed_out_getjob() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.send(b"GETJOB TIMEOUT 150 FROM tpq\r\nPING\r\n").await;
    raw.expect(b"*-1\r\n").await;
    raw.expect(b"+PONG\r\n").await;
}

#[tokio::test]
async fn client_disconnecting_while_blocked() {
    let s = Server::start().await;
    let mut c = s.client().await;
    {
        let mut raw = s.raw().await;
        raw.send(b"GETJOB FROM dq\r\n").await;
        poll_until!(secs(5), "client blocked", {
            info_field(&info(&mut c, "clients").await, "blocked_clients").as_deref() == Some("1")
        });
    }
    // The raw connection is closed now.
    poll_until!(secs(5), "blocked client gone", {
        let text = info(&mut c, "clients").await;
        info_field(&text, "blocked_clients").as_deref() == Some("0")
            && info_field(&text, "connected_clients").as_deref() == Some("1")
    });
    let st = cmd(&mut c, "QSTAT dq").await;
    assert_eq!(field(&st, "blocked"), &int(0));
    // A job added now is not lost to the departed client.
    let id = addjob(&mut c, "dq x 0").await;
    assert_eq!(qlen(&mut c, "dq").await, 1);
    assert_eq!(
        cmd(&mut c, "GETJOB FROM dq").await,
        arr(vec![job_entry("dq", &id, "x")])
    );
}

#[tokio::test]
async fn quit() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    raw.send(b"QUIT\r\nPING\r\n").await;
    let got = raw.expect_closed().await;
    assert_eq!(&got[..], b"+OK\r\n");

    // Case-insensitive, arguments ignored, multi-bulk too.
    let mut raw = s.raw().await;
    raw.cmd(&["quit", "now", "please"]).await;
    let got = raw.expect_closed().await;
    assert_eq!(&got[..], b"+OK\r\n");
}

#[tokio::test]
async fn huge_declared_bulk_is_not_allocated() {
    let s = Server::start().await;
    let mut c = s.client().await;
    let used = |text: &str| -> u64 { info_field(text, "used_memory").unwrap().parse().unwrap() };
    let before = used(&info(&mut c, "memory").await);
    let vm_before = vm_size_kb(s.pid());
    // Three clients each announce a 512 MiB argument and send 5 bytes of it.
    let mut raws = Vec::new();
    for _ in 0..3 {
        let mut raw = s.raw().await;
        raw.send(b"*2\r\n$4\r\nPING\r\n$536870912\r\nhello").await;
        raws.push(raw);
    }
    // Make sure the server has read them: each shows up in CLIENT LIST
    // with a non-empty query buffer or as connected.
    poll_until!(secs(5), "clients connected", {
        info_field(&info(&mut c, "clients").await, "connected_clients").as_deref() == Some("4")
    });
    // Still responsive, to existing and new clients.
    assert_eq!(cmd(&mut c, "PING").await, status("PONG"));
    let mut other = s.raw().await;
    other.roundtrip(&["PING"], b"+PONG\r\n").await;
    let after = used(&info(&mut c, "memory").await);
    assert!(
        after < before + 64 * 1024 * 1024,
        "used_memory grew from {before} to {after}"
    );
    let vm_after = vm_size_kb(s.pid());
    assert!(
        vm_after < vm_before + 512 * 1024,
        "VmSize grew from {vm_before} kB to {vm_after} kB"
    );
    for raw in &mut raws {
        raw.expect_silence(ms(50)).await;
    }
}

fn vm_size_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn client_compat_quirks() {
    let s = Server::start().await;
    let mut raw = s.raw().await;
    // redis-py >= 5 sends CLIENT SETINFO: an error, connection kept.
    raw.roundtrip(
        &["CLIENT", "SETINFO", "lib-name", "redis-py"],
        b"-ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)\r\n",
    )
    .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    // redis-py 8 sends HELLO 3: the arity error, connection kept.
    raw.roundtrip(
        &["HELLO", "3"],
        b"-ERR wrong number of arguments for 'hello' command\r\n",
    )
    .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
    // Command names are case-insensitive (thunk-disque sends lower case).
    raw.roundtrip(&["qlen", "x"], b":0\r\n").await;
    raw.roundtrip(&["QlEn", "x"], b":0\r\n").await;
    raw.roundtrip(
        &["qlen"],
        b"-ERR wrong number of arguments for 'qlen' command\r\n",
    )
    .await;
    raw.roundtrip(&["nosuch", "x"], b"-ERR unknown command 'nosuch'\r\n")
        .await;
    // WORKING returns the retry in seconds (300 by default).
    let mut c = s.client().await;
    let id = addjob(&mut c, "cq b 0").await;
    raw.roundtrip(&["WORKING", &id], b":300\r\n").await;
    // TIME: two bulk strings.
    raw.cmd(&["TIME"]).await;
    let r = raw.reply().await;
    let v = items(&r);
    assert_eq!(v.len(), 2);
    let secs: u64 = text(&v[0]).parse().unwrap();
    let usecs: u64 = text(&v[1]).parse().unwrap();
    assert!(secs > 1_600_000_000 && usecs < 1_000_000);
}
