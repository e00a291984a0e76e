//! `/metrics`: the node in the Prometheus text format (version 0.0.4),
//! encoded by the `prometheus-client` crate. Each scrape takes a
//! [`Snapshot`] of the node (plain values, so the encoder can run without
//! the server state) and registers it as a collector in a fresh registry.
//! Per-queue series cover only the `metrics-top-queues` busiest queues
//! (longest first), so the label cardinality stays bounded.

use super::recorder::{self, HistogramSnapshot};
use super::view;
use crate::state::Shared;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of the reply.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A gauge or counter value without labels.
#[derive(Clone, Debug)]
struct Plain {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricType,
    value: f64,
}

/// Label names and values of one series.
type Labels = Vec<(&'static str, String)>;

/// A family of gauges or counters with labels.
#[derive(Clone, Debug)]
struct Labelled {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    values: Vec<(Labels, f64)>,
}

/// A family of histograms with one label.
#[derive(Clone, Debug)]
struct Histograms {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: Vec<(String, HistogramSnapshot)>,
}

/// Everything one scrape reports, copied out of the server state.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    plain: Vec<Plain>,
    labelled: Vec<Labelled>,
    histograms: Vec<Histograms>,
}

impl Snapshot {
    fn gauge(&mut self, name: &'static str, help: &'static str, value: impl Into<f64>) {
        self.plain.push(Plain {
            name,
            help,
            unit: None,
            kind: MetricType::Gauge,
            value: value.into(),
        });
    }

    fn bytes(&mut self, name: &'static str, help: &'static str, value: u64) {
        self.plain.push(Plain {
            name,
            help,
            unit: Some(Unit::Bytes),
            kind: MetricType::Gauge,
            value: value as f64,
        });
    }

    fn counter(&mut self, name: &'static str, help: &'static str, value: u64) {
        self.plain.push(Plain {
            name,
            help,
            unit: None,
            kind: MetricType::Counter,
            value: value as f64,
        });
    }

