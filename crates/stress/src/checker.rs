//! The total-queue checker, in the style of Jepsen's: every ADDJOB attempt and
//! every delivery is recorded; at the end each job is classified.

use std::collections::HashMap;

/// How a job was added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// At-least-once with REPLICATE >= 2 (must never be lost).
    Replicated,
    /// At-least-once with REPLICATE 1 (lost if its only node dies without AOF).
    Single,
    /// At-most-once (RETRY 0): never delivered twice.
    AtMostOnce,
}

/// One attempted job.
#[derive(Clone, Debug)]
struct Attempt {
    kind: Kind,
    /// ADDJOB returned an id.
    acknowledged: bool,
    deliveries: u32,
}

/// Everything recorded during a run.
#[derive(Debug, Default)]
pub struct History {
    attempts: HashMap<u64, Attempt>,
    unexpected: u64,
}

/// The verdict.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// ADDJOBs that returned an id.
    pub acknowledged: u64,
    /// Acknowledged replicated jobs never delivered.
    pub lost: u64,
    /// Acknowledged single-copy jobs never delivered (allowed when their node died).
    pub lost_single: u64,
    /// Deliveries of bodies never attempted.
    pub unexpected: u64,
    /// At-most-once jobs delivered more than once.
    pub duplicated_at_most_once: u64,
    /// At-least-once jobs delivered more than once (allowed).
    pub redelivered: u64,
    /// Failed ADDJOBs whose job was delivered anyway.
    pub recovered: u64,
}

impl Report {
    /// True when no guarantee was broken.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.duplicated_at_most_once == 0
    }
}

impl History {
    /// Records an ADDJOB attempt for body `seq`, before it is sent (a consumer may
    /// receive the job before the producer hears back).
    pub fn attempted(&mut self, seq: u64, kind: Kind) {
        self.attempts.insert(
            seq,
            Attempt {
                kind,
                acknowledged: false,
                deliveries: 0,
            },
        );
    }

    /// Records that the ADDJOB of `seq` returned an id.
    pub fn acknowledged(&mut self, seq: u64) {
        if let Some(a) = self.attempts.get_mut(&seq) {
            a.acknowledged = true;
        }
    }

    /// Records a delivery of body `seq`.
    pub fn delivered(&mut self, seq: u64) {
        match self.attempts.get_mut(&seq) {
            Some(a) => a.deliveries += 1,
            None => self.unexpected += 1,
        }
    }

    /// Number of deliveries recorded so far.
    pub fn deliveries(&self) -> u64 {
        self.attempts.values().map(|a| a.deliveries as u64).sum()
    }

    /// Classifies every job.
    pub fn report(&self) -> Report {
        let mut r = Report {
            unexpected: self.unexpected,
            ..Report::default()
        };
        for a in self.attempts.values() {
            if a.acknowledged {
                r.acknowledged += 1;
            }
            match (a.acknowledged, a.deliveries, a.kind) {
                (true, 0, Kind::Replicated) => r.lost += 1,
                (true, 0, _) => r.lost_single += 1,
                (false, n, _) if n > 0 => r.recovered += 1,
                _ => {}
            }
            if a.deliveries > 1 {
                if a.kind == Kind::AtMostOnce {
                    r.duplicated_at_most_once += 1;
                } else {
                    r.redelivered += 1;
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let mut h = History::default();
        for (seq, kind) in [
            (1, Kind::Replicated),
            (2, Kind::AtMostOnce),
            (3, Kind::Single),
            (4, Kind::Replicated),
        ] {
            h.attempted(seq, kind);
        }
        for seq in [1, 2, 4] {
            h.acknowledged(seq);
        }
        h.delivered(2);
        h.delivered(2);
        h.delivered(3);
        h.delivered(4);
        h.delivered(4);
        h.delivered(99);
        let r = h.report();
        assert_eq!(
            (
                r.lost,
                r.duplicated_at_most_once,
                r.recovered,
                r.redelivered,
                r.unexpected
            ),
            (1, 1, 1, 1, 1)
        );
        assert!(!r.ok());
    }
}
