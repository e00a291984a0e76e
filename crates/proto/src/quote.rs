//! Quoting, the inverse of [`crate::split_args`]: how redis-cli shows strings,
//! how MONITOR shows arguments, and how CONFIG REWRITE writes values.

/// Appends `data` in double quotes with C-style escapes (`\\ \" \n \r \t \a \b`,
/// and `\xHH` for other non-printable bytes); `split_args` reads it back exactly.
pub fn quote(data: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in data {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_round_trips_through_split_args() {
        let data = b"a \"b\"\\\n\r\t\x07\x08\x00\xff z";
        let mut out = Vec::new();
        quote(data, &mut out);
        assert_eq!(crate::split_args(&out).unwrap(), vec![data.to_vec()]);
    }
}
