//! One real `disque-server` process: started on a free loopback port in a
//! fresh directory, probed until it answers PING, restarted in place (same
//! port, directory, nodes.conf and AOF), signalled, and always killed: on
//! drop (also when a test panics) and, on Linux, when the thread that
//! started it dies.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use disque_client::{Client, Reply};

use crate::raw::Raw;

/// How long a server may take to answer its first PING.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
/// Default deadline for a single reply.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// The `disque-server` binary tests start: `$DISQUE_SERVER_BIN` if set,
/// else the one cargo built beside the running test (`target/<profile>/`,
/// one directory above the test executable in `deps/`).
pub fn default_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("DISQUE_SERVER_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test executable");
    let dir = exe.parent().expect("the executable's directory");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("target/<profile>")
    } else {
        dir
    };
    dir.join("disque-server")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

static DIR_SEQ: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    /// A fresh, empty directory.
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

    /// Where it is.
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

/// A port in 10000..22700 whose client port and bus port (+10000) are both
/// free on 127.0.0.1 right now. Both stay below Linux's ephemeral range
/// (32768 and up), where an outbound connection of another test could take
/// a port while its server restarts.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = 10000 + (pseudo_random() % 12700) as u16;
        let a = TcpListener::bind(("127.0.0.1", port));
        let b = TcpListener::bind(("127.0.0.1", port + 10000));
        if a.is_ok() && b.is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

/// Options for starting a server.
#[derive(Clone)]
pub struct ServerOptions {
    /// The binary ([`default_server_bin`] unless set).
    pub bin: PathBuf,
    /// Extra `--name value` arguments (after the generated ones).
    pub args: Vec<String>,
    /// A config file to pass as the first argument.
    pub config_file: Option<PathBuf>,
    /// A password to use for the readiness probe.
    pub password: Option<String>,
    /// Start without `--bind 127.0.0.1` (the node listens everywhere).
    pub no_bind: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bin: default_server_bin(),
            args: Vec::new(),
            config_file: None,
            password: None,
            no_bind: false,
        }
    }
}

impl ServerOptions {
    /// Starts this binary instead of [`default_server_bin`].
    pub fn bin(mut self, bin: impl Into<PathBuf>) -> Self {
        self.bin = bin.into();
        self
    }

    /// Adds `--name value`.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.args.push(format!("--{name}"));
        self.args.push(value.to_string());
        self
    }

    /// Sets `requirepass` and makes the readiness probe authenticate.
    pub fn password(mut self, pw: &str) -> Self {
        self.password = Some(pw.to_string());
        self.arg("requirepass", pw)
    }

    /// No `--bind`: the node listens on every address, as by default.
    pub fn without_bind(mut self) -> Self {
        self.no_bind = true;
        self
    }

    /// Starts a server with these options.
    pub async fn start(self) -> Server {
        Server::start_with(self).await
    }
}

/// A `disque-server` process on a fixed port in its own directory: what
/// [`Server`] and the tests' own process wrappers share. The process is
/// killed on drop (also on panic); the directory is removed then.
pub struct Process {
    /// The running (or exited, not yet forgotten) process, if any.
    pub child: Option<Child>,
    /// The client port (the bus port is 10000 above).
    pub port: u16,
    /// Its directory (nodes.conf, AOF, log), removed on drop.
    pub dir: TempDir,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Process {
    /// Its client address.
    pub fn addr(&self) -> (&'static str, u16) {
        ("127.0.0.1", self.port)
    }

    /// Its process id (0 once killed).
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

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        exit_status(&mut self.child)
    }

