//! `disque-benchmark` against a real `disque-server` (the debug build next to
//! it): each workload runs briefly and its `--json` report must parse and
//! count the requests asked for.

mod common;

use std::path::PathBuf;
use std::process::Command;

use disque_testkit::ServerOptions;
use serde_json::Value;

/// Runs the benchmark against `port` with `args` and returns its JSON report.
fn bench(port: u16, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_disque-benchmark"))
        .args(["--port", &port.to_string(), "--json", "--quiet"])
        .args(args)
        .output()
        .expect("run disque-benchmark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "disque-benchmark {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Latency percentiles of one operation must be positive and ordered.
fn check_latency(op: &Value) {
    let latency = &op["latency_us"];
    let keys = ["min", "p50", "p90", "p99", "p99_9", "max"];
    let values: Vec<f64> = keys
        .iter()
        .map(|k| {
            latency[k]
                .as_f64()
                .unwrap_or_else(|| panic!("no {k} in {op}"))
        })
        .collect();
    assert!(values[0] > 0.0, "{op}");
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{op}");
    assert_eq!(op["worst"]["latency_us"], latency["max"], "{op}");
}

#[test]
fn benchmark_reports_every_request_as_json() {
    let bench_exe = PathBuf::from(env!("CARGO_BIN_EXE_disque-benchmark"));
    let server = common::server_next_to(&bench_exe);
    let server = disque_testkit::layer::run(ServerOptions::default().bin(server).start());
    let port = server.port;

    let add = bench(port, &["-n", "3000", "-c", "4", "-P", "3", "-d", "20"]);
    assert_eq!(add["workload"], "add");
    assert_eq!(add["requests"], 3000);
    assert_eq!(add["errors"], 0);
    assert_eq!(add["operations"][0]["name"], "ADDJOB");
    assert_eq!(add["operations"][0]["requests"], 3000);
    assert_eq!(add["addjob"], "ADDJOB disque-benchmark <20 bytes> 0");
    check_latency(&add["operations"][0]);

    // Its own queue, with its own prefill: exactly the jobs asked for.
    let get = bench(
        port,
        &[
            "-w", "get-ack", "-n", "1000", "-c", "3", "--queue", "g", "--queues", "2",
        ],
    );
    assert_eq!(get["requests"], 1000);
    assert_eq!(get["prefill"]["jobs"], 1000);
    assert_eq!(get["operations"][0]["name"], "GETJOB+ACKJOB");
    check_latency(&get["operations"][0]);

    let mixed = bench(
        port,
        &[
            "-w", "mixed", "-n", "500", "-c", "4", "--queue", "m", "--retry", "30",
        ],
    );
    let names: Vec<&str> = mixed["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| op["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["ADDJOB", "GETJOB+ACKJOB"]);
    assert_eq!(mixed["operations"][0]["requests"], 500);
    assert_eq!(mixed["operations"][1]["requests"], 500);
    assert_eq!(mixed["requests"], 1000);

    let timed = bench(port, &["--duration", "0.3", "-c", "2", "--replicate", "1"]);
    assert!(timed["requests"].as_u64().expect("requests") > 0);
    assert!(timed["elapsed_s"].as_f64().expect("elapsed") >= 0.3);
    assert_eq!(timed["requested"], Value::Null);
}
