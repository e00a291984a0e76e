//! `disque-client` against real servers: the `Worker` (ack, nack,
//! heartbeats, graceful shutdown) on one node, and the `ClusterClient`
//! routing job commands to the node that created the job on three nodes.

use std::sync::{Arc, Mutex};

use crate::common::*;
use disque_client::{ClientOptions, ClusterClient, Job, Worker, WorkerOptions, WorkerReport};
use tokio::sync::{oneshot, Notify};

/// Deadline for anything the worker should do promptly.
const PROMPT: std::time::Duration = std::time::Duration::from_secs(10);

type Seen = Arc<Mutex<Vec<(String, Option<i64>)>>>;

/// A job added to `port` with `options` (`RETRY`, ...); returns its ID.
async fn add(c: &mut Client, body: &str, line: &str) -> String {
    addjob(c, &format!("q {body} 0 {line}")).await
}

/// Starts a worker on `q` of `port` with `options` running `handler`; the
/// returned sender stops it and the handle gives its report.
async fn start_worker<F, Fut>(
    port: u16,
    options: WorkerOptions,
    handler: F,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<WorkerReport>)
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let worker = Worker::connect(
        ("127.0.0.1", port),
        &["q"],
        options,
        ClientOptions::default(),
    )
    .await
    .expect("worker connects");
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(worker.run(handler, async move {
        let _ = stopped.await;
    }));
    (stop, run)
}

async fn stop(
    stop: oneshot::Sender<()>,
    run: tokio::task::JoinHandle<WorkerReport>,
) -> WorkerReport {
    let _ = stop.send(());
    tokio::time::timeout(PROMPT, run)
        .await
        .expect("the worker stops")
        .expect("the worker does not panic")
}

fn quick_worker() -> WorkerOptions {
    WorkerOptions {
        concurrency: 2,
        poll_timeout: ms(200),
        heartbeat: None,
        nack_delay: None,
    }
}

#[tokio::test]
async fn worker_acks_successes_and_nacks_failures() {
    let server = Server::start().await;
    let mut c = server.client().await;
    let ids = [
        add(&mut c, "ok-1", "RETRY 60").await,
        add(&mut c, "fail-once", "RETRY 60").await,
        add(&mut c, "ok-2", "RETRY 60").await,
    ];
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let (stop_worker, run) = start_worker(server.port, quick_worker(), move |job: Job| {
        let body = String::from_utf8_lossy(&job.body).into_owned();
        log.lock().unwrap().push((body.clone(), job.nacks));
        async move {
            if body == "fail-once" && job.nacks == Some(0) {
                Err("boom".to_string())
            } else {
                Ok(())
            }
        }
    })
    .await;
    poll_until!(PROMPT, "four deliveries", seen.lock().unwrap().len() == 4);
    let report = stop(stop_worker, run).await;
    assert_eq!(
        (report.acked, report.nacked, report.client_errors),
        (3, 1, 0)
    );
    assert_eq!(
        report.last_error.as_deref(),
        Some(&*format!("job {}: boom", ids[1]))
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("fail-once".to_string(), Some(0)),
            ("fail-once".to_string(), Some(1)),
            ("ok-1".to_string(), Some(0)),
            ("ok-2".to_string(), Some(0)),
        ]
    );
    // Every job was acknowledged: a single node forgets it at once.
    for id in &ids {
        poll_until!(PROMPT, format!("{id} acknowledged"), {
            cmd(&mut c, &format!("SHOW {id}")).await == Reply::Nil
        });
    }
    assert_eq!(qlen(&mut c, "q").await, 0);
}

/// Runs one job with `RETRY 1` through a handler that takes about 2.5 s
/// and returns how many times the handler was called.
async fn long_job_deliveries(heartbeat: Option<std::time::Duration>) -> usize {
    let server = Server::start().await;
    let mut c = server.client().await;
    let id = add(&mut c, "long", "RETRY 1").await;
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let options = WorkerOptions {
        heartbeat,
        ..quick_worker()
    };
    let (stop_worker, run) = start_worker(server.port, options, move |_job| {
        *counted.lock().unwrap() += 1;
        async {
            // The work itself: longer than twice the job's RETRY.
            tokio::time::sleep(ms(2500)).await;
            Ok(())
        }
    })
    .await;
    poll_until!(PROMPT, "the job acknowledged", {
        cmd(&mut c, &format!("SHOW {id}")).await == Reply::Nil
    });
    let report = stop(stop_worker, run).await;
    assert!(report.acked >= 1, "{report:?}");
    let n = *calls.lock().unwrap();
    n
}

#[tokio::test]
async fn worker_heartbeats_keep_a_long_job_from_being_delivered_again() {
    let (with, without) = tokio::join!(
        long_job_deliveries(Some(ms(300))),
        long_job_deliveries(None)
    );
    assert_eq!(with, 1, "WORKING every 300 ms keeps a RETRY 1 job");
    assert!(without >= 2, "without WORKING the job comes back after 1 s");
}

#[tokio::test]
async fn worker_shutdown_finishes_the_jobs_in_flight() {
    let server = Server::start().await;
    let mut c = server.client().await;
    let id = add(&mut c, "slow", "RETRY 60").await;
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (on_start, on_release) = (started.clone(), release.clone());
    let (stop_worker, run) = start_worker(server.port, quick_worker(), move |_job| {
        let (on_start, on_release) = (on_start.clone(), on_release.clone());
        async move {
            on_start.notify_one();
            on_release.notified().await;
            Ok(())
        }
    })
    .await;
    tokio::time::timeout(PROMPT, started.notified())
        .await
        .expect("the job started");
    stop_worker.send(()).unwrap();
    // The handler is still running: the worker waits for it.
    assert!(!run.is_finished());
    release.notify_one();
    let report = tokio::time::timeout(PROMPT, run).await.unwrap().unwrap();
    assert_eq!(report.acked, 1);
    assert_eq!(cmd(&mut c, &format!("SHOW {id}")).await, Reply::Nil);
    // Nothing consumes any more.
    add(&mut c, "later", "RETRY 60").await;
    assert_eq!(qlen(&mut c, "q").await, 1);
}

