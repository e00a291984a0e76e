//! Group commit for `appendfsync always`: a connection whose batch wrote AOF
//! records holds its replies until an fsync covers them. One fsync, run off the
//! event loop, covers every connection that wrote meanwhile, so durability does
//! not cost one fsync per command (DESIGN.md §5).

use crate::state::Shared;

/// Waits until the AOF is durable up to `target`.
pub async fn wait_durable(shared: &Shared, target: u64) {
    loop {
        let (synced_signal, kick) = {
            let state = shared.borrow();
            if state.aof.is_synced(target) {
                return;
            }
            (state.aof_synced.clone(), state.aof_sync_kick.clone())
        };
        // Single thread: nothing runs between the check above and this first poll,
        // so the notification cannot be missed.
        let notified = synced_signal.notified();
        kick.notify_one();
        notified.await;
    }
}

/// The task that performs the fsyncs: woken by waiting connections, it fsyncs on
/// a blocking thread everything written so far, then wakes every waiter.
pub async fn syncer(shared: Shared) {
    let kick = shared.borrow().aof_sync_kick.clone();
    loop {
        kick.notified().await;
        loop {
            let job = {
                let state = shared.borrow();
                if state.aof.unsynced_target().is_none() {
                    break;
                }
                state.aof.sync_job()
            };
            let Some((file, target)) = job else {
                // The file cannot be handed to another thread: fsync it here.
                let mut state = shared.borrow_mut();
                if let Err(e) = state.aof.flush_and_sync() {
                    crate::log::warning(&format!(
                        "Can't fsync the AOF with policy 'always': {e}. Exiting..."
                    ));
                    std::process::exit(1);
                }
                state.aof_synced.notify_waiters();
                state.release_bus(&shared);
                break;
            };
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || file.sync_data()).await;
            crate::http::recorder::fsync(started.elapsed());
            if !matches!(result, Ok(Ok(()))) {
                crate::log::warning("Can't fsync the AOF with policy 'always'. Exiting...");
                std::process::exit(1);
            }
            let mut state = shared.borrow_mut();
            state.aof.mark_synced(target);
            state.aof_synced.notify_waiters();
            state.release_bus(&shared);
        }
        let state = shared.borrow();
        state.aof_synced.notify_waiters();
    }
}
