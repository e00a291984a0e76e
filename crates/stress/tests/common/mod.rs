//! Helpers shared by the stress tests that drive the built binaries.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `disque-server` built next to the binary `exe` (asserts it exists).
pub fn server_next_to(exe: &Path) -> PathBuf {
    let server = exe.with_file_name("disque-server");
    assert!(
        server.exists(),
        "build the server first: cargo build -p disque-server ({})",
        server.display()
    );
    server
}

/// Runs `disque-faults --server <server> args...`, prints its output and
/// checks that it succeeded and lost nothing; its stdout.
pub fn run_faults(args: &[&str]) -> String {
    let faults = PathBuf::from(env!("CARGO_BIN_EXE_disque-faults"));
    let server = server_next_to(&faults);
    let output = Command::new(&faults)
        .args(["--server", server.to_str().expect("utf-8 path")])
        .args(args)
        .output()
        .expect("run disque-faults");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "fault run failed:\n{stdout}");
    assert!(stdout.contains("lost 0 |"));
    stdout
}
