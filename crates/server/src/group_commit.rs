//! Group commit for `appendfsync always`: a connection whose batch wrote AOF
//! records holds its replies until an fsync covers them. One fsync, run off the
//! event loop, covers every connection that wrote meanwhile, so durability does
//! not cost one fsync per command (DESIGN.md §5). While it runs, the records of
//! new batches wait in the AOF's buffer; the next fsync writes them all at once.
//!
//! This module owns the two signals of the group commit ([`Signals`], the
//! state's `group_commit` field); other modules only [`Signals::kick`] the
//! syncer. What an fsync changes in the AOF goes through the state
//! ([`State::begin_aof_sync`], [`State::aof_synced_to`], [`State::sync_aof`]).

use crate::state::{Shared, State};
use std::rc::Rc;
use tokio::sync::Notify;

/// The signals between the connections, the state and the syncer task.
#[derive(Debug, Default)]
pub struct Signals {
    /// Woken when an fsync completes.
    synced: Rc<Notify>,
    /// Wakes the syncer task.
    kick: Rc<Notify>,
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
        let (synced_signal, kick) = {
            let state = shared.borrow();
            if state.aof().is_synced(target) {
                return;
            }
            let signals = &state.group_commit;
            (signals.synced.clone(), signals.kick.clone())
        };
        // Single thread: nothing runs between the check above and this first poll,
        // so the notification cannot be missed.
        let notified = synced_signal.notified();
        kick.notify_one();
        notified.await;
    }
}

/// After an fsync: wakes every waiter and lets out the bus actions it made
/// durable.
fn synced(state: &mut State, shared: &Shared) {
    state.group_commit.synced.notify_waiters();
    state.release_bus(shared);
}

/// The task that performs the fsyncs: woken by waiting connections, it fsyncs on
/// a blocking thread everything written so far, then wakes every waiter.
pub async fn syncer(shared: Shared) {
    let kick = shared.borrow().group_commit.kick.clone();
    loop {
        kick.notified().await;
        loop {
            let job = {
                let mut state = shared.borrow_mut();
                if state.aof().unsynced_target().is_none() {
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
                break;
            };
            let result = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let result = file.sync_data();
                crate::http::recorder::fsync(started.elapsed());
                result
            })
            .await;
            if !matches!(result, Ok(Ok(()))) {
                crate::log::warning("Can't fsync the AOF with policy 'always'. Exiting...");
                std::process::exit(1);
            }
            let mut state = shared.borrow_mut();
            state.aof_synced_to(target);
            synced(&mut state, &shared);
        }
        let state = shared.borrow();
        state.group_commit.synced.notify_waiters();
    }
}
