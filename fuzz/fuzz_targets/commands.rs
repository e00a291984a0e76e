//! Command parsing and execution: the fuzzer's bytes become a sequence of
//! commands (name from the command table, arbitrary arguments) run against one
//! node, with time moving forward between them. No input may panic.
#![no_main]

use bytes::Bytes;
use disque_core::commands::COMMANDS;
use disque_core::ids::NodeId;
use disque_core::{Effects, Env, Node, NodeConfig};
use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};

const WORDS: &[&str] = &[
    "0", "1", "-1", "FROM", "q", "TIMEOUT", "COUNT", "NOHANG", "WITHCOUNTERS", "REPLICATE", "RETRY", "TTL",
    "DELAY", "MAXLEN", "ASYNC", "in", "out", "all", "none", "state", "bcast", "BUSYLOOP", "QUEUE", "STATE",
    "REPLY", "queued", "MINLEN", "IMPORTRATE", "myid", "nodes", "info", "leaving", "yes", "reset", "hard",
    "D-00000000-AAAAAAAAAAAAAAAAAAAAAAAA-0001", "9223372036854775807", "-9223372036854775808",
];

fuzz_target!(|data: &[u8]| {
    let mut rng = StdRng::seed_from_u64(1);
    let mut node = Node::new(NodeId::random(&mut rng), NodeConfig::default(), rng);
    let mut now_ms = 1_700_000_000_000u64;
    let mut ids: Vec<Bytes> = Vec::new();
    for chunk in data.split(|&b| b == 0xff) {
        let Some((&first, rest)) = chunk.split_first() else { continue };
        let spec = &COMMANDS[first as usize % COMMANDS.len()];
        let mut args = vec![Bytes::from_static(spec.name.as_bytes())];
        for &b in rest {
            args.push(match b {
                0..=199 => Bytes::from_static(WORDS[b as usize % WORDS.len()].as_bytes()),
                200..=239 => ids.get(b as usize % ids.len().max(1)).cloned().unwrap_or_default(),
                _ => Bytes::copy_from_slice(&[b]),
            });
        }
        if !spec.arity_ok(args.len()) {
            continue;
        }
        now_ms += u64::from(first) * 37;
        let env = Env { now_ms, used_memory: 1 << 20 };
        let mut fx = Effects::default();
        if let Some(disque_proto::Reply::Status(id)) = node.on_command(&env, 1 + first as u64 % 3, spec.id, &args, &mut fx) {
            ids.push(id);
        }
        node.on_tick(&env, &mut fx);
    }
});