    fn family(
        &mut self,
        kind: MetricType,
        (name, help, label): (&'static str, &'static str, &'static str),
        values: Vec<(String, f64)>,
    ) {
        let values = values
            .into_iter()
            .map(|(value, n)| (vec![(label, value)], n))
            .collect();
        self.labelled.push(Labelled {
            name,
            help,
            kind,
            values,
        });
    }
}

/// Reads everything `/metrics` reports from the node.
pub async fn snapshot(shared: &Shared) -> Snapshot {
    let mut s = Snapshot::default();
    let job_states = view::job_states(shared).await;
    let queues = view::queues(shared).await;
    let mut state = shared.borrow_mut();
    let stats = state.node().stats();
    s.family(
        MetricType::Gauge,
        ("disque_jobs", "Jobs known to this node, by state.", "state"),
        job_states
            .into_iter()
            .map(|(name, n)| (name.to_string(), n as f64))
            .collect(),
    );
    s.gauge(
        "disque_registered_jobs",
        "Job records on this node in any state.",
        stats.registered_jobs as f64,
    );
    s.gauge(
        "disque_registered_queues",
        "Queues on this node.",
        stats.registered_queues as f64,
    );
    s.gauge(
        "disque_blocked_clients",
        "Clients blocked in GETJOB or ADDJOB.",
        stats.blocked_clients as f64,
    );
    s.gauge(
        "disque_connected_clients",
        "Client connections.",
        state.clients.len() as f64,
    );
    s.gauge(
        "disque_uptime_seconds",
        "Seconds since the server started.",
        state.uptime().as_secs_f64(),
    );
    s.counter(
        "disque_commands_processed",
        "Commands executed (reset by CONFIG RESETSTAT).",
        state.stats.commands_processed(),
    );
    s.counter(
        "disque_connections_received",
        "Client connections accepted (reset by CONFIG RESETSTAT).",
        state.stats.connections_received(),
    );

    let top = usize::try_from(state.config.metrics_top_queues).unwrap_or(usize::MAX);
    let busiest = &queues[..queues.len().min(top)];
    let per_queue = |field: &str| -> Vec<(String, f64)> {
        busiest
            .iter()
            .map(|q| {
                (
                    String::from_utf8_lossy(&q.name).into_owned(),
                    q.int(field) as f64,
                )
            })
            .collect()
    };
    let queue_series = [
        (
            MetricType::Gauge,
            "disque_queue_length",
            "Jobs queued, for the busiest queues (metrics-top-queues).",
            "len",
        ),
        (
            MetricType::Counter,
            "disque_queue_jobs_in",
            "Jobs queued since the queue was created, for the busiest queues.",
            "jobs-in",
        ),
        (
            MetricType::Counter,
            "disque_queue_jobs_out",
            "Jobs delivered since the queue was created, for the busiest queues.",
            "jobs-out",
        ),
        (
            MetricType::Gauge,
            "disque_queue_blocked_clients",
            "Clients blocked on the queue, for the busiest queues.",
            "blocked",
        ),
        (
            MetricType::Gauge,
            "disque_queue_import_rate",
            "Jobs per second imported from other nodes (federation), for the busiest queues.",
            "import-rate",
        ),
        (
            MetricType::Gauge,
            "disque_queue_age_seconds",
            "Seconds since the queue was created, for the busiest queues.",
            "age",
        ),
    ];
    for (kind, name, help, field) in queue_series {
        s.family(kind, (name, help, "queue"), per_queue(field));
    }
    s.labelled.push(Labelled {
        name: "disque_queue_paused",
        help: "1 when the queue is paused in that direction, for the busiest queues.",
        kind: MetricType::Gauge,
        values: busiest
            .iter()
            .flat_map(|q| {
                let pause = q.fields.get("pause").and_then(|v| v.as_str()).unwrap_or("");
                let name = String::from_utf8_lossy(&q.name).into_owned();
                let input = matches!(pause, "in" | "all");
                let output = matches!(pause, "out" | "all");
                [("in", input), ("out", output)].map(|(direction, on)| {
                    let labels = vec![("queue", name.clone()), ("direction", direction.into())];
                    (labels, f64::from(u8::from(on)))
                })
            })
            .collect(),
    });
    s.gauge(
        "disque_federation_import_rate",
        "Jobs per second imported from other nodes, all queues.",
        queues.iter().map(|q| q.int("import-rate")).sum::<u64>() as f64,
    );
    s.gauge(
        "disque_federation_importing_queues",
        "Queues that recently imported jobs from other nodes.",
        queues.iter().filter(|q| q.int("import-rate") > 0).count() as f64,
    );

    let nodes = view::nodes(&mut state);
    let peers: Vec<&view::NodeView> = nodes
        .iter()
        .filter(|n| !n.flags.iter().any(|f| f == "myself"))
        .collect();
    let up = peers.iter().filter(|n| n.link == "connected").count();
    s.family(
        MetricType::Gauge,
        (
            "disque_bus_links",
            "Cluster bus links to the other known nodes, by state.",
            "state",
        ),
        vec![
            ("up".into(), up as f64),
            ("down".into(), (peers.len() - up) as f64),
        ],
    );
    s.gauge(
        "disque_cluster_known_nodes",
        "Nodes known, this one included.",
        nodes.len() as f64,
    );
    s.gauge(
        "disque_cluster_reachable_nodes",
        "Other nodes jobs can be replicated to now.",
        state.node().reachable_count() as f64,
    );
    let (bytes_in, bytes_out) = recorder::bus_bytes();
    s.family(
        MetricType::Counter,
        (
            "disque_bus_bytes",
            "Bytes received from and sent to other nodes on the cluster bus.",
            "direction",
        ),
        vec![
            ("in".into(), bytes_in as f64),
            ("out".into(), bytes_out as f64),
        ],
    );
    s.family(
        MetricType::Counter,
        (
            "disque_bus_messages_received",
            "Cluster bus messages received, by type (NEEDJOBS/YOURJOBS: federation; HASJOB/HOLDERS: re-replication).",
            "type",
        ),
        recorder::bus_messages()
            .into_iter()
            .map(|(kind, n)| (kind.to_ascii_lowercase(), n as f64))
            .collect(),
    );
    s.gauge(
        "disque_underreplicated_jobs",
        "Jobs this node knows need more copies, or still has to drain.",
        state.node().underreplicated_jobs() as f64,
    );
    s.counter(
        "disque_rereplicated_jobs",
        "Jobs this node brought back to their replication level.",
        state.node().rereplicated_jobs(),
    );

    let aof = state.aof();
    let aof_on = aof.is_on();
    s.gauge(
        "disque_aof_enabled",
        "1 when the append-only file is on.",
        f64::from(u8::from(aof_on)),
    );
    s.bytes(
        "disque_aof_current_size",
        "Size of the append-only file.",
        if aof_on { aof.current_size() } else { 0 },
    );
    s.gauge(
        "disque_aof_rewrite_in_progress",
        "1 while a background AOF rewrite runs.",
        f64::from(u8::from(aof.rewrite_in_progress())),
    );
    s.counter(
        "disque_aof_delayed_fsync",
        "Times an everysec fsync was postponed because the previous one was still running.",
        aof.delayed_fsync(),
    );
    let (rewrites_ok, rewrites_failed) = recorder::aof_rewrites();
    s.family(
        MetricType::Counter,
        (
            "disque_aof_rewrites",
            "Background AOF rewrites finished, by result.",
            "result",
        ),
        vec![
            ("ok".into(), rewrites_ok as f64),
            ("failed".into(), rewrites_failed as f64),
        ],
    );
    if let Some(h) = recorder::fsync_latency() {
        s.histograms.push(Histograms {
            name: "disque_aof_fsync_duration_seconds",
            help: "AOF fsync latency.",
            label: "",
            values: vec![(String::new(), h)],
        });
    }
    s.histograms.push(Histograms {
        name: "disque_command_duration_seconds",
        help: "Time to execute a command, by command.",
        label: "command",
        values: disque_core::commands::COMMANDS
            .iter()
            .filter_map(|c| Some((c.name.to_string(), recorder::command_latency(c.id)?)))
            .collect(),
    });

    s.bytes(
        "disque_memory_used",
        "Memory allocated by the server.",
        crate::alloc::used_memory(),
    );
    s.bytes(
        "disque_memory_rss",
        "Resident set size of the process.",
        crate::alloc::rss_bytes(),
    );
    s.bytes(
        "disque_memory_peak",
        "Peak of disque_memory_used_bytes.",
        crate::alloc::peak_memory(),
    );
    s.bytes(
        "disque_memory_max",
        "The maxmemory setting (0: no limit).",
        state.config.maxmemory,
    );
    s
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for p in &self.plain {
            let metric = encoder.encode_descriptor(p.name, p.help, p.unit.as_ref(), p.kind)?;
            match p.kind {
                MetricType::Counter => ConstCounter::new(p.value).encode(metric)?,
                _ => ConstGauge::new(p.value).encode(metric)?,
            }
        }
        for f in &self.labelled {
            if f.values.is_empty() {
                continue;
            }
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
            for (set, n) in &f.values {
                let family = metric.encode_family(set)?;
                match f.kind {
                    MetricType::Counter => ConstCounter::new(*n).encode(family)?,
                    _ => ConstGauge::new(*n).encode(family)?,
                }
            }
        }
        for h in &self.histograms {
            if h.values.is_empty() {
                continue;
            }
            let mut metric =
                encoder.encode_descriptor(h.name, h.help, None, MetricType::Histogram)?;
            for (value, snap) in &h.values {
                let buckets = &snap.buckets;
                if h.label.is_empty() {
                    metric.encode_histogram::<NoLabelSet>(snap.sum, snap.count, buckets, None)?;
                } else {
                    let set = [(h.label, value.clone())];
                    metric
                        .encode_family(&set)?
                        .encode_histogram::<NoLabelSet>(snap.sum, snap.count, buckets, None)?;
                }
            }
        }
        Ok(())
    }
}

/// The `/metrics` body.
pub async fn render(shared: &Shared) -> String {
    let snapshot = snapshot(shared).await;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}
