//! Consumes a queue until Ctrl-C, four jobs at a time.
//!
//! ```sh
//! cargo run -p disque-client --example worker -- 127.0.0.1:7711 emails
//! ```
//!
//! A job whose body contains `fail` fails on its first delivery: it is sent
//! back with NACK and succeeds when delivered again. Every job is
//! acknowledged after a short pause that stands for the work. Ctrl-C stops taking jobs, lets the running ones finish, and
//! prints what was done.

use std::time::Duration;

use disque_client::{ClientOptions, Job, Worker, WorkerOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let node = args.next().unwrap_or_else(|| "127.0.0.1:7711".to_string());
    let queue = args.next().unwrap_or_else(|| "emails".to_string());

    let options = WorkerOptions {
        concurrency: 4,
        // WORKING every 10 s while a job runs (below half its RETRY).
        heartbeat: Some(Duration::from_secs(10)),
        ..WorkerOptions::default()
    };
    let worker =
        Worker::connect(node.as_str(), &[queue], options, ClientOptions::default()).await?;
    let report = worker
        .run(
            |job: Job| async move {
                let body = String::from_utf8_lossy(&job.body).into_owned();
                if body.contains("fail") && job.nacks == Some(0) {
                    return Err(format!("cannot handle {body:?} yet"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                println!("{} done: {body}", job.id);
                Ok(())
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("stopping: finishing the jobs in progress");
            },
        )
        .await;
    println!(
        "{} acknowledged, {} sent back, {} client errors",
        report.acked, report.nacked, report.client_errors
    );
    Ok(())
}
