//! The server log: Redis-style lines (`pid:M 21 Nov 12:00:00.000 * text`) to
//! stdout or `logfile`, filtered by `loglevel`.

use std::io::Write;
use std::sync::Mutex;

/// Log levels, least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `debug`
    Debug,
    /// `verbose`
    Verbose,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
}

struct Logger {
    min: Level,
    file: Option<std::fs::File>,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    min: Level::Notice,
    file: None,
});

/// Sets the minimum level and the destination (`""` = stdout).
pub fn configure(min: Level, logfile: &str) -> std::io::Result<()> {
    let file = if logfile.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)?,
        )
    };
    let mut logger = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    logger.min = min;
    logger.file = file;
    Ok(())
}

/// Changes only the minimum level (CONFIG SET loglevel).
pub fn set_level(min: Level) {
    LOGGER.lock().unwrap_or_else(|e| e.into_inner()).min = min;
}

/// Writes one log line if `level` passes the filter.
pub fn log(level: Level, text: &str) {
    let logger = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    if level < logger.min {
        return;
    }
    let mark = match level {
        Level::Debug => '.',
        Level::Verbose => '-',
        Level::Notice => '*',
        Level::Warning => '#',
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = format!(
        "{}:M {}.{:03} {} {}\n",
        std::process::id(),
        now.as_secs(),
        now.subsec_millis(),
        mark,
        text
    );
    match &logger.file {
        Some(f) => {
            let _ = (&*f).write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stdout().write_all(line.as_bytes());
        }
    }
}

/// Logs at notice level.
pub fn notice(text: &str) {
    log(Level::Notice, text);
}

/// Logs at warning level.
pub fn warning(text: &str) {
    log(Level::Warning, text);
}
