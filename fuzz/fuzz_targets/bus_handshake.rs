//! The `cluster-password` handshake (decision D12): its parsers take any
//! bytes, a HELLO re-encodes to the bytes it came from, and both sides of
//! the handshake, fed the fuzzer's bytes as the peer's, fail without
//! panicking (a proof cannot be guessed, so they must fail).
#![no_main]

use disque_core::ids::NodeId;
use disque_server::bus_auth::{accept, connect, encode_hello, parse_challenge, parse_hello};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = parse_hello(data) {
        let mut again = Vec::new();
        encode_hello(&hello, &mut again);
        assert_eq!(again, data);
    }
    let _ = parse_challenge(data);
    // The peer's bytes: at most what the in-memory pipe holds at once.
    let peer = &data[..data.len().min(2048)];
    let me = NodeId::parse(&[b'a'; 40]).expect("id");
    runtime().block_on(async {
        for accepting in [true, false] {
            let (mut ours, mut theirs) = tokio::io::duplex(4096);
            theirs.write_all(peer).await.expect("write");
            theirs.shutdown().await.expect("shutdown");
            let result = if accepting {
                accept(&mut ours, b"secret", me).await
            } else {
                connect(&mut ours, b"secret", me).await
            };
            assert!(result.is_err(), "a proof was guessed: {result:?}");
        }
    });
});
