//! Counters and histograms the server records for `/metrics` as it runs
//! (decision D19): command latencies, AOF fsync latencies and rewrites, bus
//! bytes and messages. They live in process-wide atomics so the hooks in the
//! dispatcher, the bus and the AOF cost one relaxed add each, even from the
//! AOF's fsync threads, and nothing changes for a node without `http-port`.

use disque_core::cluster::message::{Message, MESSAGE_NAMES};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the command latency histogram buckets.
pub const COMMAND_BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1,
    0.5, 1.0,
];

/// Upper bounds (seconds) of the AOF fsync latency histogram buckets.
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Command slots: more than there are commands (`CommandId` as index).
const COMMAND_SLOTS: usize = 64;

/// A fixed-bucket histogram of durations in atomics.
pub struct AtomicHistogram<const N: usize> {
    bounds: &'static [f64; N],
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    counts: [AtomicU64; 16],
    sum_ns: AtomicU64,
}

/// A copy of a histogram: total count, sum in seconds, buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations.
    pub count: u64,
    /// Sum of the observations in seconds.
    pub sum: f64,
    /// `(upper bound in seconds, observations in this bucket only)`, the
    /// last bound `+Inf` (the form `prometheus-client` encodes).
    pub buckets: Vec<(f64, u64)>,
}

impl<const N: usize> AtomicHistogram<N> {
    /// An empty histogram with these bucket bounds (at most 15).
    pub const fn new(bounds: &'static [f64; N]) -> Self {
        AtomicHistogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; 16],
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(N)
            .min(15);
        self.counts[slot].fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(d.as_nanos().min(u128::from(u64::MAX)) as u64, Relaxed);
    }

    /// The current values, or `None` when nothing was recorded.
    pub fn snapshot(&self) -> Option<HistogramSnapshot> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return None;
        }
        let buckets = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(counts)
            .collect();
        Some(HistogramSnapshot {
            count,
            sum: self.sum_ns.load(Relaxed) as f64 / 1e9,
            buckets,
        })
    }
}

static COMMANDS: [AtomicHistogram<14>; COMMAND_SLOTS] =
    [const { AtomicHistogram::new(&COMMAND_BUCKETS) }; COMMAND_SLOTS];
static FSYNC: AtomicHistogram<12> = AtomicHistogram::new(&FSYNC_BUCKETS);
static BUS_BYTES_IN: AtomicU64 = AtomicU64::new(0);
static BUS_BYTES_OUT: AtomicU64 = AtomicU64::new(0);
static AOF_REWRITES_OK: AtomicU64 = AtomicU64::new(0);
static AOF_REWRITES_FAILED: AtomicU64 = AtomicU64::new(0);
/// Bus messages received, by type code.
static BUS_MESSAGES: [AtomicU64; MESSAGE_NAMES.len()] =
    [const { AtomicU64::new(0) }; MESSAGE_NAMES.len()];

/// Records how long one command took to run.
pub fn command(id: disque_core::commands::CommandId, usec: u64) {
    if let Some(h) = COMMANDS.get(id as usize) {
        h.observe(Duration::from_micros(usec));
    }
}

/// The latency histogram of one command, if it ran at least once.
pub fn command_latency(id: disque_core::commands::CommandId) -> Option<HistogramSnapshot> {
    COMMANDS.get(id as usize)?.snapshot()
}

/// Records one AOF fsync.
pub fn fsync(d: Duration) {
    FSYNC.observe(d);
}

/// The AOF fsync latency histogram, if any fsync happened.
pub fn fsync_latency() -> Option<HistogramSnapshot> {
    FSYNC.snapshot()
}

/// Records bytes read from the cluster bus.
pub fn bus_bytes_in(n: usize) {
    BUS_BYTES_IN.fetch_add(n as u64, Relaxed);
}

/// Records bytes written to the cluster bus.
pub fn bus_bytes_out(n: usize) {
    BUS_BYTES_OUT.fetch_add(n as u64, Relaxed);
}

/// Bytes read from and written to the cluster bus so far.
pub fn bus_bytes() -> (u64, u64) {
    (BUS_BYTES_IN.load(Relaxed), BUS_BYTES_OUT.load(Relaxed))
}

/// Records one bus message received, by type (`NEEDJOBS`, `REPLJOB`, ...).
pub fn bus_message(message: &Message) {
    if let Some(count) = BUS_MESSAGES.get(message.type_code() as usize) {
        count.fetch_add(1, Relaxed);
    }
}

/// Bus messages received so far, by type name (types seen at least once,
/// in name order).
pub fn bus_messages() -> Vec<(&'static str, u64)> {
    let mut seen: Vec<(&'static str, u64)> = MESSAGE_NAMES
        .iter()
        .zip(&BUS_MESSAGES)
        .map(|(name, count)| (*name, count.load(Relaxed)))
        .filter(|(_, count)| *count > 0)
        .collect();
    seen.sort_unstable();
    seen
}

/// Records the end of a background AOF rewrite.
pub fn aof_rewrite(ok: bool) {
    let counter = if ok {
        &AOF_REWRITES_OK
    } else {
        &AOF_REWRITES_FAILED
    };
    counter.fetch_add(1, Relaxed);
}

/// Background AOF rewrites finished so far: (succeeded, failed).
pub fn aof_rewrites() -> (u64, u64) {
    (
        AOF_REWRITES_OK.load(Relaxed),
        AOF_REWRITES_FAILED.load(Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        static H: AtomicHistogram<3> = AtomicHistogram::new(&[0.001, 0.01, 0.1]);
        assert_eq!(H.snapshot(), None);
        H.observe(Duration::from_micros(500));
        H.observe(Duration::from_millis(5));
        H.observe(Duration::from_millis(5));
        H.observe(Duration::from_secs(3));
        let s = H.snapshot().expect("recorded");
        assert_eq!(s.count, 4);
        assert_eq!(
            s.buckets,
            vec![(0.001, 1), (0.01, 2), (0.1, 0), (f64::INFINITY, 1)]
        );
        assert!((s.sum - 3.0105).abs() < 1e-9);
    }
}
