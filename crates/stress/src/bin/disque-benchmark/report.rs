//! What a run measured: per kind of request, an HDR histogram of latencies
//! (nanoseconds, 3 significant digits), the counts, and the exact worst
//! request; printed as text or as one JSON object.

use std::fmt::Write;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::Plan;

/// A kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// One ADDJOB.
    AddJob,
    /// One job taken with GETJOB and acknowledged with ACKJOB.
    GetAck,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::AddJob => "ADDJOB",
            Op::GetAck => "GETJOB+ACKJOB",
        }
    }
}

/// What one or more clients measured for one kind of request.
#[derive(Debug)]
pub struct OpStats {
    op: Op,
    /// Latencies in nanoseconds.
    histogram: Histogram<u64>,
    /// Requests answered, errors included.
    requests: u64,
    errors: u64,
    /// GETJOBs that returned no job (not counted in `requests`).
    pub empty: u64,
    worst: Duration,
    /// When the worst request was answered, from the start of the run.
    worst_at: Duration,
    first_error: Option<String>,
}

impl OpStats {
    /// Nothing measured yet.
    pub fn new(op: Op) -> OpStats {
        OpStats {
            op,
            // Auto-resizing, so any latency fits.
            histogram: Histogram::new(3).expect("3 significant digits are allowed"),
            requests: 0,
            errors: 0,
            empty: 0,
            worst: Duration::ZERO,
            worst_at: Duration::ZERO,
            first_error: None,
        }
    }

    /// Counts a request sent at `sent` and answered now (an error reply when
    /// `error` is set); returns its latency.
    pub fn record(&mut self, start: Instant, sent: Instant, error: Option<String>) -> Duration {
        let now = Instant::now();
        let latency = now - sent;
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        if self.histogram.record(ns.max(1)).is_err() {
            // Only when the histogram cannot grow that far: keep the count.
            self.histogram.saturating_record(ns);
        }
        self.requests += 1;
        if latency > self.worst {
            self.worst = latency;
            self.worst_at = now - start;
        }
        if let Some(error) = error {
            self.errors += 1;
            self.first_error.get_or_insert(error);
        }
        latency
    }

    /// The first error reply seen.
    pub fn first_error(&self) -> Option<&str> {
        self.first_error.as_deref()
    }

    fn merge(&mut self, other: OpStats) {
        self.histogram
            .add(&other.histogram)
            .expect("auto-resizing histograms take any value");
        self.requests += other.requests;
        self.errors += other.errors;
        self.empty += other.empty;
        if other.worst > self.worst {
            self.worst = other.worst;
            self.worst_at = other.worst_at;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// A percentile (0 to 100) in nanoseconds: the histogram's value (the
    /// top of its bucket, within 0.1%) capped at the exact maximum.
    fn percentile(&self, p: f64) -> u64 {
        let max = u64::try_from(self.worst.as_nanos()).unwrap_or(u64::MAX);
        self.histogram.value_at_percentile(p).min(max)
    }
}

/// The percentiles reported, with their names in the text and in JSON.
const PERCENTILES: [(&str, &str, f64); 5] = [
    ("p50", "p50", 50.0),
    ("p90", "p90", 90.0),
    ("p99", "p99", 99.0),
    ("p99.9", "p99_9", 99.9),
    ("max", "max", 100.0),
];

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per kind of request, in [`Op`] order.
    ops: Vec<OpStats>,
    /// Length of the measured part (prefill excluded).
    pub elapsed: Duration,
    /// get-ack: jobs added before the measured part, and how long it took.
    pub prefill: Option<(u64, Duration)>,
}

impl Report {
    /// Adds one client's figures.
    pub fn merge(&mut self, stats: OpStats) {
        match self.ops.iter_mut().find(|s| s.op == stats.op) {
            Some(mine) => mine.merge(stats),
            None => {
                self.ops.push(stats);
                self.ops.sort_by_key(|s| s.op);
            }
        }
    }

    /// Error replies in all.
    pub fn errors(&self) -> u64 {
        self.ops.iter().map(|s| s.errors).sum()
    }

    fn requests(&self) -> u64 {
        self.ops.iter().map(|s| s.requests).sum()
    }

