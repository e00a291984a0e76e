//! The settings whose rules are their own (`bind`, `dir`,
//! `client-output-buffer-limit`), the checks of string settings, and the
//! settings that are not config file directives ([`SET_ONLY`]). The
//! directives are the table in `parse.rs`.

use std::fs::OpenOptions;

use super::parse::DirectiveError;
use super::setting::{
    integer, stored, Custom, IntField, Narrow, OptionalField, Read, Refusal, Setting,
};
use super::text::{
    format_memory, is_bare_word, lossy, memtoll, push_quoted, strerror, strtoll_lenient,
    strtoll_whole,
};
use super::{ClientOutputBufferLimit, Config, ConfigError, LoadOptions, MAX_BIND_ADDRESSES};

/// `unixsocket`: a path, none when empty.
pub(super) const UNIXSOCKET: OptionalField = OptionalField {
    get: |c| c.unixsocket.as_deref().map(str::as_bytes),
    put: |c, v| c.unixsocket = v.map(lossy),
};

/// The settings that are not config file directives: `CONFIG GET` and
/// `CONFIG SET` only.
#[rustfmt::skip]
pub(super) static SET_ONLY: &[Setting] = &[
    integer(b"watchdog-period", WATCHDOG_PERIOD, Read::Strtoll).get(16).set(stored),
];

/// `watchdog-period`: a requested period is raised to what the cron
/// allows ([`Config::effective_watchdog_period`]).
const WATCHDOG_PERIOD: IntField = IntField {
    get: |c| i128::from(c.watchdog_period),
    put: |c, v| c.watchdog_period = c.effective_watchdog_period(Narrow::narrow(v)),
};

/// `logfile`: a file that can be opened for appending (or `""`,
/// standard output).
pub(super) fn log_file_opens(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("Can't open the log file: {}", strerror(&e)))
}

/// `appendfilename`: a file name, not a path.
pub(super) fn not_a_path(name: &str) -> Result<(), String> {
    if name.contains(['/', '\\']) {
        return Err("appendfilename can't be a path, just a filename".to_owned());
    }
    Ok(())
}

/// `tls-protocols`: versions the TLS library knows.
pub(super) fn tls_protocols(value: &str) -> Result<(), String> {
    match crate::tls::protocol_versions(value) {
        Some(_) => Ok(()),
        None => Err("Invalid tls-protocols value (TLSv1.2 and TLSv1.3 are supported)".to_owned()),
    }
}

/// `bind <address>...`: at most [`MAX_BIND_ADDRESSES`], replacing the list;
/// shown joined by spaces; written unquoted when that reads back the same.
pub(super) static BIND: Custom = Custom {
    values: (1, usize::MAX),
    load: |c, values, _| {
        if values.len() > MAX_BIND_ADDRESSES {
            return Err("Too many bind addresses specified".into());
        }
        c.bind = values.iter().map(|a| lossy(a)).collect();
        Ok(())
    },
    show: |c| c.bind.join(" ").into_bytes(),
    set: None,
    line: |c, _| {
        let mut out = Vec::new();
        for addr in &c.bind {
            if !out.is_empty() {
                out.push(b' ');
            }
            if is_bare_word(addr.as_bytes()) {
                out.extend_from_slice(addr.as_bytes());
            } else {
                push_quoted(&mut out, addr.as_bytes());
            }
        }
        (!out.is_empty()).then_some(out)
    },
};

/// The working directory, as `CONFIG GET dir` and `CONFIG REWRITE` write it.
pub(super) fn cwd() -> Option<Vec<u8>> {
    std::env::current_dir()
        .ok()
        .map(|d| d.to_string_lossy().into_owned().into_bytes())
}

/// `dir`: the process's working directory. The config file changes it
/// (or, without [`LoadOptions::change_dir`], checks it can be listed).
pub(super) static DIR: Custom = Custom {
    values: (1, 1),
    load: load_dir,
    show: |_| cwd().unwrap_or_default(),
    set: Some(|_, value| {
        std::env::set_current_dir(lossy(value))
            .map_err(|e| Refusal::Error(format!("ERR Changing directory: {}", strerror(&e))))
    }),
    line: |_, cwd| {
        let mut out = Vec::new();
        push_quoted(&mut out, cwd?);
        Some(out)
    },
};

