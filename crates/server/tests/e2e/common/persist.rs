//! Helpers for the persistence tests: a node that keeps its directory, port
//! and config file across restarts (SHUTDOWN, SIGTERM, kill -9), a file-size
//! limit to simulate a full disk, and AOF record reading/writing per
//! docs/persistence.md §2. (Clusters: see `cluster.rs`.)

use super::*;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where `disque-check-aof` was built.
pub fn check_aof_bin() -> &'static str {
    env!("CARGO_BIN_EXE_disque-check-aof")
}

/// A `disque-server` that can be stopped and started again in the same
/// directory, on the same port, with the same config file; its [`Process`]
/// (killed on drop, also on panic) by deref.
pub struct Node {
    process: Process,
    /// Passed as the first argument at every start, if set.
    pub config_file: Option<PathBuf>,
    /// `--name value` arguments passed at every start.
    pub args: Vec<String>,
    /// RLIMIT_FSIZE (bytes) for the next starts, with SIGXFSZ ignored, so
    /// that writes past it fail with EFBIG ("disk full").
    pub fsize_limit: Option<u64>,
    /// How many times it was spawned (names each run's log).
    runs: u32,
}

deref_to_process!(Node);

impl Node {
    /// A node (not started) with `--name value` pairs given as
    /// `["appendonly", "yes", ...]`.
    pub fn new(args: &[&str]) -> Node {
        assert!(
            args.len().is_multiple_of(2),
            "args come in name/value pairs"
        );
        let dir = TempDir::new();
        let log = dir.path().join("server-0.log");
        Node {
            process: Process {
                child: None,
                port: free_port(),
                dir,
                log,
            },
            config_file: None,
            args: args
                .chunks(2)
                .flat_map(|p| [format!("--{}", p[0]), p[1].to_string()])
                .collect(),
            fsize_limit: None,
            runs: 0,
        }
    }

    /// Writes `text` to `disque.conf` in the node's directory and uses it.
    pub fn with_config(mut self, text: &str) -> Node {
        let file = self.dir.path().join("disque.conf");
        std::fs::write(&file, text).expect("write config file");
        self.config_file = Some(file);
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `disque.aof` in the node's directory.
    pub fn aof(&self) -> PathBuf {
        self.path("disque.aof")
    }

    pub fn aof_bytes(&self) -> Vec<u8> {
        std::fs::read(self.aof()).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none() && self.child.is_some()
    }

    /// Starts the process without waiting for it to answer.
    pub fn spawn(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "node already running");
        self.runs += 1;
        self.log = self.path(&format!("server-{}.log", self.runs));
        let mut cmd = Command::new(server_bin());
        if let Some(file) = &self.config_file {
            cmd.arg(file);
        }
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .args(extra)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        let file = std::fs::File::create(&self.log).expect("log file");
        cmd.stderr(Stdio::from(file.try_clone().expect("log file")))
            .stdout(Stdio::from(file));
        kill_with_parent(&mut cmd);
        if let Some(limit) = self.fsize_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit and signal are async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let lim = libc::rlimit {
                        rlim_cur: limit as libc::rlim_t,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        self.child = Some(cmd.spawn().expect("spawn disque-server"));
    }

    /// Starts the node and waits until it answers PING (after loading).
    /// `extra` are additional command-line arguments for this run only.
    pub async fn start(&mut self, extra: &[&str]) {
        let mut failures = String::new();
        for _attempt in 0..5 {
            self.spawn(extra);
            match self.wait_ready(None).await {
                Ok(()) => return,
                Err(e) => {
                    let _ = writeln!(failures, "port {}: {e}\n{}", self.port, self.log_text());
                    self.kill();
                    // Another process took our port meanwhile: wait a little
                    // and try again on the same port (cluster nodes must keep
                    // theirs).
                    tokio::time::sleep(ms(300)).await;
                }
            }
        }
        panic!("could not start disque-server:\n{failures}");
    }

    /// Starts the node expecting it to exit by itself (a startup error):
    /// its exit code and log.
    pub async fn start_expect_exit(&mut self, extra: &[&str]) -> (Option<i32>, String) {
        self.spawn(extra);
        match self.wait_exit(secs(20)).await {
            Some(status) => (status.code(), self.log_text()),
            None => panic!(
                "server kept running, expected it to exit\n{}",
                self.log_text()
            ),
        }
    }

    /// Waits for the process to exit, at most `timeout`; forgets the child
    /// once it has exited.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = self.process.wait_exit(timeout).await;
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Sends a signal to the running process.
    pub fn signal(&self, sig: i32) {
        if let Some(child) = &self.child {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(child.id() as i32, sig);
            }
        }
    }