    fn rate(&self, requests: u64) -> f64 {
        requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The slowest request of all.
    fn worst(&self) -> Option<&OpStats> {
        self.ops
            .iter()
            .filter(|s| s.requests > 0)
            .max_by_key(|s| s.worst)
    }

    fn first_error(&self) -> Option<&str> {
        self.ops.iter().find_map(|s| s.first_error())
    }

    /// The human-readable report.
    pub fn to_text(&self, plan: &Plan) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on {}: {} clients ({}), pipeline {}, {}",
            plan.workload.name(),
            plan.nodes.join(", "),
            plan.clients,
            roles(plan),
            plan.pipeline,
            match (plan.requests, plan.duration) {
                (Some(n), _) => format!("{n} requests"),
                (None, Some(d)) => format!("{:.1} s", d.as_secs_f64()),
                (None, None) => unreachable!("a run has requests or a duration"),
            },
        );
        if plan.producers > 0 || plan.prefill > 0 {
            let _ = writeln!(out, "  {}", addjob_command(plan));
        }
        if let Some((jobs, took)) = self.prefill {
            let _ = writeln!(
                out,
                "prefill: {jobs} jobs in {:.3} s ({:.0} jobs/s)",
                took.as_secs_f64(),
                jobs as f64 / took.as_secs_f64().max(1e-9)
            );
        }
        for s in &self.ops {
            let _ = writeln!(
                out,
                "{}: {} requests in {:.3} s, {:.0} requests/s, {} errors{}",
                s.op.name(),
                s.requests,
                self.elapsed.as_secs_f64(),
                self.rate(s.requests),
                s.errors,
                if s.empty > 0 {
                    format!(", {} empty GETJOBs", s.empty)
                } else {
                    String::new()
                },
            );
            if s.requests == 0 {
                continue;
            }
            let _ = write!(
                out,
                "  latency (ms): min {:.3}  mean {:.3}",
                s.histogram.min() as f64 / 1e6,
                s.histogram.mean() / 1e6
            );
            for (name, _, p) in PERCENTILES {
                let _ = write!(out, "  {name} {:.3}", s.percentile(p) as f64 / 1e6);
            }
            out.push('\n');
        }
        if self.ops.len() > 1 {
            let _ = writeln!(
                out,
                "total: {} requests in {:.3} s, {:.0} requests/s",
                self.requests(),
                self.elapsed.as_secs_f64(),
                self.rate(self.requests())
            );
        }
        if let Some(w) = self.worst() {
            let _ = writeln!(
                out,
                "worst: {} {:.3} ms, {:.3} s into the run",
                w.op.name(),
                w.worst.as_secs_f64() * 1e3,
                w.worst_at.as_secs_f64()
            );
        }
        if let Some(e) = self.first_error() {
            let _ = writeln!(out, "first error: {e}");
        }
        out
    }

    /// The report as one JSON object (latencies in microseconds).
    pub fn to_json(&self, plan: &Plan) -> Value {
        let us = |ns: u64| ns as f64 / 1e3;
        let ops: Vec<Value> = self
            .ops
            .iter()
            .map(|s| {
                let mut latency = serde_json::Map::new();
                latency.insert("min".into(), json!(us(s.histogram.min())));
                latency.insert("mean".into(), json!(s.histogram.mean() / 1e3));
                for (_, key, p) in PERCENTILES {
                    latency.insert(key.into(), json!(us(s.percentile(p))));
                }
                json!({
                    "name": s.op.name(),
                    "requests": s.requests,
                    "errors": s.errors,
                    "empty": s.empty,
                    "throughput": self.rate(s.requests),
                    "latency_us": latency,
                    "worst": {
                        "latency_us": s.worst.as_nanos() as f64 / 1e3,
                        "at_s": s.worst_at.as_secs_f64(),
                    },
                })
            })
            .collect();
        json!({
            "workload": plan.workload.name(),
            "nodes": plan.nodes,
            "clients": plan.clients,
            "producers": plan.producers,
            "pipeline": plan.pipeline,
            "requested": plan.requests,
            "duration_s": plan.duration.map(|d| d.as_secs_f64()),
            "body_size": plan.body_size,
            "queues": plan.queues.len(),
            "addjob": addjob_command(plan),
            "prefill": self.prefill.map(|(jobs, took)| json!({
                "jobs": jobs,
                "elapsed_s": took.as_secs_f64(),
            })),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests": self.requests(),
            "errors": self.errors(),
            "throughput": self.rate(self.requests()),
            "operations": ops,
            "worst": self.worst().map(|w| json!({
                "operation": w.op.name(),
                "latency_us": w.worst.as_nanos() as f64 / 1e3,
                "at_s": w.worst_at.as_secs_f64(),
            })),
            "first_error": self.first_error(),
        })
    }
}

/// "50 producers", "10 producers, 40 consumers", ...
fn roles(plan: &Plan) -> String {
    let consumers = plan.clients - plan.producers;
    match (plan.producers, consumers) {
        (p, 0) => format!("{p} producers"),
        (0, c) => format!("{c} consumers"),
        (p, c) => format!("{p} producers, {c} consumers"),
    }
}

/// The ADDJOB sent (to the first queue), the body shown by its size.
fn addjob_command(plan: &Plan) -> String {
    plan.addjobs[0]
        .iter()
        .enumerate()
        .map(|(i, arg)| match i {
            2 => format!("<{} bytes>", arg.len()),
            _ => String::from_utf8_lossy(arg).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_figures() {
        let start = Instant::now();
        let mut a = OpStats::new(Op::AddJob);
        a.record(start, start, None);
        let mut b = OpStats::new(Op::AddJob);
        b.record(start, start, Some("ERR x".into()));
        b.record(start, start, Some("ERR y".into()));
        let mut report = Report::default();
        report.merge(a);
        report.merge(b);
        report.merge(OpStats::new(Op::GetAck));
        assert_eq!(report.requests(), 3);
        assert_eq!(report.errors(), 2);
        assert_eq!(report.first_error(), Some("ERR x"));
        assert_eq!(report.ops.len(), 2);
        assert_eq!(report.worst().map(|w| w.op), Some(Op::AddJob));
    }
}
