//! One node under test, behind one trait: the behaviour scenarios
//! ([`crate::scenarios`]) are written once against [`Layer`] and run on the
//! core state machine with a fake clock (`crates/core/tests/harness`) and on
//! a real `disque-server` over RESP ([`Process`]).
//!
//! Time: a scenario never sleeps to synchronise. It waits for a condition
//! with [`eventually!`] (a deadline on the layer's clock) or checks that
//! one holds for a while with [`holds_for!`]. On the core the clock is fake
//! and moves 10 ms per step; on a process it is the wall clock, and every
//! deadline gets [`Layer::LATE_MS`] of slack (cron resolution, a loaded
//! machine), while lower bounds stay exact (a timer never fires early).

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use disque_client::Reply;

use crate::raw::Raw;
use crate::reply::{integer, text};
use crate::server::{info_field, Server};

/// A node driven by commands, with its own clock. Clients are numbered; each
/// number is one connection (on a process) or one client id (on the core).
#[allow(async_fn_in_trait)]
pub trait Layer {
    /// True when commands pass through the server shell. Only then are the
    /// shell's own rules checked: arity errors, AUTH, INFO, QUIT.
    const SHELL: bool;
    /// How much later than due a timer may be seen on this layer.
    const LATE_MS: u64;
    /// Runs `words` for `client` and returns its immediate reply (panics if
    /// the command blocks).
    async fn call_as(&mut self, client: u32, words: &[&str]) -> Reply;
    /// Sends `words` for `client`, a command that blocks (panics on the core
    /// if it answers at once).
    async fn send(&mut self, client: u32, words: &[&str]);
    /// The reply owed to `client` for a command it sent, if one comes within
    /// `ms` of this layer's clock.
    async fn reply_within(&mut self, client: u32, ms: u64) -> Option<Reply>;
    /// Lets `ms` pass: part of a scenario (a client that waits before it
    /// fetches), never a way to wait for something.
    async fn sleep(&mut self, ms: u64);
    /// One polling step of [`eventually!`] and [`holds_for!`].
    async fn step(&mut self);
    /// Milliseconds since the layer started, on its clock.
    fn now_ms(&self) -> u64;
    /// A node counter: `registered_jobs`, `registered_queues` or
    /// `blocked_clients`.
    async fn stat(&mut self, name: &str) -> i64;
    /// Forgets every job and queue (DEBUG FLUSHALL); blocked clients get a
    /// null reply.
    async fn flush_all(&mut self);
    /// The node's id.
    async fn my_id(&mut self) -> String;
    /// The client port HELLO announces.
    fn port(&self) -> u16;
    /// Waits until the clock is in the first 300 ms of a second, so that a
    /// job's whole-second expire time is at least 0.7 s past its nominal
    /// TTL start (S-32, S-35); waits at most a second.
    async fn align_to_second(&mut self);

    /// Runs `words` for client 0.
    async fn call(&mut self, words: &[&str]) -> Reply {
        self.call_as(0, words).await
    }

    /// Runs a command given as whitespace-separated words for client 0.
    async fn line(&mut self, line: &str) -> Reply {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.call(&words).await
    }

    /// Runs a command that must answer with an integer.
    async fn int(&mut self, line: &str) -> i64 {
        integer(&self.line(line).await)
    }

    /// `ADDJOB <line>`, which must answer with a job id.
    async fn add(&mut self, line: &str) -> String {
        let reply = self.line(&format!("ADDJOB {line}")).await;
        let Reply::Status(id) = reply else {
            panic!("ADDJOB {line}: {reply:?}");
        };
        let id = String::from_utf8(id.to_vec()).expect("utf-8 id");
        assert_eq!(id.len(), 40, "job id {id}");
        id
    }

    /// QLEN `q`.
    async fn qlen(&mut self, q: &str) -> i64 {
        self.int(&format!("QLEN {q}")).await
    }

    /// SHOW `id` (nil or the field/value array).
    async fn show(&mut self, id: &str) -> Reply {
        self.call(&["SHOW", id]).await
    }

    /// The value of one SHOW field.
    async fn show_field(&mut self, id: &str, name: &str) -> Reply {
        crate::reply::field(&self.show(id).await, name).clone()
    }

    /// The state of job `id`.
    async fn state(&mut self, id: &str) -> String {
        text(&self.show_field(id, "state").await)
    }

    /// Waits (polls) until `n` clients are blocked.
    async fn wait_blocked(&mut self, n: i64) {
        crate::eventually!(self, 5000, format!("{n} blocked client(s)"), {
            self.stat("blocked_clients").await == n
        });
    }
}

/// Polls `$cond` (an expression that may `.await`) on layer `$l` until it
/// is true; panics with `$what` if it is still false `$ms` +
/// [`Layer::LATE_MS`] after the start.
#[macro_export]
macro_rules! eventually {
    ($l:expr, $ms:expr, $what:expr, $cond:expr) => {{
        let start = $crate::layer::Layer::now_ms(&*$l);
        let limit = ($ms) + $crate::layer::late_ms(&*$l);
        loop {
            if $cond {
                break;
            }
            let took = $crate::layer::Layer::now_ms(&*$l) - start;
            if took > limit {
                panic!("after {took} ms, still waiting for: {}", $what);
            }
            $crate::layer::Layer::step(&mut *$l).await;
        }
    }};
}