    /// Sends `SHUTDOWN [args]`, expects the connection to close without a
    /// reply and the process to exit 0.
    pub async fn shutdown(&mut self, args: &[&str]) {
        let mut raw = self.raw().await;
        let mut line = vec!["SHUTDOWN"];
        line.extend_from_slice(args);
        raw.cmd(&line).await;
        let before_close = raw.expect_closed().await;
        assert!(
            before_close.is_empty(),
            "SHUTDOWN replied {:?}",
            String::from_utf8_lossy(&before_close)
        );
        self.expect_exit_zero().await;
    }

    /// Waits for the process to exit and asserts status 0.
    pub async fn expect_exit_zero(&mut self) {
        let status = self
            .wait_exit(secs(20))
            .await
            .unwrap_or_else(|| panic!("server did not exit\n{}", self.log_text()));
        assert_eq!(status.code(), Some(0), "exit status\n{}", self.log_text());
    }

    /// Raises (or lowers) the running process's RLIMIT_FSIZE.
    pub fn set_fsize_limit(&self, limit: Option<u64>) {
        let lim = libc::rlimit {
            rlim_cur: limit.map_or(libc::RLIM_INFINITY, |l| l as libc::rlim_t),
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: prlimit on our own child with a valid struct.
        let rc = unsafe {
            libc::prlimit(
                self.pid() as libc::pid_t,
                libc::RLIMIT_FSIZE,
                &lim,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    }
}

// ---------------------------------------------------------------------------
// Reply helpers

/// SHOW: `None` for nil, else the state field.
pub async fn state_of(c: &mut Client, id: &str) -> Option<String> {
    match cmd(c, &format!("SHOW {id}")).await {
        Reply::Nil => None,
        r @ Reply::Array(_) => Some(text(field(&r, "state"))),
        other => panic!("SHOW {id}: {other:?}"),
    }
}

/// Every queue name, through QSCAN.
pub async fn qscan_all(c: &mut Client) -> Vec<String> {
    scan_all(c, "QSCAN").await
}

/// Every job id, through JSCAN.
pub async fn jscan_all(c: &mut Client) -> HashSet<String> {
    scan_all(c, "JSCAN").await.into_iter().collect()
}

async fn scan_all(c: &mut Client, command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let r = cmd(c, &format!("{command} {cursor} COUNT 1000")).await;
        let v = items(&r);
        cursor = text(&v[0]);
        out.extend(items(&v[1]).iter().map(text));
        if cursor == "0" {
            return out;
        }
    }
}

pub async fn job_count(c: &mut Client) -> i64 {
    info_value(c, "registered_jobs").await.parse().unwrap()
}

/// SHOW for many ids, pipelined: the ids whose SHOW is nil.
pub async fn missing_jobs(c: &mut Client, ids: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    for chunk in ids.chunks(500) {
        let commands: Vec<[&str; 2]> = chunk.iter().map(|id| ["SHOW", id.as_str()]).collect();
        let refs: Vec<&[&str]> = commands.iter().map(|c| &c[..]).collect();
        c.send_many(&refs).await.expect("send");
        for id in chunk {
            match c.read_reply().await.expect("reply") {
                Reply::Nil => missing.push(id.clone()),
                Reply::Array(_) => {}
                other => panic!("SHOW {id}: {other:?}"),
            }
        }
    }
    missing
}

// ---------------------------------------------------------------------------
// AOF records (docs/persistence.md §2)

/// One record: its offset and its arguments.
#[derive(Debug, Clone)]
pub struct Record {
    pub offset: usize,
    pub args: Vec<Vec<u8>>,
}

impl Record {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.args[0]).to_ascii_uppercase()
    }
}

