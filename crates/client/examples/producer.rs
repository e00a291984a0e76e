//! Adds jobs to a queue.
//!
//! ```sh
//! cargo run -p disque-client --example producer -- 127.0.0.1:7711 emails 10
//! ```
//!
//! Arguments: a node of the cluster (default `127.0.0.1:7711`), the queue
//! (default `emails`) and how many jobs to add (default 10).

use disque_client::{AddJobOptions, ClientOptions, ClusterClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let node = args.next().unwrap_or_else(|| "127.0.0.1:7711".to_string());
    let queue = args.next().unwrap_or_else(|| "emails".to_string());
    let count: u32 = args.next().map_or(Ok(10), |n| n.parse())?;

    let mut cluster = ClusterClient::connect_with(node.as_str(), ClientOptions::default()).await?;
    let options = AddJobOptions {
        // Deliver again if no worker acknowledged it within 30 s.
        retry: Some(30),
        // Give up after a day.
        ttl: Some(86_400),
        ..AddJobOptions::default()
    };
    for n in 0..count {
        let body = format!("message {n}");
        // Wait up to 5 s for the job to be replicated.
        let id = cluster.add_job(&queue, &body, 5_000, &options).await?;
        println!("{id} {body}");
    }
    Ok(())
}
