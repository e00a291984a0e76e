//! What each fuzz target checks, one function per target of
//! `fuzz/fuzz_targets/` (named after it): the targets call these, and
//! `cargo test` in crates/server replays the inputs kept in
//! `fuzz/regressions/<target>/` through them (crates/server/tests/fuzz_regressions.rs).
//! Each function panics when the input breaks a rule.

use bytes::{Bytes, BytesMut};
use disque_core::cluster::message::Frame;
use disque_core::commands::COMMANDS;
use disque_core::ids::{JobId, NodeId};
use disque_core::{Effects, Env, LoadMode, Node, NodeConfig};
use disque_proto::{parse_reply, ProtocolError, RequestParser};
use disque_server::aof_file::{Next, RecordReader};
use disque_server::bus_auth::{accept, connect, encode_hello, parse_challenge, parse_hello};
use rand::{rngs::StdRng, SeedableRng};
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;

/// A node with a fixed id and seed, and its environment.
fn node() -> (Node, Env) {
    let mut rng = StdRng::seed_from_u64(1);
    let node = Node::new(NodeId::random(&mut rng), NodeConfig::default(), rng);
    (
        node,
        Env {
            now_ms: 1_700_000_000_000,
            used_memory: 1 << 20,
        },
    )
}

/// Requests parsed from some input, and the error that stopped the parser.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

/// Parses `data`, appending it to the buffer `chunk` bytes at a time.
fn parse_requests(data: &[u8], chunk: usize) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty());
                    requests.push(args);
                }
                Ok(None) => break,
                Err(e) => return (requests, Some(e)),
            }
        }
    }
    (requests, None)
}

/// The server's request parser, fed in arbitrary chunk sizes (the first byte
/// picks it, the rest is the connection's input): never a panic, and the
/// requests do not depend on how the input was split.
pub fn resp_request(input: &[u8]) {
    let Some((&chunk, data)) = input.split_first() else {
        return;
    };
    let whole = parse_requests(data, data.len());
    let chunked = parse_requests(data, usize::from(chunk));
    // Byte by byte may stop at a too-big limit sooner than whole input would
    // (a long line without terminator is refused before its end arrives), so
    // compare only when neither hit an error.
    if whole.1.is_none() && chunked.1.is_none() {
        assert_eq!(whole.0, chunked.0);
    }
}

/// The client's reply decoder: never a panic, and every reply it returns
/// encodes back to a reply that decodes the same.
pub fn resp_reply(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(reply)) = parse_reply(&mut buf) {
        let mut again = BytesMut::from(&reply.to_bytes()[..]);
        assert_eq!(parse_reply(&mut again), Ok(Some(reply)));
        assert!(again.is_empty());
    }
}

/// Words the commands target's arguments are made of.
const WORDS: &[&str] = &[
    "0",
    "1",
    "-1",
    "FROM",
    "q",
    "TIMEOUT",
    "COUNT",
    "NOHANG",
    "WITHCOUNTERS",
    "REPLICATE",
    "RETRY",
    "TTL",
    "DELAY",
    "MAXLEN",
    "ASYNC",
    "in",
    "out",
    "all",
    "none",
    "state",
    "bcast",
    "BUSYLOOP",
    "QUEUE",
    "STATE",
    "REPLY",
    "queued",
    "MINLEN",
    "IMPORTRATE",
    "myid",
    "nodes",
    "info",
    "leaving",
    "yes",
    "reset",
    "hard",
    "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001",
    "9223372036854775807",
    "-9223372036854775808",
];

