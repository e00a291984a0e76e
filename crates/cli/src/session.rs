//! Talking to the server: one-shot commands, repetition and the interactive
//! prompt, with the messages and exit statuses of `redis-cli`.

use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use disque_client::{Client, ClientError, Reply};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};
use tokio::runtime::Runtime;

use crate::format::{format_reply, OutputMode};
use crate::help;
use crate::options::{c_atoi, parse_args, Action, Mode, Options, USAGE, VERSION_LINE};

/// Runs `disque` with the arguments that follow the program name and
/// returns the process exit status: 0 once the command ran (even if the
/// server answered with an error), 1 when the options are wrong, the server
/// cannot be reached, or the connection is lost.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let options = match parse_args(args, io::stdout().is_terminal()) {
        Ok(Action::Run(options)) => options,
        Ok(Action::Help) => {
            out(USAGE);
            return 0;
        }
        Ok(Action::Version) => {
            out(&format!("{VERSION_LINE}\n"));
            return 0;
        }
        Err(message) => {
            warn(&message);
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            warn(&format!("Error: {e}"));
            return 1;
        }
    };
    let mut session = Session {
        options,
        runtime,
        client: None,
    };
    match session.options.mode {
        Mode::Latency => session.latency(),
        Mode::Stat => session.stat(),
        Mode::Commands if session.options.command.is_empty() => {
            session.interactive();
            0
        }
        Mode::Commands => session.one_shot(),
    }
}

/// A connection (or the lack of one) and what the options asked for.
pub(crate) struct Session {
    pub(crate) options: Options,
    pub(crate) runtime: Runtime,
    pub(crate) client: Option<Client>,
}

/// Why a command could not be completed.
pub(crate) enum Failure {
    /// The connection failed or was lost; holds the message for the user.
    Connection(String),
    /// Standard output is gone (for example a closed pipe).
    Output,
}

impl Session {
    /// The server's address as `redis-cli` shows it (`host:port`, IPv6 in
    /// brackets, or the socket path).
    fn address(&self) -> String {
        match &self.options.socket {
            Some(path) => path.display().to_string(),
            None if self.options.host.contains(':') => {
                format!("[{}]:{}", self.options.host, self.options.port)
            }
            None => format!("{}:{}", self.options.host, self.options.port),
        }
    }

    /// The interactive prompt.
    fn prompt(&self) -> String {
        match (&self.client, &self.options.socket) {
            (None, _) => "not connected> ".to_string(),
            (Some(_), Some(path)) => format!("disque {}> ", path.display()),
            (Some(_), None) => format!("{}> ", self.address()),
        }
    }

    /// Connects (again if `force`), sending AUTH when a password was given.
    /// Prints why when it fails.
    pub(crate) fn connect(&mut self, force: bool) -> bool {
        if self.client.is_some() && !force {
            return true;
        }
        self.client = None;
        let connected = match &self.options.socket {
            Some(path) => self.runtime.block_on(connect_unix(path.clone())),
            None if self.options.tls.enabled => self.runtime.block_on(crate::tls::connect(
                &self.options.host,
                self.options.port,
                &self.options.tls,
            )),
            None => self.runtime.block_on(Client::connect((
                self.options.host.as_str(),
                self.options.port,
            ))),
        };
        let mut client = match connected {
            Ok(client) => client,
            Err(e) => {
                warn(&format!(
                    "Could not connect to Disque at {}: {}",
                    self.address(),
                    os_error_text(&e)
                ));
                return false;
            }
        };
        if let Some(password) = &self.options.password {
            match self
                .runtime
                .block_on(client.call(&[&b"AUTH"[..], password]))
            {
                Ok(Reply::Error(text)) => {
                    warn(&format!("AUTH failed: {}", String::from_utf8_lossy(&text)));
                }
                Ok(_) => {}
                Err(e) => {
                    warn(&format!(
                        "Could not connect to Disque at {}: {e}",
                        self.address()
                    ));
                    return false;
                }
            }
        }
        self.client = Some(client);
        true
    }

