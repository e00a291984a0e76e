//! What the dashboard, `/api/...` and `/metrics` show, read from the node.
//! Queue, job and cluster details come from the commands that already
//! report them (QSCAN, QSTAT, JSCAN, SHOW, HELLO, CLUSTER NODES, PAUSE), run
//! directly against the core so there is one implementation of each; they
//! are not counted in INFO commandstats, SLOWLOG or MONITOR.
//! Scans over every queue or job run in chunks with a yield in between, so a
//! large node keeps serving clients while a page or a scrape is built.

use crate::state::{Shared, State};
use bytes::Bytes;
use disque_core::commands::lookup;
use disque_proto::Reply;
use serde_json::{json, Map, Value};

/// The client id the core sees for HTTP requests (real clients start at 1).
const HTTP_CLIENT: u64 = 0;
/// Queues or jobs visited per chunk of a scan.
const SCAN_CHUNK: &str = "2000";

/// Runs a non-blocking core command (QSTAT, SHOW, PAUSE, ...) and applies its
/// effects; the request ends with a flush point (see `http::handle`).
pub fn core_command(state: &mut State, args: &[&[u8]]) -> Reply {
    let Some(spec) = args.first().and_then(|name| lookup(name)) else {
        return Reply::error("ERR unknown command");
    };
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let reply =
        state.run_core(|node, env, fx| node.on_command(env, HTTP_CLIENT, spec.id, &args, fx));
    reply.unwrap_or(Reply::Nil)
}

/// A reply as JSON: strings for status and bulk replies (lossy UTF-8),
/// numbers, `null`, arrays; an error becomes `{"error": text}`.
pub fn to_json(reply: &Reply) -> Value {
    match reply {
        Reply::Status(b) | Reply::Bulk(b) => Value::String(String::from_utf8_lossy(b).into()),
        Reply::Error(b) => json!({ "error": String::from_utf8_lossy(b) }),
        Reply::Integer(n) => json!(n),
        Reply::Nil | Reply::NullArray => Value::Null,
        Reply::Array(items) => Value::Array(items.iter().map(to_json).collect()),
    }
}

/// A flat `[name, value, name, value, ...]` reply (QSTAT, SHOW) as an object;
/// `None` for anything else (nil: no such queue or job).
pub fn to_object(reply: &Reply) -> Option<Map<String, Value>> {
    let Reply::Array(items) = reply else {
        return None;
    };
    let mut out = Map::new();
    for pair in items.chunks(2) {
        if let [name, value] = pair {
            if let Value::String(key) = to_json(name) {
                out.insert(key, to_json(value));
            }
        }
    }
    Some(out)
}

/// Runs a scan command (`QSCAN` or `JSCAN ... REPLY id`) from cursor 0 to the
/// end in chunks, yielding between them; returns every name or id seen.
async fn scan_all(shared: &Shared, command: &[&[u8]]) -> Vec<Bytes> {
    let mut cursor = b"0".to_vec();
    let mut all = Vec::new();
    loop {
        let reply = {
            let mut args: Vec<&[u8]> = command.to_vec();
            args.extend_from_slice(&[&cursor, b"COUNT", SCAN_CHUNK.as_bytes()]);
            core_command(&mut shared.borrow_mut(), &args)
        };
        let Reply::Array(parts) = reply else {
            return all;
        };
        match parts.as_slice() {
            [Reply::Bulk(next), Reply::Array(items)] => {
                all.extend(items.iter().filter_map(|i| match i {
                    Reply::Bulk(b) | Reply::Status(b) => Some(b.clone()),
                    _ => None,
                }));
                if &next[..] == b"0" {
                    return all;
                }
                cursor = next.to_vec();
            }
            _ => return all,
        }
        tokio::task::yield_now().await;
    }
}

/// One queue as QSTAT reports it, with its raw name.
#[derive(Clone, Debug)]
pub struct QueueView {
    /// The queue name as stored (binary).
    pub name: Bytes,
    /// QSTAT's fields (`len`, `age`, `idle`, `blocked`, `import-from`,
    /// `import-rate`, `jobs-in`, `jobs-out`, `pause`).
    pub fields: Map<String, Value>,
}

impl QueueView {
    /// An integer field (0 when missing).
    pub fn int(&self, field: &str) -> u64 {
        self.fields.get(field).and_then(Value::as_u64).unwrap_or(0)
    }
}

