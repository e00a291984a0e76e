//! HELLO and the CLUSTER subcommands that make sense on a node (commands.md §4.1, §4.4).

use crate::args::is;
use crate::effects::{Effects, Env};
use crate::ids::NodeId;
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

const WRONG_SUBCOMMAND: &str = "ERR Wrong CLUSTER subcommand or number of arguments";

impl Node {
    /// Nodes this node has a bus link to (none until the cluster bus exists).
    pub(crate) fn linked_nodes(&self) -> Vec<NodeId> {
        Vec::new()
    }

    /// `HELLO`: `[1, myid, [id, ip, port, priority]...]`.
    pub(crate) fn cmd_hello(&self) -> Reply {
        let me = Reply::Array(vec![
            Reply::bulk_from(self.myself.as_bytes()),
            Reply::Bulk(Bytes::new()),
            Reply::bulk_string(self.config.port.to_string()),
            Reply::Bulk(Bytes::from_static(if self.leaving { b"100" } else { b"1" })),
        ]);
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::bulk_from(self.myself.as_bytes()),
            me,
        ])
    }

    /// `CLUSTER <subcommand> [args]`.
    pub(crate) fn cmd_cluster(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let sub = &args[1][..];
        let argc = args.len();
        match () {
            _ if is(sub, "myid") && argc == 2 => Reply::bulk_from(self.myself.as_bytes()),
            _ if is(sub, "nodes") && argc == 2 => Reply::bulk_string(self.nodes_description()),
            _ if is(sub, "info") && argc == 2 => Reply::bulk_string(format!(
                "cluster_state:ok\r\ncluster_known_nodes:1\r\ncluster_reachable_nodes:{}\r\ncluster_size:{}\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n",
                self.reachable_count(),
                self.cluster_size()
            )),
            _ if is(sub, "leaving") && argc == 2 => Reply::status(if self.leaving { "yes" } else { "no" }),
            _ if is(sub, "leaving") && argc == 3 => {
                let arg = &args[2][..];
                if is(arg, "yes") || is(arg, "no") {
                    self.set_leaving(is(arg, "yes"));
                    fx.save_cluster_config = true;
                    Reply::ok()
                } else {
                    Reply::error("ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'")
                }
            }
            _ if is(sub, "forget") && argc == 3 => match NodeId::parse(&args[2]) {
                None => Reply::error("ERR Invalid node identifier"),
                Some(id) if id == self.myself => Reply::error("ERR I tried hard but I can't forget myself..."),
                Some(_) => Reply::error_owned(format!("ERR Unknown node {}", String::from_utf8_lossy(&args[2]))),
            },
            _ if is(sub, "meet") && argc == 4 => crate::commands::cluster::meet_error(&args[2], &args[3]),
            _ if is(sub, "reset") && (argc == 2 || argc == 3) => {
                let hard = match args.get(2) {
                    None => false,
                    Some(a) if is(a, "soft") => false,
                    Some(a) if is(a, "hard") => true,
                    Some(_) => return Reply::error("ERR syntax error"),
                };
                self.reset(env, hard, fx);
                Reply::ok()
            }
            _ => Reply::error(WRONG_SUBCOMMAND),
        }
    }

    /// The CLUSTER NODES text: one line per known node (also the `nodes.conf` format).
    pub fn nodes_description(&self) -> String {
        let flags = if self.leaving {
            "myself,leaving"
        } else {
            "myself"
        };
        format!(
            "{} :{} {} 0 0 connected\n",
            self.myself.as_str(),
            self.config.port,
            flags
        )
    }

    /// Sets or clears leaving mode.
    pub fn set_leaving(&mut self, leaving: bool) {
        self.leaving = leaving;
    }

    /// Deletes every job and queue (DEBUG FLUSHALL, CLUSTER RESET): blocked GETJOB
    /// clients get a null array. With `log` false nothing reaches the AOF (decision D6).
    pub fn flush_all(&mut self, env: &Env, log: bool, fx: &mut Effects) {
        self.unblock_all(env, Reply::NullArray, fx);
        if log && self.config.aof_logging {
            let ids: Vec<_> = self.jobs.keys().copied().collect();
            for id in ids {
                self.unregister(&id, fx);
            }
        }
        self.jobs.clear();
        self.job_index.clear();
        self.timers.clear();
        self.evictable.clear();
        self.queues.clear();
        self.queue_index.clear();
        self.ready_queues.clear();
    }

    /// `CLUSTER RESET`: forget other nodes, drop all jobs; HARD also takes a new id.
    fn reset(&mut self, env: &Env, hard: bool, fx: &mut Effects) {
        self.flush_all(env, true, fx);
        if hard {
            self.myself = NodeId::random(&mut self.rng);
        }
        fx.save_cluster_config = true;
    }
}

/// CLUSTER MEET argument checks; joining needs the cluster bus, which this build
/// does not have yet, so a valid address gets a clear error instead of a false `+OK`.
fn meet_error(ip: &[u8], port: &[u8]) -> Reply {
    let ip_text = String::from_utf8_lossy(ip);
    let port_text = String::from_utf8_lossy(port);
    let Some(port_num) = crate::args::parse_i64(port) else {
        return Reply::error_owned(format!("ERR Invalid TCP port specified: {port_text}"));
    };
    if ip_text.parse::<std::net::IpAddr>().is_err() || !(1..=55535).contains(&port_num) {
        return Reply::error_owned(format!(
            "ERR Invalid node address specified: {ip_text}:{port_text}"
        ));
    }
    Reply::error("ERR CLUSTER MEET needs the cluster bus, which this build does not provide yet")
}
