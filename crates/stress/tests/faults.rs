//! A short fault run against real processes: kill -9, restarts and SIGSTOP under
//! load must lose no acknowledged replicated job, deliver nothing unexpected, and
//! never deliver an at-most-once job twice.

mod common;

#[test]
fn kill_restart_and_pause_lose_no_replicated_job() {
    common::run_faults(&["--seconds", "12", "--seed", "7"]);
}
