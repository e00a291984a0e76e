//! Heap allocations on the hot paths of the core, counted by this test
//! binary's global allocator ([`crate::counting`]) on the test's own thread:
//! ADDJOB, GETJOB and ACKJOB allocate nothing per command (a body is stored
//! inline, ids and bodies in replies are cut from a shared chunk, reply
//! arrays are given back once encoded, a few ids sit on the stack; only the
//! job table's growth allocates, a chunk now and then). A regression guard for the performance issue's "no allocation per
//! command"; not a timing test.

use bytes::Bytes;
use disque_core::commands::CommandId;
use disque_core::ids::NodeId;
use disque_core::{Effects, Env, Node, NodeConfig};
use disque_proto::Reply;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Commands counted (after as many to warm the tables up).
const COMMANDS: u64 = 20_000;

struct Core {
    node: Node,
    env: Env,
    fx: Effects,
}

impl Core {
    fn new() -> Core {
        let mut rng = StdRng::seed_from_u64(11);
        let id = NodeId::random(&mut rng);
        Core {
            node: Node::new(id, NodeConfig::default(), rng),
            env: Env {
                now_ms: 1_700_000_000_000,
                used_memory: 1 << 20,
            },
            fx: Effects::default(),
        }
    }

    /// Runs one command as the shell does (its effects emptied and the
    /// buffers kept for the next).
    fn run(&mut self, cmd: CommandId, args: &[Bytes]) -> Reply {
        let reply = self.node.on_command(&self.env, 1, cmd, args, &mut self.fx);
        self.fx.aof.clear();
        self.fx.bus.clear();
        self.fx.replies.clear();
        reply.expect("does not block")
    }
}

fn args(words: &[&[u8]]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
}

/// Allocations per call of `step`, over [`COMMANDS`] calls.
fn allocations_per_call(mut step: impl FnMut()) -> f64 {
    let before = crate::counting::allocations();
    for _ in 0..COMMANDS {
        step();
    }
    (crate::counting::allocations() - before) as f64 / COMMANDS as f64
}

#[test]
fn addjob_allocates_nothing_per_command() {
    let mut core = Core::new();
    let add = args(&[b"ADDJOB", b"q", b"0123456789abcdef", b"0"]);
    for _ in 0..COMMANDS {
        core.run(CommandId::Addjob, &add);
    }
    let per = allocations_per_call(|| drop(core.run(CommandId::Addjob, &add)));
    assert!(per < 0.05, "{per} allocations per ADDJOB");
}

#[test]
fn getjob_and_ackjob_allocate_nothing_per_command() {
    let mut core = Core::new();
    let add = args(&[b"ADDJOB", b"q", b"0123456789abcdef", b"0"]);
    for _ in 0..3 * COMMANDS {
        core.run(CommandId::Addjob, &add);
    }
    let get = args(&[b"GETJOB", b"NOHANG", b"FROM", b"q"]);
    let mut ack = args(&[b"ACKJOB", b"D-00000000-000000000000000000000000-0000"]);
    let mut cycle = || {
        let reply = core.run(CommandId::Getjob, &get);
        let Reply::Array(jobs) = &reply else {
            panic!("no job");
        };
        let Reply::Array(entry) = &jobs[0] else {
            panic!("not an entry");
        };
        let Reply::Bulk(id) = &entry[1] else {
            panic!("no id");
        };
        ack[1] = id.clone();
        // Encoded and given back, as the shell does.
        core.node.recycle_reply(reply);
        assert_eq!(core.run(CommandId::Ackjob, &ack), Reply::Integer(1));
    };
    for _ in 0..COMMANDS {
        cycle();
    }
    let per = allocations_per_call(cycle);
    assert!(per < 0.05, "{per} allocations per GETJOB + ACKJOB");
}

#[test]
fn the_counter_counts_this_threads_allocations() {
    let before = crate::counting::allocations();
    let v: Vec<u64> = Vec::with_capacity(10);
    let b = Box::new(7u64);
    assert_eq!(crate::counting::allocations() - before, 2);
    drop((v, b));
}
