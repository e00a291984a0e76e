//! Feeds arbitrary bytes to the client's reply decoder. It must never panic,
//! and every reply it returns must encode back to the bytes it consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::resp_reply(data));