    /// Waits for the process to exit (polling), at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout).await
    }

    /// Kills the process with SIGKILL (`kill -9`) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Polls PING until PONG (a `-LOADING` reply means: keep waiting; with
    /// `password`, after AUTH), checking that the answering process is ours
    /// (another test's server could hold the port if ours failed to bind).
    pub async fn wait_ready(&mut self, password: Option<&str>) -> Result<(), String> {
        let pid = self.pid();
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Some(status) = self.try_wait() {
                return Err(format!("server exited during startup: {status}"));
            }
            if Instant::now() > deadline {
                return Err("server did not answer PING in time".into());
            }
            if let Ok(mut c) = Client::connect(self.addr()).await {
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
}

/// Implements `Deref` and `DerefMut` to [`Process`] for a wrapper type
/// whose field `process` holds it.
#[macro_export]
macro_rules! deref_to_process {
    ($wrapper:ty) => {
        impl std::ops::Deref for $wrapper {
            type Target = $crate::Process;
            fn deref(&self) -> &$crate::Process {
                &self.process
            }
        }

        impl std::ops::DerefMut for $wrapper {
            fn deref_mut(&mut self) -> &mut $crate::Process {
                &mut self.process
            }
        }
    };
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `disque-server` process started from [`ServerOptions`]; its
/// [`Process`] (port, directory, log, client connections) by deref.
pub struct Server {
    process: Process,
    /// The options it was started with (a restart reuses them).
    pub opts: ServerOptions,
}

crate::deref_to_process!(Server);

impl Server {
    /// A server with default options.
    pub async fn start() -> Server {
        Server::start_with(ServerOptions::default()).await
    }

    /// Default options, to change before [`ServerOptions::start`].
    pub fn options() -> ServerOptions {
        ServerOptions::default()
    }

    /// Starts a server on a free port and waits until it answers PING
    /// (trying other ports if the one chosen was taken meanwhile).
    pub async fn start_with(opts: ServerOptions) -> Server {
        let mut failures = String::new();
        for _attempt in 0..8 {
            let dir = TempDir::new();
            let port = free_port();
            let log = dir.path().join("server.log");
            let child = spawn_server(&opts, port, dir.path(), &log);
            let mut server = Server {
                process: Process {
                    child: Some(child),
                    port,
                    dir,
                    log,
                },
                opts: opts.clone(),
            };
            match server.wait_ready(opts.password.as_deref()).await {
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
        let password = self.opts.password.clone();
        // Another process may hold one of the two ports for a moment: try
        // again while the start fails for that reason, for a bounded time.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.respawn(extra);
            let Err(e) = self.wait_ready(password.as_deref()).await else {
                return;
            };
            let log = self.log_text();
            let last_start = log.rsplit("--- restart ---").next().unwrap_or_default();
            if !last_start.contains("Address already in use") || Instant::now() > deadline {
                panic!(
                    "restart on port {} failed: {e}\n--- log ---\n{log}",
                    self.port
                );
            }
            self.kill();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the process again if it was killed, without waiting for it
    /// to answer (the fault checker's nemesis); a running one is left alone.
    pub fn revive(&mut self) {
        if self.child.is_none() {
            self.respawn(&[]);
        }
    }

    /// Spawns the process on the same port and directory with the same
    /// options plus `extra`. The old process released the port a moment
    /// ago; if something else grabbed it meanwhile the readiness probe
    /// notices.
    fn respawn(&mut self, extra: &[(&str, &str)]) {
        let mut opts = self.opts.clone();
        for (name, value) in extra {
            opts = opts.arg(name, value);
        }
        let child = spawn_server(
            &opts,
            self.port,
            self.dir.path(),
            &self.log_path_for_restart(),
        );
        self.child = Some(child);
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

fn spawn_server(opts: &ServerOptions, port: u16, dir: &Path, log: &Path) -> Child {
    let mut cmd = Command::new(&opts.bin);
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

/// The exit status of `child` if it has exited.
pub fn exit_status(child: &mut Option<Child>) -> Option<ExitStatus> {
    child.as_mut().and_then(|c| c.try_wait().ok().flatten())
}

/// Polls `child` every 10 ms until it exits, at most `timeout`; its exit
/// status, or None if it still runs.
pub async fn wait_exit(child: &mut Option<Child>, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = exit_status(child) {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Belt and braces: if the thread that starts the server dies without
/// running destructors (the test process killed, or aborted), the kernel
/// kills the server too.
pub fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                // The parent died before the signal was armed.
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Connects to 127.0.0.1:`port`, retrying every 50 ms until `deadline`
/// has passed (a node that is restarting or paused).
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

/// The value of `key` in an INFO text.
pub fn info_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
    })
}