/// Commands run against one node, time moving forward between them: the
/// input is split at 0xff bytes, each piece's first byte picks the command
/// from the table and the others its arguments (a word of [`WORDS`], a job
/// id an earlier ADDJOB returned, or the byte itself). No input may panic.
pub fn commands(data: &[u8]) {
    let (mut node, env) = node();
    let mut now_ms = env.now_ms;
    let mut ids: Vec<Bytes> = Vec::new();
    let mut blocked = std::collections::HashSet::new();
    for chunk in data.split(|&b| b == 0xff) {
        let Some((&first, rest)) = chunk.split_first() else {
            continue;
        };
        let spec = &COMMANDS[first as usize % COMMANDS.len()];
        let mut args = vec![Bytes::from_static(spec.name.as_bytes())];
        for &b in rest {
            args.push(match b {
                0..=199 => Bytes::from_static(WORDS[b as usize % WORDS.len()].as_bytes()),
                200..=239 => ids
                    .get(b as usize % ids.len().max(1))
                    .cloned()
                    .unwrap_or_default(),
                _ => Bytes::copy_from_slice(&[b]),
            });
        }
        if !spec.arity_ok(args.len()) {
            continue;
        }
        now_ms += u64::from(first) * 37;
        let env = Env { now_ms, ..env };
        let mut fx = Effects::default();
        // As the shell does, a blocked client sends nothing until its reply.
        let client = 1 + first as u64 % 3;
        if blocked.contains(&client) {
            continue;
        }
        match node.on_command(&env, client, spec.id, &args, &mut fx) {
            Some(disque_proto::Reply::Status(id)) => ids.push(id),
            Some(_) => {}
            None => {
                blocked.insert(client);
            }
        }
        node.on_tick(&env, &mut fx);
        for (client, _) in &fx.replies {
            blocked.remove(client);
        }
    }
}

/// A LOADJOB payload, loaded in every mode, then time moved past any
/// expiry: refused or loaded, never a panic.
pub fn aof_job(data: &[u8]) {
    let (mut node, env) = node();
    for mode in [
        LoadMode::Normal,
        LoadMode::EnqueueOnce,
        LoadMode::ExactState,
    ] {
        let _ = node.load_job(
            &env,
            &Bytes::copy_from_slice(data),
            mode,
            &mut Effects::default(),
        );
    }
    let mut fx = Effects::default();
    node.on_tick(
        &Env {
            now_ms: env.now_ms + 100_000_000,
            ..env
        },
        &mut fx,
    );
}

/// An AOF file: the record reader reports records (at growing offsets), a
/// truncation or a bad offset, and replaying the records never panics.
pub fn aof_file(data: &[u8]) {
    let (mut node, env) = node();
    let mut reader = RecordReader::new(data);
    let mut last = 0;
    while let Ok(Next::Record { offset, args, len }) = reader.next_record() {
        assert!(offset >= last && len > 0);
        last = offset;
        match (&args[0][..], args.get(1)) {
            (b"LOADJOB", Some(payload)) => {
                let _ = node.load_job(
                    &env,
                    payload,
                    LoadMode::EnqueueOnce,
                    &mut Effects::default(),
                );
            }
            (b"DELJOB", Some(id)) => {
                if let Some(id) = JobId::parse(id) {
                    node.load_deljob(&id);
                }
            }
            _ => {}
        }
    }
}

/// A bus byte stream, in chunks of the first byte's size: decoded into
/// frames or refused, never a panic, and a decoded frame re-encodes to one
/// that decodes the same.
pub fn bus_frame(data: &[u8]) {
    let mut buf = BytesMut::new();
    let chunk = (data.first().copied().unwrap_or(1) as usize).max(1);
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match Frame::decode(&mut buf) {
                Ok(Some(frame)) => {
                    let mut again = BytesMut::new();
                    frame.encode(&mut again);
                    assert_eq!(
                        Frame::decode(&mut again).ok().flatten().as_ref(),
                        Some(&frame)
                    );
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// The runtime the handshake check runs in.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// The `cluster-password` handshake (decision D12): its parsers take any
/// bytes, a HELLO re-encodes to the bytes it came from, and both sides,
/// fed the input as the peer's bytes, fail without panicking (a proof
/// cannot be guessed).
pub fn bus_handshake(data: &[u8]) {
    if let Ok(hello) = parse_hello(data) {
        let mut again = Vec::new();
        encode_hello(&hello, &mut again);
        assert_eq!(again, data);
    }
    let _ = parse_challenge(data);
    // The peer's bytes: at most what the in-memory pipe holds at once.
    let peer = &data[..data.len().min(2048)];
    let me = NodeId::parse(&[b'a'; 40]).expect("id");
    runtime().block_on(async {
        for accepting in [true, false] {
            let (mut ours, mut theirs) = tokio::io::duplex(4096);
            theirs.write_all(peer).await.expect("write");
            theirs.shutdown().await.expect("shutdown");
            let result = if accepting {
                accept(&mut ours, b"secret", me).await
            } else {
                connect(&mut ours, b"secret", me).await
            };
            assert!(result.is_err(), "a proof was guessed: {result:?}");
        }
    });
}
