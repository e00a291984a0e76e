//! Shared helpers of the end-to-end tests: start a real `disque-server` on a
//! free loopback port, talk to it with the client library or over a raw
//! socket, poll with deadlines, and always kill the process.

#![allow(dead_code)]

pub mod cluster;
pub mod persist;
pub mod tls;
#[allow(unused_imports)]
pub use cluster::*;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
pub use disque_client::{Client, Reply};
use disque_proto::parse_reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a server may take to answer its first PING.
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);
/// Default deadline for a single reply.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_disque-server")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

static DIR_SEQ: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    pub fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "disque-test-{}-{}-{}",
            std::process::id(),
            DIR_SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A cheap pseudo-random number (no extra dependency): time, pid, counter.
fn pseudo_random() -> u64 {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ (u64::from(SEQ.fetch_add(1, Ordering::Relaxed)) << 16);
    // xorshift mixing
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// A port in 20000..45000 whose client port and bus port (+10000) are both
/// free on 127.0.0.1 right now. (The server refuses ports above 55535.)
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = 20000 + (pseudo_random() % 25000) as u16;
        let a = TcpListener::bind(("127.0.0.1", port));
        let b = TcpListener::bind(("127.0.0.1", port + 10000));
        if a.is_ok() && b.is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

/// Options for starting a server.
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Extra `--name value` arguments (after the generated ones).
    pub args: Vec<String>,
    /// A config file to pass as the first argument.
    pub config_file: Option<PathBuf>,
    /// A password to use for the readiness probe.
    pub password: Option<String>,
    /// Start without `--bind 127.0.0.1` (the node listens everywhere).
    pub no_bind: bool,
}

impl ServerOptions {
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.args.push(format!("--{name}"));
        self.args.push(value.to_string());
        self
    }

    pub fn password(mut self, pw: &str) -> Self {
        self.password = Some(pw.to_string());
        self.arg("requirepass", pw)
    }

    /// No `--bind`: the node listens on every address, as by default.
    pub fn without_bind(mut self) -> Self {
        self.no_bind = true;
        self
    }

    pub async fn start(self) -> Server {
        Server::start_with(self).await
    }
}

