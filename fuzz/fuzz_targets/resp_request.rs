//! Feeds arbitrary bytes to the server's request parser in arbitrary chunk
//! sizes. The parser must never panic, and the requests it returns must not
//! depend on how the input was split.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::resp_request(data));
