use super::*;

/// Parses everything in `input` at once; returns the requests, and the error
/// that stopped parsing if any.
fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match parser.parse(&mut buf) {
            Ok(Some(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Feeds `input` in chunks of `chunk` bytes, parsing after each.
fn parse_chunked(input: &[u8], chunk: usize) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.as_bytes().to_vec()).collect()
}

fn error_of(input: &[u8]) -> Option<ProtocolError> {
    parse_all(input).1
}

fn message(e: ProtocolError) -> String {
    String::from_utf8(e.message()).unwrap()
}

#[test]
fn multibulk_request() {
    let (reqs, err) = parse_all(b"*3\r\n$6\r\nADDJOB\r\n$1\r\nq\r\n$0\r\n\r\n");
    assert_eq!(err, None);
    assert_eq!(reqs, vec![vec![b"ADDJOB".to_vec(), b"q".to_vec(), vec![]]]);
}

#[test]
fn pipelined_requests_in_order() {
    let (reqs, err) = parse_all(b"*1\r\n$4\r\nPING\r\nHELLO\r\n*2\r\n$4\r\nQLEN\r\n$1\r\nq\r\n");
    assert_eq!(err, None);
    assert_eq!(
        reqs,
        vec![words(&["PING"]), words(&["HELLO"]), words(&["QLEN", "q"])]
    );
}

#[test]
fn incomplete_request_waits_and_keeps_buffer() {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nQLEN\r\n$1\r"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert_eq!(parser.held_bytes(), 4);
    buf.extend_from_slice(b"\nq\r\n");
    let args = parser.parse(&mut buf).unwrap().unwrap();
    assert_eq!(
        args,
        vec![Bytes::from_static(b"QLEN"), Bytes::from_static(b"q")]
    );
    assert!(buf.is_empty());
    assert_eq!(parser.held_bytes(), 0);
}

#[test]
fn every_chunk_size_gives_the_same_result() {
    let input: &[u8] = b"*2\r\n$4\r\nQLEN\r\n$3\r\na\r\n\r\n*0\r\nPING\r\n\"a b\" 'c'\n  \r\n*-3\r\n*1\r\n$4\r\nPINGxx\r\n*1\r\n$0\r\n\r\n";
    let expected = vec![
        vec![b"QLEN".to_vec(), b"a\r\n".to_vec()],
        words(&["PING"]),
        words(&["a b", "c"]),
        words(&["PING"]),
        vec![vec![]],
    ];
    assert_eq!(parse_all(input), (expected.clone(), None));
    for chunk in 1..input.len() {
        assert_eq!(
            parse_chunked(input, chunk),
            (expected.clone(), None),
            "chunk {chunk}"
        );
    }
}

#[test]
fn arguments_share_the_buffer() {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhello\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let args = parser.parse(&mut buf).unwrap().unwrap();
    assert_eq!(args[0].as_ptr() as usize, base + 8);
}

#[test]
fn zero_and_negative_counts_are_ignored() {
    assert_eq!(
        parse_all(b"*0\r\n*-5\r\n*-1\r\n*-9223372036854775808\r\nPING\r\n"),
        (vec![words(&["PING"])], None)
    );
}

#[test]
fn trailing_bytes_after_payload_are_not_checked() {
    // PINGxx runs PING; the following \r\n is an empty inline line.
    assert_eq!(
        parse_all(b"*1\r\n$4\r\nPINGxx\r\n"),
        (vec![words(&["PING"])], None)
    );
}

#[test]
fn empty_argument_is_kept() {
    assert_eq!(parse_all(b"*1\r\n$0\r\n\r\n"), (vec![vec![vec![]]], None));
}

#[test]
fn header_lines_end_only_at_cr() {
    // A bare \n does not end a header line: the server waits.
    assert_eq!(parse_all(b"*1\n"), (vec![], None));
    assert_eq!(parse_all(b"*1\r\n$4\n"), (vec![], None));
    // ... and the \n then belongs to the number, which is invalid.
    assert_eq!(
        error_of(b"*1\n\r\n"),
        Some(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        error_of(b"*1\r\n$4\n\r\n"),
        Some(ProtocolError::InvalidBulkLength)
    );
    // A CR needs the byte after it before the line counts as complete.
    assert_eq!(parse_all(b"*1\r"), (vec![], None));
}

#[test]
fn strict_multibulk_count() {
    for bad in [
        &b"*+1\r\n"[..],
        b"*01\r\n",
        b"*1 \r\n",
        b"* 1\r\n",
        b"*\r\n",
        b"*-0\r\n",
        b"*-\r\n",
        b"*1a\r\n",
        b"*0x1\r\n",
        b"*99999999999999999999\r\n",
        b"*-9223372036854775809\r\n",
    ] {
        assert_eq!(
            error_of(bad),
            Some(ProtocolError::InvalidMultibulkLength),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn multibulk_count_limit() {
    assert_eq!(
        error_of(b"*1048577\r\n"),
        Some(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(parse_all(b"*1048576\r\n"), (vec![], None));
    assert_eq!(
        message(ProtocolError::InvalidMultibulkLength),
        "Protocol error: invalid multibulk length"
    );
}

#[test]
fn huge_declared_count_allocates_little() {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(&b"*1048576\r\n"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    match &parser.state {
        State::Multibulk { args, .. } => assert!(args.capacity() <= MAX_ARGS_PREALLOC),
        State::Start => panic!("expected a request in progress"),
    }
}

#[test]
fn strict_bulk_length() {
    for bad in [
        &b"$04\r\n"[..],
        b"$+4\r\n",
        b"$-0\r\n",
        b"$4 \r\n",
        b"$ 4\r\n",
        b"$\r\n",
        b"$-1\r\n",
        b"$-4\r\n",
        b"$4x\r\n",
        b"$99999999999999999999\r\n",
    ] {
        let mut input = b"*1\r\n".to_vec();
        input.extend_from_slice(bad);
        assert_eq!(
            error_of(&input),
            Some(ProtocolError::InvalidBulkLength),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        message(ProtocolError::InvalidBulkLength),
        "Protocol error: invalid bulk length"
    );
}

#[test]
fn bulk_length_limit() {
    assert_eq!(
        error_of(b"*1\r\n$536870913\r\n"),
        Some(ProtocolError::InvalidBulkLength)
    );
    assert_eq!(parse_all(b"*1\r\n$536870912\r\n"), (vec![], None));
}

#[test]
fn huge_declared_bulk_allocates_little() {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert!(
        buf.capacity() <= 2 * MAX_RESERVE_AHEAD,
        "capacity {}",
        buf.capacity()
    );
    for _ in 0..100 {
        assert_eq!(parser.parse(&mut buf), Ok(None));
    }
    assert!(
        buf.capacity() <= 2 * MAX_RESERVE_AHEAD,
        "capacity {}",
        buf.capacity()
    );
}

#[test]
fn big_argument_in_many_reads() {
    let body = vec![b'x'; 1 << 20];
    let mut input = BytesMut::new();
    encode_request(&[&b"ADDJOB"[..], b"q", &body, b"0"], &mut input);
    let (reqs, err) = parse_chunked(&input, 1000);
    assert_eq!(err, None);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0][2], body);
}

#[test]
fn expected_dollar() {
    assert_eq!(
        error_of(b"*1\r\n:4\r\n"),
        Some(ProtocolError::ExpectedDollar(b':'))
    );
    assert_eq!(
        message(ProtocolError::ExpectedDollar(b'x')),
        "Protocol error: expected '$', got 'x'"
    );
    // An empty line where the header should be: the CR itself is the byte.
    assert_eq!(
        error_of(b"*1\r\n\r\n"),
        Some(ProtocolError::ExpectedDollar(b'\r'))
    );
    // The check waits for the end of the line.
    assert_eq!(parse_all(b"*1\r\nPING"), (vec![], None));
    // A non-ASCII byte is reported as it was received.
    assert_eq!(
        ProtocolError::ExpectedDollar(0xff).message(),
        b"Protocol error: expected '$', got '\xff'".to_vec()
    );
}

#[test]
fn too_big_inline_request() {
    let mut line = vec![b'a'; MAX_INLINE_SIZE];
    assert_eq!(parse_all(&line), (vec![], None));
    line.push(b'a');
    assert_eq!(error_of(&line), Some(ProtocolError::TooBigInlineRequest));
    assert_eq!(
        message(ProtocolError::TooBigInlineRequest),
        "Protocol error: too big inline request"
    );
    // A long line that has its newline is fine.
    let mut long = vec![b'a'; 100_000];
    long.push(b'\n');
    assert_eq!(parse_all(&long).0.len(), 1);
}

#[test]
fn too_big_mbulk_count_string() {
    let mut input = b"*".to_vec();
    input.extend(std::iter::repeat_n(b'1', MAX_INLINE_SIZE - 1));
    assert_eq!(parse_all(&input), (vec![], None));
    input.push(b'1');
    assert_eq!(error_of(&input), Some(ProtocolError::TooBigMbulkCount));
    assert_eq!(
        message(ProtocolError::TooBigMbulkCount),
        "Protocol error: too big mbulk count string"
    );
}

#[test]
fn too_big_bulk_count_string() {
    let mut input = b"*1\r\n$".to_vec();
    input.extend(std::iter::repeat_n(b'1', MAX_INLINE_SIZE - 1));
    assert_eq!(parse_all(&input), (vec![], None));
    input.push(b'1');
    assert_eq!(error_of(&input), Some(ProtocolError::TooBigBulkCount));
    assert_eq!(
        message(ProtocolError::TooBigBulkCount),
        "Protocol error: too big bulk count string"
    );
    // Found by the length rule before the '$' rule.
    let mut input = b"*1\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', MAX_INLINE_SIZE + 1));
    assert_eq!(error_of(&input), Some(ProtocolError::TooBigBulkCount));
}

#[test]
fn too_big_limits_hold_when_fed_byte_by_byte() {
    let line = vec![b'a'; MAX_INLINE_SIZE + 1];
    assert_eq!(
        parse_chunked(&line, 1).1,
        Some(ProtocolError::TooBigInlineRequest)
    );
    let mut input = b"*1\r\n$".to_vec();
    input.extend(std::iter::repeat_n(b'1', MAX_INLINE_SIZE));
    assert_eq!(
        parse_chunked(&input, 7).1,
        Some(ProtocolError::TooBigBulkCount)
    );
}

#[test]
fn unbalanced_quotes() {
    assert_eq!(
        error_of(b"PING \"abc\n"),
        Some(ProtocolError::UnbalancedQuotes)
    );
    assert_eq!(
        error_of(b"PING 'abc\r\n"),
        Some(ProtocolError::UnbalancedQuotes)
    );
    assert_eq!(
        error_of(b"PING \"a\"b\n"),
        Some(ProtocolError::UnbalancedQuotes)
    );
    assert_eq!(
        message(ProtocolError::UnbalancedQuotes),
        "Protocol error: unbalanced quotes in request"
    );
    assert_eq!(
        &ProtocolError::UnbalancedQuotes.to_reply().to_bytes()[..],
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
}

#[test]
fn inline_lines() {
    assert_eq!(
        parse_all(b"addjob q \"hello world\" 0\r\n"),
        (vec![words(&["addjob", "q", "hello world", "0"])], None)
    );
    // Bare \n ends an inline line too, and the next line is intact.
    assert_eq!(
        parse_all(b"PING\nPING\n"),
        (vec![words(&["PING"]), words(&["PING"])], None)
    );
    // Empty lines, blank lines and lines of empty words give no command.
    assert_eq!(
        parse_all(b"\r\n\n   \r\n\"\" ''\nPING\n"),
        (vec![words(&["PING"])], None)
    );
    // Empty words are dropped.
    assert_eq!(
        parse_all(b"ACKJOB \"\" x\n"),
        (vec![words(&["ACKJOB", "x"])], None)
    );
    // Only the last \r is stripped; a lone \r is a separator.
    assert_eq!(parse_all(b"a\rb\r\r\n"), (vec![words(&["a", "b"])], None));
    // No newline yet: wait.
    assert_eq!(parse_all(b"PING"), (vec![], None));
}

#[test]
fn parser_never_panics_on_odd_input() {
    let samples: [&[u8]; 8] = [
        b"*\r",
        b"*1\r\n$\r\n",
        b"*2\r\n$1\r\na\r\n$",
        b"\r",
        b"\0\n",
        b"*1\r\n$1\r\n",
        b"\"\\x\n",
        b"*3\r\n$-1\r\n",
    ];
    for input in samples {
        for chunk in 1..=input.len() {
            let _ = parse_chunked(input, chunk);
        }
    }
}

#[test]
fn split_args_rules() {
    let split = |s: &[u8]| split_args(s);
    assert_eq!(split(b""), Some(vec![]));
    assert_eq!(split(b"  \t "), Some(vec![]));
    assert_eq!(split(b"a  b\tc"), Some(words(&["a", "b", "c"])));
    assert_eq!(
        split(b"\"a\\nb\\r\\t\\b\\a\\\\\\\"c\""),
        Some(vec![b"a\nb\r\t\x08\x07\\\"c".to_vec()])
    );
    assert_eq!(
        split(b"\"\\x41\\x7a\\xff\""),
        Some(vec![b"Az\xff".to_vec()])
    );
    // \x without two hex digits is an ordinary escape of 'x'.
    assert_eq!(split(b"\"\\xg1\""), Some(vec![b"xg1".to_vec()]));
    // Any other escaped character stands for itself.
    assert_eq!(split(b"\"\\q\""), Some(vec![b"q".to_vec()]));
    assert_eq!(
        split(b"'it\\'s' 'a\\nb'"),
        Some(vec![b"it's".to_vec(), b"a\\nb".to_vec()])
    );
    assert_eq!(split(b"\"\" ''"), Some(vec![vec![], vec![]]));
    assert_eq!(split(b"ab\"c d\""), Some(words(&["abc d"])));
    assert_eq!(split(b"\"a\"\tb"), Some(words(&["a", "b"])));
    assert_eq!(split(b"\"a\"\x0bb"), Some(words(&["a", "b"])));
    // \v and \f separate words but are part of an unquoted word.
    assert_eq!(split(b"\x0ba\x0cb"), Some(vec![b"a\x0cb".to_vec()]));
    assert_eq!(split(b"\"a\"b"), None);
    assert_eq!(split(b"'a'b"), None);
    assert_eq!(split(b"\"abc"), None);
    assert_eq!(split(b"'abc"), None);
    assert_eq!(split(b"\"abc\\\""), None);
    // A NUL byte ends the line.
    assert_eq!(split(b"a b\0c d"), Some(words(&["a", "b"])));
    assert_eq!(split(b"\"a\0\""), None);
}

#[test]
fn encode_request_round_trip() {
    let args: Vec<&[u8]> = vec![b"ADDJOB", b"q", b"", b"\r\n\0\xff", b"0"];
    let mut out = BytesMut::new();
    encode_request(&args, &mut out);
    assert_eq!(&out[..10], b"*5\r\n$6\r\nAD");
    let (reqs, err) = parse_all(&out);
    assert_eq!(err, None);
    assert_eq!(
        reqs,
        vec![args.iter().map(|a| a.to_vec()).collect::<Vec<_>>()]
    );
}

#[test]
fn strict_integer_bounds() {
    assert_eq!(strict_integer(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(strict_integer(b"9223372036854775808"), None);
    assert_eq!(strict_integer(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(strict_integer(b"0"), Some(0));
    assert_eq!(strict_integer(b"-12"), Some(-12));
}

#[test]
fn one_pass_and_incremental_paths_agree() {
    let seventeen = format!("*17\r\n{}", "$1\r\nx\r\n".repeat(17));
    let long_header = format!("*1\r\n${}1\r\nx\r\n", "0".repeat(30));
    let inputs: Vec<Vec<u8>> = [
        &b"*3\r\n$6\r\nADDJOB\r\n$1\r\nq\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n"[..],
        b"*2\r\n$4\r\nQLEN\r\n+1\r\nq\r\n",
        b"*2\r\n$4\r\nQLEN\r\n$-1\r\n",
        b"*1\r\n$01\r\nx\r\n",
        b"*01\r\n$1\r\nx\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$3\r\nabcXY*1\r\n$1\r\nz\r\n",
        b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n",
        seventeen.as_bytes(),
        long_header.as_bytes(),
    ]
    .iter()
    .map(|i| i.to_vec())
    .collect();
    for input in &inputs {
        let whole = parse_all(input);
        for chunk in [1, 2, 3, 7] {
            assert_eq!(
                parse_chunked(input, chunk),
                whole,
                "{:?} in chunks of {chunk}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
