//! Shared argument rules (docs/commands.md §1.4): integers parsed like C `strtoll`,
//! timeouts, case-insensitive keywords.

use disque_proto::Reply;

/// `-ERR value is not an integer or out of range`.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// Splits an optional sign off a decimal number and reads its digits: the
/// shared part of `strtoll` and `strtoul`. The empty string is 0; a lone sign,
/// any other character or a value above 2^64-1 is refused.
fn sign_and_magnitude(arg: &[u8]) -> Option<(bool, u64)> {
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() && !arg.is_empty() {
        return None;
    }
    digits
        .iter()
        .try_fold((negative, 0u64), |(neg, value), &c| {
            c.is_ascii_digit().then_some(())?;
            Some((neg, value.checked_mul(10)?.checked_add((c - b'0') as u64)?))
        })
}

/// Parses a base-10 integer like `strtoll`: optional sign, leading zeros allowed,
/// no whitespace, no trailing garbage, no overflow. The empty string is 0.
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    let (negative, magnitude) = sign_and_magnitude(arg)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses an unsigned cursor like `strtoul`: a sign is accepted and a negative
/// value wraps; the empty string is 0; above 2^64-1 is refused.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, magnitude) = sign_and_magnitude(arg)?;
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// Parses an integer, or gives the generic integer error.
pub fn integer(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(NOT_AN_INTEGER))
}

/// Parses a millisecond timeout into an absolute deadline (`None` = wait forever).
pub fn timeout_deadline(arg: &[u8], now_ms: u64) -> Result<Option<u64>, Reply> {
    match parse_i64(arg) {
        None => Err(Reply::error(
            "ERR timeout is not an integer or out of range",
        )),
        Some(t) if t < 0 => Err(Reply::error("ERR timeout is negative")),
        Some(0) => Ok(None),
        Some(t) => Ok(Some(now_ms.saturating_add(t as u64))),
    }
}

/// Case-insensitive keyword comparison.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoll_rules() {
        assert_eq!(parse_i64(b"+5"), Some(5));
        assert_eq!(parse_i64(b"007"), Some(7));
        assert_eq!(parse_i64(b""), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"1.5"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
    }

    /// The same rule is `CONFIG SET`'s (and SLOWLOG GET's) integer rule.
    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b""), Some(0));
        assert_eq!(parse_i64(b"+5"), Some(5));
        assert_eq!(parse_i64(b"007"), Some(7));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b" 5"), None);
        assert_eq!(parse_i64(b"5 "), None);
        assert_eq!(parse_i64(b"1.5"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"+"), None);
        assert_eq!(parse_i64(b"abc"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }
}
