//! AOF loading: arbitrary LOADJOB payloads must be refused or loaded, never panic.
#![no_main]

use bytes::Bytes;
use disque_core::ids::NodeId;
use disque_core::{Effects, Env, LoadMode, Node, NodeConfig};
use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};

fuzz_target!(|data: &[u8]| {
    let mut rng = StdRng::seed_from_u64(1);
    let mut node = Node::new(NodeId::random(&mut rng), NodeConfig::default(), rng);
    let env = Env { now_ms: 1_700_000_000_000, used_memory: 1 << 20 };
    for mode in [LoadMode::Normal, LoadMode::EnqueueOnce, LoadMode::ExactState] {
        let _ = node.load_job(&env, &Bytes::copy_from_slice(data), mode, &mut Effects::default());
    }
    let mut fx = Effects::default();
    node.on_tick(&Env { now_ms: env.now_ms + 100_000_000, ..env }, &mut fx);
});
