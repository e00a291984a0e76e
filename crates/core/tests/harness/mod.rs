//! A one-node test harness: a fake clock, commands by words, collected
//! effects; and the core layer of the behaviour scenarios
//! ([`disque_testkit::layer::Layer`]).

#![allow(dead_code)]

use bytes::Bytes;
use disque_core::commands::lookup;
use disque_core::ids::NodeId;
use disque_core::{ClientId, Effects, Env, Node, NodeConfig};
use disque_proto::Reply;
use disque_testkit::layer::Layer;
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

/// The fake clock's start: a whole second.
const START_MS: u64 = 1_700_000_000_000;

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }

    pub fn with_config(config: NodeConfig) -> Harness {
        let mut rng = StdRng::seed_from_u64(7);
        let id = NodeId::random(&mut rng);
        Harness {
            node: Node::new(id, config, rng),
            now_ms: START_MS,
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

/// The core layer: client numbers are client ids, time is the fake clock
/// (ticks every 10 ms), replies to blocked clients are the deferred ones.
impl Layer for Harness {
    const SHELL: bool = false;
    const LATE_MS: u64 = 0;

    async fn call_as(&mut self, client: u32, words: &[&str]) -> Reply {
        Harness::call_as(self, client.into(), words).unwrap_or_else(|| panic!("{words:?} blocked"))
    }

    async fn send(&mut self, client: u32, words: &[&str]) {
        let reply = Harness::call_as(self, client.into(), words);
        assert_eq!(reply, None, "{words:?} did not block");
    }

    async fn reply_within(&mut self, client: u32, ms: u64) -> Option<Reply> {
        let end = self.now_ms + ms;
        loop {
            let client = ClientId::from(client);
            if let Some(pos) = self.deferred.iter().position(|(c, _)| *c == client) {
                return Some(self.deferred.remove(pos).1);
            }
            if self.now_ms >= end {
                return None;
            }
            self.advance(10);
        }
    }

    async fn sleep(&mut self, ms: u64) {
        self.advance(ms);
    }

    async fn step(&mut self) {
        self.advance(10);
    }

    fn now_ms(&self) -> u64 {
        self.now_ms - START_MS
    }

    async fn stat(&mut self, name: &str) -> i64 {
        let stats = self.node.stats();
        let n = match name {
            "registered_jobs" => stats.registered_jobs,
            "registered_queues" => stats.registered_queues,
            "blocked_clients" => stats.blocked_clients,
            other => panic!("no counter {other}"),
        };
        n as i64
    }

    async fn flush_all(&mut self) {
        let env = self.env();
        let mut fx = Effects::default();
        self.node.flush_all(&env, true, &mut fx);
        self.collect(fx);
    }

    async fn my_id(&mut self) -> String {
        self.node.id().as_str().to_string()
    }

    fn port(&self) -> u16 {
        self.node.config().port
    }

    async fn align_to_second(&mut self) {
        let sub = self.now_ms % 1000;
        if sub >= 300 {
            self.advance(1000 - sub);
        }
    }
}

/// Runs `scenario` on a fresh node and checks that it read every reply
/// owed to a blocked client.
pub fn on_core(scenario: impl AsyncFnOnce(&mut Harness)) {
    let mut h = Harness::new();
    disque_testkit::layer::run(scenario(&mut h));
    assert!(
        h.deferred.is_empty(),
        "replies nobody read: {:?}",
        h.deferred
    );
}
