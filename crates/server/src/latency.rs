//! The latency monitor: per-event history of latency spikes and the
//! `LATENCY` command (docs/commands.md §4.10).
//!
//! The server measures an operation (a command, an AOF fsync, a fork, ...)
//! and, when the monitor is on (`latency-monitor-threshold` > 0) and the
//! duration reaches the threshold, calls [`LatencyMonitor::add_sample`]
//! (or lets [`LatencyMonitor::add_sample_if_needed`] do the check).
//! Event names the server uses: `command`, `fast-command`,
//! `eviction-cycle`, `jobs-processing`, `fork`, `aof-write*`,
//! `aof-fsync-always`, `aof-fstat`, `aof-rename`, `aof-rewrite-diff-write`.
//!
//! Each event keeps its last [`HISTORY_LEN`] samples, at most one per
//! second (two spikes in the same second keep the larger), and its all-time
//! maximum.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use disque_proto::Reply;

/// Samples kept per event.
pub const HISTORY_LEN: usize = 160;

/// Columns of the `LATENCY GRAPH` chart (the newest samples are shown).
const GRAPH_COLUMNS: usize = 80;
/// Rows of the `LATENCY GRAPH` chart.
const GRAPH_ROWS: u64 = 8;

/// One latency sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Unix time in seconds.
    pub time: i64,
    /// Latency in milliseconds.
    pub ms: u64,
}

/// The history of one event.
#[derive(Clone, Debug)]
pub struct EventHistory {
    /// Ring buffer; `time == 0` marks an unused slot.
    samples: [Sample; HISTORY_LEN],
    /// Slot the next new sample goes to.
    next: usize,
    /// Largest latency ever recorded for this event (until reset).
    max: u64,
}

impl EventHistory {
    fn new() -> EventHistory {
        EventHistory {
            samples: [Sample::default(); HISTORY_LEN],
            next: 0,
            max: 0,
        }
    }

    fn add(&mut self, now: i64, ms: u64) {
        self.max = self.max.max(ms);
        let prev = (self.next + HISTORY_LEN - 1) % HISTORY_LEN;
        if self.samples[prev].time == now && now != 0 {
            self.samples[prev].ms = self.samples[prev].ms.max(ms);
            return;
        }
        self.samples[self.next] = Sample { time: now, ms };
        self.next = (self.next + 1) % HISTORY_LEN;
    }

    /// The most recent sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.next + HISTORY_LEN - 1) % HISTORY_LEN]
    }

    /// The all-time maximum in milliseconds.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The recorded samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..HISTORY_LEN)
            .map(move |i| self.samples[(self.next + i) % HISTORY_LEN])
            .filter(|s| s.time != 0)
    }
}

/// The latency monitor of one server.
#[derive(Clone, Debug, Default)]
pub struct LatencyMonitor {
    events: BTreeMap<String, EventHistory>,
}

impl LatencyMonitor {
    /// A monitor with no event.
    pub fn new() -> LatencyMonitor {
        LatencyMonitor::default()
    }

    /// Records a spike of `ms` milliseconds for `event` at Unix time `now`
    /// (seconds). The caller decides whether the spike is worth recording
    /// (see [`add_sample_if_needed`](Self::add_sample_if_needed)).
    pub fn add_sample(&mut self, event: &str, now: i64, ms: u64) {
        match self.events.get_mut(event) {
            Some(h) => h.add(now, ms),
            None => {
                let mut h = EventHistory::new();
                h.add(now, ms);
                self.events.insert(event.to_owned(), h);
            }
        }
    }

    /// Records the spike only when the monitor is on (`threshold_ms` > 0)
    /// and `ms >= threshold_ms`. Returns true if it was recorded.
    pub fn add_sample_if_needed(
        &mut self,
        event: &str,
        now: i64,
        ms: u64,
        threshold_ms: i64,
    ) -> bool {
        match u64::try_from(threshold_ms) {
            Ok(t) if t > 0 && ms >= t => {
                self.add_sample(event, now, ms);
                true
            }
            _ => false,
        }
    }

    /// The history of one event, if it has any sample.
    pub fn event(&self, name: &str) -> Option<&EventHistory> {
        self.events.get(name)
    }

    /// All events with their history, by name.
    pub fn events(&self) -> impl Iterator<Item = (&str, &EventHistory)> {
        self.events.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Forgets the named events (all of them when `names` is empty) and
    /// returns how many existed.
    pub fn reset(&mut self, names: &[&[u8]]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            let name = String::from_utf8_lossy(name);
            if self.events.remove(name.as_ref()).is_some() {
                n += 1;
            }
        }
        n
    }

