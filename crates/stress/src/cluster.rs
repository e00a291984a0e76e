//! Real `disque-server` processes on 127.0.0.1: start, join, kill -9, pause
//! (SIGSTOP/SIGCONT), restart with the same directory. Every process is killed
//! when the [`LocalCluster`] is dropped (which unwinding from a panic does too);
//! on Linux each one also gets SIGKILL if the thread that started it dies
//! first (the tool itself killed, or aborted), so no server outlives a run.

use disque_client::{Client, Reply};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node: its port, directory, and process while it runs.
pub struct NodeProcess {
    /// Client port (bus port is + 10000).
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    paused: bool,
}

/// N nodes started from one binary with the same extra arguments.
pub struct LocalCluster {
    server: PathBuf,
    args: Vec<String>,
    /// The nodes.
    pub nodes: Vec<NodeProcess>,
    root: PathBuf,
}

/// A port below 55535 whose bus port is free too.
pub fn free_port(rng: &mut impl rand::Rng) -> u16 {
    loop {
        let port = rng.gen_range(20_000..45_000);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

impl LocalCluster {
    /// Starts `n` nodes (not joined yet) under a fresh directory in the system temp dir.
    pub fn start(
        server: PathBuf,
        n: usize,
        args: &[&str],
        rng: &mut impl rand::Rng,
    ) -> LocalCluster {
        let root = std::env::temp_dir().join(format!(
            "disque-faults-{}-{}",
            std::process::id(),
            rng.gen::<u32>()
        ));
        let mut cluster = LocalCluster {
            server,
            args: args.iter().map(|a| a.to_string()).collect(),
            nodes: Vec::new(),
            root,
        };
        for i in 0..n {
            let dir = cluster.root.join(format!("node{i}"));
            std::fs::create_dir_all(&dir).expect("create node dir");
            cluster.nodes.push(NodeProcess {
                port: free_port(rng),
                dir,
                child: None,
                paused: false,
            });
            cluster.spawn(i);
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("log"))
            .expect("log file");
        let mut command = Command::new(&self.server);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            let parent = std::process::id() as libc::pid_t;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() != parent {
                        // The parent died before the signal was armed.
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .args(["--port", &node.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&node.dir)
            .args(&self.args)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start disque-server");
        node.child = Some(child);
        node.paused = false;
    }

    /// Every node's client port, by index.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// kill -9.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again with the same directory (same id, same AOF).
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].child.is_none() {
            self.spawn(i);
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`).
    pub fn pause(&mut self, i: usize, stop: bool) {
        if let Some(child) = &self.nodes[i].child {
            // SAFETY: sends a signal to our own child process.
            unsafe {
                libc::kill(
                    child.id() as i32,
                    if stop { libc::SIGSTOP } else { libc::SIGCONT },
                )
            };
            self.nodes[i].paused = stop;
        }
    }

    /// True when the node runs and is not paused.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].child.is_some() && !self.nodes[i].paused
    }

    /// Joins every node to the first and waits until each sees all others.
    pub async fn join(&self, deadline: Duration) -> Result<(), String> {
        let first = self.nodes[0].port;
        let mut c = connect(first, deadline).await?;
        for node in &self.nodes[1..] {
            let port = node.port.to_string();
            c.call(&["CLUSTER", "MEET", "127.0.0.1", port.as_str()])
                .await
                .map_err(|e| e.to_string())?;
        }
        let want = format!("cluster_reachable_nodes:{}", self.nodes.len() - 1);
        let started = Instant::now();
        for node in &self.nodes {
            loop {
                let mut c = connect(node.port, deadline).await?;
                if let Ok(Reply::Bulk(info)) = c.call(&["CLUSTER", "INFO"]).await {
                    if String::from_utf8_lossy(&info).contains(&want) {
                        break;
                    }
                }
                if started.elapsed() > deadline {
                    return Err(format!("node {} did not join in time", node.port));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.pause(i, false);
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Connects to a node, retrying until `deadline`.
pub async fn connect(port: u16, deadline: Duration) -> Result<Client, String> {
    let started = Instant::now();
    loop {
        match tokio::time::timeout(
            Duration::from_millis(500),
            Client::connect(("127.0.0.1", port)),
        )
        .await
        {
            Ok(Ok(c)) => return Ok(c),
            _ if started.elapsed() > deadline => return Err(format!("cannot connect to {port}")),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