/// Splits a well-formed AOF into records; panics on anything else.
pub fn aof_records(data: &[u8]) -> Vec<Record> {
    fn line(data: &[u8], pos: &mut usize) -> usize {
        let start = *pos;
        let end = start
            + data[start..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or_else(|| panic!("no CRLF after offset {start}"));
        *pos = end + 2;
        std::str::from_utf8(&data[start + 1..end])
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("bad number at offset {start}"))
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let offset = pos;
        assert_eq!(data[pos], b'*', "record at {pos}");
        let n = line(data, &mut pos);
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            assert_eq!(data[pos], b'$', "argument at {pos}");
            let len = line(data, &mut pos);
            args.push(data[pos..pos + len].to_vec());
            assert_eq!(&data[pos + len..pos + len + 2], b"\r\n");
            pos += len + 2;
        }
        out.push(Record { offset, args });
    }
    out
}

/// A multi-bulk record.
pub fn record(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A job in storage form, written by hand from docs/persistence.md §2.3.
pub struct StoredJob<'a> {
    pub id: &'a str,
    /// 0 wait-repl, 1 active, 2 queued, 3 acked.
    pub state: u8,
    pub queue: &'a str,
    pub body: &'a [u8],
    /// Absolute Unix expire time, seconds.
    pub etime: u32,
    pub ctime: u64,
    pub delay: u32,
    pub retry: u32,
}

impl StoredJob<'_> {
    pub fn encode(&self) -> Vec<u8> {
        assert_eq!(self.id.len(), 40);
        let mut rest = Vec::new();
        rest.extend_from_slice(self.id.as_bytes());
        rest.push(self.state);
        rest.push(0); // flags
        rest.extend_from_slice(&1u16.to_le_bytes()); // repl
        rest.extend_from_slice(&self.etime.to_le_bytes());
        rest.extend_from_slice(&self.ctime.to_le_bytes());
        rest.extend_from_slice(&self.delay.to_le_bytes());
        rest.extend_from_slice(&self.retry.to_le_bytes());
        rest.extend_from_slice(&0u16.to_le_bytes()); // nacks
        rest.extend_from_slice(&0u16.to_le_bytes()); // additional deliveries
        rest.extend_from_slice(&(self.queue.len() as u32).to_le_bytes());
        rest.extend_from_slice(self.queue.as_bytes());
        rest.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        rest.extend_from_slice(self.body);
        rest.extend_from_slice(&0u32.to_le_bytes()); // no nodes-delivered
        let mut out = (rest.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&rest);
        out
    }

    /// The `LOADJOB` record.
    pub fn record(&self) -> Vec<u8> {
        record(&[b"LOADJOB", &self.encode()])
    }
}

/// A syntactically valid job id number `n` (RETRY > 0 form).
pub fn synthetic_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut random = String::new();
    let mut x = n;
    for _ in 0..24 {
        random.push(ALPHABET[(x % 64) as usize] as char);
        x /= 64;
    }
    format!("D-0badc0de-{random}-05a1")
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs `disque-check-aof` with `args`, feeding `stdin`: (exit code, stdout + stderr).
pub fn check_aof(args: &[&str], stdin: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut cmd = Command::new(check_aof_bin());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("spawn disque-check-aof");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().expect("disque-check-aof");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// QSTAT <q>: `None` when the queue does not exist, else its `len`.
pub async fn qstat_len(c: &mut Client, q: &str) -> Option<i64> {
    match cmd(c, &format!("QSTAT {q}")).await {
        Reply::Nil | Reply::NullArray => None,
        r @ Reply::Array(_) => Some(integer(field(&r, "len"))),
        other => panic!("QSTAT {q}: {other:?}"),
    }
}