    /// Runs `LATENCY <sub> [args]`. `args` is the whole command including
    /// the `LATENCY` name itself (`args[0]`); `now` is the Unix time in
    /// seconds (used for the graph's age labels) and `threshold_ms` the
    /// current `latency-monitor-threshold` (mentioned by DOCTOR).
    ///
    /// * `LATEST` → `[[event, last-time, last-ms, max-ms], ...]`
    /// * `HISTORY <event>` → `[[time, ms], ...]` oldest first (`*0` if unknown)
    /// * `GRAPH <event>` → bulk ASCII chart, or
    ///   `-ERR No samples available for event '<event>'`
    /// * `DOCTOR` → bulk human-readable report
    /// * `RESET [event ...]` → `:<events reset>`
    /// * anything else (including a wrong argument count) → `-ERR syntax error`
    pub fn command(&mut self, args: &[Bytes], now: i64, threshold_ms: i64) -> Reply {
        let Some(sub) = args.get(1) else {
            return Reply::error("ERR syntax error");
        };
        let argc = args.len();
        if sub.eq_ignore_ascii_case(b"history") && argc == 3 {
            let name = String::from_utf8_lossy(&args[2]);
            let items = match self.events.get(name.as_ref()) {
                Some(h) => h
                    .samples()
                    .map(|s| {
                        Reply::Array(vec![Reply::Integer(s.time), Reply::Integer(ms_reply(s.ms))])
                    })
                    .collect(),
                None => Vec::new(),
            };
            Reply::Array(items)
        } else if sub.eq_ignore_ascii_case(b"graph") && argc == 3 {
            let name = String::from_utf8_lossy(&args[2]);
            match self.events.get(name.as_ref()) {
                Some(h) => Reply::bulk_string(graph(&name, h, now)),
                None => Reply::error_owned(format!(
                    "ERR No samples available for event '{}'",
                    name.replace(['\r', '\n'], " ")
                )),
            }
        } else if sub.eq_ignore_ascii_case(b"latest") && argc == 2 {
            Reply::Array(
                self.events
                    .iter()
                    .map(|(name, h)| {
                        let last = h.latest();
                        Reply::Array(vec![
                            Reply::bulk_from(name.as_bytes()),
                            Reply::Integer(last.time),
                            Reply::Integer(ms_reply(last.ms)),
                            Reply::Integer(ms_reply(h.max)),
                        ])
                    })
                    .collect(),
            )
        } else if sub.eq_ignore_ascii_case(b"doctor") && argc == 2 {
            Reply::bulk_string(self.doctor(threshold_ms))
        } else if sub.eq_ignore_ascii_case(b"reset") && argc >= 2 {
            let names: Vec<&[u8]> = args[2..].iter().map(|a| a.as_ref()).collect();
            Reply::Integer(self.reset(&names) as i64)
        } else {
            Reply::error("ERR syntax error")
        }
    }

    /// The `LATENCY DOCTOR` report.
    pub fn doctor(&self, threshold_ms: i64) -> String {
        let mut out = String::new();
        if self.events.is_empty() {
            if threshold_ms <= 0 {
                out.push_str(
                    "The latency monitor is disabled (latency-monitor-threshold is 0), \
                     so no latency event was recorded.\n\
                     Enable it with CONFIG SET latency-monitor-threshold <milliseconds>.\n",
                );
            } else {
                let _ = writeln!(
                    out,
                    "No latency event of {threshold_ms} ms or more was recorded \
                     since the server started or since the last LATENCY RESET."
                );
            }
            return out;
        }
        let _ = writeln!(
            out,
            "Latency events recorded (latency-monitor-threshold: {threshold_ms} ms):\n"
        );
        for (i, (name, h)) in self.events.iter().enumerate() {
            let st = stats(h);
            let _ = writeln!(
                out,
                "{}. {}: {} spike{} in the last {} s, average {} ms, mean deviation {} ms, \
                 highest {} ms, lowest {} ms; all-time high {} ms.",
                i + 1,
                name,
                st.count,
                if st.count == 1 { "" } else { "s" },
                st.span_s,
                st.avg,
                st.mad,
                st.high,
                st.low,
                h.max
            );
        }
        out.push_str("\nAdvice:\n\n");
        let mut advice: Vec<&str> = Vec::new();
        for name in self.events.keys() {
            let tip = if name == "command" || name == "fast-command" {
                "- Slow commands: check SLOWLOG GET. Commands that scan many jobs or queues \
                 (JSCAN, QSCAN, QPEEK with large counts) take time proportional to what they visit."
            } else if name == "fork" {
                "- Fork is slow: the AOF rewrite child costs more with more memory in use. \
                 Transparent huge pages and virtualized hosts make it worse."
            } else if name.starts_with("aof-") {
                "- Disk I/O is slow: AOF writes or fsyncs stall the server. Consider \
                 appendfsync everysec, no-appendfsync-on-rewrite yes, or a faster disk."
            } else if name == "eviction-cycle" {
                "- Eviction takes time: memory is close to maxmemory. Raise maxmemory or \
                 acknowledge jobs sooner."
            } else if name == "jobs-processing" {
                "- Job timers take time: many jobs expire or are requeued at once. Spread \
                 TTL and RETRY values."
            } else {
                "- Other events: check the system load and the server log."
            };
            if !advice.contains(&tip) {
                advice.push(tip);
            }
        }
        for tip in advice {
            out.push_str(tip);
            out.push('\n');
        }
        out
    }
}

