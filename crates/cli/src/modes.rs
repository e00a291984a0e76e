//! The continuous modes of `redis-cli`: `--latency` (PING round trips) and
//! `--stat` (a line of server statistics per interval). Both run until
//! interrupted, or until the connection is lost (exit status 1).

use std::time::{Duration, Instant};

use disque_client::Reply;

use crate::format::OutputMode;
use crate::session::{out, warn, Session};

/// Pause between two latency samples, as in `redis-cli`.
const LATENCY_SAMPLE_RATE: Duration = Duration::from_millis(10);

/// `--stat` prints its header again after this many lines.
const STAT_HEADER_EVERY: usize = 20;

/// Running latency figures, in milliseconds.
#[derive(Debug, Default)]
struct LatencyStats {
    min: u128,
    max: u128,
    total: u128,
    samples: u128,
}

impl LatencyStats {
    fn add(&mut self, elapsed: Duration) {
        let ms = elapsed.as_millis();
        if self.samples == 0 || ms < self.min {
            self.min = ms;
        }
        self.max = self.max.max(ms);
        self.total += ms;
        self.samples += 1;
    }

    fn line(&self) -> String {
        let avg = self.total as f64 / self.samples.max(1) as f64;
        format!(
            "min: {}, max: {}, avg: {avg:.2} ({} samples)",
            self.min, self.max, self.samples
        )
    }
}

impl Session {
    /// Sends one command, reconnecting first if needed; `None` (after
    /// printing why) when the node cannot be reached.
    fn sample(&mut self, args: &[&str]) -> Option<Reply> {
        if !self.connect(false) {
            return None;
        }
        let client = self.client.as_mut()?;
        match self.runtime.block_on(client.call(args)) {
            Ok(reply) => Some(reply),
            Err(e) => {
                self.client = None;
                warn(&format!("Error: {e}"));
                None
            }
        }
    }

    /// `--latency`: PINGs the node every 10 ms and shows min, max and
    /// average round trips in milliseconds: updated in place on a terminal
    /// (standard output mode), one line per second otherwise.
    pub(crate) fn latency(&mut self) -> i32 {
        let mut stats = LatencyStats::default();
        let mut last_line = Instant::now();
        loop {
            let start = Instant::now();
            if self.sample(&["PING"]).is_none() {
                return 1;
            }
            stats.add(start.elapsed());
            if self.options.output == OutputMode::Standard {
                out(&format!("\x1b[0G\x1b[2K{}", stats.line()));
            } else if last_line.elapsed() >= Duration::from_secs(1) {
                out(&format!("{}\n", stats.line()));
                last_line = Instant::now();
            }
            std::thread::sleep(LATENCY_SAMPLE_RATE);
        }
    }

    /// `--stat`: every `-i` interval (1 s by default) one line with the
    /// node's jobs, queues, memory, clients, blocked clients, requests
    /// (and their increase since the previous line) and connections.
    pub(crate) fn stat(&mut self) -> i32 {
        let interval = if self.options.interval.is_zero() {
            Duration::from_secs(1)
        } else {
            self.options.interval
        };
        let mut previous_requests: Option<u64> = None;
        let mut lines = 0;
        loop {
            let info = match self.sample(&["INFO"]) {
                Some(Reply::Bulk(text)) => String::from_utf8_lossy(&text).into_owned(),
                Some(other) => {
                    warn(&format!("ERROR: unexpected INFO reply {other:?}"));
                    return 1;
                }
                None => return 1,
            };
            if lines % STAT_HEADER_EVERY == 0 {
                out(&format!(
                    "------- data ------- ---------------------- load ----------------------\n\
                     {:<10} {:<8} {:<10} {:<8} {:<8} {:<20} {}\n",
                    "jobs", "queues", "mem", "clients", "blocked", "requests", "connections"
                ));
            }
            lines += 1;
            let field = |name: &str| info_field(&info, name).unwrap_or("-").to_string();
            let requests = info_field(&info, "total_commands_processed")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let delta = requests.saturating_sub(previous_requests.unwrap_or(requests));
            previous_requests = Some(requests);
            out(&format!(
                "{:<10} {:<8} {:<10} {:<8} {:<8} {:<20} {}\n",
                field("registered_jobs"),
                field("registered_queues"),
                field("used_memory_human"),
                field("connected_clients"),
                field("blocked_clients"),
                format!("{requests} (+{delta})"),
                field("total_connections_received"),
            ));
            std::thread::sleep(interval);
        }
    }
}

/// The value of `name:value` in an INFO reply.
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_and_latency_line() {
        let info = "# Jobs\r\nregistered_jobs:12\r\nregistered_jobs_x:1\r\n";
        assert_eq!(info_field(info, "registered_jobs"), Some("12"));
        assert_eq!(info_field(info, "registered"), None);
        let mut stats = LatencyStats::default();
        stats.add(Duration::from_millis(3));
        stats.add(Duration::from_millis(1));
        assert_eq!(stats.line(), "min: 1, max: 3, avg: 2.00 (2 samples)");
    }
}
