//! Feeds arbitrary bytes to the client's reply decoder. It must never panic,
//! and every reply it returns must encode back to the bytes it consumed.
#![no_main]

use bytes::BytesMut;
use disque_proto::parse_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(reply)) = parse_reply(&mut buf) {
        // Re-encoding then decoding gives the same value.
        let mut again = BytesMut::from(&reply.to_bytes()[..]);
        assert_eq!(parse_reply(&mut again), Ok(Some(reply)));
        assert!(again.is_empty());
    }
});
