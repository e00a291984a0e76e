//! A cluster-aware client: picks the healthiest node with `HELLO`, moves
//! away from nodes that are leaving the cluster or stop answering, and
//! sends commands about a job to the node that created it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tokio::net::ToSocketAddrs;

use crate::jobs::{expect_integer, job_args, node_prefix, Args};
use crate::options::is_leaving;
use crate::{Client, ClientError, ClientOptions, HelloNode, Reply};

/// Priority `HELLO` gives to failing and leaving nodes.
const PRIORITY_UNUSABLE: u32 = 100;

/// A client for a whole cluster.
///
/// It talks to one node at a time, chosen among the nodes with the lowest
/// `HELLO` priority (1 healthy, 5 no link, 10 possibly failing, 100 failing
/// or leaving), and keeps that node unless:
///
/// * the node answers `-LEAVING` (the command had no effect): the client
///   marks it as leaving, moves to the best other node, refreshes its view
///   with `HELLO` there, and sends the command again;
/// * the connection fails or a reply does not come in time: the call
///   returns the error (the command may or may not have run) and the next
///   call moves to the best reachable node, retrying with the back-off of
///   [`ClientOptions::reconnect`].
///
/// `ACKJOB`, `NACK`, `WORKING` and `SHOW` go to the node that created the
/// job (its ID carries the first 8 characters of that node's ID) when that
/// node is known and usable, over a second connection kept for it; they
/// fall back to the current node otherwise.
///
/// ```no_run
/// # async fn demo() -> Result<(), disque_client::ClientError> {
/// use disque_client::{AddJobOptions, ClusterClient, GetJobOptions};
///
/// let mut cluster = ClusterClient::connect("127.0.0.1:7711").await?;
/// let id = cluster.add_job("emails", "hello", 5_000, &AddJobOptions::default()).await?;
/// for job in cluster.get_job(&["emails"], &GetJobOptions::default()).await? {
///     cluster.ack_job(&[&job.id]).await?; // sent to the node that created it
/// }
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ClusterClient {
    /// Open connections by node ID; the current node's is the default.
    connections: HashMap<String, Client>,
    /// ID of the node in use.
    current: String,
    /// The cluster as last seen by `HELLO`.
    nodes: Vec<HelloNode>,
    /// Address used for nodes whose `HELLO` entry has no IP: the seed's.
    fallback_ip: Option<IpAddr>,
    options: ClientOptions,
}

impl ClusterClient {
    /// [`ClusterClient::connect_with`] with [`ClientOptions::default`].
    pub async fn connect(seed: impl ToSocketAddrs) -> Result<ClusterClient, ClientError> {
        ClusterClient::connect_with(seed, ClientOptions::default()).await
    }

    /// Connects to `seed` (within the connect timeout), asks it for the
    /// cluster's nodes with `HELLO` (within the command timeout), and stays
    /// there unless another node has a lower priority, in which case it
    /// connects to that node (falling back to the seed if none answers).
    pub async fn connect_with(
        seed: impl ToSocketAddrs,
        options: ClientOptions,
    ) -> Result<ClusterClient, ClientError> {
        let mut client = Client::connect_with(seed, node_options(&options)).await?;
        let hello = client.hello().await?;
        let mut cluster = ClusterClient {
            fallback_ip: client.peer_addr().map(|a| a.ip()),
            connections: HashMap::from([(hello.my_id.clone(), client)]),
            current: hello.my_id,
            nodes: hello.nodes,
            options,
        };
        let best = cluster.best_priority();
        if cluster.current_node().map(|n| n.priority) != Some(best) {
            // Best first; the seed (still connected) is the fallback.
            let _ = cluster.switch_node(&[]).await;
        }
        Ok(cluster)
    }

    /// The nodes as last reported by `HELLO` (with the nodes this client
    /// found leaving or unreachable marked at priority 100).
    pub fn nodes(&self) -> &[HelloNode] {
        &self.nodes
    }

    /// The node currently in use, if it is in the node list.
    pub fn current_node(&self) -> Option<&HelloNode> {
        self.nodes.iter().find(|n| n.id == self.current)
    }

    /// The node that created job `id`, when it is known and not failing or
    /// leaving.
    pub fn node_for_job(&self, id: &str) -> Option<&HelloNode> {
        let prefix = node_prefix(id)?;
        self.nodes
            .iter()
            .find(|n| n.id.starts_with(prefix) && n.priority < PRIORITY_UNUSABLE)
    }

