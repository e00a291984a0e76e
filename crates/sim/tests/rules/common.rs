//! Helpers shared by the cluster rule tests.

#![allow(dead_code)]

use disque_core::cluster::message::Message;
use disque_core::ids::JobId;
use disque_core::job::JobState;
use disque_proto::Reply;
use disque_sim::net::{FrameInfo, Verdict};
use disque_sim::{Net, NetConfig};

/// A converged cluster of `n` nodes with the default test settings.
pub fn cluster(n: usize) -> Net {
    Net::cluster(NetConfig::new(n, 42))
}

/// A converged cluster of `n` nodes with node timeout `ms`.
pub fn cluster_with_timeout(n: usize, ms: u64) -> Net {
    let mut cfg = NetConfig::new(n, 42);
    cfg.node_timeout_ms = ms;
    Net::cluster(cfg)
}

/// The job id in an ADDJOB reply.
pub fn job_id(r: &Reply) -> JobId {
    match r {
        Reply::Status(id) => JobId::parse(id).expect("a job id"),
        other => panic!("expected a job id, got {other:?}"),
    }
}

/// The id as a string for commands.
pub fn s(id: &JobId) -> String {
    String::from_utf8_lossy(id.as_bytes()).into_owned()
}

/// ADDJOB on `node` (waiting for the reply if it blocks), returning the id.
pub fn add(net: &mut Net, node: usize, queue: &str, extra: &[&str]) -> JobId {
    let mut words = vec!["ADDJOB", queue, "body", "0"];
    words.extend_from_slice(extra);
    job_id(&net.call(node, &words))
}

/// The job's state on `node`, if the node holds it.
pub fn state(net: &Net, node: usize, id: &JobId) -> Option<JobState> {
    net.node(node).job(id).map(|j| j.state())
}

/// Nodes (indexes) holding a record of the job, in any state.
pub fn holders(net: &Net, id: &JobId) -> Vec<usize> {
    (0..net.len())
        .filter(|i| net.is_up(*i) && net.node(*i).job(id).is_some())
        .collect()
}

/// Nodes where the job is queued.
pub fn queued_on(net: &Net, id: &JobId) -> Vec<usize> {
    (0..net.len())
        .filter(|i| net.is_up(*i) && state(net, *i, id) == Some(JobState::Queued))
        .collect()
}

/// The job's nodes-delivered on `node`, as node indexes, sorted.
pub fn delivered_to(net: &Net, node: usize, id: &JobId) -> Vec<usize> {
    let mut v: Vec<usize> = net
        .node(node)
        .job(id)
        .expect("job known")
        .nodes_delivered()
        .iter()
        .map(|n| net.index_of(n).expect("a node of the net"))
        .collect();
    v.sort();
    v
}

/// Delivered frames since `mark` whose message has name `name` (e.g. "SETACK").
pub fn delivered(net: &Net, mark: usize, name: &str) -> Vec<(usize, usize, Message)> {
    net.trace
        .frames_since(mark, disque_sim::trace::Fate::Delivered)
        .into_iter()
        .filter(|(_, _, m)| m.name() == name)
        .map(|(f, t, m)| (f, t, m.clone()))
        .collect()
}

/// Frames put on the wire since `mark` with that message name (delivered or not).
pub fn sent(net: &Net, mark: usize, name: &str) -> Vec<(usize, usize, Message)> {
    net.trace
        .frames_since(mark, disque_sim::trace::Fate::Sent)
        .into_iter()
        .filter(|(_, _, m)| m.name() == name)
        .map(|(f, t, m)| (f, t, m.clone()))
        .collect()
}

/// A filter that drops every frame named `name` going to node `to`.
pub fn drop_to(name: &'static str, to: usize) -> disque_sim::net::Filter {
    Box::new(move |f: &FrameInfo| {
        if f.to == to && f.frame.message.name() == name {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
}

/// A filter that drops every frame named `name` coming from node `from`.
pub fn drop_from(name: &'static str, from: usize) -> disque_sim::net::Filter {
    Box::new(move |f: &FrameInfo| {
        if f.from == from && f.frame.message.name() == name {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
}

/// An integer reply.
pub fn int(r: &Reply) -> i64 {
    match r {
        Reply::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The text of an error reply.
pub fn err_text(r: &Reply) -> String {
    match r {
        Reply::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A SHOW field of a job on a node.
pub fn show_field(net: &mut Net, node: usize, id: &JobId, field: &str) -> Reply {
    let Reply::Array(items) = net.cmd(node, &["SHOW", &s(id)]) else {
        panic!("job unknown on n{node}");
    };
    let pos = items
        .iter()
        .position(|r| matches!(r, Reply::Bulk(b) if &b[..] == field.as_bytes()))
        .expect("field present");
    items[pos + 1].clone()
}

/// A line of CLUSTER NODES on `node` about `other`: its flags field.
pub fn flags_of(net: &mut Net, node: usize, other: usize) -> String {
    let id = net.id(other);
    let text = net.node(node).nodes_description();
    text.lines()
        .find(|l| l.starts_with(id.as_str()))
        .map(|l| l.split(' ').nth(2).unwrap_or("").to_string())
        .unwrap_or_else(|| "(unknown)".into())
}

/// HELLO priority that `node` reports for `other`.
pub fn hello_priority(net: &mut Net, node: usize, other: usize) -> u32 {
    let Reply::Array(items) = net.cmd(node, &["HELLO"]) else {
        panic!("HELLO");
    };
    let id = net.id(other);
    for item in &items[2..] {
        if let Reply::Array(f) = item {
            if matches!(&f[0], Reply::Bulk(b) if &b[..] == id.as_bytes()) {
                if let Reply::Bulk(p) = &f[3] {
                    return String::from_utf8_lossy(p).parse().unwrap();
                }
            }
        }
    }
    panic!("n{other} not in HELLO of n{node}");
}