/// A running `disque-server` process; killed on drop (also on panic).
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub dir: TempDir,
    pub log: PathBuf,
    /// The options it was started with (a restart reuses them).
    pub opts: ServerOptions,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(ServerOptions::default()).await
    }

    pub fn options() -> ServerOptions {
        ServerOptions::default()
    }

    pub async fn start_with(opts: ServerOptions) -> Server {
        let mut failures = String::new();
        for _attempt in 0..8 {
            let dir = TempDir::new();
            let port = free_port();
            let log = dir.path().join("server.log");
            let child = spawn_server(&opts, port, dir.path(), &log);
            let pid = child.id();
            let mut server = Server {
                child: Some(child),
                port,
                dir,
                log,
                opts: opts.clone(),
            };
            match server.wait_ready(pid, opts.password.as_deref()).await {
                Ok(()) => return server,
                Err(e) => {
                    failures.push_str(&format!(
                        "port {port}: {e}\n--- log ---\n{}\n",
                        server.log_text()
                    ));
                    server.kill();
                }
            }
        }
        panic!("could not start disque-server:\n{failures}");
    }

    /// Polls PING until it answers, checking that the answering process is
    /// ours (another test's server could hold the port if ours failed to
    /// bind).
    async fn wait_ready(&mut self, pid: u32, password: Option<&str>) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Some(status) = self.try_wait() {
                return Err(format!("server exited during startup: {status}"));
            }
            if Instant::now() > deadline {
                return Err("server did not answer PING in time".into());
            }
            if let Ok(mut c) = Client::connect(("127.0.0.1", self.port)).await {
                if let Some(pw) = password {
                    let _ = c.call(&["AUTH", pw]).await;
                }
                if let Ok(Reply::Status(s)) = c.call(&["PING"]).await {
                    if &s[..] == b"PONG" {
                        let info = c.call(&["INFO", "server"]).await;
                        let text = match info {
                            Ok(Reply::Bulk(b)) => String::from_utf8_lossy(&b).into_owned(),
                            other => return Err(format!("INFO server: {other:?}")),
                        };
                        if info_field(&text, "process_id") == Some(pid.to_string()) {
                            return Ok(());
                        }
                        return Err("another process answered on our port".into());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn addr(&self) -> (&'static str, u16) {
        ("127.0.0.1", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A client-library connection.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr()).await.expect("connect")
    }

    /// A raw socket connection.
    pub async fn raw(&self) -> Raw {
        Raw::connect(self.port).await
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for the process to exit (polling), at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the process with SIGKILL (`kill -9`) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `sig` (e.g. `libc::SIGSTOP`, `libc::SIGCONT`) to the process.
    pub fn signal(&self, sig: libc::c_int) {
        let pid = self.pid();
        assert!(pid != 0, "server not running");
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }

    /// Kills the process if it still runs (SIGKILL) and starts it again on
    /// the same port, in the same directory (same nodes.conf and AOF), with
    /// the same options.
    pub async fn restart(&mut self) {
        self.restart_with(&[]).await;
    }

    /// Like [`Server::restart`] with extra `--name value` arguments for this
    /// start only (e.g. `[("aof-enqueue-jobs-once", "yes")]`).
    pub async fn restart_with(&mut self, extra: &[(&str, &str)]) {
        self.kill();
        let mut opts = self.opts.clone();
        for (name, value) in extra {
            opts = opts.arg(name, value);
        }
        // The old process released the port a moment ago; if something else
        // grabbed it meanwhile the readiness probe notices.
        let child = spawn_server(
            &opts,
            self.port,
            self.dir.path(),
            &self.log_path_for_restart(),
        );
        let pid = child.id();
        self.child = Some(child);
        if let Err(e) = self.wait_ready(pid, opts.password.as_deref()).await {
            panic!(
                "restart on port {} failed: {e}\n--- log ---\n{}",
                self.port,
                self.log_text()
            );
        }
    }

    /// A restart appends to the same log file, after a marker line.
    fn log_path_for_restart(&self) -> PathBuf {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&self.log) {
            let _ = writeln!(f, "--- restart ---");
        }
        self.log.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_server(opts: &ServerOptions, port: u16, dir: &Path, log: &Path) -> Child {
    let mut cmd = Command::new(server_bin());
    if let Some(file) = &opts.config_file {
        cmd.arg(file);
    }
    cmd.arg("--port").arg(port.to_string());
    if !opts.no_bind {
        cmd.arg("--bind").arg("127.0.0.1");
    }
    cmd.arg("--dir")
        .arg(dir)
        .args(&opts.args)
        .current_dir(dir)
        .stdin(Stdio::null());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    cmd.stderr(Stdio::from(file.try_clone().expect("log file")))
        .stdout(Stdio::from(file));
    kill_with_parent(&mut cmd);
    cmd.spawn().expect("spawn disque-server")
}

/// Belt and braces: if the test process dies without running destructors,
/// the kernel kills the server too.
pub fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// The value of `key` in an INFO text.
pub fn info_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
    })
}

// ---------------------------------------------------------------------------
// Raw socket

/// A raw connection: exact bytes out, exact reply frames in.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    pub async fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("raw connect");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Connects to 127.0.0.1:`port` from the source address `from` (e.g.
    /// 127.0.0.2, which the server must not count as local).
    pub async fn connect_from(from: &str, port: u16) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::new(from.parse().expect("ip"), 0))
            .expect("bind the source address");
        let stream = socket
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("raw connect");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("raw write");
    }

    /// Sends one multi-bulk command.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let mut out = BytesMut::new();
        disque_proto::encode_request(args, &mut out);
        self.send(&out).await;
    }

    /// Reads one complete reply frame: (its exact bytes, its value).
    pub async fn frame_within(&mut self, timeout: Duration) -> Option<(Bytes, Reply)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let before = self.buf.clone();
            match parse_reply(&mut self.buf) {
                Ok(Some(reply)) => {
                    let used = before.len() - self.buf.len();
                    return Some((before.freeze().slice(..used), reply));
                }
                Ok(None) => {}
                Err(e) => panic!(
                    "bad reply bytes {:?}: {e:?}",
                    String::from_utf8_lossy(&before)
                ),
            }
            self.buf.reserve(16 * 1024);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => panic!(
                    "connection closed while waiting for a reply (buffered {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("read error: {e}"),
            }
        }
    }

    pub async fn frame(&mut self) -> (Bytes, Reply) {
        self.frame_within(REPLY_DEADLINE)
            .await
            .expect("no reply within the deadline")
    }

    pub async fn reply(&mut self) -> Reply {
        self.frame().await.1
    }

    /// Reads one reply and asserts its exact wire bytes.
    pub async fn expect(&mut self, wire: &[u8]) {
        let (bytes, _) = self.frame().await;
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(wire),
            "wire bytes differ"
        );
    }

    /// Sends a command and asserts the exact wire bytes of its reply.
    pub async fn roundtrip<A: AsRef<[u8]>>(&mut self, args: &[A], wire: &[u8]) {
        self.cmd(args).await;
        self.expect(wire).await;
    }

    /// Asserts that nothing arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if !self.buf.is_empty() {
            panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf));
        }
        let mut tmp = [0u8; 1024];
        match tokio::time::timeout(d, self.stream.read(&mut tmp)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("connection closed, expected it open and silent"),
            Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&tmp[..n])),
            Ok(Err(e)) => panic!("read error: {e}"),
        }
    }

    /// Reads until the server closes the connection; returns what came
    /// before the close. Fails if the connection is still open after the
    /// deadline.
    pub async fn expect_closed(&mut self) -> Bytes {
        let deadline = tokio::time::Instant::now() + REPLY_DEADLINE;
        loop {
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => panic!(
                    "connection still open (received {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(0)) => return self.buf.split().freeze(),
                Ok(Ok(_)) => {}
                // A reset also counts as closed.
                Ok(Err(_)) => return self.buf.split().freeze(),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reply helpers

/// Runs a command given as whitespace-separated words.
pub async fn cmd(c: &mut Client, line: &str) -> Reply {
    let args: Vec<&str> = line.split_whitespace().collect();
    c.call(&args).await.expect("call")
}

pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn status(s: &str) -> Reply {
    Reply::Status(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn error(s: &str) -> Reply {
    Reply::Error(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

pub fn arr(items: Vec<Reply>) -> Reply {
    Reply::Array(items)
}

/// The text of a status or bulk reply.
pub fn text(r: &Reply) -> String {
    match r {
        Reply::Status(b) | Reply::Bulk(b) | Reply::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => panic!("expected a string reply, got {other:?}"),
    }
}

pub fn items(r: &Reply) -> &[Reply] {
    match r {
        Reply::Array(v) => v,
        other => panic!("expected an array, got {other:?}"),
    }
}

pub fn integer(r: &Reply) -> i64 {
    match r {
        Reply::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The value after `name` in a flat field/value array (SHOW, QSTAT).
pub fn field<'a>(r: &'a Reply, name: &str) -> &'a Reply {
    let v = items(r);
    for pair in v.chunks(2) {
        if let Reply::Bulk(k) = &pair[0] {
            if &k[..] == name.as_bytes() {
                return &pair[1];
            }
        }
    }
    panic!("no field {name} in {r:?}")
}

/// ADDJOB and return the job id (asserting a status reply).
pub async fn addjob(c: &mut Client, line: &str) -> String {
    let r = cmd(c, &format!("ADDJOB {line}")).await;
    match r {
        Reply::Status(s) => {
            let id = String::from_utf8(s.to_vec()).unwrap();
            assert_eq!(id.len(), 40, "job id {id}");
            id
        }
        other => panic!("ADDJOB {line}: expected a status reply, got {other:?}"),
    }
}

/// A job entry `[queue, id, body]` as three bulk strings.
pub fn job_entry(queue: &str, id: &str, body: &str) -> Reply {
    arr(vec![bulk(queue), bulk(id), bulk(body)])
}

/// INFO <section> as text.
pub async fn info(c: &mut Client, section: &str) -> String {
    match c.call(&["INFO", section]).await.expect("INFO") {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    }
}

pub async fn info_value(c: &mut Client, key: &str) -> String {
    let all = info(c, "all").await;
    info_field(&all, key).unwrap_or_else(|| panic!("no {key} in INFO"))
}

pub async fn qlen(c: &mut Client, q: &str) -> i64 {
    integer(&cmd(c, &format!("QLEN {q}")).await)
}

/// Polls `$cond` (an async expression yielding bool) every 20 ms until it
/// is true; panics with `$what` after `$timeout`.
#[macro_export]
macro_rules! poll_until {
    ($timeout:expr, $what:expr, $cond:expr) => {{
        let deadline = std::time::Instant::now() + $timeout;
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() > deadline {
                panic!("timed out after {:?} waiting for: {}", $timeout, $what);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }};
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
