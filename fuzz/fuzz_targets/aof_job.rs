//! AOF loading: arbitrary LOADJOB payloads must be refused or loaded, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| disque_fuzz::aof_job(data));
