//! The `cluster-password` handshake (decision D12): its parsers take any
//! bytes, a HELLO re-encodes to the bytes it came from, and both sides of
//! the handshake, fed the fuzzer's bytes as the peer's, fail without
//! panicking (a proof cannot be guessed, so they must fail).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::bus_handshake(data));