    /// One-shot mode: run the command line's command and exit.
    fn one_shot(&mut self) -> i32 {
        let mut args = std::mem::take(&mut self.options.command);
        if builtin_help(&args) {
            return 0;
        }
        if !self.connect(false) {
            return 1;
        }
        if self.options.stdin_last_arg || self.options.stdin_tag.is_some() {
            let mut input = Vec::new();
            if let Err(e) = io::stdin().read_to_end(&mut input) {
                warn(&format!("Error reading standard input: {e}"));
                return 1;
            }
            match &self.options.stdin_tag {
                Some(tag) => match args.iter().position(|a| a == tag) {
                    Some(at) => args[at] = input,
                    None => {
                        warn(&format!(
                            "-X: the argument '{}' is not in the command",
                            String::from_utf8_lossy(tag)
                        ));
                        return 1;
                    }
                },
                None => args.push(input),
            }
        }
        let repeat = self.options.repeat;
        match self.command_with_retry(&args, repeat) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    }

    /// Runs a command `repeat` times; if the connection is gone, reconnects
    /// once and tries again, as `redis-cli` does.
    fn command_with_retry(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), Failure> {
        match self.command(args, repeat) {
            Err(Failure::Connection(_)) if self.connect(true) => {
                self.command(args, repeat).inspect_err(|failure| {
                    if let Failure::Connection(message) = failure {
                        warn(&format!("Error: {message}"));
                    }
                })
            }
            other => other,
        }
    }

    /// Sends a command `repeat` times (forever when negative), printing each
    /// reply, pausing for the `-i` interval between them. MONITOR prints
    /// everything that follows; SHUTDOWN treats the closed connection as
    /// success.
    fn command(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), Failure> {
        let name = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default();
        let mut done = 0;
        while repeat < 0 || done < repeat {
            done += 1;
            let Some(client) = self.client.as_mut() else {
                return Err(Failure::Connection("not connected".to_string()));
            };
            let result = self.runtime.block_on(client.call(args));
            let reply = match result {
                Ok(reply) => reply,
                Err(ClientError::Closed) if name == "shutdown" => {
                    self.client = None;
                    return Ok(());
                }
                Err(e) => {
                    self.client = None;
                    return Err(Failure::Connection(e.to_string()));
                }
            };
            print_reply(&reply, self.options.output)?;
            if name == "monitor" && !reply.is_error() {
                return self.monitor();
            }
            if !self.options.interval.is_zero() && (repeat < 0 || done < repeat) {
                std::thread::sleep(self.options.interval);
            }
        }
        Ok(())
    }

    /// Prints every reply the server sends until the connection ends.
    fn monitor(&mut self) -> Result<(), Failure> {
        while let Some(client) = self.client.as_mut() {
            match self.runtime.block_on(client.read_reply()) {
                Ok(reply) => print_reply(&reply, self.options.output)?,
                Err(e) => {
                    self.client = None;
                    return Err(Failure::Connection(e.to_string()));
                }
            }
        }
        Ok(())
    }

    /// The interactive prompt: with line editing and history on a terminal,
    /// plain line reading otherwise.
    fn interactive(&mut self) {
        self.connect(false);
        let mut input = LineSource::new();
        while let Some(line) = input.read(&self.prompt()) {
            if !self.interactive_line(&line) {
                break;
            }
        }
        input.save_history();
    }

    /// Handles one line typed at the prompt; false to leave.
    fn interactive_line(&mut self, line: &[u8]) -> bool {
        let Some(args) = disque_proto::split_args(line) else {
            out("Invalid argument(s)\n");
            return true;
        };
        let Some(first) = args.first() else {
            return true;
        };
        let first = String::from_utf8_lossy(first).to_ascii_lowercase();
        match (first.as_str(), args.len()) {
            ("quit" | "exit", _) => return false,
            ("connect", 3) => {
                self.options.socket = None;
                self.options.host = String::from_utf8_lossy(&args[1]).into_owned();
                self.options.port = c_atoi(&args[2]) as u16;
                self.connect(true);
                return true;
            }
            ("clear", 1) => {
                out("\x1b[H\x1b[2J");
                return true;
            }
            _ => {}
        }
        if builtin_help(&args) {
            return true;
        }
        // A leading number repeats the command: "3 qlen q".
        let (repeat, command) = match first.parse::<i64>() {
            Ok(n) if n != 0 && args.len() > 1 => (n, &args[1..]),
            _ => (1, &args[..]),
        };
        let start = Instant::now();
        if !self.connect(false) {
            return true;
        }
        if let Err(Failure::Output) = self.command_with_retry(command, repeat) {
            return false;
        }
        let elapsed = start.elapsed();
        if elapsed >= Duration::from_millis(500) && self.options.output == OutputMode::Standard {
            out(&format!("({:.2}s)\n", elapsed.as_secs_f64()));
        }
        true
    }
}

