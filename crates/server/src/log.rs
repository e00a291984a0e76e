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
        "{}:M {} {} {}\n",
        std::process::id(),
        timestamp(now),
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

/// Logs at verbose level.
pub fn verbose(text: &str) {
    log(Level::Verbose, text);
}

/// Logs at notice level.
pub fn notice(text: &str) {
    log(Level::Notice, text);
}

/// Logs at warning level.
pub fn warning(text: &str) {
    log(Level::Warning, text);
}

/// `21 Nov 12:00:00.000` (UTC), the Redis log timestamp.
fn timestamp(since_epoch: std::time::Duration) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = since_epoch.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{:02} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        let t = std::time::Duration::from_millis(1_795_265_233_919);
        assert_eq!(super::timestamp(t), "21 Nov 12:47:13.919");
        assert_eq!(
            super::timestamp(std::time::Duration::ZERO),
            "01 Jan 00:00:00.000"
        );
    }
}
