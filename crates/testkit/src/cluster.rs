//! A local cluster of real `disque-server` processes, for the cluster
//! end-to-end tests and the fault checker (`disque-faults`): start N nodes
//! on free loopback ports, join them with `CLUSTER MEET`, wait until every
//! node reaches every other one; kill -9, restart (same port, same
//! directory, so same nodes.conf and AOF), SIGSTOP/SIGCONT; and helpers that
//! read CLUSTER INFO/NODES, HELLO and SHOW.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use disque_client::{Client, Reply};

use crate::poll_until;
use crate::reply::*;
use crate::server::{info_field, Server, ServerOptions};

/// How long a fresh cluster may take to join.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(20);

/// N running nodes; every one is killed on drop.
pub struct Cluster {
    /// The nodes, by index.
    pub nodes: Vec<Server>,
    /// `CLUSTER MYID` of each node, by index.
    pub ids: Vec<String>,
}

impl Cluster {
    /// N fresh nodes with default options, joined.
    pub async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, Server::options()).await
    }

    /// N fresh nodes started with `opts`, joined: node 0 meets every other
    /// node, gossip does the rest; returns once every node reports
    /// `cluster_reachable_nodes:N-1`.
    pub async fn start_with(n: usize, opts: ServerOptions) -> Cluster {
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(opts.clone().start().await);
        }
        let mut ids = Vec::with_capacity(n);
        for s in &nodes {
            let mut c = s.client().await;
            ids.push(myid(&mut c).await);
        }
        let cluster = Cluster { nodes, ids };
        let mut c0 = cluster.client(0).await;
        for i in 1..n {
            let port = cluster.nodes[i].port.to_string();
            let r = c0
                .call(&["CLUSTER", "MEET", "127.0.0.1", &port])
                .await
                .expect("CLUSTER MEET");
            assert_eq!(r, status("OK"), "CLUSTER MEET 127.0.0.1 {port}");
        }
        cluster.wait_joined().await;
        cluster
    }

    /// Starts one more fresh node (not joined: the test meets it) and
    /// returns its index.
    pub async fn add_node(&mut self, opts: ServerOptions) -> usize {
        let s = opts.start().await;
        let mut c = s.client().await;
        self.ids.push(myid(&mut c).await);
        self.nodes.push(s);
        self.nodes.len() - 1
    }

    /// How many nodes it has (killed ones included).
    #[expect(clippy::len_without_is_empty, reason = "a cluster has nodes")]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s client port.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Every node's client port, by index.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|s| s.port).collect()
    }

    /// A connection to node `i`.
    pub async fn client(&self, i: usize) -> Client {
        self.nodes[i].client().await
    }

    /// One client per node, by index.
    pub async fn clients(&self) -> Vec<Client> {
        let mut v = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            v.push(self.client(i).await);
        }
        v
    }

    /// The index of the node with this id.
    pub fn index_of(&self, id: &str) -> usize {
        self.ids
            .iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{id} is not a node of this cluster"))
    }

    /// Waits until every node reaches all the others (`cluster_reachable_nodes`)
    /// and has a live link to each of them without failure flags (CLUSTER
    /// NODES). After a restart the others count the node as reachable before
    /// their links are up again, so both are checked.
    pub async fn wait_joined(&self) {
        let want = self.len() - 1;
        for i in 0..self.len() {
            self.wait_reachable(i, want, JOIN_DEADLINE).await;
        }
        for i in 0..self.len() {
            for j in 0..self.len() {
                if i != j {
                    self.wait_linked(i, j, JOIN_DEADLINE).await;
                }
            }
        }
    }

    /// Waits until node `i` lists node `j` as `connected`, without
    /// handshake, fail? or fail flags.
    pub async fn wait_linked(&self, i: usize, j: usize, timeout: Duration) {
        let mut c = self.client(i).await;
        let deadline = Instant::now() + timeout;
        loop {
            let nodes = cluster_nodes(&mut c).await;
            if let Some(l) = nodes.get(&self.ids[j]) {
                if l.link == "connected"
                    && !l.has_flag("fail?")
                    && !l.has_flag("fail")
                    && !l.has_flag("handshake")
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "node {i} has no healthy link to node {j} after {timeout:?}: {:?}",
                    nodes.get(&self.ids[j])
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until node `i` reports `cluster_reachable_nodes:<n>`.
    pub async fn wait_reachable(&self, i: usize, n: usize, timeout: Duration) {
        let mut c = self.client(i).await;
        let deadline = Instant::now() + timeout;
        loop {
            let info = cluster_info(&mut c).await;
            if info_field(&info, "cluster_reachable_nodes") == Some(n.to_string()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "node {i} (port {}) does not reach {n} nodes after {timeout:?}:\n{info}\n--- log ---\n{}",
                    self.port(i),
                    self.nodes[i].log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// kill -9 node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts node `i` (killing it first if it runs) on the same port and
    /// directory; it keeps its id from nodes.conf.
    pub async fn restart(&mut self, i: usize) {
        self.nodes[i].restart().await;
    }

    /// [`Cluster::restart`] with extra `--name value` arguments.
    pub async fn restart_with(&mut self, i: usize, extra: &[(&str, &str)]) {
        self.nodes[i].restart_with(extra).await;
    }

    /// SIGSTOP node `i` (it stays silent until [`Cluster::resume`]).
    pub fn pause(&self, i: usize) {
        self.nodes[i].signal(libc::SIGSTOP);
    }

    /// SIGCONT node `i`.
    pub fn resume(&self, i: usize) {
        self.nodes[i].signal(libc::SIGCONT);
    }

    /// The nodes (by index) whose SHOW of `id` is not nil.
    pub async fn holders(&self, id: &str) -> Vec<usize> {
        let mut v = Vec::new();
        for i in 0..self.len() {
            if self.nodes[i].child_running() {
                let mut c = self.client(i).await;
                if show(&mut c, id).await.is_some() {
                    v.push(i);
                }
            }
        }
        v
    }
}

impl Server {
    /// True while the process has not been killed by the test.
    pub fn child_running(&self) -> bool {
        self.pid() != 0
    }
}

// ---------------------------------------------------------------------------
// Reading cluster state

/// CLUSTER MYID.
pub async fn myid(c: &mut Client) -> String {
    match cmd(c, "CLUSTER MYID").await {
        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("CLUSTER MYID: {other:?}"),
    }
}

/// CLUSTER INFO as text.
pub async fn cluster_info(c: &mut Client) -> String {
    match cmd(c, "CLUSTER INFO").await {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("CLUSTER INFO: {other:?}"),
    }
}

/// One field of CLUSTER INFO.
pub async fn cluster_info_value(c: &mut Client, key: &str) -> String {
    let text = cluster_info(c).await;
    info_field(&text, key).unwrap_or_else(|| panic!("no {key} in CLUSTER INFO:\n{text}"))
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone)]
pub struct NodeLine {
    /// The node id.
    pub id: String,
    /// `ip:port`.
    pub addr: String,
    /// `myself`, `fail?`, `handshake`, ...
    pub flags: Vec<String>,
    /// `connected` or `disconnected`.
    pub link: String,
}

impl NodeLine {
    /// True when it has flag `f`.
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
}

/// CLUSTER NODES parsed, keyed by node id.
pub async fn cluster_nodes(c: &mut Client) -> HashMap<String, NodeLine> {
    let text = match cmd(c, "CLUSTER NODES").await {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("CLUSTER NODES: {other:?}"),
    };
    let mut m = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 6, "CLUSTER NODES line {line:?}");
        m.insert(
            f[0].to_string(),
            NodeLine {
                id: f[0].to_string(),
                addr: f[1].to_string(),
                flags: f[2].split(',').map(str::to_string).collect(),
                link: f[5].to_string(),
            },
        );
    }
    m
}

/// The flags of node `id` in CLUSTER NODES of `c` ("" if not listed).
pub async fn node_flags(c: &mut Client, id: &str) -> Vec<String> {
    cluster_nodes(c)
        .await
        .get(id)
        .map(|l| l.flags.clone())
        .unwrap_or_default()
}

/// One HELLO node entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HelloNode {
    /// The node id.
    pub id: String,
    /// Its address ("" for itself on a fresh node).
    pub ip: String,
    /// Its client port.
    pub port: String,
    /// Its priority: 1 (reachable), 10 (PFAIL) or 100 (FAIL).
    pub priority: String,
}

/// HELLO: (own id, node entries), checking the reply's shape: `:1`, a bulk
/// id, then 4-element arrays of bulk strings.
pub async fn hello(c: &mut Client) -> (String, Vec<HelloNode>) {
    let r = cmd(c, "HELLO").await;
    let v = items(&r);
    assert!(v.len() >= 3, "HELLO {r:?}");
    assert_eq!(v[0], int(1), "HELLO {r:?}");
    let me = match &v[1] {
        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("HELLO id {other:?}"),
    };
    let nodes = v[2..]
        .iter()
        .map(|e| {
            let e = items(e);
            assert_eq!(e.len(), 4, "HELLO entry {e:?}");
            let s: Vec<String> = e
                .iter()
                .map(|x| match x {
                    Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    other => panic!("HELLO entry item {other:?} is not a bulk string"),
                })
                .collect();
            HelloNode {
                id: s[0].clone(),
                ip: s[1].clone(),
                port: s[2].clone(),
                priority: s[3].clone(),
            }
        })
        .collect();
    (me, nodes)
}

/// The HELLO priority `c` reports for node `id` (None if not listed).
pub async fn hello_priority(c: &mut Client, id: &str) -> Option<String> {
    hello(c)
        .await
        .1
        .into_iter()
        .find(|n| n.id == id)
        .map(|n| n.priority)
}

/// SHOW <id>: None for nil.
pub async fn show(c: &mut Client, id: &str) -> Option<Reply> {
    match c.call(&["SHOW", id]).await.expect("SHOW") {
        Reply::Nil => None,
        r @ Reply::Array(_) => Some(r),
        other => panic!("SHOW {id}: {other:?}"),
    }
}

/// SHOW <id>, which must exist.
pub async fn show_some(c: &mut Client, id: &str) -> Reply {
    show(c, id)
        .await
        .unwrap_or_else(|| panic!("SHOW {id}: nil, expected a job"))
}

/// A string field of a SHOW reply.
pub fn show_str(r: &Reply, name: &str) -> String {
    text(field(r, name))
}

/// An integer field of a SHOW or QSTAT reply.
pub fn show_int(r: &Reply, name: &str) -> i64 {
    integer(field(r, name))
}

/// A list field (nodes-delivered, nodes-confirmed, import-from) as strings.
pub fn show_list(r: &Reply, name: &str) -> Vec<String> {
    match field(r, name) {
        Reply::Array(v) => v.iter().map(text).collect(),
        Reply::Nil => Vec::new(),
        other => panic!("{name}: {other:?}"),
    }
}

/// The state of job `id` on `c` ("" if unknown).
pub async fn job_state(c: &mut Client, id: &str) -> String {
    match show(c, id).await {
        Some(r) => show_str(&r, "state"),
        None => String::new(),
    }
}

/// QSTAT <q>: None for `*-1`.
pub async fn qstat(c: &mut Client, q: &str) -> Option<Reply> {
    match c.call(&["QSTAT", q]).await.expect("QSTAT") {
        Reply::Nil | Reply::NullArray => None,
        r @ Reply::Array(_) => Some(r),
        other => panic!("QSTAT {q}: {other:?}"),
    }
}

/// The sum of QLEN q over the given clients.
pub async fn qlen_sum(cs: &mut [Client], q: &str) -> i64 {
    let mut n = 0;
    for c in cs.iter_mut() {
        n += qlen(c, q).await;
    }
    n
}

/// `INFO jobs` registered_jobs.
pub async fn registered_jobs(c: &mut Client) -> i64 {
    info_field(&info(c, "jobs").await, "registered_jobs")
        .expect("registered_jobs")
        .parse()
        .unwrap()
}

/// GETJOB NOHANG FROM q: the single job entry (queue, id, body) or None.
pub async fn getjob_nohang(c: &mut Client, q: &str) -> Option<(String, String, String)> {
    let r = c
        .call(&["GETJOB", "NOHANG", "FROM", q])
        .await
        .expect("GETJOB");
    match r {
        Reply::Nil | Reply::NullArray => None,
        Reply::Array(v) => {
            assert_eq!(v.len(), 1, "GETJOB NOHANG {q}: {v:?}");
            let e = items(&v[0]);
            Some((text(&e[0]), text(&e[1]), text(&e[2])))
        }
        other => panic!("GETJOB NOHANG FROM {q}: {other:?}"),
    }
}

/// A fresh queue name (queue objects and federation state live on).
pub fn fresh_queue(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}",
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Every job id JSCAN returns (following the cursor), with extra options
/// such as `QUEUE q` or `STATE queued`.
pub async fn jscan_ids(c: &mut Client, opts: &str) -> Vec<String> {
    scan_all(c, "JSCAN", opts).await
}

/// Every queue name QSCAN returns (following the cursor).
pub async fn qscan_names(c: &mut Client) -> Vec<String> {
    scan_all(c, "QSCAN", "").await
}

async fn scan_all(c: &mut Client, command: &str, opts: &str) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let r = cmd(c, &format!("{command} {cursor} COUNT 100 {opts}")).await;
        let v = items(&r);
        assert_eq!(v.len(), 2, "{command}: {r:?}");
        out.extend(items(&v[1]).iter().map(text));
        cursor = text(&v[0]);
        if cursor == "0" {
            out.sort();
            out.dedup();
            return out;
        }
    }
    panic!("{command} cursor never returned to 0");
}

/// Waits until `c` reports `blocked` clients on queue `q` (QSTAT).
pub async fn wait_blocked(c: &mut Client, q: &str, blocked: i64) {
    poll_until!(secs(5), format!("{blocked} client(s) blocked on {q}"), {
        match qstat(c, q).await {
            Some(r) => integer(field(&r, "blocked")) == blocked,
            None => false,
        }
    });
}

/// The job entries of a GETJOB reply as (queue, id, body).
pub fn job_entries(r: &Reply) -> Vec<(String, String, String)> {
    items(r)
        .iter()
        .map(|e| {
            let e = items(e);
            (text(&e[0]), text(&e[1]), text(&e[2]))
        })
        .collect()
}
