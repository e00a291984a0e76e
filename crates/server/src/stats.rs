//! The counters of INFO stats and commandstats (reset by CONFIG RESETSTAT).
//!
//! [`Stats`] keeps its counters private: each is changed by one method named
//! for the event it counts, and each method has one caller: `connection`
//! (connections, network bytes), `dispatch` (commands), `server` (the
//! samples of the instantaneous rates) and `config_glue` (CONFIG RESETSTAT).

use disque_core::commands::{CommandSpec, COMMANDS};

/// Calls and total microseconds of one command (INFO commandstats).
#[derive(Clone, Copy, Debug, Default)]
pub struct CommandStat {
    /// Calls.
    pub calls: u64,
    /// Total time in microseconds.
    pub usec: u64,
}

/// Samples kept for the instantaneous rates.
const SAMPLES: usize = 16;

/// Counters shown by INFO stats (reset by CONFIG RESETSTAT).
#[derive(Debug)]
pub struct Stats {
    /// Connections accepted.
    connections_received: u64,
    /// Commands executed.
    commands_processed: u64,
    /// Bytes read from clients.
    net_input_bytes: u64,
    /// Bytes written to clients.
    net_output_bytes: u64,
    /// Connections refused (maxclients, protected mode).
    rejected_connections: u64,
    /// Per command, indexed by `CommandId as usize` (an array: counting is
    /// on every command's path).
    commands: [CommandStat; COMMANDS.len()],
    /// Samples for the instantaneous rates: (time ms, commands, input, output).
    samples: Vec<(u64, u64, u64, u64)>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connections_received: 0,
            commands_processed: 0,
            net_input_bytes: 0,
            net_output_bytes: 0,
            rejected_connections: 0,
            commands: [CommandStat::default(); COMMANDS.len()],
            samples: Vec::new(),
        }
    }
}

impl Stats {
    /// A connection was accepted (`connection`).
    pub fn count_connection(&mut self) {
        self.connections_received += 1;
    }

    /// A connection was refused (`connection`).
    pub fn count_rejected(&mut self) {
        self.rejected_connections += 1;
    }

    /// `bytes` were read from a client (`connection`).
    pub fn add_net_input(&mut self, bytes: u64) {
        self.net_input_bytes += bytes;
    }

    /// `bytes` were written to a client (`connection`).
    pub fn add_net_output(&mut self, bytes: u64) {
        self.net_output_bytes += bytes;
    }

    /// Command `spec` ran for `usec` microseconds (`dispatch`).
    pub fn count_command(&mut self, spec: &CommandSpec, usec: u64) {
        self.commands_processed += 1;
        let stat = &mut self.commands[spec.id as usize];
        stat.calls += 1;
        stat.usec += usec;
    }

    /// CONFIG RESETSTAT: every counter back to zero (`config_glue`).
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// Takes one sample for the instantaneous metrics (called every 100 ms
    /// by `server`'s ticker).
    pub fn sample(&mut self, now_ms: u64) {
        self.samples.push((
            now_ms,
            self.commands_processed,
            self.net_input_bytes,
            self.net_output_bytes,
        ));
        if self.samples.len() > SAMPLES {
            self.samples.remove(0);
        }
    }

    /// (ops/sec, input kbps, output kbps) over the sampled window.
    pub fn instantaneous(&self) -> (u64, f64, f64) {
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return (0, 0.0, 0.0);
        };
        let secs = (last.0.saturating_sub(first.0)) as f64 / 1000.0;
        if secs <= 0.0 {
            return (0, 0.0, 0.0);
        }
        let ops = ((last.1 - first.1) as f64 / secs) as u64;
        let input = (last.2 - first.2) as f64 / secs / 1024.0;
        let output = (last.3 - first.3) as f64 / secs / 1024.0;
        (ops, input, output)
    }

    /// Connections accepted.
    pub fn connections_received(&self) -> u64 {
        self.connections_received
    }

    /// Commands executed.
    pub fn commands_processed(&self) -> u64 {
        self.commands_processed
    }

    /// Bytes read from clients.
    pub fn net_input_bytes(&self) -> u64 {
        self.net_input_bytes
    }

    /// Bytes written to clients.
    pub fn net_output_bytes(&self) -> u64 {
        self.net_output_bytes
    }

    /// Connections refused.
    pub fn rejected_connections(&self) -> u64 {
        self.rejected_connections
    }

    /// Every command run since the last reset, by name (in no order).
    pub fn commands(&self) -> impl Iterator<Item = (&'static str, CommandStat)> + '_ {
        COMMANDS.iter().filter_map(|spec| {
            let stat = self.commands[spec.id as usize];
            (stat.calls > 0).then_some((spec.name, stat))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_own_counter() {
        let mut seen = [false; COMMANDS.len()];
        for spec in &COMMANDS {
            let slot = spec.id as usize;
            assert!(!seen[slot], "{} shares a counter", spec.name);
            seen[slot] = true;
        }
        let mut stats = Stats::default();
        stats.count_command(&COMMANDS[3], 7);
        let counted: Vec<_> = stats.commands().collect();
        assert_eq!(counted.len(), 1);
        assert_eq!(
            (counted[0].0, counted[0].1.calls, counted[0].1.usec),
            (COMMANDS[3].name, 1, 7)
        );
    }
}
