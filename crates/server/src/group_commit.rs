//! Group commit for `appendfsync always`: a connection whose batch wrote AOF
//! records holds its replies until an fsync covers them. One fsync, run off the
//! event loop, covers every connection that wrote meanwhile, so durability does
//! not cost one fsync per command (DESIGN.md §5). While it runs, and while the
//! next one gathers, the records of new batches wait in the AOF's buffer; the
//! next fsync writes them all at once.
//!
//! When an fsync ends, the clients it lets go usually send their next request
//! within a fraction of an fsync. The next fsync waits for them while they keep
//! coming back (until none came for half the last fsync's time, at most
//! [`MAX_GATHER`]), so that one fsync covers every busy client instead of two
//! halves taking turns (with 50 clients, about 50 requests per fsync instead of
//! 25).
//!
//! This module owns the signals of the group commit ([`Signals`], the
//! state's `group_commit` field); other modules only [`Signals::kick`] the
//! syncer. What an fsync changes in the AOF goes through the state
//! ([`State::begin_aof_sync`], [`State::aof_synced_to`],
//! [`State::end_aof_group_commit`], [`State::sync_aof`]).

use crate::state::{Shared, State};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The longest the next fsync waits for the clients the last one let go.
const MAX_GATHER: Duration = Duration::from_millis(1);

/// The signals between the connections, the state and the syncer task.
#[derive(Debug, Default)]
pub struct Signals {
    /// Woken when an fsync completes.
    synced: Rc<Notify>,
    /// Wakes the syncer task.
    kick: Rc<Notify>,
    /// How many connections wait for an fsync now.
    waiting: Rc<Cell<usize>>,
}

/// Counts a connection among the waiting ones while it lives.
struct Waiting(Rc<Cell<usize>>);

impl Waiting {
    fn new(count: Rc<Cell<usize>>) -> Waiting {
        count.set(count.get() + 1);
        Waiting(count)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Signals {
    /// Asks the syncer for an fsync of everything written so far.
    pub fn kick(&self) {
        self.kick.notify_one();
    }
}

/// Waits until the AOF is durable up to `target`.
pub async fn wait_durable(shared: &Shared, target: u64) {
    loop {
        let (synced_signal, kick, waiting) = {
            let state = shared.borrow();
            if state.aof().is_synced(target) {
                return;
            }
            let signals = &state.group_commit;
            (
                signals.synced.clone(),
                signals.kick.clone(),
                Waiting::new(signals.waiting.clone()),
            )
        };
        // Single thread: nothing runs between the check above and this first poll,
        // so the notification cannot be missed.
        let notified = synced_signal.notified();
        kick.notify_one();
        notified.await;
        drop(waiting);
    }
}

/// After an fsync: wakes every waiter and lets out the bus actions it made
/// durable.
fn synced(state: &mut State, shared: &Shared) {
    state.group_commit.synced.notify_waiters();
    state.release_bus(shared);
}

/// After an fsync that let go connections woken but not yet run (`expected`
/// counts them and those still waiting), gives them time to come back with
/// their next request: yields to the event loop until as many wait again, or
/// none came back for `patience`, or `limit` has passed.
async fn gather(waiting: &Cell<usize>, expected: usize, patience: Duration, limit: Duration) {
    let started = Instant::now();
    // The first turn runs the woken connections: they send their replies.
    tokio::task::yield_now().await;
    let (mut seen, mut seen_at) = (waiting.get(), Instant::now());
    while seen < expected {
        tokio::task::yield_now().await;
        let now = Instant::now();
        if waiting.get() > seen {
            (seen, seen_at) = (waiting.get(), now);
        } else if now - seen_at >= patience || now - started >= limit {
            return;
        }
    }
}

/// The task that performs the fsyncs: woken by waiting connections, it fsyncs on
/// a blocking thread everything written so far, then wakes every waiter.
pub async fn syncer(shared: Shared) {
    let (kick, waiting) = {
        let state = shared.borrow();
        let signals = &state.group_commit;
        (signals.kick.clone(), signals.waiting.clone())
    };
    loop {
        kick.notified().await;
        loop {
            let job = {
                let mut state = shared.borrow_mut();
                if state.aof().unsynced_target().is_none() {
                    state.end_aof_group_commit();
                    break;
                }
                state.begin_aof_sync()
            };
            let Some((file, target)) = job else {
                // The file cannot be handed to another thread: fsync it here.
                let mut state = shared.borrow_mut();
                if let Err(e) = state.sync_aof() {
                    crate::log::warning(&format!(
                        "Can't fsync the AOF with policy 'always': {e}. Exiting..."
                    ));
                    std::process::exit(1);
                }
                synced(&mut state, &shared);
                state.end_aof_group_commit();
                break;
            };
            let result = tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let result = file.sync_data();
                let took = started.elapsed();
                crate::http::recorder::fsync(took);
                result.map(|()| took)
            })
            .await;
            let Ok(Ok(took)) = result else {
                crate::log::warning("Can't fsync the AOF with policy 'always'. Exiting...");
                std::process::exit(1);
            };
            let expected = waiting.get();
            {
                let mut state = shared.borrow_mut();
                state.aof_synced_to(target);
                synced(&mut state, &shared);
            }
            gather(&waiting, expected, took / 2, MAX_GATHER).await;
        }
        let state = shared.borrow();
        state.group_commit.synced.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `gather` beside a task that brings connections back one per
    /// event-loop turn, up to `back`; returns how many had come back.
    fn gather_with(expected: usize, back: usize, patience: Duration) -> usize {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            let waiting = Rc::new(Cell::new(0));
            let returning = waiting.clone();
            tokio::task::spawn_local(async move {
                for _ in 0..back {
                    tokio::task::yield_now().await;
                    returning.set(returning.get() + 1);
                }
            });
            gather(&waiting, expected, patience, Duration::from_secs(60)).await;
            waiting.get()
        })
    }

    #[test]
    fn the_next_fsync_waits_for_every_connection_let_go_to_come_back() {
        let back = gather_with(5, 10, Duration::from_secs(60));
        assert!((5..10).contains(&back), "{back} came back");
    }

    #[test]
    fn the_next_fsync_starts_when_no_connection_comes_back_for_a_while() {
        assert_eq!(gather_with(5, 2, Duration::from_millis(1)), 2);
    }
}
