//! `disque`, a command-line client for Disque that behaves like `redis-cli`.
//!
//! * [`options`]: the command line (`-h -p -s -a -r -i -x -X --raw --no-raw
//!   --csv --latency --stat --tls --cacert --cert --key --help --version`),
//!   parsed as `redis-cli` does.
//! * [`format`](mod@format): how replies are printed in standard, raw and CSV modes.
//! * [`help`]: the prompt's built-in `help` and tab completion.
//! * `--latency` and `--stat`, the continuous modes.
//! * [`session`]: connecting, one-shot commands, repetition, and the
//!   interactive prompt with history and reconnection.
//! * [`tls`]: connecting over TLS (`--tls`).

pub mod format;
pub mod help;
mod modes;
pub mod options;
pub mod session;
pub mod tls;

pub use format::{format_reply, OutputMode};
pub use options::{parse_args, Action, Mode, Options};
pub use session::run;