fn ms_reply(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

struct Stats {
    count: usize,
    avg: u64,
    mad: u64,
    high: u64,
    low: u64,
    span_s: i64,
}

fn stats(h: &EventHistory) -> Stats {
    let samples: Vec<Sample> = h.samples().collect();
    let count = samples.len();
    if count == 0 {
        return Stats {
            count,
            avg: 0,
            mad: 0,
            high: 0,
            low: 0,
            span_s: 0,
        };
    }
    let sum: u128 = samples.iter().map(|s| u128::from(s.ms)).sum();
    let avg = u64::try_from(sum / count as u128).unwrap_or(u64::MAX);
    let dev: u128 = samples.iter().map(|s| u128::from(s.ms.abs_diff(avg))).sum();
    let mad = u64::try_from(dev / count as u128).unwrap_or(u64::MAX);
    let high = samples.iter().map(|s| s.ms).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.ms).min().unwrap_or(0);
    let first = samples.first().map(|s| s.time).unwrap_or(0);
    let last = samples.last().map(|s| s.time).unwrap_or(0);
    Stats {
        count,
        avg,
        mad,
        high,
        low,
        span_s: last.saturating_sub(first),
    }
}

/// A short age label: `12s`, `5m`, `3h`, `2d`.
fn age_label(age: i64) -> String {
    let age = age.max(0);
    if age < 60 {
        format!("{age}s")
    } else if age < 3600 {
        format!("{}m", age / 60)
    } else if age < 86400 {
        format!("{}h", age / 3600)
    } else {
        format!("{}d", age / 86400)
    }
}