#[cfg(unix)]
async fn connect_unix(path: PathBuf) -> io::Result<Client> {
    Client::connect_unix(path).await
}

#[cfg(not(unix))]
async fn connect_unix(_path: PathBuf) -> io::Result<Client> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix sockets are not supported on this system",
    ))
}

/// Prints the built-in help when `args` is `help ...` (or `? ...`), as
/// `redis-cli` does without asking the server; false for other commands.
fn builtin_help(args: &[Vec<u8>]) -> bool {
    let is_help = args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"help") || a == b"?");
    if is_help {
        let topic: Vec<String> = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        out(&help::help_text(VERSION_LINE, &topic));
    }
    is_help
}

/// Prints to standard output; a closed output is noticed by the next reply.
pub(crate) fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Prints a line to standard error (nothing to do if that fails).
pub(crate) fn warn(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

/// The system's text for an I/O error, without Rust's `(os error N)`.
fn os_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" (os error ") {
        Some((message, _)) => message.to_string(),
        None => text,
    }
}

fn print_reply(reply: &Reply, mode: OutputMode) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(&format_reply(reply, mode))
        .and_then(|()| out.flush())
        .map_err(|_| Failure::Output)
}

/// Tab completion of command names and help topics at the prompt.
struct CommandHelper;

impl Completer for CommandHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(help::complete(line, pos))
    }
}

impl Hinter for CommandHelper {
    type Hint = String;
}

impl Highlighter for CommandHelper {}

impl Validator for CommandHelper {}

impl Helper for CommandHelper {}

/// Where interactive lines come from.
enum LineSource {
    /// A terminal: line editing, completion and history, saved in `history`.
    Editor {
        editor: Box<Editor<CommandHelper, DefaultHistory>>,
        history: Option<PathBuf>,
    },
    /// A pipe or file: plain lines, no prompt.
    Plain(io::StdinLock<'static>),
}

impl LineSource {
    fn new() -> LineSource {
        if io::stdin().is_terminal() {
            if let Ok(mut editor) = Editor::<CommandHelper, DefaultHistory>::new() {
                editor.set_helper(Some(CommandHelper));
                let history = std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".disque_history"));
                if let Some(path) = &history {
                    // A missing history file is normal on first use.
                    let _ = editor.load_history(path);
                }
                return LineSource::Editor {
                    editor: Box::new(editor),
                    history,
                };
            }
        }
        LineSource::Plain(io::stdin().lock())
    }

    /// The next non-empty line, or `None` at the end of input (Ctrl-D,
    /// Ctrl-C, end of file).
    fn read(&mut self, prompt: &str) -> Option<Vec<u8>> {
        loop {
            let line = match self {
                LineSource::Editor { editor, history } => match editor.readline(prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                            if let Some(path) = history {
                                // History is a convenience: an unwritable
                                // file is not an error.
                                let _ = editor.save_history(path);
                            }
                        }
                        line.into_bytes()
                    }
                    Err(ReadlineError::Interrupted | ReadlineError::Eof) => return None,
                    Err(_) => return None,
                },
                LineSource::Plain(stdin) => {
                    let mut line = Vec::new();
                    match stdin.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return None,
                        Ok(_) => {
                            while matches!(line.last(), Some(b'\n' | b'\r')) {
                                line.pop();
                            }
                            line
                        }
                    }
                }
            };
            if !line.is_empty() {
                return Some(line);
            }
        }
    }

    fn save_history(&mut self) {
        if let LineSource::Editor {
            editor,
            history: Some(path),
        } = self
        {
            let _ = editor.save_history(path);
        }
    }
}
