//! A cluster-aware client: picks a good node with `HELLO` and moves away
//! from nodes that are leaving the cluster.

use std::net::IpAddr;

use tokio::net::ToSocketAddrs;

use crate::{Client, ClientError, HelloNode, Reply};

/// Priority `HELLO` gives to failing and leaving nodes.
const PRIORITY_UNUSABLE: u32 = 100;

/// A client that talks to one node of a cluster at a time, chosen among the
/// nodes with the lowest `HELLO` priority.
///
/// When the node answers `-LEAVING` (it refused the command, which had no
/// effect) the client marks it as leaving, connects to the best other node,
/// refreshes its view with `HELLO` there, and sends the command again. A
/// broken connection is reported to the caller (the command may or may not
/// have run) and the next call connects to the best known node.
#[derive(Debug)]
pub struct ClusterClient {
    client: Option<Client>,
    /// ID of the node `client` is connected to.
    current: String,
    /// The cluster as last seen by `HELLO`.
    nodes: Vec<HelloNode>,
    /// Address used for nodes whose `HELLO` entry has no IP: the seed's.
    fallback_ip: Option<IpAddr>,
}

impl ClusterClient {
    /// Connects to `seed`, asks it for the cluster's nodes with `HELLO`,
    /// and stays there unless another node has a lower priority, in which
    /// case it connects to that node (falling back to the seed if none
    /// answers).
    pub async fn connect(seed: impl ToSocketAddrs) -> Result<ClusterClient, ClientError> {
        let mut client = Client::connect(seed).await?;
        let hello = client.hello().await?;
        let mut cluster = ClusterClient {
            fallback_ip: client.peer_addr().map(|a| a.ip()),
            client: Some(client),
            current: hello.my_id,
            nodes: hello.nodes,
        };
        let best = cluster.best_priority();
        if cluster.current_node().map(|n| n.priority) != Some(best) {
            let seed_client = cluster.client.take();
            let seed_id = cluster.current.clone();
            if cluster.switch_node(&[]).await.is_err() {
                cluster.client = seed_client;
                cluster.current = seed_id;
            }
        }
        Ok(cluster)
    }

    /// The nodes as last reported by `HELLO` (with leaving nodes this client
    /// met marked at priority 100).
    pub fn nodes(&self) -> &[HelloNode] {
        &self.nodes
    }

    /// The node currently in use, if it is in the node list.
    pub fn current_node(&self) -> Option<&HelloNode> {
        self.nodes.iter().find(|n| n.id == self.current)
    }

    /// The connection to the current node, for commands that must go to it
    /// (blocking reads, pipelining). `None` after a connection failure until
    /// the next [`ClusterClient::call`] reconnects.
    pub fn client(&mut self) -> Option<&mut Client> {
        self.client.as_mut()
    }

    /// Sends one command and reads its reply, like [`Client::call`], moving
    /// to another node when the current one is leaving the cluster. The
    /// `-LEAVING` reply is returned only when no other node accepts the
    /// command.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        let mut tried: Vec<String> = Vec::new();
        loop {
            if self.client.is_none() {
                self.switch_node(&tried).await?;
            }
            let Some(client) = self.client.as_mut() else {
                return Err(ClientError::Closed);
            };
            let reply = match client.call(args).await {
                Ok(reply) => reply,
                Err(e) => {
                    self.client = None;
                    return Err(e);
                }
            };
            if !is_leaving(&reply) {
                return Ok(reply);
            }
            let leaving = self.current.clone();
            if let Some(node) = self.nodes.iter_mut().find(|n| n.id == leaving) {
                node.priority = PRIORITY_UNUSABLE;
            }
            tried.push(leaving);
            let previous = self.client.take();
            if self.switch_node(&tried).await.is_err() {
                self.client = previous;
                return Ok(reply);
            }
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

    /// Connects to the best node not in `exclude` (nor the current one when
    /// it is known to be leaving), lowest priority first, and refreshes the
    /// node list from it. Nodes at priority 100 are tried last.
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
            let ip = match node.ip.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) if node.ip.is_empty() => match self.fallback_ip {
                    Some(ip) => ip,
                    None => continue,
                },
                Err(_) => match tokio::net::lookup_host((node.ip.as_str(), node.port)).await {
                    Ok(mut addrs) => match addrs.next() {
                        Some(addr) => addr.ip(),
                        None => continue,
                    },
                    Err(e) => {
                        last_error = e.into();
                        continue;
                    }
                },
            };
            let mut client = match Client::connect((ip, node.port)).await {
                Ok(client) => client,
                Err(e) => {
                    last_error = e.into();
                    continue;
                }
            };
            match client.hello().await {
                Ok(hello) => {
                    self.current = hello.my_id;
                    self.nodes = hello.nodes;
                    for id in exclude {
                        if let Some(n) = self.nodes.iter_mut().find(|n| &n.id == id) {
                            n.priority = PRIORITY_UNUSABLE;
                        }
                    }
                    self.client = Some(client);
                    return Ok(());
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

fn is_leaving(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(text) if text.starts_with(b"LEAVING"))
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
