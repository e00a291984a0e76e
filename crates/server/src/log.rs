//! The server log: Redis-style lines (`pid:M 21 Nov 12:00:00.000 * text`) to
//! stdout or `logfile`, filtered by `loglevel`; with `logformat json` one
//! JSON object per line instead, for log shippers (docs/config.md):
//! `{"time":"2026-11-21T12:00:00.000Z","pid":1234,"role":"master",
//! "level":"notice","message":"text"}`.

use std::io::Write;
use std::sync::Mutex;

/// Log levels, least to most severe, and the line formats: the `loglevel`
/// and `logformat` values of the configuration, whose names are also the
/// JSON lines' `level`.
pub use crate::config::{LogFormat as Format, LogLevel as Level};

struct Logger {
    min: Level,
    format: Format,
    file: Option<std::fs::File>,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    min: Level::Notice,
    format: Format::Text,
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

/// Chooses the line format (`logformat`, also CONFIG SET).
pub fn set_format(format: Format) {
    LOGGER.lock().unwrap_or_else(|e| e.into_inner()).format = format;
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = format_line(logger.format, level, now, std::process::id(), text);
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

/// One log line, with its final newline.
fn format_line(
    format: Format,
    level: Level,
    now: std::time::Duration,
    pid: u32,
    text: &str,
) -> String {
    match format {
        Format::Text => {
            let mark = match level {
                Level::Debug => '.',
                Level::Verbose => '-',
                Level::Notice => '*',
                Level::Warning => '#',
            };
            format!("{pid}:M {} {mark} {text}\n", timestamp(now))
        }
        Format::Json => {
            let mut line = format!(
                "{{\"time\":\"{}\",\"pid\":{pid},\"role\":\"master\",\"level\":\"{}\",\"message\":\"",
                iso_timestamp(now),
                level.name()
            );
            json_escape(text, &mut line);
            line.push_str("\"}\n");
            line
        }
    }
}

/// Appends `text` escaped for the inside of a JSON string.
fn json_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
}

/// A UTC time split into its civil fields.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u32,
}

fn civil(since_epoch: std::time::Duration) -> Civil {
    let secs = since_epoch.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest % 3600 / 60,
        second: rest % 60,
        millis: since_epoch.subsec_millis(),
    }
}

/// `21 Nov 12:00:00.000` (UTC), the Redis log timestamp.
fn timestamp(since_epoch: std::time::Duration) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = civil(since_epoch);
    format!(
        "{:02} {} {:02}:{:02}:{:02}.{:03}",
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.hour,
        t.minute,
        t.second,
        t.millis
    )
}

/// `2026-11-21T12:00:00.000Z`, RFC 3339 in UTC.
fn iso_timestamp(since_epoch: std::time::Duration) -> String {
    let t = civil(since_epoch);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_formats() {
        let t = std::time::Duration::from_millis(1_795_265_233_919);
        assert_eq!(
            format_line(Format::Text, Level::Warning, t, 42, "hi"),
            "42:M 21 Nov 12:47:13.919 # hi\n"
        );
        assert_eq!(
            format_line(Format::Json, Level::Notice, t, 42, "a \"q\" \\ \n\u{1}é"),
            "{\"time\":\"2026-11-21T12:47:13.919Z\",\"pid\":42,\"role\":\"master\",\
             \"level\":\"notice\",\"message\":\"a \\\"q\\\" \\\\ \\n\\u0001é\"}\n"
        );
        assert_eq!(
            iso_timestamp(std::time::Duration::ZERO),
            "1970-01-01T00:00:00.000Z"
        );
        // 29 Feb 2024 and 1 Mar 2000 (leap years), 31 Dec 1999.
        let day = |d: u64| std::time::Duration::from_secs(d * 86_400);
        assert_eq!(&iso_timestamp(day(19_782))[..10], "2024-02-29");
        assert_eq!(&iso_timestamp(day(11_017))[..10], "2000-03-01");
        assert_eq!(&iso_timestamp(day(10_956))[..10], "1999-12-31");
    }

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
