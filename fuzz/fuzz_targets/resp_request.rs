//! Feeds arbitrary bytes to the server's request parser in arbitrary chunk
//! sizes. The parser must never panic, and the requests it returns must not
//! depend on how the input was split.
#![no_main]

use bytes::BytesMut;
use disque_proto::{ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<bytes::Bytes>>, Option<ProtocolError>);

/// Parses `data`, appending it to the buffer `chunk` bytes at a time.
fn run(data: &[u8], chunk: usize) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty());
                    requests.push(args);
                }
                Ok(None) => break,
                Err(e) => return (requests, Some(e)),
            }
        }
    }
    (requests, None)
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks the chunk size, the rest is the connection's input.
    let Some((&chunk, data)) = input.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let chunked = run(data, usize::from(chunk));
    // Byte by byte may stop at a too-big limit sooner than whole input would
    // (a long line without terminator is refused before its end arrives), so
    // compare only when neither hit an error.
    if whole.1.is_none() && chunked.1.is_none() {
        assert_eq!(whole.0, chunked.0);
    }
});
