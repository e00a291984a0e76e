//! HELLO and CLUSTER (docs/commands.md §4.1, §4.4). CLUSTER SAVECONFIG is the shell's
//! (it writes the file and reports its errors).

use crate::args::{is, parse_i64};
use crate::effects::{Effects, Env};
use crate::ids::NodeId;
use crate::node::Node;
use bytes::Bytes;
use disque_proto::Reply;

const WRONG_SUBCOMMAND: &str = "ERR Wrong CLUSTER subcommand or number of arguments";

impl Node {
    /// `HELLO`: `[1, myid, [id, ip, port, priority]...]`, port and priority as bulk strings.
    pub(crate) fn cmd_hello(&self) -> Reply {
        let mut reply = vec![Reply::Integer(1), Reply::bulk_from(self.id().as_bytes())];
        for (id, ip, port, priority) in self.hello_entries() {
            reply.push(Reply::Array(vec![
                Reply::bulk_from(id.as_bytes()),
                Reply::bulk_string(ip),
                Reply::bulk_string(port.to_string()),
                Reply::bulk_string(priority.to_string()),
            ]));
        }
        Reply::Array(reply)
    }

    /// `CLUSTER <subcommand> [args]`.
    pub(crate) fn cmd_cluster(&mut self, env: &Env, args: &[Bytes], fx: &mut Effects) -> Reply {
        let sub = &args[1][..];
        let argc = args.len();
        if is(sub, "myid") && argc == 2 {
            Reply::bulk_from(self.id().as_bytes())
        } else if is(sub, "nodes") && argc == 2 {
            Reply::bulk_string(self.nodes_description())
        } else if is(sub, "info") && argc == 2 {
            Reply::bulk_string(format!(
                "cluster_state:ok\r\ncluster_known_nodes:{}\r\ncluster_reachable_nodes:{}\r\ncluster_size:{}\r\ncluster_stats_messages_sent:{}\r\ncluster_stats_messages_received:{}\r\n",
                self.cluster.peer_count() + 1,
                self.reachable_count(),
                self.cluster_size(),
                self.cluster.messages_sent(),
                self.cluster.messages_received(),
            ))
        } else if is(sub, "leaving") && argc == 2 {
            Reply::status(if self.is_leaving() { "yes" } else { "no" })
        } else if is(sub, "leaving") && argc == 3 {
            let arg = &args[2][..];
            if !(is(arg, "yes") || is(arg, "no")) {
                return Reply::error("ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'");
            }
            self.set_leaving(is(arg, "yes"));
            fx.save_cluster_config = true;
            Reply::ok()
        } else if is(sub, "forget") && argc == 3 {
            // Only the length is checked: 40 other characters are an unknown node.
            match NodeId::parse(&args[2]) {
                _ if args[2].len() != crate::ids::ID_LEN => {
                    Reply::error("ERR Invalid node identifier")
                }
                Some(id) if id == self.id() => {
                    Reply::error("ERR I tried hard but I can't forget myself...")
                }
                Some(id) if self.forget(env, &id, fx) => Reply::ok(),
                _ => Reply::error_owned(format!(
                    "ERR Unknown node {}",
                    String::from_utf8_lossy(&args[2])
                )),
            }
        } else if is(sub, "meet") && argc == 4 {
            match parse_meet(&args[2], &args[3]) {
                Ok((ip, port)) => {
                    self.meet(env, ip, port);
                    Reply::ok()
                }
                Err(reply) => reply,
            }
        } else if is(sub, "reset") && (argc == 2 || argc == 3) {
            let hard = match args.get(2) {
                None => false,
                Some(a) if is(a, "soft") => false,
                Some(a) if is(a, "hard") => true,
                Some(_) => return Reply::error("ERR syntax error"),
            };
            self.reset(env, hard, fx);
            Reply::ok()
        } else {
            Reply::error(WRONG_SUBCOMMAND)
        }
    }

    /// Deletes every job and queue (DEBUG FLUSHALL, CLUSTER RESET): blocked clients
    /// are released (GETJOB with a null array, ADDJOB with the "job removed" error).
    /// With `log` false nothing reaches the AOF (decision D6).
    pub fn flush_all(&mut self, env: &Env, log: bool, fx: &mut Effects) {
        for id in self.repl.ids() {
            self.unregister(&id, fx);
        }
        self.unblock_all(env, Reply::NullArray, fx);
        if log && self.config().aof_logging {
            let ids: Vec<_> = self.jobs.keys().collect();
            for id in ids {
                self.unregister(&id, fx);
            }
        }
        self.jobs.clear();
        self.rerepl.clear();
        self.queues.clear();
        self.fed.clear_waiting();
        self.blocked.clear_ready();
    }

    /// `CLUSTER RESET`: forget other nodes, drop all jobs; HARD also takes a new id.
    fn reset(&mut self, env: &Env, hard: bool, fx: &mut Effects) {
        self.flush_all(env, true, fx);
        self.forget_all(fx);
        if hard {
            self.renew_id();
        }
        fx.save_cluster_config = true;
    }
}

/// CLUSTER MEET arguments: an IP literal and a port in 1..55535.
fn parse_meet(ip: &[u8], port: &[u8]) -> Result<(String, u16), Reply> {
    let ip_text = String::from_utf8_lossy(ip);
    let port_text = String::from_utf8_lossy(port);
    let Some(port_num) = parse_i64(port) else {
        return Err(Reply::error_owned(format!(
            "ERR Invalid TCP port specified: {port_text}"
        )));
    };
    match ip_text.parse::<std::net::IpAddr>() {
        Ok(addr) if (1..=55535).contains(&port_num) => Ok((addr.to_string(), port_num as u16)),
        _ => Err(Reply::error_owned(format!(
            "ERR Invalid node address specified: {ip_text}:{port_text}"
        ))),
    }
}
