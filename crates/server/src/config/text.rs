//! Number parsing and string quoting with the exact C library semantics the
//! configuration needs: lenient `atoi`/`strtoll` for the file, memory units,
//! octal, and `"..."` quoting. The strict `strtoll` of `CONFIG SET` is the
//! command argument rule, `disque_core::args::parse_i64`.

use std::io;

/// C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The result of scanning a C `strtol`-style number.
struct Scan {
    value: i64,
    /// Bytes consumed (0 when no digit was found).
    end: usize,
    overflow: bool,
}

/// C `strtoll`/`strtol` in the given base (8 or 10): leading white space,
/// optional sign, digits; saturates on overflow like glibc.
fn scan(s: &[u8], base: u32) -> Scan {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let digits_start = i;
    // Accumulate as a negative number so that i64::MIN is representable.
    let mut acc: i64 = 0;
    let mut overflow = false;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(base) else {
            break;
        };
        if !overflow {
            match acc
                .checked_mul(i64::from(base))
                .and_then(|v| v.checked_sub(i64::from(d)))
            {
                Some(v) => acc = v,
                None => overflow = true,
            }
        }
        i += 1;
    }
    if i == digits_start {
        return Scan {
            value: 0,
            end: 0,
            overflow: false,
        };
    }
    let value = if overflow {
        if negative {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if negative {
        acc
    } else {
        match acc.checked_neg() {
            Some(v) => v,
            None => {
                overflow = true;
                i64::MAX
            }
        }
    };
    Scan {
        value,
        end: i,
        overflow,
    }
}

/// C `strtoll(s, NULL, 10)`: lenient, trailing garbage ignored, saturating.
pub fn strtoll_lenient(s: &[u8]) -> i64 {
    scan(s, 10).value
}

/// glibc `atoi(s)`, i.e. `(int) strtol(s, NULL, 10)`: lenient, and a value
/// outside the `int` range keeps its low 32 bits.
pub fn atoi(s: &[u8]) -> i32 {
    strtoll_lenient(s) as i32
}

/// C `strtol(s, &end, 10)` followed by a check that the whole string was
/// consumed (leading white space allowed, overflow saturates): the rule of
/// the words of `CONFIG SET client-output-buffer-limit`.
pub fn strtoll_whole(s: &[u8]) -> Option<i64> {
    let r = scan(s, 10);
    if r.end != s.len() {
        return None;
    }
    Some(r.value)
}

/// C `strtol(s, NULL, 8)` with `errno` reporting: returns the value and
/// whether it overflowed.
pub fn strtol_octal(s: &[u8]) -> (i64, bool) {
    let r = scan(s, 8);
    (r.value, r.overflow)
}

/// Parses a memory size with an optional unit (`b`, `k`, `kb`, `m`, `mb`,
/// `g`, `gb`, case-insensitive). Returns the value and whether the unit was
/// unknown (in which case the multiplier is 1). The number part is the
/// leading `-`? digits, read leniently; overflow wraps like the C original.
pub fn memtoll(s: &[u8]) -> (i64, bool) {
    let mut u = 0;
    if u < s.len() && s[u] == b'-' {
        u += 1;
    }
    while u < s.len() && s[u].is_ascii_digit() {
        u += 1;
    }
    let unit = &s[u..];
    let (mul, err): (i64, bool) = if unit.is_empty() || unit.eq_ignore_ascii_case(b"b") {
        (1, false)
    } else if unit.eq_ignore_ascii_case(b"k") {
        (1000, false)
    } else if unit.eq_ignore_ascii_case(b"kb") {
        (1024, false)
    } else if unit.eq_ignore_ascii_case(b"m") {
        (1000 * 1000, false)
    } else if unit.eq_ignore_ascii_case(b"mb") {
        (1024 * 1024, false)
    } else if unit.eq_ignore_ascii_case(b"g") {
        (1000 * 1000 * 1000, false)
    } else if unit.eq_ignore_ascii_case(b"gb") {
        (1024 * 1024 * 1024, false)
    } else {
        (1, true)
    };
    let number = &s[..u.min(127)];
    (strtoll_lenient(number).wrapping_mul(mul), err)
}

/// Formats a memory size with the largest unit that divides it exactly
/// (`1gb`, `64mb`, `512kb`), else in bytes; 0 is `0`.
pub fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    if bytes == 0 {
        "0".to_owned()
    } else if bytes & (GB - 1) == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes & (MB - 1) == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes & (KB - 1) == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// `yes` → true, `no` → false (case-insensitive), anything else → None.
pub fn yes_no(s: &[u8]) -> Option<bool> {
    if s.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

/// `yes` or `no`.
pub fn yes_no_str(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "no"
    }
}

/// Appends `s` quoted so that the configuration line splitter reads back
/// exactly `s` (see [`disque_proto::quote`]).
pub fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    disque_proto::quote(s, out);
}

