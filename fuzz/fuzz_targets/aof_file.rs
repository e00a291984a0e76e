//! AOF files: the record reader reports records, a truncation or a bad offset
//! for any bytes, and replaying the records into a node never panics.
#![no_main]

use bytes::Bytes;
use disque_core::ids::{JobId, NodeId};
use disque_core::{Effects, Env, LoadMode, Node, NodeConfig};
use disque_server::aof_file::{Next, RecordReader};
use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};

fuzz_target!(|data: &[u8]| {
    let mut rng = StdRng::seed_from_u64(1);
    let mut node = Node::new(NodeId::random(&mut rng), NodeConfig::default(), rng);
    let env = Env { now_ms: 1_700_000_000_000, used_memory: 1 << 20 };
    let mut reader = RecordReader::new(data);
    let mut last = 0;
    loop {
        match reader.next_record() {
            Ok(Next::Record { offset, args, len }) => {
                assert!(offset >= last && len > 0);
                last = offset;
                match (&args[0][..], args.get(1)) {
                    (b"LOADJOB", Some(payload)) => {
                        let _ = node.load_job(&env, &Bytes::clone(payload), LoadMode::EnqueueOnce, &mut Effects::default());
                    }
                    (b"DELJOB", Some(id)) => {
                        if let Some(id) = JobId::parse(id) {
                            node.load_deljob(&id);
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) | Err(_) => break,
        }
    }
});
