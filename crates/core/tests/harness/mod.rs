//! A one-node test harness: a fake clock, commands by words, collected effects.

#![allow(dead_code)]

use bytes::Bytes;
use disque_core::commands::lookup;
use disque_core::ids::NodeId;
use disque_core::{ClientId, Effects, Env, Node, NodeConfig};
use disque_proto::Reply;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A node driven by hand.
pub struct Harness {
    pub node: Node,
    pub now_ms: u64,
    pub used_memory: u64,
    /// Deferred replies received so far, by client.
    pub deferred: Vec<(ClientId, Reply)>,
    /// AOF bytes produced so far.
    pub aof: Vec<u8>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::with_config(NodeConfig::default())
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }

    pub fn with_config(config: NodeConfig) -> Harness {
        let mut rng = StdRng::seed_from_u64(7);
        let id = NodeId::random(&mut rng);
        Harness {
            node: Node::new(id, config, rng),
            now_ms: 1_700_000_000_000,
            used_memory: 1 << 20,
            deferred: Vec::new(),
            aof: Vec::new(),
        }
    }

    /// An empty node with this one's id and clock, as after a restart that
    /// has not loaded anything yet (a restarted node keeps its identity).
    pub fn restarted(&self) -> Harness {
        let mut to = Harness::with_config(NodeConfig::default());
        to.now_ms = self.now_ms;
        to.node = Node::new(
            self.node.id(),
            NodeConfig::default(),
            SeedableRng::seed_from_u64(3),
        );
        to
    }

    pub fn env(&self) -> Env {
        Env {
            now_ms: self.now_ms,
            used_memory: self.used_memory,
        }
    }

    fn collect(&mut self, fx: Effects) {
        self.deferred.extend(fx.replies);
        self.aof.extend_from_slice(&fx.aof);
    }

    /// Runs a command for `client`; `None` when it blocked.
    pub fn call_as(&mut self, client: ClientId, words: &[&str]) -> Option<Reply> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let spec = lookup(&args[0]).expect("known command");
        assert!(spec.arity_ok(args.len()), "arity of {words:?}");
        let env = self.env();
        let mut fx = Effects::default();
        let reply = self.node.on_command(&env, client, spec.id, &args, &mut fx);
        self.collect(fx);
        reply
    }

    /// Runs a command for client 1 and expects an immediate reply.
    pub fn call(&mut self, words: &[&str]) -> Reply {
        self.call_as(1, words).expect("immediate reply")
    }

    /// Advances the fake clock by `ms`, ticking every 10 ms.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        while self.now_ms < end {
            self.now_ms = (self.now_ms + 10).min(end);
            let env = self.env();
            let mut fx = Effects::default();
            self.node.on_tick(&env, &mut fx);
            self.collect(fx);
        }
    }

    /// ADDJOB and return the id.
    pub fn add(&mut self, queue: &str, body: &str, extra: &[&str]) -> String {
        let mut words = vec!["ADDJOB", queue, body, "0"];
        words.extend_from_slice(extra);
        match self.call(&words) {
            Reply::Status(id) => String::from_utf8(id.to_vec()).unwrap(),
            other => panic!("ADDJOB failed: {other:?}"),
        }
    }

    /// A SHOW field by name.
    pub fn show_field(&mut self, id: &str, field: &str) -> Reply {
        let Reply::Array(items) = self.call(&["SHOW", id]) else {
            return Reply::Nil;
        };
        let pos = items
            .iter()
            .position(|r| *r == bulk(field))
            .expect("field present");
        items[pos + 1].clone()
    }

    pub fn int(&mut self, words: &[&str]) -> i64 {
        match self.call(words) {
            Reply::Integer(n) => n,
            other => panic!("{words:?} gave {other:?}"),
        }
    }
}

pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn err(s: &str) -> Reply {
    Reply::Error(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn status(s: &str) -> Reply {
    Reply::Status(Bytes::copy_from_slice(s.as_bytes()))
}
