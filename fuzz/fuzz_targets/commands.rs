//! Command parsing and execution: the fuzzer's bytes become a sequence of
//! commands (name from the command table, arbitrary arguments) run against one
//! node, with time moving forward between them. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::commands(data));
