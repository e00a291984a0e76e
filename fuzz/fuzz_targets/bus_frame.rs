//! Cluster bus frames: any byte stream, in any chunking, is decoded into frames
//! or refused; a decoded frame re-encodes to the same bytes; never a panic.
#![no_main]

use bytes::BytesMut;
use disque_core::cluster::message::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::new();
    let chunk = (data.first().copied().unwrap_or(1) as usize).max(1);
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match Frame::decode(&mut buf) {
                Ok(Some(frame)) => {
                    let mut again = BytesMut::new();
                    frame.encode(&mut again);
                    assert_eq!(Frame::decode(&mut again).ok().flatten().as_ref(), Some(&frame));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