/// One queue, or `None` when the node has no such queue.
pub fn queue(state: &mut State, name: &[u8]) -> Option<QueueView> {
    let fields = to_object(&core_command(state, &[b"QSTAT", name]))?;
    Some(QueueView {
        name: Bytes::copy_from_slice(name),
        fields,
    })
}

/// Every queue of this node, busiest first: longest, then most jobs in and
/// out since the node started, then by name.
pub async fn queues(shared: &Shared) -> Vec<QueueView> {
    let names = scan_all(shared, &[b"QSCAN"]).await;
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(2000) {
        {
            let mut state = shared.borrow_mut();
            out.extend(chunk.iter().filter_map(|n| queue(&mut state, n)));
        }
        tokio::task::yield_now().await;
    }
    out.sort_by(|a, b| {
        let key = |q: &QueueView| (q.int("len"), q.int("jobs-in") + q.int("jobs-out"));
        key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// Jobs of this node by state (`wait-repl`, `active`, `queued`, `acked`),
/// counted with one pass over the job table, 10,000 jobs at a time (no id
/// copied; approximate while jobs change).
pub async fn job_states(shared: &Shared) -> Vec<(&'static str, u64)> {
    use disque_core::job::JobState;
    let states = [
        JobState::WaitRepl,
        JobState::Active,
        JobState::Queued,
        JobState::Acked,
    ];
    let mut counts = [0u64; 4];
    let mut cursor = 0;
    loop {
        cursor = shared.borrow().node().visit_jobs(cursor, 10_000, |job| {
            if let Some(i) = states.iter().position(|s| *s == job.state()) {
                counts[i] += 1;
            }
        });
        if cursor == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    states
        .iter()
        .zip(counts)
        .map(|(s, n)| (s.name(), n))
        .collect()
}

/// One node of the cluster as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Node id (40 hex characters).
    pub id: String,
    /// `ip:port` of its client port.
    pub addr: String,
    /// CLUSTER NODES flags (`myself`, `fail?`, `fail`, `handshake`, `leaving`, `noaddr`, ...).
    pub flags: Vec<String>,
    /// `connected` or `disconnected` (this node's link to it).
    pub link: String,
    /// HELLO priority (1 best, 100 leaving or failing); none while in handshake.
    pub priority: Option<u32>,
}

/// Every node this node knows, itself first (CLUSTER NODES and HELLO).
pub fn nodes(state: &mut State) -> Vec<NodeView> {
    let mut priorities = std::collections::HashMap::new();
    if let Reply::Array(items) = core_command(state, &[b"HELLO"]) {
        for item in items.iter().skip(2) {
            if let Value::Array(f) = to_json(item) {
                if let (Some(Value::String(id)), Some(Value::String(p))) = (f.first(), f.get(3)) {
                    priorities.insert(id.clone(), p.parse::<u32>().ok());
                }
            }
        }
    }
    state
        .node()
        .nodes_description()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let [id, addr, flags, _, _, link] = f.as_slice() else {
                return None;
            };
            Some(NodeView {
                id: id.to_string(),
                addr: addr.to_string(),
                flags: flags.split(',').map(str::to_string).collect(),
                link: link.to_string(),
                priority: priorities.get(*id).copied().flatten(),
            })
        })
        .collect()
}

impl NodeView {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "addr": self.addr,
            "flags": self.flags,
            "link": self.link,
            "priority": self.priority,
            "myself": self.flags.iter().any(|f| f == "myself"),
        })
    }
}

impl QueueView {
    /// The JSON form: `name` then QSTAT's fields.
    pub fn to_json(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert(
            "name".into(),
            Value::String(String::from_utf8_lossy(&self.name).into()),
        );
        Value::Object(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_replies_become_objects() {
        let reply = Reply::Array(vec![
            Reply::bulk_string("id".to_string()),
            Reply::bulk_string("D-1".to_string()),
            Reply::bulk_string("nacks".to_string()),
            Reply::Integer(2),
            Reply::bulk_string("nodes-delivered".to_string()),
            Reply::Array(vec![]),
            Reply::bulk_string("dangling".to_string()),
        ]);
        let obj = to_object(&reply).expect("object");
        assert_eq!(
            Value::Object(obj),
            json!({"id": "D-1", "nacks": 2, "nodes-delivered": []})
        );
        assert_eq!(to_object(&Reply::Nil), None);
        assert_eq!(to_json(&Reply::error("ERR x")), json!({"error": "ERR x"}));
    }
}
