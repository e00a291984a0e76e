//! A short fault run against real processes: kill -9, restarts and SIGSTOP under
//! load must lose no acknowledged replicated job, deliver nothing unexpected, and
//! never deliver an at-most-once job twice.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn kill_restart_and_pause_lose_no_replicated_job() {
    let faults = PathBuf::from(env!("CARGO_BIN_EXE_disque-faults"));
    let server = faults.with_file_name("disque-server");
    assert!(
        server.exists(),
        "build the server first: cargo build -p disque-server ({})",
        server.display()
    );
    let output = Command::new(&faults)
        .args([
            "--server",
            server.to_str().expect("utf-8 path"),
            "--seconds",
            "12",
            "--seed",
            "7",
        ])
        .output()
        .expect("run disque-faults");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "fault run failed:\n{stdout}");
    assert!(stdout.contains("lost 0 |"));
}