/// Checks `$cond` on layer `$l` at every step for `$ms` milliseconds of the
/// layer's clock: something that must not happen for a while (on a process
/// this waits for real, bounded by `$ms`, which is what is tested).
#[macro_export]
macro_rules! holds_for {
    ($l:expr, $ms:expr, $what:expr, $cond:expr) => {{
        let end = $crate::layer::Layer::now_ms(&*$l) + ($ms);
        loop {
            assert!(
                $cond,
                "{} (at {} ms)",
                $what,
                $crate::layer::Layer::now_ms(&*$l)
            );
            if $crate::layer::Layer::now_ms(&*$l) >= end {
                break;
            }
            $crate::layer::Layer::step(&mut *$l).await;
        }
    }};
}

/// [`Layer::LATE_MS`] of a layer value (for the macros, which only see an
/// expression).
pub fn late_ms<L: Layer + ?Sized>(_: &L) -> u64 {
    L::LATE_MS
}

/// Asserts that something took between `lo` and `hi` + [`Layer::LATE_MS`]
/// milliseconds of layer `L`'s clock.
pub fn assert_took<L: Layer>(what: &str, took: u64, lo: u64, hi: u64) {
    let hi = hi + L::LATE_MS;
    assert!(
        (lo..=hi).contains(&took),
        "{what} after {took} ms, expected {lo}..={hi}"
    );
}

/// Runs a scenario's future to completion on a current-thread runtime.
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// Runs `scenario` on a fresh [`Process`].
pub fn on_process(scenario: impl AsyncFnOnce(&mut Process)) {
    run(async {
        let mut p = Process::start().await;
        scenario(&mut p).await;
    });
}

/// A real `disque-server` with one raw connection per client number. Every
/// reply's wire bytes are checked against the encoding of the parsed
/// [`Reply`], so comparing replies compares exact bytes (status vs bulk,
/// `$-1` vs `*-1` vs `*0`).
pub struct Process {
    /// The server (killed on drop).
    pub server: Server,
    conns: HashMap<u32, Raw>,
    started: Instant,
}

impl Process {
    /// A fresh server with default options.
    pub async fn start() -> Process {
        Process::on(Server::start().await)
    }

    /// Drives `server`.
    pub fn on(server: Server) -> Process {
        Process {
            server,
            conns: HashMap::new(),
            started: Instant::now(),
        }
    }

    async fn conn(&mut self, client: u32) -> &mut Raw {
        if !self.conns.contains_key(&client) {
            let raw = self.server.raw().await;
            self.conns.insert(client, raw);
        }
        self.conns.get_mut(&client).expect("just connected")
    }
}

/// Asserts that `wire` is exactly how `reply` is encoded.
fn check_wire(wire: &[u8], reply: &Reply) {
    let mut canonical = BytesMut::new();
    reply.encode(&mut canonical);
    assert_eq!(
        String::from_utf8_lossy(wire),
        String::from_utf8_lossy(&canonical),
        "reply bytes are not the canonical encoding"
    );
}

impl Layer for Process {
    const SHELL: bool = true;
    const LATE_MS: u64 = 950;

    async fn call_as(&mut self, client: u32, words: &[&str]) -> Reply {
        let raw = self.conn(client).await;
        raw.cmd(words).await;
        let (wire, reply) = raw.frame().await;
        check_wire(&wire, &reply);
        reply
    }

    async fn send(&mut self, client: u32, words: &[&str]) {
        self.conn(client).await.cmd(words).await;
    }

    async fn reply_within(&mut self, client: u32, ms: u64) -> Option<Reply> {
        let raw = self.conn(client).await;
        let (wire, reply) = raw.frame_within(Duration::from_millis(ms)).await?;
        check_wire(&wire, &reply);
        Some(reply)
    }

    async fn sleep(&mut self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    async fn step(&mut self) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn stat(&mut self, name: &str) -> i64 {
        let info = text(&self.call(&["INFO", "all"]).await);
        info_field(&info, name)
            .unwrap_or_else(|| panic!("no {name} in INFO"))
            .parse()
            .expect("a number")
    }

    async fn flush_all(&mut self) {
        assert_eq!(
            self.line("DEBUG FLUSHALL").await,
            crate::reply::status("OK")
        );
    }

    async fn my_id(&mut self) -> String {
        text(&self.line("CLUSTER MYID").await)
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    async fn align_to_second(&mut self) {
        loop {
            let sub = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .subsec_millis();
            if sub < 300 {
                return;
            }
            // Part of the scenario's timing, bounded by a second.
            tokio::time::sleep(Duration::from_millis(u64::from(1000 - sub) + 5)).await;
        }
    }
}