/// True if `s` can be written unquoted in a config line (non-empty,
/// printable, no white space or quote characters).
pub fn is_bare_word(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| (0x21..=0x7e).contains(&c) && c != b'"' && c != b'\'')
}

/// The C `strerror` text of an I/O error (Rust's message without the
/// ` (os error N)` suffix).
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(pos) if text.ends_with(')') => text[..pos].to_owned(),
        _ => text,
    }
}

/// Removes leading and trailing spaces, tabs, CRs and LFs.
pub fn trim(s: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|c| !is_ws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !is_ws(c)).map_or(start, |p| p + 1);
    &s[start..end.max(start)]
}

/// `b` as text (invalid UTF-8 replaced).
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Replaces CR and LF with spaces so that text can go into an error reply.
pub fn one_line(s: &[u8]) -> String {
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_is_lenient() {
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"  12abc"), 12);
        assert_eq!(atoi(b"-7"), -7);
        assert_eq!(atoi(b"+7"), 7);
        assert_eq!(atoi(b"99999"), 99999);
        assert_eq!(atoi(b"4294967297"), 1);
        assert_eq!(atoi(b"99999999999999999999999"), -1);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"-"), 0);
    }

    #[test]
    fn strtoll_lenient_saturates() {
        assert_eq!(strtoll_lenient(b"99999999999999999999"), i64::MAX);
        assert_eq!(strtoll_lenient(b"-99999999999999999999"), i64::MIN);
        assert_eq!(strtoll_lenient(b"-9223372036854775808"), i64::MIN);
        assert_eq!(strtoll_lenient(b"15000ms"), 15000);
    }

    #[test]
    fn strtoll_whole_rules() {
        assert_eq!(strtoll_whole(b""), Some(0));
        assert_eq!(strtoll_whole(b"\t5"), Some(5));
        assert_eq!(strtoll_whole(b"5x"), None);
        assert_eq!(strtoll_whole(b"-"), None);
    }

    #[test]
    fn memory_units() {
        assert_eq!(memtoll(b"64mb"), (64 * 1024 * 1024, false));
        assert_eq!(memtoll(b"1GB"), (1 << 30, false));
        assert_eq!(memtoll(b"1g"), (1_000_000_000, false));
        assert_eq!(memtoll(b"3k"), (3000, false));
        assert_eq!(memtoll(b"3Kb"), (3072, false));
        assert_eq!(memtoll(b"5m"), (5_000_000, false));
        assert_eq!(memtoll(b"7b"), (7, false));
        assert_eq!(memtoll(b"1xb"), (1, true));
        assert_eq!(memtoll(b"1.5mb"), (1, true));
        assert_eq!(memtoll(b"-5"), (-5, false));
        assert_eq!(memtoll(b""), (0, false));
        assert_eq!(memtoll(b"k"), (0, false));
        assert!(memtoll(b"+5").1);
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(64 << 20), "64mb");
        assert_eq!(format_memory(512 << 10), "512kb");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(0), "0");
    }

    #[test]
    fn octal() {
        assert_eq!(strtol_octal(b"700"), (0o700, false));
        assert_eq!(strtol_octal(b"999"), (0, false));
        assert_eq!(strtol_octal(b"1000"), (0o1000, false));
        assert!(strtol_octal(b"77777777777777777777777777").1);
    }

    fn quoted(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_quoted(&mut out, s);
        out
    }

    #[test]
    fn quoting_and_trim() {
        assert_eq!(quoted(b""), b"\"\"");
        assert_eq!(
            quoted(b"a \"b\"\\\n\x01\xff"),
            b"\"a \\\"b\\\"\\\\\\n\\x01\\xff\"".to_vec()
        );
        assert_eq!(trim(b" \t a b \r\n"), b"a b");
        assert_eq!(trim(b"  "), b"");
        assert!(is_bare_word(b"127.0.0.1"));
        assert!(!is_bare_word(b"a b"));
        assert!(!is_bare_word(b""));
    }

    #[test]
    fn strerror_strips_code() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
    }
}