#[tokio::test]
async fn cluster_client_routes_job_commands_to_the_creating_node() {
    let mut cluster = Cluster::start(3).await;
    let mut on_1 = cluster.client(1).await;
    // REPLICATE 1: only node 1 holds the job.
    let id = addjob(&mut on_1, "rq body 0 REPLICATE 1 RETRY 60").await;
    let mut on_0 = cluster.client(0).await;
    assert_eq!(cmd(&mut on_0, &format!("SHOW {id}")).await, Reply::Nil);

    let options = ClientOptions {
        command_timeout: Some(secs(5)),
        ..ClientOptions::default()
    };
    let mut client = ClusterClient::connect_with(("127.0.0.1", cluster.port(0)), options)
        .await
        .unwrap();
    poll_until!(PROMPT, "HELLO lists three healthy nodes", {
        client.refresh().await.unwrap();
        client.nodes().iter().filter(|n| n.priority == 1).count() == 3
    });
    assert_eq!(client.current_node().unwrap().id, cluster.ids[0]);
    assert_eq!(client.node_for_job(&id).unwrap().id, cluster.ids[1]);
    // SHOW and WORKING reach node 1 (node 0 does not know the job).
    let info = client.show(&id).await.unwrap().expect("node 1 knows it");
    assert_eq!((info.state.as_str(), info.retry), ("queued", 60));
    assert_eq!(client.working(&id).await.unwrap(), 60);
    assert_eq!(client.ack_job(&[&id]).await.unwrap(), 1);
    poll_until!(PROMPT, "acknowledged on node 1", {
        cmd(&mut on_1, &format!("SHOW {id}")).await == Reply::Nil
    });
    // Other commands stay on node 0, which still answers when 1 is gone.
    cluster.kill(1);
    let id = addjob(&mut on_0, "rq body 0 REPLICATE 1").await;
    assert_eq!(client.show(&id).await.unwrap().unwrap().state, "queued");
    // When the current node dies, the next call moves to another node.
    cluster.kill(0);
    assert!(client.qlen("rq").await.is_err());
    assert_eq!(client.qlen("rq").await.unwrap(), 0);
    assert_eq!(client.current_node().unwrap().id, cluster.ids[2]);
}

/// The typed API of the D16–D18 extensions against this server: DEADLETTER
/// and PRIORITY options, the SHOW fields they add, NACK DELAY.
#[tokio::test]
async fn typed_api_of_nack_delay_dead_letters_and_priorities() {
    use disque_client::{AddJobOptions, DeadLetter, GetJobOptions};
    let server = Server::start().await;
    let mut c = server.client().await;
    let options = AddJobOptions {
        retry: Some(60),
        dead_letter: Some(DeadLetter {
            queue: "tq-dead".into(),
            max_deliveries: 2,
        }),
        priority: Some(8),
        ..AddJobOptions::default()
    };
    let urgent = c.add_job("tq", "urgent", 0, &options).await.unwrap();
    let plain = c
        .add_job("tq", "plain", 0, &AddJobOptions::default())
        .await
        .unwrap();
    let info = c.show(&urgent).await.unwrap().unwrap();
    assert_eq!(info.priority, Some(8));
    assert_eq!(info.dead_letter_queue.as_deref(), Some(&b"tq-dead"[..]));
    assert_eq!(info.max_deliveries, Some(2));
    let info = c.show(&plain).await.unwrap().unwrap();
    assert_eq!(
        (info.priority, info.dead_letter_queue, info.max_deliveries),
        (None, None, None)
    );
    let peek: Vec<String> = c
        .qpeek("tq", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(peek, vec![urgent.clone(), plain.clone()]);

    let nohang = GetJobOptions {
        nohang: true,
        ..GetJobOptions::default()
    };
    let got = c.get_job(&["tq"], &nohang).await.unwrap();
    assert_eq!(got[0].id, urgent);
    assert_eq!(c.nack_with_delay(1, &[&urgent]).await.unwrap(), 1);
    assert_eq!(c.show(&urgent).await.unwrap().unwrap().state, "active");
    poll_until!(secs(5), "requeued after the delay", {
        c.show(&urgent).await.unwrap().unwrap().state == "queued"
    });
    assert_eq!(c.get_job(&["tq"], &nohang).await.unwrap()[0].id, urgent);
    // The second delivery without an ack: this NACK moves it.
    assert_eq!(c.nack(&[&urgent]).await.unwrap(), 1);
    let moved = c.get_job(&["tq-dead"], &nohang).await.unwrap();
    assert_eq!(
        (moved[0].id.as_str(), &moved[0].queue[..]),
        (urgent.as_str(), &b"tq-dead"[..])
    );

    let bad = AddJobOptions {
        priority: Some(10),
        ..AddJobOptions::default()
    };
    match c.add_job("tq", "x", 0, &bad).await {
        Err(disque_client::ClientError::Server(text)) => {
            assert_eq!(text, "ERR PRIORITY must be between 0 and 9")
        }
        other => panic!("{other:?}"),
    }
}