    /// The connection to the current node, for commands that must go to it
    /// (blocking reads, pipelining). `None` after a connection failure until
    /// the next [`ClusterClient::call`] reconnects.
    pub fn client(&mut self) -> Option<&mut Client> {
        self.connections.get_mut(&self.current)
    }

    /// Asks the current node for the cluster's nodes again.
    pub async fn refresh(&mut self) -> Result<(), ClientError> {
        let hello = self.hello().await?;
        self.nodes = hello.nodes;
        Ok(())
    }

    /// Sends one command to the current node and reads its reply, like
    /// [`Client::call`], moving to another node when the current one is
    /// leaving the cluster. The `-LEAVING` reply is returned only when no
    /// other node accepts the command.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        let mut tried: Vec<String> = Vec::new();
        loop {
            if !self.connections.contains_key(&self.current) {
                self.reconnect().await?;
            }
            let current = self.current.clone();
            let Some(reply) = self.call_on(&current, args).await? else {
                return Err(ClientError::Closed);
            };
            if !is_leaving(&reply) {
                return Ok(reply);
            }
            self.mark_unusable(&current);
            tried.push(current);
            if self.switch_node(&tried).await.is_err() {
                return Ok(reply);
            }
        }
    }

    /// Sends a command about job `id` to the node that created it when
    /// possible, else to the current node.
    pub(crate) async fn call_for_job(
        &mut self,
        id: &[u8],
        args: &Args<'_>,
    ) -> Result<Reply, ClientError> {
        if let Some(owner) = self.owner_of(id) {
            match self.call_on(&owner, args).await? {
                Some(reply) if !is_leaving(&reply) => return Ok(reply),
                Some(_) | None => self.mark_unusable(&owner),
            }
        }
        self.call(args).await
    }

    /// `NAME [DELAY d] id...`, one command per node that created some of
    /// the jobs; the sum of the integer replies.
    pub(crate) async fn count_for_jobs<I: AsRef<[u8]>>(
        &mut self,
        name: &'static str,
        delay: Option<u64>,
        ids: &[I],
    ) -> Result<i64, ClientError> {
        let mut groups: Vec<(Option<String>, Vec<&[u8]>)> = Vec::new();
        for id in ids {
            let owner = self.owner_of(id.as_ref());
            match groups.iter_mut().find(|(o, _)| *o == owner) {
                Some((_, group)) => group.push(id.as_ref()),
                None => groups.push((owner, vec![id.as_ref()])),
            }
        }
        if groups.is_empty() {
            groups.push((None, Vec::new()));
        }
        let mut total = 0;
        for (owner, group) in groups {
            let args = job_args(name, delay, &group);
            let reply = match &owner {
                Some(_) => self.call_for_job(owner_probe(&group), &args).await?,
                None => self.call(&args).await?,
            };
            total += expect_integer(reply)?;
        }
        Ok(total)
    }

    /// The ID of the usable node (not the current one) that created job
    /// `id`.
    fn owner_of(&self, id: &[u8]) -> Option<String> {
        let node = self.node_for_job(std::str::from_utf8(id).ok()?)?;
        (node.id != self.current).then(|| node.id.clone())
    }

    /// Sends a command to node `id`, connecting to it first if needed.
    /// `Ok(None)` when no connection could be made; a failure during the
    /// command drops the connection and is returned. Either way the node
    /// is marked unusable until the next `HELLO`.
    async fn call_on<A: AsRef<[u8]>>(
        &mut self,
        id: &str,
        args: &[A],
    ) -> Result<Option<Reply>, ClientError> {
        if !self.connections.contains_key(id) {
            let Some(node) = self.nodes.iter().find(|n| n.id == id).cloned() else {
                return Ok(None);
            };
            match self.open(&node).await {
                Ok(client) => {
                    self.connections.insert(id.to_string(), client);
                }
                Err(_) => {
                    self.mark_unusable(id);
                    return Ok(None);
                }
            }
        }
        let Some(client) = self.connections.get_mut(id) else {
            return Ok(None);
        };
        match client.call(args).await {
            Ok(reply) => Ok(Some(reply)),
            Err(e) => {
                // Until a HELLO says otherwise, prefer the other nodes.
                self.connections.remove(id);
                self.mark_unusable(id);
                Err(e)
            }
        }
    }

    fn mark_unusable(&mut self, id: &str) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.id == id) {
            node.priority = PRIORITY_UNUSABLE;
        }
    }

    /// The lowest priority among known nodes.
    fn best_priority(&self) -> u32 {
        self.nodes
            .iter()
            .map(|n| n.priority)
            .min()
            .unwrap_or(PRIORITY_UNUSABLE)
    }

    /// Moves to the best reachable node after the current one failed,
    /// retrying with the configured back-off.
    async fn reconnect(&mut self) -> Result<(), ClientError> {
        let backoff = self.options.reconnect.clone();
        let mut attempt = 0;
        loop {
            match self.switch_node(&[]).await {
                Ok(()) => return Ok(()),
                Err(e) => match &backoff {
                    Some(b) if attempt < b.attempts => {
                        tokio::time::sleep(b.delay(attempt)).await;
                        attempt += 1;
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// Connects to the best node not in `exclude`, lowest priority first
    /// (nodes at priority 100 last), and refreshes the node list from it.
    async fn switch_node(&mut self, exclude: &[String]) -> Result<(), ClientError> {
        let mut candidates: Vec<HelloNode> = self
            .nodes
            .iter()
            .filter(|n| !exclude.contains(&n.id))
            .cloned()
            .collect();
        candidates.sort_by_key(|n| n.priority);
        let mut last_error = ClientError::Closed;
        for node in candidates {
            let mut client = match self.connections.remove(&node.id) {
                Some(client) => client,
                None => match self.open(&node).await {
                    Ok(client) => client,
                    Err(e) => {
                        last_error = e;
                        continue;
                    }
                },
            };
            match client.hello().await {
                Ok(hello) => {
                    self.current = hello.my_id.clone();
                    self.nodes = hello.nodes;
                    for id in exclude {
                        self.mark_unusable(id);
                    }
                    self.connections.insert(hello.my_id, client);
                    return Ok(());
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Opens a connection to `node`.
    async fn open(&self, node: &HelloNode) -> Result<Client, ClientError> {
        let addr = match node.ip.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, node.port),
            Err(_) if node.ip.is_empty() => match self.fallback_ip {
                Some(ip) => SocketAddr::new(ip, node.port),
                None => return Err(ClientError::Closed),
            },
            Err(_) => {
                let host = (node.ip.as_str(), node.port);
                return Client::connect_with(host, node_options(&self.options)).await;
            }
        };
        Client::connect_with(addr, node_options(&self.options)).await
    }
}

/// The options of one node's connection: the cluster client's, except that
/// reconnecting is the cluster client's job (it may pick another node).
fn node_options(options: &ClientOptions) -> ClientOptions {
    ClientOptions {
        reconnect: None,
        ..options.clone()
    }
}

/// Any job ID of a group (all created by the same node), to route it.
fn owner_probe<'a>(group: &[&'a [u8]]) -> &'a [u8] {
    group.first().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{bulk, fake_server};
    use crate::AddJobOptions;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    /// The RESP bytes of a HELLO reply from `me` listing `nodes`
    /// `(id, port, priority)` on 127.0.0.1 (the first with an empty IP).
    fn hello(me: &str, nodes: &[(&str, u16, u32)]) -> Vec<u8> {
        let mut out = format!("*{}\r\n:1\r\n", nodes.len() + 2).into_bytes();
        out.extend(bulk(me.as_bytes()));
        for (i, (id, port, priority)) in nodes.iter().enumerate() {
            out.extend_from_slice(b"*4\r\n");
            out.extend(bulk(id.as_bytes()));
            out.extend(bulk(if i == 0 { b"" } else { b"127.0.0.1" }));
            out.extend(bulk(port.to_string().as_bytes()));
            out.extend(bulk(priority.to_string().as_bytes()));
        }
        out
    }

    /// A fake node called `me` that answers HELLO with `hello_reply()`,
    /// ADDJOB with `addjob` and records the ADDJOBs it received.
    async fn node(
        me: &'static str,
        hello_reply: Arc<Mutex<Vec<u8>>>,
        addjob: &'static str,
        log: Arc<Mutex<Vec<&'static str>>>,
    ) -> SocketAddr {
        fake_server(move |args| match &args[0][..] {
            b"HELLO" => hello_reply.lock().unwrap().clone(),
            b"ADDJOB" => {
                log.lock().unwrap().push(me);
                format!("{addjob}\r\n").into_bytes()
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        })
        .await
    }

    const LEAVING: &str =
        "-LEAVING This node is leaving the cluster, please connect to a different one";

    #[tokio::test]
    async fn moves_to_lower_priority_then_away_from_leaving_node() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let a_hello = Arc::new(Mutex::new(Vec::new()));
        let b_hello = Arc::new(Mutex::new(Vec::new()));
        let c_hello = Arc::new(Mutex::new(Vec::new()));
        let a = node("A", a_hello.clone(), "+D-a", log.clone()).await;
        let b = node("B", b_hello.clone(), LEAVING, log.clone()).await;
        let c = node("C", c_hello.clone(), "+D-c", log.clone()).await;
        // A sees itself as failing-ish (priority 10), B as the best node.
        let view = |me| {
            hello(
                me,
                &[("A", a.port(), 10), ("B", b.port(), 1), ("C", c.port(), 5)],
            )
        };
        *a_hello.lock().unwrap() = view("A");
        *b_hello.lock().unwrap() = view("B");
        *c_hello.lock().unwrap() = view("C");

        let mut cluster = ClusterClient::connect(a).await.unwrap();
        assert_eq!(cluster.current_node().unwrap().id, "B");
        // B is leaving: the job goes to C (priority 5) rather than A (10).
        let id = cluster
            .add_job("q", "x", 0, &AddJobOptions::default())
            .await
            .unwrap();
        assert_eq!(id, "D-c");
        assert_eq!(*log.lock().unwrap(), vec!["B", "C"]);
        assert_eq!(cluster.current_node().unwrap().id, "C");
        let b_entry = cluster.nodes().iter().find(|n| n.id == "B").unwrap();
        assert_eq!(b_entry.priority, PRIORITY_UNUSABLE);
    }

    #[tokio::test]
    async fn stays_on_seed_when_it_is_best_and_uses_seed_ip_for_empty_ip() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let a_hello = Arc::new(Mutex::new(Vec::new()));
        let a = node("A", a_hello.clone(), LEAVING, log.clone()).await;
        *a_hello.lock().unwrap() = hello("A", &[("A", a.port(), 1)]);
        let mut cluster = ClusterClient::connect(a).await.unwrap();
        assert_eq!(cluster.current_node().unwrap().id, "A");
        // The only node is leaving: the LEAVING reply comes back.
        let reply = cluster.call(&["ADDJOB", "q", "x", "0"]).await.unwrap();
        assert!(is_leaving(&reply));
        match cluster
            .add_job("q", "x", 0, &AddJobOptions::default())
            .await
        {
            Err(e) => assert!(e.is_leaving()),
            Ok(id) => panic!("unexpected job {id}"),
        }
        assert!(cluster.client().is_some());
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;
    use crate::connection::tests::{quick, within};
    use crate::fake::{bulk, fake_server};
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<String>>>;

    fn node_id(c: char) -> String {
        c.to_string().repeat(40)
    }

    fn job_id(node: char) -> String {
        format!(
            "D-{}-0123456789abcdefghijklmn-05a1",
            node.to_string().repeat(8)
        )
    }

    /// A fake node that logs `<me> <COMMAND> <argument count>` and answers
    /// HELLO with `hello`, ACKJOB and NACK with the number of IDs, SHOW with
    /// nil, and everything else with `+OK`; `leaving` nodes refuse job
    /// commands with -LEAVING.
    async fn node(me: char, hello: Arc<Mutex<Vec<u8>>>, log: Log, leaving: bool) -> SocketAddr {
        fake_server(move |args| {
            let name = String::from_utf8_lossy(&args[0]).to_uppercase();
            if name != "HELLO" {
                log.lock()
                    .unwrap()
                    .push(format!("{me} {name} {}", args.len() - 1));
            }
            match name.as_str() {
                "HELLO" => hello.lock().unwrap().clone(),
                _ if leaving => b"-LEAVING This node is leaving the cluster\r\n".to_vec(),
                "ACKJOB" | "NACK" => {
                    let ids = args.iter().filter(|a| a.starts_with(b"D-")).count();
                    format!(":{ids}\r\n").into_bytes()
                }
                "WORKING" => b":5\r\n".to_vec(),
                "SHOW" => b"$-1\r\n".to_vec(),
                "CLOSE" => b"CLOSE".to_vec(),
                _ => b"+OK\r\n".to_vec(),
            }
        })
        .await
    }

    /// Three fake nodes a, b, c (c leaving when `c_leaving`), all healthy
    /// in HELLO; the client starts on a.
    async fn cluster(c_leaving: bool) -> (ClusterClient, Log) {
        let log: Log = Arc::default();
        let hello = Arc::new(Mutex::new(Vec::new()));
        let mut ports = Vec::new();
        for (name, leaving) in [('a', false), ('b', false), ('c', c_leaving)] {
            let addr = node(name, hello.clone(), log.clone(), leaving).await;
            ports.push((name, addr.port()));
        }
        let mut reply = b"*5\r\n:1\r\n".to_vec();
        reply.extend(bulk(node_id('a').as_bytes()));
        for (name, port) in &ports {
            reply.extend_from_slice(b"*4\r\n");
            reply.extend(bulk(node_id(*name).as_bytes()));
            reply.extend(bulk(b"127.0.0.1"));
            reply.extend(bulk(port.to_string().as_bytes()));
            reply.extend(bulk(b"1"));
        }
        *hello.lock().unwrap() = reply;
        let seed = ("127.0.0.1", ports[0].1);
        let client = ClusterClient::connect_with(seed, quick()).await.unwrap();
        (client, log)
    }

    fn take(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[tokio::test]
    async fn job_commands_go_to_the_node_that_created_the_job() {
        let (mut c, log) = cluster(false).await;
        assert_eq!(c.current_node().unwrap().id, node_id('a'));
        assert_eq!(c.node_for_job(&job_id('b')).unwrap().id, node_id('b'));
        assert!(c.node_for_job(&job_id('z')).is_none());
        assert_eq!(c.working(job_id('b')).await.unwrap(), 5);
        assert_eq!(c.show(job_id('c')).await.unwrap(), None);
        assert_eq!(take(&log), ["b WORKING 1", "c SHOW 1"]);
        // ACKJOB and NACK are split by creating node; unknown nodes' jobs
        // and the current node's go to the current node.
        let ids = [
            job_id('b'),
            job_id('a'),
            job_id('b'),
            job_id('z'),
            job_id('c'),
        ];
        assert_eq!(c.ack_job(&ids).await.unwrap(), 5);
        assert_eq!(c.nack_with_delay(3, &ids[..1]).await.unwrap(), 1);
        assert_eq!(
            take(&log),
            ["b ACKJOB 2", "a ACKJOB 2", "c ACKJOB 1", "b NACK 3"]
        );
        // Other commands stay on the current node.
        c.call(&["PING"]).await.unwrap();
        assert_eq!(take(&log), ["a PING 0"]);
    }

    #[tokio::test]
    async fn a_leaving_owner_is_skipped() {
        let (mut c, log) = cluster(true).await;
        assert_eq!(c.working(job_id('c')).await.unwrap(), 5);
        assert_eq!(take(&log), ["c WORKING 1", "a WORKING 1"]);
        // Marked unusable: the next command about its jobs goes to a.
        assert!(c.node_for_job(&job_id('c')).is_none());
        c.show(job_id('c')).await.unwrap();
        assert_eq!(take(&log), ["a SHOW 1"]);
    }

    #[tokio::test]
    async fn a_lost_node_is_replaced_by_the_best_other_one() {
        let (mut c, log) = cluster(false).await;
        assert!(matches!(
            within(c.call(&["CLOSE"])).await,
            Err(ClientError::Closed)
        ));
        assert!(c.client().is_none());
        // The next call moves to the best other node (b and c are at
        // priority 1, b first).
        within(c.call(&["PING"])).await.unwrap();
        assert_eq!(take(&log), ["a CLOSE 0", "b PING 0"]);
    }

    #[tokio::test]
    async fn hello_on_a_silent_seed_times_out() {
        let silent = fake_server(|_| Vec::new()).await;
        let started = within(ClusterClient::connect_with(silent, quick())).await;
        assert!(matches!(started, Err(ClientError::Timeout)));
    }
}
