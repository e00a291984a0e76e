//! Writes the seed corpus of every fuzz target into `<dir>/<target>/` from
//! the kinds of input the test suite uses (requests, replies, AOF records,
//! bus frames, handshake messages). Existing files are kept; run by
//! `scripts/fuzz` before fuzzing.

use bytes::{Bytes, BytesMut};
use disque_core::cluster::message::{Frame, GossipEntry, Message};
use disque_core::commands::COMMANDS;
use disque_core::ids::{JobId, NodeId};
use disque_core::{Effects, Env, Node, NodeConfig};
use disque_proto::Reply;
use disque_server::aof_file::{Next, RecordReader};
use disque_server::bus_auth::{encode_hello, Hello, MAC_LEN};
use rand::{rngs::StdRng, SeedableRng};
use std::path::Path;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    let path = dir.join(format!("seed-{name}"));
    if !path.exists() {
        std::fs::write(path, bytes).expect("seed file");
    }
}

fn request(words: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    disque_proto::encode_request(words, &mut out);
    out.to_vec()
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus-new".into());
    let dir = Path::new(&dir);
    let mut rng = StdRng::seed_from_u64(7);
    let me = NodeId::random(&mut rng);
    let peer = NodeId::random(&mut rng);
    let mut node = Node::new(me, NodeConfig::default(), StdRng::seed_from_u64(8));
    let env = Env { now_ms: 1_700_000_000_000, used_memory: 1 << 20 };

    // Requests and replies, as the protocol tests send and expect them.
    let requests: &[&[&str]] = &[
        &["ADDJOB", "q", "hello", "0"],
        &["ADDJOB", "q", "body", "0", "REPLICATE", "1", "RETRY", "5", "TTL", "60", "DELAY", "1"],
        &["GETJOB", "TIMEOUT", "10", "COUNT", "2", "WITHCOUNTERS", "FROM", "q", "q2"],
        &["QSCAN", "0", "COUNT", "10"],
        &["JSCAN", "0", "STATE", "queued", "REPLY", "all"],
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 1048576 0 0"],
    ];
    let mut pipelined = Vec::new();
    for (i, words) in requests.iter().enumerate() {
        let bytes = request(words);
        pipelined.extend_from_slice(&bytes);
        write(dir, "resp_request", &i.to_string(), &[&[7u8][..], &bytes].concat());
    }
    write(dir, "resp_request", "pipelined", &[&[64u8][..], &pipelined].concat());
    write(dir, "resp_request", "inline", b"\x03PING\r\nQLEN q\r\n\"quoted arg\" 'x'\r\n");

    let mut ids = Vec::new();
    for (i, words) in requests.iter().take(2).enumerate() {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        let spec = disque_core::commands::lookup(words[0].as_bytes()).expect("command");
        let mut fx = Effects::default();
        let reply = node.on_command(&env, 1, spec.id, &args, &mut fx).expect("reply");
        if let Reply::Status(id) = &reply {
            ids.push(id.clone());
        }
        write(dir, "resp_reply", &i.to_string(), &reply.to_bytes());
    }
    let id = ids[0].clone();
    let mut fx = Effects::default();
    let spec = disque_core::commands::lookup(b"show").expect("SHOW");
    if let Some(reply) = node.on_command(&env, 1, spec.id, &[Bytes::from_static(b"SHOW"), id.clone()], &mut fx) {
        write(dir, "resp_reply", "show", &reply.to_bytes());
    }

    // Commands, in the commands target's own encoding (0xff separates
    // commands; the first byte picks the command; word 3 is FROM, 4 is q).
    let index = |name: &str| COMMANDS.iter().position(|c| c.name == name).expect("command") as u8;
    let script = [
        vec![index("addjob"), 4, 4, 0],
        vec![index("getjob"), 3, 4],
        vec![index("ackjob"), 200],
        vec![index("qlen"), 4],
    ]
    .join(&0xff);
    write(dir, "commands", "add-get-ack", &script);

    // AOF records: a rewrite of the node's jobs, and each LOADJOB payload.
    let mut snapshot = BytesMut::new();
    node.aof_snapshot(&mut snapshot);
    write(dir, "aof_file", "snapshot", &snapshot);
    let mut reader = RecordReader::new(&snapshot[..]);
    let mut n = 0;
    while let Ok(Next::Record { args, .. }) = reader.next_record() {
        if args.first().map(|a| &a[..]) == Some(b"LOADJOB") {
            write(dir, "aof_job", &n.to_string(), &args[1]);
            n += 1;
        }
    }

    // Bus frames of the kinds the cluster tests exchange.
    let job = JobId::parse(&id).expect("job id");
    let messages = [
        Message::Meet(vec![]),
        Message::Ping(vec![GossipEntry {
            id: peer,
            ip: "127.0.0.1".into(),
            port: 7712,
            flags: 0,
        }]),
        Message::GotJob(job),
        Message::DelJob { id: job, holders: vec![me, peer] },
        Message::NeedJobs { queue: Bytes::from_static(b"q"), count: 10 },
    ];
    let mut all = BytesMut::new();
    for (i, message) in messages.into_iter().enumerate() {
        let mut out = BytesMut::new();
        Frame { sender: me, port: 7711, flags: 0, message }.encode(&mut out);
        all.extend_from_slice(&out);
        write(dir, "bus_frame", &i.to_string(), &[&[255u8][..], &out].concat());
    }
    write(dir, "bus_frame", "stream", &[&[3u8][..], &all].concat());

    // Handshake messages: a HELLO, and a CHALLENGE-sized one.
    let mut hello = Vec::new();
    encode_hello(&Hello { nonce: [7; 32], id: peer }, &mut hello);
    write(dir, "bus_handshake", "hello", &hello);
    let challenge = [&hello[..], &[9u8; MAC_LEN][..]].concat();
    write(dir, "bus_handshake", "challenge", &challenge);
}