/// The `LATENCY GRAPH` chart: a header, one column per sample (newest
/// right, at most 80), bar heights scaled between 0 and the highest
/// sample, and the age of each sample written vertically under its column.
fn graph(name: &str, h: &EventHistory, now: i64) -> String {
    let all: Vec<Sample> = h.samples().collect();
    let shown = &all[all.len().saturating_sub(GRAPH_COLUMNS)..];
    let high = shown.iter().map(|s| s.ms).max().unwrap_or(0);
    let low = shown.iter().map(|s| s.ms).min().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name} - high {high} ms, low {low} ms (all time high {} ms)",
        h.max
    );
    out.push_str(&"-".repeat(GRAPH_COLUMNS));
    out.push('\n');
    let heights: Vec<u64> = shown
        .iter()
        .map(|s| {
            if high == 0 {
                0
            } else {
                let scaled = (u128::from(s.ms) * u128::from(GRAPH_ROWS)).div_ceil(u128::from(high));
                u64::try_from(scaled).unwrap_or(GRAPH_ROWS)
            }
        })
        .collect();
    for row in (1..=GRAPH_ROWS).rev() {
        let line: String = heights
            .iter()
            .map(|&ht| {
                if ht > row {
                    '|'
                } else if ht == row {
                    '_'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&"-".repeat(shown.len()));
    out.push('\n');
    let labels: Vec<Vec<char>> = shown
        .iter()
        .map(|s| age_label(now.saturating_sub(s.time)).chars().collect())
        .collect();
    let depth = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).copied().unwrap_or(' '))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cmd;

    #[test]
    fn samples_merge_within_a_second_and_wrap() {
        let mut m = LatencyMonitor::new();
        m.add_sample("command", 100, 5);
        m.add_sample("command", 100, 3);
        m.add_sample("command", 100, 9);
        let h = m.event("command").unwrap();
        assert_eq!(
            h.samples().collect::<Vec<_>>(),
            vec![Sample { time: 100, ms: 9 }]
        );
        for t in 0..300 {
            m.add_sample("command", 200 + t, t as u64);
        }
        let h = m.event("command").unwrap();
        let s: Vec<Sample> = h.samples().collect();
        assert_eq!(s.len(), HISTORY_LEN);
        assert_eq!(s[0].time, 200 + 300 - HISTORY_LEN as i64);
        assert_eq!(s.last().unwrap().time, 499);
        assert_eq!(h.max(), 299);
    }

    #[test]
    fn threshold_gate() {
        let mut m = LatencyMonitor::new();
        assert!(!m.add_sample_if_needed("fork", 1, 100, 0));
        assert!(!m.add_sample_if_needed("fork", 1, 100, -5));
        assert!(!m.add_sample_if_needed("fork", 1, 9, 10));
        assert!(m.add_sample_if_needed("fork", 1, 10, 10));
    }

    #[test]
    fn latest_history_reset() {
        let mut m = LatencyMonitor::new();
        m.add_sample("command", 10, 50);
        m.add_sample("command", 11, 20);
        m.add_sample("fork", 12, 7);
        assert_eq!(
            m.command(&cmd(&["latency", "latest"]), 20, 1),
            Reply::Array(vec![
                Reply::Array(vec![
                    Reply::bulk_from(b"command"),
                    Reply::Integer(11),
                    Reply::Integer(20),
                    Reply::Integer(50)
                ]),
                Reply::Array(vec![
                    Reply::bulk_from(b"fork"),
                    Reply::Integer(12),
                    Reply::Integer(7),
                    Reply::Integer(7)
                ]),
            ])
        );
        assert_eq!(
            m.command(&cmd(&["LATENCY", "HISTORY", "command"]), 20, 1),
            Reply::Array(vec![
                Reply::Array(vec![Reply::Integer(10), Reply::Integer(50)]),
                Reply::Array(vec![Reply::Integer(11), Reply::Integer(20)]),
            ])
        );
        assert_eq!(
            m.command(&cmd(&["latency", "history", "nope"]), 20, 1),
            Reply::Array(vec![])
        );
        assert_eq!(
            m.command(&cmd(&["latency", "reset", "fork", "nope"]), 20, 1),
            Reply::Integer(1)
        );
        m.add_sample("fork", 12, 7);
        assert_eq!(
            m.command(&cmd(&["latency", "reset"]), 20, 1),
            Reply::Integer(2)
        );
        assert_eq!(
            m.command(&cmd(&["latency", "latest"]), 20, 1),
            Reply::Array(vec![])
        );
    }

    #[test]
    fn graph_and_errors() {
        let mut m = LatencyMonitor::new();
        assert_eq!(
            m.command(&cmd(&["latency", "graph", "command"]), 20, 1),
            Reply::error("ERR No samples available for event 'command'")
        );
        m.add_sample("command", 10, 50);
        m.add_sample("command", 15, 25);
        m.add_sample("command", 1000, 100);
        let Reply::Bulk(text) = m.command(&cmd(&["latency", "graph", "command"]), 1010, 1) else {
            panic!()
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.starts_with("command - high 100 ms, low 25 ms (all time high 100 ms)\n"));
        // Ages written vertically under each column: 16m, 16m, 10s.
        assert!(text.ends_with("---\n111\n660\nmms\n"), "{text}");
        for bad in [
            &["latency"][..],
            &["latency", "foo"],
            &["latency", "latest", "x"],
            &["latency", "history"],
            &["latency", "graph"],
            &["latency", "doctor", "x"],
        ] {
            assert_eq!(
                m.command(&cmd(bad), 0, 0),
                Reply::error("ERR syntax error"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn doctor_reports() {
        let mut m = LatencyMonitor::new();
        let Reply::Bulk(t) = m.command(&cmd(&["latency", "doctor"]), 0, 0) else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&t).contains("disabled"));
        let Reply::Bulk(t) = m.command(&cmd(&["latency", "doctor"]), 0, 5) else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&t).contains("No latency event"));
        m.add_sample("aof-fsync-always", 5, 30);
        m.add_sample("command", 5, 30);
        let Reply::Bulk(t) = m.command(&cmd(&["latency", "doctor"]), 0, 5) else {
            panic!()
        };
        let t = String::from_utf8_lossy(&t);
        assert!(t.contains("1. aof-fsync-always: 1 spike"), "{t}");
        assert!(t.contains("SLOWLOG"), "{t}");
    }
}