fn load_dir(
    _: &mut Config,
    values: &[Vec<u8>],
    opts: &LoadOptions<'_>,
) -> Result<(), DirectiveError> {
    let dir = lossy(&values[0]);
    let result = if opts.change_dir {
        std::env::set_current_dir(&dir)
    } else {
        std::fs::read_dir(&dir).map(drop)
    };
    result.map_err(|e| {
        DirectiveError::Nested(ConfigError::Fatal(format!(
            "Can't chdir to '{dir}': {}",
            strerror(&e)
        )))
    })
}

/// `client-output-buffer-limit normal <hard> <soft> <soft-seconds>`: the
/// config file reads sizes with units; `CONFIG SET` takes groups of four
/// words, numbers in plain digits, and keeps the last group.
pub(super) static CLIENT_OUTPUT_BUFFER_LIMIT: Custom = Custom {
    values: (4, 4),
    load: |c, values, _| {
        if !values[0].eq_ignore_ascii_case(b"normal") {
            return Err("Unrecognized client limit class".into());
        }
        let soft_seconds = strtoll_lenient(&values[3]);
        if soft_seconds < 0 {
            return Err("Negative number of seconds in soft limit is invalid".into());
        }
        c.client_output_buffer_limit = ClientOutputBufferLimit {
            hard: memtoll(&values[1]).0 as u64,
            soft: memtoll(&values[2]).0 as u64,
            soft_seconds,
        };
        Ok(())
    },
    show: |c| limit_text(&c.client_output_buffer_limit, |n| n.to_string()),
    set: Some(|c, value| {
        let limits = parse_client_limits(value).ok_or(Refusal::Invalid)?;
        if let Some(last) = limits.last() {
            c.client_output_buffer_limit = *last;
        }
        Ok(())
    }),
    line: |c, _| Some(limit_text(&c.client_output_buffer_limit, format_memory)),
};

/// `normal <hard> <soft> <seconds>`, sizes written by `size`.
fn limit_text(l: &ClientOutputBufferLimit, size: fn(u64) -> String) -> Vec<u8> {
    format!(
        "normal {} {} {}",
        size(l.hard),
        size(l.soft),
        l.soft_seconds
    )
    .into_bytes()
}

/// The value of `CONFIG SET client-output-buffer-limit`: words separated by
/// single spaces, in groups of four (`<class> <hard> <soft> <seconds>`),
/// class `normal`, numbers plain non-negative integers. The whole value is
/// checked before anything is applied; an empty value gives no group.
fn parse_client_limits(value: &[u8]) -> Option<Vec<ClientOutputBufferLimit>> {
    if value.is_empty() {
        return Some(Vec::new());
    }
    let words: Vec<&[u8]> = value.split(|&b| b == b' ').collect();
    let groups = words.chunks_exact(4);
    if !groups.remainder().is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for group in groups {
        if !group[0].eq_ignore_ascii_case(b"normal") {
            return None;
        }
        let mut nums = [0i64; 3];
        for (slot, word) in nums.iter_mut().zip(&group[1..]) {
            *slot = strtoll_whole(word).filter(|v| *v >= 0)?;
        }
        out.push(ClientOutputBufferLimit {
            hard: nums[0] as u64,
            soft: nums[1] as u64,
            soft_seconds: nums[2],
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::setting::all;

    #[test]
    fn get_positions_are_0_to_n() {
        let mut positions: Vec<u8> = all().filter_map(|s| s.get).collect();
        positions.sort_unstable();
        let expected: Vec<u8> = (0..positions.len() as u8).collect();
        assert_eq!(positions, expected);
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let names: Vec<&str> = all().map(|s| s.name).collect();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(!names[..i].contains(name), "{name}");
        }
    }
}
